/* cmd/kilnctl.c: kilnctl, Kiln's command-line tool: main, the top-level
 * command table, and the helpers every command family shares.
 *
 * Design. kilnctl is a tree of commands. Each family (pprof now; import,
 * tsdb and query later) lives in its own cmd/kilnctl_FAMILY.c with one entry
 * point listed in `commands` below, and dispatches to its subcommands with
 * kilnctl_dispatch, the same function main uses. Subcommands parse their
 * flags with getopt_long (GNU argument permutation, so flags may follow the
 * file names); getopt's own messages are off and kilnctl_bad_flag reports
 * bad flags in kilnctl's format.
 *
 * Exit statuses and messages (the contract tests and scripts rely on):
 *  - 0: success; output on stdout only;
 *  - 1: bad input: exactly one line on stderr, "kilnctl: FILE: reason"
 *    (the reason comes from the kb_err of the failing call);
 *  - 2: bad usage (unknown command or flag, missing or bad value, missing
 *    file): "kilnctl CMD: what is wrong", then a line pointing at --help.
 * --help anywhere prints that command's usage on stdout and exits 0.
 *
 * JSON output is written with kilnctl_json_str and buf_printf until the
 * shared streaming writer (base/jsonw) lands; then the families switch to it.
 *
 * Ownership: nothing here keeps state between calls except getopt's globals,
 * which kilnctl_getopt_reset resets.
 */
#include "cmd/kilnctl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const struct kilnctl_command commands[] = {
    {"pprof", "read, report on, merge and convert pprof profile files",
     kilnctl_pprof_main},
};

static const char intro[] =
    "Usage: kilnctl [--help] [--version] COMMAND [ARGS...]\n"
    "\n"
    "kilnctl is the command-line tool of Kiln, a continuous profiling "
    "system.\n";

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("kilnctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return fflush(stdout) == 0 ? KILNCTL_EXIT_OK : KILNCTL_EXIT_FAIL;
    }
    return kilnctl_dispatch("kilnctl", intro, commands,
                            sizeof(commands) / sizeof(commands[0]), argc, argv);
}

int kilnctl_dispatch(const char *path, const char *intro_text,
                     const struct kilnctl_command *cmds, size_t n, int argc,
                     char **argv)
{
    if (argc < 2)
        return kilnctl_usage_error(path, "missing command");
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        printf("%s\nCommands:\n", intro_text);
        for (size_t i = 0; i < n; i++)
            printf("  %-11s %s\n", cmds[i].name, cmds[i].summary);
        printf("\nRun '%s COMMAND --help' for a command's usage.\n", path);
        return fflush(stdout) == 0 ? KILNCTL_EXIT_OK : KILNCTL_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    if (name[0] == '-')
        return kilnctl_usage_error(path, "unknown flag '%s'", name);
    return kilnctl_usage_error(path, "unknown command '%s'", name);
}

int kilnctl_fail(const char *fmt, ...)
{
    /* Messages quote outside input (file names, profile strings): control
     * characters become '?' so that the reason stays on one line. */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    fflush(stdout);
    fprintf(stderr, "kilnctl: %s\n", msg);
    return KILNCTL_EXIT_FAIL;
}

int kilnctl_usage_error(const char *path, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun '%s --help' for usage.\n", path);
    return KILNCTL_EXIT_USAGE;
}

void kilnctl_getopt_reset(void)
{
    optind = 0; /* glibc: 0 also resets getopt's internal state */
    opterr = 0;
}

int kilnctl_bad_flag(const char *path, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return kilnctl_usage_error(path, "flag '%s' needs a value", arg);
    if (optopt != 0 && strncmp(arg, "--", 2) != 0)
        return kilnctl_usage_error(path, "unknown flag '-%c'", optopt);
    return kilnctl_usage_error(path, "unknown flag '%s'", arg);
}

bool kilnctl_parse_size(const char *s, size_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

bool kilnctl_parse_fraction(const char *s, double *out)
{
    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

bool kilnctl_parse_format(const char *s, enum kilnctl_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = KILNCTL_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = KILNCTL_FORMAT_JSON;
    else
        return false;
    return true;
}

int kilnctl_write_stdout(struct buf *b)
{
    if ((b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len) ||
        fflush(stdout) != 0)
        return kilnctl_fail("writing output: %s", strerror(errno));
    return KILNCTL_EXIT_OK;
}

/* The length of the well-formed UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void kilnctl_json_str(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
            i++;
        } else if (c == '\n') {
            buf_puts(b, "\\n");
            i++;
        } else if (c == '\t') {
            buf_puts(b, "\\t");
            i++;
        } else if (c == '\r') {
            buf_puts(b, "\\r");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            buf_putc(b, (char)c);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                buf_puts(b, "\\ufffd");
                i++;
            } else {
                buf_append(b, p + i, len);
                i += len;
            }
        }
    }
    buf_putc(b, '"');
}
