/* Initialisers of the nn kit (normal, uniform, Kaiming, Xavier, constant).
 *
 * Each fills a tensor from nota_rng_fill_normal/_uniform(seed, stream), so
 * element i's value depends only on the seed, the stream and i: the same seed
 * gives the same network on any machine and thread count. Scales follow
 * PyTorch's torch.nn.init so that results can be compared with it.
 */
#include <math.h>

#include "nn_internal.h"
#include "nota/rng.h"

nota_status nota_nn_init_tensor(nota_tensor *t, nota_nn_init_kind kind, double a, double b,
                                int64_t fan_in, int64_t fan_out, uint64_t seed, uint64_t stream) {
    if (!t || t->dtype != NOTA_F32 || t->device.kind != NOTA_DEVICE_CPU)
        return nota_error(NOTA_EINVAL, "nota_nn_init_tensor: t must be an f32 CPU tensor");
    float *w = nn_f(t);
    size_t n = nota_tensor_numel(t);
    bool kaiming = kind == NOTA_NN_INIT_KAIMING_NORMAL || kind == NOTA_NN_INIT_KAIMING_UNIFORM;
    bool xavier = kind == NOTA_NN_INIT_XAVIER_NORMAL || kind == NOTA_NN_INIT_XAVIER_UNIFORM;
    if (kaiming && fan_in < 1)
        return nota_error(NOTA_EINVAL, "nota_nn_init_tensor: Kaiming needs fan_in >= 1, got %lld",
                          (long long)fan_in);
    if (xavier && (fan_in < 1 || fan_out < 1))
        return nota_error(NOTA_EINVAL,
                          "nota_nn_init_tensor: Xavier needs fan_in and fan_out >= 1, got %lld "
                          "and %lld",
                          (long long)fan_in, (long long)fan_out);
    double mean = 0.0, std = 0.0, lo = 0.0, hi = 0.0;
    bool normal = false;
    switch (kind) {
    case NOTA_NN_INIT_NORMAL:
        if (!(b >= 0.0))
            return nota_error(NOTA_EINVAL, "nota_nn_init_tensor: normal std %g < 0", b);
        normal = true, mean = a, std = b;
        break;
    case NOTA_NN_INIT_UNIFORM:
        if (!(b >= a))
            return nota_error(NOTA_EINVAL, "nota_nn_init_tensor: uniform bounds [%g, %g) reversed",
                              a, b);
        lo = a, hi = b;
        break;
    case NOTA_NN_INIT_KAIMING_NORMAL:
        normal = true, std = sqrt(2.0 / (1.0 + a * a)) / sqrt((double)fan_in);
        break;
    case NOTA_NN_INIT_KAIMING_UNIFORM:
        hi = sqrt(2.0 / (1.0 + a * a)) * sqrt(3.0 / (double)fan_in), lo = -hi;
        break;
    case NOTA_NN_INIT_XAVIER_NORMAL:
        normal = true, std = (a == 0.0 ? 1.0 : a) * sqrt(2.0 / (double)(fan_in + fan_out));
        break;
    case NOTA_NN_INIT_XAVIER_UNIFORM:
        hi = (a == 0.0 ? 1.0 : a) * sqrt(6.0 / (double)(fan_in + fan_out)), lo = -hi;
        break;
    case NOTA_NN_INIT_CONSTANT:
        for (size_t i = 0; i < n; i++)
            w[i] = (float)a;
        return NOTA_OK;
    default:
        return nota_error(NOTA_EINVAL, "nota_nn_init_tensor: unknown kind %d", (int)kind);
    }
    if (normal) {
        nota_rng_fill_normal(seed, stream, w, n);
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(mean + std * w[i]);
    } else {
        nota_rng_fill_uniform(seed, stream, w, n);
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(lo + (hi - lo) * w[i]);
    }
    return NOTA_OK;
}
