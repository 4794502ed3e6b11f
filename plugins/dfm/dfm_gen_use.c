/* Generation mode, part 3: using a fitted model (dfm_gen.h) — codes by the
 * encoder or by optimisation (encoder=none), decoding, sampling from
 * N(0, σ²I), reconstruction metrics, and the model file (config, the data
 * shape and both MLPs; the encoder-free variant's training embeddings are
 * not kept: `encode` recomputes codes).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_gen.h"

static nota_status check_fitted(const dfm_gen *g, const char *what) {
    if (!g->dec) return nota_error(NOTA_EINVAL, "dfm: %s needs a fitted generation model", what);
    return NOTA_OK;
}

nota_status dfm_gen_optimise_codes(dfm_gen *g, dfm_render *r, int64_t n, const float *t,
                                   int64_t steps, float *z, const nota_host *host) {
    int64_t L = g->latent, D = g->dim, ncoef = g->arch.off[g->arch.depth];
    float *m = calloc((size_t)(n * L), sizeof(float)), *v = calloc((size_t)(n * L), sizeof(float));
    float *dz = malloc((size_t)(n * L) * sizeof(float));
    float *dcoef = malloc((size_t)(n * ncoef) * sizeof(float));
    nota_status st = NOTA_OK;
    if (!m || !v || !dz || !dcoef)
        st = nota_error(NOTA_ENOMEM, "dfm: cannot allocate code optimisation for %lld items",
                        (long long)n);
    const float b1 = 0.9f, b2 = 0.999f, lr = (float)g->encode_lr,
                c = 2.0f * (float)g->lambda / (float)n;
    for (int64_t s = 1; s <= steps && !st; s++) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED, "dfm: encode cancelled");
            break;
        }
        double sse;
        nota_nn_net_zero_grad(g->dec);
        st = dfm_gen_forward_backward(g, r, n, z, t, 1.0f / (float)(n * D), NULL, &sse, dcoef, dz);
        float c1 = 1.0f - powf(b1, (float)s), c2 = 1.0f - powf(b2, (float)s);
        for (int64_t i = 0; i < n * L && !st; i++) {
            float gi = dz[i] + c * z[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            z[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + 1e-8f);
        }
    }
    nota_nn_net_zero_grad(g->dec);
    free(m), free(v), free(dz), free(dcoef);
    return st;
}

/* Codes of n target rows t (n, D) into z (n, L). */
static nota_status codes_of(dfm_gen *g, dfm_render *r, int64_t n, const float *t, float *z,
                            const nota_host *host) {
    if (!g->encoder) {
        memset(z, 0, (size_t)(n * g->latent) * sizeof(float));
        return dfm_gen_optimise_codes(g, r, n, t, g->encode_steps, z, host);
    }
    int64_t ts[2] = {n, g->dim};
    nota_tensor *tt;
    const nota_tensor *zt;
    nota_status st = nota_tensor_wrap(NOTA_F32, 2, ts, (void *)t, &tt);
    if (!st) st = nota_nn_net_forward(g->enc, tt, &zt);
    if (!st) memcpy(z, nota_tensor_f32(zt), (size_t)(n * g->latent) * sizeof(float));
    nota_tensor_free(tt);
    return st;
}

/* Runs fn over the rows of x in chunks of the batch size. */
typedef nota_status (*chunk_fn)(dfm_gen *g, dfm_render *r, int64_t first, int64_t n, const float *t,
                                float *z, void *ctx, const nota_host *host);

static nota_status chunks(dfm_gen *g, const float *x, const int64_t *idx, int64_t n,
                          const nota_host *host, chunk_fn fn, void *ctx) {
    int64_t B = g->batch, D = g->dim;
    dfm_render *r = NULL;
    float *t = malloc((size_t)(B * D) * sizeof(float)),
          *z = malloc((size_t)(B * g->latent) * sizeof(float));
    nota_status st = !t || !z ? nota_error(NOTA_ENOMEM, "dfm: cannot allocate a batch")
                              : dfm_render_new(&g->arch, host ? host->threads : 1, &r);
    for (int64_t f = 0; f < n && !st; f += B) {
        int64_t m = n - f < B ? n - f : B;
        for (int64_t i = 0; i < m; i++)
            dfm_gen_targets(x + (idx ? idx[f + i] : f + i) * D, D, t + i * D);
        st = fn(g, r, f, m, t, z, ctx, host);
    }
    dfm_render_free(r);
    free(t), free(z);
    return st;
}

static nota_status sse_chunk(dfm_gen *g, dfm_render *r, int64_t first, int64_t n, const float *t,
                             float *z, void *ctx, const nota_host *host) {
    (void)first;
    double s = 0.0;
    nota_status st = codes_of(g, r, n, t, z, host);
    if (!st) st = dfm_gen_forward_backward(g, r, n, z, t, 1.0f, NULL, &s, NULL, NULL);
    *(double *)ctx += s;
    return st;
}

nota_status dfm_gen_recon_sse(dfm_gen *g, const float *x, const int64_t *idx, int64_t n,
                              const nota_host *host, double *sse) {
    *sse = 0.0;
    return chunks(g, x, idx, n, host, sse_chunk, sse);
}

static nota_status check_images(const dfm_gen *g, const nota_tensor *x, const char *what) {
    nota_status st = check_fitted(g, what);
    if (st) return st;
    const dfm_gen_arch *a = &g->arch;
    if (x->dtype != NOTA_F32 || x->ndim != 4 || x->shape[1] != a->channels || x->shape[2] != a->h ||
        x->shape[3] != a->w) {
        char buf[64];
        return nota_error(NOTA_ESHAPE,
                          "dfm: %s data %s does not match the model's images (N, %d, "
                          "%lld, %lld)",
                          what, nota_shape_str(x->ndim, x->shape, buf, sizeof buf), a->channels,
                          (long long)a->h, (long long)a->w);
    }
    return nota_tensor_check_finite(x, what);
}

static nota_status encode_chunk(dfm_gen *g, dfm_render *r, int64_t first, int64_t n, const float *t,
                                float *z, void *ctx, const nota_host *host) {
    nota_status st = codes_of(g, r, n, t, z, host);
    if (!st) memcpy((float *)ctx + first * g->latent, z, (size_t)(n * g->latent) * sizeof(float));
    return st;
}

nota_status dfm_gen_encode(dfm_gen *g, const nota_tensor *x, const nota_host *host,
                           nota_tensor **out) {
    *out = NULL;
    nota_status st = check_images(g, x, "encode");
    if (st) return st;
    int64_t n = x->shape[0];
    st = nota_tensor_new_2d(n, g->latent, out);
    if (!st) st = chunks(g, nota_tensor_f32(x), NULL, n, host, encode_chunk, nota_tensor_f32(*out));
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

nota_status dfm_gen_decode(dfm_gen *g, const nota_tensor *z, const nota_host *host,
                           nota_tensor **out) {
    *out = NULL;
    nota_status st = check_fitted(g, "decode");
    if (st) return st;
    if (z->dtype != NOTA_F32 || z->ndim != 2 || z->shape[1] != g->latent) {
        char buf[64];
        return nota_error(NOTA_ESHAPE,
                          "dfm: decode codes %s do not match the model's codes "
                          "(N, %lld)",
                          nota_shape_str(z->ndim, z->shape, buf, sizeof buf), (long long)g->latent);
    }
    st = nota_tensor_check_finite(z, "decode codes");
    if (st) return st;
    const dfm_gen_arch *a = &g->arch;
    int64_t n = z->shape[0], B = g->batch, L = g->latent, D = g->dim;
    int64_t shape[4] = {n, a->channels, a->h, a->w};
    dfm_render *r = NULL;
    float *zb = malloc((size_t)(B * L) * sizeof(float));
    st = zb ? nota_tensor_new(NOTA_F32, 4, shape, out)
            : nota_error(NOTA_ENOMEM, "dfm: cannot allocate a batch of codes");
    if (!st) st = dfm_render_new(a, host ? host->threads : 1, &r);
    float *y = st ? NULL : nota_tensor_f32(*out);
    for (int64_t f = 0; f < n && !st; f += B) {
        int64_t m = n - f < B ? n - f : B;
        memcpy(zb, nota_tensor_f32(z) + f * L, (size_t)(m * L) * sizeof(float));
        st = dfm_gen_forward_backward(g, r, m, zb, NULL, 1.0f, y + f * D, NULL, NULL, NULL);
    }
    for (int64_t i = 0; i < n * D && !st; i++)
        y[i] = (y[i] + 1.0f) * 128.0f;
    dfm_render_free(r);
    free(zb);
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

nota_status dfm_gen_sample(dfm_gen *g, int64_t n, double temperature, const nota_host *host,
                           nota_tensor **out) {
    *out = NULL;
    nota_status st = check_fitted(g, "sample");
    if (st) return st;
    if (n < 1 || !isfinite(temperature) || temperature < 0.0)
        return nota_error(NOTA_EINVAL,
                          "dfm: sample needs n >= 1 and temperature >= 0, got %lld "
                          "and %g",
                          (long long)n, temperature);
    nota_tensor *z;
    st = nota_tensor_new_2d(n, g->latent, &z);
    if (st) return st;
    /* sigma 0: the scale the fitted codes have (λ shrinks them far below 1). */
    double sigma = g->sigma > 0.0 ? g->sigma : g->code_rms;
    float *zd = nota_tensor_f32(z), s = (float)(sigma * temperature);
    nota_rng_fill_normal(host ? host->seed : 0, 500, zd, (size_t)(n * g->latent));
    for (int64_t i = 0; i < n * g->latent; i++)
        zd[i] *= s;
    st = dfm_gen_decode(g, z, host, out);
    nota_tensor_free(z);
    return st;
}

nota_status dfm_gen_eval(dfm_gen *g, const nota_tensor *x, const nota_host *host, nota_metric *out,
                         size_t cap, size_t *n) {
    *n = 0;
    nota_status st = check_images(g, x, "eval");
    if (st) return st;
    double sse;
    st = dfm_gen_recon_sse(g, nota_tensor_f32(x), NULL, x->shape[0], host, &sse);
    if (st) return st;
    double mu = sse / (double)(x->shape[0] * g->dim), md = mu * 128.0 * 128.0;
    const nota_metric all[3] = {
        {"mse", md}, {"psnr_db", 10.0 * log10(255.0 * 255.0 / md)}, {"mse_unit", mu}};
    for (size_t i = 0; i < 3 && i < cap; i++)
        out[(*n)++] = all[i];
    return NOTA_OK;
}
