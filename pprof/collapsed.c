/* pprof/collapsed.c: collapsed stacks ("main;f;g 12"), out and in.
 *
 * Design. The collapsed format (Brendan Gregg's stackcollapse output, read by
 * flamegraph.pl, speedscope and Pyroscope) is one line per distinct stack:
 * frames root first joined by ';', one space, an integer value.
 *
 * Out: every sample's frames are expanded (a location with inlined lines
 * gives one frame per line, outermost first; a location without lines is
 * named by its hex address), identical stacks are summed through a hash map
 * keyed by the line's text, and lines are written sorted, so equal profiles
 * give byte-identical output.
 *
 * In: each distinct frame name becomes one function and one location (no
 * mapping, address 0), each line one sample. The last space separates the
 * value, so frame names may contain spaces but not ';' or newlines.
 */
#include "pprof/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hmap.h"

/* Append the frames of one sample, root first, to `line` (no limit). */
static void append_frames(const struct pprof_profile *p,
                          const struct pprof_sample *s, struct buf *line)
{
    bool first = true;
    for (uint32_t i = s->n_locations; i-- > 0;) {
        const struct pprof_location *l = &p->locations[s->location_ids[i] - 1];
        if (l->n_lines == 0) {
            buf_printf(line, "%s0x%" PRIx64, first ? "" : ";", l->address);
            first = false;
            continue;
        }
        for (uint32_t j = l->n_lines; j-- > 0;) {
            const struct pprof_function *f =
                &p->functions[l->lines[j].function_id - 1];
            if (!first)
                buf_putc(line, ';');
            buf_append(line, p->strings[f->name], p->string_lens[f->name]);
            first = false;
        }
    }
}

struct collapsed_line {
    const char *text;
    size_t len;
    int64_t value;
};

static int line_cmp(const void *a, const void *b)
{
    const struct collapsed_line *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

enum kb_status pprof_collapsed_write(const struct pprof_profile *p,
                                     size_t sample_type, struct buf *out,
                                     struct kb_err *err)
{
    if (sample_type >= p->n_sample_types)
        return kb_errf(err, KB_ERR_USAGE, "no sample type %zu", sample_type);
    struct hmap *stacks = hmap_new(p->n_samples);
    struct buf line;
    buf_init(&line, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < p->n_samples; i++) {
        buf_reset(&line);
        append_frames(p, &p->samples[i], &line);
        uint64_t *v = hmap_put(stacks, line.data ? (void *)line.data : "",
                               line.len, NULL);
        *v += (uint64_t)p->samples[i].values[sample_type];
    }
    size_t n = hmap_count(stacks), k = 0, pos = 0;
    struct collapsed_line *lines = kb_calloc(n, sizeof(*lines));
    const void *key;
    size_t klen;
    uint64_t val;
    while (hmap_next(stacks, &pos, &key, &klen, &val)) {
        if (val == 0)
            continue;
        lines[k].text = key;
        lines[k].len = klen;
        lines[k].value = (int64_t)val;
        k++;
    }
    qsort(lines, k, sizeof(*lines), line_cmp);
    for (size_t i = 0; i < k; i++) {
        if (buf_append(out, lines[i].text, lines[i].len) ||
            buf_printf(out, " %" PRId64 "\n", lines[i].value)) {
            st = kb_errf(err, KB_ERR_LIMIT,
                         "collapsed output exceeds %zu bytes", out->limit);
            break;
        }
    }
    free(lines);
    buf_free(&line);
    hmap_free(stacks);
    return st;
}

/* ---- Parsing ------------------------------------------------------------ */

struct parser {
    struct pprof_profile *p;
    struct hmap *frames; /* name -> location id */
    uint32_t *locs;      /* the current line's location ids, leaf first */
    size_t cap_locs;
    const struct pprof_limits *lim;
    struct kb_err *err;
};

static uint32_t frame_location(struct parser *ps, const char *name, size_t n)
{
    bool found;
    uint64_t *v = hmap_put(ps->frames, name, n, &found);
    if (!found) {
        struct pprof_function f = {.name = pprof_intern(ps->p, name, n)};
        struct pprof_line line = {.function_id = pprof_add_function(ps->p, &f)};
        *v = pprof_add_location(ps->p, 0, 0, &line, 1, false);
    }
    return (uint32_t)*v;
}

static enum kb_status parse_value(const char *s, size_t n, int64_t *out)
{
    char tmp[32];
    if (n == 0 || n >= sizeof(tmp))
        return KB_ERR_INVALID;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end != '\0' || end == tmp)
        return KB_ERR_INVALID;
    *out = v;
    return KB_OK;
}

static enum kb_status parse_line(struct parser *ps, const char *s, size_t n,
                                 size_t lineno)
{
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return KB_OK;
    const char *sp = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == ' ') {
            sp = s + i;
            break;
        }
    if (sp == NULL)
        return kb_errf(ps->err, KB_ERR_INVALID,
                       "line %zu: expected \"frames value\"", lineno);
    int64_t value;
    if (parse_value(sp + 1, (size_t)(s + n - sp - 1), &value))
        return kb_errf(ps->err, KB_ERR_INVALID,
                       "line %zu: value \"%.*s\" is not an integer", lineno,
                       (int)(s + n - sp - 1 > 32 ? 32 : s + n - sp - 1),
                       sp + 1);
    /* Frames, root first in the text; the sample wants leaf first. */
    size_t depth = 0;
    const char *f = s;
    const char *end = sp;
    while (f <= end) {
        const char *semi = memchr(f, ';', (size_t)(end - f));
        const char *fe = semi ? semi : end;
        if (fe == f)
            return kb_errf(ps->err, KB_ERR_INVALID,
                           "line %zu: empty frame name", lineno);
        if (depth >= ps->lim->max_stack_depth)
            return kb_errf(ps->err, KB_ERR_LIMIT,
                           "line %zu: more than %zu frames", lineno,
                           ps->lim->max_stack_depth);
        ps->locs =
            kb_grow(ps->locs, &ps->cap_locs, depth + 1, sizeof(*ps->locs));
        ps->locs[depth++] = frame_location(ps, f, (size_t)(fe - f));
        f = fe + 1;
    }
    for (size_t i = 0; i < depth / 2; i++) {
        uint32_t t = ps->locs[i];
        ps->locs[i] = ps->locs[depth - 1 - i];
        ps->locs[depth - 1 - i] = t;
    }
    if (ps->p->n_samples >= ps->lim->max_samples)
        return kb_errf(ps->err, KB_ERR_LIMIT, "line %zu: more than %zu samples",
                       lineno, ps->lim->max_samples);
    pprof_add_sample(ps->p, ps->locs, (uint32_t)depth, &value, NULL, 0);
    return KB_OK;
}

enum kb_status pprof_collapsed_parse(const char *text, size_t len,
                                     const char *type, const char *unit,
                                     const struct pprof_limits *lim,
                                     struct pprof_profile **out,
                                     struct kb_err *err)
{
    struct pprof_limits deflim;
    if (lim == NULL) {
        pprof_limits_default(&deflim);
        lim = &deflim;
    }
    *out = NULL;
    if (len > lim->max_decompressed)
        return kb_errf(err, KB_ERR_LIMIT, "input is %zu bytes, limit is %zu",
                       len, lim->max_decompressed);
    struct parser ps = {
        .p = pprof_new(), .frames = hmap_new(0), .lim = lim, .err = err};
    pprof_add_sample_type(ps.p, pprof_intern_str(ps.p, type),
                          pprof_intern_str(ps.p, unit));
    enum kb_status st = KB_OK;
    size_t lineno = 1;
    const char *s = text, *end = text + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        if (memchr(s, '\0', (size_t)(le - s))) {
            st = kb_errf(err, KB_ERR_INVALID, "line %zu: NUL byte", lineno);
            break;
        }
        if ((st = parse_line(&ps, s, (size_t)(le - s), lineno)))
            break;
        s = le + 1;
        lineno++;
    }
    hmap_free(ps.frames);
    free(ps.locs);
    if (st) {
        pprof_free(ps.p);
        return st;
    }
    *out = ps.p;
    return KB_OK;
}
