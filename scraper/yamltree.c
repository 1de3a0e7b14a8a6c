/* scraper/yamltree.c: YAML into a tree of nodes with marks, under limits.
 *
 * Design. libyaml's event parser (yaml_parser_parse) drives a builder with
 * an explicit stack of open sequences and mappings, so nesting is checked
 * as it is read (libyaml has no depth limit of its own) and nothing here
 * recurses. Every node, array and string lives in one arena owned by the
 * document; yamlt_free frees it all at once.
 *
 * What is refused, each with the position libyaml gives (0-based there,
 * 1-based here): syntax errors; a second document; mapping keys that are
 * not scalars; duplicate keys (as go-yaml, which Prometheus uses); aliases
 * to unknown anchors or to a node that contains the alias. Aliases are
 * shared, not copied, but the node limit counts each use of an alias as the
 * whole subtree it names (`weight`), so "billion laughs" documents are
 * refused instead of making every walk of the tree explode. Tags are
 * ignored: a node is what it is written as. Merge keys ("<<") are ordinary
 * keys, which the schema then refuses as unknown.
 *
 * The getters turn scalars into typed values with errors of the form
 * "NAME:LINE:COL: PATH: reason", PATH built by the caller with
 * yamlt_path_key/yamlt_path_index. Which keys a mapping may hold is the
 * caller's schema (yamlt_check_keys).
 */
#include "scraper/yamltree.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/hmap.h"
#include "base/text.h"
#include "base/timefmt.h"

struct yamlt_doc {
    struct arena *arena;
    const char *name;
    struct yamlt_node *root;
};

void yamlt_limits_default(struct yamlt_limits *lim)
{
    lim->max_bytes = 1u << 20;
    lim->max_depth = 32;
    lim->max_nodes = 200000;
    lim->max_scalar = 64u << 10;
}

/* ---- Building ------------------------------------------------------------ */

/* An open sequence or mapping: its children so far (keys and values
 * alternate for a mapping). */
struct frame {
    struct yamlt_node *node;
    struct yamlt_node **kids;
    size_t n, cap;
    struct hmap *keys; /* key -> index in kids, once a mapping is large */
};

/* Mappings with more pairs than this find duplicate keys with a hash map
 * instead of a scan (a 1 MiB file may hold 100,000 keys). */
#define SCAN_KEYS_MAX 16

struct builder {
    struct yamlt_doc *doc;
    const struct yamlt_limits *lim;
    struct kb_err *err;
    struct frame *stack;
    size_t depth;
    uint64_t nodes;       /* nodes so far, aliases expanded */
    struct hmap *anchors; /* anchor name -> index in `anchored` */
    struct yamlt_node **anchored;
    size_t n_anchored, cap_anchored;
};

static enum kb_status mark_err(struct builder *b, yaml_mark_t m,
                               enum kb_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum kb_status mark_err(struct builder *b, yaml_mark_t m,
                               enum kb_status st, const char *fmt, ...)
{
    char msg[KB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kb_errf(b->err, st, "%s:%zu:%zu: %s", b->doc->name, m.line + 1,
                   m.column + 1, msg);
}

static struct yamlt_node *new_node(struct builder *b, enum yamlt_kind kind,
                                   yaml_mark_t m)
{
    struct yamlt_node *n = arena_calloc(b->doc->arena, 1, sizeof(*n));
    n->kind = kind;
    n->line = m.line + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)m.line + 1;
    n->column = m.column + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)m.column + 1;
    return n;
}

static enum kb_status count_nodes(struct builder *b, uint64_t w, yaml_mark_t m)
{
    b->nodes += w;
    if (b->nodes > b->lim->max_nodes)
        return mark_err(b, m, KB_ERR_LIMIT,
                        "more than %zu nodes (aliases count as what they "
                        "name)",
                        b->lim->max_nodes);
    return KB_OK;
}

static void set_anchor(struct builder *b, const yaml_char_t *anchor,
                       struct yamlt_node *n)
{
    if (anchor == NULL)
        return;
    const char *a = (const char *)anchor;
    uint64_t *slot = hmap_put(b->anchors, a, strlen(a), NULL);
    b->anchored = kb_grow(b->anchored, &b->cap_anchored, b->n_anchored + 1,
                          sizeof(*b->anchored));
    b->anchored[b->n_anchored] = n;
    *slot = b->n_anchored++;
}

/* Attach a finished node to the open container, or make it the root. */
static enum kb_status attach(struct builder *b, struct yamlt_node *n,
                             yaml_mark_t m)
{
    if (b->depth == 0) {
        b->doc->root = n;
        return KB_OK;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == YAMLT_MAP && f->n % 2 == 0) {
        if (n->kind != YAMLT_SCALAR)
            return kb_errf(b->err, KB_ERR_INVALID,
                           "%s:%u:%u: mapping keys must be scalars, got %s",
                           b->doc->name, n->line, n->column,
                           yamlt_kind_name(n));
        const struct yamlt_node *dup = NULL;
        if (f->keys == NULL && f->n / 2 >= SCAN_KEYS_MAX) {
            f->keys = hmap_new(4 * SCAN_KEYS_MAX);
            for (size_t i = 0; i < f->n; i += 2)
                *hmap_put(f->keys, f->kids[i]->str, f->kids[i]->len, NULL) = i;
        }
        if (f->keys != NULL) {
            bool found;
            uint64_t *slot = hmap_put(f->keys, n->str, n->len, &found);
            if (found)
                dup = f->kids[*slot];
            else
                *slot = f->n;
        }
        for (size_t i = 0; f->keys == NULL && i < f->n; i += 2) {
            const struct yamlt_node *k = f->kids[i];
            if (k->len == n->len && memcmp(k->str, n->str, n->len) == 0)
                dup = k;
        }
        if (dup != NULL) {
            char ex[KB_EXCERPT_MAX];
            return mark_err(b, m, KB_ERR_INVALID,
                            "duplicate key \"%s\" (first at %u:%u)",
                            kb_excerpt(ex, sizeof(ex), n->str, n->len),
                            dup->line, dup->column);
        }
    }
    f->kids = kb_grow(f->kids, &f->cap, f->n + 1, sizeof(*f->kids));
    f->kids[f->n++] = n;
    return KB_OK;
}

static enum kb_status on_scalar(struct builder *b, const yaml_event_t *ev)
{
    size_t len = ev->data.scalar.length;
    if (len > b->lim->max_scalar)
        return mark_err(b, ev->start_mark, KB_ERR_LIMIT,
                        "scalar of %zu bytes, more than the limit of %zu", len,
                        b->lim->max_scalar);
    enum kb_status st = count_nodes(b, 1, ev->start_mark);
    if (st)
        return st;
    struct yamlt_node *n = new_node(b, YAMLT_SCALAR, ev->start_mark);
    n->str =
        arena_strndup(b->doc->arena, (const char *)ev->data.scalar.value, len);
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->weight = 1;
    set_anchor(b, ev->data.scalar.anchor, n);
    return attach(b, n, ev->start_mark);
}

static enum kb_status on_start(struct builder *b, const yaml_event_t *ev,
                               enum yamlt_kind kind)
{
    if (b->depth >= b->lim->max_depth)
        return mark_err(b, ev->start_mark, KB_ERR_LIMIT,
                        "nested more than %zu levels deep", b->lim->max_depth);
    enum kb_status st = count_nodes(b, 1, ev->start_mark);
    if (st)
        return st;
    struct yamlt_node *n = new_node(b, kind, ev->start_mark);
    /* weight stays 0 while the node is open: an alias to it is recursive. */
    set_anchor(b,
               kind == YAMLT_MAP ? ev->data.mapping_start.anchor
                                 : ev->data.sequence_start.anchor,
               n);
    struct frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof(*f));
    f->node = n;
    return KB_OK;
}

static enum kb_status on_end(struct builder *b, const yaml_event_t *ev)
{
    struct frame *f = &b->stack[--b->depth];
    struct yamlt_node *n = f->node;
    struct arena *a = b->doc->arena;
    uint64_t w = 1;
    for (size_t i = 0; i < f->n; i++)
        w += f->kids[i]->weight;
    n->weight = w;
    if (n->kind == YAMLT_SEQ) {
        n->n = f->n;
        n->items = arena_calloc(a, f->n ? f->n : 1, sizeof(*n->items));
        if (f->n)
            memcpy(n->items, f->kids, f->n * sizeof(*n->items));
    } else {
        n->n = f->n / 2;
        n->items = arena_calloc(a, n->n ? n->n : 1, sizeof(*n->items));
        n->values = arena_calloc(a, n->n ? n->n : 1, sizeof(*n->values));
        for (size_t i = 0; i < n->n; i++) {
            n->items[i] = f->kids[2 * i];
            n->values[i] = f->kids[2 * i + 1];
        }
    }
    free(f->kids);
    f->kids = NULL;
    hmap_free(f->keys);
    f->keys = NULL;
    return attach(b, n, ev->start_mark);
}

static enum kb_status on_alias(struct builder *b, const yaml_event_t *ev)
{
    const char *a = (const char *)ev->data.alias.anchor;
    uint64_t *slot = hmap_get(b->anchors, a, strlen(a));
    char ex[KB_EXCERPT_MAX];
    if (slot == NULL)
        return mark_err(b, ev->start_mark, KB_ERR_INVALID,
                        "unknown anchor \"%s\"",
                        kb_excerpt(ex, sizeof(ex), a, strlen(a)));
    struct yamlt_node *n = b->anchored[*slot];
    if (n->weight == 0)
        return mark_err(b, ev->start_mark, KB_ERR_INVALID,
                        "alias \"%s\" is inside the node it names",
                        kb_excerpt(ex, sizeof(ex), a, strlen(a)));
    enum kb_status st = count_nodes(b, n->weight, ev->start_mark);
    if (st)
        return st;
    return attach(b, n, ev->start_mark);
}

/* The line and column of byte `off` (for reader errors, which give an
 * offset rather than a mark). */
static yaml_mark_t offset_mark(const unsigned char *data, size_t len,
                               size_t off)
{
    yaml_mark_t m = {0};
    for (size_t i = 0; i < off && i < len; i++) {
        if (data[i] == '\n') {
            m.line++;
            m.column = 0;
        } else if ((data[i] & 0xC0) != 0x80) {
            m.column++;
        }
    }
    return m;
}

static enum kb_status syntax_err(struct builder *b, yaml_parser_t *p,
                                 const unsigned char *data, size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return kb_errf(b->err, KB_ERR_LIMIT, "%s: libyaml: out of memory",
                       b->doc->name);
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            return mark_err(b, offset_mark(data, len, p->problem_offset),
                            KB_ERR_INVALID, "%s (byte 0x%02X)", problem,
                            (unsigned)p->problem_value & 0xFFu);
        return mark_err(b, offset_mark(data, len, p->problem_offset),
                        KB_ERR_INVALID, "%s", problem);
    default:
        if (p->context)
            return mark_err(b, p->problem_mark, KB_ERR_INVALID,
                            "%s (%s at %zu:%zu)", problem, p->context,
                            p->context_mark.line + 1,
                            p->context_mark.column + 1);
        return mark_err(b, p->problem_mark, KB_ERR_INVALID, "%s", problem);
    }
}

enum kb_status yamlt_parse(const char *name, const void *data, size_t len,
                           const struct yamlt_limits *lim,
                           struct yamlt_doc **out, struct kb_err *err)
{
    struct yamlt_limits deflim;
    if (lim == NULL) {
        yamlt_limits_default(&deflim);
        lim = &deflim;
    }
    *out = NULL;
    if (len > lim->max_bytes)
        return kb_errf(err, KB_ERR_LIMIT,
                       "%s: %zu bytes, more than the limit of %zu", name, len,
                       lim->max_bytes);

    struct yamlt_doc *doc = kb_calloc(1, sizeof(*doc));
    doc->arena = arena_new(0);
    doc->name = arena_strndup(doc->arena, name, strlen(name));
    struct builder b = {
        .doc = doc,
        .lim = lim,
        .err = err,
        .stack = kb_calloc(lim->max_depth + 1, sizeof(struct frame)),
        .anchors = hmap_new(0),
    };
    yaml_parser_t p;
    enum kb_status st = KB_OK;
    int docs = 0;
    bool done = false;
    if (!yaml_parser_initialize(&p)) {
        st = kb_errf(err, KB_ERR_LIMIT, "%s: libyaml: out of memory", name);
        goto fail_noparser;
    }
    yaml_parser_set_input_string(&p, data, len);
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            st = syntax_err(&b, &p, data, len);
            goto fail;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                st = mark_err(&b, ev.start_mark, KB_ERR_INVALID,
                              "more than one document");
            break;
        case YAML_SCALAR_EVENT:
            st = on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            st = on_start(&b, &ev, YAMLT_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            st = on_start(&b, &ev, YAMLT_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            st = on_end(&b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            st = on_alias(&b, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (st)
            goto fail;
    }
    yaml_parser_delete(&p);
    free(b.stack);
    free(b.anchored);
    hmap_free(b.anchors);
    *out = doc;
    return KB_OK;

fail:
    yaml_parser_delete(&p);
fail_noparser:
    while (b.depth > 0) {
        b.depth--;
        free(b.stack[b.depth].kids);
        hmap_free(b.stack[b.depth].keys);
    }
    free(b.stack);
    free(b.anchored);
    hmap_free(b.anchors);
    yamlt_free(doc);
    return st;
}

void yamlt_free(struct yamlt_doc *doc)
{
    if (doc == NULL)
        return;
    arena_free(doc->arena);
    free(doc);
}

const struct yamlt_node *yamlt_root(const struct yamlt_doc *doc)
{
    return doc->root;
}

const char *yamlt_name(const struct yamlt_doc *doc)
{
    return doc->name;
}

/* ---- Queries ------------------------------------------------------------- */

bool yamlt_is_null(const struct yamlt_node *n)
{
    if (n == NULL)
        return true;
    if (n->kind != YAMLT_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 ||
           strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
           strcmp(n->str, "NULL") == 0;
}

const char *yamlt_kind_name(const struct yamlt_node *n)
{
    if (yamlt_is_null(n))
        return "null";
    switch (n->kind) {
    case YAMLT_SEQ:
        return "a sequence";
    case YAMLT_MAP:
        return "a mapping";
    default:
        return "a scalar";
    }
}

const struct yamlt_node *yamlt_get(const struct yamlt_node *map,
                                   const char *key)
{
    if (map == NULL || map->kind != YAMLT_MAP)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < map->n; i++)
        if (map->items[i]->len == len &&
            memcmp(map->items[i]->str, key, len) == 0)
            return map->values[i];
    return NULL;
}

/* ---- Paths and errors ---------------------------------------------------- */

void yamlt_path_key(char out[YAMLT_PATH_MAX], const char *parent,
                    const char *key)
{
    char ex[KB_EXCERPT_MAX];
    kb_excerpt(ex, sizeof(ex), key, strlen(key));
    if (parent == NULL || parent[0] == '\0')
        snprintf(out, YAMLT_PATH_MAX, "%s", ex);
    else
        snprintf(out, YAMLT_PATH_MAX, "%s.%s", parent, ex);
}

void yamlt_path_index(char out[YAMLT_PATH_MAX], const char *parent, size_t i)
{
    snprintf(out, YAMLT_PATH_MAX, "%s[%zu]", parent ? parent : "", i);
}

enum kb_status yamlt_errf(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          struct kb_err *err, enum kb_status st,
                          const char *fmt, ...)
{
    char msg[KB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char pos[48] = "";
    if (n != NULL)
        snprintf(pos, sizeof(pos), ":%u:%u", n->line, n->column);
    bool has_path = path != NULL && path[0] != '\0';
    return kb_errf(err, st, "%s%s: %s%s%s", doc->name, pos,
                   has_path ? path : "", has_path ? ": " : "", msg);
}

/* ---- Typed getters ------------------------------------------------------- */

static const char *kind_word(enum yamlt_kind k)
{
    return k == YAMLT_MAP   ? "a mapping"
           : k == YAMLT_SEQ ? "a sequence"
                            : "a scalar";
}

enum kb_status yamlt_want(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          enum yamlt_kind kind, struct kb_err *err)
{
    if (n != NULL && n->kind == kind)
        return KB_OK;
    return yamlt_errf(doc, n, path, err, KB_ERR_INVALID, "expected %s, got %s",
                      kind_word(kind), yamlt_kind_name(n));
}

enum kb_status yamlt_check_keys(const struct yamlt_doc *doc,
                                const struct yamlt_node *n, const char *path,
                                const char *const *allowed, struct kb_err *err)
{
    enum kb_status st = yamlt_want(doc, n, path, YAMLT_MAP, err);
    if (st)
        return st;
    for (size_t i = 0; i < n->n; i++) {
        const struct yamlt_node *k = n->items[i];
        bool ok = false;
        for (size_t j = 0; allowed[j] != NULL && !ok; j++)
            ok = strlen(allowed[j]) == k->len &&
                 memcmp(allowed[j], k->str, k->len) == 0;
        if (!ok) {
            char ex[KB_EXCERPT_MAX];
            return yamlt_errf(doc, k, path, err, KB_ERR_INVALID,
                              "unknown key \"%s\"",
                              kb_excerpt(ex, sizeof(ex), k->str, k->len));
        }
    }
    return KB_OK;
}

enum kb_status yamlt_string(const struct yamlt_doc *doc,
                            const struct yamlt_node *n, const char *path,
                            const char **out, size_t *len, struct kb_err *err)
{
    enum kb_status st = yamlt_want(doc, n, path, YAMLT_SCALAR, err);
    if (st)
        return st;
    if (memchr(n->str, '\0', n->len) != NULL)
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "NUL byte in string");
    *out = n->str;
    if (len)
        *len = n->len;
    return KB_OK;
}

enum kb_status yamlt_bool(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          bool *out, struct kb_err *err)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    if (n != NULL && n->kind == YAMLT_SCALAR && n->plain) {
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(n->str, yes[i]) == 0) {
                *out = true;
                return KB_OK;
            }
            if (strcmp(n->str, no[i]) == 0) {
                *out = false;
                return KB_OK;
            }
        }
    }
    char ex[KB_EXCERPT_MAX];
    if (n != NULL && n->kind == YAMLT_SCALAR && !yamlt_is_null(n))
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "expected true or false, got \"%s\"",
                          kb_excerpt(ex, sizeof(ex), n->str, n->len));
    return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                      "expected true or false, got %s", yamlt_kind_name(n));
}

enum kb_status yamlt_uint(const struct yamlt_doc *doc,
                          const struct yamlt_node *n, const char *path,
                          uint64_t min, uint64_t max, uint64_t *out,
                          struct kb_err *err)
{
    char ex[KB_EXCERPT_MAX];
    if (n == NULL || n->kind != YAMLT_SCALAR || yamlt_is_null(n))
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "expected an integer, got %s", yamlt_kind_name(n));
    uint64_t v = 0;
    bool ok = n->plain && n->len > 0 && n->len <= 20;
    for (size_t i = 0; ok && i < n->len; i++) {
        unsigned d = (unsigned)(n->str[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            ok = false;
        else
            v = v * 10 + d;
    }
    if (!ok)
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "expected an integer, got \"%s\"",
                          kb_excerpt(ex, sizeof(ex), n->str, n->len));
    if (v < min || v > max)
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "%" PRIu64 " is out of range [%" PRIu64 ", %" PRIu64
                          "]",
                          v, min, max);
    *out = v;
    return KB_OK;
}

enum kb_status yamlt_duration(const struct yamlt_doc *doc,
                              const struct yamlt_node *n, const char *path,
                              int64_t *ms, struct kb_err *err)
{
    char ex[KB_EXCERPT_MAX];
    if (n == NULL || n->kind != YAMLT_SCALAR || yamlt_is_null(n))
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "expected a duration, got %s", yamlt_kind_name(n));
    struct kb_err derr;
    kb_err_clear(&derr);
    if (kb_duration_parse(n->str, n->len, ms, &derr) != KB_OK) {
        /* Drop kb_duration_parse's own 'invalid duration "...": '. */
        const char *why = derr.msg, *q = strstr(why, "\": ");
        if (strncmp(why, "invalid duration \"", 18) == 0 && q != NULL)
            why = q + 3;
        return yamlt_errf(doc, n, path, err, KB_ERR_INVALID,
                          "bad duration \"%s\": %s",
                          kb_excerpt(ex, sizeof(ex), n->str, n->len), why);
    }
    return KB_OK;
}
