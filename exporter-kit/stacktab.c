/* exporter-kit/stacktab.c: stack -> values tables that never call malloc.
 *
 * What. The CPU, heap and mutex profilers all aggregate "this stack got
 * these values". The heap and mutex profilers do it from inside malloc and
 * pthread_mutex_lock, where calling malloc would recurse; so the table lives
 * in one anonymous mmap'd region of fixed capacity, reserved with
 * MAP_NORESERVE (pages are committed only when touched).
 *
 * Design. Layout of the region: the struct, then `cap` entries, then an
 * open-addressing index of 2*cap uint32 slots (entry index + 1, 0 = empty),
 * then a pool of cap * 16 pcs that entries' stacks are appended to. A stack
 * is hashed (FNV-1a over its words) and probed linearly. Deletion is not
 * supported (a stack whose values drop to 0 stays; the profile writer skips
 * all-zero entries).
 *
 * Invariants. count < cap; every entry's stack lies inside pool[0..used).
 * When the entries or the pool run out, values go to one stack made of the
 * pseudo pc KX_PC_OVERFLOW, for which room is always kept.
 *
 * Ownership. The caller serializes access (kx_spin_lock); the table owns its
 * region. Elsewhere: what the values mean is up to cpu.c, heap.c, mutex.c.
 */
#include "exporter-kit/kx.h"

#include <string.h>
#include <sys/mman.h>

struct kx_entry {
    uint64_t hash;
    uint32_t off;   /* first pc in the pool */
    uint32_t depth; /* number of pcs */
    double vals[KX_MAX_VALUES];
};

struct kx_stacktab {
    size_t region;   /* bytes mapped */
    size_t cap;      /* entries */
    size_t count;    /* entries used */
    size_t idx_cap;  /* index slots (a power of two) */
    size_t pool_cap; /* pcs */
    size_t pool_used;
    struct kx_entry *entries;
    uint32_t *index;
    uintptr_t *pool;
};

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

static size_t region_size(size_t cap, size_t idx_cap, size_t pool_cap)
{
    return round_up(sizeof(struct kx_stacktab), 64) +
           round_up(cap * sizeof(struct kx_entry), 64) +
           round_up(idx_cap * sizeof(uint32_t), 64) +
           pool_cap * sizeof(uintptr_t);
}

static void lay_out(struct kx_stacktab *t)
{
    char *p = (char *)t + round_up(sizeof(*t), 64);
    t->entries = (struct kx_entry *)p;
    p += round_up(t->cap * sizeof(struct kx_entry), 64);
    t->index = (uint32_t *)p;
    p += round_up(t->idx_cap * sizeof(uint32_t), 64);
    t->pool = (uintptr_t *)p;
}

struct kx_stacktab *kx_stacktab_new(size_t max_stacks)
{
    if (max_stacks < 16)
        max_stacks = 16;
    size_t idx_cap = 1;
    while (idx_cap < 2 * max_stacks)
        idx_cap *= 2;
    size_t pool_cap = max_stacks * 16;
    size_t size = region_size(max_stacks, idx_cap, pool_cap);
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct kx_stacktab *t = m;
    t->region = size;
    t->cap = max_stacks;
    t->idx_cap = idx_cap;
    t->pool_cap = pool_cap;
    lay_out(t);
    return t;
}

void kx_stacktab_free(struct kx_stacktab *t)
{
    if (t != NULL)
        munmap(t, t->region);
}

struct kx_stacktab *kx_stacktab_clone(const struct kx_stacktab *t)
{
    struct kx_stacktab *c = kx_stacktab_new(t->cap);
    if (c == NULL)
        return NULL;
    c->count = t->count;
    c->pool_used = t->pool_used;
    memcpy(c->entries, t->entries, t->count * sizeof(struct kx_entry));
    memcpy(c->index, t->index, t->idx_cap * sizeof(uint32_t));
    memcpy(c->pool, t->pool, t->pool_used * sizeof(uintptr_t));
    return c;
}

void kx_stacktab_reset(struct kx_stacktab *t)
{
    memset(t->index, 0, t->idx_cap * sizeof(uint32_t));
    t->count = 0;
    t->pool_used = 0;
}

static uint64_t hash_stack(const uintptr_t *pcs, unsigned depth)
{
    uint64_t h = 14695981039346656037ull;
    for (unsigned i = 0; i < depth; i++) {
        h ^= (uint64_t)pcs[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static const uintptr_t overflow_stack[1] = {KX_PC_OVERFLOW};

size_t kx_stacktab_add(struct kx_stacktab *t, const uintptr_t *pcs,
                       unsigned depth, const double *vals)
{
    if (depth > KX_MAX_DEPTH)
        depth = KX_MAX_DEPTH;
    for (;;) {
        uint64_t h = hash_stack(pcs, depth);
        size_t mask = t->idx_cap - 1;
        size_t i = (size_t)h & mask;
        for (;; i = (i + 1) & mask) {
            uint32_t slot = t->index[i];
            if (slot == 0)
                break;
            struct kx_entry *e = &t->entries[slot - 1];
            if (e->hash == h && e->depth == depth &&
                memcmp(t->pool + e->off, pcs, depth * sizeof(*pcs)) == 0) {
                for (int v = 0; v < KX_MAX_VALUES; v++)
                    e->vals[v] += vals[v];
                return slot - 1;
            }
        }
        /* Keep one entry and one pc free for the overflow stack. */
        bool is_overflow = depth == 1 && pcs[0] == KX_PC_OVERFLOW;
        if (!is_overflow &&
            (t->count + 2 > t->cap || t->pool_used + depth + 1 > t->pool_cap)) {
            pcs = overflow_stack;
            depth = 1;
            continue;
        }
        struct kx_entry *e = &t->entries[t->count];
        e->hash = h;
        e->off = (uint32_t)t->pool_used;
        e->depth = depth;
        memcpy(t->pool + t->pool_used, pcs, depth * sizeof(*pcs));
        t->pool_used += depth;
        for (int v = 0; v < KX_MAX_VALUES; v++)
            e->vals[v] = vals[v];
        t->index[i] = (uint32_t)++t->count;
        return t->count - 1;
    }
}

size_t kx_stacktab_count(const struct kx_stacktab *t)
{
    return t->count;
}

void kx_stacktab_get(const struct kx_stacktab *t, size_t i,
                     const uintptr_t **pcs, unsigned *depth,
                     const double **vals)
{
    const struct kx_entry *e = &t->entries[i];
    *pcs = t->pool + e->off;
    *depth = e->depth;
    *vals = e->vals;
}

double *kx_stacktab_vals(struct kx_stacktab *t, size_t i)
{
    return t->entries[i].vals;
}
