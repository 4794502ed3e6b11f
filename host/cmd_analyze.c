/* `nota-host analyze FILE.npy|SPEC`: are the components of a data set
 * Gaussian? Runs D'Agostino's K² and Jarque–Bera (nota/stats.h) on every
 * column of the data flattened to (N, d) and reports how many columns each
 * test rejects at α = 0.05 and 0.01 — Angles & Mallat's Table 1, used to ask
 * whether whitened codes are independent Gaussians or need a richer prior.
 *
 * Images are taken at the centre of each 8-bit level (x + 0.5, no random
 * dequantization), so the answer does not depend on a seed. The work is two
 * passes over the data, quick next to loading it, so it runs on the main
 * thread without the job runner.
 */
#include <stdlib.h>

#include "host.h"

static void print_plain(const char *spec, const nota_normality_summary *s) {
    double d = (double)s->d;
    printf("data %s: %lld items, %lld components", spec, (long long)s->n, (long long)s->d);
    if (s->constant) printf(" (%lld constant, counted as rejected)", (long long)s->constant);
    printf("\n%-22s %-18s %s\n", "test", "rejected a=0.05", "rejected a=0.01");
    printf("%-22s %6lld (%5.1f%%)    %6lld (%5.1f%%)\n", "D'Agostino K^2",
           (long long)s->k2_reject_05, 100.0 * (double)s->k2_reject_05 / d,
           (long long)s->k2_reject_01, 100.0 * (double)s->k2_reject_01 / d);
    printf("%-22s %6lld (%5.1f%%)    %6lld (%5.1f%%)\n", "Jarque-Bera", (long long)s->jb_reject_05,
           100.0 * (double)s->jb_reject_05 / d, (long long)s->jb_reject_01,
           100.0 * (double)s->jb_reject_01 / d);
}

static void print_p(const char *key, const nota_normality *r, int64_t d, bool jb) {
    printf(",\"%s\":[", key);
    for (int64_t j = 0; j < d; j++) {
        if (j) printf(",");
        host_json_num(stdout, jb ? r[j].p_jb : r[j].p_k2);
    }
    printf("]");
}

static void print_json(const char *spec, const nota_normality_summary *s, const nota_normality *r) {
    printf("{\"data\":");
    host_json_str(stdout, spec);
    printf(",\"items\":%lld,\"components\":%lld,\"constant\":%lld", (long long)s->n,
           (long long)s->d, (long long)s->constant);
    printf(",\"dagostino_k2\":{\"reject_0.05\":%lld,\"reject_0.01\":%lld}",
           (long long)s->k2_reject_05, (long long)s->k2_reject_01);
    printf(",\"jarque_bera\":{\"reject_0.05\":%lld,\"reject_0.01\":%lld}",
           (long long)s->jb_reject_05, (long long)s->jb_reject_01);
    print_p("p_k2", r, s->d, false);
    print_p("p_jb", r, s->d, true);
    printf("}\n");
}

int host_cmd_analyze(host_ctx *c) {
    const char *spec = c->args.positional;
    nota_dataset *ds = NULL;
    nota_tensor *x = NULL;
    nota_normality *per = NULL;
    nota_normality_summary sum;
    nota_status st = host_data_load(c, spec, false, 0, &ds, &x);
    if (!st && x->ndim >= 2) {
        per = malloc(nota_tensor_row_size(x) * sizeof *per);
        if (!per) st = nota_error(NOTA_ENOMEM, "analyze: cannot allocate results");
    }
    if (!st) st = nota_normality_columns(x, spec, per, &sum);
    int rc = HOST_EXIT_OK;
    if (st)
        rc = host_fail(st);
    else if (c->args.json)
        print_json(spec, &sum, per);
    else
        print_plain(spec, &sum);
    free(per);
    nota_tensor_free(x);
    if (ds) nota_dataset_free(ds);
    return rc;
}
