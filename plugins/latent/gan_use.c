/* Using a fitted GAN (latent kind `gan`): eval, save, load, shapes.
 *
 * A GAN has no likelihood, so eval reports how well the samples' first two
 * moments match held-out data, per column, and what the discriminator makes
 * of both:
 *   mean_gap_sd   mean over columns of |mean(G) − mean(x)| / sd(x)
 *   sd_log_ratio  mean over non-constant columns of |log(sd(G) / sd(x))|
 *   d_real, d_fake  mean D probability on the data and on as many samples.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan.h"

#define STREAM_EVAL 0xb000u
#define CHUNK 1024

static void put(nota_metric *out, size_t cap, size_t *n, const char *name, double value) {
    if (*n >= cap) return;
    snprintf(out[*n].name, sizeof out[*n].name, "%s", name);
    out[*n].value = value;
    (*n)++;
}

/* Per-column mean and sd (population) of n rows × d. */
static void moments(const float *x, int64_t n, int64_t d, double *mean, double *sd) {
    for (int64_t j = 0; j < d; j++)
        mean[j] = sd[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            mean[j] += x[i * d + j];
    for (int64_t j = 0; j < d; j++)
        mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            double c = x[i * d + j] - mean[j];
            sd[j] += c * c;
        }
    for (int64_t j = 0; j < d; j++)
        sd[j] = sqrt(sd[j] / (double)n);
}

/* Mean sigmoid(D(x)) over n rows of data-unit x. */
static nota_status d_prob(gan *g, const float *x, int64_t n, float *buf, double *mean) {
    int64_t d = g->items.d;
    double s = 0;
    for (int64_t r0 = 0; r0 < n; r0 += CHUNK) {
        int64_t m = n - r0 < CHUNK ? n - r0 : CHUNK, shape[2] = {m, d};
        nota_tensor *t;
        const nota_tensor *o;
        lat_items_gather(&g->items, x, NULL, r0, m, false, buf);
        nota_status st = nota_tensor_wrap(NOTA_F32, 2, shape, buf, &t);
        if (!st) st = nota_nn_net_forward(g->disc, t, &o);
        for (int64_t i = 0; i < m && !st; i++)
            s += 1.0 / (1.0 + exp(-nota_tensor_f32(o)[i]));
        nota_tensor_free(t);
        if (st) return st;
    }
    *mean = s / (double)n;
    return NOTA_OK;
}

nota_status gan_eval(gan *g, const nota_tensor *x, const nota_host *host, nota_metric *out,
                     size_t cap, size_t *n) {
    *n = 0;
    nota_status st = gan_fitted(g, "eval");
    if (!st) st = lat_items_check(&g->items, x, "gan eval");
    if (st) return st;
    int64_t rows = x->shape[0], d = g->items.d, h = g->latent;
    float *z = malloc((size_t)(rows * h) * sizeof *z);
    float *buf = malloc((size_t)((rows < CHUNK ? rows : CHUNK) * d) * sizeof *buf);
    double *mx = malloc((size_t)d * 4 * sizeof *mx);
    nota_tensor *s = NULL;
    if (!z || !buf || !mx) st = nota_error(NOTA_ENOMEM, "gan eval: out of memory");
    if (!st) {
        nota_rng_fill_normal(host ? host->seed : 0, STREAM_EVAL, z, (size_t)(rows * h));
        st = gan_generate(g, z, rows, &s);
    }
    double dr = 0, df = 0;
    if (!st) st = d_prob(g, nota_tensor_f32(x), rows, buf, &dr);
    if (!st) st = d_prob(g, nota_tensor_f32(s), rows, buf, &df);
    if (!st) {
        double *sx = mx + d, *ms = mx + 2 * d, *ss = mx + 3 * d, gap = 0, ratio = 0;
        int64_t varying = 0;
        moments(nota_tensor_f32(x), rows, d, mx, sx);
        moments(nota_tensor_f32(s), rows, d, ms, ss);
        for (int64_t j = 0; j < d; j++) {
            gap += fabs(ms[j] - mx[j]) / (sx[j] > 0 ? sx[j] : 1.0);
            if (sx[j] > 0) {
                ratio += fabs(log((ss[j] > 1e-30 ? ss[j] : 1e-30) / sx[j]));
                varying++;
            }
        }
        put(out, cap, n, "mean_gap_sd", gap / (double)d);
        put(out, cap, n, "sd_log_ratio", varying ? ratio / (double)varying : 0.0);
        put(out, cap, n, "d_real", dr);
        put(out, cap, n, "d_fake", df);
    }
    nota_tensor_free(s);
    free(z);
    free(buf);
    free(mx);
    return st;
}

nota_status gan_save(const gan *g, nota_modelfile *mf) {
    nota_status st = gan_fitted(g, "save");
    if (!st) st = lat_items_save(&g->items, mf, "gan");
    if (!st) st = nota_nn_net_save(g->gen, mf, "generator.");
    if (!st) st = nota_nn_net_save(g->disc, mf, "discriminator.");
    return st;
}

nota_status gan_load(const nota_modelfile *mf, gan **out) {
    nota_status st = gan_new(nota_modelfile_config(mf), out);
    if (st) return st;
    gan *g = *out;
    st = lat_items_load(&g->items, mf, "gan");
    int64_t d = g->items.d;
    if (!st)
        st = lat_mlp_check_file(mf, "generator.", g->latent, g->hidden, g->n_hidden, true, d, true,
                                "gan");
    if (!st)
        st = lat_mlp_check_file(mf, "discriminator.", d, g->hidden, g->n_hidden, false, 1, true,
                                "gan");
    if (!st) {
        st = gan_build(g, 0);
        if (!st) st = nota_nn_net_load(g->gen, mf, "generator.");
        if (!st) st = nota_nn_net_load(g->disc, mf, "discriminator.");
        if (st) nota_error_prefix(st, "gan model: ");
    }
    if (st) {
        gan_free(g);
        *out = NULL;
    }
    return st;
}

int gan_data_shape(const gan *g, int64_t shape[NOTA_MAX_DIMS]) {
    if (!g->gen) return 0;
    memcpy(shape, g->items.item_shape, (size_t)g->items.item_ndim * sizeof(int64_t));
    return g->items.item_ndim;
}

int gan_code_shape(const gan *g, int64_t shape[NOTA_MAX_DIMS]) {
    shape[0] = g->latent;
    return 1;
}
