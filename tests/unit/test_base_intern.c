/* Unit tests for base/intern: dense ids in insertion order, lookups both
 * ways, binary strings, and the count and byte limits. */
#include "base/intern.h"
#include "tests/unit/unit.h"

static void test_ids_are_dense_and_stable(void)
{
    struct intern *in = intern_new(0, 0);
    struct kb_err err;
    uint32_t id;
    bool added;
    char s[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(s, sizeof(s), "func_%d", i);
        CHECK_INT(intern_put(in, s, (size_t)n, &id, &added, &err), KB_OK);
        CHECK_INT(id, i);
        CHECK(added);
    }
    CHECK_INT(intern_count(in), 10000);
    /* again: same ids, nothing added */
    int same = 0;
    for (int i = 0; i < 10000; i += 7) {
        int n = snprintf(s, sizeof(s), "func_%d", i);
        if (intern_put(in, s, (size_t)n, &id, &added, &err) == KB_OK &&
            id == (uint32_t)i && !added)
            same++;
    }
    CHECK_INT(same, (10000 + 6) / 7);
    CHECK_INT(intern_count(in), 10000);
    /* id -> string */
    size_t len;
    CHECK_STR(intern_str(in, 0, &len), "func_0");
    CHECK_INT(len, 6);
    CHECK_STR(intern_str(in, 9999, NULL), "func_9999");
    CHECK(intern_str(in, 10000, &len) == NULL);
    CHECK(intern_str(in, UINT32_MAX, NULL) == NULL);
    /* lookups never add */
    CHECK(intern_get(in, "func_42", 7, &id));
    CHECK_INT(id, 42);
    CHECK(!intern_get(in, "func_10000", 10, &id));
    CHECK(!intern_get(in, "func_4", 5, &id)); /* a prefix is another key */
    CHECK_INT(intern_count(in), 10000);
    intern_free(in);
    intern_free(NULL);
}

static void test_binary_and_empty_strings(void)
{
    struct intern *in = intern_new(0, 0);
    uint32_t a, b, c, e;
    struct kb_err err;
    CHECK_INT(intern_put(in, "", 0, &e, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, NULL, 0, &a, NULL, &err), KB_OK);
    CHECK_INT(a, e); /* NULL with length 0 is the empty string */
    CHECK_INT(intern_put(in, "a\0b", 3, &a, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "a\0c", 3, &b, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "a", 1, &c, NULL, &err), KB_OK);
    CHECK(a != b && b != c && a != c);
    size_t len;
    const char *s = intern_str(in, a, &len);
    CHECK_INT(len, 3);
    CHECK(memcmp(s, "a\0b", 4) == 0); /* NUL-terminated after the bytes */
    CHECK_STR(intern_str(in, e, &len), "");
    CHECK_INT(len, 0);
    CHECK_INT(intern_bytes(in), 7);
    intern_free(in);
}

static void test_limits(void)
{
    struct intern *in = intern_new(3, 0);
    struct kb_err err;
    uint32_t id = 99;
    bool added = true;
    CHECK_INT(intern_put(in, "a", 1, &id, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "b", 1, &id, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "c", 1, &id, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "d", 1, &id, &added, &err), KB_ERR_LIMIT);
    CHECK(!added);
    CHECK_STR(err.msg, "more than 3 distinct strings");
    /* known strings still resolve at the limit */
    CHECK_INT(intern_put(in, "b", 1, &id, &added, &err), KB_OK);
    CHECK_INT(id, 1);
    CHECK_INT(intern_count(in), 3);
    intern_free(in);

    in = intern_new(0, 10);
    CHECK_INT(intern_put(in, "12345", 5, &id, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "abcde", 5, &id, NULL, &err), KB_OK);
    CHECK_INT(intern_put(in, "x", 1, &id, NULL, &err), KB_ERR_LIMIT);
    CHECK_STR(err.msg, "more than 10 bytes of distinct strings");
    CHECK_INT(intern_put(in, "", 0, &id, NULL, &err), KB_OK);
    CHECK_INT(intern_count(in), 3);
    CHECK_INT(intern_bytes(in), 10);
    CHECK(!intern_get(in, "x", 1, NULL));
    intern_free(in);
}

int main(void)
{
    RUN(test_ids_are_dense_and_stable);
    RUN(test_binary_and_empty_strings);
    RUN(test_limits);
    return unit_done();
}
