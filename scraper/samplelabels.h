/* scraper/samplelabels.h: pprof sample labels (Go's pprof.Labels and
 * pprof.Do, the exporter's tags) to series labels, under a per-target limit
 * on the number of label sets. See samplelabels.c and docs/scraping.md
 * ("Sample labels"). */
#ifndef KILN_SCRAPER_SAMPLELABELS_H
#define KILN_SCRAPER_SAMPLELABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/labels.h"
#include "base/status.h"
#include "pprof/profile.h"

/* The prefix a sample label gets when its name is a target label's. */
#define SCRAPE_EXPORTED_PREFIX "exported_"

/* One part of a split profile: the samples whose string labels make the
 * same series labels. */
struct scrape_label_split {
    /* The labels to add to the target's labels (never NULL; empty for the
     * unlabeled part). Disjoint from the target's label names, no "__"
     * names. Owned by the part. */
    struct labels *extra;
    /* The part's samples, with every label they had (numeric ones too).
     * Either the input profile itself (borrowed: owned == NULL) or a new
     * profile (owned == profile). */
    const struct pprof_profile *profile;
    struct pprof_profile *owned;
};

/* Split `p` into one part per distinct set of series labels made from its
 * samples' string labels (docs/scraping.md gives the exact rules: names
 * sanitized, "__" names dropped, target label names prefixed with
 * "exported_"). `target_labels` (not NULL) are the target's series labels,
 * without __name__. Parts come in order of first appearance in p's
 * samples.
 *
 * At most `max_sets` non-empty sets get parts of their own (SIZE_MAX: no
 * limit; 0: none). The samples of later sets, and of sets that would take
 * a series past LABELS_MAX labels (counting __name__), go to the unlabeled
 * part; *n_folded is the number of such sets.
 *
 * When all samples end up in one part (always so when no sample has a
 * string label), that part borrows `p`, which is not copied: `p` must then
 * outlive the parts. Otherwise every part owns a new profile with p's
 * header and sample types.
 *
 * On success *parts (n_parts >= 1 entries) is freed with
 * scrape_label_split_free. Outside input cannot make it fail (what the
 * rules refuse is ignored or folded); a failure is the label builder
 * refusing a name or value the rules let through, a bug in Kiln, and
 * leaves *parts NULL. */
enum kb_status scrape_split_by_labels(const struct pprof_profile *p,
                                      const struct labels *target_labels,
                                      size_t max_sets,
                                      struct scrape_label_split **parts,
                                      size_t *n_parts, size_t *n_folded,
                                      struct kb_err *err);

/* Free the parts (their extra labels and owned profiles) and the array;
 * NULL is allowed. */
void scrape_label_split_free(struct scrape_label_split *parts, size_t n);

#endif
