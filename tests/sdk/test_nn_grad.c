/* Finite-difference gradient checks for every layer and loss of nota/nn.h,
 * in the spirit of ggml's test-backend-ops: one table of ops, each checked
 * the same way with its own stated tolerance.
 *
 * Layers: L(x, θ) = Σ w ⊙ layer(x) with a fixed random w, summed in double
 * (the "double-precision reference": only the f32 forward is rounded).
 * backward(dy = w) gives dL/dx and dL/dθ, compared with central differences
 * (L(v + h) - L(v - h)) / 2h on up to NN_FD_SAMPLES elements of x and of
 * every trainable parameter. Pass: |num - ana| <= tol · (1 + |ana|).
 * Inputs of kinked ops (ReLU, LeakyReLU, L1) are kept > 2h away from the kink
 * so the difference quotient never straddles it.
 */
#include "nota/nn.h"
#include "nota/rng.h"
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NN_FD_SAMPLES 40

typedef nota_status (*make_fn)(nota_nn_layer **l);

typedef struct grad_case {
    const char *name;
    make_fn make;
    int ndim;
    int64_t shape[4];
    bool training;
    float h;         /* finite-difference step */
    double tol;      /* stated tolerance for this op */
    float kink_away; /* |x| >= this (0: no constraint) */
} grad_case;

static nota_status mk_linear(nota_nn_layer **l) { return nota_nn_linear_new(5, 3, true, l); }
static nota_status mk_linear_nobias_3d(nota_nn_layer **l) {
    return nota_nn_linear_new(6, 4, false, l);
}
static nota_status mk_conv(int64_t c, int64_t o, int64_t kh, int64_t kw, int64_t s, int64_t p,
                           nota_nn_padding mode, bool bias, nota_nn_layer **l) {
    nota_nn_conv2d_opts opts = {c, o, kh, kw, s, p, mode, bias};
    return nota_nn_conv2d_new(&opts, l);
}
static nota_status mk_conv3_zero(nota_nn_layer **l) {
    return mk_conv(3, 4, 3, 3, 1, 1, NOTA_NN_PAD_ZERO, true, l);
}
static nota_status mk_conv_reflect_s2(nota_nn_layer **l) {
    return mk_conv(2, 3, 3, 2, 2, 2, NOTA_NN_PAD_REFLECT, true, l);
}
static nota_status mk_conv7_reflect(nota_nn_layer **l) {
    return mk_conv(2, 3, 7, 7, 1, 3, NOTA_NN_PAD_REFLECT, false, l);
}
static nota_status mk_conv2_valid(nota_nn_layer **l) {
    return mk_conv(3, 2, 2, 2, 1, 0, NOTA_NN_PAD_ZERO, true, l);
}
static nota_status mk_conv3_pad2(nota_nn_layer **l) {
    return mk_conv(2, 2, 3, 3, 1, 2, NOTA_NN_PAD_ZERO, false, l);
}
static nota_status mk_conv3x2_zero(nota_nn_layer **l) {
    return mk_conv(2, 2, 3, 2, 1, 1, NOTA_NN_PAD_ZERO, true, l);
}
static nota_status mk_up_nearest(nota_nn_layer **l) {
    return nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_NEAREST, l);
}
static nota_status mk_up_bilinear(nota_nn_layer **l) {
    return nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_BILINEAR, l);
}
static nota_status mk_bn1d(nota_nn_layer **l) {
    return nota_nn_batchnorm_new(4, false, 0.1f, 1e-5f, l);
}
static nota_status mk_bn2d(nota_nn_layer **l) {
    return nota_nn_batchnorm_new(3, true, 0.1f, 1e-5f, l);
}
static nota_status mk_relu(nota_nn_layer **l) { return nota_nn_act_new(NOTA_NN_RELU, 0.0f, l); }
static nota_status mk_leaky(nota_nn_layer **l) {
    return nota_nn_act_new(NOTA_NN_LEAKY_RELU, 0.2f, l);
}
static nota_status mk_tanh(nota_nn_layer **l) { return nota_nn_act_new(NOTA_NN_TANH, 0.0f, l); }
static nota_status mk_sigmoid(nota_nn_layer **l) {
    return nota_nn_act_new(NOTA_NN_SIGMOID, 0.0f, l);
}
static nota_status mk_fourier(nota_nn_layer **l) { return nota_nn_fourier_new(2, 3, false, l); }
static nota_status mk_fourier_res(nota_nn_layer **l) { return nota_nn_fourier_new(3, 3, true, l); }
static nota_status mk_reshape(nota_nn_layer **l) {
    int64_t s[3] = {2, 2, 3};
    return nota_nn_reshape_new(3, s, l);
}

static const grad_case cases[] = {
    /* name, constructor, ndim, input shape, training mode, FD step h, tolerance, kink distance */
    {"linear", mk_linear, 2, {4, 5}, true, 1e-2f, 2e-3, 0},
    {"linear_nobias_3d", mk_linear_nobias_3d, 3, {3, 2, 3}, true, 1e-2f, 2e-3, 0},
    {"conv2d_3x3_zero", mk_conv3_zero, 4, {2, 3, 5, 6}, true, 1e-2f, 2e-3, 0},
    {"conv2d_3x2_reflect_s2", mk_conv_reflect_s2, 4, {2, 2, 6, 5}, true, 1e-2f, 2e-3, 0},
    {"conv2d_7x7_reflect", mk_conv7_reflect, 4, {1, 2, 8, 8}, true, 1e-2f, 2e-3, 0},
    /* zero padding, stride 1, square kernel: dx as a flipped-kernel conv */
    {"conv2d_2x2_valid", mk_conv2_valid, 4, {2, 3, 4, 5}, true, 1e-2f, 2e-3, 0},
    {"conv2d_3x3_pad2_grows", mk_conv3_pad2, 4, {1, 2, 3, 4}, true, 1e-2f, 2e-3, 0},
    /* non-square: dx through col2im */
    {"conv2d_3x2_zero", mk_conv3x2_zero, 4, {2, 2, 4, 5}, true, 1e-2f, 2e-3, 0},
    {"upsample_nearest", mk_up_nearest, 4, {2, 2, 3, 4}, true, 1e-2f, 2e-3, 0},
    {"upsample_bilinear", mk_up_bilinear, 4, {2, 2, 3, 4}, true, 1e-2f, 2e-3, 0},
    {"batchnorm1d_train", mk_bn1d, 2, {6, 4}, true, 1e-2f, 5e-3, 0},
    {"batchnorm1d_eval", mk_bn1d, 2, {6, 4}, false, 1e-2f, 2e-3, 0},
    {"batchnorm2d_train", mk_bn2d, 4, {3, 3, 3, 2}, true, 1e-2f, 5e-3, 0},
    {"batchnorm2d_eval", mk_bn2d, 4, {3, 3, 3, 2}, false, 1e-2f, 2e-3, 0},
    {"relu", mk_relu, 2, {3, 7}, true, 1e-2f, 2e-3, 0.05f},
    {"leaky_relu", mk_leaky, 2, {3, 7}, true, 1e-2f, 2e-3, 0.05f},
    {"tanh", mk_tanh, 2, {3, 7}, true, 1e-2f, 2e-3, 0},
    {"sigmoid", mk_sigmoid, 2, {3, 7}, true, 1e-2f, 2e-3, 0},
    {"fourier", mk_fourier, 2, {5, 2}, true, 1e-3f, 5e-3, 0},
    {"fourier_residual", mk_fourier_res, 2, {5, 3}, true, 1e-3f, 5e-3, 0},
    {"reshape", mk_reshape, 2, {2, 12}, true, 1e-2f, 2e-3, 0},
};

static float *randn(size_t n, uint64_t stream, float scale) {
    float *v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    nota_rng_fill_normal(2024, stream, v, n);
    for (size_t i = 0; i < n; i++)
        v[i] *= scale;
    return v;
}

static double weighted_sum(nota_nn_layer *l, const nota_tensor *x, const float *w) {
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK, "%s", nota_last_error());
    const float *yd = y->data;
    double s = 0.0;
    for (size_t i = 0; i < nota_tensor_numel(y); i++)
        s += (double)w[i] * yd[i];
    return s;
}

/* Central differences on NN_FD_SAMPLES indices spread over v (all if few). */
static void check_fd(const char *op, const char *what, nota_nn_layer *l, const nota_tensor *x,
                     const float *w, float *v, const float *ana, size_t n, float h, double tol) {
    size_t step = n <= NN_FD_SAMPLES ? 1 : n / NN_FD_SAMPLES;
    for (size_t i = 0; i < n; i += step) {
        float keep = v[i];
        v[i] = keep + h;
        double lp = weighted_sum(l, x, w);
        v[i] = keep - h;
        double lm = weighted_sum(l, x, w);
        v[i] = keep;
        /* the actual step taken in f32 */
        double num = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
        double err = fabs(num - ana[i]);
        cr_assert_leq(err, tol * (1.0 + fabs(ana[i])),
                      "%s: d/d%s[%zu] analytic %.6g, numeric %.6g (tolerance %g)", op, what, i,
                      (double)ana[i], num, tol);
    }
}

static void run_case(const grad_case *c) {
    nota_nn_layer *l;
    cr_assert_eq(c->make(&l), NOTA_OK, "%s: %s", c->name, nota_last_error());
    nota_nn_layer_set_training(l, c->training);
    /* non-trivial parameters and buffers (BatchNorm's gamma 1 / beta 0
     * defaults would hide mistakes in their gradients) */
    for (size_t i = 0; i < nota_nn_layer_param_count(l); i++) {
        nota_nn_param p;
        cr_assert_eq(nota_nn_layer_param(l, i, &p), NOTA_OK);
        if (!strcmp(p.name, "running_var"))
            cr_assert_eq(nota_nn_init_tensor(p.value, NOTA_NN_INIT_UNIFORM, 0.5, 2.0, 1, 1, 9, i),
                         NOTA_OK);
        else
            cr_assert_eq(nota_nn_init_tensor(p.value, NOTA_NN_INIT_NORMAL, 0.1, 0.5, 1, 1, 9, i),
                         NOTA_OK);
    }
    nota_tensor *x;
    cr_assert_eq(nota_tensor_new(NOTA_F32, c->ndim, c->shape, &x), NOTA_OK);
    size_t nx = nota_tensor_numel(x);
    float *xv = x->data, *r = randn(nx, 1, 1.0f);
    for (size_t i = 0; i < nx; i++)
        xv[i] = c->kink_away > 0 ? copysignf(fabsf(r[i]) + c->kink_away, r[i]) : r[i];
    free(r);

    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK, "%s: %s", c->name, nota_last_error());
    nota_tensor *dy;
    cr_assert_eq(nota_tensor_new(NOTA_F32, y->ndim, y->shape, &dy), NOTA_OK);
    float *w = randn(nota_tensor_numel(y), 2, 1.0f);
    memcpy(dy->data, w, dy->nbytes);
    nota_nn_layer_zero_grad(l);
    const nota_tensor *dx;
    cr_assert_eq(nota_nn_layer_backward(l, dy, &dx), NOTA_OK, "%s: %s", c->name, nota_last_error());
    float *dxa = malloc(dx->nbytes);
    memcpy(dxa, dx->data, dx->nbytes);
    check_fd(c->name, "x", l, x, w, xv, dxa, nx, c->h, c->tol);
    free(dxa);

    for (size_t i = 0; i < nota_nn_layer_param_count(l); i++) {
        nota_nn_param p;
        cr_assert_eq(nota_nn_layer_param(l, i, &p), NOTA_OK);
        if (!p.trainable) continue;
        float *ga = malloc(p.grad->nbytes);
        memcpy(ga, p.grad->data, p.grad->nbytes);
        check_fd(c->name, p.name, l, x, w, p.value->data, ga, nota_tensor_numel(p.value), c->h,
                 c->tol);
        free(ga);
    }
    free(w);
    nota_tensor_free(dy);
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

/* One Criterion test per table row, so a failure names its op. The workers
 * are separate processes (addresses differ), so the parameter is the row's
 * index, not a pointer into the table. */
#define NCASES (sizeof cases / sizeof cases[0])
static int case_index[NCASES];

ParameterizedTestParameters(nn_grad, layer) {
    for (size_t i = 0; i < NCASES; i++)
        case_index[i] = (int)i;
    return cr_make_param_array(int, case_index, NCASES);
}

ParameterizedTest(int *i, nn_grad, layer) { run_case(&cases[*i]); }

Test(nn_grad, backward_accumulates_into_param_grads) {
    /* two backward passes without zero_grad give twice the gradient */
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(3, 2, true, &l), NOTA_OK);
    int64_t s[2] = {4, 3}, sy[2] = {4, 2};
    nota_tensor *x, *dy;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &x), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, sy, &dy), NOTA_OK);
    nota_rng_fill_normal(1, 1, x->data, 12);
    nota_rng_fill_normal(1, 2, dy->data, 8);
    const nota_tensor *y;
    nota_nn_param w;
    cr_assert_eq(nota_nn_layer_param(l, 0, &w), NOTA_OK);
    float once[6];
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
        cr_assert_eq(nota_nn_layer_backward(l, dy, NULL), NOTA_OK);
        if (pass == 0) memcpy(once, w.grad->data, sizeof once);
    }
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(((float *)w.grad->data)[i], 2 * once[i], 1e-5);
    nota_nn_layer_zero_grad(l);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(((float *)w.grad->data)[i], 0.0f);
    nota_tensor_free(x);
    nota_tensor_free(dy);
    nota_nn_layer_free(l);
}

/* ---- losses: the same check, over pred (and over stats for KL / reparam) */

typedef enum { T_ANY, T_PROB, T_AWAY } target_kind;

typedef struct loss_case {
    const char *name;
    int kind; /* 0 mse, 1 l1, 2 bce, 3 kl */
    nota_nn_reduction red;
    target_kind target;
    float h;
    double tol;
} loss_case;

static const loss_case loss_cases[] = {
    {"mse_sum", 0, NOTA_NN_SUM, T_ANY, 1e-2f, 2e-3},
    {"mse_mean", 0, NOTA_NN_MEAN, T_ANY, 1e-2f, 2e-3},
    {"l1_batch_mean", 1, NOTA_NN_BATCH_MEAN, T_AWAY, 1e-2f, 2e-3},
    {"l1_sum", 1, NOTA_NN_SUM, T_AWAY, 1e-2f, 2e-3},
    {"bce_logits_sum", 2, NOTA_NN_SUM, T_PROB, 1e-2f, 2e-3},
    {"bce_logits_mean", 2, NOTA_NN_MEAN, T_PROB, 1e-2f, 2e-3},
    {"gaussian_kl_batch_mean", 3, NOTA_NN_BATCH_MEAN, T_ANY, 1e-2f, 2e-3},
    {"gaussian_kl_mean", 3, NOTA_NN_MEAN, T_ANY, 1e-2f, 2e-3},
};

static double eval_loss(const loss_case *c, const nota_tensor *p, const nota_tensor *t,
                        nota_tensor *g) {
    double v = 0.0;
    nota_status st;
    switch (c->kind) {
    case 0:
        st = nota_nn_loss_mse(p, t, c->red, &v, g);
        break;
    case 1:
        st = nota_nn_loss_l1(p, t, c->red, &v, g);
        break;
    case 2:
        st = nota_nn_loss_bce_logits(p, t, c->red, &v, g);
        break;
    default:
        st = nota_nn_loss_gaussian_kl(p, c->red, &v, g);
        break;
    }
    cr_assert_eq(st, NOTA_OK, "%s: %s", c->name, nota_last_error());
    return v;
}

Test(nn_grad, every_loss_in_the_table) {
    int64_t s[2] = {3, 8};
    for (size_t k = 0; k < sizeof loss_cases / sizeof loss_cases[0]; k++) {
        const loss_case *c = &loss_cases[k];
        nota_tensor *p, *t, *g;
        cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &p), NOTA_OK);
        cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &t), NOTA_OK);
        cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &g), NOTA_OK);
        float *pv = p->data, *tv = t->data;
        nota_rng_fill_normal(5, 1, pv, 24);
        nota_rng_fill_uniform(5, 2, tv, 24);
        for (int i = 0; i < 24; i++) {
            if (c->target == T_ANY) tv[i] = 2.0f * tv[i] - 1.0f;
            if (c->target == T_AWAY) tv[i] = pv[i] + (tv[i] < 0.5f ? -0.1f : 0.1f) - tv[i];
        }
        eval_loss(c, p, t, g);
        const float *ga = g->data;
        for (int i = 0; i < 24; i++) {
            float keep = pv[i];
            pv[i] = keep + c->h;
            double lp = eval_loss(c, p, t, NULL);
            pv[i] = keep - c->h;
            double lm = eval_loss(c, p, t, NULL);
            pv[i] = keep;
            double num = (lp - lm) / ((double)(keep + c->h) - (double)(keep - c->h));
            cr_assert_leq(fabs(num - ga[i]), c->tol * (1.0 + fabs(ga[i])),
                          "%s: d/dpred[%d] analytic %.6g, numeric %.6g", c->name, i, (double)ga[i],
                          num);
        }
        nota_tensor_free(p);
        nota_tensor_free(t);
        nota_tensor_free(g);
    }
}

static double reparam_sum(const nota_tensor *stats, const nota_tensor *eps, nota_tensor *z,
                          const float *w) {
    cr_assert_eq(nota_nn_reparam(stats, eps, z), NOTA_OK, "%s", nota_last_error());
    double s = 0.0;
    for (size_t i = 0; i < nota_tensor_numel(z); i++)
        s += (double)w[i] * ((float *)z->data)[i];
    return s;
}

Test(nn_grad, reparam_backward_matches_differences) {
    /* tolerance 2e-3, step 1e-2, as the smooth ops above */
    int64_t ss[2] = {3, 8}, sz[2] = {3, 4};
    nota_tensor *st, *eps, *z, *dz, *ds;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, ss, &st), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, ss, &ds), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, sz, &eps), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, sz, &z), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, sz, &dz), NOTA_OK);
    nota_rng_fill_normal(6, 1, st->data, 24);
    nota_rng_fill_normal(6, 2, eps->data, 12);
    nota_rng_fill_normal(6, 3, dz->data, 12);
    const float *w = dz->data;
    /* backward ADDS: start from a known non-zero dstats */
    for (int i = 0; i < 24; i++)
        ((float *)ds->data)[i] = 0.25f;
    cr_assert_eq(nota_nn_reparam_backward(st, eps, dz, ds), NOTA_OK);
    float *sv = st->data;
    for (int i = 0; i < 24; i++) {
        float keep = sv[i];
        sv[i] = keep + 1e-2f;
        double lp = reparam_sum(st, eps, z, w);
        sv[i] = keep - 1e-2f;
        double lm = reparam_sum(st, eps, z, w);
        sv[i] = keep;
        double num = (lp - lm) / ((double)(keep + 1e-2f) - (double)(keep - 1e-2f));
        double ana = ((float *)ds->data)[i] - 0.25;
        cr_assert_leq(fabs(num - ana), 2e-3 * (1.0 + fabs(ana)), "d/dstats[%d] %.6g vs %.6g", i,
                      ana, num);
    }
    nota_tensor_free(st);
    nota_tensor_free(ds);
    nota_tensor_free(eps);
    nota_tensor_free(z);
    nota_tensor_free(dz);
}

static double features_sum(const nota_tensor *x, nota_tensor *phi, const float *w) {
    cr_assert_eq(nota_nn_fourier_features(x, phi), NOTA_OK, "%s", nota_last_error());
    double s = 0.0;
    for (size_t i = 0; i < nota_tensor_numel(phi); i++)
        s += (double)w[i] * ((float *)phi->data)[i];
    return s;
}

Test(nn_grad, fourier_features_backward_matches_differences) {
    /* step 1e-3, tolerance 5e-3, as the Fourier layer in the table */
    int64_t xs[2] = {4, 3}, ps[2] = {4, 16};
    nota_tensor *x, *phi, *w, *dx;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, xs, &x), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, xs, &dx), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, ps, &phi), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, ps, &w), NOTA_OK);
    nota_rng_fill_uniform(8, 1, x->data, 12);
    nota_rng_fill_normal(8, 2, w->data, 64);
    features_sum(x, phi, w->data);
    cr_assert_eq(nota_nn_fourier_features_backward(phi, w, dx), NOTA_OK, "%s", nota_last_error());
    float *xv = x->data;
    for (int i = 0; i < 12; i++) {
        float keep = xv[i];
        xv[i] = keep + 1e-3f;
        double lp = features_sum(x, phi, w->data);
        xv[i] = keep - 1e-3f;
        double lm = features_sum(x, phi, w->data);
        xv[i] = keep;
        double num = (lp - lm) / ((double)(keep + 1e-3f) - (double)(keep - 1e-3f));
        double ana = ((float *)dx->data)[i];
        cr_assert_leq(fabs(num - ana), 5e-3 * (1.0 + fabs(ana)), "d/dx[%d] %.6g vs %.6g", i, ana,
                      num);
    }
    nota_tensor_free(x);
    nota_tensor_free(dx);
    nota_tensor_free(phi);
    nota_tensor_free(w);
}
