/* Autoregressive layers in the flow plugin (ar_layers), per coordinate
 * and with shared cells (ar_shared, images only): models with them
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
    const char *sets[] = {"max_layers=3", "valid_fraction=0", "ar_layers=2",
                          "ar_bins=4",    "ar_radius=2",      "ar_shared=0"};
    nota_model *m1 = test_create(p, sets, 6, &h1), *m3 = test_create(p, sets, 6, &h3);
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

Test(flow_armodel, shared_cell_layers_invert_reload_exactly_and_ignore_threads) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h1 = test_host(2), h3 = test_host(2);
    h3.threads = 3;
    const char *sets[] = {"max_layers=3", "valid_fraction=0", "ar_layers=2",     "ar_shared=2",
                          "ar_radius=2",  "ar_hidden=8",      "ar_net_steps=30", "ar_net_layers=2"};
    nota_model *m1 = test_create(p, sets, 8, &h1), *m3 = test_create(p, sets, 8, &h3);
    nota_tensor *x = images(1500, 5);
    cr_assert_eq(p->fit(m1, x, NULL, &h1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(m3, x, NULL, &h3), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m3, x, &h3);
    /* log_prob against the Jacobian on one layer: through a second one, a
     * step that moves a later coordinate's context across a cell edge
     * makes a jump that central differences cannot linearise */
    const char *one[] = {"max_layers=1", "valid_fraction=0", "ar_layers=1",
                         "ar_radius=2",  "ar_hidden=8",      "ar_net_steps=30"};
    nota_model *mj = test_create(p, one, 6, &h3);
    cr_assert_eq(p->fit(mj, x, NULL, &h3), NOTA_OK, "%s", nota_last_error());
    assert_jacobian(p, mj, x, 3, 2e-3, 2e-3, &h3);
    p->destroy(mj);
    nota_modelfile *mf = assert_save_load_exact(p, m1, x, &h1);
    const nota_tensor *spec, *cb, *aff, *mu, *isd, *edges, *kn, *sw, *w, *net;
    for (int l = 0; l < 2; l++) {
        char name[32];
        snprintf(name, sizeof name, "l%04d.spec", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &spec), NOTA_OK);
        float want[3] = {-2.0f, (float)l, 2.0f};
        cr_assert_arr_eq(nota_tensor_f32(spec), want, sizeof want);
        /* 96,000 training values: 128·16·8 cells shrink to 8·4·8; only the
         * first layer (on the logit data) reads intensities; nets of width 8 */
        snprintf(name, sizeof name, "l%04d.arc", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &cb), NOTA_OK);
        /* blended: the first layer (level contexts) only */
        float cells[6] = {8, 4, 8, l == 0 ? 2.0f : 0.0f, 8, l == 0 ? 1.0f : 0.0f};
        cr_assert(cb->ndim == 1 && cb->shape[0] == 6);
        cr_assert_arr_eq(nota_tensor_f32(cb), cells, sizeof cells);
        /* the net's prediction is one more feature of the linear one; its
         * inputs: 12 neighbours, 13 edge features, row and column */
        snprintf(name, sizeof name, "l%04d.arw", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &w), NOTA_OK);
        cr_assert(w->ndim == 2 && w->shape[0] == 64 && w->shape[1] == 12 + 15);
        snprintf(name, sizeof name, "l%04d.arn", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &net), NOTA_OK);
        cr_assert(net->ndim == 1 && net->shape[0] == 27 * 8 + 8 + 8 * 8 + 8 + 2 * 8 + 2);
        snprintf(name, sizeof name, "l%04d.ars", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &sw), NOTA_OK);
        cr_assert(sw->ndim == 2 && sw->shape[0] == 64 && sw->shape[1] == 12 + 8);
        snprintf(name, sizeof name, "l%04d.are", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &edges), NOTA_OK);
        cr_assert(edges->ndim == 1 && edges->shape[0] == 20);
        snprintf(name, sizeof name, "l%04d.knots", l);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &kn), NOTA_OK);
        cr_assert(kn->ndim == 3 && kn->shape[0] == 256 && kn->shape[1] == 3 && kn->shape[2] == 32);
    }
    /* layer 0's targets are the logits: the standardisation undone */
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.art", &aff), NOTA_OK);
    cr_assert_eq(nota_modelfile_get_tensor(mf, "mu", &mu), NOTA_OK);
    cr_assert_eq(nota_modelfile_get_tensor(mf, "inv_sd", &isd), NOTA_OK);
    for (int64_t r = 0; r < 64; r++) {
        cr_assert_eq(nota_tensor_f32(aff)[2 * r], 1.0f / nota_tensor_f32(isd)[r]);
        cr_assert_eq(nota_tensor_f32(aff)[2 * r + 1], nota_tensor_f32(mu)[r]);
    }
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0001.art", &aff), NOTA_OK);
    for (int64_t r = 0; r < 64; r++)
        cr_assert(nota_tensor_f32(aff)[2 * r] == 1.0f && nota_tensor_f32(aff)[2 * r + 1] == 0.0f);
    nota_modelfile_free(mf);
    assert_same_log_prob(p, m1, m3, x, &h1, &h3);
    nota_tensor_free(x);
    p->destroy(m1);
    p->destroy(m3);
}

Test(flow_armodel, vectors_get_per_coordinate_layers_whatever_ar_shared_says) {
    /* the coordinates of a vector are not exchangeable like pixels: cells
     * shared across them are for images only */
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    const char *sets[] = {"max_layers=2", "valid_fraction=0", "ar_layers=2", "ar_shared=2"};
    nota_model *m = test_create(p, sets, 4, &h);
    nota_tensor *x = curved(3000, 4);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf = test_saved(p, m);
    const nota_tensor *spec;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.spec", &spec), NOTA_OK);
    cr_assert_eq(nota_tensor_f32(spec)[0], -1.0f);
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0001.spec", &spec), NOTA_OK);
    cr_assert_eq(nota_tensor_f32(spec)[0], -1.0f);
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_armodel, quadratic_context_reloads_exactly) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    const char *sets[] = {"max_layers=3", "valid_fraction=0",     "ar_layers=2", "ar_bins=4",
                          "ar_radius=2",  "ar_context=quadratic", "ar_shared=0"};
    nota_model *m = test_create(p, sets, 7, &h);
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
    const char *sets[] = {"max_layers=1", "valid_fraction=0", "ar_layers=1", "min_gain=0",
                          "ar_shared=0"};
    nota_model *m = test_create(p, sets, 5, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf = test_saved(p, m);
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

static void no_bins(nota_tensor **t) { nota_tensor_f32(*t)[1] = 0; }
static void squash_three(nota_tensor **t) { nota_tensor_f32(*t)[3] = 3; }
static void blend_half(nota_tensor **t) { nota_tensor_f32(*t)[5] = 0.5f; }
static void scale_centres_tie(nota_tensor **t) { /* blended: centres strictly increase */
    float *e = nota_tensor_f32(*t) + 8;
    e[3] = e[2];
}
static void too_many_cells(nota_tensor **t) {
    float *c = nota_tensor_f32(*t);
    c[0] = c[1] = c[2] = 256;
}
static void scale_zero(nota_tensor **t) {
    nota_tensor_f32(*t)[2 * 5] = nota_tensor_f32(*t)[2 * 5 + 1] = 0;
}
static void scale_edges_down(nota_tensor **t) { /* the scale's edges follow the prediction's 8 */
    float *e = nota_tensor_f32(*t) + 8;
    e[2] = e[1] - 1;
}
static void cell_flat_spline(nota_tensor **t) { /* cell 3: x2 = x1 */
    float *k = nota_tensor_f32(*t) + 3 * (*t)->shape[1] * (*t)->shape[2];
    k[2] = k[1];
}
static void narrow_scale(nota_tensor **t) {
    int64_t shape[2] = {64, 13};
    nota_tensor_free(*t);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, t), NOTA_OK);
}

static void net_too_wide(nota_tensor **t) { nota_tensor_f32(*t)[4] = 600; }
static void net_width_half(nota_tensor **t) { nota_tensor_f32(*t)[4] = 7.5f; }
static void net_short(nota_tensor **t) {
    int64_t n = 100;
    nota_tensor_free(*t);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &n, t), NOTA_OK);
}
static void arc_first(nota_tensor **t, int64_t n) {
    nota_tensor *c;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &n, &c), NOTA_OK);
    memcpy(nota_tensor_f32(c), nota_tensor_f32(*t), (size_t)n * sizeof(float));
    nota_tensor_free(*t);
    *t = c;
}
static void arc_of_four(nota_tensor **t) { arc_first(t, 4); } /* before the net prediction */
static void arc_of_five(nota_tensor **t) { arc_first(t, 5); } /* before blending */

Test(flow_armodel, files_from_before_the_net_prediction_and_blending_load_and_score_the_same) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    nota_tensor *x = images(1500, 7);
    const char *sets[] = {"max_layers=1", "valid_fraction=0", "ar_layers=1",    "ar_radius=2",
                          "ar_hidden=0",  "ar_blend=none",    "ar_levels=false"};
    nota_model *m = test_create(p, sets, 7, &h), *old4 = NULL, *old5 = NULL;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf = test_saved(p, m), *mf4, *mf5;
    const nota_tensor *cb, *net;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.arc", &cb), NOTA_OK);
    float want[3] = {1, 0, 0}; /* squash (intensities as they are), no net, no blend */
    cr_assert_arr_eq(nota_tensor_f32(cb) + 3, want, sizeof want);
    cr_assert_neq(nota_modelfile_get_tensor(mf, "l0000.arn", &net), NOTA_OK, "no net, no weights");
    mf4 = edited_copy(p, mf, "l0000.arc", arc_of_four);
    mf5 = edited_copy(p, mf, "l0000.arc", arc_of_five);
    cr_assert_eq(p->load(mf4, &h, &old4), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->load(mf5, &h, &old5), NOTA_OK, "%s", nota_last_error());
    assert_same_log_prob(p, m, old4, x, &h, &h);
    assert_same_log_prob(p, m, old5, x, &h, &h);
    nota_modelfile_free(mf);
    nota_modelfile_free(mf4);
    nota_modelfile_free(mf5);
    nota_tensor_free(x);
    p->destroy(m);
    p->destroy(old4);
    p->destroy(old5);
}

Test(flow_armodel, load_refuses_broken_shared_cell_layers) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(3);
    nota_tensor *x = images(1500, 7);
    const char *sets[] = {"max_layers=1", "valid_fraction=0", "ar_layers=1",
                          "ar_radius=2",  "ar_hidden=8",      "ar_net_steps=30"};
    nota_model *m = test_create(p, sets, 6, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf = test_saved(p, m);
    assert_load_refused(p, mf, "l0000.spec", dir_two,
                        "flow model: layer 0: autoregressive direction 2, radius 2 (expected 0|1 "
                        "and 1..5)");
    assert_load_refused(p, mf, "l0000.arc", net_too_wide,
                        "flow model: layer 0: net width 600 (expected an integer 0..512)");
    assert_load_refused(p, mf, "l0000.arc", net_width_half,
                        "flow model: layer 0: net width 7.5 (expected an integer 0..512)");
    assert_load_refused(p, mf, "l0000.arn", net_short,
                        "flow model: tensor 'l0000.arn' is f32 (100,), expected f32 (314,)");
    assert_load_refused(p, mf, "l0000.arc", no_bins,
                        "flow model: layer 0: context 1 has 0 bins (expected 1..256)");
    assert_load_refused(p, mf, "l0000.arc", squash_three,
                        "flow model: layer 0: 256 cells, squash 3 (expected at most 65536 and "
                        "0..2)");
    assert_load_refused(p, mf, "l0000.arc", too_many_cells,
                        "flow model: layer 0: 16777216 cells, squash 2 (expected at most 65536 "
                        "and 0..2)");
    assert_load_refused(p, mf, "l0000.arc", blend_half,
                        "flow model: layer 0: blend 0.5 (expected 0|1)");
    assert_load_refused(p, mf, "l0000.art", scale_zero,
                        "flow model: layer 0, coordinate 5: target scale 0, offset 0 (expected "
                        "finite, scale > 0)");
    assert_load_refused(p, mf, "l0000.are", scale_edges_down,
                        "flow model: layer 0: context 1's bin centres are not finite and "
                        "increasing at 2");
    assert_load_refused(p, mf, "l0000.are", scale_centres_tie,
                        "flow model: layer 0: context 1's bin centres are not finite and "
                        "increasing at 3");
    assert_load_refused(p, mf, "l0000.knots", cell_flat_spline,
                        "flow model: layer 0, cell 3: spline is not strictly increasing at knot 2");
    assert_load_refused(p, mf, "l0000.arw", wide_weights,
                        "flow model: tensor 'l0000.arw' is f32 (2, 9), expected f32 (64, 27)");
    assert_load_refused(p, mf, "l0000.ars", narrow_scale,
                        "flow model: tensor 'l0000.ars' is f32 (64, 13), expected f32 (64, 20)");
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_armodel, bad_options_are_refused_with_exact_messages) {
    assert_config_refused("ar_bins", NULL, 0,
                          "flow config: ar_layers 1, ar_bins 0, ar_window 1, ar_radius 3 "
                          "(expected 0..4096, 1..256, 0..256, 1..5)");
    assert_config_refused("ar_radius", NULL, 6,
                          "flow config: ar_layers 1, ar_bins 64, ar_window 1, ar_radius 6 "
                          "(expected 0..4096, 1..256, 0..256, 1..5)");
    assert_config_refused("ar_context", "cubic", 0,
                          "flow config: ar_context 'cubic' (expected linear|quadratic)");
    assert_config_refused("ar_blend", "first", 0,
                          "flow config: ar_blend 'first' (expected levels|all|none)");
    assert_config_refused("ar_scale_bins", NULL, 256,
                          "flow config: ar_shared 1, ar_pred_bins 128, ar_scale_bins 256, "
                          "ar_err_bins 8 (expected 0..4096, bins 1..256 each and at most 65536 "
                          "cells in all)");
    assert_config_refused("ar_pred_bins", NULL, 0,
                          "flow config: ar_shared 1, ar_pred_bins 0, ar_scale_bins 16, "
                          "ar_err_bins 8 (expected 0..4096, bins 1..256 each and at most 65536 "
                          "cells in all)");
    assert_config_refused("ar_shared", NULL, -1,
                          "flow config: ar_shared -1, ar_pred_bins 128, ar_scale_bins 16, "
                          "ar_err_bins 8 (expected 0..4096, bins 1..256 each and at most 65536 "
                          "cells in all)");
    assert_config_refused("ar_hidden", NULL, 513,
                          "flow config: ar_hidden 513, ar_net_steps 16000, ar_net_layers 1 "
                          "(expected 0..512, 1..1000000, 0..4096)");
    assert_config_refused("ar_net_steps", NULL, 0,
                          "flow config: ar_hidden 128, ar_net_steps 0, ar_net_layers 1 "
                          "(expected 0..512, 1..1000000, 0..4096)");
    assert_config_refused("ar_net_layers", NULL, -1,
                          "flow config: ar_hidden 128, ar_net_steps 16000, ar_net_layers -1 "
                          "(expected 0..512, 1..1000000, 0..4096)");
    assert_config_refused("ar_window", NULL, -1,
                          "flow config: ar_layers 1, ar_bins 64, ar_window -1, ar_radius 3 "
                          "(expected 0..4096, 1..256, 0..256, 1..5)");
}
