/* pprof/merge.c: summing profiles into one.
 *
 * Design. A merger owns the output profile, a symbol table writing into it
 * (symtab.c: functions, mappings and locations made unique with go tool
 * pprof's identity, ASLR undone), and a hash map of samples keyed by
 * (target location ids, labels as (key, str, num, unit)), whose value is the
 * sample's index in the output. Adding an input translates each sample's
 * stack through the symbol table (array look-ups after the first time a
 * location is seen) and either appends the sample or adds its values to the
 * equal one.
 *
 * Headers combine like go tool pprof: earliest nonzero time_nanos, summed
 * duration_nanos, largest period, each distinct comment once. Sample types
 * and the period type must be equal (type and unit) to the first input's.
 * Values add with two's-complement wrap-around rather than undefined
 * overflow.
 */
#include "pprof/profile.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hmap.h"

struct pprof_merger {
    struct pprof_profile *out;
    struct pprof_symtab *symtab;
    struct hmap *samples, *comments;
    struct buf key; /* scratch for sample keys */
    uint32_t *locs; /* scratch: one sample's target location ids */
    size_t cap_locs;
};

struct pprof_merger *pprof_merger_new(void)
{
    struct pprof_merger *m = kb_calloc(1, sizeof(*m));
    m->samples = hmap_new(0);
    m->comments = hmap_new(0);
    buf_init(&m->key, BUF_NO_LIMIT);
    return m;
}

void pprof_merger_free(struct pprof_merger *m)
{
    if (m == NULL)
        return;
    pprof_symtab_free(m->symtab);
    pprof_free(m->out);
    hmap_free(m->samples);
    hmap_free(m->comments);
    buf_free(&m->key);
    free(m->locs);
    free(m);
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

/* The first input sets the output's sample types, period type, default
 * sample type and frame filters. */
static void start_output(struct pprof_merger *m, const struct pprof_profile *in)
{
    struct pprof_symtab *st = m->symtab;
    struct pprof_profile *out = m->out;
    for (size_t i = 0; i < in->n_sample_types; i++)
        pprof_add_sample_type(
            out, pprof_symtab_string(st, in->sample_types[i].type),
            pprof_symtab_string(st, in->sample_types[i].unit));
    out->period_type.type = pprof_symtab_string(st, in->period_type.type);
    out->period_type.unit = pprof_symtab_string(st, in->period_type.unit);
    out->default_sample_type = pprof_symtab_string(st, in->default_sample_type);
    out->drop_frames = pprof_symtab_string(st, in->drop_frames);
    out->keep_frames = pprof_symtab_string(st, in->keep_frames);
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
        uint32_t c = pprof_symtab_string(m->symtab, in->comments[i]);
        bool found;
        hmap_put(m->comments, &c, sizeof(c), &found);
        if (!found)
            pprof_add_comment(out, c);
    }
}

static void merge_sample(struct pprof_merger *m, const struct pprof_sample *s)
{
    struct pprof_profile *out = m->out;
    struct pprof_symtab *st = m->symtab;
    m->locs =
        kb_grow(m->locs, &m->cap_locs, s->n_locations + 1, sizeof(*m->locs));
    for (uint32_t j = 0; j < s->n_locations; j++)
        m->locs[j] = pprof_symtab_location(st, s->location_ids[j]);
    buf_reset(&m->key);
    buf_append(&m->key, &s->n_locations, sizeof(s->n_locations));
    buf_append(&m->key, m->locs, s->n_locations * sizeof(uint32_t));
    struct pprof_label small[8];
    struct pprof_label *labs =
        s->n_labels <= 8 ? small : kb_malloc(s->n_labels * sizeof(*labs));
    for (uint32_t j = 0; j < s->n_labels; j++) {
        memset(&labs[j], 0, sizeof(labs[j])); /* no padding in the key */
        labs[j].key = pprof_symtab_string(st, s->labels[j].key);
        labs[j].str = pprof_symtab_string(st, s->labels[j].str);
        labs[j].num = s->labels[j].num;
        labs[j].num_unit = pprof_symtab_string(st, s->labels[j].num_unit);
    }
    buf_append(&m->key, labs, s->n_labels * sizeof(*labs));
    bool found;
    uint64_t *v = hmap_put(m->samples, m->key.data, m->key.len, &found);
    if (!found) {
        pprof_add_sample(out, m->locs, s->n_locations, s->values, labs,
                         s->n_labels);
        *v = out->n_samples - 1;
    } else {
        int64_t *vals = out->samples[*v].values;
        for (size_t k = 0; k < out->n_sample_types; k++)
            vals[k] = (int64_t)((uint64_t)vals[k] + (uint64_t)s->values[k]);
    }
    if (labs != small)
        free(labs);
}

enum kb_status pprof_merger_add(struct pprof_merger *m,
                                const struct pprof_profile *in,
                                struct kb_err *err)
{
    if (m->out == NULL) {
        m->out = pprof_new();
        m->symtab = pprof_symtab_new(m->out);
        pprof_symtab_begin(m->symtab, in);
        start_output(m, in);
    } else {
        enum kb_status st = check_compatible(m->out, in, err);
        if (st)
            return st;
        pprof_symtab_begin(m->symtab, in);
    }
    merge_header(m, in);
    for (size_t i = 0; i < in->n_samples; i++)
        merge_sample(m, &in->samples[i]);
    return KB_OK;
}

struct pprof_profile *pprof_merger_finish(struct pprof_merger *m)
{
    struct pprof_profile *out = m->out;
    m->out = NULL;
    pprof_merger_free(m);
    return out;
}
