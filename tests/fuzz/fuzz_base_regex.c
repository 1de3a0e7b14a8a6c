/* tests/fuzz/fuzz_base_regex.c: libFuzzer target for kb_regex_compile and
 * the matchers of base/regex.c (label matchers, relabeling, stack matchers
 * all hand user patterns to it).
 *
 * Byte 0 chooses the flags (bit 0: KB_REGEX_SEARCH); the rest is split at
 * its first NUL into the pattern and the subject (no NUL: the subject is
 * the pattern's text too). A failed compile must come with a status and a
 * message. A compiled regex keeps its source, and then kb_regex_exec and
 * kb_regex_exec_groups (with room for more groups than there are) must
 * agree on whether it matched, report spans inside the subject (or
 * KB_REGEX_UNSET for groups that took no part, and for those past the
 * group count), and, anchored, a match ends where the subject ends. Running
 * into the match limits is an allowed outcome (KB_ERR_LIMIT).
 *
 * Built and run by scripts/fuzz; seeds in tests/fuzz/corpus/fuzz_base_regex/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/regex.h"
#include "tests/fuzz/check.h"

#define EXTRA_GROUPS 2
#define MAX_SPANS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 1 ? KB_REGEX_SEARCH : 0;
    const char *pat = (const char *)data + 1;
    size_t rest = size - 1;
    const char *nul = memchr(pat, '\0', rest);
    size_t plen = nul ? (size_t)(nul - pat) : rest;
    const char *subj = nul ? nul + 1 : pat;
    size_t slen = nul ? rest - plen - 1 : rest;

    struct kb_regex *re = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = kb_regex_compile(pat, plen, flags, &re, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(re == NULL);
        return 0;
    }
    FUZZ_REQUIRE(re != NULL);
    size_t got_len;
    const char *src = kb_regex_pattern(re, &got_len);
    FUZZ_REQUIRE(got_len == plen && memcmp(src, pat, plen) == 0);
    FUZZ_REQUIRE(src[plen] == '\0');

    bool m1 = true, m2 = true;
    kb_err_clear(&err);
    enum kb_status st1 = kb_regex_exec(re, subj, slen, &m1, &err);
    if (st1 != KB_OK) {
        fuzz_check_error(st1, &err);
        FUZZ_REQUIRE(st1 == KB_ERR_LIMIT && !m1);
    }

    uint32_t ng = kb_regex_group_count(re);
    size_t n = (size_t)ng + 1 + EXTRA_GROUPS;
    if (n > MAX_SPANS)
        n = MAX_SPANS;
    struct kb_regex_span spans[MAX_SPANS];
    kb_err_clear(&err);
    enum kb_status st2 =
        kb_regex_exec_groups(re, subj, slen, spans, n, &m2, &err);
    if (st2 != KB_OK) {
        fuzz_check_error(st2, &err);
        FUZZ_REQUIRE(st2 == KB_ERR_LIMIT && !m2);
    }
    if (st1 == KB_OK && st2 == KB_OK)
        FUZZ_REQUIRE(m1 == m2);
    if (st2 == KB_OK && m2) {
        for (size_t i = 0; i < n; i++) {
            const struct kb_regex_span *g = &spans[i];
            if (g->start == KB_REGEX_UNSET || i > ng) {
                FUZZ_REQUIRE(g->start == KB_REGEX_UNSET &&
                             g->end == KB_REGEX_UNSET);
                continue;
            }
            FUZZ_REQUIRE(g->start <= g->end && g->end <= slen);
        }
        FUZZ_REQUIRE(spans[0].start != KB_REGEX_UNSET);
        /* Anchored, the match ends at the end (\K may move its start). */
        if (!(flags & KB_REGEX_SEARCH))
            FUZZ_REQUIRE(spans[0].end == slen);
    }
    /* n == 0 is allowed too. */
    kb_err_clear(&err);
    bool m3 = false;
    st = kb_regex_exec_groups(re, subj, slen, NULL, 0, &m3, &err);
    if (st == KB_OK && st1 == KB_OK)
        FUZZ_REQUIRE(m3 == m1);
    (void)kb_regex_match(re, subj, slen);
    kb_regex_free(re);
    return 0;
}
