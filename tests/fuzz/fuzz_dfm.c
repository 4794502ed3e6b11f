/* libFuzzer target for the .dfm reader (versions 1 and 2, plugins/dfm/
 * dfm_codec.c). Each input is decoded twice: as it is (the CRC check
 * refuses most), and with its last four bytes replaced by the CRC of the
 * rest, so that the header and stream checks behind the CRC are fuzzed
 * too. A file that decodes is re-encoded (the writer on what the reader took)
 * and, when small, rendered tile by tile. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dfm_codec.h"

static void check(const uint8_t *data, size_t size) {
    dfm_image_code ic;
    if (dfm_decode(data, size, &ic) != NOTA_OK) return;
    uint8_t *b = NULL;
    size_t n = 0;
    int64_t nt = ic.rows * ic.cols, work = 0;
    if (dfm_encode(&ic, &b, &n) == NOTA_OK) free(b);
    for (int64_t t = 0; t < nt; t++)
        work += ic.tiles[t].h * ic.tiles[t].w * ic.tiles[t].n_weights;
    for (int64_t t = 0; t < nt && work < 2000000; t++) {
        dfm_net *net = NULL;
        dfm_code *c = &ic.tiles[t];
        uint8_t *px = malloc((size_t)(c->h * c->w * c->channels));
        if (px && dfm_code_to_net(c, 1, &net) == NOTA_OK) dfm_net_render(net, c->h, c->w, 4096, px);
        dfm_net_free(net);
        free(px);
    }
    dfm_image_code_free(&ic);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size);
    if (size < 4) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uint32_t c = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        copy[size - 4 + i] = (uint8_t)(c >> (8 * i));
    check(copy, size);
    free(copy);
    return 0;
}
