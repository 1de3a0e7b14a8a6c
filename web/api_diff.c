/* web/api_diff.c: GET|POST /api/v1/diff, two merged profiles as one
 * flame-graph tree aligned by call path.
 *
 * Parameters: base (a selector, stack matchers allowed), base_start,
 * base_end, compare (default: the base selector), compare_start,
 * compare_end (each range as in /api/v1/profile: default end = now, start
 * = end - 1h), format (json|svg, default json) and max_nodes (default
 * 1024).
 *
 * Design. Each side is selected and merged as /api/v1/profile does
 * (web_profile_query in api_profile.c), the full trees are built, diffed
 * (pprof_flame_diff: one node per path, base values on side 0 and compare
 * values on side 1), and only then folded, by the larger of each node's
 * two shares, so that a path heavy on either side is kept and both sides'
 * totals stay exact. The two sides must be profiles of the same type
 * (else 400); a side with no data is an empty tree, as in
 * /api/v1/profile.
 *
 * JSON: {"type", "unit", "base": {"total", "series", "profiles"},
 * "compare": {...}, "tree": <diff tree, pprof_flame_write_json>}.
 * SVG: the compare side's widths, coloured by the change of share.
 *
 * Ownership: both queries and all trees are freed here.
 */
#include <string.h>

#include "pprof/flame.h"
#include "web/handler.h"

static void put_side(struct jsonw *w, const char *key,
                     const struct web_profile_query *q, int64_t total)
{
    jsonw_key(w, key);
    jsonw_object_begin(w);
    jsonw_key(w, "total");
    jsonw_int(w, total);
    jsonw_key(w, "series");
    jsonw_uint(w, q->series);
    jsonw_key(w, "profiles");
    jsonw_uint(w, q->profiles);
    jsonw_object_end(w);
}

static bool parse_format(struct web_request *rq, bool *svg)
{
    const char *s = web_param(rq, "format");
    *svg = s != NULL && strcmp(s, "svg") == 0;
    if (s == NULL || s[0] == '\0' || *svg || strcmp(s, "json") == 0)
        return true;
    web_reply_error(rq, WEB_ERR_BAD_DATA,
                    "invalid parameter \"format\": \"%.64s\" is not json or "
                    "svg",
                    s);
    return false;
}

/* The two sides' trees, diffed; NULL when it replied an error. */
static struct pprof_flame *diff_trees(struct web_request *rq,
                                      const struct web_profile_query *b,
                                      const struct web_profile_query *c)
{
    struct pprof_flame *tb = NULL, *tc = NULL, *d = NULL;
    struct kb_err err;
    if (pprof_flame_build(b->profile, 0, &tb, &err) != KB_OK ||
        pprof_flame_build(c->profile, 0, &tc, &err) != KB_OK ||
        pprof_flame_diff(tb, tc, &d, &err) != KB_OK)
        web_reply_error(rq, WEB_ERR_INTERNAL, "%s", err.msg);
    pprof_flame_free(tb);
    pprof_flame_free(tc);
    return d;
}

void web_handle_diff(struct web_request *rq)
{
    bool svg;
    size_t max_nodes;
    if (!parse_format(rq, &svg) || !web_profile_max_nodes(rq, &max_nodes))
        return;
    const char *compare_param =
        web_param(rq, "compare") != NULL ? "compare" : "base";
    struct web_profile_query b, c;
    if (!web_profile_query(rq, "base", "base_start", "base_end", &b))
        return;
    if (!web_profile_query(rq, compare_param, "compare_start", "compare_end",
                           &c)) {
        web_profile_query_free(&b);
        return;
    }
    struct pprof_flame *full = NULL, *f = NULL;
    if (b.type != NULL && c.type != NULL && strcmp(b.type, c.type) != 0) {
        web_reply_error(rq, WEB_ERR_BAD_DATA,
                        "base and compare select different profile types "
                        "(%.80s and %.80s)",
                        b.type, c.type);
        goto done;
    }
    full = diff_trees(rq, &b, &c);
    if (full == NULL)
        goto done;
    f = web_profile_fold(rq, full, max_nodes, !svg);
    if (f == NULL)
        goto done;
    const char *type = b.type ? b.type : c.type ? c.type : "";
    const char *unit = b.type ? b.unit : c.unit;
    if (svg) {
        struct buf title;
        buf_init(&title, BUF_NO_LIMIT);
        web_profile_title(&b, web_param(rq, "base"), &title);
        buf_puts(&title, " vs ");
        web_profile_title(&c, web_param(rq, compare_param), &title);
        web_profile_reply_svg(rq, f, buf_cstr(&title), unit);
        buf_free(&title);
        goto done;
    }
    struct jsonw *w = web_json_begin(rq);
    jsonw_object_begin(w);
    jsonw_key(w, "type");
    jsonw_string(w, type);
    jsonw_key(w, "unit");
    jsonw_string(w, unit);
    put_side(w, "base", &b, f->nodes[0].total[0]);
    put_side(w, "compare", &c, f->nodes[0].total[1]);
    jsonw_key(w, "tree");
    pprof_flame_write_json(f, w);
    jsonw_object_end(w);
    web_json_end(rq);
done:
    pprof_flame_free(f);
    pprof_flame_free(full);
    web_profile_query_free(&b);
    web_profile_query_free(&c);
}
