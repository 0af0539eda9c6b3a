/* buf.c: growable buffer with a cap. */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf_empty_[1];

#define DEFAULT_CAP ((size_t)1 << 30)

void buf_init(buf *b, size_t cap_max)
{
    b->data = buf_empty_;
    b->len = 0;
    b->alloc = 0;
    b->cap_max = cap_max;
}

static size_t cap_of(const buf *b)
{
    return b->cap_max ? b->cap_max : DEFAULT_CAP;
}

int buf_reserve(buf *b, size_t n)
{
    if (n > cap_of(b) || b->len > cap_of(b) - n) return ERR_LIMIT;
    size_t need = b->len + n + 1;
    if (need <= b->alloc) return 0;
    size_t na = b->alloc ? b->alloc : 64;
    while (na < need) {
        if (na > SIZE_MAX / 2) return ERR_NOMEM;
        na *= 2;
    }
    char *nd = b->alloc ? realloc(b->data, na) : malloc(na);
    if (!nd) return ERR_NOMEM;
    if (!b->alloc) nd[0] = 0;
    b->data = nd;
    b->alloc = na;
    return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int buf_puts(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return ERR_INVALID;
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->alloc) b->data[0] = 0;
}

void buf_truncate(buf *b, size_t len)
{
    if (len >= b->len) return;
    b->len = len;
    b->data[len] = 0;
}

void buf_release(buf *b)
{
    if (b->alloc) free(b->data);
    buf_init(b, b->cap_max);
}

char *buf_detach(buf *b, size_t *len_out)
{
    char *d;
    if (b->alloc) {
        d = b->data;
    } else {
        d = malloc(1);
        if (!d) return NULL;
        d[0] = 0;
    }
    if (len_out) *len_out = b->len;
    buf_init(b, b->cap_max);
    return d;
}
