/* tests/fuzz/fuzz_scraper_delta.c: libFuzzer target for the delta of two
 * scraped profiles (scraper/delta.c) and the split by sample labels
 * (scraper/samplelabels.c).
 *
 * Input: two big-endian bytes giving the length of the first profile, the
 * first profile, then the second (each gzip or raw protobuf, decoded with
 * pprof_decode and tests/fuzz/check.h's small limits; an undecodable one
 * ends the run). The first is fed at t = 1 s, the second at 2 s, the first
 * again at 3 s, and the first once more at 4 s. Promises checked:
 *   - the first call gives nothing; every later one a profile that keeps
 *     the model's invariants, encodes and decodes back equal, and has no
 *     more samples than its input and the input's sample types;
 *   - the same profile twice in a row gives a delta without samples;
 *   - a state restricted to the first sample type's name gives deltas with
 *     exactly the sample types of that name;
 *   - splitting each input and each delta by sample labels (a limit of 3
 *     sets, target labels job and instance) accounts for every sample
 *     exactly once, borrows the input only when there is one part, and
 *     gives extra labels that are valid and clash with no target label.
 * Errors must carry a message and never be KB_ERR_INTERNAL.
 *
 * Built and run by scripts/fuzz (fuzz_scraper_NAME: every .c of scraper/ is
 * compiled in); seeds in tests/fuzz/corpus/fuzz_scraper_delta/ (pairs of
 * the Go fixtures, gunzipped).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/labels.h"
#include "pprof/profile.h"
#include "scraper/delta.h"
#include "scraper/samplelabels.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pprof_limits lim;
static struct labels *target;

static void check_split(const struct pprof_profile *p)
{
    struct scrape_label_split *parts = NULL;
    size_t n = 0, folded = 0;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st =
        scrape_split_by_labels(p, target, 3, &parts, &n, &folded, &err);
    FUZZ_REQUIRE(st == KB_OK);
    FUZZ_REQUIRE(n >= 1 && n <= 4 && parts != NULL);
    size_t samples = 0;
    for (size_t i = 0; i < n; i++) {
        const struct scrape_label_split *pt = &parts[i];
        FUZZ_REQUIRE(pt->extra != NULL && pt->profile != NULL);
        FUZZ_REQUIRE((pt->owned == NULL) == (n == 1));
        FUZZ_REQUIRE(pt->owned == NULL || pt->owned == pt->profile);
        if (pt->owned != NULL) {
            FUZZ_REQUIRE(pt->owned->n_samples > 0);
            fuzz_check_valid(pt->owned, &lim);
        }
        samples += pt->profile->n_samples;
        for (size_t j = 0; j < labels_count(pt->extra); j++) {
            const struct label *l = labels_at(pt->extra, j);
            FUZZ_REQUIRE(labels_name_valid(l->name, l->name_len));
            FUZZ_REQUIRE(strncmp(l->name, "__", 2) != 0);
            FUZZ_REQUIRE(labels_get(target, l->name) == NULL);
        }
    }
    FUZZ_REQUIRE(samples == p->n_samples);
    scrape_label_split_free(parts, n);
}

/* Check a delta of `cur` (and free it). */
static void check_delta(struct pprof_profile *out,
                        const struct pprof_profile *cur)
{
    FUZZ_REQUIRE(out != NULL);
    fuzz_check_valid(out, &lim);
    FUZZ_REQUIRE(out->n_samples <= cur->n_samples);
    FUZZ_REQUIRE(out->n_sample_types <= cur->n_sample_types);
    fuzz_check_roundtrip(out, &lim);
    check_split(out);
    pprof_free(out);
}

/* Feed a, b, a, a to a state subtracting `types` (n_types of them). */
static void run(const struct pprof_profile *a, const struct pprof_profile *b,
                const char *const *types, size_t n_types)
{
    struct scrape_delta *d = scrape_delta_new(types, n_types);
    const struct pprof_profile *seq[4] = {a, b, a, a};
    for (int i = 0; i < 4; i++) {
        struct pprof_profile *out = NULL;
        struct kb_err err;
        kb_err_clear(&err);
        enum kb_status st =
            scrape_delta_next(d, seq[i], 1000 * (i + 1), &out, &err);
        if (st != KB_OK) {
            fuzz_check_error(st, &err);
            FUZZ_REQUIRE(out == NULL);
            /* Only the chosen types can be missing. */
            FUZZ_REQUIRE(st == KB_ERR_MISMATCH && n_types > 0);
            continue;
        }
        if (i == 0) {
            FUZZ_REQUIRE(out == NULL);
            continue;
        }
        FUZZ_REQUIRE(out != NULL);
        if (i == 3)
            FUZZ_REQUIRE(out->n_samples == 0);
        for (size_t k = 0; k < n_types; k++)
            for (size_t t = 0; t < out->n_sample_types; t++)
                FUZZ_REQUIRE(strcmp(out->strings[out->sample_types[t].type],
                                    types[k]) == 0);
        check_delta(out, seq[i]);
    }
    scrape_delta_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (target == NULL) {
        fuzz_limits(&lim);
        struct kb_err err;
        if (labels_from_strings(&target, &err, "job", "j", "instance", "i",
                                NULL) != KB_OK)
            abort();
    }
    if (size < 2)
        return 0;
    size_t n1 = (size_t)data[0] << 8 | data[1];
    if (n1 > size - 2)
        n1 = size - 2;
    struct pprof_profile *a = NULL, *b = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = pprof_decode(data + 2, n1, &lim, &a, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        return 0;
    }
    kb_err_clear(&err);
    st = pprof_decode(data + 2 + n1, size - 2 - n1, &lim, &b, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        pprof_free(a);
        return 0;
    }
    check_split(a);
    check_split(b);
    run(a, b, NULL, 0);
    if (a->n_sample_types > 0) {
        const char *first = a->strings[a->sample_types[0].type];
        run(a, b, &first, 1);
    }
    pprof_free(a);
    pprof_free(b);
    return 0;
}
