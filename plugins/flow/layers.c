/* Layer bookkeeping: the schedule of layer kinds and the row permutation of
 * a patch layer.
 *
 * A patch ("conv") layer of side p cuts the C×H×W image, circularly shifted
 * by (sy, sx), into (H/p)(W/p) patches of P = p·p·C values and rotates each
 * with the same P×P matrix. Expressed on the batch it is a permutation of
 * rows followed by one GEMM.
 * The shift changes every layer so that patch borders move and information
 * flows between neighbouring patches over depth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

void flow_layer_free(flow_layer *l) {
    free(l->rot);
    free(l->knots);
    free(l->active);
    free(l->perm);
    free(l->act);
    free(l->rot_act);
    free(l->ar_w);
    free(l->ar_edges);
    free(l->ar_nbr);
    free(l->ar_aff);
    free(l->ar_sw);
    free(l->ar_net);
    memset(l, 0, sizeof *l);
}

nota_status flow_layer_compact(flow_layer *l) {
    free(l->act);
    free(l->rot_act);
    l->act = NULL;
    l->rot_act = NULL;
    l->n_act = 0;
    if (l->ar || l->patch != 0 || l->nrot != 1) return NOTA_OK;
    int64_t a = 0, P = l->P;
    for (int64_t r = 0; r < P; r++)
        a += l->active[r] != 0;
    /* two (a, P) × (P, N) GEMMs against two (P, P) ones: worth it below P/2 */
    if (a == 0 || 2 * a > P) return NOTA_OK;
    l->act = malloc((size_t)a * sizeof *l->act);
    l->rot_act = malloc((size_t)(a * P) * sizeof *l->rot_act);
    if (!l->act || !l->rot_act) {
        free(l->act);
        free(l->rot_act);
        l->act = NULL;
        l->rot_act = NULL;
        return nota_error(NOTA_ENOMEM, "flow: cannot allocate %lld active rows of a layer",
                          (long long)a);
    }
    for (int64_t r = 0; r < P; r++)
        if (l->active[r]) {
            memcpy(l->rot_act + l->n_act * P, l->rot + r * P, (size_t)P * sizeof(float));
            l->act[l->n_act++] = r;
        }
    return NOTA_OK;
}

void flow_clear(flow *f) {
    for (int l = 0; l < f->n_layers; l++)
        flow_layer_free(&f->layers[l]);
    free(f->layers);
    free(f->mu);
    free(f->inv_sd);
    flow_opts o = f->o;
    memset(f, 0, sizeof *f);
    f->o = o;
}

nota_status flow_patch_perm(int C, int H, int W, int p, int sy, int sx, int64_t **out) {
    *out = NULL;
    int64_t D = (int64_t)C * H * W, Q = (int64_t)(H / p) * (W / p);
    int64_t *perm = malloc((size_t)D * sizeof *perm);
    if (!perm)
        return nota_error(NOTA_ENOMEM, "flow: cannot allocate a permutation of %lld", (long long)D);
    /* row i·Q + q = element i of patch q: element i of every patch forms one
     * run of Q·N values, so the batch reads as one (P, Q·N) matrix and the
     * whole layer's rotation is a single GEMM */
    for (int c = 0; c < C; c++)
        for (int dy = 0; dy < p; dy++)
            for (int dx = 0; dx < p; dx++) {
                int64_t i = ((int64_t)c * p + dy) * p + dx;
                for (int py = 0; py < H / p; py++)
                    for (int px = 0; px < W / p; px++) {
                        int y = (py * p + dy + sy) % H, x = (px * p + dx + sx) % W;
                        perm[i * Q + (int64_t)py * (W / p) + px] = ((int64_t)c * H + y) * W + x;
                    }
            }
    *out = perm;
    return NOTA_OK;
}

nota_status flow_schedule_parse(const flow *f, int *tokens, int cap, int *n) {
    const char *s = f->o.schedule;
    bool image = f->item_ndim == 3;
    *n = 0;
    if (strcmp(s, "auto") == 0) {
        if (image && f->H % 4 == 0 && f->W % 4 == 0) {
            tokens[(*n)++] = 4;
            tokens[(*n)++] = 2;
        } else if (image && f->H % 2 == 0 && f->W % 2 == 0) {
            tokens[(*n)++] = 2;
        } else {
            tokens[(*n)++] = 0;
        }
        return NOTA_OK;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n >= cap)
            return nota_error(NOTA_EINVAL, "flow: schedule '%s' has more than %d entries", s, cap);
        if (strcmp(tok, "full") == 0) {
            tokens[(*n)++] = 0;
            continue;
        }
        char *end;
        long p = strtol(tok, &end, 10);
        if (*end || end == tok || p < 1)
            return nota_error(NOTA_EINVAL,
                              "flow: schedule '%s': entry '%s' is neither 'full' "
                              "nor a patch size >= 1",
                              s, tok);
        if (!image)
            return nota_error(NOTA_EINVAL,
                              "flow: schedule '%s' has patch size %ld, but the data "
                              "are not images (C, H, W); use 'full'",
                              s, p);
        if (f->H % p || f->W % p)
            return nota_error(NOTA_EINVAL,
                              "flow: schedule '%s': patch size %ld does not divide "
                              "the image size %dx%d",
                              s, p, f->H, f->W);
        tokens[(*n)++] = (int)p;
    }
    if (*n == 0) return nota_error(NOTA_EINVAL, "flow: schedule is empty");
    return NOTA_OK;
}
