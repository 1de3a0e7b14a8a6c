/* pprof/flame.h: flame-graph trees built from a pprof profile, folding of
 * small nodes, diffs of two trees, a stack focus filter, and the tree's
 * JSON and SVG forms. Used by the HTTP API (/api/v1/profile, /api/v1/diff)
 * and kilnctl. See flame.c and flamesvg.c.
 *
 * A tree has one node per call path from the root: the root ("total")
 * holds every sample, and a node's children are the distinct functions
 * called from that path. A frame is a function name, as `go tool pprof`
 * names it at function granularity (pprof/top.h): every line of every
 * location is a frame (inlined functions are frames of their own), and a
 * frame without a function name is "[base name of its mapping's file]", or
 * "<unknown>" when there is no mapping file.
 *
 * Values. For a sample with value v, v is added to the total of every node
 * on its path (root included) and to the self of its leaf's node. So for
 * every node, total == self + the sum of its children's totals; folding
 * keeps that exact. Sums wrap on int64 overflow rather than trap.
 *
 * Sides. A tree of one profile uses side 0 of the value arrays. A diff
 * tree has two sides: [0] the base, [1] the compare profile, aligned by
 * path (the same call path is one node); a path present on one side only
 * has zeros on the other.
 */
#ifndef KILN_PPROF_FLAME_H
#define KILN_PPROF_FLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "base/status.h"
#include "pprof/profile.h"

struct arena;
struct kb_regex;

#define PPROF_FLAME_SIDES 2
/* The name of the root node and of folded nodes. */
#define PPROF_FLAME_ROOT "total"
#define PPROF_FLAME_OTHER "other"

struct pprof_flame_node {
    const char *name; /* NUL-terminated, owned by the tree */
    size_t name_len;
    int64_t self[PPROF_FLAME_SIDES];
    int64_t total[PPROF_FLAME_SIDES];
    /* A folded node: it stands for the children of its parent that were
     * cut, self == total, and it has no children. */
    bool other;
    uint32_t depth; /* the root is 0 */
    /* Contiguous; sorted by weight (below) descending, then name
     * bytewise, with the "other" node last. */
    struct pprof_flame_node *children;
    size_t n_children;
};

struct pprof_flame {
    int n_sides; /* 1: one profile; 2: a diff */
    /* nodes[0] is the root; every node of the tree is in this array. */
    struct pprof_flame_node *nodes;
    size_t n_nodes;
    uint32_t max_depth; /* of the deepest node */

    /* Private. */
    struct arena *arena;
};

/* A node's weight: the largest over the sides of |total| / |the root's
 * total| (0 for a side whose root total is 0). Folding and sorting use
 * it, so a diff keeps what matters on either side. */
double pprof_flame_weight(const struct pprof_flame *f,
                          const struct pprof_flame_node *n);

/* The full tree of sample type `sample_type` of `p` (not modified, not
 * kept). Samples of value 0 add nothing. KB_ERR_USAGE when the sample type
 * is out of range. */
enum kb_status pprof_flame_build(const struct pprof_profile *p,
                                 size_t sample_type, struct pprof_flame **out,
                                 struct kb_err *err);

void pprof_flame_free(struct pprof_flame *f);

/* The diff tree of two one-sided trees (not modified, not kept): side 0
 * from `base`, side 1 from `compare`. KB_ERR_USAGE if either input is a
 * diff already. */
enum kb_status pprof_flame_diff(const struct pprof_flame *base,
                                const struct pprof_flame *compare,
                                struct pprof_flame **out, struct kb_err *err);

struct pprof_flame_fold {
    /* Keep at most this many nodes, the root included, choosing by weight
     * (a node is only kept with its parent); 0: no limit. The "other"
     * nodes come on top: at most one per kept node. */
    size_t max_nodes;
    /* Fold nodes whose weight is below this fraction (0: none). */
    double min_fraction;
    /* The folded tree is at most this deep, "other" nodes included (the
     * root is depth 0): nodes at this depth are folded into their
     * parent's "other" child. 0: no limit. */
    uint32_t max_depth;
};

/* A new tree in which, under each kept node, the children that are cut are
 * replaced by one "other" child whose self and total are the sums of their
 * totals, per side; every total, and every kept node's self, is unchanged.
 * KB_ERR_USAGE for a negative or non-finite min_fraction. */
enum kb_status pprof_flame_fold(const struct pprof_flame *in,
                                const struct pprof_flame_fold *o,
                                struct pprof_flame **out, struct kb_err *err);

/* Write the tree as one JSON value:
 *   one side:  {"name":..., "self":N, "total":N, "children":[...]}
 *   a diff:    {"name":..., "base":{S}, "compare":{S}, "children":[...]}
 *              where S is {"self":N, "total":N, "self_share":F,
 *              "total_share":F}, the shares being fractions of that side's
 *              root total (0 when it is 0);
 * folded nodes also carry "other":true. Each level takes two levels of the
 * writer's nesting (JSONW_MAX_DEPTH): fold with max_depth first (see
 * pprof_flame_json_max_depth), or the writer fails with KB_ERR_LIMIT. */
void pprof_flame_write_json(const struct pprof_flame *f, struct jsonw *w);

/* The deepest tree pprof_flame_write_json can write when the writer is
 * already `nesting` containers deep. */
uint32_t pprof_flame_json_max_depth(int nesting);

/* ---- SVG (flamesvg.c) --------------------------------------------------- */

struct pprof_flame_svg_options {
    const char *title; /* shown at the top; NULL: "Flame graph" */
    const char *unit;  /* the sample unit, for labels ("nanoseconds") */
    unsigned width;    /* pixels; 0: 1200 */
};

/* Append a standalone SVG flame graph of `f` to `out`: the root at the
 * bottom, each node a rectangle as wide as its share of its side's root
 * total, labelled when wide enough, with a <title> tooltip giving the name,
 * the values and the shares. A one-sided tree is coloured by a hash of the
 * name (warm colours); a diff is drawn with the compare side's widths and
 * coloured by the change of each node's total share (compare minus base):
 * red where it grew, blue where it shrank, white where it stayed, the
 * strongest colour for the largest change. Names are escaped for XML and
 * bytes that are not UTF-8 become U+FFFD. KB_ERR_LIMIT when `out` reaches
 * its limit (it then holds partial output, to be discarded). */
enum kb_status pprof_flame_svg(const struct pprof_flame *f,
                               const struct pprof_flame_svg_options *o,
                               struct buf *out, struct kb_err *err);

/* ---- Focus filter ------------------------------------------------------- */

/* One stack matcher (DESIGN.md section 3): on any frame of the stack
 * (__function__, inclusive) or on the leaf frame only (__leaf__, self).
 * The frame's name (as above) must equal `equal`, or, when `re` is set,
 * match it (the regex's own anchoring applies). With `negate`, a sample is
 * kept when no such frame matches instead. */
struct pprof_stack_matcher {
    bool leaf;
    bool negate;
    const struct kb_regex *re; /* when NULL, `equal` is compared */
    const char *equal;
};

/* Keep only the samples of `p` that pass every matcher (the others are
 * removed from p->samples; symbols stay). Each regex runs once per
 * distinct frame name, not per sample. A regex that fails to run (its
 * match limit) fails with its error, leaving `p` unchanged. */
enum kb_status pprof_filter_stacks(struct pprof_profile *p,
                                   const struct pprof_stack_matcher *ms,
                                   size_t n, struct kb_err *err);

#endif
