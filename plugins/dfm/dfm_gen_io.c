/* Generation mode, part 4: the model file (dfm_gen.h). Tensors:
 * "data_shape" f32 (4) = C, H, W and the training codes' RMS (sampling's
 * default scale); "dec.<i>.weight|bias" and, with an
 * encoder, "enc.<i>.…" (the nn kit's net save). The config (saved by dfm.c)
 * gives the architecture. A file may be hostile (RELIABILITY.md): the data
 * shape is range-checked and every Linear tensor's shape is checked against
 * the config BEFORE the networks are built, so a forged config cannot make
 * the loader allocate networks larger than the file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfm_gen.h"

nota_status dfm_gen_save(const dfm_gen *g, nota_modelfile *mf) {
    if (!g->dec) return nota_error(NOTA_EINVAL, "dfm: save needs a fitted generation model");
    int64_t n3 = 4;
    nota_tensor *s;
    nota_status st = nota_tensor_new(NOTA_F32, 1, &n3, &s);
    if (st) return st;
    float *d = nota_tensor_f32(s);
    d[0] = (float)g->arch.channels, d[1] = (float)g->arch.h, d[2] = (float)g->arch.w;
    d[3] = (float)g->code_rms;
    st = nota_modelfile_add_tensor(mf, "data_shape", s);
    nota_tensor_free(s);
    if (!st) st = nota_nn_net_save(g->dec, mf, "dec.");
    if (!st && g->enc) st = nota_nn_net_save(g->enc, mf, "enc.");
    return st;
}

static nota_status check_tensor(const nota_modelfile *mf, const char *name, int ndim, int64_t d0,
                                int64_t d1) {
    const nota_tensor *t;
    nota_status st = nota_modelfile_get_tensor(mf, name, &t);
    if (st) return nota_error_prefix(st, "dfm model: ");
    if (t->dtype != NOTA_F32 || t->ndim != ndim || t->shape[0] != d0 ||
        (ndim == 2 && t->shape[1] != d1)) {
        char buf[64];
        return nota_error(NOTA_EFORMAT,
                          "dfm model: tensor '%s' is %s, the config needs f32 (%lld%s%lld)", name,
                          nota_shape_str(t->ndim, t->shape, buf, sizeof buf), (long long)d0,
                          ndim == 2 ? ", " : "", ndim == 2 ? (long long)d1 : 0LL);
    }
    return NOTA_OK;
}

/* Linear layers sit at indices 0, 2, 4, … (ReLU between). */
static nota_status check_mlp(const nota_modelfile *mf, const char *prefix, int64_t in,
                             const int64_t *hidden, int n, int64_t out) {
    int64_t prev = in;
    for (int i = 0; i <= n; i++) {
        int64_t next = i < n ? hidden[i] : out;
        char name[64];
        snprintf(name, sizeof name, "%s%d.weight", prefix, 2 * i);
        nota_status st = check_tensor(mf, name, 2, next, prev);
        snprintf(name, sizeof name, "%s%d.bias", prefix, 2 * i);
        if (!st) st = check_tensor(mf, name, 1, next, 0);
        if (st) return st;
        prev = next;
    }
    return NOTA_OK;
}

nota_status dfm_gen_load(const nota_modelfile *mf, dfm_gen **out) {
    *out = NULL;
    dfm_gen *g;
    nota_status st = dfm_gen_new(nota_modelfile_config(mf), &g);
    if (st) return nota_error_prefix(st, "dfm model: ");
    const nota_tensor *s;
    st = nota_modelfile_get_tensor(mf, "data_shape", &s);
    if (st) st = nota_error_prefix(st, "dfm model: ");
    if (!st && (s->dtype != NOTA_F32 || s->ndim != 1 || s->shape[0] != 4))
        st = nota_error(NOTA_EFORMAT, "dfm model: tensor 'data_shape' must be f32 (4)");
    if (!st && !(nota_tensor_f32(s)[3] >= 0.0f && nota_tensor_f32(s)[3] < 1e30f))
        st = nota_error(NOTA_EFORMAT, "dfm model: code RMS %g must be finite and >= 0",
                        (double)nota_tensor_f32(s)[3]);
    int64_t dims[3] = {0, 0, 0};
    for (int i = 0; i < 3 && !st; i++) {
        float v = nota_tensor_f32(s)[i];
        if (!(v >= 1.0f && v <= (float)DFM_MAX_SIDE && v == floorf(v)))
            st = nota_error(NOTA_EFORMAT,
                            "dfm model: data_shape[%d] = %g is not an integer in "
                            "1..%d",
                            i, (double)v, DFM_MAX_SIDE);
        else
            dims[i] = (int64_t)v;
    }
    dfm_gen_arch a;
    if (!st)
        st = dfm_gen_arch_init(&a, (int)dims[0], (int)g->width, (int)g->depth, dims[1], dims[2],
                               (float)g->coord_scale);
    if (!st) st = check_mlp(mf, "dec.", g->latent, g->dec_hidden, g->n_dec, a.off[a.depth]);
    if (!st && g->encoder)
        st = check_mlp(mf, "enc.", dims[0] * dims[1] * dims[2], g->enc_hidden, g->n_enc, g->latent);
    if (!st) st = dfm_gen_build(g, dims[0], dims[1], dims[2], 0);
    if (!st) g->code_rms = nota_tensor_f32(s)[3];
    if (!st) st = nota_nn_net_load(g->dec, mf, "dec.");
    if (!st && g->enc) st = nota_nn_net_load(g->enc, mf, "enc.");
    if (st) {
        dfm_gen_free(g);
        return st;
    }
    *out = g;
    return NOTA_OK;
}
