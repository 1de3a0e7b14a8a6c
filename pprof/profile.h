/* pprof/profile.h: Kiln's in-memory pprof profile, and the operations on it:
 * decode, validate, encode, build, merge and collapsed stacks.
 *
 * The model mirrors perftools.profiles.Profile (proto/profile.proto) with one
 * difference that makes every consumer simpler: ids are dense. In a
 * struct pprof_profile, mappings[i] has id i+1, locations[i] has id i+1 and
 * functions[i] has id i+1, and every reference (a sample's location ids, a
 * location's mapping id, a line's function id) is such an id, so
 * `p->locations[id - 1]` is always valid. Id 0 means "none" where the format
 * allows it (a location without mapping). The decoder renumbers whatever
 * ids the input used; the encoder writes these ids as they are, which gives
 * `go tool pprof` the dense 1..N ids it expects.
 *
 * Strings are indices into `strings` (strings[0] is always ""), as in pprof.
 *
 * A profile owns all of its memory through its arena; pprof_free releases
 * it. The struct's fields are public for reading; add things only through the
 * pprof_add_* functions, which keep the invariants (and the private
 * capacities) right.
 */
#ifndef KILN_PPROF_PROFILE_H
#define KILN_PPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

struct arena;
struct hmap;

struct pprof_value_type {
    uint32_t type; /* string index, e.g. "cpu" */
    uint32_t unit; /* string index, e.g. "nanoseconds" */
};

struct pprof_label {
    uint32_t key;      /* string index */
    uint32_t str;      /* string index, 0 when the label is numeric */
    int64_t num;       /* numeric value when str == 0 */
    uint32_t num_unit; /* string index, 0 when none */
};

struct pprof_mapping {
    uint64_t memory_start;
    uint64_t memory_limit;
    uint64_t file_offset;
    uint32_t filename; /* string index */
    uint32_t build_id; /* string index */
    bool has_functions;
    bool has_filenames;
    bool has_line_numbers;
    bool has_inline_frames;
};

struct pprof_line {
    uint32_t function_id; /* id of a function (never 0) */
    int64_t line;
};

struct pprof_location {
    uint32_t mapping_id; /* 0 = no mapping */
    uint64_t address;
    struct pprof_line *lines; /* innermost first; may be empty */
    uint32_t n_lines;
    bool is_folded;
};

struct pprof_function {
    uint32_t name;        /* string index */
    uint32_t system_name; /* string index */
    uint32_t filename;    /* string index */
    int64_t start_line;
};

struct pprof_sample {
    uint32_t *location_ids; /* leaf first; every id nonzero and valid */
    uint32_t n_locations;
    int64_t *values; /* exactly n_sample_types values */
    struct pprof_label *labels;
    uint32_t n_labels;
};

struct pprof_profile {
    const char **strings; /* strings[0] == "" */
    uint32_t *string_lens;
    size_t n_strings;

    struct pprof_value_type *sample_types;
    size_t n_sample_types;
    struct pprof_sample *samples;
    size_t n_samples;
    struct pprof_mapping *mappings;
    size_t n_mappings;
    struct pprof_location *locations;
    size_t n_locations;
    struct pprof_function *functions;
    size_t n_functions;

    uint32_t drop_frames; /* string index */
    uint32_t keep_frames; /* string index */
    int64_t time_nanos;
    int64_t duration_nanos;
    struct pprof_value_type period_type;
    int64_t period;
    uint32_t *comments; /* string indices */
    size_t n_comments;
    uint32_t default_sample_type; /* string index */

    /* Private: owned memory, capacities, the string interning table. */
    struct arena *arena;
    size_t cap_strings, cap_sample_types, cap_samples, cap_mappings,
        cap_locations, cap_functions, cap_comments;
    struct hmap *string_index; /* built lazily by pprof_intern */
};

/* ---- Limits on input ---------------------------------------------------- */

/* Every limit is checked before memory is committed, and exceeding one is a
 * KB_ERR_LIMIT error that names the limit and the value. */
struct pprof_limits {
    size_t max_compressed;   /* bytes of input, gzip or raw (64 MiB) */
    size_t max_decompressed; /* bytes after gunzip (256 MiB) */
    size_t max_samples;      /* (4,000,000) */
    size_t max_stack_depth;  /* locations per sample (1024) */
    size_t max_locations;    /* (4,000,000) */
    size_t max_functions;    /* (4,000,000) */
    size_t max_mappings;     /* (65,536) */
    size_t max_strings;      /* (8,000,000) */
    size_t max_sample_types; /* (64) */
    size_t max_labels;       /* per sample (256) */
};

/* The defaults named above. */
void pprof_limits_default(struct pprof_limits *lim);

/* ---- Life cycle and building -------------------------------------------- */

/* A new, empty profile: strings = {""}, nothing else. */
struct pprof_profile *pprof_new(void);
void pprof_free(struct pprof_profile *p);

/* The index of string `s` (`n` bytes), adding it if it is not there yet.
 * Identical strings get the same index. */
uint32_t pprof_intern(struct pprof_profile *p, const char *s, size_t n);
/* pprof_intern of a C string. */
uint32_t pprof_intern_str(struct pprof_profile *p, const char *s);

void pprof_add_sample_type(struct pprof_profile *p, uint32_t type,
                           uint32_t unit);
/* Each returns the new object's id. Lines and labels are copied. */
uint32_t pprof_add_mapping(struct pprof_profile *p,
                           const struct pprof_mapping *m);
uint32_t pprof_add_function(struct pprof_profile *p,
                            const struct pprof_function *f);
uint32_t pprof_add_location(struct pprof_profile *p, uint32_t mapping_id,
                            uint64_t address, const struct pprof_line *lines,
                            uint32_t n_lines, bool is_folded);
/* Adds a sample; `values` has n_sample_types entries (add the sample types
 * first). Location ids, values and labels are copied. */
void pprof_add_sample(struct pprof_profile *p, const uint32_t *location_ids,
                      uint32_t n_locations, const int64_t *values,
                      const struct pprof_label *labels, uint32_t n_labels);
void pprof_add_comment(struct pprof_profile *p, uint32_t str);

/* The string at index `i` (i < n_strings). */
static inline const char *pprof_str(const struct pprof_profile *p, uint32_t i)
{
    return p->strings[i];
}

/* ---- Decode and encode (decode.c, encode.c) ----------------------------- */

/* Decode a gzip-compressed or raw protobuf profile and validate it: string
 * table starts with "", every id is nonzero, unique and resolvable, every
 * string index is in range, every sample has one value per sample type, and
 * the limits hold. On success *out is a new profile with dense ids. */
enum kb_status pprof_decode(const uint8_t *data, size_t len,
                            const struct pprof_limits *lim,
                            struct pprof_profile **out, struct kb_err *err);

/* Read a whole file (at most lim->max_compressed bytes) and decode it. The
 * error message starts with the path. */
enum kb_status pprof_read_file(const char *path, const struct pprof_limits *lim,
                               struct pprof_profile **out, struct kb_err *err);

/* Serialize as gzip-compressed protobuf, appended to `out`. */
enum kb_status pprof_encode(const struct pprof_profile *p, struct buf *out,
                            struct kb_err *err);

/* pprof_encode to a file, written to PATH.tmp and renamed over PATH. */
enum kb_status pprof_write_file(const struct pprof_profile *p, const char *path,
                                struct kb_err *err);

/* ---- Sample types ------------------------------------------------------- */

/* The index of the sample type whose type string is `name`, or -1. */
int pprof_sample_type_index(const struct pprof_profile *p, const char *name);

/* The sample type `go tool pprof` shows by default: default_sample_type if
 * set and present, else the last one. */
size_t pprof_default_sample_type(const struct pprof_profile *p);

/* ---- Symbol tables (symtab.c) ------------------------------------------ */

/* A symbol table keeps the functions, mappings and locations it adds to a
 * target profile unique (strings are unique through pprof_intern), using the
 * identity go tool pprof's merge uses; addresses are relocated to the first
 * copy of their mapping seen, so ASLR does not split locations. It only
 * appends to the target, so target ids stay valid. Used by merge and by the
 * database, whose symbols live in a profile without samples. */
struct pprof_symtab;

/* A table writing into `target` (not owned; it must outlive the table and
 * must not get functions, mappings or locations any other way). */
struct pprof_symtab *pprof_symtab_new(struct pprof_profile *target);
void pprof_symtab_free(struct pprof_symtab *st);
struct pprof_profile *pprof_symtab_target(const struct pprof_symtab *st);

/* Add in target terms (strings already target string ids); return the id of
 * the equal existing object or of the new one. */
uint32_t pprof_symtab_add_function(struct pprof_symtab *st,
                                   const struct pprof_function *f);
uint32_t pprof_symtab_add_mapping(struct pprof_symtab *st,
                                  const struct pprof_mapping *m);
uint32_t pprof_symtab_add_location(struct pprof_symtab *st, uint32_t mapping_id,
                                   uint64_t address,
                                   const struct pprof_line *lines,
                                   uint32_t n_lines, bool is_folded);

/* Import from `in`: after begin, translate in's string index or location id
 * to the target's, adding what is missing. `in` must stay alive and
 * unchanged until the next begin. */
void pprof_symtab_begin(struct pprof_symtab *st,
                        const struct pprof_profile *in);
uint32_t pprof_symtab_string(struct pprof_symtab *st, uint32_t s);
uint32_t pprof_symtab_location(struct pprof_symtab *st, uint32_t id);

/* ---- Merge (merge.c) ---------------------------------------------------- */

/* Merging sums identical stacks. Two samples are the same stack when their
 * locations are the same (pprof_symtab's identity) frame for frame and their
 * labels are equal. Headers combine as
 * go tool pprof does: earliest time_nanos, summed duration_nanos, largest
 * period; comments are kept once each. Sample types and period type must
 * match by type and unit, or adding fails with KB_ERR_MISMATCH. */
struct pprof_merger;

struct pprof_merger *pprof_merger_new(void);
/* Add every sample of `p` (not modified, not kept). */
enum kb_status pprof_merger_add(struct pprof_merger *m,
                                const struct pprof_profile *p,
                                struct kb_err *err);
/* The merged profile (NULL if nothing was added); the merger is freed. */
struct pprof_profile *pprof_merger_finish(struct pprof_merger *m);
/* Free a merger without finishing it. */
void pprof_merger_free(struct pprof_merger *m);

/* ---- Collapsed stacks (collapsed.c) ------------------------------------- */

/* Write one line per distinct stack, root first, frames joined by ';', a
 * space, and the value of sample type `sample_type`:  "main;f;g 12".
 * Inlined frames appear as frames of their own. Frames without a function
 * are written as the hex address. Stacks with value 0 are omitted. */
enum kb_status pprof_collapsed_write(const struct pprof_profile *p,
                                     size_t sample_type, struct buf *out,
                                     struct kb_err *err);

/* Parse collapsed stacks ("a;b;c 12" per line; blank lines ignored) into a
 * new profile with one sample type `type`/`unit`. Errors name the line. */
enum kb_status pprof_collapsed_parse(const char *text, size_t len,
                                     const char *type, const char *unit,
                                     const struct pprof_limits *lim,
                                     struct pprof_profile **out,
                                     struct kb_err *err);

#endif
