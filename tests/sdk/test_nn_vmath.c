/* Tests for the AVX2 paths of nn_vmath.c: the BCE-with-logits terms and
 * gradients against a double-precision reference over the whole float range
 * the loss meets (|z| from 0 to past exp's underflow), the loss through the
 * public API (vector part plus scalar tail) against the same reference, and
 * the Adam update bit for bit against the scalar kernel nn_adam_update. On a
 * CPU without AVX2 the vector functions take no items (checked) and the
 * public-API checks still hold through the scalar loops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_kernels.h"
#include "nn_vmath.h"
#include "nota/nn.h"
#include "nota/rng.h"

static double ref_bce(double z, double t) { return fmax(z, 0) - z * t + log1p(exp(-fabs(z))); }
static double ref_grad(double z, double t) { return 1.0 / (1.0 + exp(-z)) - t; }

#define NV 4096

/* z spread over [-120, 120] (denser near 0) plus exact edge values */
static void make_inputs(float *z, float *t) {
    const float edge[] = {0.0f,  -0.0f,  1e-8f, -1e-8f, 1.0f,   -1.0f,   87.0f, -87.0f,
                          87.4f, -87.4f, 88.7f, -88.7f, 103.0f, -103.0f, 1e30f, -1e30f};
    size_t ne = sizeof edge / sizeof edge[0];
    nota_rng_fill_uniform(9, 0, z, NV);
    nota_rng_fill_uniform(9, 1, t, NV);
    for (size_t i = 0; i < NV; i++) {
        float u = 2.0f * z[i] - 1.0f;
        z[i] = i < ne ? edge[i] : 120.0f * u * u * u;
        t[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : t[i];
    }
}

Test(nn_vmath, bce_terms_and_gradients_match_double_reference) {
    static float z[NV], t[NV], g[NV];
    make_inputs(z, t);
    double sum = 0, ref = 0;
    for (size_t i = 0; i + 8 <= NV; i += 8) {
        double s;
        size_t done = nn_bce_logits_vec(z + i, t + i, g + i, 0.5f, 8, &s);
        if (done == 0) {
            cr_log_info("no AVX2/FMA on this CPU: vector path not taken");
            return;
        }
        cr_assert_eq(done, 8);
        sum += s;
    }
    double worst = 0, worst_g = 0;
    for (size_t i = 0; i < NV; i++) {
        ref += ref_bce(z[i], t[i]);
        double err_g = fabs(g[i] - 0.5 * ref_grad(z[i], t[i]));
        if (err_g > worst_g) worst_g = err_g;
        /* the term alone: z in lane 0, lanes 1-7 give terms of exactly 0
         * (z = −200, t = 0: exp underflows to 0 and max(z, 0) = 0) */
        float zz[8] = {z[i]}, tt[8] = {t[i]}, gg[8];
        for (int k = 1; k < 8; k++)
            zz[k] = -200.0f, tt[k] = 0.0f;
        double s, r = ref_bce(z[i], t[i]);
        cr_assert_eq(nn_bce_logits_vec(zz, tt, gg, 1.0f, 8, &s), 8);
        /* f32 rounding of max(z, 0) − z·t scales with |z| (cancellation
         * when t is near 1); plus float's smallest normal: below −87.3 exp
         * is flushed to 0, and such a term is under 1.2e-38 */
        double err = fabs(s - r) - 2e-7 * (fabs(r) + fabs(z[i]));
        if (err > worst) worst = err;
        if (r == 0) cr_assert_eq(s, 0.0, "z %g t %g: %g, expected 0", z[i], t[i], s);
    }
    cr_assert_leq(worst, 1.2e-38, "a term is off by %g beyond 2e-7 (|term| + |z|)", worst);
    cr_assert_lt(worst_g, 1e-7, "worst absolute error of a gradient: %g", worst_g);
    cr_assert_float_eq(sum, ref, 1e-7 * ref, "sum %.17g vs %.17g", sum, ref);
}

Test(nn_vmath, bce_loss_through_api_matches_reference_with_a_tail) {
    /* 1003 items: blocks of 8 in the vector path and a scalar tail */
    static float z[NV], t[NV];
    make_inputs(z, t);
    int64_t n = 1003;
    nota_tensor *p, *tg, *g;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &n, &p), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &n, &tg), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 1, &n, &g), NOTA_OK);
    memcpy(nota_tensor_f32(p), z, (size_t)n * sizeof(float));
    memcpy(nota_tensor_f32(tg), t, (size_t)n * sizeof(float));
    double loss, ref = 0;
    cr_assert_eq(nota_nn_loss_bce_logits(p, tg, NOTA_NN_MEAN, &loss, g), NOTA_OK);
    for (int64_t i = 0; i < n; i++)
        ref += ref_bce(z[i], t[i]);
    ref /= (double)n;
    cr_assert_float_eq(loss, ref, 1e-7 * ref, "loss %.17g vs %.17g", loss, ref);
    const float *gv = nota_tensor_f32(g);
    for (int64_t i = 0; i < n; i++)
        cr_assert_float_eq(gv[i], ref_grad(z[i], t[i]) / (double)n, 2e-7 / (double)n, "grad %lld",
                           (long long)i);
    nota_tensor_free(p);
    nota_tensor_free(tg);
    nota_tensor_free(g);
}

Test(nn_vmath, adam_vector_path_is_bit_identical_to_scalar_kernel) {
    enum { N = 1000 };
    static float w[N], m[N], v[N], g[N], w2[N], m2[N], v2[N];
    nota_rng_fill_normal(3, 0, w, N);
    nota_rng_fill_normal(3, 1, g, N);
    nota_rng_fill_uniform(3, 2, v, N);
    nota_rng_fill_normal(3, 3, m, N);
    for (int i = 0; i < N; i++)
        v[i] *= 1e-3f, m[i] *= 1e-2f;
    memcpy(w2, w, sizeof w), memcpy(m2, m, sizeof m), memcpy(v2, v, sizeof v);
    const float step = 1e-3f / (1.0f - 0.9f), l2 = 1e-4f, shrink = 0.999f, rbc2 = 1.3f;
    size_t done = nn_adam_vec(w, m, v, g, N, step, l2, shrink, 0.9f, 0.999f, 1e-8f, rbc2);
    cr_assert(done == 0 || done == N / 8 * 8, "took %zu of %d", done, N);
    for (size_t i = 0; i < N; i++) {
        float wi = w2[i] * shrink;
        nn_adam_update(&wi, &m2[i], &v2[i], g[i] + l2 * wi, step, 0.9f, 0.999f, 1e-8f, rbc2);
        w2[i] = wi;
    }
    for (size_t i = 0; i < done; i++) {
        cr_assert_eq(memcmp(&w[i], &w2[i], 4), 0, "w[%zu] %.9g vs %.9g", i, w[i], w2[i]);
        cr_assert_eq(memcmp(&m[i], &m2[i], 4), 0, "m[%zu]", i);
        cr_assert_eq(memcmp(&v[i], &v2[i], 4), 0, "v[%zu]", i);
    }
}
