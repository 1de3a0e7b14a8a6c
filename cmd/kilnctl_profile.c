/* cmd/kilnctl_profile.c: `kilnctl profile`, which fetches a merged profile
 * from a running kiln server (/api/v1/profile) and writes it to a file or
 * stdout. User docs: docs/kilnctl.md and docs/api.md.
 *
 *   kilnctl profile [--server=URL] SELECTOR [--start=T] [--end=T]
 *                   [-o FILE] [--format=F] [--max-nodes=N]
 *
 * Design. One POST of the parameters as a form (a selector may be long;
 * the server reads forms like Prometheus), over libcurl's easy interface.
 * The format follows the output file's extension (.pb.gz, .pb, .pprof:
 * pprof; .svg; .json; .txt, .collapsed, .folded: collapsed stacks) unless
 * --format says otherwise; stdout gets collapsed stacks by default. Times
 * are checked here (a typo is a usage error, exit 2, before any request)
 * and passed as written. A reply other
 * than 200 is an error: the message of Prometheus' error envelope
 * ("bad_data: ...") when the body is one, else the HTTP status. The file
 * is written to FILE.tmp, synced and renamed, so a failed fetch never
 * leaves a partial FILE.
 *
 * Limits: the reply is at most REPLY_MAX bytes (the server's own limit),
 * the transfer at most TIMEOUT_S seconds.
 *
 * Ownership: the reply buffer and curl handle are freed before return.
 */
#include "cmd/kilnctl.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"
#include "base/timefmt.h"

#define DEFAULT_SERVER "http://localhost:4770"
#define REPLY_MAX ((size_t)512 << 20)
#define TIMEOUT_S 300L
#define CONNECT_TIMEOUT_S 10L

static const char profile_help[] =
    "Usage: kilnctl profile [flags] SELECTOR\n"
    "\n"
    "Fetch the merged profile of the series that SELECTOR matches (a\n"
    "PromQL selector such as 'cpu{job=\"api\"}', with the stack matchers\n"
    "__function__ and __leaf__ as focus filters) over a time range from a\n"
    "kiln server's /api/v1/profile, and write it to FILE or stdout.\n"
    "\n"
    "Flags:\n"
    "  --server=URL      the kiln server (default " DEFAULT_SERVER ")\n"
    "  --start=T         start of the range: RFC 3339 or Unix seconds\n"
    "                    (default: one hour before the end)\n"
    "  --end=T           end of the range (default: now)\n"
    "  -o FILE           write to FILE; its extension picks the format:\n"
    "                    .pb.gz .pb .pprof (pprof), .svg (flame graph),\n"
    "                    .json (flame-graph tree), .txt .collapsed .folded\n"
    "                    (collapsed stacks)\n"
    "  --format=F        pprof, svg, json or collapsed, whatever the file\n"
    "                    name (default for stdout: collapsed)\n"
    "  --max-nodes=N     json and svg: at most N nodes, the rest folded into\n"
    "                    \"other\" nodes (the server's default: 1024)\n"
    "  -h, --help        print this help\n";

static const char *const formats[] = {"pprof", "svg", "json", "collapsed"};

static bool valid_time(const char *s)
{
    int64_t ms;
    struct kb_err err;
    return kb_time_parse(s, strlen(s), &ms, &err) == KB_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The format an output file's name implies, or NULL. */
static const char *format_of_file(const char *path)
{
    static const struct {
        const char *ext, *format;
    } exts[] = {
        {".pb.gz", "pprof"},         {".pb", "pprof"},
        {".pprof", "pprof"},         {".svg", "svg"},
        {".json", "json"},           {".txt", "collapsed"},
        {".collapsed", "collapsed"}, {".folded", "collapsed"},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (ends_with(path, exts[i].ext))
            return exts[i].format;
    return NULL;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, p, size * n) == KB_OK ? size * n : 0;
}

/* Append "&name=<escaped value>" (no '&' for the first) to `form`. */
static void add_field(CURL *c, struct buf *form, const char *name,
                      const char *value)
{
    if (value == NULL)
        return;
    char *esc = curl_easy_escape(c, value, 0);
    buf_printf(form, "%s%s=%s", form->len ? "&" : "", name, esc ? esc : "");
    curl_free(esc);
}

/* The message of a failed reply: Prometheus' envelope's error, or the
 * status. */
static int reply_failure(long code, const struct buf *body)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body->data, body->len, 0, &jerr);
    const char *type = json_string_value(json_object_get(root, "errorType"));
    const char *msg = json_string_value(json_object_get(root, "error"));
    int rc;
    if (msg != NULL)
        rc = kilnctl_fail("server answered %ld: %s: %s", code,
                          type ? type : "error", msg);
    else
        rc = kilnctl_fail("server answered HTTP %ld", code);
    json_decref(root);
    return rc;
}

struct profile_args {
    const char *server, *selector, *start, *end, *out, *format, *max_nodes;
};

/* POST the form and collect the reply into `body`; the HTTP code into
 * *code. */
static int fetch(const struct profile_args *a, struct buf *body, long *code)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return kilnctl_fail("cannot start libcurl");
    struct buf url, form;
    buf_init(&url, BUF_NO_LIMIT);
    buf_init(&form, BUF_NO_LIMIT);
    size_t slen = strlen(a->server);
    while (slen > 0 && a->server[slen - 1] == '/')
        slen--;
    buf_append(&url, a->server, slen);
    buf_puts(&url, "/api/v1/profile");
    add_field(c, &form, "query", a->selector);
    add_field(c, &form, "start", a->start);
    add_field(c, &form, "end", a->end);
    add_field(c, &form, "format", a->format);
    add_field(c, &form, "max_nodes", a->max_nodes);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, buf_cstr(&url));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, buf_cstr(&form));
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form.len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kilnctl");
    CURLcode res = curl_easy_perform(c);
    int rc = KILNCTL_EXIT_OK;
    if (res == CURLE_WRITE_ERROR)
        rc = kilnctl_fail("%s: reply larger than %zu bytes", buf_cstr(&url),
                          REPLY_MAX);
    else if (res != CURLE_OK)
        rc = kilnctl_fail("%s: %s", buf_cstr(&url),
                          errbuf[0] ? errbuf : curl_easy_strerror(res));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_easy_cleanup(c);
    buf_free(&url);
    buf_free(&form);
    return rc;
}

/* Write the reply to a.out (through a.out.tmp) or stdout. */
static int write_out(const char *out, struct buf *body)
{
    if (out == NULL)
        return kilnctl_write_stdout(body);
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp))
        return kilnctl_fail("%s: path too long", out);
    struct kb_err err;
    if (kb_file_write_sync(tmp, body->data, body->len, &err) != KB_OK)
        return kilnctl_fail("%s", err.msg);
    if (rename(tmp, out) != 0) {
        remove(tmp);
        return kilnctl_fail("%s: cannot rename %s over it", out, tmp);
    }
    return KILNCTL_EXIT_OK;
}

int kilnctl_profile_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 'S'},
        {"start", required_argument, NULL, 's'},
        {"end", required_argument, NULL, 'e'},
        {"format", required_argument, NULL, 'f'},
        {"max-nodes", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = "kilnctl profile";
    struct profile_args a = {.server = DEFAULT_SERVER};
    size_t max_nodes;
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            a.server = optarg;
            break;
        case 's':
        case 'e':
            if (!valid_time(optarg))
                return kilnctl_usage_error(path,
                                           "--%s: \"%s\" is not an RFC 3339 "
                                           "time or Unix seconds",
                                           c == 's' ? "start" : "end", optarg);
            *(c == 's' ? &a.start : &a.end) = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'f':
            a.format = optarg;
            break;
        case 'n':
            if (!kilnctl_parse_size(optarg, &max_nodes) || max_nodes == 0)
                return kilnctl_usage_error(path,
                                           "--max-nodes: \"%s\" is not a "
                                           "positive count",
                                           optarg);
            a.max_nodes = optarg;
            break;
        case 'h':
            fputs(profile_help, stdout);
            return KILNCTL_EXIT_OK;
        default:
            return kilnctl_bad_flag(path, c, argv);
        }
    }
    if (optind + 1 != argc)
        return kilnctl_usage_error(path, "expected one selector");
    a.selector = argv[optind];
    if (a.format != NULL) {
        bool known = false;
        for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
            known = known || strcmp(a.format, formats[i]) == 0;
        if (!known)
            return kilnctl_usage_error(path,
                                       "--format: \"%s\" is not pprof, svg, "
                                       "json or collapsed",
                                       a.format);
    } else if (a.out != NULL) {
        a.format = format_of_file(a.out);
        if (a.format == NULL)
            return kilnctl_usage_error(path,
                                       "-o %s: unknown extension; name the "
                                       "format with --format",
                                       a.out);
    } else {
        a.format = "collapsed";
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kilnctl_fail("cannot initialize libcurl");
    struct buf body;
    buf_init(&body, REPLY_MAX);
    long code = 0;
    int rc = fetch(&a, &body, &code);
    if (rc == KILNCTL_EXIT_OK && code != 200)
        rc = reply_failure(code, &body);
    if (rc == KILNCTL_EXIT_OK)
        rc = write_out(a.out, &body);
    buf_free(&body);
    curl_global_cleanup();
    return rc;
}
