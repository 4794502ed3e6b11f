/* Element-wise activation layers (ReLU, LeakyReLU, Tanh, Sigmoid) and the
 * parameter-free Reshape layer.
 *
 * The per-element maths is in nn_kernels.h; these loops only walk memory.
 * ReLU / LeakyReLU differentiate from the input, Tanh / Sigmoid from their
 * own output (cheaper, and it is already stored).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_internal.h"
#include "nn_kernels.h"
#include "parallel.h"

typedef struct act_priv {
    nota_nn_act_kind kind;
    float param;
} act_priv;

/* Element loops on nota_par_for's threads once a tensor is large enough to
 * pay for the hand-off (a batch of conv feature maps, not a 128×512 MLP
 * layer). Items are independent, so any cut gives the same bits. */
#define ACT_GRAIN 65536

typedef struct act_ctx {
    const act_priv *p;
    const float *x, *y, *dy;
    float *out;
} act_ctx;

static void forward_body(void *vctx, size_t lo, size_t hi) {
    const act_ctx *c = vctx;
    const float *x = c->x;
    float *y = c->out;
    switch (c->p->kind) {
    case NOTA_NN_RELU:
        for (size_t i = lo; i < hi; i++)
            y[i] = nn_relu(x[i]);
        break;
    case NOTA_NN_LEAKY_RELU:
        for (size_t i = lo; i < hi; i++)
            y[i] = nn_leaky(x[i], c->p->param);
        break;
    case NOTA_NN_TANH:
        for (size_t i = lo; i < hi; i++)
            y[i] = tanhf(x[i]);
        break;
    case NOTA_NN_SIGMOID:
        for (size_t i = lo; i < hi; i++)
            y[i] = nn_sigmoid(x[i]);
        break;
    }
}

static void backward_body(void *vctx, size_t lo, size_t hi) {
    const act_ctx *c = vctx;
    const float *x = c->x, *y = c->y, *dy = c->dy;
    float *dx = c->out;
    switch (c->p->kind) {
    case NOTA_NN_RELU:
        for (size_t i = lo; i < hi; i++)
            dx[i] = nn_relu_grad(x[i], dy[i]);
        break;
    case NOTA_NN_LEAKY_RELU:
        for (size_t i = lo; i < hi; i++)
            dx[i] = nn_leaky_grad(x[i], c->p->param, dy[i]);
        break;
    case NOTA_NN_TANH:
        for (size_t i = lo; i < hi; i++)
            dx[i] = nn_tanh_grad_y(y[i], dy[i]);
        break;
    case NOTA_NN_SIGMOID:
        for (size_t i = lo; i < hi; i++)
            dx[i] = nn_sigmoid_grad_y(y[i], dy[i]);
        break;
    }
}

static nota_status act_forward(nota_nn_layer *l, const nota_tensor *xt) {
    nota_status st = nn_ensure(&l->y, xt->ndim, xt->shape);
    if (st) return st;
    act_ctx c = {l->priv, nn_f(xt), NULL, NULL, nn_f(l->y)};
    nota_par_for(nota_tensor_numel(xt), ACT_GRAIN, forward_body, &c);
    return NOTA_OK;
}

static nota_status act_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    if (!need_dx) return NOTA_OK;
    act_ctx c = {l->priv, nn_f(l->x), nn_f(l->y), nn_f(dyt), nn_f(l->dx)};
    nota_par_for(nota_tensor_numel(dyt), ACT_GRAIN, backward_body, &c);
    return NOTA_OK;
}

static const nn_vtable act_vts[4] = {
    {"relu", act_forward, act_backward, NULL, NULL},
    {"leaky_relu", act_forward, act_backward, NULL, NULL},
    {"tanh", act_forward, act_backward, NULL, NULL},
    {"sigmoid", act_forward, act_backward, NULL, NULL},
};

nota_status nota_nn_act_new(nota_nn_act_kind kind, float param, nota_nn_layer **layer) {
    if (!layer) return nota_error(NOTA_EINVAL, "nota_nn_act_new: layer is NULL");
    *layer = NULL;
    if ((int)kind < 0 || (int)kind > 3)
        return nota_error(NOTA_EINVAL, "nota_nn_act_new: unknown activation kind %d", (int)kind);
    if (kind == NOTA_NN_LEAKY_RELU && !isfinite(param))
        return nota_error(NOTA_EINVAL, "leaky_relu: slope must be finite");
    nota_status st = nn_layer_alloc(&act_vts[kind], sizeof(act_priv), layer);
    if (st) return st;
    act_priv *p = (*layer)->priv;
    p->kind = kind;
    p->param = param;
    return NOTA_OK;
}

/* ---- Reshape: a copy with a new per-item shape (copying keeps the
 * ownership rule simple: y never aliases the caller's x). */

typedef struct reshape_priv {
    int ndim;
    int64_t shape[NOTA_MAX_DIMS];
    size_t item;
} reshape_priv;

static nota_status reshape_forward(nota_nn_layer *l, const nota_tensor *x) {
    const reshape_priv *p = l->priv;
    if (x->ndim < 1 || nota_tensor_row_size(x) != p->item) {
        char e[200], s[96];
        nota_shape_str(p->ndim, p->shape, s, sizeof s);
        snprintf(e, sizeof e, "N items of %zu elements (to reshape to N x %s)", p->item, s);
        return nn_shape_error(l, x, e);
    }
    int64_t ys[NOTA_MAX_DIMS];
    ys[0] = x->shape[0];
    for (int i = 0; i < p->ndim; i++)
        ys[i + 1] = p->shape[i];
    nota_status st = nn_ensure(&l->y, p->ndim + 1, ys);
    if (st) return st;
    memcpy(l->y->data, x->data, x->nbytes);
    return NOTA_OK;
}

static nota_status reshape_backward(nota_nn_layer *l, const nota_tensor *dy, bool need_dx) {
    if (need_dx) memcpy(l->dx->data, dy->data, dy->nbytes);
    return NOTA_OK;
}

static const nn_vtable reshape_vt = {"reshape", reshape_forward, reshape_backward, NULL, NULL};

nota_status nota_nn_reshape_new(int item_ndim, const int64_t *item_shape, nota_nn_layer **layer) {
    if (!layer) return nota_error(NOTA_EINVAL, "nota_nn_reshape_new: layer is NULL");
    *layer = NULL;
    if (item_ndim < 1 || item_ndim > NOTA_MAX_DIMS - 1 || !item_shape)
        return nota_error(NOTA_EINVAL, "reshape: item_ndim %d outside 1..%d", item_ndim,
                          NOTA_MAX_DIMS - 1);
    size_t item;
    nota_status st = nota_shape_size(item_ndim, item_shape, NOTA_F32, &item, NULL);
    if (st) return nota_error_prefix(st, "reshape: ");
    st = nn_layer_alloc(&reshape_vt, sizeof(reshape_priv), layer);
    if (st) return st;
    reshape_priv *p = (*layer)->priv;
    p->ndim = item_ndim;
    memcpy(p->shape, item_shape, (size_t)item_ndim * sizeof *item_shape);
    p->item = item;
    return NOTA_OK;
}
