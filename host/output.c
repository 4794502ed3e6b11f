/* Writing results: output folders, .npy + PNG grids, and JSON text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"

nota_status host_check_out_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) return NOTA_OK; /* the current folder */
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= sizeof dir) return nota_error(NOTA_EINVAL, "output path '%s' is too long", path);
    memcpy(dir, path, len);
    dir[len] = '\0';
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return nota_error(NOTA_EIO, "cannot write '%s': folder '%s': %s", path, dir,
                          strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return nota_error(NOTA_EIO, "cannot write '%s': '%s' is not a folder", path, dir);
    return NOTA_OK;
}

nota_status host_write_batch(const char *prefix, const nota_tensor *t, bool image) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s.npy", prefix) >= (int)sizeof path)
        return nota_error(NOTA_EINVAL, "output prefix '%s' is too long", prefix);
    nota_status st = host_check_out_dir(path);
    if (!st) st = nota_npy_write(path, t);
    if (st || !image) return st;
    snprintf(path, sizeof path, "%s.png", prefix);
    /* Plugin data live in [0, 256): level p is the interval [p, p+1), so map
     * the interval centres p + 0.5 to the 8-bit values p. */
    return nota_png_grid_write(path, t, 0, 0.5f, 255.5f);
}

void host_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void host_json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}
