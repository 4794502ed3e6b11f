/* Conv2d (stride, zero or reflection padding, dilation 1) by im2col + GEMM.
 *
 * A chunk of nb samples is unfolded into cols (C·kh·kw, nb·L), L = Ho·Wo,
 * so one sgemm W (O, C·kh·kw) × cols gives the whole chunk's output — a GEMM
 * whose n dimension is nb·L rather than one sample's L, as the kit's rule
 * asks. nb is chosen so cols stays under NN_CONV_COLS_BUDGET floats (the full
 * batch when it fits), which bounds memory for 7×7 kernels on large images.
 * Backward recomputes the chunk's cols (cheaper than keeping them all) for
 * dW += dY cols^T, and col2im scatters dcols = W^T dY back into dx; the same
 * index map handles both padding modes, so reflection padding's gradient
 * flows to the reflected pixel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "nn_kernels.h"
#include "nota/linalg.h"
#include "parallel.h"

#define NN_CONV_COLS_BUDGET ((int64_t)1 << 23) /* floats: 32 MiB */

typedef struct conv_priv {
    nota_nn_conv2d_opts o;
    float *cols, *tmp; /* scratch: (K, nb·L) and (O, nb·L) */
    size_t cols_cap, tmp_cap;
    float *wflip; /* (C, O·kh·kw): flipped, transposed weights for dx */
} conv_priv;

static void conv_free_priv(void *pv) {
    conv_priv *p = pv;
    if (!p) return;
    free(p->cols);
    free(p->tmp);
    free(p->wflip);
    free(p);
}

static inline int64_t pad_index(int64_t i, int64_t n, nota_nn_padding mode) {
    return nn_pad_index(i, n, mode == NOTA_NN_PAD_REFLECT);
}

typedef struct geom {
    int64_t n, c, h, w, o, kh, kw, s, pad, ho, wo, l, k;
} geom;

static geom conv_geom(const conv_priv *p, const nota_tensor *x) {
    geom g;
    g.n = x->shape[0], g.c = x->shape[1], g.h = x->shape[2], g.w = x->shape[3];
    g.o = p->o.out_channels, g.kh = p->o.kernel_h, g.kw = p->o.kernel_w;
    g.s = p->o.stride, g.pad = p->o.padding;
    g.ho = (g.h + 2 * g.pad - g.kh) / g.s + 1;
    g.wo = (g.w + 2 * g.pad - g.kw) / g.s + 1;
    g.l = g.ho * g.wo;
    g.k = g.c * g.kh * g.kw;
    return g;
}

static int64_t chunk_size(const geom *g) {
    int64_t per = g->k * g->l > g->o * g->l ? g->k * g->l : g->o * g->l;
    int64_t nb = NN_CONV_COLS_BUDGET / per;
    if (nb < 1) nb = 1;
    return nb < g->n ? nb : g->n;
}

static nota_status scratch(conv_priv *p, const geom *g, int64_t nb) {
    size_t need_c = (size_t)(g->k * nb * g->l), need_t = (size_t)(g->o * nb * g->l);
    if (need_c > p->cols_cap) {
        free(p->cols);
        p->cols = malloc(need_c * sizeof(float));
        p->cols_cap = p->cols ? need_c : 0;
    }
    if (need_t > p->tmp_cap) {
        free(p->tmp);
        p->tmp = malloc(need_t * sizeof(float));
        p->tmp_cap = p->tmp ? need_t : 0;
    }
    if (!p->cols || !p->tmp)
        return nota_error(NOTA_ENOMEM, "conv2d: cannot allocate %zu + %zu floats of scratch",
                          need_c, need_t);
    return NOTA_OK;
}

/* Output columns [*lo, *hi) of kernel column j read inside the image (no
 * padding involved); the few outside go through pad_index one by one. This
 * keeps the inner loops branch-free (a plain copy / add for stride 1), which
 * took im2col from a third of a conv step to a memory-speed copy. */
static void inner_range(const geom *g, int64_t j, int64_t *lo, int64_t *hi) {
    int64_t a = g->pad - j, b = g->w - 1 + g->pad - j;
    *lo = a > 0 ? (a + g->s - 1) / g->s : 0;
    *hi = b < 0 ? 0 : b / g->s + 1;
    if (*lo > g->wo) *lo = g->wo;
    if (*hi > g->wo) *hi = g->wo;
    if (*hi < *lo) *hi = *lo;
}

/* The unfold/fold passes and the layout shuffles around the GEMMs run on
 * nota_par_for's threads (the GEMMs themselves are cut by nota_sgemm): each
 * part writes rows or channels of its own, so any cut gives the same bits. */
typedef struct conv_ctx {
    const geom *g;
    nota_nn_padding mode;
    const float *src;
    float *dst;
    const float *bias;
    int64_t n0, nb;
} conv_ctx;

/* cols[r][b·L + oy·Wo + ox] = x[n0 + b][c][iy][ix], r = (c·kh + i)·kw + j. */
static void im2col_rows(void *vctx, size_t r0, size_t r1) {
    const conv_ctx *cx = vctx;
    const geom *g = cx->g;
    int64_t ncols = cx->nb * g->l;
    for (int64_t r = (int64_t)r0; r < (int64_t)r1; r++) {
        int64_t c = r / (g->kh * g->kw), i = r / g->kw % g->kh, j = r % g->kw;
        float *row = cx->dst + r * ncols;
        int64_t lo, hi, off = j - g->pad;
        inner_range(g, j, &lo, &hi);
        for (int64_t b = 0; b < cx->nb; b++) {
            const float *img = cx->src + ((cx->n0 + b) * g->c + c) * g->h * g->w;
            for (int64_t oy = 0; oy < g->ho; oy++) {
                float *d = row + b * g->l + oy * g->wo;
                int64_t iy = pad_index(oy * g->s - g->pad + i, g->h, cx->mode);
                if (iy < 0) {
                    memset(d, 0, (size_t)g->wo * sizeof *d);
                    continue;
                }
                const float *src = img + iy * g->w;
                for (int64_t ox = 0; ox < lo; ox++) {
                    int64_t ix = pad_index(ox * g->s + off, g->w, cx->mode);
                    d[ox] = ix < 0 ? 0.0f : src[ix];
                }
                if (g->s == 1)
                    memcpy(d + lo, src + lo + off, (size_t)(hi - lo) * sizeof *d);
                else
                    for (int64_t ox = lo; ox < hi; ox++)
                        d[ox] = src[ox * g->s + off];
                for (int64_t ox = hi; ox < g->wo; ox++) {
                    int64_t ix = pad_index(ox * g->s + off, g->w, cx->mode);
                    d[ox] = ix < 0 ? 0.0f : src[ix];
                }
            }
        }
    }
}

static void im2col(const geom *g, nota_nn_padding mode, const float *x, int64_t n0, int64_t nb,
                   float *cols) {
    conv_ctx cx = {g, mode, x, cols, NULL, n0, nb};
    size_t grain = (size_t)(65536 / (nb * g->l + 1)) + 1; /* >= 64k values a part */
    nota_par_for((size_t)g->k, grain, im2col_rows, &cx);
}

/* The adjoint of im2col: dx[...] += dcols[...] (dx zeroed by the caller).
 * Parts are input channels: only channel c's rows of cols add into
 * channel c's planes. */
static void col2im_channels(void *vctx, size_t c0, size_t c1) {
    const conv_ctx *cx = vctx;
    const geom *g = cx->g;
    int64_t ncols = cx->nb * g->l;
    for (int64_t c = (int64_t)c0; c < (int64_t)c1; c++)
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                const float *row = cx->src + ((c * g->kh + i) * g->kw + j) * ncols;
                int64_t lo, hi, off = j - g->pad;
                inner_range(g, j, &lo, &hi);
                for (int64_t b = 0; b < cx->nb; b++) {
                    float *img = cx->dst + ((cx->n0 + b) * g->c + c) * g->h * g->w;
                    for (int64_t oy = 0; oy < g->ho; oy++) {
                        int64_t iy = pad_index(oy * g->s - g->pad + i, g->h, cx->mode);
                        if (iy < 0) continue;
                        const float *d = row + b * g->l + oy * g->wo;
                        float *dst = img + iy * g->w;
                        for (int64_t ox = 0; ox < lo; ox++) {
                            int64_t ix = pad_index(ox * g->s + off, g->w, cx->mode);
                            if (ix >= 0) dst[ix] += d[ox];
                        }
                        if (g->s == 1) {
                            float *t = dst + off;
                            for (int64_t ox = lo; ox < hi; ox++)
                                t[ox] += d[ox];
                        } else {
                            for (int64_t ox = lo; ox < hi; ox++)
                                dst[ox * g->s + off] += d[ox];
                        }
                        for (int64_t ox = hi; ox < g->wo; ox++) {
                            int64_t ix = pad_index(ox * g->s + off, g->w, cx->mode);
                            if (ix >= 0) dst[ix] += d[ox];
                        }
                    }
                }
            }
}

static void col2im(const geom *g, nota_nn_padding mode, const float *cols, int64_t n0, int64_t nb,
                   float *dx) {
    conv_ctx cx = {g, mode, cols, dx, NULL, n0, nb};
    size_t grain = (size_t)(65536 / (g->kh * g->kw * nb * g->l + 1)) + 1;
    nota_par_for((size_t)g->c, grain, col2im_channels, &cx);
}

/* (O, nb·L) → (nb, O, L) rows of y, adding the bias (NULL: none); parts are
 * output channels. Used by the forward pass and (bias NULL) by dx_by_conv. */
static void unshuffle_channels(void *vctx, size_t o0, size_t o1) {
    const conv_ctx *cx = vctx;
    int64_t l = cx->g->l, no = cx->g->o, ml = cx->nb * l;
    for (int64_t oc = (int64_t)o0; oc < (int64_t)o1; oc++) {
        float bv = cx->bias ? cx->bias[oc] : 0.0f;
        for (int64_t b = 0; b < cx->nb; b++) {
            float *dst = cx->dst + ((cx->n0 + b) * no + oc) * l;
            const float *src = cx->src + oc * ml + b * l;
            if (cx->bias)
                for (int64_t q = 0; q < l; q++)
                    dst[q] = src[q] + bv;
            else
                memcpy(dst, src, (size_t)l * sizeof *dst);
        }
    }
}

static void unshuffle(const geom *g, const float *tmp, const float *bias, int64_t n0, int64_t nb,
                      float *y) {
    conv_ctx cx = {g, NOTA_NN_PAD_ZERO, tmp, y, bias, n0, nb};
    nota_par_for((size_t)g->o, (size_t)(65536 / (nb * g->l + 1)) + 1, unshuffle_channels, &cx);
}

/* dy (nb, O, L) → tmp (O, nb·L), and per channel db[oc] += Σ (in double, in
 * order); parts are output channels. */
typedef struct shuffle_ctx {
    const geom *g;
    const float *dy;
    float *tmp, *db;
    int64_t n0, nb;
} shuffle_ctx;

static void shuffle_channels(void *vctx, size_t o0, size_t o1) {
    const shuffle_ctx *c = vctx;
    int64_t l = c->g->l, no = c->g->o, ml = c->nb * l;
    for (int64_t oc = (int64_t)o0; oc < (int64_t)o1; oc++) {
        for (int64_t b = 0; b < c->nb; b++)
            memcpy(c->tmp + oc * ml + b * l, c->dy + ((c->n0 + b) * no + oc) * l,
                   (size_t)l * sizeof(float));
        if (c->db) {
            double sum = 0.0;
            for (int64_t q = 0; q < ml; q++)
                sum += c->tmp[oc * ml + q];
            c->db[oc] += (float)sum;
        }
    }
}

static nota_status conv_forward(nota_nn_layer *l, const nota_tensor *x) {
    conv_priv *p = l->priv;
    const nota_nn_conv2d_opts *o = &p->o;
    char e[160];
    snprintf(e, sizeof e, "(N, %lld, H, W)", (long long)o->in_channels);
    if (x->ndim != 4 || x->shape[1] != o->in_channels) return nn_shape_error(l, x, e);
    int64_t h = x->shape[2], w = x->shape[3];
    if (h + 2 * o->padding < o->kernel_h || w + 2 * o->padding < o->kernel_w) {
        snprintf(e, sizeof e, "H + 2*%lld >= %lld and W + 2*%lld >= %lld", (long long)o->padding,
                 (long long)o->kernel_h, (long long)o->padding, (long long)o->kernel_w);
        return nn_shape_error(l, x, e);
    }
    if (o->padding_mode == NOTA_NN_PAD_REFLECT && (o->padding >= h || o->padding >= w)) {
        snprintf(e, sizeof e, "H and W > %lld for reflection padding %lld", (long long)o->padding,
                 (long long)o->padding);
        return nn_shape_error(l, x, e);
    }
    geom g = conv_geom(p, x);
    int64_t ys[4] = {g.n, g.o, g.ho, g.wo};
    nota_status st = nn_ensure(&l->y, 4, ys);
    if (st) return st;
    int64_t nb = chunk_size(&g);
    st = scratch(p, &g, nb);
    if (st) return st;
    const float *wt = nn_f(l->params[0].value);
    const float *bias = o->bias ? nn_f(l->params[1].value) : NULL;
    float *y = nn_f(l->y);
    for (int64_t n0 = 0; n0 < g.n; n0 += nb) {
        int64_t m = g.n - n0 < nb ? g.n - n0 : nb;
        im2col(&g, o->padding_mode, nn_f(x), n0, m, p->cols);
        nota_sgemm(false, false, g.o, m * g.l, g.k, 1.0f, wt, g.k, p->cols, m * g.l, 0.0f, p->tmp,
                   m * g.l);
        /* (O, m·L) → (m, O, L), adding the bias on the way */
        unshuffle(&g, p->tmp, bias, n0, m, y);
    }
    return NOTA_OK;
}

/* dx for zero padding, stride 1 and a square kernel with pad <= k - 1: a
 * "full" convolution of dy with the flipped kernel, channels swapped,
 * padding k - 1 - pad:
 *   dx[c, y, x] = Σ_{o,i,j} W[o, c, k-1-i, k-1-j] dy[o, y - (k-1-pad) + i, ...].
 * Its GEMM has inner size O·k·k instead of O, and no col2im scatter, which
 * is what makes it faster than W^T dY followed by col2im. */
static bool dx_by_conv_ok(const conv_priv *p) {
    const nota_nn_conv2d_opts *o = &p->o;
    return o->padding_mode == NOTA_NN_PAD_ZERO && o->stride == 1 && o->kernel_h == o->kernel_w &&
           o->padding <= o->kernel_h - 1;
}

static nota_status dx_by_conv(conv_priv *p, const geom *g, const float *wt, const float *dy,
                              float *dx) {
    int64_t k = g->kh, kk = k * k;
    if (!p->wflip) {
        p->wflip = malloc((size_t)(g->c * g->o * kk) * sizeof(float));
        if (!p->wflip) return nota_error(NOTA_ENOMEM, "conv2d: cannot allocate flipped weights");
    }
    for (int64_t o = 0; o < g->o; o++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t q = 0; q < kk; q++)
                p->wflip[c * g->o * kk + o * kk + q] = wt[(o * g->c + c) * kk + (kk - 1 - q)];
    geom t = *g; /* the transposed problem: dy is the image */
    t.c = g->o, t.o = g->c, t.h = g->ho, t.w = g->wo, t.s = 1, t.pad = k - 1 - g->pad;
    t.ho = g->h, t.wo = g->w, t.l = g->h * g->w, t.k = g->o * kk;
    int64_t nb = chunk_size(&t);
    nota_status st = scratch(p, &t, nb);
    if (st) return st;
    for (int64_t n0 = 0; n0 < t.n; n0 += nb) {
        int64_t m = t.n - n0 < nb ? t.n - n0 : nb, ml = m * t.l;
        im2col(&t, NOTA_NN_PAD_ZERO, dy, n0, m, p->cols);
        nota_sgemm(false, false, t.o, ml, t.k, 1.0f, p->wflip, t.k, p->cols, ml, 0.0f, p->tmp, ml);
        unshuffle(&t, p->tmp, NULL, n0, m, dx);
    }
    return NOTA_OK;
}

static nota_status conv_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    conv_priv *p = l->priv;
    geom g = conv_geom(p, l->x);
    int64_t nb = chunk_size(&g);
    nota_status st = scratch(p, &g, nb);
    if (st) return st;
    const float *dy = nn_f(dyt), *wt = nn_f(l->params[0].value);
    float *dw = nn_f(l->params[0].grad);
    float *db = p->o.bias ? nn_f(l->params[1].grad) : NULL;
    bool by_conv = need_dx && dx_by_conv_ok(p);
    if (need_dx && !by_conv) memset(l->dx->data, 0, l->dx->nbytes);
    for (int64_t n0 = 0; n0 < g.n; n0 += nb) {
        int64_t m = g.n - n0 < nb ? g.n - n0 : nb, ml = m * g.l;
        /* dy (m, O, L) → tmp (O, m·L), and the bias gradient */
        shuffle_ctx sc = {&g, dy, p->tmp, db, n0, m};
        nota_par_for((size_t)g.o, (size_t)(65536 / (ml + 1)) + 1, shuffle_channels, &sc);
        im2col(&g, p->o.padding_mode, nn_f(l->x), n0, m, p->cols);
        nota_sgemm(false, true, g.o, g.k, ml, 1.0f, p->tmp, ml, p->cols, ml, 1.0f, dw, g.k);
        if (need_dx && !by_conv) {
            nota_sgemm(true, false, g.k, ml, g.o, 1.0f, wt, g.k, p->tmp, ml, 0.0f, p->cols, ml);
            col2im(&g, p->o.padding_mode, p->cols, n0, m, nn_f(l->dx));
        }
    }
    return by_conv ? dx_by_conv(p, &g, wt, dy, nn_f(l->dx)) : NOTA_OK;
}

static nota_status conv_init(nota_nn_layer *l, uint64_t seed, uint64_t stream) {
    const conv_priv *p = l->priv;
    int64_t fan_in = p->o.in_channels * p->o.kernel_h * p->o.kernel_w;
    int64_t fan_out = p->o.out_channels * p->o.kernel_h * p->o.kernel_w;
    double bound = 1.0 / sqrt((double)fan_in); /* PyTorch's default, as Linear */
    nota_status st = nota_nn_init_tensor(l->params[0].value, NOTA_NN_INIT_UNIFORM, -bound, bound,
                                         fan_in, fan_out, seed, 2 * stream);
    if (st || !p->o.bias) return st;
    return nota_nn_init_tensor(l->params[1].value, NOTA_NN_INIT_UNIFORM, -bound, bound, fan_in,
                               fan_out, seed, 2 * stream + 1);
}

static const nn_vtable conv_vt = {"conv2d", conv_forward, conv_backward, conv_init, conv_free_priv};

nota_status nota_nn_conv2d_new(const nota_nn_conv2d_opts *o, nota_nn_layer **layer) {
    if (!layer || !o) return nota_error(NOTA_EINVAL, "nota_nn_conv2d_new: opts or layer is NULL");
    *layer = NULL;
    if (o->in_channels < 1 || o->out_channels < 1 || o->kernel_h < 1 || o->kernel_w < 1)
        return nota_error(NOTA_EINVAL,
                          "conv2d: channels (%lld, %lld) and kernel (%lld, %lld) must be >= 1",
                          (long long)o->in_channels, (long long)o->out_channels,
                          (long long)o->kernel_h, (long long)o->kernel_w);
    if (o->stride < 1 || o->padding < 0)
        return nota_error(NOTA_EINVAL, "conv2d: stride %lld must be >= 1 and padding %lld >= 0",
                          (long long)o->stride, (long long)o->padding);
    if (o->padding_mode != NOTA_NN_PAD_ZERO && o->padding_mode != NOTA_NN_PAD_REFLECT)
        return nota_error(NOTA_EINVAL, "conv2d: unknown padding mode %d", (int)o->padding_mode);
    nota_nn_layer *l;
    nota_status st = nn_layer_alloc(&conv_vt, sizeof(conv_priv), &l);
    if (st) return st;
    conv_priv *p = l->priv;
    p->o = *o;
    int64_t ws[4] = {o->out_channels, o->in_channels, o->kernel_h, o->kernel_w};
    int64_t fan_in = ws[1] * ws[2] * ws[3], fan_out = ws[0] * ws[2] * ws[3];
    st = nn_add_param(l, "weight", 4, ws, true, fan_in, fan_out);
    if (!st && o->bias) st = nn_add_param(l, "bias", 1, &ws[0], true, fan_in, fan_out);
    if (!st) st = conv_init(l, 0, 0);
    if (st) {
        nota_nn_layer_free(l);
        return st;
    }
    *layer = l;
    return NOTA_OK;
}
