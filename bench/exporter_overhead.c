/* bench/exporter_overhead.c: what libkiln-exporter costs the program it
 * profiles, in one run that prints ratios.
 *
 * Design. The program re-executes itself once per (workload, profiler)
 * pair and repeats the whole round ROUNDS times, taking the median of each
 * pair, so that a noisy machine moves all columns alike. Each child does a
 * fixed amount of work and reports the CPU time of the whole process
 * (getrusage: the signal handler, the drain thread and the HTTP server
 * included), so the ratio to the run without a profiler is the overhead.
 * Workloads:
 *   cpu    a single busy thread (hashing), 2 s of work
 *   malloc 20 M malloc/free pairs of 16..1040 bytes
 *   lock   50 M uncontended pthread_mutex_lock/unlock pairs
 * Profilers, all through LD_PRELOAD of an unmodified child:
 *   none   no library
 *   idle   no library, but one more thread that sleeps (malloc and lock
 *          only): the exporter's HTTP server is a thread, and glibc takes
 *          cheaper paths while a process has a single thread (a private
 *          mutex is locked without an atomic instruction), so this row
 *          shows what any in-process server costs a single-threaded
 *          program, apart from the interposers
 *   kiln   libkiln-exporter with KILN_EXPORTER_ADDR set; for cpu the child
 *          holds a /debug/pprof/profile request open for the whole run, so
 *          sampling is on (100 Hz); for malloc heap sampling (512 KiB) is
 *          on; for lock mutex profiling is on
 *   gperf  gperftools' CPU profiler (libprofiler.so.0, CPUPROFILE,
 *          CPUPROFILE_FREQUENCY=100), cpu workload only; skipped with a
 *          note when Debian's libgoogle-perftools-dev is not installed
 *
 *     bench/exporter_overhead [LIBKILN] [ROUNDS]
 *
 * LIBKILN defaults to exporter-kit/.libs/libkiln-exporter.so next to the
 * bench directory of the build tree. Never run by make check.
 *
 * Columns: the median CPU seconds, their ratio to `none`, and for malloc
 * and lock the extra nanoseconds per operation (a malloc/free pair, a
 * lock/unlock pair), which carries over to other programs: a program that
 * spends a fraction f of its time in such pairs of c ns each pays about
 * f x extra / c. The interposers cannot be cheaper than one extra indirect
 * jump per call, which on these loops (12 ns per malloc/free pair, 5.5 ns
 * per lock/unlock pair) is already a few percent.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 15

static volatile uint64_t sink;

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static __attribute__((noinline)) void cpu_work(void)
{
    uint64_t x = 1;
    for (uint64_t i = 0; i < 1500000000ull; i++)
        x = (x ^ i) * 0x9e3779b97f4a7c15ull;
    sink = x;
}

static __attribute__((noinline)) void malloc_work(void)
{
    uint32_t r = 1;
    void *keep[256] = {0};
    for (int i = 0; i < 20000000; i++) {
        r = r * 1103515245u + 12345u;
        unsigned k = (r >> 8) & 255;
        free(keep[k]);
        keep[k] = malloc(16 + (r >> 16) % 1024);
    }
    for (int i = 0; i < 256; i++)
        free(keep[i]);
}

static __attribute__((noinline)) void lock_work(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    for (int i = 0; i < 50000000; i++) {
        pthread_mutex_lock(&m);
        sink++;
        pthread_mutex_unlock(&m);
    }
}

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

static int child(const char *work)
{
    const char *addr = getenv("BENCH_KILN_ADDR");
    if (getenv("BENCH_IDLE_THREAD") != NULL) {
        pthread_t t;
        pthread_create(&t, NULL, sleep_forever, NULL);
        pthread_detach(t);
    }
    if (addr != NULL && strcmp(work, "cpu") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, hold_profile, (void *)addr);
        pthread_detach(t);
        struct timespec ts = {0, 300000000}; /* let the timers arm */
        nanosleep(&ts, NULL);
    }
    double t0 = cpu_seconds();
    if (strcmp(work, "cpu") == 0)
        cpu_work();
    else if (strcmp(work, "malloc") == 0)
        malloc_work();
    else
        lock_work();
    printf("%.6f\n", cpu_seconds() - t0);
    return 0;
}

/* Run this program as a child with `work` and `prof`; its CPU seconds, or
 * -1. */
static double run(const char *self, const char *work, const char *prof,
                  const char *libkiln, const char *libprof)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        char port[64];
        snprintf(port, sizeof(port), "127.0.0.1:%d",
                 20000 + (int)(getpid() % 20000));
        if (strcmp(prof, "kiln") == 0) {
            setenv("LD_PRELOAD", libkiln, 1);
            setenv("KILN_EXPORTER_ADDR", port, 1);
            setenv("BENCH_KILN_ADDR", port, 1);
            setenv("KILN_EXPORTER_PROFILERS",
                   strcmp(work, "cpu") == 0      ? "cpu"
                   : strcmp(work, "malloc") == 0 ? "heap"
                                                 : "mutex",
                   1);
        } else if (strcmp(prof, "idle") == 0) {
            setenv("BENCH_IDLE_THREAD", "1", 1);
        } else if (strcmp(prof, "gperf") == 0) {
            setenv("LD_PRELOAD", libprof, 1);
            setenv("CPUPROFILE", "/tmp/kiln-bench-gperf.prof", 1);
            setenv("CPUPROFILE_FREQUENCY", "100", 1);
        }
        execl(self, self, "--child", work, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return atof(buf);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        snprintf(lib, sizeof(lib), "%s/exporter-kit/.libs/libkiln-exporter.so",
                 dir);
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 5;
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "exporter_overhead: %s: %s\n", lib, strerror(errno));
        return 1;
    }
    const char *libprof = NULL;
    static const char *const cands[] = {
        "/usr/lib/x86_64-linux-gnu/libprofiler.so.0",
        "/usr/lib/aarch64-linux-gnu/libprofiler.so.0",
        "/usr/lib/libprofiler.so.0"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], R_OK) == 0)
            libprof = cands[i];

    static const char *const pairs[][2] = {
        {"cpu", "none"},    {"cpu", "kiln"},    {"cpu", "gperf"},
        {"malloc", "none"}, {"malloc", "idle"}, {"malloc", "kiln"},
        {"lock", "none"},   {"lock", "idle"},   {"lock", "kiln"}};
    enum { NCELLS = sizeof(pairs) / sizeof(pairs[0]) };
    struct {
        const char *work, *prof;
        double v[MAX_ROUNDS];
        int n;
    } cells[NCELLS];
    int ncells = NCELLS;
    memset(cells, 0, sizeof(cells));
    for (int c = 0; c < ncells; c++) {
        cells[c].work = pairs[c][0];
        cells[c].prof = pairs[c][1];
    }
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < ncells; c++) {
            if (strcmp(cells[c].prof, "gperf") == 0 && libprof == NULL)
                continue;
            double t = run(self, cells[c].work, cells[c].prof, lib, libprof);
            if (t > 0)
                cells[c].v[cells[c].n++] = t;
        }
    printf("libkiln-exporter overhead: CPU seconds of the whole process for "
           "fixed work,\nmedian of %d rounds (ratio = with / without)\n\n",
           rounds);
    printf("%-8s %-26s %10s %8s %10s\n", "workload", "profiler", "cpu s",
           "ratio", "+ns/op");
    double base = 0;
    for (int c = 0; c < ncells; c++) {
        const char *label =
            strcmp(cells[c].prof, "none") == 0     ? "none"
            : strcmp(cells[c].prof, "idle") == 0   ? "none, 1 idle thread"
            : strcmp(cells[c].prof, "gperf") == 0  ? "gperftools CPU, 100 Hz"
            : strcmp(cells[c].work, "cpu") == 0    ? "kiln CPU, 100 Hz"
            : strcmp(cells[c].work, "malloc") == 0 ? "kiln heap, 512 KiB"
                                                   : "kiln mutex, 1 in 10";
        double ops = strcmp(cells[c].work, "malloc") == 0 ? 20e6
                     : strcmp(cells[c].work, "lock") == 0 ? 50e6
                                                          : 0;
        if (cells[c].n == 0) {
            printf("%-8s %-26s %10s %8s\n", cells[c].work, label, "-",
                   strcmp(cells[c].prof, "gperf") == 0
                       ? "(libgoogle-perftools-dev not installed)"
                       : "(failed)");
            continue;
        }
        double m = median(cells[c].v, cells[c].n);
        if (strcmp(cells[c].prof, "none") == 0)
            base = m;
        char extra[32] = "-";
        if (ops > 0 && strcmp(cells[c].prof, "none") != 0)
            snprintf(extra, sizeof(extra), "%+.2f", (m - base) / ops * 1e9);
        printf("%-8s %-26s %10.3f %8.4f %10s\n", cells[c].work, label, m,
               base > 0 ? m / base : 0, extra);
    }
    printf("\ngoals: kiln CPU <= 1.01 and <= gperftools; heap <= 1.03; "
           "mutex ~1.00\n");
    return 0;
}
