/* tests/fuzz/fuzz_discovery_k8s_pod.c: libFuzzer target for
 * discovery/k8s_pod.c, which reads what a Kubernetes API server (or
 * anything posing as one) sends: pod objects, pod lists and watch event
 * lines.
 *
 * The input is read three ways: as one pod object (k8s_pod_group), as a
 * pod list (k8s_pod_list_parse), and line by line as watch events
 * (k8s_event_parse). A failure must come with a status and a message
 * (never KB_ERR_INTERNAL) and leave no output; a success gives groups
 * whose source is "pod/<namespace>/<name>", whose label names are valid
 * and values non-empty, whose targets each have a valid __address__ and
 * number at most K8S_POD_MAX_TARGETS; a list's groups are sorted by
 * source without duplicates; an ADDED or MODIFIED event has a group of
 * its own source, or a pod error that says why not.
 *
 * Built and run by scripts/fuzz (with discovery/, base/ and pprof/).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "discovery/k8s_pod.h"
#include "tests/fuzz/check.h"

static void check_labels(const struct labels *ls)
{
    FUZZ_REQUIRE(ls != NULL);
    for (size_t i = 0; i < labels_count(ls); i++) {
        const struct label *l = labels_at(ls, i);
        FUZZ_REQUIRE(labels_name_valid(l->name, l->name_len));
        FUZZ_REQUIRE(l->value_len > 0);
    }
}

static void check_group(const struct disc_group *g)
{
    FUZZ_REQUIRE(strncmp(g->source, "pod/", 4) == 0);
    const char *slash = strchr(g->source + 4, '/');
    FUZZ_REQUIRE(slash != NULL && slash > g->source + 4 && slash[1] != '\0');
    FUZZ_REQUIRE(strchr(slash + 1, '/') == NULL);
    FUZZ_REQUIRE(g->n_targets <= K8S_POD_MAX_TARGETS);
    check_labels(g->labels);
    for (size_t i = 0; i < g->n_targets; i++) {
        check_labels(g->targets[i]);
        const char *a = labels_get(g->targets[i], DISC_ADDRESS_LABEL);
        FUZZ_REQUIRE(a != NULL);
        FUZZ_REQUIRE(disc_address_valid(a, strlen(a)));
    }
    /* A copy is equal to the original. */
    struct disc_group *d = disc_group_dup(g);
    FUZZ_REQUIRE(disc_group_equal(g, d));
    disc_group_free(d);
}

static void one_pod(const uint8_t *data, size_t size)
{
    struct disc_group *g = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = k8s_pod_group(data, size, &g, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(g == NULL);
        return;
    }
    check_group(g);
    disc_group_free(g);
}

static void one_list(const uint8_t *data, size_t size)
{
    struct disc_group_set set = {0};
    char rv[K8S_RV_MAX] = "";
    size_t skipped = 0;
    struct kb_err err, skip_err;
    kb_err_clear(&err);
    enum kb_status st = k8s_pod_list_parse(data, size, 1000, &set, rv, &skipped,
                                           &skip_err, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(set.n == 0 && set.groups == NULL);
        FUZZ_REQUIRE(rv[0] == '\0');
        return;
    }
    FUZZ_REQUIRE(rv[0] != '\0' && strlen(rv) < K8S_RV_MAX);
    FUZZ_REQUIRE(set.n + skipped <= 1000);
    if (skipped > 0)
        fuzz_check_error(skip_err.status, &skip_err);
    for (size_t i = 0; i < set.n; i++) {
        check_group(set.groups[i]);
        if (i > 0)
            FUZZ_REQUIRE(
                strcmp(set.groups[i - 1]->source, set.groups[i]->source) < 0);
    }
    disc_group_set_clear(&set);
}

static void one_event(const uint8_t *line, size_t len)
{
    struct k8s_event ev;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = k8s_event_parse(line, len, &ev, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(ev.source == NULL && ev.group == NULL);
        return;
    }
    FUZZ_REQUIRE(strlen(ev.rv) < K8S_RV_MAX);
    FUZZ_REQUIRE(memchr(ev.message, '\0', sizeof(ev.message)) != NULL);
    switch (ev.type) {
    case K8S_EVENT_ADDED:
    case K8S_EVENT_MODIFIED:
        FUZZ_REQUIRE(ev.source != NULL);
        if (ev.group != NULL) {
            FUZZ_REQUIRE(strcmp(ev.group->source, ev.source) == 0);
            check_group(ev.group);
        } else {
            fuzz_check_error(ev.pod_err.status, &ev.pod_err);
        }
        break;
    case K8S_EVENT_DELETED:
        FUZZ_REQUIRE(ev.source != NULL && ev.group == NULL);
        break;
    case K8S_EVENT_BOOKMARK:
        FUZZ_REQUIRE(ev.rv[0] != '\0');
        FUZZ_REQUIRE(ev.source == NULL && ev.group == NULL);
        break;
    case K8S_EVENT_ERROR:
        FUZZ_REQUIRE(ev.source == NULL && ev.group == NULL);
        break;
    }
    k8s_event_clear(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one_pod(data, size);
    one_list(data, size);
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        one_event(p, n);
        p += n + 1;
    }
    return 0;
}
