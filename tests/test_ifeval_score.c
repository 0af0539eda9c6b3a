/* test_ifeval_score.c: scoring samples and aggregating the IFEval metrics
 * (scorers/ifeval/ifeval), with hand-made items and sample_views. */
#include "common/arena.h"
#include "common/util.h"
#include "datasets/ifeval.h"
#include "scorers/ifeval/ifeval.h"
#include "scorers/metric.h"
#include "test.h"

static arena A = ARENA_INIT;

/* An item from one input_data.jsonl line. */
static item make_item(const char *line)
{
    ifeval_record *r = arena_alloc(&A, sizeof *r);
    err e = ERR_INIT;
    CHECK_INT(ifeval_parse_line(line, strlen(line), "test", &A, r, &e), 0);
    item it = {arena_printf(&A, "%ld", r->key), 0, r};
    return it;
}

static sample_view view(const item *it, const char *completion)
{
    sample_view v;
    memset(&v, 0, sizeof v);
    v.it = it;
    v.completion = completion;
    v.finish_reason = "stop";
    return v;
}

static double metric(const cJSON *m, const char *name)
{
    metric_value v;
    if (metric_get(m, name, &v) < 0) return -1;
    return v.value;
}

static size_t metric_n(const cJSON *m, const char *name)
{
    metric_value v;
    if (metric_get(m, name, &v) < 0) return 0;
    return v.n;
}

static bool bool_at(const cJSON *f, const char *key, int i)
{
    return cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(f, key), i));
}

static const char *metric_outcome(const cJSON *f, const char *name)
{
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(f, "metrics"), name);
    return cJSON_IsString(m) ? m->valuestring : "";
}

static void test_ifeval_score__worked_example(void)
{
    /* SCORING.md 3.4: P1 has [A, B], P2 has [C]; strict A yes B no, C yes; loose all yes */
    item p1 =
        make_item("{\"key\": 1, \"prompt\": \"p1\", \"instruction_id_list\": "
                  "[\"punctuation:no_comma\", \"startend:quotation\"], \"kwargs\": [{}, {}]}");
    item p2 = make_item("{\"key\": 2, \"prompt\": \"p2\", \"instruction_id_list\": "
                        "[\"detectable_format:title\"], \"kwargs\": [{}]}");
    sample_view s[2] = {view(&p1, "Sure:\n\"Hello there\""), view(&p2, "<<Title>>\nBody.")};
    score_record r[2];
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    cJSON *info = cJSON_CreateObject();
    score_ctx c = {&o, NULL, &A, info};
    err e = ERR_INIT;
    CHECK_INT(ifeval_score(&c, s, 2, r, &e), 0);
    CHECK_INT(r[0].outcome, OUTCOME_WRONG);
    CHECK_INT(r[1].outcome, OUTCOME_CORRECT);
    CHECK(r[0].score == 0.0 && r[1].score == 1.0);
    CHECK(bool_at(r[0].fields, "strict", 0) && !bool_at(r[0].fields, "strict", 1));
    CHECK(bool_at(r[0].fields, "loose", 0) && bool_at(r[0].fields, "loose", 1));
    CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(r[0].fields, "instructions"), 1)->valuestring,
              "startend:quotation");
    CHECK_STR(metric_outcome(r[0].fields, "prompt_strict"), "wrong");
    CHECK_STR(metric_outcome(r[0].fields, "prompt_loose"), "correct");
    CHECK_STR(r[0].reason, "not followed: startend:quotation (all followed loose)");
    CHECK(r[1].reason == NULL);
    cJSON *m = cJSON_CreateObject();
    CHECK_INT(ifeval_aggregate(&c, s, r, 2, m, &e), 0);
    CHECK_NEAR(metric(m, "prompt_strict"), 0.5, 1e-12);
    CHECK_NEAR(metric(m, "inst_strict"), 2.0 / 3.0, 1e-12);
    CHECK_NEAR(metric(m, "prompt_loose"), 1.0, 1e-12);
    CHECK_NEAR(metric(m, "inst_loose"), 1.0, 1e-12);
    CHECK_INT(metric_n(m, "prompt_strict"), 2);
    CHECK_INT(metric_n(m, "inst_strict"), 3);
    CHECK_NEAR(metric(m, "inst_strict/startend:quotation"), 0.0, 1e-12);
    CHECK_NEAR(metric(m, "inst_loose/startend:quotation"), 1.0, 1e-12);
    CHECK_NEAR(metric(m, "category_strict/startend"), 0.0, 1e-12);
    CHECK_NEAR(metric(m, "category_strict/punctuation"), 1.0, 1e-12);
    CHECK_INT(metric_n(m, "category_strict/detectable_format"), 1);
    CHECK(metric(m, "inst_strict/keywords:existence") < 0); /* absent ids get no metric */
    /* the first four metrics are the headline, in order */
    const char *order[] = {"prompt_strict", "prompt_loose", "inst_strict", "inst_loose"};
    for (int i = 0; i < 4; i++) CHECK_STR(cJSON_GetArrayItem(m, i)->string, order[i]);
    CHECK_STR(ifeval_metric_names[0], "prompt_strict");
    /* run-level facts */
    CHECK(cJSON_IsString(cJSON_GetObjectItem(info, "ifeval_think")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(info, "ifeval_punkt_tables"))); /* not needed here */
    CHECK(cJSON_IsNumber(
        cJSON_GetObjectItem(cJSON_GetObjectItem(info, "ifeval_langdetect"), "seed")));
    cJSON_Delete(m);
    cJSON_Delete(info);
    for (int i = 0; i < 2; i++) score_record_release(&r[i]);
}

static void test_ifeval_score__outcomes(void)
{
    item p = make_item("{\"key\": 3, \"prompt\": \"p\", \"instruction_id_list\": "
                       "[\"length_constraints:number_words\", \"punctuation:no_comma\"], "
                       "\"kwargs\": [{\"num_words\": 3, \"relation\": \"at least\"}, {}]}");
    sample_view s[6] = {
        view(&p, "one two three four"), /* correct */
        view(&p, "one, two"),           /* wrong */
        view(&p, "one two"),            /* truncated (hit the cap) */
        view(&p, "  \n "),              /* no_answer */
        view(&p, ""),                   /* generation failed */
        view(&p, "<think>Let me count, carefully.</think>\n\none two three"),
    };
    s[2].finish_reason = "length";
    s[4].error = "HTTP 500: boom";
    s[4].error_kind = SAMPLE_ERR_API;
    score_record r[6];
    task_options o;
    task_options_default(&o);
    score_ctx c = {&o, NULL, &A, NULL};
    err e = ERR_INIT;
    CHECK_INT(ifeval_score(&c, s, 6, r, &e), 0);
    CHECK_INT(r[0].outcome, OUTCOME_CORRECT);
    CHECK_INT(r[1].outcome, OUTCOME_WRONG);
    CHECK_STR(r[1].reason, "not followed: length_constraints:number_words, punctuation:no_comma");
    CHECK_INT(r[2].outcome, OUTCOME_TRUNCATED);
    CHECK_INT(r[3].outcome, OUTCOME_NO_ANSWER);
    CHECK(r[3].reason && strncmp(r[3].reason, "empty answer", 12) == 0);
    CHECK_INT(r[4].outcome, OUTCOME_API_ERROR);
    CHECK_STR(r[4].reason, "HTTP 500: boom");
    CHECK(!bool_at(r[4].fields, "strict", 0) && !bool_at(r[4].fields, "loose", 1));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r[4].fields, "strict")), 2);
    CHECK_INT(r[5].outcome, OUTCOME_CORRECT); /* the comma was in the reasoning */
    CHECK_STR(cJSON_GetObjectItem(r[5].fields, "think")->valuestring, "removed");
    cJSON *m = cJSON_CreateObject();
    CHECK_INT(ifeval_aggregate(&c, s, r, 6, m, &e), 0);
    CHECK_NEAR(metric(m, "prompt_strict"), 2.0 / 6.0, 1e-12);
    CHECK_INT(metric_n(m, "inst_strict"), 12); /* the failed sample's instructions count */
    /* without verdicts (a record nobody scored) the item's instructions count as not followed */
    cJSON_Delete(r[0].fields);
    r[0].fields = NULL;
    CHECK_INT(ifeval_aggregate(&c, s, r, 6, m, &e), 0);
    CHECK_NEAR(metric(m, "prompt_strict"), 1.0 / 6.0, 1e-12);
    CHECK_INT(metric_n(m, "inst_strict"), 12);
    CHECK_INT(ifeval_aggregate(&c, NULL, r, 6, m, &e), ERR_INVALID);
    cJSON_Delete(m);
    for (int i = 0; i < 6; i++) score_record_release(&r[i]);
}

static const char *think(const char *t, int *status)
{
    static buf b = BUF_INIT;
    buf_reset(&b);
    *status = ifeval_strip_think(t, strlen(t), &b);
    return b.data;
}

static void test_ifeval_score__think(void)
{
    int st;
    CHECK_STR(think("plain answer", &st), "plain answer");
    CHECK_INT(st, IFEVAL_THINK_NONE);
    CHECK_STR(think("<think>hmm</think>\n\nAnswer.", &st), "Answer.");
    CHECK_INT(st, IFEVAL_THINK_REMOVED);
    CHECK_STR(think("the template opened it\n</think>\nAnswer.", &st), "Answer.");
    CHECK_INT(st, IFEVAL_THINK_REMOVED);
    CHECK_STR(think("<think>never closed... Answer.", &st), "");
    CHECK_INT(st, IFEVAL_THINK_UNCLOSED);
    CHECK_STR(think("A <think>x</think> B <think>y</think>", &st), "A B ");
    CHECK_STR(think("<think>a</think>ok<think>b", &st), "");
    CHECK_INT(st, IFEVAL_THINK_UNCLOSED);
    CHECK_STR(think("", &st), "");
    CHECK_STR(think("</think>", &st), "");
    CHECK_INT(st, IFEVAL_THINK_REMOVED);
    /* every prefix of a block is handled without reading past it */
    const char *t = "<think>abc</think>\nX";
    for (size_t k = 0; k <= strlen(t); k++) {
        buf b = BUF_INIT;
        CHECK(ifeval_strip_think(t, k, &b) >= 0);
        buf_release(&b);
    }
    /* scored: an unclosed block gives an empty answer */
    item p = make_item("{\"key\": 4, \"prompt\": \"p\", \"instruction_id_list\": "
                       "[\"punctuation:no_comma\"], \"kwargs\": [{}]}");
    sample_view s = view(&p, "<think>no commas here so far");
    s.finish_reason = "length";
    score_record r;
    task_options o;
    task_options_default(&o);
    score_ctx c = {&o, NULL, &A, NULL};
    err e = ERR_INIT;
    CHECK_INT(ifeval_score(&c, &s, 1, &r, &e), 0);
    CHECK_INT(r.outcome, OUTCOME_TRUNCATED);
    CHECK_STR(cJSON_GetObjectItem(r.fields, "think")->valuestring, "unclosed");
    CHECK(r.reason && strstr(r.reason, "unclosed <think>") != NULL);
    score_record_release(&r);
}

static void test_ifeval_score__modes_and_errors(void)
{
    item p = make_item("{\"key\": 5, \"prompt\": \"p\", \"instruction_id_list\": "
                       "[\"language:response_language\"], \"kwargs\": [{\"language\": \"fi\"}]}");
    sample_view s = view(&p, "12345 !!!");
    score_record r;
    task_options o;
    task_options_default(&o);
    score_ctx c = {&o, NULL, &A, NULL};
    err e = ERR_INIT;
    CHECK_INT(ifeval_score(&c, &s, 1, &r, &e), 0);
    CHECK_INT(r.outcome, OUTCOME_CORRECT); /* compat: no letters counts as followed */
    score_record_release(&r);
    o.scorer_mode = "fixed";
    CHECK_INT(ifeval_score(&c, &s, 1, &r, &e), 0);
    CHECK_INT(r.outcome, OUTCOME_WRONG);
    score_record_release(&r);
    o.scorer_mode = "lenient";
    CHECK_INT(ifeval_score(&c, &s, 1, &r, &e), ERR_USAGE);
    CHECK(strstr(e.msg, "lenient") != NULL);
    o.scorer_mode = "compat";
    /* missing langdetect profiles: a clear error, not a verdict */
    o.langdetect_dir = "/nonexistent/profiles";
    CHECK(ifeval_score(&c, &s, 1, &r, &e) < 0);
    CHECK(strstr(e.msg, "python3-langdetect") != NULL);
    o.langdetect_dir = NULL;
    /* missing Punkt tables likewise */
    item q = make_item("{\"key\": 6, \"prompt\": \"p\", \"instruction_id_list\": "
                       "[\"length_constraints:number_sentences\"], "
                       "\"kwargs\": [{\"num_sentences\": 2, \"relation\": \"less than\"}]}");
    sample_view s2 = view(&q, "One. Two.");
    o.data_dir = "/nonexistent";
    CHECK(ifeval_score(&c, &s2, 1, &r, &e) < 0);
    CHECK(strstr(e.msg, "punkt") != NULL);
    /* an item with an unknown instruction id */
    item bad = make_item("{\"key\": 7, \"prompt\": \"p\", \"instruction_id_list\": "
                         "[\"keywords:key_sentences\"], \"kwargs\": [{}]}");
    sample_view s3 = view(&bad, "x");
    o.data_dir = test_data_dir();
    CHECK_INT(ifeval_score(&c, &s3, 1, &r, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "key 7") != NULL && strstr(e.msg, "keywords:key_sentences") != NULL);
    CHECK_INT(ifeval_score(NULL, &s3, 1, &r, &e), ERR_INVALID);
}

static void test_ifeval_score__deterministic(void)
{
    /* the same answers always get the same verdicts, batch by batch */
    item p = make_item("{\"key\": 8, \"prompt\": \"p\", \"instruction_id_list\": "
                       "[\"language:response_language\", \"change_case:english_lowercase\"], "
                       "\"kwargs\": [{\"language\": \"en\"}, {}]}");
    const char *answers[] = {"ok", "si", "ja nein", "the end", "hola amigo", "tak"};
    sample_view s[6];
    for (int i = 0; i < 6; i++) s[i] = view(&p, answers[i]);
    task_options o;
    task_options_default(&o);
    score_ctx c = {&o, NULL, &A, NULL};
    err e = ERR_INIT;
    score_record a[6], b[6];
    CHECK_INT(ifeval_score(&c, s, 6, a, &e), 0);
    for (int i = 5; i >= 0; i--) CHECK_INT(ifeval_score(&c, &s[i], 1, &b[i], &e), 0);
    for (int i = 0; i < 6; i++) {
        char *x = cJSON_PrintUnformatted(a[i].fields), *y = cJSON_PrintUnformatted(b[i].fields);
        CHECK_STR(x, y);
        free(x);
        free(y);
        score_record_release(&a[i]);
        score_record_release(&b[i]);
    }
}

int main(void)
{
    RUN(test_ifeval_score__worked_example);
    RUN(test_ifeval_score__outcomes);
    RUN(test_ifeval_score__think);
    RUN(test_ifeval_score__modes_and_errors);
    RUN(test_ifeval_score__deterministic);
    arena_release(&A);
    return test_report();
}
