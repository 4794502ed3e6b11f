/* `nota-host traverse` (the paper's Figure 1 grid) through the real binary:
 * a latent Gaussian fitted on small images is the decoder (it fits in a
 * millisecond). The grid's images must equal `decode` of the codes the test
 * builds itself (row i: first dimension at values[i]; column j: second at
 * values[j]; the rest at the base), the PNG must be values x values tiles,
 * a pipeline traverses its decoder, and bad requests are refused with exact
 * messages: dimensions out of range (naming the code size), codes that are
 * not vectors (a flow on images), grids of non-images, a base of the wrong
 * shape, and malformed --dims / --values. */
#include "host_run.h"

#define SIDE 8

/* (n, 1, SIDE, SIDE) images in [0, 256): bright squares on gradients. */
static char *write_images(const char *dir, int64_t n) {
    int64_t shape[4] = {n, 1, SIDE, SIDE};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, shape, &t), NOTA_OK);
    float *x = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < SIDE; a++)
            for (int b = 0; b < SIDE; b++) {
                int r0 = (int)(i % 4), c0 = (int)((i * 3) % 4);
                bool in = a >= r0 && a < r0 + 4 && b >= c0 && b < c0 + 4;
                x[(i * SIDE + a) * SIDE + b] = in ? 220.5f : (float)(10 + 3 * (a + b) + i % 5);
            }
    char *path = malloc(512);
    snprintf(path, 512, "%s/images.npy", dir);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    return path;
}

static void run_ok(host_run r) {
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
}

static void expect_error(host_run r, int code, const char *msg) {
    cr_assert_eq(r.code, code, "%s", r.err);
    cr_assert_str_eq(r.err, msg);
    host_run_free(&r);
}

static nota_tensor *read_npy(const char *path) {
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(path, &t), NOTA_OK, "%s", nota_last_error());
    return t;
}

/* The traversal codes built here, independently of the host: (nv*nv, k). */
static char *write_codes(const char *dir, int64_t k, int d0, int d1, const float *vals, int nv,
                         const float *base) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d((int64_t)nv * nv, k, &t), NOTA_OK);
    float *z = nota_tensor_f32(t);
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nv; j++) {
            float *row = z + ((int64_t)i * nv + j) * k;
            for (int64_t q = 0; q < k; q++)
                row[q] = base ? base[q] : 0.0f;
            row[d0] = vals[i];
            row[d1] = vals[j];
        }
    char *path = malloc(512);
    snprintf(path, 512, "%s/expect_codes.npy", dir);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    return path;
}

/* traverse --npy must give exactly decode(codes) of the same grid. */
static void same_as_decode(const char *dir, const char *model, const char *got_npy,
                           const char *codes) {
    char prefix[600], path[700];
    snprintf(prefix, sizeof prefix, "%s/decoded", dir);
    run_ok(run_host(dir, "decode", model, "--codes", codes, "--out", prefix, NULL));
    snprintf(path, sizeof path, "%s.npy", prefix);
    nota_tensor *a = read_npy(got_npy), *b = read_npy(path);
    cr_assert_eq(a->ndim, b->ndim);
    for (int i = 0; i < a->ndim; i++)
        cr_assert_eq(a->shape[i], b->shape[i]);
    cr_assert_eq(memcmp(nota_tensor_f32(a), nota_tensor_f32(b), a->nbytes), 0);
    nota_tensor_free(a), nota_tensor_free(b);
}

static void png_size(const char *path, int64_t side) {
    nota_tensor *t;
    cr_assert_eq(nota_png_read(path, &t), NOTA_OK, "%s", nota_last_error());
    cr_assert(t->ndim == 3 && t->shape[0] == 1 && t->shape[1] == side && t->shape[2] == side,
              "%s is %lldx%lld, expected %lldx%lld", path, (long long)t->shape[1],
              (long long)t->shape[2], (long long)side, (long long)side);
    nota_tensor_free(t);
}

Test(traverse, grid_is_decode_of_the_traversal_codes) {
    char *dir = tmpdir_make(), *data = write_images(dir, 60);
    char model[600], png[600], npy[600], codes[600], prior[600], pipe[600], expect[2000];
    char all[600];
    snprintf(model, sizeof model, "%s/g.nota", dir);
    snprintf(png, sizeof png, "%s/grid.png", dir);
    snprintf(npy, sizeof npy, "%s/grid.npy", dir);
    run_ok(run_host(dir, "fit", "--plugin", "latent", "--data", data, "--out", model, NULL));

    /* defaults: dims 0,1 at -10,-5,5,10 -> 4 x 4 tiles of 8 x 8, 1-pixel borders */
    host_run r = run_host(dir, "traverse", model, "--out", png, "--npy", npy, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(expect, sizeof expect,
             "wrote %s (4 x 4 tiles of (1, 8, 8): rows dimension 0, columns dimension 1)\n"
             "wrote %s (16, 1, 8, 8)\n",
             png, npy);
    cr_assert_str_eq(r.out, expect);
    host_run_free(&r);
    png_size(png, 4 * (SIDE + 1) + 1);
    const float def[4] = {-10, -5, 5, 10};
    char *want = write_codes(dir, 64, 0, 1, def, 4, NULL);
    same_as_decode(dir, model, npy, want);
    free(want);

    /* chosen dims and values, around the mean of encoded codes */
    snprintf(codes, sizeof codes, "%s/codes.npy", dir);
    run_ok(run_host(dir, "encode", model, "--data", data, "--limit", "7", "--out", codes, NULL));
    run_ok(run_host(dir, "traverse", model, "--dims", "5,2", "--values", "-3,0.5,4", "--base",
                    codes, "--out", png, "--npy", npy, NULL));
    png_size(png, 3 * (SIDE + 1) + 1);
    nota_tensor *z = read_npy(codes);
    float base[64];
    for (int q = 0; q < 64; q++) {
        double sum = 0; /* the mean as the host takes it: in double, rounded once */
        for (int64_t i = 0; i < z->shape[0]; i++)
            sum += nota_tensor_f32(z)[i * 64 + q];
        base[q] = (float)(sum / (double)z->shape[0]);
    }
    nota_tensor_free(z);
    const float three[3] = {-3, 0.5f, 4};
    want = write_codes(dir, 64, 5, 2, three, 3, base);
    same_as_decode(dir, model, npy, want);

    /* a pipeline traverses its decoder's codes */
    snprintf(prior, sizeof prior, "%s/prior.nota", dir);
    snprintf(pipe, sizeof pipe, "%s/pipe.nota", dir);
    snprintf(all, sizeof all, "%s/all_codes.npy", dir);
    run_ok(run_host(dir, "encode", model, "--data", data, "--out", all, NULL));
    run_ok(run_host(dir, "fit", "--plugin", "latent", "--data", all, "--out", prior, NULL));
    run_ok(run_host(dir, "compose", prior, model, "--out", pipe, NULL));
    run_ok(run_host(dir, "traverse", pipe, "--dims", "5,2", "--values", "-3,0.5,4", "--base", codes,
                    "--npy", npy, NULL));
    same_as_decode(dir, model, npy, want);
    free(want), free(data);
    tmpdir_remove(dir);
}

Test(traverse, bad_requests_are_refused) {
    char *dir = tmpdir_make(), *data = write_images(dir, 40);
    char *vec = make_vectors(dir, "v.npy", 50, 3);
    char img[600], vm[600], flow[600], png[600], expect[2000];
    snprintf(img, sizeof img, "%s/g.nota", dir);
    snprintf(vm, sizeof vm, "%s/v.nota", dir);
    snprintf(flow, sizeof flow, "%s/f.nota", dir);
    snprintf(png, sizeof png, "%s/grid.png", dir);
    run_ok(run_host(dir, "fit", "--plugin", "latent", "--data", data, "--out", img, NULL));
    run_ok(run_host(dir, "fit", "--plugin", "latent", "--data", vec, "--out", vm, NULL));
    run_ok(run_host(dir, "fit", "--plugin", "flow", "--data", data, "--set", "max_layers=1",
                    "--out", flow, NULL));

    /* the latent Gaussian keeps all 64 components of the 8 x 8 images */
    snprintf(expect, sizeof expect,
             "nota-host: error: --dims: dimension 64 is out of range: model '%s' has codes of 64 "
             "dimensions (0..63)\n",
             img);
    expect_error(run_host(dir, "traverse", img, "--dims", "3,64", "--out", png, NULL), 1, expect);
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' takes codes of shape (1, 8, 8); traverse needs vector "
             "codes (k,)\n",
             flow);
    expect_error(run_host(dir, "traverse", flow, "--out", png, NULL), 1, expect);
    snprintf(expect, sizeof expect,
             "nota-host: error: model '%s' decodes items of shape (3,), not images (C, H, W) with "
             "C 1 or 3: no PNG grid (use --npy alone)\n",
             vm);
    expect_error(run_host(dir, "traverse", vm, "--out", png, NULL), 1, expect);
    cr_assert(!file_exists(png));
    snprintf(expect, sizeof expect,
             "nota-host: error: --base '%s' is f32 (50, 3), expected f32 (64,) or (N, 64): the "
             "codes of model '%s'\n",
             vec, img);
    expect_error(run_host(dir, "traverse", img, "--base", vec, "--out", png, NULL), 1, expect);

    expect_error(run_host(dir, "traverse", img, "--dims", "4,4", "--out", png, NULL), 2,
                 "nota-host: error: --dims expects two different code dimensions A,B (integers "
                 ">= 0), got '4,4'\nRun 'nota-host help traverse' for usage.\n");
    expect_error(run_host(dir, "traverse", img, "--dims", "-1,2", "--out", png, NULL), 2,
                 "nota-host: error: --dims expects two different code dimensions A,B (integers "
                 ">= 0), got '-1,2'\nRun 'nota-host help traverse' for usage.\n");
    expect_error(run_host(dir, "traverse", img, "--values", "1,,2", "--out", png, NULL), 2,
                 "nota-host: error: --values expects 1..32 finite numbers separated by commas, "
                 "got '1,,2'\nRun 'nota-host help traverse' for usage.\n");
    expect_error(run_host(dir, "traverse", img, "--values", "1,inf", "--out", png, NULL), 2,
                 "nota-host: error: --values expects 1..32 finite numbers separated by commas, "
                 "got '1,inf'\nRun 'nota-host help traverse' for usage.\n");
    expect_error(run_host(dir, "traverse", img, NULL), 2,
                 "nota-host: error: 'traverse' needs --out GRID.png or --npy IMAGES.npy\n"
                 "Run 'nota-host help traverse' for usage.\n");
    expect_error(run_host(dir, "traverse", img, "--n", "3", "--out", png, NULL), 2,
                 "nota-host: error: option '--n' does not apply to 'traverse'\n"
                 "Run 'nota-host help traverse' for usage.\n");
    cr_assert(!file_exists(png));

    host_run r = run_host(dir, "traverse", "--help", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "Usage: nota-host traverse MODEL.nota") &&
                  strstr(r.out, "--dims A,B") && strstr(r.out, "(default -10,-5,5,10)"),
              "%s", r.out);
    host_run_free(&r);
    free(vec), free(data);
    tmpdir_remove(dir);
}
