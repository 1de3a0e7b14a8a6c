/* tests/fuzz/fuzz_discovery_file_sd.c: libFuzzer target for
 * disc_file_sd_parse (discovery/file_sd_parse.c), which reads file_sd
 * files: JSON and YAML lists of target groups that any process able to
 * write the watched directory can hand to the server.
 *
 * The input is parsed as JSON, then as YAML. A failure must come with a
 * status and a message (never KB_ERR_INTERNAL) and leave the output set
 * empty; a success gives at most DISC_FILE_SD_MAX_GROUPS groups and
 * DISC_FILE_SD_MAX_TARGETS targets, each group with the source
 * "file:<path>:<index>", labels holding __meta_filepath=<path> and valid
 * names, and every target a label set with a valid __address__.
 *
 * Built and run by scripts/fuzz (with discovery/, base/ and pprof/).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "discovery/file_sd.h"
#include "tests/fuzz/check.h"

#define PATH "/sd/fuzz.json"

static void check_groups(const struct disc_group_set *set)
{
    FUZZ_REQUIRE(set->n <= DISC_FILE_SD_MAX_GROUPS);
    FUZZ_REQUIRE(disc_group_set_targets(set) <= DISC_FILE_SD_MAX_TARGETS);
    for (size_t i = 0; i < set->n; i++) {
        const struct disc_group *g = set->groups[i];
        char want[64];
        snprintf(want, sizeof(want), "file:%s:%zu", PATH, i);
        FUZZ_REQUIRE(strcmp(g->source, want) == 0);
        FUZZ_REQUIRE(g->labels != NULL);
        const char *fp = labels_get(g->labels, DISC_META_FILEPATH);
        FUZZ_REQUIRE(fp != NULL && strcmp(fp, PATH) == 0);
        for (size_t j = 0; j < labels_count(g->labels); j++) {
            const struct label *l = labels_at(g->labels, j);
            FUZZ_REQUIRE(labels_name_valid(l->name, l->name_len));
            FUZZ_REQUIRE(l->value_len > 0);
        }
        for (size_t j = 0; j < g->n_targets; j++) {
            const char *a = labels_get(g->targets[j], DISC_ADDRESS_LABEL);
            FUZZ_REQUIRE(a != NULL);
            FUZZ_REQUIRE(disc_address_valid(a, strlen(a)));
        }
    }
}

static void one(const uint8_t *data, size_t size, enum disc_file_format fmt)
{
    struct disc_group_set set = {0};
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = disc_file_sd_parse(data, size, fmt, PATH, &set, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(set.n == 0 && set.groups == NULL);
        return;
    }
    check_groups(&set);
    /* A copy is equal to the original. */
    struct disc_group_set copy = {0};
    disc_group_set_copy(&copy, &set);
    FUZZ_REQUIRE(disc_group_set_equal(&set, &copy));
    disc_group_set_clear(&copy);
    disc_group_set_clear(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, DISC_FILE_JSON);
    one(data, size, DISC_FILE_YAML);
    return 0;
}
