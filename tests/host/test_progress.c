/* Progress display of nota-host: on a terminal (a pseudo-terminal here) a
 * redrawn bar, without one plain lines (one per stage change, then at most one
 * a second). */
#include <errno.h>
#include <pty.h>

#include "host_run.h"

TestSuite(progress, .init = use_fixture_plugins, .timeout = 60);

/* Run nota-host on a pseudo-terminal; returns everything it wrote. */
static char *run_on_tty(char *const argv[], int *code) {
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    cr_assert_neq(pid, -1, "forkpty failed");
    if (pid == 0) {
        execv(NOTA_HOST_EXE, argv);
        _exit(127);
    }
    size_t n = 0, cap = 1 << 16;
    char *buf = calloc(1, cap);
    for (;;) {
        ssize_t got = read(master, buf + n, cap - 1 - n);
        if (got > 0)
            n += (size_t)got;
        else if (got < 0 && errno == EINTR)
            continue;
        else
            break; /* EIO once the child has gone */
        if (n == cap - 1) break;
    }
    buf[n] = '\0';
    close(master);
    *code = wait_code(pid);
    return buf;
}

Test(progress, terminal_gets_a_redrawn_bar) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 2);
    char out[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    char *argv[] = {"nota-host", "fit",   "--plugin", "fixture", "--data",       data, "--out",
                    out,         "--set", "steps=4",  "--set",   "sleep_ms=150", NULL};
    int code;
    char *text = run_on_tty(argv, &code);
    cr_assert_eq(code, 0, "%s", text);
    cr_assert(strstr(text, "\r\033[K[fit] ["), "no bar in:\n%s", text);
    cr_assert(strstr(text, "] 4/4 (100%) step 4") || strstr(text, "] 3/4 (75%) step 3") ||
                  strstr(text, "] 2/4 (50%) step 2"),
              "bar was never redrawn:\n%s", text);
    cr_assert_null(strstr(text, "[fit] 1/4 (25%) step 1\r\n"), "plain line on a tty:\n%s", text);
    cr_assert(file_exists(out));
    free(text);
    free(data);
    tmpdir_remove(dir);
}

Test(progress, pipe_gets_plain_lines_at_a_limited_rate) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 2);
    char out[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    /* 40 reports in about 0.4 s: the stage line, then none until a second passed */
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", out, "--set",
                          "steps=40", "--set", "sleep_ms=10", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "[fit] 1/40 (2%) step 1\n"), "%s", r.err);
    cr_assert_null(strstr(r.err, "\r"), "%s", r.err);
    int fit_lines = 0;
    for (const char *p = r.err; (p = strstr(p, "[fit] ")); p++)
        fit_lines++;
    cr_assert_leq(fit_lines, 3, "%s", r.err);
    cr_assert(strstr(r.err, "[log_prob] 16/16 (100%)\n"), "%s", r.err);
    host_run_free(&r);
    free(data);
    tmpdir_remove(dir);
}
