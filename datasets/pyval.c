/* pyval.c: Python values, json.loads/json.dumps and repr over them. */
#include "pyval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/json.h"
#include "common/strmap.h"
#include "common/utf8.h"

/* ================================================================== */
/* construction                                                        */
/* ================================================================== */

static pyval *pv_new(arena *a, pyval_kind k)
{
    pyval *v = arena_alloc(a, sizeof *v);
    if (v) v->kind = k;
    return v;
}

pyval *pyval_none(arena *a)
{
    return pv_new(a, PYV_NONE);
}

pyval *pyval_bool(arena *a, bool b)
{
    pyval *v = pv_new(a, PYV_BOOL);
    if (v) v->u.b = b;
    return v;
}

pyval *pyval_int(arena *a, int64_t x)
{
    pyval *v = pv_new(a, PYV_INT);
    if (v) v->u.i.v = x;
    return v;
}

pyval *pyval_int_dec(arena *a, const char *digits, size_t n, bool negative)
{
    while (n > 1 && digits[0] == '0') {
        digits++;
        n--;
    }
    if (n == 0) return pyval_int(a, 0);
    /* int64 covers every 18-digit number; 19 digits need a careful check */
    if (n <= 19) {
        uint64_t u = 0;
        bool over = false;
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(digits[i] - '0');
            if (u > (UINT64_MAX - d) / 10) {
                over = true;
                break;
            }
            u = u * 10 + d;
        }
        if (!over) {
            if (!negative && u <= (uint64_t)INT64_MAX) return pyval_int(a, (int64_t)u);
            if (negative && u <= (uint64_t)INT64_MAX + 1)
                return pyval_int(a, u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u);
        }
    }
    if (n == 1 && digits[0] == '0') negative = false;
    pyval *v = pv_new(a, PYV_INT);
    if (!v) return NULL;
    char *t = arena_alloc(a, n + 2);
    if (!t) return NULL;
    size_t k = 0;
    if (negative) t[k++] = '-';
    memcpy(t + k, digits, n);
    t[k + n] = 0;
    v->u.i.big = t;
    return v;
}

pyval *pyval_float(arena *a, double f)
{
    pyval *v = pv_new(a, PYV_FLOAT);
    if (v) v->u.f = f;
    return v;
}

static pyval *pv_text(arena *a, pyval_kind k, const char *s, size_t n)
{
    pyval *v = pv_new(a, k);
    if (!v) return NULL;
    char *p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    v->u.s.p = p;
    v->u.s.len = n;
    return v;
}

pyval *pyval_str(arena *a, const char *s, size_t n)
{
    return pv_text(a, PYV_STR, s, n);
}

pyval *pyval_strz(arena *a, const char *s)
{
    return pv_text(a, PYV_STR, s, strlen(s));
}

pyval *pyval_bytes(arena *a, const char *s, size_t n)
{
    return pv_text(a, PYV_BYTES, s, n);
}

static pyval *pv_seq(arena *a, pyval_kind k, pyval *const *items, size_t n)
{
    pyval *v = pv_new(a, k);
    if (!v) return NULL;
    if (n) {
        v->u.seq.items = arena_calloc(a, n, sizeof *items);
        if (!v->u.seq.items) return NULL;
        memcpy(v->u.seq.items, items, n * sizeof *items);
    }
    v->u.seq.n = n;
    return v;
}

pyval *pyval_list(arena *a, pyval *const *items, size_t n)
{
    return pv_seq(a, PYV_LIST, items, n);
}

pyval *pyval_tuple(arena *a, pyval *const *items, size_t n)
{
    return pv_seq(a, PYV_TUPLE, items, n);
}

pyval *pyval_dict(arena *a)
{
    return pv_new(a, PYV_DICT);
}

static size_t dict_index(const pyval *d, const pyval *key)
{
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (pyval_eq(d->u.dict.keys[i], key)) return i;
    return (size_t)-1;
}

static int dict_append(arena *a, pyval *d, pyval *k, pyval *v)
{
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 4;
        pyval **nk = arena_calloc(a, cap, sizeof *nk);
        pyval **nv = arena_calloc(a, cap, sizeof *nv);
        if (!nk || !nv) return ERR_NOMEM;
        if (d->u.dict.n) {
            memcpy(nk, d->u.dict.keys, d->u.dict.n * sizeof *nk);
            memcpy(nv, d->u.dict.vals, d->u.dict.n * sizeof *nv);
        }
        d->u.dict.keys = nk;
        d->u.dict.vals = nv;
        d->u.dict.cap = cap;
    }
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n] = v;
    d->u.dict.n++;
    return 0;
}

int pyval_dict_set(arena *a, pyval *d, pyval *k, pyval *v)
{
    size_t i = dict_index(d, k);
    if (i != (size_t)-1) {
        d->u.dict.vals[i] = v;
        return 0;
    }
    return dict_append(a, d, k, v);
}

/* ================================================================== */
/* inspection                                                          */
/* ================================================================== */

const char *pyval_type_name(const pyval *v)
{
    if (!v) return "nothing";
    switch (v->kind) {
    case PYV_NONE:
        return "NoneType";
    case PYV_BOOL:
        return "bool";
    case PYV_INT:
        return "int";
    case PYV_FLOAT:
        return "float";
    case PYV_STR:
        return "str";
    case PYV_BYTES:
        return "bytes";
    case PYV_LIST:
        return "list";
    case PYV_TUPLE:
        return "tuple";
    case PYV_DICT:
        return "dict";
    }
    return "?";
}

static bool is_num(const pyval *v)
{
    return v->kind == PYV_BOOL || v->kind == PYV_INT || v->kind == PYV_FLOAT;
}

/* An int (or bool) against a double: exact, like Python. */
static bool int_eq_double(const pyval *iv, double f)
{
    if (isnan(f) || isinf(f) || f != floor(f)) return false;
    if (iv->kind == PYV_BOOL) return f == (iv->u.b ? 1.0 : 0.0);
    if (!iv->u.i.big) {
        if (f < -9223372036854775808.0 || f >= 9223372036854775808.0) return false;
        return (int64_t)f == iv->u.i.v;
    }
    /* big ints lie beyond int64, so f must too; %.0f prints a double exactly */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.0f", f);
    return strcmp(tmp, iv->u.i.big) == 0;
}

static bool num_eq(const pyval *a, const pyval *b)
{
    if (a->kind == PYV_FLOAT && b->kind == PYV_FLOAT) return a->u.f == b->u.f;
    if (a->kind == PYV_FLOAT) return int_eq_double(b, a->u.f);
    if (b->kind == PYV_FLOAT) return int_eq_double(a, b->u.f);
    /* both bool or int */
    bool abig = a->kind == PYV_INT && a->u.i.big, bbig = b->kind == PYV_INT && b->u.i.big;
    if (abig || bbig) return abig && bbig && strcmp(a->u.i.big, b->u.i.big) == 0;
    int64_t x = a->kind == PYV_BOOL ? a->u.b : a->u.i.v;
    int64_t y = b->kind == PYV_BOOL ? b->u.b : b->u.i.v;
    return x == y;
}

bool pyval_eq(const pyval *a, const pyval *b)
{
    if (!a || !b) return a == b;
    if (is_num(a) && is_num(b)) return num_eq(a, b);
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case PYV_NONE:
        return true;
    case PYV_STR:
    case PYV_BYTES:
        return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
    case PYV_LIST:
    case PYV_TUPLE:
        if (a->u.seq.n != b->u.seq.n) return false;
        for (size_t i = 0; i < a->u.seq.n; i++)
            if (!pyval_eq(a->u.seq.items[i], b->u.seq.items[i])) return false;
        return true;
    case PYV_DICT:
        if (a->u.dict.n != b->u.dict.n) return false;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            const pyval *bv = pyval_dict_lookup(b, a->u.dict.keys[i]);
            if (!bv || !pyval_eq(a->u.dict.vals[i], bv)) return false;
        }
        return true;
    default:
        return false;
    }
}

bool pyval_in(const pyval *v, const pyval *seq)
{
    if (!seq || (seq->kind != PYV_LIST && seq->kind != PYV_TUPLE)) return false;
    for (size_t i = 0; i < seq->u.seq.n; i++)
        if (pyval_eq(v, seq->u.seq.items[i])) return true;
    return false;
}

bool pyval_hashable(const pyval *v)
{
    if (v->kind == PYV_LIST || v->kind == PYV_DICT) return false;
    if (v->kind == PYV_TUPLE)
        for (size_t i = 0; i < v->u.seq.n; i++)
            if (!pyval_hashable(v->u.seq.items[i])) return false;
    return true;
}

pyval *pyval_dict_get(const pyval *d, const char *key)
{
    if (!d || d->kind != PYV_DICT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const pyval *k = d->u.dict.keys[i];
        if (k->kind == PYV_STR && k->u.s.len == n && memcmp(k->u.s.p, key, n) == 0)
            return d->u.dict.vals[i];
    }
    return NULL;
}

pyval *pyval_dict_lookup(const pyval *d, const pyval *key)
{
    if (!d || d->kind != PYV_DICT) return NULL;
    size_t i = dict_index(d, key);
    return i == (size_t)-1 ? NULL : d->u.dict.vals[i];
}

bool pyval_is_str(const pyval *v, const char *s)
{
    size_t n = strlen(s);
    return v && v->kind == PYV_STR && v->u.s.len == n && memcmp(v->u.s.p, s, n) == 0;
}

bool pyval_truthy(const pyval *v)
{
    switch (v->kind) {
    case PYV_NONE:
        return false;
    case PYV_BOOL:
        return v->u.b;
    case PYV_INT:
        return v->u.i.big || v->u.i.v != 0;
    case PYV_FLOAT:
        return v->u.f != 0;
    case PYV_STR:
    case PYV_BYTES:
        return v->u.s.len != 0;
    case PYV_LIST:
    case PYV_TUPLE:
        return v->u.seq.n != 0;
    case PYV_DICT:
        return v->u.dict.n != 0;
    }
    return false;
}

bool pyval_int_to_double(const pyval *v, double *out)
{
    if (v->kind == PYV_BOOL) {
        *out = v->u.b;
        return true;
    }
    if (v->kind != PYV_INT) return false;
    if (!v->u.i.big) {
        *out = (double)v->u.i.v; /* correctly rounded (round half even) */
        return true;
    }
    /* strtod rounds decimal text correctly, as Python's int.__float__ does */
    errno = 0;
    double d = strtod(v->u.i.big, NULL);
    if (isinf(d)) return false;
    *out = d;
    return true;
}

/* ================================================================== */
/* UTF-8                                                               */
/* ================================================================== */

int32_t pyval_utf8_next(const char *s, size_t n, size_t *adv)
{
    uint32_t cp = 0;
    size_t len = utf8_decode(s, n, UTF8_SURROGATES, &cp);
    *adv = len ? len : 1;
    return len ? (int32_t)cp : -1;
}

size_t pyval_utf8_put(char *out, uint32_t cp)
{
    return utf8_encode(out, cp);
}

bool pyval_cp_printable(int32_t cp)
{
    if (cp == ' ') return true;
    if (cp < 0x20 || cp == 0x7f) return false;
    if (cp < 0x7f) return true;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

bool pyval_cp_space(int32_t cp)
{
    return cp >= 0 && utf8_is_pyspace((uint32_t)cp);
}

void pyval_strip(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n, k;
    uint32_t cp = 0;
    while (len && (k = utf8_decode(p, len, UTF8_SURROGATES, &cp)) && utf8_is_pyspace(cp)) {
        p += k;
        len -= k;
    }
    while (len && (k = utf8_decode_last(p, len, UTF8_SURROGATES, &cp)) && utf8_is_pyspace(cp))
        len -= k;
    *s = p;
    *n = len;
}

/* ================================================================== */
/* json.loads                                                          */
/* ================================================================== */

typedef struct jparser {
    const char *s;
    size_t n, i;
    arena *a;
    err *e;
    int depth;
} jparser;

static int jp_fail(jparser *p, const char *what)
{
    return err_set(p->e, ERR_PARSE, "invalid JSON at byte %zu: %s", p->i + 1, what);
}

static void jp_ws(jparser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static bool jp_lit(jparser *p, const char *lit)
{
    size_t m = strlen(lit);
    if (p->n - p->i >= m && memcmp(p->s + p->i, lit, m) == 0) {
        p->i += m;
        return true;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *s, size_t avail)
{
    if (avail < 4) return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* p->i is just after the opening quote. */
static int jp_string(jparser *p, pyval **out)
{
    size_t start = p->i;
    /* pass 1: find the end and validate */
    size_t j = start;
    for (;;) {
        if (j >= p->n) {
            p->i = start - 1;
            return jp_fail(p, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[j];
        if (c == '"') break;
        if (c < 0x20) {
            p->i = j;
            return jp_fail(p, "invalid control character in string");
        }
        if (c == '\\') {
            if (j + 1 >= p->n) {
                p->i = start - 1;
                return jp_fail(p, "unterminated string");
            }
            char x = p->s[j + 1];
            if (x == 'u') {
                if (hex4(p->s + j + 2, p->n - (j + 2)) < 0) {
                    p->i = j;
                    return jp_fail(p, "invalid \\uXXXX escape");
                }
                j += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", x) || x == 0) {
                p->i = j;
                return jp_fail(p, "invalid escape");
            }
            j += 2;
            continue;
        }
        j++;
    }
    /* pass 2: decode; the output is never longer than the input */
    size_t cap = j - start;
    char *o = arena_alloc(p->a, cap + 1);
    if (!o) return err_set(p->e, ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t q = start; q < j;) {
        char c = p->s[q];
        if (c != '\\') {
            o[k++] = c;
            q++;
            continue;
        }
        char x = p->s[q + 1];
        q += 2;
        switch (x) {
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(p->s + q, j - q);
            q += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && q + 6 <= j && p->s[q] == '\\' &&
                p->s[q + 1] == 'u') {
                int lo = hex4(p->s + q + 2, j - q - 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
                    q += 6;
                }
            }
            k += pyval_utf8_put(o + k, cp);
            break;
        }
        default:
            o[k++] = x;
            break; /* " \ / */
        }
    }
    o[k] = 0;
    p->i = j + 1;
    pyval *v = pv_new(p->a, PYV_STR);
    if (!v) return err_set(p->e, ERR_NOMEM, "out of memory");
    v->u.s.p = o;
    v->u.s.len = k;
    *out = v;
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int jp_number(jparser *p, pyval **out)
{
    size_t start = p->i, i = p->i;
    bool neg = false;
    if (i < p->n && p->s[i] == '-') {
        neg = true;
        i++;
    }
    if (i < p->n && p->s[i] == '0') {
        i++;
    } else if (i < p->n && p->s[i] >= '1' && p->s[i] <= '9') {
        while (i < p->n && is_digit(p->s[i])) i++;
    } else {
        return jp_fail(p, "expecting value");
    }
    size_t int_end = i;
    bool is_float = false;
    if (i + 1 < p->n && p->s[i] == '.' && is_digit(p->s[i + 1])) {
        i += 2;
        while (i < p->n && is_digit(p->s[i])) i++;
        is_float = true;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->n && (p->s[j] == '+' || p->s[j] == '-')) j++;
        if (j < p->n && is_digit(p->s[j])) {
            while (j < p->n && is_digit(p->s[j])) j++;
            i = j;
            is_float = true;
        }
    }
    p->i = i;
    if (!is_float) {
        size_t d0 = start + (neg ? 1 : 0);
        if (int_end - d0 > PYVAL_MAX_INT_DIGITS) {
            p->i = start;
            return jp_fail(p, "integer exceeds the 4300-digit limit of int()");
        }
        *out = pyval_int_dec(p->a, p->s + d0, int_end - d0, neg);
    } else {
        char stackbuf[64];
        size_t len = i - start;
        char *tmp = len < sizeof stackbuf ? stackbuf : malloc(len + 1);
        if (!tmp) return err_set(p->e, ERR_NOMEM, "out of memory");
        memcpy(tmp, p->s + start, len);
        tmp[len] = 0;
        double d = strtod(tmp, NULL);
        if (tmp != stackbuf) free(tmp);
        *out = pyval_float(p->a, d);
    }
    return *out ? 0 : err_set(p->e, ERR_NOMEM, "out of memory");
}

/* A growable array of values used while parsing (malloc'd, freed by the caller). */
typedef struct pvvec {
    pyval **v;
    size_t n, cap;
} pvvec;

static int pvvec_push(pvvec *x, pyval *v)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8;
        pyval **nv = realloc(x->v, cap * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        x->v = nv;
        x->cap = cap;
    }
    x->v[x->n++] = v;
    return 0;
}

static int jp_value(jparser *p, pyval **out);

static int jp_array(jparser *p, pyval **out)
{
    pvvec items = {0};
    int rc = 0;
    p->i++; /* [ */
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
        goto done;
    }
    for (;;) {
        pyval *v;
        jp_ws(p);
        if ((rc = jp_value(p, &v)) < 0) goto out;
        if (pvvec_push(&items, v) < 0) {
            rc = err_set(p->e, ERR_NOMEM, "out of memory");
            goto out;
        }
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
            break;
        }
        rc = jp_fail(p, "expecting ',' delimiter");
        goto out;
    }
done:
    *out = pyval_list(p->a, items.v, items.n);
    if (!*out) rc = err_set(p->e, ERR_NOMEM, "out of memory");
out:
    free(items.v);
    return rc;
}

static int jp_object(jparser *p, pyval **out)
{
    pyval *d = pyval_dict(p->a);
    strmap index = STRMAP_INIT; /* key -> position, used once the object grows */
    int rc = 0;
    if (!d) return err_set(p->e, ERR_NOMEM, "out of memory");
    p->i++; /* { */
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        *out = d;
        return 0;
    }
    for (;;) {
        pyval *k, *v;
        jp_ws(p);
        if (p->i >= p->n || p->s[p->i] != '"') {
            rc = jp_fail(p, "expecting property name enclosed in double quotes");
            goto out;
        }
        p->i++;
        if ((rc = jp_string(p, &k)) < 0) goto out;
        jp_ws(p);
        if (p->i >= p->n || p->s[p->i] != ':') {
            rc = jp_fail(p, "expecting ':' delimiter");
            goto out;
        }
        p->i++;
        jp_ws(p);
        if ((rc = jp_value(p, &v)) < 0) goto out;
        /* duplicate keys: the last value wins, the first position stays */
        size_t pos;
        if (d->u.dict.n >= 16) {
            if (index.count == 0)
                for (size_t q = 0; q < d->u.dict.n; q++)
                    if (strmap_put(&index, d->u.dict.keys[q]->u.s.p, d->u.dict.keys[q]->u.s.len,
                                   q) < 0) {
                        rc = err_set(p->e, ERR_NOMEM, "out of memory");
                        goto out;
                    }
            if (strmap_get(&index, k->u.s.p, k->u.s.len, &pos)) {
                d->u.dict.vals[pos] = v;
            } else {
                if (strmap_put(&index, k->u.s.p, k->u.s.len, d->u.dict.n) < 0 ||
                    dict_append(p->a, d, k, v) < 0) {
                    rc = err_set(p->e, ERR_NOMEM, "out of memory");
                    goto out;
                }
            }
        } else if (pyval_dict_set(p->a, d, k, v) < 0) {
            rc = err_set(p->e, ERR_NOMEM, "out of memory");
            goto out;
        }
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == '}') {
            p->i++;
            break;
        }
        rc = jp_fail(p, "expecting ',' delimiter");
        goto out;
    }
    *out = d;
out:
    strmap_release(&index);
    return rc;
}

static int jp_value(jparser *p, pyval **out)
{
    if (p->i >= p->n) return jp_fail(p, "expecting value");
    char c = p->s[p->i];
    int rc;
    switch (c) {
    case '"':
        p->i++;
        return jp_string(p, out);
    case '[':
    case '{':
        if (++p->depth > PYVAL_MAX_DEPTH) return jp_fail(p, "nesting too deep");
        rc = c == '[' ? jp_array(p, out) : jp_object(p, out);
        p->depth--;
        return rc;
    case 'n':
        if (jp_lit(p, "null")) return (*out = pyval_none(p->a)) ? 0 : ERR_NOMEM;
        break;
    case 't':
        if (jp_lit(p, "true")) return (*out = pyval_bool(p->a, true)) ? 0 : ERR_NOMEM;
        break;
    case 'f':
        if (jp_lit(p, "false")) return (*out = pyval_bool(p->a, false)) ? 0 : ERR_NOMEM;
        break;
    case 'N':
        if (jp_lit(p, "NaN")) return (*out = pyval_float(p->a, NAN)) ? 0 : ERR_NOMEM;
        break;
    case 'I':
        if (jp_lit(p, "Infinity")) return (*out = pyval_float(p->a, INFINITY)) ? 0 : ERR_NOMEM;
        break;
    case '-':
        if (jp_lit(p, "-Infinity")) return (*out = pyval_float(p->a, -INFINITY)) ? 0 : ERR_NOMEM;
        return jp_number(p, out);
    default:
        if (is_digit(c)) return jp_number(p, out);
        break;
    }
    return jp_fail(p, "expecting value");
}

int pyval_parse_json(const char *text, size_t len, arena *a, pyval **out, err *e)
{
    *out = NULL;
    jparser p = {text, len, 0, a, e, 0};
    jp_ws(&p);
    pyval *v;
    int rc = jp_value(&p, &v);
    if (rc < 0) return rc;
    jp_ws(&p);
    if (p.i != p.n) return jp_fail(&p, "extra data after the value");
    *out = v;
    return 0;
}

/* ================================================================== */
/* repr                                                                */
/* ================================================================== */

int pyval_float_repr(buf *out, double d)
{
    if (isnan(d)) return buf_puts(out, "nan");
    if (isinf(d)) return buf_puts(out, d > 0 ? "inf" : "-inf");
    if (d == 0) return buf_puts(out, signbit(d) ? "-0.0" : "0.0");
    /* shortest round-trip digits: the correctly rounded p-digit form for the
     * smallest p that reads back to d (any shorter form would be that one) */
    char tmp[48];
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp is [-]D[.DDD]e[+-]XX */
    const char *q = tmp;
    bool neg = false;
    if (*q == '-') {
        neg = true;
        q++;
    }
    char digits[24];
    size_t nd = 0;
    while (*q && *q != 'e') {
        if (*q != '.' && nd < sizeof digits - 1) digits[nd++] = *q;
        q++;
    }
    digits[nd] = 0;
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    int exp10 = *q == 'e' ? atoi(q + 1) : 0;
    int decpt = exp10 + 1; /* d = 0.DIGITS x 10^decpt */
    int rc = neg ? buf_putc(out, '-') : 0;
    if (decpt <= -4 || decpt > 16) {
        /* exponential: D[.DDD]e[+-]XX with at least two exponent digits */
        if (!rc) rc = buf_putc(out, digits[0]);
        if (!rc && nd > 1) rc = buf_printf(out, ".%s", digits + 1);
        if (!rc) rc = buf_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        return rc;
    }
    if (decpt <= 0) {
        if (!rc) rc = buf_puts(out, "0.");
        for (int k = 0; k < -decpt && !rc; k++) rc = buf_putc(out, '0');
        if (!rc) rc = buf_puts(out, digits);
    } else if ((size_t)decpt >= nd) {
        if (!rc) rc = buf_puts(out, digits);
        for (size_t k = nd; k < (size_t)decpt && !rc; k++) rc = buf_putc(out, '0');
        if (!rc) rc = buf_puts(out, ".0");
    } else {
        if (!rc) rc = buf_append(out, digits, (size_t)decpt);
        if (!rc) rc = buf_putc(out, '.');
        if (!rc) rc = buf_puts(out, digits + decpt);
    }
    return rc;
}

static int repr_text(buf *out, const char *s, size_t n, bool bytes)
{
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char quote = has_sq && !has_dq ? '"' : '\'';
    int rc = bytes ? buf_putc(out, 'b') : 0;
    if (!rc) rc = buf_putc(out, quote);
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)quote || c == '\\') {
            rc = buf_putc(out, '\\');
            if (!rc) rc = buf_putc(out, (char)c);
            i++;
        } else if (c == '\t') {
            rc = buf_puts(out, "\\t");
            i++;
        } else if (c == '\n') {
            rc = buf_puts(out, "\\n");
            i++;
        } else if (c == '\r') {
            rc = buf_puts(out, "\\r");
            i++;
        } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
            rc = buf_printf(out, "\\x%02x", c);
            i++;
        } else if (c < 0x80) {
            rc = buf_putc(out, (char)c);
            i++;
        } else {
            size_t adv;
            int32_t cp = pyval_utf8_next(s + i, n - i, &adv);
            if (cp < 0) {
                /* not UTF-8 (a Python str cannot hold it): show the replacement character */
                rc = buf_puts(out, "\xef\xbf\xbd");
            } else if (pyval_cp_printable(cp)) {
                rc = buf_append(out, s + i, adv);
            } else if (cp <= 0xff) {
                rc = buf_printf(out, "\\x%02x", (unsigned)cp);
            } else if (cp <= 0xffff) {
                rc = buf_printf(out, "\\u%04x", (unsigned)cp);
            } else {
                rc = buf_printf(out, "\\U%08x", (unsigned)cp);
            }
            i += adv;
        }
    }
    if (!rc) rc = buf_putc(out, quote);
    return rc;
}

int pyval_repr_str(buf *out, const char *s, size_t n)
{
    return repr_text(out, s, n, false);
}

static int int_text(buf *out, const pyval *v)
{
    if (v->u.i.big) return buf_puts(out, v->u.i.big);
    return buf_printf(out, "%lld", (long long)v->u.i.v);
}

int pyval_repr(buf *out, const pyval *v)
{
    int rc = 0;
    switch (v->kind) {
    case PYV_NONE:
        return buf_puts(out, "None");
    case PYV_BOOL:
        return buf_puts(out, v->u.b ? "True" : "False");
    case PYV_INT:
        return int_text(out, v);
    case PYV_FLOAT:
        return pyval_float_repr(out, v->u.f);
    case PYV_STR:
        return repr_text(out, v->u.s.p, v->u.s.len, false);
    case PYV_BYTES:
        return repr_text(out, v->u.s.p, v->u.s.len, true);
    case PYV_LIST:
    case PYV_TUPLE: {
        bool list = v->kind == PYV_LIST;
        rc = buf_putc(out, list ? '[' : '(');
        for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(out, ", ");
            if (!rc) rc = pyval_repr(out, v->u.seq.items[i]);
        }
        if (!rc && !list && v->u.seq.n == 1) rc = buf_putc(out, ',');
        if (!rc) rc = buf_putc(out, list ? ']' : ')');
        return rc;
    }
    case PYV_DICT:
        rc = buf_putc(out, '{');
        for (size_t i = 0; i < v->u.dict.n && !rc; i++) {
            if (i) rc = buf_puts(out, ", ");
            if (!rc) rc = pyval_repr(out, v->u.dict.keys[i]);
            if (!rc) rc = buf_puts(out, ": ");
            if (!rc) rc = pyval_repr(out, v->u.dict.vals[i]);
        }
        if (!rc) rc = buf_putc(out, '}');
        return rc;
    }
    return ERR_INVALID;
}

int pyval_str_of(buf *out, const pyval *v)
{
    if (v->kind == PYV_STR) return buf_append(out, v->u.s.p, v->u.s.len);
    return pyval_repr(out, v);
}

/* ================================================================== */
/* json.dumps                                                          */
/* ================================================================== */

/* json.dumps of a str held as WTF-8: surrogates escape, invalid bytes become \ufffd. */
static int json_str(buf *out, const char *s, size_t n, bool ea)
{
    return json_append_pystr(out, s, n, ea, UTF8_SURROGATES, true);
}

static int json_float(buf *out, double d, bool strict)
{
    if (isnan(d)) return buf_puts(out, strict ? "\"NaN\"" : "NaN");
    if (isinf(d))
        return buf_puts(out, d > 0 ? (strict ? "\"Infinity\"" : "Infinity")
                                   : (strict ? "\"-Infinity\"" : "-Infinity"));
    return pyval_float_repr(out, d);
}

static int json_newline(buf *out, int indent, int depth)
{
    if (indent < 0) return 0;
    int rc = buf_putc(out, '\n');
    for (int i = 0; i < indent * depth && !rc; i++) rc = buf_putc(out, ' ');
    return rc;
}

static int json_key(buf *out, const pyval *k, bool ea, unsigned flags)
{
    buf t = BUF_INIT;
    int rc;
    switch (k->kind) {
    case PYV_STR:
        return json_str(out, k->u.s.p, k->u.s.len, ea);
    case PYV_NONE:
        return buf_puts(out, "\"null\"");
    case PYV_BOOL:
        return buf_puts(out, k->u.b ? "\"true\"" : "\"false\"");
    case PYV_INT:
        rc = buf_putc(out, '"');
        if (!rc) rc = int_text(out, k);
        if (!rc) rc = buf_putc(out, '"');
        return rc;
    case PYV_FLOAT:
        rc = json_float(&t, k->u.f, false);
        break;
    default:
        if (!(flags & PYVAL_JSON_LENIENT)) return ERR_INVALID;
        rc = pyval_repr(&t, k);
        break;
    }
    if (!rc) rc = json_str(out, t.data, t.len, ea);
    buf_release(&t);
    return rc;
}

static int json_dump(buf *out, const pyval *v, int indent, bool ea, unsigned flags, int depth)
{
    int rc = 0;
    switch (v->kind) {
    case PYV_NONE:
        return buf_puts(out, "null");
    case PYV_BOOL:
        return buf_puts(out, v->u.b ? "true" : "false");
    case PYV_INT:
        return int_text(out, v);
    case PYV_FLOAT:
        return json_float(out, v->u.f, flags & PYVAL_JSON_STRICT);
    case PYV_STR:
        return json_str(out, v->u.s.p, v->u.s.len, ea);
    case PYV_BYTES: {
        if (!(flags & PYVAL_JSON_LENIENT)) return ERR_INVALID;
        buf t = BUF_INIT;
        rc = pyval_repr(&t, v);
        if (!rc) rc = json_str(out, t.data, t.len, ea);
        buf_release(&t);
        return rc;
    }
    case PYV_LIST:
    case PYV_TUPLE:
        if (v->u.seq.n == 0) return buf_puts(out, "[]");
        rc = buf_putc(out, '[');
        for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(out, indent >= 0 ? "," : ", ");
            if (!rc) rc = json_newline(out, indent, depth + 1);
            if (!rc) rc = json_dump(out, v->u.seq.items[i], indent, ea, flags, depth + 1);
        }
        if (!rc) rc = json_newline(out, indent, depth);
        if (!rc) rc = buf_putc(out, ']');
        return rc;
    case PYV_DICT:
        if (v->u.dict.n == 0) return buf_puts(out, "{}");
        rc = buf_putc(out, '{');
        for (size_t i = 0; i < v->u.dict.n && !rc; i++) {
            if (i) rc = buf_puts(out, indent >= 0 ? "," : ", ");
            if (!rc) rc = json_newline(out, indent, depth + 1);
            if (!rc) rc = json_key(out, v->u.dict.keys[i], ea, flags);
            if (!rc) rc = buf_puts(out, ": ");
            if (!rc) rc = json_dump(out, v->u.dict.vals[i], indent, ea, flags, depth + 1);
        }
        if (!rc) rc = json_newline(out, indent, depth);
        if (!rc) rc = buf_putc(out, '}');
        return rc;
    }
    return ERR_INVALID;
}

int pyval_dump_json(buf *out, const pyval *v, int indent, bool ensure_ascii, unsigned flags)
{
    return json_dump(out, v, indent, ensure_ascii, flags, 0);
}
