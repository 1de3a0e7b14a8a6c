/* cmd/kilnctl.h: what kilnctl's command files share: exit statuses, the
 * command table type, error and usage reporting, flag helpers and output.
 *
 * A command family lives in its own file (cmd/kilnctl_pprof.c, later
 * cmd/kilnctl_tsdb.c, cmd/kilnctl_query.c, ...) and exports one entry point,
 * declared at the bottom, which cmd/kilnctl.c lists in its table. See
 * kilnctl.c.
 */
#ifndef KILN_CMD_KILNCTL_H
#define KILN_CMD_KILNCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Exit statuses: success, bad input (a file that cannot be read or
 * decoded, a profile that lacks what was asked), bad usage. */
enum {
    KILNCTL_EXIT_OK = 0,
    KILNCTL_EXIT_FAIL = 1,
    KILNCTL_EXIT_USAGE = 2,
};

/* A command or subcommand. `run` gets argv[0] == the command's own name and
 * returns an exit status. */
struct kilnctl_command {
    const char *name;
    const char *summary; /* one line, for the parent's --help */
    int (*run)(int argc, char **argv);
};

/* Run the command of `cmds` (n of them) named argv[1], where argv[0] is the
 * parent (`path` is its full name, e.g. "kilnctl pprof"). "--help"/"-h" or
 * "help" print `intro` and the command list to stdout and return 0; no
 * argument or an unknown command is a usage error. */
int kilnctl_dispatch(const char *path, const char *intro,
                     const struct kilnctl_command *cmds, size_t n, int argc,
                     char **argv);

/* Print "kilnctl: " and the message (one line) to stderr; return
 * KILNCTL_EXIT_FAIL. */
int kilnctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "PATH: " and the message, then "Run 'PATH --help' for usage." to
 * stderr; return KILNCTL_EXIT_USAGE. */
int kilnctl_usage_error(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepare getopt_long for a fresh parse of a subcommand's argv (kilnctl
 * reports bad flags itself, so getopt's own messages are off). Pass
 * short options starting with ':' so that a missing value is told apart. */
void kilnctl_getopt_reset(void);

/* The usage error for what getopt_long just returned ('?' or ':'). */
int kilnctl_bad_flag(const char *path, int c, char **argv);

/* Parse a non-negative decimal integer (the whole string). */
bool kilnctl_parse_size(const char *s, size_t *out);
/* Parse a finite, non-negative number (the whole string). */
bool kilnctl_parse_fraction(const char *s, double *out);

enum kilnctl_format {
    KILNCTL_FORMAT_TEXT,
    KILNCTL_FORMAT_JSON,
};

/* "text" or "json". */
bool kilnctl_parse_format(const char *s, enum kilnctl_format *out);

/* Write `b` to stdout and flush it; on failure print the reason and return
 * KILNCTL_EXIT_FAIL, else KILNCTL_EXIT_OK. */
int kilnctl_write_stdout(struct buf *b);

/* ---- Command families ---------------------------------------------------- */

/* kilnctl pprof ... (cmd/kilnctl_pprof.c) */
int kilnctl_pprof_main(int argc, char **argv);

/* kilnctl check config (cmd/kilnctl_check.c) */
int kilnctl_check_main(int argc, char **argv);

/* kilnctl import ... and kilnctl tsdb ... (cmd/kilnctl_tsdb.c) */
int kilnctl_import_main(int argc, char **argv);
int kilnctl_tsdb_main(int argc, char **argv);

/* kilnctl query ... (cmd/kilnctl_query.c) */
int kilnctl_query_main(int argc, char **argv);

/* kilnctl profile (cmd/kilnctl_profile.c) */
int kilnctl_profile_main(int argc, char **argv);

#endif
