/* tsdb/head.h: the in-memory head block (internal to tsdb/). See head.c. */
#ifndef KILN_TSDB_HEAD_H
#define KILN_TSDB_HEAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pprof/profile.h"
#include "tsdb/stacks.h"
#include "tsdb/symspace.h"
#include "tsdb/tsdb.h"

struct arena;
struct labels;

struct tsdb_head_series {
    uint64_t ref; /* 1..n, dense */
    struct labels *labels;
    uint64_t hash;           /* labels_hash(labels) */
    uint64_t next_same_hash; /* ref of the next series with this hash, 0 */
    enum tsdb_series_kind kind;
    int64_t period; /* profiles: the pprof period of the first profile */
    struct tsdb_profile_view *profiles; /* sorted by t */
    size_t n_profiles, cap_profiles;
    int64_t *ft; /* floats: sorted by t */
    double *fv;
    size_t n_floats, cap_floats;
    int64_t max_t; /* newest t, INT64_MIN when empty */
};

struct tsdb_head {
    struct tsdb_symspace sym;         /* what the profiles' stack ids mean */
    struct tsdb_head_series **series; /* index ref - 1 */
    size_t n_series, cap_series;
    struct hmap *by_hash; /* labels hash -> first ref with that hash */
    int64_t mint, maxt;
    uint64_t n_profiles, n_floats, n_pairs;
    struct arena *pairs; /* every profile's (stack, value) arrays */
};

struct tsdb_head *tsdb_head_new(void);
void tsdb_head_free(struct tsdb_head *h);

/* The series named `ls`, or NULL. */
struct tsdb_head_series *tsdb_head_find(struct tsdb_head *h,
                                        const struct labels *ls);
/* A new series (the caller checked it does not exist); `ls` is copied. */
struct tsdb_head_series *tsdb_head_create(struct tsdb_head *h,
                                          const struct labels *ls,
                                          enum tsdb_series_kind kind,
                                          int64_t period);
struct tsdb_head_series *tsdb_head_series_by_ref(struct tsdb_head *h,
                                                 uint64_t ref);

/* Whether a profile or float at `t` may be added to `s`: KB_OK, or an error
 * naming the problem (out of order beyond `window`, duplicate time). */
enum kb_status tsdb_head_check_time(const struct tsdb_head_series *s, int64_t t,
                                    int64_t window, struct kb_err *err);

/* Add a profile whose pairs came from tsdb_head_pairs_alloc(h, ...).
 * Keeps time order. */
void tsdb_head_add_profile(struct tsdb_head *h, struct tsdb_head_series *s,
                           int64_t t, int64_t duration, size_t n,
                           uint32_t *stacks, int64_t *values);
void tsdb_head_add_float(struct tsdb_head *h, struct tsdb_head_series *s,
                         int64_t t, double v);

/* Room for a profile of `n` pairs in the head's arena: stacks, then
 * values; freed with the head. */
uint32_t *tsdb_head_pairs_alloc(struct tsdb_head *h, size_t n,
                                int64_t **values);

/* A new head holding the data of `h` newer than `after` (ms), in a fresh
 * symbol space with only the symbols and stacks that data uses; series
 * without such data are left out, so refs are renumbered. `h` is only
 * read. Used after the head's oldest part was written to a block. */
struct tsdb_head *tsdb_head_copy_after(const struct tsdb_head *h,
                                       int64_t after);

/* Sort parallel (stack, value) arrays by stack id. */
void tsdb_head_sort_pairs(uint32_t *stacks, int64_t *values, size_t n);

/* db.c's head and read/write lock, for querier.c. */
struct tsdb_head *tsdb_db_head(struct tsdb *db);
pthread_rwlock_t *tsdb_db_lock(struct tsdb *db);

#endif
