/* The scattering transform of small images by DFT matrices: every 2-D
 * transform of a chunk of images is two GEMMs.
 *
 * For the grids of MNIST-sized images (36×36 padded, then 18×18 and 9×9) an
 * FFT call is mostly overhead: per 28×28 image transform.c makes ~250 small
 * 2-D FFTs, and 74 % of its time was inside kissfft. Here a 2-D DFT of A
 * arrays at once is Y = S · X · T: one GEMM over all rows of all arrays
 * (X·T), one over all columns (S·(X T)), with T and S DFT matrices, so that
 * OpenBLAS does the work at GEMM speed (transform.c's Speed notes in
 * docs/scatter.md). Two facts shrink the matrices:
 *  - Kymatio's "fold by k, then inverse FFT at size n/k" is kept: the fold
 *    is done while multiplying by the filter (products_fold), and the
 *    inverse runs on the small grid (a quarter of the rows and columns for
 *    k = 2, against inverting at size n and keeping every k-th sample);
 *  - the low-pass outputs need only the real part of the (H/2^J)×(W/2^J)
 *    samples inside the dropped border.
 *
 * Layout of a batch of A complex arrays with m rows and n columns:
 * [row][array][re, im][column] (a real batch: [row][array][column]). Then
 * the row pass is one GEMM of (m·A) × (2n) by (2n) × (2n') and the column
 * pass one GEMM of (2m') × m by m × (A·2n'): its first m' rows are Re(S)·Z,
 * the next m' rows Im(S)·Z, combined by the consumer (modulus, product with
 * the next filter, or the real output). Chunks are always CHUNK images (a
 * short last one is padded) taken at fixed offsets, so every GEMM has the
 * same shape and every image the same place in its chunk whatever the
 * thread count: results are the same bits for any number of threads. The
 * same image at another place in a chunk can differ in the last bit (2^-23
 * relative; OpenBLAS's kernels treat tile lanes differently), as it would
 * through FFTs of another length.
 *
 * Used for padded grids up to SCAT_DFT_MAX on a side (the matrices' cost grows
 * as n per output sample, an FFT's as log n); larger images take kissfft.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scatter.h"

#define CHUNK 16 /* images per chunk: fixed, so results do not depend on threads */

/* DFT matrices of one bank (built per scat_run_dft call: a few KB). */
typedef struct dft_mats {
    float *fwd_row[SCAT_MAX_J], *fwd_col[SCAT_MAX_J]; /* level j, real input */
    float *inv_row[SCAT_MAX_J], *inv_col[SCAT_MAX_J]; /* level j, complex input */
    float *out_row, *out_col;                         /* level J → cropped, complex input */
} dft_mats;

static void mats_free(dft_mats *d, int J) {
    for (int r = 0; r < J; r++)
        free(d->fwd_row[r]), free(d->fwd_col[r]), free(d->inv_row[r]), free(d->inv_col[r]);
    free(d->out_row), free(d->out_col);
}

/* exp(sign·2πi·a·b/n), a·b reduced mod n first (exact twiddles). */
static void twiddle(int64_t a, int64_t b, int64_t n, int sign, double *re, double *im) {
    double t = 2.0 * M_PI * (double)((a * b) % n) / (double)n;
    *re = cos(t), *im = sign * sin(t);
}

/* Row matrix ((complex ? 2 : 1)·n_in) × (2·n_out) for column c' of the output
 * at frequency c' + off: [[Cr, Ci], [−Ci, Cr]] (a real input uses the top
 * half). */
static float *row_matrix(int64_t n_in, int64_t n_out, int64_t off, int sign, bool complex_in) {
    int64_t rows = complex_in ? 2 * n_in : n_in, cols = 2 * n_out;
    float *m = malloc((size_t)(rows * cols) * sizeof *m);
    if (!m) return NULL;
    for (int64_t c = 0; c < n_in; c++)
        for (int64_t o = 0; o < n_out; o++) {
            double re, im;
            twiddle(c, o + off, n_in, sign, &re, &im);
            m[c * cols + o] = (float)re, m[c * cols + n_out + o] = (float)im;
            if (complex_in)
                m[(n_in + c) * cols + o] = (float)-im, m[(n_in + c) * cols + n_out + o] = (float)re;
        }
    return m;
}

/* Column matrix (2·m_out) × m_in: [Re S; Im S], S[r'][r] the twiddle of r and
 * r' + off. */
static float *col_matrix(int64_t m_in, int64_t m_out, int64_t off, int sign) {
    float *m = malloc((size_t)(2 * m_out * m_in) * sizeof *m);
    if (!m) return NULL;
    for (int64_t o = 0; o < m_out; o++)
        for (int64_t r = 0; r < m_in; r++) {
            double re, im;
            twiddle(r, o + off, m_in, sign, &re, &im);
            m[o * m_in + r] = (float)re, m[(m_out + o) * m_in + r] = (float)im;
        }
    return m;
}

/* Inverse matrices are unnormalised: the products that feed them carry
 * the 1/(m·n) of the level they came from (products_fold). */
static bool mats_new(const scat_bank *bk, dft_mats *d) {
    memset(d, 0, sizeof *d);
    int J = bk->J;
    int64_t mJ = bk->Mp >> J, nJ = bk->Np >> J;
    bool ok = (d->out_row = row_matrix(nJ, nJ - 2, 1, 1, true)) &&
              (d->out_col = col_matrix(mJ, mJ - 2, 1, 1));
    for (int j = 0; j < J && ok; j++) {
        int64_t m = bk->Mp >> j, n = bk->Np >> j;
        ok = (d->fwd_row[j] = row_matrix(n, n / 2 + 1, 0, -1, false)) &&
             (d->fwd_col[j] = col_matrix(m, m, 0, -1)) &&
             (d->inv_row[j] = row_matrix(n, n, 0, 1, true)) &&
             (d->inv_col[j] = col_matrix(m, m, 0, 1));
    }
    if (!ok) mats_free(d, J);
    return ok;
}

/* Per-worker buffers, each big enough for the largest batch of any stage:
 * CHUNK·L arrays of the level-0 grid. */
typedef struct dwork {
    float *x0, *y, *z, *p, *u, *uh, *u2h;
    float *pad_in, *pad_out; /* a short last chunk, padded to CHUNK images */
} dwork;

static void dwork_free(dwork *w) {
    free(w->x0), free(w->y), free(w->z), free(w->p), free(w->u), free(w->uh), free(w->u2h);
    free(w->pad_in), free(w->pad_out);
}

static bool dwork_new(const scat_bank *bk, dwork *w) {
    size_t big = (size_t)(bk->Mp * bk->Np) * 2 * CHUNK * (size_t)bk->L, f = sizeof(float);
    memset(w, 0, sizeof *w);
    bool ok = (w->x0 = malloc(big / (size_t)bk->L * f)) && (w->y = malloc(big * f)) &&
              (w->z = malloc(big * f)) && (w->p = malloc(2 * big * f)) &&
              (w->u = malloc(big / 2 * f)) && (w->uh = malloc(big * f)) &&
              (w->u2h = malloc(big / 4 * f)) && /* order-2 spectra: level >= 1 */
              (w->pad_in = malloc((size_t)(CHUNK * bk->H * bk->W) * f)) &&
              (w->pad_out = malloc((size_t)(CHUNK * scat_channels(bk->J, bk->L) * (bk->H >> bk->J) *
                                            (bk->W >> bk->J)) *
                                   f));
    if (!ok) dwork_free(w);
    return ok;
}

/* P = colm · (X · rowm) over A arrays of m_in × n_in (complex or real) →
 * (2 m_out) × (A · 2 n_out); z is scratch. */
static void dft2(const float *x, int64_t m_in, int64_t A, int64_t n_in, bool complex_in,
                 const float *rowm, int64_t n_out, const float *colm, int64_t m_out, float *z,
                 float *p) {
    int64_t k = complex_in ? 2 * n_in : n_in, w = A * 2 * n_out;
    nota_sgemm(false, false, m_in * A, 2 * n_out, k, 1.0f, x, k, rowm, 2 * n_out, 0.0f, z,
               2 * n_out);
    nota_sgemm(false, false, 2 * m_out, w, m_in, 1.0f, colm, m_in, z, w, 0.0f, p, w);
}

/* Complex value (row o, array a, column c) of a dft2 result with m_out rows. */
#define P_RE(p, m_out, w, n, o, a, c)                                                              \
    ((p)[(o) * (w) + (a)*2 * (n) + (c)] - (p)[((m_out) + (o)) * (w) + (a)*2 * (n) + (n) + (c)])
#define P_IM(p, m_out, w, n, o, a, c)                                                              \
    ((p)[(o) * (w) + (a)*2 * (n) + (n) + (c)] + (p)[((m_out) + (o)) * (w) + (a)*2 * (n) + (c)])

/* Forward DFT of a real batch (m × n arrays) → complex batch out
 * [row][array][re, im][col]. The row pass makes only columns 0..n/2 (the
 * rest of a real signal's spectrum is their conjugate mirror,
 * X[u][v] = conj X[(m − u) mod m][n − v]), which halves both GEMMs. */
static void fwd_real(const float *x, int64_t m, int64_t A, int64_t n, const float *rowm,
                     const float *colm, float *z, float *p, float *out) {
    int64_t h = n / 2 + 1, w = A * 2 * h;
    dft2(x, m, A, n, false, rowm, h, colm, m, z, p);
    for (int64_t o = 0; o < m; o++)
        for (int64_t a = 0; a < A; a++) {
            float *d = out + (o * A + a) * 2 * n;
            for (int64_t c = 0; c < h; c++) {
                d[c] = P_RE(p, m, w, h, o, a, c);
                d[n + c] = P_IM(p, m, w, h, o, a, c);
            }
        }
    for (int64_t o = 0; o < m; o++)
        for (int64_t a = 0; a < A; a++) {
            float *d = out + (o * A + a) * 2 * n;
            const float *mir = out + (((m - o) % m) * A + a) * 2 * n;
            for (int64_t c = h; c < n; c++)
                d[c] = mir[n - c], d[n + c] = -mir[n + n - c];
        }
}

/* dft2 result → modulus, real batch [row][array][col]. */
static void modulus(const float *p, int64_t m, int64_t A, int64_t n, float *out) {
    int64_t w = A * 2 * n;
    for (int64_t o = 0; o < m; o++)
        for (int64_t a = 0; a < A; a++) {
            float *d = out + (o * A + a) * n;
            for (int64_t c = 0; c < n; c++) {
                float re = P_RE(p, m, w, n, o, a, c), im = P_IM(p, m, w, n, o, a, c);
                d[c] = sqrtf(re * re + im * im);
            }
        }
}

/* Products of complex batch x (m × n, arrays a·stride + sel for a < A) with
 * the real Fourier multipliers filt[0..F), folded by k and scaled:
 * y[u mod m/k][a·F + f][v mod n/k] = scale · Σ x·filt over the k×k aliases.
 * With scale = 1/(m·n) the unnormalised inverse DFT of y at size m/k × n/k
 * is Kymatio's ifft(subsample_fourier(x·filt, k)). */
static void products_fold(const float *x, int64_t m, int64_t n, int64_t A, int64_t stride,
                          int64_t sel, float *const *filt, int64_t F, int64_t k, float scale,
                          float *y) {
    int64_t mo = m / k, no = n / k, xa = A * stride;
    if (k == 1) { /* nothing to fold: write, don't accumulate */
        for (int64_t u = 0; u < m; u++)
            for (int64_t a = 0; a < A; a++) {
                const float *s = x + (u * xa + a * stride + sel) * 2 * n;
                for (int64_t f = 0; f < F; f++) {
                    const float *g = filt[f] + u * n;
                    float *d = y + ((u * A + a) * F + f) * 2 * n;
                    for (int64_t v = 0; v < n; v++) {
                        float gv = g[v] * scale;
                        d[v] = s[v] * gv, d[n + v] = s[n + v] * gv;
                    }
                }
            }
        return;
    }
    memset(y, 0, (size_t)(mo * A * F * 2 * no) * sizeof *y);
    for (int64_t u = 0; u < m; u++)
        for (int64_t a = 0; a < A; a++) {
            const float *s = x + (u * xa + a * stride + sel) * 2 * n;
            for (int64_t f = 0; f < F; f++) {
                const float *g = filt[f] + u * n;
                float *d = y + (((u % mo) * A + a) * F + f) * 2 * no;
                for (int64_t v0 = 0; v0 < n; v0 += no)
                    for (int64_t v = 0; v < no; v++) {
                        float gv = g[v0 + v] * scale;
                        d[v] += s[v0 + v] * gv, d[no + v] += s[n + v0 + v] * gv;
                    }
            }
        }
}

/* Low-pass outputs of a complex batch u (A arrays on level r, array a = image
 * a / per, channel ch0 + a % per) into out: fold to level J, inverse DFT of
 * the kept (H/2^J)×(W/2^J) samples, real part. */
static void lowpass_out(const scat_bank *bk, const dft_mats *d, dwork *w, const float *u, int r,
                        int64_t A, int64_t per, int64_t ch0, float *out, int64_t K) {
    int64_t m = bk->Mp >> r, n = bk->Np >> r, mJ = bk->Mp >> bk->J, nJ = bk->Np >> bk->J;
    int64_t oh = mJ - 2, ow = nJ - 2;
    float *filt[1] = {bk->phi[r]};
    products_fold(u, m, n, A, 1, 0, filt, 1, (int64_t)1 << (bk->J - r), 1.0f / (float)(m * n),
                  w->y);
    dft2(w->y, mJ, A, nJ, true, d->out_row, ow, d->out_col, oh, w->z, w->p);
    int64_t wd = A * 2 * ow, plane = oh * ow;
    for (int64_t a = 0; a < A; a++) {
        float *dst = out + ((a / per) * K + ch0 + a % per) * plane;
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                dst[i * ow + j] = P_RE(w->p, oh, wd, ow, i, a, j);
    }
}

/* uh = fft(|ifft(y)|) on level j, y the folded products (products_fold):
 * modulus into w->u, spectrum into uh. */
static void band(const scat_bank *bk, const dft_mats *d, dwork *w, int j, int64_t A, float *uh) {
    int64_t mj = bk->Mp >> j, nj = bk->Np >> j;
    dft2(w->y, mj, A, nj, true, d->inv_row[j], nj, d->inv_col[j], mj, w->z, w->p);
    modulus(w->p, mj, A, nj, w->u);
    fwd_real(w->u, mj, A, nj, d->fwd_row[j], d->fwd_col[j], w->z, w->p, uh);
}

static void one_chunk(const scat_bank *bk, const dft_mats *d, dwork *w, const float *x, int64_t B,
                      float *out) {
    int64_t M = bk->Mp, N = bk->Np, H = bk->H, W = bk->W, L = bk->L;
    int J = bk->J;
    int64_t K = scat_channels(J, L);
    /* reflect-padded images as a real batch [row][image][col] */
    for (int64_t i = 0; i < M; i++)
        for (int64_t b = 0; b < B; b++) {
            const float *row = x + (b * H + scat_reflect(i - bk->pad_top, H)) * W;
            float *dst = w->u + (i * B + b) * N;
            for (int64_t j = 0; j < N; j++)
                dst[j] = row[scat_reflect(j - bk->pad_left, W)];
        }
    fwd_real(w->u, M, B, N, d->fwd_row[0], d->fwd_col[0], w->z, w->p, w->x0);
    lowpass_out(bk, d, w, w->x0, 0, B, 1, 0, out, K);
    int64_t next2 = 1 + (int64_t)J * L;
    for (int j1 = 0; j1 < J; j1++) {
        float *filt[SCAT_MAX_L];
        for (int64_t t = 0; t < L; t++)
            filt[t] = bk->psi[j1 * L + t][0];
        products_fold(w->x0, M, N, B, 1, 0, filt, L, (int64_t)1 << j1, 1.0f / (float)(M * N), w->y);
        band(bk, d, w, j1, B * L, w->uh); /* arrays b·L + t1 on level j1 */
        lowpass_out(bk, d, w, w->uh, j1, B * L, L, 1 + j1 * L, out, K);
        int64_t mj = M >> j1, nj = N >> j1;
        for (int64_t t1 = 0; t1 < L; t1++)
            for (int j2 = j1 + 1; j2 < J; j2++) {
                for (int64_t t = 0; t < L; t++)
                    filt[t] = bk->psi[j2 * L + t][j1];
                products_fold(w->uh, mj, nj, B, L, t1, filt, L, (int64_t)1 << (j2 - j1),
                              1.0f / (float)(mj * nj), w->y); /* arrays b·L + t2 */
                band(bk, d, w, j2, B * L, w->u2h);
                lowpass_out(bk, d, w, w->u2h, j2, B * L, L, next2, out, K);
                next2 += L;
            }
    }
}

static void *dft_work_new(const scat_bank *bk) {
    dwork *w = malloc(sizeof *w);
    if (w && !dwork_new(bk, w)) {
        free(w);
        w = NULL;
    }
    return w;
}

static void dft_work_free(void *w, const scat_bank *bk) {
    if (!w) return;
    dwork_free(w);
    free(w);
}

/* n <= CHUNK images of a chunk at a fixed offset. */
static void dft_run(void *vw, const scat_bank *bk, const void *shared, const float *x, int64_t n,
                    float *out) {
    dwork *w = vw;
    const dft_mats *d = shared;
    if (n == CHUNK) {
        one_chunk(bk, d, w, x, CHUNK, out);
        return;
    }
    /* a short last chunk is padded to CHUNK images (copies of its first), so
     * that every GEMM has the same shape: OpenBLAS picks kernels by size */
    int64_t in_sz = bk->H * bk->W;
    int64_t out_sz = scat_channels(bk->J, bk->L) * (bk->H >> bk->J) * (bk->W >> bk->J);
    for (int64_t i = 0; i < CHUNK; i++)
        memcpy(w->pad_in + i * in_sz, x + (i < n ? i : 0) * in_sz, (size_t)in_sz * sizeof(float));
    one_chunk(bk, d, w, w->pad_in, CHUNK, w->pad_out);
    memcpy(out, w->pad_out, (size_t)(n * out_sz) * sizeof(float));
}

static const scat_engine dft_engine = {"DFT", dft_work_new, dft_work_free, dft_run};

bool scat_dft_applies(const scat_bank *b) { return b->Mp <= SCAT_DFT_MAX && b->Np <= SCAT_DFT_MAX; }

nota_status scat_run_dft(const scat_bank *b, const float *x, int64_t n_img, float *out,
                         const nota_host *host, const char *stage) {
    if (n_img <= 0) return NOTA_OK;
    dft_mats d;
    if (!mats_new(b, &d))
        return nota_error(NOTA_ENOMEM, "scatter: DFT matrix allocation failed (%lld×%lld)",
                          (long long)b->Mp, (long long)b->Np);
    /* the workers share the cores: each GEMM runs on its caller's thread
     * (OpenBLAS's own threads would oversubscribe them) */
    int blas = nota_get_threads();
    nota_set_threads(1);
    nota_status st = scat_drive(&dft_engine, &d, b, x, n_img, CHUNK, out, host, stage);
    nota_set_threads(blas);
    mats_free(&d, b->J);
    return st;
}
