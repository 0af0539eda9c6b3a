/* ustr.h: Python 3 `str` semantics on UTF-8 bytes, for the IFEval checkers.
 *
 * The IFEval reference is Python: `strip()`, `split()`, `lower()`,
 * `isupper()`, `islower()` and the regex classes `\w`, `\d`, `\s` are
 * Unicode-aware there (SCORING.md 0.2). This module reproduces them through
 * libutf8proc's character database, never the C locale:
 *
 *   - whitespace is Python's `str.isspace()` set (P-ws);
 *   - `\w` is a letter (L*), a number (N*) or `_`, which is exactly Python's
 *     `str.isalnum()` plus `_` (checked over all code points against
 *     Python 3.11 / Unicode 14);
 *   - upper/lower case are the Unicode Uppercase/Lowercase properties
 *     (Lu/Ll plus the Other_Uppercase/Other_Lowercase ranges below);
 *   - `lower()` is the full lower-case mapping: the simple mapping, U+0130
 *     -> "i" U+0307, and the Final_Sigma rule for U+03A3.
 *
 * Text is handled as (pointer, byte length). The decoder never reads past
 * the length and turns each byte of an invalid sequence into U+FFFD, so bad
 * input cannot crash it; ustr_sanitize rewrites a whole text that way once,
 * so that PCRE2 (in UTF mode) and the offsets of every later step agree.
 * Functions that produce text append to a caller-owned buf.
 */
#ifndef TALLY_SCORERS_IFEVAL_USTR_H
#define TALLY_SCORERS_IFEVAL_USTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/utf8.h"

#define USTR_REPLACEMENT 0xFFFDu

/* Decodes the code point at s[*i] (i < n) and advances *i past it; an
 * invalid sequence (strict UTF-8: no overlongs, no surrogates) gives
 * U+FFFD for its first byte alone. */
static inline uint32_t ustr_next(const char *s, size_t n, size_t *i)
{
    uint32_t c = 0;
    size_t len = utf8_decode(s + *i, n - *i, 0, &c);
    if (!len) {
        *i += 1;
        return USTR_REPLACEMENT;
    }
    *i += len;
    return c;
}

/* Decodes the code point that ends right before s[*i] (*i > 0, valid UTF-8)
 * and moves *i back to its first byte. */
uint32_t ustr_prev(const char *s, size_t *i);

/* Appends the UTF-8 encoding of `c`; 0 or a buf error. */
int ustr_put(buf *b, uint32_t c);
/* Encodes `c` into out[0..4); returns the byte count. */
size_t ustr_encode(uint32_t c, char out[4]);

/* Appends s[0..n) to `out` with every invalid UTF-8 byte replaced by U+FFFD. */
int ustr_sanitize(buf *out, const char *s, size_t n);
/* True when s[0..n) is valid UTF-8 (no surrogates, no overlongs). */
bool ustr_valid(const char *s, size_t n);

/* Character classes with Python's meaning (one code point). */
bool ustr_isspace(uint32_t c);    /* str.isspace(), regex \s */
bool ustr_isalnum(uint32_t c);    /* str.isalnum() */
bool ustr_isword(uint32_t c);     /* regex \w: isalnum or '_' */
bool ustr_isdecimal(uint32_t c);  /* regex \d: category Nd */
bool ustr_isupper_cp(uint32_t c); /* Uppercase property */
bool ustr_islower_cp(uint32_t c); /* Lowercase property */
bool ustr_istitle_cp(uint32_t c); /* category Lt */
bool ustr_iscased(uint32_t c);
bool ustr_is_case_ignorable(uint32_t c);

/* Python `s.strip()`: the bounds [*b, *e) of s[0..n) without leading and
 * trailing whitespace. */
void ustr_strip(const char *s, size_t n, size_t *b, size_t *e);
/* True when s[0..n) is empty or all whitespace (`not s.strip()`). */
bool ustr_is_blank(const char *s, size_t n);
/* Bounds of the first whitespace-separated piece of s[0..n) (`s.split()[0]`);
 * false when there is none. */
bool ustr_first_field(const char *s, size_t n, size_t *b, size_t *e);

/* Python `s.isupper()` / `s.islower()`: at least one cased character and
 * none of the other case (title case counts as neither). */
bool ustr_isupper(const char *s, size_t n);
bool ustr_islower(const char *s, size_t n);

/* Appends Python `s.lower()` of s[0..n). */
int ustr_lower(buf *out, const char *s, size_t n);
/* Appends the lower case of one code point as Python's `ch.lower()` does
 * for a one-character string (no Final_Sigma context). */
int ustr_lower_cp(buf *out, uint32_t c);

/* Number of maximal runs of `\w` (nltk RegexpTokenizer(r"\w+")). */
size_t ustr_count_words(const char *s, size_t n);

/* Number of code points in s[0..n). */
size_t ustr_length(const char *s, size_t n);

#endif
