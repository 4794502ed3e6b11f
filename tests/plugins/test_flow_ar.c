/* Autoregressive layers of the flow (plugins/flow/ar.c, and the
 * shared-cell ones of arcell.c), on the layer itself: the neighbour tables of both directions, a
 * triangular Jacobian (a coordinate's output does not depend on coordinates after it in the layer's
 * order) whose diagonal, by central differences, gives the layer's log-determinant, an inverse that
 * recovers the input, and a fit whose per-coordinate gains are exactly what applying the layer
 * gains; for shared cells also how cells shrink with little data, which spline a cell with few
 * training values takes, and that contexts read at 8-bit levels' centres keep a decode of
 * perturbed codes close to the images where raw intensities derail it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/flow/ar.c"
#include "../../plugins/flow/arblend.c"
#include "../../plugins/flow/arcell.c"
#include "../../plugins/flow/arnet.c"
#include "../../plugins/flow/layers.c"
#include "../../plugins/flow/parallel.c"
#include "../../plugins/flow/poly.c"
#include "../../plugins/flow/spline.c"
#include "../../plugins/flow/transform.c"

#define SIDE 6 /* images 1×SIDE×SIDE */
#define N 4096

/* A flow header for 1×SIDE×SIDE images with autoregressive options. */
static flow image_flow(int radius, int bins, int window) {
    flow f;
    memset(&f, 0, sizeof f);
    f.item_ndim = 3;
    f.C = 1;
    f.H = f.W = SIDE;
    f.D = SIDE * SIDE;
    f.K = 16;
    f.S = 3 * f.K;
    f.o.grid = 256;
    f.o.bandwidth = 1;
    f.o.min_gain = 0;
    f.o.ar_radius = radius;
    f.o.ar_bins = bins;
    f.o.ar_window = window;
    f.o.ar_pred_bins = bins;
    f.o.ar_scale_bins = 4;
    f.o.ar_err_bins = 2;
    return f;
}

/* Items with a dependence a linear prediction sees and a spread it does
 * not: each value follows its left and upper neighbours, with noise whose
 * scale grows with the upper neighbour. */
static void fill(float *x, int64_t n, uint64_t seed) { /* x: D × n (batch layout) */
    float *e = malloc((size_t)(SIDE * SIDE * n) * sizeof *e);
    nota_rng_fill_normal(seed, 1, e, (size_t)(SIDE * SIDE * n));
    for (int64_t i = 0; i < n; i++)
        for (int y = 0; y < SIDE; y++)
            for (int xx = 0; xx < SIDE; xx++) {
                int64_t r = y * SIDE + xx;
                double left = xx ? x[(r - 1) * n + i] : 0, up = y ? x[(r - SIDE) * n + i] : 0;
                x[r * n + i] =
                    (float)(0.6 * left + 0.3 * up + (0.3 + 0.5 * fabs(up)) * e[r * n + i]);
            }
    free(e);
}

Test(flow_ar, neighbour_tables_of_both_directions) {
    flow f = image_flow(1, 4, 0);
    f.H = 4;
    f.W = 5;
    f.D = 20;
    int64_t *nb;
    cr_assert_eq(flow_ar_m(1), 4);
    cr_assert_eq(flow_ar_m(3), 24);
    cr_assert_eq(flow_ar_neighbours(&f, 1, 0, &nb), NOTA_OK);
    /* pixel (1, 2) = 7: rows above (0,1) (0,2) (0,3), then (1,1) */
    int64_t want0[4] = {1, 2, 3, 6};
    cr_assert_arr_eq(nb + 7 * 4, want0, sizeof want0);
    int64_t corner0[4] = {-1, -1, -1, -1}; /* pixel (0, 0): nothing before it */
    cr_assert_arr_eq(nb, corner0, sizeof corner0);
    free(nb);
    cr_assert_eq(flow_ar_neighbours(&f, 1, 1, &nb), NOTA_OK);
    /* the mirror: rows below (2,3) (2,2) (2,1), then (1,3) */
    int64_t want1[4] = {13, 12, 11, 8};
    cr_assert_arr_eq(nb + 7 * 4, want1, sizeof want1);
    free(nb);
    /* vectors: the M coordinates before (dir 0) or after (dir 1) */
    f.item_ndim = 1;
    f.D = 5;
    cr_assert_eq(flow_ar_neighbours(&f, 1, 0, &nb), NOTA_OK);
    int64_t v0[4] = {1, 0, -1, -1};
    cr_assert_arr_eq(nb + 2 * 4, v0, sizeof v0);
    free(nb);
    cr_assert_eq(flow_ar_neighbours(&f, 1, 1, &nb), NOTA_OK);
    int64_t v1[4] = {3, 4, -1, -1};
    cr_assert_arr_eq(nb + 2 * 4, v1, sizeof v1);
    free(nb);
}

/* ar.c; arcell.c, contexts as x or as sigmoid(x/s + mu); the same with a
 * net prediction */
enum { COORD, CELL, CELL_SQUASH, CELL_NET, CELL_SQUASH_NET };

/* A per-coordinate standardisation for a squash layer to undo. */
static void standardisation(flow *f, float *mu, float *inv_sd) {
    for (int64_t r = 0; r < f->D; r++) {
        mu[r] = (float)(0.1 * (double)(r % 5) - 0.2);
        inv_sd[r] = (float)(0.5 + 0.05 * (double)(r % 7));
    }
    f->mu = mu;
    f->inv_sd = inv_sd;
}

/* Fit layer `index` (direction index % 2) of the given kind on fresh data
 * and check it. */
static void check_layer(int index, int threads, bool quad, int kind, bool blend) {
    flow f = image_flow(2, 8, 1);
    f.o.ar_quad = quad;
    f.o.ar_blend = blend ? FLOW_BLEND_ALL : FLOW_BLEND_NONE;
    f.lambda = 1e-6f;
    /* blended layers read intensities at their 8-bit levels' centres */
    int squash = kind == CELL_SQUASH || kind == CELL_SQUASH_NET ? (blend ? 2 : 1) : 0;
    if (kind >= CELL_NET) {
        f.o.ar_hidden = 8;
        f.o.ar_net_steps = 40;
        f.o.ar_net_layers = 2;
    }
    int64_t D = f.D;
    float mu[SIDE * SIDE], inv_sd[SIDE * SIDE];
    standardisation(&f, mu, inv_sd);
    flow_batch t, b;
    cr_assert_eq(flow_batch_new(D, N, false, threads, &t), NOTA_OK);
    cr_assert_eq(flow_batch_new(D, N, true, threads, &b), NOTA_OK);
    fill(t.a, N, 7);
    memcpy(b.a, t.a, (size_t)(D * N) * sizeof(float));
    float *x0 = malloc((size_t)(D * N) * sizeof *x0);
    memcpy(x0, t.a, (size_t)(D * N) * sizeof *x0);
    spline_work *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++)
        cr_assert_eq(spline_work_init(&w[i], (int)f.o.grid), 0);
    double gain[SIDE * SIDE];
    flow_layer l;
    if (kind == COORD) {
        cr_assert_eq(flow_ar_fit(&f, &t, index, w, threads, gain, &l), NOTA_OK, "%s",
                     nota_last_error());
        cr_assert_eq(l.ar_bins, 8);
        cr_assert_eq(l.ar_quad, quad);
        cr_assert_eq(flow_ar_weights(12, quad), quad ? 25 : 13);
    } else {
        cr_assert_eq(flow_arcell_fit(&f, &t, index, squash, NULL, w, threads, gain, &l), NOTA_OK,
                     "%s", nota_last_error());
        cr_assert(l.ar_cell && l.ar_squash == squash && l.ar_blend == blend);
        cr_assert_eq(l.ar_hidden, kind >= CELL_NET ? 8 : 0);
        cr_assert_eq(l.ar_bins, 8 * 4 * 2, "%lld cells", (long long)l.ar_bins);
        for (int64_t r = 0; r < D; r++) {
            cr_assert_eq(l.ar_aff[2 * r], squash ? 1.0f / inv_sd[r] : 1.0f);
            cr_assert_eq(l.ar_aff[2 * r + 1], squash ? mu[r] : 0.0f);
        }
    }
    cr_assert_eq(l.ar_dir, index % 2);
    cr_assert_eq(l.ar_m, 12);

    /* applying the layer gives the fit's outputs and its gains */
    cr_assert_eq(flow_ar_apply(&f, &l, &b, false), NOTA_OK);
    double lsum = 0, gsum = 0;
    for (int64_t r = 0; r < D; r++) {
        gsum += gain[r];
        for (int64_t i = 0; i < N; i++) {
            cr_assert_float_eq(b.a[r * N + i], t.a[r * N + i], 1e-6 * (1 + fabsf(t.a[r * N + i])));
            lsum += norm_logpdf(b.a[r * N + i]) - norm_logpdf(x0[r * N + i]);
        }
    }
    for (int64_t i = 0; i < N; i++)
        lsum += b.logdet[i];
    cr_assert_float_eq(lsum / N, gsum, 1e-5 * (1 + fabs(gsum)), "applied %.8f, fitted %.8f",
                       lsum / N, gsum);
    cr_assert_gt(gsum, 1.0, "the layer gains %.4f nats per item", gsum);

    /* triangular: moving x_r changes no output before r in the layer's
     * order; the diagonal derivatives give the log-determinant */
    flow_batch p;
    cr_assert_eq(flow_batch_new(D, 2 * D + 1, true, threads, &p), NOTA_OK);
    for (int item = 0; item < 3; item++) {
        int64_t n = 2 * D + 1;
        for (int64_t r = 0; r < D; r++)
            for (int64_t k = 0; k < n; k++)
                p.a[r * n + k] = x0[r * N + item * 97];
        const double h = 1e-3;
        for (int64_t r = 0; r < D; r++) {
            p.a[r * n + 2 * r] += (float)h;
            p.a[r * n + 2 * r + 1] -= (float)h;
        }
        for (int64_t r = 0; r < D; r++)
            p.order[r] = r;
        memset(p.logdet, 0, (size_t)n * sizeof(double));
        float *in = malloc((size_t)(D * n) * sizeof *in);
        memcpy(in, p.a, (size_t)(D * n) * sizeof *in);
        cr_assert_eq(flow_ar_apply(&f, &l, &p, false), NOTA_OK);
        double ld = 0;
        for (int64_t r = 0; r < D; r++) {
            double step = (double)in[r * n + 2 * r] - in[r * n + 2 * r + 1];
            double d = ((double)p.a[r * n + 2 * r] - p.a[r * n + 2 * r + 1]) / step;
            cr_assert_gt(d, 0);
            ld += log(d);
            for (int64_t j = 0; j < D; j++) {
                bool before = l.ar_dir ? j > r : j < r;
                if (!before) continue;
                cr_assert_eq(p.a[j * n + 2 * r], p.a[j * n + n - 1],
                             "coordinate %lld moved with %lld", (long long)j, (long long)r);
                cr_assert_eq(p.a[j * n + 2 * r + 1], p.a[j * n + n - 1]);
            }
        }
        cr_assert_float_eq(p.logdet[n - 1], ld, 2e-3 * (1 + fabs(ld)), "item %d: %.6f vs %.6f",
                           item, p.logdet[n - 1], ld);
        free(in);
    }
    flow_batch_free(&p);

    /* the inverse recovers the input and undoes the log-determinant */
    cr_assert_eq(flow_ar_apply(&f, &l, &b, true), NOTA_OK);
    for (int64_t r = 0; r < D; r++)
        for (int64_t i = 0; i < N; i++)
            cr_assert_float_eq(b.a[r * N + i], x0[r * N + i], 2e-5 * (1 + fabsf(x0[r * N + i])),
                               "layer %d (kind %d), coordinate %lld, item %lld: %.7g against %.7g",
                               index, kind, (long long)r, (long long)i, (double)b.a[r * N + i],
                               (double)x0[r * N + i]);
    for (int64_t i = 0; i < N; i++)
        cr_assert_float_eq(b.logdet[i], 0.0, 1e-6 * D);

    flow_layer_free(&l);
    for (int i = 0; i < threads; i++)
        spline_work_free(&w[i]);
    free(w);
    free(x0);
    flow_batch_free(&t);
    flow_batch_free(&b);
}

Test(flow_ar, raster_layer_is_triangular_exact_and_invertible) {
    check_layer(0, 1, false, COORD, false);
}
Test(flow_ar, reversed_layer_is_triangular_exact_and_invertible) {
    check_layer(1, 3, false, COORD, false);
}
Test(flow_ar, quadratic_context_is_triangular_exact_and_invertible) {
    check_layer(0, 2, true, COORD, false);
    check_layer(1, 1, true, COORD, false);
}
Test(flow_ar, shared_cell_layers_are_triangular_exact_and_invertible) {
    check_layer(0, 2, false, CELL_SQUASH, false);
    check_layer(1, 3, false, CELL, false);
    check_layer(0, 1, false, CELL, false);
}
Test(flow_ar, shared_cell_layers_with_a_net_are_triangular_exact_and_invertible) {
    check_layer(0, 2, false, CELL_SQUASH_NET, false);
    check_layer(1, 1, false, CELL_NET, false);
}
Test(flow_ar, blended_shared_cell_layers_are_triangular_exact_and_invertible) {
    check_layer(0, 2, false, CELL_SQUASH, true);
    check_layer(1, 3, false, CELL, true);
    check_layer(0, 1, false, CELL_SQUASH_NET, true);
    check_layer(1, 2, false, CELL_NET, true);
}

/* 8-bit images in a logit model's coordinates: pixel levels k from a
 * smooth field, u = (logit(λ + (1 − 2λ)(k + ½)/256) − mu) · inv_sd. */
static void fill_levels(float *x, int64_t n, float lambda, const float *mu, const float *inv_sd) {
    fill(x, n, 11);
    for (int64_t q = 0; q < SIDE * SIDE * n; q++) {
        int64_t r = q / n;
        double k = fmin(fmax(floor(128.0 + 60.0 * x[q]), 0.0), 255.0);
        double pr = lambda + (1.0 - 2.0 * lambda) * (k + 0.5) / 256.0;
        x[q] = (float)((log(pr / (1.0 - pr)) - mu[r]) * inv_sd[r]);
    }
}

static double pixel_of(double u, float lambda, float mu, float inv_sd) {
    double pr = 1.0 / (1.0 + exp(-(u / inv_sd + mu)));
    return 256.0 * (pr - lambda) / (1.0 - 2.0 * lambda);
}

/* Fit a first (squash) layer of the given kind on 8-bit images, map them,
 * move every output by ±1e-4 (as a rotation layer's float inverse does,
 * in larger steps) and invert: the largest pixel error, in levels. */
static double perturbed_decode_error(int squash, bool blend) {
    flow f = image_flow(2, 8, 1);
    f.o.ar_blend = blend ? FLOW_BLEND_ALL : FLOW_BLEND_NONE;
    f.lambda = 1e-6f;
    int64_t D = f.D;
    float mu[SIDE * SIDE], inv_sd[SIDE * SIDE];
    standardisation(&f, mu, inv_sd);
    flow_batch t, b;
    cr_assert_eq(flow_batch_new(D, N, false, 2, &t), NOTA_OK);
    cr_assert_eq(flow_batch_new(D, N, false, 2, &b), NOTA_OK);
    fill_levels(t.a, N, f.lambda, mu, inv_sd);
    memcpy(b.a, t.a, (size_t)(D * N) * sizeof(float));
    float *x0 = malloc((size_t)(D * N) * sizeof *x0);
    memcpy(x0, t.a, (size_t)(D * N) * sizeof *x0);
    spline_work w[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(spline_work_init(&w[i], (int)f.o.grid), 0);
    double gain[SIDE * SIDE], worst = 0;
    flow_layer l;
    cr_assert_eq(flow_arcell_fit(&f, &t, 0, squash, NULL, w, 2, gain, &l), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_eq(flow_ar_apply(&f, &l, &b, false), NOTA_OK);
    for (int64_t q = 0; q < D * N; q++)
        b.a[q] += q % 2 ? 1e-4f : -1e-4f;
    cr_assert_eq(flow_ar_apply(&f, &l, &b, true), NOTA_OK);
    for (int64_t q = 0; q < D * N; q++) {
        int64_t r = q / N;
        double e = fabs(pixel_of(b.a[q], f.lambda, mu[r], inv_sd[r]) -
                        pixel_of(x0[q], f.lambda, mu[r], inv_sd[r]));
        worst = fmax(worst, e);
    }
    flow_layer_free(&l);
    for (int i = 0; i < 2; i++)
        spline_work_free(&w[i]);
    free(x0);
    flow_batch_free(&t);
    flow_batch_free(&b);
    return worst;
}

Test(flow_ar, level_contexts_decode_perturbed_codes_close_to_the_images) {
    /* measured: contexts from the intensities as they are, 51.0 levels
     * off (an edge crossed, later values derailed); from their levels'
     * centres 0.0144, blended 0.0127 */
    double plain = perturbed_decode_error(1, false), levels = perturbed_decode_error(2, false),
           blended = perturbed_decode_error(2, true);
    cr_assert_gt(plain, 1.0, "intensity contexts: largest error %.4g levels", plain);
    cr_assert_lt(levels, 0.05, "level contexts: largest error %.4g levels", levels);
    cr_assert_lt(blended, 0.05, "level contexts, blended: largest error %.4g levels", blended);
}

/* Mean squared error of the layer's prediction c_r (and, with a net, of
 * the net's own g_r) of the context values v (no squash: v = x), over
 * the pixels off the first row and column. */
static void prediction_mse(const flow_layer *l, const float *v, int64_t D, int64_t n, double *mse_c,
                           double *mse_g) {
    float *g = NULL;
    if (l->ar_hidden) {
        g = malloc((size_t)(2 * D * n) * sizeof *g);
        for (int64_t r = 0; r < D; r++)
            for (int64_t i = 0; i < n; i++)
                flow_arnet_eval(l, r, v, n, i, g);
    }
    double sc = 0, sg = 0;
    int64_t cnt = 0;
    for (int64_t r = 0; r < D; r++)
        for (int64_t i = 0; r / SIDE && r % SIDE && i < n; i++, cnt++) {
            double e = v[r * n + i] - cell_predict(l, r, v, g, n, i);
            sc += e * e;
            double eg = g ? (double)v[r * n + i] - g[2 * (r * n + i)] : 0.0;
            sg += eg * eg;
        }
    *mse_c = sc / (double)cnt;
    *mse_g = sg / (double)cnt;
    free(g);
}

Test(flow_ar, the_net_prediction_learns_what_a_linear_one_cannot) {
    /* x_r = tanh(2 · left · up) + noise of sd 0.1: a product, which no
     * linear prediction from the neighbours and their max/min follows */
    flow f = image_flow(2, 8, 0);
    int64_t D = f.D, n = 8000;
    flow_batch t;
    cr_assert_eq(flow_batch_new(D, n, false, 2, &t), NOTA_OK);
    float *e = malloc((size_t)(D * n) * sizeof *e), *x0 = malloc((size_t)(D * n) * sizeof *x0);
    nota_rng_fill_normal(9, 1, e, (size_t)(D * n));
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < D; r++) {
            int64_t y = r / SIDE, xx = r % SIDE;
            x0[r * n + i] = y && xx
                                ? (float)(tanh(2.0 * x0[(r - 1) * n + i] * x0[(r - SIDE) * n + i]) +
                                          0.1 * e[r * n + i])
                                : e[r * n + i];
        }
    free(e);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, (int)f.o.grid), 0);
    double gain[SIDE * SIDE], lin_c, lin_g, net_c, net_g;
    flow_layer l;
    memcpy(t.a, x0, (size_t)(D * n) * sizeof *x0);
    cr_assert_eq(flow_arcell_fit(&f, &t, 0, false, NULL, &w, 1, gain, &l), NOTA_OK);
    prediction_mse(&l, x0, D, n, &lin_c, &lin_g);
    flow_layer_free(&l);
    f.o.ar_hidden = 16;
    f.o.ar_net_steps = 100000;
    f.o.ar_net_layers = 1;
    memcpy(t.a, x0, (size_t)(D * n) * sizeof *x0);
    cr_assert_eq(flow_arcell_fit(&f, &t, 0, false, NULL, &w, 1, gain, &l), NOTA_OK, "%s",
                 nota_last_error());
    cr_assert_eq(l.ar_hidden, 16);
    prediction_mse(&l, x0, D, n, &net_c, &net_g);
    /* measured: linear 0.0543, net alone 0.0199, linear with the net 0.0189
     * (the noise alone: 0.01; 562 steps, the cap of 8 passes) */
    cr_assert_lt(net_g, 0.5 * lin_c, "net %.4f, linear %.4f", net_g, lin_c);
    cr_assert_leq(net_c, net_g * 1.0001, "with the net %.4f, net alone %.4f", net_c, net_g);
    flow_layer_free(&l);
    spline_work_free(&w);
    flow_batch_free(&t);
    free(x0);
}

Test(flow_ar, quadratic_context_predicts_a_square) {
    /* second column: x_r = x_left² / 2 + small noise; the quadratic
     * context puts weight 1/2 on the left neighbour's square, none on it */
    flow f = image_flow(1, 1, 0);
    f.o.ar_quad = true;
    int64_t D = f.D, n = 2000;
    flow_batch t;
    cr_assert_eq(flow_batch_new(D, n, false, 1, &t), NOTA_OK);
    float *e = malloc((size_t)(D * n) * sizeof *e);
    nota_rng_fill_normal(5, 1, e, (size_t)(D * n));
    for (int64_t r = 0; r < D; r++)
        for (int64_t i = 0; i < n; i++)
            t.a[r * n + i] = r % SIDE == 1 ? t.a[(r - 1) * n + i] * t.a[(r - 1) * n + i] * 0.5f +
                                                 0.01f * e[r * n + i]
                                           : e[r * n + i];
    free(e);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, (int)f.o.grid), 0);
    double gain[SIDE * SIDE];
    flow_layer l;
    cr_assert_eq(flow_ar_fit(&f, &t, 0, &w, 1, gain, &l), NOTA_OK);
    /* pixel (0, 1): neighbours (radius 1) (-1,0) (-1,1) (-1,2) off the image, then (0,0) */
    const float *wr = l.ar_w + 1 * flow_ar_weights(4, true);
    cr_assert_float_eq(wr[4 + 3], 0.5, 0.01, "square weight %g", wr[4 + 3]);
    cr_assert_float_eq(wr[3], 0.0, 0.01, "linear weight %g", wr[3]);
    flow_layer_free(&l);
    spline_work_free(&w);
    flow_batch_free(&t);
}

Test(flow_ar, bins_follow_the_training_contexts) {
    /* few items: bins shrink to hold at least 256 items each */
    flow f = image_flow(1, 64, 0);
    flow_batch t;
    cr_assert_eq(flow_batch_new(f.D, 1000, false, 1, &t), NOTA_OK);
    fill(t.a, 1000, 3);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, (int)f.o.grid), 0);
    double gain[SIDE * SIDE];
    flow_layer l;
    cr_assert_eq(flow_ar_fit(&f, &t, 0, &w, 1, gain, &l), NOTA_OK);
    cr_assert_eq(l.ar_bins, 3);
    for (int64_t r = 0; r < f.D; r++) {
        const float *e = l.ar_edges + r * 3;
        cr_assert(e[0] <= e[1] && e[1] <= e[2], "coordinate %lld: edges %g %g %g", (long long)r,
                  e[0], e[1], e[2]);
    }
    /* pixel (0, 0) has no neighbours: its context is the bias alone */
    for (int m = 0; m < l.ar_m; m++)
        cr_assert_eq(l.ar_nbr[m], -1);
    flow_layer_free(&l);
    spline_work_free(&w);
    flow_batch_free(&t);
}

Test(flow_ar, shared_cells_shrink_with_few_training_values) {
    /* 1000 items × 36 coordinates: cells halve (the prediction's first,
     * while it has twice the activity's bins) until each would hold at
     * least 256 values on average: 64·16·8 → 4·4·8 */
    flow f = image_flow(1, 64, 0);
    f.o.ar_scale_bins = 16;
    f.o.ar_err_bins = 8;
    flow_batch t;
    cr_assert_eq(flow_batch_new(f.D, 1000, false, 1, &t), NOTA_OK);
    fill(t.a, 1000, 3);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, (int)f.o.grid), 0);
    double gain[SIDE * SIDE];
    flow_layer l;
    cr_assert_eq(flow_arcell_fit(&f, &t, 0, false, NULL, &w, 1, gain, &l), NOTA_OK);
    cr_assert_eq(l.ar_cb[0], 4);
    cr_assert_eq(l.ar_cb[1], 4);
    cr_assert_eq(l.ar_cb[2], 8);
    cr_assert_eq(l.ar_bins, 128);
    const float *e = l.ar_edges;
    for (int j = 0; j < 3; e += l.ar_cb[j++])
        for (int64_t k = 1; k < l.ar_cb[j]; k++)
            cr_assert(e[k] >= e[k - 1], "context %d: edge %lld below the one before", j,
                      (long long)k);
    flow_layer_free(&l);
    spline_work_free(&w);
    flow_batch_free(&t);
}

Test(flow_ar, a_sparse_cell_takes_the_spline_of_its_pool) {
    /* A cell with at least 256 training values gets the spline of its own
     * values; one with fewer the spline of all values sharing its
     * prediction and activity bins (when those reach 256). */
    flow f = image_flow(2, 8, 0);
    int64_t D = f.D, n = 2000;
    flow_batch t;
    cr_assert_eq(flow_batch_new(D, n, false, 1, &t), NOTA_OK);
    fill(t.a, n, 11);
    float *x0 = malloc((size_t)(D * n) * sizeof *x0);
    memcpy(x0, t.a, (size_t)(D * n) * sizeof *x0);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, (int)f.o.grid), 0);
    double gain[SIDE * SIDE];
    flow_layer l;
    cr_assert_eq(flow_arcell_fit(&f, &t, 0, false, NULL, &w, 1, gain, &l), NOTA_OK);
    int64_t cells = l.ar_bins, *cell = malloc((size_t)(D * n) * sizeof *cell);
    int64_t *count = calloc((size_t)cells, sizeof *count);
    for (int64_t r = 0; r < D; r++) /* x0 is the context (no squash) */
        for (int64_t i = 0; i < n; i++) {
            double c3[3];
            cell_context(&l, r, x0, NULL, n, i, c3);
            count[cell[r * n + i] = flow_arcell_cell(&l, c3)]++;
        }
    /* the values of cells [k0, k1), gathered as the fit does (by cell, then
     * coordinate, then item) */
    float *v = malloc((size_t)(D * n) * sizeof *v), kn[3 * 16];
    int dense = 0, sparse = 0;
    for (int64_t k = 0; k < cells; k++) {
        int64_t k0 = k, k1 = k + 1;
        if (count[k] < 256) {
            k0 = k / l.ar_cb[2] * l.ar_cb[2];
            k1 = k0 + l.ar_cb[2];
        }
        int64_t m = 0;
        for (int64_t q = k0; q < k1; q++)
            for (int64_t j = 0; j < D * n; j++)
                if (cell[j] == q) v[m++] = x0[j];
        if (m < 256) continue; /* a sparse pool: the next level up */
        if (count[k] < 256)
            sparse++;
        else
            dense++;
        spline_opts so = {f.K, (int)f.o.grid, 1.0, f.o.bandwidth};
        cr_assert_eq(spline_fit(v, m, &so, &w, kn), 0);
        cr_assert_eq(memcmp(kn, l.knots + k * 3 * f.K, sizeof kn), 0, "cell %lld (%lld values)",
                     (long long)k, (long long)count[k]);
    }
    cr_assert(dense > 0 && sparse > 0, "%d dense and %d sparse cells checked", dense, sparse);
    free(v);
    free(cell);
    free(count);
    free(x0);
    flow_layer_free(&l);
    spline_work_free(&w);
    flow_batch_free(&t);
}

Test(flow_ar, shared_cell_prediction_features_follow_edges) {
    /* pixel (2, 2) of a 6×6 image, radius 2: its 12 neighbours, then the
     * median edge detector and the max/min pairs of the nearest ones */
    flow f = image_flow(2, 4, 0);
    flow_layer l;
    memset(&l, 0, sizeof l);
    int64_t near1[6], want1[6] = {3, 1, 0, 2, -1, -1}; /* radius 1: no WW, NN */
    flow_arcell_near(&f, 1, near1);
    cr_assert_arr_eq(near1, want1, sizeof want1);
    l.ar_radius = 2;
    l.ar_m = flow_ar_m(2);
    flow_arcell_near(&f, 2, l.ar_near);
    int64_t want2[6] = {11, 7, 6, 8, 10, 2}; /* W, N, NW, NE, WW, NN in the row */
    cr_assert_arr_eq(l.ar_near, want2, sizeof want2);
    cr_assert_eq(flow_ar_neighbours(&f, 2, 0, &l.ar_nbr), NOTA_OK);
    float v[SIDE * SIDE] = {0}; /* one item: N = 1 */
    int64_t r = 2 * SIDE + 2;
    v[SIDE + 2] = 0.6f;     /* N  (1, 2) */
    v[SIDE + 3] = 0.3f;     /* NE (1, 3) */
    v[2 * SIDE + 1] = 0.2f; /* W  (2, 1) */
    v[2 * SIDE] = 0.5f;     /* WW (2, 0) */
    v[2] = 0.9f;            /* NN (0, 2) */
    float nws[3] = {0.7f, 0.1f, 0.4f};
    double meds[3] = {0.2, 0.6, 0.2 + 0.6 - 0.4}; /* NW above both, below both, between */
    for (int k = 0; k < 3; k++) {
        v[SIDE + 1] = nws[k]; /* NW (1, 1) */
        double x[12 + 14], nw = nws[k];
        cell_pred_features(&l, r, v, NULL, 1, 0, x);
        cr_assert_eq(x[6], nw);
        cr_assert_eq(x[11], (double)v[2 * SIDE + 1]);
        cr_assert_float_eq(x[12], meds[k], 1e-7, "NW %g: median %g", nw, x[12]);
        double want[12] = {0.6,           0.2,           0.6, 0.3, fmax(0.2, nw), fmin(0.2, nw),
                           fmax(0.6, nw), fmin(0.6, nw), 0.5, 0.2, 0.9,           0.6};
        for (int j = 0; j < 12; j++)
            cr_assert_float_eq(x[13 + j], want[j], 1e-7, "NW %g: pair feature %d: %g", nw, j,
                               x[13 + j]);
        cr_assert_eq(x[25], 1.0);
    }
    free(l.ar_nbr);
}
