/* nota/tensor.h — n-dimensional arrays shared by the SDK, host and plugins.
 *
 * A tensor is row-major (C order), up to NOTA_MAX_DIMS dimensions, of f32 or
 * u8 elements, living on a device (CPU now; CUDA joins through the same field
 * later). Ownership: a tensor made by nota_tensor_new owns its buffer; one made
 * by nota_tensor_wrap borrows it (the caller keeps the buffer alive and frees
 * it). nota_tensor_free frees the struct, and the buffer only if owned. Every
 * function that returns a tensor through an out-pointer hands its ownership to
 * the caller unless its comment says "borrowed".
 */
#ifndef NOTA_TENSOR_H
#define NOTA_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "nota/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NOTA_MAX_DIMS 8

typedef enum nota_dtype { NOTA_F32 = 1, NOTA_U8 = 2 } nota_dtype;

typedef enum nota_device_kind { NOTA_DEVICE_CPU = 0, NOTA_DEVICE_CUDA = 1 } nota_device_kind;

typedef struct nota_device {
    nota_device_kind kind;
    int index; /* GPU ordinal; 0 for the CPU */
} nota_device;

typedef struct nota_tensor {
    nota_dtype dtype;
    nota_device device;
    int ndim;
    int64_t shape[NOTA_MAX_DIMS];
    void *data;      /* numel * dtype size bytes, contiguous */
    size_t nbytes;
    bool owns_data;  /* true: nota_tensor_free releases data */
} nota_tensor;

/* Bytes per element (4 for F32, 1 for U8; 0 for an unknown dtype). */
size_t nota_dtype_size(nota_dtype dt);
/* "f32" / "u8" / "?" */
const char *nota_dtype_name(nota_dtype dt);

/* Overflow-checked element count and byte size of a shape. Fails with
 * NOTA_ELIMIT on overflow, NOTA_EINVAL on ndim outside 0..8 or a dim < 1.
 * Either out-pointer may be NULL. */
nota_status nota_shape_size(int ndim, const int64_t *shape, nota_dtype dt, size_t *numel,
                            size_t *nbytes);

/* New zero-filled CPU tensor that owns its buffer. */
nota_status nota_tensor_new(nota_dtype dt, int ndim, const int64_t *shape, nota_tensor **out);
/* Convenience for 2-D f32: (rows, cols). */
nota_status nota_tensor_new_2d(int64_t rows, int64_t cols, nota_tensor **out);
/* Tensor header around a caller-owned buffer of exactly the shape's size (borrowed). */
nota_status nota_tensor_wrap(nota_dtype dt, int ndim, const int64_t *shape, void *data,
                             nota_tensor **out);
/* Free the header, and the buffer if owned. NULL is a no-op. */
void nota_tensor_free(nota_tensor *t);

/* Deep copy (the copy owns its buffer). */
nota_status nota_tensor_clone(const nota_tensor *t, nota_tensor **out);
/* Change the shape in place; the element count must stay the same. */
nota_status nota_tensor_reshape(nota_tensor *t, int ndim, const int64_t *shape);
/* Borrowed view of rows [start, start+count) along dim 0; free with
 * nota_tensor_free (the parent must outlive the view). */
nota_status nota_tensor_rows(const nota_tensor *t, int64_t start, int64_t count,
                             nota_tensor **view);

size_t nota_tensor_numel(const nota_tensor *t);
/* Elements per item: product of dims 1..ndim-1 (1 for a 1-D tensor). */
size_t nota_tensor_row_size(const nota_tensor *t);
/* f32 data pointer, or NULL if the tensor is not f32 on the CPU. */
float *nota_tensor_f32(const nota_tensor *t);
/* u8 data pointer, or NULL if the tensor is not u8 on the CPU. */
uint8_t *nota_tensor_u8(const nota_tensor *t);
/* True when shapes (ndim and every dim) are equal. */
bool nota_tensor_same_shape(const nota_tensor *a, const nota_tensor *b);
/* Shape as text, "(60000, 1, 28, 28)", into buf (always NUL-terminated). */
const char *nota_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

/* Fail with NOTA_ENUMERIC naming `what` and the first non-finite element's
 * index and value if an f32 tensor holds NaN or Inf; u8 tensors always pass. */
nota_status nota_tensor_check_finite(const nota_tensor *t, const char *what);
/* Fail with NOTA_ESHAPE / NOTA_EINVAL unless t is f32 with the given ndim
 * (dims < 0 in `shape` are wildcards); the message names `what`. */
nota_status nota_tensor_expect(const nota_tensor *t, const char *what, nota_dtype dt, int ndim,
                               const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_TENSOR_H */
