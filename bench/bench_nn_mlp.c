/* bench_nn_mlp — one epoch of the VAE MLP of issue 3 on the nn kit.
 *
 * Encoder 784-512-256-(2×64), decoder 64-256-512-784, ReLU, Adam 1e-3,
 * batch 128, Bernoulli decoder (BCE with logits) + Gaussian KL, both summed
 * per sample and averaged over the batch. Data: Fashion-MNIST train images
 * scaled to [0, 1] (x/255), or random pixels with --data random. Prints one
 * line per epoch and a final "RESULT" line that bench/nn_mlp.sh parses:
 * epoch seconds, mean training loss of the last epoch, GEMM GFLOP per epoch
 * and the rate reached, next to nota_sgemm's own rate on a 1024³ product
 * with the same threads ("peak"). bench/nn_mlp.py is the same model in PyTorch.
 *
 *   bench_nn_mlp [--threads N] [--epochs E] [--data fashion|random]
 *                [--limit N] [--seed S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nota/nota.h"

#define B 128
#define H 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "bench_nn_mlp: %s: %s\n", what, nota_last_error());
    return 1;
}

/* Linear/ReLU stack over the given widths; the last Linear has no ReLU. */
static nota_status mlp(const int64_t *w, int n, uint64_t seed, uint64_t stream, nota_nn_net **out) {
    nota_status st = nota_nn_net_new(out);
    for (int i = 0; !st && i + 1 < n; i++) {
        nota_nn_layer *l;
        st = nota_nn_linear_new(w[i], w[i + 1], true, &l);
        if (!st) st = nota_nn_net_add(*out, l);
        if (!st && i + 2 < n) {
            st = nota_nn_act_new(NOTA_NN_RELU, 0.0f, &l);
            if (!st) st = nota_nn_net_add(*out, l);
        }
    }
    if (!st) st = nota_nn_net_init(*out, seed, stream);
    return st;
}

/* Best of 5 nota_sgemm 1024x1024x1024 runs, GFLOP/s. */
static double sgemm_peak(void) {
    const int64_t n = 1024;
    float *a = malloc(n * n * 4), *b = malloc(n * n * 4), *c = malloc(n * n * 4);
    if (!a || !b || !c) return 0;
    nota_rng_fill_uniform(3, 1, a, (size_t)(n * n));
    nota_rng_fill_uniform(3, 2, b, (size_t)(n * n));
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now();
        nota_sgemm(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * n / best / 1e9;
}

int main(int argc, char **argv) {
    int threads = 0, epochs = 1;
    int64_t limit = 0;
    uint64_t seed = 1;
    const char *data = "fashion";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--limit"))
            limit = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else {
            fprintf(stderr, "bench_nn_mlp: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    nota_set_threads(threads);

    /* data (N, 784) in [0, 1] */
    nota_tensor *x = NULL;
    int64_t n;
    if (!strcmp(data, "random")) {
        n = limit > 0 ? limit : 60000;
        if (nota_tensor_new_2d(n, 784, &x)) return fail("data");
        nota_rng_fill_uniform(seed, 99, x->data, (size_t)(n * 784));
    } else {
        nota_dataset *ds;
        nota_data_filter f = {-1, limit};
        if (nota_dataset_open("fashion-mnist:train", &f, &ds)) return fail("fashion-mnist");
        n = ds->x->shape[0];
        if (nota_tensor_new_2d(n, 784, &x)) return fail("data");
        const uint8_t *u = nota_tensor_u8(ds->x);
        float *xf = x->data;
        for (int64_t i = 0; i < n * 784; i++)
            xf[i] = (float)u[i] / 255.0f;
        nota_dataset_free(ds);
    }

    const int64_t ew[4] = {784, 512, 256, 2 * H}, dw[4] = {H, 256, 512, 784};
    nota_nn_net *enc, *dec;
    if (mlp(ew, 4, seed, 0, &enc) || mlp(dw, 4, seed, 100, &dec)) return fail("nets");
    nota_nn_optim *opt;
    nota_nn_adam_opts ao = nota_nn_adam_defaults(); /* lr 1e-3 */
    if (nota_nn_adam_new(&ao, &opt) || nota_nn_optim_add_net(opt, enc) ||
        nota_nn_optim_add_net(opt, dec))
        return fail("adam");

    int64_t xs[2] = {B, 784}, ss[2] = {B, 2 * H}, zs[2] = {B, H};
    nota_tensor *xb, *dlog, *dstats, *eps, *z;
    if (nota_tensor_new(NOTA_F32, 2, xs, &xb) || nota_tensor_new(NOTA_F32, 2, xs, &dlog) ||
        nota_tensor_new(NOTA_F32, 2, ss, &dstats) || nota_tensor_new(NOTA_F32, 2, zs, &eps) ||
        nota_tensor_new(NOTA_F32, 2, zs, &z))
        return fail("buffers");
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm) return 1;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;

    /* GEMM flops per sample: forward 2·Σ in·out per net; backward dW for all
     * layers and dx for all but the encoder's first */
    double fwd = 2.0 * (784 * 512 + 512 * 256 + 256 * 128 + 64 * 256 + 256 * 512 + 512 * 784);
    double flop = (3.0 * fwd - 2.0 * 784 * 512) * (double)(n / B * B);
    nota_rng rng = nota_rng_make(seed, 7);
    double last_loss = 0, last_time = 0;
    int64_t step = 0;
    for (int e = 0; e < epochs; e++) {
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)nota_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        double t0 = now(), sum = 0;
        int64_t batches = n / B; /* drop the last partial batch, as PyTorch's drop_last */
        for (int64_t bi = 0; bi < batches; bi++, step++) {
            float *xd = xb->data;
            for (int r = 0; r < B; r++)
                memcpy(xd + r * 784, (float *)x->data + perm[bi * B + r] * 784, 784 * 4);
            const nota_tensor *stats, *logits, *dz;
            double rec, kl;
            if (nota_nn_net_forward(enc, xb, &stats)) return fail("encoder");
            nota_rng_fill_normal(seed, 1000 + (uint64_t)step, eps->data, B * H);
            if (nota_nn_reparam(stats, eps, z)) return fail("reparam");
            if (nota_nn_net_forward(dec, z, &logits)) return fail("decoder");
            if (nota_nn_loss_bce_logits(logits, xb, NOTA_NN_BATCH_MEAN, &rec, dlog) ||
                nota_nn_loss_gaussian_kl(stats, NOTA_NN_BATCH_MEAN, &kl, dstats))
                return fail("loss");
            nota_nn_optim_zero_grad(opt);
            if (nota_nn_net_backward(dec, dlog, &dz)) return fail("decoder backward");
            if (nota_nn_reparam_backward(stats, eps, dz, dstats)) return fail("reparam backward");
            if (nota_nn_net_backward(enc, dstats, NULL)) return fail("encoder backward");
            if (nota_nn_optim_step(opt)) return fail("adam step");
            sum += rec + kl;
        }
        last_time = now() - t0;
        last_loss = sum / (double)batches;
        printf("epoch %d: %.3f s, loss %.4f\n", e + 1, last_time, last_loss);
    }
    printf("RESULT nota threads=%d epoch_s=%.4f loss=%.4f gflop=%.1f gflops=%.1f "
           "peak_gflops=%.1f n=%lld\n",
           nota_get_threads(), last_time, last_loss, flop / 1e9, flop / 1e9 / last_time,
           sgemm_peak(), (long long)n);
    free(perm);
    nota_tensor_free(x);
    nota_tensor_free(xb);
    nota_tensor_free(dlog);
    nota_tensor_free(dstats);
    nota_tensor_free(eps);
    nota_tensor_free(z);
    nota_nn_optim_free(opt);
    nota_nn_net_free(enc);
    nota_nn_net_free(dec);
    return 0;
}
