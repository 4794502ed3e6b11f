/* Test helper: a fresh temp folder per test (Criterion .init/.fini) and paths
 * inside it. Define TMPDIR_PREFIX before including to name the folder. The
 * including file must define _XOPEN_SOURCE 700 first (nftw). */
#ifndef NOTA_TEST_TMPDIR_H
#define NOTA_TEST_TMPDIR_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef TMPDIR_PREFIX
#define TMPDIR_PREFIX "nota-test"
#endif

static char dir[64];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/" TMPDIR_PREFIX "-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) { nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS); }

/* "<dir>/<name>"; two alternating buffers, so two paths can be live at once. */
static const char *in_dir(const char *name) {
    static char p[2][160];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

#endif
