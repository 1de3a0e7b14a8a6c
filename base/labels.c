/* base/labels.c: label sets.
 *
 * What. A label set identifies a series: {__name__="process_cpu:...",
 * job="api", instance="10.0.0.1:6060"}. Every layer passes them around
 * (scraper, tsdb index, query engine, rules, HTTP API), so they are
 * immutable, self-contained and cheap to compare and hash.
 *
 * Design. A struct labels is one allocation: a header with the count, the
 * array of struct label, then every name and value, NUL-terminated, packed
 * behind it. Freeing is one free(); copying is one pass. Labels are sorted
 * by name (bytewise), which makes equality, ordering and lookup (binary
 * search) simple and makes the hash independent of insertion order.
 *
 * Sets are only made by the builder (directly, or via labels_parse and
 * labels_from_strings), which validates every label as it is added and
 * sorts and checks for duplicates at the end. As in Prometheus, an empty
 * value means "no such label": set(name, "") deletes, and empty values are
 * dropped from finished sets.
 *
 * Invariants of a struct labels: n <= LABELS_MAX; names valid and strictly
 * increasing; values non-empty, valid UTF-8, at most LABEL_VALUE_MAX bytes;
 * every string NUL-terminated inside the same allocation.
 *
 * Ownership: a set owns its strings; the builder owns copies of everything
 * added to it; labels_at/labels_get pointers live as long as the set.
 *
 * The text form is the one Prometheus prints for a label set, without the
 * space after commas: {a="b",c="d"}. The parser also takes whitespace and
 * a trailing comma, so hand-written sets (tests, kilnctl) read naturally.
 */
#include "base/labels.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hmap.h"
#include "base/text.h"

struct labels {
    size_t n;
    struct label items[]; /* then the strings */
};

/* ------------------------------------------------------------------ sets */

/* A set holding copies of src[0..n), in that order (the caller sorted and
 * checked them). */
static struct labels *make(const struct label *src, size_t n)
{
    size_t size = sizeof(struct labels) + n * sizeof(struct label);
    for (size_t i = 0; i < n; i++)
        size += src[i].name_len + src[i].value_len + 2;
    struct labels *ls = kb_malloc(size);
    ls->n = n;
    char *p = (char *)&ls->items[n];
    for (size_t i = 0; i < n; i++) {
        struct label *d = &ls->items[i];
        d->name = p;
        d->name_len = src[i].name_len;
        memcpy(p, src[i].name, d->name_len);
        p += d->name_len;
        *p++ = '\0';
        d->value = p;
        d->value_len = src[i].value_len;
        memcpy(p, src[i].value, d->value_len);
        p += d->value_len;
        *p++ = '\0';
    }
    return ls;
}

void labels_free(struct labels *ls)
{
    free(ls);
}

struct labels *labels_new_empty(void)
{
    return make(NULL, 0);
}

struct labels *labels_dup(const struct labels *ls)
{
    return ls ? make(ls->items, ls->n) : make(NULL, 0);
}

size_t labels_count(const struct labels *ls)
{
    return ls->n;
}

const struct label *labels_at(const struct labels *ls, size_t i)
{
    return &ls->items[i];
}

const char *labels_get(const struct labels *ls, const char *name)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ls->items[mid].name, name);
        if (c == 0)
            return ls->items[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Bytewise comparison of two strings with lengths. */
static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

int labels_compare(const struct labels *a, const struct labels *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        const struct label *x = &a->items[i], *y = &b->items[i];
        int c = bytes_cmp(x->name, x->name_len, y->name, y->name_len);
        if (c)
            return c;
        c = bytes_cmp(x->value, x->value_len, y->value, y->value_len);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct label *x = &a->items[i], *y = &b->items[i];
        if (x->name_len != y->name_len || x->value_len != y->value_len ||
            memcmp(x->name, y->name, x->name_len) ||
            memcmp(x->value, y->value, x->value_len))
            return false;
    }
    return true;
}

uint64_t labels_hash(const struct labels *ls)
{
    uint64_t h = 0;
    for (size_t i = 0; i < ls->n; i++) {
        h = kb_hash(ls->items[i].name, ls->items[i].name_len, h);
        h = kb_hash(ls->items[i].value, ls->items[i].value_len, h);
    }
    return h;
}

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

bool labels_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > LABEL_NAME_MAX || !name_start(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------- text out */

enum kb_status labels_format(const struct labels *ls, struct buf *out)
{
    enum kb_status st = buf_putc(out, '{');
    for (size_t i = 0; st == KB_OK && i < ls->n; i++) {
        const struct label *l = &ls->items[i];
        if (i)
            st = buf_putc(out, ',');
        if (st == KB_OK)
            st = buf_append(out, l->name, l->name_len);
        if (st == KB_OK)
            st = buf_append(out, "=\"", 2);
        /* Copy runs of ordinary bytes at once, escape the rest. */
        size_t run = 0;
        for (size_t j = 0; st == KB_OK && j <= l->value_len; j++) {
            char c = j < l->value_len ? l->value[j] : '\0';
            const char *esc = c == '\\'   ? "\\\\"
                              : c == '"'  ? "\\\""
                              : c == '\n' ? "\\n"
                                          : NULL;
            if (esc == NULL && j < l->value_len)
                continue;
            st = buf_append(out, l->value + run, j - run);
            if (st == KB_OK && esc)
                st = buf_append(out, esc, 2);
            run = j + 1;
        }
        if (st == KB_OK)
            st = buf_putc(out, '"');
    }
    if (st == KB_OK)
        st = buf_putc(out, '}');
    return st;
}

/* -------------------------------------------------------------- builder */

struct lb_item {
    char *name;
    char *value;
    size_t name_len;
    size_t value_len;
};

struct labels_builder {
    struct lb_item *items;
    size_t n, cap;
};

struct labels_builder *labels_builder_new(void)
{
    return kb_calloc(1, sizeof(struct labels_builder));
}

static void item_free(struct lb_item *it)
{
    free(it->name);
    free(it->value);
}

void labels_builder_free(struct labels_builder *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        item_free(&b->items[i]);
    free(b->items);
    free(b);
}

static void push(struct labels_builder *b, const char *name, size_t nlen,
                 const char *value, size_t vlen)
{
    b->items = kb_grow(b->items, &b->cap, b->n + 1, sizeof(*b->items));
    struct lb_item *it = &b->items[b->n++];
    it->name = kb_strndup(name, nlen);
    it->name_len = nlen;
    it->value = kb_strndup(value, vlen);
    it->value_len = vlen;
}

void labels_builder_reset(struct labels_builder *b, const struct labels *base)
{
    for (size_t i = 0; i < b->n; i++)
        item_free(&b->items[i]);
    b->n = 0;
    for (size_t i = 0; base && i < base->n; i++)
        push(b, base->items[i].name, base->items[i].name_len,
             base->items[i].value, base->items[i].value_len);
}

/* Validate one label; the value has no NUL bytes (callers ensure it). */
static enum kb_status check_label(const char *name, size_t nlen,
                                  const char *value, size_t vlen,
                                  struct kb_err *err)
{
    char tmp[KB_EXCERPT_MAX];
    if (nlen > LABEL_NAME_MAX)
        return kb_errf(err, KB_ERR_LIMIT,
                       "label name \"%s\" longer than %d bytes",
                       kb_excerpt(tmp, 40, name, nlen), LABEL_NAME_MAX);
    if (!labels_name_valid(name, nlen))
        return kb_errf(err, KB_ERR_INVALID, "invalid label name \"%s\"",
                       kb_excerpt(tmp, sizeof(tmp), name, nlen));
    if (vlen > LABEL_VALUE_MAX)
        return kb_errf(err, KB_ERR_LIMIT,
                       "value of label \"%.*s\" longer than %d bytes",
                       (int)nlen, name, LABEL_VALUE_MAX);
    if (!kb_utf8_valid(value, vlen))
        return kb_errf(err, KB_ERR_INVALID,
                       "value of label \"%.*s\" is not valid UTF-8", (int)nlen,
                       name);
    return KB_OK;
}

static enum kb_status builder_addn(struct labels_builder *b, const char *name,
                                   size_t nlen, const char *value, size_t vlen,
                                   struct kb_err *err)
{
    enum kb_status st = check_label(name, nlen, value, vlen, err);
    if (st != KB_OK)
        return st;
    if (b->n >= LABELS_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "more than %d labels", LABELS_MAX);
    push(b, name, nlen, value, vlen);
    return KB_OK;
}

enum kb_status labels_builder_add(struct labels_builder *b, const char *name,
                                  const char *value, struct kb_err *err)
{
    return builder_addn(b, name, strlen(name), value, strlen(value), err);
}

void labels_builder_del(struct labels_builder *b, const char *name)
{
    size_t o = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->items[i].name, name) == 0)
            item_free(&b->items[i]);
        else
            b->items[o++] = b->items[i];
    }
    b->n = o;
}

enum kb_status labels_builder_set(struct labels_builder *b, const char *name,
                                  const char *value, struct kb_err *err)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    enum kb_status st = check_label(name, nlen, value, vlen, err);
    if (st != KB_OK)
        return st;
    size_t have = 0;
    for (size_t i = 0; i < b->n; i++)
        have += strcmp(b->items[i].name, name) == 0;
    if (have == 0 && vlen > 0 && b->n >= LABELS_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "more than %d labels", LABELS_MAX);
    labels_builder_del(b, name);
    if (vlen > 0)
        push(b, name, nlen, value, vlen);
    return KB_OK;
}

const char *labels_builder_get(const struct labels_builder *b, const char *name)
{
    for (size_t i = b->n; i > 0; i--)
        if (strcmp(b->items[i - 1].name, name) == 0)
            return b->items[i - 1].value;
    return NULL;
}

static int item_cmp(const void *x, const void *y)
{
    const struct lb_item *a = x, *b = y;
    return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

enum kb_status labels_builder_finish(struct labels_builder *b,
                                     struct labels **out, struct kb_err *err)
{
    *out = NULL;
    if (b->n > 1)
        qsort(b->items, b->n, sizeof(*b->items), item_cmp);
    for (size_t i = 1; i < b->n; i++)
        if (strcmp(b->items[i - 1].name, b->items[i].name) == 0)
            return kb_errf(err, KB_ERR_INVALID, "duplicate label name \"%s\"",
                           b->items[i].name);
    struct label *tmp = kb_calloc(b->n, sizeof(*tmp));
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].value_len == 0)
            continue;
        tmp[n].name = b->items[i].name;
        tmp[n].name_len = b->items[i].name_len;
        tmp[n].value = b->items[i].value;
        tmp[n].value_len = b->items[i].value_len;
        n++;
    }
    *out = make(tmp, n);
    free(tmp);
    return KB_OK;
}

enum kb_status labels_from_strings(struct labels **out, struct kb_err *err, ...)
{
    *out = NULL;
    struct labels_builder *b = labels_builder_new();
    enum kb_status st = KB_OK;
    va_list ap;
    va_start(ap, err);
    for (;;) {
        const char *name = va_arg(ap, const char *);
        if (name == NULL)
            break;
        const char *value = va_arg(ap, const char *);
        if (value == NULL) {
            st = kb_errf(err, KB_ERR_USAGE, "label \"%s\" has no value", name);
            break;
        }
        st = labels_builder_add(b, name, value, err);
        if (st != KB_OK)
            break;
    }
    va_end(ap);
    if (st == KB_OK)
        st = labels_builder_finish(b, out, err);
    labels_builder_free(b);
    return st;
}

/* -------------------------------------------------------------- text in */

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    struct kb_err *err;
};

/* Fill p->err with "line:col: message" for offset `at`; return `st`. */
static enum kb_status perr(const struct parser *p, size_t at, enum kb_status st,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum kb_status perr(const struct parser *p, size_t at, enum kb_status st,
                           const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[KB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kb_errf(p->err, st, "%zu:%zu: %s", line, col, msg);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

/* Expect `c` at the current position (after whitespace). */
static enum kb_status expect(struct parser *p, char c, const char *what)
{
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return KB_OK;
    }
    if (p->pos >= p->len)
        return perr(p, p->pos, KB_ERR_INVALID,
                    "unexpected end of input, expected %s", what);
    return perr(p, p->pos, KB_ERR_INVALID, "expected %s", what);
}

/* Parse a quoted value at p->pos (the opening quote) into `val`. */
static enum kb_status parse_value(struct parser *p, struct buf *val)
{
    size_t open = p->pos++;
    buf_reset(val);
    while (p->pos < p->len) {
        size_t at = p->pos;
        uint8_t c = (uint8_t)p->s[at];
        const char *add;
        size_t addlen = 1;
        if (c == '"') {
            p->pos++;
            return KB_OK;
        } else if (c == '\\') {
            if (at + 1 >= p->len)
                break;
            char e = p->s[at + 1];
            add = e == '\\' ? "\\" : e == '"' ? "\"" : e == 'n' ? "\n" : NULL;
            if (add == NULL) {
                char tmp[KB_EXCERPT_MAX];
                return perr(p, at, KB_ERR_INVALID,
                            "unknown escape \"\\%s\" in label value",
                            kb_excerpt(tmp, sizeof(tmp), &e, 1));
            }
            p->pos += 2;
        } else if (c == '\n') {
            return perr(p, at, KB_ERR_INVALID, "newline in label value");
        } else if (c == '\0') {
            return perr(p, at, KB_ERR_INVALID, "NUL byte in label value");
        } else if (c < 0x80) {
            add = p->s + at;
            p->pos++;
        } else {
            addlen = kb_utf8_seq((const uint8_t *)p->s + at, p->len - at, NULL);
            if (addlen == 0)
                return perr(p, at, KB_ERR_INVALID,
                            "invalid UTF-8 in label value");
            add = p->s + at;
            p->pos += addlen;
        }
        if (buf_append(val, add, addlen) != KB_OK)
            return perr(p, open, KB_ERR_LIMIT,
                        "label value longer than %d bytes", LABEL_VALUE_MAX);
    }
    return perr(p, open, KB_ERR_INVALID, "unterminated label value");
}

static bool builder_has(const struct labels_builder *b, const char *name,
                        size_t nlen)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].name_len == nlen &&
            memcmp(b->items[i].name, name, nlen) == 0)
            return true;
    return false;
}

enum kb_status labels_parse(const char *s, size_t len, struct labels **out,
                            struct kb_err *err)
{
    *out = NULL;
    struct parser p = {.s = s, .len = len, .pos = 0, .err = err};
    struct labels_builder *b = labels_builder_new();
    struct buf val;
    buf_init(&val, LABEL_VALUE_MAX);
    enum kb_status st;
    if (len > LABELS_TEXT_MAX) {
        st = kb_errf(err, KB_ERR_LIMIT, "label set text longer than %d bytes",
                     LABELS_TEXT_MAX);
        goto fail;
    }
    st = expect(&p, '{', "\"{\"");
    if (st != KB_OK)
        goto fail;
    for (;;) {
        skip_ws(&p);
        if (p.pos < len && s[p.pos] == '}') {
            p.pos++;
            break;
        }
        size_t npos = p.pos;
        if (p.pos >= len || !name_start(s[p.pos])) {
            st = p.pos >= len ? perr(&p, p.pos, KB_ERR_INVALID,
                                     "unexpected end of input, expected "
                                     "label name or \"}\"")
                              : perr(&p, p.pos, KB_ERR_INVALID,
                                     "expected label name or \"}\"");
            goto fail;
        }
        while (p.pos < len && name_char(s[p.pos]))
            p.pos++;
        size_t nlen = p.pos - npos;
        if (nlen > LABEL_NAME_MAX) {
            st = perr(&p, npos, KB_ERR_LIMIT, "label name longer than %d bytes",
                      LABEL_NAME_MAX);
            goto fail;
        }
        if (builder_has(b, s + npos, nlen)) {
            st = perr(&p, npos, KB_ERR_INVALID, "duplicate label name \"%.*s\"",
                      (int)nlen, s + npos);
            goto fail;
        }
        if (b->n >= LABELS_MAX) {
            st =
                perr(&p, npos, KB_ERR_LIMIT, "more than %d labels", LABELS_MAX);
            goto fail;
        }
        st = expect(&p, '=', "\"=\"");
        if (st != KB_OK)
            goto fail;
        skip_ws(&p);
        if (p.pos >= len || s[p.pos] != '"') {
            st = p.pos >= len ? perr(&p, p.pos, KB_ERR_INVALID,
                                     "unexpected end of input, expected "
                                     "quoted label value")
                              : perr(&p, p.pos, KB_ERR_INVALID,
                                     "expected quoted label value");
            goto fail;
        }
        st = parse_value(&p, &val);
        if (st != KB_OK)
            goto fail;
        /* Everything was checked above, so this cannot fail. */
        st = builder_addn(b, s + npos, nlen, buf_cstr(&val), val.len, err);
        if (st != KB_OK)
            goto fail;
        skip_ws(&p);
        if (p.pos < len && s[p.pos] == ',') {
            p.pos++;
            continue;
        }
        if (p.pos < len && s[p.pos] == '}') {
            p.pos++;
            break;
        }
        st = p.pos >= len
                 ? perr(&p, p.pos, KB_ERR_INVALID,
                        "unexpected end of input, expected \",\" "
                        "or \"}\"")
                 : perr(&p, p.pos, KB_ERR_INVALID, "expected \",\" or \"}\"");
        goto fail;
    }
    skip_ws(&p);
    if (p.pos < len) {
        st = perr(&p, p.pos, KB_ERR_INVALID, "unexpected text after \"}\"");
        goto fail;
    }
    st = labels_builder_finish(b, out, err);
fail:
    buf_free(&val);
    labels_builder_free(b);
    return st;
}
