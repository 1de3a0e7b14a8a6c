# proto/: pprof's profile.proto, compiled by protoc-c at build time.
# The generated files are never committed.
noinst_LIBRARIES += proto/libkilnproto.a
nodist_proto_libkilnproto_a_SOURCES = proto/profile.pb-c.c proto/profile.pb-c.h
proto_libkilnproto_a_CFLAGS = $(KILN_CFLAGS) -Wno-missing-prototypes $(PROTOBUFC_CFLAGS)
BUILT_SOURCES += proto/profile.pb-c.c proto/profile.pb-c.h
CLEANFILES += proto/profile.pb-c.c proto/profile.pb-c.h
EXTRA_DIST += proto/profile.proto

# One command writes both files; the header rides on the .c file's rule so
# that a parallel make runs protoc-c once.
proto/profile.pb-c.c: $(top_srcdir)/proto/profile.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(top_srcdir)/proto --c_out=proto \
	    $(top_srcdir)/proto/profile.proto
proto/profile.pb-c.h: proto/profile.pb-c.c
	@:
