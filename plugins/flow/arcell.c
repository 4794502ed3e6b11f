/* Shared-cell autoregressive layers (ar_shared).
 *
 * An autoregressive layer of ar.c gives every coordinate its own splines,
 * chosen by one context number, so each spline sees at most N / 256
 * training values of one pixel position. This layer shares its splines
 * across all D coordinates instead and spends the D-fold data on a richer
 * context, as lossless image coders do (CALIC, LOCO-I): coordinate r, in
 * the layer's order, is mapped by
 *
 *     z_r = S_cell(t_r),  t_r = a_r x_r + b_r,
 *     cell = (bin(c_r), bin(s_r), bin(err_r)),
 *
 * where, with v the neighbours' values in context space,
 *   c_r   = the coordinate's own least-squares prediction of v_r from its
 *           neighbours v_nbr(r) (as in ar.c) and five edge-following
 *           features of the nearest ones (cell_pred_features),
 *   err_r = |e_left| + |e_up| + (|e_up-left| + |e_up-right|) / 2 over the
 *           4 nearest earlier neighbours, e_j = v_j − c_j their own
 *           prediction errors,
 *   s_r   = the coordinate's least-squares prediction of |v_r − c_r| from
 *           |v_j − c_r| (every neighbour j), |e_j| (the 4 nearest), c_r,
 *           c_r² and 1: the error to expect, learned per coordinate,
 * and each number is cut into global quantile bins. t_r is the
 * coordinate's value on a scale shared by all coordinates: for the first
 * layer of a logit-preprocessed image model it undoes the per-coordinate
 * standardisation (t = the logit of the pixel) and contexts are read as
 * pixel intensities v = sigmoid(t) (ar_squash) — measured with a discrete
 * prototype on Fashion-MNIST (bench/flow_cell_proto.py): 3.298 bits/dim for the
 * prediction, err and the neighbours' mean distance from the prediction
 * read as intensities, against 3.394 read as logits; the learned s in
 * place of that distance 3.281. Elsewhere a = 1, b = 0 and v = x.
 *
 * The net prediction (ar_hidden > 0, the first ar_net_layers layers): a
 * network F → H → H → 2 with ReLUs, shared by all coordinates, predicts
 * v_r and |v_r − that prediction| from the same neighbours and edge
 * features plus the position (row and column in [0, 1]); it is trained
 * by Adam on the squared errors of ar_net_steps batches of 4096 random
 * (coordinate, item) pairs, and its outputs are one more feature of the
 * least-squares prediction c_r and of the scale s_r. On Fashion-MNIST one
 * such layer alone scores about 0.1 bits/dim better than without the
 * net, more the longer the net trains (bench/flow_ar.sh net;
 * docs/flow.md). The net itself is in arnet.c.
 *
 * The map is triangular as in ar.c: log|det J| = Σ_r log(a_r S'(t_r)).
 * A cell with fewer than AR_CELL_MIN training values takes the spline of
 * the pooled cells sharing its prediction and scale bins, else its
 * prediction bin, else all values; each pool is fitted once.
 *
 * Blended cells (ar_blend) and level contexts (ar_squash 2). With one
 * cell's spline the map jumps where a context crosses a bin edge, so a
 * code that comes back from the rotation layers' float inverse ~1e-6 off
 * can decode through another cell and derail every later value. Two
 * changes remove that for 8-bit images:
 *   - the first layer of a logit model reads each neighbour at the centre
 *     of its 8-bit level (the dequantization noise inside a level carries
 *     nothing), so a reconstructed value moves its contexts only if it
 *     is off by a good part of a level;
 *   - the bins become centres (quantiles (k + 1/2)/B) and a value is
 *     mapped by z = Σ w_k S_k(t) over the up to 8 cells around its
 *     context, w trilinear in the context's position between centres:
 *     continuous in the context and 0.015-0.02 bits/dim better; the
 *     inverse solves for t by safeguarded Newton (arblend.c). The
 *     splines are fitted on each value's nearest cell, as before.
 * Blending alone is not enough: with raw contexts the splines of nearby
 * cells differ by their fit noise over small context steps, so a small
 * error grows from pixel to pixel instead of jumping; so by default
 * (ar_blend=levels) only layers with level contexts blend
 * (docs/flow.md, bench/flow_decode.sh).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "spline.h"

#define AR_CELL_MIN 256
#define AR_CELL_GRAIN 256
#define AR_CELL_EDGE_ITEMS 2000000 /* values per context number sorted for its edges */

/* Index in a neighbour row (flow_ar_neighbours) of the nearest earlier
 * neighbours: left, up, up-left, up-right, then two to the left and two
 * up (-1 when the radius is 1) for images; the previous coordinates for
 * vectors (-1 past the M there are). */
void flow_arcell_near(const flow *f, int R, int64_t near[6]) {
    if (f->item_ndim == 3) {
        int64_t row = 2 * R + 1, up = (int64_t)(R - 1) * row + R;
        near[0] = (int64_t)R * row + R - 1;
        near[1] = up;
        near[2] = up - 1;
        near[3] = up + 1;
        near[4] = R >= 2 ? (int64_t)R * row + R - 2 : -1;
        near[5] = R >= 2 ? (int64_t)(R - 2) * row + R : -1;
    } else {
        for (int j = 0; j < 6; j++)
            near[j] = j < flow_ar_m(R) ? j : -1;
    }
}

static double cell_value(const flow_layer *l, int64_t r, double x) {
    double t = (double)l->ar_aff[2 * r] * x + (double)l->ar_aff[2 * r + 1];
    if (!l->ar_squash) return t;
    double v = 1.0 / (1.0 + exp(-t)), lam = l->ar_lambda, s = 1.0 - 2.0 * lam;
    if (l->ar_squash == 1) return v;
    double q = fmin(fmax(floor(256.0 * (v - lam) / s), 0.0), 255.0);
    return lam + s * (q + 0.5) / 256.0;
}

int64_t flow_arcell_pred_weights(int64_t m, bool net) { return m + 14 + (net ? 1 : 0); }

/* The base features of coordinate r for item i (M + 13 values): its M
 * neighbours' context values (0 outside the item), then of
 * the nearest ones (left W, up N, up-left NW, up-right NE, and WW, NN two
 * steps away; 0 where absent) the median edge detector of LOCO-I —
 * min(W, N) if NW >= max(W, N), max(W, N) if NW <= min(W, N), else
 * W + N − NW — and max, min of (W, N), (N, NE), (W, NW), (N, NW), (W, WW)
 * and (N, NN): a linear prediction cannot follow an edge, these can (in
 * the discrete prototype (bench/flow_cell_proto.py) the first five took the
 * prediction error from 0.0106 to 0.0093 intensity² and the bits/dim from
 * 3.281 to 3.220; the last eight to 0.0092 and 3.217). */
void flow_arcell_base_features(const flow_layer *l, int64_t r, const float *v, int64_t N, int64_t i,
                               double *f) {
    int64_t M = l->ar_m;
    const int64_t *nb = l->ar_nbr + r * M;
    for (int64_t m = 0; m < M; m++)
        f[m] = nb[m] >= 0 ? v[nb[m] * N + i] : 0.0;
    double q[6];
    for (int j = 0; j < 6; j++)
        q[j] = l->ar_near[j] >= 0 ? f[l->ar_near[j]] : 0.0;
    double w = q[0], n = q[1], nw = q[2], mx = fmax(w, n), mn = fmin(w, n);
    f[M] = nw >= mx ? mn : nw <= mn ? mx : w + n - nw;
    static const int pair[6][2] = {{0, 1}, {1, 3}, {0, 2}, {1, 2}, {0, 4}, {1, 5}};
    for (int j = 0; j < 6; j++) {
        f[M + 1 + 2 * j] = fmax(q[pair[j][0]], q[pair[j][1]]);
        f[M + 2 + 2 * j] = fmin(q[pair[j][0]], q[pair[j][1]]);
    }
}

/* The features of the linear prediction: the base features, then the net's
 * prediction (g: 2 × D × N, flow_arnet_eval; with ar_hidden only) and 1. */
static void cell_pred_features(const flow_layer *l, int64_t r, const float *v, const float *g,
                               int64_t N, int64_t i, double *f) {
    int64_t M = l->ar_m;
    flow_arcell_base_features(l, r, v, N, i, f);
    if (l->ar_hidden) f[M + 13] = g[2 * (r * N + i)];
    f[M + 13 + (l->ar_hidden ? 1 : 0)] = 1.0;
}

/* Prediction of coordinate r for item i from context values v (D × N). */
static double cell_predict(const flow_layer *l, int64_t r, const float *v, const float *g,
                           int64_t N, int64_t i) {
    int64_t P = flow_arcell_pred_weights(l->ar_m, l->ar_hidden > 0);
    const float *w = l->ar_w + r * P;
    double f[60 + 15], c = 0;
    cell_pred_features(l, r, v, g, N, i, f);
    for (int64_t j = 0; j < P; j++)
        c += (double)w[j] * f[j];
    return c;
}

int64_t flow_arcell_scale_weights(int64_t m, bool net) { return m + 7 + (net ? 1 : 0); }

/* The features of coordinate r's error scale (f: M + 7 values, M + 8
 * with the net — its error to expect before the last —, the last 1) for
 * item i, and its prediction c and the nearest neighbours' weighted
 * errors err. */
static void cell_features(const flow_layer *l, int64_t r, const float *v, const float *g, int64_t N,
                          int64_t i, double *f, double *c, double *err) {
    int64_t M = l->ar_m;
    const int64_t *nb = l->ar_nbr + r * M;
    double cr = cell_predict(l, r, v, g, N, i), e = 0;
    for (int64_t m = 0; m < M; m++)
        f[m] = nb[m] >= 0 ? fabs(v[nb[m] * N + i] - cr) : 0.0;
    for (int j = 0; j < 4; j++) {
        int64_t q = nb[l->ar_near[j]];
        double eq = q >= 0 ? fabs(v[q * N + i] - cell_predict(l, q, v, g, N, i)) : 0.0;
        f[M + j] = eq;
        e += (j < 2 ? 1.0 : 0.5) * eq;
    }
    f[M + 4] = cr;
    f[M + 5] = cr * cr;
    if (l->ar_hidden) f[M + 6] = g[2 * (r * N + i) + 1];
    f[M + 6 + (l->ar_hidden ? 1 : 0)] = 1.0;
    *c = cr;
    *err = e;
}

/* The three context numbers of coordinate r for item i: c, s, err. */
static void cell_context(const flow_layer *l, int64_t r, const float *v, const float *g, int64_t N,
                         int64_t i, double out[3]) {
    int64_t P = flow_arcell_scale_weights(l->ar_m, l->ar_hidden > 0);
    double f[60 + 8], sc = 0;
    cell_features(l, r, v, g, N, i, f, &out[0], &out[2]);
    const float *w = l->ar_sw + r * P;
    for (int64_t j = 0; j < P; j++)
        sc += (double)w[j] * f[j];
    out[1] = sc;
}

typedef struct cell_ctx {
    const flow *f;
    const flow_layer *l;
    flow_batch *b;
    float *g; /* 2 × D × N net outputs (ar_hidden), else NULL */
    bool inverse;
    /* the fit's pass: Σ log|dz/dx| + (x² − z²) / 2 per chunk of
     * AR_CELL_GRAIN items and per coordinate (chunks × D) instead of
     * b->logdet */
    double *gain;
} cell_ctx;

/* In place on b->a; b->b holds the context values. Both directions visit
 * the coordinates in the layer's order, and every context is read from
 * the values the inverse reconstructs: the forward maps x_r, then takes
 * as x_r's context value the inverse of what it wrote (S⁻¹(S(t)) rounds
 * differently from t in the last bits). The inverse then sees bit for
 * bit the contexts the forward saw, so a context near a cell edge cannot
 * land in another cell on the way back and derail every later value (it
 * did: one Fashion-MNIST test image in 2,000 decoded with 221 pixels off
 * by up to 106 levels). The map stays triangular: the context values are
 * functions of the earlier coordinates alone. */
static void cell_range(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    cell_ctx *c = p;
    const flow_layer *l = c->l;
    flow_batch *b = c->b;
    int64_t D = b->D, N = b->N;
    int K = c->f->K;
    float *x = b->a, *v = b->b, *g = c->g;
    for (int64_t k = 0; k < D; k++) {
        int64_t r = l->ar_dir ? D - 1 - k : k;
        double a = l->ar_aff[2 * r], off = l->ar_aff[2 * r + 1], la = log(a);
        for (int64_t i = i0; g && i < i1; i++)
            flow_arnet_eval(l, r, v, N, i, g);
        for (int64_t i = i0; i < i1; i++) {
            double c3[3], w[8], d, t;
            int64_t cl[8];
            float *xi = x + r * N + i;
            cell_context(l, r, v, g, N, i, c3);
            int n = flow_arcell_pick(l, c3, cl, w);
            if (c->inverse) {
                t = flow_arcell_blend_inv(l->knots, K, cl, w, n, *xi);
                if (b->logdet) {
                    flow_arcell_blend_fwd(l->knots, K, cl, w, n, t, &d);
                    b->logdet[i] -= log(d) + la;
                }
                *xi = (float)((t - off) / a);
                v[r * N + i] = (float)cell_value(l, r, *xi);
            } else {
                double y = flow_arcell_blend_fwd(l->knots, K, cl, w, n, a * *xi + off, &d);
                if (c->gain)
                    c->gain[i0 / AR_CELL_GRAIN * D + r] +=
                        log(d) + la + 0.5 * ((double)*xi * *xi - y * y);
                else if (b->logdet)
                    b->logdet[i] += log(d) + la;
                *xi = (float)y;
                t = flow_arcell_blend_inv(l->knots, K, cl, w, n, *xi);
                v[r * N + i] = (float)cell_value(l, r, (float)((t - off) / a));
            }
        }
    }
}

nota_status flow_arcell_apply(const flow *f, const flow_layer *l, flow_batch *b, bool inverse) {
    flow_batch_reorder(b, NULL);
    cell_ctx c = {f, l, b, NULL, inverse, NULL};
    if (l->ar_hidden && !(c.g = malloc((size_t)(2 * b->D * b->N) * sizeof(float))))
        return nota_error(NOTA_ENOMEM, "flow: cannot allocate the net predictions of %lld items",
                          (long long)b->N);
    flow_parallel(b->threads, b->N, AR_CELL_GRAIN, cell_range, &c);
    free(c.g);
    return NOTA_OK;
}

/* ---- fit ---- */

typedef struct cell_fit_ctx {
    const flow *f;
    flow_layer *l;
    flow_batch *t;
    float *g; /* D × N net predictions (ar_hidden), else NULL */
    double **gram;
    uint16_t *cell; /* D × N */
    float *sample;  /* contexts of the items used for the edges: 3 × D × ns */
    int64_t stride, ns;
    /* spline fits */
    const float *xs;      /* targets grouped by cell */
    const int64_t *start; /* cells + 1 */
    spline_work *work;
    spline_opts so;
    int *failed; /* per cell: no spline yet */
    int level;   /* of the pools being fitted */
    float **kn;  /* per thread: 3K floats */
} cell_fit_ctx;

/* Least squares of v_r on its prediction features; a missing neighbour's
 * weight is 0. */
static void cell_regress_rows(void *p, int64_t r0, int64_t r1, int thread) {
    cell_fit_ctx *c = p;
    const flow_layer *l = c->l;
    int64_t M = l->ar_m, P = flow_arcell_pred_weights(M, l->ar_hidden > 0), N = c->t->N;
    const float *v = c->t->b;
    double *G = c->gram[thread], f[60 + 15];
    uint8_t drop[60 + 15];
    for (int64_t r = r0; r < r1; r++) {
        const int64_t *nb = l->ar_nbr + r * M;
        memset(G, 0, (size_t)(P * P + P) * sizeof(double));
        for (int64_t i = 0; i < N; i++) {
            cell_pred_features(l, r, v, c->g, N, i, f);
            flow_ar_accumulate(G, P, f, v[r * N + i]);
        }
        for (int64_t j = 0; j < P; j++)
            drop[j] = j < M && nb[j] < 0;
        flow_ar_solve(G, P, drop, l->ar_w + r * P);
    }
}

/* Least squares of |v_r − c_r| on coordinate r's scale features; a
 * missing neighbour's features are 0 and get weight 0. */
static void cell_scale_rows(void *p, int64_t r0, int64_t r1, int thread) {
    cell_fit_ctx *c = p;
    const flow_layer *l = c->l;
    int64_t M = l->ar_m, P = flow_arcell_scale_weights(M, l->ar_hidden > 0), N = c->t->N;
    const float *v = c->t->b;
    double *G = c->gram[thread], f[60 + 8], cr, err;
    uint8_t drop[60 + 8];
    for (int64_t r = r0; r < r1; r++) {
        const int64_t *nb = l->ar_nbr + r * M;
        memset(G, 0, (size_t)(P * P + P) * sizeof(double));
        for (int64_t i = 0; i < N; i++) {
            cell_features(l, r, v, c->g, N, i, f, &cr, &err);
            flow_ar_accumulate(G, P, f, fabs(v[r * N + i] - cr));
        }
        for (int64_t j = 0; j < P; j++)
            drop[j] = j < M ? nb[j] < 0 : j < M + 4 ? nb[l->ar_near[j - M]] < 0 : 0;
        flow_ar_solve(G, P, drop, c->l->ar_sw + r * P);
    }
}

static void cell_sample_rows(void *p, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    cell_fit_ctx *c = p;
    int64_t D = c->f->D, N = c->t->N;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t s = 0; s < c->ns; s++) {
            double c3[3];
            cell_context(c->l, r, c->t->b, c->g, N, s * c->stride, c3);
            for (int j = 0; j < 3; j++)
                c->sample[(j * D + r) * c->ns + s] = (float)c3[j];
        }
}

static void cell_rows(void *p, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    cell_fit_ctx *c = p;
    int64_t N = c->t->N;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t i = 0; i < N; i++) {
            double c3[3];
            cell_context(c->l, r, c->t->b, c->g, N, i, c3);
            c->cell[r * N + i] = (uint16_t)flow_arcell_cell(c->l, c3);
        }
}

/* Cells per pool at level `level` (0: the cell, 1: its prediction and
 * scale bins, 2: its prediction bin, 3: all). */
static int64_t cell_span(const flow_layer *l, int level) {
    return level == 0   ? 1
           : level == 1 ? l->ar_cb[2]
           : level == 2 ? l->ar_cb[1] * l->ar_cb[2]
                        : l->ar_bins;
}

/* Pools q0..q1 of level c->level: a pool holding a cell still without a
 * spline is fitted once, if it has enough values, and its spline copied
 * to those cells (so a pool is fitted at most once however many sparse
 * cells it holds). */
static void cell_splines(void *p, int64_t q0, int64_t q1, int thread) {
    cell_fit_ctx *c = p;
    int K = c->f->K;
    int64_t span = cell_span(c->l, c->level);
    for (int64_t q = q0; q < q1; q++) {
        int64_t a = q * span, b = a + span, n = c->start[b] - c->start[a];
        bool need = false;
        for (int64_t k = a; k < b && !need; k++)
            need = c->failed[k];
        if (!need || n < (c->level < 3 ? AR_CELL_MIN : 2)) continue;
        float *kn = c->kn[thread];
        if (spline_fit(c->xs + c->start[a], n, &c->so, &c->work[thread], kn)) continue;
        for (int64_t k = a; k < b; k++)
            if (c->failed[k]) {
                memcpy(c->l->knots + k * 3 * K, kn, (size_t)(3 * K) * sizeof(float));
                c->failed[k] = 0;
            }
    }
}

/* The net predictions of every coordinate of items i0..i1. */
static void cell_net_items(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    cell_fit_ctx *c = p;
    int64_t D = c->f->D, N = c->t->N;
    for (int64_t r = 0; r < D; r++)
        for (int64_t i = i0; i < i1; i++)
            flow_arnet_eval(c->l, r, c->t->b, N, i, c->g);
}

static int cell_cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

nota_status flow_arcell_fit(const flow *f, flow_batch *t, int index, int squash,
                            const nota_host *host, spline_work *work, int threads, double *gain,
                            flow_layer *l) {
    memset(l, 0, sizeof *l);
    int64_t D = f->D, N = t->N;
    l->ar = 1;
    l->ar_cell = 1;
    l->ar_dir = index % 2;
    l->ar_radius = (int)f->o.ar_radius;
    l->ar_m = flow_ar_m(l->ar_radius);
    l->ar_squash = squash;
    l->ar_lambda = f->lambda;
    /* blending layers whose contexts move continuously lets a decoding
     * error grow from pixel to pixel (bench/flow_decode.sh) */
    l->ar_blend =
        f->o.ar_blend == FLOW_BLEND_ALL || (f->o.ar_blend == FLOW_BLEND_LEVELS && squash == 2);
    l->ar_hidden = index < f->o.ar_net_layers ? f->o.ar_hidden : 0;
    l->ar_ih = f->H;
    l->ar_iw = f->W;
    /* cells of at least AR_CELL_MIN training values on average (halving
     * the prediction's bins while they are at least twice the scale's) */
    int64_t want[3] = {f->o.ar_pred_bins, f->o.ar_scale_bins, f->o.ar_err_bins};
    int64_t cells = 1;
    for (int j = 0; j < 3; j++) {
        l->ar_cb[j] = want[j];
        cells *= want[j];
    }
    while (cells > 1 && cells * AR_CELL_MIN > D * N) {
        int j = l->ar_cb[0] >= 2 * l->ar_cb[1] ? 0 : l->ar_cb[1] >= l->ar_cb[2] ? 1 : 2;
        if (l->ar_cb[j] == 1) j = l->ar_cb[0] > 1 ? 0 : l->ar_cb[1] > 1 ? 1 : 2;
        cells = cells / l->ar_cb[j] * ((l->ar_cb[j] + 1) / 2);
        l->ar_cb[j] = (l->ar_cb[j] + 1) / 2;
    }
    l->ar_bins = cells;
    l->P = D;
    l->nrot = 1;
    int K = f->K;
    /* the larger of the two regressions' sizes, for the Gram scratch */
    int64_t P = flow_arcell_pred_weights(l->ar_m, l->ar_hidden > 0),
            ns = N < AR_CELL_EDGE_ITEMS / D ? N : AR_CELL_EDGE_ITEMS / D;
    if (ns < 1) ns = 1;
    cell_fit_ctx c = {.f = f,
                      .l = l,
                      .t = t,
                      .ns = ns,
                      .stride = N / ns,
                      .work = work,
                      .so = {K, (int)f->o.grid, 1.0, f->o.bandwidth}};
    flow_arcell_near(f, l->ar_radius, l->ar_near);
    nota_status st = flow_ar_neighbours(f, l->ar_radius, l->ar_dir, &l->ar_nbr);
    if (st) return st;
    l->ar_w = malloc((size_t)(D * P) * sizeof(float));
    if (l->ar_hidden) {
        l->ar_net = malloc((size_t)flow_arcell_net_size(l->ar_m, l->ar_hidden) * sizeof(float));
        c.g = malloc((size_t)(2 * D * N) * sizeof(float));
    }
    l->ar_sw =
        malloc((size_t)(D * flow_arcell_scale_weights(l->ar_m, l->ar_hidden > 0)) * sizeof(float));
    l->ar_aff = malloc((size_t)(2 * D) * sizeof(float));
    l->ar_edges = malloc((size_t)(l->ar_cb[0] + l->ar_cb[1] + l->ar_cb[2]) * sizeof(float));
    l->active = malloc((size_t)D);
    c.gram = calloc((size_t)threads, sizeof *c.gram);
    c.kn = calloc((size_t)threads, sizeof *c.kn);
    c.cell = malloc((size_t)(D * N) * sizeof *c.cell);
    c.sample = malloc((size_t)(3 * D * ns) * sizeof *c.sample);
    float *xs = malloc((size_t)(D * N) * sizeof *xs);
    int64_t *start = NULL, *fill = NULL;
    bool ok = c.kn && l->ar_w && l->ar_sw && l->ar_aff && l->ar_edges && l->active && c.gram &&
              c.cell && c.sample && xs && (!l->ar_hidden || (l->ar_net && c.g));
    for (int i = 0; ok && i < threads; i++)
        ok = (c.gram[i] = malloc((size_t)(P * P + P) * sizeof(double))) != NULL &&
             (c.kn[i] = malloc((size_t)(3 * K) * sizeof(float))) != NULL;
    if (!ok) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate autoregressive layer %d", index);
        goto done;
    }
    memset(l->active, 1, (size_t)D);
    for (int64_t r = 0; r < D; r++) {
        l->ar_aff[2 * r] = squash ? 1.0f / f->inv_sd[r] : 1.0f;
        l->ar_aff[2 * r + 1] = squash ? f->mu[r] : 0.0f;
    }
    flow_batch_reorder(t, NULL);
    float *x = t->a, *v = t->b;
    for (int64_t r = 0; r < D; r++)
        for (int64_t i = 0; i < N; i++)
            v[r * N + i] = (float)cell_value(l, r, x[r * N + i]);
    if (l->ar_hidden) {
        if ((st = flow_arnet_train(f, l, v, N, index, host))) goto done;
        flow_parallel(threads, N, AR_CELL_GRAIN, cell_net_items, &c);
    }
    flow_parallel(threads, D, 1, cell_regress_rows, &c);
    flow_parallel(threads, D, 1, cell_scale_rows, &c);
    /* global quantile edges of each context number, from a sample of items
     * (halfway between neighbouring sorted values); blended: the centres,
     * quantiles (k + 1/2) / B, a repeated one dropped (fewer bins) */
    flow_parallel(threads, D, 1, cell_sample_rows, &c);
    float *e = l->ar_edges;
    for (int j = 0; j < 3; j++) {
        float *s = c.sample + j * D * ns;
        int64_t n = D * ns, B = l->ar_cb[j], m = 0;
        qsort(s, (size_t)n, sizeof *s, cell_cmp);
        for (int64_t k = 0; k < B; k++) {
            float q = l->ar_blend ? s[(2 * k + 1) * n / (2 * B)]
                      : k == 0    ? s[0]
                                  : (float)(0.5 * ((double)s[k * n / B - 1] + s[k * n / B]));
            if (!l->ar_blend || m == 0 || q > e[m - 1]) e[m++] = q;
        }
        l->ar_cb[j] = m;
        e += m;
    }
    l->ar_bins = cells = l->ar_cb[0] * l->ar_cb[1] * l->ar_cb[2];
    l->knots = malloc((size_t)(cells * 3 * K) * sizeof(float));
    start = calloc((size_t)cells + 1, sizeof *start);
    fill = malloc((size_t)cells * sizeof *fill);
    c.failed = malloc((size_t)cells * sizeof *c.failed);
    if (!l->knots || !start || !fill || !c.failed) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate autoregressive layer %d", index);
        goto done;
    }
    flow_parallel(threads, D, 1, cell_rows, &c);
    /* the targets grouped by cell (a counting sort) */
    for (int64_t q = 0; q < D * N; q++)
        start[c.cell[q] + 1]++;
    for (int64_t k = 0; k < cells; k++)
        start[k + 1] += start[k];
    memcpy(fill, start, (size_t)cells * sizeof *fill);
    for (int64_t r = 0; r < D; r++) {
        double a = l->ar_aff[2 * r], off = l->ar_aff[2 * r + 1];
        for (int64_t i = 0; i < N; i++)
            xs[fill[c.cell[r * N + i]]++] = (float)(a * x[r * N + i] + off);
    }
    c.xs = xs;
    c.start = start;
    for (int64_t k = 0; k < cells; k++)
        c.failed[k] = 1;
    for (c.level = 0; c.level < 4; c.level++)
        flow_parallel(threads, cells / cell_span(l, c.level), 1, cell_splines, &c);
    for (int64_t k = 0; k < cells; k++)
        if (c.failed[k]) flow_spline_identity(l->knots + k * 3 * K, K);
    /* the layer's forward (contexts from the reconstructed values, see
     * cell_range), so the fit's outputs and gains are the layer's; gains
     * summed per chunk, then in chunk order: the same numbers at any
     * thread count */
    int64_t chunks = (N + AR_CELL_GRAIN - 1) / AR_CELL_GRAIN;
    cell_ctx cc = {f, l, t, c.g, false, calloc((size_t)(chunks * D), sizeof(double))};
    if (!cc.gain) {
        st = nota_error(NOTA_ENOMEM, "flow fit: cannot allocate autoregressive layer %d", index);
        goto done;
    }
    flow_parallel(threads, N, AR_CELL_GRAIN, cell_range, &cc);
    for (int64_t r = 0; r < D; r++) {
        double sum = 0;
        for (int64_t q = 0; q < chunks; q++)
            sum += cc.gain[q * D + r];
        gain[r] = sum / (double)N;
    }
    free(cc.gain);
done:
    for (int i = 0; c.gram && i < threads; i++)
        free(c.gram[i]);
    for (int i = 0; c.kn && i < threads; i++)
        free(c.kn[i]);
    free(c.gram);
    free(c.kn);
    free(c.cell);
    free(c.sample);
    free(xs);
    free(start);
    free(fill);
    free(c.failed);
    free(c.g);
    if (st) flow_layer_free(l);
    return st;
}
