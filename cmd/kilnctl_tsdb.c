/* cmd/kilnctl_tsdb.c: `kilnctl import` and `kilnctl tsdb list|stats|dump`,
 * the database without the server. User docs: docs/kilnctl.md.
 *
 * Design. import opens the database for writing (so it must not be in use
 * by a running server) and appends each file as one commit: every sample
 * type of the profile becomes its own series, named by its profile type ID
 * (tsdb_type_id) plus the labels given with --labels, at the profile's
 * time_nanos, covering its duration_nanos. A directory contributes every
 * regular file in it, and all files are imported in time order (they are
 * decoded once to learn their times). A file that fails stops the import
 * with exit 1; the files committed before it stay committed, and the
 * message says how many.
 *
 * list, stats and dump open the database read-only (a shared lock, no new
 * WAL segment), so they run beside each other but not beside a writer.
 * Output is built in a buf and written at the end.
 */
#include "cmd/kilnctl.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/fsio.h"
#include "base/jsonw.h"
#include "base/labels.h"
#include "base/timefmt.h"
#include "pprof/profile.h"
#include "tsdb/tsdb.h"

/* ---- import ------------------------------------------------------------- */

static const char import_usage[] =
    "Usage: kilnctl import --storage.path=DIR [--labels='{k=\"v\",...}']\n"
    "                      [--profile=NAME] FILE|DIR...\n"
    "\n"
    "Store pprof files in the database at DIR (created if missing). Each\n"
    "sample type becomes its own series named by its profile type ID, e.g.\n"
    "process_cpu:cpu:nanoseconds:cpu:nanoseconds, with the given labels.\n"
    "The profile's time_nanos and duration_nanos give its time and\n"
    "duration. A directory imports every file in it; all files go in time\n"
    "order.\n"
    "\n"
    "  --storage.path=DIR  the database directory (required)\n"
    "  --labels=SET        series labels, Prometheus text form\n"
    "  --profile=NAME      the first part of the type ID (process_cpu,\n"
    "                      memory, mutex, block, goroutine, ...); inferred\n"
    "                      from the period type when absent (Go's block\n"
    "                      profiles need --profile=block)\n"
    "  --storage.block-range=DURATION   data per block (default 2h)\n"
    "  --storage.retention.time=DURATION  delete older blocks (default 15d)\n"
    "  --storage.retention.size=SIZE    keep at most this much (512MB)\n"
    "\n"
    "After importing, the head is compacted into blocks as the server does.\n";

struct import_file {
    char *path;
    int64_t time_nanos;
};

static int file_cmp(const void *a, const void *b)
{
    const struct import_file *x = a, *y = b;
    if (x->time_nanos != y->time_nanos)
        return x->time_nanos < y->time_nanos ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Add `path` to the list (after decoding it for its time). */
static int add_file(struct import_file **files, size_t *n, size_t *cap,
                    const char *path)
{
    struct pprof_profile *p = NULL;
    struct kb_err err = {0};
    if (pprof_read_file(path, NULL, &p, &err) != KB_OK)
        return kilnctl_fail("%s", err.msg);
    *files = kb_grow(*files, cap, *n + 1, sizeof(**files));
    (*files)[*n].path = kb_strdup(path);
    (*files)[*n].time_nanos = p->time_nanos;
    (*n)++;
    pprof_free(p);
    return KILNCTL_EXIT_OK;
}

/* Expand one command-line argument: a file, or every regular file of a
 * directory. */
static int collect(const char *arg, struct import_file **files, size_t *n,
                   size_t *cap)
{
    struct stat sb;
    if (stat(arg, &sb) != 0)
        return kilnctl_fail("%s: %s", arg, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return add_file(files, n, cap, arg);
    DIR *d = opendir(arg);
    if (d == NULL)
        return kilnctl_fail("%s: %s", arg, strerror(errno));
    int rc = KILNCTL_EXIT_OK;
    struct dirent *de;
    while (rc == KILNCTL_EXIT_OK && (de = readdir(d)) != NULL) {
        char path[4096];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", arg, de->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            rc = add_file(files, n, cap, path);
    }
    closedir(d);
    return rc;
}

/* Append every sample type of the profile at `path`; returns the number of
 * profiles stored through *stored. */
static int import_one(struct tsdb *db, const char *path,
                      const struct labels *base, const char *profile,
                      size_t *stored)
{
    struct pprof_profile *p = NULL;
    struct kb_err err = {0};
    struct labels_builder *lb = labels_builder_new();
    struct buf name;
    buf_init(&name, 4096);
    struct tsdb_appender *a = NULL;
    int rc = KILNCTL_EXIT_FAIL;
    if (pprof_read_file(path, NULL, &p, &err) != KB_OK) {
        kilnctl_fail("%s", err.msg);
        goto done;
    }
    if (p->time_nanos <= 0) {
        kilnctl_fail("%s: profile has no time (time_nanos is 0)", path);
        goto done;
    }
    a = tsdb_appender_begin(db);
    for (size_t i = 0; i < p->n_sample_types; i++) {
        buf_reset(&name);
        if (tsdb_type_id(p, i, profile, &name) != KB_OK) {
            kilnctl_fail("%s: sample type %zu cannot be named (empty or ':' "
                         "in its type, unit or period type)",
                         path, i);
            goto done;
        }
        struct labels *ls = NULL;
        labels_builder_reset(lb, base);
        if (labels_builder_set(lb, "__name__", buf_cstr(&name), &err) ||
            labels_builder_finish(lb, &ls, &err) ||
            tsdb_append_profile(a, ls, p->time_nanos / 1000000,
                                p->duration_nanos, p, i, &err)) {
            labels_free(ls);
            kilnctl_fail("%s: %s", path, err.msg);
            goto done;
        }
        labels_free(ls);
    }
    struct tsdb_appender *committing = a;
    a = NULL;
    if (tsdb_appender_commit(committing, &err) != KB_OK) {
        kilnctl_fail("%s: commit: %s", path, err.msg);
        goto done;
    }
    *stored += p->n_sample_types;
    rc = KILNCTL_EXIT_OK;
done:
    tsdb_appender_rollback(a);
    buf_free(&name);
    labels_builder_free(lb);
    pprof_free(p);
    return rc;
}

int kilnctl_import_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"storage.path", required_argument, NULL, 's'},
        {"labels", required_argument, NULL, 'l'},
        {"profile", required_argument, NULL, 'p'},
        {"storage.block-range", required_argument, NULL, 'b'},
        {"storage.retention.time", required_argument, NULL, 'r'},
        {"storage.retention.size", required_argument, NULL, 'z'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = "kilnctl import", *dir = NULL, *labels_text = "{}";
    const char *profile = NULL;
    struct tsdb_options topts;
    tsdb_options_default(&topts);
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            dir = optarg;
            break;
        case 'l':
            labels_text = optarg;
            break;
        case 'p':
            profile = optarg;
            break;
        case 'b':
        case 'r':
        case 'z': {
            struct kb_err ferr = {0};
            const char *name = c == 'b'   ? "storage.block-range"
                               : c == 'r' ? "storage.retention.time"
                                          : "storage.retention.size";
            if (tsdb_options_flag(&topts, name, optarg, &ferr) != KB_OK)
                return kilnctl_usage_error(path, "%s", ferr.msg);
            break;
        }
        case 'h':
            fputs(import_usage, stdout);
            return KILNCTL_EXIT_OK;
        default:
            return kilnctl_bad_flag(path, c, argv);
        }
    }
    if (dir == NULL)
        return kilnctl_usage_error(path, "--storage.path is required");
    if (optind >= argc)
        return kilnctl_usage_error(path, "no files to import");
    if (profile && (profile[0] == '\0' || strchr(profile, ':')))
        return kilnctl_usage_error(path,
                                   "--profile must be a name without ':'");
    struct labels *base = NULL;
    struct kb_err err = {0};
    if (labels_parse(labels_text, strlen(labels_text), &base, &err) != KB_OK)
        return kilnctl_usage_error(path, "--labels: %s", err.msg);
    struct import_file *files = NULL;
    size_t n = 0, cap = 0, stored = 0, done = 0;
    int rc = KILNCTL_EXIT_OK;
    struct tsdb *db = NULL;
    for (int i = optind; rc == KILNCTL_EXIT_OK && i < argc; i++)
        rc = collect(argv[i], &files, &n, &cap);
    if (rc == KILNCTL_EXIT_OK && n > 1)
        qsort(files, n, sizeof(*files), file_cmp);
    if (rc == KILNCTL_EXIT_OK && tsdb_open(dir, &topts, &db, &err) != KB_OK)
        rc = kilnctl_fail("%s", err.msg);
    for (size_t i = 0; rc == KILNCTL_EXIT_OK && i < n; i++) {
        rc = import_one(db, files[i].path, base, profile, &stored);
        if (rc == KILNCTL_EXIT_OK)
            done++;
        else if (done > 0)
            fprintf(stderr, "kilnctl: the %zu file(s) before it are imported\n",
                    done);
    }
    if (rc == KILNCTL_EXIT_OK)
        printf("imported %zu profiles from %zu files into %s\n", stored, done,
               dir);
    if (rc == KILNCTL_EXIT_OK && tsdb_compact(db, &err) != KB_OK)
        rc = kilnctl_fail("%s: compaction failed (the profiles are "
                          "imported): %s",
                          dir, err.msg);
    if (tsdb_close(db, &err) != KB_OK && rc == KILNCTL_EXIT_OK)
        rc = kilnctl_fail("%s", err.msg);
    for (size_t i = 0; i < n; i++)
        free(files[i].path);
    free(files);
    labels_free(base);
    return rc;
}

/* ---- tsdb list, stats, dump --------------------------------------------- */

/* Open `dir` read-only for queries up to `max_time` (ms). */
static struct tsdb *open_read_only(const char *dir, int64_t max_time)
{
    struct tsdb_options o;
    tsdb_options_default(&o);
    o.read_only = true;
    o.read_max_time = max_time;
    struct tsdb *db = NULL;
    struct kb_err err = {0};
    if (tsdb_open(dir, &o, &db, &err) != KB_OK) {
        kilnctl_fail("%s", err.msg);
        return NULL;
    }
    return db;
}

/* Parse the common "DIR [--format=json]" arguments of list and stats. */
static int parse_dir_format(const char *path, const char *usage, int argc,
                            char **argv, const char **dir,
                            enum kilnctl_format *fmt)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *fmt = KILNCTL_FORMAT_TEXT;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'f' && kilnctl_parse_format(optarg, fmt))
            continue;
        if (c == 'f')
            return kilnctl_usage_error(path, "bad --format \"%s\"", optarg);
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        return kilnctl_bad_flag(path, c, argv);
    }
    if (optind + 1 != argc)
        return kilnctl_usage_error(path, "expected one database directory");
    *dir = argv[optind];
    return KILNCTL_EXIT_OK;
}

static const char list_usage[] =
    "Usage: kilnctl tsdb list DIR [--format=text|json]\n"
    "\n"
    "List the database's blocks, oldest first: ULID, time range, series,\n"
    "profiles, bytes and compaction level, then the in-memory head (rebuilt\n"
    "from the WAL) as \"head\".\n";

struct list_row {
    const char *id;
    int64_t mint, maxt;
    uint64_t series, profiles, bytes;
    int level;
    int64_t resolution; /* ms, 0 = raw */
};

static void list_row(struct buf *out, struct jsonw *w, enum kilnctl_format fmt,
                     const struct list_row *r)
{
    bool empty = r->mint > r->maxt;
    if (fmt == KILNCTL_FORMAT_JSON) {
        jsonw_object_begin(w);
        jsonw_key(w, "id");
        jsonw_string(w, r->id);
        jsonw_key(w, "min_time");
        empty ? jsonw_null(w) : jsonw_int(w, r->mint);
        jsonw_key(w, "max_time");
        empty ? jsonw_null(w) : jsonw_int(w, r->maxt);
        jsonw_key(w, "series");
        jsonw_uint(w, r->series);
        jsonw_key(w, "profiles");
        jsonw_uint(w, r->profiles);
        jsonw_key(w, "bytes");
        jsonw_uint(w, r->bytes);
        jsonw_key(w, "level");
        jsonw_int(w, r->level);
        jsonw_key(w, "resolution");
        jsonw_int(w, r->resolution);
        jsonw_object_end(w);
        return;
    }
    char t0[KB_TIME_STR_MAX], t1[KB_TIME_STR_MAX];
    kb_time_format(empty ? 0 : r->mint, t0);
    kb_time_format(empty ? 0 : r->maxt, t1);
    char res[KB_DURATION_STR_MAX] = "raw";
    if (r->resolution > 0)
        kb_duration_format(r->resolution, res);
    buf_printf(out,
               "%-26s %-24s %-24s %8" PRIu64 " %9" PRIu64 " %12" PRIu64
               " %5d %5s\n",
               r->id, empty ? "-" : t0, empty ? "-" : t1, r->series,
               r->profiles, r->bytes, r->level, res);
}

static int tsdb_list(int argc, char **argv)
{
    const char *dir;
    enum kilnctl_format fmt;
    int rc = parse_dir_format("kilnctl tsdb list", list_usage, argc, argv, &dir,
                              &fmt);
    if (rc != KILNCTL_EXIT_OK)
        return rc < 0 ? KILNCTL_EXIT_OK : rc;
    struct tsdb *db = open_read_only(dir, INT64_MAX);
    if (db == NULL)
        return KILNCTL_EXIT_FAIL;
    struct tsdb_block_info *blocks;
    size_t n = tsdb_blocks(db, &blocks);
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    char wal[4096];
    snprintf(wal, sizeof(wal), "%s/wal", dir);
    /* The head: what the stats hold beyond the blocks. */
    struct list_row head = {.id = "head",
                            .mint = INT64_MAX,
                            .maxt = INT64_MIN,
                            .profiles = st.profiles,
                            .bytes = kb_disk_usage(wal)};
    for (size_t i = 0; i < n; i++)
        if (blocks[i].resolution == 0) /* copies repeat raw profiles */
            head.profiles -= blocks[i].profiles;
    tsdb_head_range(db, &head.mint, &head.maxt, &head.series);
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    struct jsonw w;
    if (fmt == KILNCTL_FORMAT_JSON) {
        jsonw_init(&w, &out);
        jsonw_array_begin(&w);
    } else {
        buf_printf(&out, "%-26s %-24s %-24s %8s %9s %12s %5s %5s\n", "BLOCK",
                   "MIN TIME", "MAX TIME", "SERIES", "PROFILES", "BYTES",
                   "LEVEL", "RES");
    }
    for (size_t i = 0; i < n; i++) {
        struct list_row r = {
            .id = blocks[i].ulid,
            .mint = blocks[i].mint,
            .maxt = blocks[i].maxt,
            .series = blocks[i].series,
            .profiles = blocks[i].profiles,
            .bytes = blocks[i].bytes,
            .level = blocks[i].level,
            .resolution = blocks[i].resolution,
        };
        list_row(&out, &w, fmt, &r);
    }
    list_row(&out, &w, fmt, &head);
    if (fmt == KILNCTL_FORMAT_JSON) {
        jsonw_array_end(&w);
        jsonw_finish(&w, NULL);
        buf_putc(&out, '\n');
    }
    free(blocks);
    tsdb_close(db, NULL);
    rc = kilnctl_write_stdout(&out);
    buf_free(&out);
    return rc;
}

static const char stats_usage[] =
    "Usage: kilnctl tsdb stats DIR [--format=text|json]\n"
    "\n"
    "Print the database's counts: series, profiles, float samples, (stack,\n"
    "value) pairs, unique strings, mappings, functions, locations and stack\n"
    "nodes, bytes on disk and bytes per profile.\n";

static int tsdb_stats_cmd(int argc, char **argv)
{
    const char *dir;
    enum kilnctl_format fmt;
    int rc = parse_dir_format("kilnctl tsdb stats", stats_usage, argc, argv,
                              &dir, &fmt);
    if (rc != KILNCTL_EXIT_OK)
        return rc < 0 ? KILNCTL_EXIT_OK : rc;
    struct tsdb *db = open_read_only(dir, INT64_MAX);
    if (db == NULL)
        return KILNCTL_EXIT_FAIL;
    struct tsdb_stats st;
    tsdb_stats(db, &st);
    tsdb_close(db, NULL);
    uint64_t bytes = kb_disk_usage(dir);
    double per = st.profiles ? (double)bytes / (double)st.profiles : 0;
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {
        {"series", st.series},
        {"profile_series", st.profile_series},
        {"float_series", st.float_series},
        {"profiles", st.profiles},
        {"float_samples", st.float_samples},
        {"pairs", st.pairs},
        {"strings", st.strings},
        {"mappings", st.mappings},
        {"functions", st.functions},
        {"locations", st.locations},
        {"stack_nodes", st.stack_nodes},
        {"blocks", st.blocks},
        {"downsampled_blocks", st.downsampled_blocks},
        {"bytes_on_disk", bytes},
    };
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    struct jsonw w;
    if (fmt == KILNCTL_FORMAT_JSON) {
        jsonw_init(&w, &out);
        jsonw_object_begin(&w);
    }
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (fmt == KILNCTL_FORMAT_JSON) {
            jsonw_key(&w, rows[i].name);
            jsonw_uint(&w, rows[i].v);
        } else {
            buf_printf(&out, "%-16s %" PRIu64 "\n", rows[i].name, rows[i].v);
        }
    }
    if (fmt == KILNCTL_FORMAT_JSON) {
        jsonw_key(&w, "bytes_per_profile");
        jsonw_double(&w, per);
        jsonw_object_end(&w);
        jsonw_finish(&w, NULL);
        buf_putc(&out, '\n');
    } else {
        buf_printf(&out, "%-16s %.1f\n", "bytes_per_profile", per);
    }
    rc = kilnctl_write_stdout(&out);
    buf_free(&out);
    return rc;
}

static const char dump_usage[] =
    "Usage: kilnctl tsdb dump DIR --match=SELECTOR [--start=T] [--end=T]\n"
    "                         [-o OUT.pb.gz]\n"
    "\n"
    "List the profiles of the series matching SELECTOR (PromQL form:\n"
    "cpu{job=\"api\"}, {__name__=~\"memory:.*\"}) between the times T\n"
    "(RFC 3339 or Unix seconds; default: all), one line each: series, time,\n"
    "duration, stacks and total. With -o, write instead the merge of those\n"
    "profiles as a gzip'd pprof (all series must be of one profile type).\n";

static int dump_list(struct tsdb_querier *q, const uint64_t *refs, size_t n,
                     struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        struct buf lbl;
        buf_init(&lbl, BUF_NO_LIMIT);
        labels_format(tsdb_querier_labels(q, refs[i]), &lbl);
        if (tsdb_querier_kind(q, refs[i]) == TSDB_FLOATS) {
            const int64_t *t;
            const double *v;
            size_t nf;
            tsdb_querier_floats(q, refs[i], &t, &v, &nf);
            for (size_t k = 0; k < nf; k++) {
                char ts[KB_TIME_STR_MAX];
                buf_printf(out, "%s %s %.17g\n", buf_cstr(&lbl),
                           kb_time_format(t[k], ts), v[k]);
            }
        } else {
            size_t np;
            const struct tsdb_profile_view *v =
                tsdb_querier_profiles(q, refs[i], &np);
            for (size_t k = 0; k < np; k++) {
                char ts[KB_TIME_STR_MAX];
                int64_t total = 0;
                for (size_t j = 0; j < v[k].n; j++)
                    total += v[k].values[j];
                buf_printf(
                    out, "%s %s duration=%.3fs stacks=%zu total=%" PRId64 "\n",
                    buf_cstr(&lbl), kb_time_format(v[k].t_ms, ts),
                    (double)v[k].duration_ns / 1e9, v[k].n, total);
            }
        }
        buf_free(&lbl);
    }
    return KILNCTL_EXIT_OK;
}

static int parse_time_flag(const char *path, const char *flag, const char *s,
                           int64_t *ms)
{
    struct kb_err err = {0};
    if (kb_time_parse(s, strlen(s), ms, &err) != KB_OK)
        return kilnctl_usage_error(path, "%s: %s", flag, err.msg);
    return KILNCTL_EXIT_OK;
}

static int tsdb_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        {"match", required_argument, NULL, 'm'},
        {"start", required_argument, NULL, 's'},
        {"end", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = "kilnctl tsdb dump", *match = NULL, *outfile = NULL;
    int64_t start = INT64_MIN, end = INT64_MAX;
    int c, rc;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            match = optarg;
            break;
        case 's':
            if ((rc = parse_time_flag(path, "--start", optarg, &start)))
                return rc;
            break;
        case 'e':
            if ((rc = parse_time_flag(path, "--end", optarg, &end)))
                return rc;
            break;
        case 'o':
            outfile = optarg;
            break;
        case 'h':
            fputs(dump_usage, stdout);
            return KILNCTL_EXIT_OK;
        default:
            return kilnctl_bad_flag(path, c, argv);
        }
    }
    if (optind + 1 != argc)
        return kilnctl_usage_error(path, "expected one database directory");
    if (match == NULL)
        return kilnctl_usage_error(path, "--match is required");
    struct kb_err err = {0};
    struct tsdb_matcher *ms = NULL;
    size_t nm = 0;
    if (tsdb_matchers_parse(match, &ms, &nm, &err) != KB_OK)
        return kilnctl_usage_error(path, "--match: %s", err.msg);
    struct tsdb *db = open_read_only(argv[optind], end);
    if (db == NULL) {
        tsdb_matchers_free(ms, nm);
        return KILNCTL_EXIT_FAIL;
    }
    struct tsdb_querier *q = tsdb_querier_open(db, start, end);
    if (outfile != NULL) /* a merge: bucket sums are exact, and faster */
        tsdb_querier_allow_downsampled(q);
    uint64_t *refs = NULL;
    size_t n = 0;
    struct pprof_profile *merged = NULL;
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    rc = KILNCTL_EXIT_OK;
    if (tsdb_querier_select(q, ms, nm, &refs, &n, &err) != KB_OK) {
        rc = kilnctl_fail("%s", err.msg);
    } else if (outfile == NULL) {
        rc = dump_list(q, refs, n, &out);
        if (tsdb_querier_error(q, &err) != KB_OK)
            rc = kilnctl_fail("%s", err.msg);
    } else if (tsdb_querier_merge(q, refs, n, &merged, &err) != KB_OK) {
        rc = kilnctl_fail("%s", err.msg);
    } else if (merged == NULL) {
        rc = kilnctl_fail("no profiles match %s", match);
    } else if (pprof_write_file(merged, outfile, &err) != KB_OK) {
        rc = kilnctl_fail("%s", err.msg);
    }
    tsdb_querier_close(q);
    tsdb_close(db, NULL);
    if (rc == KILNCTL_EXIT_OK && outfile == NULL)
        rc = kilnctl_write_stdout(&out);
    buf_free(&out);
    pprof_free(merged);
    free(refs);
    tsdb_matchers_free(ms, nm);
    return rc;
}

static const struct kilnctl_command tsdb_commands[] = {
    {"list", "list the database's blocks", tsdb_list},
    {"stats", "print the database's counts and sizes", tsdb_stats_cmd},
    {"dump", "list or merge the profiles of matching series", tsdb_dump},
};

int kilnctl_tsdb_main(int argc, char **argv)
{
    return kilnctl_dispatch(
        "kilnctl tsdb",
        "Usage: kilnctl tsdb COMMAND [ARGS]\n\nInspect a Kiln database "
        "directory without the server.\n",
        tsdb_commands, sizeof(tsdb_commands) / sizeof(tsdb_commands[0]), argc,
        argv);
}
