/* scraper/scrape_int.h: the scrape manager's internal types, shared by its
 * files and by nothing else:
 *
 *   manager.c  the loop thread, configuration switches, snapshots;
 *   job.c      one scrape config: relabel configs, discovery providers,
 *              turning target groups into targets;
 *   target.c   a target and its units (one per profile type): URLs,
 *              schedule, health, snapshot entries;
 *   fetch.c    one HTTP request of a unit on libcurl (body limit, errors);
 *   worker.c   the store worker: the thread that runs store.c on
 *              finished requests, in order, off the loop thread;
 *   store.c    a finished response into the database (decode, keep the
 *              configured sample types, delta, sample labels, `up`).
 *
 * Ownership: the manager owns its jobs; a job owns its targets; a target
 * owns its units. Jobs, targets and units' scheduling fields are touched
 * only with the manager's lock held (the loop thread holds it except while
 * it waits in epoll_wait). A unit's health fields are guarded by the
 * health lock of target.c; its delta state and label sets belong to the
 * store worker (worker.c says how units stay alive for it). */
#ifndef KILN_SCRAPER_SCRAPE_INT_H
#define KILN_SCRAPER_SCRAPE_INT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "discovery/group.h"
#include "scraper/relabel.h"
#include "scraper/targets.h"

struct labels;
struct hmap;
struct scrape_manager;
struct scrape_config_job;
struct scrape_delta;
struct tsdb;
struct tsdb_appender;
struct disc_file_sd;
struct disc_k8s;

/* ---- Units: one profile type of one target ------------------------------ */

struct scrape_unit {
    struct scrape_target *target;
    char *name;        /* "cpu", "memory", ... */
    char *type_prefix; /* the profile part of series names ("process_cpu") */
    char *url;         /* complete, with ?seconds= when `seconds` */
    bool delta;        /* the stored profile is a delta */
    bool seconds;      /* the target returns the window itself */
    char **keep;       /* sample types kept; none: all */
    size_t n_keep;

    /* Schedule. A unit never has two requests in flight. Units without
     * `seconds` start on the target's ticks (phase + k * interval); a
     * `seconds` unit starts its next window when the previous response is
     * in (not before the previous start + interval), so windows tile. */
    int64_t next_ms;      /* wall-clock time of the next start */
    int64_t scheduled_ms; /* when the running request was due */
    int64_t started_ms;   /* when it started */
    CURL *easy;           /* the running request, or NULL */
    struct buf body;      /* its response so far */
    char errbuf[CURL_ERROR_SIZE];
    bool too_big; /* the body passed the limit: aborted */

    /* Store worker's: cumulative endpoints' previous scrape, for deltas. */
    struct scrape_delta *delta_state;
    /* The sample label sets stored so far (labels text -> 1), at most
     * store_ctx.max_label_sets. */
    struct hmap *label_sets;

    /* Health, under target.c's health lock. */
    enum scrape_health health;
    bool not_found; /* the last scrape got a 404 */
    char *last_error;
    int64_t last_scrape_ms;
    double last_duration_s;
};

/* ---- Targets ----------------------------------------------------------- */

struct scrape_target {
    struct scrape_job *job;
    char *key;                 /* job name, then the target's `all` labels */
    struct labels *labels;     /* final labels: series get these */
    struct labels *all;        /* with __address__ and friends */
    struct labels *discovered; /* before relabeling */
    char *base_url;            /* scheme://address[path prefix] */
    int64_t interval_ms, timeout_ms;
    int64_t offset_ms; /* phase within the interval: a hash of `key` */
    struct scrape_unit **units;
    size_t n_units;
    bool claimed; /* scratch for job_sync: still discovered */
};

/* ---- Jobs -----------------------------------------------------------------
 */

/* A target that relabeling dropped, or whose labels are unusable. */
struct scrape_dropped {
    struct labels *discovered;
    char *reason; /* "" when relabeling dropped it */
};

struct scrape_job {
    const struct scrape_config_job *cfg; /* in the manager's config */
    struct relabel_config *relabel;
    size_t n_relabel;
    struct relabel_param *params; /* the job's params, flattened */
    size_t n_params;
    struct disc_group_set static_groups;
    struct disc_file_sd **file_sd;
    size_t n_file_sd;
    struct disc_k8s **k8s;
    size_t n_k8s;
    bool dirty; /* groups changed since the last job_sync */

    struct scrape_target **targets;
    size_t n_targets;
    struct scrape_dropped *dropped;
    size_t n_dropped, cap_dropped;
};

/* job.c */
enum kb_status job_new(const struct scrape_config_job *cfg,
                       const char *config_dir, struct scrape_job **out,
                       struct kb_err *err);
/* Free a job and its targets, releasing their units from `m` (NULL for a
 * job that never ran). */
void job_free(struct scrape_job *j, struct scrape_manager *m);
/* Poll the job's providers; mark the job dirty when groups changed. */
void job_poll(struct scrape_job *j);
/* Add the job's provider descriptors to fds[*n..max) and lower *timeout_ms
 * to the providers' timed work. */
void job_wait_fds(const struct scrape_job *j, struct curl_waitfd *fds,
                  unsigned *n, unsigned max, int *timeout_ms);
/* Recompute the job's targets from its providers' groups. Targets that
 * stay (same key) keep their state; `adopt` (may be NULL) holds targets of
 * the job this one replaces after a reload, which are reused by key, then
 * freed if unclaimed. Targets that go away are freed (their requests on
 * `multi` cancelled). */
void job_sync(struct scrape_job *j, struct scrape_manager *m,
              struct scrape_job *adopt);

/* target.c */
/* A target for `rt`, its units built from the job's profiles. */
struct scrape_target *target_new(struct scrape_job *j,
                                 struct relabel_target *rt,
                                 const struct labels *discovered,
                                 const char *key, int64_t now_ms);
/* Take over the state of `old` (same key): units with the same name and
 * URL move from `old` to `t` with their schedule, health, delta state and
 * running request. What stays in `old` is freed with it later. */
void target_adopt(struct scrape_target *t, struct scrape_target *old,
                  struct scrape_manager *m);
void target_free(struct scrape_target *t, struct scrape_manager *m);
/* Fill a snapshot entry (active). */
void target_snapshot(const struct scrape_target *t,
                     struct scrape_target_info *out);
/* A finished request, taken off its unit (which may already run its next
 * one): what store.c and the unit's health need. */
struct scrape_result {
    struct scrape_unit *u;
    struct labels *labels; /* a copy of the target's labels */
    int64_t interval_ms;   /* the target's */
    struct buf body;
    int64_t started_ms, done_ms;
    bool ok;        /* HTTP 200 with a whole body (store.c may still fail) */
    bool not_found; /* HTTP 404 */
    char msg[KB_ERR_MSG_MAX + 64]; /* why not ok; "" when ok */
};

/* Set the unit's health after a scrape that ran from started_ms to now
 * (under the health lock); returns whether the unit was down before. */
bool unit_set_result(struct scrape_unit *u, int64_t started_ms, int64_t now_ms,
                     bool ok, bool not_found, const char *error);

/* fetch.c */
/* Start the unit's request on `multi`. false (with the unit's health set
 * to down) when libcurl refused. */
bool fetch_start(struct scrape_unit *u, CURLM *multi, size_t body_limit,
                 const char *user_agent);
/* The request ended with `code`: fill `r` (the body moves from the unit
 * to r->body, which the caller frees), detach and free the easy handle.
 * The unit is idle afterwards. */
void fetch_finish(struct scrape_unit *u, CURLM *multi, CURLcode code,
                  struct scrape_result *r);
/* Cancel a running request (if any). */
void fetch_cancel(struct scrape_unit *u, CURLM *multi);

/* store.c */
struct store_ctx {
    struct tsdb *db;
    size_t max_label_sets;
    size_t body_limit;         /* also the limit on the gunzipped profile */
    struct tsdb_appender *app; /* open batch, or NULL */
    int64_t app_opened_ms;
    uint64_t folded_sets; /* sample label sets folded past the limit */
};
/* Decode the result's body and append what it holds to the open batch
 * (opening one if needed). KB_OK when the profile was understood (also
 * when nothing is stored, as for a first cumulative scrape); else the
 * error says why and nothing of it is in the batch. */
enum kb_status store_profile(struct store_ctx *s, const struct scrape_result *r,
                             struct kb_err *err);
/* Append `up` (`up` is 1 or 0) and `scrape_duration_seconds` for the
 * result's unit, at the scrape's start. */
void store_health(struct store_ctx *s, const struct scrape_result *r, bool up);
/* Commit the open batch, if any. */
void store_commit(struct store_ctx *s);

/* worker.c */
struct scrape_worker;
struct metrics_registry;
struct metrics_counter;
struct metrics_gauge;
struct worker_metrics {
    struct metrics_registry *registry;
    struct metrics_counter *bytes_total, *folded_total;
    struct metrics_gauge *queue; /* results waiting */
};
enum kb_status worker_start(struct tsdb *db, size_t max_label_sets,
                            size_t body_limit, const struct worker_metrics *met,
                            struct scrape_worker **out, struct kb_err *err);
/* Queue `r` (taken: *r is zeroed) for storing. false, leaving `r` the
 * caller's, when the queue is full (storage is behind). */
bool worker_push(struct scrape_worker *w, struct scrape_result *r);
/* Drop the queued results of `u` and wait while the worker handles one;
 * after it, the worker holds nothing of `u`. NULL `w` is allowed. */
void worker_forget(struct scrape_worker *w, struct scrape_unit *u);
/* Store everything queued, commit, join the thread, free. */
void worker_stop(struct scrape_worker *w);

/* manager.c: what the other files need from the manager. Before a unit
 * is freed: cancel its request and make the store worker forget it. */
void manager_release_unit(struct scrape_manager *m, struct scrape_unit *u);
/* Count a scrape in kiln_scrapes_total{profile, result}. */
void manager_count_scrape(struct metrics_registry *r, const char *profile,
                          const char *result);

#endif
