/* Kymatio's Scattering2D filter bank, rebuilt in double precision.
 *
 * Each filter is drawn in space on the padded Mp×Np grid and summed over
 * 5×5 periods (Kymatio's gabor_2d), transformed by a separable DFT in double
 * (O(MN(M+N)): a few milliseconds for 28×28 images, done once per shape), and
 * only the real part of the spectrum is kept (the filters are symmetric, so
 * the imaginary part is rounding noise). The coarser resolutions of a filter
 * are its spectrum masked to |frequency| < M/2^(res+1) and folded, exactly
 * as Kymatio's periodize_filter_fft. Kymatio's quirks are kept on purpose so
 * that results agree with it: the normalisation uses the constant 3.1415,
 * and the rotation matrix is rounded to f32 before the quadratic form.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scatter.h"

int64_t scat_channels(int J, int L) {
    return 1 + (int64_t)J * L + (int64_t)L * L * J * (J - 1) / 2;
}

int scat_psi_levels(int j, int J) {
    int cap = J - 1 > 1 ? J - 1 : 1;
    return j + 1 < cap ? j + 1 : cap;
}

int64_t scat_padded(int64_t n, int J) {
    int64_t p = (int64_t)1 << J;
    return ((n + p) / p + 1) * p;
}

/* Kymatio's gabor_2d: complex (M, N) as interleaved re/im doubles. */
static void gabor(int64_t M, int64_t N, double sigma, double theta, double xi, double slant,
                  double *out) {
    float ct = (float)cos(theta), st = (float)sin(theta); /* Kymatio's f32 R */
    double R[2][2] = {{ct, -st}, {st, ct}}, Ri[2][2] = {{ct, st}, {-st, ct}};
    double D[2] = {1.0, slant * slant}, curv[2][2];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            double s = 0;
            for (int k = 0; k < 2; k++)
                s += R[a][k] * D[k] * Ri[k][b];
            curv[a][b] = s / (2 * sigma * sigma);
        }
    double cxi = cos(theta) * xi, sxi = sin(theta) * xi;
    double norm = 2 * 3.1415 * sigma * sigma / slant;
    for (int64_t r = 0; r < M; r++)
        for (int64_t c = 0; c < N; c++) {
            double re = 0, im = 0;
            for (int ex = -2; ex <= 2; ex++)
                for (int ey = -2; ey <= 2; ey++) {
                    double x = (double)(r + ex * M), y = (double)(c + ey * N);
                    double q =
                        curv[0][0] * x * x + (curv[0][1] + curv[1][0]) * x * y + curv[1][1] * y * y;
                    if (q > 60) continue; /* e^-60 ≈ 1e-26: below double rounding */
                    double e = exp(-q), ph = x * cxi + y * sxi;
                    re += e * cos(ph);
                    im += e * sin(ph);
                }
            out[2 * (r * N + c)] = re / norm;
            out[2 * (r * N + c) + 1] = im / norm;
        }
}

/* In-place 2-D DFT (forward, unnormalised) of a complex (M, N) array by rows
 * then columns; `tmp` holds 4·max(M, N) doubles (a line and its twiddles). */
static void dft2(int64_t M, int64_t N, double *z, double *tmp) {
    for (int pass = 0; pass < 2; pass++) {
        int64_t n = pass ? M : N, count = pass ? N : M;
        int64_t step = pass ? N : 1, next = pass ? 1 : N;
        double *tw = tmp + 2 * n;
        for (int64_t k = 0; k < n; k++) {
            tw[2 * k] = cos(-2 * M_PI * (double)k / (double)n);
            tw[2 * k + 1] = sin(-2 * M_PI * (double)k / (double)n);
        }
        for (int64_t l = 0; l < count; l++) {
            double *v = z + 2 * l * next;
            for (int64_t k = 0; k < n; k++) {
                double re = 0, im = 0;
                for (int64_t t = 0; t < n; t++) {
                    int64_t w = (k * t) % n;
                    double c = tw[2 * w], s = tw[2 * w + 1];
                    double xr = v[2 * t * step], xi = v[2 * t * step + 1];
                    re += xr * c - xi * s;
                    im += xr * s + xi * c;
                }
                tmp[2 * k] = re;
                tmp[2 * k + 1] = im;
            }
            for (int64_t k = 0; k < n; k++) {
                v[2 * k * step] = tmp[2 * k];
                v[2 * k * step + 1] = tmp[2 * k + 1];
            }
        }
    }
}

/* Kymatio's periodize_filter_fft of the real spectrum f (M, N) at `res`. */
static float *periodize(const double *f, int64_t M, int64_t N, int res) {
    int64_t k = (int64_t)1 << res, m = M / k, n = N / k;
    float *out = malloc((size_t)(m * n) * sizeof *out);
    if (!out) return NULL;
    int64_t sx = (int64_t)((double)M * pow(2.0, -res - 1)),
            lx = (int64_t)((double)M * (1 - pow(2.0, -res)));
    int64_t sy = (int64_t)((double)N * pow(2.0, -res - 1)),
            ly = (int64_t)((double)N * (1 - pow(2.0, -res)));
    for (int64_t a = 0; a < m; a++)
        for (int64_t b = 0; b < n; b++) {
            double s = 0;
            for (int64_t i = 0; i < k; i++)
                for (int64_t j = 0; j < k; j++) {
                    int64_t r = a + i * m, c = b + j * n;
                    bool masked = (r >= sx && r < sx + lx) || (c >= sy && c < sy + ly);
                    if (!masked) s += f[r * N + c];
                }
            out[a * n + b] = (float)s;
        }
    return out;
}

/* Real part of the spectrum of a complex spatial filter z (overwritten). */
static void real_spectrum(int64_t M, int64_t N, double *z, double *tmp, double *re) {
    dft2(M, N, z, tmp);
    for (int64_t i = 0; i < M * N; i++)
        re[i] = z[2 * i];
}

void scat_bank_free(scat_bank *b) {
    if (!b) return;
    for (int n = 0; n < SCAT_MAX_J * SCAT_MAX_L; n++)
        for (int r = 0; r < SCAT_MAX_J; r++)
            free(b->psi[n][r]);
    for (int r = 0; r < SCAT_MAX_J; r++)
        free(b->phi[r]);
    free(b);
}

nota_status scat_bank_new(int64_t H, int64_t W, int J, int L, scat_bank **out) {
    *out = NULL;
    if (J < 1 || J > SCAT_MAX_J)
        return nota_error(NOTA_EINVAL, "scatter: J = %d is outside 1..%d", J, SCAT_MAX_J);
    if (L < 1 || L > SCAT_MAX_L)
        return nota_error(NOTA_EINVAL, "scatter: L = %d is outside 1..%d", L, SCAT_MAX_L);
    if (H < ((int64_t)1 << J) || W < ((int64_t)1 << J) || H > 4096 || W > 4096)
        return nota_error(NOTA_EINVAL,
                          "scatter: images of %lld×%lld cannot be scattered with J = %d (each "
                          "side must be in %d..4096)",
                          (long long)H, (long long)W, J, 1 << J);
    scat_bank *b = calloc(1, sizeof *b);
    if (!b) return nota_error(NOTA_ENOMEM, "scatter: filter bank allocation failed");
    b->H = H, b->W = W, b->J = J, b->L = L;
    b->Mp = scat_padded(H, J), b->Np = scat_padded(W, J);
    b->pad_top = (b->Mp - H) / 2, b->pad_left = (b->Np - W) / 2;
    int64_t M = b->Mp, N = b->Np, MN = M * N;
    double *z = malloc((size_t)MN * 2 * sizeof *z), *env = malloc((size_t)MN * 2 * sizeof *env);
    double *re = malloc((size_t)MN * sizeof *re);
    double *tmp = malloc((size_t)(M > N ? M : N) * 4 * sizeof *tmp);
    bool ok = z && env && re && tmp;
    for (int j = 0; ok && j < J; j++)
        for (int t = 0; ok && t < L; t++) {
            /* Morlet: Gabor minus K times its envelope, K making the sum 0. */
            double sigma = 0.8 * pow(2.0, j), slant = 4.0 / L;
            double theta = (double)((int)(L - L / 2.0 - 1) - t) * M_PI / L;
            double xi = 3.0 / 4.0 * M_PI / pow(2.0, j);
            gabor(M, N, sigma, theta, xi, slant, z);
            gabor(M, N, sigma, theta, 0.0, slant, env);
            double sr = 0, si = 0, er = 0, ei = 0;
            for (int64_t i = 0; i < MN; i++) {
                sr += z[2 * i], si += z[2 * i + 1];
                er += env[2 * i], ei += env[2 * i + 1];
            }
            double den = er * er + ei * ei;
            double kr = (sr * er + si * ei) / den, ki = (si * er - sr * ei) / den;
            for (int64_t i = 0; i < MN; i++) {
                double a = env[2 * i], c = env[2 * i + 1];
                z[2 * i] -= kr * a - ki * c;
                z[2 * i + 1] -= kr * c + ki * a;
            }
            real_spectrum(M, N, z, tmp, re);
            for (int r = 0; ok && r < scat_psi_levels(j, J); r++)
                ok = (b->psi[j * L + t][r] = periodize(re, M, N, r)) != NULL;
        }
    if (ok) {
        gabor(M, N, 0.8 * pow(2.0, J - 1), 0.0, 0.0, 1.0, z);
        real_spectrum(M, N, z, tmp, re);
        for (int r = 0; ok && r < J; r++)
            ok = (b->phi[r] = periodize(re, M, N, r)) != NULL;
    }
    free(z), free(env), free(re), free(tmp);
    if (!ok) {
        scat_bank_free(b);
        return nota_error(NOTA_ENOMEM, "scatter: filter bank allocation failed (%lld×%lld)",
                          (long long)M, (long long)N);
    }
    *out = b;
    return NOTA_OK;
}
