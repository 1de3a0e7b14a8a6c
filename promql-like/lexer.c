/* promql-like/lexer.c: the lexer of Kiln's query language.
 *
 * What. Turns query text into the tokens of lexer.h, one per call, with
 * their byte positions; the parser (parser.c) pulls them.
 *
 * Design. The lexical grammar is Prometheus 2.x's:
 *  - Whitespace (space, tab, CR, LF) separates tokens; '#' starts a comment
 *    that runs to the end of the line.
 *  - Words are [a-zA-Z_][a-zA-Z0-9_:]*, and may also start with ':'.
 *    ':' is part of a word only outside brackets and braces (inside [],
 *    it separates a subquery's range and step). Outside braces a word that
 *    is a keyword (case-insensitively) is a keyword token, and Inf or NaN
 *    (any case) is a number; inside braces every word is an identifier, so
 *    `{by="x"}` names the label "by".
 *  - A digit or '.' starts a number or a duration. A duration is a run of
 *    <digits><unit> with units y w d h m s ms, largest first, each at most
 *    once, and greater than 0 (as in Prometheus 2.x, so no range, step or
 *    offset is ever 0 when written); a number is hex (0x1f) or decimal with an
 * optional fraction and exponent (1, 1.5, .5, 5., 1e3, 1.5E-3). Either must not
 * be followed by a letter, digit or '_' ("bad number or duration syntax").
 *  - Strings are "..." or '...' with Go's escapes (\a \b \f \n \r \t \v \\
 *    the string's own quote, \x hex, three-digit octal, \u, \U), or `...`
 *    raw (no escapes, newlines allowed). A quoted string may not span
 *    lines. Decoded strings must be valid UTF-8 without NUL bytes (label
 *    values are C strings throughout Kiln) and at most max_string bytes.
 * Errors name the byte where the problem starts, as "<line>:<col>: ...".
 *
 * Invariants: tokens never overlap and positions grow; brackets and braces
 * never go below 0 (a stray ']' is left for the parser to reject).
 *
 * Ownership: decoded strings are allocated in the caller's arena; the
 * lexer itself allocates nothing else.
 */
#include "promql-like/lexer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/text.h"
#include "promql-like/ast.h"

static const struct {
    const char *word;
    enum pql_kw kw;
} keywords[] = {
    {"and", PQL_KW_AND},
    {"or", PQL_KW_OR},
    {"unless", PQL_KW_UNLESS},
    {"atan2", PQL_KW_ATAN2},
    {"by", PQL_KW_BY},
    {"without", PQL_KW_WITHOUT},
    {"on", PQL_KW_ON},
    {"ignoring", PQL_KW_IGNORING},
    {"group_left", PQL_KW_GROUP_LEFT},
    {"group_right", PQL_KW_GROUP_RIGHT},
    {"bool", PQL_KW_BOOL},
    {"offset", PQL_KW_OFFSET},
    {"sum", PQL_KW_SUM},
    {"avg", PQL_KW_AVG},
    {"min", PQL_KW_MIN},
    {"max", PQL_KW_MAX},
    {"count", PQL_KW_COUNT},
    {"group", PQL_KW_GROUP},
    {"stddev", PQL_KW_STDDEV},
    {"stdvar", PQL_KW_STDVAR},
    {"topk", PQL_KW_TOPK},
    {"bottomk", PQL_KW_BOTTOMK},
    {"quantile", PQL_KW_QUANTILE},
    {"count_values", PQL_KW_COUNT_VALUES},
};

void pql_lexer_init(struct pql_lexer *lx, const char *text, size_t len,
                    size_t max_string, struct arena *arena)
{
    memset(lx, 0, sizeof(*lx));
    lx->text = text;
    lx->len = len;
    lx->max_string = max_string;
    lx->arena = arena;
}

enum kb_status pql_verrat(struct kb_err *err, enum kb_status st,
                          const char *text, size_t len, size_t pos,
                          const char *fmt, va_list ap)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[KB_ERR_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    return kb_errf(err, st, "%zu:%zu: %s", line, col, msg);
}

enum kb_status pql_errat(struct kb_err *err, enum kb_status st,
                         const char *text, size_t len, size_t pos,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum kb_status ret = pql_verrat(err, st, text, len, pos, fmt, ap);
    va_end(ap);
    return ret;
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_val(int c)
{
    if (is_digit(c))
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* Units of a duration, largest first (the order they must be written in).
 * "ms" comes before "m" in matching; its rank is still the smallest. */
static const struct {
    const char *unit;
    int64_t ms;
    int rank;
} units[] = {
    {"y", INT64_C(365) * 24 * 3600 * 1000, 0},
    {"w", INT64_C(7) * 24 * 3600 * 1000, 1},
    {"d", INT64_C(24) * 3600 * 1000, 2},
    {"h", INT64_C(3600) * 1000, 3},
    {"ms", 1, 6},
    {"m", INT64_C(60) * 1000, 4},
    {"s", 1000, 5},
};

/* The unit at s[0..n), or -1. */
static int unit_at(const char *s, size_t n, size_t *ulen)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t l = strlen(units[i].unit);
        if (l <= n && memcmp(s, units[i].unit, l) == 0) {
            *ulen = l;
            return (int)i;
        }
    }
    return -1;
}

/* The longest prefix of s[0..n) that is a run of <digits><unit>; 0 if
 * none. *ms is its value, *ok false when the units are out of order or
 * repeated, or the value exceeds PQL_TIME_MAX_MS. */
static size_t scan_duration(const char *s, size_t n, int64_t *ms, bool *ok)
{
    size_t i = 0;
    int last_rank = -1;
    int64_t total = 0;
    *ok = true;
    for (;;) {
        size_t j = i;
        int64_t v = 0;
        bool big = false;
        while (j < n && is_digit(s[j])) {
            if (v > PQL_TIME_MAX_MS)
                big = true;
            else
                v = v * 10 + (s[j] - '0');
            j++;
        }
        size_t ulen = 0;
        int u = j > i ? unit_at(s + j, n - j, &ulen) : -1;
        if (u < 0)
            break;
        /* While *ok, total <= PQL_TIME_MAX_MS, so the sum cannot
         * overflow; once not, nothing is added. */
        if (*ok && units[u].rank > last_rank && !big &&
            v <= PQL_TIME_MAX_MS / units[u].ms &&
            total + v * units[u].ms <= PQL_TIME_MAX_MS)
            total += v * units[u].ms;
        else
            *ok = false;
        last_rank = units[u].rank;
        i = j + ulen;
    }
    *ms = total;
    return i;
}

static enum kb_status lex_number(struct pql_lexer *lx, struct pql_token *tok,
                                 struct kb_err *err)
{
    const char *s = lx->text + lx->pos;
    size_t n = lx->len - lx->pos;
    char ex[KB_EXCERPT_MAX];
    bool ok;
    int64_t ms;
    size_t i = scan_duration(s, n, &ms, &ok);
    if (i > 0 && !(i < n && is_alnum(s[i]))) {
        if (!ok)
            return pql_errat(err, KB_ERR_INVALID, lx->text, lx->len, lx->pos,
                             "not a valid duration: \"%s\"",
                             kb_excerpt(ex, sizeof(ex), s, i));
        if (ms == 0)
            return pql_errat(err, KB_ERR_INVALID, lx->text, lx->len, lx->pos,
                             "duration must be greater than 0");
        tok->type = PQL_T_DURATION;
        tok->ms = ms;
        tok->len = (uint32_t)i;
        lx->pos += i;
        return KB_OK;
    }
    i = 0;
    if (n >= 3 && s[0] == '0' && (s[1] | 0x20) == 'x' && is_hex(s[2])) {
        for (i = 2; i < n && is_hex(s[i]); i++)
            ;
    } else {
        size_t digits = 0;
        for (; i < n && is_digit(s[i]); i++)
            digits++;
        if (i < n && s[i] == '.')
            for (i++; i < n && is_digit(s[i]); i++)
                digits++;
        if (digits > 0 && i < n && (s[i] | 0x20) == 'e') {
            size_t j = i + 1;
            if (j < n && (s[j] == '+' || s[j] == '-'))
                j++;
            if (j < n && is_digit(s[j])) {
                for (i = j; i < n && is_digit(s[i]); i++)
                    ;
            }
        }
        if (digits == 0)
            return pql_errat(err, KB_ERR_INVALID, lx->text, lx->len, lx->pos,
                             "unexpected character \".\"");
    }
    size_t end = i;
    while (end < n && (is_alnum(s[end]) || s[end] == '.'))
        end++;
    if (end != i)
        return pql_errat(err, KB_ERR_INVALID, lx->text, lx->len, lx->pos,
                         "bad number or duration syntax: \"%s\"",
                         kb_excerpt(ex, sizeof(ex), s, end));
    char *tmp = arena_strndup(lx->arena, s, i);
    double v = strtod(tmp, NULL);
    if (isinf(v))
        return pql_errat(err, KB_ERR_INVALID, lx->text, lx->len, lx->pos,
                         "number out of range: \"%s\"",
                         kb_excerpt(ex, sizeof(ex), s, i));
    tok->type = PQL_T_NUMBER;
    tok->num = v;
    tok->len = (uint32_t)i;
    lx->pos += i;
    return KB_OK;
}

/* Append code point `cp` (valid, not a surrogate) as UTF-8. */
static enum kb_status put_utf8(struct buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return buf_append(b, u, n);
}

/* The escape at s[i] (just after the backslash) of a string quoted with
 * `quote`, appended to `b`; *used is its length. Returns false for an
 * unknown or malformed escape. */
static bool lex_escape(const char *s, size_t n, size_t i, char quote,
                       struct buf *b, size_t *used, enum kb_status *st)
{
    static const char simple[] = "abfnrtv\\";
    static const char value[] = "\a\b\f\n\r\t\v\\";
    *st = KB_OK;
    if (i >= n)
        return false;
    char c = s[i];
    const char *p = strchr(simple, c);
    if (c != '\0' && p != NULL) {
        *used = 1;
        *st = buf_putc(b, value[p - simple]);
        return true;
    }
    if (c == quote) {
        *used = 1;
        *st = buf_putc(b, c);
        return true;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits > 0) {
        uint32_t v = 0;
        for (int k = 1; k <= digits; k++) {
            if (i + (size_t)k >= n || !is_hex(s[i + k]))
                return false;
            v = v * 16 + (uint32_t)hex_val(s[i + k]);
        }
        *used = 1 + (size_t)digits;
        if (c == 'x') {
            *st = buf_putc(b, (char)v);
            return true;
        }
        if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
            return false;
        *st = put_utf8(b, v);
        return true;
    }
    if (c >= '0' && c <= '7') {
        uint32_t v = 0;
        for (int k = 0; k < 3; k++) {
            if (i + (size_t)k >= n || s[i + k] < '0' || s[i + k] > '7')
                return false;
            v = v * 8 + (uint32_t)(s[i + k] - '0');
        }
        if (v > 255)
            return false;
        *used = 3;
        *st = buf_putc(b, (char)v);
        return true;
    }
    return false;
}

static enum kb_status lex_string(struct pql_lexer *lx, struct pql_token *tok,
                                 struct kb_err *err)
{
    const char *s = lx->text;
    size_t n = lx->len;
    size_t start = lx->pos;
    char quote = s[start];
    struct buf b;
    enum kb_status st;
    buf_init(&b, lx->max_string);
    size_t i = start + 1;
    for (;;) {
        if (i >= n || (quote != '`' && s[i] == '\n')) {
            st = pql_errat(err, KB_ERR_INVALID, s, n, start,
                           quote == '`' ? "unterminated raw string"
                                        : "unterminated quoted string");
            goto fail;
        }
        if (s[i] == quote)
            break;
        if (s[i] == '\\' && quote != '`') {
            size_t used = 0;
            if (!lex_escape(s, n, i + 1, quote, &b, &used, &st)) {
                char ex[KB_EXCERPT_MAX];
                size_t l = i + 2 <= n ? 2 : 1;
                st = pql_errat(err, KB_ERR_INVALID, s, n, i,
                               "unknown escape sequence \"%s\"",
                               kb_excerpt(ex, sizeof(ex), s + i, l));
                goto fail;
            }
            if (st != KB_OK)
                goto limit;
            i += 1 + used;
            continue;
        }
        if ((st = buf_putc(&b, s[i])) != KB_OK)
            goto limit;
        i++;
    }
    if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
        st = pql_errat(err, KB_ERR_INVALID, s, n, start,
                       "string contains a NUL byte");
        goto fail;
    }
    if (!kb_utf8_valid(buf_cstr(&b), b.len)) {
        st = pql_errat(err, KB_ERR_INVALID, s, n, start,
                       "invalid UTF-8 in string");
        goto fail;
    }
    tok->type = PQL_T_STRING;
    tok->str = arena_strndup(lx->arena, buf_cstr(&b), b.len);
    tok->len = (uint32_t)(i + 1 - start);
    lx->pos = i + 1;
    buf_free(&b);
    return KB_OK;
limit:
    st = pql_errat(err, KB_ERR_LIMIT, s, n, start,
                   "string longer than %zu bytes", lx->max_string);
fail:
    buf_free(&b);
    return st;
}

static void lex_word(struct pql_lexer *lx, struct pql_token *tok)
{
    const char *s = lx->text + lx->pos;
    size_t n = lx->len - lx->pos;
    bool colon = lx->brackets == 0 && lx->braces == 0;
    size_t i = 0;
    while (i < n && (is_alnum(s[i]) || (colon && s[i] == ':')))
        i++;
    tok->type = PQL_T_IDENT;
    tok->len = (uint32_t)i;
    lx->pos += i;
    if (lx->braces > 0)
        return;
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (strlen(keywords[k].word) == i &&
            strncasecmp(keywords[k].word, s, i) == 0) {
            tok->type = PQL_T_KEYWORD;
            tok->kw = keywords[k].kw;
            return;
        }
    }
    if (i == 3 && strncasecmp(s, "inf", 3) == 0) {
        tok->type = PQL_T_NUMBER;
        tok->num = INFINITY;
    } else if (i == 3 && strncasecmp(s, "nan", 3) == 0) {
        tok->type = PQL_T_NUMBER;
        tok->num = NAN;
    }
}

/* Operators and punctuation, longest first. */
static const struct {
    const char *text;
    enum pql_tok type;
} puncts[] = {
    {"==", PQL_T_EQLC},  {"!=", PQL_T_NEQ},       {">=", PQL_T_GTE},
    {"<=", PQL_T_LTE},   {"=~", PQL_T_EQL_REGEX}, {"!~", PQL_T_NEQ_REGEX},
    {"(", PQL_T_LPAREN}, {")", PQL_T_RPAREN},     {"{", PQL_T_LBRACE},
    {"}", PQL_T_RBRACE}, {"[", PQL_T_LBRACKET},   {"]", PQL_T_RBRACKET},
    {",", PQL_T_COMMA},  {"@", PQL_T_AT},         {"+", PQL_T_ADD},
    {"-", PQL_T_SUB},    {"*", PQL_T_MUL},        {"/", PQL_T_DIV},
    {"%", PQL_T_MOD},    {"^", PQL_T_POW},        {">", PQL_T_GTR},
    {"<", PQL_T_LSS},    {"=", PQL_T_ASSIGN},
};

enum kb_status pql_lex(struct pql_lexer *lx, struct pql_token *tok,
                       struct kb_err *err)
{
    const char *s = lx->text;
    size_t n = lx->len;
    for (;;) {
        while (lx->pos < n && strchr(" \t\r\n", s[lx->pos]) != NULL &&
               s[lx->pos] != '\0')
            lx->pos++;
        if (lx->pos < n && s[lx->pos] == '#') {
            while (lx->pos < n && s[lx->pos] != '\n')
                lx->pos++;
            continue;
        }
        break;
    }
    memset(tok, 0, sizeof(*tok));
    tok->pos = (uint32_t)lx->pos;
    if (lx->pos >= n) {
        tok->type = PQL_T_EOF;
        return KB_OK;
    }
    char c = s[lx->pos];
    if (is_digit(c) || c == '.')
        return lex_number(lx, tok, err);
    if (c == '"' || c == '\'' || c == '`')
        return lex_string(lx, tok, err);
    if (is_alpha(c) || (c == ':' && lx->brackets == 0 && lx->braces == 0)) {
        lex_word(lx, tok);
        return KB_OK;
    }
    if (c == ':') {
        tok->type = PQL_T_COLON;
        tok->len = 1;
        lx->pos++;
        return KB_OK;
    }
    for (size_t k = 0; k < sizeof(puncts) / sizeof(puncts[0]); k++) {
        size_t l = strlen(puncts[k].text);
        if (l <= n - lx->pos && memcmp(s + lx->pos, puncts[k].text, l) == 0) {
            tok->type = puncts[k].type;
            tok->len = (uint32_t)l;
            lx->pos += l;
            if (tok->type == PQL_T_LBRACKET)
                lx->brackets++;
            else if (tok->type == PQL_T_RBRACKET && lx->brackets > 0)
                lx->brackets--;
            else if (tok->type == PQL_T_LBRACE)
                lx->braces++;
            else if (tok->type == PQL_T_RBRACE && lx->braces > 0)
                lx->braces--;
            return KB_OK;
        }
    }
    char ex[KB_EXCERPT_MAX];
    size_t l = kb_utf8_seq((const uint8_t *)s + lx->pos, n - lx->pos, NULL);
    return pql_errat(err, KB_ERR_INVALID, s, n, lx->pos,
                     "unexpected character \"%s\"",
                     kb_excerpt(ex, sizeof(ex), s + lx->pos, l ? l : 1));
}

bool pql_token_is_label(const struct pql_lexer *lx, const struct pql_token *tok)
{
    const char *s = lx->text + tok->pos;
    if (tok->type == PQL_T_IDENT)
        return memchr(s, ':', tok->len) == NULL;
    if (tok->type == PQL_T_KEYWORD)
        return true;
    return tok->type == PQL_T_NUMBER && is_alpha(s[0]);
}

void pql_token_describe(const struct pql_lexer *lx, const struct pql_token *tok,
                        char *out, size_t size)
{
    char ex[KB_EXCERPT_MAX];
    const char *s = lx->text + tok->pos;
    const char *what = NULL;
    switch (tok->type) {
    case PQL_T_EOF:
        snprintf(out, size, "end of input");
        return;
    case PQL_T_IDENT:
        what = "identifier ";
        break;
    case PQL_T_NUMBER:
        what = "number ";
        break;
    case PQL_T_DURATION:
        what = "duration ";
        break;
    case PQL_T_STRING:
        what = "string ";
        s++;
        snprintf(out, size, "%s\"%s\"", what,
                 kb_excerpt(ex, sizeof(ex), s, tok->len - 2));
        return;
    default:
        what = "";
        break;
    }
    snprintf(out, size, "%s\"%s\"", what,
             kb_excerpt(ex, sizeof(ex), s, tok->len));
}
