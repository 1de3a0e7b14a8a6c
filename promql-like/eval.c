/* promql-like/eval.c: the query evaluator: the tree walk, selectors over
 * profile and float series, the stack matchers, operators, aggregations,
 * subqueries, and the instant and range query drivers.
 *
 * Design. A range query is evaluated as an instant query at every step,
 * which is how Prometheus defines its results. What makes that cheap is a
 * per-query cache: before evaluating, the tree gives every selector's time
 * span; overlapping spans share one tsdb querier (so `x offset 1w` does
 * not read the week in between); each selector node selects its series
 * and reads their data once, on first use, and a step then only
 * binary-searches its window. For profile series the cache also
 * holds every profile's total after the stack-matcher filter, computed in
 * one pass over the profile's (stack, value) pairs with a byte lookup per
 * pair in the stack marks of tsdb_querier_stack_marks (one regex match per
 * function of a symbol space, one pass over the stack tree, cached by the
 * querier).
 *
 * Value semantics (docs/query-evaluation.md): an instant selector on a
 * profile series is the total of the newest profile in the lookback
 * window; a range selector gives a point (t, total) per profile; rate and
 * increase on such points sum them (functions.c). The virtual labels
 * __function__ and __leaf__ never select series. In a selector they filter
 * pairs by stack; under an aggregation that groups `by` them they split:
 * the aggregation's argument is evaluated with split flags, and profile
 * selectors then emit one element (or range series) per (series, function)
 * and/or (series, leaf), crediting each pair once to every distinct
 * function on its stack. A selector's matcher on a label it splits by
 * filters the split values (function names) instead of stacks, exactly as
 * if each pair were copied once per function with the label set. Function
 * lists per (symbol space, stack) come from tsdb_querier_stack_functions
 * once per query (the expansion cache), so a split costs one pass over the
 * pairs plus one expansion per distinct stack. Split flags are a static
 * property of a node (its enclosing aggregations decide: `by` sets them to
 * the stack labels it lists, `without` passes them on minus the ones it
 * lists), so a selector's cache is built for one split.
 *
 * Invariants and ownership: every element and range series owns its label
 * set; a pql_val owns its members and is freed with val_free, which also
 * returns its samples to the max_samples count. Profile views, labels of
 * selected series and function names belong to the querier, which lives
 * until the query ends. Errors are recorded once, in ev->err, by ev_fail;
 * every function returns the status up. Limits: deadline and cancel are
 * checked every few hundred loop iterations (ev_check), samples in memory
 * on every allocation of elements or points, selected series when a
 * selector loads.
 */
#include "promql-like/eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/labels.h"
#include "base/regex.h"
#include "promql-like/eval_internal.h"
#include "promql-like/parser.h"
#include "tsdb/tsdb.h"

/* Checks between two looks at the clock. */
#define CHECK_EVERY 256
/* Frames read per stack before growing the buffer. */
#define FRAMES_INLINE 256

/* One stack matcher of a selector. */
struct stack_matcher {
    const struct pql_matcher *m;
    struct kb_regex *own; /* compiled from an = or != literal */
    const struct kb_regex *re;
    unsigned label; /* PQL_SPLIT_FUNCTION or PQL_SPLIT_LEAF */
    bool negate;    /* != and !~ */
};

/* The combined stack filter over one symbol space: keep[stack]. */
struct src_keep {
    uint32_t source;
    uint8_t *keep;
    size_t n;
};

struct sel_series {
    const struct labels *ls;
    bool profile;
    size_t n;
    const int64_t *ft; /* floats */
    const double *fv;
    const struct tsdb_profile_view *pv; /* profiles */
    double *total;                      /* per profile, after the filter */
    uint8_t *present;                   /* a pair passed the filter */
};

struct sel_cache {
    struct tsdb_querier *q; /* ev->qs[qi] */
    uint32_t qi;
    struct sel_series *s;
    size_t n;
    struct stack_matcher *sm;
    size_t n_sm;
    unsigned split;
    bool filter; /* some matcher filters stacks */
    struct src_keep *keep;
    size_t n_keep;
    uint8_t *ok[2]; /* by name id: 1 passes, 2 fails the split filter */
    size_t cap_ok[2];
};

/* A name id that is no name: the leaf of a stack without frames. */
#define NO_NAME UINT32_MAX

/* The distinct function names of one stack (ids), and its leaf's. */
struct expansion {
    uint32_t *ids;
    uint32_t n;
    uint32_t leaf;
};

/* The expansions of the stacks of one symbol space of querier qi:
 * idx[stack] is an index + 1 into ev->exp, 0 when not expanded yet. */
struct src_exp {
    uint32_t qi, source;
    uint32_t *idx;
    size_t cap;
};

/* The times one selector node reads. */
struct span {
    int64_t lo, hi;
    uint32_t node;
};

/* Selector spans closer than this share a querier. */
#define QUERIER_GAP INT64_C(3600000)

struct ev {
    struct tsdb_querier **qs; /* one per group of selector spans */
    size_t n_qs;
    uint32_t *node_q; /* by selector node id: index into qs */
    struct span *spans;
    size_t n_spans, cap_spans;
    const struct pql_engine_options *o;
    int64_t start, end;
    struct pql_error *err;
    size_t n_nodes;
    struct sel_cache **sel; /* by node id */
    struct kb_regex **re;   /* by node id */
    size_t series;
    long long samples;
    struct timespec deadline;
    unsigned checks;
    struct labels_builder *lb;
    struct buf key, key2;
    struct src_exp *srcs; /* the expansion cache */
    size_t n_srcs;
    struct expansion *exp;
    size_t n_exp, cap_exp;
    struct hmap *name_idx; /* function name -> id */
    const char **names;    /* by id; the querier's strings */
    size_t n_names, cap_names;
    struct arena *arena;
};

/* ---- Errors and limits -------------------------------------------------- */

enum kb_status ev_fail(struct ev *ev, enum pql_error_type type, const char *fmt,
                       ...)
{
    enum kb_status st = type == PQL_ERR_TIMEOUT || type == PQL_ERR_CANCELED
                            ? KB_ERR_LIMIT
                            : KB_ERR_INVALID;
    if (ev->err->type != PQL_ERR_NONE)
        return ev->err->err.status; /* the first error wins */
    va_list ap;
    va_start(ap, fmt);
    ev->err->type = type;
    ev->err->err.status = st;
    vsnprintf(ev->err->err.msg, sizeof(ev->err->err.msg), fmt, ap);
    va_end(ap);
    return st;
}

static bool past(const struct timespec *a)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > a->tv_sec ||
           (now.tv_sec == a->tv_sec && now.tv_nsec >= a->tv_nsec);
}

enum kb_status ev_check(struct ev *ev)
{
    if (++ev->checks % CHECK_EVERY != 0)
        return KB_OK;
    if (ev->o->cancel && atomic_load(ev->o->cancel))
        return ev_fail(ev, PQL_ERR_CANCELED, "query was canceled");
    if (ev->o->timeout_ms > 0 && past(&ev->deadline))
        return ev_fail(ev, PQL_ERR_TIMEOUT,
                       "query timed out in expression evaluation");
    return KB_OK;
}

enum kb_status ev_samples(struct ev *ev, long long n)
{
    ev->samples += n;
    if (n > 0 && ev->o->max_samples > 0 &&
        ev->samples > (long long)ev->o->max_samples)
        return ev_fail(ev, PQL_ERR_EXECUTION,
                       "query processing would load too many samples into "
                       "memory in query execution (limit %zu)",
                       ev->o->max_samples);
    return KB_OK;
}

/* ---- Values ------------------------------------------------------------- */

enum kb_status vec_push(struct ev *ev, struct pql_vec *v, struct labels *ls,
                        double x, int64_t t)
{
    if (ev_samples(ev, 1) != KB_OK) {
        labels_free(ls);
        return KB_ERR_LIMIT;
    }
    v->e = kb_grow(v->e, &v->cap, v->n + 1, sizeof(*v->e));
    v->e[v->n++] = (struct pql_elem){.ls = ls, .v = x, .t = t};
    return KB_OK;
}

enum kb_status mser_push(struct ev *ev, struct pql_mser *s, int64_t t, double x)
{
    if (ev_samples(ev, 1) != KB_OK)
        return KB_ERR_LIMIT;
    s->p = kb_grow(s->p, &s->cap, s->n + 1, sizeof(*s->p));
    s->p[s->n++] = (struct pql_point){.t_ms = t, .v = x};
    return KB_OK;
}

static struct pql_mser *mat_add(struct pql_mat *m, struct labels *ls,
                                bool profile)
{
    m->s = kb_grow(m->s, &m->cap, m->n + 1, sizeof(*m->s));
    struct pql_mser *s = &m->s[m->n++];
    *s = (struct pql_mser){.ls = ls, .profile = profile};
    return s;
}

void val_free(struct ev *ev, struct pql_val *v)
{
    long long n = 0;
    for (size_t i = 0; i < v->vec.n; i++)
        labels_free(v->vec.e[i].ls);
    n += (long long)v->vec.n;
    free(v->vec.e);
    for (size_t i = 0; i < v->mat.n; i++) {
        labels_free(v->mat.s[i].ls);
        free(v->mat.s[i].p);
        n += (long long)v->mat.s[i].n;
    }
    free(v->mat.s);
    ev_samples(ev, -n);
    memset(v, 0, sizeof(*v));
}

struct labels *labels_drop_name(const struct labels *ls)
{
    if (!labels_get(ls, LABEL_NAME))
        return labels_dup(ls);
    struct labels_builder *b = labels_builder_new();
    labels_builder_reset(b, ls);
    labels_builder_del(b, LABEL_NAME);
    struct labels *out = NULL;
    if (labels_builder_finish(b, &out, NULL) != KB_OK)
        out = labels_dup(ls); /* unreachable: ls was a valid set */
    labels_builder_free(b);
    return out;
}

/* Finish ev->lb into a set, or fail the query. */
static enum kb_status lb_finish(struct ev *ev, struct labels **out)
{
    struct kb_err e;
    if (labels_builder_finish(ev->lb, out, &e) != KB_OK)
        return ev_fail(ev, PQL_ERR_EXECUTION, "%s", e.msg);
    return KB_OK;
}

/* Append the identity of `ls` to `out`: every label (on == false: except
 * __name__ and names[]) or only names[] (on == true). */
static void sig_key(const struct labels *ls, bool on,
                    const struct pql_label_list *names, struct buf *out)
{
    buf_reset(out);
    if (on) {
        for (size_t i = 0; i < names->n; i++) {
            const char *v = labels_get(ls, names->names[i]);
            buf_puts(out, names->names[i]);
            buf_putc(out, '\xff');
            buf_puts(out, v ? v : "");
            buf_putc(out, '\xff');
        }
        return;
    }
    for (size_t i = 0; i < labels_count(ls); i++) {
        const struct label *l = labels_at(ls, i);
        bool skip = strcmp(l->name, LABEL_NAME) == 0;
        for (size_t k = 0; k < names->n && !skip; k++)
            skip = strcmp(l->name, names->names[k]) == 0;
        if (skip)
            continue;
        buf_append(out, l->name, l->name_len);
        buf_putc(out, '\xff');
        buf_append(out, l->value, l->value_len);
        buf_putc(out, '\xff');
    }
}

/* The full identity of `ls` (every label, __name__ included). */
static void full_key(const struct labels *ls, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < labels_count(ls); i++) {
        const struct label *l = labels_at(ls, i);
        buf_append(out, l->name, l->name_len);
        buf_putc(out, '\xff');
        buf_append(out, l->value, l->value_len);
        buf_putc(out, '\xff');
    }
}

static const char *labels_str(const struct labels *ls, char *tmp, size_t n)
{
    struct buf b;
    buf_init(&b, n - 1);
    if (labels_format(ls, &b) != KB_OK)
        buf_puts(&b, "{...}");
    snprintf(tmp, n, "%s", buf_cstr(&b));
    buf_free(&b);
    return tmp;
}

enum kb_status vec_check_unique(struct ev *ev, const struct pql_vec *v)
{
    if (v->n < 2)
        return KB_OK;
    struct hmap *seen = hmap_new(v->n);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < v->n && st == KB_OK; i++) {
        bool found;
        full_key(v->e[i].ls, &ev->key);
        hmap_put(seen, ev->key.data, ev->key.len, &found);
        if (found) {
            char tmp[160];
            st = ev_fail(ev, PQL_ERR_EXECUTION,
                         "vector cannot contain metrics with the same "
                         "labelset: %s",
                         labels_str(v->e[i].ls, tmp, sizeof(tmp)));
        }
    }
    hmap_free(seen);
    return st;
}

enum kb_status ev_regex(struct ev *ev, const struct pql_expr *e,
                        const char *pattern, const char *fn,
                        struct kb_regex **out)
{
    if (!ev->re[e->id]) {
        struct kb_err ke;
        if (kb_regex_compile(pattern, strlen(pattern), 0, &ev->re[e->id],
                             &ke) != KB_OK)
            return ev_fail(ev, PQL_ERR_EXECUTION,
                           "invalid regular expression in %s(): %s", fn,
                           ke.msg);
    }
    *out = ev->re[e->id];
    return KB_OK;
}

/* ---- Selectors ---------------------------------------------------------- */

/* The time a selector or subquery looks at, after @ and offset. */
static int64_t mod_time(const struct ev *ev, const struct pql_modifiers *m,
                        int64_t t)
{
    int64_t at = m->at == PQL_AT_TIME    ? m->at_ms
                 : m->at == PQL_AT_START ? ev->start
                 : m->at == PQL_AT_END   ? ev->end
                                         : t;
    return at - m->offset_ms;
}

static unsigned stack_label(const char *name)
{
    if (strcmp(name, PQL_LABEL_FUNCTION) == 0)
        return PQL_SPLIT_FUNCTION;
    if (strcmp(name, PQL_LABEL_LEAF) == 0)
        return PQL_SPLIT_LEAF;
    return 0;
}

/* A regex matching exactly the literal `s` (for = and != stack
 * matchers, which tsdb_querier_stack_marks takes as regexes). */
static enum kb_status literal_regex(const char *s, struct kb_regex **out,
                                    struct kb_err *err)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    for (const char *p = s; *p; p++) {
        if (strchr("\\^$.|?*+()[]{}", *p))
            buf_putc(&b, '\\');
        buf_putc(&b, *p);
    }
    enum kb_status st =
        kb_regex_compile((const char *)b.data, b.len, 0, out, err);
    buf_free(&b);
    return st;
}

static bool matcher_matches(const struct pql_matcher *m, const char *v)
{
    switch (m->type) {
    case PQL_MATCH_EQ:
        return strcmp(v, m->value) == 0;
    case PQL_MATCH_NEQ:
        return strcmp(v, m->value) != 0;
    case PQL_MATCH_RE:
        return kb_regex_match(m->re, v, strlen(v));
    case PQL_MATCH_NRE:
        return !kb_regex_match(m->re, v, strlen(v));
    }
    return false;
}

static void sel_cache_free(struct sel_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->s[i].total);
        free(c->s[i].present);
    }
    free(c->s);
    for (size_t i = 0; i < c->n_sm; i++)
        kb_regex_free(c->sm[i].own);
    free(c->sm);
    for (size_t i = 0; i < c->n_keep; i++)
        free(c->keep[i].keep);
    free(c->keep);
    free(c->ok[0]);
    free(c->ok[1]);
    free(c);
}

/* The combined stack filter of `c` over `source`. */
static const struct src_keep *sel_keep(struct ev *ev, struct sel_cache *c,
                                       uint32_t source)
{
    for (size_t i = 0; i < c->n_keep; i++)
        if (c->keep[i].source == source)
            return &c->keep[i];
    size_t n = 0;
    uint8_t *keep = NULL;
    for (size_t i = 0; i < c->n_sm; i++) {
        const struct stack_matcher *sm = &c->sm[i];
        /* A matcher on a split label filters split values, not stacks;
         * but when it is positive (= or =~) a stack without a matching
         * name would credit nothing, so it filters stacks as well: the
         * pairs of such stacks are skipped at a byte lookup each. */
        if ((sm->label & c->split) && sm->negate)
            continue;
        const uint8_t *marks;
        size_t nm;
        tsdb_querier_stack_marks(c->q, source, sm->re,
                                 sm->label == PQL_SPLIT_LEAF ? TSDB_STACK_LEAF
                                                             : TSDB_STACK_ANY,
                                 &marks, &nm);
        if (!keep) {
            n = nm;
            keep = kb_malloc(n + 1);
            memset(keep, 1, n + 1);
        }
        for (size_t s = 0; s < n; s++)
            keep[s] &= (s < nm ? marks[s] != 0 : 0) != sm->negate;
    }
    c->keep = kb_reallocarray(c->keep, c->n_keep + 1, sizeof(*c->keep));
    c->keep[c->n_keep] = (struct src_keep){source, keep, n};
    return &c->keep[c->n_keep++];
}

static bool keep_pair(const struct src_keep *k, uint32_t stack)
{
    return stack < k->n && k->keep[stack];
}

/* Fill the totals of profile series `s` on first use (the filtered sum of
 * every profile: one pass over the pairs). Split selectors never need
 * them. */
static enum kb_status series_totals(struct ev *ev, struct sel_cache *c,
                                    struct sel_series *s)
{
    if (!s->profile || c->split || s->total)
        return KB_OK;
    s->total = kb_calloc(s->n + 1, sizeof(double));
    s->present = kb_calloc(s->n + 1, 1);
    for (size_t i = 0; i < s->n; i++) {
        const struct tsdb_profile_view *p = &s->pv[i];
        if (ev_check(ev) != KB_OK)
            return KB_ERR_LIMIT;
        double sum = 0;
        if (!c->filter) {
            for (size_t k = 0; k < p->n; k++)
                sum += (double)p->values[k];
            s->present[i] = 1;
        } else {
            const struct src_keep *keep = sel_keep(ev, c, p->source);
            for (size_t k = 0; k < p->n; k++)
                if (keep_pair(keep, p->stacks[k])) {
                    sum += (double)p->values[k];
                    s->present[i] = 1;
                }
        }
        s->total[i] = sum;
    }
    return KB_OK;
}

/* Build the tsdb matchers of `sel` (all but the stack matchers) and the
 * stack matchers of `c`. */
static enum kb_status sel_matchers(struct ev *ev,
                                   const struct pql_selector *sel,
                                   struct sel_cache *c, struct tsdb_matcher *tm,
                                   size_t *n_tm)
{
    bool all_empty = true;
    struct kb_err ke;
    *n_tm = 0;
    c->sm = kb_calloc(sel->n_matchers + 1, sizeof(*c->sm));
    for (size_t i = 0; i < sel->n_matchers; i++) {
        const struct pql_matcher *m = &sel->matchers[i];
        unsigned label = stack_label(m->name);
        if (label) {
            struct stack_matcher *sm = &c->sm[c->n_sm++];
            sm->m = m;
            sm->label = label;
            sm->negate = m->type == PQL_MATCH_NEQ || m->type == PQL_MATCH_NRE;
            if (m->re) {
                sm->re = m->re;
            } else {
                if (literal_regex(m->value, &sm->own, &ke) != KB_OK)
                    return ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
                sm->re = sm->own;
            }
            if (!(label & c->split) || !sm->negate)
                c->filter = true;
            continue;
        }
        const char *value = m->value;
        if (m->type == PQL_MATCH_EQ && strcmp(m->name, LABEL_NAME) == 0 &&
            tsdb_type_alias(value))
            value = tsdb_type_alias(value);
        if (!matcher_matches(m, ""))
            all_empty = false;
        if (tsdb_matcher_init(&tm[*n_tm], (enum tsdb_match_type)m->type,
                              m->name, value, &ke) != KB_OK)
            return ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
        (*n_tm)++;
    }
    if (all_empty)
        return ev_fail(ev, PQL_ERR_BAD_DATA,
                       "vector selector must contain at least one "
                       "non-empty matcher besides %s and %s",
                       PQL_LABEL_FUNCTION, PQL_LABEL_LEAF);
    return KB_OK;
}

/* The cache of selector node `e`, loading it on first use. */
static enum kb_status sel_load(struct ev *ev, const struct pql_expr *e,
                               unsigned split, struct sel_cache **out)
{
    if (ev->sel[e->id]) {
        *out = ev->sel[e->id];
        return KB_OK;
    }
    const struct pql_selector *sel = &e->u.sel;
    struct sel_cache *c = kb_calloc(1, sizeof(*c));
    ev->sel[e->id] = c;
    c->split = split;
    struct tsdb_matcher *tm = kb_calloc(sel->n_matchers + 1, sizeof(*tm));
    size_t n_tm = 0;
    uint64_t *refs = NULL;
    size_t n_refs = 0;
    enum kb_status st = sel_matchers(ev, sel, c, tm, &n_tm);
    if (st != KB_OK)
        goto done;
    c->qi = ev->node_q[e->id];
    c->q = ev->qs[c->qi];
    struct kb_err ke;
    if (tsdb_querier_select(c->q, tm, n_tm, &refs, &n_refs, &ke) != KB_OK) {
        st = ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
        goto done;
    }
    ev->series += n_refs;
    if (ev->o->max_series > 0 && ev->series > ev->o->max_series) {
        st = ev_fail(ev, PQL_ERR_EXECUTION,
                     "query selected too many series (limit %zu)",
                     ev->o->max_series);
        goto done;
    }
    c->s = kb_calloc(n_refs + 1, sizeof(*c->s));
    for (size_t i = 0; i < n_refs; i++) {
        struct sel_series *s = &c->s[c->n++];
        s->ls = tsdb_querier_labels(c->q, refs[i]);
        s->profile = tsdb_querier_kind(c->q, refs[i]) == TSDB_PROFILES;
        if (s->profile) {
            s->pv = tsdb_querier_profiles(c->q, refs[i], &s->n);
        } else {
            tsdb_querier_floats(c->q, refs[i], &s->ft, &s->fv, &s->n);
        }
    }
    if (tsdb_querier_error(c->q, &ke) != KB_OK)
        st = ev_fail(ev, PQL_ERR_INTERNAL, "%s", ke.msg);
done:
    for (size_t i = 0; i < n_tm; i++)
        tsdb_matcher_free(&tm[i]);
    free(tm);
    free(refs);
    *out = c;
    return st;
}

/* The first index of `s` with time > t. */
static size_t first_after(const struct sel_series *s, int64_t t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t mt = s->profile ? s->pv[mid].t_ms : s->ft[mid];
        if (mt <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t series_time(const struct sel_series *s, size_t i)
{
    return s->profile ? s->pv[i].t_ms : s->ft[i];
}

/* ---- Stack splits ------------------------------------------------------- */

/* The dense id of a function name, for this query. */
static uint32_t intern_name(struct ev *ev, const char *name)
{
    bool found;
    uint64_t *slot = hmap_put(ev->name_idx, name, strlen(name), &found);
    if (!found) {
        ev->names = kb_grow(ev->names, &ev->cap_names, ev->n_names + 1,
                            sizeof(*ev->names));
        ev->names[ev->n_names] = name;
        *slot = ev->n_names++;
    }
    return (uint32_t)*slot;
}

/* Grow a zero-filled array of `size`-byte elements to hold index `i`. */
static void *grow_zero(void *p, size_t *cap, size_t i, size_t size)
{
    if (i < *cap)
        return p;
    size_t old = *cap;
    p = kb_grow(p, cap, i + 1, size);
    memset((char *)p + old * size, 0, (*cap - old) * size);
    return p;
}

/* The expansion of `stack` of `source`, made on first use. */
static const struct expansion *expand(struct ev *ev, uint32_t qi,
                                      uint32_t source, uint32_t stack)
{
    struct tsdb_querier *q = ev->qs[qi];
    struct src_exp *se = NULL;
    for (size_t i = 0; i < ev->n_srcs && !se; i++)
        if (ev->srcs[i].qi == qi && ev->srcs[i].source == source)
            se = &ev->srcs[i];
    if (!se) {
        ev->srcs = kb_reallocarray(ev->srcs, ev->n_srcs + 1, sizeof(*se));
        se = &ev->srcs[ev->n_srcs++];
        *se = (struct src_exp){.qi = qi, .source = source};
    }
    se->idx = grow_zero(se->idx, &se->cap, stack, sizeof(*se->idx));
    if (se->idx[stack])
        return &ev->exp[se->idx[stack] - 1];
    const char *inl[FRAMES_INLINE];
    const char **names = inl;
    size_t n =
        tsdb_querier_stack_functions(q, source, stack, inl, FRAMES_INLINE);
    if (n > FRAMES_INLINE) {
        names = kb_calloc(n, sizeof(*names));
        n = tsdb_querier_stack_functions(q, source, stack, names, n);
    }
    struct expansion x = {.leaf = n > 0 ? intern_name(ev, names[0]) : NO_NAME};
    x.ids = arena_calloc(ev->arena, n + 1, sizeof(*x.ids));
    for (size_t i = 0; i < n; i++) {
        uint32_t id = intern_name(ev, names[i]);
        bool dup = false;
        for (uint32_t k = 0; k < x.n && !dup; k++)
            dup = x.ids[k] == id;
        if (!dup)
            x.ids[x.n++] = id;
    }
    if (names != inl)
        free(names);
    ev->exp = kb_grow(ev->exp, &ev->cap_exp, ev->n_exp + 1, sizeof(*ev->exp));
    ev->exp[ev->n_exp++] = x;
    se->idx[stack] = (uint32_t)ev->n_exp;
    return &ev->exp[ev->n_exp - 1];
}

/* Whether the split value `id` of stack label `which` (0: __function__,
 * 1: __leaf__) passes the selector's matchers on that label; each name is
 * matched once per selector. */
static bool name_pass(struct ev *ev, struct sel_cache *c, int which,
                      uint32_t id)
{
    unsigned label = which ? PQL_SPLIT_LEAF : PQL_SPLIT_FUNCTION;
    uint8_t dummy = 0, *ok = &dummy;
    if (id != NO_NAME) {
        c->ok[which] =
            grow_zero(c->ok[which], &c->cap_ok[which], id, sizeof(uint8_t));
        ok = &c->ok[which][id];
    }
    if (!*ok) {
        const char *name = id == NO_NAME ? "" : ev->names[id];
        bool pass = true;
        for (size_t i = 0; i < c->n_sm && pass; i++)
            if (c->sm[i].label == label)
                pass = matcher_matches(c->sm[i].m, name);
        *ok = pass ? 1 : 2;
    }
    return *ok == 1;
}

/* Values per split key: function and/or leaf name ids (NO_NAME where the
 * split does not use that label, or a stack has no frames). */
struct acc_entry {
    uint32_t fn, leaf;
    double v;
};

struct split_acc {
    unsigned split;
    uint32_t *slot; /* single label: by id + 1, entry index + 1 */
    size_t cap_slot;
    struct hmap *pairs; /* both labels: (fn, leaf) -> entry index + 1 */
    struct acc_entry *e;
    size_t n, cap;
};

static void acc_init(struct split_acc *a, unsigned split)
{
    *a = (struct split_acc){.split = split, .pairs = hmap_new(0)};
}

static uint32_t acc_key(const struct split_acc *a, uint32_t fn, uint32_t leaf)
{
    /* NO_NAME + 1 wraps to 0: the slot of "no frames". */
    return (a->split & PQL_SPLIT_FUNCTION ? fn : leaf) + 1;
}

static void acc_add(struct split_acc *a, uint32_t fn, uint32_t leaf, double v)
{
    uint64_t *pslot = NULL;
    uint32_t *sslot = NULL;
    size_t idx;
    if (a->split == (PQL_SPLIT_FUNCTION | PQL_SPLIT_LEAF)) {
        uint64_t k = (uint64_t)fn << 32 | leaf;
        pslot = hmap_put(a->pairs, &k, sizeof(k), NULL);
        idx = (size_t)*pslot;
    } else {
        uint32_t k = acc_key(a, fn, leaf);
        a->slot = grow_zero(a->slot, &a->cap_slot, k, sizeof(*a->slot));
        sslot = &a->slot[k];
        idx = *sslot;
    }
    if (idx == 0) {
        a->e = kb_grow(a->e, &a->cap, a->n + 1, sizeof(*a->e));
        a->e[a->n] = (struct acc_entry){fn, leaf, 0};
        idx = ++a->n;
        if (pslot)
            *pslot = idx;
        else
            *sslot = (uint32_t)idx;
    }
    a->e[idx - 1].v += v;
}

static void acc_reset(struct split_acc *a)
{
    if (a->split == (PQL_SPLIT_FUNCTION | PQL_SPLIT_LEAF)) {
        hmap_free(a->pairs);
        a->pairs = hmap_new(0);
    } else {
        for (size_t i = 0; i < a->n; i++)
            a->slot[acc_key(a, a->e[i].fn, a->e[i].leaf)] = 0;
    }
    a->n = 0;
}

static void acc_free(struct split_acc *a)
{
    hmap_free(a->pairs);
    free(a->slot);
    free(a->e);
}

/* Credit `v` of `stack` to its split keys. */
static void split_add(struct ev *ev, struct sel_cache *c, struct split_acc *a,
                      uint32_t source, uint32_t stack, double v)
{
    const struct expansion *x = expand(ev, c->qi, source, stack);
    uint32_t leaf = NO_NAME;
    if (c->split & PQL_SPLIT_LEAF) {
        if (!name_pass(ev, c, 1, x->leaf))
            return;
        leaf = x->leaf;
    }
    if (!(c->split & PQL_SPLIT_FUNCTION)) {
        acc_add(a, NO_NAME, leaf, v);
        return;
    }
    for (uint32_t i = 0; i < x->n; i++)
        if (name_pass(ev, c, 0, x->ids[i]))
            acc_add(a, x->ids[i], leaf, v);
}

/* Add one profile's pairs that pass the stack filter to `a`. */
static void split_profile(struct ev *ev, struct sel_cache *c,
                          struct split_acc *a,
                          const struct tsdb_profile_view *p)
{
    const struct src_keep *keep = c->filter ? sel_keep(ev, c, p->source) : NULL;
    for (size_t k = 0; k < p->n; k++)
        if (!keep || keep_pair(keep, p->stacks[k]))
            split_add(ev, c, a, p->source, p->stacks[k], (double)p->values[k]);
}

/* `ls` with the split labels of entry i of `a`. */
static enum kb_status split_labels(struct ev *ev, const struct labels *ls,
                                   const struct split_acc *a, size_t i,
                                   struct labels **out)
{
    struct kb_err ke;
    const struct acc_entry *x = &a->e[i];
    labels_builder_reset(ev->lb, ls);
    if (((a->split & PQL_SPLIT_FUNCTION) &&
         labels_builder_set(ev->lb, PQL_LABEL_FUNCTION, ev->names[x->fn],
                            &ke) != KB_OK) ||
        ((a->split & PQL_SPLIT_LEAF) &&
         labels_builder_set(ev->lb, PQL_LABEL_LEAF,
                            x->leaf == NO_NAME ? "" : ev->names[x->leaf],
                            &ke) != KB_OK))
        return ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
    return lb_finish(ev, out);
}

/* ---- Selector evaluation ------------------------------------------------ */

static enum kb_status eval_vector_sel(struct ev *ev, const struct pql_expr *e,
                                      int64_t t, unsigned split,
                                      struct pql_val *out)
{
    struct sel_cache *c;
    enum kb_status st = sel_load(ev, e, split, &c);
    out->type = PQL_TYPE_VECTOR;
    if (st != KB_OK)
        return st;
    int64_t te = mod_time(ev, &e->u.sel.mod, t);
    struct split_acc a;
    acc_init(&a, c->split);
    for (size_t i = 0; i < c->n && st == KB_OK; i++) {
        struct sel_series *s = &c->s[i];
        if ((st = ev_check(ev)) != KB_OK ||
            (st = series_totals(ev, c, s)) != KB_OK)
            break;
        size_t k = first_after(s, te);
        if (k == 0 || series_time(s, k - 1) <= te - ev->o->lookback_ms)
            continue;
        k--;
        if (!s->profile) {
            st = vec_push(ev, &out->vec, labels_dup(s->ls), s->fv[k], s->ft[k]);
        } else if (!c->split) {
            if (s->present[k])
                st = vec_push(ev, &out->vec, labels_dup(s->ls), s->total[k],
                              s->pv[k].t_ms);
        } else {
            acc_reset(&a);
            split_profile(ev, c, &a, &s->pv[k]);
            for (size_t j = 0; j < a.n && st == KB_OK; j++) {
                struct labels *ls;
                if ((st = split_labels(ev, s->ls, &a, j, &ls)) == KB_OK)
                    st = vec_push(ev, &out->vec, ls, a.e[j].v, s->pv[k].t_ms);
            }
        }
    }
    acc_free(&a);
    return st;
}

/* Split points of profile series `s` in [from, to) into `m`. */
static enum kb_status split_range(struct ev *ev, struct sel_cache *c,
                                  const struct sel_series *s, size_t from,
                                  size_t to, struct pql_mat *m)
{
    struct split_acc a;
    acc_init(&a, c->split);
    struct hmap *series = hmap_new(0); /* (fn, leaf) -> m index + 1 */
    enum kb_status st = KB_OK;
    for (size_t k = from; k < to && st == KB_OK; k++) {
        if ((st = ev_check(ev)) != KB_OK)
            break;
        acc_reset(&a);
        split_profile(ev, c, &a, &s->pv[k]);
        for (size_t j = 0; j < a.n && st == KB_OK; j++) {
            uint64_t key = (uint64_t)a.e[j].fn << 32 | a.e[j].leaf;
            bool found;
            uint64_t *slot = hmap_put(series, &key, sizeof(key), &found);
            if (!found) {
                struct labels *ls;
                if ((st = split_labels(ev, s->ls, &a, j, &ls)) != KB_OK)
                    break;
                mat_add(m, ls, true);
                *slot = m->n;
            }
            st = mser_push(ev, &m->s[*slot - 1], s->pv[k].t_ms, a.e[j].v);
        }
    }
    hmap_free(series);
    acc_free(&a);
    return st;
}

static enum kb_status eval_matrix_sel(struct ev *ev, const struct pql_expr *e,
                                      int64_t t, unsigned split,
                                      struct pql_val *out)
{
    struct sel_cache *c;
    enum kb_status st = sel_load(ev, e, split, &c);
    out->type = PQL_TYPE_MATRIX;
    int64_t te = mod_time(ev, &e->u.sel.mod, t);
    out->mat.range_ms = e->u.sel.range_ms;
    out->mat.end_ms = te;
    if (st != KB_OK)
        return st;
    for (size_t i = 0; i < c->n && st == KB_OK; i++) {
        struct sel_series *s = &c->s[i];
        if ((st = ev_check(ev)) != KB_OK ||
            (st = series_totals(ev, c, s)) != KB_OK)
            break;
        size_t from = first_after(s, te - e->u.sel.range_ms);
        size_t to = first_after(s, te);
        if (from >= to)
            continue;
        if (s->profile && c->split) {
            st = split_range(ev, c, s, from, to, &out->mat);
            continue;
        }
        struct pql_mser *m = mat_add(&out->mat, labels_dup(s->ls), s->profile);
        for (size_t k = from; k < to && st == KB_OK; k++) {
            if (s->profile && !s->present[k])
                continue;
            st = mser_push(ev, m, series_time(s, k),
                           s->profile ? s->total[k] : s->fv[k]);
        }
        if (m->n == 0) {
            labels_free(m->ls);
            free(m->p);
            out->mat.n--;
        }
    }
    return st;
}

/* Sums per stack of one symbol space, dense by stack id, with the list of
 * stacks touched (to credit and to clear them). */
struct src_sum {
    uint32_t source;
    double *v;
    uint8_t *seen;
    size_t cap_v, cap_seen;
    uint32_t *touched;
    size_t n_touched, cap_touched;
};

static struct src_sum *src_sum_get(struct src_sum **sums, size_t *n,
                                   uint32_t source)
{
    for (size_t i = 0; i < *n; i++)
        if ((*sums)[i].source == source)
            return &(*sums)[i];
    *sums = kb_reallocarray(*sums, *n + 1, sizeof(**sums));
    (*sums)[*n] = (struct src_sum){.source = source};
    return &(*sums)[(*n)++];
}

static void src_sum_add(struct src_sum *s, uint32_t stack, double v)
{
    if (stack >= s->cap_v) {
        s->v = grow_zero(s->v, &s->cap_v, stack, sizeof(*s->v));
        s->seen = grow_zero(s->seen, &s->cap_seen, stack, sizeof(*s->seen));
    }
    if (!s->seen[stack]) {
        s->seen[stack] = 1;
        s->touched = kb_grow(s->touched, &s->cap_touched, s->n_touched + 1,
                             sizeof(*s->touched));
        s->touched[s->n_touched++] = stack;
    }
    s->v[stack] += v;
}

/* The sums over the window of every (series, split key) of a profile
 * range selector in split mode, without building per-profile points: the
 * pairs of the window are first summed per stack, then each distinct stack
 * is credited to its keys once. *handled is false (and nothing is done)
 * unless every selected series holds profiles. */
enum kb_status ev_profile_window_sums(struct ev *ev, const struct pql_expr *e,
                                      int64_t t, unsigned split,
                                      struct pql_vec *out, bool *handled)
{
    struct sel_cache *c;
    *handled = false;
    enum kb_status st = sel_load(ev, e, split, &c);
    if (st != KB_OK || !c->split)
        return st;
    for (size_t i = 0; i < c->n; i++)
        if (!c->s[i].profile)
            return KB_OK;
    *handled = true;
    int64_t te = mod_time(ev, &e->u.sel.mod, t);
    struct src_sum *sums = NULL;
    size_t n_sums = 0;
    struct split_acc a;
    acc_init(&a, c->split);
    for (size_t i = 0; i < c->n && st == KB_OK; i++) {
        const struct sel_series *s = &c->s[i];
        size_t from = first_after(s, te - e->u.sel.range_ms);
        size_t to = first_after(s, te);
        struct src_sum *sum = NULL;
        for (size_t k = from; k < to && st == KB_OK; k++) {
            const struct tsdb_profile_view *p = &s->pv[k];
            const struct src_keep *keep =
                c->filter ? sel_keep(ev, c, p->source) : NULL;
            if (!sum || sum->source != p->source)
                sum = src_sum_get(&sums, &n_sums, p->source);
            st = ev_check(ev);
            for (size_t j = 0; j < p->n; j++)
                if (!keep || keep_pair(keep, p->stacks[j]))
                    src_sum_add(sum, p->stacks[j], (double)p->values[j]);
        }
        acc_reset(&a);
        for (size_t k = 0; k < n_sums; k++) {
            struct src_sum *x = &sums[k];
            for (size_t j = 0; j < x->n_touched; j++) {
                uint32_t stack = x->touched[j];
                split_add(ev, c, &a, x->source, stack, x->v[stack]);
                x->v[stack] = 0;
                x->seen[stack] = 0;
            }
            x->n_touched = 0;
        }
        for (size_t j = 0; j < a.n && st == KB_OK; j++) {
            struct labels *ls;
            if ((st = split_labels(ev, s->ls, &a, j, &ls)) == KB_OK)
                st = vec_push(ev, out, ls, a.e[j].v, t);
        }
    }
    for (size_t k = 0; k < n_sums; k++) {
        free(sums[k].v);
        free(sums[k].seen);
        free(sums[k].touched);
    }
    free(sums);
    acc_free(&a);
    return st;
}

/* ---- Subqueries --------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static enum kb_status eval_subquery(struct ev *ev, const struct pql_expr *e,
                                    int64_t t, unsigned split,
                                    struct pql_val *out)
{
    const struct pql_subquery *sq = &e->u.subquery;
    int64_t te = mod_time(ev, &sq->mod, t);
    int64_t step = sq->step_ms > 0 ? sq->step_ms : ev->o->subquery_step_ms;
    int64_t lo = te - sq->range_ms;
    int64_t ti = (floor_div(lo, step) + 1) * step; /* first step > lo */
    out->type = PQL_TYPE_MATRIX;
    out->mat.range_ms = sq->range_ms;
    out->mat.end_ms = te;
    struct hmap *idx = hmap_new(0);
    enum kb_status st = KB_OK;
    for (; ti <= te && st == KB_OK; ti += step) {
        struct pql_val v = {0};
        if ((st = ev_check(ev)) != KB_OK ||
            (st = ev_eval(ev, sq->expr, ti, split, &v)) != KB_OK) {
            val_free(ev, &v);
            break;
        }
        for (size_t i = 0; i < v.vec.n && st == KB_OK; i++) {
            full_key(v.vec.e[i].ls, &ev->key);
            bool found;
            uint64_t *slot = hmap_put(idx, ev->key.data, ev->key.len, &found);
            if (!found) {
                mat_add(&out->mat, v.vec.e[i].ls, false);
                v.vec.e[i].ls = NULL;
                *slot = out->mat.n;
            }
            st = mser_push(ev, &out->mat.s[*slot - 1], ti, v.vec.e[i].v);
        }
        val_free(ev, &v);
    }
    hmap_free(idx);
    return st;
}

/* ---- Operators ---------------------------------------------------------- */

/* Apply `op` to two numbers: *out is the value, the result whether a
 * comparison holds (always true for arithmetic). */
static bool arith(enum pql_binop op, double l, double r, double *out)
{
    *out = l;
    switch (op) {
    case PQL_OP_ADD:
        *out = l + r;
        return true;
    case PQL_OP_SUB:
        *out = l - r;
        return true;
    case PQL_OP_MUL:
        *out = l * r;
        return true;
    case PQL_OP_DIV:
        *out = l / r;
        return true;
    case PQL_OP_MOD:
        *out = fmod(l, r);
        return true;
    case PQL_OP_POW:
        *out = pow(l, r);
        return true;
    case PQL_OP_ATAN2:
        *out = atan2(l, r);
        return true;
    case PQL_OP_EQ:
        return l == r;
    case PQL_OP_NE:
        return l != r;
    case PQL_OP_GT:
        return l > r;
    case PQL_OP_LT:
        return l < r;
    case PQL_OP_GE:
        return l >= r;
    case PQL_OP_LE:
        return l <= r;
    case PQL_OP_AND:
    case PQL_OP_OR:
    case PQL_OP_UNLESS:
        break;
    }
    return false;
}

static bool drops_name(enum pql_binop op)
{
    return !pql_binop_is_comparison(op) && !pql_binop_is_set(op);
}

/* vector op scalar (swap: scalar op vector). Takes the elements of `v`. */
static enum kb_status binop_vs(struct ev *ev, const struct pql_binary *b,
                               struct pql_vec *v, double s, bool swap,
                               int64_t t, struct pql_val *out)
{
    enum kb_status st = KB_OK;
    out->type = PQL_TYPE_VECTOR;
    bool cmp = pql_binop_is_comparison(b->op);
    for (size_t i = 0; i < v->n && st == KB_OK; i++) {
        struct pql_elem *x = &v->e[i];
        double l = swap ? s : x->v, r = swap ? x->v : s, res;
        bool keep = arith(b->op, l, r, &res);
        if (cmp && swap)
            res = r;
        if (b->return_bool) {
            res = keep ? 1 : 0;
            keep = true;
        }
        if (!keep)
            continue;
        struct labels *ls = drops_name(b->op) || b->return_bool
                                ? labels_drop_name(x->ls)
                                : labels_dup(x->ls);
        st = vec_push(ev, &out->vec, ls, res, t);
    }
    return st;
}

static enum kb_status binop_set(struct ev *ev, const struct pql_binary *b,
                                struct pql_vec *l, struct pql_vec *r,
                                struct pql_val *out)
{
    struct hmap *rs = hmap_new(r->n), *ls = hmap_new(l->n);
    enum kb_status st = KB_OK;
    out->type = PQL_TYPE_VECTOR;
    for (size_t i = 0; i < r->n; i++) {
        sig_key(r->e[i].ls, b->on, &b->matching, &ev->key);
        hmap_put(rs, ev->key.data, ev->key.len, NULL);
    }
    for (size_t i = 0; i < l->n && st == KB_OK; i++) {
        sig_key(l->e[i].ls, b->on, &b->matching, &ev->key);
        hmap_put(ls, ev->key.data, ev->key.len, NULL);
        bool in_r = hmap_get(rs, ev->key.data, ev->key.len) != NULL;
        if (b->op == PQL_OP_OR || (b->op == PQL_OP_AND) == in_r)
            st = vec_push(ev, &out->vec, labels_dup(l->e[i].ls), l->e[i].v,
                          l->e[i].t);
    }
    for (size_t i = 0; i < r->n && st == KB_OK && b->op == PQL_OP_OR; i++) {
        sig_key(r->e[i].ls, b->on, &b->matching, &ev->key);
        if (!hmap_get(ls, ev->key.data, ev->key.len))
            st = vec_push(ev, &out->vec, labels_dup(r->e[i].ls), r->e[i].v,
                          r->e[i].t);
    }
    hmap_free(rs);
    hmap_free(ls);
    return st;
}

/* The labels of a vector/vector result, Prometheus' resultMetric. */
static enum kb_status result_labels(struct ev *ev, const struct pql_binary *b,
                                    const struct labels *l,
                                    const struct labels *r, struct labels **out)
{
    struct kb_err ke;
    labels_builder_reset(ev->lb, l);
    if (drops_name(b->op) || b->return_bool)
        labels_builder_del(ev->lb, LABEL_NAME);
    if (b->card == PQL_CARD_ONE_TO_ONE) {
        if (b->on) {
            for (size_t i = 0; i < labels_count(l); i++) {
                const char *name = labels_at(l, i)->name;
                bool keep = false;
                for (size_t k = 0; k < b->matching.n && !keep; k++)
                    keep = strcmp(name, b->matching.names[k]) == 0;
                if (!keep)
                    labels_builder_del(ev->lb, name);
            }
        } else {
            for (size_t k = 0; k < b->matching.n; k++)
                labels_builder_del(ev->lb, b->matching.names[k]);
        }
    }
    for (size_t k = 0; k < b->include.n; k++) {
        const char *v = labels_get(r, b->include.names[k]);
        if (labels_builder_set(ev->lb, b->include.names[k], v ? v : "", &ke) !=
            KB_OK)
            return ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
    }
    return lb_finish(ev, out);
}

static enum kb_status binop_vv(struct ev *ev, const struct pql_binary *b,
                               struct pql_vec *lhs, struct pql_vec *rhs,
                               int64_t t, struct pql_val *out)
{
    if (pql_binop_is_set(b->op))
        return binop_set(ev, b, lhs, rhs, out);
    bool swap = b->card == PQL_CARD_ONE_TO_MANY;
    struct pql_vec *l = swap ? rhs : lhs, *r = swap ? lhs : rhs;
    struct hmap *rsig = hmap_new(r->n), *matched = hmap_new(l->n);
    enum kb_status st = KB_OK;
    out->type = PQL_TYPE_VECTOR;
    char t1[128], t2[128];
    for (size_t i = 0; i < r->n && st == KB_OK; i++) {
        sig_key(r->e[i].ls, b->on, &b->matching, &ev->key);
        bool found;
        uint64_t *slot = hmap_put(rsig, ev->key.data, ev->key.len, &found);
        if (found)
            st = ev_fail(ev, PQL_ERR_EXECUTION,
                         "many-to-many matching not allowed: matching labels "
                         "must be unique on one side (found duplicate series "
                         "for the match group on the %s: %s, %s)",
                         swap ? "left-hand side" : "right-hand side",
                         labels_str(r->e[i].ls, t1, sizeof(t1)),
                         labels_str(r->e[*slot - 1].ls, t2, sizeof(t2)));
        *slot = i + 1;
    }
    for (size_t i = 0; i < l->n && st == KB_OK; i++) {
        sig_key(l->e[i].ls, b->on, &b->matching, &ev->key);
        uint64_t *rslot = hmap_get(rsig, ev->key.data, ev->key.len);
        if (!rslot)
            continue;
        const struct pql_elem *re = &r->e[*rslot - 1];
        double fl = swap ? re->v : l->e[i].v, fr = swap ? l->e[i].v : re->v;
        double res;
        bool keep = arith(b->op, fl, fr, &res);
        if (b->return_bool) {
            res = keep ? 1 : 0;
            keep = true;
        }
        if (!keep)
            continue;
        struct labels *ls;
        if ((st = result_labels(ev, b, l->e[i].ls, re->ls, &ls)) != KB_OK)
            break;
        bool dup;
        if (b->card == PQL_CARD_ONE_TO_ONE) {
            hmap_put(matched, ev->key.data, ev->key.len, &dup);
            if (dup)
                st = ev_fail(ev, PQL_ERR_EXECUTION,
                             "multiple matches for labels: many-to-one "
                             "matching must be explicit "
                             "(group_left/group_right)");
        } else {
            full_key(ls, &ev->key2);
            buf_append(&ev->key, "\xfe", 1);
            buf_append(&ev->key, ev->key2.data, ev->key2.len);
            hmap_put(matched, ev->key.data, ev->key.len, &dup);
            if (dup)
                st = ev_fail(ev, PQL_ERR_EXECUTION,
                             "multiple matches for labels: grouping labels "
                             "must ensure unique matches");
        }
        if (st != KB_OK) {
            labels_free(ls);
            break;
        }
        st = vec_push(ev, &out->vec, ls, res, t);
    }
    hmap_free(rsig);
    hmap_free(matched);
    return st;
}

static enum kb_status eval_binary(struct ev *ev, const struct pql_expr *e,
                                  int64_t t, unsigned split,
                                  struct pql_val *out)
{
    const struct pql_binary *b = &e->u.binary;
    struct pql_val l = {0}, r = {0};
    enum kb_status st = ev_eval(ev, b->lhs, t, split, &l);
    if (st == KB_OK)
        st = ev_eval(ev, b->rhs, t, split, &r);
    if (st != KB_OK)
        goto done;
    if (l.type == PQL_TYPE_SCALAR && r.type == PQL_TYPE_SCALAR) {
        out->type = PQL_TYPE_SCALAR;
        bool keep = arith(b->op, l.scalar, r.scalar, &out->scalar);
        if (pql_binop_is_comparison(b->op))
            out->scalar = keep ? 1 : 0;
    } else if (l.type == PQL_TYPE_SCALAR) {
        st = binop_vs(ev, b, &r.vec, l.scalar, true, t, out);
    } else if (r.type == PQL_TYPE_SCALAR) {
        st = binop_vs(ev, b, &l.vec, r.scalar, false, t, out);
    } else {
        st = binop_vv(ev, b, &l.vec, &r.vec, t, out);
    }
done:
    val_free(ev, &l);
    val_free(ev, &r);
    return st;
}

static enum kb_status eval_unary(struct ev *ev, const struct pql_expr *e,
                                 int64_t t, unsigned split, struct pql_val *out)
{
    struct pql_val v = {0};
    enum kb_status st = ev_eval(ev, e->u.unary.expr, t, split, &v);
    if (st != KB_OK || e->u.unary.op == PQL_OP_ADD) {
        *out = v;
        return st;
    }
    if (v.type == PQL_TYPE_SCALAR) {
        *out = v;
        out->scalar = -v.scalar;
        return KB_OK;
    }
    out->type = PQL_TYPE_VECTOR;
    for (size_t i = 0; i < v.vec.n && st == KB_OK; i++)
        st = vec_push(ev, &out->vec, labels_drop_name(v.vec.e[i].ls),
                      -v.vec.e[i].v, t);
    val_free(ev, &v);
    return st;
}

/* ---- Aggregations ------------------------------------------------------- */

struct group {
    struct labels *ls;
    double sum, min, max, mean, m2;
    size_t count;
    size_t *members; /* element indices, for topk, bottomk, quantile */
    size_t n_members, cap_members;
};

static enum kb_status group_labels(struct ev *ev, const struct pql_aggregate *a,
                                   const struct labels *ls, struct labels **out)
{
    struct kb_err ke;
    if (a->without) {
        labels_builder_reset(ev->lb, ls);
        labels_builder_del(ev->lb, LABEL_NAME);
        for (size_t k = 0; k < a->grouping.n; k++)
            labels_builder_del(ev->lb, a->grouping.names[k]);
        return lb_finish(ev, out);
    }
    labels_builder_reset(ev->lb, NULL);
    for (size_t k = 0; k < a->grouping.n; k++) {
        const char *v = labels_get(ls, a->grouping.names[k]);
        if (v &&
            labels_builder_set(ev->lb, a->grouping.names[k], v, &ke) != KB_OK)
            return ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
    }
    return lb_finish(ev, out);
}

/* Order for topk (desc) and bottomk (asc); NaN always last; ties keep
 * the input order. `arg` is the aggregation. */
struct member_order {
    const struct pql_vec *v;
    bool desc;
};

static int member_cmp(const void *pa, const void *pb, void *arg)
{
    const struct member_order *o = arg;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    double a = o->v->e[ia].v, b = o->v->e[ib].v;
    if (isnan(a) || isnan(b)) {
        if (isnan(a) != isnan(b))
            return isnan(a) ? 1 : -1;
    } else if (a != b) {
        return (a < b) == o->desc ? 1 : -1;
    }
    return ia < ib ? -1 : ia > ib;
}

/* `v` as Go's strconv.FormatFloat(v, 'f', -1, 64), the label value
 * count_values writes: the shortest digits that read back as `v`, never in
 * exponent form ("0.00000015", "1000000000000000000000"). `out` holds at
 * least 400 bytes. */
static void format_count_value(double v, char *out, size_t n)
{
    char tmp[JSONW_DOUBLE_STR_MAX];
    jsonw_fmt_double(v, tmp);
    char *e = strchr(tmp, 'e');
    if (!isfinite(v) || !e) {
        snprintf(out, n, "%s", tmp);
        return;
    }
    /* tmp is [-]D[.DDD]e[+-]X: move the point X places. */
    int exp = atoi(e + 1);
    *e = '\0';
    const char *p = tmp;
    size_t len = 0;
    char digits[JSONW_DOUBLE_STR_MAX];
    if (*p == '-')
        out[len++] = *p++;
    size_t nd = 0;
    for (; *p; p++)
        if (*p != '.')
            digits[nd++] = *p;
    int point = 1 + exp; /* digits before the point */
    if (point <= 0) {
        len += (size_t)snprintf(out + len, n - len, "0.");
        for (int i = 0; i < -point && len + 1 < n; i++)
            out[len++] = '0';
        for (size_t i = 0; i < nd && len + 1 < n; i++)
            out[len++] = digits[i];
    } else {
        for (int i = 0; i < point && len + 1 < n; i++)
            out[len++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)point < nd && len + 1 < n) {
            out[len++] = '.';
            for (size_t i = (size_t)point; i < nd && len + 1 < n; i++)
                out[len++] = digits[i];
        }
    }
    out[len] = '\0';
}

/* The split flags of an aggregation's argument, given the flags it is
 * evaluated under: `by` splits by the stack labels it lists (and ends any
 * other split, since it drops those labels); `without` keeps the incoming
 * split but for the stack labels it lists, and never starts one. topk and
 * bottomk keep their elements' labels whatever they group by, so they
 * pass the incoming split on, plus what `by` lists. */
static unsigned child_split(const struct pql_aggregate *a, unsigned split)
{
    unsigned listed = 0;
    for (size_t k = 0; k < a->grouping.n; k++)
        listed |= stack_label(a->grouping.names[k]);
    if (a->op == PQL_AGG_TOPK || a->op == PQL_AGG_BOTTOMK)
        return split | (a->without ? 0 : listed);
    return a->without ? split & ~listed : listed;
}

static enum kb_status agg_emit(struct ev *ev, const struct pql_aggregate *a,
                               struct group *g, const struct pql_vec *v,
                               double param, int64_t t, struct pql_val *out)
{
    double x = 0;
    switch (a->op) {
    case PQL_AGG_SUM:
        x = g->sum;
        break;
    case PQL_AGG_AVG:
        x = g->sum / (double)g->count;
        break;
    case PQL_AGG_MIN:
        x = g->min;
        break;
    case PQL_AGG_MAX:
        x = g->max;
        break;
    case PQL_AGG_COUNT:
    case PQL_AGG_COUNT_VALUES:
        x = (double)g->count;
        break;
    case PQL_AGG_GROUP:
        x = 1;
        break;
    case PQL_AGG_STDDEV:
        x = sqrt(g->m2 / (double)g->count);
        break;
    case PQL_AGG_STDVAR:
        x = g->m2 / (double)g->count;
        break;
    case PQL_AGG_QUANTILE: {
        double *vals = kb_calloc(g->n_members + 1, sizeof(double));
        for (size_t i = 0; i < g->n_members; i++)
            vals[i] = v->e[g->members[i]].v;
        x = fn_quantile(param, vals, g->n_members);
        free(vals);
        break;
    }
    case PQL_AGG_TOPK:
    case PQL_AGG_BOTTOMK: {
        struct member_order o = {v, a->op == PQL_AGG_TOPK};
        qsort_r(g->members, g->n_members, sizeof(size_t), member_cmp, &o);
        size_t k = param >= (double)g->n_members ? g->n_members : (size_t)param;
        enum kb_status st = KB_OK;
        for (size_t i = 0; i < k && st == KB_OK; i++) {
            const struct pql_elem *e = &v->e[g->members[i]];
            st = vec_push(ev, &out->vec, labels_dup(e->ls), e->v, t);
        }
        return st;
    }
    }
    struct labels *ls = g->ls;
    g->ls = NULL;
    return vec_push(ev, &out->vec, ls, x, t);
}

static enum kb_status eval_aggregate(struct ev *ev, const struct pql_expr *e,
                                     int64_t t, unsigned split,
                                     struct pql_val *out)
{
    const struct pql_aggregate *a = &e->u.agg;
    struct pql_val v = {0}, p = {0};
    struct hmap *idx = hmap_new(0);
    struct group *g = NULL;
    size_t n_g = 0, cap_g = 0;
    double param = 0;
    out->type = PQL_TYPE_VECTOR;
    enum kb_status st = KB_OK;
    if (a->param && (st = ev_eval(ev, a->param, t, 0, &p)) != KB_OK)
        goto done;
    param = p.scalar;
    if (a->op == PQL_AGG_COUNT_VALUES &&
        !labels_name_valid(p.str, strlen(p.str))) {
        st = ev_fail(ev, PQL_ERR_EXECUTION, "invalid label name \"%s\"", p.str);
        goto done;
    }
    if ((a->op == PQL_AGG_TOPK || a->op == PQL_AGG_BOTTOMK) && !(param >= 1))
        goto done; /* k < 1 or NaN: nothing */
    if ((st = ev_eval(ev, a->expr, t, child_split(a, split), &v)) != KB_OK)
        goto done;
    for (size_t i = 0; i < v.vec.n && st == KB_OK; i++) {
        const struct pql_elem *x = &v.vec.e[i];
        struct labels *gl;
        if ((st = ev_check(ev)) != KB_OK ||
            (st = group_labels(ev, a, x->ls, &gl)) != KB_OK)
            break;
        if (a->op == PQL_AGG_COUNT_VALUES) {
            char val[400];
            struct kb_err ke;
            format_count_value(x->v, val, sizeof(val));
            labels_builder_reset(ev->lb, gl);
            labels_free(gl);
            if (labels_builder_set(ev->lb, p.str, val, &ke) != KB_OK) {
                st = ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
                break;
            }
            if ((st = lb_finish(ev, &gl)) != KB_OK)
                break;
        }
        full_key(gl, &ev->key);
        bool found;
        uint64_t *slot = hmap_put(idx, ev->key.data, ev->key.len, &found);
        if (!found) {
            g = kb_grow(g, &cap_g, n_g + 1, sizeof(*g));
            g[n_g] = (struct group){.ls = gl, .min = x->v, .max = x->v};
            *slot = ++n_g;
        } else {
            labels_free(gl);
        }
        struct group *gr = &g[*slot - 1];
        gr->sum += x->v;
        gr->count++;
        if (x->v < gr->min || isnan(gr->min))
            gr->min = x->v;
        if (x->v > gr->max || isnan(gr->max))
            gr->max = x->v;
        double delta = x->v - gr->mean;
        gr->mean += delta / (double)gr->count;
        gr->m2 += delta * (x->v - gr->mean);
        gr->members = kb_grow(gr->members, &gr->cap_members, gr->n_members + 1,
                              sizeof(size_t));
        gr->members[gr->n_members++] = i;
    }
    for (size_t i = 0; i < n_g && st == KB_OK; i++)
        st = agg_emit(ev, a, &g[i], &v.vec, param, t, out);
done:
    for (size_t i = 0; i < n_g; i++) {
        labels_free(g[i].ls);
        free(g[i].members);
    }
    free(g);
    hmap_free(idx);
    val_free(ev, &v);
    val_free(ev, &p);
    return st;
}

/* ---- The walk ----------------------------------------------------------- */

enum kb_status ev_eval(struct ev *ev, const struct pql_expr *e, int64_t t,
                       unsigned split, struct pql_val *out)
{
    memset(out, 0, sizeof(*out));
    out->type = e->type;
    enum kb_status st = ev_check(ev);
    if (st != KB_OK)
        return st;
    switch (e->kind) {
    case PQL_NUMBER:
        out->scalar = e->u.number;
        return KB_OK;
    case PQL_STRING:
        out->str = e->u.string;
        return KB_OK;
    case PQL_VECTOR_SEL:
        return eval_vector_sel(ev, e, t, split, out);
    case PQL_MATRIX_SEL:
        return eval_matrix_sel(ev, e, t, split, out);
    case PQL_SUBQUERY:
        return eval_subquery(ev, e, t, split, out);
    case PQL_PAREN:
        return ev_eval(ev, e->u.paren, t, split, out);
    case PQL_AGGREGATE:
        return eval_aggregate(ev, e, t, split, out);
    case PQL_UNARY:
        st = eval_unary(ev, e, t, split, out);
        break;
    case PQL_BINARY:
        st = eval_binary(ev, e, t, split, out);
        break;
    case PQL_CALL:
        st = fn_call(ev, e, t, split, out);
        break;
    }
    if (st == KB_OK && out->type == PQL_TYPE_VECTOR)
        st = vec_check_unique(ev, &out->vec);
    return st;
}

/* Record the span of times every selector under `e` reads when `e` is
 * evaluated at times in [s, en]. */
static void walk_range(struct ev *ev, const struct pql_expr *e, int64_t s,
                       int64_t en)
{
    switch (e->kind) {
    case PQL_VECTOR_SEL:
    case PQL_MATRIX_SEL: {
        const struct pql_selector *sel = &e->u.sel;
        int64_t lo = mod_time(ev, &sel->mod, s);
        lo -= sel->range_ms > 0 ? sel->range_ms : ev->o->lookback_ms;
        ev->spans = kb_grow(ev->spans, &ev->cap_spans, ev->n_spans + 1,
                            sizeof(*ev->spans));
        ev->spans[ev->n_spans++] =
            (struct span){lo, mod_time(ev, &sel->mod, en), e->id};
        return;
    }
    case PQL_SUBQUERY: {
        const struct pql_subquery *sq = &e->u.subquery;
        int64_t lo = mod_time(ev, &sq->mod, s) - sq->range_ms;
        walk_range(ev, sq->expr, lo, mod_time(ev, &sq->mod, en));
        return;
    }
    case PQL_PAREN:
        walk_range(ev, e->u.paren, s, en);
        return;
    case PQL_UNARY:
        walk_range(ev, e->u.unary.expr, s, en);
        return;
    case PQL_BINARY:
        walk_range(ev, e->u.binary.lhs, s, en);
        walk_range(ev, e->u.binary.rhs, s, en);
        return;
    case PQL_AGGREGATE:
        walk_range(ev, e->u.agg.expr, s, en);
        if (e->u.agg.param)
            walk_range(ev, e->u.agg.param, s, en);
        return;
    case PQL_CALL:
        for (size_t i = 0; i < e->u.call.n_args; i++)
            walk_range(ev, e->u.call.args[i], s, en);
        return;
    case PQL_NUMBER:
    case PQL_STRING:
        return;
    }
}

static int span_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct span *)a)->lo, y = ((const struct span *)b)->lo;
    return x < y ? -1 : x > y;
}

/* Open one querier per group of overlapping selector spans (spans less
 * than QUERIER_GAP apart share one), so that `x / x offset 1w` reads two
 * short stretches of data, not the week between them. Every querier holds
 * the database's read lock; a thread may hold it several times. */
static void open_queriers(struct ev *ev, struct tsdb *db)
{
    if (ev->n_spans > 1)
        qsort(ev->spans, ev->n_spans, sizeof(*ev->spans), span_cmp);
    for (size_t i = 0; i < ev->n_spans;) {
        int64_t lo = ev->spans[i].lo, hi = ev->spans[i].hi;
        size_t k = i;
        for (; k < ev->n_spans && ev->spans[k].lo <= hi + QUERIER_GAP; k++)
            hi = ev->spans[k].hi > hi ? ev->spans[k].hi : hi;
        ev->qs = kb_reallocarray(ev->qs, ev->n_qs + 1, sizeof(*ev->qs));
        ev->qs[ev->n_qs] = tsdb_querier_open(db, lo, hi);
        for (; i < k; i++)
            ev->node_q[ev->spans[i].node] = (uint32_t)ev->n_qs;
        ev->n_qs++;
    }
}

/* ---- Results ------------------------------------------------------------ */

static int series_cmp(const void *a, const void *b)
{
    return labels_compare(((const struct pql_series *)a)->labels,
                          ((const struct pql_series *)b)->labels);
}

/* Move the value of one step at `t` into the result; `idx` maps labels to
 * result series (range queries). */
static enum kb_status result_add(struct ev *ev, struct pql_result *r,
                                 struct hmap *idx, struct pql_val *v, int64_t t,
                                 size_t *cap)
{
    struct pql_elem scalar = {.v = v->scalar};
    struct pql_elem *e = v->vec.e;
    size_t n = v->vec.n;
    if (v->type == PQL_TYPE_SCALAR) {
        scalar.ls = labels_new_empty();
        e = &scalar;
        n = 1;
    }
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        full_key(e[i].ls, &ev->key);
        bool found;
        uint64_t *slot = hmap_put(idx, ev->key.data, ev->key.len, &found);
        if (!found) {
            r->series =
                kb_grow(r->series, cap, r->n_series + 1, sizeof(*r->series));
            r->series[r->n_series] = (struct pql_series){.labels = e[i].ls};
            e[i].ls = NULL;
            *slot = ++r->n_series;
        }
        struct pql_series *s = &r->series[*slot - 1];
        if ((st = ev_samples(ev, 1)) != KB_OK)
            break;
        s->points =
            kb_reallocarray(s->points, s->n_points + 1, sizeof(*s->points));
        s->points[s->n_points++] = (struct pql_point){t, e[i].v};
    }
    labels_free(scalar.ls);
    return st;
}

/* Turn the value of an instant query into the result. */
static void result_instant(struct pql_result *r, struct pql_val *v, int64_t t)
{
    r->type = v->type;
    r->t_ms = t;
    r->scalar = v->scalar;
    if (v->type == PQL_TYPE_STRING)
        r->string = kb_strdup(v->str);
    if (v->type == PQL_TYPE_VECTOR) {
        r->series = kb_calloc(v->vec.n + 1, sizeof(*r->series));
        for (size_t i = 0; i < v->vec.n; i++) {
            struct pql_series *s = &r->series[r->n_series++];
            s->labels = v->vec.e[i].ls;
            v->vec.e[i].ls = NULL;
            s->points = kb_malloc(sizeof(*s->points));
            s->points[0] = (struct pql_point){t, v->vec.e[i].v};
            s->n_points = 1;
        }
    }
    if (v->type == PQL_TYPE_MATRIX) {
        r->series = kb_calloc(v->mat.n + 1, sizeof(*r->series));
        for (size_t i = 0; i < v->mat.n; i++) {
            struct pql_series *s = &r->series[r->n_series++];
            s->labels = v->mat.s[i].ls;
            s->points = v->mat.s[i].p;
            s->n_points = v->mat.s[i].n;
            v->mat.s[i].ls = NULL;
            v->mat.s[i].p = NULL;
            v->mat.s[i].n = 0;
        }
        qsort(r->series, r->n_series, sizeof(*r->series), series_cmp);
    }
}

static void ev_free(struct ev *ev)
{
    for (size_t i = 0; i < ev->n_nodes; i++) {
        sel_cache_free(ev->sel[i]);
        kb_regex_free(ev->re[i]);
    }
    free(ev->sel);
    free(ev->re);
    labels_builder_free(ev->lb);
    buf_free(&ev->key);
    buf_free(&ev->key2);
    for (size_t i = 0; i < ev->n_srcs; i++)
        free(ev->srcs[i].idx);
    free(ev->srcs);
    free(ev->exp);
    hmap_free(ev->name_idx);
    free(ev->names);
    arena_free(ev->arena);
    for (size_t i = 0; i < ev->n_qs; i++)
        tsdb_querier_close(ev->qs[i]);
    free(ev->qs);
    free(ev->node_q);
    free(ev->spans);
}

enum kb_status pql_eval(struct tsdb *db, const struct pql_ast *ast,
                        int64_t start_ms, int64_t end_ms, int64_t step_ms,
                        const struct pql_engine_options *opts,
                        struct pql_result **out, struct pql_error *err)
{
    struct pql_engine_options defaults;
    if (!opts) {
        pql_engine_options_default(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    memset(err, 0, sizeof(*err));
    const struct pql_expr *root = pql_ast_root(ast);
    struct ev ev = {.o = opts, .start = start_ms, .end = end_ms, .err = err};
    if (start_ms > end_ms)
        return ev_fail(&ev, PQL_ERR_BAD_DATA,
                       "end timestamp must not be before start time");
    if (step_ms < 0 || (step_ms == 0 && start_ms != end_ms))
        return ev_fail(&ev, PQL_ERR_BAD_DATA,
                       "zero or negative query resolution step widths are "
                       "not accepted. Try a positive integer");
    if (start_ms < -PQL_TIME_MAX_MS || end_ms > PQL_TIME_MAX_MS)
        return ev_fail(&ev, PQL_ERR_BAD_DATA,
                       "time out of range: at most %lld ms from the epoch",
                       (long long)PQL_TIME_MAX_MS);
    uint64_t steps =
        step_ms > 0 ? (uint64_t)(end_ms - start_ms) / (uint64_t)step_ms + 1 : 1;
    if (opts->max_steps > 0 && steps > opts->max_steps)
        return ev_fail(&ev, PQL_ERR_BAD_DATA,
                       "exceeded maximum resolution of %zu points per "
                       "timeseries. Try decreasing the query resolution "
                       "(?step=XX)",
                       opts->max_steps);
    if (step_ms > 0 && root->type != PQL_TYPE_SCALAR &&
        root->type != PQL_TYPE_VECTOR)
        return ev_fail(&ev, PQL_ERR_BAD_DATA,
                       "invalid expression type \"%s\" for range query, "
                       "must be Scalar or instant Vector",
                       pql_type_str(root->type));
    clock_gettime(CLOCK_MONOTONIC, &ev.deadline);
    ev.deadline.tv_sec += opts->timeout_ms / 1000;
    ev.deadline.tv_nsec += (opts->timeout_ms % 1000) * 1000000;
    if (ev.deadline.tv_nsec >= 1000000000) {
        ev.deadline.tv_sec++;
        ev.deadline.tv_nsec -= 1000000000;
    }
    ev.checks = CHECK_EVERY - 1; /* look at the clock on the first check */
    ev.n_nodes = pql_ast_node_count(ast);
    ev.sel = kb_calloc(ev.n_nodes + 1, sizeof(*ev.sel));
    ev.re = kb_calloc(ev.n_nodes + 1, sizeof(*ev.re));
    ev.lb = labels_builder_new();
    buf_init(&ev.key, BUF_NO_LIMIT);
    buf_init(&ev.key2, BUF_NO_LIMIT);
    ev.name_idx = hmap_new(0);
    ev.arena = arena_new(0);
    ev.node_q = kb_calloc(ev.n_nodes + 1, sizeof(*ev.node_q));
    walk_range(&ev, root, start_ms, end_ms);
    open_queriers(&ev, db);

    struct pql_result *r = kb_calloc(1, sizeof(*r));
    enum kb_status st = KB_OK;
    if (step_ms == 0) {
        struct pql_val v = {0};
        st = ev_eval(&ev, root, start_ms, 0, &v);
        if (st == KB_OK)
            result_instant(r, &v, start_ms);
        val_free(&ev, &v);
    } else {
        struct hmap *idx = hmap_new(0);
        size_t cap = 0;
        r->type = PQL_TYPE_MATRIX;
        for (int64_t t = start_ms; t <= end_ms && st == KB_OK; t += step_ms) {
            struct pql_val v = {0};
            st = ev_eval(&ev, root, t, 0, &v);
            if (st == KB_OK)
                st = result_add(&ev, r, idx, &v, t, &cap);
            val_free(&ev, &v);
            if (end_ms - t < step_ms)
                break;
        }
        hmap_free(idx);
        if (r->n_series > 1)
            qsort(r->series, r->n_series, sizeof(*r->series), series_cmp);
    }
    ev_free(&ev);
    if (st != KB_OK) {
        pql_result_free(r);
        if (err->type == PQL_ERR_NONE) /* a status without ev_fail */
            ev_fail(&ev, PQL_ERR_INTERNAL, "internal error (%s)",
                    kb_status_str(st));
        return st;
    }
    *out = r;
    return KB_OK;
}

static enum kb_status parse(const char *text, size_t len, struct pql_ast **ast,
                            struct pql_error *err)
{
    memset(err, 0, sizeof(*err));
    if (pql_parse(text, len, NULL, ast, &err->err) != KB_OK) {
        err->type = PQL_ERR_BAD_DATA;
        return err->err.status;
    }
    return KB_OK;
}

enum kb_status pql_query_instant(struct tsdb *db, const char *text, size_t len,
                                 int64_t t_ms,
                                 const struct pql_engine_options *opts,
                                 struct pql_result **out, struct pql_error *err)
{
    struct pql_ast *ast = NULL;
    *out = NULL;
    enum kb_status st = parse(text, len, &ast, err);
    if (st == KB_OK)
        st = pql_eval(db, ast, t_ms, t_ms, 0, opts, out, err);
    pql_ast_free(ast);
    return st;
}

enum kb_status pql_query_range(struct tsdb *db, const char *text, size_t len,
                               int64_t start_ms, int64_t end_ms,
                               int64_t step_ms,
                               const struct pql_engine_options *opts,
                               struct pql_result **out, struct pql_error *err)
{
    struct pql_ast *ast = NULL;
    *out = NULL;
    if (step_ms <= 0) {
        memset(err, 0, sizeof(*err));
        err->type = PQL_ERR_BAD_DATA;
        return kb_errf(&err->err, KB_ERR_INVALID,
                       "zero or negative query resolution step widths are "
                       "not accepted. Try a positive integer");
    }
    enum kb_status st = parse(text, len, &ast, err);
    if (st == KB_OK)
        st = pql_eval(db, ast, start_ms, end_ms, step_ms, opts, out, err);
    pql_ast_free(ast);
    return st;
}
