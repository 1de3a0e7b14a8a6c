/* pprof/encode.c: pprof_profile -> gzip'd protobuf bytes.
 *
 * Design. The profile is turned into protobuf-c message structs (the code
 * generated from proto/profile.proto) allocated in a scratch arena, packed
 * with protobuf-c, and gzip-compressed with zlib at the fastest level (what
 * Go's runtime/pprof uses too: profiles compress well at any level, and a
 * query server encodes them on the request path). Ids are written as the
 * model holds them, dense 1..N, which is what `go tool pprof` expects.
 *
 * The encoder trusts its input: a profile is valid by construction (decoded
 * and validated, or built with pprof_add_*). The scratch arena is freed
 * before returning; the only output is the bytes appended to `out`.
 */
#include "pprof/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "proto/profile.pb-c.h"

/* Scratch-arena helpers: arrays of message structs and of pointers to them. */
#define NEW_ARRAY(a, type, n) ((type *)arena_calloc((a), (n), sizeof(type)))

static Perftools__Profiles__ValueType *pb_value_type(struct arena *a,
                                                     struct pprof_value_type v)
{
    Perftools__Profiles__ValueType *o =
        NEW_ARRAY(a, Perftools__Profiles__ValueType, 1);
    perftools__profiles__value_type__init(o);
    o->type = v.type;
    o->unit = v.unit;
    return o;
}

static void pb_samples(struct arena *a, const struct pprof_profile *p,
                       Perftools__Profiles__Profile *pb)
{
    pb->n_sample = p->n_samples;
    pb->sample = NEW_ARRAY(a, Perftools__Profiles__Sample *, p->n_samples);
    Perftools__Profiles__Sample *ss =
        NEW_ARRAY(a, Perftools__Profiles__Sample, p->n_samples);
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        Perftools__Profiles__Sample *o = &ss[i];
        perftools__profiles__sample__init(o);
        o->n_location_id = s->n_locations;
        o->location_id = NEW_ARRAY(a, uint64_t, s->n_locations);
        for (uint32_t j = 0; j < s->n_locations; j++)
            o->location_id[j] = s->location_ids[j];
        o->n_value = p->n_sample_types;
        o->value = s->values;
        o->n_label = s->n_labels;
        o->label = NEW_ARRAY(a, Perftools__Profiles__Label *, s->n_labels);
        Perftools__Profiles__Label *ls =
            NEW_ARRAY(a, Perftools__Profiles__Label, s->n_labels);
        for (uint32_t j = 0; j < s->n_labels; j++) {
            perftools__profiles__label__init(&ls[j]);
            ls[j].key = s->labels[j].key;
            ls[j].str = s->labels[j].str;
            ls[j].num = s->labels[j].num;
            ls[j].num_unit = s->labels[j].num_unit;
            o->label[j] = &ls[j];
        }
        pb->sample[i] = o;
    }
}

static void pb_mappings(struct arena *a, const struct pprof_profile *p,
                        Perftools__Profiles__Profile *pb)
{
    pb->n_mapping = p->n_mappings;
    pb->mapping = NEW_ARRAY(a, Perftools__Profiles__Mapping *, p->n_mappings);
    Perftools__Profiles__Mapping *ms =
        NEW_ARRAY(a, Perftools__Profiles__Mapping, p->n_mappings);
    for (size_t i = 0; i < p->n_mappings; i++) {
        const struct pprof_mapping *m = &p->mappings[i];
        Perftools__Profiles__Mapping *o = &ms[i];
        perftools__profiles__mapping__init(o);
        o->id = i + 1;
        o->memory_start = m->memory_start;
        o->memory_limit = m->memory_limit;
        o->file_offset = m->file_offset;
        o->filename = m->filename;
        o->build_id = m->build_id;
        o->has_functions = m->has_functions;
        o->has_filenames = m->has_filenames;
        o->has_line_numbers = m->has_line_numbers;
        o->has_inline_frames = m->has_inline_frames;
        pb->mapping[i] = o;
    }
}

static void pb_locations(struct arena *a, const struct pprof_profile *p,
                         Perftools__Profiles__Profile *pb)
{
    pb->n_location = p->n_locations;
    pb->location =
        NEW_ARRAY(a, Perftools__Profiles__Location *, p->n_locations);
    Perftools__Profiles__Location *ls =
        NEW_ARRAY(a, Perftools__Profiles__Location, p->n_locations);
    for (size_t i = 0; i < p->n_locations; i++) {
        const struct pprof_location *l = &p->locations[i];
        Perftools__Profiles__Location *o = &ls[i];
        perftools__profiles__location__init(o);
        o->id = i + 1;
        o->mapping_id = l->mapping_id;
        o->address = l->address;
        o->is_folded = l->is_folded;
        o->n_line = l->n_lines;
        o->line = NEW_ARRAY(a, Perftools__Profiles__Line *, l->n_lines);
        Perftools__Profiles__Line *lines =
            NEW_ARRAY(a, Perftools__Profiles__Line, l->n_lines);
        for (uint32_t j = 0; j < l->n_lines; j++) {
            perftools__profiles__line__init(&lines[j]);
            lines[j].function_id = l->lines[j].function_id;
            lines[j].line = l->lines[j].line;
            o->line[j] = &lines[j];
        }
        pb->location[i] = o;
    }
}

static void pb_functions(struct arena *a, const struct pprof_profile *p,
                         Perftools__Profiles__Profile *pb)
{
    pb->n_function = p->n_functions;
    pb->function =
        NEW_ARRAY(a, Perftools__Profiles__Function *, p->n_functions);
    Perftools__Profiles__Function *fs =
        NEW_ARRAY(a, Perftools__Profiles__Function, p->n_functions);
    for (size_t i = 0; i < p->n_functions; i++) {
        const struct pprof_function *f = &p->functions[i];
        Perftools__Profiles__Function *o = &fs[i];
        perftools__profiles__function__init(o);
        o->id = i + 1;
        o->name = f->name;
        o->system_name = f->system_name;
        o->filename = f->filename;
        o->start_line = f->start_line;
        pb->function[i] = o;
    }
}

static void pb_header(struct arena *a, const struct pprof_profile *p,
                      Perftools__Profiles__Profile *pb)
{
    pb->n_sample_type = p->n_sample_types;
    pb->sample_type =
        NEW_ARRAY(a, Perftools__Profiles__ValueType *, p->n_sample_types);
    for (size_t i = 0; i < p->n_sample_types; i++)
        pb->sample_type[i] = pb_value_type(a, p->sample_types[i]);
    pb->n_string_table = p->n_strings;
    pb->string_table = (char **)p->strings;
    pb->drop_frames = p->drop_frames;
    pb->keep_frames = p->keep_frames;
    pb->time_nanos = p->time_nanos;
    pb->duration_nanos = p->duration_nanos;
    if (p->period_type.type || p->period_type.unit)
        pb->period_type = pb_value_type(a, p->period_type);
    pb->period = p->period;
    pb->n_comment = p->n_comments;
    pb->comment = NEW_ARRAY(a, int64_t, p->n_comments);
    for (size_t i = 0; i < p->n_comments; i++)
        pb->comment[i] = p->comments[i];
    pb->default_sample_type = p->default_sample_type;
}

/* gzip `n` bytes at `in` onto `out`. */
static enum kb_status gzip_append(const uint8_t *in, size_t n, struct buf *out,
                                  struct kb_err *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return kb_errf(err, KB_ERR_INTERNAL, "gzip: deflateInit failed");
    enum kb_status st = KB_OK;
    size_t bound = deflateBound(&zs, (uLong)n);
    if ((st = buf_reserve(out, bound)) != KB_OK) {
        st = kb_errf(err, st, "gzip: output exceeds the buffer limit");
        goto done;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        st = kb_errf(err, KB_ERR_INTERNAL, "gzip: deflate did not finish");
        goto done;
    }
    out->len += bound - zs.avail_out;
    out->data[out->len] = '\0';
done:
    deflateEnd(&zs);
    return st;
}

enum kb_status pprof_encode(const struct pprof_profile *p, struct buf *out,
                            struct kb_err *err)
{
    struct arena *a = arena_new(0);
    Perftools__Profiles__Profile pb;
    perftools__profiles__profile__init(&pb);
    pb_header(a, p, &pb);
    pb_samples(a, p, &pb);
    pb_mappings(a, p, &pb);
    pb_locations(a, p, &pb);
    pb_functions(a, p, &pb);
    size_t n = perftools__profiles__profile__get_packed_size(&pb);
    enum kb_status st = KB_OK;
    if (n > UINT32_MAX) {
        st = kb_errf(err, KB_ERR_LIMIT, "encoded profile is %zu bytes", n);
        goto done;
    }
    uint8_t *raw = kb_malloc(n);
    perftools__profiles__profile__pack(&pb, raw);
    st = gzip_append(raw, n, out, err);
    free(raw);
done:
    arena_free(a);
    return st;
}

enum kb_status pprof_write_file(const struct pprof_profile *p, const char *path,
                                struct kb_err *err)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    char tmp[4096];
    enum kb_status st = pprof_encode(p, &b, err);
    if (st)
        goto done;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        st = kb_errf(err, KB_ERR_INVALID, "%s: path too long", path);
        goto done;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = kb_errf(err, KB_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            st = kb_errf(err, KB_ERR_IO, "%s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 && st == KB_OK)
        st = kb_errf(err, KB_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (st == KB_OK && rename(tmp, path) != 0)
        st = kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != KB_OK)
        unlink(tmp);
done:
    buf_free(&b);
    return st;
}
