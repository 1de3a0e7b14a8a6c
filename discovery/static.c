/* discovery/static.c: static_configs, the simplest discovery: the targets
 * and labels written in kiln.yml, as target groups.
 *
 * Design. The configuration parser (scraper/config.c) owns the YAML; it
 * hands the already-parsed entries here as plain arrays, so discovery does
 * not depend on it. Each entry becomes one group, "static:<index>", built
 * with the same validation every other mechanism uses (group.c): label
 * names and values through base/labels' builder, addresses through
 * disc_address_valid. Groups are built into a local set and moved to the
 * caller's only when every entry is good, so a bad entry changes nothing.
 * Static groups never change, so there is no provider object: the scraper
 * holds the set.
 */
#include <stdio.h>

#include "base/labels.h"
#include "discovery/static.h"

static enum kb_status one_config(const struct disc_static_config *c,
                                 size_t index, struct labels_builder *b,
                                 struct disc_group_set *set, struct kb_err *err)
{
    char source[32];
    snprintf(source, sizeof(source), "static:%zu", index);
    struct disc_group *g = disc_group_new(source);
    disc_group_set_add(set, g);

    labels_builder_reset(b, NULL);
    for (size_t i = 0; i < c->n_labels; i++) {
        enum kb_status st =
            labels_builder_add(b, c->label_names[i], c->label_values[i], err);
        if (st != KB_OK)
            return kb_err_prefix(err, "label %zu", i);
    }
    struct labels *ls = NULL;
    enum kb_status st = labels_builder_finish(b, &ls, err);
    if (st != KB_OK)
        return kb_err_prefix(err, "labels");
    disc_group_set_labels(g, ls);

    for (size_t i = 0; i < c->n_targets; i++) {
        st = disc_group_add_address(g, c->targets[i], err);
        if (st != KB_OK)
            return kb_err_prefix(err, "target %zu", i);
    }
    return KB_OK;
}

enum kb_status disc_static_groups(const struct disc_static_config *cfgs,
                                  size_t n, struct disc_group_set *out,
                                  struct kb_err *err)
{
    struct disc_group_set set = {0};
    struct labels_builder *b = labels_builder_new();
    enum kb_status st = KB_OK;
    size_t targets = 0;

    if (n > DISC_STATIC_MAX_CONFIGS) {
        st = kb_errf(err, KB_ERR_LIMIT, "more than %d static_configs",
                     DISC_STATIC_MAX_CONFIGS);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        targets += cfgs[i].n_targets;
        if (targets > DISC_STATIC_MAX_TARGETS) {
            st = kb_errf(err, KB_ERR_LIMIT,
                         "static_configs[%zu]: more than %d static targets", i,
                         DISC_STATIC_MAX_TARGETS);
            goto fail;
        }
        st = one_config(&cfgs[i], i, b, &set, err);
        if (st != KB_OK) {
            kb_err_prefix(err, "static_configs[%zu]", i);
            goto fail;
        }
    }
    disc_group_set_move(out, &set);
    labels_builder_free(b);
    return KB_OK;

fail:
    disc_group_set_clear(&set);
    labels_builder_free(b);
    return st;
}
