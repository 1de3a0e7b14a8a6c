/* tests/unit/test_scrape_samplelabels.c: sample labels to series labels
 * (scraper/samplelabels.c): splitting, name rules, renaming on clashes,
 * the set limit, the no-copy path, and the Go fixtures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/labels.h"
#include "pprof/profile.h"
#include "scraper/delta.h"
#include "scraper/samplelabels.h"
#include "tests/unit/unit.h"

/* ---- Helpers ------------------------------------------------------------ */

/* A sample: its one frame's function, its value, and up to four string
 * labels as key, value pairs (NULL-terminated), plus a numeric "bytes"
 * label when bytes != 0. */
struct smp {
    const char *fn;
    int64_t value;
    const char *kv[9];
    int64_t bytes;
};

static struct pprof_profile *build(const struct smp *s, size_t n)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, "samples"),
                          pprof_intern_str(p, "count"));
    p->period_type.type = pprof_intern_str(p, "cpu");
    p->period_type.unit = pprof_intern_str(p, "nanoseconds");
    p->period = 10000000;
    p->time_nanos = 1234;
    p->duration_nanos = 10000000000LL;
    for (size_t i = 0; i < n; i++) {
        struct pprof_function f = {.name = pprof_intern_str(p, s[i].fn)};
        struct pprof_line line = {.function_id = pprof_add_function(p, &f)};
        uint32_t loc = pprof_add_location(p, 0, 0, &line, 1, false);
        struct pprof_label labs[5];
        uint32_t nl = 0;
        for (size_t k = 0; s[i].kv[k] != NULL; k += 2)
            labs[nl++] = (struct pprof_label){
                .key = pprof_intern_str(p, s[i].kv[k]),
                .str = pprof_intern_str(p, s[i].kv[k + 1]),
            };
        if (s[i].bytes)
            labs[nl++] = (struct pprof_label){
                .key = pprof_intern_str(p, "bytes"),
                .num = s[i].bytes,
            };
        pprof_add_sample(p, &loc, 1, &s[i].value, labs, nl);
    }
    return p;
}

static struct labels *mklabels(const char *text)
{
    struct labels *ls = NULL;
    struct kb_err err;
    if (labels_parse(text, strlen(text), &ls, &err) != KB_OK)
        printf("# labels %s: %s\n", text, err.msg);
    return ls;
}

/* Whether the part's extra labels print as `want`. */
static int extra_is(const struct scrape_label_split *part, const char *want)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    labels_format(part->extra, &b);
    int same = strcmp(buf_cstr(&b), want) == 0;
    if (!same)
        printf("# extra %s, want %s\n", buf_cstr(&b), want);
    buf_free(&b);
    return same;
}

/* The sum of a profile's values of sample type 0. */
static int64_t total(const struct pprof_profile *p)
{
    int64_t t = 0;
    for (size_t i = 0; i < p->n_samples; i++)
        t += p->samples[i].values[0];
    return t;
}

/* Split with the given target labels and limit; checks the invariants
 * every result keeps (no part empty but a lone borrowed one, the extra
 * labels never clash with the target's or start with "__", the samples
 * all accounted for). */
static struct scrape_label_split *split(const struct pprof_profile *p,
                                        const struct labels *target,
                                        size_t max_sets, size_t *n,
                                        size_t *folded)
{
    struct scrape_label_split *parts = NULL;
    struct kb_err err;
    enum kb_status st =
        scrape_split_by_labels(p, target, max_sets, &parts, n, folded, &err);
    if (st != KB_OK)
        printf("# split: %s\n", err.msg);
    CHECK(st == KB_OK);
    CHECK(*n >= 1 && parts != NULL);
    size_t samples = 0;
    for (size_t i = 0; i < *n && parts; i++) {
        const struct scrape_label_split *pt = &parts[i];
        CHECK(pt->extra != NULL && pt->profile != NULL);
        CHECK(pt->owned == NULL || pt->owned == pt->profile);
        CHECK((pt->owned == NULL) == (*n == 1));
        if (pt->owned)
            CHECK(pt->profile->n_samples > 0);
        samples += pt->profile->n_samples;
        for (size_t j = 0; pt->extra && j < labels_count(pt->extra); j++) {
            const char *name = labels_at(pt->extra, j)->name;
            CHECK(labels_get(target, name) == NULL);
            CHECK(strncmp(name, "__", 2) != 0);
        }
    }
    CHECK_INT(samples, p->n_samples);
    return parts;
}

/* ---- Tests -------------------------------------------------------------- */

/* The Go fixtures have no string labels (heap's "bytes" is numeric): one
 * part, the profile itself, no extra labels. */
static void test_go_fixtures_not_copied(void)
{
    const char *names[] = {"cpu",   "heap",  "allocs",
                           "mutex", "block", "goroutine"};
    struct labels *target = mklabels("{job=\"go\",instance=\"h:1\"}");
    for (size_t i = 0; i < 6; i++) {
        char rel[256];
        snprintf(rel, sizeof(rel), "tests/fixtures/go/%s.pb.gz", names[i]);
        struct pprof_limits lim;
        pprof_limits_default(&lim);
        struct pprof_profile *p = NULL;
        struct kb_err err;
        CHECK(pprof_read_file(unit_srcpath(rel), &lim, &p, &err) == KB_OK);
        if (p == NULL)
            continue;
        size_t n, folded;
        struct scrape_label_split *parts = split(p, target, 10, &n, &folded);
        CHECK_INT(n, 1);
        CHECK_INT(folded, 0);
        if (parts) {
            CHECK(parts[0].profile == p);
            CHECK(parts[0].owned == NULL);
            CHECK_INT(labels_count(parts[0].extra), 0);
        }
        scrape_label_split_free(parts, n);
        pprof_free(p);
    }
    labels_free(target);
}

/* A Go CPU profile with pprof.Labels-style tags on its samples: one part
 * per tag, which together hold every stack of the original with its
 * value; each part keeps the original's header. */
static void test_go_cpu_with_labels_round_trip(void)
{
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    struct pprof_profile *p = NULL;
    struct kb_err err;
    CHECK(pprof_read_file(unit_srcpath("tests/fixtures/go/cpu.pb.gz"), &lim, &p,
                          &err) == KB_OK);
    if (p == NULL)
        return;
    CHECK(p->n_samples >= 3);
    uint32_t key = pprof_intern_str(p, "handler");
    uint32_t vals[2] = {pprof_intern_str(p, "/a"), pprof_intern_str(p, "/b")};
    struct scrape_subset b;
    scrape_subset_init(&b, p, NULL, 0);
    for (size_t i = 0; i < p->n_samples; i++) {
        struct pprof_sample s = p->samples[i];
        struct pprof_label l = {.key = key, .str = vals[i % 2]};
        if (i % 3 != 2) {
            s.labels = &l;
            s.n_labels = 1;
        }
        scrape_subset_add(&b, &s, NULL);
    }
    struct pprof_profile *lp = scrape_subset_finish(&b);
    struct labels *target = mklabels("{job=\"go\"}");
    size_t n, folded;
    struct scrape_label_split *parts = split(lp, target, 10, &n, &folded);
    CHECK_INT(n, 3);
    CHECK_INT(folded, 0);
    if (parts && n == 3) {
        CHECK(extra_is(&parts[0], "{handler=\"/a\"}"));
        CHECK(extra_is(&parts[1], "{handler=\"/b\"}"));
        CHECK(extra_is(&parts[2], "{}"));
        struct pprof_merger *m = pprof_merger_new();
        for (size_t i = 0; i < n; i++) {
            const struct pprof_profile *q = parts[i].profile;
            CHECK_INT(q->n_sample_types, p->n_sample_types);
            CHECK_INT(q->period, p->period);
            CHECK_INT(q->time_nanos, p->time_nanos);
            CHECK_INT(q->duration_nanos, p->duration_nanos);
            CHECK(pprof_merger_add(m, q, &err) == KB_OK);
        }
        struct pprof_profile *merged = pprof_merger_finish(m);
        for (size_t t = 0; merged && t < p->n_sample_types; t++) {
            struct buf x, y;
            buf_init(&x, BUF_NO_LIMIT);
            buf_init(&y, BUF_NO_LIMIT);
            CHECK(pprof_collapsed_write(p, t, &x, &err) == KB_OK);
            CHECK(pprof_collapsed_write(merged, t, &y, &err) == KB_OK);
            CHECK(x.len > 0);
            CHECK_STR(buf_cstr(&x), buf_cstr(&y));
            buf_free(&x);
            buf_free(&y);
        }
        pprof_free(merged);
    }
    scrape_label_split_free(parts, n);
    labels_free(target);
    pprof_free(lp);
    pprof_free(p);
}

/* Name rules: sanitized, "__" dropped, unusable values ignored, numeric
 * labels kept on the samples but not series labels, sets in order of first
 * appearance whatever the label order. */
static char long_value[LABEL_VALUE_MAX + 2];

static void test_rules(void)
{
    static const char bad_utf8[] = {'x', (char)0xff, 0};
    memset(long_value, 'v', LABEL_VALUE_MAX + 1);
    static const struct smp s[] = {
        {"f0", 1, {"handler", "/api", NULL}, 0},
        {"f1", 2, {"handler", "/web", NULL}, 0},
        {"f2", 4, {NULL}, 512}, /* numeric only */
        {"f3", 8, {"user", "1", "handler", "/api", NULL}, 0},
        {"f4", 16, {"handler", "/api", "user", "1", NULL}, 64},
        {"f5", 32, {"__name__", "x", "__meta_a", "y", NULL}, 0},
        {"f6", 64, {"my.key", "v", "1st", "w", "caf\xc3\xa9", "z", NULL}, 0},
        {"f7", 128, {"a.b", "2", "a_b", "1", NULL}, 0},
        {"f8",
         256,
         {"ok", bad_utf8, "", "empty key", "..x", "x", "long", long_value,
          NULL},
         0},
    };
    struct pprof_profile *p = build(s, sizeof(s) / sizeof(s[0]));
    struct labels *target = mklabels("{job=\"api\",instance=\"h:1\"}");
    size_t n, folded;
    struct scrape_label_split *parts = split(p, target, 100, &n, &folded);
    CHECK_INT(folded, 0);
    CHECK_INT(n, 6);
    if (parts && n == 6) {
        CHECK(extra_is(&parts[0], "{handler=\"/api\"}"));
        CHECK(extra_is(&parts[1], "{handler=\"/web\"}"));
        CHECK(extra_is(&parts[2], "{}"));
        CHECK(extra_is(&parts[3], "{handler=\"/api\",user=\"1\"}"));
        CHECK(extra_is(&parts[4], "{_1st=\"w\",caf_=\"z\",my_key=\"v\"}"));
        CHECK(extra_is(&parts[5], "{a_b=\"1\"}"));
        CHECK_INT(total(parts[0].profile), 1);
        CHECK_INT(total(parts[1].profile), 2);
        CHECK_INT(total(parts[2].profile), 4 + 32 + 256);
        CHECK_INT(total(parts[3].profile), 8 + 16);
        CHECK_INT(total(parts[4].profile), 64);
        CHECK_INT(total(parts[5].profile), 128);
        /* The numeric label stays on its sample. */
        const struct pprof_profile *q = parts[3].profile;
        int64_t bytes = 0;
        for (size_t i = 0; i < q->n_samples; i++)
            for (uint32_t j = 0; j < q->samples[i].n_labels; j++)
                if (strcmp(q->strings[q->samples[i].labels[j].key], "bytes") ==
                    0)
                    bytes = q->samples[i].labels[j].num;
        CHECK_INT(bytes, 64);
    }
    scrape_label_split_free(parts, n);
    labels_free(target);
    pprof_free(p);
}

/* A sample label named like a target label becomes exported_<name>, again
 * until the name is free. */
static void test_clash_renaming(void)
{
    static const struct smp s[] = {
        {"f0", 1, {"job", "a", NULL}, 0},
        {"f1", 2, {"job", "a", "exported_job", "b", NULL}, 0},
        {"f2", 4, {"instance", "i", NULL}, 0},
    };
    struct pprof_profile *p = build(s, 3);
    struct labels *target = mklabels("{job=\"api\",instance=\"h:1\"}");
    size_t n, folded;
    struct scrape_label_split *parts = split(p, target, 100, &n, &folded);
    CHECK_INT(n, 3);
    if (parts && n == 3) {
        CHECK(extra_is(&parts[0], "{exported_job=\"a\"}"));
        CHECK(extra_is(&parts[1],
                       "{exported_exported_job=\"a\",exported_job=\"b\"}"));
        CHECK(extra_is(&parts[2], "{exported_instance=\"i\"}"));
    }
    scrape_label_split_free(parts, n);
    labels_free(target);

    /* The target has exported_job too. */
    target = mklabels("{job=\"api\",exported_job=\"x\"}");
    parts = split(p, target, 100, &n, &folded);
    CHECK_INT(n, 3);
    if (parts && n == 3) {
        CHECK(extra_is(&parts[0], "{exported_exported_job=\"a\"}"));
        CHECK(extra_is(&parts[1], "{exported_exported_exported_job=\"a\","
                                  "exported_exported_job=\"b\"}"));
        CHECK(extra_is(&parts[2], "{instance=\"i\"}"));
    }
    scrape_label_split_free(parts, n);
    labels_free(target);
    pprof_free(p);
}

/* Past max_sets, later sets go to the unlabeled part and are counted. */
static void test_limit(void)
{
    static const struct smp s[] = {
        {"f0", 1, {"h", "a", NULL}, 0},  {"f1", 2, {"h", "b", NULL}, 0},
        {"f2", 4, {"h", "c", NULL}, 0},  {"f3", 8, {"h", "a", NULL}, 0},
        {"f4", 16, {NULL}, 0},           {"f5", 32, {"h", "d", NULL}, 0},
        {"f6", 64, {"h", "c", NULL}, 0},
    };
    struct pprof_profile *p = build(s, sizeof(s) / sizeof(s[0]));
    struct labels *target = mklabels("{job=\"api\"}");
    size_t n, folded;
    struct scrape_label_split *parts = split(p, target, 2, &n, &folded);
    CHECK_INT(n, 3);
    CHECK_INT(folded, 2); /* h="c" and h="d" */
    if (parts && n == 3) {
        CHECK(extra_is(&parts[0], "{h=\"a\"}"));
        CHECK(extra_is(&parts[1], "{h=\"b\"}"));
        CHECK(extra_is(&parts[2], "{}"));
        CHECK_INT(total(parts[0].profile), 1 + 8);
        CHECK_INT(total(parts[1].profile), 2);
        CHECK_INT(total(parts[2].profile), 4 + 16 + 32 + 64);
    }
    scrape_label_split_free(parts, n);

    /* No sets at all: one part, not copied, every set counted. */
    parts = split(p, target, 0, &n, &folded);
    CHECK_INT(n, 1);
    CHECK_INT(folded, 4);
    if (parts) {
        CHECK(parts[0].profile == p);
        CHECK_INT(labels_count(parts[0].extra), 0);
    }
    scrape_label_split_free(parts, n);
    labels_free(target);
    pprof_free(p);
}

/* Every sample with the same set: one part, not copied, with the set. */
static void test_one_set_not_copied(void)
{
    static const struct smp s[] = {
        {"f0", 1, {"h", "a", NULL}, 0},
        {"f1", 2, {"h", "a", NULL}, 7},
    };
    struct pprof_profile *p = build(s, 2);
    struct labels *target = mklabels("{job=\"api\"}");
    size_t n, folded;
    struct scrape_label_split *parts = split(p, target, 10, &n, &folded);
    CHECK_INT(n, 1);
    if (parts) {
        CHECK(parts[0].profile == p);
        CHECK(extra_is(&parts[0], "{h=\"a\"}"));
    }
    scrape_label_split_free(parts, n);
    labels_free(target);
    pprof_free(p);
}

/* A set that cannot fit beside the target labels and __name__ within
 * LABELS_MAX is folded. */
static void test_label_count_limit(void)
{
    struct labels_builder *lb = labels_builder_new();
    struct kb_err err;
    for (int i = 0; i < LABELS_MAX - 2; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t%03d", i);
        CHECK(labels_builder_add(lb, name, "v", &err) == KB_OK);
    }
    struct labels *target = NULL;
    CHECK(labels_builder_finish(lb, &target, &err) == KB_OK);
    labels_builder_free(lb);
    static const struct smp s[] = {
        {"f0", 1, {"h", "a", NULL}, 0},
        {"f1", 2, {"h", "a", "u", "b", NULL}, 0},
    };
    struct pprof_profile *p = build(s, 2);
    size_t n, folded;
    struct scrape_label_split *parts = split(p, target, 10, &n, &folded);
    CHECK_INT(n, 2);
    CHECK_INT(folded, 1);
    if (parts && n == 2) {
        CHECK(extra_is(&parts[0], "{h=\"a\"}"));
        CHECK(extra_is(&parts[1], "{}"));
        CHECK_INT(total(parts[1].profile), 2);
    }
    scrape_label_split_free(parts, n);
    labels_free(target);
    pprof_free(p);
}

int main(void)
{
    RUN(test_go_fixtures_not_copied);
    RUN(test_go_cpu_with_labels_round_trip);
    RUN(test_rules);
    RUN(test_clash_renaming);
    RUN(test_limit);
    RUN(test_one_set_not_copied);
    RUN(test_label_count_limit);
    return unit_done();
}
