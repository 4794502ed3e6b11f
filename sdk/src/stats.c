/* Normality tests (see nota/stats.h): D'Agostino's K² and Jarque–Bera from
 * the sample's central moments.
 *
 * Moments are taken in two passes in double (mean, then Σc², Σc³, Σc⁴), which
 * keeps them accurate for data far from the origin. For a whole data set the
 * passes sweep rows, so each pass reads the (N, d) array once in memory order
 * instead of striding down each column. The z-score formulas follow
 * D'Agostino, Belanger & D'Agostino (1990), as scipy.stats implements them.
 */
#include "nota/stats.h"

#include <math.h>
#include <stdlib.h>

/* Central moments of one sample → every statistic. m2 > 0 unless constant. */
static void finish(double n, double m2, double m3, double m4, bool constant, nota_normality *r) {
    *r = (nota_normality){0};
    if (constant) {
        r->constant = true;
        return;
    }
    double g1 = m3 / pow(m2, 1.5);
    double b2 = m4 / (m2 * m2);
    r->skew = g1;
    r->kurtosis = b2;

    /* Skewness test: Johnson S_U transformation of g1. */
    double y = g1 * sqrt((n + 1) * (n + 3) / (6.0 * (n - 2)));
    double beta2 =
        3.0 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2) * (n + 5) * (n + 7) * (n + 9));
    double w2 = -1 + sqrt(2 * (beta2 - 1));
    double delta = 1 / sqrt(0.5 * log(w2));
    double alpha = sqrt(2.0 / (w2 - 1));
    r->z_skew = delta * asinh(y / alpha);

    /* Kurtosis test: Anscombe & Glynn's cube-root transformation of b2. */
    double e = 3.0 * (n - 1) / (n + 1);
    double varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1) * (n + 3) * (n + 5));
    double x = (b2 - e) / sqrt(varb2);
    double sb1 = 6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9)) *
                 sqrt(6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3)));
    double a = 6.0 + 8.0 / sb1 * (2.0 / sb1 + sqrt(1 + 4.0 / (sb1 * sb1)));
    double denom = 1 + x * sqrt(2 / (a - 4.0));
    /* cbrt keeps the sign of denom, as scipy's sign(d)·|·|^(1/3) does; denom = 0
     * (never seen in practice) gives an infinite z and p = 0, not NaN. */
    double term2 = denom == 0 ? -INFINITY : cbrt((1 - 2.0 / a) / denom);
    r->z_kurt = (1 - 2 / (9.0 * a) - term2) / sqrt(2 / (9.0 * a));

    r->p_skew = erfc(fabs(r->z_skew) / sqrt(2.0));
    r->p_kurt = erfc(fabs(r->z_kurt) / sqrt(2.0));
    r->k2 = r->z_skew * r->z_skew + r->z_kurt * r->z_kurt;
    r->p_k2 = exp(-0.5 * r->k2);
    r->jb = n / 6.0 * (g1 * g1 + (b2 - 3) * (b2 - 3) / 4);
    r->p_jb = exp(-0.5 * r->jb);
}

nota_status nota_normality_test(const float *x, int64_t n, int64_t stride, nota_normality *out) {
    if (n < NOTA_NORMALITY_MIN_N)
        return nota_error(NOTA_EINVAL, "normality test: need at least %d values, got %lld",
                          NOTA_NORMALITY_MIN_N, (long long)n);
    if (stride < 1)
        return nota_error(NOTA_EINVAL, "normality test: stride must be >= 1, got %lld",
                          (long long)stride);
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * stride];
        if (!isfinite(v))
            return nota_error(NOTA_ENUMERIC, "normality test: value %lld is %g", (long long)i, v);
        s += v;
    }
    double mean = s / (double)n, m2 = 0, m3 = 0, m4 = 0;
    bool constant = true;
    for (int64_t i = 0; i < n; i++) {
        double c = x[i * stride] - mean, c2 = c * c;
        m2 += c2;
        m3 += c2 * c;
        m4 += c2 * c2;
        constant = constant && x[i * stride] == x[0];
    }
    finish((double)n, m2 / (double)n, m3 / (double)n, m4 / (double)n, constant, out);
    return NOTA_OK;
}

static void count(const nota_normality *r, nota_normality_summary *sum) {
    sum->constant += r->constant;
    sum->k2_reject_05 += r->p_k2 < 0.05;
    sum->k2_reject_01 += r->p_k2 < 0.01;
    sum->jb_reject_05 += r->p_jb < 0.05;
    sum->jb_reject_01 += r->p_jb < 0.01;
}

nota_status nota_normality_columns(const nota_tensor *x, const char *what, nota_normality *per_col,
                                   nota_normality_summary *sum) {
    if (!what) what = "data";
    const float *p = nota_tensor_f32(x);
    if (!p || x->ndim < 2)
        return nota_error(NOTA_EINVAL,
                          "normality tests on %s: expected f32 data (N, d), found "
                          "%s with %d dimension(s)",
                          what, nota_dtype_name(x->dtype), x->ndim);
    int64_t n = x->shape[0], d = (int64_t)nota_tensor_row_size(x);
    if (n < NOTA_NORMALITY_MIN_N)
        return nota_error(NOTA_EINVAL, "normality tests on %s: need at least %d items, got %lld",
                          what, NOTA_NORMALITY_MIN_N, (long long)n);
    nota_status st = nota_tensor_check_finite(x, what);
    if (st) return st;
    /* mean, m2, m3, m4 per column, and a "still constant" flag */
    double *acc = calloc((size_t)d * 5, sizeof *acc);
    if (!acc)
        return nota_error(NOTA_ENOMEM,
                          "normality tests on %s: cannot allocate moments for %lld "
                          "columns",
                          what, (long long)d);
    double *mean = acc, *m2 = acc + d, *m3 = acc + 2 * d, *m4 = acc + 3 * d, *same = acc + 4 * d;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            mean[j] += p[i * d + j];
    for (int64_t j = 0; j < d; j++) {
        mean[j] /= (double)n;
        same[j] = 1;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            double c = p[i * d + j] - mean[j], c2 = c * c;
            m2[j] += c2;
            m3[j] += c2 * c;
            m4[j] += c2 * c2;
            if (p[i * d + j] != p[j]) same[j] = 0;
        }
    if (sum) *sum = (nota_normality_summary){.n = n, .d = d};
    for (int64_t j = 0; j < d; j++) {
        nota_normality r;
        finish((double)n, m2[j] / (double)n, m3[j] / (double)n, m4[j] / (double)n, same[j] != 0,
               &r);
        if (per_col) per_col[j] = r;
        if (sum) count(&r, sum);
    }
    free(acc);
    return NOTA_OK;
}
