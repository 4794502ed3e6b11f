/* host.h — what nota-host's commands share: the invocation context, exit
 * codes, error reporting and the model/data helpers every command uses.
 *
 * Exit codes: 0 ok; 1 error (one line "nota-host: error: <message>" on
 * stderr); 2 usage error (the same line plus a hint to run help); 130
 * interrupted by Ctrl-C (nothing written).
 */
#ifndef NOTA_HOST_HOST_H
#define NOTA_HOST_HOST_H

#include <stdbool.h>
#include <stdio.h>

#include "args.h"
#include "jobs.h"
#include "nota/nota.h"
#include "registry.h"

enum { HOST_EXIT_OK = 0, HOST_EXIT_ERROR = 1, HOST_EXIT_USAGE = 2, HOST_EXIT_INTERRUPTED = 130 };

/* Seed used to dequantize evaluation data, so that `eval` gives the same
 * number on every run whatever --seed says. */
#define HOST_EVAL_SEED 20240229u

typedef struct host_ctx {
    host_args args;
    host_registry registry;
    bool tty; /* stderr is a terminal */
} host_ctx;

/* Print "nota-host: error: <msg>" and return 1. */
int host_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Print the usage error and the hint for `command` (may be NULL); return 2. */
int host_usage(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Exit code for a failed status: 130 with "interrupted" for NOTA_ECANCELED,
 * else 1 with nota_last_error(). */
int host_fail(nota_status st);

/* Runner options from the command line. */
host_runner_opts host_ctx_runner_opts(const host_ctx *c);

/* A loaded model: its file, its plugin and the plugin's handle. */
typedef struct host_model {
    nota_modelfile *mf;
    host_plugin *plugin;
    nota_model *m;
    int64_t data_shape[NOTA_MAX_DIMS];
    int data_ndim; /* 0 when the plugin does not know it */
    struct host_model *prior; /* a pipeline's prior (owned); NULL otherwise */
} host_model;

/* Load args.positional, find its plugin (refusing a different --plugin), and
 * rebuild the model. Returns an exit code (0 ok) having printed any error. */
int host_model_open(host_ctx *c, const nota_host *host, host_model *hm);
/* The same for a file named by the caller (compose opens two). */
int host_model_open_file(host_ctx *c, const char *file, const nota_host *host, host_model *hm);
/* The frame of the commands that use one model file (sample, encode, decode,
 * eval): start a job runner, open the model, run body, clean up. Returns the
 * exit code. */
typedef int (*host_model_body)(host_ctx *c, host_runner *r, host_model *hm);
int host_with_model(host_ctx *c, host_model_body body);
/* The plugin's config from its option defaults and the --set values; on a
 * bad --set prints the error and the help hint and returns the usage exit
 * code (0 on success). */
int host_plugin_config(const host_ctx *c, const nota_plugin *p, nota_config **cfg);
/* Pipelines (commands_compose.c): the plugin name a pipeline file records
 * (reserved), and opening its sub-models into hm: the decoder's model, with
 * the prior in hm->prior. */
#define HOST_PIPELINE_PLUGIN "pipeline"
#define HOST_PIPELINE_VERSION 1
int host_pipeline_open(host_ctx *c, const char *file, const nota_host *host, host_model *hm);
void host_model_close(host_model *hm);
/* Refuse (1) a model file made by another plugin than an explicit --plugin. */
int host_model_check_plugin(host_ctx *c, const char *file, const char *made_by);

/* Open a dataset with the --label/--limit filter and convert it to model
 * input. The caller frees both. */
nota_status host_data_load(const host_ctx *c, const char *spec, bool dequantize, uint64_t seed,
                           nota_dataset **ds, nota_tensor **x);
/* NOTA_ESHAPE naming both shapes unless the items of x have the model's shape. */
nota_status host_check_items(const host_model *hm, const char *model_file, const char *spec,
                             const nota_tensor *x);
/* True for an image item shape: (C, H, W) with C in {1, 3}. */
bool host_is_image(int ndim, const int64_t *shape);
/* Write PREFIX.npy, and PREFIX.png when `image`. The output folder must exist. */
nota_status host_write_batch(const char *prefix, const nota_tensor *t, bool image);
/* NOTA_EIO unless the folder that will hold `path` exists. */
nota_status host_check_out_dir(const char *path);

/* Mean log_prob (nats per item) over x, in batches, polling cancellation;
 * and the bits/dim it gives. */
nota_status host_mean_log_prob(const nota_plugin *p, nota_model *m, const nota_tensor *x,
                               const nota_host *host, double *mean);
double host_bits_per_dim(double mean_log_prob, const nota_tensor *x);

/* JSON output helpers: a quoted, escaped string; a number (null if not finite). */
void host_json_str(FILE *f, const char *s);
void host_json_num(FILE *f, double v);

int host_cmd_help(host_ctx *c);
int host_cmd_plugins(host_ctx *c);
int host_cmd_info(host_ctx *c);
int host_cmd_fit(host_ctx *c);
int host_cmd_sample(host_ctx *c);
int host_cmd_encode(host_ctx *c);
int host_cmd_decode(host_ctx *c);
int host_cmd_eval(host_ctx *c);
int host_cmd_analyze(host_ctx *c);
int host_cmd_transform(host_ctx *c);
int host_cmd_compose(host_ctx *c);
int host_cmd_traverse(host_ctx *c); /* commands_traverse.c */
int host_cmd_compress(host_ctx *c);   /* commands_compress.c */
int host_cmd_decompress(host_ctx *c); /* commands_compress.c */

#endif
