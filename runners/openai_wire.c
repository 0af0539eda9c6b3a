/* openai_wire.c: request bodies, answers, error bodies and Retry-After of the OpenAI API. */
#include "openai_wire.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

int wire_style_of(const prompt *p, int *style_out, err *e)
{
    if (!p) return err_set(e, ERR_INVALID, "openai: a request without a prompt");
    if (p->messages && p->text)
        return err_set(e, ERR_INVALID, "openai: a prompt with both text and messages");
    if (p->messages && p->n_messages) {
        *style_out = WIRE_CHAT;
        return 0;
    }
    if (p->text) {
        *style_out = WIRE_COMPLETIONS;
        return 0;
    }
    return err_set(e, ERR_INVALID, "openai: a prompt with neither text nor messages");
}

const char *wire_path(int style)
{
    return style == WIRE_CHAT ? "/chat/completions" : "/completions";
}

/* cJSON's Add* helpers return NULL when out of memory; `ok` collects that. */
static cJSON *track(bool *ok, cJSON *v)
{
    if (!v) *ok = false;
    return v;
}

static int parse_embedded(const char *text, const char *what, const char *item_id, cJSON **out,
                          err *e)
{
    *out = cJSON_Parse(text);
    if (!*out)
        return err_set(e, ERR_INVALID, "openai: item %s: the prompt's %s are not valid JSON",
                       item_id ? item_id : "?", what);
    return 0;
}

static int add_messages(cJSON *root, const gen_request *q, bool *ok, err *e)
{
    const prompt *p = q->p;
    cJSON *msgs = track(ok, cJSON_AddArrayToObject(root, "messages"));
    if (!msgs) return 0;
    for (size_t i = 0; i < p->n_messages; i++) {
        const chat_message *m = &p->messages[i];
        cJSON *o = track(ok, cJSON_CreateObject());
        if (!o) return 0;
        cJSON_AddItemToArray(msgs, o);
        track(ok, cJSON_AddStringToObject(o, "role", m->role ? m->role : "user"));
        if (m->content)
            track(ok, cJSON_AddStringToObject(o, "content", m->content));
        else
            track(ok, cJSON_AddNullToObject(o, "content"));
        if (m->tool_calls) {
            cJSON *tc;
            int rc = parse_embedded(m->tool_calls, "tool_calls", q->item_id, &tc, e);
            if (rc < 0) return rc;
            cJSON_AddItemToObject(o, "tool_calls", tc);
        }
        if (m->tool_call_id) track(ok, cJSON_AddStringToObject(o, "tool_call_id", m->tool_call_id));
    }
    if (p->assistant_prefix) {
        cJSON *o = track(ok, cJSON_CreateObject());
        if (!o) return 0;
        cJSON_AddItemToArray(msgs, o);
        track(ok, cJSON_AddStringToObject(o, "role", "assistant"));
        track(ok, cJSON_AddStringToObject(o, "content", p->assistant_prefix));
    }
    return 0;
}

static void merge_extra(cJSON *root, const cJSON *extra, bool *ok)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, extra)
    {
        if (!f->string) continue;
        cJSON *copy = track(ok, cJSON_Duplicate(f, 1));
        if (!copy) return;
        if (cJSON_HasObjectItem(root, f->string))
            cJSON_ReplaceItemInObjectCaseSensitive(root, f->string, copy);
        else
            cJSON_AddItemToObject(root, f->string, copy);
    }
}

int wire_build_body(const wire_options *o, const gen_request *q, int n, buf *out, err *e)
{
    int style, ret;
    bool ok = true;
    cJSON *root = NULL;
    char *text = NULL;
    if ((ret = wire_style_of(q->p, &style, e)) < 0) return ret;
    if (!o->model) return err_set(e, ERR_INVALID, "openai: no model name");
    const prompt *p = q->p;
    const sampling *s = &q->sampling;
    root = cJSON_CreateObject();
    if (!root) return err_set(e, ERR_NOMEM, "out of memory");
    track(&ok, cJSON_AddStringToObject(root, "model", o->model));
    if (style == WIRE_CHAT) {
        if ((ret = add_messages(root, q, &ok, e)) < 0) goto out;
    } else {
        track(&ok, cJSON_AddStringToObject(root, "prompt", p->text));
    }
    if (q->max_tokens > 0) track(&ok, cJSON_AddNumberToObject(root, "max_tokens", q->max_tokens));
    track(&ok, cJSON_AddNumberToObject(root, "temperature", s->temperature));
    track(&ok, cJSON_AddNumberToObject(root, "top_p", s->top_p));
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
    track(&ok, cJSON_AddRawToObject(root, "seed", seed));
    if (s->top_k > 0) track(&ok, cJSON_AddNumberToObject(root, "top_k", s->top_k));
    if (s->min_p > 0) track(&ok, cJSON_AddNumberToObject(root, "min_p", s->min_p));
    if (s->repetition_penalty > 0 && s->repetition_penalty != 1)
        track(&ok, cJSON_AddNumberToObject(root, "repetition_penalty", s->repetition_penalty));
    if (p->n_stop) {
        cJSON *st = track(&ok, cJSON_AddArrayToObject(root, "stop"));
        for (size_t i = 0; st && i < p->n_stop; i++)
            if (p->stop[i]) cJSON_AddItemToArray(st, track(&ok, cJSON_CreateString(p->stop[i])));
    }
    if (n > 1) track(&ok, cJSON_AddNumberToObject(root, "n", n));
    if (style == WIRE_CHAT && p->tools) {
        cJSON *tools;
        if ((ret = parse_embedded(p->tools, "tools", q->item_id, &tools, e)) < 0) goto out;
        cJSON_AddItemToObject(root, "tools", tools);
    }
    if (style == WIRE_CHAT && p->tool_choice) {
        if (p->tool_choice[0] == '{') {
            cJSON *tc;
            if ((ret = parse_embedded(p->tool_choice, "tool_choice", q->item_id, &tc, e)) < 0)
                goto out;
            cJSON_AddItemToObject(root, "tool_choice", tc);
        } else {
            track(&ok, cJSON_AddStringToObject(root, "tool_choice", p->tool_choice));
        }
    }
    if (style == WIRE_CHAT && p->assistant_prefix) {
        track(&ok, cJSON_AddTrueToObject(root, "continue_final_message"));
        track(&ok, cJSON_AddFalseToObject(root, "add_generation_prompt"));
    }
    if (o->stream) {
        track(&ok, cJSON_AddTrueToObject(root, "stream"));
        cJSON *so = track(&ok, cJSON_AddObjectToObject(root, "stream_options"));
        if (so) track(&ok, cJSON_AddTrueToObject(so, "include_usage"));
    }
    if (o->extra && cJSON_IsObject(o->extra)) merge_extra(root, o->extra, &ok);
    if (ok) text = cJSON_PrintUnformatted(root);
    if (!ok || !text) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (buf_puts(out, text) < 0) {
        ret = err_set(e, ERR_LIMIT, "openai: item %s: the request body is too large",
                      q->item_id ? q->item_id : "?");
        goto out;
    }
    ret = 0;
out:
    free(text);
    cJSON_Delete(root);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                   */
/* ------------------------------------------------------------------------ */

static void choice_release(wire_choice *c)
{
    free(c->text);
    free(c->reasoning);
    for (size_t i = 0; i < c->n_tool_calls; i++) {
        free(c->tool_calls[i].id);
        free(c->tool_calls[i].name);
        free(c->tool_calls[i].arguments);
    }
    free(c->tool_calls);
    free(c->finish_reason);
    memset(c, 0, sizeof *c);
}

void wire_reply_release(wire_reply *r)
{
    for (size_t i = 0; i < r->n_choices; i++) choice_release(&r->choices[i]);
    free(r->choices);
    memset(r, 0, sizeof *r);
    r->prompt_tokens = r->completion_tokens = -1;
}

/* The usage counts, when present and plausible. */
static void read_usage(const cJSON *root, wire_reply *out)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (!cJSON_IsObject(u)) return;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (cJSON_IsNumber(pt) && pt->valuedouble >= 0 && pt->valuedouble < 2e9)
        out->prompt_tokens = (int)pt->valuedouble;
    if (cJSON_IsNumber(ct) && ct->valuedouble >= 0 && ct->valuedouble < 2e9)
        out->completion_tokens = (int)ct->valuedouble;
}

/* Text content: a string, null, or an array of {"type": "text", "text"} parts. */
static int read_content(const cJSON *v, const char *where, char **out, err *e)
{
    if (!v || cJSON_IsNull(v)) {
        *out = strdup("");
    } else if (cJSON_IsString(v)) {
        *out = strdup(v->valuestring);
    } else if (cJSON_IsArray(v)) {
        buf b = BUF_INIT;
        const cJSON *part;
        cJSON_ArrayForEach(part, v)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (cJSON_IsString(t) && buf_puts(&b, t->valuestring) < 0) {
                buf_release(&b);
                return err_set(e, ERR_NOMEM, "out of memory");
            }
        }
        *out = buf_detach(&b, NULL);
    } else {
        return err_set(e, ERR_PARSE, "%s is not a string (got %s)", where, json_type_name(v));
    }
    return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* Arguments as text: a string as is, an object or array printed, absent = "{}". */
static char *arguments_text(const cJSON *a)
{
    if (!a || cJSON_IsNull(a)) return strdup("{}");
    if (cJSON_IsString(a)) return strdup(a->valuestring);
    return cJSON_PrintUnformatted(a);
}

static int decode_tool_calls(const cJSON *arr, const char *where, wire_choice *c, err *e)
{
    if (!arr || cJSON_IsNull(arr)) return 0;
    if (!cJSON_IsArray(arr))
        return err_set(e, ERR_PARSE, "%s.tool_calls is not an array (got %s)", where,
                       json_type_name(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (!n) return 0;
    c->tool_calls = calloc(n, sizeof *c->tool_calls);
    if (!c->tool_calls) return err_set(e, ERR_NOMEM, "out of memory");
    const cJSON *tc;
    size_t i = 0;
    cJSON_ArrayForEach(tc, arr)
    {
        if (!cJSON_IsObject(tc))
            return err_set(e, ERR_PARSE, "%s.tool_calls[%zu] is not an object (got %s)", where, i,
                           json_type_name(tc));
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        /* a few servers put name/arguments at the top of the call */
        const cJSON *holder = cJSON_IsObject(fn) ? fn : tc;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(holder, "name");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
        if (!cJSON_IsString(name))
            return err_set(e, ERR_PARSE, "%s.tool_calls[%zu].function.name is %s", where, i,
                           name ? "not a string" : "missing");
        gen_tool_call *t = &c->tool_calls[c->n_tool_calls++];
        t->id = cJSON_IsString(id) ? strdup(id->valuestring) : NULL;
        t->name = strdup(name->valuestring);
        t->arguments = arguments_text(cJSON_GetObjectItemCaseSensitive(holder, "arguments"));
        if (!t->name || !t->arguments || (cJSON_IsString(id) && !t->id))
            return err_set(e, ERR_NOMEM, "out of memory");
        i++;
    }
    return 0;
}

/* The reasoning text under vLLM's/Ollama's "reasoning" or SGLang's/llama.cpp's
 * "reasoning_content" (vLLM's old name); NULL when neither is a non-empty string. */
static const char *reasoning_of(const cJSON *m)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reasoning");
    if (cJSON_IsString(r) && r->valuestring[0]) return r->valuestring;
    r = cJSON_GetObjectItemCaseSensitive(m, "reasoning_content");
    if (cJSON_IsString(r) && r->valuestring[0]) return r->valuestring;
    return NULL;
}

static int read_choice(const cJSON *ch, size_t pos, int style, wire_choice *c, err *e)
{
    char where[64];
    snprintf(where, sizeof where, "choices[%zu]", pos);
    if (!cJSON_IsObject(ch))
        return err_set(e, ERR_PARSE, "%s is not an object (got %s)", where, json_type_name(ch));
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(ch, "index");
    c->index = cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < 1e6
                   ? (int)idx->valuedouble
                   : (int)pos;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
    if (cJSON_IsString(fr) && !(c->finish_reason = strdup(fr->valuestring)))
        return err_set(e, ERR_NOMEM, "out of memory");
    if (style == WIRE_COMPLETIONS) {
        char w2[80];
        snprintf(w2, sizeof w2, "%s.text", where);
        return read_content(cJSON_GetObjectItemCaseSensitive(ch, "text"), w2, &c->text, e);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ch, "message");
    if (!cJSON_IsObject(m))
        return err_set(e, ERR_PARSE, "%s.message is %s", where, m ? "not an object" : "missing");
    char w2[80];
    snprintf(w2, sizeof w2, "%s.message.content", where);
    int rc = read_content(cJSON_GetObjectItemCaseSensitive(m, "content"), w2, &c->text, e);
    if (rc < 0) return rc;
    const char *r = reasoning_of(m);
    if (r && !(c->reasoning = strdup(r))) return err_set(e, ERR_NOMEM, "out of memory");
    snprintf(w2, sizeof w2, "%s.message", where);
    return decode_tool_calls(cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), w2, c, e);
}

/* An error object in a 200 body or in an event of a stream. */
static int error_in(const char *body, size_t len, err *e)
{
    buf msg = BUF_INIT;
    wire_error_message(body, len, 400, &msg);
    int rc = err_set(e, ERR_HTTP, "the server answered with an error: %s", msg.data);
    buf_release(&msg);
    return rc;
}

static bool is_error_object(const cJSON *root)
{
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (er && !cJSON_IsNull(er)) return true;
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
    return cJSON_IsString(obj) && strcmp(obj->valuestring, "error") == 0;
}

static int parse_json_reply(const char *body, size_t len, int style, wire_reply *out, err *e)
{
    cJSON *root = NULL;
    size_t k = 0;
    while (k < len && isspace((unsigned char)body[k])) k++;
    if (k == len) return err_set(e, ERR_PARSE, "response body: empty");
    int rc = json_parse(body, len, "response body", &root, e);
    if (rc < 0) return rc;
    if (!cJSON_IsObject(root)) {
        rc = err_set(e, ERR_PARSE, "response body: expected a JSON object, got %s",
                     json_type_name(root));
        goto out;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!choices && is_error_object(root)) {
        rc = error_in(body, len, e);
        goto out;
    }
    if (!cJSON_IsArray(choices)) {
        rc = err_set(e, ERR_PARSE, "response body: \"choices\" is %s",
                     choices ? "not an array" : "missing");
        goto out;
    }
    read_usage(root, out);
    size_t n = (size_t)cJSON_GetArraySize(choices);
    if (n) {
        out->choices = calloc(n, sizeof *out->choices);
        if (!out->choices) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    const cJSON *ch;
    cJSON_ArrayForEach(ch, choices)
    {
        rc = read_choice(ch, out->n_choices, style, &out->choices[out->n_choices], e);
        out->n_choices++;
        if (rc < 0) {
            err_prefix(e, "response body");
            goto out;
        }
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* --- server-sent events --------------------------------------------------- */

typedef struct sse_tool {
    int index;
    buf id, name, args;
} sse_tool;

typedef struct sse_choice {
    int index;
    buf text, reasoning;
    sse_tool *tools;
    size_t n_tools;
    char *finish;
} sse_choice;

typedef struct sse_state {
    int style;
    sse_choice *ch;
    size_t n_ch;
    bool done;
    wire_reply *out;
} sse_state;

static void sse_release(sse_state *s)
{
    for (size_t i = 0; i < s->n_ch; i++) {
        sse_choice *c = &s->ch[i];
        buf_release(&c->text);
        buf_release(&c->reasoning);
        for (size_t k = 0; k < c->n_tools; k++) {
            buf_release(&c->tools[k].id);
            buf_release(&c->tools[k].name);
            buf_release(&c->tools[k].args);
        }
        free(c->tools);
        free(c->finish);
    }
    free(s->ch);
    s->ch = NULL;
    s->n_ch = 0;
}

static sse_choice *sse_choice_at(sse_state *s, int index)
{
    for (size_t i = 0; i < s->n_ch; i++)
        if (s->ch[i].index == index) return &s->ch[i];
    sse_choice *nc = realloc(s->ch, (s->n_ch + 1) * sizeof *nc);
    if (!nc) return NULL;
    s->ch = nc;
    sse_choice *c = &s->ch[s->n_ch++];
    memset(c, 0, sizeof *c);
    c->index = index;
    buf_init(&c->text, 0);
    buf_init(&c->reasoning, 0);
    return c;
}

static sse_tool *sse_tool_at(sse_choice *c, int index)
{
    for (size_t i = 0; i < c->n_tools; i++)
        if (c->tools[i].index == index) return &c->tools[i];
    sse_tool *nt = realloc(c->tools, (c->n_tools + 1) * sizeof *nt);
    if (!nt) return NULL;
    c->tools = nt;
    sse_tool *t = &c->tools[c->n_tools++];
    t->index = index;
    buf_init(&t->id, 0);
    buf_init(&t->name, 0);
    buf_init(&t->args, 0);
    return t;
}

static int append_str(buf *b, const cJSON *v)
{
    return cJSON_IsString(v) ? buf_puts(b, v->valuestring) : 0;
}

static int sse_tool_delta(sse_choice *c, const cJSON *arr, size_t pos, err *e)
{
    const cJSON *d;
    size_t k = 0;
    cJSON_ArrayForEach(d, arr)
    {
        if (!cJSON_IsObject(d))
            return err_set(e, ERR_PARSE, "choices[%zu].delta.tool_calls[%zu] is not an object", pos,
                           k);
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(d, "index");
        int index = cJSON_IsNumber(ix) && ix->valuedouble >= 0 && ix->valuedouble < 1e6
                        ? (int)ix->valuedouble
                        : (int)k;
        sse_tool *t = sse_tool_at(c, index);
        if (!t) return err_set(e, ERR_NOMEM, "out of memory");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        if (cJSON_IsString(id) && !t->id.len && append_str(&t->id, id) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(d, "function");
        if (cJSON_IsObject(fn)) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
            /* the name comes once; a repeat of the same name is not a fragment */
            if (cJSON_IsString(nm) && strcmp(t->name.data, nm->valuestring) != 0 &&
                append_str(&t->name, nm) < 0)
                return err_set(e, ERR_NOMEM, "out of memory");
            const cJSON *ar = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
            if (cJSON_IsString(ar)) {
                if (append_str(&t->args, ar) < 0) return err_set(e, ERR_NOMEM, "out of memory");
            } else if (ar && !cJSON_IsNull(ar)) {
                char *txt = cJSON_PrintUnformatted(ar);
                int rc = txt ? buf_puts(&t->args, txt) : ERR_NOMEM;
                free(txt);
                if (rc < 0) return err_set(e, ERR_NOMEM, "out of memory");
            }
        }
        k++;
    }
    return 0;
}

/* One "data:" payload of the stream. */
static int sse_event(sse_state *s, const char *data, size_t len, size_t event_no, err *e)
{
    while (len && isspace((unsigned char)data[len - 1])) len--;
    while (len && isspace((unsigned char)*data)) data++, len--;
    if (!len) return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return 0;
    }
    char where[64];
    snprintf(where, sizeof where, "event stream, event %zu", event_no);
    cJSON *root = NULL;
    int rc = json_parse(data, len, where, &root, e);
    if (rc < 0) {
        /* Several "data:" lines without the blank line between them join
         * into one payload (the SSE rule); a server that meant them as
         * separate events gets them read one line at a time. */
        const char *nl = memchr(data, '\n', len);
        if (!nl) return rc;
        err_clear(e);
        for (const char *p = data, *end = data + len; p < end;) {
            const char *q = memchr(p, '\n', (size_t)(end - p));
            if (!q) q = end;
            if ((rc = sse_event(s, p, (size_t)(q - p), event_no, e)) < 0) return rc;
            if (s->done) return 0;
            p = q + 1;
        }
        return 0;
    }
    if (!cJSON_IsObject(root)) {
        rc = err_set(e, ERR_PARSE, "%s: expected a JSON object", where);
        goto out;
    }
    if (is_error_object(root)) {
        rc = error_in(data, len, e);
        goto out;
    }
    read_usage(root, s->out);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (choices && !cJSON_IsArray(choices) && !cJSON_IsNull(choices)) {
        rc = err_set(e, ERR_PARSE, "%s: \"choices\" is not an array", where);
        goto out;
    }
    const cJSON *ch;
    size_t pos = 0;
    cJSON_ArrayForEach(ch, choices)
    {
        if (!cJSON_IsObject(ch)) {
            rc = err_set(e, ERR_PARSE, "%s: choices[%zu] is not an object", where, pos);
            goto out;
        }
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
        int index = cJSON_IsNumber(ix) && ix->valuedouble >= 0 && ix->valuedouble < 1e6
                        ? (int)ix->valuedouble
                        : (int)pos;
        sse_choice *c = sse_choice_at(s, index);
        if (!c) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        if (cJSON_IsString(fr)) {
            free(c->finish);
            if (!(c->finish = strdup(fr->valuestring))) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        if (s->style == WIRE_COMPLETIONS) {
            if (append_str(&c->text, cJSON_GetObjectItemCaseSensitive(ch, "text")) < 0) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
        } else {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
            if (cJSON_IsObject(d)) {
                const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "reasoning");
                if (!cJSON_IsString(r))
                    r = cJSON_GetObjectItemCaseSensitive(d, "reasoning_content");
                if (append_str(&c->text, cJSON_GetObjectItemCaseSensitive(d, "content")) < 0 ||
                    append_str(&c->reasoning, r) < 0) {
                    rc = err_set(e, ERR_NOMEM, "out of memory");
                    goto out;
                }
                const cJSON *tc = cJSON_GetObjectItemCaseSensitive(d, "tool_calls");
                if (cJSON_IsArray(tc) && (rc = sse_tool_delta(c, tc, pos, e)) < 0) {
                    err_prefix(e, "%s", where);
                    goto out;
                }
            }
        }
        pos++;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* Moves the accumulated choices into the reply. */
static int sse_finish(sse_state *s, wire_reply *out, err *e)
{
    if (!s->done) {
        bool all = s->n_ch > 0;
        for (size_t i = 0; i < s->n_ch; i++)
            if (!s->ch[i].finish) all = false;
        if (!all) return err_set(e, ERR_PARSE, "event stream: ended before [DONE]");
    }
    if (s->n_ch) {
        out->choices = calloc(s->n_ch, sizeof *out->choices);
        if (!out->choices) return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_ch; i++) {
        sse_choice *c = &s->ch[i];
        wire_choice *w = &out->choices[out->n_choices++];
        w->index = c->index;
        w->text = buf_detach(&c->text, NULL);
        w->reasoning = c->reasoning.len ? buf_detach(&c->reasoning, NULL) : NULL;
        w->finish_reason = c->finish;
        c->finish = NULL;
        if (!w->text || (c->reasoning.len && !w->reasoning))
            return err_set(e, ERR_NOMEM, "out of memory");
        if (c->n_tools) {
            w->tool_calls = calloc(c->n_tools, sizeof *w->tool_calls);
            if (!w->tool_calls) return err_set(e, ERR_NOMEM, "out of memory");
        }
        for (size_t k = 0; k < c->n_tools; k++) {
            sse_tool *t = &c->tools[k];
            if (!t->name.len)
                return err_set(e, ERR_PARSE, "event stream: tool call %d of choice %d has no name",
                               t->index, c->index);
            gen_tool_call *g = &w->tool_calls[w->n_tool_calls++];
            g->id = t->id.len ? buf_detach(&t->id, NULL) : NULL;
            g->name = buf_detach(&t->name, NULL);
            g->arguments = t->args.len ? buf_detach(&t->args, NULL) : strdup("{}");
            if (!g->name || !g->arguments) return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

static int parse_sse_reply(const char *body, size_t len, int style, wire_reply *out, err *e)
{
    sse_state s = {.style = style, .out = out};
    buf data = BUF_INIT;
    size_t event_no = 0;
    int rc = 0;
    const char *p = body, *end = body + len;
    bool have_data = false;
    while (p < end && !s.done) {
        /* one line, ended by \n, \r\n or \r */
        const char *l = p;
        while (p < end && *p != '\n' && *p != '\r') p++;
        size_t ll = (size_t)(p - l);
        if (p < end) {
            if (*p == '\r' && p + 1 < end && p[1] == '\n') p++;
            p++;
        }
        if (ll == 0) { /* blank line: dispatch the event */
            if (have_data) {
                event_no++;
                if ((rc = sse_event(&s, data.data, data.len, event_no, e)) < 0) goto out;
            }
            buf_reset(&data);
            have_data = false;
            continue;
        }
        if (l[0] == ':') continue; /* a comment or keep-alive ping */
        const char *colon = memchr(l, ':', ll);
        size_t flen = colon ? (size_t)(colon - l) : ll;
        if (flen != 4 || memcmp(l, "data", 4) != 0) continue; /* event:, id:, retry: */
        const char *v = colon ? colon + 1 : l + ll;
        if (v < l + ll && *v == ' ') v++;
        if ((have_data && buf_putc(&data, '\n') < 0) ||
            buf_append(&data, v, (size_t)(l + ll - v)) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        have_data = true;
    }
    if (have_data && !s.done) {
        /* a last event without its blank line */
        event_no++;
        if ((rc = sse_event(&s, data.data, data.len, event_no, e)) < 0) goto out;
    }
    rc = sse_finish(&s, out, e);
out:
    sse_release(&s);
    buf_release(&data);
    return rc;
}

int wire_parse_reply(const char *body, size_t len, int style, bool sse, wire_reply *out, err *e)
{
    memset(out, 0, sizeof *out);
    out->prompt_tokens = out->completion_tokens = -1;
    int rc = sse ? parse_sse_reply(body, len, style, out, e)
                 : parse_json_reply(body, len, style, out, e);
    if (rc < 0) wire_reply_release(out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Errors and retries                                                        */
/* ------------------------------------------------------------------------ */

/* Appends s[0..n) to `out` with runs of whitespace (newlines too) as one space. */
static int put_line(buf *out, const char *s, size_t n)
{
    bool space = out->len > 0 && out->data[out->len - 1] == ' ';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ' || c == '\v' || c == '\f') {
            if (!space && out->len && buf_putc(out, ' ') < 0) return ERR_NOMEM;
            space = true;
            continue;
        }
        if (c < 0x20 || c == 0x7f) continue;
        if (buf_putc(out, (char)c) < 0) return ERR_NOMEM;
        space = false;
    }
    return 0;
}

static const char *str_field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

int wire_error_message(const char *body, size_t len, size_t max, buf *out)
{
    buf tmp = BUF_INIT;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const char *msg = NULL, *type = NULL;
    char code[32] = "";
    const cJSON *holder = NULL;
    if (cJSON_IsObject(root)) {
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(root, "error");
        const cJSON *det = cJSON_GetObjectItemCaseSensitive(root, "detail");
        if (cJSON_IsObject(er))
            holder = er; /* nested, OpenAI style */
        else if (cJSON_IsString(er))
            msg = er->valuestring; /* {"error": "text"} */
        else if (str_field(root, "message"))
            holder = root; /* flat (older vLLM, SGLang) */
        else if (cJSON_IsString(det))
            msg = det->valuestring; /* FastAPI */
        else if (cJSON_IsArray(det) && cJSON_GetArraySize(det) > 0)
            msg = str_field(cJSON_GetArrayItem(det, 0), "msg"); /* FastAPI validation */
        if (holder) {
            msg = str_field(holder, "message");
            type = str_field(holder, "type");
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(holder, "code");
            if (cJSON_IsString(c) && c->valuestring[0])
                snprintf(code, sizeof code, "%.30s", c->valuestring);
            else if (cJSON_IsNumber(c))
                snprintf(code, sizeof code, "%.0f", c->valuedouble);
        }
    }
    int rc = 0;
    if (msg) {
        rc = put_line(&tmp, msg, strlen(msg));
        if (rc == 0 && (type || code[0])) {
            rc = buf_printf(&tmp, " (%s%s%s)", type ? type : "", type && code[0] ? ", " : "", code);
        }
    } else {
        rc = put_line(&tmp, body, len);
        if (rc == 0 && !tmp.len) rc = buf_puts(&tmp, "(empty body)");
    }
    /* trim surrounding spaces, cap at `max` bytes on a UTF-8 boundary */
    size_t a = 0, b = tmp.len;
    while (a < b && tmp.data[a] == ' ') a++;
    while (b > a && tmp.data[b - 1] == ' ') b--;
    if (max >= 4 && b - a > max) {
        b = a + max - 3;
        while (b > a && ((unsigned char)tmp.data[b] & 0xC0) == 0x80) b--;
        if (rc == 0) rc = buf_append(out, tmp.data + a, b - a);
        if (rc == 0) rc = buf_puts(out, "...");
    } else if (rc == 0) {
        rc = buf_append(out, tmp.data + a, b - a);
    }
    buf_release(&tmp);
    cJSON_Delete(root);
    return rc;
}

/* A non-negative decimal number (digits with an optional fraction), or -1. */
static double parse_seconds(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
    if (*end || !isfinite(v) || v < 0) return -1;
    return v;
}

double wire_retry_after(const char *retry_after_ms, const char *retry_after, time_t now)
{
    if (retry_after_ms) {
        double ms = parse_seconds(retry_after_ms);
        if (ms >= 0) return ms / 1000.0;
    }
    if (!retry_after) return -1;
    double s = parse_seconds(retry_after);
    if (s >= 0) return s;
    /* an HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate) */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = retry_after;
    while (*p == ' ') p++;
    const char *end = strptime(p, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end) return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    return t > now ? (double)(t - now) : 0.0;
}

bool wire_status_retryable(long status)
{
    switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return true;
    default:
        return false;
    }
}

bool wire_cut_stop(char *text, const char *const *stop, size_t n_stop)
{
    char *cut = NULL;
    for (size_t i = 0; i < n_stop; i++) {
        if (!stop[i] || !stop[i][0]) continue;
        char *at = strstr(text, stop[i]);
        if (at && (!cut || at < cut)) cut = at;
    }
    if (!cut) return false;
    *cut = 0;
    return true;
}
