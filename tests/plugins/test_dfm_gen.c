/* dfm generation mode: the batched per-image rendering equals a direct
 * double evaluation of eq. 4.5 for random coefficients (1 and 3 threads);
 * gradients of the loss through decoder MLP → coefficients → rendering
 * match central finite differences of a double-precision reference, for
 * every decoder weight and every code entry; the thread count changes no
 * bit of the rendering; a fit on tiny synthetic images
 * reaches a stated MSE, with and without the encoder; early stopping keeps
 * the best validation epoch; a non-finite loss stops the fit, keeping no
 * model; save → load decodes
 * bit for bit; bad inputs are refused with exact messages. The internal
 * files are compiled in (they are private to the plugin .so); the rest goes
 * through the plugin's descriptor as nota-host uses it. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#define TMPDIR_PREFIX "nota-dfmgen"
#include "../../plugins/dfm/dfm_gen.c"
#include "../../plugins/dfm/dfm_gen_render.c"
#include "../../plugins/dfm/dfm_net.c"
#include "nota/rng.h"
#include "plugin_util.h"
#include "tmpdir.h"

/* Direct double evaluation of image i's network at pixel p, channel values
 * into y (C). */
static void direct_pixel(const dfm_gen_arch *a, const double *coef, int64_t p, double *y) {
    double x[DFM_MAX_WIDTH + 2], nx[DFM_MAX_WIDTH + 2];
    int64_t r = p / a->w, c = p % a->w;
    x[0] = (double)a->coord_scale * ((double)c + 0.5) / (double)a->w;
    x[1] = (double)a->coord_scale * ((double)r + 0.5) / (double)a->h;
    for (int l = 0; l < a->depth; l++) {
        int in = a->in[l], out = a->out[l];
        int64_t K = (int64_t)1 << in;
        const double *w = coef + a->off[l];
        for (int o = 0; o < out; o++)
            nx[o] = in == out ? x[o] : 0.0;
        for (int64_t k = 0; k < K; k++) {
            double th = 0.0;
            for (int j = 0; j < in; j++)
                if (k >> j & 1) th += 2.0 * M_PI * x[j];
            for (int o = 0; o < out; o++)
                nx[o] += w[k * out + o] * cos(th) + w[(K + k) * out + o] * sin(th);
        }
        for (int o = 0; o < out; o++)
            x[o] = nx[o];
    }
    for (int ch = 0; ch < a->channels; ch++)
        y[ch] = tanh(x[ch]);
}

static void check_render(int threads) {
    dfm_gen_arch a;
    cr_assert_eq(dfm_gen_arch_init(&a, 2, 3, 3, 5, 4, 0.5f), NOTA_OK, "%s", nota_last_error());
    int64_t n = 5, nc = a.off[a.depth], D = 2 * a.pixels;
    float *coef = malloc((size_t)(n * nc) * sizeof(float)), *y = malloc((size_t)(n * D) * 4);
    double *cd = malloc((size_t)nc * sizeof(double));
    nota_rng_fill_normal(7, 0, coef, (size_t)(n * nc));
    for (int64_t i = 0; i < n * nc; i++)
        coef[i] *= 0.3f;
    dfm_render *r;
    cr_assert_eq(dfm_render_new(&a, threads, &r), NOTA_OK);
    cr_assert_eq(dfm_render_run(r, n, coef, NULL, 1.0f, y, NULL, NULL), NOTA_OK);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < nc; k++)
            cd[k] = coef[i * nc + k];
        for (int64_t p = 0; p < a.pixels; p++) {
            double v[2];
            direct_pixel(&a, cd, p, v);
            for (int ch = 0; ch < 2; ch++)
                worst = fmax(worst, fabs(v[ch] - y[i * D + ch * a.pixels + p]));
        }
    }
    cr_assert_lt(worst, 2e-5, "render vs formula: max |diff| %g (threads %d)", worst, threads);
    dfm_render_free(r);
    free(coef), free(y), free(cd);
}

/* Σ over pixels and channels of scale·(y − t)² for one image, in double. */
static double ref_image_loss(const dfm_gen_arch *a, const double *coef, const float *t,
                             double scale) {
    double loss = 0.0, y[DFM_GEN_MAX_CHANNELS] = {0};
    for (int64_t p = 0; p < a->pixels; p++) {
        direct_pixel(a, coef, p, y);
        for (int ch = 0; ch < a->channels; ch++) {
            double e = y[ch] - t[ch * a->pixels + p];
            loss += scale * e * e;
        }
    }
    return loss;
}

Test(dfm_gen, render_gradient_matches_finite_differences) {
    dfm_gen_arch a;
    cr_assert_eq(dfm_gen_arch_init(&a, 2, 3, 3, 3, 4, 0.5f), NOTA_OK);
    int64_t nc = a.off[a.depth], D = 2 * a.pixels;
    float coef[104], t[24], dcoef[104];
    double cd[104], sse;
    cr_assert_eq(nc, 104);
    nota_rng_fill_normal(9, 0, coef, 104);
    nota_rng_fill_uniform(9, 1, t, 24);
    for (int i = 0; i < 104; i++)
        coef[i] *= 0.3f, cd[i] = coef[i];
    for (int i = 0; i < 24; i++)
        t[i] = 2.0f * t[i] - 1.0f;
    dfm_render *r;
    cr_assert_eq(dfm_render_new(&a, 1, &r), NOTA_OK);
    cr_assert_eq(dfm_render_run(r, 1, coef, t, 1.0f / (float)D, NULL, &sse, dcoef), NOTA_OK);
    for (int k = 0; k < nc; k++) {
        double keep = cd[k], h = 1e-4;
        cd[k] = keep + h;
        double up = ref_image_loss(&a, cd, t, 1.0 / (double)D);
        cd[k] = keep - h;
        double dn = ref_image_loss(&a, cd, t, 1.0 / (double)D);
        cd[k] = keep;
        double fd = (up - dn) / (2.0 * h);
        cr_assert(fabs(fd - dcoef[k]) <= 1e-5 + 1e-3 * fabs(fd),
                  "coefficient %d: analytic %g, finite difference %g", k, (double)dcoef[k], fd);
    }
    dfm_render_free(r);
}

Test(dfm_gen, render_equals_formula) {
    check_render(1);
    check_render(3);
}

/* Each image is rendered by one thread from start to end, so the thread
 * count changes no bit of the outputs, losses or coefficient gradients. */
Test(dfm_gen, threads_change_nothing) {
    dfm_gen_arch a;
    cr_assert_eq(dfm_gen_arch_init(&a, 3, 4, 3, 6, 7, 0.5f), NOTA_OK);
    int64_t n = 7, nc = a.off[a.depth], D = 3 * a.pixels;
    float *coef = malloc((size_t)(n * nc) * 4), *t = malloc((size_t)(n * D) * 4);
    float *y[2], *dc[2];
    double sse[2][7];
    nota_rng_fill_normal(4, 0, coef, (size_t)(n * nc));
    nota_rng_fill_uniform(4, 1, t, (size_t)(n * D));
    for (int k = 0; k < 2; k++) {
        y[k] = malloc((size_t)(n * D) * 4), dc[k] = malloc((size_t)(n * nc) * 4);
        dfm_render *r;
        cr_assert_eq(dfm_render_new(&a, k == 0 ? 1 : 3, &r), NOTA_OK);
        cr_assert_eq(dfm_render_run(r, n, coef, t, 0.01f, y[k], sse[k], dc[k]), NOTA_OK);
        dfm_render_free(r);
    }
    cr_assert_eq(memcmp(y[0], y[1], (size_t)(n * D) * 4), 0);
    cr_assert_eq(memcmp(dc[0], dc[1], (size_t)(n * nc) * 4), 0);
    cr_assert_eq(memcmp(sse[0], sse[1], sizeof sse[0]), 0);
    for (int k = 0; k < 2; k++)
        free(y[k]), free(dc[k]);
    free(coef), free(t);
}

static const nota_plugin *P;
static nota_host H;

static dfm_gen *small_gen(const char **sets, size_t n) {
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(P->options, P->n_options, sets, n, &cfg), NOTA_OK, "%s",
                 nota_last_error());
    dfm_gen *g;
    cr_assert_eq(dfm_gen_new(cfg, &g), NOTA_OK, "%s", nota_last_error());
    nota_config_free(cfg);
    return g;
}

/* Loss of the whole chain in double: decoder MLP (Linear, ReLU, Linear)
 * from the net's current weights, then the direct render, scale·Σ(y − t)². */
static double ref_loss(dfm_gen *g, int64_t n, const double *z, const float *t, double scale) {
    const dfm_gen_arch *a = &g->arch;
    int64_t nc = a->off[a->depth], hid = g->dec_hidden[0], L = g->latent;
    nota_nn_param w1, b1, w2, b2;
    nota_nn_net_param(g->dec, 0, &w1, NULL, 0);
    nota_nn_net_param(g->dec, 1, &b1, NULL, 0);
    nota_nn_net_param(g->dec, 2, &w2, NULL, 0);
    nota_nn_net_param(g->dec, 3, &b2, NULL, 0);
    const float *W1 = nota_tensor_f32(w1.value), *B1 = nota_tensor_f32(b1.value);
    const float *W2 = nota_tensor_f32(w2.value), *B2 = nota_tensor_f32(b2.value);
    double h[64], coef[512], loss = 0.0, y[DFM_GEN_MAX_CHANNELS] = {0};
    for (int64_t i = 0; i < n; i++) {
        for (int64_t u = 0; u < hid; u++) {
            double s = B1[u];
            for (int64_t j = 0; j < L; j++)
                s += (double)W1[u * L + j] * z[i * L + j];
            h[u] = s > 0.0 ? s : 0.0;
        }
        for (int64_t k = 0; k < nc; k++) {
            double s = B2[k];
            for (int64_t u = 0; u < hid; u++)
                s += (double)W2[k * hid + u] * h[u];
            coef[k] = s;
        }
        for (int64_t p = 0; p < a->pixels; p++) {
            direct_pixel(a, coef, p, y);
            for (int ch = 0; ch < a->channels; ch++) {
                double e = y[ch] - t[i * g->dim + ch * a->pixels + p];
                loss += scale * e * e;
            }
        }
    }
    return loss;
}

Test(dfm_gen, gradient_matches_finite_differences) {
    P = test_load_plugin("dfm");
    const char *sets[] = {"latent=3", "dec_hidden=6", "width=3", "depth=3", "coef_std=0.8"};
    dfm_gen *g = small_gen(sets, 5);
    cr_assert_eq(dfm_gen_build(g, 2, 3, 4, 11), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(g->arch.off[g->arch.depth], 2 * 4 * 3 + 2 * 8 * 3 + 2 * 8 * 2);
    int64_t n = 3, D = g->dim, nc = g->arch.off[g->arch.depth];
    float z[9], t[3 * 24], dz[9], *dcoef = malloc((size_t)(n * nc) * sizeof(float));
    double zd[9];
    nota_rng_fill_normal(3, 0, z, 9);
    nota_rng_fill_uniform(3, 1, t, (size_t)(n * D));
    for (int64_t i = 0; i < n * D; i++)
        t[i] = 2.0f * t[i] - 1.0f;
    for (int i = 0; i < 9; i++)
        zd[i] = z[i];
    dfm_render *r;
    cr_assert_eq(dfm_render_new(&g->arch, 2, &r), NOTA_OK);
    double sse = 0.0, scale = 1.0 / (double)(n * D);
    nota_nn_net_zero_grad(g->dec);
    cr_assert_eq(dfm_gen_forward_backward(g, r, n, z, t, (float)scale, NULL, &sse, dcoef, dz),
                 NOTA_OK, "%s", nota_last_error());
    cr_assert_float_eq(sse * scale, ref_loss(g, n, zd, t, scale), 1e-5);
    const double h = 1e-4;
    int checked = 0;
    for (size_t pi = 0; pi < nota_nn_net_param_count(g->dec); pi++) {
        nota_nn_param p;
        nota_nn_net_param(g->dec, pi, &p, NULL, 0);
        float *w = nota_tensor_f32(p.value), *gr = nota_tensor_f32(p.grad);
        for (size_t k = 0; k < nota_tensor_numel(p.value); k++, checked++) {
            float keep = w[k];
            w[k] = keep + (float)h;
            double up = ref_loss(g, n, zd, t, scale);
            w[k] = keep - (float)h;
            double dn = ref_loss(g, n, zd, t, scale);
            w[k] = keep;
            double fd = (up - dn) / (2.0 * h);
            cr_assert(fabs(fd - gr[k]) <= 2e-4 + 2e-3 * fabs(fd),
                      "decoder param %zu[%zu]: analytic %g, finite difference %g", pi, k,
                      (double)gr[k], fd);
        }
    }
    for (int i = 0; i < 9; i++, checked++) {
        zd[i] = z[i] + h;
        double up = ref_loss(g, n, zd, t, scale);
        zd[i] = z[i] - h;
        double dn = ref_loss(g, n, zd, t, scale);
        zd[i] = z[i];
        double fd = (up - dn) / (2.0 * h);
        cr_assert(fabs(fd - dz[i]) <= 2e-4 + 2e-3 * fabs(fd), "z[%d]: analytic %g, fd %g", i,
                  (double)dz[i], fd);
    }
    cr_assert_eq(checked, 3 * 6 + 6 + 6 * 104 + 104 + 9);
    dfm_render_free(r);
    free(dcoef);
    dfm_gen_free(g);
}

/* 48 grey 8×8 images of one bright Gaussian blob at a random centre, in the
 * host's [0, 256) convention: a 2-parameter family a small model can learn. */
static nota_tensor *blobs(int64_t n, uint64_t seed) {
    int64_t shape[4] = {n, 1, 8, 8};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &x), NOTA_OK);
    float c[2 * 64];
    nota_rng_fill_uniform(seed, 0, c, (size_t)(2 * n));
    for (int64_t i = 0; i < n; i++)
        for (int r = 0; r < 8; r++)
            for (int q = 0; q < 8; q++) {
                double dx = q - (1.5 + 4.0 * c[2 * i]), dy = r - (1.5 + 4.0 * c[2 * i + 1]);
                nota_tensor_f32(x)[i * 64 + r * 8 + q] =
                    (float)(20.0 + 215.0 * exp(-(dx * dx + dy * dy) / 4.5));
            }
    return x;
}

static double metric(nota_model *m, const nota_tensor *x, const char *name) {
    nota_metric mt[8];
    size_t k;
    cr_assert_eq(P->eval(m, x, &H, mt, 8, &k), NOTA_OK, "%s", nota_last_error());
    for (size_t i = 0; i < k; i++)
        if (strcmp(mt[i].name, name) == 0) return mt[i].value;
    cr_assert_fail("no metric %s", name);
    return 0.0;
}

/* MSE (data units) of predicting every image by the mean image. */
static double mean_image_mse(const nota_tensor *x) {
    int64_t n = x->shape[0];
    const float *d = nota_tensor_f32(x);
    double s = 0.0;
    for (int64_t p = 0; p < 64; p++) {
        double mu = 0.0;
        for (int64_t i = 0; i < n; i++)
            mu += d[i * 64 + p] / (double)n;
        for (int64_t i = 0; i < n; i++)
            s += (d[i * 64 + p] - mu) * (d[i * 64 + p] - mu);
    }
    return s / (double)(n * 64);
}

static const char *tiny[] = {
    "latent=4",     "enc_hidden=32", "dec_hidden=32,64", "width=3",         "depth=3",
    "gen_batch=8",  "epochs=150",    "gen_lr=3e-3",      "gen_lr_end=3e-4", "lambda=0.01",
    "valid_frac=0", "coef_std=0.3",  "encode_steps=150", "encoder=mlp",     "enc_lr_ratio=1"};

static nota_model *fit_tiny(const nota_tensor *x, bool encoder) {
    P = test_load_plugin("dfm");
    H = test_host(5);
    H.threads = 2;
    if (!encoder) tiny[13] = "encoder=none";
    nota_model *m = test_create(P, tiny, 15, &H);
    tiny[13] = "encoder=mlp";
    cr_assert_eq(P->fit(m, x, NULL, &H), NOTA_OK, "%s", nota_last_error());
    return m;
}

Test(dfm_gen, fit_reconstructs_blobs) {
    nota_tensor *x = blobs(48, 1);
    nota_model *m = fit_tiny(x, true);
    double base = mean_image_mse(x), mse = metric(m, x, "mse");
    cr_log_info("encoder: mse %.2f, mean-image mse %.2f", mse, base);
    cr_assert_lt(mse, 0.01 * base, "encoder: mse %g, mean-image mse %g", mse, base);
    cr_assert_gt(metric(m, x, "psnr_db"), 10.0 * log10(255.0 * 255.0 / (0.01 * base)));
    P->destroy(m);
    nota_tensor_free(x);
}

/* Log lines of a fit, for the early-stopping test. */
static char fit_log[1 << 16];
static void capture(void *ctx, nota_log_level level, const char *msg) {
    (void)ctx, (void)level;
    size_t n = strlen(fit_log);
    snprintf(fit_log + n, sizeof fit_log - n, "%s\n", msg);
}

/* Validation on images unlike the training blobs (dark frames with a bright
 * border) gets worse as the fit specialises: the fit stops after `patience`
 * epochs without a better validation MSE and keeps the best epoch's
 * networks, whose validation MSE eval then reproduces. */
Test(dfm_gen, early_stopping_keeps_the_best_epoch) {
    nota_tensor *x = blobs(48, 4), *v;
    int64_t vs[4] = {8, 1, 8, 8};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, vs, &v), NOTA_OK);
    for (int64_t i = 0; i < 8 * 64; i++) {
        int64_t r = i % 64 / 8, c = i % 8;
        nota_tensor_f32(v)[i] = (r == 0 || r == 7 || c == 0 || c == 7) ? 250.0f : 5.0f;
    }
    P = test_load_plugin("dfm");
    H = test_host(5);
    H.log = capture;
    fit_log[0] = 0;
    const char *sets[] = {"latent=4",    "enc_hidden=32", "dec_hidden=32,64", "width=3",
                          "depth=3",     "gen_batch=8",   "epochs=150",       "patience=2",
                          "gen_lr=3e-3", "coef_std=0.3",  "enc_lr_ratio=1"};
    nota_model *m = test_create(P, sets, 11, &H);
    cr_assert_eq(P->fit(m, x, v, &H), NOTA_OK, "%s", nota_last_error());
    cr_assert(strstr(fit_log, "dfm: early stop after epoch "), "%s", fit_log);
    double best = INFINITY;
    int epochs = 0;
    for (const char *p = strstr(fit_log, "valid mse "); p; p = strstr(p + 1, "valid mse ")) {
        best = fmin(best, strtod(p + 10, NULL));
        epochs++;
    }
    cr_log_info("early stop: %d epochs, best validation mse %.5f", epochs, best);
    cr_assert_lt(epochs, 150);
    H.log = NULL;
    double got = metric(m, v, "mse_unit");
    cr_assert(fabs(got - best) <= 1e-5, "eval %g, best logged validation mse %g", got, best);
    P->destroy(m);
    nota_tensor_free(x);
    nota_tensor_free(v);
}

/* Finite but enormous values (3e38) overflow the networks to Inf/NaN: the
 * fit stops at the first epoch with an error and keeps no model. */
Test(dfm_gen, non_finite_loss_stops_the_fit) {
    nota_tensor *x = blobs(16, 6);
    for (int64_t i = 0; i < 16 * 64; i++)
        nota_tensor_f32(x)[i] = 3.0e38f;
    P = test_load_plugin("dfm");
    H = test_host(5);
    nota_model *m = test_create(P, tiny, 15, &H);
    cr_assert_eq(P->fit(m, x, NULL, &H), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(),
                     "dfm: fit diverged at epoch 1 (non-finite loss); no model kept");
    int64_t shape[NOTA_MAX_DIMS];
    cr_assert_eq(P->data_shape(m, shape), 0);
    P->destroy(m);
    nota_tensor_free(x);
}

Test(dfm_gen, fit_without_encoder) {
    nota_tensor *x = blobs(48, 1);
    nota_model *m = fit_tiny(x, false);
    double base = mean_image_mse(x), mse = metric(m, x, "mse");
    cr_log_info("no encoder: mse %.2f, mean-image mse %.2f", mse, base);
    cr_assert_lt(mse, 0.05 * base, "no encoder: mse %g, mean-image mse %g", mse, base);
    P->destroy(m);
    nota_tensor_free(x);
}

static nota_tensor *decode_of(nota_model *m, const nota_tensor *z) {
    nota_tensor *y;
    cr_assert_eq(P->decode(m, z, &H, &y), NOTA_OK, "%s", nota_last_error());
    return y;
}

Test(dfm_gen, save_load_decodes_bit_for_bit, .init = setup, .fini = teardown) {
    nota_tensor *x = blobs(48, 2);
    nota_model *m = fit_tiny(x, true);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("dfm", P->version, &mf), NOTA_OK);
    cr_assert_eq(P->save(m, mf), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_save(mf, in_dir("g.nota")), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_load(in_dir("g.nota"), NULL, &mf), NOTA_OK, "%s",
                 nota_last_error());
    nota_model *m2;
    cr_assert_eq(P->load(mf, &H, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    int64_t shape[NOTA_MAX_DIMS];
    cr_assert_eq(P->data_shape(m2, shape), 3);
    cr_assert(shape[0] == 1 && shape[1] == 8 && shape[2] == 8);
    cr_assert_eq(P->code_shape(m2, shape), 1);
    cr_assert_eq(shape[0], 4);
    nota_tensor *z, *z2;
    cr_assert_eq(P->encode(m, x, &H, &z), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(P->encode(m2, x, &H, &z2), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(nota_tensor_f32(z), nota_tensor_f32(z2), 48 * 4 * sizeof(float)), 0);
    nota_tensor *y = decode_of(m, z), *y2 = decode_of(m2, z);
    cr_assert_eq(memcmp(nota_tensor_f32(y), nota_tensor_f32(y2), 48 * 64 * sizeof(float)), 0);
    nota_tensor *s1, *s2;
    cr_assert_eq(P->sample(m, 6, 0.5, &H, &s1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(P->sample(m2, 6, 0.5, &H, &s2), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(nota_tensor_f32(s1), nota_tensor_f32(s2), 6 * 64 * sizeof(float)), 0);
    for (int i = 0; i < 6 * 64; i++)
        cr_assert(nota_tensor_f32(s1)[i] >= 0.0f && nota_tensor_f32(s1)[i] <= 256.0f);
    /* A forged data shape: refused before any network is built, naming the
     * tensor whose shape the config then contradicts. */
    cr_assert_eq(nota_modelfile_load(in_dir("g.nota"), NULL, &mf), NOTA_OK);
    const nota_tensor *ds;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "data_shape", &ds), NOTA_OK);
    nota_model *m3 = NULL;
    nota_tensor_f32(ds)[1] = 9.0f;
    cr_assert_eq(P->load(mf, &H, &m3), NOTA_EFORMAT);
    cr_assert_str_eq(nota_last_error(),
                     "dfm model: tensor 'enc.0.weight' is (32, 64), the config needs f32 (32, 72)");
    nota_tensor_f32(ds)[1] = 2.5f;
    cr_assert_eq(P->load(mf, &H, &m3), NOTA_EFORMAT);
    cr_assert_str_eq(nota_last_error(),
                     "dfm model: data_shape[1] = 2.5 is not an integer in 1..65535");
    cr_assert_null(m3);
    nota_modelfile_free(mf);
    nota_tensor *all[] = {z, z2, y, y2, s1, s2, x};
    for (int i = 0; i < 7; i++)
        nota_tensor_free(all[i]);
    P->destroy(m);
    P->destroy(m2);
}

Test(dfm_gen, bad_inputs_refused) {
    nota_tensor *x = blobs(16, 3);
    tiny[6] = "epochs=1";
    nota_model *m = fit_tiny(x, true);
    tiny[6] = "epochs=150";
    nota_tensor *t, *out = NULL;
    int64_t s4[4] = {2, 1, 8, 9}, s2[2] = {2, 5};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, s4, &t), NOTA_OK);
    cr_assert_eq(P->encode(m, t, &H, &out), NOTA_ESHAPE);
    cr_assert_str_eq(
        nota_last_error(),
        "dfm: encode data (2, 1, 8, 9) does not match the model's images (N, 1, 8, 8)");
    cr_assert_null(out);
    nota_tensor_free(t);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s2, &t), NOTA_OK);
    cr_assert_eq(P->decode(m, t, &H, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "dfm: decode codes (2, 5) do not match the model's codes (N, 4)");
    cr_assert_eq(P->fit(m, t, NULL, &H), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "dfm: fit data needs f32 images (N, C, H, W), got (2, 5)");
    nota_tensor_free(t);
    /* Refused data leave the fitted model as it was. */
    cr_assert_eq(P->sample(m, 2, 1.0, &H, &out), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(out);
    nota_model *fresh = test_create(P, tiny, 15, &H);
    cr_assert_eq(P->sample(fresh, 2, 1.0, &H, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "dfm: sample needs a fitted generation model");
    P->destroy(fresh);
    const char *bad[] = {"dec_hidden=64,x"};
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(P->options, P->n_options, bad, 1, &cfg), NOTA_OK);
    nota_model *m2 = NULL;
    cr_assert_eq(P->create(cfg, &H, &m2), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "dfm: option dec_hidden='64,x': expected 1..8 "
                                        "comma-separated sizes in 1..65536");
    nota_config_free(cfg);
    P->destroy(m);
    nota_tensor_free(x);
}
