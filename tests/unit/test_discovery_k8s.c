/* Tests of the kubernetes_sd_configs provider (discovery/kubernetes.c)
 * against tests/fakek8s, a fake API server, started afresh by each case:
 *
 *   test_discovery_k8s FAKEK8S_BINARY
 *
 * (tests/e2e/k8s_sd.sh builds the fake and runs this.) The cases check
 * that the groups equal those of the recorded pod list (whose labels
 * test_discovery_k8s_pod checks one by one), that watch events change
 * them, that a 410 ERROR event and a stream cut mid-line make the provider
 * list again, that the selectors, namespaces and resourceVersions reach
 * the request URLs, that a wrong token is reported as HTTP 401 and a
 * rotated token file is picked up, that TLS works with the right CA,
 * server_name and client certificate and fails clearly otherwise, and
 * that bad configurations are refused. Changes are waited for by polling,
 * for at most 60 s each; no timing is asserted except that freeing a
 * provider in the middle of a watch takes less than 20 s (the watch
 * itself would last at least 300 s). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/fsio.h"
#include "base/log.h"
#include "discovery/k8s_pod.h"
#include "discovery/kubernetes.h"
#include "tests/unit/unit.h"

#define WAIT_MS 60000

static const char *fake_bin;

struct fake {
    pid_t pid;
    char api[64]; /* host:port */
    char ctl[64];
    char dir[128]; /* temporary files */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *in_dir(const struct fake *f, const char *name)
{
    static char p[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", f->dir, name);
    return p[i];
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
        abort();
}

/* Start the fake with the fixture, expecting the token in
 * dir/server.token ("s3cret" unless the case rewrites it), plus `extra`
 * arguments (NULL-terminated; "@name" is replaced by dir/name). */
static int fake_start(struct fake *f, const char *const *extra)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-k8s-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        abort();
    write_file(in_dir(f, "server.token"), "s3cret\n");
    write_file(in_dir(f, "client.token"), "s3cret\n");
    char *argv[32];
    char expanded[16][256];
    int n = 0, ne = 0;
    argv[n++] = (char *)fake_bin;
    argv[n++] = "-pods";
    argv[n++] = (char *)unit_srcpath("tests/fakek8s/pods.json");
    argv[n++] = "-token-file";
    argv[n++] = (char *)in_dir(f, "server.token");
    for (; extra && *extra && n < 30 && ne < 16; extra++) {
        if ((*extra)[0] == '@') {
            snprintf(expanded[ne], sizeof(expanded[ne]), "%s/%s", f->dir,
                     *extra + 1);
            argv[n++] = expanded[ne++];
        } else {
            argv[n++] = (char *)*extra;
        }
    }
    argv[n] = NULL;
    /* in_dir's buffers rotate: copy what argv points to. */
    char pods[512], token[256];
    snprintf(pods, sizeof(pods), "%s", argv[2]);
    snprintf(token, sizeof(token), "%s", argv[4]);
    argv[2] = pods;
    argv[4] = token;

    int pfd[2];
    if (pipe(pfd) != 0)
        abort();
    f->pid = fork();
    if (f->pid < 0)
        abort();
    if (f->pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    char out[512];
    size_t len = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline && len + 1 < sizeof(out)) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(pfd[0], out + len, sizeof(out) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        out[len] = '\0';
        const char *a = strstr(out, "listening on ");
        const char *c = strstr(out, "control on ");
        if (a && c && strchr(c, '\n')) {
            sscanf(a, "listening on %63s", f->api);
            sscanf(c, "control on %63s", f->ctl);
            break;
        }
    }
    close(pfd[0]);
    if (f->api[0] == '\0' || f->ctl[0] == '\0') {
        printf("# the fake API server did not start\n");
        return 0;
    }
    return 1;
}

static void fake_stop(struct fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", f->dir);
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

/* A control request; the response body in `out` (when not NULL). */
static int ctl(const struct fake *f, const char *method, const char *path,
               const char *body, struct buf *out)
{
    char url[256];
    struct buf sink;
    buf_init(&sink, BUF_NO_LIMIT);
    snprintf(url, sizeof(url), "http://%s%s", f->ctl, path);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out ? out : &sink);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    buf_free(&sink);
    if (rc != CURLE_OK)
        printf("# control %s %s: %s\n", method, path, curl_easy_strerror(rc));
    return rc == CURLE_OK;
}

/* The fake's counters: "lists", "watches", "open". */
static long stat_int(const struct fake *f, const char *name)
{
    struct buf b;
    long v = -1;
    buf_init(&b, BUF_NO_LIMIT);
    if (ctl(f, "GET", "/stats", NULL, &b)) {
        json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
        v = (long)json_integer_value(json_object_get(j, name));
        json_decref(j);
    }
    buf_free(&b);
    return v;
}

/* The request URIs the fake has seen, one per line, into `out`. */
static void requests(const struct fake *f, struct buf *out)
{
    struct buf b;
    size_t i;
    json_t *v;
    buf_init(&b, BUF_NO_LIMIT);
    buf_reset(out);
    if (ctl(f, "GET", "/stats", NULL, &b)) {
        json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
        json_array_foreach(json_object_get(j, "requests"), i, v)
            buf_printf(out, "%s\n", json_string_value(v));
        json_decref(j);
    }
    buf_free(&b);
}

/* The last request URI that contains `needle`, into `out`. */
static int last_request(const struct fake *f, const char *needle,
                        struct buf *out)
{
    struct buf all;
    buf_init(&all, BUF_NO_LIMIT);
    requests(f, &all);
    buf_reset(out);
    char *save = NULL;
    for (char *l = strtok_r((char *)all.data, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, needle)) {
            buf_reset(out);
            buf_puts(out, l);
        }
    }
    buf_free(&all);
    return out->len > 0;
}

/* Let the provider work for a moment and take its news. */
static void pump(struct disc_k8s *k)
{
    struct pollfd p = {disc_k8s_fd(k), POLLIN, 0};
    poll(&p, 1, 100);
    disc_k8s_poll(k);
}

#define WAIT_FOR(k, cond)                                                      \
    do {                                                                       \
        int64_t wait_deadline_ = now_ms() + WAIT_MS;                           \
        while (!(cond) && now_ms() < wait_deadline_)                           \
            pump(k);                                                           \
    } while (0)

static const struct disc_group *group_of(const struct disc_k8s *k,
                                         const char *source)
{
    const struct disc_group_set *s = disc_k8s_groups(k, NULL);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->groups[i]->source, source) == 0)
            return s->groups[i];
    return NULL;
}

static size_t n_groups(const struct disc_k8s *k)
{
    return disc_k8s_groups(k, NULL)->n;
}

static const char *group_label(const struct disc_k8s *k, const char *source,
                               const char *name)
{
    const struct disc_group *g = group_of(k, source);
    return g ? labels_get(g->labels, name) : NULL;
}

/* The groups of the fixture, namespaces `ns` only (all when NULL). */
static void fixture_groups(struct disc_group_set *out, const char *ns)
{
    struct buf b;
    char rv[K8S_RV_MAX];
    size_t skipped;
    struct kb_err err;
    struct disc_group_set all = {0};
    buf_init(&b, BUF_NO_LIMIT);
    if (kb_file_read(unit_srcpath("tests/fakek8s/pods.json"), &b, &err) ||
        k8s_pod_list_parse(b.data, b.len, 100, &all, rv, &skipped, NULL, &err))
        abort();
    for (size_t i = 0; i < all.n; i++) {
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "pod/%s/", ns ? ns : "");
        if (ns == NULL ||
            strncmp(all.groups[i]->source, prefix, strlen(prefix)) == 0)
            disc_group_set_add(out, disc_group_dup(all.groups[i]));
    }
    disc_group_set_clear(&all);
    buf_free(&b);
}

static int groups_equal_fixture(const struct disc_k8s *k)
{
    struct disc_group_set want = {0};
    fixture_groups(&want, NULL);
    int eq = disc_group_set_equal(disc_k8s_groups(k, NULL), &want);
    disc_group_set_clear(&want);
    return eq;
}

static struct disc_k8s *start(const struct disc_k8s_config *c)
{
    struct disc_k8s *k = NULL;
    struct kb_err err;
    if (disc_k8s_new(c, &k, &err) != KB_OK) {
        printf("# disc_k8s_new: %s\n", err.msg);
        return NULL;
    }
    return k;
}

static int error_has(const struct disc_k8s *k, const char *text)
{
    const struct kb_err *e = disc_k8s_last_error(k);
    return e->status != KB_OK && strstr(e->msg, text) != NULL;
}

static void show_error(const struct disc_k8s *k)
{
    const struct kb_err *e = disc_k8s_last_error(k);
    if (e->status != KB_OK)
        printf("# last error: %s\n", e->msg);
}

#define POD_EVENT(type, name, ip, extra)                                       \
    "{\"type\":\"" type "\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"       \
    "\"name\":\"" name "\",\"namespace\":\"prod\",\"resourceVersion\":"        \
    "\"49000\"" extra "},\"spec\":{\"containers\":[{\"name\":\"app\","         \
    "\"ports\":[{\"containerPort\":6060}]}]},\"status\":{\"podIP\":\"" ip      \
    "\"}}}\n"

/* List, then watch events; the request URLs; 410; a cut stream. */
static void test_list_and_watch(void)
{
    struct fake f;
    struct buf url;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    buf_init(&url, BUF_NO_LIMIT);
    char api[128];
    snprintf(api, sizeof(api), "http://%s/", f.api);
    struct disc_k8s_config c = {
        .api_server = api,
        .bearer_token_file = in_dir(&f, "client.token"),
        .label_selector = "app in (api,worker)",
        .field_selector = "status.phase=Running",
    };
    struct disc_k8s *k = start(&c);
    CHECK(k != NULL);
    if (k == NULL)
        goto out;
    uint64_t v0, v1;
    disc_k8s_groups(k, &v0);
    WAIT_FOR(k, n_groups(k) == 4);
    CHECK(groups_equal_fixture(k));
    disc_k8s_groups(k, &v1);
    CHECK(v1 > v0);
    WAIT_FOR(k, stat_int(&f, "open") == 1);
    CHECK_INT(stat_int(&f, "open"), 1);
    CHECK(last_request(&f, "/api/v1/pods", &url));
    requests(&f, &url);
    const char *first = "/api/v1/pods?labelSelector=app%20in%20%28api%2C"
                        "worker%29&fieldSelector=status.phase%3DRunning\n";
    CHECK(strncmp(buf_cstr(&url), first, strlen(first)) == 0);
    CHECK(last_request(&f, "watch=1", &url));
    CHECK(strstr(buf_cstr(&url),
                 "labelSelector=app%20in%20%28api%2Cworker"
                 "%29&fieldSelector=status.phase%3DRunning&"
                 "watch=1&resourceVersion=48213&"
                 "allowWatchBookmarks=true&timeoutSeconds=") != NULL);
    CHECK_INT(disc_k8s_last_error(k)->status, KB_OK);
    CHECK_INT(disc_k8s_failures(k), 0);

    /* ADDED, MODIFIED, DELETED; two events in one write and one event in
     * two writes. */
    int64_t sent = now_ms();
    ctl(&f, "POST", "/send", POD_EVENT("ADDED", "new-1", "10.244.3.3", ""),
        NULL);
    WAIT_FOR(k, group_of(k, "pod/prod/new-1") != NULL);
    printf("# an ADDED event reached the groups in %lld ms\n",
           (long long)(now_ms() - sent));
    CHECK(group_of(k, "pod/prod/new-1") != NULL);
    CHECK_INT(n_groups(k), 5);
    ctl(&f, "POST", "/send",
        POD_EVENT("MODIFIED", "new-1", "10.244.3.4",
                  ",\"labels\":{\"track\":\"beta\"}")
            POD_EVENT("DELETED", "worker-0", "10.244.2.5", ""),
        NULL);
    WAIT_FOR(k, group_of(k, "pod/prod/worker-0") == NULL);
    CHECK(group_of(k, "pod/prod/worker-0") == NULL);
    CHECK_STR(
        group_label(k, "pod/prod/new-1", "__meta_kubernetes_pod_label_track"),
        "beta");
    CHECK_STR(group_label(k, "pod/prod/new-1", "__meta_kubernetes_pod_ip"),
              "10.244.3.4");
    const char *split = POD_EVENT("ADDED", "new-2", "10.244.3.5", "");
    char half[512];
    snprintf(half, sizeof(half), "%.*s", 40, split);
    ctl(&f, "POST", "/send", half, NULL);
    ctl(&f, "POST", "/send", split + 40, NULL);
    WAIT_FOR(k, group_of(k, "pod/prod/new-2") != NULL);
    CHECK(group_of(k, "pod/prod/new-2") != NULL);
    CHECK_INT(stat_int(&f, "lists"), 1);

    /* A bookmark moves the resourceVersion a renewed watch starts from,
     * without a list. */
    ctl(&f, "POST", "/send",
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
        "\"resourceVersion\":\"50000\"}}}\n",
        NULL);
    WAIT_FOR(k, stat_int(&f, "watches") == 1 && stat_int(&f, "open") == 1);
    ctl(&f, "POST", "/end", "", NULL);
    WAIT_FOR(k, stat_int(&f, "watches") == 2 && stat_int(&f, "open") == 1);
    CHECK_INT(stat_int(&f, "watches"), 2);
    CHECK(last_request(&f, "watch=1", &url));
    CHECK(strstr(buf_cstr(&url), "&resourceVersion=50000&") != NULL);
    CHECK_INT(stat_int(&f, "lists"), 1);
    CHECK_INT(n_groups(k), 5);

    /* 410 Gone: list again, which gives the fixture's pods back (new-1 and
     * new-2 vanish, worker-0 returns). */
    ctl(&f, "POST", "/send",
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
        "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
        "resource version: 50000 (50100)\",\"reason\":\"Expired\","
        "\"code\":410}}\n",
        NULL);
    WAIT_FOR(k, stat_int(&f, "lists") == 2 && groups_equal_fixture(k));
    CHECK_INT(stat_int(&f, "lists"), 2);
    CHECK(groups_equal_fixture(k));
    CHECK_INT(disc_k8s_failures(k), 0);

    /* A stream cut mid-line: list again (after the backoff). The new list
     * has worker-0 alone. */
    ctl(&f, "PUT", "/pods",
        "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"60000\"},"
        "\"items\":[{\"metadata\":{\"name\":\"worker-0\",\"namespace\":"
        "\"prod\"},\"status\":{\"podIP\":\"10.244.2.5\"}}]}",
        NULL);
    WAIT_FOR(k, stat_int(&f, "watches") == 3 && stat_int(&f, "open") == 1);
    ctl(&f, "POST", "/send", "{\"type\":\"ADDED\",\"object\":{\"meta", NULL);
    ctl(&f, "POST", "/cut", "", NULL);
    WAIT_FOR(k, n_groups(k) == 1);
    CHECK_INT(n_groups(k), 1);
    CHECK(group_of(k, "pod/prod/worker-0") != NULL);
    CHECK_INT(stat_int(&f, "lists"), 3);
    CHECK_INT(disc_k8s_failures(k), 1);
    WAIT_FOR(k, disc_k8s_last_error(k)->status == KB_OK);
    CHECK_INT(disc_k8s_last_error(k)->status, KB_OK);

    /* Freeing in the middle of a watch is prompt. */
    WAIT_FOR(k, stat_int(&f, "watches") == 4 && stat_int(&f, "open") == 1);
    int64_t t0 = now_ms();
    disc_k8s_free(k);
    int64_t took = now_ms() - t0;
    printf("# disc_k8s_free in a watch took %lld ms\n", (long long)took);
    CHECK(took < 20000);
out:
    buf_free(&url);
    fake_stop(&f);
}

/* A bad event line and a line cut by the end of the stream are failures
 * that list again; the log names them. */
static void test_bad_event(void)
{
    struct fake f;
    char *logtext = NULL;
    size_t loglen = 0;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    FILE *logf = open_memstream(&logtext, &loglen);
    log_set_output(logf);
    log_set_level(LOG_LEVEL_INFO);
    char api[128];
    snprintf(api, sizeof(api), "http://%s", f.api);
    struct disc_k8s_config c = {
        .api_server = api, .bearer_token_file = in_dir(&f, "client.token")};
    struct disc_k8s *k = start(&c);
    if (k == NULL)
        abort();
    WAIT_FOR(k, stat_int(&f, "watches") == 1 && stat_int(&f, "open") == 1);
    ctl(&f, "POST", "/send", "{\"type\":\"SYNC\",\"object\":{}}\n", NULL);
    WAIT_FOR(k, disc_k8s_failures(k) == 1 && stat_int(&f, "lists") == 2);
    CHECK_INT(disc_k8s_failures(k), 1);
    CHECK_INT(stat_int(&f, "lists"), 2);
    CHECK(groups_equal_fixture(k));
    /* A watch that ends cleanly in the middle of a line. */
    WAIT_FOR(k, stat_int(&f, "watches") == 2 && stat_int(&f, "open") == 1);
    ctl(&f, "POST", "/send", "{\"type\":\"DELETED\",", NULL);
    ctl(&f, "POST", "/end", "", NULL);
    WAIT_FOR(k, disc_k8s_failures(k) == 2 && stat_int(&f, "lists") == 3);
    CHECK_INT(disc_k8s_failures(k), 2);
    CHECK_INT(stat_int(&f, "lists"), 3);
    CHECK(groups_equal_fixture(k));
    disc_k8s_free(k);
    /* Each failure was logged once, naming it. */
    fflush(logf);
    log_set_output(NULL);
    log_set_level(LOG_LEVEL_ERROR);
    fclose(logf);
    printf("# log:\n%s", logtext);
    CHECK(strstr(logtext, "err=\"watch pods: bad event: unknown event type "
                          "\\\"SYNC\\\"\"") != NULL);
    CHECK(strstr(logtext, "err=\"watch pods: stream cut mid-line\"") != NULL);
    CHECK(strstr(logtext, "msg=\"kubernetes: requests work again\"") != NULL);
    free(logtext);
    fake_stop(&f);
}

/* A list of many pods (the snapshot is rebuilt rather than patched), then
 * an event on one of them. */
static void test_many_pods(void)
{
    struct fake f;
    struct buf list;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    buf_init(&list, BUF_NO_LIMIT);
    buf_puts(&list, "{\"kind\":\"PodList\",\"metadata\":{"
                    "\"resourceVersion\":\"5\"},\"items\":[");
    for (int i = 0; i < 3000; i++)
        buf_printf(&list,
                   "%s{\"metadata\":{\"name\":\"p%04d\",\"namespace\":"
                   "\"ns%d\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
                   "\"status\":{\"podIP\":\"10.1.%d.%d\"}}",
                   i ? "," : "", i, i % 7, i / 256, i % 256);
    buf_puts(&list, "]}");
    ctl(&f, "PUT", "/pods", buf_cstr(&list), NULL);
    char api[128];
    snprintf(api, sizeof(api), "http://%s", f.api);
    struct disc_k8s_config c = {
        .api_server = api, .bearer_token_file = in_dir(&f, "client.token")};
    struct disc_k8s *k = start(&c);
    if (k == NULL)
        abort();
    WAIT_FOR(k, n_groups(k) == 3000);
    CHECK_INT(n_groups(k), 3000);
    const struct disc_group_set *s = disc_k8s_groups(k, NULL);
    for (size_t i = 1; i < s->n; i++)
        CHECK(strcmp(s->groups[i - 1]->source, s->groups[i]->source) < 0);
    CHECK_STR(group_label(k, "pod/ns2/p1234", "__meta_kubernetes_pod_ip"),
              "10.1.4.210");
    WAIT_FOR(k, stat_int(&f, "open") == 1);
    ctl(&f, "POST", "/send",
        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":"
        "\"p1234\",\"namespace\":\"ns2\"}}}\n",
        NULL);
    WAIT_FOR(k, n_groups(k) == 2999);
    CHECK_INT(n_groups(k), 2999);
    CHECK(group_of(k, "pod/ns2/p1234") == NULL);
    CHECK(group_of(k, "pod/ns1/p1233") != NULL);
    disc_k8s_free(k);
    buf_free(&list);
    fake_stop(&f);
}

/* HTTP 410 in answer to a watch: list again, not a failure. */
static void test_watch_gone(void)
{
    struct fake f;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    char api[128];
    snprintf(api, sizeof(api), "http://%s", f.api);
    struct disc_k8s_config c = {
        .api_server = api, .bearer_token_file = in_dir(&f, "client.token")};
    struct disc_k8s *k = start(&c);
    if (k == NULL)
        abort();
    WAIT_FOR(k, stat_int(&f, "watches") == 1 && stat_int(&f, "open") == 1);
    ctl(&f, "POST", "/gone", "", NULL);
    ctl(&f, "POST", "/end", "", NULL);
    WAIT_FOR(k, stat_int(&f, "lists") == 2 && stat_int(&f, "open") == 1);
    CHECK_INT(stat_int(&f, "lists"), 2);
    /* Three watch requests: the first, the one answered 410, the one
     * after the new list (the fake counts only the watches it served). */
    struct buf all;
    buf_init(&all, BUF_NO_LIMIT);
    requests(&f, &all);
    int n = 0;
    for (const char *p = buf_cstr(&all); (p = strstr(p, "watch=1")); p++)
        n++;
    CHECK_INT(n, 3);
    buf_free(&all);
    CHECK_INT(stat_int(&f, "watches"), 2);
    CHECK_INT(disc_k8s_failures(k), 0);
    CHECK(groups_equal_fixture(k));
    disc_k8s_free(k);
    fake_stop(&f);
}

static void test_wrong_token(void)
{
    struct fake f;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    write_file(in_dir(&f, "client.token"), "wrong\n");
    char api[128];
    snprintf(api, sizeof(api), "http://%s", f.api);
    struct disc_k8s_config c = {
        .api_server = api, .bearer_token_file = in_dir(&f, "client.token")};
    struct disc_k8s *k = start(&c);
    if (k == NULL) {
        CHECK(0);
        fake_stop(&f);
        return;
    }
    WAIT_FOR(k, disc_k8s_last_error(k)->status != KB_OK);
    show_error(k);
    CHECK_STR(disc_k8s_last_error(k)->msg, "list pods: HTTP 401: Unauthorized");
    CHECK(disc_k8s_failures(k) >= 1);
    CHECK_INT(n_groups(k), 0);
    CHECK_INT(stat_int(&f, "lists"), 0);
    disc_k8s_free(k);
    /* A token file that is missing. */
    c.bearer_token_file = in_dir(&f, "missing.token");
    k = start(&c);
    if (k == NULL)
        abort();
    WAIT_FOR(k, disc_k8s_last_error(k)->status != KB_OK);
    show_error(k);
    CHECK(error_has(k, "list pods: bearer_token_file"));
    CHECK(error_has(k, "missing.token"));
    disc_k8s_free(k);
    fake_stop(&f);
}

/* The token file is read before every request. */
static void test_token_rotation(void)
{
    struct fake f;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    char api[128];
    snprintf(api, sizeof(api), "http://%s", f.api);
    struct disc_k8s_config c = {
        .api_server = api, .bearer_token_file = in_dir(&f, "client.token")};
    struct disc_k8s *k = start(&c);
    if (k == NULL) {
        CHECK(0);
        fake_stop(&f);
        return;
    }
    WAIT_FOR(k, n_groups(k) == 4 && stat_int(&f, "open") == 1);
    CHECK_INT(n_groups(k), 4);
    /* The server moves to a new token; the renewed watch fails. */
    write_file(in_dir(&f, "server.token"), "rotated\n");
    ctl(&f, "POST", "/end", "", NULL);
    WAIT_FOR(k, error_has(k, "HTTP 401"));
    show_error(k);
    CHECK(error_has(k, "watch pods: HTTP 401"));
    CHECK_INT(n_groups(k), 4); /* the last good groups are kept */
    /* The client's file is rotated too: the next list works. */
    write_file(in_dir(&f, "client.token"), "rotated\n");
    WAIT_FOR(k, disc_k8s_last_error(k)->status == KB_OK &&
                    stat_int(&f, "lists") == 2);
    show_error(k);
    CHECK_INT(disc_k8s_last_error(k)->status, KB_OK);
    CHECK_INT(stat_int(&f, "lists"), 2);
    CHECK(groups_equal_fixture(k));
    disc_k8s_free(k);
    fake_stop(&f);
}

static void test_namespaces(void)
{
    struct fake f;
    struct buf all;
    if (!fake_start(&f, NULL)) {
        CHECK(0);
        return;
    }
    buf_init(&all, BUF_NO_LIMIT);
    char api[128];
    snprintf(api, sizeof(api), "http://%s", f.api);
    const char *ns[] = {"prod", "kube-system", "prod"};
    struct disc_k8s_config c = {.api_server = api,
                                .bearer_token_file = in_dir(&f, "client.token"),
                                .namespaces = ns,
                                .n_namespaces = 3};
    struct disc_k8s *k = start(&c);
    if (k == NULL) {
        CHECK(0);
        goto out;
    }
    WAIT_FOR(k, n_groups(k) == 3 && stat_int(&f, "open") == 2);
    CHECK_INT(n_groups(k), 3);
    CHECK(group_of(k, "pod/kube-system/coredns-565d847f94-8xq2n") != NULL);
    CHECK(group_of(k, "pod/prod/api-7d9f8b6c5-x2k4p") != NULL);
    CHECK(group_of(k, "pod/prod/worker-0") != NULL);
    CHECK_INT(stat_int(&f, "lists"), 2);
    CHECK_INT(stat_int(&f, "open"), 2);
    requests(&f, &all);
    CHECK(strstr(buf_cstr(&all), "/api/v1/namespaces/prod/pods\n") != NULL);
    CHECK(strstr(buf_cstr(&all), "/api/v1/namespaces/kube-system/pods\n") !=
          NULL);
    CHECK(strstr(buf_cstr(&all), "/api/v1/namespaces/prod/pods?watch=1&") !=
          NULL);
    CHECK(strstr(buf_cstr(&all), "/api/v1/pods") == NULL);
    disc_k8s_free(k);
out:
    buf_free(&all);
    fake_stop(&f);
}

/* One provider over TLS; returns 1 when it got the groups, 0 when it
 * failed with an error containing `want_err` (which is checked). */
static int tls_case(const struct fake *f, const char *host, const char *ca,
                    const char *server_name, bool client_cert, bool insecure,
                    const char *want_err)
{
    char api[128];
    snprintf(api, sizeof(api), "https://%s%s", host ? host : f->api,
             host ? strchr(f->api, ':') : "");
    char crt[256], key[256];
    snprintf(crt, sizeof(crt), "%s/client.crt", f->dir);
    snprintf(key, sizeof(key), "%s/client.key", f->dir);
    char ca_path[256];
    if (ca)
        snprintf(ca_path, sizeof(ca_path), "%s/%s", f->dir, ca);
    struct disc_k8s_config c = {
        .api_server = api,
        .bearer_token_file = in_dir(f, "client.token"),
        .ca_file = ca ? ca_path : NULL,
        .cert_file = client_cert ? crt : NULL,
        .key_file = client_cert ? key : NULL,
        .server_name = server_name,
        .insecure_skip_verify = insecure,
    };
    struct disc_k8s *k = start(&c);
    if (k == NULL)
        return -1;
    WAIT_FOR(k, n_groups(k) == 4 || disc_k8s_last_error(k)->status != KB_OK);
    int got = n_groups(k) == 4 && groups_equal_fixture(k);
    if (want_err != NULL) {
        const struct kb_err *e = disc_k8s_last_error(k);
        printf("# %s: %s\n", want_err, e->msg);
        CHECK(e->status != KB_OK);
        CHECK(strncmp(e->msg, "list pods: ", 11) == 0);
        CHECK(strstr(e->msg, want_err) != NULL);
    } else {
        show_error(k);
    }
    disc_k8s_free(k);
    return got;
}

static void test_tls(void)
{
    struct fake f;
    static const char *const args[] = {
        "-tls",       "-ca-out",     "@ca.pem", "-decoy-ca-out",
        "@decoy.pem", "-client-out", "@client", "-require-client-cert",
        NULL};
    if (!fake_start(&f, args)) {
        CHECK(0);
        return;
    }
    /* The right CA and client certificate. */
    CHECK_INT(tls_case(&f, NULL, "ca.pem", NULL, true, false, NULL), 1);
    /* server_name: verified against the certificate, the connection goes
     * to api_server's host. */
    CHECK_INT(tls_case(&f, "127.0.0.1", "ca.pem", "kubernetes.default.svc",
                       true, false, NULL),
              1);
    CHECK_INT(tls_case(&f, NULL, "ca.pem", "wrong.example", true, false,
                       "wrong.example"),
              0);
    /* An unknown CA, or the system's CAs. */
    CHECK_INT(tls_case(&f, NULL, "decoy.pem", NULL, true, false, "certificate"),
              0);
    CHECK_INT(tls_case(&f, NULL, NULL, NULL, true, false, "certificate"), 0);
    /* insecure_skip_verify accepts any server certificate. */
    CHECK_INT(tls_case(&f, NULL, "decoy.pem", NULL, true, true, NULL), 1);
    /* Without the client certificate the server refuses the handshake. */
    CHECK_INT(tls_case(&f, NULL, "ca.pem", NULL, false, false, ""), 0);
    fake_stop(&f);
}

static void test_config_errors(void)
{
    const char *upper[] = {"Prod"};
    const struct {
        struct disc_k8s_config c;
        const char *msg;
    } cases[] = {
        {{.api_server = "ftp://x"}, "expected an http:// or https:// URL"},
        {{.api_server = "https://a b"}, "without spaces"},
        {{.api_server = "https://user:pw@host"}, "credentials"},
        {{.api_server = "https://h", .namespaces = upper, .n_namespaces = 1},
         "namespace \"Prod\": not a DNS label"},
        {{.api_server = "https://h", .cert_file = "/c"},
         "cert_file and key_file go together"},
        {{.api_server = "https://h", .ca_file = "/nonexistent/ca.pem"},
         "ca_file /nonexistent/ca.pem: No such file"},
        {{.api_server = "https://h", .label_selector = "a\n=b"},
         "label selector: control character"},
        {{.api_server = "https://h", .server_name = "a/b"},
         "server_name \"a/b\": not a host name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct disc_k8s *k = (struct disc_k8s *)1;
        struct kb_err err;
        kb_err_clear(&err);
        enum kb_status st = disc_k8s_new(&cases[i].c, &k, &err);
        CHECK(st != KB_OK);
        CHECK(k == NULL);
        if (strstr(err.msg, cases[i].msg) == NULL)
            printf("# case %zu: \"%s\"\n", i, err.msg);
        CHECK(strstr(err.msg, cases[i].msg) != NULL);
        if (st == KB_OK)
            disc_k8s_free(k);
    }
}

/* Without api_server: the in-cluster environment. */
static void test_in_cluster(void)
{
    struct disc_k8s_config c = {0};
    struct disc_k8s *k = NULL;
    struct kb_err err;
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    CHECK_INT(disc_k8s_new(&c, &k, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "KUBERNETES_SERVICE_HOST") != NULL);
    if (access(DISC_K8S_SA_DIR "/ca.crt", F_OK) != 0) {
        /* In a cluster's environment, the service account CA is needed. */
        setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "443", 1);
        CHECK_INT(disc_k8s_new(&c, &k, &err), KB_ERR_INVALID);
        CHECK(strstr(err.msg, "ca_file " DISC_K8S_SA_DIR "/ca.crt") != NULL);
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("KUBERNETES_SERVICE_PORT");
    }
    CHECK(k == NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_discovery_k8s FAKEK8S_BINARY\n");
        return 2;
    }
    fake_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_LEVEL_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_config_errors);
    RUN(test_in_cluster);
    RUN(test_list_and_watch);
    RUN(test_bad_event);
    RUN(test_watch_gone);
    RUN(test_many_pods);
    RUN(test_wrong_token);
    RUN(test_token_rotation);
    RUN(test_namespaces);
    RUN(test_tls);
    curl_global_cleanup();
    return unit_done();
}
