/* web/reply.c: replies: text, raw bodies, and Prometheus' JSON envelope.
 *
 * Design. A handler's reply is recorded in the request (code, content
 * type, body, extra headers) and handed to libmicrohttpd by server.c once
 * the handler returns, so a handler never touches libmicrohttpd and a
 * later reply simply replaces an earlier one. JSON replies are written
 * straight into the reply buffer by base/jsonw: web_json_begin writes
 * {"status":"success","data": and web_json_end the closing brace.
 * Errors are {"status":"error","errorType":"...","error":"..."} with the
 * HTTP code Prometheus uses for the type (400 bad_data, 404 not_found,
 * 422 execution, 500 internal, 503 timeout, canceled and unavailable).
 *
 * Ownership: the request owns the reply buffer, content type and headers;
 * web_reply takes the caller's buffer content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "web/internal.h"

/* Longest error message kept. */
#define ERROR_MSG_MAX 4096

static const struct {
    const char *name;
    unsigned code;
} error_types[] = {
    [WEB_ERR_BAD_DATA] = {"bad_data", 400},
    [WEB_ERR_NOT_FOUND] = {"not_found", 404},
    [WEB_ERR_EXECUTION] = {"execution", 422},
    [WEB_ERR_INTERNAL] = {"internal", 500},
    [WEB_ERR_TIMEOUT] = {"timeout", 503},
    [WEB_ERR_CANCELED] = {"canceled", 503},
    [WEB_ERR_UNAVAILABLE] = {"unavailable", 503},
};

static void set_reply(struct web_request *rq, unsigned code,
                      const char *content_type)
{
    rq->code = code;
    rq->json_open = false;
    free(rq->content_type);
    rq->content_type = kb_strdup(content_type);
}

void web_reply(struct web_request *rq, unsigned code, const char *content_type,
               struct buf *body)
{
    buf_free(&rq->reply);
    rq->reply = *body;
    buf_init(body, body->limit);
    set_reply(rq, code, content_type);
}

void web_reply_text(struct web_request *rq, unsigned code, const char *fmt, ...)
{
    buf_reset(&rq->reply);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&rq->reply, fmt, ap);
    va_end(ap);
    set_reply(rq, code, "text/plain; charset=utf-8");
}

void web_reply_header(struct web_request *rq, const char *name,
                      const char *value)
{
    if (rq->n_headers == WEB_HEADERS_MAX)
        return;
    rq->headers[rq->n_headers][0] = kb_strdup(name);
    rq->headers[rq->n_headers][1] = kb_strdup(value);
    rq->n_headers++;
}

enum web_error web_error_from_status(enum kb_status st)
{
    switch (st) {
    case KB_ERR_INVALID:
    case KB_ERR_LIMIT:
    case KB_ERR_USAGE:
        return WEB_ERR_BAD_DATA;
    case KB_ERR_NOT_FOUND:
        return WEB_ERR_NOT_FOUND;
    case KB_ERR_MISMATCH:
    case KB_ERR_UNSUPPORTED:
        return WEB_ERR_EXECUTION;
    case KB_OK:
    case KB_ERR_IO:
    case KB_ERR_INTERNAL:
        break;
    }
    return WEB_ERR_INTERNAL;
}

static void vreply_error(struct web_request *rq, enum web_error type,
                         const char *fmt, va_list ap)
{
    struct buf msg;
    buf_init(&msg, ERROR_MSG_MAX);
    if (buf_vprintf(&msg, fmt, ap) != KB_OK)
        buf_puts(&msg, "(error message too long)");
    buf_reset(&rq->reply);
    struct jsonw w;
    jsonw_init(&w, &rq->reply);
    jsonw_object_begin(&w);
    jsonw_key(&w, "status");
    jsonw_string(&w, "error");
    jsonw_key(&w, "errorType");
    jsonw_string(&w, error_types[type].name);
    jsonw_key(&w, "error");
    jsonw_stringn(&w, (const char *)msg.data, msg.len);
    jsonw_object_end(&w);
    buf_free(&msg);
    /* The message is bounded and the reply buffer far larger. */
    jsonw_finish(&w, NULL);
    set_reply(rq, error_types[type].code, "application/json");
}

void web_reply_error(struct web_request *rq, enum web_error type,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreply_error(rq, type, fmt, ap);
    va_end(ap);
}

struct jsonw *web_json_begin(struct web_request *rq)
{
    buf_reset(&rq->reply);
    rq->code = 0;
    rq->json_open = true;
    jsonw_init(&rq->json, &rq->reply);
    jsonw_object_begin(&rq->json);
    jsonw_key(&rq->json, "status");
    jsonw_string(&rq->json, "success");
    jsonw_key(&rq->json, "data");
    return &rq->json;
}

void web_json_end(struct web_request *rq)
{
    if (!rq->json_open)
        return;
    jsonw_object_end(&rq->json);
    struct kb_err err = {0};
    if (jsonw_finish(&rq->json, &err) != KB_OK) {
        web_reply_error(rq, WEB_ERR_INTERNAL, "writing the reply: %s", err.msg);
        return;
    }
    set_reply(rq, 200, "application/json");
}

void web_after_reply(struct web_request *rq, void (*fn)(void *arg), void *arg)
{
    rq->after = fn;
    rq->after_arg = arg;
}
