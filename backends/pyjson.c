/* pyjson.c: a recursive-descent JSON reader and a writer that mimic Python's
 * json.loads / json.dumps. */
#include "pyjson.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/utf8.h"

#define MAX_DEPTH 500

/* ---- reading ---- */

typedef struct reader {
    const char *p;
    size_t pos, len;
    const char *where;
    arena *a;
    err *e;
} reader;

static int fail(reader *r, const char *what)
{
    return err_set(r->e, ERR_PARSE, "%s: %s at byte %zu", r->where, what, r->pos + 1);
}

static int oom(reader *r)
{
    return err_set(r->e, ERR_NOMEM, "%s: out of memory", r->where);
}

static void skip_ws(reader *r)
{
    while (r->pos < r->len) {
        char c = r->p[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        r->pos++;
    }
}

static bool match(reader *r, const char *word)
{
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->p + r->pos, word, n) != 0) return false;
    r->pos += n;
    return true;
}

static pyjson *node(reader *r, int kind)
{
    pyjson *v = arena_alloc(r->a, sizeof *v);
    if (v) v->kind = kind;
    return v;
}

static bool parse_hex4(const char *p, size_t avail, unsigned *out)
{
    if (avail < 4) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

/* Reads a string literal (r->pos at the opening quote) into arena memory. */
static int read_string(reader *r, const char **out, size_t *out_len)
{
    r->pos++; /* the quote */
    /* the decoded text is never longer than the literal */
    size_t start = r->pos;
    size_t end = start;
    while (end < r->len && r->p[end] != '"') end += r->p[end] == '\\' ? 2 : 1;
    if (end >= r->len) return fail(r, "unterminated string");
    char *o = arena_alloc(r->a, end - start + 1);
    if (!o) return oom(r);
    size_t n = 0;
    while (r->p[r->pos] != '"') {
        unsigned char c = (unsigned char)r->p[r->pos];
        if (c < 0x20) return fail(r, "control character in a string");
        if (c != '\\') {
            o[n++] = (char)c;
            r->pos++;
            continue;
        }
        r->pos++;
        char esc = r->p[r->pos++];
        switch (esc) {
        case '"':
            o[n++] = '"';
            break;
        case '\\':
            o[n++] = '\\';
            break;
        case '/':
            o[n++] = '/';
            break;
        case 'b':
            o[n++] = '\b';
            break;
        case 'f':
            o[n++] = '\f';
            break;
        case 'n':
            o[n++] = '\n';
            break;
        case 'r':
            o[n++] = '\r';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (!parse_hex4(r->p + r->pos, r->len - r->pos, &cp)) {
                r->pos -= 2;
                return fail(r, "invalid \\u escape");
            }
            r->pos += 4;
            /* a high surrogate followed by \u and a low one is one codepoint */
            if (cp >= 0xD800 && cp <= 0xDBFF && r->len - r->pos >= 6 && r->p[r->pos] == '\\' &&
                r->p[r->pos + 1] == 'u' && parse_hex4(r->p + r->pos + 2, 4, &lo) && lo >= 0xDC00 &&
                lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                r->pos += 6;
            }
            n += utf8_encode(o + n, cp);
            break;
        }
        default:
            r->pos--;
            return fail(r, "invalid escape");
        }
    }
    r->pos++; /* closing quote */
    o[n] = 0;
    *out = o;
    *out_len = n;
    return 0;
}

static int read_value(reader *r, pyjson **out, int depth);

static int read_number(reader *r, pyjson **out)
{
    size_t s = r->pos;
    bool is_float = false;
    if (r->p[r->pos] == '-') r->pos++;
    if (r->pos >= r->len || r->p[r->pos] < '0' || r->p[r->pos] > '9') {
        if (match(r, "Infinity")) {
            pyjson *v = node(r, PYJSON_FLOAT);
            if (!v) return oom(r);
            v->f = -INFINITY;
            *out = v;
            return 0;
        }
        return fail(r, "invalid number");
    }
    if (r->p[r->pos] == '0')
        r->pos++;
    else
        while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') r->pos++;
    if (r->pos + 1 < r->len && r->p[r->pos] == '.' && r->p[r->pos + 1] >= '0' &&
        r->p[r->pos + 1] <= '9') {
        is_float = true;
        r->pos++;
        while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') r->pos++;
    }
    if (r->pos < r->len && (r->p[r->pos] == 'e' || r->p[r->pos] == 'E')) {
        size_t save = r->pos++;
        if (r->pos < r->len && (r->p[r->pos] == '+' || r->p[r->pos] == '-')) r->pos++;
        if (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
            is_float = true;
            while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') r->pos++;
        } else {
            r->pos = save; /* "1e" is the number 1 followed by junk, as in Python */
        }
    }
    size_t n = r->pos - s;
    pyjson *v = node(r, is_float ? PYJSON_FLOAT : PYJSON_INT);
    if (!v) return oom(r);
    if (is_float) {
        char tmp[64];
        char *heap = NULL, *q = tmp;
        if (n >= sizeof tmp) q = heap = malloc(n + 1);
        if (!q) return oom(r);
        memcpy(q, r->p + s, n);
        q[n] = 0;
        v->f = strtod(q, NULL);
        free(heap);
    } else {
        if (n == 2 && r->p[s] == '-' && r->p[s + 1] == '0') {
            v->str = "0";
            v->len = 1;
        } else {
            v->str = arena_memdup(r->a, r->p + s, n);
            v->len = n;
            if (!v->str) return oom(r);
        }
    }
    *out = v;
    return 0;
}

static int read_array(reader *r, pyjson **out, int depth)
{
    r->pos++;
    pyjson *v = node(r, PYJSON_ARRAY);
    if (!v) return oom(r);
    size_t cap = 0;
    skip_ws(r);
    if (r->pos < r->len && r->p[r->pos] == ']') {
        r->pos++;
        *out = v;
        return 0;
    }
    for (;;) {
        pyjson *item;
        skip_ws(r);
        int rc = read_value(r, &item, depth + 1);
        if (rc) return rc;
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            pyjson **ni = arena_calloc(r->a, nc, sizeof *ni);
            if (!ni) return oom(r);
            if (v->n) memcpy(ni, v->items, v->n * sizeof *ni);
            v->items = ni;
            cap = nc;
        }
        v->items[v->n++] = item;
        skip_ws(r);
        if (r->pos >= r->len) return fail(r, "unterminated array");
        char c = r->p[r->pos++];
        if (c == ']') break;
        if (c != ',') {
            r->pos--;
            return fail(r, "expected ',' or ']'");
        }
    }
    *out = v;
    return 0;
}

static int read_object(reader *r, pyjson **out, int depth)
{
    r->pos++;
    pyjson *v = node(r, PYJSON_OBJECT);
    if (!v) return oom(r);
    size_t cap = 0;
    skip_ws(r);
    if (r->pos < r->len && r->p[r->pos] == '}') {
        r->pos++;
        *out = v;
        return 0;
    }
    for (;;) {
        skip_ws(r);
        if (r->pos >= r->len || r->p[r->pos] != '"') return fail(r, "expected a key string");
        const char *key;
        size_t klen;
        int rc = read_string(r, &key, &klen);
        if (rc) return rc;
        skip_ws(r);
        if (r->pos >= r->len || r->p[r->pos] != ':') return fail(r, "expected ':'");
        r->pos++;
        skip_ws(r);
        pyjson *item;
        rc = read_value(r, &item, depth + 1);
        if (rc) return rc;
        /* a repeated key keeps its place and takes the new value */
        size_t i;
        for (i = 0; i < v->n; i++)
            if (v->key_lens[i] == klen && memcmp(v->keys[i], key, klen) == 0) break;
        if (i < v->n) {
            v->items[i] = item;
        } else {
            if (v->n == cap) {
                size_t nc = cap ? cap * 2 : 4;
                pyjson **ni = arena_calloc(r->a, nc, sizeof *ni);
                const char **nk = arena_calloc(r->a, nc, sizeof *nk);
                size_t *nl = arena_calloc(r->a, nc, sizeof *nl);
                if (!ni || !nk || !nl) return oom(r);
                if (v->n) {
                    memcpy(ni, v->items, v->n * sizeof *ni);
                    memcpy(nk, v->keys, v->n * sizeof *nk);
                    memcpy(nl, v->key_lens, v->n * sizeof *nl);
                }
                v->items = ni;
                v->keys = nk;
                v->key_lens = nl;
                cap = nc;
            }
            v->keys[v->n] = key;
            v->key_lens[v->n] = klen;
            v->items[v->n++] = item;
        }
        skip_ws(r);
        if (r->pos >= r->len) return fail(r, "unterminated object");
        char c = r->p[r->pos++];
        if (c == '}') break;
        if (c != ',') {
            r->pos--;
            return fail(r, "expected ',' or '}'");
        }
    }
    *out = v;
    return 0;
}

static int read_value(reader *r, pyjson **out, int depth)
{
    if (depth > MAX_DEPTH) return fail(r, "nesting too deep");
    if (r->pos >= r->len) return fail(r, "expected a value");
    char c = r->p[r->pos];
    pyjson *v;
    switch (c) {
    case '{':
        return read_object(r, out, depth);
    case '[':
        return read_array(r, out, depth);
    case '"': {
        v = node(r, PYJSON_STRING);
        if (!v) return oom(r);
        int rc = read_string(r, &v->str, &v->len);
        if (rc) return rc;
        *out = v;
        return 0;
    }
    case 'n':
        if (!match(r, "null")) break;
        if (!(v = node(r, PYJSON_NULL))) return oom(r);
        *out = v;
        return 0;
    case 't':
    case 'f': {
        bool t = c == 't';
        if (!match(r, t ? "true" : "false")) break;
        if (!(v = node(r, PYJSON_BOOL))) return oom(r);
        v->b = t;
        *out = v;
        return 0;
    }
    case 'N':
        if (!match(r, "NaN")) break;
        if (!(v = node(r, PYJSON_FLOAT))) return oom(r);
        v->f = NAN;
        *out = v;
        return 0;
    case 'I':
        if (!match(r, "Infinity")) break;
        if (!(v = node(r, PYJSON_FLOAT))) return oom(r);
        v->f = INFINITY;
        *out = v;
        return 0;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return read_number(r, out);
    }
    return fail(r, "expected a value");
}

int pyjson_parse(const char *text, size_t len, const char *where, arena *a, pyjson **out, err *e)
{
    *out = NULL;
    reader r = {text ? text : "", 0, text ? len : 0, where ? where : "JSON", a, e};
    skip_ws(&r);
    pyjson *v;
    int rc = read_value(&r, &v, 0);
    if (rc) return rc;
    skip_ws(&r);
    if (r.pos < r.len) return fail(&r, "extra data");
    *out = v;
    return 0;
}

/* ---- writing ---- */

void pyjson_float_repr(double d, char out[32])
{
    if (isnan(d)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(d)) {
        strcpy(out, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0) {
        strcpy(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    /* the shortest digit string that reads back as d */
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d) break;
    }
    /* e is "[-]D[.DDD]e[+-]XX": collect the digits and the exponent */
    char digits[24];
    int nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int decpt = exp10 + 1; /* digits before the decimal point */
    char *o = out;
    if (neg) *o++ = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -decpt; i++) *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else if (decpt >= nd) {
            memcpy(o, digits, (size_t)nd);
            o += nd;
            for (int i = nd; i < decpt; i++) *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        } else {
            memcpy(o, digits, (size_t)decpt);
            o += decpt;
            *o++ = '.';
            memcpy(o, digits + decpt, (size_t)(nd - decpt));
            o += nd - decpt;
        }
        *o = 0;
        return;
    }
    *o++ = digits[0];
    if (nd > 1) {
        *o++ = '.';
        memcpy(o, digits + 1, (size_t)(nd - 1));
        o += nd - 1;
    }
    snprintf(o, 12, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
}

/* Python's json.dumps of a str given as bytes: sequences with lead bytes
 * 0xC2..0xF4 decode as they stand (surrogates, overlongs and values past
 * U+10FFFF included); other bytes pass through unescaped. */
static int dump_string(buf *out, const char *s, size_t n, bool ensure_ascii)
{
    return json_append_pystr(out, s, n, ensure_ascii, UTF8_SURROGATES | UTF8_UNCHECKED, false);
}

static int newline(buf *out, int indent, int depth)
{
    int rc = buf_putc(out, '\n');
    for (int i = 0; i < indent * depth && !rc; i++) rc = buf_putc(out, ' ');
    return rc;
}

static int dump(const pyjson *v, int indent, bool ea, int depth, buf *out)
{
    char tmp[32];
    switch (v->kind) {
    case PYJSON_NULL:
        return buf_puts(out, "null");
    case PYJSON_BOOL:
        return buf_puts(out, v->b ? "true" : "false");
    case PYJSON_INT:
        return buf_append(out, v->str, v->len);
    case PYJSON_FLOAT:
        pyjson_float_repr(v->f, tmp);
        return buf_puts(out, tmp);
    case PYJSON_STRING:
        return dump_string(out, v->str, v->len, ea);
    case PYJSON_ARRAY:
    case PYJSON_OBJECT:
        break;
    default:
        return ERR_INVALID;
    }
    bool obj = v->kind == PYJSON_OBJECT;
    if (!v->n) return buf_puts(out, obj ? "{}" : "[]");
    int rc = buf_putc(out, obj ? '{' : '[');
    for (size_t i = 0; i < v->n && !rc; i++) {
        if (i) rc = buf_puts(out, indent >= 0 ? "," : ", ");
        if (!rc && indent >= 0) rc = newline(out, indent, depth + 1);
        if (!rc && obj) {
            rc = dump_string(out, v->keys[i], v->key_lens[i], ea);
            if (!rc) rc = buf_puts(out, ": ");
        }
        if (!rc) rc = dump(v->items[i], indent, ea, depth + 1, out);
    }
    if (!rc && indent >= 0) rc = newline(out, indent, depth);
    if (!rc) rc = buf_putc(out, obj ? '}' : ']');
    return rc;
}

int pyjson_dump(const pyjson *v, int indent, bool ensure_ascii, buf *out)
{
    if (!v) return ERR_INVALID;
    return dump(v, indent, ensure_ascii, 0, out);
}

int pyjson_redump(const char *text, size_t len, const char *where, int indent, bool ensure_ascii,
                  buf *out, err *e)
{
    arena a = ARENA_INIT;
    pyjson *v;
    int rc = pyjson_parse(text, len, where, &a, &v, e);
    if (!rc) {
        rc = pyjson_dump(v, indent, ensure_ascii, out);
        if (rc) err_set(e, rc, "%s: output too large", where ? where : "JSON");
    }
    arena_release(&a);
    return rc;
}

const pyjson *pyjson_get(const pyjson *v, const char *key)
{
    if (!v || v->kind != PYJSON_OBJECT) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < v->n; i++)
        if (v->key_lens[i] == kl && memcmp(v->keys[i], key, kl) == 0) return v->items[i];
    return NULL;
}

bool pyjson_truthy(const pyjson *v)
{
    if (!v) return false;
    switch (v->kind) {
    case PYJSON_NULL:
        return false;
    case PYJSON_BOOL:
        return v->b;
    case PYJSON_INT:
        return !(v->len == 1 && v->str[0] == '0');
    case PYJSON_FLOAT:
        return v->f != 0;
    case PYJSON_STRING:
        return v->len > 0;
    default:
        return v->n > 0;
    }
}
