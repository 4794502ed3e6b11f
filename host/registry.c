/* Plugin search and loading (see registry.h).
 *
 * The checks run in the order that keeps untrusted bytes from running: file
 * mode first (a plugin anyone on the machine can rewrite is refused before it
 * is mapped), then dlopen, then the entry symbol, then the descriptor's ABI
 * fields, and only then its contents. The stat/dlopen pair is not atomic; the
 * mode check guards against careless permissions, not against an attacker who
 * already owns the folder.
 */
#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NOTA_PLUGIN_INSTALL_DIR
#define NOTA_PLUGIN_INSTALL_DIR ""
#endif

static nota_status add_dir(host_registry *r, const char *dir, size_t len) {
    if (len == 0) return NOTA_OK;
    for (size_t i = 0; i < r->n_dirs; i++)
        if (strlen(r->dirs[i]) == len && strncmp(r->dirs[i], dir, len) == 0) return NOTA_OK;
    char **d = realloc(r->dirs, (r->n_dirs + 1) * sizeof *d);
    if (!d) return nota_error(NOTA_ENOMEM, "plugin folder list allocation failed");
    r->dirs = d;
    r->dirs[r->n_dirs] = strndup(dir, len);
    if (!r->dirs[r->n_dirs]) return nota_error(NOTA_ENOMEM, "plugin folder name copy failed");
    r->n_dirs++;
    return NOTA_OK;
}

nota_status host_registry_init(host_registry *r) {
    memset(r, 0, sizeof *r);
    nota_status st = NOTA_OK;
    const char *env = getenv("NOTA_PLUGIN_PATH");
    for (const char *p = env; p && *p && !st;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        st = add_dir(r, p, len);
        p = colon ? colon + 1 : p + len;
    }
    /* Next to the running binary: <dir>/plugins in a build tree,
     * <dir>/../lib/nota/plugins in an installed (possibly relocated) tree;
     * then the install folder compiled in. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (!st && n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            char dir[PATH_MAX + 32];
            int len = snprintf(dir, sizeof dir, "%.*s/plugins", (int)(slash - exe), exe);
            st = add_dir(r, dir, (size_t)len);
            len = snprintf(dir, sizeof dir, "%.*s/../lib/nota/plugins", (int)(slash - exe), exe);
            if (!st) st = add_dir(r, dir, (size_t)len);
        }
    }
    if (!st) st = add_dir(r, NOTA_PLUGIN_INSTALL_DIR, strlen(NOTA_PLUGIN_INSTALL_DIR));
    if (st) host_registry_free(r);
    return st;
}

void host_registry_free(host_registry *r) {
    for (size_t i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    r->dirs = NULL;
    r->n_dirs = 0;
}

bool host_plugin_spec_is_path(const char *spec) {
    size_t n = strlen(spec);
    return strchr(spec, '/') || (n >= 3 && strcmp(spec + n - 3, ".so") == 0);
}

bool host_plugin_name_ok(const char *name) {
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n >= 64) return false;
    }
    return n > 0;
}

const char *host_caps_str(uint32_t caps, char *buf, size_t cap) {
    static const char *const names[] = {"fit",      "sample", "encode",   "decode",
                                        "log_prob", "eval",   "compress", "transform"};
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 8 && used < cap; i++)
        if (caps & (1u << i))
            used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? "," : "", names[i]);
    return buf;
}

/* Every declared capability must come with the functions that provide it. */
static nota_status check_functions(const nota_plugin *d, const char *path) {
    struct {
        uint32_t cap;
        const char *what;
        bool ok;
    } need[] = {
        {NOTA_CAP_FIT, "fit", d->create && d->fit && d->save},
        {NOTA_CAP_SAMPLE, "sample", d->sample != NULL},
        {NOTA_CAP_ENCODE, "encode", d->encode != NULL},
        {NOTA_CAP_DECODE, "decode", d->decode != NULL},
        {NOTA_CAP_LOG_PROB, "log_prob", d->log_prob != NULL},
        {NOTA_CAP_EVAL, "eval", d->eval != NULL},
        {NOTA_CAP_TRANSFORM, "transform", d->transform != NULL},
        {NOTA_CAP_COMPRESS, "compress", d->compress && d->decompress},
    };
    /* A plugin that only transforms (a fixed feature map) has no models. */
    bool models = (d->caps & ~(uint32_t)NOTA_CAP_TRANSFORM) != 0;
    if (models && (!d->load || !d->destroy || !d->data_shape))
        return nota_error(NOTA_EABI, "plugin file '%s' lacks one of load, destroy, data_shape",
                          path);
    if ((d->caps & (NOTA_CAP_ENCODE | NOTA_CAP_DECODE)) && !d->code_shape)
        return nota_error(NOTA_EABI, "plugin file '%s' can encode/decode but has no code_shape",
                          path);
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if ((d->caps & need[i].cap) && !need[i].ok)
            return nota_error(NOTA_EABI,
                              "plugin file '%s' declares capability '%s' without its functions",
                              path, need[i].what);
    if (d->n_options && !d->options)
        return nota_error(NOTA_EABI, "plugin file '%s' declares %zu options but no table", path,
                          d->n_options);
    for (size_t i = 0; i < d->n_options; i++)
        if (!d->options[i].name)
            return nota_error(NOTA_EABI, "plugin file '%s': option %zu has no name", path, i);
    return NOTA_OK;
}

static nota_status check_descriptor(const nota_plugin *d, const char *path,
                                    const char *expect_name) {
    if (!d)
        return nota_error(NOTA_EABI, "plugin file '%s': %s() returned NULL", path,
                          NOTA_PLUGIN_ENTRY_SYMBOL);
    if (d->abi_version != NOTA_ABI_VERSION)
        return nota_error(NOTA_EABI,
                          "plugin file '%s' was built for plugin ABI %u, this host needs ABI %u",
                          path, (unsigned)d->abi_version, (unsigned)NOTA_ABI_VERSION);
    if (d->struct_size < NOTA_PLUGIN_MIN_SIZE)
        return nota_error(NOTA_EABI,
                          "plugin file '%s' has a descriptor of %u bytes, this host needs at "
                          "least %zu",
                          path, (unsigned)d->struct_size, (size_t)NOTA_PLUGIN_MIN_SIZE);
    if (!d->name || !host_plugin_name_ok(d->name))
        return nota_error(NOTA_EABI, "plugin file '%s' has no valid name (1-64 of A-Z a-z 0-9 _ -)",
                          path);
    if (expect_name && strcmp(d->name, expect_name) != 0)
        return nota_error(NOTA_EABI, "plugin file '%s' calls itself '%s', expected '%s'", path,
                          d->name, expect_name);
    if (!d->family) return nota_error(NOTA_EABI, "plugin file '%s' has no family", path);
    return check_functions(d, path);
}

/* An older plugin's descriptor may end before the newest fields: the host
 * works on a zeroed copy of the bytes it declares, so those read as NULL.
 * Descriptors that check_descriptor refuses are returned as they are. */
static const nota_plugin *desc_view(const nota_plugin *d, nota_plugin *copy) {
    memset(copy, 0, sizeof *copy);
    if (!d || d->abi_version != NOTA_ABI_VERSION || d->struct_size < NOTA_PLUGIN_MIN_SIZE) return d;
    memcpy(copy, d, d->struct_size < sizeof *copy ? d->struct_size : sizeof *copy);
    return copy;
}

nota_status host_plugin_open_file(const char *path, const char *expect_name, host_plugin **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nota_error(NOTA_EIO, "cannot open plugin file '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return nota_error(NOTA_EIO, "plugin file '%s' is not a regular file", path);
    if (sb.st_mode & (S_IWGRP | S_IWOTH))
        return nota_error(NOTA_EIO,
                          "plugin file '%s' is writable by group or others (mode %04o); "
                          "run 'chmod go-w %s' if you trust it",
                          path, (unsigned)(sb.st_mode & 07777), path);
    /* dlopen searches the library path for a name without '/'. */
    char local[PATH_MAX];
    const char *load = path;
    if (!strchr(path, '/')) {
        snprintf(local, sizeof local, "./%s", path);
        load = local;
    }
    dlerror();
    void *h = dlopen(load, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return nota_error(NOTA_EIO, "cannot load plugin file '%s': %s", path, why ? why : "?");
    }
    void *sym = dlsym(h, NOTA_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(h);
        return nota_error(NOTA_EABI, "plugin file '%s' does not export the entry symbol '%s'", path,
                          NOTA_PLUGIN_ENTRY_SYMBOL);
    }
    nota_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object → function pointer, as POSIX allows */
    nota_plugin copy;
    const nota_plugin *d = desc_view(entry(), &copy);
    nota_status st = check_descriptor(d, path, expect_name);
    if (st) {
        dlclose(h);
        return st;
    }
    host_plugin *p = calloc(1, sizeof *p);
    if (p) p->path = strdup(path);
    if (!p || !p->path) {
        free(p);
        dlclose(h);
        return nota_error(NOTA_ENOMEM, "plugin record allocation failed");
    }
    p->handle = h;
    p->desc_copy = *d;
    p->desc = &p->desc_copy;
    *out = p;
    return NOTA_OK;
}

void host_plugin_close(host_plugin *p) {
    if (!p) return;
    if (p->handle) dlclose(p->handle);
    free(p->path);
    free(p);
}

nota_status host_plugin_open(const host_registry *r, const char *spec, host_plugin **out) {
    *out = NULL;
    if (host_plugin_spec_is_path(spec)) return host_plugin_open_file(spec, NULL, out);
    if (!host_plugin_name_ok(spec))
        return nota_error(NOTA_EINVAL, "'%s' is not a plugin name (1-64 of A-Z a-z 0-9 _ -)", spec);
    for (size_t i = 0; i < r->n_dirs; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.so", r->dirs[i], spec);
        struct stat sb;
        if (stat(path, &sb) == 0) return host_plugin_open_file(path, spec, out);
    }
    char dirs[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < r->n_dirs && used < sizeof dirs; i++)
        used +=
            (size_t)snprintf(dirs + used, sizeof dirs - used, "%s%s", i ? ", " : "", r->dirs[i]);
    return nota_error(NOTA_ENOTFOUND, "no plugin '%s' (%s.so) in: %s", spec, spec, dirs);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names (without ".so") of the plugin files in one folder, sorted. */
static nota_status list_dir(const char *dir, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NOTA_OK; /* a missing folder simply holds no plugins */
    size_t cap = 0;
    struct dirent *e;
    nota_status st = NOTA_OK;
    while (!st && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) continue;
        char *stem = strndup(e->d_name, len - 3);
        if (!stem) {
            st = nota_error(NOTA_ENOMEM, "plugin name copy failed");
            break;
        }
        if (!host_plugin_name_ok(stem)) {
            free(stem);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **g = realloc(*names, cap * sizeof *g);
            if (!g) {
                free(stem);
                st = nota_error(NOTA_ENOMEM, "plugin list allocation failed");
                break;
            }
            *names = g;
        }
        (*names)[(*n)++] = stem;
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return st;
}

nota_status host_registry_each(const host_registry *r, host_plugin_visit_fn fn, void *ctx) {
    char **seen = NULL;
    size_t n_seen = 0;
    nota_status st = NOTA_OK;
    for (size_t i = 0; i < r->n_dirs && !st; i++) {
        char **names;
        size_t n;
        st = list_dir(r->dirs[i], &names, &n);
        for (size_t j = 0; j < n; j++) {
            bool dup = false;
            for (size_t k = 0; k < n_seen && !dup; k++)
                dup = strcmp(seen[k], names[j]) == 0;
            if (!st && !dup) {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/%s.so", r->dirs[i], names[j]);
                st = fn(ctx, names[j], path);
                char **g = realloc(seen, (n_seen + 1) * sizeof *g);
                if (g) {
                    seen = g;
                    seen[n_seen++] = names[j];
                    names[j] = NULL;
                } else if (!st) {
                    st = nota_error(NOTA_ENOMEM, "plugin list allocation failed");
                }
            }
            free(names[j]);
        }
        free(names);
    }
    for (size_t k = 0; k < n_seen; k++)
        free(seen[k]);
    free(seen);
    return st;
}
