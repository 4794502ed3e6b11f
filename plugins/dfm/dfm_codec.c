/* Quantization and the .dfm byte format (see dfm_codec.h for the layout).
 *
 * Entropy coding is raw deflate of the zigzagged 8-bit weight symbols: the
 * encoder tries zlib's default and Huffman-only strategies and keeps the
 * smaller (LZ matches rarely pay on quantized weights; the Huffman table is
 * what does the work). The decoder is written for hostile input: every read
 * is bounds-checked, sizes are bounded before any allocation, and each
 * refusal names the field and the allowed range.
 */
#include "dfm_codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DFM_PREFIX "NTC1\003dfm"
#define DFM_PREFIX_LEN 8
/* prefix + 5 bytes + f16 + two 1-byte varints + CRC */
#define DFM_MIN_FILE (DFM_PREFIX_LEN + 5 + 2 + 2 + 4)

uint16_t dfm_half_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int32_t e = (int32_t)((x >> 23) & 0xffu);
    if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
    int32_t exp = e - 127 + 15;
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - exp;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1u), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* a carry bumps the exponent */
    return (uint16_t)h;
}

float dfm_half_to_float(uint16_t h) {
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 0x400u), (int)e - 25);
    return (h & 0x8000u) ? -v : v;
}

void dfm_quantize(const float *w, int64_t rows, int64_t out, int bits, int8_t *q, uint16_t *scales,
                  float *deq) {
    int lim = (1 << (bits - 1)) - 1;
    for (int64_t o = 0; o < out; o++) {
        float m = 0.0f;
        for (int64_t r = 0; r < rows; r++)
            m = fmaxf(m, fabsf(w[r * out + o]));
        uint16_t h = dfm_half_from_float(m / (float)lim);
        if ((h & 0x7c00u) == 0x7c00u) h = 0x7bffu; /* largest finite half */
        scales[o] = h;
        float s = dfm_half_to_float(h);
        for (int64_t r = 0; r < rows; r++) {
            float v = s > 0.0f ? floorf(w[r * out + o] / s + 0.5f) : 0.0f;
            v = v > (float)lim ? (float)lim : v < (float)-lim ? (float)-lim : v;
            q[r * out + o] = (int8_t)v;
            deq[r * out + o] = v * s;
        }
    }
}

nota_status dfm_code_alloc(dfm_code *c) {
    c->n_weights = dfm_net_weight_count(c->width, c->depth, c->channels);
    c->n_scales = (int64_t)c->width * (c->depth - 1) + c->channels;
    c->scales = calloc((size_t)c->n_scales, sizeof *c->scales);
    c->q = calloc((size_t)c->n_weights, sizeof *c->q);
    if (!c->scales || !c->q) {
        dfm_code_free(c);
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate %lld quantized weights",
                          (long long)c->n_weights);
    }
    return NOTA_OK;
}

void dfm_code_free(dfm_code *c) {
    free(c->scales);
    free(c->q);
    c->scales = NULL, c->q = NULL;
}

static size_t put_varint(uint8_t *p, uint32_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7fu) | (v > 0x7fu ? 0x80u : 0u));
        v >>= 7;
    } while (v);
    return n;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Raw deflate of `in` into `out` (capacity cap) with one strategy; 0 on failure. */
static size_t deflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int strategy) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, strategy) != Z_OK) return 0;
    zs.next_in = (Bytef *)(uintptr_t)in, zs.avail_in = (uInt)n;
    zs.next_out = out, zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t got = rc == Z_STREAM_END ? (size_t)zs.total_out : 0;
    deflateEnd(&zs);
    return got;
}

nota_status dfm_image_code_alloc(dfm_image_code *ic) {
    ic->rows = (ic->h + ic->tile_h - 1) / ic->tile_h;
    ic->cols = (ic->w + ic->tile_w - 1) / ic->tile_w;
    int64_t nt = ic->rows * ic->cols;
    ic->tiles = calloc((size_t)nt, sizeof *ic->tiles);
    if (!ic->tiles)
        return nota_error(NOTA_ENOMEM, "dfm: cannot allocate %lld tiles", (long long)nt);
    for (int64_t i = 0; i < nt; i++) {
        dfm_code *t = &ic->tiles[i];
        int64_t y0 = i / ic->cols * ic->tile_h, x0 = i % ic->cols * ic->tile_w;
        t->channels = ic->channels, t->bits = ic->bits, t->coord_scale_h = ic->coord_scale_h;
        t->h = ic->h - y0 < ic->tile_h ? ic->h - y0 : ic->tile_h;
        t->w = ic->w - x0 < ic->tile_w ? ic->w - x0 : ic->tile_w;
    }
    return NOTA_OK;
}

void dfm_image_code_free(dfm_image_code *ic) {
    if (ic->tiles)
        for (int64_t i = 0; i < ic->rows * ic->cols; i++)
            dfm_code_free(&ic->tiles[i]);
    free(ic->tiles);
    ic->tiles = NULL;
}

void dfm_tile_origin(const dfm_image_code *ic, int64_t i, int64_t *y0, int64_t *x0) {
    *y0 = i / ic->cols * ic->tile_h, *x0 = i % ic->cols * ic->tile_w;
}

nota_status dfm_encode(const dfm_image_code *ic, uint8_t **bytes, size_t *n) {
    *bytes = NULL, *n = 0;
    int64_t nt = ic->rows * ic->cols;
    size_t nw = 0, ns = 0;
    for (int64_t t = 0; t < nt; t++)
        nw += (size_t)ic->tiles[t].n_weights, ns += (size_t)ic->tiles[t].n_scales;
    size_t cap = compressBound((uLong)nw) + 16;
    uint8_t *sym = malloc(nw), *z1 = malloc(cap), *z2 = malloc(cap);
    size_t head = DFM_PREFIX_LEN + 7 + 4 * 3 + 2 * (size_t)nt + 2 * ns;
    uint8_t *out = malloc(head + cap + 4);
    nota_status st = NOTA_OK;
    if (!sym || !z1 || !z2 || !out) {
        st = nota_error(NOTA_ENOMEM, "dfm: cannot allocate the encoder's buffers");
        goto done;
    }
    size_t k = 0;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t i = 0; i < ic->tiles[t].n_weights; i++) {
            int v = ic->tiles[t].q[i];
            sym[k++] = (uint8_t)(v >= 0 ? 2 * v : -2 * v - 1);
        }
    size_t a = deflate_raw(sym, nw, z1, cap, Z_DEFAULT_STRATEGY);
    size_t b = deflate_raw(sym, nw, z2, cap, Z_HUFFMAN_ONLY);
    if (!a || !b) {
        st = nota_error(NOTA_EIO, "dfm: zlib deflate failed on %zu weights", nw);
        goto done;
    }
    size_t p = 0;
    memcpy(out, DFM_PREFIX, DFM_PREFIX_LEN);
    p = DFM_PREFIX_LEN;
    const dfm_code *t0 = &ic->tiles[0];
    if (nt == 1) {
        out[p++] = DFM_FORMAT_VERSION;
        out[p++] = (uint8_t)ic->channels, out[p++] = (uint8_t)t0->width;
        out[p++] = (uint8_t)t0->depth, out[p++] = (uint8_t)ic->bits;
    } else {
        out[p++] = DFM_FORMAT_TILED;
        out[p++] = (uint8_t)ic->channels, out[p++] = (uint8_t)ic->bits;
    }
    out[p++] = (uint8_t)(ic->coord_scale_h & 0xff), out[p++] = (uint8_t)(ic->coord_scale_h >> 8);
    p += put_varint(out + p, (uint32_t)ic->h);
    p += put_varint(out + p, (uint32_t)ic->w);
    if (nt > 1) {
        p += put_varint(out + p, (uint32_t)ic->tile_h);
        p += put_varint(out + p, (uint32_t)ic->tile_w);
        for (int64_t t = 0; t < nt; t++)
            out[p++] = (uint8_t)ic->tiles[t].width, out[p++] = (uint8_t)ic->tiles[t].depth;
    }
    for (int64_t t = 0; t < nt; t++)
        for (int64_t i = 0; i < ic->tiles[t].n_scales; i++) {
            out[p++] = (uint8_t)(ic->tiles[t].scales[i] & 0xff);
            out[p++] = (uint8_t)(ic->tiles[t].scales[i] >> 8);
        }
    memcpy(out + p, b < a ? z2 : z1, b < a ? b : a);
    p += b < a ? b : a;
    put_u32(out + p, (uint32_t)crc32(0L, out, (uInt)p));
    *bytes = out, *n = p + 4;
    out = NULL;
done:
    free(sym), free(z1), free(z2), free(out);
    return st;
}

typedef struct reader {
    const uint8_t *p;
    size_t pos, end;
} reader;

static bool get_u8(reader *r, uint32_t *v) {
    if (r->pos >= r->end) return false;
    *v = r->p[r->pos++];
    return true;
}

static bool get_u16(reader *r, uint32_t *v) {
    if (r->end - r->pos < 2) return false;
    *v = (uint32_t)r->p[r->pos] | (uint32_t)r->p[r->pos + 1] << 8;
    r->pos += 2;
    return true;
}

/* At most 3 bytes (21 bits): enough for DFM_MAX_SIDE, and no shift overflow. */
static bool get_varint(reader *r, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 3; i++) {
        uint32_t b;
        if (!get_u8(r, &b)) return false;
        *v |= (b & 0x7fu) << (7 * i);
        if (!(b & 0x80u)) return true;
    }
    return false;
}

static nota_status field_error(const char *name, uint32_t v, const char *range) {
    return nota_error(NOTA_EFORMAT, "dfm: header field %s = %u out of range (%s)", name, v, range);
}

/* Fields shared by both versions. */
static nota_status check_bits(uint32_t bits) {
    return bits < DFM_MIN_BITS || bits > DFM_MAX_BITS ? field_error("bits", bits, "2..8") : NOTA_OK;
}

static nota_status check_arch(uint32_t wd, uint32_t dp) {
    if (wd < 1 || wd > DFM_MAX_WIDTH) return field_error("width", wd, "1..12");
    if (dp < 1 || dp > DFM_MAX_DEPTH) return field_error("depth", dp, "1..16");
    return NOTA_OK;
}

static nota_status check_image(uint32_t cs, uint32_t h, uint32_t w) {
    float s = dfm_half_to_float((uint16_t)cs);
    if (!(s > 0.0f) || !isfinite(s))
        return nota_error(NOTA_EFORMAT, "dfm: coordinate scale %g must be finite and > 0",
                          (double)s);
    if (h < 1 || h > DFM_MAX_SIDE) return field_error("height", h, "1..65535");
    if (w < 1 || w > DFM_MAX_SIDE) return field_error("width of the image", w, "1..65535");
    if ((int64_t)h * w > DFM_MAX_PIXELS)
        return nota_error(NOTA_EFORMAT, "dfm: image %ux%u has more than %lld pixels", w, h,
                          (long long)DFM_MAX_PIXELS);
    return NOTA_OK;
}

static nota_status parse_v1(reader *r, dfm_image_code *ic) {
    uint32_t ch, wd, dp, bits, cs, h, w;
    if (!get_u8(r, &ch) || !get_u8(r, &wd) || !get_u8(r, &dp) || !get_u8(r, &bits) ||
        !get_u16(r, &cs) || !get_varint(r, &h) || !get_varint(r, &w))
        return nota_error(NOTA_EFORMAT, "dfm: header truncated or malformed");
    if (ch != 1 && ch != 3) return field_error("channels", ch, "1 or 3");
    nota_status st = check_arch(wd, dp);
    if (!st) st = check_bits(bits);
    if (!st) st = check_image(cs, h, w);
    if (st) return st;
    int64_t nw = dfm_net_weight_count((int)wd, (int)dp, (int)ch);
    if ((int64_t)h * w > DFM_MAX_WORK / nw)
        return nota_error(NOTA_ELIMIT,
                          "dfm: decoding %ux%u pixels through %lld weights exceeds the work "
                          "limit of %lld pixel-weights",
                          w, h, (long long)nw, (long long)DFM_MAX_WORK);
    *ic = (dfm_image_code){.channels = (int)ch,
                           .bits = (int)bits,
                           .coord_scale_h = (uint16_t)cs,
                           .h = h,
                           .w = w,
                           .tile_h = h,
                           .tile_w = w};
    st = dfm_image_code_alloc(ic);
    if (st) return st;
    ic->tiles[0].width = (int)wd, ic->tiles[0].depth = (int)dp;
    return dfm_code_alloc(&ic->tiles[0]);
}

/* Deflate expands at most 1032:1, so a stream of n bytes holds at most
 * this many weights: a bound on what a small file can make us allocate. */
#define DFM_DEFLATE_RATIO 1032

static nota_status parse_v2(reader *r, dfm_image_code *ic) {
    uint32_t ch, bits, cs, h, w, th, tw;
    if (!get_u8(r, &ch) || !get_u8(r, &bits) || !get_u16(r, &cs) || !get_varint(r, &h) ||
        !get_varint(r, &w) || !get_varint(r, &th) || !get_varint(r, &tw))
        return nota_error(NOTA_EFORMAT, "dfm: header truncated or malformed");
    if (ch != 1 && ch != 3) return field_error("channels", ch, "1 or 3");
    nota_status st = check_bits(bits);
    if (!st) st = check_image(cs, h, w);
    if (st) return st;
    if (th < 1 || th > h)
        return nota_error(NOTA_EFORMAT, "dfm: tile height %u out of range (1..%u)", th, h);
    if (tw < 1 || tw > w)
        return nota_error(NOTA_EFORMAT, "dfm: tile width %u out of range (1..%u)", tw, w);
    int64_t nt = (int64_t)((h + th - 1) / th) * ((w + tw - 1) / tw);
    if (nt > DFM_MAX_TILES)
        return nota_error(NOTA_ELIMIT, "dfm: %ux%u tiles of %ux%u make %lld tiles, more than %d", w,
                          h, tw, th, (long long)nt, DFM_MAX_TILES);
    if ((size_t)nt > (r->end - r->pos) / 2)
        return nota_error(NOTA_EFORMAT,
                          "dfm: file ends inside the architectures of its %lld tiles (%zu bytes "
                          "left, %lld needed)",
                          (long long)nt, r->end - r->pos, 2 * (long long)nt);
    *ic = (dfm_image_code){.channels = (int)ch,
                           .bits = (int)bits,
                           .coord_scale_h = (uint16_t)cs,
                           .h = h,
                           .w = w,
                           .tile_h = th,
                           .tile_w = tw};
    st = dfm_image_code_alloc(ic);
    int64_t work = 0, nw = 0;
    for (int64_t t = 0; t < nt && !st; t++) {
        uint32_t wd = 0, dp = 0;
        get_u8(r, &wd), get_u8(r, &dp); /* bytes counted above */
        if (wd < 1 || wd > DFM_MAX_WIDTH || dp < 1 || dp > DFM_MAX_DEPTH) {
            st = nota_error(NOTA_EFORMAT,
                            "dfm: tile %lld: width %u, depth %u out of range (1..12, 1..16)",
                            (long long)t, wd, dp);
            break;
        }
        dfm_code *c = &ic->tiles[t];
        c->width = (int)wd, c->depth = (int)dp;
        int64_t n = dfm_net_weight_count(c->width, c->depth, c->channels);
        nw += n, work += c->h * c->w * n; /* each term < 2^26 · 2^21 */
        if (work > DFM_MAX_WORK)
            st = nota_error(NOTA_ELIMIT,
                            "dfm: decoding the tiles' networks exceeds the work limit of %lld "
                            "pixel-weights (at tile %lld of %lld)",
                            (long long)DFM_MAX_WORK, (long long)t + 1, (long long)nt);
    }
    if (!st && nw > (int64_t)(r->end - r->pos) * DFM_DEFLATE_RATIO)
        st = nota_error(NOTA_EFORMAT,
                        "dfm: %lld tiles declare %lld weights, more than the %zu bytes left "
                        "can hold",
                        (long long)nt, (long long)nw, r->end - r->pos);
    for (int64_t t = 0; t < nt && !st; t++)
        st = dfm_code_alloc(&ic->tiles[t]);
    return st;
}

/* Inflate the weight stream into every tile's q, exactly. */
static nota_status inflate_weights(const uint8_t *in, size_t n, dfm_image_code *ic) {
    int64_t nt = ic->rows * ic->cols;
    size_t nw = 0;
    for (int64_t t = 0; t < nt; t++)
        nw += (size_t)ic->tiles[t].n_weights;
    uint8_t *sym = malloc(nw + 1);
    if (!sym) return nota_error(NOTA_ENOMEM, "dfm: cannot allocate %zu weight symbols", nw);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) {
        free(sym);
        return nota_error(NOTA_ENOMEM, "dfm: zlib inflate could not start");
    }
    zs.next_in = (Bytef *)(uintptr_t)in, zs.avail_in = (uInt)n;
    zs.next_out = sym, zs.avail_out = (uInt)(nw + 1); /* +1 reveals surplus output */
    int rc = inflate(&zs, Z_FINISH);
    size_t got = zs.total_out, left = zs.avail_in;
    inflateEnd(&zs);
    nota_status st = NOTA_OK;
    if (rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && got > nw))
        st = nota_error(NOTA_EFORMAT, "dfm: weight stream damaged or cut short (zlib: %s)",
                        rc == Z_DATA_ERROR ? "invalid data" : "incomplete");
    else if (got != nw)
        st = nota_error(NOTA_EFORMAT,
                        "dfm: weight stream holds %s%zu weights, the architecture "
                        "needs %zu",
                        got > nw ? "more than " : "", got > nw ? nw : got, nw);
    else if (left)
        st = nota_error(NOTA_EFORMAT, "dfm: %zu trailing bytes after the weight stream", left);
    int lim = (1 << (ic->bits - 1)) - 1;
    size_t i = 0;
    for (int64_t t = 0; t < nt && !st; t++)
        for (int64_t j = 0; j < ic->tiles[t].n_weights && !st; j++, i++) {
            int v = sym[i] & 1 ? -(int)(sym[i] >> 1) - 1 : (int)(sym[i] >> 1);
            if (v < -lim || v > lim)
                st = nota_error(NOTA_EFORMAT, "dfm: weight %zu = %d outside ±%d for %d bits", i, v,
                                lim, ic->bits);
            else
                ic->tiles[t].q[j] = (int8_t)v;
        }
    free(sym);
    return st;
}

nota_status dfm_decode(const uint8_t *bytes, size_t n, dfm_image_code *ic) {
    memset(ic, 0, sizeof *ic);
    if (n < DFM_MIN_FILE)
        return nota_error(NOTA_EFORMAT,
                          "dfm: file is %zu bytes, shorter than the smallest .dfm "
                          "(%d bytes)",
                          n, DFM_MIN_FILE);
    if (memcmp(bytes, DFM_PREFIX, DFM_PREFIX_LEN) != 0)
        return nota_error(NOTA_EFORMAT, "dfm: not a .dfm file (no \"NTC1\" dfm prefix)");
    uint32_t stored = (uint32_t)bytes[n - 4] | (uint32_t)bytes[n - 3] << 8 |
                      (uint32_t)bytes[n - 2] << 16 | (uint32_t)bytes[n - 1] << 24;
    uint32_t crc = (uint32_t)crc32(0L, bytes, (uInt)(n - 4));
    if (stored != crc)
        return nota_error(NOTA_ECHECKSUM,
                          "dfm: checksum mismatch (stored %08x, computed %08x): the "
                          "file is damaged or truncated",
                          stored, crc);
    reader r = {bytes, DFM_PREFIX_LEN, n - 4};
    uint32_t ver = 0;
    get_u8(&r, &ver); /* n ≥ DFM_MIN_FILE */
    nota_status st;
    if (ver == DFM_FORMAT_VERSION)
        st = parse_v1(&r, ic);
    else if (ver == DFM_FORMAT_TILED)
        st = parse_v2(&r, ic);
    else
        st = nota_error(NOTA_EFORMAT, "dfm: format version %u not supported (this reader: %d, %d)",
                        ver, DFM_FORMAT_VERSION, DFM_FORMAT_TILED);
    int64_t nt = ic->rows * ic->cols, k = 0;
    for (int64_t t = 0; t < nt && !st; t++)
        for (int64_t i = 0; i < ic->tiles[t].n_scales && !st; i++, k++) {
            uint32_t h;
            if (!get_u16(&r, &h))
                st = nota_error(NOTA_EFORMAT, "dfm: file ends inside the column scales");
            else if ((h & 0x8000u) || (h & 0x7c00u) == 0x7c00u)
                st = nota_error(NOTA_EFORMAT,
                                "dfm: column scale %lld (0x%04x) is negative or not "
                                "finite",
                                (long long)k, h);
            else
                ic->tiles[t].scales[i] = (uint16_t)h;
        }
    if (!st) st = inflate_weights(bytes + r.pos, r.end - r.pos, ic);
    if (st) dfm_image_code_free(ic);
    return st;
}

nota_status dfm_code_to_net(const dfm_code *c, int threads, dfm_net **out) {
    nota_status st = dfm_net_new(c->width, c->depth, c->channels,
                                 dfm_half_to_float(c->coord_scale_h), 0, threads, out);
    if (st) return st;
    const int8_t *q = c->q;
    const uint16_t *s = c->scales;
    for (int i = 0; i < (*out)->depth; i++) {
        int64_t rows = dfm_net_layer_rows(*out, i), cols = (*out)->out[i];
        float *w = dfm_net_weights(*out, i);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < cols; o++)
                w[r * cols + o] = (float)q[r * cols + o] * dfm_half_to_float(s[o]);
        q += rows * cols, s += cols;
    }
    return NOTA_OK;
}
