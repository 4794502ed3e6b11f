/* nota/plugin.h — the plugin ABI: what a model plugin exports and what the
 * host passes in.
 *
 * A plugin is a shared library exporting one function, `nota_plugin_entry`,
 * which returns a pointer to a static nota_plugin descriptor. The descriptor
 * begins with abi_version and struct_size; the host checks both before it
 * touches anything else, and refuses a mismatch with a message naming both
 * numbers. New fields are only ever added at the end (struct_size tells a
 * newer host what an older plugin has). Functions a plugin does not support
 * are NULL; the host checks before calling.
 *
 * Models are opaque handles owned by the plugin: `create`/`load` make one,
 * `destroy` frees it. Tensors passed in are borrowed for the call; tensors
 * returned through out-pointers are owned by the caller (free with
 * nota_tensor_free). Plugins never print, exit or abort: they return a
 * nota_status with nota_error(), and log / report progress / poll for
 * cancellation through the nota_host services.
 *
 * Data convention: 8-bit images reach a plugin as f32 (N, C, H, W) in
 * [0, 256) (dequantized by the host); vectors as f32 (N, d). log_prob is in
 * nats per item in that scale, so bits/dim = -mean(log_prob) / (D ln 2).
 *
 * Threading: the host calls fit/sample/eval on a worker thread, one job at a
 * time per model; a model is never used by two threads at once.
 *
 * Plugins are trusted code: loading one runs it. Load only plugins you trust.
 */
#ifndef NOTA_PLUGIN_H
#define NOTA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "nota/status.h"
#include "nota/tensor.h"
#include "nota/config.h"
#include "nota/modelfile.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NOTA_ABI_VERSION 1
#define NOTA_PLUGIN_ENTRY_SYMBOL "nota_plugin_entry"

#if defined(__GNUC__)
#define NOTA_EXPORT __attribute__((visibility("default")))
#else
#define NOTA_EXPORT
#endif

typedef enum nota_log_level {
    NOTA_LOG_DEBUG = 0,
    NOTA_LOG_INFO = 1,
    NOTA_LOG_WARN = 2,
    NOTA_LOG_ERROR = 3
} nota_log_level;

/* Services the host lends a plugin for one call. Thread-safe: a plugin may call
 * them from its own worker threads. */
typedef struct nota_host {
    uint32_t abi_version;
    uint32_t struct_size;
    void *ctx;
    void (*log)(void *ctx, nota_log_level level, const char *msg);
    /* Progress of the current stage: `done` of `total` units (total 0 =
     * unknown), `detail` a short status line ("train 4.21 bpd"). */
    void (*progress)(void *ctx, const char *stage, double done, double total,
                     const char *detail);
    /* True once the user asked to stop (Ctrl-C): return NOTA_ECANCELED at the
     * next safe point, having written nothing. */
    bool (*cancelled)(void *ctx);
    uint64_t seed; /* base seed for nota_rng streams */
    int threads;   /* worker threads the plugin may use (>= 1) */
} nota_host;

/* printf-style logging through host->log (no-op if host or log is NULL). */
void nota_log(const nota_host *host, nota_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void nota_progress(const nota_host *host, const char *stage, double done, double total,
                   const char *detail);
bool nota_cancelled(const nota_host *host);

enum nota_capability {
    NOTA_CAP_FIT = 1u << 0,
    NOTA_CAP_SAMPLE = 1u << 1,
    NOTA_CAP_ENCODE = 1u << 2,
    NOTA_CAP_DECODE = 1u << 3,
    NOTA_CAP_LOG_PROB = 1u << 4,
    NOTA_CAP_EVAL = 1u << 5,
    NOTA_CAP_COMPRESS = 1u << 6,
    NOTA_CAP_TRANSFORM = 1u << 7
};

/* One number eval reports ("bits_per_dim", "psnr_db", ...). */
typedef struct nota_metric {
    char name[48];
    double value;
} nota_metric;

typedef struct nota_model nota_model; /* defined by each plugin */

typedef struct nota_plugin {
    uint32_t abi_version; /* NOTA_ABI_VERSION */
    uint32_t struct_size; /* sizeof(nota_plugin) as the plugin was built */
    const char *name;     /* "latent" */
    uint32_t version;     /* plugin's own version, saved in model files */
    const char *family;   /* "latent", "flow", ... */
    const char *description;
    uint32_t caps;        /* nota_capability bits */
    const nota_option *options;
    size_t n_options;

    /* New untrained model from a config built from `options`. */
    nota_status (*create)(const nota_config *cfg, const nota_host *host, nota_model **out);
    /* Fit on train (N, ...); valid may be NULL. */
    nota_status (*fit)(nota_model *m, const nota_tensor *train, const nota_tensor *valid,
                       const nota_host *host);
    /* n samples in data space; temperature scales the base noise (1 = plain). */
    nota_status (*sample)(nota_model *m, int64_t n, double temperature, const nota_host *host,
                          nota_tensor **out);
    nota_status (*encode)(nota_model *m, const nota_tensor *x, const nota_host *host,
                          nota_tensor **out);
    nota_status (*decode)(nota_model *m, const nota_tensor *z, const nota_host *host,
                          nota_tensor **out);
    /* Log-density of each item, nats, out = f32 (N). */
    nota_status (*log_prob)(nota_model *m, const nota_tensor *x, const nota_host *host,
                            nota_tensor **out);
    /* Family-specific metrics on held-out data; writes up to `cap`, sets *n. */
    nota_status (*eval)(nota_model *m, const nota_tensor *x, const nota_host *host,
                        nota_metric *out, size_t cap, size_t *n);
    /* Write the model's config and tensors into mf (made by the host with this
     * plugin's name and version). */
    nota_status (*save)(const nota_model *m, nota_modelfile *mf);
    /* Rebuild a model from a validated file; check every tensor's shape. */
    nota_status (*load)(const nota_modelfile *mf, const nota_host *host, nota_model **out);
    void (*destroy)(nota_model *m);
    /* Shape of one data item / one code (without the batch dim); returns ndim
     * (0 if not known yet, e.g. before fit). */
    int (*data_shape)(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]);
    int (*code_shape)(const nota_model *m, int64_t shape[NOTA_MAX_DIMS]);

    /* ---- added after ABI 1's first descriptor (struct_size tells) ---- */
    /* A fixed feature map that needs no fitting (the scattering transform):
     * x (N, ...) → *out (N, ...), configured by `cfg` built from `options`.
     * NOTA_CAP_TRANSFORM declares it. */
    nota_status (*transform)(const nota_config *cfg, const nota_tensor *x, const nota_host *host,
                             nota_tensor **out);
    /* Image compression (NOTA_CAP_COMPRESS declares both). compress codes one
     * u8 image (C, H, W), C in {1, 3}, at about `bpp` bits per pixel into
     * *bytes (malloc'd; the caller frees with free()), configured by `cfg`
     * built from `options`. The bytes begin with the NOTA_CODED_MAGIC prefix
     * naming the plugin, so a host finds the decoder from the file alone.
     * decompress reads such bytes (untrusted input: refuse damage with a
     * message) into *image, a u8 (C, H, W) tensor owned by the caller. */
    nota_status (*compress)(const nota_config *cfg, const nota_tensor *image, double bpp,
                            const nota_host *host, uint8_t **bytes, size_t *n);
    nota_status (*decompress)(const uint8_t *bytes, size_t n, const nota_host *host,
                              nota_tensor **image);
} nota_plugin;

/* Compressed files start with these 4 bytes, then one byte L (1..64) and the
 * L-byte plugin name; the rest belongs to the plugin. */
#define NOTA_CODED_MAGIC "NTC1"

/* The size of the first ABI-1 descriptor (everything up to code_shape). A
 * host accepts any struct_size from this up: fields past an older plugin's
 * struct_size read as NULL. */
#define NOTA_PLUGIN_MIN_SIZE \
    (offsetof(nota_plugin, code_shape) + sizeof(int (*)(const nota_model *, int64_t *)))

typedef const nota_plugin *(*nota_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_PLUGIN_H */
