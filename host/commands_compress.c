/* `nota-host compress` and `nota-host decompress`: image codecs provided by
 * plugins (NOTA_CAP_COMPRESS).
 *
 * compress reads a PNG, runs the plugin's compress on a worker thread (with
 * progress and Ctrl-C), checks the result by decompressing it right away
 * (which also gives the PSNR and the decode time it reports), and writes the
 * bytes atomically (temp file in the same folder, fsync, rename, fsync the
 * folder). decompress finds the plugin from the file itself: compressed
 * files begin with NOTA_CODED_MAGIC, a length byte and the plugin's name
 * (plugin.h). A compressed file is untrusted input: its size is bounded
 * before it is read, the prefix is checked here and the rest by the plugin.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

#define HOST_CODED_MAX_BYTES ((size_t)256 << 20)
#define HOST_CODED_MAGIC_LEN 4

static double now_s(void) { return (double)uv_hrtime() * 1e-9; }

static nota_status write_atomic(const char *path, const uint8_t *bytes, size_t n) {
    char tmp[4096], dir[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return nota_error(NOTA_ELIMIT, "output path '%s' is too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return nota_error(NOTA_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    int err = 0;
    for (size_t done = 0; done < n && !err;) {
        ssize_t k = write(fd, bytes + done, n - done);
        if (k < 0 && errno != EINTR) err = errno;
        if (k > 0) done += (size_t)k;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return nota_error(NOTA_EIO, "cannot write '%s': %s", path, strerror(err));
    }
    /* Make the rename durable; best effort, the data itself is already safe. */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return NOTA_OK;
}

static nota_status read_bounded(const char *path, uint8_t **out, size_t *n) {
    *out = NULL, *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return nota_error(NOTA_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return nota_error(NOTA_EIO, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > HOST_CODED_MAX_BYTES) {
        fclose(f);
        return nota_error(NOTA_ELIMIT,
                          "'%s' is %lld bytes, more than the %zu a compressed file "
                          "may have",
                          path, (long long)sb.st_size, HOST_CODED_MAX_BYTES);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return nota_error(NOTA_ENOMEM, "cannot allocate %zu bytes for '%s'", size, path);
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        free(buf);
        return nota_error(NOTA_EIO, "'%s': read %zu of %zu bytes", path, got, size);
    }
    *out = buf, *n = size;
    return NOTA_OK;
}

/* The plugin name from a compressed file's prefix, into name (cap > 64). */
static nota_status coded_plugin_name(const char *path, const uint8_t *b, size_t n, char *name) {
    if (n < HOST_CODED_MAGIC_LEN + 2 || memcmp(b, NOTA_CODED_MAGIC, HOST_CODED_MAGIC_LEN) != 0)
        return nota_error(NOTA_EFORMAT, "'%s' is not a nota compressed file (no \"%s\" header)",
                          path, NOTA_CODED_MAGIC);
    size_t len = b[HOST_CODED_MAGIC_LEN];
    if (len < 1 || len > 64 || n < HOST_CODED_MAGIC_LEN + 1 + len)
        return nota_error(NOTA_EFORMAT, "'%s': the plugin name in its header is damaged", path);
    memcpy(name, b + HOST_CODED_MAGIC_LEN + 1, len);
    name[len] = '\0';
    if (!host_plugin_name_ok(name))
        return nota_error(NOTA_EFORMAT, "'%s': the plugin name in its header is damaged", path);
    return NOTA_OK;
}

typedef struct compress_state {
    const nota_plugin *p;
    const nota_config *cfg;
    const nota_tensor *image;
    double bpp, enc_s, dec_s, psnr;
    uint8_t *bytes;
    size_t n;
} compress_state;

static nota_status compress_job(host_job *job, const nota_host *host) {
    compress_state *s = job->arg;
    double t0 = now_s();
    nota_status st = s->p->compress(s->cfg, s->image, s->bpp, host, &s->bytes, &s->n);
    s->enc_s = now_s() - t0;
    if (st) return st;
    if (nota_cancelled(host)) return nota_error(NOTA_ECANCELED, "cancelled");
    nota_tensor *back;
    t0 = now_s();
    st = s->p->decompress(s->bytes, s->n, host, &back);
    s->dec_s = now_s() - t0;
    if (st) return nota_error_prefix(st, "plugin '%s' cannot read its own output: ", s->p->name);
    if (back->nbytes != s->image->nbytes || back->ndim != 3 ||
        memcmp(back->shape, s->image->shape, sizeof back->shape[0] * 3) != 0) {
        nota_tensor_free(back);
        return nota_error(NOTA_ESHAPE, "plugin '%s' decoded an image of another size", s->p->name);
    }
    const uint8_t *a = nota_tensor_u8(s->image), *b = nota_tensor_u8(back);
    double se = 0.0;
    for (size_t i = 0; i < back->nbytes; i++)
        se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    s->psnr = se > 0.0 ? 10.0 * log10(255.0 * 255.0 * (double)back->nbytes / se) : INFINITY;
    nota_tensor_free(back);
    return NOTA_OK;
}

static void report_compress(const host_ctx *c, const compress_state *s) {
    const int64_t *sh = s->image->shape;
    double bpp = 8.0 * (double)s->n / (double)(sh[1] * sh[2]);
    if (c->args.json) {
        printf("{\"out\":");
        host_json_str(stdout, c->args.out);
        printf(",\"plugin\":");
        host_json_str(stdout, s->p->name);
        printf(",\"width\":%lld,\"height\":%lld,\"channels\":%lld,\"bytes\":%zu,\"bpp\":",
               (long long)sh[2], (long long)sh[1], (long long)sh[0], s->n);
        host_json_num(stdout, bpp);
        printf(",\"psnr_db\":");
        host_json_num(stdout, s->psnr);
        printf(",\"encode_seconds\":");
        host_json_num(stdout, s->enc_s);
        printf(",\"decode_seconds\":");
        host_json_num(stdout, s->dec_s);
        printf("}\n");
        return;
    }
    printf("wrote %s (plugin %s, %lldx%lld, %lld channels): %zu bytes, %.4f bpp, PSNR %.2f dB, "
           "encode %.2f s, decode %.3f s\n",
           c->args.out, s->p->name, (long long)sh[2], (long long)sh[1], (long long)sh[0], s->n, bpp,
           s->psnr, s->enc_s, s->dec_s);
}

int host_cmd_compress(host_ctx *c) {
    host_plugin *plug;
    nota_status st = host_plugin_open(&c->registry, c->args.plugin, &plug);
    if (st) return host_fail(st);
    const nota_plugin *p = plug->desc;
    int rc = HOST_EXIT_OK;
    nota_config *cfg = NULL;
    nota_tensor *image = NULL;
    compress_state s = {.p = p, .bpp = c->args.bpp};
    host_runner r;
    bool runner = false;
    if (!(p->caps & NOTA_CAP_COMPRESS) || !p->compress || !p->decompress) {
        char caps[160];
        rc = host_error("plugin '%s' cannot compress (capabilities: %s)", p->name,
                        host_caps_str(p->caps, caps, sizeof caps));
        goto done;
    }
    if ((rc = host_plugin_config(c, p, &cfg))) goto done;
    st = host_check_out_dir(c->args.out);
    if (!st) st = nota_png_read(c->args.positional, &image);
    if (!st) {
        host_runner_opts o = host_ctx_runner_opts(c);
        st = host_runner_init(&r, &o);
        runner = !st;
    }
    s.cfg = cfg, s.image = image;
    host_job job = {
        .name = "compress", .device = {NOTA_DEVICE_CPU, 0}, .run = compress_job, .arg = &s};
    if (!st) st = host_runner_submit(&r, &job);
    if (!st) {
        host_runner_run(&r);
        st = host_runner_cancelled(&r) ? NOTA_ECANCELED : host_job_raise(&job);
    }
    if (!st) st = write_atomic(c->args.out, s.bytes, s.n);
    if (st) {
        rc = host_fail(st);
        goto done;
    }
    report_compress(c, &s);
done:
    free(s.bytes);
    nota_tensor_free(image);
    nota_config_free(cfg);
    if (runner) host_runner_close(&r);
    host_plugin_close(plug);
    return rc;
}

int host_cmd_decompress(host_ctx *c) {
    const char *path = c->args.positional;
    uint8_t *bytes = NULL;
    size_t n = 0;
    char name[72];
    host_plugin *plug = NULL;
    nota_tensor *image = NULL;
    host_runner r;
    bool runner = false;
    nota_status st = read_bounded(path, &bytes, &n);
    if (!st) st = coded_plugin_name(path, bytes, n, name);
    if (!st) st = host_plugin_open(&c->registry, c->args.plugin ? c->args.plugin : name, &plug);
    if (!st && strcmp(plug->desc->name, name) != 0)
        st = nota_error(NOTA_EINVAL, "'%s' was made by plugin '%s', not '%s'", path, name,
                        plug->desc->name);
    if (!st && !(plug->desc->caps & NOTA_CAP_COMPRESS && plug->desc->decompress))
        st = nota_error(NOTA_ENOTSUP, "plugin '%s' cannot decompress", name);
    if (!st) st = host_check_out_dir(c->args.out);
    if (!st) {
        host_runner_opts o = host_ctx_runner_opts(c);
        st = host_runner_init(&r, &o);
        runner = !st;
    }
    double t0 = now_s();
    if (!st) {
        st = plug->desc->decompress(bytes, n, host_runner_host(&r), &image);
        if (st) st = nota_error_prefix(st, "'%s': ", path);
    }
    double secs = now_s() - t0;
    if (!st) st = nota_png_write(c->args.out, image);
    int rc = HOST_EXIT_OK;
    if (st) {
        rc = host_fail(st);
    } else if (c->args.json) {
        printf("{\"out\":");
        host_json_str(stdout, c->args.out);
        printf(",\"plugin\":");
        host_json_str(stdout, name);
        printf(",\"width\":%lld,\"height\":%lld,\"channels\":%lld,\"decode_seconds\":",
               (long long)image->shape[2], (long long)image->shape[1], (long long)image->shape[0]);
        host_json_num(stdout, secs);
        printf("}\n");
    } else {
        printf("wrote %s (plugin %s, %lldx%lld, %lld channels) in %.3f s\n", c->args.out, name,
               (long long)image->shape[2], (long long)image->shape[1], (long long)image->shape[0],
               secs);
    }
    nota_tensor_free(image);
    free(bytes);
    if (runner) host_runner_close(&r);
    host_plugin_close(plug);
    return rc;
}
