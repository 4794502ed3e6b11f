/* `nota-host info FILE`: what a model file holds, read with the SDK's
 * validating loader and without loading any plugin (so it also works for
 * models whose plugin is not installed). */
#include <string.h>
#include <time.h>

#include "host.h"

static void text_config(const nota_config *cfg, int indent) {
    char buf[512];
    for (size_t i = 0; i < nota_config_count(cfg); i++)
        printf("%*s%s = %s\n", indent, "", nota_config_key(cfg, i),
               nota_config_value_str(cfg, i, buf, sizeof buf));
}

static void text_tensors(const nota_modelfile *mf, int indent) {
    char shape[128];
    for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
        const char *name = nota_modelfile_tensor_name(mf, i);
        const nota_tensor *t;
        if (nota_modelfile_get_tensor(mf, name, &t) != NOTA_OK) continue;
        printf("%*s%s %s %s\n", indent, "", name, nota_dtype_name(t->dtype),
               nota_shape_str(t->ndim, t->shape, shape, sizeof shape));
    }
}

/* Sub-models as an indented tree: "name: plugin vN", then their tensors. */
static void text_tree(const nota_modelfile *mf, int indent) {
    for (size_t i = 0; i < nota_modelfile_submodel_count(mf); i++) {
        const char *name = nota_modelfile_submodel_name(mf, i);
        const nota_modelfile *sub;
        if (nota_modelfile_get_submodel(mf, name, &sub) != NOTA_OK) continue;
        printf("%*s%s: %s %u\n", indent, "", name, nota_modelfile_plugin(sub),
               (unsigned)nota_modelfile_plugin_version(sub));
        text_tensors(sub, indent + 4);
        text_tree(sub, indent + 2);
    }
}

static void json_config(const nota_config *cfg) {
    char buf[512];
    printf("{");
    for (size_t i = 0; i < nota_config_count(cfg); i++) {
        const char *key = nota_config_key(cfg, i);
        printf("%s", i ? "," : "");
        host_json_str(stdout, key);
        printf(":");
        double f;
        bool b;
        switch (nota_config_type(cfg, i)) {
        case NOTA_VAL_INT:
            printf("%s", nota_config_value_str(cfg, i, buf, sizeof buf));
            break;
        case NOTA_VAL_FLOAT:
            nota_config_get_float(cfg, key, &f);
            host_json_num(stdout, f);
            break;
        case NOTA_VAL_BOOL:
            nota_config_get_bool(cfg, key, &b);
            printf("%s", b ? "true" : "false");
            break;
        default:
            host_json_str(stdout, nota_config_value_str(cfg, i, buf, sizeof buf));
            break;
        }
    }
    printf("}");
}

static void json_model(const nota_modelfile *mf) {
    printf("{\"plugin\":");
    host_json_str(stdout, nota_modelfile_plugin(mf));
    printf(",\"plugin_version\":%u,\"abi_version\":%u,\"config\":",
           (unsigned)nota_modelfile_plugin_version(mf), (unsigned)nota_modelfile_abi_version(mf));
    json_config(nota_modelfile_config(mf));
    printf(",\"tensors\":[");
    for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
        const char *name = nota_modelfile_tensor_name(mf, i);
        const nota_tensor *t;
        if (nota_modelfile_get_tensor(mf, name, &t) != NOTA_OK) continue;
        printf("%s{\"name\":", i ? "," : "");
        host_json_str(stdout, name);
        printf(",\"dtype\":\"%s\",\"shape\":[", nota_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("]}");
    }
    printf("],\"submodels\":[");
    for (size_t i = 0; i < nota_modelfile_submodel_count(mf); i++) {
        const char *name = nota_modelfile_submodel_name(mf, i);
        const nota_modelfile *sub;
        if (nota_modelfile_get_submodel(mf, name, &sub) != NOTA_OK) continue;
        printf("%s{\"name\":", i ? "," : "");
        host_json_str(stdout, name);
        printf(",\"model\":");
        json_model(sub);
        printf("}");
    }
    printf("],\"dataset\":");
    host_json_str(stdout, nota_modelfile_dataset(mf));
    printf(",\"train_seconds\":");
    host_json_num(stdout, nota_modelfile_train_seconds(mf));
    printf(",\"created_unix\":%lld,\"metrics\":{", (long long)nota_modelfile_created_unix(mf));
    for (size_t i = 0; i < nota_modelfile_metric_count(mf); i++) {
        double v;
        const char *name = nota_modelfile_metric_name(mf, i, &v);
        printf("%s", i ? "," : "");
        host_json_str(stdout, name);
        printf(":");
        host_json_num(stdout, v);
    }
    printf("}}");
}

static void text_model(const char *file, const nota_modelfile *mf) {
    char when[64] = "unknown";
    time_t t = (time_t)nota_modelfile_created_unix(mf);
    struct tm tm;
    if (t > 0 && gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    const char *ds = nota_modelfile_dataset(mf);
    printf("model: %s\n", file);
    printf("plugin: %s %u (ABI %u)\n", nota_modelfile_plugin(mf),
           (unsigned)nota_modelfile_plugin_version(mf), (unsigned)nota_modelfile_abi_version(mf));
    printf("created: %s\n", when);
    printf("dataset: %s\n", ds[0] ? ds : "(none)");
    printf("train time: %.3f s\n", nota_modelfile_train_seconds(mf));
    printf("config:\n");
    text_config(nota_modelfile_config(mf), 2);
    printf("tensors:\n");
    text_tensors(mf, 2);
    if (nota_modelfile_submodel_count(mf)) {
        printf("sub-models:\n");
        text_tree(mf, 2);
    }
    printf("metrics:\n");
    for (size_t i = 0; i < nota_modelfile_metric_count(mf); i++) {
        double v;
        const char *name = nota_modelfile_metric_name(mf, i, &v);
        printf("  %s = %.6f\n", name, v);
    }
}

int host_cmd_info(host_ctx *c) {
    nota_modelfile *mf;
    const char *file = c->args.positional;
    nota_status st = nota_modelfile_load(file, NULL, &mf);
    if (st) return host_fail(st);
    int rc = host_model_check_plugin(c, file, nota_modelfile_plugin(mf));
    if (!rc) {
        if (c->args.json) {
            printf("{\"file\":");
            host_json_str(stdout, file);
            printf(",\"model\":");
            json_model(mf);
            printf("}\n");
        } else {
            text_model(file, mf);
        }
    }
    nota_modelfile_free(mf);
    return rc;
}
