/* Rational-quadratic splines and their fit (see spline.h).
 *
 * The fit smooths one coordinate's empirical CDF with a Gaussian kernel on
 * a regular grid (linear binning, then a truncated kernel convolution:
 * O(n + grid × kernel) instead of O(n²)) and places K knots at fixed
 * quantile levels of it, spread so that both the bulk and the tails get
 * knots. The knot values
 * are the target map T(x) = Φ⁻¹(F(x)); slopes come from the neighbouring
 * secants, so the spline follows the quantiles without a noisy density
 * estimate in its log-derivative. Damping
 * mixes the target with the identity, (1-α)x + αT(x), so each layer moves
 * only part of the way: that keeps finite-sample noise from being amplified
 * layer after layer.
 */
#include "spline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SQRT_2PI 0.91893853320467274178

double norm_cdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }

double norm_logpdf(double x) { return -0.5 * x * x - LOG_SQRT_2PI; }

/* Acklam's rational approximation (relative error 1.2e-9), polished by two
 * Halley steps on erfc to full double precision. */
double norm_ppf(double u) {
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    if (!(u > 0)) return -INFINITY;
    if (!(u < 1)) return INFINITY;
    double x;
    if (u < 0.02425 || u > 1 - 0.02425) {
        double q = sqrt(-2 * log(u < 0.5 ? u : 1 - u));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (u > 0.5) x = -x;
    } else {
        double q = u - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    for (int it = 0; it < 2; it++) {
        /* error measured on the smaller tail, where erfc keeps full precision */
        double e = x < 0 ? norm_cdf(x) - u : (1 - u) - norm_cdf(-x);
        double g = e * exp(0.5 * x * x + LOG_SQRT_2PI);
        x -= g / (1 + 0.5 * x * g);
    }
    return x;
}

/* Largest bin index i in [0, k-2] with t[i] <= v (t strictly increasing).
 * Branch-free halving: the compiler turns the select into a conditional
 * move, so the search costs no mispredicted branches. */
static int find_bin(const float *t, int k, double v) {
    int base = 0, n = k - 1;
    while (n > 1) {
        int half = n / 2;
        base = (double)t[base + half] <= v ? base + half : base;
        n -= half;
    }
    return base;
}

/* log dy/dx inside a bin at relative position xi. */
static double bin_logd(double s, double d0, double d1, double xi) {
    double t = xi * (1 - xi);
    double den = s + (d1 + d0 - 2 * s) * t;
    double num = s * s * (d1 * xi * xi + 2 * s * t + d0 * (1 - xi) * (1 - xi));
    /* f32 log: its 1e-7 relative error is far below what the f32 data
     * carry, and it is several times cheaper than the double log */
    return logf((float)(num / (den * den)));
}

double spline_fwd(const float *kn, int k, double x, double *logd) {
    const float *kx = kn, *ky = kn + k, *kd = kn + 2 * k;
    if (x <= kx[0] || x >= kx[k - 1]) {
        int e = x <= kx[0] ? 0 : k - 1;
        if (logd) *logd = logf(kd[e]);
        return ky[e] + (double)kd[e] * (x - kx[e]);
    }
    int i = find_bin(kx, k, x);
    double w = (double)kx[i + 1] - kx[i], h = (double)ky[i + 1] - ky[i], s = h / w;
    double d0 = kd[i], d1 = kd[i + 1], xi = (x - kx[i]) / w;
    double t = xi * (1 - xi);
    if (logd) *logd = bin_logd(s, d0, d1, xi);
    return ky[i] + h * (s * xi * xi + d0 * t) / (s + (d1 + d0 - 2 * s) * t);
}

double spline_fwd_d(const float *kn, int k, double x, double *d) {
    const float *kx = kn, *ky = kn + k, *kd = kn + 2 * k;
    if (x <= kx[0] || x >= kx[k - 1]) {
        int e = x <= kx[0] ? 0 : k - 1;
        *d = kd[e];
        return ky[e] + (double)kd[e] * (x - kx[e]);
    }
    int i = find_bin(kx, k, x);
    double w = (double)kx[i + 1] - kx[i], h = (double)ky[i + 1] - ky[i], s = h / w;
    double d0 = kd[i], d1 = kd[i + 1], xi = (x - kx[i]) / w;
    double t = xi * (1 - xi), den = s + (d1 + d0 - 2 * s) * t;
    *d = s * s * (d1 * xi * xi + 2 * s * t + d0 * (1 - xi) * (1 - xi)) / (den * den);
    return ky[i] + h * (s * xi * xi + d0 * t) / den;
}

double spline_inv(const float *kn, int k, double y, double *logd) {
    const float *kx = kn, *ky = kn + k, *kd = kn + 2 * k;
    if (y <= ky[0] || y >= ky[k - 1]) {
        int e = y <= ky[0] ? 0 : k - 1;
        if (logd) *logd = logf(kd[e]);
        return kx[e] + (y - ky[e]) / (double)kd[e];
    }
    int i = find_bin(ky, k, y);
    double w = (double)kx[i + 1] - kx[i], h = (double)ky[i + 1] - ky[i], s = h / w;
    double d0 = kd[i], d1 = kd[i + 1], dy = y - ky[i], c2 = d1 + d0 - 2 * s;
    /* the forward map solved for xi: a xi² + b xi + c = 0, in the stable form */
    double qa = h * (s - d0) + dy * c2, qb = h * d0 - dy * c2, qc = -s * dy;
    double disc = qb * qb - 4 * qa * qc;
    double xi = 2 * qc / (-qb - sqrt(disc > 0 ? disc : 0));
    if (xi < 0) xi = 0;
    if (xi > 1) xi = 1;
    if (logd) *logd = bin_logd(s, d0, d1, xi);
    return kx[i] + xi * w;
}

int spline_work_init(spline_work *w, int grid) {
    w->grid = grid;
    w->cnt = malloc((size_t)grid * sizeof(double));
    w->dens = malloc((size_t)grid * sizeof(double));
    w->cdf = malloc((size_t)grid * sizeof(double));
    w->kern = malloc((size_t)grid * sizeof(double));
    if (!w->cnt || !w->dens || !w->cdf || !w->kern) {
        spline_work_free(w);
        return -1;
    }
    return 0;
}

void spline_work_free(spline_work *w) {
    free(w->cnt);
    free(w->dens);
    free(w->cdf);
    free(w->kern);
    w->cnt = w->dens = w->cdf = w->kern = NULL;
}

/* Linear binning of v onto the grid g0 + i·dx (counts sum to n). */
static void bin_counts(const float *v, int64_t n, double g0, double dx, spline_work *w) {
    int G = w->grid;
    memset(w->cnt, 0, (size_t)G * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double t = (v[i] - g0) / dx;
        int j = (int)t;
        if (j < 0) j = 0;
        if (j > G - 2) j = G - 2;
        double f = t - j;
        if (f > 1) f = 1;
        w->cnt[j] += 1 - f;
        w->cnt[j + 1] += f;
    }
}

/* Quantile u of the binned counts (crude: used only for the IQR). */
static double count_quantile(const spline_work *w, int64_t n, double g0, double dx, double u) {
    double acc = 0, target = u * (double)n;
    for (int j = 0; j < w->grid; j++) {
        acc += w->cnt[j];
        if (acc >= target) return g0 + dx * j;
    }
    return g0 + dx * (w->grid - 1);
}

/* CDF on the grid of the Gaussian KDE with bandwidth h of the binned data. */
static void kde_cdf(int64_t n, double h, double dx, spline_work *w) {
    int G = w->grid;
    memset(w->dens, 0, (size_t)G * sizeof(double));
    int M = (int)ceil(4 * h / dx);
    if (M > G - 1) M = G - 1;
    double ks = 0;
    for (int m = 0; m <= M; m++) {
        double r = m * dx / h;
        w->kern[m] = exp(-0.5 * r * r);
        ks += m ? 2 * w->kern[m] : w->kern[m];
    }
    /* scatter each occupied grid point's mass; empty points cost nothing */
    for (int j = 0; j < G; j++) {
        double c = w->cnt[j];
        if (c == 0) continue;
        int a = j - M < 0 ? 0 : j - M, b = j + M > G - 1 ? G - 1 : j + M;
        for (int g = a; g <= b; g++)
            w->dens[g] += c * w->kern[g > j ? g - j : j - g];
    }
    /* a 1e-6 uniform floor keeps F strictly increasing (every quantile unique) */
    double scale = (1 - 1e-6) / (ks * (double)n * dx), floor_v = 1e-6 / ((G - 1) * dx);
    for (int g = 0; g < G; g++)
        w->dens[g] = w->dens[g] * scale + floor_v;
    w->cdf[0] = 0;
    for (int g = 1; g < G; g++)
        w->cdf[g] = w->cdf[g - 1] + 0.5 * dx * (w->dens[g - 1] + w->dens[g]);
    double tot = w->cdf[G - 1];
    for (int g = 0; g < G; g++)
        w->cdf[g] /= tot;
}

/* Knot levels: the normal score of each knot is the average of two
 * ladders over [-zmax, zmax], one evenly spaced in probability (resolution
 * in the bulk) and one evenly spaced in score (reach into the tails). */
static void knot_levels(int K, double zmax, double *u) {
    double ulo = norm_cdf(-zmax), uhi = 1 - ulo;
    for (int k = 0; k < K; k++) {
        double t = (double)k / (K - 1);
        double z = 0.5 * norm_ppf(ulo + (uhi - ulo) * t) + 0.5 * zmax * (2 * t - 1);
        u[k] = norm_cdf(z);
    }
}

int spline_cdf(const float *v, int64_t n, const spline_opts *o, spline_work *w, spline_grid *g) {
    int G = w->grid;
    double mean = 0, m2 = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        mean += v[i];
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        m2 += (v[i] - mean) * (v[i] - mean);
    double sd = sqrt(m2 / (double)n);
    if (!(sd > 1e-6 * (1 + fabs(mean)))) return 1;
    /* CDF-rate bandwidth (n^-1/3, smaller than a density estimate's n^-1/5):
     * it smooths the staircase without smearing mass across sharp edges
     * such as a dequantized pixel's bounded support. */
    double rate = 0.9 * o->bandwidth * pow((double)n, -1.0 / 3);
    g->g0 = lo - 4 * rate * sd;
    g->dx = (hi - lo + 8 * rate * sd) / (G - 1);
    g->lo = lo;
    g->hi = hi;
    bin_counts(v, n, g->g0, g->dx, w);
    double iqr =
        count_quantile(w, n, g->g0, g->dx, 0.75) - count_quantile(w, n, g->g0, g->dx, 0.25);
    double spread = iqr / 1.349 < sd && iqr > 0 ? iqr / 1.349 : sd;
    kde_cdf(n, rate * spread, g->dx, w);
    g->zmax = norm_ppf(1 - 1.0 / ((double)n + 1));
    if (g->zmax > 5) g->zmax = 5;
    return 0;
}

void spline_levels(int K, double zmax, double *u) { knot_levels(K, zmax, u); }

double spline_quantile(const spline_work *w, const spline_grid *g, double u, int *cursor) {
    int G = w->grid, j = *cursor;
    while (j < G - 2 && w->cdf[j + 1] < u)
        j++;
    *cursor = j;
    double c0 = w->cdf[j], c1 = w->cdf[j + 1];
    double f = (u - c0) / (c1 - c0);
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    return g->g0 + g->dx * (j + f);
}

int spline_fit(const float *v, int64_t n, const spline_opts *o, spline_work *w, float *kn) {
    int K = o->knots;
    spline_grid g;
    if (spline_cdf(v, n, o, w, &g)) return 1;
    double a = o->damping, u[512];
    knot_levels(K, g.zmax, u);
    float *kx = kn, *ky = kn + K, *kd = kn + 2 * K;
    int cur = 0;
    for (int k = 0; k < K; k++) {
        double x = spline_quantile(w, &g, u[k], &cur);
        kx[k] = (float)x;
        ky[k] = (float)((1 - a) * x + a * norm_ppf(u[k]));
        /* f32 rounding may tie neighbours; the spline needs strict increase */
        if (k > 0 && !(kx[k] > kx[k - 1])) kx[k] = nextafterf(kx[k - 1], INFINITY);
        if (k > 0 && !(ky[k] > ky[k - 1])) ky[k] = nextafterf(ky[k - 1], INFINITY);
    }
    /* Slopes: harmonic mean of the neighbouring secants (Fritsch–Butland),
     * which keeps the interpolant shape-preserving; the ends (and the linear
     * tails) take their secant. */
    double sprev = 0;
    for (int k = 0; k < K; k++) {
        double snext = k < K - 1 ? ((double)ky[k + 1] - ky[k]) / ((double)kx[k + 1] - kx[k]) : 0;
        double d = k == 0 ? snext : k == K - 1 ? sprev : 2 * sprev * snext / (sprev + snext);
        kd[k] = (float)d;
        if (!(kd[k] > 1e-6f)) kd[k] = 1e-6f;
        if (!(kd[k] < 1e6f)) kd[k] = 1e6f;
        sprev = snext;
    }
    return 0;
}
