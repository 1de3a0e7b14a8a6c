/* tests/unit/test_web.c: the HTTP server (web/) over loopback with libcurl:
 * routing (404, 405 with Allow, prefixes), health, readiness, lifecycle
 * (enabled, disabled, failing reload, quit after the reply), buildinfo,
 * the targets API field by field (parsed with jansson) and its filters,
 * parameters from queries and form bodies, Prometheus' error envelope and
 * codes, body limits, listen addresses and bind errors, a blocked hook not
 * holding up other requests, request metrics, and promtool accepting
 * /metrics. */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "web/handler.h"
#include "tests/unit/unit.h"

/* Generous: the machine may be loaded. */
#define WAIT_S 60

/* HTTP client. */

struct resp {
    long code;
    char *body; /* NUL-terminated */
    size_t len;
    char ctype[128];
    char allow[128];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    r->body = kb_realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static void header_value(const char *line, size_t n, const char *name,
                         char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    while (*v == ' ')
        v++;
    size_t len = (size_t)(line + n - v);
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    header_value(p, size * n, "Content-Type", r->ctype, sizeof(r->ctype));
    header_value(p, size * n, "Allow", r->allow, sizeof(r->allow));
    return size * n;
}

/* METHOD http://HOST:PORT/PATH with an optional body of content type
 * `ctype`, sent chunked (no Content-Length) if `chunked`. */
static struct resp http_full(const char *method, const char *host,
                             uint16_t port, const char *path, const char *body,
                             const char *ctype, bool chunked)
{
    struct resp r = {0};
    r.body = kb_calloc(1, 1);
    char url[512];
    snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WAIT_S);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    struct curl_slist *hdrs = NULL;
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        char h[160];
        snprintf(h, sizeof(h), "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, h);
        if (chunked)
            hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        printf("# %s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

static struct resp http_host(const char *method, const char *host,
                             uint16_t port, const char *path, const char *body,
                             const char *ctype)
{
    return http_full(method, host, port, path, body, ctype, false);
}

static uint16_t port; /* the main server's */

static struct resp http(const char *method, const char *path)
{
    return http_host(method, "127.0.0.1", port, path, NULL, NULL);
}

static void resp_free(struct resp *r)
{
    free(r->body);
}

/* Check a response's code and exact body, then free it. */
#define CHECK_RESP(r, want_code, want_body)                                    \
    do {                                                                       \
        struct resp r_ = (r);                                                  \
        CHECK_INT(r_.code, want_code);                                         \
        CHECK_STR(r_.body, want_body);                                         \
        resp_free(&r_);                                                        \
    } while (0)

/* A response body parsed as JSON (NULL with a diagnostic if it is not). */
static json_t *parse(const struct resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->len, 0, &e);
    if (j == NULL)
        printf("# not JSON (%s): %.200s\n", e.text, r->body);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Fake hooks. */

struct fake {
    atomic_bool ready;
    atomic_int reloads;
    bool reload_fails;
    atomic_int quits;
    bool targets_fail;
    /* Blocking the targets hook: it sets entered and waits for release. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool block, entered, release;
};

static struct fake fake = {.mu = PTHREAD_MUTEX_INITIALIZER,
                           .cond = PTHREAD_COND_INITIALIZER};

static bool fake_ready(void *arg)
{
    return atomic_load(&((struct fake *)arg)->ready);
}

static enum kb_status fake_reload(void *arg, struct kb_err *err)
{
    struct fake *f = arg;
    atomic_fetch_add(&f->reloads, 1);
    if (f->reload_fails)
        return kb_errf(err, KB_ERR_INVALID,
                       "kiln.yml:3: unknown field \"scrape_intervall\"");
    return KB_OK;
}

static void fake_quit(void *arg)
{
    atomic_fetch_add(&((struct fake *)arg)->quits, 1);
}

static struct labels *mklabels(const char *a, const char *b, const char *c,
                               const char *d, const char *e, const char *f)
{
    struct labels *ls = NULL;
    struct kb_err err;
    if (labels_from_strings(&ls, &err, a, b, c, d, e, f, NULL) != KB_OK)
        printf("# labels: %s\n", err.msg);
    return ls;
}

static void mkprofile(struct scrape_target_profile *p, const char *name,
                      const char *url, enum scrape_health h, const char *e,
                      int64_t ms, double dur)
{
    p->name = kb_strdup(name);
    p->url = kb_strdup(url);
    p->health = h;
    p->last_error = kb_strdup(e);
    p->last_scrape_ms = ms;
    p->last_duration_s = dur;
}

#define T0 1795244400123 /* 2026-11-21T07:00:00.123Z */

static void fill_targets(struct scrape_target_list *l)
{
    l->n_active = 2;
    l->active = kb_calloc(2, sizeof(*l->active));
    struct scrape_target_info *a = &l->active[0];
    a->scrape_pool = kb_strdup("api");
    a->discovered = mklabels("__address__", "127.0.0.1:6060", "__scheme__",
                             "http", "job", "api");
    a->labels =
        mklabels("instance", "127.0.0.1:6060", "job", "api", NULL, NULL);
    a->scrape_url =
        kb_strdup("http://127.0.0.1:6060/debug/pprof/profile?seconds=10");
    a->health = SCRAPE_HEALTH_DOWN;
    a->last_error = kb_strdup("server returned HTTP status 500");
    a->last_scrape_ms = T0;
    a->last_duration_s = 0.012;
    a->interval_ms = 10000;
    a->timeout_ms = 15000;
    a->n_profiles = 2;
    a->profiles = kb_calloc(2, sizeof(*a->profiles));
    mkprofile(&a->profiles[0], "cpu", a->scrape_url, SCRAPE_HEALTH_UP, "",
              T0 - 10000, 10.004);
    mkprofile(&a->profiles[1], "memory",
              "http://127.0.0.1:6060/debug/pprof/heap", SCRAPE_HEALTH_DOWN,
              "server returned HTTP status 500", T0, 0.012);

    struct scrape_target_info *b = &l->active[1];
    b->scrape_pool = kb_strdup("db");
    b->discovered = mklabels("__address__", "db:6060", "job", "db", NULL, NULL);
    b->labels = mklabels("instance", "db:6060", "job", "db", NULL, NULL);
    b->scrape_url = kb_strdup("http://db:6060/debug/pprof/heap");
    b->last_error = kb_strdup("");
    b->interval_ms = 90000;
    b->timeout_ms = 100000;

    l->n_dropped = 3;
    l->dropped = kb_calloc(3, sizeof(*l->dropped));
    const char *pools[] = {"api", "batch", "batch"};
    const char *addrs[] = {"10.0.0.1:6060", "10.0.0.2:6060", "10.0.0.3:6060"};
    for (int i = 0; i < 3; i++) {
        l->dropped[i].scrape_pool = kb_strdup(pools[i]);
        l->dropped[i].discovered =
            mklabels("__address__", addrs[i], "job", pools[i], NULL, NULL);
        l->dropped[i].last_error = kb_strdup("");
    }
}

static enum kb_status fake_targets(void *arg, struct scrape_target_list *out,
                                   struct kb_err *err)
{
    struct fake *f = arg;
    pthread_mutex_lock(&f->mu);
    if (f->block) {
        f->entered = true;
        pthread_cond_broadcast(&f->cond);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WAIT_S;
        while (!f->release &&
               pthread_cond_timedwait(&f->cond, &f->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&f->mu);
    /* A partial snapshot before a failure: the server must free it. */
    fill_targets(out);
    if (f->targets_fail)
        return kb_errf(err, KB_ERR_IO, "scrape manager: shutting down");
    return KB_OK;
}

static struct metrics_registry *registry;

static struct web_options options(const char *addr, bool lifecycle)
{
    struct web_options o = {0};
    o.listen_address = addr;
    o.enable_lifecycle = lifecycle;
    o.version = "1.2.3-test";
    o.metrics = registry;
    o.hooks = (struct web_hooks){&fake, fake_ready, fake_reload, fake_quit,
                                 fake_targets};
    o.max_connections = 16;
    return o;
}

/* Tests against the main server. */

static void test_healthy(void)
{
    struct resp r = http("GET", "/-/healthy");
    CHECK_STR(r.ctype, "text/plain; charset=utf-8");
    CHECK_RESP(r, 200, "Kiln is Healthy.\n");
    CHECK_RESP(http("HEAD", "/-/healthy"), 200, "");
    r = http("POST", "/-/healthy");
    CHECK_STR(r.allow, "GET, HEAD");
    CHECK_RESP(r, 405, "Method Not Allowed\n");
    r = http("OPTIONS", "/-/healthy");
    CHECK_STR(r.allow, "GET, HEAD");
    CHECK_RESP(r, 405, "Method Not Allowed\n");
}

static void test_not_found(void)
{
    CHECK_RESP(http("GET", "/nope"), 404, "404 page not found\n");
    CHECK_RESP(http("GET", "/api/v1/targets/x"), 404, "404 page not found\n");
    CHECK_RESP(http("POST", "/-/healthy/"), 404, "404 page not found\n");
}

static void test_ready(void)
{
    CHECK_RESP(http("GET", "/-/ready"), 200, "Kiln is Ready.\n");
    atomic_store(&fake.ready, false);
    CHECK_RESP(http("GET", "/-/ready"), 503, "Service Unavailable");
    /* The API waits for readiness; health and metrics do not. */
    CHECK_RESP(http("GET", "/api/v1/targets"), 503, "Service Unavailable");
    CHECK_RESP(http("GET", "/api/v1/status/buildinfo"), 503,
               "Service Unavailable");
    CHECK_RESP(http("GET", "/-/healthy"), 200, "Kiln is Healthy.\n");
    struct resp r = http("GET", "/metrics");
    CHECK_INT(r.code, 200);
    resp_free(&r);
    atomic_store(&fake.ready, true);
    CHECK_RESP(http("GET", "/-/ready"), 200, "Kiln is Ready.\n");
}

static void test_reload(void)
{
    int before = atomic_load(&fake.reloads);
    CHECK_RESP(http("POST", "/-/reload"), 200, "");
    CHECK_RESP(http("PUT", "/-/reload"), 200, "");
    CHECK_INT(atomic_load(&fake.reloads), before + 2);
    struct resp r = http("GET", "/-/reload");
    CHECK_STR(r.allow, "POST, PUT");
    CHECK_RESP(r, 405, "Method Not Allowed\n");
    CHECK_INT(atomic_load(&fake.reloads), before + 2);
    fake.reload_fails = true;
    CHECK_RESP(http("POST", "/-/reload"), 500,
               "failed to reload config: kiln.yml:3: unknown field "
               "\"scrape_intervall\"\n");
    fake.reload_fails = false;
}

/* Poll until *v == want (the after-reply action runs on the server's
 * thread once the reply is out, which may be after the client has it). */
static bool wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < WAIT_S * 100; i++) {
        if (atomic_load(v) == want)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_quit(void)
{
    int before = atomic_load(&fake.quits);
    CHECK_RESP(http("POST", "/-/quit"), 200,
               "Requesting termination... Goodbye!");
    CHECK(wait_for(&fake.quits, before + 1));
    CHECK_RESP(http("PUT", "/-/quit"), 200,
               "Requesting termination... Goodbye!");
    CHECK(wait_for(&fake.quits, before + 2));
    /* The server keeps serving: stopping is the quit hook's caller's. */
    CHECK_RESP(http("GET", "/-/healthy"), 200, "Kiln is Healthy.\n");
}

static void test_lifecycle_disabled(void)
{
    struct web_options o = options("127.0.0.1:0", false);
    struct web_server *s = NULL;
    struct kb_err err = {0};
    CHECK_INT(web_server_start(&o, &s, &err), KB_OK);
    if (s == NULL)
        return;
    int reloads = atomic_load(&fake.reloads), quits = atomic_load(&fake.quits);
    uint16_t p = web_server_port(s);
    CHECK_RESP(http_host("POST", "127.0.0.1", p, "/-/reload", NULL, NULL), 403,
               "Lifecycle API is not enabled.");
    CHECK_RESP(http_host("PUT", "127.0.0.1", p, "/-/quit", NULL, NULL), 403,
               "Lifecycle API is not enabled.");
    CHECK_RESP(http_host("GET", "127.0.0.1", p, "/-/healthy", NULL, NULL), 200,
               "Kiln is Healthy.\n");
    web_server_stop(s);
    CHECK_INT(atomic_load(&fake.reloads), reloads);
    CHECK_INT(atomic_load(&fake.quits), quits);
    web_server_stop(NULL);
}

static void test_buildinfo(void)
{
    struct resp r = http("GET", "/api/v1/status/buildinfo");
    CHECK_STR(r.ctype, "application/json");
    CHECK_RESP(
        r, 200,
        "{\"status\":\"success\",\"data\":{\"version\":\"1.2.3-test\"}}");
}

static void check_labels(json_t *o, const char *k1, const char *v1,
                         const char *k2, const char *v2, const char *k3,
                         const char *v3)
{
    CHECK(json_is_object(o));
    CHECK_INT(json_object_size(o), k3 != NULL ? 3 : 2);
    CHECK_STR(jstr(o, k1), v1);
    CHECK_STR(jstr(o, k2), v2);
    if (k3 != NULL)
        CHECK_STR(jstr(o, k3), v3);
}

static void check_state(json_t *o, const char *err, const char *when,
                        double dur, const char *health)
{
    CHECK_STR(jstr(o, "lastError"), err);
    CHECK_STR(jstr(o, "lastScrape"), when);
    CHECK(json_is_real(json_object_get(o, "lastScrapeDuration")) ||
          json_is_integer(json_object_get(o, "lastScrapeDuration")));
    CHECK(fabs(json_number_value(json_object_get(o, "lastScrapeDuration")) -
               dur) < 1e-9);
    CHECK_STR(jstr(o, "health"), health);
}

static void test_targets(void)
{
    struct resp r = http("GET", "/api/v1/targets");
    CHECK_INT(r.code, 200);
    CHECK_STR(r.ctype, "application/json");
    json_t *j = parse(&r);
    /* Field order, as docs/api.md shows it. */
    CHECK(strstr(r.body, "{\"name\":\"cpu\",\"scrapeUrl\":\"http://"
                         "127.0.0.1:6060/debug/pprof/profile?seconds=10\","
                         "\"health\":\"up\",\"lastError\":\"\","
                         "\"lastScrape\":\"2026-11-21T06:59:50.123Z\","
                         "\"lastScrapeDuration\":10.004}") != NULL);
    CHECK(strstr(r.body, "\"lastScrapeDuration\":0.012,\"health\":"
                         "\"down\",\"scrapeInterval\":\"10s\","
                         "\"scrapeTimeout\":\"15s\",\"profiles\":[") != NULL);
    CHECK(strstr(r.body,
                 "{\"discoveredLabels\":{\"__address__\":\"10.0.0.1:"
                 "6060\",\"job\":\"api\"},\"scrapePool\":\"api\"}") != NULL);
    resp_free(&r);
    if (j == NULL) {
        CHECK(0);
        return;
    }
    CHECK_STR(jstr(j, "status"), "success");
    json_t *d = json_object_get(j, "data");
    CHECK_INT(json_object_size(d), 3);
    json_t *act = json_object_get(d, "activeTargets");
    CHECK_INT(json_array_size(act), 2);

    json_t *a = json_array_get(act, 0);
    CHECK_INT(json_object_size(a), 12);
    check_labels(json_object_get(a, "discoveredLabels"), "__address__",
                 "127.0.0.1:6060", "__scheme__", "http", "job", "api");
    check_labels(json_object_get(a, "labels"), "instance", "127.0.0.1:6060",
                 "job", "api", NULL, NULL);
    CHECK_STR(jstr(a, "scrapePool"), "api");
    CHECK_STR(jstr(a, "scrapeUrl"),
              "http://127.0.0.1:6060/debug/pprof/profile?seconds=10");
    CHECK_STR(jstr(a, "globalUrl"),
              "http://127.0.0.1:6060/debug/pprof/profile?seconds=10");
    check_state(a, "server returned HTTP status 500",
                "2026-11-21T07:00:00.123Z", 0.012, "down");
    CHECK_STR(jstr(a, "scrapeInterval"), "10s");
    CHECK_STR(jstr(a, "scrapeTimeout"), "15s");
    json_t *profs = json_object_get(a, "profiles");
    CHECK_INT(json_array_size(profs), 2);
    json_t *p0 = json_array_get(profs, 0), *p1 = json_array_get(profs, 1);
    CHECK_INT(json_object_size(p0), 6);
    CHECK_STR(jstr(p0, "name"), "cpu");
    CHECK_STR(jstr(p0, "scrapeUrl"),
              "http://127.0.0.1:6060/debug/pprof/profile?seconds=10");
    check_state(p0, "", "2026-11-21T06:59:50.123Z", 10.004, "up");
    CHECK_STR(jstr(p1, "name"), "memory");
    CHECK_STR(jstr(p1, "scrapeUrl"), "http://127.0.0.1:6060/debug/pprof/heap");
    check_state(p1, "server returned HTTP status 500",
                "2026-11-21T07:00:00.123Z", 0.012, "down");

    json_t *b = json_array_get(act, 1);
    CHECK_STR(jstr(b, "scrapePool"), "db");
    check_state(b, "", "0001-01-01T00:00:00Z", 0, "unknown");
    CHECK_STR(jstr(b, "scrapeInterval"), "1m30s");
    CHECK_STR(jstr(b, "scrapeTimeout"), "1m40s");
    CHECK_INT(json_array_size(json_object_get(b, "profiles")), 0);

    json_t *dropped = json_object_get(d, "droppedTargets");
    CHECK_INT(json_array_size(dropped), 3);
    json_t *d0 = json_array_get(dropped, 0), *d2 = json_array_get(dropped, 2);
    CHECK_INT(json_object_size(d0), 2);
    CHECK_STR(jstr(d0, "scrapePool"), "api");
    check_labels(json_object_get(d0, "discoveredLabels"), "__address__",
                 "10.0.0.1:6060", "job", "api", NULL, NULL);
    CHECK_STR(jstr(d2, "scrapePool"), "batch");
    check_labels(json_object_get(d2, "discoveredLabels"), "__address__",
                 "10.0.0.3:6060", "job", "batch", NULL, NULL);

    json_t *counts = json_object_get(d, "droppedTargetCounts");
    CHECK_INT(json_object_size(counts), 3);
    CHECK_INT(json_integer_value(json_object_get(counts, "api")), 1);
    CHECK_INT(json_integer_value(json_object_get(counts, "batch")), 2);
    CHECK(json_is_integer(json_object_get(counts, "db")));
    CHECK_INT(json_integer_value(json_object_get(counts, "db")), 0);
    json_decref(j);
}

/* The data object of a targets request, or NULL. */
static json_t *targets_data(const char *query, json_t **root)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/targets%s", query);
    struct resp r = http("GET", path);
    CHECK_INT(r.code, 200);
    *root = parse(&r);
    resp_free(&r);
    return *root != NULL ? json_object_get(*root, "data") : NULL;
}

static size_t count_of(json_t *d, const char *key)
{
    return json_array_size(json_object_get(d, key));
}

static void test_targets_filters(void)
{
    json_t *root;
    json_t *d = targets_data("?state=active", &root);
    CHECK_INT(count_of(d, "activeTargets"), 2);
    CHECK(json_is_array(json_object_get(d, "droppedTargets")));
    CHECK_INT(count_of(d, "droppedTargets"), 0);
    CHECK(json_is_null(json_object_get(d, "droppedTargetCounts")));
    json_decref(root);

    d = targets_data("?state=dropped", &root);
    CHECK(json_is_array(json_object_get(d, "activeTargets")));
    CHECK_INT(count_of(d, "activeTargets"), 0);
    CHECK_INT(count_of(d, "droppedTargets"), 3);
    CHECK_INT(json_object_size(json_object_get(d, "droppedTargetCounts")), 3);
    json_decref(root);

    d = targets_data("?state=%20Any%20", &root);
    CHECK_INT(count_of(d, "activeTargets"), 2);
    CHECK_INT(count_of(d, "droppedTargets"), 3);
    json_decref(root);

    /* scrapePool filters the lists but not the counts, as Prometheus. */
    d = targets_data("?scrapePool=batch", &root);
    CHECK_INT(count_of(d, "activeTargets"), 0);
    CHECK_INT(count_of(d, "droppedTargets"), 2);
    CHECK_INT(json_object_size(json_object_get(d, "droppedTargetCounts")), 3);
    json_decref(root);
    d = targets_data("?scrapePool=db&state=active", &root);
    CHECK_INT(count_of(d, "activeTargets"), 1);
    CHECK_STR(jstr(json_array_get(json_object_get(d, "activeTargets"), 0),
                   "scrapePool"),
              "db");
    json_decref(root);

    struct resp r = http("GET", "/api/v1/targets?state=bogus");
    CHECK_STR(r.ctype, "application/json");
    CHECK_RESP(r, 400,
               "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
               "\"invalid state \\\"bogus\\\": want active, dropped or "
               "any\"}");
}

static void test_targets_hook_error(void)
{
    fake.targets_fail = true;
    CHECK_RESP(http("GET", "/api/v1/targets"), 500,
               "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":"
               "\"scrape manager: shutting down\"}");
    fake.targets_fail = false;
}

static void *slow_request(void *arg)
{
    struct resp *r = arg;
    *r = http("GET", "/api/v1/targets");
    return NULL;
}

static void test_blocked_hook_does_not_block_others(void)
{
    pthread_mutex_lock(&fake.mu);
    fake.block = true;
    fake.entered = fake.release = false;
    pthread_mutex_unlock(&fake.mu);
    struct resp slow = {0};
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, slow_request, &slow), 0);
    /* Wait for the slow request to be inside its hook. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_S;
    pthread_mutex_lock(&fake.mu);
    while (!fake.entered &&
           pthread_cond_timedwait(&fake.cond, &fake.mu, &until) == 0)
        ;
    bool entered = fake.entered;
    pthread_mutex_unlock(&fake.mu);
    CHECK(entered);
    /* Other requests are answered while it is held. */
    CHECK_RESP(http("GET", "/-/healthy"), 200, "Kiln is Healthy.\n");
    CHECK_RESP(
        http("GET", "/api/v1/status/buildinfo"), 200,
        "{\"status\":\"success\",\"data\":{\"version\":\"1.2.3-test\"}}");
    pthread_mutex_lock(&fake.mu);
    bool still_held = !fake.release;
    fake.release = true;
    fake.block = false;
    pthread_cond_broadcast(&fake.cond);
    pthread_mutex_unlock(&fake.mu);
    CHECK(still_held);
    pthread_join(t, NULL);
    CHECK_INT(slow.code, 200);
    CHECK(slow.body != NULL && strstr(slow.body, "\"activeTargets\"") != NULL);
    resp_free(&slow);
}

/* The value of the exposition line starting with `series` + " ", or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

static double metric_now(const char *series)
{
    struct resp r = http("GET", "/metrics");
    double v = sample(r.body, series);
    resp_free(&r);
    return v;
}

/* Poll /metrics until `series` reaches `want` (requests are counted when
 * the server sees them complete, just after the client has the reply). */
static bool wait_metric(const char *series, double want)
{
    for (int i = 0; i < WAIT_S * 20; i++) {
        if (metric_now(series) == want)
            return true;
        usleep(50000);
    }
    printf("# %s is %g, want %g\n", series, metric_now(series), want);
    return false;
}

/* Run promtool check metrics on `text`; true when it accepts it. */
static bool promtool_accepts(const char *text)
{
    char path[] = "/tmp/kiln-test-web-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        unlink(path);
        return false;
    }
    char line[512];
    while (fgets(line, sizeof(line), p) != NULL)
        printf("# promtool: %s", line);
    int st = pclose(p);
    unlink(path);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("# promtool check metrics failed (exit %d)%s\n",
               WIFEXITED(st) ? WEXITSTATUS(st) : -1,
               WIFEXITED(st) && WEXITSTATUS(st) == 127
                   ? ": install Debian's prometheus package"
                   : "");
        return false;
    }
    return ok;
}

static void test_metrics(void)
{
    const char *healthy200 =
        "kiln_http_requests_total{code=\"200\",handler=\"/-/healthy\"}";
    const char *healthy405 =
        "kiln_http_requests_total{code=\"405\",handler=\"/-/healthy\"}";
    const char *other404 =
        "kiln_http_requests_total{code=\"404\",handler=\"other\"}";
    const char *healthy_count =
        "kiln_http_request_duration_seconds_count{handler=\"/-/healthy\"}";
    double ok0 = metric_now(healthy200), bad0 = metric_now(healthy405);
    double nf0 = metric_now(other404), n0 = metric_now(healthy_count);
    CHECK(ok0 >= 1 && bad0 >= 1 && nf0 >= 1 && n0 >= ok0 + bad0);
    struct resp r;
    for (int i = 0; i < 3; i++) {
        r = http("GET", "/-/healthy");
        resp_free(&r);
    }
    r = http("DELETE", "/-/healthy");
    resp_free(&r);
    r = http("GET", "/no/such/path");
    resp_free(&r);
    CHECK(wait_metric(healthy200, ok0 + 3));
    CHECK(wait_metric(healthy405, bad0 + 1));
    CHECK(wait_metric(other404, nf0 + 1));
    CHECK(wait_metric(healthy_count, n0 + 4));

    r = http("GET", "/metrics");
    CHECK_INT(r.code, 200);
    CHECK_STR(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    /* Every route has its series from the start. */
    CHECK(sample(r.body, "kiln_http_requests_total{code=\"200\",handler=\"/-/"
                         "quit\"}") >= 0);
    CHECK(strstr(r.body, "# TYPE kiln_http_request_duration_seconds "
                         "histogram\n") != NULL);
    CHECK(strstr(r.body, "kiln_http_request_duration_seconds_bucket{handler="
                         "\"/metrics\",le=\"0.1\"} ") != NULL);
    CHECK(sample(r.body, "process_cpu_seconds_total") > 0);
    CHECK(sample(r.body, "process_open_fds") >= 3);
    CHECK(sample(r.body, "kiln_test_build_info{version=\"1.2.3 \\\"test\\\""
                         "\\\\\"}") == 1);
    CHECK(promtool_accepts(r.body));
    resp_free(&r);
}

/* Listen addresses. */

static void test_listen_errors(void)
{
    struct kb_err err = {0};
    struct web_server *s = (struct web_server *)&err;
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    struct web_options o = options(addr, true);
    CHECK_INT(web_server_start(&o, &s, &err), KB_ERR_IO);
    CHECK(s == NULL);
    char want[128];
    snprintf(want, sizeof(want), "listen 127.0.0.1:%u: Address already in use",
             port);
    CHECK_STR(err.msg, want);

    static const char *const bad[][2] = {
        {"", "empty"},
        {"nohost", "missing port"},
        {"127.0.0.1", "missing port"},
        {"127.0.0.1:99999", "the port must be a number"},
        {"127.0.0.1:http", "the port must be a number"},
        {"127.0.0.1:", "the port must be a number"},
        {"[::1", "missing ']'"},
        {"[::1]", "missing port"},
        {"::1:4770", "IPv6 addresses need brackets"},
        {"no-such-host.invalid:4770", "bad listen address"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.listen_address = bad[i][0];
        err = (struct kb_err){0};
        CHECK_INT(web_server_start(&o, &s, &err), KB_ERR_INVALID);
        CHECK(strstr(err.msg, bad[i][1]) != NULL);
        if (strstr(err.msg, bad[i][1]) == NULL)
            printf("# %s: %s\n", bad[i][0], err.msg);
    }
    o = options("127.0.0.1:0", true);
    o.hooks.targets = NULL;
    CHECK_INT(web_server_start(&o, &s, &err), KB_ERR_USAGE);
    o = options("127.0.0.1:0", true);
    o.metrics = NULL;
    CHECK_INT(web_server_start(&o, &s, &err), KB_ERR_USAGE);
}

/* Start a server on `addr` and GET /-/healthy on each of `hosts`. */
static void check_listen(const char *addr, const char *const *hosts, size_t n)
{
    struct web_options o = options(addr, true);
    struct web_server *s = NULL;
    struct kb_err err = {0};
    CHECK_INT(web_server_start(&o, &s, &err), KB_OK);
    if (s == NULL) {
        printf("# %s: %s\n", addr, err.msg);
        return;
    }
    CHECK(web_server_port(s) != 0);
    for (size_t i = 0; i < n; i++)
        CHECK_RESP(http_host("GET", hosts[i], web_server_port(s), "/-/healthy",
                             NULL, NULL),
                   200, "Kiln is Healthy.\n");
    web_server_stop(s);
}

static void test_listen_forms(void)
{
    static const char *const v4[] = {"127.0.0.1"}, *const v6[] = {"[::1]"},
                             *const both[] = {"127.0.0.1", "[::1]"};
    check_listen("127.0.0.1:0", v4, 1);
    check_listen("[::1]:0", v6, 1);
    check_listen(":0", both, 2);
    check_listen("localhost:0", NULL, 0);
}

/* A route table of test handlers, on a server of its own. */

static void echo(struct web_request *rq)
{
    struct jsonw *w = web_json_begin(rq);
    jsonw_object_begin(w);
    jsonw_key(w, "method");
    jsonw_string(w, web_method(rq));
    jsonw_key(w, "path");
    jsonw_string(w, web_path(rq));
    jsonw_key(w, "rest");
    jsonw_string(w, web_path_rest(rq));
    jsonw_key(w, "a");
    jsonw_array_begin(w);
    const char *v;
    for (size_t i = 0; (v = web_param_at(rq, "a", i)) != NULL; i++)
        jsonw_string(w, v);
    jsonw_array_end(w);
    jsonw_key(w, "b");
    if ((v = web_param(rq, "b")) != NULL)
        jsonw_string(w, v);
    else
        jsonw_null(w);
    jsonw_object_end(w);
    web_json_end(rq);
}

static void exact(struct web_request *rq)
{
    web_reply_text(rq, 200, "exact\n");
}

static void no_reply(struct web_request *rq)
{
}

static void fail(struct web_request *rq)
{
    static const struct {
        const char *name;
        enum web_error type;
    } types[] = {
        {"bad_data", WEB_ERR_BAD_DATA},      {"not_found", WEB_ERR_NOT_FOUND},
        {"execution", WEB_ERR_EXECUTION},    {"internal", WEB_ERR_INTERNAL},
        {"timeout", WEB_ERR_TIMEOUT},        {"canceled", WEB_ERR_CANCELED},
        {"unavailable", WEB_ERR_UNAVAILABLE}};
    /* A JSON reply started, then replaced by the error. */
    struct jsonw *w = web_json_begin(rq);
    jsonw_array_begin(w);
    const char *t = web_param(rq, "type");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(t, types[i].name) == 0)
            web_reply_error(rq, types[i].type, "it failed: %s", t);
    web_json_end(rq);
}

static void unfinished_json(struct web_request *rq)
{
    struct jsonw *w = web_json_begin(rq);
    jsonw_array_begin(w);
    web_json_end(rq);
}

static void bad_code(struct web_request *rq)
{
    web_reply_text(rq, 42, "not HTTP\n");
}

static void with_header(struct web_request *rq)
{
    web_reply_header(rq, "X-Kiln-Test", "yes");
    web_reply_text(rq, 201, "made\n");
}

static const struct web_route test_routes[] = {
    {"/echo", WEB_GET | WEB_POST, 0, echo},
    {"/pre/", WEB_GET, WEB_PREFIX, echo},
    {"/pre/deeper/", WEB_GET, WEB_PREFIX, echo},
    {"/pre/exact", WEB_GET, 0, exact},
    {"/none", WEB_GET, 0, no_reply},
    {"/fail", WEB_GET, 0, fail},
    {"/unfinished", WEB_GET, 0, unfinished_json},
    {"/badcode", WEB_GET, 0, bad_code},
    {"/header", WEB_PUT, 0, with_header},
    {"/header", WEB_DELETE, 0, exact},
};

static uint16_t test_port;

static json_t *echo_data(const char *method, const char *path, const char *body,
                         const char *ctype)
{
    struct resp r =
        http_host(method, "127.0.0.1", test_port, path, body, ctype);
    CHECK_INT(r.code, 200);
    json_t *j = parse(&r);
    resp_free(&r);
    json_t *d = json_object_get(j, "data");
    json_incref(d);
    json_decref(j);
    return d;
}

/* The "a" values joined with ',' and b, as "a1,a2|b" ("-" for no b). */
static char *echo_summary(json_t *d)
{
    static char out[256];
    out[0] = '\0';
    json_t *a = json_object_get(d, "a");
    for (size_t i = 0; i < json_array_size(a); i++) {
        if (i > 0)
            strcat(out, ",");
        strncat(out, json_string_value(json_array_get(a, i)), 64);
    }
    strcat(out, "|");
    const char *b = jstr(d, "b");
    strncat(out, b != NULL ? b : "-", 64);
    json_decref(d);
    return out;
}

static const char form[] = "application/x-www-form-urlencoded";

static void test_params(void)
{
    CHECK_STR(
        echo_summary(echo_data("GET", "/echo?a=1&a=2&b=x+y%21", NULL, NULL)),
        "1,2|x y!");
    CHECK_STR(echo_summary(echo_data("GET", "/echo?a&b=", NULL, NULL)), "|");
    CHECK_STR(echo_summary(echo_data("GET", "/echo", NULL, NULL)), "|-");
    /* The body's values first, then the query's (Go's Request.Form). */
    CHECK_STR(
        echo_summary(echo_data("POST", "/echo?a=4", "a=3&b=%C3%A9+%2B", form)),
        "3,4|\xC3\xA9 +");
    CHECK_STR(echo_summary(echo_data("POST", "/echo", "b=1&&a=x=y&a",
                                     "application/x-www-form-urlencoded; "
                                     "charset=utf-8")),
              "x=y,|1");
    /* Other content types are not forms. */
    CHECK_STR(
        echo_summary(echo_data("POST", "/echo?b=q", "a=5", "application/json")),
        "|q");
    struct resp r =
        http_host("POST", "127.0.0.1", test_port, "/echo", "a=%zz", form);
    CHECK_RESP(r, 400,
               "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
               "\"error parsing form values: invalid URL escape "
               "\\\"%zz\\\"\"}");
    r = http_host("POST", "127.0.0.1", test_port, "/echo", "a=1&b=%4", form);
    CHECK_INT(r.code, 400);
    CHECK(strstr(r.body, "invalid URL escape \\\"%4\\\"") != NULL);
    resp_free(&r);
}

static void test_body_limit(void)
{
    size_t n = WEB_BODY_MAX + 100;
    char *big = kb_malloc(n + 1);
    memset(big, 'a', n);
    memcpy(big, "a=", 2);
    big[n] = '\0';
    struct resp r =
        http_host("POST", "127.0.0.1", test_port, "/echo", big, form);
    CHECK_INT(r.code, 413);
    CHECK(strstr(r.body, "request body larger than 1048576 bytes") != NULL);
    resp_free(&r);
    /* Without a Content-Length the body is read to its end first. */
    r = http_full("POST", "127.0.0.1", test_port, "/echo", big, form, true);
    CHECK_INT(r.code, 413);
    CHECK(strstr(r.body, "request body larger than 1048576 bytes") != NULL);
    resp_free(&r);
    /* Exactly the limit is fine. */
    big[WEB_BODY_MAX] = '\0';
    json_t *d = echo_data("POST", "/echo", big, form);
    CHECK_INT(
        strlen(json_string_value(json_array_get(json_object_get(d, "a"), 0))),
        WEB_BODY_MAX - 2);
    json_decref(d);
    free(big);
    /* The server still works. */
    CHECK_RESP(
        http_host("GET", "127.0.0.1", test_port, "/pre/exact", NULL, NULL), 200,
        "exact\n");
}

static void test_prefix_routes(void)
{
    json_t *d = echo_data("GET", "/pre/a/b?x=1", NULL, NULL);
    CHECK_STR(jstr(d, "path"), "/pre/a/b");
    CHECK_STR(jstr(d, "rest"), "a/b");
    json_decref(d);
    d = echo_data("GET", "/pre/deeper/c", NULL, NULL);
    CHECK_STR(jstr(d, "rest"), "c");
    json_decref(d);
    d = echo_data("GET", "/pre/", NULL, NULL);
    CHECK_STR(jstr(d, "rest"), "");
    json_decref(d);
    d = echo_data("GET", "/echo", NULL, NULL);
    CHECK_STR(jstr(d, "rest"), "");
    CHECK_STR(jstr(d, "method"), "GET");
    json_decref(d);
    CHECK_RESP(
        http_host("GET", "127.0.0.1", test_port, "/pre/exact", NULL, NULL), 200,
        "exact\n");
    CHECK_RESP(http_host("GET", "127.0.0.1", test_port, "/pre", NULL, NULL),
               404, "404 page not found\n");
    struct resp r =
        http_host("POST", "127.0.0.1", test_port, "/pre/x", NULL, NULL);
    CHECK_STR(r.allow, "GET, HEAD");
    CHECK_RESP(r, 405, "Method Not Allowed\n");
    r = http_host("PATCH", "127.0.0.1", test_port, "/echo", NULL, NULL);
    CHECK_STR(r.allow, "GET, HEAD, POST");
    CHECK_RESP(r, 405, "Method Not Allowed\n");
    /* Two routes on one path, by method. */
    r = http_host("PUT", "127.0.0.1", test_port, "/header", NULL, NULL);
    CHECK_RESP(r, 201, "made\n");
    CHECK_RESP(
        http_host("DELETE", "127.0.0.1", test_port, "/header", NULL, NULL), 200,
        "exact\n");
    r = http_host("GET", "127.0.0.1", test_port, "/header", NULL, NULL);
    CHECK_STR(r.allow, "PUT, DELETE");
    CHECK_RESP(r, 405, "Method Not Allowed\n");
}

static void test_error_codes(void)
{
    static const struct {
        const char *type;
        long code;
    } want[] = {{"bad_data", 400},   {"not_found", 404}, {"execution", 422},
                {"internal", 500},   {"timeout", 503},   {"canceled", 503},
                {"unavailable", 503}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char path[64], body[256];
        snprintf(path, sizeof(path), "/fail?type=%s", want[i].type);
        snprintf(body, sizeof(body),
                 "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":\"it "
                 "failed: %s\"}",
                 want[i].type, want[i].type);
        struct resp r =
            http_host("GET", "127.0.0.1", test_port, path, NULL, NULL);
        CHECK_STR(r.ctype, "application/json");
        CHECK_RESP(r, want[i].code, body);
    }
    CHECK_INT(web_error_from_status(KB_ERR_INVALID), WEB_ERR_BAD_DATA);
    CHECK_INT(web_error_from_status(KB_ERR_LIMIT), WEB_ERR_BAD_DATA);
    CHECK_INT(web_error_from_status(KB_ERR_NOT_FOUND), WEB_ERR_NOT_FOUND);
    CHECK_INT(web_error_from_status(KB_ERR_UNSUPPORTED), WEB_ERR_EXECUTION);
    CHECK_INT(web_error_from_status(KB_ERR_IO), WEB_ERR_INTERNAL);
    CHECK_RESP(http_host("GET", "127.0.0.1", test_port, "/none", NULL, NULL),
               500,
               "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":"
               "\"the handler of /none made no reply\"}");
    CHECK_RESP(http_host("GET", "127.0.0.1", test_port, "/badcode", NULL, NULL),
               500,
               "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":"
               "\"a handler replied with status 42\"}");
    struct resp r =
        http_host("GET", "127.0.0.1", test_port, "/unfinished", NULL, NULL);
    CHECK_INT(r.code, 500);
    CHECK(strstr(r.body, "\"errorType\":\"internal\"") != NULL);
    CHECK(strstr(r.body, "writing the reply") != NULL);
    resp_free(&r);
}

static void test_routes_server(void)
{
    struct web_options o = options("127.0.0.1:0", true);
    struct web_server *s = NULL;
    struct kb_err err = {0};
    CHECK_INT(web_server_start_routes(
                  &o, test_routes, sizeof(test_routes) / sizeof(test_routes[0]),
                  &s, &err),
              KB_OK);
    if (s == NULL)
        return;
    test_port = web_server_port(s);
    test_params();
    test_body_limit();
    test_prefix_routes();
    test_error_codes();
    web_server_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    registry = metrics_registry_new();
    metrics_register_process(registry);
    metrics_gauge_set(metrics_gauge(registry, "kiln_test_build_info",
                                    "A gauge with an awkward label.", "version",
                                    "1.2.3 \"test\"\\", NULL),
                      1);
    atomic_store(&fake.ready, true);
    struct web_options o = options("127.0.0.1:0", true);
    struct web_server *s = NULL;
    struct kb_err err = {0};
    if (web_server_start(&o, &s, &err) != KB_OK) {
        printf("# web_server_start: %s\n", err.msg);
        printf("not ok 1 - start\n1..1\n");
        return 0;
    }
    port = web_server_port(s);
    RUN(test_healthy);
    RUN(test_not_found);
    RUN(test_ready);
    RUN(test_reload);
    RUN(test_quit);
    RUN(test_lifecycle_disabled);
    RUN(test_buildinfo);
    RUN(test_targets);
    RUN(test_targets_filters);
    RUN(test_targets_hook_error);
    RUN(test_blocked_hook_does_not_block_others);
    RUN(test_metrics);
    RUN(test_listen_errors);
    RUN(test_listen_forms);
    RUN(test_routes_server);
    web_server_stop(s);
    metrics_registry_free(registry);
    curl_global_cleanup();
    return unit_done();
}
