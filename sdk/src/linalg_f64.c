/* Double-precision BLAS wrappers (see nota/linalg.h): covariance accumulation
 * for PCA-style models needs them, because f32 sums over 60,000 images lose
 * the small eigenvalues that dominate a Gaussian's log-determinant. */
#include "nota/linalg.h"

#include <cblas.h>

#include "linalg_threads.h"

void nota_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
                int64_t ldc) {
    nota_gemm_split(true, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void nota_dsyrk_ata(int64_t m, int64_t n, double alpha, const double *a, int64_t lda, double beta,
                    double *c) {
    /* Row-major A^T A is column-major A A^T of the same buffer; fill the upper
     * triangle (row-major), then mirror it. */
    nota_syrk_split(true, m, n, alpha, a, lda, beta, c);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            c[i * n + j] = c[j * n + i];
}
