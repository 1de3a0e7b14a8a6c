/* Unit tests for discovery/: static groups, the file_sd format (JSON and
 * YAML, validation, limits, __meta_filepath), and the file_sd provider
 * (globs, files added, changed in place and by rename, removed, broken
 * files keeping their last good targets). Changes are waited for by
 * polling with a short timeout, for at most 5 s each; no timing is
 * asserted otherwise. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "discovery/file_sd.h"
#include "discovery/group.h"
#include "discovery/static.h"
#include "tests/unit/unit.h"

static char dir[256];

static void fresh_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kiln-disc-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
}

static void remove_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

static const char *path_in(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

/* Write to a temporary name in the same directory, then rename. */
static void replace_file(const char *path, const char *text)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    write_file(tmp, text);
    if (rename(tmp, path) != 0)
        abort();
}

static const struct disc_group *group_by_source(const struct disc_group_set *s,
                                                const char *source)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->groups[i]->source, source) == 0)
            return s->groups[i];
    return NULL;
}

static const char *target_at(const struct disc_group *g, size_t i)
{
    if (g == NULL || i >= g->n_targets)
        return NULL;
    return labels_get(g->targets[i], DISC_ADDRESS_LABEL);
}

static bool set_has_target(const struct disc_group_set *s, const char *addr)
{
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->groups[i]->n_targets; j++)
            if (strcmp(target_at(s->groups[i], j), addr) == 0)
                return true;
    return false;
}

static void test_static_groups(void)
{
    const char *t0[] = {"a:9090", "b:9090"};
    const char *n0[] = {"env", "team"}, *v0[] = {"prod", "infra"};
    const char *t1[] = {"c:80"};
    struct disc_static_config cfgs[] = {
        {t0, 2, n0, v0, 2},
        {t1, 1, NULL, NULL, 0},
        {NULL, 0, NULL, NULL, 0},
    };
    struct disc_group_set set = {0};
    struct kb_err err;
    CHECK_INT(disc_static_groups(cfgs, 3, &set, &err), KB_OK);
    CHECK_INT(set.n, 3);
    CHECK_INT(disc_group_set_targets(&set), 3);
    if (set.n == 3) {
        CHECK_STR(set.groups[0]->source, "static:0");
        CHECK_STR(set.groups[2]->source, "static:2");
        CHECK_STR(target_at(set.groups[0], 1), "b:9090");
        CHECK_STR(labels_get(set.groups[0]->labels, "team"), "infra");
        CHECK_INT(labels_count(set.groups[1]->labels), 0);
        CHECK_INT(set.groups[2]->n_targets, 0);
    }

    /* Copies compare equal; a different target does not. */
    struct disc_group_set copy = {0};
    disc_group_set_copy(&copy, &set);
    CHECK(disc_group_set_equal(&set, &copy));
    const char *t1b[] = {"d:80"};
    cfgs[1].targets = t1b;
    struct disc_group_set other = {0};
    CHECK_INT(disc_static_groups(cfgs, 3, &other, &err), KB_OK);
    CHECK(!disc_group_set_equal(&set, &other));
    disc_group_set_clear(&other);
    disc_group_set_clear(&copy);

    /* Bad entries change nothing and say where they are. */
    const char *bad_names[] = {"1x"}, *bad_values[] = {"v"};
    struct disc_static_config bad = {t1, 1, bad_names, bad_values, 1};
    CHECK_INT(disc_static_groups(&bad, 1, &set, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "static_configs[0]") != NULL);
    CHECK(strstr(err.msg, "1x") != NULL);
    CHECK_INT(set.n, 3);
    const char *dup_names[] = {"a", "a"}, *dup_values[] = {"1", "2"};
    struct disc_static_config dup = {t1, 1, dup_names, dup_values, 2};
    CHECK_INT(disc_static_groups(&dup, 1, &set, &err), KB_ERR_INVALID);
    const char *bad_targets[] = {"ok:1", "has space:1"};
    struct disc_static_config badt = {bad_targets, 2, NULL, NULL, 0};
    struct disc_static_config two[] = {cfgs[0], badt};
    CHECK_INT(disc_static_groups(two, 2, &set, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "static_configs[1]: target 1") != NULL);
    const char *empty_target[] = {""};
    struct disc_static_config emptyt = {empty_target, 1, NULL, NULL, 0};
    CHECK_INT(disc_static_groups(&emptyt, 1, &set, &err), KB_ERR_INVALID);
    CHECK_INT(set.n, 3);
    disc_group_set_clear(&set);
}

static enum kb_status parse(const char *text, enum disc_file_format fmt,
                            struct disc_group_set *set, struct kb_err *err)
{
    return disc_file_sd_parse(text, strlen(text), fmt, "/sd/x", set, err);
}

static void test_parse_json(void)
{
    struct disc_group_set set = {0};
    struct kb_err err;
    const char *ok = "[{\"targets\": [\"a:1\", \"b:2\"], \"labels\": "
                     "{\"env\": \"prod\", \"__meta_filepath\": \"lie\"}},\n"
                     " {\"targets\": [\"c:3\"]},\n"
                     " {\"labels\": null, \"targets\": null, \"x\": 1}]";
    CHECK_INT(parse(ok, DISC_FILE_JSON, &set, &err), KB_OK);
    CHECK_INT(set.n, 3);
    if (set.n == 3) {
        const struct disc_group *g = set.groups[0];
        CHECK_STR(g->source, "file:/sd/x:0");
        CHECK_STR(target_at(g, 0), "a:1");
        CHECK_STR(target_at(g, 1), "b:2");
        CHECK_STR(labels_get(g->labels, "env"), "prod");
        CHECK_STR(labels_get(g->labels, DISC_META_FILEPATH), "/sd/x");
        CHECK(group_by_source(&set, "file:/sd/x:1") == set.groups[1]);
        CHECK_STR(labels_get(set.groups[2]->labels, DISC_META_FILEPATH),
                  "/sd/x");
        CHECK_INT(set.groups[2]->n_targets, 0);
    }
    disc_group_set_clear(&set);

    CHECK_INT(parse("[]", DISC_FILE_JSON, &set, &err), KB_OK);
    CHECK_INT(set.n, 0);

    struct {
        const char *text, *want;
    } bad[] = {
        {"", "line 1"},
        {"{}", "expected a list of target groups"},
        {"[1]", "group 0: expected an object"},
        {"[{\"targets\": \"a:1\"}]", "group 0: \"targets\" must be a list"},
        {"[{\"targets\": [1]}]", "group 0: target 0: expected a string"},
        {"[{}, {\"targets\": [\"a b\"]}]", "group 1: target 0: invalid"},
        {"[{\"targets\": [\"\"]}]", "empty target address"},
        {"[{\"labels\": {\"1x\": \"v\"}}]", "invalid label name \"1x\""},
        {"[{\"labels\": {\"a-b\": \"v\"}}]", "invalid label name \"a-b\""},
        {"[{\"labels\": {\"port\": 80}}]", "port: expected a string"},
        {"[{\"labels\": []}]", "\"labels\" must be an object"},
        {"[{\"labels\": {\"a\": \"1\", \"a\": \"2\"}}]", "duplicate"},
        {"[{\"targets\": [\"a:1\"]}", "line 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kb_err_clear(&err);
        enum kb_status st = parse(bad[i].text, DISC_FILE_JSON, &set, &err);
        CHECK(st == KB_ERR_INVALID || st == KB_ERR_LIMIT);
        if (strstr(err.msg, bad[i].want) == NULL)
            printf("# case %zu: got \"%s\", want \"%s\"\n", i, err.msg,
                   bad[i].want);
        CHECK(strstr(err.msg, bad[i].want) != NULL);
        CHECK_INT(set.n, 0);
    }
}

static void test_parse_yaml(void)
{
    struct disc_group_set set = {0};
    struct kb_err err;
    const char *ok = "# targets\n"
                     "- targets: ['a:1', b:2]\n"
                     "  labels:\n"
                     "    env: prod\n"
                     "    port: 8080\n"
                     "    gone: ~\n"
                     "- targets:\n"
                     "    - c:3\n"
                     "- labels: {}\n";
    CHECK_INT(parse(ok, DISC_FILE_YAML, &set, &err), KB_OK);
    CHECK_INT(set.n, 3);
    if (set.n == 3) {
        const struct disc_group *g = set.groups[0];
        CHECK_STR(target_at(g, 0), "a:1");
        CHECK_STR(target_at(g, 1), "b:2");
        CHECK_STR(labels_get(g->labels, "env"), "prod");
        CHECK_STR(labels_get(g->labels, "port"), "8080");
        CHECK(labels_get(g->labels, "gone") == NULL);
        CHECK_STR(labels_get(g->labels, DISC_META_FILEPATH), "/sd/x");
        CHECK_STR(target_at(set.groups[1], 0), "c:3");
        CHECK_STR(set.groups[2]->source, "file:/sd/x:2");
    }
    disc_group_set_clear(&set);

    /* JSON is YAML too; empty files and null are no groups. */
    CHECK_INT(parse("[{\"targets\": [\"a:1\"]}]", DISC_FILE_YAML, &set, &err),
              KB_OK);
    CHECK_INT(set.n, 1);
    disc_group_set_clear(&set);
    CHECK_INT(parse("", DISC_FILE_YAML, &set, &err), KB_OK);
    CHECK_INT(parse("# nothing\n", DISC_FILE_YAML, &set, &err), KB_OK);
    CHECK_INT(parse("null\n", DISC_FILE_YAML, &set, &err), KB_OK);
    CHECK_INT(set.n, 0);

    struct {
        const char *text, *want;
    } bad[] = {
        {"a: b\n", "line 1, column 1: expected a list"},
        {"- targets: [a:1]\n  lables: {}\n",
         "group 0: line 2, column 3: unknown key \"lables\""},
        {"- targets: a:1\n", "\"targets\" must be a list"},
        {"- targets: [[a]]\n", "expected a target string"},
        {"- labels: {1x: v}\n", "invalid label name \"1x\""},
        {"- labels: {a: [1]}\n", "expected a label value"},
        {"- labels: {a: 1, a: 2}\n", "duplicate label name"},
        {"- targets: &t [a:1]\n- targets: *t\n", "aliases are not supported"},
        {"- targets: [a:1]\n---\n- targets: [b:1]\n", "more than one YAML"},
        {"- targets: [a:1\n", "line"},
        {"- targets: [\"a\\0b\"]\n", "NUL"},
        {"- targets: [\"a b\"]\n", "line 1, column 13: target 0: invalid"},
        {"- 5\n", "expected a mapping"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kb_err_clear(&err);
        enum kb_status st = parse(bad[i].text, DISC_FILE_YAML, &set, &err);
        CHECK(st == KB_ERR_INVALID || st == KB_ERR_LIMIT);
        if (strstr(err.msg, bad[i].want) == NULL)
            printf("# case %zu: got \"%s\", want \"%s\"\n", i, err.msg,
                   bad[i].want);
        CHECK(strstr(err.msg, bad[i].want) != NULL);
        CHECK_INT(set.n, 0);
    }
}

static void test_parse_limits(void)
{
    struct disc_group_set set = {0};
    struct kb_err err;
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);

    /* Too many groups. */
    buf_putc(&b, '[');
    for (int i = 0; i <= DISC_FILE_SD_MAX_GROUPS; i++)
        buf_puts(&b, i ? ",{}" : "{}");
    buf_putc(&b, ']');
    CHECK_INT(
        disc_file_sd_parse(b.data, b.len, DISC_FILE_JSON, "f", &set, &err),
        KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "target groups") != NULL);
    /* One less is fine. */
    CHECK_INT(disc_file_sd_parse(b.data + 3, b.len - 3, DISC_FILE_JSON, "f",
                                 &set, &err),
              KB_ERR_INVALID); /* (not a list any more) */
    buf_reset(&b);
    buf_putc(&b, '[');
    for (int i = 0; i < DISC_FILE_SD_MAX_GROUPS; i++)
        buf_puts(&b, i ? ",{}" : "{}");
    buf_putc(&b, ']');
    CHECK_INT(
        disc_file_sd_parse(b.data, b.len, DISC_FILE_JSON, "f", &set, &err),
        KB_OK);
    CHECK_INT(set.n, DISC_FILE_SD_MAX_GROUPS);
    disc_group_set_clear(&set);

    /* Too many targets, over two groups. */
    buf_reset(&b);
    buf_puts(&b, "[{\"targets\": [\"t:0\"");
    for (int i = 1; i <= DISC_FILE_SD_MAX_TARGETS; i++) {
        if (i == DISC_FILE_SD_MAX_TARGETS / 2)
            buf_puts(&b, "]}, {\"targets\": [\"t:1\"");
        else
            buf_puts(&b, ",\"t:1\"");
    }
    buf_puts(&b, "]}]");
    CHECK_INT(
        disc_file_sd_parse(b.data, b.len, DISC_FILE_JSON, "f", &set, &err),
        KB_ERR_LIMIT);
    CHECK(strstr(err.msg, "group 1") != NULL);
    CHECK(strstr(err.msg, "targets") != NULL);

    /* Too many bytes. */
    buf_reset(&b);
    buf_puts(&b, "[]");
    buf_reserve(&b, DISC_FILE_SD_MAX_BYTES);
    memset(b.data + b.len, ' ', DISC_FILE_SD_MAX_BYTES);
    b.len += DISC_FILE_SD_MAX_BYTES - 2;
    CHECK_INT(
        disc_file_sd_parse(b.data, b.len, DISC_FILE_JSON, "f", &set, &err),
        KB_OK);
    b.len++;
    CHECK_INT(
        disc_file_sd_parse(b.data, b.len, DISC_FILE_YAML, "f", &set, &err),
        KB_ERR_LIMIT);

    /* Long addresses and label values. */
    char addr[DISC_ADDRESS_MAX + 2];
    memset(addr, 'a', sizeof(addr) - 1);
    addr[sizeof(addr) - 1] = '\0';
    struct disc_group *g = disc_group_new("x");
    CHECK_INT(disc_group_add_address(g, addr, &err), KB_ERR_LIMIT);
    addr[DISC_ADDRESS_MAX] = '\0';
    CHECK_INT(disc_group_add_address(g, addr, &err), KB_OK);
    disc_group_free(g);
    buf_free(&b);
    CHECK_INT(set.n, 0);
}

static void test_format_of(void)
{
    enum disc_file_format f;
    struct kb_err err;
    CHECK_INT(disc_file_format_of("a/b.json", &f, &err), KB_OK);
    CHECK_INT(f, DISC_FILE_JSON);
    CHECK_INT(disc_file_format_of("a/b.YAML", &f, &err), KB_OK);
    CHECK_INT(f, DISC_FILE_YAML);
    CHECK_INT(disc_file_format_of("b.yml", &f, &err), KB_OK);
    CHECK_INT(disc_file_format_of("a.json/b", &f, &err), KB_ERR_INVALID);
    CHECK_INT(disc_file_format_of("b.txt", &f, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "b.txt") != NULL);
}

static void test_bad_patterns(void)
{
    struct disc_file_sd *sd = NULL;
    struct kb_err err;
    const char *star_dir[] = {"/tmp/*/x.json"};
    CHECK_INT(disc_file_sd_new(star_dir, 1, 0, &sd, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "last path component") != NULL);
    const char *ext[] = {"/tmp/a.json", "/tmp/*"};
    CHECK_INT(disc_file_sd_new(ext, 2, 0, &sd, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "/tmp/*") != NULL);
    const char *empty[] = {""};
    CHECK_INT(disc_file_sd_new(empty, 1, 0, &sd, &err), KB_ERR_INVALID);
    CHECK(sd == NULL);
}

static size_t total_targets(struct disc_file_sd *sd)
{
    return disc_group_set_targets(disc_file_sd_groups(sd, NULL));
}

/* Poll `sd` as an event loop would until `addr` is (want) or is not
 * (!want) among its targets; false after 5 s. */
static bool wait_target(struct disc_file_sd *sd, const char *addr, bool want)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        disc_file_sd_poll(sd);
        if (set_has_target(disc_file_sd_groups(sd, NULL), addr) == want)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
            5000)
            return false;
        int timeout = disc_file_sd_timeout_ms(sd);
        struct pollfd p = {disc_file_sd_fd(sd), POLLIN, 0};
        poll(&p, p.fd >= 0 ? 1 : 0, timeout < 50 ? timeout : 50);
    }
}

/* Poll until the provider reports a broken file; false after 5 s. */
static bool wait_error(struct disc_file_sd *sd, bool want)
{
    for (int i = 0; i < 100; i++) {
        disc_file_sd_poll(sd);
        if ((disc_file_sd_last_error(sd)->status != KB_OK) == want)
            return true;
        struct pollfd p = {disc_file_sd_fd(sd), POLLIN, 0};
        poll(&p, p.fd >= 0 ? 1 : 0, 50);
    }
    return false;
}

static void test_file_sd_globs(void)
{
    fresh_dir();
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/sub.json", dir);
    mkdir(sub, 0755); /* a directory that matches: ignored */
    write_file(path_in("b.json"), "[{\"targets\": [\"b:1\"]}]");
    write_file(path_in("a.json"),
               "[{\"targets\": [\"a:1\"]}, {\"targets\": [\"a:2\"]}]");
    write_file(path_in("c.yml"), "- targets: [c:1]\n");
    write_file(path_in("d.txt"), "[{\"targets\": [\"d:1\"]}]");
    write_file(path_in("e.json.bak"), "[{\"targets\": [\"e:1\"]}]");
    char p1[300], p2[300];
    snprintf(p1, sizeof(p1), "%s/*.json", dir);
    snprintf(p2, sizeof(p2), "%s/c*.yml", dir);
    const char *pats[] = {p1, p2, p1};
    struct disc_file_sd *sd = NULL;
    struct kb_err err;
    CHECK_INT(disc_file_sd_new(pats, 3, 0, &sd, &err), KB_OK);
    if (sd == NULL) {
        remove_dir();
        return;
    }
    uint64_t version = 0;
    const struct disc_group_set *s = disc_file_sd_groups(sd, &version);
    CHECK_INT(version, 1);
    CHECK_INT(s->n, 4);
    if (s->n == 4) {
        char want[400];
        snprintf(want, sizeof(want), "file:%s:1", path_in("a.json"));
        CHECK_STR(s->groups[1]->source, want);
        CHECK_STR(target_at(s->groups[1], 0), "a:2");
        CHECK_STR(target_at(s->groups[2], 0), "b:1");
        CHECK_STR(target_at(s->groups[3], 0), "c:1");
        CHECK_STR(labels_get(s->groups[3]->labels, DISC_META_FILEPATH),
                  path_in("c.yml"));
        CHECK_STR(labels_get(s->groups[0]->labels, DISC_META_FILEPATH),
                  path_in("a.json"));
    }
    CHECK(!set_has_target(s, "d:1") && !set_has_target(s, "e:1"));
    CHECK_INT(disc_file_sd_last_error(sd)->status, KB_OK);
    /* Nothing changed: a poll changes nothing. */
    CHECK(!disc_file_sd_poll(sd));
    disc_file_sd_groups(sd, &version);
    CHECK_INT(version, 1);
    disc_file_sd_free(sd);
    remove_dir();
}

static void test_file_sd_changes(void)
{
    fresh_dir();
    write_file(path_in("a.json"), "[{\"targets\": [\"a:1\"]}]");
    char pat[300];
    snprintf(pat, sizeof(pat), "%s/*.json", dir);
    const char *pats[] = {pat};
    struct disc_file_sd *sd = NULL;
    struct kb_err err;
    CHECK_INT(disc_file_sd_new(pats, 1, 0, &sd, &err), KB_OK);
    if (sd == NULL) {
        remove_dir();
        return;
    }
    CHECK(disc_file_sd_fd(sd) >= 0);
    CHECK(disc_file_sd_timeout_ms(sd) > 1000); /* 5m default refresh */
    CHECK_INT(total_targets(sd), 1);
    uint64_t v0, v1;
    disc_file_sd_groups(sd, &v0);

    /* Added. */
    write_file(path_in("b.json"), "[{\"targets\": [\"b:1\"]}]");
    CHECK(wait_target(sd, "b:1", true));
    disc_file_sd_groups(sd, &v1);
    CHECK(v1 > v0);
    /* Changed in place. */
    write_file(path_in("a.json"), "[{\"targets\": [\"a:1\", \"a:2\"]}]");
    CHECK(wait_target(sd, "a:2", true));
    /* Replaced by rename. */
    replace_file(path_in("a.json"), "[{\"targets\": [\"a:3\"]}]");
    CHECK(wait_target(sd, "a:3", true));
    CHECK(wait_target(sd, "a:2", false));
    CHECK(!set_has_target(disc_file_sd_groups(sd, NULL), "a:1"));
    /* A YAML file's target removed from the file. */
    CHECK(wait_target(sd, "b:1", true));
    write_file(path_in("b.json"), "[]");
    CHECK(wait_target(sd, "b:1", false));
    write_file(path_in("b.json"), "[{\"targets\": [\"b:2\"]}]");
    CHECK(wait_target(sd, "b:2", true));
    /* Removed. */
    unlink(path_in("b.json"));
    CHECK(wait_target(sd, "b:2", false));
    CHECK(wait_target(sd, "a:3", true));
    CHECK_INT(disc_file_sd_last_error(sd)->status, KB_OK);
    CHECK_INT(disc_file_sd_read_errors(sd), 0);
    disc_file_sd_free(sd);
    remove_dir();
}

static void test_file_sd_broken_file(void)
{
    fresh_dir();
    write_file(path_in("a.yml"), "- targets: [a:1]\n  labels: {x: y}\n");
    write_file(path_in("b.yml"), "- targets: [b:1]\n");
    char pat[300];
    snprintf(pat, sizeof(pat), "%s/*.yml", dir);
    const char *pats[] = {pat};
    struct disc_file_sd *sd = NULL;
    struct kb_err err;
    CHECK_INT(disc_file_sd_new(pats, 1, 0, &sd, &err), KB_OK);
    if (sd == NULL) {
        remove_dir();
        return;
    }
    CHECK_INT(total_targets(sd), 2);
    uint64_t v0, v1;
    disc_file_sd_groups(sd, &v0);

    FILE *logf = tmpfile();
    log_set_output(logf);
    write_file(path_in("a.yml"), "- targets: [a:1, a:2\n");
    CHECK(wait_error(sd, true));
    const struct kb_err *le = disc_file_sd_last_error(sd);
    CHECK_INT(le->status, KB_ERR_INVALID);
    CHECK(strstr(le->msg, path_in("a.yml")) != NULL);
    CHECK(strstr(le->msg, "line") != NULL);
    CHECK(disc_file_sd_read_errors(sd) >= 1);
    /* The broken file kept its targets, the other file still counts. */
    const struct disc_group_set *s = disc_file_sd_groups(sd, &v1);
    CHECK_INT(v1, v0);
    CHECK(set_has_target(s, "a:1") && set_has_target(s, "b:1"));
    CHECK(!set_has_target(s, "a:2"));
    if (s->n >= 1)
        CHECK_STR(labels_get(s->groups[0]->labels, "x"), "y");
    /* The other file still changes. */
    write_file(path_in("b.yml"), "- targets: [b:2]\n");
    CHECK(wait_target(sd, "b:2", true));
    CHECK(set_has_target(disc_file_sd_groups(sd, NULL), "a:1"));
    CHECK_INT(disc_file_sd_last_error(sd)->status, KB_ERR_INVALID);

    /* The failure was logged once, naming the file. */
    fflush(logf);
    rewind(logf);
    char line[2048];
    int warned = 0;
    while (fgets(line, sizeof(line), logf) != NULL)
        if (strstr(line, "level=warn") && strstr(line, path_in("a.yml")))
            warned++;
    CHECK_INT(warned, 1);
    log_set_output(NULL);
    fclose(logf);

    /* A bad label name is a broken file too. */
    write_file(path_in("a.yml"), "- targets: [a:5]\n  labels: {a-b: c}\n");
    CHECK(wait_error(sd, true));
    /* Fixed: the new targets, and no error. */
    replace_file(path_in("a.yml"), "- targets: [a:4]\n");
    CHECK(wait_target(sd, "a:4", true));
    CHECK(wait_error(sd, false));
    CHECK(!set_has_target(disc_file_sd_groups(sd, NULL), "a:1"));
    CHECK(!set_has_target(disc_file_sd_groups(sd, NULL), "a:5"));

    /* A file over the size limit keeps its targets too. */
    FILE *f = fopen(path_in("a.yml"), "w");
    if (f != NULL) {
        fputs("- targets: [a:9]\n", f);
        for (int i = 0; i < DISC_FILE_SD_MAX_BYTES / 64 + 1; i++)
            fprintf(f, "# %61d\n", i);
        fclose(f);
    }
    CHECK(wait_error(sd, true));
    CHECK(strstr(disc_file_sd_last_error(sd)->msg, "a.yml") != NULL);
    CHECK(set_has_target(disc_file_sd_groups(sd, NULL), "a:4"));
    CHECK(!set_has_target(disc_file_sd_groups(sd, NULL), "a:9"));
    disc_file_sd_free(sd);
    remove_dir();
}

static void test_file_sd_directory_later(void)
{
    fresh_dir();
    char sub[300], pat[320];
    snprintf(sub, sizeof(sub), "%s/later", dir);
    snprintf(pat, sizeof(pat), "%s/*.json", sub);
    const char *pats[] = {pat};
    struct disc_file_sd *sd = NULL;
    struct kb_err err;
    CHECK_INT(disc_file_sd_new(pats, 1, 0, &sd, &err), KB_OK);
    if (sd == NULL) {
        remove_dir();
        return;
    }
    CHECK_INT(total_targets(sd), 0);
    CHECK(disc_file_sd_timeout_ms(sd) <= 1000); /* retrying the watch */
    CHECK(mkdir(sub, 0755) == 0);
    write_file(path_in("later/x.json"), "[{\"targets\": [\"x:1\"]}]");
    CHECK(wait_target(sd, "x:1", true));
    /* The directory goes away, and comes back. */
    unlink(path_in("later/x.json"));
    rmdir(sub);
    CHECK(wait_target(sd, "x:1", false));
    CHECK(mkdir(sub, 0755) == 0);
    write_file(path_in("later/y.json"), "[{\"targets\": [\"y:1\"]}]");
    CHECK(wait_target(sd, "y:1", true));
    disc_file_sd_free(sd);
    remove_dir();
}

static void test_file_sd_refresh_interval(void)
{
    fresh_dir();
    write_file(path_in("a.json"), "[{\"targets\": [\"a:1\"]}]");
    char pat[300];
    snprintf(pat, sizeof(pat), "%s/a.json", dir);
    const char *pats[] = {pat};
    struct disc_file_sd *sd = NULL;
    struct kb_err err;
    CHECK_INT(disc_file_sd_new(pats, 1, 100, &sd, &err), KB_OK);
    if (sd == NULL) {
        remove_dir();
        return;
    }
    CHECK(disc_file_sd_timeout_ms(sd) <= 100);
    /* Without waiting on the descriptor: the interval alone finds it. */
    write_file(path_in("a.json"), "[{\"targets\": [\"a:2\"]}]");
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(50 * 1000);
        disc_file_sd_poll(sd);
        seen = set_has_target(disc_file_sd_groups(sd, NULL), "a:2");
    }
    CHECK(seen);
    disc_file_sd_free(sd);
    remove_dir();
}

int main(void)
{
    RUN(test_static_groups);
    RUN(test_parse_json);
    RUN(test_parse_yaml);
    RUN(test_parse_limits);
    RUN(test_format_of);
    RUN(test_bad_patterns);
    RUN(test_file_sd_globs);
    RUN(test_file_sd_changes);
    RUN(test_file_sd_broken_file);
    RUN(test_file_sd_directory_later);
    RUN(test_file_sd_refresh_interval);
    return unit_done();
}
