/* IDX reader (the MNIST / Fashion-MNIST container), plain or gzip.
 *
 * An IDX file is a 4-byte big-endian magic 0x0000TTNN (TT = element type,
 * NN = number of dims), NN big-endian u32 dims, then the elements. nota reads
 * the two forms image datasets use: 0x00000803 u8 images (N, H, W), returned
 * as (N, 1, H, W), and 0x00000801 u8 labels (N). Compression is detected by
 * the gzip magic (1f 8b), never by the file name.
 *
 * The header is hostile input: every dim must be >= 1, the byte count is
 * overflow-checked and capped at NOTA_DATA_MAX_BYTES before anything is
 * allocated. A plain file's size is known up front (fstat); a gzip stream's
 * is not, so it is read in chunks into a buffer that grows only as real data
 * arrives — a tiny file declaring 8 GiB never makes us allocate 8 GiB.
 * Short files and bytes past the declared payload are both refused.
 */
#include "nota/data.h"
#include "data_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_CHUNK (1u << 20)

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The source is either a stdio stream or a zlib stream. */
typedef struct idx_src {
    const char *path;
    FILE *f;
    gzFile gz;
    nota_status err; /* code of the last failed src_read (message already set) */
} idx_src;

/* Read up to n bytes; returns the count read, or -1 on a read/decompress error
 * (message set). */
static int64_t src_read(idx_src *s, void *buf, size_t n) {
    if (s->gz) {
        size_t got = 0;
        while (got < n) {
            unsigned want = (n - got) > IDX_CHUNK ? IDX_CHUNK : (unsigned)(n - got);
            int r = gzread(s->gz, (char *)buf + got, want);
            if (r < 0) {
                int zerr;
                const char *msg = gzerror(s->gz, &zerr);
                /* A cut-off stream is a short file: let the caller report the
                 * byte counts rather than zlib's "unexpected end of file". */
                if (zerr == Z_BUF_ERROR) break;
                s->err = nota_error(NOTA_EFORMAT, "idx '%s': gzip data is corrupt (%s)", s->path,
                                    msg);
                return -1;
            }
            if (r == 0) break;
            got += (size_t)r;
        }
        return (int64_t)got;
    }
    size_t got = fread(buf, 1, n, s->f);
    if (got < n && ferror(s->f)) {
        s->err = nota_error(NOTA_EIO, "idx '%s': read failed: %s", s->path, strerror(errno));
        return -1;
    }
    return (int64_t)got;
}

/* gzip payload of exactly `want` bytes: grow the buffer as data arrives. */
static nota_status read_gz_payload(idx_src *s, size_t want, const char *kind, uint8_t **out) {
    size_t cap = want < IDX_CHUNK ? want : IDX_CHUNK, have = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return nota_error(NOTA_ENOMEM, "idx '%s': cannot allocate %zu bytes", s->path, cap);
    for (;;) {
        if (have == cap) {
            if (cap == want) break;
            size_t ncap = cap > want / 2 ? want : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return nota_error(NOTA_ENOMEM, "idx '%s': cannot allocate %zu bytes", s->path,
                                  ncap);
            }
            buf = nb;
            cap = ncap;
        }
        int64_t r = src_read(s, buf + have, cap - have);
        if (r < 0) {
            free(buf);
            return s->err;
        }
        if (r == 0) break;
        have += (size_t)r;
    }
    if (have < want) {
        free(buf);
        return nota_error(NOTA_EFORMAT, "idx '%s': expected %zu bytes of %s, file holds %zu",
                          s->path, want, kind, have);
    }
    *out = buf;
    return NOTA_OK;
}

static nota_status read_idx(idx_src *s, nota_tensor **out) {
    unsigned char hdr[16];
    int64_t r = src_read(s, hdr, 4);
    if (r < 0) return s->err;
    if (r < 4)
        return nota_error(NOTA_EFORMAT, "idx '%s': file is %lld bytes, shorter than the header",
                          s->path, (long long)r);
    uint32_t magic = be32(hdr);
    if (magic != IDX_MAGIC_IMAGES && magic != IDX_MAGIC_LABELS)
        return nota_error(NOTA_EFORMAT,
                          "idx '%s': magic 0x%08x, expected 0x%08x (u8 images) or 0x%08x "
                          "(u8 labels)",
                          s->path, magic, IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS);
    int nd = (int)(magic & 0xff);
    r = src_read(s, hdr + 4, (size_t)nd * 4);
    if (r < 0) return s->err;
    if (r < nd * 4)
        return nota_error(NOTA_EFORMAT, "idx '%s': header declares %d dims but the file ends "
                          "after %lld of their %d bytes",
                          s->path, nd, (long long)r, nd * 4);
    int64_t dims[4];
    uint64_t total = 1;
    for (int i = 0; i < nd; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] < 1)
            return nota_error(NOTA_EFORMAT, "idx '%s': dimension %d is 0, expected >= 1",
                              s->path, i);
        /* u32 dims: the product of <= 3 stays below 2^96; check each step. */
        if ((uint64_t)dims[i] > NOTA_DATA_MAX_BYTES / total)
            return nota_error(NOTA_ELIMIT, "idx '%s': payload exceeds the %llu-byte limit",
                              s->path, (unsigned long long)NOTA_DATA_MAX_BYTES);
        total *= (uint64_t)dims[i];
    }
    size_t want = (size_t)total;
    const char *kind = nd == 3 ? "pixels" : "labels";
    uint8_t *buf = NULL;
    if (s->gz) {
        nota_status st = read_gz_payload(s, want, kind, &buf);
        if (st) return st;
    } else {
        struct stat sb;
        if (fstat(fileno(s->f), &sb) != 0)
            return nota_error(NOTA_EIO, "idx '%s': stat failed: %s", s->path, strerror(errno));
        uint64_t head = 4 + 4 * (uint64_t)nd;
        uint64_t holds = (uint64_t)sb.st_size > head ? (uint64_t)sb.st_size - head : 0;
        if (holds < total)
            return nota_error(NOTA_EFORMAT, "idx '%s': expected %zu bytes of %s, file holds %llu",
                              s->path, want, kind, (unsigned long long)holds);
        buf = malloc(want);
        if (!buf)
            return nota_error(NOTA_ENOMEM, "idx '%s': cannot allocate %zu bytes", s->path, want);
        r = src_read(s, buf, want);
        if (r != (int64_t)want) {
            free(buf);
            return r < 0 ? s->err
                         : nota_error(NOTA_EFORMAT,
                                      "idx '%s': expected %zu bytes of %s, file holds %lld",
                                      s->path, want, kind, (long long)r);
        }
    }
    unsigned char extra;
    r = src_read(s, &extra, 1);
    if (r != 0) {
        free(buf);
        if (r < 0) return s->err;
        return nota_error(NOTA_EFORMAT, "idx '%s': data continues past the %zu bytes of %s the "
                          "header declares",
                          s->path, want, kind);
    }
    int64_t shape[4];
    int ndim;
    if (nd == 3) {
        shape[0] = dims[0], shape[1] = 1, shape[2] = dims[1], shape[3] = dims[2];
        ndim = 4;
    } else {
        shape[0] = dims[0];
        ndim = 1;
    }
    nota_status st = nota_tensor_wrap(NOTA_U8, ndim, shape, buf, out);
    if (st) {
        free(buf);
        return st;
    }
    (*out)->owns_data = true; /* the buffer came from malloc: hand it to the tensor */
    return NOTA_OK;
}

nota_status nota_idx_read(const char *path, nota_tensor **out) {
    if (!out) return nota_error(NOTA_EINVAL, "nota_idx_read: out is NULL");
    *out = NULL;
    if (!path) return nota_error(NOTA_EINVAL, "nota_idx_read: path is NULL");
    idx_src s = {.path = path};
    s.f = fopen(path, "rb");
    if (!s.f) return nota_error(NOTA_EIO, "idx '%s': cannot open: %s", path, strerror(errno));
    unsigned char m[2] = {0, 0};
    size_t n = fread(m, 1, 2, s.f);
    nota_status st;
    if (n == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        /* Hand the fd to zlib from the start; it owns it from here on. */
        int fd = dup(fileno(s.f));
        fclose(s.f);
        s.f = NULL;
        if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0) {
            int e = errno;
            if (fd >= 0) close(fd);
            return nota_error(NOTA_EIO, "idx '%s': cannot reopen: %s", path, strerror(e));
        }
        s.gz = gzdopen(fd, "rb");
        if (!s.gz) {
            close(fd);
            return nota_error(NOTA_ENOMEM, "idx '%s': cannot start gzip decoding", path);
        }
        gzbuffer(s.gz, 1u << 17);
        st = read_idx(&s, out);
        gzclose(s.gz);
    } else {
        rewind(s.f);
        st = read_idx(&s, out);
        fclose(s.f);
    }
    return st;
}
