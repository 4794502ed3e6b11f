/* CLI tests of nota-host: help, usage errors (exit 2), --set errors, data and
 * output-folder errors (exit 1). Each runs the real binary as a subprocess
 * with NOTA_PLUGIN_PATH pointing at the fixture plugins. */
#include "host_run.h"

TestSuite(cli, .init = use_fixture_plugins);

Test(cli, unknown_command_is_a_usage_error) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "frobnicate", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: unknown command 'frobnicate'\n"
                            "Run 'nota-host help' for usage.\n");
    cr_assert_str_eq(r.out, "");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, no_command_is_a_usage_error) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: no command given\n"
                            "Run 'nota-host help' for usage.\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, unknown_option_is_a_usage_error) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "fit", "--bogus", "1", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: unknown option '--bogus'\n"
                            "Run 'nota-host help fit' for usage.\n");
    host_run_free(&r);
    r = run_host(dir, "sample", "m.nota", "--n", "3", "--json", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: option '--json' does not apply to 'sample'\n"
                            "Run 'nota-host help sample' for usage.\n");
    host_run_free(&r);
    r = run_host(dir, "sample", "m.nota", "--n", "0", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: --n expects a sample count in 1..10000000, got '0'\n"
                            "Run 'nota-host help sample' for usage.\n");
    host_run_free(&r);
    r = run_host(dir, "fit", "--plugin", "fixture", "--data", "x.npy", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: 'fit' needs --out FILE.nota\n"
                            "Run 'nota-host help fit' for usage.\n");
    host_run_free(&r);
    r = run_host(dir, "eval", "m.nota", "--data", "a", "--data", "b", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: option '--data' given twice\n"
                            "Run 'nota-host help eval' for usage.\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, help_lists_commands_and_help_anywhere_works) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "help", NULL);
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "Usage: nota-host [--plugin NAME|PATH] COMMAND [options]\n"));
    cr_assert(strstr(r.out, "  fit         fit a model on a dataset and save it\n"));
    cr_assert(
        strstr(r.out, "Exit codes: 0 ok, 1 error, 2 usage error, 130 interrupted (Ctrl-C).\n"));
    host_run_free(&r);
    /* --help after a command, even with other mistakes on the line */
    r = run_host(dir, "sample", "--bogus", "--help", NULL);
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "Usage: nota-host sample MODEL.nota [--n N] [--temperature T] "
                            "[--out PREFIX]\n"));
    cr_assert_str_eq(r.err, "");
    host_run_free(&r);
    r = run_host(dir, "help", "nosuch", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: unknown command 'nosuch'\n"
                            "Run 'nota-host help' for usage.\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, help_fit_with_plugin_lists_its_options) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "help", "fit", "--plugin", "fixture", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "Usage: nota-host fit --plugin NAME|PATH --data SPEC --out FILE.nota"));
    cr_assert(strstr(r.out, "Plugin fixture 1 (family fixture): per-dimension Gaussian (test "
                            "fixture)\n"));
    cr_assert(strstr(r.out, "Capabilities: fit,sample,encode,decode,log_prob,eval\n"));
    const char *lines[] = {
        "  steps            int    default 3          range [1, 1000]          progress steps of "
        "fit\n",
        "  sleep_ms         int    default 0          range [0, 10000]         sleep per step "
        "(ms), for Ctrl-C tests\n",
        "  min_std          float  default 0.001      range [1e-06, 1000]      floor of each "
        "standard deviation\n",
        "  estimator        string default mle        one of mle|unbiased      variance "
        "estimator\n",
        "  center           bool   default true                                fit the mean "
        "(false: mean 0)\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert(strstr(r.out, lines[i]), "missing line: %s\nin:\n%s", lines[i], r.out);
    host_run_free(&r);
    /* --help anywhere, with the plugin before the command */
    r = run_host(dir, "--plugin", "fixture", "fit", "--help", NULL);
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, lines[0]));
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, set_with_unknown_key_is_a_usage_error) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", "x.npy", "--out", "m.nota",
                          "--set", "depth=3", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: unknown option 'depth' (valid: steps, sleep_ms, "
                            "min_std, estimator, center, poll)\n"
                            "Run 'nota-host help fit --plugin fixture' for its options.\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, set_with_bad_value_is_a_usage_error) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", "x.npy", "--out", "m.nota",
                          "--set", "steps=abc", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: option 'steps' expects an integer, got 'abc'\n"
                            "Run 'nota-host help fit --plugin fixture' for its options.\n");
    host_run_free(&r);
    r = run_host(dir, "fit", "--plugin", "fixture", "--data", "x.npy", "--out", "m.nota", "--set",
                 "estimator=median", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: option 'estimator' must be one of mle|unbiased, "
                            "got 'median'\n"
                            "Run 'nota-host help fit --plugin fixture' for its options.\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, missing_dataset_file_is_named) {
    char *dir = tmpdir_make();
    char data[512], out[512];
    snprintf(data, sizeof data, "%s/missing.npy", dir);
    snprintf(out, sizeof out, "%s/m.nota", dir);
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_eq(strncmp(r.err, "nota-host: error: ", 18), 0, "%s", r.err);
    cr_assert(strstr(r.err, data), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert(!file_exists(out));
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(cli, saving_into_a_missing_folder_fails_before_fitting) {
    char *dir = tmpdir_make();
    char *data = make_vectors(dir, "x.npy", 16, 3);
    char out[512], expect[1024];
    snprintf(out, sizeof out, "%s/nodir/m.nota", dir);
    snprintf(expect, sizeof expect,
             "nota-host: error: cannot write '%s': folder '%s/nodir': No such file or "
             "directory\n",
             out, dir);
    host_run r = run_host(dir, "fit", "--plugin", "fixture", "--data", data, "--out", out, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    cr_assert_str_eq(r.out, "");
    cr_assert(!file_exists(out));
    host_run_free(&r);
    free(data);
    tmpdir_remove(dir);
}

Test(cli, fit_needs_a_plugin) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "fit", "--data", "x.npy", "--out", "m.nota", NULL);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "nota-host: error: 'fit' needs --plugin NAME|PATH\n"
                            "Run 'nota-host help fit' for usage.\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}
