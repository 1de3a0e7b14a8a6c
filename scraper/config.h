/* scraper/config.h: kiln.yml, the server's configuration, parsed and
 * validated into plain data (DESIGN.md section 5; every field and default
 * is documented in docs/configuration.md). See config.c. */
#ifndef KILN_SCRAPER_CONFIG_H
#define KILN_SCRAPER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

struct labels;

/* Limits on a configuration; past them parsing fails with KB_ERR_LIMIT. */
#define SCRAPE_CONFIG_MAX_BYTES (1u << 20) /* bytes of kiln.yml */
#define SCRAPE_CONFIG_MAX_DEPTH 32         /* nesting of YAML collections */
#define SCRAPE_CONFIG_MAX_JOBS 1000        /* scrape_configs */
#define SCRAPE_CONFIG_MAX_TARGETS 100000   /* static targets, all jobs */
#define SCRAPE_CONFIG_MAX_LIST 10000       /* items of any other list */

/* Defaults (docs/configuration.md). The scrape timeout, unless set, is the
 * interval plus SCRAPE_CONFIG_TIMEOUT_MARGIN_MS: CPU profiles are fetched
 * with ?seconds=<interval>, so the response takes the whole interval. */
#define SCRAPE_CONFIG_INTERVAL_MS 10000
#define SCRAPE_CONFIG_TIMEOUT_MARGIN_MS 5000
#define SCRAPE_CONFIG_EVAL_INTERVAL_MS 60000
#define SCRAPE_CONFIG_FILE_SD_REFRESH_MS 300000
#define SCRAPE_CONFIG_ALERTMANAGER_TIMEOUT_MS 10000

/* Relabeling actions: every one of Prometheus'. */
enum scrape_config_action {
    SCRAPE_ACTION_REPLACE,
    SCRAPE_ACTION_KEEP,
    SCRAPE_ACTION_DROP,
    SCRAPE_ACTION_KEEPEQUAL,
    SCRAPE_ACTION_DROPEQUAL,
    SCRAPE_ACTION_HASHMOD,
    SCRAPE_ACTION_LABELMAP,
    SCRAPE_ACTION_LABELDROP,
    SCRAPE_ACTION_LABELKEEP,
    SCRAPE_ACTION_LOWERCASE,
    SCRAPE_ACTION_UPPERCASE,
};

/* The action's name in kiln.yml ("replace", "labelmap", ...). */
const char *scrape_config_action_name(enum scrape_config_action a);

/* One relabel_configs entry, as written, with Prometheus' defaults filled
 * in and checked as Prometheus checks it (the regex compiles, label names
 * are valid, the fields an action needs are there and those it ignores are
 * not). Applying it is scraper/relabel.c's job. */
struct scrape_config_relabel {
    const char **source_labels;
    size_t n_source_labels;
    const char *separator;            /* ";" */
    const char *target_label;         /* "" when unset */
    const char *regex;                /* "(.*)"; anchored as Prometheus' */
    uint64_t modulus;                 /* 0 when unset; > 0 for hashmod */
    const char *replacement;          /* "$1" */
    enum scrape_config_action action; /* replace */
    uint32_t line, column;            /* where the entry starts in the file */
};

/* One profile type a job pulls. */
struct scrape_config_profile {
    const char *name; /* cpu, memory, allocs, mutex, block, goroutine,
                         threads, or a custom name */
    bool enabled;
    const char *path; /* URL path, starting with '/'; path_prefix is
                         already in front of it */
    bool delta;       /* the stored profile is a delta */
    bool seconds;     /* fetched with ?seconds=<scrape interval>: the
                         target returns the window itself (cpu); when
                         false and delta, the scraper subtracts the
                         previous scrape (cumulative endpoints) */
    const char **keep_sample_types; /* sample type names; none: all */
    size_t n_keep_sample_types;
};

/* A URL parameter sent with every scrape of a job (params:). */
struct scrape_config_param {
    const char *name;
    const char **values;
    size_t n_values;
};

/* static_configs: targets ("host:port") and the labels they all get. */
struct scrape_config_static {
    const char **targets;
    size_t n_targets;
    struct labels *labels; /* never NULL; may be empty */
};

/* file_sd_configs. */
struct scrape_config_file_sd {
    const char **files; /* globs; the file names end in .json, .yml, .yaml */
    size_t n_files;
    int64_t refresh_interval_ms; /* 5m */
};

/* kubernetes_sd_configs[].selectors[]. */
struct scrape_config_k8s_selector {
    const char *role;  /* "pod" */
    const char *label; /* a label selector, "" when unset */
    const char *field; /* a field selector, "" when unset */
};

/* kubernetes_sd_configs: pods only. Strings are "" when unset; an empty
 * api_server means in-cluster (service account token and CA). */
struct scrape_config_k8s_sd {
    const char *role; /* "pod" */
    const char *api_server;
    const char *bearer_token_file;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    const char *server_name;
    bool insecure_skip_verify;
    const char **namespaces; /* none: all namespaces */
    size_t n_namespaces;
    struct scrape_config_k8s_selector *selectors;
    size_t n_selectors;
};

/* One scrape_configs entry. */
struct scrape_config_job {
    const char *job_name;
    int64_t scrape_interval_ms;
    int64_t scrape_timeout_ms;
    const char *scheme; /* "http" or "https" */
    struct scrape_config_param *params;
    size_t n_params;
    /* The built-in profile types first, always all seven in the order
     * cpu, memory, allocs, mutex, block, goroutine, threads (disabled ones
     * too), then the custom ones in file order. */
    struct scrape_config_profile *profiles;
    size_t n_profiles;
    struct scrape_config_static *static_configs;
    size_t n_static_configs;
    struct scrape_config_file_sd *file_sd_configs;
    size_t n_file_sd_configs;
    struct scrape_config_k8s_sd *kubernetes_sd_configs;
    size_t n_kubernetes_sd_configs;
    struct scrape_config_relabel *relabel_configs;
    size_t n_relabel_configs;
    uint32_t line, column;
};

/* alerting.alertmanagers[]. */
struct scrape_config_alertmanager {
    const char *scheme;      /* "http" */
    const char *path_prefix; /* "" */
    int64_t timeout_ms;      /* 10s */
    struct scrape_config_static *static_configs;
    size_t n_static_configs;
};

/* A whole kiln.yml. Plain, read-only data; one scrape_config_free frees it
 * all (it owns every string, array and label set below). */
struct scrape_config {
    int64_t scrape_interval_ms;     /* global, 10s */
    int64_t scrape_timeout_ms;      /* global; interval + 5s */
    int64_t evaluation_interval_ms; /* 1m */
    struct labels *external_labels; /* never NULL; may be empty */
    struct scrape_config_job *jobs;
    size_t n_jobs;
    const char **rule_files; /* globs */
    size_t n_rule_files;
    struct scrape_config_alertmanager *alertmanagers;
    size_t n_alertmanagers;
};

/* Parse and validate kiln.yml's content `data[0..len)`; `name` (the file
 * name) starts every error message. An empty file is a valid configuration
 * with no jobs. Errors name the place and the problem:
 *   kiln.yml:12:5: scrape_configs[1].scrape_interval: bad duration "10x": ...
 *   kiln.yml:3:3: scrape_configs[0]: unknown key "scrape_intervl"
 * (line and column 1-based, list indexes 0-based): KB_ERR_INVALID for bad
 * YAML, unknown keys, wrong types, bad values, duplicate job names;
 * KB_ERR_LIMIT past the SCRAPE_CONFIG_* limits. On success *out is the
 * caller's, freed with scrape_config_free. */
enum kb_status scrape_config_parse(const char *name, const void *data,
                                   size_t len, struct scrape_config **out,
                                   struct kb_err *err);

/* Read `path` (at most SCRAPE_CONFIG_MAX_BYTES) and parse it, errors named
 * after the path. */
enum kb_status scrape_config_load(const char *path, struct scrape_config **out,
                                  struct kb_err *err);

void scrape_config_free(struct scrape_config *cfg);

/* The job called `name`, or NULL. */
const struct scrape_config_job *
scrape_config_job(const struct scrape_config *cfg, const char *name);

/* The job's profile type called `name` (enabled or not), or NULL. */
const struct scrape_config_profile *
scrape_config_profile(const struct scrape_config_job *job, const char *name);

#endif
