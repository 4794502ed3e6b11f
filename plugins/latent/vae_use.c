/* Using a fitted VAE (latent kind `vae`): sample, encode (posterior mean),
 * decode (decoder mean), the importance-weighted log-likelihood, eval, save
 * and load.
 *
 * Units: for the Gaussian decoder every density is in nats per item in the
 * data's own units (the per-column standardisation's log-Jacobian is added
 * back), so it compares with the `gaussian` kind's log_prob and gives bits/dim
 * as nll / (d ln 2). For the Bernoulli decoder the ELBO is a cross-entropy on
 * data mapped to [0, 1] (x / 256 for 8-bit images): nats per item, not a
 * density of the continuous data, so log_prob is not offered there.
 *
 * The importance-weighted estimate (Burda et al.) with k samples per item,
 *   log p(x) ≈ logsumexp_s [log p(x|z_s) + log p(z_s) − log q(z_s|x)] − log k,
 * is a lower bound that tightens as k grows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vae.h"

#define CHUNK 1024
#define IW_ROWS 4096 /* decoder rows per importance-sampling chunk */
#define STREAM_SAMPLE 0x5000u
#define STREAM_SAMPLE_NOISE 0x5001u
#define STREAM_IW 0x6000u
#define STREAM_EVAL 0x7000u
#define LOG2PI 1.8378770664093453

static nota_status fitted(const vae *v, const char *what) {
    return v->dec ? NOTA_OK
                  : nota_error(NOTA_EINVAL,
                               "vae %s: the model is not fitted (fit or load it first)", what);
}

/* Forward rows [0, m) of buf (m × cols) through net; y borrowed from net. */
static nota_status run(nota_nn_net *net, float *buf, int64_t m, int64_t cols, nota_tensor **hold,
                       const nota_tensor **y) {
    int64_t shape[2] = {m, cols};
    nota_status st = nota_tensor_wrap(NOTA_F32, 2, shape, buf, hold);
    return st ? st : nota_nn_net_forward(net, *hold, y);
}

/* Clamped per-column decoder log-variance (Gaussian decoder). */
static nota_status decoder_logvar(vae *v, double *lv) {
    float one = 1.0f;
    nota_tensor *t;
    const nota_tensor *y;
    nota_status st = run(v->logvar, &one, 1, 1, &t, &y);
    if (!st)
        for (int64_t j = 0; j < v->items.d; j++) {
            double l = nota_tensor_f32(y)[j];
            lv[j] = l < VAE_LOGVAR_MIN ? VAE_LOGVAR_MIN : l;
        }
    nota_tensor_free(t);
    return st;
}

/* Decoder means (network units) of n codes z (n × H) into y (n × d); with
 * noise, a draw from p(x|z) instead, rows numbered from `first` in the noise
 * stream. */
static nota_status decode_rows(vae *v, const float *z, int64_t n, bool noise, uint64_t seed,
                               int64_t first, float *y) {
    int64_t d = v->items.d, h = v->latent;
    double *lv = NULL;
    float *buf = malloc((size_t)(n < CHUNK ? n : CHUNK) * (size_t)(d > h ? d : h) * sizeof *buf);
    nota_status st = buf ? NOTA_OK : nota_error(NOTA_ENOMEM, "vae decode: out of memory");
    if (!st && noise && !v->bernoulli) {
        lv = malloc((size_t)d * sizeof *lv);
        st = lv ? decoder_logvar(v, lv) : nota_error(NOTA_ENOMEM, "vae decode: out of memory");
    }
    for (int64_t r0 = 0; r0 < n && !st; r0 += CHUNK) {
        int64_t m = n - r0 < CHUNK ? n - r0 : CHUNK;
        nota_tensor *t;
        const nota_tensor *out;
        memcpy(buf, z + r0 * h, (size_t)(m * h) * sizeof *buf);
        st = run(v->dec, buf, m, h, &t, &out);
        if (!st) {
            const float *o = nota_tensor_f32(out);
            float *yy = y + r0 * d;
            if (noise)
                (v->bernoulli ? nota_rng_fill_uniform_range : nota_rng_fill_normal_range)(
                    seed, STREAM_SAMPLE_NOISE, (size_t)(first + r0) * (size_t)d, yy,
                    (size_t)(m * d));
            for (int64_t i = 0; i < m * d; i++) {
                float mean = v->bernoulli ? 1.0f / (1.0f + expf(-o[i])) : o[i];
                if (!noise)
                    yy[i] = mean;
                else if (v->bernoulli)
                    yy[i] = yy[i] < mean ? 1.0f : 0.0f;
                else
                    yy[i] = mean + (float)exp(0.5 * lv[i % d]) * yy[i];
            }
        }
        nota_tensor_free(t);
    }
    free(buf);
    free(lv);
    return st;
}

nota_status vae_sample(vae *v, int64_t n, double temperature, const nota_host *host,
                       nota_tensor **out) {
    *out = NULL;
    nota_status st = fitted(v, "sample");
    if (st) return st;
    if (n < 1) return nota_error(NOTA_EINVAL, "vae sample: n must be >= 1, got %lld", (long long)n);
    uint64_t seed = host ? host->seed : 0;
    int64_t h = v->latent, d = v->items.d;
    float *z = malloc((size_t)n * (size_t)h * sizeof *z);
    float *y = malloc((size_t)n * (size_t)d * sizeof *y);
    if (!z || !y) {
        st = nota_error(NOTA_ENOMEM, "vae sample: cannot allocate %lld samples", (long long)n);
    } else {
        nota_rng_fill_normal(seed, STREAM_SAMPLE, z, (size_t)n * (size_t)h);
        for (int64_t i = 0; i < n * h; i++)
            z[i] *= (float)temperature;
        st = decode_rows(v, z, n, v->sample_noise, seed, 0, y);
        if (!st) st = lat_items_output(&v->items, y, n, out);
    }
    free(z);
    free(y);
    return st;
}

nota_status vae_decode(vae *v, const nota_tensor *z, nota_tensor **out) {
    *out = NULL;
    nota_status st = fitted(v, "decode");
    if (st) return st;
    if (!nota_tensor_f32(z) || z->ndim != 2 || z->shape[1] != v->latent) {
        char b[96];
        return nota_error(NOTA_ESHAPE, "vae decode: expected f32 codes (N, %lld), found %s %s",
                          (long long)v->latent, nota_dtype_name(z->dtype),
                          nota_shape_str(z->ndim, z->shape, b, sizeof b));
    }
    if ((st = nota_tensor_check_finite(z, "vae decode: codes"))) return st;
    int64_t n = z->shape[0];
    float *y = malloc((size_t)n * (size_t)v->items.d * sizeof *y);
    if (!y) return nota_error(NOTA_ENOMEM, "vae decode: cannot allocate %lld items", (long long)n);
    st = decode_rows(v, nota_tensor_f32(z), n, false, 0, 0, y);
    if (!st) st = lat_items_output(&v->items, y, n, out);
    free(y);
    return st;
}

nota_status vae_encode(vae *v, const nota_tensor *x, nota_tensor **out) {
    *out = NULL;
    nota_status st = fitted(v, "encode");
    if (!st) st = lat_items_check(&v->items, x, "vae encode");
    if (st) return st;
    int64_t n = x->shape[0], d = v->items.d, h = v->latent;
    int64_t shape[2] = {n, h};
    float *buf = malloc((size_t)(n < CHUNK ? n : CHUNK) * (size_t)d * sizeof *buf);
    if (!buf) return nota_error(NOTA_ENOMEM, "vae encode: out of memory");
    st = nota_tensor_new(NOTA_F32, 2, shape, out);
    for (int64_t r0 = 0; r0 < n && !st; r0 += CHUNK) {
        int64_t m = n - r0 < CHUNK ? n - r0 : CHUNK;
        nota_tensor *t;
        const nota_tensor *stats;
        lat_items_gather(&v->items, nota_tensor_f32(x), NULL, r0, m, v->bernoulli, buf);
        st = run(v->enc, buf, m, d, &t, &stats);
        for (int64_t i = 0; i < m && !st; i++)
            memcpy(nota_tensor_f32(*out) + (r0 + i) * h, nota_tensor_f32(stats) + i * 2 * h,
                   (size_t)h * sizeof(float));
        nota_tensor_free(t);
    }
    free(buf);
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* Importance-weighted log p(x) per row (nats, data units) into ll. */
static nota_status iw_loglik(vae *v, const nota_tensor *x, const nota_host *host, float *ll) {
    int64_t n = x->shape[0], d = v->items.d, h = v->latent, k = v->iw_samples;
    int64_t m0 = IW_ROWS / k > 0 ? IW_ROWS / k : 1;
    if (m0 > n) m0 = n;
    uint64_t seed = host ? host->seed : 0;
    double jac = lat_items_log_jacobian(&v->items);
    float *xs = malloc((size_t)(m0 * d) * sizeof *xs);
    float *eps = malloc((size_t)(m0 * k * h) * sizeof *eps);
    float *z = malloc((size_t)(m0 * k * h) * sizeof *z);
    double *lw = malloc((size_t)k * sizeof *lw), *lv = malloc((size_t)d * sizeof *lv);
    nota_status st = xs && eps && z && lw && lv ? decoder_logvar(v, lv)
                                                : nota_error(NOTA_ENOMEM, "vae: out of memory");
    for (int64_t r0 = 0; r0 < n && !st; r0 += m0) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED, "vae log-likelihood: cancelled");
            break;
        }
        int64_t m = n - r0 < m0 ? n - r0 : m0;
        nota_tensor *tx = NULL, *tz = NULL;
        const nota_tensor *stats, *out;
        lat_items_gather(&v->items, nota_tensor_f32(x), NULL, r0, m, false, xs);
        st = run(v->enc, xs, m, d, &tx, &stats);
        if (st) {
            nota_tensor_free(tx);
            break;
        }
        nota_rng_fill_normal_range(seed, STREAM_IW, (size_t)(r0 * k * h), eps, (size_t)(m * k * h));
        const float *sp = nota_tensor_f32(stats);
        for (int64_t i = 0; i < m; i++)
            for (int64_t s = 0; s < k; s++)
                for (int64_t c = 0; c < h; c++) {
                    int64_t e = (i * k + s) * h + c;
                    z[e] = sp[i * 2 * h + c] + expf(0.5f * sp[i * 2 * h + h + c]) * eps[e];
                }
        st = run(v->dec, z, m * k, h, &tz, &out);
        for (int64_t i = 0; i < m && !st; i++) {
            double top = -INFINITY;
            for (int64_t s = 0; s < k; s++) {
                const float *o = nota_tensor_f32(out) + (i * k + s) * d, *e = eps + (i * k + s) * h;
                const float *zz = z + (i * k + s) * h;
                double a = 0;
                for (int64_t j = 0; j < d; j++) {
                    double r = (double)xs[i * d + j] - o[j];
                    a -= 0.5 * (r * r * exp(-lv[j]) + lv[j] + LOG2PI);
                }
                for (int64_t c = 0; c < h; c++) /* log p(z) − log q(z|x); the 2π terms cancel */
                    a += -0.5 * (double)zz[c] * zz[c] + 0.5 * (double)e[c] * e[c] +
                         0.5 * sp[i * 2 * h + h + c];
                lw[s] = a;
                top = a > top ? a : top;
            }
            double sum = 0;
            for (int64_t s = 0; s < k; s++)
                sum += exp(lw[s] - top);
            ll[r0 + i] = (float)(top + log(sum) - log((double)k) - jac);
        }
        nota_tensor_free(tx);
        nota_tensor_free(tz);
    }
    free(xs);
    free(eps);
    free(z);
    free(lw);
    free(lv);
    return st;
}

nota_status vae_log_prob(vae *v, const nota_tensor *x, const nota_host *host, nota_tensor **out) {
    *out = NULL;
    nota_status st = fitted(v, "log_prob");
    if (st) return st;
    if (v->bernoulli)
        return nota_error(NOTA_ENOTSUP, "vae log_prob: the Bernoulli decoder gives no density "
                                        "for continuous data (fit with likelihood=gaussian)");
    if ((st = lat_items_check(&v->items, x, "vae log_prob"))) return st;
    int64_t n = x->shape[0];
    if ((st = nota_tensor_new(NOTA_F32, 1, &n, out))) return st;
    st = iw_loglik(v, x, host, nota_tensor_f32(*out));
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static void put(nota_metric *out, size_t cap, size_t *n, const char *name, double value) {
    if (*n >= cap) return;
    snprintf(out[*n].name, sizeof out[*n].name, "%s", name);
    out[*n].value = value;
    (*n)++;
}

nota_status vae_eval(vae *v, const nota_tensor *x, const nota_host *host, nota_metric *out,
                     size_t cap, size_t *n) {
    *n = 0;
    nota_status st = fitted(v, "eval");
    if (!st) st = lat_items_check(&v->items, x, "vae eval");
    if (st) return st;
    int64_t rows = x->shape[0], d = v->items.d;
    double rec, kl, jac = v->bernoulli ? 0 : lat_items_log_jacobian(&v->items);
    st = vae_elbo_terms(v, nota_tensor_f32(x), NULL, rows, host ? host->seed : 0, STREAM_EVAL, host,
                        &rec, &kl);
    if (st) return st;
    double nelbo = (rec + kl) / (double)rows + jac;
    put(out, cap, n, "neg_elbo_nats", nelbo);
    put(out, cap, n, "recon_nats", rec / (double)rows + jac);
    put(out, cap, n, "kl_nats", kl / (double)rows);
    if (v->bernoulli) return NOTA_OK;
    put(out, cap, n, "neg_elbo_bits_per_dim", nelbo / ((double)d * log(2.0)));
    float *ll = malloc((size_t)rows * sizeof *ll);
    if (!ll) return nota_error(NOTA_ENOMEM, "vae eval: out of memory");
    st = iw_loglik(v, x, host, ll);
    double s = 0;
    for (int64_t i = 0; i < rows; i++)
        s += ll[i];
    free(ll);
    if (st) return st;
    put(out, cap, n, "iw_nll_nats", -s / (double)rows);
    put(out, cap, n, "iw_bits_per_dim", -s / (double)rows / ((double)d * log(2.0)));
    put(out, cap, n, "iw_samples", (double)v->iw_samples);
    return NOTA_OK;
}

nota_status vae_save(const vae *v, nota_modelfile *mf) {
    nota_status st = fitted(v, "save");
    if (!st) st = lat_items_save(&v->items, mf, "vae");
    if (!st) st = nota_nn_net_save(v->enc, mf, "encoder.");
    if (!st) st = nota_nn_net_save(v->dec, mf, "decoder.");
    if (!st && v->logvar) st = nota_nn_net_save(v->logvar, mf, "decoder_logvar.");
    return st;
}

nota_status vae_load(const nota_modelfile *mf, vae **out) {
    nota_status st = vae_new(nota_modelfile_config(mf), out);
    if (st) return st;
    vae *v = *out;
    st = lat_items_load(&v->items, mf, "vae");
    int64_t d = v->items.d, h = v->latent;
    if (!st)
        st = lat_mlp_check_file(mf, "encoder.", d, v->hidden, v->n_hidden, false, 2 * h, true,
                                "vae");
    if (!st)
        st = lat_mlp_check_file(mf, "decoder.", h, v->hidden, v->n_hidden, true, d, true, "vae");
    if (!st && !v->bernoulli)
        st = lat_mlp_check_file(mf, "decoder_logvar.", 1, NULL, 0, false, d, false, "vae");
    if (!st) {
        st = vae_build(v, 0);
        if (!st) st = nota_nn_net_load(v->enc, mf, "encoder.");
        if (!st) st = nota_nn_net_load(v->dec, mf, "decoder.");
        if (!st && v->logvar) st = nota_nn_net_load(v->logvar, mf, "decoder_logvar.");
        if (st) nota_error_prefix(st, "vae model: ");
    }
    if (st) {
        vae_free(v);
        *out = NULL;
    }
    return st;
}

int vae_data_shape(const vae *v, int64_t shape[NOTA_MAX_DIMS]) {
    if (!v->dec) return 0;
    memcpy(shape, v->items.item_shape, (size_t)v->items.item_ndim * sizeof(int64_t));
    return v->items.item_ndim;
}

int vae_code_shape(const vae *v, int64_t shape[NOTA_MAX_DIMS]) {
    shape[0] = v->latent;
    return 1;
}
