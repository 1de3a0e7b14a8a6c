/* promql-like/eval.h: the query engine. Evaluates a Kiln query (PromQL over
 * profile and float series, DESIGN.md section 3) against a database, at one
 * time (instant query) or at every step of a range (range query), and
 * writes results in Prometheus' HTTP API shape. docs/query-evaluation.md
 * is the reference for the value semantics, the stack matchers, the
 * functions, the limits and the errors. See eval.c (the evaluator),
 * functions.c (the function table's implementations) and value.c (results
 * and their JSON).
 *
 * Use:
 *
 *     struct pql_engine_options o;
 *     pql_engine_options_default(&o);
 *     struct pql_result *r = NULL;
 *     struct pql_error e;
 *     if (pql_query_instant(db, q, strlen(q), t_ms, &o, &r, &e) != KB_OK)
 *         reply_error(pql_error_type_str(e.type), e.err.msg);
 *     else
 *         pql_result_json(r, &jsonw);       // {"resultType":..,"result":..}
 *     pql_result_free(r);
 *
 * Threads: the engine has no global state; any number of queries may run
 * at once (each holds a tsdb querier, so a read lock, while it runs).
 */
#ifndef KILN_PROMQL_LIKE_EVAL_H
#define KILN_PROMQL_LIKE_EVAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/jsonw.h"
#include "base/status.h"
#include "promql-like/ast.h"

struct labels;
struct tsdb;

/* ---- Options ------------------------------------------------------------ */

/* Limits and tunables of one query. pql_engine_options_default fills the
 * defaults noted; 0 in a limit means "no limit" (not advised for outside
 * input). */
struct pql_engine_options {
    int64_t timeout_ms;       /* wall-clock deadline of the query (120,000) */
    size_t max_series;        /* series all selectors together may select
                                 (100,000) */
    size_t max_samples;       /* samples (vector elements, matrix points,
                                 result points) in memory at once
                                 (50,000,000), as Prometheus'
                                 --query.max-samples */
    int64_t lookback_ms;      /* how far back an instant selector looks for
                                 the newest sample or profile (300,000) */
    int64_t subquery_step_ms; /* step of a subquery written without one,
                                 `x[1h:]` (60,000) */
    size_t max_steps;         /* steps of a range query (11,000, as
                                 Prometheus) */
    /* When not NULL and it becomes true, the query stops at its next check
     * with PQL_ERR_CANCELED (an HTTP client that went away). */
    const atomic_bool *cancel;
};

void pql_engine_options_default(struct pql_engine_options *o);

/* ---- Errors ------------------------------------------------------------- */

/* Prometheus' errorType values of the HTTP API. */
enum pql_error_type {
    PQL_ERR_NONE = 0,
    PQL_ERR_BAD_DATA,  /* "bad_data": the query does not parse, bad
                          parameters (HTTP 400) */
    PQL_ERR_EXECUTION, /* "execution": a runtime error, a limit other than
                          time (HTTP 422) */
    PQL_ERR_TIMEOUT,   /* "timeout": past timeout_ms (HTTP 503) */
    PQL_ERR_CANCELED,  /* "canceled": options.cancel became true (503) */
    PQL_ERR_INTERNAL,  /* "internal": the database failed to read (500) */
};

/* A failed query: the errorType and a one-line message. Parse errors keep
 * the parser's message, which starts with `line:column: `. */
struct pql_error {
    enum pql_error_type type;
    struct kb_err err;
};

/* "bad_data", "execution", "timeout", "canceled", "internal" ("" for
 * PQL_ERR_NONE). */
const char *pql_error_type_str(enum pql_error_type t);
/* The HTTP status Prometheus answers with for `t`: 400, 422, 503, 503,
 * 500 (200 for PQL_ERR_NONE). */
int pql_error_http_status(enum pql_error_type t);

/* ---- Results ------------------------------------------------------------ */

struct pql_point {
    int64_t t_ms;
    double v;
};

/* One series of a result: its labels (owned by the result) and its points,
 * oldest first. A vector's series have exactly one point each, at the
 * evaluation time. */
struct pql_series {
    struct labels *labels;
    struct pql_point *points;
    size_t n_points;
};

/* A query's result. `type` is:
 *   PQL_TYPE_SCALAR: `scalar` at `t_ms`;
 *   PQL_TYPE_STRING: `string` at `t_ms`;
 *   PQL_TYPE_VECTOR: series[0..n_series) with one point each, in the order
 *                    the query produced them (sort() and topk() orders are
 *                    kept, as Prometheus keeps them);
 *   PQL_TYPE_MATRIX: series[0..n_series) sorted by labels. Range queries
 *                    always give a matrix (a scalar expression becomes one
 *                    series without labels); an instant query whose
 *                    expression is a range vector (`x[5m]`) gives one too.
 */
struct pql_result {
    enum pql_type type;
    int64_t t_ms;
    double scalar;
    char *string;
    struct pql_series *series;
    size_t n_series;
};

void pql_result_free(struct pql_result *r);

/* The number of points in `r` (1 for a scalar or string). */
size_t pql_result_points(const struct pql_result *r);

/* Write the "data" object of Prometheus' query API:
 *   {"resultType":"vector","result":[{"metric":{..},"value":[1.5,"2"]}]}
 * ("matrix": "values" with a list of [seconds, "value"]; "scalar" and
 * "string": "result":[seconds, "value"]). Times are seconds with up to three
 * decimals, values strings as Prometheus writes them ("NaN", "+Inf"). Errors
 * are the writer's (see jsonw_finish); the caller checks them there. */
void pql_result_json(const struct pql_result *r, struct jsonw *w);

/* ---- Queries ------------------------------------------------------------ */

/* Evaluate `text[0..len)` at `t_ms`. On success *out is a result the caller
 * frees with pql_result_free; on failure *out is NULL and `err` says why
 * (bad_data for parse errors, with the parser's `line:col: message`). */
enum kb_status pql_query_instant(struct tsdb *db, const char *text, size_t len,
                                 int64_t t_ms,
                                 const struct pql_engine_options *opts,
                                 struct pql_result **out,
                                 struct pql_error *err);

/* Evaluate `text` at start, start+step, ... up to end (inclusive), as
 * Prometheus' query_range does. The expression must be a scalar or an
 * instant vector (else bad_data); start <= end, step > 0 and at most
 * opts->max_steps steps (else bad_data). The result is a matrix. */
enum kb_status pql_query_range(struct tsdb *db, const char *text, size_t len,
                               int64_t start_ms, int64_t end_ms,
                               int64_t step_ms,
                               const struct pql_engine_options *opts,
                               struct pql_result **out, struct pql_error *err);

/* The same over a tree parsed before (rules evaluate a stored tree many
 * times). An instant query is start == end with step 0. The tree is only
 * read, so one tree may be evaluated by many threads at once. */
enum kb_status pql_eval(struct tsdb *db, const struct pql_ast *ast,
                        int64_t start_ms, int64_t end_ms, int64_t step_ms,
                        const struct pql_engine_options *opts,
                        struct pql_result **out, struct pql_error *err);

#endif
