/* fileio.c: files the safe way. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int file_read_all(const char *path, buf *out, err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_errno(e, "%s: cannot open", path);
    }
    int ret = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if (buf_reserve(out, (size_t)st.st_size) < 0) {
            ret = err_set(e, ERR_LIMIT, "%s: file too large (%lld bytes)", path,
                          (long long)st.st_size);
            goto out;
        }
    }
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            ret = err_errno(e, "%s: read failed", path);
            goto out;
        }
        if (n == 0) break;
        int rc = buf_append(out, chunk, (size_t)n);
        if (rc < 0) {
            ret = err_set(e, rc, "%s: file too large for its buffer", path);
            goto out;
        }
    }
out:
    close(fd);
    return ret;
}

int file_read_gz(const char *path, buf *out, err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_errno(e, "%s: cannot open", path);
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return err_set(e, ERR_NOMEM, "%s: cannot start gzip reader", path);
    }
    int ret = 0;
    char chunk[65536];
    for (;;) {
        int n = gzread(gz, chunk, sizeof chunk);
        if (n < 0) {
            int zerr;
            const char *m = gzerror(gz, &zerr);
            ret = err_set(e, ERR_FORMAT, "%s: gzip data is corrupt (%s)", path, m);
            break;
        }
        if (n == 0) {
            /* a truncated gzip stream reads as a clean EOF; gzerror tells */
            int zerr = Z_OK;
            const char *m = gzerror(gz, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                ret = err_set(e, ERR_FORMAT, "%s: gzip data is corrupt (%s)", path, m);
            break;
        }
        int rc = buf_append(out, chunk, (size_t)n);
        if (rc < 0) {
            ret = err_set(e, rc, "%s: decompressed data too large", path);
            break;
        }
    }
    gzclose(gz);
    return ret;
}

int file_read_maybe_gz(const char *path, buf *out, err *e)
{
    size_t n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0) return file_read_gz(path, out, e);
    return file_read_all(path, out, e);
}

static int fsync_dir_of(const char *path)
{
    char *tmp = strdup(path);
    if (!tmp) return -1;
    const char *dir = dirname(tmp);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(tmp);
    if (fd < 0) return -1;
    fsync(fd);
    close(fd);
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t n, err *e)
{
    buf tmp = BUF_INIT;
    int ret = 0, fd = -1;
    if (buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        ret = err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = err_errno(e, "%s: cannot create", tmp.data);
        goto out;
    }
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            ret = err_errno(e, "%s: write failed", tmp.data);
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) < 0) {
        ret = err_errno(e, "%s: fsync failed", tmp.data);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp.data, path) < 0) {
        ret = err_errno(e, "%s: rename failed", path);
        goto out;
    }
    fsync_dir_of(path);
out:
    if (fd >= 0) close(fd);
    if (ret < 0 && tmp.len) unlink(tmp.data);
    buf_release(&tmp);
    return ret;
}

int file_open_append(const char *path, err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return err_errno(e, "%s: cannot open for appending", path);
    return fd;
}

int file_append(int fd, const void *data, size_t n, const char *path_for_msg, err *e)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return err_errno(e, "%s: append failed", path_for_msg ? path_for_msg : "file");
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int dir_create(const char *path, err *e)
{
    if (!path || !*path) return err_set(e, ERR_INVALID, "empty directory name");
    char *tmp = strdup(path);
    if (!tmp) return err_set(e, ERR_NOMEM, "out of memory");
    int ret = 0;
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
                ret = err_errno(e, "%s: cannot create directory", tmp);
                break;
            }
            *p = c;
            if (!c) break;
        }
    }
    if (ret == 0 && !dir_exists(path))
        ret = err_set(e, ERR_IO, "%s: exists and is not a directory", path);
    free(tmp);
    return ret;
}

int64_t file_size(const char *path, err *e)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT) return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_errno(e, "%s: cannot stat", path);
    }
    return (int64_t)st.st_size;
}

line_iter line_iter_start(const char *text, size_t len)
{
    line_iter it = {text, text + len, 0, false};
    return it;
}

bool line_iter_next(line_iter *it, const char **line, size_t *len)
{
    if (it->p >= it->end) return false;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    *line = it->p;
    it->lineno++;
    if (nl) {
        *len = (size_t)(nl - it->p);
        it->p = nl + 1;
        it->last_unterminated = false;
    } else {
        *len = (size_t)(it->end - it->p);
        it->p = it->end;
        it->last_unterminated = true;
    }
    return true;
}

int path_join(buf *out, const char *a, const char *b)
{
    buf_reset(out);
    size_t la = strlen(a);
    int rc = buf_append(out, a, la);
    if (!rc && la && a[la - 1] != '/') rc = buf_putc(out, '/');
    if (!rc) rc = buf_puts(out, b[0] == '/' && la ? b + 1 : b);
    return rc;
}

/* ---- streamed atomic writes ---- */

int file_atomic_open(file_atomic *f, const char *path, err *e)
{
    *f = (file_atomic)FILE_ATOMIC_INIT;
    buf tmp = BUF_INIT;
    if (buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0 || !(f->path = strdup(path))) {
        buf_release(&tmp);
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    f->tmp = buf_detach(&tmp, NULL);
    if (!f->tmp) {
        file_atomic_abort(f);
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int rc = err_errno(e, "%s: cannot create", f->tmp);
        free(f->tmp);
        free(f->path);
        *f = (file_atomic)FILE_ATOMIC_INIT;
        return rc;
    }
    return 0;
}

int file_atomic_write(file_atomic *f, const void *data, size_t n, err *e)
{
    if (f->fd < 0) return err_set(e, ERR_INVALID, "file_atomic_write: file is not open");
    const char *p = data;
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return err_errno(e, "%s: write failed", f->tmp);
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int file_atomic_commit(file_atomic *f, err *e)
{
    if (f->fd < 0) return err_set(e, ERR_INVALID, "file_atomic_commit: file is not open");
    int ret = 0;
    if (fsync(f->fd) < 0) {
        ret = err_errno(e, "%s: fsync failed", f->tmp);
    } else if (close(f->fd) < 0) {
        f->fd = -1;
        ret = err_errno(e, "%s: close failed", f->tmp);
    } else {
        f->fd = -1;
        if (rename(f->tmp, f->path) < 0) {
            ret = err_errno(e, "%s: rename failed", f->path);
        } else {
            fsync_dir_of(f->path);
            free(f->tmp);
            f->tmp = NULL;
        }
    }
    file_atomic_abort(f);
    return ret;
}

void file_atomic_abort(file_atomic *f)
{
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    *f = (file_atomic)FILE_ATOMIC_INIT;
}
