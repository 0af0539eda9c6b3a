/* ustr.c: Python str semantics (whitespace, case, \w, lower) over utf8proc. */
#include "ustr.h"

#include <string.h>
#include <utf8proc.h>

/* ---------------------------------------------------------------- coding */

uint32_t ustr_prev(const char *s, size_t *i)
{
    uint32_t c = 0;
    size_t len = utf8_decode_last(s, *i, 0, &c);
    if (!len) {
        /* not one well-formed sequence ending at *i: the last byte alone */
        *i -= 1;
        return USTR_REPLACEMENT;
    }
    *i -= len;
    return c;
}

size_t ustr_encode(uint32_t c, char out[4])
{
    return utf8_encode(out, c);
}

int ustr_put(buf *b, uint32_t c)
{
    char tmp[4];
    size_t k = ustr_encode(c, tmp);
    return buf_append(b, tmp, k);
}

bool ustr_valid(const char *s, size_t n)
{
    return utf8_valid(s, n);
}

int ustr_sanitize(buf *out, const char *s, size_t n)
{
    return utf8_sanitize(out, s, n, false);
}

/* ------------------------------------------------------------ properties */

bool ustr_isspace(uint32_t c)
{
    return utf8_is_pyspace(c);
}

bool ustr_isalnum(uint32_t c)
{
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c > 0x10FFFF) return false;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

bool ustr_isword(uint32_t c)
{
    return c == '_' || ustr_isalnum(c);
}

bool ustr_isdecimal(uint32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    if (c > 0x10FFFF) return false;
    return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}

typedef struct cp_range {
    uint32_t lo, hi;
} cp_range;

/* Characters that are Lowercase / Uppercase without being Ll / Lu
 * (PropList Other_Lowercase / Other_Uppercase), as Python 3.11's
 * str.islower()/isupper() see them (Unicode 14). */
static const cp_range other_lower[] = {
    {0x00AA, 0x00AA},   {0x00BA, 0x00BA},   {0x02B0, 0x02B8},   {0x02C0, 0x02C1},
    {0x02E0, 0x02E4},   {0x0345, 0x0345},   {0x037A, 0x037A},   {0x1D2C, 0x1D6A},
    {0x1D78, 0x1D78},   {0x1D9B, 0x1DBF},   {0x2071, 0x2071},   {0x207F, 0x207F},
    {0x2090, 0x209C},   {0x2170, 0x217F},   {0x24D0, 0x24E9},   {0x2C7C, 0x2C7D},
    {0xA69C, 0xA69D},   {0xA770, 0xA770},   {0xA7F8, 0xA7F9},   {0xAB5C, 0xAB5F},
    {0x10780, 0x10780}, {0x10783, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA},
};

static const cp_range other_upper[] = {
    {0x2160, 0x216F}, {0x24B6, 0x24CF}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

static bool in_ranges(const cp_range *r, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

static int category(uint32_t c)
{
    if (c > 0x10FFFF) return UTF8PROC_CATEGORY_CN;
    return utf8proc_category((utf8proc_int32_t)c);
}

bool ustr_isupper_cp(uint32_t c)
{
    if (c < 0x80) return c >= 'A' && c <= 'Z';
    return category(c) == UTF8PROC_CATEGORY_LU ||
           in_ranges(other_upper, sizeof other_upper / sizeof other_upper[0], c);
}

bool ustr_islower_cp(uint32_t c)
{
    if (c < 0x80) return c >= 'a' && c <= 'z';
    return category(c) == UTF8PROC_CATEGORY_LL ||
           in_ranges(other_lower, sizeof other_lower / sizeof other_lower[0], c);
}

bool ustr_istitle_cp(uint32_t c)
{
    if (c < 0x80) return false;
    return category(c) == UTF8PROC_CATEGORY_LT;
}

bool ustr_iscased(uint32_t c)
{
    return ustr_isupper_cp(c) || ustr_islower_cp(c) || ustr_istitle_cp(c);
}

bool ustr_is_case_ignorable(uint32_t c)
{
    switch (c) {
    /* Word_Break MidLetter, MidNumLet, Single_Quote */
    case 0x27:
    case 0x2E:
    case 0x3A:
    case 0xB7:
    case 0x387:
    case 0x55F:
    case 0x5F4:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xFE13:
    case 0xFE52:
    case 0xFE55:
    case 0xFF07:
    case 0xFF0E:
    case 0xFF1A:
        return true;
    default:
        break;
    }
    if (c < 0x80) return c == '^' || c == '`'; /* Sk */
    switch (category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------ strings */

void ustr_strip(const char *s, size_t n, size_t *b, size_t *e)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        uint32_t c = ustr_next(s, n, &j);
        if (!ustr_isspace(c)) break;
        i = j;
    }
    size_t k = n;
    while (k > i) {
        size_t j = k;
        uint32_t c = ustr_prev(s, &j);
        if (!ustr_isspace(c)) break;
        k = j;
    }
    *b = i;
    *e = k;
}

bool ustr_is_blank(const char *s, size_t n)
{
    size_t b, e;
    ustr_strip(s, n, &b, &e);
    return b == e;
}

bool ustr_first_field(const char *s, size_t n, size_t *b, size_t *e)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if (!ustr_isspace(ustr_next(s, n, &j))) break;
        i = j;
    }
    if (i == n) return false;
    size_t k = i;
    while (k < n) {
        size_t j = k;
        if (ustr_isspace(ustr_next(s, n, &j))) break;
        k = j;
    }
    *b = i;
    *e = k;
    return true;
}

bool ustr_isupper(const char *s, size_t n)
{
    bool cased = false;
    size_t i = 0;
    while (i < n) {
        uint32_t c = ustr_next(s, n, &i);
        if (ustr_islower_cp(c) || ustr_istitle_cp(c)) return false;
        if (!cased && ustr_isupper_cp(c)) cased = true;
    }
    return cased;
}

bool ustr_islower(const char *s, size_t n)
{
    bool cased = false;
    size_t i = 0;
    while (i < n) {
        uint32_t c = ustr_next(s, n, &i);
        if (ustr_isupper_cp(c) || ustr_istitle_cp(c)) return false;
        if (!cased && ustr_islower_cp(c)) cased = true;
    }
    return cased;
}

int ustr_lower_cp(buf *out, uint32_t c)
{
    if (c < 0x80) return buf_putc(out, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
    if (c == 0x130) { /* LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + COMBINING DOT ABOVE */
        int rc = buf_putc(out, 'i');
        return rc < 0 ? rc : ustr_put(out, 0x307);
    }
    if (c > 0x10FFFF) return ustr_put(out, c);
    return ustr_put(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

/* Python's Final_Sigma test for the U+03A3 at s[at..at+2): a cased letter
 * before it (skipping case-ignorable ones) and none after it. */
static bool final_sigma(const char *s, size_t n, size_t at)
{
    size_t j = at;
    bool before = false;
    while (j > 0) {
        uint32_t c = ustr_prev(s, &j);
        if (ustr_is_case_ignorable(c)) continue;
        before = ustr_iscased(c);
        break;
    }
    if (!before) return false;
    size_t k = at;
    ustr_next(s, n, &k);
    while (k < n) {
        uint32_t c = ustr_next(s, n, &k);
        if (ustr_is_case_ignorable(c)) continue;
        return !ustr_iscased(c);
    }
    return true;
}

int ustr_lower(buf *out, const char *s, size_t n)
{
    int rc = buf_reserve(out, n + 8);
    if (rc < 0) return rc;
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80) {
            /* ASCII run */
            size_t j = i;
            while (j < n && (unsigned char)s[j] < 0x80) j++;
            size_t start = out->len;
            if ((rc = buf_append(out, s + i, j - i)) < 0) return rc;
            for (size_t k = start; k < out->len; k++)
                if (out->data[k] >= 'A' && out->data[k] <= 'Z') out->data[k] += 32;
            i = j;
            continue;
        }
        size_t at = i;
        uint32_t c = ustr_next(s, n, &i);
        if (c == 0x3A3)
            rc = ustr_put(out, final_sigma(s, n, at) ? 0x3C2 : 0x3C3);
        else
            rc = ustr_lower_cp(out, c);
        if (rc < 0) return rc;
    }
    return 0;
}

size_t ustr_count_words(const char *s, size_t n)
{
    size_t count = 0, i = 0;
    bool in = false;
    while (i < n) {
        uint32_t c = ustr_next(s, n, &i);
        bool w = ustr_isword(c);
        if (w && !in) count++;
        in = w;
    }
    return count;
}

size_t ustr_length(const char *s, size_t n)
{
    size_t count = 0, i = 0;
    while (i < n) {
        ustr_next(s, n, &i);
        count++;
    }
    return count;
}
