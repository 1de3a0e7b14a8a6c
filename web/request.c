/* web/request.c: the request as handlers see it: method, path, and the
 * parameters of the URL query and of form bodies.
 *
 * Design. Parameters follow Go's Request.Form, which Prometheus' API reads:
 * for POST, PUT and PATCH with Content-Type
 * application/x-www-form-urlencoded the body's parameters come first, then
 * the URL query's; repeated names keep every value in order. The query is
 * decoded by libmicrohttpd ('+' and %XX); the body is decoded here, where
 * a '%' without two hex digits is an error naming the escape, as Go's
 * url.ParseQuery. Both are copied into one array of (name, value) pairs
 * that lookups scan: a request has few parameters, and the body (the only
 * large source) is at most WEB_BODY_MAX bytes.
 *
 * Ownership: the request owns its parameter strings and body; method and
 * path point into libmicrohttpd's connection, valid until completion.
 * The reply half of the request is reply.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/text.h"
#include "web/internal.h"

struct web_request *web_request_new(struct MHD_Connection *conn,
                                    const struct web_options *opts,
                                    const char *method, const char *path)
{
    struct web_request *rq = kb_calloc(1, sizeof(*rq));
    rq->conn = conn;
    rq->opts = opts;
    rq->method = method;
    rq->path = path;
    rq->rest = strlen(path);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    rq->start_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    buf_init(&rq->body, WEB_BODY_MAX);
    buf_init(&rq->reply, WEB_REPLY_MAX);
    return rq;
}

void web_request_free(struct web_request *rq)
{
    if (rq == NULL)
        return;
    for (size_t i = 0; i < rq->n_params; i++) {
        free(rq->params[i].name);
        free(rq->params[i].value);
    }
    free(rq->params);
    for (size_t i = 0; i < rq->n_headers; i++) {
        free(rq->headers[i][0]);
        free(rq->headers[i][1]);
    }
    free(rq->content_type);
    buf_free(&rq->body);
    buf_free(&rq->reply);
    free(rq);
}

void web_request_add_body(struct web_request *rq, const char *data, size_t n)
{
    if (!rq->body_too_big && buf_append(&rq->body, data, n) != KB_OK)
        rq->body_too_big = true;
}

static void add_param(struct web_request *rq, char *name, char *value)
{
    rq->params = kb_grow(rq->params, &rq->cap_params, rq->n_params + 1,
                         sizeof(*rq->params));
    rq->params[rq->n_params].name = name;
    rq->params[rq->n_params].value = value;
    rq->n_params++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..n) ('+' is a space, %XX a byte) into a new string. */
static char *form_decode(const char *s, size_t n, struct kb_err *err)
{
    char *out = kb_malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] != '%') {
            *o++ = s[i];
        } else if (i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
                   hex_digit(s[i + 2]) >= 0) {
            *o++ = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        } else {
            char ex[KB_EXCERPT_MAX];
            size_t k = n - i < 3 ? n - i : 3;
            kb_errf(err, KB_ERR_INVALID, "invalid URL escape \"%s\"",
                    kb_excerpt(ex, sizeof(ex), s + i, k));
            free(out);
            return NULL;
        }
    }
    *o = '\0';
    return out;
}

/* Whether the request carries a form body Go would parse. */
static bool has_form_body(const struct web_request *rq)
{
    if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "PUT") != 0 &&
        strcmp(rq->method, "PATCH") != 0)
        return false;
    const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char form[] = "application/x-www-form-urlencoded";
    if (ct == NULL || strncasecmp(ct, form, sizeof(form) - 1) != 0)
        return false;
    char next = ct[sizeof(form) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

static enum kb_status parse_form(struct web_request *rq, struct kb_err *err)
{
    const char *p = buf_cstr(&rq->body), *end = p + rq->body.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *name_end = eq != NULL ? eq : stop;
            char *name = form_decode(p, (size_t)(name_end - p), err);
            char *value = NULL;
            if (name != NULL && eq != NULL)
                value = form_decode(eq + 1, (size_t)(stop - eq - 1), err);
            else if (name != NULL)
                value = kb_strdup("");
            if (value == NULL) {
                free(name);
                return err != NULL ? err->status : KB_ERR_INVALID;
            }
            add_param(rq, name, value);
        }
        p = stop + 1;
    }
    return KB_OK;
}

static enum MHD_Result add_query_param(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *value)
{
    add_param(cls, kb_strdup(key), kb_strdup(value != NULL ? value : ""));
    return MHD_YES;
}

enum kb_status web_request_parse_params(struct web_request *rq,
                                        struct kb_err *err)
{
    if (has_form_body(rq) && parse_form(rq, err) != KB_OK)
        return kb_err_prefix(err, "error parsing form values");
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, add_query_param,
                              rq);
    return KB_OK;
}

const char *web_method(const struct web_request *rq)
{
    return rq->method;
}

const char *web_path(const struct web_request *rq)
{
    return rq->path;
}

const char *web_path_rest(const struct web_request *rq)
{
    return rq->path + rq->rest;
}

const struct web_options *web_options_of(const struct web_request *rq)
{
    return rq->opts;
}

const char *web_param_at(const struct web_request *rq, const char *name,
                         size_t i)
{
    for (size_t k = 0; k < rq->n_params; k++)
        if (strcmp(rq->params[k].name, name) == 0 && i-- == 0)
            return rq->params[k].value;
    return NULL;
}

const char *web_param(const struct web_request *rq, const char *name)
{
    return web_param_at(rq, name, 0);
}
