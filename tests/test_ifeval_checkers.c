/* test_ifeval_checkers.c: the 25 checkers against SCORING.md 5.3
 * (scoring_vectors.jsonl, verbatim) and our own edge cases
 * (checker_cases.jsonl: empty, unicode, markdown, boundary counts for every
 * relation; "fixed" gives the fixed-mode verdicts where they differ), the
 * registry, the loose variants and Python's JSON grammar. */
#include "common/arena.h"
#include "common/util.h"
#include "ifeval_golden.h"
#include "scorers/ifeval/checkers.h"
#include "test.h"

static ifeval_env *env_compat, *env_fixed;

static int run_file(const char *name, int modes)
{
    golden g;
    CHECK(golden_open(&g, name));
    arena a = ARENA_INIT;
    ifeval_response r = IFEVAL_RESPONSE_INIT;
    cJSON *j;
    int cases = 0;
    err e = ERR_INIT;
    while ((j = golden_next(&g))) {
        const char *id = cJSON_GetObjectItem(j, "instruction_id")->valuestring;
        const char *resp = cJSON_GetObjectItem(j, "response")->valuestring;
        ifeval_kwargs kw;
        CHECK_INT(ifeval_parse_kwargs(cJSON_GetObjectItem(j, "kwargs"), g.path, &a, &kw, &e), 0);
        CHECK_INT(ifeval_response_set(&r, resp, strlen(resp), &e), 0);
        for (int m = 0; m < modes; m++) {
            const cJSON *want = j;
            if (m == 1 && cJSON_GetObjectItem(j, "fixed")) want = cJSON_GetObjectItem(j, "fixed");
            bool ws = cJSON_IsTrue(cJSON_GetObjectItem(want, "strict"));
            bool wl = cJSON_IsTrue(cJSON_GetObjectItem(want, "loose"));
            ifeval_env *env = m ? env_fixed : env_compat;
            ifeval_inst in;
            if (ifeval_inst_build(env, id, &kw, NULL, &in, &e) < 0) {
                CHECK_MSG(0, "%s:%zu: %s", g.path, g.it.lineno, e.msg);
                continue;
            }
            ifeval_verdict v;
            CHECK_INT(ifeval_inst_eval(env, &in, &r, false, &v, &e), 0);
            CHECK_MSG(v.strict == ws && v.loose == wl,
                      "%s:%zu: %s (%s) on \"%.60s\": strict %d loose %d, want %d %d", g.path,
                      g.it.lineno, id, m ? "fixed" : "compat", resp, v.strict, v.loose, ws, wl);
            /* checking every variant changes nothing but the work done */
            ifeval_verdict all;
            CHECK_INT(ifeval_inst_eval(env, &in, &r, true, &all, &e), 0);
            CHECK(all.strict == v.strict && all.loose == v.loose);
            ifeval_inst_release(&in);
        }
        cJSON_Delete(j);
        cases++;
    }
    ifeval_response_release(&r);
    arena_release(&a);
    golden_close(&g);
    return cases;
}

static void test_ifeval_checkers__scoring_vectors(void)
{
    /* the reference's verdicts: compat mode */
    CHECK_INT(run_file("scoring_vectors.jsonl", 1), 52);
}

static void test_ifeval_checkers__own_cases(void)
{
    CHECK(run_file("checker_cases.jsonl", 2) >= 190);
}

static void test_ifeval_checkers__registry(void)
{
    size_t n = 0;
    for (const ifeval_checker *c; (c = ifeval_checker_at(n)); n++) {
        CHECK(ifeval_checker_find(c->id) == c);
        /* the category is the id up to the colon */
        const char *colon = strchr(c->id, ':');
        CHECK(colon && strlen(c->category) == (size_t)(colon - c->id) &&
              memcmp(c->id, c->category, strlen(c->category)) == 0);
        CHECK(c->check != NULL);
    }
    CHECK_INT(n, 25);
    CHECK(ifeval_checker_find("keywords:key_sentences") ==
          NULL); /* exists upstream, unregistered */
    CHECK(ifeval_checker_find("") == NULL);
    CHECK_INT(ifeval_mode_from_name("fixed"), IFEVAL_MODE_FIXED);
    CHECK_INT(ifeval_mode_from_name("compat"), IFEVAL_MODE_COMPAT);
    CHECK_INT(ifeval_mode_from_name(NULL), IFEVAL_MODE_COMPAT);
    CHECK_INT(ifeval_mode_from_name("strict"), -1);
}

static void test_ifeval_checkers__bad_builds(void)
{
    ifeval_inst in;
    ifeval_kwargs kw;
    memset(&kw, 0, sizeof kw);
    err e = ERR_INIT;
    CHECK_INT(ifeval_inst_build(env_compat, "no:such", &kw, NULL, &in, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "no:such") != NULL);
    CHECK_INT(ifeval_inst_build(env_compat, NULL, &kw, NULL, &in, &e), ERR_INVALID);
    CHECK_INT(ifeval_inst_build(env_compat, "length_constraints:number_words", &kw, NULL, &in, &e),
              ERR_INVALID);
    CHECK(strstr(e.msg, "num_words") != NULL);
    kw.present = 1u << IFEVAL_KW_NUM_WORDS;
    CHECK_INT(ifeval_inst_build(env_compat, "length_constraints:number_words", &kw, NULL, &in, &e),
              ERR_INVALID);
    CHECK(strstr(e.msg, "relation") != NULL);
    /* a keyword that is not a valid regex is refused in compat mode, matched literally in fixed */
    const char *bad[] = {"f(x"};
    kw.present = 1u << IFEVAL_KW_KEYWORDS;
    kw.keywords = bad;
    kw.n_keywords = 1;
    CHECK_INT(ifeval_inst_build(env_compat, "keywords:existence", &kw, NULL, &in, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "keywords:existence") != NULL);
    CHECK_INT(ifeval_inst_build(env_fixed, "keywords:existence", &kw, NULL, &in, &e), 0);
    CHECK_INT(ifeval_inst_check(env_fixed, &in, "so F(X) = 1", 11, &e), 1);
    ifeval_inst_release(&in);
    ifeval_inst_release(&in); /* safe twice */
    kw.present =
        1u << IFEVAL_KW_LETTER | 1u << IFEVAL_KW_LET_FREQUENCY | 1u << IFEVAL_KW_LET_RELATION;
    kw.letter = "";
    kw.let_relation = IFEVAL_REL_AT_LEAST;
    CHECK_INT(ifeval_inst_build(env_compat, "keywords:letter_frequency", &kw, NULL, &in, &e),
              ERR_INVALID);
}

static void test_ifeval_checkers__variants(void)
{
    ifeval_response r = IFEVAL_RESPONSE_INIT;
    err e = ERR_INIT;
    const char *t = "**Intro**\n  line *two*  \nlast *\r";
    CHECK_INT(ifeval_response_set(&r, t, strlen(t), &e), 0);
    CHECK_STR(r.v[0].data, t);
    CHECK_STR(r.v[1].data, "Intro\n  line two  \nlast \r");
    CHECK_STR(r.v[2].data, "line *two*  \nlast *");
    CHECK_STR(r.v[3].data, "**Intro**\n  line *two*");
    CHECK_STR(r.v[4].data, "line *two*");
    CHECK_STR(r.v[5].data, "line two  \nlast ");
    CHECK_STR(r.v[6].data, "Intro\n  line two");
    CHECK_STR(r.v[7].data, "line two");
    /* one line: the line-removing variants are empty */
    CHECK_INT(ifeval_response_set(&r, "*a*", 3, &e), 0);
    CHECK_STR(r.v[1].data, "a");
    for (int i = 2; i < 8; i++) CHECK_STR(r.v[i].data, "");
    /* two lines: "both" is empty */
    CHECK_INT(ifeval_response_set(&r, "a\nb", 3, &e), 0);
    CHECK_STR(r.v[2].data, "b");
    CHECK_STR(r.v[3].data, "a");
    CHECK_STR(r.v[4].data, "");
    /* "a\n\nb": the middle line is empty */
    CHECK_INT(ifeval_response_set(&r, "a\n\nb", 4, &e), 0);
    CHECK_STR(r.v[4].data, "");
    /* \r is not a line break here */
    CHECK_INT(ifeval_response_set(&r, "a\rb\nc", 5, &e), 0);
    CHECK_STR(r.v[2].data, "c");
    CHECK_STR(r.v[3].data, "a\rb");
    /* invalid UTF-8 becomes U+FFFD */
    CHECK_INT(ifeval_response_set(&r, "a\xff", 2, &e), 0);
    CHECK_STR(r.v[0].data, "a\xef\xbf\xbd");
    ifeval_response_release(&r);
    ifeval_response_release(&r);
}

static void test_ifeval_checkers__json(void)
{
    const char *ok[] = {"{}",
                        "[]",
                        "0",
                        "-0",
                        "1.5e-3",
                        "true",
                        "null",
                        "NaN",
                        "-Infinity",
                        "\"\\ud800\"",
                        " {\"a\" : [ ] } \n",
                        "{\"a\":{\"b\":[1,{\"c\":null}]}}",
                        "\"\xc3\xa9\"",
                        "123456789012345678901234567890",
                        "1E400"};
    for (size_t i = 0; i < ARRAY_LEN(ok); i++)
        CHECK_MSG(ifeval_json_valid(ok[i], strlen(ok[i])), "%s", ok[i]);
    const char *bad[] = {"",          " ",
                         "{",         "}",
                         "[1,]",      "{\"a\"}",
                         "{\"a\":}",  "{1:2}",
                         "'a'",       "tru",
                         "nan",       "+1",
                         ".5",        "1.",
                         "-",         "--1",
                         "0x10",      "\"a",
                         "\"\\u12\"", "\"\\q\"",
                         "[1 2]",     "{\"a\":1 \"b\":2}",
                         "\"a\nb\"",  "// c\n1",
                         "1 2",       "Infinityy",
                         "[\"\\\"]"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        CHECK_MSG(!ifeval_json_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
    /* every proper prefix of a valid document is invalid */
    const char *doc = "{\"name\": \"A\", \"list\": [1, -2.5e3, true, null], \"o\": {}}";
    for (size_t k = 0; k < strlen(doc); k++) CHECK_MSG(!ifeval_json_valid(doc, k), "prefix %zu", k);
    CHECK(ifeval_json_valid(doc, strlen(doc)));
}

int main(void)
{
    err e = ERR_INIT;
    ifeval_settings s;
    ifeval_settings_default(&s);
    s.data_dir = test_data_dir();
    s.langdetect_dir = getenv("TALLY_LANGDETECT_PROFILES");
    if (ifeval_env_open(&env_compat, &s, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    s.mode = IFEVAL_MODE_FIXED;
    if (ifeval_env_open(&env_fixed, &s, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    RUN(test_ifeval_checkers__scoring_vectors);
    RUN(test_ifeval_checkers__own_cases);
    RUN(test_ifeval_checkers__registry);
    RUN(test_ifeval_checkers__bad_builds);
    RUN(test_ifeval_checkers__variants);
    RUN(test_ifeval_checkers__json);
    ifeval_env_close(env_compat);
    ifeval_env_close(env_fixed);
    return test_report();
}
