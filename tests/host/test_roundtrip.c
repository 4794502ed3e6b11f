/* End-to-end tests of nota-host with the fixture plugin (a per-dimension
 * Gaussian with exact log_prob): fit → info → sample → eval → encode →
 * decode on tiny datasets written by the test, image outputs, and the
 * refusals of data that does not fit (wrong shapes, too few items). */
#include <math.h>

#include "host_run.h"

TestSuite(roundtrip, .init = use_fixture_plugins);

/* Exact mean log-likelihood of the MLE per-dimension Gaussian of (n, d) data. */
static double expected_bpd(const char *path, double *mean_abs_z) {
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(path, &t), NOTA_OK, "%s", nota_last_error());
    int64_t n = t->shape[0], d = (int64_t)nota_tensor_row_size(t);
    const float *v = nota_tensor_f32(t);
    double lp = 0, az = 0;
    for (int64_t j = 0; j < d; j++) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < n; i++)
            s += v[i * d + j];
        double mu = s / (double)n;
        for (int64_t i = 0; i < n; i++)
            ss += (v[i * d + j] - mu) * (v[i * d + j] - mu);
        double sd = sqrt(ss / (double)n);
        lp += -0.5 * log(2 * M_PI * sd * sd) - 0.5;
        for (int64_t i = 0; i < n; i++)
            az += fabs(v[i * d + j] - mu) / sd;
    }
    *mean_abs_z = az / (double)(n * d);
    nota_tensor_free(t);
    return -lp / ((double)d * log(2.0));
}

Test(roundtrip, fit_info_sample_eval_encode_decode) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 64, 4);
    double maz, bpd = expected_bpd(data, &maz);
    char out[512], line[1024];
    snprintf(out, sizeof out, "%s/m.nota", dir);

    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", out, "--set",
                          "steps=2", "--threads", "1", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line, "saved %s (plugin fixture 1, 64 items of %s, ", out, data);
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s", r.out);
    cr_assert_float_eq(number_after(r.out, "\ntrain_bits_per_dim "), bpd, 1e-4);
    cr_assert(strstr(r.err, "[info] fixture: fitting 64 items of dimension 4\n"), "%s", r.err);
    cr_assert(strstr(r.err, "[fit] 1/2 (50%) step 1\n[fit] 2/2 (100%) step 2\n[log_prob] 64/64 "
                            "(100%)\n"),
              "%s", r.err);
    cr_assert(strstr(r.err, "[log_prob] 64/64 (100%)\n"), "%s", r.err);
    cr_assert_null(strstr(r.err, "[debug]"), "%s", r.err);
    host_run_free(&r);

    r = run_host(dir, "info", out, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line, "model: %s\nplugin: fixture 1 (ABI 1)\ncreated: ", out);
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s", r.out);
    snprintf(line, sizeof line, "\ndataset: %s\ntrain time: ", data);
    cr_assert(strstr(r.out, line), "%s", r.out);
    cr_assert(strstr(r.out, "\nconfig:\n  steps = 2\n  sleep_ms = 0\n  min_std = 0.001\n"
                            "  estimator = mle\n  center = true\n  poll = true\n"
                            "tensors:\n  mean f32 (4,)\n  std f32 (4,)\nmetrics:\n"
                            "  train_bits_per_dim = "),
              "%s", r.out);
    cr_assert_float_eq(number_after(r.out, "train_bits_per_dim = "), bpd, 1e-4);
    host_run_free(&r);

    r = run_host(dir, "info", out, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line,
             "{\"file\":\"%s\",\"model\":{\"plugin\":\"fixture\",\"plugin_version\":1,"
             "\"abi_version\":1,\"config\":{\"steps\":2,\"sleep_ms\":0,\"min_std\":0.001,"
             "\"estimator\":\"mle\",\"center\":true,\"poll\":true},\"tensors\":[{\"name\":"
             "\"mean\",\"dtype\":\"f32\",\"shape\":[4]},{\"name\":\"std\",\"dtype\":\"f32\","
             "\"shape\":[4]}],\"submodels\":[],\"dataset\":\"%s\",\"train_seconds\":",
             out, data);
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s\n%s", r.out, line);
    host_run_free(&r);

    char prefix[512], npy[600];
    snprintf(prefix, sizeof prefix, "%s/s", dir);
    snprintf(npy, sizeof npy, "%s.npy", prefix);
    r = run_host(dir, "sample", out, "--n", "5", "--out", prefix, "--seed", "7", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line, "wrote %s (5, 4)\n", npy);
    cr_assert_str_eq(r.out, line);
    nota_tensor *s;
    cr_assert_eq(nota_npy_read(npy, &s), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(s->ndim, 2);
    cr_assert_eq(s->shape[0], 5);
    cr_assert_eq(nota_tensor_check_finite(s, "samples"), NOTA_OK);
    cr_assert(!file_exists(NOTA_HOST_FIXTURE_DIR "/s.png"));
    host_run_free(&r);

    r = run_host(dir, "eval", out, "--data", data, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(strncmp(r.out, "bits_per_dim ", 13), 0, "%s", r.out);
    cr_assert_float_eq(number_after(r.out, "bits_per_dim "), bpd, 1e-4);
    cr_assert_float_eq(number_after(r.out, "\nmean_abs_z "), maz, 1e-4);
    /* the plugin's own "bits_per_dim" (-1) is shadowed by the host's */
    cr_assert_null(strstr(r.out + 1, "bits_per_dim"), "%s", r.out);
    host_run_free(&r);

    r = run_host(dir, "eval", out, "--data", data, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line,
             "{\"model\":\"%s\",\"data\":\"%s\",\"items\":64,\"metrics\":{\"bits_per_dim\":", out,
             data);
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s", r.out);
    cr_assert_float_eq(number_after(r.out, "\"bits_per_dim\":"), bpd, 1e-4);
    cr_assert_float_eq(number_after(r.out, "\"mean_abs_z\":"), maz, 1e-4);
    cr_assert_null(strstr(strstr(r.out, "bits_per_dim") + 1, "bits_per_dim"), "%s", r.out);
    host_run_free(&r);

    char codes[512], recon[512];
    snprintf(codes, sizeof codes, "%s/codes.npy", dir);
    snprintf(recon, sizeof recon, "%s/recon", dir);
    r = run_host(dir, "encode", out, "--data", data, "--out", codes, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line, "wrote %s (64, 4)\n", codes);
    cr_assert_str_eq(r.out, line);
    host_run_free(&r);
    r = run_host(dir, "decode", out, "--codes", codes, "--out", recon, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    nota_tensor *x, *y;
    snprintf(npy, sizeof npy, "%s.npy", recon);
    cr_assert_eq(nota_npy_read(data, &x), NOTA_OK);
    cr_assert_eq(nota_npy_read(npy, &y), NOTA_OK, "%s", nota_last_error());
    cr_assert(nota_tensor_same_shape(x, y));
    for (size_t i = 0; i < nota_tensor_numel(x); i++)
        cr_assert_float_eq(nota_tensor_f32(x)[i], nota_tensor_f32(y)[i], 1e-4);
    nota_tensor_free(x);
    nota_tensor_free(y);
    nota_tensor_free(s);
    free(data);
    tmpdir_remove(dir);
}

Test(roundtrip, sampling_is_reproducible_per_seed) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 32, 3);
    char *model = fit_model(dir, data, "m.nota");
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    host_run r = run_host(dir, "sample", model, "--n", "4", "--out", a, "--seed", "3", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "sample", model, "--n", "4", "--out", b, "--seed", "3", NULL);
    host_run_free(&r);
    r = run_host(dir, "sample", model, "--n", "4", "--out", c, "--seed", "4", NULL);
    host_run_free(&r);
    strcat(a, ".npy");
    strcat(b, ".npy");
    strcat(c, ".npy");
    nota_tensor *ta, *tb, *tc;
    cr_assert_eq(nota_npy_read(a, &ta), NOTA_OK);
    cr_assert_eq(nota_npy_read(b, &tb), NOTA_OK);
    cr_assert_eq(nota_npy_read(c, &tc), NOTA_OK);
    cr_assert_eq(memcmp(ta->data, tb->data, ta->nbytes), 0);
    cr_assert_neq(memcmp(ta->data, tc->data, ta->nbytes), 0);
    nota_tensor_free(ta);
    nota_tensor_free(tb);
    nota_tensor_free(tc);
    free(model);
    free(data);
    tmpdir_remove(dir);
}

Test(roundtrip, image_models_write_png_grids) {
    char *dir = tmpdir_make();
    int64_t shape[4] = {20, 1, 4, 4};
    nota_tensor *img;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 4, shape, &img), NOTA_OK);
    uint8_t *p = nota_tensor_u8(img);
    for (size_t i = 0; i < nota_tensor_numel(img); i++)
        p[i] = (uint8_t)((i * 37) % 256);
    char data[512], model[512], prefix[512], png[600];
    snprintf(data, sizeof data, "%s/img.npy", dir);
    snprintf(model, sizeof model, "%s/img.nota", dir);
    snprintf(prefix, sizeof prefix, "%s/gen", dir);
    cr_assert_eq(nota_npy_write(data, img), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(img);
    host_run r =
        run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", model, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char line[4096];
    snprintf(line, sizeof line,
             "{\"model\":\"%s\",\"plugin\":\"fixture\",\"plugin_version\":1,\"dataset\":\"%s\","
             "\"items\":20,\"train_seconds\":",
             model, data);
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s", r.out);
    cr_assert(strstr(r.out, ",\"metrics\":{\"train_bits_per_dim\":"), "%s", r.out);
    host_run_free(&r);
    r = run_host(dir, "sample", model, "--n", "6", "--out", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line, "wrote %s.npy (6, 1, 4, 4)\nwrote %s.png\n", prefix, prefix);
    cr_assert_str_eq(r.out, line);
    host_run_free(&r);
    snprintf(png, sizeof png, "%s.png", prefix);
    nota_tensor *grid;
    cr_assert_eq(nota_png_read(png, &grid), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(grid->shape[0], 1);
    nota_tensor_free(grid);
    /* eval dequantizes with a fixed seed: two runs print the same numbers */
    r = run_host(dir, "eval", model, "--data", data, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run r2 = run_host(dir, "eval", model, "--data", data, "--seed", "5", NULL);
    cr_assert_eq(r2.code, 2, "eval takes no --seed");
    host_run_free(&r2);
    r2 = run_host(dir, "eval", model, "--data", data, NULL);
    cr_assert_str_eq(r.out, r2.out);
    host_run_free(&r);
    host_run_free(&r2);
    tmpdir_remove(dir);
}

Test(roundtrip, data_of_another_shape_is_refused_naming_both) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 4);
    char *wide = make_vectors(dir, "wide.npy", 16, 5);
    char *model = fit_model(dir, data, "m.nota");
    char expect[4096], codes[512];
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' takes items of shape (4,), data '%s' has items of "
             "shape (5,)\n",
             model, wide);
    host_run r = run_host(dir, "eval", model, "--data", wide, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    snprintf(codes, sizeof codes, "%s/codes.npy", dir);
    r = run_host(dir, "encode", model, "--data", wide, "--out", codes, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    cr_assert(!file_exists(codes));
    host_run_free(&r);
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' takes codes of shape (4,), '%s' has codes of shape "
             "(5,)\n",
             model, wide);
    r = run_host(dir, "decode", model, "--codes", wide, "--out", codes, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    free(model);
    free(wide);
    free(data);
    tmpdir_remove(dir);
}

Test(roundtrip, verbose_threads_seed_and_limit_reach_the_plugin) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 40, 3);
    char out[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    host_run r = run_host(dir, "-v", "fit", "--plugin", "fixture", "--data", data, "--out", out,
                          "--limit", "10", "--threads", "2", "--seed", "9", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "[debug] fixture: 3 steps of 0 ms, 2 threads (BLAS 2), seed 9\n"), "%s",
              r.err);
    cr_assert(strstr(r.err, "[info] fixture: fitting 10 items of dimension 3\n"), "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "info", out, NULL);
    char line[4096];
    snprintf(line, sizeof line, "\ndataset: %s[limit=10]\n", data);
    cr_assert(strstr(r.out, line), "%s", r.out);
    host_run_free(&r);
    free(data);
    tmpdir_remove(dir);
}

Test(roundtrip, plugin_errors_on_the_worker_reach_the_user) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 8, 2);
    char out[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", out,
                          "--limit", "1", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: fixture: fit needs at least 2 items\n");
    cr_assert(!file_exists(out));
    host_run_free(&r);
    free(data);
    tmpdir_remove(dir);
}

Test(roundtrip, validation_data_of_another_shape_is_refused) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 4);
    char *wide = make_vectors(dir, "wide.npy", 16, 5);
    char out[512], expect[4096];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    snprintf(expect, sizeof expect,
             "nota-host: error: --valid '%s' has items of shape (5,), --data '%s' has (4,)\n", wide,
             data);
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--valid", wide,
                          "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    cr_assert(!file_exists(out));
    host_run_free(&r);
    /* the same data as --valid scores exactly as the training data */
    r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--valid", data, "--out", out,
                 NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    double train = number_after(r.out, "\ntrain_bits_per_dim ");
    cr_assert_float_eq(number_after(r.out, "\nvalid_bits_per_dim "), train, 1e-9);
    host_run_free(&r);
    r = run_host(dir, "info", out, NULL);
    cr_assert_float_eq(number_after(r.out, "\n  valid_bits_per_dim = "), train, 1e-6);
    host_run_free(&r);
    free(wide);
    free(data);
    tmpdir_remove(dir);
}

Test(roundtrip, decoded_images_map_level_centres_to_their_bytes) {
    /* 64 copies of one 4x4 image: dequantized, each pixel p becomes p + U(0,1),
     * so the fitted mean is p + 0.5 (within ~0.1) and decoding the zero code
     * returns it. The PNG must show p itself. */
    char *dir = tmpdir_make();
    int64_t shape[4] = {64, 1, 4, 4}, zshape[2] = {1, 16};
    nota_tensor *img, *z;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 4, shape, &img), NOTA_OK);
    for (size_t i = 0; i < nota_tensor_numel(img); i++)
        nota_tensor_u8(img)[i] = (uint8_t)((i % 16) * 16 + 3);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, zshape, &z), NOTA_OK);
    char data[512], model[512], codes[512], prefix[512], line[4096];
    snprintf(data, sizeof data, "%s/img.npy", dir);
    snprintf(model, sizeof model, "%s/img.nota", dir);
    snprintf(codes, sizeof codes, "%s/z.npy", dir);
    snprintf(prefix, sizeof prefix, "%s/dec", dir);
    cr_assert_eq(nota_npy_write(data, img), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_npy_write(codes, z), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(img);
    nota_tensor_free(z);
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", model, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "decode", model, "--codes", codes, "--out", prefix, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(line, sizeof line, "wrote %s.npy (1, 1, 4, 4)\nwrote %s.png\n", prefix, prefix);
    cr_assert_str_eq(r.out, line);
    host_run_free(&r);
    snprintf(line, sizeof line, "%s.png", prefix);
    nota_tensor *grid;
    cr_assert_eq(nota_png_read(line, &grid), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(grid->ndim, 3);
    cr_assert_eq(grid->shape[0], 1);
    cr_assert_eq(grid->shape[1], 6); /* one 4x4 tile and a 1-pixel border */
    cr_assert_eq(grid->shape[2], 6);
    const uint8_t *g = nota_tensor_u8(grid);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            cr_assert_eq(g[(1 + y) * 6 + 1 + x], (y * 4 + x) * 16 + 3, "pixel (%d, %d)", y, x);
    nota_tensor_free(grid);
    tmpdir_remove(dir);
}
