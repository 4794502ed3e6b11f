/* The scatter plugin boundary: descriptor, option table, and the transform
 * entry point (the scattering transform alone, no model: what Kymatio is used
 * for). The fitted model (scattering → whitened PCA → decoder) is in
 * model.c, model_io.c, pca.c and decoder.c.
 *
 * Scale: the host hands images over as f32 in [0, 256) (u8 value + 0.5 when
 * not dequantized). Scattering is positively homogeneous (S(a·x) = a·S(x) for
 * a > 0), so the scale only multiplies the output; input_scale (default
 * 1/256) maps images to [0, 1) like the inputs Kymatio is usually given.
 * input_shift is added first (−0.5 with input_scale = 1/255 reproduces
 * Kymatio on u8/255 exactly).
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "scatter.h"

const nota_option scatter_options[] = {
    {"J", NOTA_VAL_INT, "2", "scattering scales (output is H/2^J × W/2^J)", 1, SCAT_MAX_J, NULL},
    {"L", NOTA_VAL_INT, "8", "scattering angles", 1, SCAT_MAX_L, NULL},
    {"fft", NOTA_VAL_STRING, "auto",
     "2-D transforms: dft (DFT matrices as GEMMs over chunks of images), kissfft, or auto (dft "
     "when both padded sides are at most 80, as for 28×28 or 64×64 images); they agree to f32 "
     "rounding",
     0, 0, "auto|dft|kissfft"},
    {"input_shift", NOTA_VAL_FLOAT, "0", "added to the input before scaling", -1e6, 1e6, NULL},
    {"input_scale", NOTA_VAL_FLOAT, "0.00390625",
     "input multiplier after the shift (1/256 maps host images to [0, 1); 1 for f32 data "
     "already in [0, 1])",
     1e-12, 1e12, NULL},
    {"k", NOTA_VAL_INT, "512", "PCA components kept (capped at the numerical rank)", 1, 65536,
     NULL},
    {"channels", NOTA_VAL_STRING, "auto",
     "decoder channels per resolution, coarse to fine, J+1 sizes such as 128,64,32 (am128: 6) "
     "(auto: 32·2^(J−s), geometric, ending at 32; am128: 1024 .. 32)",
     0, 0, NULL},
    {"arch", NOTA_VAL_STRING, "conv",
     "decoder: conv (3×3 convs from H/2^J, the 28×28 default) or am128 (Angles & Mallat's "
     "128×128 generator: 7×7 convs, reflect padding, 5 upsamplings from H/32)",
     0, 0, "conv|am128"},
    {"lr", NOTA_VAL_FLOAT, "1e-3", "decoder Adam learning rate", 0, 1, NULL},
    {"batch", NOTA_VAL_INT, "128", "decoder mini-batch size", 1, 1000000, NULL},
    {"epochs", NOTA_VAL_INT, "20", "decoder training epochs (at most)", 1, 1000000, NULL},
    {"patience", NOTA_VAL_INT, "3", "stop after this many epochs without a better validation L1", 1,
     1000000, NULL},
    {"valid_frac", NOTA_VAL_FLOAT, "0.1",
     "fraction held out for early stopping when no --valid set is given (0 = none)", 0, 0.9, NULL},
    {"renorm", NOTA_VAL_BOOL, "false",
     "sample: put each Gaussian code on the sphere of radius sqrt(k), as the original code does", 0,
     0, NULL},
};

nota_status scatter_geometry(const nota_config *cfg, int *J, int *L, double *shift, double *scale) {
    int64_t j, l;
    nota_status st = nota_config_get_int(cfg, "J", &j);
    if (!st) st = nota_config_get_int(cfg, "L", &l);
    if (!st) st = nota_config_get_float(cfg, "input_shift", shift);
    if (!st) st = nota_config_get_float(cfg, "input_scale", scale);
    if (st) return nota_error_prefix(st, "scatter: ");
    if (j < 1 || j > SCAT_MAX_J || l < 1 || l > SCAT_MAX_L)
        return nota_error(NOTA_EINVAL, "scatter: J = %lld, L = %lld outside 1..%d, 1..%d",
                          (long long)j, (long long)l, SCAT_MAX_J, SCAT_MAX_L);
    *J = (int)j, *L = (int)l;
    return NOTA_OK;
}

/* Model files from before the option have no "fft": auto. */
nota_status scatter_method(const nota_config *cfg, scat_method *out) {
    const char *s = NULL;
    if (nota_config_get_string(cfg, "fft", &s) != NOTA_OK) s = "auto";
    if (strcmp(s, "auto") == 0)
        *out = SCAT_AUTO;
    else if (strcmp(s, "dft") == 0)
        *out = SCAT_DFT;
    else if (strcmp(s, "kissfft") == 0)
        *out = SCAT_KISSFFT;
    else
        return nota_error(NOTA_EINVAL, "scatter: unknown fft '%s' (expected auto|dft|kissfft)", s);
    return NOTA_OK;
}

static nota_status scatter_features(scat_cache *c, const nota_config *cfg, const nota_tensor *x,
                                    const char *what, const nota_host *host, nota_tensor **out) {
    *out = NULL;
    int J = 0, L = 0;
    double shift = 0, scale = 1;
    nota_status st = scatter_geometry(cfg, &J, &L, &shift, &scale);
    if (!st) st = scatter_method(cfg, &c->method);
    if (st) return st;
    if (shift == 0 && scale == 1) return scat_transform_tensor(c, J, L, x, what, host, out);
    if (!x || x->dtype != NOTA_F32)
        return nota_error(NOTA_EINVAL, "scatter: %s must be an f32 CPU tensor", what);
    nota_tensor *y;
    st = nota_tensor_clone(x, &y);
    if (st) return st;
    float *v = nota_tensor_f32(y);
    size_t n = nota_tensor_numel(y);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(((double)v[i] + shift) * scale);
    st = scat_transform_tensor(c, J, L, y, what, host, out);
    nota_tensor_free(y);
    return st;
}

static nota_status transform(const nota_config *cfg, const nota_tensor *x, const nota_host *host,
                             nota_tensor **out) {
    scat_cache c = {0};
    nota_status st = scatter_features(&c, cfg, x, "input", host, out);
    scat_cache_clear(&c);
    return st;
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "scatter",
    .version = SCATTER_VERSION,
    .family = "scatter",
    .description = "2-D scattering transform (Kymatio's definition); whitened PCA codes of it "
                   "with a convolutional decoder (Angles & Mallat)",
    .caps = NOTA_CAP_FIT | NOTA_CAP_SAMPLE | NOTA_CAP_ENCODE | NOTA_CAP_DECODE | NOTA_CAP_EVAL |
            NOTA_CAP_TRANSFORM,
    .options = scatter_options,
    .n_options = sizeof scatter_options / sizeof scatter_options[0],
    .create = scatter_create,
    .fit = scatter_fit,
    .sample = scatter_sample,
    .encode = scatter_encode,
    .decode = scatter_decode,
    .eval = scatter_eval,
    .save = scatter_save,
    .load = scatter_load,
    .destroy = scatter_destroy,
    .data_shape = scatter_data_shape,
    .code_shape = scatter_code_shape,
    .transform = transform,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
