/* Who owns the cores: libnota's thread count, and GEMMs split over its pool.
 *
 * OpenBLAS threads every large GEMM itself, but for the batch-128 layer
 * shapes of the nn kit its 2-thread sgemm reached only ~0.57 of the 2-thread
 * peak, and its workers keep spinning (sched_yield) for a while after each
 * call — on the very cores that nota_par_for's workers need for the
 * element-wise work between GEMMs (a fifth of a VAE epoch's samples were
 * spent in sched_yield). So libnota keeps OpenBLAS at ONE thread and spreads
 * each large GEMM itself: C is cut into column (or row) blocks, one per pool
 * worker, and each block is an ordinary single-threaded cblas_?gemm over the
 * full inner dimension. Every element of C is then computed by the same
 * kernel over the same k-blocking whatever the cut, so the result is the same
 * bits for any thread count (tests/sdk/test_linalg.c checks this).
 *
 * SYRK (A^T A) is cut the same way, into column blocks of C's upper
 * triangle sized for equal work. LAPACK calls on matrices below
 * NOTA_LAPACK_WIDE_N stay on one thread: two OpenBLAS threads saved ~0.02 s
 * on a 784×784 eigendecomposition (a flow layer's), and then spun for
 * ~0.1 s on the cores the pool needed. Larger ones (the scattering PCA's
 * 3969×3969: 7.9 s on one thread, 4.3 s on two) get OpenBLAS's threads for
 * their duration ("wide" sections, counted so that overlapping callers nest).
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "linalg_threads.h"
#include "nota/linalg.h"
#include "parallel.h"

/* OpenBLAS's own choice (OPENBLAS_NUM_THREADS or the core count), captured
 * before nota first changes it, so that nota_set_threads(0) restores it. */
static int default_threads;
static atomic_int nota_threads;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_threads(void) {
    default_threads = openblas_get_num_threads();
    if (default_threads < 1) default_threads = 1;
    atomic_store(&nota_threads, default_threads);
    openblas_set_num_threads(1);
}

void nota_blas_init(void) { pthread_once(&init_once, init_threads); }

void nota_set_threads(int n) {
    nota_blas_init();
    atomic_store(&nota_threads, n > 0 ? n : default_threads);
}

int nota_get_threads(void) {
    nota_blas_init();
    return atomic_load(&nota_threads);
}

static pthread_mutex_t wide_mu = PTHREAD_MUTEX_INITIALIZER;
static int wide_depth;

bool nota_blas_wide_begin(int64_t n) {
    if (n < NOTA_LAPACK_WIDE_N) return false;
    nota_blas_init();
    pthread_mutex_lock(&wide_mu);
    if (wide_depth++ == 0) openblas_set_num_threads(atomic_load(&nota_threads));
    pthread_mutex_unlock(&wide_mu);
    return true;
}

void nota_blas_wide_end(bool began) {
    if (!began) return;
    pthread_mutex_lock(&wide_mu);
    if (--wide_depth == 0) openblas_set_num_threads(1);
    pthread_mutex_unlock(&wide_mu);
}

/* Below this many multiply-adds a GEMM runs whole on the caller: a block of
 * ~1 M MACs is ~10 µs of work, about what waking a worker costs. */
#define SPLIT_MIN_MACS (1 << 21)
/* Blocks are at least this many rows/columns (also keeps the kernels' own
 * tile widths busy). */
#define SPLIT_GRAIN 32
#define SYRK_MAX_PARTS 64

typedef struct gemm_job {
    bool ta, tb, f64, by_rows;
    int64_t m, n, k, lda, ldb, ldc;
    double alpha, beta;
    const void *a, *b;
    void *c;
} gemm_job;

static void gemm_block(const gemm_job *g, int64_t m, int64_t n, const void *a, const void *b,
                       void *c) {
    enum CBLAS_TRANSPOSE ta = g->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = g->tb ? CblasTrans : CblasNoTrans;
    if (g->f64)
        cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)g->k, g->alpha, a,
                    (blasint)g->lda, b, (blasint)g->ldb, g->beta, c, (blasint)g->ldc);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)g->k, (float)g->alpha,
                    a, (blasint)g->lda, b, (blasint)g->ldb, (float)g->beta, c, (blasint)g->ldc);
}

/* Rows [r0, r1) of C need rows r0.. of op(A): for A^T those are columns. */
static void gemm_part(void *ctx, size_t lo, size_t hi) {
    const gemm_job *g = ctx;
    size_t es = g->f64 ? sizeof(double) : sizeof(float);
    int64_t i0 = (int64_t)lo, len = (int64_t)(hi - lo);
    const char *a = g->a, *b = g->b;
    char *c = g->c;
    if (g->by_rows) {
        const char *ap = a + (size_t)(g->ta ? i0 : i0 * g->lda) * es;
        gemm_block(g, len, g->n, ap, b, c + (size_t)(i0 * g->ldc) * es);
    } else {
        const char *bp = b + (size_t)(g->tb ? i0 * g->ldb : i0) * es;
        gemm_block(g, g->m, len, a, bp, c + (size_t)i0 * es);
    }
}

void nota_gemm_split(bool f64, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                     double beta, void *c, int64_t ldc) {
    nota_blas_init();
    gemm_job g = {trans_a, trans_b, f64, m > n, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
    /* Cut the longer side of C: the other operand, packed whole by every
     * block, is then the smaller one. */
    int64_t len = g.by_rows ? m : n;
    if (atomic_load(&nota_threads) < 2 || (double)m * (double)n * (double)k < SPLIT_MIN_MACS ||
        len < 2 * SPLIT_GRAIN) {
        g.by_rows = false;
        gemm_part(&g, 0, (size_t)n);
        return;
    }
    nota_par_for((size_t)len, SPLIT_GRAIN, gemm_part, &g);
}

/* Column bounds b[0] = 0 < b[1] < … < b[parts] = n of C's upper triangle such
 * that every block's rectangle C[0:b[p+1], b[p]:b[p+1]] has about the same
 * area (work): bisection on that area. */
static void syrk_bounds(int64_t n, int parts, int64_t *b) {
    double lo = 0, hi = (double)n * (double)n;
    for (int it = 0; it < 60; it++) {
        double k = 0.5 * (lo + hi), s = 0;
        for (int p = 0; p < parts && s < (double)n; p++)
            s = 0.5 * (s + sqrt(s * s + 4 * k)); /* s'(s' − s) = k */
        if (s >= (double)n)
            hi = k;
        else
            lo = k;
    }
    double s = 0;
    b[0] = 0;
    for (int p = 1; p < parts; p++) {
        s = 0.5 * (s + sqrt(s * s + 4 * hi));
        int64_t v = (int64_t)llround(s);
        b[p] = v < b[p - 1] ? b[p - 1] : v > n ? n : v;
    }
    b[parts] = n;
}

typedef struct syrk_job {
    gemm_job g; /* a, lda, alpha, beta, c, ldc; m/n per block */
    const int64_t *bounds;
} syrk_job;

static void syrk_part(void *ctx, size_t lo, size_t hi) {
    const syrk_job *j = ctx;
    size_t es = j->g.f64 ? sizeof(double) : sizeof(float);
    for (size_t p = lo; p < hi; p++) {
        int64_t c0 = j->bounds[p], c1 = j->bounds[p + 1];
        if (c1 <= c0) continue;
        /* C[0:c1, c0:c1] = alpha · A[:, 0:c1]^T A[:, c0:c1] + beta · C[...] */
        const char *b = (const char *)j->g.a + (size_t)c0 * es;
        gemm_block(&j->g, c1, c1 - c0, j->g.a, b, (char *)j->g.c + (size_t)c0 * es);
    }
}

void nota_syrk_split(bool f64, int64_t m, int64_t n, double alpha, const void *a, int64_t lda,
                     double beta, void *c) {
    nota_blas_init();
    int threads = atomic_load(&nota_threads);
    if (threads > SYRK_MAX_PARTS) threads = SYRK_MAX_PARTS;
    if (threads < 2 || (double)m * (double)n * (double)n < 2.0 * SPLIT_MIN_MACS ||
        n < 2 * SPLIT_GRAIN) {
        if (f64)
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)n, (blasint)m, alpha, a,
                        (blasint)lda, beta, c, (blasint)n);
        else
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)n, (blasint)m, (float)alpha,
                        a, (blasint)lda, (float)beta, c, (blasint)n);
        return;
    }
    int64_t bounds[SYRK_MAX_PARTS + 1];
    syrk_bounds(n, threads, bounds);
    syrk_job j = {{true, false, f64, false, 0, 0, m, lda, lda, n, alpha, beta, a, a, c}, bounds};
    nota_par_for((size_t)threads, 1, syrk_part, &j);
}
