/* nota/parallel.h — libnota's worker pool, for a plugin's own loops.
 *
 * libnota runs its GEMMs, losses and optimizer steps on one small pool of
 * persistent threads, nota_get_threads() wide (docs/design.md "Threads"). A
 * plugin's element-wise loops (gathering a batch, a data pass) can run on the
 * same pool instead of starting threads of their own, which would compete
 * with it for the cores.
 *
 * nota_parallel_for runs body(ctx, begin, end) over [0, n) in at most
 * nota_get_threads() contiguous parts of at least `grain` items (a single
 * call in the caller's thread when n < 2·grain) and returns when all are
 * done. A call made while the pool is busy — from inside a body, or from
 * another thread at the same time — runs its whole range in the caller. The
 * cut depends on the thread count: a body whose items are independent (each
 * writes only its own outputs) gives the same results for any count.
 */
#ifndef NOTA_PARALLEL_PUBLIC_H
#define NOTA_PARALLEL_PUBLIC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*nota_parallel_body)(void *ctx, size_t begin, size_t end);

void nota_parallel_for(size_t n, size_t grain, nota_parallel_body body, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* NOTA_PARALLEL_PUBLIC_H */
