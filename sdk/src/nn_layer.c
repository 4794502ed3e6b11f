/* The layer object of the nn kit: allocation, the public forward/backward
 * dispatch with the checks every layer needs (non-NULL, f32 on the CPU,
 * backward only after forward, dy shaped like y), parameters and grads.
 * Layer-specific maths lives in nn_<family>.c behind the vtable.
 */
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

nota_status nn_layer_alloc(const nn_vtable *vt, size_t priv_size, nota_nn_layer **out) {
    *out = NULL;
    nota_nn_layer *l = calloc(1, sizeof *l);
    if (!l) return nota_error(NOTA_ENOMEM, "%s: layer allocation failed", vt->kind);
    l->vt = vt;
    l->training = true;
    if (priv_size) {
        l->priv = calloc(1, priv_size);
        if (!l->priv) {
            free(l);
            return nota_error(NOTA_ENOMEM, "%s: layer state allocation failed", vt->kind);
        }
    }
    *out = l;
    return NOTA_OK;
}

nota_status nn_add_param(nota_nn_layer *l, const char *name, int ndim, const int64_t *shape,
                         bool trainable, int64_t fan_in, int64_t fan_out) {
    if (l->nparams >= NN_MAX_PARAMS)
        return nota_error(NOTA_ELIMIT, "%s: more than %d parameters", l->vt->kind, NN_MAX_PARAMS);
    nota_nn_param *p = &l->params[l->nparams];
    memset(p, 0, sizeof *p);
    nota_status st = nota_tensor_new(NOTA_F32, ndim, shape, &p->value);
    if (st) return nota_error_prefix(st, "%s.%s: ", l->vt->kind, name);
    if (trainable) {
        st = nota_tensor_new(NOTA_F32, ndim, shape, &p->grad);
        if (st) {
            nota_tensor_free(p->value);
            p->value = NULL;
            return nota_error_prefix(st, "%s.%s grad: ", l->vt->kind, name);
        }
    }
    p->name = name;
    p->trainable = trainable;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    l->nparams++;
    return NOTA_OK;
}

nota_status nn_ensure(nota_tensor **t, int ndim, const int64_t *shape) {
    if (*t && (*t)->ndim == ndim) {
        bool same = true;
        for (int i = 0; i < ndim; i++)
            same = same && (*t)->shape[i] == shape[i];
        if (same) return NOTA_OK;
    }
    nota_tensor_free(*t);
    *t = NULL;
    return nota_tensor_new(NOTA_F32, ndim, shape, t);
}

const char *nn_shape(const nota_tensor *t, char *buf, size_t cap) {
    return nota_shape_str(t->ndim, t->shape, buf, cap);
}

nota_status nn_shape_error(const nota_nn_layer *l, const nota_tensor *x, const char *expects) {
    char s[96];
    return nota_error(NOTA_ESHAPE, "%s: given x %s, expects %s", l->vt->kind,
                      nn_shape(x, s, sizeof s), expects);
}

void nota_nn_layer_free(nota_nn_layer *l) {
    if (!l) return;
    for (size_t i = 0; i < l->nparams; i++) {
        nota_tensor_free(l->params[i].value);
        nota_tensor_free(l->params[i].grad);
    }
    nota_tensor_free(l->y);
    nota_tensor_free(l->dx);
    if (l->vt->free_priv)
        l->vt->free_priv(l->priv);
    else
        free(l->priv);
    free(l);
}

const char *nota_nn_layer_kind(const nota_nn_layer *l) { return l ? l->vt->kind : "?"; }

static nota_status check_f32(const char *kind, const char *what, const nota_tensor *t) {
    if (!t) return nota_error(NOTA_EINVAL, "%s: %s is NULL", kind, what);
    if (t->dtype != NOTA_F32 || t->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "%s: %s must be an f32 CPU tensor, found %s", kind, what,
                          nota_dtype_name(t->dtype));
    return NOTA_OK;
}

nota_status nota_nn_layer_forward(nota_nn_layer *l, const nota_tensor *x, const nota_tensor **y) {
    if (!l || !y) return nota_error(NOTA_EINVAL, "nota_nn_layer_forward: layer or y is NULL");
    *y = NULL;
    nota_status st = check_f32(l->vt->kind, "x", x);
    if (st) return st;
    l->have_forward = false;
    st = l->vt->forward(l, x);
    if (st) return st;
    l->x = x;
    l->have_forward = true;
    *y = l->y;
    return NOTA_OK;
}

nota_status nota_nn_layer_backward(nota_nn_layer *l, const nota_tensor *dy,
                                   const nota_tensor **dx) {
    if (!l) return nota_error(NOTA_EINVAL, "nota_nn_layer_backward: layer is NULL");
    if (dx) *dx = NULL;
    nota_status st = check_f32(l->vt->kind, "dy", dy);
    if (st) return st;
    if (!l->have_forward)
        return nota_error(NOTA_EINVAL, "%s: backward called without a forward before it",
                          l->vt->kind);
    if (!nota_tensor_same_shape(dy, l->y)) {
        char a[96], b[96];
        return nota_error(NOTA_ESHAPE, "%s: given dy %s, expects the output's shape %s",
                          l->vt->kind, nn_shape(dy, a, sizeof a), nn_shape(l->y, b, sizeof b));
    }
    if (dx) {
        /* dx always has x's shape; layers write every element */
        st = nn_ensure(&l->dx, l->x->ndim, l->x->shape);
        if (st) return st;
    }
    st = l->vt->backward(l, dy, dx != NULL);
    if (st) return st;
    l->have_forward = false;
    if (dx) *dx = l->dx;
    return NOTA_OK;
}

void nota_nn_layer_set_training(nota_nn_layer *l, bool training) {
    if (l) l->training = training;
}

size_t nota_nn_layer_param_count(const nota_nn_layer *l) { return l ? l->nparams : 0; }

nota_status nota_nn_layer_param(const nota_nn_layer *l, size_t i, nota_nn_param *out) {
    if (!l || !out) return nota_error(NOTA_EINVAL, "nota_nn_layer_param: layer or out is NULL");
    if (i >= l->nparams)
        return nota_error(NOTA_EINVAL, "%s: parameter index %zu, layer has %zu", l->vt->kind, i,
                          l->nparams);
    *out = l->params[i];
    return NOTA_OK;
}

nota_status nota_nn_layer_init(nota_nn_layer *l, uint64_t seed, uint64_t stream) {
    if (!l) return nota_error(NOTA_EINVAL, "nota_nn_layer_init: layer is NULL");
    return l->vt->init ? l->vt->init(l, seed, stream) : NOTA_OK;
}

void nota_nn_layer_zero_grad(nota_nn_layer *l) {
    if (!l) return;
    for (size_t i = 0; i < l->nparams; i++)
        if (l->params[i].grad) memset(l->params[i].grad->data, 0, l->params[i].grad->nbytes);
}
