/* Full-covariance Gaussian by PCA (latent kind `gaussian`).
 *
 * Fit: mean and covariance accumulated in double over row blocks (so memory
 * stays at one block beyond the data), eigendecomposition, eigenvalues
 * floored at var_floor × (average variance) so that constant columns give a
 * proper density instead of NaN. With k < d components the density is
 * probabilistic PCA: the discarded directions share one residual variance
 * (their mean eigenvalue, the maximum-likelihood choice). All parameters are
 * rounded to f32 right after the fit and every later computation uses the
 * rounded values, so a saved and reloaded model gives bit-identical results.
 *
 * With preprocess=logit (8-bit images in [0, 256)) the Gaussian is fitted to
 * y = logit(l + (1 − 2l)·x/256) and log_prob adds log|dy/dx|, as flows do;
 * this is the baseline published flow results are compared with. The
 * transform is applied block by block, never to a full copy of the data.
 *
 * Codes are whitened PCA coordinates z_i = v_i·(x − μ) / √λ_i: the
 * "independent Gaussians" prior of Angles & Mallat, and the baseline every
 * other nota model must beat.
 */
#include "gaussian.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 2048
#define STREAM_SAMPLE 0x53414d50ull /* "SAMP" */
#define STREAM_RESID 0x52455344ull  /* "RESD" */

struct gaussian {
    int64_t k_opt;
    double var_floor;
    bool logit;   /* preprocess=logit */
    double lam;   /* logit_lambda */
    int item_ndim;
    int64_t item_shape[NOTA_MAX_DIMS];
    int64_t d, k;
    double *mean;  /* d */
    double *comp;  /* k × d, row i = i-th principal direction */
    double *eig;   /* k, descending */
    double resid;  /* variance of each discarded direction (0 when k == d) */
    double logdet; /* log det of the covariance */
};

static double f32r(double v) { return (double)(float)v; }

/* Model-space value of one input value; adds log|dy/dx| to *ld. */
static inline double fwd(const gaussian *g, double v, double *ld) {
    if (!g->logit) return v;
    double p = g->lam + (1 - 2 * g->lam) * v / 256.0, l1p = log1p(-p), lp = log(p);
    *ld += log((1 - 2 * g->lam) / 256.0) - lp - l1p;
    return lp - l1p;
}

static inline double inv(const gaussian *g, double y) {
    if (!g->logit) return y;
    return (1.0 / (1.0 + exp(-y)) - g->lam) / (1 - 2 * g->lam) * 256.0;
}

/* Logit preprocessing needs pixel values: refuse anything outside [0, 256]. */
static nota_status check_range(const gaussian *g, const nota_tensor *x, const char *what) {
    if (!g->logit) return NOTA_OK;
    const float *v = nota_tensor_f32(x);
    size_t n = nota_tensor_numel(x), row = nota_tensor_row_size(x);
    for (size_t i = 0; i < n; i++)
        if (!(v[i] >= 0.0f && v[i] <= 256.0f))
            return nota_error(NOTA_EINVAL, "%s: item %zu, element %zu is %g; preprocess=logit "
                              "expects 8-bit image values in [0, 256]", what, i / row, i % row,
                              (double)v[i]);
    return NOTA_OK;
}

nota_status gaussian_new(const nota_config *cfg, gaussian **out) {
    *out = NULL;
    gaussian *g = calloc(1, sizeof *g);
    if (!g) return nota_error(NOTA_ENOMEM, "gaussian: allocation failed");
    const char *pre = "none";
    nota_status st = nota_config_get_int(cfg, "k", &g->k_opt);
    if (!st) st = nota_config_get_float(cfg, "var_floor", &g->var_floor);
    /* Files written before preprocessing existed have neither key: plain data. */
    g->lam = 1e-6;
    if (!st && (st = nota_config_get_string(cfg, "preprocess", &pre)) == NOTA_ENOTFOUND) st = 0;
    if (!st && (st = nota_config_get_float(cfg, "logit_lambda", &g->lam)) == NOTA_ENOTFOUND)
        st = 0;
    if (!st && strcmp(pre, "none") != 0 && strcmp(pre, "logit") != 0)
        st = nota_error(NOTA_EINVAL, "preprocess is '%s', expected none or logit", pre);
    g->logit = !st && strcmp(pre, "logit") == 0;
    if (st) {
        free(g);
        return nota_error_prefix(st, "gaussian config: ");
    }
    *out = g;
    return NOTA_OK;
}

static void release(gaussian *g) {
    free(g->mean);
    free(g->comp);
    free(g->eig);
    g->mean = g->comp = g->eig = NULL;
    g->d = g->k = 0;
}

void gaussian_free(gaussian *g) {
    if (!g) return;
    release(g);
    free(g);
}

static nota_status alloc_params(gaussian *g, int64_t d, int64_t k) {
    g->mean = malloc((size_t)d * sizeof(double));
    g->comp = malloc((size_t)k * (size_t)d * sizeof(double));
    g->eig = malloc((size_t)k * sizeof(double));
    if (!g->mean || !g->comp || !g->eig) {
        release(g);
        return nota_error(NOTA_ENOMEM, "gaussian: cannot allocate parameters for d=%lld, k=%lld",
                          (long long)d, (long long)k);
    }
    g->d = d;
    g->k = k;
    return NOTA_OK;
}

static void finish_logdet(gaussian *g) {
    double s = 0;
    for (int64_t i = 0; i < g->k; i++) s += log(g->eig[i]);
    if (g->k < g->d) s += (double)(g->d - g->k) * log(g->resid);
    g->logdet = s;
}

static nota_status check_input(const gaussian *g, const nota_tensor *x, const char *what) {
    if (!g->mean) return nota_error(NOTA_EINVAL, "gaussian: %s before the model was fitted", what);
    if (!nota_tensor_f32(x) || x->ndim < 1)
        return nota_error(NOTA_EINVAL, "gaussian %s: expected an f32 tensor of items, found %s",
                          what, nota_dtype_name(x->dtype));
    if ((int64_t)nota_tensor_row_size(x) != g->d) {
        char a[96], b[96];
        int64_t want[NOTA_MAX_DIMS + 1] = {-1};
        memcpy(want + 1, g->item_shape, (size_t)g->item_ndim * sizeof(int64_t));
        return nota_error(NOTA_ESHAPE, "gaussian %s: model expects items of shape %s, data is %s",
                          what, nota_shape_str(g->item_ndim + 1, want, a, sizeof a),
                          nota_shape_str(x->ndim, x->shape, b, sizeof b));
    }
    nota_status st = nota_tensor_check_finite(x, what);
    return st ? st : check_range(g, x, what);
}

nota_status gaussian_fit(gaussian *g, const nota_tensor *train, const nota_tensor *valid,
                         const nota_host *host) {
    if (!nota_tensor_f32(train) || train->ndim < 2)
        return nota_error(NOTA_EINVAL, "gaussian fit: expected f32 data (N, ...) with N items");
    int64_t n = train->shape[0], d = (int64_t)nota_tensor_row_size(train);
    if (n < 2) return nota_error(NOTA_EINVAL, "gaussian fit: need at least 2 items, got %lld",
                                 (long long)n);
    int64_t k = g->k_opt == 0 ? d : g->k_opt;
    if (k > d)
        return nota_error(NOTA_EINVAL, "gaussian fit: k=%lld exceeds the data dimension %lld",
                          (long long)k, (long long)d);
    nota_status st = nota_tensor_check_finite(train, "training data");
    if (!st) st = check_range(g, train, "training data");
    if (st) return st;
    if ((uint64_t)d > 65536)
        return nota_error(NOTA_ELIMIT, "gaussian fit: dimension %lld too large for a full "
                          "covariance (limit 65536)", (long long)d);

    release(g);
    double *mean = calloc((size_t)d, sizeof *mean);
    double *cov = calloc((size_t)d * (size_t)d, sizeof *cov);
    double *w = malloc((size_t)d * sizeof *w);
    int64_t bl = n < BLOCK ? n : BLOCK;
    double *blk = malloc((size_t)bl * (size_t)d * sizeof *blk);
    if (!mean || !cov || !w || !blk) {
        st = nota_error(NOTA_ENOMEM, "gaussian fit: cannot allocate a %lld×%lld covariance",
                        (long long)d, (long long)d);
        goto done;
    }
    const float *x = nota_tensor_f32(train);
    double ld = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) mean[j] += fwd(g, x[i * d + j], &ld);
    for (int64_t j = 0; j < d; j++) mean[j] /= (double)n;

    for (int64_t r0 = 0; r0 < n; r0 += bl) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED, "gaussian fit: cancelled");
            goto done;
        }
        int64_t m = n - r0 < bl ? n - r0 : bl;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < d; j++) blk[i * d + j] = fwd(g, x[(r0 + i) * d + j], &ld) - mean[j];
        nota_dsyrk_ata(m, d, 1.0 / (double)n, blk, d, 1.0, cov);
        nota_progress(host, "covariance", (double)(r0 + m), (double)n, "");
    }
    nota_progress(host, "eigendecomposition", 0, 1, "");
    st = nota_syev_desc(d, cov, w);
    if (st) {
        nota_error_prefix(st, "gaussian fit: ");
        goto done;
    }
    double trace = 0;
    for (int64_t j = 0; j < d; j++) trace += w[j] > 0 ? w[j] : 0;
    double floor_v = g->var_floor * (trace > 0 ? trace / (double)d : 1.0);
    if (!(floor_v > 0)) floor_v = 1e-12;

    st = alloc_params(g, d, k);
    if (st) goto done;
    g->item_ndim = train->ndim - 1;
    memcpy(g->item_shape, train->shape + 1, (size_t)g->item_ndim * sizeof(int64_t));
    for (int64_t j = 0; j < d; j++) g->mean[j] = f32r(mean[j]);
    for (int64_t i = 0; i < k; i++) {
        g->eig[i] = f32r(w[i] > floor_v ? w[i] : floor_v);
        for (int64_t j = 0; j < d; j++) g->comp[i * d + j] = f32r(cov[j * d + i]);
    }
    g->resid = 0;
    if (k < d) {
        double s = 0;
        for (int64_t i = k; i < d; i++) s += w[i] > 0 ? w[i] : 0;
        s /= (double)(d - k);
        g->resid = f32r(s > floor_v ? s : floor_v);
    }
    finish_logdet(g);
    nota_progress(host, "eigendecomposition", 1, 1, "");
    nota_log(host, NOTA_LOG_INFO, "gaussian: d=%lld, k=%lld, top eigenvalue %.4g, smallest kept %.4g",
             (long long)d, (long long)k, g->eig[0], g->eig[k - 1]);

    if (valid) {
        nota_tensor *lp = NULL;
        st = gaussian_log_prob(g, valid, host, &lp);
        if (st) {
            nota_error_prefix(st, "validation data: ");
            release(g);
            goto done;
        }
        double s = 0;
        const float *l = nota_tensor_f32(lp);
        for (int64_t i = 0; i < lp->shape[0]; i++) s += l[i];
        nota_log(host, NOTA_LOG_INFO, "gaussian: validation %.4f bits/dim on %lld items",
                 -s / (double)lp->shape[0] / ((double)d * log(2.0)), (long long)lp->shape[0]);
        nota_tensor_free(lp);
    }
done:
    free(mean);
    free(cov);
    free(w);
    free(blk);
    return st;
}

/* Project centred rows of x[r0, r0+m) onto the components: zc = (y − μ) Vᵀ
 * with y the preprocessed x, also returning each row's squared norm ‖y − μ‖²
 * in nrm and its log|dy/dx| in ld (either may be NULL). */
static void project(const gaussian *g, const float *x, int64_t m, double *ctr, double *zc,
                    double *nrm, double *ld) {
    int64_t d = g->d;
    for (int64_t i = 0; i < m; i++) {
        double s = 0, l = 0;
        for (int64_t j = 0; j < d; j++) {
            double c = fwd(g, x[i * d + j], &l) - g->mean[j];
            ctr[i * d + j] = c;
            s += c * c;
        }
        if (nrm) nrm[i] = s;
        if (ld) ld[i] = l;
    }
    nota_dgemm(false, true, m, g->k, d, 1.0, ctr, d, g->comp, d, 0.0, zc, g->k);
}

/* Run fn over row blocks with the scratch buffers it needs. */
typedef struct scratch {
    double *ctr, *zc, *nrm, *ld;
    int64_t rows;
} scratch;

static nota_status scratch_new(const gaussian *g, int64_t n, scratch *s) {
    s->rows = n < BLOCK ? n : BLOCK;
    s->ctr = malloc((size_t)s->rows * (size_t)g->d * sizeof(double));
    s->zc = malloc((size_t)s->rows * (size_t)g->k * sizeof(double));
    s->nrm = malloc((size_t)s->rows * sizeof(double));
    s->ld = malloc((size_t)s->rows * sizeof(double));
    if (!s->ctr || !s->zc || !s->nrm || !s->ld) {
        free(s->ctr);
        free(s->zc);
        free(s->nrm);
        free(s->ld);
        return nota_error(NOTA_ENOMEM, "gaussian: cannot allocate work buffers");
    }
    return NOTA_OK;
}

static void scratch_free(scratch *s) {
    free(s->ctr);
    free(s->zc);
    free(s->nrm);
    free(s->ld);
}

nota_status gaussian_log_prob(gaussian *g, const nota_tensor *x, const nota_host *host,
                              nota_tensor **out) {
    *out = NULL;
    nota_status st = check_input(g, x, "log_prob");
    if (st) return st;
    int64_t n = x->shape[0], d = g->d, k = g->k;
    scratch s;
    if ((st = scratch_new(g, n, &s))) return st;
    if ((st = nota_tensor_new(NOTA_F32, 1, &n, out))) {
        scratch_free(&s);
        return st;
    }
    float *lp = nota_tensor_f32(*out);
    const float *xd = nota_tensor_f32(x);
    double cst = -0.5 * (g->logdet + (double)d * log(2.0 * M_PI));
    for (int64_t r0 = 0; r0 < n; r0 += s.rows) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED, "gaussian log_prob: cancelled");
            break;
        }
        int64_t m = n - r0 < s.rows ? n - r0 : s.rows;
        project(g, xd + r0 * d, m, s.ctr, s.zc, s.nrm, s.ld);
        for (int64_t i = 0; i < m; i++) {
            double q = 0, z2 = 0;
            for (int64_t j = 0; j < k; j++) {
                double z = s.zc[i * k + j];
                q += z * z / g->eig[j];
                z2 += z * z;
            }
            if (k < d) {
                double r2 = s.nrm[i] - z2;
                q += (r2 > 0 ? r2 : 0) / g->resid;
            }
            lp[r0 + i] = (float)(cst - 0.5 * q + s.ld[i]);
        }
    }
    scratch_free(&s);
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

nota_status gaussian_encode(gaussian *g, const nota_tensor *x, nota_tensor **out) {
    *out = NULL;
    nota_status st = check_input(g, x, "encode");
    if (st) return st;
    int64_t n = x->shape[0], d = g->d, k = g->k;
    scratch s;
    if ((st = scratch_new(g, n, &s))) return st;
    int64_t shape[2] = {n, k};
    if ((st = nota_tensor_new(NOTA_F32, 2, shape, out))) {
        scratch_free(&s);
        return st;
    }
    float *z = nota_tensor_f32(*out);
    for (int64_t r0 = 0; r0 < n; r0 += s.rows) {
        int64_t m = n - r0 < s.rows ? n - r0 : s.rows;
        project(g, nota_tensor_f32(x) + r0 * d, m, s.ctr, s.zc, NULL, NULL);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++)
                z[(r0 + i) * k + j] = (float)(s.zc[i * k + j] / sqrt(g->eig[j]));
    }
    scratch_free(&s);
    return NOTA_OK;
}

/* y = μ + (z ⊙ √λ) V for n codes, in model space (before the inverse
 * preprocessing; see to_data). */
/* Map model-space values back to data space in place. */
static void to_data(const gaussian *g, nota_tensor *t) {
    if (!g->logit) return;
    float *v = nota_tensor_f32(t);
    for (size_t i = 0; i < nota_tensor_numel(t); i++) v[i] = (float)inv(g, v[i]);
}

static nota_status decode_rows(const gaussian *g, const float *z, int64_t n, double scale,
                               nota_tensor **out) {
    int64_t d = g->d, k = g->k;
    int64_t shape[NOTA_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, g->item_shape, (size_t)g->item_ndim * sizeof(int64_t));
    nota_status st = nota_tensor_new(NOTA_F32, g->item_ndim + 1, shape, out);
    if (st) return st;
    int64_t bl = n < BLOCK ? n : BLOCK;
    double *zb = malloc((size_t)bl * (size_t)k * sizeof(double));
    double *xb = malloc((size_t)bl * (size_t)d * sizeof(double));
    if (!zb || !xb) {
        free(zb);
        free(xb);
        nota_tensor_free(*out);
        *out = NULL;
        return nota_error(NOTA_ENOMEM, "gaussian decode: cannot allocate work buffers");
    }
    float *x = nota_tensor_f32(*out);
    for (int64_t r0 = 0; r0 < n; r0 += bl) {
        int64_t m = n - r0 < bl ? n - r0 : bl;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++)
                zb[i * k + j] = scale * z[(r0 + i) * k + j] * sqrt(g->eig[j]);
        nota_dgemm(false, false, m, d, k, 1.0, zb, k, g->comp, d, 0.0, xb, d);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < d; j++) x[(r0 + i) * d + j] = (float)(xb[i * d + j] + g->mean[j]);
    }
    free(zb);
    free(xb);
    return NOTA_OK;
}

nota_status gaussian_decode(gaussian *g, const nota_tensor *z, nota_tensor **out) {
    *out = NULL;
    if (!g->mean) return nota_error(NOTA_EINVAL, "gaussian: decode before the model was fitted");
    if (!nota_tensor_f32(z) || z->ndim != 2 || z->shape[1] != g->k) {
        char b[96];
        return nota_error(NOTA_ESHAPE, "gaussian decode: expected f32 codes (N, %lld), found %s %s",
                          (long long)g->k, nota_dtype_name(z->dtype),
                          nota_shape_str(z->ndim, z->shape, b, sizeof b));
    }
    nota_status st = nota_tensor_check_finite(z, "codes");
    if (st) return st;
    st = decode_rows(g, nota_tensor_f32(z), z->shape[0], 1.0, out);
    if (!st) to_data(g, *out);
    return st;
}

nota_status gaussian_sample(gaussian *g, int64_t n, double temperature, const nota_host *host,
                            nota_tensor **out) {
    *out = NULL;
    if (!g->mean) return nota_error(NOTA_EINVAL, "gaussian: sample before the model was fitted");
    if (n < 1) return nota_error(NOTA_EINVAL, "gaussian sample: n must be >= 1, got %lld",
                                 (long long)n);
    int64_t d = g->d, k = g->k;
    uint64_t seed = host ? host->seed : 0;
    float *z = malloc((size_t)n * (size_t)k * sizeof *z);
    if (!z) return nota_error(NOTA_ENOMEM, "gaussian sample: cannot allocate %lld codes",
                              (long long)n);
    nota_rng_fill_normal(seed, STREAM_SAMPLE, z, (size_t)n * (size_t)k);
    nota_status st = decode_rows(g, z, n, temperature, out);
    free(z);
    if (st) return st;
    if (k == d) {
        to_data(g, *out);
        return NOTA_OK;
    }
    /* Discarded directions: isotropic noise of the residual variance,
     * projected onto the orthogonal complement of the kept components. */
    int64_t bl = n < BLOCK ? n : BLOCK;
    float *e = malloc((size_t)bl * (size_t)d * sizeof *e);
    double *ed = malloc((size_t)bl * (size_t)d * sizeof *ed);
    double *c = malloc((size_t)bl * (size_t)k * sizeof *c);
    if (!e || !ed || !c) {
        free(e);
        free(ed);
        free(c);
        nota_tensor_free(*out);
        *out = NULL;
        return nota_error(NOTA_ENOMEM, "gaussian sample: cannot allocate residual noise");
    }
    float *x = nota_tensor_f32(*out);
    double sd = temperature * sqrt(g->resid);
    for (int64_t r0 = 0; r0 < n; r0 += bl) {
        int64_t m = n - r0 < bl ? n - r0 : bl;
        /* rows [r0, r0+m) of one long stream: any block size gives the same noise */
        nota_rng_fill_normal_range(seed, STREAM_RESID, (size_t)r0 * (size_t)d, e,
                                   (size_t)m * (size_t)d);
        for (int64_t i = 0; i < m * d; i++) ed[i] = e[i];
        nota_dgemm(false, true, m, k, d, 1.0, ed, d, g->comp, d, 0.0, c, k);
        nota_dgemm(false, false, m, d, k, -1.0, c, k, g->comp, d, 1.0, ed, d);
        for (int64_t i = 0; i < m * d; i++) x[r0 * d + i] += (float)(sd * ed[i]);
    }
    free(e);
    free(ed);
    free(c);
    to_data(g, *out);
    return NOTA_OK;
}

nota_status gaussian_save(const gaussian *g, nota_modelfile *mf) {
    if (!g->mean) return nota_error(NOTA_EINVAL, "gaussian: save before the model was fitted");
    int64_t d = g->d, k = g->k;
    nota_tensor *mean = NULL, *comp = NULL, *eig = NULL, *res = NULL;
    int64_t ks[2] = {k, d}, one = 1;
    nota_status st = nota_tensor_new(NOTA_F32, g->item_ndim, g->item_shape, &mean);
    if (!st) st = nota_tensor_new(NOTA_F32, 2, ks, &comp);
    if (!st) st = nota_tensor_new(NOTA_F32, 1, &k, &eig);
    if (!st) st = nota_tensor_new(NOTA_F32, 1, &one, &res);
    if (!st) {
        for (int64_t j = 0; j < d; j++) nota_tensor_f32(mean)[j] = (float)g->mean[j];
        for (int64_t i = 0; i < k * d; i++) nota_tensor_f32(comp)[i] = (float)g->comp[i];
        for (int64_t i = 0; i < k; i++) nota_tensor_f32(eig)[i] = (float)g->eig[i];
        nota_tensor_f32(res)[0] = (float)g->resid;
        st = nota_modelfile_add_tensor(mf, "mean", mean);
        if (!st) st = nota_modelfile_add_tensor(mf, "components", comp);
        if (!st) st = nota_modelfile_add_tensor(mf, "eigenvalues", eig);
        if (!st) st = nota_modelfile_add_tensor(mf, "residual_variance", res);
    }
    nota_tensor_free(mean);
    nota_tensor_free(comp);
    nota_tensor_free(eig);
    nota_tensor_free(res);
    return st;
}

static nota_status get(const nota_modelfile *mf, const char *name, const nota_tensor **t) {
    nota_status st = nota_modelfile_get_tensor(mf, name, t);
    if (st) return st;
    if ((*t)->dtype != NOTA_F32)
        return nota_error(NOTA_EFORMAT, "gaussian model: tensor '%s' is %s, expected f32", name,
                          nota_dtype_name((*t)->dtype));
    return nota_tensor_check_finite(*t, name);
}

nota_status gaussian_load(const nota_modelfile *mf, gaussian **out) {
    *out = NULL;
    const nota_tensor *mean, *comp, *eig, *res;
    nota_status st = get(mf, "mean", &mean);
    if (!st) st = get(mf, "components", &comp);
    if (!st) st = get(mf, "eigenvalues", &eig);
    if (!st) st = get(mf, "residual_variance", &res);
    if (st) return st;
    int64_t d = (int64_t)nota_tensor_numel(mean);
    char b[96];
    if (comp->ndim != 2 || comp->shape[1] != d || comp->shape[0] > d)
        return nota_error(NOTA_EFORMAT, "gaussian model: tensor 'components' is %s, expected "
                          "(k, %lld) with k <= %lld", nota_shape_str(comp->ndim, comp->shape, b,
                          sizeof b), (long long)d, (long long)d);
    int64_t k = comp->shape[0];
    if (eig->ndim != 1 || eig->shape[0] != k)
        return nota_error(NOTA_EFORMAT, "gaussian model: tensor 'eigenvalues' is %s, expected (%lld,)",
                          nota_shape_str(eig->ndim, eig->shape, b, sizeof b), (long long)k);
    if (res->ndim != 1 || res->shape[0] != 1)
        return nota_error(NOTA_EFORMAT, "gaussian model: tensor 'residual_variance' is %s, "
                          "expected (1,)", nota_shape_str(res->ndim, res->shape, b, sizeof b));
    for (int64_t i = 0; i < k; i++)
        if (!(nota_tensor_f32(eig)[i] > 0))
            return nota_error(NOTA_EFORMAT, "gaussian model: eigenvalue %lld is %g, expected > 0",
                              (long long)i, nota_tensor_f32(eig)[i]);
    if (k < d && !(nota_tensor_f32(res)[0] > 0))
        return nota_error(NOTA_EFORMAT, "gaussian model: residual variance is %g, expected > 0 "
                          "when k (%lld) < d (%lld)", nota_tensor_f32(res)[0], (long long)k,
                          (long long)d);
    gaussian *g;
    if ((st = gaussian_new(nota_modelfile_config(mf), &g))) return st;
    if ((st = alloc_params(g, d, k))) {
        free(g);
        return st;
    }
    g->item_ndim = mean->ndim;
    memcpy(g->item_shape, mean->shape, (size_t)mean->ndim * sizeof(int64_t));
    for (int64_t j = 0; j < d; j++) g->mean[j] = nota_tensor_f32(mean)[j];
    for (int64_t i = 0; i < k * d; i++) g->comp[i] = nota_tensor_f32(comp)[i];
    for (int64_t i = 0; i < k; i++) g->eig[i] = nota_tensor_f32(eig)[i];
    g->resid = k < d ? nota_tensor_f32(res)[0] : 0;
    finish_logdet(g);
    *out = g;
    return NOTA_OK;
}

int gaussian_data_shape(const gaussian *g, int64_t shape[NOTA_MAX_DIMS]) {
    if (!g->mean) return 0;
    memcpy(shape, g->item_shape, (size_t)g->item_ndim * sizeof(int64_t));
    return g->item_ndim;
}

int gaussian_code_shape(const gaussian *g, int64_t shape[NOTA_MAX_DIMS]) {
    if (!g->mean) return 0;
    shape[0] = g->k;
    return 1;
}
