/* tests/fuzz/fuzz_scraper_config.c: libFuzzer target for kiln.yml parsing
 * (scraper/config.c over scraper/yamltree.c and libyaml).
 *
 * The input is the file's content. Either it parses, and then the result
 * keeps the promises of scraper/config.h (every job named, names unique,
 * durations positive, the seven built-in profile types first with paths
 * starting with '/', label sets present, relabel actions in range), or it
 * fails with a status and a message that starts with the file name and is
 * never KB_ERR_INTERNAL. The same bytes also go through yamlt_parse alone
 * with small limits, so the depth, node and alias limits are reached by
 * inputs of fuzzing size.
 *
 * Built and run by scripts/fuzz (which links every .c of scraper/ and
 * yaml-0.1); seeds in tests/fuzz/corpus/fuzz_scraper_config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/labels.h"
#include "scraper/config.h"
#include "scraper/yamltree.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const struct scrape_config *cfg)
{
    FUZZ_REQUIRE(cfg->scrape_interval_ms > 0);
    FUZZ_REQUIRE(cfg->scrape_timeout_ms > 0);
    FUZZ_REQUIRE(cfg->evaluation_interval_ms > 0);
    FUZZ_REQUIRE(cfg->external_labels != NULL);
    FUZZ_REQUIRE(cfg->n_jobs <= SCRAPE_CONFIG_MAX_JOBS);
    for (size_t i = 0; i < cfg->n_jobs; i++) {
        const struct scrape_config_job *j = &cfg->jobs[i];
        FUZZ_REQUIRE(j->job_name != NULL && j->job_name[0] != '\0');
        FUZZ_REQUIRE(scrape_config_job(cfg, j->job_name) == j);
        FUZZ_REQUIRE(j->scrape_interval_ms > 0 && j->scrape_timeout_ms > 0);
        FUZZ_REQUIRE(strcmp(j->scheme, "http") == 0 ||
                     strcmp(j->scheme, "https") == 0);
        FUZZ_REQUIRE(j->n_profiles >= 7);
        FUZZ_REQUIRE(strcmp(j->profiles[0].name, "cpu") == 0);
        for (size_t k = 0; k < j->n_profiles; k++) {
            const struct scrape_config_profile *p = &j->profiles[k];
            FUZZ_REQUIRE(p->path[0] == '/');
            FUZZ_REQUIRE(!p->seconds || p->delta);
            if (p->enabled && p->seconds)
                FUZZ_REQUIRE(j->scrape_timeout_ms > j->scrape_interval_ms);
        }
        for (size_t k = 0; k < j->n_static_configs; k++)
            FUZZ_REQUIRE(j->static_configs[k].labels != NULL);
        for (size_t k = 0; k < j->n_relabel_configs; k++) {
            const struct scrape_config_relabel *r = &j->relabel_configs[k];
            FUZZ_REQUIRE(r->action <= SCRAPE_ACTION_UPPERCASE);
            FUZZ_REQUIRE(r->regex != NULL && r->separator != NULL &&
                         r->replacement != NULL && r->target_label != NULL);
            if (r->action == SCRAPE_ACTION_HASHMOD)
                FUZZ_REQUIRE(r->modulus > 0);
        }
        for (size_t k = 0; k < j->n_file_sd_configs; k++)
            FUZZ_REQUIRE(j->file_sd_configs[k].n_files > 0);
        for (size_t k = 0; k < j->n_kubernetes_sd_configs; k++)
            FUZZ_REQUIRE(strcmp(j->kubernetes_sd_configs[k].role, "pod") == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scrape_config *cfg = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = scrape_config_parse("f.yml", data, size, &cfg, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(cfg == NULL);
        FUZZ_REQUIRE(strncmp(err.msg, "f.yml", 5) == 0);
    } else {
        FUZZ_REQUIRE(cfg != NULL);
        check_config(cfg);
        scrape_config_free(cfg);
    }

    struct yamlt_limits lim;
    yamlt_limits_default(&lim);
    lim.max_depth = 4;
    lim.max_nodes = 64;
    lim.max_scalar = 32;
    struct yamlt_doc *doc = NULL;
    kb_err_clear(&err);
    st = yamlt_parse("f.yml", data, size, &lim, &doc, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(doc == NULL);
        return 0;
    }
    const struct yamlt_node *root = yamlt_root(doc);
    if (root != NULL) {
        FUZZ_REQUIRE(root->weight <= lim.max_nodes);
        FUZZ_REQUIRE(root->line >= 1 && root->column >= 1);
    }
    yamlt_free(doc);
    return 0;
}
