/* bench/tsdb_timer.c: time the database's own work in one process, for
 * bench/tsdb: ingest as the server will do it, and a merge in a database
 * that is already open.
 *
 *     tsdb_timer ingest DBDIR LIST BATCH BLOCK_RANGE_MS COMPACT_EVERY_MS
 *
 * LIST has one line per profile, in ingest order: the series labels in
 * Prometheus text form, the path of a file, the offset and the length of
 * the profile's bytes in it, separated by tabs. Every file is read into
 * memory first (the server gets its bytes from the network), then, timed:
 * each profile is decoded (pprof_decode), each of its sample types is appended
 * to the series LABELS + __name__ = its profile type ID (as `kilnctl import`
 * names them) at the profile's time_nanos, and the batch is committed
 * (fsynced) after every BATCH files. Whenever the profiles' time has moved
 * COMPACT_EVERY_MS past the last compaction, and once at the end,
 * tsdb_compact runs; its time is measured apart. Opening and closing the
 * database are not timed. Prints one line of key=value pairs: files,
 * profiles (stored, one per sample type), samples (pprof samples decoded),
 * commits, ingest_wall, ingest_cpu, compact_wall, compact_cpu.
 *
 *     tsdb_timer merge DBDIR SELECTOR START_MS END_MS REPEAT OUT
 *
 * opens the database read-only (timed: open_wall, open_cpu), then REPEAT
 * times opens a querier over [START_MS, END_MS], selects SELECTOR's series
 * and merges them into a pprof encoded in memory (what `kilnctl tsdb dump
 * -o` does after opening); prints the best of those (merge_wall,
 * merge_cpu), the profiles merged, and writes the merge to OUT.
 *
 * Times are seconds; cpu is user + system of this process, which is
 * single-threaded. Built by bench/tsdb with cc against a build tree's
 * libraries; not part of the build, never run by make check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/labels.h"
#include "pprof/profile.h"
#include "tsdb/tsdb.h"

/* One profile to ingest: its series labels and its bytes, which point
 * into a loaded file. */
struct item {
    struct labels *labels;
    const uint8_t *data;
    size_t len;
};

/* The LIST: items, and the files they point into (each read once). */
struct corpus {
    struct item *items;
    size_t n, cap;
    uint8_t **files;
    size_t *file_lens;
    size_t n_files, cap_files;
    struct hmap *by_path; /* path -> file index + 1 */
};

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

static int slurp(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *d = malloc(cap);
    size_t r;
    while (d && (r = fread(d + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nd = realloc(d, cap *= 2);
            if (nd == NULL)
                free(d);
            d = nd;
        }
    }
    int bad = d == NULL || ferror(f);
    fclose(f);
    if (bad) {
        free(d);
        return -1;
    }
    *data = d;
    *len = n;
    return 0;
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

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        labels_free(c->items[i].labels);
    for (size_t i = 0; i < c->n_files; i++)
        free(c->files[i]);
    free(c->items);
    free(c->files);
    free(c->file_lens);
    hmap_free(c->by_path);
}

/* The file at `path`, read on first use. */
static int corpus_file(struct corpus *c, const char *path, const uint8_t **data,
                       size_t *len)
{
    bool found;
    uint64_t *slot = hmap_put(c->by_path, path, strlen(path), &found);
    if (!found) {
        c->files =
            kb_grow(c->files, &c->cap_files, c->n_files + 1, sizeof(*c->files));
        c->file_lens = realloc(c->file_lens, c->cap_files * sizeof(size_t));
        if (c->file_lens == NULL ||
            slurp(path, &c->files[c->n_files], &c->file_lens[c->n_files])) {
            fprintf(stderr, "tsdb_timer: %s: %s\n", path, strerror(errno));
            return -1;
        }
        *slot = ++c->n_files;
    }
    *data = c->files[*slot - 1];
    *len = c->file_lens[*slot - 1];
    return 0;
}

/* Read LIST (lines LABELS <tab> PATH <tab> OFFSET <tab> LENGTH: the
 * profile is bytes [OFFSET, OFFSET + LENGTH) of PATH) into `c`. */
static int read_list(const char *list, struct corpus *c)
{
    memset(c, 0, sizeof(*c));
    c->by_path = hmap_new(0);
    FILE *f = fopen(list, "r");
    if (f == NULL) {
        fprintf(stderr, "tsdb_timer: %s: %s\n", list, strerror(errno));
        return -1;
    }
    char line[8192];
    int rc = -1;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *field[4] = {line, NULL, NULL, NULL};
        for (int i = 1; i < 4; i++) {
            field[i] = field[i - 1] ? strchr(field[i - 1], '\t') : NULL;
            if (field[i])
                *field[i]++ = '\0';
        }
        int64_t off, len;
        if (field[3] == NULL || parse_i64(field[2], &off) ||
            parse_i64(field[3], &len) || off < 0 || len < 0) {
            fprintf(stderr, "tsdb_timer: %s: bad line\n", list);
            goto done;
        }
        struct item it;
        const uint8_t *data;
        size_t flen;
        if (corpus_file(c, field[1], &data, &flen) != 0)
            goto done;
        if ((uint64_t)off + (uint64_t)len > flen) {
            fprintf(stderr, "tsdb_timer: %s: bytes %lld+%lld beyond its end\n",
                    field[1], (long long)off, (long long)len);
            goto done;
        }
        struct kb_err err = {0};
        if (labels_parse(field[0], strlen(field[0]), &it.labels, &err) !=
            KB_OK) {
            fprintf(stderr, "tsdb_timer: %s: labels: %s\n", list, err.msg);
            goto done;
        }
        it.data = data + off;
        it.len = (size_t)len;
        c->items = kb_grow(c->items, &c->cap, c->n + 1, sizeof(*c->items));
        c->items[c->n++] = it;
    }
    rc = 0;
done:
    fclose(f);
    return rc;
}

static int ingest(int argc, char **argv)
{
    int64_t batch, range, every;
    if (argc != 6 || parse_i64(argv[3], &batch) || batch < 1 ||
        parse_i64(argv[4], &range) || range < 1 || parse_i64(argv[5], &every) ||
        every < 1) {
        fprintf(stderr, "usage: tsdb_timer ingest DBDIR LIST BATCH "
                        "BLOCK_RANGE_MS COMPACT_EVERY_MS\n");
        return 2;
    }
    struct corpus corpus;
    if (read_list(argv[2], &corpus) != 0) {
        corpus_free(&corpus);
        return 1;
    }
    struct item *items = corpus.items;
    long n = (long)corpus.n;
    struct tsdb_options o;
    tsdb_options_default(&o);
    o.block_range = range;
    struct tsdb *db = NULL;
    struct kb_err err = {0};
    if (tsdb_open(argv[1], &o, &db, &err) != KB_OK) {
        fprintf(stderr, "tsdb_timer: %s\n", err.msg);
        corpus_free(&corpus);
        return 1;
    }
    struct labels_builder *lb = labels_builder_new();
    struct buf name;
    buf_init(&name, 4096);
    uint64_t profiles = 0, samples = 0, commits = 0;
    double ingest_wall = 0, ingest_cpu = 0, compact_wall = 0, compact_cpu = 0;
    int64_t last_compact = INT64_MIN;
    struct tsdb_appender *a = NULL;
    int rc = 1;
    double w0 = wall_now(), c0 = cpu_now();
    for (long i = 0; i < n; i++) {
        struct pprof_profile *p = NULL;
        if (pprof_decode(items[i].data, items[i].len, NULL, &p, &err) !=
            KB_OK) {
            fprintf(stderr, "tsdb_timer: file %ld: %s\n", i, err.msg);
            goto done;
        }
        int64_t t = p->time_nanos / 1000000;
        if (a == NULL)
            a = tsdb_appender_begin(db);
        for (size_t k = 0; k < p->n_sample_types; k++) {
            struct labels *ls = NULL;
            buf_reset(&name);
            labels_builder_reset(lb, items[i].labels);
            if (tsdb_type_id(p, k, NULL, &name) != KB_OK ||
                labels_builder_set(lb, "__name__", buf_cstr(&name), &err) ||
                labels_builder_finish(lb, &ls, &err) ||
                tsdb_append_profile(a, ls, t, p->duration_nanos, p, k, &err)) {
                fprintf(stderr, "tsdb_timer: file %ld: %s\n", i, err.msg);
                labels_free(ls);
                pprof_free(p);
                goto done;
            }
            labels_free(ls);
            profiles++;
        }
        samples += p->n_samples;
        pprof_free(p);
        if ((i + 1) % batch == 0 || i + 1 == n) {
            struct tsdb_appender *c = a;
            a = NULL;
            commits++;
            if (tsdb_appender_commit(c, &err) != KB_OK) {
                fprintf(stderr, "tsdb_timer: commit: %s\n", err.msg);
                goto done;
            }
            if (last_compact == INT64_MIN)
                last_compact = t;
            if (t - last_compact >= every || i + 1 == n) {
                double w1 = wall_now(), c1 = cpu_now();
                ingest_wall += w1 - w0;
                ingest_cpu += c1 - c0;
                if (tsdb_compact(db, &err) != KB_OK) {
                    fprintf(stderr, "tsdb_timer: compact: %s\n", err.msg);
                    goto done;
                }
                last_compact = t;
                w0 = wall_now();
                c0 = cpu_now();
                compact_wall += w0 - w1;
                compact_cpu += c0 - c1;
            }
        }
    }
    printf("files=%ld profiles=%" PRIu64 " samples=%" PRIu64 " commits=%" PRIu64
           " ingest_wall=%.3f ingest_cpu=%.3f compact_wall=%.3f "
           "compact_cpu=%.3f\n",
           n, profiles, samples, commits, ingest_wall, ingest_cpu, compact_wall,
           compact_cpu);
    rc = 0;
done:
    tsdb_appender_rollback(a);
    buf_free(&name);
    labels_builder_free(lb);
    if (tsdb_close(db, &err) != KB_OK) {
        fprintf(stderr, "tsdb_timer: close: %s\n", err.msg);
        rc = 1;
    }
    corpus_free(&corpus);
    return rc;
}

static int merge(int argc, char **argv)
{
    int64_t start, end, repeat;
    if (argc != 7 || parse_i64(argv[3], &start) || parse_i64(argv[4], &end) ||
        parse_i64(argv[5], &repeat) || repeat < 1) {
        fprintf(stderr, "usage: tsdb_timer merge DBDIR SELECTOR START_MS "
                        "END_MS REPEAT OUT\n");
        return 2;
    }
    struct kb_err err = {0};
    struct tsdb_matcher *ms = NULL;
    size_t nm = 0;
    if (tsdb_matchers_parse(argv[2], &ms, &nm, &err) != KB_OK) {
        fprintf(stderr, "tsdb_timer: %s: %s\n", argv[2], err.msg);
        return 2;
    }
    struct tsdb_options o;
    tsdb_options_default(&o);
    o.read_only = true;
    struct tsdb *db = NULL;
    double w0 = wall_now(), c0 = cpu_now();
    if (tsdb_open(argv[1], &o, &db, &err) != KB_OK) {
        fprintf(stderr, "tsdb_timer: %s\n", err.msg);
        tsdb_matchers_free(ms, nm);
        return 1;
    }
    double open_wall = wall_now() - w0, open_cpu = cpu_now() - c0;
    double best_wall = 0, best_cpu = 0;
    size_t profiles = 0;
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    int rc = 1;
    for (int64_t r = 0; r < repeat; r++) {
        w0 = wall_now();
        c0 = cpu_now();
        struct tsdb_querier *q = tsdb_querier_open(db, start, end);
        uint64_t *refs = NULL;
        size_t n = 0;
        struct pprof_profile *p = NULL;
        enum kb_status st = tsdb_querier_select(q, ms, nm, &refs, &n, &err);
        if (st == KB_OK)
            st = tsdb_querier_merge(q, refs, n, &p, &err);
        if (st == KB_OK && p == NULL)
            st = kb_errf(&err, KB_ERR_INVALID, "no profiles match");
        buf_reset(&out);
        if (st == KB_OK)
            st = pprof_encode(p, &out, &err);
        double w = wall_now() - w0, c = cpu_now() - c0;
        profiles = 0;
        for (size_t i = 0; st == KB_OK && i < n; i++) {
            size_t np;
            tsdb_querier_profiles(q, refs[i], &np);
            profiles += np;
        }
        pprof_free(p);
        free(refs);
        tsdb_querier_close(q);
        if (st != KB_OK) {
            fprintf(stderr, "tsdb_timer: merge: %s\n", err.msg);
            goto done;
        }
        if (r == 0 || w < best_wall)
            best_wall = w;
        if (r == 0 || c < best_cpu)
            best_cpu = c;
    }
    FILE *f = fopen(argv[6], "wb");
    if (f == NULL || fwrite(out.data, 1, out.len, f) != out.len ||
        fclose(f) != 0) {
        fprintf(stderr, "tsdb_timer: %s: %s\n", argv[6], strerror(errno));
        goto done;
    }
    printf("open_wall=%.4f open_cpu=%.4f merge_wall=%.4f merge_cpu=%.4f "
           "profiles=%zu\n",
           open_wall, open_cpu, best_wall, best_cpu, profiles);
    rc = 0;
done:
    buf_free(&out);
    tsdb_close(db, NULL);
    tsdb_matchers_free(ms, nm);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ingest") == 0)
        return ingest(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "merge") == 0)
        return merge(argc - 1, argv + 1);
    fprintf(stderr, "usage: tsdb_timer ingest|merge ARGS...\n");
    return 2;
}
