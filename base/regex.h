/* base/regex.h: regular expressions for label matchers, relabeling and
 * stack matchers, over PCRE2 with JIT, anchored the way Prometheus anchors
 * them. See regex.c for the exact semantics. */
#ifndef KILN_BASE_REGEX_H
#define KILN_BASE_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Longest pattern kb_regex_compile accepts (KB_ERR_LIMIT beyond). */
#define KB_REGEX_PATTERN_MAX 16384
/* PCRE2 match limit (backtracking steps) and heap limit (KiB) per match:
 * a pathological pattern fails with KB_ERR_LIMIT instead of spinning. */
#define KB_REGEX_MATCH_LIMIT 1000000
#define KB_REGEX_HEAP_LIMIT_KIB 20480

/* Flags for kb_regex_compile. */
#define KB_REGEX_SEARCH                                                        \
    0x1u /* find the pattern anywhere in the subject                           \
          * instead of matching the whole subject */

/* A compiled regex: immutable, so one may be used by many threads at once.
 */
struct kb_regex;

/* Compile `pattern[0..len)` (it may contain NUL bytes; it must be valid
 * UTF-8). Without flags the regex must match the whole subject, as
 * Prometheus' ^(?s:RE)$. Errors: KB_ERR_INVALID naming the byte offset and
 * PCRE2's reason ("regex \"a(b\": offset 3: missing closing parenthesis"),
 * KB_ERR_LIMIT past KB_REGEX_PATTERN_MAX. On success *out is the caller's,
 * freed with kb_regex_free. */
enum kb_status kb_regex_compile(const char *pattern, size_t len, unsigned flags,
                                struct kb_regex **out, struct kb_err *err);
void kb_regex_free(struct kb_regex *re);

/* The source pattern (NUL-terminated) and its length. */
const char *kb_regex_pattern(const struct kb_regex *re, size_t *len);
/* Number of capture groups, not counting the whole match. */
uint32_t kb_regex_group_count(const struct kb_regex *re);
/* The number of the named group `name`, or -1 if there is none. */
int kb_regex_group_index(const struct kb_regex *re, const char *name);

/* Match `s[0..len)`. *matched says whether it matched. A match that runs
 * into the limits (KB_REGEX_MATCH_LIMIT, heap, JIT stack) fails with
 * KB_ERR_LIMIT, and any other PCRE2 failure with KB_ERR_INTERNAL; *matched
 * is then false. Thread safe. */
enum kb_status kb_regex_exec(const struct kb_regex *re, const char *s,
                             size_t len, bool *matched, struct kb_err *err);

/* kb_regex_exec for callers that treat a failed match as no match. */
bool kb_regex_match(const struct kb_regex *re, const char *s, size_t len);

/* A group's span in the subject: bytes [start, end). A group that took no
 * part in the match has start == end == KB_REGEX_UNSET. */
#define KB_REGEX_UNSET SIZE_MAX
struct kb_regex_span {
    size_t start;
    size_t end;
};

/* kb_regex_exec that also reports where groups matched: groups[0] is the
 * whole match, groups[i] group i, for i < n (groups beyond
 * kb_regex_group_count are set to KB_REGEX_UNSET). n may be 0. For
 * relabeling's $1 and ${name}. */
enum kb_status kb_regex_exec_groups(const struct kb_regex *re, const char *s,
                                    size_t len, struct kb_regex_span *groups,
                                    size_t n, bool *matched,
                                    struct kb_err *err);

#endif
