/* The dfm plugin: Deep Fourier Machines (paper 001, ch. 4) as an image
 * codec. This file is the plugin boundary: the descriptor, the option table,
 * the choice of architecture from the byte budget, and compress/decompress.
 * The network is dfm_net.c, fitting dfm_fit.c, the file format dfm_codec.c.
 *
 * Compression mode keeps no .nota model: a .dfm file is the whole model, so
 * `load` refuses with NOTA_ENOTSUP (the registry requires the entry). The
 * generation mode of issue 6 (encoder/decoder MLPs over Fourier
 * coefficients) is not implemented.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_fit.h"

#define DFM_VERSION 1
#define DFM_AUTO_MAX_WIDTH 8
/* Automatic depths: deeper networks (5×8 at 0.3 bpp, 5×6 at 0.2 bpp on a
 * 256×256 photo) stalled at 10–17 dB with the default lr and init, and
 * depth 3 lost to depth 4–5 at equal size (6×3, 1,200 weights: 14.7 dB; 5×5,
 * 1,192: 17.3 dB on bench/dfm_table.py's photo). Forced depths are honoured. */
#define DFM_AUTO_MIN_DEPTH 4
#define DFM_AUTO_MAX_DEPTH 5
#define DFM_RENDER_BATCH 16384

struct nota_model {
    int unused; /* compression mode has no model handle (see the file comment) */
};

static const nota_option options[] = {
    {"width", NOTA_VAL_INT, "0",
     "hidden width m of the coordinate network (0 = choose from the byte budget)", 0, DFM_MAX_WIDTH,
     NULL},
    {"depth", NOTA_VAL_INT, "0", "number of Fourier layers (0 = choose from the byte budget)", 0,
     DFM_MAX_DEPTH, NULL},
    {"bits", NOTA_VAL_INT, "8", "bits per quantized weight", DFM_MIN_BITS, DFM_MAX_BITS, NULL},
    {"coord_scale", NOTA_VAL_FLOAT, "0.5",
     "pixel positions are mapped to [0, s]^2 (s = 1 makes opposite edges meet)", 0.001, 64, NULL},
    {"init_std", NOTA_VAL_FLOAT, "0.045",
     "weights start from N(0, init_std^2) (0 = the kit's N(0, 1/2^m))", 0, 10, NULL},
    {"steps", NOTA_VAL_INT, "1500", "Adam steps of the float fit (cosine decay)", 0, 10000000,
     NULL},
    {"lr", NOTA_VAL_FLOAT, "3e-3", "Adam learning rate of the float fit", 1e-7, 1, NULL},
    {"qat_steps", NOTA_VAL_INT, "300", "quantization-aware fine-tuning steps (0 = plain rounding)",
     0, 10000000, NULL},
    {"qat_lr", NOTA_VAL_FLOAT, "3e-4", "Adam learning rate of the fine-tuning", 1e-7, 1, NULL},
    {"batch", NOTA_VAL_INT, "16384",
     "pixels per step (fewer than the image's: a random subset each step)", 256, 1 << 26, NULL},
};

static int64_t varint_len(int64_t v) { return v < 128 ? 1 : v < 16384 ? 2 : 3; }

/* Expected file bytes: header, scales, and ~(bits − 0.5) bits per weight
 * after deflate (the quantized weights are near-Gaussian; measured on the
 * bench images) plus its Huffman table. */
static double estimate_bytes(int width, int depth, int c, int bits, int64_t h, int64_t w) {
    int64_t nw = dfm_net_weight_count(width, depth, c), ns = (int64_t)width * (depth - 1) + c;
    return 8 + 7 + varint_len(h) + varint_len(w) + 4 + 2.0 * (double)ns +
           (double)nw * (bits - 0.5) / 8.0 + 24;
}

/* The largest network (most weights) whose estimate fits the budget, among
 * depths DFM_AUTO_MIN_DEPTH..DFM_AUTO_MAX_DEPTH first (shallower ones only if
 * none of those fits); forced width/depth stay as given. */
static bool search_arch(int64_t h, int64_t w, int c, int bits, double budget, int fw, int fd,
                        int min_depth, int *width, int *depth) {
    int64_t best_n = -1;
    for (int wd = fw ? fw : 2; wd <= (fw ? fw : DFM_AUTO_MAX_WIDTH); wd++)
        for (int dp = fd ? fd : min_depth; dp <= (fd ? fd : DFM_AUTO_MAX_DEPTH); dp++) {
            if (estimate_bytes(wd, dp, c, bits, h, w) > budget) continue;
            int64_t nw = dfm_net_weight_count(wd, dp, c);
            if (nw > best_n) best_n = nw, *width = wd, *depth = dp;
        }
    return best_n >= 0;
}

static void choose_arch(int64_t h, int64_t w, int c, int bits, double budget, int fw, int fd,
                        int *width, int *depth) {
    if (search_arch(h, w, c, bits, budget, fw, fd, DFM_AUTO_MIN_DEPTH, width, depth)) return;
    if (search_arch(h, w, c, bits, budget, fw, fd, 2, width, depth)) return;
    *width = fw ? fw : 2, *depth = fd ? fd : 2; /* nothing fits: the smallest */
}

static nota_status check_image(const nota_tensor *im) {
    if (!im || im->dtype != NOTA_U8 || im->ndim != 3 || (im->shape[0] != 1 && im->shape[0] != 3))
        return nota_error(NOTA_EINVAL, "dfm: compress needs a u8 image (C, H, W) with C = 1 or 3");
    int64_t h = im->shape[1], w = im->shape[2];
    if (h < 1 || w < 1 || h > DFM_MAX_SIDE || w > DFM_MAX_SIDE || h * w > DFM_MAX_PIXELS)
        return nota_error(NOTA_ELIMIT,
                          "dfm: image %lldx%lld out of range (sides 1..%d, at most %lld pixels)",
                          (long long)w, (long long)h, DFM_MAX_SIDE, (long long)DFM_MAX_PIXELS);
    return NOTA_OK;
}

typedef struct settings {
    int64_t width, depth, bits;
    double coord_scale, init_std;
    dfm_fit_opts fit;
} settings;

static nota_status read_settings(const nota_config *cfg, settings *s) {
    double lr, qat_lr;
    nota_status st = nota_config_get_int(cfg, "width", &s->width);
    if (!st) st = nota_config_get_int(cfg, "depth", &s->depth);
    if (!st) st = nota_config_get_int(cfg, "bits", &s->bits);
    if (!st) st = nota_config_get_float(cfg, "coord_scale", &s->coord_scale);
    if (!st) st = nota_config_get_float(cfg, "init_std", &s->init_std);
    if (!st) st = nota_config_get_int(cfg, "steps", &s->fit.steps);
    if (!st) st = nota_config_get_float(cfg, "lr", &lr);
    if (!st) st = nota_config_get_int(cfg, "qat_steps", &s->fit.qat_steps);
    if (!st) st = nota_config_get_float(cfg, "qat_lr", &qat_lr);
    if (!st) st = nota_config_get_int(cfg, "batch", &s->fit.batch);
    if (st) return nota_error_prefix(st, "dfm: ");
    if (s->bits < DFM_MIN_BITS || s->bits > DFM_MAX_BITS || s->width < 0 ||
        s->width > DFM_MAX_WIDTH || s->depth < 0 || s->depth > DFM_MAX_DEPTH)
        return nota_error(NOTA_EINVAL, "dfm: width %lld, depth %lld or bits %lld out of range",
                          (long long)s->width, (long long)s->depth, (long long)s->bits);
    s->fit.lr = (float)lr, s->fit.qat_lr = (float)qat_lr, s->fit.bits = (int)s->bits;
    return NOTA_OK;
}

static nota_status compress(const nota_config *cfg, const nota_tensor *image, double bpp,
                            const nota_host *host, uint8_t **bytes, size_t *n) {
    *bytes = NULL, *n = 0;
    nota_status st = check_image(image);
    if (st) return st;
    if (!isfinite(bpp) || bpp <= 0.0 || bpp > 64.0)
        return nota_error(NOTA_EINVAL, "dfm: bits per pixel %g out of range (0, 64]", bpp);
    settings s;
    st = read_settings(cfg, &s);
    if (st) return st;
    int C = (int)image->shape[0], width, depth;
    int64_t h = image->shape[1], w = image->shape[2];
    double budget = bpp * (double)(h * w) / 8.0;
    choose_arch(h, w, C, (int)s.bits, budget, (int)s.width, (int)s.depth, &width, &depth);
    s.fit.seed = host ? host->seed : 0;
    dfm_code code = {
        .channels = C, .width = width, .depth = depth, .bits = (int)s.bits, .h = h, .w = w};
    code.coord_scale_h = dfm_half_from_float((float)s.coord_scale);
    nota_log(host, NOTA_LOG_INFO,
             "dfm: %lldx%lld image, budget %.0f bytes: width %d, depth %d, %lld weights at %d bits",
             (long long)w, (long long)h, budget, width, depth,
             (long long)dfm_net_weight_count(width, depth, C), (int)s.bits);
    dfm_net *net = NULL;
    uint8_t *render = malloc((size_t)(h * w * C));
    if (!render) return nota_error(NOTA_ENOMEM, "dfm: cannot allocate the rendered image");
    st = dfm_code_alloc(&code);
    if (!st)
        st = dfm_net_new(width, depth, C, dfm_half_to_float(code.coord_scale_h), s.fit.seed,
                         host ? host->threads : 1, &net);
    if (!st && s.init_std > 0.0) st = dfm_net_init_normal(net, s.init_std, s.fit.seed);
    double psnr_float = 0.0;
    if (!st) st = dfm_fit(net, nota_tensor_u8(image), h, w, &s.fit, host, &code, &psnr_float);
    if (!st) st = dfm_encode(&code, bytes, n);
    if (!st) st = dfm_net_render(net, h, w, DFM_RENDER_BATCH, render);
    if (!st)
        nota_log(host, NOTA_LOG_INFO,
                 "dfm: %zu bytes (%.4f bpp), PSNR %.2f dB float, %.2f dB coded", *n,
                 8.0 * (double)*n / (double)(h * w), psnr_float,
                 dfm_psnr_u8(nota_tensor_u8(image), render, h * w * C));
    free(render);
    dfm_net_free(net);
    dfm_code_free(&code);
    return st;
}

static nota_status decompress(const uint8_t *bytes, size_t n, const nota_host *host,
                              nota_tensor **image) {
    *image = NULL;
    dfm_code code;
    nota_status st = dfm_decode(bytes, n, &code);
    if (st) return st;
    dfm_net *net = NULL;
    int64_t shape[3] = {code.channels, code.h, code.w};
    st = dfm_code_to_net(&code, host ? host->threads : 1, &net);
    if (!st) st = nota_tensor_new(NOTA_U8, 3, shape, image);
    if (!st) st = dfm_net_render(net, code.h, code.w, DFM_RENDER_BATCH, nota_tensor_u8(*image));
    if (st && *image) {
        nota_tensor_free(*image);
        *image = NULL;
    }
    dfm_net_free(net);
    dfm_code_free(&code);
    return st;
}

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    (void)mf, (void)host;
    *out = NULL;
    return nota_error(NOTA_ENOTSUP, "dfm: compression mode keeps no model files; a .dfm file is "
                                    "read with 'nota-host decompress FILE.dfm --out OUT.png'");
}

static void destroy(nota_model *m) { free(m); }

static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    (void)m, (void)shape;
    return 0;
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "dfm",
    .version = DFM_VERSION,
    .family = "compression",
    .description = "Deep Fourier Machines: one quantized Fourier coordinate network per image "
                   "(.dfm files)",
    .caps = NOTA_CAP_COMPRESS,
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .load = load,
    .destroy = destroy,
    .data_shape = data_shape,
    .compress = compress,
    .decompress = decompress,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
