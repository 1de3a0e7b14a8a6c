/* scraper/store.c: a finished response into the database.
 *
 * The body is decoded (pprof/, under its limits: a gzip bomb or a garbage
 * body is an error here and nothing of it is stored), the sample types the
 * job keeps are picked, cumulative endpoints become deltas
 * (scraper/delta.c), string sample labels become series labels
 * (scraper/samplelabels.c), and every kept sample type of every part is
 * appended as its own series: the target's labels plus __name__, the
 * profile type ID (DESIGN.md section 2).
 *
 * Times are Kiln's clock, not the target's: a profile type that takes a
 * window (cpu, ?seconds=N) is stored at the end of the window it asked for,
 * t = start of the scrape + the profile's duration, so consecutive windows
 * tile; a delta of a cumulative endpoint is stored at the scrape's start
 * and covers the time since the previous scrape; a gauge (inuse, goroutines)
 * is a snapshot at the scrape's start.
 *
 * Appends of a loop turn go into one batch (one WAL record, one fsync),
 * committed by store_commit at most SCRAPE_COMMIT_INTERVAL_MS after it was
 * opened; a scrape counts as stored once appended (the batch is its next
 * commit). A failed append (a database limit) leaves out that sample type
 * only; the ones before it stay in the batch. */
#include "scraper/scrape_int.h"

#include <string.h>

#include "base/labels.h"
#include "base/log.h"
#include "pprof/profile.h"
#include "scraper/delta.h"
#include "scraper/samplelabels.h"
#include "tsdb/tsdb.h"

/* Whether sample type `i` of `p` is one the unit keeps. */
static bool kept(const struct scrape_unit *u, const struct pprof_profile *p,
                 size_t i)
{
    if (u->n_keep == 0)
        return true;
    const char *name = pprof_str(p, p->sample_types[i].type);
    for (size_t k = 0; k < u->n_keep; k++)
        if (strcmp(u->keep[k], name) == 0)
            return true;
    return false;
}

static void open_batch(struct store_ctx *s, int64_t now_ms)
{
    if (s->app)
        return;
    s->app = tsdb_appender_begin(s->db);
    s->app_opened_ms = now_ms;
}

/* The series labels: `base` plus `extra` (may be NULL) plus
 * __name__=`name`. */
static enum kb_status series_labels(const struct labels *base,
                                    const struct labels *extra,
                                    const char *name, struct labels **out,
                                    struct kb_err *err)
{
    struct labels_builder *b = labels_builder_new();
    labels_builder_reset(b, base);
    enum kb_status st = KB_OK;
    for (size_t i = 0; extra && i < labels_count(extra) && st == KB_OK; i++)
        st = labels_builder_set(b, labels_at(extra, i)->name,
                                labels_at(extra, i)->value, err);
    if (st == KB_OK)
        st = labels_builder_set(b, LABEL_NAME, name, err);
    if (st == KB_OK)
        st = labels_builder_finish(b, out, err);
    labels_builder_free(b);
    return st;
}

/* Append the kept sample types of `p` with the extra labels `extra`. */
static enum kb_status append_part(struct store_ctx *s, struct scrape_unit *u,
                                  const struct pprof_profile *p,
                                  const struct labels *extra, int64_t t_ms,
                                  int64_t duration_ns, struct kb_err *err)
{
    struct buf id;
    buf_init(&id, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < p->n_sample_types && st == KB_OK; i++) {
        if (!kept(u, p, i))
            continue;
        struct labels *ls = NULL;
        buf_reset(&id);
        if ((st = tsdb_type_id(p, i, u->type_prefix, &id)) != KB_OK) {
            kb_errf(err, st, "sample type %zu: bad type or unit", i);
            break;
        }
        st = series_labels(u->target->labels, extra, buf_cstr(&id), &ls, err);
        if (st == KB_OK)
            st = tsdb_append_profile(s->app, ls, t_ms, duration_ns, p, i, err);
        labels_free(ls);
    }
    buf_free(&id);
    return st;
}

/* Split by sample labels and append every part. */
static enum kb_status append_profile(struct store_ctx *s, struct scrape_unit *u,
                                     const struct pprof_profile *p,
                                     int64_t t_ms, int64_t duration_ns,
                                     struct kb_err *err)
{
    struct scrape_label_split *parts = NULL;
    size_t n = 0, folded = 0;
    enum kb_status st = scrape_split_by_labels(
        p, u->target->labels, s->max_label_sets, &parts, &n, &folded, err);
    if (st != KB_OK)
        return st;
    s->folded_sets += folded;
    for (size_t i = 0; i < n && st == KB_OK; i++)
        st = append_part(s, u, parts[i].profile, parts[i].extra, t_ms,
                         duration_ns, err);
    scrape_label_split_free(parts, n);
    return st;
}

enum kb_status store_profile(struct store_ctx *s, struct scrape_unit *u,
                             int64_t now_ms, struct kb_err *err)
{
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    struct pprof_profile *p = NULL, *delta = NULL;
    enum kb_status st = pprof_decode(u->body.data, u->body.len, &lim, &p, err);
    if (st != KB_OK)
        return kb_err_prefix(err, "decode");
    size_t n_kept = 0;
    for (size_t i = 0; i < p->n_sample_types; i++)
        n_kept += kept(u, p, i);
    if (n_kept == 0) {
        st = kb_errf(err, KB_ERR_INVALID,
                     "the profile has none of the sample types kept");
        goto done;
    }

    int64_t t_ms = u->started_ms, duration_ns = 0;
    const struct pprof_profile *out = p;
    if (u->seconds) {
        duration_ns = p->duration_nanos > 0
                          ? p->duration_nanos
                          : u->target->interval_ms * INT64_C(1000000);
        t_ms = u->started_ms + duration_ns / 1000000;
    } else if (u->delta) {
        if (!u->delta_state)
            u->delta_state =
                scrape_delta_new((const char *const *)u->keep, u->n_keep);
        st = scrape_delta_next(u->delta_state, p, u->started_ms, &delta, err);
        if (st != KB_OK || !delta) /* an error, or the first scrape */
            goto done;
        out = delta;
        duration_ns = delta->duration_nanos;
    }
    open_batch(s, now_ms);
    st = append_profile(s, u, out, t_ms, duration_ns, err);
done:
    pprof_free(delta);
    pprof_free(p);
    return st;
}

/* Append float `v` to the series `name`{target labels, profile=unit}. */
static void append_float(struct store_ctx *s, struct scrape_unit *u,
                         const char *name, double v)
{
    struct kb_err err;
    struct labels *extra = NULL, *ls = NULL;
    enum kb_status st =
        labels_from_strings(&extra, &err, "profile", u->name, NULL);
    if (st == KB_OK)
        st = series_labels(u->target->labels, extra, name, &ls, &err);
    if (st == KB_OK)
        st = tsdb_append_float(s->app, ls, u->started_ms, v, &err);
    if (st != KB_OK)
        log_warn("scrape", "Appending a health sample failed", "series", name,
                 "target", u->url, "err", err.msg, NULL);
    labels_free(extra);
    labels_free(ls);
}

void store_health(struct store_ctx *s, struct scrape_unit *u, bool up,
                  double duration_s, int64_t now_ms)
{
    open_batch(s, now_ms);
    append_float(s, u, "up", up ? 1 : 0);
    append_float(s, u, "scrape_duration_seconds", duration_s);
}

void store_commit(struct store_ctx *s)
{
    if (!s->app)
        return;
    struct kb_err err;
    if (tsdb_appender_commit(s->app, &err) != KB_OK)
        log_error("scrape", "Committing scraped profiles failed", "err",
                  err.msg, NULL);
    s->app = NULL;
}
