/* nn_kernels.h — per-element bodies of the nn kit's element-wise maths.
 *
 * Every activation, loss term, optimizer update, BatchNorm normalisation and
 * the Conv2d-padding / upsampling index maps are written here once as static
 * inline functions of scalars, with no loops and no memory access beyond
 * their arguments (GEMMs go through nota_sgemm instead). The CPU loops in nn_*.c call them; a CUDA back end
 * will compile the same bodies as __host__ __device__ functions (the
 * NN_KERNEL macro is the seam), so both back ends compute the same numbers.
 */
#ifndef NOTA_NN_KERNELS_H
#define NOTA_NN_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define NN_KERNEL static inline __host__ __device__
#else
#define NN_KERNEL static inline
#endif

/* ---- activations: forward from x, backward from x or y (whichever is cheaper) */
NN_KERNEL float nn_relu(float x) { return x > 0.0f ? x : 0.0f; }
NN_KERNEL float nn_relu_grad(float x, float dy) { return x > 0.0f ? dy : 0.0f; }
NN_KERNEL float nn_leaky(float x, float s) { return x > 0.0f ? x : s * x; }
NN_KERNEL float nn_leaky_grad(float x, float s, float dy) { return x > 0.0f ? dy : s * dy; }
NN_KERNEL float nn_tanh_grad_y(float y, float dy) { return dy * (1.0f - y * y); }
/* Stable for large |x|: exp only ever of a non-positive number. */
NN_KERNEL float nn_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
NN_KERNEL float nn_sigmoid_grad_y(float y, float dy) { return dy * y * (1.0f - y); }

/* ---- losses: value (double, for accumulation) and d/dpred (before reduction) */
NN_KERNEL double nn_mse(float p, float t) {
    double d = (double)p - (double)t;
    return d * d;
}
NN_KERNEL float nn_mse_grad(float p, float t) { return 2.0f * (p - t); }
NN_KERNEL double nn_l1(float p, float t) { return fabs((double)p - (double)t); }
NN_KERNEL float nn_l1_grad(float p, float t) { return p > t ? 1.0f : (p < t ? -1.0f : 0.0f); }
/* max(z,0) - z t + log1p(exp(-|z|)): never overflows. The loss and its
 * gradient sigmoid(z) - t share the one exp(-|z|), which halves the
 * transcendental work of a Bernoulli decoder's loss. log1p(e) is taken as
 * logf(1 + e): e is in (0, 1], so the absolute error stays below 6e-8 per
 * term, and glibc's logf is several times cheaper than log1p / log1pf
 * (log1p alone was 6% of a VAE epoch). */
NN_KERNEL double nn_bce_logits(float z, float t) {
    float e = expf(-fabsf(z));
    return (double)((z > 0.0f ? z : 0.0f) - z * t) + (double)logf(1.0f + e);
}
NN_KERNEL float nn_bce_logits_grad(float z, float t) { return nn_sigmoid(z) - t; }
NN_KERNEL double nn_bce_logits_both(float z, float t, float *grad) {
    float e = expf(-fabsf(z));
    float s = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    *grad = s - t;
    return (double)((z > 0.0f ? z : 0.0f) - z * t) + (double)logf(1.0f + e);
}
/* One (mu, logvar) term of KL(N(mu, e^lv) || N(0,1)). */
NN_KERNEL double nn_kl(float mu, float lv) {
    return 0.5 * ((double)mu * mu + exp((double)lv) - 1.0 - lv);
}
NN_KERNEL float nn_kl_grad_mu(float mu) { return mu; }
NN_KERNEL float nn_kl_grad_lv(float lv) { return 0.5f * (expf(lv) - 1.0f); }

/* ---- optimizers: one parameter element. step = lr / (1 - beta1^t) and
 * rbc2 = 1 / sqrt(1 - beta2^t) are per-step constants hoisted by the caller. */
NN_KERNEL void nn_adam_update(float *w, float *m, float *v, float g, float step, float b1, float b2,
                              float eps, float rbc2) {
    float mi = b1 * *m + (1.0f - b1) * g;
    float vi = b2 * *v + (1.0f - b2) * g * g;
    *m = mi;
    *v = vi;
    /* PyTorch's form (eps after the bias-corrected root), so that runs can be
     * compared step for step */
    *w -= step * (mi / (sqrtf(vi) * rbc2 + eps));
}
NN_KERNEL void nn_sgd_update(float *w, float *buf, float g, float lr, float momentum) {
    *buf = momentum * *buf + g;
    *w -= lr * *buf;
}

/* ---- BatchNorm: a = gamma/sigma; the training-mode backward with the
 * batch means mdy = mean(dy) and mdyx = mean(dy·x̂) (both 0 in eval mode). */
NN_KERNEL float nn_bn_forward(float x, float mean, float a, float beta) {
    /* (x - mean)·a + beta, not x·a + b: folding the mean into b cancels
     * catastrophically when the variance is tiny (a constant channel) */
    return (x - mean) * a + beta;
}
NN_KERNEL float nn_bn_backward(float dy, float x, double mean, double invstd, double g, double mdy,
                               double mdyx) {
    return (float)(g * (dy - mdy - (x - mean) * invstd * mdyx));
}

/* ---- index maps of Conv2d padding and ×2 upsampling */
/* Source index of padded coordinate i in [-pad, n + pad), or -1 for a zero;
 * reflect: PyTorch's "reflect" (edge not repeated, pad < n). */
NN_KERNEL int64_t nn_pad_index(int64_t i, int64_t n, bool reflect) {
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}
/* Output position o (of 2n) of ×2 upsampling reads i0 with weight *w0 and
 * i1 with 1 - *w0; bilinear as PyTorch's align_corners = false. */
NN_KERNEL void nn_upsample_src(bool bilinear, int64_t o, int64_t n, int64_t *i0, int64_t *i1,
                               float *w0) {
    if (!bilinear) {
        *i0 = *i1 = o / 2;
        *w0 = 1.0f;
        return;
    }
    float src = (o + 0.5f) * 0.5f - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int64_t a = (int64_t)src;
    *i0 = a;
    *i1 = a < n - 1 ? a + 1 : a;
    *w0 = 1.0f - (src - (float)a);
}

#endif /* NOTA_NN_KERNELS_H */
