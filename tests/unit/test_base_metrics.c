/* tests/unit/test_base_metrics.c: the metrics registry (base/metrics.h):
 * exact exposition text, escaping, histogram buckets, get-or-create
 * identity, concurrent updates, the output limit, process metrics, and the
 * programming errors that abort. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/metrics.h"
#include "tests/unit/unit.h"

/* The exposition of `r` as a string the caller frees. */
static char *expose(struct metrics_registry *r)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    struct kb_err err = {0};
    CHECK_INT(metrics_write(r, &b, &err), KB_OK);
    size_t len;
    return (char *)buf_take(&b, &len);
}

static double answer(void *arg)
{
    return *(double *)arg;
}

static void test_exposition_exact(void)
{
    struct metrics_registry *r = metrics_registry_new();
    struct metrics_counter *c2 =
        metrics_counter(r, "kiln_requests_total", "Requests.", "handler", "/b",
                        "code", "200", NULL);
    struct metrics_counter *c1 =
        metrics_counter(r, "kiln_requests_total", "Requests.", "code", "200",
                        "handler", "/a", NULL);
    metrics_counter_add(c1, 3);
    metrics_counter_add(c2, 0.5);
    struct metrics_gauge *g =
        metrics_gauge(r, "kiln_temperature_celsius", "Heat.", NULL);
    metrics_gauge_set(g, 21.5);
    metrics_gauge_add(g, -1);
    static const double bounds[] = {0.1, 1};
    struct metrics_histogram *h =
        metrics_histogram(r, "kiln_duration_seconds", "Durations.", bounds, 2,
                          "handler", "/a", NULL);
    metrics_histogram_observe(h, 0.05);
    metrics_histogram_observe(h, 0.5);
    metrics_histogram_observe(h, 2);
    double v = 1e21;
    metrics_gauge_func(r, "kiln_big", "Big.", answer, &v, NULL);
    char *text = expose(r);
    CHECK_STR(text, "# HELP kiln_big Big.\n"
                    "# TYPE kiln_big gauge\n"
                    "kiln_big 1e+21\n"
                    "# HELP kiln_duration_seconds Durations.\n"
                    "# TYPE kiln_duration_seconds histogram\n"
                    "kiln_duration_seconds_bucket{handler=\"/a\",le=\"0.1\"} "
                    "1\n"
                    "kiln_duration_seconds_bucket{handler=\"/a\",le=\"1\"} 2\n"
                    "kiln_duration_seconds_bucket{handler=\"/a\",le=\"+Inf\"} "
                    "3\n"
                    "kiln_duration_seconds_sum{handler=\"/a\"} 2.55\n"
                    "kiln_duration_seconds_count{handler=\"/a\"} 3\n"
                    "# HELP kiln_requests_total Requests.\n"
                    "# TYPE kiln_requests_total counter\n"
                    "kiln_requests_total{code=\"200\",handler=\"/a\"} 3\n"
                    "kiln_requests_total{code=\"200\",handler=\"/b\"} 0.5\n"
                    "# HELP kiln_temperature_celsius Heat.\n"
                    "# TYPE kiln_temperature_celsius gauge\n"
                    "kiln_temperature_celsius 20.5\n");
    free(text);
    /* Function values are read at each exposition. */
    v = NAN;
    text = expose(r);
    CHECK(strstr(text, "kiln_big NaN\n") != NULL);
    free(text);
    metrics_registry_free(r);
    metrics_registry_free(NULL);
}

static void test_escaping(void)
{
    struct metrics_registry *r = metrics_registry_new();
    metrics_gauge_set(metrics_gauge(r, "x", "a \\ b\nc \"q\"", "path",
                                    "C:\\dir\n\"quoted\"\xff", NULL),
                      -INFINITY);
    char *text = expose(r);
    CHECK_STR(text,
              "# HELP x a \\\\ b\\nc \"q\"\n"
              "# TYPE x gauge\n"
              "x{path=\"C:\\\\dir\\n\\\"quoted\\\"\xEF\xBF\xBD\"} -Inf\n");
    free(text);
    metrics_registry_free(r);
}

static void test_histogram_buckets(void)
{
    struct metrics_registry *r = metrics_registry_new();
    static const double bounds[] = {-1, 0, 1, 10};
    struct metrics_histogram *h =
        metrics_histogram(r, "h_seconds", "H.", bounds, 4, NULL);
    /* A value equal to a bound counts in that bound's bucket. */
    const double obs[] = {-5, -1, 0, 0.5, 1, 1, 9.9, 10, 11, 1e300};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        metrics_histogram_observe(h, obs[i]);
    char *text = expose(r);
    CHECK_STR(text, "# HELP h_seconds H.\n"
                    "# TYPE h_seconds histogram\n"
                    "h_seconds_bucket{le=\"-1\"} 2\n"
                    "h_seconds_bucket{le=\"0\"} 3\n"
                    "h_seconds_bucket{le=\"1\"} 6\n"
                    "h_seconds_bucket{le=\"10\"} 8\n"
                    "h_seconds_bucket{le=\"+Inf\"} 10\n"
                    "h_seconds_sum 1e+300\n"
                    "h_seconds_count 10\n");
    free(text);
    metrics_registry_free(r);
}

static void test_get_or_create(void)
{
    struct metrics_registry *r = metrics_registry_new();
    struct metrics_counter *a =
        metrics_counter(r, "c_total", "First help.", "x", "1", "y", "2", NULL);
    struct metrics_counter *b =
        metrics_counter(r, "c_total", "Second help.", "y", "2", "x", "1", NULL);
    struct metrics_counter *c =
        metrics_counter(r, "c_total", "First help.", "x", "1", NULL);
    CHECK(a == b);
    CHECK(a != c);
    metrics_counter_add(a, 2);
    metrics_counter_add(b, 0.25);
    CHECK(metrics_counter_value(a) == 2.25);
    CHECK(metrics_counter_value(c) == 0);
    struct metrics_gauge *g1 = metrics_gauge(r, "g", "G.", NULL);
    CHECK(g1 == metrics_gauge(r, "g", "G.", NULL));
    metrics_gauge_set(g1, 7);
    CHECK(metrics_gauge_value(g1) == 7);
    static const double bounds[] = {1, 2};
    struct metrics_histogram *h =
        metrics_histogram(r, "h", "H.", bounds, 2, "k", "v", NULL);
    CHECK(h == metrics_histogram(r, "h", "H.", bounds, 2, "k", "v", NULL));
    char *text = expose(r);
    CHECK(strstr(text, "# HELP c_total First help.\n") != NULL);
    CHECK(strstr(text, "Second help") == NULL);
    CHECK(strstr(text, "c_total{x=\"1\",y=\"2\"} 2.25\n") != NULL);
    CHECK(strstr(text, "c_total{x=\"1\"} 0\n") != NULL);
    free(text);
    metrics_registry_free(r);
}

#define THREADS 4
#define ROUNDS 200000

struct worker {
    struct metrics_registry *r;
    struct metrics_counter *c;
    struct metrics_gauge *g;
    struct metrics_histogram *h;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        metrics_counter_add(w->c, 1);
        metrics_gauge_add(w->g, 0.5);
        metrics_histogram_observe(w->h, (double)(i % 4));
        if (i % 50000 == 0) /* get-or-create races with the updates */
            metrics_counter_add(
                metrics_counter(w->r, "n_total", "N.", "k", "v", NULL), 0);
    }
    return NULL;
}

static void test_concurrent_updates(void)
{
    struct metrics_registry *r = metrics_registry_new();
    static const double bounds[] = {0, 1, 2};
    struct worker w = {r, metrics_counter(r, "n_total", "N.", "k", "v", NULL),
                       metrics_gauge(r, "g", "G.", NULL),
                       metrics_histogram(r, "h", "H.", bounds, 3, NULL)};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_INT(pthread_create(&t[i], NULL, work, &w), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(metrics_counter_value(w.c) == (double)THREADS * ROUNDS);
    CHECK(metrics_gauge_value(w.g) == (double)THREADS * ROUNDS / 2);
    char *text = expose(r);
    char want[256];
    snprintf(want, sizeof(want),
             "h_bucket{le=\"0\"} %d\nh_bucket{le=\"1\"} %d\n"
             "h_bucket{le=\"2\"} %d\nh_bucket{le=\"+Inf\"} %d\n"
             "h_sum %d\nh_count %d\n",
             THREADS * ROUNDS / 4, THREADS * ROUNDS / 2,
             THREADS * ROUNDS / 4 * 3, THREADS * ROUNDS,
             THREADS * ROUNDS / 4 * 6, THREADS * ROUNDS);
    CHECK(strstr(text, want) != NULL);
    if (strstr(text, want) == NULL)
        printf("# got:\n%s", text);
    free(text);
    metrics_registry_free(r);
}

static void test_limit(void)
{
    struct metrics_registry *r = metrics_registry_new();
    metrics_counter_add(metrics_counter(r, "a_total", "A.", NULL), 1);
    metrics_counter_add(metrics_counter(r, "b_total", "B.", NULL), 1);
    struct buf b;
    buf_init(&b, 60);
    buf_puts(&b, "keep");
    struct kb_err err = {0};
    CHECK_INT(metrics_write(r, &b, &err), KB_ERR_LIMIT);
    CHECK_STR(buf_cstr(&b), "keep");
    CHECK(strstr(err.msg, "larger than 60 bytes") != NULL);
    buf_free(&b);
    metrics_registry_free(r);
}

static double value_of(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(text, key);
    return p != NULL ? strtod(p + strlen(key), NULL) : NAN;
}

static void test_process_metrics(void)
{
    struct metrics_registry *r = metrics_registry_new();
    metrics_register_process(r);
    /* Burn a little CPU so the counter has something to show. */
    volatile double x = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            x += i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    } while (t1.tv_sec - t0.tv_sec < 1 &&
             (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec <
                 50000000L);
    char *text = expose(r);
    double cpu = value_of(text, "process_cpu_seconds_total");
    double rss = value_of(text, "process_resident_memory_bytes");
    double vsz = value_of(text, "process_virtual_memory_bytes");
    double start = value_of(text, "process_start_time_seconds");
    double fds = value_of(text, "process_open_fds");
    double max = value_of(text, "process_max_fds");
    double now = (double)time(NULL);
    CHECK(cpu > 0 && cpu < 3600);
    CHECK(rss > 1 << 20 && rss <= vsz);
    CHECK(start > now - 3600 && start <= now + 1);
    CHECK(fds >= 3 && fds <= max);
    CHECK(strstr(text, "# TYPE process_cpu_seconds_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE process_open_fds gauge\n") != NULL);
    if (!(cpu > 0 && rss > 0 && fds >= 3))
        printf("# got:\n%s", text);
    free(text);
    metrics_registry_free(r);
}

/* Run `fn` in a child with stderr in a pipe: true when it aborted with a
 * message containing `want`. */
static bool aborts(void (*fn)(struct metrics_registry *), const char *want)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(metrics_registry_new());
        _exit(0);
    }
    close(fds[1]);
    char msg[1024];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(msg) - 1 &&
           (k = read(fds[0], msg + n, sizeof(msg) - 1 - n)) > 0)
        n += (size_t)k;
    msg[n] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
              strstr(msg, want) != NULL;
    if (!ok)
        printf("# status %d, stderr: %s\n", status, msg);
    return ok;
}

static void type_clash(struct metrics_registry *r)
{
    metrics_counter(r, "x_total", "X.", NULL);
    metrics_gauge(r, "x_total", "X.", NULL);
}

static void bad_label(struct metrics_registry *r)
{
    metrics_counter(r, "x_total", "X.", "__reserved", "v", NULL);
}

static void le_label(struct metrics_registry *r)
{
    static const double b[] = {1};
    metrics_histogram(r, "h", "H.", b, 1, "le", "1", NULL);
}

static void bounds_clash(struct metrics_registry *r)
{
    static const double b1[] = {1}, b2[] = {2};
    metrics_histogram(r, "h", "H.", b1, 1, NULL);
    metrics_histogram(r, "h", "H.", b2, 1, "k", "v", NULL);
}

static void bad_name(struct metrics_registry *r)
{
    metrics_gauge(r, "9lives", "G.", NULL);
}

static void odd_labels(struct metrics_registry *r)
{
    metrics_gauge(r, "g", "G.", "a", NULL);
}

static void dup_label(struct metrics_registry *r)
{
    metrics_gauge(r, "g", "G.", "a", "1", "a", "2", NULL);
}

static void func_twice(struct metrics_registry *r)
{
    metrics_register_process(r);
    metrics_register_process(r);
}

static void negative_add(struct metrics_registry *r)
{
    metrics_counter_add(metrics_counter(r, "x_total", "X.", NULL), -1);
}

static void test_programming_errors_abort(void)
{
    CHECK(aborts(type_clash, "x_total registered as a counter, then as a "
                             "gauge"));
    CHECK(aborts(bad_label, "invalid label name \"__reserved\""));
    CHECK(aborts(le_label, "invalid label name \"le\""));
    CHECK(aborts(bounds_clash, "two sets of bucket bounds"));
    CHECK(aborts(bad_name, "invalid metric name \"9lives\""));
    CHECK(aborts(odd_labels, "label a has no value"));
    CHECK(aborts(dup_label, "label a given twice"));
    CHECK(aborts(func_twice, "registered twice"));
    CHECK(aborts(negative_add, "is not >= 0"));
}

int main(void)
{
    RUN(test_exposition_exact);
    RUN(test_escaping);
    RUN(test_histogram_buckets);
    RUN(test_get_or_create);
    RUN(test_concurrent_updates);
    RUN(test_limit);
    RUN(test_process_metrics);
    RUN(test_programming_errors_abort);
    return unit_done();
}
