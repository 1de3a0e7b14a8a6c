/* scraper/delta.h: cumulative profiles to delta profiles (DESIGN.md section
 * 2, "Temporality"), and building a profile from some samples of another.
 * See delta.c and docs/scraping.md ("Delta profiles"). */
#ifndef KILN_SCRAPER_DELTA_H
#define KILN_SCRAPER_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "pprof/profile.h"

/* ---- Cumulative to delta ------------------------------------------------ */

/* The default limit on the samples of one scraped profile (see
 * scrape_delta_set_max_samples). */
#define SCRAPE_DELTA_MAX_SAMPLES 1000000

/* The state of one (target, profile type): the identity of every sample of
 * the previous scrape with its values, nothing else. */
struct scrape_delta;

/* A new state that subtracts the sample types named in `types[0..n_types)`
 * (type names such as "alloc_space"; copied). n_types == 0 takes every
 * sample type. Only these types are compared, decide resets, and appear in
 * the delta: Go's /allocs also serves the inuse_* gauges, whose values fall
 * whenever memory is freed, and a falling value means a reset here. */
struct scrape_delta *scrape_delta_new(const char *const *types, size_t n_types);
/* NULL is allowed. */
void scrape_delta_free(struct scrape_delta *d);

/* Refuse profiles with more than `max` samples (default
 * SCRAPE_DELTA_MAX_SAMPLES). */
void scrape_delta_set_max_samples(struct scrape_delta *d, size_t max);

/* Feed `cur`, the newest cumulative profile of the target, scraped at wall
 * time `t_ms` (Unix ms). `cur` is only read, and not kept.
 *
 * First call, and any call whose t_ms is not after the previous one's: *out
 * is NULL (there is no window to store), and `cur` becomes the previous
 * scrape. Later calls: *out is a new profile (the caller frees it) holding
 * the chosen sample types of `cur`, in cur's order, and per sample identity
 * (docs/scraping.md) the values of cur minus those of the previous scrape;
 * samples of equal identity are summed first, and identities whose deltas
 * are all zero are left out, so a target that did nothing gives a profile
 * with no samples. time_nanos is cur's (t_ms when cur has none),
 * duration_nanos is t_ms minus the previous t_ms. All ids are new.
 *
 * A reset (the process restarted) makes the delta the whole of `cur`. It is
 * detected when a value of an identity fell (an identity that is gone
 * counts as all zeros), when cur's time_nanos is before the previous one,
 * or when the chosen sample types changed (names, units or count).
 *
 * Errors leave the state as it was: KB_ERR_LIMIT past the sample limit,
 * KB_ERR_MISMATCH when `cur` has none of the chosen sample types,
 * KB_ERR_INVALID when t_ms is too far from the previous t_ms (or from 0)
 * for nanoseconds in int64. */
enum kb_status scrape_delta_next(struct scrape_delta *d,
                                 const struct pprof_profile *cur, int64_t t_ms,
                                 struct pprof_profile **out,
                                 struct kb_err *err);

/* ---- Profiles from some samples of another ------------------------------ */

/* Builds a profile from chosen samples of `in`: the header (period, times,
 * comments, frame filters, default sample type when it is kept) and the
 * chosen sample types are copied at init; each added sample brings its
 * locations, mappings, functions and strings along (translated once each,
 * through a pprof_symtab), and its labels. Used by the delta and by the
 * label split (samplelabels.c). The fields are private. */
struct scrape_subset {
    const struct pprof_profile *in;
    struct pprof_profile *out;
    struct pprof_symtab *st;
    uint32_t *locs; /* scratch: one sample's location ids in out */
    size_t cap_locs;
    struct pprof_label *labels; /* scratch: one sample's labels in out */
    size_t cap_labels;
};

/* Start a profile with the sample types `types[0..n_types)` of `in` (indices
 * into in->sample_types; NULL means all of them, in order). `in` must stay
 * alive and unchanged until scrape_subset_finish. */
void scrape_subset_init(struct scrape_subset *b, const struct pprof_profile *in,
                        const size_t *types, size_t n_types);
/* Add sample `s` of `in` with `values` (one per chosen sample type; NULL:
 * the sample's own values, only when every type was chosen). */
void scrape_subset_add(struct scrape_subset *b, const struct pprof_sample *s,
                       const int64_t *values);
/* The finished profile (the caller frees it); `b` is emptied. */
struct pprof_profile *scrape_subset_finish(struct scrape_subset *b);

#endif
