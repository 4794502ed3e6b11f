/* The flow plugin: NOTA's rotation flow (iterative Gaussianization, the
 * family of RBIG / SINF / GIS) with an exact likelihood. This file is the
 * plugin boundary — the descriptor, the option table and the dispatch; the
 * model lives in the files listed in flow.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "poly.h"

#define FLOW_VERSION 1
#define STREAM_SAMPLE 0x53414d5000000000ull /* "SAMP" */

struct nota_model {
    nota_config *cfg;
    flow f;
};

static const nota_option options[] = {
    {"schedule", NOTA_VAL_STRING, "auto",
     "layer kinds, cycled: comma-separated 'full' or patch sizes p (p×p×C patches with a random "
     "circular shift per layer), e.g. '4,2'; auto = '4,2' for images, 'full' for vectors",
     0, 0, NULL},
    {"full_every", NOTA_VAL_INT, "10",
     "every K-th layer (layers 0, K, 2K, ...) is a full layer whatever the schedule (0 = never)", 0,
     100000, NULL},
    {"rotation", NOTA_VAL_STRING, "ica",
     "directions: random (Haar rotations, the poster's); pca (every search_every-th layer uses "
     "the principal axes of the current data, of the patches or of the whole item); ica (those "
     "layers use the least Gaussian directions, by orthogonal FastICA — full layers of more "
     "than 64 values PCA); swd (those layers use the directions farthest from N(0,1) in "
     "Wasserstein-2 distance, SINF's max-sliced Wasserstein — full layers of more than 64 "
     "values PCA)",
     0, 0, "random|pca|ica|swd"},
    {"search_every", NOTA_VAL_INT, "1",
     "with rotation=pca|ica|swd: layers 0, K, 2K, ... use the data-driven directions, the others "
     "random ones",
     1, 100000, NULL},
    {"ica_items", NOTA_VAL_INT, "4096", "items the ICA direction search looks at", 16, 100000000,
     NULL},
    {"ica_iters", NOTA_VAL_INT, "0",
     "FastICA fixed-point iterations (rotation=swd: gradient steps) per layer; 0 = auto: ica "
     "on patch layers 100, everything else 8 (a converged search of the whole space returns the "
     "same directions every layer)",
     0, 1000, NULL},
    {"swd_cols", NOTA_VAL_INT, "16384",
     "rotation=swd: projected values each direction search sorts (spread over the patches)", 256,
     100000000, NULL},
    {"full_search", NOTA_VAL_INT, "0",
     "rotation=ica|swd, full layers of more than 64 values: after the principal axes, search "
     "(ICA or SWD) inside the span of the top K of them and replace those K (0 = principal axes "
     "only)",
     0, FLOW_MAX_ROT, NULL},
    {"full_rank", NOTA_VAL_INT, "0",
     "full layers after the first move only the first K rows of their rotation (the top K "
     "principal axes with pca|ica|swd) and leave the rest unchanged: a cheaper full layer "
     "(0 = all rows)",
     0, FLOW_MAX_ROT, NULL},
    {"full_items", NOTA_VAL_INT, "0",
     "full layers with data-driven directions: items their principal axes are computed from "
     "(the first K training items; 0 = all)",
     0, 100000000, NULL},
    {"patch_rotation", NOTA_VAL_STRING, "shared",
     "patch layers: shared = one rotation for every patch of the layer; each = one per patch "
     "position (with pca/ica/swd: that position's own statistics)",
     0, 0, "shared|each"},
    {"marginal", NOTA_VAL_STRING, "spline",
     "1-D marginal maps: spline (monotone rational-quadratic, linear tails); poly (the NOTA "
     "poster's polynomial of degree poly_deg on the stored support bounds, certified increasing "
     "there)",
     0, 0, "spline|poly"},
    {"poly_deg", NOTA_VAL_INT, "9",
     "marginal=poly: polynomial degree (lowered per coordinate until the fit is increasing)", 1, 16,
     NULL},
    {"poly_tails", NOTA_VAL_STRING, "linear",
     "marginal=poly outside the support bounds: linear = tangent line at the bound (a "
     "bijection); extrapolate = the polynomial itself, the poster's (may fold and blow up)",
     0, 0, "linear|extrapolate"},
    {"ar_layers", NOTA_VAL_INT, "1",
     "the first K layers are autoregressive: each coordinate, in raster order (reversed every "
     "other layer), gets one of ar_bins splines chosen by a linear prediction from the "
     "coordinates before it within ar_radius (exact, triangular Jacobian; 0 = none); layers "
     "after the first read continuous contexts, which codes perturbed by the rotation layers' "
     "float rounding can move across a cell edge, so about 2 images in a hundred decode wrongly "
     "(docs/flow.md, bench/flow_decode.sh)",
     0, FLOW_MAX_LAYERS, NULL},
    {"ar_bins", NOTA_VAL_INT, "64",
     "autoregressive layers: quantile bins of the context per coordinate, one spline each "
     "(fewer when a bin would hold under 256 training items)",
     1, FLOW_AR_MAX_BINS, NULL},
    {"ar_shared", NOTA_VAL_INT, "1",
     "the first K autoregressive layers share their splines across all coordinates, one per "
     "cell of three context numbers: the prediction (ar_pred_bins bins), the error to expect "
     "(ar_scale_bins) and the nearest neighbours' own prediction errors (ar_err_bins); images "
     "only (vectors get per-coordinate layers); the first layer of a logit model reads its "
     "context as pixel intensities",
     0, FLOW_MAX_LAYERS, NULL},
    {"ar_pred_bins", NOTA_VAL_INT, "128",
     "shared autoregressive layers: quantile bins of the prediction", 1, FLOW_AR_MAX_BINS, NULL},
    {"ar_scale_bins", NOTA_VAL_INT, "16",
     "shared autoregressive layers: quantile bins of the error to expect (a least-squares "
     "prediction of |x - prediction| from the neighbours' distances and errors)",
     1, FLOW_AR_MAX_BINS, NULL},
    {"ar_err_bins", NOTA_VAL_INT, "8",
     "shared autoregressive layers: quantile bins of the nearest neighbours' own prediction "
     "errors",
     1, FLOW_AR_MAX_BINS, NULL},
    {"ar_blend", NOTA_VAL_STRING, "levels",
     "shared autoregressive layers that map each value by the splines of the cells around its "
     "context, blended by the context's position between their centres (continuous in the "
     "context, better likelihood): levels = those reading level contexts (ar_levels), where a "
     "decode of codes slightly perturbed by rotation layers stays close; all = every one (in "
     "later layers such an error then grows from pixel to pixel: only for likelihoods); none "
     "= each value takes the spline of the one cell its context falls in",
     0, 0, "levels|all|none"},
    {"ar_levels", NOTA_VAL_BOOL, "true",
     "the first shared autoregressive layer of an 8-bit image model reads its neighbours at the "
     "centre of their 8-bit level (their dequantization noise carries nothing), so decoding codes "
     "perturbed by float rounding (e.g. by rotation layers) finds the same contexts; false = the "
     "intensities as they are",
     0, 0, NULL},
    {"ar_hidden", NOTA_VAL_INT, "128",
     "shared autoregressive layers: a net with two hidden layers of this width, shared by all "
     "coordinates, predicts each value and the error to expect from its neighbours, their edge "
     "features and its position; they are one more input of the linear prediction and of the "
     "learned scale (0 = none)",
     0, FLOW_AR_MAX_HIDDEN, NULL},
    {"ar_net_steps", NOTA_VAL_INT, "16000",
     "shared autoregressive layers: training steps of that net (Adam, 4096 values a step; at "
     "most 8 passes over the training values)",
     1, 1000000, NULL},
    {"ar_net_layers", NOTA_VAL_INT, "1",
     "the first K shared autoregressive layers get that net (the later ones read the earlier "
     "layers' outputs, where it finds little)",
     0, FLOW_MAX_LAYERS, NULL},
    {"ar_window", NOTA_VAL_INT, "1",
     "autoregressive layers: each bin's spline is fitted to the items of the h bins on either "
     "side too (smoother in the context, less fitted noise; 0 = its own bin only)",
     0, FLOW_AR_MAX_BINS, NULL},
    {"ar_radius", NOTA_VAL_INT, "3",
     "autoregressive layers: context radius R, the 2R(R+1) coordinates before each one (images: "
     "rows above and pixels to the left within R, same channel)",
     1, FLOW_AR_MAX_RADIUS, NULL},
    {"ar_context", NOTA_VAL_STRING, "linear",
     "autoregressive layers: the context predicting each coordinate is linear in its "
     "neighbours, or quadratic (their squares too: twice the weights, 7 s more per layer on "
     "Fashion-MNIST)",
     0, 0, "linear|quadratic"},
    {"knots", NOTA_VAL_INT, "32", "knots per marginal spline", 4, 512, NULL},
    {"grid", NOTA_VAL_INT, "1024", "grid points of each marginal's smoothed CDF", 64, 65536, NULL},
    {"damping", NOTA_VAL_FLOAT, "0.7",
     "fraction of the way each layer moves a marginal toward N(0,1) (1 = all the way)", 0.01, 1,
     NULL},
    {"bandwidth", NOTA_VAL_FLOAT, "1.0",
     "factor on the CDF smoothing bandwidth 0.9 min(sd, IQR/1.349) N^(-1/3)", 0.05, 20, NULL},
    {"min_gain", NOTA_VAL_FLOAT, "1.0",
     "a coordinate's spline is kept only if its training log-likelihood gain exceeds "
     "min_gain × knots / N nats (else the coordinate is left unchanged)",
     0, 1000, NULL},
    {"max_layers", NOTA_VAL_INT, "400", "most layers to fit", 1, FLOW_MAX_LAYERS, NULL},
    {"time_limit", NOTA_VAL_FLOAT, "300", "stop adding layers after this many seconds (0 = none)",
     0, 1e9, NULL},
    {"patience", NOTA_VAL_INT, "20",
     "stop after this many layers without a better validation log-likelihood", 1, 100000, NULL},
    {"valid_fraction", NOTA_VAL_FLOAT, "0.1",
     "share of the training items held out for validation when no validation set is given "
     "(0 = none: no early stopping)",
     0, 0.5, NULL},
    {"preprocess", NOTA_VAL_STRING, "auto",
     "logit: x/256 squeezed by logit_lambda then logit (8-bit images in [0,256)); none; auto = "
     "logit for images (C,H,W), none for vectors",
     0, 0, "auto|logit|none"},
    {"logit_lambda", NOTA_VAL_FLOAT, "1e-6",
     "logit squeeze: p = lambda + (1 - 2 lambda) x / 256 (the likelihood stays exact in pixel "
     "space for any lambda; see docs/flow.md for a sweep)",
     1e-9, 0.25, NULL},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

/* Options added after the first model files were written: a file's config
 * without them means the defaults they had then. */
static bool has_key(const nota_config *cfg, const char *key) {
    for (size_t i = 0; i < nota_config_count(cfg); i++)
        if (strcmp(nota_config_key(cfg, i), key) == 0) return true;
    return false;
}

static nota_status parse_later_options(const nota_config *cfg, flow_opts *o) {
    const char *pr = "shared", *mg = "spline", *tl = "linear", *ac = "linear";
    o->poly_deg = 9;
    o->swd_cols = 16384;
    nota_status st = NOTA_OK;
    o->full_search = 0;
    o->full_rank = 0;
    o->full_items = 0;
    o->ar_layers = 0; /* files written before autoregressive layers have none */
    o->ar_bins = 16;  /* (ar_layers = 0 makes the rest moot) */
    o->ar_window = 0;
    o->ar_radius = 3;
    o->ar_shared = 0; /* files written before shared layers have none */
    o->ar_pred_bins = 128;
    o->ar_scale_bins = 16;
    o->ar_err_bins = 8;
    o->ar_hidden = 0; /* files written before the net prediction have none */
    o->ar_net_steps = 16000;
    o->ar_net_layers = 1;
    const char *bl = "none"; /* files written before blending have one cell's spline */
    o->ar_levels = false;
    if (!st && has_key(cfg, "ar_levels"))
        st = nota_config_get_bool(cfg, "ar_levels", &o->ar_levels);
    if (!st && has_key(cfg, "ar_blend")) st = nota_config_get_string(cfg, "ar_blend", &bl);
    if (!st && has_key(cfg, "ar_hidden")) st = nota_config_get_int(cfg, "ar_hidden", &o->ar_hidden);
    if (!st && has_key(cfg, "ar_net_steps"))
        st = nota_config_get_int(cfg, "ar_net_steps", &o->ar_net_steps);
    if (!st && has_key(cfg, "ar_net_layers"))
        st = nota_config_get_int(cfg, "ar_net_layers", &o->ar_net_layers);
    if (!st && has_key(cfg, "ar_shared")) st = nota_config_get_int(cfg, "ar_shared", &o->ar_shared);
    if (!st && has_key(cfg, "ar_pred_bins"))
        st = nota_config_get_int(cfg, "ar_pred_bins", &o->ar_pred_bins);
    if (!st && has_key(cfg, "ar_scale_bins"))
        st = nota_config_get_int(cfg, "ar_scale_bins", &o->ar_scale_bins);
    if (!st && has_key(cfg, "ar_err_bins"))
        st = nota_config_get_int(cfg, "ar_err_bins", &o->ar_err_bins);
    if (!st && has_key(cfg, "ar_layers")) st = nota_config_get_int(cfg, "ar_layers", &o->ar_layers);
    if (!st && has_key(cfg, "ar_bins")) st = nota_config_get_int(cfg, "ar_bins", &o->ar_bins);
    if (!st && has_key(cfg, "ar_window")) st = nota_config_get_int(cfg, "ar_window", &o->ar_window);
    if (!st && has_key(cfg, "ar_radius")) st = nota_config_get_int(cfg, "ar_radius", &o->ar_radius);
    if (!st && has_key(cfg, "ar_context")) st = nota_config_get_string(cfg, "ar_context", &ac);
    if (!st && has_key(cfg, "swd_cols")) st = nota_config_get_int(cfg, "swd_cols", &o->swd_cols);
    if (!st && has_key(cfg, "full_items"))
        st = nota_config_get_int(cfg, "full_items", &o->full_items);
    if (!st && has_key(cfg, "full_rank")) st = nota_config_get_int(cfg, "full_rank", &o->full_rank);
    if (!st && has_key(cfg, "full_search"))
        st = nota_config_get_int(cfg, "full_search", &o->full_search);
    if (!st && has_key(cfg, "patch_rotation"))
        st = nota_config_get_string(cfg, "patch_rotation", &pr);
    if (!st && has_key(cfg, "marginal")) st = nota_config_get_string(cfg, "marginal", &mg);
    if (!st && has_key(cfg, "poly_deg")) st = nota_config_get_int(cfg, "poly_deg", &o->poly_deg);
    if (!st && has_key(cfg, "poly_tails")) st = nota_config_get_string(cfg, "poly_tails", &tl);
    if (st) return nota_error_prefix(st, "flow config: ");
    if (o->swd_cols < 256 || o->swd_cols > 100000000)
        return nota_error(NOTA_EINVAL, "flow config: swd_cols %lld (expected 256..100000000)",
                          (long long)o->swd_cols);
    if (o->ar_layers < 0 || o->ar_layers > FLOW_MAX_LAYERS || o->ar_bins < 1 ||
        o->ar_bins > FLOW_AR_MAX_BINS || o->ar_window < 0 || o->ar_window > FLOW_AR_MAX_BINS ||
        o->ar_radius < 1 || o->ar_radius > FLOW_AR_MAX_RADIUS)
        return nota_error(NOTA_EINVAL,
                          "flow config: ar_layers %lld, ar_bins %lld, ar_window %lld, ar_radius "
                          "%lld (expected 0..%d, 1..%d, 0..%d, 1..%d)",
                          (long long)o->ar_layers, (long long)o->ar_bins, (long long)o->ar_window,
                          (long long)o->ar_radius, FLOW_MAX_LAYERS, FLOW_AR_MAX_BINS,
                          FLOW_AR_MAX_BINS, FLOW_AR_MAX_RADIUS);
    if (o->ar_shared < 0 || o->ar_shared > FLOW_MAX_LAYERS || o->ar_pred_bins < 1 ||
        o->ar_pred_bins > FLOW_AR_MAX_BINS || o->ar_scale_bins < 1 ||
        o->ar_scale_bins > FLOW_AR_MAX_BINS || o->ar_err_bins < 1 ||
        o->ar_err_bins > FLOW_AR_MAX_BINS ||
        o->ar_pred_bins * o->ar_scale_bins * o->ar_err_bins > FLOW_AR_MAX_CELLS)
        return nota_error(NOTA_EINVAL,
                          "flow config: ar_shared %lld, ar_pred_bins %lld, ar_scale_bins %lld, "
                          "ar_err_bins %lld (expected 0..%d, bins 1..%d each and at most %d "
                          "cells in all)",
                          (long long)o->ar_shared, (long long)o->ar_pred_bins,
                          (long long)o->ar_scale_bins, (long long)o->ar_err_bins, FLOW_MAX_LAYERS,
                          FLOW_AR_MAX_BINS, FLOW_AR_MAX_CELLS);
    if (o->ar_hidden < 0 || o->ar_hidden > FLOW_AR_MAX_HIDDEN || o->ar_net_steps < 1 ||
        o->ar_net_steps > 1000000 || o->ar_net_layers < 0 || o->ar_net_layers > FLOW_MAX_LAYERS)
        return nota_error(NOTA_EINVAL,
                          "flow config: ar_hidden %lld, ar_net_steps %lld, ar_net_layers %lld "
                          "(expected 0..%d, 1..1000000, 0..%d)",
                          (long long)o->ar_hidden, (long long)o->ar_net_steps,
                          (long long)o->ar_net_layers, FLOW_AR_MAX_HIDDEN, FLOW_MAX_LAYERS);
    if (o->full_items < 0 || o->full_items > 100000000)
        return nota_error(NOTA_EINVAL, "flow config: full_items %lld (expected 0..100000000)",
                          (long long)o->full_items);
    if (o->full_rank < 0 || o->full_rank > FLOW_MAX_ROT)
        return nota_error(NOTA_EINVAL, "flow config: full_rank %lld (expected 0..%d)",
                          (long long)o->full_rank, FLOW_MAX_ROT);
    if (o->full_search < 0 || o->full_search > FLOW_MAX_ROT)
        return nota_error(NOTA_EINVAL, "flow config: full_search %lld (expected 0..%d)",
                          (long long)o->full_search, FLOW_MAX_ROT);
    if (strcmp(pr, "shared") == 0 || strcmp(pr, "each") == 0)
        o->rot_each = strcmp(pr, "each") == 0;
    else
        return nota_error(NOTA_EINVAL, "flow config: patch_rotation '%s' (expected shared|each)",
                          pr);
    if (strcmp(bl, "none") == 0 || strcmp(bl, "levels") == 0 || strcmp(bl, "all") == 0)
        o->ar_blend = strcmp(bl, "all") == 0      ? FLOW_BLEND_ALL
                      : strcmp(bl, "levels") == 0 ? FLOW_BLEND_LEVELS
                                                  : FLOW_BLEND_NONE;
    else
        return nota_error(NOTA_EINVAL, "flow config: ar_blend '%s' (expected levels|all|none)", bl);
    if (strcmp(ac, "linear") == 0 || strcmp(ac, "quadratic") == 0)
        o->ar_quad = strcmp(ac, "quadratic") == 0;
    else
        return nota_error(NOTA_EINVAL, "flow config: ar_context '%s' (expected linear|quadratic)",
                          ac);
    if (strcmp(mg, "spline") == 0 || strcmp(mg, "poly") == 0)
        o->marginal = strcmp(mg, "poly") == 0 ? MARG_POLY : MARG_SPLINE;
    else
        return nota_error(NOTA_EINVAL, "flow config: marginal '%s' (expected spline|poly)", mg);
    if (strcmp(tl, "linear") == 0 || strcmp(tl, "extrapolate") == 0)
        o->poly_tails = strcmp(tl, "extrapolate") == 0 ? POLY_TAILS_EXTRAPOLATE : POLY_TAILS_LINEAR;
    else
        return nota_error(NOTA_EINVAL, "flow config: poly_tails '%s' (expected linear|extrapolate)",
                          tl);
    if (o->poly_deg < 1 || o->poly_deg > POLY_MAX_DEG)
        return nota_error(NOTA_EINVAL, "flow config: poly_deg %lld (expected 1..%d)",
                          (long long)o->poly_deg, POLY_MAX_DEG);
    return NOTA_OK;
}

nota_status flow_opts_parse(const nota_config *cfg, flow_opts *o) {
    memset(o, 0, sizeof *o);
    const char *sched, *rot, *pre;
    nota_status st = nota_config_get_string(cfg, "schedule", &sched);
    if (!st) st = nota_config_get_int(cfg, "full_every", &o->full_every);
    if (!st) st = nota_config_get_string(cfg, "rotation", &rot);
    if (!st) st = nota_config_get_int(cfg, "search_every", &o->search_every);
    if (!st) st = nota_config_get_int(cfg, "ica_items", &o->ica_items);
    if (!st) st = nota_config_get_int(cfg, "ica_iters", &o->ica_iters);
    if (!st) st = nota_config_get_int(cfg, "knots", &o->knots);
    if (!st) st = nota_config_get_int(cfg, "grid", &o->grid);
    if (!st) st = nota_config_get_float(cfg, "damping", &o->damping);
    if (!st) st = nota_config_get_float(cfg, "bandwidth", &o->bandwidth);
    if (!st) st = nota_config_get_float(cfg, "min_gain", &o->min_gain);
    if (!st) st = nota_config_get_int(cfg, "max_layers", &o->max_layers);
    if (!st) st = nota_config_get_float(cfg, "time_limit", &o->time_limit);
    if (!st) st = nota_config_get_int(cfg, "patience", &o->patience);
    if (!st) st = nota_config_get_float(cfg, "valid_fraction", &o->valid_fraction);
    if (!st) st = nota_config_get_string(cfg, "preprocess", &pre);
    if (!st) st = nota_config_get_float(cfg, "logit_lambda", &o->logit_lambda);
    if (st) return nota_error_prefix(st, "flow config: ");
    if ((st = parse_later_options(cfg, o))) return st;
    if (strlen(sched) >= sizeof o->schedule)
        return nota_error(NOTA_EINVAL, "flow config: schedule is %zu characters, at most %zu",
                          strlen(sched), sizeof o->schedule - 1);
    strcpy(o->schedule, sched);
    if (strcmp(rot, "random") == 0)
        o->rotation = ROT_RANDOM;
    else if (strcmp(rot, "pca") == 0)
        o->rotation = ROT_PCA;
    else if (strcmp(rot, "ica") == 0)
        o->rotation = ROT_ICA;
    else if (strcmp(rot, "swd") == 0)
        o->rotation = ROT_SWD;
    else
        return nota_error(NOTA_EINVAL, "flow config: rotation '%s' (expected random|pca|ica|swd)",
                          rot);
    if (strcmp(pre, "auto") == 0)
        o->preprocess = PRE_AUTO;
    else if (strcmp(pre, "logit") == 0)
        o->preprocess = PRE_LOGIT;
    else if (strcmp(pre, "none") == 0)
        o->preprocess = PRE_NONE;
    else
        return nota_error(NOTA_EINVAL, "flow config: preprocess '%s' (expected auto|logit|none)",
                          pre);
    /* the option table bounds the ranges; these guard configs read from files */
    if (o->knots < 4 || o->knots > 512 || o->grid < 64 || o->grid > 65536 ||
        !(o->damping > 0 && o->damping <= 1) || !(o->bandwidth > 0) || o->max_layers < 1 ||
        o->max_layers > FLOW_MAX_LAYERS || o->patience < 1 || o->search_every < 1 ||
        o->ica_items < 16 || o->ica_iters < 0 || o->ica_iters > 1000 || o->full_every < 0 ||
        !(o->valid_fraction >= 0 && o->valid_fraction <= 0.5) ||
        !(o->logit_lambda > 0 && o->logit_lambda <= 0.25) || !(o->min_gain >= 0) ||
        !(o->time_limit >= 0))
        return nota_error(NOTA_EINVAL, "flow config: a value is outside its documented range "
                                       "(see `nota-host help flow`)");
    return NOTA_OK;
}

static nota_status make(const nota_config *cfg, nota_model **out) {
    *out = NULL;
    nota_model *m = calloc(1, sizeof *m);
    if (!m) return nota_error(NOTA_ENOMEM, "flow: allocation failed");
    nota_status st = flow_opts_parse(cfg, &m->f.o);
    if (!st) st = nota_config_clone(cfg, &m->cfg);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return NOTA_OK;
}

static void destroy(nota_model *m) {
    if (!m) return;
    flow_clear(&m->f);
    nota_config_free(m->cfg);
    free(m);
}

static nota_status create(const nota_config *cfg, const nota_host *host, nota_model **out) {
    return make(cfg, out);
}

static nota_status fit(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                       const nota_host *host) {
    return flow_fit(&m->f, train, valid, host);
}

static nota_status sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                          nota_tensor **out) {
    *out = NULL;
    if (!m->f.mu) return nota_error(NOTA_EINVAL, "flow: sample before the model was fitted");
    if (n < 1)
        return nota_error(NOTA_EINVAL, "flow sample: n must be >= 1, got %lld", (long long)n);
    if (!(temperature >= 0))
        return nota_error(NOTA_EINVAL, "flow sample: temperature must be >= 0, got %g",
                          temperature);
    size_t cnt;
    int64_t shape[2] = {n, m->f.D};
    if (nota_shape_size(2, shape, NOTA_F32, &cnt, NULL))
        return nota_error(NOTA_ELIMIT, "flow sample: %lld samples of %lld values is too many",
                          (long long)n, (long long)m->f.D);
    float *z = malloc(cnt * sizeof *z);
    if (!z) return nota_error(NOTA_ENOMEM, "flow sample: cannot allocate %lld codes", (long long)n);
    nota_rng_fill_normal(host ? host->seed : 0, STREAM_SAMPLE, z, cnt);
    nota_status st = flow_decode(&m->f, z, n, temperature, host, out);
    free(z);
    return st;
}

static nota_status encode(nota_model *m, const nota_tensor *x, const nota_host *host,
                          nota_tensor **out) {
    return flow_encode(&m->f, x, host, true, out, NULL);
}

static nota_status decode(nota_model *m, const nota_tensor *z, const nota_host *host,
                          nota_tensor **out) {
    *out = NULL;
    nota_status st = flow_check_items(&m->f, z, "decode");
    if (st) return st;
    return flow_decode(&m->f, nota_tensor_f32(z), z->shape[0], 1.0, host, out);
}

static nota_status log_prob(nota_model *m, const nota_tensor *x, const nota_host *host,
                            nota_tensor **out) {
    return flow_encode(&m->f, x, host, false, NULL, out);
}

static nota_status save(const nota_model *m, nota_modelfile *mf) {
    nota_status st = nota_modelfile_set_config(mf, m->cfg);
    return st ? st : flow_save(&m->f, mf);
}

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    nota_status st = make(nota_modelfile_config(mf), out);
    if (st) return st;
    st = flow_load(mf, &(*out)->f);
    if (st) {
        destroy(*out);
        *out = NULL;
    }
    return st;
}

static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    if (!m->f.mu) return 0;
    memcpy(shape, m->f.item_shape, (size_t)m->f.item_ndim * sizeof(int64_t));
    return m->f.item_ndim;
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "flow",
    .version = FLOW_VERSION,
    .family = "flow",
    .description = "rotation flow (iterative Gaussianization): random/PCA/ICA rotations, full or "
                   "patch-wise, and monotone spline or polynomial marginals, after autoregressive "
                   "layers (splines chosen by a prediction from earlier coordinates); exact "
                   "likelihood",
    .caps = NOTA_CAP_FIT | NOTA_CAP_SAMPLE | NOTA_CAP_ENCODE | NOTA_CAP_DECODE | NOTA_CAP_LOG_PROB,
    .options = options,
    .n_options = N_OPTIONS,
    .create = create,
    .fit = fit,
    .sample = sample,
    .encode = encode,
    .decode = decode,
    .log_prob = log_prob,
    .eval = NULL,
    .save = save,
    .load = load,
    .destroy = destroy,
    .data_shape = data_shape,
    .code_shape = data_shape,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
