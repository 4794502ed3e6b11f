/* Plugin registry tests through the real nota-host: listing, search order,
 * and every refusal (wrong ABI, short descriptor, no entry symbol, group- or
 * world-writable file, unknown name, name mismatch). */
#include <libgen.h>
#include <limits.h>

#include "host_run.h"

TestSuite(registry, .init = use_fixture_plugins);

static void copy_file(const char *from, const char *to, mode_t mode) {
    char *cmd = malloc(2048);
    snprintf(cmd, 2048, "cp '%s' '%s'", from, to);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    free(cmd);
    cr_assert_eq(chmod(to, mode), 0);
}

Test(registry, plugins_lists_the_fixtures) {
    char *dir = tmpdir_make();
    host_run r = run_host(dir, "plugins", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char line[4096];
    snprintf(line, sizeof line, "%-12s %-8s %-12s %-40s %s\n", "NAME", "VERSION", "FAMILY",
             "CAPABILITIES", "PATH");
    cr_assert_eq(strncmp(r.out, line, strlen(line)), 0, "%s", r.out);
    snprintf(line, sizeof line, "%-12s %-8u %-12s %-40s %s\n", "fixture", 1u, "fixture",
             "fit,sample,encode,decode,log_prob,eval", NOTA_HOST_FIXTURE_DIR "/fixture.so");
    cr_assert(strstr(r.out, line), "%s", r.out);
    snprintf(line, sizeof line, "%-12s %-8u %-12s %-40s %s\n", "fixture2", 1u, "fixture",
             "fit,sample,encode,decode,log_prob,eval", NOTA_HOST_FIXTURE_DIR "/fixture2.so");
    cr_assert(strstr(r.out, line), "%s", r.out);
    cr_assert_null(strstr(r.err, "fixture"), "%s", r.err);
    host_run_free(&r);

    r = run_host(dir, "plugins", "--json", "--plugin", "fixture", NULL);
    cr_assert_eq(r.code, 0);
    cr_assert_str_eq(r.out, "{\"plugins\":[{\"name\":\"fixture\",\"version\":1,\"family\":"
                            "\"fixture\",\"description\":\"per-dimension Gaussian (test "
                            "fixture)\",\"capabilities\":[\"fit\",\"sample\",\"encode\","
                            "\"decode\",\"log_prob\",\"eval\"],\"path\":\"" NOTA_HOST_FIXTURE_DIR
                            "/fixture.so\"}]}\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, wrong_abi_is_refused_with_both_numbers) {
    char *dir = tmpdir_make();
    const char *path = NOTA_HOST_BAD_FIXTURE_DIR "/badabi.so";
    host_run r = run_host(dir, "plugins", "--plugin", path, NULL);
    cr_assert_eq(r.code, 1);
    char expect[4096];
    snprintf(expect, sizeof expect,
             "nota-host: error: plugin file '%s' was built for plugin ABI 99, this host needs "
             "ABI %d\n",
             path, NOTA_ABI_VERSION);
    cr_assert_str_eq(r.err, expect);
    cr_assert_str_eq(r.out, "");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, short_descriptor_is_refused_with_both_sizes) {
    char *dir = tmpdir_make();
    const char *path = NOTA_HOST_BAD_FIXTURE_DIR "/smallstruct.so";
    host_run r = run_host(dir, "help", "fit", "--plugin", path, NULL);
    cr_assert_eq(r.code, 1);
    char expect[4096];
    snprintf(expect, sizeof expect,
             "nota-host: error: plugin file '%s' has a descriptor of 16 bytes, this host needs "
             "at least %zu\n",
             path, (size_t)NOTA_PLUGIN_MIN_SIZE);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, missing_entry_symbol_is_refused) {
    char *dir = tmpdir_make();
    const char *path = NOTA_HOST_BAD_FIXTURE_DIR "/noentry.so";
    host_run r = run_host(dir, "plugins", "--plugin", path, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: plugin file '" NOTA_HOST_BAD_FIXTURE_DIR
                            "/noentry.so' does not export the entry symbol "
                            "'nota_plugin_entry'\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, broken_plugins_in_a_folder_are_skipped_with_a_warning) {
    char *dir = tmpdir_make();
    setenv("NOTA_PLUGIN_PATH", NOTA_HOST_BAD_FIXTURE_DIR ":" NOTA_HOST_FIXTURE_DIR, 1);
    host_run r = run_host(dir, "plugins", NULL);
    cr_assert_eq(r.code, 0);
    char expect[4096];
    snprintf(expect, sizeof expect,
             "nota-host: warning: skipping plugin 'badabi': plugin file '%s/badabi.so' was built "
             "for plugin ABI "
             "99, this host needs ABI %d\n",
             NOTA_HOST_BAD_FIXTURE_DIR, NOTA_ABI_VERSION);
    cr_assert(strstr(r.err, expect), "%s", r.err);
    cr_assert(
        strstr(
            r.err,
            "nota-host: warning: skipping plugin 'noentry': plugin file '" NOTA_HOST_BAD_FIXTURE_DIR
            "/noentry.so' does not export the entry symbol "
            "'nota_plugin_entry'\n"),
        "%s", r.err);
    cr_assert(strstr(r.out, NOTA_HOST_FIXTURE_DIR "/fixture.so\n"), "%s", r.out);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, group_writable_plugin_is_refused) {
    char *dir = tmpdir_make();
    char copy[512], expect[2048];
    snprintf(copy, sizeof copy, "%s/fixture.so", dir);
    copy_file(NOTA_HOST_FIXTURE_DIR "/fixture.so", copy, 0664);
    snprintf(expect, sizeof expect,
             "nota-host: error: plugin file '%s' is writable by group or others (mode 0664); "
             "run 'chmod go-w %s' if you trust it\n",
             copy, copy);
    host_run r = run_host(dir, "plugins", "--plugin", copy, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    /* Found by name too: the first folder on NOTA_PLUGIN_PATH wins. */
    setenv("NOTA_PLUGIN_PATH", dir, 1);
    r = run_host(dir, "help", "fit", "--plugin", "fixture", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    /* World-writable alone is refused as well; fixed permissions load. */
    chmod(copy, 0646);
    r = run_host(dir, "plugins", "--plugin", copy, NULL);
    cr_assert_eq(r.code, 1);
    cr_assert(strstr(r.err, "(mode 0646)"), "%s", r.err);
    host_run_free(&r);
    chmod(copy, 0644);
    r = run_host(dir, "plugins", "--plugin", copy, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, unknown_plugin_lists_the_folders_searched) {
    char *dir = tmpdir_make();
    char exe[PATH_MAX];
    cr_assert_not_null(realpath(NOTA_HOST_EXE, exe));
    const char *exe_dir = dirname(exe);
    char expect[4096];
    snprintf(expect, sizeof expect,
             "nota-host: error: no plugin 'nosuch' (nosuch.so) in: %s, %s, %s/plugins, "
             "%s/../lib/nota/plugins, %s\n",
             dir, NOTA_HOST_FIXTURE_DIR, exe_dir, exe_dir, NOTA_PLUGIN_INSTALL_DIR);
    char path[2048];
    snprintf(path, sizeof path, "%s::%s", dir, NOTA_HOST_FIXTURE_DIR);
    setenv("NOTA_PLUGIN_PATH", path, 1);
    host_run r = run_host(dir, "plugins", "--plugin", "nosuch", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    r = run_host(dir, "plugins", "--plugin", "../evil", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "nota-host: error: cannot open plugin file '../evil': No such file "
                            "or directory\n");
    host_run_free(&r);
    tmpdir_remove(dir);
}

Test(registry, plugin_whose_name_differs_from_its_file_is_refused) {
    char *dir = tmpdir_make();
    char copy[512], expect[1024];
    snprintf(copy, sizeof copy, "%s/fixture.so", dir);
    copy_file(NOTA_HOST_FIXTURE_DIR "/fixture2.so", copy, 0755);
    setenv("NOTA_PLUGIN_PATH", dir, 1);
    snprintf(expect, sizeof expect,
             "nota-host: error: plugin file '%s' calls itself 'fixture2', expected 'fixture'\n",
             copy);
    host_run r = run_host(dir, "plugins", "--plugin", "fixture", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, expect);
    host_run_free(&r);
    tmpdir_remove(dir);
}
