/* PNG images in and out, through libpng.
 *
 * Reading normalises every 8- or 16-bit PNG (gray, gray+alpha, RGB, RGBA,
 * palette, low-bit-depth gray) to u8 planar (C, H, W) with C = 1 (gray) or
 * 3 (colour): palettes are expanded, 16-bit samples stripped to 8, alpha
 * dropped. Width and height are capped (PNG_MAX_SIDE) so a hostile header
 * cannot ask for unbounded memory.
 *
 * Writing lays a batch (N, C, H, W) or (N, H, W) out as a grid of tiles with
 * a 1-pixel border of neutral gray (GRID_BORDER = 128) between and around the
 * tiles, so that tiles stay distinguishable on both dark (MNIST) and light
 * backgrounds. Grid cells beyond N are filled with the border gray too. The
 * file is written atomically (data_io.h).
 *
 * libpng reports errors by longjmp: every resource that a longjmp may skip is
 * held in a volatile variable or in a struct that outlives the setjmp frame,
 * and the error handler copies libpng's message out before jumping.
 */
#include "nota/data.h"
#include "data_io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#define PNG_MAX_SIDE 16384u
#define GRID_BORDER 128
#define GRID_MAX_SIDE 1000000 /* libpng's default user limit */

/* Set before setjmp and never changed afterwards, so that it stays valid
 * after a longjmp; the message goes straight to nota's thread-local error. */
typedef struct png_ctx {
    const char *path;
    nota_status code; /* code for libpng's own errors */
} png_ctx;

/* The code of the failure that longjmp'd (a failure may also be ours, e.g. an
 * allocation, with its own code). */
static _Thread_local nota_status jmp_code;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_ctx *e = png_get_error_ptr(png);
    jmp_code = nota_error(e->code, "png '%s': %s", e->path, msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png, (void)msg; /* library code never prints; warnings are not failures */
}

/* Reads one open PNG stream; everything allocated is released on any path. */
static nota_status read_stream(FILE *f, const char *path, nota_tensor **out) {
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0)
        return nota_error(NOTA_EFORMAT, "png '%s': not a PNG file (bad signature)", path);
    png_ctx ctx = {path, NOTA_EFORMAT};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                             on_png_warning);
    if (!png) return nota_error(NOTA_ENOMEM, "png '%s': cannot create the decoder", path);
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return nota_error(NOTA_ENOMEM, "png '%s': cannot create the decoder", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        return jmp_code;
    }
    png_set_user_limits(png, PNG_MAX_SIDE, PNG_MAX_SIDE);
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int c = png_get_channels(png, info);
    if (c != 1 && c != 3) {
        jmp_code = nota_error(NOTA_EFORMAT, "png '%s': %d channels after conversion, expected 1 "
                              "or 3", path, c);
        png_longjmp(png, 1);
    }
    /* w, h <= PNG_MAX_SIDE and c <= 3: the products below cannot overflow. */
    size_t stride = (size_t)w * (size_t)c;
    rows = malloc(stride * h);
    if (!rows) {
        jmp_code = nota_error(NOTA_ENOMEM, "png '%s': cannot allocate %zu bytes", path,
                              stride * h);
        png_longjmp(png, 1);
    }
    /* Row by row, pass by pass: libpng merges interlaced passes in place. */
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++) png_read_row(png, rows + y * stride, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    int64_t shape[3] = {c, h, w};
    nota_tensor *tt;
    nota_status st = nota_tensor_new(NOTA_U8, 3, shape, &tt);
    if (st) {
        free(rows);
        return nota_error_prefix(st, "png '%s': ", path);
    }
    uint8_t *dst = nota_tensor_u8(tt);
    /* interleaved (H, W, C) -> planar (C, H, W) */
    for (int ch = 0; ch < c; ch++)
        for (size_t i = 0; i < (size_t)w * h; i++)
            dst[(size_t)ch * w * h + i] = rows[i * (size_t)c + (size_t)ch];
    free(rows);
    *out = tt;
    return NOTA_OK;
}

nota_status nota_png_read(const char *path, nota_tensor **out) {
    if (!out) return nota_error(NOTA_EINVAL, "nota_png_read: out is NULL");
    *out = NULL;
    if (!path) return nota_error(NOTA_EINVAL, "nota_png_read: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return nota_error(NOTA_EIO, "png '%s': cannot open: %s", path, strerror(errno));
    nota_status st = read_stream(f, path, out);
    fclose(f);
    return st;
}

/* --- folders ---------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Sorted names of the *.png entries of dir. */
static nota_status list_pngs(const char *dir, char ***names_out, size_t *n_out) {
    DIR *d = opendir(dir);
    if (!d) return nota_error(NOTA_EIO, "png folder '%s': cannot open: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) goto oom;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) goto oom;
        n++;
    }
    closedir(d);
    if (n == 0) {
        free(names);
        return nota_error(NOTA_ENOTFOUND, "png folder '%s': no *.png files", dir);
    }
    qsort(names, n, sizeof *names, cmp_names);
    *names_out = names;
    *n_out = n;
    return NOTA_OK;
oom:
    closedir(d);
    free_names(names, n);
    return nota_error(NOTA_ENOMEM, "png folder '%s': out of memory listing files", dir);
}

nota_status nota_png_folder_read(const char *dir, nota_tensor **out) {
    if (!out) return nota_error(NOTA_EINVAL, "nota_png_folder_read: out is NULL");
    *out = NULL;
    if (!dir) return nota_error(NOTA_EINVAL, "nota_png_folder_read: dir is NULL");
    char **names = NULL;
    size_t n = 0;
    nota_status st = list_pngs(dir, &names, &n);
    if (st) return st;
    nota_tensor *batch = NULL, *img = NULL;
    char first[3 * 24 + 8] = "";
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
            st = nota_error(NOTA_ELIMIT, "png folder '%s': path of '%s' is too long", dir,
                            names[i]);
            break;
        }
        if ((st = nota_png_read(path, &img)) != NOTA_OK) break;
        if (i == 0) {
            int64_t shape[4] = {(int64_t)n, img->shape[0], img->shape[1], img->shape[2]};
            nota_shape_str(3, img->shape, first, sizeof first);
            if ((st = nota_tensor_new(NOTA_U8, 4, shape, &batch)) != NOTA_OK) break;
        } else if (!(img->shape[0] == batch->shape[1] && img->shape[1] == batch->shape[2] &&
                     img->shape[2] == batch->shape[3])) {
            char b[72];
            st = nota_error(NOTA_ESHAPE,
                            "png folder '%s': '%s' has size %s (C, H, W), but '%s' has %s", dir,
                            names[i], nota_shape_str(3, img->shape, b, sizeof b), names[0], first);
            break;
        }
        memcpy(nota_tensor_u8(batch) + i * img->nbytes, img->data, img->nbytes);
        nota_tensor_free(img);
        img = NULL;
    }
    nota_tensor_free(img);
    free_names(names, n);
    if (st) {
        nota_tensor_free(batch);
        return st;
    }
    *out = batch;
    return NOTA_OK;
}

/* --- grid writer ------------------------------------------------------------ */

static uint8_t to_byte(float v, float lo, float hi) {
    float s = (v - lo) / (hi - lo) * 255.0f;
    if (!(s > 0.0f)) return 0; /* also maps NaN to 0 */
    if (s >= 255.0f) return 255;
    return (uint8_t)lrintf(s);
}

static nota_status write_png(const char *path, const uint8_t *pix, size_t w, size_t h, int c) {
    data_atomic a;
    nota_status st = data_atomic_begin(&a, path, "png");
    if (st) return st;
    png_ctx ctx = {path, NOTA_EIO};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                              on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        data_atomic_abort(&a);
        return nota_error(NOTA_ENOMEM, "png '%s': cannot create the encoder", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        data_atomic_abort(&a);
        return jmp_code;
    }
    png_init_io(png, a.f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < h; y++) png_write_row(png, pix + y * w * (size_t)c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return data_atomic_commit(&a, "png");
}

nota_status nota_png_grid_write(const char *path, const nota_tensor *images, int cols, float lo,
                                float hi) {
    if (!path || !images)
        return nota_error(NOTA_EINVAL, "nota_png_grid_write: path or images is NULL");
    const float *xf = nota_tensor_f32(images);
    const uint8_t *xu = nota_tensor_u8(images);
    if (!xf && !xu)
        return nota_error(NOTA_EINVAL, "png '%s': images must be f32 or u8 on the CPU", path);
    int64_t n, c, h, w;
    if (images->ndim == 4) {
        n = images->shape[0], c = images->shape[1], h = images->shape[2], w = images->shape[3];
    } else if (images->ndim == 3) {
        n = images->shape[0], c = 1, h = images->shape[1], w = images->shape[2];
    } else {
        char b[96];
        return nota_error(NOTA_ESHAPE, "png '%s': images have shape %s, expected (N, C, H, W) or "
                          "(N, H, W)",
                          path, nota_shape_str(images->ndim, images->shape, b, sizeof b));
    }
    if (c != 1 && c != 3)
        return nota_error(NOTA_ESHAPE, "png '%s': images have %lld channels, expected 1 or 3", path,
                          (long long)c);
    if (cols < 0) return nota_error(NOTA_EINVAL, "png '%s': cols is %d, expected >= 0", path, cols);
    if (xf && !(hi > lo))
        return nota_error(NOTA_EINVAL, "png '%s': range [%g, %g] is empty, expected lo < hi", path,
                          (double)lo, (double)hi);
    int64_t nc = cols ? cols : (int64_t)ceil(sqrt((double)n));
    if (nc > n) nc = n;
    int64_t nr = (n + nc - 1) / nc;
    if (w + 1 > GRID_MAX_SIDE / nc || h + 1 > GRID_MAX_SIDE / nr)
        return nota_error(NOTA_ELIMIT, "png '%s': grid of %lldx%lld tiles of %lldx%lld exceeds "
                          "%d pixels a side",
                          path, (long long)nr, (long long)nc, (long long)h, (long long)w,
                          GRID_MAX_SIDE);
    size_t gw = (size_t)(nc * (w + 1) + 1), gh = (size_t)(nr * (h + 1) + 1);
    if (gw * (size_t)c > SIZE_MAX / gh)
        return nota_error(NOTA_ELIMIT, "png '%s': grid is too large", path);
    uint8_t *pix = malloc(gw * gh * (size_t)c);
    if (!pix)
        return nota_error(NOTA_ENOMEM, "png '%s': cannot allocate a %zux%zu grid", path, gw, gh);
    memset(pix, GRID_BORDER, gw * gh * (size_t)c);
    size_t plane = (size_t)(h * w);
    for (int64_t i = 0; i < n; i++) {
        size_t x0 = (size_t)((i % nc) * (w + 1) + 1), y0 = (size_t)((i / nc) * (h + 1) + 1);
        for (int64_t ch = 0; ch < c; ch++) {
            size_t base = ((size_t)i * (size_t)c + (size_t)ch) * plane;
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    size_t src = base + (size_t)(y * w + x);
                    uint8_t v = xu ? xu[src] : to_byte(xf[src], lo, hi);
                    pix[((y0 + (size_t)y) * gw + x0 + (size_t)x) * (size_t)c + (size_t)ch] = v;
                }
        }
    }
    nota_status st = write_png(path, pix, gw, gh, (int)c);
    free(pix);
    return st;
}

nota_status nota_png_write(const char *path, const nota_tensor *image) {
    if (!path || !image) return nota_error(NOTA_EINVAL, "nota_png_write: path or image is NULL");
    const uint8_t *src = nota_tensor_u8(image);
    if (!src || image->ndim != 3 || (image->shape[0] != 1 && image->shape[0] != 3) ||
        image->shape[1] < 1 || image->shape[2] < 1 || image->shape[1] > PNG_MAX_SIDE ||
        image->shape[2] > PNG_MAX_SIDE) {
        char b[96];
        return nota_error(NOTA_ESHAPE, "png '%s': image is %s %s, expected u8 (C, H, W) with C "
                          "1 or 3 and sides 1..%u",
                          path, nota_dtype_name(image->dtype),
                          nota_shape_str(image->ndim, image->shape, b, sizeof b), PNG_MAX_SIDE);
    }
    size_t c = (size_t)image->shape[0], h = (size_t)image->shape[1], w = (size_t)image->shape[2];
    uint8_t *pix = malloc(c * h * w);
    if (!pix) return nota_error(NOTA_ENOMEM, "png '%s': cannot allocate %zux%zu pixels", path, w, h);
    for (size_t ch = 0; ch < c; ch++) /* planar (C, H, W) → interleaved rows */
        for (size_t i = 0; i < h * w; i++) pix[i * c + ch] = src[ch * h * w + i];
    nota_status st = write_png(path, pix, w, h, (int)c);
    free(pix);
    return st;
}
