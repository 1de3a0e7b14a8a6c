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
 * - Hot path: malloc subtracts the size from the thread's countdown
 *   (initial-exec TLS: one %fs-relative access), and while it stays
 *   positive tail-calls the real malloc: no frame, no other call, nothing
 *   after the call. free hashes the pointer to one bit of a 16 KiB bitmap
 *   and, when it is clear, tail-calls the real free. Only sampled pointers
 *   (and the bootstrap buffer's) set bits, so a clear bit means "not ours".
 *   The other allocating functions are alike; realloc also probes the bit.
 * - Slow paths (countdown crossed, bit set) are separate functions. They
 *   and the hooks live in the kx_hooks section, so the stack walk drops
 *   their frames by address instead of counting them.
 * - Sampled allocations: the stack (frame pointers) goes into a stack table
 *   with four values (alloc_objects, alloc_space, inuse_objects,
 *   inuse_space, weighted); the pointer goes into a live table (open
 *   addressing, backward-shift deletion) with its entry and weight, so free
 *   subtracts exactly what the allocation added. Both tables are mmap'd
 *   (stacktab.c and below): the slow path never calls malloc. The live
 *   table starts at 4096 slots and doubles at half full, so its memory
 *   follows the number of live samples. One spin lock guards them.
 * - Bootstrapping: the real_* pointers start out pointing at boot_*
 *   functions that resolve the real ones with dlsym; while a thread is
 *   inside dlsym (which may call calloc), its allocations come from a
 *   static bump buffer, whose pointers are marked in the bitmap: free's
 *   slow path ignores them and realloc's copies out of them.
 * - Recursion: while kx_guard is set (profiler code, including the stack
 *   walk and the exporter's own threads), allocations are not sampled.
 *
 * Invariants. A pointer is in the live table only if its filter bit is set
 * (bit i is set iff filter_counts[i] > 0, counting live and bootstrap
 * pointers). A sampled pointer leaves the live table before the real free,
 * so its address cannot be handed out and sampled again first.
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

static void boot_mark(const void *p);

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
    boot_mark(boot_buf + off + 16);
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
#define LIVE_MIN (1u << 12) /* slots, a power of two */
#define LIVE_MAX (1u << 20)
#define DISABLED_RECHECK (1 << 20)

struct kx_live {
    uintptr_t ptr; /* 0 = empty */
    size_t entry;
    double weight;
    double bytes;
};

/* Bit i is set iff counts[i] > 0: free reads the 16 KiB bitmap only, the
 * counts are touched on the slow path only. Counted are the live sampled
 * pointers and the bootstrap buffer's pointers (never uncounted). */
static _Atomic uint64_t filter[(1u << FILTER_BITS) / 64];
static uint16_t filter_counts[1u << FILTER_BITS];
static atomic_int heap_lock;
static atomic_int heap_on;
static atomic_long heap_period = 512 * 1024;
static struct kx_stacktab *heap_tab; /* created on first enable */
static struct kx_live *live;         /* live_cap slots, mmap'd */
static size_t live_cap, n_live;

static KX_TLS int64_t left; /* bytes until the next sample */
static KX_TLS uint64_t rng; /* xorshift64* state; 0 = not seeded */

/* The pointer's bit: the top bits of a multiplicative hash (pointers are
 * 16-aligned; multiplying by an odd constant mixes every bit upwards). */
static inline size_t fhash(const void *p)
{
    return (size_t)(((uintptr_t)p * 0x9e3779b97f4a7c15ull) >>
                    (64 - FILTER_BITS));
}

static inline bool filter_hit(const void *p)
{
    size_t h = fhash(p);
    return (atomic_load_explicit(&filter[h / 64], memory_order_relaxed) >>
            (h % 64)) &
           1;
}

/* Call with heap_lock. */
static void filter_add(const void *p)
{
    size_t h = fhash(p);
    if (filter_counts[h]++ == 0)
        atomic_fetch_or_explicit(&filter[h / 64], (uint64_t)1 << (h % 64),
                                 memory_order_relaxed);
}

static void filter_remove(const void *p)
{
    size_t h = fhash(p);
    if (--filter_counts[h] == 0)
        atomic_fetch_and_explicit(&filter[h / 64], ~((uint64_t)1 << (h % 64)),
                                  memory_order_relaxed);
}

/* A bootstrap pointer goes through free's slow path, which ignores it. */
static void boot_mark(const void *p)
{
    kx_spin_lock(&heap_lock);
    filter_add(p);
    kx_spin_unlock(&heap_lock);
}

static size_t lhash(uintptr_t p)
{
    return (size_t)((p >> 4) * 0xff51afd7ed558ccdull >> 40) & (live_cap - 1);
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

static struct kx_live *live_map(size_t cap)
{
    void *m = mmap(NULL, cap * sizeof(struct kx_live), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

static void live_place(struct kx_live *e)
{
    size_t i = lhash(e->ptr);
    while (live[i].ptr != 0)
        i = (i + 1) & (live_cap - 1);
    live[i] = *e;
}

/* Double the live table (call with heap_lock); false if it cannot grow. It
 * starts small and grows with the number of live samples, so its memory
 * (and the page faults that first touch it) follow the heap's size. */
static bool live_grow(void)
{
    if (live_cap >= LIVE_MAX)
        return false;
    struct kx_live *old = live, *m = live_map(live_cap * 2);
    size_t old_cap = live_cap;
    if (m == NULL)
        return false;
    live = m;
    live_cap *= 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ptr != 0)
            live_place(&old[i]);
    munmap(old, old_cap * sizeof(struct kx_live));
    return true;
}

static void live_insert(uintptr_t p, size_t entry, double w, double bytes)
{
    if (n_live + 1 >= live_cap / 2 && !live_grow())
        return; /* full: counted as allocated, never as in use */
    struct kx_live e = {p, entry, w, bytes};
    live_place(&e);
    n_live++;
    filter_add((void *)p);
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
        i = (i + 1) & (live_cap - 1);
    }
    double *v = kx_stacktab_vals(heap_tab, live[i].entry);
    v[2] -= live[i].weight;
    v[3] -= live[i].bytes;
    filter_remove((void *)p);
    n_live--;
    /* Backward-shift deletion keeps probe chains whole. */
    size_t j = i;
    for (;;) {
        live[i].ptr = 0;
        for (;;) {
            j = (j + 1) & (live_cap - 1);
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

/* ---- The slow paths ------------------------------------------------------ */

/* The countdown crossed zero at an allocation of `n` bytes that returned
 * `p`: sample it (or, at a thread's first allocation, while profiling is
 * off or from profiler code, only draw the next countdown). Everything on
 * the stack from here to the interposed function is in the kx_hooks
 * section, which kx_unwind_here leaves out. */
static KX_HOOK __attribute__((noinline)) void sampled(void *p, size_t n)
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
    unsigned depth = kx_unwind_here(pcs, KX_MAX_DEPTH);
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
}

/* A pointer whose filter bit is set: a bootstrap pointer (never freed), a
 * live sampled one, or another that shares its bit. True if it may be
 * passed to the real allocator. */
static KX_HOOK __attribute__((noinline)) bool forget(void *p)
{
    if (is_boot(p))
        return false;
    kx_spin_lock(&heap_lock);
    live_remove((uintptr_t)p);
    kx_spin_unlock(&heap_lock);
    return true;
}

static KX_HOOK __attribute__((noinline)) void *malloc_slow(size_t n)
{
    void *p = real_malloc(n);
    sampled(p, n);
    return p;
}

static KX_HOOK __attribute__((noinline)) void *calloc_slow(size_t a, size_t b)
{
    void *p = real_calloc(a, b);
    sampled(p, a * b);
    return p;
}

static KX_HOOK __attribute__((noinline)) void *realloc_slow(void *p, size_t n)
{
    if (p != NULL && filter_hit(p) && !forget(p)) {
        /* Out of the bootstrap buffer: move into the real heap. */
        void *q = malloc(n);
        if (q != NULL) {
            size_t old = boot_size(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    void *q = real_realloc(p, n);
    if (q != NULL && left <= 0)
        sampled(q, n);
    return q;
}

static KX_HOOK __attribute__((noinline)) int
posix_memalign_slow(void **out, size_t al, size_t n)
{
    int rc = real_posix_memalign(out, al, n);
    sampled(rc == 0 ? *out : NULL, n);
    return rc;
}

static KX_HOOK __attribute__((noinline)) void *
aligned_slow(void *(*f)(size_t, size_t), size_t al, size_t n)
{
    void *p = f(al, n);
    sampled(p, n);
    return p;
}

static KX_HOOK __attribute__((noinline)) void *page_slow(void *(*f)(size_t),
                                                         size_t n)
{
    void *p = f(n);
    sampled(p, n);
    return p;
}

/* ---- The interposed functions ------------------------------------------- */

/* Fast paths: one thread-local subtraction and one branch, then a tail call
 * to the real function (free: one bitmap probe). The countdown is taken
 * before the call, so nothing is left to do after it. */
#define TAKE(n) __builtin_expect((left -= (int64_t)(n)) > 0, 1)

KX_HOOK void *malloc(size_t n)
{
    if (TAKE(n))
        return real_malloc(n);
    return malloc_slow(n);
}

KX_HOOK void free(void *p)
{
    if (__builtin_expect(filter_hit(p), 0) && !forget(p))
        return;
    real_free(p);
}

KX_HOOK void *calloc(size_t a, size_t b)
{
    if (TAKE(a * b))
        return real_calloc(a, b);
    return calloc_slow(a, b);
}

KX_HOOK void *realloc(void *p, size_t n)
{
    if (TAKE(n) && __builtin_expect(!filter_hit(p), 1))
        return real_realloc(p, n);
    return realloc_slow(p, n);
}

KX_HOOK int posix_memalign(void **out, size_t al, size_t n)
{
    if (TAKE(n))
        return real_posix_memalign(out, al, n);
    return posix_memalign_slow(out, al, n);
}

KX_HOOK void *aligned_alloc(size_t al, size_t n)
{
    if (TAKE(n))
        return real_aligned_alloc(al, n);
    return aligned_slow(real_aligned_alloc, al, n);
}

KX_HOOK void *memalign(size_t al, size_t n)
{
    if (TAKE(n))
        return real_memalign(al, n);
    return aligned_slow(real_memalign, al, n);
}

KX_HOOK void *valloc(size_t n)
{
    if (TAKE(n))
        return real_valloc(n);
    return page_slow(real_valloc, n);
}

KX_HOOK void *pvalloc(size_t n)
{
    if (TAKE(n))
        return real_pvalloc(n);
    return page_slow(real_pvalloc, n);
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
        live = live_map(LIVE_MIN);
        live_cap = LIVE_MIN;
        if (heap_tab == NULL || live == NULL) {
            kx_stacktab_free(heap_tab);
            heap_tab = NULL;
            if (live != NULL)
                munmap(live, LIVE_MIN * sizeof(struct kx_live));
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
