/* Conversion between nota_modelfile and the generated nota.Model structs.
 *
 * Saving builds a protobuf tree that borrows every string and tensor buffer
 * from the model file (no copies of the weights; protobuf-c only reads them
 * while packing). Loading copies a validated tree into a new model file,
 * releasing each tensor's protobuf buffer as soon as it is copied so that a
 * large model is not held twice. Tensor bytes are stored as the host's
 * little-endian floats, which is why big-endian hosts are refused at build.
 */
#include <stdlib.h>
#include <string.h>

#include "modelfile_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nota model files store little-endian tensors; this host is big-endian"
#endif

/* One block of n structs plus the array of pointers protobuf-c wants. */
static void **struct_array(size_t n, size_t size) {
    if (n == 0) return NULL;
    char *block = calloc(n, size);
    void **ptrs = calloc(n, sizeof *ptrs);
    if (!block || !ptrs) {
        free(block);
        free(ptrs);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) ptrs[i] = block + i * size;
    return ptrs;
}

static void struct_array_free(void **ptrs, size_t n) {
    if (!ptrs) return;
    if (n) free(ptrs[0]);
    free(ptrs);
}

void nota_mf_pb_free_borrowed(Nota__Model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_submodels; i++) nota_mf_pb_free_borrowed(m->submodels[i]->model);
    struct_array_free((void **)m->config, m->n_config);
    struct_array_free((void **)m->tensors, m->n_tensors);
    struct_array_free((void **)m->submodels, m->n_submodels);
    if (m->meta) struct_array_free((void **)m->meta->metrics, m->meta->n_metrics);
    free(m->meta);
    free(m);
}

static nota_status config_to_pb(const nota_config *cfg, Nota__Model *m) {
    size_t n = nota_config_count(cfg);
    m->config = (Nota__ConfigEntry **)struct_array(n, sizeof(Nota__ConfigEntry));
    if (n && !m->config) return nota_error(NOTA_ENOMEM, "config table allocation failed");
    m->n_config = n;
    for (size_t i = 0; i < n; i++) {
        Nota__ConfigEntry *e = m->config[i];
        nota__config_entry__init(e);
        const char *key = nota_config_key(cfg, i);
        e->key = (char *)key;
        switch (nota_config_type(cfg, i)) {
        case NOTA_VAL_INT:
            e->value_case = NOTA__CONFIG_ENTRY__VALUE_INT_VALUE;
            nota_config_get_int(cfg, key, &e->int_value);
            break;
        case NOTA_VAL_FLOAT:
            e->value_case = NOTA__CONFIG_ENTRY__VALUE_FLOAT_VALUE;
            nota_config_get_float(cfg, key, &e->float_value);
            break;
        case NOTA_VAL_STRING: {
            const char *s = NULL;
            e->value_case = NOTA__CONFIG_ENTRY__VALUE_STRING_VALUE;
            nota_config_get_string(cfg, key, &s);
            e->string_value = (char *)s;
            break;
        }
        case NOTA_VAL_BOOL: {
            bool b = false;
            e->value_case = NOTA__CONFIG_ENTRY__VALUE_BOOL_VALUE;
            nota_config_get_bool(cfg, key, &b);
            e->bool_value = b;
            break;
        }
        }
    }
    return NOTA_OK;
}

nota_status nota_mf_to_pb(const nota_modelfile *mf, int64_t now, Nota__Model **out) {
    Nota__Model *m = calloc(1, sizeof *m);
    Nota__Metadata *md = calloc(1, sizeof *md);
    if (!m || !md) {
        free(m);
        free(md);
        return nota_error(NOTA_ENOMEM, "model message allocation failed");
    }
    nota__model__init(m);
    nota__metadata__init(md);
    m->meta = md;
    m->has_format_version = m->has_plugin_version = m->has_abi_version = 1;
    m->format_version = NOTA_MODEL_FORMAT_VERSION;
    m->plugin = (char *)nota_modelfile_plugin(mf);
    m->plugin_version = nota_modelfile_plugin_version(mf);
    m->abi_version = nota_modelfile_abi_version(mf);
    nota_status st = config_to_pb(nota_modelfile_config(mf), m);

    size_t nt = nota_modelfile_tensor_count(mf);
    m->tensors = (Nota__Tensor **)struct_array(nt, sizeof(Nota__Tensor));
    if (!st && nt && !m->tensors) st = nota_error(NOTA_ENOMEM, "tensor table allocation failed");
    if (m->tensors) m->n_tensors = nt;
    for (size_t i = 0; !st && i < nt; i++) {
        const nota_tensor *t = nota_mf_tensor_at(mf, i);
        Nota__Tensor *pt = m->tensors[i];
        nota__tensor__init(pt);
        pt->name = (char *)nota_modelfile_tensor_name(mf, i);
        pt->has_dtype = pt->has_data = 1;
        pt->dtype = (uint32_t)t->dtype;
        pt->n_shape = (size_t)t->ndim;
        pt->shape = (int64_t *)t->shape;
        pt->data.len = t->nbytes;
        pt->data.data = t->data;
    }

    md->dataset = (char *)nota_modelfile_dataset(mf);
    md->has_train_seconds = md->has_created_unix = 1;
    md->train_seconds = nota_modelfile_train_seconds(mf);
    md->created_unix = nota_modelfile_created_unix(mf) ? nota_modelfile_created_unix(mf) : now;
    size_t nm = nota_modelfile_metric_count(mf);
    md->metrics = (Nota__Metric **)struct_array(nm, sizeof(Nota__Metric));
    if (!st && nm && !md->metrics) st = nota_error(NOTA_ENOMEM, "metric table allocation failed");
    if (md->metrics) md->n_metrics = nm;
    for (size_t i = 0; !st && i < nm; i++) {
        Nota__Metric *pm = md->metrics[i];
        nota__metric__init(pm);
        pm->has_value = 1;
        pm->name = (char *)nota_modelfile_metric_name(mf, i, &pm->value);
    }

    size_t ns = nota_modelfile_submodel_count(mf);
    m->submodels = (Nota__SubModel **)struct_array(ns, sizeof(Nota__SubModel));
    if (!st && ns && !m->submodels) st = nota_error(NOTA_ENOMEM, "submodel table allocation failed");
    if (m->submodels) m->n_submodels = ns;
    for (size_t i = 0; i < m->n_submodels; i++) nota__sub_model__init(m->submodels[i]);
    for (size_t i = 0; !st && i < m->n_submodels; i++) {
        Nota__SubModel *ps = m->submodels[i];
        ps->name = (char *)nota_modelfile_submodel_name(mf, i);
        st = nota_mf_to_pb(nota_mf_submodel_at(mf, i), now, &ps->model);
    }
    if (st) {
        nota_mf_pb_free_borrowed(m); /* sub-models not converted yet are NULL */
        return st;
    }
    *out = m;
    return NOTA_OK;
}

static nota_status config_from_pb(const Nota__Model *m, nota_modelfile *mf) {
    nota_config *cfg;
    nota_status st = nota_config_new(&cfg);
    for (size_t i = 0; !st && i < m->n_config; i++) {
        const Nota__ConfigEntry *e = m->config[i];
        switch (e->value_case) {
        case NOTA__CONFIG_ENTRY__VALUE_INT_VALUE:
            st = nota_config_set_int(cfg, e->key, e->int_value);
            break;
        case NOTA__CONFIG_ENTRY__VALUE_FLOAT_VALUE:
            st = nota_config_set_float(cfg, e->key, e->float_value);
            break;
        case NOTA__CONFIG_ENTRY__VALUE_STRING_VALUE:
            st = nota_config_set_string(cfg, e->key, e->string_value);
            break;
        case NOTA__CONFIG_ENTRY__VALUE_BOOL_VALUE:
            st = nota_config_set_bool(cfg, e->key, e->bool_value != 0);
            break;
        default: /* refused by validation */
            st = nota_error(NOTA_EFORMAT, "config key '%s' has no value", e->key);
        }
    }
    if (!st) st = nota_modelfile_set_config(mf, cfg);
    nota_config_free(cfg);
    return st;
}

nota_status nota_mf_from_pb(Nota__Model *m, ProtobufCAllocator *alloc, nota_modelfile **out) {
    nota_modelfile *mf;
    *out = NULL;
    nota_status st = nota_modelfile_new(m->plugin, m->plugin_version, &mf);
    if (st) return st;
    nota_mf_set_versions(mf, m->abi_version,
                         m->meta && m->meta->has_created_unix ? m->meta->created_unix : 0);
    st = config_from_pb(m, mf);
    for (size_t i = 0; !st && i < m->n_tensors; i++) {
        Nota__Tensor *pt = m->tensors[i];
        nota_tensor *t;
        st = nota_tensor_new((nota_dtype)pt->dtype, (int)pt->n_shape, pt->shape, &t);
        if (st) break;
        memcpy(t->data, pt->data.data, t->nbytes);
        alloc->free(alloc->allocator_data, pt->data.data);
        pt->data.data = NULL;
        pt->data.len = 0;
        pt->has_data = 0;
        st = nota_mf_append_tensor(mf, pt->name, t);
    }
    if (!st && m->meta) {
        const Nota__Metadata *md = m->meta;
        st = nota_modelfile_set_dataset(mf, md->dataset ? md->dataset : "");
        if (!st && md->has_train_seconds)
            st = nota_modelfile_set_train_seconds(mf, md->train_seconds);
        for (size_t i = 0; !st && i < md->n_metrics; i++)
            st = nota_modelfile_set_metric(mf, md->metrics[i]->name, md->metrics[i]->value);
    }
    for (size_t i = 0; !st && i < m->n_submodels; i++) {
        nota_modelfile *sub;
        st = nota_mf_from_pb(m->submodels[i]->model, alloc, &sub);
        if (!st) st = nota_modelfile_add_submodel(mf, m->submodels[i]->name, sub);
    }
    if (st) {
        nota_modelfile_free(mf);
        return st;
    }
    *out = mf;
    return NOTA_OK;
}
