/* exporter-kit/server.c: the HTTP endpoints, Go's net/http/pprof layout.
 *
 * What. /debug/pprof/ (an HTML index), /debug/pprof/profile?seconds=N (CPU,
 * default 30 s, at most max_seconds), /heap, /allocs, /mutex, /threads
 * (pprof, gzip'd protobuf), /symbol (pprof's remote symbolization protocol:
 * GET answers "num_symbols: 1", POST takes "0xADDR+0xADDR..." and answers
 * "0xADDR name" per known address), /cmdline (the arguments joined by NUL,
 * as Go does). A bad parameter is a 400 with the reason; an unknown path a
 * 404; a method other than GET/HEAD (POST for /symbol) a 405.
 *
 * Design. libmicrohttpd with a thread per connection, so a 30 s CPU request
 * blocks only its own thread; at most 32 connections. We create, bind and
 * listen on the socket ourselves so a taken port is reported as
 * "127.0.0.1:6060: Address already in use" rather than a bare failure, and
 * hand it to MHD (which closes it at stop). Handlers run with kx_guard set,
 * so the exporter's own allocations are not sampled.
 *
 * Limits: /symbol bodies are at most 1 MiB and 100,000 addresses.
 * Elsewhere: the profiles themselves (cpu.c, heap.c, mutex.c).
 */
#include "exporter-kit/kx.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "kiln/exporter.h"
#include "pprof/profile.h"

#define SYMBOL_BODY_MAX (1u << 20)
#define SYMBOL_ADDRS_MAX 100000
#define PREFIX "/debug/pprof/"

struct kx_server {
    struct MHD_Daemon *daemon;
    int max_seconds;
    unsigned profilers;
};

/* Per-connection state for bodies (POST /symbol). */
struct kx_conn {
    struct buf body;
    bool too_big;
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
                               const char *type, struct buf *body)
{
    size_t len;
    uint8_t *data = buf_take(body, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (strcmp(type, "application/octet-stream") == 0)
        MHD_add_response_header(r, "Content-Disposition",
                                "attachment; filename=\"profile\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status,
                                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status,
                                    const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return respond(c, status, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result respond_profile(struct MHD_Connection *c,
                                       enum kb_status st,
                                       struct pprof_profile *p,
                                       struct kb_err *err)
{
    if (st != KB_OK)
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s\n", err->msg);
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    st = pprof_encode(p, &b, err);
    pprof_free(p);
    if (st != KB_OK) {
        buf_free(&b);
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "encoding the profile: %s\n", err->msg);
    }
    return respond(c, MHD_HTTP_OK, "application/octet-stream", &b);
}

static const char index_html[] =
    "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head>\n"
    "<body>\n<h1>/debug/pprof/</h1>\n"
    "<p>libkiln-exporter. Profiles are in pprof format: "
    "<code>go tool pprof http://HOST/debug/pprof/heap</code></p>\n"
    "<table>\n"
    "<tr><td><a href=\"allocs\">allocs</a></td><td>A sampling of all past "
    "memory allocations</td></tr>\n"
    "<tr><td><a href=\"cmdline\">cmdline</a></td><td>The command line of "
    "the program</td></tr>\n"
    "<tr><td><a href=\"heap\">heap</a></td><td>A sampling of memory "
    "allocations of live objects</td></tr>\n"
    "<tr><td><a href=\"mutex\">mutex</a></td><td>Stacks of waiters on "
    "contended pthread mutexes</td></tr>\n"
    "<tr><td><a href=\"profile\">profile</a></td><td>CPU profile; "
    "<code>?seconds=N</code> (default 30)</td></tr>\n"
    "<tr><td><a href=\"symbol\">symbol</a></td><td>Looks up program "
    "counters (pprof's remote symbolization)</td></tr>\n"
    "<tr><td><a href=\"threads\">threads</a></td><td>Stack traces of all "
    "threads</td></tr>\n"
    "</table>\n</body></html>\n";

static enum MHD_Result serve_cpu(struct kx_server *s, struct MHD_Connection *c)
{
    if (!(s->profilers & KILN_EXPORTER_CPU))
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "the CPU profiler is off\n");
    const char *arg =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
    long seconds = 30;
    if (arg != NULL) {
        char *end;
        errno = 0;
        seconds = strtol(arg, &end, 10);
        if (arg[0] == '\0' || *end != '\0' || errno != 0 || seconds < 1 ||
            seconds > s->max_seconds)
            return respond_text(c, MHD_HTTP_BAD_REQUEST,
                                "bad seconds \"%.64s\": want an integer from "
                                "1 to %d\n",
                                arg, s->max_seconds);
    } else if (seconds > s->max_seconds) {
        seconds = s->max_seconds;
    }
    struct kb_err err = {0};
    struct pprof_profile *p = NULL;
    enum kb_status st = kx_cpu_profile((int)seconds, &p, &err);
    return respond_profile(c, st, p, &err);
}

static enum MHD_Result serve_cmdline(struct MHD_Connection *c)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char tmp[4096];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof(tmp))) > 0)
            if (buf_append(&b, tmp, (size_t)n) != KB_OK)
                break;
        close(fd);
    }
    /* The kernel ends every argument with NUL; Go joins them with NUL. */
    if (b.len > 0 && b.data[b.len - 1] == '\0')
        b.len--;
    return respond(c, MHD_HTTP_OK, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result serve_symbol(struct MHD_Connection *c,
                                    const char *method, struct kx_conn *kc)
{
    if (strcmp(method, "POST") != 0)
        return respond_text(c, MHD_HTTP_OK, "num_symbols: 1\n");
    if (kc->too_big)
        return respond_text(c, 413, "request body larger than %u bytes\n",
                            SYMBOL_BODY_MAX);
    struct buf out;
    buf_init(&out, BUF_NO_LIMIT);
    const char *p = buf_cstr(&kc->body);
    int n = 0;
    while (*p != '\0' && n < SYMBOL_ADDRS_MAX) {
        char *end;
        unsigned long long a = strtoull(p, &end, 0);
        if (end == p)
            break;
        n++;
        const char *name = kx_symbol_name((uintptr_t)a);
        if (name != NULL)
            buf_printf(&out, "%#llx %s\n", a, name);
        p = end;
        while (*p == '+' || *p == ' ' || *p == '\n' || *p == '\r')
            p++;
    }
    return respond(c, MHD_HTTP_OK, "text/plain; charset=utf-8", &out);
}

static enum MHD_Result route(struct kx_server *s, struct MHD_Connection *c,
                             const char *url, const char *method,
                             struct kx_conn *kc)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/debug/pprof") == 0 || strcmp(url, PREFIX) == 0) {
        if (!get)
            goto bad_method;
        struct buf b;
        buf_init(&b, BUF_NO_LIMIT);
        buf_puts(&b, index_html);
        return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b);
    }
    if (strncmp(url, PREFIX, strlen(PREFIX)) != 0)
        goto not_found;
    const char *name = url + strlen(PREFIX);
    if (strcmp(name, "symbol") == 0) {
        if (!get && strcmp(method, "POST") != 0)
            goto bad_method;
        return serve_symbol(c, method, kc);
    }
    static const char *const known[] = {"profile", "heap",    "allocs",
                                        "mutex",   "threads", "cmdline"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        is_known |= strcmp(name, known[i]) == 0;
    if (!is_known)
        goto not_found;
    if (!get)
        goto bad_method;
    const char *debug =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "debug");
    if (debug != NULL && strcmp(debug, "0") != 0)
        return respond_text(c, MHD_HTTP_BAD_REQUEST,
                            "debug=%.16s: only debug=0 (pprof protobuf) is "
                            "served; use go tool pprof to read it\n",
                            debug);
    if (strcmp(name, "cmdline") == 0)
        return serve_cmdline(c);
    if (strcmp(name, "profile") == 0)
        return serve_cpu(s, c);
    if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds"))
        return respond_text(c, MHD_HTTP_BAD_REQUEST,
                            "seconds is only for /profile: /%s is "
                            "cumulative (Kiln computes deltas)\n",
                            name);
    struct kb_err err = {0};
    struct pprof_profile *p = NULL;
    enum kb_status st;
    if (strcmp(name, "threads") == 0)
        st = kx_threads_profile(&p, &err);
    else if (strcmp(name, "mutex") == 0)
        st = kx_mutex_profile(&p, &err);
    else
        st = kx_heap_profile(strcmp(name, "allocs") == 0, &p, &err);
    return respond_profile(c, st, p, &err);
not_found:
    return respond_text(c, MHD_HTTP_NOT_FOUND, "404 page not found: %.200s\n",
                        url);
bad_method:
    return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                        "method %.16s not allowed on %.200s\n", method, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct kx_server *s = cls;
    kx_guard++;
    enum MHD_Result ret = MHD_YES;
    struct kx_conn *kc = *con_cls;
    if (kc == NULL) {
        kc = kb_calloc(1, sizeof(*kc));
        buf_init(&kc->body, SYMBOL_BODY_MAX);
        *con_cls = kc;
        if (strcmp(method, "POST") == 0)
            goto out; /* the body follows */
    }
    if (*upload_size > 0) {
        if (buf_append(&kc->body, upload, *upload_size) != KB_OK)
            kc->too_big = true;
        *upload_size = 0;
        goto out;
    }
    ret = route(s, c, url, method, kc);
out:
    kx_guard--;
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct kx_conn *kc = *con_cls;
    if (kc != NULL) {
        buf_free(&kc->body);
        free(kc);
        *con_cls = NULL;
    }
}

/* Split "host:port" / "[v6]:port". */
static enum kb_status split_addr(const char *addr, char *host, size_t hlen,
                                 char *port, size_t plen, struct kb_err *err)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        if ((size_t)(close - addr - 1) >= hlen)
            goto bad;
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= hlen)
            goto bad;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= plen ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        goto bad;
    strcpy(port, colon + 1);
    if (host[0] == '\0')
        strcpy(host, "0.0.0.0");
    return KB_OK;
bad:
    return kb_errf(err, KB_ERR_INVALID,
                   "bad listen address \"%.100s\": want host:port, e.g. "
                   "127.0.0.1:6060 or [::1]:6060",
                   addr);
}

static int listen_on(const char *addr, char *bound, size_t bound_len,
                     int *family, struct kb_err *err)
{
    char host[256], port[16];
    if (split_addr(addr, host, sizeof(host), port, sizeof(port), err) != KB_OK)
        return -1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        kb_errf(err, KB_ERR_INVALID, "listen address %.100s: %s", addr,
                gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        kb_errf(err, KB_ERR_IO, "socket: %s", strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        kb_errf(err, KB_ERR_IO, "%.100s: %s", addr, strerror(errno));
        close(fd);
        fd = -1;
        goto fail;
    }
    *family = res->ai_family;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(bound, bound_len,
                 ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
    else
        snprintf(bound, bound_len, "%s", addr);
fail:
    freeaddrinfo(res);
    return fd;
}

enum kb_status kx_server_start(const char *addr, int max_seconds,
                               unsigned profilers, struct kx_server **out,
                               char *bound, size_t bound_len,
                               struct kb_err *err)
{
    int family = AF_INET;
    int fd = listen_on(addr, bound, bound_len, &family, err);
    if (fd < 0)
        return err != NULL ? err->status : KB_ERR_IO;
    struct kx_server *s = kb_calloc(1, sizeof(*s));
    s->max_seconds = max_seconds;
    s->profilers = profilers;
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 NULL, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)(max_seconds + 60), MHD_OPTION_END);
    if (s->daemon == NULL) {
        close(fd);
        free(s);
        return kb_errf(err, KB_ERR_IO, "%s: libmicrohttpd did not start", addr);
    }
    *out = s;
    return KB_OK;
}

void kx_server_stop(struct kx_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
