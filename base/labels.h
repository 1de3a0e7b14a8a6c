/* base/labels.h: label sets, the identity of every series: sorted, unique
 * (name, value) pairs, a builder, lookup, comparison, a stable hash, and the
 * Prometheus text form {a="b",c="d"}. See labels.c. */
#ifndef KILN_BASE_LABELS_H
#define KILN_BASE_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* Limits on every label set, whatever its source. Sets that break them are
 * refused with KB_ERR_LIMIT. Scrape configurations may set lower ones. */
#define LABELS_MAX 256            /* labels per set */
#define LABEL_NAME_MAX 256        /* bytes per name */
#define LABEL_VALUE_MAX 4096      /* bytes per value */
#define LABELS_TEXT_MAX (1 << 20) /* bytes of text labels_parse accepts */

/* The label that holds a series' name (its profile type). It is an ordinary
 * label here: it sorts, compares and hashes like any other. */
#define LABEL_NAME "__name__"

/* One label. Both strings are NUL-terminated; the lengths are given so that
 * callers need not call strlen. Names match [a-zA-Z_][a-zA-Z0-9_]*; values
 * are non-empty, valid UTF-8 without NUL bytes. */
struct label {
    const char *name;
    const char *value;
    size_t name_len;
    size_t value_len;
};

/* An immutable label set: labels sorted by name (bytewise), names unique,
 * no empty values (as in Prometheus, a label with an empty value is the same
 * as no label). One allocation owns the set and all of its strings. */
struct labels;

/* Free a set; NULL is allowed. */
void labels_free(struct labels *ls);
/* A copy of `ls` (which may be NULL, giving an empty set). */
struct labels *labels_dup(const struct labels *ls);
/* An empty set (to free like any other). */
struct labels *labels_new_empty(void);

size_t labels_count(const struct labels *ls);
/* The i-th label in name order; i < labels_count(ls). */
const struct label *labels_at(const struct labels *ls, size_t i);
/* The value of label `name`, or NULL when the set has no such label. */
const char *labels_get(const struct labels *ls, const char *name);

bool labels_equal(const struct labels *a, const struct labels *b);
/* Order as Prometheus' labels.Compare: label by label, name then value
 * (bytewise), then the shorter set first. Returns <0, 0 or >0. */
int labels_compare(const struct labels *a, const struct labels *b);
/* A 64-bit hash of the set, stable across runs and releases (scrape phases
 * and on-disk series references depend on it): kb_hash chained over each
 * name and value in order. Equal sets have equal hashes. */
uint64_t labels_hash(const struct labels *ls);

/* Whether `s[0..n)` is a valid label name: [a-zA-Z_][a-zA-Z0-9_]*, at most
 * LABEL_NAME_MAX bytes. */
bool labels_name_valid(const char *s, size_t n);

/* Append the text form to `out`: {a="b",c="d"}, {} for the empty set;
 * values escape backslash, double quote and newline as \\, \" and \n.
 * Fails only when `out` reaches its limit (KB_ERR_LIMIT; `out` may then
 * hold part of the text). */
enum kb_status labels_format(const struct labels *ls, struct buf *out);

/* Parse the text form back: '{', then zero or more name="value" separated
 * by commas (a trailing comma is allowed), then '}'. Whitespace (space, tab,
 * CR, LF) is allowed around every token. Values may use the escapes \\, \"
 * and \n, must be valid UTF-8 and may not hold raw newlines or NUL bytes;
 * labels with empty values are dropped after the duplicate check. Errors
 * name the position as line:column (1-based, column in bytes), e.g.
 * `1:7: expected "="`: KB_ERR_INVALID for bad syntax, invalid names and
 * duplicate names, KB_ERR_LIMIT past the LABELS_* limits. On success *out is
 * a new set the caller frees. */
enum kb_status labels_parse(const char *s, size_t len, struct labels **out,
                            struct kb_err *err);

/* A set from NULL-terminated name, value, name, value, ... C strings, e.g.
 * labels_from_strings(&ls, err, "job", "api", LABEL_NAME, "cpu", NULL).
 * Same validation as the builder; a name without a value is KB_ERR_USAGE. */
enum kb_status labels_from_strings(struct labels **out, struct kb_err *err, ...)
    __attribute__((sentinel));

/* A builder makes sets: start from nothing or from a set, add, set and
 * delete labels in any order, then finish to get a sorted, checked set. The
 * builder copies every string it is given. */
struct labels_builder;

struct labels_builder *labels_builder_new(void);
void labels_builder_free(struct labels_builder *b);
/* Empty the builder, then copy the labels of `base` into it (NULL: none). */
void labels_builder_reset(struct labels_builder *b, const struct labels *base);
/* Append a label. Duplicates are found by labels_builder_finish, not here.
 * KB_ERR_INVALID for a bad name or a value that is not UTF-8, KB_ERR_LIMIT
 * for a name, value or count past the limits. The builder is unchanged on
 * failure. */
enum kb_status labels_builder_add(struct labels_builder *b, const char *name,
                                  const char *value, struct kb_err *err);
/* Replace every label called `name` by name=value (appending when absent);
 * an empty value deletes the label. Errors as labels_builder_add. */
enum kb_status labels_builder_set(struct labels_builder *b, const char *name,
                                  const char *value, struct kb_err *err);
/* Remove every label called `name` (nothing if absent). */
void labels_builder_del(struct labels_builder *b, const char *name);
/* The value of the last label called `name` in the builder, or NULL. The
 * pointer is valid until the builder next changes. */
const char *labels_builder_get(const struct labels_builder *b,
                               const char *name);
/* Sort, refuse duplicate names (KB_ERR_INVALID naming the label), drop
 * empty values, and return a new set in *out. The builder keeps its content
 * (so variants can be built from it) until reset. */
enum kb_status labels_builder_finish(struct labels_builder *b,
                                     struct labels **out, struct kb_err *err);

#endif
