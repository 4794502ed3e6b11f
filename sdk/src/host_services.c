/* Helpers a plugin uses to reach the host's services (see nota/plugin.h). */
#include "nota/plugin.h"

#include <stdarg.h>
#include <stdio.h>

void nota_log(const nota_host *host, nota_log_level level, const char *fmt, ...) {
    if (!host || !host->log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    host->log(host->ctx, level, msg);
}

void nota_progress(const nota_host *host, const char *stage, double done, double total,
                   const char *detail) {
    if (host && host->progress) host->progress(host->ctx, stage, done, total, detail ? detail : "");
}

bool nota_cancelled(const nota_host *host) {
    return host && host->cancelled && host->cancelled(host->ctx);
}
