/* nn_vmath.h — AVX2 paths of the BCE loss and the Adam update (see
 * nn_vmath.c). Each handles a prefix of its n items, a multiple of 8, and
 * returns how many (0 when the CPU lacks AVX2/FMA); the caller's own loop
 * does the rest. */
#ifndef NOTA_NN_VMATH_H
#define NOTA_NN_VMATH_H

#include <stddef.h>

/* Sum over i < returned count of BCE-with-logits(z[i], t[i]) into *sum
 * (double); g (may be NULL) gets gs·(sigmoid(z) − t). */
size_t nn_bce_logits_vec(const float *z, const float *t, float *g, float gs, size_t n, double *sum);

/* The Adam update of nn_optim.c's adam_span, bit for bit. */
size_t nn_adam_vec(float *w, float *m, float *v, const float *g, size_t n, float step, float l2,
                   float shrink, float b1, float b2, float eps, float rbc2);

#endif /* NOTA_NN_VMATH_H */
