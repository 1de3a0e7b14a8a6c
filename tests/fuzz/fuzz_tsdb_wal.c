/* tests/fuzz/fuzz_tsdb_wal.c: libFuzzer target for the WAL reader
 * (tsdb_wal_replay), which reads files a crash or a bad disk may have
 * damaged in any way.
 *
 * The input becomes one or two segment files in a new temporary directory
 * (on /dev/shm when it exists, so that the repair's fsyncs cost nothing):
 *
 *   byte 0        bit 0: segment 1 starts with a valid header (else the
 *                 input is the whole file); bit 1: there is a segment 2,
 *                 which always starts with a valid header
 *   bytes 1..2    with bit 1: where the rest is split between the two
 *                 segments (u16 LE, modulo the rest's length + 1)
 *   the rest      the segments' bytes
 *
 * The target checks replay against an independent reading of the format
 * (docs/format/wal.md): replay must not crash, must return KB_OK, must hand
 * back exactly the records of the longest good prefix (type, length and
 * bytes, so every record it returns has a correct CRC), must report damage
 * exactly when there is some, must leave the files cut where the good prefix
 * ends (later segments set aside), and a second replay must find a clean log
 * with the same records.
 *
 * Sources: this file, tsdb/wal.c and the base/ sources (base/log.c and
 * what it uses); link zlib and pthread.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/log.h"
#include "tsdb/wal.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define SEG_HDR 16
#define REC_HDR 9

static const uint8_t header[SEG_HDR] = {'K', 'I', 'L', 'N', 'W', 'A', 'L', '1',
                                        1,   0,   0,   0,   0,   0,   0,   0};

static char dir[4096];

static void rm_entries(void)
{
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* A fresh directory per input (removed at the end of the input; a crash
 * leaves it behind as evidence). */
static void make_dir(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/kiln-fuzz-wal-XXXXXX", base);
    REQUIRE(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
    rm_entries();
    REQUIRE(rmdir(dir) == 0);
}

static const char *path(const char *name)
{
    static char p[4200];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static void write_seg(const char *name, bool with_header, const uint8_t *p,
                      size_t n)
{
    int fd = open(path(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    if (with_header)
        REQUIRE(write(fd, header, SEG_HDR) == SEG_HDR);
    REQUIRE(n == 0 || write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static long long size_of(const char *name)
{
    struct stat sb;
    return stat(path(name), &sb) == 0 ? (long long)sb.st_size : -1;
}

/* ---- The reference reader ------------------------------------------------ */

struct rec {
    uint8_t type;
    uint32_t len;
    const uint8_t *data;
};

struct expect {
    struct rec *recs;
    size_t n, cap;
    size_t next; /* the record the callback expects next */
};

static uint32_t u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Read segment bytes p[0..n) as docs/format/wal.md says, appending its good
 * records to `e`. Returns the length of the good prefix (0 when the header
 * is bad) and sets *damaged when it is not the whole file. */
static size_t ref_read(const uint8_t *p, size_t n, struct expect *e,
                       bool *damaged)
{
    *damaged = true;
    if (n < SEG_HDR || memcmp(p, header, SEG_HDR) != 0)
        return 0;
    size_t off = SEG_HDR;
    while (off < n) {
        if (n - off < REC_HDR)
            return off;
        uint8_t type = p[off];
        uint32_t len = u32le(p + off + 1);
        if (type == 0 || len > TSDB_WAL_MAX_RECORD || len > n - off - REC_HDR)
            return off;
        uLong crc = crc32(0L, Z_NULL, 0);
        crc = crc32(crc, p + off, 5);
        crc = crc32(crc, p + off + REC_HDR, len);
        if ((uint32_t)crc != u32le(p + off + 5))
            return off;
        if (e->n == e->cap) {
            e->cap = e->cap ? 2 * e->cap : 16;
            e->recs = realloc(e->recs, e->cap * sizeof(*e->recs));
            REQUIRE(e->recs != NULL);
        }
        e->recs[e->n++] = (struct rec){type, len, p + off + REC_HDR};
        off += REC_HDR + len;
    }
    *damaged = false;
    return off;
}

static enum kb_status check_rec(void *ctx, uint8_t type, const uint8_t *data,
                                size_t len, struct kb_err *err)
{
    struct expect *e = ctx;
    (void)err;
    REQUIRE(e->next < e->n);
    const struct rec *r = &e->recs[e->next++];
    REQUIRE(type != 0 && type == r->type);
    REQUIRE(len == r->len);
    REQUIRE(len == 0 || memcmp(data, r->data, len) == 0);
    return KB_OK;
}

static enum kb_status replay(struct expect *e, bool read_only,
                             struct tsdb_wal_replay_stats *stats,
                             struct kb_err *err)
{
    e->next = 0;
    if (read_only)
        return tsdb_wal_replay_readonly(dir, check_rec, e, stats, err);
    return tsdb_wal_replay(dir, check_rec, e, stats, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    log_set_level(LOG_LEVEL_ERROR); /* not a warning per damaged input */
    make_dir();
    bool hdr1 = data[0] & 1, two = (data[0] & 2) && size >= 3;
    size_t split = 0;
    const uint8_t *rest = data + (two ? 3 : 1);
    size_t nrest = size - (two ? 3 : 1);
    if (two)
        split = (size_t)(data[1] | data[2] << 8) % (nrest + 1);
    else
        split = nrest;

    /* The segments' bytes, as the reference reader sees them. */
    size_t n1 = (hdr1 ? SEG_HDR : 0) + split;
    uint8_t *s1 = malloc(n1 + 1);
    REQUIRE(s1 != NULL);
    if (hdr1)
        memcpy(s1, header, SEG_HDR);
    if (split)
        memcpy(s1 + (hdr1 ? SEG_HDR : 0), rest, split);
    size_t n2 = SEG_HDR + (nrest - split);
    uint8_t *s2 = malloc(n2);
    REQUIRE(s2 != NULL);
    memcpy(s2, header, SEG_HDR);
    if (nrest > split)
        memcpy(s2 + SEG_HDR, rest + split, nrest - split);

    write_seg("00000001", false, s1, n1);
    if (two)
        write_seg("00000002", false, s2, n2);

    struct expect e = {0};
    bool dmg1, dmg2 = false;
    size_t good1 = ref_read(s1, n1, &e, &dmg1), good2 = 0;
    if (two && !dmg1)
        good2 = ref_read(s2, n2, &e, &dmg2);

    struct kb_err err;
    struct tsdb_wal_replay_stats stats;

    /* Read-only: the same records, the damage seen, nothing changed. */
    enum kb_status st = replay(&e, true, &stats, &err);
    REQUIRE(st == KB_OK);
    REQUIRE(e.next == e.n);
    REQUIRE(stats.records == e.n);
    REQUIRE(stats.damaged == (dmg1 || dmg2));
    REQUIRE(stats.repaired == 0 && stats.bytes_cut == 0);
    REQUIRE(size_of("00000001") == (long long)n1);
    REQUIRE(!two || size_of("00000002") == (long long)n2);

    st = replay(&e, false, &stats, &err);
    if (st != KB_OK)
        fprintf(stderr, "replay: %s\n", err.msg);
    REQUIRE(st == KB_OK);
    REQUIRE(e.next == e.n);
    REQUIRE(stats.records == e.n);
    REQUIRE(stats.repaired == (dmg1 || dmg2));
    REQUIRE(stats.damaged == stats.repaired);

    /* The files are cut where the good prefix ends. */
    if (dmg1) {
        if (good1 == 0) {
            REQUIRE(size_of("00000001") == -1);
            REQUIRE(size_of("00000001.corrupt") == (long long)n1);
        } else {
            REQUIRE(size_of("00000001") == (long long)good1);
        }
        if (two) {
            REQUIRE(size_of("00000002") == -1);
            REQUIRE(size_of("00000002.corrupt") == (long long)n2);
        }
        REQUIRE(stats.bytes_cut == n1 - good1 + (two ? n2 : 0));
    } else {
        REQUIRE(size_of("00000001") == (long long)n1);
        if (two)
            REQUIRE(size_of("00000002") == (long long)(dmg2 ? good2 : n2));
        REQUIRE(stats.bytes_cut == (dmg2 ? n2 - good2 : 0));
    }

    /* Once repaired, the log is clean and says the same. */
    st = replay(&e, false, &stats, &err);
    REQUIRE(st == KB_OK);
    REQUIRE(e.next == e.n);
    REQUIRE(stats.repaired == 0);
    REQUIRE(stats.records == e.n);

    free(e.recs);
    free(s1);
    free(s2);
    remove_dir();
    return 0;
}
