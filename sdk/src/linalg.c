/* Dense linear algebra on OpenBLAS + LAPACKE (see nota/linalg.h).
 *
 * The raw-array calls (nota_sgemm, nota_ssyrk_ata) are CBLAS calls with no
 * copies — a GEMM cut into blocks over libnota's threads (linalg_threads.c)
 * — so GEMM time is the model's time; bench/bench_gemm.c checks that this
 * wrapper keeps up with OpenBLAS's own threaded cblas_sgemm. The LAPACK
 * wrappers validate their arguments, refuse NaN/Inf before LAPACK sees them,
 * and turn LAPACK's `info` into a nota_status with a message. Sizes are int64
 * in the API but LAPACK/BLAS here take 32-bit ints, so larger sizes are
 * refused (NOTA_ELIMIT) where a status can be returned.
 */
#include "nota/linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg_threads.h"
#include "nota/rng.h"

void nota_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc) {
    nota_gemm_split(false, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* "a (2, 3)" or "b^T (5, 4)": the stored shape, marked when used transposed. */
static const char *operand_str(const char *name, const nota_tensor *t, bool trans, char *buf,
                               size_t cap) {
    char shape[96];
    nota_shape_str(t->ndim, t->shape, shape, sizeof shape);
    snprintf(buf, cap, "%s%s %s", name, trans ? "^T" : "", shape);
    return buf;
}

static nota_status check_operand(const char *name, const nota_tensor *t) {
    if (!t) return nota_error(NOTA_EINVAL, "matmul: %s is NULL", name);
    char shape[96];
    if (t->dtype != NOTA_F32)
        return nota_error(NOTA_EINVAL, "matmul: %s must be f32, found %s", name,
                          nota_dtype_name(t->dtype));
    if (t->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "matmul: %s must be on the CPU", name);
    if (t->ndim != 2)
        return nota_error(NOTA_ESHAPE, "matmul: %s must be 2-D, found %s", name,
                          nota_shape_str(t->ndim, t->shape, shape, sizeof shape));
    if (t->shape[0] > INT_MAX || t->shape[1] > INT_MAX)
        return nota_error(NOTA_ELIMIT, "matmul: %s %s has a dimension above %d (BLAS int)", name,
                          nota_shape_str(t->ndim, t->shape, shape, sizeof shape), INT_MAX);
    return NOTA_OK;
}

static bool overlaps(const nota_tensor *x, const nota_tensor *y) {
    uintptr_t x0 = (uintptr_t)x->data, y0 = (uintptr_t)y->data;
    return x0 < y0 + y->nbytes && y0 < x0 + x->nbytes;
}

nota_status nota_matmul(const nota_tensor *a, bool trans_a, const nota_tensor *b, bool trans_b,
                        float alpha, float beta, nota_tensor *c) {
    nota_status st;
    if ((st = check_operand("a", a)) || (st = check_operand("b", b)) ||
        (st = check_operand("c", c)))
        return st;
    int64_t m = trans_a ? a->shape[1] : a->shape[0];
    int64_t ka = trans_a ? a->shape[0] : a->shape[1];
    int64_t kb = trans_b ? b->shape[1] : b->shape[0];
    int64_t n = trans_b ? b->shape[0] : b->shape[1];
    char sa[128], sb[128], sc[128];
    operand_str("a", a, trans_a, sa, sizeof sa);
    operand_str("b", b, trans_b, sb, sizeof sb);
    operand_str("c", c, false, sc, sizeof sc);
    if (ka != kb)
        return nota_error(NOTA_ESHAPE,
                          "matmul: %s x %s -> %s: inner dimensions %lld and %lld differ", sa, sb,
                          sc, (long long)ka, (long long)kb);
    if (c->shape[0] != m || c->shape[1] != n)
        return nota_error(NOTA_ESHAPE, "matmul: %s x %s -> %s: c must be (%lld, %lld)", sa, sb, sc,
                          (long long)m, (long long)n);
    /* BLAS reads a and b while writing c: an overlap gives garbage silently. */
    if (overlaps(c, a) || overlaps(c, b))
        return nota_error(NOTA_EINVAL, "matmul: %s x %s -> %s: c overlaps %s", sa, sb, sc,
                          overlaps(c, a) ? "a" : "b");
    nota_sgemm(trans_a, trans_b, m, n, ka, alpha, a->data, a->shape[1], b->data, b->shape[1], beta,
               c->data, n);
    return NOTA_OK;
}

void nota_ssyrk_ata(int64_t m, int64_t n, float alpha, const float *a, int64_t lda, float beta,
                    float *c) {
    /* Row-major A (m,n) used transposed gives A^T A; SYRK fills only the upper
     * triangle (and only reads it for beta), so mirror it afterwards. */
    nota_syrk_split(false, m, n, alpha, a, lda, beta, c);
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            c[i * n + j] = c[j * n + i];
}

/* Shared argument checks for the n×n LAPACK wrappers. */
static nota_status check_square(const char *fn, int64_t n, const void *a, const char *aname) {
    if (n < 1) return nota_error(NOTA_EINVAL, "%s: n is %lld, expected >= 1", fn, (long long)n);
    if (n > 46340) /* n*n must fit LAPACK's 32-bit workspace sizes */
        return nota_error(NOTA_ELIMIT, "%s: n is %lld, above the limit 46340", fn, (long long)n);
    if (!a) return nota_error(NOTA_EINVAL, "%s: %s is NULL", fn, aname);
    return NOTA_OK;
}

static nota_status check_finite(const char *fn, int64_t n, const double *a) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(a[i * n + j]))
                return nota_error(NOTA_ENUMERIC, "%s: element (%lld, %lld) is %g", fn, (long long)i,
                                  (long long)j, a[i * n + j]);
    return NOTA_OK;
}

nota_status nota_syev_desc(int64_t n, double *a, double *w) {
    nota_status st = check_square("syev", n, a, "a");
    if (st) return st;
    if (!w) return nota_error(NOTA_EINVAL, "syev: w is NULL");
    if ((st = check_finite("syev", n, a))) return st;
    bool wide = nota_blas_wide_begin(n);
    lapack_int info =
        LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, a, (lapack_int)n, w);
    nota_blas_wide_end(wide);
    if (info < 0)
        return nota_error(NOTA_EINVAL, "syev: LAPACKE_dsyevd rejected argument %d", (int)-info);
    if (info > 0)
        return nota_error(NOTA_ENUMERIC,
                          "syev: LAPACKE_dsyevd did not converge on a %lld x %lld matrix "
                          "(info %d)",
                          (long long)n, (long long)n, (int)info);
    /* LAPACK sorts ascending; reverse the values and, row by row, the
     * eigenvector columns so that column j still belongs to w[j]. */
    for (int64_t i = 0, j = n - 1; i < j; i++, j--) {
        double t = w[i];
        w[i] = w[j];
        w[j] = t;
    }
    for (int64_t r = 0; r < n; r++) {
        double *row = a + r * n;
        for (int64_t i = 0, j = n - 1; i < j; i++, j--) {
            double t = row[i];
            row[i] = row[j];
            row[j] = t;
        }
    }
    return NOTA_OK;
}

nota_status nota_random_orthogonal(int64_t n, uint64_t seed, uint64_t stream, float *q) {
    nota_status st = check_square("random_orthogonal", n, q, "q");
    if (st) return st;
    size_t nn = (size_t)n * (size_t)n;
    /* QR in double: Q is orthogonal to ~1e-15 before the cast to f32. */
    double *a = malloc(nn * sizeof *a);
    double *tau = malloc((size_t)n * sizeof *tau);
    if (!a || !tau) {
        free(a);
        free(tau);
        return nota_error(NOTA_ENOMEM, "random_orthogonal: cannot allocate a %lld x %lld matrix",
                          (long long)n, (long long)n);
    }
    /* Draw the Gaussian matrix into q (same size) and widen it. */
    nota_rng_fill_normal(seed, stream, q, nn);
    for (size_t i = 0; i < nn; i++)
        a[i] = q[i];
    lapack_int ni = (lapack_int)n;
    bool wide = nota_blas_wide_begin(n);
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, ni, ni, a, ni, tau);
    if (info == 0) {
        /* Haar measure needs R with a positive diagonal (Mezzadri 2007):
         * scale column j of Q by sign(R_jj). Keep the signs in q's first row
         * before dorgqr overwrites R. */
        for (int64_t j = 0; j < n; j++)
            q[j] = a[j * n + j] < 0 ? -1.0f : 1.0f;
        info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, ni, ni, ni, a, ni, tau);
    }
    nota_blas_wide_end(wide);
    if (info != 0) {
        free(a);
        free(tau);
        return nota_error(NOTA_ENUMERIC,
                          "random_orthogonal: LAPACK QR of a %lld x %lld matrix "
                          "failed (info %d)",
                          (long long)n, (long long)n, (int)info);
    }
    for (int64_t j = 0; j < n; j++)
        tau[j] = q[j]; /* tau is free now: hold the signs */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            q[i * n + j] = (float)(a[i * n + j] * tau[j]);
    free(a);
    free(tau);
    return NOTA_OK;
}

nota_status nota_cholesky(int64_t n, double *a) {
    nota_status st = check_square("cholesky", n, a, "a");
    if (st) return st;
    if ((st = check_finite("cholesky", n, a))) return st;
    /* dpotrf overwrites the matrix as it goes; keep a copy so that a refused
     * matrix comes back unchanged (callers typically add jitter and retry). */
    size_t nn = (size_t)n * (size_t)n;
    double *orig = malloc(nn * sizeof *orig);
    if (!orig)
        return nota_error(NOTA_ENOMEM, "cholesky: cannot allocate a %lld x %lld copy", (long long)n,
                          (long long)n);
    memcpy(orig, a, nn * sizeof *a);
    bool wide = nota_blas_wide_begin(n);
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
    nota_blas_wide_end(wide);
    if (info != 0) {
        memcpy(a, orig, nn * sizeof *a);
        free(orig);
        if (info < 0)
            return nota_error(NOTA_EINVAL, "cholesky: LAPACKE_dpotrf rejected argument %d",
                              (int)-info);
        return nota_error(NOTA_ENUMERIC,
                          "cholesky: matrix is not positive definite (leading minor of order %d "
                          "of %lld is not positive)",
                          (int)info, (long long)n);
    }
    free(orig);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++)
            a[i * n + j] = 0.0;
    return NOTA_OK;
}
