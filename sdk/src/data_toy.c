/* Toy 2-D datasets for demos and tests: "toy:swissroll", "toy:moons",
 * "toy:checkerboard", each optionally ":train" (default) or ":test".
 *
 * Points are drawn from a fixed seed with nota_rng, one stream per dataset
 * and split, so the same spec always gives the same points and train and
 * test never share a stream. Item i depends only on (dataset, split, i): a
 * smaller N is a prefix of a larger one, which is what `--limit N` asks for.
 * The shapes follow the usual definitions (scikit-learn's make_moons and
 * make_swiss_roll, FFJORD's checkerboard):
 *   swissroll     t = 1.5π(1 + 2u); (t cos t, t sin t) + N(0, 1) noise, / 5
 *   moons         two interleaved half circles + N(0, 0.1²) noise
 *   checkerboard  uniform on the black squares of a 4×4 board on [-4, 4]²
 */
#include "data_toy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nota/rng.h"

#define TOY_SEED 0x746f79ull /* "toy" */

typedef enum { TOY_SWISSROLL = 1, TOY_MOONS = 2, TOY_CHECKERBOARD = 3 } toy_kind;

static void point(toy_kind k, nota_rng *r, float *out) {
    double u = nota_rng_uniform_f64(r), v = nota_rng_uniform_f64(r);
    double a = nota_rng_normal(r), b = nota_rng_normal(r);
    double x, y;
    switch (k) {
    case TOY_SWISSROLL: {
        double t = 1.5 * M_PI * (1 + 2 * u);
        x = (t * cos(t) + a) / 5;
        y = (t * sin(t) + b) / 5;
        break;
    }
    case TOY_MOONS: {
        double t = M_PI * u;
        if (v < 0.5) {
            x = cos(t);
            y = sin(t);
        } else {
            x = 1 - cos(t);
            y = 0.5 - sin(t);
        }
        x += 0.1 * a;
        y += 0.1 * b;
        break;
    }
    default: { /* checkerboard: column from u, row within the column's parity */
        double x1 = 4 * u - 2;
        double w = nota_rng_uniform_f64(r);
        double x2 = w - 2 * (v < 0.5 ? 1 : 0) + fmod(floor(x1) + 4, 2);
        x = 2 * x1;
        y = 2 * x2;
        break;
    }
    }
    out[0] = (float)x;
    out[1] = (float)y;
}

nota_status data_toy_open(const char *spec, int64_t n, nota_dataset *ds) {
    static const struct {
        const char *name;
        toy_kind kind;
    } toys[] = {
        {"swissroll", TOY_SWISSROLL}, {"moons", TOY_MOONS}, {"checkerboard", TOY_CHECKERBOARD}};
    const char *name = spec + 4; /* after "toy:" */
    const char *colon = strchr(name, ':');
    size_t len = colon ? (size_t)(colon - name) : strlen(name);
    const char *split = colon ? colon + 1 : "train";
    toy_kind kind = 0;
    for (size_t i = 0; i < sizeof toys / sizeof toys[0]; i++)
        if (strlen(toys[i].name) == len && strncmp(name, toys[i].name, len) == 0)
            kind = toys[i].kind;
    bool test = strcmp(split, "test") == 0;
    if (!kind || (!test && strcmp(split, "train") != 0))
        return nota_error(NOTA_ENOTFOUND,
                          "unknown toy dataset '%s' (known: toy:swissroll, "
                          "toy:moons, toy:checkerboard, each optionally :train or :test)",
                          spec);
    if (n == 0) n = NOTA_TOY_DEFAULT_N;
    if (n < 0 || n > NOTA_TOY_MAX_N)
        return nota_error(NOTA_ELIMIT, "toy dataset '%s': %lld items requested, at most %d", spec,
                          (long long)n, NOTA_TOY_MAX_N);
    nota_status st = nota_tensor_new_2d(n, 2, &ds->x);
    if (st) return st;
    float *x = nota_tensor_f32(ds->x);
    /* one Philox stream per item keeps item i independent of N */
    uint64_t base = ((uint64_t)kind << 40) | ((uint64_t)test << 32);
    for (int64_t i = 0; i < n; i++) {
        nota_rng r = nota_rng_make(TOY_SEED, base | (uint64_t)i);
        point(kind, &r, x + 2 * i);
    }
    return NOTA_OK;
}
