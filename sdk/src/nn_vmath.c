/* Eight-wide (AVX2) versions of the nn kit's two hottest element loops, used
 * when the CPU has AVX2 and FMA (checked once at run time; the build itself
 * targets baseline x86-64, so the same binary runs everywhere).
 *
 * - BCE-with-logits: a VAE epoch evaluates 47 M terms, each an exp and a
 *   log in glibc (~10 ns a term, a tenth of the 2-thread epoch). Here
 *   e = exp(−|z|) is Cephes' expf scheme (Cody–Waite reduction by ln 2, a
 *   degree-5 polynomial, the exponent put back by integer add) and
 *   log(1 + e) = 2·atanh(s), s = e/(2 + e) ∈ [0, 1/3], as the series
 *   2s(1 + s²/3 + … + s¹⁴/15): every term is below 2e-9 relative past that.
 *   Terms are summed in double, lane by lane, then the lanes in a fixed
 *   order, so a block's sum does not depend on where threads cut.
 * - Adam: the same operations as the SSE loop in nn_optim.c (no fused
 *   multiply-add), so the two give the same bits; AVX only doubles the
 *   width of the square roots and divisions that bound it.
 */
#include "nn_vmath.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdint.h>

static int have_avx2_fma(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

/* exp(x) for x <= 0 (x >= −87.3 keeps the result a normal float; below, 0). */
__attribute__((target("avx2,fma"))) static inline __m256 exp_nonpos(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 r2 = _mm256_mul_ps(r, r);
    p = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, p);
}

__attribute__((target("avx2,fma"))) static size_t bce_avx2(const float *z, const float *t, float *g,
                                                           float gs, size_t n, double *sum) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), zero = _mm256_setzero_ps();
    const __m256 sign = _mm256_set1_ps(-0.0f), vgs = _mm256_set1_ps(gs);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 zi = _mm256_loadu_ps(z + i), ti = _mm256_loadu_ps(t + i);
        __m256 e = exp_nonpos(_mm256_or_ps(zi, sign)); /* exp(−|z|) */
        __m256 s = _mm256_div_ps(e, _mm256_add_ps(two, e));
        __m256 s2 = _mm256_mul_ps(s, s);
        __m256 q = _mm256_set1_ps(1.0f / 15.0f);
        q = _mm256_fmadd_ps(q, s2, _mm256_set1_ps(1.0f / 13.0f));
        q = _mm256_fmadd_ps(q, s2, _mm256_set1_ps(1.0f / 11.0f));
        q = _mm256_fmadd_ps(q, s2, _mm256_set1_ps(1.0f / 9.0f));
        q = _mm256_fmadd_ps(q, s2, _mm256_set1_ps(1.0f / 7.0f));
        q = _mm256_fmadd_ps(q, s2, _mm256_set1_ps(1.0f / 5.0f));
        q = _mm256_fmadd_ps(q, s2, _mm256_set1_ps(1.0f / 3.0f));
        q = _mm256_fmadd_ps(q, s2, one);
        __m256 l = _mm256_mul_ps(_mm256_add_ps(s, s), q); /* log(1 + e) */
        /* max(z, 0) − z·t + log(1 + e) */
        __m256 term = _mm256_add_ps(_mm256_fnmadd_ps(zi, ti, _mm256_max_ps(zi, zero)), l);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(term)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(term, 1)));
        if (g) {
            /* sigmoid(z): 1/(1+e) for z >= 0, e/(1+e) below */
            __m256 inv = _mm256_div_ps(one, _mm256_add_ps(one, e));
            __m256 neg = _mm256_cmp_ps(zi, zero, _CMP_LT_OQ);
            __m256 sg = _mm256_blendv_ps(inv, _mm256_mul_ps(e, inv), neg);
            _mm256_storeu_ps(g + i, _mm256_mul_ps(vgs, _mm256_sub_ps(sg, ti)));
        }
    }
    double a[8];
    _mm256_storeu_pd(a, acc0);
    _mm256_storeu_pd(a + 4, acc1);
    double s = 0.0;
    for (int k = 0; k < 8; k++)
        s += a[k];
    *sum = s;
    return i;
}

size_t nn_bce_logits_vec(const float *z, const float *t, float *g, float gs, size_t n,
                         double *sum) {
    *sum = 0.0;
    return have_avx2_fma() ? bce_avx2(z, t, g, gs, n, sum) : 0;
}

__attribute__((target("avx"))) static size_t adam_avx(float *w, float *m, float *v, const float *g,
                                                      size_t n, float step, float l2, float shrink,
                                                      float b1, float b2, float eps, float rbc2) {
    const __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), c1 = _mm256_set1_ps(1.0f - b1),
                 c2 = _mm256_set1_ps(1.0f - b2), veps = _mm256_set1_ps(eps),
                 vstep = _mm256_set1_ps(step), vrbc2 = _mm256_set1_ps(rbc2),
                 vl2 = _mm256_set1_ps(l2), vshr = _mm256_set1_ps(shrink);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wi = _mm256_mul_ps(_mm256_loadu_ps(w + i), vshr);
        __m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(vl2, wi));
        __m256 mi =
            _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 den = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), vrbc2), veps);
        _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, _mm256_mul_ps(vstep, _mm256_div_ps(mi, den))));
    }
    return i;
}

size_t nn_adam_vec(float *w, float *m, float *v, const float *g, size_t n, float step, float l2,
                   float shrink, float b1, float b2, float eps, float rbc2) {
    return have_avx2_fma() ? adam_avx(w, m, v, g, n, step, l2, shrink, b1, b2, eps, rbc2) : 0;
}

#else /* no x86-64 vector path: the callers' scalar/SSE loops do all of it */

size_t nn_bce_logits_vec(const float *z, const float *t, float *g, float gs, size_t n,
                         double *sum) {
    (void)z, (void)t, (void)g, (void)gs, (void)n;
    *sum = 0.0;
    return 0;
}

size_t nn_adam_vec(float *w, float *m, float *v, const float *g, size_t n, float step, float l2,
                   float shrink, float b1, float b2, float eps, float rbc2) {
    (void)w, (void)m, (void)v, (void)g, (void)n, (void)step, (void)l2, (void)shrink, (void)b1,
        (void)b2, (void)eps, (void)rbc2;
    return 0;
}

#endif
