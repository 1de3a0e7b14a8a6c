/* discovery/file_sd.c: the file_sd provider: glob patterns, file reads,
 * inotify watches and the refresh timer.
 *
 * Design. A provider holds patterns, each split into a directory and a
 * last-component glob (only `*` is special, as Prometheus allows globs in
 * the last component only), one inotify watch per distinct directory, and
 * one entry per matched file, sorted by path. Each file entry keeps its
 * last good groups, a hash of the bytes it last read, and its current
 * failure. The provider's group set is the concatenation of the files'
 * groups, rebuilt (copied) only when some file's groups changed, which is
 * also when the version counter moves.
 *
 * A refresh re-lists every pattern's directory, reads every matched file
 * (at most DISC_FILE_SD_MAX_BYTES), and parses only those whose bytes
 * changed (so an unchanged file costs a read and a hash, and is not logged
 * again). A file that fails to read or parse keeps its last good groups
 * (none if it never parsed); a file that vanished loses them; a directory
 * that cannot be listed (other than missing) keeps its files as they were.
 *
 * Watching. Directories, not files, are watched: a file replaced by rename
 * (editors, `mv tmp x.json`, Kubernetes ConfigMap symlink swaps) is an
 * event in its directory, and files that appear later are seen too. Events
 * whose name matches one of the directory's globs, events on the directory
 * itself and queue overflows make the next disc_file_sd_poll refresh.
 * Directories that do not exist yet are retried every second; anything
 * inotify misses (network filesystems, a missing inotify) is caught by the
 * refresh interval. A file written in place may be read half-written: that
 * read fails or parses to other groups, and the write's next event (at
 * least IN_CLOSE_WRITE) reads it again.
 *
 * No thread and no blocking: the caller polls the inotify descriptor with
 * disc_file_sd_timeout_ms and calls disc_file_sd_poll. Time is
 * CLOCK_MONOTONIC. The parser is file_sd_parse.c.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fsio.h"
#include "base/hmap.h"
#include "base/log.h"
#include "discovery/file_sd.h"

#define WATCH_RETRY_MS 1000
#define WATCH_MASK                                                             \
    (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |      \
     IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct watch {
    char *dir;
    int wd; /* -1 while the directory cannot be watched */
};

struct pattern {
    char *dir;  /* "." for a pattern without '/' */
    char *glob; /* the last component */
    size_t watch;
    bool list_failed; /* in the current refresh */
};

struct sd_file {
    char *path;
    size_t pattern;
    struct disc_group_set groups; /* last good */
    bool read;                    /* hash and len are set */
    uint64_t hash;
    size_t len;
    struct kb_err err; /* of the last read; KB_OK when good */
};

struct disc_file_sd {
    struct pattern *patterns;
    size_t n_patterns;
    struct watch *watches;
    size_t n_watches;
    int fd;
    int64_t refresh_ms;
    int64_t next_refresh; /* monotonic ms */
    int64_t next_retry;   /* monotonic ms; INT64_MAX when all watched */
    bool dirty;           /* an event asked for a refresh */

    struct sd_file **files; /* sorted by path */
    size_t n_files;

    struct disc_group_set groups;
    uint64_t version;
    struct kb_err last_err;
    uint64_t read_errors;
    bool too_many_logged;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether `name` matches `glob`, where '*' matches any run of characters
 * (the names come from one directory, so there is no '/'). Iterative, with
 * one backtrack point: linear in practice, quadratic at worst. */
static bool glob_match(const char *glob, const char *name)
{
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*glob == '*') {
            star = glob++;
            resume = name;
        } else if (*glob == *name) {
            glob++;
            name++;
        } else if (star != NULL) {
            glob = star + 1;
            name = ++resume;
        } else {
            return false;
        }
    }
    while (*glob == '*')
        glob++;
    return *glob == '\0';
}

static void file_free(struct sd_file *f)
{
    if (f == NULL)
        return;
    disc_group_set_clear(&f->groups);
    free(f->path);
    free(f);
}

static enum kb_status add_pattern(struct disc_file_sd *sd, const char *pat,
                                  struct kb_err *err)
{
    enum disc_file_format fmt;
    size_t n = strlen(pat);
    if (n == 0)
        return kb_errf(err, KB_ERR_INVALID, "empty file_sd pattern");
    if (n >= KB_PATH_MAX)
        return kb_errf(err, KB_ERR_LIMIT,
                       "file_sd pattern longer than %d "
                       "bytes",
                       KB_PATH_MAX - 1);
    const char *slash = strrchr(pat, '/');
    const char *star = strchr(pat, '*');
    if (star != NULL && slash != NULL && star < slash)
        return kb_errf(err, KB_ERR_INVALID,
                       "%s: '*' is allowed in the last path component only",
                       pat);
    if (disc_file_format_of(pat, &fmt, err) != KB_OK)
        return err ? err->status : KB_ERR_INVALID;
    if (slash != NULL && slash[1] == '\0')
        return kb_errf(err, KB_ERR_INVALID, "%s: names a directory", pat);

    struct pattern *p = &sd->patterns[sd->n_patterns++];
    if (slash == NULL) {
        p->dir = kb_strdup(".");
        p->glob = kb_strdup(pat);
    } else {
        p->dir = slash == pat ? kb_strdup("/") : kb_strndup(pat, slash - pat);
        p->glob = kb_strdup(slash + 1);
    }
    for (p->watch = 0; p->watch < sd->n_watches; p->watch++)
        if (strcmp(sd->watches[p->watch].dir, p->dir) == 0)
            break;
    if (p->watch == sd->n_watches) {
        struct watch *w = &sd->watches[sd->n_watches++];
        w->dir = kb_strdup(p->dir);
        w->wd = -1;
    }
    return KB_OK;
}

/* Watch every directory that is not watched yet; returns whether one was
 * added (its files may have appeared unseen). */
static bool add_watches(struct disc_file_sd *sd)
{
    bool added = false, missing = false;
    for (size_t i = 0; sd->fd >= 0 && i < sd->n_watches; i++) {
        struct watch *w = &sd->watches[i];
        if (w->wd >= 0)
            continue;
        w->wd = inotify_add_watch(sd->fd, w->dir, WATCH_MASK);
        if (w->wd >= 0)
            added = true;
        else
            missing = true;
    }
    sd->next_retry = missing ? mono_ms() + WATCH_RETRY_MS : INT64_MAX;
    return added;
}

/* Full paths of the regular files matched by pattern `pi`, appended. */
static void list_pattern(struct disc_file_sd *sd, size_t pi, char ***paths,
                         size_t *n, size_t *cap)
{
    struct pattern *p = &sd->patterns[pi];
    p->list_failed = false;
    DIR *d = opendir(p->dir);
    if (d == NULL) {
        if (errno != ENOENT && errno != ENOTDIR) {
            p->list_failed = true;
            log_warn("discovery", "file_sd: cannot list directory", "dir",
                     p->dir, "err", strerror(errno), NULL);
        }
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            !glob_match(p->glob, de->d_name))
            continue;
        char path[KB_PATH_MAX];
        struct stat stt;
        if (strcmp(p->dir, ".") == 0)
            snprintf(path, sizeof(path), "%s", de->d_name);
        else if (kb_path_join(path, strcmp(p->dir, "/") ? p->dir : "",
                              de->d_name, NULL) != KB_OK)
            continue;
        if (stat(path, &stt) != 0 || !S_ISREG(stt.st_mode))
            continue;
        *paths = kb_grow(*paths, cap, *n + 1, sizeof(**paths));
        (*paths)[(*n)++] = kb_strdup(path);
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_file(const void *a, const void *b)
{
    const struct sd_file *x = *(struct sd_file *const *)a;
    const struct sd_file *y = *(struct sd_file *const *)b;
    return strcmp(x->path, y->path);
}

static size_t pattern_of(const struct disc_file_sd *sd, const char *path)
{
    const char *slash = strrchr(path, '/');
    for (size_t i = 0; i < sd->n_patterns; i++) {
        const struct pattern *p = &sd->patterns[i];
        const char *base = slash ? slash + 1 : path;
        size_t dlen = slash ? (size_t)(slash - path) : 0;
        bool dir_ok = slash == NULL ? strcmp(p->dir, ".") == 0
                      : dlen == 0   ? strcmp(p->dir, "/") == 0
                                    : strlen(p->dir) == dlen &&
                                        memcmp(p->dir, path, dlen) == 0;
        if (dir_ok && glob_match(p->glob, base))
            return i;
    }
    return 0;
}

/* Read and, if its bytes changed, parse one file. Returns whether its
 * groups changed; *gone when the file vanished since it was listed. */
static bool read_file(struct disc_file_sd *sd, struct sd_file *f,
                      struct buf *data, bool *gone)
{
    struct kb_err err;
    enum disc_file_format fmt = DISC_FILE_JSON;
    *gone = false;
    buf_reset(data);
    enum kb_status st = kb_file_read(f->path, data, &err);
    if (st != KB_OK && access(f->path, F_OK) != 0 && errno == ENOENT) {
        *gone = true;
        return f->groups.n > 0;
    }
    if (st == KB_OK) {
        uint64_t h = kb_hash(data->data, data->len, 0);
        if (f->read && f->hash == h && f->len == data->len)
            return false;
        f->read = true;
        f->hash = h;
        f->len = data->len;
    } else {
        f->read = false;
    }

    bool changed = false;
    if (st == KB_OK)
        st = disc_file_format_of(f->path, &fmt, &err);
    if (st == KB_OK) {
        struct disc_group_set set = {0};
        st =
            disc_file_sd_parse(data->data, data->len, fmt, f->path, &set, &err);
        if (st == KB_OK) {
            changed = !disc_group_set_equal(&set, &f->groups);
            disc_group_set_clear(&f->groups);
            disc_group_set_move(&f->groups, &set);
        }
        if (st != KB_OK)
            kb_err_prefix(&err, "%s", f->path);
    }
    if (st == KB_OK) {
        if (f->err.status != KB_OK)
            log_info("discovery", "file_sd: file read fine again", "file",
                     f->path, NULL);
        kb_err_clear(&f->err);
        return changed;
    }
    sd->read_errors++;
    if (f->err.status == KB_OK || strcmp(f->err.msg, err.msg) != 0) {
        char ntargets[32];
        snprintf(ntargets, sizeof(ntargets), "%zu",
                 disc_group_set_targets(&f->groups));
        log_warn("discovery",
                 "file_sd: cannot use file, keeping its last good targets",
                 "file", f->path, "targets", ntargets, "err", err.msg, NULL);
    }
    f->err = err;
    return false;
}

/* Find the file entry for `path` in the old, sorted list from *pos on. */
static struct sd_file *take_old(struct sd_file **old, size_t n_old, size_t *pos,
                                const char *path)
{
    while (*pos < n_old && strcmp(old[*pos]->path, path) < 0)
        (*pos)++;
    if (*pos < n_old && strcmp(old[*pos]->path, path) == 0) {
        struct sd_file *f = old[*pos];
        old[(*pos)++] = NULL;
        return f;
    }
    return NULL;
}

static void refresh(struct disc_file_sd *sd)
{
    char **paths = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < sd->n_patterns; i++)
        list_pattern(sd, i, &paths, &n, &cap);
    if (n > 0)
        qsort(paths, n, sizeof(*paths), cmp_str);
    size_t u = 0; /* unique */
    for (size_t i = 0; i < n; i++) {
        if (u > 0 && strcmp(paths[u - 1], paths[i]) == 0)
            free(paths[i]);
        else
            paths[u++] = paths[i];
    }
    n = u;
    if (n > DISC_FILE_SD_MAX_FILES) {
        if (!sd->too_many_logged) {
            char count[32];
            snprintf(count, sizeof(count), "%zu", n);
            log_warn("discovery",
                     "file_sd: too many files, reading the first by path",
                     "files", count, NULL);
        }
        sd->too_many_logged = true;
        for (size_t i = DISC_FILE_SD_MAX_FILES; i < n; i++)
            free(paths[i]);
        n = DISC_FILE_SD_MAX_FILES;
    } else {
        sd->too_many_logged = false;
    }

    struct sd_file **old = sd->files;
    size_t n_old = sd->n_files, pos = 0;
    struct sd_file **files = kb_calloc(n + n_old + 1, sizeof(*files));
    size_t nf = 0;
    bool changed = false;
    struct buf data;
    buf_init(&data, DISC_FILE_SD_MAX_BYTES);
    for (size_t i = 0; i < n; i++) {
        struct sd_file *f = take_old(old, n_old, &pos, paths[i]);
        if (f == NULL) {
            f = kb_calloc(1, sizeof(*f));
            f->path = paths[i];
            f->pattern = pattern_of(sd, paths[i]);
            paths[i] = NULL;
        }
        bool gone;
        if (read_file(sd, f, &data, &gone))
            changed = true;
        if (gone)
            file_free(f);
        else
            files[nf++] = f;
        free(paths[i]);
    }
    buf_free(&data);
    free(paths);

    /* Old files no longer listed: gone, unless their directory could not
     * be listed this time. */
    for (size_t i = 0; i < n_old; i++) {
        struct sd_file *f = old[i];
        if (f == NULL)
            continue;
        if (sd->patterns[f->pattern].list_failed) {
            files[nf++] = f;
            continue;
        }
        if (f->groups.n > 0)
            changed = true;
        file_free(f);
    }
    free(old);
    if (nf > 1)
        qsort(files, nf, sizeof(*files), cmp_file);
    sd->files = files;
    sd->n_files = nf;

    kb_err_clear(&sd->last_err);
    for (size_t i = 0; i < nf; i++) {
        if (files[i]->err.status != KB_OK) {
            sd->last_err = files[i]->err;
            break;
        }
    }
    if (changed) {
        disc_group_set_clear(&sd->groups);
        for (size_t i = 0; i < nf; i++)
            for (size_t j = 0; j < files[i]->groups.n; j++)
                disc_group_set_add(&sd->groups,
                                   disc_group_dup(files[i]->groups.groups[j]));
        sd->version++;
    }
    sd->dirty = false;
    sd->next_refresh = mono_ms() + sd->refresh_ms;
}

enum kb_status disc_file_sd_new(const char *const *patterns, size_t n,
                                int64_t refresh_ms, struct disc_file_sd **out,
                                struct kb_err *err)
{
    enum kb_status st = KB_OK;
    *out = NULL;
    if (n > DISC_FILE_SD_MAX_PATTERNS)
        return kb_errf(err, KB_ERR_LIMIT, "more than %d file_sd patterns",
                       DISC_FILE_SD_MAX_PATTERNS);
    if (refresh_ms < 0)
        return kb_errf(err, KB_ERR_INVALID, "negative refresh_interval");
    struct disc_file_sd *sd = kb_calloc(1, sizeof(*sd));
    sd->patterns = kb_calloc(n + 1, sizeof(*sd->patterns));
    sd->watches = kb_calloc(n + 1, sizeof(*sd->watches));
    sd->refresh_ms = refresh_ms ? refresh_ms : DISC_FILE_SD_REFRESH_DEFAULT_MS;
    sd->fd = -1;
    for (size_t i = 0; i < n; i++) {
        st = add_pattern(sd, patterns[i], err);
        if (st != KB_OK)
            goto fail;
    }
    sd->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (sd->fd < 0)
        log_warn("discovery",
                 "file_sd: inotify unavailable, relying on refresh_interval",
                 "err", strerror(errno), NULL);
    add_watches(sd);
    refresh(sd);
    *out = sd;
    return KB_OK;

fail:
    disc_file_sd_free(sd);
    return st;
}

void disc_file_sd_free(struct disc_file_sd *sd)
{
    if (sd == NULL)
        return;
    if (sd->fd >= 0)
        close(sd->fd);
    for (size_t i = 0; i < sd->n_patterns; i++) {
        free(sd->patterns[i].dir);
        free(sd->patterns[i].glob);
    }
    for (size_t i = 0; i < sd->n_watches; i++)
        free(sd->watches[i].dir);
    for (size_t i = 0; i < sd->n_files; i++)
        file_free(sd->files[i]);
    free(sd->files);
    free(sd->patterns);
    free(sd->watches);
    disc_group_set_clear(&sd->groups);
    free(sd);
}

int disc_file_sd_fd(const struct disc_file_sd *sd)
{
    return sd->fd;
}

int disc_file_sd_timeout_ms(const struct disc_file_sd *sd)
{
    if (sd->dirty)
        return 0;
    int64_t due =
        sd->next_retry < sd->next_refresh ? sd->next_retry : sd->next_refresh;
    int64_t left = due - mono_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Whether an event on watch descriptor `wd` about `name` concerns us. */
static bool event_matters(const struct disc_file_sd *sd,
                          const struct inotify_event *ev)
{
    if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF |
                    IN_UNMOUNT))
        return true;
    if (ev->len == 0)
        return false;
    for (size_t i = 0; i < sd->n_patterns; i++) {
        const struct pattern *p = &sd->patterns[i];
        if (sd->watches[p->watch].wd == ev->wd && glob_match(p->glob, ev->name))
            return true;
    }
    return false;
}

static void drain_events(struct disc_file_sd *sd)
{
    char buffer[4096]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t r = read(sd->fd, buffer, sizeof(buffer));
        if (r <= 0)
            return; /* EAGAIN: drained (EINTR: the next poll goes on) */
        for (char *p = buffer; p < buffer + r;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                /* The directory went away or moved: watch it afresh. */
                for (size_t i = 0; i < sd->n_watches; i++) {
                    if (sd->watches[i].wd == ev->wd) {
                        if (!(ev->mask & IN_IGNORED))
                            inotify_rm_watch(sd->fd, ev->wd);
                        sd->watches[i].wd = -1;
                        sd->next_retry = 0;
                    }
                }
            }
            if (event_matters(sd, ev))
                sd->dirty = true;
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
}

bool disc_file_sd_poll(struct disc_file_sd *sd)
{
    uint64_t version = sd->version;
    if (sd->fd >= 0)
        drain_events(sd);
    int64_t now = mono_ms();
    if (now >= sd->next_retry && add_watches(sd))
        sd->dirty = true;
    if (sd->dirty || now >= sd->next_refresh)
        refresh(sd);
    return sd->version != version;
}

const struct disc_group_set *disc_file_sd_groups(const struct disc_file_sd *sd,
                                                 uint64_t *version)
{
    if (version != NULL)
        *version = sd->version;
    return &sd->groups;
}

const struct kb_err *disc_file_sd_last_error(const struct disc_file_sd *sd)
{
    return &sd->last_err;
}

uint64_t disc_file_sd_read_errors(const struct disc_file_sd *sd)
{
    return sd->read_errors;
}
