/* parallel.h — libnota's internal parallel-for over nota_get_threads().
 *
 * One small pool of persistent workers runs all of libnota's parallel work:
 * the blocks of large GEMMs and SYRKs (linalg_threads.c; OpenBLAS itself
 * stays on one thread) and the element-wise loops between them (optimizer
 * step, gradient zeroing, loss terms, random fills), which on one core were
 * a third of a 2-thread VAE epoch (bench/RESULTS.md).
 *
 * A body must treat its items independently (element-wise work, or writes
 * to per-block slots): parts are contiguous ranges whose bounds depend on
 * the thread count, so only such bodies give the same bits for any count.
 * Calls from several threads at once are safe: a caller that finds the pool
 * busy (or is a pool worker itself) runs its loop alone.
 */
#ifndef NOTA_PARALLEL_H
#define NOTA_PARALLEL_H

#include <stddef.h>

#include "nota/parallel.h" /* the public face: nota_parallel_for */

typedef nota_parallel_body nota_par_body;

/* Runs body over [0, n) in at most nota_get_threads() parts of at least
 * `grain` items each (one part, in the caller, when n < 2·grain); returns
 * when every part is done. */
void nota_par_for(size_t n, size_t grain, nota_par_body body, void *ctx);

#endif /* NOTA_PARALLEL_H */
