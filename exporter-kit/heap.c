/* exporter-kit/heap.c: the heap profiler: the malloc family, interposed.
 *
 * What. This file defines malloc, calloc, realloc, free, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc and malloc_usable_size. Each
 * calls the next definition in the process (glibc's, or jemalloc's if the
 * program uses it) found with dlsym(RTLD_NEXT), and samples allocations as
 * Go's runtime does: a per-thread countdown of bytes, drawn from an
 * exponential distribution with mean `period`, is decremented by every
 * allocation's size; the allocation that takes it to zero or below is
 * sampled, and the countdown is drawn again. A sampled allocation of n bytes
 * stands for 1/(1 - exp(-n/period)) allocations of its size (the inverse of
 * its probability of being sampled), so the profile's totals are unbiased.
 *
 * Design.
 * - Hot path: malloc is the real call, one thread-local subtraction and one
 *   branch; free is one load from a 64 Ki-counter filter (hash of the
 *   pointer) and one branch before the real call. Only sampled pointers
 *   raise their filter counter, so a free whose counter is 0 cannot be a
 *   sampled allocation.
 * - Sampled allocations: the stack (frame pointers) goes into a stack table
 *   with four values (alloc_objects, alloc_space, inuse_objects,
 *   inuse_space, weighted); the pointer goes into a live table (open
 *   addressing, backward-shift deletion) with its entry and weight, so free
 *   subtracts exactly what the allocation added. Both tables are mmap'd
 *   (stacktab.c and below): the slow path never calls malloc. One spin lock
 *   guards them.
 * - Bootstrapping: the real_* pointers start out pointing at boot_*
 *   functions that resolve the real ones with dlsym; while a thread is
 *   inside dlsym (which may call calloc), its allocations come from a
 *   static bump buffer, which free ignores and realloc copies out of.
 * - Recursion: while kx_guard is set (profiler code, including the stack
 *   walk and the exporter's own threads), allocations are not sampled.
 *
 * Invariants. A pointer is in the live table iff its filter counter
 * includes it. A sampled pointer leaves the live table before the real
 * free, so its address cannot be handed out and sampled again first.
 *
 * Fork: the lock is taken across fork (pthread_atfork); the child keeps the
 * tables but stops sampling. Under ASan or TSan, or behind another
 * allocator that interposes first, these definitions are never called
 * (kiln_exporter_heap_interposed() says so). Elsewhere: stack walks
 * (unwind.c), profile building (symbolize.c).
 */
#include "exporter-kit/kx.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pprof/profile.h"

/* ---- Bootstrap ----------------------------------------------------------- */

#define BOOT_SIZE (256 * 1024)
static _Alignas(64) char boot_buf[BOOT_SIZE];
static atomic_size_t boot_used;
static KX_TLS int in_resolve;

static bool is_boot(const void *p)
{
    return (uintptr_t)p - (uintptr_t)boot_buf < BOOT_SIZE;
}

/* 16-byte header holding the size, so realloc can copy out. */
static void *boot_alloc(size_t n)
{
    size_t need = (n + 16 + 15) & ~(size_t)15;
    size_t off = atomic_fetch_add(&boot_used, need);
    if (off + need > BOOT_SIZE) {
        static const char msg[] = "libkiln-exporter: bootstrap heap full\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        abort();
    }
    *(size_t *)(boot_buf + off) = n;
    return boot_buf + off + 16;
}

static size_t boot_size(const void *p)
{
    return *(const size_t *)((const char *)p - 16);
}

static void *boot_malloc(size_t n);
static void boot_free(void *p);
static void *boot_calloc(size_t a, size_t b);
static void *boot_realloc(void *p, size_t n);
static int boot_posix_memalign(void **out, size_t al, size_t n);
static void *boot_aligned_alloc(size_t al, size_t n);
static void *boot_memalign(size_t al, size_t n);
static void *boot_valloc(size_t n);
static void *boot_pvalloc(size_t n);
static size_t boot_usable(void *p);

static void *(*real_malloc)(size_t) = boot_malloc;
static void (*real_free)(void *) = boot_free;
static void *(*real_calloc)(size_t, size_t) = boot_calloc;
static void *(*real_realloc)(void *, size_t) = boot_realloc;
static int (*real_posix_memalign)(void **, size_t,
                                  size_t) = boot_posix_memalign;
static void *(*real_aligned_alloc)(size_t, size_t) = boot_aligned_alloc;
static void *(*real_memalign)(size_t, size_t) = boot_memalign;
static void *(*real_valloc)(size_t) = boot_valloc;
static void *(*real_pvalloc)(size_t) = boot_pvalloc;
static size_t (*real_usable)(void *) = boot_usable;

static void *need(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) {
        char msg[128];
        int n = snprintf(msg, sizeof(msg),
                         "libkiln-exporter: no next definition of %s\n", name);
        (void)!write(2, msg, (size_t)n);
        abort();
    }
    return f;
}

static void resolve(void)
{
    in_resolve++;
    void *m = need("malloc"), *f = need("free"), *c = need("calloc"),
         *r = need("realloc"), *pm = need("posix_memalign"),
         *aa = need("aligned_alloc"), *ma = need("memalign"),
         *va = need("valloc"), *pv = need("pvalloc"),
         *us = need("malloc_usable_size");
    real_free = (void (*)(void *))f;
    real_calloc = (void *(*)(size_t, size_t))c;
    real_realloc = (void *(*)(void *, size_t))r;
    real_posix_memalign = (int (*)(void **, size_t, size_t))pm;
    real_aligned_alloc = (void *(*)(size_t, size_t))aa;
    real_memalign = (void *(*)(size_t, size_t))ma;
    real_valloc = (void *(*)(size_t))va;
    real_pvalloc = (void *(*)(size_t))pv;
    real_usable = (size_t(*)(void *))us;
    __atomic_store_n(&real_malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
    in_resolve--;
}

static void *boot_malloc(size_t n)
{
    if (in_resolve)
        return boot_alloc(n);
    resolve();
    return real_malloc(n);
}

static void boot_free(void *p)
{
    if (p == NULL || is_boot(p))
        return;
    resolve();
    real_free(p);
}

static void *boot_calloc(size_t a, size_t b)
{
    if (in_resolve) {
        if (b != 0 && a > SIZE_MAX / b)
            return NULL;
        return boot_alloc(a * b); /* static memory is zeroed */
    }
    resolve();
    return real_calloc(a, b);
}

static void *boot_realloc(void *p, size_t n)
{
    if (in_resolve) {
        void *q = boot_alloc(n);
        if (p != NULL) {
            size_t old = boot_size(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    resolve();
    return real_realloc(p, n);
}

static int boot_posix_memalign(void **out, size_t al, size_t n)
{
    resolve();
    return real_posix_memalign(out, al, n);
}

static void *boot_aligned_alloc(size_t al, size_t n)
{
    resolve();
    return real_aligned_alloc(al, n);
}

static void *boot_memalign(size_t al, size_t n)
{
    resolve();
    return real_memalign(al, n);
}

static void *boot_valloc(size_t n)
{
    resolve();
    return real_valloc(n);
}

static void *boot_pvalloc(size_t n)
{
    resolve();
    return real_pvalloc(n);
}

static size_t boot_usable(void *p)
{
    resolve();
    return real_usable(p);
}

/* ---- Sampling state ------------------------------------------------------ */

#define FILTER_BITS 17
#define LIVE_CAP (1u << 19) /* a power of two */
#define DISABLED_RECHECK (1 << 20)

struct kx_live {
    uintptr_t ptr; /* 0 = empty */
    size_t entry;
    double weight;
    double bytes;
};

/* Bit i is set iff counts[i] > 0: free reads the 16 KiB bitmap only (it
 * stays in L1), the counts are touched on the slow path only. */
static atomic_uchar filter[(1u << FILTER_BITS) / 8];
static uint16_t filter_counts[1u << FILTER_BITS];
static atomic_int heap_lock;
static atomic_int heap_on;
static atomic_long heap_period = 512 * 1024;
static struct kx_stacktab *heap_tab; /* created on first enable */
static struct kx_live *live;         /* LIVE_CAP slots, mmap'd */
static size_t n_live;

static KX_TLS int64_t left; /* bytes until the next sample */
static KX_TLS uint64_t rng; /* xorshift64* state; 0 = not seeded */

static size_t fhash(const void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull >>
                    (64 - FILTER_BITS));
}

static size_t lhash(uintptr_t p)
{
    return (size_t)((p >> 4) * 0xff51afd7ed558ccdull >> 40) & (LIVE_CAP - 1);
}

static int64_t draw(void)
{
    if (rng == 0)
        rng = ((uint64_t)kx_gettid() << 32) ^ (uint64_t)kx_now_ns() ^
              (uintptr_t)&left ^ 0x2545f4914f6cdd1dull;
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t r = rng * 0x2545f4914f6cdd1dull;
    double u = ((double)(r >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double n = -log(u) *
               (double)atomic_load_explicit(&heap_period, memory_order_relaxed);
    return n < 1 ? 1 : n > 1e15 ? (int64_t)1e15 : (int64_t)n;
}

static void live_insert(uintptr_t p, size_t entry, double w, double bytes)
{
    if (n_live + 1 >= LIVE_CAP / 2)
        return; /* full: counted as allocated, never as in use */
    size_t i = lhash(p);
    while (live[i].ptr != 0)
        i = (i + 1) & (LIVE_CAP - 1);
    live[i].ptr = p;
    live[i].entry = entry;
    live[i].weight = w;
    live[i].bytes = bytes;
    n_live++;
    size_t h = fhash((void *)p);
    if (filter_counts[h]++ == 0)
        atomic_fetch_or_explicit(&filter[h / 8], (unsigned char)(1u << h % 8),
                                 memory_order_relaxed);
    double *v = kx_stacktab_vals(heap_tab, entry);
    v[2] += w;
    v[3] += bytes;
}

/* Remove `p` if it is live (call with heap_lock). */
static void live_remove(uintptr_t p)
{
    if (live == NULL)
        return;
    size_t i = lhash(p);
    while (live[i].ptr != p) {
        if (live[i].ptr == 0)
            return;
        i = (i + 1) & (LIVE_CAP - 1);
    }
    double *v = kx_stacktab_vals(heap_tab, live[i].entry);
    v[2] -= live[i].weight;
    v[3] -= live[i].bytes;
    size_t h = fhash((void *)p);
    if (--filter_counts[h] == 0)
        atomic_fetch_and_explicit(&filter[h / 8], (unsigned char)~(1u << h % 8),
                                  memory_order_relaxed);
    n_live--;
    /* Backward-shift deletion keeps probe chains whole. */
    size_t j = i;
    for (;;) {
        live[i].ptr = 0;
        for (;;) {
            j = (j + 1) & (LIVE_CAP - 1);
            if (live[j].ptr == 0)
                return;
            size_t k = lhash(live[j].ptr);
            /* Move j to i unless its home k lies cyclically in (i, j]. */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        live[i] = live[j];
        i = j;
    }
}

/* The slow path of every allocating hook. Its caller is the hook, whose
 * caller is the program: kx_unwind_here skips us and the hook. The hooks
 * call it as `sampled(p, n); KX_NO_TAIL(); return p;`: a tail call would
 * remove the hook's frame and break that count. */
static __attribute__((noinline)) void sampled(void *p, size_t n)
{
    if (rng == 0 || kx_guard ||
        !atomic_load_explicit(&heap_on, memory_order_relaxed)) {
        left = atomic_load_explicit(&heap_on, memory_order_relaxed)
                   ? draw()
                   : DISABLED_RECHECK;
        if (rng == 0)
            draw();
        return;
    }
    left = draw();
    if (p == NULL)
        return;
    kx_guard++;
    uintptr_t pcs[KX_MAX_DEPTH];
    unsigned depth = kx_unwind_here(pcs, KX_MAX_DEPTH, 1);
    double period =
        (double)atomic_load_explicit(&heap_period, memory_order_relaxed);
    double size = n ? (double)n : 1;
    double w = 1.0 / (1.0 - exp(-size / period));
    double vals[KX_MAX_VALUES] = {w, w * size, 0, 0};
    kx_spin_lock(&heap_lock);
    if (heap_tab != NULL) {
        size_t e = kx_stacktab_add(heap_tab, pcs, depth, vals);
        live_insert((uintptr_t)p, e, w, w * size);
    }
    kx_spin_unlock(&heap_lock);
    kx_guard--;
    return;
}

static __attribute__((noinline)) void forget(void *p)
{
    kx_spin_lock(&heap_lock);
    live_remove((uintptr_t)p);
    kx_spin_unlock(&heap_lock);
}

/* An empty asm after a call keeps the call from being a tail call. */
#define KX_NO_TAIL() __asm__ volatile("" ::: "memory")

#define COUNT(p, n)                                                            \
    do {                                                                       \
        if (__builtin_expect((left -= (int64_t)(n)) > 0, 1))                   \
            return (p);                                                        \
        sampled((p), (n));                                                     \
        KX_NO_TAIL();                                                          \
        return (p);                                                            \
    } while (0)

#define FORGET(p)                                                              \
    do {                                                                       \
        size_t h_ = fhash(p);                                                  \
        if (__builtin_expect((atomic_load_explicit(&filter[h_ / 8],            \
                                                   memory_order_relaxed) >>    \
                              (h_ % 8)) &                                      \
                                 1,                                            \
                             0))                                               \
            forget(p);                                                         \
    } while (0)

/* ---- The interposed functions ------------------------------------------- */

void *malloc(size_t n)
{
    void *p = real_malloc(n);
    COUNT(p, n);
}

void free(void *p)
{
    if (is_boot(p))
        return;
    FORGET(p);
    real_free(p);
}

void *calloc(size_t a, size_t b)
{
    void *p = real_calloc(a, b);
    COUNT(p, a * b);
}

void *realloc(void *p, size_t n)
{
    if (is_boot(p)) {
        void *q = malloc(n);
        if (q != NULL) {
            size_t old = boot_size(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    if (p != NULL)
        FORGET(p);
    void *q = real_realloc(p, n);
    if (q == NULL)
        return q;
    COUNT(q, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    int rc = real_posix_memalign(out, al, n);
    if (rc != 0)
        return rc;
    if (__builtin_expect((left -= (int64_t)n) > 0, 1))
        return 0;
    sampled(*out, n);
    KX_NO_TAIL();
    return 0;
}

void *aligned_alloc(size_t al, size_t n)
{
    void *p = real_aligned_alloc(al, n);
    COUNT(p, n);
}

void *memalign(size_t al, size_t n)
{
    void *p = real_memalign(al, n);
    COUNT(p, n);
}

void *valloc(size_t n)
{
    void *p = real_valloc(n);
    COUNT(p, n);
}

void *pvalloc(size_t n)
{
    void *p = real_pvalloc(n);
    COUNT(p, n);
}

size_t malloc_usable_size(void *p)
{
    if (is_boot(p))
        return boot_size(p);
    return real_usable(p);
}

#if defined(__clang__)
void *kx_malloc_self(size_t n)
    __attribute__((alias("malloc"), visibility("hidden")));
#else
void *kx_malloc_self(size_t n)
    __attribute__((alias("malloc"), visibility("hidden"), copy(malloc)));
#endif

/* ---- Control and profiles ------------------------------------------------ */

bool kx_heap_interposed(void)
{
    kx_guard++;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    kx_guard--;
    return m == (void *)kx_malloc_self;
}

void kx_heap_enable(size_t period)
{
    kx_spin_lock(&heap_lock);
    if (heap_tab == NULL) {
        heap_tab = kx_stacktab_new(1 << 16);
        void *m = mmap(NULL, LIVE_CAP * sizeof(struct kx_live),
                       PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        live = m == MAP_FAILED ? NULL : m;
        if (heap_tab == NULL || live == NULL) {
            kx_stacktab_free(heap_tab);
            heap_tab = NULL;
            if (live != NULL)
                munmap(live, LIVE_CAP * sizeof(struct kx_live));
            live = NULL;
        }
    }
    atomic_store(&heap_period, (long)period);
    atomic_store(&heap_on, heap_tab != NULL);
    kx_spin_unlock(&heap_lock);
}

void kx_heap_disable(void)
{
    atomic_store(&heap_on, 0);
}

void kx_heap_atfork_prepare(void)
{
    kx_spin_lock(&heap_lock);
}

void kx_heap_atfork_parent(void)
{
    kx_spin_unlock(&heap_lock);
}

void kx_heap_atfork_child(void)
{
    atomic_store(&heap_on, 0);
    kx_spin_unlock(&heap_lock);
}

enum kb_status kx_heap_profile(bool allocs, struct pprof_profile **out,
                               struct kb_err *err)
{
    struct kx_stacktab *copy = NULL;
    kx_spin_lock(&heap_lock);
    if (heap_tab != NULL)
        copy = kx_stacktab_clone(heap_tab);
    kx_spin_unlock(&heap_lock);
    struct kx_pbuild *b = kx_pbuild_new();
    struct pprof_profile *p = kx_pbuild_profile(b);
    static const char *const types[4][2] = {{"alloc_objects", "count"},
                                            {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"},
                                            {"inuse_space", "bytes"}};
    for (int i = 0; i < 4; i++)
        pprof_add_sample_type(p, pprof_intern_str(p, types[i][0]),
                              pprof_intern_str(p, types[i][1]));
    p->period_type.type = pprof_intern_str(p, "space");
    p->period_type.unit = pprof_intern_str(p, "bytes");
    p->period = atomic_load(&heap_period);
    p->time_nanos = kx_wall_ns();
    if (allocs)
        p->default_sample_type = pprof_intern_str(p, "alloc_space");
    if (!kx_heap_interposed())
        pprof_add_comment(
            p, pprof_intern_str(p, "libkiln-exporter: malloc is interposed "
                                   "by another library (a sanitizer "
                                   "runtime?); no allocation is seen"));
    for (size_t i = 0; copy != NULL && i < kx_stacktab_count(copy); i++) {
        const uintptr_t *pcs;
        unsigned depth;
        const double *v;
        kx_stacktab_get(copy, i, &pcs, &depth, &v);
        int64_t vals[4];
        for (int k = 0; k < 4; k++)
            vals[k] = v[k] > 0 ? (int64_t)llround(v[k]) : 0;
        if (vals[0] == 0 && vals[1] == 0)
            continue;
        kx_pbuild_sample(b, pcs, depth, vals, NULL, NULL);
    }
    kx_stacktab_free(copy);
    *out = kx_pbuild_finish(b);
    (void)err;
    return KB_OK;
}
