/* Loading and saving model files (see nota/modelfile.h, docs/model-files.md).
 *
 * Load treats the file as hostile and refuses it at the earliest step that
 * can tell: size limit (before reading a byte), framing and CRC-32, nesting
 * depth (modelfile_scan.c, no recursion), unpacking through a capped
 * allocator (modelfile_alloc.c), then validation of every field
 * (modelfile_validate.c). Save streams the packed message into a temp file in
 * the target's folder, fsyncs it, renames it over the target and fsyncs the
 * folder, so a crash at any point leaves either the old file or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modelfile_internal.h"

#define DEFAULT_MAX_FILE_BYTES (UINT64_C(4) << 30)

nota_model_limits nota_modelfile_default_limits(void) {
    nota_model_limits l = {DEFAULT_MAX_FILE_BYTES, 0, NOTA_MODEL_MAX_DEPTH};
    const char *env = getenv("NOTA_MODEL_MAX_BYTES");
    if (env && *env) {
        /* Only a plain decimal byte count overrides; anything else keeps the
         * default (this function has no error channel). */
        char *end;
        errno = 0;
        unsigned long long v = strtoull(env, &end, 10);
        if (!*end && errno == 0 && env[0] >= '0' && env[0] <= '9') l.max_file_bytes = v;
    }
    return l;
}

static nota_status load_image(const uint8_t *bytes, size_t n, uint8_t *owned, const char *name,
                              const nota_model_limits *limits, nota_modelfile **out) {
    const uint8_t *payload;
    size_t payload_n;
    nota_status st = nota_mf_frame_check(bytes, n, name, &payload, &payload_n);
    int depth = limits->max_depth ? limits->max_depth : NOTA_MODEL_MAX_DEPTH;
    if (!st) st = nota_mf_scan(payload, payload_n, depth, name);
    if (st) {
        free(owned);
        return st;
    }
    uint64_t cap = limits->max_alloc_bytes ? limits->max_alloc_bytes
                                           : 2 * (uint64_t)n + (UINT64_C(1) << 20);
    nota_mf_alloc a;
    nota_mf_alloc_init(&a, cap);
    Nota__Model *m = nota__model__unpack(&a.pc, payload_n, payload);
    free(owned); /* the file image is not needed past this point */
    if (!m) {
        if (a.over_cap)
            return nota_error(NOTA_ELIMIT,
                              "model '%s': unpacking needs more than %llu bytes of memory "
                              "(the cap for a %zu-byte file)",
                              name, (unsigned long long)cap, n);
        if (a.out_of_memory)
            return nota_error(NOTA_ENOMEM, "model '%s': out of memory while unpacking", name);
        return nota_error(NOTA_EFORMAT, "model '%s': payload is not a valid nota.Model message",
                          name);
    }
    char prefix[NOTA_MODEL_MAX_NAME + 320];
    snprintf(prefix, sizeof prefix, "model '%s'", name);
    st = nota_mf_validate(m, prefix);
    if (!st) {
        st = nota_mf_from_pb(m, &a.pc, out);
        if (st) nota_error_prefix(st, "%s: ", prefix);
    }
    nota__model__free_unpacked(m, &a.pc);
    return st;
}

static nota_status check_size(uint64_t n, const char *name, const nota_model_limits *l) {
    if (n > l->max_file_bytes)
        return nota_error(NOTA_ELIMIT,
                          "model '%s': %llu bytes exceeds the limit of %llu bytes "
                          "(NOTA_MODEL_MAX_BYTES raises it)",
                          name, (unsigned long long)n, (unsigned long long)l->max_file_bytes);
    return NOTA_OK;
}

nota_status nota_modelfile_load_bytes(const uint8_t *bytes, size_t n, const char *name,
                                      const nota_model_limits *limits, nota_modelfile **out) {
    *out = NULL;
    nota_model_limits def = nota_modelfile_default_limits();
    if (!limits) limits = &def;
    if (!name) name = "(memory)";
    if (!bytes && n) return nota_error(NOTA_EINVAL, "model '%s': bytes is NULL", name);
    nota_status st = check_size(n, name, limits);
    if (st) return st;
    return load_image(bytes, n, NULL, name, limits, out);
}

nota_status nota_modelfile_load(const char *path, const nota_model_limits *limits,
                                nota_modelfile **out) {
    *out = NULL;
    nota_model_limits def = nota_modelfile_default_limits();
    if (!limits) limits = &def;
    if (!path) return nota_error(NOTA_EINVAL, "nota_modelfile_load: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nota_error(NOTA_EIO, "model '%s': cannot open: %s", path, strerror(errno));
    struct stat sb;
    nota_status st = NOTA_OK;
    if (fstat(fd, &sb) != 0)
        st = nota_error(NOTA_EIO, "model '%s': cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = nota_error(NOTA_EIO, "model '%s': not a regular file", path);
    else if ((uint64_t)sb.st_size > SIZE_MAX)
        st = nota_error(NOTA_ELIMIT, "model '%s': too large for this machine", path);
    if (!st) st = check_size((uint64_t)sb.st_size, path, limits);
    size_t n = st ? 0 : (size_t)sb.st_size;
    uint8_t *buf = NULL;
    if (!st && !(buf = malloc(n ? n : 1)))
        st = nota_error(NOTA_ENOMEM, "model '%s': cannot allocate %zu bytes to read it", path, n);
    for (size_t got = 0; !st && got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) st = nota_error(NOTA_EIO, "model '%s': read failed: %s", path, strerror(errno));
        else if (r == 0)
            st = nota_error(NOTA_EIO, "model '%s': file shrank while reading (%zu of %zu bytes)",
                            path, got, n);
        else got += (size_t)r;
    }
    close(fd);
    if (st) {
        free(buf);
        return st;
    }
    return load_image(buf, n, buf, path, limits, out);
}

/* --- save ------------------------------------------------------------------ */

/* protobuf-c packs in many small pieces; gather them so the file sees large
 * writes, and pass big pieces (tensor data) straight through. */
typedef struct file_sink {
    ProtobufCBuffer base;
    int fd;
    int err; /* errno of the first failed write */
    uint32_t crc;
    size_t used;
    uint8_t buf[1 << 16];
} file_sink;

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sink_flush(file_sink *s) {
    if (!s->err && s->used) s->err = write_all(s->fd, s->buf, s->used);
    s->used = 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
    file_sink *s = (file_sink *)b;
    s->crc = nota_mf_crc32_more(s->crc, data, len);
    if (len > sizeof s->buf - s->used) sink_flush(s);
    if (len >= sizeof s->buf) {
        if (!s->err) s->err = write_all(s->fd, data, len);
        return;
    }
    memcpy(s->buf + s->used, data, len);
    s->used += len;
}

/* Write header + payload into fd (positioned at 0), fsync it. */
static nota_status write_temp(int fd, const Nota__Model *m, const char *path, const char *tmp) {
    file_sink *s = calloc(1, sizeof *s);
    if (!s) return nota_error(NOTA_ENOMEM, "saving model '%s': buffer allocation failed", path);
    s->base.append = sink_append;
    s->fd = fd;
    uint8_t hdr[NOTA_MF_HEADER_BYTES] = {0}; /* real header once the CRC is known */
    s->err = write_all(fd, hdr, sizeof hdr);
    size_t n = s->err ? 0 : nota__model__pack_to_buffer(m, &s->base);
    sink_flush(s);
    nota_mf_frame_header(hdr, n, s->crc);
    int err = s->err;
    free(s);
    errno = 0;
    if (!err && pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) err = errno ? errno : EIO;
    if (!err && fsync(fd) != 0) err = errno;
    if (err)
        return nota_error(NOTA_EIO, "saving model '%s': writing temp file '%s' failed: %s", path,
                          tmp, strerror(err));
    return NOTA_OK;
}

/* Temp file, fsync, rename, fsync the folder. `dir` is path's folder. */
static nota_status write_atomic(const Nota__Model *m, const char *path, const char *dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return nota_error(NOTA_EIO, "saving model '%s': folder '%s' cannot be opened: %s", path,
                          dir, strerror(errno));
    size_t tl = strlen(path) + sizeof ".tmp.XXXXXX";
    char *tmp = malloc(tl);
    if (!tmp) {
        close(dfd);
        return nota_error(NOTA_ENOMEM, "saving model '%s': name allocation failed", path);
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", path);
    nota_status st = NOTA_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = nota_error(NOTA_EIO, "saving model '%s': cannot create a temp file in '%s': %s", path,
                        dir, strerror(errno));
        free(tmp);
        close(dfd);
        return st;
    }
    /* mkstemp makes 0600; a model file is not a secret: keep the old file's
     * mode when replacing one, 0644 otherwise. */
    struct stat old;
    fchmod(fd, stat(path, &old) == 0 ? (old.st_mode & 0777) : 0644);
    st = write_temp(fd, m, path, tmp);
    if (close(fd) != 0 && !st)
        st = nota_error(NOTA_EIO, "saving model '%s': closing temp file '%s' failed: %s", path, tmp,
                        strerror(errno));
    if (!st && rename(tmp, path) != 0)
        st = nota_error(NOTA_EIO, "saving model '%s': renaming '%s' over it failed: %s", path, tmp,
                        strerror(errno));
    if (st) {
        unlink(tmp); /* the old file, if any, was never touched */
    } else if (fsync(dfd) != 0) {
        st = nota_error(NOTA_EIO, "saving model '%s': fsync of folder '%s' failed: %s", path, dir,
                        strerror(errno));
    }
    free(tmp);
    close(dfd);
    return st;
}

nota_status nota_modelfile_save(const nota_modelfile *mf, const char *path) {
    if (!mf || !path || !*path)
        return nota_error(NOTA_EINVAL, "nota_modelfile_save: model file or path is NULL/empty");
    size_t pl = strlen(path);
    if (path[pl - 1] == '/')
        return nota_error(NOTA_EINVAL, "saving model '%s': the path names a folder", path);
    char *dir = strdup(path);
    if (!dir) return nota_error(NOTA_ENOMEM, "saving model '%s': name allocation failed", path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';

    Nota__Model *m = NULL;
    nota_status st = nota_mf_to_pb(mf, (int64_t)time(NULL), &m);
    if (st) {
        free(dir);
        return nota_error_prefix(st, "saving model '%s': ", path);
    }
    char prefix[NOTA_MODEL_MAX_NAME + 320];
    snprintf(prefix, sizeof prefix, "saving model '%s'", path);
    st = nota_mf_validate(m, prefix); /* never write what load would refuse */
    if (!st) {
        size_t n = nota__model__get_packed_size(m);
        if ((uint64_t)n > NOTA_MF_MAX_PAYLOAD)
            st = nota_error(NOTA_ELIMIT, "saving model '%s': payload of %zu bytes exceeds the "
                            "format's %llu", path, n, (unsigned long long)NOTA_MF_MAX_PAYLOAD);
    }
    if (!st) st = write_atomic(m, path, dir);
    nota_mf_pb_free_borrowed(m);
    free(dir);
    return st;
}
