/* The scatter model's pieces (internal to the plugin).
 *
 * pca.c: PCA of scattering vectors, accumulated over chunks (the scattering
 * of a whole training set, 60000 × 3969 floats for Fashion-MNIST, is never
 * held at once), whitened to unit variance.
 * decoder.c: the convolutional decoder from whitened codes to images, its
 * training (L1, Adam, early stopping) and its reconstruction metrics.
 * model.c: the plugin functions that tie them to the scattering transform.
 */
#ifndef SCATTER_MODEL_H
#define SCATTER_MODEL_H

#include "nota/nn.h"
#include "nota/nota.h"
#include "scatter.h"

#define SCATTER_VERSION 1

/* ------------------------------------------------------------------ PCA */

typedef struct scat_pca {
    int64_t D, k;
    float *mean;   /* D */
    float *whiten; /* k × D: row i = v_i / sqrt(λ_i) */
    float *eig;    /* k eigenvalues λ_i, descending */
} scat_pca;

typedef struct scat_pca_acc {
    int64_t D, n;
    double *shift; /* D: the first chunk's mean, subtracted before accumulating */
    double *sum;   /* D: Σ (s − shift) */
    double *gram;  /* D × D: Σ (s − shift)(s − shift)^T */
    double *rows;  /* chunk buffer */
    int64_t cap;   /* rows the buffer holds */
} scat_pca_acc;

nota_status scat_pca_acc_init(scat_pca_acc *a, int64_t D, int64_t chunk);
/* Add m rows (m ≤ chunk) of D floats. */
nota_status scat_pca_acc_add(scat_pca_acc *a, const float *rows, int64_t m);
void scat_pca_acc_release(scat_pca_acc *a);
/* Eigendecomposition of the covariance; keeps min(k_max, numerical rank)
 * components (eigenvalues above 1e-9 of the largest). */
nota_status scat_pca_finish(const scat_pca_acc *a, int64_t k_max, scat_pca *out);
/* z (m × k) = (s − mean) W^T for s (m × D); `tmp` holds m × D floats. */
void scat_pca_encode(const scat_pca *p, const float *s, int64_t m, float *tmp, float *z);
void scat_pca_release(scat_pca *p);

/* -------------------------------------------------------------- decoder */

/* Architecture: Linear(k → c0·h·w) → reshape (c0, h, w) → BN → ReLU, then J
 * stages [bilinear ×2, 3×3 conv c(s−1) → c(s), BN, ReLU], then a 3×3 conv to
 * C channels and tanh; h = H / 2^J, w = W / 2^J. am128: the same with 7×7
 * convs (reflect padding 3), J = 5 stages from H/32 (4×4 for 128×128) and a
 * BN after the last conv too. */
typedef struct scat_arch {
    int64_t k, C, H, W;
    int J;      /* upsampling stages: the scattering J (conv), 5 (am128) */
    bool am128; /* Angles & Mallat's generator: 7×7 convs, reflect padding, no
                 * biases, BN (eps 1e-3, momentum 0.9) after every conv */
    int64_t ch[SCAT_MAX_J + 1];
} scat_arch;

/* "auto" → c(s) = 32·2^(J−s); else J+1 comma-separated sizes in 1..4096. */
nota_status scat_arch_channels(scat_arch *a, const char *text);
nota_status scat_dec_build(const scat_arch *a, uint64_t seed, nota_nn_net **out);
/* Before building from a file's config: every weight tensor the net would
 * have must be in the file with the right shape (a hostile config cannot
 * make the loader allocate more than the file holds). */
nota_status scat_dec_check_file(const scat_arch *a, const nota_modelfile *mf);

/* Rows idx[0..n) (or 0..n−1 if idx is NULL) of codes z (· × k) and images x
 * (· × C·H·W, in [0, 256)). */
typedef struct scat_rows {
    const float *z, *x;
    const int64_t *idx;
    int64_t n;
} scat_rows;

typedef struct scat_train_opts {
    double lr;
    int64_t batch, epochs, patience;
} scat_train_opts;

/* Train on `tr`, early-stopping on `va` (va.n = 0: no validation, all
 * epochs). Reports progress "scatter epoch" with train / valid L1 and PSNR. */
nota_status scat_dec_train(nota_nn_net *net, const scat_arch *a, const scat_rows *tr,
                           const scat_rows *va, const scat_train_opts *o, uint64_t seed,
                           const nota_host *host);
/* Reconstruction metrics in eval mode: mean |x̂ − x| and PSNR, both for
 * images scaled to [0, 1] (x / 256). */
nota_status scat_dec_metrics(nota_nn_net *net, const scat_arch *a, const scat_rows *r, double *l1,
                             double *psnr);
/* Images (n, C, H, W) in [0, 256) from codes (n × k), eval mode. */
nota_status scat_dec_decode(nota_nn_net *net, const scat_arch *a, const float *z, int64_t n,
                            nota_tensor **out);

/* ------------------------------------------------------- plugin functions */

/* A scatter model (model.c, model_io.c). */
struct nota_model {
    nota_config *cfg;
    int J, L;
    double shift, scale;
    scat_cache cache;
    bool fitted;
    scat_arch arch;
    scat_pca pca;
    nota_nn_net *net;
};

nota_status scatter_create(const nota_config *cfg, const nota_host *host, nota_model **out);
nota_status scatter_fit(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                        const nota_host *host);
nota_status scatter_sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                           nota_tensor **out);
nota_status scatter_encode(nota_model *m, const nota_tensor *x, const nota_host *host,
                           nota_tensor **out);
nota_status scatter_decode(nota_model *m, const nota_tensor *z, const nota_host *host,
                           nota_tensor **out);
nota_status scatter_eval(nota_model *m, const nota_tensor *x, const nota_host *host,
                         nota_metric *out, size_t cap, size_t *n);
nota_status scatter_save(const nota_model *m, nota_modelfile *mf);
nota_status scatter_load(const nota_modelfile *mf, const nota_host *host, nota_model **out);
void scatter_destroy(nota_model *m);
int scatter_data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]);
int scatter_code_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]);

/* scatter.c: the option table, and the scattering geometry of a config. */
extern const nota_option scatter_options[];
/* am128 needs sides that are multiples of 32 and at least 64 (reflect
 * padding of 3 after the first upsampling); conv has no constraint beyond
 * the scattering's. */
nota_status scatter_check_size(const scat_arch *a, int64_t H, int64_t W);
nota_status scatter_geometry(const nota_config *cfg, int *J, int *L, double *shift, double *scale);
/* The fft option (auto when the config has none). */
nota_status scatter_method(const nota_config *cfg, scat_method *out);

#endif
