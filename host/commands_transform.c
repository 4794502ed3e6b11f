/* `nota-host transform --plugin NAME --data SPEC --out OUT.npy`: apply a
 * plugin's fixed feature map (the scattering transform) to a data set and
 * write the result as one .npy, without fitting or saving a model. Images
 * are taken at the centre of each 8-bit level (x + 0.5, no dequantization
 * noise), so the same data always gives the same features. The transform
 * runs as a job (threads, progress, Ctrl-C); the output is written only
 * after it finished. */
#include "host.h"

typedef struct transform_state {
    const nota_plugin *p;
    const nota_config *cfg;
    const nota_tensor *x;
    nota_tensor *out;
} transform_state;

static nota_status transform_job(host_job *job, const nota_host *host) {
    transform_state *s = job->arg;
    return s->p->transform(s->cfg, s->x, host, &s->out);
}

/* The plugin's result must be finite f32 with one row per input item. */
static nota_status check_out(const transform_state *s) {
    int64_t rows = s->x->shape[0];
    if (!s->out || !nota_tensor_f32(s->out) || s->out->ndim < 1 || s->out->shape[0] != rows)
        return nota_error(NOTA_ESHAPE, "plugin '%s': transform did not return f32 (%lld, ...)",
                          s->p->name, (long long)rows);
    return nota_tensor_check_finite(s->out, "transform");
}

int host_cmd_transform(host_ctx *c) {
    host_plugin *plug;
    nota_status st = host_plugin_open(&c->registry, c->args.plugin, &plug);
    if (st) return host_fail(st);
    const nota_plugin *p = plug->desc;
    int rc = HOST_EXIT_OK;
    nota_config *cfg = NULL;
    nota_dataset *ds = NULL;
    nota_tensor *x = NULL;
    transform_state s = {.p = p};
    host_runner r;
    bool runner = false;
    if (!(p->caps & NOTA_CAP_TRANSFORM) || !p->transform) {
        char caps[160];
        rc = host_error("plugin '%s' has no transform (capabilities: %s)", p->name,
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
    if (!st) st = host_data_load(c, c->args.data, false, 0, &ds, &x);
    s.cfg = cfg;
    s.x = x;
    if (!st) {
        host_job job = {
            .name = "transform", .device = {NOTA_DEVICE_CPU, 0}, .run = transform_job, .arg = &s};
        st = host_runner_submit(&r, &job);
        if (!st) {
            host_runner_run(&r);
            st = host_runner_cancelled(&r) ? NOTA_ECANCELED : host_job_raise(&job);
        }
    }
    if (!st) st = check_out(&s);
    if (!st) st = nota_npy_write(c->args.out, s.out);
    if (st) {
        rc = host_fail(st);
    } else {
        char shape[128];
        printf("wrote %s %s\n", c->args.out,
               nota_shape_str(s.out->ndim, s.out->shape, shape, sizeof shape));
    }
done:
    nota_tensor_free(x);
    nota_tensor_free(s.out);
    nota_dataset_free(ds);
    nota_config_free(cfg);
    if (runner) host_runner_close(&r);
    host_plugin_close(plug);
    return rc;
}
