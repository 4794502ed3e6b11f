/* nn_optim_internal.h — the optimizer object, shared by nn_optim.c (the
 * updates) and nn_optim_io.c (checkpoint save / load of its state). */
#ifndef NOTA_NN_OPTIM_INTERNAL_H
#define NOTA_NN_OPTIM_INTERNAL_H

#include "nn_internal.h"

typedef enum { OPT_ADAM, OPT_SGD } opt_kind;

typedef struct opt_slot {
    nota_tensor *value, *grad; /* borrowed */
    float *m, *v;              /* owned state (v unused by SGD) */
} opt_slot;

struct nota_nn_optim {
    opt_kind kind;
    nota_nn_adam_opts adam;
    nota_nn_sgd_opts sgd;
    int64_t step;
    opt_slot *slots;
    size_t n, cap;
};

#endif /* NOTA_NN_OPTIM_INTERNAL_H */
