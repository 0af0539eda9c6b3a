/* chat.c: the Granite 3.3 / 4.0 / 4.1 and Ling 2.0 chat templates written out
 * in C, and the server-style tool-call parsers. */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/pyjson.h"
#include "common/utf8.h"
#include "common/util.h"

/* ---- families ---- */

/* To add a family: a row here, a renderer below, stop strings, a parser. */
static const struct {
    const char *name;
    enum chat_family f;
} family_names[] = {
    {"raw", CHAT_RAW},
    {"granite-3.3", CHAT_GRANITE_33},
    {"granite-3", CHAT_GRANITE_33},
    {"granite-4.0", CHAT_GRANITE_40},
    {"granite-4.1", CHAT_GRANITE_41},
    {"ling-2.0", CHAT_LING_20},
    {"ling", CHAT_LING_20},
};

void chat_options_default(chat_options *o)
{
    o->add_generation_prompt = true;
    o->tools = NULL;
    o->assistant_prefix = NULL;
    o->date = NULL;
}

int chat_family_from_name(const char *name, enum chat_family *out, err *e)
{
    for (size_t i = 0; name && i < sizeof family_names / sizeof *family_names; i++) {
        if (strcmp(family_names[i].name, name) == 0) {
            *out = family_names[i].f;
            return 0;
        }
    }
    return err_set(e, ERR_NOTFOUND,
                   "unknown chat template \"%s\" (known: granite-3.3, granite-4.0, granite-4.1, "
                   "ling-2.0, raw)",
                   name ? name : "(null)");
}

const char *chat_family_name(enum chat_family f)
{
    switch (f) {
    case CHAT_GRANITE_33:
        return "granite-3.3";
    case CHAT_GRANITE_40:
        return "granite-4.0";
    case CHAT_GRANITE_41:
        return "granite-4.1";
    case CHAT_LING_20:
        return "ling-2.0";
    default:
        return "raw";
    }
}

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

int chat_family_detect(const char *tmpl, const char *arch, const char *model_name,
                       enum chat_family *out, err *e)
{
    /* distinctive pieces of the official templates (MODELS.md 2) */
    if (has(tmpl, "<role>HUMAN</role>") && has(tmpl, "<|role_end|>")) {
        *out = CHAT_LING_20;
        return 0;
    }
    if (has(tmpl, "<|start_of_role|>")) {
        if (has(tmpl, "g4_default_system_message"))
            *out = CHAT_GRANITE_40;
        else if (has(tmpl, "<tool_call>"))
            *out = CHAT_GRANITE_41;
        else
            *out = CHAT_GRANITE_33;
        return 0;
    }
    if (!tmpl || !*tmpl) {
        /* no template: the architecture and the model's name */
        if (arch && (strcmp(arch, "bailingmoe2") == 0)) {
            *out = CHAT_LING_20;
            return 0;
        }
        if (arch && (strcmp(arch, "granite") == 0 || strcmp(arch, "granitehybrid") == 0)) {
            if (has(model_name, "4.1"))
                *out = CHAT_GRANITE_41;
            else if (has(model_name, "4.0") || strcmp(arch, "granitehybrid") == 0)
                *out = CHAT_GRANITE_40;
            else if (has(model_name, "3."))
                *out = CHAT_GRANITE_33;
            else
                return err_set(e, ERR_NOTFOUND,
                               "cannot tell which Granite chat template \"%s\" uses; pass "
                               "--chat-template granite-3.3|granite-4.0|granite-4.1",
                               model_name ? model_name : "(unnamed)");
            return 0;
        }
    }
    return err_set(e, ERR_NOTFOUND,
                   "no known chat template for %s%s%s; pass --chat-template NAME (granite-3.3, "
                   "granite-4.0, granite-4.1, ling-2.0, raw)",
                   arch ? "architecture " : "this model", arch ? arch : "",
                   tmpl && *tmpl ? " (its template is not one of the built-in ones)" : "");
}

int chat_family_from_gguf(const gguf *g, enum chat_family *out, err *e)
{
    const char *tmpl = NULL, *name = NULL;
    int rc = gguf_opt_str(g, "tokenizer.chat_template", NULL, &tmpl, e);
    if (!rc) rc = gguf_opt_str(g, "general.name", NULL, &name, e);
    if (rc) return rc;
    rc = chat_family_detect(tmpl, gguf_arch(g), name, out, e);
    if (rc) err_prefix(e, "%s", gguf_path(g));
    return rc;
}

static const char *const stop_granite[] = {"<|end_of_text|>", NULL};
static const char *const stop_ling[] = {"<|role_end|>", "<|endoftext|>", NULL};
static const char *const stop_none[] = {NULL};

const char *const *chat_stop_strings(enum chat_family f)
{
    switch (f) {
    case CHAT_GRANITE_33:
    case CHAT_GRANITE_40:
    case CHAT_GRANITE_41:
        return stop_granite;
    case CHAT_LING_20:
        return stop_ling;
    default:
        return stop_none;
    }
}

enum chat_tool_format chat_tool_format_of(enum chat_family f)
{
    switch (f) {
    case CHAT_GRANITE_33:
        return CHAT_TOOLS_GRANITE3;
    case CHAT_GRANITE_40:
    case CHAT_GRANITE_41:
        return CHAT_TOOLS_GRANITE4;
    case CHAT_LING_20:
        return CHAT_TOOLS_HERMES;
    default:
        return CHAT_TOOLS_NONE;
    }
}

/* ---- rendering helpers ---- */

/* The template texts, exactly (fixtures/chat_templates/). */
static const char ling_tools_prefix[] =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
    "provided with function signatures within <tools></tools> XML tags:\n<tools>";
static const char ling_tools_suffix[] =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call>\n";
static const char g4_tools_prefix[] =
    "You are a helpful assistant with access to the following tools. You may call one or more "
    "tools to assist with the user query.\n\nYou are provided with function signatures within "
    "<tools></tools> XML tags:\n<tools>";
static const char g4_tools_suffix[] =
    "\n</tools>\n\nFor each tool call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call>. If a tool does not exist in the provided "
    "list of tools, notify the user that you do not have the ability to fulfill the request.";
static const char g40_default_system[] =
    "You are a helpful assistant. Please ensure responses are professional, accurate, and safe.";
static const char g33_tools_sentence[] =
    " You are a helpful assistant with access to the following tools. When a tool is required to "
    "answer the user's query, respond only with <|tool_call|> followed by a JSON list of tools "
    "used. If a tool does not exist in the provided list of tools, notify the user that you do not "
    "have the ability to fulfill the request.";
static const char g33_plain_sentence[] = " You are a helpful AI assistant.";

typedef struct render {
    buf *out;
    arena a;             /* parsed JSON */
    const pyjson *tools; /* parsed tools array, or NULL when none / empty */
    err *e;
    int rc; /* first failure */
} render;

static void put(render *r, const char *s)
{
    if (!r->rc && s) r->rc = buf_puts(r->out, s);
}

static void putn(render *r, const char *s, size_t n)
{
    if (!r->rc && n) r->rc = buf_append(r->out, s, n);
}

static void put_json(render *r, const pyjson *v, int indent)
{
    if (!r->rc) r->rc = pyjson_dump(v, indent, false, r->out);
}

static const char *content_of(const chat_msg *m)
{
    return m->content ? m->content : "";
}

static bool role_is(const chat_msg *m, const char *role)
{
    return m->role && strcmp(m->role, role) == 0;
}

/* Parses the options' tools; an empty array counts as none (Jinja truthiness). */
static int parse_tools(render *r, const chat_options *o)
{
    r->tools = NULL;
    if (!o->tools) return 0;
    pyjson *v;
    int rc = pyjson_parse(o->tools, strlen(o->tools), "tools", &r->a, &v, r->e);
    if (rc) return rc;
    if (v->kind == PYJSON_NULL) return 0;
    if (v->kind != PYJSON_ARRAY)
        return err_set(r->e, ERR_PARSE, "tools: expected a JSON array of tools");
    if (v->n) r->tools = v;
    return 0;
}

/* Appends one assistant message's tool calls the way Ling 2.0 and Granite 4
 * templates do: "<tool_call>\n{"name": "N", "arguments": A}\n</tool_call>",
 * a newline before each call but a first one after empty content. */
static int put_tool_calls(render *r, const chat_msg *m, const char *content, size_t index)
{
    if (!m->tool_calls) return 0;
    char where[48];
    snprintf(where, sizeof where, "message %zu tool_calls", index);
    pyjson *calls;
    int rc = pyjson_parse(m->tool_calls, strlen(m->tool_calls), where, &r->a, &calls, r->e);
    if (rc) return rc;
    if (calls->kind == PYJSON_NULL) return 0;
    if (calls->kind != PYJSON_ARRAY)
        return err_set(r->e, ERR_PARSE, "%s: expected a JSON array", where);
    for (size_t i = 0; i < calls->n; i++) {
        const pyjson *tc = calls->items[i];
        if (tc->kind != PYJSON_OBJECT)
            return err_set(r->e, ERR_PARSE, "%s: call %zu is not an object", where, i);
        const pyjson *fn = pyjson_get(tc, "function");
        if (pyjson_truthy(fn)) tc = fn;
        const pyjson *name = pyjson_get(tc, "name");
        const pyjson *args = pyjson_get(tc, "arguments");
        if (!args) return err_set(r->e, ERR_PARSE, "%s: call %zu has no \"arguments\"", where, i);
        if ((i == 0 && *content) || i > 0) put(r, "\n");
        put(r, "<tool_call>\n{\"name\": \"");
        /* Jinja prints a string as is and anything else as its Python str();
         * names are strings in practice, other kinds print as JSON */
        if (name && name->kind == PYJSON_STRING)
            putn(r, name->str, name->len);
        else if (name)
            put_json(r, name, -1);
        put(r, "\", \"arguments\": ");
        if (args->kind == PYJSON_STRING)
            putn(r, args->str, args->len);
        else
            put_json(r, args, -1);
        put(r, "}\n</tool_call>");
    }
    return 0;
}

/* ---- Ling 2.0 ---- */

/* Python's str.strip/lstrip/rstrip of '\n' only. */
static void strip_nl(const char **s, size_t *n, bool left, bool right)
{
    while (left && *n && **s == '\n') (*s)++, (*n)--;
    while (right && *n && (*s)[*n - 1] == '\n') (*n)--;
}

/* The last occurrence of needle in s[0..n), or NULL. */
static const char *mem_rfind(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m > n) return NULL;
    for (size_t i = n - m + 1; i-- > 0;)
        if (memcmp(s + i, needle, m) == 0) return s + i;
    return NULL;
}

static int render_ling(render *r, const chat_msg *msgs, size_t n, const chat_options *o)
{
    put(r, "<role>SYSTEM</role>");
    if (role_is(&msgs[0], "system")) {
        put(r, content_of(&msgs[0]));
        put(r, "\n");
    }
    if (r->tools) {
        put(r, ling_tools_prefix);
        for (size_t i = 0; i < r->tools->n; i++) {
            put(r, "\n");
            put_json(r, r->tools->items[i], -1);
        }
        put(r, ling_tools_suffix);
    }
    put(r, "detailed thinking off<|role_end|>");
    /* the last real user query: not a wrapped tool response */
    size_t last_query = n - 1;
    for (size_t k = n; k-- > 0;) {
        const chat_msg *m = &msgs[k];
        if (!role_is(m, "user") || !m->content) continue;
        const char *c = m->content;
        size_t cl = strlen(c);
        bool wrapped = cl >= 15 && strncmp(c, "<tool_response>", 15) == 0 && cl >= 16 &&
                       strcmp(c + cl - 16, "</tool_response>") == 0;
        if (!wrapped) {
            last_query = k;
            break;
        }
    }
    for (size_t i = 0; i < n && !r->rc; i++) {
        const chat_msg *m = &msgs[i];
        const char *content = content_of(m);
        if (role_is(m, "user")) {
            put(r, "<role>HUMAN</role>");
            put(r, content);
            put(r, "<|role_end|>");
        } else if (role_is(m, "system") && i > 0) {
            put(r, "<role>SYSTEM</role>");
            put(r, content);
            put(r, "<|role_end|>");
        } else if (role_is(m, "assistant")) {
            const char *body = content, *reason = "";
            size_t body_n = strlen(content), reason_n = 0;
            if (m->reasoning) {
                reason = m->reasoning;
                reason_n = strlen(reason);
            } else if (strstr(content, "</think>")) {
                /* reasoning =
                 * content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') */
                const char *end = strstr(content, "</think>");
                size_t before = (size_t)(end - content);
                const char *rs = content;
                size_t rn = before;
                strip_nl(&rs, &rn, false, true);
                const char *open = mem_rfind(rs, rn, "<think>");
                if (open) {
                    rn -= (size_t)(open + 7 - rs);
                    rs = open + 7;
                }
                strip_nl(&rs, &rn, true, false);
                reason = rs;
                reason_n = rn;
                /* content = content.split('</think>')[-1].lstrip('\n') */
                const char *last = mem_rfind(content, body_n, "</think>");
                body = last + 8;
                body_n = strlen(body);
                strip_nl(&body, &body_n, true, false);
            }
            /* `content` as the template sees it afterwards (for the calls' newline rule) */
            char *content_var = arena_memdup(&r->a, body, body_n);
            if (!content_var) return err_set(r->e, ERR_NOMEM, "out of memory");
            put(r, "<role>ASSISTANT</role>");
            if (i > last_query && reason_n) {
                const char *rs = reason;
                size_t rn = reason_n;
                strip_nl(&rs, &rn, true, true);
                put(r, "\n<think>\n");
                putn(r, rs, rn);
                put(r, "\n</think>\n\n");
                strip_nl(&body, &body_n, true, false);
            }
            putn(r, body, body_n);
            int rc = put_tool_calls(r, m, content_var, i);
            if (rc) return rc;
            put(r, "<|role_end|>");
        } else if (role_is(m, "tool")) {
            if (i == 0 || !role_is(&msgs[i - 1], "tool")) put(r, "<role>OBSERVATION</role>");
            put(r, "\n<tool_response>\n");
            put(r, content);
            put(r, "\n</tool_response>");
            if (i + 1 == n || !role_is(&msgs[i + 1], "tool")) put(r, "<|role_end|>");
        }
    }
    if (o->add_generation_prompt) put(r, "<role>ASSISTANT</role>");
    return 0;
}

/* ---- Granite 4.0 / 4.1 ---- */

static int render_granite4(render *r, const chat_msg *msgs, size_t n, const chat_options *o,
                           bool default_system)
{
    /* the system text: the first system message, then the tools message */
    bool first_system = role_is(&msgs[0], "system");
    const char *sys = first_system ? content_of(&msgs[0]) : "";
    if (*sys || r->tools) {
        put(r, "<|start_of_role|>system<|end_of_role|>");
        put(r, sys);
        if (r->tools) {
            if (first_system) put(r, "\n\n");
            put(r, g4_tools_prefix);
            for (size_t i = 0; i < r->tools->n; i++) {
                put(r, "\n");
                put_json(r, r->tools->items[i], -1);
            }
            put(r, g4_tools_suffix);
        }
        put(r, "<|end_of_text|>\n");
    } else if (default_system) {
        put(r, "<|start_of_role|>system<|end_of_role|>");
        put(r, g40_default_system);
        put(r, "<|end_of_text|>\n");
    }
    for (size_t i = 0; i < n && !r->rc; i++) {
        const chat_msg *m = &msgs[i];
        const char *content = content_of(m);
        if (role_is(m, "user") || (role_is(m, "system") && i > 0)) {
            put(r, "<|start_of_role|>");
            put(r, m->role);
            put(r, "<|end_of_role|>");
            put(r, content);
            put(r, "<|end_of_text|>\n");
        } else if (role_is(m, "assistant")) {
            put(r, "<|start_of_role|>assistant<|end_of_role|>");
            put(r, content);
            int rc = put_tool_calls(r, m, content, i);
            if (rc) return rc;
            put(r, "<|end_of_text|>\n");
        } else if (role_is(m, "tool")) {
            if (i == 0 || !role_is(&msgs[i - 1], "tool"))
                put(r, "<|start_of_role|>user<|end_of_role|>");
            put(r, "\n<tool_response>\n");
            put(r, content);
            put(r, "\n</tool_response>");
            if (i + 1 == n || !role_is(&msgs[i + 1], "tool")) put(r, "<|end_of_text|>\n");
        }
    }
    if (o->add_generation_prompt) put(r, "<|start_of_role|>assistant<|end_of_role|>");
    return 0;
}

/* ---- Granite 3.3 ---- */

static int render_granite33(render *r, const chat_msg *msgs, size_t n, const chat_options *o)
{
    size_t first = 0;
    put(r, "<|start_of_role|>system<|end_of_role|>");
    if (role_is(&msgs[0], "system")) {
        put(r, content_of(&msgs[0]));
        first = 1;
    } else {
        char today[64];
        const char *date = o->date;
        if (!date) {
            time_t now = time(NULL);
            struct tm tm;
            localtime_r(&now, &tm);
            static const char *const months[] = {"January",   "February", "March",    "April",
                                                 "May",       "June",     "July",     "August",
                                                 "September", "October",  "November", "December"};
            snprintf(today, sizeof today, "%s %02d, %d", months[tm.tm_mon % 12], tm.tm_mday,
                     tm.tm_year + 1900);
            date = today;
        }
        put(r, "Knowledge Cutoff Date: April 2024. Today's Date: ");
        put(r, date);
        put(r, ". You are Granite, developed by IBM.");
        put(r, r->tools ? g33_tools_sentence : g33_plain_sentence);
    }
    put(r, "<|end_of_text|>\n");
    if (r->tools) {
        put(r, "<|start_of_role|>available_tools<|end_of_role|>");
        put_json(r, r->tools, 4);
        put(r, "<|end_of_text|>\n");
    }
    for (size_t i = first; i < n; i++) {
        put(r, "<|start_of_role|>");
        put(r, msgs[i].role);
        put(r, "<|end_of_role|>");
        put(r, content_of(&msgs[i]));
        put(r, "<|end_of_text|>\n");
        if (i + 1 == n && o->add_generation_prompt)
            put(r, "<|start_of_role|>assistant<|end_of_role|>");
    }
    return 0;
}

static int render_raw(render *r, const chat_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) put(r, content_of(&msgs[i]));
    return 0;
}

int chat_render(enum chat_family f, const chat_msg *msgs, size_t n, const chat_options *o, buf *out,
                err *e)
{
    chat_options def;
    if (!o) {
        chat_options_default(&def);
        o = &def;
    }
    if (!msgs || n == 0) return err_set(e, ERR_INVALID, "chat: no messages");
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role) return err_set(e, ERR_INVALID, "chat: message %zu has no role", i);
    if (o->assistant_prefix && !o->add_generation_prompt)
        return err_set(e, ERR_INVALID, "chat: an assistant prefix needs the generation prompt");
    render r = {out, ARENA_INIT, NULL, e, 0};
    size_t start = out->len;
    int rc = parse_tools(&r, o);
    if (!rc) {
        switch (f) {
        case CHAT_LING_20:
            rc = render_ling(&r, msgs, n, o);
            break;
        case CHAT_GRANITE_40:
            rc = render_granite4(&r, msgs, n, o, true);
            break;
        case CHAT_GRANITE_41:
            rc = render_granite4(&r, msgs, n, o, false);
            break;
        case CHAT_GRANITE_33:
            rc = render_granite33(&r, msgs, n, o);
            break;
        case CHAT_RAW:
            rc = render_raw(&r, msgs, n);
            break;
        default:
            rc = err_set(e, ERR_INVALID, "chat: unknown family %d", (int)f);
        }
    }
    if (!rc && o->assistant_prefix) put(&r, o->assistant_prefix);
    if (!rc && r.rc) rc = err_set(e, r.rc, "chat: prompt too large");
    if (rc) buf_truncate(out, start);
    arena_release(&r.a);
    return rc;
}

/* ---- tool-call parsers ---- */

/* Length of the UTF-8 sequence at s (1 for a stray byte) and its codepoint. */
static size_t cp_at(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len > n) len = 1;
    if (len == 1) {
        *cp = c;
        return 1;
    }
    unsigned v = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* Python's str.strip(): trims Unicode whitespace at the chosen ends. */
static void py_strip(const char **s, size_t *n, bool left, bool right)
{
    const unsigned char *u = (const unsigned char *)*s;
    size_t b = 0, e = *n, i = 0, last_end = 0;
    bool leading = true;
    while (i < *n) {
        unsigned cp;
        size_t l = cp_at(u + i, *n - i, &cp);
        if (!utf8_is_pyspace(cp)) {
            if (leading) b = i;
            leading = false;
            last_end = i + l;
        }
        i += l;
    }
    if (leading) b = *n; /* all whitespace */
    if (!left) b = 0;
    if (right) e = leading ? b : last_end;
    if (e < b) e = b;
    *s += b;
    *n = e - b;
}

typedef struct parser {
    arena *a;
    chat_parsed *out;
    err *e;
    chat_tool_call *calls;
    size_t n, cap;
} parser;

static int push_call(parser *p, const char *name, size_t name_len, const char *args,
                     size_t args_len)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4;
        chat_tool_call *c = arena_calloc(p->a, nc, sizeof *c);
        if (!c) return ERR_NOMEM;
        if (p->n) memcpy(c, p->calls, p->n * sizeof *c);
        p->calls = c;
        p->cap = nc;
    }
    char *nm = arena_memdup(p->a, name, name_len);
    char *ag = arena_memdup(p->a, args, args_len);
    if (!nm || !ag) return ERR_NOMEM;
    p->calls[p->n++] = (chat_tool_call){nm, ag};
    return 0;
}

/* One {"name": ..., "arguments": ...} object; returns 0 or fills *problem. */
static int take_call(parser *p, const pyjson *obj, size_t index, bool keep_string_args,
                     const char **problem)
{
    if (obj->kind != PYJSON_OBJECT) {
        *problem = arena_printf(p->a, "tool call %zu is not a JSON object", index + 1);
        return 0;
    }
    const pyjson *name = pyjson_get(obj, "name");
    const pyjson *args = pyjson_get(obj, "arguments");
    if (!name || name->kind != PYJSON_STRING) {
        *problem = arena_printf(p->a, "tool call %zu: \"name\" is %s", index + 1,
                                name ? "not a string" : "missing");
        return 0;
    }
    if (!args) {
        *problem = arena_printf(p->a, "tool call %zu: \"arguments\" is missing", index + 1);
        return 0;
    }
    if (keep_string_args && args->kind == PYJSON_STRING)
        return push_call(p, name->str, name->len, args->str, args->len);
    buf b = BUF_INIT;
    int rc = pyjson_dump(args, -1, false, &b);
    if (!rc) rc = push_call(p, name->str, name->len, b.data, b.len);
    buf_release(&b);
    return rc;
}

/* Parses body as JSON; on failure sets *problem (with the parser's message). */
static int parse_body(parser *p, const char *body, size_t n, size_t index, pyjson **v,
                      const char **problem)
{
    err pe = ERR_INIT;
    char where[48];
    snprintf(where, sizeof where, "tool call %zu: invalid JSON", index + 1);
    int rc = pyjson_parse(body, n, where, p->a, v, &pe);
    if (rc == ERR_NOMEM) return rc;
    if (rc) *problem = arena_strdup(p->a, pe.msg);
    return 0;
}

/* vLLM hermes: <tool_call>(.*?)</tool_call>|<tool_call>(.*) over the whole
 * text; content = text before the first <tool_call>; all-or-nothing. */
static int parse_hermes(parser *p, const char *text, size_t len, bool granite4)
{
    static const char open[] = "<tool_call>", close[] = "</tool_call>";
    const size_t ol = sizeof open - 1, cl = sizeof close - 1;
    const char *problem = NULL;
    buf outside = BUF_INIT;
    size_t pos = 0, index = 0;
    int rc = 0;
    while (!rc && !problem) {
        const char *o = mem_find(text + pos, len - pos, open, ol);
        if (!o) break;
        size_t bs = (size_t)(o - text) + ol;
        if (granite4) rc = buf_append(&outside, text + pos, (size_t)(o - text) - pos);
        const char *c = mem_find(text + bs, len - bs, close, cl);
        size_t be = c ? (size_t)(c - text) : len;
        const char *body = text + bs;
        size_t bn = be - bs;
        pos = c ? be + cl : len;
        pyjson *v = NULL;
        if (bn == 0) {
            problem = arena_printf(p->a, "tool call %zu is empty", index + 1);
            break;
        }
        if (granite4) py_strip(&body, &bn, true, true);
        if (!rc) rc = parse_body(p, body, bn, index, &v, &problem);
        if (!rc && !problem) rc = take_call(p, v, index, granite4, &problem);
        index++;
    }
    if (!rc && granite4 && pos < len) rc = buf_append(&outside, text + pos, len - pos);
    if (rc) {
        buf_release(&outside);
        return rc;
    }
    chat_parsed *out = p->out;
    if (index == 0 || problem) {
        /* no calls (or a bad one): the whole text is content */
        p->n = 0;
        out->content = len ? arena_memdup(p->a, text, len) : NULL;
        out->problem = problem;
    } else if (granite4) {
        const char *s = outside.data;
        size_t n = outside.len;
        py_strip(&s, &n, true, true);
        out->content = n ? arena_memdup(p->a, s, n) : NULL;
    } else {
        size_t before = (size_t)(mem_find(text, len, open, ol) - text);
        out->content = before ? arena_memdup(p->a, text, before) : NULL;
    }
    buf_release(&outside);
    out->calls = p->calls;
    out->n_calls = p->n;
    return 0;
}

/* vLLM granite (3.x): strip, drop a leading <|tool_call|> then <tool_call>,
 * lstrip; a JSON list of calls or nothing. */
static int parse_granite3(parser *p, const char *text, size_t len)
{
    const char *s = text;
    size_t n = len;
    py_strip(&s, &n, true, true);
    static const char bot[] = "<|tool_call|>", bot2[] = "<tool_call>";
    if (n >= sizeof bot - 1 && memcmp(s, bot, sizeof bot - 1) == 0)
        s += sizeof bot - 1, n -= sizeof bot - 1;
    if (n >= sizeof bot2 - 1 && memcmp(s, bot2, sizeof bot2 - 1) == 0)
        s += sizeof bot2 - 1, n -= sizeof bot2 - 1;
    py_strip(&s, &n, true, false);
    const char *problem = NULL;
    chat_parsed *out = p->out;
    if (n && s[0] == '[') {
        pyjson *v = NULL;
        int rc = parse_body(p, s, n, 0, &v, &problem);
        if (rc) return rc;
        for (size_t i = 0; !problem && i < v->n; i++) {
            rc = take_call(p, v->items[i], i, false, &problem);
            if (rc) return rc;
        }
        if (!problem) {
            out->calls = p->calls;
            out->n_calls = p->n;
            out->content = NULL;
            return 0;
        }
    }
    p->n = 0;
    out->content = len ? arena_memdup(p->a, text, len) : NULL;
    out->problem = problem;
    return 0;
}

int chat_parse_tool_calls(enum chat_tool_format fmt, const char *text, size_t len, arena *a,
                          chat_parsed *out, err *e)
{
    *out = (chat_parsed){NULL, 0, NULL, NULL};
    if (!text) text = "", len = 0;
    parser p = {a, out, e, NULL, 0, 0};
    int rc;
    switch (fmt) {
    case CHAT_TOOLS_NONE:
        out->content = len ? arena_memdup(a, text, len) : NULL;
        rc = len && !out->content ? ERR_NOMEM : 0;
        break;
    case CHAT_TOOLS_HERMES:
        rc = parse_hermes(&p, text, len, false);
        break;
    case CHAT_TOOLS_GRANITE4:
        rc = parse_hermes(&p, text, len, true);
        break;
    case CHAT_TOOLS_GRANITE3:
        rc = parse_granite3(&p, text, len);
        break;
    default:
        return err_set(e, ERR_INVALID, "unknown tool-call format %d", (int)fmt);
    }
    if (rc) return err_set(e, rc, "tool-call parser: out of memory");
    return 0;
}
