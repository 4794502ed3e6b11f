/* The latent plugin: models of vectors and small images, used alone or as the
 * prior of another model. This file is the plugin boundary — the descriptor,
 * the option table and the dispatch on `kind`; each kind lives in its own
 * files (gaussian.c; vae.c + vae_use.c; gan.c + gan_use.c, sharing nnutil.c).
 * Operations a kind cannot do (a GAN has no encoder or density) are refused
 * with NOTA_ENOTSUP naming the kind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan.h"
#include "gaussian.h"
#include "nota/nota.h"
#include "vae.h"

#define LATENT_VERSION 1

typedef enum { KIND_GAUSSIAN, KIND_VAE, KIND_GAN } kind;
static const char *const kind_names[] = {"gaussian", "vae", "gan"};

struct nota_model {
    kind kind;
    nota_config *cfg;
    gaussian *g; /* exactly one of g, v, n is set */
    vae *v;
    gan *n;
};

static const nota_option options[] = {
    {"kind", NOTA_VAL_STRING, "gaussian",
     "model kind: gaussian (full-covariance Gaussian by PCA), vae (variational auto-encoder), "
     "gan (generative adversarial network)",
     0, 0, "gaussian|vae|gan"},
    {"k", NOTA_VAL_INT, "0",
     "gaussian: principal components kept (0 = all); the rest share one residual variance (PPCA)",
     0, 1000000, NULL},
    {"var_floor", NOTA_VAL_FLOAT, "1e-6",
     "gaussian: eigenvalue floor, as a fraction of the average variance (keeps constant columns "
     "finite)",
     0, 1, NULL},
    {"preprocess", NOTA_VAL_STRING, "none",
     "gaussian: none, or logit (8-bit images in [0, 256): y = logit(l + (1 - 2l) x / 256), "
     "Jacobian included in log_prob, as flows do)",
     0, 0, "none|logit"},
    {"logit_lambda", NOTA_VAL_FLOAT, "1e-6", "gaussian: l of the logit preprocessing", 1e-12, 0.25,
     NULL},
    {"latent", NOTA_VAL_INT, "64", "vae/gan: latent (noise) dimension H", 1, 65536, NULL},
    {"hidden", NOTA_VAL_STRING, "512,256",
     "vae/gan: hidden layer sizes of the encoder / discriminator; the decoder / generator use "
     "them reversed",
     0, 0, NULL},
    {"likelihood", NOTA_VAL_STRING, "gaussian",
     "vae: decoder likelihood (gaussian: standardised data, learned variance per column; "
     "bernoulli: data mapped to [0, 1], x/256 for images)",
     0, 0, "gaussian|bernoulli"},
    {"beta", NOTA_VAL_FLOAT, "1", "vae: weight of the KL term", 0, 1e6, NULL},
    {"lr", NOTA_VAL_FLOAT, "1e-3", "vae/gan: Adam learning rate", 0, 1, NULL},
    {"batch", NOTA_VAL_INT, "128", "vae/gan: mini-batch size", 1, 1000000, NULL},
    {"epochs", NOTA_VAL_INT, "50", "vae/gan: training epochs (vae: at most)", 1, 1000000, NULL},
    {"patience", NOTA_VAL_INT, "5",
     "vae: stop after this many epochs without a better validation loss", 1, 1000000, NULL},
    {"warmup", NOTA_VAL_INT, "10",
     "vae: epochs over which the KL weight ramps from 0 to beta (0 = none); early stopping "
     "starts after them",
     0, 1000000, NULL},
    {"valid_frac", NOTA_VAL_FLOAT, "0.1",
     "vae: fraction of the data held out for early stopping when no validation set is given "
     "(0 = train on all, no early stopping)",
     0, 0.9, NULL},
    {"iw_samples", NOTA_VAL_INT, "64",
     "vae: importance samples per item for the log-likelihood (gaussian likelihood)", 1, 100000,
     NULL},
    {"sample_noise", NOTA_VAL_BOOL, "false",
     "vae: samples draw from p(x|z) instead of returning its mean", 0, 0, NULL},
    {"gan_beta1", NOTA_VAL_FLOAT, "0.5", "gan: Adam beta1", 0, 0.999, NULL},
    {"label_smoothing", NOTA_VAL_FLOAT, "0.1", "gan: one-sided label smoothing (real target 1 - s)",
     0, 0.5, NULL},
    {"clip", NOTA_VAL_FLOAT, "0", "gan: clip discriminator weights to [-clip, clip] (0 = off)", 0,
     100, NULL},
    {"d_steps", NOTA_VAL_INT, "1", "gan: discriminator steps per generator step", 1, 100, NULL},
};

static nota_status parse_kind(const nota_config *cfg, kind *k) {
    const char *s;
    nota_status st = nota_config_get_string(cfg, "kind", &s);
    if (st) return nota_error_prefix(st, "latent: ");
    for (int i = 0; i < 3; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (kind)i;
            return NOTA_OK;
        }
    return nota_error(NOTA_EINVAL, "latent: unknown kind '%s' (expected gaussian|vae|gan)", s);
}

static nota_status make(const nota_config *cfg, nota_model **out) {
    *out = NULL;
    nota_model *m = calloc(1, sizeof *m);
    if (!m) return nota_error(NOTA_ENOMEM, "latent: allocation failed");
    nota_status st = parse_kind(cfg, &m->kind);
    if (!st) st = nota_config_clone(cfg, &m->cfg);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return NOTA_OK;
}

static void destroy(nota_model *m) {
    if (!m) return;
    gaussian_free(m->g);
    vae_free(m->v);
    gan_free(m->n);
    nota_config_free(m->cfg);
    free(m);
}

static nota_status create(const nota_config *cfg, const nota_host *host, nota_model **out) {
    nota_status st = make(cfg, out);
    if (st) return st;
    nota_model *m = *out;
    switch (m->kind) {
    case KIND_GAUSSIAN:
        st = gaussian_new(cfg, &m->g);
        break;
    case KIND_VAE:
        st = vae_new(cfg, &m->v);
        break;
    case KIND_GAN:
        st = gan_new(cfg, &m->n);
        break;
    }
    if (st) {
        destroy(m);
        *out = NULL;
    }
    return st;
}

static nota_status unsupported(const nota_model *m, const char *what) {
    return nota_error(NOTA_ENOTSUP, "latent: kind '%s' has no %s", kind_names[m->kind], what);
}

static nota_status fit(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                       const nota_host *host) {
    switch (m->kind) {
    case KIND_VAE:
        return vae_fit(m->v, train, valid, host);
    case KIND_GAN:
        return gan_fit(m->n, train, valid, host);
    default:
        return gaussian_fit(m->g, train, valid, host);
    }
}

static nota_status sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                          nota_tensor **out) {
    switch (m->kind) {
    case KIND_VAE:
        return vae_sample(m->v, n, temperature, host, out);
    case KIND_GAN:
        return gan_sample(m->n, n, temperature, host, out);
    default:
        return gaussian_sample(m->g, n, temperature, host, out);
    }
}

static nota_status encode(nota_model *m, const nota_tensor *x, const nota_host *host,
                          nota_tensor **out) {
    *out = NULL;
    switch (m->kind) {
    case KIND_VAE:
        return vae_encode(m->v, x, out);
    case KIND_GAN:
        return unsupported(m, "encoder");
    default:
        return gaussian_encode(m->g, x, out);
    }
}

static nota_status decode(nota_model *m, const nota_tensor *z, const nota_host *host,
                          nota_tensor **out) {
    switch (m->kind) {
    case KIND_VAE:
        return vae_decode(m->v, z, out);
    case KIND_GAN:
        return gan_decode(m->n, z, out);
    default:
        return gaussian_decode(m->g, z, out);
    }
}

static nota_status log_prob(nota_model *m, const nota_tensor *x, const nota_host *host,
                            nota_tensor **out) {
    *out = NULL;
    switch (m->kind) {
    case KIND_VAE:
        return vae_log_prob(m->v, x, host, out);
    case KIND_GAN:
        return unsupported(m, "density (log_prob)");
    default:
        return gaussian_log_prob(m->g, x, host, out);
    }
}

/* The Gaussian's metrics: mean negative log-density and bits/dim. */
static nota_status gaussian_eval(gaussian *g, const nota_tensor *x, const nota_host *host,
                                 nota_metric *out, size_t cap, size_t *n) {
    nota_tensor *lp;
    nota_status st = gaussian_log_prob(g, x, host, &lp);
    if (st) return st;
    double s = 0;
    int64_t rows = lp->shape[0];
    for (int64_t i = 0; i < rows; i++)
        s += nota_tensor_f32(lp)[i];
    nota_tensor_free(lp);
    double nll = -s / (double)rows, bpd = nll / ((double)nota_tensor_row_size(x) * log(2.0));
    const nota_metric all[2] = {{"nll_nats", nll}, {"bits_per_dim", bpd}};
    for (size_t i = 0; i < 2 && i < cap; i++)
        out[(*n)++] = all[i];
    return NOTA_OK;
}

static nota_status eval(nota_model *m, const nota_tensor *x, const nota_host *host,
                        nota_metric *out, size_t cap, size_t *n) {
    *n = 0;
    switch (m->kind) {
    case KIND_VAE:
        return vae_eval(m->v, x, host, out, cap, n);
    case KIND_GAN:
        return gan_eval(m->n, x, host, out, cap, n);
    default:
        return gaussian_eval(m->g, x, host, out, cap, n);
    }
}

static nota_status save(const nota_model *m, nota_modelfile *mf) {
    nota_status st = nota_modelfile_set_config(mf, m->cfg);
    if (st) return st;
    switch (m->kind) {
    case KIND_VAE:
        return vae_save(m->v, mf);
    case KIND_GAN:
        return gan_save(m->n, mf);
    default:
        return gaussian_save(m->g, mf);
    }
}

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    nota_status st = make(nota_modelfile_config(mf), out);
    if (st) return st;
    nota_model *m = *out;
    switch (m->kind) {
    case KIND_GAUSSIAN:
        st = gaussian_load(mf, &m->g);
        break;
    case KIND_VAE:
        st = vae_load(mf, &m->v);
        break;
    case KIND_GAN:
        st = gan_load(mf, &m->n);
        break;
    }
    if (st) {
        destroy(m);
        *out = NULL;
    }
    return st;
}

static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    switch (m->kind) {
    case KIND_VAE:
        return vae_data_shape(m->v, shape);
    case KIND_GAN:
        return gan_data_shape(m->n, shape);
    default:
        return gaussian_data_shape(m->g, shape);
    }
}

static int code_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    switch (m->kind) {
    case KIND_VAE:
        return vae_code_shape(m->v, shape);
    case KIND_GAN:
        return gan_code_shape(m->n, shape);
    default:
        return gaussian_code_shape(m->g, shape);
    }
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "latent",
    .version = LATENT_VERSION,
    .family = "latent",
    .description = "models of low-dimensional codes: full-covariance Gaussian (PCA), VAE, GAN",
    .caps = NOTA_CAP_FIT | NOTA_CAP_SAMPLE | NOTA_CAP_ENCODE | NOTA_CAP_DECODE | NOTA_CAP_LOG_PROB |
            NOTA_CAP_EVAL,
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .create = create,
    .fit = fit,
    .sample = sample,
    .encode = encode,
    .decode = decode,
    .log_prob = log_prob,
    .eval = eval,
    .save = save,
    .load = load,
    .destroy = destroy,
    .data_shape = data_shape,
    .code_shape = code_shape,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
