/* Variational auto-encoder on vectors: the latent plugin's kind `vae`.
 * vae.c builds and fits it; vae_use.c samples, encodes, decodes, evaluates,
 * saves and loads. Internal to the plugin. */
#ifndef LATENT_VAE_H
#define LATENT_VAE_H

#include "nnutil.h"

/* The Gaussian decoder's log-variance (network units) is clamped here so a
 * constant column cannot drive the density to infinity. */
#define VAE_LOGVAR_MIN (-9.210340371976182) /* log(1e-4) */

typedef struct vae {
    /* options */
    int64_t latent, hidden[LAT_MAX_HIDDEN];
    int n_hidden;
    double beta, lr, valid_frac;
    bool bernoulli, sample_noise;
    int64_t batch, epochs, patience, iw_samples, warmup;
    /* fitted state (nets NULL until fit or load) */
    lat_items items;
    nota_nn_net *enc;    /* d → … → 2·latent (mu | logvar) */
    nota_nn_net *dec;    /* latent → … → d (mean, or Bernoulli logits) */
    nota_nn_net *logvar; /* Gaussian decoder only: Linear(1, d) fed ones = per-column log σ² */
} vae;

nota_status vae_new(const nota_config *cfg, vae **out);
void vae_free(vae *v);
nota_status vae_fit(vae *v, const nota_tensor *train, const nota_tensor *valid,
                    const nota_host *host);
nota_status vae_sample(vae *v, int64_t n, double temperature, const nota_host *host,
                       nota_tensor **out);
nota_status vae_encode(vae *v, const nota_tensor *x, nota_tensor **out);
nota_status vae_decode(vae *v, const nota_tensor *z, nota_tensor **out);
nota_status vae_log_prob(vae *v, const nota_tensor *x, const nota_host *host, nota_tensor **out);
nota_status vae_eval(vae *v, const nota_tensor *x, const nota_host *host, nota_metric *out,
                     size_t cap, size_t *n);
nota_status vae_save(const vae *v, nota_modelfile *mf);
nota_status vae_load(const nota_modelfile *mf, vae **out);
int vae_data_shape(const vae *v, int64_t shape[NOTA_MAX_DIMS]);
int vae_code_shape(const vae *v, int64_t shape[NOTA_MAX_DIMS]);

/* Internal, shared by vae.c and vae_use.c. */
nota_status vae_build(vae *v, uint64_t seed);
void vae_release(vae *v);
/* Negative ELBO terms over rows of x (data units in, network units inside):
 * sums over the rows of the reconstruction −log p(x|z) (one z per row, noise
 * from (seed, stream)) and of KL(q(z|x) || p(z)), in network units. Rows are
 * idx[0..n) of x, or 0..n−1 when idx is NULL. No gradients. */
nota_status vae_elbo_terms(vae *v, const float *x, const int64_t *idx, int64_t n, uint64_t seed,
                           uint64_t stream, const nota_host *host, double *rec, double *kl);

#endif
