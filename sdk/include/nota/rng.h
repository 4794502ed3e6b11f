/* nota/rng.h — counter-based random numbers (Philox4x32-10).
 *
 * A counter-based generator maps (key, counter) to random bits with no hidden
 * state, so the numbers drawn for item i depend only on the seed, a stream id
 * and i — never on how many threads share the work or in which order they
 * run. Split work by giving each item or block its own stream (or counter
 * offset) and results are reproducible for a given seed at any thread count.
 *
 * A nota_rng is a plain value (no allocation): copy it freely.
 */
#ifndef NOTA_RNG_H
#define NOTA_RNG_H

#include <stddef.h>
#include <stdint.h>
#include "nota/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nota_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];  /* last block produced */
    uint32_t used;    /* words of buf consumed (4 = empty) */
} nota_rng;

/* Raw Philox4x32-10 block: out = philox(key, ctr). */
void nota_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

/* Generator for (seed, stream): streams with different ids are independent. */
nota_rng nota_rng_make(uint64_t seed, uint64_t stream);
/* Jump to block `offset` of the current stream (counter words 0..1). */
void nota_rng_seek(nota_rng *r, uint64_t offset);

uint32_t nota_rng_u32(nota_rng *r);
uint64_t nota_rng_u64(nota_rng *r);
/* Uniform in [0, 1) with 24 random bits (float) / 53 bits (double). */
float nota_rng_uniform(nota_rng *r);
double nota_rng_uniform_f64(nota_rng *r);
/* Standard normal (Box–Muller on two uniforms). */
float nota_rng_normal(nota_rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t nota_rng_below(nota_rng *r, uint64_t n);

/* Fill n floats; element i uses stream (seed, stream), block i/4 ... so that
 * any split of [0, n) across threads yields the same numbers. */
void nota_rng_fill_uniform(uint64_t seed, uint64_t stream, float *out, size_t n);
void nota_rng_fill_normal(uint64_t seed, uint64_t stream, float *out, size_t n);
/* The same numbers for elements [first, first + n) only: out[j] equals element
 * first + j of nota_rng_fill_uniform / _normal, so workers can each fill their
 * own slice of one logical array. */
void nota_rng_fill_uniform_range(uint64_t seed, uint64_t stream, size_t first, float *out,
                                 size_t n);
void nota_rng_fill_normal_range(uint64_t seed, uint64_t stream, size_t first, float *out,
                                size_t n);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_RNG_H */
