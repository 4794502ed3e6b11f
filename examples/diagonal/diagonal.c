/* An out-of-tree nota plugin, built against the installed SDK only:
 *
 *   cc -shared -fPIC -o diagonal.so diagonal.c $(pkg-config --cflags --libs nota)
 *   NOTA_PLUGIN_PATH=$PWD nota-host plugins
 *
 * The model is the simplest density there is: independent Gaussians, one per
 * dimension (a diagonal covariance). It shows the whole contract — option
 * table, create/fit/sample/log_prob/save/load/destroy, errors through
 * nota_error, progress and cancellation through the host services — in one
 * page. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nota/nota.h>

struct nota_model {
    double min_var;
    int item_ndim;
    int64_t item_shape[NOTA_MAX_DIMS];
    int64_t d;
    float *mean, *sd; /* d each */
};

static const nota_option options[] = {
    {"min_var", NOTA_VAL_FLOAT, "1e-6", "smallest variance allowed per dimension", 0, 1e6, NULL},
};

static nota_status create(const nota_config *cfg, const nota_host *host, nota_model **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return nota_error(NOTA_ENOMEM, "diagonal: allocation failed");
    return nota_config_get_float(cfg, "min_var", &(*out)->min_var);
}

static void destroy(nota_model *m) {
    if (!m) return;
    free(m->mean);
    free(m->sd);
    free(m);
}

static nota_status alloc(nota_model *m, int64_t d) {
    free(m->mean);
    free(m->sd);
    m->mean = calloc((size_t)d, sizeof(float));
    m->sd = calloc((size_t)d, sizeof(float));
    m->d = d;
    return m->mean && m->sd ? NOTA_OK : nota_error(NOTA_ENOMEM, "diagonal: allocation failed");
}

static nota_status fit(nota_model *m, const nota_tensor *x, const nota_tensor *valid,
                       const nota_host *host) {
    if (!nota_tensor_f32(x) || x->ndim < 2 || x->shape[0] < 2)
        return nota_error(NOTA_EINVAL, "diagonal: expected f32 data (N, ...) with N >= 2");
    nota_status st = nota_tensor_check_finite(x, "training data");
    if (st) return st;
    int64_t n = x->shape[0], d = (int64_t)nota_tensor_row_size(x);
    if ((st = alloc(m, d))) return st;
    m->item_ndim = x->ndim - 1;
    memcpy(m->item_shape, x->shape + 1, (size_t)m->item_ndim * sizeof(int64_t));
    const float *v = nota_tensor_f32(x);
    for (int64_t j = 0; j < d; j++) {
        if (nota_cancelled(host)) return nota_error(NOTA_ECANCELED, "diagonal: cancelled");
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; i++) s += v[i * d + j];
        double mu = s / (double)n;
        for (int64_t i = 0; i < n; i++) s2 += (v[i * d + j] - mu) * (v[i * d + j] - mu);
        double var = s2 / (double)n;
        m->mean[j] = (float)mu;
        m->sd[j] = (float)sqrt(var > m->min_var ? var : m->min_var);
        nota_progress(host, "moments", (double)(j + 1), (double)d, "");
    }
    return NOTA_OK;
}

static nota_status log_prob(nota_model *m, const nota_tensor *x, const nota_host *host,
                            nota_tensor **out) {
    if (!nota_tensor_f32(x) || (int64_t)nota_tensor_row_size(x) != m->d)
        return nota_error(NOTA_ESHAPE, "diagonal: items of %lld values expected",
                          (long long)m->d);
    int64_t n = x->shape[0];
    nota_status st = nota_tensor_new(NOTA_F32, 1, &n, out);
    if (st) return st;
    const float *v = nota_tensor_f32(x);
    for (int64_t i = 0; i < n; i++) {
        double lp = -0.5 * (double)m->d * log(2 * 3.14159265358979323846);
        for (int64_t j = 0; j < m->d; j++) {
            double z = (v[i * m->d + j] - m->mean[j]) / m->sd[j];
            lp += -0.5 * z * z - log(m->sd[j]);
        }
        nota_tensor_f32(*out)[i] = (float)lp;
    }
    return NOTA_OK;
}

static nota_status sample(nota_model *m, int64_t n, double temperature, const nota_host *host,
                          nota_tensor **out) {
    int64_t shape[NOTA_MAX_DIMS] = {n};
    memcpy(shape + 1, m->item_shape, (size_t)m->item_ndim * sizeof(int64_t));
    nota_status st = nota_tensor_new(NOTA_F32, m->item_ndim + 1, shape, out);
    if (st) return st;
    float *x = nota_tensor_f32(*out);
    nota_rng_fill_normal(host->seed, 1, x, (size_t)(n * m->d));
    for (int64_t i = 0; i < n * m->d; i++)
        x[i] = m->mean[i % m->d] + (float)temperature * m->sd[i % m->d] * x[i];
    return NOTA_OK;
}

static nota_status save(const nota_model *m, nota_modelfile *mf) {
    nota_tensor *mean, *sd;
    nota_status st = nota_tensor_wrap(NOTA_F32, m->item_ndim, m->item_shape, m->mean, &mean);
    if (st) return st;
    st = nota_tensor_wrap(NOTA_F32, m->item_ndim, m->item_shape, m->sd, &sd);
    if (!st) st = nota_modelfile_add_tensor(mf, "mean", mean);
    if (!st) st = nota_modelfile_add_tensor(mf, "sd", sd);
    nota_tensor_free(mean);
    nota_tensor_free(sd);
    return st;
}

static nota_status load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    const nota_tensor *mean, *sd;
    nota_status st = nota_modelfile_get_tensor(mf, "mean", &mean);
    if (!st) st = nota_modelfile_get_tensor(mf, "sd", &sd);
    if (st) return st;
    if (mean->dtype != NOTA_F32 || !nota_tensor_same_shape(mean, sd))
        return nota_error(NOTA_EFORMAT, "diagonal: 'mean' and 'sd' must be f32 of one shape");
    if ((st = create(nota_modelfile_config(mf), host, out))) return st;
    if ((st = alloc(*out, (int64_t)nota_tensor_numel(mean)))) return st;
    (*out)->item_ndim = mean->ndim;
    memcpy((*out)->item_shape, mean->shape, sizeof mean->shape);
    memcpy((*out)->mean, mean->data, mean->nbytes);
    memcpy((*out)->sd, sd->data, sd->nbytes);
    return NOTA_OK;
}

static int data_shape(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]) {
    memcpy(shape, m->item_shape, sizeof m->item_shape);
    return m->mean ? m->item_ndim : 0;
}

static const nota_plugin descriptor = {
    .abi_version = NOTA_ABI_VERSION,
    .struct_size = sizeof(nota_plugin),
    .name = "diagonal",
    .version = 1,
    .family = "example",
    .description = "independent Gaussian per dimension (example out-of-tree plugin)",
    .caps = NOTA_CAP_FIT | NOTA_CAP_SAMPLE | NOTA_CAP_LOG_PROB,
    .options = options,
    .n_options = 1,
    .create = create,
    .fit = fit,
    .sample = sample,
    .log_prob = log_prob,
    .save = save,
    .load = load,
    .destroy = destroy,
    .data_shape = data_shape,
};

NOTA_EXPORT const nota_plugin *nota_plugin_entry(void) { return &descriptor; }
