/* test_common.c: err, arena, buf, fileio, json, hash, util, utf8. */
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "common/util.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static void test_common__err(void)
{
    err e = ERR_INIT;
    CHECK_INT(err_set(&e, ERR_PARSE, "%s:%d: bad\nthing", "f", 3), ERR_PARSE);
    CHECK_STR(e.msg, "f:3: bad thing");
    err_prefix(&e, "loading %s", "x");
    CHECK_STR(e.msg, "loading x: f:3: bad thing");
    CHECK_INT(err_set(NULL, ERR_IO, "x"), ERR_IO);
    err_clear(&e);
    CHECK_INT(e.code, 0);
}

static void test_common__arena(void)
{
    arena a = ARENA_INIT;
    char *s = arena_strdup(&a, "hello");
    CHECK_STR(s, "hello");
    char *big = arena_alloc(&a, 1 << 20);
    CHECK(big != NULL);
    CHECK(((uintptr_t)big & 15) == 0);
    char *p = arena_printf(&a, "%d-%s", 7, "x");
    CHECK_STR(p, "7-x");
    CHECK(arena_high_water(&a) >= (1 << 20));
    CHECK(arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    arena_reset(&a);
    CHECK(arena_strdup(&a, "again") != NULL);
    arena_release(&a);
    arena_release(&a); /* safe twice */
}

static void test_common__buf(void)
{
    buf b = BUF_INIT;
    CHECK_STR(b.data, "");
    CHECK_INT(buf_puts(&b, "ab"), 0);
    CHECK_INT(buf_printf(&b, "%d", 42), 0);
    CHECK_STR(b.data, "ab42");
    buf_truncate(&b, 1);
    CHECK_STR(b.data, "a");
    buf_release(&b);
    buf_init(&b, 4);
    CHECK_INT(buf_puts(&b, "abcd"), 0);
    CHECK_INT(buf_puts(&b, "e"), ERR_LIMIT);
    CHECK_STR(b.data, "abcd");
    size_t n;
    char *d = buf_detach(&b, &n);
    CHECK_INT(n, 4);
    CHECK_STR(d, "abcd");
    free(d);
    CHECK_STR(b.data, "");
    buf_release(&b);
}

static void test_common__fileio(void)
{
    char dir[] = "/tmp/tally-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    buf path = BUF_INIT, data = BUF_INIT;
    err e = ERR_INIT;
    path_join(&path, dir, "a/b/c");
    CHECK_INT(dir_create(path.data, &e), 0);
    CHECK(dir_exists(path.data));
    path_join(&path, dir, "f.txt");
    CHECK_INT(file_write_atomic(path.data, "one\ntwo", 7, &e), 0);
    CHECK_INT(file_read_all(path.data, &data, &e), 0);
    CHECK_STR(data.data, "one\ntwo");
    line_iter it = line_iter_start(data.data, data.len);
    const char *l;
    size_t ln;
    CHECK(line_iter_next(&it, &l, &ln) && ln == 3 && !it.last_unterminated);
    CHECK(line_iter_next(&it, &l, &ln) && ln == 3 && it.last_unterminated && it.lineno == 2);
    CHECK(!line_iter_next(&it, &l, &ln));
    buf_reset(&data);
    CHECK_INT(file_read_all("/nonexistent/x", &data, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "/nonexistent/x") != NULL);
    int fd = file_open_append(path.data, &e);
    CHECK(fd >= 0);
    CHECK_INT(file_append(fd, "\nthree\n", 7, path.data, &e), 0);
    close(fd);
    buf_reset(&data);
    file_read_all(path.data, &data, &e);
    CHECK_STR(data.data, "one\ntwo\nthree\n");
    /* capped read */
    buf capped;
    buf_init(&capped, 4);
    CHECK_INT(file_read_all(path.data, &capped, &e), ERR_LIMIT);
    buf_release(&capped);
    /* gzip of the real dataset */
    buf gz = BUF_INIT;
    buf gzp = BUF_INIT;
    path_join(&gzp, test_data_dir(), "humaneval/HumanEval.jsonl.gz");
    CHECK_INT(file_read_gz(gzp.data, &gz, &e), 0);
    CHECK(gz.len > 100000 && strstr(gz.data, "HumanEval/163") != NULL);
    buf_release(&gz);
    buf_release(&gzp);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    buf_release(&path);
    buf_release(&data);
}

static void test_common__json(void)
{
    err e = ERR_INIT;
    cJSON *v = NULL;
    const char *txt = "{\"a\": \"x\", \"n\": 3, \"f\": 1.5, \"b\": true, \"l\": [1]}";
    CHECK_INT(json_parse(txt, strlen(txt), "t.jsonl:4", &v, &e), 0);
    const char *s;
    int64_t n;
    CHECK_INT(json_get_str(v, "a", "t.jsonl:4", &s, &e), 0);
    CHECK_STR(s, "x");
    CHECK_INT(json_get_int(v, "n", "t.jsonl:4", 0, 10, &n, &e), 0);
    CHECK_INT(n, 3);
    CHECK_INT(json_get_int(v, "f", "t.jsonl:4", 0, 10, &n, &e), ERR_PARSE);
    CHECK_INT(json_get_str(v, "missing", "t.jsonl:4", &s, &e), ERR_PARSE);
    CHECK_STR(e.msg, "t.jsonl:4: field \"missing\" is missing");
    CHECK_INT(json_get_str(v, "n", "t.jsonl:4", &s, &e), ERR_PARSE);
    CHECK_STR(e.msg, "t.jsonl:4: field \"n\" is not a string (got number)");
    cJSON_Delete(v);
    CHECK_INT(json_parse("{\"a\": 1} x", 10, "w", &v, &e), ERR_PARSE);
    CHECK_INT(json_parse("{\"a\": ", 6, "w:2", &v, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "w:2: invalid JSON") != NULL);

    buf b = BUF_INIT;
    json_append_str(&b, "a\"b\\\n\x01\xc3\xa9", 8);
    CHECK_STR(b.data, "\"a\\\"b\\\\\\n\\u0001\xc3\xa9\"");
    buf_reset(&b);
    json_append_double(&b, 0.1);
    buf_putc(&b, ' ');
    json_append_double(&b, 3.0);
    buf_putc(&b, ' ');
    json_append_double(&b, 1.0 / 3.0);
    CHECK_STR(b.data, "0.1 3 0.3333333333333333");

    /* Python json.dumps */
    const char *t2 = "{\"name\": \"f\", \"d\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\", \"p\": [1, {\"x\": null}], \"e\": {}}";
    CHECK_INT(json_parse(t2, strlen(t2), "t2", &v, &e), 0);
    buf_reset(&b);
    json_dumps_py(&b, v, -1, true);
    CHECK_STR(b.data, "{\"name\": \"f\", \"d\": \"caf\\u00e9 \\ud83d\\ude00\", \"p\": [1, {\"x\": null}], \"e\": {}}");
    buf_reset(&b);
    json_dumps_py(&b, v, 4, false);
    CHECK_STR(b.data, "{\n    \"name\": \"f\",\n    \"d\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\",\n    \"p\": [\n        1,\n        {\n            \"x\": null\n        }\n    ],\n    \"e\": {}\n}");
    cJSON_Delete(v);
    /* DEL: escaped with ensure_ascii only, as Python does */
    v = cJSON_CreateString("a\x7f" "b");
    buf_reset(&b);
    json_dumps_py(&b, v, -1, true);
    CHECK_STR(b.data, "\"a\\u007fb\"");
    buf_reset(&b);
    json_dumps_py(&b, v, -1, false);
    CHECK_STR(b.data, "\"a\x7f" "b\"");
    cJSON_Delete(v);
    buf_release(&b);
}

static void test_common__json_at(void)
{
    const char *txt = "{\"s\": \"x\", \"n\": 3.5, \"o\": {\"s\": \"y\", \"i\": 7}, \"l\": [1]}";
    cJSON *v = cJSON_Parse(txt);
    CHECK(v != NULL);
    CHECK_STR(json_str_at(v, "s", NULL), "x");
    CHECK_STR(json_str_at(v, "o", "s"), "y");
    CHECK(json_str_at(v, "n", NULL) == NULL);      /* not a string */
    CHECK(json_str_at(v, "missing", "s") == NULL); /* a missing level */
    CHECK(json_str_at(v, "l", "s") == NULL);       /* not an object */
    CHECK(json_str_at(NULL, "s", NULL) == NULL);
    CHECK_INT(json_int_at(v, "o", "i", -1), 7);
    CHECK_INT(json_int_at(v, "s", NULL, -1), -1);
    CHECK_INT(json_int_at(v, "o", "missing", 42), 42);
    CHECK(json_num_at(v, "n", NULL, 0) == 3.5);
    CHECK(json_num_at(v, "o", "s", -2) == -2);
    CHECK(isnan(json_num_at(v, "x", NULL, NAN)));
    CHECK(json_at(v, "o", "i") ==
          cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "o"), "i"));
    CHECK(json_at(v, "o", NULL) == cJSON_GetObjectItemCaseSensitive(v, "o"));
    cJSON_Delete(v);
}

/* json_append_pystr under both policies its callers use. */
static void pystr_case(const char *in, size_t n, bool ea, bool wtf8, const char *want)
{
    buf b = BUF_INIT;
    unsigned flags = wtf8 ? UTF8_SURROGATES : UTF8_SURROGATES | UTF8_UNCHECKED;
    CHECK_INT(json_append_pystr(&b, in, n, ea, flags, wtf8), 0);
    CHECK_MSG(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "%s: got %s", want,
              b.data);
    buf_release(&b);
}

static void test_common__json_pystr(void)
{
    pystr_case("a\"\\\n\r\t\b\f\x01\x7f", 10, false, true,
               "\"a\\\"\\\\\\n\\r\\t\\b\\f\\u0001\x7f\"");
    pystr_case("\x7f", 1, true, true, "\"\\u007f\"");
    pystr_case("\xc3\xa9\xf0\x9f\x98\x80", 6, false, true, "\"\xc3\xa9\xf0\x9f\x98\x80\"");
    pystr_case("\xc3\xa9\xf0\x9f\x98\x80", 6, true, true, "\"\\u00e9\\ud83d\\ude00\"");
    pystr_case("\xed\xa0\x80", 3, false, true, "\"\\ud800\""); /* a surrogate escapes */
    pystr_case("\xed\xa0\x80", 3, false, false, "\"\\ud800\"");
    /* invalid bytes: \ufffd (pyval) or passed through (pyjson) */
    pystr_case("\xff"
               "a",
               2, false, true, "\"\\ufffda\"");
    pystr_case("\xff"
               "a",
               2, true, true, "\"\\ufffda\"");
    pystr_case("\xff"
               "a",
               2, true, false,
               "\"\xff"
               "a\"");
    pystr_case("\xe2\x82", 2, true, false, "\"\xe2\x82\"");
    pystr_case("\xe2\x82", 2, false, true, "\"\\ufffd\\ufffd\"");
    /* an overlong decodes only without range checks */
    pystr_case("\xe0\x80\x80", 3, true, false, "\"\\u0000\"");
    pystr_case("\xe0\x80\x80", 3, true, true, "\"\\ufffd\\ufffd\\ufffd\"");
    pystr_case("", 0, true, true, "\"\"");
}

static void test_common__hash(void)
{
    char hex[HASH_HEX_SIZE];
    CHECK_INT(sha256_hex("abc", 3, hex), 0);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(sha256_hex("", 0, hex), 0);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    err e = ERR_INIT;
    CHECK_INT(sha256_file_hex("/nonexistent", hex, &e), ERR_NOTFOUND);
}

static void test_common__util(void)
{
    CHECK(str_starts("hello", "he"));
    CHECK(!str_starts("he", "hello"));
    CHECK(str_ends("hello", "llo"));
    CHECK(mem_find("abcabc", 6, "ca", 2) != NULL);
    rng r1, r2;
    rng_seed(&r1, 42);
    rng_seed(&r2, 42);
    for (int i = 0; i < 10; i++) CHECK(rng_next(&r1) == rng_next(&r2));
    double u = rng_uniform(&r1);
    CHECK(u >= 0 && u < 1);
    char ts[32];
    time_iso8601(ts, sizeof ts);
    CHECK(strlen(ts) == 20 && ts[19] == 'Z');
}

static void test_common__strmap(void)
{
    strmap m = STRMAP_INIT;
    char key[32];
    for (size_t i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "k%zu", i);
        CHECK_INT(strmap_put(&m, key, (size_t)n, i * 2), 0);
    }
    CHECK_INT(m.count, 1000);
    size_t v = 0;
    CHECK(strmap_get(&m, "k517", 4, &v) && v == 1034);
    CHECK(!strmap_get(&m, "k1000", 5, &v));
    CHECK_INT(strmap_add(&m, "k1", 2, 5), 0);
    CHECK(strmap_get(&m, "k1", 2, &v) && v == 2);
    CHECK_INT(strmap_add(&m, "a\0b", 3, 9), 1);
    CHECK(strmap_get(&m, "a\0b", 3, &v) && v == 9);
    CHECK(!strmap_get(&m, "a", 1, &v));
    strmap_release(&m);
}

/* One case: the bytes, and the length each policy decodes (0 = rejected). */
typedef struct utf8_case {
    const char *s;
    size_t n;
    size_t strict, wtf8, unchecked, lenient;
    uint32_t cp;
} utf8_case;

static void test_common__utf8(void)
{
    static const utf8_case cases[] = {
        {"A", 1, 1, 1, 1, 1, 0x41},
        {"\xC3\xA9", 2, 2, 2, 2, 2, 0xE9},
        {"\xE2\x82\xAC", 3, 3, 3, 3, 3, 0x20AC},
        {"\xF0\x9F\x98\x80", 4, 4, 4, 4, 4, 0x1F600},
        {"\xF4\x8F\xBF\xBF", 4, 4, 4, 4, 4, 0x10FFFF},
        {"\xED\xA0\x80", 3, 0, 3, 3, 3, 0xD800},       /* a surrogate */
        {"\xE0\x80\x80", 3, 0, 0, 3, 3, 0},            /* overlong */
        {"\xF4\x90\x80\x80", 4, 0, 0, 4, 4, 0x110000}, /* past U+10FFFF */
        {"\xC0\x80", 2, 0, 0, 0, 2, 0},                /* lead 0xC0 */
        {"\xF5\x80\x80\x80", 4, 0, 0, 0, 4, 0x140000}, /* lead 0xF5 */
        {"\xF8\x80\x80\x80\x80", 5, 0, 0, 0, 0, 0},    /* no 5-byte forms */
        {"\x80", 1, 0, 0, 0, 0, 0},                    /* a lone continuation */
        {"\xE2\x82", 2, 0, 0, 0, 0, 0},                /* truncated */
        {"\xE2\x28\xAC", 3, 0, 0, 0, 0, 0},            /* bad continuation */
        {"", 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const utf8_case *c = &cases[i];
        const unsigned flags[4] = {0, UTF8_SURROGATES, UTF8_SURROGATES | UTF8_UNCHECKED,
                                   UTF8_LENIENT};
        const size_t want[4] = {c->strict, c->wtf8, c->unchecked, c->lenient};
        for (int f = 0; f < 4; f++) {
            uint32_t cp = 0xDEADBEEF;
            size_t len = utf8_decode(c->s, c->n, flags[f], &cp);
            CHECK_INT(len, want[f]);
            CHECK(len ? cp == c->cp : cp == 0xDEADBEEF);
        }
        CHECK(utf8_valid(c->s, c->n) == (c->strict == c->n));
    }
    /* every prefix of a valid sequence is rejected, and the decoder stays inside it */
    const char *euro = "\xE2\x82\xAC";
    for (size_t n = 1; n < 3; n++) {
        char *p = malloc(n);
        memcpy(p, euro, n);
        uint32_t cp;
        CHECK_INT(utf8_decode(p, n, UTF8_LENIENT, &cp), 0);
        CHECK(!utf8_valid(p, n));
        free(p);
    }
    CHECK(utf8_valid("a\0b", 3));
    /* encode and decode agree on every value below 2^21 */
    size_t bad = 0;
    for (uint32_t v = 0; v < 0x200000; v++) {
        char o[4];
        uint32_t back = 0;
        size_t k = utf8_encode(o, v);
        size_t want = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
        if (k != want || utf8_decode(o, k, UTF8_LENIENT, &back) != k || back != v) bad++;
    }
    CHECK_INT(bad, 0);
    /* the sequence before a position: whole, or 0 for a stray byte */
    uint32_t last = 0;
    CHECK_INT(utf8_decode_last("a\xe2\x82\xac", 4, 0, &last), 3);
    CHECK(last == 0x20AC);
    CHECK_INT(utf8_decode_last("a\xe2\x82\xac", 1, 0, &last), 1);
    CHECK(last == 'a');
    CHECK_INT(utf8_decode_last("\xe2\x82\xac\x80", 4, 0, &last), 0); /* four continuations */
    CHECK_INT(utf8_decode_last("\xe2\x82", 2, 0, &last), 0);         /* truncated */
    CHECK_INT(utf8_decode_last("\xed\xa0\x80", 3, 0, &last), 0);
    CHECK_INT(utf8_decode_last("\xed\xa0\x80", 3, UTF8_SURROGATES, &last), 3);
    CHECK(last == 0xD800);
    /* Python's whitespace */
    size_t n_space = 0;
    for (uint32_t c = 0; c < 0x110000; c++) n_space += utf8_is_pyspace(c);
    CHECK_INT(n_space, 29);
    CHECK(utf8_is_pyspace(0x1C) && utf8_is_pyspace(0x85) && utf8_is_pyspace(0x3000));
    CHECK(!utf8_is_pyspace(0x200B) && !utf8_is_pyspace(0xFEFF) && !utf8_is_pyspace(0x180E));
    /* sanitize: one U+FFFD per bad byte, NUL replaced only when asked */
    static const char in[] = "a\xff\xe2\x82"
                             "b\0\xef\xbf\xbd";
    static const char want[] = "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                               "b\0\xef\xbf\xbd";
    buf b = BUF_INIT;
    CHECK_INT(utf8_sanitize(&b, in, sizeof in - 1, false), 0);
    CHECK(b.len == sizeof want - 1 && memcmp(b.data, want, b.len) == 0);
    b.len = 0;
    CHECK_INT(utf8_sanitize(&b, "a\0b", 3, true), 0);
    CHECK(b.len == 5 && memcmp(b.data,
                               "a\xef\xbf\xbd"
                               "b",
                               5) == 0);
    buf_release(&b);
}

int main(void)
{
    RUN(test_common__strmap);
    RUN(test_common__err);
    RUN(test_common__arena);
    RUN(test_common__buf);
    RUN(test_common__fileio);
    RUN(test_common__json);
    RUN(test_common__json_at);
    RUN(test_common__json_pystr);
    RUN(test_common__hash);
    RUN(test_common__util);
    RUN(test_common__utf8);
    return test_report();
}
