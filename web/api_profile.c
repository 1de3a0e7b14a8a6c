/* web/api_profile.c: GET|POST /api/v1/profile, the merged profile of a
 * selector over a time range, as a flame-graph tree (JSON), pprof,
 * collapsed stacks or SVG; and the selection that /api/v1/diff shares.
 *
 * Parameters: query (a selector, PromQL syntax with the short aliases:
 * cpu{job="api"}), start and end (as Prometheus reads them, web/params.h;
 * default end = now, start = end - 1h), format
 * (json|pprof|collapsed|svg, default json) and max_nodes (json and svg:
 * at most this many nodes, the rest folded into "other" nodes; default
 * 1024).
 *
 * Design. The selector is parsed by tsdb_matchers_parse; the stack
 * matchers __function__ and __leaf__ (DESIGN.md section 3) are no series
 * labels, so they are taken out of the matcher list and applied to the
 * merged profile as a focus filter (pprof_filter_stacks: each regex runs
 * once per distinct function name). The rest select series in a querier
 * over [start, end], which may read downsampled copies (merges over them
 * are exact). The selected profile series must all be of one type (their
 * __name__), else 400 naming the types; float series are ignored. Their
 * profiles are merged (tsdb_querier_merge) and the querier is closed
 * before any output is made, so the database's read lock is held only for
 * the merge.
 *
 * No data is not an error (as Pyroscope answers): the reply is an empty
 * profile, with the type taken from the selector's __name__ when it names
 * one. Limits: MAX_SERIES selected series, MAX_NODES_LIMIT for max_nodes,
 * the JSON tree's depth (deeper paths are folded into "other" nodes, see
 * pprof_flame_json_max_depth), and WEB_REPLY_MAX for the reply.
 *
 * Ownership: the query result (struct web_profile_query) owns its merged
 * profile and type string; the tree and output buffers are freed here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/regex.h"
#include "base/timefmt.h"
#include "pprof/flame.h"
#include "tsdb/tsdb.h"
#include "web/params.h"

#define DEFAULT_RANGE_MS (60 * 60 * 1000)
#define MAX_SERIES 10000
#define DEFAULT_MAX_NODES 1024
#define MAX_NODES_LIMIT 100000
/* Nesting of the tree inside the envelope: {"data":{"tree": ... */
#define TREE_NESTING 2

/* The name of a profile type a matcher pins (__name__="..."), or NULL. */
static const char *pinned_type(const struct tsdb_matcher *ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ms[i].type == TSDB_MATCH_EQ &&
            strcmp(ms[i].name, "__name__") == 0) {
            const char *full = tsdb_type_alias(ms[i].value);
            return full ? full : ms[i].value;
        }
    return NULL;
}

/* An empty profile of type `type` ("<profile>:<type>:<unit>:<period
 * type>:<period unit>"); when `type` is NULL or not one, its one sample
 * type is unnamed. */
static struct pprof_profile *empty_profile(const char *type)
{
    struct pprof_profile *p = pprof_new();
    const char *part[5] = {"", "", "", "", ""};
    size_t len[5] = {0};
    const char *s = type ? type : "";
    size_t n = 0;
    for (; n < 5; n++) {
        const char *colon = strchr(s, ':');
        part[n] = s;
        len[n] = colon ? (size_t)(colon - s) : strlen(s);
        if (colon == NULL)
            break;
        s = colon + 1;
    }
    if (n != 4)
        memset(len, 0, sizeof(len));
    pprof_add_sample_type(p, pprof_intern(p, part[1], len[1]),
                          pprof_intern(p, part[2], len[2]));
    p->period_type.type = pprof_intern(p, part[3], len[3]);
    p->period_type.unit = pprof_intern(p, part[4], len[4]);
    return p;
}

/* Move the stack matchers of ms[0..*n) behind the series matchers (whose
 * count *n becomes), describing them in `stack` (room for *n); returns
 * how many there are. Order is kept within each group. */
static size_t split_stack_matchers(struct tsdb_matcher *ms, size_t *n,
                                   struct pprof_stack_matcher *stack)
{
    struct tsdb_matcher *all = kb_malloc((*n + 1) * sizeof(*all));
    memcpy(all, ms, *n * sizeof(*all));
    size_t n_series = 0, n_stack = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < *n; i++) {
            bool fn = strcmp(all[i].name, "__function__") == 0;
            bool leaf = strcmp(all[i].name, "__leaf__") == 0;
            if ((fn || leaf) != (pass == 1))
                continue;
            ms[n_series + n_stack] = all[i];
            if (pass == 0) {
                n_series++;
                continue;
            }
            stack[n_stack++] = (struct pprof_stack_matcher){
                .leaf = leaf,
                .negate = all[i].type == TSDB_MATCH_NEQ ||
                          all[i].type == TSDB_MATCH_NRE,
                .re = all[i].re,
                .equal = all[i].value,
            };
        }
    free(all);
    *n = n_series;
    return n_stack;
}

/* Select, check and merge: fills q (profile NULL when no series). */
static enum kb_status select_merge(struct tsdb *db,
                                   const struct tsdb_matcher *ms, size_t n,
                                   struct web_profile_query *q,
                                   struct kb_err *err)
{
    struct tsdb_querier *qr = tsdb_querier_open(db, q->start_ms, q->end_ms);
    tsdb_querier_allow_downsampled(qr);
    uint64_t *refs = NULL;
    size_t n_refs = 0, n_prof = 0;
    enum kb_status st = tsdb_querier_select(qr, ms, n, &refs, &n_refs, err);
    if (st != KB_OK)
        goto done;
    for (size_t i = 0; i < n_refs; i++)
        if (tsdb_querier_kind(qr, refs[i]) == TSDB_PROFILES)
            refs[n_prof++] = refs[i];
    if (n_prof > MAX_SERIES) {
        st = kb_errf(err, KB_ERR_LIMIT,
                     "the selector matches %zu profile series, more than the "
                     "limit of %d",
                     n_prof, MAX_SERIES);
        goto done;
    }
    const char *type = NULL;
    for (size_t i = 0; i < n_prof; i++) {
        const char *t =
            labels_get(tsdb_querier_labels(qr, refs[i]), "__name__");
        t = t ? t : "";
        if (type == NULL)
            type = t;
        else if (strcmp(t, type) != 0) {
            st = kb_errf(err, KB_ERR_INVALID,
                         "the selector matches profiles of more than one "
                         "type (%.80s and %.80s): select one type, e.g. with "
                         "__name__ or an alias such as cpu",
                         type, t);
            goto done;
        }
        size_t np;
        tsdb_querier_profiles(qr, refs[i], &np);
        q->profiles += np;
    }
    q->series = n_prof;
    if (type != NULL)
        q->type = kb_strdup(type);
    st = tsdb_querier_merge(qr, refs, n_prof, &q->profile, err);
    if (st == KB_OK)
        st = tsdb_querier_error(qr, err);
    if (st != KB_OK) {
        /* Stored data that cannot be read is Kiln's failure (a 500), not
         * the request's. */
        char msg[KB_ERR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        st = kb_errf(err, KB_ERR_IO, "reading stored profiles: %s", msg);
    }
done:
    free(refs);
    tsdb_querier_close(qr);
    return st;
}

bool web_profile_query(struct web_request *rq, const char *query_param,
                       const char *start_param, const char *end_param,
                       struct web_profile_query *q)
{
    memset(q, 0, sizeof(*q));
    const char *text = web_param(rq, query_param);
    if (text == NULL || text[0] == '\0') {
        web_reply_error(rq, WEB_ERR_BAD_DATA, "missing parameter \"%s\"",
                        query_param);
        return false;
    }
    int64_t now = kb_now_ms();
    if (!web_time_param(rq, end_param, now, &q->end_ms) ||
        !web_time_param(rq, start_param, q->end_ms - DEFAULT_RANGE_MS,
                        &q->start_ms))
        return false;
    if (q->end_ms < q->start_ms) {
        web_reply_invalid_param(rq, end_param,
                                "end timestamp must not be before start time");
        return false;
    }
    struct tsdb *db = web_db(rq);
    if (db == NULL)
        return false;
    struct tsdb_matcher *ms = NULL;
    size_t n = 0;
    struct kb_err err;
    enum kb_status st = tsdb_matchers_parse(text, &ms, &n, &err);
    if (st != KB_OK) {
        web_reply_invalid_param(rq, query_param, err.msg);
        return false;
    }
    size_t n_all = n;
    struct pprof_stack_matcher *stack = kb_calloc(n + 1, sizeof(*stack));
    size_t n_stack = split_stack_matchers(ms, &n, stack);
    bool any_nonempty = false;
    for (size_t i = 0; i < n; i++)
        any_nonempty = any_nonempty || !tsdb_matcher_matches(&ms[i], "");
    if (!any_nonempty) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "invalid parameter \"%s\": the selector must contain "
                        "at least one series matcher that does not match the "
                        "empty string (__function__ and __leaf__ only filter "
                        "stacks)",
                        query_param);
        goto fail;
    }
    st = select_merge(db, ms, n, q, &err);
    if (st == KB_OK && q->profile == NULL) {
        const char *type = pinned_type(ms, n);
        q->profile = empty_profile(type);
        if (type != NULL && q->type == NULL)
            q->type = kb_strdup(type);
    }
    if (st == KB_OK)
        st = pprof_filter_stacks(q->profile, stack, n_stack, &err);
    if (st == KB_OK)
        q->unit = pprof_str(q->profile, q->profile->sample_types[0].unit);
    if (st != KB_OK) {
        web_reply_error(rq, web_error_from_status(st), "%s", err.msg);
        goto fail;
    }
    free(stack);
    tsdb_matchers_free(ms, n_all);
    return true;
fail:
    free(stack);
    tsdb_matchers_free(ms, n_all);
    web_profile_query_free(q);
    return false;
}

void web_profile_query_free(struct web_profile_query *q)
{
    pprof_free(q->profile);
    free(q->type);
    memset(q, 0, sizeof(*q));
}

bool web_profile_max_nodes(struct web_request *rq, size_t *out)
{
    const char *s = web_param(rq, "max_nodes");
    *out = DEFAULT_MAX_NODES;
    if (s == NULL || s[0] == '\0')
        return true;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v == 0 ||
        v > MAX_NODES_LIMIT) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "invalid parameter \"max_nodes\": \"%.64s\" is not a "
                        "count from 1 to %d",
                        s, MAX_NODES_LIMIT);
        return false;
    }
    *out = (size_t)v;
    return true;
}

struct pprof_flame *web_profile_fold(struct web_request *rq,
                                     const struct pprof_flame *full,
                                     size_t max_nodes, bool json)
{
    struct pprof_flame_fold o = {
        .max_nodes = max_nodes,
        .max_depth = json ? pprof_flame_json_max_depth(TREE_NESTING) : 0,
    };
    struct pprof_flame *f = NULL;
    struct kb_err err;
    if (pprof_flame_fold(full, &o, &f, &err) != KB_OK)
        web_reply_error(rq, WEB_ERR_INTERNAL, "%s", err.msg);
    return f;
}

void web_profile_reply_svg(struct web_request *rq, const struct pprof_flame *f,
                           const char *title, const char *unit)
{
    struct buf out;
    buf_init(&out, WEB_REPLY_MAX);
    struct pprof_flame_svg_options o = {.title = title, .unit = unit};
    struct kb_err err;
    if (pprof_flame_svg(f, &o, &out, &err) == KB_OK)
        web_reply(rq, 200, "image/svg+xml", &out);
    else
        web_reply_error(rq, WEB_ERR_BAD_DATA, "%s: lower max_nodes", err.msg);
    buf_free(&out);
}

void web_profile_title(const struct web_profile_query *q, const char *query,
                       struct buf *out)
{
    char start[KB_TIME_STR_MAX], end[KB_TIME_STR_MAX];
    buf_printf(out, "%s, %s to %s", query, kb_time_format(q->start_ms, start),
               kb_time_format(q->end_ms, end));
}

enum format { F_JSON, F_PPROF, F_COLLAPSED, F_SVG };

static bool parse_format(struct web_request *rq, enum format *out)
{
    static const char *const names[] = {"json", "pprof", "collapsed", "svg"};
    const char *s = web_param(rq, "format");
    *out = F_JSON;
    if (s == NULL || s[0] == '\0')
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum format)i;
            return true;
        }
    web_reply_error(rq, WEB_ERR_BAD_DATA,
                    "invalid parameter \"format\": \"%.64s\" is not json, "
                    "pprof, collapsed or svg",
                    s);
    return false;
}

/* Encode the profile (pprof or collapsed) and reply with it. */
static void reply_encoded(struct web_request *rq, const struct pprof_profile *p,
                          enum format format)
{
    struct buf out;
    buf_init(&out, WEB_REPLY_MAX);
    struct kb_err err;
    enum kb_status st;
    if (format == F_PPROF)
        st = pprof_encode(p, &out, &err);
    else
        st = pprof_collapsed_write(p, 0, &out, &err);
    if (st != KB_OK) {
        web_reply_error(rq, web_error_from_status(st), "%s", err.msg);
    } else if (format == F_PPROF) {
        web_reply_header(rq, "Content-Disposition",
                         "attachment; filename=\"profile.pb.gz\"");
        web_reply(rq, 200, "application/octet-stream", &out);
    } else {
        web_reply(rq, 200, "text/plain; charset=utf-8", &out);
    }
    buf_free(&out);
}

void web_handle_profile(struct web_request *rq)
{
    enum format format;
    size_t max_nodes;
    if (!parse_format(rq, &format) || !web_profile_max_nodes(rq, &max_nodes))
        return;
    struct web_profile_query q;
    if (!web_profile_query(rq, "query", "start", "end", &q))
        return;
    if (format == F_PPROF || format == F_COLLAPSED) {
        reply_encoded(rq, q.profile, format);
        web_profile_query_free(&q);
        return;
    }
    struct pprof_flame *full = NULL, *f = NULL;
    struct kb_err err;
    if (pprof_flame_build(q.profile, 0, &full, &err) != KB_OK) {
        web_reply_error(rq, WEB_ERR_INTERNAL, "%s", err.msg);
        goto done;
    }
    f = web_profile_fold(rq, full, max_nodes, format == F_JSON);
    if (f == NULL)
        goto done;
    const char *type = q.type ? q.type : "";
    if (format == F_SVG) {
        struct buf title;
        buf_init(&title, BUF_NO_LIMIT);
        web_profile_title(&q, web_param(rq, "query"), &title);
        web_profile_reply_svg(rq, f, buf_cstr(&title), q.unit);
        buf_free(&title);
        goto done;
    }
    struct jsonw *w = web_json_begin(rq);
    jsonw_object_begin(w);
    jsonw_key(w, "type");
    jsonw_string(w, type);
    jsonw_key(w, "unit");
    jsonw_string(w, q.unit);
    jsonw_key(w, "total");
    jsonw_int(w, f->nodes[0].total[0]);
    jsonw_key(w, "series");
    jsonw_uint(w, q.series);
    jsonw_key(w, "profiles");
    jsonw_uint(w, q.profiles);
    jsonw_key(w, "tree");
    pprof_flame_write_json(f, w);
    jsonw_object_end(w);
    web_json_end(rq);
done:
    pprof_flame_free(f);
    pprof_flame_free(full);
    web_profile_query_free(&q);
}
