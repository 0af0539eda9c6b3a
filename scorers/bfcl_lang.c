/* bfcl_lang.c: Java/JavaScript value converters and the prompt-mode call parser for BFCL. */
#include "bfcl_lang.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================== */
/* text helpers                                                        */
/* ================================================================== */

typedef struct span {
    const char *p;
    size_t n;
} span;

static bool ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Python str.strip() (ASCII and Unicode whitespace). */
static span strip(span s)
{
    pyval_strip(&s.p, &s.n);
    return s;
}

static bool starts(span s, const char *w)
{
    size_t m = strlen(w);
    return s.n >= m && memcmp(s.p, w, m) == 0;
}

static bool ends(span s, const char *w)
{
    size_t m = strlen(w);
    return s.n >= m && memcmp(s.p + s.n - m, w, m) == 0;
}

static bool eq(span s, const char *w)
{
    return s.n == strlen(w) && memcmp(s.p, w, s.n) == 0;
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '_' || c == '$';
}

/* Python's `$` (without MULTILINE): the end, or just before a final "\n". */
static bool at_end(span s, size_t i)
{
    return i == s.n || (i + 1 == s.n && s.p[i] == '\n');
}

/* ^-?\d+(\.\d+)?([eE][+-]?\d+)?SUFFIX$ with the optional parts allowed as asked.
 * suffix: a set of characters one of which must follow, or NULL. */
static bool match_number(span s, bool frac, bool expo, const char *suffix)
{
    size_t i = 0;
    if (i < s.n && s.p[i] == '-') i++;
    size_t d0 = i;
    while (i < s.n && digit(s.p[i])) i++;
    if (i == d0) return false;
    if (frac && i + 1 < s.n && s.p[i] == '.' && digit(s.p[i + 1])) {
        i += 2;
        while (i < s.n && digit(s.p[i])) i++;
    }
    if (expo && i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
        size_t j = i + 1;
        if (j < s.n && (s.p[j] == '+' || s.p[j] == '-')) j++;
        if (j < s.n && digit(s.p[j])) {
            while (j < s.n && digit(s.p[j])) j++;
            i = j;
        }
    }
    if (suffix) {
        if (i >= s.n || !strchr(suffix, s.p[i]) || !s.p[i]) return false;
        i++;
    }
    return at_end(s, i);
}

static pyval *mkstr(arena *a, span s)
{
    return pyval_str(a, s.p, s.n);
}

/* Python int(text) for base 10: surrounding whitespace, a sign, digits with
 * single underscores between them. NULL when Python would raise. */
static pyval *py_int(arena *a, span s, bool *ok)
{
    *ok = false;
    s = strip(s);
    size_t i = 0;
    bool neg = false;
    if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) neg = s.p[i++] == '-';
    if (i >= s.n || !digit(s.p[i])) return NULL;
    char *d = arena_alloc(a, s.n + 1);
    if (!d) return NULL;
    size_t k = 0;
    for (; i < s.n; i++) {
        if (s.p[i] == '_') {
            if (i + 1 >= s.n || !digit(s.p[i + 1]) || !digit(s.p[i - 1])) return NULL;
            continue;
        }
        if (!digit(s.p[i])) return NULL;
        d[k++] = s.p[i];
    }
    if (k > PYVAL_MAX_INT_DIGITS) return NULL;
    *ok = true;
    return pyval_int_dec(a, d, k, neg);
}

/* Python float(text): whitespace, sign, decimal digits with underscores,
 * exponent, or inf/infinity/nan in any case. */
static pyval *py_float(arena *a, span s, bool *ok)
{
    *ok = false;
    s = strip(s);
    size_t i = 0;
    char *d = arena_alloc(a, s.n + 2);
    if (!d) return NULL;
    size_t k = 0;
    if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) d[k++] = s.p[i++];
    span rest = {s.p + i, s.n - i};
    static const char *const specials[] = {"inf", "infinity", "nan"};
    for (size_t m = 0; m < 3; m++)
        if (rest.n == strlen(specials[m]) && strncasecmp(rest.p, specials[m], rest.n) == 0) {
            memcpy(d + k, rest.p, rest.n);
            d[k + rest.n] = 0;
            *ok = true;
            return pyval_float(a, strtod(d, NULL));
        }
    bool any = false;
    /* digits [. digits] or . digits, underscores only between digits */
    for (int part = 0; part < 2; part++) {
        if (part == 1) {
            if (i < s.n && s.p[i] == '.')
                d[k++] = s.p[i++];
            else
                break;
        }
        size_t d0 = i;
        while (i < s.n && (digit(s.p[i]) || s.p[i] == '_')) {
            if (s.p[i] == '_') {
                if (i == d0 || i + 1 >= s.n || !digit(s.p[i + 1])) return NULL;
            } else {
                d[k++] = s.p[i];
                any = true;
            }
            i++;
        }
    }
    if (!any) return NULL;
    if (i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
        d[k++] = s.p[i++];
        if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) d[k++] = s.p[i++];
        size_t d0 = i;
        while (i < s.n && (digit(s.p[i]) || s.p[i] == '_')) {
            if (s.p[i] == '_') {
                if (i == d0 || i + 1 >= s.n || !digit(s.p[i + 1])) return NULL;
            } else {
                d[k++] = s.p[i];
            }
            i++;
        }
        if (i == d0) return NULL;
    }
    if (i != s.n) return NULL;
    d[k] = 0;
    *ok = true;
    return pyval_float(a, strtod(d, NULL));
}

/* Scans past a quoted literal starting at s[i] (the quote); returns the index
 * after the closing quote, or (size_t)-1 when it never closes. */
static size_t skip_quoted(span s, size_t i)
{
    char q = s.p[i++];
    while (i < s.n) {
        if (s.p[i] == '\\') {
            i += 2;
            continue;
        }
        if (s.p[i] == q) return i + 1;
        i++;
    }
    return (size_t)-1;
}

/* Generic type arguments: '<' right after an identifier, closed by a matching
 * '>' with only names, dots, commas, '?', brackets and spaces between.
 * Returns the index after the '>' or 0 when this '<' is not one. */
static size_t skip_generic(span s, size_t i)
{
    if (i == 0 || !ident_char(s.p[i - 1])) return 0;
    int depth = 0;
    for (size_t j = i; j < s.n; j++) {
        char c = s.p[j];
        if (c == '<')
            depth++;
        else if (c == '>') {
            if (--depth == 0) return j + 1;
        } else if (!(ident_char(c) || c == '.' || c == ',' || c == '?' || c == '[' || c == ']' ||
                     c == ' ' || c == '&')) {
            return 0;
        }
    }
    return 0;
}

/* Scans from s[i] to the first top-level character of `stops` (or the end when
 * stops is ""), balancing brackets and skipping strings. Returns its index;
 * (size_t)-1 on unbalanced text. */
static size_t scan_to(span s, size_t i, const char *stops, const char *quotes)
{
    char stack[256];
    size_t depth = 0;
    while (i < s.n) {
        char c = s.p[i];
        if (depth == 0 && c && strchr(stops, c)) return i;
        if (c && strchr(quotes, c)) {
            size_t j = skip_quoted(s, i);
            if (j == (size_t)-1) return (size_t)-1;
            i = j;
            continue;
        }
        if (c == '<') {
            size_t j = skip_generic(s, i);
            if (j) {
                i = j;
                continue;
            }
        }
        if (c == '(' || c == '[' || c == '{') {
            if (depth == sizeof stack) return (size_t)-1;
            stack[depth++] = c;
        } else if (c == ')' || c == ']' || c == '}') {
            char want = c == ')' ? '(' : c == ']' ? '[' : '{';
            if (depth == 0 || stack[depth - 1] != want) return (size_t)-1;
            depth--;
        }
        i++;
    }
    return depth == 0 ? i : (size_t)-1;
}

/* Splits s on top-level `sep` (brackets and strings respected). */
typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int spans_push(spans *x, span s)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8;
        span *nv = realloc(x->v, cap * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        x->v = nv;
        x->cap = cap;
    }
    x->v[x->n++] = s;
    return 0;
}

/* Returns 0, ERR_NOMEM, or 1 when the text is unbalanced. */
static int split_top(span s, char sep, const char *quotes, spans *out)
{
    char stops[2] = {sep, 0};
    size_t i = 0;
    for (;;) {
        size_t j = scan_to(s, i, stops, quotes);
        if (j == (size_t)-1) return 1;
        if (spans_push(out, (span){s.p + i, j - i}) < 0) return ERR_NOMEM;
        if (j >= s.n) return 0;
        i = j + 1;
    }
}

/* Python's str.split(",") (no bracket awareness). */
static int split_plain(span s, char sep, spans *out)
{
    size_t i = 0;
    for (size_t j = 0; j <= s.n; j++)
        if (j == s.n || s.p[j] == sep) {
            if (spans_push(out, (span){s.p + i, j - i}) < 0) return ERR_NOMEM;
            i = j + 1;
        }
    return 0;
}

static pyval *list_of(arena *a, pyval **items, size_t n)
{
    return pyval_list(a, items, n);
}

/* ================================================================== */
/* Java                                                                */
/* ================================================================== */

/* parse_java_value: a HashMap value (or an element without an item type) by its shape. */
static pyval *java_by_shape(arena *a, span v)
{
    v = strip(v);
    bool ok;
    if (eq(v, "true") || eq(v, "false")) return pyval_bool(a, v.p[0] == 't');
    if (v.n >= 1 && v.p[0] == '"' && v.p[v.n - 1] == '"')
        return pyval_str(a, v.p + 1, v.n >= 2 ? v.n - 2 : 0);
    if (v.n >= 2 && v.p[v.n - 1] == 'L') {
        span d = {v.p, v.n - 1};
        bool all = d.n > 0;
        for (size_t i = 0; i < d.n; i++) all &= digit(d.p[i]);
        if (all) return py_int(a, d, &ok);
    }
    if (match_number(v, true, true, "fF")) {
        pyval *f = py_float(a, (span){v.p, v.n - 1 - (v.p[v.n - 1] == '\n')}, &ok);
        if (ok) return f;
    }
    pyval *i = py_int(a, v, &ok);
    if (ok) return i;
    pyval *f = py_float(a, v, &ok);
    if (ok) return f;
    return mkstr(a, v);
}

static bool is_type(const char *t, const char *w)
{
    return t && strcmp(t, w) == 0;
}

/* After "new" + spaces + `word` + optional generic args, at '('. Returns the
 * index of '(' or 0. */
static size_t after_new(span t, const char *word)
{
    if (!starts(t, "new")) return 0;
    size_t i = 3, m = strlen(word);
    if (i >= t.n || !ws(t.p[i])) return 0;
    while (i < t.n && ws(t.p[i])) i++;
    if (t.n - i < m || memcmp(t.p + i, word, m) != 0) return 0;
    i += m;
    if (i < t.n && ident_char(t.p[i])) return 0;
    while (i < t.n && ws(t.p[i])) i++;
    if (i < t.n && t.p[i] == '<') {
        int depth = 0;
        for (; i < t.n; i++) {
            if (t.p[i] == '<')
                depth++;
            else if (t.p[i] == '>' && --depth == 0)
                break;
        }
        if (i >= t.n) return 0;
        i++;
        while (i < t.n && ws(t.p[i])) i++;
    }
    return i < t.n && t.p[i] == '(' ? i : 0;
}

static int java_elems(arena *a, spans *parts, const char *item, bool drop_empty, pyval **out,
                      err *e)
{
    pyval **items = parts->n ? arena_calloc(a, parts->n, sizeof *items) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < parts->n; i++) {
        span el = strip(parts->v[i]);
        if (drop_empty && el.n == 0) continue;
        pyval *v;
        if (is_type(item, "String") || is_type(item, "char")) {
            v = pyval_str(a, el.p + (el.n ? 1 : 0), el.n >= 2 ? el.n - 2 : 0);
        } else if (item) {
            int rc = bfcl_java_convert(a, el.p, el.n, item, NULL, &v, e);
            if (rc < 0) return rc;
        } else {
            v = java_by_shape(a, el);
        }
        if (!v) return err_set(e, ERR_NOMEM, "out of memory");
        items[k++] = v;
    }
    *out = list_of(a, items, k);
    return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int java_arraylist(arena *a, span text, const char *item, pyval **out, err *e)
{
    span t = strip(text);
    size_t lp = after_new(t, "ArrayList");
    const char *q = "\"'";
    if (!lp) goto as_text;
    size_t rp = scan_to(t, lp + 1, ")", q);
    if (rp == (size_t)-1 || rp >= t.n) goto as_text;
    span inner = strip((span){t.p + lp + 1, rp - lp - 1});
    span after = strip((span){t.p + rp + 1, t.n - rp - 1});
    spans parts = {0};
    int rc = 0;
    if (starts(inner, "Arrays.asList(") && ends(inner, ")") && after.n == 0) {
        span el = {inner.p + 14, inner.n - 15};
        if (strip(el).n == 0) return (*out = list_of(a, NULL, 0)) ? 0 : ERR_NOMEM;
        if ((rc = split_plain(el, ',', &parts)) < 0) goto nomem;
        rc = java_elems(a, &parts, item, false, out, e);
        free(parts.v);
        return rc;
    }
    if (inner.n != 0) goto as_text;
    if (after.n == 0) return (*out = list_of(a, NULL, 0)) ? 0 : ERR_NOMEM;
    if (!starts(after, "{{") || !ends(after, "}}") || after.n < 4) goto as_text;
    {
        span body = {after.p + 2, after.n - 4};
        size_t i = 0;
        while (i < body.n) {
            const char *hit = NULL;
            for (size_t j = i; j + 4 <= body.n; j++)
                if (memcmp(body.p + j, "add(", 4) == 0 && (j == 0 || !ident_char(body.p[j - 1]))) {
                    hit = body.p + j;
                    break;
                }
            if (!hit) break;
            size_t st = (size_t)(hit - body.p) + 4;
            size_t en = scan_to(body, st, ")", q);
            if (en == (size_t)-1 || en >= body.n) {
                free(parts.v);
                goto as_text;
            }
            if (spans_push(&parts, (span){body.p + st, en - st}) < 0) goto nomem;
            i = en + 1;
        }
        rc = java_elems(a, &parts, item, false, out, e);
        free(parts.v);
        return rc;
    }
nomem:
    free(parts.v);
    return err_set(e, ERR_NOMEM, "out of memory");
as_text:
    return (*out = mkstr(a, text)) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int java_array(arena *a, span text, const char *item, pyval **out, err *e)
{
    span t = strip(text);
    if (!starts(t, "new") || t.n < 4 || !ws(t.p[3])) goto as_text;
    {
        size_t i = 3;
        while (i < t.n && ws(t.p[i])) i++;
        size_t w0 = i;
        while (i < t.n && ident_char(t.p[i])) i++;
        if (i == w0) goto as_text;
        while (i < t.n && ws(t.p[i])) i++;
        if (t.n - i < 2 || t.p[i] != '[' || t.p[i + 1] != ']') goto as_text;
        i += 2;
        while (i < t.n && ws(t.p[i])) i++;
        if (i >= t.n || t.p[i] != '{' || t.p[t.n - 1] != '}') goto as_text;
        span body = {t.p + i + 1, t.n - i - 2};
        spans parts = {0};
        if (split_plain(body, ',', &parts) < 0) {
            free(parts.v);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        /* items keep their own text for String (BFCL converts them as String: unchanged) */
        int rc;
        if (is_type(item, "String") || is_type(item, "char")) {
            pyval **items = parts.n ? arena_calloc(a, parts.n, sizeof *items) : NULL;
            size_t k = 0;
            for (size_t m = 0; m < parts.n; m++) {
                span el = strip(parts.v[m]);
                if (el.n) items[k++] = mkstr(a, el);
            }
            *out = list_of(a, items, k);
            rc = *out ? 0 : ERR_NOMEM;
        } else {
            rc = java_elems(a, &parts, item, true, out, e);
        }
        free(parts.v);
        return rc;
    }
as_text:
    return (*out = mkstr(a, text)) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int java_hashmap(arena *a, span text, pyval **out, err *e)
{
    span t = strip(text);
    size_t lp = after_new(t, "HashMap");
    const char *q = "\"'";
    if (!lp) goto as_text;
    size_t i = lp + 1;
    while (i < t.n && ws(t.p[i])) i++;
    if (i >= t.n || t.p[i] != ')') goto as_text;
    span after = strip((span){t.p + i + 1, t.n - i - 1});
    pyval *d = pyval_dict(a);
    if (!d) return err_set(e, ERR_NOMEM, "out of memory");
    if (after.n == 0) {
        *out = d;
        return 0;
    }
    if (!starts(after, "{{") || !ends(after, "}}") || after.n < 4) goto as_text;
    span body = {after.p + 2, after.n - 4};
    size_t p = 0;
    for (;;) {
        const char *hit = NULL;
        for (size_t j = p; j + 4 <= body.n; j++)
            if (memcmp(body.p + j, "put(", 4) == 0 && (j == 0 || !ident_char(body.p[j - 1]))) {
                hit = body.p + j;
                break;
            }
        if (!hit) break;
        size_t k = (size_t)(hit - body.p) + 4;
        while (k < body.n && ws(body.p[k])) k++;
        if (k >= body.n || body.p[k] != '"') goto as_text;
        size_t ke = k + 1;
        while (ke < body.n && body.p[ke] != '"') ke++;
        if (ke >= body.n) goto as_text;
        span key = {body.p + k + 1, ke - k - 1};
        size_t c = ke + 1;
        while (c < body.n && ws(body.p[c])) c++;
        if (c >= body.n || body.p[c] != ',') goto as_text;
        size_t ve = scan_to(body, c + 1, ")", q);
        if (ve == (size_t)-1 || ve >= body.n) goto as_text;
        pyval *kv = mkstr(a, key), *vv = java_by_shape(a, (span){body.p + c + 1, ve - c - 1});
        if (!kv || !vv || pyval_dict_set(a, d, kv, vv) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        p = ve + 1;
    }
    *out = d;
    return 0;
as_text:
    return (*out = mkstr(a, text)) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

int bfcl_java_convert(arena *a, const char *text, size_t n, const char *type, const char *item_type,
                      pyval **out, err *e)
{
    span s = {text, n};
    bool ok = true;
    pyval *v = NULL;
    if (!type) return err_set(e, ERR_UNSUPPORTED, "java_type_converter: no type");
    if (is_type(type, "byte") || is_type(type, "short") || is_type(type, "integer")) {
        v = match_number(s, false, false, NULL) ? py_int(a, s, &ok) : NULL;
    } else if (is_type(type, "long")) {
        if (match_number(s, false, false, "lL")) {
            span d = {s.p, s.n - 1 - (s.p[s.n - 1] == '\n')};
            v = py_int(a, d, &ok);
        }
    } else if (is_type(type, "float")) {
        if (match_number(s, true, true, "fF")) {
            span d = {s.p, s.n - 1 - (s.p[s.n - 1] == '\n')};
            v = py_float(a, d, &ok);
        }
    } else if (is_type(type, "double")) {
        if (match_number(s, true, true, NULL)) v = py_float(a, s, &ok);
    } else if (is_type(type, "boolean")) {
        if (eq(s, "true") || eq(s, "false")) v = pyval_bool(a, s.p[0] == 't');
    } else if (is_type(type, "char") || is_type(type, "String") || is_type(type, "any")) {
        /* char's pattern in BFCL never matches: the text stays as it is */
    } else if (is_type(type, "ArrayList")) {
        return java_arraylist(a, s, item_type, out, e);
    } else if (is_type(type, "Array")) {
        return java_array(a, s, item_type, out, e);
    } else if (is_type(type, "HashMap")) {
        return java_hashmap(a, s, out, e);
    } else {
        return err_set(e, ERR_UNSUPPORTED, "java_type_converter: no conversion for type \"%s\"",
                       type);
    }
    if (!v || !ok) v = mkstr(a, s);
    *out = v;
    return v ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* ================================================================== */
/* JavaScript                                                          */
/* ================================================================== */

static pyval *js_by_shape(arena *a, span v)
{
    v = strip(v);
    bool ok;
    if (eq(v, "true") || eq(v, "false")) return pyval_bool(a, v.p[0] == 't');
    if (v.n >= 1 &&
        ((v.p[0] == '"' && v.p[v.n - 1] == '"') || (v.p[0] == '\'' && v.p[v.n - 1] == '\'')))
        return pyval_str(a, v.p + 1, v.n >= 2 ? v.n - 2 : 0);
    pyval *i = py_int(a, v, &ok);
    if (ok) return i;
    pyval *f = py_float(a, v, &ok);
    if (ok) return f;
    return mkstr(a, v);
}

static int js_array(arena *a, span text, const char *item, pyval **out, err *e);
static int js_dict(arena *a, span text, pyval **out, err *e);

static const char js_quotes[] = "\"'`";

static int js_array(arena *a, span text, const char *item, pyval **out, err *e)
{
    span t = strip(text), inner;
    if (t.n >= 2 && t.p[0] == '[' && t.p[t.n - 1] == ']') {
        inner = (span){t.p + 1, t.n - 2};
    } else if (starts(t, "new Array(") && ends(t, ")")) {
        inner = (span){t.p + 10, t.n - 11};
    } else {
        return (*out = mkstr(a, text)) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    }
    span in = strip(inner);
    spans parts = {0};
    int rc = 0;
    if (in.n == 0) return (*out = list_of(a, NULL, 0)) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    bool two_d = in.p[0] == '[';
    int sr = two_d ? split_top(in, ',', js_quotes, &parts) : split_plain(inner, ',', &parts);
    if (sr < 0) goto nomem;
    if (sr > 0) {
        free(parts.v);
        return (*out = mkstr(a, text)) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    }
    pyval **items = arena_calloc(a, parts.n, sizeof *items);
    if (!items) goto nomem;
    for (size_t i = 0; i < parts.n; i++) {
        span el = strip(parts.v[i]);
        if (two_d && el.n && el.p[0] == '[')
            rc = js_array(a, el, item, &items[i], e);
        else if (item)
            rc = bfcl_js_convert(a, el.p, el.n, item, NULL, &items[i], e);
        else
            items[i] = js_by_shape(a, el);
        if (rc < 0) goto out;
        if (!items[i]) goto nomem;
    }
    *out = list_of(a, items, parts.n);
    if (!*out) goto nomem;
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    free(parts.v);
    return rc;
}

static int js_dict(arena *a, span text, pyval **out, err *e)
{
    span t = strip(text);
    spans parts = {0};
    int rc = 0;
    pyval *d = pyval_dict(a);
    if (!d) return err_set(e, ERR_NOMEM, "out of memory");
    if (eq(t, "{}")) {
        *out = d;
        return 0;
    }
    if (t.n < 2 || t.p[0] != '{' || t.p[t.n - 1] != '}') goto as_text;
    int sr = split_top((span){t.p + 1, t.n - 2}, ',', js_quotes, &parts);
    if (sr < 0) goto nomem;
    if (sr > 0) goto as_text;
    for (size_t i = 0; i < parts.n; i++) {
        span pair = strip(parts.v[i]);
        if (pair.n == 0 && i + 1 == parts.n && i > 0) break; /* a trailing comma */
        size_t c = scan_to(pair, 0, ":", js_quotes);
        if (c == (size_t)-1 || c >= pair.n) goto as_text;
        span k = strip((span){pair.p, c}), v = strip((span){pair.p + c + 1, pair.n - c - 1});
        while (k.n && (k.p[0] == '"' || k.p[0] == '\'')) {
            k.p++;
            k.n--;
        }
        while (k.n && (k.p[k.n - 1] == '"' || k.p[k.n - 1] == '\'')) k.n--;
        pyval *kv = mkstr(a, k), *vv = NULL;
        if (v.n && v.p[0] == '[')
            rc = js_array(a, v, NULL, &vv, e);
        else if (v.n && v.p[0] == '{')
            rc = js_dict(a, v, &vv, e);
        else
            vv = js_by_shape(a, v);
        if (rc < 0) goto out;
        if (!kv || !vv || pyval_dict_set(a, d, kv, vv) < 0) goto nomem;
    }
    *out = d;
    goto out;
as_text:
    *out = mkstr(a, text);
    if (!*out) goto nomem;
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    free(parts.v);
    return rc;
}

int bfcl_js_convert(arena *a, const char *text, size_t n, const char *type, const char *item_type,
                    pyval **out, err *e)
{
    span s = {text, n};
    bool ok = true;
    pyval *v = NULL;
    if (!type) return err_set(e, ERR_UNSUPPORTED, "js_type_converter: no type");
    if (is_type(type, "String")) {
        if (s.n >= 1 &&
            ((s.p[0] == '"' && s.p[s.n - 1] == '"') || (s.p[0] == '\'' && s.p[s.n - 1] == '\'')))
            v = pyval_str(a, s.p + 1, s.n >= 2 ? s.n - 2 : 0);
    } else if (is_type(type, "integer")) {
        if (match_number(s, false, false, NULL)) v = py_int(a, s, &ok);
    } else if (is_type(type, "float")) {
        if (match_number(s, true, false, NULL)) v = py_float(a, s, &ok);
    } else if (is_type(type, "Bigint")) {
        if (match_number(s, false, false, "n"))
            v = py_int(a, (span){s.p, s.n - 1 - (s.p[s.n - 1] == '\n')}, &ok);
    } else if (is_type(type, "Boolean")) {
        if (eq(s, "true") || eq(s, "false")) v = pyval_bool(a, s.p[0] == 't');
    } else if (is_type(type, "any")) {
    } else if (is_type(type, "array")) {
        return js_array(a, s, item_type, out, e);
    } else if (is_type(type, "dict")) {
        return js_dict(a, s, out, e);
    } else {
        return err_set(e, ERR_UNSUPPORTED, "js_type_converter: no conversion for type \"%s\"",
                       type);
    }
    if (!v || !ok) v = mkstr(a, s);
    *out = v;
    return v ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* ================================================================== */
/* prompt-mode calls                                                   */
/* ================================================================== */

static int pfail(err *e, size_t pos, const char *what)
{
    return err_set(e, ERR_PARSE, "byte %zu: %s", pos + 1, what);
}

/* A value that is exactly one string literal loses its quotes (escapes stay as written). */
static span unquote_literal(span v, const char *quotes)
{
    if (v.n >= 2 && v.p[0] && strchr(quotes, v.p[0]) && skip_quoted(v, 0) == v.n)
        return (span){v.p + 1, v.n - 2};
    return v;
}

int bfcl_lang_parse_calls(const char *text, size_t n, bfcl_lang lang, arena *a, pyval **out,
                          size_t *positional_out, err *e)
{
    if (positional_out) *positional_out = 0;
    span s = {text, n};
    /* Java: '...' are char literals (kept as text), JS: '...' and `...` are strings */
    const char *scan_q = lang == BFCL_JAVA ? "\"'" : js_quotes;
    const char *str_q = lang == BFCL_JAVA ? "\"" : js_quotes;
    size_t i = 0, ncalls = 0, cap = 0;
    pyval **calls = NULL;
    int rc = 0;
    while (i < s.n && ws(s.p[i])) i++;
    while (i < s.n) {
        /* the dotted name */
        size_t n0 = i;
        for (;;) {
            size_t w0 = i;
            if (i < s.n && (digit(s.p[i]) || !ident_char(s.p[i]))) {
                rc = pfail(e, i, "expected a function name");
                goto out;
            }
            while (i < s.n && ident_char(s.p[i])) i++;
            if (i == w0) {
                rc = pfail(e, i, "expected a function name");
                goto out;
            }
            if (i < s.n && s.p[i] == '.') {
                i++;
                continue;
            }
            break;
        }
        pyval *name = pyval_str(a, s.p + n0, i - n0);
        while (i < s.n && ws(s.p[i])) i++;
        if (i >= s.n || s.p[i] != '(') {
            rc = pfail(e, i, "expected '(' after the function name");
            goto out;
        }
        i++;
        pyval *args = pyval_dict(a);
        if (!name || !args) goto nomem;
        for (;;) {
            while (i < s.n && ws(s.p[i])) i++;
            if (i < s.n && s.p[i] == ')') {
                i++;
                break;
            }
            /* name = value ? */
            size_t k = i;
            while (k < s.n && ident_char(s.p[k])) k++;
            size_t kend = k;
            while (k < s.n && ws(s.p[k])) k++;
            bool named = kend > i && !digit(s.p[i]) && k < s.n && s.p[k] == '=' &&
                         (k + 1 >= s.n || (s.p[k + 1] != '=' && s.p[k + 1] != '>'));
            size_t v0 = named ? k + 1 : i;
            size_t v1 = scan_to(s, v0, ",)", scan_q);
            if (v1 == (size_t)-1 || v1 >= s.n) {
                rc = pfail(e, v0, "unbalanced brackets or an unterminated string in the arguments");
                goto out;
            }
            span v = strip((span){s.p + v0, v1 - v0});
            if (v.n == 0) {
                rc = pfail(e, v0, "an argument has no value");
                goto out;
            }
            if (!named && positional_out) (*positional_out)++;
            if (named) {
                span u = unquote_literal(v, str_q);
                pyval *kv = pyval_str(a, s.p + i, kend - i), *vv = mkstr(a, u);
                if (!kv || !vv || pyval_dict_set(a, args, kv, vv) < 0) goto nomem;
            }
            i = v1;
            if (s.p[i] == ',') {
                i++;
                continue;
            }
            i++; /* ) */
            break;
        }
        pyval *call = pyval_dict(a);
        if (!call || pyval_dict_set(a, call, name, args) < 0) goto nomem;
        if (ncalls == cap) {
            cap = cap ? cap * 2 : 4;
            pyval **nc = realloc(calls, cap * sizeof *nc);
            if (!nc) goto nomem;
            calls = nc;
        }
        calls[ncalls++] = call;
        while (i < s.n && ws(s.p[i])) i++;
        if (i < s.n && s.p[i] == ',') {
            i++;
            while (i < s.n && ws(s.p[i])) i++;
            if (i >= s.n) {
                rc = pfail(e, i, "expected a call after ','");
                goto out;
            }
            continue;
        }
        if (i < s.n && s.p[i] == ';') {
            i++;
            while (i < s.n && ws(s.p[i])) i++;
        }
        if (i < s.n) {
            rc = pfail(e, i, "unexpected text after a call");
            goto out;
        }
    }
    *out = pyval_list(a, calls, ncalls);
    if (!*out) goto nomem;
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    free(calls);
    return rc;
}
