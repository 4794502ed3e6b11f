/* dfm_net.h — the DFM coordinate network (paper 001, ch. 4, eq. 4.5).
 *
 * h = tanh ∘ h_d ∘ … ∘ h_1 maps a pixel position x ∈ [0, s]² to its C values
 * in [-1, 1]; each h_i(x) = Σ_{k∈{0,1}^m} a_k cos(2πk·x) + b_k sin(2πk·x)
 * (+ x when in == out). Layer widths: 2 → width → … → width → C.
 *
 * The parameters live in the nn kit's Fourier layers (same weight layout,
 * (2·2^in, out), so the kit's Adam updates them and its forward is a
 * reference), but forward/backward here are the plugin's own fast path:
 * the 2^m cos/sin features of a row come from m sincos calls and products
 * (angle addition) instead of 2^m trigonometric calls, rows are processed in
 * batches through GEMMs (nota_sgemm, OpenBLAS threads), and the per-row work
 * (features, input gradients) is split over host->threads worker threads.
 *
 * Quantization-aware training: when `wq[i]` is set, layer i's forward and
 * backward use those (quantized) weights while the gradient still goes to the
 * float weights in the kit layer (straight-through estimator).
 */
#ifndef DFM_NET_H
#define DFM_NET_H

#include "nota/nota.h"

#define DFM_MAX_DEPTH 16
#define DFM_MAX_WIDTH 12

typedef struct dfm_net {
    int channels, width, depth;
    float coord_scale;
    int in[DFM_MAX_DEPTH], out[DFM_MAX_DEPTH];
    nota_nn_layer *layer[DFM_MAX_DEPTH]; /* kit Fourier layers: weights + grads */
    const float *wq[DFM_MAX_DEPTH];      /* NULL: use the layer's own weights */
    int threads;
    /* Batch workspace (capacity `cap` rows): inputs of each layer, features,
     * final pre-tanh output, gradients. */
    int64_t cap, rows;           /* workspace capacity; rows of the last forward */
    float *x[DFM_MAX_DEPTH + 1]; /* x[0] coords (cap, 2) … x[depth] outputs (cap, C) */
    float *phi[DFM_MAX_DEPTH];   /* (cap, 2·2^in) */
    float *dphi, *dx, *dy;       /* scratch for backward */
} dfm_net;

/* Number of weights of a (width, depth, channels) network. */
int64_t dfm_net_weight_count(int width, int depth, int channels);

/* New network, weights initialised from (seed) as the kit's Fourier default
 * (N(0, 1/2^in)). width 1..DFM_MAX_WIDTH, depth 1..DFM_MAX_DEPTH, channels 1
 * or 3 (NOTA_EINVAL otherwise). */
nota_status dfm_net_new(int width, int depth, int channels, float coord_scale, uint64_t seed,
                        int threads, dfm_net **out);
void dfm_net_free(dfm_net *n);
/* Re-draw every weight from N(0, std²), layer i from (seed, stream i). */
nota_status dfm_net_init_normal(dfm_net *n, double std, uint64_t seed);

/* Layer i's float weights (borrowed, (2·2^in, out) row-major) and grads. */
float *dfm_net_weights(const dfm_net *n, int i);
float *dfm_net_grads(const dfm_net *n, int i);
int64_t dfm_net_layer_rows(const dfm_net *n, int i); /* 2·2^in */

/* Forward `rows` coordinates (rows, 2) (copied into the workspace) to
 * outputs y (rows, C) after tanh, borrowed from the net until the next call.
 * Grows the workspace as needed. */
nota_status dfm_net_forward(dfm_net *n, const float *coords, int64_t rows, const float **y);
/* Backward from dL/dy (rows, C) of the last forward: ACCUMULATES the weight
 * gradients into the kit layers' grad tensors. */
nota_status dfm_net_backward(dfm_net *n, const float *dy);

/* Coordinates of pixel (r, c) of an H×W image: s·((c + ½)/W, (r + ½)/H). */
void dfm_coords(int64_t h, int64_t w, float scale, int64_t first, int64_t rows, float *xy);

/* Render the whole image (C, H, W) as u8, in batches of `batch` rows. */
nota_status dfm_net_render(dfm_net *n, int64_t h, int64_t w, int64_t batch, uint8_t *out);

/* Run fn(ctx, lo, hi) over [0, rows): alone when threads <= 1, else in
 * slices of >= 2048 rows on libnota's pool (nota_parallel_for, as wide as
 * --threads; no threads started per call). */
typedef void (*dfm_range_fn)(void *ctx, int64_t lo, int64_t hi);
nota_status dfm_parallel(int threads, int64_t rows, dfm_range_fn fn, void *ctx);

#endif
