/* web/api_query.c: Prometheus' query endpoints over Kiln's query language:
 *
 *   GET|POST /api/v1/query?query=EXPR&time=T&timeout=D
 *       {"resultType":"vector","result":[{"metric":{...},
 *        "value":[1700000000.5,"42"]}]}   (or matrix, scalar, string)
 *   GET|POST /api/v1/query_range?query=EXPR&start=T&end=T&step=D&timeout=D
 *       {"resultType":"matrix","result":[{"metric":{...},
 *        "values":[[1700000000,"1"],[1700000015,"2"]]}]}
 *
 * Design. The parameters are read and checked in Prometheus' order with
 * its messages (web/api/v1/api.go: query, queryRange, extractQueryOpts),
 * so that clients see the same first error as from Prometheus; then the
 * evaluator (promql-like/eval.h) runs the query and writes the data
 * object. Times are RFC 3339 or Unix seconds (params.h); `time` defaults
 * to now. Durations (step, timeout, lookback_delta) are Prometheus
 * durations or float seconds. A range query may have at most 11,000 steps
 * past the start, as in Prometheus. `timeout` can only shorten the
 * server's own query timeout (2 minutes), as Prometheus' context deadline
 * does; anything under a millisecond counts as one.
 *
 * Errors: the evaluator's bad_data errors are, as in Prometheus, problems
 * of the query parameter ("invalid parameter \"query\": 1:5: ..."); its
 * execution, timeout, canceled and internal errors are replied as they
 * come, with Prometheus' errorType and HTTP status.
 *
 * Ownership: the result is ours for the call and freed here; the JSON is
 * written straight into the reply.
 */
#include <string.h>

#include "base/timefmt.h"
#include "promql-like/eval.h"
#include "web/params.h"

static enum web_error web_error_of(enum pql_error_type t)
{
    switch (t) {
    case PQL_ERR_BAD_DATA:
        return WEB_ERR_BAD_DATA;
    case PQL_ERR_EXECUTION:
        return WEB_ERR_EXECUTION;
    case PQL_ERR_TIMEOUT:
        return WEB_ERR_TIMEOUT;
    case PQL_ERR_CANCELED:
        return WEB_ERR_CANCELED;
    case PQL_ERR_NONE:
    case PQL_ERR_INTERNAL:
        break;
    }
    return WEB_ERR_INTERNAL;
}

/* A duration parameter; false after replying `invalid parameter "NAME":
 * ...`. *ms is left alone when the parameter is absent or empty. */
static bool duration_param(struct web_request *rq, const char *name,
                           int64_t *ms)
{
    const char *s = web_param(rq, name);
    if (s == NULL || s[0] == '\0')
        return true;
    struct kb_err err;
    if (web_parse_duration(s, ms, &err) == KB_OK)
        return true;
    web_reply_invalid_param(rq, name, err.msg);
    return false;
}

/* timeout and lookback_delta, the options every query takes, into `o`
 * (filled with the defaults); false after replying an error. */
static bool query_options(struct web_request *rq, struct pql_engine_options *o)
{
    pql_engine_options_default(o);
    int64_t timeout = o->timeout_ms;
    if (!duration_param(rq, "timeout", &timeout))
        return false;
    if (timeout < 1)
        timeout = 1;
    if (o->timeout_ms == 0 || timeout < o->timeout_ms)
        o->timeout_ms = timeout;
    const char *lb = web_param(rq, "lookback_delta");
    if (lb != NULL && lb[0] != '\0') {
        int64_t ms;
        struct kb_err err;
        if (web_parse_duration(lb, &ms, &err) != KB_OK) {
            web_reply_error(rq, WEB_ERR_BAD_DATA,
                            "error parsing lookback delta duration: %s",
                            err.msg);
            return false;
        }
        if (ms > 0)
            o->lookback_ms = ms;
    }
    return true;
}

/* Reply the outcome of a query: the result's data object, or its error. */
static void reply_result(struct web_request *rq, enum kb_status st,
                         struct pql_result *r, const struct pql_error *e)
{
    if (st != KB_OK) {
        enum web_error type = web_error_of(e->type);
        if (type == WEB_ERR_BAD_DATA)
            web_reply_invalid_param(rq, "query", e->err.msg);
        else
            web_reply_error(rq, type, "%s", e->err.msg);
        return;
    }
    struct jsonw *w = web_json_begin(rq);
    pql_result_json(r, w);
    web_json_end(rq);
}

/* The query text; "" when absent (the parser then says what is wrong). */
static const char *query_text(struct web_request *rq)
{
    const char *q = web_param(rq, "query");
    return q != NULL ? q : "";
}

void web_handle_query(struct web_request *rq)
{
    int64_t t;
    struct pql_engine_options o;
    if (!web_time_param(rq, "time", kb_now_ms(), &t) || !query_options(rq, &o))
        return;
    struct tsdb *db = web_db(rq);
    if (db == NULL)
        return;
    const char *q = query_text(rq);
    struct pql_result *r = NULL;
    struct pql_error e = {0};
    enum kb_status st = pql_query_instant(db, q, strlen(q), t, &o, &r, &e);
    reply_result(rq, st, r, &e);
    pql_result_free(r);
}

/* A time parameter of query_range, which has no default. */
static bool range_time(struct web_request *rq, const char *name, int64_t *ms)
{
    const char *s = web_param(rq, name);
    struct kb_err err;
    if (web_parse_time(s != NULL ? s : "", ms, &err) == KB_OK)
        return true;
    web_reply_invalid_param(rq, name, err.msg);
    return false;
}

/* Prometheus' limit on the points of one series of a range query. */
#define MAX_POINTS 11000

void web_handle_query_range(struct web_request *rq)
{
    int64_t start, end, step = 0;
    if (!range_time(rq, "start", &start) || !range_time(rq, "end", &end))
        return;
    if (end < start) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "end timestamp must not be before start time");
        return;
    }
    const char *s = web_param(rq, "step");
    struct kb_err err;
    if (web_parse_duration(s != NULL ? s : "", &step, &err) != KB_OK) {
        web_reply_invalid_param(rq, "step", err.msg);
        return;
    }
    if (step <= 0) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "zero or negative query resolution step widths are "
                        "not accepted. Try a positive integer");
        return;
    }
    /* Both times lie within Prometheus' MinTime..MaxTime (params.h), so
     * their difference fits in uint64. */
    if (((uint64_t)end - (uint64_t)start) / (uint64_t)step > MAX_POINTS) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "exceeded maximum resolution of 11,000 points per "
                        "timeseries. Try decreasing the query resolution "
                        "(?step=XX)");
        return;
    }
    struct pql_engine_options o;
    if (!query_options(rq, &o))
        return;
    o.max_steps = MAX_POINTS + 1;
    struct tsdb *db = web_db(rq);
    if (db == NULL)
        return;
    const char *q = query_text(rq);
    struct pql_result *r = NULL;
    struct pql_error e = {0};
    enum kb_status st =
        pql_query_range(db, q, strlen(q), start, end, step, &o, &r, &e);
    reply_result(rq, st, r, &e);
    pql_result_free(r);
}
