/* web/api_targets.c: GET /api/v1/targets, the scrape targets in
 * Prometheus' shape, plus Kiln's per-profile-type health.
 *
 * What. {"activeTargets":[...],"droppedTargets":[...],
 * "droppedTargetCounts":{pool:n}} from a snapshot that hooks.targets
 * fills (scraper/targets.h). Each active target carries Prometheus' fields
 * (discoveredLabels, labels, scrapePool, scrapeUrl, globalUrl, lastError,
 * lastScrape, lastScrapeDuration, health, scrapeInterval, scrapeTimeout)
 * and Kiln's "profiles": one entry per profile type with its own URL,
 * health, last error, time and duration. Dropped targets carry
 * discoveredLabels and scrapePool.
 *
 * Parameters, as Prometheus: state=active|dropped|any (default any; case
 * and surrounding spaces do not matter; anything else is 400 bad_data)
 * and scrapePool=NAME, which keeps only that pool's targets. As in
 * Prometheus, droppedTargetCounts counts every pool whatever scrapePool
 * says, and is null when dropped targets are not asked for. Pools with no
 * target at all are unknown to the snapshot and not listed.
 *
 * Formats: times as RFC 3339 in UTC with milliseconds, Go's zero time
 * "0001-01-01T00:00:00Z" for never; durations as Prometheus writes them
 * ("10s", "1m30s"); lastScrapeDuration in seconds.
 *
 * Ownership: the snapshot is ours for the call and freed here.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/timefmt.h"
#include "web/handler.h"

/* Go's zero time.Time, which Prometheus shows for "never scraped". */
#define NEVER "0001-01-01T00:00:00Z"

static void put_labels(struct jsonw *w, const struct labels *ls)
{
    jsonw_object_begin(w);
    size_t n = ls != NULL ? labels_count(ls) : 0;
    for (size_t i = 0; i < n; i++) {
        const struct label *l = labels_at(ls, i);
        jsonw_keyn(w, l->name, l->name_len);
        jsonw_stringn(w, l->value, l->value_len);
    }
    jsonw_object_end(w);
}

static void put_str(struct jsonw *w, const char *key, const char *value)
{
    jsonw_key(w, key);
    jsonw_string(w, value != NULL ? value : "");
}

/* lastError, lastScrape and lastScrapeDuration, shared by targets and
 * their profiles. */
static void put_last(struct jsonw *w, const char *last_error, int64_t last_ms,
                     double duration_s)
{
    char t[KB_TIME_STR_MAX];
    put_str(w, "lastError", last_error);
    put_str(w, "lastScrape", last_ms != 0 ? kb_time_format(last_ms, t) : NEVER);
    jsonw_key(w, "lastScrapeDuration");
    jsonw_double(w, duration_s);
}

static void put_active(struct jsonw *w, const struct scrape_target_info *t)
{
    char d[KB_DURATION_STR_MAX];
    jsonw_object_begin(w);
    jsonw_key(w, "discoveredLabels");
    put_labels(w, t->discovered);
    jsonw_key(w, "labels");
    put_labels(w, t->labels);
    put_str(w, "scrapePool", t->scrape_pool);
    put_str(w, "scrapeUrl", t->scrape_url);
    put_str(w, "globalUrl", t->scrape_url);
    put_last(w, t->last_error, t->last_scrape_ms, t->last_duration_s);
    put_str(w, "health", scrape_health_name(t->health));
    put_str(w, "scrapeInterval", kb_duration_format(t->interval_ms, d));
    put_str(w, "scrapeTimeout", kb_duration_format(t->timeout_ms, d));
    jsonw_key(w, "profiles");
    jsonw_array_begin(w);
    for (size_t i = 0; i < t->n_profiles; i++) {
        const struct scrape_target_profile *p = &t->profiles[i];
        jsonw_object_begin(w);
        put_str(w, "name", p->name);
        put_str(w, "scrapeUrl", p->url);
        put_str(w, "health", scrape_health_name(p->health));
        put_last(w, p->last_error, p->last_scrape_ms, p->last_duration_s);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

struct pool_ref {
    const char *name;
    bool dropped;
};

static int pool_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pool_ref *)a)->name,
                  ((const struct pool_ref *)b)->name);
}

/* {"pool": dropped count} over every pool in the snapshot, by name: the
 * targets' pools sorted, each run of one name counted. */
static void put_dropped_counts(struct jsonw *w,
                               const struct scrape_target_list *l)
{
    size_t n = l->n_active + l->n_dropped;
    struct pool_ref *refs = kb_malloc((n + 1) * sizeof(*refs));
    for (size_t i = 0; i < l->n_active; i++)
        refs[i] = (struct pool_ref){l->active[i].scrape_pool, false};
    for (size_t i = 0; i < l->n_dropped; i++)
        refs[l->n_active + i] =
            (struct pool_ref){l->dropped[i].scrape_pool, true};
    qsort(refs, n, sizeof(*refs), pool_cmp);
    jsonw_object_begin(w);
    for (size_t i = 0; i < n;) {
        int64_t count = 0;
        size_t k = i;
        for (; k < n && strcmp(refs[k].name, refs[i].name) == 0; k++)
            count += refs[k].dropped;
        jsonw_key(w, refs[i].name);
        jsonw_int(w, count);
        i = k;
    }
    jsonw_object_end(w);
    free(refs);
}

static bool in_pool(const struct scrape_target_info *t, const char *pool)
{
    return pool == NULL || pool[0] == '\0' || strcmp(t->scrape_pool, pool) == 0;
}

/* Parse state=: sets which lists to show; false for a bad value. */
static bool parse_state(const char *s, bool *active, bool *dropped)
{
    char v[16];
    size_t n = 0;
    if (s != NULL) {
        while (isspace((unsigned char)*s))
            s++;
        for (; *s != '\0' && n < sizeof(v) - 1; s++)
            v[n++] = (char)tolower((unsigned char)*s);
        while (n > 0 && isspace((unsigned char)v[n - 1]))
            n--;
        if (*s != '\0')
            return false;
    }
    v[n] = '\0';
    bool any = n == 0 || strcmp(v, "any") == 0;
    *active = any || strcmp(v, "active") == 0;
    *dropped = any || strcmp(v, "dropped") == 0;
    return *active || *dropped;
}

void web_handle_targets(struct web_request *rq)
{
    const char *state = web_param(rq, "state");
    const char *pool = web_param(rq, "scrapePool");
    bool show_active, show_dropped;
    if (!parse_state(state, &show_active, &show_dropped)) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "invalid state \"%.64s\": want active, dropped or "
                        "any",
                        state);
        return;
    }
    const struct web_hooks *h = &web_options_of(rq)->hooks;
    struct scrape_target_list l = {0};
    struct kb_err err = {0};
    enum kb_status st = h->targets(h->arg, &l, &err);
    if (st != KB_OK) {
        web_reply_error(rq, web_error_from_status(st), "%s", err.msg);
        scrape_target_list_free(&l);
        return;
    }
    struct jsonw *w = web_json_begin(rq);
    jsonw_object_begin(w);
    jsonw_key(w, "activeTargets");
    jsonw_array_begin(w);
    for (size_t i = 0; show_active && i < l.n_active; i++)
        if (in_pool(&l.active[i], pool))
            put_active(w, &l.active[i]);
    jsonw_array_end(w);
    jsonw_key(w, "droppedTargets");
    jsonw_array_begin(w);
    for (size_t i = 0; show_dropped && i < l.n_dropped; i++) {
        if (!in_pool(&l.dropped[i], pool))
            continue;
        jsonw_object_begin(w);
        jsonw_key(w, "discoveredLabels");
        put_labels(w, l.dropped[i].discovered);
        put_str(w, "scrapePool", l.dropped[i].scrape_pool);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_key(w, "droppedTargetCounts");
    if (show_dropped)
        put_dropped_counts(w, &l);
    else
        jsonw_null(w);
    jsonw_object_end(w);
    web_json_end(rq);
    scrape_target_list_free(&l);
}
