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
#include "parallel.h"

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
/* Channels are independent: the loops run on nota_par_for's threads, one
 * range of channels a part, each channel's sums in the same order as on
 * one thread (the same bits for any count). */
#define BN_GRAIN 65536 /* values per part */

typedef struct bn_ctx {
    const bn_priv *p;
    bool training;
    int64_t n, c, s;
    const float *x, *dy;
    float *out; /* y (forward) or dx (backward; NULL: not wanted) */
    const float *gamma;
    const float *beta;
    float *rmean, *rvar;
    float *dgamma, *dbeta;
} bn_ctx;

static void forward_channels(void *vctx, size_t c0, size_t c1) {
    const bn_ctx *cx = vctx;
    const bn_priv *p = cx->p;
    int64_t n = cx->n, c = cx->c, s = cx->s, m = n * s;
    for (int64_t ch = (int64_t)c0; ch < (int64_t)c1; ch++) {
        double mean, var;
        if (cx->training) {
            double sum = 0.0, sq = 0.0;
            for (int64_t i = 0; i < n; i++) {
                const float *v = cx->x + (i * c + ch) * s;
                for (int64_t q = 0; q < s; q++)
                    sum += v[q];
            }
            mean = sum / (double)m;
            for (int64_t i = 0; i < n; i++) {
                const float *v = cx->x + (i * c + ch) * s;
                for (int64_t q = 0; q < s; q++)
                    sq += (v[q] - mean) * (v[q] - mean);
            }
            var = sq / (double)m;
            double mo = p->momentum;
            cx->rmean[ch] = (float)((1.0 - mo) * cx->rmean[ch] + mo * mean);
            cx->rvar[ch] = (float)((1.0 - mo) * cx->rvar[ch] + mo * sq / (double)(m - 1));
        } else {
            mean = cx->rmean[ch];
            var = cx->rvar[ch];
        }
        double inv = 1.0 / sqrt(var + p->eps);
        p->mean[ch] = (float)mean;
        p->invstd[ch] = (float)inv;
        float a = (float)(cx->gamma[ch] * inv), mf = (float)mean, b = cx->beta[ch];
        for (int64_t i = 0; i < n; i++) {
            const float *v = cx->x + (i * c + ch) * s;
            float *out = cx->out + (i * c + ch) * s;
            for (int64_t q = 0; q < s; q++)
                out[q] = nn_bn_forward(v[q], mf, a, b);
        }
    }
}

static void backward_channels(void *vctx, size_t c0, size_t c1) {
    const bn_ctx *cx = vctx;
    const bn_priv *p = cx->p;
    int64_t n = cx->n, c = cx->c, s = cx->s;
    double m = (double)(n * s);
    for (int64_t ch = (int64_t)c0; ch < (int64_t)c1; ch++) {
        double mean = p->mean[ch], inv = p->invstd[ch], sdy = 0.0, sdyx = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *v = cx->x + (i * c + ch) * s, *d = cx->dy + (i * c + ch) * s;
            for (int64_t q = 0; q < s; q++) {
                sdy += d[q];
                sdyx += d[q] * (v[q] - mean) * inv;
            }
        }
        cx->dgamma[ch] += (float)sdyx;
        cx->dbeta[ch] += (float)sdy;
        if (!cx->out) continue;
        double g = cx->gamma[ch] * inv;
        double mdy = cx->training ? sdy / m : 0.0, mdyx = cx->training ? sdyx / m : 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *v = cx->x + (i * c + ch) * s, *d = cx->dy + (i * c + ch) * s;
            float *out = cx->out + (i * c + ch) * s;
            for (int64_t q = 0; q < s; q++)
                out[q] = nn_bn_backward(d[q], v[q], mean, inv, g, mdy, mdyx);
        }
    }
}

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
    bn_ctx cx = {p,
                 l->training,
                 n,
                 c,
                 s,
                 nn_f(x),
                 NULL,
                 nn_f(l->y),
                 nn_f(l->params[0].value),
                 nn_f(l->params[1].value),
                 nn_f(l->params[2].value),
                 nn_f(l->params[3].value),
                 NULL,
                 NULL};
    nota_par_for((size_t)c, (size_t)(BN_GRAIN / (n * s + 1)) + 1, forward_channels, &cx);
    return NOTA_OK;
}

static nota_status bn_backward(nota_nn_layer *l, const nota_tensor *dyt, bool need_dx) {
    const bn_priv *p = l->priv;
    const nota_tensor *x = l->x;
    int64_t n = x->shape[0], c = p->c, s = p->spatial ? x->shape[2] * x->shape[3] : 1;
    bn_ctx cx = {p,
                 l->training,
                 n,
                 c,
                 s,
                 nn_f(x),
                 nn_f(dyt),
                 need_dx ? nn_f(l->dx) : NULL,
                 nn_f(l->params[0].value),
                 NULL,
                 NULL,
                 NULL,
                 nn_f(l->params[0].grad),
                 nn_f(l->params[1].grad)};
    nota_par_for((size_t)c, (size_t)(BN_GRAIN / (n * s + 1)) + 1, backward_channels, &cx);
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
