/* fsx.c — atomic file writes and staged multi-file commits. */
#include "harness/fsx.h"
#include "harness/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *hml_path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/') na--;
    char *p = hml_malloc(na + nb + 2);
    if (!p) return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

bool hml_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool hml_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static enum hml_status io_fail(struct hml_error *err, const char *what, const char *path)
{
    int e = errno;
    hml_fail(err, HML_EIO, "fs", "cannot %s '%s': %s", what, path, strerror(e));
    if (e == ENOSPC) return hml_hint(err, "the disk is full; free some space and retry");
    if (e == EACCES || e == EPERM || e == EROFS)
        return hml_hint(err, "check the permissions of '%s' and its directory", path);
    if (e == ENOENT) return hml_hint(err, "check that the path exists");
    return hml_hint(err, "check the path and retry");
}

enum hml_status hml_mkdirs(const char *path, struct hml_error *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        hml_fail(err, HML_EINVAL, "fs", "path is empty or longer than %zu bytes", sizeof tmp - 1);
        return hml_hint(err, "use a shorter path");
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0) continue;
        char c = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return io_fail(err, "create directory", tmp);
        tmp[i] = c;
    }
    return HML_OK;
}

static void fsync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path ? slash - path : 1), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes data to a fresh temp file beside `path`; returns its name (caller frees). */
static enum hml_status write_temp(const char *path, const void *data, size_t n, char **tmp_out,
                                  struct hml_error *err)
{
    size_t len = strlen(path) + 32;
    char *tmp = hml_malloc(len);
    if (!tmp) return hml_fail(err, HML_ENOMEM, "fs", "out of memory");
    snprintf(tmp, len, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        enum hml_status rc = io_fail(err, "create temp file for", path);
        hml_free(tmp);
        return rc;
    }
    fchmod(fd, 0644);
    const unsigned char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto fail;
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) goto fail;
    if (close(fd) != 0) { fd = -1; goto fail; }
    *tmp_out = tmp;
    return HML_OK;
fail:;
    enum hml_status rc = io_fail(err, "write", path);
    if (fd >= 0) close(fd);
    unlink(tmp);
    hml_free(tmp);
    return rc;
}

enum hml_status hml_write_atomic(const char *path, const void *data, size_t n,
                                 struct hml_error *err)
{
    char *tmp = NULL;
    enum hml_status rc = write_temp(path, data, n, &tmp, err);
    if (rc) return rc;
    if (rename(tmp, path) != 0) {
        rc = io_fail(err, "replace", path);
        unlink(tmp);
    } else {
        fsync_dir_of(path);
    }
    hml_free(tmp);
    return rc;
}

enum hml_status hml_read_file(const char *path, size_t max_bytes, char **out, size_t *len_out,
                              struct hml_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            hml_fail(err, HML_ENOTFOUND, "fs", "file '%s' not found", path);
            return hml_hint(err, "check the path; relative paths are resolved from the project directory");
        }
        return io_fail(err, "open", path);
    }
    struct hml_buf_local { char *p; size_t len, cap; } b = {0};
    char chunk[65536];
    size_t got;
    enum hml_status rc = HML_OK;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + got > max_bytes) {
            hml_fail(err, HML_ELIMIT, "fs", "file '%s' is larger than %zu bytes", path, max_bytes);
            rc = hml_hint(err, "split the file or raise the limit");
            break;
        }
        if (b.len + got + 1 > b.cap) {
            size_t cap = b.cap ? b.cap * 2 : 65536;
            while (cap < b.len + got + 1) cap *= 2;
            char *p = hml_realloc(b.p, cap);
            if (!p) { rc = hml_fail(err, HML_ENOMEM, "fs", "out of memory reading '%s'", path); break; }
            b.p = p;
            b.cap = cap;
        }
        memcpy(b.p + b.len, chunk, got);
        b.len += got;
    }
    if (!rc && ferror(f)) rc = io_fail(err, "read", path);
    fclose(f);
    if (!rc && !b.p) {
        b.p = hml_malloc(1);
        if (!b.p) rc = hml_fail(err, HML_ENOMEM, "fs", "out of memory");
    }
    if (rc) {
        hml_free(b.p);
        return rc;
    }
    b.p[b.len] = 0;
    *out = b.p;
    if (len_out) *len_out = b.len;
    return HML_OK;
}

enum hml_status hml_copy_file(const char *src, const char *dst, struct hml_error *err)
{
    struct hml_txn *t = hml_txn_new();
    if (!t) return hml_fail(err, HML_ENOMEM, "fs", "out of memory");
    enum hml_status rc = hml_txn_copy(t, src, dst, err);
    if (!rc) rc = hml_txn_commit(t, err);
    hml_txn_free(t);
    return rc;
}

/* ---- staged multi-file commit ---------------------------------------------------- */

struct staged {
    char *path;    /* target                                   */
    char *tmp;     /* staged new content, NULL for a removal   */
    char *backup;  /* old content kept during commit, or NULL  */
    bool  done;    /* renamed into place                        */
};

struct hml_txn {
    struct staged *items;
    size_t n, cap;
    char **dirs; /* directories created while staging, removed on abort */
    size_t ndirs;
    bool committed;
};

struct hml_txn *hml_txn_new(void) { return hml_calloc(1, sizeof(struct hml_txn)); }

static enum hml_status push(struct hml_txn *t, const char *path, char *tmp, struct hml_error *err)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct staged *p = hml_realloc(t->items, cap * sizeof *p);
        if (!p) return hml_fail(err, HML_ENOMEM, "fs", "out of memory");
        t->items = p;
        t->cap = cap;
    }
    char *pc = hml_strdup(path);
    if (!pc) return hml_fail(err, HML_ENOMEM, "fs", "out of memory");
    t->items[t->n++] = (struct staged){.path = pc, .tmp = tmp};
    return HML_OK;
}

/* Creates missing parents of `path`, remembering each one made so abort can undo it. */
static enum hml_status make_parents(struct hml_txn *t, const char *path, struct hml_error *err)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir) return hml_fail(err, HML_EINVAL, "fs", "path too long: '%s'", path);
    memcpy(dir, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (dir[i] != '/') continue;
        dir[i] = 0;
        if (mkdir(dir, 0777) == 0) {
            char **d = hml_realloc(t->dirs, (t->ndirs + 1) * sizeof *d);
            char *copy = hml_strdup(dir);
            if (!d || !copy) {
                hml_free(copy);
                if (d) t->dirs = d;
                rmdir(dir);
                return hml_fail(err, HML_ENOMEM, "fs", "out of memory");
            }
            t->dirs = d;
            t->dirs[t->ndirs++] = copy;
        } else if (errno != EEXIST) {
            return io_fail(err, "create directory", dir);
        }
        dir[i] = '/';
    }
    return HML_OK;
}

enum hml_status hml_txn_write(struct hml_txn *t, const char *path, const void *data, size_t n,
                              struct hml_error *err)
{
    enum hml_status rc = make_parents(t, path, err);
    if (rc) return rc;
    char *tmp = NULL;
    rc = write_temp(path, data, n, &tmp, err);
    if (rc) return rc;
    rc = push(t, path, tmp, err);
    if (rc) {
        unlink(tmp);
        hml_free(tmp);
    }
    return rc;
}

enum hml_status hml_txn_copy(struct hml_txn *t, const char *src, const char *path,
                             struct hml_error *err)
{
    int in = open(src, O_RDONLY);
    if (in < 0) {
        if (errno == ENOENT) {
            hml_fail(err, HML_ENOTFOUND, "fs", "file '%s' not found", src);
            return hml_hint(err, "check the path");
        }
        return io_fail(err, "open", src);
    }
    enum hml_status rc = make_parents(t, path, err);
    if (rc) { close(in); return rc; }
    size_t len = strlen(path) + 32;
    char *tmp = hml_malloc(len);
    if (!tmp) { close(in); return hml_fail(err, HML_ENOMEM, "fs", "out of memory"); }
    snprintf(tmp, len, "%s.tmp.XXXXXX", path);
    int out = mkstemp(tmp);
    if (out < 0) {
        rc = io_fail(err, "create temp file for", path);
        close(in);
        hml_free(tmp);
        return rc;
    }
    fchmod(out, 0644);
    static _Thread_local char chunk[1 << 16];
    ssize_t got;
    while ((got = read(in, chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) { rc = io_fail(err, "read", src); break; }
        for (ssize_t off = 0; off < got;) {
            ssize_t w = write(out, chunk + off, (size_t)(got - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { rc = io_fail(err, "write", path); break; }
            off += w;
        }
        if (rc) break;
    }
    if (!rc && fsync(out) != 0) rc = io_fail(err, "write", path);
    close(in);
    if (close(out) != 0 && !rc) rc = io_fail(err, "write", path);
    if (!rc) rc = push(t, path, tmp, err);
    if (rc) {
        unlink(tmp);
        hml_free(tmp);
    }
    return rc;
}

enum hml_status hml_txn_remove(struct hml_txn *t, const char *path, struct hml_error *err)
{
    return push(t, path, NULL, err);
}

static char *backup_name(const char *path)
{
    size_t len = strlen(path) + 16;
    char *b = hml_malloc(len);
    if (b) snprintf(b, len, "%s.bak~", path);
    return b;
}

/* Tests set HARNESS_FAIL_COMMIT_AT=k to make the k-th replacement of a commit
 * fail, which drives the rollback path that real disks reach only rarely. */
static size_t fail_commit_at(void)
{
    const char *e = getenv("HARNESS_FAIL_COMMIT_AT");
    return e ? (size_t)strtoul(e, NULL, 10) : 0;
}

enum hml_status hml_txn_commit(struct hml_txn *t, struct hml_error *err)
{
    enum hml_status rc = HML_OK;
    size_t i, fail_at = fail_commit_at();
    for (i = 0; i < t->n; i++) {
        struct staged *s = &t->items[i];
        if (fail_at == i + 1) {
            errno = EIO;
            rc = io_fail(err, "replace", s->path);
            break;
        }
        if (hml_path_exists(s->path)) {
            s->backup = backup_name(s->path);
            if (!s->backup) { rc = hml_fail(err, HML_ENOMEM, "fs", "out of memory"); break; }
            /* A hard link keeps the old version reachable without copying it. */
            unlink(s->backup);
            if (link(s->path, s->backup) != 0) {
                rc = io_fail(err, "back up", s->path);
                hml_free(s->backup);
                s->backup = NULL;
                break;
            }
        }
        int r = s->tmp ? rename(s->tmp, s->path) : unlink(s->path);
        if (r != 0 && !(s->tmp == NULL && errno == ENOENT)) {
            rc = io_fail(err, s->tmp ? "replace" : "remove", s->path);
            break;
        }
        s->done = true;
    }
    if (rc) {
        /* Roll back what already landed, newest first. */
        for (size_t j = i + 1; j-- > 0;) {
            struct staged *s = &t->items[j];
            if (s->backup) rename(s->backup, s->path);
            else if (s->done && s->tmp) unlink(s->path);
            s->done = false;
        }
        return rc;
    }
    for (i = 0; i < t->n; i++) {
        struct staged *s = &t->items[i];
        if (s->backup) unlink(s->backup);
        fsync_dir_of(s->path);
    }
    t->committed = true;
    return HML_OK;
}

void hml_txn_free(struct hml_txn *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        struct staged *s = &t->items[i];
        if (s->tmp && !s->done) unlink(s->tmp);
        hml_free(s->path);
        hml_free(s->tmp);
        hml_free(s->backup);
    }
    if (!t->committed)
        for (size_t k = t->ndirs; k-- > 0;) rmdir(t->dirs[k]);
    for (size_t k = 0; k < t->ndirs; k++) hml_free(t->dirs[k]);
    hml_free(t->dirs);
    hml_free(t->items);
    hml_free(t);
}
