/* tsdb/options.c: the database's command-line flags, shared by the kiln
 * server and `kilnctl import` so that both spell and check them alike:
 *
 *   --storage.block-range=DURATION     tsdb_options.block_range (> 0)
 *   --storage.retention.time=DURATION  tsdb_options.retention_time (0: off)
 *   --storage.retention.size=SIZE      tsdb_options.retention_size (0: off)
 *
 * SIZE is a byte count with an optional unit, as Prometheus writes them
 * (kb_size_parse: B, KB, MB, GB, TB, powers of 1024). */
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/timefmt.h"
#include "tsdb/tsdb.h"

static const char *const flag_names[] = {
    "storage.block-range",
    "storage.retention.time",
    "storage.retention.size",
};

bool tsdb_options_is_flag(const char *name)
{
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (strcmp(name, flag_names[i]) == 0)
            return true;
    return false;
}

enum kb_status tsdb_options_flag(struct tsdb_options *o, const char *name,
                                 const char *value, struct kb_err *err)
{
    if (strcmp(name, "storage.retention.size") == 0) {
        if (!kb_size_parse(value, &o->retention_size))
            return kb_errf(err, KB_ERR_INVALID,
                           "--%s: \"%s\" is not a size (bytes, or a number "
                           "with B, KB, MB, GB or TB)",
                           name, value);
        return KB_OK;
    }
    int64_t ms;
    bool block = strcmp(name, "storage.block-range") == 0;
    if (!block && strcmp(name, "storage.retention.time") != 0)
        return kb_errf(err, KB_ERR_INVALID, "--%s: not a storage flag", name);
    if (kb_duration_parse(value, strlen(value), &ms, err) != KB_OK)
        return kb_err_prefix(err, "--%s", name);
    if (block && ms <= 0)
        return kb_errf(err, KB_ERR_INVALID, "--%s: must be positive", name);
    if (block)
        o->block_range = ms;
    else
        o->retention_time = ms;
    return KB_OK;
}
