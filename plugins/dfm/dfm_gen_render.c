/* Batched rendering of per-image Fourier coordinate networks (dfm_gen.h).
 *
 * Every image has its own coefficients, so the batch is not one GEMM; each
 * image is a chain of small GEMMs over its P = H·W pixels, and images are
 * split over worker threads, each with a workspace for one image. Loss and
 * backward of an image depend on that image alone, so a thread renders,
 * scores and back-propagates an image in one pass while its features are
 * still in cache.
 *
 * Layout: feature-major (row = one feature or unit, P contiguous pixels), so
 * every inner loop runs along pixels and vectorises. Features use
 * dfm_net.c's trick: m sincos per pixel and angle addition for the 2^m
 * cos/sin(2π k·x) (C_{b+q} = C_q c_j − S_q s_j, S_{b+q} = S_q c_j + C_q s_j).
 * Layer i: y (out, P) = Wᵀ Φ (+ x); backward dW = Φ Gᵀ, dΦ = W G and
 * dx_j = 2π Σ_{k: k_j = 1} (−dC_k S_k + dS_k C_k) (+ G on residual layers),
 * the last two fused per feature row so dΦ is never stored. The first
 * layer's features depend on the pixel positions only and are shared.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_gen.h"

#define TWO_PI_F 6.28318530717958647692f
#define MAX_THREADS 64

typedef struct workspace {
    float *x[DFM_MAX_DEPTH + 1]; /* x[i] (in_i, P) for i >= 1; x[depth] (C, P) */
    float *phi[DFM_MAX_DEPTH];   /* (2K_i, P) for i >= 1 */
    float *g, *gn, *dc, *ds, *v; /* backward scratch */
} workspace;

struct dfm_render {
    dfm_gen_arch a;
    int threads;
    float *pos;  /* pixel positions (2, P), shared */
    float *phi0; /* first layer's features (8, P), shared */
    workspace ws[MAX_THREADS];
    float *block; /* every workspace in one allocation */
};

nota_status dfm_gen_arch_init(dfm_gen_arch *a, int channels, int width, int depth, int64_t h,
                              int64_t w, float coord_scale) {
    if (width < 1 || width > DFM_MAX_WIDTH || depth < 1 || depth > DFM_MAX_DEPTH || channels < 1 ||
        channels > DFM_GEN_MAX_CHANNELS)
        return nota_error(NOTA_EINVAL,
                          "dfm: network width %d, depth %d, channels %d out of range (width 1..%d, "
                          "depth 1..%d, channels 1..%d)",
                          width, depth, channels, DFM_MAX_WIDTH, DFM_MAX_DEPTH,
                          DFM_GEN_MAX_CHANNELS);
    if (h < 1 || w < 1 || h > DFM_MAX_SIDE || w > DFM_MAX_SIDE || h * w > DFM_MAX_PIXELS)
        return nota_error(NOTA_ELIMIT,
                          "dfm: image %lldx%lld out of range (sides 1..%d, at most %lld pixels)",
                          (long long)w, (long long)h, DFM_MAX_SIDE, (long long)DFM_MAX_PIXELS);
    if (!(coord_scale > 0.0f) || !isfinite(coord_scale))
        return nota_error(NOTA_EINVAL, "dfm: coordinate scale %g must be finite and > 0",
                          (double)coord_scale);
    memset(a, 0, sizeof *a);
    a->channels = channels, a->width = width, a->depth = depth;
    a->h = h, a->w = w, a->pixels = h * w, a->coord_scale = coord_scale;
    int64_t work = 0;
    for (int i = 0; i < depth; i++) {
        a->in[i] = i == 0 ? 2 : width;
        a->out[i] = i == depth - 1 ? channels : width;
        a->off[i + 1] = a->off[i] + 2 * ((int64_t)1 << a->in[i]) * a->out[i];
        work += 2 * ((int64_t)1 << a->in[i]) + a->out[i];
    }
    work += 2 * DFM_MAX_WIDTH + 3;
    if (work * a->pixels > DFM_GEN_MAX_WORK)
        return nota_error(NOTA_ELIMIT,
                          "dfm: rendering a %lldx%lld image through width %d, depth %d needs %lld "
                          "floats of workspace per thread (limit %lld)",
                          (long long)w, (long long)h, width, depth, (long long)(work * a->pixels),
                          (long long)DFM_GEN_MAX_WORK);
    return NOTA_OK;
}

/* cos/sin(2π k·x) for the `in` rows of x into phi (2·2^in rows). */
static void fourier_rows(const float *x, int in, int64_t P, float *phi) {
    int64_t K = (int64_t)1 << in;
    float *C = phi, *S = phi + K * P;
    for (int64_t p = 0; p < P; p++)
        C[p] = 1.0f, S[p] = 0.0f;
    for (int j = 0; j < in; j++) {
        int64_t b = (int64_t)1 << j;
        /* Row b's own angle first, into C_b / S_b, then the partners. */
        float *cb = C + b * P, *sb = S + b * P;
        for (int64_t p = 0; p < P; p++) {
            float a = TWO_PI_F * x[j * P + p];
            cb[p] = cosf(a);
            sb[p] = sinf(a);
        }
        for (int64_t q = 1; q < b; q++) {
            const float *cq = C + q * P, *sq = S + q * P;
            float *co = C + (b + q) * P, *so = S + (b + q) * P;
            for (int64_t p = 0; p < P; p++) {
                co[p] = cq[p] * cb[p] - sq[p] * sb[p];
                so[p] = sq[p] * cb[p] + cq[p] * sb[p];
            }
        }
    }
}

/* y (out, P) = Wᵀ phi (+ x when residual); W (2K, out) row-major. */
static void layer_forward(const float *W, const float *phi, int64_t K2, int out, int64_t P,
                          const float *x, float *y) {
    if (x)
        memcpy(y, x, (size_t)(out * P) * sizeof(float));
    else
        memset(y, 0, (size_t)(out * P) * sizeof(float));
    for (int64_t k = 0; k < K2; k++) {
        const float *f = phi + k * P;
        for (int o = 0; o < out; o++) {
            float w = W[k * out + o];
            float *yo = y + o * P;
            for (int64_t p = 0; p < P; p++)
                yo[p] += w * f[p];
        }
    }
}

/* Σ a·b in eight lanes, so the compiler vectorises the reduction. */
static float dot(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[p + l] * b[p + l];
    float s = 0.0f;
    for (; p < n; p++)
        s += a[p] * b[p];
    for (int l = 0; l < 8; l++)
        s += acc[l];
    return s;
}

/* dW = Φ Gᵀ (overwritten); with dx: dx (in, P) = input gradient. */
static void layer_backward(const float *W, const float *phi, int in, int out, int64_t P,
                           const float *g, bool residual, workspace *ws, float *dW, float *dx) {
    int64_t K = (int64_t)1 << in, K2 = 2 * K;
    for (int64_t k = 0; k < K2; k++)
        for (int o = 0; o < out; o++)
            dW[k * out + o] = dot(phi + k * P, g + o * P, P);
    if (!dx) return;
    memset(dx, 0, (size_t)(in * P) * sizeof(float));
    float *dc = ws->dc, *ds = ws->ds, *v = ws->v;
    for (int64_t q = 1; q < K; q++) {
        memset(dc, 0, (size_t)P * sizeof(float));
        memset(ds, 0, (size_t)P * sizeof(float));
        for (int o = 0; o < out; o++) {
            float wc = W[q * out + o], wsn = W[(K + q) * out + o];
            const float *go = g + o * P;
            for (int64_t p = 0; p < P; p++) {
                dc[p] += wc * go[p];
                ds[p] += wsn * go[p];
            }
        }
        const float *C = phi + q * P, *S = phi + (K + q) * P;
        for (int64_t p = 0; p < P; p++)
            v[p] = ds[p] * C[p] - dc[p] * S[p];
        for (int j = 0; j < in; j++)
            if (q >> j & 1) {
                float *d = dx + j * P;
                for (int64_t p = 0; p < P; p++)
                    d[p] += v[p];
            }
    }
    for (int j = 0; j < in; j++)
        for (int64_t p = 0; p < P; p++)
            dx[j * P + p] = TWO_PI_F * dx[j * P + p] + (residual ? g[j * P + p] : 0.0f);
}

typedef struct job {
    dfm_render *r;
    int64_t n;
    const float *coef, *t;
    float scale, *y, *dcoef;
    double *sse;
} job;

/* Image i: forward, and loss / backward when the job has targets. */
static void one_image(const job *jb, workspace *ws, int64_t i) {
    const dfm_gen_arch *a = &jb->r->a;
    int64_t P = a->pixels, D = P * a->channels;
    const float *c = jb->coef + i * a->off[a->depth];
    for (int l = 0; l < a->depth; l++) {
        const float *phi = l == 0 ? jb->r->phi0 : ws->phi[l];
        if (l > 0) fourier_rows(ws->x[l], a->in[l], P, ws->phi[l]);
        bool res = a->in[l] == a->out[l];
        const float *xin = !res ? NULL : l == 0 ? jb->r->pos : ws->x[l];
        layer_forward(c + a->off[l], phi, 2 * ((int64_t)1 << a->in[l]), a->out[l], P, xin,
                      ws->x[l + 1]);
    }
    float *o = ws->x[a->depth];
    for (int64_t p = 0; p < D; p++)
        o[p] = tanhf(o[p]);
    if (jb->y) memcpy(jb->y + i * D, o, (size_t)D * sizeof(float));
    if (!jb->t) return;
    const float *t = jb->t + i * D;
    double s = 0.0;
    float *g = ws->g, *gn = ws->gn, two = 2.0f * jb->scale;
    for (int64_t p = 0; p < D; p++) {
        float e = o[p] - t[p];
        s += (double)e * e;
        g[p] = two * e * (1.0f - o[p] * o[p]);
    }
    jb->sse[i] = s;
    if (!jb->dcoef) return;
    float *dcoef = jb->dcoef + i * a->off[a->depth];
    for (int l = a->depth - 1; l >= 0; l--) {
        const float *phi = l == 0 ? jb->r->phi0 : ws->phi[l];
        bool res = a->in[l] == a->out[l];
        layer_backward(c + a->off[l], phi, a->in[l], a->out[l], P, g, res, ws, dcoef + a->off[l],
                       l > 0 ? gn : NULL);
        float *tmp = g;
        g = gn, gn = tmp;
    }
}

typedef struct worker {
    const job *jb;
    workspace *ws;
    int64_t lo, hi;
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    for (int64_t i = w->lo; i < w->hi; i++)
        one_image(w->jb, w->ws, i);
    return NULL;
}

nota_status dfm_render_new(const dfm_gen_arch *a, int threads, dfm_render **out) {
    *out = NULL;
    dfm_render *r = calloc(1, sizeof *r);
    if (!r) return nota_error(NOTA_ENOMEM, "dfm: cannot allocate the renderer");
    r->a = *a;
    r->threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    int64_t P = a->pixels, per = 0, maxw = a->channels > a->width ? a->channels : a->width;
    for (int l = 1; l < a->depth; l++)
        per += a->in[l] + 2 * ((int64_t)1 << a->in[l]);
    per += a->channels + 2 * maxw + 3;
    r->block = malloc((size_t)((per * r->threads + 10) * P) * sizeof(float));
    if (!r->block) {
        int t = r->threads;
        free(r);
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate rendering workspaces for %d threads",
                          t);
    }
    float *b = r->block;
    r->pos = b, b += 2 * P;
    r->phi0 = b, b += 8 * P;
    for (int t = 0; t < r->threads; t++) {
        workspace *ws = &r->ws[t];
        for (int l = 1; l < a->depth; l++) {
            ws->x[l] = b, b += a->in[l] * P;
            ws->phi[l] = b, b += 2 * ((int64_t)1 << a->in[l]) * P;
        }
        ws->x[a->depth] = b, b += a->channels * P;
        ws->g = b, b += maxw * P;
        ws->gn = b, b += maxw * P;
        ws->dc = b, b += P;
        ws->ds = b, b += P;
        ws->v = b, b += P;
    }
    float *xy = malloc((size_t)(2 * P) * sizeof(float));
    if (!xy) {
        dfm_render_free(r);
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate pixel positions");
    }
    /* dfm_coords gives (x, y) pairs, as the codec places pixels; rows here. */
    dfm_coords(a->h, a->w, a->coord_scale, 0, P, xy);
    for (int64_t p = 0; p < P; p++)
        r->pos[p] = xy[2 * p], r->pos[P + p] = xy[2 * p + 1];
    fourier_rows(r->pos, 2, P, r->phi0);
    free(xy);
    *out = r;
    return NOTA_OK;
}

void dfm_render_free(dfm_render *r) {
    if (!r) return;
    free(r->block);
    free(r);
}

nota_status dfm_render_run(dfm_render *r, int64_t n, const float *coef, const float *t, float scale,
                           float *y, double *sse, float *dcoef) {
    job jb = {r, n, coef, t, scale, y, t ? dcoef : NULL, sse};
    int64_t T = r->threads < n ? r->threads : n;
    if (T < 1) return NOTA_OK;
    worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started = 0;
    for (int64_t i = 0; i < T; i++)
        w[i] = (worker){&jb, &r->ws[i], n * i / T, n * (i + 1) / T};
    for (int64_t i = 1; i < T; i++) {
        if (pthread_create(&tid[i], NULL, run_worker, &w[i]) != 0) break;
        started++;
    }
    run_worker(&w[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
    /* Slices whose thread could not start run here, so the result is whole. */
    for (int64_t i = started + 1; i < T; i++)
        run_worker(&w[i]);
    return NOTA_OK;
}
