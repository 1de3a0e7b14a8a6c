/* web/metrics_handler.c: GET /metrics, Kiln's own metrics in the
 * Prometheus text format (base/metrics.h does the writing; docs/metrics.md
 * lists the metrics). The exposition is built whole in memory, at most
 * METRICS_REPLY_MAX bytes (a 500 beyond, which would take millions of
 * series), and sent with Content-Length.
 */
#include "web/handler.h"

#define METRICS_REPLY_MAX ((size_t)64 << 20)

void web_handle_metrics(struct web_request *rq)
{
    struct buf b;
    buf_init(&b, METRICS_REPLY_MAX);
    struct kb_err err = {0};
    if (metrics_write(web_options_of(rq)->metrics, &b, &err) != KB_OK)
        web_reply_text(rq, 500, "%s\n", err.msg);
    else
        web_reply(rq, 200, METRICS_CONTENT_TYPE, &b);
    buf_free(&b);
}
