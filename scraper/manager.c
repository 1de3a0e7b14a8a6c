/* scraper/manager.c: the scrape manager: one thread, one event loop, every
 * scrape of every target.
 *
 * The loop thread owns a libcurl multi handle, driven by libcurl's socket
 * interface over one epoll set: libcurl says which sockets to watch
 * (on_socket) and when to call it back (on_timer), and the loop hands it
 * only the sockets that are ready. Thousands of transfers may be in
 * flight (every CPU window is one, for the whole interval); waiting on
 * them costs nothing until one has data, where curl_multi_poll and
 * curl_multi_perform would scan them all at every turn. The same epoll
 * set holds the descriptors of the discovery providers (file_sd's
 * inotify, Kubernetes' notification) and an eventfd that reloads and stop
 * write to. Each turn of the loop:
 *
 *   1. switches to a pending configuration, if any (targets that exist in
 *      both keep their state: job_sync adopts them by key);
 *   2. polls the providers and recomputes the targets of jobs whose groups
 *      changed;
 *   3. starts every unit that is due (target.c explains the phases; a unit
 *      never runs twice at once, a tick that finds it still running is
 *      skipped and counted);
 *   4. lets libcurl move the transfers, takes the finished ones off their
 *      units, reschedules them (a CPU unit starts its next window right
 *      away) and queues the results for the store worker (worker.c),
 *      which decodes, appends and commits them in its own thread, so a
 *      slow or hostile body never delays another target's start.
 *
 * Locking: one mutex guards jobs, targets and schedules; the loop thread
 * holds it except while it waits in epoll_wait, so snapshots (the
 * targets API) and reloads see consistent state and never wait longer
 * than one turn. Health fields have their own lock (target.c).
 * Reloads build the new jobs outside the lock (scrape_manager_apply) and
 * leave them as `pending`; the loop switches at its next turn. */
#include "scraper/scrape.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/timefmt.h"
#include "scraper/config.h"
#include "scraper/scrape_int.h"

/* Longest the loop sleeps with nothing to do (ms). */
#define LOOP_MAX_WAIT_MS 1000
/* Provider descriptors the loop waits on. */
#define LOOP_MAX_FDS 256
/* Events taken from epoll per wait. */
#define LOOP_EVENTS 256

/* What an epoll event is about: the tag in the upper 32 bits of its data,
 * the descriptor in the lower ones. */
enum { EV_CURL = 1, EV_WAKE, EV_PROVIDER };

struct scrape_manager {
    struct scrape_options o;
    char *user_agent;
    pthread_t thread;
    pthread_mutex_t lock;
    CURLM *multi;
    int epfd;                   /* epoll: curl's sockets, providers, wakefd */
    int wakefd;                 /* eventfd: a reload is pending, or stop */
    int64_t timer_due_ms;       /* when libcurl wants its timeout call */
    int prov_fds[LOOP_MAX_FDS]; /* provider descriptors in epfd */
    unsigned n_prov_fds;

    struct scrape_config *cfg; /* running */
    struct scrape_job **jobs;
    size_t n_jobs;

    struct scrape_config *pending_cfg; /* applied, not yet switched to */
    struct scrape_job **pending_jobs;
    size_t n_pending_jobs;
    bool has_pending;

    bool stopping;
    struct scrape_worker *worker; /* stores what the loop fetched */

    /* Metrics that need no labels from the loop. */
    struct metrics_histogram *lateness;
    struct metrics_gauge *targets_active, *targets_dropped;
};

static const double lateness_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

void manager_release_unit(struct scrape_manager *m, struct scrape_unit *u)
{
    fetch_cancel(u, m->multi);
    worker_forget(m->worker, u);
}

void manager_count_scrape(struct metrics_registry *r, const char *profile,
                          const char *result)
{
    metrics_counter_add(
        metrics_counter(r, "kiln_scrapes_total",
                        "Scrapes by profile type and result (success, "
                        "error, not_found, skipped, dropped).",
                        "profile", profile, "result", result, NULL),
        1);
}

/* ---- Events ------------------------------------------------------------- */

static void wake(struct scrape_manager *m)
{
    uint64_t one = 1;
    ssize_t n = write(m->wakefd, &one, sizeof(one));
    (void)n; /* a full counter already means "wake up" */
}

static void epoll_set(struct scrape_manager *m, int op, int fd, int tag,
                      uint32_t events)
{
    struct epoll_event ev = {.events = events};
    ev.data.u64 = (uint64_t)tag << 32 | (uint32_t)fd;
    if (epoll_ctl(m->epfd, op, fd, &ev) != 0 && op != EPOLL_CTL_DEL)
        log_msgf(LOG_LEVEL_ERROR, "scrape", "epoll_ctl: fd %d: %s", fd,
                 strerror(errno));
}

/* libcurl's CURLMOPT_SOCKETFUNCTION: watch `s` for `what`. A socket's
 * assigned pointer (sockp) is non-NULL once it is in the epoll set. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
    struct scrape_manager *m = arg;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        epoll_set(m, EPOLL_CTL_DEL, s, EV_CURL, 0);
        return 0;
    }
    uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
                      (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    epoll_set(m, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, EV_CURL, events);
    if (!sockp)
        curl_multi_assign(m->multi, s, m);
    return 0;
}

/* libcurl's CURLMOPT_TIMERFUNCTION: call curl_multi_socket_action with
 * CURL_SOCKET_TIMEOUT in `timeout_ms` (-1: no timer). */
static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct scrape_manager *m = arg;
    (void)multi;
    m->timer_due_ms = timeout_ms < 0 ? INT64_MAX : kb_now_ms() + timeout_ms;
    return 0;
}

/* The providers' descriptors change only with the jobs: put the current
 * jobs' in the epoll set in place of the previous ones. */
static void watch_providers(struct scrape_manager *m)
{
    for (unsigned i = 0; i < m->n_prov_fds; i++)
        epoll_set(m, EPOLL_CTL_DEL, m->prov_fds[i], EV_PROVIDER, 0);
    int unused = LOOP_MAX_WAIT_MS;
    struct curl_waitfd fds[LOOP_MAX_FDS];
    unsigned n = 0;
    for (size_t i = 0; i < m->n_jobs; i++)
        job_wait_fds(m->jobs[i], fds, &n, LOOP_MAX_FDS, &unused);
    for (unsigned i = 0; i < n; i++) {
        m->prov_fds[i] = fds[i].fd;
        epoll_set(m, EPOLL_CTL_ADD, fds[i].fd, EV_PROVIDER, EPOLLIN);
    }
    m->n_prov_fds = n;
}

/* Hand a ready descriptor to whoever owns it. */
static void handle_event(struct scrape_manager *m, const struct epoll_event *ev)
{
    int tag = (int)(ev->data.u64 >> 32);
    int fd = (int)(uint32_t)ev->data.u64;
    if (tag == EV_CURL) {
        int flags = (ev->events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (ev->events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (ev->events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        int running;
        curl_multi_socket_action(m->multi, fd, flags, &running);
    } else if (tag == EV_WAKE) {
        uint64_t v;
        ssize_t n = read(m->wakefd, &v, sizeof(v));
        (void)n;
    } /* EV_PROVIDER: the next turn polls every provider */
}

/* ---- Jobs and configurations ----------------------------------------------
 */

static void free_jobs(struct scrape_job **jobs, size_t n,
                      struct scrape_manager *m)
{
    for (size_t i = 0; i < n; i++)
        job_free(jobs[i], m);
    free(jobs);
}

static struct scrape_job *find_job(struct scrape_job **jobs, size_t n,
                                   const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (jobs[i] && strcmp(jobs[i]->cfg->job_name, name) == 0)
            return jobs[i];
    return NULL;
}

/* After the targets changed: the gauges, and libcurl's connection cache,
 * which must hold one idle connection per unit. Its default (4 x the
 * transfers in flight) is smaller when most units are idle, and a full
 * cache closes a connection (after a scan of all of them) for nearly every
 * scrape, which then opens a new one. */
static void targets_changed(struct scrape_manager *m)
{
    size_t active = 0, dropped = 0, units = 0;
    for (size_t i = 0; i < m->n_jobs; i++) {
        active += m->jobs[i]->n_targets;
        dropped += m->jobs[i]->n_dropped;
        for (size_t t = 0; t < m->jobs[i]->n_targets; t++)
            units += m->jobs[i]->targets[t]->n_units;
    }
    metrics_gauge_set(m->targets_active, (double)active);
    metrics_gauge_set(m->targets_dropped, (double)dropped);
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)(units + 64));
}

/* Step 1: the pending configuration becomes the running one. */
static void switch_config(struct scrape_manager *m)
{
    struct scrape_job **old = m->jobs;
    size_t n_old = m->n_jobs;
    struct scrape_config *old_cfg = m->cfg;
    m->jobs = m->pending_jobs;
    m->n_jobs = m->n_pending_jobs;
    m->cfg = m->pending_cfg;
    m->pending_jobs = NULL;
    m->n_pending_jobs = 0;
    m->pending_cfg = NULL;
    m->has_pending = false;
    for (size_t i = 0; i < m->n_jobs; i++)
        job_sync(m->jobs[i], m,
                 find_job(old, n_old, m->jobs[i]->cfg->job_name));
    free_jobs(old, n_old, m);
    scrape_config_free(old_cfg);
    watch_providers(m);
    targets_changed(m);
    log_msgf(LOG_LEVEL_INFO, "scrape", "Configuration applied: %zu jobs",
             m->n_jobs);
}

/* ---- Scheduling --------------------------------------------------------- */

/* The first tick of the unit's target at or after `now`. */
static int64_t next_tick(const struct scrape_unit *u, int64_t now_ms)
{
    const struct scrape_target *t = u->target;
    int64_t k = (now_ms - t->offset_ms) / t->interval_ms;
    int64_t tick = k * t->interval_ms + t->offset_ms;
    return tick < now_ms ? tick + t->interval_ms : tick;
}

static void start_unit(struct scrape_manager *m, struct scrape_unit *u,
                       int64_t now_ms)
{
    u->scheduled_ms = u->next_ms;
    u->started_ms = now_ms;
    metrics_histogram_observe(m->lateness,
                              (double)(now_ms - u->scheduled_ms) / 1000.0);
    /* A `seconds` unit chains: its next start is set when this one ends. */
    u->next_ms = u->seconds ? INT64_MAX : next_tick(u, now_ms + 1);
    if (!fetch_start(u, m->multi, m->o.body_limit, m->user_agent)) {
        manager_count_scrape(m->o.metrics, u->name, "error");
        if (u->seconds)
            u->next_ms = next_tick(u, now_ms + 1);
    }
}

/* Step 3: start what is due; the earliest future start goes to *next. */
static void start_due(struct scrape_manager *m, int64_t now_ms,
                      int64_t *next_ms)
{
    for (size_t i = 0; i < m->n_jobs; i++) {
        struct scrape_job *j = m->jobs[i];
        for (size_t t = 0; t < j->n_targets; t++) {
            struct scrape_target *tg = j->targets[t];
            for (size_t k = 0; k < tg->n_units; k++) {
                struct scrape_unit *u = tg->units[k];
                if (u->easy)
                    continue;
                if (u->next_ms <= now_ms)
                    start_unit(m, u, now_ms);
                if (!u->easy && u->next_ms < *next_ms)
                    *next_ms = u->next_ms;
            }
        }
    }
}

/* Count the ticks a non-`seconds` unit missed while its request ran past
 * them, and move its next start to the first tick from now. */
static void skip_missed(struct scrape_manager *m, struct scrape_unit *u,
                        int64_t now_ms)
{
    if (u->seconds || u->next_ms >= now_ms)
        return;
    int64_t first = next_tick(u, now_ms);
    int64_t missed = (first - u->next_ms) / u->target->interval_ms;
    for (int64_t i = 0; i < missed; i++)
        manager_count_scrape(m->o.metrics, u->name, "skipped");
    u->next_ms = first;
}

/* A transfer ended; its unit is idle. Its next start is set here, and a
 * `seconds` unit's next window starts at once when due: the gap between
 * windows is then the network's round trip, not the time spent storing. */
static void reschedule(struct scrape_manager *m, struct scrape_unit *u,
                       const struct scrape_result *r)
{
    int64_t now_ms = r->done_ms;
    if (!u->seconds) {
        skip_missed(m, u, now_ms);
        return;
    }
    if (!r->ok) {
        u->next_ms = next_tick(u, now_ms);
        return;
    }
    int64_t after = r->started_ms + u->target->interval_ms;
    u->next_ms = now_ms > after ? now_ms : after;
    if (u->next_ms <= now_ms)
        start_unit(m, u, now_ms);
}

/* The store worker is behind and its queue full: the scrape fails (its
 * body is dropped) instead of memory growing without bound. */
static void drop_result(struct scrape_manager *m, struct scrape_result *r)
{
    const char *why = "dropped: storage is behind (the store queue is full)";
    if (!unit_set_result(r->u, r->started_ms, r->done_ms, false, false, why))
        log_warn("scrape", "Scrape failed", "url", r->u->url, "err", why, NULL);
    manager_count_scrape(m->o.metrics, r->u->name, "dropped");
    buf_free(&r->body);
    labels_free(r->labels);
}

/* Step 4: every transfer that ended: take it off its unit, reschedule
 * the unit (which may start its next window at once) and hand the result
 * to the store worker. */
static void drain_done(struct scrape_manager *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct scrape_unit *u = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&u);
        struct scrape_result r;
        fetch_finish(u, m->multi, msg->data.result, &r);
        r.done_ms = kb_now_ms();
        r.labels = labels_dup(u->target->labels);
        r.interval_ms = u->target->interval_ms;
        reschedule(m, u, &r);
        if (!worker_push(m->worker, &r))
            drop_result(m, &r);
    }
}

/* ---- The loop ------------------------------------------------------------ */

/* One turn; returns how long to wait for the next one (ms). */
static int loop_turn(struct scrape_manager *m)
{
    if (m->has_pending)
        switch_config(m);
    bool synced = false;
    for (size_t i = 0; i < m->n_jobs; i++) {
        job_poll(m->jobs[i]);
        if (m->jobs[i]->dirty) {
            job_sync(m->jobs[i], m, NULL);
            synced = true;
        }
    }
    if (synced)
        targets_changed(m);

    int64_t now_ms = kb_now_ms(), next_ms = now_ms + LOOP_MAX_WAIT_MS;
    start_due(m, now_ms, &next_ms);
    if (m->timer_due_ms <= kb_now_ms()) {
        int running;
        m->timer_due_ms = INT64_MAX; /* on_timer may set the next one */
        curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    drain_done(m);

    now_ms = kb_now_ms();
    if (m->timer_due_ms < next_ms)
        next_ms = m->timer_due_ms;
    int timeout = next_ms <= now_ms ? 0 : (int)(next_ms - now_ms);
    struct curl_waitfd fds[LOOP_MAX_FDS];
    unsigned n_fds = 0;
    for (size_t i = 0; i < m->n_jobs; i++)
        job_wait_fds(m->jobs[i], fds, &n_fds, LOOP_MAX_FDS, &timeout);
    return timeout;
}

static void *loop_main(void *arg)
{
    struct scrape_manager *m = arg;
    struct epoll_event evs[LOOP_EVENTS];
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        int timeout = loop_turn(m);
        pthread_mutex_unlock(&m->lock);
        int n = epoll_wait(m->epfd, evs, LOOP_EVENTS, timeout);
        pthread_mutex_lock(&m->lock);
        for (int i = 0; i < n; i++)
            handle_event(m, &evs[i]);
    }
    /* Store what was fetched, then cancel what runs. */
    worker_stop(m->worker);
    m->worker = NULL;
    free_jobs(m->jobs, m->n_jobs, m);
    m->jobs = NULL;
    m->n_jobs = 0;
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* ---- Public API ---------------------------------------------------------- */

enum kb_status scrape_manager_start(const struct scrape_options *o,
                                    struct scrape_manager **out,
                                    struct kb_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kb_errf(err, KB_ERR_IO, "libcurl: global init failed");
    struct scrape_manager *m = kb_calloc(1, sizeof(*m));
    m->o = *o;
    if (!m->o.body_limit)
        m->o.body_limit = SCRAPE_BODY_LIMIT_DEFAULT;
    m->user_agent = kb_strdup(o->user_agent ? o->user_agent : "Kiln");
    m->o.user_agent = m->user_agent;
    m->multi = curl_multi_init();
    if (!m->multi) {
        free(m->user_agent);
        free(m);
        curl_global_cleanup();
        return kb_errf(err, KB_ERR_IO, "libcurl: cannot create a multi handle");
    }
    /* Connections are reused per host; at most 8 per target host at once
     * (one per profile type in flight is plenty). */
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    m->timer_due_ms = INT64_MAX;
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    m->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->epfd < 0 || m->wakefd < 0) {
        int e = errno;
        if (m->epfd >= 0)
            close(m->epfd);
        if (m->wakefd >= 0)
            close(m->wakefd);
        curl_multi_cleanup(m->multi);
        free(m->user_agent);
        free(m);
        curl_global_cleanup();
        return kb_errf(err, KB_ERR_IO, "scrape loop: epoll: %s", strerror(e));
    }
    epoll_set(m, EPOLL_CTL_ADD, m->wakefd, EV_WAKE, EPOLLIN);
    struct metrics_registry *r = o->metrics;
    struct worker_metrics wm = {
        .registry = r,
        .bytes_total =
            metrics_counter(r, "kiln_scrape_body_bytes_total",
                            "Bytes of scraped response bodies.", NULL),
        .queue =
            metrics_gauge(r, "kiln_scrape_store_queue_length",
                          "Scrapes fetched and waiting to be stored.", NULL),
        .folded_total = metrics_counter(
            r, "kiln_scrape_sample_label_sets_folded_total",
            "Sample label sets past the per-target limit, stored without "
            "their labels.",
            NULL),
    };
    m->lateness = metrics_histogram(
        r, "kiln_scrape_lateness_seconds",
        "How late scrapes start after the time their schedule gives.",
        lateness_buckets, N_OF(lateness_buckets), NULL);
    m->targets_active =
        metrics_gauge(r, "kiln_scrape_targets", "Active scrape targets.", NULL);
    m->targets_dropped =
        metrics_gauge(r, "kiln_scrape_targets_dropped",
                      "Discovered targets that relabeling dropped.", NULL);
    enum kb_status st = worker_start(o->db, m->o.max_label_sets,
                                     m->o.body_limit, &wm, &m->worker, err);
    if (st != KB_OK) {
        close(m->epfd);
        close(m->wakefd);
        curl_multi_cleanup(m->multi);
        free(m->user_agent);
        free(m);
        curl_global_cleanup();
        return st;
    }
    pthread_mutex_init(&m->lock, NULL);
    int rc = pthread_create(&m->thread, NULL, loop_main, m);
    if (rc != 0) {
        worker_stop(m->worker);
        close(m->epfd);
        close(m->wakefd);
        curl_multi_cleanup(m->multi);
        pthread_mutex_destroy(&m->lock);
        free(m->user_agent);
        free(m);
        curl_global_cleanup();
        return kb_errf(err, KB_ERR_IO, "scrape loop thread: %s", strerror(rc));
    }
    *out = m;
    return KB_OK;
}

enum kb_status scrape_manager_apply(struct scrape_manager *m,
                                    struct scrape_config *cfg,
                                    const char *config_dir, struct kb_err *err)
{
    struct scrape_job **jobs = kb_calloc(cfg->n_jobs + 1, sizeof(*jobs));
    for (size_t i = 0; i < cfg->n_jobs; i++) {
        enum kb_status st = job_new(&cfg->jobs[i], config_dir, &jobs[i], err);
        if (st != KB_OK) {
            free_jobs(jobs, i, NULL);
            return st;
        }
    }
    pthread_mutex_lock(&m->lock);
    if (m->has_pending) { /* never switched to: replaced */
        free_jobs(m->pending_jobs, m->n_pending_jobs, NULL);
        scrape_config_free(m->pending_cfg);
    }
    m->pending_cfg = cfg;
    m->pending_jobs = jobs;
    m->n_pending_jobs = cfg->n_jobs;
    m->has_pending = true;
    pthread_mutex_unlock(&m->lock);
    wake(m);
    return KB_OK;
}

static int compare_info(const void *a, const void *b)
{
    const struct scrape_target_info *x = a, *y = b;
    int c = strcmp(x->scrape_pool, y->scrape_pool);
    if (c)
        return c;
    return labels_compare(x->labels ? x->labels : x->discovered,
                          y->labels ? y->labels : y->discovered);
}

enum kb_status scrape_manager_targets(struct scrape_manager *m,
                                      struct scrape_target_list *out,
                                      struct kb_err *err)
{
    (void)err;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&m->lock);
    size_t na = 0, nd = 0;
    for (size_t i = 0; i < m->n_jobs; i++) {
        na += m->jobs[i]->n_targets;
        nd += m->jobs[i]->n_dropped;
    }
    out->active = kb_calloc(na + 1, sizeof(*out->active));
    out->dropped = kb_calloc(nd + 1, sizeof(*out->dropped));
    for (size_t i = 0; i < m->n_jobs; i++) {
        const struct scrape_job *j = m->jobs[i];
        for (size_t k = 0; k < j->n_targets; k++)
            target_snapshot(j->targets[k], &out->active[out->n_active++]);
        for (size_t k = 0; k < j->n_dropped; k++) {
            struct scrape_target_info *d = &out->dropped[out->n_dropped++];
            d->scrape_pool = kb_strdup(j->cfg->job_name);
            d->discovered = labels_dup(j->dropped[k].discovered);
            d->last_error = kb_strdup(j->dropped[k].reason);
            d->interval_ms = j->cfg->scrape_interval_ms;
            d->timeout_ms = j->cfg->scrape_timeout_ms;
        }
    }
    pthread_mutex_unlock(&m->lock);
    qsort(out->active, out->n_active, sizeof(*out->active), compare_info);
    qsort(out->dropped, out->n_dropped, sizeof(*out->dropped), compare_info);
    return KB_OK;
}

void scrape_manager_stop(struct scrape_manager *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_mutex_unlock(&m->lock);
    wake(m);
    pthread_join(m->thread, NULL);
    if (m->has_pending) {
        free_jobs(m->pending_jobs, m->n_pending_jobs, NULL);
        scrape_config_free(m->pending_cfg);
    }
    scrape_config_free(m->cfg);
    curl_multi_cleanup(m->multi);
    close(m->epfd);
    close(m->wakefd);
    pthread_mutex_destroy(&m->lock);
    free(m->user_agent);
    free(m);
    curl_global_cleanup();
}
