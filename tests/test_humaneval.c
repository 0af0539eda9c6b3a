/* test_humaneval.c: HumanEval/EvalPlus loaders, prompts, completion
 * processing, the SCORING.md 5.1 vectors, and the oracles (canonical
 * solutions pass, empty completions do not). The full HumanEval+ and MBPP+
 * oracles are in test_evalplus_full.c (suite 'slow'). */
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/util.h"
#include "datasets/humaneval.h"
#include "scorers/humaneval.h"
#include "scorers/metric.h"
#include "test.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static task_options opts(void)
{
    task_options o;
    task_options_default(&o);
    o.data_dir = test_data_dir();
    return o;
}

static const he_problem toy = {
    .task_id = "Toy/0",
    .prompt = "def inc(x):\n    \"\"\"Return x+1.\"\"\"\n",
    .entry_point = "inc",
    .canonical = "    return x + 1\n",
    .test =
        "\n\ndef check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n",
    .family = HE_HUMANEVAL,
};

/* ------------------------------------------------------------ loaders */

static void test_humaneval__load(void)
{
    arena a = ARENA_INIT;
    task_options o = opts();
    item_set set;
    err e = ERR_INIT;
    CHECK_INT(humaneval_load(&o, "humaneval", &a, &set, &e), 0);
    CHECK_INT(set.n, 164);
    CHECK_STR(set.sha256, "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef");
    for (size_t i = 0; i < set.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "HumanEval/%zu", i);
        CHECK_STR(set.items[i].id, want);
        const he_problem *p = set.items[i].data;
        CHECK(strstr(p->test, "def check(candidate)") != NULL);
        CHECK(p->prompt[strlen(p->prompt) - 1] == '\n');
        CHECK(p->base_input == NULL);
    }
    const he_problem *p0 = set.items[0].data;
    CHECK_STR(p0->entry_point, "has_close_elements");
    arena_release(&a);
}

static void test_humaneval__load_evalplus(void)
{
    arena a = ARENA_INIT;
    task_options o = opts();
    item_set set;
    err e = ERR_INIT;
    /* Counts from the datasets' PROVENANCE.md. */
    CHECK_INT(humaneval_load(&o, "humanevalplus", &a, &set, &e), 0);
    CHECK_INT(set.n, 164);
    CHECK_STR(set.sha256, "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101");
    size_t nb = 0, np = 0, natol = 0;
    for (size_t i = 0; i < set.n; i++) {
        const he_problem *p = set.items[i].data;
        nb += p->n_base;
        np += p->n_plus;
        natol += p->atol != 0;
        CHECK(p->family == HE_EVALPLUS_HE);
    }
    CHECK_INT(nb, 1570);
    CHECK_INT(np, 122683);
    CHECK_INT(natol, 3);
    /* Big integers are kept as the file wrote them. */
    const he_problem *p53 = set.items[53].data;
    CHECK(strlen(p53->plus_input) > 0);
    buf raw = BUF_INIT;
    buf_init(&raw, 64u << 20);
    CHECK_INT(file_read_gz(set.path, &raw, &e), 0);
    size_t big = 0;
    for (size_t i = 0; i < set.n; i++) {
        const he_problem *p = set.items[i].data;
        CHECK(strstr(raw.data, p->plus_input) != NULL);
        for (const char *q = p->plus_input; *q; q++) {
            size_t run = 0;
            while (q[run] >= '0' && q[run] <= '9') run++;
            if (run > 20) big++;
            if (run) q += run - 1;
        }
    }
    CHECK(big > 100);
    buf_release(&raw);

    CHECK_INT(humaneval_load(&o, "humanevalplus-mini", &a, &set, &e), 0);
    nb = np = 0;
    for (size_t i = 0; i < set.n; i++) {
        nb += ((const he_problem *)set.items[i].data)->n_base;
        np += ((const he_problem *)set.items[i].data)->n_plus;
    }
    CHECK_INT(nb, 1570);
    CHECK_INT(np, 1107);

    CHECK_INT(humaneval_load(&o, "mbppplus", &a, &set, &e), 0);
    CHECK_INT(set.n, 378);
    CHECK_STR(set.items[0].id, "Mbpp/2");
    size_t inf = 0;
    for (size_t i = 0; i < set.n; i++) {
        const he_problem *p = set.items[i].data;
        CHECK(p->test == NULL && p->family == HE_EVALPLUS_MBPP);
        if (strstr(p->plus_input, "Infinity") || strstr(p->base_input, "Infinity")) inf++;
        if (strcmp(p->task_id, "Mbpp/793") == 0) {
            CHECK_STR(p->plus_input, "[]");
            CHECK_INT(p->n_plus, 0);
        }
    }
    CHECK(inf >= 1);
    CHECK(humaneval_load(&o, "nosuch", &a, &set, &e) == ERR_INVALID);
    task_options bad = opts();
    bad.data_dir = "/nonexistent";
    CHECK(humaneval_load(&bad, "humaneval", &a, &set, &e) == ERR_NOTFOUND);
    arena_release(&a);
}

static const char good_line[] =
    "{\"task_id\": \"T/1\", \"prompt\": \"def f(x):\\n\", \"entry_point\": \"f\", "
    "\"canonical_solution\": \"    return x\\n\", \"test\": \"def check(c):\\n    assert c(1) == "
    "1\\n\", "
    "\"contract\": \"\", \"base_input\": [[1], [2.5e3]], \"plus_input\": "
    "[[123456789012345678901234567890], [-Infinity], [NaN], [\"\\u00e9\\\"x\"], [{\"k\": [true, "
    "null]}]], "
    "\"atol\": 0}";

static int load_text(const char *text, size_t len, int family, arena *a, item_set *set, err *e)
{
    char path[] = "/tmp/tally-he-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return ERR_IO;
    ssize_t w = write(fd, text, len);
    close(fd);
    int r = w == (ssize_t)len ? humaneval_load_file(path, family, a, set, e) : ERR_IO;
    unlink(path);
    return r;
}

static void test_humaneval__load_bad(void)
{
    arena a = ARENA_INIT;
    item_set set;
    err e = ERR_INIT;
    size_t n = strlen(good_line);
    CHECK_INT(load_text(good_line, n, HE_EVALPLUS_HE, &a, &set, &e), 0);
    CHECK_INT(set.n, 1);
    const he_problem *p = set.items[0].data;
    CHECK_INT(p->n_base, 2);
    CHECK_INT(p->n_plus, 5);
    CHECK(strstr(p->plus_input, "123456789012345678901234567890") != NULL);
    CHECK(strstr(p->plus_input, "-Infinity") != NULL);
    CHECK_STR(p->canonical, "    return x\n");
    /* Every proper prefix of the line is an error that names the file. */
    for (size_t k = 1; k < n; k++) {
        err pe = ERR_INIT;
        int r = load_text(good_line, k, HE_EVALPLUS_HE, &a, &set, &pe);
        CHECK_MSG(r == ERR_PARSE, "prefix %zu: %d", k, r);
        CHECK(strstr(pe.msg, "tally-he-test") != NULL);
    }
    /* Corruptions and wrong types. */
    static const char *const bad[] = {
        "{\"task_id\": 1, \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", \"test\": \"t\"}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f x\", \"canonical_solution\": "
        "\"c\", \"test\": \"t\"}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\"}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", \"test\": \"t\"} x",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", \"test\": \"t\",}",
        "{\"task_id\": \"T\", \"prompt\": \"p\\x\", \"entry_point\": \"f\", "
        "\"canonical_solution\": \"c\", \"test\": \"t\"}",
        "{\"task_id\": \"T\", \"prompt\": \"a\tb\", \"entry_point\": \"f\", "
        "\"canonical_solution\": \"c\", \"test\": \"t\"}",
        "[1, 2]",
        "{\"task_id\": \"T\", \"prompt\": 'p', \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", \"test\": \"t\"}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int r = load_text(bad[i], strlen(bad[i]), HE_HUMANEVAL, &a, &set, &e);
        CHECK_MSG(r == ERR_PARSE, "bad %zu: %d", i, r);
    }
    static const char *const bad_ep[] = {
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", "
        "\"base_input\": [1, 2], \"plus_input\": [], \"atol\": 0}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", "
        "\"base_input\": [[01]], \"plus_input\": [], \"atol\": 0}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", "
        "\"base_input\": [], \"plus_input\": [], \"atol\": \"0\"}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", "
        "\"base_input\": [], \"plus_input\": {\"a\": 1}, \"atol\": 0}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", "
        "\"base_input\": [[1.]], \"plus_input\": [], \"atol\": 0}",
        "{\"task_id\": \"T\", \"prompt\": \"p\", \"entry_point\": \"f\", \"canonical_solution\": "
        "\"c\", "
        "\"base_input\": [[Infinit]], \"plus_input\": [], \"atol\": 0}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad_ep); i++) {
        int r = load_text(bad_ep[i], strlen(bad_ep[i]), HE_EVALPLUS_MBPP, &a, &set, &e);
        CHECK_MSG(r == ERR_PARSE, "bad evalplus %zu: %d", i, r);
    }
    /* A bit flip anywhere in a good line is an error or still a good record
     * (flips inside string contents), never a crash. */
    char *flip = strdup(good_line);
    for (size_t k = 0; k < n; k++) {
        for (int bit = 0; bit < 8; bit += 3) {
            flip[k] ^= (char)(1 << bit);
            int r = load_text(flip, n, HE_EVALPLUS_HE, &a, &set, &e);
            CHECK(r == 0 || r == ERR_PARSE);
            flip[k] ^= (char)(1 << bit);
        }
    }
    free(flip);
    /* Duplicates, empty files. */
    char two[2048];
    snprintf(two, sizeof two, "%s\n%s\n", good_line, good_line);
    CHECK_INT(load_text(two, strlen(two), HE_EVALPLUS_HE, &a, &set, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "twice") != NULL);
    CHECK_INT(load_text("\n\n", 2, HE_HUMANEVAL, &a, &set, &e), ERR_PARSE);
    arena_release(&a);
}

/* ------------------------------------------------------------ prompts */

static void test_humaneval__build(void)
{
    arena a = ARENA_INIT;
    task_options o = opts();
    item it = {"Toy/0", 0, (void *)&toy};
    prompt p;
    err e = ERR_INIT;
    CHECK_INT(humaneval_build(&o, "humaneval", &it, &a, &p, &e), 0);
    CHECK_STR(p.text, toy.prompt);
    CHECK(p.messages == NULL);
    CHECK_INT(p.n_stop, 5);
    CHECK_STR(p.stop[2], "\n#");
    CHECK_STR(p.reference, toy.canonical);
    o.chat = true;
    CHECK_INT(humaneval_build(&o, "humaneval", &it, &a, &p, &e), 0);
    CHECK(p.text == NULL && p.n_messages == 1);
    CHECK_STR(p.messages[0].role, "user");
    CHECK_STR(p.messages[0].content,
              "Write a solution to the following problem and make sure that it passes the "
              "tests:\n```python\ndef inc(x):\n    \"\"\"Return x+1.\"\"\"\n\n```\n");
    CHECK_STR(
        p.assistant_prefix,
        "Here is the completed function:\n```python\ndef inc(x):\n    \"\"\"Return x+1.\"\"\"\n\n");
    CHECK_STR(p.reference, toy.canonical);

    he_problem ep = toy;
    ep.family = HE_EVALPLUS_HE;
    item it2 = {"Toy/0", 0, &ep};
    CHECK_INT(humaneval_build(&o, "humanevalplus", &it2, &a, &p, &e), 0);
    CHECK_STR(p.messages[0].content,
              "Please provide a self-contained Python script that solves the following problem in "
              "a markdown code block:\n```\ndef inc(x):\n    \"\"\"Return x+1.\"\"\"\n```\n");
    CHECK(strncmp(p.assistant_prefix, "Below is a Python script", 24) == 0);
    CHECK_STR(p.stop[p.n_stop - 1], "\n```\n");
    CHECK_STR(p.reference, "def inc(x):\n    \"\"\"Return x+1.\"\"\"\n    return x + 1\n");
    o.chat = false;
    CHECK_INT(humaneval_build(&o, "humanevalplus", &it2, &a, &p, &e), 0);
    CHECK_STR(p.text, toy.prompt);
    CHECK_INT(p.n_stop, 11);
    CHECK_STR(p.stop[6], "\ndef ");
    arena_release(&a);
}

/* ------------------------------------------------------------ SCORING.md 5.1 */

static void test_humaneval__program(void) /* H-A */
{
    arena a = ARENA_INIT;
    CHECK_STR(
        humaneval_program(&a, toy.prompt, "    return x + 1\n", toy.test, toy.entry_point),
        "def inc(x):\n    \"\"\"Return x+1.\"\"\"\n    return x + 1\n\n\n\ndef check(candidate):\n"
        "    assert candidate(1) == 2\n    assert candidate(-1) == 0\n\ncheck(inc)");
    arena_release(&a);
}

static void test_humaneval__truncate(void) /* H-C */
{
    static const char *const rows[][2] = {
        {"    return x + 1\n\ndef helper():\n    pass\n", "    return x + 1\n"},
        {"    y = x\n# done\n    return y\n", "    y = x"},
        {"    return x+1\nif __name__ == '__main__':\n    print(inc(1))", "    return x+1"},
        {"    return [i for i in x if i]\n", "    return [i for i in x if i]\n"},
        {"    # add one\n    return x + 1\nprint(inc(2))", "    # add one\n    return x + 1"},
        {"    return x + 1\n\n\nclass Foo:\n    pass", "    return x + 1\n\n"},
        {"", ""},
        {"\nifx", ""},
    };
    arena a = ARENA_INIT;
    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        CHECK_STR(humaneval_truncate(&a, rows[i][0], humaneval_stops_codex), rows[i][1]);
    /* EvalPlus's stop strings need the trailing space. */
    CHECK_STR(humaneval_truncate(&a, "    return 1\ndefx\ndef g():", evalplus_stops_base_he),
              "    return 1\ndefx");
    arena_release(&a);
}

static void test_humaneval__extract_chat(void) /* H-D and our fence rule */
{
    arena a = ARENA_INIT;
    const char *r1 = humaneval_extract_chat(&a, "    return x + 1\n```\n\nThis function adds one.");
    CHECK_STR(r1, "    return x + 1\n");
    char *prog = arena_printf(&a, "%s%s", toy.prompt, r1);
    CHECK_STR(prog, "def inc(x):\n    \"\"\"Return x+1.\"\"\"\n    return x + 1\n");
    CHECK_STR(humaneval_extract_chat(&a, "    return x + 1\n"), "    return x + 1\n");
    /* Servers that ignore the pre-fill answer with a fenced block. */
    CHECK_STR(
        humaneval_extract_chat(&a, "Sure:\n```python\ndef inc(x):\n    return x + 1\n```\nDone."),
        "def inc(x):\n    return x + 1\n");
    CHECK_STR(humaneval_extract_chat(&a, "```\ndef inc(x):\n    return x + 1\n```"),
              "def inc(x):\n    return x + 1\n");
    CHECK_STR(humaneval_extract_chat(&a, "  ```py\nx = 1"), "x = 1");
    CHECK_STR(humaneval_extract_chat(&a, "```"), "");
    arena_release(&a);
}

static void test_humaneval__py_strip(void)
{
    arena a = ARENA_INIT;
    CHECK_STR(humaneval_py_strip(&a, " \t\n x y \n"), "x y");
    CHECK_STR(humaneval_py_strip(&a, "\xc2\xa0\xe3\x80\x80x\x1c\xe2\x80\xa8"), "x");
    CHECK_STR(humaneval_py_strip(&a, "\xc3\xa9"), "\xc3\xa9");
    CHECK_STR(humaneval_py_strip(&a, "   "), "");
    arena_release(&a);
}

static void test_humaneval__pass_at_k(void) /* H-E */
{
    static const struct {
        int n, c, k;
        double v;
    } rows[] = {
        {1, 1, 1, 1.0},
        {1, 0, 1, 0.0},
        {10, 3, 1, 0.30000000000000004},
        {10, 3, 5, 0.9166666666666666},
        {10, 0, 5, 0.0},
        {10, 8, 5, 1.0},
        {200, 1, 1, 0.0050000000000000044},
        {200, 1, 10, 0.050000000000000044},
        {200, 1, 100, 0.5},
        {200, 37, 10, 0.8773745673794602},
        {5, 2, 5, 1.0},
        {20, 10, 10, 0.9999945874558878},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        CHECK_NEAR(humaneval_pass_at_k(rows[i].n, rows[i].c, rows[i].k), rows[i].v, 1e-12);

    /* Mean over problems; pass@100 absent when some n < 100. */
    static he_problem probs[3];
    item items[3];
    for (int i = 0; i < 3; i++) {
        probs[i] = toy;
        items[i] = (item){i == 0 ? "A" : i == 1 ? "B" : "C", (size_t)i, &probs[i]};
    }
    enum { N = 30 };
    sample_view s[N];
    score_record r[N];
    memset(s, 0, sizeof s);
    memset(r, 0, sizeof r);
    int c[3] = {3, 0, 10};
    for (int i = 0; i < N; i++) {
        s[i].it = &items[i / 10];
        s[i].sample = i % 10;
        r[i].outcome = (i % 10) < c[i / 10] ? OUTCOME_CORRECT : OUTCOME_WRONG;
    }
    cJSON *m = cJSON_CreateObject();
    arena a = ARENA_INIT;
    task_options o = opts();
    score_ctx ctx = {&o, "humaneval", &a, NULL};
    err e = ERR_INIT;
    CHECK_INT(humaneval_aggregate(&ctx, s, r, N, m, &e), 0);
    metric_value v;
    CHECK_INT(metric_get(m, "pass@1", &v), 0);
    CHECK_NEAR(v.value, (0.30000000000000004 + 0.0 + 1.0) / 3, 1e-12);
    CHECK_INT(v.n, 3);
    CHECK_INT(metric_get(m, "pass@10", &v), 0);
    CHECK_NEAR(v.value, (1.0 + 0.0 + 1.0) / 3, 1e-12);
    CHECK(metric_get(m, "pass@100", &v) != 0);
    cJSON_Delete(m);
    arena_release(&a);
}

/* H-B: the reference's verdicts, program by program (no truncation). */
static void test_humaneval__verdicts(void)
{
    static const struct {
        const char *completion, *result;
        bool prefix; /* only the class "failed: " is normative */
    } rows[] = {
        {"    return x + 1\n", "passed", false},
        {"    return x + 2\n", "failed: ", true},
        {"    return x + 1\nimport sys\nsys.exit(0)\n", "failed: 0", false},
        {"    return x + 1\nimport os\nos._exit(0)\n", NULL, false},
        {"    return x + 1\nif __name__ == \"__main__\":\n    while True: pass\n", "passed", false},
        {"    while True:\n        pass\n", "timed out", false},
        {"    exit(0)\n", "failed: 'NoneType' object is not callable", false},
        {"    import os\n    os.remove('x')\n    return x + 1\n",
         "failed: 'NoneType' object is not callable", false},
        {"    y = x", "failed: ", true},
        {"    return x +\n", "failed: invalid syntax", true},
        {"    print('hello')\n    return x + 1\n", "passed", false},
        {"    return x + 1\ninput()\n", "failed: ", true},
        {"    raise SystemExit(0)\n", "failed: 0", false},
    };
    arena a = ARENA_INIT;
    sandbox *sb = NULL;
    task_options o = opts();
    err e = ERR_INIT;
    CHECK_INT(humaneval_sandbox_open(&o, &sb, NULL, &e), 0);
    if (!sb) return;
    size_t n = ARRAY_LEN(rows);
    sandbox_job jobs[ARRAY_LEN(rows)];
    sandbox_result res[ARRAY_LEN(rows)];
    memset(res, 0, sizeof res);
    for (size_t i = 0; i < n; i++) {
        char *prog =
            humaneval_program(&a, toy.prompt, rows[i].completion, toy.test, toy.entry_point);
        char *pl = arena_printf(&a, "program 1 2\n%s", prog);
        jobs[i] = (sandbox_job)SANDBOX_JOB_INIT;
        jobs[i].payload = pl;
        jobs[i].payload_len = strlen(pl);
        jobs[i].cpu_s = 1;
        jobs[i].wall_s = 2;
    }
    CHECK_INT(sandbox_run_many(sb, jobs, n, 2, res, &e), 0);
    for (size_t i = 0; i < n; i++) {
        const sandbox_frame *f = sandbox_result_frame(&res[i], "result");
        if (!rows[i].result) {
            CHECK_MSG(f == NULL, "row %zu: %s", i, f ? f->data : "");
        } else if (rows[i].prefix) {
            CHECK_MSG(f && strncmp(f->data, rows[i].result, strlen(rows[i].result)) == 0,
                      "row %zu: %s", i, f ? f->data : "(none)");
        } else {
            CHECK_MSG(f && strcmp(f->data, rows[i].result) == 0, "row %zu: %s", i,
                      f ? f->data : "(none)");
        }
        sandbox_result_release(&res[i]);
    }
    sandbox_close(sb);
    arena_release(&a);
}

/* The same rows through the scorer: outcomes, reasons, fields. */
static void test_humaneval__score_toy(void)
{
    arena a = ARENA_INIT;
    task_options o = opts();
    o.exec_timeout_s = 1;
    o.jobs = 2;
    cJSON *info = cJSON_CreateObject();
    score_ctx ctx = {&o, "humaneval", &a, info};
    item it = {"Toy/0", 0, (void *)&toy};
    static const char *const comps[] = {
        "    return x + 1\n",                          /* correct */
        "    return x + 2\n",                          /* wrong */
        "    while True:\n        pass\n",             /* timeout */
        "    return x + 1\nimport os\nos._exit(0)\n",  /* no result */
        "",                                            /* no answer */
        "    return x + 2\n",                          /* truncated (length) */
        "ignored",                                     /* generation failed */
        "    return x + 1\n# comment\n    return 5\n", /* cut at "\n#": still correct */
    };
    enum { N = ARRAY_LEN(comps) };
    sample_view s[N];
    score_record r[N];
    memset(s, 0, sizeof s);
    for (int i = 0; i < N; i++) {
        s[i].it = &it;
        s[i].sample = i;
        s[i].completion = comps[i];
        s[i].finish_reason = i == 5 ? "length" : "stop";
    }
    s[6].error = "HTTP 500";
    s[6].error_kind = SAMPLE_ERR_API;
    err e = ERR_INIT;
    CHECK_INT(humaneval_score(&ctx, s, N, r, &e), 0);
    CHECK_INT(r[0].outcome, OUTCOME_CORRECT);
    CHECK_INT(r[1].outcome, OUTCOME_WRONG);
    CHECK_INT(r[2].outcome, OUTCOME_TIMEOUT);
    CHECK_INT(r[3].outcome, OUTCOME_WRONG);
    CHECK_INT(r[4].outcome, OUTCOME_NO_ANSWER);
    CHECK_INT(r[5].outcome, OUTCOME_TRUNCATED);
    CHECK_INT(r[6].outcome, OUTCOME_API_ERROR);
    CHECK_INT(r[7].outcome, OUTCOME_CORRECT);
    CHECK(r[0].fields && cJSON_IsNumber(cJSON_GetObjectItem(r[0].fields, "cpu_ms")));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(r[0].fields, "peak_rss_kb")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r[0].fields, "signal")));
    CHECK_STR(cJSON_GetObjectItem(r[0].fields, "result")->valuestring, "passed");
    CHECK_STR(cJSON_GetObjectItem(r[2].fields, "result")->valuestring, "timed out");
    CHECK_STR(cJSON_GetObjectItem(r[3].fields, "result")->valuestring, "timed out");
    CHECK(r[3].reason && strstr(r[3].reason, "before the tests finished"));
    CHECK_STR(r[1].reason, "AssertionError"); /* the traceback's last line */
    CHECK_STR(cJSON_GetObjectItem(r[1].fields, "result")->valuestring, "failed: ");
    CHECK_INT((int)cJSON_GetObjectItem(r[0].fields, "problem_n")->valuedouble, N);
    CHECK_INT((int)cJSON_GetObjectItem(r[0].fields, "problem_passed")->valuedouble, 2);
    CHECK(r[6].fields == NULL || cJSON_GetObjectItem(r[6].fields, "result") == NULL);
    const cJSON *lvl = cJSON_GetObjectItem(info, "sandbox");
    CHECK(cJSON_IsString(lvl) && strstr(lvl->valuestring, "seccomp"));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(info, "python")));
    for (int i = 0; i < N; i++) score_record_release(&r[i]);
    cJSON_Delete(info);
    arena_release(&a);
}

/* H-F and more of the sanitizer. */
static void test_humaneval__sanitize(void)
{
    static const char *const rows[][3] = {
        {"Here is the code:\n```python\ndef add(a, b):\n    return a + b\n```\nThis adds two "
         "numbers.",
         "add", "def add(a, b):\n    return a + b"},
        {"def add(a, b):\n    return a + b\n\nprint(add(1, 2))\nassert add(1, 2) == 3\n", "add",
         "def add(a, b):\n    return a + b"},
        {"import math\n\ndef helper(x):\n    return x * 2\n\ndef unused():\n    return 0\n\ndef "
         "f(x):\n"
         "    return helper(x)\n\nif __name__ == '__main__':\n    print(f(2))\n",
         "f", "import math\ndef helper(x):\n    return x * 2\ndef f(x):\n    return helper(x)"},
        {"def f(x):\n    print(x)\n", "f", "def f(x):\n    print(x)"},
        /* ours: future imports and decorated definitions are not kept (tree-sitter
         * gives them other node types); the first definition of a name wins;
         * classes, assignments and attribute uses count as dependencies. */
        {"from __future__ import annotations\nimport os\nK = 3\n@dec\ndef g():\n    return 1\n"
         "class C:\n    def m(self):\n        return K\ndef f():\n    return C().m()\n"
         "def f():\n    return 2\n",
         "f",
         "import os\nK = 3\nclass C:\n    def m(self):\n        return K\ndef f():\n    return "
         "C().m()"},
        {"\x1b[32mdef f():\n    return 1\x1b[0m\n", "f", "def f():\n    return 1"},
        {"just prose, no code at all", "f", "just prose, no code at all"},
    };
    arena a = ARENA_INIT;
    sandbox *sb = NULL;
    task_options o = opts();
    err e = ERR_INIT;
    CHECK_INT(humaneval_sandbox_open(&o, &sb, NULL, &e), 0);
    if (!sb) return;
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        const char *out = NULL;
        CHECK_INT(evalplus_sanitize(sb, rows[i][0], rows[i][1], &a, &out, &e), 0);
        CHECK_STR(out, rows[i][2]);
    }
    sandbox_close(sb);
    arena_release(&a);
}

/* task_options.sandbox_mode picks the sandbox's fallbacks; info records them. */
static void test_humaneval__sandbox_modes(void)
{
    task_options o = opts();
    sandbox *sb = NULL;
    err e = ERR_INIT;
    cJSON *info = cJSON_CreateObject();
    o.sandbox_mode = "degraded";
    CHECK_INT(humaneval_sandbox_open(&o, &sb, info, &e), 0);
    CHECK(sb && strncmp(sandbox_level(sb), "degraded:", 9) == 0);
    CHECK(strncmp(cJSON_GetObjectItem(info, "sandbox")->valuestring, "degraded:", 9) == 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(info, "sandbox_fork_server")));
    sandbox_close(sb);
    o.sandbox_mode = "no-fork-server";
    CHECK_INT(humaneval_sandbox_open(&o, &sb, info, &e), 0);
    CHECK(sb && !sandbox_fork_server(sb) && sandbox_has_namespaces(sb));
    sandbox_close(sb);
    o.sandbox_mode = "bogus";
    sb = NULL;
    CHECK_INT(humaneval_sandbox_open(&o, &sb, info, &e), ERR_USAGE);
    CHECK(sb == NULL && strstr(e.msg, "bogus"));
    o.sandbox_mode = NULL;
    o.unsafe_no_sandbox = true;
    CHECK_INT(humaneval_sandbox_open(&o, &sb, info, &e), 0);
    CHECK_STR(cJSON_GetObjectItem(info, "sandbox")->valuestring, "none");
    sandbox_close(sb);
    cJSON_Delete(info);
}

/* ------------------------------------------------------------ oracles */

static void oracle_humaneval(bool chat, size_t limit)
{
    arena a = ARENA_INIT;
    task_options o = opts();
    o.chat = chat;
    item_set set;
    err e = ERR_INIT;
    CHECK_INT(humaneval_load(&o, "humaneval", &a, &set, &e), 0);
    size_t n = set.n < limit ? set.n : limit;
    sample_view *s = calloc(2 * n, sizeof *s);
    score_record *r = calloc(2 * n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        prompt p;
        CHECK_INT(humaneval_build(&o, "humaneval", &set.items[i], &a, &p, &e), 0);
        s[i] =
            (sample_view){.it = &set.items[i], .completion = p.reference, .finish_reason = "stop"};
        s[n + i] = (sample_view){
            .it = &set.items[i], .sample = 1, .completion = "", .finish_reason = "stop"};
    }
    cJSON *info = cJSON_CreateObject();
    score_ctx ctx = {&o, "humaneval", &a, info};
    double t0 = time_now_s();
    CHECK_INT(humaneval_score(&ctx, s, 2 * n, r, &e), 0);
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "humaneval oracle (%s, %zu + %zu empty): %.2f s\n", chat ? "chat" : "raw",
                n, n, time_now_s() - t0);
    size_t pass = 0, empty_pass = 0;
    for (size_t i = 0; i < n; i++) {
        pass += r[i].outcome == OUTCOME_CORRECT;
        empty_pass += r[n + i].outcome == OUTCOME_CORRECT;
        if (r[i].outcome != OUTCOME_CORRECT)
            fprintf(stderr, "  %s: %s (%s)\n", set.items[i].id, outcome_name(r[i].outcome),
                    r[i].reason ? r[i].reason : "");
    }
    CHECK_INT(pass, n);
    CHECK_INT(empty_pass, 0);
    /* pass@1 over the canonical samples alone is 100%. */
    cJSON *m = cJSON_CreateObject();
    CHECK_INT(humaneval_aggregate(&ctx, s, r, n, m, &e), 0);
    metric_value v;
    CHECK_INT(metric_get(m, "pass@1", &v), 0);
    CHECK_NEAR(v.value, 1.0, 1e-12);
    cJSON_Delete(m);
    for (size_t i = 0; i < 2 * n; i++) score_record_release(&r[i]);
    free(s);
    free(r);
    cJSON_Delete(info);
    arena_release(&a);
}

/* The library path on a part of the set (tests/e2e/test_humaneval.py runs
 * all 164 through the binary). */
static void test_humaneval__oracle(void)
{
    oracle_humaneval(false, 40);
}

static void test_humaneval__oracle_chat(void)
{
    oracle_humaneval(true, 16);
}

/* EvalPlus on the Mini set (its first 40 problems): expected outputs computed
 * in the sandbox and cached; the canonical solutions pass base and plus; a
 * wrong solution and an empty one do not. */
static void test_humaneval__evalplus_mini(void)
{
    arena a = ARENA_INIT;
    task_options o = opts();
    char cache[] = "/tmp/tally-ep-cache-XXXXXX";
    CHECK(mkdtemp(cache) != NULL);
    o.cache_dir = cache;
    item_set set;
    err e = ERR_INIT;
    CHECK_INT(humaneval_load(&o, "humanevalplus-mini", &a, &set, &e), 0);
    size_t n = 40; /* the e2e test runs all 164 */
    sample_view *s = calloc(n + 2, sizeof *s);
    score_record *r = calloc(n + 2, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        prompt p;
        CHECK_INT(humaneval_build(&o, "humanevalplus-mini", &set.items[i], &a, &p, &e), 0);
        s[i] =
            (sample_view){.it = &set.items[i], .completion = p.reference, .finish_reason = "stop"};
    }
    /* HumanEval/0 answered wrongly, and not at all. */
    s[n] = (sample_view){.it = &set.items[0],
                         .sample = 1,
                         .completion = "    return True\n",
                         .finish_reason = "stop"};
    s[n + 1] =
        (sample_view){.it = &set.items[0], .sample = 2, .completion = "", .finish_reason = "stop"};
    cJSON *info = cJSON_CreateObject();
    score_ctx ctx = {&o, "humanevalplus-mini", &a, info};
    for (int round = 0; round < 2; round++) {
        double t0 = time_now_s();
        CHECK_INT(evalplus_score(&ctx, s, n + 2, r, &e), 0);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "humanevalplus-mini oracle, %s cache: %.2f s\n",
                    round ? "warm" : "cold", time_now_s() - t0);
        size_t pass = 0;
        for (size_t i = 0; i < n; i++) {
            pass += r[i].outcome == OUTCOME_CORRECT;
            if (r[i].outcome != OUTCOME_CORRECT)
                fprintf(stderr, "  %s: %s (%s)\n", set.items[i].id, outcome_name(r[i].outcome),
                        r[i].reason ? r[i].reason : "");
        }
        CHECK_INT(pass, n);
        CHECK_INT(r[n].outcome, OUTCOME_WRONG);
        CHECK_STR(cJSON_GetObjectItem(r[n].fields, "base")->valuestring, "fail");
        CHECK_INT(r[n + 1].outcome, OUTCOME_NO_ANSWER);
        CHECK_STR(cJSON_GetObjectItem(r[0].fields, "base")->valuestring, "pass");
        CHECK_STR(cJSON_GetObjectItem(r[0].fields, "plus")->valuestring, "pass");
        cJSON *m = cJSON_CreateObject();
        CHECK_INT(evalplus_aggregate(&ctx, s, r, n, m, &e), 0);
        metric_value v;
        CHECK_INT(metric_get(m, "plus_pass@1", &v), 0);
        CHECK_NEAR(v.value, 1.0, 1e-12);
        CHECK_INT(metric_get(m, "base_pass@1", &v), 0);
        CHECK_NEAR(v.value, 1.0, 1e-12);
        cJSON_Delete(m);
        for (size_t i = 0; i < n + 2; i++) score_record_release(&r[i]);
    }
    /* The cache was written once, keyed by the dataset's sha256. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/evalplus | grep -c '^%.16s-.*\\.tsv$' >/dev/null", cache,
             set.sha256);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache);
    CHECK(system(cmd) == 0);
    free(s);
    free(r);
    cJSON_Delete(info);
    arena_release(&a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_humaneval__load);
    RUN(test_humaneval__load_evalplus);
    RUN(test_humaneval__load_bad);
    RUN(test_humaneval__build);
    RUN(test_humaneval__program);
    RUN(test_humaneval__truncate);
    RUN(test_humaneval__extract_chat);
    RUN(test_humaneval__py_strip);
    RUN(test_humaneval__pass_at_k);
    RUN(test_humaneval__verdicts);
    RUN(test_humaneval__score_toy);
    RUN(test_humaneval__sanitize);
    RUN(test_humaneval__sandbox_modes);
    RUN(test_humaneval__oracle);
    RUN(test_humaneval__oracle_chat);
    RUN(test_humaneval__evalplus_mini);
    return test_report();
}
