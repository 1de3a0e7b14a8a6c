/* web/handler.h: what an endpoint handler sees: the request (method, path,
 * parameters), the reply functions (text, Prometheus' JSON envelope), and
 * the route table. Internal to web/.
 *
 * Adding an endpoint: write web/NAME.c with a handler
 *
 *     void web_handle_NAME(struct web_request *rq)
 *     {
 *         const char *q = web_param(rq, "query");
 *         if (q == NULL) {
 *             web_reply_error(rq, WEB_ERR_BAD_DATA, "query is required");
 *             return;
 *         }
 *         struct jsonw *w = web_json_begin(rq);
 *         jsonw_object_begin(w); ... jsonw_object_end(w);
 *         web_json_end(rq);
 *     }
 *
 * declare it below, add one line to the table in routes.c, and list the
 * file in web/local.mk. Handlers run on connection threads, several at
 * once; everything they share must be thread-safe.
 */
#ifndef KILN_WEB_HANDLER_H
#define KILN_WEB_HANDLER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "base/status.h"
#include "web/web.h"

struct pprof_flame;
struct pprof_profile;

/* One request, valid during the handler call. */
struct web_request;

/* The method ("GET", "HEAD", "POST", ...) and the path (no query
 * string, percent-decoded by libmicrohttpd). */
const char *web_method(const struct web_request *rq);
const char *web_path(const struct web_request *rq);
/* For a prefix route, the path after the prefix ("" for an exact route). */
const char *web_path_rest(const struct web_request *rq);
/* The server's options, for hooks, version and registry. */
const struct web_options *web_options_of(const struct web_request *rq);

/* Parameters, as Go's Request.Form: for POST, PUT and PATCH with
 * Content-Type application/x-www-form-urlencoded, the body's parameters
 * first, then the URL query's. A parameter without "=" has the value "".
 * web_param gives the first value of `name` or NULL; web_param_at the
 * i-th value (for repeated parameters such as match[]) or NULL past the
 * last. */
const char *web_param(const struct web_request *rq, const char *name);
const char *web_param_at(const struct web_request *rq, const char *name,
                         size_t i);

/* Replies. A handler makes one; if it makes several, the last wins (so a
 * handler may start a JSON reply and replace it with an error). A handler
 * that makes none gets a 500. */

/* Reply with `body`'s content (taken: the buffer is left empty). */
void web_reply(struct web_request *rq, unsigned code, const char *content_type,
               struct buf *body);
/* Reply with printf-formatted text/plain. */
void web_reply_text(struct web_request *rq, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a response header (kept across replies; at most 8). */
void web_reply_header(struct web_request *rq, const char *name,
                      const char *value);

/* Prometheus' error types and the HTTP codes it answers them with. */
enum web_error {
    WEB_ERR_BAD_DATA,    /* 400: a bad parameter */
    WEB_ERR_NOT_FOUND,   /* 404: the named thing does not exist */
    WEB_ERR_EXECUTION,   /* 422: the request is valid but cannot run */
    WEB_ERR_INTERNAL,    /* 500: a failure of Kiln's */
    WEB_ERR_TIMEOUT,     /* 503: the query timed out */
    WEB_ERR_CANCELED,    /* 503: the query was canceled */
    WEB_ERR_UNAVAILABLE, /* 503: a component is not ready */
};

/* The error type for a failure with status `st`: invalid input, limits
 * and usage are bad_data, not found is not_found, mismatched or
 * unsupported input is execution, everything else internal. */
enum web_error web_error_from_status(enum kb_status st);

/* Reply {"status":"error","errorType":"bad_data","error":"..."} with the
 * type's HTTP code. */
void web_reply_error(struct web_request *rq, enum web_error type,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A success reply {"status":"success","data":<value>}: web_json_begin
 * returns a writer positioned at the data value, which the handler writes
 * (exactly one JSON value); web_json_end closes the envelope and makes the
 * reply, or a 500 internal error if the writer failed (the reply was
 * larger than WEB_REPLY_MAX, or the value was malformed). web_json_end
 * does nothing if another reply replaced the JSON one in between. */
struct jsonw *web_json_begin(struct web_request *rq);
void web_json_end(struct web_request *rq);

/* Largest reply body. */
#define WEB_REPLY_MAX ((size_t)512 << 20)
/* Largest request body (a form); more is answered 413. */
#define WEB_BODY_MAX ((size_t)1 << 20)

/* Routes. */

enum {
    WEB_GET = 1 << 0, /* HEAD too */
    WEB_POST = 1 << 1,
    WEB_PUT = 1 << 2,
    WEB_DELETE = 1 << 3,
};

enum {
    WEB_PREFIX = 1 << 0, /* path is a prefix: "/api/v1/label/" */
    WEB_READY = 1 << 1,  /* 503 "Service Unavailable" until hooks.ready */
};

/* A route: requests whose path is `path` (or starts with it, WEB_PREFIX)
 * and whose method is in `methods` go to `handle`. A path that matches
 * with another method is answered 405 with Allow. Exact paths win over
 * prefixes, longer prefixes over shorter. `path` is also the value of the
 * handler label in the request metrics. */
struct web_route {
    const char *path;
    unsigned methods;
    unsigned flags;
    void (*handle)(struct web_request *rq);
};

/* Kiln's routes (routes.c). */
extern const struct web_route web_routes[];
extern const size_t web_n_routes;

/* web_server_start with another route table (tests; the table must
 * outlive the server). */
enum kb_status web_server_start_routes(const struct web_options *o,
                                       const struct web_route *routes,
                                       size_t n_routes, struct web_server **out,
                                       struct kb_err *err);

/* Handlers, by file. */
/* lifecycle.c */
void web_handle_healthy(struct web_request *rq);
void web_handle_ready(struct web_request *rq);
void web_handle_reload(struct web_request *rq);
void web_handle_quit(struct web_request *rq);
/* metrics_handler.c */
void web_handle_metrics(struct web_request *rq);
/* api_status.c */
void web_handle_buildinfo(struct web_request *rq);
/* api_targets.c */
void web_handle_targets(struct web_request *rq);
/* api_profile.c: /api/v1/profile; api_diff.c: /api/v1/diff */
void web_handle_profile(struct web_request *rq);
void web_handle_diff(struct web_request *rq);

/* What api_profile.c shares with api_diff.c. A merged profile selected by
 * a request: the profile (never NULL; empty when nothing matched), its
 * series name (NULL when unknown) and sample unit, the series and stored
 * profiles merged, and the range [start_ms, end_ms]. */
struct web_profile_query {
    struct pprof_profile *profile;
    char *type;
    const char *unit;
    size_t series, profiles;
    int64_t start_ms, end_ms;
};
/* Fill `q` from the parameters named query_param (a selector with stack
 * matchers), start_param and end_param; false when it replied an error. */
bool web_profile_query(struct web_request *rq, const char *query_param,
                       const char *start_param, const char *end_param,
                       struct web_profile_query *q);
void web_profile_query_free(struct web_profile_query *q);
/* Append "QUERY, START to END" to `out`, a title for graphs. */
void web_profile_title(const struct web_profile_query *q, const char *query,
                       struct buf *out);
/* The max_nodes parameter (default 1024); false when it replied 400. */
bool web_profile_max_nodes(struct web_request *rq, size_t *out);
/* `full` folded to max_nodes (and, for json, to the depth a reply can
 * hold); NULL when it replied an error. */
struct pprof_flame *web_profile_fold(struct web_request *rq,
                                     const struct pprof_flame *full,
                                     size_t max_nodes, bool json);
/* Reply with the SVG flame graph of `f`. */
void web_profile_reply_svg(struct web_request *rq, const struct pprof_flame *f,
                           const char *title, const char *unit);
/* api_series.c */
void web_handle_series(struct web_request *rq);
void web_handle_labels(struct web_request *rq);
void web_handle_label_values(struct web_request *rq);
/* api_query.c */
void web_handle_query(struct web_request *rq);
void web_handle_query_range(struct web_request *rq);

/* For handlers that must act after their reply went out (/-/quit): call
 * fn(arg) once the reply is sent or the connection is gone. */
void web_after_reply(struct web_request *rq, void (*fn)(void *arg), void *arg);

#endif
