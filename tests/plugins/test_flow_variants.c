/* flow plugin variants: polynomial marginals (marginal=poly, both
 * poly_tails) and patch layers with one rotation per patch position
 * (patch_rotation=each, random/pca/ica/swd), and max-sliced-Wasserstein
 * directions (rotation=swd). For each: decode ∘ encode = id,
 * log_prob = log N(z) + log|det J| with J by central differences, save →
 * load bit for bit; extrapolating polynomials agree with linear tails on
 * the training items and differ beyond the support, and a fit whose
 * validation items overflow stops cleanly at its last finite layer; exact
 * refusals of bad options and of a non-monotone polynomial in a file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow_checks.h"
#include "plugin_util.h"

Test(flow_variants, poly_vectors_invert_match_the_jacobian_and_reload_exactly) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *sets[] = {"max_layers=8", "valid_fraction=0", "marginal=poly", "poly_deg=7"};
    nota_model *m = rot_create(p, sets, 4, &h);
    nota_tensor *x = curved(3000, 2);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 20, 1e-3, 2e-3, &h);
    nota_modelfile *back = assert_save_load_exact(p, m, x, &h);
    const nota_tensor *t;
    cr_assert_eq(nota_modelfile_get_tensor(back, "l0000.poly", &t), NOTA_OK);
    cr_assert(t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 10);
    nota_modelfile_free(back);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_variants, poly_images_invert_and_match_the_jacobian) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(3);
    const char *sets[] = {"max_layers=6", "valid_fraction=0", "full_every=3", "marginal=poly"};
    nota_model *m = rot_create(p, sets, 4, &h);
    nota_tensor *x = images(1500, 5);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 3, 0.05, 2e-3, &h);
    nota_tensor_free(x);
    p->destroy(m);
}

static double mean_lp(const nota_plugin *p, nota_model *m, const nota_tensor *x, const nota_host *h,
                      nota_tensor **keep) {
    nota_tensor *lp;
    cr_assert_eq(p->log_prob(m, x, h, &lp), NOTA_OK, "%s", nota_last_error());
    double s = 0;
    for (int64_t i = 0; i < lp->shape[0]; i++)
        s += nota_tensor_f32(lp)[i];
    s /= (double)lp->shape[0];
    if (keep)
        *keep = lp;
    else
        nota_tensor_free(lp);
    return s;
}

Test(flow_variants, extrapolation_matches_linear_tails_inside_the_support_only) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(6);
    const char *lin[] = {"max_layers=6", "valid_fraction=0", "marginal=poly"};
    const char *ext[] = {"max_layers=6", "valid_fraction=0", "marginal=poly",
                         "poly_tails=extrapolate"};
    nota_model *a = rot_create(p, lin, 3, &h), *b = rot_create(p, ext, 4, &h);
    nota_tensor *x = curved(2000, 7), *far, *la, *lb;
    cr_assert_eq(p->fit(a, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(b, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    /* every training item lies inside every layer's support */
    mean_lp(p, a, x, &h, &la);
    mean_lp(p, b, x, &h, &lb);
    cr_assert_eq(memcmp(la->data, lb->data, la->nbytes), 0);
    nota_tensor_free(la);
    nota_tensor_free(lb);
    /* half as far again as the data: the maps part ways */
    cr_assert_eq(nota_tensor_clone(x, &far), NOTA_OK);
    for (size_t i = 0; i < nota_tensor_numel(far); i++)
        nota_tensor_f32(far)[i] *= 1.5f;
    nota_tensor *za, *zb;
    cr_assert_eq(p->encode(a, far, &h, &za), NOTA_OK);
    cr_assert_eq(p->encode(b, far, &h, &zb), NOTA_OK);
    cr_assert_neq(memcmp(za->data, zb->data, za->nbytes), 0);
    assert_roundtrip(p, a, far, &h); /* linear tails: a bijection everywhere */
    nota_tensor_free(za);
    nota_tensor_free(zb);
    nota_tensor_free(far);
    nota_tensor_free(x);
    p->destroy(a);
    p->destroy(b);
}

Test(flow_variants, overflowing_validation_ends_the_fit_at_its_last_finite_layer) {
    /* measured: on 10,000 moons points (9,000 fitted) degree-9
     * extrapolation sends validation items to ±inf by layer 10 */
    nota_dataset *ds;
    nota_data_filter f = {-1, 10000};
    cr_assert_eq(nota_dataset_open("toy:moons", &f, &ds), NOTA_OK, "%s", nota_last_error());
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(0);
    const char *sets[] = {"marginal=poly", "poly_tails=extrapolate", "patience=5"};
    nota_model *m = rot_create(p, sets, 3, &h);
    cr_assert_eq(p->fit(m, ds->x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK);
    const nota_tensor *meta;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "meta", &meta), NOTA_OK);
    float kept = nota_tensor_f32(meta)[3];
    cr_assert(kept >= 1 && kept < 20, "kept %g layers", (double)kept);
    double ll = mean_lp(p, m, ds->x, &h, NULL);
    cr_assert(isfinite(ll), "training log-likelihood %g", ll);
    nota_modelfile_free(mf);
    nota_dataset_free(ds);
    p->destroy(m);
}

/* patch_rotation=each with each kind of direction on 8×8 images. */
static void each_case(const char *rotation) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(4);
    char rot[64];
    snprintf(rot, sizeof rot, "rotation=%s", rotation);
    const char *sets[] = {"max_layers=5",  "valid_fraction=0",    "schedule=4,2",
                          "full_every=4",  "patch_rotation=each", rot,
                          "ica_items=512", "search_every=1"};
    nota_model *m = rot_create(p, sets, 8, &h);
    nota_tensor *x = images(1200, 9);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 3, 0.05, 2e-3, &h);
    nota_modelfile *back = assert_save_load_exact(p, m, x, &h);
    /* layer 2 is a 4×4 layer: 4 positions of 16×16 rotations, all different */
    const nota_tensor *t;
    cr_assert_eq(nota_modelfile_get_tensor(back, "l0002.rot", &t), NOTA_OK);
    cr_assert(t->ndim == 3 && t->shape[0] == 4 && t->shape[1] == 16 && t->shape[2] == 16);
    const float *r = nota_tensor_f32(t);
    for (int q = 1; q < 4; q++)
        cr_assert_neq(memcmp(r, r + q * 256, 256 * sizeof(float)), 0, "position %d", q);
    cr_assert_eq(nota_modelfile_get_tensor(back, "l0001.rot", &t), NOTA_OK); /* 2×2 */
    cr_assert(t->ndim == 3 && t->shape[0] == 16 && t->shape[1] == 4);
    cr_assert_eq(nota_modelfile_get_tensor(back, "l0000.rot", &t), NOTA_OK);
    cr_assert(t->ndim == 2 && t->shape[0] == 64, "full layers keep one rotation");
    nota_modelfile_free(back);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_variants, rotation_per_patch_position_random) { each_case("random"); }
Test(flow_variants, rotation_per_patch_position_pca) { each_case("pca"); }
Test(flow_variants, rotation_per_patch_position_ica) { each_case("ica"); }
Test(flow_variants, rotation_per_patch_position_swd) { each_case("swd"); }

Test(flow_variants, swd_directions_invert_and_match_the_jacobian) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(3);
    const char *sets[] = {"max_layers=6", "valid_fraction=0", "full_every=3", "rotation=swd",
                          "swd_cols=2048"};
    nota_model *m = rot_create(p, sets, 5, &h);
    nota_tensor *x = images(1500, 5);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    assert_roundtrip(p, m, x, &h);
    assert_jacobian(p, m, x, 3, 0.05, 2e-3, &h);
    nota_tensor_free(x);
    p->destroy(m);
}

Test(flow_variants, bad_options_are_refused_with_exact_messages) {
    assert_config_refused("marginal", "kde", 0,
                          "flow config: marginal 'kde' (expected spline|poly)");
    assert_config_refused("poly_tails", "clamp", 0,
                          "flow config: poly_tails 'clamp' (expected linear|extrapolate)");
    assert_config_refused("patch_rotation", "some", 0,
                          "flow config: patch_rotation 'some' (expected shared|each)");
    assert_config_refused("poly_deg", NULL, 17, "flow config: poly_deg 17 (expected 1..16)");
    assert_config_refused("poly_deg", NULL, 0, "flow config: poly_deg 0 (expected 1..16)");
    assert_config_refused("rotation", "sinf", 0,
                          "flow config: rotation 'sinf' (expected random|pca|ica|swd)");
    assert_config_refused("swd_cols", NULL, 10,
                          "flow config: swd_cols 10 (expected 256..100000000)");
}

static void poly_falling(nota_tensor **t) { /* coordinate 1: support [-1, 1], p = -t */
    float *r = nota_tensor_f32(*t) + 6;
    r[0] = -1;
    r[1] = 1;
    r[2] = 0;
    r[3] = -1;
    r[4] = r[5] = 0;
}

Test(flow_variants, load_refuses_a_polynomial_that_is_not_increasing) {
    const nota_plugin *p = test_load_plugin("flow");
    nota_host h = test_host(1);
    const char *sets[] = {"max_layers=1", "valid_fraction=0", "marginal=poly", "poly_deg=3"};
    nota_model *m = rot_create(p, sets, 4, &h);
    nota_tensor *x = curved(2000, 4);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK);
    const nota_tensor *act;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "l0000.active", &act), NOTA_OK);
    cr_assert_eq(nota_tensor_u8(act)[1], 1);
    assert_load_refused(p, mf, "l0000.poly", poly_falling,
                        "flow model: layer 0, coordinate 1: polynomial is not increasing on its "
                        "support [-1, 1]");
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}
