/* args.h — the nota-host command line, parsed into one struct.
 *
 * `nota-host [--plugin NAME|PATH] COMMAND [options]`: options may come before
 * or after the command, as `--name value` or `--name=value`. Each command
 * accepts its own set of options; anything else is a usage error (exit 2).
 * Parsing only checks the syntax and the ranges of host-level values; what a
 * plugin's `--set key=value` means is checked later against its option table.
 * The struct borrows strings from argv.
 */
#ifndef NOTA_HOST_ARGS_H
#define NOTA_HOST_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum host_cmd {
    HOST_CMD_NONE = 0,
    HOST_CMD_HELP,
    HOST_CMD_PLUGINS,
    HOST_CMD_INFO,
    HOST_CMD_FIT,
    HOST_CMD_SAMPLE,
    HOST_CMD_ENCODE,
    HOST_CMD_DECODE,
    HOST_CMD_EVAL,
    HOST_CMD_ANALYZE,
    HOST_CMD_COMPRESS,
    HOST_CMD_DECOMPRESS,
    HOST_CMD_TRANSFORM,
    HOST_CMD_COMPOSE,
    HOST_CMD_TRAVERSE
} host_cmd;

/* Bits of host_args.given, one per option. */
enum host_opt {
    HOST_OPT_PLUGIN = 1u << 0,
    HOST_OPT_DATA = 1u << 1,
    HOST_OPT_VALID = 1u << 2,
    HOST_OPT_LABEL = 1u << 3,
    HOST_OPT_LIMIT = 1u << 4,
    HOST_OPT_OUT = 1u << 5,
    HOST_OPT_SET = 1u << 6,
    HOST_OPT_SEED = 1u << 7,
    HOST_OPT_THREADS = 1u << 8,
    HOST_OPT_N = 1u << 9,
    HOST_OPT_TEMPERATURE = 1u << 10,
    HOST_OPT_CODES = 1u << 11,
    HOST_OPT_JSON = 1u << 12,
    HOST_OPT_HELP = 1u << 13,
    HOST_OPT_VERBOSE = 1u << 14,
    HOST_OPT_BPP = 1u << 15,
    HOST_OPT_DIMS = 1u << 16,
    HOST_OPT_VALUES = 1u << 17,
    HOST_OPT_BASE = 1u << 18,
    HOST_OPT_NPY = 1u << 19
};

/* traverse: at most this many values per code dimension (a 32 x 32 grid). */
#define HOST_MAX_VALUES 32

typedef struct host_args {
    host_cmd cmd;
    const char *cmd_name;   /* as typed; NULL when no command was given */
    const char *positional; /* MODEL / FILE, or the topic of `help` */
    const char *positional2; /* compose: the decoder model */
    const char *plugin, *data, *valid, *out, *codes;
    int label;     /* -1: all classes */
    int64_t limit; /* 0: all items */
    int64_t n;
    double temperature;
    double bpp; /* compress: target bits per pixel */
    uint64_t seed;
    int threads; /* 0: number of CPUs */
    bool json, help;
    int verbose;
    int dims[2];       /* traverse: the code dimensions of rows and columns */
    double values[HOST_MAX_VALUES]; /* traverse: the values each takes */
    int n_values;
    const char *base, *npy; /* traverse: 'zero' or CODES.npy; images as .npy */
    const char **sets; /* --set values, in order (owned array, borrowed strings) */
    size_t n_sets;
    unsigned given; /* host_opt bits */
} host_args;

/* Command by name (HOST_CMD_NONE if unknown) and its canonical name. */
host_cmd host_cmd_from_name(const char *name);
const char *host_cmd_name(host_cmd c);
/* Options the command accepts (host_opt bits). */
unsigned host_cmd_options(host_cmd c);

/* Parse argv. Returns 0, or 2 with a one-line message in err (a usage error).
 * On error the fields parsed so far stay set (cmd, help) so the caller can
 * still honour --help. */
int host_args_parse(int argc, char **argv, host_args *a, char *err, size_t cap);
void host_args_free(host_args *a);

#endif
