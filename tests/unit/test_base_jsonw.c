/* Unit tests for base/jsonw: commas and nesting, string escaping and UTF-8
 * repair, number formats, and the sticky errors. Output is also parsed back
 * with jansson to prove it is JSON. */
#include <float.h>
#include <jansson.h>
#include <math.h>

#include "base/jsonw.h"
#include "tests/unit/unit.h"

/* Writer plus buffer, for brevity. */
struct doc {
    struct buf b;
    struct jsonw w;
};

static void doc_init(struct doc *d, size_t limit)
{
    buf_init(&d->b, limit);
    jsonw_init(&d->w, &d->b);
}

/* Finish; must succeed. Returns the text (valid until buf_free). With
 * `jansson` set, jansson must also parse it (it refuses NUL bytes in keys
 * and integers above INT64_MAX, which are valid JSON). */
static const char *doc_check(struct doc *d, bool jansson)
{
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = jsonw_finish(&d->w, &err);
    if (st != KB_OK)
        printf("# jsonw_finish: %s\n", err.msg);
    CHECK_INT(st, KB_OK);
    if (!jansson)
        return buf_cstr(&d->b);
    /* jansson agrees it is one JSON value */
    json_error_t jerr;
    json_t *j = json_loadb((const char *)d->b.data, d->b.len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        printf("# jansson: %s in %s\n", jerr.text, buf_cstr(&d->b));
    CHECK(j != NULL);
    json_decref(j);
    return buf_cstr(&d->b);
}

static const char *doc_ok(struct doc *d)
{
    return doc_check(d, true);
}

/* Finish; must fail with `st` and message `msg`. */
static void doc_err(struct doc *d, enum kb_status st, const char *msg)
{
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(jsonw_finish(&d->w, &err), st);
    CHECK_STR(err.msg, msg);
}

static void test_structure(void)
{
    struct doc d;
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_object_begin(&d.w);
    jsonw_key(&d.w, "status");
    jsonw_string(&d.w, "success");
    jsonw_key(&d.w, "data");
    jsonw_object_begin(&d.w);
    jsonw_key(&d.w, "resultType");
    jsonw_string(&d.w, "vector");
    jsonw_key(&d.w, "result");
    jsonw_array_begin(&d.w);
    jsonw_array_begin(&d.w);
    jsonw_double(&d.w, 1700000000.5);
    jsonw_double_string(&d.w, 42);
    jsonw_array_end(&d.w);
    jsonw_object_begin(&d.w);
    jsonw_object_end(&d.w);
    jsonw_array_begin(&d.w);
    jsonw_array_end(&d.w);
    jsonw_bool(&d.w, true);
    jsonw_bool(&d.w, false);
    jsonw_null(&d.w);
    jsonw_array_end(&d.w);
    jsonw_object_end(&d.w);
    jsonw_keyn(&d.w, "n\0k", 3);
    jsonw_int(&d.w, -7);
    jsonw_object_end(&d.w);
    CHECK_STR(doc_check(&d, false),
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
              "\"result\":[[1700000000.5,\"42\"],{},[],true,false,null]},"
              "\"n\\u0000k\":-7}");
    buf_free(&d.b);

    /* a scalar is a complete document too */
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_uint(&d.w, UINT64_MAX);
    CHECK_STR(doc_check(&d, false), "18446744073709551615");
    buf_free(&d.b);
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_array_begin(&d.w);
    jsonw_int(&d.w, INT64_MIN);
    jsonw_int(&d.w, INT64_MAX);
    jsonw_int(&d.w, 0);
    jsonw_array_end(&d.w);
    CHECK_STR(doc_ok(&d), "[-9223372036854775808,9223372036854775807,0]");
    buf_free(&d.b);
}

static const char *one_string(const char *s, size_t n)
{
    static char out[256];
    struct doc d;
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_stringn(&d.w, s, n);
    snprintf(out, sizeof(out), "%s", doc_ok(&d));
    buf_free(&d.b);
    return out;
}

static void test_strings(void)
{
    CHECK_STR(one_string("", 0), "\"\"");
    CHECK_STR(one_string("plain / text", 12), "\"plain / text\"");
    CHECK_STR(one_string("\"\\", 2), "\"\\\"\\\\\"");
    CHECK_STR(one_string("\b\f\n\r\t", 5), "\"\\b\\f\\n\\r\\t\"");
    CHECK_STR(one_string("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\"");
    CHECK_STR(one_string("a\0b", 3), "\"a\\u0000b\"");
    /* valid UTF-8 passes as it is, up to 4 bytes */
    CHECK_STR(one_string("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\xA5", 9),
              "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\xA5\"");
    /* every invalid byte becomes one U+FFFD */
    CHECK_STR(one_string("a\xFF"
                         "b",
                         3),
              "\"a\xEF\xBF\xBD"
              "b\"");
    CHECK_STR(one_string("\xC0\xAF", 2), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    CHECK_STR(one_string("\xED\xA0\x80", 3),
              "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    CHECK_STR(one_string("x\xE2\x82", 3), "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"");
    CHECK_STR(one_string("\x80\"", 2), "\"\xEF\xBF\xBD\\\"\"");
    CHECK_STR(one_string("\xF4\x90\x80\x80", 4),
              "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    /* jansson reads back what was meant */
    struct doc d;
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_object_begin(&d.w);
    jsonw_key(&d.w, "k\"\n");
    jsonw_string(&d.w, "v\\\t\x02\xC3\xA9\xFF");
    jsonw_object_end(&d.w);
    json_t *j = json_loadb((const char *)d.b.data, d.b.len, 0, NULL);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "k\"\n")),
              "v\\\t\x02\xC3\xA9\xEF\xBF\xBD");
    json_decref(j);
    buf_free(&d.b);
}

static const char *dbl(double v)
{
    static char out[JSONW_DOUBLE_STR_MAX];
    return jsonw_fmt_double(v, out);
}

static void test_doubles(void)
{
    CHECK_STR(dbl(0), "0");
    CHECK_STR(dbl(-0.0), "-0");
    CHECK_STR(dbl(1), "1");
    CHECK_STR(dbl(-1.5), "-1.5");
    CHECK_STR(dbl(0.1), "0.1");
    CHECK_STR(dbl(1.0 / 3), "0.3333333333333333");
    CHECK_STR(dbl(100), "100");
    CHECK_STR(dbl(1700000000.123), "1700000000.123");
    CHECK_STR(dbl(1e20), "100000000000000000000");
    CHECK_STR(dbl(1e21), "1e+21");
    CHECK_STR(dbl(1.5e300), "1.5e+300");
    CHECK_STR(dbl(1e-6), "0.000001");
    CHECK_STR(dbl(1.25e-6), "0.00000125");
    CHECK_STR(dbl(1e-7), "1e-07");
    CHECK_STR(dbl(-1.5e-7), "-1.5e-07");
    CHECK_STR(dbl(5e-324), "5e-324");
    CHECK_STR(dbl(DBL_MAX), "1.7976931348623157e+308");
    CHECK_STR(dbl(9007199254740993.0), "9007199254740992");
    CHECK_STR(dbl(NAN), "NaN");
    CHECK_STR(dbl(INFINITY), "+Inf");
    CHECK_STR(dbl(-INFINITY), "-Inf");
    /* every formatted value reads back exactly */
    int bad = 0;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        if (strtod(dbl(v), NULL) != v)
            bad++;
    }
    CHECK_INT(bad, 0);

    struct doc d;
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_array_begin(&d.w);
    jsonw_double(&d.w, NAN);
    jsonw_double(&d.w, INFINITY);
    jsonw_double(&d.w, -INFINITY);
    jsonw_double(&d.w, 2.5);
    jsonw_double_string(&d.w, NAN);
    jsonw_double_string(&d.w, INFINITY);
    jsonw_double_string(&d.w, -INFINITY);
    jsonw_double_string(&d.w, 1e-7);
    jsonw_array_end(&d.w);
    CHECK_STR(doc_ok(&d), "[null,null,null,2.5,\"NaN\",\"+Inf\",\"-Inf\","
                          "\"1e-07\"]");
    buf_free(&d.b);
}

static void test_misuse(void)
{
    struct doc d;
    doc_init(&d, BUF_NO_LIMIT);
    jsonw_object_begin(&d.w);
    jsonw_int(&d.w, 1);
    doc_err(&d, KB_ERR_INTERNAL, "json: a value in an object without a key");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_array_begin(&d.w);
    jsonw_key(&d.w, "k");
    doc_err(&d, KB_ERR_INTERNAL, "json: a key outside an object");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_key(&d.w, "k");
    doc_err(&d, KB_ERR_INTERNAL, "json: a key outside an object");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_object_begin(&d.w);
    jsonw_key(&d.w, "a");
    jsonw_key(&d.w, "b");
    doc_err(&d, KB_ERR_INTERNAL, "json: a key right after a key");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_object_begin(&d.w);
    jsonw_key(&d.w, "a");
    jsonw_object_end(&d.w);
    doc_err(&d, KB_ERR_INTERNAL,
            "json: object ends after a key without a value");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_array_begin(&d.w);
    jsonw_object_end(&d.w);
    doc_err(&d, KB_ERR_INTERNAL, "json: object end without a matching begin");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_array_end(&d.w);
    doc_err(&d, KB_ERR_INTERNAL, "json: array end without a matching begin");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_array_begin(&d.w);
    jsonw_array_begin(&d.w);
    jsonw_array_end(&d.w);
    doc_err(&d, KB_ERR_INTERNAL, "json: 1 container left open");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    doc_err(&d, KB_ERR_INTERNAL, "json: no value written");
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    jsonw_int(&d.w, 1);
    jsonw_int(&d.w, 2);
    doc_err(&d, KB_ERR_INTERNAL, "json: a second top-level value");
    CHECK_STR(buf_cstr(&d.b), "1");
    buf_free(&d.b);
}

static void test_limits_and_sticky_errors(void)
{
    struct doc d;
    doc_init(&d, BUF_NO_LIMIT);
    for (int i = 0; i < JSONW_MAX_DEPTH; i++)
        jsonw_array_begin(&d.w);
    for (int i = 0; i < JSONW_MAX_DEPTH; i++)
        jsonw_array_end(&d.w);
    doc_ok(&d);
    CHECK_INT(d.b.len, 2 * JSONW_MAX_DEPTH);
    buf_free(&d.b);

    doc_init(&d, BUF_NO_LIMIT);
    for (int i = 0; i <= JSONW_MAX_DEPTH; i++)
        jsonw_array_begin(&d.w);
    size_t len = d.b.len;
    /* after the first error nothing more is written */
    jsonw_string(&d.w, "more");
    jsonw_array_end(&d.w);
    CHECK_INT(d.b.len, len);
    CHECK_INT(len, JSONW_MAX_DEPTH);
    char msg[64];
    snprintf(msg, sizeof(msg), "json: nesting deeper than %d", JSONW_MAX_DEPTH);
    doc_err(&d, KB_ERR_LIMIT, msg);
    buf_free(&d.b);

    doc_init(&d, 16);
    jsonw_array_begin(&d.w);
    for (int i = 0; i < 100; i++)
        jsonw_string(&d.w, "abc");
    jsonw_array_end(&d.w);
    CHECK(d.b.len <= 16);
    doc_err(&d, KB_ERR_LIMIT, "json: output larger than 16 bytes");
    buf_free(&d.b);

    /* a writer appends: what was in the buffer stays */
    doc_init(&d, BUF_NO_LIMIT);
    buf_puts(&d.b, "prefix ");
    jsonw_null(&d.w);
    struct kb_err err;
    CHECK_INT(jsonw_finish(&d.w, &err), KB_OK);
    CHECK_STR(buf_cstr(&d.b), "prefix null");
    buf_free(&d.b);
}

int main(void)
{
    RUN(test_structure);
    RUN(test_strings);
    RUN(test_doubles);
    RUN(test_misuse);
    RUN(test_limits_and_sticky_errors);
    return unit_done();
}
