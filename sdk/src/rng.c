/* Philox4x32-10 counter-based random numbers (see nota/rng.h).
 *
 * Philox (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011) turns a 128-bit counter and a 64-bit key into 128 random
 * bits with ten rounds of multiply-xor. Because there is no state besides the
 * counter, "element i of stream s under seed k" is a pure function: block i/4,
 * word i%4, key = seed, counter = (block, stream). The sequential generator
 * (nota_rng) walks the same blocks in order, so nota_rng_uniform called n
 * times from nota_rng_make(seed, stream) yields nota_rng_fill_uniform's n
 * values; the fill functions let any thread fill any slice of that sequence.
 */
#include "nota/rng.h"

#include <math.h>

#include "parallel.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void nota_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]) {
    uint32_t k0 = key[0], k1 = key[1];
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    for (int round = 0; round < 10; round++) {
        if (round > 0) { /* the key schedule bumps before every round but the first */
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* One Philox block of (seed, stream) at block index `block`. */
static void block_at(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                             (uint32_t)(stream >> 32)};
    nota_philox4x32(key, ctr, out);
}

nota_rng nota_rng_make(uint64_t seed, uint64_t stream) {
    nota_rng r = {
        .key = {(uint32_t)seed, (uint32_t)(seed >> 32)},
        .ctr = {0, 0, (uint32_t)stream, (uint32_t)(stream >> 32)},
        .buf = {0, 0, 0, 0},
        .used = 4,
    };
    return r;
}

void nota_rng_seek(nota_rng *r, uint64_t offset) {
    r->ctr[0] = (uint32_t)offset;
    r->ctr[1] = (uint32_t)(offset >> 32);
    r->used = 4; /* the next word comes from block `offset` */
}

uint32_t nota_rng_u32(nota_rng *r) {
    if (r->used >= 4) {
        nota_philox4x32(r->key, r->ctr, r->buf);
        /* Advance the 64-bit block index in ctr[0..1]; the stream id in
         * ctr[2..3] never changes, so streams cannot run into each other. */
        if (++r->ctr[0] == 0) r->ctr[1]++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t nota_rng_u64(nota_rng *r) {
    uint64_t lo = nota_rng_u32(r);
    uint64_t hi = nota_rng_u32(r);
    return (hi << 32) | lo;
}

/* Top 24 bits scaled by 2^-24: every float in [0, 1) that is a multiple of
 * 2^-24, and never 1.0 (rounding a 32-bit value to float could give 1.0). */
static inline float word_to_uniform(uint32_t x) { return (float)(x >> 8) * 0x1.0p-24f; }

float nota_rng_uniform(nota_rng *r) { return word_to_uniform(nota_rng_u32(r)); }

double nota_rng_uniform_f64(nota_rng *r) { return (double)(nota_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Box–Muller on two 32-bit words. u1 = (x + 1) 2^-32 lies in (0, 1], so the
 * log is finite (|z| <= sqrt(64 ln 2) ~ 6.66); the angle uses y 2^-32 in
 * [0, 1). Computed in double so the float result is correctly rounded. */
static inline void box_muller(uint32_t x, uint32_t y, float *z0, float *z1) {
    double u1 = ((double)x + 1.0) * 0x1.0p-32;
    double theta = 6.283185307179586476925 * ((double)y * 0x1.0p-32);
    double rad = sqrt(-2.0 * log(u1));
    *z0 = (float)(rad * cos(theta));
    *z1 = (float)(rad * sin(theta));
}

/* One normal per two words; the sine half is dropped because nota_rng has no
 * slot to keep it. Use nota_rng_fill_normal for bulk draws (no waste). */
float nota_rng_normal(nota_rng *r) {
    uint32_t x = nota_rng_u32(r);
    uint32_t y = nota_rng_u32(r);
    float z0, z1;
    box_muller(x, y, &z0, &z1);
    return z0;
}

uint64_t nota_rng_below(nota_rng *r, uint64_t n) {
    if (n <= 1) return 0; /* n == 0 is outside the contract; answer 0 rather than loop */
    if (n <= UINT64_C(0x100000000)) {
        /* Reject the lowest 2^32 mod n words so that the rest split evenly
         * into n classes; one 32-bit word per try keeps the common case cheap. */
        uint64_t thresh = (UINT64_C(0x100000000) - n) % n;
        for (;;) {
            uint64_t x = nota_rng_u32(r);
            if (x >= thresh) return x % n;
        }
    }
    uint64_t thresh = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = nota_rng_u64(r);
        if (x >= thresh) return x % n;
    }
}

/* Element i depends only on (seed, stream, first + i), so large fills are
 * cut over nota_par_for's threads with the same bits for any count. */
#define RNG_GRAIN 2048 /* a VAE batch's 128×64 normals (~0.15 ms alone) is 4 grains */

typedef struct fill_ctx {
    uint64_t seed, stream;
    size_t first;
    float *out;
} fill_ctx;

static void uniform_body(void *vctx, size_t lo, size_t hi) {
    const fill_ctx *c = vctx;
    size_t i = lo;
    while (i < hi) {
        uint64_t idx = (uint64_t)c->first + i;
        uint32_t w[4];
        block_at(c->seed, c->stream, idx / 4, w);
        for (unsigned k = (unsigned)(idx % 4); k < 4 && i < hi; k++, i++)
            c->out[i] = word_to_uniform(w[k]);
    }
}

void nota_rng_fill_uniform_range(uint64_t seed, uint64_t stream, size_t first, float *out,
                                 size_t n) {
    fill_ctx c = {seed, stream, first, out};
    nota_par_for(n, RNG_GRAIN, uniform_body, &c);
}

void nota_rng_fill_uniform(uint64_t seed, uint64_t stream, float *out, size_t n) {
    nota_rng_fill_uniform_range(seed, stream, 0, out, n);
}

/* Normals: block b gives elements 4b..4b+3 as two Box–Muller pairs
 * (words 0,1 -> cos, sin; words 2,3 -> cos, sin), so every word is used and
 * element i still depends only on block i/4. */
static void normal_body(void *vctx, size_t lo, size_t hi) {
    const fill_ctx *c = vctx;
    size_t i = lo;
    while (i < hi) {
        uint64_t idx = (uint64_t)c->first + i;
        uint32_t w[4];
        float z[4];
        block_at(c->seed, c->stream, idx / 4, w);
        box_muller(w[0], w[1], &z[0], &z[1]);
        box_muller(w[2], w[3], &z[2], &z[3]);
        for (unsigned k = (unsigned)(idx % 4); k < 4 && i < hi; k++, i++)
            c->out[i] = z[k];
    }
}

void nota_rng_fill_normal_range(uint64_t seed, uint64_t stream, size_t first, float *out,
                                size_t n) {
    fill_ctx c = {seed, stream, first, out};
    nota_par_for(n, RNG_GRAIN, normal_body, &c);
}

void nota_rng_fill_normal(uint64_t seed, uint64_t stream, float *out, size_t n) {
    nota_rng_fill_normal_range(seed, stream, 0, out, n);
}
