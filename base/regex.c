/* base/regex.c: regular expressions over PCRE2 (8-bit) with JIT.
 *
 * What. Every regex in Kiln comes from a user who writes Prometheus (RE2)
 * syntax: label matchers (=~, !~), relabel rules, stack matchers
 * (__function__=~"..."). PCRE2 accepts that syntax (\d, \w, \s, (?i),
 * non-greedy .*?, classes, [[:alpha:]], \pL, (?P<name>...)) and compiles it
 * to machine code.
 *
 * Semantics, chosen to match Prometheus 3 (Go regexp):
 *  - Fully anchored: a matcher must match the whole value, as Prometheus'
 *    ^(?s:RE)$. This is done with the PCRE2_ANCHORED and PCRE2_ENDANCHORED
 *    options rather than by pasting ^(?: and )$ around the text, which would
 *    let a pattern like `a)|(b` escape its group. ENDANCHORED makes PCRE2
 *    backtrack into alternatives, so `a|ab` matches "ab" as in Go.
 *    KB_REGEX_SEARCH drops both options (find anywhere).
 *  - PCRE2_DOTALL: '.' matches newline (Prometheus 3 does the same).
 *  - PCRE2_DOLLAR_ENDONLY: '$' matches only at the very end, not before a
 *    final newline (Go's '$' without (?m)).
 *  - PCRE2_UTF: patterns and subjects are UTF-8, '.' is one code point and
 *    (?i) folds Unicode case. Not PCRE2_UCP: \d, \w, \s and \b stay ASCII,
 *    as in RE2.
 *  - PCRE2_MATCH_INVALID_UTF: a subject that is not valid UTF-8 is not an
 *    error; its invalid bytes simply match nothing (not even '.'). Go would
 *    see U+FFFD there; label values are validated UTF-8, so this only
 *    touches odd symbol names.
 *  - PCRE2_NEVER_BACKSLASH_C: \C (one byte in UTF mode) is refused.
 *  PCRE2 accepts some things RE2 refuses (backreferences, lookaround); they
 *  work here and are not treated as errors.
 *
 * Limits. Patterns up to KB_REGEX_PATTERN_MAX bytes; each match may take
 * at most KB_REGEX_MATCH_LIMIT backtracking steps and KB_REGEX_HEAP_LIMIT_KIB
 * of heap, so catastrophic backtracking ends in KB_ERR_LIMIT.
 *
 * Threads. A struct kb_regex (code, JIT code, match context) is read-only
 * after compile and may be shared. What PCRE2 writes during a match (match
 * data, the interpreter's heap frames, the JIT stack) is per thread: each
 * thread gets its own, created on first use and kept in a pthread key whose
 * destructor frees it at thread exit. The match context's JIT stack
 * callback hands PCRE2 the calling thread's JIT stack (32 KiB, growing to
 * 1 MiB). So a match costs no allocation after a thread's first.
 *
 * If JIT compilation is unavailable (no JIT support, or executable memory
 * refused), matching silently uses the interpreter.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"

#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (1024 * 1024)

struct kb_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    char *pattern;
    size_t len;
    uint32_t ngroups;
};

/* ------------------------------------------------- per-thread match state */

struct regex_tls {
    pcre2_match_data *md;
    uint32_t md_pairs;
    pcre2_jit_stack *js;
    bool js_tried;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct regex_tls *t = p;
    pcre2_match_data_free(t->md);
    pcre2_jit_stack_free(t->js);
    free(t);
}

static void tls_init(void)
{
    if (pthread_key_create(&tls_key, tls_free) != 0)
        abort();
}

static struct regex_tls *tls_get(void)
{
    pthread_once(&tls_once, tls_init);
    struct regex_tls *t = pthread_getspecific(tls_key);
    if (t == NULL) {
        t = kb_calloc(1, sizeof(*t));
        if (pthread_setspecific(tls_key, t) != 0)
            abort();
    }
    return t;
}

/* Match data with room for at least `pairs` offset pairs. */
static pcre2_match_data *tls_match_data(uint32_t pairs)
{
    struct regex_tls *t = tls_get();
    if (t->md == NULL || t->md_pairs < pairs) {
        pcre2_match_data_free(t->md);
        t->md = pcre2_match_data_create(pairs, NULL);
        if (t->md == NULL) {
            fprintf(stderr, "kiln: out of memory creating regex match data\n");
            abort();
        }
        t->md_pairs = pairs;
    }
    return t->md;
}

static pcre2_jit_stack *jit_stack_cb(void *data)
{
    struct regex_tls *t = tls_get();
    if (t->js == NULL && !t->js_tried) {
        t->js_tried = true; /* NULL result: PCRE2 uses its 32 KiB default */
        t->js = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
    }
    return t->js;
}

/* -------------------------------------------------------------- compile */

enum kb_status kb_regex_compile(const char *pattern, size_t len, unsigned flags,
                                struct kb_regex **out, struct kb_err *err)
{
    char q[KB_EXCERPT_MAX];
    *out = NULL;
    if (len > KB_REGEX_PATTERN_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "regex \"%s\" longer than %d bytes",
                       kb_excerpt(q, sizeof(q), pattern, len),
                       KB_REGEX_PATTERN_MAX);
    if (flags & ~KB_REGEX_SEARCH)
        return kb_errf(err, KB_ERR_INTERNAL, "regex: unknown flags 0x%x",
                       flags);
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL |
                    PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
    if (!(flags & KB_REGEX_SEARCH))
        opts |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)(len ? pattern : ""), (PCRE2_SIZE)len, opts,
                      &errcode, &erroff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR why[128];
        if (pcre2_get_error_message(errcode, why, sizeof(why)) < 0)
            snprintf((char *)why, sizeof(why), "error %d", errcode);
        return kb_errf(err, KB_ERR_INVALID, "regex \"%s\": offset %zu: %s",
                       kb_excerpt(q, sizeof(q), pattern, len), (size_t)erroff,
                       (const char *)why);
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort */
    pcre2_match_context *mctx = pcre2_match_context_create(NULL);
    if (mctx == NULL) {
        fprintf(stderr, "kiln: out of memory creating a regex\n");
        abort();
    }
    pcre2_set_match_limit(mctx, KB_REGEX_MATCH_LIMIT);
    pcre2_set_heap_limit(mctx, KB_REGEX_HEAP_LIMIT_KIB);
    pcre2_jit_stack_assign(mctx, jit_stack_cb, NULL);
    struct kb_regex *re = kb_calloc(1, sizeof(*re));
    re->code = code;
    re->mctx = mctx;
    re->pattern = kb_strndup(len ? pattern : "", len);
    re->len = len;
    uint32_t ng = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ng);
    re->ngroups = ng;
    *out = re;
    return KB_OK;
}

void kb_regex_free(struct kb_regex *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    free(re->pattern);
    free(re);
}

const char *kb_regex_pattern(const struct kb_regex *re, size_t *len)
{
    if (len)
        *len = re->len;
    return re->pattern;
}

uint32_t kb_regex_group_count(const struct kb_regex *re)
{
    return re->ngroups;
}

int kb_regex_group_index(const struct kb_regex *re, const char *name)
{
    int n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);
    return n < 0 ? -1 : n;
}

/* ---------------------------------------------------------------- match */

enum kb_status kb_regex_exec_groups(const struct kb_regex *re, const char *s,
                                    size_t len, struct kb_regex_span *groups,
                                    size_t n, bool *matched, struct kb_err *err)
{
    *matched = false;
    for (size_t i = 0; i < n; i++)
        groups[i].start = groups[i].end = KB_REGEX_UNSET;
    uint32_t pairs = 1;
    if (n > 1)
        pairs = n > re->ngroups + 1 ? re->ngroups + 1 : (uint32_t)n;
    pcre2_match_data *md = tls_match_data(pairs);
    int rc = pcre2_match(re->code, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md,
                         re->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return KB_OK;
    if (rc < 0) {
        char q[KB_EXCERPT_MAX];
        kb_excerpt(q, sizeof(q), re->pattern, re->len);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
            return kb_errf(err, KB_ERR_LIMIT,
                           "regex \"%s\": match too expensive (limit reached)",
                           q);
        PCRE2_UCHAR why[128];
        if (pcre2_get_error_message(rc, why, sizeof(why)) < 0)
            snprintf((char *)why, sizeof(why), "error %d", rc);
        return kb_errf(err, KB_ERR_INTERNAL, "regex \"%s\": match failed: %s",
                       q, (const char *)why);
    }
    *matched = true;
    /* rc == 0: the ovector was too small and every pair in it is set. */
    size_t set = rc == 0 ? pairs : (size_t)rc;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (size_t i = 0; i < n && i < set; i++) {
        if (ov[2 * i] == PCRE2_UNSET)
            continue;
        groups[i].start = ov[2 * i];
        groups[i].end = ov[2 * i + 1];
    }
    return KB_OK;
}

enum kb_status kb_regex_exec(const struct kb_regex *re, const char *s,
                             size_t len, bool *matched, struct kb_err *err)
{
    return kb_regex_exec_groups(re, s, len, NULL, 0, matched, err);
}

bool kb_regex_match(const struct kb_regex *re, const char *s, size_t len)
{
    bool m;
    return kb_regex_exec_groups(re, s, len, NULL, 0, &m, NULL) == KB_OK && m;
}
