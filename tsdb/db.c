/* tsdb/db.c: the database: open, replay, appenders, close.
 *
 * Design. A database directory holds `wal/` (wal.c) and a `lock` file held
 * with flock() while open, so two processes never write one database. The
 * data lives in the head (head.c); this file owns the rules around it:
 *
 * Writing. One appender at a time (the `writer` mutex, held from begin to
 * commit or rollback). Appending a profile translates its stacks into the
 * head's symbols and stack tree right away, under the write side of the
 * read/write lock (symbols only ever grow, so readers never see a broken
 * table), and keeps the (stack, value) pairs pending in the appender.
 * Commit then encodes one WAL record holding everything new since the last
 * commit: the symbols, stack nodes and series added (ranges of dense ids
 * from the "logged" watermarks to the current counts) and the pending
 * profiles and floats; writes and fsyncs it; and only then publishes the
 * data into the series under the write lock. A commit is therefore atomic:
 * its record replays whole or not at all. A rolled-back batch may leave
 * symbols or empty series behind; the next commit logs them like any new
 * ones, so the WAL always describes the head exactly.
 *
 * Reading. Queriers hold the read side of the lock (querier.c).
 *
 * Replay. At open, each BATCH record is decoded and applied through the
 * same head functions; every id it creates must come out equal to the id it
 * had when written (dense, append-only tables make that so) and every
 * reference must point at something that exists, else the record is
 * refused as corrupt and open fails with a message naming it: a CRC-valid
 * but inconsistent WAL is a bug or tampering, not a torn write (torn writes
 * are cut by wal.c before they reach here).
 *
 * The record format is written down in docs/format/head-records.md.
 */
#include "tsdb/tsdb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsio.h"
#include "base/hmap.h"
#include "base/labels.h"
#include "base/log.h"
#include "tsdb/enc.h"
#include "tsdb/head.h"
#include "tsdb/db.h"
#include "tsdb/stacks.h"
#include "tsdb/symspace.h"
#include "tsdb/wal.h"

struct tsdb_appender {
    struct tsdb *db;
    struct tsdb_pending_profile *profiles; /* pairs in the head's arena */
    size_t n_profiles, cap_profiles;
    struct tsdb_pending_float *floats;
    size_t n_floats, cap_floats;
    uint32_t *locs; /* scratch: one stack's head location ids */
    size_t cap_locs;
    struct stack_value *pairs; /* scratch: one profile's pairs */
    size_t cap_pairs;
};

struct stack_value {
    uint32_t stack;
    int64_t value;
};

void tsdb_options_default(struct tsdb_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_series = 1000000;
    o->max_labels = 64;
    o->max_label_length = 4096;
    o->max_stack_depth = 1024;
    o->out_of_order_window = 0;
    o->block_range = 2 * 3600 * 1000LL;
    o->max_block_range = 31 * 24 * 3600 * 1000LL;
    o->retention_time = 15 * 24 * 3600 * 1000LL;
    o->retention_size = 0;
    o->downsample_after = 24 * 3600 * 1000LL;
    o->read_max_time = INT64_MAX;
}

/* ---- The BATCH record --------------------------------------------------- */

void tsdb_db_encode_series(const struct tsdb_head *h, size_t from, size_t to,
                           struct buf *b)
{
    tsdb_enc_uvarint(b, from);
    tsdb_enc_uvarint(b, to - from);
    for (size_t i = from; i < to; i++) {
        const struct tsdb_head_series *s = h->series[i];
        tsdb_enc_uvarint(b, (uint64_t)s->kind);
        tsdb_enc_varint(b, s->period);
        size_t n = labels_count(s->labels);
        tsdb_enc_uvarint(b, n);
        for (size_t j = 0; j < n; j++) {
            const struct label *l = labels_at(s->labels, j);
            tsdb_enc_bytes(b, l->name, l->name_len);
            tsdb_enc_bytes(b, l->value, l->value_len);
        }
    }
}

void tsdb_db_encode_data(const struct tsdb_pending_profile *pp, size_t np,
                         const struct tsdb_pending_float *pf, size_t nf,
                         struct buf *b)
{
    tsdb_enc_uvarint(b, np);
    for (size_t i = 0; i < np; i++) {
        const struct tsdb_pending_profile *p = &pp[i];
        tsdb_enc_uvarint(b, p->ref);
        tsdb_enc_varint(b, p->t);
        tsdb_enc_varint(b, p->duration);
        tsdb_enc_uvarint(b, p->n);
        uint32_t prev = 0;
        for (size_t j = 0; j < p->n; j++) {
            tsdb_enc_uvarint(b, p->stacks[j] - prev);
            tsdb_enc_varint(b, p->values[j]);
            prev = p->stacks[j];
        }
    }
    tsdb_enc_uvarint(b, nf);
    for (size_t i = 0; i < nf; i++) {
        tsdb_enc_uvarint(b, pf[i].ref);
        tsdb_enc_varint(b, pf[i].t);
        tsdb_enc_f64(b, pf[i].v);
    }
}

/* Replay state: decoding one record against the head. */
struct replay {
    struct tsdb *db;
    struct tsdb_dec d;
    uint64_t record;
    struct kb_err *err;
};

static enum kb_status corrupt(struct replay *r, const char *what)
{
    return kb_errf(r->err, KB_ERR_INVALID,
                   "wal record %llu: %s (the log is inconsistent)",
                   (unsigned long long)r->record, what);
}

/* Read the (first id, count) header of one table; the first id must be the
 * table's current size. */
static bool table_header(struct replay *r, size_t current, uint64_t *count)
{
    uint64_t first = tsdb_dec_uvarint(&r->d);
    *count = tsdb_dec_count(&r->d, tsdb_dec_left(&r->d));
    return !r->d.bad && first == current;
}

static enum kb_status replay_series(struct replay *r)
{
    struct tsdb_head *h = r->db->head;
    struct tsdb_dec *d = &r->d;
    uint64_t n;
    if (!table_header(r, h->n_series, &n))
        return corrupt(r, "series table out of step");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t kind = tsdb_dec_uvarint(d);
        int64_t period = tsdb_dec_varint(d);
        uint64_t nl = tsdb_dec_count(d, tsdb_dec_left(d) / 2);
        if (d->bad || (kind != TSDB_PROFILES && kind != TSDB_FLOATS))
            return corrupt(r, "bad series");
        struct labels_builder *lb = labels_builder_new();
        bool ok = true;
        for (uint64_t j = 0; ok && j < nl; j++) {
            size_t nn, vn;
            const uint8_t *name = tsdb_dec_bytes(d, &nn);
            const uint8_t *value = tsdb_dec_bytes(d, &vn);
            if (d->bad)
                break;
            char *cn = kb_strndup((const char *)name, nn);
            char *cv = kb_strndup((const char *)value, vn);
            ok = labels_builder_add(lb, cn, cv, NULL) == KB_OK;
            free(cn);
            free(cv);
        }
        struct labels *ls = NULL;
        if (!ok || d->bad || labels_builder_finish(lb, &ls, NULL) != KB_OK)
            ls = NULL;
        labels_builder_free(lb);
        if (ls == NULL)
            return corrupt(r, "bad series labels");
        bool exists = tsdb_head_find(h, ls) != NULL;
        if (!exists)
            tsdb_head_create(h, ls, (enum tsdb_series_kind)kind, period);
        labels_free(ls);
        if (exists)
            return corrupt(r, "repeated series");
    }
    return KB_OK;
}

static enum kb_status replay_data(struct replay *r)
{
    struct tsdb_head *h = r->db->head;
    struct tsdb_dec *d = &r->d;
    uint32_t n_stacks = tsdb_stacks_count(h->sym.stacks);
    uint64_t n = tsdb_dec_count(d, tsdb_dec_left(d));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t ref = tsdb_dec_uvarint(d);
        int64_t t = tsdb_dec_varint(d), dur = tsdb_dec_varint(d);
        uint64_t np = tsdb_dec_count(d, tsdb_dec_left(d) / 2);
        struct tsdb_head_series *s = tsdb_head_series_by_ref(h, ref);
        if (d->bad || s == NULL || s->kind != TSDB_PROFILES)
            return corrupt(r, "bad profile header");
        int64_t *values;
        uint32_t *stacks = tsdb_head_pairs_alloc(h, np, &values);
        uint64_t prev = 0;
        for (uint64_t j = 0; j < np; j++) {
            prev += tsdb_dec_uvarint(d);
            values[j] = tsdb_dec_varint(d);
            if (prev >= n_stacks)
                d->bad = true;
            stacks[j] = (uint32_t)prev;
        }
        if (d->bad) /* the arena space is lost with a failed open */
            return corrupt(r, "bad profile pairs");
        tsdb_head_add_profile(h, s, t, dur, np, stacks, values);
    }
    n = tsdb_dec_count(d, tsdb_dec_left(d));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t ref = tsdb_dec_uvarint(d);
        int64_t t = tsdb_dec_varint(d);
        double v = tsdb_dec_f64(d);
        struct tsdb_head_series *s = tsdb_head_series_by_ref(h, ref);
        if (d->bad || s == NULL || s->kind != TSDB_FLOATS)
            return corrupt(r, "bad float sample");
        tsdb_head_add_float(h, s, t, v);
    }
    if (tsdb_dec_left(d) != 0)
        return corrupt(r, "trailing bytes");
    return KB_OK;
}

static enum kb_status replay_record(void *ctx, uint8_t type,
                                    const uint8_t *data, size_t len,
                                    struct kb_err *err)
{
    struct replay *r = ctx;
    r->record++;
    r->err = err;
    if (type != TSDB_REC_BATCH)
        return kb_errf(err, KB_ERR_UNSUPPORTED,
                       "wal record %llu: unknown type %u",
                       (unsigned long long)r->record, type);
    tsdb_dec_init(&r->d, data, len);
    enum kb_status st;
    const char *why = NULL;
    if (!tsdb_symspace_decode(&r->db->head->sym, &r->d, &why))
        return corrupt(r, why);
    if ((st = replay_series(r)) || (st = replay_data(r)))
        return st;
    return KB_OK;
}

static void mark_logged(struct tsdb *db)
{
    tsdb_symspace_marks(&db->head->sym, &db->logged_sym);
    db->logged_series = db->head->n_series;
}

/* ---- Open and close ----------------------------------------------------- */

static enum kb_status make_dir(const char *path, struct kb_err *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    return KB_OK;
}

int64_t tsdb_db_blocks_maxt(const struct tsdb *db)
{
    int64_t m = INT64_MIN;
    for (size_t i = 0; i < db->n_blocks; i++)
        if (tsdb_block_meta(db->blocks[i])->maxt > m)
            m = tsdb_block_meta(db->blocks[i])->maxt;
    return m;
}

static bool is_ulid(const char *s)
{
    if (strlen(s) != TSDB_ULID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p))
            return false;
    return true;
}

static int block_cmp(const void *a, const void *b)
{
    const struct tsdb_block_meta *x =
        tsdb_block_meta(*(struct tsdb_block *const *)a);
    const struct tsdb_block_meta *y =
        tsdb_block_meta(*(struct tsdb_block *const *)b);
    if (x->mint != y->mint)
        return x->mint < y->mint ? -1 : 1;
    return strcmp(x->ulid, y->ulid);
}

/* Whether every source of `m` (or `m` itself, for a block made from the
 * head) is among the sources of `o`. */
static bool covered_by(const struct tsdb_block_meta *m,
                       const struct tsdb_block_meta *o)
{
    size_t n = m->n_sources ? m->n_sources : 1;
    for (size_t i = 0; i < n; i++) {
        const char *u = m->n_sources ? m->sources[i] : m->ulid;
        bool found = false;
        for (size_t j = 0; !found && j < o->n_sources; j++)
            found = strcmp(o->sources[j], u) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Whether block `b` was replaced by another loaded block of a higher level
 * that holds all of its sources: a compaction wrote the replacement and
 * crashed before deleting `b`. */
static bool replaced(const struct tsdb *db, const struct tsdb_block *b)
{
    const struct tsdb_block_meta *m = tsdb_block_meta(b);
    for (size_t i = 0; i < db->n_blocks; i++) {
        const struct tsdb_block_meta *o = tsdb_block_meta(db->blocks[i]);
        if (db->blocks[i] != b && o->level > m->level && covered_by(m, o))
            return true;
    }
    return false;
}

/* Load every block directory; set damaged ones aside (renamed to
 * NAME.damaged, with a log line) and remove leftovers of interrupted
 * writes (*.tmp) and of interrupted compactions (replaced blocks). */
static enum kb_status load_blocks(struct tsdb *db, struct kb_err *err)
{
    DIR *d = opendir(db->dir);
    if (d == NULL)
        return kb_errf(err, KB_ERR_IO, "%s: %s", db->dir, strerror(errno));
    struct dirent *de;
    bool ro = db->opts.read_only;
    while ((de = readdir(d)) != NULL) {
        char path[KB_PATH_MAX];
        if (kb_path_join(path, db->dir, de->d_name, NULL) != KB_OK)
            continue;
        size_t len = strlen(de->d_name);
        if (!ro && len == TSDB_ULID_LEN + 4 &&
            strcmp(de->d_name + TSDB_ULID_LEN, ".tmp") == 0) {
            kb_remove_all(path, NULL);
            continue;
        }
        if (!is_ulid(de->d_name))
            continue;
        struct tsdb_block *b = NULL;
        struct kb_err berr = {0};
        enum kb_status bst = tsdb_block_open(path, &b, &berr);
        if (bst != KB_OK && bst != KB_ERR_INVALID) {
            /* Not damage (an I/O error, a newer format): refuse to open
             * rather than hide the block's data. */
            closedir(d);
            return kb_errf(err, bst, "%s", berr.msg);
        }
        if (bst != KB_OK) {
            char aside[KB_PATH_MAX + 16];
            snprintf(aside, sizeof(aside), "%s.damaged", path);
            log_warn("tsdb",
                     ro ? "damaged block left out" : "damaged block set aside",
                     "block", path, "err", berr.msg, NULL);
            if (!ro && rename(path, aside) != 0)
                log_warn("tsdb", "cannot rename damaged block", "block", path,
                         "err", strerror(errno), NULL);
            continue;
        }
        db->blocks = kb_grow(db->blocks, &db->cap_blocks, db->n_blocks + 1,
                             sizeof(*db->blocks));
        db->blocks[db->n_blocks++] = b;
    }
    closedir(d);
    /* Drop blocks that a later block replaced: decide for all first, since
     * closing one frees the metadata the others' checks read. */
    bool *gone = kb_calloc(db->n_blocks + 1, sizeof(*gone));
    for (size_t i = 0; i < db->n_blocks; i++)
        gone[i] = replaced(db, db->blocks[i]);
    size_t w = 0;
    for (size_t i = 0; i < db->n_blocks; i++) {
        struct tsdb_block *b = db->blocks[i];
        if (gone[i]) {
            char path[KB_PATH_MAX];
            snprintf(path, sizeof(path), "%s", tsdb_block_dir(b));
            tsdb_block_close(b);
            if (!ro)
                kb_remove_all(path, NULL);
            continue;
        }
        db->blocks[w++] = b;
    }
    free(gone);
    db->n_blocks = w;
    if (db->n_blocks > 1)
        qsort(db->blocks, db->n_blocks, sizeof(*db->blocks), block_cmp);
    return KB_OK;
}

/* The number N of the newest complete checkpoint (wal/checkpoint.N), or 0. */
static uint32_t newest_checkpoint(const char *wal_dir)
{
    DIR *d = opendir(wal_dir);
    if (d == NULL)
        return 0;
    uint32_t best = 0;
    struct dirent *de;
    size_t plen = strlen(TSDB_CHECKPOINT_PREFIX);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, TSDB_CHECKPOINT_PREFIX, plen) != 0)
            continue;
        const char *num = de->d_name + plen;
        if (strlen(num) != 8 || strspn(num, "0123456789") != 8)
            continue; /* includes checkpoint.N.tmp */
        uint32_t n = (uint32_t)strtoul(num, NULL, 10);
        if (n > best)
            best = n;
    }
    closedir(d);
    return best;
}

/* Remove checkpoints other than `keep` (and unfinished ones). */
void tsdb_db_remove_old_checkpoints(const char *wal_dir, uint32_t keep)
{
    DIR *d = opendir(wal_dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char keep_name[64];
    snprintf(keep_name, sizeof(keep_name), TSDB_CHECKPOINT_PREFIX "%08u", keep);
    size_t plen = strlen(TSDB_CHECKPOINT_PREFIX);
    while ((de = readdir(d)) != NULL) {
        char path[KB_PATH_MAX];
        if (strncmp(de->d_name, TSDB_CHECKPOINT_PREFIX, plen) == 0 &&
            strcmp(de->d_name, keep_name) != 0 &&
            kb_path_join(path, wal_dir, de->d_name, NULL) == KB_OK)
            kb_remove_all(path, NULL);
    }
    closedir(d);
}

/* Replay the checkpoint (if any) and the WAL segments after it. */
static enum kb_status replay_all(struct tsdb *db, const char *wal_dir,
                                 uint32_t *checkpoint,
                                 struct tsdb_wal_replay_stats *rs,
                                 struct kb_err *err)
{
    struct replay r = {.db = db};
    bool ro = db->opts.read_only;
    enum kb_status st = KB_OK;
    *checkpoint = newest_checkpoint(wal_dir);
    if (*checkpoint) {
        char name[64], path[KB_PATH_MAX];
        snprintf(name, sizeof(name), TSDB_CHECKPOINT_PREFIX "%08u",
                 *checkpoint);
        if ((st = kb_path_join(path, wal_dir, name, err)) ||
            (st = tsdb_wal_replay_from(path, 0, true, replay_record, &r, rs,
                                       err)))
            return st;
        if (rs->damaged)
            return kb_errf(err, KB_ERR_INVALID,
                           "%s: checkpoint is damaged: the head it holds "
                           "cannot be rebuilt (the blocks are intact)",
                           path);
    }
    uint64_t cp_records = rs->records;
    st = tsdb_wal_replay_from(wal_dir, *checkpoint, ro, replay_record, &r, rs,
                              err);
    rs->records += cp_records;
    return st;
}

enum kb_status tsdb_open(const char *dir, const struct tsdb_options *opts,
                         struct tsdb **out, struct kb_err *err)
{
    *out = NULL;
    struct tsdb *db = kb_calloc(1, sizeof(*db));
    db->dir = kb_strdup(dir);
    db->lock_fd = -1;
    if (opts)
        db->opts = *opts;
    else
        tsdb_options_default(&db->opts);
    pthread_mutex_init(&db->writer, NULL);
    pthread_mutex_init(&db->compactor, NULL);
    pthread_rwlock_init(&db->lock, NULL);
    db->head = tsdb_head_new();
    char path[KB_PATH_MAX], wal_dir[KB_PATH_MAX];
    struct stat sb;
    enum kb_status st = KB_OK;
    if (db->opts.read_only && stat(dir, &sb) != 0) {
        st = kb_errf(err, KB_ERR_IO, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((st = make_dir(dir, err)) ||
        (st = kb_path_join(path, dir, "lock", err)) ||
        (st = kb_path_join(wal_dir, dir, "wal", err)))
        goto fail;
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0) {
        st = kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(db->lock_fd,
              (db->opts.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        st = kb_errf(err, KB_ERR_IO,
                     "%s: database is in use by another process", dir);
        goto fail;
    }
    if ((st = load_blocks(db, err)))
        goto fail;
    uint32_t checkpoint = 0;
    struct tsdb_wal_replay_stats rs = {0};
    /* The head only holds data after the newest block: a read-only open
     * for older data need not rebuild it. */
    bool skip_head =
        db->opts.read_only && tsdb_db_blocks_maxt(db) >= db->opts.read_max_time;
    if (!skip_head && (st = replay_all(db, wal_dir, &checkpoint, &rs, err)))
        goto fail;
    /* Data a block already holds (a crash between writing the block and
     * checkpointing the head) is dropped from the head. */
    int64_t covered = tsdb_db_blocks_maxt(db);
    bool truncated = false;
    if (covered != INT64_MIN && db->head->mint <= covered) {
        truncated = true;
        struct tsdb_head *h = tsdb_head_copy_after(db->head, covered);
        tsdb_head_free(db->head);
        db->head = h;
    }
    mark_logged(db);
    if (!db->opts.read_only) {
        if ((st = tsdb_wal_open(wal_dir, NULL, &db->wal, err)))
            goto fail;
        if (checkpoint) {
            tsdb_wal_truncate(db->wal, checkpoint, NULL);
            tsdb_db_remove_old_checkpoints(wal_dir, checkpoint);
        }
        /* A head rebuilt above has new ids: the WAL must say so. */
        if (truncated && (st = tsdb_db_checkpoint(db, db->head, err)))
            goto fail;
    }
    log_msgf(LOG_LEVEL_INFO, "tsdb",
             "opened %s: %zu blocks, replayed %llu wal records, %zu series, "
             "%llu profiles in the head",
             dir, db->n_blocks, (unsigned long long)rs.records,
             db->head->n_series, (unsigned long long)db->head->n_profiles);
    *out = db;
    return KB_OK;
fail:
    tsdb_close(db, NULL);
    return st;
}

enum kb_status tsdb_close(struct tsdb *db, struct kb_err *err)
{
    if (db == NULL)
        return KB_OK;
    enum kb_status st = tsdb_wal_close(db->wal, err);
    tsdb_head_free(db->head);
    for (size_t i = 0; i < db->n_blocks; i++)
        tsdb_block_close(db->blocks[i]);
    free(db->blocks);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&db->writer);
    pthread_mutex_destroy(&db->compactor);
    pthread_rwlock_destroy(&db->lock);
    free(db->dir);
    free(db);
    return st;
}

/* ---- Appending ---------------------------------------------------------- */

struct tsdb_appender *tsdb_appender_begin(struct tsdb *db)
{
    pthread_mutex_lock(&db->writer);
    struct tsdb_appender *a = kb_calloc(1, sizeof(*a));
    a->db = db;
    return a;
}

static void appender_free(struct tsdb_appender *a)
{
    struct tsdb *db = a->db;
    free(a->profiles); /* pairs: in the head's arena */
    free(a->floats);
    free(a->locs);
    free(a->pairs);
    free(a);
    pthread_mutex_unlock(&db->writer);
}

void tsdb_appender_rollback(struct tsdb_appender *a)
{
    if (a)
        appender_free(a);
}

static enum kb_status check_labels(const struct tsdb *db,
                                   const struct labels *ls, struct kb_err *err)
{
    size_t n = labels_count(ls);
    if (n > db->opts.max_labels)
        return kb_errf(err, KB_ERR_LIMIT, "series has %zu labels, limit is %zu",
                       n, db->opts.max_labels);
    for (size_t i = 0; i < n; i++) {
        const struct label *l = labels_at(ls, i);
        if (l->name_len > db->opts.max_label_length ||
            l->value_len > db->opts.max_label_length)
            return kb_errf(err, KB_ERR_LIMIT,
                           "label %.64s is longer than %zu bytes", l->name,
                           db->opts.max_label_length);
    }
    if (labels_get(ls, "__name__") == NULL)
        return kb_errf(err, KB_ERR_INVALID, "series has no __name__ label");
    return KB_OK;
}

/* Find or create the series for an append (under the write lock). */
static enum kb_status
series_for_append(struct tsdb *db, const struct labels *ls,
                  enum tsdb_series_kind kind, int64_t period,
                  struct tsdb_head_series **out, struct kb_err *err)
{
    struct tsdb_head_series *s = tsdb_head_find(db->head, ls);
    if (s == NULL) {
        enum kb_status st = check_labels(db, ls, err);
        if (st)
            return st;
        /* The series may live on in blocks: it keeps its kind. */
        for (size_t b = 0; b < db->n_blocks; b++) {
            long i = tsdb_block_find_series(db->blocks[b], ls);
            if (i >= 0 &&
                tsdb_block_series_kind(db->blocks[b], (size_t)i) != kind)
                return kb_errf(err, KB_ERR_MISMATCH,
                               "series holds %s in block %s, not %s",
                               kind == TSDB_PROFILES ? "floats" : "profiles",
                               tsdb_block_meta(db->blocks[b])->ulid,
                               kind == TSDB_PROFILES ? "profiles" : "floats");
        }
        if (db->head->n_series >= db->opts.max_series)
            return kb_errf(err, KB_ERR_LIMIT, "too many series (limit %zu)",
                           db->opts.max_series);
        s = tsdb_head_create(db->head, ls, kind, period);
    }
    if (s->kind != kind)
        return kb_errf(err, KB_ERR_MISMATCH, "series holds %s, not %s",
                       s->kind == TSDB_PROFILES ? "profiles" : "floats",
                       kind == TSDB_PROFILES ? "profiles" : "floats");
    *out = s;
    return KB_OK;
}

/* The batch's own data for series `ref` obeys the same time rules as the
 * stored data: no duplicate time, nothing older than the newest pending
 * time beyond the out-of-order window. */
static enum kb_status check_pending(const struct tsdb_appender *a, uint64_t ref,
                                    int64_t t, struct kb_err *err)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < a->n_profiles; i++) {
        if (a->profiles[i].ref != ref)
            continue;
        if (a->profiles[i].t == t)
            goto dup;
        if (a->profiles[i].t > newest)
            newest = a->profiles[i].t;
    }
    for (size_t i = 0; i < a->n_floats; i++) {
        if (a->floats[i].ref != ref)
            continue;
        if (a->floats[i].t == t)
            goto dup;
        if (a->floats[i].t > newest)
            newest = a->floats[i].t;
    }
    if (newest != INT64_MIN && t < newest &&
        (a->db->opts.out_of_order_window == 0 ||
         t < newest - a->db->opts.out_of_order_window))
        return kb_errf(err, KB_ERR_INVALID,
                       "out of order: t=%lld is older than t=%lld earlier "
                       "in the batch",
                       (long long)t, (long long)newest);
    return KB_OK;
dup:
    return kb_errf(err, KB_ERR_INVALID, "duplicate: t=%lld twice in one batch",
                   (long long)t);
}

/* Data at or before the newest block's end belongs to a range already
 * written: refuse it (as Prometheus does: "out of bounds") rather than keep
 * it in the head, which drops such data when it is reopened. */
static enum kb_status check_bounds(const struct tsdb *db, int64_t t,
                                   struct kb_err *err)
{
    int64_t maxt = tsdb_db_blocks_maxt(db);
    if (maxt != INT64_MIN && t <= maxt)
        return kb_errf(err, KB_ERR_INVALID,
                       "out of bounds: t=%lld is not after the newest "
                       "block's end t=%lld",
                       (long long)t, (long long)maxt);
    return KB_OK;
}

static int pair_cmp(const void *a, const void *b)
{
    const struct stack_value *x = a, *y = b;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* Turn sample type `i` of `p` into sorted, summed (stack, value) pairs in
 * a->pairs; returns their count. Adds symbols and stack nodes to the head. */
static enum kb_status profile_pairs(struct tsdb_appender *a,
                                    const struct pprof_profile *p, size_t i,
                                    size_t *n_out, struct kb_err *err)
{
    struct tsdb_head *h = a->db->head;
    size_t n = 0;
    pprof_symtab_begin(h->sym.symtab, p);
    for (size_t k = 0; k < p->n_samples; k++) {
        const struct pprof_sample *s = &p->samples[k];
        if (s->values[i] == 0)
            continue;
        if (s->n_locations > a->db->opts.max_stack_depth)
            return kb_errf(err, KB_ERR_LIMIT,
                           "sample %zu: stack depth %u, limit is %zu", k,
                           s->n_locations, a->db->opts.max_stack_depth);
        a->locs = kb_grow(a->locs, &a->cap_locs, s->n_locations + 1,
                          sizeof(*a->locs));
        for (uint32_t j = 0; j < s->n_locations; j++)
            a->locs[j] =
                pprof_symtab_location(h->sym.symtab, s->location_ids[j]);
        a->pairs = kb_grow(a->pairs, &a->cap_pairs, n + 1, sizeof(*a->pairs));
        a->pairs[n].stack =
            tsdb_stacks_insert(h->sym.stacks, a->locs, s->n_locations);
        a->pairs[n].value = s->values[i];
        n++;
    }
    if (n > 1) /* a profile may have no samples (an idle delta) */
        qsort(a->pairs, n, sizeof(*a->pairs), pair_cmp);
    size_t w = 0;
    for (size_t k = 0; k < n; k++) {
        if (w > 0 && a->pairs[w - 1].stack == a->pairs[k].stack)
            a->pairs[w - 1].value = (int64_t)((uint64_t)a->pairs[w - 1].value +
                                              (uint64_t)a->pairs[k].value);
        else
            a->pairs[w++] = a->pairs[k];
    }
    *n_out = w;
    return KB_OK;
}

enum kb_status tsdb_append_profile(struct tsdb_appender *a,
                                   const struct labels *ls, int64_t t_ms,
                                   int64_t duration_ns,
                                   const struct pprof_profile *p,
                                   size_t sample_type, struct kb_err *err)
{
    struct tsdb *db = a->db;
    if (sample_type >= p->n_sample_types)
        return kb_errf(err, KB_ERR_USAGE, "no sample type %zu", sample_type);
    pthread_rwlock_wrlock(&db->lock);
    struct tsdb_head_series *s;
    size_t n = 0;
    enum kb_status st =
        series_for_append(db, ls, TSDB_PROFILES, p->period, &s, err);
    if (st == KB_OK)
        st = check_bounds(db, t_ms, err);
    if (st == KB_OK)
        st = tsdb_head_check_time(s, t_ms, db->opts.out_of_order_window, err);
    if (st == KB_OK)
        st = check_pending(a, s->ref, t_ms, err);
    if (st == KB_OK)
        st = profile_pairs(a, p, sample_type, &n, err);
    pthread_rwlock_unlock(&db->lock);
    if (st)
        return st;
    a->profiles = kb_grow(a->profiles, &a->cap_profiles, a->n_profiles + 1,
                          sizeof(*a->profiles));
    struct tsdb_pending_profile *pp = &a->profiles[a->n_profiles++];
    pp->ref = s->ref;
    pp->t = t_ms;
    pp->duration = duration_ns;
    pp->n = n;
    /* In the head's arena right away (no other writer can swap the head
     * before commit; a rollback leaves the space unused). */
    pp->stacks = tsdb_head_pairs_alloc(db->head, n, &pp->values);
    for (size_t k = 0; k < n; k++) {
        pp->stacks[k] = a->pairs[k].stack;
        pp->values[k] = a->pairs[k].value;
    }
    return KB_OK;
}

enum kb_status tsdb_append_float(struct tsdb_appender *a,
                                 const struct labels *ls, int64_t t_ms,
                                 double v, struct kb_err *err)
{
    struct tsdb *db = a->db;
    pthread_rwlock_wrlock(&db->lock);
    struct tsdb_head_series *s;
    enum kb_status st = series_for_append(db, ls, TSDB_FLOATS, 0, &s, err);
    if (st == KB_OK)
        st = check_bounds(db, t_ms, err);
    if (st == KB_OK)
        st = tsdb_head_check_time(s, t_ms, db->opts.out_of_order_window, err);
    if (st == KB_OK)
        st = check_pending(a, s->ref, t_ms, err);
    pthread_rwlock_unlock(&db->lock);
    if (st)
        return st;
    a->floats =
        kb_grow(a->floats, &a->cap_floats, a->n_floats + 1, sizeof(*a->floats));
    a->floats[a->n_floats++] = (struct tsdb_pending_float){s->ref, t_ms, v};
    return KB_OK;
}

enum kb_status tsdb_appender_commit(struct tsdb_appender *a, struct kb_err *err)
{
    struct tsdb *db = a->db;
    struct buf rec;
    buf_init(&rec, TSDB_WAL_MAX_RECORD);
    /* Only this writer changes the head's tables, so reading them here
     * without the lock is safe. */
    tsdb_symspace_encode(&db->head->sym, &db->logged_sym, &rec);
    tsdb_db_encode_series(db->head, db->logged_series, db->head->n_series,
                          &rec);
    tsdb_db_encode_data(a->profiles, a->n_profiles, a->floats, a->n_floats,
                        &rec);
    enum kb_status st = KB_OK;
    if (db->wal == NULL) {
        st = kb_errf(err, KB_ERR_USAGE, "%s: database opened read-only",
                     db->dir);
        goto done;
    }
    if (rec.len >= TSDB_WAL_MAX_RECORD - 1) {
        /* Too big for one record: log the new symbols and series first, in
         * records of their own (harmless without data if we stop here),
         * then the data alone. */
        struct buf tables;
        buf_init(&tables, BUF_NO_LIMIT);
        st = tsdb_db_write_tables(db->head, &db->logged_sym, db->logged_series,
                                  db->wal, &tables, err);
        buf_free(&tables);
        if (st == KB_OK)
            st = tsdb_wal_sync(db->wal, err);
        if (st)
            goto done;
        mark_logged(db);
        buf_reset(&rec);
        tsdb_symspace_encode(&db->head->sym, &db->logged_sym, &rec);
        tsdb_db_encode_series(db->head, db->logged_series, db->head->n_series,
                              &rec);
        tsdb_db_encode_data(a->profiles, a->n_profiles, a->floats, a->n_floats,
                            &rec);
        if (rec.len >= TSDB_WAL_MAX_RECORD - 1) {
            st = kb_errf(err, KB_ERR_LIMIT,
                         "batch's data is larger than a WAL record (%u "
                         "bytes): commit smaller batches",
                         TSDB_WAL_MAX_RECORD);
            goto done;
        }
    }
    if ((st = tsdb_wal_append(db->wal, TSDB_REC_BATCH, rec.data, rec.len, err)))
        goto done;
    if ((st = tsdb_wal_sync(db->wal, err)))
        goto done;
    mark_logged(db);
    pthread_rwlock_wrlock(&db->lock);
    for (size_t i = 0; i < a->n_profiles; i++) {
        struct tsdb_pending_profile *p = &a->profiles[i];
        tsdb_head_add_profile(db->head,
                              tsdb_head_series_by_ref(db->head, p->ref), p->t,
                              p->duration, p->n, p->stacks, p->values);
    }
    for (size_t i = 0; i < a->n_floats; i++)
        tsdb_head_add_float(db->head,
                            tsdb_head_series_by_ref(db->head, a->floats[i].ref),
                            a->floats[i].t, a->floats[i].v);
    pthread_rwlock_unlock(&db->lock);
done:
    buf_free(&rec);
    appender_free(a);
    return st;
}

/* ---- Stats and blocks --------------------------------------------------- */

size_t tsdb_blocks(struct tsdb *db, struct tsdb_block_info **out)
{
    pthread_rwlock_rdlock(&db->lock);
    size_t n = db->n_blocks;
    struct tsdb_block_info *info = kb_calloc(n + 1, sizeof(*info));
    for (size_t i = 0; i < n; i++) {
        const struct tsdb_block_meta *m = tsdb_block_meta(db->blocks[i]);
        snprintf(info[i].ulid, sizeof(info[i].ulid), "%s", m->ulid);
        info[i].mint = m->mint;
        info[i].maxt = m->maxt;
        info[i].series = m->series;
        info[i].profiles = m->profiles;
        info[i].float_samples = m->float_samples;
        info[i].bytes = m->bytes;
        info[i].level = m->level;
        info[i].resolution = m->resolution;
    }
    pthread_rwlock_unlock(&db->lock);
    *out = info;
    return n;
}

void tsdb_head_range(struct tsdb *db, int64_t *mint, int64_t *maxt,
                     uint64_t *series)
{
    pthread_rwlock_rdlock(&db->lock);
    *mint = db->head->mint;
    *maxt = db->head->maxt;
    *series = db->head->n_series;
    pthread_rwlock_unlock(&db->lock);
}

void tsdb_runtime_stats(struct tsdb *db, struct tsdb_runtime_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&db->lock);
    out->head_series = db->head->n_series;
    out->head_profiles = db->head->n_profiles;
    out->head_float_samples = db->head->n_floats;
    out->blocks = db->n_blocks;
    pthread_rwlock_unlock(&db->lock);
    if (db->wal) {
        uint64_t ns;
        tsdb_wal_fsync_stats(db->wal, &out->wal_fsyncs, &ns);
        out->wal_fsync_seconds = (double)ns / 1e9;
    }
}

/* Count a series once however many blocks (and the head) hold it. */
static void count_series(struct hmap *seen, const struct labels *ls,
                         enum tsdb_series_kind kind, struct tsdb_stats *st)
{
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    labels_format(ls, &key);
    bool found;
    hmap_put(seen, key.data, key.len, &found);
    buf_free(&key);
    if (found)
        return;
    st->series++;
    if (kind == TSDB_PROFILES)
        st->profile_series++;
    else
        st->float_series++;
}

void tsdb_stats(struct tsdb *db, struct tsdb_stats *st)
{
    memset(st, 0, sizeof(*st));
    struct hmap *seen = hmap_new(0);
    pthread_rwlock_rdlock(&db->lock);
    struct tsdb_head *h = db->head;
    for (size_t i = 0; i < h->n_series; i++)
        count_series(seen, h->series[i]->labels, h->series[i]->kind, st);
    st->profiles = h->n_profiles;
    st->float_samples = h->n_floats;
    st->pairs = h->n_pairs;
    const struct tsdb_symspace **spaces =
        kb_calloc(1 + db->n_blocks, sizeof(*spaces));
    spaces[0] = &h->sym;
    st->mint = h->mint;
    st->maxt = h->maxt;
    for (size_t b = 0; b < db->n_blocks; b++) {
        const struct tsdb_block *blk = db->blocks[b];
        const struct tsdb_block_meta *m = tsdb_block_meta(blk);
        if (m->resolution > 0) { /* copies: counted in bytes only */
            st->block_bytes += m->bytes;
            st->downsampled_blocks++;
            continue;
        }
        for (size_t i = 0; i < tsdb_block_series_count(blk); i++)
            count_series(seen, tsdb_block_series_labels(blk, i),
                         tsdb_block_series_kind(blk, i), st);
        st->profiles += m->profiles;
        st->float_samples += m->float_samples;
        st->pairs += m->pairs;
        st->block_bytes += m->bytes;
        st->blocks++;
        spaces[1 + b] = tsdb_block_symspace(blk);
        if (m->mint < st->mint)
            st->mint = m->mint;
        if (m->maxt > st->maxt)
            st->maxt = m->maxt;
    }
    /* Symbols: summed over the spaces (each source dedups its own). */
    for (size_t i = 0; i <= db->n_blocks; i++) {
        if (spaces[i] == NULL) /* a downsampled copy */
            continue;
        const struct pprof_profile *p = spaces[i]->symbols;
        st->strings += p->n_strings;
        st->mappings += p->n_mappings;
        st->functions += p->n_functions;
        st->locations += p->n_locations;
        st->stack_nodes += tsdb_stacks_count(spaces[i]->stacks);
    }
    char wal[KB_PATH_MAX];
    if (kb_path_join(wal, db->dir, "wal", NULL) == KB_OK)
        st->wal_bytes = kb_disk_usage(wal);
    pthread_rwlock_unlock(&db->lock);
    free(spaces);
    hmap_free(seen);
}

/* ---- For querier.c ------------------------------------------------------ */

struct tsdb_head *tsdb_db_head(struct tsdb *db)
{
    return db->head;
}

pthread_rwlock_t *tsdb_db_lock(struct tsdb *db)
{
    return &db->lock;
}
