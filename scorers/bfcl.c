/* bfcl.c: BFCL's decoders, AST checker (SCORING.md 4.3) and the task's score/aggregate. */
#include "bfcl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/buf.h"
#include "scorers/bfcl_lang.h"
#include "scorers/metric.h"
#include "scorers/pycall.h"

/* ================================================================== */
/* helpers                                                             */
/* ================================================================== */

static const char *str_field(const pyval *obj, const char *key)
{
    const pyval *v = pyval_dict_get(obj, key);
    return v && v->kind == PYV_STR ? v->u.s.p : NULL;
}

/* repr(v) cut to a readable length, for reasons. */
static const char *show(arena *a, const pyval *v)
{
    buf b = BUF_INIT;
    if (!v)
        buf_puts(&b, "(nothing)");
    else
        pyval_repr(&b, v);
    if (b.len > 160) {
        buf_truncate(&b, 157);
        buf_puts(&b, "...");
    }
    const char *s = arena_strdup(a, b.data);
    buf_release(&b);
    return s ? s : "?";
}

/* Iteration the way the checker's Python loops see a value where they expect a
 * list of alternatives: list/tuple items, the characters of a str. */
static size_t it_count(const pyval *v)
{
    if (v->kind == PYV_LIST || v->kind == PYV_TUPLE) return v->u.seq.n;
    if (v->kind == PYV_STR) {
        size_t n = 0, adv;
        for (size_t i = 0; i < v->u.s.len; i += adv) {
            pyval_utf8_next(v->u.s.p + i, v->u.s.len - i, &adv);
            n++;
        }
        return n;
    }
    return 0;
}

static pyval *it_at(arena *a, const pyval *v, size_t k)
{
    if (v->kind == PYV_LIST || v->kind == PYV_TUPLE) return v->u.seq.items[k];
    size_t i = 0, adv = 0;
    for (size_t m = 0; m <= k; m++) {
        i += adv;
        pyval_utf8_next(v->u.s.p + i, v->u.s.len - i, &adv);
    }
    return pyval_str(a, v->u.s.p + i, adv);
}

static bool is_empty_str(const pyval *v)
{
    return v && v->kind == PYV_STR && v->u.s.len == 0;
}

/* Python `"" in alts` (a str: substring, always true for ""). */
static bool has_empty(const pyval *alts)
{
    if (alts->kind == PYV_STR) return true;
    if (alts->kind != PYV_LIST && alts->kind != PYV_TUPLE) return false;
    for (size_t i = 0; i < alts->u.seq.n; i++)
        if (is_empty_str(alts->u.seq.items[i])) return true;
    return false;
}

/* ================================================================== */
/* standardize_string                                                  */
/* ================================================================== */

static bool cased(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

static bool case_ignorable(int32_t cp)
{
    if (cp == '\'' || cp == '.' || cp == ':' || cp == '^' || cp == '`' || cp == 0xb7 ||
        cp == 0x2019)
        return true;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_SK;
}

/* Python's final-sigma test at code point index k of cps[0..n). */
static bool final_sigma(const int32_t *cps, size_t n, size_t k)
{
    size_t i = k;
    bool before = false;
    while (i-- > 0) {
        if (case_ignorable(cps[i])) continue;
        before = cased(cps[i]);
        break;
    }
    if (!before) return false;
    for (size_t j = k + 1; j < n; j++) {
        if (case_ignorable(cps[j])) continue;
        return !cased(cps[j]);
    }
    return true;
}

pyval *bfcl_standardize(arena *a, const pyval *s)
{
    /* 1. drop ' ' , . / - _ * ^ */
    size_t n = s->u.s.len;
    int32_t *cps = malloc((n + 1) * sizeof *cps);
    if (!cps) return NULL;
    size_t m = 0, adv;
    for (size_t i = 0; i < n; i += adv) {
        int32_t cp = pyval_utf8_next(s->u.s.p + i, n - i, &adv);
        if (cp < 0) cp = 0xdc00 + (unsigned char)s->u.s.p[i]; /* keep stray bytes distinct */
        if (cp < 0x80 && strchr(" ,./-_*^", (int)cp) && cp) continue;
        cps[m++] = cp;
    }
    /* 2. lower() with Python's full mapping; 3. ' -> " */
    char *o = arena_alloc(a, m * 8 + 1);
    if (!o) {
        free(cps);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        int32_t cp = cps[i];
        if (cp == 0x130) {
            k += pyval_utf8_put(o + k, 'i');
            k += pyval_utf8_put(o + k, 0x307);
            continue;
        }
        if (cp == 0x3a3)
            cp = final_sigma(cps, m, i) ? 0x3c2 : 0x3c3;
        else if (cp >= 0x80 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff))
            cp = utf8proc_tolower(cp);
        else if (cp >= 'A' && cp <= 'Z')
            cp += 32;
        if (cp == '\'') cp = '"';
        k += pyval_utf8_put(o + k, (uint32_t)cp);
    }
    free(cps);
    return pyval_str(a, o, k);
}

/* ================================================================== */
/* type tables                                                         */
/* ================================================================== */

#define T_UNKNOWN (-1)
#define T_SET     (-2)

typedef struct tmap {
    const char *name;
    int kind;
} tmap;

static const tmap py_types[] = {
    {"string", PYV_STR}, {"integer", PYV_INT}, {"float", PYV_FLOAT}, {"boolean", PYV_BOOL},
    {"array", PYV_LIST}, {"tuple", PYV_LIST},  {"dict", PYV_DICT},   {"any", PYV_STR},
};
static const tmap java_types[] = {
    {"byte", PYV_INT},    {"short", PYV_INT},    {"integer", PYV_INT},  {"long", PYV_INT},
    {"float", PYV_FLOAT}, {"double", PYV_FLOAT}, {"boolean", PYV_BOOL}, {"char", PYV_STR},
    {"String", PYV_STR},  {"any", PYV_STR},      {"Array", PYV_LIST},   {"ArrayList", PYV_LIST},
    {"Queue", PYV_LIST},  {"Stack", PYV_LIST},   {"HashMap", PYV_DICT}, {"Hashtable", PYV_DICT},
    {"Set", T_SET},
};
static const tmap js_types[] = {
    {"String", PYV_STR},  {"any", PYV_STR},      {"integer", PYV_INT}, {"Bigint", PYV_INT},
    {"float", PYV_FLOAT}, {"Boolean", PYV_BOOL}, {"dict", PYV_DICT},   {"array", PYV_LIST},
};

static int type_of(bfcl_lang lang, const char *t)
{
    const tmap *m = lang == BFCL_JAVA ? java_types : lang == BFCL_JAVASCRIPT ? js_types : py_types;
    size_t n = lang == BFCL_JAVA         ? sizeof java_types / sizeof *java_types
               : lang == BFCL_JAVASCRIPT ? sizeof js_types / sizeof *js_types
                                         : sizeof py_types / sizeof *py_types;
    for (size_t i = 0; t && i < n; i++)
        if (strcmp(m[i].name, t) == 0) return m[i].kind;
    return T_UNKNOWN;
}

static bool nested_checked(bfcl_lang lang, const char *t)
{
    if (!t) return false;
    if (lang == BFCL_PYTHON) return strcmp(t, "array") == 0 || strcmp(t, "tuple") == 0;
    return strcmp(t, "Array") == 0 || strcmp(t, "ArrayList") == 0 || strcmp(t, "array") == 0;
}

static const char *kind_name(int k)
{
    static const char *const names[] = {"NoneType", "bool", "int",   "float", "str",
                                        "bytes",    "list", "tuple", "dict"};
    if (k >= 0 && k < (int)(sizeof names / sizeof *names)) return names[k];
    return k == T_SET ? "set" : "?";
}

/* ================================================================== */
/* the checks (SCORING.md 4.3)                                         */
/* ================================================================== */

typedef struct cres {
    bool valid;
    const char *etype;
    const char *msg;
} cres;

#define CRES_OK ((cres){true, NULL, NULL})

typedef struct cctx {
    arena *a;
    bfcl_lang lang;
    bool u2d;
    bool nomem;
} cctx;

static cres bad(cctx *c, const char *etype, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cres bad(cctx *c, const char *etype, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *m = arena_vprintf(c->a, fmt, ap);
    va_end(ap);
    if (!m) c->nomem = true;
    return (cres){false, etype, m ? m : etype};
}

static int first_alt_kind(cctx *c, const pyval *alts)
{
    size_t n = it_count(alts);
    for (size_t i = 0; i < n; i++) {
        const pyval *x = it_at(c->a, alts, i);
        if (!x) {
            c->nomem = true;
            return T_UNKNOWN;
        }
        if (!is_empty_str(x)) return (int)x->kind;
    }
    return T_UNKNOWN;
}

/* type_checker: *is_var set when the answer is a variable name (a value of
 * another type than the documented one). */
static cres type_check(cctx *c, const char *param, const pyval *value, const pyval *alts, int tpy,
                       int tnest, bool *is_var)
{
    int pa = first_alt_kind(c, alts);
    bool var = pa != T_UNKNOWN && pa != tpy;
    bool nested_fail = false;
    *is_var = false;
    if ((int)value->kind == tpy) {
        if (tnest == T_UNKNOWN) {
            *is_var = var;
            return CRES_OK;
        }
        size_t n = it_count(alts);
        for (size_t i = 0; i < n; i++) {
            const pyval *alt = it_at(c->a, alts, i);
            bool flag = true;
            if (alt && alt->kind == PYV_LIST) {
                for (size_t k = 0; k < value->u.seq.n && flag; k++) {
                    bool dummy;
                    flag =
                        type_check(c, param, value->u.seq.items[k], alt, tnest, T_UNKNOWN, &dummy)
                            .valid;
                }
            }
            if (flag) {
                *is_var = var;
                return CRES_OK;
            }
        }
        nested_fail = true;
    }
    if (pa != T_UNKNOWN && (int)value->kind == pa) {
        if (nested_fail)
            return bad(c, "type_error:nested", "parameter '%s': an element of %s is not of type %s",
                       param, show(c->a, value), kind_name(tnest));
        *is_var = true;
        return CRES_OK;
    }
    if (nested_fail)
        return bad(c, "type_error:simple", "parameter '%s': %s does not match the expected types",
                   param, show(c->a, value));
    return bad(c, "type_error:simple", "parameter '%s': expected type %s, got %s %s", param,
               kind_name(tpy), pyval_type_name(value), show(c->a, value));
}

static pyval *std_if_str(cctx *c, pyval *v)
{
    if (v->kind != PYV_STR) return v;
    pyval *s = bfcl_standardize(c->a, v);
    if (!s) c->nomem = true;
    return s ? s : v;
}

static cres string_check(cctx *c, const char *param, const pyval *value, const pyval *alts)
{
    pyval *sv = bfcl_standardize(c->a, value);
    if (!sv) {
        c->nomem = true;
        return CRES_OK;
    }
    size_t n = it_count(alts);
    for (size_t i = 0; i < n; i++) {
        pyval *alt = it_at(c->a, alts, i);
        if (!alt || alt->kind != PYV_STR) continue;
        pyval *sa = bfcl_standardize(c->a, alt);
        if (sa && pyval_eq(sa, sv)) return CRES_OK;
    }
    return bad(c, "value_error:string", "parameter '%s': %s is not one of %s", param,
               show(c->a, value), show(c->a, alts));
}

/* The str elements of a list standardized (top level only). */
static pyval *std_list(cctx *c, const pyval *v)
{
    size_t n = it_count(v);
    pyval **items = n ? arena_calloc(c->a, n, sizeof *items) : NULL;
    if (n && !items) {
        c->nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        pyval *x = it_at(c->a, v, i);
        if (!x) {
            c->nomem = true;
            return NULL;
        }
        items[i] = std_if_str(c, x);
    }
    return pyval_list(c->a, items, n);
}

static cres list_check(cctx *c, const char *param, const pyval *value, const pyval *alts)
{
    pyval *sv = std_list(c, value);
    if (!sv) return CRES_OK;
    size_t n = it_count(alts);
    for (size_t i = 0; i < n; i++) {
        const pyval *alt = it_at(c->a, alts, i);
        /* "" becomes []; a list or a str is iterated; other values cannot match */
        if (!alt || (alt->kind != PYV_LIST && alt->kind != PYV_TUPLE && alt->kind != PYV_STR))
            continue;
        pyval *sa = std_list(c, alt);
        if (sa && pyval_eq(sv, sa)) return CRES_OK;
    }
    return bad(c, "value_error:list/tuple", "parameter '%s': %s is not one of %s", param,
               show(c->a, value), show(c->a, alts));
}

static cres dict_check(cctx *c, const char *param, const pyval *value, const pyval *alts)
{
    cres result = bad(c, "dict_checker:unclear", "parameter '%s': no acceptable dict for %s", param,
                      show(c->a, value));
    if (value->kind != PYV_DICT)
        return bad(c, "value_error:dict_value", "parameter '%s': %s is not a dict", param,
                   show(c->a, value));
    size_t n = it_count(alts);
    for (size_t i = 0; i < n; i++) {
        const pyval *alt = it_at(c->a, alts, i);
        if (!alt || is_empty_str(alt)) continue;
        if (alt->kind != PYV_DICT) {
            result =
                bad(c, "value_error:dict_key",
                    "parameter '%s': the possible answer %s is not a dict", param, show(c->a, alt));
            continue;
        }
        bool flag = true;
        for (size_t k = 0; k < value->u.dict.n; k++) {
            const pyval *key = value->u.dict.keys[k];
            const pyval *accepted = pyval_dict_lookup(alt, key);
            if (!accepted) {
                result = bad(c, "value_error:dict_key", "parameter '%s': unexpected dict key %s",
                             param, show(c->a, key));
                flag = false;
                break;
            }
            pyval *sv = std_if_str(c, value->u.dict.vals[k]);
            size_t m = it_count(accepted);
            bool found = false;
            for (size_t j = 0; j < m && !found; j++) {
                pyval *x = it_at(c->a, accepted, j);
                if (x) found = pyval_eq(sv, std_if_str(c, x));
            }
            if (!found) {
                result =
                    bad(c, "value_error:dict_value",
                        "parameter '%s': dict key %s has value %s, not one of %s", param,
                        show(c->a, key), show(c->a, value->u.dict.vals[k]), show(c->a, accepted));
                flag = false;
                break;
            }
        }
        /* BFCL runs this loop even after a failure above (and may change the error type) */
        for (size_t k = 0; k < alt->u.dict.n; k++) {
            if (!pyval_dict_lookup(value, alt->u.dict.keys[k]) && !has_empty(alt->u.dict.vals[k])) {
                result = bad(c, "value_error:dict_key", "parameter '%s': dict key %s is missing",
                             param, show(c->a, alt->u.dict.keys[k]));
                flag = false;
                break;
            }
        }
        if (flag) return CRES_OK;
    }
    return result;
}

static cres list_dict_check(cctx *c, const char *param, const pyval *value, const pyval *alts)
{
    cres result =
        bad(c, "list_dict_checker:unclear", "parameter '%s': no acceptable list of dicts", param);
    size_t n = it_count(alts);
    for (size_t i = 0; i < n; i++) {
        const pyval *alt = it_at(c->a, alts, i);
        if (!alt || (alt->kind != PYV_LIST && alt->kind != PYV_TUPLE && alt->kind != PYV_STR))
            continue;
        size_t m = it_count(alt);
        if (value->u.seq.n != m) {
            result = bad(c, "value_error:list_dict_count",
                         "parameter '%s': %zu dicts, the possible answer has %zu", param,
                         value->u.seq.n, m);
            continue;
        }
        bool flag = true;
        for (size_t k = 0; k < m && flag; k++) {
            pyval *one = it_at(c->a, alt, k);
            pyval *wrap = one ? pyval_list(c->a, &one, 1) : NULL;
            if (!wrap) {
                c->nomem = true;
                return CRES_OK;
            }
            result = dict_check(c, param, value->u.seq.items[k], wrap);
            flag = result.valid;
        }
        if (flag) return CRES_OK;
    }
    return result;
}

static pyval *underscored_name(cctx *c, const pyval *name)
{
    if (!c->u2d || !memchr(name->u.s.p, '.', name->u.s.len)) return (pyval *)name;
    pyval *v = pyval_str(c->a, name->u.s.p, name->u.s.len);
    if (!v) {
        c->nomem = true;
        return (pyval *)name;
    }
    for (char *p = (char *)v->u.s.p; *p; p++)
        if (*p == '.') *p = '_';
    return v;
}

/* One parameter value converted for its language; a cres on failure. */
static cres convert_value(cctx *c, const char *param, const char *t, const char *item,
                          pyval **value)
{
    if (c->lang == BFCL_PYTHON) return CRES_OK;
    const char *etype = c->lang == BFCL_JAVA ? "type_error:java" : "type_error:js";
    if ((*value)->kind != PYV_STR)
        return bad(c, etype, "parameter '%s': %s values must be strings of source text, got %s %s",
                   param, c->lang == BFCL_JAVA ? "Java" : "JavaScript", pyval_type_name(*value),
                   show(c->a, *value));
    err sub = ERR_INIT;
    pyval *out = NULL;
    int rc = c->lang == BFCL_JAVA
                 ? bfcl_java_convert(c->a, (*value)->u.s.p, (*value)->u.s.len, t, item, &out, &sub)
                 : bfcl_js_convert(c->a, (*value)->u.s.p, (*value)->u.s.len, t, item, &out, &sub);
    if (rc == ERR_NOMEM) {
        c->nomem = true;
        return CRES_OK;
    }
    if (rc < 0) return bad(c, etype, "parameter '%s': %s", param, sub.msg);
    *value = out;
    return CRES_OK;
}

/* simple_function_checker */
static cres check_one(cctx *c, const pyval *doc, const pyval *call, const pyval *answer)
{
    const pyval *alts_d = answer->u.dict.vals[0];
    const pyval *docname = pyval_dict_get(doc, "name");
    if (!docname || docname->kind != PYV_STR)
        return bad(c, "simple_function_checker:wrong_func_name", "the function doc has no name");
    const pyval *expected = underscored_name(c, docname);
    const pyval *args = pyval_dict_lookup(call, expected);
    if (!args)
        return bad(c, "simple_function_checker:wrong_func_name",
                   "function %s not found in the output (got %s)", show(c->a, expected),
                   show(c->a, call->u.dict.n ? call->u.dict.keys[0] : NULL));
    const pyval *params = pyval_dict_get(doc, "parameters");
    const pyval *props = pyval_dict_get(params, "properties");
    const pyval *required = pyval_dict_get(params, "required");
    for (size_t i = 0; required && required->kind == PYV_LIST && i < required->u.seq.n; i++)
        if (!pyval_dict_lookup(args, required->u.seq.items[i]))
            return bad(c, "simple_function_checker:missing_required",
                       "required parameter %s is missing", show(c->a, required->u.seq.items[i]));
    for (size_t i = 0; i < args->u.dict.n; i++) {
        const pyval *pkey = args->u.dict.keys[i];
        pyval *value = args->u.dict.vals[i];
        const char *param = pkey->kind == PYV_STR ? pkey->u.s.p : show(c->a, pkey);
        const pyval *pd = pyval_dict_lookup(props, pkey);
        const pyval *alts = pyval_dict_lookup(alts_d, pkey);
        if (!pd || !alts)
            return bad(c, "simple_function_checker:unexpected_param", "unexpected parameter %s",
                       show(c->a, pkey));
        const char *t = str_field(pd, "type");
        int tpy = type_of(c->lang, t), tnest = T_UNKNOWN;
        const char *item = NULL;
        if (nested_checked(c->lang, t)) {
            item = str_field(pyval_dict_get(pd, "items"), "type");
            tnest = type_of(c->lang, item);
        }
        if (tpy == T_UNKNOWN || tpy == T_SET)
            return bad(c,
                       c->lang == BFCL_JAVA         ? "type_error:java"
                       : c->lang == BFCL_JAVASCRIPT ? "type_error:js"
                                                    : "type_error:simple",
                       "parameter '%s': the type \"%s\" has no conversion", param, t ? t : "");
        cres r = convert_value(c, param, t, item, &value);
        if (!r.valid) return r;
        /* tuples become lists for tuple parameters; Python accepts an int for a float */
        if (t && strcmp(t, "tuple") == 0 && value->kind == PYV_TUPLE) {
            value = pyval_list(c->a, value->u.seq.items, value->u.seq.n);
            if (!value) {
                c->nomem = true;
                return CRES_OK;
            }
        }
        if (c->lang == BFCL_PYTHON && t && strcmp(t, "float") == 0 && value->kind == PYV_INT) {
            double d;
            if (pyval_int_to_double(value, &d)) {
                value = pyval_float(c->a, d);
                if (!value) {
                    c->nomem = true;
                    return CRES_OK;
                }
            }
        }
        bool is_var;
        r = type_check(c, param, value, alts, tpy, tnest, &is_var);
        if (!r.valid) return r;
        if (!is_var) {
            if (tpy == PYV_DICT)
                r = dict_check(c, param, value, alts);
            else if (tpy == PYV_LIST && tnest == PYV_DICT)
                r = list_dict_check(c, param, value, alts);
            else if (tpy == PYV_STR)
                r = string_check(c, param, value, alts);
            else if (tpy == PYV_LIST)
                r = list_check(c, param, value, alts);
            else
                goto membership;
            if (!r.valid) return r;
            continue;
        }
    membership:
        if (!pyval_in(value, alts))
            return bad(c, "value_error:others", "parameter '%s': %s is not one of %s", param,
                       show(c->a, value), show(c->a, alts));
    }
    for (size_t i = 0; i < alts_d->u.dict.n; i++)
        if (!pyval_dict_lookup(args, alts_d->u.dict.keys[i]) && !has_empty(alts_d->u.dict.vals[i]))
            return bad(c, "simple_function_checker:missing_optional",
                       "parameter %s is left out but the possible answer requires it",
                       show(c->a, alts_d->u.dict.keys[i]));
    return CRES_OK;
}

static const pyval *find_doc(const pyval *docs, const pyval *name)
{
    for (size_t i = 0; i < docs->u.seq.n; i++)
        if (pyval_eq(pyval_dict_get(docs->u.seq.items[i], "name"), name))
            return docs->u.seq.items[i];
    return NULL;
}

static cres check_calls(cctx *c, const bfcl_item *it, const pyval *calls)
{
    const pyval *gt = it->answer, *docs = it->functions;
    size_t nc = calls->u.seq.n, na = gt->u.seq.n;
    switch (it->cat->kind) {
    case BFCL_AST_SIMPLE:
        if (nc != 1)
            return bad(c, "simple_function_checker:wrong_count", "%zu calls, expected exactly 1",
                       nc);
        if (!docs->u.seq.n)
            return bad(c, "simple_function_checker:wrong_func_name", "no function doc");
        return check_one(c, docs->u.seq.items[0], calls->u.seq.items[0], gt->u.seq.items[0]);
    case BFCL_AST_MULTIPLE: {
        if (nc != na)
            return bad(c, "multiple_function_checker:wrong_count", "%zu calls, expected %zu", nc,
                       na);
        const pyval *doc = find_doc(docs, gt->u.seq.items[0]->u.dict.keys[0]);
        if (!doc)
            return bad(c, "simple_function_checker:wrong_func_name",
                       "no doc for the expected function");
        return check_one(c, doc, calls->u.seq.items[0], gt->u.seq.items[0]);
    }
    case BFCL_AST_PARALLEL: {
        if (nc != na)
            return bad(c, "parallel_function_checker_no_order:wrong_count",
                       "%zu calls, expected %zu", nc, na);
        bool *matched = arena_calloc(c->a, nc ? nc : 1, sizeof *matched);
        if (!matched) {
            c->nomem = true;
            return CRES_OK;
        }
        for (size_t i = 0; i < na; i++) {
            const pyval *ans = gt->u.seq.items[i];
            const pyval *doc = find_doc(docs, ans->u.dict.keys[0]);
            cres first_err = {false, NULL, NULL};
            bool found = false;
            for (size_t k = 0; k < nc && !found; k++) {
                if (matched[k]) continue;
                cres r = doc ? check_one(c, doc, calls->u.seq.items[k], ans)
                             : bad(c, "simple_function_checker:wrong_func_name", "no doc");
                if (r.valid) {
                    matched[k] = true;
                    found = true;
                } else if (!first_err.msg) {
                    first_err = r;
                }
            }
            if (!found)
                return bad(c, "parallel_function_checker_no_order:cannot_find_match",
                           "no call matches expected call %zu (%s); first mismatch: %s: %s", i + 1,
                           show(c->a, ans->u.dict.keys[0]), first_err.etype ? first_err.etype : "-",
                           first_err.msg ? first_err.msg : "-");
        }
        return CRES_OK;
    }
    default:
        return CRES_OK;
    }
}

int bfcl_check(const bfcl_item *it, const pyval *calls, bool underscore_to_dot, arena *a,
               bfcl_verdict *out, err *e)
{
    memset(out, 0, sizeof *out);
    cctx c = {a, it->cat->lang, underscore_to_dot, false};
    cres r = check_calls(&c, it, calls);
    if (c.nomem) return err_set(e, ERR_NOMEM, "out of memory");
    out->valid = r.valid;
    out->error_type = r.valid ? NULL : r.etype;
    out->reason = r.valid ? NULL : r.msg;
    return 0;
}

/* ================================================================== */
/* decoding                                                            */
/* ================================================================== */

bool bfcl_calls_well_formed(const pyval *calls)
{
    if (!calls || calls->kind != PYV_LIST) return false;
    for (size_t i = 0; i < calls->u.seq.n; i++) {
        const pyval *c = calls->u.seq.items[i];
        if (c->kind != PYV_DICT || c->u.dict.n != 1 || c->u.dict.vals[0]->kind != PYV_DICT)
            return false;
    }
    return true;
}

int bfcl_decode_prompt(const char *text, bfcl_lang lang, arena *a, pyval **calls,
                       size_t *positional_out, err *e)
{
    *calls = NULL;
    if (positional_out) *positional_out = 0;
    if (!text) text = "";
    if (lang == BFCL_PYTHON) return pycall_decode(text, strlen(text), a, calls, positional_out, e);
    /* Java/JS: the same stripping and brackets, then the brackets come off again */
    const char *s = text;
    size_t n = strlen(text);
    while (n && strchr("`\n ", s[0])) {
        s++;
        n--;
    }
    while (n && strchr("`\n ", s[n - 1])) n--;
    buf b = BUF_INIT;
    int rc = 0;
    if (n == 0 || s[0] != '[') rc = buf_putc(&b, '[');
    if (!rc) rc = buf_append(&b, s, n);
    if (!rc && (n == 0 || s[n - 1] != ']')) rc = buf_putc(&b, ']');
    if (rc) {
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = bfcl_lang_parse_calls(b.data + 1, b.len - 2, lang, a, calls, positional_out, e);
    buf_release(&b);
    return rc;
}

int bfcl_decode_fc(const cJSON *tool_calls, const char *text, arena *a, pyval **calls, err *e)
{
    *calls = NULL;
    size_t n = cJSON_IsArray(tool_calls) ? (size_t)cJSON_GetArraySize(tool_calls) : 0;
    if (n == 0) {
        if (text && *text)
            return err_set(e, ERR_PARSE, "the model answered with text, not with a tool call");
        *calls = pyval_list(a, NULL, 0);
        return *calls ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    }
    pyval **items = arena_calloc(a, n, sizeof *items);
    if (!items) return err_set(e, ERR_NOMEM, "out of memory");
    size_t i = 0;
    const cJSON *tc;
    cJSON_ArrayForEach(tc, tool_calls)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(tc, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(tc, "arguments");
        if (!cJSON_IsString(nm)) return err_set(e, ERR_PARSE, "tool call %zu has no name", i + 1);
        pyval *v;
        err sub = ERR_INIT;
        int rc;
        if (!args) {
            rc = pyval_parse_json("{}", 2, a, &v, &sub);
        } else if (cJSON_IsString(args)) {
            rc = pyval_parse_json(args->valuestring, strlen(args->valuestring), a, &v, &sub);
        } else {
            /* arguments given as an object: read back through its JSON text */
            char *t = cJSON_PrintUnformatted(args);
            if (!t) return err_set(e, ERR_NOMEM, "out of memory");
            rc = pyval_parse_json(t, strlen(t), a, &v, &sub);
            cJSON_free(t);
        }
        if (rc == ERR_NOMEM) return err_set(e, ERR_NOMEM, "out of memory");
        if (rc < 0)
            return err_set(e, ERR_PARSE, "tool call %zu (%s): arguments are not JSON: %s", i + 1,
                           nm->valuestring, sub.msg);
        pyval *d = pyval_dict(a), *k = pyval_strz(a, nm->valuestring);
        if (!d || !k || pyval_dict_set(a, d, k, v) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        items[i++] = d;
    }
    *calls = pyval_list(a, items, i);
    return *calls ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

int bfcl_judge(const bfcl_item *it, bool native, const char *text, const cJSON *tool_calls,
               arena *a, bfcl_verdict *out, pyval **calls_out, err *e)
{
    memset(out, 0, sizeof *out);
    if (calls_out) *calls_out = NULL;
    pyval *calls = NULL;
    err sub = ERR_INIT;
    size_t positional = 0;
    int rc = native ? bfcl_decode_fc(tool_calls, text, a, &calls, &sub)
                    : bfcl_decode_prompt(text, it->cat->lang, a, &calls, &positional, &sub);
    if (rc == ERR_NOMEM) return err_set(e, ERR_NOMEM, "out of memory");
    bool decoded = rc == 0, shaped = decoded && bfcl_calls_well_formed(calls);
    if (decoded && calls_out) *calls_out = calls;
    const char *why = decoded ? "the output is not a list of {name: {arguments}} calls" : sub.msg;
    switch (it->cat->kind) {
    case BFCL_IRRELEVANCE:
    case BFCL_RELEVANCE: {
        bool has_call = shaped && calls->u.seq.n > 0;
        bool want = it->cat->kind == BFCL_RELEVANCE;
        out->valid = has_call == want;
        if (!out->valid) {
            out->error_type =
                want ? "relevance_error:decoder_failed" : "irrelevance_error:decoder_success";
            out->reason = want ? arena_printf(a, "no function call was made (%s)",
                                              shaped ? "an empty list" : why)
                               : arena_printf(a, "a function call was made where none fits: %s",
                                              show(a, calls));
            if (!out->reason) return err_set(e, ERR_NOMEM, "out of memory");
        }
        return 0;
    }
    case BFCL_MULTI_TURN:
        out->valid = false;
        out->error_type = "not_scored";
        out->reason = "not scored: multi-turn categories need BFCL's simulated APIs";
        return 0;
    default:
        break;
    }
    if (!shaped) {
        out->decode_failed = true;
        out->error_type =
            decoded ? "ast_decoder:decoder_wrong_output_format" : "ast_decoder:decoder_failed";
        out->reason = arena_strdup(a, why);
        return out->reason ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    }
    if ((rc = bfcl_check(it, calls, native, a, out, e)) < 0) return rc;
    if (!out->valid && positional) {
        /* BFCL keeps keyword arguments only: say so when the call had positional ones */
        out->reason = arena_printf(a,
                                   "%s (the output passed %zu positional argument%s, which BFCL "
                                   "ignores: only name=value arguments count)",
                                   out->reason, positional, positional == 1 ? "" : "s");
        if (!out->reason) return err_set(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* ================================================================== */
/* score and aggregate                                                 */
/* ================================================================== */

static const char not_scored_reason[] =
    "not scored: multi-turn categories need BFCL's simulated APIs (state-based checking)";

int bfcl_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e)
{
    bool native;
    int rc = bfcl_tool_mode(c->o, &native, e);
    if (rc < 0) return rc;
    arena scratch = ARENA_INIT;
    buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        score_record *r = &out[i];
        memset(r, 0, sizeof *r);
        const bfcl_item *bi = s[i].it->data;
        r->fields = cJSON_CreateObject();
        if (!r->fields || !cJSON_AddStringToObject(r->fields, "category", bi->cat->name))
            goto nomem;
        int gf = score_generation_failure(&s[i]);
        if (gf >= 0) {
            r->outcome = gf;
            r->reason = s[i].error ? arena_strdup(c->a, s[i].error) : "generation failed";
            if (!cJSON_AddNullToObject(r->fields, "error_type")) goto nomem;
            continue;
        }
        if (bi->cat->kind == BFCL_MULTI_TURN) {
            r->outcome = OUTCOME_NO_ANSWER;
            r->reason = not_scored_reason;
            if (!cJSON_AddStringToObject(r->fields, "status", "not_scored") ||
                !cJSON_AddNullToObject(r->fields, "error_type"))
                goto nomem;
            continue;
        }
        bfcl_verdict v;
        pyval *calls;
        arena_reset(&scratch);
        if ((rc = bfcl_judge(bi, native, s[i].completion, s[i].tool_calls, &scratch, &v, &calls,
                             e)) < 0)
            goto out;
        r->score = v.valid ? 1 : 0;
        r->outcome = v.valid           ? OUTCOME_CORRECT
                     : v.decode_failed ? OUTCOME_PARSE_ERROR
                                       : OUTCOME_WRONG;
        if (!v.valid && s[i].finish_reason && strcmp(s[i].finish_reason, "length") == 0)
            r->outcome = OUTCOME_TRUNCATED;
        if (v.reason && !(r->reason = arena_strdup(c->a, v.reason))) goto nomem;
        if (!(v.error_type ? cJSON_AddStringToObject(r->fields, "error_type", v.error_type)
                           : cJSON_AddNullToObject(r->fields, "error_type")))
            goto nomem;
        if (calls) {
            buf_reset(&b);
            if (pyval_dump_json(&b, calls, -1, false, PYVAL_JSON_LENIENT | PYVAL_JSON_STRICT) < 0)
                goto nomem;
            cJSON *raw = cJSON_CreateRaw(b.data);
            if (!raw) goto nomem;
            cJSON_AddItemToObject(r->fields, "calls", raw);
        }
    }
    rc = 0;
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    arena_release(&scratch);
    buf_release(&b);
    return rc;
}

#define NCAT 32

typedef struct tally_cat {
    size_t n, pass;
} tally_cat;

static size_t cat_index(const bfcl_category *cat)
{
    for (size_t i = 0; bfcl_category_at(i); i++)
        if (bfcl_category_at(i) == cat) return i;
    return 0;
}

static bool present(const tally_cat *t, const char *name)
{
    const bfcl_category *cat = bfcl_category_find(name);
    return cat && t[cat_index(cat)].n > 0;
}

static metric_value cat_metric(const tally_cat *t, const char *name)
{
    const tally_cat *x = &t[cat_index(bfcl_category_find(name))];
    return metric_proportion(x->pass, x->n);
}

/* Records the categories an aggregate lacks; returns true when it has them all. */
static bool complete(const tally_cat *t, const char *const *names, size_t k, cJSON *incomplete,
                     const char *agg)
{
    cJSON *missing = NULL;
    for (size_t i = 0; i < k; i++) {
        if (present(t, names[i])) continue;
        if (!missing) missing = cJSON_CreateArray();
        if (missing) cJSON_AddItemToArray(missing, cJSON_CreateString(names[i]));
    }
    if (!missing) return true;
    if (incomplete)
        cJSON_AddItemToObject(incomplete, agg, missing);
    else
        cJSON_Delete(missing);
    return false;
}

int bfcl_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                   cJSON *metrics, err *e)
{
    tally_cat t[NCAT];
    memset(t, 0, sizeof t);
    size_t ast_n = 0, decode_fail = 0;
    bool any_mt = false;
    for (size_t i = 0; i < n; i++) {
        /* the dataset's record, else (records read back without the
         * dataset) the category each verdict names */
        const bfcl_item *bi = s[i].it ? s[i].it->data : NULL;
        const bfcl_category *cat = bi ? bi->cat : NULL;
        if (!cat) {
            const cJSON *cn = cJSON_GetObjectItemCaseSensitive(r[i].fields, "category");
            cat = cJSON_IsString(cn) ? bfcl_category_find(cn->valuestring) : NULL;
        }
        if (!cat)
            return err_set(e, ERR_INVALID,
                           "bfcl: sample %zu: no category (neither the dataset's record nor the "
                           "verdict names one)",
                           i);
        size_t k = cat_index(cat);
        if (k >= NCAT) continue;
        if (cat->kind == BFCL_MULTI_TURN) {
            any_mt = true;
            t[k].n++;
            continue;
        }
        t[k].n++;
        if (r[i].outcome == OUTCOME_CORRECT) t[k].pass++;
        if (cat->kind <= BFCL_AST_PARALLEL) {
            ast_n++;
            const cJSON *et = cJSON_GetObjectItemCaseSensitive(r[i].fields, "error_type");
            if (cJSON_IsString(et) && strncmp(et->valuestring, "ast_decoder:", 12) == 0)
                decode_fail++;
        }
    }
    cJSON *info = NULL, *incomplete = NULL, *not_scored = NULL;
    if (c->info) {
        info = cJSON_CreateObject();
        incomplete = cJSON_CreateObject();
        if (!info || !incomplete) {
            cJSON_Delete(info);
            cJSON_Delete(incomplete);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    int rc = 0;
    for (size_t k = 0; bfcl_category_at(k) && k < NCAT; k++) {
        const bfcl_category *cat = bfcl_category_at(k);
        if (!t[k].n) continue;
        if (cat->kind == BFCL_MULTI_TURN) {
            if (info) {
                if (!not_scored) not_scored = cJSON_AddObjectToObject(info, "not_scored");
                if (not_scored) cJSON_AddStringToObject(not_scored, cat->name, not_scored_reason);
            }
            continue;
        }
        if (metric_put(metrics, cat->metric, metric_proportion(t[k].pass, t[k].n)) < 0)
            rc = ERR_NOMEM;
    }
    /* BFCL V4 summary numbers */
    static const char *const simple[] = {"simple_python", "simple_java", "simple_javascript"};
    static const char *const nonlive[] = {"simple_python", "simple_java", "simple_javascript",
                                          "multiple",      "parallel",    "parallel_multiple"};
    static const char *const live[] = {"live_simple", "live_multiple", "live_parallel",
                                       "live_parallel_multiple"};
    static const char *const irr[] = {"irrelevance", "live_irrelevance"};
    bool any_single = false;
    for (size_t k = 0; bfcl_category_at(k) && k < NCAT; k++)
        if (t[k].n && bfcl_category_at(k)->kind != BFCL_MULTI_TURN) any_single = true;
    metric_value nl = {0}, lv = {0}, ir = {0};
    bool has_nl = false, has_lv = false, has_ir = false;
    if (any_single) {
        if ((has_nl = complete(t, nonlive, 6, incomplete, "non_live"))) {
            metric_value m3[3] = {cat_metric(t, simple[0]), cat_metric(t, simple[1]),
                                  cat_metric(t, simple[2])};
            double w3[3] = {1, 1, 1};
            metric_value m4[4] = {metric_combine(m3, w3, 3), cat_metric(t, "multiple"),
                                  cat_metric(t, "parallel"), cat_metric(t, "parallel_multiple")};
            double w4[4] = {1, 1, 1, 1};
            nl = metric_combine(m4, w4, 4);
            if (metric_put(metrics, "non_live", nl) < 0) rc = ERR_NOMEM;
        }
        if ((has_lv = complete(t, live, 4, incomplete, "live"))) {
            size_t pass = 0, tot = 0;
            for (size_t k = 0; k < 4; k++) {
                const tally_cat *x = &t[cat_index(bfcl_category_find(live[k]))];
                pass += x->pass;
                tot += x->n;
            }
            lv = metric_proportion(pass, tot);
            if (metric_put(metrics, "live", lv) < 0) rc = ERR_NOMEM;
        }
        if ((has_ir = complete(t, irr, 2, incomplete, "irrelevance"))) {
            metric_value m2[2] = {cat_metric(t, irr[0]), cat_metric(t, irr[1])};
            double w2[2] = {1, 1};
            ir = metric_combine(m2, w2, 2);
            if (metric_put(metrics, "irrelevance", ir) < 0) rc = ERR_NOMEM;
        }
        if (has_nl && has_lv && has_ir) {
            metric_value m3[3] = {nl, lv, ir};
            double w3[3] = {1, 1, 1};
            if (metric_put(metrics, "overall_ast", metric_combine(m3, w3, 3)) < 0) rc = ERR_NOMEM;
        } else if (incomplete) {
            cJSON *why = cJSON_CreateArray();
            if (!has_nl) cJSON_AddItemToArray(why, cJSON_CreateString("non_live"));
            if (!has_lv) cJSON_AddItemToArray(why, cJSON_CreateString("live"));
            if (!has_ir) cJSON_AddItemToArray(why, cJSON_CreateString("irrelevance"));
            cJSON_AddItemToObject(incomplete, "overall_ast", why);
        }
        if (ast_n &&
            metric_put(metrics, "decode_failure_rate", metric_proportion(decode_fail, ast_n)) < 0)
            rc = ERR_NOMEM;
    }
    if (info) {
        bool native = false;
        err ignored = ERR_INIT;
        bfcl_tool_mode(c->o, &native, &ignored);
        cJSON_AddStringToObject(info, "version", "BFCL V4 (gorilla 6ea5797)");
        cJSON_AddStringToObject(info, "tool_mode", native ? "native" : "prompt");
        cJSON_AddBoolToObject(info, "underscore_to_dot", native);
        if (any_single) {
            cJSON_AddStringToObject(
                info, "aggregates",
                "non_live = mean(mean(simple_python, simple_java, simple_javascript), "
                "multiple, parallel, parallel_multiple); live = passed/entries over "
                "the four live AST categories; irrelevance = mean(irrelevance, "
                "live_irrelevance); overall_ast = mean(non_live, live, irrelevance)");
            cJSON_AddStringToObject(
                info, "missing_categories",
                "an aggregate is reported only when every category it combines ran "
                "(BFCL's leaderboard counts a missing category as 0 instead)");
            if (cJSON_GetArraySize(incomplete) > 0)
                cJSON_AddItemToObject(info, "incomplete", incomplete);
            else
                cJSON_Delete(incomplete);
            incomplete = NULL;
        }
        if (any_mt) cJSON_AddStringToObject(info, "status", "multi-turn categories not scored");
        cJSON_Delete(incomplete);
        cJSON_DeleteItemFromObjectCaseSensitive(c->info, "bfcl");
        cJSON_AddItemToObject(c->info, "bfcl", info);
    }
    return rc < 0 ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}
