/* web/api_status.c: GET /api/v1/status/buildinfo, as Prometheus:
 * {"status":"success","data":{"version":"..."}}, the version given in
 * web_options (what `kiln --version` prints). Grafana and other clients
 * read it to learn what they talk to.
 */
#include "web/handler.h"

void web_handle_buildinfo(struct web_request *rq)
{
    struct jsonw *w = web_json_begin(rq);
    jsonw_object_begin(w);
    jsonw_key(w, "version");
    jsonw_string(w, web_options_of(rq)->version);
    jsonw_object_end(w);
    web_json_end(rq);
}
