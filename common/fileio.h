/* fileio.h: whole-file reads, atomic writes, appends, directories, lines.
 *
 * No half-written file ever has its final name: file_write_atomic writes a
 * temporary file beside the target, fsyncs it, renames it over the target
 * and fsyncs the directory. Appended logs (samples.jsonl) go through
 * file_append, which writes one whole record with a single write(2).
 *
 * Reads go into a caller-owned `buf` (see buf.h) whose cap bounds the size.
 */
#ifndef TALLY_COMMON_FILEIO_H
#define TALLY_COMMON_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Appends the whole file to `out`. A file larger than the buffer's cap is ERR_LIMIT. */
int file_read_all(const char *path, buf *out, err *e);
/* Appends the decompressed contents of a gzip file (or a plain file: zlib passes it through). */
int file_read_gz(const char *path, buf *out, err *e);
/* Reads a file, gunzipping when the name ends in ".gz". */
int file_read_maybe_gz(const char *path, buf *out, err *e);

/* Writes `n` bytes to `path` atomically (temp file, fsync, rename, fsync dir). */
int file_write_atomic(const char *path, const void *data, size_t n, err *e);

/* Opens `path` for appending (created 0644 if missing); returns an fd or a negative code. */
int file_open_append(const char *path, err *e);
/* Writes the whole record with one write(2) (retrying on partial writes). */
int file_append(int fd, const void *data, size_t n, const char *path_for_msg, err *e);

bool file_exists(const char *path);
bool dir_exists(const char *path);
/* mkdir -p with mode 0755. */
int dir_create(const char *path, err *e);
/* File size in bytes, or a negative code. */
int64_t file_size(const char *path, err *e);

/* Iterates over the lines of a text held in memory.
 *   line_iter it = line_iter_start(text, len);
 *   const char *l; size_t n;
 *   while (line_iter_next(&it, &l, &n)) { ... it.lineno is 1-based ... }
 * A final line without '\n' is returned too; `it.last_unterminated` tells. A
 * trailing '\r' is kept (callers decide). */
typedef struct line_iter {
    const char *p, *end;
    size_t lineno;
    bool last_unterminated;
} line_iter;

line_iter line_iter_start(const char *text, size_t len);
bool line_iter_next(line_iter *it, const char **line, size_t *len);

/* Joins two path parts with one '/'; result in `out` (reset first). */
int path_join(buf *out, const char *a, const char *b);

/* Streams a file into place atomically, for files too large to build in
 * memory (GGUF models): writes go to "<path>.tmp.<pid>"; file_atomic_commit
 * fsyncs it, renames it over `path` and fsyncs the directory;
 * file_atomic_abort (also safe after a commit or on FILE_ATOMIC_INIT)
 * removes the temporary file. The struct owns its strings until then.
 *   file_atomic f = FILE_ATOMIC_INIT;
 *   if (file_atomic_open(&f, path, e) < 0) ...
 *   if (file_atomic_write(&f, p, n, e) < 0) { file_atomic_abort(&f); ... }
 *   if (file_atomic_commit(&f, e) < 0) ...       // aborts by itself on failure */
typedef struct file_atomic {
    int fd;     /* -1 when closed */
    char *tmp;  /* temporary name (malloc'd) */
    char *path; /* final name (malloc'd) */
} file_atomic;

#define FILE_ATOMIC_INIT {-1, NULL, NULL}

int file_atomic_open(file_atomic *f, const char *path, err *e);
int file_atomic_write(file_atomic *f, const void *data, size_t n, err *e);
int file_atomic_commit(file_atomic *f, err *e);
void file_atomic_abort(file_atomic *f);

#endif
