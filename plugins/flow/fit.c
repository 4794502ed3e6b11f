/* Greedy fitting, one layer at a time.
 *
 * The first ar_layers layers are autoregressive (ar.c). Each other layer
 * picks its rotation (a patch or full layer from the schedule;
 * Haar-random directions, or — every search_every-th layer — directions
 * found in the current data, see directions.c), rotates the training and
 * validation batches, fits one spline per coordinate (in parallel over
 * coordinates, each worker with its own KDE scratch) and rotates back.
 * A coordinate keeps its spline only if the training log-likelihood gain
 * it brings, mean[log φ(y) − log φ(x) + log s'], beats an AIC-like penalty
 * (min_gain × knots / N nats): below that the gain is mostly fitted noise,
 * and leaving the coordinate alone keeps the train–test gap from growing.
 * Training log-likelihood is tracked exactly from these gains (rotations
 * leave Σ log φ unchanged); validation log-likelihood is computed on
 * held-out items after every layer, and the model is cut back to its best
 * validation layer when patience runs out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "poly.h"
#include "spline.h"

#define STREAM_SPLIT 0x53504c5400000000ull /* "SPLT" */
#define STREAM_ROT 0x524f544100000000ull   /* "ROTA" + layer */
#define STREAM_SHIFT 0x5348494600000000ull /* "SHIF" + layer */
#define STREAM_ROTQ 0x524f545100000000ull  /* "ROTQ" + layer << 20 + patch position */
#define MAX_TOKENS 64

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Copy items idx[0..n) of x (rows of D) into the batch, transposed. */
static void load_rows(flow_batch *b, const float *x, const int64_t *idx) {
    for (int64_t i = 0; i < b->N; i++) {
        const float *src = x + idx[i] * b->D;
        for (int64_t j = 0; j < b->D; j++)
            b->a[j * b->N + i] = src[j];
    }
    for (int64_t r = 0; r < b->D; r++)
        b->order[r] = r;
    if (b->logdet) memset(b->logdet, 0, (size_t)b->N * sizeof(double));
}

/* Per-coordinate standardisation from the (logit-transformed) training rows. */
static nota_status standardise(flow *f, flow_batch *t) {
    f->mu = malloc((size_t)f->D * sizeof(float));
    f->inv_sd = malloc((size_t)f->D * sizeof(float));
    if (!f->mu || !f->inv_sd) return nota_error(NOTA_ENOMEM, "flow fit: allocation failed");
    for (int64_t r = 0; r < f->D; r++) {
        f->mu[r] = 0;
        f->inv_sd[r] = 1;
    }
    flow_pre_fwd(f, t); /* logit only, with its log-det */
    double lsum = 0;
    for (int64_t r = 0; r < f->D; r++) {
        float *row = t->a + r * t->N;
        double m = 0, v = 0;
        for (int64_t i = 0; i < t->N; i++)
            m += row[i];
        m /= (double)t->N;
        for (int64_t i = 0; i < t->N; i++)
            v += (row[i] - m) * (row[i] - m);
        double sd = sqrt(v / (double)t->N), floor_sd = 1e-6 * (1 + fabs(m));
        f->mu[r] = (float)m;
        f->inv_sd[r] = (float)(1.0 / (sd > floor_sd ? sd : floor_sd));
        double mu = f->mu[r], isd = f->inv_sd[r];
        for (int64_t i = 0; i < t->N; i++)
            row[i] = (float)((row[i] - mu) * isd);
        lsum += log(isd);
    }
    for (int64_t i = 0; i < t->N; i++)
        t->logdet[i] += lsum;
    return NOTA_OK;
}

static double mean_ll(flow_batch *b, double *tmp) {
    memcpy(tmp, b->logdet, (size_t)b->N * sizeof(double));
    flow_batch_lognormal(b, tmp);
    double s = 0;
    for (int64_t i = 0; i < b->N; i++)
        s += tmp[i];
    return s / (double)b->N;
}

typedef struct fit_ctx {
    flow *f;
    flow_batch *t;
    flow_layer *l;
    spline_opts so;
    spline_work *work;
    float **tmp;
    double *gain;
    double thresh;
} fit_ctx;

static void fit_rows(void *p, int64_t r0, int64_t r1, int thread) {
    fit_ctx *c = p;
    const flow *f = c->f;
    int K = f->K, S = f->S, deg = (int)f->o.poly_deg;
    bool poly = f->o.marginal == MARG_POLY;
    int64_t N = c->t->N;
    float *tmp = c->tmp[thread];
    for (int64_t r = r0; r < r1; r++) {
        float *row = c->t->a + r * N, *kn = c->l->knots + r * S;
        c->gain[r] = 0;
        c->l->active[r] = 0;
        if (poly ? poly_fit(row, N, &c->so, deg, &c->work[thread], kn, NULL)
                 : spline_fit(row, N, &c->so, &c->work[thread], kn)) {
            memset(kn, 0, (size_t)S * sizeof(float)); /* saved files stay deterministic */
            continue;
        }
        double g = 0, ld, d, prod = 1;
        for (int64_t i = 0; i < N; i++) {
            double x = row[i], y;
            if (poly) {
                y = poly_fwd(kn, deg, f->o.poly_tails, x, &ld);
                g += ld;
            } else {
                /* log of a product of 16 derivatives (each in [1e-6, 1e6]
                 * or near: no overflow in double) instead of 16 logs */
                y = spline_fwd_d(kn, K, x, &d);
                prod *= d;
                if ((i & 15) == 15 || i == N - 1) {
                    g += log(prod);
                    prod = 1;
                }
            }
            tmp[i] = (float)y;
            g += 0.5 * (x * x - y * y);
        }
        g /= (double)N;
        if (!(g > c->thresh)) {
            memset(kn, 0, (size_t)S * sizeof(float));
            continue;
        }
        c->gain[r] = g;
        c->l->active[r] = 1;
        memcpy(row, tmp, (size_t)N * sizeof(float));
    }
}

typedef struct fit_state {
    flow_batch t, v;
    bool have_valid;
    int threads;
    spline_work *work;
    float **tmp;
    double *gain, *vtmp;
    float *y0; /* full_rank × N: a low-rank layer's projections before its maps */
    int tokens[MAX_TOKENS], n_tokens;
} fit_state;

static void state_free(fit_state *s) {
    flow_batch_free(&s->t);
    flow_batch_free(&s->v);
    for (int i = 0; s->work && i < s->threads; i++)
        spline_work_free(&s->work[i]);
    for (int i = 0; s->tmp && i < s->threads; i++)
        free(s->tmp[i]);
    free(s->work);
    free(s->tmp);
    free(s->gain);
    free(s->vtmp);
    free(s->y0);
}

/* Split (or take) validation items and load both batches. */
static nota_status load_data(flow *f, fit_state *s, const nota_tensor *train,
                             const nota_tensor *valid, uint64_t seed) {
    int64_t n = train->shape[0], nv = 0;
    if (!valid && f->o.valid_fraction > 0) nv = (int64_t)llround((double)n * f->o.valid_fraction);
    if (!valid && f->o.valid_fraction > 0 && nv < 1) nv = 1;
    int64_t nt = n - nv;
    if (nt < 2)
        return nota_error(NOTA_EINVAL,
                          "flow fit: need at least 2 training items, got %lld "
                          "(after holding out %lld for validation)",
                          (long long)nt, (long long)nv);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return nota_error(NOTA_ENOMEM, "flow fit: allocation failed");
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    if (nv > 0) { /* a seeded shuffle picks the held-out items; train keeps data order */
        nota_rng r = nota_rng_make(seed, STREAM_SPLIT);
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)nota_rng_below(&r, (uint64_t)(i + 1)), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        /* the last nv of the shuffle are held out; sort the rest back to order */
        int64_t *mark = calloc((size_t)n, sizeof *mark);
        if (!mark) {
            free(idx);
            return nota_error(NOTA_ENOMEM, "flow fit: allocation failed");
        }
        for (int64_t i = nt; i < n; i++)
            mark[idx[i]] = 1;
        int64_t a = 0, b = nt;
        for (int64_t i = 0; i < n; i++) {
            if (mark[i])
                idx[b++] = i;
            else
                idx[a++] = i;
        }
        free(mark);
    }
    nota_status st = flow_batch_new(f->D, nt, true, s->threads, &s->t);
    if (!st && (nv > 0 || valid))
        st = flow_batch_new(f->D, valid ? valid->shape[0] : nv, true, s->threads, &s->v);
    if (!st) {
        load_rows(&s->t, nota_tensor_f32(train), idx);
        if (valid) {
            flow_batch_load(&s->v, nota_tensor_f32(valid));
        } else if (nv > 0) {
            load_rows(&s->v, nota_tensor_f32(train), idx + nt);
        }
        s->have_valid = valid || nv > 0;
    }
    free(idx);
    return st;
}

static nota_status add_layer(flow *f, flow_layer *l) {
    if (f->n_layers == f->cap_layers) {
        int cap = f->cap_layers ? 2 * f->cap_layers : 16;
        flow_layer *nl = realloc(f->layers, (size_t)cap * sizeof *nl);
        if (!nl) return nota_error(NOTA_ENOMEM, "flow fit: cannot grow the layer list");
        f->layers = nl;
        f->cap_layers = cap;
    }
    f->layers[f->n_layers++] = *l;
    return NOTA_OK;
}

/* Patch side of rotation layer l (0 = full layer). */
static int layer_patch(const flow *f, const fit_state *s, int l) {
    bool full = f->o.full_every > 0 && l % f->o.full_every == 0;
    return full ? 0 : s->tokens[l % s->n_tokens];
}

/* Refuse, before any work, a schedule whose rotations would be too large. */
static nota_status check_rotation_sizes(const flow *f, const fit_state *s) {
    for (int l = (int)f->o.ar_layers; l < f->o.max_layers; l++) {
        int patch = layer_patch(f, s, l);
        int64_t P = patch ? (int64_t)patch * patch * f->C : f->D;
        if (P > FLOW_MAX_ROT)
            return nota_error(NOTA_ELIMIT,
                              "flow fit: layer %d would rotate %lld values at once (a "
                              "%.0f MB matrix; limit %d); use patch layers (schedule) and "
                              "full_every=0",
                              l, (long long)P, 4e-6 * (double)P * (double)P, FLOW_MAX_ROT);
    }
    return NOTA_OK;
}

/* Build layer l's rotation on the current training data. */
static nota_status make_layer(flow *f, fit_state *s, int l, uint64_t seed, flow_layer *ly) {
    memset(ly, 0, sizeof *ly);
    ly->patch = layer_patch(f, s, l);
    ly->P = ly->patch ? (int64_t)ly->patch * ly->patch * f->C : f->D;
    ly->nrot = ly->patch && f->o.rot_each ? f->D / ly->P : 1;
    nota_status st = NOTA_OK;
    if (ly->patch) {
        nota_rng r = nota_rng_make(seed, STREAM_SHIFT + (uint64_t)l);
        ly->shift_y = (int)nota_rng_below(&r, (uint64_t)ly->patch);
        ly->shift_x = (int)nota_rng_below(&r, (uint64_t)ly->patch);
        st = flow_patch_perm(f->C, f->H, f->W, ly->patch, ly->shift_y, ly->shift_x, &ly->perm);
        if (st) return st;
    }
    ly->rot = malloc((size_t)(ly->nrot * ly->P * ly->P) * sizeof(float));
    ly->knots = malloc((size_t)f->D * (size_t)f->S * sizeof(float));
    ly->active = calloc((size_t)f->D, 1);
    if (!ly->rot || !ly->knots || !ly->active) {
        flow_layer_free(ly);
        return nota_error(NOTA_ENOMEM, "flow fit: cannot allocate layer %d", l);
    }
    flow_batch_reorder(&s->t, ly->perm);
    bool search = f->o.rotation != ROT_RANDOM && l % f->o.search_every == 0;
    /* ica searches patches and small items; full layers of large items take
     * the principal axes instead — the global decorrelation that patches
     * cannot provide (a 784-dimensional FastICA from a random start was both
     * slow and poor: 4.92 against 3.75 bits/dim after 40 layers) */
    bool pca = f->o.rotation == ROT_PCA || ly->P > FLOW_ICA_MAX_FULL;
    /* ica_iters = 0: FastICA on patch layers runs to (near) convergence —
     * 8 steps left it far from it (validation 3.6018 against 3.5368 bits/dim
     * at layer 50 on Fashion-MNIST with 100) — while a search of the whole
     * space keeps 8: converged, it finds the same directions every layer
     * (the checkerboard toy fell from -3.77 to -4.15 nats per point). */
    int iters = f->o.ica_iters > 0                           ? (int)f->o.ica_iters
                : f->o.rotation == ROT_ICA && ly->patch != 0 ? 100
                                                             : 8;
    /* shared: one rotation for all patches (q = -1 pools them); each: one
     * per patch position q, from that position's own data */
    for (int64_t k = 0; !st && k < ly->nrot; k++) {
        int64_t q = ly->nrot == 1 ? -1 : k;
        float *rot = ly->rot + k * ly->P * ly->P;
        uint64_t stream = ly->nrot == 1 ? STREAM_ROT + (uint64_t)l
                                        : STREAM_ROTQ + ((uint64_t)l << 20) + (uint64_t)k;
        if (search && pca && ly->patch == 0)
            st = flow_subspace_rotation(&s->t, ly->P, f->o.full_search, &f->o, seed, stream, rot);
        else if (search && pca)
            st = flow_pca_rotation(&s->t, ly->P, q, rot);
        else if (search && f->o.rotation == ROT_SWD)
            st = flow_swd_rotation(&s->t, ly->P, q, f->o.swd_cols, iters, seed, stream, rot);
        else if (search)
            st = flow_ica_rotation(&s->t, ly->P, q, f->o.ica_items, iters, seed, stream, rot);
        else
            st = nota_random_orthogonal(ly->P, seed, stream, rot);
    }
    if (st) flow_layer_free(ly);
    return st;
}

/* Rows of layer l the fit looks at: a full layer after the first moves
 * only the first full_rank rows of its rotation (the top principal axes),
 * the others all P. */
static int64_t layer_rank(const flow *f, const flow_layer *ly, int l) {
    int64_t k = f->o.full_rank;
    return ly->patch == 0 && ly->nrot == 1 && l > 0 && k > 0 && k < ly->P ? k : 0;
}

/* Fit the maps of a low-rank layer on the training batch (canonical row
 * order): y = R_k x, one map per row of y, x += R_kᵀ (S(y) − y). Rows k..P
 * stay the identity. */
static nota_status fit_lowrank(flow *f, fit_state *s, fit_ctx *c, flow_layer *ly, int64_t k) {
    int64_t N = s->t.N, P = ly->P;
    if (!s->y0 && !(s->y0 = malloc((size_t)(f->o.full_rank * N) * sizeof(float))))
        return nota_error(NOTA_ENOMEM, "flow fit: cannot allocate %lld × %lld projections",
                          (long long)f->o.full_rank, (long long)N);
    float *y = s->t.b; /* the batch's scratch, D × N ≥ k × N */
    nota_sgemm(false, false, k, N, P, 1.0f, ly->rot, P, s->t.a, N, 0.0f, y, N);
    memcpy(s->y0, y, (size_t)(k * N) * sizeof(float));
    flow_batch view = {.D = k, .N = N, .a = y, .threads = s->threads};
    c->t = &view;
    flow_parallel(s->threads, k, 1, fit_rows, c);
    c->t = &s->t;
    for (int64_t r = k; r < P; r++) {
        s->gain[r] = 0;
        ly->active[r] = 0;
    }
    memset(ly->knots + k * f->S, 0, (size_t)((P - k) * f->S) * sizeof(float));
    for (int64_t i = 0; i < k * N; i++)
        y[i] -= s->y0[i];
    nota_sgemm(true, false, P, N, k, 1.0f, ly->rot, P, y, N, 1.0f, s->t.a, N);
    return NOTA_OK;
}

static nota_status prepare(flow *f, fit_state *s, const nota_tensor *train,
                           const nota_tensor *valid, const nota_host *host) {
    uint64_t seed = host ? host->seed : 0;
    nota_status st = flow_fit_check(f, train, valid);
    if (!st) st = flow_schedule_parse(f, s->tokens, MAX_TOKENS, &s->n_tokens);
    if (!st) st = check_rotation_sizes(f, s);
    if (!st) st = load_data(f, s, train, valid, seed);
    if (st) return st;
    s->work = calloc((size_t)s->threads, sizeof *s->work);
    s->tmp = calloc((size_t)s->threads, sizeof *s->tmp);
    s->gain = malloc((size_t)f->D * sizeof *s->gain);
    int64_t nmax = s->have_valid && s->v.N > s->t.N ? s->v.N : s->t.N;
    s->vtmp = malloc((size_t)nmax * sizeof *s->vtmp);
    if (!s->work || !s->tmp || !s->gain || !s->vtmp)
        return nota_error(NOTA_ENOMEM, "flow fit: allocation failed");
    for (int i = 0; i < s->threads; i++) {
        if (spline_work_init(&s->work[i], (int)f->o.grid) ||
            !(s->tmp[i] = malloc((size_t)s->t.N * sizeof(float))))
            return nota_error(NOTA_ENOMEM, "flow fit: cannot allocate per-thread scratch");
    }
    if ((st = standardise(f, &s->t))) return st;
    if (s->have_valid) flow_pre_fwd(f, &s->v);
    return NOTA_OK;
}

nota_status flow_fit(flow *f, const nota_tensor *train, const nota_tensor *valid,
                     const nota_host *host) {
    flow_clear(f);
    fit_state s;
    memset(&s, 0, sizeof s);
    s.threads = host && host->threads > 1 ? (host->threads > 64 ? 64 : host->threads) : 1;
    uint64_t seed = host ? host->seed : 0;
    double t0 = now_s(),
           dln2 = (double)(train && train->ndim >= 2 ? nota_tensor_row_size(train) : 1) * log(2.0);
    nota_status st = prepare(f, &s, train, valid, host);
    double train_ll = st ? 0 : mean_ll(&s.t, s.vtmp);
    double best = -INFINITY, vll = NAN;
    int best_n = 0, since = 0, n_ar = 0;
    bool warned = false;
    if (!st && s.have_valid) best = mean_ll(&s.v, s.vtmp);
    fit_ctx c = {.f = f, .t = &s.t, .work = s.work, .tmp = s.tmp, .gain = s.gain};
    c.so = (spline_opts){(int)f->o.knots, (int)f->o.grid, f->o.damping, f->o.bandwidth};
    /* the penalty counts a spline as K parameters, a polynomial as deg + 1 */
    double n_par = f->o.marginal == MARG_POLY ? (double)f->o.poly_deg + 1 : (double)f->o.knots;
    c.thresh = f->o.min_gain * n_par / (double)s.t.N;
    const char *why = "max_layers reached";
    for (int l = 0; !st && l < f->o.max_layers; l++) {
        if (nota_cancelled(host)) {
            st = nota_error(NOTA_ECANCELED, "flow fit: cancelled at layer %d", l);
            break;
        }
        if (f->o.time_limit > 0 && now_s() - t0 > f->o.time_limit) {
            why = "time_limit reached";
            break;
        }
        flow_layer ly;
        /* the first ar_layers layers are autoregressive (ar.c); more of them
         * later in the fit moved no coordinate (every 25th layer, tried) */
        if (l < f->o.ar_layers && n_ar < f->o.ar_shared && f->item_ndim == 3) {
            /* the first layer sees the logit data: contexts in intensity */
            int squash = l == 0 && f->logit ? (f->o.ar_levels ? 2 : 1) : 0;
            if ((st = flow_arcell_fit(f, &s.t, n_ar++, squash, host, s.work, s.threads, s.gain,
                                      &ly)))
                break;
        } else if (l < f->o.ar_layers) {
            if ((st = flow_ar_fit(f, &s.t, n_ar++, s.work, s.threads, s.gain, &ly))) break;
        } else if ((st = make_layer(f, &s, l, seed, &ly))) {
            break;
        }
        c.l = &ly;
        int64_t rank = ly.ar ? 0 : layer_rank(f, &ly, l);
        if (rank) {
            st = fit_lowrank(f, &s, &c, &ly, rank);
        } else if (!ly.ar) { /* an autoregressive layer was fitted and applied above */
            flow_batch_rotate(&s.t, ly.rot, ly.P, ly.nrot, false);
            flow_parallel(s.threads, f->D, 1, fit_rows, &c);
            flow_batch_rotate(&s.t, ly.rot, ly.P, ly.nrot, true);
        }
        if (!st) st = flow_layer_compact(&ly);
        if (st) {
            flow_layer_free(&ly);
            break;
        }
        int n_active = 0;
        for (int64_t r = 0; r < f->D; r++) {
            train_ll += s.gain[r];
            n_active += ly.active[r];
        }
        if (s.have_valid) {
            if ((st = flow_layer_fwd(f, &ly, &s.v))) {
                flow_layer_free(&ly);
                break;
            }
            vll = mean_ll(&s.v, s.vtmp);
        }
        if ((st = add_layer(f, &ly))) {
            flow_layer_free(&ly);
            break;
        }
        if (!isfinite(train_ll)) {
            st = nota_error(NOTA_ENUMERIC,
                            "flow fit: log-likelihood is not finite at layer %d "
                            "(train %g, validation %g)",
                            l + 1, train_ll, vll);
            break;
        }
        /* Validation items outside a layer's training support can overflow
         * (marginal=poly with poly_tails=extrapolate does, by design): such a
         * layer counts as no improvement, so patience ends the fit and the
         * model is cut back to its last finite, best layer. */
        if (s.have_valid && !isfinite(vll) && !warned) {
            nota_log(host, NOTA_LOG_WARN,
                     "flow: validation log-likelihood is %g at layer %d; layers from here "
                     "count as no improvement",
                     vll, l + 1);
            warned = true;
        }
        char detail[192], vtext[32] = "n/a";
        if (s.have_valid) snprintf(vtext, sizeof vtext, "%.4f", -vll / dln2);
        snprintf(detail, sizeof detail,
                 "layer %d: train %.4f bpd, valid %s bpd, %d/%lld "
                 "coordinates moved, %.1f s",
                 l + 1, -train_ll / dln2, vtext, n_active, (long long)f->D, now_s() - t0);
        nota_progress(host, "fit", l + 1, (double)f->o.max_layers, detail);
        nota_log(host, NOTA_LOG_DEBUG, "flow: %s", detail);
        if (!s.have_valid) continue;
        if (vll > best) {
            best = vll;
            best_n = l + 1;
            since = 0;
        } else if (++since >= f->o.patience) {
            why = "validation stopped improving";
            break;
        }
    }
    if (!st && s.have_valid)
        while (f->n_layers > best_n)
            flow_layer_free(&f->layers[--f->n_layers]);
    if (!st)
        nota_log(host, NOTA_LOG_INFO, "flow: %d layers kept (%s); validation %.4f bpd; %.1f s",
                 f->n_layers, why, s.have_valid ? -best / dln2 : NAN, now_s() - t0);
    state_free(&s);
    if (st) flow_clear(f);
    return st;
}
