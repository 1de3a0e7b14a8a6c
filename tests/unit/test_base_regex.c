/* Unit tests for base/regex: Prometheus anchoring and RE2-style syntax on
 * PCRE2, groups, search mode, compile errors, limits and threads. */
#include <pthread.h>

#include "base/regex.h"
#include "tests/unit/unit.h"

static struct kb_regex *compile(const char *pat, unsigned flags)
{
    struct kb_regex *re = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    if (kb_regex_compile(pat, strlen(pat), flags, &re, &err) != KB_OK)
        printf("# compile %s: %s\n", pat, err.msg);
    CHECK(re != NULL);
    return re;
}

/* Whether `pat` (fully anchored) matches `s`. */
static int m(const char *pat, const char *s)
{
    struct kb_regex *re = compile(pat, 0);
    if (re == NULL)
        return -1;
    bool matched = false;
    struct kb_err err;
    CHECK_INT(kb_regex_exec(re, s, strlen(s), &matched, &err), KB_OK);
    kb_regex_free(re);
    return matched;
}

/* Whether `pat` is found anywhere in `s`. */
static int search(const char *pat, const char *s)
{
    struct kb_regex *re = compile(pat, KB_REGEX_SEARCH);
    if (re == NULL)
        return -1;
    int r = kb_regex_match(re, s, strlen(s));
    kb_regex_free(re);
    return r;
}

static void compile_err(const char *pat, size_t len, enum kb_status st,
                        const char *msg)
{
    struct kb_regex *re = (struct kb_regex *)1;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(kb_regex_compile(pat, len, 0, &re, &err), st);
    CHECK(re == NULL);
    if (msg)
        CHECK_STR(err.msg, msg);
    else if (st == KB_ERR_INVALID)
        CHECK(strstr(err.msg, ": offset ") != NULL);
}

static void test_anchoring(void)
{
    CHECK_INT(m("foo", "foo"), 1);
    CHECK_INT(m("foo", "foobar"), 0);
    CHECK_INT(m("foo", "xfoo"), 0);
    CHECK_INT(m("foo|bar", "bar"), 1);
    CHECK_INT(m("foo|bar", "foobar"), 0);
    /* the end anchor backtracks into alternatives, as Go's ^(?:a|ab)$ */
    CHECK_INT(m("a|ab", "ab"), 1);
    CHECK_INT(m("ab|a", "a"), 1);
    CHECK_INT(m("(a|ab)(c|bcd)", "abcd"), 1);
    CHECK_INT(m("", ""), 1);
    CHECK_INT(m("", "a"), 0);
    CHECK_INT(m(".*", ""), 1);
    CHECK_INT(m("api-.*", "api-eu-1"), 1);
    CHECK_INT(m("api-.*", "xapi-eu-1"), 0);
    /* '.' matches newline (Prometheus 3); '$' is the very end only */
    CHECK_INT(m(".*", "a\nb"), 1);
    CHECK_INT(m("a$", "a\n"), 0);
    CHECK_INT(search("a$", "a\n"), 0);
    CHECK_INT(search("a$", "ba"), 1);
    CHECK_INT(m("^a$", "a"), 1);
    /* ...and a group cannot be escaped by the pattern text */
    compile_err("a)|(b", 5, KB_ERR_INVALID, NULL);
}

static void test_re2_syntax(void)
{
    CHECK_INT(m("\\d+", "12345"), 1);
    CHECK_INT(m("\\d+", "12a45"), 0);
    /* \d is ASCII only, as in RE2 (these are Arabic-Indic digits) */
    CHECK_INT(m("\\d+", "\xD9\xA1\xD9\xA2"), 0);
    CHECK_INT(m("\\w+\\s\\w+", "hello world"), 1);
    CHECK_INT(m("(?i)abc", "AbC"), 1);
    CHECK_INT(m("(?i)\xC3\xA9t\xC3\xA9", "\xC3\x89T\xC3\x89"), 1); /* été */
    CHECK_INT(m("abc", "ABC"), 0);
    CHECK_INT(m("a.*?b", "axxbyyb"), 1);
    CHECK_INT(m("a.+?", "abc"), 1);
    CHECK_INT(m("[a-z]+_[0-9]{2}", "job_42"), 1);
    CHECK_INT(m("[a-z]+_[0-9]{2}", "job_4"), 0);
    CHECK_INT(m("[^/]+", "a/b"), 0);
    CHECK_INT(m("[[:alpha:]]+", "abcXYZ"), 1);
    CHECK_INT(m("\\pL+", "\xE6\x97\xA5\xE6\x9C\xAC"), 1); /* 日本 */
    /* '.' is one code point */
    CHECK_INT(m(".", "\xC3\xA9"), 1);
    CHECK_INT(m("..", "\xC3\xA9"), 0);
    CHECK_INT(m("regexp\\.Compile.*", "regexp.Compile"), 1);
    CHECK_INT(m("regexp\\.Compile.*", "regexpXCompile"), 0);
    CHECK_INT(m("(?P<x>a)(?P=x)", "aa"), 1);
    CHECK_INT(m("(?U)a+", "aaa"), 1);
    CHECK_INT(m("\\Qa.b\\E", "a.b"), 1);
    CHECK_INT(m("\\Qa.b\\E", "axb"), 0);
    CHECK_INT(m("x{2,3}", "xxxx"), 0);
}

static void test_subjects(void)
{
    struct kb_regex *re = compile("a\\x00b", 0);
    CHECK(kb_regex_match(re, "a\0b", 3));
    CHECK(!kb_regex_match(re, "a\0b", 2));
    kb_regex_free(re);
    /* NUL inside the pattern text itself */
    struct kb_err err;
    CHECK_INT(kb_regex_compile("a\0b", 3, 0, &re, &err), KB_OK);
    CHECK(kb_regex_match(re, "a\0b", 3));
    size_t plen;
    CHECK(memcmp(kb_regex_pattern(re, &plen), "a\0b", 3) == 0);
    CHECK_INT(plen, 3);
    kb_regex_free(re);
    /* an empty subject may be NULL */
    re = compile(".*", 0);
    CHECK(kb_regex_match(re, NULL, 0));
    /* invalid UTF-8 in the subject is not an error: those bytes match
     * nothing, not even '.' */
    bool matched = true;
    CHECK_INT(kb_regex_exec(re, "a\xFF", 2, &matched, &err), KB_OK);
    CHECK(!matched);
    kb_regex_free(re);
    re = compile("a", KB_REGEX_SEARCH);
    CHECK(kb_regex_match(re,
                         "\xFF\xFE"
                         "a",
                         3));
    kb_regex_free(re);
    re = compile("", 0);
    CHECK_STR(kb_regex_pattern(re, NULL), "");
    kb_regex_free(re);
}

static void test_groups(void)
{
    struct kb_regex *re = compile("(\\w+):(\\d+)", 0);
    CHECK_INT(kb_regex_group_count(re), 2);
    struct kb_regex_span g[5];
    bool matched;
    struct kb_err err;
    CHECK_INT(kb_regex_exec_groups(re, "host:8080", 9, g, 5, &matched, &err),
              KB_OK);
    CHECK(matched);
    CHECK_INT(g[0].start, 0);
    CHECK_INT(g[0].end, 9);
    CHECK_INT(g[1].start, 0);
    CHECK_INT(g[1].end, 4);
    CHECK_INT(g[2].start, 5);
    CHECK_INT(g[2].end, 9);
    CHECK(g[3].start == KB_REGEX_UNSET && g[4].end == KB_REGEX_UNSET);
    /* fewer spans than groups */
    CHECK_INT(kb_regex_exec_groups(re, "host:8080", 9, g, 2, &matched, &err),
              KB_OK);
    CHECK(matched);
    CHECK_INT(g[1].end, 4);
    /* no match: every span unset */
    CHECK_INT(kb_regex_exec_groups(re, "host:", 5, g, 3, &matched, &err),
              KB_OK);
    CHECK(!matched);
    CHECK(g[0].start == KB_REGEX_UNSET && g[1].start == KB_REGEX_UNSET);
    kb_regex_free(re);

    re = compile("(a)|(?<second>b)", 0);
    CHECK_INT(kb_regex_group_index(re, "second"), 2);
    CHECK_INT(kb_regex_group_index(re, "nope"), -1);
    CHECK_INT(kb_regex_exec_groups(re, "b", 1, g, 3, &matched, &err), KB_OK);
    CHECK(matched);
    CHECK(g[1].start == KB_REGEX_UNSET && g[1].end == KB_REGEX_UNSET);
    CHECK_INT(g[2].start, 0);
    CHECK_INT(g[2].end, 1);
    kb_regex_free(re);

    re = compile("o+", KB_REGEX_SEARCH);
    CHECK_INT(kb_regex_exec_groups(re, "foobar", 6, g, 1, &matched, &err),
              KB_OK);
    CHECK(matched);
    CHECK_INT(g[0].start, 1);
    CHECK_INT(g[0].end, 3);
    kb_regex_free(re);
}

static void test_compile_errors(void)
{
    compile_err("a(b", 3, KB_ERR_INVALID,
                "regex \"a(b\": offset 3: missing closing parenthesis");
    compile_err("(", 1, KB_ERR_INVALID, NULL);
    compile_err(")", 1, KB_ERR_INVALID, NULL);
    compile_err("[a-", 3, KB_ERR_INVALID, NULL);
    compile_err("[z-a]", 5, KB_ERR_INVALID, NULL);
    compile_err("a{2,1}", 6, KB_ERR_INVALID, NULL);
    compile_err("*a", 2, KB_ERR_INVALID, NULL);
    compile_err("a**", 3, KB_ERR_INVALID, NULL);
    compile_err("\\", 1, KB_ERR_INVALID, NULL);
    compile_err("(?<", 3, KB_ERR_INVALID, NULL);
    compile_err("\\C", 2, KB_ERR_INVALID, NULL);
    compile_err("(?P<n>a)(?P<n>b)", 16, KB_ERR_INVALID, NULL);
    compile_err("\xFF", 1, KB_ERR_INVALID, NULL);
    compile_err("a\xC3", 2, KB_ERR_INVALID, NULL);
    /* a newline in the pattern stays out of the one-line message */
    compile_err("(\n", 2, KB_ERR_INVALID,
                "regex \"(\\x0A\": offset 2: missing closing parenthesis");
    struct kb_regex *re = (struct kb_regex *)1;
    struct kb_err err;
    CHECK_INT(kb_regex_compile("a", 1, 0x80, &re, &err), KB_ERR_INTERNAL);
    CHECK(re == NULL);
    /* length limit, and deep nesting */
    char *big = malloc(KB_REGEX_PATTERN_MAX + 1);
    memset(big, 'a', KB_REGEX_PATTERN_MAX + 1);
    compile_err(big, KB_REGEX_PATTERN_MAX + 1, KB_ERR_LIMIT, NULL);
    CHECK_INT(kb_regex_compile(big, KB_REGEX_PATTERN_MAX, 0, &re, &err), KB_OK);
    kb_regex_free(re);
    for (int i = 0; i < 1000; i++) {
        big[i] = '(';
        big[2000 - 1 - i] = ')';
    }
    compile_err(big, 2000, KB_ERR_INVALID, NULL);
    free(big);
}

static void test_match_limit(void)
{
    /* catastrophic backtracking ends with KB_ERR_LIMIT, not a hang */
    struct kb_regex *re = compile("(a+)+$", 0);
    char s[64];
    memset(s, 'a', sizeof(s));
    s[sizeof(s) - 1] = 'b';
    bool matched = true;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(kb_regex_exec(re, s, sizeof(s), &matched, &err), KB_ERR_LIMIT);
    CHECK(!matched);
    CHECK_STR(err.msg, "regex \"(a+)+$\": match too expensive (limit reached)");
    CHECK(!kb_regex_match(re, s, sizeof(s)));
    kb_regex_free(re);
    /* a long subject with a heavily backtracking but bounded pattern */
    re = compile("(a|b)*c", 0);
    char *long_s = malloc(100001);
    for (int i = 0; i < 100000; i++)
        long_s[i] = i % 2 ? 'a' : 'b';
    long_s[100000] = 'c';
    bool ok = false;
    enum kb_status st = kb_regex_exec(re, long_s, 100001, &ok, &err);
    /* either it matches or it is refused as too expensive: never a crash */
    CHECK(st == KB_OK ? ok : st == KB_ERR_LIMIT);
    free(long_s);
    kb_regex_free(re);
}

struct thread_arg {
    const struct kb_regex *re;
    int matches;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    char s[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(s, sizeof(s), "func_%d", i);
        if (kb_regex_match(a->re, s, (size_t)n))
            a->matches++;
    }
    return NULL;
}

static void test_threads(void)
{
    struct kb_regex *re = compile("func_\\d*7", 0);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].re = re;
        args[i].matches = 0;
        CHECK_INT(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(args[i].matches, 2000);
    }
    kb_regex_free(re);
}

int main(void)
{
    RUN(test_anchoring);
    RUN(test_re2_syntax);
    RUN(test_subjects);
    RUN(test_groups);
    RUN(test_compile_errors);
    RUN(test_match_limit);
    RUN(test_threads);
    return unit_done();
}
