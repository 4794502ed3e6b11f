/* flow polynomial marginals (marginal=poly): fitted polynomials certified
 * increasing on their support, exactly invertible there and, with linear
 * tails, on the whole line; log-derivatives that match finite differences;
 * the certificate refuses polynomials that dip or touch zero slope; and
 * poly_tails=extrapolate evaluates the polynomial itself outside the
 * support — folding where it folds, with the documented inverse. The
 * plugin's sources are compiled in directly (internal to the .so). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "../../plugins/flow/poly.c"
#include "../../plugins/flow/spline.c"
#include "nota/rng.h"

static const spline_opts OPTS = {32, 1024, 0.7, 1.0};

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

static float *fitted(const float *v, int64_t n, const spline_opts *o, int deg, int *used) {
    float *pc = malloc(POLY_STRIDE(deg) * sizeof *pc);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, o->grid), 0);
    cr_assert_eq(poly_fit(v, n, o, deg, &w, pc, used), 0);
    spline_work_free(&w);
    return pc;
}

/* Sweep x over [lo - 3 span, hi + 3 span] (linear tails): increasing,
 * inverse exact, log-derivative = log of a central difference. */
static void assert_bijective_linear(const float *pc, int deg) {
    double lo = pc[0], hi = pc[1], span = hi - lo, prev = -INFINITY;
    int beyond = 0;
    for (double x = lo - 3 * span; x <= hi + 3 * span; x += span / 1000) {
        double ld, y = poly_fwd(pc, deg, POLY_TAILS_LINEAR, x, &ld);
        cr_assert_gt(y, prev, "not increasing at x=%g", x);
        prev = y;
        double ld2, back = poly_inv(pc, deg, POLY_TAILS_LINEAR, y, &ld2);
        cr_assert_float_eq(back, x, 1e-9 * (1 + fabs(x)), "inverse at x=%g: %.17g", x, back);
        cr_assert_float_eq(ld2, ld, 1e-7, "inverse log-derivative at x=%g", x);
        double h = 1e-6 * (1 + fabs(x));
        double fd = (poly_fwd(pc, deg, POLY_TAILS_LINEAR, x + h, NULL) -
                     poly_fwd(pc, deg, POLY_TAILS_LINEAR, x - h, NULL)) /
                    (2 * h);
        cr_assert_float_eq(log(fd), ld, 1e-5, "log-derivative at x=%g: fd %g vs %g", x, log(fd),
                           ld);
        beyond += x < lo || x > hi;
    }
    cr_assert_gt(beyond, 4000, "the sweep must cover both tails");
}

Test(flow_poly, fits_are_certified_monotone_invertible_with_exact_log_derivative) {
    int degs[] = {1, 3, 6, 9, 16};
    for (size_t k = 0; k < sizeof degs / sizeof degs[0]; k++) {
        int deg = degs[k], used;
        float *v = bimodal(6000, 5 + k), *pc = fitted(v, 6000, &OPTS, deg, &used);
        cr_assert(used >= 1 && used <= deg);
        cr_assert_eq(poly_check(pc, deg), 1, "degree %d", deg);
        /* the stored support is the sample's range */
        float lo = v[0], hi = v[0];
        for (int i = 0; i < 6000; i++) {
            lo = fminf(lo, v[i]);
            hi = fmaxf(hi, v[i]);
        }
        cr_assert(pc[0] == lo && pc[1] == hi, "support [%g, %g] vs sample [%g, %g]", (double)pc[0],
                  (double)pc[1], (double)lo, (double)hi);
        assert_bijective_linear(pc, deg);
        /* certified means p' > 0 on a dense sweep of the support too */
        double m = 0.5 * ((double)pc[0] + pc[1]), h = 0.5 * ((double)pc[1] - pc[0]);
        for (int i = 0; i <= 100000; i++) {
            double ld;
            poly_fwd(pc, deg, POLY_TAILS_EXTRAPOLATE, m + h * (-1 + 2e-5 * i), &ld);
            cr_assert(isfinite(ld), "degree %d: slope not positive at t=%g", deg, -1 + 2e-5 * i);
        }
        free(v);
        free(pc);
    }
}

Test(flow_poly, linear_tails_continue_the_tangent_at_the_bounds) {
    float *v = bimodal(5000, 21), *pc = fitted(v, 5000, &OPTS, 9, NULL);
    double lo = pc[0], hi = pc[1], eps = 1e-7 * (hi - lo);
    for (int side = 0; side < 2; side++) {
        double b = side ? hi : lo, l0, l1;
        double in = poly_fwd(pc, 9, POLY_TAILS_LINEAR, side ? b - eps : b + eps, &l0);
        double out = poly_fwd(pc, 9, POLY_TAILS_LINEAR, side ? b + eps : b - eps, &l1);
        cr_assert_float_eq(in, out, 1e-5, "value jumps at the %s bound", side ? "upper" : "lower");
        cr_assert_float_eq(l0, l1, 1e-5, "slope jumps at the %s bound", side ? "upper" : "lower");
        /* exactly linear beyond: equal steps give equal increments */
        double dir = side ? 1 : -1, w = hi - lo;
        double y1 = poly_fwd(pc, 9, POLY_TAILS_LINEAR, b + dir * w, NULL);
        double y2 = poly_fwd(pc, 9, POLY_TAILS_LINEAR, b + 2 * dir * w, NULL);
        double y0 = poly_fwd(pc, 9, POLY_TAILS_LINEAR, b, NULL);
        cr_assert_float_eq(y2 - y1, y1 - y0, 1e-9 * (1 + fabs(y1 - y0)));
    }
    free(v);
    free(pc);
}

/* p(t) = 2t - t³/2 = 1.625 T1 - 0.125 T3 on the support [-2, 2] (t = x/2):
 * p' = 2 - 1.5 t² > 0 on [-1, 1], zero at |t| = 1.1547, negative beyond. */
static const float FOLD[POLY_STRIDE(3)] = {-2, 2, 0, 1.625f, 0, -0.125f};

Test(flow_poly, extrapolate_evaluates_the_polynomial_and_folds) {
    cr_assert_eq(poly_check(FOLD, 3), 1);
    for (double x = -8; x <= 8; x += 0.125) {
        double t = x / 2, ld, want = 2 * t - 0.5 * t * t * t, slope = (2 - 1.5 * t * t) / 2;
        double y = poly_fwd(FOLD, 3, POLY_TAILS_EXTRAPOLATE, x, &ld);
        cr_assert_float_eq(y, want, 1e-12 * (1 + fabs(want)), "x=%g", x);
        if (slope != 0) cr_assert_float_eq(ld, log(fabs(slope)), 1e-12, "x=%g", x);
    }
    /* x = 4 (t = 2) lands where x = 0 does: the map is not injective there */
    cr_assert_float_eq(poly_fwd(FOLD, 3, POLY_TAILS_EXTRAPOLATE, 4, NULL), 0.0, 1e-15);
    cr_assert_float_eq(poly_inv(FOLD, 3, POLY_TAILS_EXTRAPOLATE, 0, NULL), 0.0, 1e-15);
    /* before the fold the inverse is exact: t = 1.1 */
    double y = poly_fwd(FOLD, 3, POLY_TAILS_EXTRAPOLATE, 2.2, NULL);
    cr_assert_float_eq(poly_inv(FOLD, 3, POLY_TAILS_EXTRAPOLATE, y, NULL), 2.2, 1e-12);
    cr_assert_float_eq(poly_inv(FOLD, 3, POLY_TAILS_EXTRAPOLATE, -y, NULL), -2.2, 1e-12);
    /* above the fold's peak p(1.1547) = 1.5396 no x maps to 2: the inverse
     * returns the search path's closest point, t = 1.125 (p = 1.53809) */
    double back = poly_inv(FOLD, 3, POLY_TAILS_EXTRAPOLATE, 2.0, NULL);
    cr_assert_float_eq(back, 2.25, 1e-12);
    cr_assert_float_eq(poly_fwd(FOLD, 3, POLY_TAILS_EXTRAPOLATE, back, NULL), 1.5380859375, 1e-12);
    /* the same coefficients with linear tails stay a bijection */
    double lin = poly_inv(FOLD, 3, POLY_TAILS_LINEAR, 2.0, NULL);
    cr_assert_float_eq(poly_fwd(FOLD, 3, POLY_TAILS_LINEAR, lin, NULL), 2.0, 1e-12);
    cr_assert_float_eq(lin, 2 + 2 * (2.0 - 1.5) / 0.5, 1e-12); /* slope p'(1) = 0.5 per t */
}

Test(flow_poly, extrapolation_of_a_fitted_degree_9_grows_far_beyond_the_tangent) {
    float *v = bimodal(5000, 33), *pc = fitted(v, 5000, &OPTS, 9, NULL);
    double lo = pc[0], hi = pc[1], w = hi - lo, worst = 0;
    for (double x = hi + 0.5 * w; x <= hi + 2 * w; x += 0.25 * w) {
        double a = poly_fwd(pc, 9, POLY_TAILS_EXTRAPOLATE, x, NULL);
        double b = poly_fwd(pc, 9, POLY_TAILS_LINEAR, x, NULL);
        worst = fmax(worst, fabs(a - b));
    }
    for (double x = lo; x <= hi; x += w / 300) /* identical inside */
        cr_assert_eq(poly_fwd(pc, 9, POLY_TAILS_EXTRAPOLATE, x, NULL),
                     poly_fwd(pc, 9, POLY_TAILS_LINEAR, x, NULL));
    /* measured: ~1e3 standard units apart within two support widths */
    cr_assert_gt(worst, 50.0, "extrapolation stayed within %g of the tangent", worst);
    free(v);
    free(pc);
}

Test(flow_poly, certificate_refuses_dips_flat_points_and_bad_bounds) {
    float dip[POLY_STRIDE(3)] = {0, 1, 0, -0.5f + 0.75f, 0, 0.25f}; /* t³ - t/2 */
    float flat[POLY_STRIDE(3)] = {0, 1, 0, 0.75f, 0, 0.25f};        /* t³ */
    float steep[POLY_STRIDE(3)] = {0, 1, 0, 0.76f, 0, 0.25f};       /* t³ + t/100 */
    cr_assert_eq(poly_check(dip, 3), 0);
    cr_assert_eq(poly_check(flat, 3), 0);
    cr_assert_eq(poly_check(steep, 3), 1);
    float empty[POLY_STRIDE(1)] = {1, 1, 0, 1}, rev[POLY_STRIDE(1)] = {2, 1, 0, 1};
    float nan_c[POLY_STRIDE(1)] = {0, 1, NAN, 1}, down[POLY_STRIDE(1)] = {0, 1, 0, -1};
    cr_assert_eq(poly_check(empty, 1), 0);
    cr_assert_eq(poly_check(rev, 1), 0);
    cr_assert_eq(poly_check(nan_c, 1), 0);
    cr_assert_eq(poly_check(down, 1), 0);
    cr_assert_eq(poly_check(steep, POLY_MAX_DEG + 1), 0);
    /* degree 16: p = T1 + c T16, p'(±1) = 1 ± 256 c (T16' peaks at the
     * ends): increasing for c = 1/257, dips below 0 near t = -1 for 1/255 */
    float hi[POLY_STRIDE(16)] = {-1, 1, 0, 1};
    hi[2 + 16] = 1.0f / 257;
    cr_assert_eq(poly_check(hi, 16), 1);
    hi[2 + 16] = 1.0f / 255;
    cr_assert_eq(poly_check(hi, 16), 0);
}

Test(flow_poly, a_gap_in_the_data_lowers_the_degree_until_the_fit_increases) {
    /* two tight clusters far apart: the Gaussianizing map is a step, and a
     * high-degree least-squares fit of a step overshoots (Gibbs) */
    int64_t n = 4000;
    float *v = malloc((size_t)n * sizeof *v);
    nota_rng_fill_normal(8, 1, v, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (i % 2 ? -10.0f : 10.0f) + 0.2f * v[i];
    spline_opts o = OPTS;
    o.damping = 1.0;
    int used;
    float *pc = fitted(v, n, &o, 16, &used);
    cr_assert_lt(used, 16, "kept degree %d", used);
    cr_assert_eq(poly_check(pc, 16), 1);
    assert_bijective_linear(pc, 16);
    free(v);
    free(pc);
}

Test(flow_poly, one_damped_layer_more_than_halves_the_skew_of_an_exponential) {
    /* Undamped (α = 1), every fit of degree >= 2 to this map overshoots
     * and turns down in the sparse upper tail, so degree 1 is kept: a
     * polynomial is a poor class for Φ⁻¹(F) of a skewed marginal. Damped
     * (the default α = 0.7), degree 3 passes and the skew falls. */
    int64_t n = 20000;
    float *u = malloc((size_t)n * sizeof *u);
    nota_rng_fill_uniform(9, 1, u, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        u[i] = -logf(1.0f - u[i]); /* exponential(1), skewness 2 */
    spline_opts o = OPTS;
    o.damping = 1.0;
    int used;
    free(fitted(u, n, &o, 9, &used));
    cr_assert_eq(used, 1);
    float *pc = fitted(u, n, &OPTS, 9, &used);
    cr_assert_eq(used, 3);
    double m = 0, m2 = 0, m3 = 0;
    for (int64_t i = 0; i < n; i++) {
        double y = poly_fwd(pc, 9, POLY_TAILS_LINEAR, u[i], NULL);
        m += y;
        m2 += y * y;
        m3 += y * y * y;
    }
    m /= n;
    m2 /= n;
    m3 /= n;
    double var = m2 - m * m, skew = (m3 - 3 * m * m2 + 2 * m * m * m) / pow(var, 1.5);
    cr_assert_lt(skew, 1.0, "skewness %g (measured 0.88)", skew);
    cr_assert_gt(skew, 0.0, "skewness %g", skew);
    free(u);
    free(pc);
}

Test(flow_poly, constant_data_and_bad_degrees_are_not_fitted) {
    float v[100], pc[POLY_STRIDE(POLY_MAX_DEG + 1)];
    for (int i = 0; i < 100; i++)
        v[i] = 4.5f;
    spline_work w;
    cr_assert_eq(spline_work_init(&w, 256), 0);
    cr_assert_eq(poly_fit(v, 100, &OPTS, 9, &w, pc, NULL), 1);
    for (int i = 0; i < 100; i++)
        v[i] = (float)i;
    cr_assert_eq(poly_fit(v, 100, &OPTS, 0, &w, pc, NULL), 1);
    cr_assert_eq(poly_fit(v, 100, &OPTS, POLY_MAX_DEG + 1, &w, pc, NULL), 1);
    cr_assert_eq(poly_fit(v, 100, &OPTS, 5, &w, pc, NULL), 0);
    spline_work_free(&w);
}
