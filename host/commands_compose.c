/* Pipelines: a prior (any model that samples vectors) composed with a
 * decoder (any model that decodes them), saved as one model file whose
 * plugin name is "pipeline" and whose two sub-models are "prior" and
 * "decoder", each a complete model file of its own plugin.
 *
 * `nota-host compose PRIOR.nota DECODER.nota --out P.nota` checks that the
 * prior can sample, the decoder can decode, and that the prior's items have
 * the shape of the decoder's codes (both shapes in the refusal). Opening a
 * pipeline (host_pipeline_open, called by host_model_open) loads both
 * sub-models with their plugins; the host_model is the decoder's, with the
 * prior attached, so `sample` draws from the prior and decodes, and every
 * other command (decode, encode, eval) is the decoder's. `info` shows the
 * tree from the file. Pipelines do not nest.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Load one sub-model: its plugin from the registry by the name it records. */
static int open_sub(host_ctx *c, const char *file, const char *name, const nota_modelfile *sub,
                    const nota_host *host, host_model *hm) {
    const char *made_by = nota_modelfile_plugin(sub);
    if (strcmp(made_by, HOST_PIPELINE_PLUGIN) == 0)
        return host_error("model '%s': sub-model '%s' is itself a pipeline (they do not nest)",
                          file, name);
    nota_status st = host_plugin_open(&c->registry, made_by, &hm->plugin);
    if (st)
        return host_fail(nota_error_prefix(
            st, "model '%s', sub-model '%s' needs plugin '%s': ", file, name, made_by));
    const nota_plugin *d = hm->plugin->desc;
    if (!d->load)
        return host_error("model '%s', sub-model '%s' names plugin '%s', which makes no models",
                          file, name, made_by);
    st = d->load(sub, host, &hm->m);
    if (st)
        return host_fail(nota_error_prefix(st, "loading model '%s', sub-model '%s': ", file, name));
    hm->data_ndim = d->data_shape(hm->m, hm->data_shape);
    if (hm->data_ndim < 0 || hm->data_ndim > NOTA_MAX_DIMS) hm->data_ndim = 0;
    return HOST_EXIT_OK;
}

int host_pipeline_open(host_ctx *c, const char *file, const nota_host *host, host_model *hm) {
    const nota_modelfile *prior, *dec;
    nota_status st = nota_modelfile_get_submodel(hm->mf, "prior", &prior);
    if (!st) st = nota_modelfile_get_submodel(hm->mf, "decoder", &dec);
    if (st) return host_fail(nota_error_prefix(st, "pipeline '%s': ", file));
    hm->prior = calloc(1, sizeof *hm->prior);
    if (!hm->prior) return host_error("out of memory opening pipeline '%s'", file);
    int rc = open_sub(c, file, "prior", prior, host, hm->prior);
    if (!rc) rc = open_sub(c, file, "decoder", dec, host, hm);
    return rc;
}

/* What a part of a pipeline must offer; 0 or an exit code. */
static int check_part(const host_model *hm, const char *file, const char *role, uint32_t cap,
                      const char *verb) {
    const nota_plugin *d = hm->plugin->desc;
    if (hm->prior) return host_error("%s '%s' is a pipeline (they do not nest)", role, file);
    if (!(d->caps & cap))
        return host_error("%s '%s' (plugin '%s') cannot %s", role, file, d->name, verb);
    return HOST_EXIT_OK;
}

int host_cmd_compose(host_ctx *c) {
    const char *pf = c->args.positional, *df = c->args.positional2;
    host_runner r;
    host_runner_opts o = host_ctx_runner_opts(c);
    nota_status st = host_check_out_dir(c->args.out);
    if (!st) st = host_runner_init(&r, &o);
    if (st) return host_fail(st);
    const nota_host *host = host_runner_host(&r);
    host_model prior, dec;
    memset(&dec, 0, sizeof dec);
    int rc = host_model_open_file(c, pf, host, &prior);
    if (!rc) rc = host_model_open_file(c, df, host, &dec);
    if (!rc) rc = check_part(&prior, pf, "prior", NOTA_CAP_SAMPLE, "sample");
    if (!rc) rc = check_part(&dec, df, "decoder", NOTA_CAP_DECODE, "decode");
    int64_t code[NOTA_MAX_DIMS];
    int nd = rc ? 0 : dec.plugin->desc->code_shape(dec.m, code);
    if (!rc && (nd <= 0 || nd > NOTA_MAX_DIMS))
        rc = host_error("decoder '%s' does not report the shape of its codes", df);
    if (!rc && prior.data_ndim == 0)
        rc = host_error("prior '%s' does not report the shape of its samples", pf);
    bool same = !rc && nd == prior.data_ndim;
    for (int i = 0; same && i < nd; i++)
        same = code[i] == prior.data_shape[i];
    if (!rc && !same) {
        char a[128], b[128];
        rc =
            host_error("prior '%s' samples items of shape %s, decoder '%s' takes codes of shape %s",
                       pf, nota_shape_str(prior.data_ndim, prior.data_shape, a, sizeof a), df,
                       nota_shape_str(nd, code, b, sizeof b));
    }
    nota_modelfile *mf = NULL;
    if (!rc) {
        st = nota_modelfile_new(HOST_PIPELINE_PLUGIN, HOST_PIPELINE_VERSION, &mf);
        /* the file takes the two parts as they were loaded, bit for bit */
        if (!st) st = nota_modelfile_add_submodel(mf, "prior", prior.mf);
        prior.mf = NULL;
        if (!st) st = nota_modelfile_add_submodel(mf, "decoder", dec.mf);
        dec.mf = NULL;
        if (!st) st = nota_modelfile_save(mf, c->args.out);
        if (st) rc = host_fail(st);
    }
    if (!rc) {
        char s[128];
        printf("wrote %s (pipeline: prior %s (%s) samples codes %s for decoder %s (%s))\n",
               c->args.out, pf, prior.plugin->desc->name, nota_shape_str(nd, code, s, sizeof s), df,
               dec.plugin->desc->name);
    }
    nota_modelfile_free(mf);
    host_model_close(&prior);
    host_model_close(&dec);
    host_runner_close(&r);
    return rc;
}
