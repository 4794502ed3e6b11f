/* Optimizer state in model files, for checkpoints (see nota/nn.h).
 *
 * Adam's moments and SGD's momentum buffers are what a resumed run needs
 * besides the weights; without them the first steps after a restart take a
 * different path than the uninterrupted run would have. The step count and
 * the kind go into one u8 tensor, "<prefix>state" = 8 little-endian bytes of
 * step + 1 byte of kind (0 Adam, 1 SGD), because an f32 cannot hold every
 * int64. Load validates all tensors before copying any.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_optim_internal.h"

static nota_status tname(char *buf, size_t cap, const char *prefix, const char *what, size_t i,
                         bool indexed) {
    int w = indexed ? snprintf(buf, cap, "%s%s.%zu", prefix ? prefix : "", what, i)
                    : snprintf(buf, cap, "%s%s", prefix ? prefix : "", what);
    if (w < 0 || (size_t)w >= cap || w >= NOTA_MODEL_MAX_NAME)
        return nota_error(NOTA_ELIMIT, "optimizer: tensor name with prefix '%s' exceeds %d bytes",
                          prefix ? prefix : "", NOTA_MODEL_MAX_NAME - 1);
    return NOTA_OK;
}

static nota_status add_state(nota_modelfile *mf, const char *name, const nota_tensor *like,
                             float *data) {
    nota_tensor *t;
    nota_status st = nota_tensor_wrap(NOTA_F32, like->ndim, like->shape, data, &t);
    if (st) return st;
    st = nota_modelfile_add_tensor(mf, name, t);
    nota_tensor_free(t);
    return st;
}

nota_status nota_nn_optim_save(const nota_nn_optim *opt, nota_modelfile *mf, const char *prefix) {
    if (!opt || !mf) return nota_error(NOTA_EINVAL, "nota_nn_optim_save: opt or mf is NULL");
    char name[NOTA_MODEL_MAX_NAME + 32];
    uint8_t bytes[9];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)((uint64_t)opt->step >> (8 * i));
    bytes[8] = opt->kind == OPT_ADAM ? 0 : 1;
    int64_t nine = 9;
    nota_tensor *t;
    nota_status st = tname(name, sizeof name, prefix, "state", 0, false);
    if (!st) st = nota_tensor_wrap(NOTA_U8, 1, &nine, bytes, &t);
    if (st) return st;
    st = nota_modelfile_add_tensor(mf, name, t);
    nota_tensor_free(t);
    for (size_t i = 0; !st && i < opt->n; i++) {
        st = tname(name, sizeof name, prefix, "m", i, true);
        if (!st) st = add_state(mf, name, opt->slots[i].value, opt->slots[i].m);
        if (!st && opt->kind == OPT_ADAM) {
            st = tname(name, sizeof name, prefix, "v", i, true);
            if (!st) st = add_state(mf, name, opt->slots[i].value, opt->slots[i].v);
        }
    }
    return st ? nota_error_prefix(st, "saving optimizer state: ") : NOTA_OK;
}

/* The tensor `name` if it exists, is f32 shaped like `like` and is finite. */
static nota_status get_state(const nota_modelfile *mf, const char *name, const nota_tensor *like,
                             const nota_tensor **out) {
    nota_status st = nota_modelfile_get_tensor(mf, name, out);
    if (st) return st;
    if ((*out)->dtype != NOTA_F32 || !nota_tensor_same_shape(*out, like)) {
        char a[96], b[96];
        return nota_error(NOTA_ESHAPE, "optimizer tensor '%s' is %s %s, expected f32 %s", name,
                          nota_dtype_name((*out)->dtype),
                          nota_shape_str((*out)->ndim, (*out)->shape, a, sizeof a),
                          nota_shape_str(like->ndim, like->shape, b, sizeof b));
    }
    return nota_tensor_check_finite(*out, name);
}

nota_status nota_nn_optim_load(nota_nn_optim *opt, const nota_modelfile *mf, const char *prefix) {
    if (!opt || !mf) return nota_error(NOTA_EINVAL, "nota_nn_optim_load: opt or mf is NULL");
    char name[NOTA_MODEL_MAX_NAME + 32];
    const nota_tensor *t;
    nota_status st = tname(name, sizeof name, prefix, "state", 0, false);
    if (!st) st = nota_modelfile_get_tensor(mf, name, &t);
    if (st) return st;
    if (t->dtype != NOTA_U8 || t->ndim != 1 || t->shape[0] != 9)
        return nota_error(NOTA_EFORMAT, "optimizer tensor '%s' must be 9 bytes (u8 (9,))", name);
    const uint8_t *bytes = t->data;
    uint64_t step = 0;
    for (int i = 0; i < 8; i++)
        step |= (uint64_t)bytes[i] << (8 * i);
    if (step > (uint64_t)INT64_MAX)
        return nota_error(NOTA_EFORMAT, "optimizer tensor '%s' holds a negative step count", name);
    static const char *kinds[2] = {"adam", "sgd"};
    if (bytes[8] > 1)
        return nota_error(NOTA_EFORMAT, "optimizer tensor '%s' names unknown kind %u", name,
                          (unsigned)bytes[8]);
    if (bytes[8] != (opt->kind == OPT_ADAM ? 0 : 1))
        return nota_error(NOTA_EINVAL, "optimizer state '%s' is %s's, this optimizer is %s", name,
                          kinds[bytes[8]], kinds[opt->kind == OPT_ADAM ? 0 : 1]);
    for (int pass = 0; pass < 2; pass++) /* validate everything, then copy */
        for (size_t i = 0; i < opt->n; i++) {
            const nota_tensor *m, *v = NULL;
            st = tname(name, sizeof name, prefix, "m", i, true);
            if (!st) st = get_state(mf, name, opt->slots[i].value, &m);
            if (!st && opt->kind == OPT_ADAM) {
                st = tname(name, sizeof name, prefix, "v", i, true);
                if (!st) st = get_state(mf, name, opt->slots[i].value, &v);
                /* a negative second moment would make sqrt(v) NaN next step */
                for (size_t j = 0; !st && j < nota_tensor_numel(v); j++)
                    if (((const float *)v->data)[j] < 0.0f)
                        st =
                            nota_error(NOTA_EFORMAT,
                                       "optimizer tensor '%s' has a negative element %zu", name, j);
            }
            if (st) return st;
            if (pass == 1) {
                memcpy(opt->slots[i].m, m->data, m->nbytes);
                if (v) memcpy(opt->slots[i].v, v->data, v->nbytes);
            }
        }
    opt->step = (int64_t)step;
    return NOTA_OK;
}
