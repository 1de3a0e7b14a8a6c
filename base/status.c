/* base/status.c: status codes and error records.
 *
 * Design. Kiln has a single enum of status codes (status.h) so that every
 * layer speaks the same language, and a fixed-size error record, struct
 * kb_err, that carries the code together with a message naming the problem.
 * The record lives on the caller's stack: filling it never allocates, so it
 * works on out-of-memory paths and in code that must not call malloc.
 *
 * Rules:
 *  - A function that can fail on outside input takes `struct kb_err *err`
 *    (NULL allowed) and, on failure, fills it once with kb_errf() at the point
 *    where the problem is known, then returns the status it returned.
 *  - Callers that add context use kb_err_prefix() rather than overwrite.
 *  - Messages are one line, lower case, no trailing period.
 */
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kb_status_str(enum kb_status st)
{
    switch (st) {
    case KB_OK:
        return "ok";
    case KB_ERR_INVALID:
        return "invalid input";
    case KB_ERR_LIMIT:
        return "limit exceeded";
    case KB_ERR_IO:
        return "i/o error";
    case KB_ERR_NOT_FOUND:
        return "not found";
    case KB_ERR_MISMATCH:
        return "mismatch";
    case KB_ERR_UNSUPPORTED:
        return "unsupported";
    case KB_ERR_USAGE:
        return "usage error";
    case KB_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

enum kb_status kb_errf(struct kb_err *err, enum kb_status st, const char *fmt,
                       ...)
{
    if (err == NULL)
        return st;
    va_list ap;
    va_start(ap, fmt);
    err->status = st;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return st;
}

enum kb_status kb_err_prefix(struct kb_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return KB_ERR_INTERNAL;
    char msg[KB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > sizeof(msg) - 1)
        len = sizeof(msg) - 1;
    /* msg = prefix ": " old message, cut to fit */
    const char *parts[2] = {": ", err->msg};
    for (int i = 0; i < 2; i++) {
        size_t plen = strlen(parts[i]);
        if (plen > sizeof(msg) - 1 - len)
            plen = sizeof(msg) - 1 - len;
        memcpy(msg + len, parts[i], plen);
        len += plen;
    }
    msg[len] = '\0';
    memcpy(err->msg, msg, sizeof(msg));
    return err->status;
}

void kb_err_clear(struct kb_err *err)
{
    if (err == NULL)
        return;
    err->status = KB_OK;
    err->msg[0] = '\0';
}
