/* dfm_codec.h — quantization of DFM networks and the compact .dfm file.
 *
 * An image is coded as a grid of tiles, each fitted by its own network (one
 * tile = the whole image). Weights are quantized per output column (each
 * column of a layer's (2K, out) weight matrix has its own symmetric range
 * ±s·L, L = 2^(bits−1) − 1, s stored as an IEEE half), so a column of small
 * coefficients keeps its resolution. Two layouts, all integers
 * little-endian:
 *
 * version 1 (one tile, the whole image):
 *   "NTC1" u8 len "dfm"           host prefix naming the plugin (plugin.h)
 *   u8 version (1), u8 channels (1|3), u8 width (1..12), u8 depth (1..16),
 *   u8 bits (2..8), f16 coordinate scale, varint H, varint W (1..65535 each,
 *   H·W ≤ 2^26)
 *   f16 scale per output column, layer by layer (Σ out_i of them)
 *   raw deflate stream of one byte per weight: zigzag(q), layer by layer,
 *   row-major; exactly as many bytes as the architecture has weights
 *   u32 CRC-32 (zlib) of every byte before it
 *
 * version 2 (a grid of tiles):
 *   prefix, u8 version (2), u8 channels, u8 bits, f16 coordinate scale,
 *   varint H, varint W, varint tile height (1..H), varint tile width (1..W)
 *   — the grid has ceil(H/th) rows and ceil(W/tw) columns, the last row and
 *   column hold what is left; each tile's pixels sit in its own [0, s]²
 *   u8 width, u8 depth per tile, row-major
 *   the column scales of every tile, tile by tile
 *   one raw deflate stream of every tile's weights, tile by tile
 *   u32 CRC-32
 *
 * A .dfm is untrusted input: the decoder checks the length before every
 * read, the CRC before parsing, every header field against its bound, the
 * decompressed length exactly, and refuses trailing bytes.
 */
#ifndef DFM_CODEC_H
#define DFM_CODEC_H

#include "dfm_net.h"

#define DFM_FORMAT_VERSION 1 /* one network */
#define DFM_FORMAT_TILED 2   /* a grid of tiles */
#define DFM_MAX_SIDE 65535
#define DFM_MAX_PIXELS ((int64_t)1 << 26)
/* Tiles per image (a tiled file's grid): 8192×8192 in 32×32 tiles. */
#define DFM_MAX_TILES 65536
#define DFM_MIN_BITS 2
#define DFM_MAX_BITS 8
/* Decoding costs about pixels × weights multiply-adds; deflate lets a tiny
 * file declare a huge network, so the product is bounded (2^41: an
 * 8192×8192 image through ~30k weights, minutes of CPU). */
#define DFM_MAX_WORK ((int64_t)1 << 41)

/* One network's code (one tile; h, w are the tile's). */
typedef struct dfm_code {
    int channels, width, depth, bits;
    uint16_t coord_scale_h; /* half */
    int64_t h, w;
    uint16_t *scales; /* Σ out_i halves (owned) */
    int8_t *q;        /* weight count entries (owned) */
    int64_t n_scales, n_weights;
} dfm_code;

uint16_t dfm_half_from_float(float f); /* round to nearest even */
float dfm_half_to_float(uint16_t h);

/* Quantize layer weights w (rows, out) to q with per-column half scales;
 * writes the dequantized weights into deq (may alias nothing). */
void dfm_quantize(const float *w, int64_t rows, int64_t out, int bits, int8_t *q, uint16_t *scales,
                  float *deq);

/* Allocate code->scales and code->q for the architecture already set in
 * code (channels, width, depth). */
nota_status dfm_code_alloc(dfm_code *code);
void dfm_code_free(dfm_code *code);

/* A whole image's code: a grid of tiles, each its own network. */
typedef struct dfm_image_code {
    int channels, bits;
    uint16_t coord_scale_h;
    int64_t h, w;           /* the image */
    int64_t tile_h, tile_w; /* grid pitch; the last row / column may be smaller */
    int64_t rows, cols;     /* the grid */
    dfm_code *tiles;        /* rows·cols, row-major (owned) */
} dfm_image_code;

/* Set rows, cols and allocate the tiles (their architecture still unset,
 * each tile's channels, bits, coordinate scale and size filled in) for the
 * fields already set in ic (channels, bits, coord_scale_h, h, w, tile_h,
 * tile_w). */
nota_status dfm_image_code_alloc(dfm_image_code *ic);
void dfm_image_code_free(dfm_image_code *ic);
/* Tile i's top-left pixel (y0, x0); its size is ic->tiles[i].h × .w. */
void dfm_tile_origin(const dfm_image_code *ic, int64_t i, int64_t *y0, int64_t *x0);

/* Serialize (version 1 for one tile, 2 for more) / parse either version.
 * encode mallocs *bytes (caller frees with free()). */
nota_status dfm_encode(const dfm_image_code *code, uint8_t **bytes, size_t *n);
nota_status dfm_decode(const uint8_t *bytes, size_t n, dfm_image_code *code);

/* Load the dequantized weights of `code` into a new network. */
nota_status dfm_code_to_net(const dfm_code *code, int threads, dfm_net **out);

#endif
