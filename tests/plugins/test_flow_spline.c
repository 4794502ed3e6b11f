/* flow marginals: the normal quantile function, and rational-quadratic
 * splines fitted to data — monotone and exactly invertible inside, between
 * and beyond their knots, with log-derivatives that match finite
 * differences, and a fit that actually Gaussianizes a skewed marginal. The
 * plugin's spline.c is compiled into this test directly (it is internal to
 * the plugin .so). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "../../plugins/flow/spline.c"
#include "nota/rng.h"

#define K 24

static const spline_opts OPTS = {K, 1024, 0.7, 1.0};

/* Bimodal sample: half N(-2, 0.3²), half exponential(1) shifted to +1. */
static float *bimodal(int64_t n, uint64_t seed) {
    float *v = malloc((size_t)n * sizeof *v), *u = malloc((size_t)n * sizeof *u);
    nota_rng_fill_normal(seed, 1, v, (size_t)n);
    nota_rng_fill_uniform(seed, 2, u, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = i % 2 ? -2.0f + 0.3f * v[i] : 1.0f - logf(1.0f - u[i]);
    free(u);
    return v;
}

static float *fitted(const float *v, int64_t n, const spline_opts *o) {
    float *kn = malloc(3 * (size_t)o->knots * sizeof *kn);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, o->grid), 0);
    cr_assert_eq(spline_fit(v, n, o, &w, kn), 0);
    spline_work_free(&w);
    return kn;
}

Test(flow_spline, norm_ppf_inverts_norm_cdf) {
    /* above z = 5, u = Φ(z) rounds to within 3e-7 of 1 and is no longer a
     * well-conditioned input; the lower tail is exact down to -8 */
    for (double z = -8; z <= 5; z += 0.01) {
        double u = norm_cdf(z), back = norm_ppf(u);
        cr_assert_float_eq(back, z, 1e-9 * (1 + fabs(z)), "z=%g gave %.17g", z, back);
    }
    cr_assert_float_eq(norm_ppf(0.975), 1.959963984540054, 1e-14);
    cr_assert_float_eq(norm_ppf(1e-10), -6.361340902404056, 1e-12);
    cr_assert(isinf(norm_ppf(0)) && norm_ppf(0) < 0);
    cr_assert(isinf(norm_ppf(1)) && norm_ppf(1) > 0);
}

Test(flow_spline, knots_are_strictly_increasing_with_positive_slopes) {
    float *v = bimodal(5000, 3), *kn = fitted(v, 5000, &OPTS);
    for (int k = 0; k < K; k++) {
        cr_assert_gt(kn[2 * K + k], 0.0f, "slope %d", k);
        if (k) {
            cr_assert_gt(kn[k], kn[k - 1], "x %d", k);
            cr_assert_gt(kn[K + k], kn[K + k - 1], "y %d", k);
        }
    }
    free(v);
    free(kn);
}

Test(flow_spline, monotone_invertible_and_derivative_exact_everywhere) {
    float *v = bimodal(5000, 5), *kn = fitted(v, 5000, &OPTS);
    double lo = kn[0], hi = kn[K - 1], span = hi - lo;
    double prev = -INFINITY;
    int beyond = 0;
    for (double x = lo - 3 * span; x <= hi + 3 * span; x += span / 1500) {
        double ld, y = spline_fwd(kn, K, x, &ld);
        cr_assert_gt(y, prev, "not increasing at x=%g", x);
        prev = y;
        double ld2, back = spline_inv(kn, K, y, &ld2);
        cr_assert_float_eq(back, x, 1e-9 * (1 + fabs(x)), "inverse at x=%g: %.17g", x, back);
        cr_assert_float_eq(ld2, ld, 1e-7, "inverse log-derivative at x=%g", x);
        double h = 1e-6 * (1 + fabs(x));
        double fd = (spline_fwd(kn, K, x + h, NULL) - spline_fwd(kn, K, x - h, NULL)) / (2 * h);
        cr_assert_float_eq(log(fd), ld, 1e-5, "log-derivative at x=%g: fd %g vs %g", x, log(fd),
                           ld);
        double d, y2 = spline_fwd_d(kn, K, x, &d); /* the fit's variant: same map */
        cr_assert_eq(y2, y, "spline_fwd_d value at x=%g", x);
        cr_assert_float_eq(log(d), ld, 1e-6, "spline_fwd_d derivative at x=%g", x);
        beyond += x < lo || x > hi;
    }
    cr_assert_gt(beyond, 2000, "the sweep must cover both linear tails");
    /* exactly at every knot the spline takes the knot's value */
    for (int k = 0; k < K; k++)
        cr_assert_float_eq(spline_fwd(kn, K, kn[k], NULL), kn[K + k], 1e-6 * (1 + fabs(kn[K + k])));
    free(v);
    free(kn);
}

Test(flow_spline, undamped_fit_gaussianizes_a_skewed_marginal) {
    int64_t n = 20000;
    float *u = malloc((size_t)n * sizeof *u);
    nota_rng_fill_uniform(9, 1, u, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        u[i] = -logf(1.0f - u[i]); /* exponential(1) */
    spline_opts o = OPTS;
    o.damping = 1.0;
    float *kn = fitted(u, n, &o);
    double m = 0, m2 = 0, m3 = 0;
    for (int64_t i = 0; i < n; i++) {
        double y = spline_fwd(kn, K, u[i], NULL);
        m += y;
        m2 += y * y;
        m3 += y * y * y;
    }
    m /= n;
    m2 /= n;
    m3 /= n;
    /* the raw exponential has skewness 2; Gaussianized it is near 0 (the
     * remaining bias sits in the last, sparsely sampled tail segment) */
    cr_assert_float_eq(m, 0.0, 0.03, "mean %g", m);
    cr_assert_float_eq(m2, 1.0, 0.05, "second moment %g", m2);
    cr_assert_float_eq(m3, 0.0, 0.15, "third moment %g", m3);
    free(u);
    free(kn);
}

Test(flow_spline, damping_moves_part_of_the_way) {
    float *v = bimodal(4000, 11);
    spline_opts o = OPTS;
    o.damping = 0.25;
    float *kn = fitted(v, 4000, &o);
    for (int k = 0; k < K; k++) {
        double z = norm_ppf(0), x = kn[k];
        (void)z;
        /* y = 0.75 x + 0.25 Φ⁻¹(F(x)) and |Φ⁻¹(F)| <= 5 by construction */
        cr_assert_leq(fabs(kn[K + k] - 0.75 * x), 0.25 * 5 + 1e-5, "knot %d", k);
    }
    free(v);
    free(kn);
}

Test(flow_spline, constant_data_is_not_fitted) {
    float v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 4.5f;
    float kn[3 * K];
    spline_work w;
    cr_assert_eq(spline_work_init(&w, 256), 0);
    cr_assert_eq(spline_fit(v, 100, &OPTS, &w, kn), 1);
    spline_work_free(&w);
}
