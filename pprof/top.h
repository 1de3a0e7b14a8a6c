/* pprof/top.h: the per-function flat/cum report of one sample type, with
 * the semantics of `go tool pprof -top` (granularity=functions). Used by
 * `kilnctl pprof top`; meant for the web UI and the database too.
 *
 * For every sample with a nonzero value v, of the chosen sample type:
 *  - its frames are every line of every location, innermost first (a
 *    location with inlined lines gives one frame per line, lines[0] being
 *    the innermost);
 *  - v is added to the flat of the leaf frame's function;
 *  - v is added once to the cum of each distinct function on the stack
 *    (recursion counts once).
 * Frames are first pruned by the profile's drop_frames and keep_frames
 * regexes (matched against whole function names), as pprof does on reading.
 * A frame's "function" is its function's name. Frames without a function
 * name (a location with no lines, or a function whose name is "") are named
 * as pprof names them: "[file]" with the base name of the location's
 * mapping file, or "<unknown>" when there is none; all such frames of one
 * mapping file are one row, as in pprof.
 *
 * Rows are sorted by |flat| descending, then name ascending, then |cum|
 * descending (pprof's FlatNameOrder). The total is the sum of |v| over all
 * samples, taken after summing the samples that have the same stack and
 * labels (go tool pprof merges what it reads; this matters only when values
 * have mixed signs), and only over samples labelled pprof::base=true when
 * there are such (pprof's diff base). See top.c.
 */
#ifndef KILN_PPROF_TOP_H
#define KILN_PPROF_TOP_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "pprof/profile.h"

struct arena;

struct pprof_top_options {
    /* Index into the profile's sample types (pprof_default_sample_type is
     * what go tool pprof shows by default). */
    size_t sample_type;
    /* Drop functions whose |cum| is below this fraction of the sum of all
     * flats (pprof's -nodefraction; go's default is 0.005). 0 keeps all. */
    double node_fraction;
    /* Incoming call edges lighter than this fraction of the sum of flats are
     * ignored when labelling a row (inline) or (partial-inline) (pprof's
     * -edgefraction, default 0.001). Values are never affected. */
    double edge_fraction;
    /* Keep only the first max_rows rows after sorting (pprof's -nodecount);
     * 0 keeps all. */
    size_t max_rows;
};

/* The defaults of `go tool pprof -top -nodefraction=0`: the profile's
 * default sample type, node_fraction 0, edge_fraction 0.001, all rows. */
void pprof_top_options_default(struct pprof_top_options *o,
                               const struct pprof_profile *p);

/* How a row's function was reached: as pprof labels rows in its tables. */
enum pprof_top_inline {
    PPROF_TOP_CALLED = 0,     /* by ordinary calls only, or it is a root */
    PPROF_TOP_INLINED,        /* every (kept) call edge into it is inlined */
    PPROF_TOP_PARTIAL_INLINE, /* some inlined, some not */
};

struct pprof_top_row {
    const char *name; /* owned by the report; never NULL */
    int64_t flat;
    int64_t cum;
    enum pprof_top_inline inlined;
};

/* A computed report. Fields are public for reading. */
struct pprof_top {
    size_t sample_type;
    int64_t total;    /* sum of |v| (see above); percentages are of this */
    int64_t flat_sum; /* sum of the flats of the rows shown */
    struct pprof_top_row *rows;
    size_t n_rows;
    /* Functions with a nonzero flat or cum, before any cut. */
    size_t n_functions;
    /* Functions cut by node_fraction, and how many remained (before
     * max_rows): pprof's "Dropped N nodes" and "out of M". */
    size_t n_dropped;
    size_t n_kept;

    /* Private. */
    struct arena *arena;
};

/* Compute the report of `p` (not modified, not kept: the report owns its
 * strings). Fails with KB_ERR_USAGE when o->sample_type is out of range or a
 * fraction is negative or not finite. Sums wrap on int64 overflow, as they
 * do in pprof, rather than trap. */
enum kb_status pprof_top_compute(const struct pprof_profile *p,
                                 const struct pprof_top_options *o,
                                 struct pprof_top **out, struct kb_err *err);

void pprof_top_free(struct pprof_top *t);

/* The total of sample type `sample_type` as pprof_top_compute defines it. */
int64_t pprof_top_total(const struct pprof_profile *p, size_t sample_type);

/* The unit every value of the report prints in (pprof_units_output_unit
 * over the rows shown and the total; "minimum", so that each value scales on
 * its own, when there are no rows); `sample_unit` is the sample type's unit
 * string. Pass it as to_unit to pprof_units_label. */
const char *pprof_top_unit(const struct pprof_top *t, const char *sample_unit);

#endif
