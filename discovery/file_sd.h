/* discovery/file_sd.h: file_sd_configs: target groups read from JSON and
 * YAML files that match glob patterns, watched with inotify and re-read
 * every refresh interval. See file_sd.c. */
#ifndef KILN_DISCOVERY_FILE_SD_H
#define KILN_DISCOVERY_FILE_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "discovery/group.h"

/* Limits. A file past one of them is a broken file (it keeps its last good
 * groups); a provider matching more files reads the first ones by path. */
#define DISC_FILE_SD_MAX_BYTES (4 << 20) /* bytes per file */
#define DISC_FILE_SD_MAX_GROUPS 10000    /* groups per file */
#define DISC_FILE_SD_MAX_TARGETS 100000  /* targets per file */
#define DISC_FILE_SD_MAX_FILES 1000      /* matched files per provider */
#define DISC_FILE_SD_MAX_PATTERNS 256    /* patterns per provider */
#define DISC_FILE_SD_REFRESH_DEFAULT_MS (5 * 60 * 1000) /* Prometheus' 5m */

/* The label file_sd adds to every group: the path of the file it came
 * from, as the pattern spelled it (with the matched name in place of the
 * glob). */
#define DISC_META_FILEPATH "__meta_filepath"

enum disc_file_format {
    DISC_FILE_JSON,
    DISC_FILE_YAML,
};

/* The format a path's extension names: .json is JSON, .yml and .yaml are
 * YAML (any letter case). KB_ERR_INVALID naming the path otherwise. */
enum kb_status disc_file_format_of(const char *path, enum disc_file_format *out,
                                   struct kb_err *err);

/* Parse the content of one file_sd file, Prometheus' format:
 *
 *   [{"targets": ["host:port", ...], "labels": {"name": "value", ...}}, ...]
 *
 * (YAML: the same list of mappings; an empty YAML file or `null` is no
 * groups). "targets" and "labels" may be missing or null. Label names must
 * be valid and unique, values UTF-8 strings (YAML: any scalar, read as
 * text; an empty value is no label); addresses pass disc_address_valid.
 * JSON ignores unknown keys and YAML refuses them, as in Prometheus. YAML
 * aliases and multiple documents are refused. At most
 * DISC_FILE_SD_MAX_BYTES of input, DISC_FILE_SD_MAX_GROUPS groups and
 * DISC_FILE_SD_MAX_TARGETS targets (KB_ERR_LIMIT).
 *
 * Each group gets __meta_filepath=`path` (replacing a label of that name)
 * and the source "file:<path>:<index>". On success the groups are appended
 * to `out`; on failure `out` is unchanged and the error names the position
 * (YAML "line L, column C: ...", JSON "line L, column C: ..." for syntax,
 * "group G: ..." for content) but not the path: callers prefix it. */
enum kb_status disc_file_sd_parse(const void *data, size_t len,
                                  enum disc_file_format fmt, const char *path,
                                  struct disc_group_set *out,
                                  struct kb_err *err);

/* A file_sd provider: one file_sd_configs entry. It owns an inotify
 * descriptor and no thread; the caller's event loop drives it:
 *
 *   struct pollfd p = {disc_file_sd_fd(sd), POLLIN, 0};
 *   poll(&p, 1, disc_file_sd_timeout_ms(sd));
 *   if (disc_file_sd_poll(sd))
 *       groups = disc_file_sd_groups(sd, &version);   (then diff them)
 */
struct disc_file_sd;

/* Start a provider over `patterns` (copied): paths to .json, .yml or .yaml
 * files in which `*` may appear in the last path component only, matching
 * any run of characters other than '/' (a star then ".json" in the last
 * component picks every JSON file of a directory). Relative
 * patterns are relative to the working directory (the configuration loader
 * resolves them against the configuration file's directory first).
 * `refresh_ms` is the fallback re-read interval, 0 for the default.
 * Reads every matched file once before returning, so the groups are ready.
 * KB_ERR_INVALID naming a bad pattern, KB_ERR_LIMIT for too many; a broken
 * or missing file is not an error here (see disc_file_sd_last_error). */
enum kb_status disc_file_sd_new(const char *const *patterns, size_t n,
                                int64_t refresh_ms, struct disc_file_sd **out,
                                struct kb_err *err);
/* Stop watching and free everything; NULL is allowed. */
void disc_file_sd_free(struct disc_file_sd *sd);

/* The descriptor to wait on for reading (inotify, non-blocking), or -1
 * when inotify is unavailable (then the provider relies on the refresh
 * interval alone). It stays the same for the provider's life. */
int disc_file_sd_fd(const struct disc_file_sd *sd);
/* Milliseconds until disc_file_sd_poll has timed work to do (the next
 * refresh, or a retry to watch a directory that did not exist yet), 0 if
 * it is due now. */
int disc_file_sd_timeout_ms(const struct disc_file_sd *sd);
/* Drain pending inotify events and, when they concern matched files or the
 * timed work is due, re-list the patterns and re-read the files whose
 * content changed. Never blocks. Returns whether the groups changed (then
 * the version was incremented). A file that fails to read or parse keeps
 * its last good groups; the failure is logged (component "discovery",
 * once per distinct failure) and kept for disc_file_sd_last_error. */
bool disc_file_sd_poll(struct disc_file_sd *sd);

/* The current groups of every matched file, ordered by path then position.
 * The set belongs to the provider and stays valid until the next
 * disc_file_sd_poll or disc_file_sd_free (disc_group_set_copy keeps it).
 * *version (when not NULL) is a counter incremented at every change. */
const struct disc_group_set *disc_file_sd_groups(const struct disc_file_sd *sd,
                                                 uint64_t *version);
/* The failure of the first matched file (by path) that is broken now, with
 * the path in front of the message ("/etc/kiln/sd/a.json: line 3, ...");
 * status KB_OK when every file was read fine. */
const struct kb_err *disc_file_sd_last_error(const struct disc_file_sd *sd);
/* Failed reads and parses since the start (a counter for metrics). */
uint64_t disc_file_sd_read_errors(const struct disc_file_sd *sd);

#endif
