/* IDX reader: plain and gzip round trips, and every refusal with its exact
 * message. Files are written by the test itself in a fresh temp folder. */
#define _XOPEN_SOURCE 700 /* nftw, to remove the temp folder */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "nota/data.h"

#define TMPDIR_PREFIX "nota-idx"
#include "tmpdir.h"
static char msg[1024];

/* Header (magic, dims) then `n` payload bytes, plain or gzip. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int nd,
                      const uint8_t *payload, size_t n, bool gz) {
    uint8_t buf[4096];
    size_t len = 0;
    for (int i = -1; i < nd; i++) {
        uint32_t v = i < 0 ? magic : dims[i];
        buf[len++] = (uint8_t)(v >> 24), buf[len++] = (uint8_t)(v >> 16);
        buf[len++] = (uint8_t)(v >> 8), buf[len++] = (uint8_t)v;
    }
    cr_assert_leq(len + n, sizeof buf);
    if (n) memcpy(buf + len, payload, n);
    len += n;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        cr_assert_not_null(g);
        cr_assert_eq(gzwrite(g, buf, (unsigned)len), (int)len);
        cr_assert_eq(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(buf, 1, len, f), len);
        fclose(f);
    }
}

static void round_trip(bool gz) {
    uint8_t px[24];
    for (int i = 0; i < 24; i++) px[i] = (uint8_t)(i * 11);
    uint32_t d[3] = {3, 2, 4};
    /* a gzip file named without .gz: detection goes by content */
    const char *p = in_dir("imgs");
    write_idx(p, 0x00000803, d, 3, px, 24, gz);
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(p, &t), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(t->dtype, NOTA_U8);
    cr_assert_eq(t->ndim, 4);
    cr_assert(t->shape[0] == 3 && t->shape[1] == 1 && t->shape[2] == 2 && t->shape[3] == 4);
    cr_assert_eq(memcmp(t->data, px, 24), 0);
    nota_tensor_free(t);

    uint8_t lab[3] = {7, 0, 9};
    uint32_t n = 3;
    write_idx(in_dir("labs"), 0x00000801, &n, 1, lab, 3, gz);
    cr_assert_eq(nota_idx_read(in_dir("labs"), &t), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(t->ndim, 1);
    cr_assert_eq(t->shape[0], 3);
    cr_assert_eq(memcmp(t->data, lab, 3), 0);
    nota_tensor_free(t);
}

TestSuite(idx, .init = setup, .fini = teardown);

Test(idx, plain_round_trip) { round_trip(false); }
Test(idx, gzip_round_trip) { round_trip(true); }

Test(idx, wrong_magic_names_both_in_hex) {
    uint32_t d[3] = {1, 1, 1};
    uint8_t px = 0;
    const char *p = in_dir("bad");
    write_idx(p, 0x00000c03, d, 3, &px, 1, false);
    nota_tensor *t = (nota_tensor *)1;
    cr_assert_eq(nota_idx_read(p, &t), NOTA_EFORMAT);
    cr_assert_null(t);
    snprintf(msg, sizeof msg,
             "idx '%s': magic 0x00000c03, expected 0x00000803 (u8 images) or 0x00000801 (u8 "
             "labels)",
             p);
    cr_assert_str_eq(nota_last_error(), msg);
}

static void truncated(bool gz) {
    static uint8_t px[1000];
    uint32_t d[3] = {60000, 28, 28};
    const char *p = in_dir("short.gz");
    write_idx(p, 0x00000803, d, 3, px, sizeof px, gz);
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(p, &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "idx '%s': expected 47040000 bytes of pixels, file holds 1000", p);
    cr_assert_str_eq(nota_last_error(), msg);
}
Test(idx, truncated_plain) { truncated(false); }
Test(idx, truncated_gzip) { truncated(true); }

Test(idx, truncated_header) {
    FILE *f = fopen(in_dir("h"), "wb");
    fwrite("\0\0\x08\x03\0\0\0\x05\0\0", 1, 10, f);
    fclose(f);
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(in_dir("h"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg,
             "idx '%s': header declares 3 dims but the file ends after 6 of their 12 bytes",
             in_dir("h"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(idx, trailing_bytes_refused) {
    uint8_t lab[4] = {1, 2, 3, 4};
    uint32_t n = 3;
    for (int gz = 0; gz < 2; gz++) {
        write_idx(in_dir("l"), 0x00000801, &n, 1, lab, 4, gz);
        nota_tensor *t;
        cr_assert_eq(nota_idx_read(in_dir("l"), &t), NOTA_EFORMAT);
        snprintf(msg, sizeof msg,
                 "idx '%s': data continues past the 3 bytes of labels the header declares",
                 in_dir("l"));
        cr_assert_str_eq(nota_last_error(), msg);
    }
}

Test(idx, zero_dim_refused) {
    uint32_t d[3] = {2, 0, 28};
    write_idx(in_dir("z"), 0x00000803, d, 3, NULL, 0, false);
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(in_dir("z"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "idx '%s': dimension 1 is 0, expected >= 1", in_dir("z"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(idx, huge_declared_size_is_capped_before_allocating) {
    uint32_t d[3] = {0xffffffffu, 0xffffffffu, 2};
    write_idx(in_dir("huge"), 0x00000803, d, 3, NULL, 0, true);
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(in_dir("huge"), &t), NOTA_ELIMIT);
    snprintf(msg, sizeof msg, "idx '%s': payload exceeds the 8589934592-byte limit",
             in_dir("huge"));
    cr_assert_str_eq(nota_last_error(), msg);
    /* 4 GiB declared by a 40-byte gzip file: refused from the data actually
     * present, without first allocating the declared size */
    uint32_t d2[3] = {65536, 256, 256};
    uint8_t px[10] = {0};
    write_idx(in_dir("big"), 0x00000803, d2, 3, px, 10, true);
    cr_assert_eq(nota_idx_read(in_dir("big"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "idx '%s': expected 4294967296 bytes of pixels, file holds 10",
             in_dir("big"));
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(idx, corrupt_gzip_refused) {
    uint8_t px[512];
    for (int i = 0; i < 512; i++) px[i] = (uint8_t)(i * 7 + i / 3);
    uint32_t d[3] = {2, 16, 16};
    write_idx(in_dir("c"), 0x00000803, d, 3, px, sizeof px, true);
    FILE *f = fopen(in_dir("c"), "r+b");
    fseek(f, -6, SEEK_END); /* inside the CRC32 trailer */
    int c = fgetc(f);
    fseek(f, -6, SEEK_END);
    fputc(c ^ 0xff, f);
    fclose(f);
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(in_dir("c"), &t), NOTA_EFORMAT);
    snprintf(msg, sizeof msg, "idx '%s': gzip data is corrupt (", in_dir("c"));
    cr_assert(strncmp(nota_last_error(), msg, strlen(msg)) == 0, "%s", nota_last_error());
}

Test(idx, missing_file) {
    nota_tensor *t;
    cr_assert_eq(nota_idx_read(in_dir("nope"), &t), NOTA_EIO);
    snprintf(msg, sizeof msg, "idx '%s': cannot open: No such file or directory", in_dir("nope"));
    cr_assert_str_eq(nota_last_error(), msg);
}
