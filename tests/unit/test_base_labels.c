/* Unit tests for base/labels: builder, lookup, compare, hash, text form in
 * and out, and every way the parser refuses bad input. */
#include "base/labels.h"
#include "tests/unit/unit.h"

/* Parse `text`, which must be valid; returns the set (or NULL). */
static struct labels *parse_ok(const char *text)
{
    struct labels *ls = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = labels_parse(text, strlen(text), &ls, &err);
    if (st != KB_OK)
        printf("# parse %s: %s\n", text, err.msg);
    CHECK_INT(st, KB_OK);
    return ls;
}

/* The text form of `ls`, in a static buffer. */
static const char *fmt(const struct labels *ls)
{
    static char out[8192];
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    CHECK_INT(labels_format(ls, &b), KB_OK);
    snprintf(out, sizeof(out), "%s", buf_cstr(&b));
    buf_free(&b);
    return out;
}

/* Parsing `text` (of `len` bytes) must fail with `st` and message `msg`. */
static void parse_errn(const char *text, size_t len, enum kb_status st,
                       const char *msg)
{
    struct labels *ls = (struct labels *)1;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(labels_parse(text, len, &ls, &err), st);
    CHECK_INT(err.status, st);
    CHECK(ls == NULL);
    if (msg)
        CHECK_STR(err.msg, msg);
}

static void parse_err(const char *text, enum kb_status st, const char *msg)
{
    parse_errn(text, strlen(text), st, msg);
}

static void test_builder_sorts_and_looks_up(void)
{
    struct labels_builder *b = labels_builder_new();
    struct kb_err err;
    CHECK_INT(labels_builder_add(b, "job", "api", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, LABEL_NAME, "cpu", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, "instance", "h:1", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, "A", "upper", &err), KB_OK);
    struct labels *ls;
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_OK);
    CHECK_INT(labels_count(ls), 4);
    /* bytewise: 'A' < '_' < 'i' < 'j' */
    CHECK_STR(labels_at(ls, 0)->name, "A");
    CHECK_STR(labels_at(ls, 1)->name, "__name__");
    CHECK_STR(labels_at(ls, 2)->name, "instance");
    CHECK_STR(labels_at(ls, 3)->name, "job");
    CHECK_INT(labels_at(ls, 2)->value_len, 3);
    CHECK_INT(labels_at(ls, 1)->name_len, 8);
    CHECK_STR(labels_get(ls, LABEL_NAME), "cpu");
    CHECK_STR(labels_get(ls, "job"), "api");
    CHECK_STR(labels_get(ls, "A"), "upper");
    CHECK(labels_get(ls, "a") == NULL);
    CHECK(labels_get(ls, "zzz") == NULL);
    CHECK(labels_get(ls, "") == NULL);
    CHECK_STR(fmt(ls), "{A=\"upper\",__name__=\"cpu\",instance=\"h:1\","
                       "job=\"api\"}");
    /* the builder keeps its content after finish */
    struct labels *again;
    CHECK_INT(labels_builder_finish(b, &again, &err), KB_OK);
    CHECK(labels_equal(ls, again));
    labels_free(again);
    labels_free(ls);
    labels_builder_free(b);
}

static void test_builder_set_del_reset(void)
{
    struct labels_builder *b = labels_builder_new();
    struct labels *base, *ls;
    struct kb_err err;
    CHECK_INT(
        labels_from_strings(&base, &err, "a", "1", "b", "2", "c", "3", NULL),
        KB_OK);
    labels_builder_reset(b, base);
    CHECK_STR(labels_builder_get(b, "b"), "2");
    CHECK_INT(labels_builder_set(b, "b", "20", &err), KB_OK);
    CHECK_STR(labels_builder_get(b, "b"), "20");
    CHECK_INT(labels_builder_set(b, "c", "", &err), KB_OK); /* deletes */
    CHECK(labels_builder_get(b, "c") == NULL);
    labels_builder_del(b, "a");
    labels_builder_del(b, "nope");
    CHECK_INT(labels_builder_set(b, "d", "4", &err), KB_OK);
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_OK);
    CHECK_STR(fmt(ls), "{b=\"20\",d=\"4\"}");
    labels_free(ls);
    /* add keeps duplicates until finish, which refuses them */
    labels_builder_reset(b, NULL);
    CHECK_INT(labels_builder_add(b, "x", "1", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, "y", "1", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, "x", "2", &err), KB_OK);
    CHECK_STR(labels_builder_get(b, "x"), "2");
    ls = (struct labels *)1;
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_ERR_INVALID);
    CHECK(ls == NULL);
    CHECK_STR(err.msg, "duplicate label name \"x\"");
    /* an empty value still counts as a duplicate, then is dropped */
    labels_builder_reset(b, NULL);
    CHECK_INT(labels_builder_add(b, "x", "", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, "x", "1", &err), KB_OK);
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_ERR_INVALID);
    labels_builder_reset(b, NULL);
    CHECK_INT(labels_builder_add(b, "x", "", &err), KB_OK);
    CHECK_INT(labels_builder_add(b, "y", "1", &err), KB_OK);
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_OK);
    CHECK_STR(fmt(ls), "{y=\"1\"}");
    labels_free(ls);
    labels_free(base);
    labels_builder_free(b);
}

static void test_builder_refuses_bad_labels(void)
{
    struct labels_builder *b = labels_builder_new();
    struct kb_err err;
    const char *bad_names[] = {"", "1a", "a-b", "a b", "é", "a.b", "a\n"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        CHECK_INT(labels_builder_add(b, bad_names[i], "v", &err),
                  KB_ERR_INVALID);
        CHECK_INT(labels_builder_set(b, bad_names[i], "v", &err),
                  KB_ERR_INVALID);
    }
    CHECK_INT(labels_builder_add(b, "a-b", "v", &err), KB_ERR_INVALID);
    CHECK_STR(err.msg, "invalid label name \"a-b\"");
    CHECK_INT(labels_builder_add(b, "a\n", "v", &err), KB_ERR_INVALID);
    CHECK_STR(err.msg, "invalid label name \"a\\x0A\"");
    CHECK(labels_name_valid("_", 1));
    CHECK(labels_name_valid("a9_Z", 4));
    CHECK(!labels_name_valid("9", 1));

    char name[LABEL_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[LABEL_NAME_MAX] = '\0';
    CHECK_INT(labels_builder_add(b, name, "v", &err), KB_OK);
    name[LABEL_NAME_MAX] = 'n';
    name[LABEL_NAME_MAX + 1] = '\0';
    CHECK_INT(labels_builder_add(b, name, "v", &err), KB_ERR_LIMIT);

    char *value = malloc(LABEL_VALUE_MAX + 2);
    memset(value, 'v', LABEL_VALUE_MAX + 1);
    value[LABEL_VALUE_MAX] = '\0';
    CHECK_INT(labels_builder_add(b, "long", value, &err), KB_OK);
    value[LABEL_VALUE_MAX] = 'v';
    value[LABEL_VALUE_MAX + 1] = '\0';
    CHECK_INT(labels_builder_add(b, "long2", value, &err), KB_ERR_LIMIT);
    CHECK_STR(err.msg, "value of label \"long2\" longer than 4096 bytes");
    CHECK_INT(labels_builder_set(b, "long", value, &err), KB_ERR_LIMIT);
    free(value);

    /* invalid UTF-8: a lone continuation byte, an overlong '/', a
     * surrogate, a truncated sequence, above U+10FFFF */
    const char *bad_values[] = {"a\x80",    "\xC0\xAF",         "\xED\xA0\x80",
                                "\xE2\x82", "\xF4\x90\x80\x80", "\xFF"};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
        CHECK_INT(labels_builder_add(b, "u", bad_values[i], &err),
                  KB_ERR_INVALID);
    CHECK_STR(err.msg, "value of label \"u\" is not valid UTF-8");
    CHECK_INT(labels_builder_add(b, "u", "\xE2\x82\xAC \xF0\x9F\x94\xA5", &err),
              KB_OK);

    /* the builder is unchanged by the failures: 3 labels */
    struct labels *ls;
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_OK);
    CHECK_INT(labels_count(ls), 3);
    labels_free(ls);

    /* count limit */
    labels_builder_reset(b, NULL);
    char n[16];
    for (int i = 0; i < LABELS_MAX; i++) {
        snprintf(n, sizeof(n), "l%d", i);
        CHECK_INT(labels_builder_add(b, n, "v", &err), KB_OK);
    }
    CHECK_INT(labels_builder_add(b, "one_more", "v", &err), KB_ERR_LIMIT);
    CHECK_STR(err.msg, "more than 256 labels");
    CHECK_INT(labels_builder_set(b, "one_more", "v", &err), KB_ERR_LIMIT);
    CHECK_INT(labels_builder_set(b, "l7", "replaced", &err), KB_OK);
    CHECK_INT(labels_builder_set(b, "one_more", "", &err), KB_OK);
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_OK);
    CHECK_INT(labels_count(ls), LABELS_MAX);
    CHECK_STR(labels_get(ls, "l7"), "replaced");
    labels_free(ls);
    labels_builder_free(b);
}

static void test_from_strings(void)
{
    struct labels *ls = (struct labels *)1;
    struct kb_err err;
    CHECK_INT(labels_from_strings(&ls, &err, "a", "1", "b", NULL),
              KB_ERR_USAGE);
    CHECK(ls == NULL);
    CHECK_STR(err.msg, "label \"b\" has no value");
    CHECK_INT(labels_from_strings(&ls, &err, "a", "1", "a", "2", NULL),
              KB_ERR_INVALID);
    CHECK_INT(labels_from_strings(&ls, &err, "9", "1", NULL), KB_ERR_INVALID);
    CHECK_INT(labels_from_strings(&ls, &err, NULL), KB_OK);
    CHECK_INT(labels_count(ls), 0);
    CHECK_STR(fmt(ls), "{}");
    labels_free(ls);
}

static void test_equal_compare_hash(void)
{
    struct labels *a, *b, *c, *d, *e, *empty, *x, *y;
    struct kb_err err;
    CHECK_INT(labels_from_strings(&a, &err, "a", "1", "b", "2", NULL), KB_OK);
    CHECK_INT(labels_from_strings(&b, &err, "b", "2", "a", "1", NULL), KB_OK);
    CHECK_INT(labels_from_strings(&c, &err, "a", "1", NULL), KB_OK);
    CHECK_INT(labels_from_strings(&d, &err, "a", "2", NULL), KB_OK);
    CHECK_INT(labels_from_strings(&e, &err, "b", "0", NULL), KB_OK);
    CHECK_INT(labels_from_strings(&x, &err, "a", "bc", NULL), KB_OK);
    CHECK_INT(labels_from_strings(&y, &err, "ab", "c", NULL), KB_OK);
    empty = labels_new_empty();
    CHECK(labels_equal(a, b));
    CHECK_INT(labels_compare(a, b), 0);
    CHECK(labels_hash(a) == labels_hash(b));
    CHECK(!labels_equal(a, c));
    CHECK(labels_compare(c, a) < 0); /* prefix first */
    CHECK(labels_compare(a, c) > 0);
    CHECK(labels_compare(c, d) < 0); /* by value */
    CHECK(labels_compare(a, d) < 0); /* a=1 < a=2 before length */
    CHECK(labels_compare(d, e) < 0); /* by name: a < b */
    CHECK(labels_compare(empty, c) < 0);
    CHECK(labels_compare(x, y) < 0); /* "a" < "ab" */
    CHECK(!labels_equal(x, y));
    CHECK(labels_hash(x) != labels_hash(y));
    CHECK(labels_hash(a) != labels_hash(c));
    CHECK(labels_hash(c) != labels_hash(d));
    CHECK(labels_hash(empty) != labels_hash(c));
    /* The hash is stable across releases (scrape phases depend on it): a
     * change here breaks every running installation's spread. */
    struct labels *g;
    CHECK_INT(labels_from_strings(&g, &err, "job", "api", "instance",
                                  "10.0.0.1:6060", NULL),
              KB_OK);
    CHECK(labels_hash(g) == UINT64_C(0xdd0b50dfc7f522ce));
    if (labels_hash(g) != UINT64_C(0xdd0b50dfc7f522ce))
        printf("# hash is 0x%016" PRIx64 "\n", labels_hash(g));
    struct labels *dup = labels_dup(g);
    CHECK(labels_equal(dup, g));
    CHECK(labels_hash(dup) == labels_hash(g));
    struct labels *dup_null = labels_dup(NULL);
    CHECK(labels_equal(dup_null, empty));
    labels_free(dup_null);
    labels_free(dup);
    labels_free(g);
    labels_free(a);
    labels_free(b);
    labels_free(c);
    labels_free(d);
    labels_free(e);
    labels_free(x);
    labels_free(y);
    labels_free(empty);
}

static void test_format_escapes_and_limit(void)
{
    struct labels *ls;
    struct kb_err err;
    CHECK_INT(
        labels_from_strings(&ls, &err, "a", "x\"y\\z\nw", "b", "\t€", NULL),
        KB_OK);
    CHECK_STR(fmt(ls), "{a=\"x\\\"y\\\\z\\nw\",b=\"\t€\"}");
    struct buf small;
    buf_init(&small, 10);
    CHECK_INT(labels_format(ls, &small), KB_ERR_LIMIT);
    buf_free(&small);
    labels_free(ls);
}

static void test_parse_forms(void)
{
    struct labels *ls = parse_ok("{}");
    CHECK_INT(labels_count(ls), 0);
    labels_free(ls);
    ls = parse_ok("  { \t}\n");
    CHECK_INT(labels_count(ls), 0);
    labels_free(ls);
    ls = parse_ok("{b=\"2\",a=\"1\"}");
    CHECK_STR(fmt(ls), "{a=\"1\",b=\"2\"}");
    labels_free(ls);
    ls = parse_ok("{\n  __name__ = \"cpu\" ,\n  job=\"api\",\n}\n");
    CHECK_STR(fmt(ls), "{__name__=\"cpu\",job=\"api\"}");
    CHECK_STR(labels_get(ls, LABEL_NAME), "cpu");
    labels_free(ls);
    ls = parse_ok("{a=\"\\\\\\\"\\n\",e=\"\",u=\"\xC3\xA9\"}");
    CHECK_INT(labels_count(ls), 2); /* e="" dropped */
    CHECK_STR(labels_get(ls, "a"), "\\\"\n");
    CHECK_STR(labels_get(ls, "u"), "é");
    labels_free(ls);
}

static void test_parse_errors(void)
{
    parse_err("", KB_ERR_INVALID,
              "1:1: unexpected end of input, expected \"{\"");
    parse_err("a", KB_ERR_INVALID, "1:1: expected \"{\"");
    parse_err("{a}", KB_ERR_INVALID, "1:3: expected \"=\"");
    parse_err("{job x}", KB_ERR_INVALID, "1:6: expected \"=\"");
    parse_err("{a", KB_ERR_INVALID,
              "1:3: unexpected end of input, expected \"=\"");
    parse_err("{a=", KB_ERR_INVALID,
              "1:4: unexpected end of input, expected quoted label value");
    parse_err("{a=b}", KB_ERR_INVALID, "1:4: expected quoted label value");
    parse_err("{a='b'}", KB_ERR_INVALID, "1:4: expected quoted label value");
    parse_err("{a=\"b}", KB_ERR_INVALID, "1:4: unterminated label value");
    parse_err("{a=\"b\\", KB_ERR_INVALID, "1:4: unterminated label value");
    parse_err("{a=\"b\"", KB_ERR_INVALID,
              "1:7: unexpected end of input, expected \",\" or \"}\"");
    parse_err("{a=\"b\" c=\"d\"}", KB_ERR_INVALID,
              "1:8: expected \",\" or \"}\"");
    parse_err("{a=\"b\";c=\"d\"}", KB_ERR_INVALID,
              "1:7: expected \",\" or \"}\"");
    parse_err("{1a=\"b\"}", KB_ERR_INVALID,
              "1:2: expected label name or \"}\"");
    parse_err("{,}", KB_ERR_INVALID, "1:2: expected label name or \"}\"");
    parse_err("{a=\"b\",,}", KB_ERR_INVALID,
              "1:8: expected label name or \"}\"");
    parse_err("{a=\"b\",", KB_ERR_INVALID,
              "1:8: unexpected end of input, expected label name or \"}\"");
    parse_err("{a-b=\"c\"}", KB_ERR_INVALID, "1:3: expected \"=\"");
    parse_err("{\"a\"=\"c\"}", KB_ERR_INVALID,
              "1:2: expected label name or \"}\"");
    parse_err("{a=\"b\",a=\"c\"}", KB_ERR_INVALID,
              "1:8: duplicate label name \"a\"");
    parse_err("{a=\"\",a=\"c\"}", KB_ERR_INVALID,
              "1:7: duplicate label name \"a\"");
    parse_err("{a=\"\\q\"}", KB_ERR_INVALID,
              "1:5: unknown escape \"\\q\" in label value");
    parse_err("{a=\"\\t\"}", KB_ERR_INVALID,
              "1:5: unknown escape \"\\t\" in label value");
    parse_err("{a=\"b\"} x", KB_ERR_INVALID,
              "1:9: unexpected text after \"}\"");
    parse_err("{a=\"b\"}}", KB_ERR_INVALID, "1:8: unexpected text after \"}\"");
    parse_err("{\n  a = \"b\",\n  b c}", KB_ERR_INVALID, "3:5: expected \"=\"");
    parse_err("{a=\"x\ny\"}", KB_ERR_INVALID, "1:6: newline in label value");
    parse_errn("{a=\"x\0y\"}", 9, KB_ERR_INVALID,
               "1:6: NUL byte in label value");
    parse_errn("{\0}", 3, KB_ERR_INVALID, "1:2: expected label name or \"}\"");
    parse_err("{a=\"x\xFFy\"}", KB_ERR_INVALID,
              "1:6: invalid UTF-8 in label value");
    parse_err("{a=\"\xC0\xAF\"}", KB_ERR_INVALID,
              "1:5: invalid UTF-8 in label value");
    parse_err("{a=\"\xED\xA0\x80\"}", KB_ERR_INVALID,
              "1:5: invalid UTF-8 in label value");
    parse_err("{a=\"\xE2\x82\"}", KB_ERR_INVALID,
              "1:5: invalid UTF-8 in label value");
    parse_err("{a=\"\xE2\x82", KB_ERR_INVALID,
              "1:5: invalid UTF-8 in label value");
}

static void test_parse_limits(void)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    /* a name of LABEL_NAME_MAX bytes is fine, one more is not */
    buf_puts(&b, "{");
    for (int i = 0; i < LABEL_NAME_MAX; i++)
        buf_putc(&b, 'n');
    buf_puts(&b, "=\"v\"}");
    struct labels *ls = parse_ok(buf_cstr(&b));
    labels_free(ls);
    buf_reset(&b);
    buf_puts(&b, "{");
    for (int i = 0; i <= LABEL_NAME_MAX; i++)
        buf_putc(&b, 'n');
    buf_puts(&b, "=\"v\"}");
    parse_err(buf_cstr(&b), KB_ERR_LIMIT,
              "1:2: label name longer than 256 bytes");

    /* values: escapes count as their decoded byte */
    buf_reset(&b);
    buf_puts(&b, "{a=\"");
    for (int i = 0; i < LABEL_VALUE_MAX; i++)
        buf_puts(&b, "\\n");
    buf_puts(&b, "\"}");
    ls = parse_ok(buf_cstr(&b));
    CHECK_INT(labels_at(ls, 0)->value_len, LABEL_VALUE_MAX);
    labels_free(ls);
    buf_reset(&b);
    buf_puts(&b, "{a=\"");
    for (int i = 0; i <= LABEL_VALUE_MAX; i++)
        buf_putc(&b, 'v');
    buf_puts(&b, "\"}");
    parse_err(buf_cstr(&b), KB_ERR_LIMIT,
              "1:4: label value longer than 4096 bytes");

    /* count */
    buf_reset(&b);
    buf_puts(&b, "{");
    for (int i = 0; i < LABELS_MAX; i++)
        buf_printf(&b, "l%d=\"v\",", i);
    buf_puts(&b, "}");
    ls = parse_ok(buf_cstr(&b));
    CHECK_INT(labels_count(ls), LABELS_MAX);
    labels_free(ls);
    b.len--;
    buf_puts(&b, "extra=\"v\"}");
    parse_err(buf_cstr(&b), KB_ERR_LIMIT, NULL);

    /* whole text */
    buf_reset(&b);
    buf_puts(&b, "{}");
    while (b.len <= LABELS_TEXT_MAX)
        buf_putc(&b, ' ');
    parse_err(buf_cstr(&b), KB_ERR_LIMIT,
              "label set text longer than 1048576 bytes");
    buf_free(&b);
}

/* Every proper prefix of a valid text is refused, and nothing crashes. */
static void test_parse_truncations(void)
{
    const char *text = "{ __name__=\"cpu\", job = \"a\\\"p\\\\i\\n\", "
                       "u=\"\xE2\x82\xAC\" , }";
    struct labels *full = parse_ok(text);
    CHECK_INT(labels_count(full), 3);
    labels_free(full);
    size_t n = strlen(text);
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        struct labels *ls = NULL;
        struct kb_err err;
        if (labels_parse(text, i, &ls, &err) == KB_ERR_INVALID && !ls)
            refused++;
        labels_free(ls);
    }
    CHECK_INT(refused, (int)n);
}

static void test_round_trip(void)
{
    const char *values[] = {
        "plain",     "with space",    "quote\"inside", "back\\slash",
        "new\nline", "\\n literally", "\"\"",          "tab\tand\rcr",
        "€ 🔥 日本",  "=,{}",          "trailing\\",
    };
    struct labels_builder *b = labels_builder_new();
    struct kb_err err;
    char name[16];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(name, sizeof(name), "k%zu", i);
        CHECK_INT(labels_builder_add(b, name, values[i], &err), KB_OK);
    }
    CHECK_INT(labels_builder_add(b, LABEL_NAME, "x:y:z", &err), KB_OK);
    struct labels *ls, *back = NULL;
    CHECK_INT(labels_builder_finish(b, &ls, &err), KB_OK);
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    CHECK_INT(labels_format(ls, &out), KB_OK);
    CHECK_INT(labels_parse((const char *)out.data, out.len, &back, &err),
              KB_OK);
    CHECK(back && labels_equal(ls, back));
    CHECK(back && labels_hash(ls) == labels_hash(back));
    labels_free(back);
    buf_free(&out);
    labels_free(ls);
    labels_builder_free(b);
}

int main(void)
{
    RUN(test_builder_sorts_and_looks_up);
    RUN(test_builder_set_del_reset);
    RUN(test_builder_refuses_bad_labels);
    RUN(test_from_strings);
    RUN(test_equal_compare_hash);
    RUN(test_format_escapes_and_limit);
    RUN(test_parse_forms);
    RUN(test_parse_errors);
    RUN(test_parse_limits);
    RUN(test_parse_truncations);
    RUN(test_round_trip);
    return unit_done();
}
