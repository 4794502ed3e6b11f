/* Full-covariance Gaussian fitted by PCA: the latent plugin's kind
 * `gaussian`. Internal to the plugin. */
#ifndef LATENT_GAUSSIAN_H
#define LATENT_GAUSSIAN_H

#include "nota/nota.h"

typedef struct gaussian gaussian;

nota_status gaussian_new(const nota_config *cfg, gaussian **out);
void gaussian_free(gaussian *g);
nota_status gaussian_fit(gaussian *g, const nota_tensor *train, const nota_tensor *valid,
                         const nota_host *host);
nota_status gaussian_sample(gaussian *g, int64_t n, double temperature, const nota_host *host,
                            nota_tensor **out);
nota_status gaussian_encode(gaussian *g, const nota_tensor *x, nota_tensor **out);
nota_status gaussian_decode(gaussian *g, const nota_tensor *z, nota_tensor **out);
nota_status gaussian_log_prob(gaussian *g, const nota_tensor *x, const nota_host *host,
                              nota_tensor **out);
nota_status gaussian_save(const gaussian *g, nota_modelfile *mf);
nota_status gaussian_load(const nota_modelfile *mf, gaussian **out);
int gaussian_data_shape(const gaussian *g, int64_t shape[NOTA_MAX_DIMS]);
int gaussian_code_shape(const gaussian *g, int64_t shape[NOTA_MAX_DIMS]);

#endif
