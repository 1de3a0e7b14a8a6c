/* base/fsio.c: whole-file reads and durable writes.
 *
 * Design. The few file patterns Kiln repeats, written once: read a whole
 * file into a limited buffer (profiles, block files), write a whole file and
 * fsync it (block files, written in a temporary directory that is renamed
 * into place only after every file in it is durable), fsync a directory so
 * that renames survive a crash, and remove a directory tree (a temporary or
 * deleted block). Every error names the path and the system's reason.
 */
#include "base/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kb_status kb_file_read(const char *path, struct buf *out,
                            struct kb_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    enum kb_status st = KB_OK;
    struct stat sb;
    size_t want = 64 * 1024; /* growth step for pipes and the like */
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        st = kb_errf(err, KB_ERR_IO, "%s: is a directory", path);
        goto done;
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        if ((uint64_t)sb.st_size > out->limit - out->len) {
            st = kb_errf(err, KB_ERR_LIMIT,
                         "%s: file is %lld bytes, limit is %zu", path,
                         (long long)sb.st_size, out->limit);
            goto done;
        }
        want = (size_t)sb.st_size + 1; /* +1 to see the end in one read */
    }
    for (;;) {
        size_t left = out->limit - out->len; /* what the limit still allows */
        if (left == 0) {
            char c;
            if (read(fd, &c, 1) > 0)
                st = kb_errf(err, KB_ERR_LIMIT, "%s: more than %zu bytes", path,
                             out->limit);
            break;
        }
        if (out->cap - out->len <= 1) {
            buf_reserve(out, want < left ? want : left); /* cannot fail */
            want = 64 * 1024;
        }
        size_t room = out->cap - out->len - 1;
        ssize_t r = read(fd, out->data + out->len, room < left ? room : left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = '\0';
    }
done:
    close(fd);
    return st;
}

enum kb_status kb_fd_write_all(int fd, const void *p, size_t n,
                               const char *name, struct kb_err *err)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return kb_errf(err, KB_ERR_IO, "%s: %s", name, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    return KB_OK;
}

enum kb_status kb_file_write_sync(const char *path, const void *p, size_t n,
                                  struct kb_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    enum kb_status st = kb_fd_write_all(fd, p, n, path, err);
    if (st == KB_OK && fsync(fd) != 0)
        st = kb_errf(err, KB_ERR_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && st == KB_OK)
        st = kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    return st;
}

enum kb_status kb_dir_sync(const char *path, struct kb_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    enum kb_status st = KB_OK;
    if (fsync(fd) != 0)
        st = kb_errf(err, KB_ERR_IO, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    return st;
}

enum kb_status kb_remove_all(const char *path, struct kb_err *err)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT
                   ? KB_OK
                   : kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d == NULL)
            return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
        struct dirent *de;
        enum kb_status st = KB_OK;
        while (st == KB_OK && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char sub[4096];
            if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
                (int)sizeof(sub)) {
                st = kb_errf(err, KB_ERR_IO, "%s: path too long", path);
                break;
            }
            st = kb_remove_all(sub, err);
        }
        closedir(d);
        if (st)
            return st;
        if (rmdir(path) != 0)
            return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
        return KB_OK;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return kb_errf(err, KB_ERR_IO, "%s: %s", path, strerror(errno));
    return KB_OK;
}

enum kb_status kb_path_join(char out[KB_PATH_MAX], const char *dir,
                            const char *name, struct kb_err *err)
{
    int n = snprintf(out, KB_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= KB_PATH_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "path %.64s.../%.64s is too long",
                       dir, name);
    return KB_OK;
}

uint64_t kb_disk_usage(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return 0;
    if (!S_ISDIR(sb.st_mode))
        return S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    uint64_t total = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char sub[KB_PATH_MAX];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            kb_path_join(sub, path, de->d_name, NULL) != KB_OK)
            continue;
        total += kb_disk_usage(sub);
    }
    if (d)
        closedir(d);
    return total;
}
