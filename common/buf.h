/* buf.h: the one growable byte buffer.
 *
 * `data` is never NULL after BUF_INIT (it points at a static "" until the
 * first append) and is always NUL-terminated. A buffer has a size cap
 * (`cap_max`, 0 = 1 GiB): an append that would pass it fails with ERR_LIMIT,
 * so runaway input (HTTP bodies, sandbox output) becomes an error instead of
 * growing without limit. The buffer owns `data`; buf_release frees it,
 * buf_detach hands it to the caller (who frees it with free()).
 */
#ifndef TALLY_COMMON_BUF_H
#define TALLY_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

typedef struct buf {
    char *data;     /* NUL-terminated contents */
    size_t len;     /* bytes used, not counting the NUL */
    size_t alloc;   /* bytes allocated; 0 while data points at the static "" */
    size_t cap_max; /* largest allowed len; 0 means 1 GiB */
} buf;

extern char buf_empty_[1];
#define BUF_INIT {buf_empty_, 0, 0, 0}

void buf_init(buf *b, size_t cap_max);
/* Appends; returns 0, ERR_LIMIT (cap) or ERR_NOMEM. On failure the buffer is unchanged. */
int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Makes room for `n` more bytes without changing len. */
int buf_reserve(buf *b, size_t n);
/* Empties the buffer, keeps the allocation. */
void buf_reset(buf *b);
/* Shortens to `len` bytes (no-op if already shorter). */
void buf_truncate(buf *b, size_t len);
/* Frees the data; the buffer is BUF_INIT again (cap kept). */
void buf_release(buf *b);
/* Returns the malloc'd data (caller frees) and resets the buffer. Never NULL unless out of memory. */
char *buf_detach(buf *b, size_t *len_out);

#endif
