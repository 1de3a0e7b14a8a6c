/* scraper/yamltree.h: a YAML document loaded into a small tree of nodes
 * that remember where they were written (line and column), with limits on
 * size and nesting, and typed getters whose errors read
 * "FILE:LINE:COL: PATH: reason". Used for kiln.yml (scraper/config.c) and
 * meant for rule files and file_sd files. See yamltree.c. */
#ifndef KILN_SCRAPER_YAMLTREE_H
#define KILN_SCRAPER_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Limits; yamlt_limits_default fills the defaults noted. Breaking one is
 * KB_ERR_LIMIT. */
struct yamlt_limits {
    size_t max_bytes;  /* bytes of input (1 MiB) */
    size_t max_depth;  /* nested sequences and mappings (32) */
    size_t max_nodes;  /* nodes, counting each use of an alias as the
                          whole node it names (200,000) */
    size_t max_scalar; /* bytes of one scalar (64 KiB) */
};

void yamlt_limits_default(struct yamlt_limits *lim);

enum yamlt_kind {
    YAMLT_SCALAR,
    YAMLT_SEQ,
    YAMLT_MAP,
};

/* A node. Read-only; the document owns every node and string. Aliases are
 * resolved: an alias is the very node its anchor names, so a tree may share
 * subtrees (never cycles). */
struct yamlt_node {
    enum yamlt_kind kind;
    uint32_t line;   /* 1-based */
    uint32_t column; /* 1-based, in characters */
    /* YAMLT_SCALAR: the text, NUL-terminated (it may also hold NUL bytes
     * written as "\0"), and whether it was plain (unquoted, not a block
     * scalar): only plain scalars can be null, true, false or numbers. */
    const char *str;
    size_t len;
    bool plain;
    /* YAMLT_SEQ: the n items. YAMLT_MAP: n pairs, keys[i] -> values[i];
     * keys are scalars, unique. */
    size_t n;
    struct yamlt_node **items;  /* sequence items, or mapping keys */
    struct yamlt_node **values; /* mapping values (NULL for sequences) */
    uint64_t weight;            /* nodes in this subtree, aliases expanded */
};

struct yamlt_doc;

/* Parse `data[0..len)` as one YAML document (an empty stream is a document
 * whose root is NULL). `name` (the file name) starts every error message.
 * lim NULL means the defaults. Errors: KB_ERR_INVALID for YAML syntax
 * ("kiln.yml:3:1: found character that cannot start any token"), more than
 * one document, a mapping key that is not a scalar, a duplicate key, an
 * unknown or recursive alias; KB_ERR_LIMIT past a limit. On success *out is
 * the caller's, freed with yamlt_free. */
enum kb_status yamlt_parse(const char *name, const void *data, size_t len,
                           const struct yamlt_limits *lim,
                           struct yamlt_doc **out, struct kb_err *err);
void yamlt_free(struct yamlt_doc *doc);

/* The root node, or NULL for an empty document. */
const struct yamlt_node *yamlt_root(const struct yamlt_doc *doc);
/* The name given to yamlt_parse. */
const char *yamlt_name(const struct yamlt_doc *doc);

/* Whether n is NULL or a plain null scalar: empty, "~", "null", "Null" or
 * "NULL" (what `key:` with nothing after it gives). */
bool yamlt_is_null(const struct yamlt_node *n);
/* "a scalar", "a sequence", "a mapping" or "null". */
const char *yamlt_kind_name(const struct yamlt_node *n);
/* The value of `key` in mapping `map`, or NULL when absent (or map is not a
 * mapping). */
const struct yamlt_node *yamlt_get(const struct yamlt_node *map,
                                   const char *key);

/* ---- Paths and errors ---------------------------------------------------- */

/* Paths name a node for humans: "scrape_configs[1].static_configs[0]". */
#define YAMLT_PATH_MAX 256

/* out = parent.key (or key when parent is empty); control characters and
 * non-ASCII bytes of the key are escaped; truncated to fit. */
void yamlt_path_key(char out[YAMLT_PATH_MAX], const char *parent,
                    const char *key);
/* out = parent[i] (0-based). */
void yamlt_path_index(char out[YAMLT_PATH_MAX], const char *parent, size_t i);

/* Fill `err` with "NAME:LINE:COL: PATH: message" for node `n` (its mark; no
 * position when n is NULL; no "PATH: " when path is NULL or empty) and
 * return st. */
enum kb_status yamlt_errf(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          struct kb_err *err, enum kb_status st,
                          const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- Typed getters ------------------------------------------------------- */
/* Each checks node `n` (at `path`, for errors) and fails with KB_ERR_INVALID
 * naming what was expected and what was found. */

/* n is of kind `kind` ("expected a mapping, got a sequence"). */
enum kb_status yamlt_want(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          enum yamlt_kind kind, struct kb_err *err);
/* n is a mapping whose keys are all in the NULL-terminated `allowed`; the
 * error for another key is at that key: 'unknown key "scrape_intervl"'. */
enum kb_status yamlt_check_keys(const struct yamlt_doc *doc,
                                const struct yamlt_node *n, const char *path,
                                const char *const *allowed, struct kb_err *err);
/* A scalar's text (any scalar: 10 is the string "10"); *len may be NULL.
 * Refuses text with NUL bytes. */
enum kb_status yamlt_string(const struct yamlt_doc *doc,
                            const struct yamlt_node *n, const char *path,
                            const char **out, size_t *len, struct kb_err *err);
/* A plain true or false (also True, TRUE, False, FALSE). */
enum kb_status yamlt_bool(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          bool *out, struct kb_err *err);
/* A plain decimal integer in [min, max]. */
enum kb_status yamlt_uint(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          uint64_t min, uint64_t max, uint64_t *out,
                          struct kb_err *err);
/* A Prometheus duration (kb_duration_parse) in milliseconds:
 * 'bad duration "10x": ...'. */
enum kb_status yamlt_duration(const struct yamlt_doc *doc,
                              const struct yamlt_node *n, const char *path,
                              int64_t *ms, struct kb_err *err);

#endif
