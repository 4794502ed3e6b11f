/* jobs.h — the libuv job runner: long work off the main thread.
 *
 * A job (fit, sample, eval, ...) runs on libuv's thread pool via
 * uv_queue_work, while the main thread's loop stays free to draw progress
 * (woken by a uv_async_t, redrawn by a uv_timer_t) and to catch Ctrl-C (a
 * uv_signal_t that sets the flag host->cancelled reads). Every job names the
 * device it needs; the runner keeps one FIFO per device and runs one job per
 * device at a time, so that work for one GPU never races another job for the
 * same memory while different devices still run side by side. Today every job
 * is a CPU job.
 *
 * nota_last_error() is thread-local: the runner copies a failing job's
 * message on the worker thread and host_job_raise() re-raises it on the main
 * thread.
 *
 * Lifetime: init, submit jobs, run (returns once every submitted job is done;
 * the runner's handles are closed then), close. A runner runs once.
 */
#ifndef NOTA_HOST_JOBS_H
#define NOTA_HOST_JOBS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "nota/plugin.h"
#include "progress.h"

typedef struct host_job host_job;
typedef nota_status (*host_job_fn)(host_job *job, const nota_host *host);

struct host_job {
    const char *name;   /* "fit", for messages */
    nota_device device; /* where the work runs */
    host_job_fn run;
    void *arg;          /* the command's state, for run */
    nota_status status; /* set when done */
    char error[1024];   /* the worker's nota_last_error() when status != OK */
    bool done;
    /* runner's bookkeeping */
    uv_work_t req;
    host_job *next;
    struct host_runner *runner;
};

#define HOST_MAX_DEVICES 16

typedef struct host_queue {
    nota_device device;
    host_job *head, *tail; /* waiting, FIFO */
    host_job *running;
} host_queue;

typedef struct host_runner {
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t timer;
    uv_signal_t sigint;
    bool handles_open;
    bool watching;         /* SIGINT watcher started (at the first submit) */
    atomic_bool wake_open; /* progress may poke `wake` */
    atomic_bool cancel;
    int sigints;
    host_progress progress;
    host_queue queues[HOST_MAX_DEVICES];
    size_t n_queues;
    int pending;
    nota_host host;
} host_runner;

typedef struct host_runner_opts {
    bool tty;    /* stderr is a terminal: draw a bar */
    int verbose; /* show debug log lines */
    uint64_t seed;
    int threads;
} host_runner_opts;

nota_status host_runner_init(host_runner *r, const host_runner_opts *o);
/* Services to pass to plugin calls (also valid outside jobs). */
const nota_host *host_runner_host(const host_runner *r);
/* Queue a job on its device's FIFO; it starts at once if the device is idle.
 * The job must stay alive until host_runner_run returns. */
nota_status host_runner_submit(host_runner *r, host_job *job);
/* Run the loop until every submitted job is done. */
void host_runner_run(host_runner *r);
bool host_runner_cancelled(host_runner *r);
void host_runner_close(host_runner *r);

/* On the main thread: NOTA_OK, or the job's status with its message restored. */
nota_status host_job_raise(const host_job *job);

#endif
