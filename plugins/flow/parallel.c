/* A minimal parallel-for: workers pull chunks of [0, n) from an atomic
 * counter, so uneven work (splines that find many empty grid cells, rows
 * of different cost) balances itself. Threads are started per call: a flow
 * layer is milliseconds to seconds of work, so the ~50 µs start cost is
 * noise, and no pool outlives the call (nothing to clean up on error). If a
 * thread cannot be started the remaining work simply runs on fewer. */
#include <pthread.h>
#include <stdatomic.h>

#include "flow.h"

typedef struct par_job {
    flow_par_fn fn;
    void *ctx;
    int64_t n, grain;
    atomic_llong next;
} par_job;

typedef struct par_arg {
    par_job *job;
    int thread;
} par_arg;

static void *worker(void *p) {
    par_arg *a = p;
    par_job *j = a->job;
    for (;;) {
        int64_t b = (int64_t)atomic_fetch_add(&j->next, (long long)j->grain);
        if (b >= j->n) break;
        int64_t e = b + j->grain < j->n ? b + j->grain : j->n;
        j->fn(j->ctx, b, e, a->thread);
    }
    return NULL;
}

void flow_parallel(int threads, int64_t n, int64_t grain, flow_par_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if ((int64_t)threads > (n + grain - 1) / grain) threads = (int)((n + grain - 1) / grain);
    par_job job = {.fn = fn, .ctx = ctx, .n = n, .grain = grain};
    atomic_init(&job.next, 0);
    pthread_t tid[64];
    par_arg args[64];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        args[t] = (par_arg){&job, t};
        if (pthread_create(&tid[t], NULL, worker, &args[t]) != 0) break;
        started = t;
    }
    args[0] = (par_arg){&job, 0};
    worker(&args[0]);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
}
