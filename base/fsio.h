/* base/fsio.h: whole-file reads and durable writes. See fsio.c. */
#ifndef KILN_BASE_FSIO_H
#define KILN_BASE_FSIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* Append the whole content of `path` to `out`; a file larger than out's
 * limit fails with KB_ERR_LIMIT before reading it (for regular files) or
 * as soon as the limit is passed. Errors name the path. */
enum kb_status kb_file_read(const char *path, struct buf *out,
                            struct kb_err *err);

/* Write all `n` bytes to `fd`, retrying short writes and EINTR. */
enum kb_status kb_fd_write_all(int fd, const void *p, size_t n,
                               const char *name, struct kb_err *err);

/* Create `path` (0644, truncating), write `n` bytes, fsync and close it. */
enum kb_status kb_file_write_sync(const char *path, const void *p, size_t n,
                                  struct kb_err *err);

/* fsync a directory, making renames and creations in it durable. */
enum kb_status kb_dir_sync(const char *path, struct kb_err *err);

/* Remove `path` and, if it is a directory, everything below it. A missing
 * path is not an error. */
enum kb_status kb_remove_all(const char *path, struct kb_err *err);

/* Bytes of the regular files at or below `path` (0 if it is missing). */
uint64_t kb_disk_usage(const char *path);

/* The longest path Kiln builds. */
#define KB_PATH_MAX 4096

/* out = dir "/" name; KB_ERR_LIMIT (naming both) if it does not fit in
 * KB_PATH_MAX bytes. */
enum kb_status kb_path_join(char out[KB_PATH_MAX], const char *dir,
                            const char *name, struct kb_err *err);

#endif
