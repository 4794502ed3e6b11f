/* Pipelines through nota-host: fit a small scatter model on images, encode
 * them, fit a latent Gaussian on the codes, compose the two, and sample the
 * pipeline (reproducible for a seed, images of the decoder's shape); info
 * shows the two sub-models; a prior whose items do not match the decoder's
 * codes is refused with both shapes. */
#include "host_run.h"

/* (n, 1, 16, 16) images in [0, 256) as a .npy: bright squares on gradients. */
static char *write_images(const char *dir, int64_t n) {
    int64_t shape[4] = {n, 1, 16, 16};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &t), NOTA_OK);
    float *x = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 16; a++)
            for (int b = 0; b < 16; b++) {
                int r0 = (int)(i % 9), c0 = (int)((i * 5) % 9);
                bool in = a >= r0 && a < r0 + 6 && b >= c0 && b < c0 + 6;
                x[i * 256 + a * 16 + b] = in ? 220.5f : (float)(10 + 3 * (a + b) + i % 7);
            }
    char *path = malloc(512);
    snprintf(path, 512, "%s/images.npy", dir);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    return path;
}

static void run_ok(const char *dir, host_run r) {
    (void)dir;
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
}

Test(compose, prior_and_decoder_make_a_pipeline) {
    char *dir = tmpdir_make(), *data = write_images(dir, 40);
    char dec[600], codes[600], prior[600], pipe[600], s1[600], s2[600], bad[600];
    snprintf(dec, sizeof dec, "%s/dec.nota", dir);
    snprintf(codes, sizeof codes, "%s/codes.npy", dir);
    snprintf(prior, sizeof prior, "%s/prior.nota", dir);
    snprintf(pipe, sizeof pipe, "%s/pipe.nota", dir);
    run_ok(dir, run_host(dir, "fit", "--plugin", "scatter", "--data", data, "--out", dec, "--set",
                         "L=4", "--set", "k=8", "--set", "channels=8,8,8", "--set", "epochs=2",
                         "--threads", "1", NULL));
    run_ok(dir, run_host(dir, "encode", dec, "--data", data, "--out", codes, NULL));
    run_ok(dir, run_host(dir, "fit", "--plugin", "latent", "--data", codes, "--out", prior, NULL));
    host_run r = run_host(dir, "compose", prior, dec, "--out", pipe, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char expect[2400];
    snprintf(expect, sizeof expect,
             "wrote %s (pipeline: prior %s (latent) samples codes (8,) for decoder %s (scatter))\n",
             pipe, prior, dec);
    cr_assert_str_eq(r.out, expect);
    host_run_free(&r);

    r = run_host(dir, "info", pipe, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "prior") && strstr(r.out, "decoder") && strstr(r.out, "latent") &&
                  strstr(r.out, "scatter"),
              "%s", r.out);
    host_run_free(&r);

    snprintf(s1, sizeof s1, "%s/a", dir);
    snprintf(s2, sizeof s2, "%s/b", dir);
    run_ok(dir, run_host(dir, "sample", pipe, "--n", "6", "--seed", "4", "--out", s1, NULL));
    run_ok(dir, run_host(dir, "sample", pipe, "--n", "6", "--seed", "4", "--out", s2, NULL));
    strcat(s1, ".npy"), strcat(s2, ".npy");
    nota_tensor *a, *b;
    cr_assert_eq(nota_npy_read(s1, &a), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_npy_read(s2, &b), NOTA_OK, "%s", nota_last_error());
    cr_assert(a->ndim == 4 && a->shape[0] == 6 && a->shape[1] == 1 && a->shape[2] == 16 &&
              a->shape[3] == 16);
    cr_assert_eq(memcmp(nota_tensor_f32(a), nota_tensor_f32(b), a->nbytes), 0);
    nota_tensor_free(a), nota_tensor_free(b);

    /* a prior of 3-dimensional vectors cannot feed codes of 8 */
    char *vec = make_vectors(dir, "v.npy", 50, 3);
    snprintf(bad, sizeof bad, "%s/p3.nota", dir);
    run_ok(dir, run_host(dir, "fit", "--plugin", "latent", "--data", vec, "--out", bad, NULL));
    r = run_host(dir, "compose", bad, dec, "--out", pipe, NULL);
    cr_assert_eq(r.code, 1);
    snprintf(expect, sizeof expect,
             "nota-host: error: prior '%s' samples items of shape (3,), decoder '%s' takes codes "
             "of shape (8,)\n",
             bad, dec);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);

    r = run_host(dir, "compose", prior, "--out", pipe, NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: 'compose' needs PRIOR.nota and DECODER.nota\n"
                            "Run 'nota-host help compose' for usage.\n");
    host_run_free(&r);
    free(vec), free(data);
    tmpdir_remove(dir);
}
