/* Unit tests for discovery/k8s_pod.c: the recorded pod list of
 * tests/fakek8s/pods.json gives exactly the groups and target labels that
 * Prometheus' pod role gives for it (written out below label by label);
 * watch event lines; label name sanitizing and collisions; values past
 * the limits; fields of the wrong type; the pod list's own checks; API
 * error bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fsio.h"
#include "base/labels.h"
#include "discovery/k8s_pod.h"
#include "tests/unit/unit.h"

#define P "__meta_kubernetes_pod_"

/* Whether `ls` equals the set written as `text`; prints both when not. */
static int same_labels(const struct labels *ls, const char *text)
{
    struct labels *want = NULL;
    struct kb_err err;
    if (labels_parse(text, strlen(text), &want, &err) != KB_OK) {
        printf("# bad expected labels: %s: %s\n", err.msg, text);
        return 0;
    }
    int eq = labels_equal(ls, want);
    if (!eq) {
        struct buf b;
        buf_init(&b, BUF_NO_LIMIT);
        labels_format(ls, &b);
        printf("# got:  %s\n# want: %s\n", buf_cstr(&b), text);
        buf_free(&b);
    }
    labels_free(want);
    return eq;
}

static void read_fixture(struct buf *b)
{
    struct kb_err err;
    buf_init(b, BUF_NO_LIMIT);
    if (kb_file_read(unit_srcpath("tests/fakek8s/pods.json"), b, &err) !=
        KB_OK) {
        printf("# %s\n", err.msg);
        abort();
    }
}

static const char *const api_group =
    "{__meta_kubernetes_namespace=\"prod\"," P
    "annotation_kubectl_kubernetes_io_restartedAt=\"2026-11-20T09:12:40Z\"," P
    "annotation_parca_dev_scrape=\"true\"," P
    "annotation_prometheus_io_port=\"6060\"," P
    "annotation_prometheus_io_scrape=\"true\"," P
    "annotationpresent_kubectl_kubernetes_io_restartedAt=\"true\"," P
    "annotationpresent_parca_dev_scrape=\"true\"," P
    "annotationpresent_prometheus_io_port=\"true\"," P
    "annotationpresent_prometheus_io_scrape=\"true\"," P
    "controller_kind=\"ReplicaSet\"," P "controller_name=\"api-7d9f8b6c5\"," P
    "host_ip=\"192.168.49.2\"," P "ip=\"10.244.1.17\"," P "label_app=\"api\"," P
    "label_app_kubernetes_io_name=\"api\"," P
    "label_pod_template_hash=\"7d9f8b6c5\"," P "labelpresent_app=\"true\"," P
    "labelpresent_app_kubernetes_io_name=\"true\"," P
    "labelpresent_pod_template_hash=\"true\"," P
    "name=\"api-7d9f8b6c5-x2k4p\"," P "node_name=\"node-1\"," P
    "phase=\"Running\"," P "ready=\"true\"," P
    "uid=\"5f0c2d8e-3b1a-4c6e-9f7d-2a8b4c6d8e0f\"}";

static const char *const api_targets[] = {
    "{__address__=\"10.244.1.17:8080\"," P "container_name=\"api\"," P
    "container_id=\"containerd://3333cccc4444dddd\"," P
    "container_image=\"registry.example.com/api:1.4.2\"," P
    "container_init=\"false\"," P "container_port_name=\"http\"," P
    "container_port_number=\"8080\"," P "container_port_protocol=\"TCP\"}",
    "{__address__=\"10.244.1.17:6060\"," P "container_name=\"api\"," P
    "container_id=\"containerd://3333cccc4444dddd\"," P
    "container_image=\"registry.example.com/api:1.4.2\"," P
    "container_init=\"false\"," P "container_port_name=\"pprof\"," P
    "container_port_number=\"6060\"," P "container_port_protocol=\"TCP\"}",
    "{__address__=\"10.244.1.17:9901\"," P "container_name=\"envoy\"," P
    "container_id=\"containerd://5555eeee6666ffff\"," P
    "container_image=\"envoyproxy/envoy:v1.28.0\"," P
    "container_init=\"false\"," P "container_port_name=\"admin\"," P
    "container_port_number=\"9901\"," P "container_port_protocol=\"TCP\"}",
    "{__address__=\"10.244.1.17\"," P "container_name=\"migrate\"," P
    "container_id=\"containerd://1111aaaa2222bbbb\"," P
    "container_image=\"registry.example.com/api-migrate:1.4.2\"," P
    "container_init=\"true\"}",
};

static const char *const worker_group =
    "{__meta_kubernetes_namespace=\"prod\"," P
    "annotation_parca_dev_scrape=\"false\"," P
    "annotationpresent_parca_dev_scrape=\"true\"," P
    "controller_kind=\"StatefulSet\"," P "controller_name=\"worker\"," P
    "host_ip=\"192.168.49.3\"," P "ip=\"10.244.2.5\"," P
    "label_app=\"worker\"," P
    "label_statefulset_kubernetes_io_pod_name=\"worker-0\"," P
    "labelpresent_app=\"true\"," P "labelpresent_canary=\"true\"," P
    "labelpresent_statefulset_kubernetes_io_pod_name=\"true\"," P
    "name=\"worker-0\"," P "node_name=\"node-2\"," P "phase=\"Running\"," P
    "ready=\"false\"," P "uid=\"9c8b7a69-5847-4362-8150-a1b2c3d4e5f6\"}";

static const char *const worker_target =
    "{__address__=\"10.244.2.5\"," P "container_name=\"worker\"," P
    "container_id=\"containerd://7777aaaa8888bbbb\"," P
    "container_image=\"registry.example.com/worker:2.0.1\"," P
    "container_init=\"false\"}";

static const char *const coredns_group =
    "{__meta_kubernetes_namespace=\"kube-system\"," P
    "host_ip=\"192.168.49.2\"," P "ip=\"fd00:10:244:1::a\"," P
    "label_k8s_app=\"kube-dns\"," P "labelpresent_k8s_app=\"true\"," P
    "name=\"coredns-565d847f94-8xq2n\"," P "node_name=\"node-1\"," P
    "phase=\"Running\"," P "ready=\"true\"," P
    "uid=\"12345678-90ab-cdef-1234-567890abcdef\"}";

static const char *const coredns_targets[] = {
    "{__address__=\"[fd00:10:244:1::a]:53\"," P "container_name=\"coredns\"," P
    "container_image=\"registry.k8s.io/coredns/coredns:v1.11.1\"," P
    "container_init=\"false\"," P "container_port_name=\"dns\"," P
    "container_port_number=\"53\"," P "container_port_protocol=\"UDP\"}",
    "{__address__=\"[fd00:10:244:1::a]:9153\"," P
    "container_name=\"coredns\"," P
    "container_image=\"registry.k8s.io/coredns/coredns:v1.11.1\"," P
    "container_init=\"false\"," P "container_port_name=\"metrics\"," P
    "container_port_number=\"9153\"," P "container_port_protocol=\"TCP\"}",
};

static void check_group(const struct disc_group *g, const char *source,
                        const char *labels, const char *const *targets,
                        size_t n)
{
    CHECK_STR(g->source, source);
    CHECK(same_labels(g->labels, labels));
    CHECK_INT(g->n_targets, n);
    for (size_t i = 0; i < n && i < g->n_targets; i++)
        CHECK(same_labels(g->targets[i], targets[i]));
}

/* The fixture gives what Prometheus gives, pod by pod, sorted by source. */
static void test_fixture_exact(void)
{
    struct buf b;
    struct disc_group_set set = {0};
    char rv[K8S_RV_MAX];
    size_t skipped = 99;
    struct kb_err err, skip_err;
    read_fixture(&b);
    CHECK_INT(k8s_pod_list_parse(b.data, b.len, 100, &set, rv, &skipped,
                                 &skip_err, &err),
              KB_OK);
    CHECK_STR(rv, "48213");
    CHECK_INT(skipped, 0);
    CHECK_INT(set.n, 4);
    if (set.n == 4) {
        check_group(set.groups[0], "pod/kube-system/coredns-565d847f94-8xq2n",
                    coredns_group, coredns_targets, 2);
        check_group(set.groups[1], "pod/prod/api-7d9f8b6c5-x2k4p", api_group,
                    api_targets, 4);
        check_group(set.groups[2], "pod/prod/worker-0", worker_group,
                    &worker_target, 1);
        /* No IP yet: the group exists, without targets or labels. */
        check_group(set.groups[3], "pod/staging/batch-5c8f9-abcde", "{}", NULL,
                    0);
    }
    disc_group_set_clear(&set);
    buf_free(&b);
}

static struct disc_group *one_pod(const char *json, struct kb_err *err)
{
    struct disc_group *g = NULL;
    if (k8s_pod_group(json, strlen(json), &g, err) != KB_OK)
        return NULL;
    return g;
}

#define POD_HEAD "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\""
#define POD_TAIL "},\"status\":{\"podIP\":\"10.0.0.1\"}}"

/* Keys become label names as Prometheus' SanitizeLabelName makes them; a
 * later key that sanitizes to the same name wins. */
static void test_sanitize(void)
{
    struct kb_err err;
    struct disc_group *g = one_pod(
        POD_HEAD ",\"labels\":{\"a.b/c-d\":\"1\",\"\xc3\xa9t\xc3\xa9\":\"2\","
                 "\"x.y\":\"first\",\"x_y\":\"second\"}" POD_TAIL,
        &err);
    CHECK(g != NULL);
    if (g == NULL)
        return;
    CHECK_STR(labels_get(g->labels, P "label_a_b_c_d"), "1");
    CHECK_STR(labels_get(g->labels, P "labelpresent_a_b_c_d"), "true");
    CHECK_STR(labels_get(g->labels, P "label__t_"), "2");
    CHECK_STR(labels_get(g->labels, P "label_x_y"), "second");
    CHECK_STR(labels_get(g->labels, P "ready"), "unknown");
    CHECK_INT(g->n_targets, 0); /* no containers */
    disc_group_free(g);
}

/* A value past LABEL_VALUE_MAX loses its value label, keeps present; a key
 * whose label name would be too long is left out. */
static void test_long_values(void)
{
    struct buf j;
    struct kb_err err;
    buf_init(&j, BUF_NO_LIMIT);
    buf_puts(&j, POD_HEAD ",\"annotations\":{\"big\":\"");
    for (int i = 0; i < LABEL_VALUE_MAX + 1; i++)
        buf_putc(&j, 'x');
    buf_puts(&j, "\",\"");
    for (int i = 0; i < LABEL_NAME_MAX; i++)
        buf_putc(&j, 'k');
    buf_puts(&j, "\":\"v\",\"small\":\"s\"}" POD_TAIL);
    struct disc_group *g = one_pod(buf_cstr(&j), &err);
    CHECK(g != NULL);
    if (g != NULL) {
        CHECK(labels_get(g->labels, P "annotation_big") == NULL);
        CHECK_STR(labels_get(g->labels, P "annotationpresent_big"), "true");
        CHECK_STR(labels_get(g->labels, P "annotation_small"), "s");
        for (size_t i = 0; i < labels_count(g->labels); i++)
            CHECK(strstr(labels_at(g->labels, i)->name, "kkkk") == NULL);
        disc_group_free(g);
    }
    buf_free(&j);
}

/* Fields of the wrong type fail, naming the field. */
static void test_bad_fields(void)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {POD_HEAD ",\"labels\":[]" POD_TAIL, "metadata.labels: expected an"},
        {POD_HEAD "},\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":"
                  "[{\"containerPort\":\"80\"}]}]},\"status\":{\"podIP\":"
                  "\"10.0.0.1\"}}",
         "spec.containers[0].ports[0].containerPort: expected an integer"},
        {POD_HEAD "},\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":"
                  "[{\"containerPort\":70000}]}]},\"status\":{\"podIP\":"
                  "\"10.0.0.1\"}}",
         "from 1 to 65535"},
        {"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIP\":\"1.2.3.4\"}}",
         "metadata.namespace: missing"},
        {"{\"metadata\":{\"name\":\"a/b\",\"namespace\":\"n\"}}",
         "metadata.name: invalid character"},
        {POD_HEAD "},\"status\":{\"podIP\":7}}", "status.podIP: expected a"},
        {POD_HEAD "},\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
                  "\"status\":{\"podIP\":\"has space\"}}",
         "spec.containers[0]: "},
        {"[1]", "pod: expected an object"},
        {"{\"metadata\":", "line 1, column"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct kb_err err;
        kb_err_clear(&err);
        struct disc_group *g = one_pod(cases[i].json, &err);
        CHECK(g == NULL);
        disc_group_free(g);
        if (strstr(err.msg, cases[i].msg) == NULL)
            printf("# case %zu: \"%s\" does not contain \"%s\"\n", i, err.msg,
                   cases[i].msg);
        CHECK(strstr(err.msg, cases[i].msg) != NULL);
    }
}

/* Too many containers is a limit. */
static void test_container_limit(void)
{
    struct buf j;
    struct kb_err err;
    buf_init(&j, BUF_NO_LIMIT);
    buf_puts(&j, POD_HEAD "},\"spec\":{\"containers\":[");
    for (int i = 0; i <= K8S_POD_MAX_CONTAINERS; i++)
        buf_printf(&j, "%s{\"name\":\"c%d\"}", i ? "," : "", i);
    buf_puts(&j, "]},\"status\":{\"podIP\":\"10.0.0.1\"}}");
    struct disc_group *g = NULL;
    CHECK_INT(k8s_pod_group(j.data, j.len, &g, &err), KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "containers") != NULL);
    CHECK(g == NULL);
    buf_free(&j);
}

/* A list skips the pods it cannot convert, counts them and names the
 * first; it fails as a whole without a resourceVersion, past max_pods,
 * or with a pod listed twice. */
static void test_list_checks(void)
{
    struct disc_group_set set = {0};
    char rv[K8S_RV_MAX] = "keep";
    size_t skipped;
    struct kb_err err, skip_err;
    const char *two =
        "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":["
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"labels\":5},"
        "\"status\":{\"podIP\":\"10.0.0.1\"}},"
        "{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"}}]}";
    CHECK_INT(k8s_pod_list_parse(two, strlen(two), 10, &set, rv, &skipped,
                                 &skip_err, &err),
              KB_OK);
    CHECK_INT(set.n, 1);
    CHECK_INT(skipped, 1);
    CHECK_STR(rv, "7");
    CHECK(strstr(skip_err.msg, "pod/n/a: metadata.labels") == skip_err.msg);
    disc_group_set_clear(&set);

    CHECK_INT(k8s_pod_list_parse(two, strlen(two), 1, &set, rv, &skipped,
                                 &skip_err, &err),
              KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "more than 1 pods") != NULL);
    const char *norv = "{\"items\":[]}";
    CHECK_INT(k8s_pod_list_parse(norv, strlen(norv), 10, &set, rv, &skipped,
                                 &skip_err, &err),
              KB_ERR_INVALID);
    CHECK(strstr(err.msg, "resourceVersion") != NULL);
    const char *dup = "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":["
                      "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}},"
                      "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}}]}";
    CHECK_INT(k8s_pod_list_parse(dup, strlen(dup), 10, &set, rv, &skipped,
                                 &skip_err, &err),
              KB_ERR_INVALID);
    CHECK(strstr(err.msg, "n/a listed twice") != NULL);
    const char *notlist = "[]";
    CHECK_INT(
        k8s_pod_list_parse(notlist, 2, 10, &set, rv, &skipped, &skip_err, &err),
        KB_ERR_INVALID);
    CHECK_INT(set.n, 0);
    CHECK_STR(rv, "7");
}

static void test_events(void)
{
    struct k8s_event ev;
    struct kb_err err;
    const char *added =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p\","
        "\"namespace\":\"ns\",\"resourceVersion\":\"12\"},\"spec\":{"
        "\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80}]}]"
        "},\"status\":{\"podIP\":\"10.0.0.9\"}}}";
    CHECK_INT(k8s_event_parse(added, strlen(added), &ev, &err), KB_OK);
    CHECK_INT(ev.type, K8S_EVENT_ADDED);
    CHECK_STR(ev.rv, "12");
    CHECK_STR(ev.source, "pod/ns/p");
    CHECK(ev.group != NULL && ev.group->n_targets == 1);
    if (ev.group && ev.group->n_targets == 1)
        CHECK_STR(labels_get(ev.group->targets[0], "__address__"),
                  "10.0.0.9:80");
    k8s_event_clear(&ev);

    /* A pod that cannot be converted still names its source. */
    const char *bad = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{"
                      "\"name\":\"p\",\"namespace\":\"ns\",\"annotations\":"
                      "\"x\"},\"status\":{\"podIP\":\"10.0.0.9\"}}}";
    CHECK_INT(k8s_event_parse(bad, strlen(bad), &ev, &err), KB_OK);
    CHECK_INT(ev.type, K8S_EVENT_MODIFIED);
    CHECK(ev.group == NULL);
    CHECK_STR(ev.source, "pod/ns/p");
    CHECK(strstr(ev.pod_err.msg, "metadata.annotations") != NULL);
    k8s_event_clear(&ev);

    const char *del = "{\"type\":\"DELETED\",\"object\":{\"metadata\":{"
                      "\"name\":\"p\",\"namespace\":\"ns\","
                      "\"resourceVersion\":\"13\"}}}";
    CHECK_INT(k8s_event_parse(del, strlen(del), &ev, &err), KB_OK);
    CHECK_INT(ev.type, K8S_EVENT_DELETED);
    CHECK_STR(ev.source, "pod/ns/p");
    CHECK(ev.group == NULL);
    k8s_event_clear(&ev);

    const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\","
                     "\"metadata\":{\"resourceVersion\":\"99\"}}}";
    CHECK_INT(k8s_event_parse(bm, strlen(bm), &ev, &err), KB_OK);
    CHECK_INT(ev.type, K8S_EVENT_BOOKMARK);
    CHECK_STR(ev.rv, "99");
    k8s_event_clear(&ev);

    const char *gone =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
        "\"v1\",\"status\":\"Failure\",\"message\":\"too old resource "
        "version: 1 (48213)\",\"reason\":\"Expired\",\"code\":410}}";
    CHECK_INT(k8s_event_parse(gone, strlen(gone), &ev, &err), KB_OK);
    CHECK_INT(ev.type, K8S_EVENT_ERROR);
    CHECK_INT(ev.code, 410);
    CHECK_STR(ev.message, "too old resource version: 1 (48213)");
    k8s_event_clear(&ev);

    static const struct {
        const char *line, *msg;
    } errs[] = {
        {"{\"type\":\"SYNC\",\"object\":{}}", "unknown event type \"SYNC\""},
        {"{\"object\":{}}", "event without a type"},
        {"{\"type\":\"ADDED\"}", "ADDED event without an object"},
        {"{\"type\":\"BOOKMARK\",\"object\":{}}", "without a resourceVersion"},
        {"{\"type\":\"DELETED\",\"object\":{\"metadata\":{}}}",
         "metadata.namespace: missing"},
        {"{\"type\":\"ADDED\",\"obj", "line 1"},
    };
    for (size_t i = 0; i < sizeof(errs) / sizeof(*errs); i++) {
        kb_err_clear(&err);
        CHECK_INT(
            k8s_event_parse(errs[i].line, strlen(errs[i].line), &ev, &err),
            KB_ERR_INVALID);
        if (strstr(err.msg, errs[i].msg) == NULL)
            printf("# case %zu: \"%s\"\n", i, err.msg);
        CHECK(strstr(err.msg, errs[i].msg) != NULL);
        CHECK(ev.source == NULL && ev.group == NULL);
    }
}

static void test_status_message(void)
{
    char msg[64];
    const char *st = "{\"kind\":\"Status\",\"message\":\"pods is forbidden: "
                     "User \\\"x\\\" cannot list\",\"code\":403}";
    k8s_status_message(st, strlen(st), msg, sizeof(msg));
    CHECK_STR(msg, "pods is forbidden: User \"x\" cannot list");
    const char *html = "<html>bad gateway</html>\nmore";
    k8s_status_message(html, strlen(html), msg, sizeof(msg));
    CHECK_STR(msg, "<html>bad gateway</html>");
}

int main(void)
{
    RUN(test_fixture_exact);
    RUN(test_sanitize);
    RUN(test_long_values);
    RUN(test_bad_fields);
    RUN(test_container_limit);
    RUN(test_list_checks);
    RUN(test_events);
    RUN(test_status_message);
    return unit_done();
}
