/* tsdb/querier.c: reading the database: select series, read their data,
 * merge profiles.
 *
 * Design. A querier is a read-only view over [mint, maxt] that holds the
 * database's read lock from open to close, so everything it hands out
 * (label sets, profile views pointing into the head) stays valid and
 * unchanged until close. Selecting is a scan of the head's series with the
 * matchers (the head is in memory and label matching is cheap next to
 * reading profiles; blocks bring postings indexes).
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
#include "base/regex.h"
#include "tsdb/head.h"
#include "tsdb/tsdb.h"

struct tsdb_querier {
    struct tsdb *db;
    struct tsdb_head *h;
    int64_t mint, maxt;
};

struct tsdb_querier *tsdb_querier_open(struct tsdb *db, int64_t mint,
                                       int64_t maxt)
{
    struct tsdb_querier *q = kb_calloc(1, sizeof(*q));
    q->db = db;
    q->mint = mint;
    q->maxt = maxt;
    pthread_rwlock_rdlock(tsdb_db_lock(db));
    q->h = tsdb_db_head(db);
    return q;
}

void tsdb_querier_close(struct tsdb_querier *q)
{
    if (q == NULL)
        return;
    pthread_rwlock_unlock(tsdb_db_lock(q->db));
    free(q);
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

static bool matcher_matches(const struct tsdb_matcher *m,
                            const struct labels *ls)
{
    const char *v = labels_get(ls, m->name);
    if (v == NULL)
        v = "";
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

/* ---- Selecting and reading ---------------------------------------------- */

/* The index range [*lo, *hi) of times in sorted `t` (stride `stride`
 * bytes, t at the start of each element) within [mint, maxt]. */
static void time_range(const void *base, size_t n, size_t stride, int64_t mint,
                       int64_t maxt, size_t *lo, size_t *hi)
{
    const uint8_t *p = base;
    size_t a = 0, b = n;
    while (a < b) { /* first t >= mint */
        size_t mid = a + (b - a) / 2;
        int64_t t;
        memcpy(&t, p + mid * stride, sizeof(t));
        if (t < mint)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    b = n;
    while (a < b) { /* first t > maxt */
        size_t mid = a + (b - a) / 2;
        int64_t t;
        memcpy(&t, p + mid * stride, sizeof(t));
        if (t <= maxt)
            a = mid + 1;
        else
            b = mid;
    }
    *hi = a;
}

const struct tsdb_profile_view *tsdb_querier_profiles(struct tsdb_querier *q,
                                                      uint64_t ref, size_t *n)
{
    struct tsdb_head_series *s = tsdb_head_series_by_ref(q->h, ref);
    *n = 0;
    if (s == NULL || s->kind != TSDB_PROFILES)
        return NULL;
    size_t lo, hi;
    time_range(s->profiles, s->n_profiles, sizeof(*s->profiles), q->mint,
               q->maxt, &lo, &hi);
    *n = hi - lo;
    return s->profiles + lo;
}

void tsdb_querier_floats(struct tsdb_querier *q, uint64_t ref,
                         const int64_t **t, const double **v, size_t *n)
{
    struct tsdb_head_series *s = tsdb_head_series_by_ref(q->h, ref);
    *n = 0;
    *t = NULL;
    *v = NULL;
    if (s == NULL || s->kind != TSDB_FLOATS)
        return;
    size_t lo, hi;
    time_range(s->ft, s->n_floats, sizeof(*s->ft), q->mint, q->maxt, &lo, &hi);
    *n = hi - lo;
    *t = s->ft + lo;
    *v = s->fv + lo;
}

static bool has_data(struct tsdb_querier *q, uint64_t ref)
{
    size_t n;
    const int64_t *t;
    const double *v;
    if (tsdb_querier_kind(q, ref) == TSDB_PROFILES) {
        tsdb_querier_profiles(q, ref, &n);
        return n > 0;
    }
    tsdb_querier_floats(q, ref, &t, &v, &n);
    return n > 0;
}

/* qsort has no context argument: the head being sorted is passed here. */
static _Thread_local struct tsdb_head *sort_head;

static int ref_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return labels_compare(sort_head->series[x - 1]->labels,
                          sort_head->series[y - 1]->labels);
}

enum kb_status tsdb_querier_select(struct tsdb_querier *q,
                                   const struct tsdb_matcher *ms, size_t n,
                                   uint64_t **refs, size_t *n_refs,
                                   struct kb_err *err)
{
    size_t cap = 0, count = 0;
    uint64_t *out = NULL;
    for (size_t i = 0; i < q->h->n_series; i++) {
        struct tsdb_head_series *s = q->h->series[i];
        bool ok = true;
        for (size_t j = 0; ok && j < n; j++)
            ok = matcher_matches(&ms[j], s->labels);
        if (!ok || !has_data(q, s->ref))
            continue;
        out = kb_grow(out, &cap, count + 1, sizeof(*out));
        out[count++] = s->ref;
    }
    sort_head = q->h;
    if (count > 1)
        qsort(out, count, sizeof(*out), ref_cmp);
    *refs = out;
    *n_refs = count;
    return KB_OK;
}

const struct labels *tsdb_querier_labels(struct tsdb_querier *q, uint64_t ref)
{
    struct tsdb_head_series *s = tsdb_head_series_by_ref(q->h, ref);
    return s ? s->labels : NULL;
}

enum tsdb_series_kind tsdb_querier_kind(struct tsdb_querier *q, uint64_t ref)
{
    struct tsdb_head_series *s = tsdb_head_series_by_ref(q->h, ref);
    return s ? s->kind : 0;
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
    struct pprof_profile *p = pprof_new();
    enum kb_status st = merge_header(q, refs, n_refs, p, err);
    if (st) {
        pprof_free(p);
        return st;
    }
    uint32_t n_nodes = tsdb_stacks_count(q->h->sym.stacks);
    int64_t *totals = kb_calloc(n_nodes, sizeof(*totals));
    int64_t first_t = INT64_MAX;
    for (size_t i = 0; i < n_refs; i++) {
        struct tsdb_head_series *s = tsdb_head_series_by_ref(q->h, refs[i]);
        if (s->period > p->period)
            p->period = s->period;
        size_t n;
        const struct tsdb_profile_view *v =
            tsdb_querier_profiles(q, refs[i], &n);
        for (size_t k = 0; k < n; k++) {
            if (v[k].t_ms < first_t)
                first_t = v[k].t_ms;
            p->duration_nanos += v[k].duration_ns;
            for (size_t j = 0; j < v[k].n; j++)
                totals[v[k].stacks[j]] =
                    (int64_t)((uint64_t)totals[v[k].stacks[j]] +
                              (uint64_t)v[k].values[j]);
        }
    }
    p->time_nanos = first_t == INT64_MAX ? 0 : first_t * 1000000;
    struct pprof_symtab *symtab = pprof_symtab_new(p);
    pprof_symtab_begin(symtab, q->h->sym.symbols);
    uint32_t *locs = NULL;
    size_t cap = 0;
    for (uint32_t node = 1; node < n_nodes; node++) {
        if (totals[node] == 0)
            continue;
        size_t depth = tsdb_stacks_depth(q->h->sym.stacks, node);
        locs = kb_grow(locs, &cap, depth + 1, sizeof(*locs));
        tsdb_stacks_walk(q->h->sym.stacks, node, locs, depth);
        for (size_t j = 0; j < depth; j++)
            locs[j] = pprof_symtab_location(symtab, locs[j]);
        pprof_add_sample(p, locs, (uint32_t)depth, &totals[node], NULL, 0);
    }
    free(locs);
    free(totals);
    pprof_symtab_free(symtab);
    *out = p;
    return KB_OK;
}
