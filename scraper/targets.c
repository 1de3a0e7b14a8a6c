/* scraper/targets.c: freeing target snapshots (targets.h). The snapshot is
 * plain data: every string and label set in it is owned by the list. */
#include "scraper/targets.h"

#include <stdlib.h>
#include <string.h>

#include "base/labels.h"

const char *scrape_health_name(enum scrape_health h)
{
    switch (h) {
    case SCRAPE_HEALTH_UP:
        return "up";
    case SCRAPE_HEALTH_DOWN:
        return "down";
    case SCRAPE_HEALTH_UNKNOWN:
        break;
    }
    return "unknown";
}

static void target_info_free(struct scrape_target_info *t)
{
    free(t->scrape_pool);
    labels_free(t->discovered);
    labels_free(t->labels);
    free(t->scrape_url);
    free(t->last_error);
    for (size_t i = 0; i < t->n_profiles; i++) {
        free(t->profiles[i].name);
        free(t->profiles[i].url);
        free(t->profiles[i].last_error);
    }
    free(t->profiles);
}

void scrape_target_list_free(struct scrape_target_list *l)
{
    for (size_t i = 0; i < l->n_active; i++)
        target_info_free(&l->active[i]);
    for (size_t i = 0; i < l->n_dropped; i++)
        target_info_free(&l->dropped[i]);
    free(l->active);
    free(l->dropped);
    memset(l, 0, sizeof(*l));
}
