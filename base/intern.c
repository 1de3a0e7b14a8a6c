/* base/intern.c: string interning.
 *
 * What. Symbol tables (function names, file names, label names and values)
 * store each distinct string once and refer to it by a small dense id, so
 * that references are 4 bytes and comparisons are integer compares.
 *
 * Design. The table is a struct hmap from the string's bytes to its id.
 * hmap keeps entries in insertion order, never deletes, and copies keys
 * into its own arena, NUL-terminated; since ids are handed out in insertion
 * order, entry number `id` *is* the string with that id, so id -> string is
 * hmap_next from position `id`, with no second copy of anything.
 *
 * Invariants: ids are 0 .. count-1, stable for the table's life; count <=
 * max_count; bytes <= max_bytes; each hmap value equals its entry's
 * position.
 *
 * Ownership: the table (through its hmap) owns every string; pointers from
 * intern_str live until intern_free. Not thread safe: callers that share a
 * table lock around it.
 */
#include "base/intern.h"

#include <stdlib.h>

#include "base/alloc.h"
#include "base/hmap.h"

struct intern {
    struct hmap *map;
    uint32_t max_count;
    size_t max_bytes;
    size_t bytes;
};

struct intern *intern_new(uint32_t max_count, size_t max_bytes)
{
    struct intern *in = kb_calloc(1, sizeof(*in));
    in->map = hmap_new(0);
    in->max_count = max_count == 0 || max_count > INTERN_MAX_COUNT
                        ? INTERN_MAX_COUNT
                        : max_count;
    in->max_bytes = max_bytes == 0 ? SIZE_MAX : max_bytes;
    return in;
}

void intern_free(struct intern *in)
{
    if (in == NULL)
        return;
    hmap_free(in->map);
    free(in);
}

bool intern_get(const struct intern *in, const char *s, size_t n, uint32_t *id)
{
    const uint64_t *v = hmap_get(in->map, n ? s : "", n);
    if (v == NULL)
        return false;
    if (id)
        *id = (uint32_t)*v;
    return true;
}

enum kb_status intern_put(struct intern *in, const char *s, size_t n,
                          uint32_t *id, bool *added, struct kb_err *err)
{
    if (added)
        *added = false;
    if (intern_get(in, s, n, id))
        return KB_OK;
    size_t count = hmap_count(in->map);
    if (count >= in->max_count)
        return kb_errf(err, KB_ERR_LIMIT, "more than %u distinct strings",
                       (unsigned)in->max_count);
    if (n > in->max_bytes - in->bytes)
        return kb_errf(err, KB_ERR_LIMIT,
                       "more than %zu bytes of distinct strings",
                       in->max_bytes);
    uint64_t *v = hmap_put(in->map, n ? s : "", n, NULL);
    *v = count;
    in->bytes += n;
    if (id)
        *id = (uint32_t)count;
    if (added)
        *added = true;
    return KB_OK;
}

const char *intern_str(const struct intern *in, uint32_t id, size_t *n)
{
    size_t pos = id;
    const void *key;
    size_t klen;
    if (!hmap_next(in->map, &pos, &key, &klen, NULL))
        return NULL;
    if (n)
        *n = klen;
    return key;
}

uint32_t intern_count(const struct intern *in)
{
    return (uint32_t)hmap_count(in->map);
}

size_t intern_bytes(const struct intern *in)
{
    return in->bytes;
}
