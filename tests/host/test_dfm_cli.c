/* nota-host compress / decompress with the dfm plugin: a synthetic PNG goes
 * through a .dfm file and back at a stated PSNR, decodes identically twice,
 * Ctrl-C stops a compress and writes nothing, and the commands refuse missing options, plugins that
 * cannot compress, files that are not compressed images, damaged files and unknown plugin names
 * with exact messages, writing nothing. Small image, short training. */
#include <math.h>

#include "host_run.h"

static nota_tensor *sinusoids(void) {
    int64_t shape[3] = {3, 20, 28};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 3, shape, &t), NOTA_OK);
    uint8_t *p = nota_tensor_u8(t);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 28; x++)
                p[(c * 20 + y) * 28 + x] =
                    (uint8_t)lround(127.5 + 60 * sin(2 * M_PI * (x / 28.0 + 0.2 * c)) +
                                    40 * cos(2 * M_PI * y / 20.0));
    return t;
}

static double psnr(const nota_tensor *a, const nota_tensor *b) {
    double se = 0;
    for (size_t i = 0; i < a->nbytes; i++) {
        double d = (double)nota_tensor_u8(a)[i] - nota_tensor_u8(b)[i];
        se += d * d;
    }
    return 10 * log10(255.0 * 255.0 * (double)a->nbytes / se);
}

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Decompress `dfm` on one and on two threads: both succeed, name the image,
 * give the same pixels, and reach > 28 dB against img (28×20 RGB). */
static void decode_twice_and_check(const char *dir, const char *dfm, const nota_tensor *img) {
    char out1[600], out2[600];
    snprintf(out1, sizeof out1, "%s/out1.png", dir);
    snprintf(out2, sizeof out2, "%s/out2.png", dir);
    host_run r = run_host(dir, "decompress", dfm, "--out", out1, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "(plugin dfm, 28x20, 3 channels)"), "%s", r.out);
    host_run_free(&r);
    r = run_host(dir, "decompress", dfm, "--out", out2, "--threads", "2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    nota_tensor *a, *b;
    cr_assert_eq(nota_png_read(out1, &a), NOTA_OK);
    cr_assert_eq(nota_png_read(out2, &b), NOTA_OK);
    cr_assert(a->shape[0] == 3 && a->shape[1] == 20 && a->shape[2] == 28);
    cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0);
    cr_assert(psnr(img, a) > 28.0, "PSNR %.2f dB", psnr(img, a));
    nota_tensor_free(a), nota_tensor_free(b);
}

Test(dfm_cli, compress_decompress_roundtrip) {
    char *dir = tmpdir_make(), png[600], dfm[600];
    snprintf(png, sizeof png, "%s/in.png", dir);
    snprintf(dfm, sizeof dfm, "%s/in.dfm", dir);
    nota_tensor *img = sinusoids();
    cr_assert_eq(nota_png_write(png, img), NOTA_OK, "%s", nota_last_error());
    host_run r = run_host(dir, "compress", "--plugin", "dfm", png, "--bpp", "6", "--out", dfm,
                          "--set", "width=4", "--set", "depth=3", "--set", "steps=300", "--set",
                          "qat_steps=50", "--threads", "1", "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"plugin\":\"dfm\",\"width\":28,\"height\":20,\"channels\":3"), "%s",
              r.out);
    struct stat sb;
    cr_assert_eq(stat(dfm, &sb), 0);
    char want[64];
    snprintf(want, sizeof want, "\"bytes\":%lld,", (long long)sb.st_size);
    cr_assert(strstr(r.out, want), "%s does not report %s", r.out, want);
    host_run_free(&r);
    decode_twice_and_check(dir, dfm, img);
    nota_tensor_free(img);
    tmpdir_remove(dir);
}

Test(dfm_cli, refusals) {
    char *dir = tmpdir_make(), png[600], bad[600], out[600], msg[1400];
    snprintf(png, sizeof png, "%s/in.png", dir);
    snprintf(bad, sizeof bad, "%s/bad.dfm", dir);
    snprintf(out, sizeof out, "%s/out.png", dir);
    nota_tensor *img = sinusoids();
    cr_assert_eq(nota_png_write(png, img), NOTA_OK);
    nota_tensor_free(img);

    host_run r = run_host(dir, "compress", "--plugin", "dfm", png, "--out", bad, NULL);
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "nota-host: error: 'compress' needs --bpp B\n") == r.err, "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "compress", "--plugin", "dfm", png, "--bpp", "0", "--out", bad, NULL);
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "nota-host: error: --bpp expects bits per pixel in (0, 64], got '0'"),
              "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "compress", "--plugin", "dfm", png, "--bpp", "1", "--out", bad, "--set",
                 "bits=9", NULL);
    cr_assert_eq(r.code, 2, "%s", r.err);
    host_run_free(&r);
    r = run_host(dir, "compress", "--plugin", "latent", png, "--bpp", "1", "--out", bad, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: plugin 'latent' cannot compress (capabilities: "
                            "fit,sample,encode,decode,log_prob,eval)\n");
    host_run_free(&r);
    cr_assert(!file_exists(bad));

    write_bytes(bad, "hello world, not a dfm", 22);
    r = run_host(dir, "decompress", bad, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    snprintf(msg, sizeof msg,
             "nota-host: error: '%s' is not a nota compressed file (no \"NTC1\" header)\n", bad);
    cr_assert_str_eq(r.err, msg);
    host_run_free(&r);

    write_bytes(bad, "NTC1\004nope1234567890", 19);
    r = run_host(dir, "decompress", bad, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert(strstr(r.err, "nope"), "%s", r.err);
    host_run_free(&r);

    write_bytes(bad, "NTC1\003dfm\001\003\004\003\010\000\070\024\034\000\000\000\000", 21);
    r = run_host(dir, "decompress", bad, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    snprintf(msg, sizeof msg,
             "nota-host: error: '%s': dfm: checksum mismatch (stored 00000000, "
             "computed ",
             bad);
    cr_assert(strstr(r.err, msg) == r.err, "%s", r.err);
    cr_assert(strstr(r.err, "): the file is damaged or truncated\n"), "%s", r.err);
    host_run_free(&r);

    r = run_host(dir, "decompress", dir, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    snprintf(msg, sizeof msg, "nota-host: error: '%s' is not a regular file\n", dir);
    cr_assert_str_eq(r.err, msg);
    host_run_free(&r);
    cr_assert(!file_exists(out));
    tmpdir_remove(dir);
}

Test(dfm_cli, ctrl_c_stops_compress_and_writes_nothing, .timeout = 60) {
    char *dir = tmpdir_make(), png[600], dfm[600], out_path[600], err_path[600];
    snprintf(png, sizeof png, "%s/in.png", dir);
    snprintf(dfm, sizeof dfm, "%s/in.dfm", dir);
    snprintf(out_path, sizeof out_path, "%s/.stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/.stderr", dir);
    nota_tensor *img = sinusoids();
    cr_assert_eq(nota_png_write(png, img), NOTA_OK);
    nota_tensor_free(img);
    char *argv[] = {"nota-host",      "compress",  "--plugin", "dfm", png,
                    "--bpp",          "4",         "--out",    dfm,   "--set",
                    "steps=10000000", "--threads", "1",        "-v",  NULL};
    pid_t pid = spawn_host(out_path, err_path, argv);
    cr_assert(wait_for_text(err_path, "[fit] ", 20000), "compress never started fitting");
    cr_assert_eq(kill(pid, SIGINT), 0);
    cr_assert_eq(wait_code(pid), 130);
    char *err = slurp(err_path);
    const char *tail = "nota-host: interrupted\n";
    cr_assert(strlen(err) >= strlen(tail) && !strcmp(err + strlen(err) - strlen(tail), tail), "%s",
              err);
    free(err);
    cr_assert(!file_exists(dfm));
    tmpdir_remove(dir);
}

/* Tiles from the command line: a 2×2 grid of 14×10 tiles fitted side by
 * side on two threads, logged, and decoded the same on one or two. */
Test(dfm_cli, tiled_compress_roundtrip) {
    char *dir = tmpdir_make(), png[600], dfm[600];
    snprintf(png, sizeof png, "%s/in.png", dir);
    snprintf(dfm, sizeof dfm, "%s/in.dfm", dir);
    nota_tensor *img = sinusoids();
    cr_assert_eq(nota_png_write(png, img), NOTA_OK, "%s", nota_last_error());
    host_run r = run_host(dir, "compress", "--plugin", "dfm", png, "--bpp", "8", "--out", dfm,
                          "--set", "tile=14", "--set", "width=4", "--set", "depth=3", "--set",
                          "steps=300", "--set", "qat_steps=50", "--threads", "2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "dfm: 4 tiles of 14x10 (2 rows, 2 columns)\n"), "%s", r.err);
    cr_assert(strstr(r.err, "dfm: tile 4 of 4 (x 14, y 10): 14x10 tile: width 4, depth 3, "), "%s",
              r.err);
    host_run_free(&r);
    decode_twice_and_check(dir, dfm, img);
    nota_tensor_free(img);
    tmpdir_remove(dir);
}
