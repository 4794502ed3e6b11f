/* Polynomial marginals (see poly.h): the poster's fit of a polynomial to
 * each coordinate's Gaussianizing map, made safe enough to compare.
 *
 * The fit reuses the spline's smoothed CDF and node ladder, so poly and
 * spline differ only in the function class. Least squares runs in the
 * Chebyshev basis on [-1, 1] (Householder QR: the normal equations of a
 * degree-12 fit lose half the digits). A least-squares polynomial is not
 * monotone by construction, so every fit is certified: [-1, 1] is bisected
 * until on every piece p'(mid) - L·width/2 > 0, L a bound on |p''| from
 * the Chebyshev coefficients (|T_k''| <= k²(k²-1)/3), or a midpoint has
 * p' <= 0. Only stable Clenshaw evaluations are involved (a Bernstein-basis
 * test needs the monomial form, whose rounding at degree 16 can exceed the
 * margin it tests). An uncertified fit is refitted one degree lower;
 * degree 1 with a positive slope always passes. The certificate runs on
 * the f32 coefficients that are stored, and again when a model file is
 * loaded.
 */
#include "poly.h"

#include <math.h>
#include <string.h>

#define NODES_MAX 512
#define CERT_EVALS 65536 /* bisections one certificate may spend */
#define CERT_STACK 128

/* p(t) and p'(t) of the Chebyshev series c[0..n] (Clenshaw, with the
 * recurrence differentiated alongside). */
static void cheb_eval(const float *c, int n, double t, double *p, double *dp) {
    double b1 = 0, b2 = 0, d1 = 0, d2 = 0;
    for (int k = n; k >= 1; k--) {
        double b0 = c[k] + 2 * t * b1 - b2, d0 = 2 * b1 + 2 * t * d1 - d2;
        b2 = b1;
        b1 = b0;
        d2 = d1;
        d1 = d0;
    }
    *p = c[0] + t * b1 - b2;
    *dp = b1 + t * d1 - d2;
}

static void scale_of(const float *pc, double *m, double *h) {
    *m = 0.5 * ((double)pc[0] + pc[1]);
    *h = 0.5 * ((double)pc[1] - pc[0]);
}

double poly_fwd(const float *pc, int deg, int tails, double x, double *logd) {
    double m, h, p, dp;
    scale_of(pc, &m, &h);
    double t = (x - m) / h;
    if (tails == POLY_TAILS_LINEAR && (t < -1 || t > 1)) {
        double e = t < -1 ? -1 : 1;
        cheb_eval(pc + 2, deg, e, &p, &dp);
        if (logd) *logd = log(dp / h);
        return p + dp * (t - e);
    }
    cheb_eval(pc + 2, deg, t, &p, &dp);
    if (logd) *logd = log(fabs(dp) / h);
    return p;
}

/* A root of p(t) = y in [a, b] given p(a) <= y <= p(b): Newton steps kept
 * inside the shrinking bracket, bisection when a step leaves it. */
static double bracket_solve(const float *c, int n, double y, double a, double b, double pa,
                            double pb) {
    double t = pb > pa ? a + (b - a) * (y - pa) / (pb - pa) : 0.5 * (a + b);
    for (int it = 0; it < 200; it++) {
        double p, dp;
        cheb_eval(c, n, t, &p, &dp);
        double f = p - y;
        if (f == 0) return t;
        if (f < 0)
            a = t;
        else
            b = t;
        double tn = t - f / dp;
        if (!(dp > 0) || !(tn > a && tn < b)) tn = 0.5 * (a + b);
        if (fabs(tn - t) <= 1e-16 * (1 + fabs(t)) || b - a <= 1e-16 * (1 + fabs(t))) return tn;
        t = tn;
    }
    return t;
}

/* Extrapolate: solve p(t) = y beyond the bound `dir` (±1), where y lies
 * beyond p(dir) (see poly.h). */
static double outward_solve(const float *c, int n, double y, int dir) {
    double prev = dir, pprev, dp, best_t = dir, best_gap;
    cheb_eval(c, n, prev, &pprev, &dp);
    best_gap = fabs(pprev - y);
    for (double s = 1.0 / 16; s <= 1024; s *= 2) {
        double b = dir * (1 + s), pb;
        cheb_eval(c, n, b, &pb, &dp);
        if (dir > 0 && pb >= y) return bracket_solve(c, n, y, prev, b, pprev, pb);
        if (dir < 0 && pb <= y) return bracket_solve(c, n, y, b, prev, pb, pprev);
        if (fabs(pb - y) < best_gap) {
            best_gap = fabs(pb - y);
            best_t = b;
        }
        prev = b;
        pprev = pb;
    }
    return best_t;
}

double poly_inv(const float *pc, int deg, int tails, double y, double *logd) {
    double m, h, plo, dlo, phi, dhi, t, p, dp;
    const float *c = pc + 2;
    scale_of(pc, &m, &h);
    cheb_eval(c, deg, -1, &plo, &dlo);
    cheb_eval(c, deg, 1, &phi, &dhi);
    if (tails == POLY_TAILS_LINEAR && (y < plo || y > phi)) {
        double e = y < plo ? -1 : 1, pe = y < plo ? plo : phi, de = y < plo ? dlo : dhi;
        if (logd) *logd = log(de / h);
        return m + h * (e + (y - pe) / de);
    }
    if (y < plo)
        t = outward_solve(c, deg, y, -1);
    else if (y > phi)
        t = outward_solve(c, deg, y, 1);
    else
        t = bracket_solve(c, deg, y, -1, 1, plo, phi);
    cheb_eval(c, deg, t, &p, &dp);
    if (logd) *logd = log(fabs(dp) / h);
    return m + h * t;
}

/* --- the monotonicity certificate --- */

int poly_check(const float *pc, int deg) {
    if (deg < 1 || deg > POLY_MAX_DEG || !isfinite(pc[0]) || !isfinite(pc[1]) || !(pc[1] > pc[0]))
        return 0;
    const float *c = pc + 2;
    /* |T_k'| <= k² and |T_k''| <= k²(k²-1)/3 on [-1, 1]: s1 bounds |p'|,
     * lip bounds |p''|, the Lipschitz constant of p' */
    double s1 = 0, lip = 0;
    for (int k = 0; k <= deg; k++) {
        if (!isfinite(c[k])) return 0;
        s1 += fabs(c[k]) * k * k;
        lip += fabs(c[k]) * k * k * (k * k - 1) / 3.0;
    }
    /* Clenshaw's rounding error stays far below this margin */
    double margin = 1e-12 * s1 + 1e-300;
    double lo[CERT_STACK], hi[CERT_STACK];
    int top = 0, evals = 0;
    lo[0] = -1;
    hi[0] = 1;
    top = 1;
    while (top > 0) {
        top--;
        double a = lo[top], b = hi[top], mid = 0.5 * (a + b), p, dp;
        cheb_eval(c, deg, mid, &p, &dp);
        if (!(dp > margin)) return 0;                    /* a point where p does not increase */
        if (dp - 0.5 * lip * (b - a) > margin) continue; /* p' > 0 on all of [a, b] */
        if (++evals > CERT_EVALS || top + 2 > CERT_STACK) return 0;
        lo[top] = mid;
        hi[top] = b;
        top++;
        lo[top] = a;
        hi[top] = mid;
        top++;
    }
    return 1;
}

/* --- the fit --- */

/* Least squares min |A x - y| (A: rows × cols, row-major, overwritten),
 * Householder QR. Returns -1 when A is rank-deficient. */
static int lsq(double *A, int rows, int cols, double *y, double *x) {
    double diag[POLY_MAX_DEG + 1];
    for (int j = 0; j < cols; j++) {
        double nrm = 0;
        for (int i = j; i < rows; i++)
            nrm += A[i * cols + j] * A[i * cols + j];
        nrm = sqrt(nrm);
        if (!(nrm > 0)) return -1;
        double alpha = A[j * cols + j] > 0 ? -nrm : nrm, v2 = 0;
        A[j * cols + j] -= alpha;
        for (int i = j; i < rows; i++)
            v2 += A[i * cols + j] * A[i * cols + j];
        for (int k = j + 1; k <= cols; k++) { /* k == cols: the right-hand side */
            double s = 0;
            for (int i = j; i < rows; i++)
                s += A[i * cols + j] * (k < cols ? A[i * cols + k] : y[i]);
            s *= 2 / v2;
            for (int i = j; i < rows; i++) {
                if (k < cols)
                    A[i * cols + k] -= s * A[i * cols + j];
                else
                    y[i] -= s * A[i * cols + j];
            }
        }
        diag[j] = alpha;
    }
    for (int j = cols - 1; j >= 0; j--) {
        double s = y[j];
        for (int k = j + 1; k < cols; k++)
            s -= A[j * cols + k] * x[k];
        x[j] = s / diag[j];
    }
    return 0;
}

int poly_fit(const float *v, int64_t n, const spline_opts *o, int deg, spline_work *w, float *pc,
             int *used) {
    if (used) *used = 0;
    spline_grid g;
    if (deg < 1 || deg > POLY_MAX_DEG || spline_cdf(v, n, o, w, &g)) return 1;
    pc[0] = (float)g.lo;
    pc[1] = (float)g.hi;
    if (!(pc[1] > pc[0])) return 1;
    int M = 16 * (deg + 1) < NODES_MAX ? 16 * (deg + 1) : NODES_MAX;
    double u[NODES_MAX], t[NODES_MAX], y[NODES_MAX], yw[NODES_MAX];
    double A[NODES_MAX * (POLY_MAX_DEG + 1)], coef[POLY_MAX_DEG + 1];
    double m, h, a = o->damping;
    scale_of(pc, &m, &h);
    spline_levels(M, g.zmax, u);
    int cur = 0;
    for (int k = 0; k < M; k++) {
        double x = spline_quantile(w, &g, u[k], &cur);
        t[k] = (x - m) / h;
        y[k] = (1 - a) * x + a * norm_ppf(u[k]);
    }
    for (int d = deg; d >= 1; d--) {
        for (int k = 0; k < M; k++) { /* T_j(t_k) by the recurrence */
            double *row = A + k * (d + 1);
            row[0] = 1;
            row[1] = t[k];
            for (int j = 2; j <= d; j++)
                row[j] = 2 * t[k] * row[j - 1] - row[j - 2];
            yw[k] = y[k];
        }
        if (lsq(A, M, d + 1, yw, coef)) continue;
        for (int j = 0; j <= deg; j++)
            pc[2 + j] = j <= d ? (float)coef[j] : 0.0f;
        if (poly_check(pc, deg)) {
            if (used) *used = d;
            return 0;
        }
    }
    return 1;
}
