/* base/jsonw.c: a streaming JSON writer.
 *
 * What. Kiln's HTTP API answers in JSON (Prometheus' envelope, flame graph
 * trees, target lists). Responses are written straight into the response
 * buffer by this writer, with no intermediate tree: a flame graph of a
 * million nodes costs its bytes and nothing more. (Parsing JSON is jansson's
 * job; DESIGN.md section 1.)
 *
 * Design. The writer keeps a stack of open containers, each with its kind
 * and whether it already has a member; that is all it needs to put commas
 * and colons in the right places and to refuse calls that would make
 * invalid JSON (a value in an object without a key, a key in an array, an
 * end that does not match its begin, a second top-level value). Depth is
 * bounded by JSONW_MAX_DEPTH so the stack is a fixed array.
 *
 * Errors are sticky: the first one (the buffer's limit, too deep, misuse)
 * is recorded, every later call returns at once, and jsonw_finish reports
 * it. Callers write a whole document without checking each call.
 *
 * Strings: output is always valid UTF-8. Bytes that do not form
 * well-formed UTF-8 (kb_utf8_seq) are replaced, one U+FFFD per byte, as Go's
 * encoding/json does; function names from binaries are not always UTF-8.
 * Only what JSON requires is escaped (", \, control characters); '/', '<',
 * '>', '&', U+2028 and U+2029 are written as they are.
 *
 * Numbers: doubles use the shortest round-trip digits (found by trying
 * printf precisions and reading back with strtod) laid out the way
 * JavaScript and Prometheus' API do. This assumes the "C" locale for
 * LC_NUMERIC, which Kiln never changes.
 *
 * Ownership: the writer appends to a struct buf it does not own.
 */
#include "base/jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

enum { KIND_OBJECT = 1, KIND_ARRAY = 2 };

static void fail(struct jsonw *w, enum kb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct jsonw *w, enum kb_status st, const char *fmt, ...)
{
    if (w->st != KB_OK)
        return;
    w->st = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
    va_end(ap);
}

static void put(struct jsonw *w, const void *p, size_t n)
{
    if (w->st != KB_OK)
        return;
    if (buf_append(w->out, p, n) != KB_OK)
        fail(w, KB_ERR_LIMIT, "output larger than %zu bytes", w->out->limit);
}

static void putc_(struct jsonw *w, char c)
{
    put(w, &c, 1);
}

void jsonw_init(struct jsonw *w, struct buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->st = KB_OK;
}

/* Get ready to write a value: check the grammar, write a comma if needed.
 * Returns false (and writes nothing) when the value must not be written. */
static bool before_value(struct jsonw *w)
{
    if (w->st != KB_OK)
        return false;
    if (w->depth == 0) {
        if (w->done) {
            fail(w, KB_ERR_INTERNAL, "a second top-level value");
            return false;
        }
        return true;
    }
    int d = w->depth - 1;
    if (w->kind[d] == KIND_OBJECT) {
        if (!w->want_value) {
            fail(w, KB_ERR_INTERNAL, "a value in an object without a key");
            return false;
        }
        w->want_value = false;
        return true;
    }
    if (w->nonempty[d])
        putc_(w, ',');
    w->nonempty[d] = true;
    return w->st == KB_OK;
}

static void after_value(struct jsonw *w)
{
    if (w->depth == 0)
        w->done = true;
}

static void begin(struct jsonw *w, uint8_t kind, char c)
{
    if (!before_value(w))
        return;
    if (w->depth >= JSONW_MAX_DEPTH) {
        fail(w, KB_ERR_LIMIT, "nesting deeper than %d", JSONW_MAX_DEPTH);
        return;
    }
    putc_(w, c);
    w->kind[w->depth] = kind;
    w->nonempty[w->depth] = false;
    w->depth++;
}

static void end(struct jsonw *w, uint8_t kind, char c)
{
    if (w->st != KB_OK)
        return;
    if (w->depth == 0 || w->kind[w->depth - 1] != kind) {
        fail(w, KB_ERR_INTERNAL, "%s end without a matching begin",
             kind == KIND_OBJECT ? "object" : "array");
        return;
    }
    if (w->want_value) {
        fail(w, KB_ERR_INTERNAL, "object ends after a key without a value");
        return;
    }
    putc_(w, c);
    w->depth--;
    after_value(w);
}

void jsonw_object_begin(struct jsonw *w)
{
    begin(w, KIND_OBJECT, '{');
}

void jsonw_object_end(struct jsonw *w)
{
    end(w, KIND_OBJECT, '}');
}

void jsonw_array_begin(struct jsonw *w)
{
    begin(w, KIND_ARRAY, '[');
}

void jsonw_array_end(struct jsonw *w)
{
    end(w, KIND_ARRAY, ']');
}

/* A quoted, escaped string. */
static void put_string(struct jsonw *w, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    putc_(w, '"');
    size_t run = 0; /* start of the bytes not yet written */
    for (size_t i = 0; i < n && w->st == KB_OK;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t k = 1;
        if (c >= 0x80) {
            k = kb_utf8_seq(s + i, n - i, NULL);
            if (k > 0) {
                i += k;
                continue;
            }
        }
        put(w, s + run, i - run);
        char esc[8];
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\b':
            put(w, "\\b", 2);
            break;
        case '\f':
            put(w, "\\f", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                put(w, esc, 6);
            } else {
                put(w, "\xEF\xBF\xBD", 3); /* U+FFFD */
            }
        }
        i++;
        run = i;
    }
    put(w, s + run, n - run);
    putc_(w, '"');
}

void jsonw_keyn(struct jsonw *w, const char *key, size_t n)
{
    if (w->st != KB_OK)
        return;
    int d = w->depth - 1;
    if (d < 0 || w->kind[d] != KIND_OBJECT) {
        fail(w, KB_ERR_INTERNAL, "a key outside an object");
        return;
    }
    if (w->want_value) {
        fail(w, KB_ERR_INTERNAL, "a key right after a key");
        return;
    }
    if (w->nonempty[d])
        putc_(w, ',');
    w->nonempty[d] = true;
    put_string(w, key, n);
    putc_(w, ':');
    w->want_value = true;
}

void jsonw_key(struct jsonw *w, const char *key)
{
    jsonw_keyn(w, key, strlen(key));
}

void jsonw_stringn(struct jsonw *w, const char *s, size_t n)
{
    if (!before_value(w))
        return;
    put_string(w, s, n);
    after_value(w);
}

void jsonw_string(struct jsonw *w, const char *s)
{
    jsonw_stringn(w, s, strlen(s));
}

/* A value written as it is (a number or a literal). */
static void put_raw_value(struct jsonw *w, const char *s)
{
    if (!before_value(w))
        return;
    put(w, s, strlen(s));
    after_value(w);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    put_raw_value(w, tmp);
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
    put_raw_value(w, tmp);
}

void jsonw_double(struct jsonw *w, double v)
{
    char tmp[JSONW_DOUBLE_STR_MAX];
    put_raw_value(w, isfinite(v) ? jsonw_fmt_double(v, tmp) : "null");
}

void jsonw_double_string(struct jsonw *w, double v)
{
    char tmp[JSONW_DOUBLE_STR_MAX];
    jsonw_fmt_double(v, tmp);
    jsonw_stringn(w, tmp, strlen(tmp));
}

void jsonw_bool(struct jsonw *w, bool v)
{
    put_raw_value(w, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w)
{
    put_raw_value(w, "null");
}

enum kb_status jsonw_finish(struct jsonw *w, struct kb_err *err)
{
    if (w->st == KB_OK && w->depth > 0)
        fail(w, KB_ERR_INTERNAL, "%d container%s left open", w->depth,
             w->depth > 1 ? "s" : "");
    if (w->st == KB_OK && !w->done)
        fail(w, KB_ERR_INTERNAL, "no value written");
    if (w->st != KB_OK)
        return kb_errf(err, w->st, "json: %s", w->msg);
    return KB_OK;
}

char *jsonw_fmt_double(double v, char out[JSONW_DOUBLE_STR_MAX])
{
    if (isnan(v))
        return strcpy(out, "NaN");
    if (isinf(v))
        return strcpy(out, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return strcpy(out, signbit(v) ? "-0" : "0");
    /* The shortest %e precision that reads back exactly; 16 always does. */
    char tmp[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is [-]d[.ddd]e[+-]xx: take the digits and the exponent. */
    char digits[20];
    int nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd < (int)sizeof(digits))
            digits[nd++] = *p;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    double a = fabs(v);
    if (a >= 1e-6 && a < 1e21) {
        if (exp10 >= 0) {
            for (int i = 0; i < nd || i <= exp10; i++) {
                if (i == exp10 + 1)
                    out[o++] = '.';
                out[o++] = i < nd ? digits[i] : '0';
            }
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                out[o++] = '0';
            for (int i = 0; i < nd; i++)
                out[o++] = digits[i];
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        snprintf(out + o, JSONW_DOUBLE_STR_MAX - o, "e%c%02d",
                 exp10 < 0 ? '-' : '+', abs(exp10));
    }
    return out;
}
