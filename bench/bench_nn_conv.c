/* bench_nn_conv — Conv2d forward + backward on the nn kit at the scattering
 * decoder's shapes: batch 128, 64 → 32 channels, 3×3 and 7×7 kernels with
 * "same" zero padding, 14×14 and 28×28 maps. One iteration is forward,
 * then backward with dx (the layer sits inside a network). Prints one
 * "RESULT" line per shape with the median milliseconds over --reps runs
 * (after one warm-up) and the GEMM GFLOP/s reached; bench/nn_conv.py is the
 * PyTorch counterpart and bench/nn_mlp.sh runs both.
 *
 *   bench_nn_conv [--threads N] [--reps R]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nota/nota.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = 0, reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_nn_conv: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1 || reps > 100) reps = 5;
    nota_set_threads(threads);
    const int64_t ks[2] = {3, 7}, hs[2] = {14, 28};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int64_t k = ks[a], h = hs[b];
            nota_nn_conv2d_opts o = {64, 32, k, k, 1, k / 2, NOTA_NN_PAD_ZERO, true};
            nota_nn_layer *l;
            nota_tensor *x, *dy;
            int64_t xs[4] = {128, 64, h, h}, ys[4] = {128, 32, h, h};
            if (nota_nn_conv2d_new(&o, &l) || nota_tensor_new(NOTA_F32, 4, xs, &x) ||
                nota_tensor_new(NOTA_F32, 4, ys, &dy)) {
                fprintf(stderr, "bench_nn_conv: %s\n", nota_last_error());
                return 1;
            }
            nota_rng_fill_normal(1, 1, x->data, nota_tensor_numel(x));
            nota_rng_fill_normal(1, 2, dy->data, nota_tensor_numel(dy));
            double t[101];
            for (int r = 0; r <= reps; r++) {
                const nota_tensor *y, *dx;
                double t0 = now();
                if (nota_nn_layer_forward(l, x, &y) || nota_nn_layer_backward(l, dy, &dx)) {
                    fprintf(stderr, "bench_nn_conv: %s\n", nota_last_error());
                    return 1;
                }
                t[r] = now() - t0;
            }
            qsort(t + 1, (size_t)reps, sizeof t[0], cmp); /* t[0] is the warm-up */
            double med = t[1 + reps / 2];
            /* three GEMMs of 2·O·(C·k·k)·(N·H·W) flops: forward, dW, dcols */
            double flop = 3.0 * 2.0 * 32 * 64 * k * k * 128.0 * h * h;
            printf("RESULT nota conv k=%lld hw=%lld threads=%d ms=%.2f gflops=%.1f\n", (long long)k,
                   (long long)h, nota_get_threads(), 1e3 * med, flop / med / 1e9);
            nota_tensor_free(x);
            nota_tensor_free(dy);
            nota_nn_layer_free(l);
        }
    return 0;
}
