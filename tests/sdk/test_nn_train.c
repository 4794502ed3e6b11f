/* Tests of the nn kit's training side: learning-rate schedules, Adam and SGD
 * against hand-computed steps (both weight-decay modes), initialisers
 * (reproducible per seed, right scale), the sequential net (forward/backward
 * chaining, parameter names), save → file → load reproducing inference bit
 * for bit, load refusals leaving the net unchanged, and a small end-to-end
 * fit whose loss must fall. */
#include "nota/nn.h"
#include "nota/rng.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(nn_train, schedules) {
    nota_nn_schedule c = {NOTA_NN_LR_CONSTANT, 0.1f, 0.0f, 0};
    cr_assert_float_eq(nota_nn_schedule_lr(&c, 1000), 0.1f, 1e-9);
    nota_nn_schedule l = {NOTA_NN_LR_LINEAR, 1.0f, 0.0f, 4};
    cr_assert_float_eq(nota_nn_schedule_lr(&l, 0), 1.0f, 1e-7);
    cr_assert_float_eq(nota_nn_schedule_lr(&l, 1), 0.75f, 1e-7);
    cr_assert_float_eq(nota_nn_schedule_lr(&l, 4), 0.0f, 1e-7);
    cr_assert_float_eq(nota_nn_schedule_lr(&l, 9), 0.0f, 1e-7);
    nota_nn_schedule k = {NOTA_NN_LR_COSINE, 1.0f, 0.1f, 4};
    cr_assert_float_eq(nota_nn_schedule_lr(&k, 0), 1.0f, 1e-7);
    cr_assert_float_eq(nota_nn_schedule_lr(&k, 2), 0.55f, 1e-6);
    cr_assert_float_eq(nota_nn_schedule_lr(&k, 1), 0.1 + 0.9 * 0.5 * (1 + cos(M_PI / 4)), 1e-6);
    cr_assert_float_eq(nota_nn_schedule_lr(&k, 5), 0.1f, 1e-7);
}

/* A one-weight "layer": Linear(1, 1, no bias) with w set, grad set by hand. */
static nota_nn_layer *scalar_layer(float w, nota_nn_param *p) {
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(1, 1, false, &l), NOTA_OK);
    cr_assert_eq(nota_nn_layer_param(l, 0, p), NOTA_OK);
    ((float *)p->value->data)[0] = w;
    return l;
}

Test(nn_train, adam_steps_as_pytorch) {
    nota_nn_param p;
    nota_nn_layer *l = scalar_layer(1.0f, &p);
    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.schedule.lr = 0.1f;
    nota_nn_optim *opt;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_OK);
    float *w = p.value->data, *g = p.grad->data;
    /* step 1: m = 0.05, v = 2.5e-4, m̂ = 0.5, v̂ = 0.25: w -= 0.1 · 0.5/(0.5 + 1e-8) */
    g[0] = 0.5f;
    cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    cr_assert_float_eq(w[0], 0.9f, 1e-6);
    /* step 2 with g = -1: m = 0.045 - 0.1 = -0.055, v = 2.4975e-4 + 1e-3 */
    g[0] = -1.0f;
    cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    double m = -0.055 / (1 - 0.81), v = (0.999 * 2.5e-4 + 0.001) / (1 - 0.998001);
    cr_assert_float_eq(w[0], 0.9 - 0.1 * m / (sqrt(v) + 1e-8), 1e-6);
    cr_assert_eq(nota_nn_optim_steps(opt), 2);
    nota_nn_optim_zero_grad(opt);
    cr_assert_eq(g[0], 0.0f);
    nota_nn_optim_free(opt);
    nota_nn_layer_free(l);
}

Test(nn_train, adam_weight_decay_modes) {
    for (int mode = 0; mode < 2; mode++) {
        nota_nn_param p;
        nota_nn_layer *l = scalar_layer(2.0f, &p);
        nota_nn_adam_opts o = nota_nn_adam_defaults();
        o.schedule.lr = 0.1f;
        o.weight_decay = 0.5f;
        o.wd_mode = (nota_nn_weight_decay)mode;
        nota_nn_optim *opt;
        cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
        cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_OK);
        ((float *)p.grad->data)[0] = 0.0f;
        cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
        float w = ((float *)p.value->data)[0];
        if (mode == NOTA_NN_WD_L2) /* g = 0 + 0.5·2 = 1: a full lr step */
            cr_assert_float_eq(w, 1.9f, 1e-6);
        else /* w·(1 - 0.1·0.5) = 1.9, then a zero-gradient Adam step */
            cr_assert_float_eq(w, 1.9f, 1e-6);
        /* a second step tells them apart: L2's moments remember the decay */
        cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
        w = ((float *)p.value->data)[0];
        if (mode == NOTA_NN_WD_L2) {
            double g2 = 0.5 * 1.9, m = (0.09 + 0.1 * g2) / 0.19;
            double v = (0.999 * 0.001 + 0.001 * g2 * g2) / (1 - 0.998001);
            cr_assert_float_eq(w, 1.9 - 0.1 * m / (sqrt(v) + 1e-8), 1e-5);
        } else {
            cr_assert_float_eq(w, 1.9 * 0.95, 1e-6);
        }
        nota_nn_optim_free(opt);
        nota_nn_layer_free(l);
    }
}

Test(nn_train, sgd_momentum_steps) {
    nota_nn_param p;
    nota_nn_layer *l = scalar_layer(1.0f, &p);
    nota_nn_sgd_opts o = {{NOTA_NN_LR_CONSTANT, 0.1f, 0.1f, 0}, 0.9f, 0.0f, NOTA_NN_WD_L2};
    nota_nn_optim *opt;
    cr_assert_eq(nota_nn_sgd_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_OK);
    ((float *)p.grad->data)[0] = 1.0f;
    cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK); /* b = 1, w = 0.9 */
    cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK); /* b = 1.9, w = 0.71 */
    cr_assert_float_eq(((float *)p.value->data)[0], 0.71f, 1e-6);
    nota_nn_optim_free(opt);
    nota_nn_layer_free(l);
}

Test(nn_train, optimizer_options_are_checked) {
    nota_nn_optim *opt = (nota_nn_optim *)1;
    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.beta2 = 1.0f;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_EINVAL);
    cr_assert_null(opt);
    cr_assert_str_eq(nota_last_error(), "adam: betas (0.9, 1) must be in [0, 1)");
    o = nota_nn_adam_defaults();
    o.schedule.kind = NOTA_NN_LR_COSINE;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "adam: schedule total_steps 0 must be >= 1");
    o = nota_nn_adam_defaults();
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(2, 2, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "optimizer: parameter 'weight' is already registered");
    nota_nn_optim_free(opt);
    nota_nn_layer_free(l);
    nota_nn_sgd_opts s = {{NOTA_NN_LR_CONSTANT, -1.0f, 0.0f, 0}, 0.0f, 0.0f, NOTA_NN_WD_L2};
    cr_assert_eq(nota_nn_sgd_new(&s, &opt), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "sgd: learning rate -1 must be finite and >= 0");
}

Test(nn_train, initialisers_reproducible_and_scaled) {
    int64_t s[2] = {200, 100};
    nota_tensor *a, *b;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &a), NOTA_OK);
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &b), NOTA_OK);
    const nota_nn_init_kind kinds[6] = {NOTA_NN_INIT_NORMAL,         NOTA_NN_INIT_UNIFORM,
                                        NOTA_NN_INIT_KAIMING_NORMAL, NOTA_NN_INIT_KAIMING_UNIFORM,
                                        NOTA_NN_INIT_XAVIER_NORMAL,  NOTA_NN_INIT_XAVIER_UNIFORM};
    /* wanted std: N(0, 0.5²); U(-1, 1); Kaiming gain √2 over fan_in 100;
     * Xavier over fan_in + fan_out = 300 */
    const double a_arg[6] = {0, -1, 0, 0, 0, 0}, b_arg[6] = {0.5, 1, 0, 0, 0, 0};
    const double want_std[6] = {
        0.5, 1 / sqrt(3.0), sqrt(2.0 / 100), sqrt(2.0 / 100), sqrt(2.0 / 300), sqrt(2.0 / 300)};
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(nota_nn_init_tensor(a, kinds[k], a_arg[k], b_arg[k], 100, 200, 42, 3),
                     NOTA_OK);
        cr_assert_eq(nota_nn_init_tensor(b, kinds[k], a_arg[k], b_arg[k], 100, 200, 42, 3),
                     NOTA_OK);
        cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "kind %d not reproducible", k);
        cr_assert_eq(nota_nn_init_tensor(b, kinds[k], a_arg[k], b_arg[k], 100, 200, 43, 3),
                     NOTA_OK);
        cr_assert_neq(memcmp(a->data, b->data, a->nbytes), 0, "kind %d ignores the seed", k);
        double m = 0, v = 0;
        const float *x = a->data;
        for (int i = 0; i < 20000; i++)
            m += x[i];
        m /= 20000;
        for (int i = 0; i < 20000; i++)
            v += (x[i] - m) * (x[i] - m);
        double sd = sqrt(v / 20000);
        cr_assert_leq(fabs(m), 0.03 * want_std[k] * 3, "kind %d mean %g", k, m);
        cr_assert_leq(fabs(sd / want_std[k] - 1), 0.03, "kind %d std %g, want %g", k, sd,
                      want_std[k]);
    }
    cr_assert_eq(nota_nn_init_tensor(a, NOTA_NN_INIT_XAVIER_UNIFORM, 0, 0, 0, 5, 1, 1),
                 NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "nota_nn_init_tensor: Xavier needs fan_in and fan_out >= 1, got 0 and 5");
    nota_tensor_free(a);
    nota_tensor_free(b);
}

/* Linear(6,8) BN1d(8) LeakyReLU Linear(8,3) Tanh */
static nota_nn_net *small_net(uint64_t seed) {
    nota_nn_net *net;
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_net_new(&net), NOTA_OK);
    cr_assert_eq(nota_nn_linear_new(6, 8, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_batchnorm_new(8, false, 0.1f, 1e-5f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_act_new(NOTA_NN_LEAKY_RELU, 0.1f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_linear_new(8, 3, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_act_new(NOTA_NN_TANH, 0.0f, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(net, l), NOTA_OK);
    cr_assert_eq(nota_nn_net_init(net, seed, 0), NOTA_OK);
    return net;
}

Test(nn_train, net_parameter_names_and_counts) {
    nota_nn_net *net = small_net(1);
    cr_assert_eq(nota_nn_net_layer_count(net), 5);
    cr_assert_eq(nota_nn_net_param_count(net), 8);
    cr_assert_eq(nota_nn_net_num_weights(net), 6 * 8 + 8 + 8 + 8 + 8 * 3 + 3);
    const char *want[8] = {"0.weight",       "0.bias",        "1.weight", "1.bias",
                           "1.running_mean", "1.running_var", "3.weight", "3.bias"};
    for (size_t i = 0; i < 8; i++) {
        nota_nn_param p;
        char name[64];
        cr_assert_eq(nota_nn_net_param(net, i, &p, name, sizeof name), NOTA_OK);
        cr_assert_str_eq(name, want[i]);
    }
    nota_nn_param p;
    cr_assert_eq(nota_nn_net_param(net, 8, &p, NULL, 0), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "nota_nn_net_param: index 8, the net has 8");
    nota_nn_net_free(net);
}

/* A few Adam steps of MSE towards a fixed target; returns the last loss. */
static double train(nota_nn_net *net, const nota_tensor *x, const nota_tensor *t, int steps) {
    nota_nn_optim *opt;
    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.schedule.lr = 1e-2f;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_net(opt, net), NOTA_OK);
    nota_tensor *g;
    cr_assert_eq(nota_tensor_new(NOTA_F32, t->ndim, t->shape, &g), NOTA_OK);
    double loss = 0;
    nota_nn_net_set_training(net, true);
    for (int s = 0; s < steps; s++) {
        const nota_tensor *y;
        cr_assert_eq(nota_nn_net_forward(net, x, &y), NOTA_OK, "%s", nota_last_error());
        cr_assert_eq(nota_nn_loss_mse(y, t, NOTA_NN_MEAN, &loss, g), NOTA_OK);
        nota_nn_optim_zero_grad(opt);
        cr_assert_eq(nota_nn_net_backward(net, g, NULL), NOTA_OK, "%s", nota_last_error());
        cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    }
    nota_tensor_free(g);
    nota_nn_optim_free(opt);
    return loss;
}

static nota_tensor *randt(int64_t r, int64_t c, uint64_t stream) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(r, c, &t), NOTA_OK);
    nota_rng_fill_normal(99, stream, t->data, (size_t)(r * c));
    return t;
}

Test(nn_train, fit_reduces_loss) {
    nota_nn_net *net = small_net(3);
    nota_tensor *x = randt(32, 6, 1), *t = randt(32, 3, 2);
    float *tv = t->data;
    for (int i = 0; i < 96; i++)
        tv[i] = 0.5f * tanhf(tv[i]);
    double first = train(net, x, t, 1), last = train(net, x, t, 300);
    cr_assert_lt(last, 0.2 * first, "loss %g -> %g", first, last);
    nota_tensor_free(x);
    nota_tensor_free(t);
    nota_nn_net_free(net);
}

Test(nn_train, save_load_reproduces_inference_bit_for_bit) {
    nota_nn_net *net = small_net(5);
    nota_tensor *x = randt(16, 6, 3), *t = randt(16, 3, 4);
    train(net, x, t, 20); /* moves weights and BatchNorm running stats */
    nota_nn_net_set_training(net, false);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_net_forward(net, x, &y), NOTA_OK);
    nota_tensor *y1;
    cr_assert_eq(nota_tensor_clone(y, &y1), NOTA_OK);

    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_nn_net_save(net, mf, "dec."), NOTA_OK, "%s", nota_last_error());
    char dir[] = "/tmp/nota_nn_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/net.nota", dir);
    cr_assert_eq(nota_modelfile_save(mf, path), NOTA_OK, "%s", nota_last_error());
    nota_modelfile_free(mf);
    cr_assert_eq(nota_modelfile_load(path, NULL, &mf), NOTA_OK, "%s", nota_last_error());
    const nota_tensor *rv;
    cr_assert_eq(nota_modelfile_get_tensor(mf, "dec.1.running_var", &rv), NOTA_OK);

    nota_nn_net *fresh = small_net(77); /* different weights until loaded */
    cr_assert_eq(nota_nn_net_load(fresh, mf, "dec."), NOTA_OK, "%s", nota_last_error());
    nota_nn_net_set_training(fresh, false);
    cr_assert_eq(nota_nn_net_forward(fresh, x, &y), NOTA_OK);
    cr_assert_eq(memcmp(y->data, y1->data, y1->nbytes), 0, "outputs differ after save/load");

    /* the wrong prefix names the missing tensor; the net is untouched */
    cr_assert_eq(nota_nn_net_load(fresh, mf, "enc."), NOTA_ENOTFOUND);
    cr_assert_str_eq(nota_last_error(), "model file of 'test' has no tensor 'enc.0.weight'");
    nota_modelfile_free(mf);
    unlink(path);
    rmdir(dir);
    nota_tensor_free(y1);
    nota_tensor_free(x);
    nota_tensor_free(t);
    nota_nn_net_free(net);
    nota_nn_net_free(fresh);
}

Test(nn_train, load_refuses_bad_tensors_and_keeps_the_net) {
    nota_nn_net *net = small_net(5);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_nn_net_save(net, mf, ""), NOTA_OK);
    cr_assert_eq(nota_nn_net_save(net, mf, ""), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "saving net tensor '0.weight': model file of 'test' already has a tensor "
                     "'0.weight'");
    nota_modelfile_free(mf);

    /* a net whose first layer is Linear(6, 9) instead of (6, 8) */
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    nota_nn_net *other;
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_net_new(&other), NOTA_OK);
    cr_assert_eq(nota_nn_linear_new(6, 9, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(other, l), NOTA_OK);
    cr_assert_eq(nota_nn_net_save(other, mf, ""), NOTA_OK);
    nota_nn_param p;
    cr_assert_eq(nota_nn_net_param(net, 0, &p, NULL, 0), NOTA_OK);
    float keep = ((float *)p.value->data)[0];
    cr_assert_eq(nota_nn_net_load(net, mf, ""), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "net tensor '0.weight' has shape (9, 6), the linear layer 0 expects (8, 6)");
    cr_assert_eq(((float *)p.value->data)[0], keep);
    nota_modelfile_free(mf);

    /* a NaN in a saved tensor */
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_nn_net_param(other, 1, &p, NULL, 0), NOTA_OK);
    nota_nn_net_free(other);
    cr_assert_eq(nota_nn_net_param(net, 1, &p, NULL, 0), NOTA_OK);
    float saved = ((float *)p.value->data)[2];
    ((float *)p.value->data)[2] = NAN;
    cr_assert_eq(nota_nn_net_save(net, mf, ""), NOTA_OK);
    ((float *)p.value->data)[2] = saved;
    cr_assert_eq(nota_nn_net_load(net, mf, ""), NOTA_ENUMERIC);
    cr_assert_eq(((float *)p.value->data)[2], saved);
    nota_modelfile_free(mf);

    /* a negative BatchNorm running variance (param 5 = "1.running_var") */
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_nn_net_param(net, 5, &p, NULL, 0), NOTA_OK);
    ((float *)p.value->data)[3] = -0.5f;
    cr_assert_eq(nota_nn_net_save(net, mf, ""), NOTA_OK);
    ((float *)p.value->data)[3] = 1.0f;
    cr_assert_eq(nota_nn_net_load(net, mf, ""), NOTA_EFORMAT);
    cr_assert_str_eq(nota_last_error(), "net tensor '1.running_var' has a negative variance at 3");
    cr_assert_eq(((float *)p.value->data)[3], 1.0f);
    nota_modelfile_free(mf);
    nota_nn_net_free(net);
}

Test(nn_train, net_errors_name_the_layer) {
    nota_nn_net *net = small_net(1);
    nota_tensor *x = randt(4, 7, 1);
    const nota_tensor *y;
    cr_assert_eq(nota_nn_net_forward(net, x, &y), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "layer 0: linear: given x (4, 7), expects (N, 6)");
    nota_nn_net *empty;
    cr_assert_eq(nota_nn_net_new(&empty), NOTA_OK);
    cr_assert_eq(nota_nn_net_forward(empty, x, &y), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "nota_nn_net_forward: the net has no layers");
    cr_assert_eq(nota_nn_net_add(empty, NULL), NOTA_EINVAL);
    nota_nn_net_free(empty);
    nota_tensor_free(x);
    nota_nn_net_free(net);
}

Test(nn_train, loss_values_and_refusals) {
    float p[4] = {0.0f, 2.0f, -1.0f, 3.0f}, t[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    int64_t s[2] = {2, 2};
    nota_tensor *pt, *tt;
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 2, s, p, &pt), NOTA_OK);
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 2, s, t, &tt), NOTA_OK);
    double v;
    cr_assert_eq(nota_nn_loss_mse(pt, tt, NOTA_NN_SUM, &v, NULL), NOTA_OK);
    cr_assert_float_eq(v, 1 + 4 + 1 + 4, 1e-12);
    cr_assert_eq(nota_nn_loss_l1(pt, tt, NOTA_NN_MEAN, &v, NULL), NOTA_OK);
    cr_assert_float_eq(v, 6.0 / 4, 1e-12);
    cr_assert_eq(nota_nn_loss_bce_logits(pt, tt, NOTA_NN_BATCH_MEAN, &v, NULL), NOTA_OK);
    double want = log(2) + (2 + log1p(exp(-2))) + log1p(exp(-1)) + log1p(exp(-3));
    cr_assert_float_eq(v, want / 2, 1e-6); /* exp(-|z|) is taken in f32 */
    /* KL with H = 1: rows (mu, logvar) = (0, 2) and (-1, 3) */
    cr_assert_eq(nota_nn_loss_gaussian_kl(pt, NOTA_NN_SUM, &v, NULL), NOTA_OK);
    cr_assert_float_eq(v, 0.5 * (0 + exp(2.0) - 1 - 2) + 0.5 * (1 + exp(3.0) - 1 - 3), 1e-5);
    /* extreme logits stay finite */
    float big[2] = {1000.0f, -1000.0f}, tb[2] = {0.0f, 1.0f};
    int64_t s2[1] = {2};
    nota_tensor *bt, *btt;
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 1, s2, big, &bt), NOTA_OK);
    cr_assert_eq(nota_tensor_wrap(NOTA_F32, 1, s2, tb, &btt), NOTA_OK);
    cr_assert_eq(nota_nn_loss_bce_logits(bt, btt, NOTA_NN_SUM, &v, NULL), NOTA_OK);
    cr_assert_float_eq(v, 2000.0, 1e-9);
    cr_assert_eq(nota_nn_loss_mse(pt, bt, NOTA_NN_SUM, &v, NULL), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(), "mse: pred (2, 2) and target (2,) differ in shape");
    int64_t s3[2] = {2, 3};
    nota_tensor *odd;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s3, &odd), NOTA_OK);
    cr_assert_eq(nota_nn_loss_gaussian_kl(odd, NOTA_NN_SUM, &v, NULL), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "gaussian_kl: given stats (2, 3), expects (N, 2H) = [mu | logvar]");
    cr_assert_eq(nota_nn_reparam(pt, odd, odd), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "reparam: given eps (2, 3), expects (2, 1) for stats (2, 2)");
    nota_tensor_free(odd);
    nota_tensor_free(bt);
    nota_tensor_free(btt);
    nota_tensor_free(pt);
    nota_tensor_free(tt);
}

Test(nn_train, adam_vector_and_scalar_paths_agree) {
    /* 7 weights: the SSE2 loop takes 4, the scalar kernel the other 3; both
     * must equal the formula evaluated in the same f32 order */
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_linear_new(7, 1, false, &l), NOTA_OK);
    nota_nn_param p;
    cr_assert_eq(nota_nn_layer_param(l, 0, &p), NOTA_OK);
    float *w = p.value->data, *g = p.grad->data, w0[7];
    for (int i = 0; i < 7; i++)
        w0[i] = w[i], g[i] = 0.3f * (float)(i - 3) + 0.05f;
    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.weight_decay = 0.01f;
    nota_nn_optim *opt;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_layer(opt, l), NOTA_OK);
    cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    float step = (float)(1e-3 / (1.0 - 0.9)), rbc2 = (float)(1.0 / sqrt(1.0 - 0.999));
    for (int i = 0; i < 7; i++) {
        float gi = g[i] + 0.01f * w0[i];
        float mi = 0.9f * 0.0f + (1.0f - 0.9f) * gi;
        float vi = 0.999f * 0.0f + (1.0f - 0.999f) * gi * gi;
        float want = w0[i] - step * (mi / (sqrtf(vi) * rbc2 + 1e-8f));
        cr_assert_float_eq(w[i], want, 1e-7f * (1.0f + fabsf(want)), "w[%d]", i);
    }
    nota_nn_optim_free(opt);
    nota_nn_layer_free(l);
}

/* n Adam steps of MSE with the given optimizer. */
static void steps(nota_nn_net *net, nota_nn_optim *opt, const nota_tensor *x, const nota_tensor *t,
                  int n) {
    nota_tensor *g;
    cr_assert_eq(nota_tensor_new(NOTA_F32, t->ndim, t->shape, &g), NOTA_OK);
    for (int s = 0; s < n; s++) {
        const nota_tensor *y;
        double loss;
        cr_assert_eq(nota_nn_net_forward(net, x, &y), NOTA_OK);
        cr_assert_eq(nota_nn_loss_mse(y, t, NOTA_NN_MEAN, &loss, g), NOTA_OK);
        nota_nn_optim_zero_grad(opt);
        cr_assert_eq(nota_nn_net_backward(net, g, NULL), NOTA_OK);
        cr_assert_eq(nota_nn_optim_step(opt), NOTA_OK);
    }
    nota_tensor_free(g);
}

static nota_nn_optim *adam_for(nota_nn_net *net) {
    nota_nn_adam_opts o = nota_nn_adam_defaults();
    o.schedule = (nota_nn_schedule){NOTA_NN_LR_COSINE, 1e-2f, 1e-3f, 10};
    nota_nn_optim *opt;
    cr_assert_eq(nota_nn_adam_new(&o, &opt), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_net(opt, net), NOTA_OK);
    return opt;
}

Test(nn_train, checkpoint_resume_equals_the_uninterrupted_run) {
    nota_tensor *x = randt(16, 6, 5), *t = randt(16, 3, 6);
    nota_nn_net *a = small_net(5);
    nota_nn_optim *oa = adam_for(a);
    steps(a, oa, x, t, 3);
    nota_modelfile *mf;
    cr_assert_eq(nota_modelfile_new("test", 1, &mf), NOTA_OK);
    cr_assert_eq(nota_nn_net_save(a, mf, "net."), NOTA_OK);
    cr_assert_eq(nota_nn_optim_save(oa, mf, "opt."), NOTA_OK, "%s", nota_last_error());
    steps(a, oa, x, t, 4);

    nota_nn_net *b = small_net(77);
    nota_nn_optim *ob = adam_for(b);
    cr_assert_eq(nota_nn_net_load(b, mf, "net."), NOTA_OK);
    cr_assert_eq(nota_nn_optim_load(ob, mf, "opt."), NOTA_OK, "%s", nota_last_error());
    cr_assert_eq(nota_nn_optim_steps(ob), 3);
    /* the schedule continues from step 3 of 10 */
    cr_assert_float_eq(nota_nn_optim_lr(ob), 1e-3 + 9e-3 * 0.5 * (1 + cos(0.3 * M_PI)), 1e-7);
    steps(b, ob, x, t, 4);
    for (size_t i = 0; i < nota_nn_net_param_count(a); i++) {
        nota_nn_param pa, pb;
        char name[64];
        cr_assert_eq(nota_nn_net_param(a, i, &pa, name, sizeof name), NOTA_OK);
        cr_assert_eq(nota_nn_net_param(b, i, &pb, NULL, 0), NOTA_OK);
        cr_assert_eq(memcmp(pa.value->data, pb.value->data, pa.value->nbytes), 0,
                     "%s differs after resume", name);
    }

    /* refusals: wrong prefix, wrong kind; the optimizer keeps its state */
    cr_assert_eq(nota_nn_optim_load(ob, mf, "x."), NOTA_ENOTFOUND);
    cr_assert_str_eq(nota_last_error(), "model file of 'test' has no tensor 'x.state'");
    nota_nn_sgd_opts so = {{NOTA_NN_LR_CONSTANT, 0.1f, 0.1f, 0}, 0.9f, 0.0f, NOTA_NN_WD_L2};
    nota_nn_optim *sgd;
    cr_assert_eq(nota_nn_sgd_new(&so, &sgd), NOTA_OK);
    cr_assert_eq(nota_nn_optim_add_net(sgd, b), NOTA_OK);
    cr_assert_eq(nota_nn_optim_load(sgd, mf, "opt."), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(),
                     "optimizer state 'opt.state' is adam's, this optimizer is sgd");
    cr_assert_eq(nota_nn_optim_steps(sgd), 0);
    nota_nn_optim_free(sgd);
    /* an optimizer over a different net (first layer 6 -> 9) */
    nota_nn_net *c;
    nota_nn_layer *l;
    cr_assert_eq(nota_nn_net_new(&c), NOTA_OK);
    cr_assert_eq(nota_nn_linear_new(6, 9, true, &l), NOTA_OK);
    cr_assert_eq(nota_nn_net_add(c, l), NOTA_OK);
    nota_nn_optim *oc = adam_for(c);
    cr_assert_eq(nota_nn_optim_load(oc, mf, "opt."), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "optimizer tensor 'opt.m.0' is f32 (8, 6), expected f32 (9, 6)");
    cr_assert_eq(nota_nn_optim_steps(oc), 0);
    nota_nn_optim_free(oc);
    nota_nn_net_free(c);

    nota_modelfile_free(mf);
    nota_nn_optim_free(oa);
    nota_nn_optim_free(ob);
    nota_nn_net_free(a);
    nota_nn_net_free(b);
    nota_tensor_free(x);
    nota_tensor_free(t);
}
