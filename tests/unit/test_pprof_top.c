/* Unit tests for pprof/top (the go tool pprof -top report) and pprof/units
 * (pprof's value labels and percentages). Profiles are built in code, so
 * every expected number is known; comparisons with go tool pprof itself on
 * real profiles live in tests/e2e/kilnctl_vs_go.sh. */
#include <stdint.h>
#include <string.h>

#include "pprof/profile.h"
#include "pprof/top.h"
#include "pprof/units.h"
#include "tests/unit/unit.h"

/* ---- Building profiles -------------------------------------------------- */

/* A profile with one sample type "cpu"/"nanoseconds" (or the given ones). */
static struct pprof_profile *new_profile(const char *type, const char *unit)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, type),
                          pprof_intern_str(p, unit));
    return p;
}

static uint32_t fn(struct pprof_profile *p, const char *name)
{
    struct pprof_function f = {.name = pprof_intern_str(p, name),
                               .filename = pprof_intern_str(p, "x.go")};
    return pprof_add_function(p, &f);
}

/* A location at `addr` with the functions `names` as its lines, innermost
 * first (more than one name: the first ones are inlined into the last). */
static uint32_t loc(struct pprof_profile *p, uint32_t mapping, uint64_t addr,
                    const char *const *names, uint32_t n)
{
    struct pprof_line lines[8];
    for (uint32_t i = 0; i < n; i++)
        lines[i] =
            (struct pprof_line){.function_id = fn(p, names[i]), .line = 10 + i};
    return pprof_add_location(p, mapping, addr, lines, n, false);
}

/* A location with one function. */
static uint32_t loc1(struct pprof_profile *p, const char *name)
{
    static uint64_t next = 0x1000;
    const char *names[] = {name};
    return loc(p, 0, next += 0x10, names, 1);
}

/* A sample of one value; `ids` leaf first. */
static void sample(struct pprof_profile *p, const uint32_t *ids, uint32_t n,
                   int64_t v)
{
    pprof_add_sample(p, ids, n, &v, NULL, 0);
}

static struct pprof_top *top_of(const struct pprof_profile *p, size_t max_rows,
                                double node_fraction)
{
    struct pprof_top_options o;
    pprof_top_options_default(&o, p);
    o.max_rows = max_rows;
    o.node_fraction = node_fraction;
    struct pprof_top *t = NULL;
    struct kb_err err;
    enum kb_status st = pprof_top_compute(p, &o, &t, &err);
    CHECK(st == KB_OK);
    return t;
}

/* The row named `name`, or NULL. */
static const struct pprof_top_row *row(const struct pprof_top *t,
                                       const char *name)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    return NULL;
}

/* ---- pprof/units --------------------------------------------------------- */

static void test_units_label(void)
{
    char b[PPROF_UNITS_LABEL_MAX];
    CHECK_STR(pprof_units_label(b, 1500000000, "nanoseconds", "s"), "1.50s");
    CHECK_STR(pprof_units_label(b, 120000000, "nanoseconds", "auto"), "120ms");
    CHECK_STR(pprof_units_label(b, 10000000, "nanoseconds", "s"), "0.01s");
    CHECK_STR(pprof_units_label(b, 2000000000, "nanoseconds", "s"), "2s");
    CHECK_STR(pprof_units_label(b, 13107200, "bytes", "auto"), "12.50MB");
    CHECK_STR(pprof_units_label(b, 524288, "bytes", "minimum"), "512kB");
    CHECK_STR(pprof_units_label(b, 2097152, "bytes", "MB"), "2MB");
    CHECK_STR(pprof_units_label(b, 1000, "Bytes", "kB"), "0.98kB");
    CHECK_STR(pprof_units_label(b, 12345, "count", "count"), "12345");
    CHECK_STR(pprof_units_label(b, 7, "objects", "auto"), "7");
    CHECK_STR(pprof_units_label(b, 0, "nanoseconds", "ms"), "0");
    CHECK_STR(pprof_units_label(b, 1, "nanoseconds", "s"), "0");
    CHECK_STR(pprof_units_label(b, -1500000000, "nanoseconds", "s"), "-1.50s");
    CHECK_STR(pprof_units_label(b, 7200, "seconds", "auto"), "2hrs");
    CHECK_STR(pprof_units_label(b, 500, "microseconds", "auto"), "500us");
    /* A known unit to an unknown one: the family's default unit. */
    CHECK_STR(pprof_units_label(b, 3, "bytes", "furlongs"), "3B");
    CHECK_STR(pprof_units_label(b, 3000000000, "ns", "furlongs"), "3s");
    /* Unknown from-unit: the number, and to_unit unless unit-less. */
    CHECK_STR(pprof_units_label(b, 3, "widgets", "furlongs"), "3furlongs");
    CHECK_STR(pprof_units_label(b, INT64_MIN, "count", "count"),
              "-9223372036854775808");
    const char *u = NULL;
    double v = pprof_units_scale(1536, "bytes", "auto", &u);
    CHECK(v == 1.5);
    CHECK_STR(u, "kB");
    v = pprof_units_scale(0, "bytes", "auto", &u);
    CHECK(v == 0);
    CHECK_STR(u, "B");
    v = pprof_units_scale(5, "count", "auto", &u);
    CHECK(v == 5);
    CHECK_STR(u, "");
}

static void test_units_percent(void)
{
    char b[PPROF_UNITS_LABEL_MAX];
    CHECK_STR(pprof_units_percent(b, 1, 2), "50.00%");
    CHECK_STR(pprof_units_percent(b, 1, 3), "33.33%");
    CHECK_STR(pprof_units_percent(b, 5, 5), "  100%");
    CHECK_STR(pprof_units_percent(b, 9996, 10000), "  100%");
    CHECK_STR(pprof_units_percent(b, 1, 200), "  0.5%");
    CHECK_STR(pprof_units_percent(b, 1, 1000), "  0.1%");
    CHECK_STR(pprof_units_percent(b, 123, 100000), " 0.12%");
    CHECK_STR(pprof_units_percent(b, 1, 10000000), "1e-05%");
    CHECK_STR(pprof_units_percent(b, -1, 4), "25.00%");
    CHECK_STR(pprof_units_percent(b, 0, 10), "    0%");
    CHECK_STR(pprof_units_percent(b, 3, 0), "    0%");
    CHECK_STR(pprof_units_percent(b, 3, 2), "150.00%");
}

static void test_units_output_unit(void)
{
    /* 10ms smallest, 5s total: 100 * 10ms = 1s, so seconds ("0.01s"). */
    CHECK_STR(pprof_units_output_unit(10000000, 5000000000, "nanoseconds"),
              "s");
    /* 120ms smallest, 2s total: 100x would exceed the total: ms. */
    CHECK_STR(pprof_units_output_unit(120000000, 2000000000, "nanoseconds"),
              "ms");
    /* Same unit: kept. */
    CHECK_STR(pprof_units_output_unit(524288, 1048575, "bytes"), "kB");
    CHECK_STR(pprof_units_output_unit(1024, 100 << 20, "bytes"), "kB");
    CHECK_STR(pprof_units_output_unit(512, 100 << 20, "bytes"), "kB");
    /* No smallest value: the total's unit. */
    CHECK_STR(pprof_units_output_unit(0, 3 << 20, "bytes"), "MB");
    /* Unit-less sample types keep their own unit string. */
    CHECK_STR(pprof_units_output_unit(1, 1000000, "count"), "count");
}

/* ---- pprof/top ----------------------------------------------------------- */

/* main -> work -> hotA (30), main -> work -> hotB (10), main (5). */
static void test_top_basic(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    uint32_t m = loc1(p, "main.main"), w = loc1(p, "main.work");
    uint32_t a = loc1(p, "main.hotA"), b = loc1(p, "main.hotB");
    uint32_t s1[] = {a, w, m}, s2[] = {b, w, m}, s3[] = {m};
    sample(p, s1, 3, 30);
    sample(p, s2, 3, 10);
    sample(p, s3, 1, 5);
    sample(p, s1, 3, 20);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->total, 65);
    CHECK_INT(t->flat_sum, 65);
    CHECK_INT(t->n_rows, 4);
    CHECK_INT(t->n_functions, 4);
    CHECK_INT(t->n_dropped, 0);
    CHECK_STR(t->rows[0].name, "main.hotA");
    CHECK_INT(t->rows[0].flat, 50);
    CHECK_INT(t->rows[0].cum, 50);
    CHECK_STR(t->rows[1].name, "main.hotB");
    CHECK_STR(t->rows[2].name, "main.main");
    CHECK_INT(t->rows[2].flat, 5);
    CHECK_INT(t->rows[2].cum, 65);
    CHECK_STR(t->rows[3].name, "main.work");
    CHECK_INT(t->rows[3].flat, 0);
    CHECK_INT(t->rows[3].cum, 60);
    for (size_t i = 0; i < t->n_rows; i++)
        CHECK(t->rows[i].inlined == PPROF_TOP_CALLED);
    pprof_top_free(t);
    pprof_free(p);
}

/* One location main:[inl (inlined), main]; the leaf line is the innermost. */
static void test_top_inline(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    const char *names[] = {"pkg.inl", "main.main"};
    uint32_t l = loc(p, 0, 0x500, names, 2);
    uint32_t c = loc1(p, "pkg.inl"); /* also called for real elsewhere */
    uint32_t m = loc1(p, "main.other");
    uint32_t s1[] = {l}, s2[] = {c, m};
    sample(p, s1, 1, 7);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->n_rows, 2);
    CHECK_STR(t->rows[0].name, "pkg.inl");
    CHECK_INT(t->rows[0].flat, 7);
    CHECK_INT(t->rows[0].cum, 7);
    CHECK(t->rows[0].inlined == PPROF_TOP_INLINED);
    CHECK_STR(t->rows[1].name, "main.main");
    CHECK_INT(t->rows[1].flat, 0);
    CHECK_INT(t->rows[1].cum, 7);
    CHECK(t->rows[1].inlined == PPROF_TOP_CALLED);
    pprof_top_free(t);

    /* Reached by a real call too: partially inlined. */
    sample(p, s2, 2, 3);
    t = top_of(p, 0, 0);
    CHECK_STR(t->rows[0].name, "pkg.inl");
    CHECK_INT(t->rows[0].flat, 10);
    CHECK(t->rows[0].inlined == PPROF_TOP_PARTIAL_INLINE);
    pprof_top_free(t);
    pprof_free(p);
}

/* a -> b -> a -> b (leaf b): a and b count once each in cum. */
static void test_top_recursion(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    uint32_t a = loc1(p, "a"), b = loc1(p, "b"), a2 = loc1(p, "a");
    const char *names[] = {"b", "b"}; /* b inlined into itself */
    uint32_t bb = loc(p, 0, 0x900, names, 2);
    uint32_t s1[] = {b, a2, b, a}, s2[] = {bb, a}, s3[] = {a, a, a};
    sample(p, s1, 4, 100);
    sample(p, s2, 2, 10);
    sample(p, s3, 3, 1);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->total, 111);
    CHECK_INT(t->n_rows, 2);
    CHECK_STR(t->rows[0].name, "b");
    CHECK_INT(t->rows[0].flat, 110);
    CHECK_INT(t->rows[0].cum, 110);
    CHECK_STR(t->rows[1].name, "a");
    CHECK_INT(t->rows[1].flat, 1);
    CHECK_INT(t->rows[1].cum, 111);
    /* b's only inlined occurrence is into itself: a self-edge, ignored. */
    CHECK(t->rows[0].inlined == PPROF_TOP_CALLED);
    pprof_top_free(t);
    pprof_free(p);
}

/* Locations without lines: "[base name of mapping file]", or "<unknown>";
 * all of one mapping file are one row, as in pprof. */
static void test_top_unsymbolized(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    struct pprof_mapping mp = {
        .memory_start = 0x7f0000000000,
        .memory_limit = 0x7f0000100000,
        .filename = pprof_intern_str(p, "/usr/lib/x86_64-linux-gnu/libc.so.6")};
    uint32_t libc = pprof_add_mapping(p, &mp);
    uint32_t r1 = pprof_add_location(p, libc, 0x7f0000000100, NULL, 0, false);
    uint32_t r2 = pprof_add_location(p, libc, 0x7f0000000200, NULL, 0, false);
    uint32_t r3 = pprof_add_location(p, 0, 0x4a5b6c, NULL, 0, false);
    /* A function with no name is named like an unsymbolized frame. */
    struct pprof_function nameless = {.name = 0};
    struct pprof_line ln = {.function_id = pprof_add_function(p, &nameless)};
    uint32_t r4 = pprof_add_location(p, libc, 0x7f0000000300, &ln, 1, false);
    uint32_t m = loc1(p, "main.main");
    uint32_t s1[] = {r1, m}, s2[] = {r2, r1, m}, s3[] = {r3, m}, s4[] = {r4};
    sample(p, s1, 2, 4);
    sample(p, s2, 3, 2);
    sample(p, s3, 2, 3);
    sample(p, s4, 1, 1);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->n_rows, 3);
    const struct pprof_top_row *r = row(t, "[libc.so.6]");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->flat, 7);
        CHECK_INT(r->cum, 7);
    }
    r = row(t, "<unknown>");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->flat, 3);
        CHECK_INT(r->cum, 3);
    }
    CHECK_STR(t->rows[0].name, "[libc.so.6]");
    CHECK_STR(t->rows[1].name, "<unknown>");
    CHECK_STR(t->rows[2].name, "main.main");
    CHECK_INT(t->rows[2].cum, 9);
    pprof_top_free(t);
    pprof_free(p);
}

/* Equal flats sort by name; functions only in zero-valued samples are no
 * rows; empty stacks count in the total only. */
static void test_top_ties_and_zeros(void)
{
    struct pprof_profile *p = new_profile("alloc_space", "bytes");
    uint32_t z = loc1(p, "zeta"), a = loc1(p, "alpha"), m = loc1(p, "mu");
    uint32_t g = loc1(p, "ghost");
    uint32_t s1[] = {z}, s2[] = {a}, s3[] = {m, z}, s4[] = {g};
    sample(p, s1, 1, 5);
    sample(p, s2, 1, 5);
    sample(p, s3, 2, 5);
    sample(p, s4, 1, 0);
    sample(p, NULL, 0, 4);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->total, 19);
    CHECK_INT(t->flat_sum, 15);
    CHECK_INT(t->n_rows, 3);
    CHECK_STR(t->rows[0].name, "alpha");
    CHECK_STR(t->rows[1].name, "mu");
    CHECK_STR(t->rows[2].name, "zeta");
    CHECK_INT(t->rows[2].cum, 10);
    CHECK(row(t, "ghost") == NULL);
    pprof_top_free(t);
    pprof_free(p);
}

/* |flat| orders rows; a negative total counts by magnitude. */
static void test_top_negative(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    uint32_t a = loc1(p, "a"), b = loc1(p, "b");
    uint32_t s1[] = {a}, s2[] = {b};
    sample(p, s1, 1, 3);
    sample(p, s2, 1, -8);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->total, 11);
    CHECK_STR(t->rows[0].name, "b");
    CHECK_INT(t->rows[0].flat, -8);
    CHECK_STR(t->rows[1].name, "a");
    pprof_top_free(t);

    /* Samples of one stack and labels are summed before |v| (pprof merges
     * what it reads): +3 and -2 on stack {a} count 1, not 5. Other labels
     * make another sample. */
    sample(p, s1, 1, -2);
    CHECK_INT(pprof_top_total(p, 0), 11 - 3 + 1);
    struct pprof_label lab = {.key = pprof_intern_str(p, "k"),
                              .str = pprof_intern_str(p, "v")};
    int64_t v = -4;
    pprof_add_sample(p, s1, 1, &v, &lab, 1);
    CHECK_INT(pprof_top_total(p, 0), 9 + 4);
    /* Equal locations under other ids are the same stack too. */
    const char *names[] = {"a"};
    uint32_t a2 = loc(p, 0, p->locations[a - 1].address, names, 1);
    uint32_t s3[] = {a2};
    sample(p, s3, 1, -1);
    t = top_of(p, 0, 0);
    CHECK_INT(t->total, 13 - 1);
    CHECK_INT(row(t, "a")->flat, 3 - 2 - 4 - 1);
    pprof_top_free(t);
    pprof_free(p);
}

static void test_top_zero_total(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->total, 0);
    CHECK_INT(t->n_rows, 0);
    CHECK_STR(pprof_top_unit(t, "nanoseconds"), "minimum");
    pprof_top_free(t);
    uint32_t a = loc1(p, "a");
    uint32_t s1[] = {a};
    sample(p, s1, 1, 0);
    t = top_of(p, 0, 0.005);
    CHECK_INT(t->total, 0);
    CHECK_INT(t->n_rows, 0);
    CHECK_INT(t->flat_sum, 0);
    pprof_top_free(t);
    pprof_free(p);
}

/* node_fraction drops by |cum|; max_rows cuts after sorting. */
static void test_top_cuts(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    uint32_t root = loc1(p, "root"), big = loc1(p, "big");
    uint32_t mid = loc1(p, "mid"), tiny = loc1(p, "tiny");
    uint32_t s1[] = {big, root}, s2[] = {mid, root}, s3[] = {tiny, root};
    sample(p, s1, 2, 900);
    sample(p, s2, 2, 95);
    sample(p, s3, 2, 5);
    struct pprof_top *t = top_of(p, 0, 0.01); /* cutoff 10 */
    CHECK_INT(t->n_functions, 4);
    CHECK_INT(t->n_dropped, 1);
    CHECK_INT(t->n_kept, 3);
    CHECK_INT(t->n_rows, 3);
    CHECK(row(t, "tiny") == NULL);
    CHECK_INT(t->flat_sum, 995);
    CHECK_INT(t->total, 1000);
    pprof_top_free(t);
    t = top_of(p, 2, 0);
    CHECK_INT(t->n_kept, 4);
    CHECK_INT(t->n_rows, 2);
    CHECK_STR(t->rows[0].name, "big");
    CHECK_STR(t->rows[1].name, "mid");
    CHECK_INT(t->flat_sum, 995);
    pprof_top_free(t);
    t = top_of(p, 10, 0);
    CHECK_INT(t->n_rows, 4);
    CHECK_STR(t->rows[3].name, "root");
    pprof_top_free(t);
    pprof_free(p);
}

/* Which sample type, defaults, bad options, diff-base totals. */
static void test_top_sample_types(void)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, "samples"),
                          pprof_intern_str(p, "count"));
    pprof_add_sample_type(p, pprof_intern_str(p, "cpu"),
                          pprof_intern_str(p, "nanoseconds"));
    uint32_t a = loc1(p, "a"), b = loc1(p, "b");
    uint32_t s1[] = {a}, s2[] = {b};
    int64_t v1[] = {3, 30}, v2[] = {5, 20};
    pprof_add_sample(p, s1, 1, v1, NULL, 0);
    pprof_add_sample(p, s2, 1, v2, NULL, 0);

    struct pprof_top_options o;
    pprof_top_options_default(&o, p);
    CHECK_INT(o.sample_type, 1);
    CHECK_INT(o.max_rows, 0);
    CHECK(o.node_fraction == 0);
    struct pprof_top *t = NULL;
    CHECK(pprof_top_compute(p, &o, &t, NULL) == KB_OK);
    CHECK_STR(t->rows[0].name, "a");
    CHECK_INT(t->total, 50);
    pprof_top_free(t);
    o.sample_type = 0;
    CHECK(pprof_top_compute(p, &o, &t, NULL) == KB_OK);
    CHECK_STR(t->rows[0].name, "b");
    CHECK_INT(t->total, 8);
    pprof_top_free(t);

    struct kb_err err;
    o.sample_type = 2;
    t = NULL;
    CHECK(pprof_top_compute(p, &o, &t, &err) == KB_ERR_USAGE);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "sample type 2") != NULL);
    o.sample_type = 0;
    o.node_fraction = -1;
    CHECK(pprof_top_compute(p, &o, &t, &err) == KB_ERR_USAGE);
    CHECK(t == NULL);

    /* Samples labelled pprof::base=true make the total theirs alone. */
    struct pprof_label base = {.key = pprof_intern_str(p, "pprof::base"),
                               .str = pprof_intern_str(p, "true")};
    int64_t v3[] = {-2, -25};
    pprof_add_sample(p, s1, 1, v3, &base, 1);
    CHECK_INT(pprof_top_total(p, 1), 25);
    CHECK_INT(pprof_top_total(p, 0), 2);
    CHECK_INT(pprof_top_total(p, 7), 0);
    pprof_free(p);
}

/* The unit a report prints in: from its smallest row and its total. */
static void test_top_unit(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    uint32_t a = loc1(p, "a"), b = loc1(p, "b");
    uint32_t s1[] = {a}, s2[] = {b, a};
    sample(p, s1, 1, 4990000000);
    sample(p, s2, 1, 10000000);
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_STR(pprof_top_unit(t, "nanoseconds"), "s");
    pprof_top_free(t);
    pprof_free(p);

    p = new_profile("inuse_objects", "count");
    a = loc1(p, "a");
    uint32_t s3[] = {a};
    sample(p, s3, 1, 12);
    t = top_of(p, 0, 0);
    CHECK_STR(pprof_top_unit(t, "count"), "count");
    pprof_top_free(t);
    pprof_free(p);
}

/* Edges lighter than edge_fraction are ignored for the (inline) marks, and
 * with a cut pprof rebuilds its graph from the kept rows only, so edges
 * from dropped functions disappear. */
static void test_top_inline_edges(void)
{
    struct pprof_profile *p = new_profile("cpu", "nanoseconds");
    const char *names[] = {"leaf", "caller"};
    uint32_t l = loc(p, 0, 0x700, names, 2);
    uint32_t root = loc1(p, "root");
    uint32_t other = loc1(p, "other"), leaf2 = loc1(p, "leaf");
    uint32_t s1[] = {l, root}, s2[] = {leaf2, other, root};
    uint32_t s3[] = {other, root};
    sample(p, s1, 2, 1000);
    sample(p, s2, 3, 1); /* a light real call into leaf */
    sample(p, s3, 2, 10000);
    struct pprof_top *t = top_of(p, 0, 0);
    const struct pprof_top_row *r = row(t, "leaf");
    CHECK(r != NULL);
    if (r) /* the 1ns call edge is below 0.1% of 11001: ignored */
        CHECK(r->inlined == PPROF_TOP_INLINED);
    pprof_top_free(t);

    struct pprof_top_options o;
    pprof_top_options_default(&o, p);
    o.edge_fraction = 0;
    CHECK(pprof_top_compute(p, &o, &t, NULL) == KB_OK);
    r = row(t, "leaf");
    CHECK(r != NULL);
    if (r)
        CHECK(r->inlined == PPROF_TOP_PARTIAL_INLINE);
    pprof_top_free(t);

    pprof_free(p);

    /* leaf inlined into caller (1000), and called for real from D, a root
     * (50): partially inlined. Cut D (cum 50 < 10% of 1050) and pprof's
     * rebuilt graph has no edge into leaf from D's side: inlined only. */
    p = new_profile("cpu", "nanoseconds");
    l = loc(p, 0, 0x700, names, 2);
    leaf2 = loc1(p, "leaf");
    uint32_t d = loc1(p, "D");
    uint32_t s4[] = {l}, s5[] = {leaf2, d};
    sample(p, s4, 1, 1000);
    sample(p, s5, 2, 50);
    t = top_of(p, 0, 0);
    r = row(t, "leaf");
    CHECK(r != NULL);
    if (r)
        CHECK(r->inlined == PPROF_TOP_PARTIAL_INLINE);
    pprof_top_free(t);
    t = top_of(p, 0, 0.1);
    CHECK(row(t, "D") == NULL);
    CHECK_INT(t->n_dropped, 1);
    r = row(t, "leaf");
    CHECK(r != NULL);
    if (r) {
        CHECK(r->inlined == PPROF_TOP_INLINED);
        CHECK_INT(r->cum, 1050);
    }
    pprof_top_free(t);
    pprof_free(p);
}

/* drop_frames prunes as pprof does: a sample loses its frames from the
 * leaf up to the outermost dropped one (never the root side above the
 * first kept frame); keep_frames overrides; a dropped inlined line takes
 * the lines inside it along; names are matched without argument lists. */
static void test_top_drop_frames(void)
{
    struct pprof_profile *p = new_profile("space", "bytes");
    uint32_t root = loc1(p, "main.main"), work = loc1(p, "app.work");
    uint32_t mal = loc1(p, "malloc(unsigned long)");
    uint32_t inner = loc1(p, "tc.inner"), keep = loc1(p, "tc.keepme");
    const char *inl[] = {"tc.inner", "tc.alloc", "app.caller"};
    uint32_t mixed = loc(p, 0, 0x800, inl, 3);
    uint32_t s1[] = {inner, mal, work, root}; /* -> work is the leaf */
    uint32_t s2[] = {keep, mal, work, root};  /* cut at malloc all the same */
    uint32_t s3[] = {mixed, root}; /* tc.alloc dropped: caller is leaf */
    uint32_t s4[] = {mal, root};   /* -> main.main is the leaf */
    uint32_t s5[] = {work, mal};   /* malloc is the root: kept */
    sample(p, s1, 4, 100);
    sample(p, s2, 4, 20);
    sample(p, s3, 2, 7);
    sample(p, s4, 2, 3);
    sample(p, s5, 2, 1);
    p->drop_frames = pprof_intern_str(p, "malloc|tc\\..*");
    p->keep_frames = pprof_intern_str(p, "tc\\.keep.*");
    struct pprof_top *t = top_of(p, 0, 0);
    CHECK_INT(t->total, 131);
    CHECK_INT(t->flat_sum, 131);
    CHECK(row(t, "tc.inner") == NULL);
    CHECK(row(t, "tc.alloc") == NULL);
    const struct pprof_top_row *r = row(t, "app.work");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->flat, 121);
        CHECK_INT(r->cum, 121);
    }
    r = row(t, "app.caller");
    CHECK(r != NULL);
    if (r)
        CHECK_INT(r->flat, 7);
    r = row(t, "main.main");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->flat, 3);
        CHECK_INT(r->cum, 130);
    }
    r = row(t, "malloc(unsigned long)");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->flat, 0);
        CHECK_INT(r->cum, 1);
    }
    CHECK(row(t, "tc.keepme") == NULL); /* its caller malloc was dropped */
    pprof_top_free(t);

    /* A pattern that does not compile prunes nothing, as in pprof. */
    p->drop_frames = pprof_intern_str(p, "tc.(");
    t = top_of(p, 0, 0);
    r = row(t, "tc.inner");
    CHECK(r != NULL);
    if (r)
        CHECK_INT(r->flat, 107);
    pprof_top_free(t);
    pprof_free(p);
}

int main(void)
{
    RUN(test_units_label);
    RUN(test_units_percent);
    RUN(test_units_output_unit);
    RUN(test_top_basic);
    RUN(test_top_inline);
    RUN(test_top_recursion);
    RUN(test_top_unsymbolized);
    RUN(test_top_ties_and_zeros);
    RUN(test_top_negative);
    RUN(test_top_zero_total);
    RUN(test_top_cuts);
    RUN(test_top_sample_types);
    RUN(test_top_unit);
    RUN(test_top_inline_edges);
    RUN(test_top_drop_frames);
    return unit_done();
}
