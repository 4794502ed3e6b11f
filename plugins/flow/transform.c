/* Encode, decode and log_prob on batches, and the checks of the data they
 * (and a fit) are given.
 *
 * A batch is stored transposed, D rows of N values, because every step is
 * then a sweep over contiguous memory: a rotation is one GEMM per block of
 * rows (R · X_block, N columns at once), a coordinate's spline runs along
 * its row, and a patch layer's reordering is a copy of whole rows. Rows can
 * sit in any order; `order` records which canonical coordinate each row is,
 * and a layer first brings the rows into its own order (one row copy).
 * Splines run in parallel over item ranges, so each worker owns its slice of
 * the per-item log-determinant and no reduction is needed. A full layer
 * with few active rows runs as a low-rank update (see flow_layer, flow.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "poly.h"
#include "spline.h"

#define ITEM_GRAIN 512

nota_status flow_batch_new(int64_t D, int64_t N, bool logdet, int threads, flow_batch *b) {
    memset(b, 0, sizeof *b);
    size_t dn;
    int64_t shape[2] = {D, N};
    if (nota_shape_size(2, shape, NOTA_F32, &dn, NULL))
        return nota_error(NOTA_ELIMIT, "flow: batch of %lld items × %lld values is too large",
                          (long long)N, (long long)D);
    b->D = D;
    b->N = N;
    b->threads = threads < 1 ? 1 : threads;
    b->a = malloc(dn * sizeof(float));
    b->b = malloc(dn * sizeof(float));
    b->order = malloc((size_t)D * sizeof(int64_t));
    b->pos = malloc((size_t)D * sizeof(int64_t));
    if (logdet) b->logdet = calloc((size_t)N, sizeof(double));
    if (!b->a || !b->b || !b->order || !b->pos || (logdet && !b->logdet)) {
        flow_batch_free(b);
        return nota_error(NOTA_ENOMEM,
                          "flow: cannot allocate a batch of %lld items × %lld values "
                          "(%.0f MB)",
                          (long long)N, (long long)D, 8.0 * (double)dn / 1e6);
    }
    for (int64_t r = 0; r < D; r++)
        b->order[r] = r;
    return NOTA_OK;
}

void flow_batch_free(flow_batch *b) {
    free(b->a);
    free(b->b);
    free(b->order);
    free(b->pos);
    free(b->logdet);
    memset(b, 0, sizeof *b);
}

/* Blocked transpose: src (rows × cols) → dst (cols × rows). */
static void transpose(const float *src, int64_t rows, int64_t cols, float *dst) {
    enum { T = 32 };
    for (int64_t i0 = 0; i0 < rows; i0 += T)
        for (int64_t j0 = 0; j0 < cols; j0 += T) {
            int64_t i1 = i0 + T < rows ? i0 + T : rows, j1 = j0 + T < cols ? j0 + T : cols;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++)
                    dst[j * rows + i] = src[i * cols + j];
        }
}

void flow_batch_load(flow_batch *b, const float *x) {
    transpose(x, b->N, b->D, b->a);
    for (int64_t r = 0; r < b->D; r++)
        b->order[r] = r;
    if (b->logdet) memset(b->logdet, 0, (size_t)b->N * sizeof(double));
}

void flow_batch_store(flow_batch *b, float *x) {
    flow_batch_reorder(b, NULL);
    transpose(b->a, b->D, b->N, x);
}

void flow_batch_reorder(flow_batch *b, const int64_t *perm) {
    int64_t D = b->D, N = b->N;
    bool same = true;
    for (int64_t r = 0; r < D && same; r++)
        same = b->order[r] == (perm ? perm[r] : r);
    if (same) return;
    for (int64_t r = 0; r < D; r++)
        b->pos[b->order[r]] = r;
    for (int64_t r = 0; r < D; r++) {
        int64_t want = perm ? perm[r] : r;
        memcpy(b->b + r * N, b->a + b->pos[want] * N, (size_t)N * sizeof(float));
        b->order[r] = want;
    }
    float *t = b->a;
    b->a = b->b;
    b->b = t;
}

void flow_batch_rotate(flow_batch *b, const float *rot, int64_t P, int64_t nrot, bool transpose_r) {
    int64_t cols = b->D / P * b->N; /* the batch as a (P, Q·N) matrix, see layers.c */
    if (nrot == 1) {
        nota_sgemm(transpose_r, false, P, cols, P, 1.0f, rot, P, b->a, cols, 0.0f, b->b, cols);
    } else {
        /* patch q is the (P, N) submatrix at column q·N with row stride Q·N */
        for (int64_t q = 0; q < nrot; q++)
            nota_sgemm(transpose_r, false, P, b->N, P, 1.0f, rot + q * P * P, P, b->a + q * b->N,
                       cols, 0.0f, b->b + q * b->N, cols);
    }
    float *t = b->a;
    b->a = b->b;
    b->b = t;
}

typedef struct spl_ctx {
    flow_batch *b;
    const flow *f;
    const flow_layer *l;
    int K;
    bool inverse;
} spl_ctx;

/* Polynomial marginals of one row (rarely used: one loop, no fast paths). */
static void poly_row(const spl_ctx *c, const float *pc, float *row, int64_t i0, int64_t i1) {
    int deg = (int)c->f->o.poly_deg, tails = c->f->o.poly_tails;
    double *logdet = c->b->logdet, ld;
    for (int64_t i = i0; i < i1; i++) {
        double *pl = logdet ? &ld : NULL;
        if (c->inverse) {
            row[i] = (float)poly_inv(pc, deg, tails, row[i], pl);
            if (logdet) logdet[i] -= ld;
        } else {
            row[i] = (float)poly_fwd(pc, deg, tails, row[i], pl);
            if (logdet) logdet[i] += ld;
        }
    }
}

static void spl_range(void *p, int64_t i0, int64_t i1, int thread) {
    spl_ctx *c = p;
    flow_batch *b = c->b;
    int K = c->K, S = c->f->S;
    for (int64_t r = 0; r < b->D; r++) {
        if (!c->l->active[r]) continue;
        const float *kn = c->l->knots + r * S;
        float *row = b->a + r * b->N;
        double ld;
        if (c->f->o.marginal == MARG_POLY) {
            poly_row(c, kn, row, i0, i1);
        } else if (b->logdet) {
            for (int64_t i = i0; i < i1; i++) {
                if (c->inverse) {
                    row[i] = (float)spline_inv(kn, K, row[i], &ld);
                    b->logdet[i] -= ld;
                } else {
                    row[i] = (float)spline_fwd(kn, K, row[i], &ld);
                    b->logdet[i] += ld;
                }
            }
        } else if (c->inverse) {
            for (int64_t i = i0; i < i1; i++)
                row[i] = (float)spline_inv(kn, K, row[i], NULL);
        } else {
            for (int64_t i = i0; i < i1; i++)
                row[i] = (float)spline_fwd(kn, K, row[i], NULL);
        }
    }
}

void flow_batch_splines(flow_batch *b, const flow *f, const flow_layer *l, bool inverse) {
    spl_ctx c = {b, f, l, f->K, inverse};
    flow_parallel(b->threads, b->N, ITEM_GRAIN, spl_range, &c);
}

typedef struct ln_ctx {
    const flow_batch *b;
    double *out;
} ln_ctx;

static void ln_range(void *p, int64_t i0, int64_t i1, int thread) {
    ln_ctx *c = p;
    const flow_batch *b = c->b;
    for (int64_t r = 0; r < b->D; r++) {
        const float *row = b->a + r * b->N;
        for (int64_t i = i0; i < i1; i++)
            c->out[i] += norm_logpdf(row[i]);
    }
}

void flow_batch_lognormal(const flow_batch *b, double *out) {
    ln_ctx c = {b, out};
    flow_parallel(b->threads, b->N, ITEM_GRAIN, ln_range, &c);
}

nota_status flow_pre_check(const flow *f, const float *x, int64_t n, const char *what) {
    if (!f->logit) return NOTA_OK;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f->D; j++) {
            float v = x[i * f->D + j];
            if (!(v >= 0.0f && v <= 256.0f))
                return nota_error(NOTA_EINVAL,
                                  "flow %s: item %lld, element %lld is %g, outside "
                                  "[0, 256] (image data are dequantized 8-bit values; use "
                                  "preprocess=none for other data)",
                                  what, (long long)i, (long long)j, (double)v);
        }
    return NOTA_OK;
}

typedef struct pre_ctx {
    const flow *f;
    flow_batch *b;
    bool inverse;
} pre_ctx;

static void pre_range(void *p, int64_t i0, int64_t i1, int thread) {
    pre_ctx *c = p;
    const flow *f = c->f;
    flow_batch *b = c->b;
    double lam = f->lambda, sq = 1 - 2 * lam, lsq = log(sq / 256.0);
    for (int64_t r = 0; r < b->D; r++) {
        float *row = b->a + r * b->N;
        double mu = f->mu[r], isd = f->inv_sd[r];
        for (int64_t i = i0; i < i1; i++) {
            double v = row[i];
            if (!c->inverse) {
                if (f->logit) {
                    double q = lam + sq * v / 256.0;
                    double lq = log(q), l1q = log1p(-q);
                    v = lq - l1q;
                    if (b->logdet) b->logdet[i] += lsq - lq - l1q;
                }
                row[i] = (float)((v - mu) * isd);
            } else {
                v = v / isd + mu;
                if (f->logit) v = (1.0 / (1.0 + exp(-v)) - lam) / sq * 256.0;
                row[i] = (float)v;
            }
        }
    }
    if (b->logdet && !c->inverse) {
        double s = 0;
        for (int64_t r = 0; r < b->D; r++)
            s += log(f->inv_sd[r]);
        for (int64_t i = i0; i < i1; i++)
            b->logdet[i] += s;
    }
}

void flow_pre_fwd(const flow *f, flow_batch *b) {
    flow_batch_reorder(b, NULL);
    pre_ctx c = {f, b, false};
    flow_parallel(b->threads, b->N, ITEM_GRAIN, pre_range, &c);
}

void flow_pre_inv(const flow *f, flow_batch *b) {
    flow_batch_reorder(b, NULL);
    pre_ctx c = {f, b, true};
    flow_parallel(b->threads, b->N, ITEM_GRAIN, pre_range, &c);
}

typedef struct lr_ctx {
    flow_batch *b;
    const flow *f;
    const flow_layer *l;
    float *y; /* n_act × N: projections in, map(y) − y out */
    bool inverse;
} lr_ctx;

static void lr_range(void *p, int64_t i0, int64_t i1, int thread) {
    lr_ctx *c = p;
    const flow *f = c->f;
    flow_batch *b = c->b;
    bool poly = f->o.marginal == MARG_POLY;
    int K = f->K, deg = (int)f->o.poly_deg, tails = f->o.poly_tails;
    for (int64_t j = 0; j < c->l->n_act; j++) {
        const float *kn = c->l->knots + c->l->act[j] * f->S;
        float *row = c->y + j * b->N;
        double ld = 0, *pl = b->logdet ? &ld : NULL;
        for (int64_t i = i0; i < i1; i++) {
            double v = row[i], m;
            if (poly)
                m = c->inverse ? poly_inv(kn, deg, tails, v, pl) : poly_fwd(kn, deg, tails, v, pl);
            else
                m = c->inverse ? spline_inv(kn, K, v, pl) : spline_fwd(kn, K, v, pl);
            row[i] = (float)(m - v);
            if (pl) b->logdet[i] += c->inverse ? -ld : ld;
        }
    }
}

/* x + R_Aᵀ (S(R_A x) − R_A x), see flow_layer (flow.h); b->b holds R_A x */
static void layer_lowrank(const flow *f, const flow_layer *l, flow_batch *b, bool inverse) {
    flow_batch_reorder(b, NULL);
    int64_t a = l->n_act, P = l->P, N = b->N;
    nota_sgemm(false, false, a, N, P, 1.0f, l->rot_act, P, b->a, N, 0.0f, b->b, N);
    lr_ctx c = {b, f, l, b->b, inverse};
    flow_parallel(b->threads, N, ITEM_GRAIN, lr_range, &c);
    nota_sgemm(true, false, P, N, a, 1.0f, l->rot_act, P, b->b, N, 1.0f, b->a, N);
}

/* y = Rᵀ S(R x): the splines act in the rotated basis and the layer
 * rotates back, so every layer starts and ends in pixel space — patch
 * layers keep their spatial meaning after any number of full layers. */
nota_status flow_layer_fwd(const flow *f, const flow_layer *l, flow_batch *b) {
    if (l->ar) return flow_ar_apply(f, l, b, false);
    if (l->n_act) {
        layer_lowrank(f, l, b, false);
        return NOTA_OK;
    }
    flow_batch_reorder(b, l->perm);
    flow_batch_rotate(b, l->rot, l->P, l->nrot, false);
    flow_batch_splines(b, f, l, false);
    flow_batch_rotate(b, l->rot, l->P, l->nrot, true);
    return NOTA_OK;
}

/* x = Rᵀ S⁻¹(R y) */
nota_status flow_layer_inv(const flow *f, const flow_layer *l, flow_batch *b) {
    if (l->ar) return flow_ar_apply(f, l, b, true);
    if (l->n_act) {
        layer_lowrank(f, l, b, true);
        return NOTA_OK;
    }
    flow_batch_reorder(b, l->perm);
    flow_batch_rotate(b, l->rot, l->P, l->nrot, false);
    flow_batch_splines(b, f, l, true);
    flow_batch_rotate(b, l->rot, l->P, l->nrot, true);
    return NOTA_OK;
}

/* Training (and validation) data of a fit: shape, finiteness, range; sets
 * the item geometry and the preprocessing the model will use. */
nota_status flow_fit_check(flow *f, const nota_tensor *train, const nota_tensor *valid) {
    if (!nota_tensor_f32(train) || train->ndim < 2)
        return nota_error(NOTA_EINVAL,
                          "flow fit: expected f32 training data (N, ...), found %s "
                          "with %d dims",
                          nota_dtype_name(train->dtype), train->ndim);
    nota_status st = nota_tensor_check_finite(train, "training data");
    if (st) return st;
    if (valid) {
        bool ok = nota_tensor_f32(valid) && valid->ndim == train->ndim;
        for (int i = 1; ok && i < train->ndim; i++)
            ok = valid->shape[i] == train->shape[i];
        if (!ok) {
            char a[128], b[128];
            return nota_error(NOTA_ESHAPE,
                              "flow fit: validation data %s do not match the "
                              "training data %s",
                              nota_shape_str(valid->ndim, valid->shape, a, sizeof a),
                              nota_shape_str(train->ndim, train->shape, b, sizeof b));
        }
        if ((st = nota_tensor_check_finite(valid, "validation data"))) return st;
    }
    int64_t d = (int64_t)nota_tensor_row_size(train);
    if (d > FLOW_MAX_DIM)
        return nota_error(NOTA_ELIMIT, "flow fit: items of %lld values exceed the limit %d",
                          (long long)d, FLOW_MAX_DIM);
    f->item_ndim = train->ndim - 1;
    memcpy(f->item_shape, train->shape + 1, (size_t)f->item_ndim * sizeof(int64_t));
    f->D = d;
    if (f->item_ndim == 3) {
        f->C = (int)train->shape[1];
        f->H = (int)train->shape[2];
        f->W = (int)train->shape[3];
    }
    f->logit = f->o.preprocess == PRE_LOGIT || (f->o.preprocess == PRE_AUTO && f->item_ndim == 3);
    f->lambda = (float)f->o.logit_lambda;
    f->K = (int)f->o.knots;
    f->S = f->o.marginal == MARG_POLY ? POLY_STRIDE((int)f->o.poly_deg) : 3 * f->K;
    st = flow_pre_check(f, nota_tensor_f32(train), train->shape[0], "fit");
    if (!st && valid) st = flow_pre_check(f, nota_tensor_f32(valid), valid->shape[0], "fit");
    return st;
}

nota_status flow_check_items(const flow *f, const nota_tensor *x, const char *what) {
    if (!f->mu) return nota_error(NOTA_EINVAL, "flow: %s before the model was fitted", what);
    if (!nota_tensor_f32(x) || x->ndim < 1)
        return nota_error(NOTA_EINVAL, "flow %s: expected an f32 tensor of items, found %s", what,
                          nota_dtype_name(x->dtype));
    bool ok = x->ndim == f->item_ndim + 1;
    for (int i = 0; ok && i < f->item_ndim; i++)
        ok = x->shape[i + 1] == f->item_shape[i];
    /* codes and flat vectors of the right length are accepted too */
    if (!ok && x->ndim == 2 && x->shape[1] == f->D) ok = true;
    if (!ok) {
        char a[128], b[128];
        int64_t want[NOTA_MAX_DIMS + 1] = {-1};
        memcpy(want + 1, f->item_shape, (size_t)f->item_ndim * sizeof(int64_t));
        return nota_error(NOTA_ESHAPE, "flow %s: model expects items of shape %s, data is %s", what,
                          nota_shape_str(f->item_ndim + 1, want, a, sizeof a),
                          nota_shape_str(x->ndim, x->shape, b, sizeof b));
    }
    return nota_tensor_check_finite(x, what);
}

static int host_threads(const nota_host *host) {
    int t = host ? host->threads : 1;
    return t < 1 ? 1 : t > 64 ? 64 : t;
}

nota_status flow_encode(flow *f, const nota_tensor *x, const nota_host *host, bool want_z,
                        nota_tensor **z, nota_tensor **lp) {
    if (z) *z = NULL;
    if (lp) *lp = NULL;
    const char *what = want_z ? "encode" : "log_prob";
    nota_status st = flow_check_items(f, x, what);
    if (st) return st;
    int64_t n = x->shape[0];
    if ((st = flow_pre_check(f, nota_tensor_f32(x), n, what))) return st;
    flow_batch b;
    if ((st = flow_batch_new(f->D, n, lp != NULL, host_threads(host), &b))) return st;
    flow_batch_load(&b, nota_tensor_f32(x));
    flow_pre_fwd(f, &b);
    for (int l = 0; l < f->n_layers; l++) {
        if (nota_cancelled(host)) {
            flow_batch_free(&b);
            return nota_error(NOTA_ECANCELED, "flow %s: cancelled", what);
        }
        if ((st = flow_layer_fwd(f, &f->layers[l], &b))) {
            flow_batch_free(&b);
            return st;
        }
    }
    flow_batch_reorder(&b, NULL);
    if (lp) {
        st = nota_tensor_new(NOTA_F32, 1, &n, lp);
        if (!st) {
            flow_batch_lognormal(&b, b.logdet);
            for (int64_t i = 0; i < n; i++)
                nota_tensor_f32(*lp)[i] = (float)b.logdet[i];
        }
    }
    if (!st && want_z) {
        int64_t shape[NOTA_MAX_DIMS];
        shape[0] = n;
        memcpy(shape + 1, f->item_shape, (size_t)f->item_ndim * sizeof(int64_t));
        st = nota_tensor_new(NOTA_F32, f->item_ndim + 1, shape, z);
        if (!st) flow_batch_store(&b, nota_tensor_f32(*z));
    }
    flow_batch_free(&b);
    if (st && lp) {
        nota_tensor_free(*lp);
        *lp = NULL;
    }
    return st;
}

nota_status flow_decode(flow *f, const float *z, int64_t n, double scale, const nota_host *host,
                        nota_tensor **out) {
    *out = NULL;
    flow_batch b;
    nota_status st = flow_batch_new(f->D, n, false, host_threads(host), &b);
    if (st) return st;
    flow_batch_load(&b, z);
    if (scale != 1.0)
        for (size_t i = 0; i < (size_t)(f->D * n); i++)
            b.a[i] = (float)(b.a[i] * scale);
    for (int l = f->n_layers - 1; l >= 0; l--) {
        if (nota_cancelled(host)) {
            flow_batch_free(&b);
            return nota_error(NOTA_ECANCELED, "flow decode: cancelled");
        }
        if ((st = flow_layer_inv(f, &f->layers[l], &b))) {
            flow_batch_free(&b);
            return st;
        }
    }
    flow_pre_inv(f, &b);
    int64_t shape[NOTA_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, f->item_shape, (size_t)f->item_ndim * sizeof(int64_t));
    st = nota_tensor_new(NOTA_F32, f->item_ndim + 1, shape, out);
    if (!st) flow_batch_store(&b, nota_tensor_f32(*out));
    flow_batch_free(&b);
    return st;
}
