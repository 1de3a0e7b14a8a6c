/* pprof/merge.c: summing profiles into one.
 *
 * Design. A merger owns the output profile and four hash maps that
 * deduplicate what goes into it: functions, mappings, locations and samples,
 * each keyed by a small byte string built from *output* ids, so equal things
 * from different inputs get the same key:
 *
 *   function  = (name, system_name, filename, start_line)       string ids
 *   mapping   = (size, file_offset, build id or else file name)
 *   location  = (mapping id, address relative to the mapping start,
 *                is_folded, (function id, line) per line)
 *   sample    = (location ids, labels as (key, str, num, unit))
 *
 * That is the identity go tool pprof uses, so merging agrees with it.
 * Addresses are relocated to the first-seen copy of their mapping, which
 * makes the same code loaded at different addresses (ASLR) one location.
 *
 * For each input, per-input tables translate its ids (strings, functions,
 * mappings, locations) to output ids once each, lazily, so a stack's frames
 * are looked up in arrays, not hashed again; only the sample key is hashed
 * per sample.
 *
 * Headers combine like go tool pprof: earliest nonzero time_nanos, summed
 * duration_nanos, largest period, each distinct comment once. Sample types
 * and the period type must be equal (type and unit) to the first input's.
 */
#include "pprof/profile.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hmap.h"

#define UNMAPPED UINT32_MAX

struct pprof_merger {
    struct pprof_profile *out;
    struct hmap *functions, *mappings, *locations, *samples, *comments;
    struct buf key; /* scratch for building keys */
    /* Per-input translation tables (input index -> output id). */
    uint32_t *str_map, *func_map, *map_map, *loc_map;
    uint64_t *map_reloc; /* per input mapping: output start - input start */
    size_t cap_str, cap_func, cap_map, cap_loc, cap_reloc;
};

struct pprof_merger *pprof_merger_new(void)
{
    struct pprof_merger *m = kb_calloc(1, sizeof(*m));
    m->functions = hmap_new(0);
    m->mappings = hmap_new(0);
    m->locations = hmap_new(0);
    m->samples = hmap_new(0);
    m->comments = hmap_new(0);
    buf_init(&m->key, BUF_NO_LIMIT);
    return m;
}

void pprof_merger_free(struct pprof_merger *m)
{
    if (m == NULL)
        return;
    pprof_free(m->out);
    hmap_free(m->functions);
    hmap_free(m->mappings);
    hmap_free(m->locations);
    hmap_free(m->samples);
    hmap_free(m->comments);
    buf_free(&m->key);
    free(m->str_map);
    free(m->func_map);
    free(m->map_map);
    free(m->loc_map);
    free(m->map_reloc);
    free(m);
}

/* Size a translation table for `n` entries and mark them all unmapped. */
static uint32_t *table_reset(uint32_t *t, size_t *cap, size_t n)
{
    t = kb_grow(t, cap, n, sizeof(*t));
    memset(t, 0xff, n * sizeof(*t));
    return t;
}

static uint32_t map_string(struct pprof_merger *m,
                           const struct pprof_profile *in, uint32_t s)
{
    if (m->str_map[s] == UNMAPPED)
        m->str_map[s] =
            pprof_intern(m->out, in->strings[s], in->string_lens[s]);
    return m->str_map[s];
}

static void key_put(struct pprof_merger *m, const void *p, size_t n)
{
    buf_append(&m->key, p, n); /* no limit on the scratch key */
}

static uint32_t map_function(struct pprof_merger *m,
                             const struct pprof_profile *in, uint32_t id)
{
    if (m->func_map[id - 1] != UNMAPPED)
        return m->func_map[id - 1];
    const struct pprof_function *f = &in->functions[id - 1];
    struct pprof_function of = {
        .name = map_string(m, in, f->name),
        .system_name = map_string(m, in, f->system_name),
        .filename = map_string(m, in, f->filename),
        .start_line = f->start_line,
    };
    buf_reset(&m->key);
    key_put(m, &of.name, sizeof(of.name));
    key_put(m, &of.system_name, sizeof(of.system_name));
    key_put(m, &of.filename, sizeof(of.filename));
    key_put(m, &of.start_line, sizeof(of.start_line));
    bool found;
    uint64_t *v = hmap_put(m->functions, m->key.data, m->key.len, &found);
    if (!found)
        *v = pprof_add_function(m->out, &of);
    return m->func_map[id - 1] = (uint32_t)*v;
}

static uint32_t map_mapping(struct pprof_merger *m,
                            const struct pprof_profile *in, uint32_t id)
{
    if (m->map_map[id - 1] != UNMAPPED)
        return m->map_map[id - 1];
    const struct pprof_mapping *im = &in->mappings[id - 1];
    struct pprof_mapping om = *im;
    om.filename = map_string(m, in, im->filename);
    om.build_id = map_string(m, in, im->build_id);
    uint64_t size = im->memory_limit - im->memory_start;
    uint32_t ident = om.build_id ? om.build_id : om.filename;
    buf_reset(&m->key);
    key_put(m, &size, sizeof(size));
    key_put(m, &im->file_offset, sizeof(im->file_offset));
    key_put(m, &ident, sizeof(ident));
    bool found;
    uint64_t *v = hmap_put(m->mappings, m->key.data, m->key.len, &found);
    if (!found)
        *v = pprof_add_mapping(m->out, &om);
    uint32_t out_id = (uint32_t)*v;
    m->map_reloc[id - 1] =
        m->out->mappings[out_id - 1].memory_start - im->memory_start;
    return m->map_map[id - 1] = out_id;
}

static uint32_t map_location(struct pprof_merger *m,
                             const struct pprof_profile *in, uint32_t id)
{
    if (m->loc_map[id - 1] != UNMAPPED)
        return m->loc_map[id - 1];
    const struct pprof_location *l = &in->locations[id - 1];
    uint32_t mapping = 0;
    uint64_t address = l->address, rel = l->address;
    if (l->mapping_id) {
        mapping = map_mapping(m, in, l->mapping_id);
        address = l->address + m->map_reloc[l->mapping_id - 1];
        rel = address - m->out->mappings[mapping - 1].memory_start;
    }
    struct pprof_line lines_small[16];
    struct pprof_line *lines =
        l->n_lines <= 16 ? lines_small : kb_malloc(l->n_lines * sizeof(*lines));
    for (uint32_t j = 0; j < l->n_lines; j++) {
        lines[j].function_id = map_function(m, in, l->lines[j].function_id);
        lines[j].line = l->lines[j].line;
    }
    buf_reset(&m->key);
    uint8_t folded = l->is_folded;
    key_put(m, &mapping, sizeof(mapping));
    key_put(m, &rel, sizeof(rel));
    key_put(m, &folded, 1);
    for (uint32_t j = 0; j < l->n_lines; j++) {
        key_put(m, &lines[j].function_id, sizeof(lines[j].function_id));
        key_put(m, &lines[j].line, sizeof(lines[j].line));
    }
    bool found;
    uint64_t *v = hmap_put(m->locations, m->key.data, m->key.len, &found);
    if (!found)
        *v = pprof_add_location(m->out, mapping, address, lines, l->n_lines,
                                l->is_folded);
    if (lines != lines_small)
        free(lines);
    return m->loc_map[id - 1] = (uint32_t)*v;
}

static bool value_type_equal(const struct pprof_profile *a,
                             struct pprof_value_type va,
                             const struct pprof_profile *b,
                             struct pprof_value_type vb)
{
    return strcmp(a->strings[va.type], b->strings[vb.type]) == 0 &&
           strcmp(a->strings[va.unit], b->strings[vb.unit]) == 0;
}

static enum kb_status check_compatible(const struct pprof_profile *out,
                                       const struct pprof_profile *in,
                                       struct kb_err *err)
{
    if (in->n_sample_types != out->n_sample_types)
        return kb_errf(err, KB_ERR_MISMATCH,
                       "cannot merge: %zu sample types vs %zu",
                       in->n_sample_types, out->n_sample_types);
    for (size_t i = 0; i < in->n_sample_types; i++)
        if (!value_type_equal(out, out->sample_types[i], in,
                              in->sample_types[i]))
            return kb_errf(
                err, KB_ERR_MISMATCH,
                "cannot merge: sample type %zu is %s/%s, expected %s/%s", i,
                in->strings[in->sample_types[i].type],
                in->strings[in->sample_types[i].unit],
                out->strings[out->sample_types[i].type],
                out->strings[out->sample_types[i].unit]);
    if (!value_type_equal(out, out->period_type, in, in->period_type))
        return kb_errf(err, KB_ERR_MISMATCH,
                       "cannot merge: period type %s/%s, expected %s/%s",
                       in->strings[in->period_type.type],
                       in->strings[in->period_type.unit],
                       out->strings[out->period_type.type],
                       out->strings[out->period_type.unit]);
    return KB_OK;
}

/* The first input sets the output's sample types, period type and
 * default sample type. */
static void start_output(struct pprof_merger *m, const struct pprof_profile *in)
{
    m->out = pprof_new();
    for (size_t i = 0; i < in->n_sample_types; i++)
        pprof_add_sample_type(m->out,
                              map_string(m, in, in->sample_types[i].type),
                              map_string(m, in, in->sample_types[i].unit));
    m->out->period_type.type = map_string(m, in, in->period_type.type);
    m->out->period_type.unit = map_string(m, in, in->period_type.unit);
    m->out->default_sample_type = map_string(m, in, in->default_sample_type);
    m->out->drop_frames = map_string(m, in, in->drop_frames);
    m->out->keep_frames = map_string(m, in, in->keep_frames);
}

static void merge_header(struct pprof_merger *m, const struct pprof_profile *in)
{
    struct pprof_profile *out = m->out;
    if (in->time_nanos != 0 &&
        (out->time_nanos == 0 || in->time_nanos < out->time_nanos))
        out->time_nanos = in->time_nanos;
    out->duration_nanos += in->duration_nanos;
    if (in->period > out->period)
        out->period = in->period;
    for (size_t i = 0; i < in->n_comments; i++) {
        uint32_t c = map_string(m, in, in->comments[i]);
        bool found;
        hmap_put(m->comments, &c, sizeof(c), &found);
        if (!found)
            pprof_add_comment(out, c);
    }
}

static void merge_sample(struct pprof_merger *m, const struct pprof_profile *in,
                         const struct pprof_sample *s, uint32_t *locs)
{
    struct pprof_profile *out = m->out;
    for (uint32_t j = 0; j < s->n_locations; j++)
        locs[j] = map_location(m, in, s->location_ids[j]);
    buf_reset(&m->key);
    key_put(m, &s->n_locations, sizeof(s->n_locations));
    key_put(m, locs, s->n_locations * sizeof(uint32_t));
    struct pprof_label lab_small[8];
    struct pprof_label *labs =
        s->n_labels <= 8 ? lab_small : kb_malloc(s->n_labels * sizeof(*labs));
    for (uint32_t j = 0; j < s->n_labels; j++) {
        labs[j].key = map_string(m, in, s->labels[j].key);
        labs[j].str = map_string(m, in, s->labels[j].str);
        labs[j].num = s->labels[j].num;
        labs[j].num_unit = map_string(m, in, s->labels[j].num_unit);
        key_put(m, &labs[j].key, sizeof(labs[j].key));
        key_put(m, &labs[j].str, sizeof(labs[j].str));
        key_put(m, &labs[j].num, sizeof(labs[j].num));
        key_put(m, &labs[j].num_unit, sizeof(labs[j].num_unit));
    }
    bool found;
    uint64_t *v = hmap_put(m->samples, m->key.data, m->key.len, &found);
    if (!found) {
        pprof_add_sample(out, locs, s->n_locations, s->values, labs,
                         s->n_labels);
        *v = out->n_samples - 1;
    } else {
        int64_t *vals = out->samples[*v].values;
        for (size_t k = 0; k < out->n_sample_types; k++)
            vals[k] = (int64_t)((uint64_t)vals[k] + (uint64_t)s->values[k]);
    }
    if (labs != lab_small)
        free(labs);
}

enum kb_status pprof_merger_add(struct pprof_merger *m,
                                const struct pprof_profile *in,
                                struct kb_err *err)
{
    m->str_map = table_reset(m->str_map, &m->cap_str, in->n_strings);
    m->func_map = table_reset(m->func_map, &m->cap_func, in->n_functions);
    m->map_map = table_reset(m->map_map, &m->cap_map, in->n_mappings);
    m->loc_map = table_reset(m->loc_map, &m->cap_loc, in->n_locations);
    m->map_reloc = kb_grow(m->map_reloc, &m->cap_reloc, in->n_mappings,
                           sizeof(*m->map_reloc));
    if (m->out == NULL) {
        start_output(m, in);
    } else {
        enum kb_status st = check_compatible(m->out, in, err);
        if (st)
            return st;
    }
    merge_header(m, in);
    size_t max_depth = 0;
    for (size_t i = 0; i < in->n_samples; i++)
        if (in->samples[i].n_locations > max_depth)
            max_depth = in->samples[i].n_locations;
    uint32_t *locs = kb_malloc((max_depth + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < in->n_samples; i++)
        merge_sample(m, in, &in->samples[i], locs);
    free(locs);
    return KB_OK;
}

struct pprof_profile *pprof_merger_finish(struct pprof_merger *m)
{
    struct pprof_profile *out = m->out;
    m->out = NULL;
    pprof_merger_free(m);
    return out;
}
