/* scatter filter bank (plugins/scatter/filters.c, compiled into this test):
 * the properties of Kymatio's Scattering2D filters that the transform's
 * correctness rests on. Measured values, and why they are what they are:
 *  - Littlewood–Paley sum A(ω) = φ̂(ω)² + ½ Σ_{j,θ} (ψ̂(ω)² + ψ̂(−ω)²) lies in
 *    [0.123, 1.019] for J = 2..3, L = 8 (bounded above near 1: each layer is
 *    non-expansive; not a tight frame: the lowest values sit at the highest
 *    frequencies, which the finest Morlet (ξ = 3π/4) only partly covers).
 *  - φ̂(0) = 2π / (2·3.1415) = 1.0000295: the low-pass sums to 1 up to
 *    Kymatio's 3.1415 in its normalisation, kept for agreement with Kymatio.
 *  - ψ̂(0) = 0 to rounding (Morlets have zero mean), at every resolution. */
#include <math.h>

#include "../../plugins/scatter/filters.c"
#include <criterion/criterion.h>

static scat_bank *bank(int64_t H, int64_t W, int J, int L) {
    scat_bank *b;
    cr_assert_eq(scat_bank_new(H, W, J, L, &b), NOTA_OK, "%s", nota_last_error());
    return b;
}

/* A(ω) over the level-0 grid; ψ̂(−ω) is the entry at ((M−u) mod M, (N−v) mod N). */
static void lp_range(const scat_bank *b, double *lo, double *hi) {
    int64_t M = b->Mp, N = b->Np;
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t u = 0; u < M; u++)
        for (int64_t v = 0; v < N; v++) {
            double a = (double)b->phi[0][u * N + v] * b->phi[0][u * N + v];
            int64_t mu = ((M - u) % M) * N + (N - v) % N;
            for (int n = 0; n < b->J * b->L; n++) {
                double p = b->psi[n][0][u * N + v], q = b->psi[n][0][mu];
                a += 0.5 * (p * p + q * q);
            }
            if (a < *lo) *lo = a;
            if (a > *hi) *hi = a;
        }
}

Test(scatter_filters, littlewood_paley_sum_is_bounded) {
    const int cases[][3] = {{28, 2, 8}, {32, 3, 8}, {20, 2, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scat_bank *b = bank(cases[i][0], cases[i][0], cases[i][1], cases[i][2]);
        double lo, hi;
        lp_range(b, &lo, &hi);
        cr_assert(lo > 0.1 && hi < 1.05, "M=%d J=%d L=%d: A in [%g, %g]", cases[i][0], cases[i][1],
                  cases[i][2], lo, hi);
        scat_bank_free(b);
    }
}

Test(scatter_filters, low_pass_sums_to_one_and_band_passes_to_zero) {
    scat_bank *b = bank(28, 24, 3, 6);
    const double dc = M_PI / 3.1415; /* 1.0000295: Kymatio's normalisation */
    for (int r = 0; r < b->J; r++)
        cr_assert_float_eq(b->phi[r][0], dc, 1e-6, "phi level %d: %.9g", r, b->phi[r][0]);
    for (int n = 0; n < b->J * b->L; n++)
        for (int r = 0; r < scat_psi_levels(n / b->L, b->J); r++)
            cr_assert(fabsf(b->psi[n][r][0]) < 1e-6f, "psi %d level %d at 0: %g", n, r,
                      b->psi[n][r][0]);
    scat_bank_free(b);
}

/* Each Morlet peaks near its centre frequency ξ_j (cos θ, sin θ) on the
 * level-0 grid (rows = first coordinate, as Kymatio's mgrid). */
Test(scatter_filters, morlets_peak_at_their_centre_frequency) {
    scat_bank *b = bank(32, 32, 2, 8);
    int64_t M = b->Mp;
    for (int j = 0; j < 2; j++)
        for (int t = 0; t < 8; t++) {
            const float *f = b->psi[j * 8 + t][0];
            int64_t best = 0;
            for (int64_t i = 1; i < M * M; i++)
                if (f[i] > f[best]) best = i;
            double th = (double)((int)(8 - 8 / 2.0 - 1) - t) * M_PI / 8,
                   xi = 0.75 * M_PI / (1 << j);
            double u = xi * cos(th) * (double)M / (2 * M_PI),
                   v = xi * sin(th) * (double)M / (2 * M_PI);
            double bu = (double)(best / M), bv = (double)(best % M);
            if (bu > M / 2.0) bu -= (double)M;
            if (bv > M / 2.0) bv -= (double)M;
            cr_assert(fabs(bu - u) <= 1.5 && fabs(bv - v) <= 1.5,
                      "psi j=%d t=%d peaks at (%g, %g), centre (%g, %g)", j, t, bu, bv, u, v);
        }
    scat_bank_free(b);
}

Test(scatter_filters, geometry_follows_kymatio) {
    cr_assert_eq(scat_padded(28, 2), 36);
    cr_assert_eq(scat_padded(32, 3), 48);
    cr_assert_eq(scat_channels(2, 8), 81);
    cr_assert_eq(scat_channels(3, 4), 61);
    cr_assert_eq(scat_psi_levels(0, 3), 1);
    cr_assert_eq(scat_psi_levels(2, 3), 2);
    cr_assert_eq(scat_psi_levels(0, 1), 1);
    scat_bank *b = bank(28, 20, 2, 8);
    cr_assert_eq(b->Mp, 36);
    cr_assert_eq(b->Np, 28);
    cr_assert_eq(b->pad_top, 4);
    cr_assert_eq(b->pad_left, 4);
    scat_bank_free(b);
}

Test(scatter_filters, bad_geometry_is_refused) {
    scat_bank *b = (scat_bank *)1;
    cr_assert_eq(scat_bank_new(3, 8, 2, 8, &b), NOTA_EINVAL);
    cr_assert_null(b);
    cr_assert_str_eq(nota_last_error(), "scatter: images of 3×8 cannot be scattered with J = 2 "
                                        "(each side must be in 4..4096)");
    cr_assert_eq(scat_bank_new(8, 8, 0, 8, &b), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "scatter: J = 0 is outside 1..8");
    cr_assert_eq(scat_bank_new(8, 8, 1, 33, &b), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "scatter: L = 33 is outside 1..32");
}
