/* The scatter model: scattering → whitened PCA code → convolutional decoder
 * (Angles & Mallat's generative scattering network).
 *
 * fit scatters the training set twice in chunks (once to accumulate the
 * covariance, once to encode), so memory stays at the codes (N × k) rather
 * than the scattering of the whole set (N × 3969 for Fashion-MNIST). What
 * was fitted on (C, H, W and the k kept) goes into the model's config as
 * fit_channels, fit_height, fit_width, fit_k; tensors are pca.mean (D),
 * pca.whiten (k, D), pca.eig (k) and the decoder's dec.* parameters.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define CHUNK 512
#define STREAM_SPLIT 0x5ca7300ull
#define STREAM_SAMPLE 0x5ca7400ull

static nota_status get_int(const nota_config *cfg, const char *key, int64_t *v) {
    nota_status st = nota_config_get_int(cfg, key, v);
    return st ? nota_error_prefix(st, "scatter: ") : NOTA_OK;
}

static nota_status make(const nota_config *cfg, nota_model **out) {
    *out = NULL;
    nota_model *m = calloc(1, sizeof *m);
    if (!m) return nota_error(NOTA_ENOMEM, "scatter: allocation failed");
    nota_status st = scatter_geometry(cfg, &m->J, &m->L, &m->shift, &m->scale);
    if (!st) st = scatter_method(cfg, &m->cache.method);
    const char *ch = NULL, *arch = NULL;
    if (!st) st = nota_config_get_string(cfg, "channels", &ch);
    /* arch came after the first model files: those are conv */
    if (!st && nota_config_get_string(cfg, "arch", &arch) != NOTA_OK) arch = "conv";
    if (!st && strcmp(arch, "conv") != 0 && strcmp(arch, "am128") != 0)
        st = nota_error(NOTA_EINVAL, "scatter: unknown arch '%s' (expected conv|am128)", arch);
    m->arch.am128 = !st && strcmp(arch, "am128") == 0;
    m->arch.J = m->arch.am128 ? 5 : m->J;
    if (!st) st = scat_arch_channels(&m->arch, ch);
    if (!st) st = nota_config_clone(cfg, &m->cfg);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return NOTA_OK;
}

void scatter_destroy(nota_model *m) {
    if (!m) return;
    scat_cache_clear(&m->cache);
    scat_pca_release(&m->pca);
    nota_nn_net_free(m->net);
    nota_config_free(m->cfg);
    free(m);
}

nota_status scatter_create(const nota_config *cfg, const nota_host *host, nota_model **out) {
    return make(cfg, out);
}

/* Scattering vectors (n × D) of n images (C, H, W) in host scale. */
static nota_status scatter_rows(nota_model *m, const float *x, int64_t n, float *tmp, float *out,
                                const nota_host *host) {
    const scat_bank *b;
    nota_status st = scat_cache_get(&m->cache, m->arch.H, m->arch.W, m->J, m->L, &b);
    if (st) return st;
    int64_t cnt = n * m->arch.C * m->arch.H * m->arch.W;
    for (int64_t i = 0; i < cnt; i++)
        tmp[i] = (float)(((double)x[i] + m->shift) * m->scale);
    return scat_run(b, tmp, n * m->arch.C, out, host, NULL);
}

static int64_t features(const nota_model *m) {
    return m->arch.C * scat_channels(m->J, m->L) * (m->arch.H >> m->J) * (m->arch.W >> m->J);
}

/* Codes (n × k) of n images, chunk by chunk; or, with acc, the PCA pass. */
static nota_status scatter_pass(nota_model *m, const float *x, int64_t n, scat_pca_acc *acc,
                                float *codes, const nota_host *host, const char *stage) {
    int64_t item = m->arch.C * m->arch.H * m->arch.W, D = features(m);
    float *tmp = malloc((size_t)(CHUNK * item) * sizeof *tmp);
    float *s = malloc((size_t)(CHUNK * D) * sizeof *s),
          *t2 = malloc((size_t)(CHUNK * D) * sizeof *t2);
    nota_status st = tmp && s && t2 ? NOTA_OK : nota_error(NOTA_ENOMEM, "scatter: out of memory");
    for (int64_t b0 = 0; b0 < n && !st; b0 += CHUNK) {
        int64_t c = n - b0 < CHUNK ? n - b0 : CHUNK;
        st = scatter_rows(m, x + b0 * item, c, tmp, s, host);
        if (!st && acc) st = scat_pca_acc_add(acc, s, c);
        if (!st && !acc) scat_pca_encode(&m->pca, s, c, t2, codes + b0 * m->pca.k);
        if (!st && stage) nota_progress(host, stage, (double)(b0 + c), (double)n, "");
    }
    free(tmp), free(s), free(t2);
    return st;
}

/* Images must be finite f32 (N, C, H, W) with H, W multiples of 2^J. */
static nota_status check_images(const nota_model *m, const nota_tensor *x, const char *what) {
    char buf[96];
    if (!x || !nota_tensor_f32(x) || x->ndim != 4)
        return nota_error(NOTA_ESHAPE, "scatter %s: expected f32 images (N, C, H, W), found %s %s",
                          what, x ? nota_dtype_name(x->dtype) : "nothing",
                          x ? nota_shape_str(x->ndim, x->shape, buf, sizeof buf) : "");
    if (m->fitted &&
        (x->shape[1] != m->arch.C || x->shape[2] != m->arch.H || x->shape[3] != m->arch.W)) {
        int64_t want[3] = {m->arch.C, m->arch.H, m->arch.W};
        char b2[96];
        return nota_error(NOTA_ESHAPE, "scatter %s: the model takes images %s, found %s", what,
                          nota_shape_str(3, want, buf, sizeof buf),
                          nota_shape_str(3, x->shape + 1, b2, sizeof b2));
    }
    int64_t p = (int64_t)1 << m->J;
    if (x->shape[1] > 16 || x->shape[2] % p || x->shape[3] % p || x->shape[2] < p ||
        x->shape[3] < p)
        return nota_error(NOTA_ESHAPE,
                          "scatter %s: images %s need at most 16 channels and "
                          "sides that are multiples of 2^J = %lld",
                          what, nota_shape_str(3, x->shape + 1, buf, sizeof buf), (long long)p);
    nota_status st = nota_tensor_check_finite(x, what);
    return st ? nota_error_prefix(st, "scatter ") : NOTA_OK;
}

nota_status scatter_check_size(const scat_arch *a, int64_t H, int64_t W) {
    int64_t p = (int64_t)1 << a->J;
    if (!a->am128 || (H % p == 0 && W % p == 0 && H >= 2 * p && W >= 2 * p)) return NOTA_OK;
    return nota_error(NOTA_ESHAPE,
                      "scatter: arch=am128 needs sides that are multiples of 32 and "
                      "at least 64, found %lld×%lld",
                      (long long)H, (long long)W);
}

static nota_status fit_codes(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                             const nota_host *host, float **codes, float **vcodes) {
    int64_t N = train->shape[0], k_max;
    scat_pca_acc acc;
    nota_status st = get_int(m->cfg, "k", &k_max);
    if (!st) st = scat_pca_acc_init(&acc, features(m), CHUNK);
    if (st) return st;
    st = scatter_pass(m, nota_tensor_f32(train), N, &acc, NULL, host, "scatter pca");
    if (!st) st = scat_pca_finish(&acc, k_max, &m->pca);
    scat_pca_acc_release(&acc);
    if (st) return st;
    nota_log(host, NOTA_LOG_INFO, "scatter: %lld features, PCA keeps %lld components",
             (long long)m->pca.D, (long long)m->pca.k);
    int64_t nv = valid ? valid->shape[0] : 0;
    *codes = malloc((size_t)(N * m->pca.k) * sizeof **codes);
    *vcodes = malloc((size_t)((nv ? nv : 1) * m->pca.k) * sizeof **vcodes);
    if (!*codes || !*vcodes) return nota_error(NOTA_ENOMEM, "scatter fit: out of memory");
    st = scatter_pass(m, nota_tensor_f32(train), N, NULL, *codes, host, "scatter encode");
    if (!st && valid)
        st = scatter_pass(m, nota_tensor_f32(valid), nv, NULL, *vcodes, host, "scatter encode");
    return st;
}

static void unfit(nota_model *m) {
    m->fitted = false;
    scat_pca_release(&m->pca);
    nota_nn_net_free(m->net);
    m->net = NULL;
}

nota_status scatter_fit(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                        const nota_host *host) {
    unfit(m);
    nota_status st = check_images(m, train, "fit");
    if (!st && valid) st = check_images(m, valid, "fit (validation data)");
    if (!st && valid && memcmp(valid->shape + 1, train->shape + 1, 3 * sizeof(int64_t)) != 0)
        st = nota_error(NOTA_ESHAPE, "scatter fit: validation images differ in shape from the "
                                     "training images");
    if (!st) st = scatter_check_size(&m->arch, train->shape[2], train->shape[3]);
    if (!st && train->shape[0] < 2)
        st = nota_error(NOTA_EINVAL, "scatter fit: need at least 2 images, got %lld",
                        (long long)train->shape[0]);
    if (st) return st;
    m->arch.C = train->shape[1], m->arch.H = train->shape[2], m->arch.W = train->shape[3];
    uint64_t seed = host ? host->seed : 0;
    float *codes = NULL, *vcodes = NULL;
    int64_t *perm = NULL, N = train->shape[0];
    scat_train_opts o;
    double vf = 0;
    st = fit_codes(m, train, valid, host, &codes, &vcodes);
    if (!st) st = get_int(m->cfg, "batch", &o.batch);
    if (!st) st = get_int(m->cfg, "epochs", &o.epochs);
    if (!st) st = get_int(m->cfg, "patience", &o.patience);
    if (!st) st = nota_config_get_float(m->cfg, "lr", &o.lr);
    if (!st) st = nota_config_get_float(m->cfg, "valid_frac", &vf);
    m->arch.k = m->pca.k;
    if (!st) st = scat_dec_build(&m->arch, seed, &m->net);
    scat_rows tr = {codes, nota_tensor_f32(train), NULL, N}, va = {vcodes, NULL, NULL, 0};
    if (!st && valid) {
        va.x = nota_tensor_f32(valid), va.n = valid->shape[0];
    } else if (!st) { /* hold out a random valid_frac of the training images */
        int64_t nv = (int64_t)floor((double)N * vf);
        if (!(perm = malloc((size_t)N * sizeof *perm)))
            st = nota_error(NOTA_ENOMEM, "scatter fit: out of memory");
        else if (nv >= N)
            st = nota_error(NOTA_EINVAL,
                            "scatter fit: valid_frac=%g leaves no training images "
                            "of %lld",
                            vf, (long long)N);
        if (!st) {
            nota_rng r = nota_rng_make(seed, STREAM_SPLIT);
            for (int64_t i = 0; i < N; i++)
                perm[i] = i;
            for (int64_t i = N - 1; i > 0; i--) {
                int64_t j = (int64_t)nota_rng_below(&r, (uint64_t)i + 1), t = perm[i];
                perm[i] = perm[j], perm[j] = t;
            }
            va = (scat_rows){codes, tr.x, perm, nv};
            tr = (scat_rows){codes, tr.x, perm + nv, N - nv};
        }
    }
    if (!st)
        nota_log(host, NOTA_LOG_INFO,
                 "scatter: decoder of %zu weights, %lld train / %lld valid "
                 "images",
                 nota_nn_net_num_weights(m->net), (long long)tr.n, (long long)va.n);
    if (!st) st = scat_dec_train(m->net, &m->arch, &tr, &va, &o, seed, host);
    const char *keys[4] = {"fit_channels", "fit_height", "fit_width", "fit_k"};
    int64_t vals[4] = {m->arch.C, m->arch.H, m->arch.W, m->arch.k};
    for (int i = 0; i < 4 && !st; i++)
        st = nota_config_set_int(m->cfg, keys[i], vals[i]);
    free(codes), free(vcodes), free(perm);
    if (st) unfit(m);
    m->fitted = !st;
    return st;
}

static nota_status need_fit(const nota_model *m, const char *what) {
    return m->fitted ? NOTA_OK
                     : nota_error(NOTA_EINVAL, "scatter %s: the model is not fitted", what);
}

nota_status scatter_encode(nota_model *m, const nota_tensor *x, const nota_host *host,
                           nota_tensor **out) {
    *out = NULL;
    nota_status st = need_fit(m, "encode");
    if (!st) st = check_images(m, x, "encode");
    if (!st) st = nota_tensor_new_2d(x->shape[0], m->pca.k, out);
    if (!st)
        st = scatter_pass(m, nota_tensor_f32(x), x->shape[0], NULL, nota_tensor_f32(*out), host,
                          NULL);
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

nota_status scatter_decode(nota_model *m, const nota_tensor *z, const nota_host *host,
                           nota_tensor **out) {
    *out = NULL;
    nota_status st = need_fit(m, "decode");
    if (st) return st;
    if (!z || !nota_tensor_f32(z) || z->ndim != 2 || z->shape[1] != m->pca.k) {
        char buf[96];
        return nota_error(NOTA_ESHAPE, "scatter decode: expected f32 codes (N, %lld), found %s",
                          (long long)m->pca.k,
                          z ? nota_shape_str(z->ndim, z->shape, buf, sizeof buf) : "nothing");
    }
    st = nota_tensor_check_finite(z, "codes");
    if (st) return nota_error_prefix(st, "scatter decode: ");
    return scat_dec_decode(m->net, &m->arch, nota_tensor_f32(z), z->shape[0], out);
}

nota_status scatter_sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                           nota_tensor **out) {
    *out = NULL;
    nota_status st = need_fit(m, "sample");
    bool renorm = false;
    if (!st) st = nota_config_get_bool(m->cfg, "renorm", &renorm);
    if (st) return st;
    if (n < 1)
        return nota_error(NOTA_EINVAL, "scatter sample: n = %lld must be >= 1", (long long)n);
    int64_t k = m->pca.k;
    float *z = malloc((size_t)(n * k) * sizeof *z);
    if (!z) return nota_error(NOTA_ENOMEM, "scatter sample: out of memory");
    nota_rng_fill_normal(host ? host->seed : 0, STREAM_SAMPLE, z, (size_t)(n * k));
    for (int64_t i = 0; i < n; i++) {
        /* renorm: every code on the sphere of radius sqrt(k), the typical
         * norm of N(0, I), as the original code does */
        double nrm = 0;
        for (int64_t j = 0; j < k; j++)
            nrm += (double)z[i * k + j] * z[i * k + j];
        double f = renorm && nrm > 0 ? sqrt((double)k / nrm) * temperature : temperature;
        for (int64_t j = 0; j < k; j++)
            z[i * k + j] = (float)(z[i * k + j] * f);
    }
    st = scat_dec_decode(m->net, &m->arch, z, n, out);
    free(z);
    return st;
}

nota_status scatter_eval(nota_model *m, const nota_tensor *x, const nota_host *host,
                         nota_metric *out, size_t cap, size_t *n) {
    *n = 0;
    nota_tensor *z;
    nota_status st = scatter_encode(m, x, host, &z);
    if (st) return st;
    scat_rows r = {nota_tensor_f32(z), nota_tensor_f32(x), NULL, x->shape[0]};
    double l1, psnr;
    st = scat_dec_metrics(m->net, &m->arch, &r, &l1, &psnr);
    nota_tensor_free(z);
    if (st) return st;
    const nota_metric all[2] = {{"psnr_db", psnr}, {"l1", l1}};
    for (size_t i = 0; i < 2 && i < cap; i++)
        out[(*n)++] = all[i];
    return NOTA_OK;
}

int scatter_data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    if (!m->fitted) return 0;
    shape[0] = m->arch.C, shape[1] = m->arch.H, shape[2] = m->arch.W;
    return 3;
}

int scatter_code_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    if (!m->fitted) return 0;
    shape[0] = m->pca.k;
    return 1;
}
