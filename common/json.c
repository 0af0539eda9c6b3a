/* json.c: cJSON helpers. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "utf8.h"

int json_parse(const char *text, size_t len, const char *where, cJSON **out, err *e)
{
    *out = NULL;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!v) {
        size_t col = end && end >= text ? (size_t)(end - text) : 0;
        if (!end) {
            const char *ep = cJSON_GetErrorPtr();
            if (ep && ep >= text && ep <= text + len) col = (size_t)(ep - text);
        }
        return err_set(e, ERR_PARSE, "%s: invalid JSON near byte %zu", where, col + 1);
    }
    /* allow trailing whitespace only */
    const char *p = end ? end : text + len;
    while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == 0)) {
        if (*p == 0 && p + 1 == text + len) break;
        p++;
    }
    if (p < text + len && *p != 0) {
        cJSON_Delete(v);
        return err_set(e, ERR_PARSE, "%s: unexpected text after the JSON value at byte %zu",
                       where, (size_t)(p - text) + 1);
    }
    *out = v;
    return 0;
}

int json_parse_file(const char *path, cJSON **out, err *e)
{
    buf b = BUF_INIT;
    int rc = file_read_all(path, &b, e);
    if (rc == 0) rc = json_parse(b.data, b.len, path, out, e);
    buf_release(&b);
    return rc;
}

const char *json_type_name(const cJSON *v)
{
    if (!v) return "nothing";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "invalid";
}

static int get_field(const cJSON *obj, const char *key, const char *where, const cJSON **out,
                     err *e)
{
    if (!cJSON_IsObject(obj))
        return err_set(e, ERR_PARSE, "%s: expected a JSON object, got %s", where,
                       json_type_name(obj));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return err_set(e, ERR_PARSE, "%s: field \"%s\" is missing", where, key);
    *out = v;
    return 0;
}

static int wrong_type(const char *where, const char *key, const char *want, const cJSON *v,
                      err *e)
{
    return err_set(e, ERR_PARSE, "%s: field \"%s\" is not %s (got %s)", where, key, want,
                   json_type_name(v));
}

int json_get_str(const cJSON *obj, const char *key, const char *where, const char **out, err *e)
{
    const cJSON *v = NULL;
    int rc = get_field(obj, key, where, &v, e);
    if (rc) return rc;
    if (!cJSON_IsString(v)) return wrong_type(where, key, "a string", v, e);
    *out = v->valuestring;
    return 0;
}

int json_opt_str(const cJSON *obj, const char *key, const char *where, const char **out, err *e)
{
    *out = NULL;
    if (!cJSON_IsObject(obj))
        return err_set(e, ERR_PARSE, "%s: expected a JSON object, got %s", where,
                       json_type_name(obj));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return wrong_type(where, key, "a string", v, e);
    *out = v->valuestring;
    return 0;
}

int json_get_num(const cJSON *obj, const char *key, const char *where, double *out, err *e)
{
    const cJSON *v = NULL;
    int rc = get_field(obj, key, where, &v, e);
    if (rc) return rc;
    if (!cJSON_IsNumber(v)) return wrong_type(where, key, "a number", v, e);
    *out = v->valuedouble;
    return 0;
}

int json_get_int(const cJSON *obj, const char *key, const char *where, int64_t lo, int64_t hi,
                 int64_t *out, err *e)
{
    double d;
    int rc = json_get_num(obj, key, where, &d, e);
    if (rc) return rc;
    if (d != floor(d) || d < (double)lo || d > (double)hi)
        return err_set(e, ERR_PARSE, "%s: field \"%s\" must be an integer in [%lld, %lld] (got %g)",
                       where, key, (long long)lo, (long long)hi, d);
    *out = (int64_t)d;
    return 0;
}

int json_get_bool(const cJSON *obj, const char *key, const char *where, bool *out, err *e)
{
    const cJSON *v = NULL;
    int rc = get_field(obj, key, where, &v, e);
    if (rc) return rc;
    if (!cJSON_IsBool(v)) return wrong_type(where, key, "a boolean", v, e);
    *out = cJSON_IsTrue(v);
    return 0;
}

int json_get_array(const cJSON *obj, const char *key, const char *where, const cJSON **out,
                   err *e)
{
    const cJSON *v = NULL;
    int rc = get_field(obj, key, where, &v, e);
    if (rc) return rc;
    if (!cJSON_IsArray(v)) return wrong_type(where, key, "an array", v, e);
    *out = v;
    return 0;
}

int json_get_object(const cJSON *obj, const char *key, const char *where, const cJSON **out,
                    err *e)
{
    const cJSON *v = NULL;
    int rc = get_field(obj, key, where, &v, e);
    if (rc) return rc;
    if (!cJSON_IsObject(v)) return wrong_type(where, key, "an object", v, e);
    *out = v;
    return 0;
}

const cJSON *json_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

const char *json_str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = json_at(o, a, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

int json_int_at(const cJSON *o, const char *a, const char *b, int dflt)
{
    const cJSON *x = json_at(o, a, b);
    return cJSON_IsNumber(x) ? x->valueint : dflt;
}

double json_num_at(const cJSON *o, const char *a, const char *b, double dflt)
{
    const cJSON *x = json_at(o, a, b);
    return cJSON_IsNumber(x) ? x->valuedouble : dflt;
}

int json_append_str(buf *out, const char *s, size_t n)
{
    int rc = buf_putc(out, '"');
    const char *run = s;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                esc = tmp;
            }
        }
        if (esc) {
            rc = buf_append(out, run, (size_t)(s + i - run));
            if (!rc) rc = buf_puts(out, esc);
            run = s + i + 1;
        }
    }
    if (!rc) rc = buf_append(out, run, (size_t)(s + n - run));
    if (!rc) rc = buf_putc(out, '"');
    return rc;
}

int json_append_pystr(buf *out, const char *s, size_t n, bool ensure_ascii, unsigned utf8_flags,
                      bool replace_invalid)
{
    int rc = buf_putc(out, '"');
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        }
        if (esc) {
            rc = buf_puts(out, esc);
            i++;
            continue;
        }
        if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
            rc = buf_printf(out, "\\u%04x", c);
            i++;
            continue;
        }
        if (c < 0x80) {
            rc = buf_putc(out, (char)c);
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t len = utf8_decode(s + i, n - i, utf8_flags, &cp);
        if (!len) {
            if (!replace_invalid) {
                rc = buf_putc(out, (char)c);
                i++;
                continue;
            }
            cp = 0xFFFD;
            len = 1;
        } else if (!ensure_ascii && !(cp >= 0xD800 && cp <= 0xDFFF)) {
            rc = buf_append(out, s + i, len);
            i += len;
            continue;
        }
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            rc = buf_printf(out, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        } else {
            rc = buf_printf(out, "\\u%04x", cp);
        }
        i += len;
    }
    if (!rc) rc = buf_putc(out, '"');
    return rc;
}

int json_append_double(buf *out, double d)
{
    if (isnan(d) || isinf(d)) return buf_puts(out, "null");
    if (d == floor(d) && fabs(d) < 1e15) return buf_printf(out, "%.0f", d);
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    return buf_puts(out, tmp);
}

int json_append_value(buf *out, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return ERR_NOMEM;
    int rc = buf_puts(out, s);
    cJSON_free(s);
    return rc;
}

int json_write_file(const char *path, const cJSON *v, bool pretty, err *e)
{
    char *s = pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
    if (!s) return err_set(e, ERR_NOMEM, "%s: out of memory while printing JSON", path);
    size_t n = strlen(s);
    buf b = BUF_INIT;
    int rc = buf_append(&b, s, n);
    if (!rc) rc = buf_putc(&b, '\n');
    cJSON_free(s);
    if (rc) {
        buf_release(&b);
        return err_set(e, rc, "%s: out of memory", path);
    }
    rc = file_write_atomic(path, b.data, b.len, e);
    buf_release(&b);
    return rc;
}

/* ---- Python json.dumps ---- */

static int py_decode(const unsigned char *s, size_t n, size_t *adv)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *adv = 1;
        return (int)c;
    }
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (!len || (size_t)len > n) {
        *adv = 1;
        return 0xfffd;
    }
    unsigned cp = c & (0x3f >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *adv = 1;
            return 0xfffd;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    *adv = (size_t)len;
    return (int)cp;
}

static int py_str(buf *out, const char *s, bool ensure_ascii)
{
    int rc = buf_putc(out, '"');
    size_t n = strlen(s);
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': rc = buf_puts(out, "\\\""); i++; continue;
        case '\\': rc = buf_puts(out, "\\\\"); i++; continue;
        case '\n': rc = buf_puts(out, "\\n"); i++; continue;
        case '\r': rc = buf_puts(out, "\\r"); i++; continue;
        case '\t': rc = buf_puts(out, "\\t"); i++; continue;
        case '\b': rc = buf_puts(out, "\\b"); i++; continue;
        case '\f': rc = buf_puts(out, "\\f"); i++; continue;
        }
        if (c < 0x20 || (ensure_ascii && c == 0x7F)) { /* Python escapes DEL with ensure_ascii */
            rc = buf_printf(out, "\\u%04x", c);
            i++;
            continue;
        }
        if (c < 0x80 || !ensure_ascii) {
            rc = buf_putc(out, (char)c);
            i++;
            continue;
        }
        size_t adv;
        int cp = py_decode((const unsigned char *)s + i, n - i, &adv);
        i += adv;
        if (cp >= 0x10000) {
            int v = cp - 0x10000;
            rc = buf_printf(out, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
        } else {
            rc = buf_printf(out, "\\u%04x", cp);
        }
    }
    if (!rc) rc = buf_putc(out, '"');
    return rc;
}

static int py_newline(buf *out, int indent, int depth)
{
    if (indent < 0) return 0;
    int rc = buf_putc(out, '\n');
    for (int i = 0; i < indent * depth && !rc; i++) rc = buf_putc(out, ' ');
    return rc;
}

static int py_dump(buf *out, const cJSON *v, int indent, bool ea, int depth)
{
    int rc = 0;
    if (cJSON_IsNull(v)) return buf_puts(out, "null");
    if (cJSON_IsTrue(v)) return buf_puts(out, "true");
    if (cJSON_IsFalse(v)) return buf_puts(out, "false");
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (isnan(d)) return buf_puts(out, "NaN");
        if (isinf(d)) return buf_puts(out, d > 0 ? "Infinity" : "-Infinity");
        return json_append_double(out, d);
    }
    if (cJSON_IsString(v)) return py_str(out, v->valuestring, ea);
    if (cJSON_IsRaw(v)) return buf_puts(out, v->valuestring);
    bool obj = cJSON_IsObject(v);
    if (!obj && !cJSON_IsArray(v)) return ERR_INVALID;
    const cJSON *c = v->child;
    if (!c) return buf_puts(out, obj ? "{}" : "[]");
    rc = buf_putc(out, obj ? '{' : '[');
    bool first = true;
    for (; c && !rc; c = c->next) {
        if (!first) rc = buf_puts(out, indent >= 0 ? "," : ", ");
        first = false;
        if (!rc) rc = py_newline(out, indent, depth + 1);
        if (!rc && obj) {
            rc = py_str(out, c->string ? c->string : "", ea);
            if (!rc) rc = buf_puts(out, ": ");
        }
        if (!rc) rc = py_dump(out, c, indent, ea, depth + 1);
    }
    if (!rc) rc = py_newline(out, indent, depth);
    if (!rc) rc = buf_putc(out, obj ? '}' : ']');
    return rc;
}

int json_dumps_py(buf *out, const cJSON *v, int indent, bool ensure_ascii)
{
    return py_dump(out, v, indent, ensure_ascii, 0);
}
