/* test_runset.c: run directories read back for compare, report and diff:
 * scores.jsonl into records (every prefix of a file, wrong types), loading
 * directories of runs, labels, the gate and reference files, --max-failures,
 * and diff's split of a score gap into answers and grading. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"
#include "harness/evaluate.h"
#include "harness/runset.h"
#include "scorers/metric.h"
#include "test.h"

static char tmp[64];

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    char *slash = strrchr(p, '/');
    *slash = 0;
    dir_create(p, NULL);
    *slash = '/';
    err e = ERR_INIT;
    if (file_write_atomic(p, text, strlen(text), &e) < 0) fprintf(stderr, "put %s: %s\n", p, e.msg);
}

static const char *at(const char *rel)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, rel);
    return p[k];
}

static const char scores3[] =
    "{\"id\":\"1\",\"sample\":0,\"outcome\":\"correct\",\"score\":1,\"reason\":null,"
    "\"metrics\":{\"strict\":\"correct\"},\"target\":\"5\"}\n"
    "{\"id\":\"2\",\"sample\":0,\"outcome\":\"wrong\",\"score\":0,\"reason\":\"extracted "
    "\\\"4\\\"\"}\n"
    "{\"id\":\"1\",\"sample\":1,\"outcome\":\"truncated\",\"score\":0,\"reason\":null}\n";

static void test_runset__load_scores(void)
{
    put("s/scores.jsonl", scores3);
    eval_loaded l;
    err e = ERR_INIT;
    CHECK_INT(eval_load_scores(at("s/scores.jsonl"), &l, &e), 0);
    CHECK_INT(l.n, 3);
    CHECK_INT(l.n_items, 2);
    CHECK_STR(l.views[2].it->id, "1");
    CHECK(l.views[2].it == l.views[0].it);
    CHECK_INT(l.views[2].sample, 1);
    CHECK_INT(l.recs[2].outcome, OUTCOME_TRUNCATED);
    CHECK(l.recs[0].reason == NULL);
    CHECK_STR(l.recs[1].reason, "extracted \"4\"");
    CHECK_NEAR(l.recs[0].score, 1, 0);
    /* the task's own fields, and only those */
    CHECK(cJSON_GetObjectItem(l.recs[0].fields, "target") != NULL);
    CHECK(cJSON_GetObjectItem(l.recs[0].fields, "id") == NULL);
    CHECK(l.recs[1].fields == NULL);
    eval_loaded_release(&l);

    /* every prefix: whole lines load, anything cut is an error naming the line */
    size_t n = strlen(scores3);
    for (size_t k = 0; k <= n; k++) {
        put("p/scores.jsonl", "");
        char *part = strndup(scores3, k);
        put("p/scores.jsonl", part);
        err e2 = ERR_INIT;
        int rc = eval_load_scores(at("p/scores.jsonl"), &l, &e2);
        size_t lines = 0;
        for (size_t i = 0; i < k; i++) lines += part[i] == '\n';
        bool whole = k == 0 || part[k - 1] == '\n';
        if (whole) {
            CHECK_MSG(rc == 0 && l.n == lines, "prefix %zu: rc %d n %zu", k, rc, l.n);
        } else {
            CHECK_MSG(rc < 0 && strstr(e2.msg, "scores.jsonl:"), "prefix %zu: rc %d (%s)", k, rc,
                      e2.msg);
            CHECK(l.n == 0 && l.recs == NULL);
        }
        eval_loaded_release(&l);
        free(part);
    }

    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"{\"id\":\"1\",\"sample\":\"0\",\"outcome\":\"correct\"}\n", "\"sample\""},
        {"{\"id\":1,\"sample\":0,\"outcome\":\"correct\"}\n", "\"id\""},
        {"{\"sample\":0,\"outcome\":\"correct\"}\n", "\"id\" is missing"},
        {"{\"id\":\"1\",\"sample\":0,\"outcome\":\"great\"}\n", "unknown outcome \"great\""},
        {"{\"id\":\"1\",\"sample\":0,\"outcome\":\"wrong\",\"score\":\"x\"}\n",
         "\"score\" is not a number"},
        {"{\"id\":\"1\",\"sample\":-1,\"outcome\":\"wrong\"}\n", "\"sample\""},
        {"{\"id\":\"1\",\"sample\":0,\"outcome\":\"wrong\",\"reason\":7}\n", "\"reason\""},
        {"[1,2]\n", "not a JSON object"},
        {"{\"id\":\"1\",\"sample\":0,\"outcome\":\"wrong\"} trailing\n", "unexpected text"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char text[600];
        snprintf(text, sizeof text, "%.*s%s", (int)strcspn(scores3, "\n") + 1, scores3,
                 bad[i].line);
        put("b/scores.jsonl", text);
        err e3 = ERR_INIT;
        CHECK_MSG(eval_load_scores(at("b/scores.jsonl"), &l, &e3) < 0 &&
                      strstr(e3.msg, bad[i].msg) && strstr(e3.msg, "scores.jsonl:2"),
                  "case %zu: %s", i, e3.msg);
        eval_loaded_release(&l);
    }
    err e4 = ERR_INIT;
    CHECK(eval_load_scores(at("nope/scores.jsonl"), &l, &e4) < 0 &&
          strstr(e4.msg, "nope/scores.jsonl"));
}

static const char manifest_t[] =
    "{\"task\":\"gsm8k_cot\",\"benchmark\":\"gsm8k\",\"settings\":{\"samples\":1},"
    "\"runner\":{\"backend\":\"replay\",\"model\":\"x\"}}";
static const char results_t[] = "{\"task\":\"gsm8k_cot\",\"items\":2,\"samples\":3,\"metrics\":{"
                                "\"strict_match\":{\"value\":0.5,"
                                "\"n\":2,\"stderr\":0.5,\"ci95\":[0.1,0.9]}}}";

static void test_runset__open(void)
{
    put("one/manifest.json", manifest_t);
    put("one/results.json", results_t);
    put("one/scores.jsonl", scores3);
    put("multi/b_task/results.json", "{\"task\":\"unknown_task\",\"metrics\":{}}");
    put("multi/a_task/manifest.json", manifest_t);
    put("multi/not_a_run/x.txt", "x");
    put("empty/x.txt", "x");
    put("badres/results.json", "{\"task\": ");
    put("arr/manifest.json", "[1]");
    run_set s;
    err e = ERR_INIT;
    CHECK_INT(runset_open(&s, at("one"), &e), 0);
    CHECK_INT(s.n, 1);
    CHECK_STR(s.tasks[0].name, "gsm8k_cot");
    CHECK(s.tasks[0].task != NULL && s.tasks[0].has_scores && s.tasks[0].scores.n == 3);
    CHECK(runset_find(&s, "gsm8k_cot") == &s.tasks[0] && runset_find(&s, "x") == NULL);
    /* the dataset's records, for aggregates that read them */
    CHECK(s.tasks[0].scores.items[0].data == NULL);
    CHECK_INT(runset_attach_items(&s, "/nonexistent"), 0);
    CHECK(s.tasks[0].scores.items[0].data == NULL);
    CHECK_INT(runset_attach_items(&s, test_data_dir()), 1);
    CHECK(s.tasks[0].attached && s.tasks[0].scores.items[0].data &&
          s.tasks[0].scores.items[1].data);
    runset_release(&s);
    CHECK_INT(runset_open(&s, at("multi"), &e), 0);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.tasks[0].name, "gsm8k_cot"); /* a_task, in name order */
    CHECK_STR(s.tasks[1].name, "unknown_task");
    CHECK(s.tasks[1].task == NULL && !s.tasks[1].has_scores && s.tasks[1].manifest == NULL);
    runset_release(&s);
    CHECK_INT(runset_open(&s, at("empty"), &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "not a run directory") != NULL);
    CHECK_INT(runset_open(&s, at("badres"), &e), ERR_PARSE);
    CHECK(strstr(e.msg, "results.json") != NULL);
    CHECK_INT(runset_open(&s, at("arr"), &e), ERR_PARSE);
    CHECK(strstr(e.msg, "not a JSON object") != NULL);
    CHECK_INT(runset_open(&s, at("missing"), &e), ERR_IO);

    /* labels: folder names, the paths when those clash, explicit ones win */
    put("x/one/results.json", results_t);
    put("y/one/results.json", results_t);
    run_set two[3];
    memset(two, 0, sizeof two);
    CHECK_INT(runset_open(&two[0], at("x/one"), &e), 0);
    CHECK_INT(runset_open(&two[1], at("y/one"), &e), 0);
    CHECK_INT(runset_open(&two[2], at("x/one"), &e), 0);
    CHECK_INT(runset_label_all(two, 2, NULL, 0, &e), 0);
    CHECK_STR(two[0].label, "one");
    CHECK_STR(two[1].label, at("y/one"));
    const char *lab[] = {"base"};
    CHECK_INT(runset_label_all(two, 3, lab, 1, &e), 0);
    CHECK_STR(two[0].label, "base");
    CHECK_STR(two[1].label, "one");
    CHECK_STR(two[2].label, at("x/one"));
    for (int i = 0; i < 3; i++) runset_release(&two[i]);
    /* the same relative directory twice: numbered */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(at("x")), 0);
    CHECK_INT(runset_open(&two[0], "one", &e), 0);
    CHECK_INT(runset_open(&two[1], "one/", &e), 0);
    CHECK_INT(runset_open(&two[2], "one", &e), 0);
    CHECK_INT(runset_label_all(two, 3, NULL, 0, &e), 0);
    CHECK_STR(two[0].label, "one");
    CHECK_STR(two[1].label, "one/");
    CHECK_STR(two[2].label, "one (3)");
    CHECK_INT(chdir(cwd), 0);
    const char *same[] = {"a", "a"};
    CHECK_INT(runset_label_all(two, 2, same, 2, &e), ERR_USAGE);
    for (int i = 0; i < 3; i++) runset_release(&two[i]);
}

static void test_runset__files(void)
{
    size_t count;
    double rate;
    err e = ERR_INIT;
    CHECK_INT(runset_parse_max_failures("5", &count, &rate, &e), 0);
    CHECK(count == 5 && isnan(rate));
    CHECK_INT(runset_parse_max_failures("0.02", &count, &rate, &e), 0);
    CHECK(count == SIZE_MAX && fabs(rate - 0.02) < 1e-15);
    CHECK_INT(runset_parse_max_failures("2.5%", &count, &rate, &e), 0);
    CHECK(fabs(rate - 0.025) < 1e-15);
    const char *bad[] = {"", "-1", "abc", "1.5", "150%", "5x", "%", "0.1.2"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        CHECK_MSG(runset_parse_max_failures(bad[i], &count, &rate, &e) == ERR_USAGE, "\"%s\"",
                  bad[i]);

    put("g/good.json",
        "{\"default\": 2, \"gates\": {\"gsm8k_cot/strict_match\": 1, \"ifeval/*\": null}}");
    cJSON *doc;
    cmp_gate *g;
    size_t n;
    double dflt;
    CHECK_INT(runset_load_gates(at("g/good.json"), &doc, &g, &n, &dflt, &e), 0);
    CHECK(n == 2 && dflt == 2 && !strcmp(g[0].pattern, "gsm8k_cot/strict_match") &&
          isnan(g[1].points));
    free(g);
    cJSON_Delete(doc);
    static const struct {
        const char *text, *msg;
    } badg[] = {
        {"[1]", "expected {"},
        {"{}", "expected {"},
        {"{\"gates\": {\"a\": \"1\"}}", "gate \"a\" is not a number"},
        {"{\"gates\": {\"a\": -1}}", "gate \"a\""},
        {"{\"default\": \"x\"}", "\"default\""},
        {"{\"gates\": [1]}", "expected {"},
        {"{\"gates\": {", "--gates"},
    };
    for (size_t i = 0; i < ARRAY_LEN(badg); i++) {
        put("g/bad.json", badg[i].text);
        CHECK_MSG(runset_load_gates(at("g/bad.json"), &doc, &g, &n, &dflt, &e) < 0 &&
                      strstr(e.msg, badg[i].msg),
                  "case %zu: %s", i, e.msg);
    }
    put("r/ref.json", "{\"name\": \"Granite card\", \"metrics\": {\"gsm8k\": 92.49}}");
    cmp_reference ref;
    CHECK_INT(runset_load_reference(at("r/ref.json"), &doc, &ref, &e), 0);
    CHECK_STR(ref.label, "Granite card");
    CHECK_NEAR(cJSON_GetObjectItem(ref.values, "gsm8k")->valuedouble, 92.49, 0);
    cJSON_Delete(doc);
    put("r/noname.json", "{\"metrics\": {}}");
    CHECK_INT(runset_load_reference(at("r/noname.json"), &doc, &ref, &e), 0);
    CHECK_STR(ref.label, "noname.json");
    cJSON_Delete(doc);
    const char *badr[] = {"{\"metrics\": {\"x\": \"92\"}}", "{\"metrics\": [1]}",
                          "{\"name\": 1, \"metrics\": {}}", "{"};
    for (size_t i = 0; i < ARRAY_LEN(badr); i++) {
        put("r/bad.json", badr[i]);
        CHECK_MSG(runset_load_reference(at("r/bad.json"), &doc, &ref, &e) < 0 &&
                      strstr(e.msg, "--reference"),
                  "case %zu: %s", i, e.msg);
    }
}

/* ---- diff's re-scoring with a task whose grading depends on a setting ---- */

static const char *const fake_metrics[] = {"acc", NULL};

static int fake_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e)
{
    static const char *ids[] = {"a", "b", "c"};
    out->items = arena_calloc(a, 3, sizeof *out->items);
    for (size_t i = 0; i < 3; i++) out->items[i] = (item){ids[i], i, NULL};
    out->n = 3;
    out->path = "fake";
    out->sha256 = NULL;
    return 0;
}

/* correct when the completion names the scoring mode */
static int fake_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e)
{
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].outcome =
            strstr(s[i].completion, c->o->scorer_mode) ? OUTCOME_CORRECT : OUTCOME_WRONG;
    }
    return 0;
}

static const task_def fake_task = {"fake", "fake",    "a test task", NULL,       fake_metrics,
                                   0,      fake_load, NULL,          fake_score, NULL};

int rescore(cJSON *out, const run_task *ra, const run_task *rb, const sample_store *sa,
            const sample_store *sb, const char *data_dir, err *e);

static void add_sample(sample_store *st, const char *id, const char *completion)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddNumberToObject(d, "sample", 0);
    cJSON_AddStringToObject(d, "completion", completion);
    samples_add(st, d, NULL);
}

static void test_runset__rescore_split(void)
{
    run_task ra = {0}, rb = {0};
    ra.task = rb.task = &fake_task;
    ra.path = "A";
    rb.path = "B";
    ra.manifest = cJSON_Parse("{\"task\":\"fake\",\"scoring\":{\"ifeval_mode\":\"compat\"}}");
    rb.manifest = cJSON_Parse("{\"task\":\"fake\",\"scoring\":{\"ifeval_mode\":\"fixed\"}}");
    sample_store sa = SAMPLE_STORE_INIT, sb = SAMPLE_STORE_INIT;
    add_sample(&sa, "a", "compat");
    add_sample(&sa, "b", "compat");
    add_sample(&sa, "c", "fixed");
    add_sample(&sb, "a", "fixed");
    add_sample(&sb, "b", "fixed");
    add_sample(&sb, "c", "compat");
    add_sample(&sb, "d", "extra, not in A");
    cJSON *out = cJSON_CreateObject();
    err e = ERR_INIT;
    CHECK_INT(rescore(out, &ra, &rb, &sa, &sb, "/nowhere", &e), 0);
    const cJSON *r = cJSON_GetObjectItem(out, "rescore");
    CHECK(r && cJSON_GetObjectItem(r, "items")->valueint == 3);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(r, "same_scoring_settings")));
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "metrics"), 0);
    CHECK(m != NULL);
    if (m) {
        CHECK_NEAR(cJSON_GetObjectItem(m, "a_answers_a_grading")->valuedouble, 2.0 / 3, 1e-15);
        CHECK_NEAR(cJSON_GetObjectItem(m, "a_answers_b_grading")->valuedouble, 1.0 / 3, 1e-15);
        CHECK_NEAR(cJSON_GetObjectItem(m, "b_answers_a_grading")->valuedouble, 1.0 / 3, 1e-15);
        CHECK_NEAR(cJSON_GetObjectItem(m, "b_answers_b_grading")->valuedouble, 2.0 / 3, 1e-15);
        CHECK_NEAR(cJSON_GetObjectItem(m, "gap")->valuedouble, 0, 1e-15);
        CHECK_NEAR(cJSON_GetObjectItem(m, "answers_changed")->valuedouble, -1.0 / 3, 1e-15);
        CHECK_NEAR(cJSON_GetObjectItem(m, "grading_changed")->valuedouble, 1.0 / 3, 1e-15);
    }
    cJSON_Delete(out);
    /* no shared item: an error that says so */
    sample_store sc = SAMPLE_STORE_INIT;
    add_sample(&sc, "zzz", "compat");
    out = cJSON_CreateObject();
    CHECK_INT(rescore(out, &ra, &rb, &sa, &sc, "/nowhere", &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "share no answered item") != NULL);
    cJSON_Delete(out);
    samples_release(&sa);
    samples_release(&sb);
    samples_release(&sc);
    cJSON_Delete(ra.manifest);
    cJSON_Delete(rb.manifest);
}

static void test_runset__flips(void)
{
    /* by the first metric when the records carry it ("strict_match" here) */
    put("fa/scores.jsonl", "{\"id\":\"1\",\"sample\":0,\"outcome\":\"correct\",\"metrics\":{"
                           "\"strict_match\":\"correct\"}}\n"
                           "{\"id\":\"2\",\"sample\":0,\"outcome\":\"correct\",\"metrics\":{"
                           "\"strict_match\":\"wrong\"}}\n"
                           "{\"id\":\"3\",\"sample\":0,\"outcome\":\"wrong\",\"metrics\":{\"strict_"
                           "match\":\"wrong\"}}\n"
                           "{\"id\":\"4\",\"sample\":0,\"outcome\":\"correct\",\"metrics\":{"
                           "\"strict_match\":\"correct\"}}\n");
    put("fb/scores.jsonl", "{\"id\":\"4\",\"sample\":0,\"outcome\":\"wrong\",\"metrics\":{\"strict_"
                           "match\":\"wrong\"}}\n"
                           "{\"id\":\"2\",\"sample\":0,\"outcome\":\"wrong\",\"metrics\":{\"strict_"
                           "match\":\"correct\"}}\n"
                           "{\"id\":\"1\",\"sample\":0,\"outcome\":\"correct\",\"metrics\":{"
                           "\"strict_match\":\"correct\"}}\n"
                           "{\"id\":\"9\",\"sample\":0,\"outcome\":\"correct\"}\n");
    run_task a = {0}, b = {0};
    err e = ERR_INIT;
    CHECK_INT(eval_load_scores(at("fa/scores.jsonl"), &a.scores, &e), 0);
    CHECK_INT(eval_load_scores(at("fb/scores.jsonl"), &b.scores, &e), 0);
    a.has_scores = b.has_scores = true;
    a.task = b.task = task_find("gsm8k_cot");
    run_flips f;
    CHECK_INT(runset_flips(&a, &b, 1, &f, &e), 0);
    CHECK_STR(f.metric, "strict_match");
    /* shared 1, 2, 4: 1 both; 2 only B; 4 only A */
    CHECK(f.both == 1 && f.only_a == 1 && f.only_b == 1 && f.neither == 0);
    CHECK(f.n_ids_a == 1 && !strcmp(f.ids_a[0], "4") && !strcmp(f.ids_b[0], "2"));
    run_flips_release(&f);
    /* a task this build does not know: by the records' outcome (2 is only A now) */
    a.task = b.task = NULL;
    CHECK_INT(runset_flips(&a, &b, 0, &f, &e), 0);
    CHECK_STR(f.metric, "outcome");
    CHECK(f.both == 1 && f.only_a == 2 && f.only_b == 0 && f.n_ids_a == 0);
    run_flips_release(&f);
    eval_loaded_release(&a.scores);
    eval_loaded_release(&b.scores);
}

static void rm_rf(const char *p)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", p);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/tally-test-runset-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    RUN(test_runset__load_scores);
    RUN(test_runset__open);
    RUN(test_runset__files);
    RUN(test_runset__rescore_split);
    RUN(test_runset__flips);
    rm_rf(tmp);
    return test_report();
}
