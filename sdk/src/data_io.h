/* data_io.h — private helpers shared by nota's data readers and writers.
 *
 * Writers (.npy, PNG grids) never leave a half-written file behind: they
 * write a temp file in the destination folder, fsync it, rename it over the
 * destination and fsync the folder (RELIABILITY.md, promise 3). The helpers
 * live in dataset.c; this header is not installed.
 */
#ifndef NOTA_DATA_IO_H
#define NOTA_DATA_IO_H

#include <stdio.h>
#include "nota/status.h"

/* Caps that keep a hostile header from asking for unbounded memory. */
#define NOTA_DATA_MAX_BYTES (UINT64_C(8) << 30) /* one array's payload: 8 GiB */
#define NOTA_NPY_MAX_HEADER 10000               /* same limit as NumPy's reader */

typedef struct data_atomic {
    char tmp[4096];        /* temp file path, "" when none is open */
    const char *path;      /* destination (borrowed from the caller) */
    FILE *f;               /* open stream on tmp */
} data_atomic;

/* Create "<path>.tmp.XXXXXX" next to `path` and open it for writing. `what`
 * names the writer in errors ("npy", "png"). A missing folder fails with
 * NOTA_EIO naming the folder. */
nota_status data_atomic_begin(data_atomic *a, const char *path, const char *what);
/* Flush, fsync, close, rename over the destination, fsync the folder. On
 * failure the temp file is removed and the destination left untouched. */
nota_status data_atomic_commit(data_atomic *a, const char *what);
/* Close and remove the temp file (safe to call after a failed commit). */
void data_atomic_abort(data_atomic *a);

#endif /* NOTA_DATA_IO_H */
