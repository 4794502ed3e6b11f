/* Test data shared by the VAE and GAN tests: n points of a curved 2-D
 * manifold in MANIFOLD_D = 8 dimensions, x = f(u, v) + 0.05 noise, (u, v)
 * standard normal. No linear 2-D subspace fits it. */
#ifndef NOTA_TEST_MANIFOLD_H
#define NOTA_TEST_MANIFOLD_H

#include <math.h>
#include <stdlib.h>

#include "plugin_util.h"

#define MANIFOLD_D 8

static nota_tensor *manifold(int64_t n, uint64_t seed) {
    enum { D8 = MANIFOLD_D, W = 2 + MANIFOLD_D };
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(n, D8, &t), NOTA_OK);
    float *e = malloc((size_t)n * W * sizeof *e);
    nota_rng_fill_normal(seed, 1, e, (size_t)n * W);
    float *x = nota_tensor_f32(t);
    for (int64_t r = 0; r < n; r++) {
        double u = e[r * W], v = e[r * W + 1];
        double f[D8] = {u, v, sin(2 * u), cos(2 * u) * v, u * v, u * u - 1, 3 + 0.5 * v, sin(u + v)};
        for (int j = 0; j < D8; j++) x[r * D8 + j] = (float)(f[j] + 0.05 * e[r * W + 2 + j]);
    }
    free(e);
    return t;
}

#endif
