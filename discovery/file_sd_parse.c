/* discovery/file_sd_parse.c: the file_sd file format, JSON and YAML lists
 * of target groups, parsed into disc_group sets.
 *
 * Design. Both formats have the same shape,
 *
 *     [{"targets": ["h:9090", ...], "labels": {"job": "x"}}, ...]
 *
 * and feed the same builder: a struct parse holds the group being built,
 * a labels builder for its labels and the counters the limits apply to.
 * JSON is loaded whole by jansson (duplicate keys and NUL bytes refused,
 * jansson's own nesting limit applies) and walked; since a loaded tree has
 * no positions, content errors name the group ("group 3: labels: ...").
 * YAML is read as libyaml events by a small recursive descent that knows
 * the shape, so it never goes deeper than three levels, never builds a
 * tree, and names lines ("line 7, column 5: ..."). Aliases are refused
 * (no expansion bombs), as are multiple documents.
 *
 * Prometheus compatibility: unknown keys are ignored in JSON and refused in
 * YAML (Prometheus unmarshals YAML strictly); missing or null "targets" and
 * "labels" are empty; an empty YAML file is no groups, an empty JSON file
 * an error. Each group gets __meta_filepath and the source
 * "file:<path>:<index>".
 *
 * Groups are built into a local set and moved to the caller's at the end,
 * so a failure leaves the caller's set as it was. The provider (file
 * reading, globbing, inotify) is in file_sd.c.
 */
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/labels.h"
#include "base/text.h"
#include "discovery/file_sd.h"

struct parse {
    const char *path;
    struct disc_group_set set;
    struct disc_group *g; /* the group being built (in set) */
    struct labels_builder *lb;
    size_t n_targets;
    struct kb_err *err;
};

enum kb_status disc_file_format_of(const char *path, enum disc_file_format *out,
                                   struct kb_err *err)
{
    const char *dot = strrchr(path, '.');
    if (dot != NULL && strchr(dot, '/') == NULL) {
        if (strcasecmp(dot, ".json") == 0) {
            *out = DISC_FILE_JSON;
            return KB_OK;
        }
        if (strcasecmp(dot, ".yml") == 0 || strcasecmp(dot, ".yaml") == 0) {
            *out = DISC_FILE_YAML;
            return KB_OK;
        }
    }
    return kb_errf(err, KB_ERR_INVALID,
                   "%s: file_sd files must end in .json, .yml or .yaml", path);
}

static enum kb_status group_begin(struct parse *ps)
{
    if (ps->set.n >= DISC_FILE_SD_MAX_GROUPS)
        return kb_errf(ps->err, KB_ERR_LIMIT, "more than %d target groups",
                       DISC_FILE_SD_MAX_GROUPS);
    struct buf src;
    buf_init(&src, BUF_NO_LIMIT);
    buf_printf(&src, "file:%s:%zu", ps->path, ps->set.n);
    ps->g = disc_group_new(buf_cstr(&src));
    buf_free(&src);
    disc_group_set_add(&ps->set, ps->g);
    labels_builder_reset(ps->lb, NULL);
    return KB_OK;
}

static enum kb_status group_target(struct parse *ps, const char *s, size_t n)
{
    if (ps->n_targets >= DISC_FILE_SD_MAX_TARGETS)
        return kb_errf(ps->err, KB_ERR_LIMIT, "more than %d targets",
                       DISC_FILE_SD_MAX_TARGETS);
    if (memchr(s, '\0', n) != NULL)
        return kb_errf(ps->err, KB_ERR_INVALID,
                       "target %zu: NUL byte in address", ps->g->n_targets);
    enum kb_status st = disc_group_add_address(ps->g, s, ps->err);
    if (st != KB_OK)
        return kb_err_prefix(ps->err, "target %zu", ps->g->n_targets);
    ps->n_targets++;
    return KB_OK;
}

static enum kb_status group_label(struct parse *ps, const char *name,
                                  size_t name_len, const char *value,
                                  size_t value_len)
{
    char tmp[KB_EXCERPT_MAX];
    if (!labels_name_valid(name, name_len) ||
        memchr(name, '\0', name_len) != NULL)
        return kb_errf(ps->err, KB_ERR_INVALID,
                       "labels: invalid label name \"%s\"",
                       kb_excerpt(tmp, sizeof(tmp), name, name_len));
    if (memchr(value, '\0', value_len) != NULL)
        return kb_errf(ps->err, KB_ERR_INVALID, "labels: %s: NUL byte in value",
                       name);
    if (labels_builder_get(ps->lb, name) != NULL)
        return kb_errf(ps->err, KB_ERR_INVALID,
                       "labels: duplicate label name \"%s\"", name);
    enum kb_status st = labels_builder_add(ps->lb, name, value, ps->err);
    if (st != KB_OK)
        return kb_err_prefix(ps->err, "labels");
    return KB_OK;
}

static enum kb_status group_end(struct parse *ps)
{
    struct labels *ls = NULL;
    enum kb_status st =
        labels_builder_set(ps->lb, DISC_META_FILEPATH, ps->path, ps->err);
    if (st == KB_OK)
        st = labels_builder_finish(ps->lb, &ls, ps->err);
    if (st != KB_OK)
        return kb_err_prefix(ps->err, "labels");
    disc_group_set_labels(ps->g, ls);
    ps->g = NULL;
    return KB_OK;
}

/* ---- JSON ---- */

static enum kb_status json_group(struct parse *ps, json_t *obj)
{
    if (!json_is_object(obj))
        return kb_errf(ps->err, KB_ERR_INVALID,
                       "expected an object with \"targets\" and \"labels\"");
    enum kb_status st = group_begin(ps);
    if (st != KB_OK)
        return st;
    json_t *targets = json_object_get(obj, "targets");
    if (targets != NULL && !json_is_null(targets)) {
        if (!json_is_array(targets))
            return kb_errf(ps->err, KB_ERR_INVALID,
                           "\"targets\" must be a list of strings");
        size_t i;
        json_t *t;
        json_array_foreach(targets, i, t)
        {
            if (!json_is_string(t))
                return kb_errf(ps->err, KB_ERR_INVALID,
                               "target %zu: expected a string", i);
            st = group_target(ps, json_string_value(t), json_string_length(t));
            if (st != KB_OK)
                return st;
        }
    }
    json_t *labels = json_object_get(obj, "labels");
    if (labels != NULL && !json_is_null(labels)) {
        if (!json_is_object(labels))
            return kb_errf(ps->err, KB_ERR_INVALID,
                           "\"labels\" must be an object of strings");
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v)
        {
            if (!json_is_string(v))
                return kb_errf(ps->err, KB_ERR_INVALID,
                               "labels: %s: expected a string value", k);
            st = group_label(ps, k, strlen(k), json_string_value(v),
                             json_string_length(v));
            if (st != KB_OK)
                return st;
        }
    }
    return group_end(ps);
}

static enum kb_status parse_json(struct parse *ps, const void *data, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return kb_errf(ps->err, KB_ERR_INVALID, "line %d, column %d: %s",
                       jerr.line, jerr.column, jerr.text);
    enum kb_status st = KB_OK;
    if (!json_is_array(root)) {
        st = kb_errf(ps->err, KB_ERR_INVALID,
                     "expected a list of target groups");
        goto out;
    }
    size_t i;
    json_t *g;
    json_array_foreach(root, i, g)
    {
        st = json_group(ps, g);
        if (st != KB_OK) {
            kb_err_prefix(ps->err, "group %zu", i);
            goto out;
        }
    }
out:
    json_decref(root);
    return st;
}

/* ---- YAML ---- */

struct yp {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    struct parse *ps;
};

static enum kb_status yp_error(struct yp *y, const char *what)
{
    return kb_errf(y->ps->err, KB_ERR_INVALID, "line %zu, column %zu: %s",
                   (size_t)y->ev.start_mark.line + 1,
                   (size_t)y->ev.start_mark.column + 1, what);
}

/* Put the current event's position in front of the message in ps->err. */
static enum kb_status yp_prefix(struct yp *y)
{
    return kb_err_prefix(y->ps->err, "line %zu, column %zu",
                         (size_t)y->ev.start_mark.line + 1,
                         (size_t)y->ev.start_mark.column + 1);
}

/* The next event into y->ev; aliases and parse errors fail. */
static enum kb_status yp_next(struct yp *y)
{
    if (y->have_ev)
        yaml_event_delete(&y->ev);
    y->have_ev = false;
    if (!yaml_parser_parse(&y->parser, &y->ev)) {
        const yaml_parser_t *p = &y->parser;
        return kb_errf(y->ps->err, KB_ERR_INVALID,
                       "line %zu, column %zu: %s%s%s",
                       (size_t)p->problem_mark.line + 1,
                       (size_t)p->problem_mark.column + 1,
                       p->problem ? p->problem : "invalid YAML",
                       p->context ? " " : "", p->context ? p->context : "");
    }
    y->have_ev = true;
    if (y->ev.type == YAML_ALIAS_EVENT)
        return yp_error(y, "YAML aliases are not supported");
    return KB_OK;
}

static const char *scalar(const struct yp *y, size_t *len)
{
    *len = y->ev.data.scalar.length;
    return (const char *)y->ev.data.scalar.value;
}

/* Whether the current event is a YAML null: ~, null or an empty plain
 * scalar (and not a quoted "null"). */
static bool is_null(const struct yp *y)
{
    if (y->ev.type != YAML_SCALAR_EVENT || !y->ev.data.scalar.plain_implicit)
        return false;
    size_t n;
    const char *s = scalar(y, &n);
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
                       memcmp(s, "NULL", 4) == 0));
}

static enum kb_status yaml_targets(struct yp *y)
{
    enum kb_status st = yp_next(y);
    if (st != KB_OK || is_null(y))
        return st;
    if (y->ev.type != YAML_SEQUENCE_START_EVENT)
        return yp_error(y, "\"targets\" must be a list of strings");
    for (;;) {
        if ((st = yp_next(y)) != KB_OK)
            return st;
        if (y->ev.type == YAML_SEQUENCE_END_EVENT)
            return KB_OK;
        if (y->ev.type != YAML_SCALAR_EVENT)
            return yp_error(y, "expected a target string");
        size_t n;
        const char *s = scalar(y, &n);
        st = group_target(y->ps, s, n);
        if (st != KB_OK)
            return yp_prefix(y);
    }
}

static enum kb_status yaml_labels(struct yp *y)
{
    enum kb_status st = yp_next(y);
    if (st != KB_OK || is_null(y))
        return st;
    if (y->ev.type != YAML_MAPPING_START_EVENT)
        return yp_error(y, "\"labels\" must be a mapping of names to values");
    struct buf name;
    buf_init(&name, BUF_NO_LIMIT);
    for (;;) {
        if ((st = yp_next(y)) != KB_OK)
            break;
        if (y->ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (y->ev.type != YAML_SCALAR_EVENT) {
            st = yp_error(y, "expected a label name");
            break;
        }
        size_t n;
        const char *s = scalar(y, &n);
        buf_reset(&name);
        buf_append(&name, s, n);
        if ((st = yp_next(y)) != KB_OK)
            break;
        if (y->ev.type != YAML_SCALAR_EVENT) {
            st = yp_error(y, "expected a label value");
            break;
        }
        const char *v = scalar(y, &n);
        if (is_null(y))
            v = "", n = 0;
        st = group_label(y->ps, (const char *)name.data, name.len, v, n);
        if (st != KB_OK) {
            yp_prefix(y);
            break;
        }
    }
    buf_free(&name);
    return st;
}

static enum kb_status yaml_group(struct yp *y)
{
    if (y->ev.type != YAML_MAPPING_START_EVENT)
        return yp_error(y, "expected a mapping with \"targets\" and "
                           "\"labels\"");
    enum kb_status st = group_begin(y->ps);
    if (st != KB_OK)
        return yp_prefix(y);
    bool seen_targets = false, seen_labels = false;
    for (;;) {
        if ((st = yp_next(y)) != KB_OK)
            return st;
        if (y->ev.type == YAML_MAPPING_END_EVENT)
            break;
        size_t n;
        const char *k = y->ev.type == YAML_SCALAR_EVENT ? scalar(y, &n) : "";
        if (y->ev.type == YAML_SCALAR_EVENT && n == 7 &&
            memcmp(k, "targets", 7) == 0) {
            if (seen_targets)
                return yp_error(y, "duplicate key \"targets\"");
            seen_targets = true;
            st = yaml_targets(y);
        } else if (y->ev.type == YAML_SCALAR_EVENT && n == 6 &&
                   memcmp(k, "labels", 6) == 0) {
            if (seen_labels)
                return yp_error(y, "duplicate key \"labels\"");
            seen_labels = true;
            st = yaml_labels(y);
        } else if (y->ev.type == YAML_SCALAR_EVENT) {
            char tmp[KB_EXCERPT_MAX], msg[KB_EXCERPT_MAX + 32];
            snprintf(msg, sizeof(msg), "unknown key \"%s\"",
                     kb_excerpt(tmp, sizeof(tmp), k, n));
            return yp_error(y, msg);
        } else {
            return yp_error(y, "expected \"targets\" or \"labels\"");
        }
        if (st != KB_OK)
            return st;
    }
    return group_end(y->ps);
}

static enum kb_status yaml_body(struct yp *y)
{
    enum kb_status st;
    if ((st = yp_next(y)) != KB_OK) /* STREAM-START */
        return st;
    if ((st = yp_next(y)) != KB_OK)
        return st;
    if (y->ev.type == YAML_STREAM_END_EVENT)
        return KB_OK; /* an empty file: no groups */
    /* DOCUMENT-START */
    if ((st = yp_next(y)) != KB_OK)
        return st;
    if (is_null(y)) {
        if ((st = yp_next(y)) != KB_OK)
            return st;
    } else if (y->ev.type != YAML_SEQUENCE_START_EVENT) {
        return yp_error(y, "expected a list of target groups");
    } else {
        for (size_t i = 0;; i++) {
            if ((st = yp_next(y)) != KB_OK)
                return st;
            if (y->ev.type == YAML_SEQUENCE_END_EVENT)
                break;
            if ((st = yaml_group(y)) != KB_OK)
                return kb_err_prefix(y->ps->err, "group %zu", i);
        }
        if ((st = yp_next(y)) != KB_OK) /* DOCUMENT-END */
            return st;
    }
    if ((st = yp_next(y)) != KB_OK)
        return st;
    if (y->ev.type != YAML_STREAM_END_EVENT)
        return yp_error(y, "more than one YAML document");
    return KB_OK;
}

static enum kb_status parse_yaml(struct parse *ps, const void *data, size_t len)
{
    struct yp y = {.ps = ps};
    if (!yaml_parser_initialize(&y.parser))
        return kb_errf(ps->err, KB_ERR_INTERNAL, "yaml_parser_initialize");
    yaml_parser_set_input_string(&y.parser, data, len);
    enum kb_status st = yaml_body(&y);
    if (y.have_ev)
        yaml_event_delete(&y.ev);
    yaml_parser_delete(&y.parser);
    return st;
}

enum kb_status disc_file_sd_parse(const void *data, size_t len,
                                  enum disc_file_format fmt, const char *path,
                                  struct disc_group_set *out,
                                  struct kb_err *err)
{
    struct kb_err local;
    struct parse ps = {.path = path, .err = err ? err : &local};
    if (len > DISC_FILE_SD_MAX_BYTES)
        return kb_errf(err, KB_ERR_LIMIT, "larger than %d bytes",
                       DISC_FILE_SD_MAX_BYTES);
    ps.lb = labels_builder_new();
    enum kb_status st = fmt == DISC_FILE_JSON ? parse_json(&ps, data, len)
                                              : parse_yaml(&ps, data, len);
    labels_builder_free(ps.lb);
    if (st != KB_OK) {
        disc_group_set_clear(&ps.set);
        return st;
    }
    disc_group_set_move(out, &ps.set);
    return KB_OK;
}
