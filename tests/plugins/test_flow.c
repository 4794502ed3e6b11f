/* flow plugin: exact inverse (decode ∘ encode = id), log_prob equal to
 * log N(z) + log|det J| with J by finite differences, save → load bit for
 * bit, a clear likelihood gain over the full-covariance Gaussian on a 2-D
 * toy, deterministic results at any thread count, and exact refusals of
 * bad input. Small data (2-D/3-D vectors, 8×8 images) keep it fast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow_checks.h"
#include "plugin_util.h"

/* Two interleaved half circles ("moons") with noise, n × 2. */
static nota_tensor *moons(int64_t n, uint64_t seed) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, 2, &t), NOTA_OK);
    float *u = malloc((size_t)n * 3 * sizeof *u);
    nota_rng_fill_uniform(seed, 1, u, (size_t)n);
    nota_rng_fill_normal(seed, 2, u + n, (size_t)n * 2);
    float *x = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++) {
        double a = M_PI * u[i];
        if (i % 2) {
            x[2 * i] = (float)(cos(a) + 0.08 * u[n + 2 * i]);
            x[2 * i + 1] = (float)(sin(a) + 0.08 * u[n + 2 * i + 1]);
        } else {
            x[2 * i] = (float)(1 - cos(a) + 0.08 * u[n + 2 * i]);
            x[2 * i + 1] = (float)(0.5 - sin(a) + 0.08 * u[n + 2 * i + 1]);
        }
    }
    free(u);
    return t;
}

Test(flow, vectors_invert_and_log_prob_matches_jacobian) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *sets[] = {"max_layers=8", "valid_fraction=0", "search_every=3"};
    nota_model *m = test_create(p, sets, 3, &h);
    nota_tensor *x = curved(3000, 2);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 25, 1e-3, 2e-3, &h);
    int64_t ds[NOTA_MAX_DIMS];
    cr_assert_eq(p->data_shape(m, ds), 1);
    cr_assert_eq(ds[0], 3);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow, images_invert_and_log_prob_matches_jacobian) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(3);
    const char *sets[] = {"max_layers=7", "valid_fraction=0", "schedule=4,2",
                          "full_every=3", "search_every=2",   "rotation=ica"};
    nota_model *m = rot_create(p, sets, 6, &h);
    nota_tensor *x = images(1500, 5);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 4, 0.05, 2e-3, &h);
    nota_tensor_free(x);
    p->destroy(m);
}

/* Mean log N(x; m̂, Ŝ) of `test` under the MLE Gaussian of `train` (2-D). */
static double gaussian_ll(const nota_tensor *train, const nota_tensor *test) {
    const float *x = nota_tensor_f32(train);
    int64_t n = train->shape[0];
    double m[2] = {0, 0}, S[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        m[0] += x[2 * i];
        m[1] += x[2 * i + 1];
    }
    m[0] /= n;
    m[1] /= n;
    for (int64_t i = 0; i < n; i++) {
        double a = x[2 * i] - m[0], b = x[2 * i + 1] - m[1];
        S[0] += a * a / n;
        S[1] += a * b / n;
        S[2] += b * b / n;
    }
    double det = S[0] * S[2] - S[1] * S[1], s = 0;
    const float *y = nota_tensor_f32(test);
    for (int64_t i = 0; i < test->shape[0]; i++) {
        double a = y[2 * i] - m[0], b = y[2 * i + 1] - m[1];
        double q = (S[2] * a * a - 2 * S[1] * a * b + S[0] * b * b) / det;
        s += -0.5 * q - 0.5 * log(det) - log(2 * M_PI);
    }
    return s / (double)test->shape[0];
}

static double mean_log_prob(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                            const nota_host *h) {
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, x, h, &lp), NOTA_OK, "%s", nota_last_error());
    double s = 0;
    for (int64_t i = 0; i < lp->shape[0]; i++)
        s += nota_tensor_f32(lp)[i];
    nota_tensor_free(lp);
    return s / (double)x->shape[0];
}

Test(flow, moons_test_likelihood_beats_the_gaussian_by_half_a_nat) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(7);
    nota_model *m = test_create(p, NULL, 0, &h);
    nota_tensor *train = moons(5000, 1), *test = moons(3000, 2);
    cr_assert_eq(p->fit(m, train, NULL, &h), NOTA_OK, "%s", nota_last_error());
    double flow_ll = mean_log_prob(p, m, test, &h), gauss_ll = gaussian_ll(train, test);
    /* measured: flow -0.88, Gaussian -1.91 nats per point; the generating
     * density (uniform along two arcs of total length 2π, σ = 0.08 across)
     * has entropy ≈ 0.73 nats, so about -0.73 is the best possible */
    cr_assert_gt(flow_ll, gauss_ll + 0.5, "flow %.4f vs Gaussian %.4f nats", flow_ll, gauss_ll);
    assert_roundtrip(p, m, test, &h);
    nota_tensor_free(train);
    nota_tensor_free(test);
    p->destroy(m);
}

/* Save m into a model file object (not on disk). */
static nota_modelfile *to_file(const nota_plugin *p, nota_model *m) {
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    return mf;
}

Test(flow, save_load_reproduces_log_prob_exactly) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(4);
    const char *sets[] = {"max_layers=5", "valid_fraction=0", "full_every=4"};
    nota_model *m = test_create(p, sets, 3, &h);
    nota_tensor *x = images(600, 9);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    char path[] = "/tmp/nota_flow_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    nota_modelfile *mf = to_file(p, m);
    const nota_tensor *meta;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "meta", &meta), NOTA_OK);
    cr_assert_eq(nota_tensor_f32(meta)[3], 5.0f, "layers saved");
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    nota_modelfile *back;
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    unlink(path);
    nota_model *m2;
    cr_assert_eq(p->load(back, &h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(back);
    nota_tensor *a, *b, *s1, *s2;
    cr_assert_eq(p->log_prob(m, x, &h, &a), NOTA_OK);
    cr_assert_eq(p->log_prob(m2, x, &h, &b), NOTA_OK);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0);
    cr_assert_eq(p->sample(m, 20, 0.8, &h, &s1), NOTA_OK);
    cr_assert_eq(p->sample(m2, 20, 0.8, &h, &s2), NOTA_OK);
    cr_assert_eq(memcmp(s1->data, s2->data, s1->nbytes), 0);
    int64_t ds[NOTA_MAX_DIMS];
    cr_assert_eq(p->data_shape(m2, ds), 3);
    cr_assert(ds[0] == 1 && ds[1] == 8 && ds[2] == 8);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(s1);
    nota_tensor_free(s2);
    nota_tensor_free(x);
    p->destroy(m);
    p->destroy(m2);
}

Test(flow, same_result_at_any_thread_count) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h1 = test_host(5), h3 = test_host(5);
    h3.threads = 3;
    const char *sets[] = {"max_layers=4", "schedule=2", "full_every=0"};
    nota_model *m1 = test_create(p, sets, 3, &h1), *m3 = test_create(p, sets, 3, &h3);
    nota_tensor *x = images(500, 11);
    cr_assert_eq(p->fit(m1, x, NULL, &h1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(m3, x, NULL, &h3), NOTA_OK, "%s", nota_last_error());
    assert_same_log_prob(p, m1, m3, x, &h1, &h3);
    nota_tensor_free(x);
    p->destroy(m1);
    p->destroy(m3);
}

Test(flow, samples_have_the_data_shape_and_temperature_zero_is_the_mode_path) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(8);
    const char *sets[] = {"max_layers=4"};
    nota_model *m = test_create(p, sets, 1, &h);
    nota_tensor *x = images(400, 12);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_tensor *s, *s0, *z, *d0;
    cr_assert_eq(p->sample(m, 30, 1.0, &h, &s), NOTA_OK, "%s", nota_last_error());
    cr_assert(s->ndim == 4 && s->shape[0] == 30 && s->shape[1] == 1 && s->shape[3] == 8);
    cr_assert_eq(nota_tensor_check_finite(s, "samples"), NOTA_OK);
    cr_assert_eq(p->sample(m, 3, 0.0, &h, &s0), NOTA_OK);
    int64_t zs[4] = {1, 1, 8, 8};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, zs, &z), NOTA_OK);
    cr_assert_eq(p->decode(m, z, &h, &d0), NOTA_OK);
    /* equal up to rounding: BLAS may block a 3-item and a 1-item GEMM differently */
    for (int i = 0; i < 64; i++) {
        float ref = nota_tensor_f32(d0)[i];
        cr_assert_float_eq(nota_tensor_f32(s0)[i], ref, 1e-4 * fabsf(ref));
        cr_assert_float_eq(nota_tensor_f32(s0)[128 + i], ref, 1e-4 * fabsf(ref));
    }
    nota_tensor_free(s);
    nota_tensor_free(s0);
    nota_tensor_free(z);
    nota_tensor_free(d0);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow, bad_input_is_refused_with_exact_messages) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *sets[] = {"max_layers=2"};
    nota_model *m = test_create(p, sets, 1, &h);
    nota_tensor *x = curved(100, 1), *other, *out = NULL;
    cr_assert_eq(p->log_prob(m, x, &h, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "flow: log_prob before the model was fitted");
    nota_tensor_f32(x)[5] = NAN;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(),
                     "training data: item 1, element 2 is NaN (expected finite)");
    nota_tensor_f32(x)[5] = 0;
    cr_assert_eq(nota_tensor_new_2d(10, 4, &other), NOTA_OK);
    cr_assert_eq(p->fit(m, x, other, &h), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "flow fit: validation data (10, 4) do not match the training data (100, 3)");
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->log_prob(m, other, &h, &out), NOTA_ESHAPE);
    cr_assert_null(out);
    cr_assert_str_eq(nota_last_error(),
                     "flow log_prob: model expects items of shape (-1, 3), data is (10, 4)");
    cr_assert_eq(p->decode(m, other, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "flow decode: model expects items of shape (-1, 3), data is (10, 4)");
    cr_assert_eq(p->sample(m, 0, 1.0, &h, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "flow sample: n must be >= 1, got 0");
    nota_tensor_free(other);
    p->destroy(m);

    const char *patch[] = {"schedule=4,2"};
    m = test_create(p, patch, 1, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "flow: schedule '4,2' has patch size 4, but the data are "
                                        "not images (C, H, W); use 'full'");
    p->destroy(m);
    nota_tensor_free(x);

    const char *three[] = {"schedule=3"};
    m = test_create(p, three, 1, &h);
    x = images(50, 2);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "flow: schedule '3': patch size 3 does not divide the image size 8x8");
    nota_tensor_f32(x)[70] = 300;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_EINVAL);
    cr_assert_str_eq(
        nota_last_error(),
        "flow fit: item 1, element 6 is 300, outside [0, 256] "
        "(image data are dequantized 8-bit values; use preprocess=none for other data)");
    nota_tensor_free(x);
    p->destroy(m);

    /* 1×72×72 images: the first full layer (layer 10: 0 and 1 are
     * autoregressive) would need a 5184×5184 rotation; refused before any
     * layer is fitted */
    int64_t big[4] = {3, 1, 72, 72};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, big, &x), NOTA_OK);
    for (size_t i = 0; i < nota_tensor_numel(x); i++)
        nota_tensor_f32(x)[i] = (float)(i % 251);
    m = test_create(p, NULL, 0, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_ELIMIT);
    cr_assert_str_eq(nota_last_error(),
                     "flow fit: layer 10 would rotate 5184 values at once (a "
                     "107 MB matrix; limit 4096); use patch layers (schedule) and full_every=0");
    nota_tensor_free(x);
    p->destroy(m);

    x = curved(2, 1);
    m = test_create(p, NULL, 0, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "flow fit: need at least 2 training items, got 1 "
                                        "(after holding out 1 for validation)");
    nota_tensor_free(x);
    p->destroy(m);
}

static bool always(void *ctx) { return true; }

Test(flow, cancel_stops_the_fit_and_leaves_no_model) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    h.cancelled = always;
    nota_model *m = test_create(p, NULL, 0, &h);
    nota_tensor *x = curved(200, 1), *lp = NULL;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_ECANCELED);
    cr_assert_str_eq(nota_last_error(), "flow fit: cancelled at layer 0");
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_EINVAL);
    nota_tensor_free(x);
    p->destroy(m);
}

static void knot_repeated(nota_tensor **t) { /* coordinate 0: x1 = x0 */
    cr_assert_eq(nota_tensor_f32(*t)[1] > nota_tensor_f32(*t)[0], true);
    nota_tensor_f32(*t)[1] = nota_tensor_f32(*t)[0];
}

Test(flow, load_refuses_a_broken_spline) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *sets[] = {"max_layers=1", "valid_fraction=0"};
    nota_model *m = rot_create(p, sets, 2, &h);
    nota_tensor *x = curved(3000, 4);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf = to_file(p, m);
    const nota_tensor *act;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.active", &act), NOTA_OK);
    cr_assert_eq(nota_tensor_u8(act)[0], 1);
    assert_load_refused(p, mf, "l0000.knots", knot_repeated,
                        "flow model: layer 0, coordinate 0: spline is not strictly increasing at "
                        "knot 1");
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

static float saved_layers(const nota_plugin *p, nota_model *m) {
    nota_modelfile *mf = to_file(p, m);
    const nota_tensor *meta;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "meta", &meta), NOTA_OK);
    float n = nota_tensor_f32(meta)[3];
    nota_modelfile_free(mf);
    return n;
}

Test(flow, stopping_rules_patience_and_time_limit) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(6);
    /* patience 2 on a toy that saturates: stops well before max_layers */
    const char *pat[] = {"max_layers=400", "patience=2"};
    nota_model *m = test_create(p, pat, 2, &h);
    nota_tensor *x = moons(3000, 5);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    float n = saved_layers(p, m);
    cr_assert(n >= 1 && n < 400, "%g layers kept", n);
    p->destroy(m);
    /* a time limit already spent before the first layer: a valid 0-layer
     * model (standardisation only) that saves, loads and scores */
    const char *tl[] = {"time_limit=1e-9"};
    m = test_create(p, tl, 1, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(saved_layers(p, m), 0.0f);
    nota_modelfile *mf = to_file(p, m);
    nota_model *m2;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    assert_roundtrip(p, m2, x, &h);
    double a = mean_log_prob(p, m, x, &h), b = mean_log_prob(p, m2, x, &h);
    cr_assert_eq(a, b);
    cr_assert(isfinite(a));
    nota_tensor_free(x);
    p->destroy(m);
    p->destroy(m2);
}
