/* web/internal.h: what server.c, request.c, reply.c and listen.c share:
 * the request record behind handler.h's opaque struct web_request, and
 * the listening socket. Handlers use handler.h only. */
#ifndef KILN_WEB_INTERNAL_H
#define KILN_WEB_INTERNAL_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "base/status.h"
#include "web/handler.h"

#define WEB_HEADERS_MAX 8

struct web_param_pair {
    char *name;
    char *value;
};

/* One request, from its headers to its completion. Owned by the
 * connection (libmicrohttpd's per-request pointer); freed by
 * web_request_free once the reply is sent or the connection is gone. */
struct web_request {
    struct MHD_Connection *conn;
    const struct web_options *opts;
    const char *method; /* libmicrohttpd's, valid until completion */
    const char *path;
    const struct web_route *route; /* NULL: no route has this path */
    size_t rest;                   /* offset of web_path_rest in path */
    double start_s;                /* CLOCK_MONOTONIC, at the headers */

    struct web_param_pair *params; /* body's first, then the query's */
    size_t n_params, cap_params;
    struct buf body; /* at most WEB_BODY_MAX */
    bool body_too_big;

    /* The reply: code 0 until a handler makes one. */
    unsigned code;
    char *content_type;
    struct buf reply;
    struct jsonw json;
    bool json_open; /* web_json_begin without web_json_end yet */
    char *headers[WEB_HEADERS_MAX][2];
    size_t n_headers;
    bool queued; /* handed to libmicrohttpd */

    void (*after)(void *arg);
    void *after_arg;
};

/* request.c */

/* A new request for `path`. */
struct web_request *web_request_new(struct MHD_Connection *conn,
                                    const struct web_options *opts,
                                    const char *method, const char *path);
void web_request_free(struct web_request *rq);
/* Append upload bytes to the body, up to WEB_BODY_MAX; past it the body
 * is marked too big and the rest is dropped. */
void web_request_add_body(struct web_request *rq, const char *data, size_t n);
/* Collect the parameters: the body's when it is a form (see web_param),
 * then the URL query's. KB_ERR_INVALID names a bad percent escape in the
 * body. */
enum kb_status web_request_parse_params(struct web_request *rq,
                                        struct kb_err *err);

/* listen.c */

/* Parse `addr` (see web_options.listen_address), then create, bind and
 * listen on a non-blocking socket. Returns the socket and its family, or
 * -1 with `err` filled (KB_ERR_INVALID: the address; KB_ERR_IO: the
 * socket calls, as "listen ADDR: reason"). */
int web_listen(const char *addr, int *family, struct kb_err *err);

#endif
