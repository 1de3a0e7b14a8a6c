/* pprof/top.c: the per-function flat/cum report (`go tool pprof -top`).
 *
 * Design. This follows what pprof does for a text report at function
 * granularity (driver.aggregate, graph.New, report.newTrimmedGraph), so that
 * every number and every row order equals go tool pprof's:
 *
 *  1. Nodes. Every frame (location, line) maps to a node. With function
 *     granularity pprof clears addresses, line numbers and file names, so a
 *     node is identified by the function name alone; a frame with no name
 *     (a location without lines, or a function named "") is identified by
 *     its mapping's file and the function's start line, and printed as
 *     "[base name of file]" or "<unknown>". Frames are mapped once per
 *     location up front (loc_first/frame_node), then samples are walked.
 *     Before that, the profile's drop_frames/keep_frames regexes prune
 *     frames as pprof does on reading (plan_pruning, sample_leaf).
 *  2. Values. A sample with value v != 0 adds v to the cum of each distinct
 *     node on its stack (a per-node stamp holding the last sample index
 *     avoids double counting under recursion) and to the flat of its leaf
 *     frame's node. Zero-valued samples are skipped, as pprof skips them;
 *     nodes left with flat == cum == 0 are not rows.
 *  3. Cuts. The node cutoff is node_fraction times the sum of all flats;
 *     nodes whose |cum| is below it are dropped. The rest are sorted
 *     (|flat| desc, name asc, |cum| desc, then pprof's fmt.Sprint of the
 *     node identity) and cut to max_rows. Cuts never change the values of
 *     the nodes that remain, so no recomputation is needed.
 *  4. Inline labels. pprof labels a row "(inline)" when every call edge
 *     into it is an inlined call (the callee frame is not the outermost
 *     line of its location), "(partial-inline)" when some are. Edges are
 *     those of pprof's final graph: between the rows shown (a cut makes
 *     pprof rebuild its graph from the kept nodes only, so edges then jump
 *     over dropped frames), counted once per sample, self-edges excluded,
 *     and edges lighter than edge_fraction of the sum of flats ignored.
 *
 * The total (pprof_top_total) is pprof's computeTotal over the profile as
 * pprof holds it after reading, which is merged with itself: samples with
 * the same stack and labels are summed first. That only changes the sum of
 * |v| when values have mixed signs, so only then do we pay for grouping
 * samples (canonical location ids from a pprof_symtab, which has pprof's
 * merge identity, plus the labels).
 *
 * All int64 sums wrap on overflow (as Go's do) instead of being undefined:
 * a hostile profile can make totals nonsense, never crash us.
 *
 * Ownership: the report owns its rows and row names (its arena); the input
 * profile is only read, and may be freed once the report is computed. The
 * working state (nodes, maps, the per-frame table) is freed before return.
 */
#include "pprof/top.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/regex.h"
#include "pprof/units.h"

#define NO_NODE UINT32_MAX

struct node {
    const char *name; /* printable name (profile string or work arena) */
    size_t name_len;
    const char *ident; /* fmt.Sprint of pprof's NodeInfo (last tie-break) */
    size_t ident_len;
    int64_t flat, cum;
    size_t stamp;   /* index + 1 of the last sample that added to cum */
    size_t row;     /* index + 1 of its row in the report; 0 = not shown */
    bool in_inline; /* has a kept incoming edge that is inlined */
    bool in_called; /* has a kept incoming edge that is not */
};

struct edge {
    uint32_t to;
    bool inlined; /* every occurrence was an inlined call */
    int64_t weight;
    size_t stamp; /* index + 1 of the last sample that added to weight */
};

struct top_work {
    const struct pprof_profile *p;
    struct arena *arena; /* names and identities of unnamed nodes */
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *loc_first;  /* n_locations + 1 offsets into frame_node */
    uint32_t *frame_node; /* node of each (location, line), innermost first */
    /* drop_frames pruning (NULL when the profile has none): per location,
     * how many innermost lines pprof removes, and what it prunes. */
    uint32_t *loc_skip;
    uint8_t *loc_prune;
    struct edge *edges;
    size_t n_edges, cap_edges;
};

static int64_t add_wrap(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* |v|, with |INT64_MIN| == INT64_MIN as in Go. */
static int64_t abs_wrap(int64_t v)
{
    return v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
}

/* Go's int64(float64) on amd64: out of range gives INT64_MIN. */
static int64_t f2i(double x)
{
    if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)x;
}

/* The final path element of `path`, as Go's filepath.Base. */
static void base_name(const char *path, size_t len, const char **out,
                      size_t *out_len)
{
    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len == 0) {
        *out = "/";
        *out_len = 1;
        return;
    }
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    *out = path + start;
    *out_len = len - start;
}

/* The node of one frame: function `fn` (0 = none) at location `loc`. */
static uint32_t frame_node(struct top_work *w, struct hmap *index,
                           struct buf *key, const struct pprof_location *loc,
                           uint32_t fn)
{
    const struct pprof_profile *p = w->p;
    const struct pprof_function *f = fn ? &p->functions[fn - 1] : NULL;
    bool named = f != NULL && p->string_lens[f->name] > 0;
    const char *obj = "";
    size_t obj_len = 0;
    int64_t start_line = f ? f->start_line : 0;
    if (loc->mapping_id != 0) {
        uint32_t s = p->mappings[loc->mapping_id - 1].filename;
        obj = p->strings[s];
        obj_len = p->string_lens[s];
    }
    buf_reset(key);
    if (named) {
        buf_putc(key, 'F');
        buf_append(key, p->strings[f->name], p->string_lens[f->name]);
    } else {
        buf_putc(key, 'O');
        buf_append(key, &start_line, sizeof(start_line));
        buf_append(key, obj, obj_len);
    }
    bool found;
    uint64_t *slot = hmap_put(index, key->data, key->len, &found);
    if (found)
        return (uint32_t)*slot;
    *slot = w->n_nodes;
    w->nodes =
        kb_grow(w->nodes, &w->cap_nodes, w->n_nodes + 1, sizeof(*w->nodes));
    struct node *n = &w->nodes[w->n_nodes];
    memset(n, 0, sizeof(*n));
    struct buf tmp;
    buf_init(&tmp, BUF_NO_LIMIT);
    if (named) {
        n->name = p->strings[f->name];
        n->name_len = p->string_lens[f->name];
        buf_putc(&tmp, '{');
        buf_append(&tmp, n->name, n->name_len);
        buf_puts(&tmp, "  0  0 0 }");
    } else {
        if (obj_len > 0) {
            const char *b;
            size_t blen;
            base_name(obj, obj_len, &b, &blen);
            buf_putc(&tmp, '[');
            buf_append(&tmp, b, blen);
            buf_putc(&tmp, ']');
        } else {
            buf_puts(&tmp, "<unknown>");
        }
        n->name_len = tmp.len;
        n->name = arena_strndup(w->arena, (const char *)tmp.data, tmp.len);
        buf_reset(&tmp);
        buf_printf(&tmp, "{  0  %lld 0 ", (long long)start_line);
        buf_append(&tmp, obj, obj_len);
        buf_putc(&tmp, '}');
    }
    n->ident_len = tmp.len;
    n->ident = arena_strndup(w->arena, (const char *)tmp.data, tmp.len);
    buf_free(&tmp);
    return (uint32_t)w->n_nodes++;
}

enum { PRUNE_NONE = 0, PRUNE_BENEATH = 1, PRUNE_WHOLE = 2 };

/* pprof's simplifyFunc: a name without a leading '.' and cut at the first
 * '(' that does not belong to "(anonymous namespace)" or "operator()". */
static void simplify_func(const char *name, size_t len, const char **out,
                          size_t *out_len)
{
    static const char anon[] = "(anonymous namespace)", op[] = "operator()";
    if (len > 0 && name[0] == '.') {
        name++;
        len--;
    }
    size_t i = 0;
    while (i < len) {
        if (len - i >= sizeof(anon) - 1 &&
            memcmp(name + i, anon, sizeof(anon) - 1) == 0) {
            i += sizeof(anon) - 1;
        } else if (len - i >= sizeof(op) - 1 &&
                   memcmp(name + i, op, sizeof(op) - 1) == 0) {
            i += sizeof(op) - 1;
        } else if (name[i] == '(') {
            break;
        } else {
            i++;
        }
    }
    *out = name;
    *out_len = i;
}

/* The profile's drop_frames (and keep_frames) as pprof applies them when it
 * reads a profile (Profile.RemoveUninteresting, Prune): a location whose
 * outermost line matching drop (and not keep) is its outermost line is
 * pruned whole; one where it is an inner line loses that line and those
 * inside it. A pattern pprof cannot compile means no pruning, as in pprof. */
static void plan_pruning(struct top_work *w)
{
    const struct pprof_profile *p = w->p;
    if (p->drop_frames == 0 || p->string_lens[p->drop_frames] == 0)
        return;
    struct kb_regex *drop = NULL, *keep = NULL;
    if (kb_regex_compile(p->strings[p->drop_frames],
                         p->string_lens[p->drop_frames], 0, &drop, NULL))
        return;
    if (p->keep_frames != 0 && p->string_lens[p->keep_frames] > 0 &&
        kb_regex_compile(p->strings[p->keep_frames],
                         p->string_lens[p->keep_frames], 0, &keep, NULL)) {
        kb_regex_free(drop);
        return;
    }
    w->loc_skip =
        kb_calloc(p->n_locations ? p->n_locations : 1, sizeof(*w->loc_skip));
    w->loc_prune = kb_calloc(p->n_locations ? p->n_locations : 1, 1);
    for (size_t i = 0; i < p->n_locations; i++) {
        const struct pprof_location *l = &p->locations[i];
        for (uint32_t j = l->n_lines; j-- > 0;) {
            const struct pprof_function *f =
                &p->functions[l->lines[j].function_id - 1];
            if (p->string_lens[f->name] == 0)
                continue;
            const char *name;
            size_t len;
            simplify_func(p->strings[f->name], p->string_lens[f->name], &name,
                          &len);
            if (!kb_regex_match(drop, name, len) ||
                (keep != NULL && kb_regex_match(keep, name, len)))
                continue;
            if (j == l->n_lines - 1) {
                w->loc_prune[i] = PRUNE_WHOLE;
            } else {
                w->loc_prune[i] = PRUNE_BENEATH;
                w->loc_skip[i] = j + 1;
            }
            break;
        }
    }
    kb_regex_free(drop);
    kb_regex_free(keep);
}

/* The index of the leafmost location of `s` that pprof keeps after
 * pruning: below the first frame that is not pruned (counting from the
 * root), a whole-pruned location is cut with everything beneath it, a
 * partly pruned one is kept (trimmed) with everything beneath cut. */
static uint32_t sample_leaf(const struct top_work *w,
                            const struct pprof_sample *s)
{
    if (w->loc_prune == NULL)
        return 0;
    bool found_user = false;
    for (uint32_t k = s->n_locations; k-- > 0;) {
        uint8_t pr = w->loc_prune[s->location_ids[k] - 1];
        if (pr == PRUNE_NONE) {
            found_user = true;
            continue;
        }
        if (!found_user)
            continue;
        return pr == PRUNE_WHOLE ? k + 1 : k;
    }
    return 0;
}

/* Map every (location, line) to its node. */
static void map_frames(struct top_work *w)
{
    const struct pprof_profile *p = w->p;
    w->loc_first = kb_calloc(p->n_locations + 1, sizeof(*w->loc_first));
    size_t n_frames = 0;
    for (size_t i = 0; i < p->n_locations; i++) {
        uint32_t nl = p->locations[i].n_lines;
        w->loc_first[i] = (uint32_t)n_frames;
        n_frames += nl ? nl - (w->loc_skip ? w->loc_skip[i] : 0) : 1;
    }
    w->loc_first[p->n_locations] = (uint32_t)n_frames;
    w->frame_node = kb_calloc(n_frames ? n_frames : 1, sizeof(uint32_t));
    struct hmap *index = hmap_new(p->n_functions + 16);
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    for (size_t i = 0; i < p->n_locations; i++) {
        const struct pprof_location *l = &p->locations[i];
        uint32_t *out = &w->frame_node[w->loc_first[i]];
        uint32_t skip = w->loc_skip ? w->loc_skip[i] : 0;
        if (l->n_lines == 0)
            out[0] = frame_node(w, index, &key, l, 0);
        for (uint32_t j = skip; j < l->n_lines; j++)
            out[j - skip] =
                frame_node(w, index, &key, l, l->lines[j].function_id);
    }
    buf_free(&key);
    hmap_free(index);
}

/* Step 2: flat and cum of every node. */
static void add_values(struct top_work *w, size_t st)
{
    const struct pprof_profile *p = w->p;
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        int64_t v = s->values[st];
        if (v == 0)
            continue;
        uint32_t leaf = NO_NODE, first_loc = sample_leaf(w, s);
        for (uint32_t k = s->n_locations; k-- > first_loc;) {
            uint32_t loc = s->location_ids[k] - 1;
            uint32_t first = w->loc_first[loc];
            for (uint32_t j = w->loc_first[loc + 1] - first; j-- > 0;) {
                uint32_t id = w->frame_node[first + j];
                struct node *n = &w->nodes[id];
                if (n->stamp != i + 1) {
                    n->stamp = i + 1;
                    n->cum = add_wrap(n->cum, v);
                }
                leaf = id;
            }
        }
        if (leaf != NO_NODE)
            w->nodes[leaf].flat = add_wrap(w->nodes[leaf].flat, v);
    }
}

/* pprof's FlatNameOrder. */
static int node_cmp(const void *a, const void *b)
{
    const struct node *x = *(const struct node *const *)a;
    const struct node *y = *(const struct node *const *)b;
    int64_t fx = abs_wrap(x->flat), fy = abs_wrap(y->flat);
    if (fx != fy)
        return fx > fy ? -1 : 1;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c == 0 && x->name_len != y->name_len)
        c = x->name_len < y->name_len ? -1 : 1;
    if (c != 0)
        return c;
    int64_t cx = abs_wrap(x->cum), cy = abs_wrap(y->cum);
    if (cx != cy)
        return cx > cy ? -1 : 1;
    n = x->ident_len < y->ident_len ? x->ident_len : y->ident_len;
    c = memcmp(x->ident, y->ident, n);
    if (c == 0 && x->ident_len != y->ident_len)
        c = x->ident_len < y->ident_len ? -1 : 1;
    return c;
}

/* Step 4: the edges of pprof's final graph, and the labels they give.
 * `all_nodes`: pprof built that graph with every node (no cut happened);
 * otherwise only rows are nodes of it. */
static void label_inline(struct top_work *w, size_t st, bool all_nodes,
                         int64_t edge_cutoff)
{
    const struct pprof_profile *p = w->p;
    struct hmap *index = hmap_new(w->n_nodes * 2);
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        int64_t v = s->values[st];
        if (v == 0)
            continue;
        uint32_t parent = NO_NODE, first_loc = sample_leaf(w, s);
        for (uint32_t k = s->n_locations; k-- > first_loc;) {
            uint32_t loc = s->location_ids[k] - 1;
            uint32_t first = w->loc_first[loc];
            uint32_t nl = w->loc_first[loc + 1] - first;
            for (uint32_t j = nl; j-- > 0;) {
                uint32_t id = w->frame_node[first + j];
                if (!all_nodes && w->nodes[id].row == 0)
                    continue;
                if (parent != NO_NODE && id != parent) {
                    uint32_t pair[2] = {parent, id};
                    bool found;
                    uint64_t *slot =
                        hmap_put(index, pair, sizeof(pair), &found);
                    if (!found) {
                        *slot = w->n_edges;
                        w->edges = kb_grow(w->edges, &w->cap_edges,
                                           w->n_edges + 1, sizeof(*w->edges));
                        w->edges[w->n_edges++] = (struct edge){
                            .to = id, .inlined = true, .weight = 0, .stamp = 0};
                    }
                    struct edge *e = &w->edges[*slot];
                    if (e->stamp != i + 1) {
                        e->stamp = i + 1;
                        e->weight = add_wrap(e->weight, v);
                        if (j == nl - 1)
                            e->inlined = false;
                    }
                }
                parent = id;
            }
        }
    }
    hmap_free(index);
    for (size_t i = 0; i < w->n_edges; i++) {
        const struct edge *e = &w->edges[i];
        if (abs_wrap(e->weight) < edge_cutoff)
            continue;
        if (e->inlined)
            w->nodes[e->to].in_inline = true;
        else
            w->nodes[e->to].in_called = true;
    }
}

void pprof_top_options_default(struct pprof_top_options *o,
                               const struct pprof_profile *p)
{
    memset(o, 0, sizeof(*o));
    o->sample_type = pprof_default_sample_type(p);
    o->node_fraction = 0;
    o->edge_fraction = 0.001;
    o->max_rows = 0;
}

/* Whether sample `s` carries the string label pprof::base=true. */
static bool is_diff_base(const struct pprof_profile *p,
                         const struct pprof_sample *s)
{
    for (uint32_t j = 0; j < s->n_labels; j++) {
        const struct pprof_label *l = &s->labels[j];
        if (l->str != 0 && strcmp(p->strings[l->key], "pprof::base") == 0 &&
            strcmp(p->strings[l->str], "true") == 0)
            return true;
    }
    return false;
}

struct label_ref {
    const char *key;
    uint32_t index;
};

static int label_ref_cmp(const void *a, const void *b)
{
    const struct label_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Append to `key` what makes a sample distinct in pprof's merge: its
 * locations (canonical ids from `st`) and its labels, string ones then
 * numeric ones, each kind stably ordered by key string (pprof keeps labels
 * in a map from key to values, so only the order within a key counts).
 * Labels with neither a string nor a number nor a unit are not labels to
 * pprof's decoder and are skipped. `refs` has room for the labels. */
static void sample_key(const struct pprof_profile *p,
                       const struct pprof_sample *s, struct pprof_symtab *st,
                       struct label_ref *refs, struct buf *key)
{
    buf_reset(key);
    for (uint32_t i = 0; i < s->n_locations; i++) {
        uint32_t id = pprof_symtab_location(st, s->location_ids[i]);
        buf_append(key, &id, sizeof(id));
    }
    for (uint32_t j = 0; j < s->n_labels; j++)
        refs[j] = (struct label_ref){p->strings[s->labels[j].key], j};
    qsort(refs, s->n_labels, sizeof(*refs), label_ref_cmp);
    for (int numeric = 0; numeric < 2; numeric++) {
        for (uint32_t j = 0; j < s->n_labels; j++) {
            const struct pprof_label *l = &s->labels[refs[j].index];
            if (numeric ? (l->str != 0 || (l->num == 0 && l->num_unit == 0))
                        : l->str == 0)
                continue;
            buf_printf(key, "\n%d", numeric);
            buf_puts(key, refs[j].key);
            buf_putc(key, '=');
            if (numeric)
                buf_printf(key, "%lld %s", (long long)l->num,
                           p->strings[l->num_unit]);
            else
                buf_puts(key, p->strings[l->str]);
        }
    }
}

int64_t pprof_top_total(const struct pprof_profile *p, size_t sample_type)
{
    int64_t total = 0, base_total = 0;
    bool negative = false;
    if (sample_type >= p->n_sample_types)
        return 0;
    for (size_t i = 0; i < p->n_samples && !negative; i++)
        negative = p->samples[i].values[sample_type] < 0;
    if (!negative) {
        for (size_t i = 0; i < p->n_samples; i++) {
            const struct pprof_sample *s = &p->samples[i];
            int64_t v = s->values[sample_type];
            total = add_wrap(total, v);
            if (v != 0 && is_diff_base(p, s))
                base_total = add_wrap(base_total, v);
        }
        return base_total > 0 ? base_total : total;
    }
    /* go tool pprof merges the profile it reads with itself first, which
     * sums samples of the same stack and labels; the total is then over
     * those sums, and with mixed signs |a + b| < |a| + |b|. */
    struct pprof_profile *canon = pprof_new();
    struct pprof_symtab *st = pprof_symtab_new(canon);
    pprof_symtab_begin(st, p);
    struct hmap *groups = hmap_new(p->n_samples);
    int64_t *sums = kb_calloc(p->n_samples ? p->n_samples : 1, sizeof(*sums));
    bool *base = kb_calloc(p->n_samples ? p->n_samples : 1, sizeof(*base));
    size_t n_groups = 0, max_labels = 1;
    for (size_t i = 0; i < p->n_samples; i++)
        if (p->samples[i].n_labels > max_labels)
            max_labels = p->samples[i].n_labels;
    struct label_ref *refs = kb_calloc(max_labels, sizeof(*refs));
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        sample_key(p, s, st, refs, &key);
        bool found;
        uint64_t *slot =
            hmap_put(groups, key.len ? (void *)key.data : "", key.len, &found);
        if (!found) {
            *slot = n_groups;
            base[n_groups++] = is_diff_base(p, s);
        }
        sums[*slot] = add_wrap(sums[*slot], s->values[sample_type]);
    }
    for (size_t g = 0; g < n_groups; g++) {
        int64_t v = abs_wrap(sums[g]);
        total = add_wrap(total, v);
        if (base[g])
            base_total = add_wrap(base_total, v);
    }
    buf_free(&key);
    free(refs);
    free(sums);
    free(base);
    hmap_free(groups);
    pprof_symtab_free(st);
    pprof_free(canon);
    return base_total > 0 ? base_total : total;
}

enum kb_status pprof_top_compute(const struct pprof_profile *p,
                                 const struct pprof_top_options *o,
                                 struct pprof_top **out, struct kb_err *err)
{
    *out = NULL;
    if (o->sample_type >= p->n_sample_types)
        return kb_errf(err, KB_ERR_USAGE,
                       "sample type %zu out of range (profile has %zu)",
                       o->sample_type, p->n_sample_types);
    if (!(o->node_fraction >= 0 && isfinite(o->node_fraction)) ||
        !(o->edge_fraction >= 0 && isfinite(o->edge_fraction)))
        return kb_errf(err, KB_ERR_USAGE, "fractions must be finite and >= 0");

    struct top_work w = {.p = p, .arena = arena_new(0)};
    struct node **order = NULL;
    plan_pruning(&w);
    map_frames(&w);
    add_values(&w, o->sample_type);

    int64_t flat_total = 0;
    for (size_t i = 0; i < w.n_nodes; i++)
        flat_total = add_wrap(flat_total, w.nodes[i].flat);
    int64_t node_cutoff = abs_wrap(f2i((double)flat_total * o->node_fraction));
    int64_t edge_cutoff = abs_wrap(f2i((double)flat_total * o->edge_fraction));

    struct pprof_top *t = kb_calloc(1, sizeof(*t));
    t->arena = arena_new(0);
    t->sample_type = o->sample_type;
    t->total = pprof_top_total(p, o->sample_type);

    order = kb_calloc(w.n_nodes ? w.n_nodes : 1, sizeof(*order));
    size_t n_order = 0;
    for (size_t i = 0; i < w.n_nodes; i++) {
        struct node *n = &w.nodes[i];
        if (n->flat == 0 && n->cum == 0)
            continue;
        t->n_functions++;
        if (node_cutoff > 0 && abs_wrap(n->cum) < node_cutoff)
            continue;
        order[n_order++] = n;
    }
    t->n_dropped = t->n_functions - n_order;
    t->n_kept = n_order;
    qsort(order, n_order, sizeof(*order), node_cmp);
    bool truncated = o->max_rows > 0 && o->max_rows < n_order;
    if (truncated)
        n_order = o->max_rows;
    for (size_t i = 0; i < n_order; i++)
        order[i]->row = i + 1;

    label_inline(&w, o->sample_type, t->n_dropped == 0 && !truncated,
                 edge_cutoff);

    t->rows = arena_calloc(t->arena, n_order ? n_order : 1, sizeof(*t->rows));
    t->n_rows = n_order;
    for (size_t i = 0; i < n_order; i++) {
        const struct node *n = order[i];
        struct pprof_top_row *r = &t->rows[i];
        r->name = arena_strndup(t->arena, n->name, n->name_len);
        r->flat = n->flat;
        r->cum = n->cum;
        r->inlined = !n->in_inline  ? PPROF_TOP_CALLED
                     : n->in_called ? PPROF_TOP_PARTIAL_INLINE
                                    : PPROF_TOP_INLINED;
        t->flat_sum = add_wrap(t->flat_sum, n->flat);
    }
    free(order);
    free(w.nodes);
    free(w.loc_first);
    free(w.loc_skip);
    free(w.loc_prune);
    free(w.frame_node);
    free(w.edges);
    arena_free(w.arena);
    *out = t;
    return KB_OK;
}

void pprof_top_free(struct pprof_top *t)
{
    if (t == NULL)
        return;
    arena_free(t->arena);
    free(t);
}

const char *pprof_top_unit(const struct pprof_top *t, const char *sample_unit)
{
    /* With no rows pprof keeps "minimum": every value scales on its own. */
    if (t->n_rows == 0)
        return "minimum";
    int64_t min = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        int64_t m = abs_wrap(t->rows[i].flat);
        if (m == 0)
            m = abs_wrap(t->rows[i].cum);
        if (m > 0 && (min == 0 || m < min))
            min = m;
    }
    return pprof_units_output_unit(min, t->total, sample_unit);
}
