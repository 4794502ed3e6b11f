/* `nota-host transform`: the scatter plugin's scattering transform from the
 * command line writes exactly what the plugin's transform returns, as
 * (N, channels, H/2^J, W/2^J) f32; plugins without a transform, missing
 * options, bad --set values and non-image data are refused with exact
 * messages. */
#include "../plugin_util.h"
#include "host_run.h"

/* (n, 1, 16, 12) f32 images in [0, 1). */
static nota_tensor *small_images(int64_t n) {
    int64_t shape[4] = {n, 1, 16, 12};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &t), NOTA_OK);
    float *v = nota_tensor_f32(t);
    for (int64_t i = 0; i < n * 16 * 12; i++)
        v[i] = (float)((i * 37) % 101) / 101.0f;
    return t;
}

Test(transform, writes_what_the_plugin_computes) {
    char *dir = tmpdir_make(), data[600], out[600];
    snprintf(data, sizeof data, "%s/x.npy", dir);
    snprintf(out, sizeof out, "%s/s.npy", dir);
    nota_tensor *x = small_images(5);
    cr_assert_eq(nota_npy_write(data, x), NOTA_OK, "%s", nota_last_error());
    host_run r =
        run_host(dir, "transform", "--plugin", "scatter", "--set", "J=2", "--set", "L=4", "--set",
                 "input_scale=1", "--data", data, "--out", out, "--threads", "2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char expect[700];
    snprintf(expect, sizeof expect, "wrote %s (5, 25, 4, 3)\n", out);
    cr_assert_str_eq(r.out, expect);
    host_run_free(&r);
    nota_tensor *s;
    cr_assert_eq(nota_npy_read(out, &s), NOTA_OK, "%s", nota_last_error());

    const nota_plugin *p = test_load_plugin("scatter");
    const char *sets[] = {"J=2", "L=4", "input_scale=1"};
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, sets, 3, &cfg), NOTA_OK);
    nota_host h = test_host(0);
    nota_tensor *want;
    cr_assert_eq(p->transform(cfg, x, &h, &want), NOTA_OK, "%s", nota_last_error());
    cr_assert(nota_tensor_same_shape(s, want));
    cr_assert_eq(memcmp(nota_tensor_f32(s), nota_tensor_f32(want), s->nbytes), 0);
    nota_tensor_free(want);
    nota_config_free(cfg);
    nota_tensor_free(s);
    nota_tensor_free(x);
    tmpdir_remove(dir);
}

Test(transform, refusals_have_exact_messages) {
    char *dir = tmpdir_make(), data[600], out[600];
    snprintf(data, sizeof data, "%s/x.npy", dir);
    snprintf(out, sizeof out, "%s/s.npy", dir);
    nota_tensor *x = small_images(2);
    cr_assert_eq(nota_npy_write(data, x), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(x);

    host_run r = run_host(dir, "transform", "--plugin", "scatter", "--data", data, NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: 'transform' needs --out FILE.npy\n"
                            "Run 'nota-host help transform' for usage.\n");
    host_run_free(&r);

    r = run_host(dir, "transform", "--plugin", "latent", "--data", data, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: plugin 'latent' has no transform (capabilities: "
                            "fit,sample,encode,decode,log_prob,eval)\n");
    host_run_free(&r);

    r = run_host(dir, "transform", "--plugin", "scatter", "--set", "J=9", "--data", data, "--out",
                 out, NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: option 'J' must be in [1, 8], got '9'\n"
                            "Run 'nota-host help transform --plugin scatter' for its options.\n");
    host_run_free(&r);

    char vec[600];
    snprintf(vec, sizeof vec, "%s/v.npy", dir);
    nota_tensor *v;
    cr_assert_eq(nota_tensor_new_2d(10, 3, &v), NOTA_OK);
    cr_assert_eq(nota_npy_write(vec, v), NOTA_OK);
    nota_tensor_free(v);
    r = run_host(dir, "transform", "--plugin", "scatter", "--data", vec, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: scatter: input has shape (10, 3), expected (N, C, "
                            "H, W) or (N, H, W)\n");
    cr_assert_not(file_exists(out));
    host_run_free(&r);
    tmpdir_remove(dir);
}
