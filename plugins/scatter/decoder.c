/* The convolutional decoder from whitened scattering codes to images, on the
 * SDK's nn kit, and its training.
 *
 * The default follows the papers for 28×28 images (J = 2): Linear to
 * 128×7×7, then 7 → 14 → 28 by bilinear ×2 upsampling, each followed by a
 * 3×3 convolution, BatchNorm and ReLU, channels 128 → 64 → 32 (geometric,
 * ending at 32), and a 3×3 convolution to the image channels with tanh.
 * Images are learned in [−1, 1] (x / 128 − 1) with the L1 loss and Adam;
 * the epoch with the best validation L1 is kept (early stopping).
 * Reported L1 and PSNR are for images scaled to [0, 1] (x / 256), so PSNR =
 * 10·log10(1 / MSE).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

#define STREAM_INIT 0x5ca7100ull
#define STREAM_EPOCH 0x5ca7200ull

nota_status scat_arch_channels(scat_arch *a, const char *text) {
    if (strcmp(text, "auto") == 0) {
        for (int s = 0; s <= a->J; s++)
            a->ch[s] = (int64_t)32 << (a->J - s);
        return NOTA_OK;
    }
    const char *p = text;
    int n = 0;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || n > a->J || (*end && *end != ',')) break;
        a->ch[n++] = v;
        p = *end ? end + 1 : end;
        if (!*end) {
            if (n == a->J + 1) return NOTA_OK;
            break;
        }
    }
    return nota_error(NOTA_EINVAL,
                      "scatter: channels '%s' must be 'auto' or %d comma-separated sizes in "
                      "1..4096 (one per resolution, %d upsamplings)",
                      text, a->J + 1, a->J);
}

static int conv_index(int stage, int J) { return stage <= J ? 5 + 4 * (stage - 1) : 4 + 4 * J; }

nota_status scat_dec_build(const scat_arch *a, uint64_t seed, nota_nn_net **out) {
    *out = NULL;
    int64_t h = a->H >> a->J, w = a->W >> a->J;
    nota_nn_net *net;
    nota_status st = nota_nn_net_new(&net);
    if (st) return st;
    nota_nn_layer *l = NULL;
    int64_t item[3] = {a->ch[0], h, w};
    float eps = a->am128 ? 1e-3f : 1e-5f, mom = a->am128 ? 0.9f : 0.1f;
    int64_t kk = a->am128 ? 7 : 3;
    if (!(st = nota_nn_linear_new(a->k, a->ch[0] * h * w, !a->am128, &l)))
        st = nota_nn_net_add(net, l);
    if (!st && !(st = nota_nn_reshape_new(3, item, &l))) st = nota_nn_net_add(net, l);
    if (!st && !(st = nota_nn_batchnorm_new(a->ch[0], true, mom, eps, &l)))
        st = nota_nn_net_add(net, l);
    if (!st && !(st = nota_nn_act_new(NOTA_NN_RELU, 0, &l))) st = nota_nn_net_add(net, l);
    for (int s = 1; s <= a->J + 1 && !st; s++) {
        bool last = s == a->J + 1;
        if (!last && !(st = nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_BILINEAR, &l)))
            st = nota_nn_net_add(net, l);
        nota_nn_conv2d_opts co = {.in_channels = a->ch[s - 1],
                                  .out_channels = last ? a->C : a->ch[s],
                                  .kernel_h = kk,
                                  .kernel_w = kk,
                                  .stride = 1,
                                  .padding = kk / 2,
                                  .padding_mode = a->am128 ? NOTA_NN_PAD_REFLECT : NOTA_NN_PAD_ZERO,
                                  .bias = !a->am128};
        if (!st && !(st = nota_nn_conv2d_new(&co, &l))) st = nota_nn_net_add(net, l);
        if (!st && (!last || a->am128) &&
            !(st = nota_nn_batchnorm_new(co.out_channels, true, mom, eps, &l)))
            st = nota_nn_net_add(net, l);
        if (!st && !(st = nota_nn_act_new(last ? NOTA_NN_TANH : NOTA_NN_RELU, 0, &l)))
            st = nota_nn_net_add(net, l);
    }
    if (!st) st = nota_nn_net_init(net, seed, STREAM_INIT);
    if (st) {
        nota_nn_net_free(net);
        return st;
    }
    *out = net;
    return NOTA_OK;
}

static nota_status expect_tensor(const nota_modelfile *mf, const char *name, int nd,
                                 const int64_t *shape) {
    const nota_tensor *t;
    nota_status st = nota_modelfile_get_tensor(mf, name, &t);
    if (st) return st;
    bool ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->shape[i] == shape[i];
    if (ok) return NOTA_OK;
    char a[96], b[96];
    return nota_error(NOTA_EFORMAT, "scatter model: tensor '%s' has shape %s, the config needs %s",
                      name, nota_shape_str(t->ndim, t->shape, a, sizeof a),
                      nota_shape_str(nd, shape, b, sizeof b));
}

nota_status scat_dec_check_file(const scat_arch *a, const nota_modelfile *mf) {
    int64_t lin[2] = {a->ch[0] * (a->H >> a->J) * (a->W >> a->J), a->k};
    nota_status st = expect_tensor(mf, "dec.0.weight", 2, lin);
    for (int s = 1; s <= a->J + 1 && !st; s++) {
        char name[48];
        snprintf(name, sizeof name, "dec.%d.weight", conv_index(s, a->J));
        int64_t kk = a->am128 ? 7 : 3,
                w[4] = {s == a->J + 1 ? a->C : a->ch[s], a->ch[s - 1], kk, kk};
        st = expect_tensor(mf, name, 4, w);
    }
    return st;
}

/* Rows of codes and of targets in [−1, 1] for one batch. */
static void gather(const scat_arch *a, const scat_rows *r, const int64_t *order, int64_t m,
                   float *bz, float *bt) {
    int64_t item = a->C * a->H * a->W;
    for (int64_t i = 0; i < m; i++) {
        int64_t row = r->idx ? r->idx[order ? order[i] : i] : (order ? order[i] : i);
        memcpy(bz + i * a->k, r->z + row * a->k, (size_t)a->k * sizeof *bz);
        const float *x = r->x + row * item;
        if (bt)
            for (int64_t j = 0; j < item; j++)
                bt[i * item + j] = x[j] / 128.0f - 1.0f;
    }
}

/* Σ |y − t| and Σ (y − t)² over a batch, in [−1, 1] units. */
static void errors(const nota_tensor *y, const float *t, double *l1, double *sq) {
    const float *v = nota_tensor_f32(y);
    size_t n = nota_tensor_numel(y);
    for (size_t i = 0; i < n; i++) {
        double d = (double)v[i] - t[i];
        *l1 += fabs(d), *sq += d * d;
    }
}

/* Work tensors for batches of up to `rows`: codes, targets, loss gradient. */
typedef struct batch {
    nota_tensor *z, *t, *g;
} batch;

static void batch_free(batch *b) {
    nota_tensor_free(b->z), nota_tensor_free(b->t), nota_tensor_free(b->g);
}

static nota_status batch_new(const scat_arch *a, int64_t rows, batch *b) {
    memset(b, 0, sizeof *b);
    int64_t zs[2] = {rows, a->k}, xs[4] = {rows, a->C, a->H, a->W};
    nota_status st = nota_tensor_new(NOTA_F32, 2, zs, &b->z);
    if (!st) st = nota_tensor_new(NOTA_F32, 4, xs, &b->t);
    if (!st) st = nota_tensor_new(NOTA_F32, 4, xs, &b->g);
    if (st) batch_free(b);
    return st;
}

/* Views of the first m rows (freed by the caller). */
static nota_status batch_views(const batch *b, int64_t m, batch *v) {
    memset(v, 0, sizeof *v);
    nota_status st = nota_tensor_rows(b->z, 0, m, &v->z);
    if (!st) st = nota_tensor_rows(b->t, 0, m, &v->t);
    if (!st) st = nota_tensor_rows(b->g, 0, m, &v->g);
    if (st) batch_free(v);
    return st;
}

nota_status scat_dec_metrics(nota_nn_net *net, const scat_arch *a, const scat_rows *r, double *l1,
                             double *psnr) {
    enum { ROWS = 256 };
    batch b, v;
    nota_status st = batch_new(a, ROWS, &b);
    if (st) return st;
    nota_nn_net_set_training(net, false);
    double s1 = 0, s2 = 0;
    for (int64_t b0 = 0; b0 < r->n && !st; b0 += ROWS) {
        int64_t m = r->n - b0 < ROWS ? r->n - b0 : ROWS;
        int64_t *order = malloc((size_t)m * sizeof *order);
        if (!order) {
            st = nota_error(NOTA_ENOMEM, "scatter: out of memory");
            break;
        }
        for (int64_t i = 0; i < m; i++)
            order[i] = b0 + i;
        gather(a, r, order, m, nota_tensor_f32(b.z), nota_tensor_f32(b.t));
        free(order);
        const nota_tensor *y;
        if (!(st = batch_views(&b, m, &v))) {
            st = nota_nn_net_forward(net, v.z, &y);
            if (!st) errors(y, nota_tensor_f32(v.t), &s1, &s2);
            batch_free(&v);
        }
    }
    nota_nn_net_set_training(net, true);
    batch_free(&b);
    double cnt = (double)r->n * (double)(a->C * a->H * a->W);
    *l1 = s1 / cnt / 2.0;
    *psnr = -10.0 * log10(s2 / cnt / 4.0);
    return st;
}

nota_status scat_dec_decode(nota_nn_net *net, const scat_arch *a, const float *z, int64_t n,
                            nota_tensor **out) {
    *out = NULL;
    int64_t zs[2] = {n, a->k}, xs[4] = {n, a->C, a->H, a->W};
    nota_tensor *zt;
    nota_status st = nota_tensor_wrap(NOTA_F32, 2, zs, (void *)z, &zt);
    if (!st) st = nota_tensor_new(NOTA_F32, 4, xs, out);
    if (st) {
        nota_tensor_free(zt);
        return st;
    }
    nota_nn_net_set_training(net, false);
    int64_t item = a->C * a->H * a->W;
    for (int64_t b0 = 0; b0 < n && !st; b0 += 256) {
        int64_t m = n - b0 < 256 ? n - b0 : 256;
        nota_tensor *v;
        const nota_tensor *y;
        if ((st = nota_tensor_rows(zt, b0, m, &v))) break;
        st = nota_nn_net_forward(net, v, &y);
        nota_tensor_free(v);
        if (st) break;
        const float *src = nota_tensor_f32(y);
        float *dst = nota_tensor_f32(*out) + b0 * item;
        for (int64_t i = 0; i < m * item; i++)
            dst[i] = (src[i] + 1.0f) * 128.0f;
    }
    nota_nn_net_set_training(net, true);
    nota_tensor_free(zt);
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* Copies of every parameter and buffer, to restore the best epoch. */
static size_t snapshot(nota_nn_net *net, float *buf, bool take) {
    size_t off = 0, np = nota_nn_net_param_count(net);
    for (size_t i = 0; i < np; i++) {
        nota_nn_param p;
        if (nota_nn_net_param(net, i, &p, NULL, 0)) continue;
        size_t n = nota_tensor_numel(p.value);
        if (buf && take) memcpy(buf + off, nota_tensor_f32(p.value), n * sizeof *buf);
        if (buf && !take) memcpy(nota_tensor_f32(p.value), buf + off, n * sizeof *buf);
        off += n;
    }
    return off;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void permute(uint64_t seed, uint64_t stream, int64_t n, int64_t *idx) {
    nota_rng r = nota_rng_make(seed, stream);
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nota_rng_below(&r, (uint64_t)i + 1), t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
}

nota_status scat_dec_train(nota_nn_net *net, const scat_arch *a, const scat_rows *tr,
                           const scat_rows *va, const scat_train_opts *o, uint64_t seed,
                           const nota_host *host) {
    int64_t rows = tr->n < o->batch ? tr->n : o->batch, item = a->C * a->H * a->W;
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    ao.schedule.lr = (float)o->lr;
    nota_nn_optim *opt = NULL;
    batch b = {0}, v;
    int64_t *order = malloc((size_t)tr->n * sizeof *order);
    float *best_w = malloc(snapshot(net, NULL, true) * sizeof *best_w);
    nota_status st = order && best_w ? NOTA_OK : nota_error(NOTA_ENOMEM, "scatter: out of memory");
    if (!st) st = nota_nn_adam_new(&ao, &opt);
    if (!st) st = nota_nn_optim_add_net(opt, net);
    if (!st) st = batch_new(a, rows, &b);
    double best = INFINITY;
    int64_t best_epoch = -1, stale = 0;
    nota_nn_net_set_training(net, true);
    for (int64_t e = 0; e < o->epochs && !st; e++) {
        permute(seed, STREAM_EPOCH + (uint64_t)e, tr->n, order);
        double s1 = 0, s2 = 0, t0 = now();
        for (int64_t b0 = 0; b0 < tr->n && !st; b0 += rows) {
            if (nota_cancelled(host)) {
                st = nota_error(NOTA_ECANCELED, "scatter fit: cancelled at epoch %lld",
                                (long long)e + 1);
                break;
            }
            int64_t m = tr->n - b0 < rows ? tr->n - b0 : rows;
            gather(a, tr, order + b0, m, nota_tensor_f32(b.z), nota_tensor_f32(b.t));
            if ((st = batch_views(&b, m, &v))) break;
            const nota_tensor *y;
            double loss = 0;
            nota_nn_optim_zero_grad(opt);
            st = nota_nn_net_forward(net, v.z, &y);
            if (!st) st = nota_nn_loss_l1(y, v.t, NOTA_NN_MEAN, &loss, v.g);
            if (!st) errors(y, nota_tensor_f32(v.t), &s1, &s2);
            if (!st) st = nota_nn_net_backward(net, v.g, NULL);
            batch_free(&v);
            if (!st && !isfinite(loss))
                st = nota_error(NOTA_ENUMERIC,
                                "scatter fit: loss is not finite at epoch %lld; "
                                "no model kept (try a smaller lr than %g)",
                                (long long)e + 1, o->lr);
            if (!st) st = nota_nn_optim_step(opt);
        }
        if (st) break;
        double cnt = (double)tr->n * (double)item;
        double tl1 = s1 / cnt / 2.0, tps = -10.0 * log10(s2 / cnt / 4.0), vl1 = NAN, vps = NAN;
        char detail[160];
        double secs = now() - t0; /* the training steps alone, for benchmarks */
        if (va->n > 0 && (st = scat_dec_metrics(net, a, va, &vl1, &vps))) break;
        if (va->n > 0)
            snprintf(detail, sizeof detail,
                     "train L1 %.4f PSNR %.2f dB, valid L1 %.4f PSNR %.2f dB", tl1, tps, vl1, vps);
        else
            snprintf(detail, sizeof detail, "train L1 %.4f PSNR %.2f dB", tl1, tps);
        nota_progress(host, "scatter epoch", (double)(e + 1), (double)o->epochs, detail);
        nota_log(host, NOTA_LOG_INFO, "scatter: epoch %lld/%lld %s (%.3f s)", (long long)e + 1,
                 (long long)o->epochs, detail, secs);
        if (va->n == 0) continue;
        if (!isfinite(vl1)) {
            st = nota_error(NOTA_ENUMERIC,
                            "scatter fit: validation L1 is not finite at epoch "
                            "%lld; no model kept",
                            (long long)e + 1);
        } else if (vl1 < best) {
            best = vl1, best_epoch = e, stale = 0;
            snapshot(net, best_w, true);
        } else if (++stale >= o->patience) {
            nota_log(host, NOTA_LOG_INFO,
                     "scatter: early stop after epoch %lld, best epoch %lld "
                     "(valid L1 %.4f)",
                     (long long)e + 1, (long long)best_epoch + 1, best);
            break;
        }
    }
    if (!st && best_epoch >= 0) snapshot(net, best_w, false);
    free(order), free(best_w);
    nota_nn_optim_free(opt);
    batch_free(&b);
    return st;
}
