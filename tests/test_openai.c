/* test_openai.c: the openai runner against the loopback fake server
 * (tests/fake_openai.c): the start-up checks, what goes on the wire, tool
 * calls, every injected fault, Retry-After, timeouts, "n" and its fallbacks,
 * streaming, keep-alive, pacing, stopping, and 1000 requests at
 * concurrency 32 with 20% faults. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/json.h"
#include "common/util.h"
#include "fake_server.h"
#include "runners/runner.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct got {
    int times; /* deliveries (must end at 1) */
    char *text, *reasoning, *error, *finish;
    int error_kind, attempts, prompt_tokens, completion_tokens;
    double latency_ms;
    size_t n_tools;
    char *tool_name, *tool_args;
} got;

typedef struct collect {
    got *g;
    size_t n;
    size_t delivered;
    int stop_after;       /* return -1 from the callback after this many (0 = never) */
    volatile int *cancel; /* set after the first delivery when not NULL */
} collect;

static void collect_init(collect *c, size_t n)
{
    memset(c, 0, sizeof *c);
    c->g = calloc(n, sizeof *c->g);
    c->n = n;
}

static void collect_release(collect *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->g[i].text);
        free(c->g[i].reasoning);
        free(c->g[i].error);
        free(c->g[i].finish);
        free(c->g[i].tool_name);
        free(c->g[i].tool_args);
    }
    free(c->g);
}

static char *dup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int on_done(void *ctx, size_t index, const gen_request *req, const gen_response *r)
{
    collect *c = ctx;
    if (index >= c->n) return -99;
    got *g = &c->g[index];
    g->times++;
    c->delivered++;
    if (g->times == 1) {
        g->text = dup0(r->text);
        g->reasoning = dup0(r->reasoning);
        g->error = dup0(r->error);
        g->finish = dup0(r->finish_reason);
        g->error_kind = r->error_kind;
        g->attempts = r->attempts;
        g->prompt_tokens = r->prompt_tokens;
        g->completion_tokens = r->completion_tokens;
        g->latency_ms = r->latency_ms;
        g->n_tools = r->n_tool_calls;
        if (r->n_tool_calls) {
            g->tool_name = dup0(r->tool_calls[0].name);
            g->tool_args = dup0(r->tool_calls[0].arguments);
        }
    }
    (void)req;
    if (c->cancel) *c->cancel = 1;
    if (c->stop_after && (int)c->delivered >= c->stop_after) return -1;
    return 0;
}

/* Requests with one user message each (strings in `a`). */
static gen_request *make_requests(arena *a, size_t n, const char *const *contents)
{
    gen_request *q = arena_calloc(a, n, sizeof *q);
    for (size_t i = 0; i < n; i++) {
        chat_message *m = arena_calloc(a, 1, sizeof *m);
        m->role = "user";
        m->content = arena_strdup(a, contents[i]);
        prompt *p = arena_calloc(a, 1, sizeof *p);
        p->messages = m;
        p->n_messages = 1;
        q[i].item_id = arena_printf(a, "item-%zu", i);
        q[i].p = p;
        q[i].max_tokens = 64;
        q[i].sampling.top_p = 1;
        q[i].sampling.repetition_penalty = 1;
        q[i].sampling.seed = 1000 + i;
    }
    return q;
}

/* The fake server's answer to a prompt text. */
static char *expected_text(const char *prompt_text)
{
    uint64_t h = fake_server_hash(prompt_text);
    char *t = NULL;
    if (asprintf(&t, "The answer is %d. [req %016" PRIx64 "]", (int)(h % 100), h) < 0) return NULL;
    return t;
}

static void settings_for(runner_settings *s, const fake_server *f)
{
    runner_settings_default(s);
    s->base_url = f->base_url;
    s->model = "fake";
    s->max_retries = 3;
    s->retry_base_s = 0.01;
    s->retry_max_s = 0.05;
    s->timeout_s = 5;
    s->concurrency = 8;
}

static const char *str_at(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2) v = cJSON_GetObjectItemCaseSensitive(v, path2);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ------------------------------------------------------------------------ */
/* open: the checks made before any work                                     */
/* ------------------------------------------------------------------------ */

static void test_openai__open_checks(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    const char *args[] = {"--models", "fake,other", "--key", "sekrit", NULL};
    if (fake_server_start(&f, args) < 0) {
        CHECK_MSG(0, "cannot start the fake server");
        return;
    }
    settings_for(&s, &f);
    s.api_key = "sekrit";
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    runner_close(r);

    /* a model the server does not serve: one line naming what it serves */
    s.model = "granite";
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_NOTFOUND);
    CHECK(r == NULL);
    CHECK_MSG(strstr(e.msg, "--model granite") && strstr(e.msg, "fake, other"), "%s", e.msg);
    s.model = "fake";

    /* a wrong key */
    s.api_key = "wrong";
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_HTTP);
    CHECK_MSG(strstr(e.msg, "401") && strstr(e.msg, "API key") && !strstr(e.msg, "wrong"), "%s",
              e.msg);
    s.api_key = "sekrit";

    /* bad settings are usage errors */
    s.base_url = "ftp://x/v1";
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    s.base_url = NULL;
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    CHECK(strstr(e.msg, "--base-url") != NULL);
    s.base_url = f.base_url;
    const char *bad_headers[] = {"NoColon"};
    s.headers = bad_headers;
    s.n_headers = 1;
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    const char *crlf[] = {"X-A: b\r\nX-Evil: 1"};
    s.headers = crlf;
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    s.headers = NULL;
    s.n_headers = 0;
    s.concurrency = 0;
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    s.concurrency = 8;
    s.extra_body = "[1]";
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    s.extra_body = NULL;
    s.model = NULL;
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_USAGE);
    s.model = "fake";

    /* a base URL with no path gets /v1 */
    char root_url[64];
    snprintf(root_url, sizeof root_url, "http://127.0.0.1:%d/", f.port);
    s.base_url = root_url;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    cJSON *d = cJSON_CreateObject();
    CHECK_INT(runner_describe(r, d, &e), 0);
    CHECK_STR(str_at(d, "endpoint", NULL), f.base_url);
    cJSON_Delete(d);
    runner_close(r);
    s.base_url = f.base_url;

    /* an unreachable server: one clear line, at once */
    CHECK_INT(fake_server_stop(&f), 0);
    double t0 = time_now_s();
    CHECK_INT(runner_open(&r, "openai", &s, &e), ERR_IO);
    CHECK_MSG(strstr(e.msg, "cannot reach") && strstr(e.msg, f.base_url), "%s", e.msg);
    CHECK_MSG(time_now_s() - t0 < 5, "took %.1f s", time_now_s() - t0);
    CHECK_INT(runner_open(&r, "nonesuch", &s, &e), ERR_USAGE);
}

static void test_openai__no_models_endpoint(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    const char *args[] = {"--no-models", NULL};
    if (fake_server_start(&f, args) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    buf notes = BUF_INIT;
    runner_notes(r, &notes);
    CHECK_MSG(strstr(notes.data, "not checked") != NULL, "%s", notes.data);
    buf_release(&notes);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
}

/* What /models says that is not a list of models, and Ollama's "name:tag". */
static void test_openai__models_answers(void)
{
    static const struct {
        const char *body, *model;
        int rc;
        const char *msg;
    } cases[] = {
        {"<html>gateway</html>", "fake", ERR_PARSE, "invalid JSON"},
        {"{\"object\": \"list\"}", "fake", ERR_PARSE, "no \"data\" array"},
        {"{\"data\": {\"id\": \"fake\"}}", "fake", ERR_PARSE, "no \"data\" array"},
        {"{\"data\": [42, {\"id\": 7}, {\"id\": \"other\"}]}", "fake", ERR_NOTFOUND,
         "it serves other)"},
        {"{\"data\": []}", "fake", ERR_NOTFOUND, "it serves no model"},
        {"{\"data\": [{\"id\": \"granite4:latest\", \"owned_by\": \"library\"}]}", "granite4", 0,
         NULL},
        {"{\"data\": [{\"id\": \"granite4:latest\"}]}", "granite4:8b", ERR_NOTFOUND, "granite4:8b"},
        {"{\"models\": [{\"id\": \"fake\"}]}", "fake", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fake_server f;
        runner_settings s;
        runner *r = NULL;
        err e = ERR_INIT;
        const char *args[] = {"--models-body", cases[i].body, NULL};
        if (fake_server_start(&f, args) < 0) {
            CHECK(0);
            return;
        }
        settings_for(&s, &f);
        s.model = cases[i].model;
        int rc = runner_open(&r, "openai", &s, &e);
        CHECK_MSG(rc == cases[i].rc, "/models %s: rc %d (%s)", cases[i].body, rc, e.msg);
        CHECK_MSG(!cases[i].msg || strstr(e.msg, cases[i].msg), "/models %s: \"%s\"", cases[i].body,
                  e.msg);
        if (rc == 0 && str_starts(cases[i].body, "{\"data\": [{\"id\": \"granite4:latest\", ")) {
            cJSON *d = cJSON_CreateObject();
            CHECK_INT(runner_describe(r, d, &e), 0);
            CHECK_STR(str_at(d, "served_model_id", NULL), "granite4:latest");
            CHECK_STR(str_at(d, "server", NULL), "ollama"); /* owned_by "library" */
            cJSON_Delete(d);
        }
        runner_close(r);
        CHECK_INT(fake_server_stop(&f), 0);
    }
}

/* ------------------------------------------------------------------------ */
/* The wire: what is sent, what is read                                      */
/* ------------------------------------------------------------------------ */

static void test_openai__describe(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    const char *args[] = {"--owned-by", "vllm", "--server-version", "0.11.2", NULL};
    if (fake_server_start(&f, args) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.api_key = "sk-very-secret";
    const char *hdrs[] = {"X-Team: evals", "X-Token:hidden-value"};
    s.headers = hdrs;
    s.n_headers = 2;
    s.extra_body = "{\"chat_template_kwargs\": {\"thinking\": false}}";
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    cJSON *d = cJSON_CreateObject();
    CHECK_INT(runner_describe(r, d, &e), 0);
    char *txt = cJSON_PrintUnformatted(d);
    CHECK_STR(str_at(d, "server", NULL), "vllm");
    CHECK_STR(str_at(d, "server_version", NULL), "0.11.2");
    CHECK_STR(str_at(d, "served_model_id", NULL), "fake");
    CHECK_STR(str_at(d, "served_model", "owned_by"), "vllm");
    CHECK_MSG(strstr(txt, "sk-very-secret") == NULL, "the key leaked: %s", txt);
    CHECK_MSG(strstr(txt, "hidden-value") == NULL, "a header value leaked: %s", txt);
    CHECK(strstr(txt, "X-Token") != NULL);
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(d, "request_template");
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(tpl, "chat");
    char want_url[128];
    snprintf(want_url, sizeof want_url, "%s/chat/completions", f.base_url);
    CHECK_STR(str_at(chat, "url", NULL), want_url);
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(chat, "body");
    CHECK(cJSON_HasObjectItem(body, "max_tokens") && cJSON_HasObjectItem(body, "seed"));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(body, "chat_template_kwargs"), "thinking")));
    free(txt);
    cJSON_Delete(d);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
}

static void test_openai__chat_and_raw(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.api_key = "sekrit";
    const char *hdrs[] = {"X-Run: 42"};
    s.headers = hdrs;
    s.n_headers = 1;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    const char *contents[] = {
        "What is 6*7?",
        "[[reply:abc STOP def]] cut me",
        "[[reasoning:reasoning_content:first think]] and answer",
        "[[reasoning:reasoning:vllm style]] and answer",
        "[[finish:length]] long one",
    };
    gen_request *q = make_requests(&a, 5, contents);
    const char *stop[] = {"STOP"};
    ((prompt *)q[1].p)->stop = stop;
    ((prompt *)q[1].p)->n_stop = 1;
    /* a raw prompt for /v1/completions */
    prompt *raw = arena_calloc(&a, 1, sizeof *raw);
    raw->text = "Question: 1+1?\nAnswer:";
    gen_request all[6];
    memcpy(all, q, 5 * sizeof *q);
    all[5] = q[0];
    all[5].p = raw;
    all[5].sampling.temperature = 0.5;
    collect c;
    collect_init(&c, 6);
    CHECK_INT(runner_generate(r, all, 6, on_done, &c, &e), 0);
    for (size_t i = 0; i < 6; i++) CHECK_INT(c.g[i].times, 1);
    char *want = expected_text(contents[0]);
    CHECK_STR(c.g[0].text, want);
    free(want);
    CHECK_STR(c.g[0].finish, "stop");
    CHECK_INT(c.g[0].attempts, 1);
    CHECK(c.g[0].prompt_tokens > 0 && c.g[0].completion_tokens > 0 && c.g[0].latency_ms > 0);
    CHECK(c.g[0].error == NULL && c.g[0].reasoning == NULL);
    CHECK_STR(c.g[1].text, "abc "); /* cut at the stop string the server left in */
    CHECK_STR(c.g[1].finish, "stop");
    CHECK_STR(c.g[2].reasoning, "first think");
    CHECK_STR(c.g[3].reasoning, "vllm style");
    CHECK_STR(c.g[4].finish, "length");
    want = expected_text(raw->text);
    CHECK_STR(c.g[5].text, want);
    free(want);
    /* what the server received */
    cJSON *log = fake_server_log(&f);
    CHECK_INT(fake_server_count_posts(log), 6);
    const cJSON *l;
    int raw_seen = 0;
    cJSON_ArrayForEach(l, log)
    {
        const char *path = str_at(l, "path", NULL);
        if (!path || !strcmp(path, "/v1/models")) continue;
        CHECK_STR(str_at(l, "auth", NULL), "Bearer sekrit");
        CHECK_STR(str_at(l, "headers", "X-Run"), "42");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(l, "body");
        CHECK_STR(str_at(b, "model", NULL), "fake");
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "max_tokens")));
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "seed")));
        CHECK(!cJSON_HasObjectItem(b, "n"));
        if (!strcmp(path, "/v1/completions")) {
            raw_seen++;
            CHECK_STR(str_at(b, "prompt", NULL), raw->text);
            CHECK_NEAR(cJSON_GetObjectItemCaseSensitive(b, "temperature")->valuedouble, 0.5, 0);
        }
    }
    CHECK_INT(raw_seen, 1);
    cJSON_Delete(log);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* BFCL native mode: the schema goes out in "tools", the calls come back decoded. */
static void tools_round_trip(bool stream)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.stream = stream;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    const char *tools =
        "[{\"type\": \"function\", \"function\": {\"name\": \"calculate_triangle_area\", "
        "\"description\": \"Calculate the area of a triangle given its base and height.\", "
        "\"parameters\": {\"type\": \"object\", \"properties\": {\"base\": {\"type\": "
        "\"integer\", \"description\": \"The base.\"}, \"height\": {\"type\": \"number\"}, "
        "\"unit\": {\"type\": \"string\"}}, \"required\": [\"base\", \"height\"]}}}]";
    const char *contents[] = {"Find the area of a triangle with a base of 10 units and height "
                              "of 5 units.",
                              "[[tool-args:{\"base\": 10, \"height\": ]] broken arguments"};
    gen_request *q = make_requests(&a, 2, contents);
    for (int i = 0; i < 2; i++) {
        ((prompt *)q[i].p)->tools = tools;
        ((prompt *)q[i].p)->tool_choice = "auto";
    }
    collect c;
    collect_init(&c, 2);
    CHECK_INT(runner_generate(r, q, 2, on_done, &c, &e), 0);
    CHECK_INT(c.g[0].n_tools, 1);
    CHECK_STR(c.g[0].tool_name, "calculate_triangle_area");
    CHECK_STR(c.g[0].tool_args, "{\"base\":1,\"height\":1.5}");
    CHECK_STR(c.g[0].finish, "tool_calls");
    CHECK_STR(c.g[0].text, "");
    CHECK(c.g[0].error == NULL);
    /* invalid JSON arguments are kept as text for the scorer */
    CHECK_STR(c.g[1].tool_args, "{\"base\": 10, \"height\": ");
    CHECK(c.g[1].error == NULL);
    cJSON *log = fake_server_log(&f);
    cJSON *want = cJSON_Parse(tools);
    const cJSON *l;
    int posts = 0;
    cJSON_ArrayForEach(l, log)
    {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(l, "body");
        if (!cJSON_IsObject(b)) continue;
        posts++;
        CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(b, "tools"), want, 1));
        CHECK_STR(str_at(b, "tool_choice", NULL), "auto");
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "stream")) == stream);
    }
    CHECK_INT(posts, 2);
    cJSON_Delete(want);
    cJSON_Delete(log);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

static void test_openai__tools_round_trip(void)
{
    tools_round_trip(false);
}

static void test_openai__tools_round_trip_streamed(void)
{
    tools_round_trip(true);
}

/* Streaming answers read the same as plain ones (content, reasoning, usage). */
static void test_openai__stream(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.stream = true;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    const char *contents[] = {"stream me", "[[reasoning:reasoning:hmm]] think first",
                              "[[fault:streamerror]] fails mid-stream"};
    gen_request *q = make_requests(&a, 3, contents);
    collect c;
    collect_init(&c, 3);
    CHECK_INT(runner_generate(r, q, 3, on_done, &c, &e), 0);
    char *want = expected_text(contents[0]);
    CHECK_STR(c.g[0].text, want);
    free(want);
    CHECK(c.g[0].prompt_tokens > 0 && c.g[0].completion_tokens > 0);
    CHECK_STR(c.g[1].reasoning, "hmm");
    CHECK_INT(c.g[2].error_kind, GEN_ERR_API);
    CHECK_MSG(c.g[2].error && strstr(c.g[2].error, "injected stream error"), "%s", c.g[2].error);
    CHECK_INT(c.g[2].attempts, 1);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct fault_case {
    const char *directive;
    bool ok;
    int attempts;
    int kind;
    const char *msg; /* substring of the error */
} fault_case;

/* max_retries = 3, so a fault that never clears is tried 4 times. */
static const fault_case fault_cases[] = {
    {"[[fault:429:retry-after=0:times=1]]", true, 2, 0, NULL},
    {"[[fault:500:times=2]]", true, 3, 0, NULL},
    {"[[fault:502:times=1]]", true, 2, 0, NULL},
    {"[[fault:503:times=3]]", true, 4, 0, NULL},
    {"[[fault:504:times=1]]", true, 2, 0, NULL},
    {"[[fault:408:times=1]]", true, 2, 0, NULL},
    {"[[fault:drop:times=1]]", true, 2, 0, NULL},
    {"[[fault:dropmid:times=2]]", true, 3, 0, NULL},
    {"[[fault:badjson:times=1]]", true, 2, 0, NULL},
    {"[[fault:empty:times=1]]", true, 2, 0, NULL},
    {"[[fault:hang:times=1]]", true, 2, 0, NULL},
    {"[[fault:400]]", false, 1, GEN_ERR_API, "HTTP 400: injected fault 400"},
    {"[[fault:401]]", false, 1, GEN_ERR_API, "HTTP 401"},
    {"[[fault:404]]", false, 1, GEN_ERR_API, "HTTP 404"},
    {"[[fault:422]]", false, 1, GEN_ERR_API, "HTTP 422"},
    {"[[fault:501]]", false, 1, GEN_ERR_API, "HTTP 501"},
    {"[[fault:flat400]]", false, 1, GEN_ERR_API,
     "HTTP 400: injected flat error (BadRequestError, 400)"},
    {"[[fault:error200]]", false, 1, GEN_ERR_API, "injected error in a 200"},
    {"[[fault:503]]", false, 4, GEN_ERR_API,
     "HTTP 503: injected fault 503 (server_error, 503) (after 4 attempts: 503, 503, 503, 503)"},
    {"[[fault:429]]", false, 4, GEN_ERR_API, "HTTP 429"},
    {"[[fault:hang]]", false, 4, GEN_ERR_TIMEOUT,
     "no answer within 0.75 s (after 4 attempts: timeout, timeout"},
    {"[[fault:badjson]]", false, 4, GEN_ERR_PARSE, "unreadable answer"},
    {"[[fault:empty]]", false, 4, GEN_ERR_API, "no choices"},
    /* curl takes a 200 cut in its headers as a whole answer with an empty body */
    {"[[fault:drop]]", false, 4, GEN_ERR_PARSE, "unreadable answer: response body: empty"},
    {"[[fault:dropmid]]", false, 4, GEN_ERR_API, "connection failed"},
    {"[[fault:drop0]]", false, 4, GEN_ERR_API, "connection failed"},
};

static void test_openai__faults(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    size_t n = sizeof fault_cases / sizeof *fault_cases;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.timeout_s = 0.75; /* long enough for a loaded machine, short for the hangs */
    s.concurrency = 32;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    const char **contents = arena_calloc(&a, n, sizeof *contents);
    for (size_t i = 0; i < n; i++)
        contents[i] = arena_printf(&a, "%s case %zu", fault_cases[i].directive, i);
    gen_request *q = make_requests(&a, n, contents);
    collect c;
    collect_init(&c, n);
    CHECK_INT(runner_generate(r, q, n, on_done, &c, &e), 0);
    for (size_t i = 0; i < n; i++) {
        const fault_case *fc = &fault_cases[i];
        got *g = &c.g[i];
        CHECK_MSG(g->times == 1, "%s: delivered %d times", fc->directive, g->times);
        CHECK_MSG(g->attempts == fc->attempts, "%s: %d attempts, want %d", fc->directive,
                  g->attempts, fc->attempts);
        if (fc->ok) {
            char *want = expected_text(contents[i]);
            CHECK_MSG(g->error == NULL, "%s: error %s", fc->directive, g->error);
            CHECK_MSG(g->text && !strcmp(g->text, want), "%s: text %s", fc->directive, g->text);
            free(want);
        } else {
            CHECK_MSG(g->error && strstr(g->error, fc->msg), "%s: error \"%s\" lacks \"%s\"",
                      fc->directive, g->error ? g->error : "(none)", fc->msg);
            CHECK_MSG(g->error_kind == fc->kind, "%s: kind %d, want %d", fc->directive,
                      g->error_kind, fc->kind);
            CHECK_STR(g->finish, "error");
            CHECK_STR(g->text, "");
        }
    }
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* The wait between attempts is what Retry-After / retry-after-ms say. */
static void test_openai__retry_after(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    const char *contents[] = {"[[fault:429:retry-after=1:times=1]] a",
                              "[[fault:503:retry-after-ms=300:retry-after=9:times=1]] b"};
    gen_request *q = make_requests(&a, 2, contents);
    collect c;
    collect_init(&c, 2);
    CHECK_INT(runner_generate(r, q, 2, on_done, &c, &e), 0);
    CHECK(c.g[0].error == NULL && c.g[1].error == NULL);
    CHECK_INT(c.g[0].attempts, 2);
    CHECK_INT(c.g[1].attempts, 2);
    /* the gaps between the two attempts of each, as the server saw them */
    cJSON *log = fake_server_log(&f);
    double t_first[2] = {-1, -1}, gap[2] = {-1, -1};
    const cJSON *l;
    cJSON_ArrayForEach(l, log)
    {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(l, "body");
        const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "messages"), 0);
        const char *content = str_at(m, "content", NULL);
        if (!content) continue;
        int k = content[strlen(content) - 1] == 'a' ? 0 : 1;
        double t = cJSON_GetObjectItemCaseSensitive(l, "t")->valuedouble;
        if (t_first[k] < 0)
            t_first[k] = t;
        else
            gap[k] = t - t_first[k];
    }
    CHECK_MSG(gap[0] >= 0.95, "Retry-After 1 s: retried after %.3f s", gap[0]);
    CHECK_MSG(gap[1] >= 0.28 && gap[1] < 5, "retry-after-ms 300: retried after %.3f s", gap[1]);
    cJSON_Delete(log);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* A server that goes away mid-run: every request is handed back with its error. */
static void test_openai__server_gone(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.max_retries = 2;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    fake_server_kill(&f);
    const char *contents[] = {"a", "b", "c"};
    gen_request *q = make_requests(&a, 3, contents);
    collect c;
    collect_init(&c, 3);
    CHECK_INT(runner_generate(r, q, 3, on_done, &c, &e), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(c.g[i].times, 1);
        CHECK_INT(c.g[i].attempts, 3);
        CHECK_INT(c.g[i].error_kind, GEN_ERR_API);
        CHECK_MSG(c.g[i].error && strstr(c.g[i].error, "connection failed"), "%s", c.g[i].error);
    }
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* ------------------------------------------------------------------------ */
/* n: asked together, and the fallbacks                                      */
/* ------------------------------------------------------------------------ */

static void n_case(const char *server_flag, size_t want_posts, bool want_note)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    const char *args[] = {server_flag, NULL};
    if (fake_server_start(&f, server_flag ? args : NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.n_per_request = 4;
    s.concurrency = 1; /* in order, so the fallback is seen before the next group */
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    /* 8 samples of one prompt, then 2 of another */
    const char *contents[] = {"p", "q"};
    gen_request *base = make_requests(&a, 2, contents);
    gen_request q[10];
    for (int i = 0; i < 10; i++) {
        q[i] = base[i < 8 ? 0 : 1];
        q[i].sample = i < 8 ? i : i - 8;
        q[i].sampling.temperature = 0.8;
        q[i].sampling.seed = 500 + (uint64_t)i;
    }
    collect c;
    collect_init(&c, 10);
    CHECK_INT(runner_generate(r, q, 10, on_done, &c, &e), 0);
    char *wp = expected_text("p"), *wq = expected_text("q");
    for (int i = 0; i < 10; i++) {
        CHECK_INT(c.g[i].times, 1);
        CHECK_MSG(c.g[i].error == NULL, "%d: %s", i, c.g[i].error);
        CHECK(c.g[i].text && str_starts(c.g[i].text, i < 8 ? wp : wq));
    }
    cJSON *log = fake_server_log(&f);
    CHECK_MSG(fake_server_count_posts(log) == want_posts, "%s: %zu requests, want %zu",
              server_flag ? server_flag : "n honoured", fake_server_count_posts(log), want_posts);
    if (!server_flag) {
        /* choices 0..3 of each group are samples 0..3 and 4..7 */
        CHECK_STR(c.g[1].text + strlen(wp), " (choice 1)");
        CHECK_STR(c.g[4].text, wp);
        CHECK_STR(c.g[9].text + strlen(wq), " (choice 1)");
        CHECK_INT(c.g[0].completion_tokens, -1); /* shared by the choices: unknown per sample */
        CHECK(c.g[0].prompt_tokens > 0);
    }
    buf notes = BUF_INIT;
    runner_notes(r, &notes);
    CHECK_MSG((strstr(notes.data, "\"n\"") != NULL) == want_note, "notes: %s", notes.data);
    buf_release(&notes);
    free(wp);
    free(wq);
    cJSON_Delete(log);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

static void test_openai__n_per_request(void)
{
    /* honoured: groups of 4, 4, 2 */
    n_case(NULL, 3, false);
    /* ignored (Ollama): the first group gets one choice, everything after goes one by one */
    n_case("--ignore-n", 10, true);
    /* rejected (older llama.cpp): the refused request, then one each */
    n_case("--reject-n", 11, true);
}

/* ------------------------------------------------------------------------ */
/* Connections, pacing, stopping                                             */
/* ------------------------------------------------------------------------ */

static void test_openai__keep_alive(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.concurrency = 4;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    size_t n = 200;
    const char **contents = arena_calloc(&a, n, sizeof *contents);
    for (size_t i = 0; i < n; i++) contents[i] = arena_printf(&a, "keep %zu", i);
    gen_request *q = make_requests(&a, n, contents);
    collect c;
    collect_init(&c, n);
    CHECK_INT(runner_generate(r, q, n, on_done, &c, &e), 0);
    CHECK_INT(c.delivered, n);
    /* a second batch on the same runner reuses the same connections */
    collect c2;
    collect_init(&c2, n);
    CHECK_INT(runner_generate(r, q, n, on_done, &c2, &e), 0);
    cJSON *log = fake_server_log(&f);
    uint64_t max_conn = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, log)
    {
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(l, "conn");
        if (cJSON_IsNumber(cn) && cn->valuedouble > (double)max_conn)
            max_conn = (uint64_t)cn->valuedouble;
    }
    /* one connection for /models, then at most 4 for 400 requests */
    CHECK_MSG(max_conn <= 5, "%" PRIu64 " connections for %zu requests", max_conn, 2 * n);
    cJSON_Delete(log);
    collect_release(&c);
    collect_release(&c2);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

static void test_openai__rps(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.rps = 40;
    s.concurrency = 16;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    size_t n = 21;
    const char **contents = arena_calloc(&a, n, sizeof *contents);
    for (size_t i = 0; i < n; i++) contents[i] = arena_printf(&a, "paced %zu", i);
    gen_request *q = make_requests(&a, n, contents);
    collect c;
    collect_init(&c, n);
    CHECK_INT(runner_generate(r, q, n, on_done, &c, &e), 0);
    CHECK_INT(c.delivered, n);
    /* 21 requests at 40/s: the server sees the last at least 20 * 25 ms after the first */
    cJSON *log = fake_server_log(&f);
    double first = -1, last = -1;
    const cJSON *l;
    cJSON_ArrayForEach(l, log)
    {
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(l, "body"))) continue;
        double t = cJSON_GetObjectItemCaseSensitive(l, "t")->valuedouble;
        if (first < 0) first = t;
        last = t;
    }
    CHECK_MSG(last - first >= 0.48, "21 requests at 40 rps spread over %.3f s", last - first);
    cJSON_Delete(log);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* A callback that says stop, and a cancel flag: generate returns promptly,
 * abandoning what is in flight, and the runner is usable afterwards. */
static void test_openai__stop(void)
{
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    const char *args[] = {"--delay-ms", "100", NULL};
    if (fake_server_start(&f, args) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.concurrency = 4;
    volatile int cancel = 0;
    s.cancel = &cancel;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    size_t n = 40;
    const char **contents = arena_calloc(&a, n, sizeof *contents);
    for (size_t i = 0; i < n; i++) contents[i] = arena_printf(&a, "slow %zu", i);
    gen_request *q = make_requests(&a, n, contents);

    collect c;
    collect_init(&c, n);
    c.stop_after = 2;
    CHECK_INT(runner_generate(r, q, n, on_done, &c, &e), -1);
    CHECK_MSG(c.delivered == 2, "delivered %zu after the callback said stop", c.delivered);
    collect_release(&c);

    collect_init(&c, n);
    c.cancel = &cancel;
    CHECK_INT(runner_generate(r, q, n, on_done, &c, &e), ERR_INTERRUPTED);
    CHECK_MSG(c.delivered >= 1 && c.delivered <= 4, "delivered %zu after cancel", c.delivered);
    collect_release(&c);

    cancel = 0;
    collect_init(&c, 3);
    CHECK_INT(runner_generate(r, q, 3, on_done, &c, &e), 0);
    CHECK_INT(c.delivered, 3);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

/* ------------------------------------------------------------------------ */
/* 1000 requests, concurrency 32, 20% faults                                 */
/* ------------------------------------------------------------------------ */

typedef struct plan {
    const char *directive; /* "" for none */
    bool ok;
    int attempts;
    int kind;
} plan;

static void test_openai__thousand_with_faults(void)
{
    /* transient faults clear after `times` attempts; permanent ones never do */
    static const plan transient[] = {
        {"[[fault:429:retry-after=0:times=1]]", true, 2, 0},
        {"[[fault:500:times=2]]", true, 3, 0},
        {"[[fault:502:times=1]]", true, 2, 0},
        {"[[fault:503:times=1]]", true, 2, 0},
        {"[[fault:504:times=1]]", true, 2, 0},
        {"[[fault:drop:times=1]]", true, 2, 0},
        {"[[fault:dropmid:times=1]]", true, 2, 0},
        {"[[fault:badjson:times=1]]", true, 2, 0},
        {"[[fault:empty:times=1]]", true, 2, 0},
        {"[[fault:hang:times=1]]", true, 2, 0},
    };
    static const plan permanent[] = {
        {"[[fault:400]]", false, 1, GEN_ERR_API},   {"[[fault:404]]", false, 1, GEN_ERR_API},
        {"[[fault:422]]", false, 1, GEN_ERR_API},   {"[[fault:flat400]]", false, 1, GEN_ERR_API},
        {"[[fault:503]]", false, 3, GEN_ERR_API},   {"[[fault:badjson]]", false, 3, GEN_ERR_PARSE},
        {"[[fault:empty]]", false, 3, GEN_ERR_API},
    };
    fake_server f;
    runner_settings s;
    runner *r = NULL;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    if (fake_server_start(&f, NULL) < 0) {
        CHECK(0);
        return;
    }
    settings_for(&s, &f);
    s.concurrency = 32;
    s.max_retries = 2;
    s.timeout_s = 2;
    CHECK_INT(runner_open(&r, "openai", &s, &e), 0);
    size_t n = 1000;
    plan *want = arena_calloc(&a, n, sizeof *want);
    const char **contents = arena_calloc(&a, n, sizeof *contents);
    rng g;
    rng_seed(&g, 20260822);
    size_t n_transient = 0, n_permanent = 0;
    for (size_t i = 0; i < n; i++) {
        double u = rng_uniform(&g);
        if (u < 0.10) {
            want[i] = transient[rng_next(&g) % (sizeof transient / sizeof *transient)];
            n_transient++;
        } else if (u < 0.20) {
            want[i] = permanent[rng_next(&g) % (sizeof permanent / sizeof *permanent)];
            n_permanent++;
        } else {
            want[i] = (plan){"", true, 1, 0};
        }
        contents[i] = arena_printf(&a, "%s question %zu", want[i].directive, i);
    }
    gen_request *q = make_requests(&a, n, contents);
    collect c;
    collect_init(&c, n);
    CHECK_INT(runner_generate(r, q, n, on_done, &c, &e), 0);
    size_t ok = 0, failed = 0, bad = 0;
    long attempts = 0;
    for (size_t i = 0; i < n; i++) {
        got *gt = &c.g[i];
        attempts += gt->attempts;
        if (gt->times != 1 || gt->attempts != want[i].attempts) bad++;
        if (gt->error) {
            failed++;
            if (want[i].ok || gt->error_kind != want[i].kind) bad++;
        } else {
            ok++;
            char *t = expected_text(contents[i]);
            if (!want[i].ok || !gt->text || strcmp(gt->text, t) != 0) bad++;
            free(t);
        }
        if (bad && bad < 5 && (gt->times != 1 || gt->attempts != want[i].attempts))
            fprintf(stderr, "item %zu (%s): delivered %d, attempts %d (want %d), error %s\n", i,
                    want[i].directive, gt->times, gt->attempts, want[i].attempts,
                    gt->error ? gt->error : "-");
    }
    CHECK_INT(bad, 0);
    CHECK_INT(c.delivered, n);
    CHECK_INT(ok + failed, n);
    CHECK_INT(failed, n_permanent);
    CHECK(n_transient > 50 && n_permanent > 50);
    /* the server saw exactly the attempts the samples report */
    cJSON *log = fake_server_log(&f);
    CHECK_INT((long)fake_server_count_posts(log), attempts);
    cJSON_Delete(log);
    collect_release(&c);
    runner_close(r);
    CHECK_INT(fake_server_stop(&f), 0);
    arena_release(&a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_openai__open_checks);
    RUN(test_openai__no_models_endpoint);
    RUN(test_openai__models_answers);
    RUN(test_openai__describe);
    RUN(test_openai__chat_and_raw);
    RUN(test_openai__tools_round_trip);
    RUN(test_openai__tools_round_trip_streamed);
    RUN(test_openai__stream);
    RUN(test_openai__faults);
    RUN(test_openai__retry_after);
    RUN(test_openai__server_gone);
    RUN(test_openai__n_per_request);
    RUN(test_openai__keep_alive);
    RUN(test_openai__rps);
    RUN(test_openai__stop);
    RUN(test_openai__thousand_with_faults);
    return test_report();
}
