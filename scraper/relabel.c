/* scraper/relabel.c: Prometheus relabeling.
 *
 * What. relabel_configs rewrite a discovered target's labels before it is
 * scraped: keep or drop it, copy and rewrite values, rename, drop or keep
 * labels, lower/upper-case, shard with hashmod. Users bring their
 * Prometheus recipes (the prometheus.io/scrape pod annotations, the
 * parca.dev/scrape ones), so the semantics are Prometheus' model/relabel
 * (v3, legacy label names) step for step:
 *  - Source values are joined with the separator; a missing label is "".
 *  - Regexes are fully anchored and '.' matches newline (kb_regex gives
 *    ^(?s:RE)$); replace uses the first match's groups.
 *  - replace: no match, or a target that does not expand to a valid label
 *    name, changes nothing; an empty expansion deletes the target label.
 *  - Templates expand like Go's regexp.Expand: $1, ${1}, $name, ${name};
 *    a name is the longest run of letters, digits and '_' (so "$1_x" is
 *    group "1_x", which does not exist, and expands to ""); unknown groups
 *    and groups that did not participate expand to ""; "$$" is "$"; a '$'
 *    not followed by a valid name is kept literally. Templates are parsed
 *    once, at init, into literal and group segments (struct relabel_tpl).
 *    Letters and digits include non-ASCII ones (Go's unicode.IsLetter and
 *    IsDigit), decided by a \p{L}/\p{Nd} regex compiled only for templates
 *    that need it.
 *  - hashmod: md5 of the joined value; its last 8 bytes as a big-endian
 *    uint64, modulo the modulus, in decimal.
 *  - labelmap, labeldrop, labelkeep match label names; labelmap's new name
 *    is the replacement expanded against the name (Go's ReplaceAllString on
 *    an anchored regex). They walk a snapshot of the set in name order,
 *    so labels added by a labelmap are not revisited. (Prometheus walks
 *    base labels, then labels added by earlier steps, in that order; the
 *    two orders differ only when two labels map to the same name.)
 *    Kiln's label sets cannot hold invalid names, so a labelmap result
 *    that is not a valid name is skipped.
 *  - lowercase/uppercase map each code point with towlower/towupper in the
 *    C.UTF-8 locale (Unicode simple case mapping, as Go's strings.ToLower);
 *    if that locale is missing, only ASCII letters change.
 * Validation follows Prometheus' Config.Validate with its messages.
 *
 * relabel_populate is Prometheus' PopulateLabels + Target.URL: job
 * defaults as labels, relabeling, then the checks and clean-up (no address,
 * bad address, __meta_* removed, instance defaulted to __address__).
 * Kiln is stricter than Prometheus in two places, because relabeling can
 * copy pod annotations (written by whoever deploys a pod) into the URL that
 * libcurl fetches: __scheme__ must be http or https, and __address__ may
 * not hold '/', '?', '#', '@', whitespace or control characters. The
 * scrape timeout is not checked against the interval: Kiln's CPU profiles
 * take the whole interval (DESIGN.md section 5).
 *
 * Ownership. A relabel_config owns copies of every string of its spec and
 * its compiled regex; template segments point into those copies. Configs
 * are read-only after init. A relabel_target owns its label sets, params
 * and query; its URL part pointers point into `all`.
 */
#include "scraper/relabel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/md5.h"
#include "base/text.h"
#include "base/timefmt.h"

#define DEFAULT_SEPARATOR ";"
#define DEFAULT_REGEX "(.*)"
#define DEFAULT_REPLACEMENT "$1"
/* The joined source values: every value and separator at their limits. */
#define JOINED_MAX (RELABEL_SOURCES_MAX * (LABEL_VALUE_MAX + RELABEL_TEXT_MAX))
/* Groups whose spans fit on the stack during a step. */
#define SPANS_STACK 16

static const char *const action_names[] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",
    [RELABEL_DROP] = "drop",           [RELABEL_KEEPEQUAL] = "keepequal",
    [RELABEL_DROPEQUAL] = "dropequal", [RELABEL_HASHMOD] = "hashmod",
    [RELABEL_LABELMAP] = "labelmap",   [RELABEL_LABELDROP] = "labeldrop",
    [RELABEL_LABELKEEP] = "labelkeep", [RELABEL_LOWERCASE] = "lowercase",
    [RELABEL_UPPERCASE] = "uppercase",
};
#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

const char *relabel_action_name(enum relabel_action a)
{
    if ((size_t)a >= NACTIONS)
        return "unknown";
    return action_names[a];
}

enum kb_status relabel_action_parse(const char *s, enum relabel_action *out,
                                    struct kb_err *err)
{
    for (size_t i = 0; i < NACTIONS; i++) {
        if (strcasecmp(s, action_names[i]) == 0) {
            *out = (enum relabel_action)i;
            return KB_OK;
        }
    }
    char tmp[KB_EXCERPT_MAX];
    return kb_errf(err, KB_ERR_INVALID, "unknown relabel action \"%s\"",
                   kb_excerpt(tmp, sizeof(tmp), s, strlen(s)));
}

/* ------------------------------------------------------------ templates */

static bool ascii_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* The length of the name at s[0..n): Go's extract() run of letters, digits
 * and '_'. `uni` (compiled on demand into *uni) tells non-ASCII letters and
 * digits. */
static enum kb_status name_run(const char *s, size_t n, struct kb_regex **uni,
                               size_t *len, struct kb_err *err)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (!ascii_word(c))
                break;
            i++;
            continue;
        }
        size_t k = kb_utf8_seq((const uint8_t *)s + i, n - i, NULL);
        if (k == 0)
            break;
        if (*uni == NULL) {
            const char *pat = "[\\p{L}\\p{Nd}]";
            enum kb_status st = kb_regex_compile(pat, strlen(pat), 0, uni, err);
            if (st != KB_OK)
                return st;
        }
        if (!kb_regex_match(*uni, s + i, k))
            break;
        i += k;
    }
    *len = i;
    return KB_OK;
}

static void tpl_push(struct relabel_tpl *t, size_t *cap, const char *text,
                     size_t len, int group)
{
    if (group < 0 && len == 0)
        return;
    t->segs = kb_grow(t->segs, cap, t->nsegs + 1, sizeof(*t->segs));
    t->segs[t->nsegs++] = (struct relabel_seg){text, len, group};
    if (group > t->max_group)
        t->max_group = group;
}

/* Parse `src` (NUL-terminated, owned by the config) against `re` into `t`,
 * as Go's Regexp.expand walks a template. */
static enum kb_status tpl_parse(struct relabel_tpl *t, const char *src,
                                const struct kb_regex *re, struct kb_err *err)
{
    struct kb_regex *uni = NULL;
    enum kb_status st = KB_OK;
    size_t cap = 0, n = strlen(src), lit = 0, p = 0;
    uint32_t ngroups = kb_regex_group_count(re);
    char name[RELABEL_TEXT_MAX + 1];
    memset(t, 0, sizeof(*t));
    t->max_group = -1;
    while (p < n) {
        if (src[p] != '$') {
            p++;
            continue;
        }
        t->has_var = true;
        if (p + 1 < n && src[p + 1] == '$') { /* "$$" is "$" */
            tpl_push(t, &cap, src + lit, p + 1 - lit, -1);
            p += 2;
            lit = p;
            continue;
        }
        size_t q = p + 1, len;
        bool brace = q < n && src[q] == '{';
        if (brace)
            q++;
        st = name_run(src + q, n - q, &uni, &len, err);
        if (st != KB_OK)
            goto fail;
        if (len == 0 || (brace && (q + len >= n || src[q + len] != '}'))) {
            p++; /* malformed: the '$' is literal text */
            continue;
        }
        tpl_push(t, &cap, src + lit, p - lit, -1);
        memcpy(name, src + q, len);
        name[len] = '\0';
        p = q + len + (brace ? 1 : 0);
        lit = p;
        /* A number, unless it has a non-digit, a leading zero or is too
         * large (Go: num >= 1e8); then a group name. */
        long num = 0;
        for (size_t i = 0; i < len && num >= 0; i++)
            num = name[i] < '0' || name[i] > '9' || num >= 100000000
                      ? -1
                      : num * 10 + (name[i] - '0');
        if (name[0] == '0' && len > 1)
            num = -1;
        if (num < 0)
            num = kb_regex_group_index(re, name);
        if (num >= 0 && num <= (long)ngroups)
            tpl_push(t, &cap, NULL, 0, (int)num);
    }
    tpl_push(t, &cap, src + lit, n - lit, -1);
fail:
    kb_regex_free(uni);
    return st;
}

static void tpl_free(struct relabel_tpl *t)
{
    free(t->segs);
    memset(t, 0, sizeof(*t));
}

/* Append the expansion of `t` against subject s (groups in `g`) to `out`. */
static enum kb_status tpl_expand(const struct relabel_tpl *t, const char *s,
                                 const struct kb_regex_span *g, struct buf *out)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; st == KB_OK && i < t->nsegs; i++) {
        const struct relabel_seg *sg = &t->segs[i];
        if (sg->group < 0)
            st = buf_append(out, sg->text, sg->len);
        else if (g[sg->group].start != KB_REGEX_UNSET)
            st = buf_append(out, s + g[sg->group].start,
                            g[sg->group].end - g[sg->group].start);
    }
    return st;
}

/* ----------------------------------------------------------- validation */

/* Prometheus' relabelTarget: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$,
 * checked by hand (the regex backtracks exponentially on long misses): a
 * non-empty string starting with a letter, '_' or '$', where every '$' is
 * followed by \w+ or {\w+} and every other byte is \w. */
static bool target_template_valid(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    while (i < n) {
        if (s[i] != '$') {
            if (!ascii_word((unsigned char)s[i]))
                return false;
            i++;
            continue;
        }
        i++;
        bool brace = i < n && s[i] == '{';
        if (brace)
            i++;
        size_t start = i;
        while (i < n && ascii_word((unsigned char)s[i]))
            i++;
        if (i == start)
            return false;
        if (brace) {
            if (i >= n || s[i] != '}')
                return false;
            i++;
        }
    }
    return true;
}

static bool name_valid(const char *s)
{
    return labels_name_valid(s, strlen(s));
}

/* Copy a config string, checking its length and encoding. */
static enum kb_status copy_text(char **dst, const char *src, const char *def,
                                const char *field, struct kb_err *err)
{
    if (src == NULL)
        src = def;
    size_t n = strlen(src);
    if (n > RELABEL_TEXT_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "'%s' longer than %d bytes", field,
                       RELABEL_TEXT_MAX);
    if (!kb_utf8_valid(src, n))
        return kb_errf(err, KB_ERR_INVALID, "'%s' is not valid UTF-8", field);
    *dst = kb_strdup(src);
    return KB_OK;
}

static enum kb_status validate(const struct relabel_config *c,
                               struct kb_err *err)
{
    enum relabel_action a = c->action;
    const char *an = relabel_action_name(a);
    bool needs_target = a == RELABEL_REPLACE || a == RELABEL_HASHMOD ||
                        a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE ||
                        a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
    bool plain_target = a == RELABEL_HASHMOD || a == RELABEL_LOWERCASE ||
                        a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL ||
                        a == RELABEL_DROPEQUAL;
    bool no_replacement = a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE ||
                          a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
    bool def_sep = strcmp(c->separator, DEFAULT_SEPARATOR) == 0;
    bool def_repl = strcmp(c->replacement, DEFAULT_REPLACEMENT) == 0;
    bool def_regex = strcmp(c->regex_text, DEFAULT_REGEX) == 0;
    char tmp[KB_EXCERPT_MAX];

    if (a == RELABEL_HASHMOD && c->modulus == 0)
        return kb_errf(err, KB_ERR_INVALID,
                       "relabel configuration for hashmod requires non-zero "
                       "modulus");
    if (needs_target && c->target_label[0] == '\0')
        return kb_errf(err, KB_ERR_INVALID,
                       "relabel configuration for %s action requires "
                       "'target_label' value",
                       an);
    if ((a == RELABEL_REPLACE && !strchr(c->target_label, '$') &&
         !name_valid(c->target_label)) ||
        (a == RELABEL_REPLACE && strchr(c->target_label, '$') &&
         !target_template_valid(c->target_label)) ||
        (plain_target && !name_valid(c->target_label)))
        return kb_errf(err, KB_ERR_INVALID,
                       "\"%s\" is invalid 'target_label' for %s action",
                       kb_excerpt(tmp, sizeof(tmp), c->target_label,
                                  strlen(c->target_label)),
                       an);
    if (no_replacement && !def_repl)
        return kb_errf(err, KB_ERR_INVALID,
                       "'replacement' can not be set for %s action", an);
    if (a == RELABEL_LABELMAP && !target_template_valid(c->replacement))
        return kb_errf(err, KB_ERR_INVALID,
                       "\"%s\" is invalid 'replacement' for %s action",
                       kb_excerpt(tmp, sizeof(tmp), c->replacement,
                                  strlen(c->replacement)),
                       an);
    if ((a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL) &&
        (!def_regex || c->modulus != 0 || !def_sep || !def_repl))
        return kb_errf(err, KB_ERR_INVALID,
                       "%s action requires only 'source_labels' and "
                       "`target_label`, and no other fields",
                       an);
    if ((a == RELABEL_LABELDROP || a == RELABEL_LABELKEEP) &&
        (c->nsource_labels > 0 || c->target_label[0] != '\0' ||
         c->modulus != 0 || !def_sep || !def_repl))
        return kb_errf(err, KB_ERR_INVALID,
                       "%s action requires only 'regex', and no other fields",
                       an);
    return KB_OK;
}

static locale_t utf8_locale(void)
{
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (l == (locale_t)0)
        l = newlocale(LC_CTYPE_MASK, "C.utf8", (locale_t)0);
    return l;
}

enum kb_status relabel_config_init(struct relabel_config *c,
                                   const struct relabel_spec *spec,
                                   struct kb_err *err)
{
    enum kb_status st;
    char tmp[KB_EXCERPT_MAX];
    memset(c, 0, sizeof(*c));
    if ((size_t)spec->action >= NACTIONS)
        return kb_errf(err, KB_ERR_USAGE, "unknown relabel action %d",
                       (int)spec->action);
    c->action = spec->action;
    c->modulus = spec->modulus;
    if (spec->nsource_labels > RELABEL_SOURCES_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "more than %d 'source_labels'",
                       RELABEL_SOURCES_MAX);
    c->source_labels = kb_calloc(spec->nsource_labels + 1, sizeof(char *));
    for (size_t i = 0; i < spec->nsource_labels; i++) {
        const char *s = spec->source_labels[i];
        if (s == NULL || !name_valid(s)) {
            st =
                kb_errf(err, KB_ERR_INVALID, "\"%s\" is not a valid label name",
                        s ? kb_excerpt(tmp, sizeof(tmp), s, strlen(s)) : "");
            goto fail;
        }
        c->source_labels[c->nsource_labels++] = kb_strdup(s);
    }
    if ((st = copy_text(&c->separator, spec->separator, DEFAULT_SEPARATOR,
                        "separator", err)) ||
        (st = copy_text(&c->target_label, spec->target_label, "",
                        "target_label", err)) ||
        (st = copy_text(&c->replacement, spec->replacement, DEFAULT_REPLACEMENT,
                        "replacement", err)))
        goto fail;
    const char *re = spec->regex ? spec->regex : DEFAULT_REGEX;
    st = kb_regex_compile(re, strlen(re), 0, &c->regex, err);
    if (st != KB_OK)
        goto fail;
    c->regex_text = kb_strdup(re);
    if ((st = validate(c, err)) != KB_OK)
        goto fail;
    if (c->action == RELABEL_REPLACE &&
        (st = tpl_parse(&c->target_tpl, c->target_label, c->regex, err)))
        goto fail;
    if ((c->action == RELABEL_REPLACE || c->action == RELABEL_LABELMAP) &&
        (st = tpl_parse(&c->replacement_tpl, c->replacement, c->regex, err)))
        goto fail;
    if (c->action == RELABEL_LOWERCASE || c->action == RELABEL_UPPERCASE)
        c->case_locale = utf8_locale();
    return KB_OK;
fail:
    relabel_config_free(c);
    return st;
}

void relabel_config_free(struct relabel_config *c)
{
    for (size_t i = 0; i < c->nsource_labels; i++)
        free(c->source_labels[i]);
    free(c->source_labels);
    free(c->separator);
    free(c->target_label);
    free(c->regex_text);
    kb_regex_free(c->regex);
    free(c->replacement);
    tpl_free(&c->target_tpl);
    tpl_free(&c->replacement_tpl);
    if (c->case_locale != (locale_t)0)
        freelocale(c->case_locale);
    memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ processing */

/* Scratch space for one relabel_process_builder call. */
struct scratch {
    struct buf val;  /* joined source values */
    struct buf name; /* expanded target names */
    struct buf out;  /* expanded values */
    struct kb_regex_span *spans;
    size_t nspans;
    struct kb_regex_span stack[SPANS_STACK];
};

static void put_utf8(struct buf *b, uint32_t cp)
{
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xc0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xe0 | cp >> 12);
        s[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        s[0] = (char)(0xf0 | cp >> 18);
        s[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        s[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        s[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, s, n);
}

/* Lower- or upper-case s[0..n) into `out`, code point by code point. */
static void change_case(const struct relabel_config *c, const char *s, size_t n,
                        bool upper, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = kb_utf8_seq((const uint8_t *)s + i, n - i, &cp);
        if (k == 0) { /* cannot happen: values are UTF-8 */
            buf_putc(out, s[i++]);
            continue;
        }
        i += k;
        if (cp < 0x80 || c->case_locale == (locale_t)0) {
            if (cp < 0x80 && upper && cp >= 'a' && cp <= 'z')
                cp -= 'a' - 'A';
            else if (cp < 0x80 && !upper && cp >= 'A' && cp <= 'Z')
                cp += 'a' - 'A';
        } else {
            wint_t w = upper ? towupper_l((wint_t)cp, c->case_locale)
                             : towlower_l((wint_t)cp, c->case_locale);
            if (w <= 0x10ffff && !(w >= 0xd800 && w <= 0xdfff))
                cp = (uint32_t)w;
        }
        put_utf8(out, cp);
    }
}

static enum kb_status set_label(struct labels_builder *b, const char *name,
                                struct buf *value, struct kb_err *err)
{
    if (value->len > LABEL_VALUE_MAX)
        return kb_errf(err, KB_ERR_LIMIT,
                       "value of label \"%s\" longer than %d bytes", name,
                       LABEL_VALUE_MAX);
    return labels_builder_set(b, name, buf_cstr(value), err);
}

/* The expanded replacement, or KB_ERR_LIMIT past LABEL_VALUE_MAX. */
static enum kb_status expand_value(const struct relabel_tpl *t, const char *s,
                                   struct scratch *sc, const char *target,
                                   struct kb_err *err)
{
    buf_reset(&sc->out);
    if (tpl_expand(t, s, sc->spans, &sc->out) != KB_OK)
        return kb_errf(err, KB_ERR_LIMIT,
                       "value of label \"%s\" longer than %d bytes", target,
                       LABEL_VALUE_MAX);
    return KB_OK;
}

/* Apply one label-name action (labelmap, labeldrop, labelkeep) to a
 * snapshot of `b`. */
static enum kb_status name_step(const struct relabel_config *c,
                                struct labels_builder *b, struct scratch *sc,
                                struct kb_err *err)
{
    struct labels *snap = NULL;
    enum kb_status st = labels_builder_finish(b, &snap, err);
    if (st != KB_OK)
        return st;
    for (size_t i = 0; i < labels_count(snap); i++) {
        const struct label *l = labels_at(snap, i);
        bool m;
        st = kb_regex_exec_groups(c->regex, l->name, l->name_len, sc->spans,
                                  sc->nspans, &m, err);
        if (st != KB_OK)
            goto fail;
        if (c->action == RELABEL_LABELDROP && m)
            labels_builder_del(b, l->name);
        else if (c->action == RELABEL_LABELKEEP && !m)
            labels_builder_del(b, l->name);
        else if (c->action == RELABEL_LABELMAP && m) {
            buf_reset(&sc->name);
            if (tpl_expand(&c->replacement_tpl, l->name, sc->spans,
                           &sc->name) != KB_OK ||
                !labels_name_valid((const char *)sc->name.data, sc->name.len))
                continue;
            st = labels_builder_set(b, buf_cstr(&sc->name), l->value, err);
            if (st != KB_OK)
                goto fail;
        }
    }
fail:
    labels_free(snap);
    return st;
}

static enum kb_status step(const struct relabel_config *c,
                           struct labels_builder *b, struct scratch *sc,
                           bool *keep, struct kb_err *err)
{
    enum kb_status st = KB_OK;
    struct buf *val = &sc->val;
    bool m;

    buf_reset(val);
    for (size_t i = 0; i < c->nsource_labels; i++) {
        const char *v = labels_builder_get(b, c->source_labels[i]);
        if ((i > 0 && buf_puts(val, c->separator) != KB_OK) ||
            (v && buf_puts(val, v) != KB_OK))
            return kb_errf(err, KB_ERR_LIMIT, "source values too long");
    }
    const char *s = buf_cstr(val);
    switch (c->action) {
    case RELABEL_KEEP:
    case RELABEL_DROP:
        st = kb_regex_exec(c->regex, s, val->len, &m, err);
        if (st == KB_OK && m != (c->action == RELABEL_KEEP))
            *keep = false;
        break;
    case RELABEL_KEEPEQUAL:
    case RELABEL_DROPEQUAL: {
        const char *t = labels_builder_get(b, c->target_label);
        bool eq = strcmp(t ? t : "", s) == 0;
        if (eq != (c->action == RELABEL_KEEPEQUAL))
            *keep = false;
        break;
    }
    case RELABEL_REPLACE:
        st = kb_regex_exec_groups(c->regex, s, val->len, sc->spans, sc->nspans,
                                  &m, err);
        if (st != KB_OK || !m)
            break;
        buf_reset(&sc->name);
        if (tpl_expand(&c->target_tpl, s, sc->spans, &sc->name) != KB_OK ||
            !labels_name_valid((const char *)sc->name.data, sc->name.len))
            break;
        st = expand_value(&c->replacement_tpl, s, sc, buf_cstr(&sc->name), err);
        if (st == KB_OK)
            st = set_label(b, buf_cstr(&sc->name), &sc->out, err);
        break;
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE:
        change_case(c, s, val->len, c->action == RELABEL_UPPERCASE, &sc->out);
        st = set_label(b, c->target_label, &sc->out, err);
        break;
    case RELABEL_HASHMOD: {
        uint8_t d[KB_MD5_SIZE];
        uint64_t h = 0;
        char num[24];
        kb_md5(s, val->len, d);
        for (int i = 8; i < 16; i++)
            h = h << 8 | d[i];
        snprintf(num, sizeof(num), "%llu",
                 (unsigned long long)(h % c->modulus));
        st = labels_builder_set(b, c->target_label, num, err);
        break;
    }
    case RELABEL_LABELMAP:
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP:
        st = name_step(c, b, sc, err);
        break;
    }
    return st;
}

enum kb_status relabel_process_builder(const struct relabel_config *cfgs,
                                       size_t n, struct labels_builder *b,
                                       bool *keep, struct kb_err *err)
{
    struct scratch sc;
    enum kb_status st = KB_OK;
    *keep = true;
    if (n > RELABEL_CONFIGS_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "more than %d relabel configs",
                       RELABEL_CONFIGS_MAX);
    size_t need = 1;
    for (size_t i = 0; i < n; i++) {
        int g = cfgs[i].target_tpl.max_group;
        if (cfgs[i].replacement_tpl.max_group > g)
            g = cfgs[i].replacement_tpl.max_group;
        if ((size_t)(g + 1) > need)
            need = (size_t)(g + 1);
    }
    buf_init(&sc.val, JOINED_MAX);
    buf_init(&sc.name, LABEL_NAME_MAX + 1);
    buf_init(&sc.out, LABEL_VALUE_MAX + 1);
    sc.nspans = need;
    sc.spans =
        need <= SPANS_STACK ? sc.stack : kb_calloc(need, sizeof(*sc.spans));
    for (size_t i = 0; i < n && *keep; i++) {
        st = step(&cfgs[i], b, &sc, keep, err);
        if (st != KB_OK) {
            kb_err_prefix(err, "relabel_configs[%zu] (%s)", i,
                          relabel_action_name(cfgs[i].action));
            break;
        }
    }
    buf_free(&sc.val);
    buf_free(&sc.name);
    buf_free(&sc.out);
    if (sc.spans != sc.stack)
        free(sc.spans);
    return st;
}

enum kb_status relabel_process(const struct relabel_config *cfgs, size_t n,
                               const struct labels *in, struct labels **out,
                               bool *keep, struct kb_err *err)
{
    struct labels_builder *b = labels_builder_new();
    *out = NULL;
    labels_builder_reset(b, in);
    enum kb_status st = relabel_process_builder(cfgs, n, b, keep, err);
    if (st == KB_OK && *keep)
        st = labels_builder_finish(b, out, err);
    if (st != KB_OK)
        *keep = false;
    labels_builder_free(b);
    return st;
}

/* ------------------------------------------------------------- targets */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Set name=value unless the builder already has `name`. */
static enum kb_status set_default(struct labels_builder *b, const char *name,
                                  const char *value, struct kb_err *err)
{
    if (labels_builder_get(b, name) != NULL)
        return KB_OK;
    return labels_builder_set(b, name, value, err);
}

static enum kb_status check_address(const char *a, struct kb_err *err)
{
    char tmp[KB_EXCERPT_MAX];
    for (const char *p = a; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch == 0x7f || strchr("/?#@\\", ch))
            return kb_errf(err, KB_ERR_INVALID,
                           "\"%s\" is not a valid hostname",
                           kb_excerpt(tmp, sizeof(tmp), a, strlen(a)));
    }
    return KB_OK;
}

static enum kb_status parse_duration_label(const struct labels *ls,
                                           const char *name, int64_t *ms,
                                           struct kb_err *err)
{
    const char *v = labels_get(ls, name);
    *ms = 0;
    if (v == NULL)
        return KB_OK;
    enum kb_status st = kb_duration_parse(v, strlen(v), ms, err);
    if (st != KB_OK)
        return kb_err_prefix(err, "error parsing %s", name);
    return KB_OK;
}

struct param_ent {
    char *name;
    char *value;
    size_t order;
};

static int param_cmp(const void *x, const void *y)
{
    const struct param_ent *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c != 0)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Go's url.QueryEscape. */
static void query_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (ascii_word(c) || c == '-' || c == '.' || c == '~')
            buf_putc(out, (char)c);
        else if (c == ' ')
            buf_putc(out, '+');
        else
            buf_printf(out, "%%%02X", c);
    }
}

/* Params for the URL: job params, __param_ labels replacing first values. */
static enum kb_status make_params(const struct relabel_job *job,
                                  struct relabel_target *t, struct kb_err *err)
{
    struct param_ent *e = NULL;
    size_t n = 0, cap = 0, order = 0;
    enum kb_status st = KB_OK;
    size_t plen = strlen(RELABEL_PARAM_PREFIX);
    for (size_t i = 0; i < job->nparams; i++) {
        if (n >= RELABEL_PARAMS_MAX)
            goto limit;
        e = kb_grow(e, &cap, n + 1, sizeof(*e));
        e[n++] = (struct param_ent){kb_strdup(job->params[i].name),
                                    kb_strdup(job->params[i].value), order++};
    }
    for (size_t i = 0; i < labels_count(t->all); i++) {
        const struct label *l = labels_at(t->all, i);
        if (!has_prefix(l->name, RELABEL_PARAM_PREFIX))
            continue;
        const char *k = l->name + plen;
        size_t j = 0;
        while (j < n && strcmp(e[j].name, k) != 0)
            j++;
        if (j < n) {
            free(e[j].value);
            e[j].value = kb_strdup(l->value);
            continue;
        }
        if (n >= RELABEL_PARAMS_MAX)
            goto limit;
        e = kb_grow(e, &cap, n + 1, sizeof(*e));
        e[n++] = (struct param_ent){kb_strdup(k), kb_strdup(l->value), order++};
    }
    if (n > 1)
        qsort(e, n, sizeof(*e), param_cmp);
    struct buf q;
    buf_init(&q, BUF_NO_LIMIT);
    t->params = kb_calloc(n ? n : 1, sizeof(*t->params));
    for (size_t i = 0; i < n; i++) {
        t->params[i].name = e[i].name;
        t->params[i].value = e[i].value;
        if (i > 0)
            buf_putc(&q, '&');
        query_escape(&q, e[i].name);
        buf_putc(&q, '=');
        query_escape(&q, e[i].value);
    }
    t->nparams = n;
    t->query = (char *)buf_take(&q, NULL);
    buf_free(&q);
    free(e);
    return KB_OK;
limit:
    st = kb_errf(err, KB_ERR_LIMIT, "more than %d query parameters",
                 RELABEL_PARAMS_MAX);
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].value);
    }
    free(e);
    return st;
}

enum kb_status relabel_populate(const struct relabel_job *job,
                                const struct labels *target,
                                const struct labels *group,
                                struct relabel_target *out, bool *keep,
                                struct kb_err *err)
{
    struct labels_builder *b = labels_builder_new();
    struct labels *snap = NULL;
    char *addr = NULL, dur[KB_DURATION_STR_MAX], pname[LABEL_NAME_MAX + 1];
    enum kb_status st;
    char tmp[KB_EXCERPT_MAX];

    memset(out, 0, sizeof(*out));
    *keep = false;
    labels_builder_reset(b, target);
    for (size_t i = 0; group && i < labels_count(group); i++) {
        const struct label *l = labels_at(group, i);
        if ((st = set_default(b, l->name, l->value, err)))
            goto fail;
    }
    if ((st = set_default(b, "job", job->job_name ? job->job_name : "", err)))
        goto fail;
    if (job->scrape_interval_ms > 0 &&
        (st = set_default(b, RELABEL_SCRAPE_INTERVAL,
                          kb_duration_format(job->scrape_interval_ms, dur),
                          err)))
        goto fail;
    if (job->scrape_timeout_ms > 0 &&
        (st =
             set_default(b, RELABEL_SCRAPE_TIMEOUT,
                         kb_duration_format(job->scrape_timeout_ms, dur), err)))
        goto fail;
    if (job->metrics_path &&
        (st = set_default(b, RELABEL_METRICS_PATH, job->metrics_path, err)))
        goto fail;
    if ((st = set_default(b, RELABEL_SCHEME, job->scheme ? job->scheme : "http",
                          err)))
        goto fail;
    for (size_t i = 0; i < job->nparams; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(job->params[j].name, job->params[i].name) != 0;
        int k = snprintf(pname, sizeof(pname), "%s%s", RELABEL_PARAM_PREFIX,
                         job->params[i].name);
        if (!first || k < 0 || (size_t)k >= sizeof(pname) ||
            !labels_name_valid(pname, (size_t)k))
            continue;
        if ((st = set_default(b, pname, job->params[i].value, err)))
            goto fail;
    }

    st = relabel_process_builder(job->relabel, job->nrelabel, b, keep, err);
    if (st != KB_OK || !*keep)
        goto fail;

    const char *a = labels_builder_get(b, RELABEL_ADDRESS);
    if (a == NULL) {
        st = kb_errf(err, KB_ERR_INVALID, "no address");
        goto fail;
    }
    addr = kb_strdup(a);
    if ((st = check_address(addr, err)))
        goto fail;
    const char *sch = labels_builder_get(b, RELABEL_SCHEME);
    if (sch == NULL || (strcmp(sch, "http") && strcmp(sch, "https"))) {
        st = kb_errf(err, KB_ERR_INVALID, "scheme \"%s\" is not http or https",
                     sch ? kb_excerpt(tmp, sizeof(tmp), sch, strlen(sch)) : "");
        goto fail;
    }
    /* Meta labels go; other __ labels stay in `all` for the target. */
    if ((st = labels_builder_finish(b, &snap, err)))
        goto fail;
    for (size_t i = 0; i < labels_count(snap); i++)
        if (has_prefix(labels_at(snap, i)->name, RELABEL_META_PREFIX))
            labels_builder_del(b, labels_at(snap, i)->name);
    if ((st = set_default(b, "instance", addr, err)))
        goto fail;
    if ((st = labels_builder_finish(b, &out->all, err)))
        goto fail;
    if ((st = parse_duration_label(out->all, RELABEL_SCRAPE_INTERVAL,
                                   &out->scrape_interval_ms, err)) ||
        (st = parse_duration_label(out->all, RELABEL_SCRAPE_TIMEOUT,
                                   &out->scrape_timeout_ms, err)))
        goto fail;
    if (labels_get(out->all, RELABEL_SCRAPE_INTERVAL) &&
        out->scrape_interval_ms == 0) {
        st = kb_errf(err, KB_ERR_INVALID, "scrape interval cannot be 0");
        goto fail;
    }
    labels_builder_reset(b, NULL);
    for (size_t i = 0; i < labels_count(out->all); i++) {
        const struct label *l = labels_at(out->all, i);
        if (!has_prefix(l->name, "__") &&
            (st = labels_builder_add(b, l->name, l->value, err)))
            goto fail;
    }
    if ((st = labels_builder_finish(b, &out->labels, err)))
        goto fail;
    out->scheme = labels_get(out->all, RELABEL_SCHEME);
    out->address = labels_get(out->all, RELABEL_ADDRESS);
    out->metrics_path = labels_get(out->all, RELABEL_METRICS_PATH);
    if ((st = make_params(job, out, err)))
        goto fail;
    labels_free(snap);
    labels_builder_free(b);
    free(addr);
    return KB_OK;
fail:
    labels_free(snap);
    labels_builder_free(b);
    free(addr);
    relabel_target_free(out);
    if (st != KB_OK)
        *keep = false;
    return st;
}

void relabel_target_free(struct relabel_target *t)
{
    if (t == NULL)
        return;
    labels_free(t->labels);
    labels_free(t->all);
    for (size_t i = 0; i < t->nparams; i++) {
        free((char *)t->params[i].name);
        free((char *)t->params[i].value);
    }
    free(t->params);
    free(t->query);
    memset(t, 0, sizeof(*t));
}
