/* Generative adversarial network on vectors: the latent plugin's kind `gan`.
 * Internal to the plugin. */
#ifndef LATENT_GAN_H
#define LATENT_GAN_H

#include "nnutil.h"

typedef struct gan {
    /* options */
    int64_t latent, hidden[LAT_MAX_HIDDEN];
    int n_hidden;
    int64_t batch, epochs, d_steps;
    double lr, beta1, smooth, clip;
    /* fitted state (nets NULL until fit or load) */
    lat_items items;   /* per-column standardisation */
    nota_nn_net *gen;  /* latent → …hidden reversed → d */
    nota_nn_net *disc; /* d → …hidden → 1 logit */
} gan;

nota_status gan_new(const nota_config *cfg, gan **out);
void gan_free(gan *g);
nota_status gan_fit(gan *g, const nota_tensor *train, const nota_tensor *valid,
                    const nota_host *host);
nota_status gan_sample(gan *g, int64_t n, double temperature, const nota_host *host,
                       nota_tensor **out);
/* Generator output for given noise vectors z (N, latent). */
nota_status gan_decode(gan *g, const nota_tensor *z, nota_tensor **out);
nota_status gan_eval(gan *g, const nota_tensor *x, const nota_host *host, nota_metric *out,
                     size_t cap, size_t *n);
nota_status gan_save(const gan *g, nota_modelfile *mf);
nota_status gan_load(const nota_modelfile *mf, gan **out);
int gan_data_shape(const gan *g, int64_t shape[NOTA_MAX_DIMS]);
int gan_code_shape(const gan *g, int64_t shape[NOTA_MAX_DIMS]);

/* Internal, shared by gan.c and gan_use.c. */
nota_status gan_build(gan *g, uint64_t seed);
void gan_release(gan *g);
nota_status gan_fitted(const gan *g, const char *what);
/* G(z) for n noise rows z (n × latent, borrowed) → (n, item shape), data units. */
nota_status gan_generate(gan *g, float *z, int64_t n, nota_tensor **out);

#endif
