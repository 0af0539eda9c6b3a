/* test_bfcl.c: BFCL loader, prompts, oracle, checker (SCORING.md 5.4 vectors
 * and crafted wrong calls for each error type), Java/JS conversion, score and
 * aggregate. */
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "datasets/bfcl.h"
#include "scorers/bfcl.h"
#include "scorers/bfcl_lang.h"
#include "scorers/metric.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *src_dir(void)
{
    const char *s = getenv("TALLY_SRC");
    return s ? s : ".";
}

static pyval *J(arena *a, const char *text)
{
    pyval *v = NULL;
    err e = ERR_INIT;
    if (pyval_parse_json(text, strlen(text), a, &v, &e) < 0)
        fprintf(stderr, "J(%s): %s\n", text, e.msg);
    return v;
}

static bfcl_item make_item(arena *a, const char *cat, const char *doc, const char *pa)
{
    bfcl_item it = {0};
    it.cat = bfcl_category_find(cat);
    it.messages = J(a, "[{\"role\": \"user\", \"content\": \"q\"}]");
    it.functions = J(a, doc ? doc : "[]");
    it.answer = pa ? J(a, pa) : NULL;
    return it;
}

/* ================================================================== */
/* SCORING.md 5.4                                                      */
/* ================================================================== */

static void test_bfcl__scoring_vectors(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/bfcl_vectors.jsonl", src_dir());
    buf b = BUF_INIT;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    CHECK_INT(file_read_all(path, &b, &e), 0);
    pyval *fx[32];
    size_t nfx = 0, nvec = 0;
    line_iter it = line_iter_start(b.data, b.len);
    const char *l;
    size_t n;
    while (line_iter_next(&it, &l, &n)) {
        if (!n || l[0] == '#') continue;
        pyval *o;
        CHECK_INT(pyval_parse_json(l, n, &a, &o, &e), 0);
        if (pyval_dict_get(o, "doc")) {
            fx[nfx++] = o;
            continue;
        }
        nvec++;
        const pyval *fname = pyval_dict_get(o, "fixture");
        const pyval *f = NULL;
        for (size_t k = 0; fname && k < nfx; k++)
            if (pyval_eq(pyval_dict_get(fx[k], "fixture"), fname)) f = fx[k];
        bfcl_item bi = {0};
        bi.cat = bfcl_category_find(pyval_dict_get(o, "category")->u.s.p);
        bi.messages = J(&a, "[]");
        bi.functions = f ? pyval_dict_get(f, "doc") : J(&a, "[]");
        bi.answer = f ? pyval_dict_get(f, "pa") : NULL;
        bool fc = pyval_is_str(pyval_dict_get(o, "mode"), "fc");
        const pyval *u2d = pyval_dict_get(o, "underscore_to_dot");
        bfcl_verdict v;
        if (fc) {
            CHECK_INT(bfcl_check(&bi, pyval_dict_get(o, "decoded"), u2d && u2d->u.b, &a, &v, &e),
                      0);
        } else {
            CHECK_INT(
                bfcl_judge(&bi, false, pyval_dict_get(o, "raw")->u.s.p, NULL, &a, &v, NULL, &e), 0);
        }
        bool want = pyval_dict_get(o, "valid")->u.b;
        const pyval *et = pyval_dict_get(o, "error_type");
        buf d = BUF_INIT;
        pyval_repr(&d, fc ? pyval_dict_get(o, "decoded") : pyval_dict_get(o, "raw"));
        CHECK_MSG(v.valid == want, "%s %s: valid %d, want %d (%s: %s)", bi.cat->name, d.data,
                  v.valid, want, v.error_type ? v.error_type : "-", v.reason ? v.reason : "-");
        if (et && et->kind == PYV_STR)
            CHECK_MSG(v.error_type && strcmp(v.error_type, et->u.s.p) == 0,
                      "%s: error type %s, want %s", d.data, v.error_type ? v.error_type : "(none)",
                      et->u.s.p);
        if (want)
            CHECK(v.error_type == NULL && v.reason == NULL);
        else
            CHECK(v.reason != NULL && v.reason[0]);
        buf_release(&d);
    }
    CHECK_INT(nfx, 9);
    CHECK_INT(nvec, 50);
    buf_release(&b);
    arena_release(&a);
}

/* ================================================================== */
/* crafted wrong calls, one per error type                             */
/* ================================================================== */

static const char doc_f[] = "[{\"name\": \"f\", \"description\": \"\", \"parameters\": {\"type\": "
                            "\"dict\", \"properties\": "
                            "{\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"integer\"}, "
                            "\"opts\": {\"type\": \"dict\"}, "
                            "\"rows\": {\"type\": \"array\", \"items\": {\"type\": \"dict\"}}, "
                            "\"pt\": {\"type\": \"tuple\", "
                            "\"items\": {\"type\": \"float\"}}, \"tags\": {\"type\": \"array\", "
                            "\"items\": {\"type\": \"string\"}}}, "
                            "\"required\": [\"a\"]}}]";
static const char pa_f[] = "[{\"f\": {\"a\": [1], \"b\": [2], \"opts\": [\"\"], \"rows\": "
                           "[[{\"k\": [\"x\"], \"n\": [1, \"\"]}], \"\"], "
                           "\"pt\": [[1.0, 2.5], \"\"], \"tags\": [\"\", [\"A\", \"b\"]]}}]";

typedef struct crafted {
    const char *cat;
    bool native;
    const char *text;       /* prompt mode text or native text content */
    const char *tool_calls; /* native: JSON array */
    bool valid;
    const char *etype;
} crafted;

static void test_bfcl__error_types(void)
{
    static const char tri[] = "[{\"name\": \"tri.area\", \"description\": \"\", \"parameters\": "
                              "{\"type\": \"dict\", \"properties\": "
                              "{\"base\": {\"type\": \"integer\"}, \"unit\": {\"type\": "
                              "\"string\"}}, \"required\": [\"base\"]}}]";
    static const char tri_pa[] = "[{\"tri.area\": {\"base\": [10], \"unit\": [\"cm\", \"\"]}}]";
    static const crafted cases[] = {
        {"simple_python", false, "[f(a=1)]", NULL, false,
         "simple_function_checker:missing_optional"},
        {"simple_python", false, "[f(a=1, b=2)]", NULL, true, NULL},
        {"simple_python", false, "[f(a=1, b=2, opts={})]", NULL, false, "dict_checker:unclear"},
        {"simple_python", false, "[f(a=1, b=2, rows=[{'k': 'x'}, {'k': 'x'}])]", NULL, false,
         "value_error:list_dict_count"},
        /* with "" among the alternatives BFCL's loop ends on it: its error type is the one reported
         */
        {"simple_python", false, "[f(a=1, b=2, rows=[{'k': 'y'}])]", NULL, false,
         "value_error:list_dict_count"},
        {"simple_python", false, "[f(a=1, b=2, rows=[{'k': 'X', 'n': 1}])]", NULL, true, NULL},
        {"simple_python", false, "[f(a=1, b=2, rows=[{'n': 1}])]", NULL, false,
         "value_error:list_dict_count"},
        {"simple_python", false, "[f(a=1, b=2, rows=[])]", NULL, true, NULL},
        {"simple_python", false, "[f(a=1, b=2, rows=['x'])]", NULL, false,
         "value_error:list_dict_count"},
        {"simple_python", false, "[f(a=1, b=2, pt=(1.0, 2.5))]", NULL, true, NULL},
        {"simple_python", false, "[f(a=1, b=2, pt=[1.0, 2.5])]", NULL, true, NULL},
        {"simple_python", false, "[f(a=1, b=2, pt=(1, 2.5))]", NULL, true,
         NULL}, /* "" skips the item types */
        {"simple_python", false, "[f(a=1, b=2, tags=['a', 'B'])]", NULL, true, NULL},
        {"simple_python", false, "[f(a=1, b=2, tags=['b', 'a'])]", NULL, false,
         "value_error:list/tuple"},
        {"simple_python", false, "[f(a=True, b=2)]", NULL, false, "type_error:simple"},
        {"simple_python", false, "[f(a=1, b=3)]", NULL, false, "value_error:others"},
        {"simple_python", false, "[f(b=2)]", NULL, false,
         "simple_function_checker:missing_required"},
        {"simple_python", false, "[f(a=1, b=2, c=3)]", NULL, false,
         "simple_function_checker:unexpected_param"},
        {"simple_python", false, "[g(a=1, b=2)]", NULL, false,
         "simple_function_checker:wrong_func_name"},
        {"simple_python", false, "[]", NULL, false, "simple_function_checker:wrong_count"},
        {"simple_python", false, "I think f(a=1)", NULL, false, "ast_decoder:decoder_failed"},
        {"simple_python", false, "[f(a=1, b=2", NULL, false, "ast_decoder:decoder_failed"},
        {"simple_python", false, "[f(a=1, b=2)", NULL, true,
         NULL}, /* the closing bracket is added */
        {"multiple", false, "[f(a=1, b=2), f(a=1, b=2)]", NULL, false,
         "multiple_function_checker:wrong_count"},
        {"parallel", false, "[f(a=1, b=3)]", NULL, false,
         "parallel_function_checker_no_order:cannot_find_match"},
        /* native mode */
        {"simple_python", true, "",
         "[{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1, \\\"b\\\": 2}\"}]", true, NULL},
        {"simple_python", true, "", "[{\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": 2}}]",
         true, NULL},
        {"simple_python", true, "",
         "[{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1, \\\"b\\\": 2.0}\"}]", false,
         "type_error:simple"},
        {"simple_python", true, "", "[{\"name\": \"f\", \"arguments\": \"[1, 2]\"}]", false,
         "ast_decoder:decoder_wrong_output_format"},
        {"simple_python", true, "", "[{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1,\"}]", false,
         "ast_decoder:decoder_failed"},
        {"simple_python", true, "[f(a=1, b=2)]", NULL, false, "ast_decoder:decoder_failed"},
        {"simple_python", true, "", NULL, false, "simple_function_checker:wrong_count"},
        {"irrelevance", true, "", "[{\"name\": \"f\", \"arguments\": \"{}\"}]", false,
         "irrelevance_error:decoder_success"},
        {"irrelevance", true, "", "[{\"name\": \"f\", \"arguments\": \"not json\"}]", true, NULL},
        {"irrelevance", true, "Sorry, none of these fit.", NULL, true, NULL},
        {"irrelevance", false, "[{}]", NULL, true, NULL},
        {"irrelevance", false, "[f()]", NULL, false, "irrelevance_error:decoder_success"},
        {"live_relevance", true, "It is sunny.", NULL, false, "relevance_error:decoder_failed"},
        {"live_relevance", true, "", "[{\"name\": \"anything\", \"arguments\": \"{}\"}]", true,
         NULL},
        {"live_irrelevance", false, "```\n[f(a=1)]\n```", NULL, false,
         "irrelevance_error:decoder_success"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        bfcl_item bi = make_item(&a, cases[i].cat, doc_f, pa_f);
        if (bi.cat->kind == BFCL_AST_PARALLEL)
            bi.answer = J(&a, "[{\"f\": {\"a\": [1], \"b\": [2]}}]");
        cJSON *tc = cases[i].tool_calls ? cJSON_Parse(cases[i].tool_calls) : NULL;
        bfcl_verdict v;
        CHECK_INT(bfcl_judge(&bi, cases[i].native, cases[i].text, tc, &a, &v, NULL, &e), 0);
        CHECK_MSG(v.valid == cases[i].valid &&
                      (!cases[i].etype || (v.error_type && !strcmp(v.error_type, cases[i].etype))),
                  "case %zu %s %s: valid %d (%s: %s), want %d %s", i, cases[i].cat,
                  cases[i].text[0] ? cases[i].text : cases[i].tool_calls, v.valid,
                  v.error_type ? v.error_type : "-", v.reason ? v.reason : "-", cases[i].valid,
                  cases[i].etype ? cases[i].etype : "");
        CHECK(v.decode_failed == (cases[i].etype && !strncmp(cases[i].etype, "ast_decoder:", 12)));
        cJSON_Delete(tc);
        arena_release(&a);
    }
    /* the same parameters required, without "" */
    static const char doc_g[] =
        "[{\"name\": \"g\", \"description\": \"\", \"parameters\": {\"type\": \"dict\", "
        "\"properties\": "
        "{\"rows\": {\"type\": \"array\", \"items\": {\"type\": \"dict\"}}, \"pt\": {\"type\": "
        "\"tuple\", "
        "\"items\": {\"type\": \"float\"}}}, \"required\": [\"rows\", \"pt\"]}}]";
    static const char pa_g[] =
        "[{\"g\": {\"rows\": [[{\"k\": [\"x\"], \"n\": [1, \"\"]}]], \"pt\": [[1.0, 2.5]]}}]";
    static const struct {
        const char *text;
        bool valid;
        const char *etype;
    } gcases[] = {
        {"[g(rows=[{'k': 'x'}], pt=(1.0, 2.5))]", true, NULL},
        {"[g(rows=[{'k': 'y'}], pt=(1.0, 2.5))]", false, "value_error:dict_value"},
        {"[g(rows=[{'n': 1}], pt=(1.0, 2.5))]", false, "value_error:dict_key"},
        {"[g(rows=[{'k': 'x', 'z': 1}], pt=(1.0, 2.5))]", false, "value_error:dict_key"},
        {"[g(rows=[], pt=(1.0, 2.5))]", false, "value_error:list_dict_count"},
        {"[g(rows=['x'], pt=(1.0, 2.5))]", false, "type_error:nested"},
        {"[g(rows=[{'k': 'x'}], pt=(1, 2.5))]", false, "type_error:nested"},
        {"[g(rows=[{'k': 'x'}], pt=[1.0, 2.5])]", true, NULL},
        {"[g(rows=[{'k': 'x'}], pt=[2.5, 1.0])]", false, "value_error:list/tuple"},
        {"[g(rows={'k': 'x'}, pt=[1.0, 2.5])]", false, "type_error:simple"},
    };
    for (size_t i = 0; i < ARRAY_LEN(gcases); i++) {
        arena ga = ARENA_INIT;
        err ge = ERR_INIT;
        bfcl_item gi = make_item(&ga, "simple_python", doc_g, pa_g);
        bfcl_verdict gv;
        CHECK_INT(bfcl_judge(&gi, false, gcases[i].text, NULL, &ga, &gv, NULL, &ge), 0);
        CHECK_MSG(
            gv.valid == gcases[i].valid &&
                (!gcases[i].etype || (gv.error_type && !strcmp(gv.error_type, gcases[i].etype))),
            "%s: valid %d (%s: %s)", gcases[i].text, gv.valid, gv.error_type ? gv.error_type : "-",
            gv.reason ? gv.reason : "-");
        arena_release(&ga);
    }

    /* positional arguments are dropped, and the reason says so */
    {
        arena pa = ARENA_INIT;
        err pe = ERR_INIT;
        bfcl_item pi = make_item(&pa, "simple_python", doc_f, pa_f);
        bfcl_verdict pv;
        CHECK_INT(bfcl_judge(&pi, false, "[f(1, b=2)]", NULL, &pa, &pv, NULL, &pe), 0);
        CHECK(!pv.valid && !strcmp(pv.error_type, "simple_function_checker:missing_required"));
        CHECK(strstr(pv.reason, "1 positional argument,") != NULL);
        arena_release(&pa);
    }

    /* native names come with '_' for '.': the checker maps the expected name */
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    bfcl_item bi = make_item(&a, "simple_python", tri, tri_pa);
    cJSON *tc = cJSON_Parse("[{\"name\": \"tri_area\", \"arguments\": \"{\\\"base\\\": 10}\"}]");
    bfcl_verdict v;
    CHECK_INT(bfcl_judge(&bi, true, "", tc, &a, &v, NULL, &e), 0);
    CHECK(v.valid);
    CHECK_INT(bfcl_judge(&bi, false, "[tri_area(base=10)]", NULL, &a, &v, NULL, &e), 0);
    CHECK(!v.valid && !strcmp(v.error_type, "simple_function_checker:wrong_func_name"));
    cJSON_Delete(tc);
    arena_release(&a);
}

static void test_bfcl__standardize(void)
{
    arena a = ARENA_INIT;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"April 1, 2024", "april12024"},
        {"New-York/NY_*^.", "newyorkny"},
        {"it's", "it\"s"},
        {"Tab\tand\nNL", "tab\tand\nnl"},
        {"\xc4\xb0stanbul", "i\xcc\x87stanbul"},  /* U+0130 lowers to two characters */
        {"\xce\x9f\xce\xa3", "\xce\xbf\xcf\x82"}, /* final sigma */
        {"\xce\xa3\xce\x9f", "\xcf\x83\xce\xbf"}, /* not final */
        {"\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        pyval *s = bfcl_standardize(&a, pyval_strz(&a, cases[i].in));
        CHECK_STR(s ? s->u.s.p : NULL, cases[i].out);
    }
    arena_release(&a);
}

/* ================================================================== */
/* Java and JavaScript                                                 */
/* ================================================================== */

static void check_conv(bool java, const char *text, const char *type, const char *item,
                       const char *want)
{
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    pyval *v = NULL;
    int rc = java ? bfcl_java_convert(&a, text, strlen(text), type, item, &v, &e)
                  : bfcl_js_convert(&a, text, strlen(text), type, item, &v, &e);
    buf b = BUF_INIT;
    if (rc == 0) pyval_repr(&b, v);
    if (!want)
        CHECK_MSG(rc == ERR_UNSUPPORTED, "%s as %s should be unsupported", text, type);
    else
        CHECK_MSG(rc == 0 && !strcmp(b.data, want), "%s %s as %s: got %s, want %s",
                  java ? "java" : "js", text, type, rc ? e.msg : b.data, want);
    buf_release(&b);
    arena_release(&a);
}

static void test_bfcl__java_js_conversion(void)
{
    check_conv(true, "42", "integer", NULL, "42");
    check_conv(true, "-7", "short", NULL, "-7");
    check_conv(true, "42\n", "integer", NULL, "42"); /* Python's $ before a final newline */
    check_conv(true, "4.2", "integer", NULL, "'4.2'");
    check_conv(true, "5L", "long", NULL, "5");
    check_conv(true, "5", "long", NULL, "'5'");
    check_conv(true, "1.5f", "float", NULL, "1.5");
    check_conv(true, "1.5", "float", NULL, "'1.5'");
    check_conv(true, "2.5e3", "double", NULL, "2500.0");
    check_conv(true, "true", "boolean", NULL, "True");
    check_conv(true, "True", "boolean", NULL, "'True'");
    check_conv(true, "'a'", "char", NULL, "\"'a'\"");
    check_conv(true, "\"x\"", "String", NULL, "'\"x\"'");
    check_conv(true, "new ArrayList<String>(Arrays.asList(\"a\", \"b\"))", "ArrayList", "String",
               "['a', 'b']");
    check_conv(true, "new ArrayList<Long>(Arrays.asList(1L, 2L))", "ArrayList", "long", "[1, 2]");
    check_conv(true, "new ArrayList<Integer>() {{ add(1); add(2); }}", "ArrayList", "integer",
               "[1, 2]");
    check_conv(true, "new ArrayList<>()", "ArrayList", "integer", "[]");
    check_conv(true, "new ArrayList<Object>(Arrays.asList(x, 4))", "ArrayList", NULL, "['x', 4]");
    check_conv(true, "myList", "ArrayList", "String", "'myList'");
    check_conv(true, "new int[] {1, 2, }", "Array", "integer", "[1, 2]");
    check_conv(true, "new String[]{a, b}", "Array", "String", "['a', 'b']");
    check_conv(
        true,
        "new HashMap<String, Integer>() {{ put(\"a\", 1); put(\"b\", \"x\"); put(\"c\", 2.5f); }}",
        "HashMap", NULL, "{'a': 1, 'b': 'x', 'c': 2.5}");
    check_conv(true, "new HashMap<>()", "HashMap", NULL, "{}");
    check_conv(true, "env", "HashMap", NULL, "'env'");
    check_conv(true, "x", "Set", NULL, NULL);
    check_conv(true, "x", "Hashtable", NULL, NULL);
    check_conv(false, "'quoted'", "String", NULL, "'quoted'");
    check_conv(false, "\"dq\"", "String", NULL, "'dq'");
    check_conv(false, "plain", "String", NULL, "'plain'");
    check_conv(false, "12", "integer", NULL, "12");
    check_conv(false, "12.5", "float", NULL, "12.5");
    check_conv(false, "1e3", "float", NULL, "'1e3'");
    check_conv(false, "12n", "Bigint", NULL, "12");
    check_conv(false, "false", "Boolean", NULL, "False");
    check_conv(false, "[\"a\", 'b']", "array", "String", "['a', 'b']");
    check_conv(false, "[60, 30]", "array", "float", "[60.0, 30.0]");
    check_conv(false, "new Array(1, 2)", "array", "integer", "[1, 2]");
    check_conv(false, "[[1, 2], [3]]", "array", "integer", "[[1, 2], [3]]");
    check_conv(false, "[]", "array", "integer", "[]");
    check_conv(false, "[true, 'x', 2, 2.5, y]", "array", NULL, "[True, 'x', 2, 2.5, 'y']");
    check_conv(false, "{}", "dict", NULL, "{}");
    check_conv(false, "{a: 1, 'b': \"x,y\", c: [1, 2], d: {e: true}}", "dict", NULL,
               "{'a': 1, 'b': 'x,y', 'c': [1, 2], 'd': {'e': True}}");
    check_conv(false, "{broken}", "dict", NULL, "'{broken}'");
    check_conv(false, "x", "object", NULL, NULL);

    /* the prompt-mode call parser */
    static const struct {
        bfcl_lang lang;
        const char *in, *out;
    } calls[] = {
        {BFCL_JAVA, "[Foo.bar(a=\"x\", b=true, c=new int[]{1, 2}, 5)]",
         "[{'Foo.bar': {'a': 'x', 'b': 'true', 'c': 'new int[]{1, 2}'}}]"},
        {BFCL_JAVA, "Foo.bar(m=new HashMap<String, Integer>() {{ put(\"a\", 1); }})",
         "[{'Foo.bar': {'m': 'new HashMap<String, Integer>() {{ put(\"a\", 1); }}'}}]"},
        {BFCL_JAVA, "[a.b(x=\"q\\\"r\")]", "[{'a.b': {'x': 'q\\\\\"r'}}]"},
        {BFCL_JAVA, "[f(c='c')]", "[{'f': {'c': \"'c'\"}}]"},
        {BFCL_JAVASCRIPT, "[f(a='s', b=`t`, c=[1, 2], d={k: 'v'}), g(x=1)]",
         "[{'f': {'a': 's', 'b': 't', 'c': '[1, 2]', 'd': \"{k: 'v'}\"}}, {'g': {'x': '1'}}]"},
        {BFCL_JAVASCRIPT, "[f(cb=x => x + 1, y=a==b)]",
         "[{'f': {'cb': 'x => x + 1', 'y': 'a==b'}}]"},
        {BFCL_JAVASCRIPT, "[]", "[]"},
        {BFCL_JAVASCRIPT, "[f(a=(1, 2)]", NULL},
        {BFCL_JAVASCRIPT, "[f(a='x)]", NULL},
        {BFCL_JAVASCRIPT, "Sure: [f(a=1)]", NULL},
        {BFCL_JAVA, "[f(a=)]", NULL},
        {BFCL_JAVA, "[f(a=1) g(b=2)]", NULL},
        {BFCL_JAVA, "[9f(a=1)]", NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(calls); i++) {
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        pyval *v;
        size_t positional;
        int rc = bfcl_decode_prompt(calls[i].in, calls[i].lang, &a, &v, &positional, &e);
        if (i == 0) CHECK_INT(positional, 1);
        buf b = BUF_INIT;
        if (rc == 0) pyval_repr(&b, v);
        if (!calls[i].out)
            CHECK_MSG(rc == ERR_PARSE, "%s should not decode (got %s)", calls[i].in, b.data);
        else
            CHECK_MSG(rc == 0 && !strcmp(b.data, calls[i].out), "%s: got %s", calls[i].in,
                      rc ? e.msg : b.data);
        buf_release(&b);
        arena_release(&a);
    }
}

/* ================================================================== */
/* the oracle over the real data                                       */
/* ================================================================== */

/* Entries no answer can pass under BFCL's rules (see the report):
 * the possible answer lists no acceptable value at all ([]), names a
 * parameter the function doc lacks without "" (or leaves out one the doc
 * requires), or needs a non-string element from Java's `any`-typed ArrayList. */
static const struct {
    const char *id, *etype;
} unpassable[] = {
    {"simple_java_36", "value_error:list/tuple"},
    {"simple_java_65", "value_error:list/tuple"},
    {"live_simple_106-63-0", "type_error:simple"},
    {"live_simple_112-68-0", "type_error:simple"},
    {"live_multiple_862-181-3", "simple_function_checker:unexpected_param"},
    {"live_multiple_964-207-0", "simple_function_checker:missing_required"},
};

static void test_bfcl__oracle(void)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    item_set set;
    CHECK_INT(bfcl_load(&o, NULL, &a, &set, &e), 0);
    CHECK_INT(set.n, 3641);
    CHECK(set.sha256 && strlen(set.sha256) == 64);
    size_t per_cat[32] = {0};
    for (int mode = 0; mode < 2; mode++) {
        o.tool_mode = mode ? "native" : "prompt";
        size_t failed = 0;
        for (size_t i = 0; i < set.n; i++) {
            arena s = ARENA_INIT;
            prompt p;
            const bfcl_item *bi = set.items[i].data;
            if (mode == 0) {
                for (size_t k = 0; bfcl_category_at(k); k++)
                    if (bfcl_category_at(k) == bi->cat) per_cat[k]++;
            }
            CHECK_INT(bfcl_build(&o, NULL, &set.items[i], &s, &p, &e), 0);
            CHECK(p.n_messages >= 1 && p.max_tokens > 0);
            if (mode == 0) CHECK(p.reference && !p.tools && !p.reference_tool_calls);
            if (mode == 1)
                CHECK(bi->functions->u.seq.n ? p.tools && !strcmp(p.tool_choice, "auto")
                                             : !p.tools && !p.tool_choice);
            cJSON *tc = p.reference_tool_calls ? cJSON_Parse(p.reference_tool_calls) : NULL;
            CHECK(!p.reference_tool_calls || tc);
            bfcl_verdict v;
            CHECK_INT(bfcl_judge(bi, mode, p.reference ? p.reference : "", tc, &s, &v, NULL, &e),
                      0);
            if (!v.valid) {
                failed++;
                bool known = false;
                for (size_t k = 0; k < ARRAY_LEN(unpassable); k++)
                    if (!strcmp(unpassable[k].id, set.items[i].id) &&
                        !strcmp(unpassable[k].etype, v.error_type))
                        known = true;
                CHECK_MSG(known, "[%s] oracle fails %s: %s: %s", o.tool_mode, set.items[i].id,
                          v.error_type, v.reason);
            }
            cJSON_Delete(tc);
            arena_release(&s);
        }
        CHECK_INT(failed, ARRAY_LEN(unpassable));
    }
    /* entry counts of SCORING.md 4.1 */
    static const size_t counts[] = {400, 100, 50, 200, 200, 200, 240, 258, 1053, 16, 24, 884, 16};
    for (size_t k = 0; k < ARRAY_LEN(counts); k++) CHECK_INT(per_cat[k], counts[k]);
    arena_release(&a);
}

static void test_bfcl__multi_turn(void)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    item_set set;
    CHECK_INT(bfcl_load(&o, "multi_turn_miss_func", &a, &set, &e), 0);
    CHECK_INT(set.n, 200);
    const bfcl_item *bi = set.items[0].data;
    /* the withheld function (miss_func_0: "sort") and the excluded one ("cp") are not offered */
    bool has_sort = false, has_cp = false, has_mv = false;
    for (size_t i = 0; i < bi->functions->u.seq.n; i++) {
        const pyval *nm = pyval_dict_get(bi->functions->u.seq.items[i], "name");
        has_sort |= pyval_is_str(nm, "sort");
        has_cp |= pyval_is_str(nm, "cp");
        has_mv |= pyval_is_str(nm, "mv");
    }
    CHECK(!has_sort && !has_cp && has_mv);
    prompt p;
    CHECK_INT(bfcl_build(&o, NULL, &set.items[0], &a, &p, &e), 0);
    CHECK(p.reference && p.reference[0] == '[');
    /* scoring: not scored, never counted as wrong */
    sample_view sv = {.it = &set.items[0], .completion = p.reference, .finish_reason = "stop"};
    score_record r;
    score_ctx c = {&o, NULL, &a, cJSON_CreateObject()};
    CHECK_INT(bfcl_score(&c, &sv, 1, &r, &e), 0);
    CHECK_INT(r.outcome, OUTCOME_NO_ANSWER);
    CHECK_STR(cJSON_GetObjectItem(r.fields, "status")->valuestring, "not_scored");
    cJSON *m = cJSON_CreateObject();
    CHECK_INT(bfcl_aggregate(&c, &sv, &r, 1, m, &e), 0);
    CHECK_INT(cJSON_GetArraySize(m), 0);
    cJSON *info = cJSON_GetObjectItem(c.info, "bfcl");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(info, "not_scored"), "multi_turn_miss_func") !=
          NULL);
    score_record_release(&r);
    cJSON_Delete(m);
    cJSON_Delete(c.info);
    arena_release(&a);
}

/* ================================================================== */
/* prompts                                                             */
/* ================================================================== */

static const item *find_item(const item_set *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].id, id)) return &s->items[i];
    return NULL;
}

static void test_bfcl__prompts(void)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    item_set set;
    CHECK_INT(bfcl_load(&o, "live_simple", &a, &set, &e), 0);
    /* an item with its own system message gets BFCL's prompt in front of it */
    const item *with_sys = NULL, *without = &set.items[0];
    for (size_t i = 0; i < set.n && !with_sys; i++) {
        const bfcl_item *bi = set.items[i].data;
        if (pyval_is_str(pyval_dict_get(bi->messages->u.seq.items[0], "role"), "system"))
            with_sys = &set.items[i];
    }
    CHECK(with_sys != NULL);
    prompt p;
    CHECK_INT(bfcl_build(&o, NULL, with_sys, &a, &p, &e), 0);
    const bfcl_item *bi = with_sys->data;
    const char *orig = pyval_dict_get(bi->messages->u.seq.items[0], "content")->u.s.p;
    CHECK_INT(p.n_messages, bi->messages->u.seq.n);
    CHECK_STR(p.messages[0].role, "system");
    CHECK(str_starts(p.messages[0].content,
                     "You are an expert in composing functions.You are given"));
    CHECK(str_ends(p.messages[0].content, orig));
    CHECK(strstr(p.messages[0].content, "]\n\n\n") || strstr(p.messages[0].content, "]\n\n"));
    CHECK_INT(bfcl_build(&o, NULL, without, &a, &p, &e), 0);
    CHECK_INT(p.n_messages, ((const bfcl_item *)without->data)->messages->u.seq.n + 1);
    CHECK_STR(p.messages[0].role, "system");
    CHECK(strstr(p.messages[0].content, "Note that the provided function is in Python 3 syntax.") !=
          NULL);
    CHECK(strstr(p.messages[0].content, "\n[\n    {\n        \"name\": ") != NULL);
    /* ensure_ascii: no raw non-ASCII byte in the functions block */
    const char *fb = strstr(p.messages[0].content, "invoke.\n[");
    CHECK(fb != NULL);
    bool ascii = true;
    for (const char *q = fb; q && *q; q++) ascii &= (unsigned char)*q < 0x80;
    CHECK(ascii);

    /* native: tools with '.' -> '_', JSON Schema types, tool_choice auto */
    o.tool_mode = "native";
    item_set s2;
    CHECK_INT(bfcl_load(&o, "simple_python", &a, &s2, &e), 0);
    const item *fact = find_item(&s2, "simple_python_1"); /* math.factorial */
    CHECK_INT(bfcl_build(&o, NULL, fact, &a, &p, &e), 0);
    CHECK_STR(p.tool_choice, "auto");
    cJSON *tools = cJSON_Parse(p.tools);
    cJSON *fn = cJSON_GetObjectItem(cJSON_GetArrayItem(tools, 0), "function");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(tools, 0), "type")->valuestring, "function");
    CHECK_STR(cJSON_GetObjectItem(fn, "name")->valuestring, "math_factorial");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "parameters"), "type")->valuestring,
              "object");
    CHECK_STR(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "parameters"), "properties"), "number"),
            "type")
            ->valuestring,
        "integer");
    cJSON_Delete(tools);
    CHECK(p.n_messages == 1 && !strcmp(p.messages[0].role, "user"));
    CHECK(strstr(p.reference_tool_calls, "\"name\": \"math_factorial\"") != NULL);
    /* floats become number with format float */
    for (size_t i = 0; i < s2.n; i++) {
        CHECK_INT(bfcl_build(&o, NULL, &s2.items[i], &a, &p, &e), 0);
        if (strstr(((const bfcl_item *)s2.items[i].data)->functions->u.seq.n ? p.tools : "",
                   "\"format\": \"float\"")) {
            CHECK(strstr(p.tools, "\"type\": \"number\", \"description\"") != NULL ||
                  strstr(p.tools, "\"type\": \"number\"") != NULL);
            CHECK(!strstr(p.tools, "\"type\": \"float\"") &&
                  !strstr(p.tools, "\"type\": \"dict\""));
            break;
        }
    }
    /* Java parameters are strings of source text in both modes */
    item_set s3;
    CHECK_INT(bfcl_load(&o, "simple_java", &a, &s3, &e), 0);
    CHECK_INT(bfcl_build(&o, NULL, &s3.items[1], &a, &p, &e), 0);
    CHECK(strstr(p.tools, "Java 8 SDK syntax") && !strstr(p.tools, "\"HashMap\"") &&
          strstr(p.tools, "Java type HashMap"));
    /* a bad tool mode is refused */
    o.tool_mode = "json";
    CHECK_INT(bfcl_build(&o, NULL, &s3.items[1], &a, &p, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "--tool-mode") != NULL);
    arena_release(&a);
}

/* ================================================================== */
/* the loader's bad paths                                              */
/* ================================================================== */

static char tmpdir[256];

static void write_file(const char *rel, const char *text, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(text, 1, n, f);
    fclose(f);
}

static int try_load(const char *cat, err *e)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = tmpdir;
    arena a = ARENA_INIT;
    item_set set;
    err_clear(e);
    int rc = bfcl_load(&o, cat, &a, &set, e);
    arena_release(&a);
    return rc;
}

static void test_bfcl__loader_bad_input(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tally_bfcl_test_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    char p[512];
    snprintf(p, sizeof p, "%s/bfcl", tmpdir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/bfcl/possible_answer", tmpdir);
    mkdir(p, 0755);
    err e = ERR_INIT;
    CHECK_INT(try_load("simple_python", &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "BFCL_v4_simple_python.json") != NULL);
    CHECK_INT(try_load("no_such_category", &e), ERR_NOTFOUND);

    const char q[] =
        "{\"id\": \"simple_python_0\", \"question\": [[{\"role\": \"user\", \"content\": \"Find "
        "it\"}]], \"function\": [{\"name\": \"f\", \"description\": \"d\", \"parameters\": "
        "{\"type\": \"dict\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"required\": "
        "[\"a\"]}}]}";
    const char ans[] = "{\"id\": \"simple_python_0\", \"ground_truth\": [{\"f\": {\"a\": [1]}}]}";
    /* no final newline is fine */
    write_file("bfcl/BFCL_v4_simple_python.json", q, strlen(q));
    write_file("bfcl/possible_answer/BFCL_v4_simple_python.json", ans, strlen(ans));
    CHECK_INT(try_load("simple_python", &e), 0);
    /* every prefix of the question line: an error naming the file and line, or a load, never a
     * crash */
    size_t ok = 0;
    for (size_t k = 0; k < strlen(q); k++) {
        write_file("bfcl/BFCL_v4_simple_python.json", q, k);
        int rc = try_load("simple_python", &e);
        CHECK_MSG(rc == ERR_PARSE && strstr(e.msg, "BFCL_v4_simple_python.json"),
                  "prefix %zu: rc %d %s", k, rc, e.msg);
        ok += rc == 0;
    }
    CHECK_INT(ok, 0);
    /* wrong types, mismatched ids and counts */
    static const struct {
        const char *q, *a, *what;
    } bad[] = {
        {"[1, 2]", NULL, "expected a JSON object"},
        {"{\"question\": [[]], \"function\": []}", NULL, "\"id\""},
        {"{\"id\": \"x\", \"question\": [], \"function\": []}", NULL, "\"question\""},
        {"{\"id\": \"x\", \"question\": [[{\"role\": \"user\"}]], \"function\": []}", NULL,
         "\"content\""},
        {"{\"id\": \"x\", \"question\": [[]], \"function\": {}}", NULL, "\"function\""},
        {"{\"id\": \"x\", \"question\": [[]], \"function\": [{\"name\": \"f\"}]}", NULL,
         "\"parameters\""},
        {"{\"id\": \"x\", \"question\": [[]], \"function\": []}",
         "{\"id\": \"y\", \"ground_truth\": []}", "does not match"},
        {"{\"id\": \"x\", \"question\": [[]], \"function\": []}",
         "{\"id\": \"x\", \"ground_truth\": [1]}", "ground_truth[0]"},
        {"{\"id\": \"x\", \"question\": [[]], \"function\": []}", "",
         "0 possible answers for 1 questions"},
        {"{\"id\": \"x\", \"question\": [[]], \"function\": []}\n\xff", NULL, "line 2"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        write_file("bfcl/BFCL_v4_simple_python.json", bad[i].q, strlen(bad[i].q));
        const char *aa = bad[i].a ? bad[i].a : "{\"id\": \"x\", \"ground_truth\": []}";
        write_file("bfcl/possible_answer/BFCL_v4_simple_python.json", aa, strlen(aa));
        int rc = try_load("simple_python", &e);
        CHECK_MSG(rc == ERR_PARSE &&
                      (strstr(e.msg, bad[i].what) ||
                       (!strcmp(bad[i].what, "line 2") && strstr(e.msg, ".json:2:"))),
                  "case %zu: rc %d: %s", i, rc, e.msg);
    }
    /* irrelevance has no answers file */
    const char iq[] =
        "{\"id\": \"irrelevance_0\", \"question\": [[{\"role\": \"user\", \"content\": \"hi\"}]], "
        "\"function\": []}\n\n";
    write_file("bfcl/BFCL_v4_irrelevance.json", iq, strlen(iq));
    CHECK_INT(try_load("irrelevance", &e), 0);
    /* clean up */
    static const char *const files[] = {"bfcl/BFCL_v4_simple_python.json",
                                        "bfcl/possible_answer/BFCL_v4_simple_python.json",
                                        "bfcl/BFCL_v4_irrelevance.json"};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/bfcl/possible_answer", tmpdir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/bfcl", tmpdir);
    rmdir(p);
    rmdir(tmpdir);
}

/* ================================================================== */
/* score and aggregate                                                 */
/* ================================================================== */

static void test_bfcl__score_and_aggregate(void)
{
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    task_options o;
    task_options_default(&o);
    /* one synthetic item per single-turn category, several samples each */
    size_t ncat = 0;
    bfcl_item bis[16];
    item its[16];
    for (size_t k = 0; bfcl_category_at(k); k++) {
        const bfcl_category *cat = bfcl_category_at(k);
        if (!cat->in_all) continue;
        bool ast = cat->kind <= BFCL_AST_PARALLEL;
        bis[ncat] = make_item(&a, cat->name, doc_f,
                              ast ? "[{\"f\": {\"a\": [1], \"b\": [2, \"\"]}}]" : NULL);
        its[ncat] = (item){cat->name, ncat, &bis[ncat]};
        ncat++;
    }
    CHECK_INT(ncat, 13);
    /* per category: sample j of 4 is right when j < k % 4 + 1 ... a different rate each */
    enum { SAMPLES = 4 };
    sample_view sv[13 * SAMPLES];
    size_t n = 0;
    double expected[13];
    for (size_t k = 0; k < ncat; k++) {
        size_t good = k % 4 + 1;
        expected[k] = (double)good / SAMPLES;
        for (size_t j = 0; j < SAMPLES; j++) {
            bool right = j < good;
            const char *text;
            switch (bis[k].cat->kind) {
            case BFCL_IRRELEVANCE:
                text = right ? "No function fits." : "[f(a=1)]";
                break;
            case BFCL_RELEVANCE:
                text = right ? "[f(a=1)]" : "No function fits.";
                break;
            default:
                text = right ? "[f(a=1)]" : (j % 2 ? "[f(a=2)]" : "not a call");
                break;
            }
            sv[n++] = (sample_view){
                .it = &its[k], .sample = (int)j, .completion = text, .finish_reason = "stop"};
        }
    }
    score_record r[13 * SAMPLES];
    score_ctx c = {&o, NULL, &a, cJSON_CreateObject()};
    CHECK_INT(bfcl_score(&c, sv, n, r, &e), 0);
    size_t parse_errors = 0, ast_samples = 0;
    for (size_t i = 0; i < n; i++) {
        const bfcl_item *bi = sv[i].it->data;
        CHECK_STR(cJSON_GetObjectItem(r[i].fields, "category")->valuestring, bi->cat->name);
        CHECK(cJSON_GetObjectItem(r[i].fields, "error_type") != NULL);
        if (bi->cat->kind <= BFCL_AST_PARALLEL) {
            ast_samples++;
            if (!strcmp(sv[i].completion, "not a call")) {
                CHECK_INT(r[i].outcome, OUTCOME_PARSE_ERROR);
                parse_errors++;
            }
            if (!strcmp(sv[i].completion, "[f(a=2)]")) CHECK_INT(r[i].outcome, OUTCOME_WRONG);
        }
        if (r[i].outcome == OUTCOME_CORRECT)
            CHECK(r[i].score == 1 && !r[i].reason);
        else
            CHECK(r[i].score == 0 && r[i].reason);
        if (!strcmp(sv[i].completion, "[f(a=1)]") && bi->cat->kind <= BFCL_AST_PARALLEL)
            CHECK(cJSON_IsRaw(cJSON_GetObjectItem(r[i].fields, "calls")));
    }
    cJSON *m = cJSON_CreateObject();
    CHECK_INT(bfcl_aggregate(&c, sv, r, n, m, &e), 0);
    metric_value v;
    for (size_t k = 0; k < ncat; k++) {
        CHECK_INT(metric_get(m, bis[k].cat->metric, &v), 0);
        CHECK_NEAR(v.value, expected[k], 1e-12);
        CHECK_INT(v.n, SAMPLES);
    }
#define EXP(name) expected[(size_t)(bfcl_category_find(name) - bfcl_category_at(0))]
    double simple = (EXP("simple_python") + EXP("simple_java") + EXP("simple_javascript")) / 3;
    double nonlive = (simple + EXP("multiple") + EXP("parallel") + EXP("parallel_multiple")) / 4;
    double live = (EXP("live_simple") + EXP("live_multiple") + EXP("live_parallel") +
                   EXP("live_parallel_multiple")) /
                  4;
    double irr = (EXP("irrelevance") + EXP("live_irrelevance")) / 2;
    CHECK_INT(metric_get(m, "non_live", &v), 0);
    CHECK_NEAR(v.value, nonlive, 1e-12);
    CHECK_INT(metric_get(m, "live", &v), 0);
    CHECK_NEAR(v.value, live, 1e-12); /* equal sample counts: the weighted mean is the plain one */
    CHECK_INT(metric_get(m, "irrelevance", &v), 0);
    CHECK_NEAR(v.value, irr, 1e-12);
    CHECK_INT(metric_get(m, "overall_ast", &v), 0);
    CHECK_NEAR(v.value, (nonlive + live + irr) / 3, 1e-12);
    CHECK_INT(metric_get(m, "decode_failure_rate", &v), 0);
    CHECK_NEAR(v.value, (double)parse_errors / (double)ast_samples, 1e-12);
    CHECK(v.lo <= v.value && v.value <= v.hi);
    cJSON *info = cJSON_GetObjectItem(c.info, "bfcl");
    CHECK(info && !cJSON_GetObjectItem(info, "incomplete"));
    CHECK_STR(cJSON_GetObjectItem(info, "tool_mode")->valuestring, "prompt");
    cJSON_Delete(m);
    for (size_t i = 0; i < n; i++) score_record_release(&r[i]);

    /* only some categories: the incomplete aggregates are left out and listed */
    size_t first_live = (size_t)(bfcl_category_find("live_simple") - bfcl_category_at(0));
    m = cJSON_CreateObject();
    CHECK_INT(bfcl_score(&c, sv, first_live * SAMPLES, r, &e), 0);
    CHECK_INT(bfcl_aggregate(&c, sv, r, first_live * SAMPLES, m, &e), 0);
    CHECK_INT(metric_get(m, "non_live", &v), 0);
    CHECK(metric_get(m, "live", &v) < 0 && metric_get(m, "overall_ast", &v) < 0 &&
          metric_get(m, "irrelevance", &v) < 0);
    CHECK_INT(metric_get(m, "non_live_irrelevance", &v), 0);
    info = cJSON_GetObjectItem(cJSON_GetObjectItem(c.info, "bfcl"), "incomplete");
    cJSON *missing = cJSON_GetObjectItem(info, "live");
    CHECK(cJSON_GetArraySize(missing) == 4);
    CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(info, "irrelevance"), 0)->valuestring,
              "live_irrelevance");
    CHECK(cJSON_GetObjectItem(info, "overall_ast") != NULL);
    cJSON_Delete(m);
    for (size_t i = 0; i < first_live * SAMPLES; i++) score_record_release(&r[i]);

    /* generation failures and truncation */
    sample_view f[3] = {
        {.it = &its[0], .completion = "", .error = "HTTP 500", .error_kind = SAMPLE_ERR_API},
        {.it = &its[0], .completion = "", .error = "deadline", .error_kind = SAMPLE_ERR_TIMEOUT},
        {.it = &its[0], .completion = "[f(a=", .finish_reason = "length"},
    };
    CHECK_INT(bfcl_score(&c, f, 3, r, &e), 0);
    CHECK_INT(r[0].outcome, OUTCOME_API_ERROR);
    CHECK_INT(r[1].outcome, OUTCOME_TIMEOUT);
    CHECK_INT(r[2].outcome, OUTCOME_TRUNCATED);
    CHECK_STR(cJSON_GetObjectItem(r[2].fields, "error_type")->valuestring,
              "ast_decoder:decoder_failed");
    for (size_t i = 0; i < 3; i++) score_record_release(&r[i]);
    o.tool_mode = "bogus";
    CHECK_INT(bfcl_score(&c, f, 1, r, &e), ERR_INVALID);
    cJSON_Delete(c.info);
    arena_release(&a);
}

/* Every prefix and random byte flips of the oracle's Java/JS answers (and the
 * same as native arguments) through decoding, conversion and checking. */
static void test_bfcl__fuzz_java_js(void)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    rng r;
    rng_seed(&r, 77);
    size_t runs = 0, valid = 0;
    static const char *const cats[] = {"simple_java", "simple_javascript"};
    for (size_t c = 0; c < ARRAY_LEN(cats); c++) {
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        item_set set;
        CHECK_INT(bfcl_load(&o, cats[c], &a, &set, &e), 0);
        for (size_t i = 0; i < set.n; i++) {
            const bfcl_item *bi = set.items[i].data;
            const char *text;
            CHECK_INT(bfcl_oracle_text(bi, &a, &text, &e), 0);
            size_t n = strlen(text);
            char *copy = malloc(n + 1);
            for (size_t k = 0; k <= n + 40; k++, runs++) {
                memcpy(copy, text, n + 1);
                if (k <= n) {
                    copy[k] = 0; /* a prefix */
                } else {
                    for (int m = 0; m < 3; m++) {
                        static const char special[] = "()[]{}<>'\",=.:;\\ \n\x80";
                        size_t at = rng_next(&r) % n;
                        copy[at] = special[rng_next(&r) % (sizeof special - 1)];
                    }
                }
                arena s = ARENA_INIT;
                bfcl_verdict v;
                CHECK_INT(bfcl_judge(bi, false, copy, NULL, &s, &v, NULL, &e), 0);
                CHECK(v.valid || (v.error_type && v.reason));
                valid += v.valid;
                /* the same text as the value of every argument of a native call */
                cJSON *tc = cJSON_CreateArray(), *call = cJSON_CreateObject(),
                      *args = cJSON_CreateObject();
                const pyval *props = pyval_dict_get(
                    pyval_dict_get(bi->functions->u.seq.items[0], "parameters"), "properties");
                for (size_t q = 0; props && q < props->u.dict.n; q++)
                    cJSON_AddStringToObject(args, props->u.dict.keys[q]->u.s.p, copy);
                char *as = cJSON_PrintUnformatted(args);
                cJSON_AddStringToObject(
                    call, "name", pyval_dict_get(bi->functions->u.seq.items[0], "name")->u.s.p);
                cJSON_AddStringToObject(call, "arguments", as);
                cJSON_AddItemToArray(tc, call);
                CHECK_INT(bfcl_judge(bi, true, "", tc, &s, &v, NULL, &e), 0);
                CHECK(v.valid || (v.error_type && v.reason));
                cJSON_free(as);
                cJSON_Delete(tc);
                cJSON_Delete(args);
                arena_release(&s);
            }
            free(copy);
        }
        arena_release(&a);
    }
    CHECK(runs > 10000 && valid > 100);
}

int main(void)
{
    RUN(test_bfcl__scoring_vectors);
    RUN(test_bfcl__error_types);
    RUN(test_bfcl__standardize);
    RUN(test_bfcl__java_js_conversion);
    RUN(test_bfcl__oracle);
    RUN(test_bfcl__multi_turn);
    RUN(test_bfcl__prompts);
    RUN(test_bfcl__loader_bad_input);
    RUN(test_bfcl__score_and_aggregate);
    RUN(test_bfcl__fuzz_java_js);
    return test_report();
}
