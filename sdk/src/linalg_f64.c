/* Double-precision BLAS wrappers (see nota/linalg.h): covariance accumulation
 * for PCA-style models needs them, because f32 sums over 60,000 images lose
 * the small eigenvalues that dominate a Gaussian's log-determinant. */
#include "nota/linalg.h"

#include <cblas.h>

void nota_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                double *c, int64_t ldc) {
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

void nota_dsyrk_ata(int64_t m, int64_t n, double alpha, const double *a, int64_t lda,
                    double beta, double *c) {
    /* Row-major A^T A is column-major A A^T of the same buffer; fill the upper
     * triangle (row-major), then mirror it. */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)n, (blasint)m, alpha, a,
                (blasint)lda, beta, c, (blasint)n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++) c[i * n + j] = c[j * n + i];
}
