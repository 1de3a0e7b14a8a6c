/* pprof/flamesvg.c: a flame-graph tree (pprof/flame.h) as a standalone SVG
 * that a browser shows directly, without scripts.
 *
 * Design. Classic flame-graph layout (Brendan Gregg's flamegraph.pl): the
 * root is the bottom row, each node a rectangle on the row above its
 * parent, as wide as its share of the root's total, its children laid out
 * left to right in the tree's order (heaviest first) starting at the
 * parent's left edge. Positions are computed in one pass over the tree's
 * breadth-first node array (parents come before children). Rectangles
 * narrower than MIN_WIDTH pixels are not drawn (nor, then, anything above
 * them: children are never wider than their parent's total). A rectangle
 * gets a label when its name fits at least partly (cut with ".."), and
 * every rectangle a <title>, which browsers show as a tooltip.
 *
 * Colours: one profile in warm colours from a hash of the name (so a
 * function keeps its colour across graphs), a diff by the change of the
 * node's total share, compare minus base, scaled so that the largest
 * change drawn is full red (grew) or full blue (shrank). The diff's widths
 * are the compare side's (the base's when the compare side is empty).
 *
 * Text is escaped for XML (& < > " '), and what XML 1.0 cannot hold (bytes
 * that are not UTF-8, control characters, U+FFFE/U+FFFF) becomes U+FFFD,
 * so any profile gives a well-formed document.
 *
 * Ownership: the tree is only read; the output is appended to the caller's
 * buffer, whose limit bounds the document.
 */
#include "pprof/flame.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hmap.h"
#include "pprof/units.h"

#define DEFAULT_WIDTH 1200
#define PAD 10
#define ROW 16
#define HEADER 40
#define FONT 12
#define CHAR_WIDTH 7.0 /* an estimate, for cutting labels */
#define MIN_WIDTH 0.1

/* An output buffer with a sticky first error. */
struct svgw {
    struct buf *out;
    enum kb_status st;
};

static void put(struct svgw *w, const char *s, size_t n)
{
    if (w->st == KB_OK)
        w->st = buf_append(w->out, s, n);
}

static void puts_(struct svgw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void printf_(struct svgw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void printf_(struct svgw *w, const char *fmt, ...)
{
    if (w->st != KB_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->st = buf_vprintf(w->out, fmt, ap);
    va_end(ap);
}

/* The length of the well-formed UTF-8 sequence at s[0..n) that XML 1.0
 * allows, or 0. */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || len > n || c > 0xf4)
        return 0;
    uint32_t cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp == 0xfffe || cp == 0xffff)
        return 0;
    return len;
}

/* Append s[0..n) escaped for XML text and attributes. */
static void put_escaped(struct svgw *w, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        size_t len;
        while (run < n && (len = xml_char_len(u + run, n - run)) > 0 &&
               !strchr("&<>\"'", u[run]))
            run += len;
        put(w, s + i, run - i);
        if (run >= n)
            break;
        switch (u[run]) {
        case '&':
            puts_(w, "&amp;");
            break;
        case '<':
            puts_(w, "&lt;");
            break;
        case '>':
            puts_(w, "&gt;");
            break;
        case '"':
            puts_(w, "&quot;");
            break;
        case '\'':
            puts_(w, "&apos;");
            break;
        default:
            puts_(w, "\xef\xbf\xbd"); /* U+FFFD for one bad byte */
        }
        i = run + 1;
    }
}

static double share(int64_t v, int64_t total)
{
    return total != 0 ? (double)v / (double)total : 0;
}

/* "1.50s (12.34%)" for `v` of a side whose root total is `total`. */
static void put_value(struct svgw *w, int64_t v, int64_t total,
                      const char *unit)
{
    char label[PPROF_UNITS_LABEL_MAX];
    pprof_units_label(label, v, unit, "auto");
    put_escaped(w, label, strlen(label));
    printf_(w, " (%.2f%%)", 100 * share(v, total));
}

static void put_tooltip(struct svgw *w, const struct pprof_flame *f,
                        const struct pprof_flame_node *n, const char *unit)
{
    const struct pprof_flame_node *root = &f->nodes[0];
    puts_(w, "<title>");
    put_escaped(w, n->name, n->name_len);
    if (f->n_sides == 1) {
        puts_(w, ": total ");
        put_value(w, n->total[0], root->total[0], unit);
        puts_(w, ", self ");
        put_value(w, n->self[0], root->total[0], unit);
    } else {
        static const char *const side_name[2] = {"base", "compare"};
        for (int s = 0; s < 2; s++) {
            printf_(w, "%s%s: total ", s ? "; " : "\n", side_name[s]);
            put_value(w, n->total[s], root->total[s], unit);
            puts_(w, ", self ");
            put_value(w, n->self[s], root->total[s], unit);
        }
        printf_(w, "\nchange of total share: %+.2f points",
                100 * (share(n->total[1], root->total[1]) -
                       share(n->total[0], root->total[0])));
    }
    puts_(w, "</title>");
}

/* The change of a diff node's total share, compare minus base. */
static double change(const struct pprof_flame *f,
                     const struct pprof_flame_node *n)
{
    return share(n->total[1], f->nodes[0].total[1]) -
           share(n->total[0], f->nodes[0].total[0]);
}

static void put_fill(struct svgw *w, const struct pprof_flame *f,
                     const struct pprof_flame_node *n, double max_change)
{
    unsigned r, g, b;
    if (n->other || n == &f->nodes[0]) {
        r = g = b = 200;
    } else if (f->n_sides == 1) {
        uint64_t h = kb_hash(n->name, n->name_len, 0);
        r = 205 + (unsigned)(h % 51);
        g = (unsigned)((h >> 8) % 231);
        b = (unsigned)((h >> 16) % 56);
    } else {
        double d = change(f, n);
        double t = max_change > 0 ? fabs(d) / max_change : 0;
        unsigned fade = (unsigned)lround(255 * (1 - (t > 1 ? 1 : t)));
        r = d < 0 ? fade : 255;
        b = d > 0 ? fade : 255;
        g = fade;
    }
    printf_(w, " fill=\"rgb(%u,%u,%u)\"", r, g, b);
}

/* The label for a rectangle `width` pixels wide: the name, or its start
 * and "..", or nothing. */
static void put_label(struct svgw *w, const struct pprof_flame_node *n,
                      double x, double y, double width)
{
    size_t fits = (size_t)((width - 6) / CHAR_WIDTH);
    if (fits < 3)
        return;
    printf_(w, "<text x=\"%.2f\" y=\"%.2f\">", x + 3, y + ROW - 4.5);
    if (n->name_len <= fits) {
        put_escaped(w, n->name, n->name_len);
    } else {
        /* Cut at a UTF-8 character boundary. */
        size_t cut = fits - 2;
        while (cut > 0 && (n->name[cut] & 0xc0) == 0x80)
            cut--;
        put_escaped(w, n->name, cut);
        puts_(w, "..");
    }
    puts_(w, "</text>");
}

enum kb_status pprof_flame_svg(const struct pprof_flame *f,
                               const struct pprof_flame_svg_options *o,
                               struct buf *out, struct kb_err *err)
{
    struct svgw w = {.out = out, .st = KB_OK};
    unsigned width = o->width ? o->width : DEFAULT_WIDTH;
    const char *unit = o->unit ? o->unit : "";
    const char *title = o->title ? o->title : "Flame graph";
    int side = f->n_sides == 2 && f->nodes[0].total[1] != 0 ? 1 : 0;
    double root_total = fabs((double)f->nodes[0].total[side]);
    double span = width - 2.0 * PAD;
    unsigned height = HEADER + (f->max_depth + 1) * ROW + PAD;

    double *x = kb_malloc(f->n_nodes * sizeof(*x));
    double *wd = kb_malloc(f->n_nodes * sizeof(*wd));
    x[0] = PAD;
    wd[0] = root_total > 0 ? span : 0;
    double max_change = 0;
    for (size_t i = 0; i < f->n_nodes; i++) {
        const struct pprof_flame_node *n = &f->nodes[i];
        double cursor = x[i];
        for (size_t c = 0; c < n->n_children; c++) {
            size_t k = (size_t)(&n->children[c] - f->nodes);
            x[k] = cursor;
            wd[k] =
                wd[i] >= MIN_WIDTH && root_total > 0
                    ? span * fabs((double)f->nodes[k].total[side]) / root_total
                    : 0;
            cursor += wd[k];
        }
        if (f->n_sides == 2 && wd[i] >= MIN_WIDTH && i > 0 && !n->other &&
            fabs(change(f, n)) > max_change)
            max_change = fabs(change(f, n));
    }

    puts_(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    printf_(&w,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
            "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
            "font-family=\"Verdana, sans-serif\" font-size=\"%d\">\n",
            width, height, width, height, FONT);
    puts_(&w, "<style>text { pointer-events: none; fill: #000; } "
              "rect:hover { stroke: #000; stroke-width: 0.5; }</style>\n");
    printf_(&w,
            "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" "
            "fill=\"#f8f8f8\"/>\n",
            width, height);
    printf_(&w,
            "<text x=\"%u\" y=\"24\" text-anchor=\"middle\" "
            "font-size=\"17\">",
            width / 2);
    put_escaped(&w, title, strlen(title));
    puts_(&w, "</text>\n");
    for (size_t i = 0; i < f->n_nodes; i++) {
        const struct pprof_flame_node *n = &f->nodes[i];
        if (wd[i] < MIN_WIDTH)
            continue;
        double y = HEADER + (double)(f->max_depth - n->depth) * ROW;
        puts_(&w, "<g>");
        put_tooltip(&w, f, n, unit);
        printf_(&w,
                "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%d\" "
                "rx=\"2\"",
                x[i], y, wd[i], ROW - 1);
        put_fill(&w, f, n, max_change);
        puts_(&w, "/>");
        put_label(&w, n, x[i], y, wd[i]);
        puts_(&w, "</g>\n");
    }
    puts_(&w, "</svg>\n");
    free(x);
    free(wd);
    if (w.st != KB_OK)
        return kb_errf(err, w.st, "SVG larger than %zu bytes", out->limit);
    return KB_OK;
}
