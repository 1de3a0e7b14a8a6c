/* bench/query_load.c: build bench/query's database from real CPU profiles.
 *
 *     query_load DBDIR T0_MS STEP_MS COUNT SERIES POOL MERGE SEED
 *                RAWDIR RAWCOUNT IN...
 *
 * What. Stores COUNT rounds of SERIES series of CPU profiles, round k at
 * time T0_MS + k * STEP_MS, into the database DBDIR (tsdb_open/appender/
 * tsdb_compact, as the server stores scrapes), and writes the last RAWCOUNT
 * profiles of series 0 as pprof files RAWDIR/%06d.pb.gz (round number), so
 * that go tool pprof can merge exactly what the database holds for them.
 *
 * Design. Importing 600,000 files one by one (kilnctl import) spends its
 * time creating, reading and decoding files; this program decodes the real
 * 1 s CPU profiles IN... once, builds a pool of POOL 10 s profiles, each
 * the merge (pprof_merger, as go tool pprof merges) of MERGE distinct
 * inputs drawn at random, and then appends, for every round and series, a
 * pool profile drawn at random (SEED seeds the draws) with its time set.
 * Nothing is invented but the times: every profile stored is a merge of
 * real ones. Every sample type of a profile goes to its own series, named
 * {__name__=<profile type ID>, job="goapp", instance="i<series>"} as
 * `kilnctl import` names them. One commit (fsync) per 30 rounds; tsdb_compact
 * whenever the data's time has moved 6 h, and at the end.
 *
 * Prints one line of key=value pairs: files (pprof profiles appended),
 * profiles (stored, one per sample type), raw (files written), pool,
 * inputs, wall and cpu (seconds, compaction included).
 *
 * Invariants: inputs must be CPU profiles with the same sample types (the
 * series names are taken from the first); RAWCOUNT <= COUNT.
 *
 * Ownership: the pool and the inputs are owned here and freed at the end.
 * Built by bench/query with cc against a build tree's libraries; not part
 * of the build, never run by make check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/buf.h"
#include "base/labels.h"
#include "pprof/profile.h"
#include "tsdb/tsdb.h"

enum {
    COMMIT_ROUNDS = 30,
    MAX_TYPES = 8,
};

static const int64_t compact_every_ms = 6 * 3600 * 1000;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *v = x;
    return 0;
}

/* splitmix64, seeded, so that runs are reproducible. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

/* The merge of `k` distinct profiles of in[0..n) drawn at random; `order`
 * is scratch of n indexes. */
static struct pprof_profile *draw_merge(struct pprof_profile **in, size_t n,
                                        size_t *order, size_t k,
                                        struct kb_err *err)
{
    for (size_t i = 0; i < k; i++) {
        size_t j = i + rng_below(n - i), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct pprof_merger *m = pprof_merger_new();
    for (size_t i = 0; i < k; i++) {
        if (pprof_merger_add(m, in[order[i]], err) != KB_OK) {
            pprof_merger_free(m);
            return NULL;
        }
    }
    return pprof_merger_finish(m);
}

/* The series labels of sample type `t` of `p` for series `j`. */
static int series_labels(const struct pprof_profile *p, size_t t, int64_t j,
                         struct labels **out, struct kb_err *err)
{
    struct buf name;
    buf_init(&name, 4096);
    int rc = -1;
    if (tsdb_type_id(p, t, NULL, &name) != KB_OK) {
        kb_errf(err, KB_ERR_INVALID, "sample type %zu has no profile type ID",
                t);
        goto done;
    }
    char s[8192];
    int n = snprintf(s, sizeof(s),
                     "{__name__=\"%s\",job=\"goapp\","
                     "instance=\"i%" PRId64 "\"}",
                     buf_cstr(&name), j);
    if (n < 0 || (size_t)n >= sizeof(s)) {
        kb_errf(err, KB_ERR_INVALID, "series name too long");
        goto done;
    }
    if (labels_parse(s, (size_t)n, out, err) != KB_OK)
        goto done;
    rc = 0;
done:
    buf_free(&name);
    return rc;
}

int main(int argc, char **argv)
{
    int64_t t0, step, count, nseries, npool, merge, seed, rawcount;
    if (argc < 12 || parse_i64(argv[2], &t0) || parse_i64(argv[3], &step) ||
        step < 1 || parse_i64(argv[4], &count) || count < 1 ||
        parse_i64(argv[5], &nseries) || nseries < 1 || nseries > 1000 ||
        parse_i64(argv[6], &npool) || npool < 1 || parse_i64(argv[7], &merge) ||
        merge < 1 || parse_i64(argv[8], &seed) ||
        parse_i64(argv[10], &rawcount) || rawcount < 0 || rawcount > count) {
        fprintf(stderr, "usage: query_load DBDIR T0_MS STEP_MS COUNT SERIES "
                        "POOL MERGE SEED RAWDIR RAWCOUNT IN...\n");
        return 2;
    }
    const char *rawdir = argv[9];
    char **inpaths = argv + 11;
    size_t nin = (size_t)(argc - 11);
    struct kb_err err = {0};
    struct pprof_profile **in = calloc(nin, sizeof(*in));
    struct pprof_profile **pool = calloc((size_t)npool, sizeof(*pool));
    size_t *order = calloc(nin, sizeof(*order));
    size_t n_labels = (size_t)nseries * MAX_TYPES;
    struct labels **ls = calloc(n_labels, sizeof(*ls));
    struct tsdb *db = NULL;
    struct tsdb_appender *a = NULL;
    size_t ntypes = 0;
    int rc = 1;
    rng_state = (uint64_t)seed;
    if (!in || !pool || !order || !ls) {
        fprintf(stderr, "query_load: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < nin; i++) {
        if (pprof_read_file(inpaths[i], NULL, &in[i], &err) != KB_OK)
            goto fail;
        order[i] = i;
    }
    if ((size_t)merge > nin) {
        fprintf(stderr, "query_load: MERGE %" PRId64 " > %zu inputs\n", merge,
                nin);
        goto done;
    }
    for (int64_t i = 0; i < npool; i++) {
        pool[i] = draw_merge(in, nin, order, (size_t)merge, &err);
        if (pool[i] == NULL)
            goto fail;
        if (pool[i]->n_sample_types != pool[0]->n_sample_types) {
            fprintf(stderr, "query_load: inputs differ in sample types\n");
            goto done;
        }
    }
    ntypes = pool[0]->n_sample_types;
    if (ntypes > MAX_TYPES) {
        fprintf(stderr, "query_load: more than %d sample types\n", MAX_TYPES);
        goto done;
    }
    for (int64_t j = 0; j < nseries; j++)
        for (size_t t = 0; t < ntypes; t++)
            if (series_labels(pool[0], t, j, &ls[j * MAX_TYPES + t], &err))
                goto fail;

    struct tsdb_options o;
    tsdb_options_default(&o);
    if (tsdb_open(argv[1], &o, &db, &err) != KB_OK)
        goto fail;
    double w0 = wall_now(), c0 = cpu_now();
    uint64_t files = 0, profiles = 0, raw = 0;
    int64_t last_compact = t0;
    for (int64_t k = 0; k < count; k++) {
        int64_t t = t0 + k * step;
        if (a == NULL)
            a = tsdb_appender_begin(db);
        for (int64_t j = 0; j < nseries; j++) {
            struct pprof_profile *p = pool[rng_below((size_t)npool)];
            for (size_t ty = 0; ty < ntypes; ty++) {
                if (tsdb_append_profile(a, ls[j * MAX_TYPES + ty], t,
                                        p->duration_nanos, p, ty,
                                        &err) != KB_OK)
                    goto fail;
                profiles++;
            }
            files++;
            if (j == 0 && k >= count - rawcount) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%06" PRId64 ".pb.gz", rawdir,
                         k);
                p->time_nanos = t * 1000000;
                if (pprof_write_file(p, path, &err) != KB_OK)
                    goto fail;
                raw++;
            }
        }
        if ((k + 1) % COMMIT_ROUNDS == 0 || k + 1 == count) {
            struct tsdb_appender *c = a;
            a = NULL;
            if (tsdb_appender_commit(c, &err) != KB_OK)
                goto fail;
            if (t - last_compact >= compact_every_ms || k + 1 == count) {
                if (tsdb_compact(db, &err) != KB_OK)
                    goto fail;
                last_compact = t;
            }
        }
    }
    printf("files=%" PRIu64 " profiles=%" PRIu64 " raw=%" PRIu64
           " pool=%" PRId64 " inputs=%zu wall=%.1f cpu=%.1f\n",
           files, profiles, raw, npool, nin, wall_now() - w0, cpu_now() - c0);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "query_load: %s\n", err.msg);
done:
    tsdb_appender_rollback(a);
    if (db && tsdb_close(db, &err) != KB_OK) {
        fprintf(stderr, "query_load: close: %s\n", err.msg);
        rc = 1;
    }
    for (size_t i = 0; ls && i < n_labels; i++)
        labels_free(ls[i]);
    for (size_t i = 0; in && i < nin; i++)
        pprof_free(in[i]);
    for (int64_t i = 0; pool && i < npool; i++)
        pprof_free(pool[i]);
    free(ls);
    free(in);
    free(pool);
    free(order);
    return rc;
}
