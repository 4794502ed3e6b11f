/* Data-driven rotation directions for a layer, computed on the P-row
 * blocks of the training batch: all patches of all items pooled (P = D for
 * a full layer), or — patch_rotation=each — one patch position's block.
 *
 * pca: the principal axes of the block second moments — removes linear
 * correlation, which random local rotations only remove slowly.
 *
 * ica: orthogonal symmetric FastICA (Hyvärinen 1999, tanh contrast). The
 * likelihood a layer gains is the sum over its coordinates of each
 * marginal's divergence from a Gaussian, so the directions that pay most are
 * the least Gaussian ones — exactly what ICA's negentropy approximation
 * seeks (the RBIG paper's best rotation, and the idea behind SINF's
 * max-sliced-Wasserstein directions). Rows must stay orthonormal so that
 * |det| = 1: after every fixed-point step W ← (W Wᵀ)^{-1/2} W. The search
 * runs on the first `items` items only (the directions need not be exact,
 * only good), starting from a random rotation so that layers differ.
 *
 * Full layers of many values (a 784-pixel image) take the principal axes
 * (of the first full_items items when set: the top axes, which are what a
 * low-rank layer uses, need far fewer items than the whole batch):
 * a FastICA of that size from a random start was slow and poor. With
 * full_search = k the search (ICA or SWD) then runs inside the span of
 * the top k axes only — where the global, class-like structure of the
 * data lives — and replaces those k rows by the k directions it finds
 * (W U_k: still orthonormal, the same subspace); the other rows stay
 * principal axes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

/* Principal axes of the P rows of x (row stride ld), K columns. */
static nota_status pca_of(const float *x, int64_t ld, int64_t P, int64_t K, float *rot) {
    float *c = calloc((size_t)(P * P), sizeof *c);
    double *cd = malloc((size_t)(P * P) * sizeof *cd), *w = malloc((size_t)P * sizeof *w);
    nota_status st = NOTA_OK;
    if (!c || !cd || !w) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate a %lld×%lld covariance",
                        (long long)P, (long long)P);
        goto done;
    }
    nota_sgemm(false, true, P, P, K, 1.0f / (float)K, x, ld, x, ld, 0.0f, c, P);
    for (int64_t i = 0; i < P * P; i++)
        cd[i] = c[i];
    if ((st = nota_syev_desc(P, cd, w))) {
        nota_error_prefix(st, "flow fit: PCA directions: ");
        goto done;
    }
    for (int64_t i = 0; i < P; i++)
        for (int64_t j = 0; j < P; j++)
            rot[i * P + j] = (float)cd[j * P + i];
done:
    free(c);
    free(cd);
    free(w);
    return st;
}

nota_status flow_pca_rotation(const flow_batch *b, int64_t P, int64_t q, float *rot) {
    int64_t QN = b->D / P * b->N;
    return q < 0 ? pca_of(b->a, QN, P, QN, rot) : pca_of(b->a + q * b->N, QN, P, b->N, rot);
}

/* tanh to 1e-4 (Lambert's continued fraction, 7/6): the contrast only
 * steers the search, and this is several times cheaper than tanhf. */
static inline float fast_tanh(float x) {
    if (x > 4.97f) return 1.0f;
    if (x < -4.97f) return -1.0f;
    float x2 = x * x;
    return x * (135135.0f + x2 * (17325.0f + x2 * (378.0f + x2))) /
           (135135.0f + x2 * (62370.0f + x2 * (3150.0f + x2 * 28.0f)));
}

double flow_max_turn(int64_t P, const double *W, const double *prev) {
    double change = 0;
    for (int64_t i = 0; i < P; i++) { /* 1 − |<w_new, w_old>| per direction */
        double d = 0;
        for (int64_t j = 0; j < P; j++)
            d += W[i * P + j] * prev[i * P + j];
        change = fmax(change, 1 - fabs(d));
    }
    return change;
}

nota_status flow_sym_orth(int64_t P, double *W, double *s, double *t, double *lam) {
    nota_dgemm(false, true, P, P, P, 1.0, W, P, W, P, 0.0, s, P);
    nota_status st = nota_syev_desc(P, s, lam);
    if (st) return st;
    for (int64_t i = 0; i < P; i++)
        if (!(lam[i] > 1e-300))
            return nota_error(NOTA_ENUMERIC,
                              "flow fit: direction search collapsed (eigenvalue "
                              "%g)",
                              lam[i]);
    /* t = E diag(λ^-1/2) Eᵀ, then W = t W (s holds E as columns) */
    for (int64_t i = 0; i < P; i++)
        for (int64_t k = 0; k < P; k++)
            t[i * P + k] = s[i * P + k] / sqrt(lam[k]);
    double *u = lam + P; /* P×P scratch after lam */
    nota_dgemm(false, true, P, P, P, 1.0, t, P, s, P, 0.0, u, P);
    nota_dgemm(false, false, P, P, P, 1.0, u, P, W, P, 0.0, t, P);
    memcpy(W, t, (size_t)(P * P) * sizeof *W);
    return NOTA_OK;
}

nota_status flow_ica_rotation(const flow_batch *b, int64_t P, int64_t q, int64_t items, int iters,
                              uint64_t seed, uint64_t stream, float *rot) {
    int64_t Q = b->D / P, M = b->N < items ? b->N : items, N = b->N;
    int64_t nq = q < 0 ? Q : 1, q0 = q < 0 ? 0 : q, C = nq * M;
    size_t pc = (size_t)P * (size_t)C, pp = (size_t)(P * P);
    float *X = malloc(pc * sizeof *X), *Y = malloc(pc * sizeof *Y), *Wf = malloc(pp * sizeof *Wf);
    float *Gf = malloc(pp * sizeof *Gf);
    double *W = malloc(pp * sizeof *W), *s = malloc(pp * sizeof *s), *t = malloc(pp * sizeof *t);
    double *prev = malloc(pp * sizeof *prev);
    double *lam = malloc(((size_t)P + pp) * sizeof *lam), *gp = malloc((size_t)P * sizeof *gp);
    nota_status st = NOTA_OK;
    if (!X || !Y || !Wf || !Gf || !W || !s || !t || !prev || !lam || !gp) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate ICA work space (%lld × %lld)",
                        (long long)P, (long long)C);
        goto done;
    }
    /* X: P rows, the first M items of every block used, side by side */
    for (int64_t i = 0; i < P; i++)
        for (int64_t k = 0; k < nq; k++)
            memcpy(X + i * C + k * M, b->a + (i * Q + q0 + k) * N, (size_t)M * sizeof(float));
    if ((st = nota_random_orthogonal(P, seed, stream, Wf))) goto done;
    for (size_t i = 0; i < pp; i++)
        W[i] = Wf[i];
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < pp; i++)
            Wf[i] = (float)W[i];
        nota_sgemm(false, false, P, C, P, 1.0f, Wf, P, X, C, 0.0f, Y, C);
        for (int64_t i = 0; i < P; i++) {
            double g = 0;
            float *y = Y + i * C;
            for (int64_t c = 0; c < C; c++) {
                float th = fast_tanh(y[c]);
                y[c] = th;
                g += 1.0 - (double)th * th;
            }
            gp[i] = g / (double)C;
        }
        /* fixed point: W+ = E[g(Wx) xᵀ] − diag(E[g'(Wx)]) W */
        nota_sgemm(false, true, P, P, C, 1.0f / (float)C, Y, C, X, C, 0.0f, Gf, P);
        for (int64_t i = 0; i < P; i++)
            for (int64_t j = 0; j < P; j++)
                s[i * P + j] = Gf[i * P + j] - gp[i] * W[i * P + j];
        memcpy(prev, W, pp * sizeof *prev);
        memcpy(W, s, pp * sizeof *W);
        if ((st = flow_sym_orth(P, W, s, t, lam))) goto done;
        double change = flow_max_turn(P, W, prev);
        if (change < 1e-6) break;
    }
    for (size_t i = 0; i < pp; i++)
        rot[i] = (float)W[i];
done:
    free(X);
    free(Y);
    free(Wf);
    free(Gf);
    free(W);
    free(s);
    free(t);
    free(prev);
    free(lam);
    free(gp);
    return st;
}

nota_status flow_subspace_rotation(const flow_batch *b, int64_t P, int64_t k, const flow_opts *o,
                                   uint64_t seed, uint64_t stream, float *rot) {
    int64_t n = o->full_items > 0 && o->full_items < b->N ? o->full_items : b->N;
    nota_status st = pca_of(b->a, b->N, P, n, rot);
    if (st || k <= 0 || o->rotation == ROT_PCA) return st;
    if (k > P) k = P;
    bool swd = o->rotation == ROT_SWD;
    int64_t lim = swd ? o->swd_cols : o->ica_items, M = b->N < lim ? b->N : lim;
    float *xk = malloc((size_t)(k * M) * sizeof *xk), *w = malloc((size_t)(k * k) * sizeof *w);
    float *top = malloc((size_t)(k * P) * sizeof *top);
    if (!xk || !w || !top) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate a %lld-dimensional search space",
                        (long long)k);
        goto done;
    }
    /* the first M items projected on the top k axes, as a k-row batch */
    nota_sgemm(false, false, k, M, P, 1.0f, rot, P, b->a, b->N, 0.0f, xk, M);
    flow_batch sub = {.D = k, .N = M, .a = xk, .threads = b->threads};
    int iters = o->ica_iters > 0 ? (int)o->ica_iters : 8; /* 0 = auto: 8 outside patches */
    st = swd ? flow_swd_rotation(&sub, k, -1, M, iters, seed, stream, w)
             : flow_ica_rotation(&sub, k, -1, M, iters, seed, stream, w);
    if (st) goto done;
    nota_sgemm(false, false, k, P, k, 1.0f, w, k, rot, P, 0.0f, top, P);
    memcpy(rot, top, (size_t)(k * P) * sizeof *rot);
done:
    free(xk);
    free(w);
    free(top);
    return st;
}
