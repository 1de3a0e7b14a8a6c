/* base/buf.c: a growable byte buffer with a size limit.
 *
 * Design. One struct, four fields, grown by doubling. What makes it Kiln's
 * is the limit: every buffer that holds outside input (an HTTP body, a
 * decompressed profile) is created with the most it may ever hold, and an
 * append that would pass it fails with KB_ERR_LIMIT, leaving the content
 * unchanged. That is how a gzip bomb or a 100 MB scrape body is refused
 * instead of exhausting memory.
 *
 * Invariants: len <= cap; len <= limit; when cap > 0, data[len] == '\0'.
 * Allocation failure aborts (base/alloc.c).
 */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

void buf_init(struct buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->limit);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = '\0';
}

enum kb_status buf_reserve(struct buf *b, size_t extra)
{
    if (extra > b->limit - b->len)
        return KB_ERR_LIMIT;
    size_t need = b->len + extra + 1; /* +1 for the NUL */
    if (need <= b->cap)
        return KB_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* Never past what the limit can use: a buffer filled to its limit
     * must not double for its NUL byte. */
    if (b->limit != BUF_NO_LIMIT && cap > b->limit + 1)
        cap = b->limit + 1;
    b->data = kb_realloc(b->data, cap);
    b->cap = cap;
    return KB_OK;
}

enum kb_status buf_append(struct buf *b, const void *p, size_t n)
{
    enum kb_status st = buf_reserve(b, n);
    if (st != KB_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return KB_OK;
}

enum kb_status buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum kb_status buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum kb_status buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return KB_ERR_INVALID;
    enum kb_status st = buf_reserve(b, (size_t)n);
    if (st != KB_OK)
        return st;
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return KB_OK;
}

enum kb_status buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum kb_status st = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

const char *buf_cstr(struct buf *b)
{
    return b->cap ? (const char *)b->data : "";
}

uint8_t *buf_take(struct buf *b, size_t *len)
{
    uint8_t *p = b->data ? b->data : kb_calloc(1, 1);
    if (len)
        *len = b->len;
    buf_init(b, b->limit);
    return p;
}
