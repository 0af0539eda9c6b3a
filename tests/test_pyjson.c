/* test_pyjson.c: json.loads/json.dumps compatibility. The expected strings
 * were produced by CPython 3.11's json module from the same inputs. */
#include "backends/pyjson.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/util.h"
#include "test.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *in, *line, *indent4, *ascii;
} dump_cases[] = {
    {"{\"a\": 5, \"b\": 5.0, \"c\": 5.00, \"d\": 1e5, \"e\": 1E-5, \"f\": 0.0001, \"g\": 1e16, "
     "\"h\": 1e15, \"i\": -0, \"j\": -0.0}",
     "{\"a\": 5, \"b\": 5.0, \"c\": 5.0, \"d\": 100000.0, \"e\": 1e-05, \"f\": 0.0001, \"g\": "
     "1e+16, \"h\": 1000000000000000.0, \"i\": 0, \"j\": -0.0}",
     "{\n    \"a\": 5,\n    \"b\": 5.0,\n    \"c\": 5.0,\n    \"d\": 100000.0,\n    \"e\": "
     "1e-05,\n    \"f\": 0.0001,\n    \"g\": 1e+16,\n    \"h\": 1000000000000000.0,\n    \"i\": "
     "0,\n    \"j\": -0.0\n}",
     "{\"a\": 5, \"b\": 5.0, \"c\": 5.0, \"d\": 100000.0, \"e\": 1e-05, \"f\": 0.0001, \"g\": "
     "1e+16, \"h\": 1000000000000000.0, \"i\": 0, \"j\": -0.0}"},
    {"[12345678901234567890123, -98765432109876543210, 3.141592653589793, 0.1, 1e400, -1e400, NaN, "
     "2.5e-300, 123456789012345680000.0]",
     "[12345678901234567890123, -98765432109876543210, 3.141592653589793, 0.1, Infinity, "
     "-Infinity, NaN, 2.5e-300, 1.2345678901234568e+20]",
     "[\n    12345678901234567890123,\n    -98765432109876543210,\n    3.141592653589793,\n    "
     "0.1,\n    Infinity,\n    -Infinity,\n    NaN,\n    2.5e-300,\n    1.2345678901234568e+20\n]",
     "[12345678901234567890123, -98765432109876543210, 3.141592653589793, 0.1, Infinity, "
     "-Infinity, NaN, 2.5e-300, 1.2345678901234568e+20]"},
    {"{\"k\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\", \"u\": "
     "\"\\u00e9\\u4e2d\\ud83d\\ude00\", \"raw\": \"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 "
     "\xe2\x80\xa8\"}",
     "{\"k\": \"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\", \"u\": "
     "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\", \"raw\": \"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 "
     "\xe2\x80\xa8\"}",
     "{\n    \"k\": \"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\",\n    \"u\": "
     "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\",\n    \"raw\": "
     "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 \xe2\x80\xa8\"\n}",
     "{\"k\": \"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\", \"u\": "
     "\"\\u00e9\\u4e2d\\ud83d\\ude00\", \"raw\": \"\\u00e9\\u4e2d\\ud83d\\ude00 \\u2028\"}"},
    {"{\"dup\": 1, \"x\": [], \"dup\": {\"y\": {}}, \"z\": [1, [2, [3]]]}",
     "{\"dup\": {\"y\": {}}, \"x\": [], \"z\": [1, [2, [3]]]}",
     "{\n    \"dup\": {\n        \"y\": {}\n    },\n    \"x\": [],\n    \"z\": [\n        1,\n     "
     "   [\n            2,\n            [\n                3\n            ]\n        ]\n    ]\n}",
     "{\"dup\": {\"y\": {}}, \"x\": [], \"z\": [1, [2, [3]]]}"},
    {" \n\t[true, false, null, \"\", {\"\": \"\"}] \r\n", "[true, false, null, \"\", {\"\": \"\"}]",
     "[\n    true,\n    false,\n    null,\n    \"\",\n    {\n        \"\": \"\"\n    }\n]",
     "[true, false, null, \"\", {\"\": \"\"}]"},
    {"{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
     "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"default\": "
     "10.50}}, \"required\": [\"city\"]}}}",
     "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
     "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"default\": "
     "10.5}}, \"required\": [\"city\"]}}}",
     "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n    "
     "    \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n    "
     "            \"city\": {\n                    \"type\": \"string\",\n                    "
     "\"default\": 10.5\n                }\n            },\n            \"required\": [\n          "
     "      \"city\"\n            ]\n        }\n    }\n}",
     "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
     "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"default\": "
     "10.5}}, \"required\": [\"city\"]}}}"},
    {"[1.0, 2.50, 100.0, 1.5e300, 9007199254740993, 0.30000000000000004, 5e-324, "
     "1.7976931348623157e308, 123e-2, -Infinity]",
     "[1.0, 2.5, 100.0, 1.5e+300, 9007199254740993, 0.30000000000000004, 5e-324, "
     "1.7976931348623157e+308, 1.23, -Infinity]",
     "[\n    1.0,\n    2.5,\n    100.0,\n    1.5e+300,\n    9007199254740993,\n    "
     "0.30000000000000004,\n    5e-324,\n    1.7976931348623157e+308,\n    1.23,\n    -Infinity\n]",
     "[1.0, 2.5, 100.0, 1.5e+300, 9007199254740993, 0.30000000000000004, 5e-324, "
     "1.7976931348623157e+308, 1.23, -Infinity]"},
    {"\"just a string\"", "\"just a string\"", "\"just a string\"", "\"just a string\""},
    {"-12", "-12", "-12", "-12"},
    {"0", "0", "0", "0"},
    {"3.0e0", "3.0", "3.0", "3.0"},
};
static const struct {
    double d;
    const char *repr;
} float_cases[] = {
    {0.1, "0.1"},
    {1e+16, "1e+16"},
    {1000000000000000.0, "1000000000000000.0"},
    {1e-05, "1e-05"},
    {0.0001, "0.0001"},
    {123.0, "123.0"},
    {-2.5, "-2.5"},
    {1.5e+300, "1.5e+300"},
    {5e-324, "5e-324"},
    {0.3333333333333333, "0.3333333333333333"},
    {9007199254740992.0, "9007199254740992.0"},
    {0.3, "0.3"},
    {100.0, "100.0"},
    {1e+22, "1e+22"},
    {1e+23, "1e+23"},
    {4.35, "4.35"},
    {1.2345e-07, "1.2345e-07"},
    {123456.789, "123456.789"},
    {0.000123, "0.000123"},
    {0.00030000000000000003, "0.00030000000000000003"},
    {1.152921504606847e+18, "1.152921504606847e+18"},
    {9.5367431640625e-07, "9.5367431640625e-07"},
};
static const char *const bad_json[] = {
    "",
    " ",
    "{",
    "[1,]",
    "{\"a\" 1}",
    "{\"a\":1,}",
    "[1 2]",
    "\"abc",
    "\"a\x01"
    "b\"",
    "\"\\x\"",
    "\"\\u12G4\"",
    "01",
    "1.",
    ".5",
    "+1",
    "nul",
    "True",
    "[1]x",
    "{\"a\":1}}",
    "-",
    "1e",
    "'a'",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
};

static void test_pyjson__dumps(void)
{
    for (size_t i = 0; i < ARRAY_LEN(dump_cases); i++) {
        err e = ERR_INIT;
        buf line = BUF_INIT, ind = BUF_INIT, asc = BUF_INIT;
        const char *in = dump_cases[i].in;
        CHECK_MSG(pyjson_redump(in, strlen(in), "case", -1, false, &line, &e) == 0, "%s", e.msg);
        CHECK_STR(line.data, dump_cases[i].line);
        CHECK_INT(pyjson_redump(in, strlen(in), "case", 4, false, &ind, &e), 0);
        CHECK_STR(ind.data, dump_cases[i].indent4);
        CHECK_INT(pyjson_redump(in, strlen(in), "case", -1, true, &asc, &e), 0);
        CHECK_STR(asc.data, dump_cases[i].ascii);
        /* dumping our own output again changes nothing */
        buf again = BUF_INIT;
        CHECK_INT(pyjson_redump(line.data, line.len, "again", -1, false, &again, &e), 0);
        CHECK_STR(again.data, line.data);
        buf_release(&again);
        buf_release(&line);
        buf_release(&ind);
        buf_release(&asc);
    }
}

static void test_pyjson__float_repr(void)
{
    char out[32];
    for (size_t i = 0; i < ARRAY_LEN(float_cases); i++) {
        pyjson_float_repr(float_cases[i].d, out);
        CHECK_STR(out, float_cases[i].repr);
    }
    pyjson_float_repr(NAN, out);
    CHECK_STR(out, "NaN");
    pyjson_float_repr(-INFINITY, out);
    CHECK_STR(out, "-Infinity");
    pyjson_float_repr(-0.0, out);
    CHECK_STR(out, "-0.0");
    pyjson_float_repr(-1.2345678901234567e-308, out);
    CHECK_STR(out, "-1.2345678901234567e-308");
}

static void test_pyjson__bad(void)
{
    for (size_t i = 0; i < ARRAY_LEN(bad_json); i++) {
        err e = ERR_INIT;
        buf out = BUF_INIT;
        int rc = pyjson_redump(bad_json[i], strlen(bad_json[i]), "bad.json", -1, false, &out, &e);
        CHECK_MSG(rc == ERR_PARSE, "case %zu \"%.40s\": rc %d", i, bad_json[i], rc);
        CHECK_MSG(strncmp(e.msg, "bad.json: ", 10) == 0 && strstr(e.msg, "at byte "), "%s", e.msg);
        CHECK_INT(out.len, 0);
        buf_release(&out);
    }
    /* every prefix of a valid document is an error or a shorter valid one, never a crash */
    const char *doc = dump_cases[2].in;
    for (size_t n = 0; n < strlen(doc); n++) {
        err e = ERR_INIT;
        buf out = BUF_INIT;
        char *copy = malloc(n + 1);
        memcpy(copy, doc, n);
        int rc = pyjson_redump(copy, n, "prefix", -1, false, &out, &e);
        CHECK(rc == ERR_PARSE);
        free(copy);
        buf_release(&out);
    }
    /* a NUL inside the text is not the end of it */
    err e = ERR_INIT;
    buf out = BUF_INIT;
    CHECK_INT(pyjson_redump("[1]\0", 4, "nul", -1, false, &out, &e), ERR_PARSE);
    buf_release(&out);
}

static void test_pyjson__tree(void)
{
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyjson *v = NULL;
    const char *text =
        "{\"s\": \"a\\u0000b\", \"n\": 0, \"f\": 0.0, \"e\": [], \"o\": {\"k\": true}, "
        "\"lone\": \"\\udc00\\ud800x\"}";
    CHECK_INT(pyjson_parse(text, strlen(text), "t", &a, &v, &e), 0);
    const pyjson *s = pyjson_get(v, "s");
    CHECK(s && s->kind == PYJSON_STRING && s->len == 3 && memcmp(s->str, "a\0b", 3) == 0);
    CHECK(!pyjson_truthy(pyjson_get(v, "n")));
    CHECK(!pyjson_truthy(pyjson_get(v, "f")));
    CHECK(!pyjson_truthy(pyjson_get(v, "e")));
    CHECK(pyjson_truthy(pyjson_get(v, "o")));
    CHECK(pyjson_truthy(pyjson_get(pyjson_get(v, "o"), "k")));
    CHECK(pyjson_get(v, "missing") == NULL);
    CHECK(pyjson_get(s, "x") == NULL);
    CHECK(!pyjson_truthy(NULL));
    buf out = BUF_INIT;
    CHECK_INT(pyjson_dump(pyjson_get(v, "s"), -1, false, &out), 0);
    CHECK_STR(out.data, "\"a\\u0000b\"");
    buf_reset(&out);
    /* lone surrogates survive as escapes */
    CHECK_INT(pyjson_dump(pyjson_get(v, "lone"), -1, false, &out), 0);
    CHECK_STR(out.data, "\"\\udc00\\ud800x\"");
    buf_release(&out);
    arena_release(&a);
}

int main(void)
{
    RUN(test_pyjson__dumps);
    RUN(test_pyjson__float_repr);
    RUN(test_pyjson__bad);
    RUN(test_pyjson__tree);
    return test_report();
}
