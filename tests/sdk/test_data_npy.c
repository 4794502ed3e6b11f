/* .npy reader/writer: bit-exact round trips, the exact header bytes the NumPy
 * format spec prescribes, f8 -> f32, v2.0 headers, and every refusal with its
 * exact message. Hand-made files are written byte by byte in a temp folder. */
#define _XOPEN_SOURCE 700 /* nftw, to remove the temp folder */
#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nota/data.h"

#define TMPDIR_PREFIX "nota-npy"
#include "tmpdir.h"
static char msg[1024];

static size_t slurp(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* A v1.0 (or v2.0) file: preamble, `dict` padded to 64 with '\n', then data. */
static void write_npy(const char *path, int major, const char *dict, const void *data,
                      size_t n) {
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hl = total - pre;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite("\x93NUMPY", 1, 6, f);
    unsigned char v[6] = {(unsigned char)major, 0, (unsigned char)hl, (unsigned char)(hl >> 8), 0,
                          0};
    fwrite(v, 1, pre - 6, f);
    fputs(dict, f);
    for (size_t i = pre + dl; i < total - 1; i++) fputc(' ', f);
    fputc('\n', f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void expect_fail(const char *dict, const void *data, size_t n, nota_status code,
                        const char *tail) {
    write_npy(in_dir("bad.npy"), 1, dict, data, n);
    nota_tensor *t = (nota_tensor *)1;
    cr_assert_eq(nota_npy_read(in_dir("bad.npy"), &t), code, "%s", nota_last_error());
    cr_assert_null(t);
    snprintf(msg, sizeof msg, "npy '%s': %s", in_dir("bad.npy"), tail);
    cr_assert_str_eq(nota_last_error(), msg);
}

TestSuite(npy, .init = setup, .fini = teardown);

Test(npy, f32_round_trip_is_bit_exact_with_spec_header) {
    int64_t s[2] = {2, 3};
    nota_tensor *t, *r;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &t), NOTA_OK);
    float *x = nota_tensor_f32(t);
    uint32_t odd[2] = {0x7fc01234u, 0x00000001u}; /* NaN with payload, smallest denormal */
    x[0] = -0.0f, x[1] = 1.0f / 3.0f, x[2] = -1e30f, x[3] = INFINITY;
    memcpy(&x[4], &odd[0], 4), memcpy(&x[5], &odd[1], 4);
    cr_assert_eq(nota_npy_write(in_dir("a.npy"), t), NOTA_OK, "%s", nota_last_error());

    unsigned char got[512];
    size_t n = slurp(in_dir("a.npy"), got, sizeof got);
    /* NumPy format spec: magic, version 1.0, u16 LE header length, the dict,
     * spaces, '\n'; the data starts at a multiple of 64 bytes. */
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    unsigned char want[128];
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
    memcpy(want + 10, dict, strlen(dict));
    memset(want + 10 + strlen(dict), ' ', 128 - 11 - strlen(dict));
    want[127] = '\n';
    cr_assert_eq(n, 128u + 24u);
    cr_assert_eq(memcmp(got, want, 128), 0, "header differs: %.118s", got + 10);
    cr_assert_eq(memcmp(got + 128, t->data, 24), 0);

    cr_assert_eq(nota_npy_read(in_dir("a.npy"), &r), NOTA_OK, "%s", nota_last_error());
    cr_assert(nota_tensor_same_shape(t, r));
    cr_assert_eq(r->dtype, NOTA_F32);
    cr_assert_eq(memcmp(r->data, t->data, 24), 0);
    nota_tensor_free(t);
    nota_tensor_free(r);
}

Test(npy, u8_round_trip_1d) {
    int64_t s[1] = {5};
    nota_tensor *t, *r;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 1, s, &t), NOTA_OK);
    for (int i = 0; i < 5; i++) nota_tensor_u8(t)[i] = (uint8_t)(250 + i);
    cr_assert_eq(nota_npy_write(in_dir("u.npy"), t), NOTA_OK, "%s", nota_last_error());
    unsigned char got[256];
    cr_assert_eq(slurp(in_dir("u.npy"), got, sizeof got), 133u);
    const char *dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }";
    cr_assert_eq(memcmp(got + 10, dict, strlen(dict)), 0);
    cr_assert_eq(got[127], '\n');
    cr_assert_eq(nota_npy_read(in_dir("u.npy"), &r), NOTA_OK, "%s", nota_last_error());
    cr_assert(r->dtype == NOTA_U8 && r->ndim == 1 && r->shape[0] == 5);
    cr_assert_eq(memcmp(r->data, t->data, 5), 0);
    nota_tensor_free(t);
    nota_tensor_free(r);
}

Test(npy, f8_is_converted_to_f32) {
    double d[4] = {0.5, -2.25, 1e-3, 3e38};
    write_npy(in_dir("d.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
              d, sizeof d);
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(in_dir("d.npy"), &t), NOTA_OK, "%s", nota_last_error());
    cr_assert(t->dtype == NOTA_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 2);
    for (int i = 0; i < 4; i++) cr_assert_eq(nota_tensor_f32(t)[i], (float)d[i]);
    nota_tensor_free(t);
}

Test(npy, v2_header_and_key_order_and_spacing) {
    float v[3] = {1, 2, 3};
    write_npy(in_dir("v2.npy"), 2, "{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<f4\"}",
              v, sizeof v);
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(in_dir("v2.npy"), &t), NOTA_OK, "%s", nota_last_error());
    cr_assert(t->ndim == 1 && t->shape[0] == 3 && nota_tensor_f32(t)[2] == 3.0f);
    nota_tensor_free(t);
}

Test(npy, truncated_and_trailing_refused) {
    float v[7] = {0};
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    expect_fail(dict, v, 20, NOTA_EFORMAT, "shape needs 24 data bytes, file holds 20");
    expect_fail(dict, v, 28, NOTA_EFORMAT, "shape needs 24 data bytes, file holds 28");
}

Test(npy, fortran_order_refused) {
    float v[6] = {0};
    expect_fail("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", v, 24,
                NOTA_EFORMAT, "fortran_order True is not supported (expected C order)");
}

Test(npy, big_endian_and_other_dtypes_refused) {
    float v[6] = {0};
    expect_fail("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", v, 24,
                NOTA_EFORMAT, "dtype '>f4' is not supported (expected '<f4', '<f8' or '|u1')");
    expect_fail("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", v, 24,
                NOTA_EFORMAT, "dtype '<i4' is not supported (expected '<f4', '<f8' or '|u1')");
}

Test(npy, header_too_long_refused) {
    FILE *f = fopen(in_dir("bad.npy"), "wb");
    fwrite("\x93NUMPY\x02\x00\x20\x4e\x00\x00", 1, 12, f); /* 20000-byte header */
    fclose(f);
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(in_dir("bad.npy"), &t), NOTA_ELIMIT);
    snprintf(msg, sizeof msg, "npy '%s': header is 20000 bytes, limit 10000", in_dir("bad.npy"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(npy, bad_shapes_refused) {
    expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                NULL, 0, NOTA_ELIMIT, "shape has more than 8 dims");
    expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", NULL, 0,
                NOTA_EFORMAT, "dimension 1 is 0, expected >= 1");
    expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", NULL, 0, NOTA_EFORMAT,
                "shape () has no items axis, expected >= 1 dim");
    /* 2^42 elements: overflow-checked, refused before any allocation */
    expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 1024), }",
                NULL, 0, NOTA_ELIMIT, "payload exceeds the 8589934592-byte limit");
}

Test(npy, malformed_headers_refused) {
    expect_fail("{'descr': '<f4', 'fortran_order': False}", NULL, 0, NOTA_EFORMAT,
                "header lacks 'shape'");
    expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", NULL, 0,
                NOTA_EFORMAT, "unknown header key 'x'");
    expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", NULL, 0,
                NOTA_EFORMAT, "unexpected text after the header dict");
    FILE *f = fopen(in_dir("bad.npy"), "wb");
    fwrite("\x93NUMPY\x03\x00\x10\x00\x00\x00", 1, 12, f);
    fclose(f);
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(in_dir("bad.npy"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "npy '%s': version 3.0 is not supported (expected 1.0 or 2.0)",
             in_dir("bad.npy"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(npy, write_to_missing_folder_names_it) {
    int64_t s[1] = {2};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, s, &t), NOTA_OK);
    char p[200], d[160];
    snprintf(d, sizeof d, "%s/no-such-folder", dir);
    snprintf(p, sizeof p, "%s/x.npy", d);
    cr_assert_eq(nota_npy_write(p, t), NOTA_EIO);
    snprintf(msg, sizeof msg,
             "npy '%s': cannot create a file in folder '%s': No such file or directory", p, d);
    cr_assert_str_eq(nota_last_error(), msg);
    nota_tensor_free(t);
}
