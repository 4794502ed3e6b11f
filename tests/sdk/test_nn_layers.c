/* Forward-pass tests of the nn layers against independent references (naive
 * double-precision loops, hand-computed or PyTorch-documented values), the
 * Conv2d batch chunking, BatchNorm's running statistics and modes, and every
 * refusal with its exact message. Gradients are test_nn_grad.c's job. */
#include "nota/nn.h"
#include "nota/rng.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static nota_tensor *tensor(int ndim, const int64_t *shape, uint64_t stream) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, ndim, shape, &t), NOTA_OK);
    nota_rng_fill_normal(31, stream, t->data, nota_tensor_numel(t));
    return t;
}

static float *pf(const nota_nn_layer *l, size_t i) {
    nota_nn_param p;
    cr_assert_eq(nota_nn_layer_param(l, i, &p), NOTA_OK);
    return p.value->data;
}

Test(nn_layers, linear_matches_naive_loop) {
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(5, 3, true, &l), NOTA_OK);
    cr_assert_str_eq(nota_nn_layer_kind(l), "linear");
    int64_t s[2] = {4, 5};
    nota_tensor *x = tensor(2, s, 1);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    cr_assert_eq(y->ndim, 2);
    cr_assert_eq(y->shape[0], 4);
    cr_assert_eq(y->shape[1], 3);
    const float *w = pf(l, 0), *b = pf(l, 1), *xv = x->data, *yv = y->data;
    for (int i = 0; i < 4; i++)
        for (int o = 0; o < 3; o++) {
            double r = b[o];
            for (int k = 0; k < 5; k++)
                r += (double)w[o * 5 + k] * xv[i * 5 + k];
            cr_assert_float_eq(yv[i * 3 + o], r, 1e-5);
        }
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

/* Direct convolution in double, both padding modes. */
static double conv_ref(const float *x, const float *w, const float *b, int64_t c, int64_t h,
                       int64_t wd, int64_t kh, int64_t kw, int64_t s, int64_t p, bool reflect,
                       int64_t n, int64_t o, int64_t oy, int64_t ox) {
    double r = b ? b[o] : 0.0;
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
                int64_t iy = oy * s - p + i, ix = ox * s - p + j;
                if (reflect) {
                    iy = iy < 0 ? -iy : (iy >= h ? 2 * (h - 1) - iy : iy);
                    ix = ix < 0 ? -ix : (ix >= wd ? 2 * (wd - 1) - ix : ix);
                } else if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                    continue;
                }
                r += (double)w[((o * c + ci) * kh + i) * kw + j] *
                     x[((n * c + ci) * h + iy) * wd + ix];
            }
    return r;
}

static void conv_case(int64_t n, int64_t c, int64_t h, int64_t wd, int64_t oc, int64_t kh,
                      int64_t kw, int64_t s, int64_t p, nota_nn_padding mode, bool bias) {
    nota_nn_conv2d_opts o = {c, oc, kh, kw, s, p, mode, bias};
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_conv2d_new(&o, &l), NOTA_OK, "%s", nota_last_error());
    int64_t xs[4] = {n, c, h, wd};
    nota_tensor *x = tensor(4, xs, 2);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK, "%s", nota_last_error());
    int64_t ho = (h + 2 * p - kh) / s + 1, wo = (wd + 2 * p - kw) / s + 1;
    cr_assert_eq(y->shape[2], ho);
    cr_assert_eq(y->shape[3], wo);
    const float *yv = y->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t q = 0; q < oc; q++)
            for (int64_t a = 0; a < ho; a++)
                for (int64_t bb = 0; bb < wo; bb++) {
                    double r = conv_ref(x->data, pf(l, 0), bias ? pf(l, 1) : NULL, c, h, wd, kh, kw,
                                        s, p, mode == NOTA_NN_PAD_REFLECT, i, q, a, bb);
                    cr_assert_float_eq(yv[((i * oc + q) * ho + a) * wo + bb], r, 1e-4);
                }
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

Test(nn_layers, conv2d_matches_direct_convolution) {
    conv_case(2, 3, 5, 6, 4, 3, 3, 1, 1, NOTA_NN_PAD_ZERO, true);
    conv_case(2, 2, 7, 6, 3, 3, 3, 2, 1, NOTA_NN_PAD_ZERO, false);
    conv_case(1, 2, 6, 5, 3, 3, 2, 2, 2, NOTA_NN_PAD_REFLECT, true);
    conv_case(2, 1, 8, 8, 2, 7, 7, 1, 3, NOTA_NN_PAD_REFLECT, true);
}

Test(nn_layers, conv2d_chunked_batch_equals_one_sample_at_a_time) {
    /* 64 channels, 7x7 on 28x28: cols for one sample are 3136 x 784 floats,
     * so the 32 MiB budget splits a batch of 7 into chunks of 3, 3, 1. */
    nota_nn_conv2d_opts o = {64, 2, 7, 7, 1, 3, NOTA_NN_PAD_ZERO, true};
    nota_nn_layer *big, *one;
    cr_assert_eq(nota_nn_conv2d_new(&o, &big), NOTA_OK);
    cr_assert_eq(nota_nn_conv2d_new(&o, &one), NOTA_OK);
    int64_t xs[4] = {7, 64, 28, 28};
    nota_tensor *x = tensor(4, xs, 3);
    const nota_tensor *y, *dx;
    cr_assert_eq(nota_nn_layer_forward(big, x, &y), NOTA_OK);
    nota_tensor *dy = tensor(y->ndim, y->shape, 4);
    cr_assert_eq(nota_nn_layer_backward(big, dy, &dx), NOTA_OK);
    size_t item = 64 * 28 * 28, oitem = 2 * 28 * 28;
    for (int64_t i = 0; i < 7; i++) {
        nota_tensor *xi, *dyi;
        cr_assert_eq(nota_tensor_rows(x, i, 1, &xi), NOTA_OK);
        cr_assert_eq(nota_tensor_rows(dy, i, 1, &dyi), NOTA_OK);
        const nota_tensor *yi, *dxi;
        cr_assert_eq(nota_nn_layer_forward(one, xi, &yi), NOTA_OK);
        cr_assert_eq(nota_nn_layer_backward(one, dyi, &dxi), NOTA_OK);
        for (size_t k = 0; k < oitem; k += 97)
            cr_assert_float_eq(((float *)yi->data)[k], ((float *)y->data)[i * oitem + k], 1e-4);
        for (size_t k = 0; k < item; k += 101)
            cr_assert_float_eq(((float *)dxi->data)[k], ((float *)dx->data)[i * item + k], 1e-4);
        nota_tensor_free(xi);
        nota_tensor_free(dyi);
    }
    /* the accumulated weight gradient over 7 single-sample passes = one batch pass */
    nota_nn_param gb, go;
    cr_assert_eq(nota_nn_layer_param(big, 0, &gb), NOTA_OK);
    cr_assert_eq(nota_nn_layer_param(one, 0, &go), NOTA_OK);
    for (size_t k = 0; k < nota_tensor_numel(gb.grad); k += 13) {
        float a = ((float *)gb.grad->data)[k], b = ((float *)go.grad->data)[k];
        cr_assert_leq(fabsf(a - b), 1e-3f * (1.0f + fabsf(a)), "dW[%zu] %g vs %g", k, a, b);
    }
    nota_tensor_free(x);
    nota_tensor_free(dy);
    nota_nn_layer_free(big);
    nota_nn_layer_free(one);
}

Test(nn_layers, upsample_values_as_pytorch) {
    /* torch.nn.Upsample(scale_factor=2, mode='bilinear') of [[1,2],[3,4]] */
    static const float bil[16] = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                                  2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
    static const float nea[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    float xv[4] = {1, 2, 3, 4};
    int64_t s[4] = {1, 1, 2, 2};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 4, s, xv, &x), NOTA_OK);
    for (int mode = 0; mode < 2; mode++) {
        nota_nn_layer *l;
        cr_assert_eq(nota_nn_upsample2x_new((nota_nn_upsample_mode)mode, &l), NOTA_OK);
        const nota_tensor *y;
        cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
        cr_assert_eq(y->shape[2], 4);
        cr_assert_eq(y->shape[3], 4);
        for (int i = 0; i < 16; i++)
            cr_assert_float_eq(((float *)y->data)[i], mode ? bil[i] : nea[i], 1e-6, "mode %d [%d]",
                               mode, i);
        nota_nn_layer_free(l);
    }
    nota_tensor_free(x);
    /* nearest copies values: an Inf stays Inf (a 0-weighted blend would give NaN) */
    float iv[4] = {INFINITY, 1, 2, 3};
    nota_nn_layer *l;
    const nota_tensor *y;
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 4, s, iv, &x), NOTA_OK);
    cr_assert_eq(nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_NEAREST, &l), NOTA_OK);
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    cr_assert(isinf(((float *)y->data)[1]) && isinf(((float *)y->data)[4]));
    cr_assert_eq(((float *)y->data)[2], 1.0f);
    nota_nn_layer_free(l);
    nota_tensor_free(x);
}

Test(nn_layers, batchnorm_train_normalises_and_tracks_running_stats) {
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_batchnorm_new(2, false, 0.1f, 1e-5f, &l), NOTA_OK);
    /* channel 0: 1,2,3,4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1: 10 x 4 */
    float xv[8] = {1, 10, 2, 10, 3, 10, 4, 10};
    int64_t s[2] = {4, 2};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 2, s, xv, &x), NOTA_OK);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    const float *yv = y->data;
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(yv[2 * i], (xv[2 * i] - 2.5) / sqrt(1.25 + 1e-5), 1e-5);
        cr_assert_float_eq(yv[2 * i + 1], 0.0, 1e-6); /* constant channel: no NaN */
    }
    cr_assert_float_eq(pf(l, 2)[0], 0.25, 1e-6);
    cr_assert_float_eq(pf(l, 2)[1], 1.0, 1e-6);
    cr_assert_float_eq(pf(l, 3)[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-6);
    cr_assert_float_eq(pf(l, 3)[1], 0.9, 1e-6);
    /* eval mode: y = (x - running_mean) / sqrt(running_var + eps) */
    nota_nn_layer_set_training(l, false);
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    double rv = 0.9 + 0.1 * 5.0 / 3.0;
    cr_assert_float_eq(((float *)y->data)[0], (1.0 - 0.25) / sqrt(rv + 1e-5), 1e-5);
    cr_assert_float_eq(pf(l, 2)[0], 0.25, 1e-6); /* eval leaves them alone */
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

Test(nn_layers, batchnorm2d_uses_all_pixels_of_a_channel) {
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_batchnorm_new(3, true, 0.5f, 1e-5f, &l), NOTA_OK);
    int64_t s[4] = {2, 3, 4, 5};
    nota_tensor *x = tensor(4, s, 5);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    for (int c = 0; c < 3; c++) {
        double m = 0, v = 0;
        for (int n = 0; n < 2; n++)
            for (int q = 0; q < 20; q++)
                m += ((float *)y->data)[(n * 3 + c) * 20 + q];
        m /= 40;
        for (int n = 0; n < 2; n++)
            for (int q = 0; q < 20; q++) {
                double d = ((float *)y->data)[(n * 3 + c) * 20 + q] - m;
                v += d * d;
            }
        cr_assert_float_eq(m, 0.0, 1e-5);
        cr_assert_float_eq(v / 40, 1.0, 1e-3);
    }
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

Test(nn_layers, activations_values) {
    float xv[5] = {-200.0f, -1.0f, 0.0f, 0.5f, 200.0f};
    int64_t s[1] = {5};
    nota_tensor *x;
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 1, s, xv, &x), NOTA_OK);
    struct {
        nota_nn_act_kind k;
        float p;
        const char *name;
        float want[5];
    } t[4] = {
        {NOTA_NN_RELU, 0, "relu", {0, 0, 0, 0.5f, 200}},
        {NOTA_NN_LEAKY_RELU, 0.1f, "leaky_relu", {-20, -0.1f, 0, 0.5f, 200}},
        {NOTA_NN_TANH, 0, "tanh", {-1, -0.7615942f, 0, 0.4621172f, 1}},
        {NOTA_NN_SIGMOID, 0, "sigmoid", {0, 0.2689414f, 0.5f, 0.6224593f, 1}},
    };
    for (int a = 0; a < 4; a++) {
        nota_nn_layer *l;
        cr_assert_eq(nota_nn_act_new(t[a].k, t[a].p, &l), NOTA_OK);
        cr_assert_str_eq(nota_nn_layer_kind(l), t[a].name);
        const nota_tensor *y;
        cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
        for (int i = 0; i < 5; i++)
            cr_assert_float_eq(((float *)y->data)[i], t[a].want[i], 1e-6, "%s(%g)", t[a].name,
                               (double)xv[i]);
        nota_nn_layer_free(l);
    }
    nota_tensor_free(x);
}

Test(nn_layers, fourier_matches_the_formula) {
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_fourier_new(3, 3, true, &l), NOTA_OK);
    nota_nn_param p;
    cr_assert_eq(nota_nn_layer_param(l, 0, &p), NOTA_OK);
    cr_assert_eq(p.value->shape[0], 16); /* 2 * 2^3 */
    cr_assert_eq(p.value->shape[1], 3);
    int64_t s[2] = {4, 3};
    nota_tensor *x = tensor(2, s, 6);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    const float *a = p.value->data, *xv = x->data;
    for (int i = 0; i < 4; i++)
        for (int o = 0; o < 3; o++) {
            double r = xv[i * 3 + o]; /* residual */
            for (int k = 0; k < 8; k++) {
                double th = 0;
                for (int j = 0; j < 3; j++)
                    if (k >> j & 1) th += 2 * M_PI * xv[i * 3 + j];
                r += a[k * 3 + o] * cos(th) + a[(8 + k) * 3 + o] * sin(th);
            }
            cr_assert_float_eq(((float *)y->data)[i * 3 + o], r, 1e-4);
        }
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

Test(nn_layers, reshape_keeps_data) {
    nota_nn_layer *l;
    int64_t item[3] = {2, 3, 2};
    cr_assert_eq(nota_nn_reshape_new(3, item, &l), NOTA_OK);
    int64_t s[2] = {2, 12};
    nota_tensor *x = tensor(2, s, 7);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    cr_assert_eq(y->ndim, 4);
    cr_assert_eq(y->shape[0], 2);
    cr_assert_eq(y->shape[3], 2);
    cr_assert_eq(memcmp(y->data, x->data, x->nbytes), 0);
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}

/* ---- refusals, each with its exact message */

Test(nn_layers, shape_errors_name_both_shapes) {
    nota_nn_layer *lin, *conv, *bn, *fo;
    cr_assert_eq(nota_nn_linear_new(5, 3, true, &lin), NOTA_OK);
    int64_t s[2] = {128, 7};
    nota_tensor *x = tensor(2, s, 8);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(lin, x, &y), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "linear: given x (128, 7), expects (N, 5)");
    cr_assert_null(y);

    nota_nn_conv2d_opts o = {3, 4, 3, 3, 1, 4, NOTA_NN_PAD_REFLECT, true};
    cr_assert_eq(nota_nn_conv2d_new(&o, &conv), NOTA_OK);
    int64_t cs[4] = {2, 2, 4, 4};
    nota_tensor *xc = tensor(4, cs, 9);
    cr_assert_eq(nota_nn_layer_forward(conv, xc, &y), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "conv2d: given x (2, 2, 4, 4), expects (N, 3, H, W)");
    int64_t cs2[4] = {2, 3, 4, 4};
    nota_tensor *xc2 = tensor(4, cs2, 9);
    cr_assert_eq(nota_nn_layer_forward(conv, xc2, &y), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "conv2d: given x (2, 3, 4, 4), expects H and W > 4 for reflection padding 4");

    cr_assert_eq(nota_nn_batchnorm_new(7, false, 0.1f, 1e-5f, &bn), NOTA_OK);
    cr_assert_eq(nota_nn_layer_forward(bn, x, &y), NOTA_OK);
    int64_t one[2] = {1, 7};
    nota_tensor *x1 = tensor(2, one, 10);
    cr_assert_eq(nota_nn_layer_forward(bn, x1, &y), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "batchnorm: training needs more than 1 value per channel, given x (1, 7)");
    nota_nn_layer_set_training(bn, false);
    cr_assert_eq(nota_nn_layer_forward(bn, x1, &y), NOTA_OK);

    cr_assert_eq(nota_nn_fourier_new(2, 3, true, &fo), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "fourier: residual needs in == out, got in 2, out 3");
    cr_assert_eq(nota_nn_fourier_new(17, 3, false, &fo), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "fourier: in 17 must be in 1..16 and out 3 >= 1");

    nota_tensor_free(x);
    nota_tensor_free(x1);
    nota_tensor_free(xc);
    nota_tensor_free(xc2);
    nota_nn_layer_free(lin);
    nota_nn_layer_free(conv);
    nota_nn_layer_free(bn);
}

Test(nn_layers, backward_misuse_is_refused) {
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(5, 3, true, &l), NOTA_OK);
    int64_t s[2] = {4, 5}, sy[2] = {4, 2};
    nota_tensor *x = tensor(2, s, 11), *dy = tensor(2, sy, 12);
    const nota_tensor *y, *dx;
    cr_assert_eq(nota_nn_layer_backward(l, dy, &dx), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "linear: backward called without a forward before it");
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    cr_assert_eq(nota_nn_layer_backward(l, dy, &dx), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "linear: given dy (4, 2), expects the output's shape (4, 3)");
    nota_tensor *u8;
    cr_assert_eq(nota_tensor_new(NOTA_U8, 2, s, &u8), NOTA_OK);
    cr_assert_eq(nota_nn_layer_forward(l, u8, &y), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "linear: x must be an f32 CPU tensor, found u8");
    nota_tensor_free(u8);
    nota_tensor_free(x);
    nota_tensor_free(dy);
    nota_nn_layer_free(l);
}

Test(nn_layers, constructor_arguments_are_checked) {
    nota_nn_layer *l = (nota_nn_layer *)1;
    cr_assert_eq(nota_nn_linear_new(0, 3, true, &l), NOTA_EINVAL);
    cr_assert_null(l);
    cr_assert_str_eq(nota_last_error(), "linear: in 0 and out 3 must be >= 1");
    nota_nn_conv2d_opts o = {3, 4, 3, 3, 0, 1, NOTA_NN_PAD_ZERO, true};
    cr_assert_eq(nota_nn_conv2d_new(&o, &l), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "conv2d: stride 0 must be >= 1 and padding 1 >= 0");
    cr_assert_eq(nota_nn_batchnorm_new(4, false, 1.5f, 1e-5f, &l), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "batchnorm: momentum 1.5 outside [0, 1]");
    cr_assert_eq(nota_nn_upsample2x_new((nota_nn_upsample_mode)7, &l), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "upsample2x: unknown mode 7");
    cr_assert_eq(nota_nn_act_new((nota_nn_act_kind)9, 0, &l), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "nota_nn_act_new: unknown activation kind 9");
    int64_t item[2] = {3, 0};
    cr_assert_eq(nota_nn_reshape_new(2, item, &l), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "reshape: dimension 1 is 0, expected >= 1");
}

Test(nn_layers, fourier_features_match_the_layer) {
    /* the layer without residual is exactly features × weight */
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_fourier_new(2, 3, false, &l), NOTA_OK);
    int64_t s[2] = {5, 2}, ps[2] = {5, 8};
    nota_tensor *x = tensor(2, s, 13), *phi;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, ps, &phi), NOTA_OK);
    cr_assert_eq(nota_nn_fourier_features(x, phi), NOTA_OK);
    const float *xv = x->data, *f = phi->data, *w = pf(l, 0);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++) {
            double th = 2 * M_PI * ((k & 1) * xv[i * 2] + (k >> 1 & 1) * xv[i * 2 + 1]);
            cr_assert_float_eq(f[i * 8 + k], cos(th), 1e-5);
            cr_assert_float_eq(f[i * 8 + 4 + k], sin(th), 1e-5);
        }
    const nota_tensor *y;
    cr_assert_eq(nota_nn_layer_forward(l, x, &y), NOTA_OK);
    for (int i = 0; i < 5; i++)
        for (int o = 0; o < 3; o++) {
            double r = 0;
            for (int k = 0; k < 8; k++)
                r += (double)f[i * 8 + k] * w[k * 3 + o];
            cr_assert_float_eq(((float *)y->data)[i * 3 + o], r, 1e-5);
        }
    /* refusals */
    int64_t bad[2] = {5, 4};
    nota_tensor *phib;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, bad, &phib), NOTA_OK);
    cr_assert_eq(nota_nn_fourier_features(x, phib), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "nota_nn_fourier_features: given phi (5, 4), expects (5, 8) for x (5, 2)");
    int64_t wide[2] = {2, 17};
    nota_tensor *xw = tensor(2, wide, 14);
    cr_assert_eq(nota_nn_fourier_features(xw, phib), NOTA_EINVAL);
    cr_assert_str_eq(
        nota_last_error(),
        "nota_nn_fourier_features: x (2, 17) has 17 columns, at most 16 are supported");
    nota_tensor_free(xw);
    nota_tensor_free(phib);
    nota_tensor_free(phi);
    nota_tensor_free(x);
    nota_nn_layer_free(l);
}
