/* Unit tests for pprof/: build, encode, decode (and its errors), merge and
 * collapsed stacks. Profiles are built in code, so every expected number is
 * known; tests on real Go profiles live in tests/e2e/. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof/profile.h"
#include "proto/profile.pb-c.h"
#include "tests/unit/unit.h"

/* A small CPU-like profile: main -> a -> b (leaf), main -> c (inlined into
 * main at one address), plus one unsymbolized frame. Values: samples/count
 * and cpu/nanoseconds. */
static struct pprof_profile *make_profile(uint64_t map_start)
{
    struct pprof_profile *p = pprof_new();
    pprof_add_sample_type(p, pprof_intern_str(p, "samples"),
                          pprof_intern_str(p, "count"));
    pprof_add_sample_type(p, pprof_intern_str(p, "cpu"),
                          pprof_intern_str(p, "nanoseconds"));
    p->period_type.type = pprof_intern_str(p, "cpu");
    p->period_type.unit = pprof_intern_str(p, "nanoseconds");
    p->period = 10000000;
    p->time_nanos = 1700000000000000000;
    p->duration_nanos = 10000000000;
    struct pprof_mapping m = {.memory_start = map_start,
                              .memory_limit = map_start + 0x10000,
                              .filename = pprof_intern_str(p, "/bin/app"),
                              .build_id = pprof_intern_str(p, "abc123"),
                              .has_functions = true};
    uint32_t map = pprof_add_mapping(p, &m);
    const char *names[] = {"main", "a", "b", "c"};
    uint32_t fn[4];
    for (int i = 0; i < 4; i++) {
        struct pprof_function f = {.name = pprof_intern_str(p, names[i]),
                                   .filename = pprof_intern_str(p, "app.c"),
                                   .start_line = 10 * i};
        fn[i] = pprof_add_function(p, &f);
    }
    struct pprof_line l_main = {fn[0], 5}, l_a = {fn[1], 15}, l_b = {fn[2], 25};
    struct pprof_line l_inl[2] = {{fn[3], 35}, {fn[0], 6}}; /* c in main */
    uint32_t loc_main =
        pprof_add_location(p, map, map_start + 0x100, &l_main, 1, false);
    uint32_t loc_a =
        pprof_add_location(p, map, map_start + 0x200, &l_a, 1, false);
    uint32_t loc_b =
        pprof_add_location(p, map, map_start + 0x300, &l_b, 1, false);
    uint32_t loc_c =
        pprof_add_location(p, map, map_start + 0x400, l_inl, 2, false);
    uint32_t loc_raw = pprof_add_location(p, 0, 0xdead, NULL, 0, false);
    uint32_t s1[] = {loc_b, loc_a, loc_main};
    uint32_t s2[] = {loc_c};
    uint32_t s3[] = {loc_raw, loc_main};
    int64_t v1[] = {3, 30000000}, v2[] = {1, 10000000}, v3[] = {2, 20000000};
    struct pprof_label lab = {.key = pprof_intern_str(p, "span"),
                              .str = pprof_intern_str(p, "x")};
    pprof_add_sample(p, s1, 3, v1, NULL, 0);
    pprof_add_sample(p, s2, 1, v2, &lab, 1);
    pprof_add_sample(p, s3, 2, v3, NULL, 0);
    return p;
}

static int64_t total(const struct pprof_profile *p, size_t st)
{
    int64_t t = 0;
    for (size_t i = 0; i < p->n_samples; i++)
        t += p->samples[i].values[st];
    return t;
}

static struct pprof_profile *roundtrip(const struct pprof_profile *p)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    struct kb_err err;
    struct pprof_profile *q = NULL;
    CHECK_INT(pprof_encode(p, &b, &err), KB_OK);
    CHECK(b.len > 2 && b.data[0] == 0x1f && b.data[1] == 0x8b);
    if (pprof_decode(b.data, b.len, NULL, &q, &err) != KB_OK)
        printf("# decode: %s\n", err.msg);
    buf_free(&b);
    return q;
}

static void test_encode_decode_roundtrip(void)
{
    struct pprof_profile *p = make_profile(0x400000);
    struct pprof_profile *q = roundtrip(p);
    CHECK(q != NULL);
    if (q == NULL)
        goto done;
    CHECK_INT(q->n_sample_types, 2);
    CHECK_STR(pprof_str(q, q->sample_types[1].type), "cpu");
    CHECK_STR(pprof_str(q, q->period_type.unit), "nanoseconds");
    CHECK_INT(q->period, 10000000);
    CHECK_INT(q->time_nanos, 1700000000000000000);
    CHECK_INT(q->n_samples, 3);
    CHECK_INT(q->n_locations, 5);
    CHECK_INT(q->n_functions, 4);
    CHECK_INT(q->n_mappings, 1);
    CHECK_INT(total(q, 1), 60000000);
    CHECK_INT(q->samples[0].n_locations, 3);
    const struct pprof_location *leaf =
        &q->locations[q->samples[0].location_ids[0] - 1];
    CHECK_STR(pprof_str(q, q->functions[leaf->lines[0].function_id - 1].name),
              "b");
    CHECK_INT(q->locations[3].n_lines, 2);
    CHECK_INT(q->samples[1].n_labels, 1);
    CHECK_STR(pprof_str(q, q->samples[1].labels[0].str), "x");
    CHECK_STR(pprof_str(q, q->mappings[0].build_id), "abc123");
    CHECK_INT(pprof_default_sample_type(q), 1);
    CHECK_INT(pprof_sample_type_index(q, "samples"), 0);
    CHECK_INT(pprof_sample_type_index(q, "nope"), -1);
done:
    pprof_free(q);
    pprof_free(p);
}

static void test_intern_dedups(void)
{
    struct pprof_profile *p = pprof_new();
    uint32_t a = pprof_intern_str(p, "x");
    CHECK_INT(pprof_intern_str(p, "x"), a);
    CHECK_INT(pprof_intern_str(p, ""), 0);
    CHECK(pprof_intern(p, "xy", 1) == a);
    CHECK_INT(p->n_strings, 2);
    pprof_free(p);
}

/* Pack a hand-made protobuf-c message (raw, not gzip'd). */
static uint8_t *pack(Perftools__Profiles__Profile *pb, size_t *n)
{
    *n = perftools__profiles__profile__get_packed_size(pb);
    uint8_t *b = malloc(*n + 1);
    perftools__profiles__profile__pack(pb, b);
    return b;
}

static void expect_error(const uint8_t *data, size_t n,
                         const struct pprof_limits *lim, enum kb_status want,
                         const char *needle)
{
    struct pprof_profile *q = NULL;
    struct kb_err err = {0};
    enum kb_status st = pprof_decode(data, n, lim, &q, &err);
    CHECK_INT(st, want);
    CHECK(q == NULL);
    if (strstr(err.msg, needle) == NULL) {
        printf("# error \"%s\" does not contain \"%s\"\n", err.msg, needle);
        CHECK(0);
    }
    pprof_free(q);
}

static void test_decode_rejects_bad_references(void)
{
    char *strs[] = {"", "samples", "count"};
    char *bad_strs[] = {"x", "samples"};
    Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    vt.type = 1;
    vt.unit = 2;
    Perftools__Profiles__ValueType *vts[] = {&vt};
    uint64_t loc_ids[] = {7};
    int64_t vals[] = {1}, two_vals[] = {1, 2};
    Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
    s.n_location_id = 1;
    s.location_id = loc_ids;
    s.n_value = 1;
    s.value = vals;
    Perftools__Profiles__Sample *ss[] = {&s};
    Perftools__Profiles__Location l = PERFTOOLS__PROFILES__LOCATION__INIT;
    l.id = 7;
    Perftools__Profiles__Location *ls[] = {&l};
    Perftools__Profiles__Profile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
    pb.n_string_table = 3;
    pb.string_table = strs;
    pb.n_sample_type = 1;
    pb.sample_type = vts;
    pb.n_sample = 1;
    pb.sample = ss;
    pb.n_location = 1;
    pb.location = ls;
    size_t n;
    uint8_t *b = pack(&pb, &n);
    struct pprof_profile *q = NULL;
    struct kb_err err;
    CHECK_INT(pprof_decode(b, n, NULL, &q, &err), KB_OK); /* valid as is */
    CHECK(q && q->samples[0].location_ids[0] == 1);       /* renumbered */
    pprof_free(q);
    free(b);

    loc_ids[0] = 8;
    b = pack(&pb, &n);
    expect_error(b, n, NULL, KB_ERR_INVALID, "location id 8 not found");
    free(b);
    loc_ids[0] = 7;

    s.n_value = 2;
    s.value = two_vals;
    b = pack(&pb, &n);
    expect_error(b, n, NULL, KB_ERR_INVALID, "has 2 values for 1 sample");
    free(b);
    s.n_value = 1;
    s.value = vals;

    vt.unit = 9;
    b = pack(&pb, &n);
    expect_error(b, n, NULL, KB_ERR_INVALID, "string index 9 out of range");
    free(b);
    vt.unit = 2;

    l.id = 0;
    b = pack(&pb, &n);
    expect_error(b, n, NULL, KB_ERR_INVALID, "location 0 has id 0");
    free(b);
    l.id = 7;

    Perftools__Profiles__Location l2 = l;
    Perftools__Profiles__Location *ls2[] = {&l, &l2};
    pb.n_location = 2;
    pb.location = ls2;
    b = pack(&pb, &n);
    expect_error(b, n, NULL, KB_ERR_INVALID, "location id 7 is not unique");
    free(b);
    pb.n_location = 1;
    pb.location = ls;

    pb.string_table = bad_strs;
    pb.n_string_table = 2;
    b = pack(&pb, &n);
    expect_error(b, n, NULL, KB_ERR_INVALID, "string_table[0]");
    free(b);
}

static void test_decode_rejects_garbage(void)
{
    expect_error((const uint8_t *)"", 0, NULL, KB_ERR_INVALID, "empty input");
    const uint8_t junk[] = "this is not a protobuf at all\n";
    expect_error(junk, sizeof(junk) - 1, NULL, KB_ERR_INVALID, "protobuf");
    const uint8_t badgz[] = {0x1f, 0x8b, 8,    0,    0,    0,    0,    0,
                             0,    3,    0xff, 0xff, 0xff, 0xff, 0x00, 0x12};
    expect_error(badgz, sizeof(badgz), NULL, KB_ERR_INVALID, "gzip");
    /* A valid profile, truncated at every length, never crashes and never
     * decodes to a profile silently missing data at the gzip layer. */
    struct pprof_profile *p = make_profile(0x1000);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    CHECK_INT(pprof_encode(p, &b, NULL), KB_OK);
    for (size_t cut = 0; cut < b.len; cut++) {
        struct pprof_profile *q = NULL;
        struct kb_err err;
        CHECK(pprof_decode(b.data, cut, NULL, &q, &err) != KB_OK);
        CHECK(q == NULL);
    }
    /* Trailing garbage after the gzip stream. */
    buf_puts(&b, "xyz");
    expect_error(b.data, b.len, NULL, KB_ERR_INVALID, "garbage after");
    buf_free(&b);
    pprof_free(p);
}

static void test_decode_gzip_bomb_and_limits(void)
{
    /* 64 MiB of zeros compress to ~64 KiB; the limit stops it at 1 MiB. */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    uLongf clen = compressBound(big) + 32;
    uint8_t *gz = malloc(clen);
    z_stream zs = {0};
    deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = zeros;
    zs.avail_in = (uInt)big;
    zs.next_out = gz;
    zs.avail_out = (uInt)clen;
    CHECK_INT(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t gzlen = zs.total_out;
    deflateEnd(&zs);
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    lim.max_decompressed = 1u << 20;
    expect_error(gz, gzlen, &lim, KB_ERR_LIMIT, "gzip bomb");
    free(zeros);
    free(gz);

    struct pprof_profile *p = make_profile(0x1000);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    CHECK_INT(pprof_encode(p, &b, NULL), KB_OK);
    pprof_limits_default(&lim);
    lim.max_samples = 2;
    expect_error(b.data, b.len, &lim, KB_ERR_LIMIT, "3 samples, limit is 2");
    pprof_limits_default(&lim);
    lim.max_stack_depth = 2;
    expect_error(b.data, b.len, &lim, KB_ERR_LIMIT, "stack depth 3");
    pprof_limits_default(&lim);
    lim.max_compressed = 10;
    expect_error(b.data, b.len, &lim, KB_ERR_LIMIT, "limit is 10");
    buf_free(&b);
    pprof_free(p);
}

static void test_read_file_errors(void)
{
    struct pprof_profile *q = NULL;
    struct kb_err err;
    CHECK_INT(pprof_read_file("/nonexistent/x.pb.gz", NULL, &q, &err),
              KB_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/x.pb.gz: ") == err.msg);
    char path[] = "/tmp/kiln-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "garbage!", 8) == 8);
    close(fd);
    CHECK_INT(pprof_read_file(path, NULL, &q, &err), KB_ERR_INVALID);
    CHECK(strncmp(err.msg, path, strlen(path)) == 0);
    /* write and read back */
    struct pprof_profile *p = make_profile(0x1000);
    CHECK_INT(pprof_write_file(p, path, &err), KB_OK);
    CHECK_INT(pprof_read_file(path, NULL, &q, &err), KB_OK);
    CHECK(q && q->n_samples == 3);
    pprof_free(q);
    pprof_free(p);
    unlink(path);
}

static void test_merge_sums_and_relocates(void)
{
    /* The same program loaded at two addresses (ASLR): merging must see the
     * same locations and sum identical stacks. */
    struct pprof_profile *a = make_profile(0x400000);
    struct pprof_profile *b = make_profile(0x7f0000);
    b->time_nanos -= 5;
    b->period = 20000000;
    struct pprof_merger *m = pprof_merger_new();
    struct kb_err err;
    CHECK_INT(pprof_merger_add(m, a, &err), KB_OK);
    CHECK_INT(pprof_merger_add(m, b, &err), KB_OK);
    CHECK_INT(pprof_merger_add(m, a, &err), KB_OK);
    struct pprof_profile *out = pprof_merger_finish(m);
    CHECK_INT(out->n_samples, 3);
    CHECK_INT(out->n_locations, 5);
    CHECK_INT(out->n_functions, 4);
    CHECK_INT(out->n_mappings, 1);
    CHECK_INT(total(out, 0), 18);
    CHECK_INT(total(out, 1), 180000000);
    CHECK_INT(out->samples[0].values[0], 9);
    CHECK_INT(out->time_nanos, 1700000000000000000 - 5);
    CHECK_INT(out->duration_nanos, 30000000000);
    CHECK_INT(out->period, 20000000);
    /* The output survives its own round trip. */
    struct pprof_profile *q = roundtrip(out);
    CHECK(q && total(q, 1) == 180000000);
    pprof_free(q);
    pprof_free(out);
    pprof_free(a);
    pprof_free(b);
}

static void test_merge_distinguishes_labels_and_rejects_mismatch(void)
{
    struct pprof_profile *a = make_profile(0x400000);
    struct pprof_profile *b = make_profile(0x400000);
    b->samples[1].labels[0].str = pprof_intern_str(b, "other");
    struct pprof_merger *m = pprof_merger_new();
    CHECK_INT(pprof_merger_add(m, a, NULL), KB_OK);
    CHECK_INT(pprof_merger_add(m, b, NULL), KB_OK);
    struct pprof_profile *out = pprof_merger_finish(m);
    CHECK_INT(out->n_samples, 4); /* labelled samples stay apart */
    pprof_free(out);

    struct pprof_profile *c = pprof_new();
    pprof_add_sample_type(c, pprof_intern_str(c, "alloc_space"),
                          pprof_intern_str(c, "bytes"));
    m = pprof_merger_new();
    struct kb_err err;
    CHECK_INT(pprof_merger_add(m, a, &err), KB_OK);
    CHECK_INT(pprof_merger_add(m, c, &err), KB_ERR_MISMATCH);
    CHECK(strstr(err.msg, "cannot merge") != NULL);
    pprof_merger_free(m);
    pprof_free(a);
    pprof_free(b);
    pprof_free(c);
}

static void test_collapsed_write(void)
{
    struct pprof_profile *p = make_profile(0x400000);
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    CHECK_INT(pprof_collapsed_write(p, 1, &out, NULL), KB_OK);
    CHECK_STR(buf_cstr(&out), "main;0xdead 20000000\n"
                              "main;a;b 30000000\n"
                              "main;c 10000000\n");
    struct kb_err err;
    CHECK_INT(pprof_collapsed_write(p, 2, &out, &err), KB_ERR_USAGE);
    buf_free(&out);
    pprof_free(p);
}

static void test_collapsed_parse(void)
{
    const char *text = "main;a;b 30\n\nmain;c 10\r\nmain;a;b 5\nmain 1\n";
    struct pprof_profile *p = NULL;
    struct kb_err err;
    CHECK_INT(pprof_collapsed_parse(text, strlen(text), "cpu", "nanoseconds",
                                    NULL, &p, &err),
              KB_OK);
    if (p == NULL)
        return;
    CHECK_INT(p->n_samples, 4);
    CHECK_INT(p->n_functions, 4);
    CHECK_INT(total(p, 0), 46);
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    CHECK_INT(pprof_collapsed_write(p, 0, &out, NULL), KB_OK);
    CHECK_STR(buf_cstr(&out), "main 1\nmain;a;b 35\nmain;c 10\n");
    buf_free(&out);
    pprof_free(p);

    const char *bad[] = {"main;a\n", "main;;a 3\n", "main x3\n", " 5\n",
                         "a 99999999999999999999\n"};
    const char *why[] = {"expected", "empty frame", "not an integer",
                         "empty frame", "not an integer"};
    for (int i = 0; i < 5; i++) {
        p = NULL;
        CHECK_INT(pprof_collapsed_parse(bad[i], strlen(bad[i]), "cpu", "ns",
                                        NULL, &p, &err),
                  KB_ERR_INVALID);
        CHECK(p == NULL);
        CHECK(strstr(err.msg, "line 1: ") == err.msg);
        CHECK(strstr(err.msg, why[i]) != NULL);
    }
}

int main(void)
{
    RUN(test_encode_decode_roundtrip);
    RUN(test_intern_dedups);
    RUN(test_decode_rejects_bad_references);
    RUN(test_decode_rejects_garbage);
    RUN(test_decode_gzip_bomb_and_limits);
    RUN(test_read_file_errors);
    RUN(test_merge_sums_and_relocates);
    RUN(test_merge_distinguishes_labels_and_rejects_mismatch);
    RUN(test_collapsed_write);
    RUN(test_collapsed_parse);
    return unit_done();
}
