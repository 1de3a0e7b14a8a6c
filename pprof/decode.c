/* pprof/decode.c: gzip'd or raw protobuf bytes -> validated pprof_profile.
 *
 * Design. Decoding runs in four steps, each of which can refuse the input
 * with an error that names the problem:
 *
 *   1. gunzip, when the bytes start with the gzip magic, into a buffer whose
 *      limit is lim->max_decompressed: a gzip bomb stops at the limit.
 *      Concatenated gzip members are accepted (as Go's reader does);
 *      anything else after the stream is an error.
 *   2. prescan: one pass over the top-level protobuf fields that checks the
 *      wire structure (keys, lengths, wire types) and counts samples,
 *      locations, functions, mappings and strings, so that the count limits
 *      are enforced before protobuf-c allocates anything for them.
 *   3. unpack with protobuf-c (code generated from proto/profile.proto),
 *      allocating from the new profile's arena: the strings and value arrays
 *      that protobuf-c builds are kept as they are, the rest is dropped with
 *      the arena when the profile is freed.
 *   4. convert and validate: ids are renumbered to dense 1..N (profile.h) via
 *      an id map, and every reference and string index is checked.
 *
 * Nothing from the input is trusted before step 4 has checked it; no
 * assert() fires on input. Memory is bounded by the limits: the buffers by
 * max_compressed and max_decompressed, the model by the count limits.
 */
#include "pprof/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/fsio.h"
#include "base/hmap.h"
#include "proto/profile.pb-c.h"

/* ---- Step 1: gunzip ----------------------------------------------------- */

static bool is_gzip(const uint8_t *data, size_t len)
{
    return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

static enum kb_status gunzip(const uint8_t *data, size_t len, size_t limit,
                             struct buf *out, struct kb_err *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return kb_errf(err, KB_ERR_INTERNAL, "gzip: inflateInit failed");
    enum kb_status st = KB_OK;
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
    /* Profiles compress about 4:1: start there, then double. */
    size_t want = len < SIZE_MAX / 8 ? len * 4 + 4096 : len;
    for (;;) {
        size_t left = out->limit - out->len; /* what the limit allows */
        if (left == 0) {
            st = kb_errf(err, KB_ERR_LIMIT,
                         "gzip: decompressed size exceeds the limit of "
                         "%zu bytes (gzip bomb?)",
                         limit);
            goto done;
        }
        if (out->cap - out->len <= 1) {
            buf_reserve(out, want < left ? want : left); /* cannot fail */
            want = out->cap;                             /* next time: double */
        }
        size_t room = out->cap - out->len - 1;
        if (room > left)
            room = left;
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)(room > UINT32_MAX ? UINT32_MAX : room);
        int zr = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        out->data[out->len] = '\0';
        if (zr == Z_STREAM_END) {
            size_t used = (size_t)(zs.next_in - data);
            if (used == len)
                goto done;
            if (!is_gzip(data + used, len - used)) {
                st = kb_errf(err, KB_ERR_INVALID,
                             "gzip: %zu bytes of garbage after the stream",
                             len - used);
                goto done;
            }
            /* Another gzip member follows. */
            inflateReset(&zs);
            zs.next_in = (Bytef *)data + used;
            zs.avail_in = (uInt)(len - used);
            continue;
        }
        if (zr == Z_OK)
            continue;
        if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
            st = kb_errf(err, KB_ERR_INVALID, "gzip: truncated stream");
            goto done;
        }
        if (zr == Z_BUF_ERROR && zs.avail_out != 0) {
            st = kb_errf(err, KB_ERR_INVALID, "gzip: stream makes no progress");
            goto done;
        }
        if (zr == Z_BUF_ERROR)
            continue; /* output full: loop grows the buffer */
        st = kb_errf(err, KB_ERR_INVALID, "gzip: corrupt data: %s",
                     zs.msg ? zs.msg : "unknown error");
        goto done;
    }
done:
    inflateEnd(&zs);
    return st;
}

/* ---- Step 2: prescan ---------------------------------------------------- */

/* Read a varint at *off; false if truncated or longer than 10 bytes. */
static bool read_varint(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*off >= n)
            return false;
        uint8_t b = p[(*off)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Profile field numbers (proto/profile.proto) that prescan counts. */
enum {
    F_SAMPLE_TYPE = 1,
    F_SAMPLE = 2,
    F_MAPPING = 3,
    F_LOCATION = 4,
    F_FUNCTION = 5,
    F_STRING = 6,
    F_MAX = 16
};

static enum kb_status prescan(const uint8_t *p, size_t n, size_t counts[F_MAX],
                              struct kb_err *err)
{
    size_t off = 0;
    memset(counts, 0, F_MAX * sizeof(size_t));
    while (off < n) {
        size_t start = off;
        uint64_t key, v;
        if (!read_varint(p, n, &off, &key))
            return kb_errf(err, KB_ERR_INVALID,
                           "protobuf: truncated field key at byte %zu", start);
        uint64_t field = key >> 3;
        unsigned wt = (unsigned)(key & 7);
        if (field == 0)
            return kb_errf(err, KB_ERR_INVALID,
                           "protobuf: field number 0 at byte %zu", start);
        bool ok;
        switch (wt) {
        case 0:
            ok = read_varint(p, n, &off, &v);
            break;
        case 1:
            ok = n - off >= 8;
            off += ok ? 8 : 0;
            break;
        case 2:
            ok = read_varint(p, n, &off, &v) && v <= n - off;
            off += ok ? (size_t)v : 0;
            break;
        case 5:
            ok = n - off >= 4;
            off += ok ? 4 : 0;
            break;
        default:
            return kb_errf(err, KB_ERR_INVALID,
                           "protobuf: bad wire type %u at byte %zu "
                           "(not a pprof profile?)",
                           wt, start);
        }
        if (!ok)
            return kb_errf(err, KB_ERR_INVALID,
                           "protobuf: field %llu truncated at byte %zu",
                           (unsigned long long)field, start);
        if (field < F_MAX)
            counts[field]++;
    }
    return KB_OK;
}

static enum kb_status check_count(size_t n, size_t limit, const char *what,
                                  struct kb_err *err)
{
    if (n > limit)
        return kb_errf(err, KB_ERR_LIMIT, "profile has %zu %s, limit is %zu", n,
                       what, limit);
    return KB_OK;
}

static enum kb_status check_counts(const size_t counts[F_MAX],
                                   const struct pprof_limits *lim,
                                   struct kb_err *err)
{
    enum kb_status st;
    if ((st =
             check_count(counts[F_SAMPLE], lim->max_samples, "samples", err)) ||
        (st = check_count(counts[F_LOCATION], lim->max_locations, "locations",
                          err)) ||
        (st = check_count(counts[F_FUNCTION], lim->max_functions, "functions",
                          err)) ||
        (st = check_count(counts[F_MAPPING], lim->max_mappings, "mappings",
                          err)) ||
        (st =
             check_count(counts[F_STRING], lim->max_strings, "strings", err)) ||
        (st = check_count(counts[F_SAMPLE_TYPE], lim->max_sample_types,
                          "sample types", err)))
        return st;
    return KB_OK;
}

/* ---- Step 3: unpack into the arena -------------------------------------- */

static void *arena_pb_alloc(void *data, size_t size)
{
    return arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *ptr)
{
    /* Freed with the arena. */
}

/* ---- Step 4: convert and validate --------------------------------------- */

/* Maps the ids an input used for one kind of object to dense ids. When the
 * input's ids are already 1..N in order (what Go writes) no table is built. */
struct idmap {
    struct hmap *table; /* NULL when the ids are dense already */
    size_t n;
};

static enum kb_status idmap_init(struct idmap *im, const uint64_t *ids,
                                 size_t n, const char *what, struct kb_err *err)
{
    im->table = NULL;
    im->n = n;
    size_t i = 0;
    while (i < n && ids[i] == i + 1)
        i++;
    if (i == n)
        return KB_OK;
    im->table = hmap_new(n);
    for (i = 0; i < n; i++) {
        if (ids[i] == 0)
            return kb_errf(err, KB_ERR_INVALID, "%s %zu has id 0", what, i);
        bool found;
        uint64_t *v = hmap_put(im->table, &ids[i], sizeof(ids[i]), &found);
        if (found)
            return kb_errf(err, KB_ERR_INVALID, "%s id %llu is not unique",
                           what, (unsigned long long)ids[i]);
        *v = i + 1;
    }
    return KB_OK;
}

/* The dense id of input id `id`, or 0 if the input has no such object. */
static uint32_t idmap_find(const struct idmap *im, uint64_t id)
{
    if (im->table == NULL)
        return id >= 1 && id <= im->n ? (uint32_t)id : 0;
    uint64_t *v = hmap_get(im->table, &id, sizeof(id));
    return v ? (uint32_t)*v : 0;
}

struct decoder {
    struct pprof_profile *p;
    const struct pprof_limits *lim;
    struct idmap mappings, functions, locations;
    struct kb_err *err;
};

/* Checks that `idx` is a valid string index; `what` names the field. */
static enum kb_status str_index(struct decoder *d, int64_t idx, uint32_t *out,
                                const char *what)
{
    if (idx < 0 || (uint64_t)idx >= d->p->n_strings)
        return kb_errf(d->err, KB_ERR_INVALID,
                       "%s: string index %lld out of range (table has %zu)",
                       what, (long long)idx, d->p->n_strings);
    *out = (uint32_t)idx;
    return KB_OK;
}

static enum kb_status value_type(struct decoder *d,
                                 const Perftools__Profiles__ValueType *vt,
                                 struct pprof_value_type *out, const char *what)
{
    out->type = out->unit = 0;
    if (vt == NULL)
        return KB_OK;
    enum kb_status st = str_index(d, vt->type, &out->type, what);
    if (st == KB_OK)
        st = str_index(d, vt->unit, &out->unit, what);
    return st;
}

static enum kb_status conv_strings(struct decoder *d,
                                   Perftools__Profiles__Profile *pb)
{
    struct pprof_profile *p = d->p;
    if (pb->n_string_table == 0)
        return kb_errf(d->err, KB_ERR_INVALID,
                       "string table is empty (an empty or non-pprof input?)");
    if (pb->string_table[0][0] != '\0')
        return kb_errf(d->err, KB_ERR_INVALID,
                       "string_table[0] is \"%.32s\", must be empty",
                       pb->string_table[0]);
    free(p->strings);
    free(p->string_lens);
    p->n_strings = p->cap_strings = pb->n_string_table;
    p->strings = kb_malloc(p->n_strings * sizeof(*p->strings));
    p->string_lens = kb_malloc(p->n_strings * sizeof(*p->string_lens));
    for (size_t i = 0; i < p->n_strings; i++) {
        size_t len = strlen(pb->string_table[i]);
        if (len > UINT32_MAX)
            return kb_errf(d->err, KB_ERR_LIMIT, "string %zu too long", i);
        p->strings[i] = pb->string_table[i];
        p->string_lens[i] = (uint32_t)len;
    }
    return KB_OK;
}

/* Collect the `id` field of n messages into an array for idmap_init. The
 * id sits at `id_offset` in each message struct (Mapping, Function and
 * Location all have one). */
static uint64_t *collect_ids(struct arena *a, void *const *msgs, size_t n,
                             size_t id_offset)
{
    uint64_t *ids = arena_alloc(a, n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        memcpy(&ids[i], (const char *)msgs[i] + id_offset, sizeof(uint64_t));
    return ids;
}

static enum kb_status conv_mappings(struct decoder *d,
                                    Perftools__Profiles__Profile *pb)
{
    struct pprof_profile *p = d->p;
    enum kb_status st = idmap_init(
        &d->mappings,
        collect_ids(p->arena, (void *const *)pb->mapping, pb->n_mapping,
                    offsetof(Perftools__Profiles__Mapping, id)),
        pb->n_mapping, "mapping", d->err);
    if (st)
        return st;
    p->n_mappings = p->cap_mappings = pb->n_mapping;
    p->mappings = kb_calloc(p->n_mappings, sizeof(*p->mappings));
    for (size_t i = 0; i < pb->n_mapping; i++) {
        const Perftools__Profiles__Mapping *m = pb->mapping[i];
        struct pprof_mapping *o = &p->mappings[i];
        o->memory_start = m->memory_start;
        o->memory_limit = m->memory_limit;
        o->file_offset = m->file_offset;
        o->has_functions = m->has_functions;
        o->has_filenames = m->has_filenames;
        o->has_line_numbers = m->has_line_numbers;
        o->has_inline_frames = m->has_inline_frames;
        if ((st = str_index(d, m->filename, &o->filename, "mapping")) ||
            (st = str_index(d, m->build_id, &o->build_id, "mapping")))
            return kb_err_prefix(d->err, "mapping %zu", i);
    }
    return KB_OK;
}

static enum kb_status conv_functions(struct decoder *d,
                                     Perftools__Profiles__Profile *pb)
{
    struct pprof_profile *p = d->p;
    enum kb_status st = idmap_init(
        &d->functions,
        collect_ids(p->arena, (void *const *)pb->function, pb->n_function,
                    offsetof(Perftools__Profiles__Function, id)),
        pb->n_function, "function", d->err);
    if (st)
        return st;
    p->n_functions = p->cap_functions = pb->n_function;
    p->functions = kb_calloc(p->n_functions, sizeof(*p->functions));
    for (size_t i = 0; i < pb->n_function; i++) {
        const Perftools__Profiles__Function *f = pb->function[i];
        struct pprof_function *o = &p->functions[i];
        o->start_line = f->start_line;
        if ((st = str_index(d, f->name, &o->name, "name")) ||
            (st = str_index(d, f->system_name, &o->system_name,
                            "system_name")) ||
            (st = str_index(d, f->filename, &o->filename, "filename")))
            return kb_err_prefix(d->err, "function %zu", i);
    }
    return KB_OK;
}

static enum kb_status conv_locations(struct decoder *d,
                                     Perftools__Profiles__Profile *pb)
{
    struct pprof_profile *p = d->p;
    enum kb_status st = idmap_init(
        &d->locations,
        collect_ids(p->arena, (void *const *)pb->location, pb->n_location,
                    offsetof(Perftools__Profiles__Location, id)),
        pb->n_location, "location", d->err);
    if (st)
        return st;
    p->n_locations = p->cap_locations = pb->n_location;
    p->locations = kb_calloc(p->n_locations, sizeof(*p->locations));
    for (size_t i = 0; i < pb->n_location; i++) {
        const Perftools__Profiles__Location *l = pb->location[i];
        struct pprof_location *o = &p->locations[i];
        o->address = l->address;
        o->is_folded = l->is_folded;
        if (l->mapping_id != 0) {
            o->mapping_id = idmap_find(&d->mappings, l->mapping_id);
            if (o->mapping_id == 0)
                return kb_errf(d->err, KB_ERR_INVALID,
                               "location %zu: mapping id %llu not found", i,
                               (unsigned long long)l->mapping_id);
        }
        if (l->n_line > d->lim->max_stack_depth)
            return kb_errf(d->err, KB_ERR_LIMIT,
                           "location %zu: %zu inlined lines, limit is %zu", i,
                           l->n_line, d->lim->max_stack_depth);
        o->n_lines = (uint32_t)l->n_line;
        o->lines = arena_alloc(p->arena, l->n_line * sizeof(*o->lines));
        for (size_t j = 0; j < l->n_line; j++) {
            o->lines[j].line = l->line[j]->line;
            o->lines[j].function_id =
                idmap_find(&d->functions, l->line[j]->function_id);
            if (o->lines[j].function_id == 0)
                return kb_errf(d->err, KB_ERR_INVALID,
                               "location %zu: function id %llu not found", i,
                               (unsigned long long)l->line[j]->function_id);
        }
    }
    return KB_OK;
}

static enum kb_status conv_labels(struct decoder *d,
                                  const Perftools__Profiles__Sample *s,
                                  struct pprof_sample *o)
{
    enum kb_status st;
    if (s->n_label > d->lim->max_labels)
        return kb_errf(d->err, KB_ERR_LIMIT, "%zu labels, limit is %zu",
                       s->n_label, d->lim->max_labels);
    o->n_labels = (uint32_t)s->n_label;
    o->labels = arena_alloc(d->p->arena, s->n_label * sizeof(*o->labels));
    for (size_t j = 0; j < s->n_label; j++) {
        const Perftools__Profiles__Label *l = s->label[j];
        struct pprof_label *ol = &o->labels[j];
        ol->num = l->num;
        if ((st = str_index(d, l->key, &ol->key, "label key")) ||
            (st = str_index(d, l->str, &ol->str, "label value")) ||
            (st = str_index(d, l->num_unit, &ol->num_unit, "label unit")))
            return st;
    }
    return KB_OK;
}

static enum kb_status conv_samples(struct decoder *d,
                                   Perftools__Profiles__Profile *pb)
{
    struct pprof_profile *p = d->p;
    enum kb_status st;
    p->n_samples = p->cap_samples = pb->n_sample;
    p->samples = kb_calloc(p->n_samples, sizeof(*p->samples));
    for (size_t i = 0; i < pb->n_sample; i++) {
        const Perftools__Profiles__Sample *s = pb->sample[i];
        struct pprof_sample *o = &p->samples[i];
        if (s->n_value != p->n_sample_types)
            return kb_errf(d->err, KB_ERR_INVALID,
                           "sample %zu has %zu values for %zu sample types", i,
                           s->n_value, p->n_sample_types);
        o->values = s->value; /* unpacked into our arena: keep it */
        if (s->n_location_id > d->lim->max_stack_depth)
            return kb_errf(d->err, KB_ERR_LIMIT,
                           "sample %zu: stack depth %zu, limit is %zu", i,
                           s->n_location_id, d->lim->max_stack_depth);
        o->n_locations = (uint32_t)s->n_location_id;
        o->location_ids =
            arena_alloc(p->arena, s->n_location_id * sizeof(uint32_t));
        for (size_t j = 0; j < s->n_location_id; j++) {
            o->location_ids[j] = idmap_find(&d->locations, s->location_id[j]);
            if (o->location_ids[j] == 0)
                return kb_errf(d->err, KB_ERR_INVALID,
                               "sample %zu: location id %llu not found", i,
                               (unsigned long long)s->location_id[j]);
        }
        if ((st = conv_labels(d, s, o)))
            return kb_err_prefix(d->err, "sample %zu", i);
    }
    return KB_OK;
}

static enum kb_status conv_header(struct decoder *d,
                                  Perftools__Profiles__Profile *pb)
{
    struct pprof_profile *p = d->p;
    enum kb_status st;
    p->n_sample_types = p->cap_sample_types = pb->n_sample_type;
    p->sample_types = kb_calloc(p->n_sample_types, sizeof(*p->sample_types));
    for (size_t i = 0; i < pb->n_sample_type; i++)
        if ((st = value_type(d, pb->sample_type[i], &p->sample_types[i],
                             "sample type")))
            return st;
    if ((st = value_type(d, pb->period_type, &p->period_type, "period type")) ||
        (st = str_index(d, pb->drop_frames, &p->drop_frames, "drop_frames")) ||
        (st = str_index(d, pb->keep_frames, &p->keep_frames, "keep_frames")) ||
        (st = str_index(d, pb->default_sample_type, &p->default_sample_type,
                        "default_sample_type")))
        return st;
    p->time_nanos = pb->time_nanos;
    p->duration_nanos = pb->duration_nanos;
    p->period = pb->period;
    p->n_comments = p->cap_comments = pb->n_comment;
    p->comments = kb_calloc(p->n_comments, sizeof(*p->comments));
    for (size_t i = 0; i < pb->n_comment; i++)
        if ((st = str_index(d, pb->comment[i], &p->comments[i], "comment")))
            return st;
    return KB_OK;
}

static void idmap_free(struct idmap *im)
{
    hmap_free(im->table);
    im->table = NULL;
}

enum kb_status pprof_decode(const uint8_t *data, size_t len,
                            const struct pprof_limits *lim,
                            struct pprof_profile **out, struct kb_err *err)
{
    struct pprof_limits deflim;
    if (lim == NULL) {
        pprof_limits_default(&deflim);
        lim = &deflim;
    }
    *out = NULL;
    struct buf raw;
    buf_init(&raw, lim->max_decompressed);
    struct decoder d = {.lim = lim, .err = err};
    enum kb_status st;

    if (len == 0)
        return kb_errf(err, KB_ERR_INVALID, "empty input");
    if (len > lim->max_compressed)
        return kb_errf(err, KB_ERR_LIMIT, "input is %zu bytes, limit is %zu",
                       len, lim->max_compressed);
    if (is_gzip(data, len)) {
        if ((st = gunzip(data, len, lim->max_decompressed, &raw, err)))
            goto fail;
        data = raw.data;
        len = raw.len;
    } else if (len > lim->max_decompressed) {
        st = kb_errf(err, KB_ERR_LIMIT, "input is %zu bytes, limit is %zu", len,
                     lim->max_decompressed);
        goto fail;
    }

    size_t counts[F_MAX];
    if ((st = prescan(data, len, counts, err)) ||
        (st = check_counts(counts, lim, err)))
        goto fail;

    d.p = pprof_new();
    ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, d.p->arena};
    Perftools__Profiles__Profile *pb =
        perftools__profiles__profile__unpack(&alloc, len, data);
    if (pb == NULL) {
        st = kb_errf(err, KB_ERR_INVALID,
                     "protobuf: not a valid pprof Profile message");
        goto fail;
    }
    if ((st = conv_strings(&d, pb)) || (st = conv_header(&d, pb)) ||
        (st = conv_mappings(&d, pb)) || (st = conv_functions(&d, pb)) ||
        (st = conv_locations(&d, pb)) || (st = conv_samples(&d, pb)))
        goto fail;
    idmap_free(&d.mappings);
    idmap_free(&d.functions);
    idmap_free(&d.locations);
    buf_free(&raw);
    *out = d.p;
    return KB_OK;
fail:
    idmap_free(&d.mappings);
    idmap_free(&d.functions);
    idmap_free(&d.locations);
    pprof_free(d.p);
    buf_free(&raw);
    return st;
}

enum kb_status pprof_read_file(const char *path, const struct pprof_limits *lim,
                               struct pprof_profile **out, struct kb_err *err)
{
    struct pprof_limits deflim;
    if (lim == NULL) {
        pprof_limits_default(&deflim);
        lim = &deflim;
    }
    *out = NULL;
    struct buf b;
    buf_init(&b, lim->max_compressed);
    enum kb_status st = kb_file_read(path, &b, err);
    if (st == KB_OK) {
        st = pprof_decode(b.data, b.len, lim, out, err);
        if (st)
            kb_err_prefix(err, "%s", path);
    }
    buf_free(&b);
    return st;
}
