# discovery/local.mk: target discovery (static, file_sd, kubernetes).
# Depends on base/ only. See DESIGN.md sections 1 and 5, docs/discovery.md.
noinst_LIBRARIES += discovery/libkilndisc.a
discovery_libkilndisc_a_SOURCES = \
	discovery/file_sd.c discovery/file_sd.h \
	discovery/file_sd_parse.c \
	discovery/group.c discovery/group.h \
	discovery/static.c discovery/static.h
discovery_libkilndisc_a_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS) \
	$(YAML_CFLAGS) $(PCRE2_CFLAGS)

# Link line for everything that uses discovery/.
KILN_DISC_LIBS = discovery/libkilndisc.a $(KILN_BASE_LIBS) $(YAML_LIBS) \
	$(JANSSON_LIBS)

check_PROGRAMS += tests/unit/test_discovery
tests_unit_test_discovery_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS) \
	$(YAML_CFLAGS) $(PCRE2_CFLAGS)
tests_unit_test_discovery_LDADD = discovery/libkilndisc.a $(KILN_BASE_LIBS) \
	$(YAML_LIBS) $(JANSSON_LIBS)
TESTS += tests/unit/test_discovery
