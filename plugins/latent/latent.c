/* The latent plugin: models of vectors and small images, used alone or as the
 * prior of another model. This file is the plugin boundary — the descriptor,
 * the option table and the dispatch on `kind`; each kind lives in its own
 * file (gaussian.c now; vae.c and gan.c join it). */
#include <stdlib.h>
#include <string.h>

#include "gaussian.h"
#include "nota/nota.h"

#define LATENT_VERSION 1

typedef enum { KIND_GAUSSIAN } kind;

struct nota_model {
    kind kind;
    nota_config *cfg;
    gaussian *g;
};

static const nota_option options[] = {
    {"kind", NOTA_VAL_STRING, "gaussian", "model kind (gaussian: full-covariance Gaussian by PCA)",
     0, 0, "gaussian"},
    {"k", NOTA_VAL_INT, "0",
     "principal components kept (0 = all); the rest share one residual variance (PPCA)", 0,
     1000000, NULL},
    {"var_floor", NOTA_VAL_FLOAT, "1e-6",
     "eigenvalue floor, as a fraction of the average variance (keeps constant columns finite)",
     0, 1, NULL},
};

static nota_status parse_kind(const nota_config *cfg, kind *k) {
    const char *s;
    nota_status st = nota_config_get_string(cfg, "kind", &s);
    if (st) return nota_error_prefix(st, "latent: ");
    if (strcmp(s, "gaussian") == 0) {
        *k = KIND_GAUSSIAN;
        return NOTA_OK;
    }
    return nota_error(NOTA_EINVAL, "latent: unknown kind '%s' (expected gaussian)", s);
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
    nota_config_free(m->cfg);
    free(m);
}

static nota_status create(const nota_config *cfg, const nota_host *host, nota_model **out) {
    nota_status st = make(cfg, out);
    if (st) return st;
    st = gaussian_new(cfg, &(*out)->g);
    if (st) {
        destroy(*out);
        *out = NULL;
    }
    return st;
}

static nota_status fit(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                       const nota_host *host) {
    return gaussian_fit(m->g, train, valid, host);
}

static nota_status sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                          nota_tensor **out) {
    return gaussian_sample(m->g, n, temperature, host, out);
}

static nota_status encode(nota_model *m, const nota_tensor *x, const nota_host *host,
                          nota_tensor **out) {
    return gaussian_encode(m->g, x, out);
}

static nota_status decode(nota_model *m, const nota_tensor *z, const nota_host *host,
                          nota_tensor **out) {
    return gaussian_decode(m->g, z, out);
}

static nota_status log_prob(nota_model *m, const nota_tensor *x, const nota_host *host,
                            nota_tensor **out) {
    return gaussian_log_prob(m->g, x, host, out);
}

static nota_status save(const nota_model *m, nota_modelfile *mf) {
    nota_status st = nota_modelfile_set_config(mf, m->cfg);
    return st ? st : gaussian_save(m->g, mf);
}

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    nota_status st = make(nota_modelfile_config(mf), out);
    if (st) return st;
    st = gaussian_load(mf, &(*out)->g);
    if (st) {
        destroy(*out);
        *out = NULL;
    }
    return st;
}

static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    return gaussian_data_shape(m->g, shape);
}

static int code_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    return gaussian_code_shape(m->g, shape);
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "latent",
    .version = LATENT_VERSION,
    .family = "latent",
    .description = "models of low-dimensional codes: full-covariance Gaussian (PCA)",
    .caps = NOTA_CAP_FIT | NOTA_CAP_SAMPLE | NOTA_CAP_ENCODE | NOTA_CAP_DECODE |
            NOTA_CAP_LOG_PROB,
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .create = create,
    .fit = fit,
    .sample = sample,
    .encode = encode,
    .decode = decode,
    .log_prob = log_prob,
    .eval = NULL,
    .save = save,
    .load = load,
    .destroy = destroy,
    .data_shape = data_shape,
    .code_shape = code_shape,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
