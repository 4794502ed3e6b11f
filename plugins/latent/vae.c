/* The VAE of latent kind `vae`: options, networks and the fit.
 *
 * Encoder d → hidden… → 2H (mean | log-variance of q(z|x)), decoder H →
 * …hidden reversed → d, ReLU between fully connected layers (Angles &
 * Mallat's prior on whitened codes uses H = 64). The decoder likelihood is
 *  - gaussian: data standardised per column; N(x; dec(z), σ²) with one
 *    learned log σ² per column (a Linear(1, d) fed ones, so the kit's Adam
 *    and save handle it), floored at VAE_LOGVAR_MIN;
 *  - bernoulli: data mapped to [0, 1] (8-bit images: x / 256), BCE on logits.
 * Loss per item = −log p(x|z) + β KL(q(z|x) || N(0, I)), one z per item by
 * reparameterisation, Adam, shuffled mini-batches, β warmed up linearly from
 * 0 over the first `warmup` epochs. Early stopping keeps the
 * weights of the epoch with the best validation loss (a held-out fraction of
 * the data when no validation set is given). A non-finite loss or a cancel
 * stops the fit with an error and leaves the model unfitted.
 */
#include "vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_INIT 0x1000u
#define STREAM_SPLIT 0x2000u
#define STREAM_EPOCH 0x3000u   /* + epoch: shuffle */
#define STREAM_NOISE 0x100000u /* + epoch: reparameterisation noise */
#define STREAM_VALID 0x4000u
#define LOG2PI 1.8378770664093453

static nota_status get_int(const nota_config *c, const char *k, int64_t *v) {
    nota_status st = nota_config_get_int(c, k, v);
    return st ? nota_error_prefix(st, "vae config: ") : NOTA_OK;
}

static nota_status get_float(const nota_config *c, const char *k, double *v) {
    nota_status st = nota_config_get_float(c, k, v);
    return st ? nota_error_prefix(st, "vae config: ") : NOTA_OK;
}

nota_status vae_new(const nota_config *cfg, vae **out) {
    *out = NULL;
    vae *v = calloc(1, sizeof *v);
    if (!v) return nota_error(NOTA_ENOMEM, "vae: allocation failed");
    const char *hidden = NULL, *lik = NULL;
    nota_status st = get_int(cfg, "latent", &v->latent);
    if (!st) st = get_int(cfg, "batch", &v->batch);
    if (!st) st = get_int(cfg, "epochs", &v->epochs);
    if (!st) st = get_int(cfg, "patience", &v->patience);
    if (!st) st = get_int(cfg, "iw_samples", &v->iw_samples);
    if (!st) st = get_int(cfg, "warmup", &v->warmup);
    if (!st) st = get_float(cfg, "beta", &v->beta);
    if (!st) st = get_float(cfg, "lr", &v->lr);
    if (!st) st = get_float(cfg, "valid_frac", &v->valid_frac);
    if (!st && (st = nota_config_get_bool(cfg, "sample_noise", &v->sample_noise)))
        nota_error_prefix(st, "vae config: ");
    if (!st && (st = nota_config_get_string(cfg, "hidden", &hidden)))
        nota_error_prefix(st, "vae config: ");
    if (!st && (st = nota_config_get_string(cfg, "likelihood", &lik)))
        nota_error_prefix(st, "vae config: ");
    if (!st) st = lat_parse_hidden("vae", hidden, v->hidden, &v->n_hidden);
    if (!st && strcmp(lik, "gaussian") != 0 && strcmp(lik, "bernoulli") != 0)
        st = nota_error(NOTA_EINVAL, "vae config: likelihood '%s' (expected gaussian|bernoulli)",
                        lik);
    if (st) {
        free(v);
        return st;
    }
    v->bernoulli = strcmp(lik, "bernoulli") == 0;
    *out = v;
    return NOTA_OK;
}

void vae_release(vae *v) {
    nota_nn_net_free(v->enc);
    nota_nn_net_free(v->dec);
    nota_nn_net_free(v->logvar);
    v->enc = v->dec = v->logvar = NULL;
    lat_items_release(&v->items);
}

void vae_free(vae *v) {
    if (!v) return;
    vae_release(v);
    free(v);
}

/* Networks for v->items.d; the log-variance starts at 0 (σ = 1 sd). */
nota_status vae_build(vae *v, uint64_t seed) {
    int64_t d = v->items.d, h = v->latent;
    nota_status st = lat_mlp_new(d, v->hidden, v->n_hidden, false, 2 * h, NOTA_NN_RELU, 0, seed,
                                 STREAM_INIT, &v->enc);
    if (!st)
        st = lat_mlp_new(h, v->hidden, v->n_hidden, true, d, NOTA_NN_RELU, 0, seed,
                         STREAM_INIT + 64, &v->dec);
    if (!st && !v->bernoulli) {
        nota_nn_layer *l = NULL;
        nota_nn_param p;
        st = nota_nn_net_new(&v->logvar);
        if (!st) st = nota_nn_linear_new(1, d, false, &l);
        if (!st) st = nota_nn_net_add(v->logvar, l);
        if (!st) st = nota_nn_layer_param(l, 0, &p);
        if (!st) st = nota_nn_init_tensor(p.value, NOTA_NN_INIT_CONSTANT, 0, 0, 1, d, seed, 0);
    }
    if (st) {
        nota_nn_net_free(v->enc);
        nota_nn_net_free(v->dec);
        nota_nn_net_free(v->logvar);
        v->enc = v->dec = v->logvar = NULL;
    }
    return st;
}

/* Full-batch work tensors; a shorter batch uses row views of them. */
enum { W_X, W_EPS, W_Z, W_DSTATS, W_DOUT, W_ONES, W_DLV, W_N };
typedef struct work {
    int64_t rows;
    nota_tensor *t[W_N];
    double *iv, *lv; /* per column: 1/σ², clamped log σ² */
} work;

static void work_free(work *w) {
    for (int i = 0; i < W_N; i++)
        nota_tensor_free(w->t[i]);
    free(w->iv);
    free(w->lv);
    memset(w, 0, sizeof *w);
}

static nota_status work_new(const vae *v, int64_t rows, work *w) {
    memset(w, 0, sizeof *w);
    w->rows = rows;
    int64_t d = v->items.d, h = v->latent;
    int64_t cols[W_N] = {d, h, h, 2 * h, d, 1, d};
    nota_status st = NOTA_OK;
    for (int i = 0; i < W_N && !st; i++)
        st = nota_tensor_new_2d(rows, cols[i], &w->t[i]);
    w->iv = malloc((size_t)d * sizeof(double));
    w->lv = malloc((size_t)d * sizeof(double));
    if (!st && (!w->iv || !w->lv))
        st = nota_error(NOTA_ENOMEM, "vae: cannot allocate work buffers for %lld rows",
                        (long long)rows);
    if (st) {
        work_free(w);
        return st;
    }
    for (int64_t i = 0; i < rows; i++)
        nota_tensor_f32(w->t[W_ONES])[i] = 1.0f;
    return NOTA_OK;
}

/* −log p(x|z) summed over the batch for the Gaussian decoder; with grads
 * (divided by m, the batch mean) into dout and dlv when they are non-NULL. */
static double gauss_nll(const vae *v, work *w, const float *x, const float *mu, const float *lvraw,
                        int64_t m, float *dout, float *dlv) {
    int64_t d = v->items.d;
    for (int64_t j = 0; j < d; j++) {
        double l = lvraw[j] < VAE_LOGVAR_MIN ? VAE_LOGVAR_MIN : lvraw[j];
        w->lv[j] = l;
        w->iv[j] = exp(-l);
    }
    double s = 0, inv_m = 1.0 / (double)m;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++) {
            double r = (double)x[i * d + j] - mu[i * d + j], r2iv = r * r * w->iv[j];
            s += 0.5 * (r2iv + w->lv[j] + LOG2PI);
            if (dout) {
                dout[i * d + j] = (float)(-r * w->iv[j] * inv_m);
                dlv[i * d + j] =
                    lvraw[j] < VAE_LOGVAR_MIN ? 0.0f : (float)(0.5 * (1 - r2iv) * inv_m);
            }
        }
    return s;
}

/* One batch of m rows already in w->t[W_X] (network units). Sums of the
 * reconstruction and KL terms into rec, kl; with train, gradients of the
 * batch-mean loss rec/m + β kl/m are accumulated into the nets. */
static nota_status batch_step(vae *v, work *w, int64_t m, uint64_t seed, uint64_t stream,
                              uint64_t first, double beta, bool train, double *rec, double *kl) {
    nota_tensor *t[W_N];
    nota_status st = lat_views(w->t, t, W_N, m);
    if (st) return st;
    int64_t h = v->latent;
    const nota_tensor *stats, *out, *lv = NULL, *dz;
    nota_rng_fill_normal_range(seed, stream, (size_t)first * (size_t)h, nota_tensor_f32(t[W_EPS]),
                               (size_t)(m * h));
    st = nota_nn_net_forward(v->enc, t[W_X], &stats);
    if (!st) st = nota_nn_reparam(stats, t[W_EPS], t[W_Z]);
    if (!st) st = nota_nn_net_forward(v->dec, t[W_Z], &out);
    if (!st && v->logvar) st = nota_nn_net_forward(v->logvar, t[W_ONES], &lv);
    if (st) goto done;
    if (v->bernoulli) {
        /* batch mean: the gradient comes out already divided by m */
        st =
            nota_nn_loss_bce_logits(out, t[W_X], NOTA_NN_BATCH_MEAN, rec, train ? t[W_DOUT] : NULL);
        *rec *= (double)m;
    } else {
        *rec = gauss_nll(v, w, nota_tensor_f32(t[W_X]), nota_tensor_f32(out), nota_tensor_f32(lv),
                         m, train ? nota_tensor_f32(t[W_DOUT]) : NULL,
                         train ? nota_tensor_f32(t[W_DLV]) : NULL);
    }
    if (!st) st = nota_nn_loss_gaussian_kl(stats, NOTA_NN_SUM, kl, train ? t[W_DSTATS] : NULL);
    if (st || !train) goto done;
    float *g = nota_tensor_f32(t[W_DSTATS]), k = (float)(beta / (double)m);
    for (size_t i = 0; i < nota_tensor_numel(t[W_DSTATS]); i++)
        g[i] *= k;
    st = nota_nn_net_backward(v->dec, t[W_DOUT], &dz);
    if (!st) st = nota_nn_reparam_backward(stats, t[W_EPS], dz, t[W_DSTATS]);
    if (!st) st = nota_nn_net_backward(v->enc, t[W_DSTATS], NULL);
    if (!st && v->logvar) st = nota_nn_net_backward(v->logvar, t[W_DLV], NULL);
done:
    lat_views_free(t, W_N);
    return st;
}

nota_status vae_elbo_terms(vae *v, const float *x, const int64_t *idx, int64_t n, uint64_t seed,
                           uint64_t stream, const nota_host *host, double *rec, double *kl) {
    *rec = *kl = 0;
    if (n < 1) return NOTA_OK;
    work w;
    int64_t rows = n < v->batch ? n : v->batch;
    nota_status st = work_new(v, rows, &w);
    for (int64_t r0 = 0; r0 < n && !st; r0 += rows) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED, "vae: cancelled");
            break;
        }
        int64_t m = n - r0 < rows ? n - r0 : rows;
        double r, k;
        lat_items_gather(&v->items, x, idx ? idx + r0 : NULL, r0, m, v->bernoulli,
                         nota_tensor_f32(w.t[W_X]));
        st = batch_step(v, &w, m, seed, stream, (uint64_t)r0, v->beta, false, &r, &k);
        *rec += r;
        *kl += k;
    }
    if (w.rows > 0) work_free(&w);
    return st;
}

/* Which rows train and which validate. */
typedef struct split {
    int64_t *perm; /* all training-tensor rows, validation ones first */
    int64_t n_train, n_valid;
    const float *vx;     /* rows the validation loss reads */
    const int64_t *vidx; /* NULL: rows 0..n_valid−1 of vx */
} split;

static nota_status make_split(const vae *v, const nota_tensor *train, const nota_tensor *valid,
                              uint64_t seed, split *s) {
    int64_t n = train->shape[0];
    memset(s, 0, sizeof *s);
    s->perm = malloc((size_t)n * sizeof *s->perm);
    if (!s->perm)
        return nota_error(NOTA_ENOMEM, "vae fit: cannot allocate %lld indices", (long long)n);
    lat_permute(seed, STREAM_SPLIT, n, s->perm);
    if (valid) {
        s->n_train = n;
        s->n_valid = valid->shape[0];
        s->vx = nota_tensor_f32(valid);
    } else {
        s->n_valid = (int64_t)floor((double)n * v->valid_frac);
        s->n_train = n - s->n_valid;
        s->vx = nota_tensor_f32(train);
        s->vidx = s->perm;
    }
    if (s->n_train < 1) {
        free(s->perm);
        return nota_error(NOTA_EINVAL, "vae fit: valid_frac=%g leaves no training rows of %lld",
                          v->valid_frac, (long long)n);
    }
    return NOTA_OK;
}

static nota_status check_fit_data(const nota_tensor *train, const nota_tensor *valid) {
    if (!nota_tensor_f32(train) || train->ndim < 2)
        return nota_error(NOTA_EINVAL,
                          "vae fit: expected f32 data (N, ...), found %s with %d "
                          "dimension(s)",
                          nota_dtype_name(train->dtype), train->ndim);
    if (train->shape[0] < 2)
        return nota_error(NOTA_EINVAL, "vae fit: need at least 2 items, got %lld",
                          (long long)train->shape[0]);
    nota_status st = nota_tensor_check_finite(train, "vae fit: training data");
    if (st || !valid) return st;
    if (!nota_tensor_f32(valid) || valid->ndim < 2 ||
        nota_tensor_row_size(valid) != nota_tensor_row_size(train)) {
        char a[96], b[96];
        return nota_error(NOTA_ESHAPE,
                          "vae fit: validation data %s %s does not match training "
                          "data %s",
                          nota_dtype_name(valid->dtype),
                          nota_shape_str(valid->ndim, valid->shape, a, sizeof a),
                          nota_shape_str(train->ndim, train->shape, b, sizeof b));
    }
    return nota_tensor_check_finite(valid, "vae fit: validation data");
}

/* The epochs proper; v's nets exist. Writes nothing outside v's nets. */
static nota_status train_loop(vae *v, const nota_tensor *train, const split *s,
                              const nota_host *host, uint64_t seed) {
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    ao.schedule.lr = (float)v->lr;
    nota_nn_optim *opt = NULL;
    lat_snapshot snap = {0};
    work w = {0};
    int64_t *order = malloc((size_t)s->n_train * sizeof *order);
    nota_nn_net *nets[3] = {v->enc, v->dec, v->logvar};
    int64_t rows = s->n_train < v->batch ? s->n_train : v->batch;
    nota_status st = order ? NOTA_OK : nota_error(NOTA_ENOMEM, "vae fit: out of memory");
    if (!st) st = nota_nn_adam_new(&ao, &opt);
    for (int i = 0; i < 3 && !st; i++)
        if (nets[i]) st = nota_nn_optim_add_net(opt, nets[i]);
    if (!st) st = lat_snapshot_new(&snap, nets, v->logvar ? 3 : 2);
    if (!st) st = work_new(v, rows, &w);
    const float *x = nota_tensor_f32(train);
    const int64_t *tidx = s->perm + (s->vidx ? s->n_valid : 0);
    /* Losses are reported per item in nats; the Gaussian's in data units. */
    double jac = v->bernoulli ? 0 : lat_items_log_jacobian(&v->items);
    double best = INFINITY;
    int64_t best_epoch = -1, stale = 0;
    for (int64_t e = 0; e < v->epochs && !st; e++) {
        lat_permute(seed, STREAM_EPOCH + (uint64_t)e, s->n_train, order);
        double sum = 0;
        for (int64_t b0 = 0; b0 < s->n_train && !st; b0 += rows) {
            if (nota_cancelled(host)) {
                st = nota_error(NOTA_ECANCELED, "vae fit: cancelled at epoch %lld; no model kept",
                                (long long)e + 1);
                break;
            }
            int64_t m = s->n_train - b0 < rows ? s->n_train - b0 : rows;
            for (int64_t i = 0; i < m; i++)
                order[b0 + i] = tidx[order[b0 + i]];
            lat_items_gather(&v->items, x, order + b0, 0, m, v->bernoulli,
                             nota_tensor_f32(w.t[W_X]));
            double r, k;
            /* KL warm-up: β ramps linearly from 0 over the first `warmup`
             * epochs, so the decoder learns to use z before the KL term
             * pulls every posterior onto the prior (posterior collapse). */
            double ramp = v->warmup > 0
                              ? ((double)e + (double)b0 / (double)s->n_train) / (double)v->warmup
                              : 1.0;
            double beta = v->beta * (ramp < 1 ? ramp : 1);
            nota_nn_optim_zero_grad(opt);
            st = batch_step(v, &w, m, seed, STREAM_NOISE + (uint64_t)e, (uint64_t)b0, beta, true,
                            &r, &k);
            if (!st && !isfinite(r + beta * k))
                st = nota_error(NOTA_ENUMERIC,
                                "vae fit: loss is not finite (%g) at epoch %lld, "
                                "batch %lld; no model kept (try a smaller lr than %g)",
                                r + beta * k, (long long)e + 1, (long long)(b0 / rows) + 1, v->lr);
            if (!st) st = nota_nn_optim_step(opt);
            sum += r + beta * k;
        }
        if (st) break;
        double tl = sum / (double)s->n_train + jac, vl = NAN;
        char detail[160];
        if (s->n_valid > 0) {
            double r, k;
            st = vae_elbo_terms(v, s->vx, s->vidx, s->n_valid, seed, STREAM_VALID, host, &r, &k);
            if (st) break;
            vl = (r + v->beta * k) / (double)s->n_valid + jac;
            if (!isfinite(vl)) {
                st = nota_error(NOTA_ENUMERIC,
                                "vae fit: validation loss is not finite (%g) at "
                                "epoch %lld; no model kept (try a smaller lr than %g)",
                                vl, (long long)e + 1, v->lr);
                break;
            }
            snprintf(detail, sizeof detail, "train %.4f valid %.4f nats/item", tl, vl);
        } else {
            snprintf(detail, sizeof detail, "train %.4f nats/item", tl);
        }
        nota_progress(host, "vae epoch", (double)(e + 1), (double)v->epochs, detail);
        nota_log(host, NOTA_LOG_INFO, "vae: epoch %lld/%lld %s", (long long)e + 1,
                 (long long)v->epochs, detail);
        /* the validation loss always uses the full β; stopping starts after warm-up */
        if (s->n_valid > 0 && e + 1 >= v->warmup) {
            if (vl < best) {
                best = vl;
                best_epoch = e;
                stale = 0;
                lat_snapshot_take(&snap);
            } else if (++stale >= v->patience) {
                nota_log(host, NOTA_LOG_INFO,
                         "vae: early stop after epoch %lld, best epoch %lld "
                         "(valid %.4f)",
                         (long long)e + 1, (long long)best_epoch + 1, best);
                break;
            }
        }
    }
    if (!st && best_epoch >= 0) lat_snapshot_restore(&snap);
    free(order);
    nota_nn_optim_free(opt);
    lat_snapshot_free(&snap);
    work_free(&w);
    return st;
}

nota_status vae_fit(vae *v, const nota_tensor *train, const nota_tensor *valid,
                    const nota_host *host) {
    nota_status st = check_fit_data(train, valid);
    if (st) return st;
    uint64_t seed = host ? host->seed : 0;
    vae_release(v);
    st = v->bernoulli ? lat_items_fit_unit(&v->items, train, "vae fit")
                      : lat_items_fit_standard(&v->items, train, "vae fit");
    if (st) return st;
    split s;
    if ((st = make_split(v, train, valid, seed, &s))) {
        vae_release(v);
        return st;
    }
    st = vae_build(v, seed);
    if (!st) {
        nota_log(host, NOTA_LOG_INFO,
                 "vae: d=%lld latent=%lld, %zu weights, %lld train / %lld "
                 "valid rows",
                 (long long)v->items.d, (long long)v->latent,
                 nota_nn_net_num_weights(v->enc) + nota_nn_net_num_weights(v->dec),
                 (long long)s.n_train, (long long)s.n_valid);
        st = train_loop(v, train, &s, host, seed);
    }
    free(s.perm);
    if (st) vae_release(v);
    return st;
}
