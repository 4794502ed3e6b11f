/* The DFM coordinate network's fast forward/backward (see dfm_net.h).
 *
 * Per row and layer: m = in sincos calls give cos/sin(2π x_j); the 2^m
 * features cos/sin(2π k·x) follow by angle addition, k built from k with its
 * top bit cleared (C_k = C_k' c_j − S_k' s_j, S_k = S_k' c_j + C_k' s_j), so a
 * feature costs 4 multiply-adds instead of a trigonometric call. The layer is
 * then one GEMM: features (rows, 2K) × weights (2K, out). Backward: dW += Φᵀ
 * G, dΦ = G Wᵀ, dx_j = 2π Σ_{k: k_j = 1} (−dC_k S_k + dS_k C_k) (+ G for the
 * residual).
 */
#include "dfm_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DFM_TWO_PI 6.283185307179586
/* Below this many rows a worker thread costs more than it saves. */
#define DFM_MIN_ROWS_PER_THREAD 2048

int64_t dfm_net_weight_count(int width, int depth, int channels) {
    int64_t total = 0;
    for (int i = 0; i < depth; i++) {
        int in = i == 0 ? 2 : width, out = i == depth - 1 ? channels : width;
        total += 2 * ((int64_t)1 << in) * out;
    }
    return total;
}

typedef struct par_job {
    dfm_range_fn fn;
    void *ctx;
} par_job;

static void par_body(void *arg, size_t lo, size_t hi) {
    const par_job *j = arg;
    j->fn(j->ctx, (int64_t)lo, (int64_t)hi);
}

nota_status dfm_parallel(int threads, int64_t rows, dfm_range_fn fn, void *ctx) {
    if (threads <= 1 || rows <= 0) {
        if (rows > 0) fn(ctx, 0, rows);
        return NOTA_OK;
    }
    par_job j = {fn, ctx};
    nota_parallel_for((size_t)rows, DFM_MIN_ROWS_PER_THREAD, par_body, &j);
    return NOTA_OK;
}

nota_status dfm_net_new(int width, int depth, int channels, float coord_scale, uint64_t seed,
                        int threads, dfm_net **out) {
    *out = NULL;
    if (width < 1 || width > DFM_MAX_WIDTH || depth < 1 || depth > DFM_MAX_DEPTH ||
        (channels != 1 && channels != 3))
        return nota_error(NOTA_EINVAL,
                          "dfm: network width %d, depth %d, channels %d out of range (width 1..%d, "
                          "depth 1..%d, channels 1 or 3)",
                          width, depth, channels, DFM_MAX_WIDTH, DFM_MAX_DEPTH);
    if (!(coord_scale > 0.0f) || !isfinite(coord_scale))
        return nota_error(NOTA_EINVAL, "dfm: coordinate scale %g must be finite and > 0",
                          (double)coord_scale);
    dfm_net *n = calloc(1, sizeof *n);
    if (!n) return nota_error(NOTA_ENOMEM, "dfm: network allocation failed");
    n->channels = channels, n->width = width, n->depth = depth, n->coord_scale = coord_scale;
    n->threads = threads < 1 ? 1 : threads;
    nota_status st = NOTA_OK;
    for (int i = 0; i < depth && !st; i++) {
        n->in[i] = i == 0 ? 2 : width;
        n->out[i] = i == depth - 1 ? channels : width;
        st = nota_nn_fourier_new(n->in[i], n->out[i], n->in[i] == n->out[i], &n->layer[i]);
        if (!st) st = nota_nn_layer_init(n->layer[i], seed, (uint64_t)i);
    }
    if (st) {
        dfm_net_free(n);
        return st;
    }
    *out = n;
    return NOTA_OK;
}

static nota_tensor *param(const dfm_net *n, int i, bool grad) {
    nota_nn_param p;
    if (nota_nn_layer_param(n->layer[i], 0, &p)) return NULL;
    return grad ? p.grad : p.value;
}

nota_status dfm_net_init_normal(dfm_net *n, double std, uint64_t seed) {
    for (int i = 0; i < n->depth; i++) {
        nota_status st =
            nota_nn_init_tensor(param(n, i, false), NOTA_NN_INIT_NORMAL, 0.0, std,
                                dfm_net_layer_rows(n, i), n->out[i], seed, (uint64_t)i);
        if (st) return st;
    }
    return NOTA_OK;
}

static void free_workspace(dfm_net *n) {
    for (int i = 0; i <= DFM_MAX_DEPTH; i++) {
        free(n->x[i]);
        n->x[i] = NULL;
    }
    for (int i = 0; i < DFM_MAX_DEPTH; i++) {
        free(n->phi[i]);
        n->phi[i] = NULL;
    }
    free(n->dphi), free(n->dx), free(n->dy);
    n->dphi = n->dx = n->dy = NULL;
    n->cap = 0;
}

void dfm_net_free(dfm_net *n) {
    if (!n) return;
    for (int i = 0; i < n->depth; i++)
        nota_nn_layer_free(n->layer[i]);
    free_workspace(n);
    free(n);
}

float *dfm_net_weights(const dfm_net *n, int i) { return nota_tensor_f32(param(n, i, false)); }
float *dfm_net_grads(const dfm_net *n, int i) { return nota_tensor_f32(param(n, i, true)); }
int64_t dfm_net_layer_rows(const dfm_net *n, int i) { return 2 * ((int64_t)1 << n->in[i]); }

static nota_status ensure(dfm_net *n, int64_t rows) {
    if (rows <= n->cap) return NOTA_OK;
    free_workspace(n);
    int64_t maxw = n->width > n->channels ? n->width : n->channels, maxf = 0;
    if (maxw < 2) maxw = 2;
    bool ok = true;
    for (int i = 0; i <= n->depth; i++) {
        int64_t cols = i == 0 ? 2 : n->out[i - 1];
        ok = ok && (n->x[i] = malloc((size_t)(rows * cols) * sizeof(float)));
    }
    for (int i = 0; i < n->depth; i++) {
        int64_t f = dfm_net_layer_rows(n, i);
        if (f > maxf) maxf = f;
        ok = ok && (n->phi[i] = malloc((size_t)(rows * f) * sizeof(float)));
    }
    ok = ok && (n->dphi = malloc((size_t)(rows * maxf) * sizeof(float)));
    ok = ok && (n->dx = malloc((size_t)(rows * maxw) * sizeof(float)));
    ok = ok && (n->dy = malloc((size_t)(rows * maxw) * sizeof(float)));
    if (!ok) {
        free_workspace(n);
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate the workspace for %lld rows",
                          (long long)rows);
    }
    n->cap = rows;
    return NOTA_OK;
}

typedef struct feat_ctx {
    const float *x;
    float *phi;
    int in;
} feat_ctx;

static void features(void *pv, int64_t lo, int64_t hi) {
    const feat_ctx *c = pv;
    int64_t k = (int64_t)1 << c->in, k2 = 2 * k;
    float cs[DFM_MAX_WIDTH], sn[DFM_MAX_WIDTH];
    for (int64_t r = lo; r < hi; r++) {
        const float *x = c->x + r * c->in;
        float *C = c->phi + r * k2, *S = C + k;
        for (int j = 0; j < c->in; j++) {
            double a = DFM_TWO_PI * (double)x[j];
            cs[j] = (float)cos(a);
            sn[j] = (float)sin(a);
        }
        C[0] = 1.0f, S[0] = 0.0f;
        for (int j = 0; j < c->in; j++) {
            int64_t b = (int64_t)1 << j;
            /* k in [b, 2b) has top bit j; its partner k − b is already built. */
            for (int64_t q = 0; q < b; q++) {
                C[b + q] = C[q] * cs[j] - S[q] * sn[j];
                S[b + q] = S[q] * cs[j] + C[q] * sn[j];
            }
        }
    }
}

nota_status dfm_net_forward(dfm_net *n, const float *coords, int64_t rows, const float **y) {
    nota_status st = ensure(n, rows);
    if (st) return st;
    memcpy(n->x[0], coords, (size_t)rows * 2 * sizeof(float));
    for (int i = 0; i < n->depth; i++) {
        int64_t f = dfm_net_layer_rows(n, i);
        feat_ctx fc = {n->x[i], n->phi[i], n->in[i]};
        dfm_parallel(n->threads, rows, features, &fc);
        const float *w = n->wq[i] ? n->wq[i] : dfm_net_weights(n, i);
        bool res = n->in[i] == n->out[i];
        if (res) memcpy(n->x[i + 1], n->x[i], (size_t)(rows * n->in[i]) * sizeof(float));
        nota_sgemm(false, false, rows, n->out[i], f, 1.0f, n->phi[i], f, w, n->out[i],
                   res ? 1.0f : 0.0f, n->x[i + 1], n->out[i]);
    }
    float *o = n->x[n->depth];
    for (int64_t i = 0; i < rows * n->channels; i++)
        o[i] = tanhf(o[i]);
    n->rows = rows;
    *y = o;
    return NOTA_OK;
}

typedef struct dx_ctx {
    const float *phi, *dphi, *g;
    float *dx;
    int in;
    bool res;
} dx_ctx;

static void input_grad(void *pv, int64_t lo, int64_t hi) {
    const dx_ctx *c = pv;
    int64_t k = (int64_t)1 << c->in, k2 = 2 * k;
    for (int64_t r = lo; r < hi; r++) {
        const float *C = c->phi + r * k2, *S = C + k, *dC = c->dphi + r * k2, *dS = dC + k;
        double acc[DFM_MAX_WIDTH] = {0};
        for (int64_t q = 1; q < k; q++) {
            double v = -(double)dC[q] * S[q] + (double)dS[q] * C[q];
            for (int j = 0; j < c->in; j++)
                if (q >> j & 1) acc[j] += v;
        }
        for (int j = 0; j < c->in; j++)
            c->dx[r * c->in + j] =
                (float)(DFM_TWO_PI * acc[j]) + (c->res ? c->g[r * c->in + j] : 0.0f);
    }
}

nota_status dfm_net_backward(dfm_net *n, const float *dy) {
    int64_t rows = n->rows;
    const float *y = n->x[n->depth];
    float *g = n->dy, *gn = n->dx;
    for (int64_t i = 0; i < rows * n->channels; i++)
        g[i] = dy[i] * (1.0f - y[i] * y[i]);
    for (int i = n->depth - 1; i >= 0; i--) {
        int64_t f = dfm_net_layer_rows(n, i);
        nota_sgemm(true, false, f, n->out[i], rows, 1.0f, n->phi[i], f, g, n->out[i], 1.0f,
                   dfm_net_grads(n, i), n->out[i]);
        if (i == 0) break;
        const float *w = n->wq[i] ? n->wq[i] : dfm_net_weights(n, i);
        nota_sgemm(false, true, rows, f, n->out[i], 1.0f, g, n->out[i], w, n->out[i], 0.0f, n->dphi,
                   f);
        dx_ctx c = {n->phi[i], n->dphi, g, gn, n->in[i], n->in[i] == n->out[i]};
        dfm_parallel(n->threads, rows, input_grad, &c);
        float *t = g;
        g = gn, gn = t;
    }
    return NOTA_OK;
}

void dfm_coords(int64_t h, int64_t w, float scale, int64_t first, int64_t rows, float *xy) {
    for (int64_t i = 0; i < rows; i++) {
        int64_t p = first + i, r = p / w, c = p % w;
        xy[2 * i] = scale * ((float)c + 0.5f) / (float)w;
        xy[2 * i + 1] = scale * ((float)r + 0.5f) / (float)h;
    }
}

nota_status dfm_net_render(dfm_net *n, int64_t h, int64_t w, int64_t batch, uint8_t *out) {
    int64_t npix = h * w;
    float *xy = malloc((size_t)(batch * 2) * sizeof(float));
    if (!xy)
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate %lld coordinates", (long long)batch);
    nota_status st = NOTA_OK;
    for (int64_t p = 0; p < npix && !st; p += batch) {
        int64_t rows = npix - p < batch ? npix - p : batch;
        dfm_coords(h, w, n->coord_scale, p, rows, xy);
        const float *y;
        st = dfm_net_forward(n, xy, rows, &y);
        for (int64_t i = 0; i < rows && !st; i++)
            for (int c = 0; c < n->channels; c++) {
                float v = floorf((y[i * n->channels + c] + 1.0f) * 127.5f + 0.5f);
                out[(int64_t)c * npix + p + i] = (uint8_t)(v < 0.0f     ? 0.0f
                                                           : v > 255.0f ? 255.0f
                                                                        : v);
            }
    }
    free(xy);
    return st;
}
