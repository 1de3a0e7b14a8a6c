/* base/alloc.h: checked allocation. Out of memory aborts the process with a
 * message; callers never test for NULL. See alloc.c. */
#ifndef KILN_BASE_ALLOC_H
#define KILN_BASE_ALLOC_H

#include <stddef.h>

void *kb_malloc(size_t n);
void *kb_calloc(size_t count, size_t size);
void *kb_realloc(void *p, size_t n);
/* realloc for an array of `count` elements of `size` bytes; aborts if the
 * multiplication overflows. */
void *kb_reallocarray(void *p, size_t count, size_t size);
char *kb_strdup(const char *s);
char *kb_strndup(const char *s, size_t n);
/* Grow an array's capacity to hold at least `need` elements, doubling. */
void *kb_grow(void *p, size_t *cap, size_t need, size_t elem_size);

#endif
