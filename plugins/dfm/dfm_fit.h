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
 *
 * Stall check: some networks (width 7, depth 5 on a 512×512 photo; width 7,
 * depth 5 on a 32×24 sum of sinusoids) never leave the constant image —
 * their fit sits at the PSNR of the per-channel mean for all its steps.
 * After `stall_steps` float steps the fit compares its PSNR (mean squared
 * error of the last DFM_STALL_WINDOW steps' batches) with the best constant
 * image's; less than `stall_db` above it is a stall. With `stall_stop` the
 * fit then returns at once (report->stalled set, the network and code
 * unusable) so the caller can retry another architecture; without, it
 * carries on and only reports.
 */
#ifndef DFM_FIT_H
#define DFM_FIT_H

#include "dfm_codec.h"

typedef struct dfm_fit_opts {
    int64_t steps, qat_steps; /* Adam steps of each phase (qat_steps 0 = round only) */
    int64_t batch;            /* pixels per step; >= H·W means full batch */
    float lr, qat_lr;
    float beta2; /* Adam's second-moment decay (both phases) */
    int bits;
    uint64_t seed;
    int64_t stall_steps; /* check for a stall after this many float steps (0: never) */
    double stall_db;     /* a stall: less than this many dB above the constant image */
    bool stall_stop;     /* return at a stall instead of finishing the fit */
} dfm_fit_opts;

/* Steps whose batch errors the stall check averages. */
#define DFM_STALL_WINDOW 50
/* Images whose best constant already scores this PSNR (dB) are not checked:
 * there is little left to gain, so a 1 dB gain is not a fair test. */
#define DFM_STALL_MAX_CONST_DB 30.0

typedef struct dfm_fit_report {
    double psnr_float;  /* the float network's PSNR before quantization */
    bool stalled;       /* the stall check fired */
    double stall_psnr;  /* at the check: the fit's PSNR (batch average) */
    double const_psnr;  /* the best constant image's PSNR (per-channel mean) */
    int64_t stall_step; /* steps run when the check fired */
} dfm_fit_report;

/* Fit n to the u8 image (C, H, W) (C = n->channels) and fill code->scales /
 * code->q (allocated by the caller with dfm_code_alloc for n's architecture).
 * *report (required) says how the fit went. */
nota_status dfm_fit(dfm_net *n, const uint8_t *img, int64_t h, int64_t w, const dfm_fit_opts *o,
                    const nota_host *host, dfm_code *code, dfm_fit_report *report);

/* PSNR (dB) of two u8 buffers of `count` bytes (99 dB when equal). */
double dfm_psnr_u8(const uint8_t *a, const uint8_t *b, int64_t count);

#endif
