/* nota_par_for (sdk/src/parallel.h; public as nota_parallel_for): every index is visited exactly
 * once for any size, grain and thread count, nested and concurrent calls run to completion, and the
 * nn kit's loops built on it (optimizer step, gradient zeroing, pair losses) give the same bits
 * with 1 and 4 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nota/linalg.h"
#include "nota/nn.h"
#include "nota/parallel.h"
#include "nota/rng.h"
#include "parallel.h"

typedef struct visit {
    atomic_int *count;
    atomic_int calls;
} visit;

static void count_body(void *vctx, size_t b, size_t e) {
    visit *v = vctx;
    atomic_fetch_add(&v->calls, 1);
    for (size_t i = b; i < e; i++)
        atomic_fetch_add(&v->count[i], 1);
}

static void check_cover(size_t n, size_t grain, int threads, int max_calls) {
    nota_set_threads(threads);
    visit v = {calloc(n ? n : 1, sizeof(atomic_int)), 0};
    cr_assert_not_null(v.count);
    nota_par_for(n, grain, count_body, &v);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&v.count[i]), 1, "n %zu grain %zu threads %d: index %zu seen %d",
                     n, grain, threads, i, atomic_load(&v.count[i]));
    cr_assert_leq(atomic_load(&v.calls), max_calls, "n %zu grain %zu threads %d: %d parts", n,
                  grain, threads, atomic_load(&v.calls));
    free(v.count);
    nota_set_threads(0);
}

/* The public name plugins use (nota/parallel.h) is the same pool: the
 * parts are exactly nota_get_threads() here, and every index is seen once. */
Test(parallel, public_nota_parallel_for_is_the_pool) {
    nota_set_threads(3);
    visit v = {calloc(3000, sizeof(atomic_int)), 0};
    cr_assert_not_null(v.count);
    nota_parallel_for(3000, 10, count_body, &v);
    for (size_t i = 0; i < 3000; i++)
        cr_assert_eq(atomic_load(&v.count[i]), 1, "index %zu", i);
    cr_assert_eq(atomic_load(&v.calls), 3);
    free(v.count);
    nota_set_threads(0);
}

Test(parallel, every_index_once) {
    check_cover(0, 1, 4, 0);
    check_cover(1, 1, 4, 1);
    check_cover(17, 1, 4, 4);
    check_cover(1000, 1, 3, 3);
    check_cover(100000, 1000, 4, 4);
    check_cover(100000, 1000, 1, 1);
    /* fewer than 2 grains: one part, in the caller */
    check_cover(1999, 1000, 4, 1);
    check_cover(12345, 0, 2, 2);
}

static void nested_body(void *vctx, size_t b, size_t e) {
    visit *v = vctx;
    for (size_t i = b; i < e; i++) {
        /* a pool worker (or the caller, while the pool is busy) calling in
         * again runs the inner loop alone */
        visit inner = {v->count + i * 8, 0};
        nota_par_for(8, 1, count_body, &inner);
    }
}

Test(parallel, nested_calls_complete) {
    nota_set_threads(4);
    size_t n = 64;
    visit v = {calloc(n * 8, sizeof(atomic_int)), 0};
    nota_par_for(n, 1, nested_body, &v);
    for (size_t i = 0; i < n * 8; i++)
        cr_assert_eq(atomic_load(&v.count[i]), 1, "index %zu seen %d", i, atomic_load(&v.count[i]));
    free(v.count);
    nota_set_threads(0);
}

static void *caller(void *arg) {
    visit *v = arg;
    for (int r = 0; r < 200; r++)
        nota_par_for(4096, 64, count_body, v);
    return NULL;
}

Test(parallel, concurrent_callers) {
    nota_set_threads(2);
    visit a = {calloc(4096, sizeof(atomic_int)), 0}, b = {calloc(4096, sizeof(atomic_int)), 0};
    pthread_t ta, tb;
    cr_assert_eq(pthread_create(&ta, NULL, caller, &a), 0);
    cr_assert_eq(pthread_create(&tb, NULL, caller, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (size_t i = 0; i < 4096; i++) {
        cr_assert_eq(atomic_load(&a.count[i]), 200);
        cr_assert_eq(atomic_load(&b.count[i]), 200);
    }
    free(a.count);
    free(b.count);
    nota_set_threads(0);
}

/* Two Adam steps on a net of 300k weights, then its weights, with T threads. */
static float *adam_weights(int threads, size_t *nw) {
    nota_set_threads(threads);
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(600, 500, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_layer_init(l, 7, 0), NOTA_OK);
    nota_nn_optim *opt;
    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.weight_decay = 0.01f;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_OK);
    nota_nn_param w, b;
    cr_assert_eq(nota_nn_layer_param(l, 0, &w), NOTA_OK);
    cr_assert_eq(nota_nn_layer_param(l, 1, &b), NOTA_OK);
    for (int s = 0; s < 2; s++) {
        nota_nn_optim_zero_grad(opt);
        for (size_t i = 0; i < nota_tensor_numel(b.grad); i++)
            cr_assert_eq(nota_tensor_f32(b.grad)[i], 0.0f);
        nota_rng_fill_normal_range(3, (uint64_t)s, 0, nota_tensor_f32(w.grad),
                                   nota_tensor_numel(w.grad));
        nota_rng_fill_normal_range(4, (uint64_t)s, 0, nota_tensor_f32(b.grad),
                                   nota_tensor_numel(b.grad));
        cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    }
    *nw = nota_tensor_numel(w.value) + nota_tensor_numel(b.value);
    float *out = malloc(*nw * sizeof *out);
    memcpy(out, nota_tensor_f32(w.value), nota_tensor_numel(w.value) * sizeof *out);
    memcpy(out + nota_tensor_numel(w.value), nota_tensor_f32(b.value),
           nota_tensor_numel(b.value) * sizeof *out);
    nota_nn_optim_free(opt);
    nota_nn_layer_free(l);
    nota_set_threads(0);
    return out;
}

Test(parallel, adam_same_bits_any_thread_count) {
    size_t n1, n4;
    float *a = adam_weights(1, &n1), *b = adam_weights(4, &n4);
    cr_assert_eq(n1, 300500);
    cr_assert_eq(n4, n1);
    cr_assert_eq(memcmp(a, b, n1 * sizeof *a), 0, "weights differ between 1 and 4 threads");
    free(a);
    free(b);
}

Test(parallel, rng_fills_same_bits_any_thread_count) {
    enum { N = 100003 }; /* odd, and several pool parts of 8192 */
    static float a[N], b[N];
    for (int kind = 0; kind < 2; kind++) {
        void (*fill)(uint64_t, uint64_t, size_t, float *, size_t) =
            kind ? nota_rng_fill_normal_range : nota_rng_fill_uniform_range;
        nota_set_threads(1);
        fill(8, 2, 7, a, N);
        nota_set_threads(4);
        fill(8, 2, 7, b, N);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "kind %d: 1 and 4 threads differ", kind);
        /* and the pool's parts are the plain sequence: element i alone */
        for (size_t i = 0; i < N; i += 9973) {
            float one;
            fill(8, 2, 7 + i, &one, 1);
            cr_assert_eq(memcmp(&one, &a[i], sizeof one), 0, "kind %d element %zu", kind, i);
        }
    }
    nota_set_threads(0);
}

Test(parallel, losses_same_bits_any_thread_count) {
    int64_t shape[2] = {128, 784};
    nota_tensor *p, *t, *g1, *g4;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, &p), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, &t), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, &g1), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, shape, &g4), NOTA_OK);
    nota_rng_fill_normal_range(5, 0, 0, nota_tensor_f32(p), nota_tensor_numel(p));
    nota_rng_fill_uniform_range(5, 1, 0, nota_tensor_f32(t), nota_tensor_numel(t));
    nota_status (*losses[3])(const nota_tensor *, const nota_tensor *, nota_nn_reduction, double *,
                             nota_tensor *) = {nota_nn_loss_bce_logits, nota_nn_loss_mse,
                                               nota_nn_loss_l1};
    for (int k = 0; k < 3; k++) {
        double l1, l4, serial = 0;
        nota_set_threads(1);
        cr_assert_eq(losses[k](p, t, NOTA_NN_SUM, &l1, g1), NOTA_OK);
        nota_set_threads(4);
        cr_assert_eq(losses[k](p, t, NOTA_NN_SUM, &l4, g4), NOTA_OK);
        cr_assert_eq(l1, l4, "loss %d: %.17g with 1 thread, %.17g with 4", k, l1, l4);
        cr_assert_eq(memcmp(nota_tensor_f32(g1), nota_tensor_f32(g4), g1->nbytes), 0);
        /* and the blocked sum is the plain sum up to rounding */
        const float *pp = nota_tensor_f32(p), *tt = nota_tensor_f32(t);
        for (size_t i = 0; i < nota_tensor_numel(p); i++) {
            double d = (double)pp[i] - tt[i];
            serial += k == 1 ? d * d : k == 2 ? (d < 0 ? -d : d) : 0;
        }
        if (k > 0)
            cr_assert_float_eq(l1, serial, 1e-9 * serial, "loss %d: %.17g vs %.17g", k, l1, serial);
    }
    nota_set_threads(0);
    nota_tensor_free(p);
    nota_tensor_free(t);
    nota_tensor_free(g1);
    nota_tensor_free(g4);
}

/* After fork() the child has none of the parent's workers: its loops must
 * still finish (they start workers of their own). */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

Test(parallel, loops_finish_in_a_forked_child) {
    nota_set_threads(2);
    check_cover(100000, 1000, 2, 2); /* the parent starts its worker */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        nota_set_threads(2);
        visit v = {calloc(100000, sizeof(atomic_int)), 0};
        nota_par_for(100000, 1000, count_body, &v);
        for (size_t i = 0; i < 100000; i++)
            if (atomic_load(&v.count[i]) != 1) _exit(2);
        _exit(atomic_load(&v.calls) == 2 ? 0 : 3);
    }
    /* a child stuck waiting for the parent's workers is killed, not left */
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 1500 && r == 0; i++) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == 0) usleep(10000);
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("the forked child's loop did not finish in 15 s");
    }
    cr_assert_eq(r, pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

/* Conv2d's unfold/fold and layout passes run on the pool: a layer large
 * enough to be cut into several parts gives, at 1 and 3 threads, the same
 * y, dx, dW and db up to GEMM rounding (a misplaced or raced part would be
 * off by O(1)). Zero padding (dx by the flipped-kernel convolution) and
 * reflection padding with stride 2 (dx by col2im). */
static void conv_run(const nota_nn_conv2d_opts *o, const nota_tensor *x, const nota_tensor *dy,
                     int threads, float *out[4]) {
    nota_set_threads(threads);
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_conv2d_new(o, &l), NOTA_OK);
    const nota_tensor *y, *dx;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    cr_assert_eq(nota_nn_layer_backward(l, dy, &dx), NOTA_OK, "%s", nota_last_error());
    nota_nn_param w, b;
    cr_assert_eq(nota_nn_layer_param(l, 0, &w), NOTA_OK);
    cr_assert_eq(nota_nn_layer_param(l, 1, &b), NOTA_OK);
    const nota_tensor *t[4] = {y, dx, w.grad, b.grad};
    for (int i = 0; i < 4; i++) {
        out[i] = malloc(t[i]->nbytes);
        cr_assert_not_null(out[i]);
        memcpy(out[i], t[i]->data, t[i]->nbytes);
    }
    nota_nn_layer_free(l);
    nota_set_threads(0);
}

Test(parallel, conv2d_passes_any_thread_count) {
    /* sizes where every pass has >= 2 parts of its 64k-value grain: 16
     * output channels of 16 images × 1024 positions */
    nota_nn_conv2d_opts opts[2] = {{16, 16, 3, 3, 1, 1, NOTA_NN_PAD_ZERO, true},
                                   {16, 16, 3, 3, 2, 1, NOTA_NN_PAD_REFLECT, true}};
    for (int k = 0; k < 2; k++) {
        int64_t side = k ? 64 : 32, ho = (side + 2 - 3) / opts[k].stride + 1;
        int64_t xs[4] = {16, 16, side, side}, ys[4] = {16, 16, ho, ho};
        nota_tensor *x, *dy;
        cr_assert_eq(nota_tensor_new(NOTA_F32, 4, xs, &x), NOTA_OK);
        cr_assert_eq(nota_tensor_new(NOTA_F32, 4, ys, &dy), NOTA_OK);
        nota_rng_fill_normal(6, 0, nota_tensor_f32(x), nota_tensor_numel(x));
        nota_rng_fill_normal(6, 1, nota_tensor_f32(dy), nota_tensor_numel(dy));
        float *one[4], *three[4];
        conv_run(&opts[k], x, dy, 1, one);
        conv_run(&opts[k], x, dy, 3, three);
        size_t n[4] = {nota_tensor_numel(dy), nota_tensor_numel(x), 16 * 16 * 9, 16};
        const char *what[4] = {"y", "dx", "dW", "db"};
        for (int i = 0; i < 4; i++) {
            for (size_t j = 0; j < n[i]; j++)
                cr_assert_float_eq(three[i][j], one[i][j], 1e-4f * (1.0f + fabsf(one[i][j])),
                                   "case %d %s[%zu]: %.9g with 3 threads, %.9g with 1", k, what[i],
                                   j, three[i][j], one[i][j]);
            free(one[i]);
            free(three[i]);
        }
        nota_tensor_free(x);
        nota_tensor_free(dy);
    }
}

/* BatchNorm (training), activations and ×2 upsampling split channels, planes
 * or ranges over the pool without any GEMM: forward and backward through a
 * net of them give the same bits at 1 and 3 threads, at a size where each
 * has several parts (16 images × 16 channels × 32×32). */
static void elementwise_run(const nota_tensor *x, int threads, float **y_out, float **dx_out,
                            float **dgamma_out) {
    nota_set_threads(threads);
    nota_nn_net *net;
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_net_new(&net), NOTA_OK);
    cr_assert_eq(nota_nn_batchnorm_new(16, true, 0.1f, 1e-5f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_act_new(NOTA_NN_RELU, 0, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_BILINEAR, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_act_new(NOTA_NN_TANH, 0, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_NEAREST, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    const nota_tensor *y, *dx;
    cr_assert_eq(nota_nn_net_forward(net, x, &y), NOTA_OK, "%s", nota_last_error());
    nota_tensor *dy;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, y->shape, &dy), NOTA_OK);
    nota_rng_fill_normal(7, 1, nota_tensor_f32(dy), nota_tensor_numel(dy));
    cr_assert_eq(nota_nn_net_backward(net, dy, &dx), NOTA_OK, "%s", nota_last_error());
    nota_nn_param g;
    cr_assert_eq(nota_nn_layer_param(nota_nn_net_layer(net, 0), 0, &g), NOTA_OK);
    *y_out = malloc(y->nbytes), *dx_out = malloc(dx->nbytes), *dgamma_out = malloc(g.grad->nbytes);
    cr_assert(*y_out && *dx_out && *dgamma_out);
    memcpy(*y_out, y->data, y->nbytes);
    memcpy(*dx_out, dx->data, dx->nbytes);
    memcpy(*dgamma_out, g.grad->data, g.grad->nbytes);
    nota_tensor_free(dy);
    nota_nn_net_free(net);
    nota_set_threads(0);
}

Test(parallel, batchnorm_activation_upsample_same_bits_any_thread_count) {
    int64_t xs[4] = {16, 16, 32, 32};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, xs, &x), NOTA_OK);
    nota_rng_fill_normal(7, 0, nota_tensor_f32(x), nota_tensor_numel(x));
    float *y1, *dx1, *g1, *y3, *dx3, *g3;
    elementwise_run(x, 1, &y1, &dx1, &g1);
    elementwise_run(x, 3, &y3, &dx3, &g3);
    size_t nx = nota_tensor_numel(x);
    cr_assert_eq(memcmp(y1, y3, nx * 16 * sizeof(float)), 0, "y differs");
    cr_assert_eq(memcmp(dx1, dx3, nx * sizeof(float)), 0, "dx differs");
    cr_assert_eq(memcmp(g1, g3, 16 * sizeof(float)), 0, "dgamma differs");
    free(y1), free(dx1), free(g1), free(y3), free(dx3), free(g3);
    nota_tensor_free(x);
}
