/* flow direction search: PCA recovers the principal axes, and orthogonal
 * FastICA and the max-sliced-Wasserstein search recover the unmixing
 * rotation of independent non-Gaussian sources (up to order and sign),
 * returning an orthogonal matrix; asked for one patch position, each looks
 * at that position's rows only. A full layer with few active rows applied
 * as a low-rank update gives the same values and log-determinants as
 * Rᵀ S(R x), and inverts. The
 * plugin's sources are compiled in directly (they are internal to the .so). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/flow/ar.c"
#include "../../plugins/flow/arblend.c"
#include "../../plugins/flow/arcell.c"
#include "../../plugins/flow/arnet.c"
#include "../../plugins/flow/directions.c"
#include "../../plugins/flow/layers.c"
#include "../../plugins/flow/parallel.c"
#include "../../plugins/flow/poly.c"
#include "../../plugins/flow/spline.c"
#include "../../plugins/flow/swd.c"
#include "../../plugins/flow/transform.c"

#define N 20000

/* Batch of D = 2 rows: x = A s, A a rotation by `deg`, s independent. */
static flow_batch mixed(double deg, bool uniform_sources, double s0, double s1) {
    flow_batch b;
    cr_assert_eq(flow_batch_new(2, N, false, 1, &b), NOTA_OK);
    float *u = malloc(2 * N * sizeof *u);
    if (uniform_sources)
        nota_rng_fill_uniform(3, 1, u, 2 * N);
    else
        nota_rng_fill_normal(3, 1, u, 2 * N);
    double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
    for (int i = 0; i < N; i++) {
        double a = s0 * (uniform_sources ? (u[2 * i] - 0.5) * sqrt(12.0) : u[2 * i]);
        double bb = s1 * (uniform_sources ? (u[2 * i + 1] - 0.5) * sqrt(12.0) : u[2 * i + 1]);
        b.a[i] = (float)(c * a - s * bb);
        b.a[N + i] = (float)(s * a + c * bb);
    }
    free(u);
    return b;
}

/* |W A| must be a permutation matrix within tol; W orthogonal. */
static void assert_unmixes(const float *W, double deg, double tol) {
    double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
    double A[4] = {c, -s, s, c}, M[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            M[i * 2 + j] = W[i * 2] * A[j] + W[i * 2 + 1] * A[2 + j];
    bool diag = fabs(fabs(M[0]) - 1) < tol && fabs(M[1]) < tol && fabs(M[2]) < tol &&
                fabs(fabs(M[3]) - 1) < tol;
    bool anti = fabs(M[0]) < tol && fabs(fabs(M[1]) - 1) < tol && fabs(fabs(M[2]) - 1) < tol &&
                fabs(M[3]) < tol;
    cr_assert(diag || anti, "W A = [%g %g; %g %g]", M[0], M[1], M[2], M[3]);
    cr_assert_float_eq(W[0] * W[0] + W[1] * W[1], 1.0, 1e-5);
    cr_assert_float_eq(W[0] * W[2] + W[1] * W[3], 0.0, 1e-5);
}

Test(flow_directions, ica_unmixes_rotated_uniform_sources) {
    flow_batch b = mixed(30, true, 1, 1);
    float W[4];
    cr_assert_eq(flow_ica_rotation(&b, 2, -1, N, 50, 7, 1, W), NOTA_OK, "%s", nota_last_error());
    assert_unmixes(W, 30, 0.03);
    flow_batch_free(&b);
}

Test(flow_directions, pca_finds_the_principal_axes) {
    flow_batch b = mixed(-50, false, 2, 0.5);
    float W[4];
    cr_assert_eq(flow_pca_rotation(&b, 2, -1, W), NOTA_OK, "%s", nota_last_error());
    assert_unmixes(W, -50, 0.02);
    flow_batch_free(&b);
}

Test(flow_directions, swd_unmixes_rotated_uniform_sources) {
    flow_batch b = mixed(30, true, 1, 1);
    float W[4];
    cr_assert_eq(flow_swd_rotation(&b, 2, -1, 16384, 30, 7, 1, W), NOTA_OK, "%s",
                 nota_last_error());
    assert_unmixes(W, 30, 0.03);
    flow_batch_free(&b);
}

/* D = 4 rows as Q = 2 blocks of P = 2 (row i·Q + q = element i of block q):
 * block 0 uniform sources rotated by 30°, block 1 anisotropic Gaussian
 * rotated by -50°. */
Test(flow_directions, one_position_uses_its_own_rows) {
    flow_batch u = mixed(30, true, 1, 1), g = mixed(-50, false, 2, 0.5), b;
    cr_assert_eq(flow_batch_new(4, N, false, 1, &b), NOTA_OK);
    memcpy(b.a + 0 * N, u.a, N * sizeof(float));
    memcpy(b.a + 2 * N, u.a + N, N * sizeof(float));
    memcpy(b.a + 1 * N, g.a, N * sizeof(float));
    memcpy(b.a + 3 * N, g.a + N, N * sizeof(float));
    float W[4];
    cr_assert_eq(flow_pca_rotation(&b, 2, 1, W), NOTA_OK, "%s", nota_last_error());
    assert_unmixes(W, -50, 0.02);
    cr_assert_eq(flow_ica_rotation(&b, 2, 0, N, 50, 7, 1, W), NOTA_OK, "%s", nota_last_error());
    assert_unmixes(W, 30, 0.03);
    cr_assert_eq(flow_swd_rotation(&b, 2, 0, 16384, 30, 7, 1, W), NOTA_OK, "%s", nota_last_error());
    assert_unmixes(W, 30, 0.03);
    flow_batch_free(&u);
    flow_batch_free(&g);
    flow_batch_free(&b);
}

/* D = 6 vectors, one full layer: a random rotation, splines fitted to the
 * rotated rows, rows 1 and 4 active. Applied as Rᵀ S(R x) and as the
 * low-rank update over rows {1, 4}: same values and log-determinants. */
Test(flow_directions, low_rank_layer_matches_the_full_rotation_and_inverts) {
    enum { D = 6, K = 16, M = 4000 };
    flow f;
    memset(&f, 0, sizeof f);
    f.D = D;
    f.K = K;
    f.S = 3 * K;
    f.o.marginal = MARG_SPLINE;
    flow_layer l;
    memset(&l, 0, sizeof l);
    l.P = D;
    l.nrot = 1;
    l.rot = malloc(D * D * sizeof(float));
    l.knots = calloc(D * 3 * K, sizeof(float));
    l.active = calloc(D, 1);
    cr_assert_eq(nota_random_orthogonal(D, 5, 9, l.rot), NOTA_OK);
    flow_batch x, y;
    cr_assert_eq(flow_batch_new(D, M, true, 2, &x), NOTA_OK);
    cr_assert_eq(flow_batch_new(D, M, true, 2, &y), NOTA_OK);
    nota_rng_fill_normal(4, 2, x.a, D * M);
    for (int64_t i = 0; i < D * M; i++) /* skewed, so the splines bend */
        x.a[i] = expf(0.6f * x.a[i]) - 1.0f;
    memcpy(y.a, x.a, D * M * sizeof(float));
    /* fit splines to rows 1 and 4 of R x */
    flow_batch r;
    cr_assert_eq(flow_batch_new(D, M, false, 1, &r), NOTA_OK);
    memcpy(r.a, x.a, D * M * sizeof(float));
    flow_batch_rotate(&r, l.rot, D, 1, false);
    spline_work w;
    cr_assert_eq(spline_work_init(&w, 1024), 0);
    spline_opts so = {K, 1024, 0.9, 1.0};
    for (int row = 1; row < D; row += 3) {
        cr_assert_eq(spline_fit(r.a + row * M, M, &so, &w, l.knots + row * 3 * K), 0);
        l.active[row] = 1;
    }
    spline_work_free(&w);
    flow_batch_free(&r);
    flow_layer_fwd(&f, &l, &x); /* n_act = 0: Rᵀ S(R x) */
    cr_assert_eq(flow_layer_compact(&l), NOTA_OK);
    cr_assert_eq(l.n_act, 2);
    cr_assert(l.act[0] == 1 && l.act[1] == 4);
    flow_layer_fwd(&f, &l, &y); /* low-rank */
    double dx = 0, dl = 0, moved = 0;
    for (int64_t i = 0; i < D * M; i++)
        dx = fmax(dx, fabs((double)x.a[i] - y.a[i]));
    for (int64_t i = 0; i < M; i++) {
        dl = fmax(dl, fabs(x.logdet[i] - y.logdet[i]));
        moved = fmax(moved, fabs(y.logdet[i]));
    }
    cr_assert_lt(dx, 1e-5, "values differ by %g", dx);
    cr_assert_lt(dl, 1e-5, "log-determinants differ by %g", dl);
    cr_assert_gt(moved, 0.1, "the splines bend (largest |log det| %g)", moved);
    /* and back: the low-rank inverse returns the inputs, log-det to 0 */
    nota_rng_fill_normal(4, 2, x.a, D * M);
    for (int64_t i = 0; i < D * M; i++)
        x.a[i] = expf(0.6f * x.a[i]) - 1.0f;
    flow_layer_inv(&f, &l, &y);
    double back = 0, ld0 = 0;
    for (int64_t i = 0; i < D * M; i++)
        back = fmax(back, fabs((double)x.a[i] - y.a[i]));
    for (int64_t i = 0; i < M; i++)
        ld0 = fmax(ld0, fabs(y.logdet[i]));
    cr_assert_lt(back, 1e-4, "inverse off by %g", back);
    cr_assert_lt(ld0, 1e-4, "log-det after forward and inverse %g", ld0);
    flow_layer_free(&l);
    flow_batch_free(&x);
    flow_batch_free(&y);
}
