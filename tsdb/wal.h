/* tsdb/wal.h: the write-ahead log: segment files of CRC-checked records.
 * See wal.c for the design and docs/format/wal.md for the bytes. */
#ifndef KILN_TSDB_WAL_H
#define KILN_TSDB_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* The largest record payload the WAL accepts (and replay believes). */
#define TSDB_WAL_MAX_RECORD (64u << 20)

struct tsdb_wal;

/* Options; zero values mean the defaults noted. */
struct tsdb_wal_options {
    size_t segment_size; /* start a new segment past this (128 MiB) */
};

/* Open (creating if needed; one level, like mkdir) the WAL in directory
 * `dir` for appending. New records go to a new segment after the last
 * existing one, so opening never writes into a segment that replay may have
 * found damaged. Open does not read the segments: call tsdb_wal_replay first
 * (records appended after unreplayed damage would be cut with it). One
 * process may write a directory at a time; the WAL does not lock it. */
enum kb_status tsdb_wal_open(const char *dir,
                             const struct tsdb_wal_options *opts,
                             struct tsdb_wal **out, struct kb_err *err);

/* Append one record (`type` is the caller's, 1..255) to the current
 * segment's write buffer. Not durable until tsdb_wal_sync returns KB_OK.
 * Type 0 is KB_ERR_USAGE; `len` above TSDB_WAL_MAX_RECORD is KB_ERR_LIMIT
 * (both leave the WAL as it was). Append may write earlier records (when the
 * buffer passes 1 MiB) or start a new segment (when this record would take
 * the current one past segment_size), so it can fail with KB_ERR_IO: see
 * tsdb_wal_sync. */
enum kb_status tsdb_wal_append(struct tsdb_wal *w, uint8_t type,
                               const void *data, size_t len,
                               struct kb_err *err);

/* Write out buffered records and fsync. After KB_OK, every appended record
 * survives a crash (kill -9, power loss on an honest disk). A failed write
 * or fsync is sticky: every later append, sync and cut returns the same
 * error, since the segment may end in a partial record and a retried fsync
 * can lie. Close the WAL and replay before writing again. Records whose sync
 * failed may or may not replay. */
enum kb_status tsdb_wal_sync(struct tsdb_wal *w, struct kb_err *err);

/* Record fdatasyncs done by tsdb_wal_sync so far, and their total time
 * in nanoseconds (safe to call from any thread). */
void tsdb_wal_fsync_stats(const struct tsdb_wal *w, uint64_t *n, uint64_t *ns);

/* Sync and close; NULL is allowed. Frees everything even when it fails (it
 * returns a sticky error from an earlier call, too). */
enum kb_status tsdb_wal_close(struct tsdb_wal *w, struct kb_err *err);

/* The number of the segment being written (segments are numbered from 1). */
uint32_t tsdb_wal_current_segment(const struct tsdb_wal *w);

/* Start a new segment now (used before a head compaction so that everything
 * before it can later be deleted with tsdb_wal_truncate). The buffered
 * records are written and synced into the old segment first. */
enum kb_status tsdb_wal_cut(struct tsdb_wal *w, struct kb_err *err);

/* Delete every segment numbered below `segment`, lowest first (a crash in
 * between leaves consecutive segments). `segment` above the current one is
 * KB_ERR_USAGE. Segments set aside as *.corrupt are kept. */
enum kb_status tsdb_wal_truncate(struct tsdb_wal *w, uint32_t segment,
                                 struct kb_err *err);

/* Called for each good record in order; `data` is valid only during the
 * call. A non-KB_OK return stops replay and is returned by tsdb_wal_replay,
 * with `err` prefixed by the record's segment and offset. */
typedef enum kb_status (*tsdb_wal_record_fn)(void *ctx, uint8_t type,
                                             const uint8_t *data, size_t len,
                                             struct kb_err *err);

/* What replay found. */
struct tsdb_wal_replay_stats {
    uint64_t records;
    uint64_t segments;
    uint64_t bytes_cut; /* bytes of torn or corrupt tail removed */
    int repaired;       /* 1 if a damaged tail was cut */
    int damaged;        /* 1 if the log ended at damage (cut or, read-only,
                           left as it is) */
};

/* Read every record of every segment in `dir` (which may not exist: then
 * nothing happens) in order and call `fn` (NULL: only check and repair). A
 * torn or corrupt record, a bad segment header or a missing segment number
 * ends the log: the segment is truncated at the last good record (set aside
 * whole if its header is bad), later segments are removed (renamed aside as
 * *.corrupt), a line is logged, and replay returns KB_OK with
 * stats->repaired set — never a refusal to start. A read error is KB_ERR_IO
 * and cuts nothing. `stats` may be NULL. Must be called before tsdb_wal_open
 * on the same directory. */
enum kb_status tsdb_wal_replay(const char *dir, tsdb_wal_record_fn fn,
                               void *ctx, struct tsdb_wal_replay_stats *stats,
                               struct kb_err *err);

/* tsdb_wal_replay for inspection (a read-only database open, kilnctl): the
 * same records, ending at the same damage, but the directory is never
 * changed. Damage sets stats->damaged (not repaired; bytes_cut stays 0) and
 * is logged. Safe to run while other read-only readers run. */
enum kb_status tsdb_wal_replay_readonly(const char *dir, tsdb_wal_record_fn fn,
                                        void *ctx,
                                        struct tsdb_wal_replay_stats *stats,
                                        struct kb_err *err);

/* tsdb_wal_replay (or, with read_only, tsdb_wal_replay_readonly) that
 * ignores segments numbered below `min_segment`: they are covered by a
 * checkpoint and about to be deleted. */
enum kb_status tsdb_wal_replay_from(const char *dir, uint32_t min_segment,
                                    bool read_only, tsdb_wal_record_fn fn,
                                    void *ctx,
                                    struct tsdb_wal_replay_stats *stats,
                                    struct kb_err *err);

#endif
