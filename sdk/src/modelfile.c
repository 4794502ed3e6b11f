/* The in-memory model file (see nota/modelfile.h): plugin identity, config,
 * named tensors, named sub-models and training metadata. This file only keeps
 * the object consistent (unique, valid names; CPU tensors; bounded counts and
 * nesting) so that whatever a plugin builds can be saved and loaded back;
 * reading and writing files is in modelfile_io.c.
 */
#include <stdlib.h>
#include <string.h>

#include "modelfile_internal.h"
#include "nota/plugin.h"

typedef struct mf_tensor {
    char *name;
    nota_tensor *t;
} mf_tensor;

typedef struct mf_sub {
    char *name;
    nota_modelfile *m;
} mf_sub;

typedef struct mf_metric {
    char *name;
    double value;
} mf_metric;

struct nota_modelfile {
    char *plugin;
    uint32_t plugin_version, abi_version;
    nota_config *config;
    mf_tensor *tensors;
    size_t n_tensors, cap_tensors;
    mf_sub *subs;
    size_t n_subs, cap_subs;
    char *dataset;
    double train_seconds;
    int64_t created_unix;
    mf_metric *metrics;
    size_t n_metrics, cap_metrics;
};

/* Same rules the loader applies (modelfile_validate.c), checked early so the
 * plugin sees the problem where it makes it rather than at save time. */
static nota_status check_name(const char *what, const char *name) {
    if (!name || !*name) return nota_error(NOTA_EINVAL, "%s name is empty", what);
    size_t n = strlen(name);
    if (n > NOTA_MODEL_MAX_NAME)
        return nota_error(NOTA_EINVAL, "%s name is %zu bytes, longer than %d", what, n,
                          NOTA_MODEL_MAX_NAME);
    size_t bad = nota_mf_utf8_bad(name, n);
    if (bad != SIZE_MAX)
        return nota_error(NOTA_EINVAL, "%s name is not valid UTF-8 (byte %zu)", what, bad);
    return NOTA_OK;
}

/* Grow an array of `elem` bytes per entry so that one more fits. */
static nota_status grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return NOTA_OK;
    size_t nc = *cap ? 2 * *cap : 8;
    void *p = realloc(*arr, nc * elem);
    if (!p) return nota_error(NOTA_ENOMEM, "model file: growing a table to %zu entries failed", nc);
    *arr = p;
    *cap = nc;
    return NOTA_OK;
}

nota_status nota_modelfile_new(const char *plugin, uint32_t plugin_version,
                               nota_modelfile **out) {
    *out = NULL;
    nota_status st = check_name("plugin", plugin);
    if (st) return st;
    nota_modelfile *mf = calloc(1, sizeof *mf);
    if (!mf) return nota_error(NOTA_ENOMEM, "model file allocation failed");
    mf->plugin = strdup(plugin);
    mf->dataset = strdup("");
    st = nota_config_new(&mf->config);
    if (!st && (!mf->plugin || !mf->dataset))
        st = nota_error(NOTA_ENOMEM, "model file allocation failed");
    if (st) {
        nota_modelfile_free(mf);
        return st;
    }
    mf->plugin_version = plugin_version;
    mf->abi_version = NOTA_ABI_VERSION;
    *out = mf;
    return NOTA_OK;
}

void nota_modelfile_free(nota_modelfile *mf) {
    if (!mf) return;
    for (size_t i = 0; i < mf->n_tensors; i++) {
        free(mf->tensors[i].name);
        nota_tensor_free(mf->tensors[i].t);
    }
    for (size_t i = 0; i < mf->n_subs; i++) {
        free(mf->subs[i].name);
        nota_modelfile_free(mf->subs[i].m);
    }
    for (size_t i = 0; i < mf->n_metrics; i++) free(mf->metrics[i].name);
    free(mf->tensors);
    free(mf->subs);
    free(mf->metrics);
    nota_config_free(mf->config);
    free(mf->plugin);
    free(mf->dataset);
    free(mf);
}

const char *nota_modelfile_plugin(const nota_modelfile *mf) { return mf->plugin; }
uint32_t nota_modelfile_plugin_version(const nota_modelfile *mf) { return mf->plugin_version; }
uint32_t nota_modelfile_abi_version(const nota_modelfile *mf) { return mf->abi_version; }

void nota_mf_set_versions(nota_modelfile *mf, uint32_t abi_version, int64_t created_unix) {
    mf->abi_version = abi_version;
    mf->created_unix = created_unix;
}

nota_status nota_modelfile_set_config(nota_modelfile *mf, const nota_config *cfg) {
    if (!cfg) return nota_error(NOTA_EINVAL, "nota_modelfile_set_config: cfg is NULL");
    for (size_t i = 0; i < nota_config_count(cfg); i++) {
        nota_status st = check_name("config key", nota_config_key(cfg, i));
        if (st) return st;
    }
    if (nota_config_count(cfg) > NOTA_MODEL_MAX_CONFIG)
        return nota_error(NOTA_ELIMIT, "config has %zu entries, more than %d",
                          nota_config_count(cfg), NOTA_MODEL_MAX_CONFIG);
    nota_config *copy;
    nota_status st = nota_config_clone(cfg, &copy);
    if (st) return st;
    nota_config_free(mf->config);
    mf->config = copy;
    return NOTA_OK;
}

const nota_config *nota_modelfile_config(const nota_modelfile *mf) { return mf->config; }

static const mf_tensor *find_tensor(const nota_modelfile *mf, const char *name) {
    for (size_t i = 0; i < mf->n_tensors; i++)
        if (strcmp(mf->tensors[i].name, name) == 0) return &mf->tensors[i];
    return NULL;
}

nota_status nota_mf_append_tensor(nota_modelfile *mf, const char *name, nota_tensor *t) {
    char *copy = strdup(name);
    nota_status st = copy ? grow((void **)&mf->tensors, &mf->cap_tensors, mf->n_tensors,
                                 sizeof *mf->tensors)
                          : nota_error(NOTA_ENOMEM, "tensor '%s': name copy failed", name);
    if (st) {
        free(copy);
        nota_tensor_free(t);
        return st;
    }
    mf->tensors[mf->n_tensors++] = (mf_tensor){copy, t};
    return NOTA_OK;
}

nota_status nota_modelfile_add_tensor(nota_modelfile *mf, const char *name, const nota_tensor *t) {
    nota_status st = check_name("tensor", name);
    if (st) return st;
    if (!t) return nota_error(NOTA_EINVAL, "tensor '%s' is NULL", name);
    if (t->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "tensor '%s' is not on the CPU; copy it there to save it",
                          name);
    if (nota_dtype_size(t->dtype) == 0)
        return nota_error(NOTA_EINVAL, "tensor '%s' has unknown dtype code %d", name,
                          (int)t->dtype);
    if (find_tensor(mf, name))
        return nota_error(NOTA_EINVAL, "model file of '%s' already has a tensor '%s'", mf->plugin,
                          name);
    if (mf->n_tensors >= NOTA_MODEL_MAX_TENSORS)
        return nota_error(NOTA_ELIMIT, "tensor '%s': the model already has %d tensors", name,
                          NOTA_MODEL_MAX_TENSORS);
    nota_tensor *copy;
    st = nota_tensor_clone(t, &copy);
    if (st) return nota_error_prefix(st, "tensor '%s': ", name);
    return nota_mf_append_tensor(mf, name, copy);
}

nota_status nota_modelfile_get_tensor(const nota_modelfile *mf, const char *name,
                                      const nota_tensor **out) {
    const mf_tensor *e = name ? find_tensor(mf, name) : NULL;
    *out = e ? e->t : NULL;
    if (!e)
        return nota_error(NOTA_ENOTFOUND, "model file of '%s' has no tensor '%s'", mf->plugin,
                          name ? name : "(null)");
    return NOTA_OK;
}

size_t nota_modelfile_tensor_count(const nota_modelfile *mf) { return mf->n_tensors; }
const char *nota_modelfile_tensor_name(const nota_modelfile *mf, size_t i) {
    return i < mf->n_tensors ? mf->tensors[i].name : NULL;
}

int nota_mf_levels(const nota_modelfile *mf) {
    int deepest = 0;
    for (size_t i = 0; i < mf->n_subs; i++) {
        int l = nota_mf_levels(mf->subs[i].m);
        if (l > deepest) deepest = l;
    }
    return 1 + deepest;
}

/* True if `m` is `target` or holds it somewhere below (adding it would make
 * a cycle and a double free). */
static bool holds(const nota_modelfile *m, const nota_modelfile *target) {
    if (m == target) return true;
    for (size_t i = 0; i < m->n_subs; i++)
        if (holds(m->subs[i].m, target)) return true;
    return false;
}

nota_status nota_modelfile_add_submodel(nota_modelfile *mf, const char *name, nota_modelfile *sub) {
    nota_status st = check_name("submodel", name);
    if (!st && !sub) st = nota_error(NOTA_EINVAL, "submodel '%s' is NULL", name);
    if (!st && holds(sub, mf))
        return nota_error(NOTA_EINVAL, "submodel '%s' already holds the model it is added to",
                          name); /* sub is owned up the tree already: do not free it */
    for (size_t i = 0; !st && i < mf->n_subs; i++)
        if (strcmp(mf->subs[i].name, name) == 0)
            st = nota_error(NOTA_EINVAL, "model file of '%s' already has a submodel '%s'",
                            mf->plugin, name);
    if (!st && mf->n_subs >= NOTA_MODEL_MAX_SUBMODELS)
        st = nota_error(NOTA_ELIMIT, "submodel '%s': the model already has %d submodels", name,
                        NOTA_MODEL_MAX_SUBMODELS);
    if (!st && 1 + nota_mf_levels(sub) > NOTA_MF_MAX_MODEL_LEVELS)
        st = nota_error(NOTA_ELIMIT,
                        "submodel '%s': nesting would reach %d levels of models, more than %d",
                        name, 1 + nota_mf_levels(sub), NOTA_MF_MAX_MODEL_LEVELS);
    char *copy = NULL;
    if (!st) {
        copy = strdup(name);
        st = copy ? grow((void **)&mf->subs, &mf->cap_subs, mf->n_subs, sizeof *mf->subs)
                  : nota_error(NOTA_ENOMEM, "submodel '%s': name copy failed", name);
    }
    if (st) {
        free(copy);
        nota_modelfile_free(sub);
        return st;
    }
    mf->subs[mf->n_subs++] = (mf_sub){copy, sub};
    return NOTA_OK;
}

nota_status nota_modelfile_get_submodel(const nota_modelfile *mf, const char *name,
                                        const nota_modelfile **out) {
    *out = NULL;
    for (size_t i = 0; name && i < mf->n_subs; i++)
        if (strcmp(mf->subs[i].name, name) == 0) {
            *out = mf->subs[i].m;
            return NOTA_OK;
        }
    return nota_error(NOTA_ENOTFOUND, "model file of '%s' has no submodel '%s'", mf->plugin,
                      name ? name : "(null)");
}

size_t nota_modelfile_submodel_count(const nota_modelfile *mf) { return mf->n_subs; }
const char *nota_modelfile_submodel_name(const nota_modelfile *mf, size_t i) {
    return i < mf->n_subs ? mf->subs[i].name : NULL;
}
const nota_modelfile *nota_mf_submodel_at(const nota_modelfile *mf, size_t i) {
    return i < mf->n_subs ? mf->subs[i].m : NULL;
}
const nota_tensor *nota_mf_tensor_at(const nota_modelfile *mf, size_t i) {
    return i < mf->n_tensors ? mf->tensors[i].t : NULL;
}

nota_status nota_modelfile_set_dataset(nota_modelfile *mf, const char *dataset) {
    if (!dataset) dataset = "";
    size_t bad = nota_mf_utf8_bad(dataset, strlen(dataset));
    if (bad != SIZE_MAX)
        return nota_error(NOTA_EINVAL, "dataset name is not valid UTF-8 (byte %zu)", bad);
    char *copy = strdup(dataset);
    if (!copy) return nota_error(NOTA_ENOMEM, "dataset name copy failed");
    free(mf->dataset);
    mf->dataset = copy;
    return NOTA_OK;
}

const char *nota_modelfile_dataset(const nota_modelfile *mf) { return mf->dataset; }

nota_status nota_modelfile_set_train_seconds(nota_modelfile *mf, double seconds) {
    mf->train_seconds = seconds;
    return NOTA_OK;
}

double nota_modelfile_train_seconds(const nota_modelfile *mf) { return mf->train_seconds; }
int64_t nota_modelfile_created_unix(const nota_modelfile *mf) { return mf->created_unix; }

nota_status nota_modelfile_set_metric(nota_modelfile *mf, const char *name, double value) {
    nota_status st = check_name("metric", name);
    if (st) return st;
    for (size_t i = 0; i < mf->n_metrics; i++)
        if (strcmp(mf->metrics[i].name, name) == 0) {
            mf->metrics[i].value = value;
            return NOTA_OK;
        }
    if (mf->n_metrics >= NOTA_MODEL_MAX_METRICS)
        return nota_error(NOTA_ELIMIT, "metric '%s': the model already has %d metrics", name,
                          NOTA_MODEL_MAX_METRICS);
    char *copy = strdup(name);
    st = copy ? grow((void **)&mf->metrics, &mf->cap_metrics, mf->n_metrics, sizeof *mf->metrics)
              : nota_error(NOTA_ENOMEM, "metric '%s': name copy failed", name);
    if (st) {
        free(copy);
        return st;
    }
    mf->metrics[mf->n_metrics++] = (mf_metric){copy, value};
    return NOTA_OK;
}

nota_status nota_modelfile_get_metric(const nota_modelfile *mf, const char *name, double *value) {
    for (size_t i = 0; name && i < mf->n_metrics; i++)
        if (strcmp(mf->metrics[i].name, name) == 0) {
            *value = mf->metrics[i].value;
            return NOTA_OK;
        }
    return nota_error(NOTA_ENOTFOUND, "model file of '%s' has no metric '%s'", mf->plugin,
                      name ? name : "(null)");
}

size_t nota_modelfile_metric_count(const nota_modelfile *mf) { return mf->n_metrics; }
const char *nota_modelfile_metric_name(const nota_modelfile *mf, size_t i, double *value) {
    if (i >= mf->n_metrics) return NULL;
    if (value) *value = mf->metrics[i].value;
    return mf->metrics[i].name;
}
