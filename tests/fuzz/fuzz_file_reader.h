/* Shared body of the libFuzzer targets for readers that take a path (IDX,
 * .npy): each input is written to one private temp file, rewritten in place
 * for every run (and removed at exit). An accepted file must come back as a
 * well-formed tensor; a refused one must leave no tensor and a message.
 * Include after defining FUZZ_NAME ("idx") and FUZZ_READ (the reader). */
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
        snprintf(path, sizeof path, "/tmp/nota-fuzz-" FUZZ_NAME "-XXXXXX");
        fd = mkstemp(path);
        if (fd < 0) abort();
        atexit(remove_temp);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    nota_tensor *t = NULL;
    nota_status st = FUZZ_READ(path, &t);
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
