/* registry.h — finding, checking and opening model plugins.
 *
 * A plugin is named (`latent`, found as latent.so in the plugin folders) or
 * given by path (anything containing '/' or ending in ".so"). Folders are
 * searched in order: each entry of $NOTA_PLUGIN_PATH (colon-separated), the
 * build tree's plugin folder, the install folder, then
 * <dir of nota-host>/../lib/nota/plugins; the first match wins.
 *
 * Opening is where trust is decided (RELIABILITY.md 5): the file must not be
 * writable by group or others, it is loaded RTLD_NOW | RTLD_LOCAL, and the
 * descriptor's abi_version and struct_size are checked before any plugin
 * function is called. Every refusal is a nota_status with a message naming the
 * file and the numbers involved.
 */
#ifndef NOTA_HOST_REGISTRY_H
#define NOTA_HOST_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "nota/plugin.h"

typedef struct host_registry {
    char **dirs; /* search folders in order (owned) */
    size_t n_dirs;
} host_registry;

typedef struct host_plugin {
    char *path;              /* the file that was opened (owned) */
    void *handle;            /* dlopen handle */
    const nota_plugin *desc; /* checked descriptor (points at desc_copy), valid while open */
    nota_plugin desc_copy;   /* the plugin's descriptor, fields it lacks zeroed */
} host_plugin;

/* Build the search list from the environment and the compiled-in folders. */
nota_status host_registry_init(host_registry *r);
void host_registry_free(host_registry *r);

/* True when `spec` is a path rather than a plugin name. */
bool host_plugin_spec_is_path(const char *spec);
/* True for a usable plugin name: 1..64 of [A-Za-z0-9_-]. Model files name
 * their plugin, so this keeps a hostile file from pointing at a path. */
bool host_plugin_name_ok(const char *name);

/* Open a plugin by name or path. NOTA_ENOTFOUND (listing the folders searched)
 * for an unknown name; NOTA_EABI for a missing entry symbol or a mismatched
 * descriptor; NOTA_EIO for an unsafe or unloadable file. */
nota_status host_plugin_open(const host_registry *r, const char *spec, host_plugin **out);
/* Open one file; `expect_name` (may be NULL) must equal the descriptor's name. */
nota_status host_plugin_open_file(const char *path, const char *expect_name, host_plugin **out);
void host_plugin_close(host_plugin *p);

/* Call `fn` for every NAME.so in the search folders, first occurrence of each
 * name only, in search order then name order. Stops and returns fn's status
 * if it is not NOTA_OK. */
typedef nota_status (*host_plugin_visit_fn)(void *ctx, const char *name, const char *path);
nota_status host_registry_each(const host_registry *r, host_plugin_visit_fn fn, void *ctx);

/* "fit,sample,log_prob" into buf. */
const char *host_caps_str(uint32_t caps, char *buf, size_t cap);

#endif
