/* Test helper: load a built plugin's descriptor by name from the build tree,
 * the way nota-host does (dlopen + entry symbol), and a quiet nota_host. */
#ifndef NOTA_TEST_PLUGIN_UTIL_H
#define NOTA_TEST_PLUGIN_UTIL_H

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>

#include "nota/nota.h"

static inline const nota_plugin *test_load_plugin(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.so", NOTA_PLUGIN_BUILD_DIR, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "dlopen %s: %s", path, dlerror());
    nota_plugin_entry_fn fn = (nota_plugin_entry_fn)dlsym(h, NOTA_PLUGIN_ENTRY_SYMBOL);
    cr_assert_not_null(fn, "no entry symbol in %s", path);
    const nota_plugin *p = fn();
    cr_assert_eq(p->abi_version, NOTA_ABI_VERSION);
    return p;
}

static inline nota_host test_host(uint64_t seed) {
    nota_host h = {0};
    h.abi_version = NOTA_ABI_VERSION;
    h.struct_size = sizeof h;
    h.seed = seed;
    h.threads = 1;
    return h;
}

/* Model from the plugin's option table with `sets` ("k=v") applied. */
static inline nota_model *test_create(const nota_plugin *p, const char *const *sets, size_t n,
                                      const nota_host *host) {
    nota_config *cfg;
    cr_assert_eq(nota_config_from_options(p->options, p->n_options, sets, n, &cfg), NOTA_OK, "%s",
                 nota_last_error());
    nota_model *m;
    cr_assert_eq(p->create(cfg, host, &m), NOTA_OK, "%s", nota_last_error());
    nota_config_free(cfg);
    return m;
}

/* The model's file, in memory (caller frees). */
static inline nota_modelfile *test_saved(const nota_plugin *p, const nota_model *m) {
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new(p->name, p->version, &mf), NOTA_OK);
    cr_assert_eq(p->save(m, mf), NOTA_OK, "%s", nota_last_error());
    return mf;
}

#endif
