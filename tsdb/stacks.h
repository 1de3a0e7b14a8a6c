/* tsdb/stacks.h: the stack prefix tree. See stacks.c. */
#ifndef KILN_TSDB_STACKS_H
#define KILN_TSDB_STACKS_H

#include <stddef.h>
#include <stdint.h>

/* Every distinct call path is a node: (parent node, location id). Node 0 is
 * the root, the empty stack; a stack is named by the id of its leaf node. */
struct tsdb_stacks;

struct tsdb_stacks *tsdb_stacks_new(void);
void tsdb_stacks_free(struct tsdb_stacks *s);

/* Number of nodes, the root included (ids are 0 .. count-1). */
uint32_t tsdb_stacks_count(const struct tsdb_stacks *s);

/* The child of `parent` through `location_id`, added if new. `parent` must
 * be an existing node, `location_id` nonzero. */
uint32_t tsdb_stacks_child(struct tsdb_stacks *s, uint32_t parent,
                           uint32_t location_id);

/* The leaf node of a stack given leaf first (pprof's order). */
uint32_t tsdb_stacks_insert(struct tsdb_stacks *s, const uint32_t *location_ids,
                            size_t n);

uint32_t tsdb_stacks_parent(const struct tsdb_stacks *s, uint32_t node);
uint32_t tsdb_stacks_location(const struct tsdb_stacks *s, uint32_t node);
uint32_t tsdb_stacks_depth(const struct tsdb_stacks *s, uint32_t node);

/* Write the stack of `node` leaf first into `out` (at most `max` ids);
 * returns the stack's depth (which may exceed max: then only max written). */
size_t tsdb_stacks_walk(const struct tsdb_stacks *s, uint32_t node,
                        uint32_t *out, size_t max);

/* Bytes of memory held (for stats). */
size_t tsdb_stacks_bytes(const struct tsdb_stacks *s);

#endif
