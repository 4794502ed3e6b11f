/* nota/status.h — status codes and the thread-local error message.
 *
 * Every nota function that can fail returns a nota_status: NOTA_OK (0) on
 * success, a negative code otherwise. The failing function also leaves a
 * human-readable message, naming the file / argument / tensor and the expected
 * and actual values, retrievable with nota_last_error() on the same thread.
 * Library code never prints, exits or aborts; it reports through this channel.
 */
#ifndef NOTA_STATUS_H
#define NOTA_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nota_status {
    NOTA_OK = 0,
    NOTA_EINVAL = -1,     /* bad argument or option value */
    NOTA_ENOMEM = -2,     /* allocation failed or a memory cap was hit */
    NOTA_EIO = -3,        /* a file could not be opened, read or written */
    NOTA_EFORMAT = -4,    /* a file's contents are malformed */
    NOTA_ELIMIT = -5,     /* a size, count or depth limit was exceeded */
    NOTA_ECHECKSUM = -6,  /* stored checksum does not match the contents */
    NOTA_EABI = -7,       /* plugin ABI mismatch or missing entry symbol */
    NOTA_ENOTSUP = -8,    /* the operation is not supported by this model */
    NOTA_ECANCELED = -9,  /* the job was cancelled (Ctrl-C) */
    NOTA_ENUMERIC = -10,  /* NaN/Inf in data or a diverging computation */
    NOTA_ENOTFOUND = -11, /* a named plugin, tensor, dataset or key is absent */
    NOTA_ESHAPE = -12     /* tensor shapes do not match */
} nota_status;

/* Short constant name of a status ("invalid argument", ...). Static storage. */
const char *nota_status_str(nota_status s);

/* The message of the last failure on this thread ("" if none). The string is
 * owned by the library and valid until the next nota call on this thread. */
const char *nota_last_error(void);

/* Set this thread's message (printf-style) and return `code`, so that callers
 * can write `return nota_error(NOTA_EINVAL, "...", ...);`. */
nota_status nota_error(nota_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepend context to this thread's message ("loading 'a.nota': " + old
 * message) and return `code`. */
nota_status nota_error_prefix(nota_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Forget this thread's message. */
void nota_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif /* NOTA_STATUS_H */
