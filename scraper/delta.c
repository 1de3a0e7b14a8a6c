/* scraper/delta.c: cumulative profiles to delta profiles.
 *
 * What. Go's /debug/pprof/allocs, /mutex and /block (and libkiln-exporter's
 * allocs and mutex) return totals since the process started. Kiln stores
 * deltas (DESIGN.md section 2), so the scraper keeps one scrape_delta per
 * (target, profile type) and feeds it every scrape; the delta is the newest
 * scrape minus the previous one, per sample identity.
 *
 * Identity. Location, function and mapping ids are renumbered by every
 * scrape (Go's profile builder assigns them as it goes), so nothing here
 * compares ids of the input. A sample's identity is its content:
 *   - its stack, leaf first, each location being
 *       'M' + mapping identity (build id, else file name) + the mapping's
 *           file offset + the address relative to the mapping's start,
 *           when the location has an address and a mapping;
 *       'A' + the address, when it has an address but no mapping;
 *       'L' + (function name, file name, line) per line, innermost first,
 *           when it has no address (collapsed-stack style targets);
 *   - its labels, string and numeric ((key, string value, number, unit)),
 *     sorted by content so that their order on the wire does not matter.
 *     (Go's heap profiles put the allocation size in a numeric label
 *     "bytes"; the runtime keeps one record per stack and size, so that
 *     label is part of the record's identity, as in go tool pprof's merge.)
 * Samples of equal identity are summed, on both sides.
 *
 * Design. Identities are byte strings made of small ids, and the ids come
 * from per-generation tables built from one profile: `strs` (string bytes
 * -> id), `locs` (location key -> id) and `samples` (sample key -> entry,
 * with the entry's summed values). The state (struct scrape_delta) is the
 * previous scrape's generation and nothing else. A scrape builds the next
 * generation from `cur` and, for each new entry, computes the same key in
 * the previous generation's ids (hmap_get only: a string or location the
 * previous scrape did not have means the identity is new). Per input string
 * and location, both ids are memoized, so the work is one pass over the
 * samples plus one hash per distinct string and location used: O(samples).
 * The next generation then replaces the previous one, so the state never
 * holds more than one profile's identities (bounded by the sample limit and
 * the decoder's limits).
 *
 * Resets. A cumulative value never falls while the process lives; when one
 * does (an identity that is gone counts as all zeros; identities whose
 * values were all zero may vanish without that), the process restarted,
 * and, as Prometheus does with a counter that decreases, the whole of `cur`
 * is the delta: everything it counts happened after the restart, which was
 * after the previous scrape. A profile time_nanos that went backwards, or
 * sample types that changed, are resets too. A wall clock (t_ms) that did
 * not move forward gives no window at all: nothing is returned and `cur`
 * becomes the previous scrape.
 *
 * Ownership. The state owns its tables and a copy of the sample type
 * names; it keeps no pointer into any input profile. The output is built
 * by scrape_subset (below), which copies what the kept samples use.
 * Values are summed and subtracted with two's-complement wrap-around, never
 * undefined overflow, whatever the target sends.
 */
#include "scraper/delta.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hmap.h"

#define UNKNOWN UINT32_MAX /* memo entry not computed yet */

/* One generation: the identities of one profile and their values. */
struct gen {
    struct hmap *strs;    /* string bytes -> id (1-based) */
    struct hmap *locs;    /* location key -> id (1-based) */
    struct hmap *samples; /* sample key -> entry index (0-based) */
    int64_t *values;      /* n_types values per entry */
    size_t cap_values;
    size_t n_nonzero; /* entries with a nonzero value */
    uint32_t *types;  /* per sample type: type and unit string ids */
    size_t n_types;
    int64_t time_nanos;
    int64_t t_ms;
};

struct scrape_delta {
    char **keep; /* sample type names to subtract; none: all */
    size_t n_keep;
    size_t max_samples;
    bool have_prev;
    struct gen prev;
};

enum space { NEXT, PREV };

/* A label with its strings resolved, for sorting by content. */
struct lab {
    const char *key, *str, *unit;
    uint32_t key_len, str_len, unit_len;
    const struct pprof_label *l;
};

/* One call of scrape_delta_next: the input, both generations, memos. */
struct pass {
    const struct pprof_profile *cur;
    const size_t *types; /* chosen sample types of cur */
    size_t n_types;
    const struct gen *prev; /* NULL on a first scrape */
    struct gen *next;
    uint32_t *str_memo[2]; /* per cur string: its id in NEXT / PREV */
    uint32_t *loc_memo[2]; /* per cur location: same (0: not in PREV) */
    struct buf lkey, skey; /* scratch keys: location, sample */
    struct lab *labs;      /* scratch: one sample's labels, sorted */
    size_t cap_labs;
    size_t *entry_prev;  /* per next entry: prev entry + 1, 0 if new */
    size_t *entry_first; /* per next entry: its first sample in cur */
    size_t cap_entry_prev, cap_entry_first;
};

static void gen_init(struct gen *g)
{
    memset(g, 0, sizeof(*g));
    g->strs = hmap_new(0);
    g->locs = hmap_new(0);
    g->samples = hmap_new(0);
}

static void gen_free(struct gen *g)
{
    hmap_free(g->strs);
    hmap_free(g->locs);
    hmap_free(g->samples);
    free(g->values);
    free(g->types);
    memset(g, 0, sizeof(*g));
}

struct scrape_delta *scrape_delta_new(const char *const *types, size_t n_types)
{
    struct scrape_delta *d = kb_calloc(1, sizeof(*d));
    d->max_samples = SCRAPE_DELTA_MAX_SAMPLES;
    if (n_types) {
        d->keep = kb_calloc(n_types, sizeof(*d->keep));
        for (size_t i = 0; i < n_types; i++)
            d->keep[i] = kb_strdup(types[i]);
        d->n_keep = n_types;
    }
    return d;
}

void scrape_delta_free(struct scrape_delta *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_keep; i++)
        free(d->keep[i]);
    free(d->keep);
    if (d->have_prev)
        gen_free(&d->prev);
    free(d);
}

void scrape_delta_set_max_samples(struct scrape_delta *d, size_t max)
{
    d->max_samples = max;
}

/* ---- Identity keys ------------------------------------------------------ */

static void put(struct buf *b, const void *p, size_t n)
{
    (void)buf_append(b, p, n); /* scratch keys have no limit */
}

/* The id of cur's string `s` in generation `sp`: added to NEXT if new; 0
 * when PREV does not have it. */
static uint32_t str_id(struct pass *c, enum space sp, uint32_t s)
{
    uint32_t *memo = &c->str_memo[sp][s];
    if (*memo != UNKNOWN)
        return *memo;
    const char *bytes = c->cur->strings[s];
    size_t len = c->cur->string_lens[s];
    if (sp == NEXT) {
        bool found;
        uint64_t *v = hmap_put(c->next->strs, bytes, len, &found);
        if (!found)
            *v = hmap_count(c->next->strs);
        *memo = (uint32_t)*v;
    } else {
        uint64_t *v = hmap_get(c->prev->strs, bytes, len);
        *memo = v ? (uint32_t)*v : 0;
    }
    return *memo;
}

/* Append the string ids of `n` strings to `key`; false when one is not in
 * the generation. */
static bool put_strs(struct pass *c, enum space sp, struct buf *key,
                     const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t id = str_id(c, sp, s[i]);
        if (id == 0)
            return false;
        put(key, &id, sizeof(id));
    }
    return true;
}

/* The key of cur's location `id` (see the top of the file) into c->lkey;
 * false when generation `sp` lacks one of its strings. */
static bool loc_key(struct pass *c, enum space sp, uint32_t id)
{
    const struct pprof_profile *p = c->cur;
    const struct pprof_location *l = &p->locations[id - 1];
    struct buf *key = &c->lkey;
    buf_reset(key);
    if (l->address != 0 && l->mapping_id != 0) {
        const struct pprof_mapping *m = &p->mappings[l->mapping_id - 1];
        uint32_t ident = m->build_id != 0 && p->string_lens[m->build_id] != 0
                             ? m->build_id
                             : m->filename;
        uint64_t rel = l->address - m->memory_start;
        put(key, "M", 1);
        if (!put_strs(c, sp, key, &ident, 1))
            return false;
        put(key, &m->file_offset, sizeof(m->file_offset));
        put(key, &rel, sizeof(rel));
        return true;
    }
    if (l->address != 0 || l->n_lines == 0) {
        put(key, "A", 1);
        put(key, &l->address, sizeof(l->address));
        return true;
    }
    put(key, "L", 1);
    put(key, &l->n_lines, sizeof(l->n_lines));
    for (uint32_t j = 0; j < l->n_lines; j++) {
        const struct pprof_function *f =
            &p->functions[l->lines[j].function_id - 1];
        uint32_t s[2] = {f->name, f->filename};
        if (!put_strs(c, sp, key, s, 2))
            return false;
        put(key, &l->lines[j].line, sizeof(l->lines[j].line));
    }
    return true;
}

/* The id of cur's location `id` in generation `sp` (added to NEXT if new;
 * 0 when PREV does not have it). */
static uint32_t loc_id(struct pass *c, enum space sp, uint32_t id)
{
    uint32_t *memo = &c->loc_memo[sp][id - 1];
    if (*memo != UNKNOWN)
        return *memo;
    if (!loc_key(c, sp, id)) {
        *memo = 0;
    } else if (sp == NEXT) {
        bool found;
        uint64_t *v =
            hmap_put(c->next->locs, c->lkey.data, c->lkey.len, &found);
        if (!found)
            *v = hmap_count(c->next->locs);
        *memo = (uint32_t)*v;
    } else {
        uint64_t *v = hmap_get(c->prev->locs, c->lkey.data, c->lkey.len);
        *memo = v ? (uint32_t)*v : 0;
    }
    return *memo;
}

static int cmp_bytes(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r != 0)
        return r;
    return an < bn ? -1 : an > bn;
}

static int cmp_lab(const void *pa, const void *pb)
{
    const struct lab *a = pa, *b = pb;
    int r = cmp_bytes(a->key, a->key_len, b->key, b->key_len);
    if (r == 0)
        r = cmp_bytes(a->str, a->str_len, b->str, b->str_len);
    if (r == 0 && a->l->num != b->l->num)
        r = a->l->num < b->l->num ? -1 : 1;
    if (r == 0)
        r = cmp_bytes(a->unit, a->unit_len, b->unit, b->unit_len);
    return r;
}

/* Sort the labels of `s` by content into c->labs. */
static void sort_labels(struct pass *c, const struct pprof_sample *s)
{
    const struct pprof_profile *p = c->cur;
    c->labs = kb_grow(c->labs, &c->cap_labs, s->n_labels, sizeof(*c->labs));
    for (uint32_t j = 0; j < s->n_labels; j++) {
        const struct pprof_label *l = &s->labels[j];
        c->labs[j] = (struct lab){
            .key = p->strings[l->key],
            .str = p->strings[l->str],
            .unit = p->strings[l->num_unit],
            .key_len = p->string_lens[l->key],
            .str_len = p->string_lens[l->str],
            .unit_len = p->string_lens[l->num_unit],
            .l = l,
        };
    }
    if (s->n_labels > 1)
        qsort(c->labs, s->n_labels, sizeof(*c->labs), cmp_lab);
}

/* The key of sample `s` (labels already sorted into c->labs) in generation
 * `sp`, into c->skey; false when PREV lacks a location or string of it. */
static bool sample_key(struct pass *c, enum space sp,
                       const struct pprof_sample *s)
{
    struct buf *key = &c->skey;
    buf_reset(key);
    put(key, &s->n_locations, sizeof(s->n_locations));
    for (uint32_t j = 0; j < s->n_locations; j++) {
        uint32_t id = loc_id(c, sp, s->location_ids[j]);
        if (id == 0)
            return false;
        put(key, &id, sizeof(id));
    }
    put(key, &s->n_labels, sizeof(s->n_labels));
    for (uint32_t j = 0; j < s->n_labels; j++) {
        const struct pprof_label *l = c->labs[j].l;
        uint32_t strs[3] = {l->key, l->str, l->num_unit};
        if (!put_strs(c, sp, key, strs, 3))
            return false;
        put(key, &l->num, sizeof(l->num));
    }
    return true;
}

/* ---- One scrape --------------------------------------------------------- */

/* The entry of sample `i` of cur in the next generation, created (with its
 * match in the previous generation) when new. */
static size_t add_entry(struct pass *c, size_t i)
{
    const struct pprof_sample *s = &c->cur->samples[i];
    struct gen *g = c->next;
    sort_labels(c, s);
    sample_key(c, NEXT, s);
    bool found;
    uint64_t *v = hmap_put(g->samples, c->skey.data, c->skey.len, &found);
    if (found)
        return (size_t)*v;
    size_t e = hmap_count(g->samples) - 1;
    *v = e;
    g->values = kb_grow(g->values, &g->cap_values, (e + 1) * c->n_types,
                        sizeof(*g->values));
    memset(&g->values[e * c->n_types], 0, c->n_types * sizeof(*g->values));
    c->entry_first = kb_grow(c->entry_first, &c->cap_entry_first, e + 1,
                             sizeof(*c->entry_first));
    c->entry_prev = kb_grow(c->entry_prev, &c->cap_entry_prev, e + 1,
                            sizeof(*c->entry_prev));
    c->entry_first[e] = i;
    c->entry_prev[e] = 0;
    if (c->prev != NULL && sample_key(c, PREV, s)) {
        uint64_t *pv = hmap_get(c->prev->samples, c->skey.data, c->skey.len);
        if (pv != NULL)
            c->entry_prev[e] = (size_t)*pv + 1;
    }
    return e;
}

static bool all_zero(const int64_t *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (v[k] != 0)
            return false;
    return true;
}

/* Fill c->next from cur: identities, summed values, sample types. */
static void build_next(struct pass *c)
{
    const struct pprof_profile *p = c->cur;
    struct gen *g = c->next;
    size_t nt = c->n_types;
    for (size_t i = 0; i < p->n_samples; i++) {
        size_t e = add_entry(c, i);
        int64_t *acc = &g->values[e * nt];
        const int64_t *in = p->samples[i].values;
        for (size_t k = 0; k < nt; k++)
            acc[k] = (int64_t)((uint64_t)acc[k] + (uint64_t)in[c->types[k]]);
    }
    size_t n = hmap_count(g->samples);
    for (size_t e = 0; e < n; e++)
        g->n_nonzero += !all_zero(&g->values[e * nt], nt);
    g->n_types = nt;
    g->types = kb_calloc(2 * nt + 1, sizeof(*g->types));
    for (size_t k = 0; k < nt; k++) {
        const struct pprof_value_type *vt = &p->sample_types[c->types[k]];
        g->types[2 * k] = str_id(c, NEXT, vt->type);
        g->types[2 * k + 1] = str_id(c, NEXT, vt->unit);
    }
    g->time_nanos = p->time_nanos;
}

/* Whether cur (in c->next) is a reset against c->prev. */
static bool is_reset(struct pass *c)
{
    const struct gen *prev = c->prev, *next = c->next;
    const struct pprof_profile *p = c->cur;
    if (prev->n_types != next->n_types)
        return true;
    for (size_t k = 0; k < next->n_types; k++) {
        const struct pprof_value_type *vt = &p->sample_types[c->types[k]];
        if (str_id(c, PREV, vt->type) != prev->types[2 * k] ||
            str_id(c, PREV, vt->unit) != prev->types[2 * k + 1])
            return true;
    }
    if (p->time_nanos != 0 && prev->time_nanos != 0 &&
        p->time_nanos < prev->time_nanos)
        return true;
    size_t nt = next->n_types, n = hmap_count(next->samples);
    size_t matched_nonzero = 0;
    for (size_t e = 0; e < n; e++) {
        if (c->entry_prev[e] == 0)
            continue;
        const int64_t *pv = &prev->values[(c->entry_prev[e] - 1) * nt];
        const int64_t *nv = &next->values[e * nt];
        for (size_t k = 0; k < nt; k++)
            if (nv[k] < pv[k])
                return true;
        matched_nonzero += !all_zero(pv, nt);
    }
    return matched_nonzero < prev->n_nonzero;
}

/* The delta profile: per next entry, its values minus the previous ones
 * (or all of them on a reset), all-zero entries left out. */
static struct pprof_profile *make_delta(struct pass *c, bool reset)
{
    const struct gen *prev = c->prev, *next = c->next;
    size_t nt = c->n_types, n = hmap_count(next->samples);
    int64_t *delta = kb_calloc(nt + 1, sizeof(*delta));
    struct scrape_subset b;
    scrape_subset_init(&b, c->cur, c->types, nt);
    for (size_t e = 0; e < n; e++) {
        const int64_t *nv = &next->values[e * nt];
        const int64_t *pv = NULL;
        if (!reset && c->entry_prev[e] != 0)
            pv = &prev->values[(c->entry_prev[e] - 1) * nt];
        for (size_t k = 0; k < nt; k++)
            delta[k] =
                pv ? (int64_t)((uint64_t)nv[k] - (uint64_t)pv[k]) : nv[k];
        if (!all_zero(delta, nt))
            scrape_subset_add(&b, &c->cur->samples[c->entry_first[e]], delta);
    }
    free(delta);
    return scrape_subset_finish(&b);
}

/* The indices of cur's sample types to subtract, into *types (the caller
 * frees it). */
static enum kb_status choose_types(const struct scrape_delta *d,
                                   const struct pprof_profile *cur,
                                   size_t **types, size_t *n,
                                   struct kb_err *err)
{
    *types = kb_calloc(cur->n_sample_types + 1, sizeof(**types));
    *n = 0;
    for (size_t i = 0; i < cur->n_sample_types; i++) {
        const char *name = cur->strings[cur->sample_types[i].type];
        bool keep = d->n_keep == 0;
        for (size_t j = 0; j < d->n_keep && !keep; j++)
            keep = strcmp(d->keep[j], name) == 0;
        if (keep)
            (*types)[(*n)++] = i;
    }
    if (*n == 0 && d->n_keep != 0) {
        free(*types);
        *types = NULL;
        return kb_errf(err, KB_ERR_MISMATCH,
                       "the profile has none of the %zu sample types to "
                       "subtract (%s%s)",
                       d->n_keep, d->keep[0], d->n_keep > 1 ? ", ..." : "");
    }
    return KB_OK;
}

/* ms * 1e6 into *ns; false on overflow. */
static bool ms_to_ns(int64_t ms, int64_t *ns)
{
    return !__builtin_mul_overflow(ms, (int64_t)1000000, ns);
}

enum kb_status scrape_delta_next(struct scrape_delta *d,
                                 const struct pprof_profile *cur, int64_t t_ms,
                                 struct pprof_profile **out, struct kb_err *err)
{
    *out = NULL;
    if (cur->n_samples > d->max_samples)
        return kb_errf(err, KB_ERR_LIMIT,
                       "profile has %zu samples, the delta limit is %zu",
                       cur->n_samples, d->max_samples);
    /* Times are checked before anything changes. */
    bool window = d->have_prev && t_ms > d->prev.t_ms;
    int64_t time_ns = cur->time_nanos, dur_ns = 0, step;
    if (window && (__builtin_sub_overflow(t_ms, d->prev.t_ms, &step) ||
                   !ms_to_ns(step, &dur_ns) ||
                   (time_ns == 0 && !ms_to_ns(t_ms, &time_ns))))
        return kb_errf(err, KB_ERR_INVALID,
                       "scrape time %lld ms (previous %lld ms) out of range",
                       (long long)t_ms, (long long)d->prev.t_ms);
    size_t *types, nt;
    enum kb_status st = choose_types(d, cur, &types, &nt, err);
    if (st)
        return st;

    struct gen next;
    gen_init(&next);
    struct pass c = {
        .cur = cur,
        .types = types,
        .n_types = nt,
        .prev = window ? &d->prev : NULL,
        .next = &next,
    };
    for (int sp = 0; sp < 2; sp++) {
        c.str_memo[sp] = kb_malloc((cur->n_strings + 1) * sizeof(uint32_t));
        memset(c.str_memo[sp], 0xff, cur->n_strings * sizeof(uint32_t));
        c.loc_memo[sp] = kb_malloc((cur->n_locations + 1) * sizeof(uint32_t));
        memset(c.loc_memo[sp], 0xff, cur->n_locations * sizeof(uint32_t));
    }
    buf_init(&c.lkey, BUF_NO_LIMIT);
    buf_init(&c.skey, BUF_NO_LIMIT);

    build_next(&c);
    if (window) {
        *out = make_delta(&c, is_reset(&c));
        (*out)->time_nanos = time_ns;
        (*out)->duration_nanos = dur_ns;
    }
    next.t_ms = t_ms;
    if (d->have_prev)
        gen_free(&d->prev);
    d->prev = next;
    d->have_prev = true;

    for (int sp = 0; sp < 2; sp++) {
        free(c.str_memo[sp]);
        free(c.loc_memo[sp]);
    }
    buf_free(&c.lkey);
    buf_free(&c.skey);
    free(c.labs);
    free(c.entry_prev);
    free(c.entry_first);
    free(types);
    return KB_OK;
}

/* ---- Profiles from some samples of another ------------------------------ */

void scrape_subset_init(struct scrape_subset *b, const struct pprof_profile *in,
                        const size_t *types, size_t n_types)
{
    memset(b, 0, sizeof(*b));
    b->in = in;
    b->out = pprof_new();
    b->st = pprof_symtab_new(b->out);
    pprof_symtab_begin(b->st, in);
    struct pprof_profile *out = b->out;
    struct pprof_symtab *st = b->st;
    if (types == NULL)
        n_types = in->n_sample_types;
    for (size_t k = 0; k < n_types; k++) {
        const struct pprof_value_type *vt =
            &in->sample_types[types ? types[k] : k];
        pprof_add_sample_type(out, pprof_symtab_string(st, vt->type),
                              pprof_symtab_string(st, vt->unit));
    }
    if (in->default_sample_type != 0 &&
        pprof_sample_type_index(out, in->strings[in->default_sample_type]) >= 0)
        out->default_sample_type =
            pprof_symtab_string(st, in->default_sample_type);
    out->period_type.type = pprof_symtab_string(st, in->period_type.type);
    out->period_type.unit = pprof_symtab_string(st, in->period_type.unit);
    out->period = in->period;
    out->time_nanos = in->time_nanos;
    out->duration_nanos = in->duration_nanos;
    out->drop_frames = pprof_symtab_string(st, in->drop_frames);
    out->keep_frames = pprof_symtab_string(st, in->keep_frames);
    for (size_t i = 0; i < in->n_comments; i++)
        pprof_add_comment(out, pprof_symtab_string(st, in->comments[i]));
}

void scrape_subset_add(struct scrape_subset *b, const struct pprof_sample *s,
                       const int64_t *values)
{
    struct pprof_symtab *st = b->st;
    b->locs =
        kb_grow(b->locs, &b->cap_locs, s->n_locations + 1, sizeof(*b->locs));
    for (uint32_t j = 0; j < s->n_locations; j++)
        b->locs[j] = pprof_symtab_location(st, s->location_ids[j]);
    b->labels =
        kb_grow(b->labels, &b->cap_labels, s->n_labels + 1, sizeof(*b->labels));
    for (uint32_t j = 0; j < s->n_labels; j++) {
        const struct pprof_label *l = &s->labels[j];
        b->labels[j] = (struct pprof_label){
            .key = pprof_symtab_string(st, l->key),
            .str = pprof_symtab_string(st, l->str),
            .num = l->num,
            .num_unit = pprof_symtab_string(st, l->num_unit),
        };
    }
    pprof_add_sample(b->out, b->locs, s->n_locations,
                     values ? values : s->values, b->labels, s->n_labels);
}

struct pprof_profile *scrape_subset_finish(struct scrape_subset *b)
{
    struct pprof_profile *out = b->out;
    pprof_symtab_free(b->st);
    free(b->locs);
    free(b->labels);
    memset(b, 0, sizeof(*b));
    return out;
}
