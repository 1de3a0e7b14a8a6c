/* promql-like/parser.h: parse a Kiln query (PromQL's grammar, as
 * Prometheus 2.x parses it) into a checked syntax tree (ast.h). The
 * grammar, precedence, limits and error messages are documented in
 * docs/query-language.md. See parser.c. */
#ifndef KILN_PROMQL_LIKE_PARSER_H
#define KILN_PROMQL_LIKE_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "promql-like/ast.h"

/* Limits on a query. Past any of them pql_parse fails with KB_ERR_LIMIT
 * and a message naming the limit. */
struct pql_limits {
    size_t max_query_len; /* bytes of query text */
    uint32_t max_depth;   /* nesting: the height of the tree */
    size_t max_matchers;  /* label matchers in one selector's braces */
    size_t max_string;    /* bytes of one string literal, after escapes */
    size_t max_list;      /* labels in one by/on/group list; call args */
};

#define PQL_MAX_QUERY_LEN 65536
#define PQL_MAX_DEPTH 256
#define PQL_MAX_MATCHERS 64
#define PQL_MAX_STRING 16384
#define PQL_MAX_LIST 256

/* Fill `lim` with the defaults above. */
void pql_limits_default(struct pql_limits *lim);

/* Parse `text[0..len)` (UTF-8) with `lim` (NULL: the defaults). On success
 * *out is a tree the caller frees with pql_ast_free. On failure *out is
 * NULL and `err` holds KB_ERR_INVALID (or KB_ERR_LIMIT) and a message that
 * starts with the position of the problem, `<line>:<column>: `, both
 * counted from 1, the column in bytes: `1:17: unexpected "}"`. */
enum kb_status pql_parse(const char *text, size_t len,
                         const struct pql_limits *lim, struct pql_ast **out,
                         struct kb_err *err);

#endif
