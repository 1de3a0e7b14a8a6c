/* discovery/kubernetes.c: the kubernetes_sd_configs provider (role pod):
 * list and watch pods through the API server, keep one target group per
 * pod, hand the groups to the caller's event loop.
 *
 * Design. One worker thread per configured namespace (or one for all
 * namespaces) runs the informer loop of client-go, reduced to what pod
 * discovery needs:
 *
 *   LIST  GET /api/v1[/namespaces/NS]/pods?labelSelector=..&fieldSelector=..
 *         -> every pod's group (k8s_pod.c) and the list's resourceVersion;
 *   WATCH the same URL with watch=1&resourceVersion=RV&
 *         allowWatchBookmarks=true&timeoutSeconds=T (T from 300 to 599 s,
 *         so that watches are renewed and spread out), read as a stream of
 *         newline-delimited JSON events, each applied as it arrives:
 *         ADDED/MODIFIED put the pod's group, DELETED removes it, BOOKMARK
 *         only moves the resourceVersion, ERROR 410 (Gone: the version is
 *         too old) re-lists at once, any other ERROR is a failure.
 *
 * A watch that ends cleanly (its timeout) is renewed from the last
 * resourceVersion without a list; HTTP 410 on a watch re-lists at once.
 * Either happens at most once a second, so that a server that ends every
 * watch at once is not hammered.
 * Everything else (a connection or TLS error, an HTTP error, a stream cut
 * mid-line, a line that does not parse, a limit) is a failure: the worker
 * waits, then lists again. The delay starts at 1 s and doubles up to 30 s;
 * it is reset by a watch that ended cleanly or that had run for 30 s
 * before failing. Failures keep the last good groups (as an informer keeps
 * its cache) and are logged once per distinct message.
 *
 * Requests are libcurl easy handles driven by a per-worker multi handle,
 * so that disc_k8s_free can interrupt a worker at once (curl_multi_wakeup)
 * wherever it blocks: connecting, reading a long watch, or waiting out a
 * retry delay (a condition variable). The bearer token file is read again
 * before every request. server_name is implemented with CURLOPT_CONNECT_TO:
 * the URL names server_name (so that SNI and certificate verification use
 * it) and the connection goes to the configured host.
 *
 * Threads and ownership. Each worker owns its groups (sorted by source),
 * its resourceVersion and the list of sources whose groups changed since
 * it last published; nobody else touches them. After each chunk of a watch
 * stream and after each list (diffed against the previous groups by a
 * merge), the worker publishes under the provider's mutex: it copies the
 * changed groups into its `published` set, appends their sources to the
 * provider's `changed` list, sets `dirty` and writes to the eventfd. So an
 * event costs a copy of one group, not of all. disc_k8s_poll (the caller's
 * thread) drains the eventfd and applies the changed sources to the
 * caller's snapshot (the sorted union of the published sets), copying
 * those groups only; past REBUILD_CHANGES changes (a first list, a caller
 * that does not poll) it rebuilds the snapshot from every published set
 * instead, sorting once. The
 * snapshot belongs to the caller's thread alone. Worker errors and the
 * failure counter are also under the mutex. `stop` is atomic: the workers
 * read it without the mutex between libcurl steps.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fsio.h"
#include "base/log.h"
#include "discovery/k8s_pod.h"
#include "discovery/kubernetes.h"

#define CONNECT_TIMEOUT_MS 10000
#define LIST_TIMEOUT_MS (5 * 60 * 1000)
#define WATCH_TIMEOUT_MIN_S 300 /* client-go's minimum watch timeout */
#define HEALTHY_WATCH_MS DISC_K8S_BACKOFF_MAX_MS
#define ERROR_BODY_MAX 65536
#define URL_MAX 8192
/* Past this many changes queued for disc_k8s_poll (a first list of a big
 * cluster, a caller that does not poll), rebuilding the snapshot is cheaper
 * than applying them one by one. */
#define REBUILD_CHANGES 1024

enum outcome {
    DONE,   /* list: parsed; watch: ended cleanly */
    GONE,   /* watch: resourceVersion too old, list again now */
    FAILED, /* err says why */
    STOPPED,
};

struct worker {
    struct disc_k8s *k;
    char *ns;       /* NULL: all namespaces */
    char what[320]; /* "pods" or "pods in namespace NS", for messages */
    pthread_t thread;
    bool started;
    CURLM *multi;
    unsigned seed; /* watch timeout jitter */
    /* The worker's own state. */
    struct disc_group_set groups; /* sorted by source */
    char rv[K8S_RV_MAX];
    char **changed; /* sources changed since the last publish */
    size_t n_changed, cap_changed;
    /* Under k->mu. */
    struct disc_group_set published; /* sorted by source */
    struct kb_err err;
};

struct disc_k8s {
    char *base_url; /* scheme://host[:port][/prefix], no trailing '/' */
    char *connect_to;
    char *token_file, *ca_file, *cert_file, *key_file;
    bool insecure;
    char *label_selector, *field_selector;
    struct worker *workers;
    size_t n_workers;
    int efd;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled at stop, to end retry delays */
    atomic_bool stop;
    /* Under mu: the sources whose groups changed since the last poll (or,
     * when too many did, `rebuild`), and the failure counter. */
    bool dirty;
    char **changed;
    size_t n_changed, cap_changed;
    bool rebuild;
    uint64_t failures;

    /* The caller's thread only. */
    struct disc_group_set snap;
    uint64_t version;
    struct kb_err *err_view;
};

/* One request in flight, seen by libcurl's write callback. */
struct req {
    struct worker *w;
    CURL *e;
    bool watch;
    long code;         /* HTTP status, once the headers are in */
    struct buf body;   /* list: the body; watch: the current line; else the
                          error body */
    struct kb_err err; /* why the callback stopped the transfer */
    bool gone;         /* an ERROR event with code 410 */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait `ms` unless the provider stops first; false when it stops. */
static bool sleep_ms(struct disc_k8s *k, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&k->mu);
    while (!atomic_load(&k->stop) &&
           pthread_cond_timedwait(&k->cond, &k->mu, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&k->mu);
    return !atomic_load(&k->stop);
}

/* ---- the worker's groups ---- */

/* Index of `source` in the sorted set `s`, or where it would go. */
static size_t find(const struct disc_group_set *s, const char *source,
                   bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->groups[mid]->source, source);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Put `g` (taken) in place of the group of its source in the sorted set
 * `s`; whether the set changed. */
static bool set_put(struct disc_group_set *s, struct disc_group *g)
{
    bool found;
    size_t i = find(s, g->source, &found);
    if (found) {
        if (disc_group_equal(s->groups[i], g)) {
            disc_group_free(g);
            return false;
        }
        disc_group_free(s->groups[i]);
        s->groups[i] = g;
        return true;
    }
    disc_group_set_add(s, g); /* grows the array by one */
    memmove(&s->groups[i + 1], &s->groups[i],
            (s->n - 1 - i) * sizeof(*s->groups));
    s->groups[i] = g;
    return true;
}

/* Remove the group of `source` from the sorted set `s`; whether there was
 * one. */
static bool set_remove(struct disc_group_set *s, const char *source)
{
    bool found;
    size_t i = find(s, source, &found);
    if (!found)
        return false;
    disc_group_free(s->groups[i]);
    memmove(&s->groups[i], &s->groups[i + 1],
            (s->n - 1 - i) * sizeof(*s->groups));
    s->n--;
    return true;
}

/* Make the group of `source` in `s` a copy of `g` (NULL: none). */
static bool set_apply(struct disc_group_set *s, const char *source,
                      const struct disc_group *g)
{
    return g ? set_put(s, disc_group_dup(g)) : set_remove(s, source);
}

/* The group of `source` in the sorted set `s`, or NULL. */
static const struct disc_group *set_get(const struct disc_group_set *s,
                                        const char *source)
{
    bool found;
    size_t i = find(s, source, &found);
    return found ? s->groups[i] : NULL;
}

static void push_source(char ***list, size_t *n, size_t *cap,
                        const char *source)
{
    *list = kb_grow(*list, cap, *n + 1, sizeof(**list));
    (*list)[(*n)++] = kb_strdup(source);
}

static void free_sources(char **list, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(list[i]);
    *n = 0;
}

/* Note that the group of `source` changed in the worker's own set. */
static void changed(struct worker *w, const char *source)
{
    push_source(&w->changed, &w->n_changed, &w->cap_changed, source);
}

/* Put `g` (taken) into the worker's groups, noting the change. */
static void put_group(struct worker *w, struct disc_group *g)
{
    char *source = kb_strdup(g->source);
    if (set_put(&w->groups, g))
        changed(w, source);
    free(source);
}

static void remove_group(struct worker *w, const char *source)
{
    if (set_remove(&w->groups, source))
        changed(w, source);
}

/* Hand the changed groups to the caller's side: update the published
 * copy, queue the sources for disc_k8s_poll, signal the fd. Costs a copy
 * of the changed groups only. */
static void publish(struct worker *w)
{
    struct disc_k8s *k = w->k;
    if (w->n_changed == 0)
        return;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < w->n_changed; i++) {
        const char *src = w->changed[i];
        set_apply(&w->published, src, set_get(&w->groups, src));
        if (k->n_changed < REBUILD_CHANGES)
            push_source(&k->changed, &k->n_changed, &k->cap_changed, src);
        else
            k->rebuild = true;
    }
    k->dirty = true;
    pthread_mutex_unlock(&k->mu);
    free_sources(w->changed, &w->n_changed);
    uint64_t one = 1;
    if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("discovery", "kubernetes: cannot signal the event fd", "err",
                 strerror(errno), NULL);
}

/* Record the outcome of a request: `e` is the failure, NULL on success.
 * Logs a failure when its message differs from the previous one, and the
 * recovery. */
static void record(struct worker *w, const struct kb_err *e)
{
    struct disc_k8s *k = w->k;
    pthread_mutex_lock(&k->mu);
    bool was_failing = w->err.status != KB_OK;
    bool log_it = e != NULL && (!was_failing || strcmp(w->err.msg, e->msg));
    if (e != NULL) {
        w->err = *e;
        k->failures++;
    } else {
        kb_err_clear(&w->err);
    }
    pthread_mutex_unlock(&k->mu);
    const char *ns = w->ns ? w->ns : "(all)";
    if (log_it)
        log_warn("discovery", "kubernetes: request failed, retrying",
                 "namespace", ns, "err", e->msg, NULL);
    else if (e == NULL && was_failing)
        log_info("discovery", "kubernetes: requests work again", "namespace",
                 ns, NULL);
}

static void log_skipped(const char *source, const struct kb_err *e)
{
    log_warn("discovery", "kubernetes: pod skipped", "pod", source, "err",
             e->msg, NULL);
}

/* ---- requests ---- */

/* Apply one watch event line (the content of r->body); false when the
 * transfer must stop (r->gone or r->err set). */
static bool handle_line(struct req *r)
{
    struct worker *w = r->w;
    const char *line = (const char *)r->body.data;
    size_t n = r->body.len;
    struct k8s_event ev;
    struct kb_err err;
    bool ok = true;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n == 0)
        return true;
    if (k8s_event_parse(line, n, &ev, &err) != KB_OK) {
        r->err = err;
        kb_err_prefix(&r->err, "bad event");
        return false;
    }
    switch (ev.type) {
    case K8S_EVENT_ERROR:
        if (ev.code == 410)
            r->gone = true;
        else
            kb_errf(&r->err, KB_ERR_IO, "ERROR event: code %ld: %s", ev.code,
                    ev.message);
        ok = false;
        break;
    case K8S_EVENT_BOOKMARK:
        break;
    case K8S_EVENT_DELETED:
        remove_group(w, ev.source);
        break;
    case K8S_EVENT_ADDED:
    case K8S_EVENT_MODIFIED:
        if (ev.group != NULL) {
            put_group(w, ev.group);
            ev.group = NULL;
        } else {
            log_skipped(ev.source, &ev.pod_err);
            remove_group(w, ev.source);
        }
        break;
    }
    if (ok && ev.rv[0] != '\0')
        memcpy(w->rv, ev.rv, sizeof(w->rv));
    k8s_event_clear(&ev);
    return ok;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct req *r = arg;
    const char *p = data;
    size_t len = size * nmemb;
    if (r->code == 0)
        curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &r->code);
    if (r->code != 200) {
        /* An error body: keep its start for the message. */
        size_t room = ERROR_BODY_MAX - r->body.len;
        buf_append(&r->body, p, len < room ? len : room);
        return len;
    }
    if (!r->watch) {
        if (buf_append(&r->body, p, len) != KB_OK) {
            kb_errf(&r->err, KB_ERR_LIMIT, "response larger than %zu bytes",
                    DISC_K8S_MAX_LIST_BYTES);
            return 0;
        }
        return len;
    }
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = (size_t)((nl ? nl : end) - p);
        if (buf_append(&r->body, p, take) != KB_OK) {
            kb_errf(&r->err, KB_ERR_LIMIT, "event longer than %zu bytes",
                    DISC_K8S_MAX_LINE_BYTES);
            return 0;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
        bool go_on = handle_line(r);
        buf_reset(&r->body);
        if (!go_on) {
            len = 0;
            break;
        }
    }
    publish(r->w);
    return len;
}

/* The Authorization header from the token file, appended to *h. */
static enum kb_status add_token(const char *path, struct curl_slist **h,
                                struct kb_err *err)
{
    struct buf b;
    enum kb_status st;
    buf_init(&b, DISC_K8S_MAX_TOKEN_BYTES);
    if ((st = buf_puts(&b, "Authorization: Bearer ")) != KB_OK)
        goto out;
    size_t start = b.len;
    if ((st = kb_file_read(path, &b, err)) != KB_OK) {
        kb_err_prefix(err, "bearer_token_file");
        goto out;
    }
    while (b.len > start && strchr(" \t\r\n", b.data[b.len - 1]))
        b.len--;
    size_t from = start;
    while (from < b.len && strchr(" \t\r\n", b.data[from]))
        from++;
    memmove(b.data + start, b.data + from, b.len - from);
    b.len -= from - start;
    b.data[b.len] = '\0';
    if (b.len == start) {
        st = kb_errf(err, KB_ERR_INVALID, "bearer_token_file %s: empty", path);
        goto out;
    }
    for (size_t i = start; i < b.len; i++) {
        if (b.data[i] < 0x21 || b.data[i] > 0x7e) {
            st = kb_errf(err, KB_ERR_INVALID,
                         "bearer_token_file %s: not a token (a character "
                         "outside printable ASCII)",
                         path);
            goto out;
        }
    }
    *h = curl_slist_append(*h, (const char *)b.data);
out:
    if (b.data != NULL)
        memset(b.data, 0, b.cap);
    buf_free(&b);
    return st;
}

/* Append "&name=escaped(value)" (or "?..." first) to `url`. */
static enum kb_status add_param(CURL *e, struct buf *url, const char *name,
                                const char *value)
{
    if (value == NULL || value[0] == '\0')
        return KB_OK;
    char *v = curl_easy_escape(e, value, 0);
    enum kb_status st =
        v == NULL ? KB_ERR_INTERNAL
                  : buf_printf(url, "%c%s=%s",
                               strchr((const char *)url->data, '?') ? '&' : '?',
                               name, v);
    curl_free(v);
    return st;
}

static enum kb_status build_url(struct worker *w, CURL *e, bool watch,
                                int timeout_s, struct buf *url)
{
    struct disc_k8s *k = w->k;
    char ts[16];
    enum kb_status st;
    if (w->ns)
        st =
            buf_printf(url, "%s/api/v1/namespaces/%s/pods", k->base_url, w->ns);
    else
        st = buf_printf(url, "%s/api/v1/pods", k->base_url);
    if (st || (st = add_param(e, url, "labelSelector", k->label_selector)) ||
        (st = add_param(e, url, "fieldSelector", k->field_selector)))
        return st;
    if (!watch)
        return KB_OK;
    snprintf(ts, sizeof(ts), "%d", timeout_s);
    if ((st = add_param(e, url, "watch", "1")) ||
        (st = add_param(e, url, "resourceVersion", w->rv)) ||
        (st = add_param(e, url, "allowWatchBookmarks", "true")) ||
        (st = add_param(e, url, "timeoutSeconds", ts)))
        return st;
    return KB_OK;
}

/* Run the transfer of `e` on the worker's multi handle until it ends or
 * the provider stops. */
static CURLcode run(struct worker *w, CURL *e, bool *stopped)
{
    CURLcode res = CURLE_OK;
    bool done = false;
    *stopped = false;
    curl_multi_add_handle(w->multi, e);
    while (!done) {
        int running, queued;
        if (atomic_load(&w->k->stop)) {
            *stopped = true;
            break;
        }
        CURLMcode mc = curl_multi_perform(w->multi, &running);
        if (mc != CURLM_OK) {
            res = CURLE_FAILED_INIT;
            break;
        }
        CURLMsg *m;
        while ((m = curl_multi_info_read(w->multi, &queued)) != NULL) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == e) {
                res = m->data.result;
                done = true;
            }
        }
        if (!done)
            curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
    }
    curl_multi_remove_handle(w->multi, e);
    return res;
}

/* One list or watch request; on DONE for a list, r->body holds the body. */
static enum outcome request(struct worker *w, struct req *r, bool watch,
                            struct kb_err *err)
{
    struct disc_k8s *k = w->k;
    struct curl_slist *h = NULL;
    struct buf url;
    enum outcome o = FAILED;
    bool stopped;
    const char *op = watch ? "watch" : "list";
    int timeout_s = WATCH_TIMEOUT_MIN_S + (int)(rand_r(&w->seed) % 300);

    memset(r, 0, sizeof(*r));
    r->w = w;
    r->watch = watch;
    buf_init(&r->body,
             watch ? DISC_K8S_MAX_LINE_BYTES : DISC_K8S_MAX_LIST_BYTES);
    buf_init(&url, URL_MAX);
    r->e = curl_easy_init();
    if (r->e == NULL) {
        kb_errf(err, KB_ERR_IO, "%s %s: cannot make a curl handle", op,
                w->what);
        goto out;
    }
    if (build_url(w, r->e, watch, timeout_s, &url) != KB_OK) {
        kb_errf(err, KB_ERR_LIMIT, "%s %s: URL longer than %d bytes", op,
                w->what, URL_MAX);
        goto out;
    }
    if (k->token_file != NULL && add_token(k->token_file, &h, err) != KB_OK) {
        kb_err_prefix(err, "%s %s", op, w->what);
        goto out;
    }
    h = curl_slist_append(h, "Accept: application/json");
    struct curl_slist *connect_to =
        k->connect_to ? curl_slist_append(NULL, k->connect_to) : NULL;
    CURL *e = r->e;
    curl_easy_setopt(e, CURLOPT_URL, (const char *)url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "kiln-discovery");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     watch ? (timeout_s + 60) * 1000L : (long)LIST_TIMEOUT_MS);
    if (k->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_file);
    if (k->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, k->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, k->key_file);
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, k->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, k->insecure ? 0L : 2L);

    CURLcode res = run(w, e, &stopped);
    curl_slist_free_all(connect_to);
    if (r->code == 0)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->code);
    if (stopped) {
        o = STOPPED;
    } else if (r->gone) {
        o = GONE;
    } else if (r->err.status != KB_OK) {
        *err = r->err;
        kb_err_prefix(err, "%s %s", op, w->what);
    } else if (res != CURLE_OK) {
        kb_errf(err, KB_ERR_IO, "%s %s: %s", op, w->what,
                r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
    } else if (watch && r->code == 410) {
        o = GONE;
    } else if (r->code != 200) {
        char msg[200];
        k8s_status_message(r->body.data, r->body.len, msg, sizeof(msg));
        kb_errf(err, KB_ERR_IO, "%s %s: HTTP %ld: %s", op, w->what, r->code,
                msg);
    } else if (watch && r->body.len > 0) {
        kb_errf(err, KB_ERR_IO, "%s %s: stream cut mid-line", op, w->what);
    } else {
        o = DONE;
    }
out:
    curl_slist_free_all(h);
    if (r->e)
        curl_easy_cleanup(r->e);
    r->e = NULL;
    buf_free(&url);
    if (o != DONE || watch)
        buf_free(&r->body);
    return o;
}

static enum outcome list(struct worker *w, struct kb_err *err)
{
    struct req r;
    struct disc_group_set set = {0};
    char rv[K8S_RV_MAX];
    size_t skipped;
    struct kb_err skip_err;
    enum outcome o = request(w, &r, false, err);
    if (o != DONE)
        return o;
    enum kb_status st =
        k8s_pod_list_parse(r.body.data, r.body.len, DISC_K8S_MAX_PODS, &set, rv,
                           &skipped, &skip_err, err);
    buf_free(&r.body);
    if (st != KB_OK) {
        kb_err_prefix(err, "list %s", w->what);
        return FAILED;
    }
    if (skipped > 0) {
        char count[32];
        snprintf(count, sizeof(count), "%zu", skipped);
        log_warn("discovery", "kubernetes: pods skipped", "count", count,
                 "first", skip_err.msg, NULL);
    }
    memcpy(w->rv, rv, sizeof(rv));
    /* The changes: a merge of the old and the new sorted sets. */
    size_t i = 0, j = 0;
    while (i < w->groups.n || j < set.n) {
        const struct disc_group *a =
            i < w->groups.n ? w->groups.groups[i] : NULL;
        const struct disc_group *b = j < set.n ? set.groups[j] : NULL;
        int c = !a ? 1 : !b ? -1 : strcmp(a->source, b->source);
        if (c != 0 || !disc_group_equal(a, b))
            changed(w, c <= 0 ? a->source : b->source);
        i += c <= 0;
        j += c >= 0;
    }
    disc_group_set_clear(&w->groups);
    w->groups = set;
    publish(w);
    return DONE;
}

static enum outcome watch(struct worker *w, struct kb_err *err)
{
    struct req r;
    return request(w, &r, true, err);
}

static int64_t next_backoff(int64_t b)
{
    if (b == 0)
        return DISC_K8S_BACKOFF_MIN_MS;
    return b * 2 > DISC_K8S_BACKOFF_MAX_MS ? DISC_K8S_BACKOFF_MAX_MS : b * 2;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct disc_k8s *k = w->k;
    int64_t backoff = 0;
    struct kb_err err;
    bool relist = true;
    while (!atomic_load(&k->stop)) {
        if (relist) {
            enum outcome o = list(w, &err);
            if (o == STOPPED)
                break;
            record(w, o == DONE ? NULL : &err);
            if (o != DONE) {
                backoff = next_backoff(backoff);
                if (!sleep_ms(k, backoff))
                    break;
                continue;
            }
            relist = false;
        }
        int64_t t0 = mono_ms();
        enum outcome o = watch(w, &err);
        int64_t ran = mono_ms() - t0;
        if (o == STOPPED)
            break;
        record(w, o == FAILED ? &err : NULL);
        relist = o != DONE;
        if (o == FAILED) {
            if (ran >= HEALTHY_WATCH_MS)
                backoff = 0;
            backoff = next_backoff(backoff);
            if (!sleep_ms(k, backoff))
                break;
            continue;
        }
        /* Ended cleanly (renew from the last resourceVersion) or Gone
         * (list again): at most once a second, whatever the server does. */
        if (o == DONE)
            backoff = 0;
        if (ran < 1000 && !sleep_ms(k, 1000 - ran))
            break;
    }
    return NULL;
}

/* ---- configuration ---- */

static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

static bool unset(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static char *dup_or_null(const char *s)
{
    return unset(s) ? NULL : kb_strdup(s);
}

/* Whether every byte of `s` is printable ASCII (no space). */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static enum kb_status readable(const char *field, const char *path,
                               struct kb_err *err)
{
    if (path != NULL && access(path, R_OK) != 0)
        return kb_errf(err, KB_ERR_INVALID, "%s %s: %s", field, path,
                       strerror(errno));
    return KB_OK;
}

/* base_url and connect_to from the configuration. */
static enum kb_status
server(struct disc_k8s *k, const struct disc_k8s_config *c, struct kb_err *err)
{
    char url[URL_MAX];
    if (unset(c->api_server)) {
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        if (unset(host) || unset(port))
            return kb_errf(err, KB_ERR_INVALID,
                           "api_server unset and not running in a cluster "
                           "(KUBERNETES_SERVICE_HOST and "
                           "KUBERNETES_SERVICE_PORT are not set)");
        if (!printable(host) || strspn(port, "0123456789") != strlen(port) ||
            strlen(host) > 255 || strlen(port) > 5)
            return kb_errf(err, KB_ERR_INVALID,
                           "bad KUBERNETES_SERVICE_HOST or "
                           "KUBERNETES_SERVICE_PORT");
        snprintf(url, sizeof(url),
                 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
                 port);
        if (k->token_file == NULL)
            k->token_file = kb_strdup(DISC_K8S_SA_DIR "/token");
        if (k->ca_file == NULL)
            k->ca_file = kb_strdup(DISC_K8S_SA_DIR "/ca.crt");
    } else {
        size_t n = strlen(c->api_server);
        if (n >= sizeof(url) / 2)
            return kb_errf(err, KB_ERR_LIMIT,
                           "api_server longer than %zu bytes",
                           sizeof(url) / 2 - 1);
        if (strncmp(c->api_server, "https://", 8) != 0 &&
            strncmp(c->api_server, "http://", 7) != 0)
            return kb_errf(err, KB_ERR_INVALID,
                           "api_server \"%s\": expected an http:// or "
                           "https:// URL",
                           c->api_server);
        if (!printable(c->api_server) || strpbrk(c->api_server, "?#@"))
            return kb_errf(err, KB_ERR_INVALID,
                           "api_server \"%s\": a URL without spaces, query, "
                           "fragment or credentials expected",
                           c->api_server);
        memcpy(url, c->api_server, n + 1);
        while (n > 0 && url[n - 1] == '/')
            url[--n] = '\0';
    }

    char *hostport = strstr(url, "://") + 3;
    size_t hp_len = strcspn(hostport, "/");
    if (hp_len == 0)
        return kb_errf(err, KB_ERR_INVALID, "api_server \"%s\": no host", url);
    if (unset(c->server_name)) {
        k->base_url = kb_strdup(url);
        return KB_OK;
    }

    /* server_name: the URL names it, CONNECT_TO goes to the real host. */
    const char *sn = c->server_name;
    if (strlen(sn) > 253 ||
        strspn(sn, "abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(sn))
        return kb_errf(err, KB_ERR_INVALID,
                       "server_name \"%s\": not a host name", sn);
    char host[512], port[8];
    const char *colon;
    if (hostport[0] == '[') {
        const char *close = memchr(hostport, ']', hp_len);
        if (close == NULL)
            return kb_errf(err, KB_ERR_INVALID, "api_server \"%s\": bad host",
                           url);
        colon = close[1] == ':' ? close + 1 : NULL;
        snprintf(host, sizeof(host), "%.*s", (int)(close + 1 - hostport),
                 hostport);
    } else {
        colon = memchr(hostport, ':', hp_len);
        snprintf(host, sizeof(host), "%.*s",
                 (int)((colon ? colon : hostport + hp_len) - hostport),
                 hostport);
    }
    if (colon != NULL)
        snprintf(port, sizeof(port), "%.*s",
                 (int)(hostport + hp_len - colon - 1), colon + 1);
    else
        snprintf(port, sizeof(port), "%s",
                 url[4] == 's' ? "443" : "80"); /* "https" vs "http:" */
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port))
        return kb_errf(err, KB_ERR_INVALID, "api_server \"%s\": bad port", url);
    char connect_to[1024];
    snprintf(connect_to, sizeof(connect_to), "%s:%s:%s:%s", sn, port, host,
             port);
    k->connect_to = kb_strdup(connect_to);
    size_t scheme_len = (size_t)(hostport - url);
    char base[URL_MAX + 512];
    snprintf(base, sizeof(base), "%.*s%s:%s%s", (int)scheme_len, url, sn, port,
             hostport + hp_len);
    k->base_url = kb_strdup(base);
    return KB_OK;
}

static void stop_workers(struct disc_k8s *k)
{
    pthread_mutex_lock(&k->mu);
    atomic_store(&k->stop, true);
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->mu);
    for (size_t i = 0; i < k->n_workers; i++)
        if (k->workers[i].multi)
            curl_multi_wakeup(k->workers[i].multi);
    for (size_t i = 0; i < k->n_workers; i++) {
        if (k->workers[i].started)
            pthread_join(k->workers[i].thread, NULL);
        k->workers[i].started = false;
    }
}

enum kb_status disc_k8s_new(const struct disc_k8s_config *c,
                            struct disc_k8s **out, struct kb_err *err)
{
    enum kb_status st;
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return kb_errf(err, KB_ERR_IO, "cannot initialize libcurl: %s",
                       curl_easy_strerror(curl_init_result));
    if (c->n_namespaces > DISC_K8S_MAX_NAMESPACES)
        return kb_errf(err, KB_ERR_LIMIT, "more than %d namespaces",
                       DISC_K8S_MAX_NAMESPACES);
    for (size_t i = 0; i < c->n_namespaces; i++)
        if (c->namespaces[i] == NULL || !dns_label(c->namespaces[i]))
            return kb_errf(err, KB_ERR_INVALID,
                           "namespace \"%s\": not a DNS label (lower case "
                           "letters, digits and '-', at most 63)",
                           c->namespaces[i] ? c->namespaces[i] : "");
    const char *sels[2] = {c->label_selector, c->field_selector};
    for (size_t i = 0; i < 2; i++) {
        if (unset(sels[i]))
            continue;
        if (strlen(sels[i]) > DISC_K8S_MAX_SELECTOR)
            return kb_errf(err, KB_ERR_LIMIT,
                           "%s selector longer than %d bytes",
                           i ? "field" : "label", DISC_K8S_MAX_SELECTOR);
        for (const char *p = sels[i]; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return kb_errf(err, KB_ERR_INVALID,
                               "%s selector: control character",
                               i ? "field" : "label");
    }
    if (unset(c->cert_file) != unset(c->key_file))
        return kb_errf(err, KB_ERR_INVALID,
                       "cert_file and key_file go together");

    struct disc_k8s *k = kb_calloc(1, sizeof(*k));
    k->efd = -1;
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&k->stop, false);
    k->err_view = kb_calloc(1, sizeof(*k->err_view));
    k->token_file = dup_or_null(c->bearer_token_file);
    k->ca_file = dup_or_null(c->ca_file);
    k->cert_file = dup_or_null(c->cert_file);
    k->key_file = dup_or_null(c->key_file);
    k->insecure = c->insecure_skip_verify;
    k->label_selector = dup_or_null(c->label_selector);
    k->field_selector = dup_or_null(c->field_selector);
    if ((st = server(k, c, err)) ||
        (st = readable("ca_file", k->ca_file, err)) ||
        (st = readable("cert_file", k->cert_file, err)) ||
        (st = readable("key_file", k->key_file, err)))
        goto fail;
    k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (k->efd < 0) {
        st = kb_errf(err, KB_ERR_IO, "eventfd: %s", strerror(errno));
        goto fail;
    }

    /* Workers: one per distinct namespace, or one for all. */
    k->workers = kb_calloc(c->n_namespaces + 1, sizeof(*k->workers));
    for (size_t i = 0; i < c->n_namespaces || (i == 0 && !c->n_namespaces);
         i++) {
        const char *ns = c->n_namespaces ? c->namespaces[i] : NULL;
        bool dup = false;
        for (size_t j = 0; ns && j < k->n_workers; j++)
            dup = dup || strcmp(k->workers[j].ns, ns) == 0;
        if (dup)
            continue;
        struct worker *w = &k->workers[k->n_workers++];
        w->k = k;
        w->ns = ns ? kb_strdup(ns) : NULL;
        if (ns)
            snprintf(w->what, sizeof(w->what), "pods in namespace %s", ns);
        else
            snprintf(w->what, sizeof(w->what), "pods");
        w->seed = (unsigned)mono_ms() ^ (unsigned)(uintptr_t)w;
        w->multi = curl_multi_init();
        if (w->multi == NULL) {
            st = kb_errf(err, KB_ERR_IO, "cannot make a curl multi handle");
            goto fail;
        }
    }
    for (size_t i = 0; i < k->n_workers; i++) {
        int rc = pthread_create(&k->workers[i].thread, NULL, worker_main,
                                &k->workers[i]);
        if (rc != 0) {
            st = kb_errf(err, KB_ERR_IO, "cannot start a thread: %s",
                         strerror(rc));
            goto fail;
        }
        k->workers[i].started = true;
    }
    *out = k;
    return KB_OK;

fail:
    disc_k8s_free(k);
    return st;
}

void disc_k8s_free(struct disc_k8s *k)
{
    if (k == NULL)
        return;
    stop_workers(k);
    for (size_t i = 0; i < k->n_workers; i++) {
        struct worker *w = &k->workers[i];
        if (w->multi)
            curl_multi_cleanup(w->multi);
        disc_group_set_clear(&w->groups);
        disc_group_set_clear(&w->published);
        free_sources(w->changed, &w->n_changed);
        free(w->changed);
        free(w->ns);
    }
    free(k->workers);
    if (k->efd >= 0)
        close(k->efd);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cond);
    disc_group_set_clear(&k->snap);
    free_sources(k->changed, &k->n_changed);
    free(k->changed);
    free(k->err_view);
    free(k->base_url);
    free(k->connect_to);
    free(k->token_file);
    free(k->ca_file);
    free(k->cert_file);
    free(k->key_file);
    free(k->label_selector);
    free(k->field_selector);
    free(k);
}

int disc_k8s_fd(const struct disc_k8s *k)
{
    return k->efd;
}

static int cmp_group(const void *a, const void *b)
{
    const struct disc_group *x = *(struct disc_group *const *)a;
    const struct disc_group *y = *(struct disc_group *const *)b;
    return strcmp(x->source, y->source);
}

/* The snapshot rebuilt from every worker's published groups; whether it
 * changed. Under k->mu. */
static bool rebuild(struct disc_k8s *k)
{
    struct disc_group_set next = {0};
    for (size_t i = 0; i < k->n_workers; i++) {
        const struct disc_group_set *p = &k->workers[i].published;
        for (size_t j = 0; j < p->n; j++)
            disc_group_set_add(&next, disc_group_dup(p->groups[j]));
    }
    if (next.n > 1)
        qsort(next.groups, next.n, sizeof(*next.groups), cmp_group);
    if (disc_group_set_equal(&next, &k->snap)) {
        disc_group_set_clear(&next);
        return false;
    }
    disc_group_set_clear(&k->snap);
    k->snap = next;
    return true;
}

bool disc_k8s_poll(struct disc_k8s *k)
{
    uint64_t count;
    bool changed = false;
    while (read(k->efd, &count, sizeof(count)) == (ssize_t)sizeof(count))
        ;
    pthread_mutex_lock(&k->mu);
    if (k->rebuild) {
        changed = rebuild(k);
    } else if (k->dirty) {
        /* Apply the changed sources: each is in one worker's groups (its
         * namespace's) or none. */
        for (size_t i = 0; i < k->n_changed; i++) {
            const char *src = k->changed[i];
            const struct disc_group *g = NULL;
            for (size_t j = 0; g == NULL && j < k->n_workers; j++)
                g = set_get(&k->workers[j].published, src);
            if (set_apply(&k->snap, src, g))
                changed = true;
        }
    }
    free_sources(k->changed, &k->n_changed);
    k->dirty = k->rebuild = false;
    pthread_mutex_unlock(&k->mu);
    if (changed)
        k->version++;
    return changed;
}

const struct disc_group_set *disc_k8s_groups(const struct disc_k8s *k,
                                             uint64_t *version)
{
    if (version != NULL)
        *version = k->version;
    return &k->snap;
}

const struct kb_err *disc_k8s_last_error(const struct disc_k8s *k)
{
    struct disc_k8s *mk = (struct disc_k8s *)k; /* the mutex only */
    pthread_mutex_lock(&mk->mu);
    kb_err_clear(k->err_view);
    for (size_t i = 0; i < k->n_workers; i++) {
        if (k->workers[i].err.status != KB_OK) {
            *k->err_view = k->workers[i].err;
            break;
        }
    }
    pthread_mutex_unlock(&mk->mu);
    return k->err_view;
}

uint64_t disc_k8s_failures(const struct disc_k8s *k)
{
    struct disc_k8s *mk = (struct disc_k8s *)k; /* the mutex only */
    pthread_mutex_lock(&mk->mu);
    uint64_t n = k->failures;
    pthread_mutex_unlock(&mk->mu);
    return n;
}
