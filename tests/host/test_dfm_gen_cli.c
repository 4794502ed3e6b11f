/* nota-host with the dfm plugin's generation mode: fit on a small .npy of
 * synthetic 8×8 images (one bright blob each), then encode → decode
 * reconstructs them at a stated PSNR, sample writes images and a PNG grid,
 * eval reports the reconstruction metrics, and codes of the wrong width are
 * refused with the exact message, writing nothing. Tiny model, short fit. */
#include <math.h>

#include "host_run.h"

static nota_tensor *blobs(int64_t n) {
    int64_t shape[4] = {n, 1, 8, 8};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 4, shape, &x), NOTA_OK);
    for (int64_t i = 0; i < n; i++) {
        double cx = 1.5 + 4.0 * (double)(i % 7) / 6.0, cy = 1.5 + 4.0 * (double)(i / 7 % 7) / 6.0;
        for (int r = 0; r < 8; r++)
            for (int q = 0; q < 8; q++)
                nota_tensor_u8(x)[i * 64 + r * 8 + q] = (uint8_t)lround(
                    20.0 + 215.0 * exp(-((q - cx) * (q - cx) + (r - cy) * (r - cy)) / 4.5));
    }
    return x;
}

static nota_tensor *read_npy(const char *path) {
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(path, &t), NOTA_OK, "%s", nota_last_error());
    return t;
}

Test(dfm_gen_cli, fit_encode_decode_sample) {
    char *dir = tmpdir_make(), data[600], model[600], codes[600], rec[600], recnpy[600], sam[600],
         path[700];
    snprintf(data, sizeof data, "%s/blobs.npy", dir);
    snprintf(model, sizeof model, "%s/g.nota", dir);
    snprintf(codes, sizeof codes, "%s/codes.npy", dir);
    snprintf(rec, sizeof rec, "%s/rec", dir);
    snprintf(recnpy, sizeof recnpy, "%s/rec.npy", dir);
    snprintf(sam, sizeof sam, "%s/s", dir);
    nota_tensor *x = blobs(49);
    cr_assert_eq(nota_npy_write(data, x), NOTA_OK, "%s", nota_last_error());
    host_run r =
        run_host(dir, "fit", "--plugin", "dfm", "--data", data, "--out", model, "--set", "latent=4",
                 "--set", "enc_hidden=32", "--set", "dec_hidden=32,64", "--set", "width=3", "--set",
                 "depth=3", "--set", "gen_batch=7", "--set", "epochs=150", "--set", "gen_lr=3e-3",
                 "--set", "gen_lr_end=3e-4", "--set", "lambda=0.01", "--set", "valid_frac=0",
                 "--set", "coef_std=0.3", "--threads", "2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "dfm: epoch 150: train mse "), "%s", r.err);
    host_run_free(&r);

    r = run_host(dir, "encode", model, "--data", data, "--out", codes, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    nota_tensor *z = read_npy(codes);
    cr_assert(z->ndim == 2 && z->shape[0] == 49 && z->shape[1] == 4);
    r = run_host(dir, "decode", model, "--codes", codes, "--out", rec, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    nota_tensor *y = read_npy(recnpy);
    cr_assert(y->ndim == 4 && y->shape[0] == 49 && y->shape[1] == 1 && y->shape[3] == 8);
    snprintf(path, sizeof path, "%s.png", rec);
    cr_assert(file_exists(path));
    double se = 0.0;
    for (int64_t i = 0; i < 49 * 64; i++) {
        double d = nota_tensor_f32(y)[i] - (nota_tensor_u8(x)[i] + 0.5);
        se += d * d;
    }
    double psnr = 10.0 * log10(255.0 * 255.0 * 49 * 64 / se);
    cr_log_info("encode -> decode PSNR %.2f dB", psnr);
    cr_assert_gt(psnr, 30.0, "encode -> decode PSNR %.2f dB", psnr);

    r = run_host(dir, "sample", model, "--n", "16", "--out", sam, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    snprintf(path, sizeof path, "%s.npy", sam);
    nota_tensor *s = read_npy(path);
    cr_assert(s->ndim == 4 && s->shape[0] == 16 && s->shape[2] == 8);
    snprintf(path, sizeof path, "%s.png", sam);
    cr_assert(file_exists(path));

    r = run_host(dir, "eval", model, "--data", data, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"psnr_db\""), "%s", r.out);
    host_run_free(&r);

    /* Codes of the wrong width: refused, nothing written. */
    int64_t zs[2] = {3, 5};
    nota_tensor *bad;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, zs, &bad), NOTA_OK);
    cr_assert_eq(nota_npy_write(codes, bad), NOTA_OK);
    snprintf(path, sizeof path, "%s/bad", dir);
    r = run_host(dir, "decode", model, "--codes", codes, "--out", path, NULL);
    cr_assert_eq(r.code, 1, "%s", r.err);
    char want[1600];
    snprintf(want, sizeof want,
             "nota-host: error: model '%s' takes codes of shape (4,), '%s' has codes of shape "
             "(5,)\n",
             model, codes);
    cr_assert_str_eq(r.err, want);
    host_run_free(&r);
    snprintf(path, sizeof path, "%s/bad.npy", dir);
    cr_assert(!file_exists(path));
    nota_tensor *all[] = {x, z, y, s, bad};
    for (int i = 0; i < 5; i++)
        nota_tensor_free(all[i]);
    tmpdir_remove(dir);
}
