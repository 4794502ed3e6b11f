/* Sequential container of the nn kit: forward and backward through a list
 * of layers, the combined parameter list with "<index>.<name>" names, and
 * save / load of every parameter and buffer into a nota_modelfile as named
 * tensors. Load validates everything (presence, dtype, shape, finiteness,
 * non-negative running variances) before copying anything, so a bad file
 * leaves the net as it was.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

struct nota_nn_net {
    nota_nn_layer **layers;
    size_t n, cap;
};

nota_status nota_nn_net_new(nota_nn_net **net) {
    if (!net) return nota_error(NOTA_EINVAL, "nota_nn_net_new: net is NULL");
    *net = calloc(1, sizeof **net);
    if (!*net) return nota_error(NOTA_ENOMEM, "nota_nn_net_new: allocation failed");
    return NOTA_OK;
}

void nota_nn_net_free(nota_nn_net *net) {
    if (!net) return;
    for (size_t i = 0; i < net->n; i++)
        nota_nn_layer_free(net->layers[i]);
    free(net->layers);
    free(net);
}

nota_status nota_nn_net_add(nota_nn_net *net, nota_nn_layer *layer) {
    if (!net || !layer) {
        nota_nn_layer_free(layer);
        return nota_error(NOTA_EINVAL, "nota_nn_net_add: net or layer is NULL");
    }
    if (net->n == net->cap) {
        size_t cap = net->cap ? 2 * net->cap : 8;
        nota_nn_layer **l = realloc(net->layers, cap * sizeof *l);
        if (!l) {
            nota_nn_layer_free(layer);
            return nota_error(NOTA_ENOMEM, "nota_nn_net_add: cannot grow the layer list");
        }
        net->layers = l, net->cap = cap;
    }
    net->layers[net->n++] = layer;
    return NOTA_OK;
}

size_t nota_nn_net_layer_count(const nota_nn_net *net) { return net ? net->n : 0; }

nota_nn_layer *nota_nn_net_layer(const nota_nn_net *net, size_t i) {
    return net && i < net->n ? net->layers[i] : NULL;
}

nota_status nota_nn_net_forward(nota_nn_net *net, const nota_tensor *x, const nota_tensor **y) {
    if (!net || !y) return nota_error(NOTA_EINVAL, "nota_nn_net_forward: net or y is NULL");
    *y = NULL;
    if (net->n == 0) return nota_error(NOTA_EINVAL, "nota_nn_net_forward: the net has no layers");
    const nota_tensor *cur = x;
    for (size_t i = 0; i < net->n; i++) {
        nota_status st = nota_nn_layer_forward(net->layers[i], cur, &cur);
        if (st) return nota_error_prefix(st, "layer %zu: ", i);
    }
    *y = cur;
    return NOTA_OK;
}

nota_status nota_nn_net_backward(nota_nn_net *net, const nota_tensor *dy, const nota_tensor **dx) {
    if (!net) return nota_error(NOTA_EINVAL, "nota_nn_net_backward: net is NULL");
    if (dx) *dx = NULL;
    if (net->n == 0) return nota_error(NOTA_EINVAL, "nota_nn_net_backward: the net has no layers");
    const nota_tensor *cur = dy;
    for (size_t i = net->n; i-- > 0;) {
        bool need = i > 0 || dx != NULL;
        nota_status st = nota_nn_layer_backward(net->layers[i], cur, need ? &cur : NULL);
        if (st) return nota_error_prefix(st, "layer %zu: ", i);
    }
    if (dx) *dx = cur;
    return NOTA_OK;
}

void nota_nn_net_set_training(nota_nn_net *net, bool training) {
    if (!net) return;
    for (size_t i = 0; i < net->n; i++)
        nota_nn_layer_set_training(net->layers[i], training);
}

void nota_nn_net_zero_grad(nota_nn_net *net) {
    if (!net) return;
    for (size_t i = 0; i < net->n; i++)
        nota_nn_layer_zero_grad(net->layers[i]);
}

nota_status nota_nn_net_init(nota_nn_net *net, uint64_t seed, uint64_t stream_base) {
    if (!net) return nota_error(NOTA_EINVAL, "nota_nn_net_init: net is NULL");
    for (size_t i = 0; i < net->n; i++) {
        nota_status st = nota_nn_layer_init(net->layers[i], seed, stream_base + i);
        if (st) return nota_error_prefix(st, "layer %zu: ", i);
    }
    return NOTA_OK;
}

size_t nota_nn_net_param_count(const nota_nn_net *net) {
    size_t c = 0;
    for (size_t i = 0; net && i < net->n; i++)
        c += net->layers[i]->nparams;
    return c;
}

/* Layer index and parameter of flat parameter index k. */
static bool locate(const nota_nn_net *net, size_t k, size_t *layer, const nota_nn_param **p) {
    for (size_t i = 0; i < net->n; i++) {
        if (k < net->layers[i]->nparams) {
            *layer = i;
            *p = &net->layers[i]->params[k];
            return true;
        }
        k -= net->layers[i]->nparams;
    }
    return false;
}

nota_status nota_nn_net_param(const nota_nn_net *net, size_t i, nota_nn_param *out, char *name,
                              size_t cap) {
    if (!net || !out) return nota_error(NOTA_EINVAL, "nota_nn_net_param: net or out is NULL");
    size_t li;
    const nota_nn_param *p;
    if (!locate(net, i, &li, &p))
        return nota_error(NOTA_EINVAL, "nota_nn_net_param: index %zu, the net has %zu", i,
                          nota_nn_net_param_count(net));
    *out = *p;
    if (name && cap) snprintf(name, cap, "%zu.%s", li, p->name);
    return NOTA_OK;
}

size_t nota_nn_net_num_weights(const nota_nn_net *net) {
    size_t c = 0;
    for (size_t i = 0; net && i < net->n; i++)
        for (size_t j = 0; j < net->layers[i]->nparams; j++)
            if (net->layers[i]->params[j].trainable)
                c += nota_tensor_numel(net->layers[i]->params[j].value);
    return c;
}

static nota_status full_name(const char *prefix, size_t layer, const char *pname, char *buf,
                             size_t cap) {
    int w = snprintf(buf, cap, "%s%zu.%s", prefix ? prefix : "", layer, pname);
    if (w < 0 || (size_t)w >= cap || (size_t)w >= NOTA_MODEL_MAX_NAME)
        return nota_error(NOTA_ELIMIT, "nn net: tensor name with prefix '%s' exceeds %d bytes",
                          prefix ? prefix : "", NOTA_MODEL_MAX_NAME - 1);
    return NOTA_OK;
}

nota_status nota_nn_net_save(const nota_nn_net *net, nota_modelfile *mf, const char *prefix) {
    if (!net || !mf) return nota_error(NOTA_EINVAL, "nota_nn_net_save: net or mf is NULL");
    char name[NOTA_MODEL_MAX_NAME + 16];
    for (size_t i = 0; i < net->n; i++)
        for (size_t j = 0; j < net->layers[i]->nparams; j++) {
            const nota_nn_param *p = &net->layers[i]->params[j];
            nota_status st = full_name(prefix, i, p->name, name, sizeof name);
            if (!st) st = nota_modelfile_add_tensor(mf, name, p->value);
            if (st) return nota_error_prefix(st, "saving net tensor '%s': ", name);
        }
    return NOTA_OK;
}

nota_status nota_nn_net_load(nota_nn_net *net, const nota_modelfile *mf, const char *prefix) {
    if (!net || !mf) return nota_error(NOTA_EINVAL, "nota_nn_net_load: net or mf is NULL");
    char name[NOTA_MODEL_MAX_NAME + 16];
    /* pass 0 validates every tensor, pass 1 copies: all or nothing */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < net->n; i++)
            for (size_t j = 0; j < net->layers[i]->nparams; j++) {
                const nota_nn_param *p = &net->layers[i]->params[j];
                const nota_tensor *t;
                nota_status st = full_name(prefix, i, p->name, name, sizeof name);
                if (!st) st = nota_modelfile_get_tensor(mf, name, &t);
                if (st) return st;
                if (pass == 1) {
                    memcpy(p->value->data, t->data, p->value->nbytes);
                    continue;
                }
                if (t->dtype != NOTA_F32)
                    return nota_error(NOTA_EINVAL, "net tensor '%s' is %s, expected f32", name,
                                      nota_dtype_name(t->dtype));
                if (!nota_tensor_same_shape(t, p->value)) {
                    char a[96], b[96];
                    return nota_error(NOTA_ESHAPE,
                                      "net tensor '%s' has shape %s, the %s layer %zu expects %s",
                                      name, nn_shape(t, a, sizeof a), net->layers[i]->vt->kind, i,
                                      nn_shape(p->value, b, sizeof b));
                }
                st = nota_tensor_check_finite(t, name);
                if (st) return st;
                /* BatchNorm would take the root of a negative variance */
                if (!strcmp(p->name, "running_var"))
                    for (size_t e = 0; e < nota_tensor_numel(t); e++)
                        if (((const float *)t->data)[e] < 0.0f)
                            return nota_error(NOTA_EFORMAT,
                                              "net tensor '%s' has a negative variance at %zu",
                                              name, e);
            }
    return NOTA_OK;
}
