/* scraper/targets.h: a snapshot of the scrape targets, as plain data, for
 * the targets API (web/) and kilnctl. The scrape loop fills one on request
 * (scrape_manager_targets); the reader renders it and frees it. Nothing in
 * a snapshot points into the live loop. See targets.c. */
#ifndef KILN_SCRAPER_TARGETS_H
#define KILN_SCRAPER_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct labels;

/* Health of a target or of one of its profile types, as Prometheus names
 * it: "unknown" before the first scrape, then "up" or "down". */
enum scrape_health {
    SCRAPE_HEALTH_UNKNOWN = 0,
    SCRAPE_HEALTH_UP,
    SCRAPE_HEALTH_DOWN,
};

/* "unknown", "up" or "down". */
const char *scrape_health_name(enum scrape_health h);

/* One profile type of an active target (cpu, memory, ...). */
struct scrape_target_profile {
    char *name; /* "cpu", "memory", ..., or a custom name */
    char *url;  /* the URL scraped, with ?seconds= when it applies */
    enum scrape_health health;
    char *last_error;       /* "" when the last scrape worked */
    int64_t last_scrape_ms; /* wall-clock start; 0 when never */
    double last_duration_s; /* of the last scrape; 0 when never */
};

/* A target. Active targets have everything; dropped targets (relabeling
 * dropped them, or their labels are unusable) have only scrape_pool,
 * discovered and, for unusable ones, last_error (the reason). */
struct scrape_target_info {
    char *scrape_pool;         /* the job name */
    struct labels *discovered; /* labels as discovery gave them (group
                                  labels merged in, before relabeling) */
    struct labels *labels;     /* final labels (no "__" ones); NULL when
                                  dropped */
    char *scrape_url;          /* URL of the first enabled profile type;
                                  NULL when dropped */
    /* Whole-target health: down when any enabled profile type is down
     * (other than a 404, which marks only that type), up when all that
     * were scraped are up, unknown before the first scrape. lastError,
     * lastScrape and lastScrapeDuration are those of the most recent
     * scrape that failed, else of the most recent scrape. */
    enum scrape_health health;
    char *last_error; /* "" when none */
    int64_t last_scrape_ms;
    double last_duration_s;
    int64_t interval_ms, timeout_ms;
    struct scrape_target_profile *profiles;
    size_t n_profiles;
};

/* The snapshot: active targets sorted by (scrape pool, labels), dropped
 * targets by (scrape pool, discovered labels). */
struct scrape_target_list {
    struct scrape_target_info *active;
    size_t n_active;
    struct scrape_target_info *dropped;
    size_t n_dropped;
};

/* Free every member and zero the list; a zeroed list may be freed. */
void scrape_target_list_free(struct scrape_target_list *l);

#endif
