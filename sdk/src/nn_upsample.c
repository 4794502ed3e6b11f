/* ×2 upsampling of (N, C, H, W) maps, nearest and bilinear.
 *
 * Bilinear follows PyTorch's align_corners = false: output pixel o reads the
 * source coordinate max((o + 0.5)/2 - 0.5, 0), blending its two neighbours
 * (the second clamped to the edge). Both modes are separable, so a plane is
 * handled as rows × columns of precomputed (index, weight) pairs, and the
 * backward scatters with the same pairs (the adjoint).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "nn_kernels.h"

typedef struct up_priv {
    nota_nn_upsample_mode mode;
} up_priv;

static void src_pair(nota_nn_upsample_mode mode, int64_t o, int64_t n, int64_t *i0, int64_t *i1,
                     float *w0) {
    nn_upsample_src(mode == NOTA_NN_UPSAMPLE_BILINEAR, o, n, i0, i1, w0);
}

static nota_status up_forward(nota_nn_layer *l, const nota_tensor *x) {
    const up_priv *p = l->priv;
    if (x->ndim != 4) return nn_shape_error(l, x, "(N, C, H, W)");
    int64_t nc = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
    int64_t ys[4] = {x->shape[0], x->shape[1], 2 * h, 2 * w};
    nota_status st = nn_ensure(&l->y, 4, ys);
    if (st) return st;
    const float *xd = nn_f(x);
    float *y = nn_f(l->y);
    for (int64_t q = 0; q < nc; q++) {
        const float *img = xd + q * h * w;
        float *out = y + q * 4 * h * w;
        for (int64_t oy = 0; oy < 2 * h; oy++) {
            int64_t y0, y1;
            float wy;
            src_pair(p->mode, oy, h, &y0, &y1, &wy);
            for (int64_t ox = 0; ox < 2 * w; ox++) {
                int64_t x0, x1;
                float wx;
                src_pair(p->mode, ox, w, &x0, &x1, &wx);
                float top = wx * img[y0 * w + x0] + (1.0f - wx) * img[y0 * w + x1];
                float bot = wx * img[y1 * w + x0] + (1.0f - wx) * img[y1 * w + x1];
                out[oy * 2 * w + ox] = wy * top + (1.0f - wy) * bot;
            }
        }
    }
    return NOTA_OK;
}

static nota_status up_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    if (!need_dx) return NOTA_OK;
    const up_priv *p = l->priv;
    const nota_tensor *x = l->x;
    int64_t nc = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
    const float *dy = nn_f(dyt);
    float *dx = nn_f(l->dx);
    memset(dx, 0, l->dx->nbytes);
    for (int64_t q = 0; q < nc; q++) {
        float *g = dx + q * h * w;
        const float *d = dy + q * 4 * h * w;
        for (int64_t oy = 0; oy < 2 * h; oy++) {
            int64_t y0, y1;
            float wy;
            src_pair(p->mode, oy, h, &y0, &y1, &wy);
            for (int64_t ox = 0; ox < 2 * w; ox++) {
                int64_t x0, x1;
                float wx;
                src_pair(p->mode, ox, w, &x0, &x1, &wx);
                float v = d[oy * 2 * w + ox];
                g[y0 * w + x0] += wy * wx * v;
                g[y0 * w + x1] += wy * (1.0f - wx) * v;
                g[y1 * w + x0] += (1.0f - wy) * wx * v;
                g[y1 * w + x1] += (1.0f - wy) * (1.0f - wx) * v;
            }
        }
    }
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
