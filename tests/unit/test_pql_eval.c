/* Tests for the query evaluator (promql-like/eval.h).
 *
 * Most cases are data-driven: every tests/pql/NAME.test file (or the files
 * named on the command line) runs against a fresh database in a temporary
 * directory, and every `eval` in it is one TAP case. The language, in the
 * spirit of Prometheus' promql testdata (docs/query-evaluation.md has the
 * full description):
 *
 *   # comment
 *   load 1m                                   float series, a sample per step
 *     http_requests{job="api"} 0+10x10 _ 5 NaN
 *   load_profile cpu{job="api"} @5m @6m       one CPU profile (collapsed
 *     main;work;hot 30                        stacks, root first) stored at
 *     main;idle 10                            each time, duration 10s
 *   option max_series 10                      engine options from here on
 *   compact                                   cut the head into blocks
 *   eval instant at 5m sum(rate(cpu[5m]))     expected elements, any order
 *     {} 0.133333
 *   eval_ordered instant at 5m sort(x)        expected elements, in order
 *   eval range from 0 to 10m step 5m x        expected points per step
 *     x{job="api"} 0 50 _
 *   eval instant at 2m x[2m]                  a range vector: value@time
 *     x{job="api"} 10@1m 20@2m
 *   eval_fail instant at 0 foo(                an error is expected
 *     bad_data: 1:5:                          (errorType: message part)
 *
 * Values: numbers, NaN, Inf, -Inf, `_` (missing), `a+bxN` / `a-bxN` (N+1
 * values from a, step b), `axN` (N+1 times a), `_xN` (N missing). A
 * scalar result is expected as one line holding the number, a string as
 * a line holding it in double quotes. Values compare with a relative
 * tolerance of 1e-6 (NaN equals NaN). Series names in expectations may be
 * short aliases (`cpu{...}`).
 *
 * A few C cases below check what the files cannot: the JSON writer, the
 * API's argument checks, cancel and timeout. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/jsonw.h"
#include "base/labels.h"
#include "base/timefmt.h"
#include "pprof/profile.h"
#include "promql-like/eval.h"
#include "tests/unit/unit.h"
#include "tsdb/tsdb.h"

#define MAX_LINES 20000
#define MAX_VALUES 4096

struct tfile {
    const char *path;
    char **lines;
    size_t n, i;
    struct tsdb *db;
    char dir[256];
    struct pql_engine_options o;
};

/* ---- Small parsers ------------------------------------------------------ */

static bool indented(const char *l)
{
    return l[0] == ' ' || l[0] == '\t';
}

static bool blank(const char *l)
{
    while (isspace((unsigned char)*l))
        l++;
    return *l == '\0' || *l == '#';
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A time or duration: "5m", "1w2d", "0", or seconds "12.5". */
static bool parse_time(const char *s, size_t n, int64_t *ms)
{
    if (kb_duration_parse(s, n, ms, NULL) == KB_OK)
        return true;
    char tmp[64], *end;
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double v = strtod(tmp, &end);
    if (end == tmp || *end)
        return false;
    *ms = (int64_t)llround(v * 1000);
    return true;
}

/* The next space-separated word of *p, NUL-terminated in place. */
static char *word(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    if (*e)
        *e++ = '\0';
    *p = e;
    return s;
}

/* A series `name{a="b"}`, `name` or `{a="b"}` at the start of *p (moved
 * past it); short aliases become full names. */
static struct labels *parse_series(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    char *brace = s;
    while (*brace && *brace != '{' && *brace != ' ' && *brace != '\t')
        brace++;
    char name[256] = "";
    snprintf(name, sizeof(name), "%.*s", (int)(brace - s), s);
    struct labels *ls = NULL;
    struct kb_err err;
    char *end = brace;
    if (*brace == '{') {
        bool quoted = false;
        for (end = brace; *end; end++) {
            if (*end == '\\' && quoted && end[1]) {
                end++;
                continue;
            }
            if (*end == '"')
                quoted = !quoted;
            if (*end == '}' && !quoted)
                break;
        }
        if (*end != '}' || labels_parse(brace, (size_t)(end - brace + 1), &ls,
                                        &err) != KB_OK) {
            printf("# bad series: %s\n", s);
            return NULL;
        }
        end++;
    } else {
        ls = labels_new_empty();
    }
    if (name[0]) {
        const char *full = tsdb_type_alias(name);
        struct labels_builder *b = labels_builder_new();
        labels_builder_reset(b, ls);
        labels_builder_set(b, LABEL_NAME, full ? full : name, NULL);
        labels_free(ls);
        ls = NULL;
        if (labels_builder_finish(b, &ls, &err) != KB_OK)
            printf("# bad series: %s\n", err.msg);
        labels_builder_free(b);
    }
    *p = end;
    return ls;
}

/* Expand series notation into v[], has[] (and at[] for `v@time` tokens,
 * the points of an instant query's range vector); returns the count or
 * -1. */
static long parse_values(char *p, double *v, bool *has, int64_t *at, size_t max)
{
    size_t n = 0;
    char *w;
    while ((w = word(&p)) != NULL) {
        char *t = strchr(w, '@');
        if (t) {
            *t++ = '\0';
            if (!at || n >= max || !parse_time(t, strlen(t), &at[n]))
                return -1;
        }
        char *x = strchr(w, 'x');
        long times = 0;
        if (x) {
            *x = '\0';
            times = strtol(x + 1, NULL, 10);
        }
        if (w[0] == '_') {
            long k = x ? times : 1;
            for (long i = 0; i < k && n < max; i++)
                has[n++] = false;
            continue;
        }
        char *end;
        double a = strtod(w, &end), b = 0;
        if (end == w)
            return -1;
        if (*end == '+' || *end == '-') {
            char *e2;
            b = strtod(end + 1, &e2);
            if (*end == '-')
                b = -b;
            end = e2;
        }
        if (*end)
            return -1;
        for (long i = 0; i <= times && n < max; i++) {
            has[n] = true;
            v[n++] = a + b * (double)i;
        }
    }
    return (long)n;
}

static bool same_value(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return true;
    return fabs(a - b) <= 1e-6 * fmax(fabs(a), fabs(b));
}

/* ---- Loading ------------------------------------------------------------ */

static bool load_floats(struct tfile *f, char *args)
{
    int64_t step;
    char *w = word(&args);
    if (!w || !parse_time(w, strlen(w), &step)) {
        printf("# %s:%zu: load needs a step\n", f->path, f->i);
        return false;
    }
    struct tsdb_appender *a = tsdb_appender_begin(f->db);
    static double v[MAX_VALUES];
    static bool has[MAX_VALUES];
    bool ok = true;
    while (f->i < f->n && indented(f->lines[f->i]) && ok) {
        char *p = f->lines[f->i++];
        if (blank(p))
            continue;
        struct labels *ls = parse_series(&p);
        long n = ls ? parse_values(p, v, has, NULL, MAX_VALUES) : -1;
        struct kb_err err;
        for (long i = 0; i < n && ok; i++)
            if (has[i] && tsdb_append_float(a, ls, i * step, v[i], &err)) {
                printf("# %s:%zu: %s\n", f->path, f->i, err.msg);
                ok = false;
            }
        if (n < 0)
            ok = false;
        labels_free(ls);
    }
    struct kb_err err;
    if (ok && tsdb_appender_commit(a, &err) != KB_OK) {
        printf("# %s: commit: %s\n", f->path, err.msg);
        ok = false;
    } else if (!ok) {
        tsdb_appender_rollback(a);
    }
    return ok;
}

static bool load_profile(struct tfile *f, char *args)
{
    struct labels *ls = parse_series(&args);
    if (!ls)
        return false;
    const char *name = labels_get(ls, LABEL_NAME);
    char type[64] = "cpu", unit[64] = "nanoseconds";
    if (name && sscanf(name, "%*[^:]:%63[^:]:%63[^:]", type, unit) != 2)
        snprintf(type, sizeof(type), "%s", name);
    struct buf text;
    buf_init(&text, BUF_NO_LIMIT);
    while (f->i < f->n && indented(f->lines[f->i])) {
        char *l = trim(f->lines[f->i++]);
        if (*l && *l != '#') {
            buf_puts(&text, l);
            buf_putc(&text, '\n');
        }
    }
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    struct pprof_profile *p = NULL;
    struct kb_err err;
    bool ok = pprof_collapsed_parse((const char *)text.data, text.len, type,
                                    unit, &lim, &p, &err) == KB_OK;
    if (!ok)
        printf("# %s:%zu: %s\n", f->path, f->i, err.msg);
    struct tsdb_appender *a = tsdb_appender_begin(f->db);
    char *w;
    while (ok && (w = word(&args)) != NULL) {
        int64_t t;
        if (w[0] != '@' || !parse_time(w + 1, strlen(w + 1), &t)) {
            printf("# %s:%zu: expected @<time>, got %s\n", f->path, f->i, w);
            ok = false;
        } else if (tsdb_append_profile(a, ls, t, INT64_C(10000000000), p, 0,
                                       &err) != KB_OK) {
            printf("# %s:%zu: %s\n", f->path, f->i, err.msg);
            ok = false;
        }
    }
    if (ok && tsdb_appender_commit(a, &err) != KB_OK) {
        printf("# %s: commit: %s\n", f->path, err.msg);
        ok = false;
    } else if (!ok) {
        tsdb_appender_rollback(a);
    }
    pprof_free(p);
    buf_free(&text);
    labels_free(ls);
    return ok;
}

static bool set_option(struct tfile *f, char *args)
{
    char *name = word(&args), *val = word(&args);
    if (!name || !val)
        return false;
    long long x = strtoll(val, NULL, 10);
    if (!strcmp(name, "max_series"))
        f->o.max_series = (size_t)x;
    else if (!strcmp(name, "max_samples"))
        f->o.max_samples = (size_t)x;
    else if (!strcmp(name, "timeout_ms"))
        f->o.timeout_ms = x;
    else if (!strcmp(name, "lookback_ms"))
        f->o.lookback_ms = x;
    else if (!strcmp(name, "subquery_step_ms"))
        f->o.subquery_step_ms = x;
    else if (!strcmp(name, "max_steps"))
        f->o.max_steps = (size_t)x;
    else
        return false;
    return true;
}

/* Cut the head into blocks (data older than 1.5 block ranges before the
 * newest), so that queries read blocks and the head. */
static bool compact(struct tfile *f)
{
    struct kb_err err;
    if (tsdb_compact(f->db, &err) != KB_OK) {
        printf("# %s:%zu: compact: %s\n", f->path, f->i, err.msg);
        return false;
    }
    struct tsdb_block_info *b = NULL;
    size_t n = tsdb_blocks(f->db, &b);
    free(b);
    if (n == 0)
        printf("# %s:%zu: compact made no block\n", f->path, f->i);
    return n > 0;
}

/* ---- Evaluating --------------------------------------------------------- */

struct expect {
    struct labels *ls; /* NULL: a scalar */
    double v[MAX_VALUES];
    bool has[MAX_VALUES];
    int64_t at[MAX_VALUES]; /* times of `v@time` values */
    long n;
    char *string;
};

static void print_result(const struct pql_result *r)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    struct jsonw w;
    jsonw_init(&w, &b);
    pql_result_json(r, &w);
    printf("# got: %.3000s\n", buf_cstr(&b));
    buf_free(&b);
}

/* Compare result `r` of a query over `steps` times with the expectations. */
static bool compare(const struct pql_result *r, struct expect *ex, size_t nex,
                    bool ordered, int64_t start, int64_t step, size_t steps)
{
    if (r->type == PQL_TYPE_SCALAR || r->type == PQL_TYPE_STRING) {
        if (nex != 1 || ex[0].ls)
            return false;
        if (r->type == PQL_TYPE_STRING)
            return ex[0].string && !strcmp(ex[0].string, r->string);
        return ex[0].n == 1 && same_value(ex[0].v[0], r->scalar);
    }
    if (nex != r->n_series)
        return false;
    for (size_t i = 0; i < nex; i++) {
        if (!ex[i].ls)
            return false;
        size_t k = 0;
        if (ordered) {
            k = i;
            if (!labels_equal(ex[i].ls, r->series[k].labels))
                return false;
        } else {
            while (k < r->n_series &&
                   !labels_equal(ex[i].ls, r->series[k].labels))
                k++;
            if (k == r->n_series)
                return false;
        }
        const struct pql_series *s = &r->series[k];
        if (r->type == PQL_TYPE_VECTOR) {
            if (ex[i].n != 1 || !same_value(ex[i].v[0], s->points[0].v))
                return false;
            continue;
        }
        if (steps == 0) { /* an instant query's range vector: v@t */
            if ((size_t)ex[i].n != s->n_points)
                return false;
            for (size_t j = 0; j < s->n_points; j++)
                if (ex[i].at[j] != s->points[j].t_ms ||
                    !same_value(ex[i].v[j], s->points[j].v))
                    return false;
            continue;
        }
        size_t p = 0;
        for (size_t j = 0; j < steps; j++) {
            bool want = j < (size_t)ex[i].n && ex[i].has[j];
            bool got = p < s->n_points &&
                       s->points[p].t_ms == start + (int64_t)j * step;
            if (want != got || (got && !same_value(ex[i].v[j], s->points[p].v)))
                return false;
            p += got;
        }
        if (p != s->n_points || (size_t)ex[i].n > steps)
            return false;
    }
    return true;
}

static void run_eval(struct tfile *f, const char *cmd, char *args)
{
    size_t line = f->i;
    bool fail = !strcmp(cmd, "eval_fail");
    bool ordered = !strcmp(cmd, "eval_ordered");
    char *kind = word(&args);
    int64_t start = 0, end = 0, step = 0;
    char *w1, *w2, *w3; /* the expression is what follows them */
    bool ok = kind != NULL;
    if (ok && !strcmp(kind, "instant")) {
        w1 = word(&args), w2 = word(&args);
        ok =
            w1 && w2 && !strcmp(w1, "at") && parse_time(w2, strlen(w2), &start);
        end = start;
    } else if (ok && !strcmp(kind, "range")) {
        char *from = word(&args);
        w1 = word(&args);
        char *to = word(&args);
        w2 = word(&args), w3 = word(&args);
        char *st = word(&args);
        ok = from && !strcmp(from, "from") && w1 &&
             parse_time(w1, strlen(w1), &start) && to && !strcmp(to, "to") &&
             w2 && parse_time(w2, strlen(w2), &end) && w3 &&
             !strcmp(w3, "step") && st && parse_time(st, strlen(st), &step);
    } else {
        ok = false;
    }
    const char *expr = ok ? trim(args) : "";
    static struct expect ex[64];
    size_t nex = 0;
    char *fail_spec = NULL;
    while (f->i < f->n && indented(f->lines[f->i])) {
        char *p = trim(f->lines[f->i++]);
        if (!*p || *p == '#')
            continue;
        if (fail) {
            fail_spec = p;
            continue;
        }
        if (nex == 64) {
            ok = false;
            break;
        }
        struct expect *e = &ex[nex++];
        e->ls = NULL;
        e->string = NULL;
        if (*p == '"') {
            e->string = p + 1;
            char *q = strrchr(p + 1, '"');
            if (q)
                *q = '\0';
            continue;
        }
        if (*p == '{' || isalpha((unsigned char)*p) || *p == '_') {
            if (!isdigit((unsigned char)p[0]) && strncmp(p, "NaN", 3) &&
                strncmp(p, "Inf", 3)) {
                e->ls = parse_series(&p);
                ok = ok && e->ls;
            }
        }
        e->n = parse_values(p, e->v, e->has, e->at, MAX_VALUES);
        ok = ok && e->n >= 0;
    }
    struct pql_result *r = NULL;
    struct pql_error err;
    enum kb_status st = KB_ERR_INVALID;
    if (ok) {
        if (!strcmp(kind, "instant"))
            st = pql_query_instant(f->db, expr, strlen(expr), start, &f->o, &r,
                                   &err);
        else
            st = pql_query_range(f->db, expr, strlen(expr), start, end, step,
                                 &f->o, &r, &err);
    } else {
        printf("# %s:%zu: malformed eval\n", f->path, line);
    }
    unit_case_failed = !ok;
    if (ok && fail) {
        if (st == KB_OK) {
            printf("# %s:%zu: expected an error\n", f->path, line);
            print_result(r);
            unit_case_failed = 1;
        } else if (fail_spec) {
            const char *type = pql_error_type_str(err.type);
            size_t tl = strlen(type);
            const char *msg = fail_spec;
            if (!strncmp(fail_spec, type, tl) &&
                (fail_spec[tl] == ':' || fail_spec[tl] == '\0'))
                msg = fail_spec[tl] ? trim(fail_spec + tl + 1) : "";
            else
                msg = NULL;
            if (!msg || !strstr(err.err.msg, msg)) {
                printf("# %s:%zu: error %s: %s; expected %s\n", f->path, line,
                       type, err.err.msg, fail_spec);
                unit_case_failed = 1;
            }
        }
    } else if (ok) {
        size_t steps = step > 0 ? (size_t)((end - start) / step) + 1
                       : r && r->type == PQL_TYPE_MATRIX ? 0
                                                         : 1;
        if (st != KB_OK) {
            printf("# %s:%zu: %s: %s\n", f->path, line,
                   pql_error_type_str(err.type), err.err.msg);
            unit_case_failed = 1;
        } else if (!compare(r, ex, nex, ordered, start, step, steps)) {
            printf("# %s:%zu: unexpected result of %s\n", f->path, line, expr);
            print_result(r);
            unit_case_failed = 1;
        }
    }
    for (size_t i = 0; i < nex; i++)
        labels_free(ex[i].ls);
    pql_result_free(r);
    unit_ncases++;
    if (unit_case_failed)
        unit_nfailed++;
    printf("%s %d - %s:%zu %s\n", unit_case_failed ? "not ok" : "ok",
           unit_ncases,
           strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path, line,
           expr);
    fflush(stdout);
}

static void run_file(const char *path)
{
    struct tfile f = {.path = path};
    FILE *fp = fopen(path, "r");
    if (!fp) {
        printf("not ok %d - %s: cannot open\n", ++unit_ncases, path);
        return;
    }
    f.lines = calloc(MAX_LINES, sizeof(char *));
    char buf[8192];
    while (f.n < MAX_LINES && fgets(buf, sizeof(buf), fp)) {
        buf[strcspn(buf, "\n")] = '\0';
        f.lines[f.n++] = strdup(buf);
    }
    fclose(fp);
    snprintf(f.dir, sizeof(f.dir), "/tmp/kiln-pql-test-XXXXXX");
    struct tsdb_options to;
    tsdb_options_default(&to);
    to.out_of_order_window = INT64_C(400) * 24 * 3600 * 1000;
    to.retention_time = 0;
    struct kb_err err;
    if (!mkdtemp(f.dir) || tsdb_open(f.dir, &to, &f.db, &err) != KB_OK) {
        printf("not ok %d - %s: cannot open a database\n", ++unit_ncases, path);
        goto done;
    }
    pql_engine_options_default(&f.o);
    while (f.i < f.n) {
        char *l = f.lines[f.i++];
        if (blank(l))
            continue;
        char *args = l;
        char *cmd = word(&args);
        bool ok = true;
        if (!strcmp(cmd, "load"))
            ok = load_floats(&f, args);
        else if (!strcmp(cmd, "load_profile"))
            ok = load_profile(&f, args);
        else if (!strcmp(cmd, "option"))
            ok = set_option(&f, args);
        else if (!strcmp(cmd, "compact"))
            ok = compact(&f);
        else if (!strncmp(cmd, "eval", 4))
            run_eval(&f, cmd, args);
        else
            ok = false;
        if (!ok) {
            printf("not ok %d - %s:%zu: bad command %s\n", ++unit_ncases, path,
                   f.i, cmd);
            unit_nfailed++;
        }
    }
done:
    tsdb_close(f.db, NULL);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", f.dir);
    for (size_t i = 0; i < f.n; i++)
        free(f.lines[i]);
    free(f.lines);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("not ok %d - cannot open %s\n", ++unit_ncases, dir);
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        size_t len = strlen(de->d_name);
        if (len > 5 && !strcmp(de->d_name + len - 5, ".test"))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        run_file(path);
        free(names[i]);
    }
}

/* ---- C cases ------------------------------------------------------------ */

static struct tsdb *open_db(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/kiln-pql-test-XXXXXX");
    struct tsdb *db = NULL;
    if (!mkdtemp(dir) || tsdb_open(dir, NULL, &db, NULL) != KB_OK)
        return NULL;
    struct tsdb_appender *a = tsdb_appender_begin(db);
    struct labels *ls = NULL;
    labels_from_strings(&ls, NULL, LABEL_NAME, "up", "job", "a\"b", NULL);
    for (int i = 0; i < 10; i++)
        tsdb_append_float(a, ls, i * 60000, i * 1.5, NULL);
    tsdb_appender_commit(a, NULL);
    labels_free(ls);
    return db;
}

static void close_db(struct tsdb *db, const char *dir)
{
    tsdb_close(db, NULL);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

static const char *json_of(const struct pql_result *r, struct buf *b)
{
    struct jsonw w;
    buf_reset(b);
    jsonw_init(&w, b);
    pql_result_json(r, &w);
    return jsonw_finish(&w, NULL) == KB_OK ? buf_cstr(b) : "(error)";
}

static void test_json(void)
{
    char dir[256];
    struct tsdb *db = open_db(dir, sizeof(dir));
    CHECK(db != NULL);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    struct pql_result *r = NULL;
    struct pql_error e;
    const char *q = "up";
    CHECK_INT(pql_query_instant(db, q, strlen(q), 120500, NULL, &r, &e), KB_OK);
    if (r)
        CHECK_STR(json_of(r, &b),
                  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
                  "\"__name__\":\"up\",\"job\":\"a\\\"b\"},\"value\":[120.5,"
                  "\"3\"]}]}");
    pql_result_free(r);
    q = "up[2m]";
    CHECK_INT(pql_query_instant(db, q, strlen(q), 120000, NULL, &r, &e), KB_OK);
    if (r)
        CHECK_STR(json_of(r, &b),
                  "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{"
                  "\"__name__\":\"up\",\"job\":\"a\\\"b\"},\"values\":[[60,"
                  "\"1.5\"],[120,\"3\"]]}]}");
    pql_result_free(r);
    q = "1/0";
    CHECK_INT(pql_query_instant(db, q, strlen(q), 1000, NULL, &r, &e), KB_OK);
    if (r)
        CHECK_STR(json_of(r, &b),
                  "{\"resultType\":\"scalar\",\"result\":[1,\"+Inf\"]}");
    pql_result_free(r);
    q = "\"hi\"";
    CHECK_INT(pql_query_instant(db, q, strlen(q), 1000, NULL, &r, &e), KB_OK);
    if (r)
        CHECK_STR(json_of(r, &b),
                  "{\"resultType\":\"string\",\"result\":[1,\"hi\"]}");
    pql_result_free(r);
    q = "up";
    CHECK_INT(pql_query_range(db, q, strlen(q), 0, 120000, 60000, NULL, &r, &e),
              KB_OK);
    if (r) {
        CHECK_STR(json_of(r, &b),
                  "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{"
                  "\"__name__\":\"up\",\"job\":\"a\\\"b\"},\"values\":[[0,"
                  "\"0\"],[60,\"1.5\"],[120,\"3\"]]}]}");
        CHECK_INT(pql_result_points(r), 3);
    }
    pql_result_free(r);
    buf_free(&b);
    close_db(db, dir);
}

static void test_errors(void)
{
    char dir[256];
    struct tsdb *db = open_db(dir, sizeof(dir));
    struct pql_result *r = NULL;
    struct pql_error e;
    const char *q = "sum(up";
    CHECK(pql_query_instant(db, q, strlen(q), 0, NULL, &r, &e) != KB_OK);
    CHECK(r == NULL);
    CHECK_STR(pql_error_type_str(e.type), "bad_data");
    CHECK(strncmp(e.err.msg, "1:", 2) == 0);
    CHECK_INT(pql_error_http_status(e.type), 400);
    q = "up";
    CHECK(pql_query_range(db, q, strlen(q), 0, 1000, 0, NULL, &r, &e) != KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "bad_data");
    CHECK(pql_query_range(db, q, strlen(q), 1000, 0, 10, NULL, &r, &e) !=
          KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "bad_data");
    CHECK(strstr(e.err.msg, "before start") != NULL);
    CHECK(pql_query_instant(db, q, strlen(q), INT64_MAX / 2, NULL, &r, &e) !=
          KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "bad_data");
    q = "up[5m]";
    CHECK(pql_query_range(db, q, strlen(q), 0, 1000, 10, NULL, &r, &e) !=
          KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "bad_data");
    CHECK(strstr(e.err.msg, "range vector") != NULL);
    CHECK_INT(pql_error_http_status(PQL_ERR_EXECUTION), 422);
    CHECK_INT(pql_error_http_status(PQL_ERR_TIMEOUT), 503);
    close_db(db, dir);
}

static void test_cancel_and_timeout(void)
{
    char dir[256];
    struct tsdb *db = open_db(dir, sizeof(dir));
    struct pql_engine_options o;
    pql_engine_options_default(&o);
    atomic_bool cancel = true;
    o.cancel = &cancel;
    struct pql_result *r = NULL;
    struct pql_error e;
    const char *q = "sum(up)";
    CHECK(pql_query_instant(db, q, strlen(q), 60000, &o, &r, &e) != KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "canceled");
    pql_engine_options_default(&o);
    o.timeout_ms = 1;
    /* 8.6 million inner steps: far more than a millisecond of work. */
    q = "count_over_time(vector(1)[100d:1s])";
    CHECK(pql_query_instant(db, q, strlen(q), 60000, &o, &r, &e) != KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "timeout");
    pql_engine_options_default(&o);
    o.max_samples = 100;
    q = "count_over_time(vector(1)[1h:1s])";
    CHECK(pql_query_instant(db, q, strlen(q), 60000, &o, &r, &e) != KB_OK);
    CHECK_STR(pql_error_type_str(e.type), "execution");
    CHECK(strstr(e.err.msg, "too many samples") != NULL);
    close_db(db, dir);
}

/* Queries share nothing but the database: threads evaluating the same
 * split query at once all get the single-threaded answer. */
struct conc {
    struct tsdb *db;
    const char *want;
    int bad;
};

static const char conc_query[] =
    "sum by (job, __function__) (rate(cpu{__function__=~\"h.*|idle\"}[5m]))"
    " / ignoring (__function__) group_left sum by (job) (rate(cpu[5m]))";

static char *conc_run(struct tsdb *db)
{
    struct pql_result *r = NULL;
    struct pql_error e;
    char *out = NULL;
    if (pql_query_range(db, conc_query, strlen(conc_query), 60000, 600000,
                        60000, NULL, &r, &e) == KB_OK) {
        struct buf b;
        buf_init(&b, BUF_NO_LIMIT);
        out = strdup(json_of(r, &b));
        buf_free(&b);
    }
    pql_result_free(r);
    return out;
}

static void *conc_thread(void *arg)
{
    struct conc *c = arg;
    for (int i = 0; i < 20; i++) {
        char *got = conc_run(c->db);
        if (!got || strcmp(got, c->want) != 0)
            c->bad++;
        free(got);
    }
    return NULL;
}

static void test_concurrent(void)
{
    char dir[256];
    struct tsdb *db = open_db(dir, sizeof(dir));
    struct pprof_profile *p = NULL;
    const char *stacks = "main;work;hot 30\nmain;idle 20\nruntime;gc 5\n";
    CHECK_INT(pprof_collapsed_parse(stacks, strlen(stacks), "cpu",
                                    "nanoseconds", NULL, &p, NULL),
              KB_OK);
    struct tsdb_appender *a = tsdb_appender_begin(db);
    for (int j = 0; j < 3 && p; j++) {
        struct labels *ls = NULL;
        char inst[8];
        snprintf(inst, sizeof(inst), "%d", j);
        labels_from_strings(&ls, NULL, LABEL_NAME, tsdb_type_alias("cpu"),
                            "job", j ? "api" : "db", "instance", inst, NULL);
        for (int k = 1; k <= 10; k++)
            tsdb_append_profile(a, ls, k * 60000, INT64_C(10000000000), p, 0,
                                NULL);
        labels_free(ls);
    }
    CHECK_INT(tsdb_appender_commit(a, NULL), KB_OK);
    pprof_free(p);
    char *want = conc_run(db);
    CHECK(want != NULL && strstr(want, "\"__function__\":\"hot\"") != NULL);
    struct conc c[4];
    pthread_t th[4];
    for (int i = 0; i < 4 && want; i++) {
        c[i] = (struct conc){db, want, 0};
        CHECK_INT(pthread_create(&th[i], NULL, conc_thread, &c[i]), 0);
    }
    for (int i = 0; i < 4 && want; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(c[i].bad, 0);
    }
    free(want);
    close_db(db, dir);
}

int main(int argc, char **argv)
{
    RUN(test_json);
    RUN(test_concurrent);
    RUN(test_errors);
    RUN(test_cancel_and_timeout);
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            run_file(argv[i]);
    else
        run_dir(unit_srcpath("tests/pql"));
    return unit_done();
}
