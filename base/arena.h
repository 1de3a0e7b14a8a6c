/* base/arena.h: a bump allocator freed all at once. See arena.c. */
#ifndef KILN_BASE_ARENA_H
#define KILN_BASE_ARENA_H

#include <stddef.h>

struct arena;

/* `chunk` is the size of each block requested from malloc (0 = 64 KiB). */
struct arena *arena_new(size_t chunk);
/* Free every allocation and the arena itself. NULL is allowed. */
void arena_free(struct arena *a);
/* `n` bytes aligned for any type; never NULL (aborts on out-of-memory). */
void *arena_alloc(struct arena *a, size_t n);
/* Zeroed `count * size` bytes; aborts if the product overflows. */
void *arena_calloc(struct arena *a, size_t count, size_t size);
/* A copy of `n` bytes of `p` followed by a NUL. */
char *arena_strndup(struct arena *a, const char *p, size_t n);
/* Bytes handed out so far (for stats and limits). */
size_t arena_used(const struct arena *a);

#endif
