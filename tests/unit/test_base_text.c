/* Unit tests for base/text: UTF-8 sequences and error-message excerpts. */
#include "base/text.h"
#include "tests/unit/unit.h"

static size_t seq(const char *s, size_t n, uint32_t *cp)
{
    return kb_utf8_seq((const uint8_t *)s, n, cp);
}

static void test_utf8(void)
{
    uint32_t cp = 0;
    CHECK_INT(seq("a", 1, &cp), 1);
    CHECK_INT(cp, 'a');
    CHECK_INT(seq("\0", 1, &cp), 1);
    CHECK_INT(seq("", 0, &cp), 0);
    CHECK_INT(seq("\xC3\xA9", 2, &cp), 2);
    CHECK_INT(cp, 0xE9);
    CHECK_INT(seq("\xE2\x82\xAC", 3, &cp), 3);
    CHECK_INT(cp, 0x20AC);
    CHECK_INT(seq("\xF0\x9F\x94\xA5", 4, &cp), 4);
    CHECK_INT(cp, 0x1F525);
    CHECK_INT(seq("\xF4\x8F\xBF\xBF", 4, &cp), 4);
    CHECK_INT(cp, 0x10FFFF);
    CHECK_INT(seq("\xEF\xBF\xBD", 3, &cp), 3);
    CHECK_INT(seq("\xED\x9F\xBF", 3, &cp), 3); /* U+D7FF */
    /* invalid: continuation, overlongs, surrogates, too big, cut short */
    CHECK_INT(seq("\x80", 1, NULL), 0);
    CHECK_INT(seq("\xBF", 1, NULL), 0);
    CHECK_INT(seq("\xC0\x80", 2, NULL), 0);
    CHECK_INT(seq("\xC1\xBF", 2, NULL), 0);
    CHECK_INT(seq("\xE0\x9F\xBF", 3, NULL), 0);
    CHECK_INT(seq("\xF0\x8F\xBF\xBF", 4, NULL), 0);
    CHECK_INT(seq("\xED\xA0\x80", 3, NULL), 0);
    CHECK_INT(seq("\xED\xBF\xBF", 3, NULL), 0);
    CHECK_INT(seq("\xF4\x90\x80\x80", 4, NULL), 0);
    CHECK_INT(seq("\xF5\x80\x80\x80", 4, NULL), 0);
    CHECK_INT(seq("\xFF", 1, NULL), 0);
    CHECK_INT(seq("\xC3", 1, NULL), 0);
    CHECK_INT(seq("\xE2\x82\xAC", 2, NULL), 0);
    CHECK_INT(seq("\xE2\x28\xAC", 3, NULL), 0);
    CHECK_INT(seq("\xF0\x9F\x94\x28", 4, NULL), 0);
    CHECK(kb_utf8_valid("", 0));
    CHECK(kb_utf8_valid("plain \xC3\xA9 \xF0\x9F\x94\xA5", 13));
    CHECK(!kb_utf8_valid("ok\xC3", 3));
    CHECK(!kb_utf8_valid("\xC3(", 2));
}

static void test_excerpt(void)
{
    char out[16];
    CHECK_STR(kb_excerpt(out, sizeof(out), "abc", 3), "abc");
    CHECK_STR(kb_excerpt(out, sizeof(out), "a\nb\0", 4), "a\\x0Ab\\x00");
    CHECK_STR(kb_excerpt(out, sizeof(out), "abcdefghijklmnopqrstuvwxyz", 26),
              "abcdefghijkl...");
    CHECK_STR(kb_excerpt(out, sizeof(out), "abcdefghijk\xFF", 12),
              "abcdefghijk...");
    CHECK_STR(kb_excerpt(out, sizeof(out), "", 0), "");
    CHECK_STR(kb_excerpt(out, 8, "abcdefgh", 8), "abcd...");
    char tiny[4] = "xyz";
    CHECK_STR(kb_excerpt(tiny, sizeof(tiny), "abc", 3), "");
}

int main(void)
{
    RUN(test_utf8);
    RUN(test_excerpt);
    return unit_done();
}
