/* discovery/group.h: target groups, what every discovery mechanism hands to
 * the scraper, and the group set a provider currently holds. See group.c. */
#ifndef KILN_DISCOVERY_GROUP_H
#define KILN_DISCOVERY_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/labels.h"
#include "base/status.h"

/* The label that holds a target's address ("host:port"). */
#define DISC_ADDRESS_LABEL "__address__"

/* Longest address (bytes) a target may have. */
#define DISC_ADDRESS_MAX 1024

/* A target group, as Prometheus' targetgroup.Group: targets that share a
 * set of labels, from one source. Plain data, all of it owned by the group:
 *
 *   - source names the group within its provider, stably across refreshes
 *     ("file:/etc/kiln/sd/a.json:0", "static:1"): the scraper diffs groups
 *     by source;
 *   - targets[i] is a label set with at least __address__;
 *   - labels applies to every target (a target's own labels win); it is
 *     never NULL (an empty set when the group has none).
 *
 * Build one with disc_group_new and disc_group_add_*, free it with
 * disc_group_free. */
struct disc_group {
    char *source;
    struct labels **targets;
    size_t n_targets;
    size_t cap_targets;
    struct labels *labels;
};

/* A new group with no targets and empty labels; `source` is copied. */
struct disc_group *disc_group_new(const char *source);
/* Free a group; NULL is allowed. */
void disc_group_free(struct disc_group *g);
/* A deep copy of `g`. */
struct disc_group *disc_group_dup(const struct disc_group *g);
/* Same source, same labels, same targets in the same order. */
bool disc_group_equal(const struct disc_group *a, const struct disc_group *b);

/* Whether `s[0..n)` can be a target address: 1 to DISC_ADDRESS_MAX bytes of
 * UTF-8 without spaces or control characters. Nothing more is required here:
 * as in Prometheus, targets may be relabeled into something else (a URL
 * handed to a prober, say), so the scraper checks the address it finally
 * scrapes. */
bool disc_address_valid(const char *s, size_t n);

/* Append the target {__address__="addr"}. KB_ERR_INVALID naming the address
 * when disc_address_valid refuses it; the group is unchanged on failure. */
enum kb_status disc_group_add_address(struct disc_group *g, const char *addr,
                                      struct kb_err *err);
/* Append a target given as a label set, which the group takes (it is freed
 * here on failure). KB_ERR_INVALID when it has no valid __address__. */
enum kb_status disc_group_add_target(struct disc_group *g, struct labels *ls,
                                     struct kb_err *err);
/* Replace the group's labels by `ls`, which the group takes (NULL: empty). */
void disc_group_set_labels(struct disc_group *g, struct labels *ls);

/* The groups a provider currently has, in a stable order (file_sd: by file
 * path, then by position in the file). The set owns its groups. A zeroed
 * struct is an empty set. */
struct disc_group_set {
    struct disc_group **groups;
    size_t n;
    size_t cap;
};

/* Free every group and empty the set (it stays usable). */
void disc_group_set_clear(struct disc_group_set *s);
/* Append `g`, which the set takes. */
void disc_group_set_add(struct disc_group_set *s, struct disc_group *g);
/* Move every group of `from` to the end of `to`; `from` ends empty. */
void disc_group_set_move(struct disc_group_set *to,
                         struct disc_group_set *from);
/* Replace the content of `to` (cleared first) by deep copies of `from`. */
void disc_group_set_copy(struct disc_group_set *to,
                         const struct disc_group_set *from);
/* Same groups (disc_group_equal) in the same order. */
bool disc_group_set_equal(const struct disc_group_set *a,
                          const struct disc_group_set *b);
/* Targets in all groups of the set. */
size_t disc_group_set_targets(const struct disc_group_set *s);

#endif
