/* web/listen.c: the server's listening socket, from a listen address.
 *
 * What. "host:port", "[v6]:port" and ":port", as Go's net.Listen and so
 * Prometheus' --web.listen-address take them. The host may be a name
 * (resolved once, the first address that binds is used); an empty host
 * means every address: [::] accepting IPv4 too (IPV6_V6ONLY off), or
 * 0.0.0.0 when the host has no IPv6.
 *
 * Design. We create, bind and listen on the socket ourselves and hand it
 * to libmicrohttpd, so a failure says which address and why ("listen
 * 127.0.0.1:4770: Address already in use") instead of libmicrohttpd's
 * bare NULL. SO_REUSEADDR lets a restarted server bind while old
 * connections sit in TIME_WAIT (Linux still refuses a second listener).
 *
 * Limits: the address is at most LISTEN_ADDR_MAX bytes; the port is a
 * decimal number up to 65535.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/text.h"
#include "web/internal.h"

#define LISTEN_ADDR_MAX 300

static enum kb_status bad_address(const char *addr, const char *why,
                                  struct kb_err *err)
{
    char ex[KB_EXCERPT_MAX];
    return kb_errf(err, KB_ERR_INVALID,
                   "bad listen address \"%s\": %s (want host:port, :port "
                   "or [ipv6]:port)",
                   kb_excerpt(ex, sizeof(ex), addr, strlen(addr)), why);
}

/* Split `addr` into host (maybe "") and port. */
static enum kb_status split(const char *addr, char *host, char *port,
                            struct kb_err *err)
{
    size_t len = strlen(addr);
    if (len == 0 || len > LISTEN_ADDR_MAX)
        return bad_address(addr, len == 0 ? "empty" : "too long", err);
    const char *colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL)
            return bad_address(addr, "missing ']'", err);
        if (close[1] != ':')
            return bad_address(addr, "missing port", err);
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return bad_address(addr, "missing port", err);
        if (memchr(addr, ':', (size_t)(colon - addr)) != NULL)
            return bad_address(addr, "IPv6 addresses need brackets", err);
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
    }
    const char *p = colon + 1;
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n || atoi(p) > 65535)
        return bad_address(addr, "the port must be a number from 0 to 65535",
                           err);
    memcpy(port, p, n + 1);
    return KB_OK;
}

/* A listening socket on `sa`, or -1 with errno set. */
static int bind_listen(int family, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, sa, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int listen_any(const char *addr, int port, int *family,
                      struct kb_err *err)
{
    struct sockaddr_in6 s6 = {0};
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_any;
    s6.sin6_port = htons((uint16_t)port);
    int fd = bind_listen(AF_INET6, (struct sockaddr *)&s6, sizeof(s6));
    *family = AF_INET6;
    if (fd < 0 && errno == EAFNOSUPPORT) {
        struct sockaddr_in s4 = {0};
        s4.sin_family = AF_INET;
        s4.sin_addr.s_addr = htonl(INADDR_ANY);
        s4.sin_port = htons((uint16_t)port);
        fd = bind_listen(AF_INET, (struct sockaddr *)&s4, sizeof(s4));
        *family = AF_INET;
    }
    if (fd < 0)
        kb_errf(err, KB_ERR_IO, "listen %s: %s", addr, strerror(errno));
    return fd;
}

int web_listen(const char *addr, int *family, struct kb_err *err)
{
    char host[LISTEN_ADDR_MAX + 1], port[8];
    if (addr == NULL) {
        kb_errf(err, KB_ERR_INVALID, "no listen address");
        return -1;
    }
    if (split(addr, host, port, err) != KB_OK)
        return -1;
    if (host[0] == '\0')
        return listen_any(addr, atoi(port), family, err);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        bad_address(addr, gai_strerror(rc), err);
        return -1;
    }
    int fd = -1, first_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = bind_listen(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0)
            *family = ai->ai_family;
        else if (first_errno == 0)
            first_errno = errno;
    }
    freeaddrinfo(res);
    if (fd < 0)
        kb_errf(err, KB_ERR_IO, "listen %s: %s", addr, strerror(first_errno));
    return fd;
}
