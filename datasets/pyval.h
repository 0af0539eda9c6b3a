/* pyval.h: Python values as BFCL's reference code sees them.
 *
 * BFCL's data (function docs, possible answers) and the model's tool-call
 * arguments are JSON read with Python's json.loads, and prompt-mode answers are
 * Python literals; the checker then compares them with Python's types and `==`.
 * cJSON cannot tell 5 from 5.0 (the difference between an int and a float
 * parameter) and rounds big integers, so this module keeps its own value model:
 *
 *   None, bool, int (int64 fast path; beyond it the exact decimal text),
 *   float, str (UTF-8; lone surrogates from \ud800 escapes are kept in their
 *   3-byte form), bytes, list, tuple, dict (ordered, keys are values).
 *
 * It lives in datasets/ (not scorers/) because the dataset loader reads the
 * possible answers with it and the prompt builder renders the oracle's calls
 * from them; the scorer uses the same values (datasets/ must not depend on
 * scorers/).
 *
 * Memory: every value, array and string lives in the arena passed to the
 * function that made it; nothing is freed on its own. Values are immutable
 * once built, except through pyval_dict_set while a dict is being built.
 *
 *   pyval *v;
 *   if (pyval_parse_json(text, len, &arena, &v, &e) < 0) ...   // json.loads
 *   pyval_dump_json(&b, v, 4, true, 0);                         // json.dumps(v, indent=4)
 *   pyval_repr(&b, v);                                          // repr(v)
 */
#ifndef TALLY_DATASETS_PYVAL_H
#define TALLY_DATASETS_PYVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"

typedef enum pyval_kind {
    PYV_NONE = 0,
    PYV_BOOL,
    PYV_INT,
    PYV_FLOAT,
    PYV_STR,
    PYV_BYTES,
    PYV_LIST,
    PYV_TUPLE,
    PYV_DICT,
} pyval_kind;

typedef struct pyval pyval;
struct pyval {
    pyval_kind kind;
    union {
        bool b;
        struct {
            int64_t v;       /* the value when big == NULL */
            const char *big; /* else its canonical decimal text ("-123..."), beyond int64 */
        } i;
        double f;
        struct {
            const char *p; /* NUL-terminated too; len may count inner NULs */
            size_t len;
        } s;
        struct {
            pyval **items;
            size_t n;
        } seq;
        struct {
            pyval **keys;
            pyval **vals;
            size_t n, cap;
        } dict;
    } u;
};

/* Python caps int <-> decimal text conversion at 4300 digits (3.11+):
 * json.loads and literals beyond it raise. */
#define PYVAL_MAX_INT_DIGITS 4300
/* json.loads / our parsers give up beyond this nesting (Python's recursion limit). */
#define PYVAL_MAX_DEPTH 1000

/* ---- construction (all NULL only when the arena is out of memory) ---- */
pyval *pyval_none(arena *a);
pyval *pyval_bool(arena *a, bool b);
pyval *pyval_int(arena *a, int64_t v);
/* An int from decimal digits (no sign, no underscores; leading zeros allowed);
 * small values take the int64 path. */
pyval *pyval_int_dec(arena *a, const char *digits, size_t n, bool negative);
pyval *pyval_float(arena *a, double f);
/* Copies n bytes. */
pyval *pyval_str(arena *a, const char *s, size_t n);
pyval *pyval_strz(arena *a, const char *s);
pyval *pyval_bytes(arena *a, const char *s, size_t n);
/* A list or tuple of n items; `items` is copied (may be NULL when n == 0). */
pyval *pyval_list(arena *a, pyval *const *items, size_t n);
pyval *pyval_tuple(arena *a, pyval *const *items, size_t n);
pyval *pyval_dict(arena *a);
/* d[k] = v with Python semantics: an equal key (1 == 1.0 == True) keeps its
 * place and its first key object, and gets the new value. 0 or ERR_NOMEM. */
int pyval_dict_set(arena *a, pyval *d, pyval *k, pyval *v);

/* ---- inspection ---- */
/* "NoneType", "bool", "int", "float", "str", "bytes", "list", "tuple", "dict". */
const char *pyval_type_name(const pyval *v);
/* Python `a == b` (0.2 of SCORING.md): numbers compare by value across
 * bool/int/float, str never equals a number, list never equals a tuple, dicts
 * compare as maps. NaN equals nothing. */
bool pyval_eq(const pyval *a, const pyval *b);
/* Python `v in seq` for a list or tuple (false for anything else). */
bool pyval_in(const pyval *v, const pyval *seq);
/* Whether Python could use it as a dict key (no list/dict inside). */
bool pyval_hashable(const pyval *v);
/* The value for a str key, or NULL. */
pyval *pyval_dict_get(const pyval *d, const char *key);
/* The value for any key (Python lookup), or NULL. */
pyval *pyval_dict_lookup(const pyval *d, const pyval *key);
/* True for a str equal to `s`. */
bool pyval_is_str(const pyval *v, const char *s);
/* Python truthiness. */
bool pyval_truthy(const pyval *v);
/* The int as a double (exactly rounded); false when out of range. */
bool pyval_int_to_double(const pyval *v, double *out);

/* ---- JSON ---- */
/* Python's json.loads(text): RFC 8259 plus NaN/Infinity/-Infinity, ints kept
 * exact (and refused beyond 4300 digits), duplicate keys (last wins), raw
 * control characters in strings refused, only space/tab/CR/LF between tokens,
 * nothing after the value. Errors name the byte offset (1-based). */
int pyval_parse_json(const char *text, size_t len, arena *a, pyval **out, err *e);
enum pyval_json_flags {
    /* write the repr (as a string) of what json.dumps refuses: bytes, tuple keys */
    PYVAL_JSON_LENIENT = 1 << 0,
    /* plain RFC 8259 output for other readers: NaN and infinities as the
     * strings "NaN", "Infinity", "-Infinity" instead of bare words */
    PYVAL_JSON_STRICT = 1 << 1,
};

/* Python's json.dumps(v, indent=indent (< 0: None), ensure_ascii=ensure_ascii):
 * separators ", "/": " (",": " with an indent), tuples as arrays, float repr,
 * NaN/Infinity, non-str keys converted like Python (1 -> "1", True -> "true").
 * ERR_INVALID for what json.dumps refuses (bytes, tuple keys) unless
 * PYVAL_JSON_LENIENT. Without ensure_ascii, lone surrogates are written as
 * \uXXXX escapes and bytes that are not UTF-8 as \ufffd, so the output is
 * always valid UTF-8. */
int pyval_dump_json(buf *out, const pyval *v, int indent, bool ensure_ascii, unsigned flags);

/* ---- Python text ---- */
/* repr(v): 'str' quoting and escapes as Python (non-printable characters
 * escaped, printable non-ASCII kept), float repr, True/False/None, (1,) etc. */
int pyval_repr(buf *out, const pyval *v);
/* repr of a str given as UTF-8 bytes. */
int pyval_repr_str(buf *out, const char *s, size_t n);
/* repr(float): the shortest text that reads back to the same double, in
 * Python's layout ("5.0", "1e-05", "1e+16", "inf", "nan"). */
int pyval_float_repr(buf *out, double d);
/* str(v) where it differs from repr (str is its own text); else repr. */
int pyval_str_of(buf *out, const pyval *v);

/* ---- UTF-8 (with surrogates kept as 3-byte sequences, "WTF-8") ---- */
/* Decodes one code point from s[0..n); *adv gets the bytes used (>= 1).
 * Returns -1 for an invalid sequence (then *adv == 1). */
int32_t pyval_utf8_next(const char *s, size_t n, size_t *adv);
/* Encodes cp (0..0x10FFFF, surrogates included) into out (4 bytes); returns the length. */
size_t pyval_utf8_put(char *out, uint32_t cp);
/* Python str.isprintable() for one code point. */
bool pyval_cp_printable(int32_t cp);
/* Python str.isspace() for one code point (the P-ws set). */
bool pyval_cp_space(int32_t cp);
/* Python str.strip() on WTF-8 text: narrows s[0..*n) (moving *s, shrinking *n)
 * past leading and trailing whitespace; an invalid sequence stops it. */
void pyval_strip(const char **s, size_t *n);

#endif
