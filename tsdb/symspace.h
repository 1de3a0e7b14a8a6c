/* tsdb/symspace.h: a symbol space: the deduplicated symbols and stack tree
 * that stack ids refer to (internal to tsdb/). See symspace.c. */
#ifndef KILN_TSDB_SYMSPACE_H
#define KILN_TSDB_SYMSPACE_H

#include <stddef.h>

#include "base/buf.h"
#include "pprof/profile.h"
#include "tsdb/enc.h"
#include "tsdb/stacks.h"

struct tsdb_symspace {
    struct pprof_profile *symbols; /* strings, mappings, functions,
                                      locations; no samples */
    struct pprof_symtab *symtab;   /* keeps `symbols` unique */
    struct tsdb_stacks *stacks;    /* over symbols' location ids */
};

/* The size of each table: what an encoding starts from or goes up to. */
struct tsdb_symspace_marks {
    size_t strings, mappings, functions, locations, stacks;
};

void tsdb_symspace_init(struct tsdb_symspace *s);
void tsdb_symspace_free(struct tsdb_symspace *s);

/* The marks of an empty space (string 0 and stack node 0 pre-exist). */
void tsdb_symspace_empty_marks(struct tsdb_symspace_marks *m);
/* The current sizes. */
void tsdb_symspace_marks(const struct tsdb_symspace *s,
                         struct tsdb_symspace_marks *m);

/* Append every entry from `from` up to the current sizes to `b`, in the
 * format of docs/format/head-records.md (strings .. stacks). */
void tsdb_symspace_encode(const struct tsdb_symspace *s,
                          const struct tsdb_symspace_marks *from,
                          struct buf *b);

/* The same for the entries between `from` and `to` (to <= current, per
 * table); a long encoding can so be cut into several records. */
void tsdb_symspace_encode_range(const struct tsdb_symspace *s,
                                const struct tsdb_symspace_marks *from,
                                const struct tsdb_symspace_marks *to,
                                struct buf *b);

/* Read one encoding from `d` and add its entries. Each table's first id
 * must equal its current size and every entry must be new and refer only
 * to what exists; else returns false with *why naming the problem. */
bool tsdb_symspace_decode(struct tsdb_symspace *s, struct tsdb_dec *d,
                          const char **why);

/* Re-expresses stack ids of one space (src) in another (dst), adding the
 * symbols and stack nodes dst lacks; each src stack is mapped once. Used to
 * write blocks, compact them and rebuild the head. */
struct tsdb_stack_mapper {
    struct tsdb_symspace *dst;
    const struct tsdb_symspace *src;
    uint32_t *map; /* src stack id -> dst stack id, UINT32_MAX unknown */
    size_t cap_map;
    uint32_t *locs;
    size_t cap_locs;
};

/* Start mapping from `src` into `dst` (m must be zeroed the first time;
 * it may be reused for another pair). */
void tsdb_stack_mapper_begin(struct tsdb_stack_mapper *m,
                             struct tsdb_symspace *dst,
                             const struct tsdb_symspace *src);
uint32_t tsdb_stack_mapper_map(struct tsdb_stack_mapper *m, uint32_t id);
void tsdb_stack_mapper_free(struct tsdb_stack_mapper *m);

/* Bytes held in memory (approximate, for stats). */
size_t tsdb_symspace_bytes(const struct tsdb_symspace *s);

#endif
