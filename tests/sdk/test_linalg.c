/* Tests for nota/linalg.h: GEMM / SYRK against naive double-precision loops
 * (every transpose combination, padded strides), matmul's shape checks and
 * their exact messages, the eigen-decomposition (reconstruction, orthonormal
 * vectors, descending order), Haar-random orthogonal matrices (orthogonality,
 * determinism, the sign fix), Cholesky (factor, refusal of non-SPD input with
 * the failing minor named, input left unchanged) and thread control (GEMMs
 * cut over the thread pool). */
#include "nota/linalg.h"
#include "nota/rng.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *randn(size_t n, uint64_t stream) {
    float *x = malloc(n * sizeof *x);
    cr_assert_not_null(x);
    nota_rng_fill_normal(77, stream, x, n);
    return x;
}

Test(linalg, threads_set_get_and_default) {
    int d = nota_get_threads();
    cr_assert_geq(d, 1);
    nota_set_threads(2);
    cr_assert_eq(nota_get_threads(), 2);
    nota_set_threads(1);
    cr_assert_eq(nota_get_threads(), 1);
    nota_set_threads(0);
    cr_assert_eq(nota_get_threads(), d);
}

/* C = alpha op(A) op(B) + beta C in double, A stored with stride lda. */
static void ref_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const float *a, int lda,
                     const float *b, int ldb, double beta, double *c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double x = ta ? a[p * lda + i] : a[i * lda + p];
                double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += x * y;
            }
            c[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
        }
}

Test(linalg, sgemm_all_transposes_with_strides) {
    const int m = 7, n = 5, k = 9, pad = 3;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
        int lda = acols + pad, ldb = bcols + pad, ldc = n + pad;
        float *a = randn((size_t)arows * lda, 1), *b = randn((size_t)brows * ldb, 2);
        float *c = randn((size_t)m * ldc, 3);
        double *ref = malloc((size_t)m * ldc * sizeof *ref);
        for (int i = 0; i < m * ldc; i++)
            ref[i] = c[i];
        ref_gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, -2.0, ref, ldc);
        nota_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, -2.0f, c, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++) {
                /* Padding columns of C must be untouched (ref kept c's values). */
                cr_assert_float_eq(c[i * ldc + j], ref[i * ldc + j], 1e-4, "t=%d (%d,%d)", t, i, j);
            }
        free(a);
        free(b);
        free(c);
        free(ref);
    }
}

/* GEMMs big enough to be cut over the thread pool (rows when m > n, else
 * columns), every transpose, padded strides: at 1, 2 and 3 threads the
 * result matches the double reference and leaves C's padding alone, and a
 * repeat at the same count gives the same bits. (Across counts the last bit
 * may differ: OpenBLAS's kernels tile a block's edge differently.) */
Test(linalg, sgemm_cut_over_threads_matches_reference_and_repeats) {
    const int shapes[2][3] = {{300, 70, 150}, {40, 333, 200}}, pad = 5;
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 4; t++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            bool ta = t & 1, tb = t & 2;
            int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
            int lda = acols + pad, ldb = bcols + pad, ldc = n + pad;
            float *a = randn((size_t)arows * lda, 11), *b = randn((size_t)brows * ldb, 12);
            float *c0 = randn((size_t)m * ldc, 13);
            double *ref = malloc((size_t)m * ldc * sizeof *ref);
            cr_assert_not_null(ref);
            for (int i = 0; i < m * ldc; i++)
                ref[i] = c0[i];
            ref_gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 0.25, ref, ldc);
            size_t bytes = (size_t)m * ldc * sizeof(float);
            float *c = malloc(bytes), *again = malloc(bytes);
            cr_assert(c && again);
            for (int th = 1; th <= 3; th++) {
                nota_set_threads(th);
                memcpy(c, c0, bytes);
                nota_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, c, ldc);
                memcpy(again, c0, bytes);
                nota_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, again, ldc);
                for (int i = 0; i < m * ldc; i++)
                    cr_assert_float_eq(c[i], ref[i], 1e-3, "s=%d t=%d th=%d item %d", s, t, th, i);
                cr_assert(memcmp(c, again, bytes) == 0, "s=%d t=%d: repeat at %d threads differs",
                          s, t, th);
            }
            nota_set_threads(0);
            free(c);
            free(again);
            free(a);
            free(b);
            free(c0);
            free(ref);
        }
}

Test(linalg, dgemm_cut_over_threads_matches_reference) {
    const int m = 64, n = 500, k = 120;
    double *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)n * k * sizeof *b);
    double *c1 = calloc((size_t)m * n, sizeof *c1), *c2 = calloc((size_t)m * n, sizeof *c2);
    cr_assert(a && b && c1 && c2);
    float *r = randn((size_t)(m + n) * k, 14);
    for (int i = 0; i < m * k; i++)
        a[i] = r[i];
    for (int i = 0; i < n * k; i++)
        b[i] = r[m * k + i];
    nota_set_threads(1);
    nota_dgemm(false, true, m, n, k, 1.0, a, k, b, k, 0.0, c1, n);
    nota_set_threads(2);
    nota_dgemm(false, true, m, n, k, 1.0, a, k, b, k, 0.0, c2, n);
    nota_set_threads(0);
    for (int i = 0; i < m; i += 7)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += a[i * k + p] * b[j * k + p];
            cr_assert_float_eq(c1[i * n + j], s, 1e-12 * (1 + fabs(s)), "(%d, %d)", i, j);
            cr_assert_float_eq(c2[i * n + j], s, 1e-12 * (1 + fabs(s)), "(%d, %d)", i, j);
        }
    free(a);
    free(b);
    free(c1);
    free(c2);
    free(r);
}

static nota_tensor *mat(int64_t r, int64_t c, uint64_t stream) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(r, c, &t), NOTA_OK);
    nota_rng_fill_normal(5, stream, nota_tensor_f32(t), (size_t)(r * c));
    return t;
}

Test(linalg, matmul_matches_sgemm) {
    nota_tensor *a = mat(4, 6, 1), *b = mat(3, 6, 2), *c = mat(4, 3, 3);
    double ref[12];
    for (int i = 0; i < 12; i++)
        ref[i] = nota_tensor_f32(c)[i];
    ref_gemm(false, true, 4, 3, 6, 1.5, nota_tensor_f32(a), 6, nota_tensor_f32(b), 6, 0.25, ref, 3);
    cr_assert_eq(nota_matmul(a, false, b, true, 1.5f, 0.25f, c), NOTA_OK);
    for (int i = 0; i < 12; i++)
        cr_assert_float_eq(nota_tensor_f32(c)[i], ref[i], 1e-5);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(c);
}

Test(linalg, matmul_refuses_bad_shapes_with_exact_messages) {
    nota_tensor *a = mat(2, 3, 1), *b = mat(4, 5, 2), *c = mat(2, 5, 3), *c2 = mat(2, 4, 4);
    cr_assert_eq(nota_matmul(a, false, b, false, 1, 0, c), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "matmul: a (2, 3) x b (4, 5) -> c (2, 5): inner dimensions 3 and 4 differ");
    cr_assert_eq(nota_matmul(a, true, b, true, 1, 0, c), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "matmul: a^T (2, 3) x b^T (4, 5) -> c (2, 5): inner dimensions 2 and 5 "
                     "differ");
    nota_tensor *b3 = mat(3, 4, 5);
    cr_assert_eq(nota_matmul(a, false, b3, false, 1, 0, c), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "matmul: a (2, 3) x b (3, 4) -> c (2, 5): c must be (2, 4)");
    cr_assert_eq(nota_matmul(a, false, b3, false, 1, 0, c2), NOTA_OK);
    cr_assert_eq(nota_matmul(NULL, false, b3, false, 1, 0, c2), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "matmul: a is NULL");
    cr_assert_eq(nota_tensor_reshape(b3, 3, (int64_t[]){3, 2, 2}), NOTA_OK);
    cr_assert_eq(nota_matmul(a, false, b3, false, 1, 0, c2), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "matmul: b must be 2-D, found (3, 2, 2)");
    nota_tensor *u;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 2, (int64_t[]){2, 4}, &u), NOTA_OK);
    cr_assert_eq(nota_matmul(a, false, a, true, 1, 0, u), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "matmul: c must be f32, found u8");
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(b3);
    nota_tensor_free(c);
    nota_tensor_free(c2);
    nota_tensor_free(u);
}

Test(linalg, matmul_refuses_gpu_and_oversized_operands) {
    /* Headers only: the checks must refuse these before touching any data. */
    float dummy[4];
    nota_tensor ok = {
        .dtype = NOTA_F32, .ndim = 2, .shape = {2, 2}, .data = dummy, .nbytes = sizeof dummy};
    nota_tensor gpu = ok, big = ok;
    gpu.device.kind = NOTA_DEVICE_CUDA;
    cr_assert_eq(nota_matmul(&ok, false, &gpu, false, 1, 0, &ok), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "matmul: b must be on the CPU");
    big.shape[0] = INT64_C(1) << 31;
    cr_assert_eq(nota_matmul(&big, false, &ok, false, 1, 0, &ok), NOTA_ELIMIT);
    cr_assert_str_eq(nota_last_error(),
                     "matmul: a (2147483648, 2) has a dimension above 2147483647 (BLAS int)");
}

Test(linalg, matmul_refuses_aliased_output) {
    nota_tensor *a = mat(3, 3, 1), *b = mat(3, 3, 2);
    cr_assert_eq(nota_matmul(a, false, b, false, 1, 0, b), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "matmul: a (3, 3) x b (3, 3) -> c (3, 3): c overlaps b");
    nota_tensor_free(a);
    nota_tensor_free(b);
}

/* Large enough to be cut into column blocks over 2..5 threads (uneven
 * block widths, a strided A): both triangles match the reference. */
Test(linalg, syrk_cut_over_threads_matches_reference) {
    const int m = 300, n = 203, lda = 210;
    float *a = randn((size_t)m * lda, 21), *c0 = randn((size_t)n * n, 22);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            c0[i * n + j] = c0[j * n + i];
    double *ref = malloc((size_t)n * n * sizeof *ref), *ad = malloc((size_t)m * lda * sizeof *ad);
    double *cd = malloc((size_t)n * n * sizeof *cd);
    float *c = malloc((size_t)n * n * sizeof *c);
    cr_assert(ref && ad && cd && c);
    for (int i = 0; i < n * n; i++)
        ref[i] = c0[i];
    for (int i = 0; i < m * lda; i++)
        ad[i] = a[i];
    ref_gemm(true, false, n, n, m, 2.0, a, lda, a, lda, 0.5, ref, n);
    for (int th = 1; th <= 5; th++) {
        nota_set_threads(th);
        memcpy(c, c0, (size_t)n * n * sizeof *c);
        nota_ssyrk_ata(m, n, 2.0f, a, lda, 0.5f, c);
        for (int i = 0; i < n * n; i++)
            cr_assert_float_eq(c[i], ref[i], 2e-3, "f32, %d threads, element %d", th, i);
        for (int i = 0; i < n * n; i++)
            cd[i] = c0[i];
        nota_dsyrk_ata(m, n, 2.0, ad, lda, 0.5, cd);
        for (int i = 0; i < n * n; i++)
            cr_assert_float_eq(cd[i], ref[i], 1e-9 * (1 + fabs(ref[i])),
                               "f64, %d threads, element %d", th, i);
    }
    nota_set_threads(0);
    free(a);
    free(c0);
    free(ref);
    free(ad);
    free(cd);
    free(c);
}

Test(linalg, ssyrk_ata_fills_both_triangles) {
    const int m = 11, n = 6, lda = 8;
    float *a = randn((size_t)m * lda, 4), *c = randn((size_t)n * n, 5);
    /* beta reads only the upper triangle: make C symmetric first. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            c[i * n + j] = c[j * n + i];
    double ref[36];
    for (int i = 0; i < n * n; i++)
        ref[i] = c[i];
    ref_gemm(true, false, n, n, m, 2.0, a, lda, a, lda, 0.5, ref, n);
    nota_ssyrk_ata(m, n, 2.0f, a, lda, 0.5f, c);
    for (int i = 0; i < n * n; i++)
        cr_assert_float_eq(c[i], ref[i], 1e-4, "element %d", i);
    free(a);
    free(c);
}

/* Symmetric n×n test matrix B + B^T from the generator, in double. */
static double *sym(int n, uint64_t stream) {
    float *b = randn((size_t)n * n, stream);
    double *s = malloc((size_t)n * n * sizeof *s);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            s[i * n + j] = (double)b[i * n + j] + b[j * n + i];
    free(b);
    return s;
}

Test(linalg, syev_desc_reconstructs_and_orders) {
    const int n = 12;
    double *a = sym(n, 6), *v = malloc(n * n * sizeof *v), w[12];
    memcpy(v, a, n * n * sizeof *v);
    cr_assert_eq(nota_syev_desc(n, v, w), NOTA_OK);
    for (int j = 1; j < n; j++)
        cr_assert_geq(w[j - 1], w[j], "w[%d] < w[%d]", j - 1, j);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double rec = 0, dot = 0;
            for (int p = 0; p < n; p++) {
                rec += v[i * n + p] * w[p] * v[j * n + p]; /* V diag(w) V^T */
                dot += v[p * n + i] * v[p * n + j];        /* V^T V */
            }
            cr_assert(fabs(rec - a[i * n + j]) < 1e-10, "A(%d,%d) %g vs %g", i, j, rec,
                      a[i * n + j]);
            cr_assert(fabs(dot - (i == j)) < 1e-12, "V^T V (%d,%d) = %g", i, j, dot);
        }
    free(a);
    free(v);
}

/* From 1024 rows LAPACK runs on OpenBLAS's threads (a "wide" section, at 2
 * threads here): a symmetric tridiagonal matrix with known spectrum, 2 on
 * the diagonal and 1 off it: eigenvalues 2 + 2 cos(k π / (n + 1)). Then a
 * GEMM cut over the pool still matches its reference (OpenBLAS is back on
 * one thread for the blocks). */
Test(linalg, syev_desc_large_runs_threaded_and_exact) {
    const int n = 1030;
    double *a = calloc((size_t)n * n, sizeof *a), *w = malloc((size_t)n * sizeof *w);
    cr_assert(a && w);
    for (int i = 0; i < n; i++) {
        a[(size_t)i * n + i] = 2.0;
        if (i + 1 < n) a[(size_t)i * n + i + 1] = a[(size_t)(i + 1) * n + i] = 1.0;
    }
    nota_set_threads(2);
    cr_assert_eq(nota_syev_desc(n, a, w), NOTA_OK, "%s", nota_last_error());
    for (int k = 1; k <= n; k++)
        cr_assert_float_eq(w[k - 1], 2.0 + 2.0 * cos(k * 3.14159265358979323846 / (n + 1)), 1e-10,
                           "eigenvalue %d", k);
    const int m = 200, nn = 300, kk = 100;
    float *x = randn((size_t)m * kk, 31), *y = randn((size_t)kk * nn, 32);
    float *c = calloc((size_t)m * nn, sizeof *c);
    double *ref = calloc((size_t)m * nn, sizeof *ref);
    cr_assert(c && ref);
    nota_sgemm(false, false, m, nn, kk, 1.0f, x, kk, y, nn, 0.0f, c, nn);
    ref_gemm(false, false, m, nn, kk, 1.0, x, kk, y, nn, 0.0, ref, nn);
    for (int i = 0; i < m * nn; i++)
        cr_assert_float_eq(c[i], ref[i], 1e-3, "item %d", i);
    nota_set_threads(0);
    free(a), free(w), free(x), free(y), free(c), free(ref);
}

Test(linalg, syev_desc_known_diagonal) {
    double a[9] = {3, 0, 0, 0, 1, 0, 0, 0, 2}, w[3];
    cr_assert_eq(nota_syev_desc(3, a, w), NOTA_OK);
    cr_assert_float_eq(w[0], 3.0, 1e-14);
    cr_assert_float_eq(w[1], 2.0, 1e-14);
    cr_assert_float_eq(w[2], 1.0, 1e-14);
    /* Column 0 is ±e0, column 1 is ±e2, column 2 is ±e1. */
    cr_assert_float_eq(fabs(a[0 * 3 + 0]), 1.0, 1e-14);
    cr_assert_float_eq(fabs(a[2 * 3 + 1]), 1.0, 1e-14);
    cr_assert_float_eq(fabs(a[1 * 3 + 2]), 1.0, 1e-14);
}

Test(linalg, syev_desc_refuses_bad_input) {
    double a[4] = {1, 0, 0, 1}, w[2];
    cr_assert_eq(nota_syev_desc(0, a, w), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "syev: n is 0, expected >= 1");
    cr_assert_eq(nota_syev_desc(2, a, NULL), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "syev: w is NULL");
    cr_assert_eq(nota_syev_desc(50000, a, w), NOTA_ELIMIT);
    cr_assert_str_eq(nota_last_error(), "syev: n is 50000, above the limit 46340");
    a[1] = NAN;
    cr_assert_eq(nota_syev_desc(2, a, w), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "syev: element (0, 1) is nan");
    a[1] = 0;
    a[3] = -INFINITY;
    cr_assert_eq(nota_syev_desc(2, a, w), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "syev: element (1, 1) is -inf");
}

static void expect_orthogonal(const float *q, int n, double tol) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double dot = 0;
            for (int p = 0; p < n; p++)
                dot += (double)q[p * n + i] * q[p * n + j];
            cr_assert(fabs(dot - (i == j)) < tol, "Q^T Q (%d,%d) = %.9g", i, j, dot);
        }
}

Test(linalg, random_orthogonal_is_orthogonal_and_deterministic) {
    const int n = 50;
    float *q = malloc(n * n * sizeof *q), *q2 = malloc(n * n * sizeof *q2);
    cr_assert_eq(nota_random_orthogonal(n, 123, 4, q), NOTA_OK);
    expect_orthogonal(q, n, 1e-5);
    cr_assert_eq(nota_random_orthogonal(n, 123, 4, q2), NOTA_OK);
    cr_assert_arr_eq(q, q2, n * n * sizeof *q);
    cr_assert_eq(nota_random_orthogonal(n, 123, 5, q2), NOTA_OK);
    expect_orthogonal(q2, n, 1e-5);
    int same = 0;
    for (int i = 0; i < n * n; i++)
        same += q[i] == q2[i];
    cr_assert_eq(same, 0);
    free(q);
    free(q2);
}

Test(linalg, random_orthogonal_signs_are_haar) {
    /* Householder QR alone makes R_11 = -sign(a_11)|a_1|, so Q_11 would always
     * be negative; with the sign fix Q_11 is positive half of the time
     * (200 draws: sd 7, bounds ~5 sd). n = 1 must give +1 and -1 alike. */
    int pos3 = 0, pos1 = 0;
    float q[9];
    for (uint64_t s = 0; s < 200; s++) {
        cr_assert_eq(nota_random_orthogonal(3, 9, s, q), NOTA_OK);
        pos3 += q[0] > 0;
        cr_assert_eq(nota_random_orthogonal(1, 9, s, q), NOTA_OK);
        cr_assert(q[0] == 1.0f || q[0] == -1.0f, "1x1 Q = %g", q[0]);
        pos1 += q[0] > 0;
    }
    cr_assert(pos3 > 65 && pos3 < 135, "Q_11 > 0 in %d of 200", pos3);
    cr_assert(pos1 > 65 && pos1 < 135, "1x1 Q = +1 in %d of 200", pos1);
}

Test(linalg, random_orthogonal_refuses_bad_input) {
    float q[4];
    cr_assert_eq(nota_random_orthogonal(0, 1, 1, q), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "random_orthogonal: n is 0, expected >= 1");
    cr_assert_eq(nota_random_orthogonal(-3, 1, 1, q), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "random_orthogonal: n is -3, expected >= 1");
    cr_assert_eq(nota_random_orthogonal(2, 1, 1, NULL), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "random_orthogonal: q is NULL");
}

Test(linalg, cholesky_factors_spd) {
    const int n = 8;
    float *b = randn((size_t)n * n, 7);
    double a[64], l[64];
    /* A = B B^T + I is SPD. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = i == j;
            for (int p = 0; p < n; p++)
                s += (double)b[i * n + p] * b[j * n + p];
            a[i * n + j] = s;
        }
    memcpy(l, a, sizeof a);
    cr_assert_eq(nota_cholesky(n, l), NOTA_OK);
    for (int i = 0; i < n; i++) {
        cr_assert_gt(l[i * n + i], 0.0);
        for (int j = i + 1; j < n; j++)
            cr_assert_eq(l[i * n + j], 0.0, "upper (%d,%d)", i, j);
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < n; p++)
                s += l[i * n + p] * l[j * n + p];
            cr_assert(fabs(s - a[i * n + j]) < 1e-10, "L L^T (%d,%d) %g vs %g", i, j, s,
                      a[i * n + j]);
        }
    }
    free(b);
}

Test(linalg, cholesky_refuses_non_spd_and_keeps_input) {
    double a[16] = {1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 4}, keep[16];
    memcpy(keep, a, sizeof a);
    cr_assert_eq(nota_cholesky(4, a), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "cholesky: matrix is not positive definite (leading minor "
                                        "of order 3 of 4 is not positive)");
    cr_assert_arr_eq(a, keep, sizeof a);
    /* Singular (rank 1): [[1, 1], [1, 1]] fails at order 2. */
    double s[4] = {1, 1, 1, 1};
    cr_assert_eq(nota_cholesky(2, s), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "cholesky: matrix is not positive definite (leading minor "
                                        "of order 2 of 2 is not positive)");
    cr_assert_eq(nota_cholesky(0, a), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "cholesky: n is 0, expected >= 1");
    cr_assert_eq(nota_cholesky(3, NULL), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "cholesky: a is NULL");
    a[4] = INFINITY;
    cr_assert_eq(nota_cholesky(4, a), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "cholesky: element (1, 0) is inf");
}
