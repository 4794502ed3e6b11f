/* dfm coordinate network: the fast forward (sincos + angle-addition
 * features, GEMMs, worker threads) equals a direct double-precision
 * evaluation of paper 001's eq. 4.5 and the kit's Fourier layer on random
 * weights; every weight gradient of the whole network matches central
 * finite differences of that direct evaluation; threads change nothing.
 * The plugin's dfm_net.c is compiled into this test (it is internal to the
 * plugin .so). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "../../plugins/dfm/dfm_net.c"
#include "nota/rng.h"

/* Direct evaluation of the network at one point, in double. */
static void direct(const dfm_net *n, const float *xy, double *y) {
    double x[DFM_MAX_WIDTH + 2], nx[DFM_MAX_WIDTH + 2];
    x[0] = xy[0], x[1] = xy[1];
    for (int i = 0; i < n->depth; i++) {
        int in = n->in[i], out = n->out[i];
        int64_t K = (int64_t)1 << in;
        const float *w = dfm_net_weights(n, i);
        for (int o = 0; o < out; o++)
            nx[o] = in == out ? x[o] : 0.0;
        for (int64_t k = 0; k < K; k++) {
            double th = 0.0;
            for (int j = 0; j < in; j++)
                if (k >> j & 1) th += 2.0 * M_PI * x[j];
            for (int o = 0; o < out; o++)
                nx[o] += w[k * out + o] * cos(th) + w[(K + k) * out + o] * sin(th);
        }
        for (int o = 0; o < out; o++)
            x[o] = nx[o];
    }
    for (int c = 0; c < n->channels; c++)
        y[c] = tanh(x[c]);
}

static dfm_net *make(int width, int depth, int channels, int threads) {
    dfm_net *n;
    cr_assert_eq(dfm_net_new(width, depth, channels, 0.5f, 7, threads, &n), NOTA_OK, "%s",
                 nota_last_error());
    return n;
}

static float *points(int64_t rows, uint64_t seed) {
    float *xy = malloc((size_t)rows * 2 * sizeof *xy);
    nota_rng_fill_uniform(seed, 1, xy, (size_t)rows * 2);
    return xy;
}

Test(dfm_net, forward_equals_formula) {
    dfm_net *n = make(4, 3, 3, 1); /* 2→4, 4→4 (+x), 4→3 */
    float *xy = points(50, 3);
    const float *y = NULL;
    cr_assert_eq(dfm_net_forward(n, xy, 50, &y), NOTA_OK);
    for (int r = 0; r < 50; r++) {
        double ref[3];
        direct(n, xy + 2 * r, ref);
        for (int c = 0; c < 3; c++)
            cr_assert(fabs(y[r * 3 + c] - ref[c]) < 2e-5, "row %d ch %d: %g vs %g", r, c,
                      (double)y[r * 3 + c], ref[c]);
    }
    free(xy);
    dfm_net_free(n);
}

/* Each layer also agrees with the nn kit's own Fourier layer (the reference
 * implementation of the same formula, with 2^m trigonometric calls). */
Test(dfm_net, layers_match_kit_fourier) {
    dfm_net *n = make(5, 3, 1, 1);
    float *xy = points(40, 4);
    const float *y = NULL;
    cr_assert_eq(dfm_net_forward(n, xy, 40, &y), NOTA_OK);
    for (int i = 0; i < n->depth; i++) {
        int64_t shape[2] = {40, n->in[i]};
        nota_tensor *x;
        cr_assert_eq(nota_tensor_wrap(NOTA_F32, 2, shape, n->x[i], &x), NOTA_OK);
        const nota_tensor *ky;
        cr_assert_eq(nota_nn_layer_forward(n->layer[i], x, &ky), NOTA_OK, "%s", nota_last_error());
        const float *mine = n->x[i + 1], *kit = nota_tensor_f32(ky);
        for (int64_t e = 0; e < 40 * n->out[i]; e++) {
            float want = i == n->depth - 1 ? tanhf(kit[e]) : kit[e];
            cr_assert(fabsf(mine[e] - want) < 1e-4f * (1.0f + fabsf(want)),
                      "layer %d element %lld: %g vs %g", i, (long long)e, (double)mine[e],
                      (double)want);
        }
        nota_tensor_free(x);
    }
    free(xy);
    dfm_net_free(n);
}

/* L = Σ_r Σ_c u_rc y_rc; analytic dL/dW from backward against central
 * differences of the direct double evaluation, for every weight. */
Test(dfm_net, gradient_check_whole_network) {
    const int rows = 6;
    dfm_net *n = make(3, 3, 3, 1); /* 2→3, 3→3 (+x), 3→3 (+x) */
    dfm_net *m = make(4, 3, 1, 1); /* 2→4, 4→4 (+x), 4→1: no residual at the ends */
    dfm_net *nets[2] = {n, m};
    float *xy = points(rows, 5);
    for (int t = 0; t < 2; t++) {
        dfm_net *net = nets[t];
        int C = net->channels;
        float u[6 * 3];
        nota_rng_fill_normal(9, (uint64_t)t, u, (size_t)(rows * C));
        const float *y = NULL;
        cr_assert_eq(dfm_net_forward(net, xy, rows, &y), NOTA_OK);
        for (int i = 0; i < net->depth; i++)
            nota_nn_layer_zero_grad(net->layer[i]);
        cr_assert_eq(dfm_net_backward(net, u), NOTA_OK);
        for (int i = 0; i < net->depth; i++) {
            float *w = dfm_net_weights(net, i), *g = dfm_net_grads(net, i);
            int64_t count = dfm_net_layer_rows(net, i) * net->out[i];
            for (int64_t e = 0; e < count; e++) {
                const float keep = w[e], h = 1e-4f;
                double lp = 0, lm = 0, yy[3];
                w[e] = keep + h;
                for (int r = 0; r < rows; r++) {
                    direct(net, xy + 2 * r, yy);
                    for (int c = 0; c < C; c++)
                        lp += u[r * C + c] * yy[c];
                }
                w[e] = keep - h;
                for (int r = 0; r < rows; r++) {
                    direct(net, xy + 2 * r, yy);
                    for (int c = 0; c < C; c++)
                        lm += u[r * C + c] * yy[c];
                }
                w[e] = keep;
                double fd = (lp - lm) / (2.0 * ((double)(keep + h) - (double)keep));
                cr_assert(fabs(fd - g[e]) < 2e-3 * (1.0 + fabs(fd)),
                          "net %d layer %d weight %lld: backward %g, finite difference %g", t, i,
                          (long long)e, (double)g[e], fd);
            }
        }
    }
    free(xy);
    dfm_net_free(n);
    dfm_net_free(m);
}

Test(dfm_net, threads_give_identical_results) {
    const int64_t rows = 9000;
    dfm_net *a = make(5, 3, 3, 1), *b = make(5, 3, 3, 3);
    float *xy = points(rows, 6), *u = malloc((size_t)rows * 3 * sizeof *u);
    nota_rng_fill_normal(2, 2, u, (size_t)rows * 3);
    const float *ya = NULL, *yb = NULL;
    cr_assert_eq(dfm_net_forward(a, xy, rows, &ya), NOTA_OK);
    cr_assert_eq(dfm_net_forward(b, xy, rows, &yb), NOTA_OK);
    cr_assert_eq(memcmp(ya, yb, (size_t)rows * 3 * sizeof(float)), 0);
    cr_assert_eq(dfm_net_backward(a, u), NOTA_OK);
    cr_assert_eq(dfm_net_backward(b, u), NOTA_OK);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(memcmp(dfm_net_grads(a, i), dfm_net_grads(b, i),
                            (size_t)(dfm_net_layer_rows(a, i) * a->out[i]) * sizeof(float)),
                     0, "layer %d grads differ", i);
    free(xy), free(u);
    dfm_net_free(a);
    dfm_net_free(b);
}

Test(dfm_net, bad_architecture_refused) {
    dfm_net *n = (dfm_net *)1;
    cr_assert_eq(dfm_net_new(13, 3, 3, 0.5f, 0, 1, &n), NOTA_EINVAL);
    cr_assert_null(n);
    cr_assert_str_eq(nota_last_error(),
                     "dfm: network width 13, depth 3, channels 3 out of range (width 1..12, depth "
                     "1..16, channels 1 or 3)");
    cr_assert_eq(dfm_net_new(4, 3, 2, 0.5f, 0, 1, &n), NOTA_EINVAL);
    cr_assert_eq(dfm_net_new(4, 3, 3, 0.0f, 0, 1, &n), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "dfm: coordinate scale 0 must be finite and > 0");
    cr_assert_eq(dfm_net_weight_count(6, 4, 3), 1968); /* issue 6's prototype count */
}
