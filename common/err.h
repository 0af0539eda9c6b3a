/* err.h: the one error type of tally.
 *
 * Library code returns 0 on success or a negative ERR_* code, and fills a
 * caller-owned `err` with a one-line message that names the place (file:line,
 * option, offset, HTTP status) and the cause. Only harness/ prints messages.
 *
 *   err e = ERR_INIT;
 *   if (gguf_open(&g, path, &e) < 0) { fprintf(stderr, "tally: %s\n", e.msg); ... }
 *
 * A failure site is one line:
 *   return err_set(e, ERR_PARSE, "%s:%zu: \"answer\" is not a string", path, line);
 *
 * `e` may be NULL everywhere: the code is still returned, the message dropped.
 * Codes are never renumbered; add new ones at the end.
 */
#ifndef TALLY_COMMON_ERR_H
#define TALLY_COMMON_ERR_H

#include <stdarg.h>

enum err_code {
    ERR_OK = 0,
    ERR_NOMEM = -1,       /* an allocation failed */
    ERR_IO = -2,          /* a system call on a file or socket failed */
    ERR_PARSE = -3,       /* malformed text input (JSON, JSONL, options) */
    ERR_INVALID = -4,     /* a value out of range or an argument that makes no sense */
    ERR_NOTFOUND = -5,    /* a file, key, item or model that does not exist */
    ERR_FORMAT = -6,      /* a corrupt or hostile binary file (GGUF) */
    ERR_LIMIT = -7,       /* a size cap was hit (buffer cap, output cap) */
    ERR_UNSUPPORTED = -8, /* valid input we do not handle (an unknown quant type) */
    ERR_HTTP = -9,        /* a server answered with an error */
    ERR_TIMEOUT = -10,    /* a deadline passed */
    ERR_CHECKSUM = -11,   /* a sha256 did not match its pinned value */
    ERR_MISMATCH = -12,   /* settings differ from a stored manifest */
    ERR_INTERRUPTED = -13,/* a signal asked us to stop */
    ERR_SANDBOX = -14,    /* the sandbox could not be set up */
    ERR_USAGE = -15,      /* a command-line usage error (exit status 2) */
    ERR_INTERNAL = -16,   /* a bug of ours caught at run time */
};

#define ERR_MSG_SIZE 1024

typedef struct err {
    int code;               /* 0 or an ERR_* value */
    char msg[ERR_MSG_SIZE]; /* NUL-terminated one-line message */
} err;

#define ERR_INIT {0, {0}}

/* Fills `e` (if not NULL) and returns `code`. The message is truncated to fit. */
int err_set(err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int err_vset(err *e, int code, const char *fmt, va_list ap);

/* Puts "<context>: " in front of the current message; returns e->code (or ERR_INTERNAL). */
int err_prefix(err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets ERR_IO with "<what>: strerror(errno)"; call right after the failing call. */
int err_errno(err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets `e` to ERR_INIT. */
void err_clear(err *e);

/* A short name for a code ("parse error", ...). Never NULL. */
const char *err_code_name(int code);

#endif
