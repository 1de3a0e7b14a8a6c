/* Unit tests for base/status, base/alloc, base/buf, base/arena, base/hmap. */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/status.h"
#include "tests/unit/unit.h"

static void test_status_messages(void)
{
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(err.status, KB_OK);
    CHECK_INT(kb_errf(&err, KB_ERR_INVALID, "sample %d: bad", 12),
              KB_ERR_INVALID);
    CHECK_STR(err.msg, "sample 12: bad");
    CHECK_INT(kb_err_prefix(&err, "file %s", "a.pb"), KB_ERR_INVALID);
    CHECK_STR(err.msg, "file a.pb: sample 12: bad");
    CHECK_STR(kb_status_str(KB_ERR_LIMIT), "limit exceeded");
    CHECK_INT(kb_errf(NULL, KB_ERR_IO, "x"), KB_ERR_IO);
}

static void test_buf_limit(void)
{
    struct buf b;
    buf_init(&b, 10);
    CHECK_STR(buf_cstr(&b), "");
    CHECK_INT(buf_puts(&b, "hello"), KB_OK);
    CHECK_INT(buf_printf(&b, "%d", 1234), KB_OK);
    CHECK_STR(buf_cstr(&b), "hello1234");
    CHECK_INT(buf_puts(&b, "xy"), KB_ERR_LIMIT);
    CHECK_STR(buf_cstr(&b), "hello1234"); /* unchanged on failure */
    CHECK_INT(buf_putc(&b, '!'), KB_OK);
    CHECK_INT(b.len, 10);
    CHECK_INT(buf_printf(&b, "%s", "z"), KB_ERR_LIMIT);
    buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    buf_free(&b);
}

static void test_buf_grow_and_take(void)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    for (int i = 0; i < 10000; i++)
        CHECK_INT(buf_putc(&b, (char)('a' + i % 26)), KB_OK);
    CHECK_INT(b.len, 10000);
    CHECK_INT(b.data[26], 'a');
    size_t n;
    uint8_t *p = buf_take(&b, &n);
    CHECK_INT(n, 10000);
    CHECK_INT(b.len, 0);
    free(p);
    buf_free(&b);
}

static void test_arena(void)
{
    struct arena *a = arena_new(1024);
    char *s = arena_strndup(a, "abcdef", 3);
    CHECK_STR(s, "abc");
    int *big = arena_calloc(a, 10000, sizeof(int)); /* own chunk */
    CHECK_INT(big[9999], 0);
    for (int i = 0; i < 1000; i++) {
        uint64_t *p = arena_alloc(a, 24);
        CHECK_INT(((uintptr_t)p) % 16, 0);
        *p = (uint64_t)i;
    }
    CHECK_STR(s, "abc"); /* earlier allocations untouched */
    CHECK(arena_used(a) >= 3 + 40000 + 24000);
    arena_free(a);
}

static void test_hmap_put_get_order(void)
{
    struct hmap *m = hmap_new(0);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        bool found = true;
        uint64_t *v = hmap_put(m, key, (size_t)n, &found);
        CHECK(!found);
        *v = (uint64_t)i * 3;
    }
    CHECK_INT(hmap_count(m), 5000);
    bool found = false;
    CHECK_INT(*hmap_put(m, "key-77", 6, &found), 231);
    CHECK(found);
    CHECK(hmap_get(m, "key-5000", 8) == NULL);
    CHECK_INT(*hmap_get(m, "key-4999", 8), 4999 * 3);
    /* the empty key is a key like any other */
    *hmap_put(m, "", 0, NULL) = 7;
    CHECK_INT(*hmap_get(m, "", 0), 7);
    size_t pos = 0, klen;
    const void *k;
    uint64_t v;
    int i = 0, ordered = 1;
    while (hmap_next(m, &pos, &k, &klen, &v)) {
        if (i < 5000 && v != (uint64_t)i * 3)
            ordered = 0;
        i++;
    }
    CHECK(ordered);
    CHECK_INT(i, 5001);
    hmap_free(m);
}

static void test_hash_stable(void)
{
    /* The hash feeds scrape phases, so it must not change by accident. */
    CHECK(kb_hash("abc", 3, 0) == kb_hash("abc", 3, 0));
    CHECK(kb_hash("abc", 3, 0) != kb_hash("abd", 3, 0));
    CHECK(kb_hash("abc", 3, 0) != kb_hash("abc", 3, 1));
    CHECK(kb_hash("", 0, 0) != kb_hash("\0", 1, 0));
}

int main(void)
{
    RUN(test_status_messages);
    RUN(test_buf_limit);
    RUN(test_buf_grow_and_take);
    RUN(test_arena);
    RUN(test_hmap_put_get_order);
    RUN(test_hash_stable);
    return unit_done();
}
