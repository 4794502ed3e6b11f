/* The dfm plugin: Deep Fourier Machines (paper 001, ch. 4) in two modes.
 * This file is the plugin boundary: the descriptor, the option table (both
 * modes share it) and the entry points.
 *
 * Compression (compress/decompress): one quantized coordinate network per
 * image, or per tile of it, in a .dfm file: dfm_compress.c chooses the
 * tiles and networks and runs the fits; the network is dfm_net.c, fitting
 * dfm_fit.c, the file format dfm_codec.c. It keeps no .nota model.
 *
 * Generation (create/fit/encode/decode/sample/eval/save/load, §4.2.2): an
 * encoder MLP (or a learned embedding per training image) gives a latent z,
 * a decoder MLP maps z to every Fourier coefficient of a per-image network,
 * which renders the image: dfm_gen.h, dfm_gen*.c.
 */
#include <stdlib.h>
#include <string.h>

#include "dfm_compress.h"
#include "dfm_gen.h"

#define DFM_VERSION 1
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
    {"tile", NOTA_VAL_INT, "0",
     "compression: tile side in pixels, each tile its own network (0 = automatic; at least the "
     "image's side = one network)",
     0, DFM_MAX_SIDE, NULL},
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
    .compress = dfm_compress,
    .decompress = dfm_decompress,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
