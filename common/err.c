/* err.c: filling the error struct. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int err_vset(err *e, int code, const char *fmt, va_list ap)
{
    if (!e) return code;
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    /* one line: a message never carries a newline from interpolated input */
    for (char *p = e->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}

int err_set(err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int err_prefix(err *e, const char *fmt, ...)
{
    if (!e) return ERR_INTERNAL;
    char head[ERR_MSG_SIZE], old[ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", head, old);
    if (e->code == 0) e->code = ERR_INTERNAL;
    return e->code;
}

int err_errno(err *e, const char *fmt, ...)
{
    int saved = errno;
    if (!e) return ERR_IO;
    char head[ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    return err_set(e, ERR_IO, "%s: %s", head, strerror(saved));
}

void err_clear(err *e)
{
    if (!e) return;
    e->code = 0;
    e->msg[0] = 0;
}

const char *err_code_name(int code)
{
    switch (code) {
    case ERR_OK: return "ok";
    case ERR_NOMEM: return "out of memory";
    case ERR_IO: return "i/o error";
    case ERR_PARSE: return "parse error";
    case ERR_INVALID: return "invalid value";
    case ERR_NOTFOUND: return "not found";
    case ERR_FORMAT: return "corrupt file";
    case ERR_LIMIT: return "limit exceeded";
    case ERR_UNSUPPORTED: return "unsupported";
    case ERR_HTTP: return "http error";
    case ERR_TIMEOUT: return "timeout";
    case ERR_CHECKSUM: return "checksum mismatch";
    case ERR_MISMATCH: return "settings mismatch";
    case ERR_INTERRUPTED: return "interrupted";
    case ERR_SANDBOX: return "sandbox error";
    case ERR_USAGE: return "usage error";
    case ERR_INTERNAL: return "internal error";
    }
    return "error";
}
