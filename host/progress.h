/* progress.h — what the user sees while a job runs.
 *
 * Plugins report progress and log lines from worker threads; the main thread
 * draws them. host_progress_set stores only the latest report under a mutex
 * (a fast plugin may report thousands of times a second; nobody needs to see
 * them all) and host_progress_tick, called on the main loop, draws it: a
 * redrawn bar when stderr is a terminal, otherwise plain lines, at most one a
 * second plus the first and last report of each stage (printed by the
 * reporting thread itself, so that no stage goes unseen). Log lines share the mutex so that
 * a line never lands in the middle of a bar.
 */
#ifndef NOTA_HOST_PROGRESS_H
#define NOTA_HOST_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "nota/plugin.h"

typedef struct host_progress {
    uv_mutex_t mu; /* guards everything below and writes to stderr */
    char stage[64];
    double done, total;
    char detail[160];
    unsigned long seq;   /* bumped by every report */
    unsigned long shown; /* seq of the last report drawn */
    bool tty;
    int verbose;
    bool bar_on; /* a bar is on the terminal's current line */
    char printed_stage[64];
    uint64_t last_line_ms;
} host_progress;

nota_status host_progress_init(host_progress *p, bool tty, int verbose);
void host_progress_destroy(host_progress *p);

/* Any thread. */
void host_progress_set(host_progress *p, const char *stage, double done, double total,
                       const char *detail);
/* Any thread: "[info] msg" on stderr (debug lines only when verbose). */
void host_progress_log(host_progress *p, nota_log_level level, const char *msg);

/* Main thread: draw the latest report if it is new and due. */
void host_progress_tick(host_progress *p);
/* Main thread, after the job: print what is still unshown and end the bar's line. */
void host_progress_end(host_progress *p);

#endif
