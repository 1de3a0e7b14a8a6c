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

#include "base/hmap.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/timefmt.h"
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

/* Open a batch if none is. Its age, for the commit, counts from now (not
 * from when the scrape finished: a worker that is behind must still group
 * its appends, or it would fsync once per scrape and fall further
 * behind). */
static void open_batch(struct store_ctx *s)
{
    if (s->app)
        return;
    s->app = tsdb_appender_begin(s->db);
    s->app_opened_ms = kb_now_ms();
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
static enum kb_status append_part(struct store_ctx *s,
                                  const struct scrape_result *r,
                                  const struct pprof_profile *p,
                                  const struct labels *extra, int64_t t_ms,
                                  int64_t duration_ns, struct kb_err *err)
{
    struct buf id;
    buf_init(&id, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < p->n_sample_types && st == KB_OK; i++) {
        if (!kept(r->u, p, i))
            continue;
        struct labels *ls = NULL;
        buf_reset(&id);
        if ((st = tsdb_type_id(p, i, r->u->type_prefix, &id)) != KB_OK) {
            kb_errf(err, st, "sample type %zu: bad type or unit", i);
            break;
        }
        st = series_labels(r->labels, extra, buf_cstr(&id), &ls, err);
        if (st == KB_OK)
            st = tsdb_append_profile(s->app, ls, t_ms, duration_ns, p, i, err);
        labels_free(ls);
    }
    buf_free(&id);
    return st;
}

/* Whether the unit may store a series with the extra labels `extra`: a
 * set it stored before, or a new one while it has stored fewer than
 * `max` sets (remembered then). */
static bool set_allowed(struct scrape_unit *u, const struct labels *extra,
                        size_t max)
{
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    (void)labels_format(extra, &key);
    if (!u->label_sets)
        u->label_sets = hmap_new(0);
    bool ok = hmap_get(u->label_sets, key.data, key.len) != NULL;
    if (!ok && hmap_count(u->label_sets) < max) {
        bool found;
        *hmap_put(u->label_sets, key.data, key.len, &found) = 1;
        ok = true;
    }
    buf_free(&key);
    return ok;
}

/* Split by sample labels and append every part. A target has at most
 * max_label_sets label sets per profile type over its life: the samples
 * of later sets are merged into the unlabeled part (and counted). */
static enum kb_status append_profile(struct store_ctx *s,
                                     const struct scrape_result *r,
                                     const struct pprof_profile *p,
                                     int64_t t_ms, int64_t duration_ns,
                                     struct kb_err *err)
{
    struct scrape_unit *u = r->u;
    struct scrape_label_split *parts = NULL;
    size_t n = 0, folded = 0;
    enum kb_status st = scrape_split_by_labels(p, r->labels, s->max_label_sets,
                                               &parts, &n, &folded, err);
    if (st != KB_OK)
        return st;
    const struct pprof_profile *plain = NULL; /* the unlabeled part */
    struct pprof_merger *fold = NULL;
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        if (labels_count(parts[i].extra) == 0) {
            plain = parts[i].profile;
        } else if (set_allowed(u, parts[i].extra, s->max_label_sets)) {
            st = append_part(s, r, parts[i].profile, parts[i].extra, t_ms,
                             duration_ns, err);
        } else {
            if (!fold)
                fold = pprof_merger_new();
            st = pprof_merger_add(fold, parts[i].profile, err);
            folded++;
        }
    }
    s->folded_sets += folded;
    if (st == KB_OK && fold) {
        if (plain)
            st = pprof_merger_add(fold, plain, err);
        struct pprof_profile *merged = pprof_merger_finish(fold);
        fold = NULL;
        if (st == KB_OK && merged)
            st = append_part(s, r, merged, NULL, t_ms, duration_ns, err);
        pprof_free(merged);
    } else if (st == KB_OK && plain) {
        st = append_part(s, r, plain, NULL, t_ms, duration_ns, err);
    }
    pprof_merger_free(fold);
    scrape_label_split_free(parts, n);
    return st;
}

enum kb_status store_profile(struct store_ctx *s, const struct scrape_result *r,
                             struct kb_err *err)
{
    struct scrape_unit *u = r->u;
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    /* The body size limit applies to the uncompressed profile too (as
     * Prometheus' body_size_limit): a gzip bomb stops there. */
    if (s->body_limit < lim.max_decompressed)
        lim.max_decompressed = s->body_limit;
    struct pprof_profile *p = NULL, *delta = NULL;
    enum kb_status st = pprof_decode(r->body.data, r->body.len, &lim, &p, err);
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

    int64_t t_ms = r->started_ms, duration_ns = 0;
    const struct pprof_profile *out = p;
    if (u->seconds) {
        duration_ns = p->duration_nanos > 0 ? p->duration_nanos
                                            : r->interval_ms * INT64_C(1000000);
        t_ms = r->started_ms + duration_ns / 1000000;
    } else if (u->delta) {
        if (!u->delta_state)
            u->delta_state =
                scrape_delta_new((const char *const *)u->keep, u->n_keep);
        st = scrape_delta_next(u->delta_state, p, r->started_ms, &delta, err);
        if (st != KB_OK || !delta) /* an error, or the first scrape */
            goto done;
        out = delta;
        duration_ns = delta->duration_nanos;
    }
    open_batch(s);
    st = append_profile(s, r, out, t_ms, duration_ns, err);
done:
    pprof_free(delta);
    pprof_free(p);
    return st;
}

/* Append float `v` at `t_ms` to the series `name`{target labels,
 * profile=unit}. */
static void append_float(struct store_ctx *s, const struct scrape_result *r,
                         const char *name, int64_t t_ms, double v)
{
    struct kb_err err;
    struct labels *extra = NULL, *ls = NULL;
    enum kb_status st =
        labels_from_strings(&extra, &err, "profile", r->u->name, NULL);
    if (st == KB_OK)
        st = series_labels(r->labels, extra, name, &ls, &err);
    if (st == KB_OK)
        st = tsdb_append_float(s->app, ls, t_ms, v, &err);
    if (st != KB_OK)
        log_warn("scrape", "Appending a health sample failed", "series", name,
                 "target", r->u->url, "err", err.msg, NULL);
    labels_free(extra);
    labels_free(ls);
}

void store_health(struct store_ctx *s, const struct scrape_result *r, bool up)
{
    open_batch(s);
    append_float(s, r, "up", r->started_ms, up ? 1 : 0);
    append_float(s, r, "scrape_duration_seconds", r->started_ms,
                 (double)(r->done_ms - r->started_ms) / 1000.0);
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
