/* host_run.h — running the real nota-host binary from the CLI tests.
 *
 * run_host() forks and execs NOTA_HOST_EXE with the given arguments, stdout
 * and stderr captured to files in a private temporary folder, and returns the
 * exit code (128 + signal if it died of one) with both outputs read back.
 * spawn_host() starts it without waiting, for the Ctrl-C tests. Each test
 * makes its own folder with tmpdir_make() so tests can run in parallel.
 */
#ifndef NOTA_TESTS_HOST_RUN_H
#define NOTA_TESTS_HOST_RUN_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nota/nota.h"

typedef struct host_run {
    int code;
    char *out, *err;
} host_run;

static inline void use_fixture_plugins(void) {
    setenv("NOTA_PLUGIN_PATH", NOTA_HOST_FIXTURE_DIR, 1);
}

static inline char *tmpdir_make(void) {
    char *d = strdup("/tmp/nota-host-test-XXXXXX");
    cr_assert_not_null(mkdtemp(d), "mkdtemp failed");
    return d;
}

static inline void tmpdir_remove(char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    free(dir);
}

/* Whole file as a NUL-terminated string ("" if it cannot be read). */
static inline char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1);
    size_t n = 0;
    if (!f) return buf;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf = realloc(buf, n + got + 1);
        memcpy(buf + n, chunk, got);
        n += got;
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

static inline bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static inline pid_t spawn_host(const char *out_path, const char *err_path, char *const argv[]) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork failed");
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0) _exit(121);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        close(o);
        close(e);
        execv(NOTA_HOST_EXE, argv);
        _exit(127);
    }
    return pid;
}

static inline int wait_code(pid_t pid) {
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid failed");
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* argv from a NULL-terminated list of strings. */
static inline void build_argv(char *argv[64], const char *first, va_list ap) {
    int n = 0;
    argv[n++] = (char *)"nota-host";
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        cr_assert_lt(n, 63, "too many arguments");
        argv[n++] = (char *)a;
    }
    argv[n] = NULL;
}

/* Run nota-host with the arguments (NULL-terminated); outputs go through `dir`. */
static inline host_run run_host(const char *dir, const char *first, ...) {
    char *argv[64];
    va_list ap;
    va_start(ap, first);
    build_argv(argv, first, ap);
    va_end(ap);
    char out_path[512], err_path[512];
    snprintf(out_path, sizeof out_path, "%s/.stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/.stderr", dir);
    host_run r;
    r.code = wait_code(spawn_host(out_path, err_path, argv));
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    remove(out_path);
    remove(err_path);
    return r;
}

static inline void host_run_free(host_run *r) {
    free(r->out);
    free(r->err);
}

/* Poll `path` until it contains `text` (true) or timeout_ms pass (false). */
static inline bool wait_for_text(const char *path, const char *text, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        char *s = slurp(path);
        bool found = strstr(s, text) != NULL;
        free(s);
        if (found) return true;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* A small f32 (n, d) dataset with values spread per dimension; returns its path. */
static inline char *make_vectors(const char *dir, const char *name, int64_t n, int64_t d) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, d, &t), NOTA_OK);
    float *v = nota_tensor_f32(t);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            v[i * d + j] = (float)(j + 1) * (float)((i * 7 + j * 3) % 11) * 0.25f + (float)j;
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", dir, name);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    return path;
}

/* The number that follows `key` in `text`. */
static inline double number_after(const char *text, const char *key) {
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "'%s' not in:\n%s", key, text);
    return strtod(p + strlen(key), NULL);
}

/* Fit the fixture plugin on `data` (2 steps) into dir/name; returns the path. */
static inline char *fit_model(const char *dir, const char *data, const char *name) {
    char *out = malloc(512);
    snprintf(out, 512, "%s/%s", dir, name);
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", out, "--set",
                          "steps=2", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    return out;
}

#endif
