/* tsdb/querier.c: reading the database: select series, read their data,
 * merge profiles.
 *
 * Design. A querier is a read-only view over [mint, maxt] that holds the
 * database's read lock from open to close, so the head and the block list
 * cannot change under it, and everything it hands out (label sets, profile
 * views) stays valid until close.
 *
 * Sources. Data comes from several sources, each with its own symbol
 * space: source 0 is the head, source i+1 the i-th block (oldest first).
 * One series may have data in several sources; the querier's series are
 * the union, keyed by label set, each with its parts (source, index). A
 * series' data is read when first asked for: block chunks are decoded into
 * memory the querier owns, head data is referenced in place; every view
 * carries its source so its stack ids can be interpreted.
 *
 * Selecting scans each source's series with the matchers, using a block's
 * postings for the first equality matcher to skip most of its series.
 *
 * Merging is where the stack tree pays off: the values of every selected
 * profile are added into one array indexed by stack id, with no hashing,
 * and the output pprof is built once at the end: one sample per stack with
 * a nonzero total, its locations found by walking the tree, and only the
 * symbols those stacks use copied out through a pprof_symtab.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/regex.h"
#include "base/hmap.h"
#include "tsdb/db.h"
#include "tsdb/head.h"
#include "tsdb/stackmatch.h"
#include "tsdb/tsdb.h"

struct qpart {
    uint32_t source; /* 0 = head, i + 1 = block i */
    size_t index;    /* head ref, or series number in the block */
};

struct qseries {
    struct labels *labels; /* a copy */
    enum tsdb_series_kind kind;
    int64_t period;
    struct qpart *parts;
    size_t n_parts, cap_parts;
    bool loaded;
    struct tsdb_profile_view *views;
    size_t n_views;
    int64_t *ft;
    double *fv;
    size_t n_floats;
};

/* Stack marks computed for one (source, regex, mode). */
struct qmarks {
    uint8_t *marks;
    size_t n;
};

struct tsdb_querier {
    struct tsdb *db;
    int64_t mint, maxt;
    struct qseries *series;
    size_t n_series, cap_series;
    struct hmap *by_labels; /* labels text -> index + 1 */
    void **mems;            /* decoded block chunks, freed at close */
    size_t n_mems, cap_mems;
    struct kb_err first_err; /* the first read error, KB_OK if none */
    bool downsampled_ok;     /* tsdb_querier_allow_downsampled */
    struct hmap *marks;      /* (source, mode, regex) -> marks index + 1 */
    struct qmarks *mark_sets;
    size_t n_mark_sets, cap_mark_sets;
};

void tsdb_querier_allow_downsampled(struct tsdb_querier *q)
{
    q->downsampled_ok = true;
}

/* The block to read in place of raw block `b`: its coarsest downsampled
 * copy when allowed and `b` lies wholly inside the range, else `b`. */
static size_t block_to_read(const struct tsdb_querier *q, size_t b)
{
    const struct tsdb_block_meta *m = tsdb_block_meta(q->db->blocks[b]);
    size_t best = b;
    int64_t best_res = 0;
    if (!q->downsampled_ok || m->mint < q->mint || m->maxt > q->maxt)
        return b;
    for (size_t i = 0; i < q->db->n_blocks; i++) {
        const struct tsdb_block_meta *c = tsdb_block_meta(q->db->blocks[i]);
        if (c->resolution > best_res &&
            strcmp(c->downsample_of, m->ulid) == 0) {
            best = i;
            best_res = c->resolution;
        }
    }
    return best;
}

struct tsdb_querier *tsdb_querier_open(struct tsdb *db, int64_t mint,
                                       int64_t maxt)
{
    struct tsdb_querier *q = kb_calloc(1, sizeof(*q));
    q->db = db;
    q->mint = mint;
    q->maxt = maxt;
    q->by_labels = hmap_new(0);
    pthread_rwlock_rdlock(&db->lock);
    return q;
}

void tsdb_querier_close(struct tsdb_querier *q)
{
    if (q == NULL)
        return;
    pthread_rwlock_unlock(&q->db->lock);
    for (size_t i = 0; i < q->n_series; i++) {
        struct qseries *s = &q->series[i];
        labels_free(s->labels);
        free(s->parts);
        free(s->views);
        free(s->ft);
        free(s->fv);
    }
    free(q->series);
    for (size_t i = 0; i < q->n_mems; i++)
        free(q->mems[i]);
    free(q->mems);
    hmap_free(q->by_labels);
    for (size_t i = 0; i < q->n_mark_sets; i++)
        free(q->mark_sets[i].marks);
    free(q->mark_sets);
    hmap_free(q->marks);
    free(q);
}

/* The symbol space of a source. */
static const struct tsdb_symspace *source_space(const struct tsdb_querier *q,
                                                uint32_t source)
{
    return source == 0 ? &q->db->head->sym
                       : tsdb_block_symspace(q->db->blocks[source - 1]);
}

/* ---- Stack matchers (stackmatch.c) ----------------------------------- */

void tsdb_querier_stack_marks(struct tsdb_querier *q, uint32_t source,
                              const struct kb_regex *re,
                              enum tsdb_stack_match mode, const uint8_t **marks,
                              size_t *n)
{
    struct {
        uint32_t source, mode;
        const struct kb_regex *re;
    } key;
    memset(&key, 0, sizeof(key));
    key.source = source;
    key.mode = (uint32_t)mode;
    key.re = re;
    if (!q->marks)
        q->marks = hmap_new(0);
    bool found;
    uint64_t *slot = hmap_put(q->marks, &key, sizeof(key), &found);
    if (!found) {
        const struct tsdb_symspace *sp = source_space(q, source);
        q->mark_sets = kb_grow(q->mark_sets, &q->cap_mark_sets,
                               q->n_mark_sets + 1, sizeof(*q->mark_sets));
        q->mark_sets[q->n_mark_sets] = (struct qmarks){
            tsdb_stackmatch_marks(sp, re, mode), tsdb_stacks_count(sp->stacks)};
        *slot = ++q->n_mark_sets;
    }
    *marks = q->mark_sets[*slot - 1].marks;
    *n = q->mark_sets[*slot - 1].n;
}

size_t tsdb_querier_stack_functions(struct tsdb_querier *q, uint32_t source,
                                    uint32_t stack, const char **names,
                                    size_t max)
{
    return tsdb_stackmatch_functions(source_space(q, source), stack, names,
                                     max);
}

/* ---- Matchers ----------------------------------------------------------- */

enum kb_status tsdb_matcher_init(struct tsdb_matcher *m,
                                 enum tsdb_match_type type, const char *name,
                                 const char *value, struct kb_err *err)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    if (type == TSDB_MATCH_RE || type == TSDB_MATCH_NRE) {
        enum kb_status st =
            kb_regex_compile(value, strlen(value), 0, &m->re, err);
        if (st)
            return kb_err_prefix(err, "matcher %s", name);
    }
    m->name = kb_strdup(name);
    m->value = kb_strdup(value);
    return KB_OK;
}

void tsdb_matcher_free(struct tsdb_matcher *m)
{
    free(m->name);
    free(m->value);
    kb_regex_free(m->re);
    memset(m, 0, sizeof(*m));
}

void tsdb_matchers_free(struct tsdb_matcher *ms, size_t n)
{
    for (size_t i = 0; ms && i < n; i++)
        tsdb_matcher_free(&ms[i]);
    free(ms);
}

bool tsdb_matcher_matches(const struct tsdb_matcher *m, const char *v)
{
    switch (m->type) {
    case TSDB_MATCH_EQ:
        return strcmp(v, m->value) == 0;
    case TSDB_MATCH_NEQ:
        return strcmp(v, m->value) != 0;
    case TSDB_MATCH_RE:
        return kb_regex_match(m->re, v, strlen(v));
    case TSDB_MATCH_NRE:
        return !kb_regex_match(m->re, v, strlen(v));
    }
    return false;
}

static bool matcher_matches(const struct tsdb_matcher *m,
                            const struct labels *ls)
{
    const char *v = labels_get(ls, m->name);
    return tsdb_matcher_matches(m, v ? v : "");
}

/* ---- Selecting ---------------------------------------------------------- */

static bool matches_all(const struct tsdb_matcher *ms, size_t n,
                        const struct labels *ls)
{
    for (size_t j = 0; j < n; j++)
        if (!matcher_matches(&ms[j], ls))
            return false;
    return true;
}

/* Whether a head series has data in the querier's range. */
static bool head_overlaps(const struct tsdb_querier *q,
                          const struct tsdb_head_series *s)
{
    for (size_t k = s->n_profiles; k-- > 0;) {
        if (s->profiles[k].t_ms < q->mint)
            break;
        if (s->profiles[k].t_ms <= q->maxt)
            return true;
    }
    for (size_t k = s->n_floats; k-- > 0;) {
        if (s->ft[k] < q->mint)
            break;
        if (s->ft[k] <= q->maxt)
            return true;
    }
    return false;
}

/* Record that the series `ls` has a part in (source, index); returns the
 * querier series' index. */
static size_t add_part(struct tsdb_querier *q, const struct labels *ls,
                       enum tsdb_series_kind kind, int64_t period,
                       uint32_t source, size_t index)
{
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    labels_format(ls, &key);
    bool found;
    uint64_t *v = hmap_put(q->by_labels, key.data, key.len, &found);
    buf_free(&key);
    if (!found) {
        q->series = kb_grow(q->series, &q->cap_series, q->n_series + 1,
                            sizeof(*q->series));
        struct qseries *s = &q->series[q->n_series];
        memset(s, 0, sizeof(*s));
        s->labels = labels_dup(ls);
        s->kind = kind;
        s->period = period;
        *v = ++q->n_series;
    }
    struct qseries *s = &q->series[*v - 1];
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i].source == source && s->parts[i].index == index)
            return *v - 1;
    if (period > s->period)
        s->period = period;
    s->parts =
        kb_grow(s->parts, &s->cap_parts, s->n_parts + 1, sizeof(*s->parts));
    s->parts[s->n_parts++] = (struct qpart){source, index};
    return *v - 1;
}

/* The postings of the first equality matcher with a value, or NULL to scan
 * every series of the block. */
static const uint32_t *block_candidates(const struct tsdb_block *b,
                                        const struct tsdb_matcher *ms, size_t n,
                                        size_t *count)
{
    for (size_t j = 0; j < n; j++)
        if (ms[j].type == TSDB_MATCH_EQ && ms[j].value[0] != '\0')
            return tsdb_block_postings(b, ms[j].name, ms[j].value, count);
    *count = tsdb_block_series_count(b);
    return NULL;
}

static int ref_cmp(const void *a, const void *b, void *ctx)
{
    const struct tsdb_querier *q = ctx;
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return labels_compare(q->series[x - 1].labels, q->series[y - 1].labels);
}

/* Mark querier series `qi` as picked by this select, growing the zeroed
 * `picked` array as needed. */
static void pick(bool **picked, size_t *cap, size_t qi)
{
    size_t old = *cap;
    *picked = kb_grow(*picked, cap, qi + 1, sizeof(bool));
    if (*cap > old)
        memset(*picked + old, 0, (*cap - old) * sizeof(bool));
    (*picked)[qi] = true;
}

/* Add the series of block `b` that match and have data in the range (of
 * kind `kind` only, unless 0) to the querier, marking them in *picked. */
static void select_block(struct tsdb_querier *q, size_t b,
                         const struct tsdb_matcher *ms, size_t n,
                         enum tsdb_series_kind kind, bool **picked,
                         size_t *cap_picked)
{
    const struct tsdb_block *blk = q->db->blocks[b];
    const struct tsdb_block_meta *m = tsdb_block_meta(blk);
    if (m->maxt < q->mint || m->mint > q->maxt)
        return;
    size_t count;
    const uint32_t *cand = block_candidates(blk, ms, n, &count);
    for (size_t c = 0; c < count; c++) {
        size_t i = cand ? cand[c] : c;
        const struct labels *ls = tsdb_block_series_labels(blk, i);
        if ((kind != 0 && tsdb_block_series_kind(blk, i) != kind) ||
            !tsdb_block_series_overlaps(blk, i, q->mint, q->maxt) ||
            !matches_all(ms, n, ls))
            continue;
        size_t qi =
            add_part(q, ls, tsdb_block_series_kind(blk, i),
                     tsdb_block_series_period(blk, i), (uint32_t)(b + 1), i);
        pick(picked, cap_picked, qi);
    }
}

enum kb_status tsdb_querier_select(struct tsdb_querier *q,
                                   const struct tsdb_matcher *ms, size_t n,
                                   uint64_t **refs, size_t *n_refs,
                                   struct kb_err *err)
{
    struct tsdb *db = q->db;
    bool *picked = NULL;
    size_t cap_picked = 0;
    /* Blocks, oldest first, then the head: parts come in time order. */
    for (size_t raw = 0; raw < db->n_blocks; raw++) {
        if (tsdb_block_meta(db->blocks[raw])->resolution > 0)
            continue; /* copies are read only in place of their raw block */
        size_t b = block_to_read(q, raw);
        if (b == raw) {
            select_block(q, raw, ms, n, 0, &picked, &cap_picked);
        } else {
            /* Copies hold profile series only: floats come from raw. */
            select_block(q, b, ms, n, TSDB_PROFILES, &picked, &cap_picked);
            select_block(q, raw, ms, n, TSDB_FLOATS, &picked, &cap_picked);
        }
    }
    struct tsdb_head *h = db->head;
    for (size_t i = 0; i < h->n_series; i++) {
        const struct tsdb_head_series *s = h->series[i];
        if (!matches_all(ms, n, s->labels) || !head_overlaps(q, s))
            continue;
        size_t qi = add_part(q, s->labels, s->kind, s->period, 0, s->ref);
        pick(&picked, &cap_picked, qi);
    }
    /* Entries past cap_picked were never picked. */
    uint64_t *out = NULL;
    size_t count = 0, cap = 0;
    for (size_t i = 0; i < q->n_series && i < cap_picked; i++) {
        if (!picked[i])
            continue;
        out = kb_grow(out, &cap, count + 1, sizeof(*out));
        out[count++] = i + 1;
    }
    free(picked);
    if (count > 1)
        qsort_r(out, count, sizeof(*out), ref_cmp, q);
    *refs = out;
    *n_refs = count;
    return KB_OK;
}

const struct labels *tsdb_querier_labels(struct tsdb_querier *q, uint64_t ref)
{
    return ref >= 1 && ref <= q->n_series ? q->series[ref - 1].labels : NULL;
}

enum tsdb_series_kind tsdb_querier_kind(struct tsdb_querier *q, uint64_t ref)
{
    return ref >= 1 && ref <= q->n_series ? q->series[ref - 1].kind : 0;
}

/* ---- Reading ------------------------------------------------------------ */

static void keep_mem(struct tsdb_querier *q, void *mem)
{
    q->mems = kb_grow(q->mems, &q->cap_mems, q->n_mems + 1, sizeof(*q->mems));
    q->mems[q->n_mems++] = mem;
}

static void add_view(struct qseries *s, size_t *cap,
                     const struct tsdb_profile_view *v, uint32_t source)
{
    s->views = kb_grow(s->views, cap, s->n_views + 1, sizeof(*s->views));
    s->views[s->n_views] = *v;
    s->views[s->n_views++].source = source;
}

static void add_float(struct qseries *s, size_t *cap, int64_t t, double v)
{
    size_t old = *cap;
    s->ft = kb_grow(s->ft, cap, s->n_floats + 1, sizeof(*s->ft));
    if (old != *cap)
        s->fv = kb_reallocarray(s->fv, *cap, sizeof(*s->fv));
    s->ft[s->n_floats] = t;
    s->fv[s->n_floats++] = v;
}

/* Read every part of a series within the range. A damaged block chunk is
 * reported and that part skipped (the rest of the query still answers). */
static enum kb_status load(struct tsdb_querier *q, struct qseries *s,
                           struct kb_err *err)
{
    if (s->loaded)
        return KB_OK;
    s->loaded = true;
    size_t cap_v = 0, cap_f = 0;
    enum kb_status st = KB_OK;
    for (size_t p = 0; p < s->n_parts; p++) {
        const struct qpart *part = &s->parts[p];
        if (part->source == 0) {
            const struct tsdb_head_series *hs =
                tsdb_head_series_by_ref(q->db->head, part->index);
            for (size_t k = 0; k < hs->n_profiles; k++)
                if (hs->profiles[k].t_ms >= q->mint &&
                    hs->profiles[k].t_ms <= q->maxt)
                    add_view(s, &cap_v, &hs->profiles[k], 0);
            for (size_t k = 0; k < hs->n_floats; k++)
                if (hs->ft[k] >= q->mint && hs->ft[k] <= q->maxt)
                    add_float(s, &cap_f, hs->ft[k], hs->fv[k]);
            continue;
        }
        const struct tsdb_block *b = q->db->blocks[part->source - 1];
        enum kb_status pst;
        struct kb_err perr = {0};
        if (s->kind == TSDB_PROFILES) {
            struct tsdb_profile_view *v;
            size_t n;
            void *mem;
            pst = tsdb_block_read_profiles(b, part->index, &v, &n, &mem, &perr);
            if (pst == KB_OK) {
                keep_mem(q, mem);
                for (size_t k = 0; k < n; k++)
                    if (v[k].t_ms >= q->mint && v[k].t_ms <= q->maxt)
                        add_view(s, &cap_v, &v[k], part->source);
            }
        } else {
            int64_t *t;
            double *v;
            size_t n;
            pst = tsdb_block_read_floats(b, part->index, &t, &v, &n, &perr);
            for (size_t k = 0; pst == KB_OK && k < n; k++)
                if (t[k] >= q->mint && t[k] <= q->maxt)
                    add_float(s, &cap_f, t[k], v[k]);
            free(t);
            free(v);
        }
        if (pst != KB_OK) {
            log_warn("tsdb", "skipping damaged data", "err", perr.msg, NULL);
            if (q->first_err.status == KB_OK)
                q->first_err = perr;
            if (st == KB_OK && err)
                *err = perr;
            st = pst;
        }
    }
    return st;
}

const struct tsdb_profile_view *tsdb_querier_profiles(struct tsdb_querier *q,
                                                      uint64_t ref, size_t *n)
{
    *n = 0;
    if (ref == 0 || ref > q->n_series ||
        q->series[ref - 1].kind != TSDB_PROFILES)
        return NULL;
    struct qseries *s = &q->series[ref - 1];
    load(q, s, NULL);
    *n = s->n_views;
    return s->views;
}

void tsdb_querier_floats(struct tsdb_querier *q, uint64_t ref,
                         const int64_t **t, const double **v, size_t *n)
{
    *n = 0;
    *t = NULL;
    *v = NULL;
    if (ref == 0 || ref > q->n_series || q->series[ref - 1].kind != TSDB_FLOATS)
        return;
    struct qseries *s = &q->series[ref - 1];
    load(q, s, NULL);
    *n = s->n_floats;
    *t = s->ft;
    *v = s->fv;
}

/* ---- Merging ------------------------------------------------------------ */

/* Split a profile type ID "p:type:unit:ptype:punit" into its five parts
 * (pointers into `buf`, which receives a copy). */
static bool split_type_id(const char *id, char *buf, size_t size,
                          char *parts[5])
{
    if (strlen(id) >= size)
        return false;
    strcpy(buf, id);
    char *p = buf;
    for (int i = 0; i < 5; i++) {
        parts[i] = p;
        char *colon = strchr(p, ':');
        if (i < 4) {
            if (colon == NULL)
                return false;
            *colon = '\0';
            p = colon + 1;
        } else if (colon != NULL) {
            return false;
        }
    }
    return true;
}

static enum kb_status merge_header(struct tsdb_querier *q, const uint64_t *refs,
                                   size_t n_refs, struct pprof_profile *out,
                                   struct kb_err *err)
{
    const char *name = labels_get(tsdb_querier_labels(q, refs[0]), "__name__");
    for (size_t i = 1; i < n_refs; i++) {
        const char *other =
            labels_get(tsdb_querier_labels(q, refs[i]), "__name__");
        if (strcmp(name, other) != 0)
            return kb_errf(err, KB_ERR_MISMATCH,
                           "cannot merge profiles of different types: %s "
                           "and %s",
                           name, other);
    }
    char buf[1024];
    char *parts[5];
    if (!split_type_id(name, buf, sizeof(buf), parts))
        return kb_errf(err, KB_ERR_INVALID,
                       "series name %.200s is not a profile type ID", name);
    pprof_add_sample_type(out, pprof_intern_str(out, parts[1]),
                          pprof_intern_str(out, parts[2]));
    out->period_type.type = pprof_intern_str(out, parts[3]);
    out->period_type.unit = pprof_intern_str(out, parts[4]);
    return KB_OK;
}

/* Sum the values of one source's views into a profile (NULL if none). */
static struct pprof_profile *merge_source(struct tsdb_querier *q,
                                          const uint64_t *refs, size_t n_refs,
                                          uint32_t source,
                                          const struct pprof_profile *header)
{
    const struct tsdb_symspace *sp = source_space(q, source);
    uint32_t n_nodes = tsdb_stacks_count(sp->stacks);
    int64_t *totals = NULL;
    struct pprof_profile *p = NULL;
    for (size_t i = 0; i < n_refs; i++) {
        size_t n;
        const struct tsdb_profile_view *v =
            tsdb_querier_profiles(q, refs[i], &n);
        for (size_t k = 0; k < n; k++) {
            if (v[k].source != source)
                continue;
            if (totals == NULL)
                totals = kb_calloc(n_nodes, sizeof(*totals));
            for (size_t j = 0; j < v[k].n; j++)
                totals[v[k].stacks[j]] =
                    (int64_t)((uint64_t)totals[v[k].stacks[j]] +
                              (uint64_t)v[k].values[j]);
        }
    }
    if (totals == NULL)
        return NULL;
    p = pprof_new();
    pprof_add_sample_type(
        p, pprof_intern_str(p, pprof_str(header, header->sample_types[0].type)),
        pprof_intern_str(p, pprof_str(header, header->sample_types[0].unit)));
    p->period_type.type =
        pprof_intern_str(p, pprof_str(header, header->period_type.type));
    p->period_type.unit =
        pprof_intern_str(p, pprof_str(header, header->period_type.unit));
    struct pprof_symtab *symtab = pprof_symtab_new(p);
    pprof_symtab_begin(symtab, sp->symbols);
    uint32_t *locs = NULL;
    size_t cap = 0;
    for (uint32_t node = 0; node < n_nodes; node++) { /* 0: empty stack */
        if (totals[node] == 0)
            continue;
        size_t depth = tsdb_stacks_depth(sp->stacks, node);
        locs = kb_grow(locs, &cap, depth + 1, sizeof(*locs));
        tsdb_stacks_walk(sp->stacks, node, locs, depth);
        for (size_t j = 0; j < depth; j++)
            locs[j] = pprof_symtab_location(symtab, locs[j]);
        pprof_add_sample(p, locs, (uint32_t)depth, &totals[node], NULL, 0);
    }
    free(locs);
    free(totals);
    pprof_symtab_free(symtab);
    return p;
}

enum kb_status tsdb_querier_merge(struct tsdb_querier *q, const uint64_t *refs,
                                  size_t n_refs, struct pprof_profile **out,
                                  struct kb_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < n_refs; i++)
        if (tsdb_querier_kind(q, refs[i]) != TSDB_PROFILES)
            return kb_errf(err, KB_ERR_MISMATCH,
                           "series %llu holds floats, not profiles",
                           (unsigned long long)refs[i]);
    if (n_refs == 0)
        return KB_OK;
    /* Read everything first, so damaged data fails the merge loudly. */
    for (size_t i = 0; i < n_refs; i++) {
        enum kb_status lst = load(q, &q->series[refs[i] - 1], err);
        if (lst)
            return lst;
    }
    struct pprof_profile *header = pprof_new();
    enum kb_status st = merge_header(q, refs, n_refs, header, err);
    if (st) {
        pprof_free(header);
        return st;
    }
    /* Header fields over every view: earliest time, summed durations. */
    int64_t first_t = INT64_MAX, duration = 0, period = 0;
    for (size_t i = 0; i < n_refs; i++) {
        const struct qseries *s = &q->series[refs[i] - 1];
        if (s->period > period)
            period = s->period;
        size_t n;
        const struct tsdb_profile_view *v =
            tsdb_querier_profiles(q, refs[i], &n);
        for (size_t k = 0; k < n; k++) {
            if (v[k].t_ms < first_t)
                first_t = v[k].t_ms;
            duration += v[k].duration_ns;
        }
    }
    struct pprof_merger *m = NULL;
    struct pprof_profile *single = NULL;
    for (uint32_t src = 0; src <= q->db->n_blocks; src++) {
        struct pprof_profile *p = merge_source(q, refs, n_refs, src, header);
        if (p == NULL)
            continue;
        if (single == NULL && m == NULL) {
            single = p;
            continue;
        }
        if (m == NULL) {
            m = pprof_merger_new();
            pprof_merger_add(m, single, NULL);
            pprof_free(single);
            single = NULL;
        }
        pprof_merger_add(m, p, NULL);
        pprof_free(p);
    }
    struct pprof_profile *p = m ? pprof_merger_finish(m) : single;
    if (p == NULL) /* selected series with no profile in range */
        p = header, header = NULL;
    p->time_nanos = first_t == INT64_MAX ? 0 : first_t * 1000000;
    p->duration_nanos = duration;
    p->period = period;
    pprof_free(header);
    *out = p;
    return KB_OK;
}

enum kb_status tsdb_querier_error(const struct tsdb_querier *q,
                                  struct kb_err *err)
{
    if (q->first_err.status != KB_OK && err)
        *err = q->first_err;
    return q->first_err.status;
}
