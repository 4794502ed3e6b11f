/* GEMM benchmark: nota_sgemm (the SDK wrapper every model's dense layers go
 * through) against a raw cblas_sgemm call, in the same process on the same
 * buffers. libnota runs OpenBLAS on one thread and cuts a GEMM into blocks
 * over its own worker pool (sdk/src/linalg_threads.c); the reference is
 * OpenBLAS threading the same call itself, with the same thread count (set
 * for the reference's calls only, then put back to one). The wrapper must
 * lose nothing measurable, so the figure of merit is the ratio nota / cblas
 * of GFLOP/s (target >= 0.95). The batch-128 shapes are the VAE's layers.
 *
 * For each shape: one untimed warm-up call per side, then `reps` rounds; each
 * round times both sides back to back, swapping which goes first every round
 * so that drift (turbo, a neighbour's load) hits both alike. A timed sample
 * repeats the call enough times to last >= 50 ms, so small sizes are not
 * dominated by clock resolution. Reported: median GFLOP/s of each side and the
 * median of the per-round ratios. Output is a markdown table on stdout;
 * bench/gemm.sh puts it into bench/RESULTS.md.
 *
 *     bench_gemm [--reps N] [--threads N] [--quick]
 *
 * --threads 0 (default) keeps OpenBLAS's default thread count; --quick drops
 * the 2048 and tall-skinny shapes (for a smoke run).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nota/linalg.h"
#include "nota/rng.h"

typedef struct shape {
    const char *label;
    int m, n, k;
    bool quick; /* included in --quick runs */
} shape;

static const shape shapes[] = {
    {"256 x 256 x 256", 256, 256, 256, true},
    {"512 x 512 x 512", 512, 512, 512, true},
    {"1024 x 1024 x 1024", 1024, 1024, 1024, true},
    {"2048 x 2048 x 2048", 2048, 2048, 2048, false},
    {"tall-skinny (60000 x 784) (784 x 784)", 60000, 784, 784, false},
    {"VAE layer: batch 128 x 512 x 784", 128, 512, 784, true},
    {"VAE layer: batch 128 x 784 x 512", 128, 784, 512, true},
    {"VAE layer: batch 128 x 256 x 512", 128, 256, 512, true},
};

static int ref_threads = 1; /* OpenBLAS's count for the reference's calls */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct problem {
    int m, n, k;
    const float *a, *b;
    float *c;
} problem;

static void run_nota(const problem *p) {
    nota_sgemm(false, false, p->m, p->n, p->k, 1.0f, p->a, p->k, p->b, p->n, 0.0f, p->c, p->n);
}

static void run_cblas(const problem *p) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->m, p->n, p->k, 1.0f, p->a, p->k, p->b,
                p->n, 0.0f, p->c, p->n);
}

/* Seconds per call, averaged over `iters` back-to-back calls. */
static double time_calls(void (*fn)(const problem *), const problem *p, int iters) {
    if (fn == run_cblas) openblas_set_num_threads(ref_threads);
    double t0 = now();
    for (int i = 0; i < iters; i++)
        fn(p);
    double t = (now() - t0) / iters;
    if (fn == run_cblas) openblas_set_num_threads(1); /* libnota's blocks run on one */
    return t;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* "AMD EPYC (family 26, model 2)": the model name alone is vague on VMs. */
static void cpu_model(char *out, size_t cap) {
    char name[256] = "unknown CPU", family[32] = "?", model[32] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char *v = strchr(line, ':');
            if (!v) continue;
            v += 1 + (v[1] == ' ');
            v[strcspn(v, "\n")] = '\0';
            if (strncmp(line, "model name", 10) == 0)
                snprintf(name, sizeof name, "%s", v);
            else if (strncmp(line, "cpu family", 10) == 0)
                snprintf(family, sizeof family, "%s", v);
            else if (strncmp(line, "model\t", 6) == 0)
                snprintf(model, sizeof model, "%s", v);
            else if (line[0] == '\n' || strncmp(line, "power management", 16) == 0)
                break;
        }
        fclose(f);
    }
    snprintf(out, cap, "%s (family %s, model %s)", name, family, model);
}

int main(int argc, char **argv) {
    int reps = 7, threads = 0;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else {
            fprintf(stderr, "usage: %s [--reps N (>= 5)] [--threads N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 5 || reps > 1000 || threads < 0) {
        fprintf(stderr, "bench_gemm: --reps must be 5..1000 and --threads >= 0\n");
        return 2;
    }
    nota_set_threads(threads);
    ref_threads = nota_get_threads();
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("Threads: %d (both sides; %s). BLAS: %s. CPU: %s. Repetitions: %d per side, "
           "alternating, median.\n\n",
           nota_get_threads(), threads ? "set with --threads" : "OpenBLAS default",
           openblas_get_config(), cpu, reps);
    printf("| shape (m x n x k) | nota_sgemm GFLOP/s | cblas_sgemm GFLOP/s | ratio nota/cblas |\n");
    printf("|---|---|---|---|\n");
    fflush(stdout);

    int worst_fail = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        if (quick && !sh->quick) continue;
        size_t na = (size_t)sh->m * sh->k, nb = (size_t)sh->k * sh->n, nc = (size_t)sh->m * sh->n;
        float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
        float *c1 = malloc(nc * sizeof *c1), *c2 = malloc(nc * sizeof *c2);
        double *gn = malloc((size_t)reps * sizeof *gn), *gc = malloc((size_t)reps * sizeof *gc);
        double *ratio = malloc((size_t)reps * sizeof *ratio);
        if (!a || !b || !c1 || !c2 || !gn || !gc || !ratio) {
            fprintf(stderr, "bench_gemm: out of memory for %s\n", sh->label);
            return 1;
        }
        nota_rng_fill_uniform(1, 1, a, na);
        nota_rng_fill_uniform(1, 2, b, nb);
        problem pn = {sh->m, sh->n, sh->k, a, b, c1}, pc = {sh->m, sh->n, sh->k, a, b, c2};
        double flops = 2.0 * sh->m * sh->n * sh->k;
        /* Warm-up (page faults, OpenBLAS thread start) and the iteration count
         * that makes one sample last >= 50 ms. */
        double t = time_calls(run_cblas, &pc, 1);
        time_calls(run_nota, &pn, 1);
        int iters = t >= 0.05 ? 1 : (int)(0.05 / (t > 1e-6 ? t : 1e-6)) + 1;
        /* Same inputs: the outputs agree to float rounding (a block edge may
         * be tiled differently from OpenBLAS's own cut, so not bit for bit). */
        for (size_t i = 0; i < nc; i++)
            if (fabsf(c1[i] - c2[i]) > 1e-5f * (fabsf(c2[i]) + 1.0f)) {
                fprintf(stderr,
                        "bench_gemm: nota_sgemm and cblas_sgemm differ for %s at %zu: "
                        "%.9g vs %.9g\n",
                        sh->label, i, c1[i], c2[i]);
                worst_fail = 1;
                break;
            }
        for (int r = 0; r < reps; r++) {
            double tn, tc;
            if (r % 2 == 0) {
                tn = time_calls(run_nota, &pn, iters);
                tc = time_calls(run_cblas, &pc, iters);
            } else {
                tc = time_calls(run_cblas, &pc, iters);
                tn = time_calls(run_nota, &pn, iters);
            }
            gn[r] = flops / tn * 1e-9;
            gc[r] = flops / tc * 1e-9;
            ratio[r] = gn[r] / gc[r];
        }
        printf("| %s | %.1f | %.1f | %.3f |\n", sh->label, median(gn, reps), median(gc, reps),
               median(ratio, reps));
        fflush(stdout);
        free(a);
        free(b);
        free(c1);
        free(c2);
        free(gn);
        free(gc);
        free(ratio);
    }
    return worst_fail;
}
