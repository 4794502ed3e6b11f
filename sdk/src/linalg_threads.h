/* linalg_threads.h — libnota-internal BLAS threading (see linalg_threads.c).
 *
 * OpenBLAS runs on one thread; nota_gemm_split and nota_syrk_split cut a
 * GEMM / SYRK over the nota_par_for pool; large LAPACK calls run in "wide"
 * sections with OpenBLAS's own threads.
 */
#ifndef NOTA_LINALG_THREADS_H
#define NOTA_LINALG_THREADS_H

#include <stdbool.h>
#include <stdint.h>

/* Pins OpenBLAS to one thread (once); every BLAS wrapper calls it first. */
void nota_blas_init(void);

/* C = alpha op(A) op(B) + beta C, row-major, f32 (f64 = false) or f64. */
void nota_gemm_split(bool f64, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                     double beta, void *c, int64_t ldc);

/* Upper triangle of C (n×n, row-major) = alpha A^T A + beta C for A (m, n)
 * with row stride lda; entries below the diagonal inside the blocks' square
 * parts may be written too (the callers mirror the upper triangle anyway). */
void nota_syrk_split(bool f64, int64_t m, int64_t n, double alpha, const void *a, int64_t lda,
                     double beta, void *c);

/* LAPACK on an n×n matrix: from this n on, OpenBLAS threads the call
 * (begin returns whether it did; pass that to end). */
#define NOTA_LAPACK_WIDE_N 1024
bool nota_blas_wide_begin(int64_t n);
void nota_blas_wide_end(bool began);

#endif /* NOTA_LINALG_THREADS_H */
