/* A ProtobufCAllocator that caps the bytes live at once.
 *
 * protobuf-c has no memory limit of its own: every empty sub-message on the
 * wire (2 bytes) becomes a struct of ~100 bytes, and a packed repeated field
 * becomes an array 8× its wire size. The loader gives protobuf-c this
 * allocator with a cap derived from the file size (2 × size + 1 MiB by
 * default) so a small hostile file cannot make it allocate without bound.
 * Each block carries a 16-byte header holding its size, so frees are credited
 * back and the count is of real live memory, headers included.
 */
#include <stddef.h>
#include <stdlib.h>

#include "modelfile_internal.h"

typedef struct block_header {
    size_t size;
} block_header;

/* The user part starts NOTA_MF_ALLOC_OVERHEAD bytes into a malloc block, so
 * it keeps malloc's alignment as long as the offset is a multiple of it. */
_Static_assert(NOTA_MF_ALLOC_OVERHEAD % _Alignof(max_align_t) == 0, "user part stays aligned");
_Static_assert(sizeof(block_header) <= NOTA_MF_ALLOC_OVERHEAD, "header fits the offset");

static void *capped_alloc(void *data, size_t size) {
    nota_mf_alloc *a = data;
    uint64_t charge = (uint64_t)size + NOTA_MF_ALLOC_OVERHEAD;
    if (size > SIZE_MAX - NOTA_MF_ALLOC_OVERHEAD || a->live + charge > a->cap) {
        a->over_cap = 1;
        return NULL;
    }
    block_header *h = malloc(NOTA_MF_ALLOC_OVERHEAD + size);
    if (!h) {
        a->out_of_memory = 1;
        return NULL;
    }
    h->size = size;
    a->live += charge;
    if (a->live > a->peak) a->peak = a->live;
    return (char *)h + NOTA_MF_ALLOC_OVERHEAD;
}

static void capped_free(void *data, void *ptr) {
    if (!ptr) return;
    nota_mf_alloc *a = data;
    block_header *h = (block_header *)((char *)ptr - NOTA_MF_ALLOC_OVERHEAD);
    a->live -= (uint64_t)h->size + NOTA_MF_ALLOC_OVERHEAD;
    free(h);
}

void nota_mf_alloc_init(nota_mf_alloc *a, uint64_t cap) {
    *a = (nota_mf_alloc){.cap = cap};
    a->pc.alloc = capped_alloc;
    a->pc.free = capped_free;
    a->pc.allocator_data = a;
}
