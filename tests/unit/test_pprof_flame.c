/* Unit tests for pprof/flame (flame-graph trees, folding, diffs, JSON, the
 * stack focus filter) and pprof/flamesvg (the SVG form). Profiles are built
 * in code, so every expected value is known; the HTTP API's trees are
 * checked against go tool pprof in tests/e2e/api_profile.sh. */
#include <stdint.h>
#include <string.h>

#include "base/jsonw.h"
#include "base/regex.h"
#include "pprof/flame.h"
#include "pprof/profile.h"
#include "tests/unit/unit.h"

/* ---- Building profiles -------------------------------------------------- */

static struct pprof_profile *new_profile(void)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, "cpu"),
                          pprof_intern_str(p, "nanoseconds"));
    return p;
}

static uint32_t fn(struct pprof_profile *p, const char *name)
{
    struct pprof_function f = {.name = pprof_intern_str(p, name)};
    return pprof_add_function(p, &f);
}

/* A location whose lines are `names` (innermost first, ';'-separated:
 * "inl;outer" is inl inlined into outer). */
static uint32_t loc(struct pprof_profile *p, const char *names)
{
    static uint64_t next = 0x1000;
    struct pprof_line lines[8];
    uint32_t n = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", names);
    for (char *save, *t = strtok_r(buf, ";", &save); t && n < 8;
         t = strtok_r(NULL, ";", &save))
        lines[n++] = (struct pprof_line){.function_id = fn(p, t)};
    return pprof_add_location(p, 0, next += 0x10, lines, n, false);
}

/* A sample of value v whose stack is `stack`: locations root first,
 * separated by '/', each as loc() takes them ("main/a/b" or
 * "main/inl;outer"). */
static void sample(struct pprof_profile *p, const char *stack, int64_t v)
{
    static uint32_t ids[2048];
    uint32_t n = 0;
    static char buf[8192];
    snprintf(buf, sizeof(buf), "%s", stack);
    for (char *save, *t = strtok_r(buf, "/", &save); t && n < 2048;
         t = strtok_r(NULL, "/", &save))
        ids[n++] = loc(p, t);
    /* pprof stacks are leaf first. */
    for (uint32_t i = 0; i < n / 2; i++) {
        uint32_t x = ids[i];
        ids[i] = ids[n - 1 - i];
        ids[n - 1 - i] = x;
    }
    pprof_add_sample(p, ids, n, &v, NULL, 0);
}

static struct pprof_flame *build(const struct pprof_profile *p)
{
    struct pprof_flame *f = NULL;
    struct kb_err err;
    CHECK(pprof_flame_build(p, 0, &f, &err) == KB_OK);
    return f;
}

static struct pprof_flame *fold(const struct pprof_flame *in, size_t max_nodes,
                                double min_fraction, uint32_t max_depth)
{
    struct pprof_flame_fold o = {max_nodes, min_fraction, max_depth};
    struct pprof_flame *f = NULL;
    struct kb_err err;
    CHECK(pprof_flame_fold(in, &o, &f, &err) == KB_OK);
    return f;
}

/* The node at `path` ("main/a/b", names separated by '/'; "" is the
 * root), or NULL. */
static const struct pprof_flame_node *node(const struct pprof_flame *f,
                                           const char *path)
{
    const struct pprof_flame_node *n = &f->nodes[0];
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save, *t = strtok_r(buf, "/", &save); t && n;
         t = strtok_r(NULL, "/", &save)) {
        const struct pprof_flame_node *next = NULL;
        for (size_t i = 0; i < n->n_children; i++)
            if (strcmp(n->children[i].name, t) == 0)
                next = &n->children[i];
        n = next;
    }
    return n;
}

/* Every node's total is its self plus its children's totals, on every
 * side; children are never heavier than their predecessors (other last),
 * and depths are right. Returns the number of nodes that break it. */
static int check_invariants(const struct pprof_flame *f)
{
    int bad = 0;
    for (size_t i = 0; i < f->n_nodes; i++) {
        const struct pprof_flame_node *n = &f->nodes[i];
        for (int s = 0; s < f->n_sides; s++) {
            int64_t sum = n->self[s];
            for (size_t c = 0; c < n->n_children; c++)
                sum += n->children[c].total[s];
            if (sum != n->total[s])
                bad++;
        }
        for (size_t c = 0; c < n->n_children; c++) {
            if (n->children[c].depth != n->depth + 1)
                bad++;
            if (c > 0 && !n->children[c].other &&
                pprof_flame_weight(f, &n->children[c]) >
                    pprof_flame_weight(f, &n->children[c - 1]))
                bad++;
            if (n->children[c].other && c + 1 != n->n_children)
                bad++;
        }
        if (n->other && (n->n_children != 0 || n->self[0] != n->total[0]))
            bad++;
    }
    return bad;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_build(void)
{
    struct pprof_profile *p = new_profile();
    sample(p, "main/a/b", 10);
    sample(p, "main/a", 5);
    sample(p, "main/c", 3);
    sample(p, "main/c", 0);     /* adds nothing */
    sample(p, "main/inl;d", 7); /* inl inlined into d */
    struct pprof_flame *f = build(p);
    CHECK_INT(f->n_sides, 1);
    CHECK_STR(f->nodes[0].name, "total");
    CHECK_INT(f->nodes[0].total[0], 25);
    CHECK_INT(f->nodes[0].self[0], 0);
    CHECK_INT(node(f, "main")->total[0], 25);
    CHECK_INT(node(f, "main")->self[0], 0);
    CHECK_INT(node(f, "main/a")->total[0], 15);
    CHECK_INT(node(f, "main/a")->self[0], 5);
    CHECK_INT(node(f, "main/a/b")->self[0], 10);
    CHECK_INT(node(f, "main/c")->total[0], 3);
    CHECK_INT(node(f, "main/d")->total[0], 7);
    CHECK_INT(node(f, "main/d")->self[0], 0);
    CHECK_INT(node(f, "main/d/inl")->self[0], 7);
    CHECK(node(f, "main/inl") == NULL);
    /* Children by weight: a (15), d (7), c (3). */
    const struct pprof_flame_node *m = node(f, "main");
    CHECK_INT(m->n_children, 3);
    CHECK_STR(m->children[0].name, "a");
    CHECK_STR(m->children[1].name, "d");
    CHECK_STR(m->children[2].name, "c");
    CHECK_INT(f->max_depth, 3);
    CHECK_INT(f->n_nodes, 7);
    CHECK_INT(check_invariants(f), 0);
    pprof_flame_free(f);
    struct kb_err err;
    CHECK(pprof_flame_build(p, 1, &f, &err) == KB_ERR_USAGE);
    CHECK(f == NULL);
    pprof_free(p);
}

static void test_recursion_and_ties(void)
{
    struct pprof_profile *p = new_profile();
    sample(p, "main/f/f/f", 4);
    sample(p, "main/y", 2);
    sample(p, "main/x", 2);
    struct pprof_flame *f = build(p);
    CHECK_INT(node(f, "main/f")->total[0], 4);
    CHECK_INT(node(f, "main/f/f")->total[0], 4);
    CHECK_INT(node(f, "main/f/f/f")->self[0], 4);
    CHECK_INT(node(f, "main/f/f")->self[0], 0);
    /* Equal weights: by name. */
    const struct pprof_flame_node *m = node(f, "main");
    CHECK_STR(m->children[1].name, "x");
    CHECK_STR(m->children[2].name, "y");
    CHECK_INT(check_invariants(f), 0);
    pprof_flame_free(f);
    pprof_free(p);
}

static void test_unnamed_frames(void)
{
    struct pprof_profile *p = new_profile();
    struct pprof_mapping mp = {.filename =
                                   pprof_intern_str(p, "/usr/lib/libc.so.6")};
    uint32_t libc = pprof_add_mapping(p, &mp);
    uint32_t ids[3];
    ids[0] = pprof_add_location(p, libc, 0x7f00, NULL, 0, false);
    ids[1] = pprof_add_location(p, 0, 0x1234, NULL, 0, false);
    ids[2] = loc(p, "main");
    int64_t v = 3;
    pprof_add_sample(p, ids, 3, &v, NULL, 0);
    struct pprof_flame *f = build(p);
    CHECK(node(f, "main/<unknown>/[libc.so.6]") != NULL);
    CHECK_INT(node(f, "main/<unknown>/[libc.so.6]")->self[0], 3);
    pprof_flame_free(f);
    pprof_free(p);
}

/* A bigger profile: a deterministic pseudo-random tree of stacks. */
static struct pprof_profile *random_profile(int n_samples, int max_depth)
{
    static const char *const names[] = {"a", "b", "c", "d", "e",
                                        "f", "g", "h", "i", "j"};
    struct pprof_profile *p = new_profile();
    uint64_t x = 12345;
    for (int i = 0; i < n_samples; i++) {
        char stack[512] = "main";
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int depth = 1 + (int)((x >> 33) % (uint64_t)max_depth);
        for (int d = 0; d < depth; d++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            /* Skewed: low names are likelier. */
            int k = (int)((x >> 33) % 10);
            k = k * k / 10;
            strcat(stack, "/");
            strcat(stack, names[k]);
        }
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        sample(p, stack, 1 + (int64_t)((x >> 33) % 1000));
    }
    return p;
}

/* Every kept (non-other) node of `folded` has the values of the node at
 * the same path in `full`. Returns the number of mismatches. */
static int check_kept_values(const struct pprof_flame *full,
                             const struct pprof_flame *folded)
{
    int bad = 0;
    /* Parent chains: walk up to build the path. */
    for (size_t i = 1; i < folded->n_nodes; i++) {
        const struct pprof_flame_node *n = &folded->nodes[i];
        if (n->other)
            continue;
        const struct pprof_flame_node *chain[128];
        size_t depth = 0;
        /* Find the path by searching from the root: nodes are breadth
         * first, so a parent is the node whose children contain n. */
        const struct pprof_flame_node *cur = n;
        while (cur != &folded->nodes[0] && depth < 128) {
            chain[depth++] = cur;
            for (size_t k = 0; k < folded->n_nodes; k++) {
                const struct pprof_flame_node *pk = &folded->nodes[k];
                if (pk->n_children && cur >= pk->children &&
                    cur < pk->children + pk->n_children) {
                    cur = pk;
                    break;
                }
            }
        }
        const struct pprof_flame_node *m = &full->nodes[0];
        for (size_t d = depth; d-- > 0 && m;) {
            const struct pprof_flame_node *next = NULL;
            for (size_t c = 0; c < m->n_children; c++)
                if (!m->children[c].other &&
                    strcmp(m->children[c].name, chain[d]->name) == 0)
                    next = &m->children[c];
            m = next;
        }
        for (int s = 0; s < full->n_sides; s++)
            if (m == NULL || m->self[s] != n->self[s] ||
                m->total[s] != n->total[s])
                bad++;
    }
    return bad;
}

static void test_fold_keeps_totals(void)
{
    struct pprof_profile *p = random_profile(2000, 8);
    struct pprof_flame *full = build(p);
    CHECK(full->n_nodes > 500);
    CHECK_INT(check_invariants(full), 0);
    size_t limits[] = {1, 2, 10, 50, 200};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct pprof_flame *f = fold(full, limits[i], 0, 0);
        size_t real = 0, others = 0;
        for (size_t k = 0; k < f->n_nodes; k++)
            f->nodes[k].other ? others++ : real++;
        CHECK(real <= limits[i]);
        CHECK_INT(real, limits[i]); /* the tree is bigger than any limit */
        CHECK(others > 0);
        CHECK_INT(f->nodes[0].total[0], full->nodes[0].total[0]);
        CHECK_INT(check_invariants(f), 0);
        CHECK_INT(check_kept_values(full, f), 0);
        pprof_flame_free(f);
    }
    /* By fraction: every kept node weighs at least 5%. */
    struct pprof_flame *f = fold(full, 0, 0.05, 0);
    for (size_t k = 1; k < f->n_nodes; k++)
        if (!f->nodes[k].other)
            CHECK(pprof_flame_weight(f, &f->nodes[k]) >= 0.05);
    CHECK_INT(check_invariants(f), 0);
    CHECK_INT(check_kept_values(full, f), 0);
    pprof_flame_free(f);
    /* By depth: nothing deeper than 3, others included. */
    f = fold(full, 0, 0, 3);
    CHECK_INT(f->max_depth, 3);
    for (size_t k = 0; k < f->n_nodes; k++)
        if (f->nodes[k].depth == 3)
            CHECK(f->nodes[k].other);
    CHECK_INT(check_invariants(f), 0);
    CHECK_INT(check_kept_values(full, f), 0);
    pprof_flame_free(f);
    /* No limit: the same tree. */
    f = fold(full, 0, 0, 0);
    CHECK_INT(f->n_nodes, full->n_nodes);
    pprof_flame_free(f);
    struct pprof_flame_fold bad = {0, -1, 0};
    struct kb_err err;
    CHECK(pprof_flame_fold(full, &bad, &f, &err) == KB_ERR_USAGE);
    pprof_flame_free(full);
    pprof_free(p);
}

static void test_fold_other_name_clash(void)
{
    /* A function named "other" is not merged with the folded node. */
    struct pprof_profile *p = new_profile();
    sample(p, "main/other", 50);
    sample(p, "main/x", 1);
    sample(p, "main/y", 1);
    struct pprof_flame *full = build(p);
    struct pprof_flame *f = fold(full, 3, 0, 0);
    const struct pprof_flame_node *m = node(f, "main");
    CHECK_INT(m->n_children, 2);
    CHECK(!m->children[0].other);
    CHECK_INT(m->children[0].total[0], 50);
    CHECK(m->children[1].other);
    CHECK_INT(m->children[1].total[0], 2);
    CHECK_INT(m->children[1].self[0], 2);
    pprof_flame_free(f);
    pprof_flame_free(full);
    pprof_free(p);
}

static void test_diff(void)
{
    struct pprof_profile *pb = new_profile(), *pc = new_profile();
    sample(pb, "main/a", 10);
    sample(pb, "main/b", 5);
    sample(pb, "main/a/x", 5);
    sample(pc, "main/a", 4);
    sample(pc, "main/c", 8);
    sample(pc, "main/a/x", 8);
    struct pprof_flame *b = build(pb), *c = build(pc), *d = NULL;
    struct kb_err err;
    CHECK(pprof_flame_diff(b, c, &d, &err) == KB_OK);
    CHECK_INT(d->n_sides, 2);
    CHECK_INT(d->nodes[0].total[0], 20);
    CHECK_INT(d->nodes[0].total[1], 20);
    const struct pprof_flame_node *a = node(d, "main/a");
    CHECK_INT(a->total[0], 15);
    CHECK_INT(a->self[0], 10);
    CHECK_INT(a->total[1], 12);
    CHECK_INT(a->self[1], 4);
    CHECK_INT(node(d, "main/a/x")->total[0], 5);
    CHECK_INT(node(d, "main/a/x")->total[1], 8);
    CHECK_INT(node(d, "main/b")->total[0], 5);
    CHECK_INT(node(d, "main/b")->total[1], 0);
    CHECK_INT(node(d, "main/c")->total[0], 0);
    CHECK_INT(node(d, "main/c")->total[1], 8);
    CHECK_INT(d->n_nodes, 6);
    CHECK_INT(check_invariants(d), 0);
    /* Weight: the larger share of either side; c is 40% of compare. */
    CHECK(pprof_flame_weight(d, node(d, "main/c")) == 0.4);
    CHECK(pprof_flame_weight(d, a) == 0.75);
    /* A diff of a diff is refused. */
    struct pprof_flame *dd = NULL;
    CHECK(pprof_flame_diff(d, c, &dd, &err) == KB_ERR_USAGE);
    /* Folding a diff keeps both sides exact. */
    struct pprof_flame *f = fold(d, 3, 0, 0);
    CHECK_INT(check_invariants(f), 0);
    const struct pprof_flame_node *o = node(f, "main/other");
    CHECK(o != NULL && o->other);
    CHECK_INT(o->total[0], 5); /* b */
    CHECK_INT(o->total[1], 8); /* c */
    pprof_flame_free(f);
    pprof_flame_free(d);
    pprof_flame_free(b);
    pprof_flame_free(c);
    pprof_free(pb);
    pprof_free(pc);
}

/* The JSON of `f` (NULL when the writer failed). */
static char *json_of(const struct pprof_flame *f)
{
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    struct jsonw w;
    jsonw_init(&w, &out);
    pprof_flame_write_json(f, &w);
    struct kb_err err;
    if (jsonw_finish(&w, &err) != KB_OK) {
        buf_free(&out);
        return NULL;
    }
    size_t n;
    return (char *)buf_take(&out, &n);
}

static void test_json(void)
{
    struct pprof_profile *p = new_profile();
    sample(p, "main/a", 3);
    sample(p, "main/b\"q", 1);
    sample(p, "main", 1);
    struct pprof_flame *full = build(p);
    char *s = json_of(full);
    CHECK_STR(s, "{\"name\":\"total\",\"self\":0,\"total\":5,\"children\":["
                 "{\"name\":\"main\",\"self\":1,\"total\":5,\"children\":["
                 "{\"name\":\"a\",\"self\":3,\"total\":3,\"children\":[]},"
                 "{\"name\":\"b\\\"q\",\"self\":1,\"total\":1,"
                 "\"children\":[]}]}]}");
    free(s);
    struct pprof_flame *f = fold(full, 3, 0, 0);
    s = json_of(f);
    CHECK_STR(s, "{\"name\":\"total\",\"self\":0,\"total\":5,\"children\":["
                 "{\"name\":\"main\",\"self\":1,\"total\":5,\"children\":["
                 "{\"name\":\"a\",\"self\":3,\"total\":3,\"children\":[]},"
                 "{\"name\":\"other\",\"self\":1,\"total\":1,\"other\":true,"
                 "\"children\":[]}]}]}");
    free(s);
    pprof_flame_free(f);

    struct pprof_profile *q = new_profile();
    sample(q, "main/a", 1);
    sample(q, "main", 3);
    struct pprof_flame *other = build(q), *d = NULL;
    struct kb_err err;
    CHECK(pprof_flame_diff(full, other, &d, &err) == KB_OK);
    f = fold(d, 3, 0, 0);
    s = json_of(f);
    CHECK_STR(
        s,
        "{\"name\":\"total\","
        "\"base\":{\"self\":0,\"total\":5,\"self_share\":0,\"total_share\":1},"
        "\"compare\":{\"self\":0,\"total\":4,\"self_share\":0,"
        "\"total_share\":1},\"children\":["
        "{\"name\":\"main\","
        "\"base\":{\"self\":1,\"total\":5,\"self_share\":0.2,"
        "\"total_share\":1},"
        "\"compare\":{\"self\":3,\"total\":4,\"self_share\":0.75,"
        "\"total_share\":1},\"children\":["
        "{\"name\":\"a\","
        "\"base\":{\"self\":3,\"total\":3,\"self_share\":0.6,"
        "\"total_share\":0.6},"
        "\"compare\":{\"self\":1,\"total\":1,\"self_share\":0.25,"
        "\"total_share\":0.25},\"children\":[]},"
        "{\"name\":\"other\","
        "\"base\":{\"self\":1,\"total\":1,\"self_share\":0.2,"
        "\"total_share\":0.2},"
        "\"compare\":{\"self\":0,\"total\":0,\"self_share\":0,"
        "\"total_share\":0},\"other\":true,\"children\":[]}]}]}");
    free(s);
    pprof_flame_free(f);
    pprof_flame_free(d);
    pprof_flame_free(other);
    pprof_flame_free(full);
    pprof_free(q);
    pprof_free(p);
}

static void test_json_depth(void)
{
    /* A 1100-frame stack: too deep for the writer unless folded by
     * depth. */
    struct pprof_profile *p = new_profile();
    static char stack[4096] = "main";
    for (int i = 0; i < 1099; i++)
        strcat(stack, i % 2 ? "/f" : "/g");
    sample(p, stack, 7);
    sample(p, "main/h", 1);
    struct pprof_flame *full = build(p);
    CHECK_INT(full->max_depth, 1100);
    char *s = json_of(full);
    CHECK(s == NULL);
    uint32_t md = pprof_flame_json_max_depth(0);
    CHECK(md > 10);
    struct pprof_flame *f = fold(full, 0, 0, md);
    CHECK_INT(f->max_depth, md);
    s = json_of(f);
    CHECK(s != NULL);
    free(s);
    CHECK_INT(f->nodes[0].total[0], 8);
    CHECK_INT(check_invariants(f), 0);
    pprof_flame_free(f);
    /* Inside an envelope two containers deep, as the HTTP API writes. */
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    struct jsonw w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    jsonw_key(&w, "data");
    jsonw_object_begin(&w);
    jsonw_key(&w, "tree");
    md = pprof_flame_json_max_depth(2);
    f = fold(full, 0, 0, md);
    struct pprof_flame *d = NULL;
    struct kb_err err;
    CHECK(pprof_flame_diff(full, full, &d, &err) == KB_OK);
    struct pprof_flame *fd = fold(d, 0, 0, md);
    pprof_flame_write_json(fd, &w);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
    CHECK(jsonw_finish(&w, &err) == KB_OK);
    buf_free(&out);
    pprof_flame_free(fd);
    pprof_flame_free(d);
    pprof_flame_free(f);
    pprof_flame_free(full);
    pprof_free(p);
}

/* Total of the samples of `p`. */
static int64_t sum(const struct pprof_profile *p)
{
    int64_t t = 0;
    for (size_t i = 0; i < p->n_samples; i++)
        t += p->samples[i].values[0];
    return t;
}

static struct pprof_profile *filter_profile(void)
{
    struct pprof_profile *p = new_profile();
    sample(p, "main/hotA/work", 10);
    sample(p, "main/hotB/work", 20);
    sample(p, "main/hotA", 1);
    sample(p, "main/inl;hotB", 2); /* inl inlined into hotB: leaf inl */
    sample(p, "main/x", 100);
    return p;
}

static int64_t filtered(const char *re_text, bool leaf, bool negate,
                        const char *equal)
{
    struct pprof_profile *p = filter_profile();
    struct kb_regex *re = NULL;
    struct kb_err err;
    if (re_text)
        CHECK(kb_regex_compile(re_text, strlen(re_text), 0, &re, &err) ==
              KB_OK);
    struct pprof_stack_matcher m = {leaf, negate, re, equal};
    CHECK(pprof_filter_stacks(p, &m, 1, &err) == KB_OK);
    int64_t t = sum(p);
    kb_regex_free(re);
    pprof_free(p);
    return t;
}

static void test_filter(void)
{
    CHECK_INT(filtered("hotA", false, false, NULL), 11);
    CHECK_INT(filtered("hot.*", false, false, NULL), 33);
    CHECK_INT(filtered("hotB", false, false, NULL), 22);
    CHECK_INT(filtered("hot", false, false, NULL), 0); /* anchored */
    CHECK_INT(filtered("hotA", false, true, NULL), 122);
    CHECK_INT(filtered(NULL, false, false, "hotA"), 11);
    CHECK_INT(filtered(NULL, false, true, "hotA"), 122);
    /* Leaf: the innermost frame, an inlined one included. */
    CHECK_INT(filtered("work", true, false, NULL), 30);
    CHECK_INT(filtered("hotB", true, false, NULL), 0);
    CHECK_INT(filtered("inl", true, false, NULL), 2);
    CHECK_INT(filtered("hotA|inl", true, false, NULL), 3);
    CHECK_INT(filtered("work", true, true, NULL), 103);
    CHECK_INT(filtered(NULL, true, false, "x"), 100);

    /* Two matchers: both must hold. */
    struct pprof_profile *p = filter_profile();
    struct kb_regex *a = NULL, *w = NULL;
    struct kb_err err;
    CHECK(kb_regex_compile("hot.*", 5, 0, &a, &err) == KB_OK);
    CHECK(kb_regex_compile("work", 4, 0, &w, &err) == KB_OK);
    struct pprof_stack_matcher ms[2] = {{false, false, a, NULL},
                                        {true, true, w, NULL}};
    CHECK(pprof_filter_stacks(p, ms, 2, &err) == KB_OK);
    CHECK_INT(sum(p), 3);
    CHECK_INT(p->n_samples, 2);
    /* The filtered profile still encodes and builds. */
    struct pprof_flame *f = build(p);
    CHECK_INT(f->nodes[0].total[0], 3);
    CHECK(node(f, "main/hotA") != NULL);
    CHECK(node(f, "main/x") == NULL);
    pprof_flame_free(f);
    struct buf enc;
    buf_init(&enc, BUF_NO_LIMIT);
    CHECK(pprof_encode(p, &enc, &err) == KB_OK);
    buf_free(&enc);
    kb_regex_free(a);
    kb_regex_free(w);
    pprof_free(p);
}

/* How many times `needle` occurs in `s`. */
static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *q = s; (q = strstr(q, needle)) != NULL; q++)
        n++;
    return n;
}

static char *svg_of(const struct pprof_flame *f, size_t limit,
                    enum kb_status *st)
{
    struct buf out;
    buf_init(&out, limit);
    struct pprof_flame_svg_options o = {.title = "T<&>", .unit = "nanoseconds"};
    struct kb_err err;
    *st = pprof_flame_svg(f, &o, &out, &err);
    size_t n;
    return (char *)buf_take(&out, &n);
}

static void test_svg(void)
{
    struct pprof_profile *p = new_profile();
    sample(p, "main/a<b>&'c\"/leaf", 3000000000);
    sample(p, "main/bad\xff\x01name", 1000000000);
    sample(p, "main/tiny", 1);
    struct pprof_flame *f = build(p);
    enum kb_status st;
    char *s = svg_of(f, BUF_NO_LIMIT, &st);
    CHECK(st == KB_OK);
    CHECK(strncmp(s, "<?xml version=\"1.0\"", 19) == 0);
    CHECK(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    CHECK(strstr(s, "</svg>\n") != NULL);
    CHECK(strstr(s, "T&lt;&amp;&gt;") != NULL);
    CHECK(strstr(s, "a&lt;b&gt;&amp;&apos;c&quot;") != NULL);
    CHECK(strstr(s, "bad\xef\xbf\xbd\xef\xbf\xbdname") != NULL);
    CHECK(strstr(s, "\xff") == NULL);
    CHECK(strstr(s, "<b>") == NULL);
    /* A rectangle and a title per drawn node; "tiny" is under 0.1 px. */
    CHECK_INT(count(s, "<rect x=") - 1, 5);
    CHECK_INT(count(s, "<title>"), 5);
    CHECK_INT(count(s, "<g>"), count(s, "</g>"));
    CHECK(strstr(s, "<title>leaf: total 3s (75.00%), self 3s (75.00%)"
                    "</title>") != NULL);
    CHECK(strstr(s, "tiny") == NULL);
    free(s);
    /* Over the limit: an error, not a truncated success. */
    s = svg_of(f, 300, &st);
    CHECK(st == KB_ERR_LIMIT);
    free(s);

    /* A diff: grown red, shrunk blue, widths from compare. */
    struct pprof_profile *q = new_profile();
    sample(q, "main/a<b>&'c\"/leaf", 1000000000);
    sample(q, "main/bad\xff\x01name", 3000000000);
    struct pprof_flame *g = build(q), *d = NULL;
    struct kb_err err;
    CHECK(pprof_flame_diff(f, g, &d, &err) == KB_OK);
    s = svg_of(d, BUF_NO_LIMIT, &st);
    CHECK(st == KB_OK);
    /* bad..name: 25% -> 75%, the largest change: full red. */
    CHECK(strstr(s, "width=\"885.00\" height=\"15\" rx=\"2\" "
                    "fill=\"rgb(255,0,0)\"") != NULL);
    /* a..c: 75% -> 25%: full blue, 1/4 of 1180 px. */
    CHECK(strstr(s, "width=\"295.00\" height=\"15\" rx=\"2\" "
                    "fill=\"rgb(0,0,255)\"") != NULL);
    CHECK(strstr(s, "change of total share: +50.00 points") != NULL);
    CHECK(strstr(s, "change of total share: -50.00 points") != NULL);
    free(s);
    pprof_flame_free(d);
    pprof_flame_free(g);
    pprof_flame_free(f);
    pprof_free(q);
    pprof_free(p);
}

int main(void)
{
    RUN(test_build);
    RUN(test_recursion_and_ties);
    RUN(test_unnamed_frames);
    RUN(test_fold_keeps_totals);
    RUN(test_fold_other_name_clash);
    RUN(test_diff);
    RUN(test_json);
    RUN(test_json_depth);
    RUN(test_filter);
    RUN(test_svg);
    return unit_done();
}
