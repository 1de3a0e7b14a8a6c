/* tsdb/stackmatch.c: the stack matchers of the query language
 * (DESIGN.md section 3) over one symbol space.
 *
 *   __function__=~"re"  a stack matches when any of its frames is in a
 *                       function whose name matches (inclusive, "total");
 *   __leaf__=~"re"      a stack matches when its leaf frame does ("self").
 *
 * The cost is one regex match per function of the symbol space and one
 * pass over the stack tree, never a match per stack or per profile:
 *   1. every function's name is matched once;
 *   2. every location gets two bits: one of its lines' functions matches
 *      (any), its innermost line's function matches (leaf: pprof lists a
 *      location's lines innermost first);
 *   3. the stack nodes are visited in id order, in which a parent always
 *      comes before its children (a node is created after its parent, and
 *      block decoding checks the same), so
 *          any[node]  = any[parent] | loc_any[location(node)]
 *          leaf[node] = loc_leaf[location(node)].
 * A node's mark is then the mark of the whole stack it names. */
#include "tsdb/stackmatch.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/regex.h"

/* Step 1: which functions match (index: function id - 1). */
static uint8_t *match_functions(const struct pprof_profile *sym,
                                const struct kb_regex *re)
{
    uint8_t *fm = kb_calloc(sym->n_functions + 1, 1);
    for (size_t i = 0; i < sym->n_functions; i++) {
        uint32_t name = sym->functions[i].name;
        fm[i] = kb_regex_match(re, sym->strings[name], sym->string_lens[name]);
    }
    return fm;
}

/* Step 2: the location's bit for `mode` (index: location id - 1). */
static uint8_t *match_locations(const struct pprof_profile *sym,
                                const uint8_t *fm, enum tsdb_stack_match mode)
{
    uint8_t *lm = kb_calloc(sym->n_locations + 1, 1);
    for (size_t i = 0; i < sym->n_locations; i++) {
        const struct pprof_location *l = &sym->locations[i];
        uint32_t n = mode == TSDB_STACK_LEAF && l->n_lines > 0 ? 1 : l->n_lines;
        for (uint32_t k = 0; k < n && !lm[i]; k++)
            lm[i] = fm[l->lines[k].function_id - 1];
    }
    return lm;
}

uint8_t *tsdb_stackmatch_marks(const struct tsdb_symspace *sp,
                               const struct kb_regex *re,
                               enum tsdb_stack_match mode)
{
    const struct pprof_profile *sym = sp->symbols;
    uint8_t *fm = match_functions(sym, re);
    uint8_t *lm = match_locations(sym, fm, mode);
    uint32_t n = tsdb_stacks_count(sp->stacks);
    uint8_t *marks = kb_calloc(n + 1, 1);
    for (uint32_t node = 1; node < n; node++) {
        uint32_t loc = tsdb_stacks_location(sp->stacks, node);
        uint8_t own = loc > 0 && loc <= sym->n_locations ? lm[loc - 1] : 0;
        marks[node] = mode == TSDB_STACK_LEAF
                          ? own
                          : own | marks[tsdb_stacks_parent(sp->stacks, node)];
    }
    free(fm);
    free(lm);
    return marks;
}

size_t tsdb_stackmatch_functions(const struct tsdb_symspace *sp, uint32_t stack,
                                 const char **names, size_t max)
{
    const struct pprof_profile *sym = sp->symbols;
    size_t n = 0;
    for (uint32_t node = stack; node != 0;
         node = tsdb_stacks_parent(sp->stacks, node)) {
        uint32_t loc = tsdb_stacks_location(sp->stacks, node);
        if (loc == 0 || loc > sym->n_locations)
            continue;
        const struct pprof_location *l = &sym->locations[loc - 1];
        for (uint32_t k = 0; k < l->n_lines; k++, n++)
            if (n < max)
                names[n] =
                    sym->strings[sym->functions[l->lines[k].function_id - 1]
                                     .name];
    }
    return n;
}
