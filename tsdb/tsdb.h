/* tsdb/tsdb.h: Kiln's profile database, the public API.
 *
 * A database is a directory holding a write-ahead log (wal/) and, later,
 * immutable blocks. It stores two kinds of series, each named by a label
 * set (with __name__):
 *   - profile series: (t in ms, duration in ns, sorted (stack id, value)
 *     pairs) per profile, one sample type per series (DESIGN.md section 2);
 *   - float series: (t in ms, float64) samples, for `up`, rules and alerts.
 * Stacks, locations, functions, mappings and strings are deduplicated in
 * the database's symbol tables, so a profile adds only its pairs.
 *
 * Writing goes through an appender: begin, append any number of profiles
 * and floats, then commit (durable in the WAL, fsynced, before it returns)
 * or rollback. One appender at a time; queries run concurrently.
 *
 * Reading goes through a querier over [mint, maxt] (ms, inclusive): select
 * series with label matchers, read their profiles or floats, or merge their
 * profiles into one pprof.
 *
 * Implementation map: db.c (open, close, replay, appender), head.c (the
 * in-memory series), stacks.c (stack tree), wal.c (log files), enc.c
 * (encodings), querier.c (select, read, merge), typeid.c (series names).
 */
#ifndef KILN_TSDB_TSDB_H
#define KILN_TSDB_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "pprof/profile.h"

struct labels;
struct kb_regex;

struct tsdb;
struct tsdb_appender;
struct tsdb_querier;

/* Limits and tunables. tsdb_options_default fills the defaults noted. */
struct tsdb_options {
    size_t max_series;           /* (1,000,000) */
    size_t max_labels;           /* per series (64) */
    size_t max_label_length;     /* bytes of a name or value (4096) */
    size_t max_stack_depth;      /* locations per stack (1024) */
    int64_t out_of_order_window; /* ms a profile may be older than its
                                    series' newest one (0) */
    int64_t block_range;         /* ms of data per head block (2h) */
    int64_t max_block_range;     /* largest merged block, ms (31d) */
    int64_t retention_time;      /* ms; blocks older are deleted (15d); 0 off */
    uint64_t retention_size;     /* bytes of blocks+WAL kept (0 = no limit) */
    int64_t downsample_after;    /* ms: blocks that start this long before
                                    the newest data get 5m and 1h
                                    downsampled copies (1d); 0 off */
    bool read_only;              /* replay only: share the lock with other
                                    readers, open no WAL segment, refuse
                                    commits (kilnctl tsdb list/stats/dump) */
    int64_t read_max_time;       /* read-only opens: nothing after this time
                                    (ms) will be queried; when the blocks
                                    reach it the WAL is not replayed, which
                                    makes inspecting old data fast
                                    (INT64_MAX) */
};

void tsdb_options_default(struct tsdb_options *o);

/* Whether `name` (without the leading "--") is one of the storage flags
 * tsdb_options_flag understands (options.c). */
bool tsdb_options_is_flag(const char *name);

/* Apply the command-line flag --`name`=`value` to `o`:
 * storage.block-range and storage.retention.time take durations ("2h",
 * "15d"), storage.retention.size a size ("512MB"). KB_ERR_INVALID naming
 * the flag and the problem. */
enum kb_status tsdb_options_flag(struct tsdb_options *o, const char *name,
                                 const char *value, struct kb_err *err);

/* Open (creating if needed) the database in `dir`, replaying its WAL. A torn
 * or corrupt WAL tail is cut with a log line; open still succeeds. */
enum kb_status tsdb_open(const char *dir, const struct tsdb_options *opts,
                         struct tsdb **out, struct kb_err *err);

/* Close (syncing the WAL); NULL is allowed. */
enum kb_status tsdb_close(struct tsdb *db, struct kb_err *err);

/* ---- Writing ------------------------------------------------------------ */

/* Start a batch. Blocks while another appender is open. */
struct tsdb_appender *tsdb_appender_begin(struct tsdb *db);

/* Append sample type `sample_type` of profile `p` to the profile series
 * named by `ls` (which must contain __name__), at time `t_ms` covering
 * `duration_ns`. Sample labels are not kept (the scraper turns the ones it
 * wants into series labels); identical stacks are summed. Fails, leaving the
 * batch as it was, on a limit, an out-of-order time, or a series that holds
 * floats. */
enum kb_status tsdb_append_profile(struct tsdb_appender *a,
                                   const struct labels *ls, int64_t t_ms,
                                   int64_t duration_ns,
                                   const struct pprof_profile *p,
                                   size_t sample_type, struct kb_err *err);

/* Append a float sample to the float series named by `ls`. */
enum kb_status tsdb_append_float(struct tsdb_appender *a,
                                 const struct labels *ls, int64_t t_ms,
                                 double v, struct kb_err *err);

/* Make the batch durable (one WAL record, fsynced) and visible; frees the
 * appender whatever the result. On failure nothing of the batch is
 * visible. */
enum kb_status tsdb_appender_commit(struct tsdb_appender *a,
                                    struct kb_err *err);

/* Drop the batch and free the appender. */
void tsdb_appender_rollback(struct tsdb_appender *a);

/* ---- Reading ------------------------------------------------------------ */

enum tsdb_match_type {
    TSDB_MATCH_EQ,  /* =  */
    TSDB_MATCH_NEQ, /* != */
    TSDB_MATCH_RE,  /* =~ fully anchored */
    TSDB_MATCH_NRE, /* !~ fully anchored */
};

/* A label matcher as in PromQL: a missing label matches as "". */
struct tsdb_matcher {
    enum tsdb_match_type type;
    char *name;
    char *value;
    struct kb_regex *re; /* for RE and NRE */
};

/* Fill `m` (copies name and value, compiles the regex). */
enum kb_status tsdb_matcher_init(struct tsdb_matcher *m,
                                 enum tsdb_match_type type, const char *name,
                                 const char *value, struct kb_err *err);
void tsdb_matcher_free(struct tsdb_matcher *m);

/* Whether `m` matches the label value `v` ("" for a missing label: a
 * matcher for which this is true with "" also selects series without the
 * label, as in PromQL). */
bool tsdb_matcher_matches(const struct tsdb_matcher *m, const char *v);

/* Parse a selector `{a="b", c=~"d.*"}` (or `name{...}`, or just `name`)
 * into matchers; *n is set to their count. Free with tsdb_matchers_free. */
enum kb_status tsdb_matchers_parse(const char *text, struct tsdb_matcher **out,
                                   size_t *n, struct kb_err *err);
void tsdb_matchers_free(struct tsdb_matcher *ms, size_t n);

enum tsdb_series_kind { TSDB_PROFILES = 1, TSDB_FLOATS = 2 };

/* One stored profile as a querier returns it. `stacks` are stack ids of the
 * querier's symbol space (tsdb_querier_stack), sorted ascending. */
struct tsdb_profile_view {
    uint32_t source; /* which symbol space the stack ids belong to */
    int64_t t_ms;
    int64_t duration_ns;
    size_t n;
    const uint32_t *stacks;
    const int64_t *values;
};

/* A read-only view of the database over [mint, maxt]. Holds the database's
 * read lock until closed: keep it short. */
struct tsdb_querier *tsdb_querier_open(struct tsdb *db, int64_t mint,
                                       int64_t maxt);
void tsdb_querier_close(struct tsdb_querier *q);

/* The refs of series matching every matcher, with data in the range, in
 * label order. The array belongs to the caller (free()). */
enum kb_status tsdb_querier_select(struct tsdb_querier *q,
                                   const struct tsdb_matcher *ms, size_t n,
                                   uint64_t **refs, size_t *n_refs,
                                   struct kb_err *err);

const struct labels *tsdb_querier_labels(struct tsdb_querier *q, uint64_t ref);
enum tsdb_series_kind tsdb_querier_kind(struct tsdb_querier *q, uint64_t ref);

/* Let this querier read downsampled copies (5m, 1h buckets) in place of
 * raw blocks that lie wholly inside its range; call before selecting.
 * Merges over the range are unchanged by it (bucket sums are exact); the
 * profiles it returns are then per bucket, at bucket starts. Long-range
 * flame graphs use it. */
void tsdb_querier_allow_downsampled(struct tsdb_querier *q);

/* The profiles of a profile series within the range, oldest first. Valid
 * until the querier is closed. */
const struct tsdb_profile_view *tsdb_querier_profiles(struct tsdb_querier *q,
                                                      uint64_t ref, size_t *n);

/* The float samples of a float series within the range. */
void tsdb_querier_floats(struct tsdb_querier *q, uint64_t ref,
                         const int64_t **t, const double **v, size_t *n);

/* The first error met while reading data (a damaged block chunk; that
 * part of the data was left out of what the calls above returned), or
 * KB_OK. Callers that list data check it at the end. */
enum kb_status tsdb_querier_error(const struct tsdb_querier *q,
                                  struct kb_err *err);

/* ---- Stack matchers (the query language's __function__, __leaf__) ---- */

enum tsdb_stack_match {
    TSDB_STACK_ANY,  /* any frame's function matches (__function__) */
    TSDB_STACK_LEAF, /* the leaf frame's function matches (__leaf__) */
};

/* Marks over the stack ids of `source` (a profile view's source):
 * (*marks)[stack] is 1 when that stack matches `re` in `mode`, else 0;
 * *n is the number of stack ids. The regex runs once per function of the
 * source's symbol table and the stack tree is marked in one pass, so a
 * filter costs that, plus one byte lookup per (stack, value) pair. Cached
 * per (source, re, mode) until the querier closes (`re` is compared by
 * address: compile a matcher once). Inlined frames count as frames. */
void tsdb_querier_stack_marks(struct tsdb_querier *q, uint32_t source,
                              const struct kb_regex *re,
                              enum tsdb_stack_match mode, const uint8_t **marks,
                              size_t *n);

/* The function names of `stack` of `source`, leaf first, one per frame
 * (inlined functions included; frames without symbols are left out):
 * fills names[0..max) and returns the number of frames (which may exceed
 * max). The strings are valid until the querier closes. Grouping by
 * __function__ credits a stack once to each distinct name; by __leaf__,
 * to names[0]. */
size_t tsdb_querier_stack_functions(struct tsdb_querier *q, uint32_t source,
                                    uint32_t stack, const char **names,
                                    size_t max);

/* Merge every profile of the series `refs` within the range into a new
 * pprof (sample type and period from the series' names; they must all be
 * of one type, else KB_ERR_MISMATCH). *out is NULL when nothing matched. */
enum kb_status tsdb_querier_merge(struct tsdb_querier *q, const uint64_t *refs,
                                  size_t n_refs, struct pprof_profile **out,
                                  struct kb_err *err);

/* Write the head's oldest data into blocks while it spans more than 1.5
 * block ranges, merge finished blocks into longer ones, and apply
 * retention. Call it periodically (the server does, kilnctl import does
 * after importing). Appends wait while the head is cut; queries never. */
enum kb_status tsdb_compact(struct tsdb *db, struct kb_err *err);

/* ---- Blocks ------------------------------------------------------------- */

struct tsdb_block_info {
    char ulid[27];
    int64_t mint, maxt; /* ms */
    uint64_t series, profiles, float_samples, bytes;
    int level;
    int64_t resolution; /* ms; 0 for raw blocks */
};

/* The blocks, oldest first (*out is the caller's to free()). */
size_t tsdb_blocks(struct tsdb *db, struct tsdb_block_info **out);

/* The head's time range (mint > maxt when empty) and series count. */
void tsdb_head_range(struct tsdb *db, int64_t *mint, int64_t *maxt,
                     uint64_t *series);

/* ---- Stats -------------------------------------------------------------- */

struct tsdb_stats {
    uint64_t series;
    uint64_t profile_series, float_series;
    uint64_t profiles;
    uint64_t float_samples;
    uint64_t pairs; /* (stack, value) pairs stored */
    /* Symbols summed over the head and blocks (each deduplicates its own). */
    uint64_t strings, mappings, functions, locations, stack_nodes;
    int64_t mint, maxt;           /* ms; mint > maxt when empty */
    uint64_t wal_bytes;           /* bytes of the WAL directory on disk */
    uint64_t blocks, block_bytes; /* raw blocks; bytes include copies */
    uint64_t downsampled_blocks;
};

void tsdb_stats(struct tsdb *db, struct tsdb_stats *st);

/* What the server's /metrics shows; cheap (no walk over series). */
struct tsdb_runtime_stats {
    uint64_t head_series, head_profiles, head_float_samples;
    uint64_t blocks;          /* on disk, downsampled copies included */
    uint64_t wal_fsyncs;      /* WAL fdatasyncs since open */
    double wal_fsync_seconds; /* their total duration */
};

void tsdb_runtime_stats(struct tsdb *db, struct tsdb_runtime_stats *out);

/* ---- Series names (typeid.c) -------------------------------------------- */

/* The profile type ID of sample type `i` of `p`, DESIGN.md section 2:
 * "<profile>:<type>:<unit>:<period type>:<period unit>", written to `out`.
 * `profile` names the profile ("process_cpu", "memory", "mutex", "block",
 * "goroutine"); NULL infers it from the period type (cpu -> process_cpu,
 * space -> memory, contentions -> mutex, else the sample type). */
enum kb_status tsdb_type_id(const struct pprof_profile *p, size_t i,
                            const char *profile, struct buf *out);

/* The full profile type ID of a short name ("cpu", "inuse_space", ...,
 * DESIGN.md section 2), or NULL if `name` is not one. */
const char *tsdb_type_alias(const char *name);

#endif
