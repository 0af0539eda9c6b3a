/* test_openai_wire.c: the OpenAI wire format (runners/openai_wire.h) against
 * the case files in tests/cases/openai/, the bad paths (every prefix and
 * bit flip of every answer), error bodies, Retry-After, stop cuts, and the
 * run summary figures (runners/genstats.h). */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"
#include "runners/genstats.h"
#include "runners/openai_wire.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* Case files                                                                */
/* ------------------------------------------------------------------------ */

enum { S_REQUEST, S_OPTIONS, S_BODY, S_REPLY, S_REPLY_SSE, S_STYLE, S_EXPECT, S_COUNT };
static const char *const section_names[S_COUNT] = {"request",   "options", "body",  "reply",
                                                   "reply-sse", "style",   "expect"};

typedef struct tcase {
    char name[256];
    char *sec[S_COUNT]; /* malloc'd, NULL when absent */
} tcase;

static void tcase_release(tcase *c)
{
    for (int i = 0; i < S_COUNT; i++) free(c->sec[i]);
    memset(c, 0, sizeof *c);
}

static int tcase_load(const char *path, tcase *c)
{
    buf data = BUF_INIT, cur = BUF_INIT;
    err e = ERR_INIT;
    int which = -1;
    memset(c, 0, sizeof *c);
    const char *slash = strrchr(path, '/');
    snprintf(c->name, sizeof c->name, "%s", slash ? slash + 1 : path);
    if (file_read_all(path, &data, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    line_iter it = line_iter_start(data.data, data.len);
    const char *l;
    size_t n;
    int ret = 0;
    for (;;) {
        bool more = line_iter_next(&it, &l, &n);
        if (!more || (n > 4 && memcmp(l, "=== ", 4) == 0)) {
            if (which >= 0) c->sec[which] = buf_detach(&cur, NULL);
            if (!more) break;
            which = -1;
            for (int i = 0; i < S_COUNT; i++)
                if (n - 4 == strlen(section_names[i]) && !memcmp(l + 4, section_names[i], n - 4))
                    which = i;
            if (which < 0) {
                fprintf(stderr, "%s:%zu: unknown section\n", path, it.lineno);
                ret = -1;
                break;
            }
            continue;
        }
        if (which >= 0) {
            buf_append(&cur, l, n);
            buf_putc(&cur, '\n');
        }
    }
    buf_release(&cur);
    buf_release(&data);
    return ret;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *k, double d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : d;
}

/* A JSON value as text in the arena (strings as they are), or NULL. */
static const char *text_of(arena *a, const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) return NULL;
    if (cJSON_IsString(v)) return arena_strdup(a, v->valuestring);
    char *t = cJSON_PrintUnformatted(v);
    const char *r = arena_strdup(a, t);
    free(t);
    return r;
}

/* Fills a gen_request (and its prompt) from a case's "request" section. */
static void request_from_json(const cJSON *j, arena *a, gen_request *q, prompt *p)
{
    memset(q, 0, sizeof *q);
    memset(p, 0, sizeof *p);
    q->p = p;
    q->item_id = text_of(a, cJSON_GetObjectItemCaseSensitive(j, "item_id"));
    q->sample = (int)num_of(j, "sample", 0);
    q->max_tokens = (int)num_of(j, "max_tokens", 0);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "sampling");
    q->sampling.temperature = num_of(s, "temperature", 0);
    q->sampling.top_p = num_of(s, "top_p", 1);
    q->sampling.top_k = (int)num_of(s, "top_k", 0);
    q->sampling.min_p = num_of(s, "min_p", 0);
    q->sampling.repetition_penalty = num_of(s, "repetition_penalty", 1);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(s, "seed");
    q->sampling.seed = cJSON_IsString(seed) ? strtoull(seed->valuestring, NULL, 10)
                                            : (uint64_t)num_of(s, "seed", 0);
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    p->text = text_of(a, cJSON_GetObjectItemCaseSensitive(pj, "text"));
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(pj, "messages");
    if (cJSON_IsArray(msgs)) {
        size_t n = (size_t)cJSON_GetArraySize(msgs);
        chat_message *m = arena_calloc(a, n, sizeof *m);
        const cJSON *mj;
        size_t i = 0;
        cJSON_ArrayForEach(mj, msgs)
        {
            m[i].role = text_of(a, cJSON_GetObjectItemCaseSensitive(mj, "role"));
            m[i].content = text_of(a, cJSON_GetObjectItemCaseSensitive(mj, "content"));
            m[i].tool_calls = text_of(a, cJSON_GetObjectItemCaseSensitive(mj, "tool_calls"));
            m[i].tool_call_id = text_of(a, cJSON_GetObjectItemCaseSensitive(mj, "tool_call_id"));
            i++;
        }
        p->messages = m;
        p->n_messages = n;
    }
    p->assistant_prefix = text_of(a, cJSON_GetObjectItemCaseSensitive(pj, "assistant_prefix"));
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(pj, "stop");
    if (cJSON_IsArray(stop)) {
        size_t n = (size_t)cJSON_GetArraySize(stop);
        const char **st = arena_calloc(a, n, sizeof *st);
        for (size_t i = 0; i < n; i++) st[i] = text_of(a, cJSON_GetArrayItem(stop, (int)i));
        p->stop = st;
        p->n_stop = n;
    }
    p->tools = text_of(a, cJSON_GetObjectItemCaseSensitive(pj, "tools"));
    p->tool_choice = text_of(a, cJSON_GetObjectItemCaseSensitive(pj, "tool_choice"));
}

static cJSON *reply_to_json(const wire_reply *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "prompt_tokens", r->prompt_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", r->completion_tokens);
    cJSON *chs = cJSON_AddArrayToObject(o, "choices");
    for (size_t i = 0; i < r->n_choices; i++) {
        const wire_choice *c = &r->choices[i];
        cJSON *cj = cJSON_CreateObject();
        cJSON_AddNumberToObject(cj, "index", c->index);
        cJSON_AddStringToObject(cj, "text", c->text);
        if (c->reasoning)
            cJSON_AddStringToObject(cj, "reasoning", c->reasoning);
        else
            cJSON_AddNullToObject(cj, "reasoning");
        if (c->finish_reason)
            cJSON_AddStringToObject(cj, "finish_reason", c->finish_reason);
        else
            cJSON_AddNullToObject(cj, "finish_reason");
        cJSON *tcs = cJSON_AddArrayToObject(cj, "tool_calls");
        for (size_t k = 0; k < c->n_tool_calls; k++) {
            cJSON *t = cJSON_CreateObject();
            if (c->tool_calls[k].id)
                cJSON_AddStringToObject(t, "id", c->tool_calls[k].id);
            else
                cJSON_AddNullToObject(t, "id");
            cJSON_AddStringToObject(t, "name", c->tool_calls[k].name);
            cJSON_AddStringToObject(t, "arguments", c->tool_calls[k].arguments);
            cJSON_AddItemToArray(tcs, t);
        }
        cJSON_AddItemToArray(chs, cj);
    }
    return o;
}

static void check_json_equal(const char *name, const char *what, const cJSON *want,
                             const cJSON *got)
{
    bool same = cJSON_Compare(want, got, 1);
    if (!same) {
        char *a = cJSON_PrintUnformatted(want), *b = cJSON_PrintUnformatted(got);
        CHECK_MSG(same, "%s: %s differs\n  want %s\n  got  %s", name, what, a, b);
        free(a);
        free(b);
    } else {
        CHECK(same);
    }
}

static void run_case(const char *dir, const char *file, size_t *n_run)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tcase c;
    if (tcase_load(path, &c) < 0) {
        CHECK_MSG(0, "%s: cannot load", path);
        return;
    }
    arena a = ARENA_INIT;
    gen_request q;
    prompt p;
    int style = WIRE_CHAT;
    err e = ERR_INIT;
    (*n_run)++;
    if (c.sec[S_STYLE] && str_starts(c.sec[S_STYLE], "completions")) style = WIRE_COMPLETIONS;
    if (c.sec[S_REQUEST]) {
        cJSON *rj = cJSON_Parse(c.sec[S_REQUEST]);
        CHECK_MSG(rj != NULL, "%s: the request section is not JSON", c.name);
        request_from_json(rj, &a, &q, &p);
        cJSON_Delete(rj);
        CHECK_INT(wire_style_of(&p, &style, &e), 0);
    }
    if (c.sec[S_BODY]) {
        CHECK_MSG(c.sec[S_REQUEST] != NULL, "%s: a body needs a request", c.name);
        cJSON *oj = cJSON_Parse(c.sec[S_OPTIONS] ? c.sec[S_OPTIONS] : "{}");
        wire_options wo = {.model = str_of(oj, "model"),
                           .stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(oj, "stream")),
                           .extra = cJSON_GetObjectItemCaseSensitive(oj, "extra")};
        int n = (int)num_of(oj, "n", 1);
        buf body = BUF_INIT;
        int rc = wire_build_body(&wo, &q, n, &body, &e);
        CHECK_MSG(rc == 0, "%s: build failed: %s", c.name, e.msg);
        cJSON *got = cJSON_Parse(body.data), *want = cJSON_Parse(c.sec[S_BODY]);
        CHECK_MSG(want != NULL, "%s: the body section is not JSON", c.name);
        check_json_equal(c.name, "request body", want, got);
        /* the seed is written exactly, never through a double */
        char seed[48];
        snprintf(seed, sizeof seed, "\"seed\":%" PRIu64 ",", q.sampling.seed);
        CHECK_MSG(strstr(body.data, seed) != NULL, "%s: %s not in %s", c.name, seed, body.data);
        cJSON_Delete(got);
        cJSON_Delete(want);
        cJSON_Delete(oj);
        buf_release(&body);
    }
    const char *reply = c.sec[S_REPLY] ? c.sec[S_REPLY] : c.sec[S_REPLY_SSE];
    if (reply) {
        bool sse = c.sec[S_REPLY_SSE] != NULL;
        cJSON *want = cJSON_Parse(c.sec[S_EXPECT] ? c.sec[S_EXPECT] : "");
        CHECK_MSG(want != NULL, "%s: the expect section is missing or not JSON", c.name);
        wire_reply r;
        err_clear(&e);
        int rc = wire_parse_reply(reply, strlen(reply), style, sse, &r, &e);
        const char *want_err = str_of(want, "error");
        if (want_err) {
            int code = !strcmp(want_err, "ERR_HTTP") ? ERR_HTTP : ERR_PARSE;
            CHECK_MSG(rc == code, "%s: got %d (%s), want %s", c.name, rc, e.msg, want_err);
            const char *sub = str_of(want, "message");
            CHECK_MSG(!sub || strstr(e.msg, sub), "%s: message \"%s\" lacks \"%s\"", c.name, e.msg,
                      sub);
            CHECK(r.n_choices == 0 && r.choices == NULL);
        } else {
            CHECK_MSG(rc == 0, "%s: parse failed: %s", c.name, e.msg);
            cJSON *got = reply_to_json(&r);
            check_json_equal(c.name, "reply", want, got);
            cJSON_Delete(got);
        }
        wire_reply_release(&r);
        cJSON_Delete(want);
    }
    tcase_release(&c);
    arena_release(&a);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the case files (sorted). */
static size_t list_cases(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    *out = NULL;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!str_ends(de->d_name, ".case")) continue;
        *out = realloc(*out, (n + 1) * sizeof **out);
        (*out)[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(*out, n, sizeof **out, cmp_str);
    return n;
}

static const char *cases_dir(void)
{
    static char dir[1024];
    const char *src = getenv("TALLY_SRC");
    snprintf(dir, sizeof dir, "%s/tests/cases/openai", src ? src : ".");
    return dir;
}

static void test_openai_wire__cases(void)
{
    char **files;
    size_t n = list_cases(cases_dir(), &files), ran = 0;
    CHECK_MSG(n >= 20, "only %zu case files in %s", n, cases_dir());
    for (size_t i = 0; i < n; i++) {
        run_case(cases_dir(), files[i], &ran);
        free(files[i]);
    }
    free(files);
    CHECK_INT(ran, n);
}

/* Every prefix and every single-bit flip of every case's answer reads as an
 * answer or fails with ERR_PARSE/ERR_HTTP: no crash, no leak, no other code. */
static void test_openai_wire__prefixes_and_flips(void)
{
    char **files;
    size_t n = list_cases(cases_dir(), &files);
    size_t tried = 0, strict_prefix_ok = 0;
    for (size_t f = 0; f < n; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", cases_dir(), files[f]);
        tcase c;
        if (tcase_load(path, &c) < 0) continue;
        bool sse = c.sec[S_REPLY_SSE] != NULL;
        const char *reply = sse ? c.sec[S_REPLY_SSE] : c.sec[S_REPLY];
        if (!reply) {
            tcase_release(&c);
            free(files[f]);
            continue;
        }
        size_t len = strlen(reply);
        char *copy = malloc(len + 1);
        for (size_t k = 0; k <= len; k++) {
            /* the prefix as its own allocation, so ASan sees any read past it */
            char *pre = malloc(k ? k : 1);
            memcpy(pre, reply, k);
            wire_reply r;
            err e = ERR_INIT;
            int rc = wire_parse_reply(pre, k, WIRE_CHAT, sse, &r, &e);
            CHECK_MSG(rc == 0 || rc == ERR_PARSE || rc == ERR_HTTP, "%s: prefix %zu: rc %d", c.name,
                      k, rc);
            /* a strict prefix of a JSON body (ignoring trailing whitespace) never reads */
            size_t real = len;
            while (real && (reply[real - 1] == '\n' || reply[real - 1] == ' ')) real--;
            if (!sse && k < real && rc == 0) strict_prefix_ok++;
            wire_reply_release(&r);
            free(pre);
            tried++;
        }
        for (size_t k = 0; k < len; k++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(copy, reply, len + 1);
                copy[k] ^= (char)(1 << bit);
                wire_reply r;
                err e = ERR_INIT;
                int rc = wire_parse_reply(copy, len, WIRE_CHAT, sse, &r, &e);
                CHECK_MSG(rc == 0 || rc == ERR_PARSE || rc == ERR_HTTP, "%s: flip %zu.%d: rc %d",
                          c.name, k, bit, rc);
                wire_reply_release(&r);
                tried++;
            }
        }
        free(copy);
        tcase_release(&c);
        free(files[f]);
    }
    free(files);
    CHECK_INT(strict_prefix_ok, 0);
    CHECK(tried > 10000);
}

/* ------------------------------------------------------------------------ */
/* Request bodies: the bad paths                                             */
/* ------------------------------------------------------------------------ */

static void test_openai_wire__build_errors(void)
{
    chat_message m = {.role = "user", .content = "hi"};
    prompt p = {.messages = &m, .n_messages = 1, .tools = "[{\"type\": \"function\""};
    gen_request q = {.item_id = "bfcl_7", .p = &p, .max_tokens = 8};
    wire_options o = {.model = "m"};
    buf b = BUF_INIT;
    err e = ERR_INIT;
    CHECK_INT(wire_build_body(&o, &q, 1, &b, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "bfcl_7") && strstr(e.msg, "tools"));
    CHECK_INT(b.len, 0);
    p.tools = NULL;
    m.tool_calls = "not json";
    CHECK_INT(wire_build_body(&o, &q, 1, &b, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "tool_calls") != NULL);
    m.tool_calls = NULL;
    /* neither text nor messages, and both */
    prompt empty = {0};
    q.p = &empty;
    CHECK_INT(wire_build_body(&o, &q, 1, &b, &e), ERR_INVALID);
    prompt both = {.text = "x", .messages = &m, .n_messages = 1};
    q.p = &both;
    CHECK_INT(wire_build_body(&o, &q, 1, &b, &e), ERR_INVALID);
    /* no model */
    q.p = &p;
    wire_options nomodel = {0};
    CHECK_INT(wire_build_body(&nomodel, &q, 1, &b, &e), ERR_INVALID);
    /* a body past the buffer's cap */
    buf small;
    buf_init(&small, 16);
    CHECK_INT(wire_build_body(&o, &q, 1, &small, &e), ERR_LIMIT);
    buf_release(&small);
    /* max_tokens <= 0 leaves the field out; tools are not sent to /completions */
    prompt raw = {.text = "x", .tools = "[]"};
    q.p = &raw;
    q.max_tokens = 0;
    CHECK_INT(wire_build_body(&o, &q, 1, &b, &e), 0);
    CHECK(strstr(b.data, "max_tokens") == NULL && strstr(b.data, "tools") == NULL);
    CHECK(strstr(b.data, "\"prompt\":\"x\"") != NULL);
    CHECK_STR(wire_path(WIRE_CHAT), "/chat/completions");
    CHECK_STR(wire_path(WIRE_COMPLETIONS), "/completions");
    buf_release(&b);
}

/* ------------------------------------------------------------------------ */
/* Errors, Retry-After, stop strings                                         */
/* ------------------------------------------------------------------------ */

static void check_msg(const char *body, size_t max, const char *want)
{
    buf b = BUF_INIT;
    CHECK_INT(wire_error_message(body, strlen(body), max, &b), 0);
    CHECK_STR(b.data, want);
    buf_release(&b);
}

static void test_openai_wire__error_messages(void)
{
    /* nested (OpenAI, newer vLLM, llama.cpp, Ollama) */
    check_msg("{\"error\": {\"message\": \"Loading model\", \"type\": \"unavailable_error\", "
              "\"code\": 503}}",
              400, "Loading model (unavailable_error, 503)");
    /* flat (older vLLM, SGLang) */
    check_msg("{\"object\": \"error\", \"message\": \"This model's maximum context length is "
              "4096 tokens.\", \"type\": \"BadRequestError\", \"param\": null, \"code\": 400}",
              400, "This model's maximum context length is 4096 tokens. (BadRequestError, 400)");
    /* Ollama's queue */
    check_msg("{\"error\": {\"message\": \"server busy, please try again.  maximum pending "
              "requests exceeded\", \"type\": \"api_error\"}}",
              400, "server busy, please try again. maximum pending requests exceeded (api_error)");
    check_msg("{\"error\": \"model 'x' not found\"}", 400, "model 'x' not found");
    check_msg("{\"detail\": \"Not Found\"}", 400, "Not Found");
    check_msg("{\"detail\": [{\"loc\": [\"body\", \"n\"], \"msg\": \"Input should be less than "
              "129\"}]}",
              400, "Input should be less than 129");
    check_msg("<html>\r\n<body>502 Bad\tGateway</body>\n</html>\n", 400,
              "<html> <body>502 Bad Gateway</body> </html>");
    check_msg("", 400, "(empty body)");
    check_msg("{\"error\": {\"message\": \"\"}}", 400, "{\"error\": {\"message\": \"\"}}");
    /* the cap keeps UTF-8 whole: "é" is two bytes */
    check_msg("aaaaéééé", 9, "aaaaé...");
    check_msg("aaaaaéééé", 9, "aaaaa...");
}

static void test_openai_wire__retry_after(void)
{
    time_t now = 1735142223; /* Wed, 25 Dec 2024 15:57:03 GMT */
    CHECK_NEAR(wire_retry_after(NULL, "2", now), 2.0, 1e-9);
    CHECK_NEAR(wire_retry_after(NULL, " 1.5 \r\n", now), 1.5, 1e-9);
    CHECK_NEAR(wire_retry_after("250", "7", now), 0.25, 1e-9);
    CHECK_NEAR(wire_retry_after("soon", "7", now), 7.0, 1e-9);
    CHECK_NEAR(wire_retry_after(NULL, "Wed, 25 Dec 2024 15:57:13 GMT", now), 10.0, 1e-9);
    CHECK_NEAR(wire_retry_after(NULL, "Wed, 25 Dec 2024 15:00:00 GMT", now), 0.0, 1e-9);
    CHECK(wire_retry_after(NULL, "-3", now) < 0);
    CHECK(wire_retry_after(NULL, "later", now) < 0);
    CHECK(wire_retry_after(NULL, "", now) < 0);
    CHECK(wire_retry_after(NULL, "1e999", now) < 0);
    CHECK(wire_retry_after(NULL, NULL, now) < 0);
    long yes[] = {408, 429, 500, 502, 503, 504};
    long no[] = {200, 400, 401, 403, 404, 409, 422, 501, 505};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) CHECK(wire_status_retryable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) CHECK(!wire_status_retryable(no[i]));
}

static void test_openai_wire__cut_stop(void)
{
    const char *stops[] = {"Question:", "", "\n\n", NULL};
    char t1[] = "The answer is 4.\n\nQuestion: next";
    CHECK(wire_cut_stop(t1, stops, 4));
    CHECK_STR(t1, "The answer is 4.");
    char t2[] = "Question: at the start";
    CHECK(wire_cut_stop(t2, stops, 4));
    CHECK_STR(t2, "");
    char t3[] = "nothing to cut";
    CHECK(!wire_cut_stop(t3, stops, 4));
    CHECK_STR(t3, "nothing to cut");
    CHECK(!wire_cut_stop(t3, NULL, 0));
}

/* ------------------------------------------------------------------------ */
/* Summary figures                                                           */
/* ------------------------------------------------------------------------ */

static void test_openai_wire__genstats(void)
{
    gen_stats st = GEN_STATS_INIT;
    /* latencies 10, 20, ..., 100 ms; 1 error; 3 retries; 5 tokens each */
    for (int i = 10; i >= 1; i--) {
        gen_response r;
        memset(&r, 0, sizeof r);
        r.latency_ms = i * 10.0;
        r.attempts = i == 3 ? 4 : 1;
        r.prompt_tokens = 2;
        r.completion_tokens = i == 5 ? -1 : 5;
        r.error = i == 7 ? "HTTP 400: bad" : NULL;
        CHECK_INT(gen_stats_add(&st, &r), 0);
    }
    cJSON *rec = cJSON_Parse("{\"id\": \"a\", \"latency_ms\": 110, \"attempts\": 2, "
                             "\"prompt_tokens\": 3, \"completion_tokens\": 7}");
    CHECK_INT(gen_stats_add_record(&st, rec), 0);
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"id\": \"b\", \"error\": \"timeout\"}"); /* no latency, attempts 1 */
    CHECK_INT(gen_stats_add_record(&st, rec), 0);
    cJSON_Delete(rec);
    gen_summary g;
    gen_stats_summary(&st, 2.0, &g);
    CHECK_INT(g.n, 12);
    CHECK_INT(g.errors, 2);
    CHECK_INT(g.retries, 4);
    CHECK_INT(g.prompt_tokens, 23);
    CHECK_INT(g.completion_tokens, 52);
    CHECK_NEAR(g.requests_per_s, 6.0, 1e-9);
    CHECK_NEAR(g.tokens_per_s, 26.0, 1e-9);
    /* 11 latencies 10..110: median 60; p95 at rank 9.5 -> 105 */
    CHECK_NEAR(g.p50_ms, 60.0, 1e-9);
    CHECK_NEAR(g.p95_ms, 105.0, 1e-9);
    buf line = BUF_INIT;
    CHECK_INT(gen_stats_format(&st, 2.0, &line), 0);
    CHECK_STR(line.data, "12 requests in 2.00 s: 6.0 req/s, 26 tok/s; latency p50 60.0 ms, "
                         "p95 105.0 ms; 4 retries, 2 errors");
    buf_release(&line);
    gen_stats_release(&st);
    /* nothing counted: no latency part, no division by zero */
    gen_stats none = GEN_STATS_INIT;
    CHECK_INT(gen_stats_format(&none, 0, &line), 0);
    CHECK_STR(line.data, "0 requests in 0.00 s: 0.0 req/s, 0 tok/s; 0 retries, 0 errors");
    buf_release(&line);
    gen_stats_release(&none);
}

int main(void)
{
    RUN(test_openai_wire__cases);
    RUN(test_openai_wire__prefixes_and_flips);
    RUN(test_openai_wire__build_errors);
    RUN(test_openai_wire__error_messages);
    RUN(test_openai_wire__retry_after);
    RUN(test_openai_wire__cut_stop);
    RUN(test_openai_wire__genstats);
    return test_report();
}
