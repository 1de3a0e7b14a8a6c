/* cmd/kilnctl_query.c: `kilnctl query EXPR` and `kilnctl query range EXPR`,
 * which run a query on a kiln server through its Prometheus-shaped HTTP API
 * (/api/v1/query, /api/v1/query_range; docs/api.md) and print the result.
 * User docs: docs/kilnctl.md.
 *
 * Design. The command is a thin client: it checks its flags (times as RFC
 * 3339 or Unix seconds, durations as Prometheus durations or seconds) so
 * that a typo is a usage error (exit 2) before any request, POSTs the
 * parameters as a form with libcurl, and reads the JSON envelope with
 * jansson. --format=json prints the server's body unchanged; text prints a
 * table: for a vector one row per series (the series in Prometheus' text
 * form, `name{label="value"}`, and the value), for a matrix one block per
 * series with a row per point (RFC 3339 time, value), and for a scalar or
 * string the value alone. Values are printed as the server wrote them.
 * Errors of the server (bad_data, execution, timeout, ...) and of the
 * connection are one line on stderr and exit 1.
 *
 * Limits: replies are read up to REPLY_MAX bytes; the request waits for
 * the query timeout (--timeout, else the server's 2 minutes) plus
 * SLACK_S seconds, and CONNECT_S to connect.
 *
 * Ownership: each command frees its buffers, curl handle and JSON before
 * returning; libcurl is initialized and cleaned up around each run.
 */
#include "cmd/kilnctl.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "base/timefmt.h"

#define DEFAULT_SERVER "http://localhost:4770"
#define REPLY_MAX ((size_t)256 << 20)
#define DEFAULT_TIMEOUT_MS (120 * 1000)
#define SLACK_S 10
#define CONNECT_S 10

static const char query_help[] =
    "Usage: kilnctl query [FLAGS] EXPR\n"
    "       kilnctl query range [FLAGS] EXPR --start=T --end=T --step=D\n"
    "\n"
    "Run the query EXPR (PromQL over profiles, docs/query-language.md) on a\n"
    "kiln server: at one time (an instant query, /api/v1/query), or with\n"
    "'range' at every step from start to end (/api/v1/query_range). Print\n"
    "the result as a table, or the server's JSON with --format=json.\n"
    "Times T are RFC 3339 (2026-11-21T08:00:00Z) or Unix seconds\n"
    "(1795248000.5); durations D are Prometheus durations (15s, 1m30s) or\n"
    "seconds.\n"
    "\n"
    "Flags:\n"
    "      --server=URL         the kiln server (default " DEFAULT_SERVER ")\n"
    "      --time=T             instant queries: the evaluation time\n"
    "                           (default: now, the server's clock)\n"
    "      --start=T, --end=T   range queries: the first and last step\n"
    "      --step=D             range queries: the step width\n"
    "      --timeout=D          the query's timeout (default: the server's,\n"
    "                           2m)\n"
    "      --format=text|json   output format (default text)\n"
    "  -h, --help               print this help\n"
    "\n"
    "Exit status: 0 on success, 1 when the server refuses the query or\n"
    "cannot be reached (one line on stderr), 2 on bad usage.\n";

struct query_args {
    const char *server;
    const char *expr;
    const char *time, *start, *end, *step, *timeout;
    int64_t timeout_ms;
    enum kilnctl_format format;
    bool range;
};

/* ---- Flags ---------------------------------------------------------------
 */

static bool valid_time(const char *s)
{
    int64_t ms;
    struct kb_err err;
    return kb_time_parse(s, strlen(s), &ms, &err) == KB_OK;
}

/* A duration flag: a Prometheus duration or seconds, into *ms. */
static bool parse_duration(const char *s, int64_t *ms)
{
    struct kb_err err;
    double v;
    if (kb_duration_parse(s, strlen(s), ms, &err) == KB_OK)
        return true;
    if (!kilnctl_parse_fraction(s, &v) || v * 1000 > (double)INT64_MAX / 2)
        return false;
    *ms = (int64_t)(v * 1000);
    return true;
}

static int parse_args(const char *path, int argc, char **argv,
                      struct query_args *a)
{
    enum { F_SERVER = 256, F_TIME, F_START, F_END, F_STEP, F_TIMEOUT, F_FMT };
    static const struct option longopts[] = {
        {"server", required_argument, NULL, F_SERVER},
        {"time", required_argument, NULL, F_TIME},
        {"start", required_argument, NULL, F_START},
        {"end", required_argument, NULL, F_END},
        {"step", required_argument, NULL, F_STEP},
        {"timeout", required_argument, NULL, F_TIMEOUT},
        {"format", required_argument, NULL, F_FMT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(query_help, stdout);
            return fflush(stdout) == 0 ? KILNCTL_EXIT_OK : KILNCTL_EXIT_FAIL;
        case F_SERVER:
            a->server = optarg;
            break;
        case F_TIME:
        case F_START:
        case F_END:
            if (!valid_time(optarg))
                return kilnctl_usage_error(path,
                                           "bad time '%s': want RFC 3339 or "
                                           "Unix seconds",
                                           optarg);
            *(c == F_TIME    ? &a->time
              : c == F_START ? &a->start
                             : &a->end) = optarg;
            break;
        case F_STEP:
        case F_TIMEOUT: {
            int64_t ms;
            if (!parse_duration(optarg, &ms) || ms <= 0)
                return kilnctl_usage_error(path,
                                           "bad duration '%s': want a "
                                           "positive duration (15s, 1m) or "
                                           "seconds",
                                           optarg);
            if (c == F_STEP) {
                a->step = optarg;
            } else {
                a->timeout = optarg;
                a->timeout_ms = ms;
            }
            break;
        }
        case F_FMT:
            if (!kilnctl_parse_format(optarg, &a->format))
                return kilnctl_usage_error(path,
                                           "bad --format '%s': want text or "
                                           "json",
                                           optarg);
            break;
        default:
            return kilnctl_bad_flag(path, c, argv);
        }
    }
    if (optind >= argc)
        return kilnctl_usage_error(path, "missing EXPR");
    if (argc - optind > 1)
        return kilnctl_usage_error(path,
                                   "expects one EXPR, got %d (quote the "
                                   "query)",
                                   argc - optind);
    a->expr = argv[optind];
    if (a->range && (a->start == NULL || a->end == NULL || a->step == NULL))
        return kilnctl_usage_error(path, "range queries need --start, --end "
                                         "and --step");
    if (a->range && a->time != NULL)
        return kilnctl_usage_error(path, "--time is for instant queries; "
                                         "use --start and --end");
    if (!a->range && (a->start || a->end || a->step))
        return kilnctl_usage_error(path, "--start, --end and --step are for "
                                         "'kilnctl query range'");
    return -1;
}

/* ---- HTTP ----------------------------------------------------------------
 */

/* Where the reply goes: `body`, up to REPLY_MAX bytes. */
struct sink {
    struct buf *body;
    bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    if (s->body->len + size * n > REPLY_MAX) {
        s->too_big = true;
        return 0;
    }
    return buf_append(s->body, p, size * n) == KB_OK ? size * n : 0;
}

/* Append "&name=value" (URL-encoded) to the form when value is set. */
static void form_add(CURL *h, struct buf *form, const char *name,
                     const char *value)
{
    if (value == NULL)
        return;
    char *e = curl_easy_escape(h, value, 0);
    buf_printf(form, "%s%s=%s", form->len ? "&" : "", name, e ? e : "");
    curl_free(e);
}

/* POST the query to the server; the reply body into `body`, its status
 * into *code. KILNCTL_EXIT_OK or a printed failure. */
static int post_query(const struct query_args *a, struct buf *body, long *code)
{
    struct buf url, form;
    buf_init(&url, BUF_NO_LIMIT);
    buf_init(&form, BUF_NO_LIMIT);
    int rc = KILNCTL_EXIT_FAIL;
    CURL *h = curl_easy_init();
    if (h == NULL) {
        rc = kilnctl_fail("cannot initialize libcurl");
        goto done;
    }
    const char *server = a->server ? a->server : DEFAULT_SERVER;
    size_t slen = strlen(server);
    while (slen > 0 && server[slen - 1] == '/')
        slen--;
    buf_printf(&url, "%s%.*s/api/v1/%s",
               strstr(server, "://") != NULL ? "" : "http://", (int)slen,
               server, a->range ? "query_range" : "query");
    form_add(h, &form, "query", a->expr);
    form_add(h, &form, "time", a->time);
    form_add(h, &form, "start", a->start);
    form_add(h, &form, "end", a->end);
    form_add(h, &form, "step", a->step);
    form_add(h, &form, "timeout", a->timeout);
    int64_t wait_ms = a->timeout ? a->timeout_ms : DEFAULT_TIMEOUT_MS;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, buf_cstr(&url));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, buf_cstr(&form));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    struct sink sink = {body, false};
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(wait_ms / 1000 + SLACK_S));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kilnctl");
    CURLcode cc = curl_easy_perform(h);
    if (sink.too_big)
        rc = kilnctl_fail("%s: reply larger than %zu MiB", buf_cstr(&url),
                          REPLY_MAX >> 20);
    else if (cc != CURLE_OK)
        rc = kilnctl_fail("%s: %s", buf_cstr(&url),
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
        rc = KILNCTL_EXIT_OK;
    }
done:
    curl_easy_cleanup(h);
    buf_free(&url);
    buf_free(&form);
    return rc;
}

/* ---- Output --------------------------------------------------------------
 */

/* A label value in double quotes with Prometheus' escapes. */
static void put_quoted(struct buf *o, const char *s)
{
    buf_putc(o, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_printf(o, "\\%c", *s);
        else if (*s == '\n')
            buf_puts(o, "\\n");
        else
            buf_putc(o, *s);
    }
    buf_putc(o, '"');
}

/* A series' labels in Prometheus' text form: name{a="b",c="d"}. */
static void put_metric(struct buf *o, json_t *metric)
{
    json_t *name = json_object_get(metric, "__name__");
    if (json_is_string(name))
        buf_puts(o, json_string_value(name));
    buf_putc(o, '{');
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach(metric, k, v)
    {
        if (strcmp(k, "__name__") == 0 || !json_is_string(v))
            continue;
        buf_printf(o, "%s%s=", first ? "" : ",", k);
        put_quoted(o, json_string_value(v));
        first = false;
    }
    buf_putc(o, '}');
}

/* A [seconds, "value"] pair: the value, with the time as RFC 3339 into
 * `t` when t is not NULL. NULL when the pair is malformed. */
static const char *pair_value(json_t *pair, char t[KB_TIME_STR_MAX])
{
    json_t *ts = json_array_get(pair, 0), *v = json_array_get(pair, 1);
    if (!json_is_number(ts) || !json_is_string(v))
        return NULL;
    if (t != NULL)
        kb_time_format((int64_t)llround(json_number_value(ts) * 1000), t);
    return json_string_value(v);
}

/* The vector table: a header, then "METRIC  VALUE" per series. */
static bool put_vector(struct buf *o, json_t *result)
{
    size_t n = json_array_size(result), width = strlen("METRIC");
    struct buf *names = kb_calloc(n + 1, sizeof(*names));
    const char **values = kb_calloc(n + 1, sizeof(*values));
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        json_t *s = json_array_get(result, i);
        buf_init(&names[i], BUF_NO_LIMIT);
        put_metric(&names[i], json_object_get(s, "metric"));
        values[i] = pair_value(json_object_get(s, "value"), NULL);
        ok = values[i] != NULL;
        if (names[i].len > width)
            width = names[i].len;
    }
    if (ok && n > 0) {
        buf_printf(o, "%-*s  %s\n", (int)width, "METRIC", "VALUE");
        for (size_t i = 0; i < n; i++)
            buf_printf(o, "%-*s  %s\n", (int)width, buf_cstr(&names[i]),
                       values[i]);
    }
    for (size_t i = 0; i < n; i++)
        buf_free(&names[i]);
    free(names);
    free(values);
    return ok;
}

/* The matrix: per series its metric line, then "  TIME  VALUE" rows. */
static bool put_matrix(struct buf *o, json_t *result)
{
    for (size_t i = 0; i < json_array_size(result); i++) {
        json_t *s = json_array_get(result, i);
        json_t *values = json_object_get(s, "values");
        if (!json_is_array(values))
            return false;
        if (i > 0)
            buf_putc(o, '\n');
        put_metric(o, json_object_get(s, "metric"));
        buf_putc(o, '\n');
        for (size_t k = 0; k < json_array_size(values); k++) {
            char t[KB_TIME_STR_MAX];
            const char *v = pair_value(json_array_get(values, k), t);
            if (v == NULL)
                return false;
            buf_printf(o, "  %s  %s\n", t, v);
        }
    }
    return true;
}

/* The text form of a success reply's data; false if it is malformed. */
static bool put_data(struct buf *o, json_t *data)
{
    const char *type = json_string_value(json_object_get(data, "resultType"));
    json_t *result = json_object_get(data, "result");
    if (type == NULL || !json_is_array(result))
        return false;
    if (strcmp(type, "vector") == 0)
        return put_vector(o, result);
    if (strcmp(type, "matrix") == 0)
        return put_matrix(o, result);
    if (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0) {
        const char *v = pair_value(result, NULL);
        if (v != NULL)
            buf_printf(o, "%s\n", v);
        return v != NULL;
    }
    return false;
}

/* Judge the reply and print it. */
static int print_reply(const struct query_args *a, struct buf *body, long code)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body->data, body->len, 0, &jerr);
    const char *status = json_string_value(json_object_get(root, "status"));
    int rc;
    if (status == NULL) {
        char ex[KB_EXCERPT_MAX];
        rc = kilnctl_fail("the server answered HTTP %ld without Prometheus' "
                          "JSON envelope: %s",
                          code,
                          kb_excerpt(ex, sizeof(ex), body->data, body->len));
    } else if (strcmp(status, "success") != 0) {
        const char *type =
            json_string_value(json_object_get(root, "errorType"));
        const char *msg = json_string_value(json_object_get(root, "error"));
        rc = kilnctl_fail("query failed (HTTP %ld, %s): %s", code,
                          type ? type : "unknown", msg ? msg : "no message");
    } else if (a->format == KILNCTL_FORMAT_JSON) {
        buf_putc(body, '\n');
        rc = kilnctl_write_stdout(body);
    } else {
        struct buf out;
        buf_init(&out, BUF_NO_LIMIT);
        if (put_data(&out, json_object_get(root, "data")))
            rc = kilnctl_write_stdout(&out);
        else
            rc = kilnctl_fail("the server's reply has no valid query result");
        buf_free(&out);
    }
    json_decref(root);
    return rc;
}

static int run(const char *path, int argc, char **argv, bool range)
{
    struct query_args a = {.range = range};
    int rc = parse_args(path, argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kilnctl_fail("cannot initialize libcurl");
    struct buf body;
    buf_init(&body, BUF_NO_LIMIT);
    long code = 0;
    rc = post_query(&a, &body, &code);
    if (rc == KILNCTL_EXIT_OK)
        rc = print_reply(&a, &body, code);
    buf_free(&body);
    curl_global_cleanup();
    return rc;
}

int kilnctl_query_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "range") == 0)
        return run("kilnctl query range", argc - 1, argv + 1, true);
    return run("kilnctl query", argc, argv, false);
}
