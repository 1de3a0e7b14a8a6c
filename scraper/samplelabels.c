/* scraper/samplelabels.c: pprof sample labels to series labels.
 *
 * What. Go programs tag work with pprof.Labels / pprof.Do, and
 * libkiln-exporter with its tags; the tags arrive as string labels on the
 * samples ({"handler": "/api"}). The database keeps no sample labels
 * (tsdb_append_profile), so the scraper makes them series labels: a
 * profile is split into one part per distinct set of string labels, and
 * each part is stored under the target's labels plus that part's labels.
 * Numeric labels (Go heap's "bytes") are not series labels; they stay on
 * the samples.
 *
 * Rules (docs/scraping.md, "Sample labels", has them with an example):
 *  - A label with an empty value, a value longer than LABEL_VALUE_MAX, or
 *    a value that is not UTF-8 (or holds a NUL byte) is ignored.
 *  - A name is sanitized: every byte outside [a-zA-Z0-9_], and every
 *    multi-byte UTF-8 character as a whole, becomes '_'; a name starting
 *    with a digit gets a '_' in front. Names that are then empty, start
 *    with "__" (reserved) or are longer than LABEL_NAME_MAX are ignored.
 *  - Two labels of one sample with the same (sanitized) name: the one with
 *    the smaller value (bytewise) wins.
 *  - A name that is a target label's gets "exported_" in front, again and
 *    again until it is neither a target label's nor another label's of
 *    the set (Prometheus' honor_labels: false); past LABEL_NAME_MAX it is
 *    ignored.
 *  - At most max_sets non-empty sets get parts, in order of first
 *    appearance; the samples of later sets, and of sets too large to fit
 *    beside the target labels and __name__ in LABELS_MAX, go to the
 *    unlabeled part, and the number of such sets is reported.
 *
 * Design. One pass over the samples: each sample's string labels are
 * sanitized (memoized per string index, names and values), sorted and
 * deduplicated, and encoded as a key; a hash map from key to part gives
 * the sample's part. The series labels of a set are built once, when the
 * set first appears. A second pass builds one profile per part with
 * scrape_subset (delta.h), the samples bucketed by part first, so each
 * part costs its own samples and symbols. When all samples land in one
 * part, that part borrows the input instead: the common case of a profile
 * without string labels is one scan of the samples and no copy.
 *
 * Ownership. Parts own their extra labels and, unless borrowed, their
 * profile. Everything else here is scratch freed before returning.
 */
#include "scraper/samplelabels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/text.h"
#include "scraper/delta.h"

#define FOLDED UINT64_MAX    /* sets map value: the set was folded */
#define NAME_DROP UINT32_MAX /* name memo: the name is ignored */
#define NO_PART SIZE_MAX

/* A sanitized name. */
struct name {
    const char *s; /* NUL-terminated, in the arena */
    size_t len;
};

/* One series label of a sample, before renaming. */
struct pair {
    const struct name *name;
    const char *value; /* NUL-terminated (pprof strings are) */
    size_t value_len;
};

struct splitter {
    const struct pprof_profile *p;
    const struct labels *target;
    size_t max_sets, room; /* room: series labels a part may add */
    struct arena *arena;
    uint32_t *name_memo; /* per string: 0 unknown, NAME_DROP, or index+1 */
    struct name *names;
    size_t n_names, cap_names;
    uint8_t *value_memo; /* per string: 0 unknown, 1 usable, 2 ignored */
    struct pair *pairs;  /* scratch: one sample's pairs */
    size_t cap_pairs;
    struct buf key, tmp; /* scratch: set key, a renamed name */
    struct hmap *sets;   /* set key -> part index, or FOLDED */
    struct labels_builder *lb;
    struct scrape_label_split *parts;
    size_t n_parts, cap_parts;
    size_t unlabeled; /* part index, or NO_PART before it is needed */
    size_t n_labeled, n_folded;
    size_t *sample_part; /* per sample */
};

/* ---- Names and values --------------------------------------------------- */

static bool name_byte(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* The sanitized name of string `k`, or NULL when it is ignored. */
static const struct name *sanitized(struct splitter *sp, uint32_t k)
{
    uint32_t *memo = &sp->name_memo[k];
    if (*memo == NAME_DROP)
        return NULL;
    if (*memo != 0)
        return &sp->names[*memo - 1];
    const uint8_t *s = (const uint8_t *)sp->p->strings[k];
    size_t n = sp->p->string_lens[k];
    struct buf *b = &sp->tmp;
    buf_reset(b);
    if (n > 0 && s[0] >= '0' && s[0] <= '9')
        (void)buf_putc(b, '_');
    for (size_t i = 0; i < n;) {
        size_t len = name_byte(s[i]) ? 1 : kb_utf8_seq(s + i, n - i, NULL);
        (void)buf_putc(b, name_byte(s[i]) ? (char)s[i] : '_');
        i += len ? len : 1;
    }
    if (b->len == 0 || b->len > LABEL_NAME_MAX ||
        (b->len >= 2 && b->data[0] == '_' && b->data[1] == '_')) {
        *memo = NAME_DROP;
        return NULL;
    }
    sp->names =
        kb_grow(sp->names, &sp->cap_names, sp->n_names + 1, sizeof(*sp->names));
    struct name *nm = &sp->names[sp->n_names++];
    nm->s = arena_strndup(sp->arena, (const char *)b->data, b->len);
    nm->len = b->len;
    *memo = (uint32_t)sp->n_names;
    return nm;
}

/* Whether string `v` can be a label value. */
static bool value_usable(struct splitter *sp, uint32_t v)
{
    uint8_t *memo = &sp->value_memo[v];
    if (*memo == 0) {
        const char *s = sp->p->strings[v];
        size_t n = sp->p->string_lens[v];
        bool ok = n > 0 && n <= LABEL_VALUE_MAX && memchr(s, 0, n) == NULL &&
                  kb_utf8_valid(s, n);
        *memo = ok ? 1 : 2;
    }
    return *memo == 1;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r != 0)
        return r;
    return an < bn ? -1 : an > bn;
}

static int cmp_pair(const void *pa, const void *pb)
{
    const struct pair *a = pa, *b = pb;
    int r = cmp_bytes(a->name->s, a->name->len, b->name->s, b->name->len);
    return r ? r : cmp_bytes(a->value, a->value_len, b->value, b->value_len);
}

/* The series label pairs of sample `s` into sp->pairs, sorted by name, one
 * per name; returns how many. */
static size_t sample_pairs(struct splitter *sp, const struct pprof_sample *s)
{
    sp->pairs =
        kb_grow(sp->pairs, &sp->cap_pairs, s->n_labels + 1, sizeof(*sp->pairs));
    size_t n = 0;
    for (uint32_t j = 0; j < s->n_labels; j++) {
        const struct pprof_label *l = &s->labels[j];
        if (l->str == 0 || !value_usable(sp, l->str))
            continue;
        const struct name *nm = sanitized(sp, l->key);
        if (nm == NULL)
            continue;
        sp->pairs[n++] = (struct pair){nm, sp->p->strings[l->str],
                                       sp->p->string_lens[l->str]};
    }
    if (n > 1)
        qsort(sp->pairs, n, sizeof(*sp->pairs), cmp_pair);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 ||
            cmp_bytes(sp->pairs[m - 1].name->s, sp->pairs[m - 1].name->len,
                      sp->pairs[i].name->s, sp->pairs[i].name->len) != 0)
            sp->pairs[m++] = sp->pairs[i];
    return m;
}

/* ---- Parts -------------------------------------------------------------- */

static size_t add_part(struct splitter *sp, struct labels *extra)
{
    sp->parts =
        kb_grow(sp->parts, &sp->cap_parts, sp->n_parts + 1, sizeof(*sp->parts));
    sp->parts[sp->n_parts] = (struct scrape_label_split){.extra = extra};
    return sp->n_parts++;
}

static size_t unlabeled_part(struct splitter *sp)
{
    if (sp->unlabeled == NO_PART)
        sp->unlabeled = add_part(sp, labels_new_empty());
    return sp->unlabeled;
}

/* Whether `name` is taken by a target label or a label already in the
 * builder. */
static bool name_taken(struct splitter *sp, const char *name)
{
    return labels_get(sp->target, name) != NULL ||
           labels_builder_get(sp->lb, name) != NULL;
}

/* The series labels of the pairs sp->pairs[0..n): names that are target
 * labels' are renamed "exported_<name>" (repeatedly, see the top). */
static enum kb_status set_labels(struct splitter *sp, size_t n,
                                 struct labels **out, struct kb_err *err)
{
    labels_builder_reset(sp->lb, NULL);
    enum kb_status st;
    for (size_t i = 0; i < n; i++) {
        const struct pair *pr = &sp->pairs[i];
        if (labels_get(sp->target, pr->name->s) != NULL)
            continue;
        if ((st = labels_builder_add(sp->lb, pr->name->s, pr->value, err)))
            return st;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pair *pr = &sp->pairs[i];
        if (labels_get(sp->target, pr->name->s) == NULL)
            continue;
        struct buf *b = &sp->tmp;
        for (size_t k = 1;; k++) {
            buf_reset(b);
            for (size_t r = 0; r < k; r++)
                (void)buf_puts(b, SCRAPE_EXPORTED_PREFIX);
            (void)buf_append(b, pr->name->s, pr->name->len);
            if (b->len > LABEL_NAME_MAX)
                break; /* ignored */
            if (!name_taken(sp, buf_cstr(b))) {
                st = labels_builder_add(sp->lb, buf_cstr(b), pr->value, err);
                if (st)
                    return st;
                break;
            }
        }
    }
    return labels_builder_finish(sp->lb, out, err);
}

/* The part of a sample with pairs sp->pairs[0..n), creating it (or folding
 * its set) when the set is new. */
static enum kb_status part_of(struct splitter *sp, size_t n, size_t *part,
                              struct kb_err *err)
{
    if (n == 0) {
        *part = unlabeled_part(sp);
        return KB_OK;
    }
    struct buf *key = &sp->key;
    buf_reset(key);
    for (size_t i = 0; i < n; i++) {
        const struct pair *pr = &sp->pairs[i];
        uint32_t len[2] = {(uint32_t)pr->name->len, (uint32_t)pr->value_len};
        (void)buf_append(key, &len[0], sizeof(len[0]));
        (void)buf_append(key, pr->name->s, pr->name->len);
        (void)buf_append(key, &len[1], sizeof(len[1]));
        (void)buf_append(key, pr->value, pr->value_len);
    }
    bool found;
    uint64_t *v = hmap_put(sp->sets, key->data, key->len, &found);
    if (found) {
        *part = *v == FOLDED ? unlabeled_part(sp) : (size_t)*v;
        return KB_OK;
    }
    if (sp->n_labeled >= sp->max_sets || n > sp->room) {
        *v = FOLDED;
        sp->n_folded++;
        *part = unlabeled_part(sp);
        return KB_OK;
    }
    *v = sp->n_parts; /* the index add_part gives below */
    struct labels *extra = NULL;
    enum kb_status st = set_labels(sp, n, &extra, err);
    if (st)
        return st;
    *part = add_part(sp, extra);
    sp->n_labeled++;
    return KB_OK;
}

/* Give every part but a lone one a profile of its own samples. */
static void build_profiles(struct splitter *sp)
{
    const struct pprof_profile *p = sp->p;
    if (sp->n_parts == 1) {
        sp->parts[0].profile = p;
        return;
    }
    /* Bucket the samples by part (a counting sort), then build each part
     * from its bucket. */
    size_t *start = kb_calloc(sp->n_parts + 1, sizeof(*start));
    size_t *order = kb_calloc(p->n_samples + 1, sizeof(*order));
    for (size_t i = 0; i < p->n_samples; i++)
        start[sp->sample_part[i] + 1]++;
    for (size_t k = 0; k < sp->n_parts; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < p->n_samples; i++)
        order[start[sp->sample_part[i]]++] = i;
    for (size_t k = 0, i = 0; k < sp->n_parts; k++) {
        struct scrape_subset b;
        scrape_subset_init(&b, p, NULL, 0);
        for (; i < start[k]; i++)
            scrape_subset_add(&b, &p->samples[order[i]], NULL);
        sp->parts[k].owned = scrape_subset_finish(&b);
        sp->parts[k].profile = sp->parts[k].owned;
    }
    free(start);
    free(order);
}

static bool has_string_labels(const struct pprof_profile *p)
{
    for (size_t i = 0; i < p->n_samples; i++)
        for (uint32_t j = 0; j < p->samples[i].n_labels; j++)
            if (p->samples[i].labels[j].str != 0)
                return true;
    return false;
}

enum kb_status scrape_split_by_labels(const struct pprof_profile *p,
                                      const struct labels *target_labels,
                                      size_t max_sets,
                                      struct scrape_label_split **parts,
                                      size_t *n_parts, size_t *n_folded,
                                      struct kb_err *err)
{
    *parts = NULL;
    *n_parts = 0;
    *n_folded = 0;
    if (!has_string_labels(p)) {
        *parts = kb_calloc(1, sizeof(**parts));
        (*parts)[0].extra = labels_new_empty();
        (*parts)[0].profile = p;
        *n_parts = 1;
        return KB_OK;
    }
    size_t used = labels_count(target_labels) + 1; /* + __name__ */
    struct splitter sp = {
        .p = p,
        .target = target_labels,
        .max_sets = max_sets,
        .room = used < LABELS_MAX ? LABELS_MAX - used : 0,
        .arena = arena_new(0),
        .name_memo = kb_calloc(p->n_strings, sizeof(uint32_t)),
        .value_memo = kb_calloc(p->n_strings, 1),
        .sets = hmap_new(0),
        .lb = labels_builder_new(),
        .unlabeled = NO_PART,
        .sample_part = kb_calloc(p->n_samples, sizeof(size_t)),
    };
    buf_init(&sp.key, BUF_NO_LIMIT);
    buf_init(&sp.tmp, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < p->n_samples && st == KB_OK; i++) {
        size_t n = sample_pairs(&sp, &p->samples[i]);
        st = part_of(&sp, n, &sp.sample_part[i], err);
    }
    if (st == KB_OK) {
        build_profiles(&sp);
        *parts = sp.parts;
        *n_parts = sp.n_parts;
        *n_folded = sp.n_folded;
    } else {
        scrape_label_split_free(sp.parts, sp.n_parts);
    }
    arena_free(sp.arena);
    free(sp.name_memo);
    free(sp.value_memo);
    free(sp.names);
    free(sp.pairs);
    buf_free(&sp.key);
    buf_free(&sp.tmp);
    hmap_free(sp.sets);
    labels_builder_free(sp.lb);
    free(sp.sample_part);
    return st;
}

void scrape_label_split_free(struct scrape_label_split *parts, size_t n)
{
    if (parts == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        labels_free(parts[i].extra);
        pprof_free(parts[i].owned);
    }
    free(parts);
}
