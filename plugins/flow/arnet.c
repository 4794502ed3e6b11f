/* The net prediction of the shared-cell autoregressive layers (arcell.c,
 * ar_hidden > 0, the first ar_net_layers of them): a network F → H → H → 2
 * with ReLUs, shared by all coordinates, reads coordinate r's base
 * features (its M neighbours' context values and 13 edge features,
 * arcell.c) and its position (row and column in [0, 1]), and predicts v_r
 * and |v_r − that prediction|. It is trained here with the SDK's nn kit
 * and evaluated by plain C (net_eval) that gives every item the same
 * sequence of float operations, so a value does not depend on which items
 * are evaluated together (the inverse evaluates one coordinate at a
 * time). Layout of l->ar_net: flow.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "nota/nn.h"
#include "nota/rng.h"

#define AR_NET_BATCH 4096
#define AR_NET_EPOCHS 8                    /* at most this many passes over the training values */
#define STREAM_ARNET 0x41524e5400000000ull /* "ARNT" + layer index << 8 */

int64_t flow_arcell_net_inputs(int64_t m) { return m + 15; }
int64_t flow_arcell_net_size(int64_t m, int64_t hidden) {
    int64_t F = flow_arcell_net_inputs(m);
    return F * hidden + hidden + hidden * hidden + hidden + 2 * hidden + 2;
}

/* The net's inputs for coordinate r, item i: the base features, then the
 * position (row, column) scaled to [0, 1]. */
static void net_inputs(const flow_layer *l, int64_t r, const float *v, int64_t N, int64_t i,
                       float *in) {
    double f[60 + 13];
    int64_t M = l->ar_m, hw = (int64_t)l->ar_ih * l->ar_iw, p = r % hw;
    flow_arcell_base_features(l, r, v, N, i, f);
    for (int64_t j = 0; j < M + 13; j++)
        in[j] = (float)f[j];
    in[M + 13] = l->ar_ih > 1 ? (float)(p / l->ar_iw) / (float)(l->ar_ih - 1) : 0.0f;
    in[M + 14] = l->ar_iw > 1 ? (float)(p % l->ar_iw) / (float)(l->ar_iw - 1) : 0.0f;
}

/* The net (layout in flow.h) on one input row. Every item takes the same
 * sequence of float operations, so a value does not depend on which items
 * are evaluated with it (the inverse evaluates one coordinate at a time). */
static void net_eval(const float *restrict net, int64_t F, int64_t H, const float *restrict in,
                     float *out) {
    float h1[FLOW_AR_MAX_HIDDEN], h2[FLOW_AR_MAX_HIDDEN];
    const float *b1 = net + F * H, *W2 = b1 + H, *b2 = W2 + H * H, *w3 = b2 + H;
    memcpy(h1, b1, (size_t)H * sizeof(float));
    for (int64_t k = 0; k < F; k++) {
        const float a = in[k], *restrict w = net + k * H;
        for (int64_t j = 0; j < H; j++)
            h1[j] += a * w[j];
    }
    memcpy(h2, b2, (size_t)H * sizeof(float));
    for (int64_t k = 0; k < H; k++) {
        if (!(h1[k] > 0.0f)) continue; /* ReLU */
        const float a = h1[k], *restrict w = W2 + k * H;
        for (int64_t j = 0; j < H; j++)
            h2[j] += a * w[j];
    }
    for (int o = 0; o < 2; o++) {
        const float *w = w3 + o * H;
        float y = w3[2 * H + o];
        for (int64_t j = 0; j < H; j++)
            if (h2[j] > 0.0f) y += w[j] * h2[j];
        out[o] = y;
    }
}

/* The net's two outputs for coordinate r, item i, into g[2(rN + i)] (the
 * prediction) and g[2(rN + i) + 1] (the error to expect). */
void flow_arnet_eval(const flow_layer *l, int64_t r, const float *v, int64_t N, int64_t i,
                     float *g) {
    float in[60 + 15];
    net_inputs(l, r, v, N, i, in);
    net_eval(l->ar_net, flow_arcell_net_inputs(l->ar_m), l->ar_hidden, in, g + 2 * (r * N + i));
}

/* Inputs and outputs of linear layer k (0..2) of the net F → H → H → 2. */
static int64_t net_in(int64_t F, int64_t H, int k) { return k == 0 ? F : H; }
static int64_t net_out(int64_t H, int k) { return k == 2 ? 2 : H; }

/* F → H → H → 2 with ReLUs */
static nota_status net_build(nota_nn_net *net, int64_t F, int64_t H) {
    for (int k = 0; k < 3; k++) {
        nota_nn_layer *a;
        nota_status st = nota_nn_linear_new(net_in(F, H, k), net_out(H, k), true, &a);
        if (!st) st = nota_nn_net_add(net, a);
        if (!st && k < 2 && !(st = nota_nn_act_new(NOTA_NN_RELU, 0, &a)))
            st = nota_nn_net_add(net, a);
        if (st) return st;
    }
    return NOTA_OK;
}

/* Train the net prediction of layer l: F → H → H → 2 with ReLUs, mean
 * squared error of v_r (first output) and of |v_r − first output| (the
 * second, the error to expect; its target is a constant, so it does not
 * pull the first) on AR_NET_BATCH coordinates and items drawn at
 * random per step (all coordinates share the net; the position is an
 * input), Adam with a cosine schedule, ar_net_steps steps but at most
 * AR_NET_EPOCHS passes over the D × N training values; the weights are
 * then copied into l->ar_net (layout in flow.h). */
nota_status flow_arnet_train(const flow *f, flow_layer *l, const float *v, int64_t N, int index,
                             const nota_host *host) {
    uint64_t seed = host ? host->seed : 0;
    int64_t D = f->D, F = flow_arcell_net_inputs(l->ar_m), H = l->ar_hidden, B = AR_NET_BATCH;
    int64_t steps = f->o.ar_net_steps, ys[2] = {B, 2}, most = AR_NET_EPOCHS * D * N / B;
    if (steps > most) steps = most > 0 ? most : 1;
    nota_nn_net *net = NULL;
    nota_nn_optim *opt = NULL;
    nota_tensor *x = NULL, *y = NULL, *dy = NULL;
    nota_status st = nota_nn_net_new(&net);
    if (!st) st = net_build(net, F, H);
    if (!st) st = nota_nn_net_init(net, seed, STREAM_ARNET + ((uint64_t)index << 8));
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    ao.schedule = (nota_nn_schedule){NOTA_NN_LR_COSINE, 2e-3f, 2e-5f, steps};
    if (!st) st = nota_nn_adam_new(&ao, &opt);
    if (!st) st = nota_nn_optim_add_net(opt, net);
    if (!st) st = nota_tensor_new_2d(B, F, &x);
    if (!st) st = nota_tensor_new(NOTA_F32, 2, ys, &y);
    if (!st) st = nota_tensor_new(NOTA_F32, 2, ys, &dy);
    nota_rng rng = nota_rng_make(seed, STREAM_ARNET + ((uint64_t)index << 8) + 255);
    double avg = NAN; /* running mean of the loss, for the progress line */
    for (int64_t step = 0; !st && step < steps; step++) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED,
                            "flow fit: cancelled while training layer %d's net prediction", index);
            break;
        }
        float *xb = nota_tensor_f32(x), *yb = nota_tensor_f32(y);
        for (int64_t k = 0; k < B; k++) {
            int64_t r = (int64_t)nota_rng_below(&rng, (uint64_t)D),
                    i = (int64_t)nota_rng_below(&rng, (uint64_t)N);
            net_inputs(l, r, v, N, i, xb + k * F);
            yb[2 * k] = v[r * N + i];
        }
        const nota_tensor *out;
        double loss = NAN;
        nota_nn_optim_zero_grad(opt);
        st = nota_nn_net_forward(net, x, &out);
        /* the second output's target: the first's error, as a constant */
        for (int64_t k = 0; !st && k < B; k++)
            yb[2 * k + 1] = fabsf(yb[2 * k] - nota_tensor_f32(out)[2 * k]);
        if (!st) st = nota_nn_loss_mse(out, y, NOTA_NN_MEAN, &loss, dy);
        if (!st && !isfinite(loss))
            st = nota_error(NOTA_ENUMERIC,
                            "flow fit: autoregressive layer %d: the net prediction's loss is not "
                            "finite at step %lld",
                            index, (long long)step + 1);
        if (!st) st = nota_nn_net_backward(net, dy, NULL);
        if (!st) st = nota_nn_optim_step(opt);
        avg = isnan(avg) ? loss : 0.99 * avg + 0.01 * loss;
        if (!st && ((step + 1) % 250 == 0 || step + 1 == steps)) {
            char detail[96];
            snprintf(detail, sizeof detail, "layer %d net prediction: loss %.5f", index, avg);
            nota_progress(host, "net", (double)(step + 1), (double)steps, detail);
        }
    }
    /* parameters in order: weight (out, in) and bias of layers 0, 2, 4 */
    float *dst = l->ar_net;
    for (int k = 0; !st && k < 3; k++) {
        nota_nn_param w, b;
        if ((st = nota_nn_net_param(net, (size_t)(2 * k), &w, NULL, 0)) ||
            (st = nota_nn_net_param(net, (size_t)(2 * k + 1), &b, NULL, 0)))
            break;
        const float *wv = nota_tensor_f32(w.value), *bv = nota_tensor_f32(b.value);
        int64_t ni = net_in(F, H, k), no = net_out(H, k);
        if (k < 2) { /* Wᵀ (in × out), then b */
            for (int64_t i = 0; i < ni; i++)
                for (int64_t j = 0; j < no; j++)
                    dst[i * no + j] = wv[j * ni + i];
        } else { /* w3 (2 × H) as stored, then b3 (2) */
            memcpy(dst, wv, (size_t)(no * ni) * sizeof(float));
        }
        dst += ni * no;
        memcpy(dst, bv, (size_t)no * sizeof(float));
        dst += no;
    }
    for (int64_t k = 0; !st && k < flow_arcell_net_size(l->ar_m, H); k++)
        if (!isfinite(l->ar_net[k]))
            st = nota_error(NOTA_ENUMERIC,
                            "flow fit: autoregressive layer %d: the net prediction's weight %lld "
                            "is not finite",
                            index, (long long)k);
    nota_tensor_free(x);
    nota_tensor_free(y);
    nota_tensor_free(dy);
    nota_nn_optim_free(opt);
    nota_nn_net_free(net);
    return st;
}
