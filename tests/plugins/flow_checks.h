/* flow_checks.h — data and checks shared by the flow plugin's tests
 * (test_flow.c, test_flow_variants.c, test_flow_fullrank.c): small
 * synthetic vectors and images, decode ∘ encode = id, log_prob =
 * log N(z) + log|det J| with J by central differences, and save → load
 * reproducing log_prob and samples bit for bit, and rot_create for tests
 * of rotation layers alone. */
#ifndef NOTA_TEST_FLOW_CHECKS_H
#define NOTA_TEST_FLOW_CHECKS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_util.h"

/* 3-D vectors with a curved, skewed dependence. */
static inline nota_tensor *curved(int64_t n, uint64_t seed) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, 3, &t), NOTA_OK);
    float *e = malloc((size_t)n * 3 * sizeof *e);
    nota_rng_fill_normal(seed, 3, e, (size_t)n * 3);
    float *x = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++) {
        float a = e[3 * i], b = e[3 * i + 1], c = e[3 * i + 2];
        x[3 * i] = 2 * a;
        x[3 * i + 1] = a * a + 0.3f * b;
        x[3 * i + 2] = expf(0.5f * c) + 0.2f * a;
    }
    free(e);
    return t;
}

/* n images 1×s×s in [20, 236]: a random blob on a gradient, plus noise. */
static inline nota_tensor *images_side(int64_t n, int s, uint64_t seed) {
    int64_t shape[4] = {n, 1, s, s}, U = 3 + (int64_t)s * s;
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &t), NOTA_OK);
    float *u = malloc((size_t)(n * U) * sizeof *u);
    nota_rng_fill_uniform(seed, 4, u, (size_t)(n * U));
    float *x = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++) {
        float cy = (float)s * u[i * U], cx = (float)s * u[i * U + 1], amp = 150 * u[i * U + 2];
        for (int p = 0; p < s * s; p++) {
            float y = (float)(p / s), xx = (float)(p % s);
            float v = 30 + 5 * xx * 8 / (float)s +
                      amp * expf(-((y - cy) * (y - cy) + (xx - cx) * (xx - cx)) / 6);
            x[i * s * s + p] = fminf(236, v + 10 * u[i * U + 3 + p]);
        }
    }
    free(u);
    return t;
}

/* n images 1×8×8 (see images_side). */
static inline nota_tensor *images(int64_t n, uint64_t seed) { return images_side(n, 8, seed); }

/* log|det A| of an n×n matrix (double, Gaussian elimination, partial pivoting). */
static inline double logabsdet(double *a, int n) {
    double s = 0;
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
        if (p != c)
            for (int k = 0; k < n; k++) {
                double t = a[c * n + k];
                a[c * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
        s += log(fabs(a[c * n + c]));
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
        }
    }
    return s;
}

static inline void assert_roundtrip(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                                    const nota_host *h) {
    nota_tensor *z, *y;
    cr_assert_eq(p->encode(m, x, h, &z), NOTA_OK, "%s", nota_last_error());
    cr_assert(nota_tensor_same_shape(x, z));
    cr_assert_eq(p->decode(m, z, h, &y), NOTA_OK, "%s", nota_last_error());
    cr_assert(nota_tensor_same_shape(x, y));
    double scale = 0;
    for (size_t i = 0; i < nota_tensor_numel(x); i++)
        scale = fmax(scale, fabs(nota_tensor_f32(x)[i]));
    for (size_t i = 0; i < nota_tensor_numel(x); i++) {
        float a = nota_tensor_f32(x)[i], b = nota_tensor_f32(y)[i];
        cr_assert_float_eq(a, b, 1e-4 * scale, "element %zu: %g vs %g", i, a, b);
    }
    nota_tensor_free(z);
    nota_tensor_free(y);
}

/* For `items` rows of x: log_prob vs log N(z) + log|det J|, J by central
 * differences of encode with step hstep (in data units). */
static inline void assert_jacobian(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                                   int items, double hstep, double tol, const nota_host *h) {
    int64_t D = (int64_t)nota_tensor_row_size(x);
    int64_t rows = items * (2 * D + 1);
    int64_t shape[NOTA_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = rows;
    nota_tensor *xp, *z, *lp;
    cr_assert_eq(nota_tensor_new(NOTA_F32, x->ndim, shape, &xp), NOTA_OK);
    float *v = nota_tensor_f32(xp);
    for (int it = 0; it < items; it++) {
        const float *src = nota_tensor_f32(x) + it * D;
        for (int64_t k = 0; k < 2 * D + 1; k++) {
            float *dst = v + (it * (2 * D + 1) + k) * D;
            memcpy(dst, src, (size_t)D * sizeof(float));
            if (k < 2 * D) dst[k / 2] += (float)(k % 2 ? -hstep : hstep);
        }
    }
    cr_assert_eq(p->encode(m, xp, h, &z), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->log_prob(m, xp, h, &lp), NOTA_OK, "%s", nota_last_error());
    double *J = malloc((size_t)(D * D) * sizeof *J);
    for (int it = 0; it < items; it++) {
        const float *zb = nota_tensor_f32(z) + it * (2 * D + 1) * D;
        for (int64_t j = 0; j < D; j++) {
            /* the actual step after f32 rounding of x ± h */
            const float *xa = v + (it * (2 * D + 1) + 2 * j) * D, *xb = xa + D;
            double hh = (double)xa[j] - xb[j];
            for (int64_t i = 0; i < D; i++)
                J[i * D + j] = ((double)zb[2 * j * D + i] - zb[(2 * j + 1) * D + i]) / hh;
        }
        const float *z0 = zb + 2 * D * D;
        double lnz = 0;
        for (int64_t i = 0; i < D; i++)
            lnz += -0.5 * (double)z0[i] * z0[i] - 0.5 * log(2 * M_PI);
        double ref = lnz + logabsdet(J, (int)D);
        double got = nota_tensor_f32(lp)[it * (2 * D + 1) + 2 * D];
        cr_assert_float_eq(got, ref, tol * (1 + fabs(ref)),
                           "item %d: log_prob %.6f, log N(z) + "
                           "log|det J| %.6f",
                           it, got, ref);
    }
    free(J);
    nota_tensor_free(xp);
    nota_tensor_free(z);
    nota_tensor_free(lp);
}

/* Save to disk, load, compare log_prob and samples bit for bit; returns
 * the reloaded model's file (caller frees). */
static inline nota_modelfile *assert_save_load_exact(const nota_plugin *p, nota_model *m,
                                                     const nota_tensor *x, const nota_host *h) {
    nota_modelfile *mf = test_saved(p, m), *back;
    char path[] = "/tmp/nota_flowv_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    unlink(path);
    nota_model *m2;
    cr_assert_eq(p->load(back, h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_tensor *a, *b, *s1, *s2;
    cr_assert_eq(p->log_prob(m, x, h, &a), NOTA_OK);
    cr_assert_eq(p->log_prob(m2, x, h, &b), NOTA_OK);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0);
    cr_assert_eq(p->sample(m, 10, 0.8, h, &s1), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->sample(m2, 10, 0.8, h, &s2), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(s1->data, s2->data, s1->nbytes), 0);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(s1);
    nota_tensor_free(s2);
    p->destroy(m2);
    return back;
}

/* Two models give bit-for-bit the same log_prob of x (e.g. one fitted on 1
 * thread, one on 3). */
static inline void assert_same_log_prob(const nota_plugin *p, nota_model *m1, nota_model *m2,
                                        const nota_tensor *x, const nota_host *h1,
                                        const nota_host *h2) {
    nota_tensor *a, *b;
    cr_assert_eq(p->log_prob(m1, x, h1, &a), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->log_prob(m2, x, h2, &b), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0);
    nota_tensor_free(a);
    nota_tensor_free(b);
}

/* Load a copy of model file mf with tensor `name` changed by `edit`;
 * expect NOTA_EFORMAT and exactly `msg`. */
/* A copy of mf with tensor `name` passed through edit. */
static inline nota_modelfile *edited_copy(const nota_plugin *p, const nota_modelfile *mf,
                                          const char *name, void (*edit)(nota_tensor **)) {
    nota_modelfile *out;
    cr_assert_eq(nota_modelfile_new("flow", p->version, &out), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_config(out, nota_modelfile_config(mf)), NOTA_OK);
    bool found = false;
    for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
        const char *tn = nota_modelfile_tensor_name(mf, i);
        const nota_tensor *t;
        cr_assert_eq(nota_modelfile_get_tensor(mf, tn, &t), NOTA_OK);
        nota_tensor *c;
        cr_assert_eq(nota_tensor_clone(t, &c), NOTA_OK);
        if (strcmp(tn, name) == 0) {
            edit(&c);
            found = true;
        }
        cr_assert_eq(nota_modelfile_add_tensor(out, tn, c), NOTA_OK);
        nota_tensor_free(c);
    }
    cr_assert(found, "no tensor '%s' to edit", name);
    return out;
}

static inline void assert_load_refused(const nota_plugin *p, const nota_modelfile *mf,
                                       const char *name, void (*edit)(nota_tensor **),
                                       const char *msg) {
    nota_modelfile *bad = edited_copy(p, mf, name, edit);
    nota_host h = test_host(1);
    nota_model *m = NULL;
    cr_assert_eq(p->load(bad, &h, &m), NOTA_EFORMAT, "%s: %s", name, nota_last_error());
    cr_assert_null(m);
    cr_assert_str_eq(nota_last_error(), msg);
    nota_modelfile_free(bad);
}

/* test_create with ar_layers=0 first (a later "ar_layers=..." in sets
 * wins): the tests of rotation layers look at layer 0's rotation and take
 * the full Jacobian by central differences, which a step that moves a
 * context across an autoregressive layer's bin edge would break (those
 * layers have tests of their own: test_flow_ar.c, test_flow_armodel.c). */
static inline nota_model *rot_create(const nota_plugin *p, const char *const *sets, size_t n,
                                     const nota_host *host) {
    const char *all[64] = {"ar_layers=0"};
    cr_assert_lt(n, 64);
    for (size_t i = 0; i < n; i++)
        all[i + 1] = sets[i];
    return test_create(p, all, n + 1, host);
}

/* create() from a config as a model file would carry it (no option-table
 * parsing): the plugin's own checks answer. */
static inline void assert_config_refused(const char *key, const char *value, int64_t ivalue,
                                         const char *msg) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, NULL, 0, &cfg), NOTA_OK);
    if (value)
        cr_assert_eq(nota_config_set_string(cfg, key, value), NOTA_OK);
    else
        cr_assert_eq(nota_config_set_int(cfg, key, ivalue), NOTA_OK);
    nota_host h = test_host(1);
    nota_model *m = NULL;
    cr_assert_eq(p->create(cfg, &h, &m), NOTA_EINVAL);
    cr_assert_null(m);
    cr_assert_str_eq(nota_last_error(), msg);
    nota_config_free(cfg);
}

#endif /* NOTA_TEST_FLOW_CHECKS_H */
