/* tsdb/block.h: immutable on-disk blocks: writing and reading (internal to
 * tsdb/). See block.c and docs/format/block.md. */
#ifndef KILN_TSDB_BLOCK_H
#define KILN_TSDB_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "tsdb/symspace.h"
#include "tsdb/tsdb.h"

#define TSDB_ULID_LEN 26

struct labels;

/* ---- Writing ------------------------------------------------------------ */

struct tsdb_block_writer;

struct tsdb_block_writer *tsdb_block_writer_new(void);
void tsdb_block_writer_free(struct tsdb_block_writer *w);

/* Add profiles of the series `ls` whose stack ids belong to `src`; they are
 * re-expressed in the block's own symbol space. Calls for one series may
 * repeat (from several sources, as compaction does) and must come in time
 * order per series. `profiles` and `src` are only read during the call. */
void tsdb_block_writer_add_profiles(struct tsdb_block_writer *w,
                                    const struct labels *ls, int64_t period,
                                    const struct tsdb_symspace *src,
                                    const struct tsdb_profile_view *profiles,
                                    size_t n);
void tsdb_block_writer_add_floats(struct tsdb_block_writer *w,
                                  const struct labels *ls, const int64_t *t,
                                  const double *v, size_t n);

/* Make the block a downsampled copy of raw block `raw` (ULID) at
 * `resolution` ms (recorded in meta.json). */
void tsdb_block_writer_set_downsample(struct tsdb_block_writer *w,
                                      int64_t resolution, const char *raw);

/* Write the block into `db_dir`: built in `db_dir/ULID.tmp`, every file
 * fsynced, renamed to `db_dir/ULID`, directory fsynced. `mint`/`maxt` (ms,
 * inclusive) is the range it covers; `level` and `sources` (ULIDs of the
 * blocks it replaces, n_sources of them) go to meta.json. `ulid` receives
 * the new block's name (NUL-terminated). Frees nothing: free the writer. */
enum kb_status
tsdb_block_writer_finish(struct tsdb_block_writer *w, const char *db_dir,
                         int64_t mint, int64_t maxt, int level,
                         const char *const *sources, size_t n_sources,
                         char ulid[TSDB_ULID_LEN + 1], struct kb_err *err);

/* ---- Reading ------------------------------------------------------------ */

struct tsdb_block;

struct tsdb_block_meta {
    char ulid[TSDB_ULID_LEN + 1];
    int64_t mint, maxt;
    uint64_t series, profiles, float_samples, pairs;
    int level;
    size_t n_sources;
    char (*sources)[TSDB_ULID_LEN + 1];
    uint64_t bytes; /* of the block's files */
    /* Downsampled blocks: the bucket width (ms) and the raw block they
     * summarize; 0 and "" for raw blocks. */
    int64_t resolution;
    char downsample_of[TSDB_ULID_LEN + 1];
};

/* Open the block directory `dir`: checks meta.json, the magic numbers and
 * checksums of index and symbols, and loads both. Any damage is an error
 * naming the file and problem. */
enum kb_status tsdb_block_open(const char *dir, struct tsdb_block **out,
                               struct kb_err *err);
void tsdb_block_close(struct tsdb_block *b);

const struct tsdb_block_meta *tsdb_block_meta(const struct tsdb_block *b);
const char *tsdb_block_dir(const struct tsdb_block *b);
const struct tsdb_symspace *tsdb_block_symspace(const struct tsdb_block *b);

size_t tsdb_block_series_count(const struct tsdb_block *b);
const struct labels *tsdb_block_series_labels(const struct tsdb_block *b,
                                              size_t i);
enum tsdb_series_kind tsdb_block_series_kind(const struct tsdb_block *b,
                                             size_t i);
int64_t tsdb_block_series_period(const struct tsdb_block *b, size_t i);
/* Whether series i has data within [mint, maxt]. */
bool tsdb_block_series_overlaps(const struct tsdb_block *b, size_t i,
                                int64_t mint, int64_t maxt);

/* The index of the series named exactly `ls`, or -1. */
long tsdb_block_find_series(const struct tsdb_block *b,
                            const struct labels *ls);

/* The series indexes (ascending) whose label `name` has exactly `value`
 * (postings), or NULL with *n = 0. */
const uint32_t *tsdb_block_postings(const struct tsdb_block *b,
                                    const char *name, const char *value,
                                    size_t *n);

/* Decode the chunk of series i. Profiles: *views (n of them) and the pair
 * arrays they point to are allocated in one block returned in *mem (the
 * caller frees it). Floats: likewise with *t and *v. A damaged chunk (bad
 * checksum, bad encoding) is an error naming the block and series. */
enum kb_status tsdb_block_read_profiles(const struct tsdb_block *b, size_t i,
                                        struct tsdb_profile_view **views,
                                        size_t *n, void **mem,
                                        struct kb_err *err);
enum kb_status tsdb_block_read_floats(const struct tsdb_block *b, size_t i,
                                      int64_t **t, double **v, size_t *n,
                                      struct kb_err *err);

#endif
