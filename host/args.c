/* Command-line parsing for nota-host (see args.h).
 *
 * One table lists every option; each command names the subset it accepts.
 * Errors are usage errors: the message goes to `err` and the parser returns 2,
 * leaving main to print it with the hint to run `help`. Values are range
 * checked here so that commands can trust them.
 */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opt_spec {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    bool takes_value;
    unsigned bit;
} opt_spec;

static const opt_spec OPTS[] = {
    {"plugin", 0, true, HOST_OPT_PLUGIN},
    {"data", 0, true, HOST_OPT_DATA},
    {"valid", 0, true, HOST_OPT_VALID},
    {"label", 0, true, HOST_OPT_LABEL},
    {"limit", 0, true, HOST_OPT_LIMIT},
    {"out", 'o', true, HOST_OPT_OUT},
    {"set", 0, true, HOST_OPT_SET},
    {"seed", 0, true, HOST_OPT_SEED},
    {"threads", 0, true, HOST_OPT_THREADS},
    {"n", 'n', true, HOST_OPT_N},
    {"temperature", 0, true, HOST_OPT_TEMPERATURE},
    {"codes", 0, true, HOST_OPT_CODES},
    {"json", 0, false, HOST_OPT_JSON},
    {"help", 'h', false, HOST_OPT_HELP},
    {"verbose", 'v', false, HOST_OPT_VERBOSE},
    {"bpp", 0, true, HOST_OPT_BPP},
    {"dims", 0, true, HOST_OPT_DIMS},
    {"values", 0, true, HOST_OPT_VALUES},
    {"base", 0, true, HOST_OPT_BASE},
    {"npy", 0, true, HOST_OPT_NPY},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

static const char *const CMD_NAMES[] = {NULL,     "help",   "plugins", "info", "fit",
                                        "sample", "encode", "decode",  "eval",
                                        "analyze",  "compress", "decompress", "transform", "compose",
                                        "traverse"};

host_cmd host_cmd_from_name(const char *name) {
    for (int i = 1; i < (int)(sizeof CMD_NAMES / sizeof CMD_NAMES[0]); i++)
        if (strcmp(CMD_NAMES[i], name) == 0) return (host_cmd)i;
    return HOST_CMD_NONE;
}

const char *host_cmd_name(host_cmd c) {
    return c > HOST_CMD_NONE && c <= HOST_CMD_TRAVERSE ? CMD_NAMES[c] : "";
}

unsigned host_cmd_options(host_cmd c) {
    const unsigned always = HOST_OPT_PLUGIN | HOST_OPT_HELP | HOST_OPT_VERBOSE;
    switch (c) {
    case HOST_CMD_NONE:
    case HOST_CMD_HELP:
        return always;
    case HOST_CMD_PLUGINS:
        return always | HOST_OPT_JSON;
    case HOST_CMD_INFO:
        return always | HOST_OPT_JSON;
    case HOST_CMD_FIT:
        return always | HOST_OPT_DATA | HOST_OPT_VALID | HOST_OPT_LABEL | HOST_OPT_LIMIT |
               HOST_OPT_OUT | HOST_OPT_SET | HOST_OPT_SEED | HOST_OPT_THREADS | HOST_OPT_JSON;
    case HOST_CMD_SAMPLE:
        return always | HOST_OPT_N | HOST_OPT_TEMPERATURE | HOST_OPT_OUT | HOST_OPT_SEED |
               HOST_OPT_THREADS;
    case HOST_CMD_ENCODE:
        return always | HOST_OPT_DATA | HOST_OPT_LABEL | HOST_OPT_LIMIT | HOST_OPT_OUT |
               HOST_OPT_THREADS;
    case HOST_CMD_DECODE:
        return always | HOST_OPT_CODES | HOST_OPT_OUT | HOST_OPT_THREADS;
    case HOST_CMD_EVAL:
        return always | HOST_OPT_DATA | HOST_OPT_LABEL | HOST_OPT_LIMIT | HOST_OPT_THREADS |
               HOST_OPT_JSON;
    case HOST_CMD_ANALYZE:
        return always | HOST_OPT_LABEL | HOST_OPT_LIMIT | HOST_OPT_JSON;
    case HOST_CMD_COMPRESS:
        return always | HOST_OPT_BPP | HOST_OPT_OUT | HOST_OPT_SET | HOST_OPT_SEED |
               HOST_OPT_THREADS | HOST_OPT_JSON;
    case HOST_CMD_DECOMPRESS:
        return always | HOST_OPT_OUT | HOST_OPT_THREADS | HOST_OPT_JSON;
    case HOST_CMD_TRANSFORM:
        return always | HOST_OPT_DATA | HOST_OPT_LABEL | HOST_OPT_LIMIT | HOST_OPT_OUT |
               HOST_OPT_SET | HOST_OPT_THREADS;
    case HOST_CMD_COMPOSE:
        return always | HOST_OPT_OUT;
    case HOST_CMD_TRAVERSE:
        return always | HOST_OPT_DIMS | HOST_OPT_VALUES | HOST_OPT_BASE | HOST_OPT_OUT |
               HOST_OPT_NPY | HOST_OPT_THREADS;
    }
    return always;
}

static int fail(char *err, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return 2;
}

/* Integer in [lo, hi]; false on junk or out of range. */
static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *v) {
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno || x < lo || x > hi) return false;
    *v = x;
    return true;
}

/* traverse --dims A,B: two different non-negative integers. Whether they
 * fit the model's codes is checked once the model is open. */
static int parse_dims(host_args *a, const char *v, char *err, size_t cap) {
    const char *comma = strchr(v, ',');
    char first[32];
    int64_t d0, d1;
    size_t len = comma ? (size_t)(comma - v) : 0;
    bool ok = comma && len < sizeof first;
    if (ok) {
        memcpy(first, v, len);
        first[len] = '\0';
        ok = parse_i64(first, 0, INT32_MAX, &d0) && parse_i64(comma + 1, 0, INT32_MAX, &d1) &&
             d0 != d1;
    }
    if (!ok)
        return fail(err, cap, "--dims expects two different code dimensions A,B (integers >= 0), "
                              "got '%s'",
                    v);
    a->dims[0] = (int)d0, a->dims[1] = (int)d1;
    return 0;
}

/* traverse --values V1,V2,...: 1..HOST_MAX_VALUES finite numbers. */
static int parse_values(host_args *a, const char *v, char *err, size_t cap) {
    int n = 0;
    const char *s = v;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || errno || !isfinite(x) || (*end != ',' && *end != '\0') ||
            n == HOST_MAX_VALUES)
            return fail(err, cap, "--values expects 1..%d finite numbers separated by commas, "
                                  "got '%s'",
                        HOST_MAX_VALUES, v);
        a->values[n++] = x;
        if (*end == '\0') break;
        s = end + 1;
    }
    a->n_values = n;
    return 0;
}

static int set_value(host_args *a, const opt_spec *o, const char *v, char *err, size_t cap) {
    int64_t i;
    switch (o->bit) {
    case HOST_OPT_PLUGIN:
        a->plugin = v;
        break;
    case HOST_OPT_DATA:
        a->data = v;
        break;
    case HOST_OPT_VALID:
        a->valid = v;
        break;
    case HOST_OPT_OUT:
        a->out = v;
        break;
    case HOST_OPT_CODES:
        a->codes = v;
        break;
    case HOST_OPT_LABEL:
        if (!parse_i64(v, 0, 255, &i))
            return fail(err, cap, "--label expects a class number in 0..255, got '%s'", v);
        a->label = (int)i;
        break;
    case HOST_OPT_LIMIT:
        if (!parse_i64(v, 1, INT64_MAX, &i))
            return fail(err, cap, "--limit expects a positive item count, got '%s'", v);
        a->limit = i;
        break;
    case HOST_OPT_N:
        if (!parse_i64(v, 1, 10000000, &i))
            return fail(err, cap, "--n expects a sample count in 1..10000000, got '%s'", v);
        a->n = i;
        break;
    case HOST_OPT_THREADS:
        if (!parse_i64(v, 1, 1024, &i))
            return fail(err, cap, "--threads expects a count in 1..1024, got '%s'", v);
        a->threads = (int)i;
        break;
    case HOST_OPT_SEED: {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (!*v || *end || errno || *v == '-')
            return fail(err, cap, "--seed expects a non-negative integer, got '%s'", v);
        a->seed = s;
        break;
    }
    case HOST_OPT_TEMPERATURE: {
        char *end;
        errno = 0;
        double t = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(t) || t < 0)
            return fail(err, cap, "--temperature expects a finite number >= 0, got '%s'", v);
        a->temperature = t;
        break;
    }
    case HOST_OPT_BPP: {
        char *end;
        errno = 0;
        double b = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(b) || b <= 0 || b > 64)
            return fail(err, cap, "--bpp expects bits per pixel in (0, 64], got '%s'", v);
        a->bpp = b;
        break;
    }
    case HOST_OPT_DIMS:
        return parse_dims(a, v, err, cap);
    case HOST_OPT_VALUES:
        return parse_values(a, v, err, cap);
    case HOST_OPT_BASE:
        a->base = v;
        break;
    case HOST_OPT_NPY:
        a->npy = v;
        break;
    case HOST_OPT_SET: {
        const char **s = realloc(a->sets, (a->n_sets + 1) * sizeof *s);
        if (!s) return fail(err, cap, "out of memory while parsing --set");
        a->sets = s;
        a->sets[a->n_sets++] = v;
        break;
    }
    }
    return 0;
}

static const opt_spec *find_long(const char *name, size_t len) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(OPTS[i].name) == len && strncmp(OPTS[i].name, name, len) == 0) return &OPTS[i];
    return NULL;
}

static const opt_spec *find_short(char c) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (OPTS[i].short_name == c) return &OPTS[i];
    return NULL;
}

static int positional(host_args *a, const char *arg, char *err, size_t cap) {
    if (!a->cmd_name) {
        a->cmd_name = arg;
        a->cmd = host_cmd_from_name(arg);
        if (a->cmd == HOST_CMD_NONE) return fail(err, cap, "unknown command '%s'", arg);
        return 0;
    }
    bool takes_one = a->cmd != HOST_CMD_PLUGINS && a->cmd != HOST_CMD_FIT &&
                     a->cmd != HOST_CMD_TRANSFORM;
    if (a->cmd == HOST_CMD_COMPOSE && a->positional && !a->positional2) {
        a->positional2 = arg;
        return 0;
    }
    if (!takes_one || a->positional)
        return fail(err, cap, "unexpected argument '%s' for '%s'", arg, a->cmd_name);
    a->positional = arg;
    return 0;
}

static int check_required(const host_args *a, char *err, size_t cap) {
    const char *cmd = a->cmd_name;
    switch (a->cmd) {
    case HOST_CMD_NONE:
        return fail(err, cap, "no command given");
    case HOST_CMD_HELP:
        if (a->positional && host_cmd_from_name(a->positional) == HOST_CMD_NONE)
            return fail(err, cap, "unknown command '%s'", a->positional);
        return 0;
    case HOST_CMD_PLUGINS:
        return 0;
    case HOST_CMD_ANALYZE:
        if (!a->positional) return fail(err, cap, "'analyze' needs FILE.npy or a dataset spec");
        return 0;
    case HOST_CMD_FIT:
        if (!a->plugin) return fail(err, cap, "'fit' needs --plugin NAME|PATH");
        if (!a->data) return fail(err, cap, "'fit' needs --data SPEC");
        if (!a->out) return fail(err, cap, "'fit' needs --out FILE.nota");
        return 0;
    case HOST_CMD_COMPRESS:
        if (!a->positional) return fail(err, cap, "'compress' needs IMAGE.png");
        if (!a->plugin) return fail(err, cap, "'compress' needs --plugin NAME|PATH");
        if (!(a->given & HOST_OPT_BPP)) return fail(err, cap, "'compress' needs --bpp B");
        if (!a->out) return fail(err, cap, "'compress' needs --out FILE");
        return 0;
    case HOST_CMD_DECOMPRESS:
        if (!a->positional) return fail(err, cap, "'decompress' needs a compressed FILE");
        if (!a->out) return fail(err, cap, "'decompress' needs --out IMAGE.png");
        return 0;
    case HOST_CMD_TRANSFORM:
        if (!a->plugin) return fail(err, cap, "'transform' needs --plugin NAME|PATH");
        if (!a->data) return fail(err, cap, "'transform' needs --data SPEC");
        if (!a->out) return fail(err, cap, "'transform' needs --out FILE.npy");
        return 0;
    case HOST_CMD_TRAVERSE:
        if (!a->positional) return fail(err, cap, "'traverse' needs a model file");
        if (!a->out && !a->npy)
            return fail(err, cap, "'traverse' needs --out GRID.png or --npy IMAGES.npy");
        return 0;
    case HOST_CMD_COMPOSE:
        if (!a->positional2)
            return fail(err, cap, "'compose' needs PRIOR.nota and DECODER.nota");
        if (!a->out) return fail(err, cap, "'compose' needs --out FILE.nota");
        return 0;
    default:
        break;
    }
    if (!a->positional) return fail(err, cap, "'%s' needs a model file", cmd);
    if ((a->cmd == HOST_CMD_ENCODE || a->cmd == HOST_CMD_EVAL) && !a->data)
        return fail(err, cap, "'%s' needs --data SPEC", cmd);
    if (a->cmd == HOST_CMD_ENCODE && !a->out)
        return fail(err, cap, "'encode' needs --out FILE.npy");
    if (a->cmd == HOST_CMD_DECODE && !a->codes)
        return fail(err, cap, "'decode' needs --codes FILE.npy");
    if (a->cmd == HOST_CMD_DECODE && !a->out) return fail(err, cap, "'decode' needs --out PREFIX");
    return 0;
}

int host_args_parse(int argc, char **argv, host_args *a, char *err, size_t cap) {
    memset(a, 0, sizeof *a);
    a->label = -1;
    a->temperature = 1.0;
    a->n = 64; /* sample: one 8 x 8 grid */
    /* traverse: the paper's Figure 1 (the two leading components at -10, -5, 5, 10) */
    a->dims[0] = 0, a->dims[1] = 1;
    a->n_values = 4;
    a->values[0] = -10, a->values[1] = -5, a->values[2] = 5, a->values[3] = 10;
    err[0] = '\0';
    int rc = 0;
    bool only_positional = false;
    int i = 1;
    for (; i < argc && !rc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            rc = positional(a, arg, err, cap);
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        const opt_spec *o;
        const char *value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            o = find_long(name, eq ? (size_t)(eq - name) : strlen(name));
            if (eq) value = eq + 1;
        } else {
            o = arg[2] == '\0' ? find_short(arg[1]) : NULL;
        }
        if (!o) {
            rc = fail(err, cap, "unknown option '%s'", arg);
            break;
        }
        if (!o->takes_value && value) {
            rc = fail(err, cap, "option '--%s' takes no value", o->name);
            break;
        }
        if (o->takes_value && !value) {
            if (i + 1 >= argc) {
                rc = fail(err, cap, "option '--%s' needs a value", o->name);
                break;
            }
            value = argv[++i];
        }
        if ((a->given & o->bit) && o->bit != HOST_OPT_SET && o->bit != HOST_OPT_VERBOSE &&
            o->bit != HOST_OPT_HELP) {
            rc = fail(err, cap, "option '--%s' given twice", o->name);
            break;
        }
        a->given |= o->bit;
        if (o->bit == HOST_OPT_HELP)
            a->help = true;
        else if (o->bit == HOST_OPT_VERBOSE)
            a->verbose++;
        else if (o->bit == HOST_OPT_JSON)
            a->json = true;
        else
            rc = set_value(a, o, value, err, cap);
    }
    if (rc) {
        /* Still honour a later --help: `nota-host fit --bogus --help` shows help. */
        for (; i < argc && strcmp(argv[i], "--") != 0; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) a->help = true;
        return rc;
    }
    if (a->cmd == HOST_CMD_NONE) return a->help ? 0 : fail(err, cap, "no command given");
    unsigned extra = a->given & ~host_cmd_options(a->cmd);
    for (size_t k = 0; k < N_OPTS; k++)
        if (extra & OPTS[k].bit)
            return fail(err, cap, "option '--%s' does not apply to '%s'", OPTS[k].name,
                        a->cmd_name);
    if (a->help) return 0;
    return check_required(a, err, cap);
}

void host_args_free(host_args *a) {
    free(a->sets);
    a->sets = NULL;
    a->n_sets = 0;
}
