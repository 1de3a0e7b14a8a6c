/* tsdb/db.h: the database struct and what db.c shares with compact.c and
 * querier.c (internal to tsdb/). */
#ifndef KILN_TSDB_DB_H
#define KILN_TSDB_DB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "tsdb/block.h"
#include "tsdb/head.h"
#include "tsdb/symspace.h"
#include "tsdb/tsdb.h"
#include "tsdb/wal.h"

/* WAL record types (docs/format/head-records.md). */
#define TSDB_REC_BATCH 1

/* Locking. `writer` is held by the one appender (begin to commit) and by
 * compaction while it rewrites the head; `lock` is taken for writing only
 * to change the head or the block list in place, and for reading by
 * queriers for their whole life. */
struct tsdb {
    char *dir;
    struct tsdb_options opts;
    struct tsdb_head *head;
    struct tsdb_wal *wal;
    int lock_fd;
    pthread_mutex_t writer;
    pthread_mutex_t compactor; /* one block merge / retention at a time */
    pthread_rwlock_t lock;
    /* What the WAL (and checkpoint) already hold: ids below these. */
    struct tsdb_symspace_marks logged_sym;
    size_t logged_series;
    /* Blocks on disk, sorted by mint. */
    struct tsdb_block **blocks;
    size_t n_blocks, cap_blocks;
};

/* A profile or float for a BATCH record: series ref in the head being
 * encoded, and the data (not owned by these structs). */
struct tsdb_pending_profile {
    uint64_t ref;
    int64_t t, duration;
    size_t n;
    uint32_t *stacks;
    int64_t *values;
};

struct tsdb_pending_float {
    uint64_t ref;
    int64_t t;
    double v;
};

/* Encode the series of `h` with indexes [from, to) (BATCH layout). */
void tsdb_db_encode_series(const struct tsdb_head *h, size_t from, size_t to,
                           struct buf *b);
/* Encode profiles and floats (BATCH record layout). */
void tsdb_db_encode_data(const struct tsdb_pending_profile *pp, size_t np,
                         const struct tsdb_pending_float *pf, size_t nf,
                         struct buf *b);

/* The newest maxt of the blocks, INT64_MIN when there are none. */
int64_t tsdb_db_blocks_maxt(const struct tsdb *db);

/* Checkpoints are WAL directories named wal/checkpoint.NNNNNNNN. */
#define TSDB_CHECKPOINT_PREFIX "checkpoint."

/* Write `h` as a checkpoint, the WAL's new starting point, and delete the
 * WAL segments and checkpoints it replaces (compact.c). On success the WAL
 * describes `h`: the caller must make it db->head before releasing
 * `writer`, which it holds. On failure nothing changed but a WAL cut. */
enum kb_status tsdb_db_checkpoint(struct tsdb *db, const struct tsdb_head *h,
                                  struct kb_err *err);
/* Write the symbols and series of `h` added since `from`/`from_series` as
 * records of at most about 8 MiB each, table by table in dependency order
 * (strings, mappings, functions, locations, stacks, series), so that any
 * amount fits the WAL's record limit (compact.c). Not synced. */
enum kb_status tsdb_db_write_tables(const struct tsdb_head *h,
                                    const struct tsdb_symspace_marks *from,
                                    size_t from_series, struct tsdb_wal *w,
                                    struct buf *rec, struct kb_err *err);

/* Remove every checkpoint in `wal_dir` but number `keep` (db.c). */
void tsdb_db_remove_old_checkpoints(const char *wal_dir, uint32_t keep);

#endif
