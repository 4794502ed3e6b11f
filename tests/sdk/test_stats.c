/* Normality tests (nota/stats.h) against scipy.stats: the fixtures in
 * tests/fixtures/normality were written by make_fixtures.py there (data as
 * .npy, scipy's statistics and p-values in expected.csv). Statistics and
 * p-values must agree to a relative 1e-6 (the formulas are the same; what
 * differs is summation order and erfc/chi2.sf implementations, ~1e-12). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nota/nota.h"

#define RTOL 1e-6
#define FIX NOTA_SOURCE_DIR "/tests/fixtures/normality/"

typedef struct row {
    char name[32];
    int col;
    double v[10]; /* skew, kurtosis, z_skew, p_skew, z_kurt, p_kurt, k2, p_k2, jb, p_jb */
} row;

static int read_expected(row *rows, int cap) {
    FILE *f = fopen(FIX "expected.csv", "r");
    cr_assert_not_null(f, "cannot open " FIX "expected.csv");
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, f)); /* header */
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        row *r = &rows[n];
        char *tok = strtok(line, ",");
        cr_assert_not_null(tok);
        snprintf(r->name, sizeof r->name, "%s", tok);
        r->col = atoi(strtok(NULL, ","));
        for (int k = 0; k < 10; k++) {
            tok = strtok(NULL, ",\n");
            cr_assert_not_null(tok, "short line %d", n + 2);
            r->v[k] = strtod(tok, NULL);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void assert_close(double got, double want, const char *what, const row *r) {
    /* p-values below 1e-300 underflow to 0 in both implementations */
    double tol = RTOL * fabs(want) + 1e-300;
    cr_assert(fabs(got - want) <= tol, "%s column %d %s: nota %.17g, scipy %.17g", r->name, r->col,
              what, got, want);
}

static nota_tensor *load(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, FIX "%s.npy", name);
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(path, &t), NOTA_OK, "%s", nota_last_error());
    return t;
}

Test(stats, matches_scipy_on_every_fixture_column) {
    row rows[64];
    int n = read_expected(rows, 64);
    cr_assert_eq(n, 11, "expected.csv has %d rows", n);
    static const char *names[] = {"skew",   "kurtosis", "z_skew", "p_skew", "z_kurt",
                                  "p_kurt", "k2",       "p_k2",   "jb",     "p_jb"};
    for (int i = 0; i < n; i++) {
        nota_tensor *x = load(rows[i].name);
        int64_t d = x->shape[1];
        nota_normality *res = calloc((size_t)d, sizeof *res);
        cr_assert_eq(nota_normality_columns(x, rows[i].name, res, NULL), NOTA_OK, "%s",
                     nota_last_error());
        const nota_normality *r = &res[rows[i].col];
        double got[10] = {r->skew,   r->kurtosis, r->z_skew, r->p_skew, r->z_kurt,
                          r->p_kurt, r->k2,       r->p_k2,   r->jb,     r->p_jb};
        for (int k = 0; k < 10; k++)
            assert_close(got[k], rows[i].v[k], names[k], &rows[i]);
        cr_assert_not(r->constant);
        /* the single-sample entry point (strided column) gives the same numbers */
        nota_normality one;
        cr_assert_eq(nota_normality_test(nota_tensor_f32(x) + rows[i].col, x->shape[0], d, &one),
                     NOTA_OK);
        cr_assert_float_eq(one.k2, r->k2, 1e-9 * r->k2);
        cr_assert_float_eq(one.jb, r->jb, 1e-9 * r->jb);
        free(res);
        nota_tensor_free(x);
    }
}

Test(stats, rejection_counts_agree_with_scipy_p_values) {
    row rows[64];
    int n = read_expected(rows, 64);
    nota_tensor *x = load("mixed");
    nota_normality_summary s;
    cr_assert_eq(nota_normality_columns(x, "mixed", NULL, &s), NOTA_OK);
    int64_t k05 = 0, k01 = 0, j05 = 0, j01 = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].name, "mixed") != 0) continue;
        k05 += rows[i].v[7] < 0.05;
        k01 += rows[i].v[7] < 0.01;
        j05 += rows[i].v[9] < 0.05;
        j01 += rows[i].v[9] < 0.01;
    }
    cr_assert_eq(s.n, 500);
    cr_assert_eq(s.d, 6);
    cr_assert_eq(s.constant, 0);
    /* the normal column passes; the five non-normal ones are rejected */
    cr_assert_eq(k05, 5);
    cr_assert_eq(s.k2_reject_05, k05);
    cr_assert_eq(s.k2_reject_01, k01);
    cr_assert_eq(s.jb_reject_05, j05);
    cr_assert_eq(s.jb_reject_01, j01);
    nota_tensor_free(x);
}

Test(stats, constant_column_is_flagged_and_rejected_without_nan) {
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new_2d(50, 2, &x), NOTA_OK);
    float *p = nota_tensor_f32(x);
    nota_rng_fill_normal(1, 2, p, 100);
    for (int i = 0; i < 50; i++)
        p[i * 2 + 1] = 3.25f;
    nota_normality r[2];
    nota_normality_summary s;
    cr_assert_eq(nota_normality_columns(x, "x", r, &s), NOTA_OK);
    cr_assert(r[1].constant);
    cr_assert_not(r[0].constant);
    double v[] = {r[1].skew, r[1].kurtosis, r[1].z_skew, r[1].z_kurt,
                  r[1].k2,   r[1].jb,       r[1].p_k2,   r[1].p_jb};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(v[i], 0.0, "field %zu", i);
    cr_assert(isfinite(r[0].k2) && isfinite(r[0].jb));
    cr_assert_eq(s.constant, 1);
    cr_assert_geq(s.k2_reject_01, 1);
    cr_assert_geq(s.jb_reject_01, 1);
    nota_tensor_free(x);
}

Test(stats, item_shape_is_flattened_to_columns) {
    nota_tensor *x = load("mixed");
    nota_normality a[6], b[6];
    cr_assert_eq(nota_normality_columns(x, "x", a, NULL), NOTA_OK);
    int64_t shape[3] = {500, 2, 3};
    cr_assert_eq(nota_tensor_reshape(x, 3, shape), NOTA_OK);
    cr_assert_eq(nota_normality_columns(x, "x", b, NULL), NOTA_OK);
    for (int j = 0; j < 6; j++)
        cr_assert_eq(a[j].k2, b[j].k2);
    nota_tensor_free(x);
}

Test(stats, bad_inputs_are_refused_with_exact_messages) {
    nota_tensor *x;
    nota_normality r;
    cr_assert_eq(nota_tensor_new_2d(19, 3, &x), NOTA_OK);
    cr_assert_eq(nota_normality_columns(x, "codes.npy", NULL, NULL), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "normality tests on codes.npy: need at least 20 items, got 19");
    cr_assert_eq(nota_normality_test(nota_tensor_f32(x), 19, 3, &r), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "normality test: need at least 20 values, got 19");
    nota_tensor_free(x);

    cr_assert_eq(nota_tensor_new_2d(30, 2, &x), NOTA_OK);
    nota_tensor_f32(x)[2 * 7 + 1] = NAN;
    cr_assert_eq(nota_normality_columns(x, "codes.npy", NULL, NULL), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "codes.npy: item 7, element 1 is NaN (expected finite)");
    cr_assert_eq(nota_normality_test(nota_tensor_f32(x) + 1, 30, 2, &r), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "normality test: value 7 is nan");
    cr_assert_eq(nota_normality_test(nota_tensor_f32(x), 30, 0, &r), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "normality test: stride must be >= 1, got 0");
    nota_tensor_free(x);

    int64_t n = 40;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &n, &x), NOTA_OK);
    cr_assert_eq(nota_normality_columns(x, "v", NULL, NULL), NOTA_EINVAL);
    cr_assert_str_eq(
        nota_last_error(),
        "normality tests on v: expected f32 data (N, d), found f32 with 1 dimension(s)");
    nota_tensor_free(x);
    int64_t s2[2] = {40, 3};
    cr_assert_eq(nota_tensor_new(NOTA_U8, 2, s2, &x), NOTA_OK);
    cr_assert_eq(nota_normality_columns(x, "img", NULL, NULL), NOTA_EINVAL);
    cr_assert_str_eq(
        nota_last_error(),
        "normality tests on img: expected f32 data (N, d), found u8 with 2 dimension(s)");
    nota_tensor_free(x);
}
