/* discovery/group.c: target groups and group sets.
 *
 * Design. A target group is plain data the scraper reads: a source string,
 * an array of target label sets, and the group's label set. Everything is
 * owned by the group (each label set is one allocation, see base/labels.c),
 * so copying a group is a few allocations and freeing it is a loop. A group
 * set is an owning array of groups; providers keep one per source of truth
 * (per file for file_sd) and one for all of it, and compare sets to decide
 * whether anything changed (disc_group_set_equal), so the scraper is only
 * told about real changes.
 *
 * Addresses are checked loosely here (UTF-8, no spaces or control bytes, a
 * length limit): relabeling may turn a target into anything, so the scraper
 * checks host:port after relabeling, as Prometheus does.
 *
 * The mechanisms that make groups are elsewhere: static.c (static_configs)
 * and file_sd.c (file_sd_configs).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/text.h"
#include "discovery/group.h"

struct disc_group *disc_group_new(const char *source)
{
    struct disc_group *g = kb_calloc(1, sizeof(*g));
    g->source = kb_strdup(source);
    g->labels = labels_new_empty();
    return g;
}

void disc_group_free(struct disc_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_targets; i++)
        labels_free(g->targets[i]);
    free(g->targets);
    labels_free(g->labels);
    free(g->source);
    free(g);
}

struct disc_group *disc_group_dup(const struct disc_group *g)
{
    struct disc_group *c = disc_group_new(g->source);
    disc_group_set_labels(c, labels_dup(g->labels));
    c->targets =
        kb_calloc(g->n_targets ? g->n_targets : 1, sizeof(*c->targets));
    c->cap_targets = g->n_targets ? g->n_targets : 1;
    for (size_t i = 0; i < g->n_targets; i++)
        c->targets[i] = labels_dup(g->targets[i]);
    c->n_targets = g->n_targets;
    return c;
}

bool disc_group_equal(const struct disc_group *a, const struct disc_group *b)
{
    if (strcmp(a->source, b->source) != 0 || a->n_targets != b->n_targets ||
        !labels_equal(a->labels, b->labels))
        return false;
    for (size_t i = 0; i < a->n_targets; i++)
        if (!labels_equal(a->targets[i], b->targets[i]))
            return false;
    return true;
}

bool disc_address_valid(const char *s, size_t n)
{
    if (n == 0 || n > DISC_ADDRESS_MAX || !kb_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

enum kb_status disc_group_add_address(struct disc_group *g, const char *addr,
                                      struct kb_err *err)
{
    char tmp[KB_EXCERPT_MAX];
    size_t n = strlen(addr);
    if (!disc_address_valid(addr, n)) {
        if (n == 0)
            return kb_errf(err, KB_ERR_INVALID, "empty target address");
        if (n > DISC_ADDRESS_MAX)
            return kb_errf(
                err, KB_ERR_LIMIT, "target address \"%s\" longer than %d bytes",
                kb_excerpt(tmp, sizeof(tmp), addr, n), DISC_ADDRESS_MAX);
        return kb_errf(err, KB_ERR_INVALID,
                       "invalid target address \"%s\": spaces, control "
                       "characters and bad UTF-8 are not allowed",
                       kb_excerpt(tmp, sizeof(tmp), addr, n));
    }
    struct labels *ls = NULL;
    enum kb_status st =
        labels_from_strings(&ls, err, DISC_ADDRESS_LABEL, addr, NULL);
    if (st != KB_OK)
        return st;
    return disc_group_add_target(g, ls, err);
}

enum kb_status disc_group_add_target(struct disc_group *g, struct labels *ls,
                                     struct kb_err *err)
{
    const char *addr = labels_get(ls, DISC_ADDRESS_LABEL);
    if (addr == NULL) {
        labels_free(ls);
        return kb_errf(err, KB_ERR_INVALID, "target without %s",
                       DISC_ADDRESS_LABEL);
    }
    if (!disc_address_valid(addr, strlen(addr))) {
        char tmp[KB_EXCERPT_MAX];
        enum kb_status st =
            kb_errf(err, KB_ERR_INVALID, "invalid target address \"%s\"",
                    kb_excerpt(tmp, sizeof(tmp), addr, strlen(addr)));
        labels_free(ls);
        return st;
    }
    g->targets = kb_grow(g->targets, &g->cap_targets, g->n_targets + 1,
                         sizeof(*g->targets));
    g->targets[g->n_targets++] = ls;
    return KB_OK;
}

void disc_group_set_labels(struct disc_group *g, struct labels *ls)
{
    labels_free(g->labels);
    g->labels = ls != NULL ? ls : labels_new_empty();
}

void disc_group_set_clear(struct disc_group_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        disc_group_free(s->groups[i]);
    free(s->groups);
    s->groups = NULL;
    s->n = s->cap = 0;
}

void disc_group_set_add(struct disc_group_set *s, struct disc_group *g)
{
    s->groups = kb_grow(s->groups, &s->cap, s->n + 1, sizeof(*s->groups));
    s->groups[s->n++] = g;
}

void disc_group_set_move(struct disc_group_set *to, struct disc_group_set *from)
{
    for (size_t i = 0; i < from->n; i++)
        disc_group_set_add(to, from->groups[i]);
    free(from->groups);
    from->groups = NULL;
    from->n = from->cap = 0;
}

void disc_group_set_copy(struct disc_group_set *to,
                         const struct disc_group_set *from)
{
    disc_group_set_clear(to);
    for (size_t i = 0; i < from->n; i++)
        disc_group_set_add(to, disc_group_dup(from->groups[i]));
}

bool disc_group_set_equal(const struct disc_group_set *a,
                          const struct disc_group_set *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!disc_group_equal(a->groups[i], b->groups[i]))
            return false;
    return true;
}

size_t disc_group_set_targets(const struct disc_group_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->groups[i]->n_targets;
    return n;
}
