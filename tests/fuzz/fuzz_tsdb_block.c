/* tests/fuzz/fuzz_tsdb_block.c: libFuzzer target for the block reader
 * (tsdb_block_open and the chunk decoders of tsdb/block.c), which reads
 * files a bad disk, a bad copy or a bug elsewhere may have damaged.
 *
 * Each input becomes the four files of a block directory, made fresh on
 * /dev/shm (or $TMPDIR, else /tmp) and removed after the input. Byte 0
 * says how (bits 0-1: the mode; bits 2-3: a file, 0 meta.json, 1 index,
 * 2 symbols, 3 chunks):
 *
 *   mode 0  the whole block: the rest of the input is the four files in
 *           that order, each as a u32 LE length and that many bytes (the
 *           length is cut to what is left; 0xffffffff: no such file). Bits
 *           2, 3, 4 say to recompute the checksums of index, symbols and
 *           the chunk frames (found with ZSTD_findFrameCompressedSize).
 *   mode 1  a real block with one file (bits 2-3) replaced by the rest.
 *   mode 2  the same, then that file's checksums recomputed, so that the
 *           bytes behind the checksum are what gets fuzzed.
 *   mode 3  a real block with the decompressed body of one file replaced
 *           by the rest: index and symbols are wrapped as the writer wraps
 *           them (magic, version, raw length, zstd frame, CRC32); for
 *           chunks, bits 4-7 pick a series whose chunk is the rest, and the
 *           chunks file and the index's offsets are rebuilt around it;
 *           meta.json is plain JSON, as in mode 1.
 *
 * The "real block" of modes 1-3 is written at start-up by the block writer
 * itself (a symbol space with mappings, inlined frames and a stack tree,
 * four profile series and a float series; see build_base).
 *
 * The target checks: open fails with a status and a message (never
 * KB_ERR_INTERNAL), or it succeeds and then every series' chunk is read
 * with the reader of its kind (and with the other reader, which must
 * refuse), every stack id returned is in range, ascending, and is walked
 * in the block's stack tree to locations that exist, the symbol tables
 * keep pprof's invariants, postings are ascending series numbers, and
 * nothing leaks or reads out of bounds (ASan, UBSan).
 *
 * Seeds: tests/fuzz/corpus/fuzz_tsdb_block/, written by
 * tests/fuzz/gen-block-seeds.sh, which runs this binary with
 * KILN_FUZZ_BLOCK_SEEDS=DIR: it then writes the seeds of the built-in
 * block (all modes) into DIR, packs every block directory named on its
 * command line in mode 0, and exits.
 *
 * Sources: this file, every .c of tsdb/, base/ and pprof/, the generated
 * protobuf code; zstd, jansson, zlib, pthread (scripts/fuzz).
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
#include <zstd.h>

#include "base/buf.h"
#include "base/labels.h"
#include "base/log.h"
#include "tests/fuzz/check.h"
#include "tsdb/block.h"
#include "tsdb/enc.h"

#define REQUIRE FUZZ_REQUIRE

enum { F_META, F_INDEX, F_SYMBOLS, F_CHUNKS, N_FILES };
static const char *const file_names[N_FILES] = {"meta.json", "index", "symbols",
                                                "chunks"};
#define ABSENT 0xffffffffu
#define HEADER_LEN 12          /* magic + version */
#define SECTION_PREFIX 20      /* magic + version + raw length */
#define WALK_BUDGET (8u << 20) /* stack frames walked per input */

/* ---- Files and directories --------------------------------------------- */

struct file {
    uint8_t *data;
    size_t len;
    bool absent;
};

static void file_set(struct file *f, const void *p, size_t n)
{
    free(f->data);
    f->data = malloc(n + 1);
    REQUIRE(f->data != NULL);
    if (n)
        memcpy(f->data, p, n);
    f->len = n;
    f->absent = false;
}

static void file_clear(struct file *f)
{
    free(f->data);
    memset(f, 0, sizeof(*f));
}

static char dir[4096];

static void make_dir(const char *what)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/kiln-fuzz-%s-XXXXXX", base, what);
    REQUIRE(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            REQUIRE(unlinkat(dirfd(d), de->d_name, 0) == 0);
    closedir(d);
    REQUIRE(rmdir(dir) == 0);
}

static void write_path(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(n == 0 || write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void write_files(const struct file files[N_FILES])
{
    for (int i = 0; i < N_FILES; i++) {
        if (files[i].absent)
            continue;
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, file_names[i]);
        write_path(path, files[i].data, files[i].len);
    }
}

static bool read_path(const char *path, struct file *f)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return false;
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
        buf_append(&b, tmp, n);
    fclose(fp);
    file_set(f, b.data, b.len);
    buf_free(&b);
    return true;
}

/* ---- Checksums and wrapping, as the writer does them --------------------- */

static uint32_t crc(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* index, symbols: the trailer is the CRC32 of everything before it. */
static void fix_section_crc(struct file *f)
{
    if (!f->absent && f->len >= 4)
        put_u32(f->data + f->len - 4, crc(f->data, f->len - 4));
}

/* chunks: after the header, [zstd frame][CRC32 of the frame] back to back. */
static void fix_chunk_crcs(struct file *f)
{
    if (f->absent)
        return;
    size_t off = HEADER_LEN;
    while (off < f->len) {
        size_t z = ZSTD_findFrameCompressedSize(f->data + off, f->len - off);
        if (ZSTD_isError(z) || z > f->len - off || f->len - off - z < 4)
            break;
        put_u32(f->data + off + z, crc(f->data + off, z));
        off += z + 4;
    }
}

static void zstd_append(struct buf *out, const void *p, size_t n)
{
    size_t bound = ZSTD_compressBound(n);
    buf_reserve(out, bound);
    size_t z = ZSTD_compress(out->data + out->len, bound, p, n, 3);
    REQUIRE(!ZSTD_isError(z));
    out->len += z;
}

static bool zstd_body(const uint8_t *p, size_t n, struct buf *out)
{
    unsigned long long size = ZSTD_getFrameContentSize(p, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > (64u << 20))
        return false;
    buf_reset(out);
    buf_reserve(out, (size_t)size);
    size_t got = ZSTD_decompress(out->data, (size_t)size + 1, p, n);
    if (ZSTD_isError(got) || got != size)
        return false;
    out->len = got;
    return true;
}

/* A sectioned file (index, symbols) around the raw body. */
static void wrap_section(struct file *f, const char magic[8],
                         const uint8_t *body, size_t n)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    buf_append(&b, magic, 8);
    tsdb_enc_u32(&b, 1);
    tsdb_enc_u64(&b, n);
    zstd_append(&b, body, n);
    tsdb_enc_u32(&b, crc(b.data, b.len));
    file_set(f, b.data, b.len);
    buf_free(&b);
}

/* ---- The built-in real block --------------------------------------------- */

#define BASE_MINT 1700000000000LL
#define MAX_BASE_SERIES 16

static struct file base[N_FILES];
static struct buf base_index_body, base_symbols_body;
/* Per series of the base block: its chunk frame (offset and length in the
 * chunks file), its decompressed chunk, and where its (off, len) fields sit
 * in the decompressed index. */
static size_t base_n_series;
static struct {
    uint64_t off, len;
    struct buf body;
    size_t idx_from, idx_to;
} base_series[MAX_BASE_SERIES];

static uint32_t str(struct tsdb_symspace *s, const char *text)
{
    return pprof_intern_str(s->symbols, text);
}

/* A source symbol space shaped like a Go program's: two mappings, named
 * functions with files, one location with an inlined frame, and stacks
 * that share prefixes. ids[] receives the stack ids. */
static size_t base_symbols(struct tsdb_symspace *s, uint32_t ids[8])
{
    struct pprof_mapping m1 = {
        .memory_start = 0x400000,
        .memory_limit = 0x9f0000,
        .file_offset = 0,
        .filename = str(s, "/usr/local/bin/api"),
        .build_id = str(s, "9a3c2f7e0b1d"),
        .has_functions = true,
        .has_filenames = true,
        .has_line_numbers = true,
        .has_inline_frames = true,
    };
    struct pprof_mapping m2 = {
        .memory_start = 0x7f0000000000,
        .memory_limit = 0x7f0000200000,
        .file_offset = 0x1000,
        .filename = str(s, "/lib/x86_64-linux-gnu/libc.so.6"),
    };
    uint32_t mp1 = pprof_symtab_add_mapping(s->symtab, &m1);
    uint32_t mp2 = pprof_symtab_add_mapping(s->symtab, &m2);
    static const char *const fn[][2] = {
        {"main.main", "/src/api/main.go"},
        {"net/http.(*conn).serve", "/usr/lib/go/src/net/http/server.go"},
        {"main.handle", "/src/api/handler.go"},
        {"encoding/json.Marshal", "/usr/lib/go/src/encoding/json/encode.go"},
        {"runtime.mallocgc", "/usr/lib/go/src/runtime/malloc.go"},
        {"memmove", ""},
    };
    uint32_t f[6];
    for (int i = 0; i < 6; i++) {
        struct pprof_function x = {
            .name = str(s, fn[i][0]),
            .system_name = str(s, fn[i][0]),
            .filename = str(s, fn[i][1]),
            .start_line = 10 * i + 1,
        };
        f[i] = pprof_symtab_add_function(s->symtab, &x);
    }
    uint32_t loc[6];
    for (int i = 0; i < 5; i++) {
        struct pprof_line l[2] = {{f[i], 100 + 7 * i}, {f[2], 42}};
        /* location 3 (json.Marshal) has main.handle inlined into it */
        loc[i] = pprof_symtab_add_location(s->symtab, mp1,
                                           0x401000 + 0x40 * (uint64_t)i, l,
                                           i == 3 ? 2 : 1, false);
    }
    loc[5] = pprof_symtab_add_location(s->symtab, mp2, 0x7f0000012340, NULL, 0,
                                       false);
    uint32_t st[][5] = {
        {loc[2], loc[1], loc[0]},
        {loc[4], loc[3], loc[2], loc[1], loc[0]},
        {loc[5], loc[4], loc[2], loc[1], loc[0]},
        {loc[0]},
        {loc[3], loc[0]},
    };
    size_t depth[] = {3, 5, 5, 1, 2};
    for (int i = 0; i < 5; i++)
        ids[i] = tsdb_stacks_insert(s->stacks, st[i], depth[i]);
    return 5;
}

static struct labels *make_labels(const char *name, const char *instance)
{
    struct labels *ls = NULL;
    REQUIRE(labels_from_strings(&ls, NULL, "__name__", name, "instance",
                                instance, "job", "api", NULL) == KB_OK);
    return ls;
}

/* Parse the base index body far enough to know where each series' (off,
 * len) fields are, and read each series' chunk. */
static void base_layout(void)
{
    struct tsdb_dec d;
    tsdb_dec_init(&d, base_index_body.data, base_index_body.len);
    base_n_series = tsdb_dec_uvarint(&d);
    REQUIRE(base_n_series > 0 && base_n_series <= MAX_BASE_SERIES);
    for (size_t i = 0; i < base_n_series; i++) {
        uint64_t nl = tsdb_dec_uvarint(&d);
        for (uint64_t j = 0; j < 2 * nl; j++) {
            size_t n;
            tsdb_dec_bytes(&d, &n);
        }
        for (int j = 0; j < 5; j++) /* kind, period, mint, maxt, items */
            tsdb_dec_uvarint(&d);
        base_series[i].idx_from = (size_t)(d.p - base_index_body.data);
        base_series[i].off = tsdb_dec_uvarint(&d);
        base_series[i].len = tsdb_dec_uvarint(&d);
        base_series[i].idx_to = (size_t)(d.p - base_index_body.data);
        REQUIRE(!d.bad);
        REQUIRE(base_series[i].off + base_series[i].len + 4 <=
                base[F_CHUNKS].len);
        buf_init(&base_series[i].body, BUF_NO_LIMIT);
        REQUIRE(zstd_body(base[F_CHUNKS].data + base_series[i].off,
                          base_series[i].len, &base_series[i].body));
    }
}

static void build_base(void)
{
    struct tsdb_symspace src;
    tsdb_symspace_init(&src);
    uint32_t ids[8];
    size_t n_ids = base_symbols(&src, ids);
    struct tsdb_block_writer *w = tsdb_block_writer_new();

    static const char *const names[] = {
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        "memory:alloc_space:bytes:space:bytes",
    };
    static const char *const inst[] = {"10.0.0.1:8080", "10.0.0.2:8080"};
    int64_t period[] = {10000000, 524288};
    for (int k = 0; k < 4; k++) {
        struct labels *ls = make_labels(names[k / 2], inst[k % 2]);
        struct tsdb_profile_view v[3];
        uint32_t stacks[3][8];
        int64_t values[3][8];
        size_t np = (size_t)(k % 3) + 1;
        for (size_t p = 0; p < np; p++) {
            size_t n = 0;
            for (size_t j = 0; j < n_ids; j++) {
                if ((j + p + (size_t)k) % 3 == 2)
                    continue;
                stacks[p][n] = ids[j];
                /* big, small and negative values */
                values[p][n++] = (int64_t)((j + 1) * 10000000 * (p + 1)) -
                                 (j == 4 ? 99999999999LL : 0);
            }
            v[p] = (struct tsdb_profile_view){
                .t_ms = BASE_MINT + 1000 * (int64_t)p + 15 * k,
                .duration_ns = 1000000000LL + (int64_t)p,
                .n = n,
                .stacks = stacks[p],
                .values = values[p],
            };
        }
        tsdb_block_writer_add_profiles(w, ls, period[k / 2], &src, v, np);
        labels_free(ls);
    }
    struct labels *up = make_labels("up", inst[0]);
    int64_t t[] = {BASE_MINT, BASE_MINT + 15000, BASE_MINT + 30000,
                   BASE_MINT + 45001};
    double fv[] = {1, 0, 0.5, -1e300};
    tsdb_block_writer_add_floats(w, up, t, fv, 4);
    labels_free(up);

    make_dir("block-base");
    static const char *const sources[] = {"01HF7YAT00000000000000000A",
                                          "01HF7YAT00000000000000000B"};
    char ulid[TSDB_ULID_LEN + 1];
    struct kb_err err;
    enum kb_status st = tsdb_block_writer_finish(
        w, dir, BASE_MINT, BASE_MINT + 59999, 2, sources, 2, ulid, &err);
    if (st != KB_OK)
        fprintf(stderr, "writing the base block: %s\n", err.msg);
    REQUIRE(st == KB_OK);
    tsdb_block_writer_free(w);
    tsdb_symspace_free(&src);

    char bdir[4200];
    snprintf(bdir, sizeof(bdir), "%s/%s", dir, ulid);
    for (int i = 0; i < N_FILES; i++) {
        char path[4300];
        snprintf(path, sizeof(path), "%s/%s", bdir, file_names[i]);
        REQUIRE(read_path(path, &base[i]));
        REQUIRE(unlink(path) == 0);
    }
    REQUIRE(rmdir(bdir) == 0);
    REQUIRE(rmdir(dir) == 0);

    buf_init(&base_index_body, BUF_NO_LIMIT);
    buf_init(&base_symbols_body, BUF_NO_LIMIT);
    REQUIRE(base[F_INDEX].len > SECTION_PREFIX + 4);
    REQUIRE(zstd_body(base[F_INDEX].data + SECTION_PREFIX,
                      base[F_INDEX].len - SECTION_PREFIX - 4,
                      &base_index_body));
    REQUIRE(base[F_SYMBOLS].len > SECTION_PREFIX + 4);
    REQUIRE(zstd_body(base[F_SYMBOLS].data + SECTION_PREFIX,
                      base[F_SYMBOLS].len - SECTION_PREFIX - 4,
                      &base_symbols_body));
    base_layout();
}

/* Mode 3, chunks: series `s`'s chunk becomes `body`; every frame after it
 * moves, so the chunks file and the index are rebuilt. */
static void replace_chunk(struct file files[N_FILES], size_t s,
                          const uint8_t *body, size_t n)
{
    struct buf chunks, idx;
    buf_init(&chunks, BUF_NO_LIMIT);
    buf_init(&idx, BUF_NO_LIMIT);
    buf_append(&chunks, base[F_CHUNKS].data, HEADER_LEN);
    size_t at = 0;
    for (size_t i = 0; i < base_n_series; i++) {
        uint64_t off = chunks.len, len;
        if (i == s) {
            zstd_append(&chunks, body, n);
            len = chunks.len - off;
        } else {
            len = base_series[i].len;
            buf_append(&chunks, base[F_CHUNKS].data + base_series[i].off, len);
        }
        tsdb_enc_u32(&chunks, crc(chunks.data + off, len));
        buf_append(&idx, base_index_body.data + at,
                   base_series[i].idx_from - at);
        tsdb_enc_uvarint(&idx, off);
        tsdb_enc_uvarint(&idx, len);
        at = base_series[i].idx_to;
    }
    buf_append(&idx, base_index_body.data + at, base_index_body.len - at);
    file_set(&files[F_CHUNKS], chunks.data, chunks.len);
    wrap_section(&files[F_INDEX], "KILNIDX1", idx.data, idx.len);
    buf_free(&chunks);
    buf_free(&idx);
}

/* ---- Turning an input into files ---------------------------------------- */

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void input_files(const uint8_t *data, size_t size,
                        struct file files[N_FILES])
{
    uint8_t c = data[0], mode = c & 3, which = (c >> 2) & 3;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    if (mode == 0) {
        for (int i = 0; i < N_FILES; i++) {
            uint32_t len = 0;
            if (left >= 4) {
                len = get_u32(p);
                p += 4;
                left -= 4;
            } else {
                left = 0;
            }
            if (len == ABSENT) {
                files[i].absent = true;
                continue;
            }
            if (len > left)
                len = (uint32_t)left;
            file_set(&files[i], p, len);
            p += len;
            left -= len;
        }
        if (c & 4)
            fix_section_crc(&files[F_INDEX]);
        if (c & 8)
            fix_section_crc(&files[F_SYMBOLS]);
        if (c & 16)
            fix_chunk_crcs(&files[F_CHUNKS]);
        return;
    }
    for (int i = 0; i < N_FILES; i++)
        file_set(&files[i], base[i].data, base[i].len);
    if (mode == 3 && which == F_INDEX) {
        wrap_section(&files[F_INDEX], "KILNIDX1", p, left);
    } else if (mode == 3 && which == F_SYMBOLS) {
        wrap_section(&files[F_SYMBOLS], "KILNSYM1", p, left);
    } else if (mode == 3 && which == F_CHUNKS) {
        replace_chunk(files, (size_t)(c >> 4) % base_n_series, p, left);
    } else {
        file_set(&files[which], p, left);
        if (mode == 2 && (which == F_INDEX || which == F_SYMBOLS))
            fix_section_crc(&files[which]);
        if (mode == 2 && which == F_CHUNKS)
            fix_chunk_crcs(&files[F_CHUNKS]);
    }
}

/* ---- Checking what the reader returns ----------------------------------- */

struct walker {
    const struct tsdb_symspace *sym;
    uint32_t n_stacks;
    uint8_t *seen; /* one bit per stack id */
    size_t budget;
    uint32_t frames[256];
};

static void walk(struct walker *w, uint32_t id)
{
    REQUIRE(id < w->n_stacks);
    if (w->seen[id / 8] & (1u << (id % 8)))
        return;
    w->seen[id / 8] |= (uint8_t)(1u << (id % 8));
    const struct tsdb_stacks *s = w->sym->stacks;
    size_t depth = tsdb_stacks_depth(s, id);
    if (depth > w->budget)
        return;
    w->budget -= depth;
    size_t max = sizeof(w->frames) / sizeof(w->frames[0]);
    size_t got = tsdb_stacks_walk(s, id, w->frames, max);
    REQUIRE(got == depth);
    REQUIRE((id == 0) == (depth == 0));
    for (size_t j = 0; j < got && j < max; j++) {
        REQUIRE(w->frames[j] >= 1);
        REQUIRE(w->frames[j] <= w->sym->symbols->n_locations);
    }
}

static bool verbose; /* KILN_FUZZ_VERBOSE set: say what each input did */

static void check_error(enum kb_status st, const struct kb_err *err)
{
    fuzz_check_error(st, err);
    if (verbose)
        fprintf(stderr, "  %s\n", err->msg);
}

/* Each reader is called on every series: the one of the series' kind may
 * succeed, the other must refuse. */
static void check_profiles(const struct tsdb_block *b, size_t i,
                           struct walker *w)
{
    bool mine = tsdb_block_series_kind(b, i) == TSDB_PROFILES;
    struct tsdb_profile_view *views;
    size_t n;
    void *mem;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = tsdb_block_read_profiles(b, i, &views, &n, &mem, &err);
    REQUIRE(mine || st != KB_OK);
    if (st != KB_OK) {
        if (mine)
            check_error(st, &err);
        else
            fuzz_check_error(st, &err);
        REQUIRE(views == NULL && n == 0 && mem == NULL);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        const struct tsdb_profile_view *v = &views[k];
        volatile int64_t sum = v->t_ms ^ v->duration_ns;
        for (size_t j = 0; j < v->n; j++) {
            REQUIRE(j == 0 || v->stacks[j - 1] < v->stacks[j]);
            walk(w, v->stacks[j]);
            sum ^= v->values[j];
        }
    }
    free(mem);
}

static void check_floats(const struct tsdb_block *b, size_t i)
{
    bool mine = tsdb_block_series_kind(b, i) == TSDB_FLOATS;
    int64_t *t;
    double *v;
    size_t n;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = tsdb_block_read_floats(b, i, &t, &v, &n, &err);
    REQUIRE(mine || st != KB_OK);
    if (st != KB_OK) {
        if (mine)
            check_error(st, &err);
        else
            fuzz_check_error(st, &err);
        REQUIRE(t == NULL && v == NULL && n == 0);
        return;
    }
    volatile double acc = 0;
    for (size_t k = 0; k < n; k++)
        acc += v[k] + (double)t[k];
    free(t);
    free(v);
}

static void check_postings(const struct tsdb_block *b)
{
    size_t ns = tsdb_block_series_count(b);
    for (size_t i = 0; i < ns; i++) {
        const struct labels *ls = tsdb_block_series_labels(b, i);
        for (size_t j = 0; j < labels_count(ls); j++) {
            const struct label *l = labels_at(ls, j);
            size_t n;
            const uint32_t *post =
                tsdb_block_postings(b, l->name, l->value, &n);
            REQUIRE(n == 0 || post != NULL);
            for (size_t k = 0; k < n; k++) {
                REQUIRE(post[k] < ns);
                REQUIRE(k == 0 || post[k - 1] < post[k]);
            }
        }
    }
    size_t n;
    const uint32_t *post = tsdb_block_postings(b, "__no_such_label", "x", &n);
    REQUIRE(post == NULL && n == 0);
}

static void check_block(const struct tsdb_block *b)
{
    const struct tsdb_block_meta *m = tsdb_block_meta(b);
    REQUIRE(strlen(m->ulid) == TSDB_ULID_LEN);
    for (size_t i = 0; i < m->n_sources; i++)
        REQUIRE(strlen(m->sources[i]) == TSDB_ULID_LEN);
    REQUIRE(strcmp(tsdb_block_dir(b), dir) == 0);

    const struct tsdb_symspace *sym = tsdb_block_symspace(b);
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    lim.max_locations = lim.max_functions = lim.max_mappings = SIZE_MAX;
    lim.max_strings = lim.max_stack_depth = SIZE_MAX;
    fuzz_check_valid(sym->symbols, &lim);

    struct walker w = {.sym = sym, .budget = WALK_BUDGET};
    w.n_stacks = tsdb_stacks_count(sym->stacks);
    w.seen = calloc((size_t)w.n_stacks / 8 + 1, 1);
    REQUIRE(w.seen != NULL);
    walk(&w, 0);

    size_t ns = tsdb_block_series_count(b);
    for (size_t i = 0; i < ns; i++) {
        const struct labels *ls = tsdb_block_series_labels(b, i);
        REQUIRE(ls != NULL);
        REQUIRE(i == 0 ||
                labels_compare(tsdb_block_series_labels(b, i - 1), ls) < 0);
        (void)tsdb_block_series_period(b, i);
        (void)tsdb_block_series_overlaps(b, i, m->mint, m->maxt);
        enum tsdb_series_kind kind = tsdb_block_series_kind(b, i);
        REQUIRE(kind == TSDB_PROFILES || kind == TSDB_FLOATS);
        check_profiles(b, i, &w);
        check_floats(b, i);
    }
    check_postings(b);
    free(w.seen);
}

/* ---- Seeds ----------------------------------------------------------------
 */

static void seed(const char *out, const char *name, uint8_t c,
                 const struct buf *rest)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", out, name);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    buf_putc(&b, (char)c);
    buf_append(&b, rest->data, rest->len);
    write_path(path, b.data, b.len);
    buf_free(&b);
}

static void pack(const struct file files[N_FILES], struct buf *out)
{
    buf_reset(out);
    for (int i = 0; i < N_FILES; i++) {
        tsdb_enc_u32(out, files[i].absent ? ABSENT : (uint32_t)files[i].len);
        if (!files[i].absent)
            buf_append(out, files[i].data, files[i].len);
    }
}

static void write_seeds(const char *out, int argc, char **argv)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    pack(base, &b);
    seed(out, "whole-builtin", 0, &b);
    static const char *const tag[N_FILES] = {"meta", "index", "symbols",
                                             "chunks"};
    for (int i = 0; i < N_FILES; i++) {
        char name[64];
        buf_reset(&b);
        buf_append(&b, base[i].data, base[i].len);
        snprintf(name, sizeof(name), "file-%s", tag[i]);
        seed(out, name, (uint8_t)(1 | i << 2), &b);
        if (i != F_META) {
            snprintf(name, sizeof(name), "file-%s-crc", tag[i]);
            seed(out, name, (uint8_t)(2 | i << 2), &b);
        }
    }
    seed(out, "body-index", 3 | F_INDEX << 2, &base_index_body);
    seed(out, "body-symbols", 3 | F_SYMBOLS << 2, &base_symbols_body);
    for (size_t s = 0; s < base_n_series; s++) {
        char name[64];
        snprintf(name, sizeof(name), "body-chunk-%zu", s);
        seed(out, name, (uint8_t)(3 | F_CHUNKS << 2 | s << 4),
             &base_series[s].body);
    }
    for (int a = 1; a < argc; a++) {
        struct file files[N_FILES] = {{0}};
        for (int i = 0; i < N_FILES; i++) {
            char path[4200];
            snprintf(path, sizeof(path), "%s/%s", argv[a], file_names[i]);
            if (!read_path(path, &files[i]))
                files[i].absent = true;
        }
        pack(files, &b);
        char name[128];
        snprintf(name, sizeof(name), "whole-block-%d", a);
        seed(out, name, 0, &b);
        for (int i = 0; i < N_FILES; i++)
            file_clear(&files[i]);
    }
    buf_free(&b);
}

/* ---- libFuzzer entry points -----------------------------------------------
 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_LEVEL_ERROR);
    verbose = getenv("KILN_FUZZ_VERBOSE") != NULL;
    build_base();
    const char *out = getenv("KILN_FUZZ_BLOCK_SEEDS");
    if (out != NULL && *out) {
        write_seeds(out, *argc, *argv);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct file files[N_FILES] = {{0}};
    input_files(data, size, files);
    make_dir("block");
    write_files(files);
    for (int i = 0; i < N_FILES; i++)
        file_clear(&files[i]);

    struct tsdb_block *b = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = tsdb_block_open(dir, &b, &err);
    if (st != KB_OK) {
        check_error(st, &err);
        REQUIRE(b == NULL);
    } else {
        REQUIRE(b != NULL);
        if (verbose)
            fprintf(stderr, "  opened: %zu series\n",
                    tsdb_block_series_count(b));
        check_block(b);
        tsdb_block_close(b);
    }
    remove_dir();
    return 0;
}
