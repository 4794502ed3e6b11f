/* dfm_fit.h — fitting one coordinate network to one image, then training
 * its quantization in (paper 001, ch. 4; settings of issue 6's prototype).
 *
 * Phase 1: Adam with cosine learning-rate decay on the mean squared error of
 * tanh outputs against pixel values mapped to [−1, 1]. Phase 2
 * (quantization-aware fine-tuning): each step quantizes every layer per
 * output column (dfm_quantize), runs forward/backward with the quantized
 * weights and lets Adam update the float weights (straight-through
 * estimator). The result is the quantized code of the final weights; the
 * network is left holding their dequantized values, i.e. exactly what a
 * decoder will render.
 */
#ifndef DFM_FIT_H
#define DFM_FIT_H

#include "dfm_codec.h"

typedef struct dfm_fit_opts {
    int64_t steps, qat_steps; /* Adam steps of each phase (qat_steps 0 = round only) */
    int64_t batch;            /* pixels per step; >= H·W means full batch */
    float lr, qat_lr;
    int bits;
    uint64_t seed;
} dfm_fit_opts;

/* Fit n to the u8 image (C, H, W) (C = n->channels) and fill code->scales /
 * code->q (allocated by the caller with dfm_code_alloc for n's architecture).
 * *psnr_float gets the float network's PSNR before quantization (may be NULL). */
nota_status dfm_fit(dfm_net *n, const uint8_t *img, int64_t h, int64_t w, const dfm_fit_opts *o,
                    const nota_host *host, dfm_code *code, double *psnr_float);

/* PSNR (dB) of two u8 buffers of `count` bytes (99 dB when equal). */
double dfm_psnr_u8(const uint8_t *a, const uint8_t *b, int64_t count);

#endif
