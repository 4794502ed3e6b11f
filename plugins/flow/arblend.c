/* The cells of a shared-cell autoregressive layer (arcell.c) and the map
 * of a value by their splines. A layer with one cell per context maps t
 * by that cell's spline S(t). A blended layer (ar_blend) cuts each
 * context number at bin centres instead and maps t by Σ_k w_k S_k(t) over
 * the up to 8 cells around the context, weights trilinear in the
 * context's position between centres: continuous in the context, which
 * with contexts read at 8-bit levels' centres keeps a decode of slightly
 * perturbed codes close (docs/flow.md "Blended cells and level
 * contexts"). The inverse of a blend is solved by a safeguarded Newton
 * method; one spline's by its closed form.
 */
#include <math.h>
#include <stdbool.h>

#include "flow.h"
#include "spline.h"

/* Where v lies among the B increasing bin centres e of a blended layer:
 * returns k and *t in [0, 1), the weight of centre k + 1 (the weight of
 * k is 1 - t); outside the centres, the nearest one alone. */
static int64_t blend_axis(const float *e, int64_t B, double v, double *t) {
    *t = 0;
    if (B == 1 || v <= e[0]) return 0;
    if (v >= e[B - 1]) return B - 1;
    int64_t k = flow_ar_bin(e, B, v); /* e[k] <= v < e[k + 1] */
    *t = (v - e[k]) / ((double)e[k + 1] - e[k]);
    return k;
}

/* The cell of context c3: the bin it falls in, or with ar_blend the cell
 * of the nearest centres (the fit's cells for the splines). */
int64_t flow_arcell_cell(const flow_layer *l, const double c3[3]) {
    const float *e = l->ar_edges;
    int64_t cell = 0;
    for (int j = 0; j < 3; j++) {
        double t;
        int64_t k = l->ar_blend ? blend_axis(e, l->ar_cb[j], c3[j], &t) + (t >= 0.5)
                                : flow_ar_bin(e, l->ar_cb[j], c3[j]);
        cell = cell * l->ar_cb[j] + k;
        e += l->ar_cb[j];
    }
    return cell;
}

/* The cells whose splines map a value with context c3, and their weights
 * (> 0, sum 1): the one cell it falls in, weight 1; with ar_blend the up
 * to 8 around it, weights trilinear in the context's positions between
 * centres, so they move continuously with c3 and the map does too.
 * Returns how many (1..8). */
int flow_arcell_pick(const flow_layer *l, const double c3[3], int64_t cell[8], double w[8]) {
    if (!l->ar_blend) {
        cell[0] = flow_arcell_cell(l, c3);
        w[0] = 1;
        return 1;
    }
    const float *e = l->ar_edges;
    int64_t k[3];
    double t[3];
    for (int j = 0; j < 3; j++) {
        k[j] = blend_axis(e, l->ar_cb[j], c3[j], &t[j]);
        e += l->ar_cb[j];
    }
    int n = 0;
    for (int m = 0; m < 8; m++) {
        double wt = 1;
        int64_t idx = 0;
        int j = 0;
        for (; j < 3; j++) {
            int up = (m >> (2 - j)) & 1;
            double wj = up ? t[j] : 1.0 - t[j];
            if (wj <= 0) break;
            wt *= wj;
            idx = idx * l->ar_cb[j] + k[j] + up;
        }
        if (j < 3) continue;
        cell[n] = idx;
        w[n++] = wt;
    }
    return n;
}

/* The blend of the n splines at t: Σ w S_cell(t); *d its derivative. */
double flow_arcell_blend_fwd(const float *knots, int K, const int64_t *cell, const double *w, int n,
                             double t, double *d) {
    double z = 0, dz = 0;
    for (int q = 0; q < n; q++) {
        double dq, y = spline_fwd_d(knots + cell[q] * 3 * K, K, t, &dq);
        z += w[q] * y;
        dz += w[q] * dq;
    }
    *d = dz;
    return z;
}

/* The t with flow_arcell_blend_fwd(t) = z. It lies between the splines'
 * own inverses (each spline is increasing); Newton's method from their
 * weighted mean, halving the bracket instead when a step would leave it
 * or would not be under half the step before last (as rtsafe in
 * Numerical Recipes: plain Newton can cycle between two points of a
 * blend), until a step is under 1e-14 of t. A deterministic function of
 * its arguments, so the forward (which reads contexts from it, see
 * cell_range in arcell.c) and the inverse agree bit for bit. */
double flow_arcell_blend_inv(const float *knots, int K, const int64_t *cell, const double *w, int n,
                             double z) {
    if (n == 1) return spline_inv(knots + cell[0] * 3 * K, K, z, NULL);
    double lo = INFINITY, hi = -INFINITY, t = 0;
    for (int q = 0; q < n; q++) {
        double s = spline_inv(knots + cell[q] * 3 * K, K, z, NULL);
        lo = fmin(lo, s);
        hi = fmax(hi, s);
        t += w[q] * s;
    }
    double pad = 1e-9 * (1.0 + fmax(fabs(lo), fabs(hi))), prev, older;
    lo -= pad;
    hi += pad;
    t = fmin(fmax(t, lo), hi);
    prev = older = hi - lo;
    for (int it = 0; it < 200; it++) {
        double d, m = flow_arcell_blend_fwd(knots, K, cell, w, n, t, &d) - z;
        if (m == 0) break;
        if (m > 0)
            hi = t;
        else
            lo = t;
        double step = m / d, tn = t - step;
        if (fabs(step) <= 1e-14 * (1.0 + fabs(t))) {
            t = tn;
            break;
        }
        if (!(tn > lo && tn < hi) || fabs(step) > 0.5 * older) tn = 0.5 * (lo + hi);
        older = prev;
        prev = fabs(tn - t);
        t = tn;
    }
    return t;
}
