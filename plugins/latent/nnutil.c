/* Shared pieces of the latent plugin's neural kinds (see nnutil.h).
 *
 * Scaling parameters are kept in f32, exactly as saved, so a reloaded model
 * maps data to network units bit for bit the same way. Column statistics are
 * accumulated in double: codes from another model can sit far from zero. */
#include "nnutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nota/parallel.h"

nota_status lat_parse_hidden(const char *who, const char *text, int64_t *sizes, int *n) {
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536 || (*end && *end != ','))
            return nota_error(NOTA_EINVAL,
                              "%s: option hidden='%s': expected comma-separated "
                              "layer sizes in 1..65536, e.g. \"512,256\"",
                              who, text);
        if (*n == LAT_MAX_HIDDEN)
            return nota_error(NOTA_EINVAL, "%s: option hidden='%s': at most %d hidden layers", who,
                              text, LAT_MAX_HIDDEN);
        sizes[(*n)++] = v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return nota_error(NOTA_EINVAL, "%s: option hidden='%s': trailing comma", who, text);
    }
    if (*n == 0)
        return nota_error(NOTA_EINVAL, "%s: option hidden is empty: give at least one layer size",
                          who);
    return NOTA_OK;
}

nota_status lat_mlp_new(int64_t in, const int64_t *hidden, int n, bool reverse, int64_t out,
                        nota_nn_act_kind act, float act_param, uint64_t seed, uint64_t stream,
                        nota_nn_net **net) {
    nota_status st = nota_nn_net_new(net);
    if (st) return st;
    int64_t prev = in;
    for (int i = 0; i <= n && !st; i++) {
        int64_t next = i == n ? out : hidden[reverse ? n - 1 - i : i];
        nota_nn_layer *l;
        st = nota_nn_linear_new(prev, next, true, &l);
        if (!st) st = nota_nn_net_add(*net, l);
        if (!st && i < n) {
            st = nota_nn_act_new(act, act_param, &l);
            if (!st) st = nota_nn_net_add(*net, l);
        }
        prev = next;
    }
    if (!st) st = nota_nn_net_init(*net, seed, stream);
    if (st) {
        nota_nn_net_free(*net);
        *net = NULL;
    }
    return st;
}

static nota_status check_tensor(const nota_modelfile *mf, const char *name, int ndim,
                                const int64_t *shape, const char *who) {
    const nota_tensor *t;
    nota_status st = nota_modelfile_get_tensor(mf, name, &t);
    if (st) return nota_error_prefix(st, "%s model: ", who);
    bool ok = t->ndim == ndim && t->dtype == NOTA_F32;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    if (ok) return NOTA_OK;
    char a[96], b[96];
    return nota_error(NOTA_EFORMAT, "%s model: tensor '%s' is %s %s, the config needs f32 %s", who,
                      name, nota_dtype_name(t->dtype),
                      nota_shape_str(t->ndim, t->shape, a, sizeof a),
                      nota_shape_str(ndim, shape, b, sizeof b));
}

nota_status lat_mlp_check_file(const nota_modelfile *mf, const char *prefix, int64_t in,
                               const int64_t *hidden, int n, bool reverse, int64_t out, bool bias,
                               const char *who) {
    int64_t prev = in;
    for (int i = 0; i <= n; i++) {
        int64_t next = i == n ? out : hidden[reverse ? n - 1 - i : i], ws[2] = {next, prev};
        char name[160];
        snprintf(name, sizeof name, "%s%d.weight", prefix, 2 * i);
        nota_status st = check_tensor(mf, name, 2, ws, who);
        if (st) return st;
        if (bias) {
            snprintf(name, sizeof name, "%s%d.bias", prefix, 2 * i);
            if ((st = check_tensor(mf, name, 1, &next, who))) return st;
        }
        prev = next;
    }
    return NOTA_OK;
}

void lat_items_release(lat_items *it) {
    free(it->shift);
    free(it->scale);
    memset(it, 0, sizeof *it);
}

static nota_status items_alloc(lat_items *it, const nota_tensor *x, const char *who) {
    lat_items_release(it);
    it->d = (int64_t)nota_tensor_row_size(x);
    it->item_ndim = x->ndim - 1;
    memcpy(it->item_shape, x->shape + 1, (size_t)it->item_ndim * sizeof(int64_t));
    it->shift = malloc((size_t)it->d * sizeof(float));
    it->scale = malloc((size_t)it->d * sizeof(float));
    if (!it->shift || !it->scale) {
        lat_items_release(it);
        return nota_error(NOTA_ENOMEM, "%s: cannot allocate scaling for %lld columns", who,
                          (long long)(int64_t)nota_tensor_row_size(x));
    }
    return NOTA_OK;
}

nota_status lat_items_fit_standard(lat_items *it, const nota_tensor *x, const char *who) {
    nota_status st = items_alloc(it, x, who);
    if (st) return st;
    int64_t n = x->shape[0], d = it->d;
    const float *p = nota_tensor_f32(x);
    double *acc = calloc((size_t)d * 2, sizeof *acc);
    if (!acc) {
        lat_items_release(it);
        return nota_error(NOTA_ENOMEM, "%s: cannot allocate column statistics", who);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            acc[j] += p[i * d + j];
    for (int64_t j = 0; j < d; j++)
        acc[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            double c = p[i * d + j] - acc[j];
            acc[d + j] += c * c;
        }
    for (int64_t j = 0; j < d; j++) {
        float sd = (float)sqrt(acc[d + j] / (double)n);
        it->shift[j] = (float)acc[j];
        it->scale[j] = sd > 0 && isfinite(1.0f / sd) ? sd : 1.0f;
    }
    free(acc);
    return NOTA_OK;
}

/* Min and max over all values, in parts on libnota's pool (min/max are
 * exact, so the result does not depend on the cut). */
#define RANGE_PARTS 64

typedef struct range_ctx {
    const float *p;
    size_t n, per;
    float lo[RANGE_PARTS], hi[RANGE_PARTS];
} range_ctx;

static void range_body(void *vctx, size_t b0, size_t b1) {
    range_ctx *c = vctx;
    for (size_t b = b0; b < b1; b++) {
        size_t i0 = b * c->per, i1 = i0 + c->per < c->n ? i0 + c->per : c->n;
        float lo = c->p[i0], hi = c->p[i0];
        for (size_t i = i0 + 1; i < i1; i++) {
            lo = c->p[i] < lo ? c->p[i] : lo;
            hi = c->p[i] > hi ? c->p[i] : hi;
        }
        c->lo[b] = lo, c->hi[b] = hi;
    }
}

nota_status lat_items_fit_unit(lat_items *it, const nota_tensor *x, const char *who) {
    nota_status st = items_alloc(it, x, who);
    if (st) return st;
    range_ctx c = {.p = nota_tensor_f32(x), .n = nota_tensor_numel(x)};
    c.per = (c.n + RANGE_PARTS - 1) / RANGE_PARTS;
    size_t parts = c.per > 0 ? (c.n + c.per - 1) / c.per : 0;
    nota_parallel_for(parts, 65536 / (c.per + 1) + 1, range_body, &c); /* >= 64k values a part */
    float lo = parts ? c.lo[0] : 0, hi = parts ? c.hi[0] : 0;          /* no values: scale 1 */
    for (size_t b = 1; b < parts; b++) {
        lo = c.lo[b] < lo ? c.lo[b] : lo;
        hi = c.hi[b] > hi ? c.hi[b] : hi;
    }
    if (lo >= 0 && hi <= 256) {
        lo = 0;
        hi = 256;
    }
    float range = hi - lo;
    if (!(range > 0) || !isfinite(range)) range = 1;
    for (int64_t j = 0; j < it->d; j++) {
        it->shift[j] = lo;
        it->scale[j] = range;
    }
    return NOTA_OK;
}

double lat_items_log_jacobian(const lat_items *it) {
    double s = 0;
    for (int64_t j = 0; j < it->d; j++)
        s += log((double)it->scale[j]);
    return s;
}

typedef struct gather_ctx {
    const lat_items *it;
    const float *x;
    const int64_t *idx;
    int64_t first;
    bool clamp01;
    float *out;
} gather_ctx;

static void gather_rows(void *vctx, size_t lo, size_t hi) {
    const gather_ctx *c = vctx;
    int64_t d = c->it->d;
    const float *shift = c->it->shift, *scale = c->it->scale;
    for (size_t i = lo; i < hi; i++) {
        const float *row = c->x + (c->idx ? c->idx[i] : c->first + (int64_t)i) * d;
        float *o = c->out + (int64_t)i * d;
        for (int64_t j = 0; j < d; j++) {
            float v = (row[j] - shift[j]) / scale[j];
            if (c->clamp01) v = v < 0 ? 0 : v > 1 ? 1 : v;
            o[j] = v;
        }
    }
}

/* Rows on libnota's pool once a part has ~16k values (a 128-image batch of
 * Fashion-MNIST is two parts); rows are independent, so any cut gives the
 * same values. */
void lat_items_gather(const lat_items *it, const float *x, const int64_t *idx, int64_t first,
                      int64_t m, bool clamp01, float *out) {
    gather_ctx c = {it, x, idx, first, clamp01, out};
    size_t grain = (size_t)(16384 / (it->d > 0 ? it->d : 1)) + 1;
    nota_parallel_for((size_t)m, grain, gather_rows, &c);
}

nota_status lat_items_output(const lat_items *it, const float *y, int64_t n, nota_tensor **out) {
    int64_t shape[NOTA_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, it->item_shape, (size_t)it->item_ndim * sizeof(int64_t));
    nota_status st = nota_tensor_new(NOTA_F32, it->item_ndim + 1, shape, out);
    if (st) return st;
    float *o = nota_tensor_f32(*out);
    int64_t d = it->d;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            o[i * d + j] = y[i * d + j] * it->scale[j] + it->shift[j];
    return NOTA_OK;
}

nota_status lat_items_check(const lat_items *it, const nota_tensor *x, const char *what) {
    if (!nota_tensor_f32(x) || x->ndim < 2)
        return nota_error(NOTA_EINVAL,
                          "%s: expected f32 data (N, ...), found %s with %d "
                          "dimension(s)",
                          what, nota_dtype_name(x->dtype), x->ndim);
    if ((int64_t)nota_tensor_row_size(x) != it->d) {
        char a[96], b[96];
        int64_t want[NOTA_MAX_DIMS];
        want[0] = x->shape[0];
        memcpy(want + 1, it->item_shape, (size_t)it->item_ndim * sizeof(int64_t));
        return nota_error(NOTA_ESHAPE,
                          "%s: the model was fitted on items of %lld values, shape %s; "
                          "data is %s",
                          what, (long long)it->d,
                          nota_shape_str(it->item_ndim + 1, want, a, sizeof a),
                          nota_shape_str(x->ndim, x->shape, b, sizeof b));
    }
    return nota_tensor_check_finite(x, what);
}

nota_status lat_items_save(const lat_items *it, nota_modelfile *mf, const char *who) {
    nota_tensor *s, *c;
    nota_status st = nota_tensor_wrap(NOTA_F32, it->item_ndim, it->item_shape, it->shift, &s);
    if (st) return st;
    if ((st = nota_tensor_wrap(NOTA_F32, it->item_ndim, it->item_shape, it->scale, &c))) {
        nota_tensor_free(s);
        return st;
    }
    st = nota_modelfile_add_tensor(mf, "shift", s);
    if (!st) st = nota_modelfile_add_tensor(mf, "scale", c);
    nota_tensor_free(s);
    nota_tensor_free(c);
    return st ? nota_error_prefix(st, "%s save: ", who) : NOTA_OK;
}

nota_status lat_items_load(lat_items *it, const nota_modelfile *mf, const char *who) {
    const nota_tensor *s, *c;
    nota_status st = nota_modelfile_get_tensor(mf, "shift", &s);
    if (!st) st = nota_modelfile_get_tensor(mf, "scale", &c);
    if (st) return nota_error_prefix(st, "%s model: ", who);
    char a[96], b[96];
    if (!nota_tensor_f32(s) || !nota_tensor_f32(c) || !nota_tensor_same_shape(s, c))
        return nota_error(NOTA_EFORMAT,
                          "%s model: tensors 'shift' %s %s and 'scale' %s %s must "
                          "be f32 of one shape",
                          who, nota_dtype_name(s->dtype),
                          nota_shape_str(s->ndim, s->shape, a, sizeof a), nota_dtype_name(c->dtype),
                          nota_shape_str(c->ndim, c->shape, b, sizeof b));
    if ((st = nota_tensor_check_finite(s, "shift")) || (st = nota_tensor_check_finite(c, "scale")))
        return nota_error_prefix(st, "%s model: ", who);
    size_t d = nota_tensor_numel(s);
    for (size_t j = 0; j < d; j++)
        if (!(nota_tensor_f32(c)[j] > 0))
            return nota_error(NOTA_EFORMAT, "%s model: scale[%zu] is %g, expected > 0", who, j,
                              nota_tensor_f32(c)[j]);
    lat_items_release(it);
    it->d = (int64_t)d;
    it->item_ndim = s->ndim;
    memcpy(it->item_shape, s->shape, (size_t)s->ndim * sizeof(int64_t));
    it->shift = malloc(d * sizeof(float));
    it->scale = malloc(d * sizeof(float));
    if (!it->shift || !it->scale) {
        lat_items_release(it);
        return nota_error(NOTA_ENOMEM, "%s model: cannot allocate scaling", who);
    }
    memcpy(it->shift, nota_tensor_f32(s), d * sizeof(float));
    memcpy(it->scale, nota_tensor_f32(c), d * sizeof(float));
    return NOTA_OK;
}

void lat_permute(uint64_t seed, uint64_t stream, int64_t n, int64_t *idx) {
    nota_rng r = nota_rng_make(seed, stream);
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nota_rng_below(&r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* Visit every parameter and buffer of the snapshot's nets in a fixed order. */
static void snap_copy(const lat_snapshot *s, bool take) {
    size_t off = 0;
    for (int k = 0; k < s->n_nets; k++) {
        size_t np = nota_nn_net_param_count(s->nets[k]);
        for (size_t i = 0; i < np; i++) {
            nota_nn_param p;
            if (nota_nn_net_param(s->nets[k], i, &p, NULL, 0)) continue;
            size_t m = nota_tensor_numel(p.value);
            if (take)
                memcpy(s->data + off, nota_tensor_f32(p.value), m * sizeof(float));
            else
                memcpy(nota_tensor_f32(p.value), s->data + off, m * sizeof(float));
            off += m;
        }
    }
}

nota_status lat_snapshot_new(lat_snapshot *s, nota_nn_net *const *nets, int n_nets) {
    memset(s, 0, sizeof *s);
    for (int k = 0; k < n_nets; k++) {
        s->nets[s->n_nets++] = nets[k];
        size_t np = nota_nn_net_param_count(nets[k]);
        for (size_t i = 0; i < np; i++) {
            nota_nn_param p;
            nota_status st = nota_nn_net_param(nets[k], i, &p, NULL, 0);
            if (st) return st;
            s->n += nota_tensor_numel(p.value);
        }
    }
    s->data = malloc((s->n ? s->n : 1) * sizeof(float));
    if (!s->data)
        return nota_error(NOTA_ENOMEM, "cannot allocate a copy of %zu network weights", s->n);
    return NOTA_OK;
}

void lat_snapshot_take(lat_snapshot *s) { snap_copy(s, true); }
void lat_snapshot_restore(const lat_snapshot *s) { snap_copy(s, false); }

void lat_snapshot_free(lat_snapshot *s) {
    free(s->data);
    memset(s, 0, sizeof *s);
}

nota_status lat_views(nota_tensor *const *full, nota_tensor **views, int n, int64_t m) {
    for (int i = 0; i < n; i++)
        views[i] = NULL;
    for (int i = 0; i < n; i++) {
        nota_status st = nota_tensor_rows(full[i], 0, m, &views[i]);
        if (st) {
            lat_views_free(views, n);
            return st;
        }
    }
    return NOTA_OK;
}

void lat_views_free(nota_tensor **views, int n) {
    for (int i = 0; i < n; i++) {
        nota_tensor_free(views[i]);
        views[i] = NULL;
    }
}
