/* test_pyval.c: Python values: json.loads/json.dumps, repr, float repr and `==`
 * against golden files made with CPython 3.11 (tests/data/json_golden.jsonl),
 * plus truncated and bit-flipped JSON. */
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "datasets/pyval.h"
#include "test.h"
#include "golden.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void json_case(const cJSON *o)
{
    const char *text = jstr(o, "json");
    if (!text) {
        /* a float repr case */
        const char *bits = jstr(o, "float_bits"), *want = jstr(o, "repr");
        uint64_t u = strtoull(bits, NULL, 16);
        double d;
        memcpy(&d, &u, sizeof d);
        buf b = BUF_INIT;
        CHECK_INT(pyval_float_repr(&b, d), 0);
        CHECK_STR(b.data, want);
        /* and it reads back through json.loads as the same double */
        arena a = ARENA_INIT;
        pyval *v;
        err e = ERR_INIT;
        CHECK_INT(pyval_parse_json(b.data, b.len, &a, &v, &e), 0);
        CHECK(v && v->kind == PYV_FLOAT && v->u.f == d);
        arena_release(&a);
        buf_release(&b);
        return;
    }
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyval *v = NULL;
    int rc = pyval_parse_json(text, strlen(text), &a, &v, &e);
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(o, "repr");
    if (cJSON_IsNull(want)) {
        CHECK_MSG(rc == ERR_PARSE, "json.loads refuses %.60s but we parsed it", text);
        CHECK(strlen(e.msg) > 0);
    } else if (strcmp(want->valuestring, "BIG") == 0) {
        CHECK_INT(rc, 0);
        CHECK(v && v->kind == PYV_INT && v->u.i.big && strlen(v->u.i.big) == strlen(text));
    } else {
        CHECK_MSG(rc == 0, "%.60s: %s", text, e.msg);
        if (rc == 0) {
            static const struct {
                const char *key;
                int indent;
                bool ea;
            } dumps[] = {
                {"dumps", -1, true}, {"dumps_indent4", 4, true}, {"dumps_unicode", -1, false}};
            buf b = BUF_INIT;
            CHECK_INT(pyval_repr(&b, v), 0);
            CHECK_STR(b.data, want->valuestring);
            for (size_t k = 0; k < ARRAY_LEN(dumps); k++) {
                if (!jstr(o, dumps[k].key)) continue; /* a lone surrogate has no UTF-8 form */
                buf_reset(&b);
                CHECK_INT(pyval_dump_json(&b, v, dumps[k].indent, dumps[k].ea, 0), 0);
                CHECK_STR(b.data, jstr(o, dumps[k].key));
            }
            buf_release(&b);
        }
    }
    arena_release(&a);
}

static void test_pyval__json_golden(void)
{
    CHECK(golden_each("json_golden.jsonl", json_case) > 700);
}

static pyval *J(arena *a, const char *text)
{
    pyval *v = NULL;
    err e = ERR_INIT;
    if (pyval_parse_json(text, strlen(text), a, &v, &e) < 0)
        fprintf(stderr, "J(%s): %s\n", text, e.msg);
    return v;
}

static void test_pyval__python_eq(void)
{
    arena a = ARENA_INIT;
    static const struct {
        const char *x, *y;
        bool eq;
    } cases[] = {
        {"1", "1.0", true},
        {"true", "1", true},
        {"true", "1.0", true},
        {"false", "0", true},
        {"false", "null", false},
        {"\"1\"", "1", false},
        {"null", "null", true},
        {"[1, 2]", "[1.0, 2.0]", true},
        {"[1, 2]", "[2, 1]", false},
        {"{\"a\": 1, \"b\": [true]}", "{\"b\": [1], \"a\": 1.0}", true},
        {"{\"a\": 1}", "{\"a\": 1, \"b\": 2}", false},
        {"9007199254740993", "9007199254740992.0", false},
        {"9007199254740992", "9007199254740992.0", true},
        {"100000000000000000000", "1e20", true},
        {"100000000000000000001", "1e20", false},
        {"123456789012345678901234567890", "123456789012345678901234567890", true},
        {"-123456789012345678901234567890", "123456789012345678901234567890", false},
        {"NaN", "NaN", false},
        {"Infinity", "Infinity", true},
        {"0.1", "0.1", true},
        {"-0.0", "0", true},
        {"\"a\"", "\"a\"", true},
        {"\"a\"", "\"A\"", false},
        {"[]", "{}", false},
        {"[[1]]", "[[1.0]]", true},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        pyval *x = J(&a, cases[i].x), *y = J(&a, cases[i].y);
        CHECK_MSG(x && y && pyval_eq(x, y) == cases[i].eq && pyval_eq(y, x) == cases[i].eq,
                  "%s == %s should be %d", cases[i].x, cases[i].y, cases[i].eq);
    }
    /* a list never equals a tuple */
    pyval *one = pyval_int(&a, 1);
    pyval *l = pyval_list(&a, &one, 1), *t = pyval_tuple(&a, &one, 1);
    CHECK(!pyval_eq(l, t));
    CHECK(pyval_eq(t, pyval_tuple(&a, &one, 1)));
    /* `in` */
    CHECK(pyval_in(pyval_float(&a, 1.0), J(&a, "[\"x\", true]")));
    CHECK(!pyval_in(pyval_strz(&a, "1"), J(&a, "[1, 1.0]")));
    CHECK(!pyval_in(one, one));
    arena_release(&a);
}

static void test_pyval__dict_keys(void)
{
    arena a = ARENA_INIT;
    pyval *d = pyval_dict(&a);
    CHECK_INT(pyval_dict_set(&a, d, pyval_int(&a, 1), pyval_strz(&a, "a")), 0);
    CHECK_INT(pyval_dict_set(&a, d, pyval_bool(&a, true), pyval_strz(&a, "b")), 0);
    CHECK_INT(pyval_dict_set(&a, d, pyval_float(&a, 1.0), pyval_strz(&a, "c")), 0);
    CHECK_INT(pyval_dict_set(&a, d, pyval_strz(&a, "1"), pyval_strz(&a, "d")), 0);
    buf b = BUF_INIT;
    pyval_repr(&b, d);
    CHECK_STR(b.data,
              "{1: 'c', '1': 'd'}"); /* like Python: the first key stays, the last value wins */
    buf_reset(&b);
    CHECK_INT(pyval_dump_json(&b, d, -1, true, 0), 0);
    CHECK_STR(b.data, "{\"1\": \"c\", \"1\": \"d\"}");
    /* json.dumps refuses bytes and tuple keys unless lenient */
    pyval *one = pyval_int(&a, 1);
    pyval *t = pyval_dict(&a);
    pyval_dict_set(&a, t, pyval_tuple(&a, &one, 1), one);
    buf_reset(&b);
    CHECK_INT(pyval_dump_json(&b, t, -1, true, 0), ERR_INVALID);
    buf_reset(&b);
    CHECK_INT(pyval_dump_json(&b, t, -1, true, PYVAL_JSON_LENIENT), 0);
    CHECK_STR(b.data, "{\"(1,)\": 1}");
    buf_reset(&b);
    CHECK_INT(pyval_dump_json(&b, pyval_bytes(&a, "x", 1), -1, true, 0), ERR_INVALID);
    /* strict output for other JSON readers: no bare NaN/Infinity, always UTF-8 */
    pyval *odd[4] = {pyval_float(&a, INFINITY), pyval_float(&a, NAN),
                     pyval_str(&a, "\xed\xa0\x80", 3),
                     pyval_str(&a,
                               "a\xff"
                               "b\xc3\xa9",
                               5)};
    buf_reset(&b);
    CHECK_INT(pyval_dump_json(&b, pyval_list(&a, odd, 4), -1, false, PYVAL_JSON_STRICT), 0);
    CHECK_STR(b.data, "[\"Infinity\", \"NaN\", \"\\ud800\", \"a\\ufffdb\xc3\xa9\"]");
    buf_reset(&b);
    CHECK_INT(pyval_dump_json(&b, pyval_list(&a, odd, 2), -1, true, 0), 0);
    CHECK_STR(b.data, "[Infinity, NaN]");
    CHECK(pyval_hashable(pyval_tuple(&a, &one, 1)));
    pyval *lst = pyval_list(&a, &one, 1);
    CHECK(!pyval_hashable(pyval_tuple(&a, &lst, 1)));
    buf_release(&b);
    arena_release(&a);
}

static void test_pyval__repr(void)
{
    arena a = ARENA_INIT;
    buf b = BUF_INIT;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"it's", "\"it's\""},
        {"say \"hi\"", "'say \"hi\"'"},
        {"both ' and \"", "'both \\' and \"'"},
        {"tab\there\n", "'tab\\there\\n'"},
        {"\x01\x7f", "'\\x01\\x7f'"},
        {"caf\xc3\xa9", "'caf\xc3\xa9'"},
        {"\xc2\xa0", "'\\xa0'"},
        {"\xe2\x80\x8b", "'\\u200b'"},
        {"\xf0\x9f\x98\x80", "'\xf0\x9f\x98\x80'"},
        {"back\\slash", "'back\\\\slash'"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        buf_reset(&b);
        CHECK_INT(pyval_repr_str(&b, cases[i].in, strlen(cases[i].in)), 0);
        CHECK_STR(b.data, cases[i].out);
    }
    buf_reset(&b);
    pyval *items[3] = {pyval_none(&a), pyval_bool(&a, false), pyval_bytes(&a, "a'\xff", 3)};
    pyval_repr(&b, pyval_tuple(&a, items, 3));
    CHECK_STR(b.data, "(None, False, b\"a'\\xff\")");
    buf_reset(&b);
    pyval_repr(&b, pyval_tuple(&a, NULL, 0));
    CHECK_STR(b.data, "()");
    buf_reset(&b);
    pyval_str_of(&b, pyval_strz(&a, "plain"));
    CHECK_STR(b.data, "plain");
    buf_release(&b);
    arena_release(&a);
}

static void test_pyval__utf8(void)
{
    size_t adv;
    CHECK_INT(pyval_utf8_next("\xc3\xa9", 2, &adv), 0xe9);
    CHECK_INT(adv, 2);
    CHECK_INT(pyval_utf8_next("\xc3", 1, &adv), -1);
    CHECK_INT(adv, 1);
    CHECK_INT(pyval_utf8_next("\xc0\x80", 2, &adv), -1);         /* overlong */
    CHECK_INT(pyval_utf8_next("\xf4\x90\x80\x80", 4, &adv), -1); /* > U+10FFFF */
    CHECK_INT(pyval_utf8_next("\xed\xa0\x80", 3, &adv), 0xd800); /* a kept surrogate */
    char out[4];
    CHECK_INT(pyval_utf8_put(out, 0x1f600), 4);
    CHECK(pyval_cp_space(0x85) && pyval_cp_space(0x1c) && pyval_cp_space(0x3000) &&
          !pyval_cp_space(0x200b));
    CHECK(pyval_cp_printable(0xe9) && !pyval_cp_printable(0xa0) && !pyval_cp_printable(0x200b));
}

/* Every prefix and random byte flips of JSON texts: an error or a value, never a crash. */
static void test_pyval__json_bad_input(void)
{
    static const char *texts[] = {
        "{\"id\": \"simple_python_0\", \"ground_truth\": [{\"f\": {\"a\": [1, 2.5, \"x\\u00e9\", "
        "null, true], \"b\": [{\"k\": [\"\"]}]}}]}",
        "[1e5, -0.0, NaN, -Infinity, \"\\ud83d\\ude00\", {\"a\": {\"b\": []}}]",
    };
    rng r;
    rng_seed(&r, 42);
    size_t errors = 0, oks = 0;
    for (size_t t = 0; t < ARRAY_LEN(texts); t++) {
        size_t n = strlen(texts[t]);
        for (size_t k = 0; k <= n; k++) {
            arena a = ARENA_INIT;
            err e = ERR_INIT;
            pyval *v;
            int rc = pyval_parse_json(texts[t], k, &a, &v, &e);
            CHECK(rc == 0 || (rc == ERR_PARSE && strstr(e.msg, "invalid JSON at byte")));
            rc == 0 ? oks++ : errors++;
            arena_release(&a);
        }
        char *copy = malloc(n + 1);
        for (int f = 0; f < 2000; f++) {
            memcpy(copy, texts[t], n + 1);
            for (int m = 0; m < 3; m++) copy[rng_next(&r) % n] ^= (char)(1u << (rng_next(&r) % 8));
            arena a = ARENA_INIT;
            err e = ERR_INIT;
            pyval *v;
            int rc = pyval_parse_json(copy, n, &a, &v, &e);
            CHECK(rc == 0 || rc == ERR_PARSE);
            arena_release(&a);
        }
        free(copy);
    }
    CHECK(errors > 0 && oks > 0);
    /* nesting deeper than Python's recursion limit is an error, not a stack overflow */
    size_t deep = 100000;
    char *d = malloc(deep + 1);
    memset(d, '[', deep);
    d[deep] = 0;
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyval *v;
    CHECK_INT(pyval_parse_json(d, deep, &a, &v, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "nesting") != NULL);
    free(d);
    arena_release(&a);
}

int main(void)
{
    RUN(test_pyval__json_golden);
    RUN(test_pyval__python_eq);
    RUN(test_pyval__dict_keys);
    RUN(test_pyval__repr);
    RUN(test_pyval__utf8);
    RUN(test_pyval__json_bad_input);
    return test_report();
}
