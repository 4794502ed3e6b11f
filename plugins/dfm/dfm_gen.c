/* Generation mode, part 1: options, building the MLPs and one batch's
 * forward and backward through decoder and rendering (dfm_gen.h explains
 * the model; dfm_gen_fit.c fits it).
 *
 * Fit: Adam on the decoder with the thesis's linear learning-rate schedule
 * (lr → lr_end over all steps); the encoder (or the embedding table of the
 * encoder-free variant) learns at enc_lr_ratio times that rate, as §5.1.3
 * sets the latent rate below the decoder's. Each epoch reports train and
 * validation MSE and PSNR; the best validation epoch is kept (early stopping
 * after `patience` epochs without improvement). A non-finite loss stops the
 * fit with an error and leaves the model unfitted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_gen.h"

static nota_status parse_hidden(const char *key, const char *text, int64_t *sizes, int *n) {
    *n = 0;
    const char *s = text;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 1 || v > 65536 || *n == DFM_GEN_MAX_HIDDEN)
            return nota_error(NOTA_EINVAL,
                              "dfm: option %s='%s': expected 1..%d comma-separated sizes in "
                              "1..65536",
                              key, text, DFM_GEN_MAX_HIDDEN);
        sizes[(*n)++] = v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return nota_error(NOTA_EINVAL, "dfm: option %s='%s': unexpected '%c'", key, text, *s);
    }
    if (*n == 0)
        return nota_error(NOTA_EINVAL, "dfm: option %s is empty: give at least one layer size",
                          key);
    return NOTA_OK;
}

nota_status dfm_gen_new(const nota_config *cfg, dfm_gen **out) {
    *out = NULL;
    dfm_gen *g = calloc(1, sizeof *g);
    if (!g) return nota_error(NOTA_ENOMEM, "dfm: allocation failed");
    const char *enc, *eh, *dh;
    nota_status st = nota_config_get_int(cfg, "latent", &g->latent);
    if (!st) st = nota_config_get_string(cfg, "encoder", &enc);
    if (!st) st = nota_config_get_string(cfg, "enc_hidden", &eh);
    if (!st) st = nota_config_get_string(cfg, "dec_hidden", &dh);
    if (!st) st = nota_config_get_int(cfg, "width", &g->width);
    if (!st) st = nota_config_get_int(cfg, "depth", &g->depth);
    if (!st) st = nota_config_get_float(cfg, "coord_scale", &g->coord_scale);
    if (!st) st = nota_config_get_float(cfg, "coef_std", &g->coef_std);
    if (!st) st = nota_config_get_float(cfg, "lambda", &g->lambda);
    if (!st) st = nota_config_get_float(cfg, "gen_lr", &g->lr);
    if (!st) st = nota_config_get_float(cfg, "gen_lr_end", &g->lr_end);
    if (!st) st = nota_config_get_float(cfg, "enc_lr_ratio", &g->enc_lr_ratio);
    if (!st) st = nota_config_get_int(cfg, "gen_batch", &g->batch);
    if (!st) st = nota_config_get_int(cfg, "epochs", &g->epochs);
    if (!st) st = nota_config_get_int(cfg, "patience", &g->patience);
    if (!st) st = nota_config_get_float(cfg, "valid_frac", &g->valid_frac);
    if (!st) st = nota_config_get_float(cfg, "sigma", &g->sigma);
    if (!st) st = nota_config_get_int(cfg, "encode_steps", &g->encode_steps);
    if (!st) st = nota_config_get_float(cfg, "encode_lr", &g->encode_lr);
    if (st) st = nota_error_prefix(st, "dfm: ");
    if (!st) g->encoder = strcmp(enc, "none") != 0;
    if (!st) st = parse_hidden("enc_hidden", eh, g->enc_hidden, &g->n_enc);
    if (!st) st = parse_hidden("dec_hidden", dh, g->dec_hidden, &g->n_dec);
    /* width / depth 0 ask the codec to choose from the budget; generation
     * has no budget, so 0 means the defaults below (measured in docs/dfm.md). */
    if (g->width == 0) g->width = DFM_GEN_WIDTH;
    if (g->depth == 0) g->depth = DFM_GEN_DEPTH;
    if (st) {
        free(g);
        return st;
    }
    *out = g;
    return NOTA_OK;
}

void dfm_gen_release(dfm_gen *g) {
    nota_nn_net_free(g->enc);
    nota_nn_net_free(g->dec);
    g->enc = g->dec = NULL;
    g->dim = 0;
}

void dfm_gen_free(dfm_gen *g) {
    if (!g) return;
    dfm_gen_release(g);
    free(g);
}

/* in → hidden… → out with ReLU between, kit default init from (seed,
 * stream + layer). */
static nota_status mlp_new(int64_t in, const int64_t *hidden, int n, int64_t out, uint64_t seed,
                           uint64_t stream, nota_nn_net **net) {
    nota_status st = nota_nn_net_new(net);
    int64_t prev = in;
    for (int i = 0; i <= n && !st; i++) {
        int64_t next = i < n ? hidden[i] : out;
        nota_nn_layer *l;
        st = nota_nn_linear_new(prev, next, true, &l);
        if (!st) st = nota_nn_net_add(*net, l);
        if (!st && i < n) st = nota_nn_act_new(NOTA_NN_RELU, 0.0f, &l);
        if (!st && i < n) st = nota_nn_net_add(*net, l);
        prev = next;
    }
    if (!st) st = nota_nn_net_init(*net, seed, stream);
    if (st) {
        nota_nn_net_free(*net);
        *net = NULL;
    }
    return st;
}

nota_status dfm_gen_build(dfm_gen *g, int64_t c, int64_t h, int64_t w, uint64_t seed) {
    dfm_gen_release(g);
    nota_status st = dfm_gen_arch_init(&g->arch, (int)c, (int)g->width, (int)g->depth, h, w,
                                       (float)g->coord_scale);
    if (st) return st;
    g->dim = c * h * w;
    int64_t ncoef = g->arch.off[g->arch.depth];
    st = mlp_new(g->latent, g->dec_hidden, g->n_dec, ncoef, seed, 100, &g->dec);
    if (!st && g->encoder)
        st = mlp_new(g->dim, g->enc_hidden, g->n_enc, g->latent, seed, 0, &g->enc);
    if (!st) {
        /* The decoder's last layer starts from N(0, coef_std²/fan_in), bias
         * 0 (the thesis: zero biases), so the first coefficients are about
         * coef_std × the hidden RMS (0.3 trained faster than 0.045 or the
         * kit's default on Fashion-MNIST; docs/dfm.md). */
        nota_nn_param p;
        nota_nn_layer *last = nota_nn_net_layer(g->dec, nota_nn_net_layer_count(g->dec) - 1);
        st = nota_nn_layer_param(last, 0, &p);
        int64_t fan = g->dec_hidden[g->n_dec - 1];
        if (!st)
            st = nota_nn_init_tensor(p.value, NOTA_NN_INIT_NORMAL, 0.0,
                                     g->coef_std / sqrt((double)fan), 0, 0, seed, 200);
        if (!st) st = nota_nn_layer_param(last, 1, &p);
        if (!st) memset(nota_tensor_f32(p.value), 0, nota_tensor_numel(p.value) * sizeof(float));
    }
    if (st) dfm_gen_release(g);
    return st;
}

void dfm_gen_targets(const float *x, int64_t n, float *t) {
    for (int64_t i = 0; i < n; i++)
        t[i] = x[i] * (1.0f / 128.0f) - 1.0f;
}

nota_status dfm_gen_forward_backward(dfm_gen *g, dfm_render *r, int64_t n, float *z, const float *t,
                                     float scale, float *y, double *sse_sum, float *dcoef,
                                     float *dz) {
    int64_t ncoef = g->arch.off[g->arch.depth], zs[2] = {n, g->latent}, cs[2] = {n, ncoef};
    nota_tensor *zt = NULL, *dct = NULL;
    const nota_tensor *coef, *dzt;
    double *sse = NULL;
    nota_status st = nota_tensor_wrap(NOTA_F32, 2, zs, z, &zt);
    if (!st) st = nota_nn_net_forward(g->dec, zt, &coef);
    if (!st && t && !(sse = malloc((size_t)n * sizeof *sse)))
        st = nota_error(NOTA_ENOMEM, "dfm: cannot allocate %lld losses", (long long)n);
    if (!st) st = dfm_render_run(r, n, nota_tensor_f32(coef), t, scale, y, sse, dz ? dcoef : NULL);
    if (!st && t) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++)
            s += sse[i];
        *sse_sum = s;
    }
    if (!st && t && dz) {
        st = nota_tensor_wrap(NOTA_F32, 2, cs, dcoef, &dct);
        if (!st) st = nota_nn_net_backward(g->dec, dct, &dzt);
        if (!st) memcpy(dz, nota_tensor_f32(dzt), (size_t)(n * g->latent) * sizeof(float));
    }
    free(sse);
    nota_tensor_free(zt);
    nota_tensor_free(dct);
    return st;
}
