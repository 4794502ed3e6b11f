/* flow plugin: cheap full layers. full_rank = k makes every full layer
 * after the first move only the first k rows of its rotation (applied as
 * the low-rank update x + R_Aᵀ(S(R_A x) − R_A x)); full_search = k runs
 * the ica or swd search inside the span of the top k principal axes of a
 * full layer; full_items = n computes a full layer's principal axes from
 * the first n items; ica_iters = 0 (auto) is 100 FastICA steps on patch
 * layers and 8 elsewhere. 1×12×12 images (144 values, above the 64 up to which full
 * layers search the whole space): decode ∘ encode = id, log_prob =
 * log N(z) + log|det J| with J by central differences, save → load bit
 * for bit, which rows moved, and exact refusals of out-of-range values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow_checks.h"
#include "plugin_util.h"

/* Active flags of layer l in the saved model (caller frees mf). */
static const uint8_t *saved_active(nota_modelfile *mf, int l, int64_t *n) {
    char name[32];
    snprintf(name, sizeof name, "l%04d.active", l);
    const nota_tensor *t;
    cr_assert_eq(nota_modelfile_get_tensor(mf, name, &t), NOTA_OK, "%s", name);
    *n = t->shape[0];
    return nota_tensor_u8(t);
}

static void lowrank_case(const char *rotation, const char *search) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    char rot[64], fs[64];
    snprintf(rot, sizeof rot, "rotation=%s", rotation);
    snprintf(fs, sizeof fs, "full_search=%s", search);
    const char *sets[] = {"max_layers=6",
                          "valid_fraction=0",
                          "full_every=2",
                          "full_rank=12",
                          "ica_items=512",
                          "swd_cols=2048",
                          rot,
                          fs};
    nota_model *m = rot_create(p, sets, 8, &h);
    nota_tensor *x = images_side(1500, 12, 3);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 2, 0.05, 2e-3, &h);
    nota_modelfile *mf = assert_save_load_exact(p, m, x, &h);
    int64_t n, moved0 = 0, moved_low = 0;
    const uint8_t *a0 = saved_active(mf, 0, &n);
    cr_assert_eq(n, 144);
    for (int64_t r = 0; r < n; r++)
        moved0 += a0[r];
    cr_assert_gt(moved0, 12, "layer 0 is complete: %lld rows moved", (long long)moved0);
    for (int l = 2; l <= 4; l += 2) { /* full layers after the first */
        const uint8_t *a = saved_active(mf, l, &n);
        for (int64_t r = 12; r < n; r++)
            cr_assert_eq(a[r], 0, "layer %d row %lld moved", l, (long long)r);
        for (int64_t r = 0; r < 12; r++)
            moved_low += a[r];
    }
    cr_assert_gt(moved_low, 0);
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_fullrank, pca_low_rank_layers_invert_match_the_jacobian_and_reload) {
    lowrank_case("pca", "0");
}
Test(flow_fullrank, ica_inside_the_top_axes_inverts_and_matches_the_jacobian) {
    lowrank_case("ica", "8");
}
Test(flow_fullrank, swd_inside_the_top_axes_inverts_and_matches_the_jacobian) {
    lowrank_case("swd", "8");
}

/* Two one-layer fits of the same data with settings sa and sb, saved; ra
 * and rb are their layer-0 rotations (borrowed from the saved files). */
typedef struct rot_pair {
    nota_model *a, *b;
    nota_modelfile *ma, *mb;
    const nota_tensor *ra, *rb;
} rot_pair;

static void fit_pair(const nota_plugin *p, const char **sa, int na, const char **sb, int nb,
                     const nota_tensor *x, const nota_host *h, rot_pair *r) {
    r->a = rot_create(p, sa, na, h), r->b = rot_create(p, sb, nb, h);
    cr_assert_eq(p->fit(r->a, x, NULL, h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(r->b, x, NULL, h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &r->ma), NOTA_OK);
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &r->mb), NOTA_OK);
    cr_assert_eq(p->save(r->a, r->ma), NOTA_OK);
    cr_assert_eq(p->save(r->b, r->mb), NOTA_OK);
    cr_assert_eq(nota_modelfile_get_tensor(r->ma, "l0000.rot", &r->ra), NOTA_OK);
    cr_assert_eq(nota_modelfile_get_tensor(r->mb, "l0000.rot", &r->rb), NOTA_OK);
}

static void pair_free(const nota_plugin *p, rot_pair *r) {
    nota_modelfile_free(r->ma);
    nota_modelfile_free(r->mb);
    p->destroy(r->a);
    p->destroy(r->b);
}

/* A full layer whose search ran in the top k axes keeps the other rows as
 * principal axes: with the same seed, rows k.. of layer 0's rotation are
 * those of rotation=pca, rows ..k differ. */
Test(flow_fullrank, full_search_replaces_only_the_top_axes) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *pca[] = {"max_layers=1", "valid_fraction=0", "rotation=pca"};
    const char *ica[] = {"max_layers=1", "valid_fraction=0", "rotation=ica", "full_search=8",
                         "ica_items=512"};
    nota_tensor *x = images_side(800, 12, 5);
    rot_pair r;
    fit_pair(p, pca, 3, ica, 5, x, &h, &r);
    const float *A = nota_tensor_f32(r.ra), *B = nota_tensor_f32(r.rb);
    cr_assert_eq(memcmp(A + 8 * 144, B + 8 * 144, (144 - 8) * 144 * sizeof(float)), 0);
    cr_assert_neq(memcmp(A, B, 8 * 144 * sizeof(float)), 0);
    /* the searched rows span the same subspace: each is orthogonal to the
     * principal axes below the top 8 and has unit norm */
    for (int i = 0; i < 8; i++) {
        double nn = 0, off = 0;
        for (int j = 0; j < 144; j++)
            nn += (double)B[i * 144 + j] * B[i * 144 + j];
        for (int k = 8; k < 144; k++) {
            double d = 0;
            for (int j = 0; j < 144; j++)
                d += (double)B[i * 144 + j] * A[k * 144 + j];
            off = fmax(off, fabs(d));
        }
        cr_assert_float_eq(nn, 1.0, 1e-5, "row %d norm² %g", i, nn);
        cr_assert_lt(off, 1e-5, "row %d leaves the top subspace by %g", i, off);
    }
    pair_free(p, &r);
    nota_tensor_free(x);
}

/* full_items = n: a full layer's principal axes come from the first n
 * items only — the same axes as a fit on those n items, different from
 * the axes of all of them. */
Test(flow_fullrank, full_items_takes_the_axes_of_the_first_items) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *some[] = {"max_layers=1", "valid_fraction=0", "rotation=pca", "full_items=300"};
    const char *all[] = {"max_layers=1", "valid_fraction=0", "rotation=pca"};
    nota_tensor *x = images_side(900, 12, 8);
    /* the standardisation (mean, sd) still comes from every item, so the
     * comparison fits b on all items and checks a's axes are not b's */
    rot_pair r;
    fit_pair(p, some, 4, all, 3, x, &h, &r);
    const nota_tensor *ra = r.ra, *rb = r.rb;
    cr_assert_neq(memcmp(ra->data, rb->data, ra->nbytes), 0);
    /* first principal axis of the first 300 standardised items, by power
     * iteration on their covariance in double: a's first row (up to sign) */
    int64_t n = 300, D = 144;
    const float *mu = NULL, *isd = NULL;
    const nota_tensor *t;
    cr_assert_eq(nota_modelfile_get_tensor(r.ma, "mu", &t), NOTA_OK);
    mu = nota_tensor_f32(t);
    cr_assert_eq(nota_modelfile_get_tensor(r.ma, "inv_sd", &t), NOTA_OK);
    isd = nota_tensor_f32(t);
    cr_assert_eq(nota_modelfile_get_tensor(r.ma, "meta", &t), NOTA_OK);
    double lam = nota_tensor_f32(t)[1]; /* the logit squeeze as stored */
    double *c = calloc((size_t)(D * D), sizeof *c), *v = malloc((size_t)D * sizeof *v);
    double *u = malloc((size_t)(n * D) * sizeof *u);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < D; j++) {
            double q = lam + (1 - 2 * lam) * nota_tensor_f32(x)[i * D + j] / 256.0;
            u[i * D + j] = ((log(q) - log1p(-q)) - mu[j]) * isd[j];
        }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < D; j++)
            for (int64_t k = 0; k < D; k++)
                c[j * D + k] += u[i * D + j] * u[i * D + k] / (double)n;
    for (int64_t j = 0; j < D; j++)
        v[j] = nota_tensor_f32(ra)[j] + 0.01;
    for (int it = 0; it < 500; it++) {
        double w[144], nn = 0;
        for (int64_t j = 0; j < D; j++) {
            w[j] = 0;
            for (int64_t k = 0; k < D; k++)
                w[j] += c[j * D + k] * v[k];
            nn += w[j] * w[j];
        }
        for (int64_t j = 0; j < D; j++)
            v[j] = w[j] / sqrt(nn);
    }
    double dot = 0;
    for (int64_t j = 0; j < D; j++)
        dot += v[j] * nota_tensor_f32(ra)[j];
    cr_assert_float_eq(fabs(dot), 1.0, 1e-3, "first axis: |<v, row 0>| = %g", fabs(dot));
    double dot_all = 0; /* the axis of all 900 items is another one */
    for (int64_t j = 0; j < D; j++)
        dot_all += v[j] * nota_tensor_f32(rb)[j];
    cr_assert_lt(fabs(dot_all), 1 - 1e-2, "all items: |<v, row 0>| = %g", fabs(dot_all));
    free(c);
    free(v);
    free(u);
    pair_free(p, &r);
    nota_tensor_free(x);
}

Test(flow_fullrank, out_of_range_values_are_refused_with_exact_messages) {
    assert_config_refused("full_rank", NULL, -1, "flow config: full_rank -1 (expected 0..4096)");
    assert_config_refused("full_rank", NULL, 4097,
                          "flow config: full_rank 4097 (expected 0..4096)");
    assert_config_refused("full_search", NULL, -2,
                          "flow config: full_search -2 (expected 0..4096)");
    assert_config_refused("full_search", NULL, 5000,
                          "flow config: full_search 5000 (expected 0..4096)");
    assert_config_refused("full_items", NULL, -1,
                          "flow config: full_items -1 (expected 0..100000000)");
    assert_config_refused("full_items", NULL, 100000001,
                          "flow config: full_items 100000001 (expected 0..100000000)");
}

/* log_prob of x under a model fitted with the given options. */
static nota_tensor *fitted_lp(const char **sets, int n, const nota_tensor *x) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(2);
    nota_model *m = rot_create(p, sets, n, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, x, &h, &lp), NOTA_OK, "%s", nota_last_error());
    p->destroy(m);
    return lp;
}

/* ica_iters = 0 (auto): 100 FastICA steps on patch layers, 8 on a search
 * of the whole space — the same models as those counts set explicitly. */
Test(flow_fullrank, auto_ica_steps_are_100_on_patches_and_8_on_whole_items) {
    nota_tensor *img = images(600, 4), *vec = curved(1500, 6);
    const char *pa[] = {"max_layers=3", "valid_fraction=0", "full_every=0", "ica_items=256"};
    const char *pb[] = {"max_layers=3", "valid_fraction=0", "full_every=0", "ica_items=256",
                        "ica_iters=100"};
    const char *pc[] = {"max_layers=3", "valid_fraction=0", "full_every=0", "ica_items=256",
                        "ica_iters=8"};
    nota_tensor *a = fitted_lp(pa, 4, img), *b = fitted_lp(pb, 5, img), *c = fitted_lp(pc, 5, img);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0);
    cr_assert_neq(memcmp(a->data, c->data, a->nbytes), 0);
    const char *va[] = {"max_layers=4", "valid_fraction=0"};
    const char *vb[] = {"max_layers=4", "valid_fraction=0", "ica_iters=8"};
    const char *vc[] = {"max_layers=4", "valid_fraction=0", "ica_iters=100"};
    nota_tensor *d = fitted_lp(va, 2, vec), *e = fitted_lp(vb, 3, vec), *g = fitted_lp(vc, 3, vec);
    cr_assert_eq(memcmp(d->data, e->data, d->nbytes), 0);
    cr_assert_neq(memcmp(d->data, g->data, d->nbytes), 0);
    nota_tensor *all[] = {a, b, c, d, e, g, img, vec};
    for (int i = 0; i < 8; i++)
        nota_tensor_free(all[i]);
}
