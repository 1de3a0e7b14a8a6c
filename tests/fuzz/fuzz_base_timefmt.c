/* tests/fuzz/fuzz_base_timefmt.c: libFuzzer target for the time parsers of
 * base/timefmt.c: kb_duration_parse, kb_rfc3339_parse and kb_time_parse,
 * which read query parameters, flags and configuration.
 *
 * The input goes to each parser. A failure must come with a status and a
 * message. A parsed duration is never negative and survives the text form:
 * kb_duration_format, then kb_duration_parse, gives the same milliseconds.
 * A parsed RFC 3339 time in the years 0000..9999 survives kb_time_format
 * and kb_rfc3339_parse the same way (the format keeps milliseconds, which is
 * all the parser keeps); kb_time_parse agrees with kb_rfc3339_parse on
 * whatever the latter accepts.
 *
 * Built and run by scripts/fuzz; seeds in tests/fuzz/corpus/fuzz_base_timefmt/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/timefmt.h"
#include "tests/fuzz/check.h"

/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in ms since the epoch. */
#define YEAR0_MS (-62167219200000LL)
#define YEAR10000_MS (253402300800000LL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct kb_err err;
    int64_t ms = 0, again = 0;

    kb_err_clear(&err);
    enum kb_status st = kb_duration_parse(s, size, &ms, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
    } else {
        FUZZ_REQUIRE(ms >= 0);
        char text[KB_DURATION_STR_MAX];
        kb_duration_format(ms, text);
        FUZZ_REQUIRE(strlen(text) < KB_DURATION_STR_MAX);
        st = kb_duration_parse(text, strlen(text), &again, &err);
        if (st != KB_OK || again != ms)
            fprintf(stderr, "%lld -> \"%s\" -> %lld (%s)\n", (long long)ms,
                    text, (long long)again, st ? err.msg : "ok");
        FUZZ_REQUIRE(st == KB_OK && again == ms);
    }

    kb_err_clear(&err);
    int64_t rfc = 0;
    enum kb_status st_rfc = kb_rfc3339_parse(s, size, &rfc, &err);
    if (st_rfc != KB_OK) {
        fuzz_check_error(st_rfc, &err);
    } else if (rfc >= YEAR0_MS && rfc < YEAR10000_MS) {
        char text[KB_TIME_STR_MAX];
        kb_time_format(rfc, text);
        st = kb_rfc3339_parse(text, strlen(text), &again, &err);
        if (st != KB_OK || again != rfc)
            fprintf(stderr, "%lld -> \"%s\" -> %lld (%s)\n", (long long)rfc,
                    text, (long long)again, st ? err.msg : "ok");
        FUZZ_REQUIRE(st == KB_OK && again == rfc);
    }

    kb_err_clear(&err);
    st = kb_time_parse(s, size, &ms, &err);
    if (st != KB_OK)
        fuzz_check_error(st, &err);
    if (st_rfc == KB_OK) {
        FUZZ_REQUIRE(st == KB_OK);
        FUZZ_REQUIRE(ms == rfc);
    }
    return 0;
}
