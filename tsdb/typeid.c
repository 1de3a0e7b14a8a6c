/* tsdb/typeid.c: naming profile series.
 *
 * Design. Each sample type of a pprof becomes its own series, named by the
 * profile type ID that Parca and Pyroscope use (DESIGN.md section 2):
 *
 *     <profile>:<sample type>:<sample unit>:<period type>:<period unit>
 *
 * e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds. The pprof itself does
 * not say which endpoint produced it, so the first part comes from the
 * caller when it knows (the scraper knows its profile types; kilnctl import
 * takes --profile) and is otherwise inferred from the period type. Go's
 * mutex and block profiles look the same (contentions/count periods), so
 * inference calls both "mutex": a caller that has block profiles must say
 * so.
 */
#include <string.h>

#include "tsdb/tsdb.h"

static const char *infer_profile(const struct pprof_profile *p, size_t i)
{
    const char *ptype = pprof_str(p, p->period_type.type);
    if (strcmp(ptype, "cpu") == 0)
        return "process_cpu";
    if (strcmp(ptype, "space") == 0)
        return "memory";
    if (strcmp(ptype, "contentions") == 0)
        return "mutex";
    return pprof_str(p, p->sample_types[i].type);
}

static bool valid_part(const char *s)
{
    return s[0] != '\0' && strchr(s, ':') == NULL;
}

enum kb_status tsdb_type_id(const struct pprof_profile *p, size_t i,
                            const char *profile, struct buf *out)
{
    if (i >= p->n_sample_types)
        return KB_ERR_USAGE;
    const char *parts[5] = {
        profile ? profile : infer_profile(p, i),
        pprof_str(p, p->sample_types[i].type),
        pprof_str(p, p->sample_types[i].unit),
        pprof_str(p, p->period_type.type),
        pprof_str(p, p->period_type.unit),
    };
    /* A profile without a period type (some exporters) reuses the sample
     * type, which is what its period would count. */
    if (parts[3][0] == '\0') {
        parts[3] = parts[1];
        parts[4] = parts[2];
    }
    for (int k = 0; k < 5; k++)
        if (!valid_part(parts[k]))
            return KB_ERR_INVALID;
    return buf_printf(out, "%s:%s:%s:%s:%s", parts[0], parts[1], parts[2],
                      parts[3], parts[4]);
}

/* The short names of DESIGN.md section 2. */
static const char *const aliases[][2] = {
    {"cpu", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"},
    {"cpu_samples", "process_cpu:samples:count:cpu:nanoseconds"},
    {"alloc_space", "memory:alloc_space:bytes:space:bytes"},
    {"alloc_objects", "memory:alloc_objects:count:space:bytes"},
    {"inuse_space", "memory:inuse_space:bytes:space:bytes"},
    {"inuse_objects", "memory:inuse_objects:count:space:bytes"},
    {"mutex_delay", "mutex:delay:nanoseconds:contentions:count"},
    {"mutex_contentions", "mutex:contentions:count:contentions:count"},
    {"block_delay", "block:delay:nanoseconds:contentions:count"},
    {"block_contentions", "block:contentions:count:contentions:count"},
    {"goroutines", "goroutine:goroutine:count:goroutine:count"},
    {"threads", "threads:threads:count:threads:count"},
};

const char *tsdb_type_alias(const char *name)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcmp(aliases[i][0], name) == 0)
            return aliases[i][1];
    return NULL;
}
