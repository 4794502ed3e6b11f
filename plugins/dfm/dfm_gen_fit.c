/* Generation mode, part 2: the fit (dfm_gen.h; options in dfm.c).
 *
 * One step on a batch of B images: targets t = x/128 − 1; z from the encoder
 * (or the embedding rows); decoder → coefficients → rendering; loss
 * Σ(y − t)²/(B·D) + λ/B Σ‖z‖² (eq. 4.8 per batch). Adam with the thesis's
 * linear schedule on the decoder, enc_lr_ratio times that on the encoder or
 * the embeddings. The embeddings use a row-wise ("lazy") Adam: only rows in
 * the batch move, each with its own step count, so a step costs B rows, not
 * the whole table. Batches are full (the last partial one of an epoch is
 * dropped; the order is reshuffled every epoch).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_gen.h"

/* Encoder-free validation codes are optimised per epoch: at most this many
 * validation images, so an epoch's check stays a fraction of its cost. */
#define DFM_GEN_VALID_MAX_NO_ENCODER 256

typedef struct snapshot {
    nota_nn_net *nets[2];
    float *data;
    size_t n;
} snapshot;

static nota_status snap_new(snapshot *s, nota_nn_net *a, nota_nn_net *b) {
    s->nets[0] = a, s->nets[1] = b, s->n = 0;
    for (int k = 0; k < 2; k++)
        if (s->nets[k]) s->n += nota_nn_net_num_weights(s->nets[k]);
    s->data = malloc(s->n * sizeof(float) + 1);
    return s->data ? NOTA_OK : nota_error(NOTA_ENOMEM, "dfm: cannot allocate a weight snapshot");
}

static void snap_copy(snapshot *s, bool take) {
    float *d = s->data;
    for (int k = 0; k < 2; k++) {
        if (!s->nets[k]) continue;
        for (size_t i = 0; i < nota_nn_net_param_count(s->nets[k]); i++) {
            nota_nn_param p;
            if (nota_nn_net_param(s->nets[k], i, &p, NULL, 0) || !p.trainable) continue;
            size_t m = nota_tensor_numel(p.value);
            if (take)
                memcpy(d, nota_tensor_f32(p.value), m * sizeof(float));
            else
                memcpy(nota_tensor_f32(p.value), d, m * sizeof(float));
            d += m;
        }
    }
}

typedef struct embedding {
    float *e, *m, *v; /* (N, L) each */
    int64_t *t;       /* Adam step per row */
} embedding;

static void emb_free(embedding *em) { free(em->e), free(em->m), free(em->v), free(em->t); }

static nota_status emb_new(embedding *em, int64_t n, int64_t l, uint64_t seed) {
    size_t c = (size_t)(n * l);
    em->e = malloc(c * sizeof(float));
    em->m = calloc(c, sizeof(float));
    em->v = calloc(c, sizeof(float));
    em->t = calloc((size_t)n, sizeof(int64_t));
    if (!em->e || !em->m || !em->v || !em->t) {
        emb_free(em);
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate %lld embeddings", (long long)n);
    }
    /* Small codes: the decoder starts near one smooth image for all. */
    nota_rng_fill_normal(seed, 300, em->e, c);
    for (size_t i = 0; i < c; i++)
        em->e[i] *= 0.1f;
    return NOTA_OK;
}

static void emb_step(embedding *em, int64_t row, int64_t l, const float *g, float lr) {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    int64_t t = ++em->t[row];
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    float *e = em->e + row * l, *m = em->m + row * l, *v = em->v + row * l;
    for (int64_t j = 0; j < l; j++) {
        m[j] = b1 * m[j] + (1.0f - b1) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        e[j] -= lr * (m[j] / c1) / (sqrtf(v[j] / c2) + eps);
    }
}

static nota_status check_data(const nota_tensor *x, const char *what, int64_t want_dim) {
    char buf[64];
    if (!x || x->dtype != NOTA_F32 || x->ndim != 4 || x->shape[0] < 1)
        return nota_error(NOTA_ESHAPE, "dfm: %s needs f32 images (N, C, H, W), got %s", what,
                          x ? nota_shape_str(x->ndim, x->shape, buf, sizeof buf) : "nothing");
    if (want_dim && (int64_t)nota_tensor_row_size(x) != want_dim)
        return nota_error(NOTA_ESHAPE, "dfm: %s items have %lld values, the training data %lld",
                          what, (long long)nota_tensor_row_size(x), (long long)want_dim);
    return nota_tensor_check_finite(x, what);
}

typedef struct fit_state {
    dfm_gen *g;
    dfm_render *r;
    nota_nn_optim *odec, *oenc;
    embedding em;
    float *t, *z, *dz, *dcoef;
    int64_t *order;
} fit_state;

/* One step on train rows order[0..B); returns Σ sse and Σ‖z‖². */
static nota_status step(fit_state *s, const float *x, int64_t B, float lr_emb, double *sse,
                        double *zz) {
    dfm_gen *g = s->g;
    int64_t D = g->dim, L = g->latent;
    for (int64_t i = 0; i < B; i++)
        dfm_gen_targets(x + s->order[i] * D, D, s->t + i * D);
    nota_nn_optim_zero_grad(s->odec);
    nota_status st = NOTA_OK;
    const nota_tensor *zenc = NULL;
    int64_t ts[2] = {B, D}, zs[2] = {B, L};
    nota_tensor *tt = NULL, *dzt = NULL;
    if (g->encoder) {
        nota_nn_optim_zero_grad(s->oenc);
        st = nota_tensor_wrap(NOTA_F32, 2, ts, s->t, &tt);
        if (!st) st = nota_nn_net_forward(g->enc, tt, &zenc);
        if (!st) memcpy(s->z, nota_tensor_f32(zenc), (size_t)(B * L) * sizeof(float));
    } else {
        for (int64_t i = 0; i < B; i++)
            memcpy(s->z + i * L, s->em.e + s->order[i] * L, (size_t)L * sizeof(float));
    }
    if (!st)
        st = dfm_gen_forward_backward(g, s->r, B, s->z, s->t, 1.0f / (float)(B * D), NULL, sse,
                                      s->dcoef, s->dz);
    double q = 0.0;
    float c = 2.0f * (float)g->lambda / (float)B;
    for (int64_t i = 0; i < B * L && !st; i++) {
        q += (double)s->z[i] * s->z[i];
        s->dz[i] += c * s->z[i];
    }
    *zz = q;
    if (!st && g->encoder) {
        st = nota_tensor_wrap(NOTA_F32, 2, zs, s->dz, &dzt);
        if (!st) st = nota_nn_net_backward(g->enc, dzt, NULL);
        if (!st) st = nota_nn_optim_step(s->oenc);
    } else if (!st) {
        for (int64_t i = 0; i < B; i++)
            emb_step(&s->em, s->order[i], L, s->dz + i * L, lr_emb);
    }
    if (!st) st = nota_nn_optim_step(s->odec);
    nota_tensor_free(tt);
    nota_tensor_free(dzt);
    return st;
}

static double psnr_of(double mse_unit) {
    /* [−1, 1] units to 8-bit levels: ×128, peak 255. */
    return 10.0 * log10(255.0 * 255.0 / (mse_unit * 128.0 * 128.0));
}

static nota_status new_adam(double lr, double lr_end, int64_t total, nota_nn_net *net,
                            nota_nn_optim **o) {
    nota_nn_adam_opts a = nota_nn_adam_defaults();
    a.schedule = (nota_nn_schedule){NOTA_NN_LR_LINEAR, (float)lr, (float)lr_end, total};
    nota_status st = nota_nn_adam_new(&a, o);
    if (!st) st = nota_nn_optim_add_net(*o, net);
    return st;
}

nota_status dfm_gen_fit(dfm_gen *g, const nota_tensor *train, const nota_tensor *valid,
                        const nota_host *host) {
    nota_status st = check_data(train, "fit data", 0);
    if (!st && valid)
        st = check_data(valid, "validation data", (int64_t)nota_tensor_row_size(train));
    if (st) return st;
    uint64_t seed = host ? host->seed : 0;
    int threads = host ? host->threads : 1;
    st = dfm_gen_build(g, train->shape[1], train->shape[2], train->shape[3], seed);
    if (st) return st;
    int64_t N = train->shape[0], D = g->dim, L = g->latent, nv = 0;
    if (!valid && g->valid_frac > 0.0 && N >= 2) nv = (int64_t)floor((double)N * g->valid_frac);
    if (nv >= N) nv = N - 1;
    int64_t nt = N - nv, B = g->batch < nt ? g->batch : nt, spe = nt / B;
    int64_t total = g->epochs * spe, ncoef = g->arch.off[g->arch.depth];
    const float *x = nota_tensor_f32(train);
    fit_state s = {.g = g};
    snapshot snap = {0};
    int64_t *perm = malloc((size_t)N * sizeof(int64_t));
    s.order = malloc((size_t)nt * sizeof(int64_t));
    s.t = malloc((size_t)(B * D) * sizeof(float));
    s.z = malloc((size_t)(B * L) * sizeof(float));
    s.dz = malloc((size_t)(B * L) * sizeof(float));
    s.dcoef = malloc((size_t)(B * ncoef) * sizeof(float));
    if (!perm || !s.order || !s.t || !s.z || !s.dz || !s.dcoef)
        st = nota_error(NOTA_ENOMEM, "dfm: cannot allocate fit buffers for batch %lld",
                        (long long)B);
    /* Held-out rows: the last nv of a seeded permutation. */
    if (!st) {
        nota_rng rng = nota_rng_make(seed, 400);
        for (int64_t i = 0; i < N; i++)
            perm[i] = i;
        for (int64_t i = N - 1; i > 0 && nv > 0; i--) {
            int64_t j = (int64_t)nota_rng_below(&rng, (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
    }
    if (!st) st = dfm_render_new(&g->arch, threads, &s.r);
    if (!st) st = new_adam(g->lr, g->lr_end, total, g->dec, &s.odec);
    if (!st && g->encoder)
        st = new_adam(g->lr * g->enc_lr_ratio, g->lr_end * g->enc_lr_ratio, total, g->enc, &s.oenc);
    if (!st && !g->encoder) st = emb_new(&s.em, N, L, seed);
    if (!st) st = snap_new(&snap, g->dec, g->enc);
    const float *vx = valid ? nota_tensor_f32(valid) : x;
    const int64_t *vidx = valid ? NULL : perm + nt;
    int64_t vn = valid ? valid->shape[0] : nv;
    if (!g->encoder && vn > DFM_GEN_VALID_MAX_NO_ENCODER) vn = DFM_GEN_VALID_MAX_NO_ENCODER;
    double best = INFINITY;
    int64_t best_epoch = -1, since = 0, step_no = 0;
    for (int64_t ep = 0; ep < g->epochs && !st; ep++) {
        memcpy(s.order, perm, (size_t)nt * sizeof(int64_t));
        nota_rng rng = nota_rng_make(seed, 1000 + (uint64_t)ep);
        for (int64_t i = nt - 1; i > 0; i--) {
            int64_t j = (int64_t)nota_rng_below(&rng, (uint64_t)(i + 1)), t = s.order[i];
            s.order[i] = s.order[j], s.order[j] = t;
        }
        double sse_ep = 0.0, zz_ep = 0.0;
        int64_t *all = s.order;
        for (int64_t b = 0; b < spe && !st; b++, step_no++) {
            if (nota_cancelled(host)) {
                st = nota_error(NOTA_ECANCELED, "dfm: fit cancelled at epoch %lld",
                                (long long)ep + 1);
                break;
            }
            double sse, zz;
            float lr_emb = (float)(g->enc_lr_ratio *
                                   (g->lr + (g->lr_end - g->lr) * (double)step_no / (double)total));
            s.order = all + b * B;
            st = step(&s, x, B, lr_emb, &sse, &zz);
            s.order = all;
            if (!st && !(isfinite(sse) && isfinite(zz)))
                st = nota_error(NOTA_ENUMERIC,
                                "dfm: fit diverged at epoch %lld (non-finite loss); no model kept",
                                (long long)ep + 1);
            sse_ep += sse, zz_ep += zz;
        }
        if (st) break;
        double tr = sse_ep / (double)(spe * B * D), vm = NAN;
        if (vn > 0) {
            double vs;
            st = dfm_gen_recon_sse(g, vx, vidx, vn, host, &vs);
            if (st) break;
            vm = vs / (double)(vn * D);
            if (!isfinite(vm)) {
                st = nota_error(NOTA_ENUMERIC,
                                "dfm: fit diverged at epoch %lld (non-finite validation loss); "
                                "no model kept",
                                (long long)ep + 1);
                break;
            }
        }
        char detail[160];
        int k = snprintf(detail, sizeof detail, "train mse %.5f (%.2f dB) |z|^2 %.3f, ", tr,
                         psnr_of(tr), zz_ep / (double)(spe * B));
        if (vn > 0)
            snprintf(detail + k, sizeof detail - (size_t)k, "valid mse %.5f (%.2f dB)", vm,
                     psnr_of(vm));
        else
            snprintf(detail + k, sizeof detail - (size_t)k, "valid n/a");
        nota_progress(host, "fit", (double)(ep + 1), (double)g->epochs, detail);
        nota_log(host, NOTA_LOG_INFO, "dfm: epoch %lld: %s", (long long)ep + 1, detail);
        double score = vn > 0 ? vm : tr;
        if (score < best) {
            best = score, best_epoch = ep, since = 0;
            g->code_rms = sqrt(zz_ep / (double)(spe * B * L));
            snap_copy(&snap, true);
        } else if (vn > 0 && ++since >= g->patience) {
            nota_log(host, NOTA_LOG_INFO, "dfm: early stop after epoch %lld (best %lld)",
                     (long long)ep + 1, (long long)best_epoch + 1);
            break;
        }
    }
    if (!st && best_epoch >= 0) snap_copy(&snap, false);
    free(snap.data);
    emb_free(&s.em);
    nota_nn_optim_free(s.odec);
    nota_nn_optim_free(s.oenc);
    dfm_render_free(s.r);
    free(perm), free(s.order), free(s.t), free(s.z), free(s.dz), free(s.dcoef);
    if (st) dfm_gen_release(g);
    return st;
}
