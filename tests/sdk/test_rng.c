/* Tests for nota/rng.h: Philox4x32-10 against the published known-answer
 * vectors (Random123 kat_vectors), exact first values for a fixed seed
 * (computed independently by a Python transcription of the Philox paper, so a
 * change in word order, key schedule or float conversion is caught), the
 * "element i depends only on (seed, stream, i)" contract, and statistical
 * sanity of uniform / normal / below with fixed seeds and stated tolerances. */
#include "nota/rng.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

static void expect_block(const uint32_t key[2], const uint32_t ctr[4], const uint32_t want[4]) {
    uint32_t out[4];
    nota_philox4x32(key, ctr, out);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], want[i], "word %d: got %08x, want %08x", i, out[i], want[i]);
}

Test(rng, philox_known_answers) {
    const uint32_t k0[2] = {0, 0}, c0[4] = {0, 0, 0, 0};
    const uint32_t w0[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    expect_block(k0, c0, w0);
    const uint32_t k1[2] = {0xffffffff, 0xffffffff};
    const uint32_t c1[4] = {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
    const uint32_t w1[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
    expect_block(k1, c1, w1);
    const uint32_t k2[2] = {0xa4093822, 0x299f31d0};
    const uint32_t c2[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
    const uint32_t w2[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
    expect_block(k2, c2, w2);
}

#define SEED UINT64_C(0x0123456789abcdef)
#define STREAM 7
/* Words 0..5 of (SEED, STREAM): blocks 0 and 1, from the Python reference. */
static const uint32_t first_words[6] = {0x34b23a77, 0x8ec43d26, 0xfdbf9305,
                                        0xa6c02cf2, 0xf9a36445, 0x1ee17293};

Test(rng, make_layout_and_first_words) {
    nota_rng r = nota_rng_make(SEED, STREAM);
    cr_assert_eq(r.key[0], 0x89abcdefu);
    cr_assert_eq(r.key[1], 0x01234567u);
    cr_assert_eq(r.ctr[2], 7u);
    cr_assert_eq(r.ctr[3], 0u);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(nota_rng_u32(&r), first_words[i], "word %d", i);
}

Test(rng, first_values_regression) {
    nota_rng r = nota_rng_make(SEED, STREAM);
    /* uniform = top 24 bits / 2^24, so exact. */
    for (int i = 0; i < 6; i++) {
        float u = nota_rng_uniform(&r);
        cr_assert_eq(u, (float)(first_words[i] >> 8) / 16777216.0f, "uniform %d", i);
    }
    r = nota_rng_make(SEED, STREAM);
    cr_assert_eq(nota_rng_u64(&r), ((uint64_t)first_words[1] << 32) | first_words[0]);
    r = nota_rng_make(SEED, STREAM);
    cr_assert_eq(nota_rng_uniform_f64(&r), (double)UINT64_C(0x11d887a4c69647) * 0x1.0p-53);
    /* Normals: float rounding of libm results may differ by an ulp between
     * libms, so compare to 1e-6. */
    const float want[6] = {-0x1.a99958p+0f, -0x1.42c0cp-1f, -0x1.3c38cep-4f,
                           -0x1.bb36f4p-4f, 0x1.4daedep-3f, 0x1.3bd5ap-3f};
    float z[6];
    nota_rng_fill_normal(SEED, STREAM, z, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(z[i], want[i], 1e-6, "normal %d", i);
    /* The sequential normal keeps the cosine half of each pair. */
    r = nota_rng_make(SEED, STREAM);
    float z0 = nota_rng_normal(&r), z1 = nota_rng_normal(&r);
    cr_assert_float_eq(z0, want[0], 1e-6);
    cr_assert_float_eq(z1, want[2], 1e-6);
}

Test(rng, seek_jumps_to_block) {
    nota_rng r = nota_rng_make(SEED, STREAM);
    nota_rng_seek(&r, 1);
    cr_assert_eq(nota_rng_u32(&r), first_words[4]);
    cr_assert_eq(nota_rng_u32(&r), first_words[5]);
    /* Crossing the 2^32 block boundary carries into ctr[1]. */
    nota_rng_seek(&r, UINT64_C(0xffffffff));
    for (int i = 0; i < 4; i++)
        nota_rng_u32(&r);
    cr_assert_eq(r.ctr[0], 0u);
    cr_assert_eq(r.ctr[1], 1u);
    uint32_t a = nota_rng_u32(&r);
    nota_rng s = nota_rng_make(SEED, STREAM);
    nota_rng_seek(&s, UINT64_C(0x100000000));
    cr_assert_eq(nota_rng_u32(&s), a);
}

Test(rng, sequential_uniform_matches_fill) {
    enum { N = 37 };
    float f[N];
    nota_rng_fill_uniform(SEED, STREAM, f, N);
    nota_rng r = nota_rng_make(SEED, STREAM);
    for (int i = 0; i < N; i++)
        cr_assert_eq(nota_rng_uniform(&r), f[i], "element %d", i);
}

typedef void (*fill_range_fn)(uint64_t, uint64_t, size_t, float *, size_t);
typedef void (*fill_fn)(uint64_t, uint64_t, float *, size_t);

static void check_split(fill_fn whole, fill_range_fn part) {
    enum { N = 1001 };
    static float all[N], pieces[N];
    whole(99, 3, all, N);
    const size_t cuts[] = {0, 1, 2, 3, 4, 5, 7, 500, 998, 1000, 1001};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        size_t k = cuts[c];
        for (size_t i = 0; i < N; i++)
            pieces[i] = NAN;
        part(99, 3, 0, pieces, k);
        part(99, 3, k, pieces + k, N - k);
        for (size_t i = 0; i < N; i++)
            cr_assert_eq(pieces[i], all[i], "cut %zu, element %zu", k, i);
    }
    /* Three uneven pieces written out of order. */
    for (size_t i = 0; i < N; i++)
        pieces[i] = NAN;
    part(99, 3, 333, pieces + 333, 101);
    part(99, 3, 434, pieces + 434, N - 434);
    part(99, 3, 0, pieces, 333);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pieces[i], all[i], "element %zu", i);
}

Test(rng, fill_uniform_any_split_is_identical) {
    check_split(nota_rng_fill_uniform, nota_rng_fill_uniform_range);
}

Test(rng, fill_normal_any_split_is_identical) {
    check_split(nota_rng_fill_normal, nota_rng_fill_normal_range);
}

Test(rng, streams_and_seeds_differ) {
    enum { N = 64 };
    float a[N], b[N], c[N];
    nota_rng_fill_uniform(5, 0, a, N);
    nota_rng_fill_uniform(5, 1, b, N);
    nota_rng_fill_uniform(6, 0, c, N);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < N; i++) {
        same_ab += a[i] == b[i];
        same_ac += a[i] == c[i];
    }
    cr_assert_eq(same_ab, 0);
    cr_assert_eq(same_ac, 0);
    /* High halves of seed and stream take part too. */
    nota_rng_fill_uniform(5 + (UINT64_C(1) << 32), 0, b, N);
    nota_rng_fill_uniform(5, UINT64_C(1) << 32, c, N);
    cr_assert_neq(a[0], b[0]);
    cr_assert_neq(a[0], c[0]);
}

Test(rng, uniform_statistics) {
    enum { N = 1000000 };
    float *u = malloc(N * sizeof *u);
    cr_assert_not_null(u);
    nota_rng_fill_uniform(2024, 1, u, N);
    double sum = 0, sq = 0;
    int below_tenth = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(u[i] >= 0.0f && u[i] < 1.0f, "element %d = %g", i, u[i]);
        sum += u[i];
        sq += (double)u[i] * u[i];
        below_tenth += u[i] < 0.1f;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    /* sd of the mean is 0.29/1000; of the variance ~0.075/1000: 5 sd bounds. */
    cr_assert(fabs(mean - 0.5) < 0.0015, "mean %g", mean);
    cr_assert(fabs(var - 1.0 / 12) < 0.0004, "variance %g", var);
    cr_assert(fabs(below_tenth / (double)N - 0.1) < 0.0015, "P(u<0.1) %g", below_tenth / (double)N);
    free(u);
}

Test(rng, normal_statistics) {
    enum { N = 1000000 };
    float *z = malloc(N * sizeof *z);
    cr_assert_not_null(z);
    nota_rng_fill_normal(2024, 2, z, N);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    int within1 = 0;
    for (int i = 0; i < N; i++) {
        /* Box–Muller with u1 in (0, 1] bounds |z| by sqrt(64 ln 2) = 6.6604. */
        cr_assert(isfinite(z[i]) && fabsf(z[i]) <= 6.6605f, "element %d = %g", i, z[i]);
        double x = z[i];
        s1 += x;
        s2 += x * x;
        s3 += x * x * x;
        s4 += x * x * x * x;
        within1 += fabs(x) < 1.0;
    }
    double mean = s1 / N, var = s2 / N - mean * mean;
    /* Standard errors at n = 1e6: mean 0.001, variance 0.0014, skewness
     * 0.0024, kurtosis 0.0049, P(|z|<1) 0.00047. Bounds are ~5 sd. */
    cr_assert(fabs(mean) < 0.005, "mean %g", mean);
    cr_assert(fabs(var - 1.0) < 0.007, "variance %g", var);
    cr_assert(fabs(s3 / N) < 0.012, "third moment %g", s3 / N);
    cr_assert(fabs(s4 / N - 3.0) < 0.025, "fourth moment %g", s4 / N);
    cr_assert(fabs(within1 / (double)N - 0.682689) < 0.0024, "P(|z|<1) %g", within1 / (double)N);
    free(z);
}

Test(rng, below_is_unbiased_and_in_range) {
    nota_rng r = nota_rng_make(11, 0);
    cr_assert_eq(nota_rng_below(&r, 0), 0u);
    cr_assert_eq(nota_rng_below(&r, 1), 0u);
    /* Die: each face 1/6 of 60000 draws (sd ~91), within 5 sd. */
    int count[6] = {0};
    for (int i = 0; i < 60000; i++) {
        uint64_t x = nota_rng_below(&r, 6);
        cr_assert_lt(x, 6u);
        count[x]++;
    }
    for (int f = 0; f < 6; f++)
        cr_assert(abs(count[f] - 10000) < 460, "face %d: %d", f, count[f]);
    /* n = 3 * 2^30: plain x % n would put half the mass below 2^30 instead of
     * a third; rejection must give 1/3 (sd 0.0027 at 30000 draws). */
    uint64_t n = UINT64_C(3) << 30;
    int low = 0;
    for (int i = 0; i < 30000; i++) {
        uint64_t x = nota_rng_below(&r, n);
        cr_assert_lt(x, n);
        low += x < (UINT64_C(1) << 30);
    }
    cr_assert(fabs(low / 30000.0 - 1.0 / 3) < 0.014, "fraction below 2^30: %g", low / 30000.0);
    /* Same check on the 64-bit path: n = 3 * 2^62. */
    n = UINT64_C(3) << 62;
    low = 0;
    for (int i = 0; i < 30000; i++) {
        uint64_t x = nota_rng_below(&r, n);
        cr_assert_lt(x, n);
        low += x < (UINT64_C(1) << 62);
    }
    cr_assert(fabs(low / 30000.0 - 1.0 / 3) < 0.014, "fraction below 2^62: %g", low / 30000.0);
}
