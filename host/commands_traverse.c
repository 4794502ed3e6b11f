/* `nota-host traverse MODEL --dims A,B [--values V,...] --out GRID.png`:
 * Angles & Mallat's Figure 1 for any model that decodes vector codes. Codes
 * are the base code (zero, or the mean of the codes in a .npy file) with
 * dimension A set to values[i] and dimension B to values[j]; they are decoded
 * as one job and written as one PNG grid, row i and column j (the paper's
 * layout: down a column the first dimension grows, along a row the second).
 * For whitened PCA codes (scatter, latent gaussian) dimensions 0 and 1 are
 * the two components of greatest variance and zero is the training mean, so
 * the defaults (--dims 0,1, values -10, -5, 5, 10) are the paper's figure.
 * A pipeline traverses its decoder's codes.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

typedef struct trav_state {
    const nota_plugin *p;
    nota_model *m;
    const nota_tensor *z;
    nota_tensor *out;
} trav_state;

static nota_status trav_job(host_job *job, const nota_host *host) {
    trav_state *s = job->arg;
    return s->p->decode(s->m, s->z, host, &s->out);
}

/* The model's codes must be vectors (k,); their length goes to *k. */
static nota_status code_length(const host_ctx *c, const host_model *hm, int64_t *k) {
    const char *file = c->args.positional;
    const nota_plugin *d = hm->plugin->desc;
    if (!(d->caps & NOTA_CAP_DECODE) || !d->decode)
        return nota_error(NOTA_ENOTSUP, "model '%s' (plugin '%s') cannot decode", file, d->name);
    int64_t shape[NOTA_MAX_DIMS];
    int nd = d->code_shape ? d->code_shape(hm->m, shape) : 0;
    if (nd <= 0 || nd > NOTA_MAX_DIMS)
        return nota_error(NOTA_ENOTSUP,
                          "model '%s' (plugin '%s') does not report the shape of its "
                          "codes",
                          file, d->name);
    if (nd != 1) {
        char b[128];
        return nota_error(NOTA_ESHAPE,
                          "model '%s' takes codes of shape %s; traverse needs "
                          "vector codes (k,)",
                          file, nota_shape_str(nd, shape, b, sizeof b));
    }
    *k = shape[0];
    for (int i = 0; i < 2; i++)
        if (c->args.dims[i] >= *k)
            return nota_error(NOTA_EINVAL,
                              "--dims: dimension %d is out of range: model '%s' has "
                              "codes of %lld dimensions (0..%lld)",
                              c->args.dims[i], file, (long long)*k, (long long)(*k - 1));
    return NOTA_OK;
}

/* The base code (k): zero, or the mean of the rows of a .npy of codes. */
static nota_status base_code(const host_ctx *c, int64_t k, float *base) {
    const char *spec = c->args.base;
    memset(base, 0, (size_t)k * sizeof *base);
    if (!spec || strcmp(spec, "zero") == 0) return NOTA_OK;
    nota_tensor *t = NULL;
    nota_status st = nota_npy_read(spec, &t);
    if (st) return st;
    const float *v = nota_tensor_f32(t);
    bool vec = t->ndim == 1 && t->shape[0] == k;
    bool rows = t->ndim == 2 && t->shape[1] == k && t->shape[0] >= 1;
    if (!v || !(vec || rows)) {
        char b[128];
        st = nota_error(NOTA_ESHAPE,
                        "--base '%s' is %s %s, expected f32 (%lld,) or (N, %lld): "
                        "the codes of model '%s'",
                        spec, nota_dtype_name(t->dtype),
                        nota_shape_str(t->ndim, t->shape, b, sizeof b), (long long)k, (long long)k,
                        c->args.positional);
    }
    if (!st) st = nota_tensor_check_finite(t, spec);
    if (!st) {
        int64_t n = vec ? 1 : t->shape[0];
        for (int64_t j = 0; j < k; j++) {
            double sum = 0;
            for (int64_t i = 0; i < n; i++)
                sum += v[i * k + j];
            base[j] = (float)(sum / (double)n);
        }
    }
    nota_tensor_free(t);
    return st;
}

/* (rows * cols, k) codes: the base with dims[0] = values[i], dims[1] = values[j]. */
static nota_status grid_codes(const host_ctx *c, int64_t k, nota_tensor **z) {
    int nv = c->args.n_values;
    int64_t shape[2] = {(int64_t)nv * nv, k};
    nota_status st = nota_tensor_new(NOTA_F32, 2, shape, z);
    if (st) return st;
    float *v = nota_tensor_f32(*z);
    st = base_code(c, k, v);
    for (int i = 0; !st && i < nv; i++)
        for (int j = 0; j < nv; j++) {
            float *row = v + ((int64_t)i * nv + j) * k;
            /* row 0 holds the base; copying it after its two dimensions
             * were set is fine, as every row sets both again */
            if (i || j) memcpy(row, v, (size_t)k * sizeof *v);
            row[c->args.dims[0]] = (float)c->args.values[i];
            row[c->args.dims[1]] = (float)c->args.values[j];
        }
    if (st) nota_tensor_free(*z), *z = NULL;
    return st;
}

/* Decoded items must be f32 images (N, C, H, W), C in {1, 3}, for a PNG. */
static nota_status check_images(const host_ctx *c, const nota_plugin *p, const nota_tensor *t,
                                int64_t n) {
    if (!t || !nota_tensor_f32(t) || t->ndim < 1 || t->shape[0] != n)
        return nota_error(NOTA_ESHAPE, "plugin '%s': decode did not return f32 (%lld, ...)",
                          p->name, (long long)n);
    nota_status st = nota_tensor_check_finite(t, "decode");
    if (st || !c->args.out) return st;
    if (t->ndim != 4 || (t->shape[1] != 1 && t->shape[1] != 3)) {
        char b[128];
        return nota_error(NOTA_ESHAPE,
                          "model '%s' decodes items of shape %s, not images "
                          "(C, H, W) with C 1 or 3: no PNG grid (use --npy alone)",
                          c->args.positional,
                          nota_shape_str(t->ndim - 1, t->shape + 1, b, sizeof b));
    }
    return NOTA_OK;
}

static int traverse_body(host_ctx *c, host_runner *r, host_model *hm) {
    const host_args *a = &c->args;
    int64_t k = 0;
    nota_tensor *z = NULL;
    trav_state s = {.p = hm->plugin->desc, .m = hm->m};
    nota_status st = code_length(c, hm, &k);
    if (!st && a->out) st = host_check_out_dir(a->out);
    if (!st && a->npy) st = host_check_out_dir(a->npy);
    if (!st) st = grid_codes(c, k, &z);
    if (!st) {
        s.z = z;
        host_job job = {
            .name = "traverse", .device = {NOTA_DEVICE_CPU, 0}, .run = trav_job, .arg = &s};
        st = host_runner_submit(r, &job);
        if (!st) {
            host_runner_run(r);
            st = host_runner_cancelled(r) ? NOTA_ECANCELED : host_job_raise(&job);
        }
    }
    if (!st) st = check_images(c, s.p, s.out, z->shape[0]);
    /* Plugin data live in [0, 256): map the level centres p + 0.5 to p, as sample does. */
    if (!st && a->out) st = nota_png_grid_write(a->out, s.out, a->n_values, 0.5f, 255.5f);
    if (!st && a->npy) st = nota_npy_write(a->npy, s.out);
    int rc = st ? host_fail(st) : HOST_EXIT_OK;
    if (!rc) {
        char shape[128];
        const char *item = nota_shape_str(s.out->ndim - 1, s.out->shape + 1, shape, sizeof shape);
        if (a->out)
            printf("wrote %s (%d x %d tiles of %s: rows dimension %d, columns dimension %d)\n",
                   a->out, a->n_values, a->n_values, item, a->dims[0], a->dims[1]);
        if (a->npy) {
            nota_shape_str(s.out->ndim, s.out->shape, shape, sizeof shape);
            printf("wrote %s %s\n", a->npy, shape);
        }
    }
    nota_tensor_free(s.out);
    nota_tensor_free(z);
    return rc;
}

int host_cmd_traverse(host_ctx *c) { return host_with_model(c, traverse_body); }
