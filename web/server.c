/* web/server.c: the HTTP server: libmicrohttpd, routing, request metrics.
 *
 * What. web_server_start binds the listen address (listen.c) and runs
 * libmicrohttpd with a thread per connection (polling with poll(), so
 * descriptors above 1024 work), at most max_connections at once, closing
 * connections idle for idle_timeout_s. A slow request (a long query, a
 * hook that blocks) holds up only its own connection.
 *
 * A request goes through these steps: libmicrohttpd calls on_request
 * once with the headers (we make the request record and find its route),
 * once per chunk of body (kept up to WEB_BODY_MAX), and once more at the
 * end, where we dispatch (a request whose Content-Length is over the limit
 * is dispatched at once, before its body is read):
 *
 *   no route has the path             404 "404 page not found"
 *   routes have it, not this method   405 "Method Not Allowed", Allow
 *   body too large                    413
 *   WEB_READY route, hooks.ready false 503 "Service Unavailable"
 *   form body that does not decode    400 bad_data
 *   otherwise                         the route's handler
 *
 * The handler's reply (reply.c) is then queued. When libmicrohttpd reports
 * the request complete (on_completed), the request is counted in
 * kiln_http_requests_total{handler,code} and its time since the headers
 * observed in kiln_http_request_duration_seconds{handler}, where handler
 * is the route's path ("other" for unrouted paths, so that arbitrary URLs
 * do not make series), and the handler's after-reply action runs. The
 * metric instances are cached per route and code (struct route_metrics),
 * so counting takes no lock once a code has been seen.
 *
 * Routes: a table (routes.c for Kiln's; tests bring their own). Exact
 * paths beat prefixes and longer prefixes shorter ones; GET routes answer
 * HEAD too (libmicrohttpd drops the body).
 *
 * Stopping: MHD_stop_daemon closes the listening socket and idle
 * connections, and joins every connection thread, so running handlers
 * finish first.
 *
 * Ownership: the server owns a copy of the options (the version string
 * included); the registry, hooks' arg and route table are borrowed.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "web/internal.h"

#define DEFAULT_MAX_CONNECTIONS 512
#define DEFAULT_IDLE_TIMEOUT_S 300
/* libmicrohttpd's per-connection memory: request line and headers. */
#define CONNECTION_MEMORY (128u << 10)
/* The handler label of requests that no route's path matches. */
#define UNROUTED "other"

/* The status codes a reply may carry. */
#define CODE_MIN 100
#define CODE_MAX 599

/* A route's request metrics: its duration histogram, made at start, and
 * its counters by status code, made on first use and then found without
 * the registry's lock (two threads making the same one get the same). */
struct route_metrics {
    struct metrics_histogram *duration;
    _Atomic(struct metrics_counter *) requests[CODE_MAX - CODE_MIN + 1];
};

struct web_server {
    struct MHD_Daemon *daemon;
    struct web_options opts;
    char *version;
    const struct web_route *routes;
    size_t n_routes;
    struct route_metrics *rm; /* n_routes + 1, the last for UNROUTED */
    uint16_t port;
};

static const char requests_name[] = "kiln_http_requests_total";
static const char requests_help[] =
    "HTTP requests answered, by route (handler) and status code.";
static const char duration_name[] = "kiln_http_request_duration_seconds";
static const char duration_help[] =
    "Time from a request's headers to the end of its reply, by route.";

static const char *handler_label(const struct web_request *rq)
{
    return rq->route != NULL ? rq->route->path : UNROUTED;
}

static unsigned method_bit(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {{"GET", WEB_GET},
                   {"HEAD", WEB_GET},
                   {"POST", WEB_POST},
                   {"PUT", WEB_PUT},
                   {"DELETE", WEB_DELETE}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(method, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}

/* How well `r` matches `path`: 0 not at all, else a rank where exact
 * beats every prefix and a longer prefix beats a shorter one. */
static size_t match_rank(const struct web_route *r, const char *path)
{
    size_t n = strlen(r->path);
    if (!(r->flags & WEB_PREFIX))
        return strcmp(r->path, path) == 0 ? SIZE_MAX : 0;
    return strncmp(r->path, path, n) == 0 ? n + 1 : 0;
}

/* Find the route for the request: sets rq->route (NULL when no route
 * has the path) and rq->rest, and returns the methods the best-matching
 * routes allow (for 405's Allow). rq->route is set only if one of them
 * allows the request's method; otherwise, when some route has the path,
 * the first of them is set for the metrics and *method_ok is false. */
static unsigned route_request(const struct web_server *s,
                              struct web_request *rq, bool *method_ok)
{
    size_t best = 0;
    for (size_t i = 0; i < s->n_routes; i++) {
        size_t rank = match_rank(&s->routes[i], rq->path);
        if (rank > best)
            best = rank;
    }
    unsigned allow = 0, want = method_bit(rq->method);
    const struct web_route *first = NULL, *chosen = NULL;
    for (size_t i = 0; best > 0 && i < s->n_routes; i++) {
        const struct web_route *r = &s->routes[i];
        if (match_rank(r, rq->path) != best)
            continue;
        allow |= r->methods;
        if (first == NULL)
            first = r;
        if (chosen == NULL && (r->methods & want))
            chosen = r;
    }
    rq->route = chosen != NULL ? chosen : first;
    if (rq->route != NULL && (rq->route->flags & WEB_PREFIX))
        rq->rest = strlen(rq->route->path);
    *method_ok = chosen != NULL;
    return allow;
}

static void reply_method_not_allowed(struct web_request *rq, unsigned allow)
{
    static const struct {
        unsigned bit;
        const char *names;
    } bits[] = {{WEB_GET, "GET, HEAD"},
                {WEB_POST, "POST"},
                {WEB_PUT, "PUT"},
                {WEB_DELETE, "DELETE"}};
    char list[64] = "";
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if (allow & bits[i].bit) {
            if (list[0] != '\0')
                strcat(list, ", ");
            strcat(list, bits[i].names);
        }
    web_reply_header(rq, "Allow", list);
    web_reply_text(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n");
}

static void dispatch(const struct web_server *s, struct web_request *rq)
{
    bool method_ok;
    unsigned allow = route_request(s, rq, &method_ok);
    struct kb_err err = {0};
    if (rq->route == NULL) {
        web_reply_text(rq, MHD_HTTP_NOT_FOUND, "404 page not found\n");
    } else if (!method_ok) {
        reply_method_not_allowed(rq, allow);
    } else if (rq->body_too_big) {
        web_reply_text(rq, MHD_HTTP_CONTENT_TOO_LARGE,
                       "request body larger than %zu bytes\n", WEB_BODY_MAX);
    } else if ((rq->route->flags & WEB_READY) &&
               !s->opts.hooks.ready(s->opts.hooks.arg)) {
        web_reply_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "Service Unavailable");
    } else if (web_request_parse_params(rq, &err) != KB_OK) {
        web_reply_error(rq, WEB_ERR_BAD_DATA, "%s", err.msg);
    } else {
        rq->route->handle(rq);
        if (rq->code == 0)
            web_reply_error(rq, WEB_ERR_INTERNAL,
                            "the handler of %s made no reply", rq->route->path);
    }
}

/* Hand the request's reply to libmicrohttpd. */
static enum MHD_Result queue(struct web_request *rq)
{
    if (rq->code < CODE_MIN || rq->code > CODE_MAX)
        web_reply_error(rq, WEB_ERR_INTERNAL,
                        "a handler replied with status %u", rq->code);
    struct MHD_Response *resp;
    if (rq->reply.len == 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        size_t len;
        uint8_t *data = buf_take(&rq->reply, &len);
        resp =
            MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(data);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rq->content_type);
    for (size_t i = 0; i < rq->n_headers; i++)
        MHD_add_response_header(resp, rq->headers[i][0], rq->headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(rq->conn, rq->code, resp);
    MHD_destroy_response(resp);
    rq->queued = ret == MHD_YES;
    return ret;
}

/* Whether the request announces a body larger than WEB_BODY_MAX. */
static bool announces_large_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl == NULL)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno != 0 || n > WEB_BODY_MAX;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct web_server *s = cls;
    struct web_request *rq = *con_cls;
    if (rq == NULL) {
        rq = web_request_new(conn, &s->opts, method, url);
        *con_cls = rq;
        if (!announces_large_body(conn))
            return MHD_YES;
        /* Answered before the body is read (and before any "100
         * Continue"); libmicrohttpd then closes the connection. */
        rq->body_too_big = true;
        dispatch(s, rq);
        return queue(rq);
    }
    if (*upload_size > 0) {
        /* Past the limit (a chunked body) the rest is read and dropped;
         * the 413 follows at the end. */
        web_request_add_body(rq, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->queued)
        return MHD_YES;
    dispatch(s, rq);
    return queue(rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct web_server *s = cls;
    struct web_request *rq = *con_cls;
    if (rq == NULL)
        return;
    *con_cls = NULL;
    if (rq->queued) {
        size_t ri =
            rq->route != NULL ? (size_t)(rq->route - s->routes) : s->n_routes;
        struct route_metrics *rm = &s->rm[ri];
        _Atomic(struct metrics_counter *) *slot =
            &rm->requests[rq->code - CODE_MIN];
        struct metrics_counter *c = atomic_load(slot);
        if (c == NULL) {
            char code[16];
            snprintf(code, sizeof(code), "%u", rq->code);
            c = metrics_counter(s->opts.metrics, requests_name, requests_help,
                                "handler", handler_label(rq), "code", code,
                                NULL);
            atomic_store(slot, c);
        }
        metrics_counter_add(c, 1);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        metrics_histogram_observe(rm->duration, (double)ts.tv_sec +
                                                    (double)ts.tv_nsec / 1e9 -
                                                    rq->start_s);
    }
    if (rq->after != NULL)
        rq->after(rq->after_arg);
    web_request_free(rq);
}

static enum kb_status check_options(const struct web_options *o,
                                    struct kb_err *err)
{
    const struct web_hooks *h = &o->hooks;
    if (o->metrics == NULL)
        return kb_errf(err, KB_ERR_USAGE, "web: no metrics registry");
    if (h->ready == NULL || h->reload == NULL || h->quit == NULL ||
        h->targets == NULL)
        return kb_errf(err, KB_ERR_USAGE, "web: a hook is missing");
    return KB_OK;
}

enum kb_status web_server_start_routes(const struct web_options *o,
                                       const struct web_route *routes,
                                       size_t n_routes, struct web_server **out,
                                       struct kb_err *err)
{
    *out = NULL;
    if (check_options(o, err) != KB_OK)
        return err != NULL ? err->status : KB_ERR_USAGE;
    int family;
    int fd = web_listen(o->listen_address, &family, err);
    if (fd < 0)
        return err != NULL ? err->status : KB_ERR_IO;
    struct web_server *s = kb_calloc(1, sizeof(*s));
    s->opts = *o;
    s->version = kb_strdup(o->version != NULL ? o->version : "");
    s->opts.version = s->version;
    s->opts.listen_address = NULL; /* borrowed; not needed after bind */
    s->routes = routes;
    s->n_routes = n_routes;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    /* Every route's series exist from the start, at zero. */
    s->rm = kb_calloc(n_routes + 1, sizeof(*s->rm));
    for (size_t i = 0; i <= n_routes; i++) {
        const char *label = i < n_routes ? routes[i].path : UNROUTED;
        s->rm[i].duration = metrics_histogram(
            o->metrics, duration_name, duration_help, metrics_duration_bounds,
            metrics_n_duration_bounds, "handler", label, NULL);
        if (i < n_routes)
            s->rm[i].requests[200 - CODE_MIN] =
                metrics_counter(o->metrics, requests_name, requests_help,
                                "handler", label, "code", "200", NULL);
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned max_conn =
        o->max_connections > 0 ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
    unsigned timeout =
        o->idle_timeout_s > 0 ? o->idle_timeout_s : DEFAULT_IDLE_TIMEOUT_S;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
        timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        close(fd);
        free(s->rm);
        free(s->version);
        free(s);
        return kb_errf(err, KB_ERR_IO,
                       "listen %s: libmicrohttpd did not "
                       "start",
                       o->listen_address);
    }
    *out = s;
    return KB_OK;
}

enum kb_status web_server_start(const struct web_options *o,
                                struct web_server **out, struct kb_err *err)
{
    return web_server_start_routes(o, web_routes, web_n_routes, out, err);
}

uint16_t web_server_port(const struct web_server *s)
{
    return s->port;
}

void web_server_stop(struct web_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    free(s->rm);
    free(s->version);
    free(s);
}
