/* cmd/kilnctl_check.c: `kilnctl check config FILE`, which validates a
 * kiln.yml the way the server will load it. User docs: docs/kilnctl.md
 * and docs/configuration.md.
 *
 * Design. The check is scrape_config_load itself, so it accepts and
 * refuses exactly what the server does. A bad file prints the one error
 * line the server would log ("kilnctl: kiln.yml:12:5: scrape_configs[1].
 * scrape_interval: bad duration ...") and exits 1; a good one prints a
 * summary (the global settings, then one line per job with its interval,
 * timeout, enabled profile types and target sources) built in a struct buf
 * and written at the end, and exits 0. Usage problems exit 2.
 *
 * Ownership: the command frees the configuration and the buffer before
 * returning.
 */
#include "cmd/kilnctl.h"

#include <stdio.h>
#include <string.h>

#include "base/labels.h"
#include "base/timefmt.h"
#include "scraper/config.h"

static const char config_help[] =
    "Usage: kilnctl check config FILE\n"
    "\n"
    "Check the Kiln server configuration in FILE (kiln.yml, see\n"
    "docs/configuration.md) as the server loads it: YAML syntax, unknown\n"
    "keys, types, durations, label names, regexes, duplicate job names and\n"
    "limits. On success print a summary of the jobs and exit 0; otherwise\n"
    "print the first error as FILE:LINE:COLUMN: KEY.PATH: reason and exit\n"
    "1.\n"
    "\n"
    "Flags:\n"
    "  -h, --help  print this help\n";

static void put_summary(struct buf *o, const char *file,
                        const struct scrape_config *cfg)
{
    char a[KB_DURATION_STR_MAX], b[KB_DURATION_STR_MAX], c[KB_DURATION_STR_MAX];
    size_t targets = 0;
    for (size_t i = 0; i < cfg->n_jobs; i++)
        for (size_t j = 0; j < cfg->jobs[i].n_static_configs; j++)
            targets += cfg->jobs[i].static_configs[j].n_targets;
    buf_printf(o,
               "%s: OK: %zu job%s, %zu static target%s, %zu rule file "
               "pattern%s, %zu alertmanager config%s\n",
               file, cfg->n_jobs, cfg->n_jobs == 1 ? "" : "s", targets,
               targets == 1 ? "" : "s", cfg->n_rule_files,
               cfg->n_rule_files == 1 ? "" : "s", cfg->n_alertmanagers,
               cfg->n_alertmanagers == 1 ? "" : "s");
    buf_printf(o,
               "global: scrape_interval %s, scrape_timeout %s, "
               "evaluation_interval %s, external_labels ",
               kb_duration_format(cfg->scrape_interval_ms, a),
               kb_duration_format(cfg->scrape_timeout_ms, b),
               kb_duration_format(cfg->evaluation_interval_ms, c));
    labels_format(cfg->external_labels, o);
    buf_putc(o, '\n');
    for (size_t i = 0; i < cfg->n_jobs; i++) {
        const struct scrape_config_job *j = &cfg->jobs[i];
        size_t jt = 0;
        for (size_t k = 0; k < j->n_static_configs; k++)
            jt += j->static_configs[k].n_targets;
        buf_printf(o, "job %s: every %s (timeout %s), %s, profiles",
                   j->job_name, kb_duration_format(j->scrape_interval_ms, a),
                   kb_duration_format(j->scrape_timeout_ms, b), j->scheme);
        size_t on = 0;
        for (size_t k = 0; k < j->n_profiles; k++) {
            if (!j->profiles[k].enabled)
                continue;
            buf_printf(o, "%s%s", on++ ? "," : " ", j->profiles[k].name);
        }
        if (on == 0)
            buf_puts(o, " none");
        buf_printf(o,
                   "; %zu static target%s, %zu file_sd, %zu kubernetes_sd, "
                   "%zu relabel rule%s\n",
                   jt, jt == 1 ? "" : "s", j->n_file_sd_configs,
                   j->n_kubernetes_sd_configs, j->n_relabel_configs,
                   j->n_relabel_configs == 1 ? "" : "s");
    }
}

static int cmd_config(int argc, char **argv)
{
    static const char path[] = "kilnctl check config";
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(config_help, stdout);
            return KILNCTL_EXIT_OK;
        default:
            return kilnctl_bad_flag(path, c, argv);
        }
    }
    if (optind >= argc)
        return kilnctl_usage_error(path, "missing FILE");
    if (argc - optind > 1)
        return kilnctl_usage_error(path, "expects one FILE, got %d",
                                   argc - optind);
    const char *file = argv[optind];

    struct scrape_config *cfg = NULL;
    struct kb_err err = {0};
    if (scrape_config_load(file, &cfg, &err) != KB_OK)
        return kilnctl_fail("%s", err.msg);
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    put_summary(&out, file, cfg);
    int rc = kilnctl_write_stdout(&out);
    buf_free(&out);
    scrape_config_free(cfg);
    return rc;
}

/* ---- kilnctl check ------------------------------------------------------- */

static const struct kilnctl_command check_commands[] = {
    {"config", "validate a kiln.yml and summarize its jobs", cmd_config},
};

static const char check_intro[] =
    "Usage: kilnctl check COMMAND [ARGS...]\n"
    "\n"
    "Validate Kiln's files before the server loads them. Exit status: 0 when\n"
    "the file is valid, 1 when it is not (with one line\n"
    "'kilnctl: FILE:LINE:COLUMN: reason' on stderr), 2 on bad usage.\n";

int kilnctl_check_main(int argc, char **argv)
{
    return kilnctl_dispatch("kilnctl check", check_intro, check_commands,
                            sizeof(check_commands) / sizeof(check_commands[0]),
                            argc, argv);
}
