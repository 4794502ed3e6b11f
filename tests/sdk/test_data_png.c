/* PNG reader and grid writer. Input PNGs of every colour type are encoded by
 * a tiny encoder below (zlib + CRC32 from zlib), so the test does not depend
 * on the code under test to make its inputs. */
#define _XOPEN_SOURCE 700 /* nftw, to remove the temp folder */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "nota/data.h"

#define TMPDIR_PREFIX "nota-png"
#include "tmpdir.h"
static char msg[1024];

static void put32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static void chunk(FILE *f, const char *type, const unsigned char *data, size_t n) {
    put32(f, (uint32_t)n);
    fwrite(type, 1, 4, f);
    if (n) fwrite(data, 1, n, f);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (n) crc = crc32(crc, data, (uInt)n);
    put32(f, (uint32_t)crc);
}

/* PNG of w x h with `bpp` bytes per pixel of raw samples (filter 0 rows). */
static void write_png(const char *path, int w, int h, int depth, int color, int bpp,
                      const unsigned char *raw, const unsigned char *plte, int nplte) {
    size_t row = (size_t)w * (size_t)bpp, n = (row + 1) * (size_t)h;
    unsigned char *filt = malloc(n), z[8192];
    for (int y = 0; y < h; y++) {
        filt[(size_t)y * (row + 1)] = 0;
        memcpy(filt + (size_t)y * (row + 1) + 1, raw + (size_t)y * row, row);
    }
    uLongf zn = sizeof z;
    cr_assert_eq(compress(z, &zn, filt, n), Z_OK);
    free(filt);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    unsigned char ihdr[13] = {0, 0, 0, (unsigned char)w, 0, 0, 0, (unsigned char)h,
                              (unsigned char)depth, (unsigned char)color, 0, 0, 0};
    chunk(f, "IHDR", ihdr, 13);
    if (plte) chunk(f, "PLTE", plte, (size_t)nplte * 3);
    chunk(f, "IDAT", z, zn);
    chunk(f, "IEND", NULL, 0);
    fclose(f);
}

static nota_tensor *read_ok(const char *path, int c, int h, int w) {
    nota_tensor *t;
    cr_assert_eq(nota_png_read(path, &t), NOTA_OK, "%s", nota_last_error());
    cr_assert(t->dtype == NOTA_U8 && t->ndim == 3);
    cr_assert(t->shape[0] == c && t->shape[1] == h && t->shape[2] == w, "got (%lld, %lld, %lld)",
              (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2]);
    return t;
}

TestSuite(png, .init = setup, .fini = teardown);

Test(png, gray_read) {
    unsigned char g[6] = {0, 10, 20, 30, 40, 255};
    write_png(in_dir("g.png"), 3, 2, 8, 0, 1, g, NULL, 0);
    nota_tensor *t = read_ok(in_dir("g.png"), 1, 2, 3);
    cr_assert_eq(memcmp(t->data, g, 6), 0);
    nota_tensor_free(t);
}

Test(png, rgb_and_rgba_become_planar_rgb) {
    unsigned char rgb[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; /* 2x2 */
    write_png(in_dir("c.png"), 2, 2, 8, 2, 3, rgb, NULL, 0);
    nota_tensor *t = read_ok(in_dir("c.png"), 3, 2, 2);
    unsigned char want[12] = {1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12};
    cr_assert_eq(memcmp(t->data, want, 12), 0);
    nota_tensor_free(t);
    unsigned char rgba[8] = {9, 8, 7, 0, 6, 5, 4, 200}; /* 2x1, alpha dropped */
    write_png(in_dir("a.png"), 2, 1, 8, 6, 4, rgba, NULL, 0);
    t = read_ok(in_dir("a.png"), 3, 1, 2);
    unsigned char want2[6] = {9, 6, 8, 5, 7, 4};
    cr_assert_eq(memcmp(t->data, want2, 6), 0);
    nota_tensor_free(t);
}

Test(png, palette_gray_alpha_and_16_bit) {
    unsigned char plte[6] = {10, 20, 30, 200, 100, 50}, idx[3] = {1, 0, 1};
    write_png(in_dir("p.png"), 3, 1, 8, 3, 1, idx, plte, 2);
    nota_tensor *t = read_ok(in_dir("p.png"), 3, 1, 3);
    unsigned char want[9] = {200, 10, 200, 100, 20, 100, 50, 30, 50};
    cr_assert_eq(memcmp(t->data, want, 9), 0);
    nota_tensor_free(t);
    unsigned char ga[4] = {77, 0, 88, 255};
    write_png(in_dir("ga.png"), 2, 1, 8, 4, 2, ga, NULL, 0);
    t = read_ok(in_dir("ga.png"), 1, 1, 2);
    cr_assert(nota_tensor_u8(t)[0] == 77 && nota_tensor_u8(t)[1] == 88);
    nota_tensor_free(t);
    unsigned char g16[4] = {0xab, 0xcd, 0x12, 0x34}; /* 16-bit gray, 2x1: high bytes kept */
    write_png(in_dir("g16.png"), 2, 1, 16, 0, 2, g16, NULL, 0);
    t = read_ok(in_dir("g16.png"), 1, 1, 2);
    cr_assert(nota_tensor_u8(t)[0] == 0xab && nota_tensor_u8(t)[1] == 0x12);
    nota_tensor_free(t);
}

Test(png, bad_files_refused) {
    FILE *f = fopen(in_dir("x.png"), "wb");
    fputs("GIF89a not a png", f);
    fclose(f);
    nota_tensor *t;
    cr_assert_eq(nota_png_read(in_dir("x.png"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "png '%s': not a PNG file (bad signature)", in_dir("x.png"));
    cr_assert_str_eq(nota_last_error(), msg);
    /* a valid PNG cut inside its IDAT chunk: libpng's error is reported */
    unsigned char g[64 * 64];
    for (int i = 0; i < 64 * 64; i++) g[i] = (unsigned char)(i * 37);
    write_png(in_dir("cut.png"), 64, 64, 8, 0, 1, g, NULL, 0);
    cr_assert_eq(truncate(in_dir("cut.png"), 200), 0);
    cr_assert_eq(nota_png_read(in_dir("cut.png"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "png '%s': ", in_dir("cut.png"));
    cr_assert(strncmp(nota_last_error(), msg, strlen(msg)) == 0, "%s", nota_last_error());
    cr_assert_null(t);
    cr_assert_eq(nota_png_read(in_dir("none.png"), &t), NOTA_EIO);
    snprintf(msg, sizeof msg, "png '%s': cannot open: No such file or directory",
             in_dir("none.png"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(png, folder_sorted_by_name_ignores_other_files) {
    unsigned char a[4] = {1, 1, 1, 1}, b[4] = {2, 2, 2, 2};
    write_png(in_dir("b.png"), 2, 2, 8, 0, 1, b, NULL, 0);
    write_png(in_dir("a.png"), 2, 2, 8, 0, 1, a, NULL, 0);
    FILE *f = fopen(in_dir("notes.txt"), "w");
    fputs("ignored", f);
    fclose(f);
    nota_tensor *t;
    cr_assert_eq(nota_png_folder_read(dir, &t), NOTA_OK, "%s", nota_last_error());
    cr_assert(t->ndim == 4 && t->shape[0] == 2 && t->shape[1] == 1 && t->shape[2] == 2 &&
              t->shape[3] == 2);
    cr_assert(nota_tensor_u8(t)[0] == 1 && nota_tensor_u8(t)[4] == 2);
    nota_tensor_free(t);
}

Test(png, folder_of_mismatched_sizes_names_the_file) {
    unsigned char px[20] = {0};
    write_png(in_dir("a.png"), 3, 3, 8, 0, 1, px, NULL, 0);
    write_png(in_dir("b.png"), 3, 3, 8, 0, 1, px, NULL, 0);
    write_png(in_dir("c.png"), 5, 4, 8, 0, 1, px, NULL, 0);
    nota_tensor *t;
    cr_assert_eq(nota_png_folder_read(dir, &t), NOTA_ESHAPE);
    cr_assert_null(t);
    snprintf(msg, sizeof msg,
             "png folder '%s': 'c.png' has size (1, 4, 5) (C, H, W), but 'a.png' has (1, 3, 3)",
             dir);
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(png, empty_folder_refused) {
    nota_tensor *t;
    cr_assert_eq(nota_png_folder_read(dir, &t), NOTA_ENOTFOUND);
    snprintf(msg, sizeof msg, "png folder '%s': no *.png files", dir);
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(png, grid_f32_layout_and_values) {
    int64_t s[3] = {5, 2, 3}; /* (N, H, W): 5 tiles -> 3 columns, 2 rows */
    nota_tensor *x, *g;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 3, s, &x), NOTA_OK);
    float *v = nota_tensor_f32(x);
    for (int i = 0; i < 30; i++) v[i] = -1.0f; /* -> 0 */
    v[0] = 1.0f;                               /* tile 0 (0,0) -> 255 */
    v[5] = 0.5f;                               /* tile 0 (1,2) -> 191.25 -> 191 */
    v[4 * 6 + 3] = 7.0f;                       /* tile 4 (1,0) -> clamped 255 */
    v[4 * 6 + 1] = -9.0f;                      /* tile 4 (0,1) -> clamped 0 */
    v[4 * 6 + 2] = 0.0f;                       /* tile 4 (0,2) -> 127.5 -> 128 */
    cr_assert_eq(nota_png_grid_write(in_dir("grid.png"), x, 0, -1.0f, 1.0f), NOTA_OK, "%s",
                 nota_last_error());
    g = read_ok(in_dir("grid.png"), 1, 2 * 3 + 1, 3 * 4 + 1);
    const uint8_t *p = nota_tensor_u8(g);
#define AT(y, x) p[(y) * 13 + (x)]
    cr_assert_eq(AT(0, 0), 128);  /* outer border */
    cr_assert_eq(AT(1, 4), 128);  /* border between tiles 0 and 1 */
    cr_assert_eq(AT(1, 1), 255);  /* tile 0 origin */
    cr_assert_eq(AT(2, 3), 191);  /* tile 0 (1,2) */
    cr_assert_eq(AT(1, 5), 0);    /* tile 1 origin */
    cr_assert_eq(AT(5, 5), 255);  /* tile 4 = row 1, col 1: origin (4,5); (1,0) */
    cr_assert_eq(AT(4, 6), 0);    /* tile 4 (0,1) */
    cr_assert_eq(AT(4, 7), 128);  /* tile 4 (0,2) */
    cr_assert_eq(AT(5, 10), 128); /* empty sixth cell */
    cr_assert_eq(AT(6, 12), 128); /* bottom-right border */
#undef AT
    nota_tensor_free(g);
    nota_tensor_free(x);
    /* only the grid is left: no temp file behind */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) files += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 1);
}

Test(png, grid_u8_rgb_columns) {
    int64_t s[4] = {3, 3, 1, 2}; /* 3 RGB tiles of 1x2, 2 columns */
    nota_tensor *x, *g;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 4, s, &x), NOTA_OK);
    for (int i = 0; i < 18; i++) nota_tensor_u8(x)[i] = (uint8_t)(i + 1);
    cr_assert_eq(nota_png_grid_write(in_dir("rgb.png"), x, 2, 0.0f, 0.0f), NOTA_OK, "%s",
                 nota_last_error());
    g = read_ok(in_dir("rgb.png"), 3, 2 * 2 + 1, 2 * 3 + 1);
    const uint8_t *p = nota_tensor_u8(g);
    size_t plane = 5 * 7;
    /* tile 1 (row 0, col 1) origin at (1, 4); its pixel (0,1) channel c = 6 + c*2 + 1 + 1 */
    for (int c = 0; c < 3; c++) cr_assert_eq(p[(size_t)c * plane + 1 * 7 + 5], 6 + c * 2 + 2);
    /* tile 2 (row 1, col 0) origin at (3, 1) */
    for (int c = 0; c < 3; c++) cr_assert_eq(p[(size_t)c * plane + 3 * 7 + 1], 12 + c * 2 + 1);
    nota_tensor_free(g);
    nota_tensor_free(x);
}

Test(png, grid_bad_input_refused) {
    int64_t s[4] = {1, 2, 2, 2};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, s, &x), NOTA_OK);
    cr_assert_eq(nota_png_grid_write(in_dir("g.png"), x, 0, 0.0f, 1.0f), NOTA_ESHAPE);
    snprintf(msg, sizeof msg, "png '%s': images have 2 channels, expected 1 or 3", in_dir("g.png"));
    cr_assert_str_eq(nota_last_error(), msg);
    cr_assert_eq(nota_tensor_reshape(x, 3, (int64_t[3]){2, 2, 2}), NOTA_OK);
    cr_assert_eq(nota_png_grid_write(in_dir("g.png"), x, 0, 1.0f, 1.0f), NOTA_EINVAL);
    snprintf(msg, sizeof msg, "png '%s': range [1, 1] is empty, expected lo < hi",
             in_dir("g.png"));
    cr_assert_str_eq(nota_last_error(), msg);
    char p[200], d[160];
    snprintf(d, sizeof d, "%s/missing", dir);
    snprintf(p, sizeof p, "%s/grid.png", d);
    cr_assert_eq(nota_png_grid_write(p, x, 0, 0.0f, 1.0f), NOTA_EIO);
    snprintf(msg, sizeof msg,
             "png '%s': cannot create a file in folder '%s': No such file or directory", p, d);
    cr_assert_str_eq(nota_last_error(), msg);
    nota_tensor_free(x);
}
