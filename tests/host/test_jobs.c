/* Unit tests of the libuv job runner (host/jobs.c, compiled into this test):
 * one job at a time per device in FIFO order while different devices run
 * side by side, worker-thread error messages carried to the main thread, and
 * SIGINT turning into host->cancelled. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "jobs.h"

static atomic_int active[2], max_active[2], total_active, max_total, order_n;
static int order[16];

static void bump_max(atomic_int *max, int v) {
    int m = atomic_load(max);
    while (v > m && !atomic_compare_exchange_weak(max, &m, v)) {
    }
}

static nota_status busy_job(host_job *job, const nota_host *host) {
    int dev = job->device.kind == NOTA_DEVICE_CUDA;
    order[atomic_fetch_add(&order_n, 1)] = *(int *)job->arg;
    bump_max(&max_active[dev], atomic_fetch_add(&active[dev], 1) + 1);
    bump_max(&max_total, atomic_fetch_add(&total_active, 1) + 1);
    struct timespec ts = {0, 60 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_fetch_sub(&total_active, 1);
    atomic_fetch_sub(&active[dev], 1);
    return NOTA_OK;
}

static host_runner_opts quiet = {.tty = false, .verbose = 0, .seed = 0, .threads = 1};

Test(jobs, one_job_per_device_in_fifo_order) {
    host_runner r;
    cr_assert_eq(host_runner_init(&r, &quiet), NOTA_OK);
    int ids[5] = {0, 1, 2, 10, 11};
    host_job jobs[5];
    for (int i = 0; i < 5; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].name = "busy";
        jobs[i].device.kind = ids[i] >= 10 ? NOTA_DEVICE_CUDA : NOTA_DEVICE_CPU;
        jobs[i].run = busy_job;
        jobs[i].arg = &ids[i];
    }
    /* interleave the devices when submitting */
    int submit[5] = {0, 3, 1, 4, 2};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(host_runner_submit(&r, &jobs[submit[i]]), NOTA_OK);
    host_runner_run(&r);
    for (int i = 0; i < 5; i++) {
        cr_assert(jobs[i].done);
        cr_assert_eq(jobs[i].status, NOTA_OK);
    }
    cr_assert_eq(atomic_load(&max_active[0]), 1, "two CPU jobs overlapped");
    cr_assert_eq(atomic_load(&max_active[1]), 1, "two CUDA:0 jobs overlapped");
    cr_assert_eq(atomic_load(&max_total), 2, "devices did not run side by side");
    int cpu_seen = 0, cuda_seen = 0;
    for (int i = 0; i < 5; i++) {
        if (order[i] < 10)
            cr_assert_eq(order[i], cpu_seen++, "CPU jobs out of order");
        else
            cr_assert_eq(order[i], 10 + cuda_seen++, "CUDA jobs out of order");
    }
    host_runner_close(&r);
}

static nota_status failing_job(host_job *job, const nota_host *host) {
    return nota_error(NOTA_EFORMAT, "worker says %d", 42);
}

Test(jobs, worker_error_message_reaches_the_main_thread) {
    host_runner r;
    cr_assert_eq(host_runner_init(&r, &quiet), NOTA_OK);
    host_job job = {.name = "fail", .run = failing_job};
    cr_assert_eq(host_runner_submit(&r, &job), NOTA_OK);
    host_runner_run(&r);
    nota_error_clear();
    cr_assert_eq(job.status, NOTA_EFORMAT);
    cr_assert_str_eq(nota_last_error(), ""); /* thread-local: not set here */
    cr_assert_eq(host_job_raise(&job), NOTA_EFORMAT);
    cr_assert_str_eq(nota_last_error(), "worker says 42");
    /* a finished runner takes no more jobs */
    host_job late = {.name = "late", .run = failing_job};
    cr_assert_eq(host_runner_submit(&r, &late), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "job 'late' submitted to a runner that has run");
    host_runner_close(&r);
}

static nota_status cancellable_job(host_job *job, const nota_host *host) {
    kill(getpid(), SIGINT); /* as if the user pressed Ctrl-C now */
    for (int i = 0; i < 500; i++) {
        if (nota_cancelled(host)) return nota_error(NOTA_ECANCELED, "stopped at step %d", i);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return nota_error(NOTA_EINVAL, "never cancelled");
}

Test(jobs, sigint_sets_the_cancel_flag) {
    host_runner r;
    cr_assert_eq(host_runner_init(&r, &quiet), NOTA_OK);
    cr_assert(!host_runner_cancelled(&r));
    host_job job = {.name = "slow", .run = cancellable_job};
    cr_assert_eq(host_runner_submit(&r, &job), NOTA_OK);
    host_runner_run(&r);
    cr_assert(host_runner_cancelled(&r));
    cr_assert_eq(job.status, NOTA_ECANCELED, "%s", job.error);
    cr_assert_eq(strncmp(job.error, "stopped at step ", 16), 0, "%s", job.error);
    host_runner_close(&r);
}
