/* The libuv job runner (see jobs.h).
 *
 * Cancellation points: the runner never kills a worker thread (a plugin
 * stopped at an arbitrary instruction could leave its locks or files half
 * done). The first Ctrl-C only sets the flag that host->cancelled returns; the
 * plugin checks it at its own safe points and returns NOTA_ECANCELED, and the
 * command writes nothing. A second Ctrl-C is the user saying "now": the
 * process exits at once with status 130.
 */
#include "jobs.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void svc_log(void *ctx, nota_log_level level, const char *msg) {
    host_runner *r = ctx;
    host_progress_log(&r->progress, level, msg ? msg : "");
}

static void svc_progress(void *ctx, const char *stage, double done, double total,
                         const char *detail) {
    host_runner *r = ctx;
    host_progress_set(&r->progress, stage, done, total, detail);
    if (atomic_load(&r->wake_open)) uv_async_send(&r->wake);
}

static bool svc_cancelled(void *ctx) {
    host_runner *r = ctx;
    return atomic_load(&r->cancel);
}

static void on_wake(uv_async_t *h) {
    host_runner *r = h->data;
    host_progress_tick(&r->progress);
}

static void on_timer(uv_timer_t *h) {
    host_runner *r = h->data;
    host_progress_tick(&r->progress);
}

static void on_sigint(uv_signal_t *h, int signum) {
    host_runner *r = h->data;
    if (++r->sigints >= 2) {
        static const char msg[] = "\nnota-host: interrupted\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    atomic_store(&r->cancel, true);
    host_progress_log(&r->progress, NOTA_LOG_INFO,
                      "interrupt: stopping at the next safe point (Ctrl-C again to quit now)");
}

nota_status host_runner_init(host_runner *r, const host_runner_opts *o) {
    memset(r, 0, sizeof *r);
    nota_status st = host_progress_init(&r->progress, o->tty, o->verbose);
    if (st) return st;
    r->loop = uv_default_loop();
    int e = uv_async_init(r->loop, &r->wake, on_wake);
    if (!e) e = uv_timer_init(r->loop, &r->timer);
    if (!e) e = uv_signal_init(r->loop, &r->sigint);
    if (e) {
        host_progress_destroy(&r->progress);
        return nota_error(NOTA_EIO, "cannot set up the event loop: %s", uv_strerror(e));
    }
    r->wake.data = r->timer.data = r->sigint.data = r;
    r->handles_open = true;
    atomic_store(&r->wake_open, true);
    atomic_store(&r->cancel, false);
    r->host.abi_version = NOTA_ABI_VERSION;
    r->host.struct_size = sizeof r->host;
    r->host.ctx = r;
    r->host.log = svc_log;
    r->host.progress = svc_progress;
    r->host.cancelled = svc_cancelled;
    r->host.seed = o->seed;
    r->host.threads = o->threads > 0 ? o->threads : 1;
    return NOTA_OK;
}

const nota_host *host_runner_host(const host_runner *r) { return &r->host; }

bool host_runner_cancelled(host_runner *r) { return atomic_load(&r->cancel); }

static void close_handles(host_runner *r) {
    if (!r->handles_open) return;
    atomic_store(&r->wake_open, false);
    uv_signal_stop(&r->sigint);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->wake, NULL);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    r->handles_open = false;
}

/* Worker thread. */
static void work_cb(uv_work_t *req) {
    host_job *job = req->data;
    nota_error_clear();
    job->status = job->run(job, &job->runner->host);
    if (job->status != NOTA_OK) {
        const char *msg = nota_last_error();
        snprintf(job->error, sizeof job->error, "%s", msg[0] ? msg : nota_status_str(job->status));
    }
}

static void start_next(host_runner *r, host_queue *q);

static void finish(host_runner *r, host_queue *q, host_job *job) {
    job->done = true;
    q->running = NULL;
    r->pending--;
    start_next(r, q);
    if (r->pending == 0) close_handles(r);
}

/* Main thread. */
static void after_cb(uv_work_t *req, int status) {
    host_job *job = req->data;
    host_runner *r = job->runner;
    if (status != 0 && job->status == NOTA_OK)
        job->status =
            nota_error(NOTA_EIO, "job '%s' did not run: %s", job->name, uv_strerror(status));
    for (size_t i = 0; i < r->n_queues; i++)
        if (r->queues[i].running == job) {
            finish(r, &r->queues[i], job);
            return;
        }
}

static void start_next(host_runner *r, host_queue *q) {
    while (!q->running && q->head) {
        host_job *job = q->head;
        q->head = job->next;
        if (!q->head) q->tail = NULL;
        job->next = NULL;
        q->running = job;
        job->req.data = job;
        int e = uv_queue_work(r->loop, &job->req, work_cb, after_cb);
        if (e == 0) return;
        /* The callback will never come: fail the job here and try the next. */
        job->status = NOTA_EIO;
        snprintf(job->error, sizeof job->error, "cannot start job '%s': %s", job->name,
                 uv_strerror(e));
        job->done = true;
        q->running = NULL;
        r->pending--;
    }
}

static bool same_device(nota_device a, nota_device b) {
    return a.kind == b.kind && a.index == b.index;
}

nota_status host_runner_submit(host_runner *r, host_job *job) {
    if (!r->handles_open)
        return nota_error(NOTA_EINVAL, "job '%s' submitted to a runner that has run", job->name);
    host_queue *q = NULL;
    for (size_t i = 0; i < r->n_queues && !q; i++)
        if (same_device(r->queues[i].device, job->device)) q = &r->queues[i];
    if (!q) {
        if (r->n_queues == HOST_MAX_DEVICES)
            return nota_error(NOTA_ELIMIT, "job '%s': more than %d devices", job->name,
                              HOST_MAX_DEVICES);
        q = &r->queues[r->n_queues++];
        memset(q, 0, sizeof *q);
        q->device = job->device;
    }
    /* Catch Ctrl-C from the moment a job may run (before: the default action
     * ends the process, and nothing has been written yet). */
    if (!r->watching) {
        int e = uv_signal_start(&r->sigint, on_sigint, SIGINT);
        if (e) return nota_error(NOTA_EIO, "cannot watch for Ctrl-C: %s", uv_strerror(e));
        r->watching = true;
    }
    job->runner = r;
    job->done = false;
    job->status = NOTA_OK;
    job->error[0] = '\0';
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    r->pending++;
    start_next(r, q);
    return NOTA_OK;
}

void host_runner_run(host_runner *r) {
    if (r->pending == 0) {
        close_handles(r);
    } else {
        uv_timer_start(&r->timer, on_timer, 100, 100);
    }
    uv_run(r->loop, UV_RUN_DEFAULT);
    host_progress_end(&r->progress);
}

void host_runner_close(host_runner *r) {
    if (!r->loop) return;
    close_handles(r);
    uv_run(r->loop, UV_RUN_DEFAULT); /* let the close callbacks run */
    host_progress_destroy(&r->progress);
    r->loop = NULL;
}

nota_status host_job_raise(const host_job *job) {
    if (job->status == NOTA_OK) return NOTA_OK;
    return nota_error(job->status, "%s", job->error);
}
