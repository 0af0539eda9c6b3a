/* test_harness.c: options, the run directory's sample store, selection, stop strings. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "harness/evaluate.h"
#include "harness/opts.h"
#include "harness/rundir.h"
#include "test.h"

typedef struct topts {
    const char *name;
    int n;
    double x;
    bool flag;
    uint64_t big;
    str_list list;
} topts;

static const opt_def defs[] = {
    {"name", OPT_STR, offsetof(topts, name), "S", "a name", 0},
    {"n", OPT_INT, offsetof(topts, n), "N", "a number", 0},
    {"x", OPT_DOUBLE, offsetof(topts, x), "X", "a float", 0},
    {"flag", OPT_BOOL, offsetof(topts, flag), NULL, "a flag", 0},
    {"big", OPT_U64, offsetof(topts, big), "B", "a u64", 0},
    {"item", OPT_LIST, offsetof(topts, list), "I", "repeatable", 0},
    {0},
};

static void test_harness__opts(void)
{
    char *argv[] = {"cmd", "--name", "a", "pos1", "--n=5", "--x", "2.5", "--flag", "--big",
                    "18446744073709551615", "--item", "p", "--item=q", "--", "--pos2"};
    topts t = {0};
    opts_result r;
    err e = ERR_INIT;
    CHECK_INT(opts_parse(defs, &t, 15, argv, 1, &r, &e), 0);
    CHECK_STR(t.name, "a");
    CHECK_INT(t.n, 5);
    CHECK_NEAR(t.x, 2.5, 0);
    CHECK(t.flag);
    CHECK(t.big == UINT64_MAX);
    CHECK_INT(t.list.n, 2);
    CHECK_STR(t.list.v[1], "q");
    CHECK_INT(r.n_pos, 2);
    CHECK_STR(r.pos[1], "--pos2");
    CHECK(opts_seen(defs, &r, "x") && !opts_seen(defs, &r, "nope"));
    opts_release(&r);
    str_list_release(&t.list);

    struct {
        int argc;
        char *argv[4];
        const char *msg;
    } bad[] = {
        {2, {"c", "--nope"}, "unknown option \"--nope\""},
        {2, {"c", "--n"}, "--n needs a value"},
        {3, {"c", "--n", "x"}, "--n: \"x\" is not an integer"},
        {3, {"c", "--n", "99999999999"}, "--n: \"99999999999\" is not an integer"},
        {3, {"c", "--big", "-1"}, "--big: \"-1\" is not a non-negative integer"},
        {3, {"c", "--x", "1e"}, "--x: \"1e\" is not a number"},
        {2, {"c", "--flag=maybe"}, "--flag: \"maybe\" is not true or false"},
        {2, {"c", "-n"}, "unknown option \"-n\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        topts u = {0};
        CHECK_INT(opts_parse(defs, &u, bad[i].argc, bad[i].argv, 1, &r, &e), ERR_USAGE);
        CHECK_MSG(strstr(e.msg, bad[i].msg) != NULL, "case %zu: %s", i, e.msg);
        opts_release(&r);
        str_list_release(&u.list);
    }
    topts u = {0};
    u.flag = true;
    char *neg[] = {"c", "--no-flag"};
    CHECK_INT(opts_parse(defs, &u, 2, neg, 1, &r, &e), 0);
    CHECK(!u.flag);
    opts_release(&r);
}

static void write_file(const char *path, const char *s)
{
    file_write_atomic(path, s, strlen(s), NULL);
}

static void test_harness__sample_store(void)
{
    char dir[] = "/tmp/tally-rundir-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    buf p = BUF_INIT;
    path_join(&p, dir, "samples.jsonl");
    err e = ERR_INIT;
    sample_store st = SAMPLE_STORE_INIT;

    /* a later line for the same key wins; a torn (unterminated) last line is dropped */
    write_file(p.data, "{\"id\":\"a\",\"sample\":0,\"completion\":\"x\"}\n"
                       "{\"id\":\"b\",\"sample\":0,\"completion\":\"\",\"error\":\"HTTP 500\",\"error_kind\":1}\n"
                       "{\"id\":\"a\",\"sample\":0,\"completion\":\"y\"}\n"
                       "{\"id\":\"c\",\"sample\":0,\"compl");
    CHECK_INT(samples_load(p.data, &st, &e), 0);
    CHECK(st.torn);
    CHECK_INT(st.superseded, 1);
    const cJSON *a = samples_get(&st, "a", 0);
    CHECK(a && !strcmp(cJSON_GetObjectItem(a, "completion")->valuestring, "y"));
    CHECK(samples_get(&st, "c", 0) == NULL);
    CHECK(sample_has_error(samples_get(&st, "b", 0)));
    /* compaction keeps the latest good line per key and drops the failed one */
    CHECK_INT(samples_compact(p.data, &st, true, &e), 0);
    buf data = BUF_INIT;
    file_read_all(p.data, &data, NULL);
    CHECK_STR(data.data, "{\"id\":\"a\",\"sample\":0,\"completion\":\"y\"}\n");
    CHECK(samples_get(&st, "b", 0) == NULL && samples_get(&st, "a", 0) != NULL);
    samples_release(&st);

    /* a complete but unterminated last line is treated as torn too */
    write_file(p.data, "{\"id\":\"a\",\"sample\":0,\"completion\":\"x\"}\n{\"id\":\"b\",\"sample\":0,\"completion\":\"x\"}");
    CHECK_INT(samples_load(p.data, &st, &e), 0);
    CHECK(st.torn && samples_get(&st, "b", 0) == NULL);
    samples_release(&st);

    /* every prefix of a good file loads without error and never yields a partial record */
    const char *good = "{\"id\":\"a\",\"sample\":0,\"completion\":\"x\"}\n{\"id\":\"b\",\"sample\":1,\"completion\":\"y\"}\n";
    for (size_t k = 0; k <= strlen(good); k++) {
        file_write_atomic(p.data, good, k, NULL);
        CHECK_INT(samples_load(p.data, &st, &e), 0);
        size_t first = (size_t)(strchr(good, '\n') - good) + 1;
        size_t want = k >= first ? (k == strlen(good) ? 2 : 1) : 0;
        size_t have = (samples_get(&st, "a", 0) != NULL) + (samples_get(&st, "b", 1) != NULL);
        CHECK_MSG(have == want, "prefix %zu: %zu records, expected %zu", k, have, want);
        samples_release(&st);
    }

    /* a malformed line in the middle is an error naming the line */
    write_file(p.data, "{\"id\":\"a\",\"sample\":0}\nnot json\n{\"id\":\"b\",\"sample\":0}\n");
    CHECK_INT(samples_load(p.data, &st, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "samples.jsonl:2") != NULL);
    samples_release(&st);
    write_file(p.data, "{\"sample\":0}\n{\"id\":\"b\",\"sample\":0}\n");
    CHECK_INT(samples_load(p.data, &st, &e), ERR_PARSE);
    CHECK(strstr(e.msg, ":1: the line has no \"id\"") != NULL);
    samples_release(&st);

    /* formatting a line: escapes, tool calls, error */
    buf line = BUF_INIT;
    gen_request q = {.item_id = "x\"1", .sample = 2};
    gen_tool_call tc = {NULL, "f", "{\"a\": 1}"};
    gen_response r = {.finish_reason = "tool_calls", .prompt_tokens = 3, .completion_tokens = -1,
                      .latency_ms = 1.5, .attempts = 2, .tool_calls = &tc, .n_tool_calls = 1,
                      .error = "boom", .error_kind = 2};
    CHECK_INT(samples_format_line(&line, &q, &r, "abc", "t\n"), 0);
    CHECK_STR(line.data, "{\"id\":\"x\\\"1\",\"sample\":2,\"prompt_sha256\":\"abc\",\"completion\":\"t\\n\","
                         "\"tool_calls\":[{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}],"
                         "\"finish_reason\":\"tool_calls\",\"prompt_tokens\":3,\"latency_ms\":1.500,"
                         "\"attempts\":2,\"error\":\"boom\",\"error_kind\":2}\n");
    cJSON *back = cJSON_Parse(line.data);
    CHECK(back != NULL);
    cJSON_Delete(back);
    buf_release(&line);
    buf_release(&data);

    /* the lock: a second open of the same directory is refused */
    rundir d1 = RUNDIR_INIT, d2 = RUNDIR_INIT;
    CHECK_INT(rundir_open(&d1, dir, &e), 0);
    pid_t pid = fork();
    if (pid == 0) {
        err e2 = ERR_INIT;
        int rc = rundir_open(&d2, dir, &e2);
        _exit(rc == ERR_IO && strstr(e2.msg, "another tally process") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rundir_close(&d1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    buf_release(&p);
}

static void test_harness__resume_check(void)
{
    rundir d = RUNDIR_INIT;
    d.path = "/runs/x";
    cJSON *a = cJSON_Parse("{\"task\":\"t\",\"runner\":{\"backend\":\"replay\",\"model\":\"oracle\"},"
                           "\"dataset\":{\"sha256\":\"aa\"},\"settings\":{\"seed\":1,\"top_p\":1}}");
    cJSON *b = cJSON_Duplicate(a, true);
    err e = ERR_INIT;
    CHECK_INT(rundir_check_resume(&d, a, b, &e), 0);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "settings"), "seed", cJSON_CreateNumber(2));
    CHECK_INT(rundir_check_resume(&d, a, b, &e), ERR_MISMATCH);
    CHECK(strstr(e.msg, "setting \"seed\" is 2 here but 1") != NULL);
    cJSON_Delete(b);
    b = cJSON_Duplicate(a, true);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(b, "settings"), "top_p");
    CHECK_INT(rundir_check_resume(&d, a, b, &e), ERR_MISMATCH);
    CHECK(strstr(e.msg, "\"top_p\" is (not set) here") != NULL);
    cJSON_Delete(b);
    b = cJSON_Duplicate(a, true);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "dataset"), "sha256", cJSON_CreateString("bb"));
    CHECK_INT(rundir_check_resume(&d, a, b, &e), ERR_MISMATCH);
    CHECK(strstr(e.msg, "sha256") != NULL);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_harness__select(void)
{
    item its[10];
    char ids[10][4];
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i);
        its[i] = (item){ids[i], (size_t)i, NULL};
    }
    item_set all = {its, 10, NULL, NULL};
    arena a = ARENA_INIT;
    const item **out;
    size_t n;
    err e = ERR_INIT;
    selection s = {NULL, 0, NULL};
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), 0);
    CHECK_INT(n, 10);
    s.limit = 4;
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), 0);
    CHECK_INT(n, 4);
    s.shard = "1/2";
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), 0);
    CHECK(n == 2 && out[0] == &its[1] && out[1] == &its[3]);
    s = (selection){"7,2,7", 0, NULL};
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), 0);
    CHECK(n == 2 && out[0] == &its[2] && out[1] == &its[7]); /* dataset order, no duplicates */
    s.ids = "1,x,y";
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), ERR_USAGE);
    CHECK(strstr(e.msg, "2 ids are not in the dataset: \"x\", \"y\"") != NULL);
    s = (selection){NULL, 0, "2/2"};
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), ERR_USAGE);
    s.shard = "0/0";
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), ERR_USAGE);
    s.shard = "a/b";
    CHECK_INT(eval_select(&all, &s, &a, &out, &n, &e), ERR_USAGE);
    arena_release(&a);
}

static void test_harness__stops(void)
{
    const char *stops[] = {"Q:", "</s>"};
    prompt p = {0};
    p.stop = stops;
    p.n_stop = 2;
    char t1[] = "answer </s> more Q: x";
    eval_cut_at_stop(t1, &p);
    CHECK_STR(t1, "answer ");
    char t2[] = "no stop here";
    eval_cut_at_stop(t2, &p);
    CHECK_STR(t2, "no stop here");
    char h1[65], h2[65];
    p.text = "abc";
    eval_prompt_sha256(&p, h1);
    CHECK_STR(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    chat_message m[1] = {{"user", "abc", NULL, NULL}};
    prompt c = {0};
    c.messages = m;
    c.n_messages = 1;
    eval_prompt_sha256(&c, h2);
    CHECK(strcmp(h1, h2) != 0 && strlen(h2) == 64);
}

int main(void)
{
    RUN(test_harness__opts);
    RUN(test_harness__sample_store);
    RUN(test_harness__resume_check);
    RUN(test_harness__select);
    RUN(test_harness__stops);
    return test_report();
}
