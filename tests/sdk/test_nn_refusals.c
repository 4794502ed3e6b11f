/* Refusals of the nn kit not covered next to their feature tests: each call
 * with its exact status and message, one table row per refusal so the
 * coverage is visible at a glance. */
#include "nota/nn.h"
#include "nota/rng.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static nota_tensor *t2(int64_t r, int64_t c) {
    nota_tensor *t;
    int64_t s[2] = {r, c};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &t), NOTA_OK);
    nota_rng_fill_normal(3, (uint64_t)(r * 131 + c), t->data, (size_t)(r * c));
    return t;
}

static nota_tensor *t4(int64_t n, int64_t c, int64_t h, int64_t w) {
    nota_tensor *t;
    int64_t s[4] = {n, c, h, w};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 4, s, &t), NOTA_OK);
    return t;
}

static void expect(nota_status got, nota_status want, const char *msg) {
    cr_assert_eq(got, want, "status %d, want %d (%s)", (int)got, (int)want, nota_last_error());
    cr_assert_str_eq(nota_last_error(), msg);
}

Test(nn_refusals, constructors) {
    nota_nn_layer *l;
    nota_nn_conv2d_opts o = {3, 4, 3, 3, 1, 1, (nota_nn_padding)5, true};
    expect(nota_nn_conv2d_new(&o, &l), NOTA_EINVAL, "conv2d: unknown padding mode 5");
    o = (nota_nn_conv2d_opts){0, 4, 3, 3, 1, 1, NOTA_NN_PAD_ZERO, true};
    expect(nota_nn_conv2d_new(&o, &l), NOTA_EINVAL,
           "conv2d: channels (0, 4) and kernel (3, 3) must be >= 1");
    expect(nota_nn_batchnorm_new(0, false, 0.1f, 1e-5f, &l), NOTA_EINVAL,
           "batchnorm: features 0 must be >= 1");
    expect(nota_nn_batchnorm_new(4, false, 0.1f, 0.0f, &l), NOTA_EINVAL,
           "batchnorm: eps 0 must be > 0");
    expect(nota_nn_act_new(NOTA_NN_LEAKY_RELU, NAN, &l), NOTA_EINVAL,
           "leaky_relu: slope must be finite");
    expect(nota_nn_reshape_new(0, NULL, &l), NOTA_EINVAL, "reshape: item_ndim 0 outside 1..7");
    expect(nota_nn_linear_new(2, 2, true, NULL), NOTA_EINVAL, "nota_nn_linear_new: layer is NULL");
}

Test(nn_refusals, layer_inputs) {
    nota_nn_layer *up, *bn1, *bn2, *rs, *fo, *conv;
    cr_assert_eq(nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_NEAREST, &up), NOTA_OK);
    cr_assert_eq(nota_nn_batchnorm_new(4, false, 0.1f, 1e-5f, &bn1), NOTA_OK);
    cr_assert_eq(nota_nn_batchnorm_new(4, true, 0.1f, 1e-5f, &bn2), NOTA_OK);
    int64_t item[2] = {2, 3};
    cr_assert_eq(nota_nn_reshape_new(2, item, &rs), NOTA_OK);
    cr_assert_eq(nota_nn_fourier_new(2, 2, true, &fo), NOTA_OK);
    nota_nn_conv2d_opts o = {1, 1, 5, 5, 1, 1, NOTA_NN_PAD_ZERO, false};
    cr_assert_eq(nota_nn_conv2d_new(&o, &conv), NOTA_OK);
    nota_tensor *a = t2(3, 5), *img = t4(2, 1, 2, 2);
    const nota_tensor *y;
    expect(nota_nn_layer_forward(up, a, &y), NOTA_ESHAPE,
           "upsample2x: given x (3, 5), expects (N, C, H, W)");
    expect(nota_nn_layer_forward(bn1, a, &y), NOTA_ESHAPE,
           "batchnorm: given x (3, 5), expects (N, 4)");
    expect(nota_nn_layer_forward(bn2, img, &y), NOTA_ESHAPE,
           "batchnorm: given x (2, 1, 2, 2), expects (N, 4, H, W)");
    expect(nota_nn_layer_forward(rs, a, &y), NOTA_ESHAPE,
           "reshape: given x (3, 5), expects N items of 6 elements (to reshape to N x (2, 3))");
    expect(nota_nn_layer_forward(fo, a, &y), NOTA_ESHAPE,
           "fourier: given x (3, 5), expects (N, 2)");
    expect(nota_nn_layer_forward(conv, img, &y), NOTA_ESHAPE,
           "conv2d: given x (2, 1, 2, 2), expects H + 2*1 >= 5 and W + 2*1 >= 5");
    nota_nn_param p;
    expect(nota_nn_layer_param(up, 0, &p), NOTA_EINVAL,
           "upsample2x: parameter index 0, layer has 0");
    nota_tensor_free(a);
    nota_tensor_free(img);
    nota_nn_layer_free(up);
    nota_nn_layer_free(bn1);
    nota_nn_layer_free(bn2);
    nota_nn_layer_free(rs);
    nota_nn_layer_free(fo);
    nota_nn_layer_free(conv);
}

Test(nn_refusals, losses_and_reparam) {
    nota_tensor *a = t2(2, 4), *b = t2(2, 3), *eps = t2(2, 2), *z = t2(2, 2), *dz = t2(3, 2);
    double v;
    expect(nota_nn_loss_l1(a, a, (nota_nn_reduction)9, &v, NULL), NOTA_EINVAL,
           "l1: unknown reduction 9");
    expect(nota_nn_loss_bce_logits(a, a, NOTA_NN_SUM, NULL, NULL), NOTA_EINVAL,
           "bce_logits: loss is NULL");
    expect(nota_nn_loss_mse(a, a, NOTA_NN_SUM, &v, b), NOTA_ESHAPE,
           "mse: pred (2, 4) and grad (2, 3) differ in shape");
    expect(nota_nn_loss_gaussian_kl(a, NOTA_NN_SUM, &v, b), NOTA_ESHAPE,
           "gaussian_kl: stats (2, 4) and grad (2, 3) differ in shape");
    expect(nota_nn_reparam(a, eps, b), NOTA_ESHAPE,
           "reparam: given z (2, 3), expects (2, 2) for stats (2, 4)");
    expect(nota_nn_reparam_backward(a, eps, dz, a), NOTA_ESHAPE,
           "reparam_backward: given dz (3, 2), expects (2, 2) for stats (2, 4)");
    expect(nota_nn_reparam_backward(a, eps, z, b), NOTA_ESHAPE,
           "reparam_backward: stats (2, 4) and dstats (2, 3) differ in shape");
    nota_tensor *u8;
    int64_t s[2] = {2, 4};
    cr_assert_eq(nota_tensor_new(NOTA_U8, 2, s, &u8), NOTA_OK);
    expect(nota_nn_loss_mse(a, u8, NOTA_NN_SUM, &v, NULL), NOTA_EINVAL,
           "mse: target must be an f32 CPU tensor");
    nota_tensor_free(u8);
    nota_tensor_free(a);
    nota_tensor_free(b);
    nota_tensor_free(eps);
    nota_tensor_free(z);
    nota_tensor_free(dz);
}

Test(nn_refusals, initialisers_and_optimizers) {
    nota_tensor *a = t2(2, 2);
    expect(nota_nn_init_tensor(a, NOTA_NN_INIT_NORMAL, 0, -1, 1, 1, 1, 1), NOTA_EINVAL,
           "nota_nn_init_tensor: normal std -1 < 0");
    expect(nota_nn_init_tensor(a, NOTA_NN_INIT_UNIFORM, 1, 0, 1, 1, 1, 1), NOTA_EINVAL,
           "nota_nn_init_tensor: uniform bounds [1, 0) reversed");
    expect(nota_nn_init_tensor(a, NOTA_NN_INIT_KAIMING_NORMAL, 0, 0, 0, 1, 1, 1), NOTA_EINVAL,
           "nota_nn_init_tensor: Kaiming needs fan_in >= 1, got 0");
    expect(nota_nn_init_tensor(a, (nota_nn_init_kind)42, 0, 0, 1, 1, 1, 1), NOTA_EINVAL,
           "nota_nn_init_tensor: unknown kind 42");
    nota_tensor_free(a);

    nota_nn_optim *opt;
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    ao.eps = 0.0f;
    expect(nota_nn_adam_new(&ao, &opt), NOTA_EINVAL,
           "adam: eps 0 must be > 0 and weight_decay 0 >= 0");
    ao = nota_nn_adam_defaults();
    ao.wd_mode = (nota_nn_weight_decay)3;
    expect(nota_nn_adam_new(&ao, &opt), NOTA_EINVAL, "adam: unknown weight-decay mode 3");
    ao = nota_nn_adam_defaults();
    ao.schedule.kind = (nota_nn_schedule_kind)7;
    expect(nota_nn_adam_new(&ao, &opt), NOTA_EINVAL, "adam: unknown schedule kind 7");
    ao = nota_nn_adam_defaults();
    ao.schedule = (nota_nn_schedule){NOTA_NN_LR_LINEAR, 1e-3f, -1.0f, 10};
    expect(nota_nn_adam_new(&ao, &opt), NOTA_EINVAL,
           "adam: final learning rate -1 must be finite and >= 0");
    nota_nn_sgd_opts so = {{NOTA_NN_LR_CONSTANT, 0.1f, 0.1f, 0}, 1.0f, 0.0f, NOTA_NN_WD_L2};
    expect(nota_nn_sgd_new(&so, &opt), NOTA_EINVAL,
           "sgd: momentum 1 must be in [0, 1) and weight_decay 0 >= 0");
    so.momentum = 0.5f;
    so.wd_mode = (nota_nn_weight_decay)4;
    expect(nota_nn_sgd_new(&so, &opt), NOTA_EINVAL, "sgd: unknown weight-decay mode 4");
}

Test(nn_refusals, model_file_contents) {
    nota_nn_net *net;
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_net_new(&net), NOTA_OK);
    cr_assert_eq(nota_nn_linear_new(2, 2, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    /* a u8 tensor where an f32 weight belongs */
    nota_tensor *u8;
    int64_t s[2] = {2, 2};
    cr_assert_eq(nota_tensor_new(NOTA_U8, 2, s, &u8), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "0.weight", u8), NOTA_OK);
    expect(nota_nn_net_load(net, mf, ""), NOTA_EINVAL, "net tensor '0.weight' is u8, expected f32");
    /* a prefix so long the names cannot be stored */
    char prefix[300];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    cr_assert_eq(nota_nn_net_save(net, mf, prefix), NOTA_ELIMIT);
    cr_assert_not_null(strstr(nota_last_error(), "exceeds 255 bytes"), "%s", nota_last_error());
    nota_modelfile_free(mf);

    /* optimizer state: wrong size, unknown kind, negative second moment */
    nota_nn_adam_opts ao = nota_nn_adam_defaults();
    nota_nn_optim *opt;
    cr_assert_eq(nota_nn_adam_new(&ao, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_net(opt, net), NOTA_OK);
    uint8_t bytes[9] = {0};
    int64_t n8 = 8, n9 = 9;
    nota_tensor *st8, *st9;
    cr_assert_eq(nota_tensor_wrap(NOTA_U8, 1, &n8, bytes, &st8), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "o.state", st8), NOTA_OK);
    expect(nota_nn_optim_load(opt, mf, "o."), NOTA_EFORMAT,
           "optimizer tensor 'o.state' must be 9 bytes (u8 (9,))");
    nota_modelfile_free(mf);
    bytes[8] = 7;
    cr_assert_eq(nota_tensor_wrap(NOTA_U8, 1, &n9, bytes, &st9), NOTA_OK);
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_modelfile_add_tensor(mf, "o.state", st9), NOTA_OK);
    expect(nota_nn_optim_load(opt, mf, "o."), NOTA_EFORMAT,
           "optimizer tensor 'o.state' names unknown kind 7");
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_nn_optim_save(opt, mf, "o."), NOTA_OK);
    nota_modelfile *mf2;
    cr_assert_eq(nota_modelfile_new("test", 1, &mf2), NOTA_OK);
    /* copy everything but o.v.1, which gets a negative element */
    for (size_t i = 0; i < nota_modelfile_tensor_count(mf); i++) {
        const char *name = nota_modelfile_tensor_name(mf, i);
        const nota_tensor *t;
        cr_assert_eq(nota_modelfile_get_tensor(mf, name, &t), NOTA_OK);
        nota_tensor *c;
        cr_assert_eq(nota_tensor_clone(t, &c), NOTA_OK);
        if (!strcmp(name, "o.v.1")) ((float *)c->data)[1] = -1.0f;
        cr_assert_eq(nota_modelfile_add_tensor(mf2, name, c), NOTA_OK);
        nota_tensor_free(c);
    }
    expect(nota_nn_optim_load(opt, mf2, "o."), NOTA_EFORMAT,
           "optimizer tensor 'o.v.1' has a negative element 1");
    nota_modelfile_free(mf);
    nota_modelfile_free(mf2);
    nota_tensor_free(st8);
    nota_tensor_free(st9);
    nota_tensor_free(u8);
    nota_nn_optim_free(opt);
    nota_nn_net_free(net);
}
