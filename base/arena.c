/* base/arena.c: a bump allocator freed all at once.
 *
 * Design. Many of Kiln's objects live exactly as long as one larger thing: the
 * strings, samples and locations of a decoded profile; the keys of a hash map.
 * An arena gives them out of big chunks by moving a pointer, and frees them
 * all with one call. Requests larger than a quarter of the chunk size get a
 * chunk of their own, so a big request never wastes the current chunk.
 *
 * Invariants: every pointer returned is aligned to ARENA_ALIGN; chunks form a
 * singly linked list, newest first; `used` counts bytes handed out.
 */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CHUNK (64 * 1024)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t off;  /* bytes used */
    /* data follows, aligned */
};

struct arena {
    struct arena_chunk *head;
    size_t chunk;
    size_t used;
};

#define CHUNK_HDR                                                              \
    ((sizeof(struct arena_chunk) + ARENA_ALIGN - 1) &                          \
     ~(size_t)(ARENA_ALIGN - 1))

static struct arena_chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - CHUNK_HDR)
        size = SIZE_MAX - CHUNK_HDR; /* kb_malloc aborts on this */
    struct arena_chunk *c = kb_malloc(CHUNK_HDR + size);
    c->next = NULL;
    c->size = size;
    c->off = 0;
    return c;
}

struct arena *arena_new(size_t chunk)
{
    struct arena *a = kb_malloc(sizeof(*a));
    a->head = NULL;
    a->chunk = chunk ? chunk : ARENA_DEFAULT_CHUNK;
    a->used = 0;
    return a;
}

void arena_free(struct arena *a)
{
    if (a == NULL)
        return;
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n) /* overflow */
        need = SIZE_MAX;
    struct arena_chunk *c = a->head;
    if (c == NULL || c->size - c->off < need) {
        if (need > a->chunk / 4) {
            /* A big request gets its own chunk, linked behind the current
             * one so the current one keeps serving small requests. */
            struct arena_chunk *big = chunk_new(need);
            big->off = need;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                a->head = big;
            }
            a->used += n;
            return (uint8_t *)big + CHUNK_HDR;
        }
        c = chunk_new(a->chunk);
        c->next = a->head;
        a->head = c;
    }
    void *p = (uint8_t *)c + CHUNK_HDR + c->off;
    c->off += need;
    a->used += n;
    return p;
}

void *arena_calloc(struct arena *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return arena_alloc(a, SIZE_MAX); /* aborts */
    void *p = arena_alloc(a, count * size);
    memset(p, 0, count * size);
    return p;
}

char *arena_strndup(struct arena *a, const char *p, size_t n)
{
    char *s = arena_alloc(a, n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}
