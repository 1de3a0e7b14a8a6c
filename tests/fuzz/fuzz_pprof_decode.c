/* tests/fuzz/fuzz_pprof_decode.c: libFuzzer target for pprof_decode.
 *
 * Each input is handed to pprof_decode as if it were a scraped profile (gzip
 * or raw protobuf). The decoder must either refuse it with an error that
 * names the problem (never KB_ERR_INTERNAL), or return a profile that keeps
 * the model's invariants. A decoded profile then goes through the rest of
 * the codec: its collapsed stacks are written for each sample type, and
 * pprof_encode followed by pprof_decode must give back an equal profile
 * with byte-identical collapsed stacks (check.h says what is checked).
 *
 * Built and run by scripts/fuzz (clang -fsanitize=fuzzer,address,undefined);
 * the seed corpus is the Go fixtures tests/fixtures/go/NAME.pb.gz (gunzipped
 * too, so that mutations reach the protobuf rather than the gzip framing) and
 * the hand-made inputs in tests/fuzz/corpus/fuzz_pprof_decode/.
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

    enum kb_status st = pprof_decode(data, size, &lim, &p, &err);
    if (st != KB_OK) {
        FUZZ_REQUIRE(p == NULL);
        fuzz_check_error(st, &err);
        return 0;
    }
    FUZZ_REQUIRE(p != NULL);
    fuzz_check_valid(p, &lim);
    fuzz_check_roundtrip(p, &lim);
    pprof_free(p);
    return 0;
}
