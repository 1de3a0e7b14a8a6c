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

#include "base/log.h"
#include "config.h"

static const struct kilnctl_command commands[] = {
    {"pprof", "read, report on, merge and convert pprof profile files",
     kilnctl_pprof_main},
    {"import", "store pprof files in a database directory",
     kilnctl_import_main},
    {"tsdb", "inspect a database directory: list, stats, dump",
     kilnctl_tsdb_main},
    {"check", "validate configuration files (kiln.yml)", kilnctl_check_main},
    {"query", "run PromQL queries against a kiln server", kilnctl_query_main},
    {"profile", "fetch a merged profile from a kiln server",
     kilnctl_profile_main},
};

static const char intro[] =
    "Usage: kilnctl [--help] [--version] COMMAND [ARGS...]\n"
    "\n"
    "kilnctl is the command-line tool of Kiln, a continuous profiling "
    "system.\n";

int main(int argc, char **argv)
{
    /* A command-line tool speaks through its output and exit status; the
     * libraries' informational log lines would only be noise. */
    log_set_level(LOG_LEVEL_WARN);
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

/* Format a message for stderr. Messages quote outside input (file names,
 * profile strings, arguments): control characters become '?' so that each
 * message stays on one line. */
static void format_clean(char *msg, size_t size, const char *fmt, va_list ap)
{
    vsnprintf(msg, size, fmt, ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

int kilnctl_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    format_clean(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "kilnctl: %s\n", msg);
    return KILNCTL_EXIT_FAIL;
}

int kilnctl_usage_error(const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    format_clean(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", path, msg, path);
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
