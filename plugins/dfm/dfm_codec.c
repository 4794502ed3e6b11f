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

nota_status dfm_encode(const dfm_code *c, uint8_t **bytes, size_t *n) {
    *bytes = NULL, *n = 0;
    size_t nw = (size_t)c->n_weights, cap = compressBound((uLong)nw) + 16;
    uint8_t *sym = malloc(nw), *z1 = malloc(cap), *z2 = malloc(cap);
    size_t head = DFM_PREFIX_LEN + 7 + 6 + 2 * (size_t)c->n_scales;
    uint8_t *out = malloc(head + cap + 4);
    nota_status st = NOTA_OK;
    if (!sym || !z1 || !z2 || !out) {
        st = nota_error(NOTA_ENOMEM, "dfm: cannot allocate the encoder's buffers");
        goto done;
    }
    for (size_t i = 0; i < nw; i++) {
        int v = c->q[i];
        sym[i] = (uint8_t)(v >= 0 ? 2 * v : -2 * v - 1);
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
    out[p++] = DFM_FORMAT_VERSION;
    out[p++] = (uint8_t)c->channels, out[p++] = (uint8_t)c->width, out[p++] = (uint8_t)c->depth;
    out[p++] = (uint8_t)c->bits;
    out[p++] = (uint8_t)(c->coord_scale_h & 0xff), out[p++] = (uint8_t)(c->coord_scale_h >> 8);
    p += put_varint(out + p, (uint32_t)c->h);
    p += put_varint(out + p, (uint32_t)c->w);
    for (int64_t i = 0; i < c->n_scales; i++) {
        out[p++] = (uint8_t)(c->scales[i] & 0xff);
        out[p++] = (uint8_t)(c->scales[i] >> 8);
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

static nota_status parse_header(reader *r, dfm_code *c) {
    uint32_t ver, ch, wd, dp, bits, cs, h, w;
    if (!get_u8(r, &ver) || !get_u8(r, &ch) || !get_u8(r, &wd) || !get_u8(r, &dp) ||
        !get_u8(r, &bits) || !get_u16(r, &cs) || !get_varint(r, &h) || !get_varint(r, &w))
        return nota_error(NOTA_EFORMAT, "dfm: header truncated or malformed");
    if (ver != DFM_FORMAT_VERSION)
        return nota_error(NOTA_EFORMAT, "dfm: format version %u not supported (this reader: %d)",
                          ver, DFM_FORMAT_VERSION);
    if (ch != 1 && ch != 3) return field_error("channels", ch, "1 or 3");
    if (wd < 1 || wd > DFM_MAX_WIDTH) return field_error("width", wd, "1..12");
    if (dp < 1 || dp > DFM_MAX_DEPTH) return field_error("depth", dp, "1..16");
    if (bits < DFM_MIN_BITS || bits > DFM_MAX_BITS) return field_error("bits", bits, "2..8");
    float s = dfm_half_to_float((uint16_t)cs);
    if (!(s > 0.0f) || !isfinite(s))
        return nota_error(NOTA_EFORMAT, "dfm: coordinate scale %g must be finite and > 0",
                          (double)s);
    if (h < 1 || h > DFM_MAX_SIDE) return field_error("height", h, "1..65535");
    if (w < 1 || w > DFM_MAX_SIDE) return field_error("width of the image", w, "1..65535");
    if ((int64_t)h * w > DFM_MAX_PIXELS)
        return nota_error(NOTA_EFORMAT, "dfm: image %ux%u has more than %lld pixels", w, h,
                          (long long)DFM_MAX_PIXELS);
    int64_t nw = dfm_net_weight_count((int)wd, (int)dp, (int)ch);
    if ((int64_t)h * w > DFM_MAX_WORK / nw)
        return nota_error(NOTA_ELIMIT,
                          "dfm: decoding %ux%u pixels through %lld weights exceeds the work "
                          "limit of %lld pixel-weights",
                          w, h, (long long)nw, (long long)DFM_MAX_WORK);
    c->channels = (int)ch, c->width = (int)wd, c->depth = (int)dp, c->bits = (int)bits;
    c->coord_scale_h = (uint16_t)cs, c->h = h, c->w = w;
    return NOTA_OK;
}

static nota_status inflate_weights(const uint8_t *in, size_t n, dfm_code *c) {
    size_t nw = (size_t)c->n_weights;
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
    int lim = (1 << (c->bits - 1)) - 1;
    for (size_t i = 0; i < nw && !st; i++) {
        int v = sym[i] & 1 ? -(int)(sym[i] >> 1) - 1 : (int)(sym[i] >> 1);
        if (v < -lim || v > lim)
            st = nota_error(NOTA_EFORMAT, "dfm: weight %zu = %d outside ±%d for %d bits", i, v, lim,
                            c->bits);
        else
            c->q[i] = (int8_t)v;
    }
    free(sym);
    return st;
}

nota_status dfm_decode(const uint8_t *bytes, size_t n, dfm_code *c) {
    memset(c, 0, sizeof *c);
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
    nota_status st = parse_header(&r, c);
    if (st) return st;
    st = dfm_code_alloc(c);
    if (st) return st;
    for (int64_t i = 0; i < c->n_scales && !st; i++) {
        uint32_t h;
        if (!get_u16(&r, &h))
            st = nota_error(NOTA_EFORMAT, "dfm: file ends inside the %lld column scales",
                            (long long)c->n_scales);
        else if ((h & 0x8000u) || (h & 0x7c00u) == 0x7c00u)
            st = nota_error(NOTA_EFORMAT,
                            "dfm: column scale %lld (0x%04x) is negative or not "
                            "finite",
                            (long long)i, h);
        else
            c->scales[i] = (uint16_t)h;
    }
    if (!st) st = inflate_weights(bytes + r.pos, r.end - r.pos, c);
    if (st) dfm_code_free(c);
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
