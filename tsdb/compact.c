/* tsdb/compact.c: turning the head into blocks, merging blocks, retention,
 * and the head checkpoint.
 *
 * Design, following Prometheus:
 *
 * Head compaction. When the head spans more than 1.5 block ranges, its
 * oldest aligned range [k*R, (k+1)*R) is written as a block (block.c),
 * then the head is rebuilt without that data (tsdb_head_copy_after: a fresh
 * symbol space holding only what the newer data uses, so the head's memory
 * does not grow forever) and checkpointed. The `writer` mutex is held
 * throughout, so appends wait while the head is cut (queries do not).
 *
 * Checkpoint. After the head is rebuilt its ids no longer match the WAL,
 * so the whole head is written as BATCH records into a new WAL directory
 * wal/checkpoint.C.tmp (C = the segment the live WAL was just cut to),
 * fsynced, renamed to wal/checkpoint.C; then segments below C and older
 * checkpoints are deleted. Replay (db.c) reads the newest checkpoint, then
 * segments from C on. A crash before the rename leaves the old checkpoint
 * and segments, which replay to the old head; db.c then drops from it what
 * blocks already hold and checkpoints again.
 *
 * Block merging. Blocks of one level that fall inside one window of the
 * next level (ranges R, 3R, 9R, ..., up to max_block_range) are merged
 * into one block once the head has moved past the window. The new block
 * names its sources in meta.json, so a crash before the old blocks are
 * deleted is repaired at open (db.c drops replaced blocks). Merging reads
 * only immutable blocks: appends and queries go on meanwhile; only the swap
 * of the block list takes the write lock.
 *
 * Retention deletes whole blocks: by time (maxt older than the newest data
 * minus retention_time) and by size (oldest first while the blocks and WAL
 * exceed retention_size).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/fsio.h"
#include "base/labels.h"
#include "base/log.h"
#include "tsdb/db.h"

/* Data records of a checkpoint are cut at about this many bytes. */
#define CHECKPOINT_RECORD_BYTES (8u << 20)

/* Write `rec` as one BATCH record to `w` and empty it. */
static enum kb_status flush_record(struct tsdb_wal *w, struct buf *rec,
                                   struct kb_err *err)
{
    if (rec->len >= TSDB_WAL_MAX_RECORD)
        return kb_errf(err, KB_ERR_LIMIT,
                       "checkpoint record of %zu bytes exceeds the WAL's "
                       "record limit",
                       rec->len);
    enum kb_status st =
        tsdb_wal_append(w, TSDB_REC_BATCH, rec->data, rec->len, err);
    buf_reset(rec);
    return st;
}

/* The bytes entry `i` of table `t` takes, roughly (for cutting records). */
static size_t entry_bytes(const struct tsdb_head *h, int t, size_t i)
{
    const struct pprof_profile *p = h->sym.symbols;
    switch (t) {
    case 0:
        return p->string_lens[i] + 5;
    case 1:
        return 48;
    case 2:
        return 24;
    case 3:
        return 24 + 12 * p->locations[i].n_lines;
    case 4:
        return 10;
    default: {
        const struct labels *ls = h->series[i]->labels;
        size_t n = 32;
        for (size_t j = 0; j < labels_count(ls); j++)
            n += labels_at(ls, j)->name_len + labels_at(ls, j)->value_len + 10;
        return n;
    }
    }
}

/* Table `t` (0 strings .. 4 stacks) of a set of marks. */
static size_t *mark_of(struct tsdb_symspace_marks *m, int t)
{
    size_t *tables[5] = {&m->strings, &m->mappings, &m->functions,
                         &m->locations, &m->stacks};
    return tables[t];
}

enum kb_status tsdb_db_write_tables(const struct tsdb_head *h,
                                    const struct tsdb_symspace_marks *from,
                                    size_t from_series, struct tsdb_wal *w,
                                    struct buf *rec, struct kb_err *err)
{
    struct tsdb_symspace_marks cur = *from, full;
    tsdb_symspace_marks(&h->sym, &full);
    size_t series = from_series;
    enum kb_status st = KB_OK;
    for (int t = 0; st == KB_OK && t < 6; t++) { /* 5 = series */
        size_t *at = t < 5 ? mark_of(&cur, t) : &series;
        size_t end = t < 5 ? *mark_of(&full, t) : h->n_series;
        while (st == KB_OK && *at < end) {
            size_t stop = *at, bytes = 0;
            while (stop < end && bytes < CHECKPOINT_RECORD_BYTES)
                bytes += entry_bytes(h, t, stop++);
            struct tsdb_symspace_marks to = cur;
            size_t series_to = series;
            if (t < 5)
                *mark_of(&to, t) = stop;
            else
                series_to = stop;
            tsdb_symspace_encode_range(&h->sym, &cur, &to, rec);
            tsdb_db_encode_series(h, series, series_to, rec);
            tsdb_db_encode_data(NULL, 0, NULL, 0, rec);
            st = flush_record(w, rec, err);
            cur = to;
            series = series_to;
        }
    }
    return st;
}

/* A data-only record header: empty symbol and series ranges. */
static void empty_ranges(const struct tsdb_head *h, struct buf *rec)
{
    struct tsdb_symspace_marks m;
    tsdb_symspace_marks(&h->sym, &m);
    tsdb_symspace_encode_range(&h->sym, &m, &m, rec);
    tsdb_db_encode_series(h, h->n_series, h->n_series, rec);
}

/* Data records being filled by write_head_data. */
struct data_batch {
    struct tsdb_pending_profile *pp;
    struct tsdb_pending_float *pf;
    size_t np, cap_p, nf, cap_f, bytes;
};

/* Write what `d` holds as one record, if anything, and empty it. */
static enum kb_status flush_data(const struct tsdb_head *h,
                                 struct data_batch *d, struct tsdb_wal *w,
                                 struct buf *rec, struct kb_err *err)
{
    if (d->np == 0 && d->nf == 0)
        return KB_OK;
    empty_ranges(h, rec);
    tsdb_db_encode_data(d->pp, d->np, d->pf, d->nf, rec);
    d->np = d->nf = d->bytes = 0;
    return flush_record(w, rec, err);
}

/* Write every profile and float of `h` as data records of about
 * CHECKPOINT_RECORD_BYTES each (a record may end mid-series). */
static enum kb_status write_head_data(const struct tsdb_head *h,
                                      struct tsdb_wal *w, struct buf *rec,
                                      struct kb_err *err)
{
    struct data_batch d = {0};
    enum kb_status st = KB_OK;
    for (size_t i = 0; st == KB_OK && i < h->n_series; i++) {
        const struct tsdb_head_series *s = h->series[i];
        for (size_t k = 0; st == KB_OK && k < s->n_profiles; k++) {
            const struct tsdb_profile_view *v = &s->profiles[k];
            d.pp = kb_grow(d.pp, &d.cap_p, d.np + 1, sizeof(*d.pp));
            d.pp[d.np++] = (struct tsdb_pending_profile){s->ref,
                                                         v->t_ms,
                                                         v->duration_ns,
                                                         v->n,
                                                         (uint32_t *)v->stacks,
                                                         (int64_t *)v->values};
            d.bytes += 16 + v->n * 6;
            if (d.bytes >= CHECKPOINT_RECORD_BYTES)
                st = flush_data(h, &d, w, rec, err);
        }
        for (size_t k = 0; st == KB_OK && k < s->n_floats; k++) {
            d.pf = kb_grow(d.pf, &d.cap_f, d.nf + 1, sizeof(*d.pf));
            d.pf[d.nf++] =
                (struct tsdb_pending_float){s->ref, s->ft[k], s->fv[k]};
            d.bytes += 12;
            if (d.bytes >= CHECKPOINT_RECORD_BYTES)
                st = flush_data(h, &d, w, rec, err);
        }
    }
    if (st == KB_OK)
        st = flush_data(h, &d, w, rec, err);
    free(d.pp);
    free(d.pf);
    return st;
}

enum kb_status tsdb_db_checkpoint(struct tsdb *db, const struct tsdb_head *h,
                                  struct kb_err *err)
{
    char wal_dir[KB_PATH_MAX], name[64], tmpname[64], tmp[KB_PATH_MAX],
        final[KB_PATH_MAX];
    enum kb_status st;
    if ((st = tsdb_wal_cut(db->wal, err)))
        return st;
    uint32_t c = tsdb_wal_current_segment(db->wal);
    snprintf(name, sizeof(name), TSDB_CHECKPOINT_PREFIX "%08u", c);
    snprintf(tmpname, sizeof(tmpname), TSDB_CHECKPOINT_PREFIX "%08u.tmp", c);
    if ((st = kb_path_join(wal_dir, db->dir, "wal", err)) ||
        (st = kb_path_join(final, wal_dir, name, err)) ||
        (st = kb_path_join(tmp, wal_dir, tmpname, err)))
        return st;
    kb_remove_all(tmp, NULL);
    struct tsdb_wal *w = NULL;
    struct buf rec;
    buf_init(&rec, BUF_NO_LIMIT);
    struct tsdb_symspace_marks empty;
    tsdb_symspace_empty_marks(&empty);
    if ((st = tsdb_wal_open(tmp, NULL, &w, err)) ||
        (st = tsdb_db_write_tables(h, &empty, 0, w, &rec, err)) ||
        (st = write_head_data(h, w, &rec, err)) ||
        (st = tsdb_wal_close(w, err)))
        goto done;
    w = NULL;
    if (rename(tmp, final) != 0) {
        st = kb_errf(err, KB_ERR_IO, "%s: %s", final, strerror(errno));
        goto done;
    }
    if ((st = kb_dir_sync(wal_dir, err)))
        goto done;
    /* From here on the WAL describes `h`. */
    tsdb_symspace_marks(&h->sym, &db->logged_sym);
    db->logged_series = h->n_series;
    /* Older segments and checkpoints are covered: delete them. A failure
     * here leaves files that replay skips; it is logged, not fatal. */
    struct kb_err terr = {0};
    if (tsdb_wal_truncate(db->wal, c, &terr) != KB_OK)
        log_warn("tsdb", "cannot delete old WAL segments", "err", terr.msg,
                 NULL);
    tsdb_db_remove_old_checkpoints(wal_dir, c);
done:
    if (w)
        tsdb_wal_close(w, NULL);
    if (st)
        kb_remove_all(tmp, NULL);
    buf_free(&rec);
    return st;
}

/* ---- Head compaction ---------------------------------------------------- */

/* Add the data of head series within [mint, maxt] to a block writer. */
static void head_to_writer(const struct tsdb_head *h,
                           struct tsdb_block_writer *w, int64_t mint,
                           int64_t maxt)
{
    for (size_t i = 0; i < h->n_series; i++) {
        const struct tsdb_head_series *s = h->series[i];
        size_t a = 0, b;
        if (s->kind == TSDB_PROFILES) {
            while (a < s->n_profiles && s->profiles[a].t_ms < mint)
                a++;
            for (b = a; b < s->n_profiles && s->profiles[b].t_ms <= maxt;)
                b++;
            if (b > a)
                tsdb_block_writer_add_profiles(w, s->labels, s->period, &h->sym,
                                               s->profiles + a, b - a);
        } else {
            while (a < s->n_floats && s->ft[a] < mint)
                a++;
            for (b = a; b < s->n_floats && s->ft[b] <= maxt;)
                b++;
            if (b > a)
                tsdb_block_writer_add_floats(w, s->labels, s->ft + a, s->fv + a,
                                             b - a);
        }
    }
}

/* Insert an opened block into the list (under the write lock). */
static void add_block(struct tsdb *db, struct tsdb_block *b)
{
    db->blocks = kb_grow(db->blocks, &db->cap_blocks, db->n_blocks + 1,
                         sizeof(*db->blocks));
    size_t i = db->n_blocks;
    while (i > 0 && tsdb_block_meta(db->blocks[i - 1])->mint >
                        tsdb_block_meta(b)->mint) {
        db->blocks[i] = db->blocks[i - 1];
        i--;
    }
    db->blocks[i] = b;
    db->n_blocks++;
}

static enum kb_status open_new_block(struct tsdb *db, const char *ulid,
                                     struct tsdb_block **out,
                                     struct kb_err *err)
{
    char path[KB_PATH_MAX];
    enum kb_status st = kb_path_join(path, db->dir, ulid, err);
    return st ? st : tsdb_block_open(path, out, err);
}

/* Cut the head's oldest range into a block, if the head spans more than
 * 1.5 ranges. Sets *done when there was nothing to cut. Holds `writer`. */
static enum kb_status compact_head_once(struct tsdb *db, bool *done,
                                        struct kb_err *err)
{
    struct tsdb_head *h = db->head;
    int64_t range = db->opts.block_range;
    *done = true;
    if (h->n_profiles + h->n_floats == 0 || h->maxt - h->mint < range * 3 / 2)
        return KB_OK;
    *done = false;
    int64_t start = h->mint - (((h->mint % range) + range) % range);
    int64_t end = start + range - 1;
    struct tsdb_block_writer *w = tsdb_block_writer_new();
    head_to_writer(h, w, start, end);
    char ulid[TSDB_ULID_LEN + 1];
    struct tsdb_block *b = NULL;
    enum kb_status st =
        tsdb_block_writer_finish(w, db->dir, start, end, 1, NULL, 0, ulid, err);
    tsdb_block_writer_free(w);
    if (st == KB_OK)
        st = open_new_block(db, ulid, &b, err);
    if (st)
        return st;
    /* The rebuilt head is checkpointed before it replaces the old one: if
     * that fails, the old head and WAL stay as they were and the block is
     * removed again, so nothing is counted twice. */
    struct tsdb_head *nh = tsdb_head_copy_after(h, end);
    if ((st = tsdb_db_checkpoint(db, nh, err))) {
        char path[KB_PATH_MAX];
        snprintf(path, sizeof(path), "%s", tsdb_block_dir(b));
        tsdb_block_close(b);
        kb_remove_all(path, NULL);
        tsdb_head_free(nh);
        return st;
    }
    pthread_rwlock_wrlock(&db->lock);
    add_block(db, b);
    db->head = nh;
    pthread_rwlock_unlock(&db->lock);
    tsdb_head_free(h);
    log_msgf(LOG_LEVEL_INFO, "tsdb", "wrote block %s for [%lld, %lld]", ulid,
             (long long)start, (long long)end);
    return KB_OK;
}

/* ---- Block merging ------------------------------------------------------ */

/* Merge blocks[first .. first+n) into one block of `level`. */
static enum kb_status merge_blocks(struct tsdb *db, struct tsdb_block **in,
                                   size_t n, int level, struct kb_err *err)
{
    struct tsdb_block_writer *w = tsdb_block_writer_new();
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    size_t n_src = 0, cap_src = 0;
    const char **sources = NULL;
    enum kb_status st = KB_OK;
    for (size_t k = 0; st == KB_OK && k < n; k++) {
        const struct tsdb_block_meta *m = tsdb_block_meta(in[k]);
        mint = m->mint < mint ? m->mint : mint;
        maxt = m->maxt > maxt ? m->maxt : maxt;
        size_t ns = m->n_sources ? m->n_sources : 1;
        for (size_t j = 0; j < ns; j++) {
            sources = kb_grow(sources, &cap_src, n_src + 1, sizeof(*sources));
            sources[n_src++] = m->n_sources ? m->sources[j] : m->ulid;
        }
        for (size_t i = 0; st == KB_OK && i < tsdb_block_series_count(in[k]);
             i++) {
            const struct labels *ls = tsdb_block_series_labels(in[k], i);
            if (tsdb_block_series_kind(in[k], i) == TSDB_PROFILES) {
                struct tsdb_profile_view *v;
                size_t nv;
                void *mem;
                st = tsdb_block_read_profiles(in[k], i, &v, &nv, &mem, err);
                if (st == KB_OK)
                    tsdb_block_writer_add_profiles(
                        w, ls, tsdb_block_series_period(in[k], i),
                        tsdb_block_symspace(in[k]), v, nv);
                free(mem);
            } else {
                int64_t *t;
                double *v;
                size_t nv;
                st = tsdb_block_read_floats(in[k], i, &t, &v, &nv, err);
                if (st == KB_OK)
                    tsdb_block_writer_add_floats(w, ls, t, v, nv);
                free(t);
                free(v);
            }
        }
    }
    char ulid[TSDB_ULID_LEN + 1];
    struct tsdb_block *b = NULL;
    if (st == KB_OK)
        st = tsdb_block_writer_finish(w, db->dir, mint, maxt, level, sources,
                                      n_src, ulid, err);
    tsdb_block_writer_free(w);
    free(sources);
    if (st == KB_OK)
        st = open_new_block(db, ulid, &b, err);
    if (st)
        return st;
    /* Swap: the new block in, the merged ones out, then delete them. */
    pthread_rwlock_wrlock(&db->lock);
    size_t keep = 0;
    for (size_t i = 0; i < db->n_blocks; i++) {
        bool merged = false;
        for (size_t k = 0; k < n; k++)
            merged = merged || db->blocks[i] == in[k];
        if (!merged)
            db->blocks[keep++] = db->blocks[i];
    }
    db->n_blocks = keep;
    add_block(db, b);
    pthread_rwlock_unlock(&db->lock);
    for (size_t k = 0; k < n; k++) {
        char path[KB_PATH_MAX];
        snprintf(path, sizeof(path), "%s", tsdb_block_dir(in[k]));
        tsdb_block_close(in[k]);
        kb_remove_all(path, NULL);
    }
    log_msgf(LOG_LEVEL_INFO, "tsdb", "merged %zu blocks into %s (level %d)", n,
             ulid, level);
    return KB_OK;
}

/* Find one window of the next level holding 2+ blocks that are complete
 * (the data has moved past the window) and merge them. *merged says
 * whether it did. */
static enum kb_status merge_once(struct tsdb *db, bool *merged,
                                 struct kb_err *err)
{
    *merged = false;
    int64_t newest =
        db->head->n_profiles + db->head->n_floats ? db->head->mint : INT64_MAX;
    int64_t window = db->opts.block_range;
    for (int level = 1; window * 3 <= db->opts.max_block_range; level++) {
        window *= 3;
        for (size_t i = 0; i < db->n_blocks; i++) {
            const struct tsdb_block_meta *m = tsdb_block_meta(db->blocks[i]);
            if (m->resolution > 0)
                continue; /* downsampled copies follow their raw block */
            int64_t ws = m->mint - (((m->mint % window) + window) % window);
            int64_t we = ws + window - 1;
            if (m->maxt > we || m->maxt - m->mint + 1 >= window ||
                (newest != INT64_MAX && newest <= we))
                continue;
            struct tsdb_block *group[64];
            size_t n = 0;
            for (size_t j = i; j < db->n_blocks && n < 64; j++) {
                const struct tsdb_block_meta *o =
                    tsdb_block_meta(db->blocks[j]);
                if (o->resolution == 0 && o->mint >= ws && o->maxt <= we)
                    group[n++] = db->blocks[j];
            }
            if (n < 2)
                continue;
            if (newest == INT64_MAX &&
                tsdb_block_meta(db->blocks[db->n_blocks - 1])->maxt <= we)
                continue; /* nothing newer yet: the window may still fill */
            *merged = true;
            return merge_blocks(db, group, n, level + 1, err);
        }
    }
    return KB_OK;
}

static void delete_block(struct tsdb *db, size_t i, const char *why);

/* ---- Downsampling ------------------------------------------------------ */

/* The resolutions every raw block older than downsample_after gets. */
static const int64_t resolutions[] = {5 * 60 * 1000, 60 * 60 * 1000};
#define N_RESOLUTIONS (sizeof(resolutions) / sizeof(resolutions[0]))

/* The block downsampling `raw` at `res`, or NULL. */
static struct tsdb_block *companion(const struct tsdb *db,
                                    const struct tsdb_block *raw, int64_t res)
{
    const char *ulid = tsdb_block_meta(raw)->ulid;
    for (size_t i = 0; i < db->n_blocks; i++) {
        const struct tsdb_block_meta *m = tsdb_block_meta(db->blocks[i]);
        if (m->resolution == res && strcmp(m->downsample_of, ulid) == 0)
            return db->blocks[i];
    }
    return NULL;
}

/* Sum a series' profiles into buckets of `res` ms: one view per bucket,
 * at the bucket's start, with the summed durations and pairs. The views
 * and their pairs live in one allocation returned in *mem. */
static size_t bucket_profiles(const struct tsdb_profile_view *v, size_t n,
                              int64_t res, int64_t mint, uint32_t n_stacks,
                              struct tsdb_profile_view **out, void **mem)
{
    size_t pairs = 0;
    for (size_t k = 0; k < n; k++)
        pairs += v[k].n;
    size_t vsize = (n + 1) * sizeof(**out);
    uint8_t *m =
        kb_malloc(vsize + (pairs + 1) * (sizeof(int64_t) + sizeof(uint32_t)));
    struct tsdb_profile_view *b = (struct tsdb_profile_view *)(void *)m;
    int64_t *values = (int64_t *)(void *)(m + vsize);
    uint32_t *stacks = (uint32_t *)(void *)(values + pairs + 1);
    int64_t *sum = kb_calloc(n_stacks, sizeof(*sum));
    bool *seen = kb_calloc(n_stacks, sizeof(*seen));
    size_t nb = 0, used = 0;
    for (size_t k = 0; k < n;) {
        int64_t start = v[k].t_ms - (((v[k].t_ms % res) + res) % res);
        int64_t next = start + res;
        if (start < mint) /* a block not aligned to the resolution */
            start = mint;
        size_t first = used, e = k;
        int64_t duration = 0;
        for (; e < n && v[e].t_ms < next; e++) {
            duration += v[e].duration_ns;
            for (size_t j = 0; j < v[e].n; j++) {
                uint32_t st = v[e].stacks[j];
                if (!seen[st]) {
                    seen[st] = true;
                    stacks[used++] = st;
                }
                sum[st] =
                    (int64_t)((uint64_t)sum[st] + (uint64_t)v[e].values[j]);
            }
        }
        size_t cnt = used - first;
        tsdb_head_sort_pairs(stacks + first, values + first, cnt);
        for (size_t j = first; j < used; j++) {
            values[j] = sum[stacks[j]];
            sum[stacks[j]] = 0;
            seen[stacks[j]] = false;
        }
        b[nb++] = (struct tsdb_profile_view){
            0, start, duration, cnt, stacks + first, values + first};
        k = e;
    }
    free(sum);
    free(seen);
    *out = b;
    *mem = m;
    return nb;
}

static enum kb_status downsample_block(struct tsdb *db,
                                       const struct tsdb_block *raw,
                                       int64_t res, struct kb_err *err)
{
    const struct tsdb_block_meta *m = tsdb_block_meta(raw);
    const struct tsdb_symspace *sp = tsdb_block_symspace(raw);
    struct tsdb_block_writer *w = tsdb_block_writer_new();
    tsdb_block_writer_set_downsample(w, res, m->ulid);
    enum kb_status st = KB_OK;
    for (size_t i = 0; st == KB_OK && i < tsdb_block_series_count(raw); i++) {
        if (tsdb_block_series_kind(raw, i) != TSDB_PROFILES)
            continue; /* float series are small: queries read them raw */
        struct tsdb_profile_view *v, *b;
        size_t n;
        void *mem, *bmem;
        if ((st = tsdb_block_read_profiles(raw, i, &v, &n, &mem, err)))
            break;
        size_t nb = bucket_profiles(v, n, res, m->mint,
                                    tsdb_stacks_count(sp->stacks), &b, &bmem);
        tsdb_block_writer_add_profiles(w, tsdb_block_series_labels(raw, i),
                                       tsdb_block_series_period(raw, i), sp, b,
                                       nb);
        free(bmem);
        free(mem);
    }
    size_t ns = m->n_sources ? m->n_sources : 1;
    const char **src = kb_calloc(ns, sizeof(*src));
    for (size_t j = 0; j < ns; j++)
        src[j] = m->n_sources ? m->sources[j] : m->ulid;
    char ulid[TSDB_ULID_LEN + 1];
    struct tsdb_block *out = NULL;
    if (st == KB_OK)
        st = tsdb_block_writer_finish(w, db->dir, m->mint, m->maxt, m->level,
                                      src, ns, ulid, err);
    free(src);
    tsdb_block_writer_free(w);
    if (st == KB_OK)
        st = open_new_block(db, ulid, &out, err);
    if (st)
        return st;
    pthread_rwlock_wrlock(&db->lock);
    add_block(db, out);
    pthread_rwlock_unlock(&db->lock);
    log_msgf(LOG_LEVEL_INFO, "tsdb", "downsampled block %s at %llds into %s",
             m->ulid, (long long)(res / 1000), ulid);
    return KB_OK;
}

/* Give every raw block that starts more than downsample_after before the
 * newest data its downsampled copies (a resolution at least as wide as the
 * block is pointless and skipped), and delete copies whose raw block is
 * gone (merged into a larger one, or deleted by retention). */
static enum kb_status downsample(struct tsdb *db, int64_t newest,
                                 struct kb_err *err)
{
    for (size_t i = 0; i < db->n_blocks;) {
        const struct tsdb_block_meta *m = tsdb_block_meta(db->blocks[i]);
        bool orphan = m->resolution > 0;
        for (size_t j = 0; orphan && j < db->n_blocks; j++)
            orphan = strcmp(tsdb_block_meta(db->blocks[j])->ulid,
                            m->downsample_of) != 0;
        if (orphan)
            delete_block(db, i, "downsampled block of a replaced block");
        else
            i++;
    }
    if (db->opts.downsample_after <= 0 || newest == INT64_MIN)
        return KB_OK;
    enum kb_status st = KB_OK;
    /* The raw blocks, taken before any copy is inserted into the list. */
    size_t n = db->n_blocks;
    struct tsdb_block **raw = kb_calloc(n + 1, sizeof(*raw));
    if (n > 0)
        memcpy(raw, db->blocks, n * sizeof(*raw));
    for (size_t i = 0; st == KB_OK && i < n; i++) {
        struct tsdb_block *b = raw[i];
        const struct tsdb_block_meta *m = tsdb_block_meta(b);
        if (m->resolution > 0 || m->mint >= newest - db->opts.downsample_after)
            continue;
        for (size_t r = 0; st == KB_OK && r < N_RESOLUTIONS; r++)
            if (resolutions[r] < m->maxt - m->mint + 1 &&
                companion(db, b, resolutions[r]) == NULL)
                st = downsample_block(db, b, resolutions[r], err);
    }
    free(raw);
    return st;
}

/* ---- Retention ---------------------------------------------------------- */

static void delete_block(struct tsdb *db, size_t i, const char *why)
{
    struct tsdb_block *b = db->blocks[i];
    pthread_rwlock_wrlock(&db->lock);
    memmove(&db->blocks[i], &db->blocks[i + 1],
            (db->n_blocks - i - 1) * sizeof(*db->blocks));
    db->n_blocks--;
    pthread_rwlock_unlock(&db->lock);
    char path[KB_PATH_MAX];
    snprintf(path, sizeof(path), "%s", tsdb_block_dir(b));
    log_info("tsdb", "deleting block", "block", tsdb_block_meta(b)->ulid,
             "reason", why, NULL);
    tsdb_block_close(b);
    kb_remove_all(path, NULL);
}

static void apply_retention(struct tsdb *db)
{
    int64_t newest = db->head->maxt;
    int64_t bmax = tsdb_db_blocks_maxt(db);
    if (bmax > newest)
        newest = bmax;
    if (db->opts.retention_time > 0 && newest != INT64_MIN) {
        int64_t cutoff = newest - db->opts.retention_time;
        while (db->n_blocks > 0 &&
               tsdb_block_meta(db->blocks[0])->maxt < cutoff)
            delete_block(db, 0, "retention time");
    }
    if (db->opts.retention_size > 0) {
        char wal[KB_PATH_MAX];
        kb_path_join(wal, db->dir, "wal", NULL);
        for (;;) {
            uint64_t total = kb_disk_usage(wal);
            for (size_t i = 0; i < db->n_blocks; i++)
                total += tsdb_block_meta(db->blocks[i])->bytes;
            if (total <= db->opts.retention_size || db->n_blocks == 0)
                break;
            delete_block(db, 0, "retention size");
        }
    }
}

enum kb_status tsdb_compact(struct tsdb *db, struct kb_err *err)
{
    if (db->opts.read_only)
        return kb_errf(err, KB_ERR_USAGE, "%s: database opened read-only",
                       db->dir);
    enum kb_status st = KB_OK;
    bool done = false;
    /* Only compaction changes the block list: `compactor` keeps two calls
     * from overlapping, so it may read the list without the lock. */
    pthread_mutex_lock(&db->compactor);
    pthread_mutex_lock(&db->writer);
    while (st == KB_OK && !done)
        st = compact_head_once(db, &done, err);
    pthread_mutex_unlock(&db->writer);
    bool merged = true;
    while (st == KB_OK && merged)
        st = merge_once(db, &merged, err);
    if (st == KB_OK)
        apply_retention(db);
    if (st == KB_OK) {
        int64_t newest = db->head->maxt;
        if (tsdb_db_blocks_maxt(db) > newest)
            newest = tsdb_db_blocks_maxt(db);
        st = downsample(db, newest, err);
    }
    pthread_mutex_unlock(&db->compactor);
    return st;
}
