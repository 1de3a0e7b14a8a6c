/* pprof/build.c: creating, growing and freeing a struct pprof_profile.
 *
 * Design. A profile (profile.h) keeps its top-level arrays (strings, sample
 * types, samples, mappings, locations, functions, comments) in malloc'd
 * memory grown by doubling, and everything hanging off those elements (the
 * bytes of strings, a sample's location ids, values and labels, a location's
 * lines) in the profile's arena. The decoder fills a profile in bulk; every
 * other producer (merge, collapsed-stack parsing, later the database) goes
 * through the pprof_add_* functions here, which append and return the dense
 * id of what they added.
 *
 * String interning uses a hash map from the string's bytes to its index. It
 * is built the first time pprof_intern is called (a decoded profile that is
 * only read never pays for it) and kept in step by pprof_intern afterwards.
 * Strings added any other way after that would be invisible to it, so
 * nothing else appends to `strings` once the index exists.
 *
 * Invariants: strings[0] == ""; every id handed out is index + 1; callers
 * pass only ids they got from this profile (checked with asserts only in the
 * sense of "a bug in Kiln": outside input is validated by decode.c first).
 */
#include "pprof/profile.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/hmap.h"

void pprof_limits_default(struct pprof_limits *lim)
{
    lim->max_compressed = 64u << 20;
    lim->max_decompressed = 256u << 20;
    lim->max_samples = 4000000;
    lim->max_stack_depth = 1024;
    lim->max_locations = 4000000;
    lim->max_functions = 4000000;
    lim->max_mappings = 65536;
    lim->max_strings = 8000000;
    lim->max_sample_types = 64;
    lim->max_labels = 256;
}

struct pprof_profile *pprof_new(void)
{
    struct pprof_profile *p = kb_calloc(1, sizeof(*p));
    p->arena = arena_new(0);
    p->strings = kb_grow(NULL, &p->cap_strings, 1, sizeof(*p->strings));
    p->string_lens = kb_malloc(p->cap_strings * sizeof(*p->string_lens));
    p->strings[0] = "";
    p->string_lens[0] = 0;
    p->n_strings = 1;
    return p;
}

void pprof_free(struct pprof_profile *p)
{
    if (p == NULL)
        return;
    free(p->strings);
    free(p->string_lens);
    free(p->sample_types);
    free(p->samples);
    free(p->mappings);
    free(p->locations);
    free(p->functions);
    free(p->comments);
    hmap_free(p->string_index);
    arena_free(p->arena);
    free(p);
}

uint32_t pprof_intern(struct pprof_profile *p, const char *s, size_t n)
{
    if (p->string_index == NULL) {
        p->string_index = hmap_new(p->n_strings);
        for (size_t i = 0; i < p->n_strings; i++) {
            bool found;
            uint64_t *v = hmap_put(p->string_index, p->strings[i],
                                   p->string_lens[i], &found);
            if (!found) /* duplicates in a decoded table: first one wins */
                *v = i;
        }
    }
    bool found;
    uint64_t *v = hmap_put(p->string_index, s, n, &found);
    if (found)
        return (uint32_t)*v;
    size_t cap = p->cap_strings;
    p->strings = kb_grow(p->strings, &p->cap_strings, p->n_strings + 1,
                         sizeof(*p->strings));
    if (cap != p->cap_strings)
        p->string_lens = kb_reallocarray(p->string_lens, p->cap_strings,
                                         sizeof(*p->string_lens));
    p->strings[p->n_strings] = arena_strndup(p->arena, s, n);
    p->string_lens[p->n_strings] = (uint32_t)n;
    *v = p->n_strings;
    return (uint32_t)p->n_strings++;
}

uint32_t pprof_intern_str(struct pprof_profile *p, const char *s)
{
    return pprof_intern(p, s, strlen(s));
}

void pprof_add_sample_type(struct pprof_profile *p, uint32_t type,
                           uint32_t unit)
{
    p->sample_types = kb_grow(p->sample_types, &p->cap_sample_types,
                              p->n_sample_types + 1, sizeof(*p->sample_types));
    p->sample_types[p->n_sample_types].type = type;
    p->sample_types[p->n_sample_types].unit = unit;
    p->n_sample_types++;
}

uint32_t pprof_add_mapping(struct pprof_profile *p,
                           const struct pprof_mapping *m)
{
    p->mappings = kb_grow(p->mappings, &p->cap_mappings, p->n_mappings + 1,
                          sizeof(*p->mappings));
    p->mappings[p->n_mappings] = *m;
    return (uint32_t)++p->n_mappings;
}

uint32_t pprof_add_function(struct pprof_profile *p,
                            const struct pprof_function *f)
{
    p->functions = kb_grow(p->functions, &p->cap_functions, p->n_functions + 1,
                           sizeof(*p->functions));
    p->functions[p->n_functions] = *f;
    return (uint32_t)++p->n_functions;
}

uint32_t pprof_add_location(struct pprof_profile *p, uint32_t mapping_id,
                            uint64_t address, const struct pprof_line *lines,
                            uint32_t n_lines, bool is_folded)
{
    p->locations = kb_grow(p->locations, &p->cap_locations, p->n_locations + 1,
                           sizeof(*p->locations));
    struct pprof_location *l = &p->locations[p->n_locations];
    l->mapping_id = mapping_id;
    l->address = address;
    l->n_lines = n_lines;
    l->is_folded = is_folded;
    l->lines = NULL;
    if (n_lines) {
        l->lines = arena_alloc(p->arena, n_lines * sizeof(*lines));
        memcpy(l->lines, lines, n_lines * sizeof(*lines));
    }
    return (uint32_t)++p->n_locations;
}

void pprof_add_sample(struct pprof_profile *p, const uint32_t *location_ids,
                      uint32_t n_locations, const int64_t *values,
                      const struct pprof_label *labels, uint32_t n_labels)
{
    p->samples = kb_grow(p->samples, &p->cap_samples, p->n_samples + 1,
                         sizeof(*p->samples));
    struct pprof_sample *s = &p->samples[p->n_samples++];
    size_t nv = p->n_sample_types;
    s->n_locations = n_locations;
    s->location_ids = arena_alloc(p->arena, n_locations * sizeof(uint32_t));
    if (n_locations)
        memcpy(s->location_ids, location_ids, n_locations * sizeof(uint32_t));
    s->values = arena_alloc(p->arena, nv * sizeof(int64_t));
    if (nv)
        memcpy(s->values, values, nv * sizeof(int64_t));
    s->n_labels = n_labels;
    s->labels = NULL;
    if (n_labels) {
        s->labels = arena_alloc(p->arena, n_labels * sizeof(*labels));
        memcpy(s->labels, labels, n_labels * sizeof(*labels));
    }
}

void pprof_add_comment(struct pprof_profile *p, uint32_t str)
{
    p->comments = kb_grow(p->comments, &p->cap_comments, p->n_comments + 1,
                          sizeof(*p->comments));
    p->comments[p->n_comments++] = str;
}

int pprof_sample_type_index(const struct pprof_profile *p, const char *name)
{
    for (size_t i = 0; i < p->n_sample_types; i++)
        if (strcmp(p->strings[p->sample_types[i].type], name) == 0)
            return (int)i;
    return -1;
}

size_t pprof_default_sample_type(const struct pprof_profile *p)
{
    if (p->n_sample_types == 0)
        return 0;
    if (p->default_sample_type != 0) {
        int i = pprof_sample_type_index(p, p->strings[p->default_sample_type]);
        if (i >= 0)
            return (size_t)i;
    }
    return p->n_sample_types - 1;
}
