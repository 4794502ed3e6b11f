/* dfm_gen.h — the dfm plugin's generation mode (paper 001, §4.2.2, §5.1.3).
 *
 * A latent code z (dimension `latent`, ~120 in the thesis) is mapped by a
 * decoder MLP to every Fourier coefficient (a_k, b_k of every layer) of a
 * per-image coordinate network of dfm_net.h's form, which then renders the
 * image at its H×W (C channels, tanh output in [−1, 1], data in [0, 256)
 * mapped by x/128 − 1). z comes from an encoder MLP (the thesis's
 * stabilised model, Algorithm 3) or, with encoder=none, from a learnable
 * embedding per training image (the auto-decoder, Algorithm 2); encoding a
 * new image then optimises z with the decoder fixed. Loss (eq. 4.8): mean
 * squared error per value + λ/B Σ‖z‖² over a batch of B images.
 *
 * The MLPs are the nn kit's; the rendering (each image has its own weights,
 * so no single GEMM covers the batch) is dfm_gen_render.c, with images split
 * over worker threads. dfm_gen.c builds the networks and runs a batch
 * through decoder and rendering, dfm_gen_fit.c fits, dfm_gen_use.c encodes,
 * decodes, samples and evaluates, dfm_gen_io.c saves and loads. Internal to
 * the plugin.
 */
#ifndef DFM_GEN_H
#define DFM_GEN_H

#include "dfm_codec.h"
#include "dfm_net.h"
#include "nota/nn.h"

/* Network size when width / depth are 0 (generation has no byte budget). */
#define DFM_GEN_WIDTH 6
#define DFM_GEN_DEPTH 3
#define DFM_GEN_MAX_HIDDEN 8
#define DFM_GEN_MAX_CHANNELS 16
/* Per-thread rendering workspace bound (floats): P·(Σ 2·2^in + ...) */
#define DFM_GEN_MAX_WORK ((int64_t)1 << 27)

/* The per-image coordinate network: widths 2 → width → … → width → C, layer
 * i's coefficients at off[i] in an image's coefficient row, laid out as the
 * kit's Fourier weight (2·2^in_i, out_i) row-major (a_k rows, then b_k). */
typedef struct dfm_gen_arch {
    int channels, width, depth;
    int64_t h, w, pixels;
    float coord_scale;
    int in[DFM_MAX_DEPTH], out[DFM_MAX_DEPTH];
    int64_t off[DFM_MAX_DEPTH + 1]; /* off[depth] = coefficients per image */
} dfm_gen_arch;

nota_status dfm_gen_arch_init(dfm_gen_arch *a, int channels, int width, int depth, int64_t h,
                              int64_t w, float coord_scale);

/* Batched rendering with per-thread workspaces (dfm_gen_render.c). */
typedef struct dfm_render dfm_render;
nota_status dfm_render_new(const dfm_gen_arch *a, int threads, dfm_render **out);
void dfm_render_free(dfm_render *r);
/* For n images with coefficients coef (n, ncoef): if y != NULL write the
 * rendered values (n, C·H·W) in [−1, 1]. If t != NULL (targets, same
 * layout): sse[i] = Σ (y − t)² of image i, and if dcoef != NULL it is
 * OVERWRITTEN with d(scale · Σ_i sse_i)/dcoef. */
nota_status dfm_render_run(dfm_render *r, int64_t n, const float *coef, const float *t, float scale,
                           float *y, double *sse, float *dcoef);

typedef struct dfm_gen {
    /* options */
    int64_t latent, width, depth, batch, epochs, patience, encode_steps;
    int64_t enc_hidden[DFM_GEN_MAX_HIDDEN], dec_hidden[DFM_GEN_MAX_HIDDEN];
    int n_enc, n_dec;
    bool encoder;
    double lambda, lr, lr_end, enc_lr_ratio, coord_scale, coef_std, sigma, valid_frac, encode_lr;
    /* fitted state (nets NULL until fit or load) */
    dfm_gen_arch arch;
    int64_t dim;     /* C·H·W */
    double code_rms; /* RMS of the training codes' entries at the kept epoch */
    nota_nn_net *enc, *dec;
} dfm_gen;

/* dfm_gen.c */
nota_status dfm_gen_new(const nota_config *cfg, dfm_gen **out);
void dfm_gen_free(dfm_gen *g);
nota_status dfm_gen_build(dfm_gen *g, int64_t c, int64_t h, int64_t w, uint64_t seed);
void dfm_gen_release(dfm_gen *g);
nota_status dfm_gen_fit(dfm_gen *g, const nota_tensor *train, const nota_tensor *valid,
                        const nota_host *host);
/* Rows of x (data in [0, 256)) → targets in [−1, 1]. */
void dfm_gen_targets(const float *x, int64_t n, float *t);
/* Decoder forward of z (n, latent), then rendering into y (optional). With
 * targets t: *sse_sum = Σ squared error, and when dz != NULL the backward
 * writes dz = d(scale·Σ sse)/dz (decoder grads ACCUMULATE too). dcoef is
 * (n, ncoef) scratch. Shared by fit, encode and eval. */
nota_status dfm_gen_forward_backward(dfm_gen *g, dfm_render *r, int64_t n, float *z, const float *t,
                                     float scale, float *y, double *sse_sum, float *dcoef,
                                     float *dz);

/* Reconstruction error of rows idx[0..n) of x (data units, (N, dim); idx
 * NULL = rows 0..n−1): codes from the encoder, or optimised for
 * encode_steps steps without one; *sse = Σ squared error in [−1, 1] units. */
nota_status dfm_gen_recon_sse(dfm_gen *g, const float *x, const int64_t *idx, int64_t n,
                              const nota_host *host, double *sse);

/* dfm_gen_use.c */
nota_status dfm_gen_encode(dfm_gen *g, const nota_tensor *x, const nota_host *host,
                           nota_tensor **out);
nota_status dfm_gen_decode(dfm_gen *g, const nota_tensor *z, const nota_host *host,
                           nota_tensor **out);
nota_status dfm_gen_sample(dfm_gen *g, int64_t n, double temperature, const nota_host *host,
                           nota_tensor **out);
nota_status dfm_gen_eval(dfm_gen *g, const nota_tensor *x, const nota_host *host, nota_metric *out,
                         size_t cap, size_t *n);
nota_status dfm_gen_save(const dfm_gen *g, nota_modelfile *mf);
nota_status dfm_gen_load(const nota_modelfile *mf, dfm_gen **out);
/* Optimise codes z (n, latent) for targets t (n, dim) with the decoder
 * fixed: `steps` Adam steps at encode_lr from z's initial values. */
nota_status dfm_gen_optimise_codes(dfm_gen *g, dfm_render *r, int64_t n, const float *t,
                                   int64_t steps, float *z, const nota_host *host);

#endif
