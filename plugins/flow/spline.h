/* Monotone rational-quadratic splines with linear tails (Durkan et al. 2019,
 * "Neural Spline Flows"), the flow's marginal transform, and their fit to a
 * smoothed empirical CDF mapped through the inverse normal CDF.
 *
 * One coordinate's spline is 3K floats: knot positions x[0..K), values
 * y[0..K), derivatives d[0..K) (all strictly increasing / positive). Between
 * knots it is the rational-quadratic interpolant matching values and slopes;
 * outside [x0, xK-1] it continues linearly with the end slopes, so it maps
 * the whole real line onto itself, bijectively, with a closed-form inverse.
 * Evaluation is in double on f32 parameters, so a saved and reloaded spline
 * computes exactly the same numbers.
 */
#ifndef FLOW_SPLINE_H
#define FLOW_SPLINE_H

#include <stdint.h>

/* Forward value at x; *logd = log dy/dx (may be NULL). */
double spline_fwd(const float *kn, int k, double x, double *logd);
/* Forward value at x; *d = dy/dx (not its log: a caller summing many
 * log-derivatives multiplies a block of them and takes one log). */
double spline_fwd_d(const float *kn, int k, double x, double *d);
/* Inverse: the x with spline_fwd(x) = y; *logd = log dy/dx at that x. */
double spline_inv(const float *kn, int k, double y, double *logd);

/* Standard normal CDF, its inverse (|error| ~1e-15) and log density. */
double norm_cdf(double x);
double norm_ppf(double u);
double norm_logpdf(double x);

typedef struct spline_opts {
    int knots;        /* K */
    int grid;         /* points of the KDE grid */
    double damping;   /* alpha: y = (1-alpha) x + alpha Phi^-1(F(x)) at the knots */
    double bandwidth; /* factor on the CDF-rate bandwidth (see spline.c) */
} spline_opts;

/* Scratch for one fit; one per thread. */
typedef struct spline_work {
    double *cnt, *dens, *cdf, *kern;
    int grid;
} spline_work;

int spline_work_init(spline_work *w, int grid); /* 0 ok, -1 out of memory */
void spline_work_free(spline_work *w);

/* The smoothed CDF of one coordinate's samples: on the grid g0 + i·dx of
 * w->cdf; lo, hi the sample extremes; zmax the normal score of the most
 * extreme level the sample size supports, 1 - 1/(n+1) (capped at 5). */
typedef struct spline_grid {
    double g0, dx, lo, hi, zmax;
} spline_grid;

/* Kernel-smoothed CDF of v[0..n) into w; 1 when v is (nearly) constant. */
int spline_cdf(const float *v, int64_t n, const spline_opts *o, spline_work *w, spline_grid *g);
/* K probability levels (K <= 512) whose normal scores mix a ladder even in
 * probability with one even in score over [-zmax, zmax]. */
void spline_levels(int K, double zmax, double *u);
/* x with F(x) = u on the grid, for increasing u across calls (*cursor
 * starts at 0 and carries the search position). */
double spline_quantile(const spline_work *w, const spline_grid *g, double u, int *cursor);

/* Fit coordinate samples v[0..n) (n >= 2): Gaussian KDE on a grid, knots at
 * fixed quantile levels of it, targets damped toward the identity. Writes 3K
 * floats to kn. Returns 0, or 1 when the data are (nearly) constant and no
 * spline can be fitted (the caller leaves that coordinate unchanged). */
int spline_fit(const float *v, int64_t n, const spline_opts *o, spline_work *w, float *kn);

#endif
