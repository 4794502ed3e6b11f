/* Save and load. A flow file holds the standardisation ("mu", "inv_sd", in
 * the item shape, so the data shape travels with them), "meta" = [logit,
 * lambda, knots, layers], and per layer l: "lNNNN.spec" = [patch, shift_y,
 * shift_x], "lNNNN.rot" (P, P), or (Q, P, P) for a patch layer with one
 * rotation per patch position, "lNNNN.knots" (D, 3, K) — or, with
 * marginal=poly (the saved config says which), "lNNNN.poly" (D, deg + 3) —
 * and "lNNNN.active" u8 (D); an autoregressive layer (ar.c) has spec
 * [-1, dir, radius], "lNNNN.arw" (D, M + 1) — (D, 2M + 1) with
 * ar_context=quadratic —, "lNNNN.are" (D, B) and
 * "lNNNN.knots" (D, B, 3, K) instead of the rotation; a shared-cell one
 * (arcell.c) has spec [-2, dir, radius], "lNNNN.arc" = [bins of the
 * prediction, scale, error, squash, net width H, blend] (files written
 * before the net prediction have 4 entries: H = 0; before blending 5:
 * blend = 0), "lNNNN.art" (D, 2) target
 * scale and offset, "lNNNN.arw" (D, M + 14) — (D, M + 15) with a net —,
 * "lNNNN.ars" (D, M + 7) scale weights — (D, M + 8) with a net —,
 * "lNNNN.are" (B1 + B2 + B3) bin edges — bin centres with blend —,
 * "lNNNN.knots" (B1·B2·B3, 3, K) and, with a net, "lNNNN.arn"
 * (flow_arcell_net_size(M, H)) its weights. Every value is f32 and computations use the
 * stored values, so a reloaded model reproduces log_prob bit for bit. Files are untrusted: every
 * count, shape and spline is checked before use (an invalid spline would make the map
 * non-invertible, not just wrong).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "poly.h"

static nota_status put(nota_modelfile *mf, const char *name, nota_dtype dt, int ndim,
                       const int64_t *shape, const void *data) {
    nota_tensor *t;
    nota_status st = nota_tensor_wrap(dt, ndim, shape, (void *)data, &t);
    if (st) return st;
    st = nota_modelfile_add_tensor(mf, name, t);
    nota_tensor_free(t);
    return st;
}

/* An autoregressive layer: spec [-1, dir, radius], weights (D, M + 1),
 * bin edges (D, B), splines (D, B, 3, K), active flags. */
static nota_status save_arcell(const flow *f, const flow_layer *ly, int l, nota_modelfile *mf) {
    char name[32];
    float spec[3] = {-2.0f, (float)ly->ar_dir, (float)ly->ar_radius},
          cb[6] = {(float)ly->ar_cb[0],  (float)ly->ar_cb[1],  (float)ly->ar_cb[2],
                   (float)ly->ar_squash, (float)ly->ar_hidden, ly->ar_blend ? 1.0f : 0.0f};
    int64_t three = 3, six = 6, ts[2] = {f->D, 2},
            ns = flow_arcell_net_size(ly->ar_m, ly->ar_hidden),
            ws[2] = {f->D, flow_arcell_pred_weights(ly->ar_m, ly->ar_hidden > 0)},
            ss[2] = {f->D, flow_arcell_scale_weights(ly->ar_m, ly->ar_hidden > 0)},
            ne = ly->ar_cb[0] + ly->ar_cb[1] + ly->ar_cb[2], ks[3] = {ly->ar_bins, 3, f->K};
    snprintf(name, sizeof name, "l%04d.spec", l);
    nota_status st = put(mf, name, NOTA_F32, 1, &three, spec);
    snprintf(name, sizeof name, "l%04d.arc", l);
    if (!st) st = put(mf, name, NOTA_F32, 1, &six, cb);
    snprintf(name, sizeof name, "l%04d.art", l);
    if (!st) st = put(mf, name, NOTA_F32, 2, ts, ly->ar_aff);
    snprintf(name, sizeof name, "l%04d.arw", l);
    if (!st) st = put(mf, name, NOTA_F32, 2, ws, ly->ar_w);
    snprintf(name, sizeof name, "l%04d.ars", l);
    if (!st) st = put(mf, name, NOTA_F32, 2, ss, ly->ar_sw);
    snprintf(name, sizeof name, "l%04d.are", l);
    if (!st) st = put(mf, name, NOTA_F32, 1, &ne, ly->ar_edges);
    snprintf(name, sizeof name, "l%04d.knots", l);
    if (!st) st = put(mf, name, NOTA_F32, 3, ks, ly->knots);
    snprintf(name, sizeof name, "l%04d.arn", l);
    if (!st && ly->ar_hidden) st = put(mf, name, NOTA_F32, 1, &ns, ly->ar_net);
    return st;
}

static nota_status save_ar(const flow *f, const flow_layer *ly, int l, nota_modelfile *mf) {
    char name[32];
    if (ly->ar_cell) return save_arcell(f, ly, l, mf);
    float spec[3] = {-1.0f, (float)ly->ar_dir, (float)ly->ar_radius};
    int64_t three = 3, ws[2] = {f->D, flow_ar_weights(ly->ar_m, ly->ar_quad)},
            es[2] = {f->D, ly->ar_bins}, ks[4] = {f->D, ly->ar_bins, 3, f->K};
    snprintf(name, sizeof name, "l%04d.spec", l);
    nota_status st = put(mf, name, NOTA_F32, 1, &three, spec);
    snprintf(name, sizeof name, "l%04d.arw", l);
    if (!st) st = put(mf, name, NOTA_F32, 2, ws, ly->ar_w);
    snprintf(name, sizeof name, "l%04d.are", l);
    if (!st) st = put(mf, name, NOTA_F32, 2, es, ly->ar_edges);
    snprintf(name, sizeof name, "l%04d.knots", l);
    if (!st) st = put(mf, name, NOTA_F32, 4, ks, ly->knots);
    snprintf(name, sizeof name, "l%04d.active", l);
    if (!st) st = put(mf, name, NOTA_U8, 1, &f->D, ly->active);
    return st;
}

nota_status flow_save(const flow *f, nota_modelfile *mf) {
    if (!f->mu) return nota_error(NOTA_EINVAL, "flow: save before the model was fitted");
    float meta[4] = {f->logit ? 1.0f : 0.0f, f->lambda, (float)f->K, (float)f->n_layers};
    int64_t four = 4, three = 3;
    nota_status st = put(mf, "mu", NOTA_F32, f->item_ndim, f->item_shape, f->mu);
    if (!st) st = put(mf, "inv_sd", NOTA_F32, f->item_ndim, f->item_shape, f->inv_sd);
    if (!st) st = put(mf, "meta", NOTA_F32, 1, &four, meta);
    for (int l = 0; !st && l < f->n_layers; l++) {
        const flow_layer *ly = &f->layers[l];
        char name[32];
        if (ly->ar) {
            st = save_ar(f, ly, l, mf);
            continue;
        }
        float spec[3] = {(float)ly->patch, (float)ly->shift_y, (float)ly->shift_x};
        int64_t rs[3] = {ly->nrot, ly->P, ly->P}, ks[3] = {f->D, 3, f->K}, ps[2] = {f->D, f->S};
        bool each = ly->nrot > 1, poly = f->o.marginal == MARG_POLY;
        snprintf(name, sizeof name, "l%04d.spec", l);
        st = put(mf, name, NOTA_F32, 1, &three, spec);
        snprintf(name, sizeof name, "l%04d.rot", l);
        if (!st) st = put(mf, name, NOTA_F32, each ? 3 : 2, each ? rs : rs + 1, ly->rot);
        snprintf(name, sizeof name, poly ? "l%04d.poly" : "l%04d.knots", l);
        if (!st) st = put(mf, name, NOTA_F32, poly ? 2 : 3, poly ? ps : ks, ly->knots);
        snprintf(name, sizeof name, "l%04d.active", l);
        if (!st) st = put(mf, name, NOTA_U8, 1, &f->D, ly->active);
    }
    return st;
}

/* Tensor `name` of dtype dt and exactly the given shape. */
static nota_status get(const nota_modelfile *mf, const char *name, nota_dtype dt, int ndim,
                       const int64_t *shape, const nota_tensor **t) {
    nota_status st = nota_modelfile_get_tensor(mf, name, t);
    if (st) return st;
    bool ok = (*t)->dtype == dt && (*t)->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = (*t)->shape[i] == shape[i];
    if (!ok) {
        char a[128], b[128];
        return nota_error(NOTA_EFORMAT, "flow model: tensor '%s' is %s %s, expected %s %s", name,
                          nota_dtype_name((*t)->dtype),
                          nota_shape_str((*t)->ndim, (*t)->shape, a, sizeof a), nota_dtype_name(dt),
                          nota_shape_str(ndim, shape, b, sizeof b));
    }
    return dt == NOTA_F32 ? nota_tensor_check_finite(*t, name) : NOTA_OK;
}

static bool is_int(float v, float lo, float hi) { return v >= lo && v <= hi && v == floorf(v); }

static nota_status check_spline_of(const float *kn, int K, int l, const char *what, int64_t r) {
    const float *x = kn, *y = kn + K, *d = kn + 2 * K;
    for (int k = 0; k < K; k++) {
        if (!(d[k] > 0) || (k > 0 && !(x[k] > x[k - 1] && y[k] > y[k - 1])))
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d, %s %lld: spline is not "
                              "strictly increasing at knot %d",
                              l, what, (long long)r, k);
    }
    return NOTA_OK;
}

static nota_status check_spline(const float *kn, int K, int l, int64_t r) {
    return check_spline_of(kn, K, l, "coordinate", r);
}

/* The direction and radius of an autoregressive layer's spec [kind, dir,
 * radius] (either kind). */
static nota_status load_ar_spec(const flow *f, int l, const float *s, flow_layer *ly) {
    if (!is_int(s[1], 0, 1) || !is_int(s[2], 1, FLOW_AR_MAX_RADIUS))
        return nota_error(NOTA_EFORMAT,
                          "flow model: layer %d: autoregressive direction %g, radius %g "
                          "(expected 0|1 and 1..%d)",
                          l, (double)s[1], (double)s[2], FLOW_AR_MAX_RADIUS);
    ly->ar = 1;
    ly->ar_dir = (int)s[1];
    ly->ar_radius = (int)s[2];
    ly->ar_m = flow_ar_m(ly->ar_radius);
    ly->P = f->D;
    ly->nrot = 1;
    return NOTA_OK;
}

static nota_status load_ar(const nota_modelfile *mf, flow *f, int l, const float *s,
                           flow_layer *ly) {
    char name[32];
    const nota_tensor *w, *e, *kn, *act;
    nota_status st = load_ar_spec(f, l, s, ly);
    if (st) return st;
    snprintf(name, sizeof name, "l%04d.are", l);
    if ((st = nota_modelfile_get_tensor(mf, name, &e))) return st;
    if (e->ndim != 2 || e->shape[1] < 1 || e->shape[1] > FLOW_AR_MAX_BINS)
        return nota_error(NOTA_EFORMAT, "flow model: tensor '%s' must be (%lld, B) with B in 1..%d",
                          name, (long long)f->D, FLOW_AR_MAX_BINS);
    ly->ar_bins = e->shape[1];
    if ((st = get(mf, name, NOTA_F32, 2, (int64_t[2]){f->D, ly->ar_bins}, &e))) return st;
    /* the weights' width says linear (M + 1) or quadratic (2M + 1) context */
    snprintf(name, sizeof name, "l%04d.arw", l);
    if ((st = nota_modelfile_get_tensor(mf, name, &w))) return st;
    ly->ar_quad = w->ndim == 2 && w->shape[1] == flow_ar_weights(ly->ar_m, true);
    int64_t ws[2] = {f->D, flow_ar_weights(ly->ar_m, ly->ar_quad)},
            ks[4] = {f->D, ly->ar_bins, 3, f->K};
    if ((st = get(mf, name, NOTA_F32, 2, ws, &w))) return st;
    snprintf(name, sizeof name, "l%04d.knots", l);
    if ((st = get(mf, name, NOTA_F32, 4, ks, &kn))) return st;
    snprintf(name, sizeof name, "l%04d.active", l);
    if ((st = get(mf, name, NOTA_U8, 1, &f->D, &act))) return st;
    const uint8_t *a = nota_tensor_u8(act);
    const float *ed = nota_tensor_f32(e);
    for (int64_t r = 0; r < f->D; r++) {
        if (a[r] > 1)
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d: active flag %lld is %d, expected 0 or 1", l,
                              (long long)r, a[r]);
        if (!a[r]) continue;
        for (int64_t k = 1; k < ly->ar_bins; k++)
            if (!(ed[r * ly->ar_bins + k] >= ed[r * ly->ar_bins + k - 1]))
                return nota_error(NOTA_EFORMAT,
                                  "flow model: layer %d, coordinate %lld: bin edges decrease "
                                  "at edge %lld",
                                  l, (long long)r, (long long)k);
        for (int64_t k = 0; k < ly->ar_bins; k++)
            if ((st = check_spline(nota_tensor_f32(kn) + (r * ly->ar_bins + k) * 3 * f->K, f->K, l,
                                   r)))
                return st;
    }
    if ((st = flow_ar_neighbours(f, ly->ar_radius, ly->ar_dir, &ly->ar_nbr))) return st;
    ly->ar_w = malloc(w->nbytes);
    ly->ar_edges = malloc(e->nbytes);
    ly->knots = malloc(kn->nbytes);
    ly->active = malloc(act->nbytes);
    if (!ly->ar_w || !ly->ar_edges || !ly->knots || !ly->active)
        return nota_error(NOTA_ENOMEM, "flow model: cannot allocate layer %d", l);
    memcpy(ly->ar_w, w->data, w->nbytes);
    memcpy(ly->ar_edges, e->data, e->nbytes);
    memcpy(ly->knots, kn->data, kn->nbytes);
    memcpy(ly->active, act->data, act->nbytes);
    return NOTA_OK;
}

static nota_status load_arcell(const nota_modelfile *mf, flow *f, int l, const float *s,
                               flow_layer *ly) {
    char name[32];
    const nota_tensor *cb, *ta, *w, *sw, *e, *kn, *net = NULL;
    nota_status st = load_ar_spec(f, l, s, ly);
    if (st) return st;
    ly->ar_cell = 1;
    snprintf(name, sizeof name, "l%04d.arc", l);
    if ((st = nota_modelfile_get_tensor(mf, name, &cb))) return st;
    /* 4 entries: written before the net prediction, 5: before blending */
    int64_t ncb = cb->ndim == 1 && (cb->shape[0] == 4 || cb->shape[0] == 5) ? cb->shape[0] : 6;
    if ((st = get(mf, name, NOTA_F32, 1, &ncb, &cb))) return st;
    const float *c = nota_tensor_f32(cb);
    ly->ar_bins = 1;
    for (int j = 0; j < 3; j++) {
        if (!is_int(c[j], 1, FLOW_AR_MAX_BINS))
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d: context %d has %g bins (expected 1..%d)", l, j,
                              (double)c[j], FLOW_AR_MAX_BINS);
        ly->ar_cb[j] = (int64_t)c[j];
        ly->ar_bins *= ly->ar_cb[j];
    }
    if (ly->ar_bins > FLOW_AR_MAX_CELLS || !is_int(c[3], 0, 2))
        return nota_error(NOTA_EFORMAT,
                          "flow model: layer %d: %lld cells, squash %g (expected at most %d and "
                          "0..2)",
                          l, (long long)ly->ar_bins, (double)c[3], FLOW_AR_MAX_CELLS);
    ly->ar_squash = (int)c[3];
    ly->ar_lambda = f->lambda;
    if (ncb >= 5 && !is_int(c[4], 0, FLOW_AR_MAX_HIDDEN))
        return nota_error(NOTA_EFORMAT,
                          "flow model: layer %d: net width %g (expected an integer 0..%d)", l,
                          (double)c[4], FLOW_AR_MAX_HIDDEN);
    ly->ar_hidden = ncb >= 5 ? (int64_t)c[4] : 0;
    if (ncb == 6 && !is_int(c[5], 0, 1))
        return nota_error(NOTA_EFORMAT, "flow model: layer %d: blend %g (expected 0|1)", l,
                          (double)c[5]);
    ly->ar_blend = ncb == 6 && c[5] == 1.0f;
    ly->ar_ih = f->H;
    ly->ar_iw = f->W;
    int64_t ts[2] = {f->D, 2},
            ws[2] = {f->D, flow_arcell_pred_weights(ly->ar_m, ly->ar_hidden > 0)},
            ns = flow_arcell_net_size(ly->ar_m, ly->ar_hidden),
            ss[2] = {f->D, flow_arcell_scale_weights(ly->ar_m, ly->ar_hidden > 0)},
            ne = ly->ar_cb[0] + ly->ar_cb[1] + ly->ar_cb[2], ks[3] = {ly->ar_bins, 3, f->K};
    snprintf(name, sizeof name, "l%04d.art", l);
    if ((st = get(mf, name, NOTA_F32, 2, ts, &ta))) return st;
    snprintf(name, sizeof name, "l%04d.arw", l);
    if ((st = get(mf, name, NOTA_F32, 2, ws, &w))) return st;
    snprintf(name, sizeof name, "l%04d.ars", l);
    if ((st = get(mf, name, NOTA_F32, 2, ss, &sw))) return st;
    snprintf(name, sizeof name, "l%04d.are", l);
    if ((st = get(mf, name, NOTA_F32, 1, &ne, &e))) return st;
    snprintf(name, sizeof name, "l%04d.knots", l);
    if ((st = get(mf, name, NOTA_F32, 3, ks, &kn))) return st;
    snprintf(name, sizeof name, "l%04d.arn", l);
    if (ly->ar_hidden && (st = get(mf, name, NOTA_F32, 1, &ns, &net))) return st;
    const float *a = nota_tensor_f32(ta), *ed = nota_tensor_f32(e);
    for (int64_t r = 0; r < f->D; r++)
        if (!(a[2 * r] > 0 && isfinite(a[2 * r]) && isfinite(a[2 * r + 1])))
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d, coordinate %lld: target scale %g, offset %g "
                              "(expected finite, scale > 0)",
                              l, (long long)r, (double)a[2 * r], (double)a[2 * r + 1]);
    for (int j = 0, o = 0; j < 3; o += (int)ly->ar_cb[j++])
        for (int64_t k = 0; k < ly->ar_cb[j]; k++)
            if (!isfinite(ed[o + k]) ||
                (k > 0 && !(ly->ar_blend ? ed[o + k] > ed[o + k - 1] : ed[o + k] >= ed[o + k - 1])))
                return nota_error(NOTA_EFORMAT,
                                  "flow model: layer %d: context %d's bin %s are not finite and "
                                  "%s at %lld",
                                  l, j, ly->ar_blend ? "centres" : "edges",
                                  ly->ar_blend ? "increasing" : "non-decreasing", (long long)k);
    for (int64_t k = 0; k < ly->ar_bins; k++)
        if ((st = check_spline_of(nota_tensor_f32(kn) + k * 3 * f->K, f->K, l, "cell", k)))
            return st;
    if ((st = flow_ar_neighbours(f, ly->ar_radius, ly->ar_dir, &ly->ar_nbr))) return st;
    flow_arcell_near(f, ly->ar_radius, ly->ar_near);
    ly->ar_aff = malloc(ta->nbytes);
    ly->ar_w = malloc(w->nbytes);
    ly->ar_sw = malloc(sw->nbytes);
    ly->ar_edges = malloc(e->nbytes);
    ly->knots = malloc(kn->nbytes);
    ly->active = malloc((size_t)f->D);
    if (net) ly->ar_net = malloc(net->nbytes);
    if (!ly->ar_aff || !ly->ar_w || !ly->ar_sw || !ly->ar_edges || !ly->knots || !ly->active ||
        (net && !ly->ar_net))
        return nota_error(NOTA_ENOMEM, "flow model: cannot allocate layer %d", l);
    if (net) memcpy(ly->ar_net, net->data, net->nbytes);
    memcpy(ly->ar_aff, ta->data, ta->nbytes);
    memcpy(ly->ar_w, w->data, w->nbytes);
    memcpy(ly->ar_sw, sw->data, sw->nbytes);
    memcpy(ly->ar_edges, e->data, e->nbytes);
    memcpy(ly->knots, kn->data, kn->nbytes);
    memset(ly->active, 1, (size_t)f->D);
    return NOTA_OK;
}

static nota_status load_layer(const nota_modelfile *mf, flow *f, int l, flow_layer *ly) {
    char name[32];
    const nota_tensor *spec, *rot, *kn, *act;
    int64_t three = 3;
    snprintf(name, sizeof name, "l%04d.spec", l);
    nota_status st = get(mf, name, NOTA_F32, 1, &three, &spec);
    if (st) return st;
    const float *s = nota_tensor_f32(spec);
    if (s[0] == -1.0f) return load_ar(mf, f, l, s, ly);
    if (s[0] == -2.0f) return load_arcell(mf, f, l, s, ly);
    if (!is_int(s[0], 0, 1024))
        return nota_error(NOTA_EFORMAT, "flow model: layer %d has patch size %g", l, (double)s[0]);
    ly->patch = (int)s[0];
    if (ly->patch) {
        if (f->item_ndim != 3 || f->H % ly->patch || f->W % ly->patch ||
            !is_int(s[1], 0, (float)ly->patch - 1) || !is_int(s[2], 0, (float)ly->patch - 1))
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d: patch %d with shift (%g, %g) "
                              "does not fit items of %lld values",
                              l, ly->patch, (double)s[1], (double)s[2], (long long)f->D);
        ly->shift_y = (int)s[1];
        ly->shift_x = (int)s[2];
        if ((st =
                 flow_patch_perm(f->C, f->H, f->W, ly->patch, ly->shift_y, ly->shift_x, &ly->perm)))
            return st;
    }
    ly->P = ly->patch ? (int64_t)ly->patch * ly->patch * f->C : f->D;
    /* a patch layer's rotation tensor is (P, P) shared or (Q, P, P), one
     * per patch position; its rank says which */
    snprintf(name, sizeof name, "l%04d.rot", l);
    if ((st = nota_modelfile_get_tensor(mf, name, &rot))) return st;
    ly->nrot = ly->patch && rot->ndim == 3 ? f->D / ly->P : 1;
    int64_t rs[3] = {ly->nrot, ly->P, ly->P}, ks[3] = {f->D, 3, f->K}, ps[2] = {f->D, f->S};
    bool poly = f->o.marginal == MARG_POLY;
    if ((st = get(mf, name, NOTA_F32, ly->nrot > 1 ? 3 : 2, ly->nrot > 1 ? rs : rs + 1, &rot)))
        return st;
    snprintf(name, sizeof name, poly ? "l%04d.poly" : "l%04d.knots", l);
    if ((st = get(mf, name, NOTA_F32, poly ? 2 : 3, poly ? ps : ks, &kn))) return st;
    snprintf(name, sizeof name, "l%04d.active", l);
    if ((st = get(mf, name, NOTA_U8, 1, &f->D, &act))) return st;
    const float *R = nota_tensor_f32(rot);
    for (int64_t i = 0; i < ly->nrot * ly->P; i++) { /* cheap sanity check: unit rows */
        double n2 = 0;
        for (int64_t j = 0; j < ly->P; j++)
            n2 += (double)R[i * ly->P + j] * R[i * ly->P + j];
        if (fabs(n2 - 1) > 1e-3)
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d: rotation row %lld has squared "
                              "norm %g, expected 1",
                              l, (long long)i, n2);
    }
    const uint8_t *a = nota_tensor_u8(act);
    for (int64_t r = 0; r < f->D; r++) {
        if (a[r] > 1)
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d: active flag %lld is %d, "
                              "expected 0 or 1",
                              l, (long long)r, a[r]);
        const float *pr = nota_tensor_f32(kn) + r * f->S;
        if (a[r] && poly && !poly_check(pr, (int)f->o.poly_deg))
            return nota_error(NOTA_EFORMAT,
                              "flow model: layer %d, coordinate %lld: polynomial is not "
                              "increasing on its support [%g, %g]",
                              l, (long long)r, (double)pr[0], (double)pr[1]);
        if (a[r] && !poly && (st = check_spline(pr, f->K, l, r))) return st;
    }
    ly->rot = malloc(rot->nbytes);
    ly->knots = malloc(kn->nbytes);
    ly->active = malloc(act->nbytes);
    if (!ly->rot || !ly->knots || !ly->active)
        return nota_error(NOTA_ENOMEM, "flow model: cannot allocate layer %d", l);
    memcpy(ly->rot, rot->data, rot->nbytes);
    memcpy(ly->knots, kn->data, kn->nbytes);
    memcpy(ly->active, act->data, act->nbytes);
    return flow_layer_compact(ly);
}

static nota_status load_all(const nota_modelfile *mf, flow *f) {
    const nota_tensor *mu, *isd, *meta;
    nota_status st = nota_modelfile_get_tensor(mf, "mu", &mu);
    if (st) return st;
    if (mu->dtype != NOTA_F32 || mu->ndim < 1 || mu->ndim > NOTA_MAX_DIMS - 1 ||
        nota_tensor_numel(mu) > FLOW_MAX_DIM)
        return nota_error(NOTA_EFORMAT,
                          "flow model: tensor 'mu' must be f32 of at most %d values "
                          "in the item shape",
                          FLOW_MAX_DIM);
    f->item_ndim = mu->ndim;
    memcpy(f->item_shape, mu->shape, (size_t)mu->ndim * sizeof(int64_t));
    f->D = (int64_t)nota_tensor_numel(mu);
    if (f->item_ndim == 3) {
        f->C = (int)mu->shape[0];
        f->H = (int)mu->shape[1];
        f->W = (int)mu->shape[2];
    }
    int64_t four = 4;
    if ((st = get(mf, "mu", NOTA_F32, f->item_ndim, f->item_shape, &mu))) return st;
    if ((st = get(mf, "inv_sd", NOTA_F32, f->item_ndim, f->item_shape, &isd))) return st;
    if ((st = get(mf, "meta", NOTA_F32, 1, &four, &meta))) return st;
    const float *m = nota_tensor_f32(meta);
    if (!is_int(m[0], 0, 1) || !(m[1] > 0 && m[1] <= 0.25f) || !is_int(m[2], 4, 512) ||
        !is_int(m[3], 0, FLOW_MAX_LAYERS))
        return nota_error(NOTA_EFORMAT,
                          "flow model: tensor 'meta' = [%g, %g, %g, %g] is out of "
                          "range (logit 0|1, lambda in (0, 0.25], knots 4..512, layers 0..%d)",
                          (double)m[0], (double)m[1], (double)m[2], (double)m[3], FLOW_MAX_LAYERS);
    f->logit = m[0] == 1.0f;
    f->lambda = m[1];
    f->K = (int)m[2];
    f->S = f->o.marginal == MARG_POLY ? POLY_STRIDE((int)f->o.poly_deg) : 3 * f->K;
    int n = (int)m[3];
    for (int64_t r = 0; r < f->D; r++)
        if (!(nota_tensor_f32(isd)[r] > 0))
            return nota_error(NOTA_EFORMAT, "flow model: inv_sd[%lld] is %g, expected > 0",
                              (long long)r, (double)nota_tensor_f32(isd)[r]);
    f->mu = malloc(mu->nbytes);
    f->inv_sd = malloc(isd->nbytes);
    f->layers = calloc((size_t)(n ? n : 1), sizeof *f->layers);
    if (!f->mu || !f->inv_sd || !f->layers)
        return nota_error(NOTA_ENOMEM, "flow model: allocation failed");
    f->cap_layers = n ? n : 1;
    memcpy(f->mu, mu->data, mu->nbytes);
    memcpy(f->inv_sd, isd->data, isd->nbytes);
    for (int l = 0; l < n; l++) {
        st = load_layer(mf, f, l, &f->layers[l]);
        f->n_layers = l + 1; /* so flow_clear frees a partly loaded layer too */
        if (st) return st;
    }
    return NOTA_OK;
}

nota_status flow_load(const nota_modelfile *mf, flow *f) {
    nota_status st = load_all(mf, f);
    if (st) flow_clear(f);
    return st;
}
