/* `nota-host analyze`: per-component normality counts on the scipy fixtures
 * (tests/fixtures/normality), the JSON p-values against scipy's, filters,
 * constant columns, and the refusals (too few items, no data named). */
#include <math.h>

#include "host_run.h"

#define FIX NOTA_SOURCE_DIR "/tests/fixtures/normality/"

static char *write_npy(const char *dir, const char *name, int64_t n, int64_t d, bool constant) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, d, &t), NOTA_OK);
    nota_rng_fill_normal(4, 4, nota_tensor_f32(t), (size_t)(n * d));
    if (constant)
        for (int64_t i = 0; i < n; i++)
            nota_tensor_f32(t)[i * d] = 2.0f;
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", dir, name);
    cr_assert_eq(nota_npy_write(path, t), NOTA_OK, "%s", nota_last_error());
    nota_tensor_free(t);
    return path;
}

Test(analyze, counts_rejections_per_test_and_level) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "analyze", FIX "mixed.npy", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    /* scipy: the one normal column passes, the five others have p < 1e-7 */
    cr_assert_str_eq(r.out, "data " FIX "mixed.npy: 500 items, 6 components\n"
                            "test                   rejected a=0.05    rejected a=0.01\n"
                            "D'Agostino K^2              5 ( 83.3%)         5 ( 83.3%)\n"
                            "Jarque-Bera                 5 ( 83.3%)         5 ( 83.3%)\n");
    host_run_free(&r);

    r = run_host(dir, "analyze", FIX "normal.npy", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    /* scipy: column 1 has p_K2 = 0.026 and p_JB = 0.0019, the others pass */
    cr_assert(strstr(r.out, "D'Agostino K^2              1 ( 33.3%)         0 (  0.0%)\n"
                            "Jarque-Bera                 1 ( 33.3%)         1 ( 33.3%)\n"),
              "%s", r.out);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(analyze, json_p_values_match_scipy) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "analyze", FIX "normal.npy", "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"items\":200,\"components\":3,\"constant\":0,"
                            "\"dagostino_k2\":{\"reject_0.05\":1,\"reject_0.01\":0},"
                            "\"jarque_bera\":{\"reject_0.05\":1,\"reject_0.01\":1},\"p_k2\":["),
              "%s", r.out);
    /* expected.csv: normal column 0 p_k2 and p_jb from scipy */
    cr_assert_float_eq(number_after(r.out, "\"p_k2\":["), 0.87123138312880266, 1e-6 * 0.87);
    cr_assert_float_eq(number_after(r.out, "\"p_jb\":["), 0.92433570410573562, 1e-6 * 0.92);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(analyze, limit_and_constant_columns) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "analyze", FIX "mixed.npy", "--limit", "30", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(strncmp(r.out, "data " FIX "mixed.npy: 30 items, 6 components\n",
                         strlen("data " FIX "mixed.npy: 30 items, 6 components\n")),
                 0, "%s", r.out);
    host_run_free(&r);

    char *path = write_npy(dir, "c.npy", 100, 3, true), expect[700];
    r = run_host(dir, "analyze", path, "--json", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"constant\":1,"), "%s", r.out);
    cr_assert(strstr(r.out, "\"p_k2\":[0,"), "%s", r.out);
    cr_assert_null(strstr(r.out, "nan"), "%s", r.out);
    host_run_free(&r);
    r = run_host(dir, "analyze", path, NULL);
    snprintf(expect, sizeof expect,
             "data %s: 100 items, 3 components (1 constant, counted as "
             "rejected)\n",
             path);
    cr_assert_eq(strncmp(r.out, expect, strlen(expect)), 0, "%s", r.out);
    host_run_free(&r);
    free(path);
    tmpdir_remove(dir);
}

Test(analyze, refusals) {
    char *dir = tmpdir_make();
    char *path = write_npy(dir, "small.npy", 10, 3, false), expect[700];
    host_run r = run_host(dir, "analyze", path, NULL);
    cr_assert_eq(r.code, 1);
    snprintf(expect, sizeof expect,
             "nota-host: error: normality tests on %s: need at least 20 items, got 10\n", path);
    cr_assert_str_eq(r.err, expect);
    cr_assert_str_eq(r.out, "");
    host_run_free(&r);

    r = run_host(dir, "analyze", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: 'analyze' needs FILE.npy or a dataset spec\n"
                            "Run 'nota-host help analyze' for usage.\n");
    host_run_free(&r);

    r = run_host(dir, "analyze", path, "--seed", "3", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: option '--seed' does not apply to 'analyze'\n"
                            "Run 'nota-host help analyze' for usage.\n");
    host_run_free(&r);
    free(path);
    tmpdir_remove(dir);
}
