/* The nn kit against PyTorch: the small network of
 * tests/fixtures/nn_torch/make.py (Conv2d with reflection padding,
 * BatchNorm2d in training mode, LeakyReLU, bilinear ×2 upsampling on odd
 * sizes, stride-2 Conv2d, Tanh, Linear on the flattened map, BCE-with-logits
 * mean, then one Adam step with L2 weight decay) loaded with PyTorch's
 * parameters and input. Outputs, loss, every gradient, BatchNorm's running
 * statistics and the updated parameters must match PyTorch's within 2e-5
 * (relative to 1 + |value|: f32 in both, different summation orders). This
 * pins the conventions the finite-difference tests cannot see. */
#include "nota/data.h"
#include "nota/nn.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#define TOL 2e-5

static nota_tensor *fixture(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/nn_torch/%s.npy", NOTA_SOURCE_DIR, name);
    nota_tensor *t;
    cr_assert_eq(nota_npy_read(path, &t), NOTA_OK, "%s", nota_last_error());
    return t;
}

static void expect_close(const char *what, const nota_tensor *got, const char *ref_name) {
    nota_tensor *ref = fixture(ref_name);
    cr_assert_eq(nota_tensor_numel(got), nota_tensor_numel(ref), "%s: size", what);
    const float *a = got->data, *b = ref->data;
    for (size_t i = 0; i < nota_tensor_numel(ref); i++)
        cr_assert_leq(fabsf(a[i] - b[i]), TOL * (1.0f + fabsf(b[i])),
                      "%s[%zu]: nota %.7g, torch %.7g", what, i, (double)a[i], (double)b[i]);
    nota_tensor_free(ref);
}

/* Copy fixture `name` into parameter i of layer l (shapes must agree). */
static void set_param(nota_nn_layer *l, size_t i, const char *name) {
    nota_nn_param p;
    cr_assert_eq(nota_nn_layer_param(l, i, &p), NOTA_OK);
    nota_tensor *t = fixture(name);
    cr_assert(nota_tensor_same_shape(t, p.value), "%s: shape differs from the layer's", name);
    memcpy(p.value->data, t->data, t->nbytes);
    nota_tensor_free(t);
}

Test(nn_torch, network_forward_backward_and_adam_match_pytorch) {
    nota_nn_net *net;
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_net_new(&net), NOTA_OK);
    nota_nn_conv2d_opts c1 = {2, 3, 3, 3, 1, 1, NOTA_NN_PAD_REFLECT, true};
    nota_nn_conv2d_opts c2 = {3, 2, 3, 3, 2, 1, NOTA_NN_PAD_ZERO, true};
    cr_assert_eq(nota_nn_conv2d_new(&c1, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_batchnorm_new(3, true, 0.1f, 1e-5f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_act_new(NOTA_NN_LEAKY_RELU, 0.2f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_upsample2x_new(NOTA_NN_UPSAMPLE_BILINEAR, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_conv2d_new(&c2, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_act_new(NOTA_NN_TANH, 0.0f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_linear_new(60, 8, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);

    /* layer index in the net, PyTorch name */
    const struct {
        size_t layer;
        const char *name;
    } params[4] = {{0, "conv1"}, {1, "bn"}, {4, "conv2"}, {6, "lin"}};
    char buf[64];
    for (int k = 0; k < 4; k++) {
        snprintf(buf, sizeof buf, "%s.weight", params[k].name);
        set_param(nota_nn_net_layer(net, params[k].layer), 0, buf);
        snprintf(buf, sizeof buf, "%s.bias", params[k].name);
        set_param(nota_nn_net_layer(net, params[k].layer), 1, buf);
    }

    nota_tensor *x = fixture("x"), *target = fixture("target"), *g;
    const nota_tensor *logits, *dx;
    cr_assert_eq(nota_nn_net_forward(net, x, &logits), NOTA_OK, "%s", nota_last_error());
    expect_close("logits", logits, "logits");
    double loss;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, logits->shape, &g), NOTA_OK);
    cr_assert_eq(nota_nn_loss_bce_logits(logits, target, NOTA_NN_MEAN, &loss, g), NOTA_OK);
    nota_tensor *ref_loss = fixture("loss");
    cr_assert_float_eq(loss, ((float *)ref_loss->data)[0], 1e-5);
    nota_tensor_free(ref_loss);

    nota_nn_net_zero_grad(net);
    cr_assert_eq(nota_nn_net_backward(net, g, &dx), NOTA_OK, "%s", nota_last_error());
    expect_close("dx", dx, "x.grad");
    for (int k = 0; k < 4; k++) {
        nota_nn_param p;
        nota_nn_layer *layer = nota_nn_net_layer(net, params[k].layer);
        const char *field[2] = {"weight", "bias"};
        for (int f = 0; f < 2; f++) {
            cr_assert_eq(nota_nn_layer_param(layer, (size_t)f, &p), NOTA_OK);
            snprintf(buf, sizeof buf, "%s.%s.grad", params[k].name, field[f]);
            expect_close(buf, p.grad, buf);
        }
    }
    nota_nn_param rm, rv;
    cr_assert_eq(nota_nn_layer_param(nota_nn_net_layer(net, 1), 2, &rm), NOTA_OK);
    cr_assert_eq(nota_nn_layer_param(nota_nn_net_layer(net, 1), 3, &rv), NOTA_OK);
    expect_close("running_mean", rm.value, "bn.running_mean");
    expect_close("running_var", rv.value, "bn.running_var");

    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.schedule.lr = 1e-2f;
    o.weight_decay = 0.1f;
    o.wd_mode = NOTA_NN_WD_L2;
    nota_nn_optim *opt;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_net(opt, net), NOTA_OK);
    cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    for (int k = 0; k < 4; k++) {
        nota_nn_param p;
        nota_nn_layer *layer = nota_nn_net_layer(net, params[k].layer);
        const char *field[2] = {"weight", "bias"};
        for (int f = 0; f < 2; f++) {
            cr_assert_eq(nota_nn_layer_param(layer, (size_t)f, &p), NOTA_OK);
            snprintf(buf, sizeof buf, "%s.%s.after", params[k].name, field[f]);
            expect_close(buf, p.value, buf);
        }
    }
    nota_nn_optim_free(opt);
    nota_tensor_free(g);
    nota_tensor_free(x);
    nota_tensor_free(target);
    nota_nn_net_free(net);
}
