/* Unit tests for tsdb/: appends, commits and rollbacks, WAL replay,
 * queries and merges, limits, selectors and series names. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/labels.h"
#include "base/regex.h"
#include "pprof/profile.h"
#include "tests/unit/unit.h"
#include "tsdb/block.h"
#include "tsdb/enc.h"
#include "tsdb/symspace.h"
#include "tsdb/tsdb.h"

static char dir[256];

static void fresh_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kiln-tsdb-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
}

static void remove_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

/* A CPU-like profile: stacks main;a;b = 3*k, main;c = k, main = 1. */
static struct pprof_profile *cpu_profile(int64_t k)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, "samples"),
                          pprof_intern_str(p, "count"));
    pprof_add_sample_type(p, pprof_intern_str(p, "cpu"),
                          pprof_intern_str(p, "nanoseconds"));
    p->period_type.type = pprof_intern_str(p, "cpu");
    p->period_type.unit = pprof_intern_str(p, "nanoseconds");
    p->period = 10000000;
    const char *names[] = {"main", "a", "b", "c"};
    uint32_t loc[4];
    for (int i = 0; i < 4; i++) {
        struct pprof_function f = {.name = pprof_intern_str(p, names[i])};
        struct pprof_line l = {pprof_add_function(p, &f), 10 + i};
        loc[i] =
            pprof_add_location(p, 0, 0x1000 + 16 * (uint64_t)i, &l, 1, false);
    }
    uint32_t s1[] = {loc[2], loc[1], loc[0]}, s2[] = {loc[3], loc[0]},
             s3[] = {loc[0]};
    int64_t v1[] = {3 * k, 3 * k * 10000000}, v2[] = {k, k * 10000000},
            v3[] = {1, 10000000};
    pprof_add_sample(p, s1, 3, v1, NULL, 0);
    pprof_add_sample(p, s2, 2, v2, NULL, 0);
    pprof_add_sample(p, s3, 1, v3, NULL, 0);
    pprof_add_sample(p, s1, 3, v1, NULL, 0); /* repeated stack: summed */
    return p;
}

static struct labels *series(const char *job, const char *name)
{
    struct labels *ls = NULL;
    if (labels_from_strings(&ls, NULL, "job", job, "__name__", name, NULL))
        abort();
    return ls;
}

#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

static struct tsdb *open_db(void)
{
    struct tsdb *db = NULL;
    struct kb_err err;
    if (tsdb_open(dir, NULL, &db, &err) != KB_OK)
        printf("# open: %s\n", err.msg);
    return db;
}

/* Sum of every value of every profile of `name` for `job`. */
static int64_t stored_total(struct tsdb *db, const char *job)
{
    struct tsdb_querier *q = tsdb_querier_open(db, INT64_MIN, INT64_MAX);
    struct tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "job", job, NULL);
    uint64_t *refs;
    size_t n;
    tsdb_querier_select(q, &m, 1, &refs, &n, NULL);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t np;
        const struct tsdb_profile_view *v =
            tsdb_querier_profiles(q, refs[i], &np);
        for (size_t k = 0; k < np; k++)
            for (size_t j = 0; j < v[k].n; j++)
                total += v[k].values[j];
    }
    free(refs);
    tsdb_matcher_free(&m);
    tsdb_querier_close(q);
    return total;
}

static void test_append_commit_query_replay(void)
{
    fresh_dir();
    struct tsdb *db = open_db();
    struct kb_err err;
    struct labels *ls = series("api", CPU);
    for (int i = 1; i <= 10; i++) {
        struct pprof_profile *p = cpu_profile(i);
        struct tsdb_appender *a = tsdb_appender_begin(db);
        CHECK_INT(tsdb_append_profile(a, ls, 1000 * i, 1000000000, p, 1, &err),
                  KB_OK);
        CHECK_INT(tsdb_appender_commit(a, &err), KB_OK);
        pprof_free(p);
    }
    /* 10 profiles, total = sum(7k+1) * 1e7 */
    int64_t want = (7 * 55 + 10) * 10000000LL;
    CHECK_INT(stored_total(db, "api"), want);
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    CHECK_INT(st.series, 1);
    CHECK_INT(st.profiles, 10);
    CHECK_INT(st.functions, 4);
    CHECK_INT(st.locations, 4);
    CHECK_INT(st.stack_nodes, 5); /* root, main, main;a, main;a;b, main;c */
    CHECK_INT(st.pairs, 30);
    CHECK_INT(st.mint, 1000);
    CHECK_INT(st.maxt, 10000);
    CHECK_INT(tsdb_close(db, &err), KB_OK);

    /* Reopen: the WAL replays to the same data. */
    db = open_db();
    CHECK(db != NULL);
    if (db) {
        CHECK_INT(stored_total(db, "api"), want);
        tsdb_stats(db, &st);
        CHECK_INT(st.profiles, 10);
        CHECK_INT(st.stack_nodes, 5);
        /* And appending after replay continues the same tables. */
        struct pprof_profile *p = cpu_profile(1);
        struct tsdb_appender *a = tsdb_appender_begin(db);
        CHECK_INT(tsdb_append_profile(a, ls, 20000, 1000000000, p, 1, &err),
                  KB_OK);
        CHECK_INT(tsdb_appender_commit(a, &err), KB_OK);
        pprof_free(p);
        tsdb_close(db, NULL);
    }
    db = open_db();
    CHECK(db && stored_total(db, "api") == want + 8 * 10000000LL);
    tsdb_close(db, NULL);
    labels_free(ls);
    remove_dir();
}

static void test_merge_equals_pprof_merge(void)
{
    fresh_dir();
    struct tsdb *db = open_db();
    struct labels *a1 = series("a", CPU), *a2 = series("b", CPU);
    struct pprof_merger *m = pprof_merger_new();
    for (int i = 1; i <= 5; i++) {
        struct pprof_profile *p = cpu_profile(i);
        struct tsdb_appender *a = tsdb_appender_begin(db);
        CHECK_INT(tsdb_append_profile(a, a1, 1000 * i, 10, p, 1, NULL), KB_OK);
        CHECK_INT(tsdb_append_profile(a, a2, 1000 * i, 10, p, 1, NULL), KB_OK);
        CHECK_INT(tsdb_appender_commit(a, NULL), KB_OK);
        if (i >= 2 && i <= 4) {
            pprof_merger_add(m, p, NULL);
            pprof_merger_add(m, p, NULL);
        }
        pprof_free(p);
    }
    struct pprof_profile *want = pprof_merger_finish(m);
    struct tsdb_querier *q = tsdb_querier_open(db, 2000, 4000);
    struct tsdb_matcher *ms;
    size_t nm;
    struct kb_err err;
    CHECK_INT(tsdb_matchers_parse("cpu{job=~\"a|b\"}", &ms, &nm, &err), KB_OK);
    uint64_t *refs;
    size_t n;
    CHECK_INT(tsdb_querier_select(q, ms, nm, &refs, &n, &err), KB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(labels_get(tsdb_querier_labels(q, refs[0]), "job"), "a");
    struct pprof_profile *got = NULL;
    CHECK_INT(tsdb_querier_merge(q, refs, n, &got, &err), KB_OK);
    /* Compare collapsed text of the cpu type: identical stacks, values. */
    struct buf bw, bg;
    buf_init(&bw, BUF_NO_LIMIT);
    buf_init(&bg, BUF_NO_LIMIT);
    pprof_collapsed_write(want, 1, &bw, NULL);
    if (got)
        pprof_collapsed_write(got, 0, &bg, NULL);
    CHECK_STR(buf_cstr(&bg), buf_cstr(&bw));
    CHECK(got && strcmp(pprof_str(got, got->sample_types[0].type), "cpu") == 0);
    CHECK(got && got->period == 10000000);
    CHECK(got && got->time_nanos == 2000 * 1000000LL);
    /* The merge encodes to a pprof that decodes again. */
    struct buf enc;
    buf_init(&enc, BUF_NO_LIMIT);
    struct pprof_profile *back = NULL;
    CHECK(got && pprof_encode(got, &enc, NULL) == KB_OK &&
          pprof_decode(enc.data, enc.len, NULL, &back, NULL) == KB_OK);
    pprof_free(back);
    buf_free(&enc);
    buf_free(&bw);
    buf_free(&bg);
    free(refs);
    tsdb_matchers_free(ms, nm);
    tsdb_querier_close(q);
    pprof_free(got);
    pprof_free(want);
    labels_free(a1);
    labels_free(a2);
    tsdb_close(db, NULL);
    remove_dir();
}

static void test_rollback_and_errors(void)
{
    fresh_dir();
    struct tsdb *db = open_db();
    struct kb_err err;
    struct labels *ls = series("api", CPU);
    struct pprof_profile *p = cpu_profile(1);
    struct tsdb_appender *a = tsdb_appender_begin(db);
    CHECK_INT(tsdb_append_profile(a, ls, 5000, 1, p, 1, &err), KB_OK);
    tsdb_appender_rollback(a);
    CHECK_INT(stored_total(db, "api"), 0);

    a = tsdb_appender_begin(db);
    CHECK_INT(tsdb_append_profile(a, ls, 5000, 1, p, 1, &err), KB_OK);
    CHECK_INT(tsdb_append_profile(a, ls, 5000, 1, p, 1, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "duplicate") != NULL);
    CHECK_INT(tsdb_appender_commit(a, &err), KB_OK);

    a = tsdb_appender_begin(db);
    CHECK_INT(tsdb_append_profile(a, ls, 4000, 1, p, 1, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "out of order") != NULL);
    CHECK_INT(tsdb_append_profile(a, ls, 5000, 1, p, 1, &err), KB_ERR_INVALID);
    CHECK_INT(tsdb_append_float(a, ls, 6000, 1.0, &err), KB_ERR_MISMATCH);
    struct labels *noname = NULL;
    labels_from_strings(&noname, NULL, "job", "x", NULL);
    CHECK_INT(tsdb_append_float(a, noname, 6000, 1.0, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "__name__") != NULL);
    CHECK_INT(tsdb_append_profile(a, ls, 6000, 1, p, 7, &err), KB_ERR_USAGE);
    struct labels *up = series("api", "up");
    CHECK_INT(tsdb_append_float(a, up, 6000, 1.0, &err), KB_OK);
    CHECK_INT(tsdb_append_float(a, up, 7000, 0.0, &err), KB_OK);
    /* The batch's own data obeys the time rules too. */
    CHECK_INT(tsdb_append_float(a, up, 7000, 2.0, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "twice in one batch") != NULL);
    CHECK_INT(tsdb_append_float(a, up, 6500, 2.0, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "earlier in the batch") != NULL);
    CHECK_INT(tsdb_append_profile(a, ls, 9000, 1, p, 1, &err), KB_OK);
    CHECK_INT(tsdb_append_profile(a, ls, 8000, 1, p, 1, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "out of order") != NULL);
    CHECK_INT(tsdb_appender_commit(a, &err), KB_OK);
    tsdb_close(db, NULL);

    /* A second process (here: a second open) is refused. */
    db = open_db();
    struct tsdb *db2 = NULL;
    CHECK_INT(tsdb_open(dir, NULL, &db2, &err), KB_ERR_IO);
    CHECK(strstr(err.msg, "in use") != NULL);
    CHECK_INT(stored_total(db, "api"), 16 * 10000000LL);
    struct tsdb_querier *q = tsdb_querier_open(db, 0, 6500);
    struct tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "__name__", "up", NULL);
    uint64_t *refs;
    size_t n;
    tsdb_querier_select(q, &m, 1, &refs, &n, NULL);
    CHECK_INT(n, 1);
    const int64_t *t;
    const double *v;
    size_t nf = 0;
    if (n == 1)
        tsdb_querier_floats(q, refs[0], &t, &v, &nf);
    CHECK_INT(nf, 1);
    CHECK(nf == 1 && t[0] == 6000 && v[0] == 1.0);
    free(refs);
    tsdb_matcher_free(&m);
    tsdb_querier_close(q);
    tsdb_close(db, NULL);
    labels_free(up);
    labels_free(noname);
    labels_free(ls);
    pprof_free(p);
    remove_dir();
}

static void test_limits(void)
{
    fresh_dir();
    struct tsdb_options o;
    tsdb_options_default(&o);
    o.max_series = 2;
    o.max_stack_depth = 2;
    struct tsdb *db = NULL;
    struct kb_err err;
    CHECK_INT(tsdb_open(dir, &o, &db, &err), KB_OK);
    struct pprof_profile *p = cpu_profile(1);
    struct tsdb_appender *a = tsdb_appender_begin(db);
    struct labels *ls = series("x", CPU);
    CHECK_INT(tsdb_append_profile(a, ls, 1, 1, p, 1, &err), KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "stack depth 3, limit is 2") != NULL);
    struct labels *s1 = series("1", "up"), *s2 = series("2", "up"),
                  *s3 = series("3", "up");
    CHECK_INT(tsdb_append_float(a, s1, 1, 1, &err), KB_OK);
    CHECK_INT(tsdb_append_float(a, s2, 1, 1, &err), KB_ERR_LIMIT);
    CHECK_INT(tsdb_append_float(a, s3, 1, 1, &err), KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "too many series") != NULL);
    tsdb_appender_rollback(a);
    labels_free(ls);
    labels_free(s1);
    labels_free(s2);
    labels_free(s3);
    pprof_free(p);
    tsdb_close(db, NULL);
    remove_dir();
}

static void test_selectors(void)
{
    struct tsdb_matcher *ms;
    size_t n;
    struct kb_err err;
    CHECK_INT(tsdb_matchers_parse("inuse_space{job='a', x!=\"b\\\"c\","
                                  " y=~\"\\\\d+\", z!~\"q.*\",}",
                                  &ms, &n, &err),
              KB_OK);
    CHECK_INT(n, 5);
    if (n == 5) {
        CHECK_STR(ms[0].value, "memory:inuse_space:bytes:space:bytes");
        CHECK_STR(ms[2].value, "b\"c");
        CHECK_INT(ms[3].type, TSDB_MATCH_RE);
        CHECK_STR(ms[3].value, "\\d+");
        CHECK_INT(ms[4].type, TSDB_MATCH_NRE);
    }
    tsdb_matchers_free(ms, n);
    CHECK_INT(tsdb_matchers_parse("{__name__=\"x:y\"}", &ms, &n, &err), KB_OK);
    tsdb_matchers_free(ms, n);
    const char *bad[] = {"{}",         "{a=}",           "{a=\"x\"",
                         "{a==\"x\"}", "cpu{a=\"x\"} z", "{a=~\"(\"}",
                         "{1a=\"x\"}", "{a=\"x\nb\"}"};
    const char *why[] = {"at least one",
                         "1:4: expected a quoted",
                         "1:7: expected ',' or '}'",
                         "1:4: expected a quoted",
                         "1:12: expected end",
                         "matcher a",
                         "1:2: expected a label name",
                         "unterminated"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = NULL;
        CHECK(tsdb_matchers_parse(bad[i], &ms, &n, &err) != KB_OK);
        CHECK(ms == NULL);
        if (strstr(err.msg, why[i]) == NULL) {
            printf("# %s: \"%s\" lacks \"%s\"\n", bad[i], err.msg, why[i]);
            CHECK(0);
        }
    }
}

static void test_type_ids(void)
{
    struct pprof_profile *p = cpu_profile(1);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    CHECK_INT(tsdb_type_id(p, 1, NULL, &b), KB_OK);
    CHECK_STR(buf_cstr(&b), CPU);
    buf_reset(&b);
    CHECK_INT(tsdb_type_id(p, 0, "block", &b), KB_OK);
    CHECK_STR(buf_cstr(&b), "block:samples:count:cpu:nanoseconds");
    CHECK_STR(tsdb_type_alias("goroutines"),
              "goroutine:goroutine:count:goroutine:count");
    CHECK(tsdb_type_alias("nope") == NULL);
    buf_free(&b);
    pprof_free(p);
}

/* Collapsed text of the merge of everything matching job=`job`. */
static char *merged_text(struct tsdb *db, const char *job, int64_t mint,
                         int64_t maxt)
{
    struct tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    struct tsdb_matcher m[2];
    tsdb_matcher_init(&m[0], TSDB_MATCH_EQ, "job", job, NULL);
    tsdb_matcher_init(&m[1], TSDB_MATCH_EQ, "__name__", CPU, NULL);
    uint64_t *refs = NULL;
    size_t n = 0;
    tsdb_querier_select(q, m, 2, &refs, &n, NULL);
    struct pprof_profile *p = NULL;
    struct kb_err err;
    if (tsdb_querier_merge(q, refs, n, &p, &err) != KB_OK)
        printf("# merge: %s\n", err.msg);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    if (p)
        pprof_collapsed_write(p, 0, &b, NULL);
    pprof_free(p);
    free(refs);
    tsdb_matcher_free(&m[0]);
    tsdb_matcher_free(&m[1]);
    tsdb_querier_close(q);
    char *text = strdup(buf_cstr(&b));
    buf_free(&b);
    return text;
}

static size_t count_blocks(struct tsdb *db, int *max_level)
{
    struct tsdb_block_info *info;
    size_t n = tsdb_blocks(db, &info);
    *max_level = 0;
    for (size_t i = 0; i < n; i++)
        if (info[i].level > *max_level)
            *max_level = info[i].level;
    free(info);
    return n;
}

static void test_compaction_blocks_merge_retention(void)
{
    fresh_dir();
    struct tsdb_options o;
    tsdb_options_default(&o);
    o.block_range = 1000;
    o.max_block_range = 9000;
    o.retention_time = 0;
    struct tsdb *db = NULL;
    struct kb_err err;
    CHECK_INT(tsdb_open(dir, &o, &db, &err), KB_OK);
    struct labels *ls = series("c", CPU), *up = series("c", "up");
    /* Profiles every 250 ms over 12 s, different stacks over time. */
    for (int i = 0; i < 48; i++) {
        struct pprof_profile *p = cpu_profile(1 + i % 5);
        struct tsdb_appender *a = tsdb_appender_begin(db);
        CHECK_INT(tsdb_append_profile(a, ls, 250 * i, 250000000, p, 1, &err),
                  KB_OK);
        CHECK_INT(tsdb_append_float(a, up, 250 * i, i, &err), KB_OK);
        CHECK_INT(tsdb_appender_commit(a, &err), KB_OK);
        pprof_free(p);
    }
    char *before = merged_text(db, "c", 0, 20000);
    char *part_before = merged_text(db, "c", 1500, 4250);
    CHECK_INT(tsdb_compact(db, &err), KB_OK);
    int level;
    size_t nb = count_blocks(db, &level);
    printf("# %zu blocks, max level %d\n", nb, level);
    CHECK(nb >= 2);
    CHECK(level >= 2); /* 1 s blocks merged into 3 s or 9 s ones */
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    CHECK_INT(st.profiles, 48);
    CHECK_INT(st.float_samples, 48);
    CHECK_INT(st.series, 2);
    char *after = merged_text(db, "c", 0, 20000);
    char *part_after = merged_text(db, "c", 1500, 4250);
    CHECK_STR(after, before);
    CHECK_STR(part_after, part_before);
    tsdb_close(db, NULL);

    /* Reopen: blocks load, the checkpointed head replays, data is equal. */
    CHECK_INT(tsdb_open(dir, &o, &db, &err), KB_OK);
    char *reopened = merged_text(db, "c", 0, 20000);
    CHECK_STR(reopened, before);
    tsdb_stats(db, &st);
    CHECK_INT(st.profiles, 48);
    /* Floats read back across blocks and head, in time order. */
    struct tsdb_querier *q = tsdb_querier_open(db, 0, 20000);
    struct tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "__name__", "up", NULL);
    uint64_t *refs;
    size_t n;
    tsdb_querier_select(q, &m, 1, &refs, &n, NULL);
    const int64_t *t;
    const double *v;
    size_t nf = 0;
    if (n == 1)
        tsdb_querier_floats(q, refs[0], &t, &v, &nf);
    CHECK_INT(nf, 48);
    bool ordered = nf == 48;
    for (size_t i = 0; ordered && i < nf; i++)
        ordered = t[i] == 250 * (int64_t)i && v[i] == (double)i;
    CHECK(ordered);
    free(refs);
    tsdb_matcher_free(&m);
    tsdb_querier_close(q);
    tsdb_close(db, NULL);

    /* Retention by time keeps only the newest data's window. */
    o.retention_time = 1000;
    CHECK_INT(tsdb_open(dir, &o, &db, &err), KB_OK);
    CHECK_INT(tsdb_compact(db, &err), KB_OK);
    tsdb_stats(db, &st);
    printf("# after retention: %llu profiles from t=%lld\n",
           (unsigned long long)st.profiles, (long long)st.mint);
    CHECK(st.profiles < 48 && st.profiles > 0);
    CHECK(st.mint >= 9000); /* blocks ending before 10750 are gone */
    tsdb_close(db, NULL);
    free(before);
    free(after);
    free(part_before);
    free(part_after);
    free(reopened);
    labels_free(ls);
    labels_free(up);
    remove_dir();
}

/* ---- Damaged blocks (regressions found by tests/fuzz/fuzz_tsdb_block) ---- */

/* Write a block of float series {a="1"} .. {a="N"}, one sample each at
 * time t[i] (mint 0); its path goes to `path`. */
static void float_block(size_t n, const int64_t *t, char path[512])
{
    struct tsdb_block_writer *w = tsdb_block_writer_new();
    for (size_t i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%zu", i + 1);
        struct labels *ls = NULL;
        labels_from_strings(&ls, NULL, "a", v, NULL);
        double x = (double)i;
        tsdb_block_writer_add_floats(w, ls, &t[i], &x, 1);
        labels_free(ls);
    }
    char ulid[TSDB_ULID_LEN + 1];
    struct kb_err err;
    CHECK_INT(tsdb_block_writer_finish(w, dir, 0, 1000, 1, NULL, 0, ulid, &err),
              KB_OK);
    tsdb_block_writer_free(w);
    snprintf(path, 512, "%s/%s", dir, ulid);
}

static long long file_size(const char *block, const char *name)
{
    char p[600];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s", block, name);
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Replace the block's index by one with the decompressed body `raw` (and a
 * right checksum): damage that only the decoder behind it can see. */
static void write_index(const char *block, const struct buf *raw)
{
    struct buf f;
    buf_init(&f, BUF_NO_LIMIT);
    buf_append(&f, "KILNIDX1", 8);
    tsdb_enc_u32(&f, 1);
    tsdb_enc_u64(&f, raw->len);
    size_t bound = ZSTD_compressBound(raw->len);
    buf_reserve(&f, bound);
    f.len += ZSTD_compress(f.data + f.len, bound, raw->data, raw->len, 1);
    tsdb_enc_u32(&f, (uint32_t)crc32(0L, f.data, (uInt)f.len));
    char p[600];
    snprintf(p, sizeof(p), "%s/index", block);
    FILE *fp = fopen(p, "wb");
    CHECK(fp != NULL);
    if (fp) {
        CHECK(fwrite(f.data, 1, f.len, fp) == f.len);
        fclose(fp);
    }
    buf_free(&f);
}

/* One index entry: {a="value"}, floats, one item, chunk at [off, off+len). */
static void index_series(struct buf *raw, const char *value, uint64_t off,
                         uint64_t len)
{
    tsdb_enc_uvarint(raw, 1);
    tsdb_enc_bytes(raw, "a", 1);
    tsdb_enc_bytes(raw, value, strlen(value));
    tsdb_enc_uvarint(raw, TSDB_FLOATS);
    tsdb_enc_varint(raw, 0); /* period */
    tsdb_enc_varint(raw, 0); /* mint */
    tsdb_enc_varint(raw, 0); /* maxt */
    tsdb_enc_uvarint(raw, 1);
    tsdb_enc_uvarint(raw, off);
    tsdb_enc_uvarint(raw, len);
}

static void test_block_damage(void)
{
    fresh_dir();
    struct tsdb_block *b = NULL;
    struct kb_err err;
    char block[512];

    /* Times at the ends of int64: the deltas wrap, both ways. */
    int64_t ext[3] = {INT64_MIN + 7, INT64_MAX - 3, -1};
    double xv[3] = {1, 2, 3};
    struct tsdb_block_writer *w = tsdb_block_writer_new();
    struct labels *ls = NULL;
    labels_from_strings(&ls, NULL, "a", "ext", NULL);
    tsdb_block_writer_add_floats(w, ls, ext, xv, 3);
    labels_free(ls);
    char ulid[TSDB_ULID_LEN + 1];
    CHECK_INT(tsdb_block_writer_finish(w, dir, 0, 1000, 1, NULL, 0, ulid, &err),
              KB_OK);
    tsdb_block_writer_free(w);
    snprintf(block, sizeof(block), "%s/%s", dir, ulid);
    CHECK_INT(tsdb_block_open(block, &b, &err), KB_OK);
    int64_t *t = NULL;
    double *v = NULL;
    size_t n = 0;
    if (b)
        CHECK_INT(tsdb_block_read_floats(b, 0, &t, &v, &n, &err), KB_OK);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n && i < 3; i++)
        CHECK(t[i] == ext[i] && v[i] == xv[i]);
    free(t);
    free(v);
    tsdb_block_close(b);
    b = NULL;

    /* A chunk length that reaches past the end of the chunks file (the
     * bound used to underflow, and reads went past the mapping). */
    int64_t t1 = 5;
    float_block(1, &t1, block);
    long long clen = file_size(block, "chunks");
    struct buf raw;
    buf_init(&raw, BUF_NO_LIMIT);
    tsdb_enc_uvarint(&raw, 1);
    index_series(&raw, "1", 12, (uint64_t)clen - 2);
    tsdb_enc_uvarint(&raw, 0); /* no postings */
    write_index(block, &raw);
    CHECK_INT(tsdb_block_open(block, &b, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "bad series entry") != NULL);
    tsdb_block_close(b); /* NULL unless the check failed */
    b = NULL;
    /* Likewise with a chunks file that is only its header. */
    char cpath[600];
    snprintf(cpath, sizeof(cpath), "%s/chunks", block);
    CHECK(truncate(cpath, 12) == 0);
    buf_reset(&raw);
    tsdb_enc_uvarint(&raw, 1);
    index_series(&raw, "1", 12, 10);
    tsdb_enc_uvarint(&raw, 0);
    write_index(block, &raw);
    CHECK_INT(tsdb_block_open(block, &b, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "bad series entry") != NULL);
    tsdb_block_close(b);
    b = NULL;
    float_block(1, &t1, block); /* a good one again */
    clen = file_size(block, "chunks");

    /* The same frame, in bounds: the block opens (the index is good). */
    buf_reset(&raw);
    tsdb_enc_uvarint(&raw, 2);
    index_series(&raw, "1", 12, (uint64_t)clen - 16);
    index_series(&raw, "2", 12, (uint64_t)clen - 16);
    tsdb_enc_uvarint(&raw, 1);
    tsdb_enc_bytes(&raw, "a", 1);
    tsdb_enc_bytes(&raw, "x", 1);
    tsdb_enc_uvarint(&raw, 2);
    tsdb_enc_uvarint(&raw, 0);
    tsdb_enc_uvarint(&raw, 1);
    write_index(block, &raw);
    CHECK_INT(tsdb_block_open(block, &b, &err), KB_OK);
    size_t np = 0;
    const uint32_t *post = b ? tsdb_block_postings(b, "a", "x", &np) : NULL;
    CHECK_INT(np, 2);
    if (np == 2)
        CHECK(post[0] == 0 && post[1] == 1);
    tsdb_block_close(b);
    b = NULL;

    /* A postings delta that wraps around to an earlier series: the list
     * would not be ascending. */
    raw.len -= 2;
    tsdb_enc_uvarint(&raw, 1);
    tsdb_enc_uvarint(&raw, UINT64_MAX);
    write_index(block, &raw);
    CHECK_INT(tsdb_block_open(block, &b, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "bad postings list") != NULL);
    tsdb_block_close(b);
    buf_free(&raw);
    remove_dir();
}

/* A symbol space encoding that repeats string 0 ("") is refused like any
 * repeated string (it used to pass, shifting every later string id). */
static void test_symspace_repeated_empty_string(void)
{
    struct buf raw;
    buf_init(&raw, BUF_NO_LIMIT);
    tsdb_enc_uvarint(&raw, 1); /* strings from 1 */
    tsdb_enc_uvarint(&raw, 2);
    tsdb_enc_bytes(&raw, "", 0);
    tsdb_enc_bytes(&raw, "main", 4);
    for (int i = 0; i < 3; i++) { /* no mappings, functions, locations */
        tsdb_enc_uvarint(&raw, 0);
        tsdb_enc_uvarint(&raw, 0);
    }
    tsdb_enc_uvarint(&raw, 1); /* stacks from 1 */
    tsdb_enc_uvarint(&raw, 0);
    struct tsdb_symspace s;
    tsdb_symspace_init(&s);
    struct tsdb_dec d;
    tsdb_dec_init(&d, raw.data, raw.len);
    const char *why = NULL;
    CHECK(!tsdb_symspace_decode(&s, &d, &why));
    CHECK_STR(why, "bad or repeated string");
    tsdb_symspace_free(&s);
    buf_free(&raw);
}

/* Merge text and number of profile views read, with or without
 * downsampled copies. */
static char *merged_text_ds(struct tsdb *db, bool ds, size_t *views)
{
    struct tsdb_querier *q = tsdb_querier_open(db, INT64_MIN, INT64_MAX);
    if (ds)
        tsdb_querier_allow_downsampled(q);
    struct tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "__name__", CPU, NULL);
    uint64_t *refs = NULL;
    size_t n = 0;
    tsdb_querier_select(q, &m, 1, &refs, &n, NULL);
    *views = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nv;
        tsdb_querier_profiles(q, refs[i], &nv);
        *views += nv;
    }
    struct pprof_profile *p = NULL;
    tsdb_querier_merge(q, refs, n, &p, NULL);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    if (p)
        pprof_collapsed_write(p, 0, &b, NULL);
    char *text = strdup(buf_cstr(&b));
    buf_free(&b);
    pprof_free(p);
    free(refs);
    tsdb_matcher_free(&m);
    tsdb_querier_close(q);
    return text;
}

static void test_downsampling(void)
{
    fresh_dir();
    struct tsdb *db = open_db();
    struct kb_err err;
    struct labels *ls = series("d", CPU);
    /* One profile every 10 minutes for 60 hours, in batches of 36. */
    const int64_t step = 10 * 60 * 1000;
    for (int i = 0; i < 360;) {
        struct tsdb_appender *a = tsdb_appender_begin(db);
        for (int k = 0; k < 36; k++, i++) {
            struct pprof_profile *p = cpu_profile(1 + i % 7);
            CHECK_INT(tsdb_append_profile(a, ls, step * i, step * 1000000, p, 1,
                                          &err),
                      KB_OK);
            pprof_free(p);
        }
        CHECK_INT(tsdb_appender_commit(a, &err), KB_OK);
    }
    size_t raw_views, ds_views;
    char *before = merged_text_ds(db, false, &raw_views);
    CHECK_INT(raw_views, 360);
    CHECK_INT(tsdb_compact(db, &err), KB_OK);
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    printf("# %llu raw blocks, %llu downsampled copies\n",
           (unsigned long long)st.blocks,
           (unsigned long long)st.downsampled_blocks);
    CHECK(st.downsampled_blocks >= 2);
    CHECK_INT(st.profiles, 360);
    char *raw = merged_text_ds(db, false, &raw_views);
    char *ds = merged_text_ds(db, true, &ds_views);
    printf("# views: %zu raw, %zu with downsampled copies\n", raw_views,
           ds_views);
    CHECK_INT(raw_views, 360);
    CHECK(ds_views <= raw_views / 4); /* 54 hourly buckets + 36 raw */
    CHECK_STR(raw, before);
    CHECK_STR(ds, before); /* bucket sums are exact */
    tsdb_close(db, NULL);
    db = open_db();
    char *again = merged_text_ds(db, true, &ds_views);
    CHECK_STR(again, before);
    tsdb_stats(db, &st);
    CHECK(st.downsampled_blocks >= 2);
    tsdb_close(db, NULL);
    free(before);
    free(raw);
    free(ds);
    free(again);
    labels_free(ls);
    remove_dir();
}

/* Sum of the cpu values of job "sm" whose stacks match `re` in `mode`. */
static int64_t matched_total(struct tsdb_querier *q, const char *re,
                             enum tsdb_stack_match mode)
{
    struct kb_regex *rx = NULL;
    struct kb_err err;
    if (kb_regex_compile(re, strlen(re), 0, &rx, &err) != KB_OK)
        return -1;
    struct tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "job", "sm", NULL);
    uint64_t *refs = NULL;
    size_t n = 0;
    tsdb_querier_select(q, &m, 1, &refs, &n, NULL);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t np;
        const struct tsdb_profile_view *v =
            tsdb_querier_profiles(q, refs[i], &np);
        for (size_t k = 0; k < np; k++) {
            const uint8_t *marks;
            size_t nm;
            tsdb_querier_stack_marks(q, v[k].source, rx, mode, &marks, &nm);
            for (size_t j = 0; j < v[k].n; j++)
                if (v[k].stacks[j] < nm && marks[v[k].stacks[j]])
                    total += v[k].values[j];
        }
    }
    free(refs);
    tsdb_matcher_free(&m);
    kb_regex_free(rx);
    return total;
}

/* __function__ (any frame) and __leaf__ marks over the stack tree, and the
 * function names of a stack. cpu_profile(1)'s stacks: main>a>b (twice,
 * 6e7), main>c (1e7), main (1e7). */
static void test_stack_matchers(void)
{
    fresh_dir();
    struct tsdb *db = open_db();
    struct kb_err err;
    struct tsdb_appender *a = tsdb_appender_begin(db);
    struct labels *ls = series("sm", CPU);
    struct pprof_profile *p = cpu_profile(1);
    CHECK(tsdb_append_profile(a, ls, 1000, 10000000000, p, 1, &err) == KB_OK);
    CHECK(tsdb_appender_commit(a, &err) == KB_OK);
    struct tsdb_querier *q = tsdb_querier_open(db, INT64_MIN, INT64_MAX);
    CHECK_INT(matched_total(q, "a", TSDB_STACK_ANY), 60000000);
    CHECK_INT(matched_total(q, "a", TSDB_STACK_LEAF), 0);
    CHECK_INT(matched_total(q, "b", TSDB_STACK_LEAF), 60000000);
    CHECK_INT(matched_total(q, "main", TSDB_STACK_ANY), 80000000);
    CHECK_INT(matched_total(q, "main", TSDB_STACK_LEAF), 10000000);
    CHECK_INT(matched_total(q, "[bc]", TSDB_STACK_LEAF), 70000000);
    CHECK_INT(matched_total(q, "ma", TSDB_STACK_ANY), 0); /* anchored */

    /* The names along main>a>b, leaf first. */
    uint64_t *refs = NULL;
    size_t n = 0;
    struct tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, "job", "sm", NULL);
    tsdb_querier_select(q, &m, 1, &refs, &n, NULL);
    CHECK_INT(n, 1);
    size_t np = 0;
    const struct tsdb_profile_view *v =
        n ? tsdb_querier_profiles(q, refs[0], &np) : NULL;
    bool seen = false;
    for (size_t j = 0; v && np && j < v[0].n; j++) {
        const char *names[4];
        size_t d = tsdb_querier_stack_functions(q, v[0].source, v[0].stacks[j],
                                                names, 4);
        if (d == 3) {
            CHECK_STR(names[0], "b");
            CHECK_STR(names[1], "a");
            CHECK_STR(names[2], "main");
            seen = true;
        }
        const char *one[1];
        CHECK_INT(tsdb_querier_stack_functions(q, v[0].source, v[0].stacks[j],
                                               one, 1),
                  d); /* the depth even when max is smaller */
    }
    CHECK(seen);
    free(refs);
    tsdb_matcher_free(&m);
    tsdb_querier_close(q);
    pprof_free(p);
    labels_free(ls);
    tsdb_close(db, NULL);
    remove_dir();
}

int main(void)
{
    RUN(test_append_commit_query_replay);
    RUN(test_merge_equals_pprof_merge);
    RUN(test_rollback_and_errors);
    RUN(test_limits);
    RUN(test_selectors);
    RUN(test_type_ids);
    RUN(test_compaction_blocks_merge_retention);
    RUN(test_downsampling);
    RUN(test_block_damage);
    RUN(test_symspace_repeated_empty_string);
    RUN(test_stack_matchers);
    return unit_done();
}
