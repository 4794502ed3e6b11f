/* Thread-local error messages (see nota/status.h). */
#include "nota/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NOTA_ERRMSG_CAP 1024
static _Thread_local char errmsg[NOTA_ERRMSG_CAP];

const char *nota_status_str(nota_status s) {
    switch (s) {
    case NOTA_OK: return "ok";
    case NOTA_EINVAL: return "invalid argument";
    case NOTA_ENOMEM: return "out of memory";
    case NOTA_EIO: return "I/O error";
    case NOTA_EFORMAT: return "bad format";
    case NOTA_ELIMIT: return "limit exceeded";
    case NOTA_ECHECKSUM: return "checksum mismatch";
    case NOTA_EABI: return "ABI mismatch";
    case NOTA_ENOTSUP: return "not supported";
    case NOTA_ECANCELED: return "cancelled";
    case NOTA_ENUMERIC: return "numeric error";
    case NOTA_ENOTFOUND: return "not found";
    case NOTA_ESHAPE: return "shape mismatch";
    }
    return "unknown status";
}

const char *nota_last_error(void) { return errmsg; }

void nota_error_clear(void) { errmsg[0] = '\0'; }

nota_status nota_error(nota_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

nota_status nota_error_prefix(nota_status code, const char *fmt, ...) {
    char old[NOTA_ERRMSG_CAP];
    memcpy(old, errmsg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof errmsg)
        snprintf(errmsg + n, sizeof errmsg - (size_t)n, "%s", old);
    return code;
}
