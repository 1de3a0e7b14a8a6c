/* bench/exporter_overhead.c: what libkiln-exporter costs the program it
 * profiles, in one run that prints ratios and the goals' verdicts.
 *
 * Design. The program re-executes itself once per cell (a workload under a
 * profiler setting) and repeats the whole round of cells ROUNDS times, after
 * one warm-up round that is not counted. Each child does a fixed amount of
 * work and reports the CPU time of the whole process (getrusage: the signal
 * handler, the drain thread and the HTTP server included) and its thread
 * count. Cells are compared within a round (ratio = cell / baseline of the
 * same round) and the table shows the median of those per-round ratios and
 * their interquartile range, so a machine that gets busier or quieter
 * during the run moves numerator and denominator alike.
 *
 * Workloads:
 *   cpu    a single busy thread (hashing), 1.5 G iterations
 *   loop   20 M malloc/free pairs of 16..1040 bytes in a tight loop: malloc
 *          and free are nearly all of its time (the worst case)
 *   words  a word count: 120 batches of 40 000 tokens drawn from a skewed
 *          vocabulary; each token is formatted into a heap string, hashed
 *          and looked up in a chained hash map of heap-allocated records;
 *          a new word keeps its string and gets a record, a known one frees
 *          the string; each batch ends by walking the map and freeing it.
 *          malloc and free are a large share of its time but not all of it;
 *          the share is measured (the `bump` cell) and printed
 *   lock   50 M uncontended pthread_mutex_lock/unlock pairs
 * Profiler settings (the library always through LD_PRELOAD of this
 * unmodified program):
 *   none   no library, one thread
 *   idle   no library, as many threads as the profiled cell of the same
 *          workload had (found in the warm-up round), all asleep. glibc
 *          takes cheaper paths while a process has a single thread (a
 *          private mutex is locked without an atomic instruction, malloc
 *          skips its arena lock), and the exporter's HTTP server is a
 *          thread: this is the
 *          baseline that has the profiled process's threads, so the ratio
 *          to it is the cost of profiling, and idle/none the cost of
 *          becoming multi-threaded, which any in-process server brings
 *   off    the exporter running with only the CPU profiler enabled and
 *          nobody collecting (no timer, no signal): the interposed malloc
 *          family and pthread_mutex_lock with heap and mutex sampling off
 *   kiln   the exporter with the workload's profiler on: for cpu a
 *          /debug/pprof/profile request held open for the whole run (100
 *          Hz), for loop and words heap sampling (512 KiB), for lock mutex
 *          profiling (1 in 10)
 *          (off and kiln listen on port 0; the child asks the library for
 *          the address with dlsym(kiln_exporter_addr), and a child whose
 *          exporter did not start exits 3: the run counts as failed, and
 *          the table says how many failed, instead of timing a process
 *          that was not profiled)
 *   gperf  gperftools' CPU profiler (libprofiler.so.0, CPUPROFILE,
 *          CPUPROFILE_FREQUENCY=100), cpu only; skipped with a note when
 *          Debian's libgoogle-perftools-dev is not installed
 *   bump   words only, no library: the same code with malloc and free
 *          replaced by a bump pointer in memory mapped before the clock
 *          starts; 1 - bump/none is the share of words' time spent in
 *          malloc and free (their calls, and their effect on the caches)
 *
 *     bench/exporter_overhead [LIBKILN [ROUNDS]]
 *
 * LIBKILN defaults to exporter-kit/.libs/libkiln-exporter.so next to the
 * bench directory of the build tree; ROUNDS to 11. Never run by make check;
 * it asserts nothing and always exits 0 once the table is printed.
 *
 * Goals (the issue's), judged per row in the last column:
 *   CPU    kiln / none <= 1.01, and no worse than gperftools: kiln
 *          slower than gperftools in no more rounds than chance explains
 *          (one-sided sign test, p >= 0.05) or kiln / gperftools <= 1
 *   heap   kiln / idle <= 1.03; judged on words, the malloc-heavy program;
 *          loop's verdict is printed too, as the worst case
 *   mutex  "nothing measurable": kiln / idle <= 1.01 (the CPU goal's bar)
 *          and kiln slower than idle in no more rounds than chance
 *          explains (one-sided sign test over the rounds, p >= 0.05)
 * +ns/op is the extra time per malloc/free or lock/unlock pair against the
 * row's baseline: it carries over to other programs (a program spending a
 * fraction f of its time in pairs of c ns each pays about f x extra / c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 31
#define DEFAULT_ROUNDS 11
#define MAX_IDLE_THREADS 64

static volatile uint64_t sink;

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- Workloads ----------------------------------------------------------- */

static __attribute__((noinline)) uint64_t cpu_work(void)
{
    uint64_t x = 1;
    for (uint64_t i = 0; i < 1500000000ull; i++)
        x = (x ^ i) * 0x9e3779b97f4a7c15ull;
    sink = x;
    return 0;
}

#define LOOP_PAIRS 20000000

static __attribute__((noinline)) uint64_t loop_work(void)
{
    uint32_t r = 1;
    void *keep[256] = {0};
    for (int i = 0; i < LOOP_PAIRS; i++) {
        r = r * 1103515245u + 12345u;
        unsigned k = (r >> 8) & 255;
        free(keep[k]);
        keep[k] = malloc(16 + (r >> 16) % 1024);
    }
    for (int i = 0; i < 256; i++)
        free(keep[i]);
    return LOOP_PAIRS;
}

#define LOCK_PAIRS 50000000

static __attribute__((noinline)) uint64_t lock_work(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    for (int i = 0; i < LOCK_PAIRS; i++) {
        pthread_mutex_lock(&m);
        sink++;
        pthread_mutex_unlock(&m);
    }
    return LOCK_PAIRS;
}

/* words: a word count, the realistic malloc-heavy program. */
#define WORDS_BATCHES 120
#define WORDS_TOKENS 40000
#define WORDS_VOCAB 65536
#define WORDS_BUCKETS 8192

struct word {
    struct word *next;
    char *text;
    uint64_t hash;
    uint64_t count;
};

/* The bump allocator of the `bump` cell: one mapping, reset per batch
 * (every allocation of a batch is freed at its end). */
static char *bump_base;
static size_t bump_used;
#define BUMP_SIZE ((size_t)16 << 20)

static inline void *w_alloc(bool bump, size_t n)
{
    if (!bump)
        return malloc(n);
    void *p = bump_base + bump_used;
    bump_used += (n + 15) & ~(size_t)15;
    if (bump_used > BUMP_SIZE)
        abort(); /* the workload's size is fixed: cannot happen */
    return p;
}

static inline void w_free(bool bump, void *p)
{
    if (!bump)
        free(p);
}

/* The text of word `id`: 3 to 26 lowercase letters from its hash. */
static inline size_t word_text(uint32_t id, char *out)
{
    uint64_t h = (id + 1) * 0x9e3779b97f4a7c15ull;
    size_t len = 3 + (size_t)(h >> 59) % 24;
    for (size_t i = 0; i < len; i++) {
        out[i] = (char)('a' + h % 26);
        h = h / 26 ^ (h << 7) ^ (id * 0x2545f4914f6cdd1dull);
    }
    out[len] = '\0';
    return len;
}

static inline uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* One run of the workload; `bump` is a constant in each caller, so each
 * gets its own copy of the code without a test per allocation. Returns the
 * number of malloc/free pairs. */
static inline __attribute__((always_inline)) uint64_t words_run(bool bump)
{
    uint64_t pairs = 0, check = 0;
    uint32_t r = 7;
    for (int b = 0; b < WORDS_BATCHES; b++) {
        struct word **map = w_alloc(bump, WORDS_BUCKETS * sizeof(*map));
        memset(map, 0, WORDS_BUCKETS * sizeof(*map));
        pairs++;
        for (int t = 0; t < WORDS_TOKENS; t++) {
            /* Skewed: the lower bits of a product of two uniforms. */
            r = r * 1103515245u + 12345u;
            uint32_t a = r >> 16;
            r = r * 1103515245u + 12345u;
            uint32_t id = a * (r >> 16) >> 16; /* < WORDS_VOCAB */
            char tmp[32];
            size_t len = word_text(id, tmp);
            char *s = w_alloc(bump, len + 1);
            memcpy(s, tmp, len + 1);
            pairs++;
            uint64_t h = fnv1a(s);
            struct word **slot = &map[h & (WORDS_BUCKETS - 1)];
            struct word *w = *slot;
            while (w != NULL && (w->hash != h || strcmp(w->text, s) != 0))
                w = w->next;
            if (w != NULL) {
                w->count++;
                w_free(bump, s);
                continue;
            }
            w = w_alloc(bump, sizeof(*w));
            pairs++;
            *w = (struct word){*slot, s, h, 1};
            *slot = w;
        }
        for (int i = 0; i < WORDS_BUCKETS; i++) {
            struct word *w = map[i];
            while (w != NULL) {
                struct word *next = w->next;
                check += w->count * (uint64_t)strlen(w->text);
                w_free(bump, w->text);
                w_free(bump, w);
                w = next;
            }
        }
        w_free(bump, map);
        bump_used = 0;
    }
    sink = check;
    return pairs;
}

static __attribute__((noinline)) uint64_t words_work(void)
{
    return words_run(false);
}

static __attribute__((noinline)) uint64_t words_bump_work(void)
{
    return words_run(true);
}

/* ---- The child ----------------------------------------------------------- */

/* Hold GET /debug/pprof/profile?seconds=60 open on the child's own
 * exporter so the CPU sampler runs. */
static void *hold_profile(void *arg)
{
    const char *addr = arg;
    char host[128], port[16];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL)
        return NULL;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    snprintf(port, sizeof(port), "%s", colon + 1);
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return NULL;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        const char req[] = "GET /debug/pprof/profile?seconds=60 HTTP/1.0\r\n"
                           "\r\n";
        if (write(fd, req, sizeof(req) - 1) > 0) {
            char buf[4096];
            while (read(fd, buf, sizeof(buf)) > 0)
                ;
        }
    }
    freeaddrinfo(res);
    return NULL;
}

static void *sleep_forever(void *arg)
{
    for (;;)
        pause();
    return arg;
}

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return n;
}

static void start_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) == 0)
        pthread_detach(t);
}

/* The preloaded exporter's address, or NULL if it is not running. */
static const char *exporter_addr(void)
{
    const char *(*fn)(void) =
        (const char *(*)(void))dlsym(RTLD_DEFAULT, "kiln_exporter_addr");
    const char *addr = fn != NULL ? fn() : NULL;
    return addr != NULL && addr[0] != '\0' ? addr : NULL;
}

/* Prints "CPU-SECONDS THREADS PAIRS"; exits 3 if the exporter should run
 * and does not (its error is on stderr). */
static int child(const char *work)
{
    const char *addr = NULL;
    if (getenv("BENCH_KILN") != NULL && (addr = exporter_addr()) == NULL) {
        fprintf(stderr, "exporter_overhead: the exporter is not running\n");
        return 3;
    }
    const char *idle = getenv("BENCH_IDLE_THREADS");
    for (int i = idle != NULL ? atoi(idle) : 0; i > 0; i--)
        start_thread(sleep_forever, NULL);
    if (addr != NULL && getenv("BENCH_HOLD_PROFILE") != NULL) {
        start_thread(hold_profile, (void *)addr);
        struct timespec ts = {0, 300000000}; /* let the timers arm */
        nanosleep(&ts, NULL);
    }
    uint64_t (*fn)(void) = strcmp(work, "cpu") == 0     ? cpu_work
                           : strcmp(work, "loop") == 0  ? loop_work
                           : strcmp(work, "lock") == 0  ? lock_work
                           : strcmp(work, "words") == 0 ? words_work
                           : strcmp(work, "bump") == 0  ? words_bump_work
                                                        : NULL;
    if (fn == NULL)
        return 2;
    if (fn == words_bump_work) {
        bump_base = mmap(NULL, BUMP_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (bump_base == MAP_FAILED)
            return 1;
    }
    double t0 = cpu_seconds();
    uint64_t pairs = fn();
    double t = cpu_seconds() - t0;
    printf("%.6f %d %llu\n", t, thread_count(), (unsigned long long)pairs);
    return 0;
}

/* ---- The parent ---------------------------------------------------------- */

enum prof { P_NONE, P_IDLE, P_OFF, P_KILN, P_GPERF, P_BUMP };
enum goal { G_INFO, G_CPU, G_HEAP, G_HEAP_JUDGED, G_MUTEX };

struct cell {
    const char *work; /* the workload */
    enum prof prof;
    const char *label;
    int base; /* the cell this one is compared with, -1: none */
    int none; /* the workload's single-threaded cell */
    enum goal goal;
    double t[MAX_ROUNDS]; /* CPU seconds per round, NAN if it failed */
    double pairs;
    int threads;
    int failed; /* counted runs that failed */
};

struct run_env {
    const char *self, *libkiln, *libprof;
};

/* Run this program as a child for `c`; its CPU seconds, or NAN. */
static double run(const struct run_env *env, struct cell *c, int idle)
{
    int fds[2];
    if (pipe(fds) != 0)
        return NAN;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NAN;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        char n[16];
        snprintf(n, sizeof(n), "%d", idle);
        if (c->prof == P_KILN || c->prof == P_OFF) {
            setenv("LD_PRELOAD", env->libkiln, 1);
            setenv("KILN_EXPORTER_ADDR", "127.0.0.1:0", 1);
            setenv("BENCH_KILN", "1", 1);
            const char *which = c->prof == P_OFF               ? "cpu"
                                : strcmp(c->work, "cpu") == 0  ? "cpu"
                                : strcmp(c->work, "lock") == 0 ? "mutex"
                                                               : "heap";
            setenv("KILN_EXPORTER_PROFILERS", which, 1);
            if (c->prof == P_KILN && strcmp(c->work, "cpu") == 0)
                setenv("BENCH_HOLD_PROFILE", "1", 1);
        } else if (c->prof == P_IDLE) {
            setenv("BENCH_IDLE_THREADS", n, 1);
        } else if (c->prof == P_GPERF) {
            setenv("LD_PRELOAD", env->libprof, 1);
            setenv("CPUPROFILE", "/tmp/kiln-bench-gperf.prof", 1);
            setenv("CPUPROFILE_FREQUENCY", "100", 1);
        }
        execl(env->self, env->self, "--child",
              c->prof == P_BUMP ? "bump" : c->work, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[128] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 &&
           (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    double t;
    int threads;
    unsigned long long pairs;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
        sscanf(buf, "%lf %d %llu", &t, &threads, &pairs) != 3 || t <= 0)
        return NAN;
    c->threads = threads;
    c->pairs = (double)pairs;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of the n values of v, interpolated; sorts v. */
static double quantile(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    double pos = q * (n - 1);
    int i = (int)pos;
    return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[i];
}

struct ratio {
    int n;              /* rounds where both ran */
    double med, q1, q3; /* of the per-round ratios */
    double t_med;       /* median CPU seconds of the numerator */
    double d_med;       /* median per-round difference, seconds */
    int slower;         /* rounds where the numerator took longer */
};

static struct ratio compare(const struct cell *num, const struct cell *den,
                            int rounds)
{
    struct ratio r = {0};
    double q[MAX_ROUNDS], d[MAX_ROUNDS], t[MAX_ROUNDS];
    for (int i = 0; i < rounds; i++) {
        if (isnan(num->t[i]) || isnan(den->t[i]))
            continue;
        q[r.n] = num->t[i] / den->t[i];
        d[r.n] = num->t[i] - den->t[i];
        t[r.n] = num->t[i];
        r.slower += num->t[i] > den->t[i];
        r.n++;
    }
    if (r.n == 0)
        return r;
    r.q1 = quantile(q, r.n, 0.25);
    r.med = quantile(q, r.n, 0.5);
    r.q3 = quantile(q, r.n, 0.75);
    r.d_med = quantile(d, r.n, 0.5);
    r.t_med = quantile(t, r.n, 0.5);
    return r;
}

/* P(X >= k) for X ~ Binomial(n, 1/2): the sign test's one-sided p. */
static double sign_p(int k, int n)
{
    double p = 0, c = 1; /* c = C(n, i) */
    for (int i = 0; i <= n; i++) {
        if (i >= k)
            p += c;
        c = c * (n - i) / (i + 1);
    }
    return p / (double)(1ull << n); /* n <= MAX_ROUNDS */
}

/* The verdict of `c` (whose ratio to its baseline is `r`), or "". */
static void verdict(const struct cell *c, const struct ratio *r,
                    const struct ratio *gperf, char *out, size_t cap)
{
    switch (c->goal) {
    case G_CPU:
        if (gperf != NULL && gperf->n > 0) {
            /* No worse: not slower than gperftools in more rounds than
             * chance explains, as for the mutex goal. */
            bool worse =
                gperf->med > 1 && sign_p(gperf->slower, gperf->n) < 0.05;
            snprintf(out, cap, "<=1.01, /gperf %.3f slower %d/%d: %s",
                     gperf->med, gperf->slower, gperf->n,
                     r->med <= 1.01 && !worse ? "MET" : "MISSED");
        } else {
            snprintf(out, cap, "<=1.01 (no gperf): %s",
                     r->med <= 1.01 ? "MET" : "MISSED");
        }
        break;
    case G_HEAP:
    case G_HEAP_JUDGED:
        snprintf(out, cap, "<=1.03: %s%s", r->med <= 1.03 ? "MET" : "MISSED",
                 c->goal == G_HEAP_JUDGED ? " (judged)" : " (worst case)");
        break;
    case G_MUTEX: {
        double p = sign_p(r->slower, r->n);
        snprintf(out, cap, "<=1.01, slower %d/%d p=%.3f: %s", r->slower, r->n,
                 p, p >= 0.05 && r->med <= 1.01 ? "MET" : "MISSED");
        break;
    }
    case G_INFO:
        snprintf(out, cap, "%s",
                 c->prof == P_OFF     ? "(interposed, not sampling)"
                 : c->prof == P_IDLE  ? "(multi-threaded, no profiler)"
                 : c->prof == P_GPERF ? "(reference)"
                                      : "");
        break;
    }
}

/* Cells in running order. `base` and `none` are indexes into this table;
 * the fields after `goal` are results. */
#define CELL(w, p, l, b, n, g)                                                 \
    {                                                                          \
        .work = w, .prof = p, .label = l, .base = b, .none = n, .goal = g      \
    }
static struct cell cells[] = {
    CELL("cpu", P_NONE, "none", -1, 0, G_INFO),
    CELL("cpu", P_KILN, "kiln CPU 100 Hz", 0, 0, G_CPU),
    CELL("cpu", P_GPERF, "gperftools CPU 100 Hz", 0, 0, G_INFO),
    CELL("loop", P_NONE, "none", -1, 3, G_INFO),
    CELL("loop", P_IDLE, "none, idle threads", 3, 3, G_INFO),
    CELL("loop", P_OFF, "kiln, heap off", 4, 3, G_INFO),
    CELL("loop", P_KILN, "kiln heap 512 KiB", 4, 3, G_HEAP),
    CELL("words", P_NONE, "none", -1, 7, G_INFO),
    CELL("words", P_BUMP, "none, bump allocator", 7, 7, G_INFO),
    CELL("words", P_IDLE, "none, idle threads", 7, 7, G_INFO),
    CELL("words", P_OFF, "kiln, heap off", 9, 7, G_INFO),
    CELL("words", P_KILN, "kiln heap 512 KiB", 9, 7, G_HEAP_JUDGED),
    CELL("lock", P_NONE, "none", -1, 12, G_INFO),
    CELL("lock", P_IDLE, "none, idle threads", 12, 12, G_INFO),
    CELL("lock", P_OFF, "kiln, mutex off", 13, 12, G_INFO),
    CELL("lock", P_KILN, "kiln mutex 1 in 10", 13, 12, G_MUTEX),
};
enum { NCELLS = sizeof(cells) / sizeof(cells[0]) };

/* The profiled cell of `work`, whose thread count the idle cell copies. */
static const struct cell *profiled(const char *work)
{
    for (int i = 0; i < NCELLS; i++)
        if (cells[i].prof == P_KILN && strcmp(cells[i].work, work) == 0)
            return &cells[i];
    return NULL;
}

static void print_table(int rounds)
{
    printf("%-6s %-23s %3s %7s %7s %7s %15s %7s  %s\n", "work", "profiler",
           "thr", "cpu s", "/none", "/base", "base IQR", "+ns/op", "goal");
    /* kiln's CPU cell against gperftools'. */
    const struct ratio *gperf = NULL;
    struct ratio gperf_r;
    for (int i = 0; i < NCELLS; i++)
        for (int k = 0; k < NCELLS; k++)
            if (cells[i].prof == P_KILN && cells[i].goal == G_CPU &&
                cells[k].prof == P_GPERF) {
                gperf_r = compare(&cells[i], &cells[k], rounds);
                gperf = &gperf_r;
            }
    for (int i = 0; i < NCELLS; i++) {
        const struct cell *c = &cells[i];
        struct ratio self = compare(c, c, rounds);
        if (self.n == 0) {
            printf("%-6s %-23s %s\n", c->work, c->label,
                   c->prof == P_GPERF ? "(libgoogle-perftools-dev not "
                                        "installed)"
                                      : "(every run failed)");
            continue;
        }
        struct ratio vn = compare(c, &cells[c->none], rounds);
        struct ratio vb = compare(c, &cells[c->base < 0 ? i : c->base], rounds);
        printf("%-6s %-23s %3d %7.3f %7.4f", c->work, c->label, c->threads,
               self.t_med, vn.med);
        if (c->base < 0) {
            printf(" %7s %15s %7s  ", "", "", "");
        } else {
            char iqr[32], ns[16] = "";
            snprintf(iqr, sizeof(iqr), "%.4f-%.4f", vb.q1, vb.q3);
            if (c->pairs > 0)
                snprintf(ns, sizeof(ns), "%+.2f", vb.d_med / c->pairs * 1e9);
            printf(" %7.4f %15s %7s  ", vb.med, iqr, ns);
        }
        char v[64] = "";
        if (c->prof == P_BUMP)
            snprintf(v, sizeof(v), "malloc+free share %.0f%%",
                     100 * (1 - vn.med));
        else
            verdict(c, &vb, gperf, v, sizeof(v));
        if (c->failed > 0)
            printf("%s [%d runs failed]\n", v, c->failed);
        else
            printf("%s\n", v);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child(argv[2]);
    char self[4096], lib[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    if (argc > 1) {
        snprintf(lib, sizeof(lib), "%s", argv[1]);
    } else {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", self);
        for (int k = 0; k < 2; k++) {
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
        }
        snprintf(lib, sizeof(lib), "%s/exporter-kit/.libs/libkiln-exporter.so",
                 dir);
    }
    int rounds = argc > 2 ? atoi(argv[2]) : DEFAULT_ROUNDS;
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "exporter_overhead: ROUNDS: want 1 to %d\n",
                MAX_ROUNDS);
        return 2;
    }
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "exporter_overhead: %s: %s\n", lib, strerror(errno));
        return 1;
    }
    struct run_env env = {self, lib, NULL};
    static const char *const cands[] = {
        "/usr/lib/x86_64-linux-gnu/libprofiler.so.0",
        "/usr/lib/aarch64-linux-gnu/libprofiler.so.0",
        "/usr/lib/libprofiler.so.0"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], R_OK) == 0)
            env.libprof = cands[i];

    /* Round -1 is the warm-up: it finds the profiled cells' thread
     * counts, which the idle cells then copy. */
    for (int r = -1; r < rounds; r++)
        for (int i = 0; i < NCELLS; i++) {
            struct cell *c = &cells[i];
            if (c->prof == P_GPERF && env.libprof == NULL) {
                if (r >= 0)
                    c->t[r] = NAN;
                continue;
            }
            const struct cell *p = profiled(c->work);
            int idle = p != NULL && p->threads > 1 ? p->threads - 1 : 1;
            if (idle > MAX_IDLE_THREADS)
                idle = MAX_IDLE_THREADS;
            double t = run(&env, c, idle);
            if (r >= 0) {
                c->t[r] = t;
                c->failed += isnan(t);
            }
        }
    printf("libkiln-exporter overhead: CPU seconds of the whole process for a "
           "fixed amount of\nwork; %d interleaved rounds after a warm-up; "
           "ratios are medians of per-round\nratios. /none: to the "
           "single-threaded run; /base: to the row's baseline (kiln\nrows: "
           "the run with the same number of threads, idle); base IQR: the "
           "middle\nhalf of the per-round ratios; +ns/op: extra time per "
           "malloc/free or\nlock/unlock pair against the baseline; thr: "
           "threads in the process.\n\n",
           rounds);
    print_table(rounds);
    printf("\ngoals: CPU <= 1.01 vs none and not measurably worse than "
           "gperftools; heap <= 1.03\nvs base, judged on words (loop is the "
           "worst case, 100%% malloc/free); mutex:\nnothing measurable vs "
           "base, i.e. <= 1.01 and not measurably slower. Measurably\n"
           "slower: in more rounds than chance explains (one-sided sign "
           "test, p < 0.05).\n");
    return 0;
}
