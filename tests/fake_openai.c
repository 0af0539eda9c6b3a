/* fake_openai.c: a small OpenAI-compatible HTTP server for the tests, with faults on demand.
 *
 *   fake_openai [--log FILE] [--delay-ms N (completions only)] [--models ID,ID] [--owned-by S]
 *               [--server-version V] [--key KEY] [--no-models] [--ignore-n]
 *               [--reject-n] [--fault-mod M --fault SPEC] [--models-body TEXT]
 *
 * Listens on 127.0.0.1 at an ephemeral port and prints it on stdout
 * ("PORT\n"); serves until its stdin closes (the test holds the other end
 * of a pipe, so a crashed test leaves no server behind) or SIGTERM.
 * One thread, poll(2), HTTP/1.1 keep-alive, any number of connections.
 *
 * Endpoints: GET /v1/models (404 with --no-models, TEXT with --models-body), GET /version (with
 * --server-version), POST /v1/chat/completions and /v1/completions (JSON or,
 * with "stream": true, server-sent events). Answers are deterministic: the
 * text is "The answer is N. [req H]" where H is a 64-bit FNV-1a hash of the
 * prompt text (the messages' contents joined by "\n", or the raw prompt) in
 * hex and N = H mod 100; choice i > 0 appends " (choice i)". A request with
 * non-empty "tools" (and tool_choice other than "none") gets one call of the
 * first tool, arguments made from its required parameters by type
 * (string "x", integer 1, number 1.5, boolean true, array [], object {}).
 *
 * Directives in the prompt text steer one request; they are applied on the
 * attempts counted per distinct request body (a retry sends the same body):
 *   [[fault:KIND(:OPT)*]]  KIND: 400 401 404 408 422 429 500 501 502 503 504
 *                           (an error body), flat400 (the flat error shape),
 *                           hang (never answer), drop (close in the middle
 *                           of the headers), drop0 (close without a byte),
 *                           dropmid (close half-way through the body),
 *                           badjson (200 with truncated JSON), empty (200
 *                           with "choices": []), error200 (200 with an error
 *                           object), streamerror (an error event mid-stream).
 *                           OPT: times=K (only attempts 1..K fail; default
 *                           every attempt), retry-after=S, retry-after-ms=M,
 *                           retry-after-date=S (an HTTP date S seconds ahead).
 *   [[reply:TEXT]]          answer TEXT (no "]]" inside).
 *   [[reasoning:FIELD:TEXT]] also set message.FIELD = TEXT.
 *   [[tool-args:TEXT]]      the tool call's arguments string, verbatim.
 *   [[finish:REASON]]       the finish_reason.
 *   [[delay:MS]]            answer after MS milliseconds.
 *
 * --fault-mod M --fault SPEC applies the fault SPEC (as in [[fault:SPEC]]) to
 * every prompt whose hash is a multiple of M, for prompts the test cannot
 * write directives into (a dataset's).
 *
 * --log FILE gets one JSON line per request: {"seq", "conn" (the
 * connection's serial number), "t" (seconds since
 * start), "method", "path", "attempt", "prompt_hash", "auth" (the
 * Authorization header or null), "headers" (the X-* ones), "fault",
 * "status", "body" (the parsed request body, or its text)}.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/strmap.h"
#include "common/util.h"

#define MAX_REQUEST (16u << 20)

/* ------------------------------------------------------------------------ */
/* Options and connections                                                   */
/* ------------------------------------------------------------------------ */

typedef struct opts {
    const char *log_path;
    int delay_ms;
    const char *models;
    const char *owned_by;
    const char *server_version;
    const char *key;
    int no_models, ignore_n, reject_n;
    int fault_mod; /* --fault-mod M: prompts whose hash % M == 0 get --fault SPEC */
    const char *fault_spec;
    const char *models_body; /* --models-body TEXT: /v1/models answers TEXT verbatim */
} opts;

enum conn_state { C_READ, C_WRITE, C_HANG, C_CLOSE };

typedef struct conn {
    int fd;
    uint64_t id; /* serial number, to tell kept-alive connections apart */
    int state;
    buf in, out;
    size_t out_off;
    double due;       /* when the response may be written */
    bool close_after; /* close once `out` is written */
} conn;

typedef struct server {
    opts o;
    FILE *log;
    strmap attempts; /* body hash -> attempts seen */
    conn *conns;
    size_t n_conns, cap_conns;
    uint64_t seq, n_accepted;
    double t0;
} server;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ------------------------------------------------------------------------ */
/* Directives                                                                */
/* ------------------------------------------------------------------------ */

/* Finds "[[NAME:" in text and copies what follows up to "]]" into out. */
static bool directive(const char *text, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "[[%s:", name);
    const char *p = strstr(text, pat);
    if (!p) return false;
    p += strlen(pat);
    const char *end = strstr(p, "]]");
    if (!end) return false;
    size_t n = (size_t)(end - p) < cap - 1 ? (size_t)(end - p) : cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* The value of OPT=VALUE in a fault spec "KIND:OPT=V:OPT=V", or NULL. */
static const char *fault_opt(const char *spec, const char *opt, char *out, size_t cap)
{
    size_t k = strlen(opt);
    for (const char *p = strchr(spec, ':'); p; p = strchr(p + 1, ':')) {
        if (strncmp(p + 1, opt, k) == 0 && p[1 + k] == '=') {
            const char *v = p + 2 + k;
            size_t n = strcspn(v, ":");
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                 */
/* ------------------------------------------------------------------------ */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

static void respond(conn *c, int status, const char *ctype, const char *extra_headers,
                    const char *body, size_t len)
{
    buf_printf(
        &c->out,
        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nServer: fake-openai\r\n"
        "%s%s\r\n",
        status, reason_phrase(status), ctype, len, extra_headers ? extra_headers : "",
        c->close_after ? "Connection: close\r\n" : "");
    buf_append(&c->out, body, len);
    c->state = C_WRITE;
}

static void respond_json(conn *c, int status, const char *extra_headers, cJSON *v)
{
    char *txt = cJSON_PrintUnformatted(v);
    respond(c, status, "application/json", extra_headers, txt ? txt : "{}", txt ? strlen(txt) : 2);
    free(txt);
}

static void respond_error(conn *c, int status, const char *extra_headers, const char *msg,
                          const char *type)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"error\": {\"message\": \"%s\", \"type\": \"%s\", \"param\": null, \"code\": %d}}",
             msg, type, status);
    respond(c, status, "application/json", extra_headers, body, strlen(body));
}

/* A value for a JSON Schema type. */
static cJSON *sample_value(const cJSON *schema)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
    const char *ty = cJSON_IsString(t) ? t->valuestring : "string";
    if (!strcmp(ty, "integer")) return cJSON_CreateNumber(1);
    if (!strcmp(ty, "number") || !strcmp(ty, "float")) return cJSON_CreateNumber(1.5);
    if (!strcmp(ty, "boolean")) return cJSON_CreateTrue();
    if (!strcmp(ty, "array")) return cJSON_CreateArray();
    if (!strcmp(ty, "object") || !strcmp(ty, "dict")) return cJSON_CreateObject();
    return cJSON_CreateString("x");
}

/* The first tool's name and arguments made from its required parameters. */
static bool tool_call_for(const cJSON *tools, const char *prompt_text, char **name, char **args)
{
    const cJSON *t0 = cJSON_GetArrayItem(tools, 0);
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t0, "function");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
    if (!cJSON_IsString(nm)) return false;
    *name = strdup(nm->valuestring);
    char given[4096];
    if (directive(prompt_text, "tool-args", given, sizeof given)) {
        *args = strdup(given);
        return true;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(params, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(params, "required");
    cJSON *a = cJSON_CreateObject();
    const cJSON *r;
    cJSON_ArrayForEach(r, req)
    {
        if (!cJSON_IsString(r)) continue;
        const cJSON *sch = cJSON_GetObjectItemCaseSensitive(props, r->valuestring);
        cJSON_AddItemToObject(a, r->valuestring, sample_value(sch));
    }
    *args = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return true;
}

typedef struct answer {
    int n;
    char **text; /* per choice; NULL for a tool-call-only message */
    char *tool_name, *tool_args;
    char reasoning_field[32], reasoning[512];
    char finish[32];
    int prompt_tokens, completion_tokens;
} answer;

static void answer_release(answer *a)
{
    for (int i = 0; i < a->n; i++) free(a->text[i]);
    free(a->text);
    free(a->tool_name);
    free(a->tool_args);
}

static int count_words(const char *s)
{
    int n = 0;
    bool in = false;
    for (; *s; s++) {
        bool sp = *s == ' ' || *s == '\n' || *s == '\t';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

static void make_answer(const cJSON *req, bool chat, const char *prompt_text, uint64_t ph, int n,
                        answer *a)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->text = calloc((size_t)n, sizeof *a->text);
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(req, "tool_choice");
    bool use_tools = chat && cJSON_GetArraySize(tools) > 0 &&
                     !(cJSON_IsString(tc) && !strcmp(tc->valuestring, "none"));
    if (use_tools && tool_call_for(tools, prompt_text, &a->tool_name, &a->tool_args))
        strcpy(a->finish, "tool_calls");
    else
        strcpy(a->finish, "stop");
    char reply[4096];
    bool fixed = directive(prompt_text, "reply", reply, sizeof reply);
    for (int i = 0; i < n; i++) {
        if (a->tool_name) continue;
        char t[4200];
        if (fixed)
            snprintf(t, sizeof t, "%s", reply);
        else
            snprintf(t, sizeof t, "The answer is %d. [req %016" PRIx64 "]", (int)(ph % 100), ph);
        if (i > 0) snprintf(t + strlen(t), sizeof t - strlen(t), " (choice %d)", i);
        a->text[i] = strdup(t);
        a->completion_tokens += count_words(t);
    }
    if (a->tool_name) a->completion_tokens += 10;
    char rs[600];
    if (directive(prompt_text, "reasoning", rs, sizeof rs)) {
        char *colon = strchr(rs, ':');
        if (colon) {
            *colon = 0;
            snprintf(a->reasoning_field, sizeof a->reasoning_field, "%s", rs);
            snprintf(a->reasoning, sizeof a->reasoning, "%s", colon + 1);
        }
    }
    char fin[32];
    if (directive(prompt_text, "finish", fin, sizeof fin))
        snprintf(a->finish, sizeof a->finish, "%s", fin);
    a->prompt_tokens = (int)(strlen(prompt_text) + 3) / 4;
}

static cJSON *usage_json(const answer *a)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", a->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", a->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", a->prompt_tokens + a->completion_tokens);
    return u;
}

static cJSON *tool_calls_json(const answer *a, bool with_args)
{
    cJSON *arr = cJSON_CreateArray();
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "id", "call_0");
    cJSON_AddStringToObject(c, "type", "function");
    cJSON *f = cJSON_AddObjectToObject(c, "function");
    cJSON_AddStringToObject(f, "name", a->tool_name);
    cJSON_AddStringToObject(f, "arguments", with_args ? a->tool_args : "");
    cJSON_AddItemToArray(arr, c);
    return arr;
}

static void answer_json(conn *c, const answer *a, bool chat, const char *model)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", chat ? "chatcmpl-fake" : "cmpl-fake");
    cJSON_AddStringToObject(r, "object", chat ? "chat.completion" : "text_completion");
    cJSON_AddNumberToObject(r, "created", 1735142223);
    cJSON_AddStringToObject(r, "model", model);
    cJSON *chs = cJSON_AddArrayToObject(r, "choices");
    for (int i = 0; i < a->n; i++) {
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", i);
        if (chat) {
            cJSON *m = cJSON_AddObjectToObject(ch, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            if (a->text[i])
                cJSON_AddStringToObject(m, "content", a->text[i]);
            else
                cJSON_AddNullToObject(m, "content");
            if (a->tool_name) cJSON_AddItemToObject(m, "tool_calls", tool_calls_json(a, true));
            if (a->reasoning_field[0]) cJSON_AddStringToObject(m, a->reasoning_field, a->reasoning);
        } else {
            cJSON_AddStringToObject(ch, "text", a->text[i] ? a->text[i] : "");
        }
        cJSON_AddNullToObject(ch, "logprobs");
        cJSON_AddStringToObject(ch, "finish_reason", a->finish);
        cJSON_AddItemToArray(chs, ch);
    }
    cJSON_AddItemToObject(r, "usage", usage_json(a));
    respond_json(c, 200, NULL, r);
    cJSON_Delete(r);
}

static void sse_put(buf *b, cJSON *v)
{
    char *t = cJSON_PrintUnformatted(v);
    buf_printf(b, "data: %s\n\n", t);
    free(t);
    cJSON_Delete(v);
}

static cJSON *chunk(bool chat, int index, cJSON *delta_or_text, const char *finish)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", "chatcmpl-fake");
    cJSON_AddStringToObject(r, "object", chat ? "chat.completion.chunk" : "text_completion");
    cJSON *chs = cJSON_AddArrayToObject(r, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", index);
    if (chat)
        cJSON_AddItemToObject(ch, "delta", delta_or_text ? delta_or_text : cJSON_CreateObject());
    else
        cJSON_AddItemToObject(ch, "text", delta_or_text ? delta_or_text : cJSON_CreateString(""));
    if (finish)
        cJSON_AddStringToObject(ch, "finish_reason", finish);
    else
        cJSON_AddNullToObject(ch, "finish_reason");
    cJSON_AddItemToArray(chs, ch);
    return r;
}

/* The answer as server-sent events: role, content in two pieces, tool-call
 * fragments, a finish chunk per choice, a usage chunk, [DONE]; with a
 * comment and an "event:" line among them, as real servers send. */
static void answer_sse(conn *c, const answer *a, bool chat, bool usage, bool error_mid)
{
    buf b = BUF_INIT;
    buf_puts(&b, ": ping\n\n");
    for (int i = 0; i < a->n; i++) {
        if (chat) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "role", "assistant");
            buf_puts(&b, "event: message\n");
            sse_put(&b, chunk(chat, i, d, NULL));
            if (a->reasoning_field[0]) {
                d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, a->reasoning_field, a->reasoning);
                sse_put(&b, chunk(chat, i, d, NULL));
            }
        }
        if (a->text[i]) {
            size_t len = strlen(a->text[i]), half = len / 2;
            char *p1 = strndup(a->text[i], half);
            for (int k = 0; k < 2; k++) {
                const char *piece = k ? a->text[i] + half : p1;
                cJSON *d;
                if (chat) {
                    d = cJSON_CreateObject();
                    cJSON_AddStringToObject(d, "content", piece);
                } else {
                    d = cJSON_CreateString(piece);
                }
                sse_put(&b, chunk(chat, i, d, NULL));
                if (error_mid && k == 0) {
                    buf_puts(&b, "data: {\"error\": {\"message\": \"injected stream error\", "
                                 "\"type\": \"server_error\", \"code\": 500}}\n\n");
                    free(p1);
                    goto done;
                }
            }
            free(p1);
        }
        if (a->tool_name) {
            /* the name with an empty arguments string, then the arguments in two fragments */
            cJSON *d = cJSON_CreateObject();
            cJSON_AddItemToObject(d, "tool_calls", tool_calls_json(a, false));
            sse_put(&b, chunk(chat, i, d, NULL));
            size_t len = strlen(a->tool_args), half = len / 2;
            for (int k = 0; k < 2; k++) {
                char *frag = k ? strdup(a->tool_args + half) : strndup(a->tool_args, half);
                cJSON *tcs = cJSON_CreateArray(), *tc = cJSON_CreateObject();
                cJSON_AddNumberToObject(tc, "index", 0);
                cJSON *f = cJSON_AddObjectToObject(tc, "function");
                cJSON_AddStringToObject(f, "arguments", frag);
                cJSON_AddItemToArray(tcs, tc);
                d = cJSON_CreateObject();
                cJSON_AddItemToObject(d, "tool_calls", tcs);
                sse_put(&b, chunk(chat, i, d, NULL));
                free(frag);
            }
        }
        sse_put(&b, chunk(chat, i, NULL, a->finish));
    }
    if (usage) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", "chatcmpl-fake");
        cJSON_AddArrayToObject(r, "choices");
        cJSON_AddItemToObject(r, "usage", usage_json(a));
        sse_put(&b, r);
    }
    buf_puts(&b, "data: [DONE]\n\n");
done:
    respond(c, 200, "text/event-stream", NULL, b.data, b.len);
    buf_release(&b);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct request {
    char method[8];
    char path[256];
    char auth[512];
    bool has_auth;
    bool close;
    cJSON *xheaders;
    const char *body;
    size_t body_len;
} request;

static void log_request(server *s, const conn *c, const request *rq, int attempt, const char *hash,
                        const char *fault, int status)
{
    if (!s->log) return;
    cJSON *l = cJSON_CreateObject();
    cJSON_AddNumberToObject(l, "seq", (double)++s->seq);
    cJSON_AddNumberToObject(l, "conn", (double)c->id);
    cJSON_AddNumberToObject(l, "t", time_now_s() - s->t0);
    cJSON_AddStringToObject(l, "method", rq->method);
    cJSON_AddStringToObject(l, "path", rq->path);
    cJSON_AddNumberToObject(l, "attempt", attempt);
    if (hash)
        cJSON_AddStringToObject(l, "prompt_hash", hash);
    else
        cJSON_AddNullToObject(l, "prompt_hash");
    if (rq->has_auth)
        cJSON_AddStringToObject(l, "auth", rq->auth);
    else
        cJSON_AddNullToObject(l, "auth");
    cJSON_AddItemToObject(l, "headers", cJSON_Duplicate(rq->xheaders, 1));
    if (fault)
        cJSON_AddStringToObject(l, "fault", fault);
    else
        cJSON_AddNullToObject(l, "fault");
    cJSON_AddNumberToObject(l, "status", status);
    cJSON *b = rq->body_len ? cJSON_ParseWithLength(rq->body, rq->body_len) : NULL;
    if (b)
        cJSON_AddItemToObject(l, "body", b);
    else {
        char *t = strndup(rq->body ? rq->body : "", rq->body_len);
        cJSON_AddStringToObject(l, "body", t);
        free(t);
    }
    char *txt = cJSON_PrintUnformatted(l);
    fprintf(s->log, "%s\n", txt);
    fflush(s->log);
    free(txt);
    cJSON_Delete(l);
}

/* The prompt text: the messages' contents joined with "\n", or the raw prompt. */
static void prompt_text_of(const cJSON *req, bool chat, buf *out)
{
    if (!chat) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
        if (cJSON_IsString(p)) buf_puts(out, p->valuestring);
        return;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(req, "messages"))
    {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(ct)) continue;
        if (out->len) buf_putc(out, '\n');
        buf_puts(out, ct->valuestring);
    }
}

static bool model_known(const server *s, const char *m)
{
    size_t k = strlen(m);
    for (const char *p = s->o.models; *p;) {
        size_t n = strcspn(p, ",");
        if (n == k && strncmp(p, m, k) == 0) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

static void handle_models(server *s, conn *c)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(r, "data");
    for (const char *p = s->o.models; *p;) {
        size_t n = strcspn(p, ",");
        char *id = strndup(p, n);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", id);
        cJSON_AddStringToObject(m, "object", "model");
        cJSON_AddNumberToObject(m, "created", 1735142223);
        cJSON_AddStringToObject(m, "owned_by", s->o.owned_by);
        cJSON_AddNumberToObject(m, "max_model_len", 32768);
        cJSON_AddItemToArray(data, m);
        free(id);
        p += n;
        if (*p == ',') p++;
    }
    respond_json(c, 200, NULL, r);
    cJSON_Delete(r);
}

static void handle_completion(server *s, conn *c, const request *rq, bool chat)
{
    cJSON *req = cJSON_ParseWithLength(rq->body, rq->body_len);
    buf pt = BUF_INIT;
    char hash[17] = "", fault[256] = "", headers[256] = "", opt[64];
    int attempt = 0, status = 200;
    const char *fault_kind = NULL;
    if (!cJSON_IsObject(req)) {
        respond_error(c, 400, NULL, "the body is not a JSON object", "invalid_request_error");
        log_request(s, c, rq, 0, NULL, NULL, 400);
        goto out;
    }
    prompt_text_of(req, chat, &pt);
    uint64_t ph = fnv1a(pt.data, pt.len);
    snprintf(hash, sizeof hash, "%016" PRIx64, ph);
    /* attempts are counted per distinct body: a retry sends the same bytes */
    uint64_t bh = fnv1a(rq->body, rq->body_len);
    size_t seen = 0;
    strmap_get(&s->attempts, (const char *)&bh, sizeof bh, &seen);
    strmap_put(&s->attempts, (const char *)&bh, sizeof bh, seen + 1);
    attempt = (int)seen + 1;
    bool has_fault = directive(pt.data, "fault", fault, sizeof fault);
    if (!has_fault && s->o.fault_mod > 0 && s->o.fault_spec && ph % (uint64_t)s->o.fault_mod == 0) {
        snprintf(fault, sizeof fault, "%s", s->o.fault_spec);
        has_fault = true;
    }
    if (has_fault) {
        int times = fault_opt(fault, "times", opt, sizeof opt) ? atoi(opt) : 1 << 30;
        if (attempt <= times) fault_kind = fault;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    if (!cJSON_IsString(model) || !model_known(s, model->valuestring)) {
        respond_error(c, 404, NULL, "The model does not exist.", "NotFoundError");
        status = 404;
        goto logit;
    }
    char dl[32];
    c->due += s->o.delay_ms / 1000.0;
    if (directive(pt.data, "delay", dl, sizeof dl)) c->due = time_now_s() + atoi(dl) / 1000.0;
    if (fault_kind) {
        char kind[32];
        snprintf(kind, sizeof kind, "%.*s", (int)strcspn(fault_kind, ":"), fault_kind);
        int code = atoi(kind);
        if (fault_opt(fault_kind, "retry-after", opt, sizeof opt))
            snprintf(headers, sizeof headers, "Retry-After: %s\r\n", opt);
        if (fault_opt(fault_kind, "retry-after-ms", opt, sizeof opt))
            snprintf(headers + strlen(headers), sizeof headers - strlen(headers),
                     "retry-after-ms: %s\r\n", opt);
        if (fault_opt(fault_kind, "retry-after-date", opt, sizeof opt)) {
            time_t t = time(NULL) + atoi(opt);
            struct tm tm;
            gmtime_r(&t, &tm);
            char d[64];
            strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
            snprintf(headers + strlen(headers), sizeof headers - strlen(headers),
                     "Retry-After: %s\r\n", d);
        }
        if (code >= 400) {
            char msg[64];
            snprintf(msg, sizeof msg, "injected fault %d", code);
            respond_error(c, code, headers, msg,
                          code >= 500 ? "server_error" : "invalid_request_error");
            status = code;
        } else if (!strcmp(kind, "flat400")) {
            const char *b = "{\"object\": \"error\", \"message\": \"injected flat error\", "
                            "\"type\": \"BadRequestError\", \"param\": null, \"code\": 400}";
            respond(c, 400, "application/json", NULL, b, strlen(b));
            status = 400;
        } else if (!strcmp(kind, "hang")) {
            c->state = C_HANG;
            status = 0;
        } else if (!strcmp(kind, "drop")) {
            buf_puts(&c->out, "HTTP/1.1 200 OK\r\nContent-Ty");
            c->state = C_WRITE;
            c->close_after = true;
            status = 0;
        } else if (!strcmp(kind, "drop0")) {
            c->state = C_CLOSE;
            status = 0;
        } else if (!strcmp(kind, "dropmid")) {
            buf_puts(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: 1000\r\n\r\n{\"choices\": [{\"ind");
            c->state = C_WRITE;
            c->close_after = true;
            status = 0;
        } else if (!strcmp(kind, "badjson")) {
            const char *b =
                "{\"id\": \"x\", \"choices\": [{\"index\": 0, \"message\": {\"content\": \"tru";
            respond(c, 200, "application/json", NULL, b, strlen(b));
        } else if (!strcmp(kind, "empty")) {
            const char *b = "{\"id\": \"x\", \"object\": \"chat.completion\", \"choices\": [], "
                            "\"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 0}}";
            respond(c, 200, "application/json", NULL, b, strlen(b));
        } else if (!strcmp(kind, "error200")) {
            const char *b = "{\"error\": {\"message\": \"injected error in a 200\", \"type\": "
                            "\"server_error\", \"code\": null}}";
            respond(c, 200, "application/json", NULL, b, strlen(b));
        } else if (!strcmp(kind, "streamerror")) {
            answer a;
            make_answer(req, chat, pt.data, ph, 1, &a);
            answer_sse(c, &a, chat, false, true);
            answer_release(&a);
        } else {
            respond_error(c, 500, NULL, "unknown fault kind", "server_error");
            status = 500;
        }
        goto logit;
    }
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(req, "n");
    int n = cJSON_IsNumber(nj) ? (int)nj->valuedouble : 1;
    if (n < 1 || n > 128) {
        respond_error(c, 400, NULL, "n must be between 1 and 128", "invalid_request_error");
        status = 400;
        goto logit;
    }
    if (n > 1 && s->o.reject_n) {
        respond_error(c, 400, NULL, "Only one completion choice is allowed",
                      "invalid_request_error");
        status = 400;
        goto logit;
    }
    if (s->o.ignore_n) n = 1;
    answer a;
    make_answer(req, chat, pt.data, ph, n, &a);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(req, "stream");
    if (cJSON_IsTrue(st)) {
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
        answer_sse(c, &a, chat, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")),
                   false);
    } else {
        answer_json(c, &a, chat, model->valuestring);
    }
    answer_release(&a);
logit:
    log_request(s, c, rq, attempt, hash, fault_kind, status);
out:
    buf_release(&pt);
    cJSON_Delete(req);
}

static void handle(server *s, conn *c, const request *rq)
{
    c->due = time_now_s(); /* completions add --delay-ms */
    c->close_after = rq->close;
    if (s->o.key) {
        char want[600];
        snprintf(want, sizeof want, "Bearer %s", s->o.key);
        if (!rq->has_auth || strcmp(rq->auth, want) != 0) {
            respond_error(c, 401, NULL, "invalid api key", "authentication_error");
            log_request(s, c, rq, 0, NULL, NULL, 401);
            return;
        }
    }
    bool post = !strcmp(rq->method, "POST"), get = !strcmp(rq->method, "GET");
    if (get && !strcmp(rq->path, "/v1/models") && s->o.models_body) {
        respond(c, 200, "application/json", NULL, s->o.models_body, strlen(s->o.models_body));
        log_request(s, c, rq, 0, NULL, NULL, 200);
    } else if (get && !strcmp(rq->path, "/v1/models") && !s->o.no_models) {
        handle_models(s, c);
        log_request(s, c, rq, 0, NULL, NULL, 200);
    } else if (get && !strcmp(rq->path, "/version") && s->o.server_version) {
        char b[256];
        snprintf(b, sizeof b, "{\"version\": \"%s\"}", s->o.server_version);
        respond(c, 200, "application/json", NULL, b, strlen(b));
        log_request(s, c, rq, 0, NULL, NULL, 200);
    } else if (post && !strcmp(rq->path, "/v1/chat/completions")) {
        handle_completion(s, c, rq, true);
    } else if (post && !strcmp(rq->path, "/v1/completions")) {
        handle_completion(s, c, rq, false);
    } else {
        respond_error(c, 404, NULL, "no such endpoint", "not_found_error");
        log_request(s, c, rq, 0, NULL, NULL, 404);
    }
}

/* Parses one complete request at the start of c->in; returns its length, 0
 * when incomplete, -1 when malformed (answered with 400 and closed). */
static long parse_request(server *s, conn *c)
{
    char *hend = (char *)mem_find(c->in.data, c->in.len, "\r\n\r\n", 4);
    if (!hend) {
        if (c->in.len > 65536) goto bad;
        return 0;
    }
    request rq;
    memset(&rq, 0, sizeof rq);
    size_t hlen = (size_t)(hend - c->in.data) + 4;
    char *line = c->in.data;
    char *eol = strstr(line, "\r\n");
    char proto[16] = "";
    if (sscanf(line, "%7s %255s %15s", rq.method, rq.path, proto) != 3) goto bad;
    long clen = 0;
    rq.xheaders = cJSON_CreateObject();
    for (char *h = eol + 2; h < hend;) {
        char *e = strstr(h, "\r\n");
        *e = 0;
        char *colon = strchr(h, ':');
        if (colon) {
            *colon = 0;
            char *v = colon + 1;
            while (*v == ' ') v++;
            if (!strcasecmp(h, "content-length"))
                clen = atol(v);
            else if (!strcasecmp(h, "authorization")) {
                rq.has_auth = true;
                snprintf(rq.auth, sizeof rq.auth, "%s", v);
            } else if (!strcasecmp(h, "connection") && !strcasecmp(v, "close"))
                rq.close = true;
            else if (!strcasecmp(h, "transfer-encoding"))
                clen = -1;
            else if (!strncasecmp(h, "x-", 2))
                cJSON_AddStringToObject(rq.xheaders, h, v);
            *colon = ':';
        }
        *e = '\r';
        h = e + 2;
    }
    if (clen < 0 || clen > (long)MAX_REQUEST) {
        cJSON_Delete(rq.xheaders);
        goto bad;
    }
    if (c->in.len < hlen + (size_t)clen) {
        cJSON_Delete(rq.xheaders);
        return 0;
    }
    rq.body = c->in.data + hlen;
    rq.body_len = (size_t)clen;
    handle(s, c, &rq);
    cJSON_Delete(rq.xheaders);
    return (long)(hlen + (size_t)clen);
bad:
    c->close_after = true;
    respond_error(c, 400, NULL, "malformed request", "invalid_request_error");
    c->in.len = 0;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

static void conn_close(conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    buf_release(&c->in);
    buf_release(&c->out);
}

static void conn_read(server *s, conn *c)
{
    char tmp[65536];
    for (;;) {
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r > 0) {
            if (buf_append(&c->in, tmp, (size_t)r) < 0) {
                c->state = C_CLOSE;
                return;
            }
            continue;
        }
        if (r == 0) {
            c->state = C_CLOSE; /* the client is gone (also ends a hang) */
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c->state = C_CLOSE;
        break;
    }
    if (c->state == C_READ) {
        long used = parse_request(s, c);
        if (used > 0) {
            memmove(c->in.data, c->in.data + used, c->in.len - (size_t)used);
            c->in.len -= (size_t)used;
            c->in.data[c->in.len] = 0;
        }
    }
}

static void conn_write(conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t w = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
        if (w > 0) {
            c->out_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        c->state = C_CLOSE;
        return;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    c->state = c->close_after ? C_CLOSE : C_READ;
}

static void accept_all(server *s, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (s->n_conns == s->cap_conns) {
            s->cap_conns = s->cap_conns ? s->cap_conns * 2 : 64;
            s->conns = realloc(s->conns, s->cap_conns * sizeof *s->conns);
        }
        conn *c = &s->conns[s->n_conns++];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->id = ++s->n_accepted;
        c->state = C_READ;
        buf_init(&c->in, MAX_REQUEST + 65536);
        buf_init(&c->out, 0);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: fake_openai [--log FILE] [--delay-ms N] [--models ID,ID] "
                    "[--owned-by S] [--server-version V] [--key KEY] [--no-models] "
                    "[--ignore-n] [--reject-n] [--fault-mod M --fault SPEC]\n");
    return 2;
}

int main(int argc, char **argv)
{
    server s;
    memset(&s, 0, sizeof s);
    s.o.models = "fake";
    s.o.owned_by = "fake";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--log") && v)
            s.o.log_path = v, i++;
        else if (!strcmp(a, "--delay-ms") && v)
            s.o.delay_ms = atoi(v), i++;
        else if (!strcmp(a, "--models") && v)
            s.o.models = v, i++;
        else if (!strcmp(a, "--owned-by") && v)
            s.o.owned_by = v, i++;
        else if (!strcmp(a, "--server-version") && v)
            s.o.server_version = v, i++;
        else if (!strcmp(a, "--key") && v)
            s.o.key = v, i++;
        else if (!strcmp(a, "--no-models"))
            s.o.no_models = 1;
        else if (!strcmp(a, "--models-body") && v)
            s.o.models_body = v, i++;
        else if (!strcmp(a, "--ignore-n"))
            s.o.ignore_n = 1;
        else if (!strcmp(a, "--reject-n"))
            s.o.reject_n = 1;
        else if (!strcmp(a, "--fault-mod") && v)
            s.o.fault_mod = atoi(v), i++;
        else if (!strcmp(a, "--fault") && v)
            s.o.fault_spec = v, i++;
        else
            return usage();
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (s.o.log_path && !(s.log = fopen(s.o.log_path, "a"))) {
        perror(s.o.log_path);
        return 1;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("fake_openai: listen");
        return 1;
    }
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    s.t0 = time_now_s();
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    bool watch_stdin = true;
    struct pollfd *pfd = NULL;
    size_t pcap = 0;
    while (!stop_flag) {
        /* drop closed connections */
        size_t w = 0;
        for (size_t i = 0; i < s.n_conns; i++) {
            if (s.conns[i].state == C_CLOSE)
                conn_close(&s.conns[i]);
            else
                s.conns[w++] = s.conns[i];
        }
        s.n_conns = w;
        if (pcap < s.n_conns + 2) {
            pcap = (s.n_conns + 2) * 2;
            pfd = realloc(pfd, pcap * sizeof *pfd);
        }
        double now = time_now_s(), next = now + 1.0;
        size_t np = 0;
        pfd[np++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = watch_stdin ? 0 : -1, .events = POLLIN};
        for (size_t i = 0; i < s.n_conns; i++) {
            conn *c = &s.conns[i];
            short ev = POLLIN;
            if (c->state == C_WRITE) {
                if (c->due <= now)
                    ev |= POLLOUT;
                else if (c->due < next)
                    next = c->due;
            }
            pfd[np++] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        int t = (int)((next - now) * 1000) + 1;
        int pr = poll(pfd, np, t);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        if (pfd[1].revents) {
            char tmp[256];
            ssize_t r = read(0, tmp, sizeof tmp);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break; /* parent gone */
        }
        size_t n_before = s.n_conns;
        for (size_t i = 0; i < n_before; i++) {
            conn *c = &s.conns[i];
            short re = pfd[i + 2].revents;
            if (re & (POLLIN | POLLHUP | POLLERR)) {
                if (c->state == C_READ || c->state == C_HANG)
                    conn_read(&s, c);
                else if (c->state == C_WRITE) {
                    /* a request while the answer waits: read later; EOF still closes */
                    char peek;
                    ssize_t r = recv(c->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
                    if (r == 0) c->state = C_CLOSE;
                }
            }
            if (c->state == C_WRITE && c->due <= time_now_s()) conn_write(c);
        }
        if (pfd[0].revents & POLLIN) accept_all(&s, lfd);
    }
    for (size_t i = 0; i < s.n_conns; i++) conn_close(&s.conns[i]);
    free(s.conns);
    free(pfd);
    strmap_release(&s.attempts);
    if (s.log) fclose(s.log);
    close(lfd);
    return 0;
}
