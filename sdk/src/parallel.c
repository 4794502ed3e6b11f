/* The worker pool behind nota_par_for (see parallel.h).
 *
 * Workers are created on first need (up to nota_get_threads() − 1, never
 * destroyed: between loops they poll briefly, then sleep on a condition
 * variable) and numbered 1..; the caller always runs part 0 itself. A loop is published by bumping
 * a generation counter under the mutex; worker p runs part p if p < parts,
 * then counts `pending` down, and the last one wakes the caller. The caller
 * cannot publish the next loop before `pending` reaches 0, so a worker that
 * has a part can never miss its generation.
 *
 * Any failure to start a worker (pthread_create) leaves the loop to the
 * threads that exist — at worst the caller alone — so nota_par_for itself
 * cannot fail.
 */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "nota/linalg.h"

#define PAR_MAX_THREADS 64
#define PAR_ALIGN 16 /* part bounds on multiples of 16 items: whole cache lines of f32 */

static struct {
    pthread_mutex_t busy; /* held by the caller of the loop in flight */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    uint64_t gen;
    atomic_uint_fast64_t agen;      /* gen, readable without the mutex (spinning) */
    int workers;                    /* started so far */
    uint64_t born[PAR_MAX_THREADS]; /* pool.gen when worker i was started */
    /* the loop in flight */
    nota_par_body body;
    void *ctx;
    size_t n, parts;
    atomic_uint_fast64_t pending;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER,
          .mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static size_t part_bound(size_t n, size_t parts, size_t p) {
    if (p >= parts) return n;
    size_t b = n / parts * p + n % parts * p / parts;          /* n·p/parts without overflow */
    return n >= parts * PAR_ALIGN * 4 ? b - b % PAR_ALIGN : b; /* small n: as even as can be */
}

/* Before sleeping, a worker (and the caller waiting for its parts) polls
 * for up to PAR_SPIN_NS: the nn kit issues loops back to back, tens of
 * microseconds apart (a GEMM, a bias and activation pass, the next GEMM),
 * and a futex sleep and wake-up costs about as much as a small GEMM block —
 * 8,000 of them per VAE epoch were a tenth of its time. Past that a waiter
 * sleeps, so an idle pool costs nothing. */
#define PAR_SPIN_NS 100000

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls until (*v == x) == want (returns true) or the spin time is up. */
static bool spin_until(atomic_uint_fast64_t *v, uint64_t x, bool want) {
    int64_t end = now_ns() + PAR_SPIN_NS;
    for (;;) {
        for (int i = 0; i < 32; i++) {
            if ((atomic_load_explicit(v, memory_order_acquire) == x) == want) return true;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        if (now_ns() > end) return false;
    }
}

static void *worker(void *arg) {
    size_t id = (size_t)(uintptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    uint64_t seen = pool.born[id];
    for (;;) {
        if (pool.gen == seen) {
            pthread_mutex_unlock(&pool.mu);
            spin_until(&pool.agen, seen, false);
            pthread_mutex_lock(&pool.mu);
        }
        while (pool.gen == seen)
            pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.gen;
        if (id >= pool.parts) continue;
        nota_par_body body = pool.body;
        void *ctx = pool.ctx;
        size_t b = part_bound(pool.n, pool.parts, id), e = part_bound(pool.n, pool.parts, id + 1);
        pthread_mutex_unlock(&pool.mu);
        if (e > b) body(ctx, b, e);
        pthread_mutex_lock(&pool.mu);
        if (atomic_fetch_sub(&pool.pending, 1) == 1) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* Starts workers up to `want` (caller holds pool.busy); returns how many exist. */
/* A child of fork() has only the forking thread: it starts with no workers
 * and fresh locks (the parent's may have been held at the fork). */
static void forget_workers_in_child(void) {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pool.busy = m, pool.mu = m, pool.wake = c, pool.done = c;
    pool.workers = 0;
    atomic_store(&pool.pending, 0);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, forget_workers_in_child); }

static int ensure_workers(int want) {
    if (pool.workers < want) pthread_once(&atfork_once, register_atfork);
    while (pool.workers < want) {
        pthread_t t;
        pthread_attr_t a;
        if (pthread_attr_init(&a)) break;
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        /* the worker starts from the generation of its birth, not from
         * whatever pool.gen is once it first runs: the loop about to be
         * published may already be out by then, and must not be missed */
        pthread_mutex_lock(&pool.mu);
        pool.born[pool.workers + 1] = pool.gen;
        int rc = pthread_create(&t, &a, worker, (void *)(uintptr_t)(pool.workers + 1));
        if (!rc) pool.workers++;
        pthread_mutex_unlock(&pool.mu);
        pthread_attr_destroy(&a);
        if (rc) break;
    }
    return pool.workers;
}

/* Runs body over [0, n) in `parts` parts (2 <= parts <= 1 + workers wanted). */
static void run_parts(size_t n, size_t parts, nota_par_body body, void *ctx) {
    if (pthread_mutex_trylock(&pool.busy) != 0) {
        body(ctx, 0, n);
        return;
    }
    int have = ensure_workers((int)parts - 1);
    if ((size_t)have + 1 < parts) parts = (size_t)have + 1;
    if (parts < 2) {
        pthread_mutex_unlock(&pool.busy);
        body(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.body = body, pool.ctx = ctx, pool.n = n, pool.parts = parts;
    atomic_store(&pool.pending, parts - 1);
    pool.gen++;
    atomic_store_explicit(&pool.agen, pool.gen, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    size_t e = part_bound(n, parts, 1);
    if (e > 0) body(ctx, 0, e);

    spin_until(&pool.pending, 0, true);
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.pending) > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.busy);
}

void nota_par_for(size_t n, size_t grain, nota_par_body body, void *ctx) {
    if (n == 0) return;
    if (grain < 1) grain = 1;
    int threads = nota_get_threads();
    size_t parts = n / grain;
    if (threads > PAR_MAX_THREADS) threads = PAR_MAX_THREADS;
    if (parts > (size_t)threads) parts = (size_t)threads;
    if (parts < 2) {
        body(ctx, 0, n);
        return;
    }
    run_parts(n, parts, body, ctx);
}

void nota_parallel_for(size_t n, size_t grain, nota_parallel_body body, void *ctx) {
    nota_par_for(n, grain, body, ctx);
}
