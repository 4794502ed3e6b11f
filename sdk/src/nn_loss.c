/* Losses of the nn kit (MSE, L1, BCE-with-logits, Gaussian KL) and the VAE
 * reparameterisation, each a loop over nn_kernels.h bodies.
 *
 * Loss values are summed in double: a 128×784 batch of BCE terms summed in
 * f32 drifts in the 4th digit, which would make nota's and PyTorch's reported
 * losses disagree for no good reason. Gradients are f32, already divided by
 * the reduction's denominator.
 */
#include <math.h>
#include <stdio.h>

#include "nn_internal.h"
#include "nn_kernels.h"
#include "nn_vmath.h"
#include "parallel.h"

static nota_status check_tensor(const char *loss, const char *what, const nota_tensor *t) {
    if (!t) return nota_error(NOTA_EINVAL, "%s: %s is NULL", loss, what);
    if (t->dtype != NOTA_F32 || t->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "%s: %s must be an f32 CPU tensor", loss, what);
    return NOTA_OK;
}

static nota_status check_same(const char *loss, const char *an, const nota_tensor *a,
                              const char *bn, const nota_tensor *b) {
    if (nota_tensor_same_shape(a, b)) return NOTA_OK;
    char sa[96], sb[96];
    return nota_error(NOTA_ESHAPE, "%s: %s %s and %s %s differ in shape", loss, an,
                      nn_shape(a, sa, sizeof sa), bn, nn_shape(b, sb, sizeof sb));
}

static nota_status scale_of(const char *loss, const nota_tensor *t, nota_nn_reduction red,
                            size_t count, double *scale) {
    switch (red) {
    case NOTA_NN_SUM:
        *scale = 1.0;
        return NOTA_OK;
    case NOTA_NN_MEAN:
        *scale = 1.0 / (double)count;
        return NOTA_OK;
    case NOTA_NN_BATCH_MEAN:
        *scale = 1.0 / (double)t->shape[0];
        return NOTA_OK;
    }
    return nota_error(NOTA_EINVAL, "%s: unknown reduction %d", loss, (int)red);
}

typedef enum { L_MSE, L_L1, L_BCE } pair_kind;

/* The element loop runs in blocks on nota_par_for's threads. Each block's
 * sum goes to its own slot and the slots are added in order afterwards, and
 * the blocks depend only on n, so the loss has the same bits for any thread
 * count. */
#define LOSS_MAX_BLOCKS 256
#define LOSS_MIN_BLOCK 4096
#define LOSS_GRAIN_ITEMS 16384 /* per thread: a BCE term costs an exp and a log */

typedef struct pair_ctx {
    pair_kind kind;
    const float *p, *t;
    float *g, gs;
    size_t n, block;
    double sums[LOSS_MAX_BLOCKS];
} pair_ctx;

static void pair_body(void *vctx, size_t b0, size_t b1) {
    pair_ctx *c = vctx;
    const float *p = c->p, *t = c->t;
    float *g = c->g, gs = c->gs;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t i0 = blk * c->block, i1 = i0 + c->block < c->n ? i0 + c->block : c->n;
        double sum = 0.0;
        switch (c->kind) {
        case L_MSE:
            for (size_t i = i0; i < i1; i++)
                sum += nn_mse(p[i], t[i]);
            if (g)
                for (size_t i = i0; i < i1; i++)
                    g[i] = gs * nn_mse_grad(p[i], t[i]);
            break;
        case L_L1:
            for (size_t i = i0; i < i1; i++)
                sum += nn_l1(p[i], t[i]);
            if (g)
                for (size_t i = i0; i < i1; i++)
                    g[i] = gs * nn_l1_grad(p[i], t[i]);
            break;
        case L_BCE:
            /* the AVX2 path takes what it can (a multiple of 8), the
             * scalar loop the rest: block bounds fix which is which */
            i0 += nn_bce_logits_vec(p + i0, t + i0, g ? g + i0 : NULL, gs, i1 - i0, &sum);
            if (!g)
                for (size_t i = i0; i < i1; i++)
                    sum += nn_bce_logits(p[i], t[i]);
            else
                for (size_t i = i0; i < i1; i++) {
                    float d;
                    sum += nn_bce_logits_both(p[i], t[i], &d);
                    g[i] = gs * d;
                }
            break;
        }
        c->sums[blk] = sum;
    }
}

static nota_status pair_loss(const char *name, pair_kind kind, const nota_tensor *pred,
                             const nota_tensor *target, nota_nn_reduction red, double *loss,
                             nota_tensor *grad) {
    nota_status st = check_tensor(name, "pred", pred);
    if (!st) st = check_tensor(name, "target", target);
    if (!st && grad) st = check_tensor(name, "grad", grad);
    if (!st) st = check_same(name, "pred", pred, "target", target);
    if (!st && grad) st = check_same(name, "pred", pred, "grad", grad);
    if (!st && !loss) st = nota_error(NOTA_EINVAL, "%s: loss is NULL", name);
    if (st) return st;
    size_t n = nota_tensor_numel(pred);
    double scale = 1.0;
    st = scale_of(name, pred, red, n, &scale);
    if (st) return st;
    pair_ctx c = {.kind = kind, .p = nn_f(pred), .t = nn_f(target), .n = n};
    c.g = grad ? nn_f(grad) : NULL;
    c.gs = (float)scale;
    size_t blocks = (n + LOSS_MIN_BLOCK - 1) / LOSS_MIN_BLOCK;
    if (blocks > LOSS_MAX_BLOCKS) blocks = LOSS_MAX_BLOCKS;
    if (blocks < 1) blocks = 1;
    c.block = (n + blocks - 1) / blocks;
    if (c.block < 1) c.block = 1;
    blocks = (n + c.block - 1) / c.block; /* rounding up the block may leave fewer */
    size_t grain = (LOSS_GRAIN_ITEMS + c.block - 1) / c.block;
    nota_par_for(blocks, grain, pair_body, &c);
    double sum = 0.0;
    for (size_t b = 0; b < blocks; b++)
        sum += c.sums[b];
    *loss = sum * scale;
    return NOTA_OK;
}

nota_status nota_nn_loss_mse(const nota_tensor *pred, const nota_tensor *target,
                             nota_nn_reduction red, double *loss, nota_tensor *grad) {
    return pair_loss("mse", L_MSE, pred, target, red, loss, grad);
}

nota_status nota_nn_loss_l1(const nota_tensor *pred, const nota_tensor *target,
                            nota_nn_reduction red, double *loss, nota_tensor *grad) {
    return pair_loss("l1", L_L1, pred, target, red, loss, grad);
}

nota_status nota_nn_loss_bce_logits(const nota_tensor *logits, const nota_tensor *target,
                                    nota_nn_reduction red, double *loss, nota_tensor *grad) {
    return pair_loss("bce_logits", L_BCE, logits, target, red, loss, grad);
}

/* stats must be (N, 2H); *h receives H. */
static nota_status check_stats(const char *name, const nota_tensor *stats, int64_t *h) {
    nota_status st = check_tensor(name, "stats", stats);
    if (st) return st;
    if (stats->ndim != 2 || stats->shape[1] % 2 != 0) {
        char s[96];
        return nota_error(NOTA_ESHAPE, "%s: given stats %s, expects (N, 2H) = [mu | logvar]", name,
                          nn_shape(stats, s, sizeof s));
    }
    *h = stats->shape[1] / 2;
    return NOTA_OK;
}

nota_status nota_nn_loss_gaussian_kl(const nota_tensor *stats, nota_nn_reduction red, double *loss,
                                     nota_tensor *grad) {
    int64_t h = 0;
    nota_status st = check_stats("gaussian_kl", stats, &h);
    if (!st && grad) st = check_tensor("gaussian_kl", "grad", grad);
    if (!st && grad) st = check_same("gaussian_kl", "stats", stats, "grad", grad);
    if (!st && !loss) st = nota_error(NOTA_EINVAL, "gaussian_kl: loss is NULL");
    if (st) return st;
    int64_t n = stats->shape[0];
    double scale = 1.0;
    /* "mean" counts the n·H latent terms, not the 2H columns of stats */
    st = scale_of("gaussian_kl", stats, red, (size_t)(n * h), &scale);
    if (st) return st;
    const float *s = nn_f(stats);
    float *g = grad ? nn_f(grad) : NULL;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *mu = s + i * 2 * h, *lv = mu + h;
        for (int64_t j = 0; j < h; j++)
            sum += nn_kl(mu[j], lv[j]);
        if (g)
            for (int64_t j = 0; j < h; j++) {
                g[i * 2 * h + j] = (float)scale * nn_kl_grad_mu(mu[j]);
                g[i * 2 * h + h + j] = (float)scale * nn_kl_grad_lv(lv[j]);
            }
    }
    *loss = sum * scale;
    return NOTA_OK;
}

static nota_status check_latent(const char *name, const char *what, const nota_tensor *stats,
                                int64_t h, const nota_tensor *t) {
    nota_status st = check_tensor(name, what, t);
    if (st) return st;
    if (t->ndim != 2 || t->shape[0] != stats->shape[0] || t->shape[1] != h) {
        char a[96], b[96];
        return nota_error(NOTA_ESHAPE, "%s: given %s %s, expects (%lld, %lld) for stats %s", name,
                          what, nn_shape(t, a, sizeof a), (long long)stats->shape[0], (long long)h,
                          nn_shape(stats, b, sizeof b));
    }
    return NOTA_OK;
}

nota_status nota_nn_reparam(const nota_tensor *stats, const nota_tensor *eps, nota_tensor *z) {
    int64_t h = 0;
    nota_status st = check_stats("reparam", stats, &h);
    if (!st) st = check_latent("reparam", "eps", stats, h, eps);
    if (!st) st = check_latent("reparam", "z", stats, h, z);
    if (st) return st;
    int64_t n = stats->shape[0];
    const float *s = nn_f(stats), *e = nn_f(eps);
    float *zd = nn_f(z);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < h; j++)
            zd[i * h + j] = s[i * 2 * h + j] + expf(0.5f * s[i * 2 * h + h + j]) * e[i * h + j];
    return NOTA_OK;
}

nota_status nota_nn_reparam_backward(const nota_tensor *stats, const nota_tensor *eps,
                                     const nota_tensor *dz, nota_tensor *dstats) {
    int64_t h = 0;
    nota_status st = check_stats("reparam_backward", stats, &h);
    if (!st) st = check_latent("reparam_backward", "eps", stats, h, eps);
    if (!st) st = check_latent("reparam_backward", "dz", stats, h, dz);
    if (!st) st = check_tensor("reparam_backward", "dstats", dstats);
    if (!st) st = check_same("reparam_backward", "stats", stats, "dstats", dstats);
    if (st) return st;
    int64_t n = stats->shape[0];
    const float *s = nn_f(stats), *e = nn_f(eps), *d = nn_f(dz);
    float *g = nn_f(dstats);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < h; j++) {
            float sd = expf(0.5f * s[i * 2 * h + h + j]);
            g[i * 2 * h + j] += d[i * h + j];
            g[i * 2 * h + h + j] += 0.5f * d[i * h + j] * e[i * h + j] * sd;
        }
    return NOTA_OK;
}
