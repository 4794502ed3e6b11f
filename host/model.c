/* Model and data helpers shared by the commands: opening a model file with
 * its plugin, loading datasets with the --label/--limit filter, checking that
 * data fits a model, and the batched log-likelihood behind bits/dim. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int host_model_check_plugin(host_ctx *c, const char *file, const char *made_by) {
    const char *want = c->args.plugin;
    if (!want) return HOST_EXIT_OK;
    if (!host_plugin_spec_is_path(want)) {
        if (strcmp(want, made_by) == 0) return HOST_EXIT_OK;
        return host_error("model '%s' was made by plugin '%s', not '%s'", file, made_by, want);
    }
    host_plugin *p;
    nota_status st = host_plugin_open_file(want, NULL, &p);
    if (st) return host_fail(st);
    int rc = HOST_EXIT_OK;
    if (strcmp(p->desc->name, made_by) != 0)
        rc = host_error("model '%s' was made by plugin '%s', not '%s' (%s)", file, made_by,
                        p->desc->name, want);
    host_plugin_close(p);
    return rc;
}

int host_model_open(host_ctx *c, const nota_host *host, host_model *hm) {
    return host_model_open_file(c, c->args.positional, host, hm);
}

int host_model_open_file(host_ctx *c, const char *file, const nota_host *host, host_model *hm) {
    memset(hm, 0, sizeof *hm);
    nota_status st = nota_modelfile_load(file, NULL, &hm->mf);
    if (st) return host_fail(st);
    const char *made_by = nota_modelfile_plugin(hm->mf);
    int rc;
    if (!host_plugin_name_ok(made_by)) {
        rc = host_error("model '%s' names plugin '%s', which is not a valid plugin name", file,
                        made_by);
        goto fail;
    }
    if (strcmp(made_by, HOST_PIPELINE_PLUGIN) == 0) { /* commands_compose.c */
        rc = host_pipeline_open(c, file, host, hm);
        if (rc) goto fail;
        return HOST_EXIT_OK;
    }
    rc = host_model_check_plugin(c, file, made_by);
    if (rc) goto fail;
    st = c->args.plugin && host_plugin_spec_is_path(c->args.plugin)
             ? host_plugin_open_file(c->args.plugin, made_by, &hm->plugin)
             : host_plugin_open(&c->registry, made_by, &hm->plugin);
    if (st) {
        rc = host_fail(nota_error_prefix(st, "model '%s' needs plugin '%s': ", file, made_by));
        goto fail;
    }
    const nota_plugin *d = hm->plugin->desc;
    uint32_t fv = nota_modelfile_plugin_version(hm->mf);
    if (fv > d->version)
        nota_log(host, NOTA_LOG_WARN, "model '%s' was made by %s version %u; this plugin is %u",
                 file, d->name, (unsigned)fv, (unsigned)d->version);
    if (!d->load) { /* a transform-only plugin makes no models */
        rc = host_error("model '%s' names plugin '%s', which makes no models", file, d->name);
        goto fail;
    }
    st = d->load(hm->mf, host, &hm->m);
    if (st) {
        rc = host_fail(nota_error_prefix(st, "loading model '%s': ", file));
        goto fail;
    }
    hm->data_ndim = d->data_shape(hm->m, hm->data_shape);
    if (hm->data_ndim < 0 || hm->data_ndim > NOTA_MAX_DIMS) hm->data_ndim = 0;
    return HOST_EXIT_OK;
fail:
    host_model_close(hm);
    return rc;
}

void host_model_close(host_model *hm) {
    if (hm->prior) {
        host_model_close(hm->prior);
        free(hm->prior);
    }
    if (hm->m && hm->plugin) hm->plugin->desc->destroy(hm->m);
    host_plugin_close(hm->plugin);
    nota_modelfile_free(hm->mf);
    memset(hm, 0, sizeof *hm);
}

nota_status host_data_load(const host_ctx *c, const char *spec, bool dequantize, uint64_t seed,
                           nota_dataset **ds, nota_tensor **x) {
    *x = NULL;
    nota_data_filter f = {.label = c->args.label, .limit = c->args.limit};
    nota_status st = nota_dataset_open(spec, &f, ds);
    if (st) return st;
    st = nota_dataset_to_f32(*ds, dequantize, seed, x);
    if (st) {
        nota_dataset_free(*ds);
        *ds = NULL;
    }
    return st;
}

nota_status host_check_items(const host_model *hm, const char *model_file, const char *spec,
                             const nota_tensor *x) {
    if (hm->data_ndim == 0) return NOTA_OK; /* the plugin does not say */
    bool same = x->ndim - 1 == hm->data_ndim;
    for (int i = 0; same && i < hm->data_ndim; i++)
        same = x->shape[i + 1] == hm->data_shape[i];
    if (same) return NOTA_OK;
    char want[128], got[128];
    nota_shape_str(hm->data_ndim, hm->data_shape, want, sizeof want);
    nota_shape_str(x->ndim - 1, x->shape + 1, got, sizeof got);
    return nota_error(NOTA_ESHAPE,
                      "model '%s' takes items of shape %s, data '%s' has items of "
                      "shape %s",
                      model_file, want, spec, got);
}

bool host_is_image(int ndim, const int64_t *shape) {
    return ndim == 3 && (shape[0] == 1 || shape[0] == 3);
}

nota_status host_mean_log_prob(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                               const nota_host *host, double *mean) {
    enum { BATCH = 1024 };
    int64_t n = x->shape[0];
    double sum = 0;
    for (int64_t start = 0; start < n; start += BATCH) {
        if (nota_cancelled(host)) return nota_error(NOTA_ECANCELED, "cancelled");
        int64_t count = n - start < BATCH ? n - start : BATCH;
        nota_tensor *view, *lp = NULL;
        nota_status st = nota_tensor_rows(x, start, count, &view);
        if (st) return st;
        st = p->log_prob(m, view, host, &lp);
        nota_tensor_free(view);
        if (st) return st;
        const float *v = nota_tensor_f32(lp);
        if (!v || nota_tensor_numel(lp) != (size_t)count) {
            nota_tensor_free(lp);
            return nota_error(NOTA_ESHAPE,
                              "plugin '%s': log_prob returned %zu values for %lld items", p->name,
                              v ? nota_tensor_numel(lp) : 0, (long long)count);
        }
        for (int64_t i = 0; i < count; i++) {
            if (!isfinite(v[i])) {
                double bad = v[i];
                nota_tensor_free(lp);
                return nota_error(NOTA_ENUMERIC, "plugin '%s': log_prob of item %lld is %g",
                                  p->name, (long long)(start + i), bad);
            }
            sum += v[i];
        }
        nota_tensor_free(lp);
        nota_progress(host, "log_prob", (double)(start + count), (double)n, "");
    }
    *mean = n > 0 ? sum / (double)n : 0;
    return NOTA_OK;
}

double host_bits_per_dim(double mean_log_prob, const nota_tensor *x) {
    return -mean_log_prob / ((double)nota_tensor_row_size(x) * log(2.0));
}

int host_with_model(host_ctx *c, host_model_body body) {
    host_runner r;
    host_runner_opts o = host_ctx_runner_opts(c);
    nota_status st = host_runner_init(&r, &o);
    if (st) return host_fail(st);
    host_model hm;
    int rc = host_model_open(c, host_runner_host(&r), &hm);
    if (!rc) {
        rc = body(c, &r, &hm);
        host_model_close(&hm);
    }
    host_runner_close(&r);
    return rc;
}

int host_plugin_config(const host_ctx *c, const nota_plugin *p, nota_config **cfg) {
    nota_status st =
        nota_config_from_options(p->options, p->n_options, c->args.sets, c->args.n_sets, cfg);
    if (!st) return HOST_EXIT_OK;
    /* A bad --set is a mistake on the command line: usage error. */
    host_error("%s", nota_last_error());
    fprintf(stderr, "Run 'nota-host help %s --plugin %s' for its options.\n", c->args.cmd_name,
            c->args.plugin);
    return HOST_EXIT_USAGE;
}
