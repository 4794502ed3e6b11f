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

/* phi rows [cos θ_k | sin θ_k] for n rows of x (n, in); theta: 2^in doubles. */
static void features(const float *x, int64_t n, int64_t in, float *phi, double *theta) {
    int64_t kn = (int64_t)1 << in;
    for (int64_t i = 0; i < n; i++) {
        const float *xr = x + i * in;
        float *row = phi + i * 2 * kn;
        theta[0] = 0.0;
        for (int64_t k = 1; k < kn; k++) {
            int64_t top = 63 - __builtin_clzll((unsigned long long)k);
            theta[k] = theta[k ^ ((int64_t)1 << top)] + NN_TWO_PI * xr[top];
        }
        for (int64_t k = 0; k < kn; k++) {
            row[k] = (float)cos(theta[k]);
            row[kn + k] = (float)sin(theta[k]);
        }
    }
}

/* dx (n, in) = dphi · ∂phi/∂x, overwritten: ∂cos θ_k/∂x_j = -2π k_j sin θ_k,
 * ∂sin θ_k/∂x_j = 2π k_j cos θ_k; k runs over the k with bit j set. */
static void features_dx(const float *phi, const float *dphi, int64_t n, int64_t in, float *dx) {
    int64_t kn = (int64_t)1 << in;
    for (int64_t i = 0; i < n; i++) {
        const float *pr = phi + i * 2 * kn, *dr = dphi + i * 2 * kn;
        for (int64_t j = 0; j < in; j++) {
            double s = 0.0;
            for (int64_t k = (int64_t)1 << j; k < kn; k = (k + 1) | ((int64_t)1 << j))
                s += -(double)dr[k] * pr[kn + k] + (double)dr[kn + k] * pr[k];
            dx[i * in + j] = (float)(NN_TWO_PI * s);
        }
    }
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
    features(xd, n, p->in, phi, p->theta);
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
    features_dx(phi, dphi, n, p->in, dx);
    if (p->residual)
        for (int64_t i = 0; i < n * p->in; i++)
            dx[i] += dy[i];
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

/* ---- the functional form (coefficients that are not parameters) */

static nota_status check_f32_2d(const char *fn, const char *what, const nota_tensor *t) {
    if (!t) return nota_error(NOTA_EINVAL, "%s: %s is NULL", fn, what);
    if (t->dtype != NOTA_F32 || t->device.kind != NOTA_DEVICE_CPU || t->ndim != 2) {
        char s[96];
        return nota_error(NOTA_ESHAPE, "%s: %s must be a 2-d f32 CPU tensor, given %s", fn, what,
                          nn_shape(t, s, sizeof s));
    }
    return NOTA_OK;
}

/* phi must be (x rows, 2·2^in) for in = x's (or dx's) columns. */
static nota_status check_phi(const char *fn, const char *what, const nota_tensor *x,
                             const nota_tensor *phi) {
    nota_status st = check_f32_2d(fn, what, phi);
    if (st) return st;
    int64_t in = x->shape[1];
    if (phi->shape[0] != x->shape[0] || phi->shape[1] != ((int64_t)2 << in)) {
        char a[96], b[96];
        return nota_error(NOTA_ESHAPE, "%s: given %s %s, expects (%lld, %lld) for x %s", fn, what,
                          nn_shape(phi, a, sizeof a), (long long)x->shape[0],
                          (long long)((int64_t)2 << in), nn_shape(x, b, sizeof b));
    }
    return NOTA_OK;
}

static nota_status check_in(const char *fn, const nota_tensor *x) {
    nota_status st = check_f32_2d(fn, "x", x);
    if (!st && (x->shape[1] < 1 || x->shape[1] > NN_FOURIER_MAX_IN)) {
        char s[96];
        st = nota_error(NOTA_EINVAL, "%s: x %s has %lld columns, at most %d are supported", fn,
                        nn_shape(x, s, sizeof s), (long long)x->shape[1], NN_FOURIER_MAX_IN);
    }
    return st;
}

nota_status nota_nn_fourier_features(const nota_tensor *x, nota_tensor *phi) {
    const char *fn = "nota_nn_fourier_features";
    nota_status st = check_in(fn, x);
    if (!st) st = check_phi(fn, "phi", x, phi);
    if (st) return st;
    double *theta = malloc(((size_t)1 << x->shape[1]) * sizeof *theta);
    if (!theta) return nota_error(NOTA_ENOMEM, "%s: cannot allocate angles", fn);
    features(nn_f(x), x->shape[0], x->shape[1], nn_f(phi), theta);
    free(theta);
    return NOTA_OK;
}

nota_status nota_nn_fourier_features_backward(const nota_tensor *phi, const nota_tensor *dphi,
                                              nota_tensor *dx) {
    const char *fn = "nota_nn_fourier_features_backward";
    nota_status st = check_in(fn, dx);
    if (!st) st = check_phi(fn, "phi", dx, phi);
    if (!st) st = check_phi(fn, "dphi", dx, dphi);
    if (st) return st;
    features_dx(nn_f(phi), nn_f(dphi), dx->shape[0], dx->shape[1], nn_f(dx));
    return NOTA_OK;
}
