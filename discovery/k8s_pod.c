/* discovery/k8s_pod.c: Kubernetes pod JSON to target groups.
 *
 * What. The pure half of kubernetes_sd_configs (role pod): decode pod
 * lists and watch event lines with jansson and turn each pod into the
 * group Prometheus' discovery/kubernetes/pod.go builds for it, label for
 * label, so that relabel rules written for Prometheus work unchanged.
 *
 * Design. Every reader of a field goes through one accessor per JSON type
 * (obj_str, obj_obj, obj_arr) that treats a missing field and JSON null
 * alike (Kubernetes omits empty fields) and fails, naming the field, on a
 * value of another type. The group's labels are built in a labels_builder
 * with labels_builder_set, so a later key that sanitizes to the same name
 * replaces an earlier one (Prometheus' map assignment). Targets share the
 * container labels, built once per container.
 *
 * Invariants. Nothing here reads beyond the JSON document; every count
 * (containers, ports) and length (names, resource versions, label names
 * and values) is checked against a limit before use. On failure no output
 * is changed.
 *
 * Ownership. Groups and event fields returned are owned by the caller;
 * jansson values are freed before returning.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/labels.h"
#include "base/text.h"
#include "discovery/k8s_pod.h"

#define META "__meta_kubernetes_"
#define POD META "pod_"

/* Read field `key` of `obj` as a string: NULL when missing or null. */
static enum kb_status obj_str(const json_t *obj, const char *key,
                              const char *what, const char **out,
                              struct kb_err *err)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return KB_OK;
    if (!json_is_string(v))
        return kb_errf(err, KB_ERR_INVALID, "%s%s: expected a string", what,
                       key);
    *out = json_string_value(v);
    return KB_OK;
}

/* Field `key` of `obj` as an object: NULL when missing or null. */
static enum kb_status obj_obj(const json_t *obj, const char *key,
                              const char *what, const json_t **out,
                              struct kb_err *err)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return KB_OK;
    if (!json_is_object(v))
        return kb_errf(err, KB_ERR_INVALID, "%s%s: expected an object", what,
                       key);
    *out = v;
    return KB_OK;
}

/* Field `key` of `obj` as an array: NULL when missing or null. */
static enum kb_status obj_arr(const json_t *obj, const char *key,
                              const char *what, const json_t **out,
                              struct kb_err *err)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return KB_OK;
    if (!json_is_array(v))
        return kb_errf(err, KB_ERR_INVALID, "%s%s: expected an array", what,
                       key);
    *out = v;
    return KB_OK;
}

/* Decode JSON text; errors give jansson's line and column. */
static enum kb_status load(const void *data, size_t len, json_t **out,
                           struct kb_err *err)
{
    json_error_t je;
    *out = json_loadb(data, len, 0, &je);
    if (*out == NULL)
        return kb_errf(err, KB_ERR_INVALID, "line %d, column %d: %s", je.line,
                       je.column, je.text);
    return KB_OK;
}

/* metadata.resourceVersion into rv ("" when absent). */
static enum kb_status meta_rv(const json_t *meta, char rv[K8S_RV_MAX],
                              struct kb_err *err)
{
    const char *s;
    rv[0] = '\0';
    if (meta == NULL)
        return KB_OK;
    enum kb_status st = obj_str(meta, "resourceVersion", "metadata.", &s, err);
    if (st != KB_OK || s == NULL)
        return st;
    size_t n = strlen(s);
    if (n >= K8S_RV_MAX)
        return kb_errf(err, KB_ERR_LIMIT,
                       "metadata.resourceVersion: longer than %d bytes",
                       K8S_RV_MAX - 1);
    memcpy(rv, s, n + 1);
    return KB_OK;
}

/* One of metadata's names: present, at most K8S_NAME_MAX bytes, no '/'
 * and no control characters (it goes into the group's source). */
static enum kb_status meta_name(const json_t *meta, const char *key,
                                const char **out, struct kb_err *err)
{
    enum kb_status st = obj_str(meta, key, "metadata.", out, err);
    if (st != KB_OK)
        return st;
    if (*out == NULL || (*out)[0] == '\0')
        return kb_errf(err, KB_ERR_INVALID, "metadata.%s: missing", key);
    size_t n = strlen(*out);
    if (n > K8S_NAME_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "metadata.%s: longer than %d bytes",
                       key, K8S_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(*out)[i];
        if (c == '/' || c < 0x20 || c == 0x7f)
            return kb_errf(err, KB_ERR_INVALID,
                           "metadata.%s: invalid character", key);
    }
    return KB_OK;
}

/* "pod/<namespace>/<name>" of the pod whose metadata is `meta`. */
static enum kb_status pod_source(const json_t *meta, char **out,
                                 struct kb_err *err)
{
    const char *ns, *name;
    enum kb_status st;
    *out = NULL;
    if (meta == NULL)
        return kb_errf(err, KB_ERR_INVALID, "metadata: missing");
    if ((st = meta_name(meta, "namespace", &ns, err)) != KB_OK ||
        (st = meta_name(meta, "name", &name, err)) != KB_OK)
        return st;
    size_t n = strlen(ns) + strlen(name) + 6;
    *out = kb_malloc(n);
    snprintf(*out, n, "pod/%s/%s", ns, name);
    return KB_OK;
}

/* Set name=value in `b`; a NULL value sets nothing. */
static enum kb_status set(struct labels_builder *b, const char *name,
                          const char *value, struct kb_err *err)
{
    if (value == NULL)
        return KB_OK;
    enum kb_status st = labels_builder_set(b, name, value, err);
    if (st != KB_OK)
        kb_err_prefix(err, "label %s", name);
    return st;
}

/* Prometheus' strutil.SanitizeLabelName appended to `out`: every
 * character (UTF-8 sequence, or stray byte) outside [a-zA-Z0-9_] becomes
 * one '_'. */
static void sanitize(const char *key, char *out, size_t *olen, size_t cap)
{
    const uint8_t *s = (const uint8_t *)key;
    size_t n = strlen(key), i = 0;
    while (i < n && *olen + 1 < cap) {
        uint8_t c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_') {
            out[(*olen)++] = (char)c;
            i++;
            continue;
        }
        size_t k = kb_utf8_seq(s + i, n - i, NULL);
        out[(*olen)++] = '_';
        i += k ? k : 1;
    }
    out[*olen] = '\0';
}

/* For every key of the object `map` (pod labels or annotations): the
 * value under POD<kind>_<key> and "true" under POD<kind>present_<key>. */
static enum kb_status add_map(struct labels_builder *b, const json_t *map,
                              const char *kind, struct kb_err *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)map, key, v)
    {
        if (!json_is_string(v) && !json_is_null(v)) {
            char ex[KB_EXCERPT_MAX];
            return kb_errf(err, KB_ERR_INVALID,
                           "metadata.%ss[%s]: expected a string", kind,
                           kb_excerpt(ex, sizeof(ex), key, strlen(key)));
        }
        char name[LABEL_NAME_MAX + 2], present[LABEL_NAME_MAX + 2];
        size_t nl = (size_t)snprintf(name, sizeof(name), POD "%s_", kind);
        size_t pl =
            (size_t)snprintf(present, sizeof(present), POD "%spresent_", kind);
        sanitize(key, name, &nl, sizeof(name));
        sanitize(key, present, &pl, sizeof(present));
        if (pl > LABEL_NAME_MAX)
            continue; /* cannot be a label name: left out (documented) */
        const char *value = json_is_string(v) ? json_string_value(v) : "";
        enum kb_status st = KB_OK;
        if (strlen(value) <= LABEL_VALUE_MAX)
            st = set(b, name, value, err);
        if (st == KB_OK)
            st = set(b, present, "true", err);
        if (st != KB_OK)
            return st;
    }
    return KB_OK;
}

/* The Ready condition's status in lower case, "unknown" without one
 * (a string the caller frees). */
static enum kb_status pod_ready(const json_t *status, char **out,
                                struct kb_err *err)
{
    const json_t *conds = NULL, *c;
    const char *ready = "unknown";
    size_t i;
    *out = NULL;
    enum kb_status st =
        status ? obj_arr(status, "conditions", "status.", &conds, err) : KB_OK;
    if (st != KB_OK)
        return st;
    json_array_foreach(conds, i, c)
    {
        const char *type, *s;
        if (!json_is_object(c))
            return kb_errf(err, KB_ERR_INVALID,
                           "status.conditions[%zu]: expected an object", i);
        if ((st = obj_str(c, "type", "status.conditions[].", &type, err)) ||
            (st = obj_str(c, "status", "status.conditions[].", &s, err)))
            return st;
        if (type != NULL && strcmp(type, "Ready") == 0) {
            ready = s ? s : "";
            break;
        }
    }
    *out = kb_strdup(ready);
    for (char *p = *out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return KB_OK;
}

/* The controller owner reference's kind and name (NULL when none). */
static enum kb_status pod_controller(const json_t *meta, const char **kind,
                                     const char **name, struct kb_err *err)
{
    const json_t *refs, *r;
    size_t i;
    *kind = *name = NULL;
    enum kb_status st =
        obj_arr(meta, "ownerReferences", "metadata.", &refs, err);
    if (st != KB_OK || refs == NULL)
        return st;
    json_array_foreach(refs, i, r)
    {
        if (!json_is_object(r))
            return kb_errf(err, KB_ERR_INVALID,
                           "metadata.ownerReferences[%zu]: expected an object",
                           i);
        if (json_is_true(json_object_get(r, "controller"))) {
            if ((st = obj_str(r, "kind", "metadata.ownerReferences[].", kind,
                              err)) ||
                (st = obj_str(r, "name", "metadata.ownerReferences[].", name,
                              err)))
                return st;
            return KB_OK;
        }
    }
    return KB_OK;
}

static enum kb_status group_labels(const json_t *meta, const json_t *spec,
                                   const json_t *status, const char *ip,
                                   struct labels **out, struct kb_err *err)
{
    const char *ns, *name, *phase, *node = NULL, *host_ip, *uid, *ckind, *cname;
    char *ready = NULL;
    const json_t *labels, *annotations;
    enum kb_status st;
    struct labels_builder *b = labels_builder_new();
    if ((st = meta_name(meta, "namespace", &ns, err)) ||
        (st = meta_name(meta, "name", &name, err)) ||
        (st = obj_str(meta, "uid", "metadata.", &uid, err)) ||
        (st = obj_str(status, "phase", "status.", &phase, err)) ||
        (st = obj_str(status, "hostIP", "status.", &host_ip, err)) ||
        (st = pod_ready(status, &ready, err)) ||
        (st = pod_controller(meta, &ckind, &cname, err)))
        goto fail;
    if (spec != NULL &&
        (st = obj_str(spec, "nodeName", "spec.", &node, err)) != KB_OK)
        goto fail;
    if ((st = set(b, POD "ip", ip, err)) ||
        (st = set(b, POD "ready", ready, err)) ||
        (st = set(b, POD "phase", phase, err)) ||
        (st = set(b, POD "node_name", node, err)) ||
        (st = set(b, POD "host_ip", host_ip, err)) ||
        (st = set(b, POD "uid", uid, err)) ||
        (st = set(b, POD "name", name, err)))
        goto fail;
    if ((st = obj_obj(meta, "labels", "metadata.", &labels, err)) ||
        (st = obj_obj(meta, "annotations", "metadata.", &annotations, err)))
        goto fail;
    if ((labels && (st = add_map(b, labels, "label", err))) ||
        (annotations && (st = add_map(b, annotations, "annotation", err))))
        goto fail;
    if ((st = set(b, POD "controller_kind", ckind, err)) ||
        (st = set(b, POD "controller_name", cname, err)) ||
        (st = set(b, META "namespace", ns, err)))
        goto fail;
    st = labels_builder_finish(b, out, err);
fail:
    labels_builder_free(b);
    free(ready);
    return st;
}

/* The containerID of container `name` in the status list `statuses`. */
static const char *container_id(const json_t *statuses, const char *name)
{
    const json_t *s;
    size_t i;
    if (statuses == NULL || name == NULL)
        return NULL;
    json_array_foreach(statuses, i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return json_string_value(json_object_get(s, "containerID"));
    }
    return NULL;
}

/* Add one target: the container labels in `b` plus __address__ and, when
 * `port` is not NULL, the port labels. */
static enum kb_status add_target(struct disc_group *g, struct labels_builder *b,
                                 const char *ip, const json_t *port,
                                 const char *where, struct kb_err *err)
{
    char addr[DISC_ADDRESS_MAX + 16], num[24];
    const char *pname = NULL, *proto = NULL;
    struct labels *ls = NULL;
    enum kb_status st;
    bool v6 = strchr(ip, ':') != NULL;
    if (port == NULL) {
        snprintf(addr, sizeof(addr), "%s", ip);
        labels_builder_del(b, POD "container_port_name");
        labels_builder_del(b, POD "container_port_number");
        labels_builder_del(b, POD "container_port_protocol");
    } else {
        if (!json_is_object(port))
            return kb_errf(err, KB_ERR_INVALID, "%s: expected an object",
                           where);
        const json_t *cp = json_object_get(port, "containerPort");
        if (!json_is_integer(cp) || json_integer_value(cp) < 1 ||
            json_integer_value(cp) > 65535)
            return kb_errf(err, KB_ERR_INVALID,
                           "%s.containerPort: expected an integer from 1 to "
                           "65535",
                           where);
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(cp));
        snprintf(addr, sizeof(addr), v6 ? "[%s]:%s" : "%s:%s", ip, num);
        if ((st = obj_str(port, "name", "", &pname, err)) ||
            (st = obj_str(port, "protocol", "", &proto, err)))
            return kb_err_prefix(err, "%s", where);
        labels_builder_del(b, POD "container_port_name");
        labels_builder_del(b, POD "container_port_protocol");
        if ((st = set(b, POD "container_port_number", num, err)) ||
            (st = set(b, POD "container_port_name", pname, err)) ||
            (st = set(b, POD "container_port_protocol", proto, err)))
            return kb_err_prefix(err, "%s", where);
    }
    if ((st = set(b, DISC_ADDRESS_LABEL, addr, err)) ||
        (st = labels_builder_finish(b, &ls, err)) ||
        (st = disc_group_add_target(g, ls, err)))
        return kb_err_prefix(err, "%s", where);
    return KB_OK;
}

/* The targets of the containers in `spec.<key>`. */
static enum kb_status add_containers(struct disc_group *g, const json_t *spec,
                                     const json_t *status, const char *key,
                                     const char *status_key, const char *ip,
                                     size_t *n_containers, struct kb_err *err)
{
    const json_t *list, *statuses = NULL, *c;
    size_t i;
    enum kb_status st = obj_arr(spec, key, "spec.", &list, err);
    if (st != KB_OK || list == NULL)
        return st;
    if (status != NULL &&
        (st = obj_arr(status, status_key, "status.", &statuses, err)))
        return st;
    struct labels_builder *b = labels_builder_new();
    bool init = strcmp(key, "initContainers") == 0;
    json_array_foreach(list, i, c)
    {
        char where[96];
        const char *name, *image;
        const json_t *ports, *p;
        size_t j;
        snprintf(where, sizeof(where), "spec.%s[%zu]", key, i);
        if (++*n_containers > K8S_POD_MAX_CONTAINERS) {
            st = kb_errf(err, KB_ERR_LIMIT, "more than %d containers",
                         K8S_POD_MAX_CONTAINERS);
            goto fail;
        }
        if (!json_is_object(c)) {
            st = kb_errf(err, KB_ERR_INVALID, "%s: expected an object", where);
            goto fail;
        }
        if ((st = obj_str(c, "name", "", &name, err)) ||
            (st = obj_str(c, "image", "", &image, err)) ||
            (st = obj_arr(c, "ports", "", &ports, err))) {
            kb_err_prefix(err, "%s", where);
            goto fail;
        }
        labels_builder_reset(b, NULL);
        if ((st = set(b, POD "container_name", name, err)) ||
            (st = set(b, POD "container_id", container_id(statuses, name),
                      err)) ||
            (st = set(b, POD "container_image", image, err)) ||
            (st = set(b, POD "container_init", init ? "true" : "false", err))) {
            kb_err_prefix(err, "%s", where);
            goto fail;
        }
        if (ports == NULL || json_array_size(ports) == 0) {
            st = add_target(g, b, ip, NULL, where, err);
            if (st != KB_OK)
                goto fail;
            continue;
        }
        json_array_foreach(ports, j, p)
        {
            char pw[128];
            snprintf(pw, sizeof(pw), "%s.ports[%zu]", where, j);
            if (g->n_targets >= K8S_POD_MAX_TARGETS) {
                st = kb_errf(err, KB_ERR_LIMIT, "more than %d ports",
                             K8S_POD_MAX_TARGETS);
                goto fail;
            }
            if ((st = add_target(g, b, ip, p, pw, err)) != KB_OK)
                goto fail;
        }
    }
fail:
    labels_builder_free(b);
    return st;
}

/* The group of a decoded pod object. */
static enum kb_status pod_group(const json_t *pod, struct disc_group **out,
                                struct kb_err *err)
{
    const json_t *meta, *spec, *status;
    const char *ip = NULL;
    char *source = NULL;
    struct disc_group *g = NULL;
    struct labels *ls = NULL;
    size_t n_containers = 0;
    enum kb_status st;
    *out = NULL;
    if (!json_is_object(pod))
        return kb_errf(err, KB_ERR_INVALID, "pod: expected an object");
    if ((st = obj_obj(pod, "metadata", "", &meta, err)) ||
        (st = obj_obj(pod, "spec", "", &spec, err)) ||
        (st = obj_obj(pod, "status", "", &status, err)) ||
        (st = pod_source(meta, &source, err)))
        return st;
    if (status != NULL &&
        (st = obj_str(status, "podIP", "status.", &ip, err)) != KB_OK)
        goto fail;
    if (ip != NULL && strlen(ip) > DISC_ADDRESS_MAX) {
        st = kb_errf(err, KB_ERR_LIMIT, "status.podIP: longer than %d bytes",
                     DISC_ADDRESS_MAX);
        goto fail;
    }
    g = disc_group_new(source);
    if (ip == NULL || ip[0] == '\0') {
        *out = g;
        free(source);
        return KB_OK;
    }
    if ((st = group_labels(meta, spec, status, ip, &ls, err)))
        goto fail;
    disc_group_set_labels(g, ls);
    if (spec != NULL &&
        ((st = add_containers(g, spec, status, "containers",
                              "containerStatuses", ip, &n_containers, err)) ||
         (st =
              add_containers(g, spec, status, "initContainers",
                             "initContainerStatuses", ip, &n_containers, err))))
        goto fail;
    *out = g;
    free(source);
    return KB_OK;
fail:
    disc_group_free(g);
    free(source);
    return st;
}

enum kb_status k8s_pod_group(const void *json, size_t len,
                             struct disc_group **out, struct kb_err *err)
{
    json_t *pod;
    *out = NULL;
    enum kb_status st = load(json, len, &pod, err);
    if (st != KB_OK)
        return st;
    st = pod_group(pod, out, err);
    json_decref(pod);
    return st;
}

static int cmp_group(const void *a, const void *b)
{
    const struct disc_group *x = *(struct disc_group *const *)a;
    const struct disc_group *y = *(struct disc_group *const *)b;
    return strcmp(x->source, y->source);
}

enum kb_status k8s_pod_list_parse(const void *data, size_t len, size_t max_pods,
                                  struct disc_group_set *out,
                                  char rv[K8S_RV_MAX], size_t *skipped,
                                  struct kb_err *skip_err, struct kb_err *err)
{
    json_t *list;
    const json_t *meta, *items, *it;
    struct disc_group_set set = {0};
    size_t i;
    char my_rv[K8S_RV_MAX];
    *skipped = 0;
    if (skip_err != NULL)
        kb_err_clear(skip_err);
    enum kb_status st = load(data, len, &list, err);
    if (st != KB_OK)
        return st;
    if (!json_is_object(list)) {
        st = kb_errf(err, KB_ERR_INVALID, "expected a PodList object");
        goto out;
    }
    if ((st = obj_obj(list, "metadata", "", &meta, err)) ||
        (st = meta_rv(meta, my_rv, err)) ||
        (st = obj_arr(list, "items", "", &items, err)))
        goto out;
    if (my_rv[0] == '\0') {
        st = kb_errf(err, KB_ERR_INVALID, "metadata.resourceVersion: missing");
        goto out;
    }
    if (items != NULL && json_array_size(items) > max_pods) {
        st = kb_errf(err, KB_ERR_LIMIT, "more than %zu pods", max_pods);
        goto out;
    }
    json_array_foreach(items, i, it)
    {
        struct disc_group *g;
        struct kb_err perr;
        if (pod_group(it, &g, &perr) == KB_OK) {
            disc_group_set_add(&set, g);
            continue;
        }
        if (*skipped == 0 && skip_err != NULL) {
            *skip_err = perr;
            char *src = NULL;
            struct kb_err ignored;
            if (json_is_object(it) &&
                pod_source(json_object_get(it, "metadata"), &src, &ignored) ==
                    KB_OK)
                kb_err_prefix(skip_err, "%s", src);
            else
                kb_err_prefix(skip_err, "item %zu", i);
            free(src);
        }
        (*skipped)++;
    }
    if (set.n > 1)
        qsort(set.groups, set.n, sizeof(*set.groups), cmp_group);
    for (i = 1; i < set.n; i++) {
        if (strcmp(set.groups[i - 1]->source, set.groups[i]->source) == 0) {
            st = kb_errf(err, KB_ERR_INVALID, "pod %s listed twice",
                         set.groups[i]->source + 4);
            goto out;
        }
    }
    memcpy(rv, my_rv, sizeof(my_rv));
    disc_group_set_move(out, &set);
out:
    disc_group_set_clear(&set);
    json_decref(list);
    return st;
}

static enum kb_status event_type(const char *s, enum k8s_event_type *out,
                                 struct kb_err *err)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED",
                                        "BOOKMARK", "ERROR"};
    for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(*names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum k8s_event_type)i;
            return KB_OK;
        }
    }
    char ex[KB_EXCERPT_MAX];
    if (s == NULL)
        return kb_errf(err, KB_ERR_INVALID, "event without a type");
    return kb_errf(err, KB_ERR_INVALID, "unknown event type \"%s\"",
                   kb_excerpt(ex, sizeof(ex), s, strlen(s)));
}

/* Code and message of a decoded Status object. */
static void status_fields(const json_t *obj, long *code, char *msg, size_t size)
{
    const json_t *c = json_object_get(obj, "code");
    const char *m = json_string_value(json_object_get(obj, "message"));
    *code = json_is_integer(c) ? (long)json_integer_value(c) : 0;
    if (m == NULL)
        m = json_string_value(json_object_get(obj, "reason"));
    if (m == NULL)
        m = "";
    kb_excerpt(msg, size, m, strlen(m));
}

void k8s_event_clear(struct k8s_event *ev)
{
    free(ev->source);
    disc_group_free(ev->group);
    memset(ev, 0, sizeof(*ev));
}

enum kb_status k8s_event_parse(const void *line, size_t len,
                               struct k8s_event *ev, struct kb_err *err)
{
    json_t *root;
    const json_t *obj, *meta = NULL;
    const char *type;
    memset(ev, 0, sizeof(*ev));
    enum kb_status st = load(line, len, &root, err);
    if (st != KB_OK)
        return st;
    if (!json_is_object(root)) {
        st = kb_errf(err, KB_ERR_INVALID, "event: expected an object");
        goto fail;
    }
    if ((st = obj_str(root, "type", "", &type, err)) ||
        (st = event_type(type, &ev->type, err)) ||
        (st = obj_obj(root, "object", "", &obj, err)))
        goto fail;
    if (obj == NULL) {
        st = kb_errf(err, KB_ERR_INVALID, "%s event without an object", type);
        goto fail;
    }
    if (ev->type == K8S_EVENT_ERROR) {
        status_fields(obj, &ev->code, ev->message, sizeof(ev->message));
        json_decref(root);
        return KB_OK;
    }
    if ((st = obj_obj(obj, "metadata", "", &meta, err)) ||
        (st = meta_rv(meta, ev->rv, err)))
        goto fail;
    if (ev->type == K8S_EVENT_BOOKMARK) {
        if (ev->rv[0] == '\0') {
            st = kb_errf(err, KB_ERR_INVALID,
                         "BOOKMARK event without a resourceVersion");
            goto fail;
        }
        json_decref(root);
        return KB_OK;
    }
    if ((st = pod_source(meta, &ev->source, err)) != KB_OK)
        goto fail;
    if (ev->type != K8S_EVENT_DELETED &&
        pod_group(obj, &ev->group, &ev->pod_err) != KB_OK)
        ev->group = NULL;
    json_decref(root);
    return KB_OK;
fail:
    json_decref(root);
    k8s_event_clear(ev);
    return st;
}

void k8s_status_message(const void *body, size_t len, char *out, size_t size)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    long code;
    if (root != NULL && json_is_object(root) &&
        json_is_string(json_object_get(root, "message"))) {
        status_fields(root, &code, out, size);
    } else {
        /* Not a Status: the body's first line. */
        const char *nl = memchr(body, '\n', len);
        kb_excerpt(out, size, body,
                   nl ? (size_t)(nl - (const char *)body) : len);
    }
    json_decref(root);
}
