/* cmd/kilnctl_pprof.c: `kilnctl pprof top|collapsed|merge|info`, commands
 * on pprof profile files (no server involved). User docs: docs/kilnctl.md.
 *
 * Design. Each subcommand parses its flags, reads its file(s) with
 * pprof_read_file (default limits, so every input is validated and bounded
 * before anything is printed), builds its whole output in a struct buf and
 * writes it at the end, so a failure prints nothing on stdout.
 *
 *  - top: the report is pprof_top_compute; this file only prints it. The
 *    text form is `go tool pprof -top`'s, header lines included (File,
 *    Build ID, comments, Type, Time, Duration, "Showing nodes accounting
 *    for ...", "Dropped ...", "Showing top ..."), values in the one output
 *    unit pprof would pick (pprof_top_unit), percentages as pprof prints
 *    them, and the (inline)/(partial-inline) marks. With the same options
 *    (`-nodefraction=0` unless --node-fraction is given) the output is
 *    go's, line for line. The JSON form carries exact integers and the
 *    plain function names.
 *  - collapsed: pprof_collapsed_write.
 *  - merge: pprof_merger_* over the files in order, then pprof_write_file
 *    (which writes OUT.tmp and renames), or the encoding to stdout for
 *    "-o -". Nothing is written unless every input was merged.
 *  - info: the header fields, counts, and the sum of each sample type.
 *
 * Errors: a file's problem is "kilnctl: FILE: reason" and exit 1 (the
 * reason from the kb_err; pprof_read_file's messages already start with
 * the path); usage problems exit 2 (kilnctl_usage_error).
 *
 * Ownership: each subcommand frees what it read and built before returning
 * (the sanitizer build checks for leaks).
 */
#include "cmd/kilnctl.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hmap.h"
#include "base/jsonw.h"
#include "pprof/profile.h"
#include "pprof/top.h"
#include "pprof/units.h"

/* ---- Shared -------------------------------------------------------------- */

/* Read and validate `path`; on failure report it and return NULL. */
static struct pprof_profile *load(const char *path)
{
    struct pprof_profile *p = NULL;
    struct kb_err err = {0};
    if (pprof_read_file(path, NULL, &p, &err) != KB_OK) {
        kilnctl_fail("%s", err.msg);
        return NULL;
    }
    return p;
}

/* Report `err` about `path`, prefixing the path unless the message already
 * starts with it. */
static int fail_about(const char *path, const struct kb_err *err)
{
    if (strncmp(err->msg, path, strlen(path)) == 0)
        return kilnctl_fail("%s", err->msg);
    return kilnctl_fail("%s: %s", path, err->msg);
}

/* The sample type named `name` as go tool pprof's -sample_index reads it: an
 * index, a type string, or "inuse_X" for a type "X"; NULL means the default.
 * Reports a failure (exit 1) when the profile has no such type. */
static int pick_sample_type(const struct pprof_profile *p, const char *path,
                            const char *name, size_t *out)
{
    if (p->n_sample_types == 0)
        return kilnctl_fail("%s: profile has no sample types", path);
    if (name == NULL) {
        *out = pprof_default_sample_type(p);
        return KILNCTL_EXIT_OK;
    }
    size_t idx;
    if (kilnctl_parse_size(name, &idx)) {
        if (idx < p->n_sample_types) {
            *out = idx;
            return KILNCTL_EXIT_OK;
        }
    } else {
        int i = pprof_sample_type_index(p, name);
        if (i < 0 && strncmp(name, "inuse_", 6) == 0)
            i = pprof_sample_type_index(p, name + 6);
        if (i >= 0) {
            *out = (size_t)i;
            return KILNCTL_EXIT_OK;
        }
    }
    struct buf have;
    buf_init(&have, 512);
    for (size_t i = 0; i < p->n_sample_types; i++)
        buf_printf(&have, "%s%s", i ? ", " : "",
                   pprof_str(p, p->sample_types[i].type));
    int rc = kilnctl_fail("%s: no sample type \"%s\" (the profile has: %s)",
                          path, name, buf_cstr(&have));
    buf_free(&have);
    return rc;
}

/* The final element of a path, as Go's filepath.Base. */
static void put_base_name(struct buf *b, const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    if (start == len) /* "/" or "//..." */
        buf_putc(b, '/');
    else
        buf_append(b, path + start, len - start);
}

/* value / total in percent, to 4 significant digits (0 when total is 0),
 * for JSON: 73.76, 0.1234. */
static double json_pct(int64_t value, int64_t total)
{
    if (total == 0)
        return 0;
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%.4g", 100.0 * (double)value / (double)total);
    return strtod(tmp, NULL);
}

/* Finish the JSON value in `out` with a newline and print it. */
static int write_json(struct jsonw *w, struct buf *out)
{
    struct kb_err err = {0};
    if (jsonw_finish(w, &err) != KB_OK)
        return kilnctl_fail("writing JSON: %s", err.msg);
    buf_putc(out, '\n');
    return kilnctl_write_stdout(out);
}

/* Seconds and nanoseconds of an epoch time in ns, the seconds floored. */
static void split_nanos(int64_t nanos, time_t *sec, long *nsec)
{
    int64_t s = nanos / 1000000000, ns = nanos % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        s--;
    }
    *sec = (time_t)s;
    *nsec = (long)ns;
}

/* ---- top ----------------------------------------------------------------- */

static const char top_help[] =
    "Usage: kilnctl pprof top FILE [flags]\n"
    "\n"
    "Print the per-function table of `go tool pprof -top` for one sample\n"
    "type of the profile in FILE (gzip-compressed or raw profile.proto):\n"
    "flat (the value of samples whose leaf frame is the function), cum (the\n"
    "value of samples with the function anywhere on the stack, once per\n"
    "sample), their percentages of the total, and sum% (the running total\n"
    "of flat%). Rows are sorted by flat, then by name.\n"
    "\n"
    "Flags:\n"
    "  -s, --sample-type=NAME  the sample type: its name (cpu, inuse_space,\n"
    "                          ...) or index; default: the one go tool pprof\n"
    "                          shows (default_sample_type, else the last)\n"
    "  -n, --nodecount=N       print the first N rows only (default 0: all)\n"
    "      --node-fraction=F   leave out functions whose cum is below F times\n"
    "                          the total (go tool pprof's -nodefraction;\n"
    "                          default 0, go's own default is 0.005)\n"
    "      --format=FORMAT     text (default, as go tool pprof prints it) or\n"
    "                          json\n"
    "  -h, --help              print this help\n";

/* pprof's header lines for the report (report.ProfileLabels and the
 * report's own labels). */
static void put_top_labels(struct buf *o, const struct pprof_profile *p,
                           const struct pprof_top *t,
                           const struct pprof_top_options *opt,
                           const char *sunit, const char *ounit)
{
    char a[PPROF_UNITS_LABEL_MAX], b[PPROF_UNITS_LABEL_MAX];
    if (p->n_mappings > 0) {
        const char *file = pprof_str(p, p->mappings[0].filename);
        const char *build_id = pprof_str(p, p->mappings[0].build_id);
        if (file[0] != '\0') {
            buf_puts(o, "File: ");
            put_base_name(o, file);
            buf_putc(o, '\n');
        }
        if (build_id[0] != '\0')
            buf_printf(o, "Build ID: %s\n", build_id);
    }
    /* pprof shows each comment once, and not those starting with '#'. */
    struct hmap *seen = hmap_new(p->n_comments);
    for (size_t i = 0; i < p->n_comments; i++) {
        const char *c = pprof_str(p, p->comments[i]);
        bool dup;
        hmap_put(seen, c, strlen(c), &dup);
        if (!dup && c[0] != '#')
            buf_printf(o, "%s\n", c);
    }
    hmap_free(seen);
    const char *type = pprof_str(p, p->sample_types[t->sample_type].type);
    if (type[0] != '\0')
        buf_printf(o, "Type: %s\n", type);
    if (p->time_nanos != 0) {
        static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                             "May", "Jun", "Jul", "Aug",
                                             "Sep", "Oct", "Nov", "Dec"};
        time_t sec;
        long nsec;
        struct tm tm;
        split_nanos(p->time_nanos, &sec, &nsec);
        if (localtime_r(&sec, &tm) != NULL) {
            int h12 = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
            buf_printf(o, "Time: %s %d, %d at %d:%02d%s (%s)\n",
                       months[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900, h12,
                       tm.tm_min, tm.tm_hour < 12 ? "am" : "pm",
                       tm.tm_zone ? tm.tm_zone : "UTC");
        }
    }
    if (p->duration_nanos != 0) {
        const char *tu;
        double tn = pprof_units_scale(t->total, sunit, "nanoseconds", &tu);
        buf_printf(
            o, "Duration: %s, Total samples = %s ",
            pprof_units_label(a, p->duration_nanos, "nanoseconds", "auto"),
            pprof_units_label(b, t->total, sunit, ounit));
        if (strcmp(tu, "ns") == 0 && tn != 0 && tn < 9.2e18 && tn > -9.2e18)
            buf_printf(o, "(%s)",
                       pprof_units_percent(a, (int64_t)tn, p->duration_nanos));
        buf_putc(o, '\n');
    }
    char pct[PPROF_UNITS_LABEL_MAX];
    pprof_units_percent(pct, t->flat_sum, t->total);
    const char *trimmed = pct;
    while (*trimmed == ' ')
        trimmed++;
    buf_printf(o, "Showing nodes accounting for %s, %s of %s total\n",
               pprof_units_label(a, t->flat_sum, sunit, ounit), trimmed,
               pprof_units_label(b, t->total, sunit, ounit));
    if (t->total != 0) {
        if (t->n_dropped > 0) {
            double cut = (double)t->total * opt->node_fraction;
            int64_t c = cut < 9.2e18 && cut > -9.2e18 ? (int64_t)cut : 0;
            c = c < 0 ? -c : c;
            buf_printf(o, "Dropped %zu node%s (cum <= %s)\n", t->n_dropped,
                       t->n_dropped > 1 ? "s" : "",
                       pprof_units_label(a, c, sunit, ounit));
        }
        if (t->n_rows > 0 && t->n_rows < t->n_kept)
            buf_printf(o, "Showing top %zu nodes out of %zu\n", t->n_rows,
                       t->n_kept);
    }
}

/* `s` right-aligned in `width` characters, as Go's %10s: characters are
 * runes (UTF-8 continuation bytes do not count), which matters only for
 * sample units that are not ASCII. */
static void put_padded(struct buf *o, const char *s, int width)
{
    int runes = 0;
    for (const char *c = s; *c; c++)
        runes += ((unsigned char)*c & 0xc0) != 0x80;
    for (; runes < width; runes++)
        buf_putc(o, ' ');
    buf_puts(o, s);
}

static void put_top_text(struct buf *o, const struct pprof_profile *p,
                         const struct pprof_top *t,
                         const struct pprof_top_options *opt)
{
    const char *sunit = pprof_str(p, p->sample_types[t->sample_type].unit);
    const char *ounit = pprof_top_unit(t, sunit);
    put_top_labels(o, p, t, opt, sunit, ounit);
    buf_printf(o, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum",
               "cum");
    int64_t sum = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        const struct pprof_top_row *r = &t->rows[i];
        char flat[PPROF_UNITS_LABEL_MAX], cum[PPROF_UNITS_LABEL_MAX];
        char fp[PPROF_UNITS_LABEL_MAX], sp[PPROF_UNITS_LABEL_MAX];
        char cp[PPROF_UNITS_LABEL_MAX];
        sum = (int64_t)((uint64_t)sum + (uint64_t)r->flat);
        put_padded(o, pprof_units_label(flat, r->flat, sunit, ounit), 10);
        buf_printf(o, " %s %s ", pprof_units_percent(fp, r->flat, t->total),
                   pprof_units_percent(sp, sum, t->total));
        put_padded(o, pprof_units_label(cum, r->cum, sunit, ounit), 10);
        buf_printf(o, " %s  %s%s\n", pprof_units_percent(cp, r->cum, t->total),
                   r->name,
                   r->inlined == PPROF_TOP_INLINED ? " (inline)"
                   : r->inlined == PPROF_TOP_PARTIAL_INLINE
                       ? " (partial-inline)"
                       : "");
    }
}

static void put_top_json(struct jsonw *w, const struct pprof_profile *p,
                         const struct pprof_top *t)
{
    const struct pprof_value_type *vt = &p->sample_types[t->sample_type];
    jsonw_object_begin(w);
    jsonw_key(w, "sample_type");
    jsonw_string(w, pprof_str(p, vt->type));
    jsonw_key(w, "unit");
    jsonw_string(w, pprof_str(p, vt->unit));
    jsonw_key(w, "total");
    jsonw_int(w, t->total);
    jsonw_key(w, "rows");
    jsonw_array_begin(w);
    int64_t sum = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        const struct pprof_top_row *r = &t->rows[i];
        sum = (int64_t)((uint64_t)sum + (uint64_t)r->flat);
        jsonw_object_begin(w);
        jsonw_key(w, "name");
        jsonw_string(w, r->name);
        jsonw_key(w, "flat");
        jsonw_int(w, r->flat);
        jsonw_key(w, "flat_pct");
        jsonw_double(w, json_pct(r->flat, t->total));
        jsonw_key(w, "sum_pct");
        jsonw_double(w, json_pct(sum, t->total));
        jsonw_key(w, "cum");
        jsonw_int(w, r->cum);
        jsonw_key(w, "cum_pct");
        jsonw_double(w, json_pct(r->cum, t->total));
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

static int cmd_top(int argc, char **argv)
{
    static const char path[] = "kilnctl pprof top";
    static const struct option longopts[] = {
        {"sample-type", required_argument, NULL, 's'},
        {"nodecount", required_argument, NULL, 'n'},
        {"node-fraction", required_argument, NULL, 'F'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sample_type = NULL;
    size_t max_rows = 0;
    double node_fraction = 0;
    enum kilnctl_format format = KILNCTL_FORMAT_TEXT;
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":s:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            sample_type = optarg;
            break;
        case 'n':
            if (!kilnctl_parse_size(optarg, &max_rows))
                return kilnctl_usage_error(path, "bad row count '%s'", optarg);
            break;
        case 'F':
            if (!kilnctl_parse_fraction(optarg, &node_fraction))
                return kilnctl_usage_error(path, "bad node fraction '%s'",
                                           optarg);
            break;
        case 'f':
            if (!kilnctl_parse_format(optarg, &format))
                return kilnctl_usage_error(
                    path, "bad format '%s' (text or json)", optarg);
            break;
        case 'h':
            fputs(top_help, stdout);
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

    struct pprof_profile *p = load(file);
    if (p == NULL)
        return KILNCTL_EXIT_FAIL;
    struct pprof_top *t = NULL;
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    struct pprof_top_options opt;
    pprof_top_options_default(&opt, p);
    opt.max_rows = max_rows;
    opt.node_fraction = node_fraction;
    int rc = pick_sample_type(p, file, sample_type, &opt.sample_type);
    if (rc != KILNCTL_EXIT_OK)
        goto done;
    struct kb_err err = {0};
    if (pprof_top_compute(p, &opt, &t, &err) != KB_OK) {
        rc = fail_about(file, &err);
        goto done;
    }
    if (format == KILNCTL_FORMAT_JSON) {
        struct jsonw w;
        jsonw_init(&w, &out);
        put_top_json(&w, p, t);
        rc = write_json(&w, &out);
    } else {
        put_top_text(&out, p, t, &opt);
        rc = kilnctl_write_stdout(&out);
    }
done:
    buf_free(&out);
    pprof_top_free(t);
    pprof_free(p);
    return rc;
}

/* ---- collapsed ----------------------------------------------------------- */

static const char collapsed_help[] =
    "Usage: kilnctl pprof collapsed FILE [flags]\n"
    "\n"
    "Print one sample type of the profile in FILE as collapsed stacks (the\n"
    "input of flamegraph.pl, speedscope and Pyroscope): one line per\n"
    "distinct stack, frames from the root to the leaf joined by ';', a\n"
    "space and the summed value. Stacks whose value is 0 are left out;\n"
    "lines are sorted.\n"
    "\n"
    "Flags:\n"
    "  -s, --sample-type=NAME  the sample type (name or index; default: the\n"
    "                          one go tool pprof shows)\n"
    "  -h, --help              print this help\n";

static int cmd_collapsed(int argc, char **argv)
{
    static const char path[] = "kilnctl pprof collapsed";
    static const struct option longopts[] = {
        {"sample-type", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sample_type = NULL;
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            sample_type = optarg;
            break;
        case 'h':
            fputs(collapsed_help, stdout);
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

    struct pprof_profile *p = load(file);
    if (p == NULL)
        return KILNCTL_EXIT_FAIL;
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    size_t st;
    int rc = pick_sample_type(p, file, sample_type, &st);
    if (rc != KILNCTL_EXIT_OK)
        goto done;
    struct kb_err err = {0};
    if (pprof_collapsed_write(p, st, &out, &err) != KB_OK) {
        rc = fail_about(file, &err);
        goto done;
    }
    rc = kilnctl_write_stdout(&out);
done:
    buf_free(&out);
    pprof_free(p);
    return rc;
}

/* ---- merge --------------------------------------------------------------- */

static const char merge_help[] =
    "Usage: kilnctl pprof merge -o OUT FILE...\n"
    "\n"
    "Merge the profiles in the FILEs into one, written to OUT as\n"
    "gzip-compressed profile.proto (readable by go tool pprof); OUT '-' is\n"
    "standard output. Samples with the same stack and labels are summed;\n"
    "the result has the earliest time, the summed duration and the largest\n"
    "period. All FILEs must have the same sample types and period type.\n"
    "OUT is written to OUT.tmp and renamed: a failed merge writes nothing.\n"
    "\n"
    "Flags:\n"
    "  -o, --output=OUT  where to write the merged profile (required)\n"
    "  -h, --help        print this help\n";

static int cmd_merge(int argc, char **argv)
{
    static const char path[] = "kilnctl pprof merge";
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            fputs(merge_help, stdout);
            return KILNCTL_EXIT_OK;
        default:
            return kilnctl_bad_flag(path, c, argv);
        }
    }
    if (out_path == NULL)
        return kilnctl_usage_error(path, "missing -o OUT");
    if (out_path[0] == '\0')
        return kilnctl_usage_error(path, "empty OUT");
    if (optind >= argc)
        return kilnctl_usage_error(path, "missing FILE");

    int rc = KILNCTL_EXIT_OK;
    struct kb_err err = {0};
    struct pprof_profile *merged = NULL;
    struct buf enc;
    buf_init(&enc, BUF_NO_LIMIT);
    struct pprof_merger *m = pprof_merger_new();
    for (int i = optind; i < argc; i++) {
        struct pprof_profile *p = load(argv[i]);
        if (p == NULL) {
            rc = KILNCTL_EXIT_FAIL;
            goto done;
        }
        enum kb_status st = pprof_merger_add(m, p, &err);
        pprof_free(p);
        if (st != KB_OK) {
            rc = fail_about(argv[i], &err);
            goto done;
        }
    }
    merged = pprof_merger_finish(m);
    m = NULL;
    if (strcmp(out_path, "-") == 0) {
        if (pprof_encode(merged, &enc, &err) != KB_OK)
            rc = kilnctl_fail("encoding the merged profile: %s", err.msg);
        else
            rc = kilnctl_write_stdout(&enc);
    } else if (pprof_write_file(merged, out_path, &err) != KB_OK) {
        rc = fail_about(out_path, &err);
    }
done:
    pprof_merger_free(m);
    pprof_free(merged);
    buf_free(&enc);
    return rc;
}

/* ---- info ---------------------------------------------------------------- */

static const char info_help[] =
    "Usage: kilnctl pprof info FILE [flags]\n"
    "\n"
    "Describe the profile in FILE: its sample types and the default one, the\n"
    "period type and period, the time (RFC 3339, UTC) and duration, the\n"
    "numbers of samples, locations, functions and mappings, and the sum of\n"
    "each sample type's values.\n"
    "\n"
    "Flags:\n"
    "      --format=FORMAT  text (default) or json\n"
    "  -h, --help           print this help\n";

/* The sum of sample type `st`'s values, wrapping as Go's int64 does. */
static int64_t sample_type_sum(const struct pprof_profile *p, size_t st)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < p->n_samples; i++)
        sum += (uint64_t)p->samples[i].values[st];
    return (int64_t)sum;
}

/* RFC 3339 in UTC with the nanoseconds that are not zero. */
static void put_rfc3339(struct buf *o, int64_t nanos)
{
    time_t sec;
    long nsec;
    struct tm tm;
    split_nanos(nanos, &sec, &nsec);
    if (gmtime_r(&sec, &tm) == NULL) {
        buf_printf(o, "%" PRId64 "ns", nanos);
        return;
    }
    buf_printf(o, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (nsec != 0) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%09ld", nsec);
        size_t n = strlen(frac);
        while (n > 0 && frac[n - 1] == '0')
            n--;
        buf_printf(o, ".%.*s", (int)n, frac);
    }
    buf_putc(o, 'Z');
}

/* "VALUE UNIT", and " (1.50s)" after it when the unit is one pprof scales. */
static void put_quantity(struct buf *o, int64_t value, const char *unit)
{
    char label[PPROF_UNITS_LABEL_MAX];
    const char *scaled;
    buf_printf(o, "%" PRId64, value);
    if (unit[0] != '\0')
        buf_printf(o, " %s", unit);
    pprof_units_scale(value, unit, "auto", &scaled);
    if (scaled[0] != '\0' && value != 0)
        buf_printf(o, " (%s)", pprof_units_label(label, value, unit, "auto"));
}

static void put_info_text(struct buf *o, const struct pprof_profile *p)
{
    size_t dflt = pprof_default_sample_type(p);
    buf_puts(o, "Sample types:");
    for (size_t i = 0; i < p->n_sample_types; i++) {
        const struct pprof_value_type *vt = &p->sample_types[i];
        buf_printf(o, " %s/%s%s", pprof_str(p, vt->type),
                   pprof_str(p, vt->unit), i == dflt ? " (default)" : "");
    }
    if (p->n_sample_types == 0)
        buf_puts(o, " none");
    buf_putc(o, '\n');
    buf_printf(o, "Period type:  %s/%s\n", pprof_str(p, p->period_type.type),
               pprof_str(p, p->period_type.unit));
    buf_puts(o, "Period:       ");
    put_quantity(o, p->period, pprof_str(p, p->period_type.unit));
    buf_puts(o, "\nTime:         ");
    if (p->time_nanos != 0)
        put_rfc3339(o, p->time_nanos);
    else
        buf_puts(o, "unset");
    buf_puts(o, "\nDuration:     ");
    put_quantity(o, p->duration_nanos, "nanoseconds");
    buf_putc(o, '\n');
    buf_printf(o, "Samples:      %zu\n", p->n_samples);
    buf_printf(o, "Locations:    %zu\n", p->n_locations);
    buf_printf(o, "Functions:    %zu\n", p->n_functions);
    buf_printf(o, "Mappings:     %zu\n", p->n_mappings);
    for (size_t i = 0; i < p->n_comments; i++)
        buf_printf(o, "Comment:      %s\n", pprof_str(p, p->comments[i]));
    if (p->n_sample_types > 0)
        buf_puts(o, "Totals:\n");
    for (size_t i = 0; i < p->n_sample_types; i++) {
        const struct pprof_value_type *vt = &p->sample_types[i];
        buf_printf(o, "  %s: ", pprof_str(p, vt->type));
        put_quantity(o, sample_type_sum(p, i), pprof_str(p, vt->unit));
        buf_putc(o, '\n');
    }
}

static void put_value_type_json(struct jsonw *w, const struct pprof_profile *p,
                                const struct pprof_value_type *vt)
{
    jsonw_object_begin(w);
    jsonw_key(w, "type");
    jsonw_string(w, pprof_str(p, vt->type));
    jsonw_key(w, "unit");
    jsonw_string(w, pprof_str(p, vt->unit));
    jsonw_object_end(w);
}

static void put_info_json(struct jsonw *w, const struct pprof_profile *p)
{
    jsonw_object_begin(w);
    jsonw_key(w, "sample_types");
    jsonw_array_begin(w);
    for (size_t i = 0; i < p->n_sample_types; i++)
        put_value_type_json(w, p, &p->sample_types[i]);
    jsonw_array_end(w);
    jsonw_key(w, "default_sample_type");
    if (p->n_sample_types > 0) {
        size_t d = pprof_default_sample_type(p);
        jsonw_string(w, pprof_str(p, p->sample_types[d].type));
    } else {
        jsonw_null(w);
    }
    jsonw_key(w, "period_type");
    put_value_type_json(w, p, &p->period_type);
    jsonw_key(w, "period");
    jsonw_int(w, p->period);
    jsonw_key(w, "time_nanos");
    jsonw_int(w, p->time_nanos);
    jsonw_key(w, "duration_nanos");
    jsonw_int(w, p->duration_nanos);
    jsonw_key(w, "samples");
    jsonw_uint(w, p->n_samples);
    jsonw_key(w, "locations");
    jsonw_uint(w, p->n_locations);
    jsonw_key(w, "functions");
    jsonw_uint(w, p->n_functions);
    jsonw_key(w, "mappings");
    jsonw_uint(w, p->n_mappings);
    jsonw_key(w, "totals");
    jsonw_array_begin(w);
    for (size_t i = 0; i < p->n_sample_types; i++)
        jsonw_int(w, sample_type_sum(p, i));
    jsonw_array_end(w);
    jsonw_object_end(w);
}

static int cmd_info(int argc, char **argv)
{
    static const char path[] = "kilnctl pprof info";
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum kilnctl_format format = KILNCTL_FORMAT_TEXT;
    int c;
    kilnctl_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!kilnctl_parse_format(optarg, &format))
                return kilnctl_usage_error(
                    path, "bad format '%s' (text or json)", optarg);
            break;
        case 'h':
            fputs(info_help, stdout);
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
    struct pprof_profile *p = load(argv[optind]);
    if (p == NULL)
        return KILNCTL_EXIT_FAIL;
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    int rc;
    if (format == KILNCTL_FORMAT_JSON) {
        struct jsonw w;
        jsonw_init(&w, &out);
        put_info_json(&w, p);
        rc = write_json(&w, &out);
    } else {
        put_info_text(&out, p);
        rc = kilnctl_write_stdout(&out);
    }
    buf_free(&out);
    pprof_free(p);
    return rc;
}

/* ---- kilnctl pprof ------------------------------------------------------- */

static const struct kilnctl_command pprof_commands[] = {
    {"top", "the per-function flat/cum table of go tool pprof -top", cmd_top},
    {"collapsed", "one sample type as collapsed stacks (flame graph input)",
     cmd_collapsed},
    {"merge", "merge profiles into one file", cmd_merge},
    {"info", "sample types, header fields, counts and totals", cmd_info},
};

static const char pprof_intro[] =
    "Usage: kilnctl pprof COMMAND [ARGS...]\n"
    "\n"
    "Commands on pprof profile files (profile.proto, gzip-compressed as Go's\n"
    "net/http/pprof serves them, or raw). Exit status: 0 on success, 1 on\n"
    "bad input (with one line 'kilnctl: FILE: reason' on stderr), 2 on bad\n"
    "usage.\n";

int kilnctl_pprof_main(int argc, char **argv)
{
    return kilnctl_dispatch("kilnctl pprof", pprof_intro, pprof_commands,
                            sizeof(pprof_commands) / sizeof(pprof_commands[0]),
                            argc, argv);
}
