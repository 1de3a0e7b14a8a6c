/* kiln/exporter.h: libkiln-exporter, an in-process profiler for C and C++
 * services that serves Go-style pprof endpoints (/debug/pprof/...) over HTTP,
 * for Kiln (or `go tool pprof`) to scrape. See docs/exporter.md.
 *
 *     #include <kiln/exporter.h>
 *
 *     struct kiln_exporter_options o;
 *     kiln_exporter_options_init(&o);
 *     o.addr = "127.0.0.1:6060";
 *     if (kiln_exporter_start(&o) != KILN_EXPORTER_OK)
 *         fprintf(stderr, "profiler: %s\n", kiln_exporter_last_error());
 *     ...
 *     kiln_exporter_stop();
 *
 * Build with `pkg-config --cflags --libs kiln-exporter` (which adds
 * -fno-omit-frame-pointer: stacks are walked through frame pointers). With no
 * code change: LD_PRELOAD=libkiln-exporter.so KILN_EXPORTER_ADDR=... ./app.
 */
#ifndef KILN_EXPORTER_H
#define KILN_EXPORTER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kiln_exporter_status {
    KILN_EXPORTER_OK = 0,
    KILN_EXPORTER_ERR_INVALID,     /* a bad option (address, rate, ...) */
    KILN_EXPORTER_ERR_IO,          /* a system call failed: port in use, ... */
    KILN_EXPORTER_ERR_BUSY,        /* already running, or SIGPROF is taken */
    KILN_EXPORTER_ERR_UNSUPPORTED, /* not possible on this system */
};

/* Which profilers are on (a bit set). The /threads, /symbol and /cmdline
 * endpoints are always served. */
#define KILN_EXPORTER_CPU 1u
#define KILN_EXPORTER_HEAP 2u
#define KILN_EXPORTER_MUTEX 4u
#define KILN_EXPORTER_ALL 7u

/* Options. Fill with kiln_exporter_options_init, then change fields; a zero
 * numeric field also means "the default". */
struct kiln_exporter_options {
    /* "host:port" to listen on; "[::1]:6060" for IPv6; port 0 picks a free
     * port (see kiln_exporter_addr). Default "127.0.0.1:6060". */
    const char *addr;
    /* KILN_EXPORTER_* bits. Default KILN_EXPORTER_ALL. */
    unsigned profilers;
    /* CPU samples per second of CPU time, per thread, 1..1000. Default 100. */
    int cpu_hz;
    /* Average bytes allocated between two heap samples. Default 512 KiB. */
    size_t heap_period;
    /* Record 1 in N contended pthread_mutex_lock waits. Default 10. */
    unsigned mutex_rate;
    /* The largest ?seconds= accepted by /profile. Default 300. */
    int max_profile_seconds;
};

/* Fill `o` with the defaults. */
void kiln_exporter_options_init(struct kiln_exporter_options *o);

/* Start the profilers that `o` turns on and the HTTP server (o may be NULL
 * for the defaults). Returns KILN_EXPORTER_OK, or an error whose message
 * kiln_exporter_last_error gives: the address is in use or malformed,
 * another SIGPROF handler is installed (it is never replaced), the exporter
 * is already running. On error nothing keeps running. Thread-safe. */
enum kiln_exporter_status
kiln_exporter_start(const struct kiln_exporter_options *o);

/* Stop the server and the profilers and wait for a running /profile request
 * to end. The SIGPROF handler stays installed (and idle), so a signal still
 * in flight cannot kill the process. No-op when not running. */
void kiln_exporter_stop(void);

/* The message of the last failed kiln_exporter_start ("" if none). */
const char *kiln_exporter_last_error(void);

/* The address the server listens on ("127.0.0.1:41235"), or "" when not
 * running. Useful with port 0. */
const char *kiln_exporter_addr(void);

/* 1 when this library's malloc is the one the process calls, so heap
 * profiles can see allocations; 0 when another allocator or a sanitizer
 * runtime interposes malloc first (heap profiles are then empty). */
int kiln_exporter_heap_interposed(void);

#ifdef __cplusplus
}
#endif

#endif
