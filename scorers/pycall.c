/* pycall.c: a Python expression tokenizer, parser, unparser and evaluator for
 * BFCL's prompt-mode decoder (see pycall.h). Sections in data-flow order:
 * big integers, tokens, the parser, ast.unparse, evaluation of binary
 * operations, BFCL's value rules, the decoder. */
#include "pycall.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/util.h"

/* ================================================================== */
/* big integers: sign and base-1e9 limbs, little end first             */
/* ================================================================== */

#define BN_BASE 1000000000u

typedef struct bn {
    uint32_t *d; /* limbs, arena-owned */
    size_t n;    /* 0 means zero */
    bool neg;
} bn;

static void bn_trim(bn *x)
{
    while (x->n && x->d[x->n - 1] == 0) x->n--;
    if (!x->n) x->neg = false;
}

static int bn_alloc(arena *a, bn *x, size_t n)
{
    x->d = n ? arena_calloc(a, n, sizeof *x->d) : NULL;
    x->n = n;
    x->neg = false;
    return n && !x->d ? ERR_NOMEM : 0;
}

static int bn_from_i64(arena *a, int64_t v, bn *x)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (bn_alloc(a, x, 3) < 0) return ERR_NOMEM;
    for (size_t i = 0; i < 3; i++) {
        x->d[i] = (uint32_t)(u % BN_BASE);
        u /= BN_BASE;
    }
    x->neg = v < 0;
    bn_trim(x);
    return 0;
}

static int bn_from_pyval(arena *a, const pyval *v, bn *x)
{
    if (v->kind == PYV_BOOL) return bn_from_i64(a, v->u.b, x);
    if (!v->u.i.big) return bn_from_i64(a, v->u.i.v, x);
    const char *s = v->u.i.big;
    bool neg = *s == '-';
    if (neg) s++;
    size_t len = strlen(s), limbs = (len + 8) / 9;
    if (bn_alloc(a, x, limbs) < 0) return ERR_NOMEM;
    for (size_t i = 0; i < limbs; i++) {
        /* limb i holds digits [len - 9(i+1), len - 9i) */
        size_t end = len - 9 * i, start = end >= 9 ? end - 9 : 0;
        uint32_t w = 0;
        for (size_t k = start; k < end; k++) w = w * 10 + (uint32_t)(s[k] - '0');
        x->d[i] = w;
    }
    x->neg = neg;
    bn_trim(x);
    return 0;
}

/* The int value of x (NULL on ERR_NOMEM or when it passes the digit limit). */
static pyval *bn_to_pyval(arena *a, const bn *x)
{
    if (!x->n) return pyval_int(a, 0);
    size_t cap = x->n * 9 + 1;
    char *t = arena_alloc(a, cap + 1);
    if (!t) return NULL;
    size_t k = 0;
    k += (size_t)snprintf(t, cap + 1, "%u", x->d[x->n - 1]);
    for (size_t i = x->n - 1; i-- > 0;) k += (size_t)snprintf(t + k, cap + 1 - k, "%09u", x->d[i]);
    if (k > PYVAL_MAX_INT_DIGITS) return NULL;
    return pyval_int_dec(a, t, k, x->neg);
}

static int bn_cmp_abs(const bn *x, const bn *y)
{
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    for (size_t i = x->n; i-- > 0;)
        if (x->d[i] != y->d[i]) return x->d[i] < y->d[i] ? -1 : 1;
    return 0;
}

/* |x| + |y| */
static int bn_add_abs(arena *a, const bn *x, const bn *y, bn *r)
{
    size_t n = (x->n > y->n ? x->n : y->n) + 1;
    if (bn_alloc(a, r, n) < 0) return ERR_NOMEM;
    uint32_t carry = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = (uint64_t)carry + (i < x->n ? x->d[i] : 0) + (i < y->n ? y->d[i] : 0);
        r->d[i] = (uint32_t)(s % BN_BASE);
        carry = (uint32_t)(s / BN_BASE);
    }
    bn_trim(r);
    return 0;
}

/* |x| - |y| with |x| >= |y| */
static int bn_sub_abs(arena *a, const bn *x, const bn *y, bn *r)
{
    if (bn_alloc(a, r, x->n) < 0) return ERR_NOMEM;
    int64_t borrow = 0;
    for (size_t i = 0; i < x->n; i++) {
        int64_t s = (int64_t)x->d[i] - borrow - (i < y->n ? y->d[i] : 0);
        borrow = s < 0;
        if (s < 0) s += BN_BASE;
        r->d[i] = (uint32_t)s;
    }
    bn_trim(r);
    return 0;
}

/* r = x + (negate_y ? -y : y) */
static int bn_addsub(arena *a, const bn *x, const bn *y, bool negate_y, bn *r)
{
    bool yneg = y->n ? (y->neg != negate_y) : false;
    if (x->neg == yneg) {
        if (bn_add_abs(a, x, y, r) < 0) return ERR_NOMEM;
        r->neg = r->n ? x->neg : false;
        return 0;
    }
    int c = bn_cmp_abs(x, y);
    if (c >= 0) {
        if (bn_sub_abs(a, x, y, r) < 0) return ERR_NOMEM;
        r->neg = r->n ? x->neg : false;
    } else {
        if (bn_sub_abs(a, y, x, r) < 0) return ERR_NOMEM;
        r->neg = r->n ? yneg : false;
    }
    return 0;
}

static int bn_mul(arena *a, const bn *x, const bn *y, bn *r)
{
    if (!x->n || !y->n) return bn_alloc(a, r, 0);
    if (bn_alloc(a, r, x->n + y->n) < 0) return ERR_NOMEM;
    for (size_t i = 0; i < x->n; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < y->n; j++) {
            uint64_t t = (uint64_t)x->d[i] * y->d[j] + r->d[i + j] + carry;
            r->d[i + j] = (uint32_t)(t % BN_BASE);
            carry = t / BN_BASE;
        }
        size_t k = i + y->n;
        while (carry) {
            uint64_t t = (uint64_t)r->d[k] + carry;
            r->d[k] = (uint32_t)(t % BN_BASE);
            carry = t / BN_BASE;
            k++;
        }
    }
    r->neg = x->neg != y->neg;
    bn_trim(r);
    return 0;
}

/* x = x * m + add (x non-negative), growing by one limb when needed. */
static int bn_mul_small_add(arena *a, bn *x, uint32_t m, uint32_t add)
{
    uint64_t carry = add;
    for (size_t i = 0; i < x->n; i++) {
        uint64_t t = (uint64_t)x->d[i] * m + carry;
        x->d[i] = (uint32_t)(t % BN_BASE);
        carry = t / BN_BASE;
    }
    if (carry) {
        uint32_t *nd = arena_calloc(a, x->n + 2, sizeof *nd);
        if (!nd) return ERR_NOMEM;
        if (x->n) memcpy(nd, x->d, x->n * sizeof *nd);
        while (carry) {
            nd[x->n++] = (uint32_t)(carry % BN_BASE);
            carry /= BN_BASE;
        }
        x->d = nd;
    }
    return 0;
}

/* Decimal digits of |x| (0 for zero), approximately from the top limb. */
static size_t bn_digits(const bn *x)
{
    if (!x->n) return 0;
    size_t d = (x->n - 1) * 9;
    for (uint32_t t = x->d[x->n - 1]; t; t /= 10) d++;
    return d;
}

/* ================================================================== */
/* tokens                                                              */
/* ================================================================== */

typedef enum tkind { T_END, T_NEWLINE, T_NAME, T_NUMBER, T_STRING, T_OP } tkind;

typedef struct tok {
    tkind kind;
    size_t pos, len;  /* span in the source */
    const char *name; /* T_NAME: the identifier (NFKC-normalized); T_OP: the operator */
    bool keyword;     /* T_NAME: a hard keyword */
    pyval *val;       /* T_NUMBER / T_STRING: the literal's value (str or bytes) */
} tok;

typedef struct lexer {
    const char *s;
    size_t n;
    arena *a;
    err *e;
    tok *t;
    size_t nt, cap;
} lexer;

static const char *const hard_keywords[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield",
};

/* Longest first where one is a prefix of another. */
static const char *const operators[] = {
    "**=", "//=", ">>=", "<<=", "...", "->", ":=", "**", "//", "<<", ">>", "<=",
    ">=",  "==",  "!=",  "+=",  "-=",  "*=", "/=", "%=", "&=", "|=", "^=", "@=",
    "+",   "-",   "*",   "/",   "%",   "@",  "&",  "|",  "^",  "~",  "<",  ">",
    "(",   ")",   "[",   "]",   "{",   "}",  ",",  ":",  ".",  ";",  "=",
};

static int lex_fail(lexer *L, size_t pos, const char *what)
{
    return err_set(L->e, ERR_PARSE, "byte %zu: %s", pos + 1, what);
}

static int lex_push(lexer *L, tok t)
{
    if (L->nt == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 64;
        tok *nt = realloc(L->t, cap * sizeof *nt);
        if (!nt) return err_set(L->e, ERR_NOMEM, "out of memory");
        L->t = nt;
        L->cap = cap;
    }
    L->t[L->nt++] = t;
    return 0;
}

static bool id_start_cp(int32_t cp)
{
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
        return true;
    default:
        return false;
    }
}

static bool id_cont_cp(int32_t cp)
{
    if (cp < 0x80) return id_start_cp(cp) || (cp >= '0' && cp <= '9');
    if (id_start_cp(cp)) return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hexv(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Reads a string literal whose prefix letters (flags) end at i and whose
 * opening quote is at s[i]. */
static int lex_string(lexer *L, size_t start, size_t i, bool raw, bool bytes, size_t *end_out,
                      pyval **out)
{
    const char *s = L->s;
    char q = s[i];
    bool triple = i + 2 < L->n && s[i + 1] == q && s[i + 2] == q;
    size_t body = i + (triple ? 3 : 1), j = body;
    /* find the end */
    for (;;) {
        if (j >= L->n) return lex_fail(L, start, "unterminated string literal");
        char c = s[j];
        if (c == '\\') {
            if (j + 1 >= L->n) return lex_fail(L, start, "unterminated string literal");
            j += (s[j + 1] == '\r' && j + 2 < L->n && s[j + 2] == '\n') ? 3 : 2;
            continue;
        }
        if (!triple && (c == '\n' || c == '\r'))
            return lex_fail(L, start, "unterminated string literal");
        if (c == q && (!triple || (j + 2 < L->n && s[j + 1] == q && s[j + 2] == q))) break;
        j++;
    }
    size_t body_end = j;
    *end_out = j + (triple ? 3 : 1);
    /* decode */
    size_t cap = body_end - body;
    char *o = arena_alloc(L->a, cap + 1);
    if (!o) return err_set(L->e, ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t p = body; p < body_end;) {
        unsigned char c = (unsigned char)s[p];
        if (bytes && c >= 0x80)
            return lex_fail(L, p, "bytes can only contain ASCII literal characters");
        if (c == '\r') {
            /* newlines inside triple-quoted text read as \n */
            o[k++] = '\n';
            p += (p + 1 < body_end && s[p + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c != '\\') {
            o[k++] = (char)c;
            p++;
            continue;
        }
        char x = s[p + 1];
        if (raw) {
            o[k++] = '\\';
            if (x == '\r') {
                o[k++] = '\n';
                p += (p + 2 < body_end && s[p + 2] == '\n') ? 3 : 2;
            } else {
                o[k++] = x;
                p += 2;
            }
            continue;
        }
        p += 2;
        switch (x) {
        case '\n':
            break;
        case '\r':
            if (p < body_end && s[p] == '\n') p++;
            break;
        case '\\':
            o[k++] = '\\';
            break;
        case '\'':
            o[k++] = '\'';
            break;
        case '"':
            o[k++] = '"';
            break;
        case 'a':
            o[k++] = 7;
            break;
        case 'b':
            o[k++] = 8;
            break;
        case 'f':
            o[k++] = 12;
            break;
        case 'n':
            o[k++] = 10;
            break;
        case 'r':
            o[k++] = 13;
            break;
        case 't':
            o[k++] = 9;
            break;
        case 'v':
            o[k++] = 11;
            break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
            unsigned v = (unsigned)(x - '0');
            for (int m = 0; m < 2 && p < body_end && s[p] >= '0' && s[p] <= '7'; m++)
                v = v * 8 + (unsigned)(s[p++] - '0');
            if (bytes)
                o[k++] = (char)(v & 0xff);
            else
                k += pyval_utf8_put(o + k, v);
            break;
        }
        case 'x':
            if (p + 1 >= body_end || !is_hex(s[p]) || !is_hex(s[p + 1]))
                return lex_fail(L, p - 2, "truncated \\xXX escape");
            {
                unsigned v = (unsigned)(hexv(s[p]) * 16 + hexv(s[p + 1]));
                p += 2;
                if (bytes)
                    o[k++] = (char)v;
                else
                    k += pyval_utf8_put(o + k, v);
            }
            break;
        case 'u':
        case 'U':
            if (bytes) {
                o[k++] = '\\';
                o[k++] = x;
                break;
            }
            {
                int digits = x == 'u' ? 4 : 8;
                uint32_t v = 0;
                for (int m = 0; m < digits; m++) {
                    if (p >= body_end || !is_hex(s[p]))
                        return lex_fail(L, p,
                                        x == 'u' ? "truncated \\uXXXX escape"
                                                 : "truncated \\UXXXXXXXX escape");
                    v = v * 16 + (uint32_t)hexv(s[p++]);
                }
                if (v > 0x10ffff) return lex_fail(L, p, "illegal Unicode character");
                k += pyval_utf8_put(o + k, v);
            }
            break;
        case 'N':
            if (bytes) {
                o[k++] = '\\';
                o[k++] = 'N';
                break;
            }
            return lex_fail(L, p - 2, "unsupported: \\N{...} escapes");
        default:
            /* an unknown escape keeps its backslash (Python only warns) */
            o[k++] = '\\';
            p--;
            break;
        }
    }
    o[k] = 0;
    pyval *v = bytes ? pyval_bytes(L->a, o, k) : pyval_str(L->a, o, k);
    if (!v) return err_set(L->e, ERR_NOMEM, "out of memory");
    *out = v;
    return 0;
}

/* Copies digits without underscores; checks that every '_' sits between two digits. */
static bool strip_underscores(const char *s, size_t n, char *out, size_t *outn, bool (*isdig)(char))
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 >= n || !isdig(s[i - 1]) || !isdig(s[i + 1])) return false;
            continue;
        }
        out[k++] = s[i];
    }
    *outn = k;
    return true;
}

static bool dec_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool word_follows(const char *s, size_t n, size_t i, const char *w)
{
    size_t m = strlen(w);
    return i + m <= n && memcmp(s + i, w, m) == 0;
}

static int lex_number(lexer *L, size_t i, size_t *end_out, pyval **out)
{
    const char *s = L->s;
    size_t n = L->n, start = i;
    int radix = 10;
    if (s[i] == '0' && i + 1 < n && strchr("xXoObB", s[i + 1]) && s[i + 1]) {
        char r = (char)(s[i + 1] | 0x20);
        radix = r == 'x' ? 16 : r == 'o' ? 8 : 2;
        i += 2;
        size_t d0 = i;
        while (i < n && (is_hex(s[i]) || s[i] == '_')) i++;
        /* validate digits for the radix */
        bn x;
        if (bn_alloc(L->a, &x, 0) < 0) return err_set(L->e, ERR_NOMEM, "out of memory");
        bool any = false, prev_us = true; /* a '_' may follow the prefix */
        for (size_t p = d0; p < i; p++) {
            if (s[p] == '_') {
                if (prev_us && p != d0) return lex_fail(L, start, "invalid number literal");
                prev_us = true;
                continue;
            }
            int v = hexv(s[p]);
            if (v >= radix) return lex_fail(L, start, "invalid digit in number literal");
            if (bn_mul_small_add(L->a, &x, (uint32_t)radix, (uint32_t)v) < 0)
                return err_set(L->e, ERR_NOMEM, "out of memory");
            any = true;
            prev_us = false;
        }
        if (!any || prev_us) return lex_fail(L, start, "invalid number literal");
        *end_out = i;
        *out = bn_to_pyval(L->a, &x);
        if (!*out) return lex_fail(L, start, "integer literal too large");
        goto check_end;
    }
    {
        while (i < n && (dec_digit(s[i]) || s[i] == '_')) i++;
        bool is_float = false;
        if (i < n && s[i] == '.') {
            is_float = true;
            i++;
            while (i < n && (dec_digit(s[i]) || s[i] == '_')) i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < n && (s[j] == '+' || s[j] == '-')) j++;
            if (j < n && dec_digit(s[j])) {
                while (j < n && (dec_digit(s[j]) || s[j] == '_')) j++;
                i = j;
                is_float = true;
            }
        }
        if (i < n && (s[i] == 'j' || s[i] == 'J'))
            return lex_fail(L, start, "unsupported: complex literals");
        size_t len = i - start;
        char *tmp = malloc(len + 1);
        if (!tmp) return err_set(L->e, ERR_NOMEM, "out of memory");
        size_t k = 0;
        bool ok = true;
        /* underscores: validate each digit run separately */
        for (size_t p = start; p < i && ok;) {
            size_t q = p;
            while (q < i && (dec_digit(s[q]) || s[q] == '_')) q++;
            if (q > p) {
                size_t got = 0;
                ok = strip_underscores(s + p, q - p, tmp + k, &got, dec_digit);
                k += got;
            }
            if (q < i) tmp[k++] = s[q++];
            p = q;
        }
        tmp[k] = 0;
        if (!ok) {
            free(tmp);
            return lex_fail(L, start, "invalid decimal literal");
        }
        if (is_float) {
            *out = pyval_float(L->a, strtod(tmp, NULL));
        } else {
            /* "0", "00" are fine; "01" is not */
            size_t nd = k;
            bool leading_zero = nd > 1 && tmp[0] == '0';
            bool all_zero = true;
            for (size_t p = 0; p < nd; p++) all_zero &= tmp[p] == '0';
            if (leading_zero && !all_zero) {
                free(tmp);
                return lex_fail(L, start,
                                "leading zeros in decimal integer literals are not permitted");
            }
            if (nd > PYVAL_MAX_INT_DIGITS) {
                free(tmp);
                return lex_fail(L, start, "integer literal exceeds the 4300-digit limit");
            }
            *out = pyval_int_dec(L->a, tmp, nd, false);
        }
        free(tmp);
        if (!*out) return err_set(L->e, ERR_NOMEM, "out of memory");
        *end_out = i;
    }
check_end:
    i = *end_out;
    if (i < n) {
        unsigned char c = (unsigned char)s[i];
        bool idc = c >= 0x80 || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   dec_digit((char)c);
        if (idc) {
            /* Python lets a keyword follow a number directly ("1if x else y") */
            static const char *const ok_kw[] = {"and", "else", "for", "if",
                                                "in",  "is",   "not", "or"};
            bool fine = false;
            for (size_t k = 0; k < ARRAY_LEN(ok_kw); k++) fine |= word_follows(s, n, i, ok_kw[k]);
            if (!fine) return lex_fail(L, start, "invalid decimal literal");
        }
    }
    return 0;
}

static bool is_string_prefix(const char *s, size_t n, bool *raw, bool *bytes, bool *fstr)
{
    *raw = *bytes = *fstr = false;
    if (n == 0 || n > 2) return false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)(s[i] | 0x20);
        if (c == 'r' && !*raw)
            *raw = true;
        else if (c == 'b' && !*bytes && !*fstr)
            *bytes = true;
        else if (c == 'f' && !*fstr && !*bytes)
            *fstr = true;
        else if (c == 'u' && n == 1)
            ;
        else
            return false;
    }
    return true;
}

static int lex_all(lexer *L)
{
    const char *s = L->s;
    size_t n = L->n, i = 0;
    char stack[200];
    size_t depth = 0;
    /* the text must be UTF-8 (Python's source is a str), string literals included */
    for (size_t k = 0; k < n;) {
        size_t adv;
        int32_t cp = (unsigned char)s[k] < 0x80 ? 0 : pyval_utf8_next(s + k, n - k, &adv);
        if ((unsigned char)s[k] < 0x80) {
            k++;
            continue;
        }
        if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) return lex_fail(L, k, "invalid UTF-8");
        k += adv;
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\f') {
            i++;
            continue;
        }
        if (c == '#') {
            while (i < n && s[i] != '\n' && s[i] != '\r') i++;
            continue;
        }
        if (c == '\\') {
            if (i + 1 < n && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
                i += (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n') ? 3 : 2;
                continue;
            }
            return lex_fail(L, i, "unexpected character after line continuation character");
        }
        if (c == '\n' || c == '\r') {
            i++;
            if (depth == 0 && (L->nt == 0 || L->t[L->nt - 1].kind != T_NEWLINE)) {
                if (lex_push(L, (tok){T_NEWLINE, i - 1, 1, NULL, false, NULL}) < 0)
                    return ERR_NOMEM;
            }
            continue;
        }
        if (c == 0) return lex_fail(L, i, "source code cannot contain null bytes");
        /* numbers */
        if (dec_digit((char)c) || (c == '.' && i + 1 < n && dec_digit(s[i + 1]))) {
            size_t end = 0;
            pyval *v = NULL;
            int rc = lex_number(L, i, &end, &v);
            if (rc < 0) return rc;
            if (lex_push(L, (tok){T_NUMBER, i, end - i, NULL, false, v}) < 0) return ERR_NOMEM;
            i = end;
            continue;
        }
        /* names and prefixed strings */
        size_t adv;
        int32_t cp = pyval_utf8_next(s + i, n - i, &adv);
        if (cp < 0) return lex_fail(L, i, "invalid UTF-8");
        if (c == '\'' || c == '"' || id_start_cp(cp)) {
            size_t j = i;
            bool ascii = true;
            if (c != '\'' && c != '"') {
                while (j < n) {
                    int32_t q = pyval_utf8_next(s + j, n - j, &adv);
                    if (q < 0 || !id_cont_cp(q)) break;
                    if (q >= 0x80) ascii = false;
                    j += adv;
                }
            }
            bool raw, bytes, fstr;
            if (j < n && (s[j] == '\'' || s[j] == '"') &&
                (j == i || (ascii && is_string_prefix(s + i, j - i, &raw, &bytes, &fstr)))) {
                if (j == i) raw = bytes = fstr = false;
                if (fstr) return lex_fail(L, i, "unsupported: f-strings");
                size_t end = 0;
                pyval *v = NULL;
                int rc = lex_string(L, i, j, raw, bytes, &end, &v);
                if (rc < 0) return rc;
                if (lex_push(L, (tok){T_STRING, i, end - i, NULL, false, v}) < 0) return ERR_NOMEM;
                i = end;
                continue;
            }
            const char *name;
            if (ascii) {
                name = arena_strndup(L->a, s + i, j - i);
            } else {
                const char *idtext = arena_strndup(L->a, s + i, j - i);
                if (!idtext) return err_set(L->e, ERR_NOMEM, "out of memory");
                utf8proc_uint8_t *norm = utf8proc_NFKC((const utf8proc_uint8_t *)idtext);
                if (!norm) return lex_fail(L, i, "invalid identifier");
                name = arena_strdup(L->a, (const char *)norm);
                free(norm);
            }
            if (!name) return err_set(L->e, ERR_NOMEM, "out of memory");
            bool kw = false;
            for (size_t k = 0; k < ARRAY_LEN(hard_keywords); k++)
                if (strcmp(name, hard_keywords[k]) == 0) kw = true;
            if (lex_push(L, (tok){T_NAME, i, j - i, name, kw, NULL}) < 0) return ERR_NOMEM;
            i = j;
            continue;
        }
        /* operators */
        const char *op = NULL;
        for (size_t k = 0; k < ARRAY_LEN(operators); k++)
            if (word_follows(s, n, i, operators[k])) {
                op = operators[k];
                break;
            }
        if (!op) {
            if (cp >= 0x80 && !pyval_cp_printable(cp))
                return lex_fail(L, i, "invalid non-printable character");
            return lex_fail(L, i, "invalid character");
        }
        size_t m = strlen(op);
        if (m == 1 && strchr("([{", op[0])) {
            if (depth >= sizeof stack) return lex_fail(L, i, "too many nested parentheses");
            stack[depth++] = op[0];
        } else if (m == 1 && strchr(")]}", op[0])) {
            char want = op[0] == ')' ? '(' : op[0] == ']' ? '[' : '{';
            if (depth == 0) return lex_fail(L, i, "unmatched closing bracket");
            if (stack[depth - 1] != want)
                return lex_fail(L, i, "closing bracket does not match the opening one");
            depth--;
        }
        if (lex_push(L, (tok){T_OP, i, m, op, false, NULL}) < 0) return ERR_NOMEM;
        i += m;
    }
    if (depth) return lex_fail(L, n, "unexpected end of text: a bracket was never closed");
    return lex_push(L, (tok){T_END, n, 0, NULL, false, NULL});
}

/* ================================================================== */
/* the parser: Python's expression grammar into a small AST            */
/* ================================================================== */

typedef enum nkind {
    N_CONST,
    N_ELLIPSIS,
    N_NAME,
    N_LIST,
    N_TUPLE,
    N_SET,
    N_DICT,
    N_CALL,
    N_ATTR,
    N_SUBSCRIPT,
    N_SLICE,
    N_UNARY,
    N_BINOP,
    N_BOOLOP,
    N_COMPARE,
    N_IFEXP,
    N_STARRED,
} nkind;

enum binop {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_FLOORDIV,
    OP_MOD,
    OP_POW,
    OP_MATMUL,
    OP_LSHIFT,
    OP_RSHIFT,
    OP_BITOR,
    OP_BITXOR,
    OP_BITAND,
};
enum unop { U_NEG, U_POS, U_INV, U_NOT };
enum boolop { B_AND, B_OR };
enum cmpop { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN, C_NOTIN, C_IS, C_ISNOT };

static const char *const binop_text[] = {
    [OP_ADD] = "+",       [OP_SUB] = "-",     [OP_MUL] = "*",   [OP_DIV] = "/",
    [OP_FLOORDIV] = "//", [OP_MOD] = "%",     [OP_POW] = "**",  [OP_MATMUL] = "@",
    [OP_LSHIFT] = "<<",   [OP_RSHIFT] = ">>", [OP_BITOR] = "|", [OP_BITXOR] = "^",
    [OP_BITAND] = "&",
};
static const char *const cmpop_text[] = {
    [C_EQ] = "==", [C_NE] = "!=", [C_LT] = "<",         [C_LE] = "<=", [C_GT] = ">",
    [C_GE] = ">=", [C_IN] = "in", [C_NOTIN] = "not in", [C_IS] = "is", [C_ISNOT] = "is not",
};

typedef struct node node;
struct node {
    nkind kind;
    int op;
    size_t pos;       /* where it starts in the source */
    pyval *value;     /* N_CONST */
    const char *name; /* N_NAME id, N_ATTR attribute */
    node *a, *b, *c;  /* operands, see below */
    node **items;     /* LIST/TUPLE/SET elements, DICT keys (NULL for **), CALL positional
                       * args, BOOLOP values, COMPARE left + comparators */
    size_t n;
    node **vals;          /* DICT values, CALL keyword values */
    const char **kwnames; /* CALL keyword names, NULL for ** */
    size_t nkw;
    int *ops; /* COMPARE operators (n - 1) */
};
/* a/b/c: UNARY operand a; BINOP a op b; ATTR value a; SUBSCRIPT value a, slice b;
 * SLICE lower a, upper b, step c (each may be NULL); IFEXP body a, test b, else c;
 * STARRED value a; CALL callee a. */

typedef struct parser {
    const tok *t;
    size_t i, nt;
    arena *a;
    err *e;
    int depth;
} parser;

#define MAX_PARSE_DEPTH 1000

static const tok *peek(parser *p)
{
    return &p->t[p->i];
}

static const tok *peek2(parser *p)
{
    return p->i + 1 < p->nt ? &p->t[p->i + 1] : &p->t[p->nt - 1];
}

static bool at_op(parser *p, const char *op)
{
    const tok *t = peek(p);
    return t->kind == T_OP && strcmp(t->name, op) == 0;
}

static bool at_kw(parser *p, const char *kw)
{
    const tok *t = peek(p);
    return t->kind == T_NAME && t->keyword && strcmp(t->name, kw) == 0;
}

static int fail_at(parser *p, const char *what, const char *src)
{
    const tok *t = peek(p);
    if (t->kind == T_END)
        return err_set(p->e, ERR_PARSE, "byte %zu: %s (at the end)", t->pos + 1, what);
    int len = (int)(t->len > 24 ? 24 : t->len);
    return err_set(p->e, ERR_PARSE, "byte %zu: %s (at '%.*s')", t->pos + 1, what, len,
                   src + t->pos);
}

static node *mk(parser *p, nkind k, size_t pos)
{
    node *x = arena_alloc(p->a, sizeof *x);
    if (!x) {
        err_set(p->e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    x->kind = k;
    x->pos = pos;
    return x;
}

typedef struct nvec {
    node **v;
    size_t n, cap;
} nvec;

static int nvec_push(nvec *x, node *v)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8;
        node **nv = realloc(x->v, cap * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        x->v = nv;
        x->cap = cap;
    }
    x->v[x->n++] = v;
    return 0;
}

static node **nvec_copy(parser *p, const nvec *x)
{
    if (!x->n) return NULL;
    node **out = arena_calloc(p->a, x->n, sizeof *out);
    if (out) memcpy(out, x->v, x->n * sizeof *out);
    return out;
}

static int parse_expr(parser *p, const char *src, node **out);
static int parse_disjunction(parser *p, const char *src, node **out);
static int parse_bitor(parser *p, const char *src, node **out);

static int unsupported_here(parser *p, const char *src)
{
    const tok *t = peek(p);
    if (t->kind == T_NAME && (strcmp(t->name, "for") == 0 || strcmp(t->name, "async") == 0))
        return fail_at(p, "unsupported: comprehensions", src);
    if (at_op(p, ":=")) return fail_at(p, "unsupported: ':='", src);
    return fail_at(p, "invalid syntax", src);
}

/* star_named_expression: '*' bitor | expr */
static int parse_star_or_expr(parser *p, const char *src, node **out)
{
    if (at_op(p, "*")) {
        size_t pos = peek(p)->pos;
        p->i++;
        node *v;
        int rc = parse_bitor(p, src, &v);
        if (rc < 0) return rc;
        node *x = mk(p, N_STARRED, pos);
        if (!x) return ERR_NOMEM;
        x->a = v;
        *out = x;
        return 0;
    }
    return parse_expr(p, src, out);
}

/* Elements up to `close` (already past the opener): a, b, c[,] */
static int parse_elements(parser *p, const char *src, const char *close, nvec *items,
                          bool *had_comma)
{
    *had_comma = false;
    while (!at_op(p, close)) {
        node *x;
        int rc = parse_star_or_expr(p, src, &x);
        if (rc < 0) return rc;
        if (nvec_push(items, x) < 0) return err_set(p->e, ERR_NOMEM, "out of memory");
        if (at_op(p, ",")) {
            p->i++;
            *had_comma = true;
            continue;
        }
        if (!at_op(p, close)) return unsupported_here(p, src);
    }
    p->i++;
    return 0;
}

static int parse_atom(parser *p, const char *src, node **out)
{
    const tok *t = peek(p);
    size_t pos = t->pos;
    int rc = 0;
    nvec items = {0}, vals = {0};
    node *x = NULL;
    switch (t->kind) {
    case T_NAME:
        if (t->keyword) {
            if (strcmp(t->name, "True") == 0 || strcmp(t->name, "False") == 0 ||
                strcmp(t->name, "None") == 0) {
                if (!(x = mk(p, N_CONST, pos))) return ERR_NOMEM;
                x->value =
                    t->name[0] == 'N' ? pyval_none(p->a) : pyval_bool(p->a, t->name[0] == 'T');
                if (!x->value) return err_set(p->e, ERR_NOMEM, "out of memory");
                p->i++;
                *out = x;
                return 0;
            }
            if (strcmp(t->name, "lambda") == 0) return fail_at(p, "unsupported: lambda", src);
            if (strcmp(t->name, "yield") == 0 || strcmp(t->name, "await") == 0)
                return fail_at(p, "unsupported: yield/await", src);
            return fail_at(p, "invalid syntax", src);
        }
        if (!(x = mk(p, N_NAME, pos))) return ERR_NOMEM;
        x->name = t->name;
        p->i++;
        *out = x;
        return 0;
    case T_NUMBER:
        if (!(x = mk(p, N_CONST, pos))) return ERR_NOMEM;
        x->value = t->val;
        p->i++;
        *out = x;
        return 0;
    case T_STRING: {
        /* implicit concatenation of adjacent literals */
        pyval *v = t->val;
        p->i++;
        if (peek(p)->kind == T_STRING) {
            buf b = BUF_INIT;
            if (buf_append(&b, v->u.s.p, v->u.s.len) < 0)
                return err_set(p->e, ERR_NOMEM, "out of memory");
            while (peek(p)->kind == T_STRING) {
                const pyval *w = peek(p)->val;
                if (w->kind != v->kind) {
                    buf_release(&b);
                    return fail_at(p, "cannot mix bytes and nonbytes literals", src);
                }
                if (buf_append(&b, w->u.s.p, w->u.s.len) < 0) {
                    buf_release(&b);
                    return err_set(p->e, ERR_NOMEM, "out of memory");
                }
                p->i++;
            }
            v = v->kind == PYV_BYTES ? pyval_bytes(p->a, b.data, b.len)
                                     : pyval_str(p->a, b.data, b.len);
            buf_release(&b);
            if (!v) return err_set(p->e, ERR_NOMEM, "out of memory");
        }
        if (!(x = mk(p, N_CONST, pos))) return ERR_NOMEM;
        x->value = v;
        *out = x;
        return 0;
    }
    case T_OP:
        break;
    default:
        return fail_at(p, "invalid syntax", src);
    }
    if (at_op(p, "...")) {
        p->i++;
        if (!(x = mk(p, N_ELLIPSIS, pos))) return ERR_NOMEM;
        *out = x;
        return 0;
    }
    if (at_op(p, "(")) {
        p->i++;
        if (at_op(p, ")")) {
            p->i++;
            if (!(x = mk(p, N_TUPLE, pos))) return ERR_NOMEM;
            *out = x;
            return 0;
        }
        if (at_kw(p, "yield")) return fail_at(p, "unsupported: yield", src);
        node *first;
        if ((rc = parse_star_or_expr(p, src, &first)) < 0) return rc;
        if (at_op(p, ")") && first->kind != N_STARRED) {
            p->i++;
            *out = first; /* a parenthesized expression */
            return 0;
        }
        if (!at_op(p, ",")) return unsupported_here(p, src);
        p->i++;
        bool comma;
        if (nvec_push(&items, first) < 0 || (rc = parse_elements(p, src, ")", &items, &comma)) < 0)
            goto out;
        if (!(x = mk(p, N_TUPLE, pos))) goto nomem;
        x->n = items.n;
        if (!(x->items = nvec_copy(p, &items))) goto nomem;
        goto done;
    }
    if (at_op(p, "[")) {
        p->i++;
        bool comma;
        if ((rc = parse_elements(p, src, "]", &items, &comma)) < 0) goto out;
        if (!(x = mk(p, N_LIST, pos))) goto nomem;
        x->n = items.n;
        if (items.n && !(x->items = nvec_copy(p, &items))) goto nomem;
        goto done;
    }
    if (at_op(p, "{")) {
        p->i++;
        if (at_op(p, "}")) {
            p->i++;
            if (!(x = mk(p, N_DICT, pos))) return ERR_NOMEM;
            *out = x;
            return 0;
        }
        /* dict if the first entry is ** or key: value */
        bool is_dict;
        node *first = NULL;
        if (at_op(p, "**")) {
            is_dict = true;
        } else {
            if ((rc = parse_star_or_expr(p, src, &first)) < 0) goto out;
            is_dict = first->kind != N_STARRED && at_op(p, ":");
        }
        if (!is_dict) {
            if (nvec_push(&items, first) < 0) goto nomem;
            if (at_op(p, ",")) {
                p->i++;
                bool comma;
                if ((rc = parse_elements(p, src, "}", &items, &comma)) < 0) goto out;
            } else if (at_op(p, "}")) {
                p->i++;
            } else {
                rc = unsupported_here(p, src);
                goto out;
            }
            if (!(x = mk(p, N_SET, pos))) goto nomem;
            x->n = items.n;
            if (!(x->items = nvec_copy(p, &items))) goto nomem;
            goto done;
        }
        for (;;) {
            node *k = NULL, *v;
            if (first) {
                k = first;
                first = NULL;
                p->i++; /* : */
                if ((rc = parse_expr(p, src, &v)) < 0) goto out;
            } else if (at_op(p, "**")) {
                p->i++;
                if ((rc = parse_bitor(p, src, &v)) < 0) goto out;
            } else {
                if ((rc = parse_expr(p, src, &k)) < 0) goto out;
                if (!at_op(p, ":")) {
                    rc = unsupported_here(p, src);
                    goto out;
                }
                p->i++;
                if ((rc = parse_expr(p, src, &v)) < 0) goto out;
            }
            if (nvec_push(&items, k) < 0 || nvec_push(&vals, v) < 0) goto nomem;
            if (at_op(p, ",")) {
                p->i++;
                if (at_op(p, "}")) {
                    p->i++;
                    break;
                }
                continue;
            }
            if (at_op(p, "}")) {
                p->i++;
                break;
            }
            rc = unsupported_here(p, src);
            goto out;
        }
        if (!(x = mk(p, N_DICT, pos))) goto nomem;
        x->n = items.n;
        if (!(x->items = nvec_copy(p, &items)) || !(x->vals = nvec_copy(p, &vals))) goto nomem;
        goto done;
    }
    rc = fail_at(p, "invalid syntax", src);
    goto out;
nomem:
    rc = err_set(p->e, ERR_NOMEM, "out of memory");
    goto out;
done:
    *out = x;
out:
    free(items.v);
    free(vals.v);
    return rc;
}

static int parse_call_args(parser *p, const char *src, node *call)
{
    nvec args = {0}, kwv = {0};
    const char **kwn = NULL;
    size_t kwcap = 0;
    int rc = 0;
    bool seen_kw = false, seen_dstar = false;
    while (!at_op(p, ")")) {
        const tok *t = peek(p), *t2 = peek2(p);
        if (at_op(p, "**")) {
            p->i++;
            node *v;
            if ((rc = parse_expr(p, src, &v)) < 0) goto out;
            if (call->nkw == kwcap) {
                kwcap = kwcap ? kwcap * 2 : 4;
                const char **nk = realloc(kwn, kwcap * sizeof *nk);
                if (!nk) goto nomem;
                kwn = nk;
            }
            kwn[call->nkw++] = NULL;
            if (nvec_push(&kwv, v) < 0) goto nomem;
            seen_dstar = true;
        } else if (t->kind == T_NAME && t2->kind == T_OP && strcmp(t2->name, "=") == 0) {
            if (t->keyword) {
                rc = fail_at(p, "invalid syntax: cannot assign to a keyword", src);
                goto out;
            }
            p->i += 2;
            node *v;
            if ((rc = parse_expr(p, src, &v)) < 0) goto out;
            if (call->nkw == kwcap) {
                kwcap = kwcap ? kwcap * 2 : 4;
                const char **nk = realloc(kwn, kwcap * sizeof *nk);
                if (!nk) goto nomem;
                kwn = nk;
            }
            kwn[call->nkw++] = t->name;
            if (nvec_push(&kwv, v) < 0) goto nomem;
            seen_kw = true;
        } else {
            bool star = at_op(p, "*");
            node *v;
            if ((rc = parse_star_or_expr(p, src, &v)) < 0) goto out;
            if (!star && seen_dstar) {
                rc = fail_at(p, "positional argument follows keyword argument unpacking", src);
                goto out;
            }
            if (!star && seen_kw) {
                rc = fail_at(p, "positional argument follows keyword argument", src);
                goto out;
            }
            if (star && seen_dstar) {
                rc = fail_at(p, "iterable argument unpacking follows keyword argument unpacking",
                             src);
                goto out;
            }
            if (at_kw(p, "for") || at_kw(p, "async")) {
                rc = fail_at(p, "unsupported: generator expressions", src);
                goto out;
            }
            if (nvec_push(&args, v) < 0) goto nomem;
        }
        if (at_op(p, ",")) {
            p->i++;
            continue;
        }
        if (!at_op(p, ")")) {
            rc = unsupported_here(p, src);
            goto out;
        }
    }
    p->i++;
    call->n = args.n;
    if (args.n && !(call->items = nvec_copy(p, &args))) goto nomem;
    if (call->nkw) {
        if (!(call->vals = nvec_copy(p, &kwv))) goto nomem;
        call->kwnames = arena_calloc(p->a, call->nkw, sizeof *call->kwnames);
        if (!call->kwnames) goto nomem;
        memcpy(call->kwnames, kwn, call->nkw * sizeof *kwn);
    }
    goto out;
nomem:
    rc = err_set(p->e, ERR_NOMEM, "out of memory");
out:
    free(args.v);
    free(kwv.v);
    free(kwn);
    return rc;
}

/* One subscript item: a slice or an expression. */
static int parse_slice_item(parser *p, const char *src, node **out)
{
    size_t pos = peek(p)->pos;
    node *lo = NULL, *hi = NULL, *st = NULL;
    int rc;
    if (at_op(p, "*")) return fail_at(p, "unsupported: starred subscript", src);
    if (!at_op(p, ":")) {
        if ((rc = parse_expr(p, src, &lo)) < 0) return rc;
        if (!at_op(p, ":")) {
            *out = lo;
            return 0;
        }
    }
    p->i++; /* : */
    if (!at_op(p, ":") && !at_op(p, "]") && !at_op(p, ","))
        if ((rc = parse_expr(p, src, &hi)) < 0) return rc;
    if (at_op(p, ":")) {
        p->i++;
        if (!at_op(p, "]") && !at_op(p, ","))
            if ((rc = parse_expr(p, src, &st)) < 0) return rc;
    }
    node *x = mk(p, N_SLICE, pos);
    if (!x) return ERR_NOMEM;
    x->a = lo;
    x->b = hi;
    x->c = st;
    *out = x;
    return 0;
}

static int parse_primary(parser *p, const char *src, node **out)
{
    node *x = NULL;
    int rc = parse_atom(p, src, &x);
    if (rc < 0) return rc;
    for (;;) {
        size_t pos = x->pos;
        if (at_op(p, ".")) {
            p->i++;
            const tok *t = peek(p);
            if (t->kind != T_NAME || t->keyword) return fail_at(p, "invalid syntax", src);
            node *y = mk(p, N_ATTR, pos);
            if (!y) return ERR_NOMEM;
            y->a = x;
            y->name = t->name;
            p->i++;
            x = y;
        } else if (at_op(p, "(")) {
            p->i++;
            node *y = mk(p, N_CALL, pos);
            if (!y) return ERR_NOMEM;
            y->a = x;
            if ((rc = parse_call_args(p, src, y)) < 0) return rc;
            x = y;
        } else if (at_op(p, "[")) {
            p->i++;
            size_t spos = peek(p)->pos;
            nvec items = {0};
            bool comma = false;
            node *first = NULL;
            for (;;) {
                node *it = NULL;
                if ((rc = parse_slice_item(p, src, &it)) < 0) {
                    free(items.v);
                    return rc;
                }
                if (!first) first = it;
                if (nvec_push(&items, it) < 0) {
                    free(items.v);
                    return err_set(p->e, ERR_NOMEM, "out of memory");
                }
                if (at_op(p, ",")) {
                    p->i++;
                    comma = true;
                    if (at_op(p, "]")) break;
                    continue;
                }
                break;
            }
            if (!at_op(p, "]")) {
                free(items.v);
                return unsupported_here(p, src);
            }
            p->i++;
            node *sl = first;
            if (comma) {
                sl = mk(p, N_TUPLE, spos);
                if (!sl) {
                    free(items.v);
                    return ERR_NOMEM;
                }
                sl->n = items.n;
                sl->items = nvec_copy(p, &items);
            }
            free(items.v);
            if (!sl) return err_set(p->e, ERR_NOMEM, "out of memory");
            node *y = mk(p, N_SUBSCRIPT, pos);
            if (!y) return ERR_NOMEM;
            y->a = x;
            y->b = sl;
            x = y;
        } else {
            break;
        }
    }
    *out = x;
    return 0;
}

static int parse_factor(parser *p, const char *src, node **out);

static int parse_power(parser *p, const char *src, node **out)
{
    if (at_kw(p, "await")) return fail_at(p, "unsupported: await", src);
    node *x = NULL;
    int rc = parse_primary(p, src, &x);
    if (rc < 0) return rc;
    if (at_op(p, "**")) {
        p->i++;
        node *r;
        if (++p->depth > MAX_PARSE_DEPTH) return fail_at(p, "expression nested too deeply", src);
        rc = parse_factor(p, src, &r);
        p->depth--;
        if (rc < 0) return rc;
        node *y = mk(p, N_BINOP, x->pos);
        if (!y) return ERR_NOMEM;
        y->op = OP_POW;
        y->a = x;
        y->b = r;
        x = y;
    }
    *out = x;
    return 0;
}

static int parse_factor(parser *p, const char *src, node **out)
{
    int op = -1;
    if (at_op(p, "-"))
        op = U_NEG;
    else if (at_op(p, "+"))
        op = U_POS;
    else if (at_op(p, "~"))
        op = U_INV;
    if (op < 0) return parse_power(p, src, out);
    if (++p->depth > MAX_PARSE_DEPTH) return fail_at(p, "expression nested too deeply", src);
    size_t pos = peek(p)->pos;
    p->i++;
    node *v;
    int rc = parse_factor(p, src, &v);
    p->depth--;
    if (rc < 0) return rc;
    node *x = mk(p, N_UNARY, pos);
    if (!x) return ERR_NOMEM;
    x->op = op;
    x->a = v;
    *out = x;
    return 0;
}

/* Left-associative binary levels, from tightest to loosest. */
typedef struct binlevel {
    const char *ops[5];
    int codes[5];
} binlevel;

static const binlevel levels[] = {
    {{"*", "/", "//", "%", "@"}, {OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_MATMUL}},
    {{"+", "-"}, {OP_ADD, OP_SUB}},
    {{"<<", ">>"}, {OP_LSHIFT, OP_RSHIFT}},
    {{"&"}, {OP_BITAND}},
    {{"^"}, {OP_BITXOR}},
    {{"|"}, {OP_BITOR}},
};

static int parse_level(parser *p, const char *src, int level, node **out)
{
    node *x = NULL;
    int rc = level == 0 ? parse_factor(p, src, &x) : parse_level(p, src, level - 1, &x);
    if (rc < 0) return rc;
    for (;;) {
        int code = -1;
        const tok *t = peek(p);
        if (t->kind == T_OP)
            for (int k = 0; k < 5 && levels[level].ops[k]; k++)
                if (strcmp(t->name, levels[level].ops[k]) == 0) code = levels[level].codes[k];
        if (code < 0) break;
        p->i++;
        node *r;
        if ((rc = level == 0 ? parse_factor(p, src, &r) : parse_level(p, src, level - 1, &r)) < 0)
            return rc;
        node *y = mk(p, N_BINOP, x->pos);
        if (!y) return ERR_NOMEM;
        y->op = code;
        y->a = x;
        y->b = r;
        x = y;
    }
    *out = x;
    return 0;
}

static int parse_bitor(parser *p, const char *src, node **out)
{
    return parse_level(p, src, (int)ARRAY_LEN(levels) - 1, out);
}

static int cmp_op_here(parser *p, int *op, int *ntok)
{
    const tok *t = peek(p), *t2 = peek2(p);
    *ntok = 1;
    if (t->kind == T_OP) {
        static const char *const s[] = {"==", "!=", "<", "<=", ">", ">="};
        static const int c[] = {C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE};
        for (size_t k = 0; k < ARRAY_LEN(s); k++)
            if (strcmp(t->name, s[k]) == 0) {
                *op = c[k];
                return 1;
            }
        return 0;
    }
    if (t->kind != T_NAME || !t->keyword) return 0;
    if (strcmp(t->name, "in") == 0) {
        *op = C_IN;
        return 1;
    }
    if (strcmp(t->name, "not") == 0 && t2->kind == T_NAME && strcmp(t2->name, "in") == 0) {
        *op = C_NOTIN;
        *ntok = 2;
        return 1;
    }
    if (strcmp(t->name, "is") == 0) {
        if (t2->kind == T_NAME && t2->keyword && strcmp(t2->name, "not") == 0) {
            *op = C_ISNOT;
            *ntok = 2;
        } else {
            *op = C_IS;
        }
        return 1;
    }
    return 0;
}

static int parse_comparison(parser *p, const char *src, node **out)
{
    node *x;
    int rc = parse_bitor(p, src, &x);
    if (rc < 0) return rc;
    int op, ntok;
    if (!cmp_op_here(p, &op, &ntok)) {
        *out = x;
        return 0;
    }
    nvec items = {0};
    size_t nops = 0, cap = 0;
    int *ops = NULL;
    if (nvec_push(&items, x) < 0) goto nomem;
    while (cmp_op_here(p, &op, &ntok)) {
        p->i += (size_t)ntok;
        node *r;
        if ((rc = parse_bitor(p, src, &r)) < 0) goto out;
        if (nvec_push(&items, r) < 0) goto nomem;
        if (nops == cap) {
            cap = cap ? cap * 2 : 4;
            int *no = realloc(ops, cap * sizeof *no);
            if (!no) goto nomem;
            ops = no;
        }
        ops[nops++] = op;
    }
    node *y = mk(p, N_COMPARE, x->pos);
    if (!y) goto nomem;
    y->n = items.n;
    y->items = nvec_copy(p, &items);
    y->ops = arena_calloc(p->a, nops, sizeof *y->ops);
    if (!y->items || !y->ops) goto nomem;
    memcpy(y->ops, ops, nops * sizeof *ops);
    *out = y;
    rc = 0;
    goto out;
nomem:
    rc = err_set(p->e, ERR_NOMEM, "out of memory");
out:
    free(items.v);
    free(ops);
    return rc;
}

static int parse_inversion(parser *p, const char *src, node **out)
{
    if (!at_kw(p, "not")) return parse_comparison(p, src, out);
    if (++p->depth > MAX_PARSE_DEPTH) return fail_at(p, "expression nested too deeply", src);
    size_t pos = peek(p)->pos;
    p->i++;
    node *v;
    int rc = parse_inversion(p, src, &v);
    p->depth--;
    if (rc < 0) return rc;
    node *x = mk(p, N_UNARY, pos);
    if (!x) return ERR_NOMEM;
    x->op = U_NOT;
    x->a = v;
    *out = x;
    return 0;
}

static int parse_boolop(parser *p, const char *src, int which, node **out)
{
    const char *kw = which == B_AND ? "and" : "or";
    node *x;
    int rc = which == B_AND ? parse_inversion(p, src, &x) : parse_boolop(p, src, B_AND, &x);
    if (rc < 0) return rc;
    if (!at_kw(p, kw)) {
        *out = x;
        return 0;
    }
    nvec items = {0};
    if (nvec_push(&items, x) < 0) goto nomem;
    while (at_kw(p, kw)) {
        p->i++;
        node *r;
        if ((rc = which == B_AND ? parse_inversion(p, src, &r) : parse_boolop(p, src, B_AND, &r)) <
            0)
            goto out;
        if (nvec_push(&items, r) < 0) goto nomem;
    }
    node *y = mk(p, N_BOOLOP, x->pos);
    if (!y) goto nomem;
    y->op = which;
    y->n = items.n;
    if (!(y->items = nvec_copy(p, &items))) goto nomem;
    *out = y;
    rc = 0;
    goto out;
nomem:
    rc = err_set(p->e, ERR_NOMEM, "out of memory");
out:
    free(items.v);
    return rc;
}

static int parse_disjunction(parser *p, const char *src, node **out)
{
    return parse_boolop(p, src, B_OR, out);
}

static int parse_expr(parser *p, const char *src, node **out)
{
    if (at_kw(p, "lambda")) return fail_at(p, "unsupported: lambda", src);
    if (++p->depth > MAX_PARSE_DEPTH) return fail_at(p, "expression nested too deeply", src);
    node *x;
    int rc = parse_disjunction(p, src, &x);
    if (rc < 0) goto out;
    if (at_kw(p, "if")) {
        p->i++;
        node *test, *orelse;
        if ((rc = parse_disjunction(p, src, &test)) < 0) goto out;
        if (!at_kw(p, "else")) {
            rc = fail_at(p, "expected 'else' after 'if' expression", src);
            goto out;
        }
        p->i++;
        if ((rc = parse_expr(p, src, &orelse)) < 0) goto out;
        node *y = mk(p, N_IFEXP, x->pos);
        if (!y) {
            rc = ERR_NOMEM;
            goto out;
        }
        y->a = x;
        y->b = test;
        y->c = orelse;
        x = y;
    }
    if (at_op(p, ":=")) {
        rc = fail_at(p, "unsupported: ':='", src);
        goto out;
    }
    *out = x;
out:
    p->depth--;
    return rc;
}

/* The eval-mode body: expressions separated by commas (a tuple if any comma),
 * then optional newlines and the end. */
static int parse_body(parser *p, const char *src, node **out)
{
    nvec items = {0};
    bool comma = false;
    int rc = 0;
    node *x = NULL;
    if (peek(p)->kind == T_END || peek(p)->kind == T_NEWLINE)
        return fail_at(p, "invalid syntax", src);
    for (;;) {
        if ((rc = parse_star_or_expr(p, src, &x)) < 0) goto out;
        if (nvec_push(&items, x) < 0) goto nomem;
        if (at_op(p, ",")) {
            p->i++;
            comma = true;
            if (peek(p)->kind == T_END || peek(p)->kind == T_NEWLINE) break;
            continue;
        }
        break;
    }
    while (peek(p)->kind == T_NEWLINE) p->i++;
    if (peek(p)->kind != T_END) {
        rc = unsupported_here(p, src);
        goto out;
    }
    if (comma) {
        node *t = mk(p, N_TUPLE, items.v[0]->pos);
        if (!t) goto nomem;
        t->n = items.n;
        if (!(t->items = nvec_copy(p, &items))) goto nomem;
        x = t;
    } else if (x->kind == N_STARRED) {
        rc = err_set(p->e, ERR_PARSE, "byte %zu: can't use starred expression here", x->pos + 1);
        goto out;
    }
    *out = x;
    goto out;
nomem:
    rc = err_set(p->e, ERR_NOMEM, "out of memory");
out:
    free(items.v);
    return rc;
}

/* The children of x, for walks over the tree. */
static size_t node_children(const node *x, const node **out, size_t cap)
{
    size_t k = 0;
    const node *abc[3] = {x->a, x->b, x->c};
    for (size_t i = 0; i < 3; i++)
        if (abc[i] && k < cap) out[k++] = abc[i];
    for (size_t i = 0; i < x->n; i++)
        if (x->items && x->items[i] && k < cap) out[k++] = x->items[i];
    size_t nv = x->kind == N_DICT ? x->n : x->kind == N_CALL ? x->nkw : 0;
    for (size_t i = 0; i < nv; i++)
        if (x->vals && x->vals[i] && k < cap) out[k++] = x->vals[i];
    return k;
}

/* Whether the tree is deeper than `limit` levels. Long left-nested chains
 * (1+1+...+1, a.b.c..., f()()...) are built by loops, not recursion, so they
 * are measured here, without recursion, before anything walks the tree
 * recursively. (Python refuses such depth too, with a RecursionError.) */
static int tree_too_deep(const node *root, size_t limit, bool *deep)
{
    typedef struct frame {
        const node *x;
        size_t depth;
    } frame;
    size_t cap = 256, n = 0;
    frame *st = malloc(cap * sizeof *st);
    if (!st) return ERR_NOMEM;
    st[n++] = (frame){root, 1};
    *deep = false;
    while (n && !*deep) {
        frame f = st[--n];
        if (f.depth > limit) {
            *deep = true;
            break;
        }
        size_t total = 3 + f.x->n +
                       (f.x->kind == N_DICT   ? f.x->n
                        : f.x->kind == N_CALL ? f.x->nkw
                                              : 0);
        const node **kids = malloc(total * sizeof *kids);
        if (!kids) {
            free(st);
            return ERR_NOMEM;
        }
        size_t k = node_children(f.x, kids, total);
        if (n + k > cap) {
            cap = (n + k) * 2;
            frame *ns = realloc(st, cap * sizeof *ns);
            if (!ns) {
                free(kids);
                free(st);
                return ERR_NOMEM;
            }
            st = ns;
        }
        for (size_t i = 0; i < k; i++) st[n++] = (frame){kids[i], f.depth + 1};
        free(kids);
    }
    free(st);
    return 0;
}

#define MAX_TREE_DEPTH 2000

/* Tokenizes and parses `src`; the node lives in `a`. */
static int parse_source(const char *src, size_t n, arena *a, node **out, err *e)
{
    lexer L = {src, n, a, e, NULL, 0, 0};
    int rc = lex_all(&L);
    if (rc < 0) {
        free(L.t);
        return rc;
    }
    parser p = {L.t, 0, L.nt, a, e, 0};
    rc = parse_body(&p, src, out);
    free(L.t);
    if (rc < 0) return rc;
    bool deep;
    if (tree_too_deep(*out, MAX_TREE_DEPTH, &deep) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (deep)
        return err_set(e, ERR_PARSE, "expression nested too deeply (more than %d levels)",
                       MAX_TREE_DEPTH);
    return 0;
}

/* ================================================================== */
/* ast.unparse                                                         */
/* ================================================================== */

/* Python's unparser precedence levels, lowest first. */
enum prec {
    P_NAMED_EXPR,
    P_TUPLE,
    P_YIELD,
    P_TEST,
    P_OR,
    P_AND,
    P_NOT,
    P_CMP,
    P_EXPR,
    P_BXOR,
    P_BAND,
    P_SHIFT,
    P_ARITH,
    P_TERM,
    P_FACTOR,
    P_POWER,
    P_AWAIT,
    P_ATOM,
};

static int binop_prec(int op)
{
    switch (op) {
    case OP_ADD:
    case OP_SUB:
        return P_ARITH;
    case OP_MUL:
    case OP_DIV:
    case OP_FLOORDIV:
    case OP_MOD:
    case OP_MATMUL:
        return P_TERM;
    case OP_LSHIFT:
    case OP_RSHIFT:
        return P_SHIFT;
    case OP_BITAND:
        return P_BAND;
    case OP_BITXOR:
        return P_BXOR;
    case OP_BITOR:
        return P_EXPR;
    case OP_POW:
        return P_POWER;
    }
    return P_TEST;
}

static int up(buf *o, const node *x, int ctx);

static int up_const(buf *o, const pyval *v)
{
    if (v->kind == PYV_FLOAT && isinf(v->u.f)) return buf_puts(o, v->u.f > 0 ? "1e309" : "-1e309");
    if (v->kind == PYV_FLOAT && isnan(v->u.f)) return buf_puts(o, "(1e309-1e309)");
    return pyval_repr(o, v);
}

static int up_items(buf *o, node *const *items, size_t n, bool single_comma)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (i) rc = buf_puts(o, ", ");
        if (!rc) rc = up(o, items[i], P_TEST);
    }
    if (!rc && single_comma && n == 1) rc = buf_putc(o, ',');
    return rc;
}

static int up(buf *o, const node *x, int ctx)
{
    int rc = 0;
    switch (x->kind) {
    case N_CONST:
        return up_const(o, x->value);
    case N_ELLIPSIS:
        return buf_puts(o, "...");
    case N_NAME:
        return buf_puts(o, x->name);
    case N_LIST:
        rc = buf_putc(o, '[');
        if (!rc) rc = up_items(o, x->items, x->n, false);
        if (!rc) rc = buf_putc(o, ']');
        return rc;
    case N_SET:
        rc = buf_putc(o, '{');
        if (!rc) rc = up_items(o, x->items, x->n, false);
        if (!rc) rc = buf_putc(o, '}');
        return rc;
    case N_TUPLE: {
        bool paren = x->n == 0 || ctx > P_TUPLE;
        if (paren) rc = buf_putc(o, '(');
        if (!rc) rc = up_items(o, x->items, x->n, true);
        if (!rc && paren) rc = buf_putc(o, ')');
        return rc;
    }
    case N_DICT:
        rc = buf_putc(o, '{');
        for (size_t i = 0; i < x->n && !rc; i++) {
            if (i) rc = buf_puts(o, ", ");
            if (rc) break;
            if (!x->items[i]) {
                rc = buf_puts(o, "**");
                if (!rc) rc = up(o, x->vals[i], P_EXPR);
            } else {
                rc = up(o, x->items[i], P_TEST);
                if (!rc) rc = buf_puts(o, ": ");
                if (!rc) rc = up(o, x->vals[i], P_TEST);
            }
        }
        if (!rc) rc = buf_putc(o, '}');
        return rc;
    case N_STARRED:
        rc = buf_putc(o, '*');
        if (!rc) rc = up(o, x->a, P_EXPR);
        return rc;
    case N_CALL: {
        rc = up(o, x->a, P_ATOM);
        if (!rc) rc = buf_putc(o, '(');
        bool first = true;
        for (size_t i = 0; i < x->n && !rc; i++) {
            if (!first) rc = buf_puts(o, ", ");
            first = false;
            if (!rc) rc = up(o, x->items[i], P_TEST);
        }
        for (size_t i = 0; i < x->nkw && !rc; i++) {
            if (!first) rc = buf_puts(o, ", ");
            first = false;
            if (!rc) rc = x->kwnames[i] ? buf_printf(o, "%s=", x->kwnames[i]) : buf_puts(o, "**");
            if (!rc) rc = up(o, x->vals[i], P_TEST);
        }
        if (!rc) rc = buf_putc(o, ')');
        return rc;
    }
    case N_ATTR:
        rc = up(o, x->a, P_ATOM);
        if (!rc && x->a->kind == N_CONST &&
            (x->a->value->kind == PYV_INT || x->a->value->kind == PYV_BOOL))
            rc = buf_putc(o, ' ');
        if (!rc) rc = buf_printf(o, ".%s", x->name);
        return rc;
    case N_SUBSCRIPT:
        rc = up(o, x->a, P_ATOM);
        if (!rc) rc = buf_putc(o, '[');
        if (!rc) {
            if (x->b->kind == N_TUPLE && x->b->n > 0)
                rc = up_items(o, x->b->items, x->b->n, true);
            else
                rc = up(o, x->b, P_TEST);
        }
        if (!rc) rc = buf_putc(o, ']');
        return rc;
    case N_SLICE:
        if (x->a) rc = up(o, x->a, P_TEST);
        if (!rc) rc = buf_putc(o, ':');
        if (!rc && x->b) rc = up(o, x->b, P_TEST);
        if (!rc && x->c) {
            rc = buf_putc(o, ':');
            if (!rc) rc = up(o, x->c, P_TEST);
        }
        return rc;
    case N_UNARY: {
        int op_prec = x->op == U_NOT ? P_NOT : P_FACTOR;
        bool paren = ctx > op_prec;
        static const char *const text[] = {
            [U_NEG] = "-", [U_POS] = "+", [U_INV] = "~", [U_NOT] = "not "};
        if (paren) rc = buf_putc(o, '(');
        if (!rc) rc = buf_puts(o, text[x->op]);
        if (!rc) rc = up(o, x->a, op_prec);
        if (!rc && paren) rc = buf_putc(o, ')');
        return rc;
    }
    case N_BINOP: {
        int op_prec = binop_prec(x->op);
        bool paren = ctx > op_prec;
        bool right_assoc = x->op == OP_POW;
        if (paren) rc = buf_putc(o, '(');
        if (!rc) rc = up(o, x->a, right_assoc ? op_prec + 1 : op_prec);
        if (!rc) rc = buf_printf(o, " %s ", binop_text[x->op]);
        if (!rc) rc = up(o, x->b, right_assoc ? op_prec : op_prec + 1);
        if (!rc && paren) rc = buf_putc(o, ')');
        return rc;
    }
    case N_BOOLOP: {
        int op_prec = x->op == B_AND ? P_AND : P_OR;
        bool paren = ctx > op_prec;
        if (paren) rc = buf_putc(o, '(');
        /* each further operand is traversed one level tighter (as Python's unparser does) */
        int level = op_prec;
        for (size_t i = 0; i < x->n && !rc; i++) {
            if (i) rc = buf_puts(o, x->op == B_AND ? " and " : " or ");
            level++;
            if (!rc) rc = up(o, x->items[i], level);
        }
        if (!rc && paren) rc = buf_putc(o, ')');
        return rc;
    }
    case N_COMPARE: {
        bool paren = ctx > P_CMP;
        if (paren) rc = buf_putc(o, '(');
        if (!rc) rc = up(o, x->items[0], P_CMP + 1);
        for (size_t i = 1; i < x->n && !rc; i++) {
            rc = buf_printf(o, " %s ", cmpop_text[x->ops[i - 1]]);
            if (!rc) rc = up(o, x->items[i], P_CMP + 1);
        }
        if (!rc && paren) rc = buf_putc(o, ')');
        return rc;
    }
    case N_IFEXP: {
        bool paren = ctx > P_TEST;
        if (paren) rc = buf_putc(o, '(');
        if (!rc) rc = up(o, x->a, P_TEST + 1);
        if (!rc) rc = buf_puts(o, " if ");
        if (!rc) rc = up(o, x->b, P_TEST + 1);
        if (!rc) rc = buf_puts(o, " else ");
        if (!rc) rc = up(o, x->c, P_TEST);
        if (!rc && paren) rc = buf_putc(o, ')');
        return rc;
    }
    }
    return ERR_INVALID;
}

/* ast.unparse(x) as a str value. */
static int unparse_value(arena *a, const node *x, const char *suffix_open, const node *x2,
                         pyval **out, err *e)
{
    buf b = BUF_INIT;
    int rc = up(&b, x, P_TEST);
    if (!rc && suffix_open) {
        rc = buf_puts(&b, suffix_open);
        if (!rc) rc = up(&b, x2, P_TEST);
        if (!rc) rc = buf_putc(&b, ']');
    }
    if (!rc) *out = pyval_str(a, b.data, b.len);
    buf_release(&b);
    if (rc || !*out) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

/* ================================================================== */
/* evaluation (BFCL evaluates binary operations with eval)             */
/* ================================================================== */

typedef struct evctx {
    arena *a;
    err *e;
} evctx;

#define MAX_SEQ_RESULT (1u << 20) /* a repeat beyond this fails (Python would allocate it) */

static int ev_fail(evctx *c, const node *x, const char *what)
{
    return err_set(c->e, ERR_PARSE, "byte %zu: %s", x->pos + 1, what);
}

static int ev(evctx *c, const node *x, pyval **out);

static bool intlike(const pyval *v)
{
    return v->kind == PYV_BOOL || v->kind == PYV_INT;
}

static bool small_int(const pyval *v, int64_t *out)
{
    if (v->kind == PYV_BOOL) {
        *out = v->u.b;
        return true;
    }
    if (v->kind == PYV_INT && !v->u.i.big) {
        *out = v->u.i.v;
        return true;
    }
    return false;
}

static bool to_double(const pyval *v, double *out)
{
    if (v->kind == PYV_FLOAT) {
        *out = v->u.f;
        return true;
    }
    return pyval_int_to_double(v, out);
}

static pyval *int_result(evctx *c, const bn *r)
{
    return bn_to_pyval(c->a, r);
}

/* Python's float floor division and modulo. */
static void float_divmod(double a, double b, double *fdiv, double *fmodv)
{
    double m = fmod(a, b);
    double div = (a - m) / b;
    if (m != 0) {
        if ((b < 0) != (m < 0)) {
            m += b;
            div -= 1.0;
        }
    } else {
        m = copysign(0.0, b);
    }
    double fl;
    if (div != 0) {
        fl = floor(div);
        if (div - fl > 0.5) fl += 1.0;
    } else {
        fl = copysign(0.0, a / b);
    }
    *fdiv = fl;
    *fmodv = m;
}

static int float_pow(evctx *c, const node *x, double a, double b, pyval **out)
{
    if (a == 0 && b < 0) return ev_fail(c, x, "ZeroDivisionError in '**'");
    if (a < 0 && isfinite(b) && b != floor(b))
        return ev_fail(c, x, "unsupported: '**' with a complex result");
    double r = pow(a, b);
    if (isfinite(a) && isfinite(b) && isinf(r)) return ev_fail(c, x, "OverflowError in '**'");
    *out = pyval_float(c->a, r);
    return *out ? 0 : ERR_NOMEM;
}

static int int_binop(evctx *c, const node *x, int op, const pyval *l, const pyval *r, pyval **out)
{
    int64_t a = 0, b = 0, res;
    bool sa = small_int(l, &a), sb = small_int(r, &b);
    bn A, B, R;
    switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
        if (sa && sb) {
            bool ovf = op == OP_ADD   ? __builtin_add_overflow(a, b, &res)
                       : op == OP_SUB ? __builtin_sub_overflow(a, b, &res)
                                      : __builtin_mul_overflow(a, b, &res);
            if (!ovf) return (*out = pyval_int(c->a, res)) ? 0 : ERR_NOMEM;
        }
        if (bn_from_pyval(c->a, l, &A) < 0 || bn_from_pyval(c->a, r, &B) < 0) return ERR_NOMEM;
        if ((op == OP_MUL ? bn_mul(c->a, &A, &B, &R) : bn_addsub(c->a, &A, &B, op == OP_SUB, &R)) <
            0)
            return ERR_NOMEM;
        *out = int_result(c, &R);
        return *out ? 0 : ev_fail(c, x, "integer result too large");
    case OP_DIV: {
        double da, db;
        if (!to_double(l, &da) || !to_double(r, &db))
            return ev_fail(c, x, "OverflowError: integer too large to convert to float");
        if (db == 0) return ev_fail(c, x, "ZeroDivisionError in '/'");
        if (sa && sb &&
            (a > (1LL << 53) || a < -(1LL << 53) || b > (1LL << 53) || b < -(1LL << 53)))
            *out = pyval_float(c->a, (double)((long double)a / (long double)b));
        else
            *out = pyval_float(c->a, da / db);
        return *out ? 0 : ERR_NOMEM;
    }
    case OP_FLOORDIV:
    case OP_MOD:
        if (!sa || !sb) return ev_fail(c, x, "unsupported: '//' or '%' on integers beyond 64 bits");
        if (b == 0) return ev_fail(c, x, "ZeroDivisionError");
        if (a == INT64_MIN && b == -1) {
            if (op == OP_MOD) return (*out = pyval_int(c->a, 0)) ? 0 : ERR_NOMEM;
            return (*out = pyval_int_dec(c->a, "9223372036854775808", 19, false)) ? 0 : ERR_NOMEM;
        }
        {
            int64_t q = a / b, m = a % b;
            if (m != 0 && ((m < 0) != (b < 0))) {
                q -= 1;
                m += b;
            }
            return (*out = pyval_int(c->a, op == OP_MOD ? m : q)) ? 0 : ERR_NOMEM;
        }
    case OP_POW: {
        if (r->kind == PYV_INT && r->u.i.big) {
            if (r->u.i.big[0] == '-') {
                double da, db;
                if (!to_double(l, &da) || !to_double(r, &db))
                    return ev_fail(c, x, "OverflowError: integer too large to convert to float");
                return float_pow(c, x, da, db, out);
            }
            /* a huge exponent: only 0, 1 and -1 stay small */
            if (sa && (a == 0 || a == 1)) return (*out = pyval_int(c->a, a)) ? 0 : ERR_NOMEM;
            if (sa && a == -1) {
                size_t L = strlen(r->u.i.big);
                bool odd = (r->u.i.big[L - 1] - '0') % 2 == 1;
                return (*out = pyval_int(c->a, odd ? -1 : 1)) ? 0 : ERR_NOMEM;
            }
            return ev_fail(c, x, "integer result too large");
        }
        if (b < 0) {
            double da;
            if (!to_double(l, &da))
                return ev_fail(c, x, "OverflowError: integer too large to convert to float");
            return float_pow(c, x, da, (double)b, out);
        }
        if (bn_from_pyval(c->a, l, &A) < 0) return ERR_NOMEM;
        if (A.n == 0 || (A.n == 1 && A.d[0] == 1)) {
            /* 0**b, 1**b, (-1)**b */
            int64_t v = A.n == 0 ? (b == 0 ? 1 : 0) : (A.neg && (b & 1) ? -1 : 1);
            return (*out = pyval_int(c->a, v)) ? 0 : ERR_NOMEM;
        }
        /* digits of the result ~ b * digits(a) */
        if ((double)b * (double)(bn_digits(&A) - 1) > PYVAL_MAX_INT_DIGITS)
            return ev_fail(c, x, "integer result too large");
        if (bn_from_i64(c->a, 1, &R) < 0) return ERR_NOMEM;
        for (int64_t k = 0; k < b; k++) {
            bn T;
            if (bn_mul(c->a, &R, &A, &T) < 0) return ERR_NOMEM;
            R = T;
            if (bn_digits(&R) > PYVAL_MAX_INT_DIGITS)
                return ev_fail(c, x, "integer result too large");
        }
        *out = int_result(c, &R);
        return *out ? 0 : ev_fail(c, x, "integer result too large");
    }
    case OP_LSHIFT:
    case OP_RSHIFT:
        if (!sb) return ev_fail(c, x, "unsupported: shift count beyond 64 bits");
        if (b < 0) return ev_fail(c, x, "ValueError: negative shift count");
        if (op == OP_RSHIFT) {
            if (!sa) return ev_fail(c, x, "unsupported: shift of an integer beyond 64 bits");
            int64_t v = b >= 63 ? (a < 0 ? -1 : 0) : (a < 0 ? -((-(a + 1)) >> b) - 1 : a >> b);
            return (*out = pyval_int(c->a, v)) ? 0 : ERR_NOMEM;
        }
        if (b > 16 * 1024) return ev_fail(c, x, "integer result too large");
        if (bn_from_pyval(c->a, l, &A) < 0 || bn_from_i64(c->a, 1, &R) < 0) return ERR_NOMEM;
        {
            bn two;
            if (bn_from_i64(c->a, 2, &two) < 0) return ERR_NOMEM;
            for (int64_t k = 0; k < b; k++) {
                bn T;
                if (bn_mul(c->a, &R, &two, &T) < 0) return ERR_NOMEM;
                R = T;
            }
            bn T;
            if (bn_mul(c->a, &A, &R, &T) < 0) return ERR_NOMEM;
            *out = int_result(c, &T);
        }
        return *out ? 0 : ev_fail(c, x, "integer result too large");
    case OP_BITAND:
    case OP_BITOR:
    case OP_BITXOR:
        if (!sa || !sb) return ev_fail(c, x, "unsupported: bitwise operation beyond 64 bits");
        res = op == OP_BITAND ? (a & b) : op == OP_BITOR ? (a | b) : (a ^ b);
        if (l->kind == PYV_BOOL && r->kind == PYV_BOOL)
            return (*out = pyval_bool(c->a, res != 0)) ? 0 : ERR_NOMEM;
        return (*out = pyval_int(c->a, res)) ? 0 : ERR_NOMEM;
    }
    return ev_fail(c, x, "TypeError: unsupported operand types");
}

static int seq_repeat(evctx *c, const node *x, const pyval *s, const pyval *count, pyval **out)
{
    int64_t k;
    if (!small_int(count, &k)) {
        if (count->u.i.big[0] == '-')
            k = 0;
        else
            return ev_fail(c, x, "repeat count too large");
    }
    if (k < 0) k = 0;
    size_t unit = s->kind == PYV_STR || s->kind == PYV_BYTES ? s->u.s.len : s->u.seq.n;
    if (unit && (uint64_t)k > MAX_SEQ_RESULT / unit)
        return ev_fail(c, x, "repeat result too large");
    size_t total = unit * (size_t)k;
    if (s->kind == PYV_STR || s->kind == PYV_BYTES) {
        char *t = arena_alloc(c->a, total + 1);
        if (!t) return ERR_NOMEM;
        for (int64_t i = 0; i < k; i++) memcpy(t + (size_t)i * unit, s->u.s.p, unit);
        *out = s->kind == PYV_STR ? pyval_str(c->a, t, total) : pyval_bytes(c->a, t, total);
    } else {
        pyval **items = total ? arena_calloc(c->a, total, sizeof *items) : NULL;
        if (total && !items) return ERR_NOMEM;
        for (int64_t i = 0; i < k; i++)
            memcpy(items + (size_t)i * unit, s->u.seq.items, unit * sizeof *items);
        *out =
            s->kind == PYV_LIST ? pyval_list(c->a, items, total) : pyval_tuple(c->a, items, total);
    }
    return *out ? 0 : ERR_NOMEM;
}

static int seq_concat(evctx *c, const pyval *l, const pyval *r, pyval **out)
{
    if (l->kind == PYV_STR || l->kind == PYV_BYTES) {
        size_t n = l->u.s.len + r->u.s.len;
        char *t = arena_alloc(c->a, n + 1);
        if (!t) return ERR_NOMEM;
        memcpy(t, l->u.s.p, l->u.s.len);
        memcpy(t + l->u.s.len, r->u.s.p, r->u.s.len);
        *out = l->kind == PYV_STR ? pyval_str(c->a, t, n) : pyval_bytes(c->a, t, n);
    } else {
        size_t n = l->u.seq.n + r->u.seq.n;
        pyval **items = n ? arena_calloc(c->a, n, sizeof *items) : NULL;
        if (n && !items) return ERR_NOMEM;
        if (l->u.seq.n) memcpy(items, l->u.seq.items, l->u.seq.n * sizeof *items);
        if (r->u.seq.n) memcpy(items + l->u.seq.n, r->u.seq.items, r->u.seq.n * sizeof *items);
        *out = l->kind == PYV_LIST ? pyval_list(c->a, items, n) : pyval_tuple(c->a, items, n);
    }
    return *out ? 0 : ERR_NOMEM;
}

static bool is_seq(const pyval *v)
{
    return v->kind == PYV_STR || v->kind == PYV_BYTES || v->kind == PYV_LIST ||
           v->kind == PYV_TUPLE;
}

static int ev_binop(evctx *c, const node *x, int op, const pyval *l, const pyval *r, pyval **out)
{
    bool ln = intlike(l) || l->kind == PYV_FLOAT, rn = intlike(r) || r->kind == PYV_FLOAT;
    if (intlike(l) && intlike(r)) return int_binop(c, x, op, l, r, out);
    if (ln && rn) {
        double a, b;
        if (!to_double(l, &a) || !to_double(r, &b))
            return ev_fail(c, x, "OverflowError: integer too large to convert to float");
        double q, m;
        switch (op) {
        case OP_ADD:
            *out = pyval_float(c->a, a + b);
            break;
        case OP_SUB:
            *out = pyval_float(c->a, a - b);
            break;
        case OP_MUL:
            *out = pyval_float(c->a, a * b);
            break;
        case OP_DIV:
            if (b == 0) return ev_fail(c, x, "ZeroDivisionError in '/'");
            *out = pyval_float(c->a, a / b);
            break;
        case OP_FLOORDIV:
        case OP_MOD:
            if (b == 0) return ev_fail(c, x, "ZeroDivisionError");
            float_divmod(a, b, &q, &m);
            *out = pyval_float(c->a, op == OP_MOD ? m : q);
            break;
        case OP_POW:
            return float_pow(c, x, a, b, out);
        default:
            return ev_fail(c, x, "TypeError: unsupported operand type(s) for float");
        }
        return *out ? 0 : ERR_NOMEM;
    }
    if (op == OP_ADD && is_seq(l) && l->kind == r->kind) return seq_concat(c, l, r, out);
    if (op == OP_MUL && is_seq(l) && intlike(r)) return seq_repeat(c, x, l, r, out);
    if (op == OP_MUL && intlike(l) && is_seq(r)) return seq_repeat(c, x, r, l, out);
    if (op == OP_MOD && (l->kind == PYV_STR || l->kind == PYV_BYTES))
        return ev_fail(c, x, "unsupported: '%' string formatting");
    return ev_fail(c, x, "TypeError: unsupported operand types");
}

/* Ordering for comparisons: -2 when the types cannot be ordered. */
static int ev_order(const pyval *a, const pyval *b)
{
    bool an = intlike(a) || a->kind == PYV_FLOAT, bnum = intlike(b) || b->kind == PYV_FLOAT;
    if (an && bnum) {
        int64_t x, y;
        if (small_int(a, &x) && small_int(b, &y)) return x < y ? -1 : x > y;
        double p, q;
        if (!to_double(a, &p) || !to_double(b, &q) || isnan(p) || isnan(q)) return -2;
        return p < q ? -1 : p > q;
    }
    if ((a->kind == PYV_STR || a->kind == PYV_BYTES) && a->kind == b->kind) {
        size_t m = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int r = memcmp(a->u.s.p, b->u.s.p, m);
        if (r) return r < 0 ? -1 : 1;
        return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
    }
    if ((a->kind == PYV_LIST || a->kind == PYV_TUPLE) && a->kind == b->kind) {
        size_t m = a->u.seq.n < b->u.seq.n ? a->u.seq.n : b->u.seq.n;
        for (size_t i = 0; i < m; i++) {
            if (pyval_eq(a->u.seq.items[i], b->u.seq.items[i])) continue;
            return ev_order(a->u.seq.items[i], b->u.seq.items[i]);
        }
        return a->u.seq.n < b->u.seq.n ? -1 : a->u.seq.n > b->u.seq.n;
    }
    return -2;
}

static int ev_compare(evctx *c, const node *x, const pyval *l, int op, const pyval *r, bool *res)
{
    switch (op) {
    case C_EQ:
        *res = pyval_eq(l, r);
        return 0;
    case C_NE:
        *res = !pyval_eq(l, r);
        return 0;
    case C_IN:
    case C_NOTIN: {
        bool in;
        if (r->kind == PYV_LIST || r->kind == PYV_TUPLE)
            in = pyval_in(l, r);
        else if (r->kind == PYV_DICT)
            in = pyval_dict_lookup(r, l) != NULL;
        else if ((r->kind == PYV_STR || r->kind == PYV_BYTES) && l->kind == r->kind)
            in = l->u.s.len == 0 || mem_find(r->u.s.p, r->u.s.len, l->u.s.p, l->u.s.len) != NULL;
        else
            return ev_fail(c, x, "TypeError in 'in'");
        *res = op == C_IN ? in : !in;
        return 0;
    }
    case C_IS:
    case C_ISNOT:
        return ev_fail(c, x, "unsupported: 'is' comparisons");
    default: {
        int o = ev_order(l, r);
        if (o == -2) {
            if (l->kind == PYV_FLOAT || r->kind == PYV_FLOAT) { /* NaN */
                *res = false;
                return 0;
            }
            return ev_fail(c, x, "TypeError: '<' not supported between these types");
        }
        *res = op == C_LT ? o < 0 : op == C_LE ? o <= 0 : op == C_GT ? o > 0 : o >= 0;
        return 0;
    }
    }
}

static int ev_seq(evctx *c, const node *x, pyval **out)
{
    pyval **items = x->n ? arena_calloc(c->a, x->n, sizeof *items) : NULL;
    if (x->n && !items) return ERR_NOMEM;
    for (size_t i = 0; i < x->n; i++) {
        if (x->items[i]->kind == N_STARRED)
            return ev_fail(c, x->items[i], "unsupported: starred element");
        int rc = ev(c, x->items[i], &items[i]);
        if (rc < 0) return rc;
    }
    *out = x->kind == N_LIST ? pyval_list(c->a, items, x->n) : pyval_tuple(c->a, items, x->n);
    return *out ? 0 : ERR_NOMEM;
}

static int ev(evctx *c, const node *x, pyval **out)
{
    int rc;
    pyval *l, *r;
    switch (x->kind) {
    case N_CONST:
        *out = x->value;
        return 0;
    case N_ELLIPSIS:
        return ev_fail(c, x, "TypeError: operation on Ellipsis");
    case N_NAME:
        return ev_fail(c, x, "unsupported: a name inside an evaluated expression");
    case N_LIST:
    case N_TUPLE:
        return ev_seq(c, x, out);
    case N_SET:
        return ev_fail(c, x, "unsupported: a set inside an evaluated expression");
    case N_DICT: {
        pyval *d = pyval_dict(c->a);
        if (!d) return ERR_NOMEM;
        for (size_t i = 0; i < x->n; i++) {
            if (!x->items[i]) return ev_fail(c, x, "unsupported: ** in a dict");
            pyval *k, *v;
            if ((rc = ev(c, x->items[i], &k)) < 0 || (rc = ev(c, x->vals[i], &v)) < 0) return rc;
            if (!pyval_hashable(k))
                return ev_fail(c, x->items[i], "TypeError: unhashable dict key");
            if (pyval_dict_set(c->a, d, k, v) < 0) return ERR_NOMEM;
        }
        *out = d;
        return 0;
    }
    case N_UNARY: {
        if ((rc = ev(c, x->a, &l)) < 0) return rc;
        if (x->op == U_NOT) return (*out = pyval_bool(c->a, !pyval_truthy(l))) ? 0 : ERR_NOMEM;
        if (l->kind == PYV_FLOAT) {
            if (x->op == U_INV) return ev_fail(c, x, "TypeError: bad operand type for unary ~");
            *out = pyval_float(c->a, x->op == U_NEG ? -l->u.f : l->u.f);
            return *out ? 0 : ERR_NOMEM;
        }
        if (!intlike(l)) return ev_fail(c, x, "TypeError: bad operand type for unary operator");
        if (x->op == U_POS) {
            int64_t v;
            if (small_int(l, &v)) return (*out = pyval_int(c->a, v)) ? 0 : ERR_NOMEM;
            *out = l;
            return 0;
        }
        /* -v, or ~v = -v - 1 */
        bn A, Z, R;
        if (bn_from_pyval(c->a, l, &A) < 0 || bn_alloc(c->a, &Z, 0) < 0) return ERR_NOMEM;
        if (bn_addsub(c->a, &Z, &A, true, &R) < 0) return ERR_NOMEM;
        if (x->op == U_INV) {
            bn one, T;
            if (bn_from_i64(c->a, 1, &one) < 0 || bn_addsub(c->a, &R, &one, true, &T) < 0)
                return ERR_NOMEM;
            R = T;
        }
        *out = int_result(c, &R);
        return *out ? 0 : ev_fail(c, x, "integer result too large");
    }
    case N_BINOP:
        if ((rc = ev(c, x->a, &l)) < 0 || (rc = ev(c, x->b, &r)) < 0) return rc;
        return ev_binop(c, x, x->op, l, r, out);
    case N_BOOLOP:
        for (size_t i = 0; i < x->n; i++) {
            if ((rc = ev(c, x->items[i], &l)) < 0) return rc;
            bool t = pyval_truthy(l);
            if (i + 1 == x->n || (x->op == B_AND ? !t : t)) {
                *out = l;
                return 0;
            }
        }
        return ev_fail(c, x, "empty boolean operation");
    case N_COMPARE: {
        if ((rc = ev(c, x->items[0], &l)) < 0) return rc;
        bool all = true;
        for (size_t i = 1; i < x->n && all; i++) {
            if ((rc = ev(c, x->items[i], &r)) < 0) return rc;
            if ((rc = ev_compare(c, x, l, x->ops[i - 1], r, &all)) < 0) return rc;
            l = r;
        }
        return (*out = pyval_bool(c->a, all)) ? 0 : ERR_NOMEM;
    }
    case N_IFEXP:
        if ((rc = ev(c, x->b, &l)) < 0) return rc;
        return ev(c, pyval_truthy(l) ? x->a : x->c, out);
    default:
        return ev_fail(c, x, "unsupported: this expression inside an evaluated expression");
    }
}

/* ================================================================== */
/* BFCL's value rules (resolve_ast_by_type, resolve_ast_call)          */
/* ================================================================== */

static int resolve(evctx *c, const node *x, pyval **out);

static int resolve_call(evctx *c, const node *x, pyval **out)
{
    /* the callee's dotted name: attributes down to a name (anything else adds nothing) */
    buf name = BUF_INIT;
    const node *parts[256];
    size_t np = 0;
    const node *f = x->a;
    while (f->kind == N_ATTR && np < ARRAY_LEN(parts)) {
        parts[np++] = f;
        f = f->a;
    }
    int rc = 0;
    if (f->kind == N_NAME) rc = buf_puts(&name, f->name);
    for (size_t i = np; i-- > 0 && !rc;) {
        if (name.len) rc = buf_putc(&name, '.');
        if (!rc) rc = buf_puts(&name, parts[i]->name);
    }
    pyval *args = pyval_dict(c->a), *key = NULL, *d = pyval_dict(c->a);
    if (!rc && (!args || !d)) rc = ERR_NOMEM;
    if (!rc && !(key = pyval_str(c->a, name.data, name.len))) rc = ERR_NOMEM;
    buf_release(&name);
    if (rc) return err_set(c->e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < x->nkw; i++) {
        pyval *v, *k;
        if ((rc = resolve(c, x->vals[i], &v)) < 0) return rc;
        k = x->kwnames[i] ? pyval_strz(c->a, x->kwnames[i]) : pyval_none(c->a);
        if (!k || pyval_dict_set(c->a, args, k, v) < 0)
            return err_set(c->e, ERR_NOMEM, "out of memory");
    }
    if (pyval_dict_set(c->a, d, key, args) < 0) return err_set(c->e, ERR_NOMEM, "out of memory");
    *out = d;
    return 0;
}

static int resolve(evctx *c, const node *x, pyval **out)
{
    int rc;
    switch (x->kind) {
    case N_CONST:
        *out = x->value;
        return 0;
    case N_ELLIPSIS:
        return (*out = pyval_strz(c->a, "...")) ? 0 : ERR_NOMEM;
    case N_UNARY: {
        /* BFCL: -operand.value whatever the operator; the operand must be a literal */
        if (x->a->kind == N_ELLIPSIS) return ev_fail(c, x, "TypeError: bad operand for unary -");
        if (x->a->kind != N_CONST) return ev_fail(c, x, "unary operator on a non-literal");
        const pyval *v = x->a->value;
        if (v->kind == PYV_FLOAT) return (*out = pyval_float(c->a, -v->u.f)) ? 0 : ERR_NOMEM;
        if (!intlike(v)) return ev_fail(c, x, "TypeError: bad operand type for unary -");
        bn A, Z, R;
        if (bn_from_pyval(c->a, v, &A) < 0 || bn_alloc(c->a, &Z, 0) < 0 ||
            bn_addsub(c->a, &Z, &A, true, &R) < 0)
            return ERR_NOMEM;
        *out = int_result(c, &R);
        return *out ? 0 : ev_fail(c, x, "integer result too large");
    }
    case N_LIST:
    case N_TUPLE: {
        pyval **items = x->n ? arena_calloc(c->a, x->n, sizeof *items) : NULL;
        if (x->n && !items) return ERR_NOMEM;
        for (size_t i = 0; i < x->n; i++)
            if ((rc = resolve(c, x->items[i], &items[i])) < 0) return rc;
        *out = x->kind == N_LIST ? pyval_list(c->a, items, x->n) : pyval_tuple(c->a, items, x->n);
        return *out ? 0 : ERR_NOMEM;
    }
    case N_DICT: {
        pyval *d = pyval_dict(c->a);
        if (!d) return ERR_NOMEM;
        for (size_t i = 0; i < x->n; i++) {
            if (!x->items[i]) return ev_fail(c, x, "unsupported: ** in a dict value");
            pyval *k, *v;
            if ((rc = resolve(c, x->items[i], &k)) < 0) return rc;
            if ((rc = resolve(c, x->vals[i], &v)) < 0) return rc;
            if (!pyval_hashable(k))
                return ev_fail(c, x->items[i], "TypeError: unhashable dict key");
            if (pyval_dict_set(c->a, d, k, v) < 0) return ERR_NOMEM;
        }
        *out = d;
        return 0;
    }
    case N_BINOP:
        return ev(c, x, out);
    case N_NAME:
        return (*out = pyval_strz(c->a, x->name)) ? 0 : ERR_NOMEM;
    case N_CALL:
        if (x->nkw == 0) return unparse_value(c->a, x, NULL, NULL, out, c->e);
        return resolve_call(c, x, out);
    case N_SUBSCRIPT:
        return unparse_value(c->a, x->a, "[", x->b, out, c->e);
    case N_ATTR:
        return ev_fail(c, x, "unsupported value: attribute access");
    case N_STARRED:
        return ev_fail(c, x, "unsupported value: starred expression");
    case N_SET:
        return ev_fail(c, x, "unsupported value: set");
    case N_COMPARE:
        return ev_fail(c, x, "unsupported value: comparison");
    case N_BOOLOP:
        return ev_fail(c, x, "unsupported value: boolean operation");
    case N_IFEXP:
        return ev_fail(c, x, "unsupported value: conditional expression");
    default:
        return ev_fail(c, x, "unsupported value");
    }
}

/* ================================================================== */
/* the decoder                                                         */
/* ================================================================== */

int pycall_parse_calls(const char *expr, size_t n, arena *a, pyval **calls_out,
                       size_t *positional_out, err *e)
{
    *calls_out = NULL;
    if (positional_out) *positional_out = 0;
    node *body;
    int rc = parse_source(expr, n, a, &body, e);
    if (rc < 0) return rc;
    evctx c = {a, e};
    if (body->kind == N_CALL) {
        pyval *call;
        if (positional_out) *positional_out = body->n;
        if ((rc = resolve_call(&c, body, &call)) < 0) return rc;
        *calls_out = pyval_list(a, &call, 1);
        return *calls_out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    }
    if (body->kind != N_LIST && body->kind != N_TUPLE && body->kind != N_SET)
        return err_set(e, ERR_PARSE, "the answer is not a list of calls");
    pyval **calls = body->n ? arena_calloc(a, body->n, sizeof *calls) : NULL;
    if (body->n && !calls) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < body->n; i++) {
        if (body->items[i]->kind != N_CALL)
            return err_set(e, ERR_PARSE, "byte %zu: element %zu of the list is not a call",
                           body->items[i]->pos + 1, i + 1);
        if ((rc = resolve_call(&c, body->items[i], &calls[i])) < 0) return rc;
        if (positional_out) *positional_out += body->items[i]->n;
    }
    *calls_out = pyval_list(a, calls, body->n);
    return *calls_out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static void strip_chars(const char **s, size_t *n, const char *set)
{
    const char *p = *s;
    size_t len = *n;
    while (len && strchr(set, p[0]) && p[0]) {
        p++;
        len--;
    }
    while (len && strchr(set, p[len - 1]) && p[len - 1]) len--;
    *s = p;
    *n = len;
}

int pycall_decode(const char *text, size_t n, arena *a, pyval **calls_out, size_t *positional_out,
                  err *e)
{
    *calls_out = NULL;
    /* 1. strip backticks, newlines and spaces from both ends */
    const char *s = text;
    size_t len = n;
    strip_chars(&s, &len, "`\n ");
    /* 2. brackets */
    buf b = BUF_INIT;
    int rc = 0;
    if (len == 0 || s[0] != '[') rc = buf_putc(&b, '[');
    if (!rc) rc = buf_append(&b, s, len);
    if (!rc && (len == 0 || s[len - 1] != ']')) rc = buf_putc(&b, ']');
    if (rc) {
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    /* 3. strip whitespace, then single quotes, and parse */
    const char *t = b.data;
    size_t tlen = b.len;
    pyval_strip(&t, &tlen);
    strip_chars(&t, &tlen, "'");
    rc = pycall_parse_calls(t, tlen, a, calls_out, positional_out, e);
    buf_release(&b);
    return rc;
}

int pycall_value(const char *expr, size_t n, arena *a, pyval **out, err *e)
{
    node *body;
    int rc = parse_source(expr, n, a, &body, e);
    if (rc < 0) return rc;
    evctx c = {a, e};
    return resolve(&c, body, out);
}

int pycall_unparse(const char *expr, size_t n, arena *a, buf *out, err *e)
{
    node *body;
    int rc = parse_source(expr, n, a, &body, e);
    if (rc < 0) return rc;
    if (up(out, body, P_TEST) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}
