/* Autoregressive layers in the flow plugin (ar_layers): models with them
 * invert, reload bit for bit and give the same numbers at any thread count;
 * on a 2-D toy whose spread depends on the other coordinate one such layer
 * comes close to the true density where a rotation layer cannot; model
 * files with a broken autoregressive layer and out-of-range options are
 * refused with exact messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow_checks.h"
#include "plugin_util.h"

Test(flow_armodel, images_invert_reload_exactly_and_ignore_threads) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h1 = test_host(2), h3 = test_host(2);
    h3.threads = 3;
    const char *sets[] = {"max_layers=3", "valid_fraction=0", "ar_layers=2", "ar_bins=4",
                          "ar_radius=2"};
    nota_model *m1 = test_create(p, sets, 5, &h1), *m3 = test_create(p, sets, 5, &h3);
    nota_tensor *x = images(1500, 5);
    cr_assert_eq(p->fit(m1, x, NULL, &h1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(m3, x, NULL, &h3), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m3, x, &h3);
    /* a step small enough that no context crosses a bin edge for these items */
    assert_jacobian(p, m3, x, 3, 2e-3, 2e-3, &h3);
    nota_modelfile *mf = assert_save_load_exact(p, m1, x, &h1);
    const nota_tensor *spec, *edges, *kn;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0001.spec", &spec), NOTA_OK);
    cr_assert_eq(nota_tensor_f32(spec)[0], -1.0f);
    cr_assert_eq(nota_tensor_f32(spec)[1], 1.0f, "the second layer runs in reverse");
    cr_assert_eq(nota_tensor_f32(spec)[2], 2.0f);
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.are", &edges), NOTA_OK);
    cr_assert(edges->ndim == 2 && edges->shape[0] == 64 && edges->shape[1] == 4);
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.knots", &kn), NOTA_OK);
    cr_assert(kn->ndim == 4 && kn->shape[1] == 4 && kn->shape[2] == 3 && kn->shape[3] == 32);
    nota_modelfile_free(mf);
    assert_same_log_prob(p, m1, m3, x, &h1, &h3);
    nota_tensor_free(x);
    p->destroy(m1);
    p->destroy(m3);
}

Test(flow_armodel, quadratic_context_reloads_exactly) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    const char *sets[] = {"max_layers=3", "valid_fraction=0", "ar_layers=2",
                          "ar_bins=4",    "ar_radius=2",      "ar_context=quadratic"};
    nota_model *m = test_create(p, sets, 6, &h);
    nota_tensor *x = images(1500, 6);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    nota_modelfile *mf = assert_save_load_exact(p, m, x, &h);
    const nota_tensor *w;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0001.arw", &w), NOTA_OK);
    cr_assert(w->ndim == 2 && w->shape[0] == 64 && w->shape[1] == 25, "(%lld, %lld)",
              (long long)w->shape[0], (long long)w->shape[1]);
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

/* x1 ~ N(0, 1), x2 = x1 + (0.2 + 0.5 |x1|) e: the spread of x2 given x1,
 * which a linear prediction of x2 (x1) sorts into bins. *true_ll gets the
 * mean log-density of the items under the generating law. */
static nota_tensor *spread(int64_t n, uint64_t seed, double *true_ll) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, 2, &t), NOTA_OK);
    float *e = malloc((size_t)n * 2 * sizeof *e), *x = nota_tensor_f32(t);
    nota_rng_fill_normal(seed, 1, e, (size_t)n * 2);
    double ll = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = e[2 * i], s = 0.2 + 0.5 * fabs(a);
        x[2 * i] = (float)a;
        x[2 * i + 1] = (float)(a + s * e[2 * i + 1]);
        ll += -0.5 * a * a - 0.5 * (double)e[2 * i + 1] * e[2 * i + 1] - log(s) - log(2 * M_PI);
    }
    free(e);
    *true_ll = ll / (double)n;
    return t;
}

static double mean_lp(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                      const nota_host *h) {
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, x, h, &lp), NOTA_OK, "%s", nota_last_error());
    double s = 0;
    int64_t n = lp->shape[0];
    for (int64_t i = 0; i < n; i++)
        s += nota_tensor_f32(lp)[i];
    nota_tensor_free(lp);
    return s / (double)n;
}

Test(flow_armodel, one_layer_finds_a_spread_that_depends_on_the_other_coordinate) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(4);
    double train_ll, test_ll;
    nota_tensor *train = spread(16000, 1, &train_ll), *test = spread(8000, 2, &test_ll);
    const char *ar[] = {"max_layers=1", "valid_fraction=0", "ar_layers=1"};
    const char *rot[] = {"max_layers=1", "valid_fraction=0", "ar_layers=0"};
    nota_model *ma = test_create(p, ar, 3, &h), *mr = test_create(p, rot, 3, &h);
    cr_assert_eq(p->fit(ma, train, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(mr, train, NULL, &h), NOTA_OK, "%s", nota_last_error());
    double la = mean_lp(p, ma, test, &h), lr = mean_lp(p, mr, test, &h);
    /* measured: true -2.2074, autoregressive layer -2.2273, one
     * rotation layer (principal axes, splines) -2.8964 nats per point */
    cr_assert_gt(la, test_ll - 0.06, "autoregressive %.4f vs true %.4f", la, test_ll);
    cr_assert_gt(la, lr + 0.5, "autoregressive %.4f vs rotation %.4f", la, lr);
    assert_roundtrip(p, ma, test, &h);
    nota_tensor_free(train);
    nota_tensor_free(test);
    p->destroy(ma);
    p->destroy(mr);
}

static void dir_two(nota_tensor **t) { nota_tensor_f32(*t)[1] = 2; }
static void radius_nine(nota_tensor **t) { nota_tensor_f32(*t)[2] = 9; }
static void edges_down(nota_tensor **t) { /* coordinate 1 (x2): edge 2 below edge 1 */
    float *e = nota_tensor_f32(*t) + (*t)->shape[1];
    e[2] = e[1] - 1;
}
static void many_bins(nota_tensor **t) {
    int64_t shape[2] = {2, 300};
    nota_tensor_free(*t);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, t), NOTA_OK);
}
static void wide_weights(nota_tensor **t) {
    int64_t shape[2] = {2, 9};
    nota_tensor_free(*t);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, t), NOTA_OK);
}
static void flat_spline(nota_tensor **t) { /* coordinate 1, bin 0: x1 = x0 */
    float *k = nota_tensor_f32(*t) + (*t)->shape[1] * (*t)->shape[2] * (*t)->shape[3];
    k[1] = k[0];
}

Test(flow_armodel, load_refuses_broken_autoregressive_layers) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(3);
    double ll;
    nota_tensor *x = spread(3000, 3, &ll);
    const char *sets[] = {"max_layers=1", "valid_fraction=0", "ar_layers=1", "min_gain=0"};
    nota_model *m = test_create(p, sets, 4, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK);
    assert_load_refused(p, mf, "l0000.spec", dir_two,
                        "flow model: layer 0: autoregressive direction 2, radius 3 (expected 0|1 "
                        "and 1..5)");
    assert_load_refused(p, mf, "l0000.spec", radius_nine,
                        "flow model: layer 0: autoregressive direction 0, radius 9 (expected 0|1 "
                        "and 1..5)");
    assert_load_refused(p, mf, "l0000.are", edges_down,
                        "flow model: layer 0, coordinate 1: bin edges decrease at edge 2");
    assert_load_refused(p, mf, "l0000.are", many_bins,
                        "flow model: tensor 'l0000.are' must be (2, B) with B in 1..256");
    assert_load_refused(p, mf, "l0000.arw", wide_weights,
                        "flow model: tensor 'l0000.arw' is f32 (2, 9), expected f32 (2, 25)");
    assert_load_refused(p, mf, "l0000.knots", flat_spline,
                        "flow model: layer 0, coordinate 1: spline is not strictly increasing at "
                        "knot 1");
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_armodel, bad_options_are_refused_with_exact_messages) {
    assert_config_refused("ar_bins", NULL, 0,
                          "flow config: ar_layers 2, ar_bins 0, ar_window 1, ar_radius 3 "
                          "(expected 0..4096, 1..256, 0..256, 1..5)");
    assert_config_refused("ar_radius", NULL, 6,
                          "flow config: ar_layers 2, ar_bins 64, ar_window 1, ar_radius 6 "
                          "(expected 0..4096, 1..256, 0..256, 1..5)");
    assert_config_refused("ar_context", "cubic", 0,
                          "flow config: ar_context 'cubic' (expected linear|quadratic)");
    assert_config_refused("ar_window", NULL, -1,
                          "flow config: ar_layers 2, ar_bins 64, ar_window -1, ar_radius 3 "
                          "(expected 0..4096, 1..256, 0..256, 1..5)");
}
