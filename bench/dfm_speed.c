/* Forward + backward time of the dfm coordinate network: the plugin's fast
 * path (m sincos + angle-addition products, GEMMs, worker threads) against
 * the same network built from the nn kit's Fourier layers (2·2^m cos/sin
 * calls per row). Same weights, same rows. Built and run by dfm_speed.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../plugins/dfm/dfm_net.c"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int width = argc > 1 ? atoi(argv[1]) : 6, depth = argc > 2 ? atoi(argv[2]) : 4;
    int threads = argc > 3 ? atoi(argv[3]) : 1, reps = 5;
    int64_t rows = 16384;
    nota_set_threads(threads);
    dfm_net *n;
    if (dfm_net_new(width, depth, 3, 0.5f, 1, threads, &n)) return 1;
    float *xy = malloc((size_t)rows * 2 * sizeof *xy), *dy = malloc((size_t)rows * 3 * 4);
    nota_rng_fill_uniform(1, 1, xy, (size_t)rows * 2);
    nota_rng_fill_normal(1, 2, dy, (size_t)rows * 3);
    const float *y;
    dfm_net_forward(n, xy, rows, &y); /* warm-up: workspace */
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        dfm_net_forward(n, xy, rows, &y);
        dfm_net_backward(n, dy);
    }
    double fast = (now() - t0) / reps;
    /* The kit's layers, chained by hand (tanh omitted: same in both). */
    int64_t shape[2] = {rows, 2};
    nota_tensor *x, *g;
    nota_tensor_wrap(NOTA_F32, 2, shape, xy, &x);
    int64_t gs[2] = {rows, 3};
    nota_tensor_wrap(NOTA_F32, 2, gs, dy, &g);
    t0 = now();
    for (int r = 0; r < reps; r++) {
        const nota_tensor *h = x;
        for (int i = 0; i < depth; i++) nota_nn_layer_forward(n->layer[i], h, &h);
        const nota_tensor *d = g;
        for (int i = depth - 1; i >= 0; i--)
            nota_nn_layer_backward(n->layer[i], d, i ? &d : NULL);
    }
    double kit = (now() - t0) / reps;
    printf("width %d depth %d threads %d, %lld rows: fast path %.1f ms, kit layers %.1f ms "
           "(forward+backward), ratio %.2fx\n",
           width, depth, threads, (long long)rows, 1e3 * fast, 1e3 * kit, kit / fast);
    nota_tensor_free(x), nota_tensor_free(g);
    free(xy), free(dy);
    dfm_net_free(n);
    return 0;
}
