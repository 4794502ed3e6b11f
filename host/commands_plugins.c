/* `nota-host plugins`: every plugin in the search folders (first of each
 * name), opened and checked exactly as for use, so that a broken plugin shows
 * up here with the reason instead of later in the middle of a job. A plugin
 * that fails its checks is reported as a warning on stderr and skipped. */
#include <string.h>

#include "host.h"

typedef struct list_ctx {
    bool json;
    int count;
} list_ctx;

static void print_caps_json(uint32_t caps) {
    char buf[160];
    host_caps_str(caps, buf, sizeof buf);
    printf("[");
    int k = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        printf("%s\"%s\"", k++ ? "," : "", tok);
    printf("]");
}

static void print_plugin(list_ctx *l, const host_plugin *p) {
    const nota_plugin *d = p->desc;
    if (l->json) {
        printf("%s{\"name\":", l->count ? "," : "");
        host_json_str(stdout, d->name);
        printf(",\"version\":%u,\"family\":", (unsigned)d->version);
        host_json_str(stdout, d->family);
        printf(",\"description\":");
        host_json_str(stdout, d->description ? d->description : "");
        printf(",\"capabilities\":");
        print_caps_json(d->caps);
        printf(",\"path\":");
        host_json_str(stdout, p->path);
        printf("}");
    } else {
        char caps[160];
        printf("%-12s %-8u %-12s %-40s %s\n", d->name, (unsigned)d->version, d->family,
               host_caps_str(d->caps, caps, sizeof caps), p->path);
    }
    l->count++;
}

static nota_status visit(void *ctx, const char *name, const char *path) {
    list_ctx *l = ctx;
    host_plugin *p;
    if (host_plugin_open_file(path, name, &p) != NOTA_OK) {
        fprintf(stderr, "nota-host: warning: skipping plugin '%s': %s\n", name, nota_last_error());
        return NOTA_OK;
    }
    print_plugin(l, p);
    host_plugin_close(p);
    return NOTA_OK;
}

int host_cmd_plugins(host_ctx *c) {
    list_ctx l = {.json = c->args.json, .count = 0};
    host_plugin *one = NULL;
    /* Open a named plugin first, so that a failure prints nothing on stdout. */
    if (c->args.plugin) {
        nota_status st = host_plugin_open(&c->registry, c->args.plugin, &one);
        if (st) return host_fail(st);
    }
    if (l.json)
        printf("{\"plugins\":[");
    else
        printf("%-12s %-8s %-12s %-40s %s\n", "NAME", "VERSION", "FAMILY", "CAPABILITIES", "PATH");
    nota_status st = NOTA_OK;
    if (one) {
        print_plugin(&l, one);
        host_plugin_close(one);
    } else {
        st = host_registry_each(&c->registry, visit, &l);
    }
    if (l.json) printf("]}\n");
    return st ? host_fail(st) : HOST_EXIT_OK;
}
