/* base/hmap.c: a hash map from byte-string keys to 64-bit values.
 *
 * Design. Entries live in a dense array in insertion order (so iteration is
 * ordered and cache friendly); an open-addressing index of 32-bit slots with
 * linear probing points into it. Each entry keeps its full hash, so probing
 * compares hashes before bytes and growth never rehashes keys. Keys are
 * copied into an arena owned by the map. There is no deletion: Kiln's maps
 * (string interning, stack dedup, merge tables) only grow and are dropped
 * whole.
 *
 * Invariants: the index has a power-of-two number of slots, at most 70% full
 * of entries; slot value 0 means empty, otherwise it is entry index + 1.
 *
 * kb_hash is a simple multiply-xorshift hash over 8-byte words, with a
 * finalizer, written for Kiln; good enough for hash tables, not for security.
 */
#include "base/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"

#define HASH_M1 0x9E3779B97F4A7C15ULL
#define HASH_M2 0xC2B2AE3D27D4EB4FULL

static uint64_t mix(uint64_t x)
{
    x ^= x >> 32;
    x *= HASH_M2;
    x ^= x >> 29;
    x *= HASH_M1;
    x ^= x >> 32;
    return x;
}

uint64_t kb_hash(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = seed ^ (n * HASH_M1);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ mix(w)) * HASH_M1;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < n; i++)
        tail |= (uint64_t)s[i] << (8 * i);
    h = (h ^ mix(tail ^ n)) * HASH_M2;
    return mix(h);
}

struct hmap_entry {
    uint64_t hash;
    const uint8_t *key;
    size_t klen;
    uint64_t val;
};

struct hmap {
    struct hmap_entry *entries;
    size_t count;
    size_t cap;      /* entries allocated */
    uint32_t *slots; /* 0 = empty, else entry index + 1 */
    size_t mask;     /* number of slots - 1 */
    struct arena *keys;
};

static void index_build(struct hmap *m, size_t nslots)
{
    free(m->slots);
    m->slots = kb_calloc(nslots, sizeof(uint32_t));
    m->mask = nslots - 1;
    for (size_t i = 0; i < m->count; i++) {
        size_t s = m->entries[i].hash & m->mask;
        while (m->slots[s])
            s = (s + 1) & m->mask;
        m->slots[s] = (uint32_t)(i + 1);
    }
}

struct hmap *hmap_new(size_t hint)
{
    struct hmap *m = kb_calloc(1, sizeof(*m));
    size_t nslots = 16;
    while (nslots * 7 / 10 < hint)
        nslots *= 2;
    m->keys = arena_new(0);
    index_build(m, nslots);
    return m;
}

void hmap_free(struct hmap *m)
{
    if (m == NULL)
        return;
    free(m->entries);
    free(m->slots);
    arena_free(m->keys);
    free(m);
}

size_t hmap_count(const struct hmap *m)
{
    return m->count;
}

/* The slot where `key` is, or the empty slot where it would go. */
static size_t find_slot(const struct hmap *m, uint64_t h, const void *key,
                        size_t klen)
{
    size_t s = h & m->mask;
    for (;;) {
        uint32_t e = m->slots[s];
        if (e == 0)
            return s;
        const struct hmap_entry *en = &m->entries[e - 1];
        if (en->hash == h && en->klen == klen &&
            (klen == 0 || memcmp(en->key, key, klen) == 0))
            return s;
        s = (s + 1) & m->mask;
    }
}

uint64_t *hmap_get(const struct hmap *m, const void *key, size_t klen)
{
    uint64_t h = kb_hash(key, klen, 0);
    uint32_t e = m->slots[find_slot(m, h, key, klen)];
    return e ? &m->entries[e - 1].val : NULL;
}

uint64_t *hmap_put(struct hmap *m, const void *key, size_t klen, bool *found)
{
    uint64_t h = kb_hash(key, klen, 0);
    size_t s = find_slot(m, h, key, klen);
    if (m->slots[s]) {
        if (found)
            *found = true;
        return &m->entries[m->slots[s] - 1].val;
    }
    if (found)
        *found = false;
    if (m->count >= UINT32_MAX - 1)
        abort(); /* 4 billion keys: far beyond every limit Kiln sets */
    m->entries =
        kb_grow(m->entries, &m->cap, m->count + 1, sizeof(*m->entries));
    struct hmap_entry *en = &m->entries[m->count];
    en->hash = h;
    en->key = (const uint8_t *)arena_strndup(m->keys, key, klen);
    en->klen = klen;
    en->val = 0;
    m->count++;
    if (m->count * 10 > (m->mask + 1) * 7)
        index_build(m, (m->mask + 1) * 2);
    else
        m->slots[s] = (uint32_t)m->count;
    return &en->val;
}

bool hmap_next(const struct hmap *m, size_t *pos, const void **key,
               size_t *klen, uint64_t *val)
{
    if (*pos >= m->count)
        return false;
    const struct hmap_entry *en = &m->entries[*pos];
    if (key)
        *key = en->key;
    if (klen)
        *klen = en->klen;
    if (val)
        *val = en->val;
    (*pos)++;
    return true;
}
