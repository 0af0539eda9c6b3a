/* pyre.c: PCRE2 driven with Python re's compile options and match scanning. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pyre.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct pyre {
    pcre2_code *code;
};

/* Backtracking budget per match: far above anything the IFEval patterns
 * need on a 1280-token answer, low enough that a hostile subject ends in
 * ERR_LIMIT instead of minutes of work. */
#define PYRE_MATCH_LIMIT 20000000u

int pyre_compile(pyre **out, const char *pattern, unsigned flags, err *e)
{
    *out = NULL;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP;
    if (flags & PYRE_IGNORECASE) opts |= PCRE2_CASELESS;
    if (flags & PYRE_MULTILINE) opts |= PCRE2_MULTILINE;
    if (flags & PYRE_LITERAL)
        opts = (opts & ~(uint32_t)PCRE2_UCP) | PCRE2_LITERAL; /* UCP is refused with LITERAL */
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) return err_set(e, ERR_NOMEM, "out of memory");
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    pcre2_set_bsr(cc, PCRE2_BSR_ANYCRLF);
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ecode, &eoff, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        return err_set(e, ERR_INVALID, "regex \"%.200s\": %s at offset %zu", pattern, (char *)msg,
                       (size_t)eoff);
    }
    /* JIT is an optimisation only: without it the interpreter gives the same matches */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    pyre *re = malloc(sizeof *re);
    if (!re) {
        pcre2_code_free(code);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    re->code = code;
    *out = re;
    return 0;
}

void pyre_free(pyre *re)
{
    if (!re) return;
    pcre2_code_free(re->code);
    free(re);
}

int pyre_scan_init(pyre_scan *sc, err *e)
{
    sc->md = pcre2_match_data_create(32, NULL);
    sc->mc = pcre2_match_context_create(NULL);
    if (!sc->md || !sc->mc) {
        pyre_scan_release(sc);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    pcre2_set_match_limit(sc->mc, PYRE_MATCH_LIMIT);
    return 0;
}

void pyre_scan_release(pyre_scan *sc)
{
    if (sc->md) pcre2_match_data_free(sc->md);
    if (sc->mc) pcre2_match_context_free(sc->mc);
    sc->md = sc->mc = NULL;
}

int pyre_search(const pyre *re, pyre_scan *sc, const char *s, size_t n, size_t from,
                bool not_empty_at_start, size_t *ms, size_t *me, err *e)
{
    if (from > n) return 0;
    uint32_t opts = PCRE2_NO_UTF_CHECK;
    if (not_empty_at_start) opts |= PCRE2_NOTEMPTY_ATSTART;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, from, opts, sc->md, sc->mc);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return err_set(e, ERR_LIMIT, "regex backtracking limit reached on a %zu-byte text", n);
    if (rc == PCRE2_ERROR_NOMEMORY) return err_set(e, ERR_NOMEM, "out of memory");
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return err_set(e, ERR_INTERNAL, "regex match failed: %s", (char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
    if (ms) *ms = ov[0];
    if (me) *me = ov[1];
    return 1;
}

bool pyre_group(const pyre_scan *sc, unsigned g, size_t *gs, size_t *ge)
{
    if (g >= pcre2_get_ovector_count(sc->md)) return false;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
    if (ov[2 * g] == PCRE2_UNSET) return false;
    *gs = ov[2 * g];
    *ge = ov[2 * g + 1];
    return true;
}

int pyre_each(const pyre *re, pyre_scan *sc, const char *s, size_t n, pyre_match_fn fn, void *ctx,
              err *e)
{
    size_t pos = 0;
    bool must_advance = false; /* the last match was empty and ended at pos */
    while (pos <= n) {
        size_t ms, me;
        int rc = pyre_search(re, sc, s, n, pos, must_advance, &ms, &me, e);
        if (rc < 0) return rc;
        if (rc == 0) break;
        rc = fn(ctx, sc, ms, me);
        if (rc < 0) return rc;
        if (rc > 0) break;
        must_advance = (me == ms);
        pos = me;
    }
    return 0;
}

static int count_one(void *ctx, const pyre_scan *sc, size_t ms, size_t me)
{
    (void)sc, (void)ms, (void)me;
    (*(size_t *)ctx)++;
    return 0;
}

int pyre_count(const pyre *re, pyre_scan *sc, const char *s, size_t n, size_t *count_out, err *e)
{
    *count_out = 0;
    return pyre_each(re, sc, s, n, count_one, count_out, e);
}

typedef struct sub_ctx {
    const char *s;
    const char *repl;
    buf *out;
    size_t done; /* subject bytes already copied */
} sub_ctx;

static int sub_one(void *ctx, const pyre_scan *sc, size_t ms, size_t me)
{
    sub_ctx *x = ctx;
    int rc = buf_append(x->out, x->s + x->done, ms - x->done);
    if (rc < 0) return rc;
    for (const char *r = x->repl; *r; r++) {
        if (*r != '$') {
            if ((rc = buf_putc(x->out, *r)) < 0) return rc;
            continue;
        }
        r++;
        if (*r == '$') {
            if ((rc = buf_putc(x->out, '$')) < 0) return rc;
            continue;
        }
        bool brace = *r == '{';
        if (brace) r++;
        unsigned g = 0;
        while (*r >= '0' && *r <= '9') g = g * 10 + (unsigned)(*r++ - '0');
        if (!brace) r--;
        size_t gs, ge;
        if (pyre_group(sc, g, &gs, &ge) && (rc = buf_append(x->out, x->s + gs, ge - gs)) < 0)
            return rc;
    }
    x->done = me;
    return 0;
}

int pyre_sub(const pyre *re, pyre_scan *sc, const char *s, size_t n, const char *repl, buf *out,
             err *e)
{
    sub_ctx x = {s, repl, out, 0};
    int rc = pyre_each(re, sc, s, n, sub_one, &x, e);
    if (rc == ERR_NOMEM || rc == ERR_LIMIT) {
        if (e && !e->code) err_set(e, rc, rc == ERR_NOMEM ? "out of memory" : "output too large");
        return rc;
    }
    if (rc < 0) return rc;
    rc = buf_append(out, s + x.done, n - x.done);
    if (rc < 0) return err_set(e, rc, "out of memory");
    return 0;
}
