/* exporter-kit/kx.h: the internals of libkiln-exporter shared by its files.
 * Nothing here is installed; the public API is include/kiln/exporter.h.
 *
 * Pieces (one file each): stacktab.c (stack -> values tables in mmap'd
 * memory, usable where malloc is not), unwind.c (frame-pointer walks, also
 * from a signal handler), symbolize.c (addresses -> pprof locations,
 * mappings and function names), cpu.c (SIGPROF sampling, /threads
 * snapshots), heap.c (malloc interposition and sampling), mutex.c
 * (pthread_mutex_lock interposition), server.c (the HTTP endpoints),
 * exporter.c (the public API, options, environment, fork).
 */
#ifndef KILN_EXPORTER_KX_H
#define KILN_EXPORTER_KX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

struct pprof_profile;

/* Thread-local variables read on hot paths (malloc, signal handlers) use the
 * initial-exec model: one %fs-relative access, never a call into the
 * dynamic loader that could allocate. The library must therefore be loaded
 * at startup (linked, or LD_PRELOAD), not dlopen'ed late. */
#define KX_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- Per-thread state (exporter.c) -------------------------------------- */

/* `guard` > 0 while the thread runs profiler code: allocations and lock
 * waits are then not sampled (so the profiler never records itself and never
 * recurses). */
extern KX_TLS int kx_guard;

/* ---- Spin lock (no pthread, no malloc; safe inside malloc hooks) -------- */

/* Never taken in a signal handler. Held for short, bounded work only. */
void kx_spin_lock(atomic_int *l);
void kx_spin_unlock(atomic_int *l);

/* ---- Stacks ------------------------------------------------------------- */

#define KX_MAX_DEPTH 64
#define KX_MAX_VALUES 4

/* Pseudo program counters for frames that are not code. The symbolizer
 * names them. */
#define KX_PC_LOST ((uintptr_t)1)        /* "[lost samples]" */
#define KX_PC_OVERFLOW ((uintptr_t)2)    /* "[profile table full]" */
#define KX_PC_UNAVAILABLE ((uintptr_t)3) /* "[stack unavailable]" */
#define KX_PC_MAX_PSEUDO ((uintptr_t)16)

/* Walk frame pointers. With `pc` != 0 (from a signal's ucontext) it is
 * out[0], exactly; every caller frame is stored as return address minus one
 * (inside the call instruction, as pprof expects). Reads stay inside the
 * thread's stack: [sp, top of the stack's mapping). Async-signal-safe.
 * Returns the number of frames stored (at most `max`). */
unsigned kx_unwind(uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t *out,
                   unsigned max);

/* The interposed functions (malloc, free, ..., pthread_mutex_lock) and
 * every function of theirs that can be on the stack when they record one
 * live in this section, so a stack walk from inside them can drop their
 * frames by address, however the compiler arranged the calls (tail calls,
 * inlining, frames or none). */
#define KX_HOOK __attribute__((section("kx_hooks")))
extern const char __start_kx_hooks[] __attribute__((visibility("hidden")));
extern const char __stop_kx_hooks[] __attribute__((visibility("hidden")));

/* The stack of the program that called into a hook: walked from the
 * calling function's frame, without the leading frames that lie in the
 * kx_hooks section. Same rules as kx_unwind. */
unsigned kx_unwind_here(uintptr_t *out, unsigned max);

/* A table from stack (up to KX_MAX_DEPTH pcs) to KX_MAX_VALUES doubles, in
 * one mmap'd region of fixed capacity: it never calls malloc, so the heap
 * and mutex hooks can use it. Not thread-safe: callers lock. When full, new
 * stacks are added to one [profile table full] stack. */
struct kx_stacktab;

/* NULL when mmap fails. */
struct kx_stacktab *kx_stacktab_new(size_t max_stacks);
void kx_stacktab_free(struct kx_stacktab *t);
/* A copy (for building a profile outside the caller's lock); NULL on
 * failure. */
struct kx_stacktab *kx_stacktab_clone(const struct kx_stacktab *t);
/* Add `vals` (KX_MAX_VALUES of them) to the entry of `pcs[0..depth)`;
 * returns the entry's index (stable for the table's life). */
size_t kx_stacktab_add(struct kx_stacktab *t, const uintptr_t *pcs,
                       unsigned depth, const double *vals);
/* The values of entry `i`, for adjusting in place. */
double *kx_stacktab_vals(struct kx_stacktab *t, size_t i);
/* Forget every stack. */
void kx_stacktab_reset(struct kx_stacktab *t);
size_t kx_stacktab_count(const struct kx_stacktab *t);
/* Entry `i` (< count): its stack and values. */
void kx_stacktab_get(const struct kx_stacktab *t, size_t i,
                     const uintptr_t **pcs, unsigned *depth,
                     const double **vals);

/* ---- Symbolization and profile building (symbolize.c) ------------------- */

struct kx_pbuild;

/* A builder for one profile: reads /proc/self/maps and the loaded objects
 * now. Sample types, period and so on are set on kx_pbuild_profile(). */
struct kx_pbuild *kx_pbuild_new(void);
struct pprof_profile *kx_pbuild_profile(struct kx_pbuild *b);
/* Add a sample; `pcs` as kx_unwind stores them (leaf first). Values are
 * n_sample_types int64s. An optional string label `key`=`val`. */
void kx_pbuild_sample(struct kx_pbuild *b, const uintptr_t *pcs, unsigned depth,
                      const int64_t *values, const char *key, const char *val);
/* Free the builder and return the profile (the caller frees it). */
struct pprof_profile *kx_pbuild_finish(struct kx_pbuild *b);

/* The name of the function containing `addr` in this process, or NULL. The
 * string lives as long as the process. For /symbol. */
const char *kx_symbol_name(uintptr_t addr);

/* ---- CPU (cpu.c) -------------------------------------------------------- */

/* Install the SIGPROF handler (once; it is never removed) and start the
 * drain thread. Fails when another SIGPROF handler exists. */
enum kb_status kx_cpu_start(int hz, struct kb_err *err);
/* Stop sampling and the drain thread; wakes kx_cpu_profile callers. */
void kx_cpu_stop(void);
/* Sample for `seconds` (sharing the sampler with concurrent callers) and
 * build the CPU profile. KB_ERR_USAGE if stopped meanwhile. */
enum kb_status kx_cpu_profile(int seconds, struct pprof_profile **out,
                              struct kb_err *err);
/* One sample per thread with its current stack (a SIGPROF to each). */
enum kb_status kx_threads_profile(struct pprof_profile **out,
                                  struct kb_err *err);
/* Called in a forked child: forget the parent's sampler. */
void kx_cpu_atfork_child(void);

/* ---- Heap (heap.c) ------------------------------------------------------ */

void kx_heap_enable(size_t period);
void kx_heap_disable(void);
bool kx_heap_interposed(void);
/* `allocs` selects the /allocs flavour (default sample type alloc_space). */
enum kb_status kx_heap_profile(bool allocs, struct pprof_profile **out,
                               struct kb_err *err);
void kx_heap_atfork_prepare(void);
void kx_heap_atfork_parent(void);
void kx_heap_atfork_child(void);

/* ---- Mutex (mutex.c) ---------------------------------------------------- */

void kx_mutex_enable(unsigned rate);
void kx_mutex_disable(void);
enum kb_status kx_mutex_profile(struct pprof_profile **out, struct kb_err *err);
void kx_mutex_atfork_prepare(void);
void kx_mutex_atfork_parent(void);
void kx_mutex_atfork_child(void);

/* ---- HTTP server (server.c) --------------------------------------------- */

struct kx_server;

/* Listen on `addr` ("host:port") and serve the endpoints. `bound` gets the
 * actual "host:port". */
enum kb_status kx_server_start(const char *addr, int max_seconds,
                               unsigned profilers, struct kx_server **out,
                               char *bound, size_t bound_len,
                               struct kb_err *err);
void kx_server_stop(struct kx_server *s);

/* ---- Misc --------------------------------------------------------------- */

/* The calling thread's kernel id. */
int kx_gettid(void);
/* CLOCK_MONOTONIC in nanoseconds. */
int64_t kx_now_ns(void);
/* CLOCK_REALTIME in nanoseconds. */
int64_t kx_wall_ns(void);

#endif
