/* Linear layer: y = x W^T + b, as single GEMMs over the whole batch.
 *
 * Forward is one sgemm (N×in by in×out) after broadcasting the bias into y;
 * backward is two: dW += dy^T x, and dx = dy W (skipped when the caller does
 * not need dx, which for a first layer is the largest GEMM of the step).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_internal.h"
#include "nota/linalg.h"

typedef struct linear_priv {
    int64_t in, out;
    bool bias;
} linear_priv;

static nota_status linear_forward(nota_nn_layer *l, const nota_tensor *x) {
    const linear_priv *p = l->priv;
    if (x->ndim < 2 || (int64_t)nota_tensor_row_size(x) != p->in) {
        char e[64];
        snprintf(e, sizeof e, "(N, %lld)", (long long)p->in);
        return nn_shape_error(l, x, e);
    }
    int64_t n = x->shape[0];
    int64_t ys[2] = {n, p->out};
    nota_status st = nn_ensure(&l->y, 2, ys);
    if (st) return st;
    float *y = nn_f(l->y);
    const float *w = nn_f(l->params[0].value);
    if (p->bias) {
        const float *b = nn_f(l->params[1].value);
        for (int64_t i = 0; i < n; i++)
            memcpy(y + i * p->out, b, (size_t)p->out * sizeof *y);
    }
    nota_sgemm(false, true, n, p->out, p->in, 1.0f, nn_f(x), p->in, w, p->in, p->bias ? 1.0f : 0.0f,
               y, p->out);
    return NOTA_OK;
}

static nota_status linear_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    const linear_priv *p = l->priv;
    int64_t n = dyt->shape[0];
    const float *dy = nn_f(dyt);
    nota_sgemm(true, false, p->out, p->in, n, 1.0f, dy, p->out, nn_f(l->x), p->in, 1.0f,
               nn_f(l->params[0].grad), p->in);
    if (p->bias) {
        float *db = nn_f(l->params[1].grad);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < p->out; j++)
                db[j] += dy[i * p->out + j];
    }
    if (need_dx)
        nota_sgemm(false, false, n, p->in, p->out, 1.0f, dy, p->out, nn_f(l->params[0].value),
                   p->in, 0.0f, nn_f(l->dx), p->in);
    return NOTA_OK;
}

static nota_status linear_init(nota_nn_layer *l, uint64_t seed, uint64_t stream) {
    const linear_priv *p = l->priv;
    /* PyTorch's default: kaiming_uniform(a = sqrt 5) = U(±1/sqrt(fan_in)) */
    double bound = 1.0 / sqrt((double)p->in);
    nota_status st = nota_nn_init_tensor(l->params[0].value, NOTA_NN_INIT_UNIFORM, -bound, bound,
                                         p->in, p->out, seed, 2 * stream);
    if (st || !p->bias) return st;
    return nota_nn_init_tensor(l->params[1].value, NOTA_NN_INIT_UNIFORM, -bound, bound, p->in,
                               p->out, seed, 2 * stream + 1);
}

static const nn_vtable linear_vt = {"linear", linear_forward, linear_backward, linear_init, NULL};

nota_status nota_nn_linear_new(int64_t in, int64_t out, bool bias, nota_nn_layer **layer) {
    if (!layer) return nota_error(NOTA_EINVAL, "nota_nn_linear_new: layer is NULL");
    *layer = NULL;
    if (in < 1 || out < 1)
        return nota_error(NOTA_EINVAL, "linear: in %lld and out %lld must be >= 1", (long long)in,
                          (long long)out);
    nota_nn_layer *l;
    nota_status st = nn_layer_alloc(&linear_vt, sizeof(linear_priv), &l);
    if (st) return st;
    linear_priv *p = l->priv;
    p->in = in, p->out = out, p->bias = bias;
    int64_t ws[2] = {out, in};
    st = nn_add_param(l, "weight", 2, ws, true, in, out);
    if (!st && bias) st = nn_add_param(l, "bias", 1, &out, true, in, out);
    if (!st) st = linear_init(l, 0, 0);
    if (st) {
        nota_nn_layer_free(l);
        return st;
    }
    *layer = l;
    return NOTA_OK;
}
