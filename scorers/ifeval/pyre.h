/* pyre.h: Python `re` behaviour on top of PCRE2, for the IFEval checkers.
 *
 * Patterns are compiled with UTF + UCP (so \w, \d, \b are Unicode-aware as
 * in Python 3), LF as the only newline (Python's `.` and `$` only know
 * "\n"), and JIT when the platform has it. PCRE2's \s under UCP lacks
 * U+001C..U+001F, which Python's has: our own patterns spell whitespace as
 * PYRE_WS instead. Patterns that come from the dataset (keywords, section
 * splitters) are passed through unchanged, as the reference passes them to
 * `re` (SCORING.md 3.3).
 *
 * Scanning follows Python's rules for successive matches (`findall`,
 * `sub`, `split`): left to right, non-overlapping, an empty match allowed
 * right after a non-empty one, never two empty matches at one place.
 *
 * Ownership: pyre_compile returns a pattern the caller frees with
 * pyre_free; a pyre_scan (match data) is per thread and freed with
 * pyre_scan_release. Subjects must be valid UTF-8 (see ustr_sanitize).
 */
#ifndef TALLY_SCORERS_IFEVAL_PYRE_H
#define TALLY_SCORERS_IFEVAL_PYRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Python's \s (str.isspace()) as a PCRE2 character class body. */
#define PYRE_WS_BODY                                                                               \
    "\\t-\\r\\x1c-\\x20\\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}" \
    "\\x{3000}"
#define PYRE_WS     "[" PYRE_WS_BODY "]"
#define PYRE_NOT_WS "[^" PYRE_WS_BODY "]"

enum pyre_flags {
    PYRE_IGNORECASE = 1 << 0, /* re.IGNORECASE */
    PYRE_MULTILINE = 1 << 1,  /* re.MULTILINE: ^ and $ at every "\n" */
    PYRE_LITERAL = 1 << 2,    /* the pattern is a literal string (re.escape) */
};

typedef struct pyre pyre;

/* Match state reused across calls (PCRE2 match data and a match context). */
typedef struct pyre_scan {
    void *md; /* pcre2_match_data_8 * */
    void *mc; /* pcre2_match_context_8 * */
} pyre_scan;

#define PYRE_SCAN_INIT {NULL, NULL}

/* Compiles `pattern` (UTF-8, Python-compatible syntax). A syntax error is
 * ERR_INVALID with PCRE2's message and offset. */
int pyre_compile(pyre **out, const char *pattern, unsigned flags, err *e);
void pyre_free(pyre *re);

int pyre_scan_init(pyre_scan *sc, err *e);
void pyre_scan_release(pyre_scan *sc);

/* Looks for the first match at or after `from`. Returns 1 and sets
 * [*ms, *me) (NULL allowed) when found, 0 when not, or a negative code
 * (ERR_LIMIT when PCRE2's backtracking limit was hit). `not_empty_at_start`
 * forbids an empty match at `from`. */
int pyre_search(const pyre *re, pyre_scan *sc, const char *s, size_t n, size_t from,
                bool not_empty_at_start, size_t *ms, size_t *me, err *e);

/* Offsets of group `g` of the last successful match; false when unset. */
bool pyre_group(const pyre_scan *sc, unsigned g, size_t *gs, size_t *ge);

/* len(re.findall(pattern, s)). */
int pyre_count(const pyre *re, pyre_scan *sc, const char *s, size_t n, size_t *count_out, err *e);

/* Appends re.sub(pattern, repl, s) to `out`. `repl` uses PCRE2's syntax
 * ($1, ${2}, $0); an unset group is replaced by nothing, as in Python. */
int pyre_sub(const pyre *re, pyre_scan *sc, const char *s, size_t n, const char *repl, buf *out,
             err *e);

/* Calls fn(ctx, start, end) for every match, in order, as re.finditer would;
 * fn returns 0 to go on, 1 to stop, < 0 to fail. */
typedef int (*pyre_match_fn)(void *ctx, const pyre_scan *sc, size_t ms, size_t me);
int pyre_each(const pyre *re, pyre_scan *sc, const char *s, size_t n, pyre_match_fn fn, void *ctx,
              err *e);

#endif
