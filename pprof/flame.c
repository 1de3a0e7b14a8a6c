/* pprof/flame.c: flame-graph trees: build from a profile, diff, fold, JSON,
 * and the stack focus filter. The SVG form is in flamesvg.c.
 *
 * Design.
 *  - Frame names. A profile's frames are named once up front (struct
 *    frames): each distinct name gets a small id (names interned through a
 *    hash map), and each location gets the ids of its lines, innermost
 *    first. Functions are named once per function id; frames without a
 *    function name once per location, as "[file]" or "<unknown>" (the
 *    names pprof/top.c gives them). Building and filtering then work on
 *    ids only, which is also what makes the focus filter cheap: a regex
 *    runs once per distinct name.
 *  - Building. A builder holds nodes in creation order (a parent always
 *    before its children) with a hash map from (parent, name id) to node,
 *    so each sample walks its frames root first and finds or adds one node
 *    per frame. A diff uses the same builder: the base tree's paths are
 *    added with side 0 values and the compare tree's with side 1, and the
 *    map aligns equal paths. Folding adds the kept nodes of a tree, and
 *    per kept parent one "other" node (a name id of its own, so a function
 *    named "other" stays apart) that sums the cut children.
 *  - Finishing. The builder's nodes are laid out breadth first with each
 *    node's children sorted and contiguous, into one array that becomes
 *    the public tree; node pointers are valid as long as the tree.
 *  - Folding keeps a connected top of the tree: starting from the root, it
 *    repeatedly takes the heaviest child of a kept node (a max-heap of
 *    candidates) until max_nodes are kept or the heaviest candidate is
 *    below min_fraction; candidates deeper than max_depth are never taken.
 *
 * Invariants: total == self + sum of the children's totals at every node
 * (wrapping sums), on every side, before and after folding.
 *
 * Ownership: a tree owns its nodes and names (its arena); inputs are only
 * read. Working memory (builders, frame tables, heaps) is freed before
 * returning.
 */
#include "pprof/flame.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/hmap.h"
#include "base/regex.h"

#define NO_NODE UINT32_MAX

static int64_t add_wrap(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static double abs_d(int64_t v)
{
    return v < 0 ? -(double)v : (double)v;
}

/* ---- Frame names ---------------------------------------------------------
 */

struct frames {
    struct arena *arena; /* names made up here */
    struct hmap *index;  /* name bytes -> id */
    const char **name;   /* by id */
    size_t *len;
    size_t n_names, cap_names;
    uint32_t *loc_first; /* n_locations + 1 offsets into frame */
    uint32_t *frame;     /* name id of each (location, line), innermost
                            first */
};

static uint32_t intern_name(struct frames *fr, const char *s, size_t n)
{
    bool found;
    uint64_t *slot = hmap_put(fr->index, s, n, &found);
    if (found)
        return (uint32_t)*slot;
    *slot = fr->n_names;
    fr->name =
        kb_grow(fr->name, &fr->cap_names, fr->n_names + 1, sizeof(*fr->name));
    fr->len = kb_realloc(fr->len, fr->cap_names * sizeof(*fr->len));
    fr->name[fr->n_names] = s;
    fr->len[fr->n_names] = n;
    return (uint32_t)fr->n_names++;
}

/* The name of a frame without a function name at `loc`: "[base name of
 * the mapping file]" or "<unknown>". */
static uint32_t unnamed_frame(struct frames *fr, const struct pprof_profile *p,
                              const struct pprof_location *loc)
{
    const char *file = "";
    size_t len = 0;
    if (loc->mapping_id != 0) {
        uint32_t s = p->mappings[loc->mapping_id - 1].filename;
        file = p->strings[s];
        len = p->string_lens[s];
    }
    if (len == 0)
        return intern_name(fr, "<unknown>", 9);
    /* Go's filepath.Base: trailing slashes dropped, "/" for only them. */
    while (len > 1 && file[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && file[start - 1] != '/')
        start--;
    if (start == len)
        start--;
    size_t blen = len - start;
    char *s = arena_alloc(fr->arena, blen + 3);
    s[0] = '[';
    memcpy(s + 1, file + start, blen);
    s[blen + 1] = ']';
    s[blen + 2] = '\0';
    return intern_name(fr, s, blen + 2);
}

static void frames_free(struct frames *fr)
{
    arena_free(fr->arena);
    hmap_free(fr->index);
    free(fr->name);
    free(fr->len);
    free(fr->loc_first);
    free(fr->frame);
}

/* Name every frame of `p`. */
static void frames_init(struct frames *fr, const struct pprof_profile *p)
{
    memset(fr, 0, sizeof(*fr));
    fr->arena = arena_new(0);
    fr->index = hmap_new(p->n_functions + 16);
    uint32_t *fn_name = kb_malloc((p->n_functions + 1) * sizeof(*fn_name));
    for (size_t i = 0; i < p->n_functions; i++) {
        uint32_t s = p->functions[i].name;
        fn_name[i] = p->string_lens[s] > 0
                         ? intern_name(fr, p->strings[s], p->string_lens[s])
                         : NO_NODE;
    }
    size_t n_frames = 0;
    for (size_t i = 0; i < p->n_locations; i++)
        n_frames += p->locations[i].n_lines ? p->locations[i].n_lines : 1;
    fr->loc_first = kb_malloc((p->n_locations + 1) * sizeof(*fr->loc_first));
    fr->frame = kb_malloc((n_frames + 1) * sizeof(*fr->frame));
    uint32_t k = 0;
    for (size_t i = 0; i < p->n_locations; i++) {
        const struct pprof_location *loc = &p->locations[i];
        fr->loc_first[i] = k;
        if (loc->n_lines == 0)
            fr->frame[k++] = unnamed_frame(fr, p, loc);
        for (uint32_t j = 0; j < loc->n_lines; j++) {
            uint32_t id = fn_name[loc->lines[j].function_id - 1];
            fr->frame[k++] = id != NO_NODE ? id : unnamed_frame(fr, p, loc);
        }
    }
    fr->loc_first[p->n_locations] = k;
    free(fn_name);
}

/* ---- Builder -------------------------------------------------------------
 */

struct bnode {
    uint32_t parent; /* NO_NODE for the root */
    uint32_t name;   /* builder name id */
    bool other;
    int64_t self[PPROF_FLAME_SIDES], total[PPROF_FLAME_SIDES];
    uint32_t first_child, next_sibling, n_children;
};

struct builder {
    struct arena *arena; /* names, handed to the finished tree */
    struct hmap *names;  /* name bytes -> builder name id */
    const char **name;
    size_t *len;
    size_t n_names, cap_names;
    struct hmap *child; /* (parent, name id, other) -> node */
    struct bnode *nodes;
    size_t n_nodes, cap_nodes;
    int n_sides;
};

static void builder_init(struct builder *b, int n_sides, size_t hint)
{
    memset(b, 0, sizeof(*b));
    b->arena = arena_new(0);
    b->names = hmap_new(64);
    b->child = hmap_new(hint);
    b->n_sides = n_sides;
    b->nodes = kb_grow(NULL, &b->cap_nodes, 1, sizeof(*b->nodes));
    memset(&b->nodes[0], 0, sizeof(b->nodes[0]));
    b->nodes[0].parent = NO_NODE;
    b->nodes[0].first_child = b->nodes[0].next_sibling = NO_NODE;
    b->n_nodes = 1;
}

static void builder_free(struct builder *b)
{
    arena_free(b->arena);
    hmap_free(b->names);
    hmap_free(b->child);
    free(b->name);
    free(b->len);
    free(b->nodes);
}

/* The builder's id of name `s` (copied into the builder's arena). */
static uint32_t builder_name(struct builder *b, const char *s, size_t n)
{
    bool found;
    uint64_t *slot = hmap_put(b->names, s, n, &found);
    if (found)
        return (uint32_t)*slot;
    *slot = b->n_names;
    b->name = kb_grow(b->name, &b->cap_names, b->n_names + 1, sizeof(*b->name));
    b->len = kb_realloc(b->len, b->cap_names * sizeof(*b->len));
    b->name[b->n_names] = arena_strndup(b->arena, s, n);
    b->len[b->n_names] = n;
    return (uint32_t)b->n_names++;
}

/* The child of `parent` named `name` (an "other" node when `other`),
 * added with zero values if it is not there yet. */
static uint32_t builder_child(struct builder *b, uint32_t parent, uint32_t name,
                              bool other)
{
    uint32_t key[3] = {parent, name, other};
    bool found;
    uint64_t *slot = hmap_put(b->child, key, sizeof(key), &found);
    if (found)
        return (uint32_t)*slot;
    *slot = b->n_nodes;
    b->nodes =
        kb_grow(b->nodes, &b->cap_nodes, b->n_nodes + 1, sizeof(*b->nodes));
    struct bnode *n = &b->nodes[b->n_nodes];
    memset(n, 0, sizeof(*n));
    n->parent = parent;
    n->name = name;
    n->other = other;
    n->first_child = NO_NODE;
    struct bnode *pn = &b->nodes[parent];
    n->next_sibling = pn->first_child;
    pn->first_child = (uint32_t)b->n_nodes;
    pn->n_children++;
    return (uint32_t)b->n_nodes++;
}

static void builder_add(struct builder *b, uint32_t node, int side,
                        int64_t self, int64_t total)
{
    b->nodes[node].self[side] = add_wrap(b->nodes[node].self[side], self);
    b->nodes[node].total[side] = add_wrap(b->nodes[node].total[side], total);
}

/* Sorting children while finishing: by weight, then name, "other" last. */
struct sort_ctx {
    const struct builder *b;
    double root_total[PPROF_FLAME_SIDES];
};

static double bnode_weight(const struct sort_ctx *c, const struct bnode *n)
{
    double w = 0;
    for (int s = 0; s < c->b->n_sides; s++)
        if (c->root_total[s] > 0) {
            double x = abs_d(n->total[s]) / c->root_total[s];
            if (x > w)
                w = x;
        }
    return w;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static _Thread_local const struct sort_ctx *sort_ctx;

static int child_cmp(const void *x, const void *y)
{
    const struct builder *b = sort_ctx->b;
    const struct bnode *n = &b->nodes[*(const uint32_t *)x];
    const struct bnode *m = &b->nodes[*(const uint32_t *)y];
    if (n->other != m->other)
        return n->other ? 1 : -1;
    double wn = bnode_weight(sort_ctx, n), wm = bnode_weight(sort_ctx, m);
    if (wn != wm)
        return wn > wm ? -1 : 1;
    return name_cmp(b->name[n->name], b->len[n->name], b->name[m->name],
                    b->len[m->name]);
}

/* Turn the builder into a tree (the builder is freed). */
static struct pprof_flame *builder_finish(struct builder *b)
{
    struct pprof_flame *f = kb_calloc(1, sizeof(*f));
    f->n_sides = b->n_sides;
    f->arena = b->arena;
    b->arena = NULL;
    f->n_nodes = b->n_nodes;
    f->nodes = arena_calloc(f->arena, b->n_nodes, sizeof(*f->nodes));
    struct sort_ctx ctx = {.b = b};
    for (int s = 0; s < b->n_sides; s++)
        ctx.root_total[s] = abs_d(b->nodes[0].total[s]);
    /* order[i]: the builder node at position i; breadth first, so the
     * children of each node are contiguous and placed after it. */
    uint32_t *order = kb_malloc(b->n_nodes * sizeof(*order));
    size_t placed = 1;
    order[0] = 0;
    sort_ctx = &ctx;
    for (size_t i = 0; i < b->n_nodes; i++) {
        const struct bnode *bn = &b->nodes[order[i]];
        struct pprof_flame_node *n = &f->nodes[i];
        if (bn->parent == NO_NODE) {
            n->name = PPROF_FLAME_ROOT;
            n->name_len = strlen(PPROF_FLAME_ROOT);
        } else {
            n->name = b->name[bn->name];
            n->name_len = b->len[bn->name];
        }
        n->other = bn->other;
        memcpy(n->self, bn->self, sizeof(n->self));
        memcpy(n->total, bn->total, sizeof(n->total));
        n->children = bn->n_children ? &f->nodes[placed] : NULL;
        n->n_children = bn->n_children;
        size_t first = placed;
        for (uint32_t c = bn->first_child; c != NO_NODE;
             c = b->nodes[c].next_sibling)
            order[placed++] = c;
        qsort(order + first, placed - first, sizeof(*order), child_cmp);
        for (size_t c = first; c < placed; c++) {
            f->nodes[c].depth = n->depth + 1;
            if (n->depth + 1 > f->max_depth)
                f->max_depth = n->depth + 1;
        }
    }
    sort_ctx = NULL;
    free(order);
    builder_free(b);
    return f;
}

void pprof_flame_free(struct pprof_flame *f)
{
    if (f == NULL)
        return;
    arena_free(f->arena);
    free(f);
}

double pprof_flame_weight(const struct pprof_flame *f,
                          const struct pprof_flame_node *n)
{
    double w = 0;
    for (int s = 0; s < f->n_sides; s++) {
        double root = abs_d(f->nodes[0].total[s]);
        if (root > 0 && abs_d(n->total[s]) / root > w)
            w = abs_d(n->total[s]) / root;
    }
    return w;
}

/* ---- Build ---------------------------------------------------------------
 */

enum kb_status pprof_flame_build(const struct pprof_profile *p,
                                 size_t sample_type, struct pprof_flame **out,
                                 struct kb_err *err)
{
    *out = NULL;
    if (sample_type >= p->n_sample_types)
        return kb_errf(err, KB_ERR_USAGE,
                       "sample type %zu out of range (the profile has %zu)",
                       sample_type, p->n_sample_types);
    struct frames fr;
    frames_init(&fr, p);
    struct builder b;
    builder_init(&b, 1, p->n_locations * 2 + 16);
    /* Frame name id -> builder name id, filled on first use. */
    uint32_t *bname = kb_malloc((fr.n_names + 1) * sizeof(*bname));
    for (size_t i = 0; i < fr.n_names; i++)
        bname[i] = NO_NODE;
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        int64_t v = s->values[sample_type];
        if (v == 0)
            continue;
        uint32_t node = 0;
        builder_add(&b, 0, 0, 0, v);
        for (uint32_t l = s->n_locations; l-- > 0;) {
            uint32_t loc = s->location_ids[l] - 1;
            for (uint32_t k = fr.loc_first[loc + 1]; k-- > fr.loc_first[loc];) {
                uint32_t id = fr.frame[k];
                if (bname[id] == NO_NODE)
                    bname[id] = builder_name(&b, fr.name[id], fr.len[id]);
                node = builder_child(&b, node, bname[id], false);
                builder_add(&b, node, 0, 0, v);
            }
        }
        builder_add(&b, node, 0, v, 0);
    }
    free(bname);
    frames_free(&fr);
    *out = builder_finish(&b);
    return KB_OK;
}

/* ---- Diff ----------------------------------------------------------------
 */

/* Add every path of the one-sided tree `f` to `b`, its values on `side`. */
static void add_tree(struct builder *b, const struct pprof_flame *f, int side)
{
    /* f->nodes is breadth first, parents before children: map each node
     * to its builder node in one pass. */
    uint32_t *to = kb_malloc(f->n_nodes * sizeof(*to));
    to[0] = 0;
    builder_add(b, 0, side, f->nodes[0].self[0], f->nodes[0].total[0]);
    for (size_t i = 0; i < f->n_nodes; i++) {
        const struct pprof_flame_node *n = &f->nodes[i];
        for (size_t c = 0; c < n->n_children; c++) {
            const struct pprof_flame_node *k = &n->children[c];
            uint32_t name = builder_name(b, k->name, k->name_len);
            uint32_t bn = builder_child(b, to[i], name, k->other);
            builder_add(b, bn, side, k->self[0], k->total[0]);
            to[k - f->nodes] = bn;
        }
    }
    free(to);
}

enum kb_status pprof_flame_diff(const struct pprof_flame *base,
                                const struct pprof_flame *compare,
                                struct pprof_flame **out, struct kb_err *err)
{
    *out = NULL;
    if (base->n_sides != 1 || compare->n_sides != 1)
        return kb_errf(err, KB_ERR_USAGE, "a diff of a diff tree");
    struct builder b;
    builder_init(&b, 2, base->n_nodes + compare->n_nodes);
    add_tree(&b, base, 0);
    add_tree(&b, compare, 1);
    *out = builder_finish(&b);
    return KB_OK;
}

/* ---- Fold ----------------------------------------------------------------
 */

/* A max-heap of node indices by weight. */
struct heap {
    uint32_t *idx;
    double *w;
    size_t n, cap;
};

static void heap_push(struct heap *h, uint32_t idx, double w)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->idx = kb_realloc(h->idx, h->cap * sizeof(*h->idx));
        h->w = kb_realloc(h->w, h->cap * sizeof(*h->w));
    }
    size_t i = h->n++;
    while (i > 0 && h->w[(i - 1) / 2] < w) {
        h->idx[i] = h->idx[(i - 1) / 2];
        h->w[i] = h->w[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->idx[i] = idx;
    h->w[i] = w;
}

static uint32_t heap_pop(struct heap *h)
{
    uint32_t top = h->idx[0];
    uint32_t last = h->idx[--h->n];
    double lw = h->w[h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->w[c + 1] > h->w[c])
            c++;
        if (h->w[c] <= lw)
            break;
        h->idx[i] = h->idx[c];
        h->w[i] = h->w[c];
        i = c;
    }
    if (h->n > 0) {
        h->idx[i] = last;
        h->w[i] = lw;
    }
    return top;
}

/* Push the children of node `i` that may be kept. */
static void push_children(struct heap *h, const struct pprof_flame *f, size_t i,
                          const struct pprof_flame_fold *o)
{
    const struct pprof_flame_node *n = &f->nodes[i];
    if (o->max_depth != 0 && n->depth + 1 >= o->max_depth)
        return;
    for (size_t c = 0; c < n->n_children; c++) {
        const struct pprof_flame_node *k = &n->children[c];
        heap_push(h, (uint32_t)(k - f->nodes), pprof_flame_weight(f, k));
    }
}

enum kb_status pprof_flame_fold(const struct pprof_flame *in,
                                const struct pprof_flame_fold *o,
                                struct pprof_flame **out, struct kb_err *err)
{
    *out = NULL;
    if (!isfinite(o->min_fraction) || o->min_fraction < 0)
        return kb_errf(err, KB_ERR_USAGE, "bad min_fraction %g",
                       o->min_fraction);
    bool *kept = kb_calloc(in->n_nodes, sizeof(*kept));
    kept[0] = true;
    size_t n_kept = 1;
    struct heap h = {0};
    push_children(&h, in, 0, o);
    while (h.n > 0 && (o->max_nodes == 0 || n_kept < o->max_nodes)) {
        if (h.w[0] < o->min_fraction)
            break;
        uint32_t i = heap_pop(&h);
        kept[i] = true;
        n_kept++;
        push_children(&h, in, i, o);
    }
    free(h.idx);
    free(h.w);

    struct builder b;
    builder_init(&b, in->n_sides, n_kept * 2);
    uint32_t *to = kb_malloc(in->n_nodes * sizeof(*to));
    to[0] = 0;
    for (int s = 0; s < in->n_sides; s++)
        builder_add(&b, 0, s, in->nodes[0].self[s], in->nodes[0].total[s]);
    uint32_t other_name =
        builder_name(&b, PPROF_FLAME_OTHER, strlen(PPROF_FLAME_OTHER));
    /* Breadth-first order: a kept node's parent was handled before it. */
    for (size_t i = 0; i < in->n_nodes; i++) {
        if (!kept[i])
            continue;
        const struct pprof_flame_node *n = &in->nodes[i];
        for (size_t c = 0; c < n->n_children; c++) {
            const struct pprof_flame_node *k = &n->children[c];
            size_t ki = (size_t)(k - in->nodes);
            uint32_t bn;
            if (kept[ki] && !k->other) {
                uint32_t name = builder_name(&b, k->name, k->name_len);
                bn = builder_child(&b, to[i], name, false);
                to[ki] = bn;
                for (int s = 0; s < in->n_sides; s++)
                    builder_add(&b, bn, s, k->self[s], k->total[s]);
            } else {
                bn = builder_child(&b, to[i], other_name, true);
                for (int s = 0; s < in->n_sides; s++)
                    builder_add(&b, bn, s, k->total[s], k->total[s]);
            }
        }
    }
    free(to);
    free(kept);
    *out = builder_finish(&b);
    return KB_OK;
}

/* ---- JSON ----------------------------------------------------------------
 */

uint32_t pprof_flame_json_max_depth(int nesting)
{
    /* A node at depth d is an object at nesting + 1 + 2d; its children
     * array (and a diff node's side objects) one deeper. */
    int d = (JSONW_MAX_DEPTH - nesting - 2) / 2;
    return d > 0 ? (uint32_t)d : 0;
}

static void put_side(struct jsonw *w, const struct pprof_flame *f,
                     const struct pprof_flame_node *n, int s)
{
    int64_t root = f->nodes[0].total[s];
    jsonw_object_begin(w);
    jsonw_key(w, "self");
    jsonw_int(w, n->self[s]);
    jsonw_key(w, "total");
    jsonw_int(w, n->total[s]);
    jsonw_key(w, "self_share");
    jsonw_double(w, root != 0 ? (double)n->self[s] / (double)root : 0);
    jsonw_key(w, "total_share");
    jsonw_double(w, root != 0 ? (double)n->total[s] / (double)root : 0);
    jsonw_object_end(w);
}

static void put_node(struct jsonw *w, const struct pprof_flame *f,
                     const struct pprof_flame_node *n)
{
    jsonw_object_begin(w);
    jsonw_key(w, "name");
    jsonw_stringn(w, n->name, n->name_len);
    if (f->n_sides == 1) {
        jsonw_key(w, "self");
        jsonw_int(w, n->self[0]);
        jsonw_key(w, "total");
        jsonw_int(w, n->total[0]);
    } else {
        jsonw_key(w, "base");
        put_side(w, f, n, 0);
        jsonw_key(w, "compare");
        put_side(w, f, n, 1);
    }
    if (n->other) {
        jsonw_key(w, "other");
        jsonw_bool(w, true);
    }
    jsonw_key(w, "children");
    jsonw_array_begin(w);
    for (size_t i = 0; i < n->n_children; i++)
        put_node(w, f, &n->children[i]);
    jsonw_array_end(w);
    jsonw_object_end(w);
}

void pprof_flame_write_json(const struct pprof_flame *f, struct jsonw *w)
{
    put_node(w, f, &f->nodes[0]);
}

/* ---- Focus filter --------------------------------------------------------
 */

/* Whether frame name `id` matches matcher `m`; cached per name in
 * `state` (0 unknown, 1 no, 2 yes). */
static enum kb_status name_matches(const struct frames *fr, uint32_t id,
                                   const struct pprof_stack_matcher *m,
                                   uint8_t *state, struct kb_err *err)
{
    if (state[id] != 0)
        return KB_OK;
    bool yes;
    if (m->re != NULL) {
        enum kb_status st =
            kb_regex_exec(m->re, fr->name[id], fr->len[id], &yes, err);
        if (st != KB_OK)
            return st;
    } else {
        yes = strlen(m->equal) == fr->len[id] &&
              memcmp(m->equal, fr->name[id], fr->len[id]) == 0;
    }
    state[id] = yes ? 2 : 1;
    return KB_OK;
}

/* Per location, whether matcher `m` matches it (any line, or for a leaf
 * matcher the innermost line): hits[loc]. */
static enum kb_status location_hits(const struct pprof_profile *p,
                                    const struct frames *fr,
                                    const struct pprof_stack_matcher *m,
                                    uint8_t *state, bool *hits,
                                    struct kb_err *err)
{
    memset(state, 0, fr->n_names + 1);
    for (size_t i = 0; i < p->n_locations; i++) {
        uint32_t first = fr->loc_first[i], end = fr->loc_first[i + 1];
        if (m->leaf)
            end = first + 1;
        hits[i] = false;
        for (uint32_t k = first; k < end && !hits[i]; k++) {
            enum kb_status st = name_matches(fr, fr->frame[k], m, state, err);
            if (st != KB_OK)
                return st;
            hits[i] = state[fr->frame[k]] == 2;
        }
    }
    return KB_OK;
}

enum kb_status pprof_filter_stacks(struct pprof_profile *p,
                                   const struct pprof_stack_matcher *ms,
                                   size_t n, struct kb_err *err)
{
    if (n == 0)
        return KB_OK;
    struct frames fr;
    frames_init(&fr, p);
    uint8_t *state = kb_malloc(fr.n_names + 1);
    bool *hits = kb_malloc((n * p->n_locations + 1) * sizeof(*hits));
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK; i++)
        st = location_hits(p, &fr, &ms[i], state, hits + i * p->n_locations,
                           err);
    if (st == KB_OK) {
        size_t kept = 0;
        for (size_t i = 0; i < p->n_samples; i++) {
            const struct pprof_sample *s = &p->samples[i];
            bool keep = true;
            for (size_t k = 0; k < n && keep; k++) {
                const bool *h = hits + k * p->n_locations;
                bool any = false;
                uint32_t depth =
                    ms[k].leaf && s->n_locations > 0 ? 1 : s->n_locations;
                for (uint32_t l = 0; l < depth && !any; l++)
                    any = h[s->location_ids[l] - 1];
                keep = any != ms[k].negate;
            }
            if (keep)
                p->samples[kept++] = *s;
        }
        p->n_samples = kept;
    }
    free(hits);
    free(state);
    frames_free(&fr);
    return st;
}
