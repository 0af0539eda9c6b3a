/* utf8.h: the one UTF-8 codec: encode a code point, decode one sequence under
 * a chosen validity policy, check a whole text or rewrite it as strict UTF-8.
 *
 * The layers differ on purpose in what they accept (llama.cpp's tokenizer
 * reads lead bytes by their bit pattern alone, Python strings hold encoded
 * surrogates, IFEval's str wants strict UTF-8); the flags below name each
 * difference, so that every caller states its policy and the decoding itself
 * is written once. What a caller does with an invalid sequence (replace it
 * with U+FFFD, pass the byte through, reject the text) stays with the caller;
 * utf8_sanitize is the U+FFFD case for a whole text. Nothing here reads past
 * the given length; only utf8_sanitize allocates (in the caller's buf).
 */
#ifndef TALLY_COMMON_UTF8_H
#define TALLY_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* utf8_decode policy flags; 0 is strict UTF-8 (RFC 3629). */
enum {
    /* encoded surrogates U+D800..U+DFFF decode (WTF-8, as Python strings hold them) */
    UTF8_SURROGATES = 1u << 0,
    /* no overlong and no past-U+10FFFF checks on the decoded value */
    UTF8_UNCHECKED = 1u << 1,
    /* lead bytes by their bit pattern alone (0xC0, 0xC1 and 0xF5..0xF7 too) */
    UTF8_ANY_LEAD = 1u << 2,
};
/* What llama.cpp's tokenizer decodes: the lead byte's pattern and well-formed
 * continuation bytes, nothing more. */
#define UTF8_LENIENT (UTF8_SURROGATES | UTF8_UNCHECKED | UTF8_ANY_LEAD)

/* Decodes the sequence at s[0..n) under `flags` into *cp and returns its
 * length (1 to 4); returns 0, leaving *cp alone, when n is 0 or the bytes do
 * not form a sequence the policy accepts. */
static inline size_t utf8_decode(const char *s, size_t n, unsigned flags, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!n) return 0;
    uint32_t c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    if (flags & UTF8_ANY_LEAD)
        len = c < 0xC0 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 0;
    else
        len = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c <= 0xF4 ? 4 : 0;
    if (!len || len > n) return 0;
    c &= 0x7Fu >> len;
    for (size_t k = 1; k < len; k++) {
        if ((u[k] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (u[k] & 0x3F);
    }
    if (!(flags & UTF8_UNCHECKED)) {
        uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (c < min || c > 0x10FFFF) return 0;
    }
    if (!(flags & UTF8_SURROGATES) && c >= 0xD800 && c <= 0xDFFF) return 0;
    *cp = c;
    return len;
}

/* Decodes the sequence that ends right before s[n] (n > 0): steps back over at
 * most three continuation bytes and decodes forward from there under `flags`.
 * Returns its length when one sequence ends exactly at n; else 0, leaving *cp
 * alone (the caller then takes s[n - 1] as a byte of its own). */
static inline size_t utf8_decode_last(const char *s, size_t n, unsigned flags, uint32_t *cp)
{
    size_t start = n - 1;
    while (start > 0 && n - start < 4 && ((unsigned char)s[start] & 0xC0) == 0x80) start--;
    uint32_t c = 0;
    if (utf8_decode(s + start, n - start, flags, &c) != n - start) return 0;
    *cp = c;
    return n - start;
}

/* Python's str.isspace() for one code point (the P-ws set: bidi classes WS,
 * B, S and category Zs), which is also what str.strip() and split() remove. */
static inline bool utf8_is_pyspace(uint32_t cp)
{
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Encodes cp into out[0..4) and returns the byte count. Every value below
 * 2^21 gets the form its size asks for, surrogates included; callers that
 * need Unicode scalar values check before. */
size_t utf8_encode(char *out, uint32_t cp);

/* True when s[0..n) is strict UTF-8 (no overlongs, no surrogates, nothing
 * past U+10FFFF); NUL bytes count as valid. */
bool utf8_valid(const char *s, size_t n);

/* Appends s[0..n) to `out` with every byte that does not start a strict UTF-8
 * sequence replaced by U+FFFD (one per byte), and every NUL too when
 * `replace_nul`. 0 or a buf error (ERR_NOMEM, ERR_LIMIT). */
int utf8_sanitize(buf *out, const char *s, size_t n, bool replace_nul);

#endif
