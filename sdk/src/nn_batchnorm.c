/* BatchNorm, 1-d (N, C) and 2-d (N, C, H, W), with train and eval modes.
 *
 * Statistics per channel over M = N·H·W values, accumulated in double (f32
 * sums over a 128×28×28 batch lose digits). Training normalises with the
 * biased batch variance and moves the running statistics by `momentum`
 * (running variance from the unbiased estimate, as PyTorch); evaluation
 * uses the running statistics, which makes the layer a per-channel affine
 * map. The backward of training mode is the usual closed form
 *   dx = γ/σ · (dy - mean(dy) - x̂ · mean(dy·x̂)),
 * which includes the batch statistics' dependence on x.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn_internal.h"
#include "nn_kernels.h"

typedef struct bn_priv {
    int64_t c;
    bool spatial;
    float momentum, eps;
    float *mean, *invstd; /* per channel, from the last forward */
} bn_priv;

static void bn_free_priv(void *pv) {
    bn_priv *p = pv;
    if (!p) return;
    free(p->mean);
    free(p->invstd);
    free(p);
}

/* Element (n, c, q) of a (N, C, S) view lives at (n·C + c)·S + q. */
static nota_status bn_forward(nota_nn_layer *l, const nota_tensor *x) {
    bn_priv *p = l->priv;
    char e[64];
    if (p->spatial) {
        snprintf(e, sizeof e, "(N, %lld, H, W)", (long long)p->c);
        if (x->ndim != 4 || x->shape[1] != p->c) return nn_shape_error(l, x, e);
    } else {
        snprintf(e, sizeof e, "(N, %lld)", (long long)p->c);
        if (x->ndim != 2 || x->shape[1] != p->c) return nn_shape_error(l, x, e);
    }
    int64_t n = x->shape[0], c = p->c, s = p->spatial ? x->shape[2] * x->shape[3] : 1;
    int64_t m = n * s;
    if (l->training && m < 2)
        return nota_error(NOTA_EINVAL,
                          "batchnorm: training needs more than 1 value per channel, given x %s",
                          nn_shape(x, e, sizeof e));
    nota_status st = nn_ensure(&l->y, x->ndim, x->shape);
    if (st) return st;
    const float *xd = nn_f(x);
    float *y = nn_f(l->y);
    const float *gamma = nn_f(l->params[0].value), *beta = nn_f(l->params[1].value);
    float *rmean = nn_f(l->params[2].value), *rvar = nn_f(l->params[3].value);
    for (int64_t ch = 0; ch < c; ch++) {
        double mean, var;
        if (l->training) {
            double sum = 0.0, sq = 0.0;
            for (int64_t i = 0; i < n; i++) {
                const float *v = xd + (i * c + ch) * s;
                for (int64_t q = 0; q < s; q++)
                    sum += v[q];
            }
            mean = sum / (double)m;
            for (int64_t i = 0; i < n; i++) {
                const float *v = xd + (i * c + ch) * s;
                for (int64_t q = 0; q < s; q++)
                    sq += (v[q] - mean) * (v[q] - mean);
            }
            var = sq / (double)m;
            double mo = p->momentum;
            rmean[ch] = (float)((1.0 - mo) * rmean[ch] + mo * mean);
            rvar[ch] = (float)((1.0 - mo) * rvar[ch] + mo * sq / (double)(m - 1));
        } else {
            mean = rmean[ch];
            var = rvar[ch];
        }
        double inv = 1.0 / sqrt(var + p->eps);
        p->mean[ch] = (float)mean;
        p->invstd[ch] = (float)inv;
        float a = (float)(gamma[ch] * inv), mf = (float)mean, b = beta[ch];
        for (int64_t i = 0; i < n; i++) {
            const float *v = xd + (i * c + ch) * s;
            float *out = y + (i * c + ch) * s;
            for (int64_t q = 0; q < s; q++)
                out[q] = nn_bn_forward(v[q], mf, a, b);
        }
    }
    return NOTA_OK;
}

static nota_status bn_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    const bn_priv *p = l->priv;
    const nota_tensor *x = l->x;
    int64_t n = x->shape[0], c = p->c, s = p->spatial ? x->shape[2] * x->shape[3] : 1;
    double m = (double)(n * s);
    const float *xd = nn_f(x), *dy = nn_f(dyt);
    const float *gamma = nn_f(l->params[0].value);
    float *dgamma = nn_f(l->params[0].grad), *dbeta = nn_f(l->params[1].grad);
    float *dx = need_dx ? nn_f(l->dx) : NULL;
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = p->mean[ch], inv = p->invstd[ch], sdy = 0.0, sdyx = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *v = xd + (i * c + ch) * s, *d = dy + (i * c + ch) * s;
            for (int64_t q = 0; q < s; q++) {
                sdy += d[q];
                sdyx += d[q] * (v[q] - mean) * inv;
            }
        }
        dgamma[ch] += (float)sdyx;
        dbeta[ch] += (float)sdy;
        if (!dx) continue;
        double g = gamma[ch] * inv;
        double mdy = l->training ? sdy / m : 0.0, mdyx = l->training ? sdyx / m : 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *v = xd + (i * c + ch) * s, *d = dy + (i * c + ch) * s;
            float *out = dx + (i * c + ch) * s;
            for (int64_t q = 0; q < s; q++)
                out[q] = nn_bn_backward(d[q], v[q], mean, inv, g, mdy, mdyx);
        }
    }
    return NOTA_OK;
}

static nota_status bn_init(nota_nn_layer *l, uint64_t seed, uint64_t stream) {
    static const double value[4] = {1.0, 0.0, 0.0, 1.0}; /* gamma, beta, mean, var */
    for (int i = 0; i < 4; i++) {
        nota_status st = nota_nn_init_tensor(l->params[i].value, NOTA_NN_INIT_CONSTANT, value[i],
                                             0.0, 1, 1, seed, stream);
        if (st) return st;
    }
    return NOTA_OK;
}

static const nn_vtable bn_vt = {"batchnorm", bn_forward, bn_backward, bn_init, bn_free_priv};

nota_status nota_nn_batchnorm_new(int64_t features, bool spatial, float momentum, float eps,
                                  nota_nn_layer **layer) {
    if (!layer) return nota_error(NOTA_EINVAL, "nota_nn_batchnorm_new: layer is NULL");
    *layer = NULL;
    if (features < 1)
        return nota_error(NOTA_EINVAL, "batchnorm: features %lld must be >= 1",
                          (long long)features);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return nota_error(NOTA_EINVAL, "batchnorm: momentum %g outside [0, 1]", (double)momentum);
    if (!(eps > 0.0f && isfinite(eps)))
        return nota_error(NOTA_EINVAL, "batchnorm: eps %g must be > 0", (double)eps);
    nota_nn_layer *l;
    nota_status st = nn_layer_alloc(&bn_vt, sizeof(bn_priv), &l);
    if (st) return st;
    bn_priv *p = l->priv;
    p->c = features, p->spatial = spatial, p->momentum = momentum, p->eps = eps;
    p->mean = calloc((size_t)features, sizeof(float));
    p->invstd = calloc((size_t)features, sizeof(float));
    if (!p->mean || !p->invstd)
        st = nota_error(NOTA_ENOMEM, "batchnorm: cannot allocate %lld channels",
                        (long long)features);
    if (!st) st = nn_add_param(l, "weight", 1, &features, true, features, features);
    if (!st) st = nn_add_param(l, "bias", 1, &features, true, features, features);
    if (!st) st = nn_add_param(l, "running_mean", 1, &features, false, features, features);
    if (!st) st = nn_add_param(l, "running_var", 1, &features, false, features, features);
    if (!st) st = bn_init(l, 0, 0);
    if (st) {
        nota_nn_layer_free(l);
        return st;
    }
    *layer = l;
    return NOTA_OK;
}
