/* test_gsm8k.c: GSM8K prompts (built independently here) and the scorer's vectors. */
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"
#include "datasets/gsm8k.h"
#include "scorers/gsm8k.h"
#include "test.h"

/* Reads line `idx` (0-based) of a JSONL file as a cJSON object. */
static cJSON *jsonl_line(const char *rel, size_t idx)
{
    buf p = BUF_INIT, data = BUF_INIT;
    path_join(&p, test_data_dir(), rel);
    cJSON *out = NULL;
    if (file_read_all(p.data, &data, NULL) == 0) {
        line_iter it = line_iter_start(data.data, data.len);
        const char *l;
        size_t n, k = 0;
        while (line_iter_next(&it, &l, &n))
            if (k++ == idx) {
                out = cJSON_ParseWithLength(l, n);
                break;
            }
    }
    buf_release(&p);
    buf_release(&data);
    return out;
}

static const char *js(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The lm-eval layouts of SCORING.md 2.2, written out again from the raw files. */
static void test_gsm8k__raw_prompts(void)
{
    arena a = ARENA_INIT;
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    item_set cot, plain;
    err e = ERR_INIT;
    CHECK_INT(gsm8k_load(&o, "gsm8k_cot", &a, &cot, &e), 0);
    CHECK_INT(gsm8k_load(&o, "gsm8k", &a, &plain, &e), 0);
    CHECK_INT(cot.n, 1319);
    CHECK_INT(plain.n, 1319);
    for (size_t i = 0; i < 3; i++) {
        cJSON *test = jsonl_line("gsm8k/test.jsonl", i);
        /* gsm8k_cot: 8 x ("Q: " q "\nA:" " " target "\n\n") then "Q: " q "\nA:" */
        buf want = BUF_INIT;
        for (size_t k = 0; k < 8; k++) {
            cJSON *ex = jsonl_line("gsm8k/cot_exemplars.jsonl", k);
            buf_printf(&want, "Q: %s\nA: %s\n\n", js(ex, "question"), js(ex, "target"));
            cJSON_Delete(ex);
        }
        buf_printf(&want, "Q: %s\nA:", js(test, "question"));
        prompt p;
        CHECK_INT(gsm8k_build(&o, "gsm8k_cot", &cot.items[i], &a, &p, &e), 0);
        CHECK_STR(p.text, want.data);
        CHECK_INT(p.n_stop, 3);
        CHECK_STR(p.stop[0], "Q:");
        CHECK_INT(p.max_tokens, 256);
        /* gsm8k: 5 train exemplars chosen by the precomputed indices */
        buf_reset(&want);
        cJSON *fs = jsonl_line("gsm8k/fewshot_gsm8k_5shot_seed1234.jsonl", i);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(fs, "train_indices");
        CHECK_INT(cJSON_GetArraySize(idx), 5);
        for (int k = 0; k < 5; k++) {
            cJSON *ex = jsonl_line("gsm8k/train.jsonl", (size_t)cJSON_GetArrayItem(idx, k)->valueint);
            buf_printf(&want, "Question: %s\nAnswer: %s\n\n", js(ex, "question"), js(ex, "answer"));
            cJSON_Delete(ex);
        }
        buf_printf(&want, "Question: %s\nAnswer:", js(test, "question"));
        CHECK_INT(gsm8k_build(&o, "gsm8k", &plain.items[i], &a, &p, &e), 0);
        CHECK_STR(p.text, want.data);
        CHECK_STR(p.stop[0], "Question:");
        cJSON_Delete(fs);
        cJSON_Delete(test);
        buf_release(&want);
    }
    /* first test item, first exemplar: the literal bytes */
    prompt p;
    CHECK_INT(gsm8k_build(&o, "gsm8k_cot", &cot.items[0], &a, &p, &e), 0);
    CHECK(strncmp(p.text, "Q: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?\nA: There are 15 trees originally.", 210) == 0);
    CHECK(str_ends(p.text, "per fresh duck egg. How much in dollars does she make every day at the farmers' market?\nA:"));
    arena_release(&a);
}

static void test_gsm8k__chat_and_shots(void)
{
    arena a = ARENA_INIT;
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    o.chat = true;
    item_set cot;
    err e = ERR_INIT;
    CHECK_INT(gsm8k_load(&o, "gsm8k_cot", &a, &cot, &e), 0);
    prompt p;
    CHECK_INT(gsm8k_build(&o, "gsm8k_cot", &cot.items[1], &a, &p, &e), 0);
    CHECK(p.text == NULL);
    CHECK_INT(p.n_messages, 17);
    CHECK_STR(p.messages[0].role, "user");
    CHECK(str_starts(p.messages[0].content, "Q: There are 15 trees"));
    CHECK(str_ends(p.messages[0].content, "\nA:"));
    CHECK_STR(p.messages[1].role, "assistant");
    CHECK(str_ends(p.messages[1].content, "The answer is 6."));
    CHECK_STR(p.messages[16].role, "user");
    o.chat = false;
    o.shots = 2;
    CHECK_INT(gsm8k_build(&o, "gsm8k_cot", &cot.items[1], &a, &p, &e), 0);
    size_t qs = 0;
    for (const char *s = p.text; (s = strstr(s, "Q: ")); s++) qs++;
    CHECK_INT(qs, 3);
    o.shots = 9;
    CHECK_INT(gsm8k_build(&o, "gsm8k_cot", &cot.items[1], &a, &p, &e), ERR_USAGE);
    o.shots = 0;
    CHECK_INT(gsm8k_build(&o, "gsm8k_cot", &cot.items[1], &a, &p, &e), 0);
    CHECK(str_starts(p.text, "Q: A robe takes 2 bolts"));
    item_set zs;
    o.shots = -1;
    CHECK_INT(gsm8k_load(&o, "gsm8k_cot_zeroshot", &a, &zs, &e), 0);
    CHECK_INT(gsm8k_build(&o, "gsm8k_cot_zeroshot", &zs.items[1], &a, &p, &e), 0);
    CHECK(str_ends(p.text, "\nA: Let's think step by step."));
    arena_release(&a);
}

/* Every GSM8K vector of SCORING.md 5.2, in tests/golden/gsm8k_scoring.jsonl. */
static void test_gsm8k__scoring_vectors(void)
{
    buf data = BUF_INIT, path = BUF_INIT;
    const char *src = getenv("TALLY_SRC");
    path_join(&path, src ? src : ".", "tests/golden/gsm8k_scoring.jsonl");
    CHECK_INT(file_read_all(path.data, &data, NULL), 0);
    line_iter it = line_iter_start(data.data, data.len);
    const char *l;
    size_t n, cases = 0;
    arena a = ARENA_INIT;
    while (line_iter_next(&it, &l, &n)) {
        if (!n) continue;
        cJSON *v = cJSON_ParseWithLength(l, n);
        CHECK(v != NULL);
        if (!v) continue;
        gsm8k_filters *f = NULL;
        CHECK_INT(gsm8k_filters_new(&f, js(v, "task"), NULL), 0);
        const char *out = js(v, "output");
        const char *s = gsm8k_extract_strict(f, out, &a);
        const char *x = gsm8k_extract_flexible(f, out, &a);
        CHECK_STR(s, js(v, "strict_extracted"));
        CHECK_STR(x, js(v, "flex_extracted"));
        CHECK_STR(gsm8k_normalize(f, s, &a), js(v, "strict_norm"));
        CHECK_STR(gsm8k_normalize(f, x, &a), js(v, "flex_norm"));
        /* the stored target goes through the same normalisation; the vectors abbreviate
         * the full gsm8k answer as "...", whose normal form is what matters */
        const char *tn = gsm8k_normalize(f, js(v, "target"), &a);
        CHECK_STR(tn, js(v, "target_norm"));
        bool sc = strcmp(gsm8k_normalize(f, s, &a), tn) == 0 && strcmp(s, "[invalid]");
        bool fc = strcmp(gsm8k_normalize(f, x, &a), tn) == 0 && strcmp(x, "[invalid]");
        CHECK_INT(sc, cJSON_IsTrue(cJSON_GetObjectItem(v, "strict_correct")));
        CHECK_INT(fc, cJSON_IsTrue(cJSON_GetObjectItem(v, "flex_correct")));
        gsm8k_filters_free(f);
        cJSON_Delete(v);
        cases++;
    }
    CHECK_INT(cases, 16);
    /* the subtleties of 2.3 and 2.4 spelled out in the text */
    gsm8k_filters *f = NULL;
    gsm8k_filters_new(&f, "gsm8k_cot", NULL);
    CHECK_STR(gsm8k_extract_strict(f, "The answer is 1,000 apples", &a), "1,000");
    CHECK_STR(gsm8k_extract_strict(f, "The answer is 18.5.", &a), "18.5");
    CHECK_STR(gsm8k_extract_strict(f, "The answer is $7.", &a), "[invalid]");
    CHECK_STR(gsm8k_extract_strict(f, "The answer is **7**.", &a), "[invalid]");
    CHECK_STR(gsm8k_extract_strict(f, "The answer is 3. Then The answer is 4.", &a), "3.");
    CHECK_STR(gsm8k_extract_flexible(f, "3 then 4 then 5", &a), "5");
    CHECK_STR(gsm8k_extract_flexible(f, "", &a), "[invalid]");
    CHECK_STR(gsm8k_normalize(f, "5.\n", &a), "5\n");
    CHECK_STR(gsm8k_normalize(f, "a #### b #### 1,2$3", &a), "123");
    CHECK_STR(gsm8k_normalize(f, "18.00", &a), "18.00");
    /* invalid UTF-8 in a completion is still searched */
    CHECK_STR(gsm8k_extract_strict(f, "\xff\xfe The answer is 12.", &a), "12");
    gsm8k_filters_free(f);
    gsm8k_filters_new(&f, "gsm8k_cot_llama", NULL);
    CHECK_STR(gsm8k_extract_strict(f, "The final answer is 42", &a), "42");
    CHECK_STR(gsm8k_extract_strict(f, "The final answer is 4. The final answer is $1,5", &a), "$1,5");
    gsm8k_filters_free(f);
    arena_release(&a);
    buf_release(&data);
    buf_release(&path);
}

/* The scorer over hand-made samples: outcomes per filter, and generation failures. */
static void test_gsm8k__score_records(void)
{
    arena a = ARENA_INIT;
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    item_set cot;
    err e = ERR_INIT;
    CHECK_INT(gsm8k_load(&o, "gsm8k_cot", &a, &cot, &e), 0);
    /* item 0's answer is 18 */
    sample_view v[5] = {{0}};
    const char *texts[4] = {"The answer is 18.", "So 18", "The answer is 17.", "no idea"};
    for (int i = 0; i < 5; i++) {
        v[i].it = &cot.items[0];
        v[i].completion = i < 4 ? texts[i] : "";
        v[i].finish_reason = "stop";
    }
    v[4].error = "HTTP 500";
    v[4].error_kind = SAMPLE_ERR_API;
    score_record r[5];
    cJSON *info = cJSON_CreateObject();
    score_ctx c = {&o, "gsm8k_cot", &a, info};
    CHECK_INT(gsm8k_score(&c, v, 5, r, &e), 0);
    CHECK_INT(r[0].outcome, OUTCOME_CORRECT);
    CHECK_INT(r[1].outcome, OUTCOME_NO_ANSWER);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(r[1].fields, "metrics"), "flexible_extract")->valuestring, "correct");
    CHECK_INT(r[2].outcome, OUTCOME_WRONG);
    CHECK(r[2].reason && strstr(r[2].reason, "17") != NULL);
    CHECK_INT(r[3].outcome, OUTCOME_NO_ANSWER);
    CHECK_INT(r[4].outcome, OUTCOME_API_ERROR);
    for (int i = 0; i < 5; i++) score_record_release(&r[i]);
    cJSON_Delete(info);
    arena_release(&a);
}

/* Corrupt dataset files: each names file:line and the field. */
static void test_gsm8k__bad_files(void)
{
    char dir[] = "/tmp/tally-gsm8k-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    buf p = BUF_INIT;
    path_join(&p, dir, "gsm8k");
    dir_create(p.data, NULL);
    path_join(&p, dir, "gsm8k/test.jsonl");
    struct {
        const char *content, *expect;
    } cases[] = {
        {"{\"question\": \"q\", \"answer\": \"a #### 1\"}\n{\"question\": 5, \"answer\": \"#### 2\"}\n", ":2: field \"question\" is not a string (got number)"},
        {"{\"question\": \"q\", \"answer\": \"a #### 1\"}\n{\"question\": \"q\"}\n", ":2: field \"answer\" is missing"},
        {"{\"question\": \"q\", \"answer\": \"a #### 1\"}\n\n{\"question\": \"q\", \"answer\": \"a #### 1\"\n", ":3: invalid JSON"},
        {"{\"question\": \"q\", \"answer\": \"no final\"}\n", ":1: field \"answer\" has no \"####\""},
        {"[1, 2]\n", ":1: expected a JSON object"},
    };
    arena a = ARENA_INIT;
    task_options o;
    task_options_default(&o);
    o.data_dir = dir;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        file_write_atomic(p.data, cases[i].content, strlen(cases[i].content), NULL);
        item_set s;
        err e = ERR_INIT;
        CHECK_INT(gsm8k_load(&o, "gsm8k_cot_zeroshot", &a, &s, &e), ERR_PARSE);
        CHECK_MSG(strstr(e.msg, cases[i].expect) && strstr(e.msg, "gsm8k/test.jsonl"), "case %zu: %s", i, e.msg);
    }
    /* a missing exemplar file says where it looked */
    const char *ok = "{\"question\": \"q\", \"answer\": \"a #### 1\"}\n";
    file_write_atomic(p.data, ok, strlen(ok), NULL);
    item_set s;
    err e = ERR_INIT;
    CHECK_INT(gsm8k_load(&o, "gsm8k_cot", &a, &s, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "cot_exemplars.jsonl") && strstr(e.msg, "tally datasets fetch"));
    CHECK_INT(gsm8k_load(&o, "gsm8k_cot_zeroshot", &a, &s, &e), 0);
    CHECK_INT(s.n, 1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    buf_release(&p);
    arena_release(&a);
}

int main(void)
{
    RUN(test_gsm8k__raw_prompts);
    RUN(test_gsm8k__chat_and_shots);
    RUN(test_gsm8k__scoring_vectors);
    RUN(test_gsm8k__score_records);
    RUN(test_gsm8k__bad_files);
    return test_report();
}
