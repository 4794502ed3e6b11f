/* Max-sliced-Wasserstein directions (rotation=swd), the direction search of
 * SINF (Dai & Seljak 2021, "Sliced Iterative Normalizing Flows").
 *
 * A layer gains, per coordinate, how far that coordinate's marginal is from
 * N(0, 1); SINF picks the directions where the data's 1-D projection is
 * farthest from a standard normal in Wasserstein-2 distance,
 *   J(W) = (1/C) Σ_i Σ_c (w_i·x_c − q_rank(c))²,  q_j = Φ⁻¹((j + ½)/C),
 * the sum over the P orthonormal rows of W. Unlike ICA's negentropy it
 * also counts a wrong mean or scale. With the ranks held fixed J is a
 * quadratic in W and its gradient is 2 R Xᵀ / C, R the rank-matched
 * residuals; each step goes W ← W + R Xᵀ / C (for whitened data that is
 * 2W − B, B the matched cross-moments: a fixed step that needs no tuning)
 * and is projected back to the orthogonal matrices by W ← (W Wᵀ)^{-1/2} W.
 * Sorting dominates, so the search looks at no more than `cols` columns
 * (the first cols/blocks items of every block used), started from a random
 * rotation so that layers differ.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "spline.h"

typedef struct {
    float v;
    int32_t i;
} keyed;

static int by_value(const void *a, const void *b) {
    float x = ((const keyed *)a)->v, y = ((const keyed *)b)->v;
    return (x > y) - (x < y);
}

nota_status flow_swd_rotation(const flow_batch *b, int64_t P, int64_t q, int64_t cols, int iters,
                              uint64_t seed, uint64_t stream, float *rot) {
    int64_t Q = b->D / P, N = b->N, nq = q < 0 ? Q : 1, q0 = q < 0 ? 0 : q;
    int64_t M = (cols + nq - 1) / nq;
    if (M > N) M = N;
    if (M < 1) M = 1;
    int64_t C = nq * M;
    size_t pc = (size_t)P * (size_t)C, pp = (size_t)(P * P);
    float *X = malloc(pc * sizeof *X), *Y = malloc(pc * sizeof *Y), *Wf = malloc(pp * sizeof *Wf);
    float *Gf = malloc(pp * sizeof *Gf);
    double *W = malloc(pp * sizeof *W), *s = malloc(pp * sizeof *s), *t = malloc(pp * sizeof *t);
    double *prev = malloc(pp * sizeof *prev), *lam = malloc(((size_t)P + pp) * sizeof *lam);
    double *qt = malloc((size_t)C * sizeof *qt);
    keyed *kv = malloc((size_t)C * sizeof *kv);
    nota_status st = NOTA_OK;
    if (!X || !Y || !Wf || !Gf || !W || !s || !t || !prev || !lam || !qt || !kv) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate SWD work space (%lld × %lld)",
                        (long long)P, (long long)C);
        goto done;
    }
    for (int64_t i = 0; i < P; i++)
        for (int64_t k = 0; k < nq; k++)
            memcpy(X + i * C + k * M, b->a + (i * Q + q0 + k) * N, (size_t)M * sizeof(float));
    for (int64_t j = 0; j < C; j++)
        qt[j] = norm_ppf(((double)j + 0.5) / (double)C);
    if ((st = nota_random_orthogonal(P, seed, stream, Wf))) goto done;
    for (size_t i = 0; i < pp; i++)
        W[i] = Wf[i];
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < pp; i++)
            Wf[i] = (float)W[i];
        nota_sgemm(false, false, P, C, P, 1.0f, Wf, P, X, C, 0.0f, Y, C);
        for (int64_t i = 0; i < P; i++) { /* residuals against the matched quantiles */
            float *y = Y + i * C;
            for (int64_t c = 0; c < C; c++)
                kv[c] = (keyed){y[c], (int32_t)c};
            qsort(kv, (size_t)C, sizeof *kv, by_value);
            for (int64_t j = 0; j < C; j++)
                y[kv[j].i] = (float)((double)kv[j].v - qt[j]);
        }
        nota_sgemm(false, true, P, P, C, 1.0f / (float)C, Y, C, X, C, 0.0f, Gf, P);
        memcpy(prev, W, pp * sizeof *prev);
        for (size_t i = 0; i < pp; i++)
            W[i] += Gf[i];
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
    free(qt);
    free(kv);
    return st;
}
