/* The DFM Fourier layer (paper 001, ch. 4, eq. 4.5):
 *   y = Σ_{k ∈ {0,1}^m} a_k cos(2π k·x) + b_k sin(2π k·x)  [+ x].
 *
 * Written as features φ(x) = [cos θ_k | sin θ_k] (N, 2K), K = 2^m, θ_k =
 * 2π k·x, times the coefficient matrix (2K, out): one GEMM for the batch.
 * θ_k is built from θ of k with its top bit cleared plus 2π x_j, so the
 * features cost K additions and 2K sin/cos per row. Backward: dW += φ^T dy,
 * dφ = dy W^T (another GEMM), then dx_j = 2π Σ_{k: k_j = 1}
 * (-dφcos_k sin θ_k + dφsin_k cos θ_k), plus dy for the residual.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn_internal.h"
#include "nota/linalg.h"

#define NN_FOURIER_MAX_IN 16
#define NN_TWO_PI 6.283185307179586

typedef struct fourier_priv {
    int64_t in, out, k; /* k = 2^in */
    bool residual;
    nota_tensor *phi, *dphi; /* (N, 2K) */
    double *theta;           /* scratch, K */
} fourier_priv;

static void fourier_free_priv(void *pv) {
    fourier_priv *p = pv;
    if (!p) return;
    nota_tensor_free(p->phi);
    nota_tensor_free(p->dphi);
    free(p->theta);
    free(p);
}

static nota_status fourier_forward(nota_nn_layer *l, const nota_tensor *x) {
    fourier_priv *p = l->priv;
    if (x->ndim != 2 || x->shape[1] != p->in) {
        char e[64];
        snprintf(e, sizeof e, "(N, %lld)", (long long)p->in);
        return nn_shape_error(l, x, e);
    }
    int64_t n = x->shape[0], k2 = 2 * p->k;
    int64_t fs[2] = {n, k2}, ys[2] = {n, p->out};
    nota_status st = nn_ensure(&p->phi, 2, fs);
    if (!st) st = nn_ensure(&l->y, 2, ys);
    if (st) return st;
    const float *xd = nn_f(x);
    float *phi = nn_f(p->phi);
    for (int64_t i = 0; i < n; i++) {
        const float *xr = xd + i * p->in;
        float *row = phi + i * k2;
        p->theta[0] = 0.0;
        for (int64_t k = 1; k < p->k; k++) {
            int64_t top = 63 - __builtin_clzll((unsigned long long)k);
            p->theta[k] = p->theta[k ^ ((int64_t)1 << top)] + NN_TWO_PI * xr[top];
        }
        for (int64_t k = 0; k < p->k; k++) {
            row[k] = (float)cos(p->theta[k]);
            row[p->k + k] = (float)sin(p->theta[k]);
        }
    }
    float *y = nn_f(l->y);
    if (p->residual)
        for (int64_t i = 0; i < n * p->out; i++)
            y[i] = xd[i];
    nota_sgemm(false, false, n, p->out, k2, 1.0f, phi, k2, nn_f(l->params[0].value), p->out,
               p->residual ? 1.0f : 0.0f, y, p->out);
    return NOTA_OK;
}

static nota_status fourier_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    fourier_priv *p = l->priv;
    int64_t n = dyt->shape[0], k2 = 2 * p->k;
    const float *dy = nn_f(dyt), *phi = nn_f(p->phi);
    nota_sgemm(true, false, k2, p->out, n, 1.0f, phi, k2, dy, p->out, 1.0f, nn_f(l->params[0].grad),
               p->out);
    if (!need_dx) return NOTA_OK;
    int64_t fs[2] = {n, k2};
    nota_status st = nn_ensure(&p->dphi, 2, fs);
    if (st) return st;
    float *dphi = nn_f(p->dphi), *dx = nn_f(l->dx);
    nota_sgemm(false, true, n, k2, p->out, 1.0f, dy, p->out, nn_f(l->params[0].value), p->out, 0.0f,
               dphi, k2);
    for (int64_t i = 0; i < n; i++) {
        const float *pr = phi + i * k2, *dr = dphi + i * k2;
        for (int64_t j = 0; j < p->in; j++) {
            double s = 0.0;
            for (int64_t k = (int64_t)1 << j; k < p->k; k = (k + 1) | ((int64_t)1 << j))
                s += -(double)dr[k] * pr[p->k + k] + (double)dr[p->k + k] * pr[k];
            dx[i * p->in + j] = (float)(NN_TWO_PI * s) + (p->residual ? dy[i * p->out + j] : 0.0f);
        }
    }
    return NOTA_OK;
}

static nota_status fourier_init(nota_nn_layer *l, uint64_t seed, uint64_t stream) {
    const fourier_priv *p = l->priv;
    return nota_nn_init_tensor(l->params[0].value, NOTA_NN_INIT_NORMAL, 0.0,
                               1.0 / sqrt((double)p->k), 2 * p->k, p->out, seed, stream);
}

static const nn_vtable fourier_vt = {"fourier", fourier_forward, fourier_backward, fourier_init,
                                     fourier_free_priv};

nota_status nota_nn_fourier_new(int64_t in, int64_t out, bool residual, nota_nn_layer **layer) {
    if (!layer) return nota_error(NOTA_EINVAL, "nota_nn_fourier_new: layer is NULL");
    *layer = NULL;
    if (in < 1 || in > NN_FOURIER_MAX_IN || out < 1)
        return nota_error(NOTA_EINVAL, "fourier: in %lld must be in 1..%d and out %lld >= 1",
                          (long long)in, NN_FOURIER_MAX_IN, (long long)out);
    if (residual && in != out)
        return nota_error(NOTA_EINVAL, "fourier: residual needs in == out, got in %lld, out %lld",
                          (long long)in, (long long)out);
    nota_nn_layer *l;
    nota_status st = nn_layer_alloc(&fourier_vt, sizeof(fourier_priv), &l);
    if (st) return st;
    fourier_priv *p = l->priv;
    p->in = in, p->out = out, p->k = (int64_t)1 << in, p->residual = residual;
    p->theta = malloc((size_t)p->k * sizeof(double));
    if (!p->theta)
        st = nota_error(NOTA_ENOMEM, "fourier: cannot allocate 2^%lld angles", (long long)in);
    int64_t ws[2] = {2 * p->k, out};
    if (!st) st = nn_add_param(l, "weight", 2, ws, true, 2 * p->k, out);
    if (!st) st = fourier_init(l, 0, 0);
    if (st) {
        nota_nn_layer_free(l);
        return st;
    }
    *layer = l;
    return NOTA_OK;
}
