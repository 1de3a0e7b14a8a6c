/* tsdb/stacks.c: the stack prefix tree.
 *
 * Design. Profiles of one service repeat the same call paths over and over,
 * and paths share prefixes (main -> serve -> handle ...). The database keeps
 * each distinct path once as a node of a tree: node = (parent node, one
 * location), node 0 being the root (the empty stack). A sample then stores
 * one integer, its leaf node, instead of a list of locations; a whole stack
 * is read back by following parents; and inclusive ("cum") totals come from
 * one pass that adds each node's value to its parent, children before
 * parents, which node order guarantees: a child is always created after its
 * parent, so its id is larger.
 *
 * Storage is three parallel arrays indexed by node id (parent, location,
 * depth) and a hash map from (parent, location) to node id for insertion.
 *
 * Invariants: parent[id] < id for every id > 0; depth[0] = 0 and
 * depth[id] = depth[parent[id]] + 1; (parent, location) pairs are unique.
 */
#include "tsdb/stacks.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hmap.h"

struct tsdb_stacks {
    uint32_t *parent;
    uint32_t *location;
    uint32_t *depth;
    size_t count, cap;
    struct hmap *index; /* (parent, location) -> node id */
};

struct tsdb_stacks *tsdb_stacks_new(void)
{
    struct tsdb_stacks *s = kb_calloc(1, sizeof(*s));
    s->index = hmap_new(0);
    s->cap = 1024;
    s->parent = kb_malloc(s->cap * sizeof(uint32_t));
    s->location = kb_malloc(s->cap * sizeof(uint32_t));
    s->depth = kb_malloc(s->cap * sizeof(uint32_t));
    s->parent[0] = s->location[0] = s->depth[0] = 0;
    s->count = 1;
    return s;
}

void tsdb_stacks_free(struct tsdb_stacks *s)
{
    if (s == NULL)
        return;
    free(s->parent);
    free(s->location);
    free(s->depth);
    hmap_free(s->index);
    free(s);
}

uint32_t tsdb_stacks_count(const struct tsdb_stacks *s)
{
    return (uint32_t)s->count;
}

uint32_t tsdb_stacks_child(struct tsdb_stacks *s, uint32_t parent,
                           uint32_t location_id)
{
    uint32_t key[2] = {parent, location_id};
    bool found;
    uint64_t *v = hmap_put(s->index, key, sizeof(key), &found);
    if (found)
        return (uint32_t)*v;
    if (s->count == s->cap) {
        s->cap *= 2;
        s->parent = kb_reallocarray(s->parent, s->cap, sizeof(uint32_t));
        s->location = kb_reallocarray(s->location, s->cap, sizeof(uint32_t));
        s->depth = kb_reallocarray(s->depth, s->cap, sizeof(uint32_t));
    }
    uint32_t id = (uint32_t)s->count++;
    s->parent[id] = parent;
    s->location[id] = location_id;
    s->depth[id] = s->depth[parent] + 1;
    *v = id;
    return id;
}

uint32_t tsdb_stacks_insert(struct tsdb_stacks *s, const uint32_t *location_ids,
                            size_t n)
{
    uint32_t node = 0;
    for (size_t i = n; i-- > 0;)
        node = tsdb_stacks_child(s, node, location_ids[i]);
    return node;
}

uint32_t tsdb_stacks_parent(const struct tsdb_stacks *s, uint32_t node)
{
    return s->parent[node];
}

uint32_t tsdb_stacks_location(const struct tsdb_stacks *s, uint32_t node)
{
    return s->location[node];
}

uint32_t tsdb_stacks_depth(const struct tsdb_stacks *s, uint32_t node)
{
    return s->depth[node];
}

size_t tsdb_stacks_walk(const struct tsdb_stacks *s, uint32_t node,
                        uint32_t *out, size_t max)
{
    size_t depth = s->depth[node], i = 0;
    while (node != 0) {
        if (i < max)
            out[i] = s->location[node];
        i++;
        node = s->parent[node];
    }
    return depth;
}

size_t tsdb_stacks_bytes(const struct tsdb_stacks *s)
{
    return s->cap * 3 * sizeof(uint32_t) + hmap_count(s->index) * 48;
}
