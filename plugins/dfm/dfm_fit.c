/* Fitting a DFM network to one image, with quantization trained in (see
 * dfm_fit.h). Pixels beyond `batch` are sub-sampled per step (uniformly, with
 * replacement) so that large images cost a bounded amount per step. */
#include "dfm_fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DFM_RENDER_BATCH 16384

double dfm_psnr_u8(const uint8_t *a, const uint8_t *b, int64_t count) {
    double se = 0.0;
    for (int64_t i = 0; i < count; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    if (se == 0.0) return 99.0;
    return 10.0 * log10(255.0 * 255.0 * (double)count / se);
}

typedef struct fit_state {
    dfm_net *n;
    const dfm_fit_opts *o;
    const nota_host *host;
    int64_t npix, batch;
    float *xy, *t;       /* all coordinates (npix, 2), all targets (npix, C) */
    float *bxy, *bt, *g; /* the step's batch */
    float *deq[DFM_MAX_DEPTH];
    int8_t *q;
    uint16_t *scales;
    nota_rng rng;
    dfm_fit_report *rep;
    double const_mse;  /* the best constant image's MSE on [−1, 1] targets */
    double window_mse; /* sum of the stall window's batch MSEs */
} fit_state;

/* PSNR (dB, 8-bit scale) of an MSE on [−1, 1] targets: the range is 2. */
static double unit_psnr(double mse) { return 10.0 * log10(4.0 / (mse + 1e-30)); }

/* After the float step numbered `step` (0-based): is this the end of the
 * stall window, and did the fit fail to leave the constant image? */
static bool stall_check(fit_state *s, int64_t step, double mse) {
    int64_t at = s->o->stall_steps, from = at > DFM_STALL_WINDOW ? at - DFM_STALL_WINDOW : 0;
    if (at <= 0 || step < from || step >= at) return false;
    s->window_mse += mse;
    if (step != at - 1) return false;
    double psnr = unit_psnr(s->window_mse / (double)(at - from)), base = unit_psnr(s->const_mse);
    if (base >= DFM_STALL_MAX_CONST_DB || psnr >= base + s->o->stall_db) return false;
    s->rep->stalled = true;
    s->rep->stall_psnr = psnr, s->rep->const_psnr = base, s->rep->stall_step = at;
    return true;
}

/* Quantize every layer into s->q / s->scales (code layout) and s->deq. */
static void quantize_all(fit_state *s) {
    dfm_net *n = s->n;
    int8_t *q = s->q;
    uint16_t *sc = s->scales;
    for (int i = 0; i < n->depth; i++) {
        int64_t rows = dfm_net_layer_rows(n, i);
        dfm_quantize(dfm_net_weights(n, i), rows, n->out[i], s->o->bits, q, sc, s->deq[i]);
        q += rows * n->out[i], sc += n->out[i];
    }
}

static nota_status run_phase(fit_state *s, const char *stage, int64_t steps, float lr, bool quant) {
    bool check = !quant && s->o->stall_steps > 0 && s->o->stall_steps < steps;
    dfm_net *n = s->n;
    int C = n->channels;
    if (steps <= 0) return NOTA_OK;
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    ao.schedule = (nota_nn_schedule){NOTA_NN_LR_COSINE, lr, lr * 0.01f, steps};
    ao.beta2 = s->o->beta2;
    nota_nn_optim *opt;
    nota_status st = nota_nn_adam_new(&ao, &opt);
    for (int i = 0; i < n->depth && !st; i++)
        st = nota_nn_optim_add_layer(opt, n->layer[i]);
    if (st) {
        nota_nn_optim_free(opt);
        return st;
    }
    nota_nn_optim_zero_grad(opt);
    bool full = s->batch >= s->npix;
    const float *xy = full ? s->xy : s->bxy, *t = full ? s->t : s->bt;
    for (int64_t step = 0; step < steps && !st; step++) {
        if (nota_cancelled(s->host)) {
            st = nota_error(NOTA_ECANCELED, "dfm: fit cancelled");
            break;
        }
        if (quant) {
            quantize_all(s);
            for (int i = 0; i < n->depth; i++)
                n->wq[i] = s->deq[i];
        }
        if (!full)
            for (int64_t b = 0; b < s->batch; b++) {
                int64_t p = (int64_t)nota_rng_below(&s->rng, (uint64_t)s->npix);
                memcpy(s->bxy + 2 * b, s->xy + 2 * p, 2 * sizeof(float));
                memcpy(s->bt + b * C, s->t + p * C, (size_t)C * sizeof(float));
            }
        const float *y;
        st = dfm_net_forward(n, xy, s->batch, &y);
        if (st) break;
        double se = 0.0, scale = 2.0 / (double)(s->batch * C);
        for (int64_t i = 0; i < s->batch * C; i++) {
            double d = (double)y[i] - t[i];
            se += d * d;
            s->g[i] = (float)(scale * d);
        }
        if (!isfinite(se)) {
            st = nota_error(NOTA_ENUMERIC,
                            "dfm: loss is not finite at %s step %lld (lr %g too "
                            "high?)",
                            stage, (long long)step, (double)lr);
            break;
        }
        st = dfm_net_backward(n, s->g);
        if (!st) st = nota_nn_optim_step(opt);
        nota_nn_optim_zero_grad(opt);
        double mse = se / (double)(s->batch * C);
        if (step % 50 == 0 || step == steps - 1) {
            char detail[64];
            snprintf(detail, sizeof detail, "%.2f dB", unit_psnr(mse));
            nota_progress(s->host, stage, (double)step + 1, (double)steps, detail);
        }
        if (check && stall_check(s, step, mse) && s->o->stall_stop) break;
    }
    for (int i = 0; i < n->depth; i++)
        n->wq[i] = NULL;
    nota_nn_optim_free(opt);
    return st;
}

nota_status dfm_fit(dfm_net *n, const uint8_t *img, int64_t h, int64_t w, const dfm_fit_opts *o,
                    const nota_host *host, dfm_code *code, dfm_fit_report *report) {
    int C = n->channels;
    memset(report, 0, sizeof *report);
    fit_state s = {.n = n, .o = o, .host = host, .npix = h * w, .rep = report};
    s.batch = o->batch < s.npix ? o->batch : s.npix;
    s.q = code->q, s.scales = code->scales;
    s.rng = nota_rng_make(o->seed, 0xdf3);
    nota_status st = NOTA_OK;
    s.xy = malloc((size_t)(s.npix * 2) * sizeof(float));
    s.t = malloc((size_t)(s.npix * C) * sizeof(float));
    s.bxy = malloc((size_t)(s.batch * 2) * sizeof(float));
    s.bt = malloc((size_t)(s.batch * C) * sizeof(float));
    s.g = malloc((size_t)(s.batch * C) * sizeof(float));
    uint8_t *render = malloc((size_t)(s.npix * C));
    bool ok = s.xy && s.t && s.bxy && s.bt && s.g && render;
    for (int i = 0; i < n->depth && ok; i++)
        ok = (s.deq[i] = malloc((size_t)(dfm_net_layer_rows(n, i) * n->out[i]) * sizeof(float)));
    if (!ok) {
        st = nota_error(NOTA_ENOMEM, "dfm: cannot allocate fitting buffers for %lld pixels",
                        (long long)s.npix);
        goto done;
    }
    dfm_coords(h, w, n->coord_scale, 0, s.npix, s.xy);
    for (int c = 0; c < C; c++) { /* per-channel variance, two passes (never < 0) */
        double sum = 0.0, sq = 0.0;
        for (int64_t p = 0; p < s.npix; p++) {
            float v = (float)img[c * s.npix + p] / 127.5f - 1.0f;
            s.t[p * C + c] = v;
            sum += v;
        }
        double mean = sum / (double)s.npix;
        for (int64_t p = 0; p < s.npix; p++)
            sq += (s.t[p * C + c] - mean) * (s.t[p * C + c] - mean);
        s.const_mse += sq / (double)s.npix / C;
    }
    st = run_phase(&s, "fit", o->steps, o->lr, false);
    if (!st && report->stalled && o->stall_stop) goto done;
    if (!st) {
        st = dfm_net_render(n, h, w, DFM_RENDER_BATCH, render);
        report->psnr_float = dfm_psnr_u8(img, render, s.npix * C);
    }
    if (!st && o->qat_steps > 0) st = run_phase(&s, "quantize", o->qat_steps, o->qat_lr, true);
    if (!st) {
        quantize_all(&s);
        for (int i = 0; i < n->depth; i++)
            memcpy(dfm_net_weights(n, i), s.deq[i],
                   (size_t)(dfm_net_layer_rows(n, i) * n->out[i]) * sizeof(float));
    }
done:
    free(s.xy), free(s.t), free(s.bxy), free(s.bt), free(s.g), free(render);
    for (int i = 0; i < DFM_MAX_DEPTH; i++)
        free(s.deq[i]);
    return st;
}
