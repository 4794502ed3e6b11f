/* libFuzzer target for the model-file loader: any byte string must be either
 * loaded or refused with a status and a message, never crash, leak, overflow
 * the stack or allocate without bound (RELIABILITY.md 1–4, 8).
 *
 * A random mutation almost always breaks the CRC-32, which would keep the
 * fuzzer at the framing check. So the first input byte picks a mode: odd —
 * the rest is a protobuf payload that this target frames with a correct
 * header and CRC, reaching the nesting scan, the capped unpack and the
 * validator; even — the rest is a whole file image, testing the framing.
 * The file cap is lowered to 1 MiB so each input stays quick.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modelfile_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    nota_model_limits lim = nota_modelfile_default_limits();
    lim.max_file_bytes = 1u << 20;
    const uint8_t *img = data + 1;
    size_t n = size - 1;
    uint8_t *framed = NULL;
    if (data[0] & 1) {
        framed = malloc(NOTA_MF_HEADER_BYTES + n);
        if (!framed) return 0;
        nota_mf_frame_header(framed, n, nota_mf_crc32(data + 1, n));
        memcpy(framed + NOTA_MF_HEADER_BYTES, data + 1, n);
        img = framed;
        n += NOTA_MF_HEADER_BYTES;
    }
    nota_modelfile *mf = NULL;
    if (nota_modelfile_load_bytes(img, n, "fuzz.nota", &lim, &mf) == NOTA_OK) {
        /* Touch what a plugin reads. */
        for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
            const nota_tensor *t;
            if (nota_modelfile_get_tensor(mf, nota_modelfile_tensor_name(mf, i), &t) != NOTA_OK)
                abort(); /* a listed tensor must be found */
        }
        nota_modelfile_free(mf);
    } else if (mf != NULL || nota_last_error()[0] == '\0') {
        abort(); /* a refusal must leave no object and a message */
    }
    free(framed);
    return 0;
}
