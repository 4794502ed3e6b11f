/* NumPy .npy reader and writer.
 *
 * Format (numpy.lib.format): "\x93NUMPY", major, minor, a little-endian
 * header length (u16 for v1.0, u32 for v2.0), then an ASCII Python dict
 * literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with
 * spaces and ended by '\n', then the raw C-order elements.
 *
 * Reading accepts '<f4' and '<f8' (returned as f32) and '|u1', C order only,
 * up to 8 dims each >= 1. The header is hostile input: its length is capped
 * (NOTA_NPY_MAX_HEADER, NumPy's own limit), the dict is parsed by a small
 * strict parser (no eval, unknown keys refused), the byte count is
 * overflow-checked and must equal the bytes left in the file exactly — a
 * truncated file and trailing bytes are both refused.
 *
 * Writing produces v1.0, '<f4' or '|u1', with the header padded so the data
 * starts at a multiple of 64 bytes, as the NumPy spec recommends; the file is
 * written atomically (data_io.h). f32 round trips are bit-exact.
 */
#include "nota/data.h"
#include "data_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char NPY_MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef enum { NPY_F4, NPY_F8, NPY_U1 } npy_kind;

typedef struct npy_header {
    npy_kind kind;
    int ndim;
    int64_t shape[NOTA_MAX_DIMS];
} npy_header;

/* --- header dict parser ---------------------------------------------------- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n')) c->p++;
}

static bool eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string ('x' or "x") of at most cap-1 chars, no escapes. */
static bool parse_str(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return false;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return false;
    c->p++;
    out[n] = '\0';
    return true;
}

static bool parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return false;
    c->p += n;
    return true;
}

/* "(3, 4)", "(5,)", "()" — non-negative decimal integers below 2^62. */
static nota_status parse_shape(cursor *c, const char *path, npy_header *h) {
    if (!eat(c, '('))
        return nota_error(NOTA_EFORMAT, "npy '%s': header 'shape' is not a tuple", path);
    h->ndim = 0;
    while (!eat(c, ')')) {
        if (h->ndim == NOTA_MAX_DIMS)
            return nota_error(NOTA_ELIMIT, "npy '%s': shape has more than %d dims", path,
                              NOTA_MAX_DIMS);
        skip_ws(c);
        int64_t v = 0;
        int digits = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_C(1) << 62) / 10)
                return nota_error(NOTA_ELIMIT, "npy '%s': dimension %d is too large", path,
                                  h->ndim);
            v = v * 10 + (*c->p++ - '0');
            digits++;
        }
        /* numpy writes "3L" in files from Python 2 */
        if (digits && c->p < c->end && *c->p == 'L') c->p++;
        if (!digits)
            return nota_error(NOTA_EFORMAT, "npy '%s': header 'shape' holds a non-integer", path);
        if (v < 1)
            return nota_error(NOTA_EFORMAT, "npy '%s': dimension %d is 0, expected >= 1", path,
                              h->ndim);
        h->shape[h->ndim++] = v;
        if (!eat(c, ',')) {
            if (!eat(c, ')'))
                return nota_error(NOTA_EFORMAT, "npy '%s': header 'shape' is not a tuple", path);
            break;
        }
    }
    if (h->ndim == 0)
        return nota_error(NOTA_EFORMAT, "npy '%s': shape () has no items axis, expected >= 1 dim",
                          path);
    return NOTA_OK;
}

static nota_status parse_header(const char *txt, size_t len, const char *path, npy_header *h) {
    cursor c = {txt, txt + len};
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!eat(&c, '{')) return nota_error(NOTA_EFORMAT, "npy '%s': header is not a dict", path);
    while (!eat(&c, '}')) {
        char key[32], val[32];
        if (!parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            return nota_error(NOTA_EFORMAT, "npy '%s': header dict is malformed", path);
        if (strcmp(key, "descr") == 0) {
            if (!parse_str(&c, val, sizeof val))
                return nota_error(NOTA_EFORMAT, "npy '%s': header 'descr' is not a string",
                                  path);
            if (strcmp(val, "<f4") == 0) h->kind = NPY_F4;
            else if (strcmp(val, "<f8") == 0) h->kind = NPY_F8;
            else if (strcmp(val, "|u1") == 0) h->kind = NPY_U1;
            else
                return nota_error(NOTA_EFORMAT,
                                  "npy '%s': dtype '%s' is not supported (expected '<f4', "
                                  "'<f8' or '|u1')",
                                  path, val);
            seen_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "True"))
                return nota_error(NOTA_EFORMAT,
                                  "npy '%s': fortran_order True is not supported (expected C "
                                  "order)",
                                  path);
            if (!parse_word(&c, "False"))
                return nota_error(NOTA_EFORMAT, "npy '%s': header 'fortran_order' is not a bool",
                                  path);
            seen_order = true;
        } else if (strcmp(key, "shape") == 0) {
            nota_status st = parse_shape(&c, path, h);
            if (st) return st;
            seen_shape = true;
        } else {
            return nota_error(NOTA_EFORMAT, "npy '%s': unknown header key '%s'", path, key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return nota_error(NOTA_EFORMAT, "npy '%s': header dict is malformed", path);
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return nota_error(NOTA_EFORMAT, "npy '%s': unexpected text after the header dict", path);
    if (!seen_descr || !seen_order || !seen_shape)
        return nota_error(NOTA_EFORMAT, "npy '%s': header lacks '%s'", path,
                          !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    return NOTA_OK;
}

/* --- reader ---------------------------------------------------------------- */

static nota_status read_body(FILE *f, const char *path, nota_tensor **out) {
    unsigned char pre[12];
    size_t n = fread(pre, 1, 10, f);
    if (n < 10 || memcmp(pre, NPY_MAGIC, 6) != 0)
        return nota_error(NOTA_EFORMAT, "npy '%s': not a .npy file (bad magic)", path);
    unsigned major = pre[6], minor = pre[7];
    uint64_t hlen, pre_len;
    if (major == 1 && minor == 0) {
        hlen = pre[8] | (unsigned)pre[9] << 8;
        pre_len = 10;
    } else if (major == 2 && minor == 0) {
        if (fread(pre + 10, 1, 2, f) != 2)
            return nota_error(NOTA_EFORMAT, "npy '%s': file ends inside the preamble", path);
        hlen = pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
        pre_len = 12;
    } else {
        return nota_error(NOTA_EFORMAT, "npy '%s': version %u.%u is not supported (expected 1.0 "
                          "or 2.0)",
                          path, major, minor);
    }
    if (hlen > NOTA_NPY_MAX_HEADER)
        return nota_error(NOTA_ELIMIT, "npy '%s': header is %llu bytes, limit %d", path,
                          (unsigned long long)hlen, NOTA_NPY_MAX_HEADER);
    char txt[NOTA_NPY_MAX_HEADER];
    if (fread(txt, 1, (size_t)hlen, f) != hlen)
        return nota_error(NOTA_EFORMAT, "npy '%s': file ends inside the %llu-byte header", path,
                          (unsigned long long)hlen);
    npy_header h = {0};
    nota_status st = parse_header(txt, (size_t)hlen, path, &h);
    if (st) return st;

    size_t numel, out_bytes, in_size = h.kind == NPY_F8 ? 8 : h.kind == NPY_F4 ? 4 : 1;
    nota_dtype dt = h.kind == NPY_U1 ? NOTA_U8 : NOTA_F32;
    st = nota_shape_size(h.ndim, h.shape, dt, &numel, &out_bytes);
    if (st) return nota_error_prefix(st, "npy '%s': ", path);
    if (numel > NOTA_DATA_MAX_BYTES / in_size)
        return nota_error(NOTA_ELIMIT, "npy '%s': payload exceeds the %llu-byte limit", path,
                          (unsigned long long)NOTA_DATA_MAX_BYTES);
    uint64_t want = (uint64_t)numel * in_size;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return nota_error(NOTA_EIO, "npy '%s': stat failed: %s", path, strerror(errno));
    uint64_t start = pre_len + hlen;
    uint64_t holds = (uint64_t)sb.st_size > start ? (uint64_t)sb.st_size - start : 0;
    if (holds != want)
        return nota_error(NOTA_EFORMAT, "npy '%s': shape needs %llu data bytes, file holds %llu",
                          path, (unsigned long long)want, (unsigned long long)holds);
    st = nota_tensor_new(dt, h.ndim, h.shape, out);
    if (st) return nota_error_prefix(st, "npy '%s': ", path);
    if (h.kind != NPY_F8) {
        if (fread((*out)->data, 1, (size_t)want, f) != want) goto short_read;
    } else {
        /* Convert in blocks so the f64 staging buffer stays small. */
        unsigned char blk[8 * 4096];
        float *dst = nota_tensor_f32(*out);
        for (size_t i = 0; i < numel;) {
            size_t k = numel - i < 4096 ? numel - i : 4096;
            if (fread(blk, 8, k, f) != k) goto short_read;
            for (size_t j = 0; j < k; j++) {
                uint64_t bits = 0;
                for (int b = 7; b >= 0; b--) bits = bits << 8 | blk[8 * j + (size_t)b];
                double d;
                memcpy(&d, &bits, 8);
                dst[i + j] = (float)d;
            }
            i += k;
        }
    }
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (h.kind == NPY_F4) {
        uint32_t *w = (*out)->data;
        for (size_t i = 0; i < numel; i++) w[i] = __builtin_bswap32(w[i]);
    }
#endif
    return NOTA_OK;
short_read:
    nota_tensor_free(*out);
    *out = NULL;
    return nota_error(NOTA_EIO, "npy '%s': read failed: %s", path,
                      ferror(f) ? strerror(errno) : "file shrank while reading");
}

nota_status nota_npy_read(const char *path, nota_tensor **out) {
    if (!out) return nota_error(NOTA_EINVAL, "nota_npy_read: out is NULL");
    *out = NULL;
    if (!path) return nota_error(NOTA_EINVAL, "nota_npy_read: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return nota_error(NOTA_EIO, "npy '%s': cannot open: %s", path, strerror(errno));
    nota_status st = read_body(f, path, out);
    fclose(f);
    return st;
}

/* --- writer ---------------------------------------------------------------- */

/* The v1.0 header for t: preamble + dict + spaces + '\n', total a multiple
 * of 64. Returns its length, or 0 if it does not fit `cap`. */
static size_t npy_header_bytes(const nota_tensor *t, char *buf, size_t cap) {
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     t->dtype == NOTA_F32 ? "<f4" : "|u1");
    for (int i = 0; i < t->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %lld" : "%lld",
                      (long long)t->shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, t->ndim == 1 ? ",), }" : "), }");
    size_t total = 10 + (size_t)n + 1; /* preamble + dict + '\n' */
    total = (total + 63) / 64 * 64;
    if (total > cap || total - 10 > 65535) return 0;
    memcpy(buf, NPY_MAGIC, 6);
    buf[6] = 1, buf[7] = 0;
    buf[8] = (char)((total - 10) & 0xff), buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

nota_status nota_npy_write(const char *path, const nota_tensor *t) {
    if (!path || !t) return nota_error(NOTA_EINVAL, "nota_npy_write: path or tensor is NULL");
    if (t->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "npy '%s': tensor is not on the CPU", path);
    if (t->dtype != NOTA_F32 && t->dtype != NOTA_U8)
        return nota_error(NOTA_EINVAL, "npy '%s': dtype %s cannot be written (expected f32 or u8)",
                          path, nota_dtype_name(t->dtype));
    if (t->ndim < 1)
        return nota_error(NOTA_EINVAL, "npy '%s': tensor has 0 dims, expected >= 1", path);
    char hdr[640];
    size_t hl = npy_header_bytes(t, hdr, sizeof hdr);
    if (!hl) return nota_error(NOTA_ELIMIT, "npy '%s': header does not fit", path);
    data_atomic a;
    nota_status st = data_atomic_begin(&a, path, "npy");
    if (st) return st;
    bool ok = fwrite(hdr, 1, hl, a.f) == hl;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; ok && t->dtype == NOTA_F32 && i < nota_tensor_numel(t); i++) {
        uint32_t w = __builtin_bswap32(((const uint32_t *)t->data)[i]);
        ok = fwrite(&w, 4, 1, a.f) == 1;
    }
    if (t->dtype == NOTA_U8)
#endif
        ok = ok && fwrite(t->data, 1, t->nbytes, a.f) == t->nbytes;
    if (!ok) {
        int e = errno;
        data_atomic_abort(&a);
        return nota_error(NOTA_EIO, "npy '%s': write failed: %s", path, strerror(e));
    }
    return data_atomic_commit(&a, "npy");
}
