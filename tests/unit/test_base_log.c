/* Unit tests for base/log: the logfmt line, quoting and escaping, levels,
 * and whole lines under concurrent writers. */
#include <pthread.h>

#include "base/log.h"
#include "tests/unit/unit.h"

static char *mem;
static size_t memlen;
static FILE *memf;

static int64_t fixed_clock(void)
{
    return INT64_C(1795236478123); /* 2026-11-21T04:47:58.123Z */
}

/* Send log lines to a fresh in-memory stream. */
static void capture(void)
{
    if (memf)
        fclose(memf);
    free(mem);
    mem = NULL;
    memf = open_memstream(&mem, &memlen);
    log_set_output(memf);
    log_set_clock(fixed_clock);
}

/* What was logged since capture() (the logger flushes every line). */
static const char *logged(void)
{
    return mem ? mem : "";
}

#define TS "ts=2026-11-21T04:47:58.123Z "

static void test_line_format(void)
{
    capture();
    log_info("tsdb", "block cut", "mint", "1700000000000", "blocks", "3", NULL);
    CHECK_STR(logged(), TS "level=info component=tsdb msg=\"block cut\" "
                           "mint=1700000000000 blocks=3\n");
    capture();
    log_warn(NULL, "ready", NULL);
    CHECK_STR(logged(), TS "level=warn msg=ready\n");
    capture();
    log_error("web", "x", "k", "v", NULL);
    log_kv(LOG_LEVEL_WARN, "web", "y", NULL);
    CHECK_STR(logged(), TS "level=error component=web msg=x k=v\n" TS
                           "level=warn component=web msg=y\n");
    capture();
    log_msgf(LOG_LEVEL_INFO, "scrape", "scraped %d targets in %.1fs", 12, 0.5);
    CHECK_STR(logged(), TS "level=info component=scrape msg=\"scraped 12 "
                           "targets in 0.5s\"\n");
    /* the real clock gives a real timestamp */
    capture();
    log_set_clock(NULL);
    log_info("c", "m", NULL);
    CHECK(strncmp(logged(), "ts=20", 5) == 0);
    CHECK(strlen(logged()) == strlen(TS "level=info component=c msg=m\n"));
}

static void test_quoting(void)
{
    capture();
    log_info("c", "m", "empty", "", "eq", "a=b", "quote", "say \"hi\"", "bs",
             "C:\\dir", "nl", "two\nlines", "ws", "tab\tcr\r", "ctl",
             "\x01\x7f", "utf8", "\xC3\xA9t\xC3\xA9", "bad", "a\xFF", "url",
             "http://h:80/p?q=1", NULL);
    CHECK_STR(logged(),
              TS "level=info component=c msg=m empty=\"\" eq=\"a=b\" "
                 "quote=\"say \\\"hi\\\"\" bs=C:\\dir nl=\"two\\nlines\" "
                 "ws=\"tab\\tcr\\r\" ctl=\"\\u0001\\u007f\" "
                 "utf8=\xC3\xA9t\xC3\xA9 bad=\"a\\ufffd\" "
                 "url=\"http://h:80/p?q=1\"\n");
    /* keys that would break the format are repaired; a missing value is
     * marked */
    capture();
    log_info("c", "m", "a key", "1", "", "2", "k=\"", "3", "last", NULL);
    CHECK_STR(logged(), TS "level=info component=c msg=m a_key=1 _=2 k__=3 "
                           "last=(MISSING)\n");
    /* a backslash alone does not force quotes, but inside quotes it is
     * escaped */
    capture();
    log_info("c", "m", "v", "a\\b c", NULL);
    CHECK_STR(logged(), TS "level=info component=c msg=m v=\"a\\\\b c\"\n");
}

static void test_long_values_are_cut(void)
{
    capture();
    char *v = malloc(LOG_VALUE_MAX + 11);
    memset(v, 'a', LOG_VALUE_MAX + 10);
    v[LOG_VALUE_MAX + 10] = '\0';
    log_info("c", "m", "v", v, NULL);
    const char *s = logged();
    const char *p = strstr(s, " v=\"");
    CHECK(p != NULL);
    if (p) {
        p += 4;
        size_t n = strspn(p, "a");
        CHECK_INT(n, LOG_VALUE_MAX);
        CHECK_STR(p + n, "...\"\n");
    }
    /* exactly LOG_VALUE_MAX bytes is not cut */
    v[LOG_VALUE_MAX] = '\0';
    capture();
    log_info("c", "m", "v", v, NULL);
    CHECK(strstr(logged(), "...") == NULL);
    CHECK(strstr(logged(), " v=aaaa") != NULL);
    free(v);
}

static void test_levels(void)
{
    enum log_level lv;
    struct kb_err err;
    CHECK_INT(log_level_parse("debug", &lv, &err), KB_OK);
    CHECK_INT(lv, LOG_LEVEL_DEBUG);
    CHECK_INT(log_level_parse("info", &lv, &err), KB_OK);
    CHECK_INT(lv, LOG_LEVEL_INFO);
    CHECK_INT(log_level_parse("warn", &lv, &err), KB_OK);
    CHECK_INT(lv, LOG_LEVEL_WARN);
    CHECK_INT(log_level_parse("error", &lv, &err), KB_OK);
    CHECK_INT(lv, LOG_LEVEL_ERROR);
    const char *bad[] = {"", "INFO", "warning", "info ", "fatal", "debu"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(log_level_parse(bad[i], &lv, &err), KB_ERR_INVALID);
    CHECK_STR(err.msg, "unknown log level \"debu\" (want debug, info, warn "
                       "or error)");
    CHECK_STR(log_level_str(LOG_LEVEL_WARN), "warn");
    CHECK_STR(log_level_str((enum log_level)17), "unknown");

    CHECK_INT(log_get_level(), LOG_LEVEL_INFO); /* the default */
    capture();
    log_debug("c", "hidden", NULL);
    log_msgf(LOG_LEVEL_DEBUG, "c", "hidden %d", 1);
    CHECK_STR(logged(), "");
    CHECK(!log_enabled(LOG_LEVEL_DEBUG));
    CHECK(log_enabled(LOG_LEVEL_INFO));
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("c", "shown", NULL);
    CHECK_STR(logged(), TS "level=debug component=c msg=shown\n");
    log_set_level(LOG_LEVEL_ERROR);
    capture();
    log_info("c", "no", NULL);
    log_warn("c", "no", NULL);
    log_error("c", "yes", NULL);
    CHECK_STR(logged(), TS "level=error component=c msg=yes\n");
    log_set_level(LOG_LEVEL_INFO);
}

struct writer {
    int id;
};

static void *writer_main(void *p)
{
    struct writer *w = p;
    char id[32];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "%d-%d", w->id, i);
        log_info("thread", "a message with spaces", "id", id, "pad",
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL);
    }
    return NULL;
}

static void test_threads_write_whole_lines(void)
{
    capture();
    pthread_t t[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i].id = i;
        CHECK_INT(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int lines = 0, good = 0, seen[4] = {0};
    const char *want_head = TS "level=info component=thread msg=\"a message "
                               "with spaces\" id=";
    const char *want_tail =
        " pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    for (const char *p = logged(); *p;) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        lines++;
        size_t hl = strlen(want_head), tl = strlen(want_tail);
        int th, i;
        if ((size_t)(nl - p) > hl + tl && strncmp(p, want_head, hl) == 0 &&
            strncmp(nl - tl, want_tail, tl) == 0 &&
            sscanf(p + hl, "%d-%d", &th, &i) == 2 && th >= 0 && th < 4 &&
            i == seen[th]) {
            seen[th]++; /* each thread's lines in its own order */
            good++;
        }
        p = nl + 1;
    }
    CHECK_INT(lines, 2000);
    CHECK_INT(good, 2000);
}

int main(void)
{
    RUN(test_line_format);
    RUN(test_quoting);
    RUN(test_long_values_are_cut);
    RUN(test_levels);
    RUN(test_threads_write_whole_lines);
    log_set_output(NULL);
    log_set_clock(NULL);
    if (memf)
        fclose(memf);
    free(mem);
    return unit_done();
}
