/* Saving and loading the scatter model. The file's config says what the
 * model was fitted on (fit_channels, fit_height, fit_width, fit_k); every
 * tensor is checked against the shapes those imply before anything is
 * built, so a hostile config cannot make the loader allocate more than the
 * file holds, and a damaged file is refused naming the tensor. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

static nota_status add(nota_modelfile *mf, const char *name, int nd, const int64_t *shape,
                       const float *data) {
    nota_tensor *t;
    nota_status st = nota_tensor_wrap(NOTA_F32, nd, shape, (void *)data, &t);
    if (st) return st;
    st = nota_modelfile_add_tensor(mf, name, t);
    nota_tensor_free(t);
    return st;
}

nota_status scatter_save(const nota_model *m, nota_modelfile *mf) {
    if (!m->fitted) return nota_error(NOTA_EINVAL, "scatter save: the model is not fitted");
    int64_t D = m->pca.D, k = m->pca.k, wk[2] = {k, D};
    nota_status st = nota_modelfile_set_config(mf, m->cfg);
    if (!st) st = add(mf, "pca.mean", 1, &D, m->pca.mean);
    if (!st) st = add(mf, "pca.whiten", 2, wk, m->pca.whiten);
    if (!st) st = add(mf, "pca.eig", 1, &k, m->pca.eig);
    if (!st) st = nota_nn_net_save(m->net, mf, "dec.");
    return st;
}

/* A tensor the model needs, f32 of exactly this shape, finite. */
static nota_status get(const nota_modelfile *mf, const char *name, int nd, const int64_t *shape,
                       float **copy) {
    const nota_tensor *t;
    nota_status st = nota_modelfile_get_tensor(mf, name, &t);
    if (st) return nota_error_prefix(st, "scatter model: ");
    bool ok = t->dtype == NOTA_F32 && t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        char a[96], b[96];
        return nota_error(NOTA_EFORMAT,
                          "scatter model: tensor '%s' is %s %s, the config needs "
                          "f32 %s",
                          name, nota_dtype_name(t->dtype),
                          nota_shape_str(t->ndim, t->shape, a, sizeof a),
                          nota_shape_str(nd, shape, b, sizeof b));
    }
    st = nota_tensor_check_finite(t, name);
    if (st) return nota_error_prefix(st, "scatter model: ");
    *copy = malloc(t->nbytes);
    if (!*copy) return nota_error(NOTA_ENOMEM, "scatter model: out of memory");
    memcpy(*copy, nota_tensor_f32(t), t->nbytes);
    return NOTA_OK;
}

static nota_status fit_dims(nota_model *m) {
    const char *keys[4] = {"fit_channels", "fit_height", "fit_width", "fit_k"};
    int64_t v[4];
    for (int i = 0; i < 4; i++) {
        nota_status st = nota_config_get_int(m->cfg, keys[i], &v[i]);
        if (st) return nota_error_prefix(NOTA_EFORMAT, "scatter model (not fitted?): ");
    }
    int64_t p = (int64_t)1 << m->J;
    if (v[0] < 1 || v[0] > 16 || v[1] < p || v[1] > 4096 || v[1] % p || v[2] < p || v[2] > 4096 ||
        v[2] % p || v[3] < 1)
        return nota_error(NOTA_EFORMAT,
                          "scatter model: fitted on images (%lld, %lld, %lld) "
                          "with k = %lld, which J = %d cannot describe",
                          (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], m->J);
    nota_status st = scatter_check_size(&m->arch, v[1], v[2]);
    if (st) return nota_error_prefix(NOTA_EFORMAT, "scatter model: ");
    m->arch.C = v[0], m->arch.H = v[1], m->arch.W = v[2], m->arch.k = v[3];
    m->pca.D = v[0] * scat_channels(m->J, m->L) * (v[1] / p) * (v[2] / p);
    m->pca.k = v[3];
    if (m->pca.k > m->pca.D)
        return nota_error(NOTA_EFORMAT, "scatter model: fit_k = %lld exceeds the %lld features",
                          (long long)m->pca.k, (long long)m->pca.D);
    return NOTA_OK;
}

nota_status scatter_load(const nota_modelfile *mf, const nota_host *host, nota_model **out) {
    nota_status st = scatter_create(nota_modelfile_config(mf), host, out);
    if (st) return st;
    nota_model *m = *out;
    int64_t D, k, wk[2];
    st = fit_dims(m);
    if (!st) {
        D = m->pca.D, k = m->pca.k, wk[0] = k, wk[1] = D;
        st = get(mf, "pca.mean", 1, &D, &m->pca.mean);
    }
    if (!st) st = get(mf, "pca.whiten", 2, wk, &m->pca.whiten);
    if (!st) st = get(mf, "pca.eig", 1, &k, &m->pca.eig);
    if (!st) st = scat_dec_check_file(&m->arch, mf);
    if (!st) st = scat_dec_build(&m->arch, 0, &m->net);
    if (!st) st = nota_nn_net_load(m->net, mf, "dec.");
    if (st) {
        scatter_destroy(m);
        *out = NULL;
        return st;
    }
    m->fitted = true;
    return NOTA_OK;
}
