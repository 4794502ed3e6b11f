/* modelfile_internal.h — the pieces behind nota/modelfile.h, shared by the
 * sdk/src/modelfile_*.c files and by tests that craft hostile files.
 *
 * The public object (struct nota_modelfile) lives in modelfile.c. Loading goes
 * frame (modelfile_frame.c) → nesting scan (modelfile_scan.c) → capped unpack
 * (modelfile_alloc.c) → validate (modelfile_validate.c) → convert
 * (modelfile_convert.c); modelfile_io.c strings them together and does the
 * atomic save. Each step reports through nota_error with the file's name.
 */
#ifndef NOTA_MODELFILE_INTERNAL_H
#define NOTA_MODELFILE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "nota.pb-c.h"
#include "nota/modelfile.h"

/* --- framing -------------------------------------------------------------- */

#define NOTA_MF_MAGIC "NOTAMDL\0"
#define NOTA_MF_MAGIC_LEN 8
#define NOTA_MF_FRAME_VERSION 1u
#define NOTA_MF_HEADER_BYTES 24 /* magic 8 + version 4 + length 8 + crc 4 */
/* protobuf-c counts repeated elements in 32 bits; every element takes at
 * least one byte, so payloads below 4 GiB cannot overflow that count. */
#define NOTA_MF_MAX_PAYLOAD (UINT64_C(0xFFFFFFFF) - NOTA_MF_HEADER_BYTES)

/* Write the header for a payload of payload_n bytes with CRC-32 `crc` into
 * hdr[NOTA_MF_HEADER_BYTES]. */
void nota_mf_frame_header(uint8_t *hdr, uint64_t payload_n, uint32_t crc);
/* Check magic, frame version, length against the image size and the CRC;
 * on success *payload / *payload_n point into `bytes`. */
nota_status nota_mf_frame_check(const uint8_t *bytes, size_t n, const char *name,
                                const uint8_t **payload, size_t *payload_n);
/* CRC-32 (zlib polynomial) of any length; _more continues a running CRC
 * (start from nota_mf_crc32(NULL, 0)). */
uint32_t nota_mf_crc32(const uint8_t *p, size_t n);
uint32_t nota_mf_crc32_more(uint32_t crc, const uint8_t *p, size_t n);

/* --- nesting scan ----------------------------------------------------------- */

/* Walk the wire format of a nota.Model payload with an explicit stack, using
 * the protobuf-c descriptors to tell sub-messages from other length-delimited
 * fields. Refuses nesting deeper than max_depth messages (NOTA_ELIMIT),
 * malformed wire data (NOTA_EFORMAT) and strings holding a NUL byte
 * (NOTA_EFORMAT: protobuf-c would silently cut them). Never recurses. */
nota_status nota_mf_scan(const uint8_t *payload, size_t n, int max_depth, const char *name);

/* --- capped allocator -------------------------------------------------------- */

typedef struct nota_mf_alloc {
    ProtobufCAllocator pc; /* hand &a.pc to protobuf-c */
    uint64_t cap;          /* bytes allowed live at once */
    uint64_t live;         /* bytes live now, headers included */
    uint64_t peak;
    int over_cap;          /* a request was refused because of `cap` */
    int out_of_memory;     /* malloc itself failed */
} nota_mf_alloc;

void nota_mf_alloc_init(nota_mf_alloc *a, uint64_t cap);
/* Bytes charged per allocation on top of the request (the size header). */
#define NOTA_MF_ALLOC_OVERHEAD 16u

/* --- validation ----------------------------------------------------------- */

/* Check a whole unpacked (or about-to-be-packed) model tree; messages start
 * with `prefix` ("model 'x.nota'"). Bounded recursion: the tree is at most
 * NOTA_MODEL_MAX_DEPTH messages deep (scanned, or built by add_submodel). */
nota_status nota_mf_validate(const Nota__Model *m, const char *prefix);
/* UTF-8 check: returns the offset of the first bad byte, or SIZE_MAX if ok. */
size_t nota_mf_utf8_bad(const char *s, size_t n);

/* Levels of models a nesting may hold so that its deepest message (a Metric
 * inside the deepest model's Metadata) stays within NOTA_MODEL_MAX_DEPTH:
 * a model at level k is message 2k+1, its Metric 2k+3. */
#define NOTA_MF_MAX_MODEL_LEVELS ((NOTA_MODEL_MAX_DEPTH - 3) / 2 + 1)

/* --- conversion ------------------------------------------------------------ */

/* Build a protobuf tree that borrows every string and tensor buffer from mf;
 * free it with nota_mf_pb_free_borrowed. `now` fills created_unix where 0. */
nota_status nota_mf_to_pb(const nota_modelfile *mf, int64_t now, Nota__Model **out);
void nota_mf_pb_free_borrowed(Nota__Model *m);
/* Build a nota_modelfile from a validated tree. Tensor data are copied and
 * then released from the tree at once (through `alloc`) to keep the peak low. */
nota_status nota_mf_from_pb(Nota__Model *m, ProtobufCAllocator *alloc, nota_modelfile **out);

/* --- object internals used by conversion ------------------------------------ */

/* Set fields read from a file (the public API sets these from the build). */
void nota_mf_set_versions(nota_modelfile *mf, uint32_t abi_version, int64_t created_unix);
/* Append a tensor taking ownership of `t` (freed on failure); no duplicate
 * check: the caller validated uniqueness already. */
nota_status nota_mf_append_tensor(nota_modelfile *mf, const char *name, nota_tensor *t);
/* Borrowed i-th tensor / sub-model (NULL past the end). */
const nota_tensor *nota_mf_tensor_at(const nota_modelfile *mf, size_t i);
const nota_modelfile *nota_mf_submodel_at(const nota_modelfile *mf, size_t i);
/* Levels of models in mf's tree (1 for a model without sub-models). */
int nota_mf_levels(const nota_modelfile *mf);

#endif /* NOTA_MODELFILE_INTERNAL_H */
