/* examples/demo-service/demo.c: a small HTTP service that embeds
 * libkiln-exporter, the target of the README's run command.
 *
 *     demo-service [LISTEN [PPROF]]    (defaults 127.0.0.1:8080,
 *                                       127.0.0.1:6060)
 *
 * Handlers of different cost, so profiles have something to show:
 *   /fast      a constant reply
 *   /primes    counts primes below 200,000 (CPU)
 *   /render    builds a 256 KiB page in many small allocations (heap)
 *   /counter   increments a counter under one shared mutex held while
 *              "persisting" it (mutex contention under concurrent load)
 *   /stats     what the service measures inside itself, one "name value"
 *              line each: count_primes_cpu_seconds (the thread CPU time
 *              spent in count_primes, summed over all calls so far),
 *              process_cpu_seconds (the CPU time of the whole process so
 *              far) and time_seconds (the wall clock, Unix seconds, when
 *              they were read); a test compares count_primes' CPU share
 *              over a window, the difference of the first between two
 *              reads over that of the second, with a profile's share
 * With --load, it also drives itself with 4 client threads, so a profile
 * shows all handlers without an external load generator.
 *
 * Design: libmicrohttpd with a thread pool of 4; the exporter listens on
 * its own port. Nothing here is part of the library. count_primes' CPU
 * time is CLOCK_THREAD_CPUTIME_ID read around each call (a call runs on
 * one thread), added to an atomic counter; the process's is
 * CLOCK_PROCESS_CPUTIME_ID. Both count user and system time of every
 * thread, as the exporter's per-thread CPU timers do. SIGINT and SIGTERM
 * are blocked in every thread and taken by main's sigwait, then the
 * clients stop and the service shuts down (a handler would run on any
 * thread and could leave main waiting).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kiln/exporter.h"

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static atomic_bool stop; /* set once SIGINT or SIGTERM came */
static atomic_uint_least64_t primes_cpu_ns; /* CPU time in count_primes */

static __attribute__((noinline)) unsigned count_primes(unsigned below)
{
    unsigned n = 0;
    for (unsigned i = 2; i < below; i++) {
        unsigned d = 2;
        while (d * d <= i && i % d != 0)
            d++;
        n += d * d > i;
    }
    return n;
}

/* cpu_ns CLOCK: CLOCK's time in nanoseconds (0 if it cannot be read). */
static uint64_t cpu_ns(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* timed_count_primes BELOW: count_primes(BELOW), its thread CPU time
 * added to primes_cpu_ns. */
static unsigned timed_count_primes(unsigned below)
{
    uint64_t t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    unsigned n = count_primes(below);
    atomic_fetch_add(&primes_cpu_ns, cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0);
    return n;
}

static __attribute__((noinline)) char *render_page(size_t *len)
{
    char **parts = malloc(4096 * sizeof(*parts));
    size_t total = 0;
    for (int i = 0; i < 4096; i++) {
        parts[i] = malloc(64);
        total += (size_t)snprintf(parts[i], 64, "<li>item %d</li>\n", i);
    }
    char *page = malloc(total + 1), *p = page;
    for (int i = 0; i < 4096; i++) {
        size_t n = strlen(parts[i]);
        memcpy(p, parts[i], n);
        p += n;
        free(parts[i]);
    }
    *p = '\0';
    free(parts);
    *len = total;
    return page;
}

static __attribute__((noinline)) void persist_counter(void)
{
    struct timespec ts = {0, 200000}; /* a slow store: 0.2 ms */
    pthread_mutex_lock(&counter_lock);
    counter++;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    pthread_mutex_unlock(&counter_lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "text/plain");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    char *body = malloc(256);
    if (strcmp(url, "/fast") == 0) {
        return reply(c, 200, body, (size_t)snprintf(body, 256, "ok\n"));
    } else if (strcmp(url, "/primes") == 0) {
        unsigned n = timed_count_primes(200000);
        return reply(c, 200, body, (size_t)snprintf(body, 256, "%u\n", n));
    } else if (strcmp(url, "/render") == 0) {
        free(body);
        size_t len;
        body = render_page(&len);
        return reply(c, 200, body, len);
    } else if (strcmp(url, "/counter") == 0) {
        persist_counter();
        return reply(c, 200, body,
                     (size_t)snprintf(body, 256, "%lu\n", counter));
    } else if (strcmp(url, "/stats") == 0) {
        uint64_t primes = atomic_load(&primes_cpu_ns);
        uint64_t process = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return reply(c, 200, body,
                     (size_t)snprintf(body, 256,
                                      "count_primes_cpu_seconds %.9f\n"
                                      "process_cpu_seconds %.9f\n"
                                      "time_seconds %lld.%09ld\n",
                                      (double)primes / 1e9,
                                      (double)process / 1e9,
                                      (long long)now.tv_sec, now.tv_nsec));
    }
    return reply(c, 404, body, (size_t)snprintf(body, 256, "not found\n"));
}

/* --load: GET each handler in turn, forever. */
static void *client(void *arg)
{
    const char *addr = arg;
    static const char *const paths[] = {"/fast", "/primes", "/render",
                                        "/counter", "/counter"};
    char host[128];
    const char *colon = strrchr(addr, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return NULL;
    for (unsigned i = 0; !stop; i++) {
        int fd = socket(res->ai_family, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            if (fd >= 0)
                close(fd);
            sleep(1);
            continue;
        }
        char req[128], buf[4096];
        int n =
            snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", paths[i % 5]);
        if (write(fd, req, (size_t)n) == n)
            while (read(fd, buf, sizeof(buf)) > 0)
                ;
        close(fd);
    }
    freeaddrinfo(res);
    return NULL;
}

int main(int argc, char **argv)
{
    bool load = false;
    const char *args[2] = {"127.0.0.1:8080", "127.0.0.1:6060"};
    int na = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--load") == 0)
            load = true;
        else if (na < 2)
            args[na++] = argv[i];
    }
    /* Every thread inherits a mask blocking SIGINT and SIGTERM, so the
     * signal waits for main's sigwait whichever thread it was sent to. */
    sigset_t quit;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &quit, NULL);
    struct kiln_exporter_options o;
    kiln_exporter_options_init(&o);
    o.addr = args[1];
    if (kiln_exporter_start(&o) != KILN_EXPORTER_OK) {
        fprintf(stderr, "demo-service: profiler: %s\n",
                kiln_exporter_last_error());
        return 1;
    }
    const char *colon = strrchr(args[0], ':');
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)atoi(colon ? colon + 1 : args[0]));
    char host[64];
    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - args[0]) : 0,
             args[0]);
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sin.sin_addr) != 1) {
        fprintf(stderr, "demo-service: bad address %s\n", args[0]);
        return 1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)4, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "demo-service: cannot listen on %s\n", args[0]);
        return 1;
    }
    printf("demo-service: serving on http://%s/ (/fast /primes /render "
           "/counter /stats), profiles on http://%s/debug/pprof/\n",
           args[0], kiln_exporter_addr());
    fflush(stdout);
    pthread_t clients[4];
    int nclients = load ? 4 : 0;
    for (int i = 0; i < nclients; i++)
        pthread_create(&clients[i], NULL, client, (void *)args[0]);
    int sig;
    sigwait(&quit, &sig);
    atomic_store(&stop, true);
    for (int i = 0; i < nclients; i++)
        pthread_join(clients[i], NULL);
    MHD_stop_daemon(d);
    kiln_exporter_stop();
    return 0;
}
