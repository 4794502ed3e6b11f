/* The NOTA poster's marginal transform: a polynomial fitted to a
 * coordinate's Gaussianizing map, with the support bounds it was fitted on
 * stored beside it ("bounded support extrapolation is unstable … supports
 * must be saved in memory").
 *
 * One coordinate's polynomial is deg + 3 floats: the support bounds lo < hi
 * (the training sample's extremes), then Chebyshev coefficients c_0..c_deg
 * of p(t) in the scaled variable t = (x - (lo + hi)/2) / ((hi - lo)/2), so
 * that the support is t ∈ [-1, 1] (Chebyshev, not monomial, coefficients:
 * rounded to f32 they still describe the function well at degree 16).
 * Inside the support p is certified strictly increasing (p' > 0 at the
 * midpoint of every piece of a bisection, by more than a bound on |p''|
 * times the half-width allows it to fall), so the map
 * is a bijection there with an exact inverse (bracketed Newton) and an
 * exact log-derivative log p'(t)/h.
 *
 * Outside the support (`poly_tails`):
 *   linear      — the tangent line at the nearest bound (C¹, strictly
 *                 increasing on the whole line, exact inverse);
 *   extrapolate — p itself, the poster's behaviour. p need not increase
 *                 there: the map may fold (not a bijection) and its values
 *                 grow like t^deg. The log-derivative is log |p'(t)|/h (−∞
 *                 where p' = 0), which is a density only while p' > 0.
 *                 The inverse solves p(t) = y inside the support when y is
 *                 in [p(-1), p(1)], else on a bracket that widens outward
 *                 from the nearer bound (t = ±(1 + 2^k/16), up to |t| ≈
 *                 1025); it returns the first root it brackets, and where p
 *                 never reaches y on that path, the path point whose value
 *                 came closest — not an inverse.
 */
#ifndef FLOW_POLY_H
#define FLOW_POLY_H

#include <stdint.h>

#include "spline.h"

#define POLY_MAX_DEG 16
#define POLY_STRIDE(deg) ((deg) + 3)

typedef enum { POLY_TAILS_LINEAR = 0, POLY_TAILS_EXTRAPOLATE = 1 } poly_tails;

/* Forward value at x; *logd = log |dy/dx| (may be NULL). */
double poly_fwd(const float *pc, int deg, int tails, double x, double *logd);
/* Inverse (see above for extrapolate outside the support's image). */
double poly_inv(const float *pc, int deg, int tails, double y, double *logd);

/* 1 when lo < hi are finite, the coefficients finite and p' > 0 on
 * [-1, 1] is certified (with a margin for rounding), else 0. */
int poly_check(const float *pc, int deg);

/* Fit v[0..n): the damped target (1-α) x + α Φ⁻¹(F(x)) at quantile nodes
 * of the smoothed CDF (the spline's node ladder), least squares in the
 * Chebyshev basis. If the degree-`deg` fit (rounded to f32) is not
 * certified increasing on the support, the degree is lowered until it is;
 * *used (may be NULL) gets the degree kept. Writes POLY_STRIDE(deg) floats
 * (unused high coefficients 0). Returns 0, or 1 when v is (nearly)
 * constant or no degree gives an increasing fit. */
int poly_fit(const float *v, int64_t n, const spline_opts *o, int deg, spline_work *w, float *pc,
             int *used);

#endif
