/* scraper/fetch.c: one HTTP request of a unit, on the manager's libcurl
 * multi handle.
 *
 * Each request gets its own easy handle (connections are still reused: the
 * multi handle keeps the connection cache). The body goes into the unit's
 * buffer, which has the body limit as its size limit: a response past it is
 * aborted from the write callback, so a 100 MB answer costs at most the
 * limit. Content-Encoding is not negotiated: libcurl's own decompression
 * has no size limit, so a gzip body is kept as it came and the pprof
 * decoder gunzips it under its own limits (Go serves pprof as a gzip body
 * anyway).
 *
 * Only http and https are allowed, redirects included (Prometheus follows
 * up to 10). Error messages follow Prometheus' wording where it has one
 * ("server returned HTTP status 500 Internal Server Error"). */
#include "scraper/scrape_int.h"

#include <stdio.h>
#include <string.h>

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct scrape_unit *u = arg;
    if (buf_append(&u->body, data, size * n) != KB_OK) {
        u->too_big = true;
        return 0; /* libcurl aborts with CURLE_WRITE_ERROR */
    }
    return size * n;
}

bool fetch_start(struct scrape_unit *u, CURLM *multi, size_t body_limit,
                 const char *user_agent)
{
    CURL *e = curl_easy_init();
    if (!e) {
        unit_set_result(u, u->started_ms, u->started_ms, false, false,
                        "cannot create a libcurl handle");
        return false;
    }
    buf_free(&u->body);
    buf_init(&u->body, body_limit);
    u->too_big = false;
    u->errbuf[0] = '\0';
    long timeout = (long)u->target->timeout_ms;
    curl_easy_setopt(e, CURLOPT_URL, u->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, u);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, u->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < 10000 ? timeout : 10000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body_limit);
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        unit_set_result(u, u->started_ms, u->started_ms, false, false,
                        "cannot start a libcurl transfer");
        return false;
    }
    u->easy = e;
    return true;
}

void fetch_cancel(struct scrape_unit *u, CURLM *multi)
{
    if (!u->easy)
        return;
    if (multi)
        curl_multi_remove_handle(multi, u->easy);
    curl_easy_cleanup(u->easy);
    u->easy = NULL;
    buf_reset(&u->body);
}

/* The reason phrases of the statuses a target is likely to answer. */
static const char *status_text(long code)
{
    static const struct {
        long code;
        const char *text;
    } texts[] = {
        {301, "Moved Permanently"},  {302, "Found"},
        {400, "Bad Request"},        {401, "Unauthorized"},
        {403, "Forbidden"},          {404, "Not Found"},
        {405, "Method Not Allowed"}, {408, "Request Timeout"},
        {429, "Too Many Requests"},  {500, "Internal Server Error"},
        {502, "Bad Gateway"},        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].code == code)
            return texts[i].text;
    return "";
}

void fetch_finish(struct scrape_unit *u, CURLM *multi, CURLcode code,
                  struct scrape_result *r)
{
    long status = 0;
    curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi, u->easy);
    curl_easy_cleanup(u->easy);
    u->easy = NULL;
    r->u = u;
    r->body = u->body;
    buf_init(&u->body, BUF_NO_LIMIT); /* idle units hold no body memory */
    r->started_ms = u->started_ms;
    r->ok = false;
    r->not_found = false;
    r->msg[0] = '\0';

    if (u->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(r->msg, sizeof(r->msg), "body size limit exceeded (%zu bytes)",
                 r->body.limit);
    } else if (code != CURLE_OK) {
        snprintf(r->msg, sizeof(r->msg), "Get \"%s\": %s", u->url,
                 u->errbuf[0] ? u->errbuf : curl_easy_strerror(code));
    } else if (status != 200) {
        const char *text = status_text(status);
        snprintf(r->msg, sizeof(r->msg), "server returned HTTP status %ld%s%s",
                 status, text[0] ? " " : "", text);
        r->not_found = status == 404;
    } else {
        r->ok = true;
    }
}
