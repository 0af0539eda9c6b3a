/* test_chat.c: chat templates against every rendering in
 * fixtures/chat_templates/golden.json and tests/data/chat_cases.json (both
 * made with the official Jinja templates), family detection, stop strings,
 * and the tool-call parsers on good, partial and malformed output. */
#include "backends/chat.h"
#include "backends/pyjson.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* ---- rendering against goldens ---- */

/* JSON text of a value (Python-exact), or NULL for absent/null. */
static const char *json_text(const pyjson *v, arena *a)
{
    if (!v || v->kind == PYJSON_NULL) return NULL;
    buf b = BUF_INIT;
    pyjson_dump(v, -1, false, &b);
    char *s = arena_strdup(a, b.data);
    buf_release(&b);
    return s;
}

static const char *str_or_null(const pyjson *v)
{
    return v && v->kind == PYJSON_STRING ? v->str : NULL;
}

/* Renders every case of a golden file; returns the number that matched. */
static size_t run_golden_file(const char *path, size_t *total, size_t *skipped)
{
    buf text = BUF_INIT;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    size_t matched = 0;
    CHECK_MSG(file_read_all(path, &text, &e) == 0, "%s", e.msg);
    pyjson *root = NULL;
    CHECK_MSG(pyjson_parse(text.data, text.len, path, &a, &root, &e) == 0, "%s", e.msg);
    const pyjson *cases = pyjson_get(root, "cases");
    for (size_t i = 0; cases && i < cases->n; i++) {
        const pyjson *c = cases->items[i];
        const char *tname = str_or_null(pyjson_get(c, "template"));
        const char *cname = str_or_null(pyjson_get(c, "case"));
        const pyjson *rendered = pyjson_get(c, "rendered");
        (*total)++;
        enum chat_family f;
        if (chat_family_from_name(tname, &f, &e) < 0) {
            (*skipped)++;
            fprintf(stderr, "  skipped %s/%s: no built-in template of that name\n", tname, cname);
            continue;
        }
        const pyjson *ms = pyjson_get(c, "messages");
        chat_msg *msgs = arena_calloc(&a, ms->n ? ms->n : 1, sizeof *msgs);
        for (size_t k = 0; k < ms->n; k++) {
            const pyjson *m = ms->items[k];
            msgs[k].role = str_or_null(pyjson_get(m, "role"));
            msgs[k].content = str_or_null(pyjson_get(m, "content"));
            msgs[k].tool_calls = json_text(pyjson_get(m, "tool_calls"), &a);
            msgs[k].tool_call_id = str_or_null(pyjson_get(m, "tool_call_id"));
            msgs[k].reasoning = str_or_null(pyjson_get(m, "reasoning_content"));
        }
        chat_options o;
        chat_options_default(&o);
        o.add_generation_prompt = pyjson_truthy(pyjson_get(c, "add_generation_prompt"));
        o.tools = json_text(pyjson_get(c, "tools"), &a);
        o.date = "April 16, 2025"; /* the goldens' pinned strftime_now */
        buf out = BUF_INIT;
        int rc = chat_render(f, msgs, ms->n, &o, &out, &e);
        bool same = rc == 0 && rendered && out.len == rendered->len &&
                    memcmp(out.data, rendered->str, out.len) == 0;
        matched += same;
        CHECK_MSG(same, "%s %s/%s: rc %d %s\n  got:  \"%s\"\n  want: \"%s\"", path, tname, cname,
                  rc, rc ? e.msg : "", out.data, rendered ? rendered->str : "");
        buf_release(&out);
    }
    buf_release(&text);
    arena_release(&a);
    return matched;
}

static void test_chat__golden(void)
{
    buf path = BUF_INIT;
    path_join(&path, test_fixtures_dir(), "chat_templates/golden.json");
    size_t total = 0, skipped = 0;
    size_t matched = run_golden_file(path.data, &total, &skipped);
    fprintf(stderr, "  fixtures/chat_templates/golden.json: %zu/%zu match, %zu skipped\n", matched,
            total, skipped);
    CHECK_INT(total, 23);
    CHECK_INT(matched, total);
    buf_release(&path);
}

static void test_chat__more_cases(void)
{
    const char *src = getenv("TALLY_SRC");
    buf path = BUF_INIT;
    path_join(&path, src ? src : ".", "tests/data/chat_cases.json");
    size_t total = 0, skipped = 0;
    size_t matched = run_golden_file(path.data, &total, &skipped);
    fprintf(stderr, "  tests/data/chat_cases.json: %zu/%zu match, %zu skipped\n", matched, total,
            skipped);
    CHECK(total >= 40);
    CHECK_INT(matched, total);
    buf_release(&path);
}

/* ---- options and errors ---- */

static void test_chat__options(void)
{
    err e = ERR_INIT;
    buf out = BUF_INIT;
    chat_msg user[] = {{"user", "Hi", NULL, NULL, NULL}};
    chat_options o;
    chat_options_default(&o);
    o.assistant_prefix = "Sure";
    CHECK_INT(chat_render(CHAT_GRANITE_41, user, 1, &o, &out, &e), 0);
    CHECK_STR(out.data, "<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n"
                        "<|start_of_role|>assistant<|end_of_role|>Sure");
    buf_reset(&out);
    CHECK_INT(chat_render(CHAT_LING_20, user, 1, &o, &out, &e), 0);
    CHECK_STR(out.data, "<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>Hi"
                        "<|role_end|><role>ASSISTANT</role>Sure");
    buf_reset(&out);
    CHECK_INT(chat_render(CHAT_RAW, user, 1, &o, &out, &e), 0);
    CHECK_STR(out.data, "HiSure");
    /* a prefix without the generation prompt is refused, output untouched */
    buf_reset(&out);
    buf_puts(&out, "keep");
    o.add_generation_prompt = false;
    CHECK_INT(chat_render(CHAT_GRANITE_41, user, 1, &o, &out, &e), ERR_INVALID);
    CHECK_STR(out.data, "keep");
    /* Granite 3.3's date: pinned, or today's in the template's format */
    chat_options_default(&o);
    buf_reset(&out);
    CHECK_INT(chat_render(CHAT_GRANITE_33, user, 1, &o, &out, &e), 0);
    CHECK(strstr(out.data, "Today's Date: ") != NULL);
    const char *d = strstr(out.data, "Today's Date: ");
    CHECK(d && strstr(d, ", 20") && strstr(d, ". You are Granite"));
    o.date = "January 02, 2026";
    buf_reset(&out);
    CHECK_INT(chat_render(CHAT_GRANITE_33, user, 1, &o, &out, &e), 0);
    CHECK(strstr(out.data, "Today's Date: January 02, 2026. You are Granite") != NULL);
    /* bad input */
    CHECK_INT(chat_render(CHAT_LING_20, user, 0, &o, &out, &e), ERR_INVALID);
    chat_msg norole[] = {{NULL, "x", NULL, NULL, NULL}};
    CHECK_INT(chat_render(CHAT_LING_20, norole, 1, &o, &out, &e), ERR_INVALID);
    o.tools = "[{\"type\": \"function\",";
    CHECK_INT(chat_render(CHAT_LING_20, user, 1, &o, &out, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "tools") != NULL);
    o.tools = "{\"type\": \"function\"}";
    CHECK_INT(chat_render(CHAT_GRANITE_40, user, 1, &o, &out, &e), ERR_PARSE);
    o.tools = "null";
    buf_reset(&out);
    CHECK_INT(chat_render(CHAT_GRANITE_41, user, 1, &o, &out, &e), 0);
    CHECK(strstr(out.data, "<tools>") == NULL);
    o.tools = NULL;
    chat_msg badcall[] = {{"user", "x", NULL, NULL, NULL},
                          {"assistant", "", "[{\"function\": {\"name\": \"f\"}}]", NULL, NULL}};
    CHECK_INT(chat_render(CHAT_GRANITE_40, badcall, 2, &o, &out, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "arguments") != NULL);
    badcall[1].tool_calls = "[{\"name\": \"f\", \"arguments\": {}";
    CHECK_INT(chat_render(CHAT_LING_20, badcall, 2, &o, &out, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "message 1 tool_calls") != NULL);
    badcall[1].tool_calls = "[3]";
    CHECK_INT(chat_render(CHAT_LING_20, badcall, 2, &o, &out, &e), ERR_PARSE);
    buf_release(&out);
}

/* ---- family detection ---- */

static char *read_fixture(const char *rel)
{
    buf path = BUF_INIT, text = BUF_INIT;
    err e = ERR_INIT;
    path_join(&path, test_fixtures_dir(), rel);
    CHECK_MSG(file_read_all(path.data, &text, &e) == 0, "%s", e.msg);
    buf_release(&path);
    return buf_detach(&text, NULL);
}

static void test_chat__detect(void)
{
    static const struct {
        const char *file;
        enum chat_family f;
    } files[] = {
        {"chat_templates/ling2/ling-2.0.jinja", CHAT_LING_20},
        {"chat_templates/granite/ibm-granite-granite-3.3-2B-Instruct.jinja", CHAT_GRANITE_33},
        {"chat_templates/granite/ibm-granite-granite-4.0.jinja", CHAT_GRANITE_40},
        {"chat_templates/granite/ibm-granite-granite-4.1.jinja", CHAT_GRANITE_41},
    };
    err e = ERR_INIT;
    enum chat_family f;
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        char *t = read_fixture(files[i].file);
        f = CHAT_RAW;
        CHECK_INT(chat_family_detect(t, "granite", "whatever", &f, &e), 0);
        CHECK_MSG(f == files[i].f, "%s detected as %s", files[i].file, chat_family_name(f));
        free(t);
    }
    /* no template: architecture and name */
    CHECK_INT(chat_family_detect(NULL, "bailingmoe2", "Ling Flash 2.0", &f, &e), 0);
    CHECK_INT(f, CHAT_LING_20);
    CHECK_INT(chat_family_detect("", "granite", "Granite 4.1 8b", &f, &e), 0);
    CHECK_INT(f, CHAT_GRANITE_41);
    CHECK_INT(chat_family_detect(NULL, "granite", "granite-4.0-micro", &f, &e), 0);
    CHECK_INT(f, CHAT_GRANITE_40);
    CHECK_INT(chat_family_detect(NULL, "granitehybrid", "tiny", &f, &e), 0);
    CHECK_INT(f, CHAT_GRANITE_40);
    CHECK_INT(chat_family_detect(NULL, "granite", "granite-3.3-8b-instruct", &f, &e), 0);
    CHECK_INT(f, CHAT_GRANITE_33);
    CHECK_INT(chat_family_detect(NULL, "granite", "tiny-granite", &f, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "--chat-template") != NULL);
    CHECK_INT(chat_family_detect("{{ messages }}", "llama", NULL, &f, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "not one of the built-in") != NULL);
    CHECK_INT(chat_family_detect(NULL, NULL, NULL, &f, &e), ERR_NOTFOUND);
    /* names */
    CHECK_INT(chat_family_from_name("ling-2.0", &f, &e), 0);
    CHECK_INT(f, CHAT_LING_20);
    CHECK_INT(chat_family_from_name("granite-3.3", &f, &e), 0);
    CHECK_INT(f, CHAT_GRANITE_33);
    CHECK_INT(chat_family_from_name("chatml", &f, &e), ERR_NOTFOUND);
    CHECK(strstr(e.msg, "\"chatml\"") != NULL);
    for (int k = CHAT_RAW; k <= CHAT_LING_20; k++) {
        CHECK_INT(chat_family_from_name(chat_family_name((enum chat_family)k), &f, &e), 0);
        CHECK_INT(f, k);
    }
    /* from a GGUF: the fixture models carry no template */
    buf path = BUF_INIT;
    path_join(&path, test_fixtures_dir(), "models/tiny-ling.q4_0.gguf");
    gguf *g = NULL;
    CHECK_INT(gguf_open(&g, path.data, &e), 0);
    if (g) {
        CHECK_INT(chat_family_from_gguf(g, &f, &e), 0);
        CHECK_INT(f, CHAT_LING_20);
        gguf_close(g);
    }
    path_join(&path, test_fixtures_dir(), "models/tiny-granite.q4_0.gguf");
    CHECK_INT(gguf_open(&g, path.data, &e), 0);
    if (g) {
        CHECK_INT(chat_family_from_gguf(g, &f, &e), ERR_NOTFOUND);
        CHECK(strstr(e.msg, "tiny-granite.q4_0.gguf: cannot tell which Granite chat template") !=
              NULL);
        gguf_close(g);
    }
    /* a GGUF that carries the Granite 4.1 template */
    gguf_writer w = GGUF_WRITER_INIT;
    char *t41 = read_fixture("chat_templates/granite/ibm-granite-granite-4.1.jinja");
    gguf_writer_set_str(&w, "general.architecture", "granite");
    gguf_writer_set_str(&w, "tokenizer.chat_template", t41);
    buf img = BUF_INIT;
    CHECK_INT(gguf_writer_to_buf(&w, &img, &e), 0);
    CHECK_INT(gguf_open_mem(&g, img.data, img.len, "t41.gguf", &e), 0);
    if (g) {
        CHECK_INT(chat_family_from_gguf(g, &f, &e), 0);
        CHECK_INT(f, CHAT_GRANITE_41);
        gguf_close(g);
    }
    free(t41);
    buf_release(&img);
    gguf_writer_release(&w);
    buf_release(&path);
}

static void test_chat__stops(void)
{
    const char *const *s = chat_stop_strings(CHAT_LING_20);
    CHECK(s[0] && strcmp(s[0], "<|role_end|>") == 0 && s[1] && strcmp(s[1], "<|endoftext|>") == 0 &&
          !s[2]);
    for (int f = CHAT_GRANITE_33; f <= CHAT_GRANITE_41; f++) {
        s = chat_stop_strings((enum chat_family)f);
        CHECK(s[0] && strcmp(s[0], "<|end_of_text|>") == 0 && !s[1]);
    }
    CHECK(chat_stop_strings(CHAT_RAW)[0] == NULL);
    CHECK_INT(chat_tool_format_of(CHAT_LING_20), CHAT_TOOLS_HERMES);
    CHECK_INT(chat_tool_format_of(CHAT_GRANITE_33), CHAT_TOOLS_GRANITE3);
    CHECK_INT(chat_tool_format_of(CHAT_GRANITE_40), CHAT_TOOLS_GRANITE4);
    CHECK_INT(chat_tool_format_of(CHAT_GRANITE_41), CHAT_TOOLS_GRANITE4);
    CHECK_INT(chat_tool_format_of(CHAT_RAW), CHAT_TOOLS_NONE);
}

/* ---- tool-call parsing ---- */

typedef struct parse_case {
    int fmt;
    const char *text;
    size_t n_calls;
    const char *calls[3][2]; /* name, arguments */
    const char *content;     /* NULL = none */
    const char *problem;     /* substring, or NULL = none */
} parse_case;

static const parse_case parse_cases[] = {
    /* hermes (Ling 2.0) */
    {CHAT_TOOLS_HERMES,
     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
     1,
     {{"get_weather", "{\"city\": \"Paris\"}"}},
     NULL,
     NULL},
    {CHAT_TOOLS_HERMES,
     "Let me "
     "look.\n<tool_call>\n{\"name\":\"a\",\"arguments\":{\"x\":5.0,\"y\":[1,2],\"z\":\"\xc3\xa9\"}}"
     "\n"
     "</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>",
     2,
     {{"a", "{\"x\": 5.0, \"y\": [1, 2], \"z\": \"\xc3\xa9\"}"}, {"b", "{}"}},
     "Let me look.\n",
     NULL},
    /* an unclosed last block still counts */
    {CHAT_TOOLS_HERMES,
     "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"q\": 1}}\n",
     1,
     {{"a", "{\"q\": 1}"}},
     NULL,
     NULL},
    /* string arguments are dumped as a JSON string, as json.dumps does */
    {CHAT_TOOLS_HERMES,
     "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"q\\\": 1}\"}</tool_call>",
     1,
     {{"a", "\"{\\\"q\\\": 1}\""}},
     NULL,
     NULL},
    {CHAT_TOOLS_HERMES, "plain answer", 0, {{0}}, "plain answer", NULL},
    {CHAT_TOOLS_HERMES, "", 0, {{0}}, NULL, NULL},
    /* malformed: the whole text comes back as content */
    {CHAT_TOOLS_HERMES,
     "x<tool_call>\n{\"name\": \"a\", \"arguments\": {\"q\": }\n</tool_call>",
     0,
     {{0}},
     "x<tool_call>\n{\"name\": \"a\", \"arguments\": {\"q\": }\n</tool_call>",
     "invalid JSON"},
    {CHAT_TOOLS_HERMES,
     "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call><tool_call>{\"arguments\": "
     "{}}</tool_call>",
     0,
     {{0}},
     "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call><tool_call>{\"arguments\": "
     "{}}</tool_call>",
     "tool call 2: \"name\" is missing"},
    {CHAT_TOOLS_HERMES,
     "<tool_call>{\"name\": \"a\"}</tool_call>",
     0,
     {{0}},
     "<tool_call>{\"name\": \"a\"}</tool_call>",
     "\"arguments\" is missing"},
    {CHAT_TOOLS_HERMES, "<tool_call></tool_call>", 0, {{0}}, "<tool_call></tool_call>", "empty"},
    {CHAT_TOOLS_HERMES,
     "<tool_call>[1]</tool_call>",
     0,
     {{0}},
     "<tool_call>[1]</tool_call>",
     "not a JSON object"},
    {CHAT_TOOLS_HERMES,
     "<tool_call>{\"name\": 7, \"arguments\": {}}</tool_call>",
     0,
     {{0}},
     "<tool_call>{\"name\": 7, \"arguments\": {}}</tool_call>",
     "not a string"},
    {CHAT_TOOLS_HERMES, "<tool_call>", 0, {{0}}, "<tool_call>", "empty"},
    /* granite 3.x */
    {CHAT_TOOLS_GRANITE3,
     "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": "
     "\"n\", "
     "\"arguments\": {\"v\": 1e-5}}]",
     2,
     {{"get_weather", "{\"city\": \"Paris\"}"}, {"n", "{\"v\": 1e-05}"}},
     NULL,
     NULL},
    {CHAT_TOOLS_GRANITE3,
     "  \n[{\"name\": \"f\", \"arguments\": {}}]\n ",
     1,
     {{"f", "{}"}},
     NULL,
     NULL},
    {CHAT_TOOLS_GRANITE3,
     "<tool_call> [{\"name\": \"f\", \"arguments\": {}}]",
     1,
     {{"f", "{}"}},
     NULL,
     NULL},
    {CHAT_TOOLS_GRANITE3, "<|tool_call|>[]", 0, {{0}}, NULL, NULL},
    {CHAT_TOOLS_GRANITE3, "The answer is 4.", 0, {{0}}, "The answer is 4.", NULL},
    {CHAT_TOOLS_GRANITE3,
     "<|tool_call|>[{\"name\": \"f\", \"arguments\": {}}",
     0,
     {{0}},
     "<|tool_call|>[{\"name\": \"f\", \"arguments\": {}}",
     "invalid JSON"},
    {CHAT_TOOLS_GRANITE3,
     "<|tool_call|>[{\"name\": \"f\", \"arguments\": {}}] trailing",
     0,
     {{0}},
     "<|tool_call|>[{\"name\": \"f\", \"arguments\": {}}] trailing",
     "extra data"},
    {CHAT_TOOLS_GRANITE3,
     "<|tool_call|>[{\"name\": \"f\"}]",
     0,
     {{0}},
     "<|tool_call|>[{\"name\": \"f\"}]",
     "\"arguments\" is missing"},
    {CHAT_TOOLS_GRANITE3,
     "<|tool_call|>{\"name\": \"f\", \"arguments\": {}}",
     0,
     {{0}},
     "<|tool_call|>{\"name\": \"f\", \"arguments\": {}}",
     NULL},
    /* granite 4.x */
    {CHAT_TOOLS_GRANITE4,
     "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\": "
     "\"Boston\"}}\n</tool_call>",
     1,
     {{"get_current_weather", "{\"city\": \"Boston\"}"}},
     NULL,
     NULL},
    {CHAT_TOOLS_GRANITE4,
     "Checking.\n<tool_call>\n{\"name\": \"a\", \"arguments\": \"{\\\"k\\\": "
     "1}\"}\n</tool_call>\nthen\n"
     "<tool_call>{\"name\": \"b\", \"arguments\": {\"x\": [true, null]}}</tool_call>\n",
     2,
     {{"a", "{\"k\": 1}"}, {"b", "{\"x\": [true, null]}"}},
     "Checking.\n\nthen",
     NULL},
    {CHAT_TOOLS_GRANITE4,
     "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}\n</tool_call>",
     0,
     {{0}},
     "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}\n</tool_call>",
     "tool call 1"},
    {CHAT_TOOLS_GRANITE4, "no calls here", 0, {{0}}, "no calls here", NULL},
    {CHAT_TOOLS_NONE, "<tool_call>{}</tool_call>", 0, {{0}}, "<tool_call>{}</tool_call>", NULL},
};

static void test_chat__parse_tool_calls(void)
{
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        const parse_case *pc = &parse_cases[i];
        arena a = ARENA_INIT;
        err e = ERR_INIT;
        chat_parsed p;
        CHECK_INT(chat_parse_tool_calls((enum chat_tool_format)pc->fmt, pc->text, strlen(pc->text),
                                        &a, &p, &e),
                  0);
        CHECK_MSG(p.n_calls == pc->n_calls, "case %zu: %zu calls, want %zu (%s)", i, p.n_calls,
                  pc->n_calls, p.problem ? p.problem : "");
        for (size_t k = 0; k < p.n_calls && k < pc->n_calls; k++) {
            CHECK_STR(p.calls[k].name, pc->calls[k][0]);
            CHECK_STR(p.calls[k].arguments, pc->calls[k][1]);
        }
        if (pc->content)
            CHECK_STR(p.content, pc->content);
        else
            CHECK_MSG(p.content == NULL, "case %zu: content \"%s\"", i, p.content);
        if (pc->problem)
            CHECK_MSG(p.problem && strstr(p.problem, pc->problem),
                      "case %zu: problem \"%s\", want \"%s\"", i, p.problem ? p.problem : "(none)",
                      pc->problem);
        else
            CHECK_MSG(p.problem == NULL, "case %zu: problem \"%s\"", i, p.problem);
        arena_release(&a);
    }
    arena a = ARENA_INIT;
    err e = ERR_INIT;
    chat_parsed p;
    CHECK_INT(chat_parse_tool_calls((enum chat_tool_format)42, "x", 1, &a, &p, &e), ERR_INVALID);
    CHECK_INT(chat_parse_tool_calls(CHAT_TOOLS_HERMES, NULL, 0, &a, &p, &e), 0);
    CHECK(p.n_calls == 0 && p.content == NULL);
    arena_release(&a);
}

/* Every prefix of a well-formed output parses without a crash: a partial
 * block is either a call (unclosed but complete JSON) or reported. */
static void test_chat__parse_prefixes(void)
{
    const char *full =
        "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, 2.5, \"x\"]}}\n"
        "</tool_call>\n<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>";
    static const int fmts[] = {CHAT_TOOLS_HERMES, CHAT_TOOLS_GRANITE4, CHAT_TOOLS_GRANITE3};
    for (size_t f = 0; f < ARRAY_LEN(fmts); f++) {
        size_t with_calls = 0, reported = 0;
        for (size_t n = 0; n <= strlen(full); n++) {
            char *t = malloc(n + 1);
            memcpy(t, full, n);
            t[n] = 0;
            arena a = ARENA_INIT;
            err e = ERR_INIT;
            chat_parsed p;
            CHECK_INT(chat_parse_tool_calls((enum chat_tool_format)fmts[f], t, n, &a, &p, &e), 0);
            with_calls += p.n_calls > 0;
            reported += p.problem != NULL;
            /* no calls means the text is all content */
            if (!p.n_calls)
                CHECK(n == 0 ? p.content == NULL : (p.content && strcmp(p.content, t) == 0));
            CHECK(!(p.n_calls && p.problem));
            arena_release(&a);
            free(t);
        }
        if (fmts[f] != CHAT_TOOLS_GRANITE3)
            CHECK(with_calls > 0 && reported > 0);
        else
            CHECK(with_calls == 0); /* not the Granite 3 format */
    }
}

int main(void)
{
    RUN(test_chat__golden);
    RUN(test_chat__more_cases);
    RUN(test_chat__options);
    RUN(test_chat__detect);
    RUN(test_chat__stops);
    RUN(test_chat__parse_tool_calls);
    RUN(test_chat__parse_prefixes);
    return test_report();
}
