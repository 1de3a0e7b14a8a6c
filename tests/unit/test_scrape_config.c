/* Unit tests for scraper/config.c and scraper/yamltree.c: a full kiln.yml
 * with every field, the defaults, every kind of error with its exact
 * file:line:column and key path, the limits, and examples/kiln.yml. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/labels.h"
#include "scraper/config.h"
#include "scraper/yamltree.h"
#include "tests/unit/unit.h"

static struct scrape_config *parse(const char *text)
{
    struct scrape_config *cfg = NULL;
    struct kb_err err = {0};
    enum kb_status st =
        scrape_config_parse("kiln.yml", text, strlen(text), &cfg, &err);
    if (st != KB_OK)
        printf("# unexpected error: %s\n", err.msg);
    return cfg;
}

/* Parse `text`, expecting status `want` and the message `msg`. */
static void expect_err(const char *text, enum kb_status want, const char *msg)
{
    struct scrape_config *cfg = NULL;
    struct kb_err err = {0};
    enum kb_status st =
        scrape_config_parse("kiln.yml", text, strlen(text), &cfg, &err);
    CHECK_INT(st, want);
    CHECK(cfg == NULL);
    CHECK_STR(err.msg, msg);
    scrape_config_free(cfg);
}

static const char full[] =
    "global:\n"
    "  scrape_interval: 20s\n"
    "  scrape_timeout: 30s\n"
    "  evaluation_interval: 2m\n"
    "  external_labels:\n"
    "    region: eu\n"
    "    cluster: c1\n"
    "rule_files: [\"rules/*.yml\", /etc/kiln/more.yml]\n"
    "alerting:\n"
    "  alertmanagers:\n"
    "    - scheme: https\n"
    "      path_prefix: /am\n"
    "      timeout: 3s\n"
    "      static_configs:\n"
    "        - targets: [am1:9093, am2:9093]\n"
    "scrape_configs:\n"
    "  - job_name: api\n"
    "    scrape_interval: 5s\n"
    "    scrape_timeout: 7s\n"
    "    scheme: https\n"
    "    params:\n"
    "      debug: ['0']\n"
    "      tag: [a, b]\n"
    "    profiling:\n"
    "      path_prefix: /app/\n"
    "      cpu: {enabled: true, path: /prof/cpu}\n"
    "      memory: {keep_sample_types: [inuse_space]}\n"
    "      allocs: {enabled: false}\n"
    "      mutex: {delta: false}\n"
    "      block:\n"
    "      goroutine: {enabled: false}\n"
    "      threads: {enabled: true, path: /debug/pprof/threadcreate}\n"
    "      custom:\n"
    "        - name: fgprof\n"
    "          path: /debug/fgprof\n"
    "          delta: true\n"
    "          seconds: true\n"
    "          keep_sample_types: [samples, time]\n"
    "    static_configs:\n"
    "      - targets: ['10.0.0.1:6060', 'web:80']\n"
    "        labels: {env: prod, team: core}\n"
    "      - targets: [db:6060]\n"
    "    file_sd_configs:\n"
    "      - files: [/etc/kiln/sd/*.json]\n"
    "        refresh_interval: 1m\n"
    "      - files: [a.yml, b.YAML]\n"
    "    kubernetes_sd_configs:\n"
    "      - role: pod\n"
    "        api_server: https://k8s.example:6443\n"
    "        bearer_token_file: /var/run/token\n"
    "        tls_config:\n"
    "          ca_file: /etc/ca.pem\n"
    "          cert_file: /etc/c.pem\n"
    "          key_file: /etc/k.pem\n"
    "          server_name: k8s\n"
    "          insecure_skip_verify: false\n"
    "        namespaces:\n"
    "          names: [default, shop]\n"
    "        selectors:\n"
    "          - role: pod\n"
    "            label: app=api\n"
    "            field: spec.nodeName=n1\n"
    "    relabel_configs:\n"
    "      - source_labels: [__address__, env]\n"
    "        separator: '|'\n"
    "        regex: '(.*)\\|(.*)'\n"
    "        target_label: addr_env\n"
    "        replacement: '$1-$2'\n"
    "        action: replace\n"
    "      - {action: keep, source_labels: [env], regex: prod}\n"
    "      - {action: drop, source_labels: [env], regex: dev}\n"
    "      - {action: keepequal, source_labels: [a], target_label: b}\n"
    "      - {action: dropequal, source_labels: [a], target_label: b}\n"
    "      - {action: hashmod, source_labels: [__address__], modulus: 8,\n"
    "         target_label: __tmp_hash}\n"
    "      - {action: labelmap, regex: '__meta_(.+)', replacement: 'm_$1'}\n"
    "      - {action: labeldrop, regex: 'tmp_.*'}\n"
    "      - {action: LabelKeep, regex: '.*'}\n"
    "      - {action: lowercase, source_labels: [env], target_label: env}\n"
    "      - {action: uppercase, source_labels: [env], target_label: ENV}\n"
    "      - {target_label: 'x_${1}', source_labels: [env]}\n"
    "  - job_name: other\n";

static void test_full(void)
{
    struct scrape_config *cfg = parse(full);
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    CHECK_INT(cfg->scrape_interval_ms, 20000);
    CHECK_INT(cfg->scrape_timeout_ms, 30000);
    CHECK_INT(cfg->evaluation_interval_ms, 120000);
    CHECK_INT(labels_count(cfg->external_labels), 2);
    CHECK_STR(labels_get(cfg->external_labels, "region"), "eu");
    CHECK_STR(labels_get(cfg->external_labels, "cluster"), "c1");
    CHECK_INT(cfg->n_rule_files, 2);
    CHECK_STR(cfg->rule_files[1], "/etc/kiln/more.yml");
    CHECK_INT(cfg->n_alertmanagers, 1);
    const struct scrape_config_alertmanager *am = &cfg->alertmanagers[0];
    CHECK_STR(am->scheme, "https");
    CHECK_STR(am->path_prefix, "/am");
    CHECK_INT(am->timeout_ms, 3000);
    CHECK_INT(am->n_static_configs, 1);
    CHECK_INT(am->static_configs[0].n_targets, 2);
    CHECK_STR(am->static_configs[0].targets[1], "am2:9093");

    CHECK_INT(cfg->n_jobs, 2);
    const struct scrape_config_job *j = scrape_config_job(cfg, "api");
    CHECK(j == &cfg->jobs[0]);
    CHECK(scrape_config_job(cfg, "nope") == NULL);
    CHECK_INT(j->line, 17);
    CHECK_INT(j->column, 5);
    CHECK_INT(j->scrape_interval_ms, 5000);
    CHECK_INT(j->scrape_timeout_ms, 7000);
    CHECK_STR(j->scheme, "https");
    CHECK_INT(j->n_params, 2);
    CHECK_STR(j->params[1].name, "tag");
    CHECK_INT(j->params[1].n_values, 2);
    CHECK_STR(j->params[1].values[1], "b");

    CHECK_INT(j->n_profiles, 8);
    const struct scrape_config_profile *p = scrape_config_profile(j, "cpu");
    CHECK(p == &j->profiles[0]);
    CHECK(p->enabled && p->delta && p->seconds);
    CHECK_STR(p->path, "/app/prof/cpu");
    p = scrape_config_profile(j, "memory");
    CHECK(p->enabled && !p->delta && !p->seconds);
    CHECK_STR(p->path, "/app/debug/pprof/heap");
    CHECK_INT(p->n_keep_sample_types, 1);
    CHECK_STR(p->keep_sample_types[0], "inuse_space");
    CHECK(!scrape_config_profile(j, "allocs")->enabled);
    CHECK(!scrape_config_profile(j, "mutex")->delta);
    p = scrape_config_profile(j, "block");
    CHECK(p->enabled && p->delta && !p->seconds);
    CHECK_STR(p->path, "/app/debug/pprof/block");
    CHECK(!scrape_config_profile(j, "goroutine")->enabled);
    p = scrape_config_profile(j, "threads");
    CHECK(p->enabled && !p->delta);
    CHECK_STR(p->path, "/app/debug/pprof/threadcreate");
    p = scrape_config_profile(j, "fgprof");
    CHECK(p == &j->profiles[7]);
    CHECK(p->enabled && p->delta && p->seconds);
    CHECK_STR(p->path, "/app/debug/fgprof");
    CHECK_INT(p->n_keep_sample_types, 2);
    CHECK_STR(p->keep_sample_types[1], "time");

    CHECK_INT(j->n_static_configs, 2);
    CHECK_INT(j->static_configs[0].n_targets, 2);
    CHECK_STR(j->static_configs[0].targets[0], "10.0.0.1:6060");
    CHECK_STR(labels_get(j->static_configs[0].labels, "team"), "core");
    CHECK_INT(labels_count(j->static_configs[1].labels), 0);

    CHECK_INT(j->n_file_sd_configs, 2);
    CHECK_STR(j->file_sd_configs[0].files[0], "/etc/kiln/sd/*.json");
    CHECK_INT(j->file_sd_configs[0].refresh_interval_ms, 60000);
    CHECK_INT(j->file_sd_configs[1].n_files, 2);
    CHECK_INT(j->file_sd_configs[1].refresh_interval_ms, 300000);

    CHECK_INT(j->n_kubernetes_sd_configs, 1);
    const struct scrape_config_k8s_sd *k = &j->kubernetes_sd_configs[0];
    CHECK_STR(k->role, "pod");
    CHECK_STR(k->api_server, "https://k8s.example:6443");
    CHECK_STR(k->bearer_token_file, "/var/run/token");
    CHECK_STR(k->ca_file, "/etc/ca.pem");
    CHECK_STR(k->cert_file, "/etc/c.pem");
    CHECK_STR(k->key_file, "/etc/k.pem");
    CHECK_STR(k->server_name, "k8s");
    CHECK(!k->insecure_skip_verify);
    CHECK_INT(k->n_namespaces, 2);
    CHECK_STR(k->namespaces[1], "shop");
    CHECK_INT(k->n_selectors, 1);
    CHECK_STR(k->selectors[0].label, "app=api");
    CHECK_STR(k->selectors[0].field, "spec.nodeName=n1");

    CHECK_INT(j->n_relabel_configs, 12);
    const struct scrape_config_relabel *r = &j->relabel_configs[0];
    CHECK_INT(r->n_source_labels, 2);
    CHECK_STR(r->source_labels[1], "env");
    CHECK_STR(r->separator, "|");
    CHECK_STR(r->regex, "(.*)\\|(.*)");
    CHECK_STR(r->target_label, "addr_env");
    CHECK_STR(r->replacement, "$1-$2");
    CHECK_INT(r->action, SCRAPE_ACTION_REPLACE);
    CHECK_INT(r->line, 64);
    CHECK_INT(r->column, 9);
    static const enum scrape_config_action actions[] = {
        SCRAPE_ACTION_REPLACE,   SCRAPE_ACTION_KEEP,
        SCRAPE_ACTION_DROP,      SCRAPE_ACTION_KEEPEQUAL,
        SCRAPE_ACTION_DROPEQUAL, SCRAPE_ACTION_HASHMOD,
        SCRAPE_ACTION_LABELMAP,  SCRAPE_ACTION_LABELDROP,
        SCRAPE_ACTION_LABELKEEP, SCRAPE_ACTION_LOWERCASE,
        SCRAPE_ACTION_UPPERCASE, SCRAPE_ACTION_REPLACE};
    for (size_t i = 0; i < 12; i++)
        CHECK_INT(j->relabel_configs[i].action, actions[i]);
    CHECK_INT(j->relabel_configs[5].modulus, 8);
    CHECK_STR(scrape_config_action_name(SCRAPE_ACTION_LABELKEEP), "labelkeep");
    r = &j->relabel_configs[11];
    CHECK_STR(r->separator, ";");
    CHECK_STR(r->regex, "(.*)");
    CHECK_STR(r->replacement, "$1");

    /* The second job inherits the global interval and timeout. */
    j = &cfg->jobs[1];
    CHECK_INT(j->scrape_interval_ms, 20000);
    CHECK_INT(j->scrape_timeout_ms, 30000);
    scrape_config_free(cfg);
}

static void test_defaults(void)
{
    struct scrape_config *cfg =
        parse("scrape_configs:\n  - job_name: a\n  - job_name: b\n"
              "    scrape_interval: 1m\n");
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    CHECK_INT(cfg->scrape_interval_ms, 10000);
    CHECK_INT(cfg->scrape_timeout_ms, 15000);
    CHECK_INT(cfg->evaluation_interval_ms, 60000);
    CHECK(cfg->external_labels != NULL);
    CHECK_INT(labels_count(cfg->external_labels), 0);
    CHECK_INT(cfg->n_rule_files, 0);
    CHECK_INT(cfg->n_alertmanagers, 0);
    const struct scrape_config_job *j = &cfg->jobs[0];
    CHECK_INT(j->scrape_interval_ms, 10000);
    CHECK_INT(j->scrape_timeout_ms, 15000);
    CHECK_STR(j->scheme, "http");
    CHECK_INT(j->n_params + j->n_static_configs + j->n_file_sd_configs +
                  j->n_kubernetes_sd_configs + j->n_relabel_configs,
              0);
    static const struct {
        const char *name, *path;
        bool enabled, delta, seconds;
        size_t n_keep;
    } want[] = {
        {"cpu", "/debug/pprof/profile", true, true, true, 0},
        {"memory", "/debug/pprof/heap", true, false, false, 2},
        {"allocs", "/debug/pprof/allocs", true, true, false, 2},
        {"mutex", "/debug/pprof/mutex", true, true, false, 0},
        {"block", "/debug/pprof/block", true, true, false, 0},
        {"goroutine", "/debug/pprof/goroutine", true, false, false, 0},
        {"threads", "/debug/pprof/threads", false, false, false, 0},
    };
    CHECK_INT(j->n_profiles, 7);
    for (size_t i = 0; i < 7 && i < j->n_profiles; i++) {
        const struct scrape_config_profile *p = &j->profiles[i];
        CHECK_STR(p->name, want[i].name);
        CHECK_STR(p->path, want[i].path);
        CHECK_INT(p->enabled, want[i].enabled);
        CHECK_INT(p->delta, want[i].delta);
        CHECK_INT(p->seconds, want[i].seconds);
        CHECK_INT(p->n_keep_sample_types, want[i].n_keep);
    }
    CHECK_STR(j->profiles[1].keep_sample_types[1], "inuse_space");
    CHECK_STR(j->profiles[2].keep_sample_types[0], "alloc_objects");
    /* The timeout follows a job's own interval. */
    CHECK_INT(cfg->jobs[1].scrape_interval_ms, 60000);
    CHECK_INT(cfg->jobs[1].scrape_timeout_ms, 65000);
    scrape_config_free(cfg);

    /* Empty files, comments only, null sections, explicit nulls. */
    static const char *const empties[] = {
        "",      "# nothing\n",
        "---\n", "{}\n",
        "~\n",   "global:\nscrape_configs:\nrule_files:\nalerting:\n",
    };
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        cfg = parse(empties[i]);
        CHECK(cfg != NULL);
        if (cfg != NULL) {
            CHECK_INT(cfg->n_jobs, 0);
            CHECK_INT(cfg->scrape_timeout_ms, 15000);
        }
        scrape_config_free(cfg);
    }

    /* A global timeout at or below a job's own interval gives way. */
    cfg = parse("global: {scrape_timeout: 12s}\n"
                "scrape_configs:\n"
                "  - {job_name: a, scrape_interval: 30s}\n"
                "  - {job_name: b, scrape_interval: 5s}\n");
    CHECK(cfg != NULL);
    if (cfg != NULL) {
        CHECK_INT(cfg->jobs[0].scrape_timeout_ms, 35000);
        CHECK_INT(cfg->jobs[1].scrape_timeout_ms, 12000);
    }
    scrape_config_free(cfg);

    /* Without profiles fetched with seconds, any interval and timeout. */
    cfg = parse("scrape_configs:\n"
                "  - job_name: a\n"
                "    scrape_interval: 1500ms\n"
                "    scrape_timeout: 1s\n"
                "    profiling: {cpu: {enabled: false}}\n");
    CHECK(cfg != NULL);
    scrape_config_free(cfg);
}

static void test_errors(void)
{
    /* Unknown keys, at every level. */
    expect_err("scrape_configs:\n  - job_name: a\n    scrape_intervl: 5s\n",
               KB_ERR_INVALID,
               "kiln.yml:3:5: scrape_configs[0]: unknown key "
               "\"scrape_intervl\"");
    expect_err("globl: {}\n", KB_ERR_INVALID,
               "kiln.yml:1:1: unknown key \"globl\"");
    expect_err("global:\n  external_label: {}\n", KB_ERR_INVALID,
               "kiln.yml:2:3: global: unknown key \"external_label\"");
    expect_err("scrape_configs:\n- job_name: a\n  profiling:\n"
               "    cpu: {enabled: true, sample: 1}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:26: scrape_configs[0].profiling.cpu: unknown key "
               "\"sample\"");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - action: keep\n    regexp: x\n",
               KB_ERR_INVALID,
               "kiln.yml:5:5: scrape_configs[0].relabel_configs[0]: unknown "
               "key \"regexp\"");
    /* Bad durations. */
    expect_err("scrape_configs:\n  - job_name: a\n    scrape_interval: 10x\n",
               KB_ERR_INVALID,
               "kiln.yml:3:22: scrape_configs[0].scrape_interval: bad "
               "duration \"10x\": unknown unit \"x\" (want y, w, d, h, m, s or "
               "ms)");
    expect_err("global:\n  evaluation_interval: 0s\n", KB_ERR_INVALID,
               "kiln.yml:2:24: global.evaluation_interval: duration must "
               "be more than 0");
    expect_err("global:\n  scrape_interval: [1]\n", KB_ERR_INVALID,
               "kiln.yml:2:20: global.scrape_interval: expected a duration, "
               "got a sequence");
    /* Bad label names. */
    expect_err("global:\n  external_labels:\n    bad-name: x\n", KB_ERR_INVALID,
               "kiln.yml:3:5: global.external_labels: bad label name "
               "\"bad-name\"");
    expect_err("scrape_configs:\n- job_name: a\n  static_configs:\n"
               "  - targets: [a:1]\n    labels: {0x: y}\n",
               KB_ERR_INVALID,
               "kiln.yml:5:14: scrape_configs[0].static_configs[0].labels: "
               "bad label name \"0x\"");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - source_labels: [ok, not.ok]\n",
               KB_ERR_INVALID,
               "kiln.yml:4:25: scrape_configs[0].relabel_configs[0]."
               "source_labels[1]: bad label name \"not.ok\"");
    /* Bad regexes. */
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - regex: 'a(b'\n    target_label: x\n",
               KB_ERR_INVALID,
               "kiln.yml:4:12: scrape_configs[0].relabel_configs[0].regex: "
               "bad regex \"a(b\": offset 3: missing closing parenthesis");
    /* Relabel rules that Prometheus refuses. */
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - action: explode\n",
               KB_ERR_INVALID,
               "kiln.yml:4:13: scrape_configs[0].relabel_configs[0].action: "
               "unknown action \"explode\"");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - action: hashmod\n    target_label: h\n",
               KB_ERR_INVALID,
               "kiln.yml:4:5: scrape_configs[0].relabel_configs[0]: action "
               "hashmod needs a modulus above 0");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - source_labels: [a]\n",
               KB_ERR_INVALID,
               "kiln.yml:4:5: scrape_configs[0].relabel_configs[0]: action "
               "replace needs target_label");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - {action: labeldrop, regex: x, target_label: y}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:5: scrape_configs[0].relabel_configs[0]: action "
               "labeldrop takes only regex, no other field");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - {action: lowercase, target_label: a-b}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:39: scrape_configs[0].relabel_configs[0]."
               "target_label: bad label name \"a-b\"");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - {target_label: '1x'}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:20: scrape_configs[0].relabel_configs[0]."
               "target_label: \"1x\" is not a valid target_label for "
               "replace");
    /* Wrong types. */
    expect_err("scrape_configs: {job_name: a}\n", KB_ERR_INVALID,
               "kiln.yml:1:17: scrape_configs: expected a sequence, got a "
               "mapping");
    expect_err("- a\n", KB_ERR_INVALID,
               "kiln.yml:1:1: expected a mapping, got a sequence");
    expect_err("scrape_configs:\n- job_name: [a]\n", KB_ERR_INVALID,
               "kiln.yml:2:13: scrape_configs[0].job_name: expected a "
               "scalar, got a sequence");
    expect_err("scrape_configs:\n- job_name: a\n  profiling:\n"
               "    cpu: {enabled: yes}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:20: scrape_configs[0].profiling.cpu.enabled: "
               "expected true or false, got \"yes\"");
    expect_err("scrape_configs:\n- job_name: a\n  relabel_configs:\n"
               "  - {action: hashmod, modulus: -1, target_label: x}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:32: scrape_configs[0].relabel_configs[0].modulus: "
               "expected an integer, got \"-1\"");
    /* Missing and duplicate job names. */
    expect_err("scrape_configs:\n- job_name: a\n- job_name: b\n"
               "- job_name: a\n",
               KB_ERR_INVALID,
               "kiln.yml:4:13: scrape_configs[2].job_name: duplicate "
               "job_name \"a\" (first at line 2)");
    expect_err("scrape_configs:\n- scheme: http\n", KB_ERR_INVALID,
               "kiln.yml:2:3: scrape_configs[0]: missing job_name");
    /* Values. */
    expect_err("scrape_configs:\n- job_name: a\n  scheme: ftp\n",
               KB_ERR_INVALID,
               "kiln.yml:3:11: scrape_configs[0].scheme: expected http or "
               "https, got \"ftp\"");
    expect_err("scrape_configs:\n- job_name: a\n  static_configs:\n"
               "  - targets: ['http://a:1']\n",
               KB_ERR_INVALID,
               "kiln.yml:4:15: scrape_configs[0].static_configs[0]."
               "targets[0]: bad target \"http://a:1\": expected host or "
               "host:port, without scheme or path");
    expect_err("scrape_configs:\n- job_name: a\n  file_sd_configs:\n"
               "  - files: [targets.txt]\n",
               KB_ERR_INVALID,
               "kiln.yml:4:13: scrape_configs[0].file_sd_configs[0].files[0]: "
               "\"targets.txt\": file names must end in .json, .yml or "
               ".yaml");
    expect_err("scrape_configs:\n- job_name: a\n  kubernetes_sd_configs:\n"
               "  - role: service\n",
               KB_ERR_UNSUPPORTED,
               "kiln.yml:4:11: scrape_configs[0].kubernetes_sd_configs[0]."
               "role: role \"service\" is not supported (only \"pod\")");
    expect_err("scrape_configs:\n- job_name: a\n  kubernetes_sd_configs:\n"
               "  - namespaces: {names: [x]}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:5: scrape_configs[0].kubernetes_sd_configs[0]: "
               "missing role");
    expect_err("scrape_configs:\n- job_name: a\n  scrape_interval: 10s\n"
               "  scrape_timeout: 10s\n",
               KB_ERR_INVALID,
               "kiln.yml:4:19: scrape_configs[0].scrape_timeout: "
               "scrape_timeout 10s must be longer than scrape_interval 10s "
               "(a CPU profile takes the whole interval)");
    expect_err("scrape_configs:\n- job_name: a\n  scrape_interval: 2500ms\n",
               KB_ERR_INVALID,
               "kiln.yml:3:20: scrape_configs[0].scrape_interval: "
               "scrape_interval 2s500ms is not a whole number of seconds "
               "(profiles with seconds: true are fetched with ?seconds=N)");
    expect_err("scrape_configs:\n- job_name: a\n  params: {seconds: ['5']}\n",
               KB_ERR_INVALID,
               "kiln.yml:3:12: scrape_configs[0].params: parameter "
               "\"seconds\" is set by Kiln (from scrape_interval, for "
               "profiles with seconds: true)");
    expect_err("scrape_configs:\n- job_name: a\n  profiling:\n"
               "    custom: [{name: cpu, path: /x}]\n",
               KB_ERR_INVALID,
               "kiln.yml:4:21: scrape_configs[0].profiling.custom[0].name: "
               "profile type \"cpu\" is already defined (built in: "
               "configure it under profiling)");
    expect_err("scrape_configs:\n- job_name: a\n  profiling:\n"
               "    custom: [{name: wall}]\n",
               KB_ERR_INVALID,
               "kiln.yml:4:14: scrape_configs[0].profiling.custom[0]: "
               "missing path");
    expect_err("scrape_configs:\n- job_name: a\n  profiling:\n"
               "    memory: {path: 'debug/heap'}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:20: scrape_configs[0].profiling.memory.path: bad "
               "path \"debug/heap\": expected /a/path, without query");
    expect_err("scrape_configs:\n- job_name: a\n  profiling:\n"
               "    memory: {seconds: true}\n",
               KB_ERR_INVALID,
               "kiln.yml:4:23: scrape_configs[0].profiling.memory.seconds: "
               "seconds: true needs delta: true (the target returns a delta "
               "over the window)");
    expect_err("alerting:\n  alertmanagers:\n  - timeout: 1q\n", KB_ERR_INVALID,
               "kiln.yml:3:14: alerting.alertmanagers[0].timeout: bad "
               "duration \"1q\": unknown unit \"q\" (want y, w, d, h, m, s or "
               "ms)");
    /* YAML itself. */
    expect_err("global:\n  scrape_interval: 10s\n scrape_timeout: 5s\n",
               KB_ERR_INVALID,
               "kiln.yml:3:2: did not find expected key (while parsing a "
               "block mapping at 1:1)");
    expect_err("global: {}\nglobal: {}\n", KB_ERR_INVALID,
               "kiln.yml:2:1: duplicate key \"global\" (first at 1:1)");
    expect_err("a: 1\n---\nb: 2\n", KB_ERR_INVALID,
               "kiln.yml:2:1: more than one document");
    expect_err("? [a]\n: 1\n", KB_ERR_INVALID,
               "kiln.yml:1:3: mapping keys must be scalars, got a sequence");
    expect_err("global: *nope\n", KB_ERR_INVALID,
               "kiln.yml:1:9: unknown anchor \"nope\"");
    expect_err("a: \xff\n", KB_ERR_INVALID,
               "kiln.yml:1:4: invalid leading UTF-8 octet (byte 0xFF)");
}

static void test_limits(void)
{
    /* Too deep. */
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    buf_puts(&b, "global: ");
    for (int i = 0; i < 40; i++)
        buf_putc(&b, '[');
    expect_err(buf_cstr(&b), KB_ERR_LIMIT,
               "kiln.yml:1:40: nested more than 32 levels deep");
    /* Too big. */
    buf_reset(&b);
    while (b.len <= SCRAPE_CONFIG_MAX_BYTES)
        buf_puts(&b, "# xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    char msg[128];
    snprintf(msg, sizeof(msg), "kiln.yml: %zu bytes, more than the limit of %u",
             b.len, SCRAPE_CONFIG_MAX_BYTES);
    expect_err(buf_cstr(&b), KB_ERR_LIMIT, msg);
    /* Exactly at the limit is fine. */
    b.len = SCRAPE_CONFIG_MAX_BYTES;
    b.data[b.len - 1] = '\n';
    struct scrape_config *cfg = NULL;
    struct kb_err err = {0};
    CHECK_INT(scrape_config_parse("kiln.yml", b.data, b.len, &cfg, &err),
              KB_OK);
    scrape_config_free(cfg);
    /* Aliases count as what they name ("billion laughs"). */
    buf_reset(&b);
    buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 8; i++)
        buf_printf(&b,
                   "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                   "*a%d, *a%d, *a%d, *a%d]\n",
                   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                   i - 1, i - 1);
    expect_err(buf_cstr(&b), KB_ERR_LIMIT,
               "kiln.yml:6:10: more than 200000 nodes (aliases count as "
               "what they name)");
    /* Duplicate keys in a large mapping (found with a hash map). */
    buf_reset(&b);
    buf_puts(&b, "global:\n  external_labels:\n");
    for (int i = 0; i < 100; i++)
        buf_printf(&b, "    l%d: v\n", i);
    buf_puts(&b, "    l42: w\n");
    expect_err(buf_cstr(&b), KB_ERR_INVALID,
               "kiln.yml:103:5: duplicate key \"l42\" (first at 45:5)");
    /* Too many jobs. */
    buf_reset(&b);
    buf_puts(&b, "scrape_configs:\n");
    for (int i = 0; i <= SCRAPE_CONFIG_MAX_JOBS; i++)
        buf_printf(&b, "- job_name: j%d\n", i);
    expect_err(buf_cstr(&b), KB_ERR_LIMIT,
               "kiln.yml:2:1: scrape_configs: 1001 items, more than the "
               "limit of 1000");
    buf_free(&b);
}

static void test_yamltree(void)
{
    const char text[] = "base: &b {x: 1, y: [a, 'b', \"\"]}\n"
                        "copy: *b\n"
                        "n: ~\n"
                        "q: 'null'\n";
    struct yamlt_doc *doc = NULL;
    struct kb_err err = {0};
    CHECK_INT(yamlt_parse("t.yml", text, strlen(text), NULL, &doc, &err),
              KB_OK);
    if (doc == NULL)
        return;
    const struct yamlt_node *root = yamlt_root(doc);
    CHECK_STR(yamlt_name(doc), "t.yml");
    CHECK_INT(root->kind, YAMLT_MAP);
    CHECK_INT(root->n, 4);
    CHECK(yamlt_get(root, "copy") == yamlt_get(root, "base"));
    const struct yamlt_node *y = yamlt_get(yamlt_get(root, "base"), "y");
    CHECK_INT(y->kind, YAMLT_SEQ);
    CHECK_INT(y->n, 3);
    CHECK_INT(y->line, 1);
    CHECK_INT(y->column, 20);
    CHECK(y->items[0]->plain && !y->items[1]->plain);
    CHECK(!yamlt_is_null(y->items[2]));
    CHECK(yamlt_is_null(yamlt_get(root, "n")));
    CHECK(!yamlt_is_null(yamlt_get(root, "q")));
    CHECK(yamlt_get(root, "missing") == NULL);
    uint64_t v = 0;
    CHECK_INT(yamlt_uint(doc, yamlt_get(yamlt_get(root, "base"), "x"), "x", 0,
                         10, &v, &err),
              KB_OK);
    CHECK_INT(v, 1);
    CHECK_INT(yamlt_uint(doc, yamlt_get(yamlt_get(root, "base"), "x"), "base.x",
                         2, 10, &v, &err),
              KB_ERR_INVALID);
    CHECK_STR(err.msg, "t.yml:1:14: base.x: 1 is out of range [2, 10]");
    char path[YAMLT_PATH_MAX];
    yamlt_path_key(path, "a[1]", "b\x01");
    CHECK_STR(path, "a[1].b\\x01");
    yamlt_path_index(path, "x", 12);
    CHECK_STR(path, "x[12]");
    yamlt_free(doc);

    /* An alias inside the node it names. */
    const char rec[] = "a: &a [1, *a]\n";
    CHECK_INT(yamlt_parse("t.yml", rec, strlen(rec), NULL, &doc, &err),
              KB_ERR_INVALID);
    CHECK_STR(err.msg, "t.yml:1:11: alias \"a\" is inside the node it names");
}

static void test_example(void)
{
    struct scrape_config *cfg = NULL;
    struct kb_err err = {0};
    enum kb_status st =
        scrape_config_load(unit_srcpath("examples/kiln.yml"), &cfg, &err);
    if (st != KB_OK)
        printf("# %s\n", err.msg);
    CHECK_INT(st, KB_OK);
    if (cfg == NULL)
        return;
    CHECK_INT(cfg->n_jobs, 4);
    const struct scrape_config_job *j = scrape_config_job(cfg, "c-service");
    CHECK(j != NULL && scrape_config_profile(j, "threads")->enabled);
    j = scrape_config_job(cfg, "kubernetes-pods");
    CHECK(j != NULL && j->n_kubernetes_sd_configs == 1);
    scrape_config_free(cfg);

    CHECK_INT(scrape_config_load("/nonexistent/kiln.yml", &cfg, &err),
              KB_ERR_IO);
    CHECK(cfg == NULL);
}

int main(void)
{
    RUN(test_full);
    RUN(test_defaults);
    RUN(test_errors);
    RUN(test_limits);
    RUN(test_yamltree);
    RUN(test_example);
    return unit_done();
}
