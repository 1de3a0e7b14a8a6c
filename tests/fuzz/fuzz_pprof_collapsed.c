/* tests/fuzz/fuzz_pprof_collapsed.c: libFuzzer target for
 * pprof_collapsed_parse, the other parser of outside input in pprof/.
 *
 * The input is collapsed-stack text ("main;f;g 12" per line). The parser
 * must refuse it with an error naming the problem, or return a valid
 * profile. A parsed profile must then be stable under the format: writing
 * it as collapsed stacks and parsing that again gives the same text when
 * written a second time (write . parse is idempotent after one pass), and
 * pprof_encode + pprof_decode of it gives back an equal profile.
 *
 * Built and run by scripts/fuzz; the seed corpus is
 * tests/fuzz/corpus/fuzz_pprof_collapsed/.
 */
#include <stddef.h>
#include <stdint.h>

#include "pprof/profile.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pprof_limits lim;
    fuzz_limits(&lim);
    struct kb_err err;
    kb_err_clear(&err);
    struct pprof_profile *p = NULL;

    enum kb_status st = pprof_collapsed_parse(
        (const char *)data, size, "samples", "count", &lim, &p, &err);
    if (st != KB_OK) {
        FUZZ_REQUIRE(p == NULL);
        fuzz_check_error(st, &err);
        return 0;
    }
    FUZZ_REQUIRE(p != NULL);
    fuzz_check_valid(p, &lim);
    FUZZ_REQUIRE(p->n_sample_types == 1);
    fuzz_check_roundtrip(p, &lim);

    /* write -> parse -> write gives the same text. */
    struct buf t1, t2;
    buf_init(&t1, 16u << 20);
    buf_init(&t2, 16u << 20);
    if (fuzz_collapsed(p, 0, &t1) == KB_OK) {
        struct pprof_profile *q = NULL;
        st = pprof_collapsed_parse(buf_cstr(&t1), t1.len, "samples", "count",
                                   &lim, &q, &err);
        if (st != KB_OK)
            fprintf(stderr, "parse of written text failed: %s\n", err.msg);
        FUZZ_REQUIRE(st == KB_OK);
        if (fuzz_collapsed(q, 0, &t2) == KB_OK) {
            FUZZ_REQUIRE(t1.len == t2.len);
            FUZZ_REQUIRE(t1.len == 0 || memcmp(t1.data, t2.data, t1.len) == 0);
        }
        pprof_free(q);
    }
    buf_free(&t1);
    buf_free(&t2);
    pprof_free(p);
    return 0;
}
