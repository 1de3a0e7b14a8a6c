/* exporter-kit/exporter.c: libkiln-exporter's public API (kiln/exporter.h),
 * options, the KILN_EXPORTER_* environment, fork handling.
 *
 * What. kiln_exporter_start validates options, starts the profilers (CPU:
 * SIGPROF handler and drain thread; heap and mutex: turn sampling on) and
 * the HTTP server, in that order, undoing what was started if a later step
 * fails. kiln_exporter_stop undoes it all (the SIGPROF handler stays). A
 * constructor starts the exporter from the environment when
 * KILN_EXPORTER_ADDR is set, which is how LD_PRELOAD use works; see
 * docs/exporter.md for the variables.
 *
 * Design. One mutex serializes start and stop. The last error message is
 * kept in a static buffer (kiln_exporter_last_error). pthread_atfork
 * handlers take the heap and mutex spin locks across fork, and the child
 * forgets the running exporter: its threads do not exist there, timers are
 * not inherited, and sampling is off; it may call kiln_exporter_start
 * again.
 *
 * Also here: kx_guard, the per-thread "profiler code is running" flag, and
 * the spin lock the hooks use. Elsewhere: everything else (kx.h lists it).
 */
#include "kiln/exporter.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporter-kit/kx.h"

KX_TLS int kx_guard;

static inline void kx_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

void kx_spin_lock(atomic_int *l)
{
    for (int spins = 0;; spins++) {
        if (!atomic_load_explicit(l, memory_order_relaxed) &&
            !atomic_exchange_explicit(l, 1, memory_order_acquire))
            return;
        if (spins > 100)
            sched_yield();
        else
            kx_cpu_relax();
    }
}

void kx_spin_unlock(atomic_int *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static bool running;
static unsigned running_profilers;
static struct kx_server *server;
static char bound_addr[128];
static char last_error[KB_ERR_MSG_MAX];

void kiln_exporter_options_init(struct kiln_exporter_options *o)
{
    memset(o, 0, sizeof(*o));
    o->addr = "127.0.0.1:6060";
    o->profilers = KILN_EXPORTER_ALL;
    o->cpu_hz = 100;
    o->heap_period = 512 * 1024;
    o->mutex_rate = 10;
    o->max_profile_seconds = 300;
}

static enum kiln_exporter_status public_status(enum kb_status st)
{
    switch (st) {
    case KB_OK:
        return KILN_EXPORTER_OK;
    case KB_ERR_INVALID:
    case KB_ERR_LIMIT:
        return KILN_EXPORTER_ERR_INVALID;
    case KB_ERR_USAGE:
        return KILN_EXPORTER_ERR_BUSY;
    case KB_ERR_UNSUPPORTED:
        return KILN_EXPORTER_ERR_UNSUPPORTED;
    default:
        return KILN_EXPORTER_ERR_IO;
    }
}

static enum kb_status check_options(struct kiln_exporter_options *o,
                                    struct kb_err *err)
{
    struct kiln_exporter_options d;
    kiln_exporter_options_init(&d);
    if (o->addr == NULL || o->addr[0] == '\0')
        o->addr = d.addr;
    if (o->profilers == 0)
        o->profilers = d.profilers;
    if (o->cpu_hz == 0)
        o->cpu_hz = d.cpu_hz;
    if (o->heap_period == 0)
        o->heap_period = d.heap_period;
    if (o->mutex_rate == 0)
        o->mutex_rate = d.mutex_rate;
    if (o->max_profile_seconds == 0)
        o->max_profile_seconds = d.max_profile_seconds;
    if (o->profilers & ~KILN_EXPORTER_ALL)
        return kb_errf(err, KB_ERR_INVALID, "unknown profiler bits %#x",
                       o->profilers & ~KILN_EXPORTER_ALL);
    if (o->cpu_hz < 1 || o->cpu_hz > 1000)
        return kb_errf(err, KB_ERR_INVALID,
                       "cpu_hz %d: want 1 to 1000 samples per second",
                       o->cpu_hz);
    if (o->heap_period > ((size_t)1 << 40))
        return kb_errf(err, KB_ERR_INVALID,
                       "heap_period %zu: want at most 1 TiB", o->heap_period);
    if (o->max_profile_seconds < 1 || o->max_profile_seconds > 86400)
        return kb_errf(err, KB_ERR_INVALID,
                       "max_profile_seconds %d: want 1 to 86400",
                       o->max_profile_seconds);
    return KB_OK;
}

enum kiln_exporter_status
kiln_exporter_start(const struct kiln_exporter_options *opts)
{
    struct kiln_exporter_options o;
    struct kb_err err = {0};
    enum kb_status st;
    bool cpu_started = false;
    if (opts != NULL)
        o = *opts;
    else
        kiln_exporter_options_init(&o);
    kx_guard++;
    pthread_mutex_lock(&state_mu);
    if (running) {
        st = kb_errf(&err, KB_ERR_USAGE,
                     "the exporter is already running on %s", bound_addr);
        goto fail;
    }
    st = check_options(&o, &err);
    if (st != KB_OK)
        goto fail;
    if (o.profilers & KILN_EXPORTER_CPU) {
        st = kx_cpu_start(o.cpu_hz, &err);
        if (st != KB_OK)
            goto fail;
        cpu_started = true;
    }
    st = kx_server_start(o.addr, o.max_profile_seconds, o.profilers, &server,
                         bound_addr, sizeof(bound_addr), &err);
    if (st != KB_OK)
        goto fail;
    if (o.profilers & KILN_EXPORTER_HEAP)
        kx_heap_enable(o.heap_period);
    if (o.profilers & KILN_EXPORTER_MUTEX)
        kx_mutex_enable(o.mutex_rate);
    running = true;
    running_profilers = o.profilers;
    last_error[0] = '\0';
    pthread_mutex_unlock(&state_mu);
    kx_guard--;
    return KILN_EXPORTER_OK;
fail:
    if (cpu_started)
        kx_cpu_stop();
    snprintf(last_error, sizeof(last_error), "%s", err.msg);
    pthread_mutex_unlock(&state_mu);
    kx_guard--;
    return public_status(st);
}

void kiln_exporter_stop(void)
{
    kx_guard++;
    pthread_mutex_lock(&state_mu);
    if (running) {
        kx_heap_disable();
        kx_mutex_disable();
        /* CPU first: it wakes /profile requests so the server can stop. */
        if (running_profilers & KILN_EXPORTER_CPU)
            kx_cpu_stop();
        kx_server_stop(server);
        server = NULL;
        bound_addr[0] = '\0';
        running = false;
    }
    pthread_mutex_unlock(&state_mu);
    kx_guard--;
}

const char *kiln_exporter_last_error(void)
{
    return last_error;
}

const char *kiln_exporter_addr(void)
{
    return bound_addr;
}

int kiln_exporter_heap_interposed(void)
{
    return kx_heap_interposed();
}

/* ---- Fork ---------------------------------------------------------------- */

/* Between prepare and parent/child this thread holds the heap and mutex
 * spin locks: kx_guard keeps its allocations and lock waits from sampling
 * (which would take them again). */
static void atfork_prepare(void)
{
    kx_guard++;
    kx_heap_atfork_prepare();
    kx_mutex_atfork_prepare();
}

static void atfork_parent(void)
{
    kx_mutex_atfork_parent();
    kx_heap_atfork_parent();
    kx_guard--;
}

static void atfork_child(void)
{
    kx_guard--;
    kx_mutex_atfork_child();
    kx_heap_atfork_child();
    kx_cpu_atfork_child();
    pthread_mutex_init(&state_mu, NULL);
    running = false;
    server = NULL; /* its threads are in the parent */
    bound_addr[0] = '\0';
}

/* ---- Environment (LD_PRELOAD) -------------------------------------------- */

static bool env_long(const char *name, long lo, long hi, long *out)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return true;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || errno != 0 || n < lo || n > hi) {
        fprintf(stderr,
                "libkiln-exporter: %s=%s: want an integer from %ld to %ld\n",
                name, v, lo, hi);
        return false;
    }
    *out = n;
    return true;
}

static bool env_profilers(unsigned *out)
{
    const char *v = getenv("KILN_EXPORTER_PROFILERS");
    if (v == NULL || v[0] == '\0')
        return true;
    unsigned bits = 0;
    const char *p = v;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 3 && strncmp(p, "cpu", 3) == 0)
            bits |= KILN_EXPORTER_CPU;
        else if (n == 4 && strncmp(p, "heap", 4) == 0)
            bits |= KILN_EXPORTER_HEAP;
        else if (n == 5 && strncmp(p, "mutex", 5) == 0)
            bits |= KILN_EXPORTER_MUTEX;
        else if (n == 3 && strncmp(p, "all", 3) == 0)
            bits |= KILN_EXPORTER_ALL;
        else if (n > 0) {
            fprintf(stderr,
                    "libkiln-exporter: KILN_EXPORTER_PROFILERS=%s: want a "
                    "comma-separated list of cpu, heap, mutex, all\n",
                    v);
            return false;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (bits == 0) {
        fprintf(stderr, "libkiln-exporter: KILN_EXPORTER_PROFILERS is "
                        "empty: nothing to do\n");
        return false;
    }
    *out = bits;
    return true;
}

__attribute__((constructor)) static void kx_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    const char *addr = getenv("KILN_EXPORTER_ADDR");
    if (addr == NULL || addr[0] == '\0')
        return;
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = addr;
    long hz = o.cpu_hz, period = (long)o.heap_period, rate = o.mutex_rate,
         max = o.max_profile_seconds;
    if (!env_profilers(&o.profilers) ||
        !env_long("KILN_EXPORTER_CPU_HZ", 1, 1000, &hz) ||
        !env_long("KILN_EXPORTER_HEAP_PERIOD", 1, 1L << 40, &period) ||
        !env_long("KILN_EXPORTER_MUTEX_RATE", 1, 1L << 30, &rate) ||
        !env_long("KILN_EXPORTER_MAX_SECONDS", 1, 86400, &max))
        return;
    o.cpu_hz = (int)hz;
    o.heap_period = (size_t)period;
    o.mutex_rate = (unsigned)rate;
    o.max_profile_seconds = (int)max;
    if (kiln_exporter_start(&o) != KILN_EXPORTER_OK) {
        fprintf(stderr, "libkiln-exporter: not started: %s\n",
                kiln_exporter_last_error());
        return;
    }
    const char *file = getenv("KILN_EXPORTER_ADDR_FILE");
    if (file != NULL && file[0] != '\0') {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", file);
        FILE *f = fopen(tmp, "we");
        if (f != NULL) {
            fprintf(f, "%s\n", kiln_exporter_addr());
            if (fclose(f) == 0)
                rename(tmp, file);
        }
    }
}
