/* tests/fuzz/fuzz_tsdb_selector.c: libFuzzer target for tsdb_matchers_parse
 * (tsdb/selector.c), which parses series selectors from the HTTP API, the
 * command line and rule files.
 *
 * The input, NUL-terminated (so an input with a NUL byte is a shorter
 * selector), is parsed. A failure must come with a status and a message and
 * leave nothing allocated; a success gives 1 to 64 matchers, each with a
 * name that is a label name ([a-zA-Z_][a-zA-Z0-9_]*, or __name__ for a bare
 * metric name), a value, and a compiled regex exactly for =~ and !~.
 *
 * Built and run by scripts/fuzz (with tsdb/, base/ and pprof/); seeds in
 * tests/fuzz/corpus/fuzz_tsdb_selector/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/check.h"
#include "tsdb/tsdb.h"

static bool name_ok(const char *s)
{
    if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_REQUIRE(text != NULL);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';

    struct tsdb_matcher *ms = (struct tsdb_matcher *)1;
    size_t n = 1234;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = tsdb_matchers_parse(text, &ms, &n, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(ms == NULL && n == 0);
        free(text);
        return 0;
    }
    FUZZ_REQUIRE(ms != NULL);
    FUZZ_REQUIRE(n >= 1 && n <= 64);
    for (size_t i = 0; i < n; i++) {
        const struct tsdb_matcher *m = &ms[i];
        FUZZ_REQUIRE(m->name != NULL && m->value != NULL);
        FUZZ_REQUIRE(name_ok(m->name));
        bool re = m->type == TSDB_MATCH_RE || m->type == TSDB_MATCH_NRE;
        FUZZ_REQUIRE(re || m->type == TSDB_MATCH_EQ ||
                     m->type == TSDB_MATCH_NEQ);
        FUZZ_REQUIRE(re == (m->re != NULL));
    }
    tsdb_matchers_free(ms, n);
    free(text);
    return 0;
}
