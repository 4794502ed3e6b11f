/* What the latent plugin's two neural kinds (vae.c, gan.c) share: parsing
 * the hidden-size list, building fully connected stacks from the SDK's nn
 * kit, per-column data scaling, shuffled mini-batches, shape checks and
 * parameter snapshots (for early stopping). Internal to the plugin. */
#ifndef LATENT_NNUTIL_H
#define LATENT_NNUTIL_H

#include "nota/nn.h"
#include "nota/nota.h"

#define LAT_MAX_HIDDEN 8

/* "512,256" → {512, 256}; 1..LAT_MAX_HIDDEN sizes, each in 1..65536. */
nota_status lat_parse_hidden(const char *who, const char *text, int64_t *sizes, int *n);

/* in → hidden[0] → … → hidden[n−1] → out (reverse: the hidden list read
 * backwards, for decoders/generators), act after every hidden Linear and none
 * after the last. Layers initialised from (seed, stream + layer index). */
nota_status lat_mlp_new(int64_t in, const int64_t *hidden, int n, bool reverse, int64_t out,
                        nota_nn_act_kind act, float act_param, uint64_t seed, uint64_t stream,
                        nota_nn_net **net);

/* Before building a net from a model file's config: check that the file
 * holds "<prefix><2i>.weight" (out, in) and "<prefix><2i>.bias" (out) for
 * every Linear layer lat_mlp_new would make (layers 0, 2, 4, … with the
 * activations between them), so a hostile config cannot make the loader
 * allocate networks larger than the file itself. NOTA_EFORMAT / ENOTFOUND
 * naming the tensor, prefixed "<who> model: ". */
nota_status lat_mlp_check_file(const nota_modelfile *mf, const char *prefix, int64_t in,
                               const int64_t *hidden, int n, bool reverse, int64_t out, bool bias,
                               const char *who);

/* The data a model was fitted on: item shape and the per-column map to the
 * network's units, x_net = (x − shift) / scale. */
typedef struct lat_items {
    int64_t d;
    int item_ndim;
    int64_t item_shape[NOTA_MAX_DIMS];
    float *shift, *scale; /* d each, owned */
} lat_items;

void lat_items_release(lat_items *it);
/* Standardise each column (mean 0, sd 1); a constant column keeps scale 1 so
 * it maps to 0 instead of NaN. */
nota_status lat_items_fit_standard(lat_items *it, const nota_tensor *x, const char *who);
/* One range for all columns onto [0, 1]: [0, 256] when the data lies there
 * (8-bit images, as the host dequantizes them), else [min, max]. */
nota_status lat_items_fit_unit(lat_items *it, const nota_tensor *x, const char *who);
/* Σ log scale_j: add to a density's negative log in network units to get
 * nats in data units. */
double lat_items_log_jacobian(const lat_items *it);
/* Rows idx[0..m) (or rows first..first+m when idx is NULL) of x, mapped to
 * network units into out (m × d); clamp01 clips to [0, 1] (Bernoulli
 * targets). */
void lat_items_gather(const lat_items *it, const float *x, const int64_t *idx, int64_t first,
                      int64_t m, bool clamp01, float *out);
/* out (N, item shape) from network-unit rows y (N × d). */
nota_status lat_items_output(const lat_items *it, const float *y, int64_t n, nota_tensor **out);
/* Refuse anything but finite f32 (N, item…) whose item size is d, naming
 * both shapes. `what` is "vae encode", "gan fit", … */
nota_status lat_items_check(const lat_items *it, const nota_tensor *x, const char *what);
/* Save / load shift and scale as "<prefix>shift", "<prefix>scale". */
nota_status lat_items_save(const lat_items *it, nota_modelfile *mf, const char *who);
nota_status lat_items_load(lat_items *it, const nota_modelfile *mf, const char *who);

/* Uniformly random permutation of 0..n−1 from (seed, stream). */
void lat_permute(uint64_t seed, uint64_t stream, int64_t n, int64_t *idx);

/* Copies of every parameter and buffer of up to 4 nets, to restore the best
 * epoch after early stopping. */
typedef struct lat_snapshot {
    nota_nn_net *nets[4];
    int n_nets;
    float *data;
    size_t n;
} lat_snapshot;
nota_status lat_snapshot_new(lat_snapshot *s, nota_nn_net *const *nets, int n_nets);
void lat_snapshot_take(lat_snapshot *s);
void lat_snapshot_restore(const lat_snapshot *s);
void lat_snapshot_free(lat_snapshot *s);

/* Row views [0, m) of a set of full-batch work tensors, freed together. */
nota_status lat_views(nota_tensor *const *full, nota_tensor **views, int n, int64_t m);
void lat_views_free(nota_tensor **views, int n);

#endif
