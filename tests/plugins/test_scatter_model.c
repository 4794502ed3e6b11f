/* scatter plugin, model: whitened PCA codes of the scattering and the
 * convolutional decoder. The decoder overfits 64 small images; codes are
 * white on the training set; shapes, refusals (exact messages), and
 * save → load giving bit-identical encode / decode / sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_util.h"

#define N 64
#define S 16

/* N images (1, S, S) in [0, 256): a bright rectangle on a darker gradient,
 * position and size varying per image. */
static nota_tensor *shapes_data(int64_t n, uint64_t seed) {
    int64_t shape[4] = {n, 1, S, S};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &t), NOTA_OK);
    nota_rng r = nota_rng_make(seed, 1);
    float *x = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++) {
        int r0 = (int)nota_rng_below(&r, 8), c0 = (int)nota_rng_below(&r, 8);
        int h = 3 + (int)nota_rng_below(&r, 6), w = 3 + (int)nota_rng_below(&r, 6);
        float g = 20.0f + 60.0f * nota_rng_uniform(&r);
        for (int a = 0; a < S; a++)
            for (int b = 0; b < S; b++) {
                bool in = a >= r0 && a < r0 + h && b >= c0 && b < c0 + w;
                x[i * S * S + a * S + b] = in ? 230.5f : g + 4.0f * (float)(a + b);
            }
    }
    return t;
}

static const char *const SMALL[] = {"L=4",          "channels=32,16,8", "batch=16",
                                    "valid_frac=0", "epochs=150",       "lr=3e-3"};

static nota_model *fitted(const nota_plugin *p, const nota_tensor *x, const nota_host *h) {
    nota_model *m = test_create(p, SMALL, sizeof SMALL / sizeof SMALL[0], h);
    cr_assert_eq(p->fit(m, x, NULL, h), NOTA_OK, "%s", nota_last_error());
    return m;
}

static double psnr_of(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                      const nota_host *h) {
    nota_metric mt[4];
    size_t n;
    cr_assert_eq(p->eval(m, x, h, mt, 4, &n), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(n, 2);
    cr_assert_str_eq(mt[0].name, "psnr_db");
    cr_assert_str_eq(mt[1].name, "l1");
    return mt[0].value;
}

Test(scatter_model, decoder_overfits_64_images) {
    const nota_plugin *p = test_load_plugin("scatter");
    nota_host h = test_host(3);
    nota_tensor *x = shapes_data(N, 7);
    nota_model *m = fitted(p, x, &h);
    double psnr = psnr_of(p, m, x, &h);
    /* measured 31.1 dB after 150 epochs; a decoder that ignored its codes
     * (the mean image) would get 15.4 dB on these images */
    cr_assert(psnr > 28.0, "train PSNR %.2f dB", psnr);
    int64_t shape[NOTA_MAX_DIMS];
    cr_assert_eq(p->code_shape(m, shape), 1);
    cr_assert_eq(shape[0], N - 1); /* k capped at the rank: 64 items span 63 dims */
    cr_assert_eq(p->data_shape(m, shape), 3);
    cr_assert(shape[0] == 1 && shape[1] == S && shape[2] == S);

    /* codes are white on the training set: mean 0, unit variance */
    nota_tensor *z;
    cr_assert_eq(p->encode(m, x, &h, &z), NOTA_OK, "%s", nota_last_error());
    cr_assert(z->ndim == 2 && z->shape[0] == N && z->shape[1] == N - 1);
    for (int64_t j = 0; j < N - 1; j += 9) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < N; i++) {
            double v = nota_tensor_f32(z)[i * (N - 1) + j];
            s += v, s2 += v * v;
        }
        cr_assert(fabs(s / N) < 1e-3 && fabs(s2 / (N - 1) - 1) < 1e-2,
                  "component %lld: mean %g var %g", (long long)j, s / N, s2 / (N - 1));
    }
    nota_tensor_free(z);
    p->destroy(m);
    nota_tensor_free(x);
}

Test(scatter_model, save_load_is_bit_identical) {
    const nota_plugin *p = test_load_plugin("scatter");
    nota_host h = test_host(5);
    nota_tensor *x = shapes_data(24, 9);
    const char *sets[] = {"L=4", "channels=8,8,8", "epochs=2", "k=10", "renorm=true"};
    nota_model *m = test_create(p, sets, 5, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("scatter", p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    char path[] = "/tmp/nota-scatter-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_load(path, NULL, &mf), NOTA_OK, "%s", nota_last_error());
    unlink(path);
    nota_model *m2;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);

    nota_tensor *z1, *z2, *d1, *d2, *s1, *s2;
    cr_assert_eq(p->encode(m, x, &h, &z1), NOTA_OK);
    cr_assert_eq(p->encode(m2, x, &h, &z2), NOTA_OK);
    cr_assert_eq(z1->shape[1], 10);
    cr_assert_eq(memcmp(nota_tensor_f32(z1), nota_tensor_f32(z2), z1->nbytes), 0);
    cr_assert_eq(p->decode(m, z1, &h, &d1), NOTA_OK);
    cr_assert_eq(p->decode(m2, z1, &h, &d2), NOTA_OK);
    cr_assert_eq(memcmp(nota_tensor_f32(d1), nota_tensor_f32(d2), d1->nbytes), 0);
    cr_assert_eq(p->sample(m, 7, 1.0, &h, &s1), NOTA_OK);
    cr_assert_eq(p->sample(m2, 7, 1.0, &h, &s2), NOTA_OK);
    cr_assert(s1->ndim == 4 && s1->shape[0] == 7 && s1->shape[1] == 1 && s1->shape[2] == S);
    cr_assert_eq(memcmp(nota_tensor_f32(s1), nota_tensor_f32(s2), s1->nbytes), 0);
    for (size_t i = 0; i < nota_tensor_numel(s1); i++)
        cr_assert(nota_tensor_f32(s1)[i] >= 0 && nota_tensor_f32(s1)[i] <= 256);
    nota_tensor *all[] = {z1, z2, d1, d2, s1, s2};
    for (int i = 0; i < 6; i++)
        nota_tensor_free(all[i]);
    p->destroy(m);
    p->destroy(m2);
    nota_tensor_free(x);
}

Test(scatter_model, bad_input_is_refused_with_exact_messages) {
    const nota_plugin *p = test_load_plugin("scatter");
    nota_host h = test_host(1);
    nota_tensor *x = shapes_data(8, 1), *out = NULL;
    const char *sets[] = {"L=4", "channels=8,8,8", "epochs=1", "valid_frac=0"};
    nota_model *m = test_create(p, sets, 4, &h);
    cr_assert_eq(p->encode(m, x, &h, &out), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "scatter encode: the model is not fitted");
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("scatter", p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "scatter save: the model is not fitted");

    int64_t odd[4] = {8, 1, 14, 16};
    nota_tensor *bad;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, odd, &bad), NOTA_OK);
    cr_assert_eq(p->fit(m, bad, NULL, &h), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "scatter fit: images (1, 14, 16) need at most 16 channels "
                                        "and sides that are multiples of 2^J = 4");
    nota_tensor_free(bad);

    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    int64_t other[4] = {2, 1, 8, 16};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, other, &bad), NOTA_OK);
    cr_assert_eq(p->encode(m, bad, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "scatter encode: the model takes images (1, 16, 16), found (1, 8, 16)");
    nota_tensor_free(bad);
    cr_assert_eq(nota_tensor_new_2d(2, 5, &bad), NOTA_OK);
    cr_assert_eq(p->decode(m, bad, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "scatter decode: expected f32 codes (N, 7), found (2, 5)");
    nota_tensor_f32(bad)[0] = NAN;
    cr_assert_eq(p->encode(m, bad, &h, &out), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "scatter encode: expected f32 images (N, C, H, W), found f32 (2, 5)");
    nota_tensor_free(bad);
    cr_assert_null(out);

    /* a file whose config claims more components than its tensors hold */
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    nota_config *cfg;
    cr_assert_eq(nota_config_clone(nota_modelfile_config(mf), &cfg), NOTA_OK);
    cr_assert_eq(nota_config_set_int(cfg, "fit_k", 5), NOTA_OK);
    cr_assert_eq(nota_modelfile_set_config(mf, cfg), NOTA_OK);
    nota_model *m2 = (nota_model *)1;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_EFORMAT);
    cr_assert_null(m2);
    cr_assert_str_eq(nota_last_error(), "scatter model: tensor 'pca.whiten' is f32 (7, 400), the "
                                        "config needs f32 (5, 400)");
    nota_config_free(cfg);
    nota_modelfile_free(mf);
    p->destroy(m);
    nota_tensor_free(x);

    const char *badch[] = {"channels=8,4"};
    nota_config *c2;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, badch, 1, &c2), NOTA_OK);
    cr_assert_eq(p->create(c2, &h, &m), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "scatter: channels '8,4' must be 'auto' or 3 "
                                        "comma-separated sizes in 1..4096 (one per resolution, "
                                        "2 upsamplings)");
    nota_config_free(c2);
}

/* Angles & Mallat's generator (arch=am128) on 64×64 images: 7×7 convs with
 * reflect padding from 2×2, five upsamplings; fits, decodes at the image
 * size and reloads bit for bit; too small images are refused. */
Test(scatter_model, am128_generator) {
    const nota_plugin *p = test_load_plugin("scatter");
    nota_host h = test_host(2);
    int64_t shape[4] = {6, 1, 64, 64};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &x), NOTA_OK);
    for (int64_t i = 0; i < 6 * 64 * 64; i++)
        nota_tensor_f32(x)[i] = (float)((i * 7 + (i / 64) * 3 + (i / 4096) * 11) % 256);
    const char *sets[] = {"J=4",      "L=2",          "arch=am128", "channels=8,8,8,8,8,8",
                          "epochs=1", "valid_frac=0", "batch=3"};
    nota_model *m = test_create(p, sets, 7, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_tensor *z, *d1, *d2;
    cr_assert_eq(p->encode(m, x, &h, &z), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(z->shape[1], 5);
    cr_assert_eq(p->decode(m, z, &h, &d1), NOTA_OK, "%s", nota_last_error());
    cr_assert(d1->ndim == 4 && d1->shape[0] == 6 && d1->shape[1] == 1 && d1->shape[2] == 64 &&
              d1->shape[3] == 64);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("scatter", p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    const nota_tensor *w;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "dec.24.weight", &w), NOTA_OK);
    cr_assert(w->ndim == 4 && w->shape[0] == 1 && w->shape[1] == 8 && w->shape[2] == 7);
    nota_model *m2;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(p->decode(m2, z, &h, &d2), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(nota_tensor_f32(d1), nota_tensor_f32(d2), d1->nbytes), 0);
    nota_tensor_free(z), nota_tensor_free(d1), nota_tensor_free(d2);
    nota_modelfile_free(mf);
    p->destroy(m2);
    p->destroy(m);
    nota_tensor_free(x);

    x = shapes_data(4, 3);
    m = test_create(p, sets, 7, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "scatter: arch=am128 needs sides that are multiples of 32 "
                                        "and at least 64, found 16×16");
    p->destroy(m);
    nota_tensor_free(x);
}

/* Model files written before the `arch` option existed have no such key:
 * they load as the conv decoder. */
Test(scatter_model, file_without_arch_key_loads_as_conv) {
    const nota_plugin *p = test_load_plugin("scatter");
    nota_host h = test_host(1);
    nota_tensor *x = shapes_data(8, 2);
    const char *sets[] = {"L=4", "channels=8,8,8", "epochs=1", "valid_frac=0"};
    nota_model *m = test_create(p, sets, 4, &h);
    cr_assert_eq(p->fit(m, x, NULL, &h), NOTA_OK, "%s", nota_last_error());
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("scatter", p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    const nota_config *full = nota_modelfile_config(mf);
    nota_config *old;
    cr_assert_eq(nota_config_new(&old), NOTA_OK);
    for (size_t i = 0; i < nota_config_count(full); i++) {
        const char *key = nota_config_key(full, i);
        if (strcmp(key, "arch") == 0) continue;
        int64_t iv;
        double fv;
        const char *sv;
        bool bv;
        switch (nota_config_type(full, i)) {
        case NOTA_VAL_INT:
            cr_assert_eq(nota_config_get_int(full, key, &iv), NOTA_OK);
            cr_assert_eq(nota_config_set_int(old, key, iv), NOTA_OK);
            break;
        case NOTA_VAL_FLOAT:
            cr_assert_eq(nota_config_get_float(full, key, &fv), NOTA_OK);
            cr_assert_eq(nota_config_set_float(old, key, fv), NOTA_OK);
            break;
        case NOTA_VAL_STRING:
            cr_assert_eq(nota_config_get_string(full, key, &sv), NOTA_OK);
            cr_assert_eq(nota_config_set_string(old, key, sv), NOTA_OK);
            break;
        case NOTA_VAL_BOOL:
            cr_assert_eq(nota_config_get_bool(full, key, &bv), NOTA_OK);
            cr_assert_eq(nota_config_set_bool(old, key, bv), NOTA_OK);
            break;
        }
    }
    const char *arch;
    cr_assert_eq(nota_config_get_string(old, "arch", &arch), NOTA_ENOTFOUND);
    cr_assert_eq(nota_modelfile_set_config(mf, old), NOTA_OK);
    nota_config_free(old);
    nota_model *m2;
    cr_assert_eq(p->load(mf, &h, &m2), NOTA_OK, "%s", nota_last_error());
    nota_tensor *z, *d1, *d2;
    cr_assert_eq(p->encode(m, x, &h, &z), NOTA_OK);
    cr_assert_eq(p->decode(m, z, &h, &d1), NOTA_OK);
    cr_assert_eq(p->decode(m2, z, &h, &d2), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(memcmp(nota_tensor_f32(d1), nota_tensor_f32(d2), d1->nbytes), 0);
    nota_tensor_free(z), nota_tensor_free(d1), nota_tensor_free(d2);
    nota_modelfile_free(mf);
    p->destroy(m2);
    p->destroy(m);
    nota_tensor_free(x);
}
