/* tsdb/selector.c: parsing series selectors into label matchers.
 *
 * Design. A selector is PromQL's: an optional metric name, then optional
 * braces with matchers,
 *
 *     cpu{job="api", instance=~"10\\.0\\..*"}    {__name__="x"}    cpu
 *
 * A bare name becomes __name__="name", after expanding the short aliases of
 * DESIGN.md section 2 (cpu -> process_cpu:cpu:nanoseconds:cpu:nanoseconds;
 * tsdb_type_alias in typeid.c). Strings are double- or single-quoted with
 * the escapes \\ \" \' \n \t. A hand-written scanner keeps the errors
 * precise: every error is "1:COL: what was expected". The text is limited to
 * 64 KiB and 64 matchers; a selector that matches everything ({}) is refused
 * as PromQL refuses it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "tsdb/tsdb.h"

#define SELECTOR_MAX_TEXT (64 * 1024)
#define SELECTOR_MAX_MATCHERS 64

struct scanner {
    const char *s;
    size_t pos, len;
    struct kb_err *err;
};

static void skip_space(struct scanner *sc)
{
    while (sc->pos < sc->len && strchr(" \t\r\n", sc->s[sc->pos]) &&
           sc->s[sc->pos] != '\0')
        sc->pos++;
}

static enum kb_status expected(struct scanner *sc, const char *what)
{
    if (sc->pos >= sc->len)
        return kb_errf(sc->err, KB_ERR_INVALID, "1:%zu: expected %s, got end",
                       sc->pos + 1, what);
    return kb_errf(sc->err, KB_ERR_INVALID, "1:%zu: expected %s, got '%c'",
                   sc->pos + 1, what, sc->s[sc->pos]);
}

static bool is_name_char(char c, bool first, bool colon_ok)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (c == ':' && colon_ok)
        return true;
    return !first && c >= '0' && c <= '9';
}

/* A name at the current position into `out` (a C string); false if none. */
static bool scan_name(struct scanner *sc, bool colon_ok, struct buf *out)
{
    size_t start = sc->pos;
    while (sc->pos < sc->len &&
           is_name_char(sc->s[sc->pos], sc->pos == start, colon_ok))
        sc->pos++;
    buf_reset(out);
    buf_append(out, sc->s + start, sc->pos - start);
    return sc->pos > start;
}

static enum kb_status scan_string(struct scanner *sc, struct buf *out)
{
    buf_reset(out);
    if (sc->pos >= sc->len || (sc->s[sc->pos] != '"' && sc->s[sc->pos] != '\''))
        return expected(sc, "a quoted string");
    char quote = sc->s[sc->pos++];
    while (sc->pos < sc->len && sc->s[sc->pos] != quote) {
        char c = sc->s[sc->pos++];
        if (c == '\n' || c == '\0')
            return kb_errf(sc->err, KB_ERR_INVALID,
                           "1:%zu: unterminated string", sc->pos);
        if (c == '\\') {
            if (sc->pos >= sc->len)
                break;
            char e = sc->s[sc->pos++];
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case '\\':
            case '"':
            case '\'':
                c = e;
                break;
            default:
                /* Regexes are written with escapes like \d and \.: keep
                 * them for the regex engine, as PromQL does in raw form. */
                buf_putc(out, '\\');
                c = e;
            }
        }
        buf_putc(out, c);
    }
    if (sc->pos >= sc->len)
        return kb_errf(sc->err, KB_ERR_INVALID, "1:%zu: unterminated string",
                       sc->pos + 1);
    sc->pos++;
    return KB_OK;
}

static enum kb_status scan_op(struct scanner *sc, enum tsdb_match_type *type)
{
    const char *p = sc->s + sc->pos;
    size_t left = sc->len - sc->pos;
    if (left >= 2 && p[0] == '=' && p[1] == '~')
        *type = TSDB_MATCH_RE, sc->pos += 2;
    else if (left >= 2 && p[0] == '!' && p[1] == '=')
        *type = TSDB_MATCH_NEQ, sc->pos += 2;
    else if (left >= 2 && p[0] == '!' && p[1] == '~')
        *type = TSDB_MATCH_NRE, sc->pos += 2;
    else if (left >= 1 && p[0] == '=')
        *type = TSDB_MATCH_EQ, sc->pos += 1;
    else
        return expected(sc, "one of = != =~ !~");
    return KB_OK;
}

static enum kb_status add_matcher(struct tsdb_matcher **ms, size_t *n,
                                  size_t *cap, enum tsdb_match_type type,
                                  const char *name, const char *value,
                                  struct scanner *sc)
{
    if (*n >= SELECTOR_MAX_MATCHERS)
        return kb_errf(sc->err, KB_ERR_LIMIT, "more than %d matchers",
                       SELECTOR_MAX_MATCHERS);
    *ms = kb_grow(*ms, cap, *n + 1, sizeof(**ms));
    enum kb_status st =
        tsdb_matcher_init(&(*ms)[*n], type, name, value, sc->err);
    if (st == KB_OK)
        (*n)++;
    return st;
}

static enum kb_status parse_braces(struct scanner *sc, struct tsdb_matcher **ms,
                                   size_t *n, size_t *cap)
{
    struct buf name, value;
    buf_init(&name, BUF_NO_LIMIT);
    buf_init(&value, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    sc->pos++; /* '{' */
    for (;;) {
        skip_space(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == '}')
            break;
        if (!scan_name(sc, false, &name)) {
            st = expected(sc, "a label name or '}'");
            break;
        }
        skip_space(sc);
        enum tsdb_match_type type = TSDB_MATCH_EQ;
        if ((st = scan_op(sc, &type)))
            break;
        skip_space(sc);
        if ((st = scan_string(sc, &value)))
            break;
        if ((st = add_matcher(ms, n, cap, type, buf_cstr(&name),
                              buf_cstr(&value), sc)))
            break;
        skip_space(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
            sc->pos++;
            continue;
        }
        if (sc->pos < sc->len && sc->s[sc->pos] == '}')
            break;
        st = expected(sc, "',' or '}'");
        break;
    }
    if (st == KB_OK)
        sc->pos++; /* '}' */
    buf_free(&name);
    buf_free(&value);
    return st;
}

enum kb_status tsdb_matchers_parse(const char *text, struct tsdb_matcher **out,
                                   size_t *n_out, struct kb_err *err)
{
    struct scanner sc = {.s = text, .len = strlen(text), .err = err};
    struct tsdb_matcher *ms = NULL;
    size_t n = 0, cap = 0;
    enum kb_status st = KB_OK;
    struct buf name;
    buf_init(&name, BUF_NO_LIMIT);
    *out = NULL;
    *n_out = 0;
    if (sc.len > SELECTOR_MAX_TEXT)
        return kb_errf(err, KB_ERR_LIMIT, "selector longer than %d bytes",
                       SELECTOR_MAX_TEXT);
    skip_space(&sc);
    if (scan_name(&sc, true, &name)) {
        const char *full = tsdb_type_alias(buf_cstr(&name));
        if ((st = add_matcher(&ms, &n, &cap, TSDB_MATCH_EQ, "__name__",
                              full ? full : buf_cstr(&name), &sc)))
            goto fail;
    }
    skip_space(&sc);
    if (sc.pos < sc.len && sc.s[sc.pos] == '{' &&
        (st = parse_braces(&sc, &ms, &n, &cap)))
        goto fail;
    skip_space(&sc);
    if (sc.pos < sc.len) {
        st = expected(&sc, n ? "end of selector" : "a name or '{'");
        goto fail;
    }
    if (n == 0) {
        st = kb_errf(err, KB_ERR_INVALID,
                     "selector must contain at least one matcher");
        goto fail;
    }
    buf_free(&name);
    *out = ms;
    *n_out = n;
    return KB_OK;
fail:
    buf_free(&name);
    tsdb_matchers_free(ms, n);
    return st;
}
