/* discovery/k8s_pod.h: Kubernetes pod objects to target groups, as
 * Prometheus' kubernetes_sd_configs role "pod" builds them, and the JSON
 * the API server sends (pod lists, watch events). Pure functions over
 * bytes: no I/O, no state. Internal to discovery/ (kubernetes.c and the
 * tests use it). See k8s_pod.c. */
#ifndef KILN_DISCOVERY_K8S_POD_H
#define KILN_DISCOVERY_K8S_POD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "discovery/group.h"

/* Limits on one pod. A pod past one of them is skipped (see
 * k8s_pod_list_parse and k8s_event_parse). */
#define K8S_POD_MAX_CONTAINERS 256 /* containers plus init containers */
#define K8S_POD_MAX_TARGETS 4096   /* ports of all containers */
#define K8S_NAME_MAX 253           /* bytes of a namespace or pod name */
/* Bytes of a resourceVersion (opaque to clients; etcd's are integers). */
#define K8S_RV_MAX 128
/* Bytes of the message kept from a Status object (ERROR events). */
#define K8S_STATUS_MSG_MAX 160

/* The group of one pod object (the JSON of a v1.Pod), exactly as
 * Prometheus' pod role builds it:
 *
 *   - source "pod/<namespace>/<name>";
 *   - a pod without status.podIP gives a group with no targets and no
 *     labels (a pod being scheduled, or evicted);
 *   - otherwise the group labels are __meta_kubernetes_namespace,
 *     __meta_kubernetes_pod_{name,ip,ready,phase,node_name,host_ip,uid},
 *     __meta_kubernetes_pod_controller_{kind,name} (from the owner
 *     reference with controller: true), and for every pod label and
 *     annotation __meta_kubernetes_pod_label_<n>, _labelpresent_<n>,
 *     _annotation_<n>, _annotationpresent_<n> with <n> the key sanitized
 *     (every character outside [a-zA-Z0-9_] becomes '_'; when two keys
 *     sanitize to the same name, the later one in the object wins);
 *   - one target per declared port of every container, then of every init
 *     container: __address__ = podIP:port ([podIP]:port for IPv6) and
 *     __meta_kubernetes_pod_container_{name,id,image,init,port_name,
 *     port_number,port_protocol}; a container without ports gives one
 *     target with __address__ = podIP and only the container labels.
 *
 * Empty values are no label (as everywhere in Kiln). A label or annotation
 * whose value is longer than LABEL_VALUE_MAX keeps its *present label and
 * loses its value label; one whose label name would be longer than
 * LABEL_NAME_MAX is left out entirely. Errors (KB_ERR_INVALID for a field
 * of the wrong type or a missing name or namespace, KB_ERR_LIMIT past a
 * limit) name the field. `json` is the pod's JSON text, `len` its length. */
enum kb_status k8s_pod_group(const void *json, size_t len,
                             struct disc_group **out, struct kb_err *err);

/* Parse a v1.PodList (the body of GET /api/v1/pods). On success the groups
 * of its pods are appended to `out` sorted by source, and `rv` holds the
 * list's metadata.resourceVersion. A pod that cannot be converted (as
 * k8s_pod_group) is skipped and counted in *skipped; *skip_err (when not
 * NULL) holds the first such failure, prefixed by the pod's source or
 * "item I". Fails (out unchanged) on bad JSON, a body that is not a list,
 * a missing resourceVersion, or more than `max_pods` items. */
enum kb_status k8s_pod_list_parse(const void *data, size_t len, size_t max_pods,
                                  struct disc_group_set *out,
                                  char rv[K8S_RV_MAX], size_t *skipped,
                                  struct kb_err *skip_err, struct kb_err *err);

enum k8s_event_type {
    K8S_EVENT_ADDED,
    K8S_EVENT_MODIFIED,
    K8S_EVENT_DELETED,
    K8S_EVENT_BOOKMARK,
    K8S_EVENT_ERROR,
};

/* One watch event, a line of the watch stream:
 * {"type": "...", "object": {...}}. */
struct k8s_event {
    enum k8s_event_type type;
    /* The object's metadata.resourceVersion ("" when it has none; always
     * set for BOOKMARK). */
    char rv[K8S_RV_MAX];
    /* ADDED, MODIFIED, DELETED: "pod/<namespace>/<name>" (owned). */
    char *source;
    /* ADDED, MODIFIED: the pod's group (owned), or NULL when it could not
     * be converted; then pod_err says why. */
    struct disc_group *group;
    struct kb_err pod_err;
    /* ERROR: the Status object's code (0 when absent) and message. */
    long code;
    char message[K8S_STATUS_MSG_MAX];
};

/* Parse one event line (without its newline). KB_ERR_INVALID naming the
 * problem for bad JSON, an unknown type or a pod without a name; on
 * success the caller frees the event with k8s_event_clear. */
enum kb_status k8s_event_parse(const void *line, size_t len,
                               struct k8s_event *ev, struct kb_err *err);
/* Free what an event owns (it is zeroed); a zeroed event is fine. */
void k8s_event_clear(struct k8s_event *ev);

/* The message of a v1.Status body (an API error response), excerpted into
 * `out` (at least 8 bytes); when the body is not a Status, an excerpt of
 * the body itself. */
void k8s_status_message(const void *body, size_t len, char *out, size_t size);

#endif
