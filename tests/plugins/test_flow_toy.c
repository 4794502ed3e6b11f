/* Toy datasets (toy:swissroll, toy:moons, toy:checkerboard) and the flow on
 * them: the generators are deterministic, --limit-prefix-stable, split into
 * independent train/test streams, land where their definitions say, and the
 * flow's test log-likelihood beats the full-covariance Gaussian on each. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_util.h"

static nota_dataset *open_toy(const char *spec, int64_t n) {
    nota_data_filter f = {-1, n};
    nota_dataset *ds;
    cr_assert_eq(nota_dataset_open(spec, &f, &ds), NOTA_OK, "%s", nota_last_error());
    return ds;
}

Test(flow_toy, shapes_determinism_prefixes_and_splits) {
    nota_dataset *a = open_toy("toy:moons", 0), *b = open_toy("toy:moons:train", 500),
                 *c = open_toy("toy:moons:test", 500), *d = open_toy("toy:moons", 0);
    cr_assert(a->x->ndim == 2 && a->x->shape[0] == 10000 && a->x->shape[1] == 2);
    cr_assert_eq(a->x->dtype, NOTA_F32);
    cr_assert_null(a->labels);
    cr_assert_eq(b->x->shape[0], 500);
    cr_assert_eq(memcmp(a->x->data, d->x->data, a->x->nbytes), 0, "not deterministic");
    cr_assert_eq(memcmp(a->x->data, b->x->data, b->x->nbytes), 0, "limit is not a prefix");
    cr_assert_neq(memcmp(b->x->data, c->x->data, b->x->nbytes), 0, "train equals test");
    cr_assert_str_eq(b->name, "toy:moons:train[limit=500]");
    nota_dataset_free(a);
    nota_dataset_free(b);
    nota_dataset_free(c);
    nota_dataset_free(d);
}

Test(flow_toy, points_follow_their_definitions) {
    nota_dataset *cb = open_toy("toy:checkerboard", 4000), *sr = open_toy("toy:swissroll", 4000);
    const float *x = nota_tensor_f32(cb->x);
    for (int i = 0; i < 4000; i++) {
        /* the occupied squares of the 2-unit board have an even index sum */
        int cx = (int)floor(x[2 * i] / 2), cy = (int)floor(x[2 * i + 1] / 2);
        cr_assert(fabsf(x[2 * i]) <= 4 && fabsf(x[2 * i + 1]) <= 4, "point %d outside", i);
        cr_assert_eq(((cx + cy) % 2 + 2) % 2, 0, "point %d (%g, %g) on a white square", i, x[2 * i],
                     x[2 * i + 1]);
    }
    const float *s = nota_tensor_f32(sr->x);
    double rmin = 1e9, rmax = 0;
    for (int i = 0; i < 4000; i++) {
        double r = hypot(s[2 * i], s[2 * i + 1]);
        rmin = fmin(rmin, r);
        rmax = fmax(rmax, r);
    }
    /* t in [1.5π, 4.5π] over 5, plus N(0,1)/5 noise */
    cr_assert(rmin > 0.2 && rmin < 1.2 && rmax > 2.6 && rmax < 3.8, "radius %g..%g", rmin, rmax);
    nota_dataset_free(cb);
    nota_dataset_free(sr);
}

Test(flow_toy, unknown_toys_and_label_filters_are_refused) {
    nota_dataset *ds = NULL;
    cr_assert_eq(nota_dataset_open("toy:spiral", NULL, &ds), NOTA_ENOTFOUND);
    cr_assert_null(ds);
    cr_assert_str_eq(nota_last_error(),
                     "unknown toy dataset 'toy:spiral' (known: toy:swissroll, "
                     "toy:moons, toy:checkerboard, each optionally :train or :test)");
    cr_assert_eq(nota_dataset_open("toy:moons:valid", NULL, &ds), NOTA_ENOTFOUND);
    nota_data_filter f = {3, 0};
    cr_assert_eq(nota_dataset_open("toy:moons", &f, &ds), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "label filter 3 on 'toy:moons', which has no labels");
    f = (nota_data_filter){-1, 20000000};
    cr_assert_eq(nota_dataset_open("toy:moons", &f, &ds), NOTA_ELIMIT);
    cr_assert_str_eq(nota_last_error(),
                     "toy dataset 'toy:moons': 20000000 items requested, at most 10000000");
}

/* Mean Gaussian (MLE on train) log-density of test, 2-D. */
static double gaussian_ll(const nota_tensor *train, const nota_tensor *test) {
    const float *x = nota_tensor_f32(train);
    int64_t n = train->shape[0];
    double m0 = 0, m1 = 0, a = 0, b = 0, c = 0;
    for (int64_t i = 0; i < n; i++) {
        m0 += x[2 * i] / (double)n;
        m1 += x[2 * i + 1] / (double)n;
    }
    for (int64_t i = 0; i < n; i++) {
        double u = x[2 * i] - m0, v = x[2 * i + 1] - m1;
        a += u * u / n;
        b += u * v / n;
        c += v * v / n;
    }
    double det = a * c - b * b, s = 0;
    const float *y = nota_tensor_f32(test);
    for (int64_t i = 0; i < test->shape[0]; i++) {
        double u = y[2 * i] - m0, v = y[2 * i + 1] - m1;
        s += -0.5 * (c * u * u - 2 * b * u * v + a * v * v) / det - 0.5 * log(det) - log(2 * M_PI);
    }
    return s / (double)test->shape[0];
}

static void beats_gaussian(const char *name, double margin) {
    char tr[64], te[64];
    snprintf(tr, sizeof tr, "toy:%s:train", name);
    snprintf(te, sizeof te, "toy:%s:test", name);
    nota_dataset *a = open_toy(tr, 6000), *b = open_toy(te, 3000);
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    nota_model *m = test_create(p, NULL, 0, &h);
    cr_assert_eq(p->fit(m, a->x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, b->x, &h, &lp), NOTA_OK, "%s", nota_last_error());
    double s = 0;
    for (int i = 0; i < 3000; i++)
        s += nota_tensor_f32(lp)[i];
    double flow = s / 3000, gauss = gaussian_ll(a->x, b->x);
    cr_assert_gt(flow, gauss + margin, "%s: flow %.4f vs Gaussian %.4f nats", name, flow, gauss);
    if (getenv("NOTA_FLOW_TOY_PRINT"))
        cr_log_info("%s: flow %.4f, Gaussian %.4f nats per point", name, flow, gauss);
    nota_tensor_free(lp);
    p->destroy(m);
    nota_dataset_free(a);
    nota_dataset_free(b);
}

/* Measured (6000 train, 3000 test, defaults; NOTA_FLOW_TOY_PRINT=1 prints):
 * moons -1.09 vs -1.91, swissroll -2.81 vs -3.47, checkerboard -3.75 vs -4.49
 * nats per point (the checkerboard's true density gives -log 32 = -3.47).
 * The asserted margins are about half the measured gains. */
Test(flow_toy, flow_beats_the_gaussian_on_moons) { beats_gaussian("moons", 0.4); }
Test(flow_toy, flow_beats_the_gaussian_on_swissroll) { beats_gaussian("swissroll", 0.35); }
Test(flow_toy, flow_beats_the_gaussian_on_checkerboard) { beats_gaussian("checkerboard", 0.35); }
