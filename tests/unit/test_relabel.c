/* Unit tests for scraper/relabel.c: a table per action (defaults, positive
 * and negative cases), template expansion edge cases, invalid configs and
 * their messages, hashmod values that match Prometheus, and target
 * population with the prometheus.io/scrape and parca.dev/scrape pod
 * annotation recipes.
 *
 * Expected hashmod values were computed independently of relabel.c with
 * md5sum and Python: h=$(printf '%s' VALUE | md5sum | cut -c17-32);
 * python3 -c "print(int('$h', 16) % MODULUS)". "baz" % 1000 = 976 is also
 * the value in Prometheus' own relabel_test.go. */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/labels.h"
#include "scraper/relabel.h"
#include "tests/unit/unit.h"

#define SRC(...)                                                               \
    .source_labels = (const char *const[]){__VA_ARGS__},                       \
    .nsource_labels =                                                          \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static struct labels *parse(const char *text)
{
    struct labels *ls = NULL;
    struct kb_err err;
    if (labels_parse(text, strlen(text), &ls, &err) != KB_OK) {
        printf("# parse %s: %s\n", text, err.msg);
        abort();
    }
    return ls;
}

static const char *fmt(const struct labels *ls)
{
    static char out[4096];
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    labels_format(ls, &b);
    snprintf(out, sizeof(out), "%s", buf_cstr(&b));
    buf_free(&b);
    return out;
}

struct pcase {
    struct relabel_spec spec;
    const char *in;
    const char *want; /* NULL: dropped */
};

/* Run each case with its one config; report the case index on failure. */
static void run_cases(const struct pcase *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct relabel_config c;
        struct kb_err err;
        if (relabel_config_init(&c, &cs[i].spec, &err) != KB_OK) {
            printf("# case %zu: init: %s\n", i, err.msg);
            unit_case_failed = 1;
            continue;
        }
        struct labels *in = parse(cs[i].in), *out = NULL;
        bool keep = true;
        enum kb_status st = relabel_process(&c, 1, in, &out, &keep, &err);
        if (st != KB_OK) {
            printf("# case %zu: %s\n", i, err.msg);
            unit_case_failed = 1;
        } else if (cs[i].want == NULL) {
            if (keep || out != NULL) {
                printf("# case %zu: kept %s, expected drop\n", i, fmt(out));
                unit_case_failed = 1;
            }
        } else if (!keep) {
            printf("# case %zu: dropped, expected %s\n", i, cs[i].want);
            unit_case_failed = 1;
        } else if (strcmp(fmt(out), cs[i].want) != 0) {
            printf("# case %zu: got %s, expected %s\n", i, fmt(out),
                   cs[i].want);
            unit_case_failed = 1;
        }
        labels_free(in);
        labels_free(out);
        relabel_config_free(&c);
    }
}

#define RUN_CASES(cs) run_cases(cs, sizeof(cs) / sizeof(cs[0]))

static void test_defaults(void)
{
    struct relabel_spec spec = {0};
    struct relabel_config c;
    struct kb_err err;
    spec.target_label = "t";
    CHECK_INT(relabel_config_init(&c, &spec, &err), KB_OK);
    CHECK_INT(c.action, RELABEL_REPLACE);
    CHECK_STR(c.separator, ";");
    CHECK_STR(c.regex_text, "(.*)");
    CHECK_STR(c.replacement, "$1");
    CHECK_INT(c.modulus, 0);
    relabel_config_free(&c);
    relabel_config_free(&c); /* a zeroed config may be freed */

    enum relabel_action a;
    CHECK_INT(relabel_action_parse("Replace", &a, &err), KB_OK);
    CHECK_INT(a, RELABEL_REPLACE);
    CHECK_INT(relabel_action_parse("LabelMap", &a, &err), KB_OK);
    CHECK_INT(a, RELABEL_LABELMAP);
    CHECK_INT(relabel_action_parse("keepequal", &a, &err), KB_OK);
    CHECK_INT(a, RELABEL_KEEPEQUAL);
    CHECK_INT(relabel_action_parse("frobnicate", &a, &err), KB_ERR_INVALID);
    CHECK_STR(err.msg, "unknown relabel action \"frobnicate\"");
    CHECK_STR(relabel_action_name(RELABEL_UPPERCASE), "uppercase");
}

static void test_replace(void)
{
    struct pcase cs[] = {
        /* Prometheus' relabel_test.go cases. */
        {{SRC("a"), .regex = "f(.*)", .target_label = "d",
          .replacement = "ch${1}-ch${1}"},
         "{a=\"foo\",b=\"bar\"}",
         "{a=\"foo\",b=\"bar\",d=\"choo-choo\"}"},
        {{SRC("a", "b"), .regex = "f(.*);(.*)r", .target_label = "a",
          .replacement = "b${1}${2}m"},
         "{a=\"foo\",b=\"bar\"}",
         "{a=\"boobam\",b=\"bar\"}"},
        /* No match: nothing changes. */
        {{SRC("a"), .regex = "x(.*)", .target_label = "d"},
         "{a=\"foo\"}",
         "{a=\"foo\"}"},
        /* Anchored: "o" does not match "foo". */
        {{SRC("a"), .regex = "o", .target_label = "d", .replacement = "y"},
         "{a=\"foo\"}",
         "{a=\"foo\"}"},
        /* Defaults: copy a to d. */
        {{SRC("a"), .target_label = "d"},
         "{a=\"foo\"}",
         "{a=\"foo\",d=\"foo\"}"},
        /* Missing source with the default regex: "" deletes the target. */
        {{SRC("nope"), .target_label = "a"},
         "{a=\"foo\",b=\"bar\"}",
         "{b=\"bar\"}"},
        /* Empty replacement deletes. */
        {{SRC("a"), .target_label = "b", .replacement = ""},
         "{a=\"foo\",b=\"bar\"}",
         "{a=\"foo\"}"},
        /* A static label without sources. */
        {{.target_label = "env", .replacement = "prod"},
         "{a=\"foo\"}",
         "{a=\"foo\",env=\"prod\"}"},
        /* Target from the value: some-<name>-<value>. */
        {{SRC("a"), .regex = "some-([^-]+)-(.*)", .target_label = "${1}",
          .replacement = "${2}"},
         "{a=\"some-name-value\"}",
         "{a=\"some-name-value\",name=\"value\"}"},
        {{SRC("a"), .regex = "some-([^-]+)-(.*)", .target_label = "x_$1",
          .replacement = "${2}"},
         "{a=\"some-name-value\"}",
         "{a=\"some-name-value\",x_name=\"value\"}"},
        /* A target that expands to an invalid name is not set. */
        {{SRC("a"), .regex = "some-([^-]+)-(.*)", .target_label = "${1}",
          .replacement = "${2}"},
         "{a=\"some-0-value\"}",
         "{a=\"some-0-value\"}"},
        /* Separator. */
        {{SRC("a", "b"), .separator = "--", .target_label = "c"},
         "{a=\"x\",b=\"y\"}",
         "{a=\"x\",b=\"y\",c=\"x--y\"}"},
        {{SRC("a", "b"), .separator = "", .target_label = "c"},
         "{a=\"x\",b=\"y\"}",
         "{a=\"x\",b=\"y\",c=\"xy\"}"},
        /* '.' matches newline (Prometheus 3). */
        {{SRC("a"), .regex = "x.(.*)", .target_label = "c"},
         "{a=\"x\\ny\"}",
         "{a=\"x\\ny\",c=\"y\"}"},
    };
    RUN_CASES(cs);
}

/* Expansion of replacement templates, as Go's regexp.Expand. */
static void test_expansion(void)
{
    struct {
        const char *regex, *replacement, *value, *want;
    } cs[] = {
        {"f(o+)", "$1", "foo", "oo"},
        {"f(o+)", "${1}", "foo", "oo"},
        {"f(o+)", "$1_x", "foo", NULL}, /* group "1_x": none, "" */
        {"f(o+)", "${1}_x", "foo", "oo_x"},
        {"f(o+)", "$$1", "foo", "$1"},
        {"f(o+)", "$$$1", "foo", "$oo"},
        {"f(o+)", "a$", "foo", "a$"},
        {"f(o+)", "$-x", "foo", "$-x"},
        {"f(o+)", "${1", "foo", "${1"},
        {"f(o+)", "${}", "foo", "${}"},
        {"f(o+)", "${1-}", "foo", "${1-}"},
        {"f(o+)", "[$0]", "foo", "[foo]"},
        {"f(o+)", "$2|$10", "foo", "|"},
        {"f(o+)", "${01}", "foo", NULL},
        {"f(o+)", "x${1}0", "foo", "xoo0"},
        {"(?P<first>f)(?P<rest>o+)", "$rest-${first}", "foo", "oo-f"},
        {"(?<first>f)(?<rest>o+)", "${rest}$first", "foo", "oof"},
        {"(?P<first>f)(o+)", "$unknown|$2", "foo", "|oo"},
        {"(a)|(f)(o+)", "[$1][$2][$3]", "foo", "[][f][oo]"},
        {"f(o+)", "$\xc3\xa9", "foo", NULL},  /* name "é" */
        {"f(o+)", "$1\xc3\xa9", "foo", NULL}, /* name "1é" */
        {"f(o+)", "${1}\xc3\xa9", "foo", "oo\xc3\xa9"},
        {"f(o+)", "$1\xe2\x82\xac", "foo", "oo\xe2\x82\xac"}, /* no letter */
        {"(.*)", "<$1>", "h\xc3\xa9llo", "<h\xc3\xa9llo>"},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        struct relabel_spec spec = {SRC("a"), .regex = cs[i].regex,
                                    .target_label = "t",
                                    .replacement = cs[i].replacement};
        struct relabel_config c;
        struct kb_err err;
        if (relabel_config_init(&c, &spec, &err) != KB_OK) {
            printf("# case %zu: %s\n", i, err.msg);
            unit_case_failed = 1;
            continue;
        }
        struct labels *in = NULL, *out = NULL;
        labels_from_strings(&in, NULL, "a", cs[i].value, NULL);
        bool keep;
        CHECK_INT(relabel_process(&c, 1, in, &out, &keep, &err), KB_OK);
        const char *got = out ? labels_get(out, "t") : "(dropped)";
        if (cs[i].want == NULL ? got != NULL
                               : got == NULL || strcmp(got, cs[i].want)) {
            printf("# case %zu: %s with %s gives \"%s\", expected \"%s\"\n", i,
                   cs[i].replacement, cs[i].regex, got ? got : "(unset)",
                   cs[i].want ? cs[i].want : "(unset)");
            unit_case_failed = 1;
        }
        labels_free(in);
        labels_free(out);
        relabel_config_free(&c);
    }
}

static void test_keep_drop(void)
{
    struct pcase cs[] = {
        {{RELABEL_KEEP, SRC("a"), .regex = "f.*"},
         "{a=\"foo\"}",
         "{a=\"foo\"}"},
        {{RELABEL_KEEP, SRC("a"), .regex = "f.*"}, "{a=\"bar\"}", NULL},
        {{RELABEL_KEEP, SRC("a"), .regex = "o"}, "{a=\"foo\"}", NULL},
        {{RELABEL_KEEP, SRC("a"), .regex = "true"}, "{b=\"x\"}", NULL},
        {{RELABEL_KEEP, SRC("a"), .regex = ""}, "{b=\"x\"}", "{b=\"x\"}"},
        {{RELABEL_KEEP, SRC("a", "b"), .regex = "x;y"},
         "{a=\"x\",b=\"y\"}",
         "{a=\"x\",b=\"y\"}"},
        {{RELABEL_KEEP, SRC("a")}, "{}", "{}"}, /* (.*) matches "" */
        {{RELABEL_DROP, SRC("a"), .regex = "f.*"}, "{a=\"foo\"}", NULL},
        {{RELABEL_DROP, SRC("a"), .regex = "f.*"},
         "{a=\"bar\"}",
         "{a=\"bar\"}"},
        {{RELABEL_DROP, SRC("a"), .regex = "(?i)FOO"}, "{a=\"foo\"}", NULL},
        {{RELABEL_DROP, SRC("a"), .regex = "oo"}, "{a=\"foo\"}", "{a=\"foo\"}"},
    };
    RUN_CASES(cs);
}

static void test_keepequal_dropequal(void)
{
    struct pcase cs[] = {
        {{RELABEL_KEEPEQUAL, SRC("a"), .target_label = "b"},
         "{a=\"x\",b=\"x\"}",
         "{a=\"x\",b=\"x\"}"},
        {{RELABEL_KEEPEQUAL, SRC("a"), .target_label = "b"},
         "{a=\"x\",b=\"y\"}",
         NULL},
        {{RELABEL_KEEPEQUAL, SRC("a"), .target_label = "b"}, "{}", "{}"},
        {{RELABEL_KEEPEQUAL, SRC("a", "c"), .target_label = "b"},
         "{a=\"x\",b=\"x;y\",c=\"y\"}",
         "{a=\"x\",b=\"x;y\",c=\"y\"}"},
        {{RELABEL_DROPEQUAL, SRC("a"), .target_label = "b"},
         "{a=\"x\",b=\"x\"}",
         NULL},
        {{RELABEL_DROPEQUAL, SRC("a"), .target_label = "b"},
         "{a=\"x\",b=\"y\"}",
         "{a=\"x\",b=\"y\"}"},
        {{RELABEL_DROPEQUAL, SRC("a"), .target_label = "b"},
         "{a=\"x\"}",
         "{a=\"x\"}"},
    };
    RUN_CASES(cs);
}

static void test_hashmod(void)
{
    struct pcase cs[] = {
        /* md5("baz") ends e44cf984c85f6e88: 16450797887570275976 % 1000 */
        {{RELABEL_HASHMOD, SRC("c"), .target_label = "d", .modulus = 1000},
         "{a=\"foo\",b=\"bar\",c=\"baz\"}",
         "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"976\"}"},
        {{RELABEL_HASHMOD, SRC("c"), .target_label = "d", .modulus = 3},
         "{c=\"baz\"}",
         "{c=\"baz\",d=\"2\"}"},
        /* md5("foo;bar") ends ddadc4ed9df31f3e: 15973639978189266750. */
        {{RELABEL_HASHMOD, SRC("a", "b"), .target_label = "d", .modulus = 1000},
         "{a=\"foo\",b=\"bar\"}",
         "{a=\"foo\",b=\"bar\",d=\"750\"}"},
        /* md5("10.0.0.1:8080") ends 76612ddbd5f89a4c. */
        {{RELABEL_HASHMOD, SRC("__address__"), .target_label = "__tmp_hash",
          .modulus = 1000},
         "{__address__=\"10.0.0.1:8080\"}",
         "{__address__=\"10.0.0.1:8080\",__tmp_hash=\"260\"}"},
        /* md5("") ends e9800998ecf8427e; a modulus near 2^64. */
        {{RELABEL_HASHMOD, SRC("nope"), .target_label = "d",
          .modulus = UINT64_MAX},
         "{}",
         "{d=\"16825458760271544958\"}"},
        {{RELABEL_HASHMOD, SRC("nope"), .target_label = "d", .modulus = 1000},
         "{}",
         "{d=\"958\"}"},
    };
    RUN_CASES(cs);
}

static void test_labelmap_drop_keep(void)
{
    struct pcase cs[] = {
        {{RELABEL_LABELMAP, .regex = "__meta_kubernetes_pod_label_(.+)"},
         "{__meta_kubernetes_pod_label_app=\"web\","
         "__meta_kubernetes_pod_label_tier=\"db\",a=\"x\"}",
         "{__meta_kubernetes_pod_label_app=\"web\","
         "__meta_kubernetes_pod_label_tier=\"db\",a=\"x\",app=\"web\","
         "tier=\"db\"}"},
        {{RELABEL_LABELMAP, .regex = "(a|b)", .replacement = "${1}_copy"},
         "{a=\"1\",b=\"2\",c=\"3\"}",
         "{a=\"1\",a_copy=\"1\",b=\"2\",b_copy=\"2\",c=\"3\"}"},
        /* Anchored: "a" does not map "ab". */
        {{RELABEL_LABELMAP, .regex = "a", .replacement = "z"},
         "{ab=\"1\"}",
         "{ab=\"1\"}"},
        /* A mapped name that is empty is skipped. */
        {{RELABEL_LABELMAP, .regex = "x_(.*)"},
         "{x_=\"1\",x_y=\"2\"}",
         "{x_=\"1\",x_y=\"2\",y=\"2\"}"},
        /* Overwrites an existing label. */
        {{RELABEL_LABELMAP, .regex = "old_(.*)"},
         "{job=\"a\",old_job=\"b\"}",
         "{job=\"b\",old_job=\"b\"}"},
        {{RELABEL_LABELDROP, .regex = "__meta_.*"},
         "{__address__=\"h:1\",__meta_a=\"1\",__meta_b=\"2\",job=\"x\"}",
         "{__address__=\"h:1\",job=\"x\"}"},
        {{RELABEL_LABELDROP, .regex = "a"}, "{a=\"1\",ab=\"2\"}", "{ab=\"2\"}"},
        {{RELABEL_LABELDROP, .regex = "zzz"}, "{a=\"1\"}", "{a=\"1\"}"},
        {{RELABEL_LABELKEEP, .regex = "a|job"},
         "{a=\"1\",ab=\"2\",job=\"x\"}",
         "{a=\"1\",job=\"x\"}"},
        {{RELABEL_LABELKEEP, .regex = "zzz"}, "{a=\"1\"}", "{}"},
    };
    RUN_CASES(cs);
}

static void test_case_actions(void)
{
    struct pcase cs[] = {
        {{RELABEL_LOWERCASE, SRC("a", "b"), .target_label = "c"},
         "{a=\"FoO\",b=\"BAR\"}",
         "{a=\"FoO\",b=\"BAR\",c=\"foo;bar\"}"},
        {{RELABEL_UPPERCASE, SRC("a"), .target_label = "a"},
         "{a=\"foo-1_x\"}",
         "{a=\"FOO-1_X\"}"},
        {{RELABEL_LOWERCASE, SRC("a"), .target_label = "c"},
         "{a=\"\xc3\x84\xc3\x96\xc3\x9c \xce\xa3\"}", /* ÄÖÜ Σ */
         "{a=\"\xc3\x84\xc3\x96\xc3\x9c \xce\xa3\","
         "c=\"\xc3\xa4\xc3\xb6\xc3\xbc \xcf\x83\"}"}, /* äöü σ */
        {{RELABEL_UPPERCASE, SRC("a"), .target_label = "c"},
         "{a=\"caf\xc3\xa9\"}",
         "{a=\"caf\xc3\xa9\",c=\"CAF\xc3\x89\"}"},
        /* An empty result deletes the target. */
        {{RELABEL_LOWERCASE, SRC("nope"), .target_label = "a"},
         "{a=\"X\"}",
         "{}"},
    };
    RUN_CASES(cs);
}

static void test_invalid_configs(void)
{
    const char *many[RELABEL_SOURCES_MAX + 1];
    for (size_t i = 0; i <= RELABEL_SOURCES_MAX; i++)
        many[i] = "a";
    struct {
        struct relabel_spec spec;
        enum kb_status st;
        const char *msg;
    } cs[] = {
        {{RELABEL_HASHMOD, SRC("a"), .target_label = "b"},
         KB_ERR_INVALID,
         "relabel configuration for hashmod requires non-zero modulus"},
        {{RELABEL_HASHMOD, SRC("a"), .modulus = 2},
         KB_ERR_INVALID,
         "relabel configuration for hashmod action requires 'target_label' "
         "value"},
        {{RELABEL_HASHMOD, SRC("a"), .target_label = "$1", .modulus = 2},
         KB_ERR_INVALID,
         "\"$1\" is invalid 'target_label' for hashmod action"},
        {{RELABEL_REPLACE, SRC("a")},
         KB_ERR_INVALID,
         "relabel configuration for replace action requires 'target_label' "
         "value"},
        {{RELABEL_REPLACE, SRC("a"), .target_label = "1x"},
         KB_ERR_INVALID,
         "\"1x\" is invalid 'target_label' for replace action"},
        {{RELABEL_REPLACE, SRC("a"), .target_label = "$1-x"},
         KB_ERR_INVALID,
         "\"$1-x\" is invalid 'target_label' for replace action"},
        {{RELABEL_REPLACE, SRC("a"), .target_label = "a$"},
         KB_ERR_INVALID,
         "\"a$\" is invalid 'target_label' for replace action"},
        {{RELABEL_LOWERCASE, SRC("a")},
         KB_ERR_INVALID,
         "relabel configuration for lowercase action requires "
         "'target_label' value"},
        {{RELABEL_UPPERCASE, SRC("a"), .target_label = "${1}"},
         KB_ERR_INVALID,
         "\"${1}\" is invalid 'target_label' for uppercase action"},
        {{RELABEL_LOWERCASE, SRC("a"), .target_label = "b", .replacement = "x"},
         KB_ERR_INVALID,
         "'replacement' can not be set for lowercase action"},
        {{RELABEL_KEEPEQUAL, SRC("a")},
         KB_ERR_INVALID,
         "relabel configuration for keepequal action requires "
         "'target_label' value"},
        {{RELABEL_KEEPEQUAL, SRC("a"), .target_label = "b", .regex = "x"},
         KB_ERR_INVALID,
         "keepequal action requires only 'source_labels' and `target_label`, "
         "and no other fields"},
        {{RELABEL_DROPEQUAL, SRC("a"), .target_label = "b", .separator = ","},
         KB_ERR_INVALID,
         "dropequal action requires only 'source_labels' and `target_label`, "
         "and no other fields"},
        {{RELABEL_LABELDROP, SRC("a"), .regex = "x"},
         KB_ERR_INVALID,
         "labeldrop action requires only 'regex', and no other fields"},
        {{RELABEL_LABELKEEP, .regex = "x", .target_label = "y"},
         KB_ERR_INVALID,
         "labelkeep action requires only 'regex', and no other fields"},
        {{RELABEL_LABELMAP, .regex = "(.*)", .replacement = "foo-$1"},
         KB_ERR_INVALID,
         "\"foo-$1\" is invalid 'replacement' for labelmap action"},
        {{RELABEL_KEEP, SRC("a-b")},
         KB_ERR_INVALID,
         "\"a-b\" is not a valid label name"},
        {{RELABEL_KEEP, SRC("a"), .regex = "a(b"}, KB_ERR_INVALID, NULL},
        {{RELABEL_KEEP, .source_labels = many,
          .nsource_labels = RELABEL_SOURCES_MAX + 1},
         KB_ERR_LIMIT,
         "more than 64 'source_labels'"},
        {{RELABEL_REPLACE, SRC("a"), .target_label = "b",
          .replacement = "\xff"},
         KB_ERR_INVALID,
         "'replacement' is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        struct relabel_config c;
        struct kb_err err = {0};
        enum kb_status st = relabel_config_init(&c, &cs[i].spec, &err);
        if (st != cs[i].st ||
            (cs[i].msg != NULL && strcmp(err.msg, cs[i].msg) != 0)) {
            printf("# case %zu: status %d \"%s\", expected %d \"%s\"\n", i, st,
                   err.msg, cs[i].st, cs[i].msg ? cs[i].msg : "");
            unit_case_failed = 1;
        }
        if (st == KB_OK)
            relabel_config_free(&c);
    }
    /* The bad regex names its problem. */
    struct relabel_spec spec = {RELABEL_KEEP, SRC("a"), .regex = "a(b"};
    struct relabel_config c;
    struct kb_err err;
    CHECK_INT(relabel_config_init(&c, &spec, &err), KB_ERR_INVALID);
    CHECK(strstr(err.msg, "missing closing parenthesis") != NULL);
}

/* Several configs in order; errors name the config. */
static void test_process_chain(void)
{
    struct relabel_spec specs[] = {
        {.target_label = "x", .replacement = "1"},
        {RELABEL_REPLACE, SRC("x"), .target_label = "y", .replacement = "$1$1"},
        {RELABEL_DROP, SRC("y"), .regex = "11"},
        {.target_label = "z", .replacement = "never"},
    };
    struct relabel_config c[4];
    struct kb_err err;
    for (int i = 0; i < 4; i++)
        CHECK_INT(relabel_config_init(&c[i], &specs[i], &err), KB_OK);
    struct labels *in = parse("{a=\"b\"}"), *out = NULL;
    bool keep = true;
    CHECK_INT(relabel_process(c, 2, in, &out, &keep, &err), KB_OK);
    CHECK(keep);
    CHECK_STR(fmt(out), "{a=\"b\",x=\"1\",y=\"11\"}");
    labels_free(out);
    CHECK_INT(relabel_process(c, 4, in, &out, &keep, &err), KB_OK);
    CHECK(!keep);
    CHECK(out == NULL);
    CHECK_INT(relabel_process(c, 0, NULL, &out, &keep, &err), KB_OK);
    CHECK(keep);
    CHECK_STR(fmt(out), "{}");
    labels_free(out);

    /* A value past LABEL_VALUE_MAX is an error naming the config. */
    char big[LABEL_VALUE_MAX];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct labels *bigin = NULL;
    labels_from_strings(&bigin, NULL, "x", big, NULL);
    CHECK_INT(relabel_process(c + 1, 1, bigin, &out, &keep, &err),
              KB_ERR_LIMIT);
    CHECK_STR(err.msg, "relabel_configs[0] (replace): value of label \"y\" "
                       "longer than 4096 bytes");
    CHECK(!keep);
    CHECK(out == NULL);
    labels_free(bigin);
    labels_free(in);
    for (int i = 0; i < 4; i++)
        relabel_config_free(&c[i]);
}

/* ------------------------------------------------------------- targets */

static struct relabel_config *make_cfgs(const struct relabel_spec *specs,
                                        size_t n)
{
    struct relabel_config *c = calloc(n, sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        struct kb_err err;
        if (relabel_config_init(&c[i], &specs[i], &err) != KB_OK) {
            printf("# spec %zu: %s\n", i, err.msg);
            abort();
        }
    }
    return c;
}

static void free_cfgs(struct relabel_config *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        relabel_config_free(&c[i]);
    free(c);
}

static void test_populate_basic(void)
{
    struct relabel_job job = {.job_name = "api"};
    struct labels *t = parse("{__address__=\"10.0.0.1:6060\",__meta_x=\"y\","
                             "env=\"dev\"}");
    struct labels *g = parse("{env=\"prod\",zone=\"a\",__meta_g=\"1\"}");
    struct relabel_target out;
    struct kb_err err;
    bool keep;
    CHECK_INT(relabel_populate(&job, t, g, &out, &keep, &err), KB_OK);
    CHECK(keep);
    CHECK_STR(fmt(out.labels), "{env=\"dev\",instance=\"10.0.0.1:6060\","
                               "job=\"api\",zone=\"a\"}");
    CHECK_STR(fmt(out.all), "{__address__=\"10.0.0.1:6060\","
                            "__scheme__=\"http\",env=\"dev\","
                            "instance=\"10.0.0.1:6060\",job=\"api\","
                            "zone=\"a\"}");
    CHECK_STR(out.scheme, "http");
    CHECK_STR(out.address, "10.0.0.1:6060");
    CHECK(out.metrics_path == NULL);
    CHECK_INT(out.nparams, 0);
    CHECK_STR(out.query, "");
    CHECK_INT(out.scrape_interval_ms, 0);
    relabel_target_free(&out);
    relabel_target_free(&out);

    /* An explicit instance and job stay; https from the job. */
    labels_free(t);
    t = parse("{__address__=\"h:1\",instance=\"mine\",job=\"j\"}");
    job.scheme = "https";
    job.metrics_path = "/debug/pprof";
    job.scrape_interval_ms = 10000;
    job.scrape_timeout_ms = 15000;
    CHECK_INT(relabel_populate(&job, t, NULL, &out, &keep, &err), KB_OK);
    CHECK_STR(fmt(out.labels), "{instance=\"mine\",job=\"j\"}");
    CHECK_STR(out.scheme, "https");
    CHECK_STR(out.metrics_path, "/debug/pprof");
    CHECK_INT(out.scrape_interval_ms, 10000);
    CHECK_INT(out.scrape_timeout_ms, 15000);
    CHECK_STR(labels_get(out.all, "__scrape_interval__"), "10s");
    relabel_target_free(&out);
    labels_free(t);
    labels_free(g);
}

static void test_populate_params(void)
{
    struct relabel_param params[] = {
        {"seconds", "10"}, {"a", "1"}, {"a", "2"}, {"x-y", "a b&c"}};
    struct relabel_spec specs[] = {
        {.target_label = "__param_a", .replacement = "first"},
        {.target_label = "__param_new", .replacement = "v/1"},
    };
    struct relabel_config *c = make_cfgs(specs, 2);
    struct relabel_job job = {.job_name = "j",
                              .params = params,
                              .nparams = 4,
                              .relabel = c,
                              .nrelabel = 2};
    struct labels *t = parse("{__address__=\"h:1\"}");
    struct relabel_target out;
    struct kb_err err;
    bool keep;
    CHECK_INT(relabel_populate(&job, t, NULL, &out, &keep, &err), KB_OK);
    CHECK(keep);
    CHECK_STR(out.query, "a=first&a=2&new=v%2F1&seconds=10&x-y=a+b%26c");
    CHECK_INT(out.nparams, 5);
    if (out.nparams == 5) {
        CHECK_STR(out.params[0].name, "a");
        CHECK_STR(out.params[0].value, "first");
        CHECK_STR(out.params[1].value, "2");
        CHECK_STR(out.params[4].name, "x-y");
    }
    /* __param_seconds came from the job; x-y cannot be a label. */
    CHECK_STR(labels_get(out.all, "__param_seconds"), "10");
    CHECK_STR(labels_get(out.all, "__param_a"), "first");
    CHECK_STR(fmt(out.labels), "{instance=\"h:1\",job=\"j\"}");
    relabel_target_free(&out);
    labels_free(t);
    free_cfgs(c, 2);
}

static void test_populate_errors(void)
{
    struct {
        const char *target, *msg;
    } cs[] = {
        {"{a=\"b\"}", "no address"},
        {"{__address__=\"h:1/x\"}", "\"h:1/x\" is not a valid hostname"},
        {"{__address__=\"u@h:1\"}", "\"u@h:1\" is not a valid hostname"},
        {"{__address__=\"h:1?a\"}", "\"h:1?a\" is not a valid hostname"},
        {"{__address__=\"h 1\"}", "\"h 1\" is not a valid hostname"},
        {"{__address__=\"h:1\",__scheme__=\"file\"}",
         "scheme \"file\" is not http or https"},
        {"{__address__=\"h:1\",__scrape_interval__=\"0s\"}",
         "scrape interval cannot be 0"},
        {"{__address__=\"h:1\",__scrape_interval__=\"ten\"}", NULL},
        {"{__address__=\"h:1\",__scrape_timeout__=\"5x\"}", NULL},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        struct relabel_job job = {.job_name = "j"};
        struct labels *t = parse(cs[i].target);
        struct relabel_target out;
        struct kb_err err = {0};
        bool keep = true;
        enum kb_status st = relabel_populate(&job, t, NULL, &out, &keep, &err);
        if (st != KB_ERR_INVALID || keep ||
            (cs[i].msg && strcmp(err.msg, cs[i].msg) != 0)) {
            printf("# case %zu: %d \"%s\"\n", i, st, err.msg);
            unit_case_failed = 1;
        }
        CHECK(out.all == NULL && out.labels == NULL && out.query == NULL);
        labels_free(t);
    }
}

/* The usual prometheus.io/scrape pod recipe (Prometheus'
 * documentation/examples/prometheus-kubernetes.yml), and the same shape
 * with parca.dev annotations plus a labelmap of pod labels. */
static void pod_recipe(const char *ann, const char *ns_label)
{
    char scrape[128], scheme[128], path[128], port[128];
    snprintf(scrape, sizeof(scrape),
             "__meta_kubernetes_pod_annotation_%s_scrape", ann);
    snprintf(scheme, sizeof(scheme),
             "__meta_kubernetes_pod_annotation_%s_scheme", ann);
    snprintf(path, sizeof(path), "__meta_kubernetes_pod_annotation_%s_path",
             ann);
    snprintf(port, sizeof(port), "__meta_kubernetes_pod_annotation_%s_port",
             ann);
    struct relabel_spec specs[] = {
        {RELABEL_KEEP, SRC(scrape), .regex = "true"},
        {RELABEL_REPLACE, SRC(scheme), .regex = "(https?)",
         .target_label = "__scheme__"},
        {RELABEL_REPLACE, SRC(path), .regex = "(.+)",
         .target_label = "__metrics_path__"},
        {RELABEL_REPLACE, SRC("__address__", port),
         .regex = "([^:]+)(?::\\d+)?;(\\d+)", .replacement = "$1:$2",
         .target_label = "__address__"},
        {RELABEL_LABELMAP, .regex = "__meta_kubernetes_pod_label_(.+)"},
        {RELABEL_REPLACE, SRC("__meta_kubernetes_namespace"),
         .target_label = ns_label},
        {RELABEL_REPLACE, SRC("__meta_kubernetes_pod_name"),
         .target_label = "pod"},
    };
    size_t n = sizeof(specs) / sizeof(specs[0]);
    struct relabel_config *c = make_cfgs(specs, n);
    struct relabel_job job = {.job_name = "kubernetes-pods",
                              .metrics_path = "/debug/pprof",
                              .relabel = c,
                              .nrelabel = n};
    struct labels_builder *b = labels_builder_new();
    struct {
        const char *scrape, *scheme, *path, *port, *address;
        bool keep;
        const char *want_scheme, *want_address, *want_path;
    } cs[] = {
        {"true", NULL, NULL, "6060", "10.1.2.3:8080", true, "http",
         "10.1.2.3:6060", "/debug/pprof"},
        {"true", "https", "/pprof", "7070", "10.1.2.3", true, "https",
         "10.1.2.3:7070", "/pprof"},
        {"true", "ftp", NULL, NULL, "10.1.2.3:8080", true, "http",
         "10.1.2.3:8080", "/debug/pprof"},
        {"false", NULL, NULL, "6060", "10.1.2.3:8080", false, NULL, NULL, NULL},
        {NULL, NULL, NULL, "6060", "10.1.2.3:8080", false, NULL, NULL, NULL},
        {"True", NULL, NULL, NULL, "10.1.2.3:8080", false, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        struct kb_err err;
        labels_builder_reset(b, NULL);
        labels_builder_add(b, "__address__", cs[i].address, NULL);
        labels_builder_add(b, "__meta_kubernetes_namespace", "shop", NULL);
        labels_builder_add(b, "__meta_kubernetes_pod_name", "web-1", NULL);
        labels_builder_add(b, "__meta_kubernetes_pod_label_app", "web", NULL);
        labels_builder_add(b, "__meta_kubernetes_pod_label_pod_template_hash",
                           "5d8", NULL);
        if (cs[i].scrape)
            labels_builder_add(b, scrape, cs[i].scrape, NULL);
        if (cs[i].scheme)
            labels_builder_add(b, scheme, cs[i].scheme, NULL);
        if (cs[i].path)
            labels_builder_add(b, path, cs[i].path, NULL);
        if (cs[i].port)
            labels_builder_add(b, port, cs[i].port, NULL);
        struct labels *t = NULL;
        labels_builder_finish(b, &t, NULL);
        struct relabel_target out;
        bool keep;
        enum kb_status st = relabel_populate(&job, t, NULL, &out, &keep, &err);
        CHECK_INT(st, KB_OK);
        if (st != KB_OK)
            printf("# %s case %zu: %s\n", ann, i, err.msg);
        if (keep != cs[i].keep) {
            printf("# %s case %zu: keep %d\n", ann, i, keep);
            unit_case_failed = 1;
        }
        if (keep && cs[i].keep) {
            CHECK_STR(out.scheme, cs[i].want_scheme);
            CHECK_STR(out.address, cs[i].want_address);
            CHECK_STR(out.metrics_path, cs[i].want_path);
            char want[512];
            snprintf(want, sizeof(want),
                     "{app=\"web\",instance=\"%s\",job=\"kubernetes-pods\","
                     "%s=\"shop\",pod=\"web-1\",pod_template_hash=\"5d8\"}",
                     cs[i].want_address, ns_label);
            CHECK_STR(fmt(out.labels), want);
            CHECK(labels_get(out.all, scrape) == NULL);
        }
        relabel_target_free(&out);
        labels_free(t);
    }
    labels_builder_free(b);
    free_cfgs(c, n);
}

static void test_pod_recipe_prometheus_io(void)
{
    pod_recipe("prometheus_io", "kubernetes_namespace");
}

static void test_pod_recipe_parca_dev(void)
{
    pod_recipe("parca_dev", "namespace");
}

/* hashmod sharding with keep, as in Prometheus' sharding recipe. */
static void test_populate_sharding(void)
{
    struct relabel_spec specs[] = {
        {RELABEL_HASHMOD, SRC("__address__"), .target_label = "__tmp_hash",
         .modulus = 1000},
        {RELABEL_KEEP, SRC("__tmp_hash"), .regex = "260"},
    };
    struct relabel_config *c = make_cfgs(specs, 2);
    struct relabel_job job = {.job_name = "j", .relabel = c, .nrelabel = 2};
    struct labels *t1 = parse("{__address__=\"10.0.0.1:8080\"}");
    struct labels *t2 = parse("{__address__=\"10.0.0.2:8080\"}");
    struct relabel_target out;
    struct kb_err err;
    bool keep;
    CHECK_INT(relabel_populate(&job, t1, NULL, &out, &keep, &err), KB_OK);
    CHECK(keep);
    CHECK_STR(fmt(out.labels), "{instance=\"10.0.0.1:8080\",job=\"j\"}");
    relabel_target_free(&out);
    CHECK_INT(relabel_populate(&job, t2, NULL, &out, &keep, &err), KB_OK);
    CHECK(!keep);
    CHECK(out.labels == NULL);
    labels_free(t1);
    labels_free(t2);
    free_cfgs(c, 2);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_replace);
    RUN(test_expansion);
    RUN(test_keep_drop);
    RUN(test_keepequal_dropequal);
    RUN(test_hashmod);
    RUN(test_labelmap_drop_keep);
    RUN(test_case_actions);
    RUN(test_invalid_configs);
    RUN(test_process_chain);
    RUN(test_populate_basic);
    RUN(test_populate_params);
    RUN(test_populate_errors);
    RUN(test_pod_recipe_prometheus_io);
    RUN(test_pod_recipe_parca_dev);
    RUN(test_populate_sharding);
    return unit_done();
}
