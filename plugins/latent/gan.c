/* The GAN of latent kind `gan` (Goodfellow et al.; Angles & Mallat's
 * generator of whitened codes uses noise H = 64 and fully connected nets).
 *
 * Generator G: H → …hidden reversed → d, ReLU, linear output in standardised
 * data units (each column mean 0, sd 1; constant columns map to 0). The
 * discriminator D: d → …hidden → 1 logit, LeakyReLU(0.2). Losses are the
 * non-saturating ones: D minimises BCE(D(x), 1 − s) + BCE(D(G(z)), 0) with
 * one-sided label smoothing s (option label_smoothing), G minimises
 * BCE(D(G(z)), 1). Optional stabiliser: clipping D's weights to [−c, c]
 * after each step (option clip; 0 = off). G steps once every d_steps
 * discriminator steps. Both use Adam with β1 = gan_beta1 (0.5 is usual).
 * A GAN has no validation loss worth stopping on, so it trains all epochs;
 * a non-finite loss or a cancel stops the fit and leaves the model unfitted.
 */
#include "gan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_INIT 0x8000u
#define STREAM_EPOCH 0x9000u /* + epoch: shuffle */
#define STREAM_ZD 0x200000u  /* + epoch: noise for D steps */
#define STREAM_ZG 0x300000u  /* + epoch: noise for G steps */
#define STREAM_SAMPLE 0xa000u
#define CHUNK 1024

nota_status gan_new(const nota_config *cfg, gan **out) {
    *out = NULL;
    gan *g = calloc(1, sizeof *g);
    if (!g) return nota_error(NOTA_ENOMEM, "gan: allocation failed");
    const char *hidden = NULL;
    nota_status st = nota_config_get_int(cfg, "latent", &g->latent);
    if (!st) st = nota_config_get_int(cfg, "batch", &g->batch);
    if (!st) st = nota_config_get_int(cfg, "epochs", &g->epochs);
    if (!st) st = nota_config_get_int(cfg, "d_steps", &g->d_steps);
    if (!st) st = nota_config_get_float(cfg, "lr", &g->lr);
    if (!st) st = nota_config_get_float(cfg, "gan_beta1", &g->beta1);
    if (!st) st = nota_config_get_float(cfg, "label_smoothing", &g->smooth);
    if (!st) st = nota_config_get_float(cfg, "clip", &g->clip);
    if (!st) st = nota_config_get_string(cfg, "hidden", &hidden);
    if (st) nota_error_prefix(st, "gan config: ");
    if (!st) st = lat_parse_hidden("gan", hidden, g->hidden, &g->n_hidden);
    if (st) {
        free(g);
        return st;
    }
    *out = g;
    return NOTA_OK;
}

void gan_release(gan *g) {
    nota_nn_net_free(g->gen);
    nota_nn_net_free(g->disc);
    g->gen = g->disc = NULL;
    lat_items_release(&g->items);
}

void gan_free(gan *g) {
    if (!g) return;
    gan_release(g);
    free(g);
}

nota_status gan_build(gan *g, uint64_t seed) {
    nota_status st = lat_mlp_new(g->latent, g->hidden, g->n_hidden, true, g->items.d, NOTA_NN_RELU,
                                 0, seed, STREAM_INIT, &g->gen);
    if (!st)
        st = lat_mlp_new(g->items.d, g->hidden, g->n_hidden, false, 1, NOTA_NN_LEAKY_RELU, 0.2f,
                         seed, STREAM_INIT + 64, &g->disc);
    if (st) {
        nota_nn_net_free(g->gen);
        g->gen = NULL;
    }
    return st;
}

static void clip_weights(nota_nn_net *net, float c) {
    size_t np = nota_nn_net_param_count(net);
    for (size_t i = 0; i < np; i++) {
        nota_nn_param p;
        if (nota_nn_net_param(net, i, &p, NULL, 0) || !p.trainable) continue;
        float *w = nota_tensor_f32(p.value);
        for (size_t j = 0; j < nota_tensor_numel(p.value); j++)
            w[j] = w[j] > c ? c : w[j] < -c ? -c : w[j];
    }
}

/* Work tensors for a full batch; shorter batches use row views. */
enum { W_X, W_Z, W_REAL, W_FAKE, W_ONE, W_G, W_N };

typedef struct trainer {
    gan *g;
    nota_nn_optim *od, *og;
    nota_tensor *t[W_N];
    uint64_t seed;
} trainer;

/* BCE of D's logits on x against target; D's grads accumulate. */
static nota_status d_term(trainer *tr, nota_tensor *const *v, const nota_tensor *x,
                          const nota_tensor *target, double *loss, const nota_tensor **dx) {
    const nota_tensor *logit;
    nota_status st = nota_nn_net_forward(tr->g->disc, x, &logit);
    if (!st) st = nota_nn_loss_bce_logits(logit, target, NOTA_NN_MEAN, loss, v[W_G]);
    if (!st) st = nota_nn_net_backward(tr->g->disc, v[W_G], dx);
    return st;
}

/* One discriminator step on real rows v[W_X], and (when g_step) one
 * generator step; losses out. */
static nota_status batch(trainer *tr, int64_t m, int64_t e, int64_t b0, bool g_step, double *dl,
                         double *gl) {
    gan *g = tr->g;
    nota_tensor *v[W_N];
    nota_status st = lat_views(tr->t, v, W_N, m);
    if (st) return st;
    const nota_tensor *fake, *dfake;
    double lr = 0, lf = 0;
    size_t nz = (size_t)(m * g->latent), off = (size_t)b0 * (size_t)g->latent;
    nota_rng_fill_normal_range(tr->seed, STREAM_ZD + (uint64_t)e, off, nota_tensor_f32(v[W_Z]), nz);
    nota_nn_optim_zero_grad(tr->od);
    st = d_term(tr, v, v[W_X], v[W_REAL], &lr, NULL);
    if (!st) st = nota_nn_net_forward(g->gen, v[W_Z], &fake);
    if (!st) st = d_term(tr, v, fake, v[W_FAKE], &lf, NULL);
    if (!st) st = nota_nn_optim_step(tr->od);
    if (!st && g->clip > 0) clip_weights(g->disc, (float)g->clip);
    *dl = lr + lf;
    *gl = NAN;
    if (!st && g_step) {
        nota_rng_fill_normal_range(tr->seed, STREAM_ZG + (uint64_t)e, off, nota_tensor_f32(v[W_Z]),
                                   nz);
        nota_nn_optim_zero_grad(tr->og);
        st = nota_nn_net_forward(g->gen, v[W_Z], &fake);
        if (!st) st = d_term(tr, v, fake, v[W_ONE], gl, &dfake);
        if (!st) st = nota_nn_net_backward(g->gen, dfake, NULL);
        if (!st) st = nota_nn_optim_step(tr->og);
    }
    lat_views_free(v, W_N);
    return st;
}

static nota_status trainer_new(trainer *tr, gan *g, int64_t rows, uint64_t seed) {
    memset(tr, 0, sizeof *tr);
    tr->g = g;
    tr->seed = seed;
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    ao.schedule.lr = (float)g->lr;
    ao.beta1 = (float)g->beta1;
    int64_t cols[W_N] = {g->items.d, g->latent, 1, 1, 1, 1};
    nota_status st = nota_nn_adam_new(&ao, &tr->od);
    if (!st) st = nota_nn_adam_new(&ao, &tr->og);
    if (!st) st = nota_nn_optim_add_net(tr->od, g->disc);
    if (!st) st = nota_nn_optim_add_net(tr->og, g->gen);
    for (int i = 0; i < W_N && !st; i++)
        st = nota_tensor_new_2d(rows, cols[i], &tr->t[i]);
    if (st) return st;
    for (int64_t i = 0; i < rows; i++) {
        nota_tensor_f32(tr->t[W_REAL])[i] = (float)(1.0 - g->smooth);
        nota_tensor_f32(tr->t[W_FAKE])[i] = 0.0f;
        nota_tensor_f32(tr->t[W_ONE])[i] = 1.0f;
    }
    return NOTA_OK;
}

static void trainer_free(trainer *tr) {
    nota_nn_optim_free(tr->od);
    nota_nn_optim_free(tr->og);
    for (int i = 0; i < W_N; i++)
        nota_tensor_free(tr->t[i]);
}

static nota_status train_loop(gan *g, const nota_tensor *train, const nota_host *host,
                              uint64_t seed) {
    int64_t n = train->shape[0], rows = n < g->batch ? n : g->batch;
    trainer tr;
    int64_t *order = malloc((size_t)n * sizeof *order);
    nota_status st = trainer_new(&tr, g, rows, seed);
    if (!st && !order) st = nota_error(NOTA_ENOMEM, "gan fit: out of memory");
    for (int64_t e = 0; e < g->epochs && !st; e++) {
        lat_permute(seed, STREAM_EPOCH + (uint64_t)e, n, order);
        double dsum = 0, gsum = 0;
        int64_t nb = 0, ng = 0;
        for (int64_t b0 = 0; b0 < n && !st; b0 += rows, nb++) {
            if (nota_cancelled(host)) {
                st = nota_error(NOTA_ECANCELED, "gan fit: cancelled at epoch %lld; no model kept",
                                (long long)e + 1);
                break;
            }
            int64_t m = n - b0 < rows ? n - b0 : rows;
            lat_items_gather(&g->items, nota_tensor_f32(train), order + b0, 0, m, false,
                             nota_tensor_f32(tr.t[W_X]));
            double dl = NAN, gl = NAN;
            bool g_step = (nb + 1) % g->d_steps == 0;
            st = batch(&tr, m, e, b0, g_step, &dl, &gl);
            if (!st && (!isfinite(dl) || (g_step && !isfinite(gl))))
                st = nota_error(NOTA_ENUMERIC,
                                "gan fit: loss is not finite (D %g, G %g) at epoch "
                                "%lld, batch %lld; no model kept (try a smaller lr than %g)",
                                dl, gl, (long long)e + 1, (long long)nb + 1, g->lr);
            dsum += dl;
            if (g_step) {
                gsum += gl;
                ng++;
            }
        }
        if (st) break;
        char detail[128];
        snprintf(detail, sizeof detail, "D loss %.4f, G loss %.4f", dsum / (double)nb,
                 ng ? gsum / (double)ng : NAN);
        nota_progress(host, "gan epoch", (double)(e + 1), (double)g->epochs, detail);
        nota_log(host, NOTA_LOG_INFO, "gan: epoch %lld/%lld %s", (long long)e + 1,
                 (long long)g->epochs, detail);
    }
    free(order);
    trainer_free(&tr);
    return st;
}

nota_status gan_fit(gan *g, const nota_tensor *train, const nota_tensor *valid,
                    const nota_host *host) {
    if (!nota_tensor_f32(train) || train->ndim < 2)
        return nota_error(NOTA_EINVAL,
                          "gan fit: expected f32 data (N, ...), found %s with %d "
                          "dimension(s)",
                          nota_dtype_name(train->dtype), train->ndim);
    if (train->shape[0] < 2)
        return nota_error(NOTA_EINVAL, "gan fit: need at least 2 items, got %lld",
                          (long long)train->shape[0]);
    nota_status st = nota_tensor_check_finite(train, "gan fit: training data");
    if (st) return st;
    if (valid)
        nota_log(host, NOTA_LOG_INFO, "gan: validation data is not used (no early stopping)");
    uint64_t seed = host ? host->seed : 0;
    gan_release(g);
    st = lat_items_fit_standard(&g->items, train, "gan fit");
    if (!st) st = gan_build(g, seed);
    if (!st) st = train_loop(g, train, host, seed);
    if (st) gan_release(g);
    return st;
}

nota_status gan_fitted(const gan *g, const char *what) {
    return g->gen ? NOTA_OK
                  : nota_error(NOTA_EINVAL,
                               "gan %s: the model is not fitted (fit or load it first)", what);
}

/* G(z) for n codes (n × latent) → (n, item shape) in data units. */
nota_status gan_generate(gan *g, float *z, int64_t n, nota_tensor **out) {
    int64_t d = g->items.d, h = g->latent;
    float *y = malloc((size_t)n * (size_t)d * sizeof *y);
    nota_status st =
        y ? NOTA_OK : nota_error(NOTA_ENOMEM, "gan: cannot allocate %lld items", (long long)n);
    for (int64_t r0 = 0; r0 < n && !st; r0 += CHUNK) {
        int64_t m = n - r0 < CHUNK ? n - r0 : CHUNK, shape[2] = {m, h};
        nota_tensor *t;
        const nota_tensor *o;
        if ((st = nota_tensor_wrap(NOTA_F32, 2, shape, z + r0 * h, &t))) break;
        st = nota_nn_net_forward(g->gen, t, &o);
        if (!st) memcpy(y + r0 * d, nota_tensor_f32(o), (size_t)(m * d) * sizeof *y);
        nota_tensor_free(t);
    }
    if (!st) st = lat_items_output(&g->items, y, n, out);
    free(y);
    return st;
}

nota_status gan_sample(gan *g, int64_t n, double temperature, const nota_host *host,
                       nota_tensor **out) {
    *out = NULL;
    nota_status st = gan_fitted(g, "sample");
    if (st) return st;
    if (n < 1) return nota_error(NOTA_EINVAL, "gan sample: n must be >= 1, got %lld", (long long)n);
    float *z = malloc((size_t)n * (size_t)g->latent * sizeof *z);
    if (!z) return nota_error(NOTA_ENOMEM, "gan sample: cannot allocate %lld codes", (long long)n);
    nota_rng_fill_normal(host ? host->seed : 0, STREAM_SAMPLE, z, (size_t)(n * g->latent));
    for (int64_t i = 0; i < n * g->latent; i++)
        z[i] *= (float)temperature;
    st = gan_generate(g, z, n, out);
    free(z);
    return st;
}

nota_status gan_decode(gan *g, const nota_tensor *z, nota_tensor **out) {
    *out = NULL;
    nota_status st = gan_fitted(g, "decode");
    if (st) return st;
    if (!nota_tensor_f32(z) || z->ndim != 2 || z->shape[1] != g->latent) {
        char b[96];
        return nota_error(NOTA_ESHAPE, "gan decode: expected f32 noise (N, %lld), found %s %s",
                          (long long)g->latent, nota_dtype_name(z->dtype),
                          nota_shape_str(z->ndim, z->shape, b, sizeof b));
    }
    if ((st = nota_tensor_check_finite(z, "gan decode: noise"))) return st;
    return gan_generate(g, nota_tensor_f32(z), z->shape[0], out);
}
