/* nota/stats.h — per-dimension normality tests.
 *
 * A latent prior is only as good as its assumption about the codes: Angles &
 * Mallat (Table 1) test whether each whitened code dimension is Gaussian with
 * D'Agostino's K² (skewness + kurtosis) and Jarque–Bera, and count how many
 * dimensions are rejected. These functions compute the same statistics as
 * scipy.stats.normaltest / skewtest / kurtosistest / jarque_bera (moments in
 * double, biased skewness g1 and kurtosis b2 = m4/m2²), with the chi-squared
 * (2 dof) p-values p = exp(−x/2) and two-sided normal p-values for the z's.
 *
 * A constant column (every value equal) has no skewness or kurtosis; instead
 * of NaN it reports all statistics as 0, p-values as 0 and `constant` = true:
 * a point mass is not a normal distribution, so it counts as rejected.
 * (scipy returns NaN there.) Where scipy maps a skewness of exactly 0 to a
 * nonzero z (its y = 0 → 1 substitution), nota returns z = 0, the limit of
 * the formula.
 */
#ifndef NOTA_STATS_H
#define NOTA_STATS_H

#include "nota/status.h"
#include "nota/tensor.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fewest items the tests accept: the kurtosis z-score is only valid from 20
 * (scipy warns below that; nota refuses). */
#define NOTA_NORMALITY_MIN_N 20

typedef struct nota_normality {
    double skew;           /* biased sample skewness g1 = m3 / m2^1.5 */
    double kurtosis;       /* b2 = m4 / m2² (3 for a normal) */
    double z_skew, p_skew; /* D'Agostino skewness z and its two-sided p */
    double z_kurt, p_kurt; /* Anscombe–Glynn kurtosis z and its two-sided p */
    double k2, p_k2;       /* D'Agostino–Pearson K² = z_skew² + z_kurt², p = exp(−K²/2) */
    double jb, p_jb;       /* Jarque–Bera n/6 (g1² + (b2−3)²/4), p = exp(−JB/2) */
    bool constant;         /* every value equal: statistics 0, p-values 0 */
} nota_normality;

/* Counts over the columns of one data set. */
typedef struct nota_normality_summary {
    int64_t n;                          /* items (rows) */
    int64_t d;                          /* components (columns) */
    int64_t constant;                   /* constant columns (counted as rejected by both tests) */
    int64_t k2_reject_05, k2_reject_01; /* columns with p_k2 < 0.05 / < 0.01 */
    int64_t jb_reject_05, jb_reject_01; /* columns with p_jb < 0.05 / < 0.01 */
} nota_normality_summary;

/* Tests on n values x[0], x[stride], ..., x[(n−1)·stride]. NOTA_EINVAL when
 * n < NOTA_NORMALITY_MIN_N or stride < 1; NOTA_ENUMERIC naming the index if a
 * value is not finite. */
nota_status nota_normality_test(const float *x, int64_t n, int64_t stride, nota_normality *out);

/* Both tests on every column of f32 data (N, ...) flattened to (N, d).
 * per_col (d entries, caller-owned) may be NULL; sum may be NULL. Errors name
 * `what` (e.g. the file): NOTA_EINVAL for a non-f32 or 1-D tensor or too few
 * rows, NOTA_ENUMERIC for NaN/Inf. */
nota_status nota_normality_columns(const nota_tensor *x, const char *what, nota_normality *per_col,
                                   nota_normality_summary *sum);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_STATS_H */
