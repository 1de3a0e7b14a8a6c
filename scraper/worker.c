/* scraper/worker.c: the store worker, the thread that turns finished
 * requests into stored data, so that the scrape loop never waits for it.
 *
 * Why a thread of its own. Decoding is CPU work whose cost a target
 * decides: a gzip bomb is decompressed up to the decoder's limit before it
 * is refused, a large profile takes a while to decode and to subtract.
 * Done in the loop thread, that time would delay every other target's
 * start. The loop only moves bodies off the network and keeps time; the
 * worker decodes (store.c), appends to the database, and publishes each
 * unit's health.
 *
 * One worker, a FIFO. A unit's results are so handled in the order they
 * finished, one at a time, which is what its delta state and its label
 * sets need; no lock guards them: only this thread touches them.
 *
 * What a queued result may point to. The result carries copies of what it
 * needs of its target (labels, interval), so a target may be rebuilt or
 * freed while the result waits. The unit itself must stay alive: before a
 * unit is freed, worker_forget drops its queued results and waits while
 * the worker is on it. Units' health fields are written under the health
 * lock (target.c), the only lock the worker takes besides its own queue
 * lock, so the loop thread may wait in worker_forget while holding the
 * manager's lock without a deadlock.
 *
 * Batches. Appends go into one open batch, committed (one WAL fsync) when
 * it has been open SCRAPE_COMMIT_INTERVAL_MS, or when the worker stops. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/timefmt.h"
#include "scraper/scrape.h"
#include "scraper/scrape_int.h"

/* Bounds on what waits for the worker; past either, new results are
 * dropped (the loop marks their scrapes failed) rather than memory grown
 * without end when storage cannot keep up. */
#define WORKER_QUEUE_MAX 16384
#define WORKER_QUEUE_BYTES_MAX ((size_t)256 << 20)

struct scrape_worker {
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below but `store` */
    pthread_cond_t wake;  /* work queued, or stop */
    pthread_cond_t idle;  /* `current` was cleared */
    struct scrape_result *queue;
    size_t head, n, cap; /* queue[head .. head+n) */
    size_t bytes;        /* bodies in the queue */
    struct scrape_unit *current;
    bool stopping;

    struct store_ctx store; /* the worker thread's own */
    struct worker_metrics met;
};

static const double duration_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60};

/* Store one result and publish its unit's health. */
static void handle(struct scrape_worker *w, struct scrape_result *r)
{
    struct scrape_unit *u = r->u;
    metrics_counter_add(w->met.bytes_total, (double)r->body.len);
    if (r->ok) {
        struct kb_err err;
        if (store_profile(&w->store, r, &err) != KB_OK) {
            r->ok = false;
            snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
        }
    }
    bool was_down = unit_set_result(u, r->started_ms, r->done_ms, r->ok,
                                    r->not_found, r->msg);
    store_health(&w->store, r, r->ok);
    metrics_counter_add(w->met.folded_total, (double)w->store.folded_sets);
    w->store.folded_sets = 0;
    manager_count_scrape(w->met.registry, u->name,
                         r->ok          ? "success"
                         : r->not_found ? "not_found"
                                        : "error");
    metrics_histogram_observe(
        metrics_histogram(w->met.registry, "kiln_scrape_duration_seconds",
                          "Duration of scrapes (for profile types that take "
                          "a window, the window included).",
                          duration_buckets,
                          sizeof(duration_buckets) /
                              sizeof(duration_buckets[0]),
                          "profile", u->name, NULL),
        (double)(r->done_ms - r->started_ms) / 1000.0);
    if (!r->ok && !was_down)
        log_warn("scrape", "Scrape failed", "url", u->url, "err", r->msg, NULL);
    else if (r->ok && was_down)
        log_info("scrape", "Scrape recovered", "url", u->url, NULL);
}

static void result_free(struct scrape_result *r)
{
    buf_free(&r->body);
    labels_free(r->labels);
    r->labels = NULL;
}

/* Commit when the batch is old enough (or `force`). */
static void maybe_commit(struct scrape_worker *w, bool force)
{
    if (w->store.app && (force || kb_now_ms() - w->store.app_opened_ms >=
                                      SCRAPE_COMMIT_INTERVAL_MS))
        store_commit(&w->store);
}

/* Wait for work; with a batch open, only until it is due. */
static void wait_for_work(struct scrape_worker *w)
{
    if (!w->store.app) {
        pthread_cond_wait(&w->wake, &w->lock);
        return;
    }
    int64_t due = w->store.app_opened_ms + SCRAPE_COMMIT_INTERVAL_MS;
    struct timespec ts = {.tv_sec = due / 1000,
                          .tv_nsec = (long)(due % 1000) * 1000000};
    if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) == ETIMEDOUT) {
        pthread_mutex_unlock(&w->lock);
        maybe_commit(w, false);
        pthread_mutex_lock(&w->lock);
    }
}

static void *worker_main(void *arg)
{
    struct scrape_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->n == 0 && !w->stopping)
            wait_for_work(w);
        if (w->n == 0)
            break; /* stopping, and everything queued is stored */
        struct scrape_result r = w->queue[w->head];
        w->head = (w->head + 1) % w->cap;
        w->n--;
        w->bytes -= r.body.len;
        metrics_gauge_set(w->met.queue, (double)w->n);
        w->current = r.u;
        pthread_mutex_unlock(&w->lock);
        handle(w, &r);
        result_free(&r);
        maybe_commit(w, false);
        pthread_mutex_lock(&w->lock);
        w->current = NULL;
        pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->lock);
    maybe_commit(w, true);
    return NULL;
}

enum kb_status worker_start(struct tsdb *db, size_t max_label_sets,
                            size_t body_limit, const struct worker_metrics *met,
                            struct scrape_worker **out, struct kb_err *err)
{
    struct scrape_worker *w = kb_calloc(1, sizeof(*w));
    w->store.db = db;
    w->store.max_label_sets = max_label_sets;
    w->store.body_limit = body_limit;
    w->met = *met;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    /* CLOCK_REALTIME timed waits: the due time is wall-clock ms. */
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return kb_errf(err, KB_ERR_IO, "store worker thread: %s", strerror(rc));
    }
    *out = w;
    return KB_OK;
}

bool worker_push(struct scrape_worker *w, struct scrape_result *r)
{
    pthread_mutex_lock(&w->lock);
    if (w->n >= WORKER_QUEUE_MAX ||
        w->bytes + r->body.len > WORKER_QUEUE_BYTES_MAX) {
        pthread_mutex_unlock(&w->lock);
        return false;
    }
    if (w->n == w->cap) { /* grow the ring, keeping its order */
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct scrape_result *q = kb_calloc(cap, sizeof(*q));
        for (size_t i = 0; i < w->n; i++)
            q[i] = w->queue[(w->head + i) % w->cap];
        free(w->queue);
        w->queue = q;
        w->cap = cap;
        w->head = 0;
    }
    w->queue[(w->head + w->n) % w->cap] = *r;
    w->n++;
    w->bytes += r->body.len;
    metrics_gauge_set(w->met.queue, (double)w->n);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    memset(r, 0, sizeof(*r));
    return true;
}

void worker_forget(struct scrape_worker *w, struct scrape_unit *u)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    size_t kept = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct scrape_result *r = &w->queue[(w->head + i) % w->cap];
        if (r->u == u) {
            w->bytes -= r->body.len;
            result_free(r);
        } else
            w->queue[(w->head + kept++) % w->cap] = *r;
    }
    w->n = kept;
    metrics_gauge_set(w->met.queue, (double)w->n);
    while (w->current == u)
        pthread_cond_wait(&w->idle, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void worker_stop(struct scrape_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    free(w->queue);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
