/* scraper/scrape.h: the scrape manager, the part of the kiln server that
 * turns a configuration into scrapes: it runs the discovery providers of
 * every job, relabels what they find into targets, pulls each target's
 * profiles on a fixed schedule with libcurl's multi interface, converts
 * them (deltas, sample labels) and appends them to the database, with an
 * `up` series per target and profile type. See manager.c for the design;
 * docs/scraping.md for what users see. */
#ifndef KILN_SCRAPER_SCRAPE_H
#define KILN_SCRAPER_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "scraper/targets.h"

struct scrape_config;
struct metrics_registry;
struct tsdb;

/* Defaults of struct scrape_options. */
#define SCRAPE_BODY_LIMIT_DEFAULT (64u << 20) /* bytes of one response */
#define SCRAPE_LABEL_SETS_DEFAULT                                              \
    64 /* sample label sets kept                                               \
          per target and type */
#define SCRAPE_COMMIT_INTERVAL_MS                                              \
    200 /* longest an append waits                                             \
           for its WAL commit */

struct scrape_options {
    struct tsdb *db;                  /* where profiles go (borrowed) */
    struct metrics_registry *metrics; /* Kiln's own metrics (borrowed) */
    size_t body_limit;                /* 0: SCRAPE_BODY_LIMIT_DEFAULT */
    size_t max_label_sets;            /* sample label sets stored per
                                         target and profile type; 0:
                                         none (every sample unlabeled) */
    const char *user_agent;           /* "Kiln/<version>" */
};

struct scrape_manager;

/* Start the scrape loop's thread, with no jobs. KB_ERR_IO when libcurl or
 * the thread cannot start. */
enum kb_status scrape_manager_start(const struct scrape_options *o,
                                    struct scrape_manager **out,
                                    struct kb_err *err);

/* Make `cfg` the running configuration. Everything that can fail is done
 * here, in the caller's thread, before the running configuration is
 * touched: relabel configs are compiled, relative file_sd paths resolved
 * against `config_dir`, discovery providers started. On failure the
 * running configuration stays and `cfg` is still the caller's. On success
 * the manager owns `cfg`; the loop switches to it at its next turn.
 * Targets that exist before and after (same job, same labels) keep their
 * schedule, health and delta state; removed ones have their in-flight
 * scrapes cancelled. */
enum kb_status scrape_manager_apply(struct scrape_manager *m,
                                    struct scrape_config *cfg,
                                    const char *config_dir, struct kb_err *err);

/* A snapshot of the targets (active and dropped), for /api/v1/targets.
 * The caller frees it with scrape_target_list_free. */
enum kb_status scrape_manager_targets(struct scrape_manager *m,
                                      struct scrape_target_list *out,
                                      struct kb_err *err);

/* Stop: cancel in-flight scrapes, commit what was appended, stop the
 * providers, join the thread and free everything. NULL is allowed. */
void scrape_manager_stop(struct scrape_manager *m);

#endif
