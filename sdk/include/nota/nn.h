/* nota/nn.h — the neural-network kit: layers, losses, optimizers, init, save.
 *
 * Plugins that train networks (latent VAE/GAN, scattering decoder, Fourier
 * machine) share this kit. It is deliberately small and explicit, in the
 * style of darknet's layers rather than an autograd engine: each layer has a
 * forward that caches what its backward needs, a backward that turns dL/dy
 * into dL/dx and ACCUMULATES (+=) dL/dparam into the layer's grad tensors,
 * and a list of named parameters. A nota_nn_net chains layers sequentially;
 * models with branches (a VAE's mu/logvar split) use two nets and the loss
 * helpers below in between.
 *
 * Batched work is GEMM-shaped (nota_sgemm; Conv2d uses im2col over chunks of
 * the batch), and element-wise maths lives in per-element inline bodies
 * (sdk/src/nn_kernels.h) so a CUDA back end can share them later.
 *
 * Tensors are f32, CPU, row-major. Shapes: Linear/BatchNorm1d/Fourier take
 * (N, features); Conv2d/Upsample/BatchNorm2d take (N, C, H, W); activations
 * take any shape.
 *
 * Ownership and lifetimes (one rule for all layers and nets):
 *  - forward returns y BORROWED from the layer: valid until that layer's next
 *    forward or its free. The input x is borrowed too, and must stay alive and
 *    unchanged until the matching backward (in a net, each layer's input is
 *    the previous layer's output, so only the net's input is the caller's).
 *  - backward returns dx BORROWED from the layer (same validity as y). Pass
 *    dx = NULL when the input gradient is not needed (first layer): it is then
 *    not computed, which saves a GEMM. dy is only read.
 *  - backward needs a forward on the same layer since the last backward.
 *  - parameter tensors (value and grad) are owned by the layer; nota_nn_param
 *    hands out borrowed pointers valid until the layer is freed.
 * Layers and nets are not thread-safe; use one per thread.
 *
 * API changes since first publication (additions only): nota_nn_optim_save
 * and nota_nn_optim_load (optimizer state for checkpoints);
 * nota_nn_fourier_features and _backward (the Fourier layer as functions).
 */
#ifndef NOTA_NN_H
#define NOTA_NN_H

#include "nota/modelfile.h"
#include "nota/status.h"
#include "nota/tensor.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- layers */

typedef struct nota_nn_layer nota_nn_layer;

/* One parameter or buffer of a layer. `grad` is NULL for buffers that are
 * saved but not trained (BatchNorm running statistics: trainable = false).
 * fan_in / fan_out are what Kaiming / Xavier initialisation use. */
typedef struct nota_nn_param {
    const char *name;   /* "weight", "bias", "running_mean", ... (static) */
    nota_tensor *value; /* borrowed, owned by the layer */
    nota_tensor *grad;  /* borrowed, owned by the layer; NULL if !trainable */
    bool trainable;
    int64_t fan_in, fan_out;
} nota_nn_param;

/* Linear: y = x W^T + b, W (out, in), b (out). x may have more than two
 * dims; its trailing dims are flattened and must multiply to `in`. */
nota_status nota_nn_linear_new(int64_t in, int64_t out, bool bias, nota_nn_layer **layer);

typedef enum nota_nn_padding {
    NOTA_NN_PAD_ZERO = 0,
    NOTA_NN_PAD_REFLECT = 1 /* PyTorch "reflect": edge not repeated; pad < size */
} nota_nn_padding;

typedef struct nota_nn_conv2d_opts {
    int64_t in_channels, out_channels;
    int64_t kernel_h, kernel_w;
    int64_t stride;  /* >= 1, same along both axes */
    int64_t padding; /* >= 0, same on all four sides */
    nota_nn_padding padding_mode;
    bool bias;
} nota_nn_conv2d_opts;
/* Conv2d (dilation 1): W (out, in, kh, kw), b (out); x (N, in, H, W) →
 * (N, out, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1). `opts` is copied. */
nota_status nota_nn_conv2d_new(const nota_nn_conv2d_opts *opts, nota_nn_layer **layer);

typedef enum nota_nn_upsample_mode {
    NOTA_NN_UPSAMPLE_NEAREST = 0,
    NOTA_NN_UPSAMPLE_BILINEAR = 1 /* align_corners = false, as PyTorch's default */
} nota_nn_upsample_mode;
/* ×2 upsampling: (N, C, H, W) → (N, C, 2H, 2W); no parameters. */
nota_status nota_nn_upsample2x_new(nota_nn_upsample_mode mode, nota_nn_layer **layer);

/* BatchNorm over `features` channels: spatial = false takes (N, C) (1-d),
 * spatial = true takes (N, C, H, W) (2-d). Parameters weight (gamma, init 1)
 * and bias (beta, init 0); buffers running_mean (init 0) and running_var
 * (init 1). Training mode normalises with the batch's biased variance and
 * updates running = (1 - momentum) * running + momentum * batch, the running
 * variance using the unbiased batch variance (PyTorch's convention; momentum
 * 0.1, eps 1e-5 are the usual values). Eval mode uses the running stats. */
nota_status nota_nn_batchnorm_new(int64_t features, bool spatial, float momentum, float eps,
                                  nota_nn_layer **layer);

typedef enum nota_nn_act_kind {
    NOTA_NN_RELU = 0,
    NOTA_NN_LEAKY_RELU = 1, /* slope for x < 0 is `param` */
    NOTA_NN_TANH = 2,
    NOTA_NN_SIGMOID = 3
} nota_nn_act_kind;
/* Element-wise activation, any shape; `param` is ignored except by LeakyReLU. */
nota_status nota_nn_act_new(nota_nn_act_kind kind, float param, nota_nn_layer **layer);

/* The DFM Fourier layer (paper 001, eq. 4.5): for x (N, in) with in <= 16,
 *   y = Σ_{k ∈ {0,1}^in} a_k cos(2π k·x) + b_k sin(2π k·x)  [+ x]
 * Parameter "weight" has shape (2 * 2^in, out): rows 0 .. 2^in - 1 are the
 * a_k, rows 2^in .. 2^(in+1) - 1 the b_k, with k's bits giving its entries
 * (bit j of the row index is k_j). The residual (+x) is added when
 * `residual` is true, which needs in == out (NOTA_EINVAL otherwise). It is one
 * GEMM: features (N, 2·2^in) times weight. Default init: N(0, 1/2^in). */
nota_status nota_nn_fourier_new(int64_t in, int64_t out, bool residual, nota_nn_layer **layer);

/* The Fourier layer's features as functions, for models whose coefficients
 * are not parameters (DFM's generator, paper 001 §4.2.2, has a decoder emit
 * a_k, b_k per image): phi (N, 2·2^in) = [cos θ_k | sin θ_k], θ_k = 2π k·x,
 * for x (N, in), 1 <= in <= 16, column order as the layer's weight rows.
 * phi is caller-owned and overwritten. With positions shared by all images,
 * one GEMM phi × [W_1 | W_2 | ...] then evaluates every image at once. */
nota_status nota_nn_fourier_features(const nota_tensor *x, nota_tensor *phi);
/* dx (N, in) = dL/dx from dphi = dL/dphi and the phi of that x (overwritten;
 * caller-owned). */
nota_status nota_nn_fourier_features_backward(const nota_tensor *phi, const nota_tensor *dphi,
                                              nota_tensor *dx);

/* Reshape each item: x (N, ...) → (N, item_shape...), element count per item
 * must match. For Linear → Conv2d stacks. No parameters. */
nota_status nota_nn_reshape_new(int item_ndim, const int64_t *item_shape, nota_nn_layer **layer);

/* Free a layer and everything it owns. NULL is a no-op. */
void nota_nn_layer_free(nota_nn_layer *layer);

/* "linear", "conv2d", "upsample2x", "batchnorm", "relu", "leaky_relu",
 * "tanh", "sigmoid", "fourier", "reshape". Static storage. */
const char *nota_nn_layer_kind(const nota_nn_layer *layer);

/* y = layer(x). See the ownership rules at the top. Shape errors are
 * NOTA_ESHAPE naming the layer, the given shape and the expected one. */
nota_status nota_nn_layer_forward(nota_nn_layer *layer, const nota_tensor *x,
                                  const nota_tensor **y);
/* From dy (shape of the last y): accumulate parameter grads, and set *dx
 * (borrowed) unless dx is NULL. */
nota_status nota_nn_layer_backward(nota_nn_layer *layer, const nota_tensor *dy,
                                   const nota_tensor **dx);

/* Training (default) or evaluation mode; only BatchNorm behaves differently. */
void nota_nn_layer_set_training(nota_nn_layer *layer, bool training);

/* Parameters and buffers, in a fixed order (weight, bias, then buffers). */
size_t nota_nn_layer_param_count(const nota_nn_layer *layer);
/* NOTA_EINVAL if i >= count. `out` receives borrowed pointers. */
nota_status nota_nn_layer_param(const nota_nn_layer *layer, size_t i, nota_nn_param *out);

/* Default initialisation, reproducible from (seed, stream): Linear / Conv2d
 * as PyTorch's default (weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)));
 * Fourier as stated above; BatchNorm resets to gamma 1, beta 0, running 0/1.
 * Layers are created already initialised with (seed 0, stream 0). */
nota_status nota_nn_layer_init(nota_nn_layer *layer, uint64_t seed, uint64_t stream);

/* Set every trainable grad of the layer to zero. */
void nota_nn_layer_zero_grad(nota_nn_layer *layer);

/* ------------------------------------------------------------ initialisers */

typedef enum nota_nn_init_kind {
    NOTA_NN_INIT_NORMAL = 0,          /* N(a, b^2): a mean, b std */
    NOTA_NN_INIT_UNIFORM = 1,         /* U(a, b) */
    NOTA_NN_INIT_KAIMING_NORMAL = 2,  /* N(0, gain^2 / fan_in), gain = sqrt(2/(1+a^2)) */
    NOTA_NN_INIT_KAIMING_UNIFORM = 3, /* U(±gain·sqrt(3/fan_in)), same gain */
    NOTA_NN_INIT_XAVIER_NORMAL = 4,   /* N(0, a^2 · 2/(fan_in+fan_out)); a = gain (0 → 1) */
    NOTA_NN_INIT_XAVIER_UNIFORM = 5,  /* U(±a·sqrt(6/(fan_in+fan_out))); a = gain (0 → 1) */
    NOTA_NN_INIT_CONSTANT = 6         /* every element = a */
} nota_nn_init_kind;

/* Fill the f32 tensor `t` (caller's; written in place). Element i is drawn
 * from nota_rng_fill_*(seed, stream) element i, so the result depends only on
 * (kind, a, b, fans, seed, stream). Kaiming / Xavier need fan_in (and fan_out)
 * >= 1, NOTA_EINVAL otherwise. */
nota_status nota_nn_init_tensor(nota_tensor *t, nota_nn_init_kind kind, double a, double b,
                                int64_t fan_in, int64_t fan_out, uint64_t seed, uint64_t stream);

/* -------------------------------------------------------------------- nets */

typedef struct nota_nn_net nota_nn_net;

nota_status nota_nn_net_new(nota_nn_net **net);
/* Free the net and all its layers. NULL is a no-op. */
void nota_nn_net_free(nota_nn_net *net);
/* Append a layer; the net takes ownership of `layer`, also on failure. */
nota_status nota_nn_net_add(nota_nn_net *net, nota_nn_layer *layer);
size_t nota_nn_net_layer_count(const nota_nn_net *net);
/* Borrowed; NULL if i is out of range. */
nota_nn_layer *nota_nn_net_layer(const nota_nn_net *net, size_t i);

/* Forward / backward through all layers; same ownership rules as a layer's
 * (y and dx borrowed from the net's last / first layer). */
nota_status nota_nn_net_forward(nota_nn_net *net, const nota_tensor *x, const nota_tensor **y);
nota_status nota_nn_net_backward(nota_nn_net *net, const nota_tensor *dy, const nota_tensor **dx);

void nota_nn_net_set_training(nota_nn_net *net, bool training);
void nota_nn_net_zero_grad(nota_nn_net *net);
/* Default-initialise layer i with (seed, stream_base + i). */
nota_status nota_nn_net_init(nota_nn_net *net, uint64_t seed, uint64_t stream_base);

/* All parameters and buffers of all layers, layer by layer. Names are
 * "<layer index>.<param name>" ("0.weight", "3.running_var"), written into
 * `name` (capacity `cap`, always NUL-terminated) when name != NULL. */
size_t nota_nn_net_param_count(const nota_nn_net *net);
nota_status nota_nn_net_param(const nota_nn_net *net, size_t i, nota_nn_param *out, char *name,
                              size_t cap);
/* Number of trainable scalars. */
size_t nota_nn_net_num_weights(const nota_nn_net *net);

/* Save every parameter and buffer into `mf` as "<prefix><index>.<name>"
 * (copied; the net is unchanged). Fails (NOTA_EINVAL) on a duplicate name. */
nota_status nota_nn_net_save(const nota_nn_net *net, nota_modelfile *mf, const char *prefix);
/* Load them back into a net of the same architecture, built by the caller
 * (the file holds tensors, not the architecture). Every tensor must exist
 * (NOTA_ENOTFOUND naming it), be f32 and match the shape (NOTA_ESHAPE naming
 * the tensor and both shapes) and be finite (NOTA_ENUMERIC); running
 * variances must be >= 0 (NOTA_EFORMAT). On failure the net is left
 * unchanged. Values are copied bit for bit. */
nota_status nota_nn_net_load(nota_nn_net *net, const nota_modelfile *mf, const char *prefix);

/* ------------------------------------------------------------------ losses */

typedef enum nota_nn_reduction {
    NOTA_NN_SUM = 0,       /* sum over every element */
    NOTA_NN_MEAN = 1,      /* sum / number of elements (PyTorch's "mean") */
    NOTA_NN_BATCH_MEAN = 2 /* sum / N (rows, dim 0): per-sample sum, batch mean */
} nota_nn_reduction;

/* Each loss computes L (double, accumulated in double) into *loss and, when
 * grad != NULL, OVERWRITES grad (caller-owned, shape of pred) with dL/dpred.
 * Inputs are only read; shapes must match (NOTA_ESHAPE with both shapes). */
nota_status nota_nn_loss_mse(const nota_tensor *pred, const nota_tensor *target,
                             nota_nn_reduction red, double *loss, nota_tensor *grad);
/* |pred - target|; the gradient at pred == target is 0. */
nota_status nota_nn_loss_l1(const nota_tensor *pred, const nota_tensor *target,
                            nota_nn_reduction red, double *loss, nota_tensor *grad);
/* Binary cross-entropy on logits, numerically stable:
 * max(z,0) - z t + log(1 + exp(-|z|)); targets in [0, 1]. */
nota_status nota_nn_loss_bce_logits(const nota_tensor *logits, const nota_tensor *target,
                                    nota_nn_reduction red, double *loss, nota_tensor *grad);
/* KL(N(mu, exp(logvar)) || N(0, I)) = 0.5 Σ (mu² + exp(logvar) - 1 - logvar).
 * `stats` is (N, 2H): columns 0..H-1 are mu, H..2H-1 are logvar (an encoder's
 * output as is). grad has the shape of stats. */
nota_status nota_nn_loss_gaussian_kl(const nota_tensor *stats, nota_nn_reduction red, double *loss,
                                     nota_tensor *grad);

/* VAE reparameterisation on the same (N, 2H) layout: z = mu + exp(logvar/2)
 * ⊙ eps, with eps (N, H) and z (N, H) caller-owned (z overwritten). */
nota_status nota_nn_reparam(const nota_tensor *stats, const nota_tensor *eps, nota_tensor *z);
/* Its backward: ADDS dz into dstats' mu columns and dz ⊙ eps ⊙ exp(logvar/2)
 * / 2 into its logvar columns (so the KL grad can be written first). */
nota_status nota_nn_reparam_backward(const nota_tensor *stats, const nota_tensor *eps,
                                     const nota_tensor *dz, nota_tensor *dstats);

/* -------------------------------------------------------------- optimizers */

typedef enum nota_nn_schedule_kind {
    NOTA_NN_LR_CONSTANT = 0, /* lr */
    NOTA_NN_LR_LINEAR = 1,   /* lr → lr_end linearly over total_steps, then lr_end */
    NOTA_NN_LR_COSINE = 2    /* lr_end + (lr - lr_end)(1 + cos(π t/T))/2, then lr_end */
} nota_nn_schedule_kind;

typedef struct nota_nn_schedule {
    nota_nn_schedule_kind kind;
    float lr, lr_end;
    int64_t total_steps; /* T >= 1 for linear / cosine */
} nota_nn_schedule;
/* Learning rate at step t (0-based). */
float nota_nn_schedule_lr(const nota_nn_schedule *s, int64_t step);

typedef struct nota_nn_optim nota_nn_optim;

typedef enum nota_nn_weight_decay {
    NOTA_NN_WD_L2 = 0,       /* g += wd·w before the update (Adam / SGD classic) */
    NOTA_NN_WD_DECOUPLED = 1 /* w -= lr·wd·w separately (AdamW) */
} nota_nn_weight_decay;

typedef struct nota_nn_adam_opts {
    nota_nn_schedule schedule; /* learning rate */
    float beta1, beta2, eps;   /* 0.9, 0.999, 1e-8 usual */
    float weight_decay;        /* 0 = none */
    nota_nn_weight_decay wd_mode;
} nota_nn_adam_opts;
/* Defaults: constant lr 1e-3, 0.9, 0.999, 1e-8, no weight decay. */
nota_nn_adam_opts nota_nn_adam_defaults(void);

typedef struct nota_nn_sgd_opts {
    nota_nn_schedule schedule;
    float momentum;     /* 0 = plain SGD; buffer b = m·b + g, w -= lr·b */
    float weight_decay; /* L2 or decoupled, as wd_mode */
    nota_nn_weight_decay wd_mode;
} nota_nn_sgd_opts;

/* Optimizers keep borrowed pointers to the parameters they update: the
 * layers / nets must outlive the optimizer. Options are copied. */
nota_status nota_nn_adam_new(const nota_nn_adam_opts *opts, nota_nn_optim **opt);
nota_status nota_nn_sgd_new(const nota_nn_sgd_opts *opts, nota_nn_optim **opt);
void nota_nn_optim_free(nota_nn_optim *opt);
/* Register every trainable parameter of a net / layer (buffers skipped);
 * registering one twice is refused (NOTA_EINVAL), it would double updates. */
nota_status nota_nn_optim_add_net(nota_nn_optim *opt, nota_nn_net *net);
nota_status nota_nn_optim_add_layer(nota_nn_optim *opt, nota_nn_layer *layer);
/* One update of every registered parameter from its grad, using the
 * schedule's lr at the current step; then step += 1. Grads are not cleared. */
nota_status nota_nn_optim_step(nota_nn_optim *opt);
/* Zero the grads of every registered parameter. */
void nota_nn_optim_zero_grad(nota_nn_optim *opt);
int64_t nota_nn_optim_steps(const nota_nn_optim *opt);
/* Learning rate the next step will use. */
float nota_nn_optim_lr(const nota_nn_optim *opt);

/* Checkpoints: save the optimizer's state — step count and kind
 * ("<prefix>state", u8 (9): 8 little-endian bytes of step, 1 byte 0 = Adam,
 * 1 = SGD) and per-parameter state in registration order
 * ("<prefix>m.<i>", and for Adam "<prefix>v.<i>", shaped like the parameter)
 * — into mf (copied). Load it into an optimizer of the same kind with the
 * same parameters registered in the same order: every tensor must exist, have
 * the parameter's shape and be finite (Adam's v also >= 0), else nothing
 * changes and the error names the tensor. With the nets' own save/load this resumes training
 * exactly where it stopped. */
nota_status nota_nn_optim_save(const nota_nn_optim *opt, nota_modelfile *mf, const char *prefix);
nota_status nota_nn_optim_load(nota_nn_optim *opt, const nota_modelfile *mf, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_NN_H */
