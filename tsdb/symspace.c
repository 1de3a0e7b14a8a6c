/* tsdb/symspace.c: a symbol space and its serialized form.
 *
 * Design. The head and every block have one symbol space: a symbols-only
 * pprof_profile kept unique by a pprof_symtab (strings, mappings,
 * functions, locations), and a stack tree over its location ids. Stack ids
 * stored in profiles mean something only within their space.
 *
 * All tables are append-only with dense ids, so a space serializes as
 * "entries from id F to the current size" per table: the WAL writes, with
 * each commit, what was added since the previous one; a block writes its
 * whole space (from the empty marks). Decoding adds the entries back in the
 * same order, which reproduces the same ids; it checks that each range
 * starts where the table ends, that entries are new (the dedup tables would
 * otherwise return an older id) and that references point at existing
 * entries, so a consistent-looking but wrong input is refused rather than
 * silently mis-numbered. The byte format is in docs/format/head-records.md.
 */
#include "tsdb/symspace.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

void tsdb_symspace_init(struct tsdb_symspace *s)
{
    s->symbols = pprof_new();
    s->symtab = pprof_symtab_new(s->symbols);
    s->stacks = tsdb_stacks_new();
}

void tsdb_symspace_free(struct tsdb_symspace *s)
{
    tsdb_stacks_free(s->stacks);
    pprof_symtab_free(s->symtab);
    pprof_free(s->symbols);
    memset(s, 0, sizeof(*s));
}

void tsdb_symspace_empty_marks(struct tsdb_symspace_marks *m)
{
    m->strings = 1; /* "" */
    m->mappings = 0;
    m->functions = 0;
    m->locations = 0;
    m->stacks = 1; /* the root */
}

void tsdb_symspace_marks(const struct tsdb_symspace *s,
                         struct tsdb_symspace_marks *m)
{
    m->strings = s->symbols->n_strings;
    m->mappings = s->symbols->n_mappings;
    m->functions = s->symbols->n_functions;
    m->locations = s->symbols->n_locations;
    m->stacks = tsdb_stacks_count(s->stacks);
}

size_t tsdb_symspace_bytes(const struct tsdb_symspace *s)
{
    const struct pprof_profile *p = s->symbols;
    size_t n = tsdb_stacks_bytes(s->stacks);
    for (size_t i = 0; i < p->n_strings; i++)
        n += p->string_lens[i] + 1 + sizeof(char *) + sizeof(uint32_t);
    n += p->n_mappings * sizeof(*p->mappings);
    n += p->n_functions * sizeof(*p->functions);
    n += p->n_locations * (sizeof(*p->locations) + sizeof(struct pprof_line));
    return n;
}

static void range_header(struct buf *b, size_t from, size_t to)
{
    tsdb_enc_uvarint(b, from);
    tsdb_enc_uvarint(b, to - from);
}

void tsdb_symspace_encode_range(const struct tsdb_symspace *s,
                                const struct tsdb_symspace_marks *from,
                                const struct tsdb_symspace_marks *to,
                                struct buf *b)
{
    const struct pprof_profile *p = s->symbols;
    range_header(b, from->strings, to->strings);
    for (size_t i = from->strings; i < to->strings; i++)
        tsdb_enc_bytes(b, p->strings[i], p->string_lens[i]);

    range_header(b, from->mappings, to->mappings);
    for (size_t i = from->mappings; i < to->mappings; i++) {
        const struct pprof_mapping *m = &p->mappings[i];
        tsdb_enc_uvarint(b, m->memory_start);
        tsdb_enc_uvarint(b, m->memory_limit);
        tsdb_enc_uvarint(b, m->file_offset);
        tsdb_enc_uvarint(b, m->filename);
        tsdb_enc_uvarint(b, m->build_id);
        tsdb_enc_uvarint(b, (uint64_t)m->has_functions |
                                (uint64_t)m->has_filenames << 1 |
                                (uint64_t)m->has_line_numbers << 2 |
                                (uint64_t)m->has_inline_frames << 3);
    }

    range_header(b, from->functions, to->functions);
    for (size_t i = from->functions; i < to->functions; i++) {
        const struct pprof_function *f = &p->functions[i];
        tsdb_enc_uvarint(b, f->name);
        tsdb_enc_uvarint(b, f->system_name);
        tsdb_enc_uvarint(b, f->filename);
        tsdb_enc_varint(b, f->start_line);
    }

    range_header(b, from->locations, to->locations);
    for (size_t i = from->locations; i < to->locations; i++) {
        const struct pprof_location *l = &p->locations[i];
        tsdb_enc_uvarint(b, l->mapping_id);
        tsdb_enc_uvarint(b, l->address);
        tsdb_enc_uvarint(b, l->is_folded);
        tsdb_enc_uvarint(b, l->n_lines);
        for (uint32_t j = 0; j < l->n_lines; j++) {
            tsdb_enc_uvarint(b, l->lines[j].function_id);
            tsdb_enc_varint(b, l->lines[j].line);
        }
    }

    range_header(b, from->stacks, to->stacks);
    for (uint32_t i = (uint32_t)from->stacks; i < to->stacks; i++) {
        tsdb_enc_uvarint(b, tsdb_stacks_parent(s->stacks, i));
        tsdb_enc_uvarint(b, tsdb_stacks_location(s->stacks, i));
    }
}

void tsdb_symspace_encode(const struct tsdb_symspace *s,
                          const struct tsdb_symspace_marks *from, struct buf *b)
{
    struct tsdb_symspace_marks to;
    tsdb_symspace_marks(s, &to);
    tsdb_symspace_encode_range(s, from, &to, b);
}

/* Read a range header; the range must start at the table's current size.
 * The count is bounded by the bytes left (every entry takes at least one
 * byte), so it can size nothing absurd. */
static bool range(struct tsdb_dec *d, size_t current, uint64_t *count)
{
    uint64_t first = tsdb_dec_uvarint(d);
    *count = tsdb_dec_count(d, tsdb_dec_left(d));
    return !d->bad && first == current;
}

#define FAIL(what)                                                             \
    do {                                                                       \
        *why = (what);                                                         \
        return false;                                                          \
    } while (0)

static bool decode_strings(struct pprof_profile *p, struct tsdb_dec *d,
                           const char **why)
{
    uint64_t n;
    if (!range(d, p->n_strings, &n))
        FAIL("string table out of step");
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *b = tsdb_dec_bytes(d, &len);
        size_t before = p->n_strings; /* the new string's id */
        if (b == NULL || memchr(b, '\0', len) ||
            pprof_intern(p, (const char *)b, len) != before)
            FAIL("bad or repeated string");
    }
    return true;
}

static bool decode_mappings(struct tsdb_symspace *s, struct tsdb_dec *d,
                            const char **why)
{
    struct pprof_profile *p = s->symbols;
    uint64_t n;
    if (!range(d, p->n_mappings, &n))
        FAIL("mapping table out of step");
    for (uint64_t i = 0; i < n; i++) {
        struct pprof_mapping m = {0};
        m.memory_start = tsdb_dec_uvarint(d);
        m.memory_limit = tsdb_dec_uvarint(d);
        m.file_offset = tsdb_dec_uvarint(d);
        uint64_t fname = tsdb_dec_uvarint(d), bid = tsdb_dec_uvarint(d);
        uint64_t flags = tsdb_dec_uvarint(d);
        if (d->bad || fname >= p->n_strings || bid >= p->n_strings)
            FAIL("bad mapping");
        m.filename = (uint32_t)fname;
        m.build_id = (uint32_t)bid;
        m.has_functions = flags & 1;
        m.has_filenames = (flags >> 1) & 1;
        m.has_line_numbers = (flags >> 2) & 1;
        m.has_inline_frames = (flags >> 3) & 1;
        size_t before = p->n_mappings;
        if (pprof_symtab_add_mapping(s->symtab, &m) != before + 1)
            FAIL("repeated mapping");
    }
    return true;
}

static bool decode_functions(struct tsdb_symspace *s, struct tsdb_dec *d,
                             const char **why)
{
    struct pprof_profile *p = s->symbols;
    uint64_t n;
    if (!range(d, p->n_functions, &n))
        FAIL("function table out of step");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t name = tsdb_dec_uvarint(d), sys = tsdb_dec_uvarint(d),
                 file = tsdb_dec_uvarint(d);
        int64_t start = tsdb_dec_varint(d);
        if (d->bad || name >= p->n_strings || sys >= p->n_strings ||
            file >= p->n_strings)
            FAIL("bad function");
        struct pprof_function f = {(uint32_t)name, (uint32_t)sys,
                                   (uint32_t)file, start};
        size_t before = p->n_functions;
        if (pprof_symtab_add_function(s->symtab, &f) != before + 1)
            FAIL("repeated function");
    }
    return true;
}

static bool decode_locations(struct tsdb_symspace *s, struct tsdb_dec *d,
                             const char **why)
{
    struct pprof_profile *p = s->symbols;
    uint64_t n;
    if (!range(d, p->n_locations, &n))
        FAIL("location table out of step");
    struct pprof_line *lines = NULL;
    size_t cap = 0;
    bool ok = true;
    for (uint64_t i = 0; ok && i < n; i++) {
        uint64_t mapping = tsdb_dec_uvarint(d);
        uint64_t address = tsdb_dec_uvarint(d);
        uint64_t folded = tsdb_dec_uvarint(d);
        uint64_t nl = tsdb_dec_count(d, tsdb_dec_left(d) / 2);
        ok = !d->bad && mapping <= p->n_mappings;
        *why = "bad location";
        lines = kb_grow(lines, &cap, nl + 1, sizeof(*lines));
        for (uint64_t j = 0; ok && j < nl; j++) {
            uint64_t fn = tsdb_dec_uvarint(d);
            lines[j].line = tsdb_dec_varint(d);
            lines[j].function_id = (uint32_t)fn;
            ok = !d->bad && fn != 0 && fn <= p->n_functions;
        }
        size_t before = p->n_locations;
        if (ok && pprof_symtab_add_location(s->symtab, (uint32_t)mapping,
                                            address, lines, (uint32_t)nl,
                                            folded != 0) != before + 1) {
            ok = false;
            *why = "repeated location";
        }
    }
    free(lines);
    return ok;
}

static bool decode_stacks(struct tsdb_symspace *s, struct tsdb_dec *d,
                          const char **why)
{
    uint64_t n;
    if (!range(d, tsdb_stacks_count(s->stacks), &n))
        FAIL("stack table out of step");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t parent = tsdb_dec_uvarint(d), loc = tsdb_dec_uvarint(d);
        uint32_t count = tsdb_stacks_count(s->stacks);
        if (d->bad || parent >= count || loc == 0 ||
            loc > s->symbols->n_locations ||
            tsdb_stacks_child(s->stacks, (uint32_t)parent, (uint32_t)loc) !=
                count)
            FAIL("bad or repeated stack node");
    }
    return true;
}

bool tsdb_symspace_decode(struct tsdb_symspace *s, struct tsdb_dec *d,
                          const char **why)
{
    return decode_strings(s->symbols, d, why) && decode_mappings(s, d, why) &&
           decode_functions(s, d, why) && decode_locations(s, d, why) &&
           decode_stacks(s, d, why);
}

/* ---- Mapping stacks between spaces -------------------------------------- */

void tsdb_stack_mapper_begin(struct tsdb_stack_mapper *m,
                             struct tsdb_symspace *dst,
                             const struct tsdb_symspace *src)
{
    m->dst = dst;
    m->src = src;
    pprof_symtab_begin(dst->symtab, src->symbols);
    size_t n = tsdb_stacks_count(src->stacks);
    m->map = kb_grow(m->map, &m->cap_map, n, sizeof(*m->map));
    memset(m->map, 0xff, n * sizeof(*m->map));
}

uint32_t tsdb_stack_mapper_map(struct tsdb_stack_mapper *m, uint32_t id)
{
    if (m->map[id] != UINT32_MAX)
        return m->map[id];
    size_t depth = tsdb_stacks_depth(m->src->stacks, id);
    m->locs = kb_grow(m->locs, &m->cap_locs, depth + 1, sizeof(*m->locs));
    tsdb_stacks_walk(m->src->stacks, id, m->locs, depth);
    for (size_t j = 0; j < depth; j++)
        m->locs[j] = pprof_symtab_location(m->dst->symtab, m->locs[j]);
    return m->map[id] = tsdb_stacks_insert(m->dst->stacks, m->locs, depth);
}

void tsdb_stack_mapper_free(struct tsdb_stack_mapper *m)
{
    free(m->map);
    free(m->locs);
    memset(m, 0, sizeof(*m));
}
