/* nn_internal.h — what every layer of the nn kit shares (see nota/nn.h).
 *
 * A layer is a small vtable plus common state: the borrowed input of the last
 * forward (backward needs it), the owned output and input-gradient buffers
 * (reused across calls while the shape stays the same, so a training loop
 * allocates only when the batch size changes) and up to NN_MAX_PARAMS named
 * parameters with their grads. Layer files fill the vtable and keep their own
 * extra state behind `priv`.
 */
#ifndef NOTA_NN_INTERNAL_H
#define NOTA_NN_INTERNAL_H

#include "nota/nn.h"

#define NN_MAX_PARAMS 4

typedef struct nn_vtable {
    const char *kind;
    /* Compute l->y from x (x already checked to be a CPU f32 tensor). */
    nota_status (*forward)(nota_nn_layer *l, const nota_tensor *x);
    /* From dy (shape of l->y): accumulate grads; fill l->dx when need_dx. */
    nota_status (*backward)(nota_nn_layer *l, const nota_tensor *dy, bool need_dx);
    /* Default initialisation; NULL for layers without parameters. */
    nota_status (*init)(nota_nn_layer *l, uint64_t seed, uint64_t stream);
    /* Free priv; NULL when priv is a plain malloc block or absent. */
    void (*free_priv)(void *priv);
} nn_vtable;

struct nota_nn_layer {
    const nn_vtable *vt;
    bool training;
    bool have_forward;    /* a forward ran since the last backward */
    const nota_tensor *x; /* borrowed: last forward's input */
    nota_tensor *y;       /* owned output buffer */
    nota_tensor *dx;      /* owned input-gradient buffer */
    size_t nparams;
    nota_nn_param params[NN_MAX_PARAMS];
    void *priv;
};

/* Allocate a layer with its vtable and a zeroed priv block of `priv_size`
 * bytes (0: none). */
nota_status nn_layer_alloc(const nn_vtable *vt, size_t priv_size, nota_nn_layer **out);
/* Append a parameter (value zero-filled; grad allocated when trainable). */
nota_status nn_add_param(nota_nn_layer *l, const char *name, int ndim, const int64_t *shape,
                         bool trainable, int64_t fan_in, int64_t fan_out);
/* Make *t an owned f32 tensor of exactly this shape, reusing it when the
 * shape already matches (contents are then stale, not zeroed). */
nota_status nn_ensure(nota_tensor **t, int ndim, const int64_t *shape);
/* Shape text of a tensor into buf. */
const char *nn_shape(const nota_tensor *t, char *buf, size_t cap);
/* Fail with NOTA_ESHAPE: "<kind>: given x <shape>, expects <what>". */
nota_status nn_shape_error(const nota_nn_layer *l, const nota_tensor *x, const char *expects);

static inline float *nn_f(const nota_tensor *t) { return (float *)t->data; }

#endif /* NOTA_NN_INTERNAL_H */
