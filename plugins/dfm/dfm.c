/* The dfm plugin: Deep Fourier Machines (paper 001, ch. 4) in two modes.
 * This file is the plugin boundary: the descriptor, the option table (both
 * modes share it), the choice of architecture from the byte budget, and the
 * entry points.
 *
 * Compression (compress/decompress): one quantized coordinate network per
 * image in a .dfm file; the network is dfm_net.c, fitting dfm_fit.c, the
 * file format dfm_codec.c. It keeps no .nota model.
 *
 * Generation (create/fit/encode/decode/sample/eval/save/load, §4.2.2): an
 * encoder MLP (or a learned embedding per training image) gives a latent z,
 * a decoder MLP maps z to every Fourier coefficient of a per-image network,
 * which renders the image: dfm_gen.h, dfm_gen*.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_fit.h"
#include "dfm_gen.h"

#define DFM_VERSION 1
#define DFM_AUTO_MAX_WIDTH 8
/* Automatic depths: deeper networks stall more often (5×8 on the 256×256
 * astronaut crop sits at the constant image) and, at 6000 steps with beta2 0.999,
 * did not beat depth 4–5 at equal size (5×6: 21.22 dB in 1,583 bytes against
 * 5×5: 21.41 dB in 1,266; 5×7: 20.40 dB in 1,883 against 6×4: 20.70 dB in
 * 1,988, same crop) although they did at 2000 steps; depth 3 lost to depth
 * 4–5 (6×3, 1,200 weights: 14.7 dB; 5×5, 1,192: 17.3 dB on
 * bench/dfm_table.py's photo). Forced depths are honoured. */
#define DFM_AUTO_MIN_DEPTH 4
#define DFM_AUTO_MAX_DEPTH 5
/* A stalled fit falls back one depth at a time, down to this depth; before
 * each fallback it is refitted once with this Adam β2 if it used less. */
#define DFM_RESCUE_BETA2 0.999f
#define DFM_FALLBACK_MIN_DEPTH 2
#define DFM_RENDER_BATCH 16384

struct nota_model {
    nota_config *cfg;
    dfm_gen *g;
};

static const nota_option options[] = {
    {"width", NOTA_VAL_INT, "0",
     "hidden width m of the coordinate network (0 = compression: choose from the byte budget; "
     "generation: 6)",
     0, DFM_MAX_WIDTH, NULL},
    {"depth", NOTA_VAL_INT, "0",
     "number of Fourier layers (0 = compression: choose from the byte budget; generation: 3)", 0,
     DFM_MAX_DEPTH, NULL},
    {"bits", NOTA_VAL_INT, "8", "compression: bits per quantized weight", DFM_MIN_BITS,
     DFM_MAX_BITS, NULL},
    {"coord_scale", NOTA_VAL_FLOAT, "0.5",
     "pixel positions are mapped to [0, s]^2 (s = 1 makes opposite edges meet)", 0.001, 64, NULL},
    {"init_std", NOTA_VAL_FLOAT, "0.045",
     "compression: weights start from N(0, init_std^2) (0 = the kit's N(0, 1/2^m))", 0, 10, NULL},
    {"steps", NOTA_VAL_INT, "6000", "compression: Adam steps of the float fit (cosine decay)", 0,
     10000000, NULL},
    {"lr", NOTA_VAL_FLOAT, "3e-3", "compression: Adam learning rate of the float fit", 1e-7, 1,
     NULL},
    {"qat_steps", NOTA_VAL_INT, "300",
     "compression: quantization-aware fine-tuning steps (0 = plain rounding)", 0, 10000000, NULL},
    {"qat_lr", NOTA_VAL_FLOAT, "3e-4", "compression: Adam learning rate of the fine-tuning", 1e-7,
     1, NULL},
    {"beta2", NOTA_VAL_FLOAT, "0.99", "compression: Adam's second-moment decay", 0.5, 0.99999,
     NULL},
    {"stall_steps", NOTA_VAL_INT, "500",
     "compression: after this many float steps a fit less than stall_db above the best constant "
     "image has stalled; an automatic depth then falls back to a shallower network (0 = no "
     "check)",
     0, 10000000, NULL},
    {"stall_db", NOTA_VAL_FLOAT, "1", "compression: see stall_steps (dB)", 0, 100, NULL},
    {"batch", NOTA_VAL_INT, "16384",
     "compression: pixels per step (fewer than the image's: a random subset each step)", 256,
     1 << 26, NULL},
    /* generation mode */
    {"latent", NOTA_VAL_INT, "120", "generation: latent dimension (the thesis: about 120)", 1,
     65536, NULL},
    {"encoder", NOTA_VAL_STRING, "mlp",
     "generation: mlp (encoder MLP image -> z) or none (a learned embedding per training image; "
     "encode then optimises z with the decoder fixed)",
     0, 0, "mlp|none"},
    {"enc_hidden", NOTA_VAL_STRING, "512,256", "generation: hidden sizes of the encoder MLP", 0, 0,
     NULL},
    {"dec_hidden", NOTA_VAL_STRING, "256,512",
     "generation: hidden sizes of the decoder MLP (z -> ... -> all Fourier coefficients)", 0, 0,
     NULL},
    {"lambda", NOTA_VAL_FLOAT, "0.5",
     "generation: weight of the code penalty lambda/B sum |z|^2 (thesis: 0.5 on MNIST)", 0, 1e6,
     NULL},
    {"coef_std", NOTA_VAL_FLOAT, "0.3",
     "generation: the decoder's last layer starts from N(0, coef_std^2/fan_in), bias 0", 0, 100,
     NULL},
    {"gen_lr", NOTA_VAL_FLOAT, "3e-3",
     "generation: decoder Adam learning rate at the start of the linear schedule", 1e-9, 1, NULL},
    {"gen_lr_end", NOTA_VAL_FLOAT, "1e-5",
     "generation: learning rate at the end of the linear schedule", 0, 1, NULL},
    {"enc_lr_ratio", NOTA_VAL_FLOAT, "0.1",
     "generation: encoder (or embedding) learning rate / decoder learning rate", 1e-6, 1e3, NULL},
    {"gen_batch", NOTA_VAL_INT, "64", "generation: images per step (thesis: 64 on MNIST)", 1, 65536,
     NULL},
    {"epochs", NOTA_VAL_INT, "20", "generation: training epochs (at most)", 1, 1000000, NULL},
    {"patience", NOTA_VAL_INT, "3",
     "generation: stop after this many epochs without a better validation MSE", 1, 1000000, NULL},
    {"valid_frac", NOTA_VAL_FLOAT, "0.1",
     "generation: fraction held out for validation when no --valid is given (0 = none)", 0, 0.9,
     NULL},
    {"sigma", NOTA_VAL_FLOAT, "0",
     "generation: samples decode z ~ N(0, (sigma*T)^2 I); 0 = the RMS of the training codes", 0,
     1e6, NULL},
    {"encode_steps", NOTA_VAL_INT, "100",
     "generation, encoder=none: Adam steps that optimise the codes of new images", 1, 1000000,
     NULL},
    {"encode_lr", NOTA_VAL_FLOAT, "3e-2", "generation, encoder=none: learning rate of those steps",
     1e-9, 10, NULL},
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
    double lr, qat_lr, beta2;
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
    if (!st) st = nota_config_get_int(cfg, "stall_steps", &s->fit.stall_steps);
    if (!st) st = nota_config_get_float(cfg, "stall_db", &s->fit.stall_db);
    if (!st) st = nota_config_get_float(cfg, "beta2", &beta2);
    if (st) return nota_error_prefix(st, "dfm: ");
    if (s->bits < DFM_MIN_BITS || s->bits > DFM_MAX_BITS || s->width < 0 ||
        s->width > DFM_MAX_WIDTH || s->depth < 0 || s->depth > DFM_MAX_DEPTH)
        return nota_error(NOTA_EINVAL, "dfm: width %lld, depth %lld or bits %lld out of range",
                          (long long)s->width, (long long)s->depth, (long long)s->bits);
    s->fit.lr = (float)lr, s->fit.qat_lr = (float)qat_lr, s->fit.bits = (int)s->bits;
    s->fit.beta2 = (float)beta2;
    return NOTA_OK;
}

/* One fit of a (width, depth) network: fills *code (allocated here) and *net. */
static nota_status fit_arch(const settings *s, const nota_tensor *image, int width, int depth,
                            const nota_host *host, dfm_code *code, dfm_net **net,
                            dfm_fit_report *rep) {
    int C = (int)image->shape[0];
    int64_t h = image->shape[1], w = image->shape[2];
    *code = (dfm_code){
        .channels = C, .width = width, .depth = depth, .bits = (int)s->bits, .h = h, .w = w};
    code->coord_scale_h = dfm_half_from_float((float)s->coord_scale);
    nota_log(host, NOTA_LOG_INFO,
             "dfm: %lldx%lld image: width %d, depth %d, %lld weights at %d bits", (long long)w,
             (long long)h, width, depth, (long long)dfm_net_weight_count(width, depth, C),
             (int)s->bits);
    nota_status st = dfm_code_alloc(code);
    if (!st)
        st = dfm_net_new(width, depth, C, dfm_half_to_float(code->coord_scale_h), s->fit.seed,
                         host ? host->threads : 1, net);
    if (!st && s->init_std > 0.0) st = dfm_net_init_normal(*net, s->init_std, s->fit.seed);
    if (!st) st = dfm_fit(*net, nota_tensor_u8(image), h, w, &s->fit, host, code, rep);
    return st;
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
    nota_log(host, NOTA_LOG_INFO, "dfm: budget %.0f bytes", budget);
    s.fit.seed = host ? host->seed : 0;
    dfm_code code = {0};
    dfm_net *net = NULL;
    dfm_fit_report rep = {0};
    uint8_t *render = malloc((size_t)(h * w * C));
    if (!render) return nota_error(NOTA_ENOMEM, "dfm: cannot allocate the rendered image");
    /* A stalled fit of an automatically chosen depth is abandoned at the
     * check. If Adam's β2 is below DFM_RESCUE_BETA2 the same network is
     * refitted once with it (β2 0.99, better on 256×256 crops, stalled the
     * 512×512 astronaut's 7×4 network, which trains at 0.999); otherwise,
     * or if that stalls too, the next shallower network (same width, the
     * configured β2) is fitted instead. */
    const float beta2 = s.fit.beta2;
    for (;;) {
        bool can_rescue = s.fit.beta2 < DFM_RESCUE_BETA2;
        s.fit.stall_stop = s.depth == 0 && (depth > DFM_FALLBACK_MIN_DEPTH || can_rescue);
        st = fit_arch(&s, image, width, depth, host, &code, &net, &rep);
        if (st || !rep.stalled || !s.fit.stall_stop) break;
        dfm_net_free(net);
        dfm_code_free(&code);
        net = NULL;
        if (can_rescue) {
            nota_log(
                host, NOTA_LOG_INFO,
                "dfm: fit stalled (%.2f dB after %lld steps, a constant image scores %.2f dB): "
                "refitting depth %d with beta2 %g",
                rep.stall_psnr, (long long)rep.stall_step, rep.const_psnr, depth,
                (double)DFM_RESCUE_BETA2);
            s.fit.beta2 = DFM_RESCUE_BETA2;
            continue;
        }
        nota_log(host, NOTA_LOG_INFO,
                 "dfm: fit stalled (%.2f dB after %lld steps, a constant image scores %.2f dB): "
                 "falling back from depth %d to %d",
                 rep.stall_psnr, (long long)rep.stall_step, rep.const_psnr, depth, depth - 1);
        depth--;
        s.fit.beta2 = beta2;
    }
    if (!st && rep.stalled)
        nota_log(host, NOTA_LOG_WARN,
                 "dfm: fit stalled (%.2f dB after %lld steps, a constant image scores %.2f dB) "
                 "and no shallower network is tried (depth %d %s)",
                 rep.stall_psnr, (long long)rep.stall_step, rep.const_psnr, depth,
                 s.depth ? "forced" : "is the smallest");
    if (!st) st = dfm_encode(&code, bytes, n);
    if (!st) st = dfm_net_render(net, h, w, DFM_RENDER_BATCH, render);
    if (!st)
        nota_log(host, NOTA_LOG_INFO,
                 "dfm: %zu bytes (%.4f bpp), PSNR %.2f dB float, %.2f dB coded", *n,
                 8.0 * (double)*n / (double)(h * w), rep.psnr_float,
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

static void destroy(nota_model *m) {
    if (!m) return;
    dfm_gen_free(m->g);
    nota_config_free(m->cfg);
    free(m);
}

static nota_status create(const nota_config *cfg, const nota_host *host, nota_model **out) {
    (void)host;
    *out = NULL;
    nota_model *m = calloc(1, sizeof *m);
    if (!m) return nota_error(NOTA_ENOMEM, "dfm: allocation failed");
    nota_status st = nota_config_clone(cfg, &m->cfg);
    if (!st) st = dfm_gen_new(cfg, &m->g);
    if (st) {
        destroy(m);
        return st;
    }
    *out = m;
    return NOTA_OK;
}

static nota_status fit(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                       const nota_host *host) {
    return dfm_gen_fit(m->g, train, valid, host);
}

static nota_status sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                          nota_tensor **out) {
    return dfm_gen_sample(m->g, n, temperature, host, out);
}

static nota_status encode(nota_model *m, const nota_tensor *x, const nota_host *host,
                          nota_tensor **out) {
    return dfm_gen_encode(m->g, x, host, out);
}

static nota_status decode(nota_model *m, const nota_tensor *z, const nota_host *host,
                          nota_tensor **out) {
    return dfm_gen_decode(m->g, z, host, out);
}

static nota_status eval(nota_model *m, const nota_tensor *x, const nota_host *host,
                        nota_metric *out, size_t cap, size_t *n) {
    return dfm_gen_eval(m->g, x, host, out, cap, n);
}

static nota_status save(const nota_model *m, nota_modelfile *mf) {
    nota_status st = nota_modelfile_set_config(mf, m->cfg);
    return st ? st : dfm_gen_save(m->g, mf);
}

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    (void)host;
    *out = NULL;
    nota_model *m = calloc(1, sizeof *m);
    if (!m) return nota_error(NOTA_ENOMEM, "dfm: allocation failed");
    nota_status st = nota_config_clone(nota_modelfile_config(mf), &m->cfg);
    if (!st) st = dfm_gen_load(mf, &m->g);
    if (st) {
        destroy(m);
        return st;
    }
    *out = m;
    return NOTA_OK;
}

static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    if (!m->g->dec) return 0;
    shape[0] = m->g->arch.channels, shape[1] = m->g->arch.h, shape[2] = m->g->arch.w;
    return 3;
}

static int code_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    if (!m->g->dec) return 0;
    shape[0] = m->g->latent;
    return 1;
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "dfm",
    .version = DFM_VERSION,
    .family = "compression",
    .description = "Deep Fourier Machines: one quantized Fourier coordinate network per image "
                   "(.dfm files); generation: latent z -> MLP -> Fourier coefficients -> image",
    .caps = NOTA_CAP_COMPRESS | NOTA_CAP_FIT | NOTA_CAP_SAMPLE | NOTA_CAP_ENCODE | NOTA_CAP_DECODE |
            NOTA_CAP_EVAL,
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .create = create,
    .fit = fit,
    .sample = sample,
    .encode = encode,
    .decode = decode,
    .eval = eval,
    .save = save,
    .load = load,
    .destroy = destroy,
    .data_shape = data_shape,
    .code_shape = code_shape,
    .compress = compress,
    .decompress = decompress,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
