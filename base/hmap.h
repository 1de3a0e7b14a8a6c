/* base/hmap.h: a hash map from byte-string keys to 64-bit values, and the
 * hash function Kiln uses everywhere. See hmap.c. */
#ifndef KILN_BASE_HMAP_H
#define KILN_BASE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fast, seedable 64-bit hash of `n` bytes. Not cryptographic. Stable across
 * runs and machines of the same endianness (it is used for scrape phases). */
uint64_t kb_hash(const void *p, size_t n, uint64_t seed);

struct hmap;

/* A new, empty map sized for about `hint` keys (0 is fine). */
struct hmap *hmap_new(size_t hint);
void hmap_free(struct hmap *m);
size_t hmap_count(const struct hmap *m);

/* The value slot of `key`, inserting it with value 0 if it is absent; *found
 * (when not NULL) says whether it was there. The key bytes are copied. The
 * pointer is valid until the next insertion. */
uint64_t *hmap_put(struct hmap *m, const void *key, size_t klen, bool *found);

/* The value slot of `key`, or NULL if absent. */
uint64_t *hmap_get(const struct hmap *m, const void *key, size_t klen);

/* Iterate in insertion order: start with *pos = 0; returns false at the end.
 * Deletion is not supported, so insertion order is stable. */
bool hmap_next(const struct hmap *m, size_t *pos, const void **key,
               size_t *klen, uint64_t *val);

#endif
