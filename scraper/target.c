/* scraper/target.c: a scrape target and its units.
 *
 * A target is what relabeling kept of a discovered target: its final
 * labels, the URL parts and its interval and timeout. It has one unit per
 * enabled profile type of its job (cpu, memory, ...), and a unit is what
 * gets scheduled, fetched and stored: its URL is the target's base URL,
 * the profile type's path and the query (the job's params, plus
 * seconds=<interval> for profile types that take a window).
 *
 * Phase. Every target starts its scrapes at offset_ms within the interval,
 * where offset_ms is a hash of the target's key (job and labels) modulo the
 * interval, counted from the Unix epoch: load spreads evenly over the
 * interval, and a target keeps its phase across restarts and reloads.
 *
 * State that must survive rediscovery lives in the unit (schedule, running
 * request, health, the previous cumulative profile): target_adopt moves
 * units from the old incarnation of a target to the new one, when their
 * name, URL, kind and kept sample types are the same.
 *
 * Health fields are written by the store worker and read by snapshots,
 * under health_lock below. */
#include "scraper/scrape_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hmap.h"
#include "base/labels.h"
#include "scraper/config.h"
#include "scraper/delta.h"

/* The profile part of the series names of a profile type (DESIGN.md
 * section 2): Go's and Parca's names for the built-in ones. */
static const char *type_prefix(const char *name)
{
    if (strcmp(name, "cpu") == 0)
        return "process_cpu";
    if (strcmp(name, "allocs") == 0)
        return "memory";
    return name;
}

/* Whether the job's params already name `seconds`. */
static bool has_seconds_param(const struct relabel_target *rt)
{
    for (size_t i = 0; i < rt->nparams; i++)
        if (strcmp(rt->params[i].name, "seconds") == 0)
            return true;
    return false;
}

static char *unit_url(const struct scrape_target *t,
                      const struct relabel_target *rt,
                      const struct scrape_config_profile *p)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    (void)buf_puts(&b, t->base_url);
    (void)buf_puts(&b, p->path);
    char sep = '?';
    if (rt->query[0]) {
        (void)buf_printf(&b, "?%s", rt->query);
        sep = '&';
    }
    if (p->seconds && !has_seconds_param(rt)) {
        int64_t s = t->interval_ms / 1000;
        (void)buf_printf(&b, "%cseconds=%lld", sep, (long long)(s ? s : 1));
    }
    char *url = kb_strdup(buf_cstr(&b));
    buf_free(&b);
    return url;
}

/* The first tick of `t` at or after now. */
static int64_t first_tick(const struct scrape_target *t, int64_t now_ms)
{
    int64_t k = (now_ms - t->offset_ms) / t->interval_ms;
    int64_t tick = k * t->interval_ms + t->offset_ms;
    return tick < now_ms ? tick + t->interval_ms : tick;
}

static struct scrape_unit *unit_new(struct scrape_target *t,
                                    const struct relabel_target *rt,
                                    const struct scrape_config_profile *p,
                                    int64_t now_ms)
{
    struct scrape_unit *u = kb_calloc(1, sizeof(*u));
    u->target = t;
    u->name = kb_strdup(p->name);
    u->type_prefix = kb_strdup(type_prefix(p->name));
    u->url = unit_url(t, rt, p);
    u->delta = p->delta;
    u->seconds = p->seconds;
    u->keep = kb_calloc(p->n_keep_sample_types + 1, sizeof(*u->keep));
    for (size_t i = 0; i < p->n_keep_sample_types; i++)
        u->keep[i] = kb_strdup(p->keep_sample_types[i]);
    u->n_keep = p->n_keep_sample_types;
    u->next_ms = first_tick(t, now_ms);
    buf_init(&u->body, BUF_NO_LIMIT);
    u->last_error = kb_strdup("");
    return u;
}

static void unit_free(struct scrape_unit *u, struct scrape_manager *m)
{
    if (!u)
        return;
    if (m)
        manager_release_unit(m, u);
    free(u->name);
    free(u->type_prefix);
    free(u->url);
    for (size_t i = 0; i < u->n_keep; i++)
        free(u->keep[i]);
    free(u->keep);
    buf_free(&u->body);
    scrape_delta_free(u->delta_state);
    hmap_free(u->label_sets);
    free(u->last_error);
    free(u);
}

/* scheme://address, then the metrics path as a prefix of every profile
 * path (without its trailing '/'; "/" adds nothing). */
static char *base_url(const struct relabel_target *rt)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    (void)buf_printf(&b, "%s://%s", rt->scheme, rt->address);
    if (rt->metrics_path) {
        size_t n = strlen(rt->metrics_path);
        while (n > 0 && rt->metrics_path[n - 1] == '/')
            n--;
        if (n > 0 && rt->metrics_path[0] != '/')
            (void)buf_putc(&b, '/');
        (void)buf_append(&b, rt->metrics_path, n);
    }
    char *url = kb_strdup(buf_cstr(&b));
    buf_free(&b);
    return url;
}

struct scrape_target *target_new(struct scrape_job *j,
                                 struct relabel_target *rt,
                                 const struct labels *discovered,
                                 const char *key, int64_t now_ms)
{
    const struct scrape_config_job *c = j->cfg;
    struct scrape_target *t = kb_calloc(1, sizeof(*t));
    t->job = j;
    t->key = kb_strdup(key);
    t->labels = labels_dup(rt->labels);
    t->all = labels_dup(rt->all);
    t->discovered = labels_dup(discovered);
    t->base_url = base_url(rt);
    t->interval_ms = rt->scrape_interval_ms > 0 ? rt->scrape_interval_ms
                                                : c->scrape_interval_ms;
    t->timeout_ms = rt->scrape_timeout_ms > 0 ? rt->scrape_timeout_ms
                                              : c->scrape_timeout_ms;
    t->offset_ms =
        (int64_t)(kb_hash(key, strlen(key), 0) % (uint64_t)t->interval_ms);
    t->units = kb_calloc(c->n_profiles + 1, sizeof(*t->units));
    for (size_t i = 0; i < c->n_profiles; i++)
        if (c->profiles[i].enabled)
            t->units[t->n_units++] = unit_new(t, rt, &c->profiles[i], now_ms);
    return t;
}

static bool unit_same(const struct scrape_unit *a, const struct scrape_unit *b)
{
    if (strcmp(a->name, b->name) != 0 || strcmp(a->url, b->url) != 0 ||
        a->delta != b->delta || a->seconds != b->seconds ||
        a->n_keep != b->n_keep)
        return false;
    for (size_t i = 0; i < a->n_keep; i++)
        if (strcmp(a->keep[i], b->keep[i]) != 0)
            return false;
    return true;
}

void target_adopt(struct scrape_target *t, struct scrape_target *old,
                  struct scrape_manager *m)
{
    for (size_t i = 0; i < t->n_units; i++) {
        for (size_t k = 0; k < old->n_units; k++) {
            struct scrape_unit *o = old->units[k];
            if (!o || !unit_same(t->units[i], o))
                continue;
            unit_free(t->units[i], m);
            o->target = t;
            t->units[i] = o;
            old->units[k] = NULL;
            break;
        }
    }
}

void target_free(struct scrape_target *t, struct scrape_manager *m)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_units; i++)
        unit_free(t->units[i], m);
    free(t->units);
    free(t->key);
    labels_free(t->labels);
    labels_free(t->all);
    labels_free(t->discovered);
    free(t->base_url);
    free(t);
}

/* Guards every unit's health fields: the store worker writes them, the
 * targets API reads them. One lock for the process: health changes are
 * rare and short. */
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;

bool unit_set_result(struct scrape_unit *u, int64_t started_ms, int64_t now_ms,
                     bool ok, bool not_found, const char *error)
{
    char *msg = kb_strdup(ok ? "" : error);
    pthread_mutex_lock(&health_lock);
    bool was_down = u->health == SCRAPE_HEALTH_DOWN;
    u->health = ok ? SCRAPE_HEALTH_UP : SCRAPE_HEALTH_DOWN;
    u->not_found = not_found;
    char *old = u->last_error;
    u->last_error = msg;
    u->last_scrape_ms = started_ms;
    u->last_duration_s = (double)(now_ms - started_ms) / 1000.0;
    pthread_mutex_unlock(&health_lock);
    free(old);
    return was_down;
}

/* ---- Snapshots ------------------------------------------------------------
 */

void target_snapshot(const struct scrape_target *t,
                     struct scrape_target_info *out)
{
    memset(out, 0, sizeof(*out));
    out->scrape_pool = kb_strdup(t->job->cfg->job_name);
    out->discovered = labels_dup(t->discovered);
    out->labels = labels_dup(t->labels);
    out->scrape_url = kb_strdup(t->n_units ? t->units[0]->url : t->base_url);
    out->interval_ms = t->interval_ms;
    out->timeout_ms = t->timeout_ms;
    out->profiles = kb_calloc(t->n_units + 1, sizeof(*out->profiles));
    out->n_profiles = t->n_units;

    pthread_mutex_lock(&health_lock);
    const struct scrape_unit *latest = NULL, *failed = NULL;
    bool any_up = false, any_down = false, any_404 = false;
    for (size_t i = 0; i < t->n_units; i++) {
        const struct scrape_unit *u = t->units[i];
        out->profiles[i] = (struct scrape_target_profile){
            .name = kb_strdup(u->name),
            .url = kb_strdup(u->url),
            .health = u->health,
            .last_error = kb_strdup(u->last_error),
            .last_scrape_ms = u->last_scrape_ms,
            .last_duration_s = u->last_duration_s,
        };
        if (u->health == SCRAPE_HEALTH_UNKNOWN)
            continue;
        if (!latest || u->last_scrape_ms > latest->last_scrape_ms)
            latest = u;
        if (u->health == SCRAPE_HEALTH_UP)
            any_up = true;
        else if (u->not_found)
            any_404 = true;
        else {
            any_down = true;
            if (!failed || u->last_scrape_ms > failed->last_scrape_ms)
                failed = u;
        }
    }
    /* A 404 marks only its profile type down, unless nothing is up. */
    out->health = any_down || (any_404 && !any_up) ? SCRAPE_HEALTH_DOWN
                  : any_up                         ? SCRAPE_HEALTH_UP
                                                   : SCRAPE_HEALTH_UNKNOWN;
    const struct scrape_unit *shown = failed ? failed : latest;
    out->last_error = kb_strdup(shown ? shown->last_error : "");
    out->last_scrape_ms = shown ? shown->last_scrape_ms : 0;
    out->last_duration_s = shown ? shown->last_duration_s : 0;
    pthread_mutex_unlock(&health_lock);
}
