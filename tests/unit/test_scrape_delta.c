/* tests/unit/test_scrape_delta.c: cumulative-to-delta conversion
 * (scraper/delta.c), on the Go fixtures and on synthetic profiles whose ids
 * and sample order change between scrapes, as Go's do.
 *
 * Per-stack values are compared through collapsed stacks (sorted, so
 * deterministic), which name frames by function: two profiles agree when
 * every stack has the same value in every sample type.
 *
 * `test_scrape_delta delta PREV CUR OUT [TYPE...]` is a tool mode for
 * tests/e2e/scrape_delta.sh: it feeds PREV then CUR (at t = 1 s and 2 s),
 * subtracting the sample types TYPE... (all when none), and writes the
 * delta to OUT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "pprof/profile.h"
#include "scraper/delta.h"
#include "tests/unit/unit.h"

/* ---- Helpers ------------------------------------------------------------ */

static struct pprof_profile *fixture(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "tests/fixtures/go/%s.pb.gz", name);
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    struct pprof_profile *p = NULL;
    struct kb_err err;
    if (pprof_read_file(unit_srcpath(rel), &lim, &p, &err) != KB_OK) {
        printf("# %s: %s\n", name, err.msg);
        return NULL;
    }
    return p;
}

/* The collapsed stacks of sample type `t` (the caller frees them). */
static char *collapsed(const struct pprof_profile *p, size_t t)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    struct kb_err err;
    if (pprof_collapsed_write(p, t, &b, &err) != KB_OK)
        printf("# collapsed: %s\n", err.msg);
    size_t len;
    char *s = (char *)buf_take(&b, &len);
    return s ? s : strdup("");
}

/* Whether a and b have the same sample types and, per type, the same
 * collapsed stacks; prints the first difference. */
static int same_stacks(const struct pprof_profile *a,
                       const struct pprof_profile *b)
{
    if (a->n_sample_types != b->n_sample_types) {
        printf("# %zu sample types vs %zu\n", a->n_sample_types,
               b->n_sample_types);
        return 0;
    }
    int same = 1;
    for (size_t t = 0; t < a->n_sample_types && same; t++) {
        if (strcmp(a->strings[a->sample_types[t].type],
                   b->strings[b->sample_types[t].type]) != 0) {
            printf("# sample type %zu differs\n", t);
            same = 0;
            break;
        }
        char *ca = collapsed(a, t), *cb = collapsed(b, t);
        if (strcmp(ca, cb) != 0) {
            printf("# type %zu stacks differ:\n# got:\n%.600s\n# want:\n%.600s"
                   "\n",
                   t, ca, cb);
            same = 0;
        }
        free(ca);
        free(cb);
    }
    return same;
}

/* A copy of `p` with its samples in reverse order (so every location,
 * function and mapping id changes: scrape_subset numbers them as it meets
 * them) and values from `values` (n_samples * n_sample_types; NULL: p's). */
static struct pprof_profile *renumbered(const struct pprof_profile *p,
                                        const int64_t *values)
{
    struct scrape_subset b;
    scrape_subset_init(&b, p, NULL, 0);
    /* One location only the copy has, so that no id lines up. */
    struct pprof_function f = {.name = pprof_intern_str(b.out, "unused")};
    struct pprof_line line = {.function_id = pprof_add_function(b.out, &f)};
    pprof_add_location(b.out, 0, 0, &line, 1, false);
    for (size_t i = p->n_samples; i-- > 0;)
        scrape_subset_add(&b, &p->samples[i],
                          values ? &values[i * p->n_sample_types] : NULL);
    return scrape_subset_finish(&b);
}

/* Feed prev (at 1000 ms) then cur (at 2000 ms); returns the delta. */
static struct pprof_profile *delta_of(const struct pprof_profile *prev,
                                      const struct pprof_profile *cur,
                                      const char *const *types, size_t n_types)
{
    struct scrape_delta *d = scrape_delta_new(types, n_types);
    struct pprof_profile *out = (struct pprof_profile *)1;
    struct kb_err err;
    CHECK(scrape_delta_next(d, prev, 1000, &out, &err) == KB_OK);
    CHECK(out == NULL);
    out = NULL;
    if (scrape_delta_next(d, cur, 2000, &out, &err) != KB_OK)
        printf("# delta: %s\n", err.msg);
    CHECK(out != NULL);
    scrape_delta_free(d);
    return out;
}

/* ---- Synthetic profiles ------------------------------------------------- */

/* A sample of a synthetic profile: a stack of one-letter frames, root
 * first ("mab": main -> fn_a -> fn_b), two values, an optional string label
 * and an optional numeric "bytes" label. */
struct syn {
    const char *stack;
    int64_t v[2];
    const char *lkey, *lval;
    int64_t bytes;
};

enum { WITH_ADDRESSES = 1, LINES_ONLY = 0 };

/* Build a profile from `s[0..n)`. `seed` changes the order in which
 * functions, locations and samples get their ids, the mapping's start
 * address and the order of labels, but not the content. */
static struct pprof_profile *build(const struct syn *s, size_t n, unsigned seed,
                                   int addresses)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, "alloc_objects"),
                          pprof_intern_str(p, "count"));
    pprof_add_sample_type(p, pprof_intern_str(p, "alloc_space"),
                          pprof_intern_str(p, "bytes"));
    p->period_type.type = pprof_intern_str(p, "space");
    p->period_type.unit = pprof_intern_str(p, "bytes");
    p->period = 4096;
    p->time_nanos = 1000000000LL * (100 + seed);
    uint64_t start = 0x400000 + 0x10000 * (uint64_t)seed;
    struct pprof_mapping m = {
        .memory_start = start,
        .memory_limit = start + 0x10000,
        .filename = pprof_intern_str(p, "/bin/app"),
        .has_functions = true,
    };
    uint32_t mapping = pprof_add_mapping(p, &m);
    /* Frames 'a'..'z' get location ids in an order set by the seed. */
    uint32_t loc_of[26] = {0};
    for (int k = 0; k < 26; k++) {
        int c = seed % 2 ? 25 - k : (k + (int)seed) % 26;
        char name[16];
        snprintf(name, sizeof(name), c == 'm' - 'a' ? "main" : "fn_%c",
                 'a' + c);
        struct pprof_function f = {
            .name = pprof_intern_str(p, name),
            .filename = pprof_intern_str(p, "app.go"),
        };
        struct pprof_line line = {.function_id = pprof_add_function(p, &f),
                                  .line = 10 + c};
        uint64_t addr = addresses ? start + 0x100 + 0x10 * (uint64_t)c : 0;
        loc_of[c] = pprof_add_location(p, addresses ? mapping : 0, addr, &line,
                                       1, false);
    }
    for (size_t j = 0; j < n; j++) {
        const struct syn *x = &s[(j + seed) % n];
        uint32_t locs[32];
        size_t depth = strlen(x->stack);
        for (size_t k = 0; k < depth; k++) /* leaf first */
            locs[k] = loc_of[x->stack[depth - 1 - k] - 'a'];
        struct pprof_label labs[2];
        uint32_t nl = 0;
        struct pprof_label str = {0}, num = {0};
        if (x->lkey) {
            str.key = pprof_intern_str(p, x->lkey);
            str.str = pprof_intern_str(p, x->lval);
        }
        if (x->bytes) {
            num.key = pprof_intern_str(p, "bytes");
            num.num = x->bytes;
        }
        if (seed % 2) {
            if (x->bytes)
                labs[nl++] = num;
            if (x->lkey)
                labs[nl++] = str;
        } else {
            if (x->lkey)
                labs[nl++] = str;
            if (x->bytes)
                labs[nl++] = num;
        }
        pprof_add_sample(p, locs, (uint32_t)depth, x->v, labs, nl);
    }
    return p;
}

/* ---- Tests -------------------------------------------------------------- */

/* The first scrape stores nothing; the same profile again is an empty
 * delta covering the time between the two scrapes. */
static void test_go_fixtures_first_then_same(void)
{
    const char *names[] = {"allocs", "mutex", "block"};
    for (size_t i = 0; i < 3; i++) {
        struct pprof_profile *p = fixture(names[i]);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK(p->n_samples > 0);
        struct scrape_delta *d = scrape_delta_new(NULL, 0);
        struct pprof_profile *out = p;
        struct kb_err err;
        CHECK(scrape_delta_next(d, p, 5000, &out, &err) == KB_OK);
        CHECK(out == NULL);
        CHECK(scrape_delta_next(d, p, 15000, &out, &err) == KB_OK);
        CHECK(out != NULL);
        if (out) {
            CHECK_INT(out->n_samples, 0);
            CHECK_INT(out->n_sample_types, p->n_sample_types);
            CHECK_INT(out->duration_nanos, 10000000000LL);
            CHECK_INT(out->time_nanos, p->time_nanos);
            CHECK_INT(out->period, p->period);
            pprof_free(out);
        }
        /* A third time still has nothing; the state is the newest. */
        CHECK(scrape_delta_next(d, p, 25000, &out, &err) == KB_OK);
        CHECK(out != NULL && out->n_samples == 0);
        pprof_free(out);
        scrape_delta_free(d);
        pprof_free(p);
    }
}

/* cur = prev + known increments, with every id renumbered and the samples
 * in reverse order: the delta is exactly the increments. */
static void test_go_fixtures_increments(void)
{
    const char *names[] = {"allocs", "mutex", "block"};
    for (size_t i = 0; i < 3; i++) {
        struct pprof_profile *p = fixture(names[i]);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        size_t nt = p->n_sample_types, ns = p->n_samples;
        int64_t *inc = calloc(ns * nt + 1, sizeof(*inc));
        int64_t *sum = calloc(ns * nt + 1, sizeof(*sum));
        size_t changed = 0;
        for (size_t s = 0; s < ns; s++) {
            for (size_t t = 0; t < nt; t++) {
                inc[s * nt + t] = s % 3 == 1 ? 0 : (int64_t)(s * 7 + t + 1);
                sum[s * nt + t] = p->samples[s].values[t] + inc[s * nt + t];
            }
            changed += s % 3 != 1;
        }
        CHECK(changed > 0);
        struct pprof_profile *cur = renumbered(p, sum);
        struct pprof_profile *want = renumbered(p, inc);
        struct pprof_profile *out = delta_of(p, cur, NULL, 0);
        if (out) {
            CHECK(same_stacks(out, want));
            CHECK(out->n_samples <= changed);
            CHECK_INT(out->duration_nanos, 1000000000LL);
        }
        pprof_free(out);
        pprof_free(want);
        pprof_free(cur);
        free(inc);
        free(sum);
        pprof_free(p);
    }
}

/* A value that falls is a reset: the delta is all of cur. */
static void test_go_fixture_decrease_is_reset(void)
{
    struct pprof_profile *p = fixture("mutex");
    CHECK(p != NULL);
    if (p == NULL)
        return;
    size_t nt = p->n_sample_types, ns = p->n_samples;
    int64_t *v = calloc(ns * nt + 1, sizeof(*v));
    for (size_t s = 0; s < ns; s++)
        for (size_t t = 0; t < nt; t++)
            v[s * nt + t] = p->samples[s].values[t] + 5;
    struct pprof_profile *prev = renumbered(p, v);
    struct pprof_profile *out = delta_of(prev, p, NULL, 0);
    if (out) {
        CHECK(out->n_samples > 0);
        CHECK(same_stacks(out, p));
        CHECK_INT(out->duration_nanos, 1000000000LL);
    }
    pprof_free(out);
    pprof_free(prev);
    free(v);
    pprof_free(p);
}

/* Go's /allocs carries inuse_* gauges, which fall as memory is freed;
 * subtracting only alloc_* keeps that from looking like a reset, and the
 * delta holds only those types. */
static void test_allocs_chosen_types(void)
{
    struct pprof_profile *p = fixture("allocs");
    CHECK(p != NULL);
    if (p == NULL)
        return;
    int io = pprof_sample_type_index(p, "inuse_objects");
    int is = pprof_sample_type_index(p, "inuse_space");
    int ao = pprof_sample_type_index(p, "alloc_objects");
    CHECK(io >= 0 && is >= 0 && ao >= 0);
    size_t nt = p->n_sample_types, ns = p->n_samples;
    int64_t *v = calloc(ns * nt + 1, sizeof(*v));
    for (size_t s = 0; s < ns; s++)
        for (size_t t = 0; t < nt; t++)
            v[s * nt + t] = p->samples[s].values[t] +
                            ((int)t == io || (int)t == is ? -1 : 0) +
                            ((int)t == ao && s == 0 ? 3 : 0);
    struct pprof_profile *cur = renumbered(p, v);
    const char *alloc_types[] = {"alloc_objects", "alloc_space"};
    struct pprof_profile *out = delta_of(p, cur, alloc_types, 2);
    if (out) {
        CHECK_INT(out->n_sample_types, 2);
        CHECK_STR(out->strings[out->sample_types[0].type], "alloc_objects");
        CHECK_STR(out->strings[out->sample_types[1].type], "alloc_space");
        /* allocs' default sample type, alloc_space, is kept. */
        CHECK_STR(out->strings[out->default_sample_type], "alloc_space");
        CHECK_INT(out->n_samples, 1);
        if (out->n_samples == 1) {
            CHECK_INT(out->samples[0].values[0], 3);
            CHECK_INT(out->samples[0].values[1], 0);
        }
    }
    pprof_free(out);
    /* All types: the falling inuse values make it a reset. */
    out = delta_of(p, cur, NULL, 0);
    if (out)
        CHECK(same_stacks(out, cur));
    pprof_free(out);

    /* Types the profile lacks are refused, and named. */
    const char *none[] = {"nosuch"};
    struct scrape_delta *d = scrape_delta_new(none, 1);
    struct kb_err err;
    CHECK(scrape_delta_next(d, p, 1000, &out, &err) == KB_ERR_MISMATCH);
    CHECK(out == NULL);
    CHECK(strstr(err.msg, "nosuch") != NULL);
    scrape_delta_free(d);
    pprof_free(cur);
    free(v);
    pprof_free(p);
}

static const struct syn prev_syn[] = {
    {"ma", {1, 100}, NULL, NULL, 0},   {"mab", {2, 200}, NULL, NULL, 0},
    {"mabc", {3, 300}, NULL, NULL, 0}, {"mc", {4, 400}, NULL, NULL, 0},
    {"md", {0, 0}, NULL, NULL, 0},
};
static const struct syn cur_syn[] = {
    {"ma", {1, 100}, NULL, NULL, 0},   {"mab", {5, 260}, NULL, NULL, 0},
    {"mabc", {3, 301}, NULL, NULL, 0}, {"mc", {4, 400}, NULL, NULL, 0},
    {"me", {7, 70}, NULL, NULL, 0}, /* new stack */
};
static const struct syn inc_syn[] = {
    {"mab", {3, 60}, NULL, NULL, 0},
    {"mabc", {0, 1}, NULL, NULL, 0},
    {"me", {7, 70}, NULL, NULL, 0},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Synthetic profiles, with addresses and without (frames known only by
 * function, file and line): the delta is the increments, whatever the ids,
 * the mapping's load address and the sample order; "md", all zeros, may
 * vanish without a reset. */
static void test_synthetic_increments(void)
{
    for (int addresses = 0; addresses < 2; addresses++) {
        for (unsigned seed = 1; seed < 4; seed++) {
            struct pprof_profile *prev =
                build(prev_syn, N(prev_syn), 0, addresses);
            struct pprof_profile *cur =
                build(cur_syn, N(cur_syn), seed, addresses);
            struct pprof_profile *want =
                build(inc_syn, N(inc_syn), 0, addresses);
            struct pprof_profile *out = delta_of(prev, cur, NULL, 0);
            if (out) {
                CHECK(same_stacks(out, want));
                CHECK_INT(out->n_samples, 3);
                CHECK_INT(out->time_nanos, cur->time_nanos);
            }
            pprof_free(out);
            pprof_free(want);
            pprof_free(cur);
            pprof_free(prev);
        }
    }
}

/* Different addresses in the same function are different locations. */
static void test_addresses_distinguish(void)
{
    struct pprof_profile *prev =
        build(prev_syn, N(prev_syn), 0, WITH_ADDRESSES);
    struct pprof_profile *cur = build(prev_syn, N(prev_syn), 0, WITH_ADDRESSES);
    /* Move "ma"'s leaf to another address of the same function: that
     * stack is new, and "ma" at the old address is gone: a reset. */
    size_t a = 0;
    CHECK_STR(cur->strings[cur->functions[a].name], "fn_a");
    cur->locations[a].address += 4;
    struct pprof_profile *out = delta_of(prev, cur, NULL, 0);
    if (out)
        CHECK(same_stacks(out, cur));
    pprof_free(out);
    pprof_free(cur);
    pprof_free(prev);
}

/* A stack with values that is gone is a reset; so is a profile time that
 * went backwards and a change of sample types. */
static void test_other_resets(void)
{
    struct syn gone[N(cur_syn)];
    memcpy(gone, cur_syn, sizeof(gone));
    gone[3].stack = "mf"; /* "mc" (4, 400) vanished */
    struct pprof_profile *prev = build(prev_syn, N(prev_syn), 0, 1);
    struct pprof_profile *cur = build(gone, N(gone), 2, 1);
    struct pprof_profile *out = delta_of(prev, cur, NULL, 0);
    if (out)
        CHECK(same_stacks(out, cur));
    pprof_free(out);
    pprof_free(cur);

    cur = build(cur_syn, N(cur_syn), 2, 1);
    cur->time_nanos = prev->time_nanos - 1;
    out = delta_of(prev, cur, NULL, 0);
    if (out) {
        CHECK(same_stacks(out, cur));
        CHECK_INT(out->time_nanos, prev->time_nanos - 1);
    }
    pprof_free(out);

    /* Same names, another unit. */
    cur->time_nanos = 0;
    cur->sample_types[1].unit = pprof_intern_str(cur, "kilobytes");
    out = delta_of(prev, cur, NULL, 0);
    if (out) {
        CHECK(same_stacks(out, cur));
        CHECK_INT(out->time_nanos, 2000000000LL); /* cur has no time */
    }
    pprof_free(out);
    /* One type fewer. */
    cur->n_sample_types = 1;
    out = delta_of(prev, cur, NULL, 0);
    if (out) {
        CHECK_INT(out->n_sample_types, 1);
        CHECK_INT(out->n_samples, N(cur_syn));
    }
    pprof_free(out);
    pprof_free(cur);
    pprof_free(prev);
}

/* String and numeric sample labels are part of the identity, whatever
 * their order on the sample. */
static void test_labels_distinguish(void)
{
    static const struct syn p1[] = {
        {"ma", {1, 10}, "handler", "/api", 0},
        {"ma", {2, 20}, "handler", "/web", 0},
        {"ma", {3, 30}, NULL, NULL, 0},
        {"ma", {4, 40}, "handler", "/api", 512},
    };
    static const struct syn p2[] = {
        {"ma", {1, 10}, "handler", "/api", 0},
        {"ma", {2, 25}, "handler", "/web", 0},
        {"ma", {3, 30}, NULL, NULL, 0},
        {"ma", {6, 40}, "handler", "/api", 512},
    };
    struct pprof_profile *prev = build(p1, N(p1), 0, 1);
    struct pprof_profile *cur = build(p2, N(p2), 1, 1); /* labels reversed */
    struct pprof_profile *out = delta_of(prev, cur, NULL, 0);
    CHECK(out != NULL && out->n_samples == 2);
    if (out && out->n_samples == 2) {
        int seen_web = 0, seen_bytes = 0;
        for (size_t i = 0; i < 2; i++) {
            const struct pprof_sample *s = &out->samples[i];
            for (uint32_t j = 0; j < s->n_labels; j++) {
                const struct pprof_label *l = &s->labels[j];
                if (l->str && strcmp(out->strings[l->str], "/web") == 0) {
                    seen_web = 1;
                    CHECK_INT(s->values[0], 0);
                    CHECK_INT(s->values[1], 5);
                    CHECK_INT(s->n_labels, 1);
                }
                if (strcmp(out->strings[l->key], "bytes") == 0) {
                    seen_bytes = 1;
                    CHECK_INT(l->num, 512);
                    CHECK_INT(s->values[0], 2);
                    CHECK_INT(s->values[1], 0);
                    CHECK_INT(s->n_labels, 2);
                }
            }
        }
        CHECK(seen_web && seen_bytes);
    }
    pprof_free(out);
    pprof_free(cur);
    pprof_free(prev);
}

/* Samples of equal identity are summed before subtracting. */
static void test_duplicates_summed(void)
{
    static const struct syn p1[] = {
        {"ma", {1, 10}, NULL, NULL, 0},
        {"ma", {2, 20}, NULL, NULL, 0},
    };
    static const struct syn p2[] = {
        {"ma", {4, 40}, NULL, NULL, 0},
    };
    struct pprof_profile *prev = build(p1, N(p1), 0, 1);
    struct pprof_profile *cur = build(p2, N(p2), 0, 1);
    struct pprof_profile *out = delta_of(prev, cur, NULL, 0);
    CHECK(out != NULL && out->n_samples == 1);
    if (out && out->n_samples == 1) {
        CHECK_INT(out->samples[0].values[0], 1);
        CHECK_INT(out->samples[0].values[1], 10);
    }
    pprof_free(out);
    pprof_free(cur);
    pprof_free(prev);
}

/* Past the sample limit: KB_ERR_LIMIT, and the state is unchanged. A wall
 * clock that does not move forward gives nothing. */
static void test_limit_and_clock(void)
{
    struct pprof_profile *prev = build(prev_syn, N(prev_syn), 0, 1);
    struct pprof_profile *cur = build(cur_syn, N(cur_syn), 1, 1);
    struct pprof_profile *want = build(inc_syn, N(inc_syn), 0, 1);
    struct scrape_delta *d = scrape_delta_new(NULL, 0);
    scrape_delta_set_max_samples(d, N(prev_syn));
    struct pprof_profile *out = NULL;
    struct kb_err err;
    CHECK(scrape_delta_next(d, prev, 1000, &out, &err) == KB_OK);
    struct pprof_profile *big = build(cur_syn, N(cur_syn) - 1, 0, 1);
    pprof_add_sample(big, big->samples[0].location_ids, 1,
                     big->samples[0].values, NULL, 0);
    pprof_add_sample(big, big->samples[0].location_ids, 1,
                     big->samples[0].values, NULL, 0);
    CHECK(scrape_delta_next(d, big, 2000, &out, &err) == KB_ERR_LIMIT);
    CHECK(out == NULL);
    CHECK(strstr(err.msg, "6 samples") != NULL);
    CHECK(strstr(err.msg, "limit is 5") != NULL);
    /* Still against prev. */
    CHECK(scrape_delta_next(d, cur, 3000, &out, &err) == KB_OK);
    CHECK(out != NULL);
    if (out) {
        CHECK(same_stacks(out, want));
        CHECK_INT(out->duration_nanos, 2000000000LL);
    }
    pprof_free(out);
    /* The clock went back: nothing, and cur is the new previous. */
    CHECK(scrape_delta_next(d, prev, 2500, &out, &err) == KB_OK);
    CHECK(out == NULL);
    CHECK(scrape_delta_next(d, prev, 4000, &out, &err) == KB_OK);
    CHECK(out != NULL && out->n_samples == 0);
    pprof_free(out);
    /* A time step too large for nanoseconds. */
    CHECK(scrape_delta_next(d, prev, INT64_MAX, &out, &err) == KB_ERR_INVALID);
    CHECK(out == NULL);
    scrape_delta_free(d);
    pprof_free(big);
    pprof_free(want);
    pprof_free(cur);
    pprof_free(prev);
}

/* The delta survives encode and decode unchanged (go tool pprof reading it
 * is checked by tests/e2e/scrape_delta.sh). */
static void test_delta_encodes(void)
{
    struct pprof_profile *prev = build(prev_syn, N(prev_syn), 0, 1);
    struct pprof_profile *cur = build(cur_syn, N(cur_syn), 3, 1);
    struct pprof_profile *out = delta_of(prev, cur, NULL, 0);
    CHECK(out != NULL);
    if (out) {
        struct buf b;
        buf_init(&b, BUF_NO_LIMIT);
        struct kb_err err;
        CHECK(pprof_encode(out, &b, &err) == KB_OK);
        struct pprof_limits lim;
        pprof_limits_default(&lim);
        struct pprof_profile *back = NULL;
        CHECK(pprof_decode(b.data, b.len, &lim, &back, &err) == KB_OK);
        if (back)
            CHECK(same_stacks(back, out));
        pprof_free(back);
        buf_free(&b);
    }
    pprof_free(out);
    pprof_free(cur);
    pprof_free(prev);
}

/* ---- Tool mode ---------------------------------------------------------- */

static int tool(int argc, char **argv)
{
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    struct pprof_profile *prev = NULL, *cur = NULL, *out = NULL;
    struct scrape_delta *d =
        scrape_delta_new((const char *const *)argv + 5, (size_t)argc - 5);
    struct kb_err err;
    int rc = 1;
    if (pprof_read_file(argv[2], &lim, &prev, &err) != KB_OK ||
        pprof_read_file(argv[3], &lim, &cur, &err) != KB_OK ||
        scrape_delta_next(d, prev, 1000, &out, &err) != KB_OK ||
        scrape_delta_next(d, cur, 2000, &out, &err) != KB_OK ||
        pprof_write_file(out, argv[4], &err) != KB_OK)
        fprintf(stderr, "test_scrape_delta: %s\n", err.msg);
    else
        rc = 0;
    pprof_free(out);
    pprof_free(cur);
    pprof_free(prev);
    scrape_delta_free(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "delta") == 0)
        return tool(argc, argv);
    RUN(test_go_fixtures_first_then_same);
    RUN(test_go_fixtures_increments);
    RUN(test_go_fixture_decrease_is_reset);
    RUN(test_allocs_chosen_types);
    RUN(test_synthetic_increments);
    RUN(test_addresses_distinguish);
    RUN(test_other_resets);
    RUN(test_labels_distinguish);
    RUN(test_duplicates_summed);
    RUN(test_limit_and_clock);
    RUN(test_delta_encodes);
    return unit_done();
}
