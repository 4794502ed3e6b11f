/* Tensors: allocation, views, checks (see nota/tensor.h). */
#include "nota/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t nota_dtype_size(nota_dtype dt) {
    switch (dt) {
    case NOTA_F32: return 4;
    case NOTA_U8: return 1;
    }
    return 0;
}

const char *nota_dtype_name(nota_dtype dt) {
    switch (dt) {
    case NOTA_F32: return "f32";
    case NOTA_U8: return "u8";
    }
    return "?";
}

nota_status nota_shape_size(int ndim, const int64_t *shape, nota_dtype dt, size_t *numel,
                            size_t *nbytes) {
    size_t es = nota_dtype_size(dt);
    if (es == 0) return nota_error(NOTA_EINVAL, "unknown dtype code %d", (int)dt);
    if (ndim < 0 || ndim > NOTA_MAX_DIMS)
        return nota_error(NOTA_EINVAL, "ndim %d outside 0..%d", ndim, NOTA_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return nota_error(NOTA_EINVAL, "dimension %d is %lld, expected >= 1", i,
                              (long long)shape[i]);
        if ((uint64_t)shape[i] > SIZE_MAX / n)
            return nota_error(NOTA_ELIMIT, "element count overflows at dimension %d (%lld)", i,
                              (long long)shape[i]);
        n *= (size_t)shape[i];
    }
    if (n > SIZE_MAX / es) return nota_error(NOTA_ELIMIT, "byte size of %zu elements overflows", n);
    if (numel) *numel = n;
    if (nbytes) *nbytes = n * es;
    return NOTA_OK;
}

static nota_status header_new(nota_dtype dt, int ndim, const int64_t *shape, nota_tensor **out,
                              size_t *nbytes) {
    *out = NULL;
    nota_status st = nota_shape_size(ndim, shape, dt, NULL, nbytes);
    if (st) return st;
    nota_tensor *t = calloc(1, sizeof *t);
    if (!t) return nota_error(NOTA_ENOMEM, "tensor header allocation failed");
    t->dtype = dt;
    t->device.kind = NOTA_DEVICE_CPU;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = *nbytes;
    *out = t;
    return NOTA_OK;
}

nota_status nota_tensor_new(nota_dtype dt, int ndim, const int64_t *shape, nota_tensor **out) {
    size_t nb;
    nota_tensor *t;
    *out = NULL;
    nota_status st = header_new(dt, ndim, shape, &t, &nb);
    if (st) return st;
    t->data = calloc(nb ? nb : 1, 1);
    if (!t->data) {
        free(t);
        *out = NULL;
        char buf[96];
        return nota_error(NOTA_ENOMEM, "cannot allocate %zu bytes for a %s tensor %s", nb,
                          nota_dtype_name(dt), nota_shape_str(ndim, shape, buf, sizeof buf));
    }
    t->owns_data = true;
    *out = t;
    return NOTA_OK;
}

nota_status nota_tensor_new_2d(int64_t rows, int64_t cols, nota_tensor **out) {
    int64_t s[2] = {rows, cols};
    return nota_tensor_new(NOTA_F32, 2, s, out);
}

nota_status nota_tensor_wrap(nota_dtype dt, int ndim, const int64_t *shape, void *data,
                             nota_tensor **out) {
    size_t nb;
    if (!data) {
        *out = NULL;
        return nota_error(NOTA_EINVAL, "nota_tensor_wrap: data is NULL");
    }
    nota_status st = header_new(dt, ndim, shape, out, &nb);
    if (st) return st;
    (*out)->data = data;
    (*out)->owns_data = false;
    return NOTA_OK;
}

void nota_tensor_free(nota_tensor *t) {
    if (!t) return;
    if (t->owns_data) free(t->data);
    free(t);
}

nota_status nota_tensor_clone(const nota_tensor *t, nota_tensor **out) {
    nota_status st = nota_tensor_new(t->dtype, t->ndim, t->shape, out);
    if (st) return st;
    memcpy((*out)->data, t->data, t->nbytes);
    return NOTA_OK;
}

nota_status nota_tensor_reshape(nota_tensor *t, int ndim, const int64_t *shape) {
    size_t nb;
    nota_status st = nota_shape_size(ndim, shape, t->dtype, NULL, &nb);
    if (st) return st;
    if (nb != t->nbytes) {
        char a[96], b[96];
        return nota_error(NOTA_ESHAPE, "cannot reshape %s to %s: element counts differ",
                          nota_shape_str(t->ndim, t->shape, a, sizeof a),
                          nota_shape_str(ndim, shape, b, sizeof b));
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    return NOTA_OK;
}

nota_status nota_tensor_rows(const nota_tensor *t, int64_t start, int64_t count,
                             nota_tensor **view) {
    *view = NULL;
    if (t->ndim < 1 || start < 0 || count < 1 || start > t->shape[0] - count)
        return nota_error(NOTA_EINVAL, "rows [%lld, %lld) outside a tensor of %lld rows",
                          (long long)start, (long long)(start + count),
                          (long long)(t->ndim ? t->shape[0] : 0));
    int64_t shape[NOTA_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = count;
    size_t row = nota_tensor_row_size(t) * nota_dtype_size(t->dtype);
    return nota_tensor_wrap(t->dtype, t->ndim, shape, (char *)t->data + (size_t)start * row, view);
}

size_t nota_tensor_numel(const nota_tensor *t) { return t->nbytes / nota_dtype_size(t->dtype); }

size_t nota_tensor_row_size(const nota_tensor *t) {
    size_t n = 1;
    for (int i = 1; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

float *nota_tensor_f32(const nota_tensor *t) {
    return (t && t->dtype == NOTA_F32 && t->device.kind == NOTA_DEVICE_CPU) ? t->data : NULL;
}

uint8_t *nota_tensor_u8(const nota_tensor *t) {
    return (t && t->dtype == NOTA_U8 && t->device.kind == NOTA_DEVICE_CPU) ? t->data : NULL;
}

bool nota_tensor_same_shape(const nota_tensor *a, const nota_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *nota_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    if (!cap) return buf;
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
    return buf;
}

nota_status nota_tensor_check_finite(const nota_tensor *t, const char *what) {
    const float *x = nota_tensor_f32(t);
    if (!x) return NOTA_OK;
    size_t n = nota_tensor_numel(t), row = nota_tensor_row_size(t);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return nota_error(NOTA_ENUMERIC, "%s: item %zu, element %zu is %s (expected finite)",
                              what, i / row, i % row, isnan(x[i]) ? "NaN" : "Inf");
    }
    return NOTA_OK;
}

nota_status nota_tensor_expect(const nota_tensor *t, const char *what, nota_dtype dt, int ndim,
                               const int64_t *shape) {
    char a[96], b[96];
    if (!t) return nota_error(NOTA_EINVAL, "%s: tensor is NULL", what);
    if (t->dtype != dt)
        return nota_error(NOTA_EINVAL, "%s: expected dtype %s, found %s", what,
                          nota_dtype_name(dt), nota_dtype_name(t->dtype));
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (shape && shape[i] >= 0 && shape[i] != t->shape[i]) ok = false;
    if (!ok) {
        int64_t want[NOTA_MAX_DIMS];
        for (int i = 0; i < ndim; i++) want[i] = shape && shape[i] >= 0 ? shape[i] : -1;
        return nota_error(NOTA_ESHAPE, "%s: expected shape %s (-1 = any), found %s", what,
                          nota_shape_str(ndim, want, a, sizeof a),
                          nota_shape_str(t->ndim, t->shape, b, sizeof b));
    }
    return NOTA_OK;
}
