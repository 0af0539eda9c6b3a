/* test_pycall.c: the prompt-mode Python call decoder against CPython 3.11
 * (tests/data/pycall_golden.jsonl: SCORING.md 4.2's rules run with CPython's
 * ast; unparse_golden.jsonl: ast.unparse), and a fuzz run over every prefix
 * and random byte flips of real outputs (the oracle's answers to BFCL). */
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "datasets/bfcl.h"
#include "scorers/bfcl.h"
#include "scorers/pycall.h"
#include "test.h"
#include "golden.h"

#include <cjson/cJSON.h>
#include <string.h>

static int deviations;

static void decode_case(const cJSON *o)
{
    const char *in = cJSON_GetObjectItemCaseSensitive(o, "in")->valuestring;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(o, "out");
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "deviation");
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyval *v = NULL;
    int rc = pycall_decode(in, strlen(in), &a, &v, NULL, &e);
    if (dev) {
        /* documented as unsupported: we must refuse it, saying so */
        CHECK_MSG(rc == ERR_PARSE && strstr(e.msg, "unsupported"),
                  "%s: expected an 'unsupported' error, got %s", in, rc ? e.msg : "a value");
        deviations++;
    } else if (cJSON_IsNull(out)) {
        CHECK_MSG(rc == ERR_PARSE, "%s: Python fails to decode it, we did not", in);
        CHECK(e.msg[0] != 0);
    } else {
        buf b = BUF_INIT;
        if (rc == 0) pyval_repr(&b, v);
        CHECK_MSG(rc == 0 && strcmp(b.data, out->valuestring) == 0, "%s\n  want %s\n  got  %s", in,
                  out->valuestring, rc ? e.msg : b.data);
        CHECK(rc != 0 || bfcl_calls_well_formed(v));
        buf_release(&b);
    }
    arena_release(&a);
}

static void test_pycall__decode_golden(void)
{
    deviations = 0;
    CHECK(golden_each("pycall_golden.jsonl", decode_case) > 150);
    CHECK_INT(deviations, 7);
}

static void unparse_case(const cJSON *o)
{
    const char *in = cJSON_GetObjectItemCaseSensitive(o, "in")->valuestring;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(o, "out");
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    buf b = BUF_INIT;
    int rc = pycall_unparse(in, strlen(in), &a, &b, &e);
    if (cJSON_GetObjectItemCaseSensitive(o, "deviation"))
        CHECK(rc == ERR_PARSE && strstr(e.msg, "unsupported"));
    else
        CHECK_MSG(rc == 0 && strcmp(b.data, out->valuestring) == 0, "%s\n  want %s\n  got  %s", in,
                  out->valuestring, rc ? e.msg : b.data);
    buf_release(&b);
    arena_release(&a);
}

static void test_pycall__unparse_golden(void)
{
    CHECK(golden_each("unparse_golden.jsonl", unparse_case) > 100);
}

static void test_pycall__values(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"+5", "-5"},
        {"not True", "-1"},
        {"x", "'x'"},
        {"len(x)", "'len(x)'"},
        {"f(a=1)", "{'f': {'a': 1}}"},
        {"a.b(c=[1, (2,)])", "{'a.b': {'c': [1, (2,)]}}"},
        {"x[ 1 ]", "'x[1]'"},
        {"2 ** 64", "18446744073709551616"},
        {"-(2 ** 63) - 1", "-9223372036854775809"},
        {"0 + ~(2 ** 70)", "-1180591620717411303425"},
        {"~(2 ** 70)", NULL}, /* a unary operator on a non-literal */
        {"[1] * 3 + [2]", "[1, 1, 1, 2]"},
        {"'ab' * 2 == 'abab'", NULL}, /* a comparison is not a BFCL value */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        pyval *v;
        int rc = pycall_value(cases[i].in, strlen(cases[i].in), &a, &v, &e);
        if (!cases[i].out) {
            CHECK_INT(rc, ERR_PARSE);
        } else {
            buf b = BUF_INIT;
            if (rc == 0) pyval_repr(&b, v);
            CHECK_MSG(rc == 0 && strcmp(b.data, cases[i].out) == 0, "%s -> %s", cases[i].in,
                      rc ? e.msg : b.data);
            buf_release(&b);
        }
        arena_release(&a);
    }
    /* text that is not UTF-8 is refused, inside string literals too */
    {
        static const char *const bad[] = {"[f(a='\xff')]", "[f(a='\xed\xa0\x80')]", "[f(a=1)]\xc3"};
        for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
            arena ba = ARENA_INIT;
            err be = ERR_INIT;
            pyval *bv;
            CHECK_INT(pycall_decode(bad[i], strlen(bad[i]), &ba, &bv, NULL, &be), ERR_PARSE);
            CHECK(strstr(be.msg, "UTF-8") != NULL);
            arena_release(&ba);
        }
    }
    /* very long chains and deep nesting: a clear error, not a stack overflow */
    {
        static const struct {
            const char *unit, *head, *tail;
            bool ok;
        } deep[] = {
            {"1+", "[f(a=", "1)]", false},   {"-", "[f(a=", "1)]", false},
            {"2**", "[f(a=", "2)]", false},  {".b", "[f(a=x", ")]", false},
            {"()", "[f(a=g", ")]", false},   {"[0]", "[f(a=x", ")]", false},
            {"not ", "[f(a=", "1)]", false}, {"x if y else ", "[f(a=", "1)]", false},
        };
        for (size_t i = 0; i < ARRAY_LEN(deep); i++) {
            buf t = BUF_INIT;
            buf_puts(&t, deep[i].head);
            for (int k = 0; k < 50000; k++) buf_puts(&t, deep[i].unit);
            buf_puts(&t, deep[i].tail);
            arena da = ARENA_INIT;
            err de = ERR_INIT;
            pyval *dv;
            int rc = pycall_decode(t.data, t.len, &da, &dv, NULL, &de);
            CHECK_MSG(rc == ERR_PARSE && strstr(de.msg, "deep"), "%s x 50000: %s", deep[i].unit,
                      de.msg);
            arena_release(&da);
            buf_release(&t);
        }
        /* 1000 terms is fine */
        buf t = BUF_INIT;
        buf_puts(&t, "[f(a=0");
        for (int k = 0; k < 1000; k++) buf_puts(&t, "+1");
        buf_puts(&t, ")]");
        arena da = ARENA_INIT;
        err de = ERR_INIT;
        pyval *dv;
        CHECK_INT(pycall_decode(t.data, t.len, &da, &dv, NULL, &de), 0);
        buf out = BUF_INIT;
        pyval_repr(&out, dv);
        CHECK_STR(out.data, "[{'f': {'a': 1000}}]");
        buf_release(&out);
        buf_release(&t);
        arena_release(&da);
    }
    /* multi-turn ground truth strings: positional arguments are dropped */
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyval *calls;
    const char *gt =
        "[cd(folder='document'), sort('final_report.pdf'), grep(file_name='f',pattern='x')]";
    size_t positional;
    CHECK_INT(pycall_parse_calls(gt, strlen(gt), &a, &calls, &positional, &e), 0);
    CHECK_INT(positional, 1);
    buf b = BUF_INIT;
    pyval_repr(&b, calls);
    CHECK_STR(b.data, "[{'cd': {'folder': 'document'}}, {'sort': {}}, {'grep': {'file_name': 'f', "
                      "'pattern': 'x'}}]");
    buf_release(&b);
    arena_release(&a);
}

/* ---- fuzz ---- */

typedef struct corpus {
    char **texts;
    size_t n, cap;
} corpus;

static void corpus_add(corpus *c, const char *t)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->texts = realloc(c->texts, c->cap * sizeof *c->texts);
    }
    c->texts[c->n++] = strdup(t);
}

static void add_golden_input(const cJSON *o)
{
    extern corpus fuzz_corpus;
    corpus_add(&fuzz_corpus, cJSON_GetObjectItemCaseSensitive(o, "in")->valuestring);
}

corpus fuzz_corpus;

/* One decode: 0 with well-formed calls, or ERR_PARSE with a message. */
static void fuzz_one(const char *s, size_t n, size_t *oks, size_t *errs)
{
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyval *v = NULL;
    int rc = pycall_decode(s, n, &a, &v, NULL, &e);
    if (rc == 0) {
        (*oks)++;
        if (!bfcl_calls_well_formed(v))
            CHECK_MSG(0, "decoded to a malformed result: %.*s", (int)n, s);
    } else {
        (*errs)++;
        if (rc != ERR_PARSE || !e.msg[0]) CHECK_MSG(0, "rc %d for %.*s", rc, (int)n, s);
    }
    arena_release(&a);
}

static void test_pycall__fuzz(void)
{
    /* real outputs: the oracle's answers for the Python AST categories, plus the golden inputs */
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    static const char *const cats[] = {"simple_python",         "multiple",    "parallel",
                                       "parallel_multiple",     "live_simple", "live_parallel",
                                       "live_parallel_multiple"};
    for (size_t c = 0; c < ARRAY_LEN(cats); c++) {
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        item_set set;
        int rc = bfcl_load(&o, cats[c], &a, &set, &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
        for (size_t i = 0; rc == 0 && i < set.n; i++) {
            const char *t;
            if (bfcl_oracle_text(set.items[i].data, &a, &t, &e) == 0) corpus_add(&fuzz_corpus, t);
        }
        arena_release(&a);
    }
    golden_each("pycall_golden.jsonl", add_golden_input);
    CHECK(fuzz_corpus.n > 1000);
    size_t oks = 0, errs = 0, runs = 0;
    rng r;
    rng_seed(&r, 2024);
    for (size_t i = 0; i < fuzz_corpus.n; i++) {
        const char *t = fuzz_corpus.texts[i];
        size_t n = strlen(t);
        /* every prefix of one text in eight (all of them for the crafted ones), byte flips of all
         */
        if (i % 8 == 0 || i >= fuzz_corpus.n - 160)
            for (size_t k = 0; k <= n; k++, runs++) fuzz_one(t, k, &oks, &errs);
        char *copy = malloc(n + 1);
        for (int f = 0; f < 12 && n; f++, runs++) {
            memcpy(copy, t, n + 1);
            int flips = 1 + (int)(rng_next(&r) % 3);
            for (int m = 0; m < flips; m++) {
                size_t at = rng_next(&r) % n;
                uint64_t kind = rng_next(&r) % 4;
                /* a bit flip, or a byte that matters to the grammar */
                static const char special[] = "()[]{}'\",=.:*-+\\#\n\x80\xff";
                copy[at] = kind == 0 ? (char)(copy[at] ^ (1u << (rng_next(&r) % 8)))
                                     : special[rng_next(&r) % (sizeof special - 1)];
                if (!copy[at]) copy[at] = 'x';
            }
            fuzz_one(copy, n, &oks, &errs);
        }
        free(copy);
        free(fuzz_corpus.texts[i]);
    }
    free(fuzz_corpus.texts);
    fprintf(stderr, "fuzz: %zu decodes, %zu decoded, %zu refused\n", runs, oks, errs);
    CHECK(oks > 1000 && errs > 1000);
}

int main(void)
{
    RUN(test_pycall__decode_golden);
    RUN(test_pycall__unparse_golden);
    RUN(test_pycall__values);
    RUN(test_pycall__fuzz);
    return test_report();
}
