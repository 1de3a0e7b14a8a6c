/* tests/exporter/hotspots.c: a program with known hot spots that embeds
 * libkiln-exporter, for the exporter tests (the scripts in tests/exporter/).
 *
 *     hotspots [--hz N] [--heap-period N] [--mutex-rate N] [--seconds N]
 *              [--spin-ms N] DIR MODE
 *
 * It starts the exporter on 127.0.0.1:0, writes the bound address to
 * DIR/addr, runs MODE, writes DIR/done when a finite workload has finished
 * (the script then fetches profiles) and keeps running until killed or
 * --seconds pass. Every workload is a fixed amount of work, never "for so
 * many seconds", so what the tests judge does not depend on the machine's
 * load. Modes:
 *   cpu    two threads, each running the same loop: hot_a (3 units of
 *          work, a fixed number of multiply-adds) then hot_b (1 unit), so
 *          in any window the CPU split is 3:1 up to one 0.1 ms round,
 *          however the scheduler shares the CPU between the threads
 *   spin N N threads; each waits (spinning in spin_wait) for its first
 *          CPU-timer SIGPROF, which shows that the profiler armed its timer,
 *          then spins in spin_loop for exactly --spin-ms (default 500) ms of
 *          its own CPU time and stops; the last writes DIR/done. A profile
 *          covering all of it holds N x (spin-ms x hz / 1000 + 1) samples
 *   heap   alloc_big allocates 10x the bytes alloc_small does (freed at
 *          once), hold_live keeps 64 MiB live
 *   mutex  4 threads contend for one lock in contended_worker; one thread
 *          locks a private mutex in uncontended_worker
 *   stress 8 threads doing malloc/free and locking until DIR/stop exists
 *          (the script creates it when it has fetched what it wants) or
 *          --seconds pass
 *   idle   nothing (endpoint tests)
 *   api    no server: checks the API's errors itself and prints TAP
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kiln/exporter.h"
#include "tests/unit/unit.h"

static const char *dir;
static _Atomic unsigned long long sink;

static void write_file(const char *name, const char *text)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        perror(path);
        exit(2);
    }
}

/* A unit of work: 20000 dependent multiply-adds (~80,000 cycles). Its
 * result goes to a thread-local variable: a shared one (it was the global
 * atomic `sink`) costs each call a cache line from the other thread's core
 * (2 threads run hot_a and hot_b), 3 times as often per unit in hot_b,
 * which moved the split from 3:1 to about 2.92:1. */
static _Thread_local unsigned long long work_sink;

static inline __attribute__((always_inline)) void work(unsigned units)
{
    unsigned long long x = work_sink;
    for (unsigned u = 0; u < units; u++)
        for (int i = 0; i < 20000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
    work_sink = x;
}

/* Not a leaf (GCC 12 drops leaf frames even with
 * -mno-omit-leaf-frame-pointer), so samples in it keep its caller. */
__attribute__((noinline)) void not_leaf(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void hot_a(void)
{
    not_leaf();
    work(3);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void hot_b(void)
{
    not_leaf();
    work(1);
    __asm__ volatile("" ::: "memory");
}

static void *cpu_worker(void *arg)
{
    for (;;) {
        hot_a();
        hot_b();
    }
    return NULL;
}

/* spin mode. The library's SIGPROF handler is wrapped (after
 * kiln_exporter_start installed it) so that a thread learns that a CPU
 * timer sampled it: from then on, every 1/hz s of its CPU time is a sample,
 * and the spinner can use an exact CPU budget instead of a wall-clock
 * window. */
static struct sigaction lib_sigprof;
static _Thread_local volatile sig_atomic_t timer_hit;
static long spin_budget_ns = 500 * 1000000L;
static int spinners;
static atomic_int spinners_done;

static void on_sigprof_chained(int sig, siginfo_t *si, void *uc)
{
    /* SI_TIMER: a per-thread POSIX timer; SI_KERNEL: setitimer. Not
     * SI_TKILL (/threads). */
    if (si != NULL && (si->si_code == SI_TIMER || si->si_code == SI_KERNEL))
        timer_hit = 1;
    lib_sigprof.sa_sigaction(sig, si, uc);
}

static void chain_sigprof(void)
{
    struct sigaction sa;
    if (sigaction(SIGPROF, NULL, &lib_sigprof) != 0 ||
        !(lib_sigprof.sa_flags & SA_SIGINFO)) {
        fprintf(stderr, "hotspots: no SA_SIGINFO SIGPROF handler to wrap\n");
        exit(2);
    }
    sa = lib_sigprof;
    sa.sa_sigaction = on_sigprof_chained;
    sigaction(SIGPROF, &sa, NULL);
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((noinline)) void spin_wait(void)
{
    while (!timer_hit)
        work(1);
}

__attribute__((noinline)) void spin_loop(void)
{
    int64_t t0 = thread_cpu_ns();
    while (thread_cpu_ns() - t0 < spin_budget_ns)
        work(1);
}

static void *spin_worker(void *arg)
{
    spin_wait();
    spin_loop();
    if (atomic_fetch_add(&spinners_done, 1) + 1 == spinners)
        write_file("done", "1\n");
    for (;;)
        pause(); /* SIGPROF from /threads may interrupt it */
    return NULL;
}

#define BLOCK (64 * 1024)

__attribute__((noinline)) void alloc_big(void)
{
    for (int i = 0; i < 10; i++) {
        char *p = malloc(BLOCK);
        p[0] = 1;
        sink += (unsigned char)p[0];
        free(p);
    }
}

__attribute__((noinline)) void alloc_small(void)
{
    char *p = malloc(BLOCK);
    p[0] = 1;
    sink += (unsigned char)p[0];
    free(p);
}

void *hotspots_live[1024];

__attribute__((noinline)) void hold_live(void)
{
    for (int i = 0; i < 1024; i++)
        hotspots_live[i] = malloc(BLOCK); /* 64 MiB */
}

static void heap_mode(void)
{
    hold_live();
    for (int i = 0; i < 8192; i++) { /* 512 MiB vs 5 GiB */
        alloc_small();
        alloc_big();
    }
}

static pthread_mutex_t contended_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int mutex_stop;

__attribute__((noinline)) void contended_worker(void)
{
    while (!mutex_stop) {
        pthread_mutex_lock(&contended_lock);
        work(1);
        pthread_mutex_unlock(&contended_lock);
    }
}

__attribute__((noinline)) void uncontended_worker(void)
{
    pthread_mutex_t mine = PTHREAD_MUTEX_INITIALIZER;
    while (!mutex_stop) {
        pthread_mutex_lock(&mine);
        sink++;
        pthread_mutex_unlock(&mine);
    }
}

static void *contended_thread(void *arg)
{
    contended_worker();
    return NULL;
}

static void *uncontended_thread(void *arg)
{
    uncontended_worker();
    return NULL;
}

static void mutex_mode(void)
{
    pthread_t t[5];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, contended_thread, NULL);
    pthread_create(&t[4], NULL, uncontended_thread, NULL);
    struct timespec ts = {3, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    mutex_stop = 1;
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
}

static pthread_mutex_t stress_locks[4] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
static atomic_int stress_stop;

__attribute__((noinline)) void stress_worker(unsigned seed)
{
    void *keep[64] = {0};
    while (!stress_stop) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 64;
        size_t n = 1 + (seed >> 12) % 8192;
        free(keep[k]);
        switch (seed % 4) {
        case 0:
            keep[k] = malloc(n);
            break;
        case 1:
            keep[k] = calloc(1, n);
            break;
        case 2:
            keep[k] = realloc(NULL, n);
            keep[k] = realloc(keep[k], n * 2);
            break;
        default:
            if (posix_memalign(&keep[k], 64, n) != 0)
                keep[k] = NULL;
        }
        pthread_mutex_t *m = &stress_locks[seed % 4];
        pthread_mutex_lock(m);
        sink++;
        pthread_mutex_unlock(m);
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
}

static void *stress_thread(void *arg)
{
    stress_worker((unsigned)(uintptr_t)arg);
    return NULL;
}

static void stress_mode(int seconds)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, stress_thread, (void *)(uintptr_t)i);
    char stop[4096];
    snprintf(stop, sizeof(stop), "%s/stop", dir);
    for (int tenths = 0; tenths < seconds * 10 && access(stop, F_OK) != 0;
         tenths++) {
        struct timespec ts = {0, 100000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    stress_stop = 1;
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
}

/* ---- api mode: the start/stop contract, as TAP --------------------------- */

static void on_other_sigprof(int sig)
{
}

static void test_defaults(void)
{
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    CHECK_STR(o.addr, "127.0.0.1:6060");
    CHECK_INT(o.cpu_hz, 100);
    CHECK_INT(o.heap_period, 512 * 1024);
    CHECK_INT(o.profilers, KILN_EXPORTER_ALL);
}

static void test_start_stop_twice(void)
{
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = "127.0.0.1:0";
    for (int i = 0; i < 2; i++) {
        CHECK_INT(kiln_exporter_start(&o), KILN_EXPORTER_OK);
        CHECK(strncmp(kiln_exporter_addr(), "127.0.0.1:", 10) == 0);
        CHECK_INT(kiln_exporter_start(&o), KILN_EXPORTER_ERR_BUSY);
        CHECK(strstr(kiln_exporter_last_error(), "already running") != NULL);
        kiln_exporter_stop();
        CHECK_STR(kiln_exporter_addr(), "");
    }
    kiln_exporter_stop(); /* a no-op */
}

static void test_bad_options(void)
{
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = "localhost";
    CHECK_INT(kiln_exporter_start(&o), KILN_EXPORTER_ERR_INVALID);
    CHECK(strstr(kiln_exporter_last_error(), "host:port") != NULL);
    o.addr = "127.0.0.1:0";
    o.cpu_hz = 5000;
    CHECK_INT(kiln_exporter_start(&o), KILN_EXPORTER_ERR_INVALID);
    CHECK(strstr(kiln_exporter_last_error(), "cpu_hz") != NULL);
}

static void test_port_in_use(void)
{
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = "127.0.0.1:0";
    CHECK_INT(kiln_exporter_start(&o), KILN_EXPORTER_OK);
    char addr[128];
    snprintf(addr, sizeof(addr), "%s", kiln_exporter_addr());
    pid_t pid = fork();
    if (pid == 0) {
        /* The child does not inherit the running exporter. */
        o.addr = addr;
        int st = kiln_exporter_start(&o);
        int ok = st == KILN_EXPORTER_ERR_IO &&
                 strstr(kiln_exporter_last_error(), "in use") != NULL;
        if (!ok)
            printf("# child: %d %s\n", st, kiln_exporter_last_error());
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    kiln_exporter_stop();
}

static void test_sigprof_taken(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPROF, on_other_sigprof);
        struct kiln_exporter_options o;
        kiln_exporter_options_init(&o);
        o.addr = "127.0.0.1:0";
        int st = kiln_exporter_start(&o);
        int ok = st == KILN_EXPORTER_ERR_BUSY &&
                 strstr(kiln_exporter_last_error(), "SIGPROF") != NULL;
        /* Without the CPU profiler it starts. */
        o.profilers = KILN_EXPORTER_HEAP | KILN_EXPORTER_MUTEX;
        ok = ok && kiln_exporter_start(&o) == KILN_EXPORTER_OK;
        kiln_exporter_stop();
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_handler_stays(void)
{
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = "127.0.0.1:0";
    CHECK_INT(kiln_exporter_start(&o), KILN_EXPORTER_OK);
    kiln_exporter_stop();
    struct sigaction sa;
    sigaction(SIGPROF, NULL, &sa);
    CHECK(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
    raise(SIGPROF); /* a late signal is harmless */
    CHECK(1);
}

static int api_mode(void)
{
    RUN(test_defaults);
    RUN(test_start_stop_twice);
    RUN(test_bad_options);
    RUN(test_port_in_use);
    RUN(test_sigprof_taken);
    RUN(test_handler_stays);
    return unit_done();
}

int main(int argc, char **argv)
{
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = "127.0.0.1:0";
    int seconds = 600;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--hz") == 0)
            o.cpu_hz = (int)v;
        else if (strcmp(argv[i], "--heap-period") == 0)
            o.heap_period = (size_t)v;
        else if (strcmp(argv[i], "--mutex-rate") == 0)
            o.mutex_rate = (unsigned)v;
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = (int)v;
        else if (strcmp(argv[i], "--spin-ms") == 0)
            spin_budget_ns = v * 1000000L;
    }
    if (i < argc && strcmp(argv[i], "api") == 0)
        return api_mode();
    if (i + 2 > argc) {
        fprintf(stderr, "usage: hotspots [options] DIR MODE [N]\n");
        return 2;
    }
    dir = argv[i];
    const char *mode = argv[i + 1];
    if (kiln_exporter_start(&o) != KILN_EXPORTER_OK) {
        fprintf(stderr, "hotspots: %s\n", kiln_exporter_last_error());
        return 1;
    }
    char text[160];
    snprintf(text, sizeof(text), "%s\n", kiln_exporter_addr());
    write_file("addr", text);
    write_file("heap_interposed",
               kiln_exporter_heap_interposed() ? "1\n" : "0\n");
    pthread_t t;
    if (strcmp(mode, "cpu") == 0) {
        for (int k = 0; k < 2; k++)
            pthread_create(&t, NULL, cpu_worker, NULL);
    } else if (strcmp(mode, "spin") == 0) {
        spinners = i + 2 < argc ? atoi(argv[i + 2]) : 4;
        chain_sigprof();
        for (int k = 0; k < spinners; k++)
            pthread_create(&t, NULL, spin_worker, NULL);
    } else if (strcmp(mode, "heap") == 0) {
        heap_mode();
    } else if (strcmp(mode, "mutex") == 0) {
        mutex_mode();
    } else if (strcmp(mode, "stress") == 0) {
        stress_mode(seconds);
        write_file("done", "1\n");
        kiln_exporter_stop();
        return 0;
    } else if (strcmp(mode, "idle") != 0) {
        fprintf(stderr, "hotspots: unknown mode %s\n", mode);
        return 2;
    }
    if (strcmp(mode, "spin") != 0)
        write_file("done", "1\n");
    /* SIGPROF (timers, /threads) interrupts nanosleep even with SA_RESTART:
     * sleep again for what is left. */
    struct timespec ts = {seconds, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    kiln_exporter_stop();
    return 0;
}
