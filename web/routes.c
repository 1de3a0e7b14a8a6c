/* web/routes.c: Kiln's route table: every endpoint, its methods, and
 * whether it waits for readiness. Adding an endpoint is one line here plus
 * its handler (see handler.h). server.c does the matching; docs/api.md
 * describes each endpoint.
 *
 * As in Prometheus, /api/ endpoints answer 503 until the server is ready
 * (WEB_READY); health, readiness, lifecycle and /metrics always answer.
 */
#include "web/handler.h"

const struct web_route web_routes[] = {
    {"/-/healthy", WEB_GET, 0, web_handle_healthy},
    {"/-/ready", WEB_GET, 0, web_handle_ready},
    {"/-/reload", WEB_POST | WEB_PUT, 0, web_handle_reload},
    {"/-/quit", WEB_POST | WEB_PUT, 0, web_handle_quit},
    {"/metrics", WEB_GET, 0, web_handle_metrics},
    {"/api/v1/status/buildinfo", WEB_GET, WEB_READY, web_handle_buildinfo},
    {"/api/v1/targets", WEB_GET, WEB_READY, web_handle_targets},
    {"/api/v1/profile", WEB_GET | WEB_POST, WEB_READY, web_handle_profile},
    {"/api/v1/diff", WEB_GET | WEB_POST, WEB_READY, web_handle_diff},
    {"/api/v1/query", WEB_GET | WEB_POST, WEB_READY, web_handle_query},
    {"/api/v1/query_range", WEB_GET | WEB_POST, WEB_READY,
     web_handle_query_range},
    {"/api/v1/series", WEB_GET | WEB_POST, WEB_READY, web_handle_series},
    {"/api/v1/labels", WEB_GET | WEB_POST, WEB_READY, web_handle_labels},
    {"/api/v1/label/", WEB_GET, WEB_PREFIX | WEB_READY,
     web_handle_label_values},
};

const size_t web_n_routes = sizeof(web_routes) / sizeof(web_routes[0]);
