/* The latent plugin's neural kinds through nota-host: fit a VAE and a GAN on
 * a .npy of vectors, then eval, sample, encode and analyze; image data gets a
 * PNG sample grid; what a GAN lacks (a density, an encoder) is reported
 * without failing the commands that do not need it. Small nets, few epochs. */
#include <math.h>

#include "host_run.h"

/* (n, 4) vectors on a curved 2-D manifold plus noise. */
static char *write_codes(const char *dir, int64_t n) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, 4, &t), NOTA_OK);
    float *e = malloc((size_t)n * 6 * sizeof *e), *x = nota_tensor_f32(t);
    nota_rng_fill_normal(5, 5, e, (size_t)n * 6);
    for (int64_t i = 0; i < n; i++) {
        float u = e[i * 6], v = e[i * 6 + 1];
        float f[4] = {u, v, sinf(2 * u), u * v};
        for (int j = 0; j < 4; j++)
            x[i * 4 + j] = f[j] + 0.05f * e[i * 6 + 2 + j];
    }
    free(e);
    char *path = malloc(512);
    snprintf(path, 512, "%s/codes.npy", dir);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    return path;
}

Test(latent_cli, vae_fit_eval_sample_encode) {
    char *dir = tmpdir_make(), *data = write_codes(dir, 1000), out[600], prefix[600];
    snprintf(out, sizeof out, "%s/vae.nota", dir);
    host_run r = run_host(dir, "fit", "--plugin", "latent", "--data", data, "--out", out, "--set",
                          "kind=vae", "--set", "hidden=32,16", "--set", "latent=4", "--set",
                          "epochs=5", "--threads", "1", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "[vae epoch] 5/5 (100%) train "), "%s", r.err);
    double train_bpd = number_after(r.out, "\ntrain_bits_per_dim ");
    cr_assert(isfinite(train_bpd));
    host_run_free(&r);

    r = run_host(dir, "eval", out, "--data", data, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    double bpd = number_after(r.out, "\"bits_per_dim\":");
    double iw = number_after(r.out, "\"iw_bits_per_dim\":");
    /* the host's bits/dim comes from log_prob, which is the same IW estimate */
    cr_assert_float_eq(bpd, iw, 1e-4, "%s", r.out);
    cr_assert(strstr(r.out, "\"neg_elbo_nats\":"), "%s", r.out);
    host_run_free(&r);

    snprintf(prefix, sizeof prefix, "%s/s", dir);
    r = run_host(dir, "sample", out, "--n", "50", "--out", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    snprintf(prefix, sizeof prefix, "%s/s.npy", dir);
    nota_tensor *s;
    cr_assert_eq(nota_npy_read(prefix, &s), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(s->shape[0], 50);
    cr_assert_eq(s->shape[1], 4);
    nota_tensor_free(s);

    snprintf(prefix, sizeof prefix, "%s/z.npy", dir);
    r = run_host(dir, "encode", out, "--data", data, "--out", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "analyze", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, ": 1000 items, 4 components\n"), "%s", r.out);
    host_run_free(&r);
    free(data);
    tmpdir_remove(dir);
}

Test(latent_cli, gan_has_no_density_but_evaluates_and_samples) {
    char *dir = tmpdir_make(), *data = write_codes(dir, 500), out[600], prefix[600];
    snprintf(out, sizeof out, "%s/gan.nota", dir);
    host_run r = run_host(dir, "fit", "--plugin", "latent", "--data", data, "--out", out, "--set",
                          "kind=gan", "--set", "hidden=32,16", "--set", "latent=8", "--set",
                          "epochs=3", "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, ",\"metrics\":{}}\n"), "%s", r.out);
    host_run_free(&r);

    r = run_host(dir, "eval", out, "--data", data, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(strncmp(r.out, "mean_gap_sd ", 12), 0, "%s", r.out);
    cr_assert(strstr(r.out, "\nsd_log_ratio "), "%s", r.out);
    cr_assert_null(strstr(r.out, "bits_per_dim"), "%s", r.out);
    host_run_free(&r);

    snprintf(prefix, sizeof prefix, "%s/z.npy", dir);
    r = run_host(dir, "encode", out, "--data", data, "--out", prefix, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: latent: kind 'gan' has no encoder\n");
    host_run_free(&r);

    snprintf(prefix, sizeof prefix, "%s/g", dir);
    r = run_host(dir, "sample", out, "--n", "30", "--out", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    free(data);
    tmpdir_remove(dir);
}

/* Image-shaped data (N, 1, 4, 4) in [0, 256): the Bernoulli VAE's samples
 * keep the shape and come out as a PNG grid too. */
Test(latent_cli, bernoulli_vae_on_images_writes_a_grid) {
    char *dir = tmpdir_make(), path[600], out[600], prefix[600];
    int64_t shape[4] = {200, 1, 4, 4};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &t), NOTA_OK);
    for (int i = 0; i < 200 * 16; i++)
        nota_tensor_f32(t)[i] = (float)((i % 16 < 8 ? i / 16 : 255 - i / 16) % 256) + 0.5f;
    snprintf(path, sizeof path, "%s/img.npy", dir);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    snprintf(out, sizeof out, "%s/b.nota", dir);
    host_run r = run_host(dir, "fit", "--plugin", "latent", "--data", path, "--out", out, "--set",
                          "kind=vae", "--set", "likelihood=bernoulli", "--set", "hidden=16",
                          "--set", "latent=2", "--set", "epochs=2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "bits_per_dim"), "%s", r.out);
    host_run_free(&r);
    snprintf(prefix, sizeof prefix, "%s/s", dir);
    r = run_host(dir, "sample", out, "--n", "9", "--out", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    snprintf(prefix, sizeof prefix, "%s/s.png", dir);
    cr_assert(file_exists(prefix), "no PNG grid");
    tmpdir_remove(dir);
}
