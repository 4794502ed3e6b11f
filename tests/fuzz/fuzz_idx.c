/* libFuzzer target for the IDX reader (plain and gzip). The reader takes a
 * path, so each input is written to one private temp file, rewritten in place
 * for every run (and removed at exit). An accepted file must come back as a
 * well-formed tensor; a refused one must leave no tensor and a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "nota/data.h"

static char path[64];
static int fd = -1;

static void remove_temp(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fd < 0) {
        snprintf(path, sizeof path, "/tmp/nota-fuzz-idx-XXXXXX");
        fd = mkstemp(path);
        if (fd < 0) abort();
        atexit(remove_temp);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    nota_tensor *t = NULL;
    nota_status st = nota_idx_read(path, &t);
    if (st == NOTA_OK) {
        size_t nb = 0;
        if (!t || nota_shape_size(t->ndim, t->shape, t->dtype, NULL, &nb) != NOTA_OK ||
            nb != t->nbytes)
            abort();
        volatile uint8_t last = ((const uint8_t *)t->data)[t->nbytes - 1]; /* in bounds */
        (void)last;
    } else if (t != NULL || nota_last_error()[0] == '\0') {
        abort();
    }
    nota_tensor_free(t);
    return 0;
}
