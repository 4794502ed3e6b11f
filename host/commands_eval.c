/* `nota-host eval`: score a model on held-out data. With log_prob the host
 * computes bits/dim = -mean(log_prob) / (D ln 2) itself, on data dequantized
 * with a fixed seed (HOST_EVAL_SEED) so that repeated runs agree; with eval
 * the plugin adds its own metrics. Both run as one job. */
#include <string.h>

#include "host.h"

#define EVAL_MAX_METRICS 64

typedef struct eval_state {
    const nota_plugin *p;
    nota_model *m;
    const nota_tensor *x;
    double bpd;
    bool has_bpd; /* log_prob ran: a plugin may refuse it (ENOTSUP) for some models */
    nota_metric metrics[EVAL_MAX_METRICS];
    size_t n_metrics;
} eval_state;

static nota_status eval_job(host_job *job, const nota_host *host) {
    eval_state *s = job->arg;
    if (s->p->caps & NOTA_CAP_LOG_PROB) {
        double mean;
        nota_status st = host_mean_log_prob(s->p, s->m, s->x, host, &mean);
        /* e.g. latent's GAN has no density: report its eval metrics alone */
        if (st && !(st == NOTA_ENOTSUP && (s->p->caps & NOTA_CAP_EVAL))) return st;
        s->has_bpd = !st;
        if (!st) s->bpd = host_bits_per_dim(mean, s->x);
    }
    if (!(s->p->caps & NOTA_CAP_EVAL)) return NOTA_OK;
    if (nota_cancelled(host)) return nota_error(NOTA_ECANCELED, "cancelled");
    nota_status st = s->p->eval(s->m, s->x, host, s->metrics, EVAL_MAX_METRICS, &s->n_metrics);
    if (st) return st;
    if (s->n_metrics > EVAL_MAX_METRICS)
        return nota_error(NOTA_ELIMIT, "plugin '%s': eval reported %zu metrics, room for %d",
                          s->p->name, s->n_metrics, EVAL_MAX_METRICS);
    for (size_t i = 0; i < s->n_metrics; i++)
        s->metrics[i].name[sizeof s->metrics[i].name - 1] = '\0';
    return NOTA_OK;
}

/* The host's own bits/dim wins over a plugin metric of the same name, so
 * that the JSON object never holds one key twice. */
static bool shadowed(const eval_state *s, size_t i) {
    return s->has_bpd && strcmp(s->metrics[i].name, "bits_per_dim") == 0;
}

static void report(const host_ctx *c, const eval_state *s) {
    bool lp = s->has_bpd;
    if (c->args.json) {
        printf("{\"model\":");
        host_json_str(stdout, c->args.positional);
        printf(",\"data\":");
        host_json_str(stdout, c->args.data);
        printf(",\"items\":%lld,\"metrics\":{", (long long)s->x->shape[0]);
        if (lp) {
            printf("\"bits_per_dim\":");
            host_json_num(stdout, s->bpd);
        }
        bool first = !lp;
        for (size_t i = 0; i < s->n_metrics; i++) {
            if (shadowed(s, i)) continue;
            printf("%s", first ? "" : ",");
            first = false;
            host_json_str(stdout, s->metrics[i].name);
            printf(":");
            host_json_num(stdout, s->metrics[i].value);
        }
        printf("}}\n");
        return;
    }
    if (lp) printf("bits_per_dim %.6f\n", s->bpd);
    for (size_t i = 0; i < s->n_metrics; i++)
        if (!shadowed(s, i)) printf("%s %.6g\n", s->metrics[i].name, s->metrics[i].value);
}

static int eval_model(host_ctx *c, host_runner *r, host_model *hm) {
    const nota_plugin *p = hm->plugin->desc;
    if (!(p->caps & (NOTA_CAP_LOG_PROB | NOTA_CAP_EVAL)))
        return host_error("model '%s' (plugin '%s') has neither log_prob nor eval",
                          c->args.positional, p->name);
    nota_dataset *ds = NULL;
    nota_tensor *x = NULL;
    eval_state s = {.p = p, .m = hm->m};
    int rc = HOST_EXIT_OK;
    nota_status st = host_data_load(c, c->args.data, true, HOST_EVAL_SEED, &ds, &x);
    if (!st) st = host_check_items(hm, c->args.positional, c->args.data, x);
    if (!st) {
        s.x = x;
        host_job job = {.name = "eval", .device = {NOTA_DEVICE_CPU, 0}, .run = eval_job, .arg = &s};
        st = host_runner_submit(r, &job);
        if (!st) {
            host_runner_run(r);
            st = host_runner_cancelled(r) ? NOTA_ECANCELED : host_job_raise(&job);
        }
    }
    if (st)
        rc = host_fail(st);
    else
        report(c, &s);
    nota_tensor_free(x);
    if (ds) nota_dataset_free(ds);
    return rc;
}

int host_cmd_eval(host_ctx *c) { return host_with_model(c, eval_model); }
