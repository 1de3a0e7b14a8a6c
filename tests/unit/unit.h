/* tests/unit/unit.h: the tiny unit-test harness every C test uses.
 *
 * A test program is a list of test functions run from main():
 *
 *     static void test_push(void) { CHECK(x == 1); CHECK_STR(s, "a"); }
 *     int main(void) { RUN(test_push); return unit_done(); }
 *
 * Output is TAP ("ok 1 - test_push" / "not ok 2 - test_pop"), which
 * automake's tap-driver counts case by case. A failed CHECK prints the file,
 * line and expression as a TAP diagnostic ("# ...") and the test goes on, so
 * one run shows every failure. unit_done() prints the plan and returns the
 * exit status.
 */
#ifndef KILN_TESTS_UNIT_H
#define KILN_TESTS_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_case_failed;
static int unit_ncases;
static int unit_nfailed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
            unit_case_failed = 1;                                              \
        }                                                                      \
    } while (0)

#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);          \
        if (unit_a_ != unit_b_) {                                              \
            printf("# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,     \
                   __LINE__, #a, unit_a_, #b, unit_b_);                        \
            unit_case_failed = 1;                                              \
        }                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *unit_a_ = (a), *unit_b_ = (b);                             \
        if (unit_a_ == NULL || unit_b_ == NULL || strcmp(unit_a_, unit_b_)) {  \
            printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,       \
                   __LINE__, #a, unit_a_ ? unit_a_ : "(null)",                 \
                   unit_b_ ? unit_b_ : "(null)");                              \
            unit_case_failed = 1;                                              \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        unit_case_failed = 0;                                                  \
        fn();                                                                  \
        unit_ncases++;                                                         \
        if (unit_case_failed)                                                  \
            unit_nfailed++;                                                    \
        printf("%s %d - %s\n", unit_case_failed ? "not ok" : "ok",             \
               unit_ncases, #fn);                                              \
        fflush(stdout);                                                        \
    } while (0)

static inline int unit_done(void)
{
    printf("1..%d\n", unit_ncases);
    return 0;
}

/* (Failures are reported by the "not ok" lines; the exit status stays 0 so
 * that tap-driver does not count a failed case twice. A crash or a sanitizer
 * report still exits non-zero and shows as an ERROR.) */

/* The absolute path of a file under tests/ in the source tree, from the
 * top_srcdir environment variable that `make check` sets. */
static inline const char *unit_srcpath(const char *rel)
{
    static char path[4096];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof(path), "%s/%s", top ? top : ".", rel);
    return path;
}

#endif
