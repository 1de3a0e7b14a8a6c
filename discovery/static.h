/* discovery/static.h: target groups from static_configs. See static.c. */
#ifndef KILN_DISCOVERY_STATIC_H
#define KILN_DISCOVERY_STATIC_H

#include <stddef.h>

#include "base/status.h"
#include "discovery/group.h"

/* Limits on one scrape config's static_configs. */
#define DISC_STATIC_MAX_CONFIGS 10000
#define DISC_STATIC_MAX_TARGETS 100000 /* over all of its static_configs */

/* One entry of static_configs, as the configuration parser read it:
 *
 *   - targets: ["host:port", ...]
 *     labels: {name: value, ...}
 *
 * Plain arrays: targets[0..n_targets), and n_labels pairs
 * label_names[i] = label_values[i]. Nothing is taken: the strings stay the
 * caller's. */
struct disc_static_config {
    const char *const *targets;
    size_t n_targets;
    const char *const *label_names;
    const char *const *label_values;
    size_t n_labels;
};

/* Append one group per config to `out`, with sources "static:0",
 * "static:1", ... in order (a config with no targets still makes an empty
 * group, as in Prometheus). Label names must be valid, unique label names
 * and values UTF-8 (an empty value is no label); addresses must pass
 * disc_address_valid. Errors name the config and the target or label at
 * fault ("static_configs[2]: target 1: ..."): KB_ERR_INVALID, or
 * KB_ERR_LIMIT past the DISC_STATIC_* and LABELS_* limits. `out` is
 * unchanged on failure. */
enum kb_status disc_static_groups(const struct disc_static_config *cfgs,
                                  size_t n, struct disc_group_set *out,
                                  struct kb_err *err);

#endif
