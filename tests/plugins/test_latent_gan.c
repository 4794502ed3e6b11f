/* latent kind `gan`: training moves the samples' per-column mean and spread
 * toward the data's, weight clipping holds, both networks are saved and
 * reload bit for bit, and what a GAN cannot do is refused exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifold.h"

#define D MANIFOLD_D

/* Small GAN with one or two more settings (e2 may be NULL). */
static nota_model *gan_model(const nota_plugin *p, const char *e1, const char *e2,
                             const nota_host *h) {
    const char *sets[] = {"kind=gan", "hidden=64,32", "latent=8", "batch=64", e1, e2};
    return test_create(p, sets, e2 ? 6 : 5, h);
}

static double metric(const nota_metric *m, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0) return m[i].value;
    cr_assert_fail("metric %s missing", name);
    return NAN;
}

static nota_modelfile *save_to_file(const nota_plugin *p, nota_model *m) {
    char path[] = "/tmp/nota_gan_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    nota_modelfile *mf, *back;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_load(path, NULL, &back), NOTA_OK, "%s", nota_last_error());
    unlink(path);
    return back;
}

Test(latent_gan, training_moves_sample_moments_toward_the_data) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(7);
    nota_tensor *x = manifold(3000, 1), *test = manifold(1000, 2);
    nota_model *a = gan_model(p, "epochs=1", NULL, &h), *b = gan_model(p, "epochs=40", NULL, &h);
    cr_assert_eq(p->fit(a, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(b, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_metric ma[8], mb[8];
    size_t na, nb;
    cr_assert_eq(p->eval(a, test, &h, ma, 8, &na), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->eval(b, test, &h, mb, 8, &nb), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nb, 4);
    double ga = metric(ma, na, "mean_gap_sd"), gb = metric(mb, nb, "mean_gap_sd");
    double ra = metric(ma, na, "sd_log_ratio"), rb = metric(mb, nb, "sd_log_ratio");
    /* measured: mean gap 0.37 → 0.07 sd, |log sd ratio| 1.35 → 0.11 */
    cr_assert_lt(gb, 0.15, "mean gap after 40 epochs %g", gb);
    cr_assert_lt(gb, ga, "mean gap %g → %g", ga, gb);
    cr_assert_lt(rb, 0.25, "sd log-ratio after 40 epochs %g", rb);
    cr_assert_lt(rb, ra / 4, "sd log-ratio %g → %g", ra, rb);
    double dr = metric(mb, nb, "d_real"), df = metric(mb, nb, "d_fake");
    cr_assert(dr > 0 && dr < 1 && df > 0 && df < 1);
    /* the metrics agree with moments computed here from plain samples */
    nota_tensor *s;
    cr_assert_eq(p->sample(b, 20000, 1.0, &h, &s), NOTA_OK);
    for (int j = 0; j < D; j++) {
        double m1 = 0, m2 = 0, d1 = 0, d2 = 0;
        for (int i = 0; i < 20000; i++)
            m1 += nota_tensor_f32(s)[i * D + j] / 20000.0;
        for (int i = 0; i < 3000; i++)
            m2 += nota_tensor_f32(x)[i * D + j] / 3000.0;
        for (int i = 0; i < 20000; i++)
            d1 += pow(nota_tensor_f32(s)[i * D + j] - m1, 2) / 20000;
        for (int i = 0; i < 3000; i++)
            d2 += pow(nota_tensor_f32(x)[i * D + j] - m2, 2) / 3000;
        cr_assert_lt(fabs(m1 - m2), 0.5 * sqrt(d2), "column %d mean %g vs %g", j, m1, m2);
        cr_assert_lt(fabs(log(d1 / d2)), 1.0, "column %d variance %g vs %g", j, d1, d2);
    }
    nota_tensor_free(s);
    p->destroy(a);
    p->destroy(b);
    nota_tensor_free(x);
    nota_tensor_free(test);
}

Test(latent_gan, clipping_bounds_the_saved_discriminator_and_reload_is_exact) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(3);
    nota_tensor *x = manifold(600, 3);
    nota_model *m = gan_model(p, "clip=0.05", "epochs=3", &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf = save_to_file(p, m);
    size_t n_disc = 0, n_gen = 0;
    for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
        const char *name = nota_modelfile_tensor_name(mf, i);
        const nota_tensor *t;
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &t), NOTA_OK);
        if (strncmp(name, "generator.", 10) == 0) n_gen++;
        if (strncmp(name, "discriminator.", 14) != 0) continue;
        n_disc++;
        for (size_t k = 0; k < nota_tensor_numel(t); k++)
            cr_assert_leq(fabsf(nota_tensor_f32(t)[k]), 0.05f, "%s[%zu]", name, k);
    }
    cr_assert_eq(n_disc, 6, "3 Linear layers x (weight, bias)");
    cr_assert_eq(n_gen, 6);
    nota_model *m2;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    nota_tensor *a, *b, *z;
    cr_assert_eq(p->sample(m, 500, 0.7, &h, &a), NOTA_OK);
    cr_assert_eq(p->sample(m2, 500, 0.7, &h, &b), NOTA_OK);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "samples differ after reload");
    nota_tensor_free(a);
    nota_tensor_free(b);
    cr_assert_eq(nota_tensor_new_2d(10, 8, &z), NOTA_OK);
    nota_rng_fill_normal(1, 1, nota_tensor_f32(z), 80);
    cr_assert_eq(p->decode(m, z, &h, &a), NOTA_OK);
    cr_assert_eq(p->decode(m2, z, &h, &b), NOTA_OK);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "decode differs after reload");
    nota_metric ma[8], mb[8];
    size_t na, nb;
    cr_assert_eq(p->eval(m, x, &h, ma, 8, &na), NOTA_OK);
    cr_assert_eq(p->eval(m2, x, &h, mb, 8, &nb), NOTA_OK);
    cr_assert_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        cr_assert_str_eq(ma[i].name, mb[i].name);
        cr_assert_eq(ma[i].value, mb[i].value, "%s differs after reload", ma[i].name);
    }
    int64_t s[NOTA_MAX_DIMS];
    cr_assert_eq(p->data_shape(m2, s), 1);
    cr_assert_eq(s[0], D);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(z);
    nota_tensor_free(x);
    p->destroy(m);
    p->destroy(m2);
}

static bool always(void *ctx) { return true; }

Test(latent_gan, unsupported_and_bad_input_are_refused_exactly) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(1);
    nota_tensor *x = manifold(300, 4), *other, *out = NULL;
    for (int r = 0; r < 300; r++)
        nota_tensor_f32(x)[r * D + 5] = 1.0f; /* a constant column */
    nota_model *m = gan_model(p, "epochs=2", NULL, &h);
    nota_host hc = h;
    hc.cancelled = always;
    cr_assert_eq(p->fit(m, x, NULL, &hc), NOTA_ECANCELED);
    cr_assert_str_eq(nota_last_error(), "gan fit: cancelled at epoch 1; no model kept");
    cr_assert_eq(p->sample(m, 3, 1.0, &h, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "gan sample: the model is not fitted (fit or load it first)");

    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->sample(m, 50, 1.0, &h, &out), NOTA_OK);
    cr_assert_eq(nota_tensor_check_finite(out, "samples"), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(out);
    out = NULL;
    cr_assert_eq(p->encode(m, x, &h, &out), NOTA_ENOTSUP);
    cr_assert_null(out);
    cr_assert_str_eq(nota_last_error(), "latent: kind 'gan' has no encoder");
    cr_assert_eq(p->log_prob(m, x, &h, &out), NOTA_ENOTSUP);
    cr_assert_str_eq(nota_last_error(), "latent: kind 'gan' has no density (log_prob)");

    cr_assert_eq(nota_tensor_new_2d(9, 3, &other), NOTA_OK);
    nota_metric met[8];
    size_t n;
    cr_assert_eq(p->eval(m, other, &h, met, 8, &n), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "gan eval: the model was fitted on items of 8 values, "
                                        "shape (9, 8); data is (9, 3)");
    cr_assert_eq(p->decode(m, other, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "gan decode: expected f32 noise (N, 8), found f32 (9, 3)");
    nota_tensor_free(other);

    /* a file that claims to be a GAN but lacks the networks */
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    const char *sets[] = {"kind=gan"};
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, sets, 1, &cfg), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_config(mf, cfg), NOTA_OK);
    nota_config_free(cfg);
    nota_model *m2 = NULL;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_ENOTFOUND);
    cr_assert_null(m2);
    cr_assert_str_eq(nota_last_error(), "gan model: model file of 'latent' has no tensor 'shift'");
    nota_modelfile_free(mf);
    nota_tensor_free(x);
    p->destroy(m);
}

/* The other stabiliser settings train too: no label smoothing, two D steps
 * per G step, clipping; the result is finite and repeatable for a seed. */
Test(latent_gan, stabiliser_options_train_and_repeat) {
    const nota_plugin *p = test_load_plugin("latent");
    nota_host h = test_host(21);
    nota_tensor *x = manifold(400, 9), *a, *b;
    const char *sets[] = {"kind=gan", "hidden=32,16",      "latent=4",  "batch=32",
                          "epochs=4", "label_smoothing=0", "d_steps=2", "clip=0.5"};
    nota_model *m1 = test_create(p, sets, 8, &h), *m2 = test_create(p, sets, 8, &h);
    cr_assert_eq(p->fit(m1, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->fit(m2, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->sample(m1, 200, 1.0, &h, &a), NOTA_OK);
    cr_assert_eq(p->sample(m2, 200, 1.0, &h, &b), NOTA_OK);
    cr_assert_eq(nota_tensor_check_finite(a, "samples"), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "same seed, different GANs");
    int64_t cs[NOTA_MAX_DIMS];
    cr_assert_eq(p->code_shape(m1, cs), 1);
    cr_assert_eq(cs[0], 4);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(x);
    p->destroy(m1);
    p->destroy(m2);
}
