/* web/api_series.c: Prometheus' metadata endpoints over the database:
 *
 *   GET|POST /api/v1/series?match[]=SEL&...&start=&end=&limit=
 *       the label sets of the series that match any selector:
 *       [{"__name__":"...","job":"..."}, ...]
 *   GET|POST /api/v1/labels?match[]=&start=&end=&limit=
 *       the label names of those series (every series without match[]):
 *       ["__name__","instance","job"]
 *   GET /api/v1/label/<name>/values?match[]=&start=&end=&limit=
 *       the values of label <name> on those series: ["api","db"]
 *
 * Design. Each match[] is a series selector (tsdb_matchers_parse: a name,
 * an alias such as `cpu`, braces with = != =~ !~). As in Prometheus, a
 * selector needs one matcher that does not match the empty string, the
 * selectors' results are united, series come sorted by their labels and
 * names and values sorted bytewise without duplicates. start and end
 * default to Prometheus' MinTime and MaxTime; a series counts when it has
 * data in [start, end]. limit > 0 keeps the first `limit` entries.
 *
 * The stack matchers __function__ and __leaf__ choose samples, not
 * series: here they are set aside, and a selector that had any keeps only
 * profile series (a profile series may hold a stack that matches; a float
 * series never does). This keeps a Grafana variable query such as
 * label_values(cpu{__function__=~"main.*"}, job) working.
 *
 * Everything is read through one querier, opened after the parameters
 * have been checked and closed before the reply is finished; the label
 * strings written are the querier's.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/regex.h"
#include "base/text.h"
#include "tsdb/tsdb.h"
#include "web/params.h"

/* One match[] selector, stack matchers removed. */
struct match_set {
    struct tsdb_matcher *ms;
    size_t n;
    bool profiles_only; /* it had stack matchers */
};

/* What the three endpoints share: the selectors, the time range and the
 * limit, then the querier and the selected series. */
struct meta_query {
    struct match_set *sets;
    size_t n_sets;
    int64_t start, end;
    size_t limit;
    struct tsdb_querier *q;
    uint64_t *refs;
    size_t n_refs;
};

static bool is_stack_label(const char *name)
{
    return strcmp(name, "__function__") == 0 || strcmp(name, "__leaf__") == 0;
}

/* Check the selector's matchers and set its stack matchers aside. */
static bool prepare_set(struct match_set *set)
{
    bool nonempty = false;
    size_t keep = 0;
    for (size_t i = 0; i < set->n; i++) {
        struct tsdb_matcher *m = &set->ms[i];
        nonempty = nonempty || !tsdb_matcher_matches(m, "");
        if (is_stack_label(m->name)) {
            set->profiles_only = true;
            tsdb_matcher_free(m);
            continue;
        }
        set->ms[keep++] = *m;
    }
    set->n = keep;
    return nonempty;
}

static void meta_free(struct meta_query *mq)
{
    for (size_t i = 0; i < mq->n_sets; i++)
        tsdb_matchers_free(mq->sets[i].ms, mq->sets[i].n);
    free(mq->sets);
    free(mq->refs);
    tsdb_querier_close(mq->q);
}

/* Parse limit, start, end and match[] into `mq` (in Prometheus' order, so
 * that the same error comes first); false after replying an error. */
static bool parse_params(struct web_request *rq, struct meta_query *mq)
{
    if (!web_limit_param(rq, &mq->limit) ||
        !web_time_param(rq, "start", WEB_MIN_TIME_MS, &mq->start) ||
        !web_time_param(rq, "end", WEB_MAX_TIME_MS, &mq->end))
        return false;
    size_t n = 0;
    while (web_param_at(rq, "match[]", n) != NULL)
        n++;
    mq->sets = kb_calloc(n + 1, sizeof(*mq->sets));
    for (size_t i = 0; i < n; i++) {
        struct match_set *set = &mq->sets[mq->n_sets];
        struct kb_err err;
        if (tsdb_matchers_parse(web_param_at(rq, "match[]", i), &set->ms,
                                &set->n, &err) != KB_OK) {
            web_reply_invalid_param(rq, "match[]", err.msg);
            return false;
        }
        mq->n_sets++;
        if (!prepare_set(set)) {
            web_reply_invalid_param(rq, "match[]",
                                    "vector selector must contain at least "
                                    "one non-empty matcher");
            return false;
        }
    }
    return true;
}

static int ref_cmp(const void *a, const void *b, void *ctx)
{
    struct tsdb_querier *q = ctx;
    return labels_compare(tsdb_querier_labels(q, *(const uint64_t *)a),
                          tsdb_querier_labels(q, *(const uint64_t *)b));
}

/* Select the series of every set (all series when there is none) into
 * mq->refs, sorted by labels, without duplicates; false after replying
 * an error. */
static bool select_series(struct web_request *rq, struct tsdb *db,
                          struct meta_query *mq)
{
    mq->q = tsdb_querier_open(db, mq->start, mq->end);
    struct match_set all = {0};
    size_t n_sets = mq->n_sets > 0 ? mq->n_sets : 1;
    size_t cap = 0;
    for (size_t s = 0; s < n_sets; s++) {
        const struct match_set *set = mq->n_sets > 0 ? &mq->sets[s] : &all;
        uint64_t *refs;
        size_t n;
        struct kb_err err;
        enum kb_status st =
            tsdb_querier_select(mq->q, set->ms, set->n, &refs, &n, &err);
        if (st != KB_OK) {
            web_reply_error(rq, WEB_ERR_INTERNAL, "selecting series: %s",
                            err.msg);
            return false;
        }
        mq->refs =
            kb_grow(mq->refs, &cap, mq->n_refs + n + 1, sizeof(*mq->refs));
        for (size_t i = 0; i < n; i++)
            if (!set->profiles_only ||
                tsdb_querier_kind(mq->q, refs[i]) == TSDB_PROFILES)
                mq->refs[mq->n_refs++] = refs[i];
        free(refs);
    }
    if (mq->n_refs > 1)
        qsort_r(mq->refs, mq->n_refs, sizeof(*mq->refs), ref_cmp, mq->q);
    size_t u = 0;
    for (size_t i = 0; i < mq->n_refs; i++)
        if (u == 0 || mq->refs[u - 1] != mq->refs[i])
            mq->refs[u++] = mq->refs[i];
    mq->n_refs = u;
    return true;
}

/* Parameters, database and selection for a handler; false after replying
 * an error. */
static bool meta_run(struct web_request *rq, struct meta_query *mq)
{
    if (!parse_params(rq, mq))
        return false;
    struct tsdb *db = web_db(rq);
    return db != NULL && select_series(rq, db, mq);
}

/* Finish the reply, or replace it with a 500 if reading the stored data
 * failed (a damaged block: Kiln's failure, not the request's). */
static void meta_finish(struct web_request *rq, struct meta_query *mq)
{
    struct kb_err err;
    if (tsdb_querier_error(mq->q, &err) != KB_OK)
        web_reply_error(rq, WEB_ERR_INTERNAL, "reading stored series: %s",
                        err.msg);
    else
        web_json_end(rq);
}

void web_handle_series(struct web_request *rq)
{
    struct meta_query mq = {0};
    if (web_param(rq, "match[]") == NULL) {
        web_reply_error(rq, WEB_ERR_BAD_DATA, "no match[] parameter provided");
        goto done;
    }
    if (!meta_run(rq, &mq))
        goto done;
    size_t n = mq.limit > 0 && mq.limit < mq.n_refs ? mq.limit : mq.n_refs;
    struct jsonw *w = web_json_begin(rq);
    jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        const struct labels *ls = tsdb_querier_labels(mq.q, mq.refs[i]);
        jsonw_object_begin(w);
        for (size_t k = 0; k < labels_count(ls); k++) {
            const struct label *l = labels_at(ls, k);
            jsonw_keyn(w, l->name, l->name_len);
            jsonw_stringn(w, l->value, l->value_len);
        }
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    meta_finish(rq, &mq);
done:
    meta_free(&mq);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort `strs`, drop duplicates, and write at most `limit` (0: all) as a
 * JSON array of strings. */
static void put_string_set(struct web_request *rq, const char **strs, size_t n,
                           size_t limit)
{
    if (n > 1)
        qsort(strs, n, sizeof(*strs), str_cmp);
    struct jsonw *w = web_json_begin(rq);
    jsonw_array_begin(w);
    size_t written = 0;
    for (size_t i = 0; i < n && (limit == 0 || written < limit); i++) {
        if (i > 0 && strcmp(strs[i - 1], strs[i]) == 0)
            continue;
        jsonw_string(w, strs[i]);
        written++;
    }
    jsonw_array_end(w);
}

void web_handle_labels(struct web_request *rq)
{
    struct meta_query mq = {0};
    const char **names = NULL;
    size_t n = 0, cap = 0;
    if (!meta_run(rq, &mq))
        goto done;
    for (size_t i = 0; i < mq.n_refs; i++) {
        const struct labels *ls = tsdb_querier_labels(mq.q, mq.refs[i]);
        size_t count = labels_count(ls);
        names = kb_grow(names, &cap, n + count + 1, sizeof(*names));
        for (size_t k = 0; k < count; k++)
            names[n++] = labels_at(ls, k)->name;
    }
    put_string_set(rq, names, n, mq.limit);
    meta_finish(rq, &mq);
done:
    free(names);
    meta_free(&mq);
}

/* The <name> of /api/v1/label/<name>/values, from the path after the
 * prefix: its length, or false if the path has another shape. */
static bool label_path_name(const char *rest, size_t *n)
{
    static const char suffix[] = "/values";
    size_t len = strlen(rest), sl = sizeof(suffix) - 1;
    if (len <= sl || strcmp(rest + len - sl, suffix) != 0 ||
        memchr(rest, '/', len - sl) != NULL)
        return false;
    *n = len - sl;
    return true;
}

void web_handle_label_values(struct web_request *rq)
{
    struct meta_query mq = {0};
    const char **values = NULL;
    size_t n = 0, name_len;
    char name[LABEL_NAME_MAX + 1];
    const char *rest = web_path_rest(rq);
    if (!label_path_name(rest, &name_len)) {
        /* Prometheus' router knows only /label/<name>/values. */
        web_reply_text(rq, 404, "404 page not found\n");
        goto done;
    }
    if (!labels_name_valid(rest, name_len)) {
        char ex[KB_EXCERPT_MAX];
        web_reply_error(rq, WEB_ERR_BAD_DATA, "invalid label name: \"%s\"",
                        kb_excerpt(ex, sizeof(ex), rest, name_len));
        goto done;
    }
    memcpy(name, rest, name_len);
    name[name_len] = '\0';
    if (!meta_run(rq, &mq))
        goto done;
    values = kb_calloc(mq.n_refs + 1, sizeof(*values));
    for (size_t i = 0; i < mq.n_refs; i++) {
        const char *v = labels_get(tsdb_querier_labels(mq.q, mq.refs[i]), name);
        if (v != NULL)
            values[n++] = v;
    }
    put_string_set(rq, values, n, mq.limit);
    meta_finish(rq, &mq);
done:
    free(values);
    meta_free(&mq);
}
