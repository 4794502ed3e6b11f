/* Ctrl-C tests: a slow fit (fixture plugin with sleep_ms) is interrupted
 * with SIGINT once (the plugin stops at its next safe point: exit 130,
 * "interrupted", no model file) or twice while the plugin ignores the flag
 * (the host quits at once: exit 130). */
#include <dirent.h>

#include "host_run.h"

TestSuite(interrupt, .init = use_fixture_plugins, .timeout = 60);

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Start a fit that would take minutes; returns its pid once it is fitting. */
static pid_t start_slow_fit(const char *dir, const char *data, const char *out, const char *poll,
                            const char *steps, char *err_path) {
    char out_path[512];
    snprintf(out_path, sizeof out_path, "%s/.stdout", dir);
    snprintf(err_path, 512, "%s/.stderr", dir);
    char *argv[] = {"nota-host",  "fit",          "--plugin",  "fixture",    "--data",
                    (char *)data, "--out",        (char *)out, "--set",      (char *)steps,
                    "--set",      "sleep_ms=200", "--set",     (char *)poll, NULL};
    pid_t pid = spawn_host(out_path, err_path, argv);
    cr_assert(wait_for_text(err_path, "[fit] 1/", 20000), "fit never started");
    return pid;
}

Test(interrupt, ctrl_c_stops_the_fit_and_writes_nothing) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 2);
    char out[512], err_path[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    pid_t pid = start_slow_fit(dir, data, out, "poll=true", "steps=1000", err_path);
    cr_assert_eq(kill(pid, SIGINT), 0);
    cr_assert_eq(wait_code(pid), 130);
    char *err = slurp(err_path);
    const char *tail = "[info] interrupt: stopping at the next safe point (Ctrl-C again to quit "
                       "now)\nnota-host: interrupted\n";
    cr_assert(strlen(err) >= strlen(tail) && !strcmp(err + strlen(err) - strlen(tail), tail), "%s",
              err);
    cr_assert(!file_exists(out));
    /* nothing else either: only the data and the captured outputs remain */
    cr_assert_eq(count_entries(dir), 3);
    free(err);
    free(data);
    tmpdir_remove(dir);
}

Test(interrupt, second_ctrl_c_quits_at_once) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 2);
    char out[512], err_path[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    pid_t pid = start_slow_fit(dir, data, out, "poll=false", "steps=1000", err_path);
    cr_assert_eq(kill(pid, SIGINT), 0);
    cr_assert(wait_for_text(err_path, "Ctrl-C again to quit now", 10000));
    cr_assert_eq(kill(pid, SIGINT), 0);
    cr_assert_eq(wait_code(pid), 130);
    char *err = slurp(err_path);
    const char *tail = "\nnota-host: interrupted\n";
    cr_assert(!strcmp(err + strlen(err) - strlen(tail), tail), "%s", err);
    cr_assert(!file_exists(out));
    free(err);
    free(data);
    tmpdir_remove(dir);
}

Test(interrupt, a_fit_that_ignores_ctrl_c_still_writes_nothing) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 2);
    char out[512], err_path[512];
    snprintf(out, sizeof out, "%s/m.nota", dir);
    /* 3 steps of 200 ms, not polling: the fit completes after the Ctrl-C */
    pid_t pid = start_slow_fit(dir, data, out, "poll=false", "steps=3", err_path);
    cr_assert_eq(kill(pid, SIGINT), 0);
    cr_assert_eq(wait_code(pid), 130);
    char *err = slurp(err_path);
    const char *tail = "nota-host: interrupted\n";
    cr_assert(!strcmp(err + strlen(err) - strlen(tail), tail), "%s", err);
    cr_assert(!file_exists(out));
    cr_assert_eq(count_entries(dir), 3);
    free(err);
    free(data);
    tmpdir_remove(dir);
}
