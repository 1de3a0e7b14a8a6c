/* scraper/config.c: the schema of kiln.yml, walked over a YAML tree.
 *
 * Design. scraper/yamltree.c loads the file into nodes that know their
 * line and column (with the byte, depth and node limits); this file walks
 * that tree section by section with the typed getters, so every error says
 * where and what: "kiln.yml:12:5: scrape_configs[1].scrape_interval: bad
 * duration ...". Each mapping's keys are checked against the section's
 * list first, so a misspelt key is an error, never a silently ignored
 * setting. A key that is absent or null takes its default (as go-yaml
 * leaves defaults in place); an explicitly empty quoted string is a value.
 *
 * Defaults follow Parca and Prometheus (docs/configuration.md is the
 * reference): scrape_interval 10s; scrape_timeout interval + 5s, because
 * the CPU profile is fetched with ?seconds=<interval> and takes the whole
 * interval to answer (so a job that fetches with seconds must have a
 * timeout above its interval, and an interval of whole seconds); the
 * profile types of Go's net/http/pprof (cpu, memory, allocs, mutex, block,
 * goroutine) on, `threads` (libkiln-exporter's /debug/pprof/threads) off.
 * Relabel entries are checked the way Prometheus checks them (the action
 * exists, its regex compiles, label names are valid, the fields an action
 * needs are there and those it ignores are left alone) but stay plain
 * fields: scraper/relabel.c applies them.
 *
 * Ownership: the result is one struct owner: the public struct, an arena
 * holding every string and array, and the label sets (allocated by
 * base/labels.c) listed for scrape_config_free. A failed parse frees what
 * it built.
 */
#include "scraper/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/fsio.h"
#include "base/labels.h"
#include "base/regex.h"
#include "base/text.h"
#include "base/timefmt.h"
#include "scraper/yamltree.h"

struct owner {
    struct scrape_config cfg; /* first: the public pointer is this */
    struct arena *arena;
    struct labels **sets;
    size_t n_sets, cap_sets;
};

struct walk {
    const struct yamlt_doc *doc;
    struct owner *own;
    struct kb_err *err;
    size_t n_targets;
    struct kb_regex *target_re; /* Prometheus' relabelTarget, lazily */
};

static const char *const action_names[] = {
    [SCRAPE_ACTION_REPLACE] = "replace",
    [SCRAPE_ACTION_KEEP] = "keep",
    [SCRAPE_ACTION_DROP] = "drop",
    [SCRAPE_ACTION_KEEPEQUAL] = "keepequal",
    [SCRAPE_ACTION_DROPEQUAL] = "dropequal",
    [SCRAPE_ACTION_HASHMOD] = "hashmod",
    [SCRAPE_ACTION_LABELMAP] = "labelmap",
    [SCRAPE_ACTION_LABELDROP] = "labeldrop",
    [SCRAPE_ACTION_LABELKEEP] = "labelkeep",
    [SCRAPE_ACTION_LOWERCASE] = "lowercase",
    [SCRAPE_ACTION_UPPERCASE] = "uppercase",
};
#define N_ACTIONS (sizeof(action_names) / sizeof(action_names[0]))

const char *scrape_config_action_name(enum scrape_config_action a)
{
    return (size_t)a < N_ACTIONS ? action_names[a] : "?";
}

/* The built-in profile types, in the order of job->profiles. */
static const struct builtin {
    const char *name, *path;
    bool enabled, delta, seconds;
    const char *keep[3];
} builtins[] = {
    {"cpu", "/debug/pprof/profile", true, true, true, {NULL}},
    {"memory",
     "/debug/pprof/heap",
     true,
     false,
     false,
     {"inuse_objects", "inuse_space", NULL}},
    {"allocs",
     "/debug/pprof/allocs",
     true,
     true,
     false,
     {"alloc_objects", "alloc_space", NULL}},
    {"mutex", "/debug/pprof/mutex", true, true, false, {NULL}},
    {"block", "/debug/pprof/block", true, true, false, {NULL}},
    {"goroutine", "/debug/pprof/goroutine", true, false, false, {NULL}},
    {"threads", "/debug/pprof/threads", false, false, false, {NULL}},
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* ---- Helpers ------------------------------------------------------------- */

static enum kb_status errf(struct walk *w, const struct yamlt_node *n,
                           const char *path, enum kb_status st, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));

static enum kb_status errf(struct walk *w, const struct yamlt_node *n,
                           const char *path, enum kb_status st, const char *fmt,
                           ...)
{
    char msg[KB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return yamlt_errf(w->doc, n, path, w->err, st, "%s", msg);
}

static void *new_array(struct walk *w, size_t n, size_t size)
{
    return arena_calloc(w->own->arena, n ? n : 1, size);
}

static const char *dup(struct walk *w, const char *s, size_t n)
{
    return arena_strndup(w->own->arena, s, n);
}

static void own_labels(struct walk *w, struct labels *ls)
{
    struct owner *o = w->own;
    o->sets = kb_grow(o->sets, &o->cap_sets, o->n_sets + 1, sizeof(*o->sets));
    o->sets[o->n_sets++] = ls;
}

/* The value of `key` in `map`, or NULL when absent or null. */
static const struct yamlt_node *field(const struct yamlt_node *map,
                                      const char *key)
{
    const struct yamlt_node *v = yamlt_get(map, key);
    return yamlt_is_null(v) ? NULL : v;
}

/* A string field (def when absent); `nonempty` refuses "". */
static enum kb_status get_str(struct walk *w, const struct yamlt_node *map,
                              const char *parent, const char *key,
                              const char *def, bool nonempty, const char **out)
{
    const struct yamlt_node *v = field(map, key);
    *out = def;
    if (v == NULL)
        return KB_OK;
    char path[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, key);
    const char *s;
    size_t len;
    enum kb_status st = yamlt_string(w->doc, v, path, &s, &len, w->err);
    if (st)
        return st;
    if (nonempty && len == 0)
        return errf(w, v, path, KB_ERR_INVALID, "must not be empty");
    *out = dup(w, s, len);
    return KB_OK;
}

static enum kb_status get_bool(struct walk *w, const struct yamlt_node *map,
                               const char *parent, const char *key, bool def,
                               bool *out)
{
    const struct yamlt_node *v = field(map, key);
    *out = def;
    if (v == NULL)
        return KB_OK;
    char path[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, key);
    return yamlt_bool(w->doc, v, path, out, w->err);
}

/* A positive duration; *node (when not NULL) is the value's node or NULL
 * when the default was taken. */
static enum kb_status get_duration(struct walk *w, const struct yamlt_node *map,
                                   const char *parent, const char *key,
                                   int64_t def, int64_t *out,
                                   const struct yamlt_node **node)
{
    const struct yamlt_node *v = field(map, key);
    *out = def;
    if (node)
        *node = v;
    if (v == NULL)
        return KB_OK;
    char path[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, key);
    enum kb_status st = yamlt_duration(w->doc, v, path, out, w->err);
    if (st)
        return st;
    if (*out <= 0)
        return errf(w, v, path, KB_ERR_INVALID, "duration must be more than 0");
    return KB_OK;
}

/* A sequence field, NULL when absent or null; at most `max` items. */
static enum kb_status get_seq(struct walk *w, const struct yamlt_node *map,
                              const char *path, const char *key, size_t max,
                              const struct yamlt_node **out)
{
    const struct yamlt_node *v = field(map, key);
    *out = NULL;
    if (v == NULL)
        return KB_OK;
    enum kb_status st = yamlt_want(w->doc, v, path, YAMLT_SEQ, w->err);
    if (st)
        return st;
    if (v->n > max)
        return errf(w, v, path, KB_ERR_LIMIT,
                    "%zu items, more than the limit of %zu", v->n, max);
    *out = v;
    return KB_OK;
}

enum str_check {
    STR_ANY,
    STR_NONEMPTY,
    STR_LABEL_NAME,
};

/* A list of strings (key absent or null: none). */
static enum kb_status get_str_list(struct walk *w, const struct yamlt_node *map,
                                   const char *parent, const char *key,
                                   enum str_check check, const char ***out,
                                   size_t *n)
{
    char path[YAMLT_PATH_MAX], ipath[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, key);
    const struct yamlt_node *seq;
    *out = NULL;
    *n = 0;
    enum kb_status st =
        get_seq(w, map, path, key, SCRAPE_CONFIG_MAX_LIST, &seq);
    if (st || seq == NULL)
        return st;
    const char **list = new_array(w, seq->n, sizeof(*list));
    for (size_t i = 0; i < seq->n; i++) {
        const struct yamlt_node *it = seq->items[i];
        yamlt_path_index(ipath, path, i);
        const char *s;
        size_t len;
        if (yamlt_is_null(it))
            return errf(w, it, ipath, KB_ERR_INVALID,
                        "expected a string, got null");
        st = yamlt_string(w->doc, it, ipath, &s, &len, w->err);
        if (st)
            return st;
        char ex[KB_EXCERPT_MAX];
        if (check != STR_ANY && len == 0)
            return errf(w, it, ipath, KB_ERR_INVALID, "must not be empty");
        if (check == STR_LABEL_NAME && !labels_name_valid(s, len))
            return errf(w, it, ipath, KB_ERR_INVALID, "bad label name \"%s\"",
                        kb_excerpt(ex, sizeof(ex), s, len));
        list[i] = dup(w, s, len);
    }
    *out = list;
    *n = seq->n;
    return KB_OK;
}

/* A mapping of label names to values into a label set (never NULL). */
static enum kb_status get_labels(struct walk *w, const struct yamlt_node *map,
                                 const char *parent, const char *key,
                                 struct labels **out)
{
    char path[YAMLT_PATH_MAX], kpath[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, key);
    const struct yamlt_node *v = field(map, key);
    struct labels_builder *b = labels_builder_new();
    struct kb_err lerr;
    enum kb_status st = KB_OK;
    kb_err_clear(&lerr);
    if (v != NULL) {
        st = yamlt_want(w->doc, v, path, YAMLT_MAP, w->err);
        if (st)
            goto fail;
        for (size_t i = 0; i < v->n; i++) {
            const struct yamlt_node *k = v->items[i], *val = v->values[i];
            char ex[KB_EXCERPT_MAX];
            if (!labels_name_valid(k->str, k->len)) {
                st = errf(w, k, path, KB_ERR_INVALID, "bad label name \"%s\"",
                          kb_excerpt(ex, sizeof(ex), k->str, k->len));
                goto fail;
            }
            yamlt_path_key(kpath, path, k->str);
            const char *s = "";
            if (!yamlt_is_null(val)) {
                st = yamlt_string(w->doc, val, kpath, &s, NULL, w->err);
                if (st)
                    goto fail;
            }
            st = labels_builder_add(b, k->str, s, &lerr);
            if (st) {
                st = errf(w, val, kpath, st, "%s", lerr.msg);
                goto fail;
            }
        }
    }
    struct labels *ls = NULL;
    st = labels_builder_finish(b, &ls, &lerr);
    if (st) {
        st = errf(w, v, path, st, "%s", lerr.msg);
        goto fail;
    }
    own_labels(w, ls);
    *out = ls;
    labels_builder_free(b);
    return KB_OK;

fail:
    labels_builder_free(b);
    return st;
}

static enum kb_status check_keys(struct walk *w, const struct yamlt_node *n,
                                 const char *path, const char *const *keys)
{
    return yamlt_check_keys(w->doc, n, path, keys, w->err);
}

/* ---- Static configs ------------------------------------------------------ */

static enum kb_status parse_target(struct walk *w, const struct yamlt_node *n,
                                   const char *path, const char **out)
{
    const char *s;
    size_t len;
    char ex[KB_EXCERPT_MAX];
    if (yamlt_is_null(n))
        return errf(w, n, path, KB_ERR_INVALID, "expected a target, got null");
    enum kb_status st = yamlt_string(w->doc, n, path, &s, &len, w->err);
    if (st)
        return st;
    bool ok = len > 0 && len <= 1024;
    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = c > 0x20 && c != 0x7F && c != '/';
    }
    if (!ok)
        return errf(w, n, path, KB_ERR_INVALID,
                    "bad target \"%s\": expected host or host:port, without "
                    "scheme or path",
                    kb_excerpt(ex, sizeof(ex), s, len));
    if (++w->n_targets > SCRAPE_CONFIG_MAX_TARGETS)
        return errf(w, n, path, KB_ERR_LIMIT,
                    "more than %d static targets in all",
                    SCRAPE_CONFIG_MAX_TARGETS);
    *out = dup(w, s, len);
    return KB_OK;
}

static enum kb_status
parse_statics(struct walk *w, const struct yamlt_node *map, const char *parent,
              struct scrape_config_static **out, size_t *n)
{
    static const char *const keys[] = {"targets", "labels", NULL};
    char path[YAMLT_PATH_MAX], ipath[YAMLT_PATH_MAX], tpath[YAMLT_PATH_MAX],
        tipath[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, "static_configs");
    const struct yamlt_node *seq;
    enum kb_status st =
        get_seq(w, map, path, "static_configs", SCRAPE_CONFIG_MAX_LIST, &seq);
    *out = NULL;
    *n = 0;
    if (st || seq == NULL)
        return st;
    struct scrape_config_static *sc = new_array(w, seq->n, sizeof(*sc));
    for (size_t i = 0; i < seq->n; i++) {
        const struct yamlt_node *it = seq->items[i];
        yamlt_path_index(ipath, path, i);
        if ((st = check_keys(w, it, ipath, keys)))
            return st;
        yamlt_path_key(tpath, ipath, "targets");
        const struct yamlt_node *ts;
        if ((st = get_seq(w, it, tpath, "targets", SCRAPE_CONFIG_MAX_TARGETS,
                          &ts)))
            return st;
        if (ts != NULL) {
            sc[i].targets = new_array(w, ts->n, sizeof(*sc[i].targets));
            for (size_t j = 0; j < ts->n; j++) {
                yamlt_path_index(tipath, tpath, j);
                if ((st = parse_target(w, ts->items[j], tipath,
                                       &sc[i].targets[j])))
                    return st;
            }
            sc[i].n_targets = ts->n;
        }
        if ((st = get_labels(w, it, ipath, "labels", &sc[i].labels)))
            return st;
    }
    *out = sc;
    *n = seq->n;
    return KB_OK;
}

/* ---- Discovery ----------------------------------------------------------- */

static bool has_sd_extension(const char *s)
{
    static const char *const exts[] = {".json", ".yml", ".yaml"};
    const char *base = strrchr(s, '/');
    base = base ? base + 1 : s;
    size_t len = strlen(base);
    for (size_t i = 0; i < 3; i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcasecmp(base + len - el, exts[i]) == 0)
            return true;
    }
    return false;
}

static enum kb_status parse_file_sd(struct walk *w,
                                    const struct yamlt_node *map,
                                    const char *parent,
                                    struct scrape_config_job *job)
{
    static const char *const keys[] = {"files", "refresh_interval", NULL};
    char path[YAMLT_PATH_MAX], ipath[YAMLT_PATH_MAX], fpath[YAMLT_PATH_MAX],
        fipath[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, "file_sd_configs");
    const struct yamlt_node *seq;
    enum kb_status st =
        get_seq(w, map, path, "file_sd_configs", SCRAPE_CONFIG_MAX_LIST, &seq);
    if (st || seq == NULL)
        return st;
    struct scrape_config_file_sd *fs = new_array(w, seq->n, sizeof(*fs));
    for (size_t i = 0; i < seq->n; i++) {
        const struct yamlt_node *it = seq->items[i];
        yamlt_path_index(ipath, path, i);
        if ((st = check_keys(w, it, ipath, keys)))
            return st;
        if ((st = get_str_list(w, it, ipath, "files", STR_NONEMPTY,
                               &fs[i].files, &fs[i].n_files)))
            return st;
        if (fs[i].n_files == 0)
            return errf(w, it, ipath, KB_ERR_INVALID, "missing files");
        yamlt_path_key(fpath, ipath, "files");
        for (size_t j = 0; j < fs[i].n_files; j++) {
            char ex[KB_EXCERPT_MAX];
            if (!has_sd_extension(fs[i].files[j])) {
                yamlt_path_index(fipath, fpath, j);
                return errf(w, field(it, "files")->items[j], fipath,
                            KB_ERR_INVALID,
                            "\"%s\": file names must end in .json, .yml or "
                            ".yaml",
                            kb_excerpt(ex, sizeof(ex), fs[i].files[j],
                                       strlen(fs[i].files[j])));
            }
        }
        if ((st = get_duration(w, it, ipath, "refresh_interval",
                               SCRAPE_CONFIG_FILE_SD_REFRESH_MS,
                               &fs[i].refresh_interval_ms, NULL)))
            return st;
    }
    job->file_sd_configs = fs;
    job->n_file_sd_configs = seq->n;
    return KB_OK;
}

static enum kb_status want_pod(struct walk *w, const struct yamlt_node *map,
                               const char *parent, const char **out)
{
    char path[YAMLT_PATH_MAX];
    enum kb_status st = get_str(w, map, parent, "role", NULL, true, out);
    if (st)
        return st;
    if (*out == NULL)
        return errf(w, map, parent, KB_ERR_INVALID, "missing role");
    if (strcmp(*out, "pod") != 0) {
        char ex[KB_EXCERPT_MAX];
        yamlt_path_key(path, parent, "role");
        return errf(w, field(map, "role"), path, KB_ERR_UNSUPPORTED,
                    "role \"%s\" is not supported (only \"pod\")",
                    kb_excerpt(ex, sizeof(ex), *out, strlen(*out)));
    }
    return KB_OK;
}

static enum kb_status parse_k8s_one(struct walk *w, const struct yamlt_node *it,
                                    const char *ipath,
                                    struct scrape_config_k8s_sd *k)
{
    static const char *const keys[] = {
        "role",       "api_server", "bearer_token_file",
        "tls_config", "namespaces", "selectors",
        NULL};
    static const char *const tls_keys[] = {"ca_file",
                                           "cert_file",
                                           "key_file",
                                           "server_name",
                                           "insecure_skip_verify",
                                           NULL};
    static const char *const ns_keys[] = {"names", NULL};
    static const char *const sel_keys[] = {"role", "label", "field", NULL};
    char path[YAMLT_PATH_MAX], spath[YAMLT_PATH_MAX];
    enum kb_status st;
    if ((st = check_keys(w, it, ipath, keys)))
        return st;
    if ((st = want_pod(w, it, ipath, &k->role)))
        return st;
    if ((st = get_str(w, it, ipath, "api_server", "", false, &k->api_server)))
        return st;
    if (k->api_server[0] != '\0' && strncmp(k->api_server, "http://", 7) != 0 &&
        strncmp(k->api_server, "https://", 8) != 0) {
        yamlt_path_key(path, ipath, "api_server");
        return errf(w, field(it, "api_server"), path, KB_ERR_INVALID,
                    "expected an http:// or https:// URL");
    }
    if ((st = get_str(w, it, ipath, "bearer_token_file", "", false,
                      &k->bearer_token_file)))
        return st;

    const struct yamlt_node *tls = field(it, "tls_config");
    yamlt_path_key(path, ipath, "tls_config");
    if (tls != NULL && (st = check_keys(w, tls, path, tls_keys)))
        return st;
    if ((st = get_str(w, tls, path, "ca_file", "", false, &k->ca_file)) ||
        (st = get_str(w, tls, path, "cert_file", "", false, &k->cert_file)) ||
        (st = get_str(w, tls, path, "key_file", "", false, &k->key_file)) ||
        (st = get_str(w, tls, path, "server_name", "", false,
                      &k->server_name)) ||
        (st = get_bool(w, tls, path, "insecure_skip_verify", false,
                       &k->insecure_skip_verify)))
        return st;
    if ((k->cert_file[0] == '\0') != (k->key_file[0] == '\0'))
        return errf(w, tls, path, KB_ERR_INVALID,
                    "cert_file and key_file go together");

    const struct yamlt_node *ns = field(it, "namespaces");
    yamlt_path_key(path, ipath, "namespaces");
    if (ns != NULL && (st = check_keys(w, ns, path, ns_keys)))
        return st;
    if ((st = get_str_list(w, ns, path, "names", STR_NONEMPTY, &k->namespaces,
                           &k->n_namespaces)))
        return st;

    const struct yamlt_node *sels;
    yamlt_path_key(path, ipath, "selectors");
    if ((st = get_seq(w, it, path, "selectors", SCRAPE_CONFIG_MAX_LIST, &sels)))
        return st;
    if (sels == NULL)
        return KB_OK;
    k->selectors = new_array(w, sels->n, sizeof(*k->selectors));
    k->n_selectors = sels->n;
    for (size_t j = 0; j < sels->n; j++) {
        struct scrape_config_k8s_selector *s = &k->selectors[j];
        yamlt_path_index(spath, path, j);
        if ((st = check_keys(w, sels->items[j], spath, sel_keys)) ||
            (st = want_pod(w, sels->items[j], spath, &s->role)) ||
            (st = get_str(w, sels->items[j], spath, "label", "", false,
                          &s->label)) ||
            (st = get_str(w, sels->items[j], spath, "field", "", false,
                          &s->field)))
            return st;
    }
    return KB_OK;
}

static enum kb_status parse_k8s(struct walk *w, const struct yamlt_node *map,
                                const char *parent,
                                struct scrape_config_job *job)
{
    char path[YAMLT_PATH_MAX], ipath[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, "kubernetes_sd_configs");
    const struct yamlt_node *seq;
    enum kb_status st = get_seq(w, map, path, "kubernetes_sd_configs",
                                SCRAPE_CONFIG_MAX_LIST, &seq);
    if (st || seq == NULL)
        return st;
    struct scrape_config_k8s_sd *ks = new_array(w, seq->n, sizeof(*ks));
    for (size_t i = 0; i < seq->n; i++) {
        yamlt_path_index(ipath, path, i);
        if ((st = parse_k8s_one(w, seq->items[i], ipath, &ks[i])))
            return st;
    }
    job->kubernetes_sd_configs = ks;
    job->n_kubernetes_sd_configs = seq->n;
    return KB_OK;
}

/* ---- Relabeling ---------------------------------------------------------- */

/* Whether `s` is a valid replace target: label name characters and $1,
 * ${1}, $name, ${name} references (Prometheus' relabelTarget). */
static enum kb_status target_ok(struct walk *w, const char *s, bool *ok)
{
    static const char pat[] = "(?:(?:[a-zA-Z_]|\\$(?:\\{\\w+\\}|\\w+))+\\w*)+";
    if (w->target_re == NULL) {
        enum kb_status st =
            kb_regex_compile(pat, strlen(pat), 0, &w->target_re, w->err);
        if (st)
            return st;
    }
    *ok = kb_regex_match(w->target_re, s, strlen(s));
    return KB_OK;
}

static enum kb_status parse_relabel_one(struct walk *w,
                                        const struct yamlt_node *it,
                                        const char *ipath,
                                        struct scrape_config_relabel *r)
{
    static const char *const keys[] = {
        "source_labels", "separator",   "target_label", "regex",
        "modulus",       "replacement", "action",       NULL};
    char path[YAMLT_PATH_MAX];
    char ex[KB_EXCERPT_MAX];
    enum kb_status st;
    if ((st = check_keys(w, it, ipath, keys)))
        return st;
    r->line = it->line;
    r->column = it->column;
    if ((st = get_str_list(w, it, ipath, "source_labels", STR_LABEL_NAME,
                           &r->source_labels, &r->n_source_labels)) ||
        (st = get_str(w, it, ipath, "separator", ";", false, &r->separator)) ||
        (st = get_str(w, it, ipath, "target_label", "", false,
                      &r->target_label)) ||
        (st = get_str(w, it, ipath, "regex", "(.*)", false, &r->regex)) ||
        (st = get_str(w, it, ipath, "replacement", "$1", false,
                      &r->replacement)))
        return st;

    const struct yamlt_node *v = field(it, "action");
    r->action = SCRAPE_ACTION_REPLACE;
    if (v != NULL) {
        yamlt_path_key(path, ipath, "action");
        const char *s;
        size_t len;
        if ((st = yamlt_string(w->doc, v, path, &s, &len, w->err)))
            return st;
        size_t a = 0;
        while (a < N_ACTIONS && strcasecmp(action_names[a], s) != 0)
            a++;
        if (a == N_ACTIONS)
            return errf(w, v, path, KB_ERR_INVALID, "unknown action \"%s\"",
                        kb_excerpt(ex, sizeof(ex), s, len));
        r->action = (enum scrape_config_action)a;
    }

    v = field(it, "regex");
    if (v != NULL) {
        yamlt_path_key(path, ipath, "regex");
        struct kb_regex *re = NULL;
        struct kb_err rerr;
        kb_err_clear(&rerr);
        st = kb_regex_compile(r->regex, strlen(r->regex), 0, &re, &rerr);
        kb_regex_free(re);
        if (st)
            return errf(w, v, path, st, "bad %s", rerr.msg);
    }

    v = field(it, "modulus");
    r->modulus = 0;
    if (v != NULL) {
        yamlt_path_key(path, ipath, "modulus");
        if ((st = yamlt_uint(w->doc, v, path, 0, UINT64_MAX, &r->modulus,
                             w->err)))
            return st;
    }

    const char *act = action_names[r->action];
    enum scrape_config_action a = r->action;
    bool needs_target =
        a == SCRAPE_ACTION_REPLACE || a == SCRAPE_ACTION_HASHMOD ||
        a == SCRAPE_ACTION_LOWERCASE || a == SCRAPE_ACTION_UPPERCASE ||
        a == SCRAPE_ACTION_KEEPEQUAL || a == SCRAPE_ACTION_DROPEQUAL;
    if (needs_target && r->target_label[0] == '\0')
        return errf(w, it, ipath, KB_ERR_INVALID,
                    "action %s needs target_label", act);
    v = field(it, "target_label");
    yamlt_path_key(path, ipath, "target_label");
    if (a == SCRAPE_ACTION_REPLACE) {
        bool ok;
        if ((st = target_ok(w, r->target_label, &ok)))
            return st;
        if (!ok)
            return errf(w, v, path, KB_ERR_INVALID,
                        "\"%s\" is not a valid target_label for replace",
                        kb_excerpt(ex, sizeof(ex), r->target_label,
                                   strlen(r->target_label)));
    } else if (needs_target &&
               !labels_name_valid(r->target_label, strlen(r->target_label))) {
        return errf(w, v, path, KB_ERR_INVALID, "bad label name \"%s\"",
                    kb_excerpt(ex, sizeof(ex), r->target_label,
                               strlen(r->target_label)));
    }
    if (a == SCRAPE_ACTION_HASHMOD && r->modulus == 0)
        return errf(w, it, ipath, KB_ERR_INVALID,
                    "action hashmod needs a modulus above 0");
    if (a == SCRAPE_ACTION_LABELMAP) {
        bool ok;
        if ((st = target_ok(w, r->replacement, &ok)))
            return st;
        if (!ok) {
            yamlt_path_key(path, ipath, "replacement");
            return errf(
                w, field(it, "replacement") ? field(it, "replacement") : it,
                path, KB_ERR_INVALID,
                "\"%s\" is not a valid replacement for labelmap",
                kb_excerpt(ex, sizeof(ex), r->replacement,
                           strlen(r->replacement)));
        }
    }
    bool other = strcmp(r->separator, ";") != 0 || r->modulus != 0 ||
                 strcmp(r->replacement, "$1") != 0;
    if ((a == SCRAPE_ACTION_LABELDROP || a == SCRAPE_ACTION_LABELKEEP) &&
        (other || r->n_source_labels > 0 || r->target_label[0] != '\0'))
        return errf(w, it, ipath, KB_ERR_INVALID,
                    "action %s takes only regex, no other field", act);
    if ((a == SCRAPE_ACTION_KEEPEQUAL || a == SCRAPE_ACTION_DROPEQUAL) &&
        (other || strcmp(r->regex, "(.*)") != 0))
        return errf(w, it, ipath, KB_ERR_INVALID,
                    "action %s takes only source_labels and target_label", act);
    return KB_OK;
}

static enum kb_status parse_relabels(struct walk *w,
                                     const struct yamlt_node *map,
                                     const char *parent,
                                     struct scrape_config_job *job)
{
    char path[YAMLT_PATH_MAX], ipath[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, "relabel_configs");
    const struct yamlt_node *seq;
    enum kb_status st =
        get_seq(w, map, path, "relabel_configs", SCRAPE_CONFIG_MAX_LIST, &seq);
    if (st || seq == NULL)
        return st;
    struct scrape_config_relabel *rs = new_array(w, seq->n, sizeof(*rs));
    for (size_t i = 0; i < seq->n; i++) {
        yamlt_path_index(ipath, path, i);
        if ((st = parse_relabel_one(w, seq->items[i], ipath, &rs[i])))
            return st;
    }
    job->relabel_configs = rs;
    job->n_relabel_configs = seq->n;
    return KB_OK;
}

/* ---- Profiling ----------------------------------------------------------- */

/* A URL path: starts with '/', printable ASCII, no query or fragment. */
static enum kb_status check_url_path(struct walk *w, const struct yamlt_node *n,
                                     const char *path, const char *s,
                                     bool empty_ok)
{
    char ex[KB_EXCERPT_MAX];
    bool ok = (empty_ok && s[0] == '\0') || s[0] == '/';
    for (const char *c = s; ok && *c; c++)
        ok = *c > 0x20 && *c < 0x7F && *c != '?' && *c != '#';
    if (!ok)
        return errf(w, n, path, KB_ERR_INVALID,
                    "bad path \"%s\": expected /a/path, without query",
                    kb_excerpt(ex, sizeof(ex), s, strlen(s)));
    return KB_OK;
}

/* The fields of one profile type (`it` may be NULL: defaults). */
static enum kb_status parse_profile(struct walk *w, const struct yamlt_node *it,
                                    const char *ipath, const char *prefix,
                                    struct scrape_config_profile *p)
{
    char path[YAMLT_PATH_MAX];
    enum kb_status st;
    const char *rel = p->path;
    if ((st = get_bool(w, it, ipath, "enabled", p->enabled, &p->enabled)) ||
        (st = get_str(w, it, ipath, "path", p->path, true, &rel)) ||
        (st = get_bool(w, it, ipath, "delta", p->delta, &p->delta)) ||
        (st = get_bool(w, it, ipath, "seconds", p->seconds, &p->seconds)))
        return st;
    if (rel == NULL)
        return errf(w, it, ipath, KB_ERR_INVALID, "missing path");
    yamlt_path_key(path, ipath, "path");
    if ((st = check_url_path(w, field(it, "path") ? field(it, "path") : it,
                             path, rel, false)))
        return st;
    size_t plen = strlen(prefix), rlen = strlen(rel);
    char *full = arena_alloc(w->own->arena, plen + rlen + 1);
    memcpy(full, prefix, plen);
    memcpy(full + plen, rel, rlen + 1);
    p->path = full;
    if (p->seconds && !p->delta) {
        yamlt_path_key(path, ipath, "seconds");
        return errf(w, field(it, "seconds") ? field(it, "seconds") : it, path,
                    KB_ERR_INVALID,
                    "seconds: true needs delta: true (the target returns a "
                    "delta over the window)");
    }
    if (field(it, "keep_sample_types") != NULL)
        return get_str_list(w, it, ipath, "keep_sample_types", STR_NONEMPTY,
                            &p->keep_sample_types, &p->n_keep_sample_types);
    return KB_OK;
}

static enum kb_status parse_profiling(struct walk *w,
                                      const struct yamlt_node *map,
                                      const char *parent,
                                      struct scrape_config_job *job)
{
    static const char *const keys[] = {
        "path_prefix", "cpu",       "memory",  "allocs", "mutex",
        "block",       "goroutine", "threads", "custom", NULL};
    static const char *const type_keys[] = {
        "enabled", "path", "delta", "seconds", "keep_sample_types", NULL};
    static const char *const custom_keys[] = {
        "name",    "enabled",           "path", "delta",
        "seconds", "keep_sample_types", NULL};
    char path[YAMLT_PATH_MAX], tpath[YAMLT_PATH_MAX], cpath[YAMLT_PATH_MAX],
        ipath[YAMLT_PATH_MAX];
    enum kb_status st;
    yamlt_path_key(path, parent, "profiling");
    const struct yamlt_node *prof = field(map, "profiling");
    if (prof != NULL && (st = check_keys(w, prof, path, keys)))
        return st;

    const char *prefix;
    if ((st = get_str(w, prof, path, "path_prefix", "", false, &prefix)))
        return st;
    yamlt_path_key(tpath, path, "path_prefix");
    if ((st = check_url_path(w, field(prof, "path_prefix"), tpath, prefix,
                             true)))
        return st;
    size_t pl = strlen(prefix);
    if (pl > 0 && prefix[pl - 1] == '/')
        prefix = dup(w, prefix, pl - 1);

    yamlt_path_key(cpath, path, "custom");
    const struct yamlt_node *custom;
    if ((st = get_seq(w, prof, cpath, "custom", 64, &custom)))
        return st;
    size_t nc = custom ? custom->n : 0;
    job->profiles = new_array(w, N_BUILTINS + nc, sizeof(*job->profiles));
    job->n_profiles = N_BUILTINS + nc;

    for (size_t i = 0; i < N_BUILTINS; i++) {
        const struct builtin *b = &builtins[i];
        struct scrape_config_profile *p = &job->profiles[i];
        p->name = b->name;
        p->enabled = b->enabled;
        p->path = b->path;
        p->delta = b->delta;
        p->seconds = b->seconds;
        size_t nk = 0;
        while (b->keep[nk] != NULL)
            nk++;
        p->keep_sample_types = (const char **)b->keep;
        p->n_keep_sample_types = nk;
        const struct yamlt_node *t = field(prof, b->name);
        yamlt_path_key(tpath, path, b->name);
        if (t != NULL && (st = check_keys(w, t, tpath, type_keys)))
            return st;
        if ((st = parse_profile(w, t, tpath, prefix, p)))
            return st;
    }
    for (size_t i = 0; i < nc; i++) {
        const struct yamlt_node *it = custom->items[i];
        struct scrape_config_profile *p = &job->profiles[N_BUILTINS + i];
        yamlt_path_index(ipath, cpath, i);
        if ((st = check_keys(w, it, ipath, custom_keys)))
            return st;
        if ((st = get_str(w, it, ipath, "name", NULL, true, &p->name)))
            return st;
        if (p->name == NULL)
            return errf(w, it, ipath, KB_ERR_INVALID, "missing name");
        yamlt_path_key(tpath, ipath, "name");
        const struct yamlt_node *nn = field(it, "name");
        char ex[KB_EXCERPT_MAX];
        if (!labels_name_valid(p->name, strlen(p->name)))
            return errf(w, nn, tpath, KB_ERR_INVALID,
                        "bad profile type name \"%s\": expected "
                        "[a-zA-Z_][a-zA-Z0-9_]*",
                        kb_excerpt(ex, sizeof(ex), p->name, strlen(p->name)));
        for (size_t j = 0; j < N_BUILTINS + i; j++)
            if (strcmp(job->profiles[j].name, p->name) == 0)
                return errf(w, nn, tpath, KB_ERR_INVALID,
                            "profile type \"%s\" is already defined%s", p->name,
                            j < N_BUILTINS ? " (built in: configure it "
                                             "under profiling)"
                                           : "");
        p->enabled = true;
        if ((st = parse_profile(w, it, ipath, prefix, p)))
            return st;
    }
    return KB_OK;
}

/* ---- Jobs ---------------------------------------------------------------- */

static enum kb_status parse_params(struct walk *w, const struct yamlt_node *map,
                                   const char *parent,
                                   struct scrape_config_job *job)
{
    char path[YAMLT_PATH_MAX];
    yamlt_path_key(path, parent, "params");
    const struct yamlt_node *v = field(map, "params");
    if (v == NULL)
        return KB_OK;
    enum kb_status st = yamlt_want(w->doc, v, path, YAMLT_MAP, w->err);
    if (st)
        return st;
    if (v->n > SCRAPE_CONFIG_MAX_LIST)
        return errf(w, v, path, KB_ERR_LIMIT, "more than %d params",
                    SCRAPE_CONFIG_MAX_LIST);
    job->params = new_array(w, v->n, sizeof(*job->params));
    job->n_params = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const struct yamlt_node *k = v->items[i];
        struct scrape_config_param *p = &job->params[i];
        if (k->len == 0 || memchr(k->str, '\0', k->len))
            return errf(w, k, path, KB_ERR_INVALID, "bad parameter name");
        if (strcmp(k->str, "seconds") == 0)
            return errf(w, k, path, KB_ERR_INVALID,
                        "parameter \"seconds\" is set by Kiln (from "
                        "scrape_interval, for profiles with seconds: true)");
        p->name = dup(w, k->str, k->len);
        if ((st = get_str_list(w, v, path, p->name, STR_ANY, &p->values,
                               &p->n_values)))
            return st;
    }
    return KB_OK;
}

/* Global settings the jobs inherit, with the nodes that set them (NULL:
 * default), to point errors at. */
struct globals {
    int64_t interval, timeout;
    const struct yamlt_node *interval_node, *timeout_node;
};

static enum kb_status parse_job(struct walk *w, const struct yamlt_node *it,
                                const char *ipath, const struct globals *g,
                                struct scrape_config_job *job,
                                const struct scrape_config_job *prev,
                                size_t n_prev)
{
    static const char *const keys[] = {"job_name",
                                       "scrape_interval",
                                       "scrape_timeout",
                                       "scheme",
                                       "params",
                                       "profiling",
                                       "static_configs",
                                       "file_sd_configs",
                                       "kubernetes_sd_configs",
                                       "relabel_configs",
                                       NULL};
    char path[YAMLT_PATH_MAX];
    char ex[KB_EXCERPT_MAX];
    enum kb_status st;
    if ((st = check_keys(w, it, ipath, keys)))
        return st;
    job->line = it->line;
    job->column = it->column;
    if ((st = get_str(w, it, ipath, "job_name", NULL, true, &job->job_name)))
        return st;
    if (job->job_name == NULL)
        return errf(w, it, ipath, KB_ERR_INVALID, "missing job_name");
    for (size_t j = 0; j < n_prev; j++) {
        if (strcmp(prev[j].job_name, job->job_name) == 0) {
            yamlt_path_key(path, ipath, "job_name");
            return errf(w, field(it, "job_name"), path, KB_ERR_INVALID,
                        "duplicate job_name \"%s\" (first at line %u)",
                        kb_excerpt(ex, sizeof(ex), job->job_name,
                                   strlen(job->job_name)),
                        prev[j].line);
        }
    }

    const struct yamlt_node *in, *tn;
    if ((st = get_duration(w, it, ipath, "scrape_interval", g->interval,
                           &job->scrape_interval_ms, &in)) ||
        (st = get_duration(w, it, ipath, "scrape_timeout", g->timeout,
                           &job->scrape_timeout_ms, &tn)))
        return st;
    char ipath_i[YAMLT_PATH_MAX], ipath_t[YAMLT_PATH_MAX];
    if (in != NULL)
        yamlt_path_key(ipath_i, ipath, "scrape_interval");
    else
        snprintf(ipath_i, sizeof(ipath_i), "global.scrape_interval");
    if (tn != NULL)
        yamlt_path_key(ipath_t, ipath, "scrape_timeout");
    else
        snprintf(ipath_t, sizeof(ipath_t), "global.scrape_timeout");
    /* Unset anywhere, or inherited from global but not above the job's
     * own interval: the job's interval plus the margin. */
    if (job->scrape_timeout_ms == 0 ||
        (tn == NULL && in != NULL &&
         job->scrape_timeout_ms <= job->scrape_interval_ms))
        job->scrape_timeout_ms =
            job->scrape_interval_ms + SCRAPE_CONFIG_TIMEOUT_MARGIN_MS;
    if (in == NULL)
        in = g->interval_node;
    if (tn == NULL)
        tn = g->timeout_node;

    if ((st = get_str(w, it, ipath, "scheme", "http", true, &job->scheme)))
        return st;
    if (strcmp(job->scheme, "http") != 0 && strcmp(job->scheme, "https")) {
        yamlt_path_key(path, ipath, "scheme");
        return errf(
            w, field(it, "scheme"), path, KB_ERR_INVALID,
            "expected http or https, got \"%s\"",
            kb_excerpt(ex, sizeof(ex), job->scheme, strlen(job->scheme)));
    }
    if ((st = parse_params(w, it, ipath, job)) ||
        (st = parse_profiling(w, it, ipath, job)) ||
        (st = parse_statics(w, it, ipath, &job->static_configs,
                            &job->n_static_configs)) ||
        (st = parse_file_sd(w, it, ipath, job)) ||
        (st = parse_k8s(w, it, ipath, job)) ||
        (st = parse_relabels(w, it, ipath, job)))
        return st;

    /* Profiles fetched with ?seconds=N take the whole interval. */
    bool seconds = false;
    for (size_t i = 0; i < job->n_profiles; i++)
        seconds |= job->profiles[i].enabled && job->profiles[i].seconds;
    char a[KB_DURATION_STR_MAX], b[KB_DURATION_STR_MAX];
    kb_duration_format(job->scrape_interval_ms, a);
    kb_duration_format(job->scrape_timeout_ms, b);
    if (seconds && job->scrape_interval_ms % 1000 != 0)
        return errf(w, in, ipath_i, KB_ERR_INVALID,
                    "scrape_interval %s is not a whole number of seconds "
                    "(profiles with seconds: true are fetched with "
                    "?seconds=N)",
                    a);
    if (seconds && job->scrape_timeout_ms <= job->scrape_interval_ms)
        return errf(w, tn, ipath_t, KB_ERR_INVALID,
                    "scrape_timeout %s must be longer than scrape_interval "
                    "%s (a CPU profile takes the whole interval)",
                    b, a);
    return KB_OK;
}

/* ---- Top level ----------------------------------------------------------- */

static enum kb_status
parse_global(struct walk *w, const struct yamlt_node *root, struct globals *g)
{
    static const char *const keys[] = {"scrape_interval", "scrape_timeout",
                                       "evaluation_interval", "external_labels",
                                       NULL};
    struct scrape_config *cfg = &w->own->cfg;
    const struct yamlt_node *gl = field(root, "global");
    enum kb_status st;
    if (gl != NULL && (st = check_keys(w, gl, "global", keys)))
        return st;
    if ((st = get_duration(w, gl, "global", "scrape_interval",
                           SCRAPE_CONFIG_INTERVAL_MS, &g->interval,
                           &g->interval_node)) ||
        (st = get_duration(w, gl, "global", "scrape_timeout", 0, &g->timeout,
                           &g->timeout_node)) ||
        (st = get_duration(w, gl, "global", "evaluation_interval",
                           SCRAPE_CONFIG_EVAL_INTERVAL_MS,
                           &cfg->evaluation_interval_ms, NULL)) ||
        (st = get_labels(w, gl, "global", "external_labels",
                         &cfg->external_labels)))
        return st;
    cfg->scrape_interval_ms = g->interval;
    cfg->scrape_timeout_ms =
        g->timeout ? g->timeout : g->interval + SCRAPE_CONFIG_TIMEOUT_MARGIN_MS;
    return KB_OK;
}

static enum kb_status parse_alerting(struct walk *w,
                                     const struct yamlt_node *root)
{
    static const char *const keys[] = {"alertmanagers", NULL};
    static const char *const am_keys[] = {"static_configs", "scheme",
                                          "path_prefix", "timeout", NULL};
    struct scrape_config *cfg = &w->own->cfg;
    char path[YAMLT_PATH_MAX], ipath[YAMLT_PATH_MAX];
    char ex[KB_EXCERPT_MAX];
    const struct yamlt_node *al = field(root, "alerting");
    enum kb_status st;
    if (al == NULL)
        return KB_OK;
    if ((st = check_keys(w, al, "alerting", keys)))
        return st;
    const struct yamlt_node *seq;
    if ((st = get_seq(w, al, "alerting.alertmanagers", "alertmanagers",
                      SCRAPE_CONFIG_MAX_LIST, &seq)) ||
        seq == NULL)
        return st;
    cfg->alertmanagers = new_array(w, seq->n, sizeof(*cfg->alertmanagers));
    cfg->n_alertmanagers = seq->n;
    for (size_t i = 0; i < seq->n; i++) {
        const struct yamlt_node *it = seq->items[i];
        struct scrape_config_alertmanager *am = &cfg->alertmanagers[i];
        yamlt_path_index(ipath, "alerting.alertmanagers", i);
        if ((st = check_keys(w, it, ipath, am_keys)) ||
            (st = get_str(w, it, ipath, "scheme", "http", true, &am->scheme)) ||
            (st = get_str(w, it, ipath, "path_prefix", "", false,
                          &am->path_prefix)) ||
            (st = get_duration(w, it, ipath, "timeout",
                               SCRAPE_CONFIG_ALERTMANAGER_TIMEOUT_MS,
                               &am->timeout_ms, NULL)) ||
            (st = parse_statics(w, it, ipath, &am->static_configs,
                                &am->n_static_configs)))
            return st;
        if (strcmp(am->scheme, "http") != 0 && strcmp(am->scheme, "https")) {
            yamlt_path_key(path, ipath, "scheme");
            return errf(
                w, field(it, "scheme"), path, KB_ERR_INVALID,
                "expected http or https, got \"%s\"",
                kb_excerpt(ex, sizeof(ex), am->scheme, strlen(am->scheme)));
        }
        yamlt_path_key(path, ipath, "path_prefix");
        if ((st = check_url_path(w, field(it, "path_prefix"), path,
                                 am->path_prefix, true)))
            return st;
    }
    return KB_OK;
}

static enum kb_status parse_root(struct walk *w, const struct yamlt_node *root)
{
    static const char *const keys[] = {"global", "scrape_configs", "rule_files",
                                       "alerting", NULL};
    struct scrape_config *cfg = &w->own->cfg;
    char ipath[YAMLT_PATH_MAX];
    enum kb_status st;
    if (root != NULL && !yamlt_is_null(root) &&
        (st = check_keys(w, root, "", keys)))
        return st;
    struct globals g = {0};
    if ((st = parse_global(w, root, &g)))
        return st;
    if ((st = get_str_list(w, root, "", "rule_files", STR_NONEMPTY,
                           &cfg->rule_files, &cfg->n_rule_files)))
        return st;
    if ((st = parse_alerting(w, root)))
        return st;

    const struct yamlt_node *seq;
    if ((st = get_seq(w, root, "scrape_configs", "scrape_configs",
                      SCRAPE_CONFIG_MAX_JOBS, &seq)) ||
        seq == NULL)
        return st;
    cfg->jobs = new_array(w, seq->n, sizeof(*cfg->jobs));
    for (size_t i = 0; i < seq->n; i++) {
        yamlt_path_index(ipath, "scrape_configs", i);
        if ((st = parse_job(w, seq->items[i], ipath, &g, &cfg->jobs[i],
                            cfg->jobs, i)))
            return st;
        cfg->n_jobs = i + 1;
    }
    return KB_OK;
}

enum kb_status scrape_config_parse(const char *name, const void *data,
                                   size_t len, struct scrape_config **out,
                                   struct kb_err *err)
{
    struct yamlt_limits lim;
    yamlt_limits_default(&lim);
    lim.max_bytes = SCRAPE_CONFIG_MAX_BYTES;
    lim.max_depth = SCRAPE_CONFIG_MAX_DEPTH;
    *out = NULL;
    struct yamlt_doc *doc = NULL;
    enum kb_status st = yamlt_parse(name, data, len, &lim, &doc, err);
    if (st)
        return st;
    struct owner *own = kb_calloc(1, sizeof(*own));
    own->arena = arena_new(0);
    struct walk w = {.doc = doc, .own = own, .err = err};
    st = parse_root(&w, yamlt_root(doc));
    kb_regex_free(w.target_re);
    yamlt_free(doc);
    if (st) {
        scrape_config_free(&own->cfg);
        return st;
    }
    *out = &own->cfg;
    return KB_OK;
}

enum kb_status scrape_config_load(const char *path, struct scrape_config **out,
                                  struct kb_err *err)
{
    struct buf b;
    buf_init(&b, SCRAPE_CONFIG_MAX_BYTES);
    *out = NULL;
    enum kb_status st = kb_file_read(path, &b, err);
    if (st == KB_OK)
        st = scrape_config_parse(path, b.data, b.len, out, err);
    buf_free(&b);
    return st;
}

void scrape_config_free(struct scrape_config *cfg)
{
    if (cfg == NULL)
        return;
    struct owner *own = (struct owner *)cfg;
    for (size_t i = 0; i < own->n_sets; i++)
        labels_free(own->sets[i]);
    free(own->sets);
    arena_free(own->arena);
    free(own);
}

const struct scrape_config_job *
scrape_config_job(const struct scrape_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_jobs; i++)
        if (strcmp(cfg->jobs[i].job_name, name) == 0)
            return &cfg->jobs[i];
    return NULL;
}

const struct scrape_config_profile *
scrape_config_profile(const struct scrape_config_job *job, const char *name)
{
    for (size_t i = 0; i < job->n_profiles; i++)
        if (strcmp(job->profiles[i].name, name) == 0)
            return &job->profiles[i];
    return NULL;
}
