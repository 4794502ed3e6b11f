/* nota/modelfile.h — model files: what a plugin saves and loads.
 *
 * A nota_modelfile is an in-memory model file: format version, the plugin's
 * name and version, the ABI version, a nota_config, named tensors, named
 * sub-models (pipelines nest whole models) and training metadata (dataset,
 * metrics, time). On disk it is a protobuf message (proto/nota.proto) framed
 * by a small header with the payload's length and CRC-32:
 *
 *   "NOTAMDL\0" | u32 frame version | u64 payload bytes | u32 crc32 | payload
 *   (little-endian integers)
 *
 * Loading treats the file as hostile (docs/model-files.md,
 * RELIABILITY.md 1–4): size limit before reading, checksum before parsing,
 * nesting depth checked without recursion, unpacking through a memory-capped
 * allocator, then every tensor validated (ndim, dims, byte length =
 * product × dtype size with overflow checks, unique UTF-8 names). Saving is
 * atomic: temp file in the same folder, fsync, rename, fsync the folder.
 *
 * Ownership: add_* copy their arguments except add_submodel, which takes the
 * sub-model. get_* return borrowed pointers valid until the file is freed.
 */
#ifndef NOTA_MODELFILE_H
#define NOTA_MODELFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "nota/status.h"
#include "nota/tensor.h"
#include "nota/config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NOTA_MODEL_FORMAT_VERSION 1
#define NOTA_MODEL_MAX_DEPTH 64            /* nested messages */
#define NOTA_MODEL_MAX_TENSORS 65536
#define NOTA_MODEL_MAX_SUBMODELS 256
#define NOTA_MODEL_MAX_NAME 256            /* bytes, tensor/sub-model/key names */
#define NOTA_MODEL_MAX_CONFIG 4096         /* config entries per model */
#define NOTA_MODEL_MAX_METRICS 4096        /* metrics per model */

typedef struct nota_modelfile nota_modelfile;

/* Limits applied by nota_modelfile_load; nota_modelfile_default_limits()
 * gives max_file_bytes = 4 GiB (NOTA_MODEL_MAX_BYTES in the environment
 * overrides) and max_alloc_bytes = 2 × file size + 1 MiB. */
typedef struct nota_model_limits {
    uint64_t max_file_bytes;
    uint64_t max_alloc_bytes; /* 0: derive from the file size as above */
    int max_depth;            /* 1..NOTA_MODEL_MAX_DEPTH; 0: NOTA_MODEL_MAX_DEPTH */
} nota_model_limits;
nota_model_limits nota_modelfile_default_limits(void);

nota_status nota_modelfile_new(const char *plugin, uint32_t plugin_version,
                               nota_modelfile **out);
void nota_modelfile_free(nota_modelfile *mf);

const char *nota_modelfile_plugin(const nota_modelfile *mf);
uint32_t nota_modelfile_plugin_version(const nota_modelfile *mf);
uint32_t nota_modelfile_abi_version(const nota_modelfile *mf);

/* Config (copied in; borrowed out; never NULL after new/load). */
nota_status nota_modelfile_set_config(nota_modelfile *mf, const nota_config *cfg);
const nota_config *nota_modelfile_config(const nota_modelfile *mf);

/* Named tensors (CPU, f32 or u8). Names are unique; adding a duplicate fails. */
nota_status nota_modelfile_add_tensor(nota_modelfile *mf, const char *name, const nota_tensor *t);
/* NOTA_ENOTFOUND naming the tensor and the file's plugin if absent. */
nota_status nota_modelfile_get_tensor(const nota_modelfile *mf, const char *name,
                                      const nota_tensor **out);
size_t nota_modelfile_tensor_count(const nota_modelfile *mf);
const char *nota_modelfile_tensor_name(const nota_modelfile *mf, size_t i);

/* Named sub-models; add takes ownership of `sub` (also on failure). */
nota_status nota_modelfile_add_submodel(nota_modelfile *mf, const char *name, nota_modelfile *sub);
nota_status nota_modelfile_get_submodel(const nota_modelfile *mf, const char *name,
                                        const nota_modelfile **out);
size_t nota_modelfile_submodel_count(const nota_modelfile *mf);
const char *nota_modelfile_submodel_name(const nota_modelfile *mf, size_t i);

/* Training metadata. */
nota_status nota_modelfile_set_dataset(nota_modelfile *mf, const char *dataset);
const char *nota_modelfile_dataset(const nota_modelfile *mf); /* "" if unset */
nota_status nota_modelfile_set_train_seconds(nota_modelfile *mf, double seconds);
double nota_modelfile_train_seconds(const nota_modelfile *mf);
int64_t nota_modelfile_created_unix(const nota_modelfile *mf);
/* Metrics: name → value, insert or replace. */
nota_status nota_modelfile_set_metric(nota_modelfile *mf, const char *name, double value);
nota_status nota_modelfile_get_metric(const nota_modelfile *mf, const char *name, double *value);
size_t nota_modelfile_metric_count(const nota_modelfile *mf);
const char *nota_modelfile_metric_name(const nota_modelfile *mf, size_t i, double *value);

/* Atomic save. The folder must exist (NOTA_EIO naming it otherwise). */
nota_status nota_modelfile_save(const nota_modelfile *mf, const char *path);
/* Load and validate; `limits` may be NULL for the defaults. */
nota_status nota_modelfile_load(const char *path, const nota_model_limits *limits,
                                nota_modelfile **out);
/* Same checks on an in-memory image of a file (used by the fuzzer). */
nota_status nota_modelfile_load_bytes(const uint8_t *bytes, size_t n, const char *name,
                                      const nota_model_limits *limits, nota_modelfile **out);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_MODELFILE_H */
