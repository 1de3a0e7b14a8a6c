/* web/web.h: Kiln's HTTP server: Prometheus-shaped API endpoints, the
 * lifecycle endpoints and GET /metrics. The public interface for cmd/kiln.
 * See server.c; what a handler uses is in handler.h; docs/api.md lists the
 * endpoints. */
#ifndef KILN_WEB_WEB_H
#define KILN_WEB_WEB_H

#include <stdbool.h>
#include <stdint.h>

#include "base/metrics.h"
#include "base/status.h"
#include "scraper/targets.h"

struct tsdb;

/* What the server asks of the rest of Kiln. Every hook is called from a
 * connection thread, several at a time: each must be thread-safe. All four
 * are required. */
struct web_hooks {
    void *arg;
    /* GET /-/ready: 200 "Kiln is Ready.\n" when true, else 503 "Service
     * Unavailable". Until it returns true, /api/ endpoints also answer 503
     * (as Prometheus). */
    bool (*ready)(void *arg);
    /* POST|PUT /-/reload: 200 on success; on failure 500 "failed to reload
     * config: <err>". */
    enum kb_status (*reload)(void *arg, struct kb_err *err);
    /* POST|PUT /-/quit: 200 "Requesting termination... Goodbye!", then,
     * once that reply is sent, quit(arg). It must only ask for shutdown
     * (e.g. set a flag, write to a pipe): calling web_server_stop from it
     * would deadlock, since stop waits for the calling thread. */
    void (*quit)(void *arg);
    /* Fill `out` (zeroed by the caller) with a snapshot of the targets; the
     * server frees it with scrape_target_list_free, also on failure. */
    enum kb_status (*targets)(void *arg, struct scrape_target_list *out,
                              struct kb_err *err);
};

struct web_options {
    /* "127.0.0.1:4770", ":4770" (every address, IPv6 and IPv4 when the
     * host has IPv6), "[::1]:4770", "localhost:4770"; port 0 picks one. */
    const char *listen_address;
    /* When false, /-/reload and /-/quit answer 403 "Lifecycle API is not
     * enabled." (as Prometheus without --web.enable-lifecycle). */
    bool enable_lifecycle;
    /* Shown by /api/v1/status/buildinfo as {"version": ...}; NULL: "". */
    const char *version;
    /* Served on GET /metrics; the server counts its requests into it
     * (kiln_http_requests_total, kiln_http_request_duration_seconds).
     * Required; must outlive the server. */
    struct metrics_registry *metrics;
    struct web_hooks hooks;
    /* Where the database will be: the query, series and label endpoints
     * read *db. The server is started before the database is opened, so
     * this points at the owner's handle, which must be set before
     * hooks.ready first returns true and stay valid until web_server_stop
     * returns. NULL (or *db NULL): those endpoints answer 503
     * unavailable. */
    struct tsdb *const *db;
    /* Open connections at once; more wait in the kernel's backlog.
     * 0: 512. */
    unsigned max_connections;
    /* A connection idle this long (no request bytes, no response
     * progress) is closed. 0: 300 (Prometheus' --web.read-timeout). */
    unsigned idle_timeout_s;
};

struct web_server;

/* Bind the listen address and start serving on threads of the server's
 * own (one per connection, so a slow request holds up only itself).
 * Errors: KB_ERR_USAGE for missing options or hooks; KB_ERR_INVALID for
 * an address that does not parse or resolve ("bad listen address ...");
 * KB_ERR_IO when binding fails, naming the address and the reason
 * ("listen 127.0.0.1:4770: Address already in use"). On success *out is a
 * running server that the caller stops with web_server_stop. The options
 * are copied; the registry and the hooks' arg must outlive the server. */
enum kb_status web_server_start(const struct web_options *o,
                                struct web_server **out, struct kb_err *err);

/* The port the server listens on (the chosen one when asked for 0). */
uint16_t web_server_port(const struct web_server *s);

/* Stop accepting, close idle connections, wait for running handlers to
 * finish, and free the server. NULL is allowed. Must not be called from a
 * hook. */
void web_server_stop(struct web_server *s);

#endif
