/* Unit tests for tsdb/wal: round trips across segments, torn tails at every
 * offset, bit flips, oversized lengths, garbage files, truncation, repair
 * then reopen, a failed write, and kill -9 crashes of a writing child.
 *
 * Record i of a test carries type 1 + i % 255 and rec_len(i) bytes from a
 * generator seeded with i, so any record that comes back can be checked
 * against what was written. */
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "tests/unit/unit.h"

#define SEG_HDR 16
#define REC_HDR 9

/* ---- Records ------------------------------------------------------------ */

static void gen(uint8_t *p, uint64_t seed, size_t len)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static size_t rec_len(uint64_t i)
{
    return i % 17 == 0 ? 0 : (size_t)((i * 7919) % 1500);
}

static uint8_t rec_type(uint64_t i)
{
    return (uint8_t)(1 + i % 255);
}

/* Append record i (see the file comment). */
static enum kb_status append_rec(struct tsdb_wal *w, uint64_t i)
{
    size_t len = rec_len(i);
    uint8_t *p = kb_malloc(len + 1);
    gen(p, i, len);
    struct kb_err err;
    enum kb_status st = tsdb_wal_append(w, rec_type(i), p, len, &err);
    if (st != KB_OK)
        printf("# append %llu: %s\n", (unsigned long long)i, err.msg);
    free(p);
    return st;
}

/* Write records [from, to) to a WAL in `dir`, syncing every `every`, and
 * close it. */
static void write_recs(const char *dir, size_t segment_size, uint64_t from,
                       uint64_t to, int every)
{
    struct tsdb_wal_options o = {.segment_size = segment_size};
    struct tsdb_wal *w = NULL;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, &o, &w, &err), KB_OK);
    if (w == NULL)
        return;
    for (uint64_t i = from; i < to; i++) {
        CHECK_INT(append_rec(w, i), KB_OK);
        if (every && (i - from) % (uint64_t)every == 0)
            CHECK_INT(tsdb_wal_sync(w, &err), KB_OK);
    }
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
}

/* What replay handed back. */
struct coll {
    size_t n, cap;
    struct got {
        uint8_t type;
        size_t len;
        uint8_t *data;
    } * recs;
};

static enum kb_status coll_fn(void *ctx, uint8_t type, const uint8_t *data,
                              size_t len, struct kb_err *err)
{
    struct coll *c = ctx;
    c->recs = kb_grow(c->recs, &c->cap, c->n + 1, sizeof(*c->recs));
    struct got *g = &c->recs[c->n++];
    g->type = type;
    g->len = len;
    g->data = kb_malloc(len + 1);
    if (len)
        memcpy(g->data, data, len);
    return KB_OK;
}

static void coll_free(struct coll *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->recs[i].data);
    free(c->recs);
    memset(c, 0, sizeof(*c));
}

/* True if the collected records are exactly records [from, from + count). */
static bool coll_is(const struct coll *c, uint64_t from, size_t count)
{
    if (c->n != count) {
        printf("# replayed %zu records, expected %zu\n", c->n, count);
        return false;
    }
    for (size_t k = 0; k < count; k++) {
        uint64_t i = from + k;
        size_t len = rec_len(i);
        uint8_t *want = kb_malloc(len + 1);
        gen(want, i, len);
        const struct got *g = &c->recs[k];
        bool ok = g->type == rec_type(i) && g->len == len &&
                  memcmp(g->data, want, len) == 0;
        free(want);
        if (!ok) {
            printf("# record %zu is not record %llu\n", k,
                   (unsigned long long)i);
            return false;
        }
    }
    return true;
}

static enum kb_status replay_into(const char *dir, struct coll *c,
                                  struct tsdb_wal_replay_stats *stats)
{
    struct kb_err err;
    coll_free(c);
    enum kb_status st = tsdb_wal_replay(dir, coll_fn, c, stats, &err);
    if (st != KB_OK)
        printf("# replay: %s\n", err.msg);
    return st;
}

/* ---- Files -------------------------------------------------------------- */

static char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/kiln-wal-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(tmpl) == NULL) {
        printf("# mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
    return kb_strdup(tmpl);
}

static const char *path_in(const char *dir, const char *name)
{
    static char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static const char *seg_path(const char *dir, uint32_t num)
{
    char name[16];
    snprintf(name, sizeof(name), "%08u", num);
    return path_in(dir, name);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    *len = 0;
    long long n = file_size(path);
    int fd = open(path, O_RDONLY);
    if (n < 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint8_t *p = kb_malloc((size_t)n + 1);
    ssize_t k = read(fd, p, (size_t)n);
    close(fd);
    *len = k < 0 ? 0 : (size_t)k;
    return p;
}

static void write_all_file(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, p, len) == (ssize_t)len);
    close(fd);
}

/* Remove everything in `dir` (one level of subdirectories) and `dir`. */
static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int count_names(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (de->d_name[0] != '.' && l >= sl &&
            !strcmp(de->d_name + l - sl, suffix))
            n++;
    }
    closedir(d);
    return n;
}

/* The offsets of the records in segment bytes p[0..len). */
static size_t rec_offsets(const uint8_t *p, size_t len, size_t *offs,
                          size_t max)
{
    size_t n = 0, off = SEG_HDR;
    while (off + REC_HDR <= len && n < max) {
        uint32_t l = (uint32_t)p[off + 1] | (uint32_t)p[off + 2] << 8 |
                     (uint32_t)p[off + 3] << 16 | (uint32_t)p[off + 4] << 24;
        offs[n++] = off;
        off += REC_HDR + l;
    }
    return n;
}

/* A copy of a directory's regular files, to restore between damages. */
struct snap {
    int n;
    char names[64][256];
    uint8_t *data[64];
    size_t len[64];
};

static void snap_take(struct snap *s, const char *dir)
{
    memset(s, 0, sizeof(*s));
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL && s->n < 64) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", de->d_name);
        s->data[s->n] = read_all(path_in(dir, de->d_name), &s->len[s->n]);
        s->n++;
    }
    if (d)
        closedir(d);
}

static void snap_restore(const struct snap *s, const char *dir)
{
    rm_rf(dir);
    mkdir(dir, 0755);
    for (int i = 0; i < s->n; i++)
        write_all_file(path_in(dir, s->names[i]), s->data[i], s->len[i]);
}

static void snap_free(struct snap *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->data[i]);
}

/* Replay logs a warning line (base/log.h); tests that expect it capture
 * it. */
static FILE *capture;

static void capture_begin(void)
{
    capture = tmpfile();
    CHECK(capture != NULL);
    log_set_output(capture);
}

/* The captured text (free it). */
static char *capture_end(void)
{
    log_set_output(NULL);
    if (capture == NULL)
        return kb_strdup("");
    fflush(capture);
    long n = ftell(capture);
    char *p = kb_malloc(n > 0 ? (size_t)n + 1 : 1);
    rewind(capture);
    size_t k = n > 0 ? fread(p, 1, (size_t)n, capture) : 0;
    p[k] = '\0';
    fclose(capture);
    capture = NULL;
    return p;
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *s = text; (s = strstr(s, needle)) != NULL; s++)
        n++;
    return n;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_roundtrip_segments(void)
{
    char *dir = tmpdir();
    write_recs(dir, 4096, 0, 500, 7);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 0, 500));
    CHECK_INT(stats.records, 500);
    CHECK_INT(stats.repaired, 0);
    CHECK_INT(stats.bytes_cut, 0);
    CHECK(stats.segments > 20);
    /* Segments are consecutive, each within the size unless it holds a
     * single record. */
    for (uint32_t s = 1; s <= stats.segments; s++) {
        size_t len;
        uint8_t *p = read_all(seg_path(dir, s), &len);
        CHECK(p != NULL);
        size_t offs[512];
        size_t n = p ? rec_offsets(p, len, offs, 512) : 0;
        CHECK(len <= 4096 || n == 1);
        free(p);
    }
    CHECK(!exists(seg_path(dir, (uint32_t)stats.segments + 1)));
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

static void test_missing_and_empty_dir(void)
{
    char *dir = tmpdir();
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK_INT(c.n, 0);
    CHECK_INT(stats.segments, 0);
    rm_rf(dir);
    stats.records = 99;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK_INT(stats.records, 0);
    CHECK(!exists(dir)); /* replay creates nothing */
    /* open creates the directory and segment 1 */
    struct tsdb_wal *w;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, NULL, &w, &err), KB_OK);
    CHECK_INT(tsdb_wal_current_segment(w), 1);
    CHECK_INT(file_size(seg_path(dir, 1)), SEG_HDR);
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
    CHECK_INT(tsdb_wal_close(NULL, &err), KB_OK);
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK_INT(stats.segments, 1);
    CHECK_INT(stats.records, 0);
    CHECK_INT(stats.repaired, 0);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

static void test_append_limits(void)
{
    char *dir = tmpdir();
    struct tsdb_wal *w;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, NULL, &w, &err), KB_OK);
    uint8_t b = 1;
    CHECK_INT(tsdb_wal_append(w, 0, &b, 1, &err), KB_ERR_USAGE);
    CHECK(strstr(err.msg, "type 0") != NULL);
    CHECK_INT(tsdb_wal_append(w, 1, NULL, 3, &err), KB_ERR_USAGE);
    uint8_t *big = calloc(1, (size_t)TSDB_WAL_MAX_RECORD + 1);
    CHECK_INT(tsdb_wal_append(w, 1, big, (size_t)TSDB_WAL_MAX_RECORD + 1, &err),
              KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "exceeds the limit") != NULL);
    free(big);
    /* refusals leave the WAL usable */
    CHECK_INT(append_rec(w, 1), KB_OK);
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
    struct coll c = {0};
    CHECK_INT(replay_into(dir, &c, NULL), KB_OK);
    CHECK(coll_is(&c, 1, 1));
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* Records of size 0, 1, 1 MiB and the largest allowed, in a WAL with small
 * segments (so each large record makes a segment of its own). */
static void test_empty_and_large_records(void)
{
    char *dir = tmpdir();
    struct tsdb_wal_options o = {.segment_size = 64 << 10};
    struct tsdb_wal *w;
    struct kb_err err;
    size_t lens[] = {0, 1, 1 << 20, 0, TSDB_WAL_MAX_RECORD, 5, 0};
    size_t n = sizeof(lens) / sizeof(lens[0]);
    uint8_t *p = kb_malloc(TSDB_WAL_MAX_RECORD);
    CHECK_INT(tsdb_wal_open(dir, &o, &w, &err), KB_OK);
    for (size_t i = 0; i < n; i++) {
        gen(p, 1000 + i, lens[i]);
        CHECK_INT(tsdb_wal_append(w, (uint8_t)(i + 1), p, lens[i], &err),
                  KB_OK);
        if (i == 3)
            CHECK_INT(tsdb_wal_sync(w, &err), KB_OK);
    }
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK_INT(c.n, n);
    for (size_t i = 0; i < n && i < c.n; i++) {
        gen(p, 1000 + i, lens[i]);
        CHECK_INT(c.recs[i].type, i + 1);
        CHECK_INT(c.recs[i].len, lens[i]);
        CHECK(memcmp(c.recs[i].data, p, lens[i]) == 0);
    }
    CHECK_INT(stats.repaired, 0);
    CHECK(stats.segments >= 3);
    free(p);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* Past 1 MiB the buffer is written before sync; nothing is lost. */
static void test_buffer_written_early(void)
{
    char *dir = tmpdir();
    struct tsdb_wal *w;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, NULL, &w, &err), KB_OK);
    for (uint64_t i = 0; i < 3000; i++)
        CHECK_INT(append_rec(w, i), KB_OK);
    CHECK(file_size(seg_path(dir, 1)) > (1 << 20));
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
    struct coll c = {0};
    CHECK_INT(replay_into(dir, &c, NULL), KB_OK);
    CHECK(coll_is(&c, 0, 3000));
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* Cut the last segment at every byte offset of its last record: the records
 * before it come back, nothing else does, and the file is cut. */
static void test_torn_tail_every_offset(void)
{
    char *dir = tmpdir();
    write_recs(dir, 0, 0, 6, 1); /* record 5 is 595 bytes */
    size_t len;
    uint8_t *orig = read_all(seg_path(dir, 1), &len);
    size_t offs[8];
    CHECK_INT(rec_offsets(orig, len, offs, 8), 6);
    size_t last = offs[5];
    CHECK_INT(len - last, REC_HDR + rec_len(5));
    struct coll c = {0};
    int bad = 0;
    capture_begin();
    for (size_t cut = last; cut < len; cut++) {
        write_all_file(seg_path(dir, 1), orig, cut);
        struct tsdb_wal_replay_stats stats;
        if (replay_into(dir, &c, &stats) != KB_OK || !coll_is(&c, 0, 5) ||
            stats.repaired != (cut > last) || stats.bytes_cut != cut - last ||
            file_size(seg_path(dir, 1)) != (long long)last) {
            printf("# cut at %zu: repaired %d, bytes_cut %llu\n", cut,
                   stats.repaired, (unsigned long long)stats.bytes_cut);
            bad++;
        }
    }
    char *log = capture_end();
    CHECK_INT(bad, 0);
    CHECK_INT(count_lines(log, "level=warn component=wal"), len - last - 1);
    free(log);
    /* once cut, the log is clean */
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 0, 5));
    CHECK_INT(stats.repaired, 0);
    free(orig);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* Flip one bit at offset `at` of segment `seg`, replay, and check that
 * exactly `good` records come back. Returns the replay stats. */
static struct tsdb_wal_replay_stats flip_replay(const char *dir, uint32_t seg,
                                                size_t at, int bit, size_t good)
{
    size_t len;
    uint8_t *p = read_all(seg_path(dir, seg), &len);
    struct tsdb_wal_replay_stats stats = {0};
    CHECK(p != NULL && at < len);
    if (p == NULL || at >= len) {
        free(p);
        return stats;
    }
    p[at] ^= (uint8_t)(1u << bit);
    write_all_file(seg_path(dir, seg), p, len);
    free(p);
    struct coll c = {0};
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    if (!coll_is(&c, 0, good)) {
        printf("# flip of bit %d at %zu in segment %u\n", bit, at, seg);
        unit_case_failed = 1;
    }
    CHECK_INT(stats.repaired, 1);
    coll_free(&c);
    return stats;
}

static void test_bit_flips(void)
{
    char *dir = tmpdir();
    write_recs(dir, 8192, 0, 40, 5);
    CHECK(exists(seg_path(dir, 4)));
    int nseg = 0;
    while (exists(seg_path(dir, (uint32_t)nseg + 1)))
        nseg++;
    /* the records of segment 2 */
    size_t len1, len2;
    uint8_t *s1 = read_all(seg_path(dir, 1), &len1);
    uint8_t *s2 = read_all(seg_path(dir, 2), &len2);
    size_t o1[64], o2[64];
    size_t n1 = rec_offsets(s1, len1, o1, 64);
    size_t n2 = rec_offsets(s2, len2, o2, 64);
    CHECK(n2 >= 3);
    free(s1);
    free(s2);
    if (n2 < 3)
        goto out;
    struct snap snap;
    snap_take(&snap, dir);
    size_t target = o2[2], before = n1 + 2; /* record index n1 + 2 */
    size_t plen = rec_len(before);
    CHECK(plen > 10);
    struct {
        size_t at;
        int bit;
    } flips[] = {
        {target, 0},                      /* type */
        {target, 7},                      /* type */
        {target + 1, 0},                  /* length, low byte */
        {target + 2, 3},                  /* length */
        {target + 4, 2},                  /* length, high byte: too big */
        {target + 4, 7},                  /* length, high byte: huge */
        {target + 5, 0},                  /* crc */
        {target + 8, 6},                  /* crc */
        {target + REC_HDR, 0},            /* payload, first byte */
        {target + REC_HDR + plen / 2, 4}, /* payload, middle */
        {target + REC_HDR + plen - 1, 7}, /* payload, last byte */
    };
    capture_begin();
    for (size_t k = 0; k < sizeof(flips) / sizeof(flips[0]); k++) {
        snap_restore(&snap, dir);
        flip_replay(dir, 2, flips[k].at, flips[k].bit, before);
        CHECK_INT(file_size(seg_path(dir, 2)), target);
        CHECK(!exists(seg_path(dir, 3)));
        CHECK(exists(path_in(dir, "00000003.corrupt")));
        CHECK(exists(path_in(dir, "00000004.corrupt")));
    }
    /* the segment header: segment 2 is set aside whole */
    for (size_t at = 0; at < SEG_HDR; at += 5) {
        snap_restore(&snap, dir);
        struct tsdb_wal_replay_stats st = flip_replay(dir, 2, at, 1, n1);
        CHECK(!exists(seg_path(dir, 2)));
        CHECK(exists(path_in(dir, "00000002.corrupt")));
        CHECK_INT(st.segments, 1);
        CHECK(st.bytes_cut > len2);
    }
    /* the first record of segment 1 */
    snap_restore(&snap, dir);
    flip_replay(dir, 1, SEG_HDR + 1, 2, 0); /* record 0's length */
    CHECK_INT(file_size(seg_path(dir, 1)), SEG_HDR);
    CHECK_INT(count_names(dir, ".corrupt"), nseg - 1);
    char *log = capture_end();
    CHECK_INT(count_lines(log, "level=warn component=wal"), 11 + 4 + 1);
    CHECK(strstr(log, "reason=\"record crc mismatch\"") != NULL);
    CHECK(strstr(log, "reason=\"bad segment magic\"") != NULL);
    CHECK(strstr(log, "above the limit") != NULL);
    free(log);
    snap_free(&snap);
out:
    rm_rf(dir);
    free(dir);
}

static void set_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_oversized_length(void)
{
    char *dir = tmpdir();
    uint32_t bad_lens[] = {TSDB_WAL_MAX_RECORD + 1, UINT32_MAX};
    capture_begin();
    for (int k = 0; k < 2; k++) {
        write_recs(dir, 0, 0, 3, 1);
        size_t len, offs[4];
        uint8_t *p = read_all(seg_path(dir, 1), &len);
        CHECK_INT(rec_offsets(p, len, offs, 4), 3);
        set_u32(p + offs[1] + 1, bad_lens[k]);
        write_all_file(seg_path(dir, 1), p, len);
        struct coll c = {0};
        struct tsdb_wal_replay_stats stats;
        CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
        CHECK(coll_is(&c, 0, 1));
        CHECK_INT(stats.repaired, 1);
        CHECK_INT(stats.bytes_cut, len - offs[1]);
        CHECK_INT(file_size(seg_path(dir, 1)), offs[1]);
        free(p);
        coll_free(&c);
        rm_rf(dir);
    }
    char *log = capture_end();
    CHECK_INT(count_lines(log, "above the limit of 67108864"), 2);
    free(log);
    free(dir);
}

static void test_garbage_files(void)
{
    char *dir = tmpdir();
    write_recs(dir, 2048, 0, 20, 3);
    CHECK(exists(seg_path(dir, 2)));
    const char *junk[] = {"foo",          "0000001",          "000000012",
                          "00000099.tmp", "00000009.corrupt", "00000000",
                          "0000000a",     "-0000001",         "00000100x"};
    int nseg = 0;
    while (exists(seg_path(dir, (uint32_t)nseg + 1)))
        nseg++;
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        write_all_file(path_in(dir, junk[i]), "garbage", 7);
    CHECK_INT(mkdir(path_in(dir, "00000500"), 0755), 0);
    CHECK_INT(symlink("00000001", path_in(dir, "00000400")), 0);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 0, 20));
    CHECK_INT(stats.repaired, 0);
    CHECK_INT(stats.segments, nseg);
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        CHECK(exists(path_in(dir, junk[i])));
    /* the next segment follows the last real one */
    struct tsdb_wal *w;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, NULL, &w, &err), KB_OK);
    CHECK_INT(tsdb_wal_current_segment(w), nseg + 1);
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

static void test_cut_and_truncate(void)
{
    char *dir = tmpdir();
    struct tsdb_wal *w;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, NULL, &w, &err), KB_OK);
    for (uint64_t i = 0; i < 12; i++) {
        CHECK_INT(append_rec(w, i), KB_OK);
        if (i % 3 == 2)
            CHECK_INT(tsdb_wal_cut(w, &err), KB_OK);
    }
    CHECK_INT(tsdb_wal_current_segment(w), 5);
    CHECK_INT(tsdb_wal_truncate(w, 1, &err), KB_OK);
    CHECK(exists(seg_path(dir, 1)));
    CHECK_INT(tsdb_wal_truncate(w, 6, &err), KB_ERR_USAGE);
    CHECK_INT(tsdb_wal_truncate(w, 3, &err), KB_OK);
    CHECK(!exists(seg_path(dir, 1)));
    CHECK(!exists(seg_path(dir, 2)));
    CHECK(exists(seg_path(dir, 3)));
    CHECK_INT(append_rec(w, 12), KB_OK);
    CHECK_INT(tsdb_wal_sync(w, &err), KB_OK);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 6, 7));
    CHECK_INT(stats.segments, 3);
    CHECK_INT(tsdb_wal_truncate(w, tsdb_wal_current_segment(w), &err), KB_OK);
    CHECK_INT(tsdb_wal_close(w, &err), KB_OK);
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 12, 1));
    CHECK_INT(stats.segments, 1);
    CHECK_INT(stats.repaired, 0);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* A missing segment number ends the log: what follows is set aside. */
static void test_segment_gap(void)
{
    char *dir = tmpdir();
    write_recs(dir, 2048, 0, 30, 0);
    CHECK(exists(seg_path(dir, 4)));
    size_t len;
    uint8_t *p = read_all(seg_path(dir, 1), &len);
    size_t offs[64];
    size_t n1 = rec_offsets(p, len, offs, 64);
    free(p);
    CHECK_INT(unlink(seg_path(dir, 2)), 0);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    capture_begin();
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    char *log = capture_end();
    CHECK(coll_is(&c, 0, n1));
    CHECK_INT(stats.repaired, 1);
    CHECK(!exists(seg_path(dir, 3)));
    CHECK(exists(path_in(dir, "00000003.corrupt")));
    CHECK(strstr(log, "reason=\"segment 00000002 missing\"") != NULL);
    free(log);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* Tear the tail, replay (repair), append more, replay: old then new. Then
 * damage the middle so that a segment is set aside twice. */
static void test_reopen_after_repair(void)
{
    char *dir = tmpdir();
    write_recs(dir, 2048, 0, 20, 4);
    uint32_t last = 0;
    while (exists(seg_path(dir, last + 1)))
        last++;
    CHECK(last >= 3);
    size_t len, offs[64];
    uint8_t *p = read_all(seg_path(dir, last), &len);
    size_t n = rec_offsets(p, len, offs, 64);
    CHECK(n >= 1);
    write_all_file(seg_path(dir, last), p, len - 1); /* torn last record */
    free(p);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    capture_begin();
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 0, 19));
    CHECK_INT(stats.repaired, 1);
    /* the record lost was record 19: write 19.. again after it */
    write_recs(dir, 2048, 19, 40, 4);
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    CHECK(coll_is(&c, 0, 40));
    CHECK_INT(stats.repaired, 0);
    /* segment 2 loses its header: 3.. go aside, 3 is written again, then
     * goes aside again as 00000003.corrupt.1 */
    for (int round = 0; round < 2; round++) {
        p = read_all(seg_path(dir, 2), &len);
        CHECK(p != NULL);
        if (p == NULL)
            break;
        p[0] ^= 0xff;
        write_all_file(seg_path(dir, 2), p, len);
        free(p);
        p = read_all(seg_path(dir, 1), &len);
        n = rec_offsets(p, len, offs, 64);
        free(p);
        CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
        CHECK(coll_is(&c, 0, n));
        CHECK_INT(stats.repaired, 1);
        write_recs(dir, 2048, n, n + 30, 4);
        CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
        CHECK(coll_is(&c, 0, n + 30));
    }
    char *log = capture_end();
    free(log);
    CHECK(exists(path_in(dir, "00000002.corrupt")));
    CHECK(exists(path_in(dir, "00000002.corrupt.1")));
    CHECK(exists(path_in(dir, "00000003.corrupt")));
    CHECK(exists(path_in(dir, "00000003.corrupt.1")));
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* Read-only replay: the same records, the damage reported, nothing
 * changed; then a normal replay repairs. */
static void test_replay_readonly(void)
{
    char *dir = tmpdir();
    write_recs(dir, 2048, 0, 30, 4);
    CHECK(exists(seg_path(dir, 3)));
    size_t len, offs[64];
    uint8_t *p = read_all(seg_path(dir, 2), &len);
    size_t n2 = rec_offsets(p, len, offs, 64);
    CHECK(n2 >= 2);
    p[offs[1] + REC_HDR] ^= 1; /* second record of segment 2 */
    write_all_file(seg_path(dir, 2), p, len);
    free(p);
    p = read_all(seg_path(dir, 1), &len);
    size_t n1 = rec_offsets(p, len, offs, 64);
    free(p);
    struct snap before, after;
    snap_take(&before, dir);
    struct coll c = {0};
    struct kb_err err;
    struct tsdb_wal_replay_stats stats;
    capture_begin();
    CHECK_INT(tsdb_wal_replay_readonly(dir, coll_fn, &c, &stats, &err), KB_OK);
    char *log = capture_end();
    CHECK(coll_is(&c, 0, n1 + 1));
    CHECK_INT(stats.damaged, 1);
    CHECK_INT(stats.repaired, 0);
    CHECK_INT(stats.bytes_cut, 0);
    CHECK(strstr(log, "read-only") != NULL);
    CHECK(strstr(log, "segment=00000002") != NULL);
    free(log);
    snap_take(&after, dir);
    CHECK_INT(after.n, before.n);
    for (int i = 0; i < before.n && i < after.n; i++) {
        int j = 0;
        while (j < after.n && strcmp(after.names[j], before.names[i]))
            j++;
        CHECK(j < after.n && after.len[j] == before.len[i] &&
              memcmp(after.data[j], before.data[i], before.len[i]) == 0);
    }
    snap_free(&after);
    snap_free(&before);
    capture_begin();
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    free(capture_end());
    CHECK(coll_is(&c, 0, n1 + 1));
    CHECK_INT(stats.damaged, 1);
    CHECK_INT(stats.repaired, 1);
    coll_free(&c);
    CHECK_INT(tsdb_wal_replay_readonly(dir, coll_fn, &c, &stats, &err), KB_OK);
    CHECK(coll_is(&c, 0, n1 + 1));
    CHECK_INT(stats.damaged, 0);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

static enum kb_status fail_at_3(void *ctx, uint8_t type, const uint8_t *data,
                                size_t len, struct kb_err *err)
{
    int *n = ctx;
    if (++*n == 3)
        return kb_errf(err, KB_ERR_INVALID, "bad series record");
    return KB_OK;
}

static void test_callback_error(void)
{
    char *dir = tmpdir();
    write_recs(dir, 0, 0, 5, 1);
    int n = 0;
    struct kb_err err;
    struct tsdb_wal_replay_stats stats;
    CHECK_INT(tsdb_wal_replay(dir, fail_at_3, &n, &stats, &err),
              KB_ERR_INVALID);
    CHECK_INT(n, 3);
    CHECK_INT(stats.records, 2);
    CHECK_INT(stats.repaired, 0);
    CHECK(strstr(err.msg, "segment 00000001 offset") != NULL);
    CHECK(strstr(err.msg, ": bad series record") != NULL);
    /* fn may be NULL: check and repair only */
    CHECK_INT(tsdb_wal_replay(dir, NULL, NULL, &stats, &err), KB_OK);
    CHECK_INT(stats.records, 5);
    rm_rf(dir);
    free(dir);
}

/* A write that fails (the file size limit here) makes the WAL fail from then
 * on; replay cuts the partial record and keeps what was synced. */
static void test_write_failure_is_sticky(void)
{
    char *dir = tmpdir();
    struct tsdb_wal *w;
    struct kb_err err;
    CHECK_INT(tsdb_wal_open(dir, NULL, &w, &err), KB_OK);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_INT(append_rec(w, i), KB_OK);
    CHECK_INT(tsdb_wal_sync(w, &err), KB_OK);
    long long size = file_size(seg_path(dir, 1));
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 100;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    CHECK_INT(append_rec(w, 4), KB_OK); /* 185 bytes: past the limit */
    CHECK_INT(tsdb_wal_sync(w, &err), KB_ERR_IO);
    CHECK(strstr(err.msg, "write") != NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);
    char first[KB_ERR_MSG_MAX];
    snprintf(first, sizeof(first), "%s", err.msg);
    CHECK_INT(append_rec(w, 5) == KB_ERR_IO, 1);
    CHECK_INT(tsdb_wal_sync(w, &err), KB_ERR_IO);
    CHECK_STR(err.msg, first);
    CHECK_INT(tsdb_wal_cut(w, &err), KB_ERR_IO);
    CHECK_INT(tsdb_wal_close(w, &err), KB_ERR_IO);
    CHECK_INT(file_size(seg_path(dir, 1)), size + 100);
    struct coll c = {0};
    struct tsdb_wal_replay_stats stats;
    capture_begin();
    CHECK_INT(replay_into(dir, &c, &stats), KB_OK);
    free(capture_end());
    CHECK(coll_is(&c, 0, 4));
    CHECK_INT(stats.repaired, 1);
    CHECK_INT(stats.bytes_cut, 100);
    coll_free(&c);
    rm_rf(dir);
    free(dir);
}

/* ---- kill -9 ------------------------------------------------------------ */

/* Crash records: record `seq` is rec_len-like but at least 8 bytes, and its
 * first 8 bytes are seq; some are large so that kills land inside write. */
static size_t crash_len(uint64_t seq)
{
    return seq % 13 == 0 ? 200000 : 8 + (size_t)((seq * 7919) % 3000);
}

static void crash_fill(uint8_t *p, uint64_t seq)
{
    size_t len = crash_len(seq);
    gen(p, seq, len);
    memcpy(p, &seq, 8);
}

static void crash_child(const char *dir, uint64_t seq, int wfd)
{
    struct tsdb_wal_options o = {.segment_size = 256 << 10};
    struct tsdb_wal *w;
    uint8_t *p = malloc(200000);
    if (p == NULL || tsdb_wal_open(dir, &o, &w, NULL) != KB_OK)
        _exit(2);
    for (;; seq++) {
        crash_fill(p, seq);
        if (tsdb_wal_append(w, rec_type(seq), p, crash_len(seq), NULL) ||
            tsdb_wal_sync(w, NULL))
            _exit(3);
        if (write(wfd, &seq, 8) != 8)
            _exit(4);
    }
}

struct crash_check {
    uint64_t next; /* the seq the next record must have */
    int bad;
    uint8_t *want;
};

static enum kb_status crash_fn(void *ctx, uint8_t type, const uint8_t *data,
                               size_t len, struct kb_err *err)
{
    struct crash_check *cc = ctx;
    uint64_t seq = cc->next++;
    crash_fill(cc->want, seq);
    if (type != rec_type(seq) || len != crash_len(seq) ||
        memcmp(data, cc->want, len) != 0) {
        if (cc->bad++ == 0)
            printf("# record %llu is wrong\n", (unsigned long long)seq);
    }
    return KB_OK;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read reported seqs until `deadline` (or EOF when 0), keeping the last.
 * `carry` holds a partial seq between reads. */
struct reports {
    bool any;
    uint64_t last;
    uint8_t carry[8];
    size_t ncarry;
};

static void drain(int fd, uint64_t deadline, struct reports *r)
{
    for (;;) {
        uint64_t now = now_ms();
        if (deadline && now >= deadline)
            return;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, deadline ? (int)(deadline - now) : 1000) <= 0)
            return;
        uint8_t b[4096];
        ssize_t k = read(fd, b, sizeof(b));
        if (k <= 0)
            return;
        for (ssize_t i = 0; i < k; i++) {
            r->carry[r->ncarry++] = b[i];
            if (r->ncarry == 8) {
                memcpy(&r->last, r->carry, 8);
                r->any = true;
                r->ncarry = 0;
            }
        }
    }
}

static void test_crash_kill9(void)
{
    char *dir = tmpdir();
    struct crash_check cc = {.want = kb_malloc(200000)};
    uint64_t rnd = 0x2545F4914F6CDD1Dull ^ (uint64_t)time(NULL);
    int repaired = 0, reported = 0;
    capture_begin();
    for (int iter = 0; iter < 10; iter++) {
        int fds[2];
        CHECK_INT(pipe(fds), 0);
        uint64_t start = cc.next;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, start, fds[1]);
        }
        close(fds[1]);
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        struct reports rep = {.any = false};
        drain(fds[0], now_ms() + 20 + rnd % 200, &rep);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        drain(fds[0], 0, &rep);
        close(fds[0]);
        struct kb_err err;
        struct tsdb_wal_replay_stats stats;
        cc.next = 0;
        CHECK_INT(tsdb_wal_replay(dir, crash_fn, &cc, &stats, &err), KB_OK);
        CHECK_INT(cc.bad, 0);
        CHECK(cc.next >= start);
        if (rep.any) {
            reported++;
            if (cc.next <= rep.last)
                printf("# iteration %d: synced %llu, replayed %llu\n", iter,
                       (unsigned long long)rep.last,
                       (unsigned long long)cc.next);
            CHECK(cc.next > rep.last); /* every synced record is there */
        }
        repaired += stats.repaired;
    }
    free(capture_end());
    printf("# kill -9: %d of 10 runs reported syncs, %d repaired, %llu "
           "records\n",
           reported, repaired, (unsigned long long)cc.next);
    CHECK(reported > 0);
    free(cc.want);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(test_roundtrip_segments);
    RUN(test_missing_and_empty_dir);
    RUN(test_append_limits);
    RUN(test_empty_and_large_records);
    RUN(test_buffer_written_early);
    RUN(test_torn_tail_every_offset);
    RUN(test_bit_flips);
    RUN(test_oversized_length);
    RUN(test_garbage_files);
    RUN(test_cut_and_truncate);
    RUN(test_segment_gap);
    RUN(test_reopen_after_repair);
    RUN(test_replay_readonly);
    RUN(test_callback_error);
    RUN(test_write_failure_is_sticky);
    RUN(test_crash_kill9);
    return unit_done();
}
