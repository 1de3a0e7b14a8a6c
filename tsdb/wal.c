/* tsdb/wal.c: the write-ahead log: segment files of CRC-checked records.
 *
 * What. The head writes one record per committed batch and calls
 * tsdb_wal_sync before commit returns; at start the head replays the log to
 * rebuild itself. A record is the unit of atomicity: it replays whole or not
 * at all. The bytes are in docs/format/wal.md; the record types and payloads
 * are the head's (docs/format/head-records.md).
 *
 * Design.
 *  - Files. DIR/NNNNNNNN, eight decimal digits from 00000001. A segment is a
 *    16-byte header (magic "KILNWAL1", version, flags) and then records:
 *    type (u8, 1..255), payload length (u32 LE), CRC-32 (zlib's, the IEEE
 *    polynomial) of type, length and payload (u32 LE), payload. Records never
 *    span segments: a new segment starts when the next record would take the
 *    current one past segment_size, unless the current one holds no record
 *    yet (so one record larger than segment_size makes a larger segment).
 *  - Writing. append copies the record into a user-space buffer; sync
 *    write(2)s the buffer to the current segment and fdatasync()s it. Past
 *    1 MiB the buffer is written early (not synced) so memory stays bounded
 *    between syncs. A segment is finished (written and synced) before the
 *    next one is created, so sync only ever has one file to sync. A segment
 *    is created as NNNNNNNN.tmp holding its header, synced, renamed to its
 *    name without replacing anything, and the directory synced: a segment
 *    name never exists without its whole header, and a second writer in the
 *    same directory fails instead of clobbering a segment.
 *  - Failure is sticky. After a failed write or fsync the WAL refuses every
 *    further append, sync and cut with the first error: the file may end in
 *    a partial record, and after a failed fsync Linux may have dropped the
 *    dirty pages while a retry reports success. The caller closes the WAL and
 *    replays (which cuts the partial record) before writing again.
 *  - Replay reads the segments in number order through a bounded read window
 *    (1 MiB, or one record if larger; no mmap, so a file that changes
 *    underneath cannot raise SIGBUS). The log is its longest clean prefix and
 *    ends at the first damage: a bad segment header, a short record header,
 *    type 0, a length above TSDB_WAL_MAX_RECORD, a record past the end of the
 *    file, a CRC mismatch, or a missing segment number. Repair: the damaged
 *    segment is truncated at its last good record and synced (a segment whose
 *    header is bad has no good record and is set aside whole), every later
 *    segment is renamed to NNNNNNNN.corrupt (.corrupt.1, ... if taken) as
 *    evidence, the directory is synced and one warning line is logged
 *    (base/log.h, component=wal). A read error is returned, never repaired:
 *    it may be transient, and cutting on it would throw good records away.
 *    tsdb_wal_replay_readonly reads the same prefix and logs the damage but
 *    changes nothing, for inspection under a shared lock.
 *
 * Invariants.
 *  - Segment files hold whole records, except that the last one may end in a
 *    torn record (a crash or a failed write), which replay cuts.
 *  - The segments present have consecutive numbers: open and cut create
 *    last + 1, truncate deletes from the lowest up syncing the directory
 *    after each unlink, and repair sets aside a suffix. A crash in the middle
 *    of either leaves consecutive numbers or a gap that replay treats as the
 *    end of the log.
 *  - w->seg_bytes is what has been written to the current segment (header
 *    included); w->pending holds whole records only.
 *
 * Ownership. A tsdb_wal owns its directory descriptor, its segment descriptor
 * and its buffer; append copies `data`. It is not thread-safe: its one writer
 * (the head's appender) calls it under the writer's lock. Replay hands `fn` a
 * pointer into its read window, valid only during the call. One process writes
 * a directory at a time (the database's lock ensures it; the WAL does not
 * lock), and replay runs before open: open never reads the segments, so records
 * appended after unreplayed damage would be set aside with it.
 */
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"

#define SEG_MAGIC "KILNWAL1"
#define SEG_VERSION 1u
#define SEG_HDR 16 /* magic (8), version (u32), flags (u32) */
#define REC_HDR 9  /* type (u8), length (u32), crc (u32) */
#define SEG_NUM_MAX 99999999u
#define SEG_NAME_LEN 8
#define SEG_SIZE_DEFAULT ((size_t)128 << 20)
#define FLUSH_AT ((size_t)1 << 20) /* write the buffer early past this */
#define READ_CHUNK ((size_t)1 << 20)
#define ASIDE_TRIES 1000 /* NNNNNNNN.corrupt, .corrupt.1, ... */

struct tsdb_wal {
    char *dir;            /* for messages */
    int dirfd;            /* the directory, for *at() calls and fsync */
    size_t segment_size;  /* start a new segment past this */
    uint32_t seg;         /* the segment being written */
    int fd;               /* its descriptor; -1 after a failed cut */
    uint64_t seg_bytes;   /* bytes written to it, header included */
    bool dirty;           /* written since the last fdatasync */
    struct buf pending;   /* whole records not yet written */
    struct kb_err failed; /* status != KB_OK once a write or fsync failed */
    /* fdatasyncs of records and their total time, for metrics; read
     * without the writer's lock, hence atomic. */
    _Atomic uint64_t fsyncs, fsync_ns;
};

/* ---- Bytes ----------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void seg_header(uint8_t hdr[SEG_HDR])
{
    memcpy(hdr, SEG_MAGIC, 8);
    put_u32(hdr + 8, SEG_VERSION);
    put_u32(hdr + 12, 0);
}

/* The CRC of a record: its type and length (the first 5 bytes of `hdr`),
 * then its payload. */
static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, hdr, 5);
    if (len) /* len <= TSDB_WAL_MAX_RECORD fits a uInt */
        c = crc32(c, payload, (uInt)len);
    return (uint32_t)c;
}

/* ---- Names and directories -------------------------------------------- */

static void seg_name(char out[SEG_NAME_LEN + 1], uint32_t num)
{
    snprintf(out, SEG_NAME_LEN + 1, "%08" PRIu32, num % (SEG_NUM_MAX + 1));
}

/* A segment name is exactly eight decimal digits, not all zero. */
static bool parse_seg_name(const char *s, uint32_t *num)
{
    uint32_t n = 0;
    for (int i = 0; i < SEG_NAME_LEN; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (uint32_t)(s[i] - '0');
    }
    if (s[SEG_NAME_LEN] != '\0' || n == 0)
        return false;
    *num = n;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The numbers of the segments in `dirfd`, sorted. Names that are not
 * segment names, and entries that are not regular files, are ignored. The
 * caller frees *out. */
static enum kb_status list_segments(int dirfd, const char *dir, uint32_t **out,
                                    size_t *n, struct kb_err *err)
{
    *out = NULL;
    *n = 0;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return kb_errf(err, KB_ERR_IO, "wal %s: list: %s", dir, strerror(e));
    }
    uint32_t *nums = NULL;
    size_t cap = 0, len = 0;
    struct dirent *de;
    for (;;) {
        errno = 0;
        if ((de = readdir(d)) == NULL)
            break;
        uint32_t num;
        struct stat st;
        if (!parse_seg_name(de->d_name, &num) ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        nums = kb_grow(nums, &cap, len + 1, sizeof(*nums));
        nums[len++] = num;
    }
    if (errno != 0) {
        int e = errno;
        closedir(d);
        free(nums);
        return kb_errf(err, KB_ERR_IO, "wal %s: list: %s", dir, strerror(e));
    }
    closedir(d);
    if (len > 1)
        qsort(nums, len, sizeof(*nums), cmp_u32);
    *out = nums;
    *n = len;
    return KB_OK;
}

static enum kb_status sync_dir(int dirfd, const char *dir, struct kb_err *err)
{
    if (fsync(dirfd) != 0)
        return kb_errf(err, KB_ERR_IO, "wal %s: fsync directory: %s", dir,
                       strerror(errno));
    return KB_OK;
}

/* Sync the directory that holds `path` (after creating `path`). */
static enum kb_status sync_parent(const char *path, struct kb_err *err)
{
    char *parent = kb_strdup(path);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/')
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        strcpy(parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    enum kb_status st = KB_OK;
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        st = kb_errf(err, KB_ERR_IO, "wal %s: fsync parent directory: %s", path,
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    free(parent);
    return st;
}

/* rename(2) that fails with EEXIST rather than replace `to`. Returns 0 or an
 * errno value. */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    /* The filesystem cannot refuse atomically: check, then rename. */
    struct stat st;
    if (fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return EEXIST;
    return renameat(dirfd, from, dirfd, to) == 0 ? 0 : errno;
}

/* Write all of p[0..n), retrying short writes. Returns 0 or an errno. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ---- Writing ---------------------------------------------------------- */

/* Return the sticky error (copied into `err`). */
static enum kb_status failed(struct tsdb_wal *w, struct kb_err *err)
{
    if (err != NULL)
        *err = w->failed;
    return w->failed.status;
}

/* Make the WAL failed with "segment N: what: strerror(e)". */
static enum kb_status fail_io(struct tsdb_wal *w, const char *what, int e,
                              struct kb_err *err)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, w->seg);
    kb_errf(&w->failed, KB_ERR_IO, "wal %s: segment %s: %s: %s", w->dir, name,
            what, strerror(e));
    return failed(w, err);
}

/* Create segment `num` (see the design above) and make it current. On
 * failure the WAL is left without a segment (w->fd == -1). */
static enum kb_status seg_create(struct tsdb_wal *w, uint32_t num,
                                 struct kb_err *err)
{
    char name[SEG_NAME_LEN + 1], tmp[SEG_NAME_LEN + 5];
    seg_name(name, num);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    uint8_t hdr[SEG_HDR];
    seg_header(hdr);
    enum kb_status st;
    int e;
    int fd =
        openat(w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return kb_errf(err, KB_ERR_IO, "wal %s: create %s: %s", w->dir, tmp,
                       strerror(errno));
    if ((e = write_all(fd, hdr, SEG_HDR)) == 0 && fdatasync(fd) != 0)
        e = errno;
    if (e != 0) {
        st = kb_errf(err, KB_ERR_IO, "wal %s: write %s: %s", w->dir, tmp,
                     strerror(e));
        goto fail;
    }
    if ((e = rename_noreplace(w->dirfd, tmp, name)) != 0) {
        st = kb_errf(err, KB_ERR_IO, "wal %s: rename %s to %s: %s%s", w->dir,
                     tmp, name, strerror(e),
                     e == EEXIST ? " (another writer in this directory?)" : "");
        goto fail;
    }
    w->fd = fd;
    w->seg = num;
    w->seg_bytes = SEG_HDR;
    w->dirty = false;
    return sync_dir(w->dirfd, w->dir, err);
fail:
    close(fd);
    unlinkat(w->dirfd, tmp, 0);
    return st;
}

/* write(2) the buffered records to the current segment. */
static enum kb_status write_pending(struct tsdb_wal *w, struct kb_err *err)
{
    if (w->pending.len == 0)
        return KB_OK;
    int e = write_all(w->fd, w->pending.data, w->pending.len);
    if (e != 0)
        return fail_io(w, "write", e, err);
    w->seg_bytes += w->pending.len;
    w->dirty = true;
    if (w->pending.cap > 4 * FLUSH_AT)
        buf_free(&w->pending); /* do not keep a huge record's memory */
    else
        buf_reset(&w->pending);
    return KB_OK;
}

/* Write the buffered records and fdatasync the current segment. */
static enum kb_status sync_segment(struct tsdb_wal *w, struct kb_err *err)
{
    enum kb_status st = write_pending(w, err);
    if (st != KB_OK)
        return st;
    if (!w->dirty)
        return KB_OK;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (fdatasync(w->fd) != 0)
        return fail_io(w, "fdatasync", errno, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    w->fsyncs++;
    w->fsync_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * INT64_C(1000000000) +
                              (t1.tv_nsec - t0.tv_nsec));
    w->dirty = false;
    return KB_OK;
}

void tsdb_wal_fsync_stats(const struct tsdb_wal *w, uint64_t *n, uint64_t *ns)
{
    *n = w->fsyncs;
    *ns = w->fsync_ns;
}

/* Finish the current segment and start the next one. */
static enum kb_status next_segment(struct tsdb_wal *w, struct kb_err *err)
{
    enum kb_status st = sync_segment(w, err);
    if (st != KB_OK)
        return st;
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0)
        return fail_io(w, "close", errno, err);
    if (w->seg >= SEG_NUM_MAX) {
        kb_errf(&w->failed, KB_ERR_LIMIT,
                "wal %s: segment numbers exhausted at %" PRIu32, w->dir,
                w->seg);
        return failed(w, err);
    }
    if ((st = seg_create(w, w->seg + 1, &w->failed)) != KB_OK)
        return failed(w, err);
    return KB_OK;
}

enum kb_status tsdb_wal_open(const char *dir,
                             const struct tsdb_wal_options *opts,
                             struct tsdb_wal **out, struct kb_err *err)
{
    *out = NULL;
    enum kb_status st;
    uint32_t *nums = NULL;
    size_t n = 0;
    if (mkdir(dir, 0777) == 0) {
        if ((st = sync_parent(dir, err)) != KB_OK)
            return st;
    } else if (errno != EEXIST) {
        return kb_errf(err, KB_ERR_IO, "wal %s: mkdir: %s", dir,
                       strerror(errno));
    }
    struct tsdb_wal *w = kb_calloc(1, sizeof(*w));
    w->dir = kb_strdup(dir);
    w->fd = -1;
    w->segment_size =
        opts && opts->segment_size ? opts->segment_size : SEG_SIZE_DEFAULT;
    buf_init(&w->pending, BUF_NO_LIMIT);
    kb_err_clear(&w->failed);
    w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) {
        st = kb_errf(err, KB_ERR_IO, "wal %s: open: %s", dir, strerror(errno));
        goto fail;
    }
    if ((st = list_segments(w->dirfd, dir, &nums, &n, err)) != KB_OK)
        goto fail;
    uint32_t last = n ? nums[n - 1] : 0;
    if (last >= SEG_NUM_MAX) {
        st =
            kb_errf(err, KB_ERR_LIMIT,
                    "wal %s: segment numbers exhausted at %" PRIu32, dir, last);
        goto fail;
    }
    if ((st = seg_create(w, last + 1, err)) != KB_OK)
        goto fail;
    free(nums);
    *out = w;
    return KB_OK;
fail:
    free(nums);
    tsdb_wal_close(w, NULL);
    return st;
}

enum kb_status tsdb_wal_append(struct tsdb_wal *w, uint8_t type,
                               const void *data, size_t len, struct kb_err *err)
{
    if (w->failed.status != KB_OK)
        return failed(w, err);
    if (type == 0)
        return kb_errf(err, KB_ERR_USAGE,
                       "wal append: record type 0 is reserved");
    if (len > TSDB_WAL_MAX_RECORD)
        return kb_errf(err, KB_ERR_LIMIT,
                       "wal append: record of %zu bytes exceeds the limit of "
                       "%u bytes",
                       len, TSDB_WAL_MAX_RECORD);
    if (data == NULL && len > 0)
        return kb_errf(err, KB_ERR_USAGE, "wal append: NULL data");
    enum kb_status st;
    size_t rec = REC_HDR + len;
    uint64_t used = w->seg_bytes + w->pending.len;
    if (used > SEG_HDR && used + rec > w->segment_size &&
        (st = next_segment(w, err)) != KB_OK)
        return st;
    if (w->pending.len > 0 && w->pending.len + rec > FLUSH_AT &&
        (st = write_pending(w, err)) != KB_OK)
        return st;
    uint8_t hdr[REC_HDR];
    hdr[0] = type;
    put_u32(hdr + 1, (uint32_t)len);
    put_u32(hdr + 5, rec_crc(hdr, data, len));
    if (buf_reserve(&w->pending, rec) != KB_OK)
        return kb_errf(err, KB_ERR_INTERNAL, "wal append: buffer limit");
    buf_append(&w->pending, hdr, REC_HDR);
    buf_append(&w->pending, data, len);
    return KB_OK;
}

enum kb_status tsdb_wal_sync(struct tsdb_wal *w, struct kb_err *err)
{
    if (w->failed.status != KB_OK)
        return failed(w, err);
    return sync_segment(w, err);
}

enum kb_status tsdb_wal_close(struct tsdb_wal *w, struct kb_err *err)
{
    if (w == NULL)
        return KB_OK;
    enum kb_status st = KB_OK;
    if (w->failed.status != KB_OK)
        st = failed(w, err);
    else if (w->fd >= 0)
        st = sync_segment(w, err);
    if (w->fd >= 0 && close(w->fd) != 0 && st == KB_OK)
        st = fail_io(w, "close", errno, err);
    if (w->dirfd >= 0)
        close(w->dirfd);
    buf_free(&w->pending);
    free(w->dir);
    free(w);
    return st;
}

uint32_t tsdb_wal_current_segment(const struct tsdb_wal *w)
{
    return w->seg;
}

enum kb_status tsdb_wal_cut(struct tsdb_wal *w, struct kb_err *err)
{
    if (w->failed.status != KB_OK)
        return failed(w, err);
    return next_segment(w, err);
}

enum kb_status tsdb_wal_truncate(struct tsdb_wal *w, uint32_t segment,
                                 struct kb_err *err)
{
    if (segment > w->seg)
        return kb_errf(err, KB_ERR_USAGE,
                       "wal truncate: segment %" PRIu32
                       " is past the current segment %" PRIu32,
                       segment, w->seg);
    uint32_t *nums;
    size_t n;
    enum kb_status st = list_segments(w->dirfd, w->dir, &nums, &n, err);
    if (st != KB_OK)
        return st;
    /* Lowest first, syncing the directory after each, so that a crash
     * leaves consecutive numbers (see the invariants). */
    for (size_t i = 0; i < n && nums[i] < segment; i++) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, nums[i]);
        if (unlinkat(w->dirfd, name, 0) != 0 && errno != ENOENT) {
            st = kb_errf(err, KB_ERR_IO, "wal %s: delete %s: %s", w->dir, name,
                         strerror(errno));
            break;
        }
        if ((st = sync_dir(w->dirfd, w->dir, err)) != KB_OK)
            break;
    }
    free(nums);
    return st;
}

/* ---- Replay ----------------------------------------------------------- */

/* A read window over one segment file: data[pos..len) are the file's bytes
 * from offset base + pos. */
struct reader {
    int fd;
    uint64_t base;
    uint8_t *data;
    size_t cap, len, pos;
};

/* Make `n` bytes available at data + pos. Returns 0 or an errno value
 * (ENODATA if the file ends first: it shrank while being read). */
static int rd_need(struct reader *r, size_t n)
{
    if (r->len - r->pos >= n)
        return 0;
    if (r->len > r->pos)
        memmove(r->data, r->data + r->pos, r->len - r->pos);
    r->base += r->pos;
    r->len -= r->pos;
    r->pos = 0;
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    if (want > r->cap) {
        r->data = kb_realloc(r->data, want);
        r->cap = want;
    }
    while (r->len < n) {
        ssize_t k = pread(r->fd, r->data + r->len, r->cap - r->len,
                          (off_t)(r->base + r->len));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (k == 0)
            return ENODATA;
        r->len += (size_t)k;
    }
    return 0;
}

/* Where the log ends, when it ends early. */
struct damage {
    bool found;
    size_t index;    /* in the sorted segment list */
    uint64_t offset; /* bytes of that segment to keep; 0: set it aside */
    char reason[128];
};

static void damage_at(struct damage *d, size_t index, uint64_t offset,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void damage_at(struct damage *d, size_t index, uint64_t offset,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
    d->found = true;
    d->index = index;
    d->offset = offset;
}

/* Read segment nums[i], calling `fn` for each good record, and stop at the
 * first damage (filling `d`). Errors are I/O errors and `fn`'s. */
static enum kb_status replay_segment(int dirfd, const char *dir,
                                     const uint32_t *nums, size_t i,
                                     struct reader *r, tsdb_wal_record_fn fn,
                                     void *ctx,
                                     struct tsdb_wal_replay_stats *stats,
                                     struct damage *d, struct kb_err *err)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, nums[i]);
    enum kb_status st = KB_OK;
    struct stat sb;
    int e;
    r->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (r->fd < 0)
        return kb_errf(err, KB_ERR_IO, "wal %s: open %s: %s", dir, name,
                       strerror(errno));
    if (fstat(r->fd, &sb) != 0) {
        st = kb_errf(err, KB_ERR_IO, "wal %s: stat %s: %s", dir, name,
                     strerror(errno));
        goto done;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t size = (uint64_t)sb.st_size, off = 0;
    r->base = 0;
    r->len = r->pos = 0;

    if (size < SEG_HDR) {
        damage_at(d, i, 0, "segment header cut short (%" PRIu64 " bytes)",
                  size);
        goto done;
    }
    if ((e = rd_need(r, SEG_HDR)) != 0)
        goto read_fail;
    uint8_t want[SEG_HDR];
    seg_header(want);
    const uint8_t *h = r->data + r->pos;
    if (memcmp(h, want, 8) != 0) {
        damage_at(d, i, 0, "bad segment magic");
        goto done;
    }
    if (memcmp(h + 8, want + 8, SEG_HDR - 8) != 0) {
        damage_at(d, i, 0,
                  "unknown segment version %" PRIu32 " or flags %#" PRIx32,
                  get_u32(h + 8), get_u32(h + 12));
        goto done;
    }
    r->pos += SEG_HDR;
    off = SEG_HDR;
    stats->segments++;

    while (off < size) {
        if (size - off < REC_HDR) {
            damage_at(d, i, off, "record header cut short (%" PRIu64 " bytes)",
                      size - off);
            goto done;
        }
        if ((e = rd_need(r, REC_HDR)) != 0)
            goto read_fail;
        const uint8_t *p = r->data + r->pos;
        uint8_t type = p[0];
        uint32_t len = get_u32(p + 1), crc = get_u32(p + 5);
        if (type == 0) {
            damage_at(d, i, off, "record type 0");
            goto done;
        }
        if (len > TSDB_WAL_MAX_RECORD) {
            damage_at(d, i, off,
                      "record length %" PRIu32 " above the limit of %u", len,
                      TSDB_WAL_MAX_RECORD);
            goto done;
        }
        if (len > size - off - REC_HDR) {
            damage_at(d, i, off,
                      "record of %" PRIu32 " bytes cut short at %" PRIu64, len,
                      size - off - REC_HDR);
            goto done;
        }
        if ((e = rd_need(r, REC_HDR + (size_t)len)) != 0)
            goto read_fail;
        p = r->data + r->pos;
        if (rec_crc(p, p + REC_HDR, len) != crc) {
            damage_at(d, i, off, "record crc mismatch");
            goto done;
        }
        if (fn != NULL && (st = fn(ctx, type, p + REC_HDR, len, err))) {
            kb_err_prefix(err, "wal %s: segment %s offset %" PRIu64, dir, name,
                          off);
            goto done;
        }
        stats->records++;
        r->pos += REC_HDR + (size_t)len;
        off += REC_HDR + (uint64_t)len;
    }
    goto done;
read_fail:
    st = kb_errf(err, KB_ERR_IO, "wal %s: read %s: %s", dir, name,
                 e == ENODATA ? "file shrank while being read" : strerror(e));
done:
    close(r->fd);
    r->fd = -1;
    return st;
}

/* The one line a damaged log gets (base/log.h, component "wal"). */
static void log_damage(const char *dir, uint32_t seg, const struct damage *d,
                       uint64_t cut, size_t aside, bool read_only)
{
    char name[SEG_NAME_LEN + 1], off[24], bytes[24], nseg[24];
    seg_name(name, seg);
    snprintf(off, sizeof(off), "%" PRIu64, d->offset);
    snprintf(bytes, sizeof(bytes), "%" PRIu64, cut);
    snprintf(nseg, sizeof(nseg), "%zu", aside);
    if (read_only)
        log_warn("wal", "log ends at damage (read-only: nothing cut)", "dir",
                 dir, "segment", name, "offset", off, "reason", d->reason,
                 "bytes_after", bytes, "segments_after", nseg, NULL);
    else
        log_warn("wal", "cut the log at damage", "dir", dir, "segment", name,
                 "offset", off, "reason", d->reason, "bytes_cut", bytes,
                 "segments_set_aside", nseg, NULL);
}

/* Rename segment `num` to NNNNNNNN.corrupt, or .corrupt.1 and so on if that
 * is taken. */
static enum kb_status set_aside(int dirfd, const char *dir, uint32_t num,
                                struct kb_err *err)
{
    char name[SEG_NAME_LEN + 1], to[SEG_NAME_LEN + 24];
    seg_name(name, num);
    int e = EEXIST;
    for (int k = 0; k < ASIDE_TRIES && e == EEXIST; k++) {
        if (k == 0)
            snprintf(to, sizeof(to), "%s.corrupt", name);
        else
            snprintf(to, sizeof(to), "%s.corrupt.%d", name, k);
        e = rename_noreplace(dirfd, name, to);
    }
    if (e != 0)
        return kb_errf(err, KB_ERR_IO, "wal %s: rename %s aside: %s", dir, name,
                       strerror(e));
    return KB_OK;
}

/* The bytes from `d` to the end of the log: the tail of the damaged segment
 * and every later segment. */
static uint64_t bytes_after(int dirfd, const uint32_t *nums, size_t n,
                            const struct damage *d)
{
    uint64_t total = 0;
    for (size_t j = d->index; j < n; j++) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, nums[j]);
        struct stat sb;
        if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        uint64_t size = (uint64_t)sb.st_size;
        uint64_t keep = j == d->index ? d->offset : 0;
        total += size > keep ? size - keep : 0;
    }
    return total;
}

/* Cut the log at `d`: truncate the damaged segment, set aside the later
 * ones, sync, log. */
static enum kb_status repair(int dirfd, const char *dir, const uint32_t *nums,
                             size_t n, const struct damage *d,
                             struct tsdb_wal_replay_stats *stats,
                             struct kb_err *err)
{
    enum kb_status st;
    uint64_t cut = bytes_after(dirfd, nums, n, d);
    size_t first_aside = d->index;
    if (d->offset > 0) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, nums[d->index]);
        int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || ftruncate(fd, (off_t)d->offset) != 0 || fsync(fd) != 0) {
            st = kb_errf(err, KB_ERR_IO, "wal %s: truncate %s: %s", dir, name,
                         strerror(errno));
            if (fd >= 0)
                close(fd);
            return st;
        }
        close(fd);
        first_aside++;
    }
    for (size_t j = first_aside; j < n; j++)
        if ((st = set_aside(dirfd, dir, nums[j], err)) != KB_OK)
            return st;
    if ((st = sync_dir(dirfd, dir, err)) != KB_OK)
        return st;
    stats->bytes_cut = cut;
    stats->repaired = 1;
    stats->damaged = 1;
    log_damage(dir, nums[d->index], d, cut, n - first_aside, false);
    return KB_OK;
}

/* tsdb_wal_replay, tsdb_wal_replay_readonly and tsdb_wal_replay_from. */
static enum kb_status replay_dir(const char *dir, uint32_t min_segment,
                                 tsdb_wal_record_fn fn, void *ctx,
                                 bool read_only,
                                 struct tsdb_wal_replay_stats *stats,
                                 struct kb_err *err)
{
    struct tsdb_wal_replay_stats unused;
    if (stats == NULL)
        stats = &unused;
    memset(stats, 0, sizeof(*stats));
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        if (errno == ENOENT)
            return KB_OK;
        return kb_errf(err, KB_ERR_IO, "wal %s: open: %s", dir,
                       strerror(errno));
    }
    struct reader r = {.fd = -1};
    struct damage d = {.found = false};
    uint32_t *nums = NULL;
    size_t n = 0;
    enum kb_status st = list_segments(dirfd, dir, &nums, &n, err);
    if (st != KB_OK)
        goto done;
    /* Segments before min_segment are covered by a checkpoint: skip them
     * as if they were gone (the caller deletes them). */
    size_t skip = 0;
    while (skip < n && nums[skip] < min_segment)
        skip++;
    if (skip > 0) {
        memmove(nums, nums + skip, (n - skip) * sizeof(*nums));
        n -= skip;
    }
    for (size_t i = 0; i < n && !d.found; i++) {
        if (i > 0 && nums[i] != nums[i - 1] + 1) {
            damage_at(&d, i, 0, "segment %08" PRIu32 " missing",
                      nums[i - 1] + 1);
            break;
        }
        st = replay_segment(dirfd, dir, nums, i, &r, fn, ctx, stats, &d, err);
        if (st != KB_OK)
            goto done;
    }
    if (d.found && !read_only) {
        st = repair(dirfd, dir, nums, n, &d, stats, err);
    } else if (d.found) {
        stats->damaged = 1;
        log_damage(dir, nums[d.index], &d, bytes_after(dirfd, nums, n, &d),
                   n - d.index - (d.offset > 0), true);
    }
done:
    free(r.data);
    free(nums);
    close(dirfd);
    return st;
}

enum kb_status tsdb_wal_replay(const char *dir, tsdb_wal_record_fn fn,
                               void *ctx, struct tsdb_wal_replay_stats *stats,
                               struct kb_err *err)
{
    return replay_dir(dir, 0, fn, ctx, false, stats, err);
}

enum kb_status tsdb_wal_replay_readonly(const char *dir, tsdb_wal_record_fn fn,
                                        void *ctx,
                                        struct tsdb_wal_replay_stats *stats,
                                        struct kb_err *err)
{
    return replay_dir(dir, 0, fn, ctx, true, stats, err);
}

enum kb_status tsdb_wal_replay_from(const char *dir, uint32_t min_segment,
                                    bool read_only, tsdb_wal_record_fn fn,
                                    void *ctx,
                                    struct tsdb_wal_replay_stats *stats,
                                    struct kb_err *err)
{
    return replay_dir(dir, min_segment, fn, ctx, read_only, stats, err);
}
