/* ×2 upsampling of (N, C, H, W) maps, nearest and bilinear.
 *
 * Bilinear follows PyTorch's align_corners = false: output pixel o reads the
 * source coordinate max((o + 0.5)/2 - 0.5, 0), blending its two neighbours
 * (the second clamped to the edge); nn_upsample_src in nn_kernels.h is that
 * map. It is separable, so each call builds the column table (index pair and
 * weights for the 2W output columns) once and every row reuses it; the
 * backward scatters with the same pairs (the adjoint). Nearest is a plain
 * copy of each value into a 2×2 block — not bilinear with weights 1 and 0,
 * which would turn an Inf into NaN (0·Inf) and cost four loads per pixel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "nn_kernels.h"
#include "parallel.h"

/* Output columns reading one input column: 4 inside, up to 6 at the edges
 * where the clamped neighbour coincides with the column itself. */
#define NN_UP_ADJ 8

typedef struct up_priv {
    nota_nn_upsample_mode mode;
} up_priv;

/* Column table for 2w outputs: x0, x1 and weights w0, 1 - w0. */
typedef struct col_table {
    int64_t *x0, *x1;
    float *w0, *w1;
} col_table;

static nota_status table_new(int64_t w, col_table *t) {
    size_t n = (size_t)(2 * w);
    t->x0 = malloc(2 * n * sizeof *t->x0);
    t->w0 = malloc(2 * n * sizeof *t->w0);
    if (!t->x0 || !t->w0) {
        free(t->x0);
        free(t->w0);
        return nota_error(NOTA_ENOMEM, "upsample2x: cannot allocate a %lld-column table",
                          (long long)(2 * w));
    }
    t->x1 = t->x0 + n;
    t->w1 = t->w0 + n;
    for (int64_t o = 0; o < 2 * w; o++) {
        nn_upsample_src(true, o, w, &t->x0[o], &t->x1[o], &t->w0[o]);
        t->w1[o] = 1.0f - t->w0[o];
    }
    return NOTA_OK;
}

static void table_free(col_table *t) {
    free(t->x0);
    free(t->w0);
}

/* The loops run on nota_par_for's threads, one range of input rows
 * (nearest) or of planes (bilinear) a part; each output value is computed
 * exactly as on one thread. */
#define UP_GRAIN 65536 /* values per part */

typedef struct up_ctx {
    int64_t h, w;
    const float *src;
    float *dst;
    const col_table *t;
    const int64_t *adj; /* backward: input column → output columns reading it */
    const float *adjw;
    const int *cnt;
} up_ctx;

static void nearest_fwd_rows(void *vctx, size_t r0, size_t r1) {
    const up_ctx *c = vctx;
    int64_t w = c->w;
    for (int64_t r = (int64_t)r0; r < (int64_t)r1; r++) { /* input row r → output rows 2r, 2r+1 */
        const float *src = c->src + r * w;
        float *o = c->dst + 2 * r * 2 * w;
        for (int64_t i = 0; i < w; i++)
            o[2 * i] = o[2 * i + 1] = src[i];
        memcpy(o + 2 * w, o, (size_t)(2 * w) * sizeof *o);
    }
}

static void nearest_bwd_rows(void *vctx, size_t r0, size_t r1) {
    const up_ctx *c = vctx;
    int64_t w = c->w;
    for (int64_t r = (int64_t)r0; r < (int64_t)r1; r++) {
        const float *d0 = c->src + 2 * r * 2 * w, *d1 = d0 + 2 * w;
        float *g = c->dst + r * w;
        for (int64_t i = 0; i < w; i++)
            g[i] = (d0[2 * i] + d0[2 * i + 1]) + (d1[2 * i] + d1[2 * i + 1]);
    }
}

static void bilinear_fwd_planes(void *vctx, size_t q0, size_t q1) {
    const up_ctx *c = vctx;
    const col_table *t = c->t;
    int64_t h = c->h, w = c->w;
    for (int64_t q = (int64_t)q0; q < (int64_t)q1; q++) {
        const float *img = c->src + q * h * w;
        float *out = c->dst + q * 4 * h * w;
        for (int64_t oy = 0; oy < 2 * h; oy++) {
            int64_t y0, y1;
            float wy;
            nn_upsample_src(true, oy, h, &y0, &y1, &wy);
            const float *r0 = img + y0 * w, *r1 = img + y1 * w;
            float *o = out + oy * 2 * w, wy1 = 1.0f - wy;
            for (int64_t ox = 0; ox < 2 * w; ox++) {
                float top = t->w0[ox] * r0[t->x0[ox]] + t->w1[ox] * r0[t->x1[ox]];
                float bot = t->w0[ox] * r1[t->x0[ox]] + t->w1[ox] * r1[t->x1[ox]];
                o[ox] = wy * top + wy1 * bot;
            }
        }
    }
}

/* The adjoint as gathers: for input column x, the (output column, weight)
 * pairs that read it (at most NN_UP_ADJ, edges included), so a row's
 * horizontal adjoint is a short dot product per column instead of four
 * scattered read-modify-writes per output pixel. */
static void bilinear_bwd_planes(void *vctx, size_t q0, size_t q1) {
    const up_ctx *c = vctx;
    int64_t h = c->h, w = c->w;
    for (int64_t q = (int64_t)q0; q < (int64_t)q1; q++) {
        float *g = c->dst + q * h * w;
        const float *d = c->src + q * 4 * h * w;
        for (int64_t oy = 0; oy < 2 * h; oy++) {
            int64_t y0, y1;
            float wy;
            nn_upsample_src(true, oy, h, &y0, &y1, &wy);
            const float *dr = d + oy * 2 * w;
            float *g0 = g + y0 * w, *g1 = g + y1 * w, wy1 = 1.0f - wy;
            for (int64_t x0 = 0; x0 < w; x0++) {
                float acc = 0.0f;
                for (int k = 0; k < c->cnt[x0]; k++)
                    acc += c->adjw[x0 * NN_UP_ADJ + k] * dr[c->adj[x0 * NN_UP_ADJ + k]];
                g0[x0] += wy * acc;
                g1[x0] += wy1 * acc; /* the same row as g0 at a clamped edge */
            }
        }
    }
}

static nota_status up_forward(nota_nn_layer *l, const nota_tensor *x) {
    const up_priv *p = l->priv;
    if (x->ndim != 4) return nn_shape_error(l, x, "(N, C, H, W)");
    int64_t nc = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
    int64_t ys[4] = {x->shape[0], x->shape[1], 2 * h, 2 * w};
    nota_status st = nn_ensure(&l->y, 4, ys);
    if (st) return st;
    up_ctx c = {.h = h, .w = w, .src = nn_f(x), .dst = nn_f(l->y)};
    if (p->mode == NOTA_NN_UPSAMPLE_NEAREST) {
        nota_par_for((size_t)(nc * h), (size_t)(UP_GRAIN / (4 * w)) + 1, nearest_fwd_rows, &c);
        return NOTA_OK;
    }
    col_table t;
    st = table_new(w, &t);
    if (st) return st;
    c.t = &t;
    nota_par_for((size_t)nc, (size_t)(UP_GRAIN / (4 * h * w)) + 1, bilinear_fwd_planes, &c);
    table_free(&t);
    return NOTA_OK;
}

static nota_status up_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    if (!need_dx) return NOTA_OK;
    const up_priv *p = l->priv;
    const nota_tensor *x = l->x;
    int64_t nc = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
    up_ctx c = {.h = h, .w = w, .src = nn_f(dyt), .dst = nn_f(l->dx)};
    if (p->mode == NOTA_NN_UPSAMPLE_NEAREST) {
        nota_par_for((size_t)(nc * h), (size_t)(UP_GRAIN / (4 * w)) + 1, nearest_bwd_rows, &c);
        return NOTA_OK;
    }
    col_table t;
    nota_status st = table_new(w, &t);
    if (st) return st;
    int64_t *src = malloc((size_t)w * NN_UP_ADJ * sizeof *src);
    float *wt = malloc((size_t)w * NN_UP_ADJ * sizeof *wt);
    int *cnt = calloc((size_t)w, sizeof *cnt);
    if (!src || !wt || !cnt) {
        free(src), free(wt), free(cnt), table_free(&t);
        return nota_error(NOTA_ENOMEM, "upsample2x: cannot allocate the adjoint table");
    }
    for (int64_t ox = 0; ox < 2 * w; ox++) {
        int64_t a = t.x0[ox], b = t.x1[ox];
        src[a * NN_UP_ADJ + cnt[a]] = ox, wt[a * NN_UP_ADJ + cnt[a]++] = t.w0[ox];
        src[b * NN_UP_ADJ + cnt[b]] = ox, wt[b * NN_UP_ADJ + cnt[b]++] = t.w1[ox];
    }
    memset(c.dst, 0, l->dx->nbytes);
    c.adj = src, c.adjw = wt, c.cnt = cnt;
    nota_par_for((size_t)nc, (size_t)(UP_GRAIN / (4 * h * w)) + 1, bilinear_bwd_planes, &c);
    free(src), free(wt), free(cnt);
    table_free(&t);
    return NOTA_OK;
}

static const nn_vtable up_vt = {"upsample2x", up_forward, up_backward, NULL, NULL};

nota_status nota_nn_upsample2x_new(nota_nn_upsample_mode mode, nota_nn_layer **layer) {
    if (!layer) return nota_error(NOTA_EINVAL, "nota_nn_upsample2x_new: layer is NULL");
    *layer = NULL;
    if (mode != NOTA_NN_UPSAMPLE_NEAREST && mode != NOTA_NN_UPSAMPLE_BILINEAR)
        return nota_error(NOTA_EINVAL, "upsample2x: unknown mode %d", (int)mode);
    nota_status st = nn_layer_alloc(&up_vt, sizeof(up_priv), layer);
    if (st) return st;
    ((up_priv *)(*layer)->priv)->mode = mode;
    return NOTA_OK;
}
