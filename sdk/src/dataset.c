/* Datasets: open a spec, filter it, turn it into model input.
 *
 * A spec is either a named dataset ("fashion-mnist:train", "mnist:test") or
 * a path. Paths are dispatched on content, not on their names: a folder is a
 * folder of PNGs, "\x93NUMPY" is .npy, a PNG signature is one image, and
 * anything else (gzip or plain) is tried as IDX. An IDX images file
 * "*images-idx3-ubyte*" takes its labels from the sibling
 * "*labels-idx1-ubyte*" (same .gz-ness first, then the other) when present.
 *
 * Named datasets and where they are looked up (docs/data.md):
 *   fashion-mnist: $NOTA_FASHION_MNIST, else /usr/share/datasets/fashion-mnist
 *   mnist:         $NOTA_DATA/mnist, else <executable's folder>/../data/mnist,
 *                  else ./data/mnist (written by scripts/setup.sh)
 *   toy:NAME[:train|test]  2-D toys generated in data_toy.c (N = the limit)
 *
 * This file also holds the atomic-write helpers of data_io.h.
 */
#include "nota/data.h"
#include "nota/rng.h"
#include "data_io.h"
#include "data_toy.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Noise stream for dequantization: fixed so a seed alone reproduces it. */
#define DEQUANT_STREAM UINT64_C(0x6e6f74612d646571) /* "nota-deq" */

/* --- atomic writes ----------------------------------------------------------- */

static void dir_of(const char *path, char *dir, size_t cap) {
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, cap, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
}

nota_status data_atomic_begin(data_atomic *a, const char *path, const char *what) {
    a->tmp[0] = '\0';
    a->path = path;
    a->f = NULL;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof a->tmp) {
        a->tmp[0] = '\0';
        return nota_error(NOTA_ELIMIT, "%s '%s': path is too long", what, path);
    }
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        char dir[4096];
        dir_of(path, dir, sizeof dir);
        a->tmp[0] = '\0';
        return nota_error(NOTA_EIO, "%s '%s': cannot create a file in folder '%s': %s", what, path,
                          dir, strerror(e));
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; saved data is meant to be shared */
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        data_atomic_abort(a);
        return nota_error(NOTA_EIO, "%s '%s': cannot open a temp file: %s", what, path,
                          strerror(e));
    }
    return NOTA_OK;
}

void data_atomic_abort(data_atomic *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = '\0';
}

nota_status data_atomic_commit(data_atomic *a, const char *what) {
    int e = 0;
    if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0) e = errno;
    if (fclose(a->f) != 0 && !e) e = errno;
    a->f = NULL;
    if (!e && rename(a->tmp, a->path) != 0) e = errno;
    if (e) {
        data_atomic_abort(a);
        return nota_error(NOTA_EIO, "%s '%s': write failed: %s", what, a->path, strerror(e));
    }
    a->tmp[0] = '\0';
    char dir[4096];
    dir_of(a->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* make the rename durable; best effort, the data is already safe */
        fsync(dfd);
        close(dfd);
    }
    return NOTA_OK;
}

/* --- named datasets ---------------------------------------------------------- */

static const char *const KNOWN =
    "fashion-mnist:train, fashion-mnist:test, mnist:train, mnist:test";

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool exists(const char *p) { return access(p, F_OK) == 0; }

/* The mnist folder, in the documented lookup order. */
static nota_status mnist_dir(char *out, size_t cap) {
    const char *env = getenv("NOTA_DATA");
    if (env && *env) {
        snprintf(out, cap, "%s/mnist", env);
        return NOTA_OK;
    }
    char exe[PATH_MAX], cand[2][PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int k = 0;
    if (n > 0) {
        exe[n] = '\0';
        snprintf(cand[k++], sizeof cand[0], "%s/../data/mnist", dirname(exe));
    }
    snprintf(cand[k++], sizeof cand[0], "./data/mnist");
    for (int i = 0; i < k; i++)
        if (is_dir(cand[i]) && strlen(cand[i]) < cap) {
            memcpy(out, cand[i], strlen(cand[i]) + 1);
            return NOTA_OK;
        }
    return nota_error(NOTA_EIO, "mnist: no data folder (looked in $NOTA_DATA/mnist, %s, %s); run "
                      "scripts/setup.sh",
                      k == 2 ? cand[0] : "<executable>/../data/mnist", cand[k - 1]);
}

/* "<dir>/<base>.gz" if present, else "<dir>/<base>" if present, else an
 * error naming the .gz path. */
static nota_status find_file(const char *dir, const char *base, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s.gz", dir, base);
    if (exists(out)) return NOTA_OK;
    snprintf(out, cap, "%s/%s", dir, base);
    if (exists(out)) return NOTA_OK;
    snprintf(out, cap, "%s/%s.gz", dir, base); /* the error names the usual form */
    return nota_error(NOTA_EIO, "cannot open '%s' (nor without .gz): %s", out, strerror(ENOENT));
}

/* Images in ds->x from `img`, labels from `lab`: kinds and counts must agree. */
static nota_status read_labels(const char *img, const char *lab, nota_dataset *ds) {
    if (ds->x->ndim != 4)
        return nota_error(NOTA_EFORMAT, "idx '%s': holds labels, expected an images file", img);
    nota_status st = nota_idx_read(lab, &ds->labels);
    if (st) return st;
    if (ds->labels->ndim != 1)
        return nota_error(NOTA_EFORMAT, "labels '%s': expected a u8 labels file (N), found images",
                          lab);
    if (ds->labels->shape[0] != ds->x->shape[0])
        return nota_error(NOTA_ESHAPE, "'%s' holds %lld images but '%s' holds %lld labels", img,
                          (long long)ds->x->shape[0], lab, (long long)ds->labels->shape[0]);
    return NOTA_OK;
}

static nota_status open_named(const char *set, const char *split, nota_dataset *ds) {
    char dir[PATH_MAX];
    if (strcmp(set, "fashion-mnist") == 0) {
        const char *env = getenv("NOTA_FASHION_MNIST");
        snprintf(dir, sizeof dir, "%s",
                 env && *env ? env : "/usr/share/datasets/fashion-mnist");
    } else {
        nota_status st = mnist_dir(dir, sizeof dir);
        if (st) return st;
    }
    const char *stem = strcmp(split, "train") == 0 ? "train" : "t10k";
    char base[64], img[PATH_MAX + 64], lab[PATH_MAX + 64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", stem);
    nota_status st = find_file(dir, base, img, sizeof img);
    if (st) return st;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", stem);
    if ((st = find_file(dir, base, lab, sizeof lab))) return st;
    if ((st = nota_idx_read(img, &ds->x))) return st;
    return read_labels(img, lab, ds);
}

/* --- paths ------------------------------------------------------------------- */

/* Labels next to an IDX images file, or NULL labels when there are none. */
static nota_status sibling_labels(const char *path, nota_dataset *ds) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *hit = strstr(base, "images-idx3-ubyte");
    if (!hit) return NOTA_OK;
    char lab[PATH_MAX + 8];
    size_t pre = (size_t)(hit - path);
    if (snprintf(lab, sizeof lab, "%.*slabels-idx1-ubyte%s", (int)pre, path,
                 hit + strlen("images-idx3-ubyte")) >= (int)sizeof lab - 4)
        return NOTA_OK;
    size_t len = strlen(lab);
    bool gz = len > 3 && strcmp(lab + len - 3, ".gz") == 0;
    if (!exists(lab)) {
        if (gz) lab[len - 3] = '\0';
        else strcat(lab, ".gz");
        if (!exists(lab)) return NOTA_OK;
    }
    return read_labels(path, lab, ds);
}

static nota_status open_path(const char *path, nota_dataset *ds) {
    if (is_dir(path)) return nota_png_folder_read(path, &ds->x);
    FILE *f = fopen(path, "rb");
    if (!f) return nota_error(NOTA_EIO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char m[8] = {0};
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    nota_status st;
    if (n >= 6 && memcmp(m, "\x93NUMPY", 6) == 0) {
        if ((st = nota_npy_read(path, &ds->x))) return st;
        /* u8 (N, H, W) arrays are single-channel images */
        if (ds->x->dtype == NOTA_U8 && ds->x->ndim == 3) {
            int64_t s4[4] = {ds->x->shape[0], 1, ds->x->shape[1], ds->x->shape[2]};
            return nota_tensor_reshape(ds->x, 4, s4);
        }
        return NOTA_OK;
    }
    if (n == 8 && memcmp(m, png_sig, 8) == 0) {
        if ((st = nota_png_read(path, &ds->x))) return st;
        int64_t s4[4] = {1, ds->x->shape[0], ds->x->shape[1], ds->x->shape[2]};
        return nota_tensor_reshape(ds->x, 4, s4);
    }
    if ((st = nota_idx_read(path, &ds->x))) return st;
    if (ds->x->ndim != 4)
        return nota_error(NOTA_EFORMAT, "idx '%s': holds labels, expected an images file", path);
    return sibling_labels(path, ds);
}

/* --- filter ------------------------------------------------------------------ */

/* Keep rows whose label matches (or all), then the first `limit`. */
static nota_status apply_filter(nota_dataset *ds, const char *spec, const nota_data_filter *flt) {
    int64_t n = ds->x->shape[0];
    uint8_t *lab = ds->labels ? nota_tensor_u8(ds->labels) : NULL;
    if (flt->label != -1 && !lab)
        return nota_error(NOTA_EINVAL, "label filter %d on '%s', which has no labels", flt->label,
                          spec);
    int64_t *keep = malloc((size_t)n * sizeof *keep);
    if (!keep) return nota_error(NOTA_ENOMEM, "filter on '%s': out of memory", spec);
    int64_t k = 0;
    for (int64_t i = 0; i < n && (flt->limit == 0 || k < flt->limit); i++)
        if (flt->label == -1 || lab[i] == flt->label) keep[k++] = i;
    if (k == 0) {
        int lo = 255, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            if (lab[i] < lo) lo = lab[i];
            if (lab[i] > hi) hi = lab[i];
        }
        free(keep);
        return nota_error(NOTA_EINVAL, "no items with label %d in '%s' (labels %d..%d)",
                          flt->label, spec, lo, hi);
    }
    if (k == n) {
        free(keep);
        return NOTA_OK;
    }
    nota_tensor *nx = NULL, *nl = NULL;
    int64_t shape[NOTA_MAX_DIMS];
    memcpy(shape, ds->x->shape, sizeof shape);
    shape[0] = k;
    nota_status st = nota_tensor_new(ds->x->dtype, ds->x->ndim, shape, &nx);
    if (!st && lab) st = nota_tensor_new(NOTA_U8, 1, &k, &nl);
    if (st) {
        free(keep);
        nota_tensor_free(nx);
        return st;
    }
    size_t row = nota_tensor_row_size(ds->x) * nota_dtype_size(ds->x->dtype);
    for (int64_t j = 0; j < k; j++) {
        memcpy((char *)nx->data + (size_t)j * row, (char *)ds->x->data + (size_t)keep[j] * row,
               row);
        if (nl) nota_tensor_u8(nl)[j] = lab[keep[j]];
    }
    free(keep);
    nota_tensor_free(ds->x);
    nota_tensor_free(ds->labels);
    ds->x = nx;
    ds->labels = nl;
    return NOTA_OK;
}

/* --- public ------------------------------------------------------------------ */

nota_status nota_dataset_open(const char *spec, const nota_data_filter *filter,
                              nota_dataset **out) {
    if (!out) return nota_error(NOTA_EINVAL, "nota_dataset_open: out is NULL");
    *out = NULL;
    if (!spec || !*spec) return nota_error(NOTA_EINVAL, "nota_dataset_open: spec is empty");
    nota_data_filter flt = filter ? *filter : (nota_data_filter){-1, 0};
    if (flt.label < -1 || flt.label > 255)
        return nota_error(NOTA_EINVAL, "filter label %d, expected -1 (all) or 0..255", flt.label);
    if (flt.limit < 0)
        return nota_error(NOTA_EINVAL, "filter limit %lld, expected >= 0 (0 = all)",
                          (long long)flt.limit);
    nota_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return nota_error(NOTA_ENOMEM, "dataset '%s': out of memory", spec);
    nota_status st;
    const char *colon = strchr(spec, ':');
    if (strncmp(spec, "toy:", 4) == 0 && !exists(spec)) {
        st = data_toy_open(spec, flt.limit, ds); /* generated: --limit sets N */
    } else if (!exists(spec) && colon && !strchr(spec, '/')) {
        char set[64];
        const char *split = colon + 1;
        snprintf(set, sizeof set, "%.*s", (int)(colon - spec), spec);
        bool known_set = strcmp(set, "fashion-mnist") == 0 || strcmp(set, "mnist") == 0;
        if (!known_set || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
            st = nota_error(NOTA_ENOTFOUND, "unknown dataset '%s' (known: %s)", spec, KNOWN);
        else
            st = open_named(set, split, ds);
    } else {
        st = open_path(spec, ds);
    }
    if (!st) st = apply_filter(ds, spec, &flt);
    if (st) {
        nota_dataset_free(ds);
        return st;
    }
    int n = snprintf(ds->name, sizeof ds->name, "%s", spec);
    if (n >= 0 && (size_t)n < sizeof ds->name && (flt.label != -1 || flt.limit)) {
        char f[64];
        if (flt.label != -1 && flt.limit)
            snprintf(f, sizeof f, "[label=%d,limit=%lld]", flt.label, (long long)flt.limit);
        else if (flt.label != -1)
            snprintf(f, sizeof f, "[label=%d]", flt.label);
        else
            snprintf(f, sizeof f, "[limit=%lld]", (long long)flt.limit);
        snprintf(ds->name + n, sizeof ds->name - (size_t)n, "%s", f);
    }
    *out = ds;
    return NOTA_OK;
}

void nota_dataset_free(nota_dataset *ds) {
    if (!ds) return;
    nota_tensor_free(ds->x);
    nota_tensor_free(ds->labels);
    free(ds);
}

nota_status nota_dataset_to_f32(const nota_dataset *ds, bool dequantize, uint64_t seed,
                                nota_tensor **out) {
    if (!out) return nota_error(NOTA_EINVAL, "nota_dataset_to_f32: out is NULL");
    *out = NULL;
    if (!ds || !ds->x) return nota_error(NOTA_EINVAL, "nota_dataset_to_f32: dataset is NULL");
    const nota_tensor *x = ds->x;
    if (x->dtype == NOTA_F32) {
        nota_status st = nota_tensor_clone(x, out);
        if (st) return st;
        char what[300];
        snprintf(what, sizeof what, "dataset '%s'", ds->name);
        if ((st = nota_tensor_check_finite(*out, what))) {
            nota_tensor_free(*out);
            *out = NULL;
        }
        return st;
    }
    const uint8_t *src = nota_tensor_u8(x);
    if (!src)
        return nota_error(NOTA_EINVAL, "dataset '%s': x is %s, expected f32 or u8 on the CPU",
                          ds->name, nota_dtype_name(x->dtype));
    nota_status st = nota_tensor_new(NOTA_F32, x->ndim, x->shape, out);
    if (st) return st;
    float *dst = nota_tensor_f32(*out);
    size_t n = nota_tensor_numel(x);
    if (!dequantize) {
        for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] + 0.5f;
        return NOTA_OK;
    }
    nota_rng_fill_uniform(seed, DEQUANT_STREAM, dst, n);
    for (size_t i = 0; i < n; i++) {
        float lo = (float)src[i], v = lo + dst[i];
        /* u close to 1 can round lo + u up to lo + 1; keep the interval half-open */
        dst[i] = v < lo + 1.0f ? v : nextafterf(lo + 1.0f, lo);
    }
    return NOTA_OK;
}
