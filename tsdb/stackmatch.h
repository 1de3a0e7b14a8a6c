/* tsdb/stackmatch.h: the stack matchers __function__ and __leaf__ over a
 * symbol space (internal to tsdb/; the public calls are
 * tsdb_querier_stack_marks and tsdb_querier_stack_functions). See
 * stackmatch.c. */
#ifndef KILN_TSDB_STACKMATCH_H
#define KILN_TSDB_STACKMATCH_H

#include <stddef.h>
#include <stdint.h>

#include "tsdb/symspace.h"
#include "tsdb/tsdb.h"

struct kb_regex;

/* A new array of tsdb_stacks_count(sp->stacks) bytes (the caller frees
 * it): 1 where the stack matches `re` in `mode`, else 0. */
uint8_t *tsdb_stackmatch_marks(const struct tsdb_symspace *sp,
                               const struct kb_regex *re,
                               enum tsdb_stack_match mode);

/* The function names of `stack`, leaf first, one per frame (a location's
 * inlined functions are frames of their own, innermost first); fills
 * names[0..max) and returns the number of frames (may exceed max). */
size_t tsdb_stackmatch_functions(const struct tsdb_symspace *sp, uint32_t stack,
                                 const char **names, size_t max);

#endif
