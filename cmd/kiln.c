/* cmd/kiln.c: the kiln server.
 *
 *   kiln --config.file=kiln.yml --storage.path=data \
 *        --web.listen-address=127.0.0.1:4770
 *
 * What runs, and in which thread:
 *   - the main thread parses flags, starts everything, then waits for
 *     signals: SIGHUP reloads the configuration, SIGTERM and SIGINT stop;
 *   - the HTTP server (web/) has its own threads; POST /-/reload reloads
 *     from there, POST /-/quit sends this process SIGTERM;
 *   - the scrape manager (scraper/) runs one event-loop thread;
 *   - a compaction thread calls tsdb_compact every minute.
 *
 * Start order: the web server first (so /-/healthy answers while the WAL
 * replays; /-/ready says 503 until everything runs), then the database,
 * the scrape manager and the first configuration. A configuration that
 * does not load at start is fatal; on reload it is logged, counted in
 * kiln_config_last_reload_successful and the running one stays.
 *
 * Stop order: the scrape manager (cancels in-flight scrapes and commits
 * what was appended), the compaction thread, the web server, then the
 * database (synced and closed). Exit status 0 after a clean stop, 1 when
 * something failed, 2 for bad usage.
 *
 * Flags are Prometheus-style (--name=value or --name value); see
 * docs/server.md. Logs are logfmt on stderr (base/log.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsio.h"
#include "base/log.h"
#include "base/text.h"
#include "base/metrics.h"
#include "base/timefmt.h"
#include "scraper/config.h"
#include "scraper/scrape.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

#define COMPACT_INTERVAL_S 60

static const char usage[] =
    "Usage: kiln [flags]\n"
    "\n"
    "The Kiln continuous profiling server: discovers targets, scrapes their\n"
    "pprof profiles and stores them (docs/server.md).\n"
    "\n"
    "Flags:\n"
    "  --config.file=FILE            configuration (default kiln.yml)\n"
    "  --storage.path=DIR            database directory (default data/)\n"
    "  --storage.block-range=DURATION  data per block (default 2h)\n"
    "  --storage.retention.time=DURATION  delete older data (default 15d)\n"
    "  --storage.retention.size=SIZE  keep at most this much (default 0: "
    "no limit)\n"
    "  --web.listen-address=ADDR     HTTP address (default :4770)\n"
    "  --web.enable-lifecycle        allow POST /-/reload and /-/quit\n"
    "  --scrape.body-size-limit=SIZE  largest response accepted (default "
    "64MB)\n"
    "  --scrape.sample-label-sets=N  pprof sample label sets kept as series\n"
    "                                per target and profile type (default "
    "64)\n"
    "  --log.level=LEVEL             debug, info, warn or error (default "
    "info)\n"
    "  --version                     print the version and exit\n"
    "  -h, --help                    print this help and exit\n";

struct flags {
    const char *config_file;
    const char *storage_path;
    const char *listen_address;
    bool enable_lifecycle;
    size_t body_limit;
    size_t label_sets;
    struct tsdb_options tsdb;
};

struct kiln {
    struct flags f;
    char *config_dir;
    struct metrics_registry *metrics;
    struct tsdb *db;
    struct scrape_manager *scrape;
    struct web_server *web;
    atomic_bool ready;
    pthread_mutex_t reload_lock;
    struct metrics_gauge *reload_ok, *reload_time;

    pthread_t compactor;
    bool compactor_started, compactor_stop;
    pthread_mutex_t compactor_lock;
    pthread_cond_t compactor_wake;
};

/* ---- Flags ----------------------------------------------------------------
 */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "kiln: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'kiln --help' for usage.\n");
    return 2;
}

/* A size flag: bytes, or a number with B, KB, MB, GB (powers of 1024). */
static bool parse_size(const char *s, size_t *out)
{
    uint64_t v;
    if (!kb_size_parse(s, &v) || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

/* Parse argv into `f`. Returns -1 to go on, else the exit status. */
static int parse_flags(int argc, char **argv, struct flags *f)
{
    enum {
        F_CONFIG = 1,
        F_STORAGE,
        F_TSDB,
        F_LISTEN,
        F_LIFECYCLE,
        F_BODY,
        F_LABEL_SETS,
        F_LOG,
        F_VERSION,
        F_HELP,
    };
    static const struct option opts[] = {
        {"config.file", required_argument, NULL, F_CONFIG},
        {"storage.path", required_argument, NULL, F_STORAGE},
        {"storage.block-range", required_argument, NULL, F_TSDB},
        {"storage.retention.time", required_argument, NULL, F_TSDB},
        {"storage.retention.size", required_argument, NULL, F_TSDB},
        {"web.listen-address", required_argument, NULL, F_LISTEN},
        {"web.enable-lifecycle", no_argument, NULL, F_LIFECYCLE},
        {"scrape.body-size-limit", required_argument, NULL, F_BODY},
        {"scrape.sample-label-sets", required_argument, NULL, F_LABEL_SETS},
        {"log.level", required_argument, NULL, F_LOG},
        {"version", no_argument, NULL, F_VERSION},
        {"help", no_argument, NULL, F_HELP},
        {NULL, 0, NULL, 0},
    };
    *f = (struct flags){
        .config_file = "kiln.yml",
        .storage_path = "data/",
        .listen_address = ":4770",
        .body_limit = SCRAPE_BODY_LIMIT_DEFAULT,
        .label_sets = SCRAPE_LABEL_SETS_DEFAULT,
    };
    tsdb_options_default(&f->tsdb);
    opterr = 0;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
        struct kb_err err = {0};
        switch (c) {
        case F_CONFIG:
            f->config_file = optarg;
            break;
        case F_STORAGE:
            f->storage_path = optarg;
            break;
        case F_TSDB:
            if (tsdb_options_flag(&f->tsdb, opts[idx].name, optarg, &err))
                return usage_error("%s", err.msg);
            break;
        case F_LISTEN:
            f->listen_address = optarg;
            break;
        case F_LIFECYCLE:
            f->enable_lifecycle = true;
            break;
        case F_BODY:
            if (!parse_size(optarg, &f->body_limit))
                return usage_error("--scrape.body-size-limit: \"%s\" is not "
                                   "a size (bytes, or a number with B, KB, "
                                   "MB or GB)",
                                   optarg);
            break;
        case F_LABEL_SETS: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || errno ||
                v > 1000000)
                return usage_error("--scrape.sample-label-sets: \"%s\" is "
                                   "not a count from 0 to 1000000",
                                   optarg);
            f->label_sets = (size_t)v;
            break;
        }
        case F_LOG: {
            enum log_level level;
            if (log_level_parse(optarg, &level, &err) != KB_OK)
                return usage_error("--log.level: %s", err.msg);
            log_set_level(level);
            break;
        }
        case F_VERSION:
            printf("kiln, version %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
        case F_HELP:
            fputs(usage, stdout);
            return 0;
        case ':':
            return usage_error("flag %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown flag %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    return -1;
}

/* ---- Configuration ---------------------------------------------------- */

/* Load the configuration file and hand it to the scrape manager. */
static enum kb_status reload(struct kiln *k, struct kb_err *err)
{
    pthread_mutex_lock(&k->reload_lock);
    struct scrape_config *cfg = NULL;
    enum kb_status st = scrape_config_load(k->f.config_file, &cfg, err);
    if (st == KB_OK) {
        st = scrape_manager_apply(k->scrape, cfg, k->config_dir, err);
        if (st != KB_OK)
            scrape_config_free(cfg);
    }
    metrics_gauge_set(k->reload_ok, st == KB_OK);
    if (st == KB_OK) {
        metrics_gauge_set(k->reload_time, (double)kb_now_ms() / 1000.0);
        log_info("main", "Completed loading of configuration file", "filename",
                 k->f.config_file, NULL);
    } else {
        log_error("main", "Error loading config", "filename", k->f.config_file,
                  "err", err->msg, NULL);
    }
    pthread_mutex_unlock(&k->reload_lock);
    return st;
}

/* ---- Hooks for the web server ----------------------------------------- */

static bool hook_ready(void *arg)
{
    struct kiln *k = arg;
    return atomic_load(&k->ready);
}

static enum kb_status hook_reload(void *arg, struct kb_err *err)
{
    struct kiln *k = arg;
    if (!atomic_load(&k->ready))
        return kb_errf(err, KB_ERR_IO, "Kiln is not ready yet");
    return reload(k, err);
}

static void hook_quit(void *arg)
{
    (void)arg;
    kill(getpid(), SIGTERM);
}

static enum kb_status hook_targets(void *arg, struct scrape_target_list *out,
                                   struct kb_err *err)
{
    struct kiln *k = arg;
    if (!atomic_load(&k->ready)) {
        memset(out, 0, sizeof(*out));
        return KB_OK;
    }
    return scrape_manager_targets(k->scrape, out, err);
}

/* ---- Database metrics -------------------------------------------------- */

/* One metric read from tsdb_runtime_stats at exposition time. */
struct db_metric {
    struct kiln *k;
    bool counter;
    const char *name, *help;
    double (*get)(const struct tsdb_runtime_stats *s);
};

static double get_head_series(const struct tsdb_runtime_stats *s)
{
    return (double)s->head_series;
}
static double get_head_profiles(const struct tsdb_runtime_stats *s)
{
    return (double)s->head_profiles;
}
static double get_head_floats(const struct tsdb_runtime_stats *s)
{
    return (double)s->head_float_samples;
}
static double get_blocks(const struct tsdb_runtime_stats *s)
{
    return (double)s->blocks;
}
static double get_fsyncs(const struct tsdb_runtime_stats *s)
{
    return (double)s->wal_fsyncs;
}
static double get_fsync_seconds(const struct tsdb_runtime_stats *s)
{
    return s->wal_fsync_seconds;
}

static double read_db_metric(void *arg)
{
    struct db_metric *m = arg;
    if (!m->k->db)
        return 0;
    struct tsdb_runtime_stats s;
    tsdb_runtime_stats(m->k->db, &s);
    return m->get(&s);
}

static struct db_metric db_metrics[] = {
    {NULL, false, "kiln_tsdb_head_series", "Series in the head block.",
     get_head_series},
    {NULL, false, "kiln_tsdb_head_profiles", "Profiles in the head block.",
     get_head_profiles},
    {NULL, false, "kiln_tsdb_head_float_samples",
     "Float samples in the head block.", get_head_floats},
    {NULL, false, "kiln_tsdb_blocks_loaded",
     "Blocks on disk (downsampled copies included).", get_blocks},
    {NULL, true, "kiln_tsdb_wal_fsyncs_total", "WAL fdatasyncs since start.",
     get_fsyncs},
    {NULL, true, "kiln_tsdb_wal_fsync_seconds_total",
     "Time spent in WAL fdatasyncs since start.", get_fsync_seconds},
};

static void register_metrics(struct kiln *k)
{
    metrics_register_process(k->metrics);
    metrics_gauge_set(metrics_gauge(k->metrics, "kiln_build_info",
                                    "Kiln's version, as a label.", "version",
                                    PACKAGE_VERSION, NULL),
                      1);
    k->reload_ok =
        metrics_gauge(k->metrics, "kiln_config_last_reload_successful",
                      "Whether the last configuration reload attempt was "
                      "successful.",
                      NULL);
    k->reload_time = metrics_gauge(
        k->metrics, "kiln_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.", NULL);
    for (size_t i = 0; i < sizeof(db_metrics) / sizeof(db_metrics[0]); i++) {
        db_metrics[i].k = k;
        (db_metrics[i].counter ? metrics_counter_func : metrics_gauge_func)(
            k->metrics, db_metrics[i].name, db_metrics[i].help, read_db_metric,
            &db_metrics[i], NULL);
    }
}

/* ---- Compaction --------------------------------------------------------- */

static void *compactor_main(void *arg)
{
    struct kiln *k = arg;
    pthread_mutex_lock(&k->compactor_lock);
    while (!k->compactor_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += COMPACT_INTERVAL_S;
        pthread_cond_timedwait(&k->compactor_wake, &k->compactor_lock, &until);
        if (k->compactor_stop)
            break;
        pthread_mutex_unlock(&k->compactor_lock);
        struct kb_err err;
        if (tsdb_compact(k->db, &err) != KB_OK)
            log_error("tsdb", "Compaction failed", "err", err.msg, NULL);
        pthread_mutex_lock(&k->compactor_lock);
    }
    pthread_mutex_unlock(&k->compactor_lock);
    return NULL;
}

static void compactor_stop(struct kiln *k)
{
    if (!k->compactor_started)
        return;
    pthread_mutex_lock(&k->compactor_lock);
    k->compactor_stop = true;
    pthread_cond_signal(&k->compactor_wake);
    pthread_mutex_unlock(&k->compactor_lock);
    pthread_join(k->compactor, NULL);
}

/* ---- Main ------------------------------------------------------------------
 */

/* Every target keeps a connection per profile type: lift the soft limit on
 * open files to the hard one, as Go programs (and so Prometheus) do. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("main", "Raising the open files limit failed", "err",
                     strerror(errno), NULL);
    }
}

/* Log the address the web server listens on, with the port it got (the
 * flag may say port 0). */
static void log_listening(const char *flag, uint16_t port)
{
    const char *colon = strrchr(flag, ':');
    int host_len = colon ? (int)(colon - flag) : 0;
    char addr[300];
    snprintf(addr, sizeof(addr), "%.*s:%u", host_len < 256 ? host_len : 256,
             flag, (unsigned)port);
    log_info("web", "Listening on", "address", addr, NULL);
}

/* Start everything after the web server; false (logged) on failure. */
static bool start(struct kiln *k)
{
    struct kb_err err;
    /* A configuration that does not load is fatal at start: check it
     * before the (possibly long) WAL replay. */
    struct scrape_config *cfg = NULL;
    if (scrape_config_load(k->f.config_file, &cfg, &err) != KB_OK) {
        log_error("main", "Error loading config", "filename", k->f.config_file,
                  "err", err.msg, NULL);
        return false;
    }
    scrape_config_free(cfg);
    log_info("main", "Opening storage", "path", k->f.storage_path, NULL);
    if (tsdb_open(k->f.storage_path, &k->f.tsdb, &k->db, &err) != KB_OK) {
        log_error("main", "Opening storage failed", "err", err.msg, NULL);
        return false;
    }
    char ua[64];
    snprintf(ua, sizeof(ua), "Kiln/%s", PACKAGE_VERSION);
    struct scrape_options so = {
        .db = k->db,
        .metrics = k->metrics,
        .body_limit = k->f.body_limit,
        .max_label_sets = k->f.label_sets,
        .user_agent = ua,
    };
    if (scrape_manager_start(&so, &k->scrape, &err) != KB_OK) {
        log_error("main", "Starting the scrape manager failed", "err", err.msg,
                  NULL);
        return false;
    }
    if (reload(k, &err) != KB_OK)
        return false;
    if (pthread_create(&k->compactor, NULL, compactor_main, k) != 0) {
        log_error("main", "Starting the compaction thread failed", NULL);
        return false;
    }
    k->compactor_started = true;
    atomic_store(&k->ready, true);
    log_info("main", "Server is ready to receive web requests.", NULL);
    return true;
}

/* Wait for SIGTERM or SIGINT, reloading on SIGHUP. */
static void wait_signals(struct kiln *k, const sigset_t *set)
{
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            struct kb_err err;
            (void)reload(k, &err);
            continue;
        }
        log_warn("main", "Received a termination signal, exiting gracefully",
                 "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
        return;
    }
}

static enum kb_status shutdown_all(struct kiln *k)
{
    atomic_store(&k->ready, false);
    scrape_manager_stop(k->scrape);
    k->scrape = NULL;
    compactor_stop(k);
    web_server_stop(k->web);
    k->web = NULL;
    struct kb_err err;
    enum kb_status st = tsdb_close(k->db, &err);
    k->db = NULL;
    if (st != KB_OK)
        log_error("main", "Closing storage failed", "err", err.msg, NULL);
    return st;
}

int main(int argc, char **argv)
{
    struct kiln k = {0};
    int rc = parse_flags(argc, argv, &k.f);
    if (rc >= 0)
        return rc;

    /* Signals are taken by sigwait in this thread only: block them before
     * any thread starts, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    char *dir = kb_strdup(k.f.config_file);
    k.config_dir = kb_strdup(dirname(dir));
    free(dir);
    pthread_mutex_init(&k.reload_lock, NULL);
    pthread_mutex_init(&k.compactor_lock, NULL);
    pthread_cond_init(&k.compactor_wake, NULL);
    k.metrics = metrics_registry_new();
    register_metrics(&k);
    log_info("main", "Starting Kiln", "version", PACKAGE_VERSION, NULL);

    struct web_options wo = {
        .listen_address = k.f.listen_address,
        .enable_lifecycle = k.f.enable_lifecycle,
        .version = PACKAGE_VERSION,
        .metrics = k.metrics,
        .db = &k.db, /* NULL until start() opened it */
        .hooks = {.arg = &k,
                  .ready = hook_ready,
                  .reload = hook_reload,
                  .quit = hook_quit,
                  .targets = hook_targets},
    };
    struct kb_err err;
    bool ok = false;
    if (web_server_start(&wo, &k.web, &err) != KB_OK)
        log_error("main", "Starting the web server failed", "err", err.msg,
                  NULL);
    else {
        log_listening(k.f.listen_address, web_server_port(k.web));
        ok = start(&k);
    }
    if (ok)
        wait_signals(&k, &set);
    if (shutdown_all(&k) != KB_OK)
        ok = false;
    log_info("main", ok ? "See you next time!" : "Exiting after an error",
             NULL);
    metrics_registry_free(k.metrics);
    pthread_cond_destroy(&k.compactor_wake);
    pthread_mutex_destroy(&k.compactor_lock);
    pthread_mutex_destroy(&k.reload_lock);
    free(k.config_dir);
    return ok ? 0 : 1;
}
