/* exporter-kit/cpu.c: the CPU profiler (SIGPROF sampling) and /threads.
 *
 * What. While at least one /profile request is collecting, every thread of
 * the process has a POSIX timer on its own CPU-time clock (timer_create on
 * the thread's clock id, SIGEV_THREAD_ID), so each thread is interrupted by
 * SIGPROF every 1/hz second of CPU time *it* uses: 4 busy threads give 4x
 * the samples of one. If per-thread timers are unavailable, one
 * process-wide setitimer(ITIMER_PROF) is used instead.
 *
 * Design.
 * - The SIGPROF handler walks the frame pointers from the interrupted
 *   context (unwind.c) straight into a slot of a preallocated ring (a
 *   bounded multi-producer queue with a sequence number per slot, Vyukov's
 *   design): claim a slot with one compare-and-swap, fill it, publish it.
 *   When the ring is full the sample is counted as lost. No malloc, no
 *   lock, errno saved.
 * - A timer signal stands for 1 + si_overrun periods: when a thread's timer
 *   expires again before its last signal was delivered (on a loaded
 *   machine, more CPU-hungry threads than cores, in VMs whose vCPUs are
 *   preempted, and whenever hz exceeds the kernel's tick rate), the kernel
 *   does not queue a second signal but counts an overrun. The sample's
 *   samples/count value is 1 (one stack was seen) and its cpu/nanoseconds
 *   value is (1 + si_overrun) periods, so CPU time stays right; the periods
 *   the kernel merged are charged to the stack the thread had when the
 *   signal came, the only one known.
 * - A drain thread empties the ring into the stack table of every
 *   collecting request (concurrent requests share one sampler; each sees
 *   the samples taken while it was collecting) every 100 ms, or every 20 ms
 *   while samples come fast (more than an eighth of the ring per 100 ms),
 *   and turns the lost count into samples of a [lost samples] frame. Every
 *   100 ms it looks at the thread count (the link count of
 *   /proc/self/task, one stat) and, when it changed or a second has
 *   passed, rescans /proc/self/task to give new threads a timer and delete
 *   the timers of threads that are gone. When nobody collects it sleeps
 *   until a request comes, and no timer exists. (Waking every 20 ms and
 *   rescanning every 100 ms cost 0.2% of a core, more than the samples.)
 * - /threads sends SIGPROF with tgkill to each thread in turn; the handler
 *   tells it from a timer signal by si_code == SI_TKILL from our own pid
 *   and writes the stack into a single snapshot slot it claims with a CAS.
 *
 * Invariants. The handler is installed once and never removed (a late
 * signal must find it); it refuses to replace a handler someone else
 * installed. Only the drain thread touches the timer table. cpu_mu guards
 * the request list and the tables; the handler never takes it.
 *
 * Fork: timers are not inherited; kx_cpu_atfork_child forgets the parent's
 * drain thread and requests. Elsewhere: symbolization (symbolize.c), the
 * HTTP side (server.c).
 */
#include "exporter-kit/kx.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/alloc.h"
#include "pprof/profile.h"

#define KX_RING 4096 /* slots, a power of two */
#define DRAIN_FAST_NS (20 * 1000000LL)
#define DRAIN_NS (100 * 1000000LL)
#define SCAN_NS (100 * 1000000LL)
#define FULL_SCAN_NS (1000 * 1000000LL)
#define MAX_THREADS 8192

struct kx_slot {
    atomic_size_t seq;
    unsigned depth;
    unsigned weight; /* timer periods: 1 + si_overrun */
    uintptr_t pcs[KX_MAX_DEPTH];
};

static struct kx_slot ring[KX_RING];
static atomic_size_t ring_head;
static size_t ring_tail; /* drain thread only */
static atomic_long ring_lost, ring_lost_periods;
static atomic_int sampling; /* handler records only while 1 */
static atomic_int handler_installed;
static atomic_int my_pid;

/* /threads snapshot slot. snap_tid: the thread asked to write (0 = none,
 * -1 = claimed by the handler). */
static atomic_int snap_tid;
static atomic_int snap_done;
static unsigned snap_depth;
static uintptr_t snap_pcs[KX_MAX_DEPTH];
static pthread_mutex_t snap_mu = PTHREAD_MUTEX_INITIALIZER;

struct kx_cpu_req {
    struct kx_cpu_req *next;
    struct kx_stacktab *tab;
};

struct kx_timer {
    int tid;
    timer_t timer;
    bool seen;
};

static pthread_mutex_t cpu_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cpu_cond; /* CLOCK_MONOTONIC */
static pthread_t drain_thread;
static bool cpu_running, cpu_stopping;
static int cpu_hz;
static struct kx_cpu_req *reqs;
static int n_reqs;
/* Drain thread only: */
static struct kx_timer *timers;
static size_t n_timers, cap_timers;
static bool use_itimer, armed;

int kx_gettid(void)
{
    return (int)syscall(SYS_gettid);
}

int64_t kx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kx_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- The signal handler -------------------------------------------------- */

static unsigned walk_context(void *ucv, uintptr_t *out, unsigned max)
{
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
    uintptr_t fp = (uintptr_t)uc->uc_mcontext.regs[29];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.sp;
#else
#error "libkiln-exporter: unwinding is implemented for x86-64 and aarch64"
#endif
    if (pc < KX_PC_MAX_PSEUDO)
        pc = KX_PC_MAX_PSEUDO;
    return kx_unwind(pc, fp, sp, out, max);
}

static void record_sample(void *uc, unsigned weight)
{
    size_t pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
    struct kx_slot *s;
    for (;;) {
        s = &ring[pos & (KX_RING - 1)];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&ring_head, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            atomic_fetch_add_explicit(&ring_lost, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&ring_lost_periods, (long)weight,
                                      memory_order_relaxed);
            return;
        } else {
            pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
        }
    }
    s->depth = walk_context(uc, s->pcs, KX_MAX_DEPTH);
    s->weight = weight;
    atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
}

static void on_sigprof(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    if (si != NULL && si->si_code == SI_TKILL &&
        si->si_pid == atomic_load_explicit(&my_pid, memory_order_relaxed)) {
        int me = kx_gettid();
        int expect = me;
        if (atomic_compare_exchange_strong(&snap_tid, &expect, -1)) {
            snap_depth = walk_context(uc, snap_pcs, KX_MAX_DEPTH);
            atomic_store_explicit(&snap_done, 1, memory_order_release);
        }
    } else if (atomic_load_explicit(&sampling, memory_order_relaxed)) {
        unsigned weight = 1;
        if (si != NULL && si->si_code == SI_TIMER && si->si_overrun > 0 &&
            si->si_overrun < 1000000)
            weight += (unsigned)si->si_overrun;
        record_sample(uc, weight);
    }
    errno = saved;
}

static enum kb_status install_handler(struct kb_err *err)
{
    struct sigaction old;
    if (sigaction(SIGPROF, NULL, &old) != 0)
        return kb_errf(err, KB_ERR_IO, "sigaction(SIGPROF): %s",
                       strerror(errno));
    if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigprof) {
        atomic_store(&handler_installed, 1);
        return KB_OK;
    }
    if (!(old.sa_flags & SA_SIGINFO) &&
        (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigprof;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGPROF, &sa, NULL) != 0)
            return kb_errf(err, KB_ERR_IO, "sigaction(SIGPROF): %s",
                           strerror(errno));
        atomic_store(&handler_installed, 1);
        return KB_OK;
    }
    return kb_errf(err, KB_ERR_USAGE,
                   "SIGPROF already has a handler (the program's or another "
                   "profiler's, e.g. gperftools); it is not replaced: turn "
                   "the CPU profiler off or remove the other handler");
}

/* ---- Timers (drain thread only) ----------------------------------------- */

static clockid_t thread_cpu_clock(int tid)
{
    /* The kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED). */
    return (clockid_t)((~(unsigned)tid << 3) | 6);
}

static bool timer_for(int tid, timer_t *out)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGPROF;
    sev._sigev_un._tid = tid;
    if (timer_create(thread_cpu_clock(tid), &sev, out) != 0)
        return false;
    struct itimerspec its;
    long ns = 1000000000L / cpu_hz;
    its.it_interval.tv_sec = ns / 1000000000L;
    its.it_interval.tv_nsec = ns % 1000000000L;
    its.it_value = its.it_interval;
    if (timer_settime(*out, 0, &its, NULL) != 0) {
        timer_delete(*out);
        return false;
    }
    return true;
}

static void set_itimer(bool on)
{
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    if (on) {
        long us = 1000000L / cpu_hz;
        it.it_interval.tv_sec = us / 1000000L;
        it.it_interval.tv_usec = us % 1000000L;
        it.it_value = it.it_interval;
    }
    setitimer(ITIMER_PROF, &it, NULL);
}

/* Give every thread a timer, drop the timers of threads that are gone. */
static void scan_threads(void)
{
    if (use_itimer)
        return;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return;
    for (size_t i = 0; i < n_timers; i++)
        timers[i].seen = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int tid = atoi(de->d_name);
        if (tid <= 0)
            continue;
        size_t i;
        for (i = 0; i < n_timers; i++)
            if (timers[i].tid == tid)
                break;
        if (i < n_timers) {
            timers[i].seen = true;
            continue;
        }
        if (n_timers >= MAX_THREADS)
            continue;
        timer_t t;
        if (!timer_for(tid, &t)) {
            if (errno == ENOSYS || errno == EINVAL || errno == EPERM) {
                /* No per-thread CPU timers here: one process timer. */
                if (n_timers == 0) {
                    use_itimer = true;
                    set_itimer(true);
                    break;
                }
            }
            continue;
        }
        timers = kb_grow(timers, &cap_timers, n_timers + 1, sizeof(*timers));
        timers[n_timers].tid = tid;
        timers[n_timers].timer = t;
        timers[n_timers].seen = true;
        n_timers++;
    }
    closedir(d);
    size_t k = 0;
    for (size_t i = 0; i < n_timers; i++) {
        if (timers[i].seen)
            timers[k++] = timers[i];
        else
            timer_delete(timers[i].timer);
    }
    n_timers = k;
}

static void disarm_all(void)
{
    for (size_t i = 0; i < n_timers; i++)
        timer_delete(timers[i].timer);
    n_timers = 0;
    if (use_itimer)
        set_itimer(false);
    use_itimer = false;
}

/* ---- Draining ------------------------------------------------------------ */

/* Move the ring's samples into every request's table; returns how many.
 * Call with cpu_mu. */
static size_t drain_locked(void)
{
    size_t moved = 0;
    for (;;) {
        struct kx_slot *s = &ring[ring_tail & (KX_RING - 1)];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq != ring_tail + 1)
            break;
        double w[KX_MAX_VALUES] = {1, s->weight, 0, 0};
        for (struct kx_cpu_req *r = reqs; r; r = r->next)
            kx_stacktab_add(r->tab, s->pcs, s->depth, w);
        atomic_store_explicit(&s->seq, ring_tail + KX_RING,
                              memory_order_release);
        ring_tail++;
        moved++;
    }
    long lost = atomic_exchange(&ring_lost, 0);
    long lost_periods = atomic_exchange(&ring_lost_periods, 0);
    if (lost > 0) {
        uintptr_t pc = KX_PC_LOST;
        double v[KX_MAX_VALUES] = {(double)lost, (double)lost_periods, 0, 0};
        for (struct kx_cpu_req *r = reqs; r; r = r->next)
            kx_stacktab_add(r->tab, &pc, 1, v);
    }
    return moved;
}

/* The number of threads, plus 2 (the link count of /proc/self/task); 0 if
 * unknown. */
static unsigned long task_links(void)
{
    struct stat st;
    return stat("/proc/self/task", &st) == 0 ? (unsigned long)st.st_nlink : 0;
}

static void deadline_after(struct timespec *ts, int64_t ns)
{
    int64_t t = kx_now_ns() + ns;
    ts->tv_sec = t / 1000000000;
    ts->tv_nsec = t % 1000000000;
}

static void *drain_main(void *arg)
{
    kx_guard = 1;
    int64_t last_scan = 0, last_full = 0;
    unsigned long links = 0;
    pthread_mutex_lock(&cpu_mu);
    while (!cpu_stopping) {
        size_t moved = drain_locked();
        if (n_reqs == 0) {
            if (armed) {
                atomic_store(&sampling, 0);
                disarm_all();
                armed = false;
            }
            /* A request or kx_cpu_stop broadcasts. */
            pthread_cond_wait(&cpu_cond, &cpu_mu);
            continue;
        }
        int64_t now = kx_now_ns();
        if (!armed) {
            atomic_store(&sampling, 1);
            links = task_links();
            scan_threads();
            armed = true;
            last_scan = last_full = now;
        } else if (now - last_scan >= SCAN_NS) {
            unsigned long l = task_links();
            if (l != links || l == 0 || now - last_full >= FULL_SCAN_NS) {
                scan_threads();
                links = l;
                last_full = now;
            }
            last_scan = now;
        }
        struct timespec ts;
        deadline_after(&ts, moved > KX_RING / 8 ? DRAIN_FAST_NS : DRAIN_NS);
        pthread_cond_timedwait(&cpu_cond, &cpu_mu, &ts);
    }
    atomic_store(&sampling, 0);
    disarm_all();
    armed = false;
    drain_locked();
    pthread_mutex_unlock(&cpu_mu);
    return NULL;
}

enum kb_status kx_cpu_start(int hz, struct kb_err *err)
{
    enum kb_status st = install_handler(err);
    if (st != KB_OK)
        return st;
    atomic_store(&my_pid, getpid());
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cpu_cond, &ca);
    pthread_condattr_destroy(&ca);
    /* Reset the ring: nothing is sampling now. */
    for (size_t i = 0; i < KX_RING; i++)
        atomic_store(&ring[i].seq, i);
    atomic_store(&ring_head, 0);
    ring_tail = 0;
    atomic_store(&ring_lost, 0);
    atomic_store(&ring_lost_periods, 0);
    cpu_hz = hz;
    cpu_stopping = false;
    int rc = pthread_create(&drain_thread, NULL, drain_main, NULL);
    if (rc != 0)
        return kb_errf(err, KB_ERR_IO, "pthread_create: %s", strerror(rc));
    cpu_running = true;
    return KB_OK;
}

void kx_cpu_stop(void)
{
    pthread_mutex_lock(&cpu_mu);
    if (!cpu_running) {
        pthread_mutex_unlock(&cpu_mu);
        return;
    }
    cpu_stopping = true;
    pthread_cond_broadcast(&cpu_cond);
    pthread_mutex_unlock(&cpu_mu);
    pthread_join(drain_thread, NULL);
    pthread_mutex_lock(&cpu_mu);
    cpu_running = false;
    pthread_mutex_unlock(&cpu_mu);
}

void kx_cpu_atfork_child(void)
{
    /* The drain thread and the requests live in the parent only. */
    pthread_mutex_init(&cpu_mu, NULL);
    pthread_mutex_init(&snap_mu, NULL);
    cpu_running = false;
    cpu_stopping = false;
    reqs = NULL;
    n_reqs = 0;
    timers = NULL;
    n_timers = cap_timers = 0;
    armed = false;
    use_itimer = false;
    atomic_store(&sampling, 0);
}

static struct pprof_profile *build_cpu(const struct kx_stacktab *tab,
                                       int64_t start_wall, int64_t dur)
{
    struct kx_pbuild *b = kx_pbuild_new();
    struct pprof_profile *p = kx_pbuild_profile(b);
    pprof_add_sample_type(p, pprof_intern_str(p, "samples"),
                          pprof_intern_str(p, "count"));
    pprof_add_sample_type(p, pprof_intern_str(p, "cpu"),
                          pprof_intern_str(p, "nanoseconds"));
    p->period_type.type = pprof_intern_str(p, "cpu");
    p->period_type.unit = pprof_intern_str(p, "nanoseconds");
    p->period = 1000000000LL / cpu_hz;
    p->time_nanos = start_wall;
    p->duration_nanos = dur;
    for (size_t i = 0; i < kx_stacktab_count(tab); i++) {
        const uintptr_t *pcs;
        unsigned depth;
        const double *v;
        kx_stacktab_get(tab, i, &pcs, &depth, &v);
        int64_t n = (int64_t)v[0], periods = (int64_t)v[1];
        if (n <= 0)
            continue;
        int64_t vals[2] = {n, periods * p->period};
        kx_pbuild_sample(b, pcs, depth, vals, NULL, NULL);
    }
    return kx_pbuild_finish(b);
}

enum kb_status kx_cpu_profile(int seconds, struct pprof_profile **out,
                              struct kb_err *err)
{
    struct kx_cpu_req r = {0};
    r.tab = kx_stacktab_new(1 << 16);
    if (r.tab == NULL)
        return kb_errf(err, KB_ERR_IO, "out of memory for a CPU profile");
    int64_t start_wall = kx_wall_ns(), start = kx_now_ns();
    pthread_mutex_lock(&cpu_mu);
    if (!cpu_running || cpu_stopping) {
        pthread_mutex_unlock(&cpu_mu);
        kx_stacktab_free(r.tab);
        return kb_errf(err, KB_ERR_USAGE, "the CPU profiler is not running");
    }
    drain_locked(); /* samples before this request are not ours */
    r.next = reqs;
    reqs = &r;
    n_reqs++;
    pthread_cond_broadcast(&cpu_cond); /* arm the timers now */
    struct timespec ts;
    deadline_after(&ts, (int64_t)seconds * 1000000000);
    bool stopped = false;
    while (!(stopped = cpu_stopping)) {
        if (pthread_cond_timedwait(&cpu_cond, &cpu_mu, &ts) == ETIMEDOUT)
            break;
    }
    drain_locked();
    for (struct kx_cpu_req **pp = &reqs; *pp; pp = &(*pp)->next)
        if (*pp == &r) {
            *pp = r.next;
            break;
        }
    if (--n_reqs == 0)
        pthread_cond_broadcast(&cpu_cond); /* delete the timers now */
    pthread_mutex_unlock(&cpu_mu);
    if (stopped) {
        kx_stacktab_free(r.tab);
        return kb_errf(err, KB_ERR_USAGE, "the CPU profiler was stopped");
    }
    *out = build_cpu(r.tab, start_wall, kx_now_ns() - start);
    kx_stacktab_free(r.tab);
    return KB_OK;
}

/* ---- /threads ------------------------------------------------------------ */

static void thread_name(int tid, char *name, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
    FILE *f = fopen(path, "re");
    name[0] = '\0';
    if (f != NULL) {
        if (fgets(name, (int)len, f) == NULL)
            name[0] = '\0';
        fclose(f);
    }
    name[strcspn(name, "\n")] = '\0';
}

/* Ask thread `tid` for its stack; false if it did not answer in time. */
static bool snapshot(int tid, uintptr_t *pcs, unsigned *depth)
{
    atomic_store(&snap_done, 0);
    atomic_store(&snap_tid, tid);
    if (syscall(SYS_tgkill, atomic_load(&my_pid), tid, SIGPROF) != 0) {
        atomic_store(&snap_tid, 0);
        return false;
    }
    for (int i = 0; i < 500; i++) { /* 50 ms */
        if (atomic_load_explicit(&snap_done, memory_order_acquire))
            break;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    int expect = tid;
    if (atomic_compare_exchange_strong(&snap_tid, &expect, 0))
        return false; /* never answered; it will not write now */
    /* The handler claimed the slot: it finishes quickly. */
    while (!atomic_load_explicit(&snap_done, memory_order_acquire))
        sched_yield();
    atomic_store(&snap_tid, 0);
    *depth = snap_depth;
    memcpy(pcs, snap_pcs, snap_depth * sizeof(*pcs));
    return true;
}

enum kb_status kx_threads_profile(struct pprof_profile **out,
                                  struct kb_err *err)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return kb_errf(err, KB_ERR_IO, "/proc/self/task: %s", strerror(errno));
    int *tids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < MAX_THREADS) {
        int tid = atoi(de->d_name);
        if (tid > 0) {
            tids = kb_grow(tids, &cap, n + 1, sizeof(*tids));
            tids[n++] = tid;
        }
    }
    closedir(d);
    struct kx_pbuild *b = kx_pbuild_new();
    struct pprof_profile *p = kx_pbuild_profile(b);
    pprof_add_sample_type(p, pprof_intern_str(p, "threads"),
                          pprof_intern_str(p, "count"));
    p->period_type = p->sample_types[0];
    p->period = 1;
    p->time_nanos = kx_wall_ns();
    bool can = atomic_load(&handler_installed) != 0;
    if (can) {
        atomic_store(&my_pid, getpid());
        pthread_mutex_lock(&snap_mu);
    }
    for (size_t i = 0; i < n; i++) {
        uintptr_t pcs[KX_MAX_DEPTH];
        unsigned depth = 0;
        if (!can || !snapshot(tids[i], pcs, &depth) || depth == 0) {
            pcs[0] = KX_PC_UNAVAILABLE;
            depth = 1;
        }
        char name[64];
        thread_name(tids[i], name, sizeof(name));
        int64_t one = 1;
        kx_pbuild_sample(b, pcs, depth, &one, "thread", name);
    }
    if (can)
        pthread_mutex_unlock(&snap_mu);
    free(tids);
    *out = kx_pbuild_finish(b);
    return KB_OK;
}
