/* base/status.h: Kiln's one status enum and the error record that carries a
 * message naming the problem. See status.c for the rules. */
#ifndef KILN_BASE_STATUS_H
#define KILN_BASE_STATUS_H

#include <stddef.h>

/* Every fallible function in Kiln returns one of these. KB_OK is 0 so that
 * `if (st != KB_OK) goto fail;` and `if (st) goto fail;` read the same. */
enum kb_status {
    KB_OK = 0,
    KB_ERR_INVALID,   /* malformed outside input: a parse or validation error */
    KB_ERR_LIMIT,     /* input larger or deeper than a configured limit */
    KB_ERR_IO,        /* a system call on a file or socket failed */
    KB_ERR_NOT_FOUND, /* the named thing does not exist */
    KB_ERR_MISMATCH,  /* inputs that cannot be combined (e.g. sample types) */
    KB_ERR_UNSUPPORTED, /* valid input that Kiln does not handle */
    KB_ERR_USAGE,    /* the caller (a user on a command line) misused an API */
    KB_ERR_INTERNAL, /* a broken invariant: a bug in Kiln */
};

/* The short, stable name of a status ("invalid input", "limit exceeded"). */
const char *kb_status_str(enum kb_status st);

/* An error record: the status plus a one-line message naming the problem,
 * e.g. "sample 12: location id 99 not found". Functions that take outside
 * input take a `struct kb_err *` (which may be NULL) and fill it on failure.
 * A record is plain data: no allocation, copy it freely. */
#define KB_ERR_MSG_MAX 256
struct kb_err {
    enum kb_status status;
    char msg[KB_ERR_MSG_MAX];
};

/* Fill `err` (when not NULL) with `st` and a printf-style message, and
 * return `st`, so that callers can write `return kb_errf(err, ...);`. */
enum kb_status kb_errf(struct kb_err *err, enum kb_status st, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

/* Put `prefix: ` in front of the message already in `err` (for context, as
 * in "file.pb.gz: sample 12: ..."), and return err->status. `err` may be
 * NULL, in which case KB_ERR_INTERNAL is returned. */
enum kb_status kb_err_prefix(struct kb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset `err` to KB_OK with an empty message. */
void kb_err_clear(struct kb_err *err);

#endif
