/* base/alloc.c: checked allocation.
 *
 * Design. Kiln treats out-of-memory as fatal: a profiler that half-stored a
 * profile is worse than one that restarts. So every allocation goes through
 * these wrappers, which print one line and abort() when malloc fails, and
 * callers never test for NULL. Sizes that come from outside input must be
 * checked against a limit *before* they reach these functions; that is how
 * Kiln refuses a malicious input instead of aborting on it.
 *
 * kb_malloc(0) returns a unique pointer (malloc(1)), never NULL.
 */
#include "base/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "kiln: out of memory allocating %zu bytes\n", n);
    abort();
}

void *kb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *kb_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        oom(count * size);
    return p;
}

void *kb_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

void *kb_reallocarray(void *p, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    return kb_realloc(p, count * size);
}

char *kb_strdup(const char *s)
{
    return kb_strndup(s, strlen(s));
}

char *kb_strndup(const char *s, size_t n)
{
    char *p = kb_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *kb_grow(void *p, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 8;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            oom(SIZE_MAX);
        c *= 2;
    }
    *cap = c;
    return kb_reallocarray(p, c, elem_size);
}
