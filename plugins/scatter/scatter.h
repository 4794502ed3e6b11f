/* The scatter plugin's internal interfaces.
 *
 * filters.c builds Kymatio's Scattering2D filter bank for one padded grid
 * (double precision, stored as f32); transform.c (kissfft) and
 * transform_dft.c (DFT matrices as GEMMs, the default for small images) run
 * the order-2 transform over a batch of images on several threads; scatter.c is the
 * plugin boundary; model.c + decoder.c are the fitted model (scattering →
 * whitened PCA codes → convolutional decoder).
 *
 * Geometry (Kymatio's): an H×W image is reflect-padded to Mp×Np with
 * Mp = ((H + 2^J) / 2^J + 1)·2^J, and level r of the transform works on the
 * (Mp/2^r)×(Np/2^r) grid. Outputs are (H/2^J)×(W/2^J) after dropping one
 * border sample of the level-J grid on each side.
 */
#ifndef SCATTER_H
#define SCATTER_H

#include <stdbool.h>
#include <stdint.h>

#include "nota/nota.h"

#define SCAT_MAX_J 8
#define SCAT_MAX_L 32

/* How scat_run computes its 2-D transforms (the fft option). */
typedef enum { SCAT_AUTO, SCAT_DFT, SCAT_KISSFFT } scat_method;

typedef struct scat_bank {
    scat_method method; /* set by scat_cache_get from its cache */
    int64_t H, W;       /* image size */
    int64_t Mp, Np;     /* padded size */
    int J, L;
    int64_t pad_top, pad_left;
    /* psi[n] for n = j·L + t (t the angle index): levels res = 0 ..
     * psi_levels(j) - 1, each (Mp >> res)·(Np >> res) f32, real Fourier
     * multipliers in FFT order. */
    float *psi[SCAT_MAX_J * SCAT_MAX_L][SCAT_MAX_J];
    /* phi levels 0 .. J-1, same layout. */
    float *phi[SCAT_MAX_J];
} scat_bank;

/* Output channels per input channel: 1 + J·L + L²·J(J−1)/2. */
int64_t scat_channels(int J, int L);
/* How many resolutions Kymatio keeps of psi at scale j: min(j+1, max(J-1, 1)). */
int scat_psi_levels(int j, int J);
/* Kymatio's padded size for one side: ((n + 2^J) / 2^J + 1)·2^J. */
int64_t scat_padded(int64_t n, int J);

/* Filter bank for H×W images. J in 1..SCAT_MAX_J, L in 1..SCAT_MAX_L, H and
 * W >= 2^J (so the output has at least one sample per side); NOTA_EINVAL
 * naming the bad value otherwise. Free with scat_bank_free. */
nota_status scat_bank_new(int64_t H, int64_t W, int J, int L, scat_bank **out);
void scat_bank_free(scat_bank *b);

/* Scattering of n_img H×W f32 images (each image one channel) into out,
 * n_img × K × (H>>J) × (W>>J), K = scat_channels(J, L). Runs on
 * host->threads threads (host may be NULL: one thread); polls cancellation
 * and reports progress under `stage` when host is given. */
nota_status scat_run(const scat_bank *b, const float *x, int64_t n_img, float *out,
                     const nota_host *host, const char *stage);
/* The two implementations scat_run chooses between by b->method: DFT
 * matrices and GEMMs (transform_dft.c), or kissfft (transform.c); SCAT_AUTO
 * takes the DFT when both padded sides are at most SCAT_DFT_MAX. Same
 * contract as scat_run. */
#define SCAT_DFT_MAX 80
bool scat_dft_applies(const scat_bank *b);
nota_status scat_run_dft(const scat_bank *b, const float *x, int64_t n_img, float *out,
                         const nota_host *host, const char *stage);
nota_status scat_run_fft(const scat_bank *b, const float *x, int64_t n_img, float *out,
                         const nota_host *host, const char *stage);

/* One way to compute the transform of a chunk of images (transform.c's
 * kissfft engine, transform_dft.c's DFT matrices), run by scat_drive: each
 * worker makes its workspace with work_new (NULL: out of memory) and calls
 * run on chunks of at most `chunk` consecutive images; `shared` is read-only
 * data of the call (the DFT matrices). */
typedef struct scat_engine {
    const char *name; /* in the allocation error: "FFT" or "DFT" */
    void *(*work_new)(const scat_bank *bk);
    void (*work_free)(void *w, const scat_bank *bk);
    void (*run)(void *w, const scat_bank *bk, const void *shared, const float *x, int64_t n,
                float *out);
} scat_engine;

/* Chunks of `chunk` images at fixed offsets over host->threads workers, with
 * progress under `stage` and cancellation (scat_run's contract). */
nota_status scat_drive(const scat_engine *eng, const void *shared, const scat_bank *b,
                       const float *x, int64_t n_img, int64_t chunk, float *out,
                       const nota_host *host, const char *stage);

/* Reflect index i into 0..n-1 without repeating the edge (NumPy "reflect"). */
static inline int64_t scat_reflect(int64_t i, int64_t n) {
    if (n == 1) return 0;
    int64_t p = 2 * (n - 1);
    i %= p;
    if (i < 0) i += p;
    return i < n ? i : p - i;
}

/* The cached bank for (H, W, J, L): built on first use, reused while the
 * shape stays the same (one cache per scat_cache object). */
typedef struct scat_cache {
    scat_bank *bank;
    scat_method method; /* given to the bank on every get */
} scat_cache;
nota_status scat_cache_get(scat_cache *c, int64_t H, int64_t W, int J, int L,
                           const scat_bank **out);
void scat_cache_clear(scat_cache *c);

/* x f32 (N, C, H, W) (or (N, H, W): C = 1) → *out f32 (N, C·K, H>>J, W>>J),
 * channel c·K + k. Checks the shape and finiteness of x with messages naming
 * `what`. */
nota_status scat_transform_tensor(scat_cache *c, int J, int L, const nota_tensor *x,
                                  const char *what, const nota_host *host, nota_tensor **out);

#endif
