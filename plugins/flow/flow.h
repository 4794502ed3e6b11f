/* The flow model's internal state, shared by the plugin's files:
 *   flow.c      descriptor, options, dispatch
 *   spline.c    marginal transforms: monotone splines (default)
 *   poly.c      marginal transforms: the poster's polynomials
 *   layers.c    rotations (full and patch-wise) and their permutations
 *   directions.c data-driven rotations (PCA, ICA)
 *   ar.c        autoregressive conditional layers (ar_layers)
 *   arcell.c    autoregressive layers whose splines all coordinates share (ar_shared)
 *   arnet.c     their net prediction (ar_hidden)
 *   swd.c       data-driven rotations (max-sliced Wasserstein)
 *   transform.c encode / decode / log_prob on batches (D × N layout), data checks
 *   fit.c       greedy layer-by-layer fitting
 *   io.c        save / load
 *   parallel.c  a minimal parallel-for over pthreads
 *
 * A model maps data x to codes z = f(x) with
 *   f = L_{n-1} ∘ … ∘ L_0 ∘ pre,
 * pre = optional logit (8-bit images) then per-coordinate standardisation;
 * layer L_l(x) = Rᵀ S(R x): rotate (orthogonal, |det| = 1), one spline per
 * coordinate, rotate back (so every layer starts from pixel space).
 * log p(x) = log N(f(x); 0, I) + log|det ∂pre/∂x| + Σ_l Σ_j log s'_lj.
 */
#ifndef FLOW_FLOW_H
#define FLOW_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "nota/nota.h"

#define FLOW_MAX_LAYERS 4096
#define FLOW_MAX_DIM 65536
#define FLOW_MAX_ROT 4096    /* largest rotation (P×P floats, 64 MB) */
#define FLOW_ICA_MAX_FULL 64 /* rotation=ica|swd: larger full layers use PCA */
#define FLOW_AR_MAX_RADIUS 5 /* ar_radius: at most 2R(R+1) = 60 neighbours */
#define FLOW_AR_MAX_BINS 256

typedef enum { ROT_RANDOM = 0, ROT_PCA = 1, ROT_ICA = 2, ROT_SWD = 3 } flow_rotation;
typedef enum { PRE_AUTO = 0, PRE_LOGIT = 1, PRE_NONE = 2 } flow_pre;
typedef enum { MARG_SPLINE = 0, MARG_POLY = 1 } flow_marginal;
/* ar_blend: none; the layers reading level contexts (the first of an 8-bit
 * image model); every shared-cell layer */
typedef enum { FLOW_BLEND_NONE = 0, FLOW_BLEND_LEVELS = 1, FLOW_BLEND_ALL = 2 } flow_blend;

/* Parsed options (see the option table in flow.c for meanings). */
typedef struct flow_opts {
    char schedule[256];
    int64_t full_every, search_every, ica_items, ica_iters, knots, grid, max_layers, patience;
    flow_rotation rotation;
    flow_pre preprocess;
    flow_marginal marginal;
    int64_t poly_deg, swd_cols, full_search, full_rank, full_items;
    int64_t ar_layers, ar_bins, ar_window, ar_radius;
    int64_t ar_shared, ar_pred_bins, ar_scale_bins, ar_err_bins; /* arcell.c */
    int64_t ar_hidden, ar_net_steps, ar_net_layers;              /* arcell.c: the net prediction */
    flow_blend ar_blend; /* arcell.c: which layers blend their cells' splines */
    bool ar_levels;      /* arcell.c: intensity contexts at the centres of 8-bit levels */
    bool ar_quad;        /* ar_context=quadratic: the squares of the neighbours predict too */
    int poly_tails;      /* poly_tails (poly.h) */
    bool rot_each;       /* patch_rotation=each: one rotation per patch position */
    double damping, bandwidth, min_gain, time_limit, valid_fraction, logit_lambda;
} flow_opts;

/* One layer. Rows of the batch are permuted into the layer's order first
 * (perm[r] = the canonical coordinate at row r; NULL = canonical order):
 * row i·Q + q holds element i of patch q, so the batch is one (P, Q·N)
 * matrix and the P×P rotation is one GEMM. Splines are indexed by row. */
typedef struct flow_layer {
    int patch; /* 0 = full layer (P = D), else patch side p */
    int shift_y, shift_x;
    int64_t P;       /* rotation size */
    int64_t nrot;    /* 1 (shared by all patches), or Q: one per patch position */
    float *rot;      /* nrot × P×P, y_block = rot · x_block */
    float *knots;    /* D × S marginal parameters (spline knots or polynomial) */
    uint8_t *active; /* D: 0 = coordinate left unchanged */
    int64_t *perm;   /* D or NULL */
    /* A full layer that moves few coordinates is applied as the low-rank
     * update x + R_Aᵀ(S(R_A x) − R_A x) over its active rows A (equal to
     * Rᵀ S(R x), since the other rows' maps are the identity): two thin
     * GEMMs instead of two P×P ones. Built by flow_layer_compact. */
    int64_t n_act;  /* rows in A, or 0: the layer is applied as Rᵀ S(R x) */
    int64_t *act;   /* n_act row indices */
    float *rot_act; /* n_act × P: those rows of rot */
    /* An autoregressive layer (ar.c; ar = 1, no rotation, canonical row
     * order): coordinate r's context c = ar_w[r]·x[ar_nbr[r]] + bias picks
     * one of ar_bins splines (knots: D × ar_bins × 3K; always splines). */
    int ar, ar_dir, ar_radius;
    bool ar_quad; /* weights of the neighbours' squares follow theirs */
    int64_t ar_m, ar_bins;
    float *ar_w;     /* D × flow_ar_weights(ar_m, ar_quad): neighbour weights, bias last */
    float *ar_edges; /* D × ar_bins: [lowest training context, edge 1 .. edge B-1] */
    int64_t *ar_nbr; /* D × ar_m: neighbour coordinates, -1 outside the item */
    /* A shared-cell autoregressive layer (arcell.c; ar = ar_cell = 1): the
     * context of coordinate r is three numbers (its prediction, the error
     * to expect, learned with weights ar_sw: D × (ar_m + 7), and the
     * prediction errors around it), read in "context
     * space" (v = sigmoid(a_r x + b_r) with ar_squash: pixel intensity;
     * else v = x); each is cut into ar_cb[j] global quantile bins (edges
     * in ar_edges, one block per number) and the cell they pick holds one
     * spline of t = a_r x + b_r shared by every coordinate (knots: cells ×
     * 3K). ar_aff: D × 2 (a_r, b_r); ar_bins = cells.
     * With ar_blend, ar_edges holds each number's ar_cb[j] bin centres
     * instead (strictly increasing) and the value is mapped by the blend
     * of the splines of the (up to 8) cells around its context, weighted
     * by the context's position between their centres. */
    int ar_cell;
    int ar_squash; /* 0: v = x; 1: v = sigmoid(t), the pixel intensity; 2: the
                    * intensity at the centre of its 8-bit level */
    bool ar_blend;
    float ar_lambda; /* the logit squeeze (ar_squash 2) */
    int64_t ar_cb[3];
    float *ar_aff;
    float *ar_sw;       /* D × (ar_m + 7); ar_w is D × (ar_m + 14) here */
    int64_t ar_near[6]; /* in a neighbour row: left, up, up-left, up-right, WW, NN (or -1) */
    /* The net prediction (ar_hidden > 0): a two-hidden-layer ReLU network
     * shared by all coordinates predicts v_r and the error to expect from
     * the prediction features and the position; its outputs are one more
     * feature of the linear prediction (ar_w is then D × (ar_m + 15)) and
     * of the scale (ar_sw: D × (ar_m + 8)). ar_net: W1ᵀ (F × H), b1,
     * W2ᵀ (H × H), b2, w3 (2 × H), b3 (2), F = flow_arcell_net_inputs(ar_m). */
    int64_t ar_hidden;
    float *ar_net;
    int ar_ih, ar_iw; /* image height and width (the position inputs) */
} flow_layer;

typedef struct flow {
    flow_opts o;
    /* known after fit / load */
    int item_ndim;
    int64_t item_shape[NOTA_MAX_DIMS];
    int64_t D;
    int C, H, W; /* image geometry when item_ndim == 3, else 0 */
    bool logit;
    float lambda;       /* logit squeeze, as stored */
    float *mu, *inv_sd; /* D: standardisation u = (y - mu) * inv_sd */
    int K;
    int S; /* floats per coordinate's marginal: 3K (spline) or poly_deg + 3 */
    int n_layers, cap_layers;
    flow_layer *layers;
} flow;

/* flow.c */
nota_status flow_opts_parse(const nota_config *cfg, flow_opts *o);

/* layers.c */
void flow_layer_free(flow_layer *l);
void flow_clear(flow *f); /* drop fitted state, keep options */
/* Gather a full layer's active rows for the low-rank path when there are
 * at most P/2 of them (else, and for patch layers, nothing is built). */
nota_status flow_layer_compact(flow_layer *l);
/* Permutation of a patch layer (D entries) for image (C,H,W). */
nota_status flow_patch_perm(int C, int H, int W, int p, int sy, int sx, int64_t **out);
/* Parse the schedule into patch sizes (0 = full); *n tokens. */
nota_status flow_schedule_parse(const flow *f, int *tokens, int cap, int *n);

/* directions.c: rows of rot (P×P) = directions for the P-blocks of b. */
struct flow_batch;
/* q < 0: all D/P blocks pooled; q >= 0: block q only (patch position q). */
nota_status flow_pca_rotation(const struct flow_batch *b, int64_t P, int64_t q, float *rot);
nota_status flow_ica_rotation(const struct flow_batch *b, int64_t P, int64_t q, int64_t items,
                              int iters, uint64_t seed, uint64_t stream, float *rot);
/* A full layer's rotation (P = D, q = -1): the principal axes (of the
 * first o->full_items items when > 0), then with rotation=ica|swd the
 * search inside the span of the top k of them (k <= 0: axes only). */
nota_status flow_subspace_rotation(const struct flow_batch *b, int64_t P, int64_t k,
                                   const flow_opts *o, uint64_t seed, uint64_t stream, float *rot);
/* swd.c: max-sliced-Wasserstein directions (SINF), on at most `cols`
 * columns (the first cols/blocks items of each block used). */
nota_status flow_swd_rotation(const struct flow_batch *b, int64_t P, int64_t q, int64_t cols,
                              int iters, uint64_t seed, uint64_t stream, float *rot);
/* W ← (W Wᵀ)^{-1/2} W in double (P×P); s, t P×P scratch, lam P + P×P. */
nota_status flow_sym_orth(int64_t P, double *W, double *s, double *t, double *lam);
/* Largest 1 − |<w_i, prev_i>| over the P rows (unit vectors) of W and prev:
 * how far the most-turned direction moved in one iteration. */
double flow_max_turn(int64_t P, const double *W, const double *prev);

/* ar.c */
struct spline_work;
int64_t flow_ar_m(int radius);                      /* neighbours of radius R: 2R(R+1) */
int64_t flow_ar_weights(int64_t m, bool quadratic); /* m (+ m) + 1 */
/* Neighbour table (D × M) of a layer visiting coordinates in direction dir. */
nota_status flow_ar_neighbours(const flow *f, int radius, int dir, int64_t **out);
/* Fit autoregressive layer `index` (its direction alternates with the
 * index) on the training batch t, apply it to t, and set each
 * coordinate's training log-likelihood gain (0 when left unchanged). */
nota_status flow_ar_fit(const flow *f, struct flow_batch *t, int index, struct spline_work *work,
                        int threads, double *gain, flow_layer *l);
nota_status flow_ar_apply(const flow *f, const flow_layer *l, struct flow_batch *b, bool inverse);
int flow_ar_bin(const float *e, int64_t B, double v); /* edges e[1..B-1] <= v */
/* Least squares of row r of a (D × N) on its neighbours into row r of w;
 * G: scratch of (P + 1) P doubles, P = flow_ar_weights(l->ar_m, l->ar_quad). */
void flow_ar_regress(const flow_layer *l, int64_t r, const float *a, int64_t N, double *G,
                     float *w);
/* Add one item's features f (P) and target y to G's lower triangle and
 * rhs = G + P·P. */
void flow_ar_accumulate(double *G, int64_t P, const double *f, double y);
/* Solve G w = rhs (lower triangle of G accumulated, rhs = G + P·P) with a
 * small ridge; w[j] = 0 where drop[j]. */
void flow_ar_solve(double *G, int64_t P, const uint8_t *drop, float *w);
void flow_spline_identity(float *kn, int K); /* knots on [-4, 4], slopes 1 */

/* arcell.c */
#define FLOW_AR_MAX_CELLS 65536
/* Fit shared-cell autoregressive layer `index` on t, apply it to t, set
 * each coordinate's training gain; squash: contexts in pixel intensity
 * (the layer sees the logit-preprocessed data). */
#define FLOW_AR_MAX_HIDDEN 512
nota_status flow_arcell_fit(const flow *f, struct flow_batch *t, int index, int squash,
                            const nota_host *host, struct spline_work *work, int threads,
                            double *gain, flow_layer *l);
int64_t flow_arcell_scale_weights(int64_t m, bool net); /* m + 7, + 1 with the net */
int64_t flow_arcell_pred_weights(int64_t m, bool net);  /* m + 14, + 1 with the net */
/* The base features of coordinate r, item i (M + 13: the neighbours'
 * context values, then 13 edge features). */
void flow_arcell_base_features(const flow_layer *l, int64_t r, const float *v, int64_t N, int64_t i,
                               double *f);

/* arnet.c: the net prediction of a shared-cell layer (layout: flow_layer) */
int64_t flow_arcell_net_inputs(int64_t m); /* m + 15 */
int64_t flow_arcell_net_size(int64_t m, int64_t hidden);
/* Train l->ar_net on the context values v (D × N) of the training batch;
 * ar_net_steps steps of the options, at most 8 passes over the values. */
nota_status flow_arnet_train(const flow *f, flow_layer *l, const float *v, int64_t N, int index,
                             const nota_host *host);
/* The net's two outputs for coordinate r, item i, into g[2(rN + i)] (the
 * prediction) and g[2(rN + i) + 1] (the error to expect). */
void flow_arnet_eval(const flow_layer *l, int64_t r, const float *v, int64_t N, int64_t i,
                     float *g);
void flow_arcell_near(const flow *f, int radius, int64_t near[6]);
/* arblend.c: the cell of context c3 (with ar_blend: of the nearest
 * centres); the cells and weights that map a value (1, or up to 8 with
 * ar_blend; returns how many); their blend Σ w S(t) with *d its
 * derivative, and its inverse. */
int64_t flow_arcell_cell(const flow_layer *l, const double c3[3]);
int flow_arcell_pick(const flow_layer *l, const double c3[3], int64_t cell[8], double w[8]);
double flow_arcell_blend_fwd(const float *knots, int K, const int64_t *cell, const double *w, int n,
                             double t, double *d);
double flow_arcell_blend_inv(const float *knots, int K, const int64_t *cell, const double *w, int n,
                             double z);
/* NOTA_ENOMEM when the net predictions of the batch cannot be allocated. */
nota_status flow_arcell_apply(const flow *f, const flow_layer *l, struct flow_batch *b,
                              bool inverse);

/* transform.c — a batch held as D rows of N values in some row order. */
typedef struct flow_batch {
    int64_t D, N;
    float *a, *b;   /* current data and scratch, D×N each */
    int64_t *order; /* order[r] = canonical coordinate at row r */
    int64_t *pos;   /* scratch D */
    double *logdet; /* N, or NULL when not tracked */
    int threads;
} flow_batch;

nota_status flow_batch_new(int64_t D, int64_t N, bool logdet, int threads, flow_batch *b);
void flow_batch_free(flow_batch *b);
/* Load items (N×D row-major) into the batch in canonical order. */
void flow_batch_load(flow_batch *b, const float *x);
/* Write the batch (put back in canonical order) as N×D row-major. */
void flow_batch_store(flow_batch *b, float *x);
/* Reorder rows to `perm` (NULL = canonical). */
void flow_batch_reorder(flow_batch *b, const int64_t *perm);
/* y = R x on every patch (transpose: x = Rᵀ y): one GEMM on (P, Q·N) when
 * nrot = 1; with nrot = Q, patch q gets its own R_q (rot + q·P·P). */
void flow_batch_rotate(flow_batch *b, const float *rot, int64_t P, int64_t nrot, bool transpose);
/* Splines of a layer on every row; logdet accumulated when tracked. */
void flow_batch_splines(flow_batch *b, const flow *f, const flow_layer *l, bool inverse);
/* Per-item log N(z; 0, I) added into out (N doubles). */
void flow_batch_lognormal(const flow_batch *b, double *out);

/* Check data range and apply pre (forward, with log-det) / its inverse. */
nota_status flow_pre_check(const flow *f, const float *x, int64_t n, const char *what);
void flow_pre_fwd(const flow *f, flow_batch *b);
void flow_pre_inv(const flow *f, flow_batch *b);
nota_status flow_layer_fwd(const flow *f, const flow_layer *l, flow_batch *b);
nota_status flow_layer_inv(const flow *f, const flow_layer *l, flow_batch *b);

nota_status flow_check_items(const flow *f, const nota_tensor *x, const char *what);
nota_status flow_fit_check(flow *f, const nota_tensor *train, const nota_tensor *valid);
nota_status flow_encode(flow *f, const nota_tensor *x, const nota_host *host, bool want_z,
                        nota_tensor **z, nota_tensor **lp);
nota_status flow_decode(flow *f, const float *z, int64_t n, double scale, const nota_host *host,
                        nota_tensor **out);

/* fit.c */
nota_status flow_fit(flow *f, const nota_tensor *train, const nota_tensor *valid,
                     const nota_host *host);

/* io.c */
nota_status flow_save(const flow *f, nota_modelfile *mf);
nota_status flow_load(const nota_modelfile *mf, flow *f);

/* parallel.c: fn(ctx, begin, end, thread) over [0, n) in chunks of `grain`,
 * handed out dynamically to `threads` workers (the caller is one of them). */
typedef void (*flow_par_fn)(void *ctx, int64_t begin, int64_t end, int thread);
void flow_parallel(int threads, int64_t n, int64_t grain, flow_par_fn fn, void *ctx);

#endif
