/* `nota-host sample | encode | decode`: load a model file (its plugin is
 * named inside it), run the plugin's function as a job, then write the
 * result. Outputs are written only after the job finished and was not
 * interrupted. */
#include <string.h>

#include "host.h"

/* GEN_PIPELINE: a pipeline's prior samples, its decoder decodes (one job). */
typedef enum gen_op { GEN_SAMPLE, GEN_ENCODE, GEN_DECODE, GEN_PIPELINE } gen_op;

typedef struct gen_state {
    gen_op op;
    const nota_plugin *p;
    nota_model *m;
    const host_model *prior; /* GEN_PIPELINE */
    int64_t n;
    double temperature;
    const nota_tensor *in;
    nota_tensor *out;
} gen_state;

static nota_status gen_job(host_job *job, const nota_host *host) {
    gen_state *s = job->arg;
    switch (s->op) {
    case GEN_SAMPLE:
        return s->p->sample(s->m, s->n, s->temperature, host, &s->out);
    case GEN_ENCODE:
        return s->p->encode(s->m, s->in, host, &s->out);
    case GEN_DECODE:
        return s->p->decode(s->m, s->in, host, &s->out);
    case GEN_PIPELINE: {
        const nota_plugin *pp = s->prior->plugin->desc;
        nota_tensor *z = NULL;
        nota_status st = pp->sample(s->prior->m, s->n, s->temperature, host, &z);
        if (!st && (!z || !nota_tensor_f32(z) || z->ndim < 1 || z->shape[0] != s->n))
            st = nota_error(NOTA_ESHAPE, "plugin '%s': sample did not return f32 (%lld, ...)",
                            pp->name, (long long)s->n);
        if (!st) st = s->p->decode(s->m, z, host, &s->out);
        nota_tensor_free(z);
        return st;
    }
    }
    return nota_error(NOTA_EINVAL, "unknown job");
}

/* The plugin's result must be f32 with one row per input item. */
static nota_status check_out(const gen_state *s, int64_t rows) {
    static const char *const fn[] = {"sample", "encode", "decode", "sample"};
    if (!s->out || !nota_tensor_f32(s->out) || s->out->ndim < 1 || s->out->shape[0] != rows)
        return nota_error(NOTA_ESHAPE, "plugin '%s': %s did not return f32 (%lld, ...)", s->p->name,
                          fn[s->op], (long long)rows);
    return nota_tensor_check_finite(s->out, fn[s->op]);
}

/* Run one gen_state as a job on a fresh runner; 0 or an exit code. */
static int run_gen(host_runner *r, gen_state *s, const char *name) {
    host_job job = {.name = name, .device = {NOTA_DEVICE_CPU, 0}, .run = gen_job, .arg = s};
    nota_status st = host_runner_submit(r, &job);
    if (!st) {
        host_runner_run(r);
        st = host_runner_cancelled(r) ? NOTA_ECANCELED : host_job_raise(&job);
    }
    return st ? host_fail(st) : HOST_EXIT_OK;
}

static int need_cap(const host_ctx *c, const host_model *hm, uint32_t cap, const char *what) {
    if (hm->plugin->desc->caps & cap) return HOST_EXIT_OK;
    return host_error("model '%s' (plugin '%s') cannot %s", c->args.positional,
                      hm->plugin->desc->name, what);
}

static void print_written(const char *path, const nota_tensor *t) {
    char shape[128];
    printf("wrote %s %s\n", path, nota_shape_str(t->ndim, t->shape, shape, sizeof shape));
}

static int write_result(const host_model *hm, const char *prefix, const nota_tensor *t) {
    bool image = host_is_image(hm->data_ndim, hm->data_shape) && t->ndim == 4;
    nota_status st = host_write_batch(prefix, t, image);
    if (st) return host_fail(st);
    char path[4096];
    snprintf(path, sizeof path, "%s.npy", prefix);
    print_written(path, t);
    if (image) printf("wrote %s.png\n", prefix);
    return HOST_EXIT_OK;
}


static int sample_body(host_ctx *c, host_runner *r, host_model *hm) {
    int rc = hm->prior ? HOST_EXIT_OK : need_cap(c, hm, NOTA_CAP_SAMPLE, "sample");
    if (rc) return rc;
    const char *prefix = c->args.out ? c->args.out : "samples";
    char path[4096];
    snprintf(path, sizeof path, "%s.npy", prefix);
    nota_status st = host_check_out_dir(path);
    if (st) return host_fail(st);
    gen_state s = {.op = hm->prior ? GEN_PIPELINE : GEN_SAMPLE,
                   .prior = hm->prior,
                   .p = hm->plugin->desc,
                   .m = hm->m,
                   .n = c->args.n,
                   .temperature = c->args.temperature};
    rc = run_gen(r, &s, "sample");
    if (!rc) {
        st = check_out(&s, s.n);
        rc = st ? host_fail(st) : write_result(hm, prefix, s.out);
    }
    nota_tensor_free(s.out);
    return rc;
}

static int encode_body(host_ctx *c, host_runner *r, host_model *hm) {
    int rc = need_cap(c, hm, NOTA_CAP_ENCODE, "encode");
    if (rc) return rc;
    nota_dataset *ds = NULL;
    gen_state s = {.op = GEN_ENCODE, .p = hm->plugin->desc, .m = hm->m};
    nota_tensor *x = NULL;
    /* Codes of images are taken at the centre of each 8-bit level (x + 0.5):
     * the same data always gives the same codes. */
    nota_status st = host_check_out_dir(c->args.out);
    if (!st) st = host_data_load(c, c->args.data, false, 0, &ds, &x);
    if (!st) st = host_check_items(hm, c->args.positional, c->args.data, x);
    if (st) rc = host_fail(st);
    if (!rc) {
        s.in = x;
        rc = run_gen(r, &s, "encode");
    }
    if (!rc) {
        st = check_out(&s, x->shape[0]);
        if (!st) st = nota_npy_write(c->args.out, s.out);
        if (st)
            rc = host_fail(st);
        else
            print_written(c->args.out, s.out);
    }
    nota_tensor_free(s.out);
    nota_tensor_free(x);
    if (ds) nota_dataset_free(ds);
    return rc;
}

static nota_status check_codes(const host_ctx *c, const host_model *hm, const nota_tensor *z) {
    const char *file = c->args.codes;
    if (!nota_tensor_f32(z) || z->ndim < 2)
        return nota_error(NOTA_EINVAL, "codes '%s' must be f32 (N, ...), found %s of %d dims", file,
                          nota_dtype_name(z->dtype), z->ndim);
    int64_t shape[NOTA_MAX_DIMS];
    int nd = hm->plugin->desc->code_shape(hm->m, shape);
    bool same = nd <= 0 || nd > NOTA_MAX_DIMS || nd == z->ndim - 1;
    for (int i = 0; same && nd > 0 && i < nd; i++)
        same = shape[i] == z->shape[i + 1];
    if (!same) {
        char want[128], got[128];
        return nota_error(NOTA_ESHAPE,
                          "model '%s' takes codes of shape %s, '%s' has codes of "
                          "shape %s",
                          c->args.positional, nota_shape_str(nd, shape, want, sizeof want), file,
                          nota_shape_str(z->ndim - 1, z->shape + 1, got, sizeof got));
    }
    return nota_tensor_check_finite(z, file);
}

static int decode_body(host_ctx *c, host_runner *r, host_model *hm) {
    int rc = need_cap(c, hm, NOTA_CAP_DECODE, "decode");
    if (rc) return rc;
    nota_tensor *z = NULL;
    gen_state s = {.op = GEN_DECODE, .p = hm->plugin->desc, .m = hm->m};
    char path[4096];
    snprintf(path, sizeof path, "%s.npy", c->args.out);
    nota_status st = host_check_out_dir(path);
    if (!st) st = nota_npy_read(c->args.codes, &z);
    if (!st) st = check_codes(c, hm, z);
    if (st) rc = host_fail(st);
    if (!rc) {
        s.in = z;
        rc = run_gen(r, &s, "decode");
    }
    if (!rc) {
        st = check_out(&s, z->shape[0]);
        rc = st ? host_fail(st) : write_result(hm, c->args.out, s.out);
    }
    nota_tensor_free(s.out);
    nota_tensor_free(z);
    return rc;
}

int host_cmd_sample(host_ctx *c) { return host_with_model(c, sample_body); }
int host_cmd_encode(host_ctx *c) { return host_with_model(c, encode_body); }
int host_cmd_decode(host_ctx *c) { return host_with_model(c, decode_body); }
