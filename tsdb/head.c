/* tsdb/head.c: the in-memory head block.
 *
 * Design. The head holds every series and its newest data in memory:
 *
 *   - symbols: one pprof_profile with no samples whose strings, mappings,
 *     functions and locations are kept unique by a pprof_symtab, shared by
 *     every series, so a function name is stored once however many
 *     profiles mention it;
 *   - stacks: the prefix tree (stacks.c) over those location ids;
 *   - series: an array indexed by ref - 1 (refs are dense, handed out in
 *     creation order, never reused), found by label set through a hash map
 *     from the label set's hash to the first series with that hash, with a
 *     chain (next_same_hash) for the rare collision;
 *   - per profile series, its profiles sorted by time, each a pair of
 *     parallel arrays (stack ids ascending, values) allocated from the
 *     head's arena: profiles are never freed one by one (a head is
 *     replaced whole when its oldest part becomes a block), so a bump
 *     allocator serves them, which makes WAL replay much faster.
 *
 * The head knows nothing about the WAL or locking: db.c serializes writers
 * and holds the read/write lock, and replays the WAL through the same
 * functions the appender uses, so replayed and appended data are built by
 * one code path.
 */
#include "tsdb/head.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/hmap.h"
#include "base/labels.h"

struct tsdb_head *tsdb_head_new(void)
{
    struct tsdb_head *h = kb_calloc(1, sizeof(*h));
    tsdb_symspace_init(&h->sym);
    h->pairs = arena_new(1 << 20);
    h->by_hash = hmap_new(0);
    h->mint = INT64_MAX;
    h->maxt = INT64_MIN;
    return h;
}

static void series_free(struct tsdb_head_series *s)
{
    free(s->profiles); /* the pairs are in the head's arena */
    free(s->ft);
    free(s->fv);
    labels_free(s->labels);
    free(s);
}

void tsdb_head_free(struct tsdb_head *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n_series; i++)
        series_free(h->series[i]);
    free(h->series);
    hmap_free(h->by_hash);
    tsdb_symspace_free(&h->sym);
    arena_free(h->pairs);
    free(h);
}

struct tsdb_head_series *tsdb_head_series_by_ref(struct tsdb_head *h,
                                                 uint64_t ref)
{
    if (ref == 0 || ref > h->n_series)
        return NULL;
    return h->series[ref - 1];
}

struct tsdb_head_series *tsdb_head_find(struct tsdb_head *h,
                                        const struct labels *ls)
{
    uint64_t hash = labels_hash(ls);
    uint64_t *first = hmap_get(h->by_hash, &hash, sizeof(hash));
    for (uint64_t ref = first ? *first : 0; ref != 0;) {
        struct tsdb_head_series *s = h->series[ref - 1];
        if (labels_equal(s->labels, ls))
            return s;
        ref = s->next_same_hash;
    }
    return NULL;
}

struct tsdb_head_series *tsdb_head_create(struct tsdb_head *h,
                                          const struct labels *ls,
                                          enum tsdb_series_kind kind,
                                          int64_t period)
{
    struct tsdb_head_series *s = kb_calloc(1, sizeof(*s));
    s->labels = labels_dup(ls);
    s->hash = labels_hash(ls);
    s->kind = kind;
    s->period = period;
    s->max_t = INT64_MIN;
    h->series =
        kb_grow(h->series, &h->cap_series, h->n_series + 1, sizeof(*h->series));
    h->series[h->n_series++] = s;
    s->ref = h->n_series;
    bool found;
    uint64_t *first = hmap_put(h->by_hash, &s->hash, sizeof(s->hash), &found);
    if (found)
        s->next_same_hash = *first;
    *first = s->ref;
    return s;
}

enum kb_status tsdb_head_check_time(const struct tsdb_head_series *s, int64_t t,
                                    int64_t window, struct kb_err *err)
{
    if (t > s->max_t)
        return KB_OK;
    if (t == s->max_t)
        goto dup;
    if (t < s->max_t - window || window == 0)
        return kb_errf(err, KB_ERR_INVALID,
                       "out of order: t=%lld is older than the series' "
                       "newest t=%lld%s",
                       (long long)t, (long long)s->max_t,
                       window ? " beyond the out-of-order window" : "");
    /* Inside the window: refuse an exact duplicate time. */
    if (s->kind == TSDB_PROFILES) {
        for (size_t i = s->n_profiles; i-- > 0 && s->profiles[i].t_ms >= t;)
            if (s->profiles[i].t_ms == t)
                goto dup;
    } else {
        for (size_t i = s->n_floats; i-- > 0 && s->ft[i] >= t;)
            if (s->ft[i] == t)
                goto dup;
    }
    return KB_OK;
dup:
    return kb_errf(err, KB_ERR_INVALID, "duplicate: the series has t=%lld",
                   (long long)t);
}

static void head_time(struct tsdb_head *h, int64_t t)
{
    if (t < h->mint)
        h->mint = t;
    if (t > h->maxt)
        h->maxt = t;
}

uint32_t *tsdb_head_pairs_alloc(struct tsdb_head *h, size_t n, int64_t **values)
{
    size_t off = (n * sizeof(uint32_t) + 7) & ~(size_t)7;
    uint8_t *p = arena_alloc(h->pairs, off + n * sizeof(int64_t));
    *values = (int64_t *)(void *)(p + off);
    return (uint32_t *)(void *)p;
}

void tsdb_head_add_profile(struct tsdb_head *h, struct tsdb_head_series *s,
                           int64_t t, int64_t duration, size_t n,
                           uint32_t *stacks, int64_t *values)
{
    s->profiles = kb_grow(s->profiles, &s->cap_profiles, s->n_profiles + 1,
                          sizeof(*s->profiles));
    size_t i = s->n_profiles;
    while (i > 0 && s->profiles[i - 1].t_ms > t)
        i--;
    memmove(&s->profiles[i + 1], &s->profiles[i],
            (s->n_profiles - i) * sizeof(*s->profiles));
    s->profiles[i] = (struct tsdb_profile_view){
        .t_ms = t,
        .duration_ns = duration,
        .n = n,
        .stacks = stacks,
        .values = values,
    };
    s->n_profiles++;
    if (t > s->max_t)
        s->max_t = t;
    h->n_profiles++;
    h->n_pairs += n;
    head_time(h, t);
}

void tsdb_head_add_float(struct tsdb_head *h, struct tsdb_head_series *s,
                         int64_t t, double v)
{
    size_t cap = s->cap_floats;
    s->ft = kb_grow(s->ft, &s->cap_floats, s->n_floats + 1, sizeof(*s->ft));
    if (cap != s->cap_floats)
        s->fv = kb_reallocarray(s->fv, s->cap_floats, sizeof(*s->fv));
    size_t i = s->n_floats;
    while (i > 0 && s->ft[i - 1] > t)
        i--;
    memmove(&s->ft[i + 1], &s->ft[i], (s->n_floats - i) * sizeof(*s->ft));
    memmove(&s->fv[i + 1], &s->fv[i], (s->n_floats - i) * sizeof(*s->fv));
    s->ft[i] = t;
    s->fv[i] = v;
    s->n_floats++;
    if (t > s->max_t)
        s->max_t = t;
    h->n_floats++;
    head_time(h, t);
}

struct tsdb_head *tsdb_head_copy_after(const struct tsdb_head *h, int64_t after)
{
    struct tsdb_head *n = tsdb_head_new();
    struct tsdb_stack_mapper m = {0};
    tsdb_stack_mapper_begin(&m, &n->sym, &h->sym);
    for (size_t i = 0; i < h->n_series; i++) {
        const struct tsdb_head_series *s = h->series[i];
        struct tsdb_head_series *c = NULL;
        for (size_t k = 0; k < s->n_profiles; k++) {
            const struct tsdb_profile_view *p = &s->profiles[k];
            if (p->t_ms <= after)
                continue;
            if (c == NULL)
                c = tsdb_head_create(n, s->labels, s->kind, s->period);
            int64_t *values;
            uint32_t *stacks = tsdb_head_pairs_alloc(n, p->n, &values);
            /* Mapping keeps each profile's stack ids distinct; re-sort them
             * since new ids come in a different order. */
            for (size_t j = 0; j < p->n; j++) {
                stacks[j] = tsdb_stack_mapper_map(&m, p->stacks[j]);
                values[j] = p->values[j];
            }
            tsdb_head_sort_pairs(stacks, values, p->n);
            tsdb_head_add_profile(n, c, p->t_ms, p->duration_ns, p->n, stacks,
                                  values);
        }
        for (size_t k = 0; k < s->n_floats; k++) {
            if (s->ft[k] <= after)
                continue;
            if (c == NULL)
                c = tsdb_head_create(n, s->labels, s->kind, s->period);
            tsdb_head_add_float(n, c, s->ft[k], s->fv[k]);
        }
    }
    tsdb_stack_mapper_free(&m);
    return n;
}

struct sort_pair {
    uint32_t stack;
    int64_t value;
};

static int sort_pair_cmp(const void *a, const void *b)
{
    const struct sort_pair *x = a, *y = b;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

void tsdb_head_sort_pairs(uint32_t *stacks, int64_t *values, size_t n)
{
    size_t i = 1;
    while (i < n && stacks[i - 1] < stacks[i])
        i++;
    if (i >= n)
        return; /* already sorted: the common case */
    struct sort_pair *p = kb_malloc(n * sizeof(*p));
    for (i = 0; i < n; i++)
        p[i] = (struct sort_pair){stacks[i], values[i]};
    qsort(p, n, sizeof(*p), sort_pair_cmp);
    for (i = 0; i < n; i++) {
        stacks[i] = p[i].stack;
        values[i] = p[i].value;
    }
    free(p);
}
