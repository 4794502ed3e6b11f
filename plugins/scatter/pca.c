/* Whitened PCA of scattering vectors, accumulated chunk by chunk.
 *
 * The covariance is accumulated in double around a shift (the first chunk's
 * mean) so that large means (order-0 coefficients) do not swamp the small
 * variances of order 2: cov = (G − n δδ^T) / (n − 1), with G = Σ (s − shift)
 * (s − shift)^T and δ = Σ (s − shift) / n. The eigendecomposition is LAPACK's
 * (nota_syev_desc). Components whose eigenvalue is below 1e-9 of the largest
 * are numerically zero and never kept, so whitening never divides by ~0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

nota_status scat_pca_acc_init(scat_pca_acc *a, int64_t D, int64_t chunk) {
    memset(a, 0, sizeof *a);
    if (D < 1 || D > 65536 || chunk < 1)
        return nota_error(NOTA_EINVAL, "scatter pca: %lld features outside 1..65536", (long long)D);
    a->D = D, a->cap = chunk;
    a->shift = calloc((size_t)D, sizeof *a->shift);
    a->sum = calloc((size_t)D, sizeof *a->sum);
    a->gram = calloc((size_t)(D * D), sizeof *a->gram);
    a->rows = malloc((size_t)(D * chunk) * sizeof *a->rows);
    if (!a->shift || !a->sum || !a->gram || !a->rows) {
        scat_pca_acc_release(a);
        return nota_error(NOTA_ENOMEM, "scatter pca: cannot allocate the %lld × %lld covariance",
                          (long long)D, (long long)D);
    }
    return NOTA_OK;
}

void scat_pca_acc_release(scat_pca_acc *a) {
    free(a->shift), free(a->sum), free(a->gram), free(a->rows);
    memset(a, 0, sizeof *a);
}

nota_status scat_pca_acc_add(scat_pca_acc *a, const float *rows, int64_t m) {
    if (m < 1 || m > a->cap)
        return nota_error(NOTA_EINVAL, "scatter pca: chunk of %lld rows, buffer holds %lld",
                          (long long)m, (long long)a->cap);
    int64_t D = a->D;
    if (a->n == 0) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < D; j++)
                a->shift[j] += rows[i * D + j];
        for (int64_t j = 0; j < D; j++)
            a->shift[j] /= (double)m;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < D; j++) {
            double v = (double)rows[i * D + j] - a->shift[j];
            a->rows[i * D + j] = v;
            a->sum[j] += v;
        }
    nota_dsyrk_ata(m, D, 1.0, a->rows, D, 1.0, a->gram);
    a->n += m;
    return NOTA_OK;
}

void scat_pca_release(scat_pca *p) {
    free(p->mean), free(p->whiten), free(p->eig);
    memset(p, 0, sizeof *p);
}

nota_status scat_pca_finish(const scat_pca_acc *a, int64_t k_max, scat_pca *out) {
    memset(out, 0, sizeof *out);
    int64_t D = a->D, n = a->n;
    if (n < 2)
        return nota_error(NOTA_EINVAL, "scatter pca: need at least 2 items, got %lld",
                          (long long)n);
    double *cov = malloc((size_t)(D * D) * sizeof *cov), *w = malloc((size_t)D * sizeof *w);
    if (!cov || !w) {
        free(cov), free(w);
        return nota_error(NOTA_ENOMEM, "scatter pca: cannot allocate the %lld × %lld covariance",
                          (long long)D, (long long)D);
    }
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double di = a->sum[i] / (double)n, dj = a->sum[j] / (double)n;
            cov[i * D + j] = (a->gram[i * D + j] - (double)n * di * dj) / (double)(n - 1);
        }
    nota_status st = nota_syev_desc(D, cov, w);
    int64_t rank = 0;
    if (!st)
        while (rank < D && rank < n - 1 && w[rank] > 1e-9 * w[0] && w[rank] > 0)
            rank++;
    if (!st && rank == 0)
        st = nota_error(NOTA_ENUMERIC,
                        "scatter pca: the %lld scattering vectors are all equal "
                        "(covariance is zero)",
                        (long long)n);
    int64_t k = rank < k_max ? rank : k_max;
    if (!st) {
        out->D = D, out->k = k;
        out->mean = malloc((size_t)D * sizeof *out->mean);
        out->whiten = malloc((size_t)(k * D) * sizeof *out->whiten);
        out->eig = malloc((size_t)k * sizeof *out->eig);
        if (!out->mean || !out->whiten || !out->eig)
            st = nota_error(NOTA_ENOMEM, "scatter pca: cannot allocate %lld components",
                            (long long)k);
    }
    if (!st) {
        for (int64_t j = 0; j < D; j++)
            out->mean[j] = (float)(a->shift[j] + a->sum[j] / (double)n);
        for (int64_t c = 0; c < k; c++) {
            double s = 1.0 / sqrt(w[c]);
            out->eig[c] = (float)w[c];
            for (int64_t j = 0; j < D; j++)
                out->whiten[c * D + j] = (float)(cov[j * D + c] * s);
        }
    }
    free(cov), free(w);
    if (st) scat_pca_release(out);
    return st;
}

void scat_pca_encode(const scat_pca *p, const float *s, int64_t m, float *tmp, float *z) {
    int64_t D = p->D;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < D; j++)
            tmp[i * D + j] = s[i * D + j] - p->mean[j];
    nota_sgemm(false, true, m, p->k, D, 1.0f, tmp, D, p->whiten, D, 0.0f, z, p->k);
}
