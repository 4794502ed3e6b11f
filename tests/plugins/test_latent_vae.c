/* latent kind `vae`: it learns (its loss falls and it beats the Gaussian
 * baseline on a curved 2-D manifold in 8-D), reloads bit for bit, handles
 * constant columns and image-shaped data, and refuses bad input with exact
 * messages. Small nets and data so the file runs in a few seconds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifold.h"

#define D MANIFOLD_D

static const char *small[] = {"kind=vae", "hidden=64,32", "latent=4", "batch=64", "lr=3e-3"};
#define N_SMALL (sizeof small / sizeof small[0])

/* Model from the `small` settings plus extra ones. */
static nota_model *vae_model(const nota_plugin *p, const char *const *extra, size_t n_extra,
                             const nota_host *h) {
    const char *sets[16];
    memcpy(sets, small, sizeof small);
    for (size_t i = 0; i < n_extra; i++)
        sets[N_SMALL + i] = extra[i];
    return test_create(p, sets, N_SMALL + n_extra, h);
}

static double metric(const nota_metric *m, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0) return m[i].value;
    cr_assert_fail("metric %s missing", name);
    return NAN;
}

static nota_model *reload(const nota_plugin *p, nota_model *m, const nota_host *h) {
    char path[] = "/tmp/nota_vae_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    nota_modelfile *mf, *back;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    nota_model *m2;
    cr_assert_eq(p->load(back, h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(back);
    unlink(path);
    return m2;
}

static void assert_same(const nota_tensor *a, const nota_tensor *b, const char *what) {
    cr_assert(nota_tensor_same_shape(a, b), "%s: shapes differ", what);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "%s: not bit-identical", what);
}

Test(latent_vae, training_lowers_the_loss_and_beats_the_gaussian) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(7);
    nota_tensor *x = manifold(3000, 1), *test = manifold(1000, 2);
    nota_metric m1[16], m2[16], mg[4];
    size_t n1, n2, ng;
    const char *one[] = {"epochs=1"}, *many[] = {"epochs=40", "patience=40"};
    nota_model *a = vae_model(p, one, 1, &h), *b = vae_model(p, many, 2, &h);
    cr_assert_eq(p->fit(a, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(b, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->eval(a, test, &h, m1, 16, &n1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->eval(b, test, &h, m2, 16, &n2), NOTA_OK, "%s", nota_last_error());
    double e1 = metric(m1, n1, "neg_elbo_nats"), e2 = metric(m2, n2, "neg_elbo_nats");
    double iw = metric(m2, n2, "iw_nll_nats");
    cr_assert_eq(metric(m2, n2, "iw_samples"), 64);
    /* 40 epochs take the held-out negative ELBO down by at least 4 nats/item
     * (measured: ~11.4 → ~0.4; IW NLL ~-0.9), and importance weighting tightens the bound. */
    cr_assert_lt(e2, e1 - 4.0, "neg ELBO after 1 epoch %g, after 40 %g", e1, e2);
    cr_assert_leq(iw, e2 + 1e-3, "IW %g should not exceed the ELBO bound %g", iw, e2);
    cr_assert_float_eq(metric(m2, n2, "iw_bits_per_dim"), iw / (D * log(2.0)), 1e-9);
    /* The full-covariance Gaussian cannot follow the curvature. */
    const char *gs[] = {"kind=gaussian"};
    nota_model *g = test_create(p, gs, 1, &h);
    cr_assert_eq(p->fit(g, x, NULL, &h), NOTA_OK);
    cr_assert_eq(p->eval(g, test, &h, mg, 4, &ng), NOTA_OK);
    double gn = metric(mg, ng, "nll_nats");
    cr_assert_lt(iw, gn - 1.0, "VAE IW NLL %g vs Gaussian NLL %g", iw, gn);
    /* log_prob is the same importance-weighted estimate, per item */
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(b, test, &h, &lp), NOTA_OK);
    double s = 0;
    for (int i = 0; i < 1000; i++)
        s += nota_tensor_f32(lp)[i];
    cr_assert_float_eq(-s / 1000, iw, 1e-4 * fabs(iw) + 1e-4);
    nota_tensor_free(lp);
    p->destroy(a);
    p->destroy(b);
    p->destroy(g);
    nota_tensor_free(x);
    nota_tensor_free(test);
}

Test(latent_vae, save_load_is_bit_exact) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(3);
    nota_tensor *x = manifold(500, 3);
    const char *extra[] = {"epochs=3", "sample_noise=true"};
    nota_model *m = vae_model(p, extra, 2, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_model *m2 = reload(p, m, &h);
    nota_tensor *a, *b;
    cr_assert_eq(p->sample(m, 300, 0.8, &h, &a), NOTA_OK);
    cr_assert_eq(p->sample(m2, 300, 0.8, &h, &b), NOTA_OK);
    assert_same(a, b, "sample");
    nota_tensor *z, *z2;
    cr_assert_eq(p->encode(m, x, &h, &z), NOTA_OK);
    cr_assert_eq(p->encode(m2, x, &h, &z2), NOTA_OK);
    assert_same(z, z2, "encode");
    cr_assert_eq(z->shape[1], 4);
    nota_tensor_free(a);
    nota_tensor_free(b);
    cr_assert_eq(p->decode(m, z, &h, &a), NOTA_OK);
    cr_assert_eq(p->decode(m2, z, &h, &b), NOTA_OK);
    assert_same(a, b, "decode");
    cr_assert(nota_tensor_same_shape(a, x));
    nota_tensor_free(a);
    nota_tensor_free(b);
    cr_assert_eq(p->log_prob(m, x, &h, &a), NOTA_OK);
    cr_assert_eq(p->log_prob(m2, x, &h, &b), NOTA_OK);
    assert_same(a, b, "log_prob");
    int64_t s[NOTA_MAX_DIMS];
    cr_assert_eq(p->data_shape(m2, s), 1);
    cr_assert_eq(s[0], D);
    cr_assert_eq(p->code_shape(m2, s), 1);
    cr_assert_eq(s[0], 4);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(z);
    nota_tensor_free(z2);
    nota_tensor_free(x);
    p->destroy(m);
    p->destroy(m2);
}

Test(latent_vae, constant_column_gives_finite_numbers) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(5);
    nota_tensor *x = manifold(400, 4);
    for (int r = 0; r < 400; r++)
        nota_tensor_f32(x)[r * D + 3] = -2.5f;
    const char *extra[] = {"epochs=3"};
    nota_model *m = vae_model(p, extra, 1, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_metric met[16];
    size_t n;
    cr_assert_eq(p->eval(m, x, &h, met, 16, &n), NOTA_OK, "%s", nota_last_error());
    for (size_t i = 0; i < n; i++)
        cr_assert(isfinite(met[i].value), "%s", met[i].name);
    nota_tensor *s;
    cr_assert_eq(p->sample(m, 100, 1.0, &h, &s), NOTA_OK);
    cr_assert_eq(nota_tensor_check_finite(s, "samples"), NOTA_OK, "%s", nota_last_error());
    /* decoder means sit near the constant (0 in standardised units) */
    for (int r = 0; r < 100; r++)
        cr_assert_float_eq(nota_tensor_f32(s)[r * D + 3], -2.5f, 0.25);
    nota_tensor_free(s);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(latent_vae, bernoulli_on_images_keeps_the_image_shape) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(9);
    int64_t shape[4] = {256, 1, 4, 4};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &x), NOTA_OK);
    /* left half dark, right half bright, brightness varying per image */
    for (int i = 0; i < 256; i++)
        for (int k = 0; k < 16; k++)
            nota_tensor_f32(x)[i * 16 + k] = (float)(k % 4 < 2 ? i / 8 : 255 - i / 4) + 0.5f;
    const char *extra[] = {"likelihood=bernoulli", "epochs=2"};
    nota_model *m = vae_model(p, extra, 2, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_tensor *s, *lp;
    cr_assert_eq(p->sample(m, 10, 1.0, &h, &s), NOTA_OK);
    cr_assert_eq(s->ndim, 4);
    cr_assert_eq(s->shape[0], 10);
    cr_assert_eq(s->shape[3], 4);
    for (int i = 0; i < 160; i++)
        cr_assert(nota_tensor_f32(s)[i] >= 0 && nota_tensor_f32(s)[i] <= 256);
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_ENOTSUP);
    cr_assert_null(lp);
    cr_assert_str_eq(nota_last_error(), "vae log_prob: the Bernoulli decoder gives no density for "
                                        "continuous data (fit with likelihood=gaussian)");
    nota_metric met[16], met2[16];
    size_t n, n2;
    cr_assert_eq(p->eval(m, x, &h, met, 16, &n), NOTA_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(met[0].name, "neg_elbo_nats");
    cr_assert_gt(met[0].value, 0); /* a cross-entropy on [0,1] data is positive */
    /* longer training lowers it: 16 pixels with two brightness levels per
     * image are easy to code (measured: 2 epochs 9.4, 30 epochs 4.9 nats/image) */
    const char *longer[] = {"likelihood=bernoulli", "epochs=30", "patience=30"};
    nota_model *m2 = vae_model(p, longer, 3, &h);
    cr_assert_eq(p->fit(m2, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->eval(m2, x, &h, met2, 16, &n2), NOTA_OK);
    cr_assert_lt(met2[0].value, met[0].value - 2.0, "2 epochs %g, 30 epochs %g", met[0].value,
                 met2[0].value);
    p->destroy(m2);
    nota_tensor_free(s);
    nota_tensor_free(x);
    p->destroy(m);
}

static bool always(void *ctx) { return true; }

Test(latent_vae, bad_input_and_cancel_are_refused_exactly) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_tensor *x = manifold(200, 5), *other, *out = NULL;
    const char *extra[] = {"epochs=1"};
    nota_model *m = vae_model(p, extra, 1, &h);
    cr_assert_eq(p->sample(m, 5, 1.0, &h, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "vae sample: the model is not fitted (fit or load it first)");

    nota_tensor_f32(x)[3 * D + 6] = INFINITY;
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(),
                     "vae fit: training data: item 3, element 6 is Inf (expected finite)");
    nota_tensor_f32(x)[3 * D + 6] = 0;

    nota_host hc = h;
    hc.cancelled = always;
    cr_assert_eq(p->fit(m, x, NULL, &hc), NOTA_ECANCELED);
    cr_assert_str_eq(nota_last_error(), "vae fit: cancelled at epoch 1; no model kept");
    cr_assert_eq(p->encode(m, x, &h, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "vae encode: the model is not fitted (fit or load it first)");

    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_tensor_new_2d(6, 5, &other), NOTA_OK);
    cr_assert_eq(p->encode(m, other, &h, &out), NOTA_ESHAPE);
    cr_assert_null(out);
    cr_assert_str_eq(nota_last_error(), "vae encode: the model was fitted on items of 8 values, "
                                        "shape (6, 8); data is (6, 5)");
    cr_assert_eq(p->log_prob(m, other, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "vae log_prob: the model was fitted on items of 8 values, "
                                        "shape (6, 8); data is (6, 5)");
    cr_assert_eq(p->decode(m, other, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "vae decode: expected f32 codes (N, 4), found f32 (6, 5)");
    cr_assert_eq(p->fit(m, x, other, &h), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "vae fit: validation data f32 (6, 5) does not match "
                                        "training data (200, 8)");
    nota_tensor_free(other);

    const char *bad[] = {"kind=vae", "hidden=64,,32"};
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, bad, 2, &cfg), NOTA_OK);
    nota_model *m2 = NULL;
    cr_assert_eq(p->create(cfg, &h, &m2), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "vae: option hidden='64,,32': expected comma-separated "
                                        "layer sizes in 1..65536, e.g. \"512,256\"");
    nota_config_free(cfg);
    nota_tensor *two;
    cr_assert_eq(nota_tensor_rows(x, 0, 1, &two), NOTA_OK);
    cr_assert_eq(p->fit(m, two, NULL, &h), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "vae fit: need at least 2 items, got 1");
    nota_tensor_free(two);
    nota_tensor_free(x);
    p->destroy(m);
}

/* A learning rate far too large (Adam steps of 1 per weight) overflows the
 * loss within a few batches; the fit must stop with an error naming where,
 * and keep no model. (The NaN's printed sign varies by libc, so the message
 * is checked around it.) */
Test(latent_vae, diverging_fit_stops_with_an_error) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(7);
    nota_tensor *x = manifold(3000, 1);
    const char *sets[] = {"kind=vae", "hidden=64,32", "latent=4",
                          "batch=64", "lr=1",         "valid_frac=0"};
    nota_model *m = test_create(p, sets, 6, &h);
    nota_status st = p->fit(m, x, NULL, &h);
    const char *e = nota_last_error();
    cr_assert_eq(st, NOTA_ENUMERIC, "status %d: %s", st, e);
    cr_assert(strstr(e, "vae fit: loss is not finite (") == e, "%s", e);
    cr_assert_not_null(strstr(e, ") at epoch 1, batch 2; no model kept (try a smaller lr than 1)"),
                       "%s", e);
    nota_tensor *out = NULL;
    cr_assert_eq(p->sample(m, 5, 1.0, &h, &out), NOTA_EINVAL);
    nota_tensor_free(x);
    p->destroy(m);
}

static void count_epochs(void *ctx, const char *stage, double done, double total,
                         const char *detail) {
    if (strcmp(stage, "vae epoch") == 0) *(int *)ctx = (int)done;
}

/* With a validation set and little patience the fit stops well before the
 * epoch limit, and reports train and valid losses per epoch. */
Test(latent_vae, early_stopping_ends_before_the_limit) {
    const nota_plugin *p = test_load_plugin("latent");
    int last = 0;
    nota_host h = test_host(7);
    h.ctx = &last;
    h.progress = count_epochs;
    nota_tensor *x = manifold(1000, 1), *v = manifold(300, 8);
    const char *extra[] = {"epochs=500", "patience=2"};
    nota_model *m = vae_model(p, extra, 2, &h);
    cr_assert_eq(p->fit(m, x, v, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_geq(last, 3);
    cr_assert_lt(last, 500, "ran all %d epochs", last);
    nota_tensor_free(x);
    nota_tensor_free(v);
    p->destroy(m);
}

/* On Gaussian data the best possible NLL is the Gaussian's: a correct
 * importance-weighted estimate (in data units, Jacobian included) cannot
 * land clearly below it, and a trained VAE should come close. Data: x = 10 +
 * 3 A e in 5-D with a fixed mixing A. Measured: Gaussian 11.00, VAE 11.30. */
Test(latent_vae, iw_likelihood_is_calibrated_on_gaussian_data) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(11);
    static const float A[5][5] = {{1.2f, 0, 0, 0, 0},
                                  {0.5f, 0.9f, 0, 0, 0},
                                  {-0.7f, 0.3f, 0.6f, 0, 0},
                                  {0.2f, -0.4f, 0.1f, 0.8f, 0},
                                  {0.9f, 0.6f, -0.5f, 0.3f, 0.4f}};
    nota_tensor *xs[2];
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(nota_tensor_new_2d(3000, 5, &xs[k]), NOTA_OK);
        float e[5], *x = nota_tensor_f32(xs[k]);
        nota_rng r = nota_rng_make(100 + (uint64_t)k, 0);
        for (int i = 0; i < 3000; i++) {
            for (int j = 0; j < 5; j++)
                e[j] = nota_rng_normal(&r);
            for (int j = 0; j < 5; j++) {
                float v = 10;
                for (int c = 0; c < 5; c++)
                    v += 3 * A[j][c] * e[c];
                x[i * 5 + j] = v;
            }
        }
    }
    const char *vs[] = {"kind=vae",    "hidden=64,32", "latent=5",
                        "patience=10", "epochs=200",   "lr=3e-3"};
    const char *gs[] = {"kind=gaussian"};
    nota_model *v = test_create(p, vs, 6, &h), *g = test_create(p, gs, 1, &h);
    cr_assert_eq(p->fit(v, xs[0], NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(g, xs[0], NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_metric mv[16], mg[4];
    size_t nv, ng;
    cr_assert_eq(p->eval(v, xs[1], &h, mv, 16, &nv), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->eval(g, xs[1], &h, mg, 4, &ng), NOTA_OK, "%s", nota_last_error());
    double iw = metric(mv, nv, "iw_nll_nats"), ref = metric(mg, ng, "nll_nats");
    cr_assert_geq(iw, ref - 0.05, "VAE %g below the Gaussian optimum %g", iw, ref);
    cr_assert_leq(iw, ref + 0.5, "VAE %g far from the Gaussian optimum %g", iw, ref);
    cr_assert_geq(metric(mv, nv, "neg_elbo_nats"), iw, "the ELBO bound must not beat IW");
    p->destroy(v);
    p->destroy(g);
    nota_tensor_free(xs[0]);
    nota_tensor_free(xs[1]);
}

/* A model file whose config asks for bigger networks than its tensors hold
 * is refused before anything that size is allocated. */
Test(latent_vae, load_checks_tensor_shapes_against_the_config) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_tensor *x = manifold(200, 5);
    const char *extra[] = {"epochs=1"};
    nota_model *m = vae_model(p, extra, 1, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf, *forged;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK);
    nota_config *cfg;
    cr_assert_eq(nota_config_clone(nota_modelfile_config(mf), &cfg), NOTA_OK);
    cr_assert_eq(nota_config_set_string(cfg, "hidden", "65536,65536,65536"), NOTA_OK);
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &forged), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_config(forged, cfg), NOTA_OK);
    for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
        const nota_tensor *t;
        const char *name = nota_modelfile_tensor_name(mf, i);
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &t), NOTA_OK);
        cr_assert_eq(nota_modelfile_add_tensor(forged, name, t), NOTA_OK);
    }
    nota_model *m2 = NULL;
    cr_assert_eq(p->load(forged, &h, &m2), NOTA_EFORMAT);
    cr_assert_null(m2);
    cr_assert_str_eq(nota_last_error(), "vae model: tensor 'encoder.0.weight' is f32 (64, 8), the "
                                        "config needs f32 (65536, 8)");
    /* and the untouched file loads */
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_OK, "%s", nota_last_error());
    p->destroy(m2);
    nota_config_free(cfg);
    nota_modelfile_free(mf);
    nota_modelfile_free(forged);
    nota_tensor_free(x);
    p->destroy(m);
}
