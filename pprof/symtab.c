/* pprof/symtab.c: deduplicated symbols (strings, functions, mappings,
 * locations) shared by many profiles.
 *
 * Design. A symbol table writes into a pprof_profile it does not own (the
 * "target"): the output of a merge, or the symbols-only profile of a tsdb
 * head or block. Three hash maps keep functions, mappings and locations
 * unique, each keyed by a small byte string made of *target* ids, so equal
 * things from different inputs get the same key:
 *
 *   function  = (name, system_name, filename, start_line)       string ids
 *   mapping   = (size, file_offset, build id or else file name)
 *   location  = (mapping id, address relative to the mapping start,
 *                is_folded, (function id, line) per line)
 *
 * This is the identity go tool pprof's merge uses. Addresses are relocated
 * to the first-seen copy of their mapping, which makes the same code loaded
 * at different addresses (ASLR) one location. Strings are kept unique by the
 * target's own interning (pprof_intern).
 *
 * Importing from an input profile goes through per-input translation arrays
 * (input id -> target id), filled lazily between pprof_symtab_begin and the
 * next begin, so each input symbol is hashed at most once per input.
 *
 * Invariant: a table only ever appends to the target, so ids are stable and
 * "what was added since" is a range of ids (the tsdb WAL relies on this).
 */
#include "pprof/profile.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hmap.h"

#define UNMAPPED UINT32_MAX

struct pprof_symtab {
    struct pprof_profile *t; /* target, not owned */
    struct hmap *functions, *mappings, *locations;
    struct buf key; /* scratch for building keys */
    /* The current input and its translation tables (input -> target). */
    const struct pprof_profile *in;
    uint32_t *str_map, *func_map, *map_map, *loc_map;
    uint64_t *map_reloc; /* per input mapping: target start - input start */
    size_t cap_str, cap_func, cap_map, cap_loc, cap_reloc;
};

struct pprof_symtab *pprof_symtab_new(struct pprof_profile *target)
{
    struct pprof_symtab *st = kb_calloc(1, sizeof(*st));
    st->t = target;
    st->functions = hmap_new(0);
    st->mappings = hmap_new(0);
    st->locations = hmap_new(0);
    buf_init(&st->key, BUF_NO_LIMIT);
    return st;
}

void pprof_symtab_free(struct pprof_symtab *st)
{
    if (st == NULL)
        return;
    hmap_free(st->functions);
    hmap_free(st->mappings);
    hmap_free(st->locations);
    buf_free(&st->key);
    free(st->str_map);
    free(st->func_map);
    free(st->map_map);
    free(st->loc_map);
    free(st->map_reloc);
    free(st);
}

struct pprof_profile *pprof_symtab_target(const struct pprof_symtab *st)
{
    return st->t;
}

static void key_put(struct pprof_symtab *st, const void *p, size_t n)
{
    buf_append(&st->key, p, n); /* the scratch key has no limit */
}

/* ---- Adding in target ids ----------------------------------------------- */

uint32_t pprof_symtab_add_function(struct pprof_symtab *st,
                                   const struct pprof_function *f)
{
    buf_reset(&st->key);
    key_put(st, &f->name, sizeof(f->name));
    key_put(st, &f->system_name, sizeof(f->system_name));
    key_put(st, &f->filename, sizeof(f->filename));
    key_put(st, &f->start_line, sizeof(f->start_line));
    bool found;
    uint64_t *v = hmap_put(st->functions, st->key.data, st->key.len, &found);
    if (!found)
        *v = pprof_add_function(st->t, f);
    return (uint32_t)*v;
}

uint32_t pprof_symtab_add_mapping(struct pprof_symtab *st,
                                  const struct pprof_mapping *m)
{
    uint64_t size = m->memory_limit - m->memory_start;
    uint32_t ident = m->build_id ? m->build_id : m->filename;
    buf_reset(&st->key);
    key_put(st, &size, sizeof(size));
    key_put(st, &m->file_offset, sizeof(m->file_offset));
    key_put(st, &ident, sizeof(ident));
    bool found;
    uint64_t *v = hmap_put(st->mappings, st->key.data, st->key.len, &found);
    if (!found)
        *v = pprof_add_mapping(st->t, m);
    return (uint32_t)*v;
}

uint32_t pprof_symtab_add_location(struct pprof_symtab *st, uint32_t mapping_id,
                                   uint64_t address,
                                   const struct pprof_line *lines,
                                   uint32_t n_lines, bool is_folded)
{
    uint64_t rel = address;
    if (mapping_id)
        rel = address - st->t->mappings[mapping_id - 1].memory_start;
    uint8_t folded = is_folded;
    buf_reset(&st->key);
    key_put(st, &mapping_id, sizeof(mapping_id));
    key_put(st, &rel, sizeof(rel));
    key_put(st, &folded, 1);
    for (uint32_t j = 0; j < n_lines; j++) {
        key_put(st, &lines[j].function_id, sizeof(lines[j].function_id));
        key_put(st, &lines[j].line, sizeof(lines[j].line));
    }
    bool found;
    uint64_t *v = hmap_put(st->locations, st->key.data, st->key.len, &found);
    if (!found)
        *v = pprof_add_location(st->t, mapping_id, address, lines, n_lines,
                                is_folded);
    return (uint32_t)*v;
}

/* ---- Importing from an input profile ------------------------------------ */

/* Size a translation table for `n` entries and mark them all unmapped. */
static uint32_t *table_reset(uint32_t *t, size_t *cap, size_t n)
{
    t = kb_grow(t, cap, n, sizeof(*t));
    if (n)
        memset(t, 0xff, n * sizeof(*t));
    return t;
}

void pprof_symtab_begin(struct pprof_symtab *st, const struct pprof_profile *in)
{
    st->in = in;
    st->str_map = table_reset(st->str_map, &st->cap_str, in->n_strings);
    st->func_map = table_reset(st->func_map, &st->cap_func, in->n_functions);
    st->map_map = table_reset(st->map_map, &st->cap_map, in->n_mappings);
    st->loc_map = table_reset(st->loc_map, &st->cap_loc, in->n_locations);
    st->map_reloc = kb_grow(st->map_reloc, &st->cap_reloc, in->n_mappings,
                            sizeof(*st->map_reloc));
}

uint32_t pprof_symtab_string(struct pprof_symtab *st, uint32_t s)
{
    if (st->str_map[s] == UNMAPPED)
        st->str_map[s] =
            pprof_intern(st->t, st->in->strings[s], st->in->string_lens[s]);
    return st->str_map[s];
}

static uint32_t import_function(struct pprof_symtab *st, uint32_t id)
{
    if (st->func_map[id - 1] != UNMAPPED)
        return st->func_map[id - 1];
    const struct pprof_function *f = &st->in->functions[id - 1];
    struct pprof_function tf = {
        .name = pprof_symtab_string(st, f->name),
        .system_name = pprof_symtab_string(st, f->system_name),
        .filename = pprof_symtab_string(st, f->filename),
        .start_line = f->start_line,
    };
    return st->func_map[id - 1] = pprof_symtab_add_function(st, &tf);
}

static uint32_t import_mapping(struct pprof_symtab *st, uint32_t id)
{
    if (st->map_map[id - 1] != UNMAPPED)
        return st->map_map[id - 1];
    const struct pprof_mapping *im = &st->in->mappings[id - 1];
    struct pprof_mapping tm = *im;
    tm.filename = pprof_symtab_string(st, im->filename);
    tm.build_id = pprof_symtab_string(st, im->build_id);
    uint32_t tid = pprof_symtab_add_mapping(st, &tm);
    st->map_reloc[id - 1] =
        st->t->mappings[tid - 1].memory_start - im->memory_start;
    return st->map_map[id - 1] = tid;
}

uint32_t pprof_symtab_location(struct pprof_symtab *st, uint32_t id)
{
    if (st->loc_map[id - 1] != UNMAPPED)
        return st->loc_map[id - 1];
    const struct pprof_location *l = &st->in->locations[id - 1];
    uint32_t mapping = 0;
    uint64_t address = l->address;
    if (l->mapping_id) {
        mapping = import_mapping(st, l->mapping_id);
        address = l->address + st->map_reloc[l->mapping_id - 1];
    }
    struct pprof_line small[16];
    struct pprof_line *lines =
        l->n_lines <= 16 ? small : kb_malloc(l->n_lines * sizeof(*lines));
    for (uint32_t j = 0; j < l->n_lines; j++) {
        lines[j].function_id = import_function(st, l->lines[j].function_id);
        lines[j].line = l->lines[j].line;
    }
    uint32_t tid = pprof_symtab_add_location(st, mapping, address, lines,
                                             l->n_lines, l->is_folded);
    if (lines != small)
        free(lines);
    return st->loc_map[id - 1] = tid;
}
