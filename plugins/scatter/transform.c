/* The order-2 scattering transform of a batch of images, Kymatio's
 * scattering2d step for step, with kissfft (f32).
 *
 * Per image: reflect-pad, real 2-D FFT (expanded to the full spectrum, since
 * the band-pass filters are one-sided and their products complex); order 0
 * is the low-pass product folded to level J; each band-pass ψ(j1, θ1) gives
 * U1 = |ifft(fold(X·ψ, 2^j1))|, back to Fourier once and reused by its
 * low-pass output and by every ψ(j2 > j1, θ2) of order 2. "fold by k" is
 * Kymatio's subsample_fourier: the mean of the k×k aliased copies of the
 * spectrum, i.e. keeping every k-th sample in space. The last inverse FFT
 * runs on the small level-J grid (odd sizes included: kissfft does radix 2,
 * 3, 4, 5 and generic factors).
 *
 * Images are independent: workers take chunks of them from an atomic
 * counter, each with its own FFT plans and buffers (kissfft plans carry
 * scratch space, so they are not shared between threads).
 */
#include <kiss_fft.h>
#include <kiss_fftr.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "scatter.h"

typedef struct work {
    kiss_fftr_cfg rowr[SCAT_MAX_J];                          /* real forward rows, levels < J */
    kiss_fft_cfg colf[SCAT_MAX_J];                           /* complex forward columns */
    kiss_fft_cfg rowi[SCAT_MAX_J + 1], coli[SCAT_MAX_J + 1]; /* complex inverse, levels <= J */
    float *real;                                             /* Mp·Np */
    kiss_fft_cpx *half, *u0, *u1, *u2, *a, *b, *col;
} work;

static void work_free(work *w, int J) {
    if (!w) return;
    for (int r = 0; r < J; r++)
        kiss_fftr_free(w->rowr[r]), kiss_fft_free(w->colf[r]);
    for (int r = 0; r <= J; r++)
        kiss_fft_free(w->rowi[r]), kiss_fft_free(w->coli[r]);
    free(w->real), free(w->half), free(w->u0), free(w->u1), free(w->u2), free(w->a), free(w->b);
    free(w->col);
    free(w);
}

static work *work_new(const scat_bank *bk) {
    work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    size_t mn = (size_t)(bk->Mp * bk->Np), c = sizeof(kiss_fft_cpx);
    bool ok = (w->real = malloc(mn * sizeof(float))) && (w->half = malloc(mn * c)) &&
              (w->u0 = malloc(mn * c)) && (w->u1 = malloc(mn * c)) && (w->u2 = malloc(mn * c)) &&
              (w->a = malloc(mn * c)) && (w->b = malloc(mn * c)) &&
              (w->col = malloc((size_t)bk->Mp * c));
    for (int r = 0; ok && r <= bk->J; r++) {
        int m = (int)(bk->Mp >> r), n = (int)(bk->Np >> r);
        if (r < bk->J)
            ok = (w->rowr[r] = kiss_fftr_alloc(n, 0, NULL, NULL)) &&
                 (w->colf[r] = kiss_fft_alloc(m, 0, NULL, NULL));
        if (ok)
            ok = (w->rowi[r] = kiss_fft_alloc(n, 1, NULL, NULL)) &&
                 (w->coli[r] = kiss_fft_alloc(m, 1, NULL, NULL));
    }
    if (!ok) {
        work_free(w, bk->J);
        return NULL;
    }
    return w;
}

/* 2-D transforms as 1-D kissfft passes over rows, then columns (kissfft's
 * own n-d real transform refuses grids of 54×54 and up in Debian's 131.1.0,
 * and 1-D plans are all this needs). Real forward on level r: in (m × n) →
 * half (m × (n/2 + 1)). */
static void fwd_real(work *w, int r, int64_t m, int64_t n, const float *in, kiss_fft_cpx *half) {
    int64_t h = n / 2 + 1;
    for (int64_t i = 0; i < m; i++)
        kiss_fftr(w->rowr[r], in + i * n, half + i * h);
    for (int64_t v = 0; v < h; v++) {
        kiss_fft_stride(w->colf[r], half + v, w->col, (int)h);
        for (int64_t i = 0; i < m; i++)
            half[i * h + v] = w->col[i];
    }
}

/* Complex inverse (unnormalised) on level r: in (m × n) → out (m × n). */
static void inv_cpx(work *w, int r, int64_t m, int64_t n, const kiss_fft_cpx *in,
                    kiss_fft_cpx *out) {
    for (int64_t i = 0; i < m; i++)
        kiss_fft(w->rowi[r], in + i * n, out + i * n);
    for (int64_t v = 0; v < n; v++) {
        kiss_fft_stride(w->coli[r], out + v, w->col, (int)n);
        for (int64_t i = 0; i < m; i++)
            out[i * n + v] = w->col[i];
    }
}

/* Full spectrum of a real (m, n) signal from kissfft's m × (n/2+1) half. */
static void expand(const kiss_fft_cpx *half, int64_t m, int64_t n, kiss_fft_cpx *full) {
    int64_t h = n / 2 + 1;
    for (int64_t u = 0; u < m; u++) {
        const kiss_fft_cpx *src = half + u * h, *mir = half + ((m - u) % m) * h;
        kiss_fft_cpx *dst = full + u * n;
        for (int64_t v = 0; v < h; v++)
            dst[v] = src[v];
        for (int64_t v = h; v < n; v++) {
            dst[v].r = mir[n - v].r;
            dst[v].i = -mir[n - v].i;
        }
    }
}

/* out (m/k, n/k) = mean over the k×k aliases of X·F, X and F (m, n). */
static void mulfold(const kiss_fft_cpx *X, const float *F, int64_t m, int64_t n, int64_t k,
                    kiss_fft_cpx *out) {
    int64_t mo = m / k, no = n / k;
    float s = 1.0f / (float)(k * k);
    memset(out, 0, (size_t)(mo * no) * sizeof *out);
    for (int64_t u = 0; u < m; u++) {
        kiss_fft_cpx *o = out + (u % mo) * no;
        for (int64_t v0 = 0; v0 < n; v0 += no) {
            const kiss_fft_cpx *x = X + u * n + v0;
            const float *f = F + u * n + v0;
            for (int64_t v = 0; v < no; v++) {
                o[v].r += x[v].r * f[v];
                o[v].i += x[v].i * f[v];
            }
        }
    }
    if (k > 1)
        for (int64_t i = 0; i < mo * no; i++)
            out[i].r *= s, out[i].i *= s;
}

/* Low-pass output of the level-r spectrum X into one output channel. */
static void lowpass(const scat_bank *bk, work *w, const kiss_fft_cpx *X, int r, float *dst) {
    int64_t m = bk->Mp >> r, n = bk->Np >> r, mJ = bk->Mp >> bk->J, nJ = bk->Np >> bk->J;
    mulfold(X, bk->phi[r], m, n, (int64_t)1 << (bk->J - r), w->a);
    inv_cpx(w, bk->J, mJ, nJ, w->a, w->b);
    float s = 1.0f / (float)(mJ * nJ);
    int64_t oh = mJ - 2, ow = nJ - 2;
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++)
            dst[i * ow + j] = w->b[(i + 1) * nJ + j + 1].r * s;
}

/* U = fft(|ifft(fold(X·F, 2^(j - r)))|) on level j, X on level r. */
static void band(const scat_bank *bk, work *w, const kiss_fft_cpx *X, const float *F, int r, int j,
                 kiss_fft_cpx *U) {
    int64_t m = bk->Mp >> r, n = bk->Np >> r, mj = bk->Mp >> j, nj = bk->Np >> j;
    mulfold(X, F, m, n, (int64_t)1 << (j - r), w->a);
    inv_cpx(w, j, mj, nj, w->a, w->b);
    float s = 1.0f / (float)(mj * nj);
    for (int64_t i = 0; i < mj * nj; i++)
        w->real[i] = sqrtf(w->b[i].r * w->b[i].r + w->b[i].i * w->b[i].i) * s;
    fwd_real(w, j, mj, nj, w->real, w->half);
    expand(w->half, mj, nj, U);
}

static void one_image(const scat_bank *bk, work *w, const float *x, float *out) {
    int64_t M = bk->Mp, N = bk->Np, H = bk->H, W = bk->W;
    for (int64_t i = 0; i < M; i++) {
        const float *row = x + scat_reflect(i - bk->pad_top, H) * W;
        for (int64_t j = 0; j < N; j++)
            w->real[i * N + j] = row[scat_reflect(j - bk->pad_left, W)];
    }
    fwd_real(w, 0, M, N, w->real, w->half);
    expand(w->half, M, N, w->u0);
    int J = bk->J, L = bk->L;
    int64_t plane = (H >> J) * (W >> J), next2 = 1 + (int64_t)J * L;
    lowpass(bk, w, w->u0, 0, out);
    for (int j1 = 0; j1 < J; j1++)
        for (int t1 = 0; t1 < L; t1++) {
            int n1 = j1 * L + t1;
            band(bk, w, w->u0, bk->psi[n1][0], 0, j1, w->u1);
            lowpass(bk, w, w->u1, j1, out + (1 + n1) * plane);
            for (int j2 = j1 + 1; j2 < J; j2++)
                for (int t2 = 0; t2 < L; t2++) {
                    band(bk, w, w->u1, bk->psi[j2 * L + t2][j1], j1, j2, w->u2);
                    lowpass(bk, w, w->u2, j2, out + next2++ * plane);
                }
        }
}

/* The job both engines share: workers take chunks of images from an atomic
 * counter, each with its own workspace from the engine. */
typedef struct job {
    const scat_engine *eng;
    const void *shared;
    const scat_bank *bk;
    const float *x;
    float *out;
    int64_t n, chunk;
    const nota_host *host;
    const char *stage;
    atomic_llong next, done;
    atomic_int failed; /* 1: out of memory, 2: cancelled */
} job;

static void *worker(void *arg) {
    job *jb = arg;
    const scat_bank *bk = jb->bk;
    void *w = jb->eng->work_new(bk);
    if (!w) {
        atomic_store(&jb->failed, 1);
        return NULL;
    }
    int64_t in_sz = bk->H * bk->W;
    int64_t out_sz = scat_channels(bk->J, bk->L) * (bk->H >> bk->J) * (bk->W >> bk->J);
    for (;;) {
        if (atomic_load(&jb->failed)) break;
        if (jb->host && nota_cancelled(jb->host)) {
            atomic_store(&jb->failed, 2);
            break;
        }
        int64_t b = (int64_t)atomic_fetch_add(&jb->next, (long long)jb->chunk);
        if (b >= jb->n) break;
        int64_t e = b + jb->chunk < jb->n ? b + jb->chunk : jb->n;
        jb->eng->run(w, bk, jb->shared, jb->x + b * in_sz, e - b, jb->out + b * out_sz);
        long long d = atomic_fetch_add(&jb->done, (long long)(e - b)) + (e - b);
        if (jb->host && jb->stage) nota_progress(jb->host, jb->stage, (double)d, (double)jb->n, "");
    }
    jb->eng->work_free(w, bk);
    return NULL;
}

nota_status scat_drive(const scat_engine *eng, const void *shared, const scat_bank *b,
                       const float *x, int64_t n_img, int64_t chunk, float *out,
                       const nota_host *host, const char *stage) {
    if (n_img <= 0) return NOTA_OK;
    int threads = host && host->threads > 1 ? host->threads : 1;
    if (threads > 64) threads = 64;
    if (threads > (n_img + chunk - 1) / chunk) threads = (int)((n_img + chunk - 1) / chunk);
    job jb = {.eng = eng,
              .shared = shared,
              .bk = b,
              .x = x,
              .out = out,
              .n = n_img,
              .chunk = chunk,
              .host = host,
              .stage = stage};
    atomic_init(&jb.next, 0);
    atomic_init(&jb.done, 0);
    atomic_init(&jb.failed, 0);
    pthread_t tid[64];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, worker, &jb) != 0) break; /* run on fewer */
        started = t;
    }
    worker(&jb);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    int f = atomic_load(&jb.failed);
    if (f == 2) return nota_error(NOTA_ECANCELED, "scatter: cancelled");
    if (f == 1)
        return nota_error(NOTA_ENOMEM, "scatter: %s workspace allocation failed (%lld×%lld)",
                          eng->name, (long long)b->Mp, (long long)b->Np);
    return NOTA_OK;
}

static void *fft_work_new(const scat_bank *bk) { return work_new(bk); }
static void fft_work_free(void *w, const scat_bank *bk) { work_free(w, bk->J); }
static void fft_run(void *w, const scat_bank *bk, const void *shared, const float *x, int64_t n,
                    float *out) {
    int64_t in_sz = bk->H * bk->W;
    int64_t out_sz = scat_channels(bk->J, bk->L) * (bk->H >> bk->J) * (bk->W >> bk->J);
    for (int64_t i = 0; i < n; i++)
        one_image(bk, w, x + i * in_sz, out + i * out_sz);
}

static const scat_engine fft_engine = {"FFT", fft_work_new, fft_work_free, fft_run};

nota_status scat_run(const scat_bank *b, const float *x, int64_t n_img, float *out,
                     const nota_host *host, const char *stage) {
    if (b->method == SCAT_DFT || (b->method == SCAT_AUTO && scat_dft_applies(b)))
        return scat_run_dft(b, x, n_img, out, host, stage);
    return scat_run_fft(b, x, n_img, out, host, stage);
}

nota_status scat_run_fft(const scat_bank *b, const float *x, int64_t n_img, float *out,
                         const nota_host *host, const char *stage) {
    if (n_img <= 0) return NOTA_OK;
    int threads = host && host->threads > 1 ? host->threads : 1;
    int64_t chunk = n_img / (8 * threads) > 1 ? n_img / (8 * threads) : 1;
    if (chunk > 256) chunk = 256;
    return scat_drive(&fft_engine, NULL, b, x, n_img, chunk, out, host, stage);
}

nota_status scat_cache_get(scat_cache *c, int64_t H, int64_t W, int J, int L,
                           const scat_bank **out) {
    scat_bank *b = c->bank;
    if (!b || b->H != H || b->W != W || b->J != J || b->L != L) {
        scat_cache_clear(c);
        nota_status st = scat_bank_new(H, W, J, L, &c->bank);
        if (st) return st;
    }
    c->bank->method = c->method;
    *out = c->bank;
    return NOTA_OK;
}

void scat_cache_clear(scat_cache *c) {
    scat_bank_free(c->bank);
    c->bank = NULL;
}

nota_status scat_transform_tensor(scat_cache *c, int J, int L, const nota_tensor *x,
                                  const char *what, const nota_host *host, nota_tensor **out) {
    *out = NULL;
    char buf[96];
    if (!x || x->dtype != NOTA_F32 || x->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "scatter: %s must be an f32 CPU tensor", what);
    if (x->ndim != 3 && x->ndim != 4)
        return nota_error(NOTA_ESHAPE,
                          "scatter: %s has shape %s, expected (N, C, H, W) or (N, H, W)", what,
                          nota_shape_str(x->ndim, x->shape, buf, sizeof buf));
    int64_t N = x->shape[0], C = x->ndim == 4 ? x->shape[1] : 1;
    int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    nota_status st = nota_tensor_check_finite(x, what);
    if (st) return nota_error_prefix(st, "scatter: ");
    const scat_bank *b;
    st = scat_cache_get(c, H, W, J, L, &b);
    if (st) return st;
    int64_t shape[4] = {N, C * scat_channels(J, L), H >> J, W >> J};
    st = nota_tensor_new(NOTA_F32, 4, shape, out);
    if (st) return st;
    st = scat_run(b, nota_tensor_f32(x), N * C, nota_tensor_f32(*out), host, "scatter");
    if (st) {
        nota_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
