/* base/buf.h: a growable byte buffer with a size limit. See buf.c. */
#ifndef KILN_BASE_BUF_H
#define KILN_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* A byte buffer. `data[0..len)` is the content; data is NUL-terminated after
 * len whenever cap > 0 (so buf_cstr is free). Appends past `limit` fail with
 * KB_ERR_LIMIT and leave the buffer as it was. A zeroed struct is not valid:
 * call buf_init. */
struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit;
};

#define BUF_NO_LIMIT SIZE_MAX

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
/* Forget the content, keep the memory. */
void buf_reset(struct buf *b);
/* Make room for `extra` more bytes (plus the NUL). */
enum kb_status buf_reserve(struct buf *b, size_t extra);
enum kb_status buf_append(struct buf *b, const void *p, size_t n);
enum kb_status buf_puts(struct buf *b, const char *s);
enum kb_status buf_putc(struct buf *b, char c);
enum kb_status buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum kb_status buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* The content as a C string (never NULL). */
const char *buf_cstr(struct buf *b);
/* Hand the memory to the caller (free() it) and reinitialize the buffer. */
uint8_t *buf_take(struct buf *b, size_t *len);

#endif
