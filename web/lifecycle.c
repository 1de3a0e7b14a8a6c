/* web/lifecycle.c: the health, readiness and lifecycle endpoints, with
 * Prometheus' texts and codes:
 *
 *   GET /-/healthy        200 "Kiln is Healthy.\n" while the server runs
 *   GET /-/ready          200 "Kiln is Ready.\n" when hooks.ready, else 503
 *                         "Service Unavailable"
 *   POST|PUT /-/reload    hooks.reload: 200, or 500 "failed to reload
 *                         config: <error>"
 *   POST|PUT /-/quit      200 "Requesting termination... Goodbye!", then
 *                         hooks.quit once the reply is out
 *
 * Reload and quit answer 403 "Lifecycle API is not enabled." unless
 * web_options.enable_lifecycle. What reload and quit do is the hooks'
 * business (cmd/kiln); these handlers only translate.
 */
#include "web/handler.h"

void web_handle_healthy(struct web_request *rq)
{
    web_reply_text(rq, 200, "Kiln is Healthy.\n");
}

void web_handle_ready(struct web_request *rq)
{
    const struct web_hooks *h = &web_options_of(rq)->hooks;
    if (h->ready(h->arg))
        web_reply_text(rq, 200, "Kiln is Ready.\n");
    else
        web_reply_text(rq, 503, "Service Unavailable");
}

/* False, with the 403 reply made, when the lifecycle API is off. */
static bool lifecycle_enabled(struct web_request *rq)
{
    if (web_options_of(rq)->enable_lifecycle)
        return true;
    web_reply_text(rq, 403, "Lifecycle API is not enabled.");
    return false;
}

void web_handle_reload(struct web_request *rq)
{
    if (!lifecycle_enabled(rq))
        return;
    const struct web_hooks *h = &web_options_of(rq)->hooks;
    struct kb_err err = {0};
    if (h->reload(h->arg, &err) != KB_OK)
        web_reply_text(rq, 500, "failed to reload config: %s\n", err.msg);
    else
        web_reply_text(rq, 200, "%s", "");
}

void web_handle_quit(struct web_request *rq)
{
    if (!lifecycle_enabled(rq))
        return;
    const struct web_hooks *h = &web_options_of(rq)->hooks;
    web_reply_text(rq, 200, "Requesting termination... Goodbye!");
    web_after_reply(rq, h->quit, h->arg);
}
