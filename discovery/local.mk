# discovery/local.mk: target discovery (static, file_sd, kubernetes).
# Depends on base/ only. See DESIGN.md sections 1 and 5, docs/discovery.md.
noinst_LIBRARIES += discovery/libkilndisc.a
discovery_libkilndisc_a_SOURCES = \
	discovery/file_sd.c discovery/file_sd.h \
	discovery/file_sd_parse.c \
	discovery/group.c discovery/group.h \
	discovery/k8s_pod.c discovery/k8s_pod.h \
	discovery/kubernetes.c discovery/kubernetes.h \
	discovery/static.c discovery/static.h
discovery_libkilndisc_a_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS) \
	$(YAML_CFLAGS) $(PCRE2_CFLAGS) $(CURL_CFLAGS)

# Link line for everything that uses discovery/.
KILN_DISC_LIBS = discovery/libkilndisc.a $(KILN_BASE_LIBS) $(YAML_LIBS) \
	$(JANSSON_LIBS) $(CURL_LIBS)

check_PROGRAMS += tests/unit/test_discovery
tests_unit_test_discovery_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS) \
	$(YAML_CFLAGS) $(PCRE2_CFLAGS)
tests_unit_test_discovery_LDADD = $(KILN_DISC_LIBS)
TESTS += tests/unit/test_discovery

# Kubernetes pod JSON to groups (pure; tests/fakek8s/pods.json as input).
check_PROGRAMS += tests/unit/test_discovery_k8s_pod
tests_unit_test_discovery_k8s_pod_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_discovery_k8s_pod_LDADD = $(KILN_DISC_LIBS)
TESTS += tests/unit/test_discovery_k8s_pod

# The kubernetes provider against tests/fakek8s (a Go fake API server):
# tests/e2e/k8s_sd.sh builds the fake and runs test_discovery_k8s with it.
check_PROGRAMS += tests/unit/test_discovery_k8s
tests_unit_test_discovery_k8s_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS) \
	$(CURL_CFLAGS)
tests_unit_test_discovery_k8s_LDADD = $(KILN_DISC_LIBS)
TESTS += tests/e2e/k8s_sd.sh
EXTRA_DIST += \
	tests/e2e/k8s_sd.sh \
	tests/fakek8s/go.mod \
	tests/fakek8s/main.go \
	tests/fakek8s/pods.json
