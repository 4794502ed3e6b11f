/* nota/linalg.h — dense linear algebra on OpenBLAS / LAPACK.
 *
 * Thin, checked wrappers: every function validates shapes and reports LAPACK
 * failures through nota_status, so plugins never include cblas.h/lapacke.h.
 * Matrices are row-major f32 unless stated. Threads: nota_set_threads sets
 * the number of cores libnota uses for the whole process (0 = OpenBLAS's
 * default count: OPENBLAS_NUM_THREADS or the cores). libnota keeps OpenBLAS
 * itself on one thread and cuts large GEMMs and SYRKs into blocks over its
 * own worker pool; LAPACK calls run on one thread below 1024×1024 and on
 * OpenBLAS's threads above. A program that calls OpenBLAS directly after
 * using libnota finds it set to one thread.
 */
#ifndef NOTA_LINALG_H
#define NOTA_LINALG_H

#include "nota/status.h"
#include "nota/tensor.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void nota_set_threads(int n);
int nota_get_threads(void);

/* C = alpha * op(A) op(B) + beta * C on raw row-major arrays; op = transpose
 * when trans_* is true. lda/ldb/ldc are row strides in elements. */
void nota_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc);

/* Tensor form: c (m,n) = alpha * op(a) op(b) + beta * c, shapes checked. */
nota_status nota_matmul(const nota_tensor *a, bool trans_a, const nota_tensor *b, bool trans_b,
                        float alpha, float beta, nota_tensor *c);

/* C (n,n) = alpha * A^T A + beta * C for A (m,n), upper and lower filled. */
void nota_ssyrk_ata(int64_t m, int64_t n, float alpha, const float *a, int64_t lda, float beta,
                    float *c);

/* Symmetric eigendecomposition of the n×n row-major matrix `a` (double, for
 * accuracy on covariance matrices). On return `a` holds the eigenvectors as
 * columns and `w` the eigenvalues in DESCENDING order (columns reordered to
 * match). */
nota_status nota_syev_desc(int64_t n, double *a, double *w);

/* Random orthogonal n×n matrix (row-major f32): QR of a Gaussian matrix drawn
 * from (seed, stream), signs fixed so the distribution is Haar. */
nota_status nota_random_orthogonal(int64_t n, uint64_t seed, uint64_t stream, float *q);

/* In-place Cholesky of the n×n row-major SPD matrix (double): lower factor L
 * with A = L L^T; the upper triangle is zeroed. NOTA_ENUMERIC if not SPD. */
nota_status nota_cholesky(int64_t n, double *a);

/* Double-precision forms, for statistics that f32 accumulation would spoil
 * (covariances whose eigenvalues span many orders of magnitude). */
void nota_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
                int64_t ldc);
/* C (n,n) = alpha * A^T A + beta * C for A (m,n), upper and lower filled. */
void nota_dsyrk_ata(int64_t m, int64_t n, double alpha, const double *a, int64_t lda, double beta,
                    double *c);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_LINALG_H */
