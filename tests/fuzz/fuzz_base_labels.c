/* tests/fuzz/fuzz_base_labels.c: libFuzzer target for labels_parse
 * (base/labels.c), the parser of label sets in text form ({a="b",c="d"})
 * that reads user input (the HTTP API, kilnctl, configuration).
 *
 * The input is parsed. A failure must come with a status and a message; a
 * success must give a set that keeps the model's invariants (names valid,
 * sorted and unique, values non-empty, at most LABELS_MAX labels) and that
 * survives the text form: labels_format, then labels_parse of that text,
 * gives an equal set (labels_equal, the same hash), and formatting that set
 * gives the same text again.
 *
 * Built and run by scripts/fuzz; seeds in tests/fuzz/corpus/fuzz_base_labels/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/labels.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct labels *ls = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = labels_parse((const char *)data, size, &ls, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(ls == NULL);
        return 0;
    }
    FUZZ_REQUIRE(ls != NULL);
    size_t n = labels_count(ls);
    FUZZ_REQUIRE(n <= LABELS_MAX);
    for (size_t i = 0; i < n; i++) {
        const struct label *l = labels_at(ls, i);
        FUZZ_REQUIRE(labels_name_valid(l->name, l->name_len));
        FUZZ_REQUIRE(strlen(l->name) == l->name_len);
        FUZZ_REQUIRE(strlen(l->value) == l->value_len);
        FUZZ_REQUIRE(l->value_len > 0 && l->value_len <= LABEL_VALUE_MAX);
        if (i > 0)
            FUZZ_REQUIRE(strcmp(labels_at(ls, i - 1)->name, l->name) < 0);
        FUZZ_REQUIRE(labels_get(ls, l->name) == l->value);
    }

    struct buf t1, t2;
    buf_init(&t1, BUF_NO_LIMIT);
    buf_init(&t2, BUF_NO_LIMIT);
    FUZZ_REQUIRE(labels_format(ls, &t1) == KB_OK);
    struct labels *again = NULL;
    st = labels_parse(buf_cstr(&t1), t1.len, &again, &err);
    if (st != KB_OK)
        fprintf(stderr, "parse of %s failed: %s\n", buf_cstr(&t1), err.msg);
    FUZZ_REQUIRE(st == KB_OK && again != NULL);
    FUZZ_REQUIRE(labels_equal(ls, again));
    FUZZ_REQUIRE(labels_compare(ls, again) == 0);
    FUZZ_REQUIRE(labels_hash(ls) == labels_hash(again));
    FUZZ_REQUIRE(labels_format(again, &t2) == KB_OK);
    FUZZ_REQUIRE(t1.len == t2.len && memcmp(t1.data, t2.data, t1.len) == 0);

    struct labels *dup = labels_dup(ls);
    FUZZ_REQUIRE(labels_equal(dup, ls));
    labels_free(dup);
    labels_free(again);
    labels_free(ls);
    buf_free(&t1);
    buf_free(&t2);
    return 0;
}
