/* tsdb/block.c: immutable on-disk blocks.
 *
 * Design. A block is a directory named by a ULID holding four files
 * (byte layouts in docs/format/block.md):
 *
 *   meta.json  what the block covers: ULID, [minTime, maxTime] in ms,
 *              counts, compaction level and the blocks it replaced.
 *   symbols    the block's own symbol space (symspace.c encoding, zstd).
 *   index      the series sorted by label set, each with its kind, period,
 *              time range, item count and chunk position, then postings:
 *              for every (label name, value) the ascending series numbers
 *              that carry it (zstd).
 *   chunks     one zstd frame per series: its profiles (times delta
 *              encoded, stack ids delta encoded, values zigzag varints) or
 *              float samples, each frame followed by its CRC32.
 *
 * Every file starts with an 8-byte magic and a version and ends with a
 * CRC32 of what precedes it (chunks: per frame), so a reader can tell a
 * damaged file from a valid one and never returns wrong data silently.
 *
 * Writing collects everything in memory: a writer owns a fresh symbol
 * space, and each added profile's stacks are re-expressed in it (walk the
 * source stack, map each location through a pprof_symtab, insert into the
 * block's stack tree; cached per source stack id), so a block never
 * depends on the head or on the blocks it was compacted from. finish()
 * writes the files into ULID.tmp, fsyncs them and the directory, and
 * renames the directory into place: a crash leaves either no block or a
 * complete one (a leftover .tmp is removed at open by db.c).
 *
 * Reading loads meta, symbols and index into memory at open (symbols are
 * needed by every query that reads the block) and keeps the chunks file
 * mapped; a series' chunk is checked and decompressed when read.
 */
#include "tsdb/block.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/alloc.h"
#include "base/fsio.h"
#include "base/hmap.h"
#include "base/jsonw.h"
#include "base/labels.h"
#include "base/timefmt.h"
#include "tsdb/enc.h"

#define MAGIC_LEN 8
#define BLOCK_VERSION 1
#define HEADER_LEN (MAGIC_LEN + 4)
/* Upper bounds a reader believes: beyond them a file is damaged. */
#define MAX_SECTION (1u << 30)    /* decompressed symbols or index */
#define MAX_CHUNK (1u << 30)      /* decompressed chunk */
#define MAX_META_BYTES (1u << 20) /* meta.json */
#define ZSTD_LEVEL 3

static const char MAGIC_SYMBOLS[MAGIC_LEN] = "KILNSYM1";
static const char MAGIC_INDEX[MAGIC_LEN] = "KILNIDX1";
static const char MAGIC_CHUNKS[MAGIC_LEN] = "KILNCHK1";

/* ---- Shared helpers ----------------------------------------------------- */

static uint32_t crc(const void *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

/* Time deltas are taken modulo 2^64, so that any two int64 times have one
 * and a damaged chunk cannot overflow the running sum (for times whose
 * difference fits in int64, the same numbers as plain subtraction). */
static int64_t time_delta(int64_t t, int64_t prev)
{
    return (int64_t)((uint64_t)t - (uint64_t)prev);
}

static int64_t time_add(int64_t prev, int64_t delta)
{
    return (int64_t)((uint64_t)prev + (uint64_t)delta);
}

/* Order writer series by label set. */
static int label_set_cmp(const void *a, const void *b);

/* Compress `raw` into `out` as one zstd frame. */
static void zstd_append(struct buf *out, const void *raw, size_t n)
{
    size_t bound = ZSTD_compressBound(n);
    buf_reserve(out, bound);
    size_t z = ZSTD_compress(out->data + out->len, bound, raw, n, ZSTD_LEVEL);
    if (ZSTD_isError(z))
        abort(); /* cannot fail with a bound-sized buffer */
    out->len += z;
}

/* Decompress one zstd frame of at most `max` bytes into `out`. */
static bool zstd_read(const uint8_t *p, size_t n, size_t max, struct buf *out)
{
    unsigned long long size = ZSTD_getFrameContentSize(p, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > max)
        return false;
    buf_reset(out);
    if (buf_reserve(out, (size_t)size) != KB_OK)
        return false;
    size_t got = ZSTD_decompress(out->data, (size_t)size + 1, p, n);
    if (ZSTD_isError(got) || got != size)
        return false;
    out->len = got;
    return true;
}

/* ---- Writing ------------------------------------------------------------ */

struct wseries {
    struct labels *labels;
    enum tsdb_series_kind kind;
    int64_t period;
    struct tsdb_profile_view *profiles; /* pairs malloc'd per profile */
    size_t n_profiles, cap_profiles;
    int64_t *ft;
    double *fv;
    size_t n_floats, cap_floats;
    int64_t mint, maxt;
};

struct tsdb_block_writer {
    struct tsdb_symspace sym;
    struct wseries **series;
    size_t n_series, cap_series;
    struct hmap *by_labels; /* labels text -> index + 1 */
    /* The source of the last add and its stack id translation. */
    const struct tsdb_symspace *src;
    struct tsdb_stack_mapper mapper;
    /* A downsampled block: its resolution (ms) and raw block. */
    int64_t resolution;
    char downsample_of[TSDB_ULID_LEN + 1];
};

void tsdb_block_writer_set_downsample(struct tsdb_block_writer *w,
                                      int64_t resolution, const char *raw)
{
    w->resolution = resolution;
    snprintf(w->downsample_of, sizeof(w->downsample_of), "%s", raw);
}

struct tsdb_block_writer *tsdb_block_writer_new(void)
{
    struct tsdb_block_writer *w = kb_calloc(1, sizeof(*w));
    tsdb_symspace_init(&w->sym);
    w->by_labels = hmap_new(0);
    return w;
}

void tsdb_block_writer_free(struct tsdb_block_writer *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n_series; i++) {
        struct wseries *s = w->series[i];
        for (size_t k = 0; k < s->n_profiles; k++)
            free((void *)s->profiles[k].stacks);
        free(s->profiles);
        free(s->ft);
        free(s->fv);
        labels_free(s->labels);
        free(s);
    }
    free(w->series);
    hmap_free(w->by_labels);
    tsdb_symspace_free(&w->sym);
    tsdb_stack_mapper_free(&w->mapper);
    free(w);
}

static struct wseries *writer_series(struct tsdb_block_writer *w,
                                     const struct labels *ls,
                                     enum tsdb_series_kind kind, int64_t period)
{
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    labels_format(ls, &key);
    bool found;
    uint64_t *v = hmap_put(w->by_labels, key.data, key.len, &found);
    buf_free(&key);
    if (found)
        return w->series[*v - 1];
    struct wseries *s = kb_calloc(1, sizeof(*s));
    s->labels = labels_dup(ls);
    s->kind = kind;
    s->period = period;
    s->mint = INT64_MAX;
    s->maxt = INT64_MIN;
    w->series =
        kb_grow(w->series, &w->cap_series, w->n_series + 1, sizeof(*w->series));
    w->series[w->n_series++] = s;
    *v = w->n_series;
    return s;
}

static int label_set_cmp(const void *a, const void *b)
{
    const struct wseries *x = *(struct wseries *const *)a;
    const struct wseries *y = *(struct wseries *const *)b;
    return labels_compare(x->labels, y->labels);
}

static void series_time(struct wseries *s, int64_t t)
{
    if (t < s->mint)
        s->mint = t;
    if (t > s->maxt)
        s->maxt = t;
}

static void use_source(struct tsdb_block_writer *w,
                       const struct tsdb_symspace *src)
{
    if (w->src == src)
        return;
    w->src = src;
    tsdb_stack_mapper_begin(&w->mapper, &w->sym, src);
}

struct pair {
    uint32_t stack;
    int64_t value;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

void tsdb_block_writer_add_profiles(struct tsdb_block_writer *w,
                                    const struct labels *ls, int64_t period,
                                    const struct tsdb_symspace *src,
                                    const struct tsdb_profile_view *profiles,
                                    size_t n)
{
    use_source(w, src);
    struct wseries *s = writer_series(w, ls, TSDB_PROFILES, period);
    struct pair *pairs = NULL;
    size_t cap = 0;
    for (size_t k = 0; k < n; k++) {
        const struct tsdb_profile_view *in = &profiles[k];
        pairs = kb_grow(pairs, &cap, in->n + 1, sizeof(*pairs));
        for (size_t j = 0; j < in->n; j++) {
            pairs[j].stack = tsdb_stack_mapper_map(&w->mapper, in->stacks[j]);
            pairs[j].value = in->values[j];
        }
        qsort(pairs, in->n, sizeof(*pairs), pair_cmp);
        size_t off = (in->n * sizeof(uint32_t) + 7) & ~(size_t)7;
        uint8_t *mem = kb_malloc(off + in->n * sizeof(int64_t));
        uint32_t *stacks = (uint32_t *)(void *)mem;
        int64_t *values = (int64_t *)(void *)(mem + off);
        for (size_t j = 0; j < in->n; j++) {
            stacks[j] = pairs[j].stack;
            values[j] = pairs[j].value;
        }
        s->profiles = kb_grow(s->profiles, &s->cap_profiles, s->n_profiles + 1,
                              sizeof(*s->profiles));
        s->profiles[s->n_profiles++] = (struct tsdb_profile_view){
            .t_ms = in->t_ms,
            .duration_ns = in->duration_ns,
            .n = in->n,
            .stacks = stacks,
            .values = values,
        };
        series_time(s, in->t_ms);
    }
    free(pairs);
}

void tsdb_block_writer_add_floats(struct tsdb_block_writer *w,
                                  const struct labels *ls, const int64_t *t,
                                  const double *v, size_t n)
{
    struct wseries *s = writer_series(w, ls, TSDB_FLOATS, 0);
    for (size_t k = 0; k < n; k++) {
        size_t cap = s->cap_floats;
        s->ft = kb_grow(s->ft, &s->cap_floats, s->n_floats + 1, sizeof(*s->ft));
        if (cap != s->cap_floats)
            s->fv = kb_reallocarray(s->fv, s->cap_floats, sizeof(*s->fv));
        s->ft[s->n_floats] = t[k];
        s->fv[s->n_floats++] = v[k];
        series_time(s, t[k]);
    }
}

static void encode_chunk(const struct wseries *s, int64_t base, struct buf *raw)
{
    buf_reset(raw);
    if (s->kind == TSDB_PROFILES) {
        tsdb_enc_uvarint(raw, s->n_profiles);
        int64_t prev_t = base;
        for (size_t k = 0; k < s->n_profiles; k++) {
            const struct tsdb_profile_view *p = &s->profiles[k];
            tsdb_enc_varint(raw, time_delta(p->t_ms, prev_t));
            prev_t = p->t_ms;
            tsdb_enc_varint(raw, p->duration_ns);
            tsdb_enc_uvarint(raw, p->n);
            uint32_t prev = 0;
            for (size_t j = 0; j < p->n; j++) {
                tsdb_enc_uvarint(raw, p->stacks[j] - prev);
                prev = p->stacks[j];
            }
            for (size_t j = 0; j < p->n; j++)
                tsdb_enc_varint(raw, p->values[j]);
        }
    } else {
        tsdb_enc_uvarint(raw, s->n_floats);
        int64_t prev_t = base;
        for (size_t k = 0; k < s->n_floats; k++) {
            tsdb_enc_varint(raw, time_delta(s->ft[k], prev_t));
            prev_t = s->ft[k];
        }
        for (size_t k = 0; k < s->n_floats; k++)
            tsdb_enc_f64(raw, s->fv[k]);
    }
}

/* A file: magic, version, then `body`, then CRC32 of all of it. */
static void file_begin(struct buf *f, const char magic[MAGIC_LEN])
{
    buf_reset(f);
    buf_append(f, magic, MAGIC_LEN);
    tsdb_enc_u32(f, BLOCK_VERSION);
}

static void file_end(struct buf *f)
{
    tsdb_enc_u32(f, crc(f->data, f->len));
}

static void encode_postings(struct tsdb_block_writer *w, struct buf *raw)
{
    /* (name, value) -> ascending series numbers, keys "name\0value". */
    struct hmap *post = hmap_new(0);
    uint32_t **lists = NULL;
    size_t *lens = NULL, *caps = NULL, n_lists = 0, cap_lists = 0;
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    for (size_t i = 0; i < w->n_series; i++) {
        const struct labels *ls = w->series[i]->labels;
        for (size_t j = 0; j < labels_count(ls); j++) {
            const struct label *l = labels_at(ls, j);
            buf_reset(&key);
            buf_append(&key, l->name, l->name_len + 1);
            buf_append(&key, l->value, l->value_len);
            bool found;
            uint64_t *v = hmap_put(post, key.data, key.len, &found);
            if (!found) {
                size_t c = cap_lists;
                lists = kb_grow(lists, &cap_lists, n_lists + 1, sizeof(*lists));
                if (c != cap_lists) {
                    lens = kb_reallocarray(lens, cap_lists, sizeof(*lens));
                    caps = kb_reallocarray(caps, cap_lists, sizeof(*caps));
                }
                lists[n_lists] = NULL;
                lens[n_lists] = caps[n_lists] = 0;
                *v = n_lists++;
            }
            lists[*v] =
                kb_grow(lists[*v], &caps[*v], lens[*v] + 1, sizeof(uint32_t));
            lists[*v][lens[*v]++] = (uint32_t)i;
        }
    }
    tsdb_enc_uvarint(raw, n_lists);
    size_t pos = 0;
    const void *k;
    size_t klen;
    uint64_t idx;
    while (hmap_next(post, &pos, &k, &klen, &idx)) {
        size_t nlen = strlen(k);
        tsdb_enc_bytes(raw, k, nlen);
        tsdb_enc_bytes(raw, (const char *)k + nlen + 1, klen - nlen - 1);
        tsdb_enc_uvarint(raw, lens[idx]);
        uint32_t prev = 0;
        for (size_t j = 0; j < lens[idx]; j++) {
            tsdb_enc_uvarint(raw, lists[idx][j] - prev);
            prev = lists[idx][j];
        }
        free(lists[idx]);
    }
    free(lists);
    free(lens);
    free(caps);
    buf_free(&key);
    hmap_free(post);
}

static void write_meta(const struct tsdb_block_writer *w, struct buf *out,
                       const char *ulid, int64_t mint, int64_t maxt, int level,
                       const char *const *sources, size_t n_sources,
                       const uint64_t counts[4])
{
    struct jsonw j;
    jsonw_init(&j, out);
    jsonw_object_begin(&j);
    jsonw_key(&j, "ulid");
    jsonw_string(&j, ulid);
    jsonw_key(&j, "minTime");
    jsonw_int(&j, mint);
    jsonw_key(&j, "maxTime");
    jsonw_int(&j, maxt);
    jsonw_key(&j, "stats");
    jsonw_object_begin(&j);
    const char *names[4] = {"numSeries", "numProfiles", "numFloatSamples",
                            "numPairs"};
    for (int i = 0; i < 4; i++) {
        jsonw_key(&j, names[i]);
        jsonw_uint(&j, counts[i]);
    }
    jsonw_object_end(&j);
    jsonw_key(&j, "compaction");
    jsonw_object_begin(&j);
    jsonw_key(&j, "level");
    jsonw_int(&j, level);
    jsonw_key(&j, "sources");
    jsonw_array_begin(&j);
    for (size_t i = 0; i < n_sources; i++)
        jsonw_string(&j, sources[i]);
    jsonw_array_end(&j);
    jsonw_object_end(&j);
    if (w->resolution > 0) {
        jsonw_key(&j, "downsample");
        jsonw_object_begin(&j);
        jsonw_key(&j, "resolution");
        jsonw_int(&j, w->resolution);
        jsonw_key(&j, "of");
        jsonw_string(&j, w->downsample_of);
        jsonw_object_end(&j);
    }
    jsonw_key(&j, "version");
    jsonw_int(&j, BLOCK_VERSION);
    jsonw_object_end(&j);
    jsonw_finish(&j, NULL);
    buf_putc(out, '\n');
}

static void new_ulid(int64_t ms, char out[TSDB_ULID_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t rnd[10];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t x = (uint64_t)ms ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 10; i++)
            rnd[i] = (uint8_t)(x >> (i * 6)) ^ (uint8_t)i;
    }
    uint64_t t = (uint64_t)ms;
    for (int i = 9; i >= 0; i--) {
        out[i] = alphabet[t & 31];
        t >>= 5;
    }
    /* 80 random bits: 16 characters of 5 bits. */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = rnd[byte] | (byte + 1 < 10 ? rnd[byte + 1] << 8 : 0);
        out[10 + i] = alphabet[(v >> shift) & 31];
    }
    out[TSDB_ULID_LEN] = '\0';
}

static enum kb_status write_file(const char *dir, const char *name,
                                 const struct buf *b, struct kb_err *err)
{
    char path[KB_PATH_MAX];
    enum kb_status st = kb_path_join(path, dir, name, err);
    return st ? st : kb_file_write_sync(path, b->data, b->len, err);
}

enum kb_status
tsdb_block_writer_finish(struct tsdb_block_writer *w, const char *db_dir,
                         int64_t mint, int64_t maxt, int level,
                         const char *const *sources, size_t n_sources,
                         char ulid[TSDB_ULID_LEN + 1], struct kb_err *err)
{
    qsort(w->series, w->n_series, sizeof(*w->series), label_set_cmp);
    struct buf file, raw, chunk;
    buf_init(&file, BUF_NO_LIMIT);
    buf_init(&raw, BUF_NO_LIMIT);
    buf_init(&chunk, BUF_NO_LIMIT);
    uint64_t counts[4] = {w->n_series, 0, 0, 0};
    char tmp[KB_PATH_MAX], final[KB_PATH_MAX], tmpname[TSDB_ULID_LEN + 8];
    new_ulid(kb_now_ms(), ulid);
    snprintf(tmpname, sizeof(tmpname), "%s.tmp", ulid);
    enum kb_status st;
    if ((st = kb_path_join(tmp, db_dir, tmpname, err)) ||
        (st = kb_path_join(final, db_dir, ulid, err)))
        goto done;
    if (mkdir(tmp, 0755) != 0) {
        st = kb_errf(err, KB_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }

    /* chunks, remembering each series' (offset, length) for the index */
    uint64_t *offs = kb_calloc(w->n_series + 1, 2 * sizeof(uint64_t));
    file_begin(&file, MAGIC_CHUNKS);
    for (size_t i = 0; i < w->n_series; i++) {
        const struct wseries *s = w->series[i];
        encode_chunk(s, mint, &raw);
        buf_reset(&chunk);
        zstd_append(&chunk, raw.data, raw.len);
        offs[2 * i] = file.len;
        offs[2 * i + 1] = chunk.len;
        buf_append(&file, chunk.data, chunk.len);
        tsdb_enc_u32(&file, crc(chunk.data, chunk.len));
        counts[1] += s->n_profiles;
        counts[2] += s->n_floats;
        for (size_t k = 0; k < s->n_profiles; k++)
            counts[3] += s->profiles[k].n;
    }
    st = write_file(tmp, "chunks", &file, err);

    /* index */
    buf_reset(&raw);
    tsdb_enc_uvarint(&raw, w->n_series);
    for (size_t i = 0; st == KB_OK && i < w->n_series; i++) {
        const struct wseries *s = w->series[i];
        tsdb_enc_uvarint(&raw, labels_count(s->labels));
        for (size_t j = 0; j < labels_count(s->labels); j++) {
            const struct label *l = labels_at(s->labels, j);
            tsdb_enc_bytes(&raw, l->name, l->name_len);
            tsdb_enc_bytes(&raw, l->value, l->value_len);
        }
        tsdb_enc_uvarint(&raw, (uint64_t)s->kind);
        tsdb_enc_varint(&raw, s->period);
        tsdb_enc_varint(&raw, s->mint);
        tsdb_enc_varint(&raw, s->maxt);
        tsdb_enc_uvarint(&raw, s->kind == TSDB_PROFILES ? s->n_profiles
                                                        : s->n_floats);
        tsdb_enc_uvarint(&raw, offs[2 * i]);
        tsdb_enc_uvarint(&raw, offs[2 * i + 1]);
    }
    free(offs);
    encode_postings(w, &raw);
    file_begin(&file, MAGIC_INDEX);
    tsdb_enc_u64(&file, raw.len);
    zstd_append(&file, raw.data, raw.len);
    file_end(&file);
    if (st == KB_OK)
        st = write_file(tmp, "index", &file, err);

    /* symbols */
    struct tsdb_symspace_marks empty;
    tsdb_symspace_empty_marks(&empty);
    buf_reset(&raw);
    tsdb_symspace_encode(&w->sym, &empty, &raw);
    file_begin(&file, MAGIC_SYMBOLS);
    tsdb_enc_u64(&file, raw.len);
    zstd_append(&file, raw.data, raw.len);
    file_end(&file);
    if (st == KB_OK)
        st = write_file(tmp, "symbols", &file, err);

    buf_reset(&file);
    write_meta(w, &file, ulid, mint, maxt, level, sources, n_sources, counts);
    if (st == KB_OK)
        st = write_file(tmp, "meta.json", &file, err);
    if (st == KB_OK)
        st = kb_dir_sync(tmp, err);
    if (st == KB_OK && rename(tmp, final) != 0)
        st = kb_errf(err, KB_ERR_IO, "%s: %s", final, strerror(errno));
    if (st == KB_OK)
        st = kb_dir_sync(db_dir, err);
    if (st != KB_OK)
        kb_remove_all(tmp, NULL);
done:
    buf_free(&file);
    buf_free(&raw);
    buf_free(&chunk);
    return st;
}

/* ---- Reading ------------------------------------------------------------ */

struct rseries {
    struct labels *labels;
    enum tsdb_series_kind kind;
    int64_t period, mint, maxt;
    uint64_t items, off, len;
};

struct tsdb_block {
    char *dir;
    struct tsdb_block_meta meta;
    struct tsdb_symspace sym;
    struct rseries *series;
    size_t n_series;
    struct hmap *postings; /* "name\0value" -> offset into post (+1 count) */
    uint32_t *post;        /* all postings lists back to back */
    size_t n_post;
    const uint8_t *chunks; /* mapped chunks file */
    size_t chunks_len;
};

static enum kb_status damaged(struct kb_err *err, const char *dir,
                              const char *file, const char *what)
{
    return kb_errf(err, KB_ERR_INVALID, "block %s: %s: %s", dir, file, what);
}

/* Read a sectioned file (symbols or index) and return its decompressed
 * body in `out`. */
static enum kb_status read_section(const char *dir, const char *name,
                                   const char magic[MAGIC_LEN], struct buf *out,
                                   struct kb_err *err)
{
    char path[KB_PATH_MAX];
    struct buf f;
    buf_init(&f, MAX_SECTION);
    enum kb_status st = kb_path_join(path, dir, name, err);
    if (st == KB_OK)
        st = kb_file_read(path, &f, err);
    if (st)
        goto done;
    if (f.len < HEADER_LEN + 8 + 4 || memcmp(f.data, magic, MAGIC_LEN) != 0) {
        st = damaged(err, dir, name, "bad magic or too short");
        goto done;
    }
    struct tsdb_dec d;
    tsdb_dec_init(&d, f.data + MAGIC_LEN, f.len - MAGIC_LEN);
    uint32_t version = tsdb_dec_u32(&d);
    uint64_t raw_len = tsdb_dec_u64(&d);
    uint32_t want = 0;
    want = (uint32_t)f.data[f.len - 4] | (uint32_t)f.data[f.len - 3] << 8 |
           (uint32_t)f.data[f.len - 2] << 16 |
           (uint32_t)f.data[f.len - 1] << 24;
    if (version != BLOCK_VERSION) {
        st = kb_errf(err, KB_ERR_UNSUPPORTED,
                     "block %s: %s: version %u (newer Kiln?)", dir, name,
                     version);
    } else if (crc(f.data, f.len - 4) != want) {
        st = damaged(err, dir, name, "checksum mismatch");
    } else if (raw_len > MAX_SECTION ||
               !zstd_read(f.data + HEADER_LEN + 8, f.len - HEADER_LEN - 8 - 4,
                          MAX_SECTION, out) ||
               out->len != raw_len) {
        st = damaged(err, dir, name, "bad compressed body");
    }
done:
    buf_free(&f);
    return st;
}

static enum kb_status load_meta(struct tsdb_block *b, struct kb_err *err)
{
    char path[KB_PATH_MAX];
    struct buf f;
    buf_init(&f, MAX_META_BYTES);
    enum kb_status st = kb_path_join(path, b->dir, "meta.json", err);
    if (st == KB_OK)
        st = kb_file_read(path, &f, err);
    if (st) {
        buf_free(&f);
        return st;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)f.data, f.len, 0, &je);
    buf_free(&f);
    if (root == NULL)
        return kb_errf(err, KB_ERR_INVALID, "%s: %d:%d: %s", path, je.line,
                       je.column, je.text);
    json_t *ulid = json_object_get(root, "ulid");
    json_t *mint = json_object_get(root, "minTime");
    json_t *maxt = json_object_get(root, "maxTime");
    json_t *version = json_object_get(root, "version");
    json_t *stats = json_object_get(root, "stats");
    json_t *comp = json_object_get(root, "compaction");
    st = KB_OK;
    if (!json_is_string(ulid) ||
        strlen(json_string_value(ulid)) != TSDB_ULID_LEN ||
        !json_is_integer(mint) || !json_is_integer(maxt) ||
        !json_is_integer(version) || !json_is_object(stats) ||
        !json_is_object(comp)) {
        st = kb_errf(err, KB_ERR_INVALID, "%s: missing or mistyped fields",
                     path);
        goto done;
    }
    if (json_integer_value(version) != BLOCK_VERSION) {
        st = kb_errf(err, KB_ERR_UNSUPPORTED, "%s: version %lld", path,
                     (long long)json_integer_value(version));
        goto done;
    }
    strcpy(b->meta.ulid, json_string_value(ulid));
    b->meta.mint = json_integer_value(mint);
    b->meta.maxt = json_integer_value(maxt);
    const char *names[4] = {"numSeries", "numProfiles", "numFloatSamples",
                            "numPairs"};
    uint64_t *dst[4] = {&b->meta.series, &b->meta.profiles,
                        &b->meta.float_samples, &b->meta.pairs};
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(stats, names[i]);
        *dst[i] = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
    }
    json_t *level = json_object_get(comp, "level");
    b->meta.level = json_is_integer(level) ? (int)json_integer_value(level) : 1;
    json_t *sources = json_object_get(comp, "sources");
    size_t n = json_is_array(sources) ? json_array_size(sources) : 0;
    b->meta.sources = kb_calloc(n + 1, sizeof(*b->meta.sources));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(sources, i));
        if (s && strlen(s) == TSDB_ULID_LEN)
            strcpy(b->meta.sources[b->meta.n_sources++], s);
    }
    json_t *down = json_object_get(root, "downsample");
    if (down != NULL) {
        json_t *res = json_object_get(down, "resolution");
        json_t *of = json_object_get(down, "of");
        if (!json_is_integer(res) || json_integer_value(res) <= 0 ||
            !json_is_string(of) ||
            strlen(json_string_value(of)) != TSDB_ULID_LEN) {
            st = kb_errf(err, KB_ERR_INVALID, "%s: bad \"downsample\"", path);
            goto done;
        }
        b->meta.resolution = json_integer_value(res);
        strcpy(b->meta.downsample_of, json_string_value(of));
    }
done:
    json_decref(root);
    return st;
}

static enum kb_status load_index(struct tsdb_block *b, struct buf *raw,
                                 struct kb_err *err)
{
    struct tsdb_dec d;
    tsdb_dec_init(&d, raw->data, raw->len);
    uint64_t n = tsdb_dec_count(&d, tsdb_dec_left(&d) / 8);
    b->series = kb_calloc(n + 1, sizeof(*b->series));
    struct labels_builder *lb = labels_builder_new();
    const char *why = NULL;
    for (uint64_t i = 0; i < n && why == NULL; i++) {
        struct rseries *s = &b->series[i];
        uint64_t nl = tsdb_dec_count(&d, tsdb_dec_left(&d) / 2);
        labels_builder_reset(lb, NULL);
        for (uint64_t j = 0; j < nl && !d.bad; j++) {
            size_t nn, vn;
            const uint8_t *name = tsdb_dec_bytes(&d, &nn);
            const uint8_t *value = tsdb_dec_bytes(&d, &vn);
            if (d.bad)
                break;
            char *cn = kb_strndup((const char *)name, nn);
            char *cv = kb_strndup((const char *)value, vn);
            if (labels_builder_add(lb, cn, cv, NULL) != KB_OK)
                d.bad = true;
            free(cn);
            free(cv);
        }
        uint64_t kind = tsdb_dec_uvarint(&d);
        s->period = tsdb_dec_varint(&d);
        s->mint = tsdb_dec_varint(&d);
        s->maxt = tsdb_dec_varint(&d);
        s->items = tsdb_dec_uvarint(&d);
        s->off = tsdb_dec_uvarint(&d);
        s->len = tsdb_dec_uvarint(&d);
        /* The frame and its CRC lie between the header and the end (each
         * subtraction only once it cannot wrap). */
        if (d.bad || (kind != TSDB_PROFILES && kind != TSDB_FLOATS) ||
            s->off < HEADER_LEN || s->off > b->chunks_len ||
            s->len > b->chunks_len - s->off ||
            b->chunks_len - s->off - s->len < 4 ||
            labels_builder_finish(lb, &s->labels, NULL) != KB_OK) {
            why = "bad series entry";
            break;
        }
        s->kind = (enum tsdb_series_kind)kind;
        b->n_series++;
        if (i > 0 && labels_compare(b->series[i - 1].labels, s->labels) >= 0)
            why = "series out of order";
    }
    labels_builder_free(lb);
    if (why)
        return damaged(err, b->dir, "index", why);
    uint64_t np = tsdb_dec_count(&d, tsdb_dec_left(&d) / 3);
    b->postings = hmap_new(np);
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    size_t cap = 0;
    for (uint64_t i = 0; i < np && why == NULL; i++) {
        size_t nn, vn;
        const uint8_t *name = tsdb_dec_bytes(&d, &nn);
        const uint8_t *value = tsdb_dec_bytes(&d, &vn);
        uint64_t cnt = tsdb_dec_count(&d, tsdb_dec_left(&d));
        if (d.bad || cnt > b->n_series) {
            why = "bad postings";
            break;
        }
        buf_reset(&key);
        buf_append(&key, name, nn);
        buf_putc(&key, '\0');
        buf_append(&key, value, vn);
        bool found;
        uint64_t *v = hmap_put(b->postings, key.data, key.len, &found);
        if (found) {
            why = "repeated postings";
            break;
        }
        *v = b->n_post | (cnt << 32);
        b->post = kb_grow(b->post, &cap, b->n_post + cnt + 1, sizeof(*b->post));
        /* Deltas: the first from 0, the others >= 1, all in range (so
         * the list is strictly ascending and the sum cannot wrap). */
        uint64_t prev = 0;
        for (uint64_t j = 0; j < cnt; j++) {
            uint64_t delta = tsdb_dec_uvarint(&d);
            if ((j > 0 && delta == 0) || delta >= b->n_series - prev)
                d.bad = true;
            else
                prev += delta;
            b->post[b->n_post++] = (uint32_t)prev;
        }
        if (d.bad)
            why = "bad postings list";
    }
    buf_free(&key);
    if (why == NULL && tsdb_dec_left(&d) != 0)
        why = "trailing bytes";
    return why ? damaged(err, b->dir, "index", why) : KB_OK;
}

static enum kb_status map_chunks(struct tsdb_block *b, struct kb_err *err)
{
    char path[KB_PATH_MAX];
    if (kb_path_join(path, b->dir, "chunks", err))
        return KB_ERR_LIMIT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    enum kb_status st = KB_OK;
    if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < HEADER_LEN) {
        st = damaged(err, b->dir, "chunks", "too short");
        goto done;
    }
    b->chunks_len = (size_t)sb.st_size;
    void *m = mmap(NULL, b->chunks_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        st = kb_errf(err, KB_ERR_IO, "%s: mmap: %s", path, strerror(errno));
        goto done;
    }
    b->chunks = m;
    struct tsdb_dec d;
    tsdb_dec_init(&d, b->chunks + MAGIC_LEN, 4);
    if (memcmp(b->chunks, MAGIC_CHUNKS, MAGIC_LEN) != 0)
        st = damaged(err, b->dir, "chunks", "bad magic");
    else if (tsdb_dec_u32(&d) != BLOCK_VERSION)
        st = kb_errf(err, KB_ERR_UNSUPPORTED,
                     "block %s: chunks: unsupported version", b->dir);
done:
    close(fd);
    return st;
}

enum kb_status tsdb_block_open(const char *dir, struct tsdb_block **out,
                               struct kb_err *err)
{
    *out = NULL;
    struct tsdb_block *b = kb_calloc(1, sizeof(*b));
    b->dir = kb_strdup(dir);
    tsdb_symspace_init(&b->sym);
    struct buf raw;
    buf_init(&raw, MAX_SECTION);
    enum kb_status st = KB_OK;
    /* A missing file is damage (an incomplete copy), not an I/O error. */
    const char *files[] = {"meta.json", "index", "symbols", "chunks"};
    for (int i = 0; i < 4 && st == KB_OK; i++) {
        char path[KB_PATH_MAX];
        struct stat sb;
        if (kb_path_join(path, dir, files[i], NULL) == KB_OK &&
            stat(path, &sb) != 0 && errno == ENOENT)
            st = damaged(err, dir, files[i], "missing");
    }
    if (st || (st = load_meta(b, err)) || (st = map_chunks(b, err)) ||
        (st = read_section(dir, "index", MAGIC_INDEX, &raw, err)) ||
        (st = load_index(b, &raw, err)) ||
        (st = read_section(dir, "symbols", MAGIC_SYMBOLS, &raw, err)))
        goto fail;
    struct tsdb_dec d;
    tsdb_dec_init(&d, raw.data, raw.len);
    const char *why = NULL;
    if (!tsdb_symspace_decode(&b->sym, &d, &why)) {
        st = damaged(err, dir, "symbols", why);
        goto fail;
    }
    if (tsdb_dec_left(&d) != 0) {
        st = damaged(err, dir, "symbols", "trailing bytes");
        goto fail;
    }
    for (int i = 0; i < 4; i++) {
        char path[KB_PATH_MAX];
        struct stat sb;
        if (kb_path_join(path, dir, files[i], NULL) == KB_OK &&
            stat(path, &sb) == 0)
            b->meta.bytes += (uint64_t)sb.st_size;
    }
    buf_free(&raw);
    *out = b;
    return KB_OK;
fail:
    buf_free(&raw);
    tsdb_block_close(b);
    return st;
}

void tsdb_block_close(struct tsdb_block *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_series; i++)
        labels_free(b->series[i].labels);
    free(b->series);
    hmap_free(b->postings);
    free(b->post);
    if (b->chunks)
        munmap((void *)b->chunks, b->chunks_len);
    tsdb_symspace_free(&b->sym);
    free(b->meta.sources);
    free(b->dir);
    free(b);
}

const struct tsdb_block_meta *tsdb_block_meta(const struct tsdb_block *b)
{
    return &b->meta;
}

const char *tsdb_block_dir(const struct tsdb_block *b)
{
    return b->dir;
}

const struct tsdb_symspace *tsdb_block_symspace(const struct tsdb_block *b)
{
    return &b->sym;
}

size_t tsdb_block_series_count(const struct tsdb_block *b)
{
    return b->n_series;
}

const struct labels *tsdb_block_series_labels(const struct tsdb_block *b,
                                              size_t i)
{
    return b->series[i].labels;
}

enum tsdb_series_kind tsdb_block_series_kind(const struct tsdb_block *b,
                                             size_t i)
{
    return b->series[i].kind;
}

int64_t tsdb_block_series_period(const struct tsdb_block *b, size_t i)
{
    return b->series[i].period;
}

bool tsdb_block_series_overlaps(const struct tsdb_block *b, size_t i,
                                int64_t mint, int64_t maxt)
{
    return b->series[i].items > 0 && b->series[i].mint <= maxt &&
           b->series[i].maxt >= mint;
}

long tsdb_block_find_series(const struct tsdb_block *b, const struct labels *ls)
{
    size_t lo = 0, hi = b->n_series;
    while (lo < hi) { /* series are sorted by label set */
        size_t mid = lo + (hi - lo) / 2;
        int c = labels_compare(b->series[mid].labels, ls);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const uint32_t *tsdb_block_postings(const struct tsdb_block *b,
                                    const char *name, const char *value,
                                    size_t *n)
{
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    buf_puts(&key, name);
    buf_putc(&key, '\0');
    buf_puts(&key, value);
    uint64_t *v = hmap_get(b->postings, key.data, key.len);
    buf_free(&key);
    *n = v ? (size_t)(*v >> 32) : 0;
    return v ? b->post + (uint32_t)*v : NULL;
}

/* Check and decompress the chunk of series i into `raw`. */
static enum kb_status read_chunk(const struct tsdb_block *b, size_t i,
                                 struct buf *raw, struct kb_err *err)
{
    const struct rseries *s = &b->series[i];
    const uint8_t *p = b->chunks + s->off;
    uint32_t want = (uint32_t)p[s->len] | (uint32_t)p[s->len + 1] << 8 |
                    (uint32_t)p[s->len + 2] << 16 |
                    (uint32_t)p[s->len + 3] << 24;
    if (crc(p, s->len) != want || !zstd_read(p, s->len, MAX_CHUNK, raw))
        return kb_errf(err, KB_ERR_INVALID,
                       "block %s: chunks: series %zu: checksum or "
                       "compression damaged",
                       b->dir, i);
    return KB_OK;
}

enum kb_status tsdb_block_read_profiles(const struct tsdb_block *b, size_t i,
                                        struct tsdb_profile_view **views,
                                        size_t *n, void **mem,
                                        struct kb_err *err)
{
    *views = NULL;
    *n = 0;
    *mem = NULL;
    struct buf raw;
    buf_init(&raw, MAX_CHUNK);
    enum kb_status st = read_chunk(b, i, &raw, err);
    if (st) {
        buf_free(&raw);
        return st;
    }
    /* Views, then all pairs: the pairs never outnumber the chunk's bytes. */
    struct tsdb_dec d;
    tsdb_dec_init(&d, raw.data, raw.len);
    uint64_t np = tsdb_dec_count(&d, tsdb_dec_left(&d) / 3);
    size_t max_pairs = raw.len / 2 + 1;
    size_t vsize = (np + 1) * sizeof(struct tsdb_profile_view);
    uint8_t *m =
        kb_malloc(vsize + max_pairs * (sizeof(uint32_t) + sizeof(int64_t)));
    struct tsdb_profile_view *v = (struct tsdb_profile_view *)(void *)m;
    int64_t *values = (int64_t *)(void *)(m + vsize);
    uint32_t *stacks = (uint32_t *)(void *)(values + max_pairs);
    uint32_t n_stacks = tsdb_stacks_count(b->sym.stacks);
    size_t used = 0;
    int64_t t = b->meta.mint;
    for (uint64_t k = 0; k < np && !d.bad; k++) {
        t = time_add(t, tsdb_dec_varint(&d));
        v[k].t_ms = t;
        v[k].duration_ns = tsdb_dec_varint(&d);
        uint64_t cnt = tsdb_dec_count(&d, max_pairs - used);
        v[k].n = cnt;
        v[k].stacks = stacks + used;
        v[k].values = values + used;
        uint64_t prev = 0;
        for (uint64_t j = 0; j < cnt; j++) {
            prev += tsdb_dec_uvarint(&d);
            if (prev >= n_stacks || (j > 0 && stacks[used + j - 1] >= prev))
                d.bad = true;
            stacks[used + j] = (uint32_t)prev;
        }
        for (uint64_t j = 0; j < cnt; j++)
            values[used + j] = tsdb_dec_varint(&d);
        used += cnt;
    }
    if (d.bad || tsdb_dec_left(&d) != 0 || b->series[i].kind != TSDB_PROFILES) {
        free(m);
        buf_free(&raw);
        return kb_errf(err, KB_ERR_INVALID,
                       "block %s: chunks: series %zu: bad profile encoding",
                       b->dir, i);
    }
    buf_free(&raw);
    *views = v;
    *n = np;
    *mem = m;
    return KB_OK;
}

enum kb_status tsdb_block_read_floats(const struct tsdb_block *b, size_t i,
                                      int64_t **t, double **v, size_t *n,
                                      struct kb_err *err)
{
    *t = NULL;
    *v = NULL;
    *n = 0;
    struct buf raw;
    buf_init(&raw, MAX_CHUNK);
    enum kb_status st = read_chunk(b, i, &raw, err);
    if (st) {
        buf_free(&raw);
        return st;
    }
    struct tsdb_dec d;
    tsdb_dec_init(&d, raw.data, raw.len);
    uint64_t cnt = tsdb_dec_count(&d, tsdb_dec_left(&d) / 9);
    int64_t *ts = kb_malloc((cnt + 1) * sizeof(*ts));
    double *vs = kb_malloc((cnt + 1) * sizeof(*vs));
    int64_t acc = b->meta.mint;
    for (uint64_t k = 0; k < cnt; k++)
        ts[k] = acc = time_add(acc, tsdb_dec_varint(&d));
    for (uint64_t k = 0; k < cnt; k++)
        vs[k] = tsdb_dec_f64(&d);
    buf_free(&raw);
    if (d.bad || tsdb_dec_left(&d) != 0 || b->series[i].kind != TSDB_FLOATS) {
        free(ts);
        free(vs);
        return kb_errf(err, KB_ERR_INVALID,
                       "block %s: chunks: series %zu: bad float encoding",
                       b->dir, i);
    }
    *t = ts;
    *v = vs;
    *n = cnt;
    return KB_OK;
}
