/* `nota-host fit`: build a config from the plugin's options and --set, load
 * the data, fit on a worker thread (with progress and Ctrl-C), then save the
 * model with its training metadata. Nothing is written unless the fit
 * finished and was not interrupted; the save itself is atomic. */
#include <string.h>

#include "host.h"

enum { TRAIN_METRIC_ITEMS = 10000 };

typedef struct fit_state {
    const nota_plugin *p;
    nota_model *m;
    nota_tensor *train, *valid;
    double seconds;
    double train_bpd, valid_bpd;
    bool has_bpd; /* log_prob ran: a plugin may refuse it (ENOTSUP) for some models */
} fit_state;

static nota_status fit_job(host_job *job, const nota_host *host) {
    fit_state *s = job->arg;
    uint64_t t0 = uv_hrtime();
    nota_status st = s->p->fit(s->m, s->train, s->valid, host);
    s->seconds = (double)(uv_hrtime() - t0) * 1e-9;
    if (st) return st;
    if (nota_cancelled(host)) return nota_error(NOTA_ECANCELED, "cancelled");
    if (!(s->p->caps & NOTA_CAP_LOG_PROB)) return NOTA_OK;
    /* Training bits/dim on at most the first TRAIN_METRIC_ITEMS items: enough
     * for a stable number, and a density that is costly to evaluate (a VAE's
     * importance-weighted bound) does not take longer than the fit itself. */
    double mean;
    nota_tensor *head;
    int64_t n = s->train->shape[0] < TRAIN_METRIC_ITEMS ? s->train->shape[0] : TRAIN_METRIC_ITEMS;
    st = nota_tensor_rows(s->train, 0, n, &head);
    if (st) return st;
    st = host_mean_log_prob(s->p, s->m, head, host, &mean);
    nota_tensor_free(head);
    if (st == NOTA_ENOTSUP) return NOTA_OK; /* e.g. latent's GAN: no density to report */
    if (st) return nota_error_prefix(st, "after fit: ");
    s->has_bpd = true;
    s->train_bpd = host_bits_per_dim(mean, s->train);
    if (!s->valid) return NOTA_OK;
    st = host_mean_log_prob(s->p, s->m, s->valid, host, &mean);
    if (st) return nota_error_prefix(st, "after fit, on --valid: ");
    s->valid_bpd = host_bits_per_dim(mean, s->valid);
    return NOTA_OK;
}

static nota_status save_model(const host_ctx *c, const fit_state *s, const nota_config *cfg,
                              const nota_dataset *ds) {
    nota_modelfile *mf;
    nota_status st = nota_modelfile_new(s->p->name, s->p->version, &mf);
    if (st) return st;
    st = nota_modelfile_set_config(mf, cfg); /* the plugin's save may refine it */
    if (!st) st = s->p->save(s->m, mf);
    if (st) st = nota_error_prefix(st, "plugin '%s' could not save its model: ", s->p->name);
    if (!st) st = nota_modelfile_set_dataset(mf, ds->name);
    if (!st) st = nota_modelfile_set_train_seconds(mf, s->seconds);
    if (!st && s->has_bpd) {
        st = nota_modelfile_set_metric(mf, "train_bits_per_dim", s->train_bpd);
        if (!st && s->valid) st = nota_modelfile_set_metric(mf, "valid_bits_per_dim", s->valid_bpd);
    }
    if (!st) st = nota_modelfile_save(mf, c->args.out);
    nota_modelfile_free(mf);
    return st;
}

static void report(const host_ctx *c, const fit_state *s, const nota_dataset *ds) {
    bool lp = s->has_bpd;
    if (c->args.json) {
        printf("{\"model\":");
        host_json_str(stdout, c->args.out);
        printf(",\"plugin\":");
        host_json_str(stdout, s->p->name);
        printf(",\"plugin_version\":%u,\"dataset\":", (unsigned)s->p->version);
        host_json_str(stdout, ds->name);
        printf(",\"items\":%lld,\"train_seconds\":", (long long)s->train->shape[0]);
        host_json_num(stdout, s->seconds);
        printf(",\"metrics\":{");
        if (lp) {
            printf("\"train_bits_per_dim\":");
            host_json_num(stdout, s->train_bpd);
            if (s->valid) {
                printf(",\"valid_bits_per_dim\":");
                host_json_num(stdout, s->valid_bpd);
            }
        }
        printf("}}\n");
        return;
    }
    printf("saved %s (plugin %s %u, %lld items of %s, %.3f s)\n", c->args.out, s->p->name,
           (unsigned)s->p->version, (long long)s->train->shape[0], ds->name, s->seconds);
    if (lp) printf("train_bits_per_dim %.6f\n", s->train_bpd);
    if (lp && s->valid) printf("valid_bits_per_dim %.6f\n", s->valid_bpd);
}

/* Validation items must have the training items' shape. */
static nota_status check_valid(const host_ctx *c, const nota_tensor *train,
                               const nota_tensor *valid) {
    bool same = train->ndim == valid->ndim;
    for (int i = 1; same && i < train->ndim; i++)
        same = train->shape[i] == valid->shape[i];
    if (same) return NOTA_OK;
    char a[128], b[128];
    return nota_error(NOTA_ESHAPE, "--valid '%s' has items of shape %s, --data '%s' has %s",
                      c->args.valid, nota_shape_str(valid->ndim - 1, valid->shape + 1, a, sizeof a),
                      c->args.data, nota_shape_str(train->ndim - 1, train->shape + 1, b, sizeof b));
}

int host_cmd_fit(host_ctx *c) {
    host_plugin *plug;
    nota_status st = host_plugin_open(&c->registry, c->args.plugin, &plug);
    if (st) return host_fail(st);
    const nota_plugin *p = plug->desc;
    int rc = HOST_EXIT_OK;
    nota_config *cfg = NULL;
    nota_dataset *ds = NULL, *vds = NULL;
    fit_state s = {.p = p};
    host_runner r;
    bool runner = false;
    if (!(p->caps & NOTA_CAP_FIT)) {
        char caps[160];
        rc = host_error("plugin '%s' cannot fit (capabilities: %s)", p->name,
                        host_caps_str(p->caps, caps, sizeof caps));
        goto done;
    }
    if ((rc = host_plugin_config(c, p, &cfg))) goto done;
    st = host_check_out_dir(c->args.out);
    if (!st) {
        host_runner_opts o = host_ctx_runner_opts(c);
        st = host_runner_init(&r, &o);
        runner = !st;
    }
    if (!st) st = host_data_load(c, c->args.data, true, c->args.seed, &ds, &s.train);
    if (!st && c->args.valid)
        st = host_data_load(c, c->args.valid, true, c->args.seed + 1, &vds, &s.valid);
    if (!st && s.valid) st = check_valid(c, s.train, s.valid);
    if (!st) st = p->create(cfg, host_runner_host(&r), &s.m);
    if (st) {
        rc = host_fail(st);
        goto done;
    }
    host_job job = {.name = "fit", .device = {NOTA_DEVICE_CPU, 0}, .run = fit_job, .arg = &s};
    st = host_runner_submit(&r, &job);
    if (!st) {
        host_runner_run(&r);
        st = host_runner_cancelled(&r) ? NOTA_ECANCELED : host_job_raise(&job);
    }
    if (!st) st = save_model(c, &s, cfg, ds);
    if (st) {
        rc = host_fail(st);
        goto done;
    }
    report(c, &s, ds);
done:
    if (s.m) p->destroy(s.m);
    nota_tensor_free(s.train);
    nota_tensor_free(s.valid);
    nota_dataset_free(ds);
    nota_dataset_free(vds);
    nota_config_free(cfg);
    if (runner) host_runner_close(&r);
    host_plugin_close(plug);
    return rc;
}
