/* discovery/kubernetes.h: kubernetes_sd_configs, role pod: the pods of a
 * Kubernetes cluster, listed and watched through the API server, as target
 * groups (one per pod, labelled as Prometheus labels them). See
 * kubernetes.c for the design and k8s_pod.h for the labels. */
#ifndef KILN_DISCOVERY_KUBERNETES_H
#define KILN_DISCOVERY_KUBERNETES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "discovery/group.h"

/* Limits. A response past one of them is a failed request (retried with
 * backoff, the last good groups are kept). */
#define DISC_K8S_MAX_LIST_BYTES ((size_t)256 << 20) /* one list response */
#define DISC_K8S_MAX_LINE_BYTES ((size_t)16 << 20)  /* one watch event */
#define DISC_K8S_MAX_PODS 100000                    /* pods per list */
#define DISC_K8S_MAX_NAMESPACES 256                 /* namespaces */
#define DISC_K8S_MAX_SELECTOR 4096                  /* bytes per selector */
#define DISC_K8S_MAX_TOKEN_BYTES (64 << 10)         /* bearer token file */
/* Retry delays after a failed request: 1 s doubling to 30 s. */
#define DISC_K8S_BACKOFF_MIN_MS 1000
#define DISC_K8S_BACKOFF_MAX_MS 30000

/* The service account files a pod gets (in-cluster configuration). */
#define DISC_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* The configuration of one provider. All strings are borrowed during
 * disc_k8s_new, which copies them; NULL and "" both mean unset. */
struct disc_k8s_config {
    /* "https://host:port" (or http://, optionally with a path prefix);
     * unset: in-cluster, https://$KUBERNETES_SERVICE_HOST:
     * $KUBERNETES_SERVICE_PORT with the service account's token and CA
     * (DISC_K8S_SA_DIR/token and ca.crt) unless bearer_token_file and
     * ca_file are set. */
    const char *api_server;
    /* Sent as "Authorization: Bearer <content>" (trailing whitespace
     * trimmed); read again before every request, so a rotated token is
     * picked up. Unset (outside a cluster): no Authorization header. */
    const char *bearer_token_file;
    /* TLS: the CA bundle to verify the server with (unset: the system's),
     * a client certificate and key (both or neither), the name to verify
     * the server's certificate against and send as SNI (unset: the
     * api_server's host), and whether to skip verification entirely. */
    const char *ca_file, *cert_file, *key_file, *server_name;
    bool insecure_skip_verify;
    /* Namespaces to watch, one worker thread each (DNS labels); none: all
     * namespaces with one worker (/api/v1/pods). */
    const char *const *namespaces;
    size_t n_namespaces;
    /* Passed as labelSelector and fieldSelector to every list and watch. */
    const char *label_selector, *field_selector;
};

/* A provider. It runs its own threads; the caller's event loop drives it
 * like a file_sd provider:
 *
 *   struct pollfd p = {disc_k8s_fd(k), POLLIN, 0};
 *   poll(&p, 1, timeout);
 *   if (disc_k8s_poll(k))
 *       groups = disc_k8s_groups(k, &version);   (then diff them)
 *
 * The functions below are called from one thread (the caller's); the
 * workers never touch what they return. */
struct disc_k8s;

/* Check and copy the configuration and start the workers, which list the
 * pods and then watch them. Returns at once: the groups are empty until
 * the first list arrives (the fd becomes readable then). KB_ERR_INVALID
 * naming the field for a bad configuration (an api_server that is not an
 * http(s) URL, in-cluster without KUBERNETES_SERVICE_HOST/PORT, a
 * namespace that is not a DNS label, a CA, certificate or key file that
 * cannot be read, cert_file without key_file), KB_ERR_LIMIT past the
 * limits above, KB_ERR_IO when a thread or descriptor cannot be made.
 * Failing requests are not errors here (see disc_k8s_last_error). */
enum kb_status disc_k8s_new(const struct disc_k8s_config *c,
                            struct disc_k8s **out, struct kb_err *err);
/* Stop the workers (promptly, even in the middle of a watch or a retry
 * delay), join them and free everything; NULL is allowed. */
void disc_k8s_free(struct disc_k8s *k);

/* A descriptor that becomes readable when the groups changed (an eventfd,
 * non-blocking). It stays the same for the provider's life. */
int disc_k8s_fd(const struct disc_k8s *k);
/* Drain the descriptor and take the workers' latest groups. Never blocks
 * for long (a mutex the workers hold only to publish). Returns whether the
 * groups changed since the last poll (then the version was incremented). */
bool disc_k8s_poll(struct disc_k8s *k);
/* The groups as of the last disc_k8s_poll, sorted by source ("pod/<ns>/
 * <name>"): one per pod known to the workers (a pod without an IP has a
 * group with no targets; a deleted pod has no group). Valid until the next
 * poll or free; *version (when not NULL) counts the changes. */
const struct disc_group_set *disc_k8s_groups(const struct disc_k8s *k,
                                             uint64_t *version);
/* The current failure: that of the first worker (in namespace order)
 * whose last request failed, e.g. "list pods in namespace prod: HTTP 403:
 * pods is forbidden: ..." or "watch pods: stream cut mid-line"; status
 * KB_OK when every worker's last request worked. The record is a copy,
 * valid until the next call. */
const struct kb_err *disc_k8s_last_error(const struct disc_k8s *k);
/* Failed requests since the start (a counter for metrics). */
uint64_t disc_k8s_failures(const struct disc_k8s *k);

#endif
