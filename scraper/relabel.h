/* scraper/relabel.h: Prometheus relabeling: relabel configs with every
 * Prometheus action and default, applying a list of them to a label set,
 * and turning a discovered target into the labels and URL parts to scrape
 * it with (Prometheus' PopulateLabels). See relabel.c. */
#ifndef KILN_SCRAPER_RELABEL_H
#define KILN_SCRAPER_RELABEL_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/labels.h"
#include "base/regex.h"
#include "base/status.h"

/* Limits. Configs past them are refused with KB_ERR_LIMIT. */
#define RELABEL_CONFIGS_MAX 1024 /* relabel configs in one list */
#define RELABEL_SOURCES_MAX 64   /* source_labels per config */
#define RELABEL_TEXT_MAX 4096    /* bytes of separator, target, replacement */
#define RELABEL_PARAMS_MAX 256   /* query parameters (values) per target */

/* The reserved labels of Prometheus' scrape conventions. */
#define RELABEL_ADDRESS "__address__"
#define RELABEL_SCHEME "__scheme__"
#define RELABEL_METRICS_PATH "__metrics_path__"
#define RELABEL_SCRAPE_INTERVAL "__scrape_interval__"
#define RELABEL_SCRAPE_TIMEOUT "__scrape_timeout__"
#define RELABEL_PARAM_PREFIX "__param_"
#define RELABEL_META_PREFIX "__meta_"

enum relabel_action {
    RELABEL_REPLACE = 0, /* the default */
    RELABEL_KEEP,
    RELABEL_DROP,
    RELABEL_KEEPEQUAL,
    RELABEL_DROPEQUAL,
    RELABEL_HASHMOD,
    RELABEL_LABELMAP,
    RELABEL_LABELDROP,
    RELABEL_LABELKEEP,
    RELABEL_LOWERCASE,
    RELABEL_UPPERCASE,
};

/* The action named `s`, compared case-insensitively as Prometheus does
 * ("Replace", "labelmap"). KB_ERR_INVALID: `unknown relabel action "x"`. */
enum kb_status relabel_action_parse(const char *s, enum relabel_action *out,
                                    struct kb_err *err);
/* The lower-case name of an action ("hashmod"). */
const char *relabel_action_name(enum relabel_action a);

/* One relabel_configs entry as the YAML parser read it. A zeroed spec is
 * Prometheus' default config: action replace, separator ";", regex "(.*)",
 * replacement "$1", no source labels, no target label, modulus 0. A NULL
 * string means "not given" (the default); "" means given and empty, which
 * differs for regex (matches only ""), separator and replacement. The spec
 * is only read during relabel_config_init: every string is copied. */
struct relabel_spec {
    enum relabel_action action;
    const char *const *source_labels; /* nsource_labels label names */
    size_t nsource_labels;
    const char *separator;    /* NULL: ";" */
    const char *target_label; /* NULL: "" */
    const char *regex;        /* NULL: "(.*)"; anchored at both ends */
    uint64_t modulus;         /* hashmod only; must be > 0 there */
    const char *replacement;  /* NULL: "$1" */
};

/* A piece of a parsed replacement or target_label template: literal text,
 * or a capture group of the config's regex. (Internal to relabel.c.) */
struct relabel_seg {
    const char *text; /* literal bytes, when group < 0 */
    size_t len;
    int group; /* >= 0: the capture group to copy */
};

struct relabel_tpl {
    struct relabel_seg *segs;
    size_t nsegs;
    bool has_var;  /* the source held a '$' */
    int max_group; /* highest group used, -1 for none */
};

/* A checked, compiled relabel config. Made by relabel_config_init, freed by
 * relabel_config_free; the members are read-only for everyone else. A
 * config is immutable after init, so one may be used by many threads. */
struct relabel_config {
    enum relabel_action action;
    char **source_labels;
    size_t nsource_labels;
    char *separator;
    char *target_label;
    char *regex_text;
    struct kb_regex *regex;
    uint64_t modulus;
    char *replacement;
    struct relabel_tpl target_tpl;      /* replace */
    struct relabel_tpl replacement_tpl; /* replace, labelmap */
    locale_t case_locale; /* lowercase/uppercase: C.UTF-8, or 0 (ASCII) */
};

/* Check `spec` as Prometheus' relabel Config.Validate does and compile it
 * into `c` (which the caller owns; its old content is ignored). Errors are
 * Prometheus' messages: KB_ERR_INVALID for "relabel configuration for
 * hashmod requires non-zero modulus", "relabel configuration for replace
 * action requires 'target_label' value", "\"1x\" is invalid 'target_label'
 * for replace action", "'replacement' can not be set for lowercase action",
 * "keepequal action requires only 'source_labels' and `target_label`, and
 * no other fields", "labeldrop action requires only 'regex', and no other
 * fields", "\"$1-x\" is invalid 'replacement' for labelmap action", invalid
 * source label names, strings that are not UTF-8, and bad regexes (the
 * message of kb_regex_compile); KB_ERR_LIMIT past RELABEL_SOURCES_MAX or
 * RELABEL_TEXT_MAX. On failure `c` holds nothing to free (freeing it is
 * still allowed). A target_label for replace may use $1/${name} expansions
 * (it must then look like a label name with variables in it, as
 * Prometheus' relabelTarget pattern says); when an expansion does not give
 * a valid label name at run time the label is not set. */
enum kb_status relabel_config_init(struct relabel_config *c,
                                   const struct relabel_spec *spec,
                                   struct kb_err *err);
/* Free what init allocated and zero `c`. A zeroed config may be freed. */
void relabel_config_free(struct relabel_config *c);

/* Apply cfgs[0..n) in order to the labels in `b` (Prometheus'
 * relabel.ProcessBuilder). *keep is false when a keep, drop, keepequal or
 * dropequal step dropped the set; the builder then holds the labels as they
 * were at that step. Errors (the builder is then partly relabeled):
 * KB_ERR_LIMIT when a step would make a value longer than LABEL_VALUE_MAX or
 * more than LABELS_MAX labels, or a regex match hits its limits;
 * KB_ERR_LIMIT when n > RELABEL_CONFIGS_MAX. Messages start with
 * "relabel_configs[i] (action): ". */
enum kb_status relabel_process_builder(const struct relabel_config *cfgs,
                                       size_t n, struct labels_builder *b,
                                       bool *keep, struct kb_err *err);

/* Relabel `in` (NULL: the empty set) with cfgs[0..n). On success *keep
 * says whether the set was kept and *out is the relabeled set (the
 * caller's, freed with labels_free) or NULL when dropped. Errors as
 * relabel_process_builder; *out is then NULL. */
enum kb_status relabel_process(const struct relabel_config *cfgs, size_t n,
                               const struct labels *in, struct labels **out,
                               bool *keep, struct kb_err *err);

/* One query parameter, as in a job's `params` (a name given several times
 * has several values, in order) and in a target's URL. */
struct relabel_param {
    const char *name;
    const char *value;
};

/* What a scrape job contributes to its targets' labels before relabeling.
 * Every pointer is borrowed for the call only. */
struct relabel_job {
    const char *job_name;       /* required: the default for `job` */
    const char *scheme;         /* NULL: "http"; the default for __scheme__ */
    const char *metrics_path;   /* NULL: no default __metrics_path__ */
    int64_t scrape_interval_ms; /* > 0: default for __scrape_interval__ */
    int64_t scrape_timeout_ms;  /* > 0: default for __scrape_timeout__ */
    const struct relabel_param *params; /* the job's `params` */
    size_t nparams;
    const struct relabel_config *relabel; /* relabel_configs */
    size_t nrelabel;
};

/* A target ready to scrape. Every pointer is owned by the struct and freed
 * with relabel_target_free. */
struct relabel_target {
    /* The target's labels as the scraper shows and stores them: every label
     * without the "__" prefix (job, instance, and whatever relabeling
     * made), as Prometheus' Target.Labels. */
    struct labels *labels;
    /* The whole set after relabeling, __meta_* removed and instance
     * defaulted (Prometheus' target labels, for /targets pages and
     * hashing); __address__, __scheme__ and friends are still in it. */
    struct labels *all;
    /* The URL parts; strings point into `all`. metrics_path is NULL when
     * neither the job nor relabeling gave one: the scraper combines it with
     * each profile type's path. */
    const char *scheme;  /* "http" or "https" */
    const char *address; /* host[:port], no userinfo, path or query */
    const char *metrics_path;
    /* Scrape interval and timeout after relabeling, 0 when absent. */
    int64_t scrape_interval_ms;
    int64_t scrape_timeout_ms;
    /* Query parameters as Prometheus' Target.URL makes them: the job's
     * params, where __param_<name> replaces the first value of <name> (or
     * adds it), sorted by name, values in order. Strings are owned. */
    struct relabel_param *params;
    size_t nparams;
    /* The same, encoded as Go's url.Values.Encode ("a=1&b=x+y"), "" when
     * there are none. */
    char *query;
};

/* Prometheus' PopulateLabels for one discovered target: start from
 * `target`'s labels, add `group`'s labels that the target lacks (either
 * may be NULL), add job, __scheme__, __metrics_path__ (when the job has
 * one), __scrape_interval__, __scrape_timeout__ and __param_<name> (first
 * value) from `job` where absent; apply job->relabel; then check and
 * finish. On success *keep says whether relabeling kept the target; when
 * it did, `out` is filled (the caller frees it with relabel_target_free),
 * else `out` is zeroed. KB_ERR_INVALID (the target is unusable, and should
 * be reported as dropped with this reason): "no address" when __address__
 * is missing or empty, "\"a/b\" is not a valid hostname" when it holds '/',
 * '?', '#', '@', whitespace or control characters, "scheme \"ftp\" is not
 * http or https", an unparsable or zero __scrape_interval__, an unparsable
 * __scrape_timeout__; KB_ERR_LIMIT past RELABEL_PARAMS_MAX query values.
 * Errors of relabeling pass through. Job params whose __param_<name> would
 * not be a valid label name go to the URL but not into the labels. */
enum kb_status relabel_populate(const struct relabel_job *job,
                                const struct labels *target,
                                const struct labels *group,
                                struct relabel_target *out, bool *keep,
                                struct kb_err *err);
/* Free what relabel_populate put in `t` and zero it; NULL-safe. */
void relabel_target_free(struct relabel_target *t);

#endif
