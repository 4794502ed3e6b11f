/* Progress display and logging for running jobs (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <string.h>

nota_status host_progress_init(host_progress *p, bool tty, int verbose) {
    memset(p, 0, sizeof *p);
    p->tty = tty;
    p->verbose = verbose;
    if (uv_mutex_init(&p->mu) != 0) return nota_error(NOTA_ENOMEM, "progress mutex init failed");
    return NOTA_OK;
}

void host_progress_destroy(host_progress *p) { uv_mutex_destroy(&p->mu); }

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static void print_line(host_progress *p, uint64_t now);

void host_progress_set(host_progress *p, const char *stage, double done, double total,
                       const char *detail) {
    uv_mutex_lock(&p->mu);
    /* Without a terminal, a stage that ends shows its last report before the
     * next stage's line (a log then reads "[fit] 10/10" rather than stopping
     * at whatever the last once-a-second line was). */
    bool new_stage = strcmp(stage ? stage : "", p->stage) != 0;
    if (!p->tty && new_stage && p->seq != p->shown) print_line(p, now_ms());
    snprintf(p->stage, sizeof p->stage, "%s", stage ? stage : "");
    snprintf(p->detail, sizeof p->detail, "%s", detail ? detail : "");
    p->done = done;
    p->total = total;
    p->seq++;
    /* Without a terminal every stage change gets its line, printed here on the
     * reporting thread: the main loop may wake only after later reports have
     * overwritten this one. */
    if (!p->tty && strcmp(p->stage, p->printed_stage) != 0) {
        print_line(p, now_ms());
        p->shown = p->seq;
    }
    uv_mutex_unlock(&p->mu);
}

static void clear_bar(host_progress *p) {
    if (p->bar_on) {
        fputs("\r\033[K", stderr);
        p->bar_on = false;
    }
}

void host_progress_log(host_progress *p, nota_log_level level, const char *msg) {
    static const char *const tags[] = {"debug", "info", "warn", "error"};
    if (level == NOTA_LOG_DEBUG && !p->verbose) return;
    int li = level >= NOTA_LOG_DEBUG && level <= NOTA_LOG_ERROR ? (int)level : NOTA_LOG_INFO;
    uv_mutex_lock(&p->mu);
    clear_bar(p);
    fprintf(stderr, "[%s] %s\n", tags[li], msg);
    fflush(stderr);
    if (p->tty && p->seq) p->shown = p->seq - 1; /* redraw the bar on the next tick */
    uv_mutex_unlock(&p->mu);
}

/* "3/10 (30%)" or "3" when the total is unknown. */
static void counts(const host_progress *p, char *buf, size_t cap) {
    if (p->total > 0)
        snprintf(buf, cap, "%g/%g (%.0f%%)", p->done, p->total, 100.0 * p->done / p->total);
    else
        snprintf(buf, cap, "%g", p->done);
}

static void draw_bar(host_progress *p) {
    enum { WIDTH = 30 };
    char bar[WIDTH + 1], cnt[64];
    double frac = p->total > 0 ? p->done / p->total : 0;
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    int fill = (int)(frac * WIDTH + 0.5);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[WIDTH] = '\0';
    counts(p, cnt, sizeof cnt);
    if (p->total > 0)
        fprintf(stderr, "\r\033[K[%s] [%s] %s %s", p->stage, bar, cnt, p->detail);
    else
        fprintf(stderr, "\r\033[K[%s] %s %s", p->stage, cnt, p->detail);
    fflush(stderr);
    p->bar_on = true;
}

static void print_line(host_progress *p, uint64_t now) {
    char cnt[64];
    counts(p, cnt, sizeof cnt);
    fprintf(stderr, "[%s] %s%s%s\n", p->stage, cnt, p->detail[0] ? " " : "", p->detail);
    fflush(stderr);
    snprintf(p->printed_stage, sizeof p->printed_stage, "%s", p->stage);
    p->last_line_ms = now;
}

void host_progress_tick(host_progress *p) {
    uv_mutex_lock(&p->mu);
    uint64_t now = now_ms();
    if (p->seq != p->shown) {
        if (p->tty) {
            draw_bar(p);
            p->shown = p->seq;
        } else if (now - p->last_line_ms >= 1000) {
            print_line(p, now);
            p->shown = p->seq;
        }
    }
    uv_mutex_unlock(&p->mu);
}

void host_progress_end(host_progress *p) {
    uv_mutex_lock(&p->mu);
    if (!p->tty && p->seq != p->shown) print_line(p, p->last_line_ms);
    if (p->bar_on) {
        fputc('\n', stderr);
        fflush(stderr);
        p->bar_on = false;
    }
    p->shown = p->seq;
    uv_mutex_unlock(&p->mu);
}
