/* nota-host: the command-line front end of nota.
 *
 * main parses the command line, sets the process-wide thread count and hands
 * over to one command (commands_*.c). Exit codes and error lines are defined
 * here so that every command reports the same way (see host.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

static void print_line(const char *prefix, const char *fmt, va_list ap) {
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *p = msg; *p; p++) /* one error, one line */
        if (*p == '\n' || *p == '\r') *p = ' ';
    fprintf(stderr, "nota-host: %s%s\n", prefix, msg);
}

int host_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_line("error: ", fmt, ap);
    va_end(ap);
    return HOST_EXIT_ERROR;
}

int host_usage(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_line("error: ", fmt, ap);
    va_end(ap);
    if (command && *command)
        fprintf(stderr, "Run 'nota-host help %s' for usage.\n", command);
    else
        fprintf(stderr, "Run 'nota-host help' for usage.\n");
    return HOST_EXIT_USAGE;
}

int host_fail(nota_status st) {
    if (st == NOTA_ECANCELED) {
        fprintf(stderr, "nota-host: interrupted\n");
        return HOST_EXIT_INTERRUPTED;
    }
    const char *msg = nota_last_error();
    return host_error("%s", msg[0] ? msg : nota_status_str(st));
}

host_runner_opts host_ctx_runner_opts(const host_ctx *c) {
    host_runner_opts o = {.tty = c->tty,
                          .verbose = c->args.verbose,
                          .seed = c->args.seed,
                          .threads = c->args.threads};
    return o;
}

int main(int argc, char **argv) {
    host_ctx c;
    memset(&c, 0, sizeof c);
    char err[512];
    int rc = host_args_parse(argc, argv, &c.args, err, sizeof err);
    c.tty = isatty(STDERR_FILENO) == 1;
    bool help = c.args.help || c.args.cmd == HOST_CMD_HELP;
    /* --help wins over other mistakes, unless the command itself is unknown. */
    bool help_ok = c.args.help && (c.args.cmd != HOST_CMD_NONE || !c.args.cmd_name);
    if (rc && !help_ok) {
        rc = host_usage(c.args.cmd == HOST_CMD_HELP ? NULL : host_cmd_name(c.args.cmd), "%s", err);
        host_args_free(&c.args);
        return rc;
    }
    if (c.args.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.args.threads = n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
    }
    nota_set_threads(c.args.threads);
    nota_status st = host_registry_init(&c.registry);
    if (st) {
        host_args_free(&c.args);
        return host_fail(st);
    }
    if (help) {
        rc = host_cmd_help(&c);
    } else {
        switch (c.args.cmd) {
        case HOST_CMD_PLUGINS:
            rc = host_cmd_plugins(&c);
            break;
        case HOST_CMD_INFO:
            rc = host_cmd_info(&c);
            break;
        case HOST_CMD_FIT:
            rc = host_cmd_fit(&c);
            break;
        case HOST_CMD_SAMPLE:
            rc = host_cmd_sample(&c);
            break;
        case HOST_CMD_ENCODE:
            rc = host_cmd_encode(&c);
            break;
        case HOST_CMD_DECODE:
            rc = host_cmd_decode(&c);
            break;
        case HOST_CMD_EVAL:
            rc = host_cmd_eval(&c);
            break;
        case HOST_CMD_ANALYZE:
            rc = host_cmd_analyze(&c);
            break;
        case HOST_CMD_COMPRESS:
            rc = host_cmd_compress(&c);
            break;
        case HOST_CMD_DECOMPRESS:
            rc = host_cmd_decompress(&c);
            break;
        case HOST_CMD_TRANSFORM:
            rc = host_cmd_transform(&c);
            break;
        case HOST_CMD_COMPOSE:
            rc = host_cmd_compose(&c);
            break;
        case HOST_CMD_TRAVERSE:
            rc = host_cmd_traverse(&c);
            break;
        default:
            rc = host_usage(NULL, "no command given");
            break;
        }
    }
    if (fflush(stdout) != 0 && rc == 0) rc = host_error("cannot write to standard output");
    host_registry_free(&c.registry);
    host_args_free(&c.args);
    return rc;
}
