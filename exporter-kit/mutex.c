/* exporter-kit/mutex.c: the mutex profiler: pthread_mutex_lock, interposed.
 *
 * What. 1 in `rate` contended pthread_mutex_lock waits (chosen at random per
 * thread) is timed with CLOCK_MONOTONIC around the real
 * pthread_mutex_lock, and the waiter's stack is recorded with contentions =
 * rate and delay = wait * rate, so the profile estimates the totals. Go
 * charges mutex delay to the unlocker's stack; we charge the waiter's (the
 * unlocker is not known at that point), which answers "who waits, and
 * where".
 *
 * Design. The fast path costs an uncontended lock (almost) nothing: one load
 * of the mutex's lock word, which glibc's pthread_mutex_t exposes
 * (__data.__lock, 0 when free) and which the real lock is about to touch
 * anyway, and while it is 0 a tail call to the real pthread_mutex_lock
 * through a cached pointer. No thread-local access, no store, no atomic
 * read-modify-write, no second call, and not even the global flag
 * (profiling on?): that is read only for a lock that is held when we look,
 * on the slow path, which then picks 1 in `rate` (per-thread random
 * numbers); the others tail-call the real lock too. Checking the flag first
 * cost 5% on a loop of uncontended lock/unlock pairs; trying
 * pthread_mutex_trylock first (the obvious design) cost 24%: a call that
 * returns and a test of its result instead of a tail call (measured with
 * bench/exporter_overhead's lock workload, mutex profiling on). A
 * picked one tries pthread_mutex_trylock (the holder may have let go
 * meanwhile, or it is a recursive mutex this thread owns: not a wait), and
 * times the real lock only if that says EBUSY. A lock taken between our
 * look and the real lock's attempt (a window of a few instructions) waits
 * unseen. Where pthread_mutex_t's layout is not glibc's, every call takes
 * the slow path, i.e. trylock first while profiling is on.
 *
 * The real functions are found with dlsym(RTLD_NEXT) in a constructor (or at
 * first use, if earlier); a pthread_mutex_lock made while dlsym runs spins
 * on the real trylock. Records go to a stack table (mmap'd, no malloc) under
 * a spin lock. While kx_guard is set (profiler code), waits are not
 * sampled. The hook and its slow path are in the kx_hooks section, whose
 * frames the stack walk drops.
 *
 * Not seen: pthread_mutex_timedlock, rwlocks, spin locks, condition variable
 * waits (pthread_cond_wait reacquires the mutex inside glibc), and glibc's
 * internal locks (stdio, malloc arenas, the loader), which never go through
 * the exported symbol. Under TSan this definition is shadowed by TSan's.
 *
 * Elsewhere: profile building (symbolize.c), stack walks (unwind.c).
 */
#include "exporter-kit/kx.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "pprof/profile.h"

static int boot_lock(pthread_mutex_t *m);
static int boot_trylock(pthread_mutex_t *m);
static int (*real_lock)(pthread_mutex_t *) = boot_lock;
static int (*real_trylock)(pthread_mutex_t *) = boot_trylock;
static KX_TLS int in_resolve;

static void resolve(void)
{
    in_resolve++;
    void *t = dlsym(RTLD_NEXT, "pthread_mutex_trylock");
    void *l = dlsym(RTLD_NEXT, "pthread_mutex_lock");
    if (t != NULL)
        real_trylock = (int (*)(pthread_mutex_t *))t;
    if (l != NULL)
        real_lock = (int (*)(pthread_mutex_t *))l;
    in_resolve--;
}

/* A lock taken from inside dlsym while we resolve: spin on the real
 * trylock (resolved first). Resolution happens in the library constructor,
 * before the program has threads, so this is a formality. */
static int resolving_lock(pthread_mutex_t *m)
{
    if (real_trylock == boot_trylock)
        return 0;
    int rc;
    while ((rc = real_trylock(m)) == EBUSY)
        sched_yield();
    return rc;
}

static int boot_lock(pthread_mutex_t *m)
{
    if (in_resolve)
        return resolving_lock(m);
    resolve();
    if (real_lock == boot_lock)
        return resolving_lock(m);
    return real_lock(m);
}

static int boot_trylock(pthread_mutex_t *m)
{
    if (in_resolve)
        return 0;
    resolve();
    if (real_trylock == boot_trylock)
        return 0;
    return real_trylock(m);
}

__attribute__((constructor(101))) static void mutex_init(void)
{
    if (real_lock == boot_lock)
        resolve();
}

static atomic_int mutex_on;
static atomic_uint mutex_rate = 10;
static atomic_int mutex_lock_;
static struct kx_stacktab *mutex_tab;
static KX_TLS uint64_t rng;

static bool pick(unsigned rate)
{
    if (rate <= 1)
        return true;
    if (rng == 0)
        rng = ((uint64_t)kx_gettid() << 32) ^ (uint64_t)kx_now_ns() ^ 1;
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (rng * 0x2545f4914f6cdd1dull >> 33) % rate == 0;
}

/* Whether `m` is held now, as far as a plain load can tell. */
static inline bool held(pthread_mutex_t *m)
{
#if defined(__GLIBC__)
    return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) != 0;
#else
    (void)m;
    return true;
#endif
}

/* The lock was held when pthread_mutex_lock looked. */
static KX_HOOK __attribute__((noinline)) int lock_held(pthread_mutex_t *m)
{
    unsigned rate = atomic_load_explicit(&mutex_rate, memory_order_relaxed);
    if (!atomic_load_explicit(&mutex_on, memory_order_relaxed) || kx_guard ||
        !pick(rate))
        return real_lock(m);
    int rc = real_trylock(m);
    if (rc != EBUSY)
        return rc;
    int64_t t0 = kx_now_ns();
    rc = real_lock(m);
    int64_t wait = kx_now_ns() - t0;
    if (rc != 0 && rc != EOWNERDEAD)
        return rc; /* EDEADLK and such: no wait */
    kx_guard++;
    uintptr_t pcs[KX_MAX_DEPTH];
    unsigned depth = kx_unwind_here(pcs, KX_MAX_DEPTH);
    double vals[KX_MAX_VALUES] = {(double)rate, (double)wait * rate, 0, 0};
    kx_spin_lock(&mutex_lock_);
    if (mutex_tab != NULL)
        kx_stacktab_add(mutex_tab, pcs, depth, vals);
    kx_spin_unlock(&mutex_lock_);
    kx_guard--;
    return rc;
}

KX_HOOK int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (__builtin_expect(!held(m), 1))
        return real_lock(m);
    return lock_held(m);
}

void kx_mutex_enable(unsigned rate)
{
    kx_spin_lock(&mutex_lock_);
    if (mutex_tab == NULL)
        mutex_tab = kx_stacktab_new(1 << 14);
    atomic_store(&mutex_rate, rate ? rate : 1);
    atomic_store(&mutex_on, mutex_tab != NULL);
    kx_spin_unlock(&mutex_lock_);
}

void kx_mutex_disable(void)
{
    atomic_store(&mutex_on, 0);
}

void kx_mutex_atfork_prepare(void)
{
    kx_spin_lock(&mutex_lock_);
}

void kx_mutex_atfork_parent(void)
{
    kx_spin_unlock(&mutex_lock_);
}

void kx_mutex_atfork_child(void)
{
    atomic_store(&mutex_on, 0);
    kx_spin_unlock(&mutex_lock_);
}

enum kb_status kx_mutex_profile(struct pprof_profile **out, struct kb_err *err)
{
    struct kx_stacktab *copy = NULL;
    kx_spin_lock(&mutex_lock_);
    if (mutex_tab != NULL)
        copy = kx_stacktab_clone(mutex_tab);
    kx_spin_unlock(&mutex_lock_);
    struct kx_pbuild *b = kx_pbuild_new();
    struct pprof_profile *p = kx_pbuild_profile(b);
    pprof_add_sample_type(p, pprof_intern_str(p, "contentions"),
                          pprof_intern_str(p, "count"));
    pprof_add_sample_type(p, pprof_intern_str(p, "delay"),
                          pprof_intern_str(p, "nanoseconds"));
    p->period_type = p->sample_types[0];
    p->period = atomic_load(&mutex_rate);
    p->time_nanos = kx_wall_ns();
    for (size_t i = 0; copy != NULL && i < kx_stacktab_count(copy); i++) {
        const uintptr_t *pcs;
        unsigned depth;
        const double *v;
        kx_stacktab_get(copy, i, &pcs, &depth, &v);
        int64_t vals[2] = {(int64_t)v[0], (int64_t)v[1]};
        if (vals[0] > 0)
            kx_pbuild_sample(b, pcs, depth, vals, NULL, NULL);
    }
    kx_stacktab_free(copy);
    *out = kx_pbuild_finish(b);
    (void)err;
    return KB_OK;
}
