/* openai.c: the runner that asks an OpenAI-compatible server (vLLM, SGLang,
 * llama.cpp, Ollama, hosted APIs) over HTTP.
 *
 * open     checks {base}/models: an unreachable server or a model the server
 *          does not serve is one error before any work starts; also finds
 *          the server's kind and version when it tells (owned_by, Server
 *          header, /version, /props, /get_server_info, /api/version).
 * generate keeps up to `concurrency` requests in flight through one libcurl
 *          multi handle (no thread per request; connections kept alive and
 *          HTTP/2 multiplexed where a TLS server offers it), hands each
 *          completion to on_done as soon as it is read, retries transient
 *          failures, and paces requests to `rps` when set.
 *
 * Base URL: used as given ("http://host:8000/v1", ".../v1beta/openai"); one
 * with no path at all gets "/v1". Requests go to {base}/chat/completions
 * (chat prompts) and {base}/completions (raw prompts); the bodies are
 * openai_wire.h's.
 *
 * Retries (MODELS.md §4.6): connection failures (refused, reset, dropped
 * mid-answer), timeouts, HTTP 408/429/500/502/503/504, a 200 whose body is
 * not a readable answer, and an answer with no choices are retried up to
 * `max_retries` times, waiting retry_base_s doubling up to retry_max_s with
 * 0-25% jitter, or what retry-after-ms / Retry-After says (capped at 60 s).
 * Other statuses (400, 401, 403, 404, 422, 501...) are the sample's error
 * with the server's message, not retried. A request that keeps failing is
 * handed back with `error` set, the kind of its last failure, and the list
 * of what each attempt got; the harness records it and asks again next run.
 *
 * Samples: one request per (item, sample) with that sample's seed. With
 * n_per_request > 1, consecutive requests for the same prompt and sampling
 * are asked together with "n" and the first one's seed; when a server
 * returns fewer choices than asked (Ollama) or rejects "n" (older
 * llama.cpp), the rest are asked one by one and "n" is not used again.
 * With n > 1 the server reports completion tokens for all choices together,
 * so each sample's completion_tokens is -1 (unknown).
 *
 * Latency is the duration of the attempt that produced the answer (connect
 * to last byte), not counting earlier attempts and waits. The API key is
 * sent as "Authorization: Bearer KEY" and never appears in describe, notes
 * or messages; describe gives only the names of extra headers.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "openai_wire.h"
#include "runner.h"

#define OA_RESPONSE_CAP      ((size_t)64 << 20) /* largest answer read */
#define OA_MODELS_CAP        ((size_t)16 << 20)
#define OA_RETRY_AFTER_CAP_S 60.0
#define OA_HISTORY           160

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct oa_job {
    size_t first; /* index of its first request in the batch */
    size_t count; /* requests it answers (its "n") */
    int style;    /* enum wire_style */
    int attempts;
    char history[OA_HISTORY]; /* what each failed attempt got: "503, timeout, ..." */
} oa_job;

enum slot_state { SLOT_IDLE, SLOT_ACTIVE, SLOT_SLEEPING };

typedef struct oa_slot {
    CURL *h;
    int state;
    size_t job;     /* while not idle */
    double wake_at; /* while sleeping: when to send the next attempt */
    buf body;       /* the request body (kept for retries) */
    buf resp;       /* the answer */
    char retry_after[64], retry_after_ms[32];
    bool sse; /* the answer is text/event-stream */
    char errbuf[CURL_ERROR_SIZE];
} oa_slot;

typedef struct openai {
    char *base;   /* without a trailing slash */
    char *root;   /* base without its final "/v1" (server probes), or NULL */
    char *url[2]; /* by wire style */
    char *model;
    struct curl_slist *headers;
    cJSON *header_names; /* array of the extra headers' names (for describe) */
    bool has_key;
    int concurrency, max_retries, n_per_request;
    long timeout_ms, connect_timeout_ms;
    double rps, retry_base_s, retry_max_s;
    bool stream;
    cJSON *extra; /* --extra-body object, or NULL */
    const volatile int *cancel;
    /* what the server told */
    cJSON *models;       /* the /models body, or NULL */
    const cJSON *served; /* our entry in it */
    bool models_missing; /* the server has no /models */
    char server_header[128];
    char *server_kind, *server_version;
    bool n_unsupported;
    /* transport */
    bool curl_inited;
    CURLM *multi;
    oa_slot *slots;
    int n_slots;
    rng jitter;
    double next_send; /* rps pacing: earliest time of the next send */
} openai;

/* ------------------------------------------------------------------------ */
/* HTTP helpers                                                              */
/* ------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) == 0 ? n : 0; /* 0 makes curl fail with CURLE_WRITE_ERROR */
}

/* Copies the value of header line `line` into out when its name is `name`. */
static bool header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return false;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t m = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, m);
    out[m] = 0;
    return true;
}

static size_t on_slot_header(char *p, size_t size, size_t nmemb, void *ud)
{
    oa_slot *sl = ud;
    size_t n = size * nmemb;
    char ct[64];
    if (header_value(p, n, "retry-after", sl->retry_after, sizeof sl->retry_after)) return n;
    if (header_value(p, n, "retry-after-ms", sl->retry_after_ms, sizeof sl->retry_after_ms))
        return n;
    if (header_value(p, n, "content-type", ct, sizeof ct))
        sl->sse = strncasecmp(ct, "text/event-stream", 17) == 0;
    return n;
}

static size_t on_probe_header(char *p, size_t size, size_t nmemb, void *ud)
{
    openai *o = ud;
    size_t n = size * nmemb;
    header_value(p, n, "server", o->server_header, sizeof o->server_header);
    return n;
}

static void set_common(openai *o, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tally");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (str_starts(o->base, "https:")) curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
}

/* A blocking GET (used by open). Transport failures are ERR_IO with curl's words. */
static int http_get(openai *o, const char *url, long timeout_ms, long *status, buf *body,
                    bool capture_server, err *e)
{
    CURL *h = curl_easy_init();
    char eb[CURL_ERROR_SIZE] = "";
    if (!h) return err_set(e, ERR_NOMEM, "openai: cannot create a curl handle");
    set_common(o, h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, eb);
    if (capture_server) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_probe_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, o);
    }
    CURLcode cc = curl_easy_perform(h);
    int ret = 0;
    if (cc != CURLE_OK) {
        ret = err_set(e, cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_IO, "%s: %s", url,
                      eb[0] ? eb : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    }
    curl_easy_cleanup(h);
    return ret;
}

/* Seconds to wait before attempt `attempts + 1`: the server's word when it
 * gave one, else exponential backoff with jitter. */
static double retry_wait(openai *o, int attempts, const char *ra_ms, const char *ra)
{
    double w = wire_retry_after(ra_ms && *ra_ms ? ra_ms : NULL, ra && *ra ? ra : NULL, time(NULL));
    if (w >= 0) return w < OA_RETRY_AFTER_CAP_S ? w : OA_RETRY_AFTER_CAP_S;
    double b = o->retry_base_s * pow(2.0, attempts > 1 ? attempts - 1 : 0);
    if (b > o->retry_max_s) b = o->retry_max_s;
    return b * (1.0 - 0.25 * rng_uniform(&o->jitter));
}

static void sleep_s(double s)
{
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------------ */
/* open: settings, /models, server kind                                      */
/* ------------------------------------------------------------------------ */

static int set_base(openai *o, const char *url, err *e)
{
    if (!url || !*url)
        return err_set(e, ERR_USAGE,
                       "--base-url: required by the openai backend "
                       "(e.g. http://127.0.0.1:8000/v1)");
    const char *after = NULL;
    if (str_starts(url, "http://"))
        after = url + 7;
    else if (str_starts(url, "https://"))
        after = url + 8;
    if (!after || !*after || *after == '/')
        return err_set(e, ERR_USAGE, "--base-url %s: expected http://HOST[:PORT]/v1 or https://...",
                       url);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return err_set(e, ERR_USAGE, "--base-url: spaces or control characters in the URL");
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    bool has_path = memchr(after, '/', (size_t)(url + n - after)) != NULL;
    buf b = BUF_INIT;
    if (buf_append(&b, url, n) < 0 || (!has_path && buf_puts(&b, "/v1") < 0)) {
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    o->base = buf_detach(&b, NULL);
    if (!o->base) return err_set(e, ERR_NOMEM, "out of memory");
    if (str_ends(o->base, "/v1")) o->root = strndup(o->base, strlen(o->base) - 3);
    for (int s = 0; s < 2; s++) {
        size_t len = strlen(o->base) + strlen(wire_path(s)) + 1;
        o->url[s] = malloc(len);
        if (!o->url[s]) return err_set(e, ERR_NOMEM, "out of memory");
        snprintf(o->url[s], len, "%s%s", o->base, wire_path(s));
    }
    return 0;
}

static int add_header(openai *o, const char *h, err *e)
{
    struct curl_slist *n = curl_slist_append(o->headers, h);
    if (!n) return err_set(e, ERR_NOMEM, "out of memory");
    o->headers = n;
    return 0;
}

/* Extra headers given as "Name: value" or "Name:value". */
static int set_headers(openai *o, const runner_settings *s, err *e)
{
    int ret;
    bool user_auth = false;
    o->header_names = cJSON_CreateArray();
    if (!o->header_names) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n_headers; i++) {
        const char *h = s->headers[i];
        const char *colon = h ? strchr(h, ':') : NULL;
        if (!colon || colon == h)
            return err_set(e, ERR_USAGE, "--header %s: expected NAME:VALUE", h ? h : "(null)");
        for (const char *p = h; *p; p++)
            if (*p == '\r' || *p == '\n')
                return err_set(e, ERR_USAGE, "--header: a line break in a header");
        for (const char *p = h; p < colon; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return err_set(e, ERR_USAGE, "--header %.*s: a space in the header name",
                               (int)(colon - h), h);
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *line = NULL;
        if (asprintf(&line, "%.*s: %s", (int)(colon - h), h, v) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        ret = add_header(o, line, e);
        free(line);
        if (ret < 0) return ret;
        char *name = strndup(h, (size_t)(colon - h));
        cJSON *nm = name ? cJSON_CreateString(name) : NULL;
        free(name);
        if (!nm) return err_set(e, ERR_NOMEM, "out of memory");
        cJSON_AddItemToArray(o->header_names, nm);
        if ((size_t)(colon - h) == 13 && strncasecmp(h, "authorization", 13) == 0) user_auth = true;
    }
    if ((ret = add_header(o, "Content-Type: application/json", e)) < 0) return ret;
    if ((ret = add_header(o, "Expect:", e)) < 0) return ret; /* no 100-continue round trip */
    if (s->api_key && *s->api_key && !user_auth) {
        for (const char *p = s->api_key; *p; p++)
            if (*p == '\r' || *p == '\n')
                return err_set(e, ERR_USAGE, "the API key contains a line break");
        char *line = NULL;
        if (asprintf(&line, "Authorization: Bearer %s", s->api_key) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        ret = add_header(o, line, e);
        memset(line, 0, strlen(line));
        free(line);
        if (ret < 0) return ret;
        o->has_key = true;
    }
    return 0;
}

/* Looks our model up in the /models answer. */
static int check_models(openai *o, const char *url, const buf *body, err *e)
{
    int ret = json_parse(body->data, body->len, url, &o->models, e);
    if (ret < 0) return ret;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o->models, "data");
    if (!cJSON_IsArray(data))
        data = cJSON_GetObjectItemCaseSensitive(o->models, "models"); /* some gateways */
    if (!cJSON_IsArray(data))
        return err_set(e, ERR_PARSE, "%s: the answer has no \"data\" array of models", url);
    buf ids = BUF_INIT;
    size_t n_ids = 0;
    const cJSON *m;
    char latest[512];
    snprintf(latest, sizeof latest, "%s:latest", o->model);
    cJSON_ArrayForEach(m, data)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (!cJSON_IsString(id)) continue;
        /* Ollama serves "name:tag" and answers requests for "name" with "name:latest" */
        if (strcmp(id->valuestring, o->model) == 0 ||
            (!strchr(o->model, ':') && strcmp(id->valuestring, latest) == 0)) {
            o->served = m;
            break;
        }
        if (n_ids < 10) buf_printf(&ids, "%s%s", n_ids ? ", " : "", id->valuestring);
        n_ids++;
    }
    if (!o->served) {
        ret = err_set(e, ERR_NOTFOUND, "--model %s: %s does not serve it (it serves %s%s)",
                      o->model, o->base, n_ids ? ids.data : "no model", n_ids > 10 ? ", ..." : "");
    }
    buf_release(&ids);
    return ret;
}

/* The server's kind from what /models and its headers say, and its version
 * from the kind's own endpoint when it has one. Failures are not errors. */
static void find_server(openai *o)
{
    const char *owned = NULL;
    const cJSON *ob = o->served ? cJSON_GetObjectItemCaseSensitive(o->served, "owned_by") : NULL;
    if (cJSON_IsString(ob)) owned = ob->valuestring;
    const char *kind = NULL, *probe = NULL, *field = NULL;
    if (owned && strcasecmp(owned, "vllm") == 0)
        kind = "vllm", probe = "/version", field = "version";
    else if (owned && strcasecmp(owned, "sglang") == 0)
        kind = "sglang", probe = "/get_server_info", field = "version";
    else if ((owned && strcasecmp(owned, "llamacpp") == 0) ||
             strcasestr(o->server_header, "llama.cpp"))
        kind = "llama.cpp", probe = "/props", field = "build_info";
    else if ((owned && strcasecmp(owned, "library") == 0) || strcasestr(o->server_header, "ollama"))
        kind = "ollama", probe = "/api/version", field = "version";
    if (!kind) return;
    o->server_kind = strdup(kind);
    if (!o->root) return;
    char url[1024];
    snprintf(url, sizeof url, "%s%s", o->root, probe);
    buf body = BUF_INIT;
    buf_init(&body, 1 << 20);
    long status = 0;
    long t = o->timeout_ms < 10000 ? o->timeout_ms : 10000;
    if (http_get(o, url, t, &status, &body, false, NULL) == 0 && status == 200) {
        cJSON *v = cJSON_ParseWithLength(body.data, body.len);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, field);
        if (cJSON_IsString(f)) o->server_version = strdup(f->valuestring);
        cJSON_Delete(v);
    }
    buf_release(&body);
}

/* GET {base}/models, retrying what is transient (a server still loading). */
static int probe_models(openai *o, err *e)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/models", o->base);
    buf body = BUF_INIT;
    buf_init(&body, OA_MODELS_CAP);
    long t = o->timeout_ms < 30000 ? o->timeout_ms : 30000;
    int ret = 0;
    for (int attempt = 1;; attempt++) {
        long status = 0;
        buf_reset(&body);
        err ge = ERR_INIT;
        ret = http_get(o, url, t, &status, &body, true, &ge);
        if (ret < 0) {
            /* an unreachable server is one clear line, at once */
            ret = err_set(e, ret,
                          "openai: cannot reach %s (is the server running and --base-url "
                          "right?)",
                          ge.msg);
            goto out;
        }
        if (status >= 200 && status < 300) {
            ret = check_models(o, url, &body, e);
            goto out;
        }
        if (status == 404 || status == 405) { /* some gateways have no /models */
            o->models_missing = true;
            ret = 0;
            goto out;
        }
        if (wire_status_retryable(status) && attempt <= o->max_retries) {
            sleep_s(retry_wait(o, attempt, NULL, NULL));
            continue;
        }
        buf msg = BUF_INIT;
        wire_error_message(body.data, body.len, 300, &msg);
        ret = err_set(e, ERR_HTTP, "openai: %s answered HTTP %ld: %s%s", url, status, msg.data,
                      status == 401 || status == 403 ? " (check the API key)" : "");
        buf_release(&msg);
        goto out;
    }
out:
    buf_release(&body);
    return ret;
}

static int oa_open(void **state, const runner_settings *s, err *e)
{
    openai *o = calloc(1, sizeof *o);
    if (!o) return err_set(e, ERR_NOMEM, "out of memory");
    *state = o;
    int ret;
    if (!s->model || !*s->model)
        return err_set(e, ERR_USAGE, "--model: the openai backend needs the served model name");
    if ((ret = set_base(o, s->base_url, e)) < 0) return ret;
    if (!(o->model = strdup(s->model))) return err_set(e, ERR_NOMEM, "out of memory");
    if (s->concurrency < 1 || s->concurrency > 4096)
        return err_set(e, ERR_USAGE, "--concurrency %d: expected 1 to 4096", s->concurrency);
    if (s->max_retries < 0 || s->max_retries > 100)
        return err_set(e, ERR_USAGE, "--max-retries %d: expected 0 to 100", s->max_retries);
    if (!(s->timeout_s > 0) || s->timeout_s > 86400)
        return err_set(e, ERR_USAGE, "--timeout %g: expected seconds in (0, 86400]", s->timeout_s);
    if (!(s->rps >= 0) || !isfinite(s->rps))
        return err_set(e, ERR_USAGE, "--rps %g: expected a rate >= 0 (0 = unlimited)", s->rps);
    if (s->n_per_request < 0 || s->n_per_request > 1024)
        return err_set(e, ERR_USAGE, "--n-per-request %d: expected 1 to 1024", s->n_per_request);
    if (!(s->retry_base_s >= 0) || !(s->retry_max_s >= s->retry_base_s))
        return err_set(e, ERR_INVALID, "openai: retry backoff %g..%g s makes no sense",
                       s->retry_base_s, s->retry_max_s);
    o->concurrency = s->concurrency;
    o->max_retries = s->max_retries;
    o->n_per_request = s->n_per_request > 1 ? s->n_per_request : 1;
    o->timeout_ms = (long)ceil(s->timeout_s * 1000);
    o->connect_timeout_ms = o->timeout_ms < 30000 ? o->timeout_ms : 30000;
    o->rps = s->rps;
    o->retry_base_s = s->retry_base_s;
    o->retry_max_s = s->retry_max_s;
    o->stream = s->stream;
    o->cancel = s->cancel;
    rng_seed(&o->jitter, (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)o);
    if (s->extra_body && *s->extra_body) {
        o->extra = cJSON_Parse(s->extra_body);
        if (!cJSON_IsObject(o->extra))
            return err_set(e, ERR_USAGE, "--extra-body: expected a JSON object");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return err_set(e, ERR_INTERNAL, "openai: libcurl failed to initialise");
    o->curl_inited = true;
    if ((ret = set_headers(o, s, e)) < 0) return ret;
    if (!(o->multi = curl_multi_init()))
        return err_set(e, ERR_NOMEM, "openai: curl_multi_init failed");
    curl_multi_setopt(o->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, (long)o->concurrency + 4);
    if ((ret = probe_models(o, e)) < 0) return ret;
    find_server(o);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* describe and notes                                                        */
/* ------------------------------------------------------------------------ */

static cJSON *template_body(const openai *o, int style)
{
    cJSON *b = cJSON_CreateObject();
    if (!b) return NULL;
    cJSON_AddStringToObject(b, "model", o->model);
    if (style == WIRE_CHAT)
        cJSON_AddStringToObject(b, "messages",
                                "<the prompt's messages, plus a final assistant "
                                "message holding the prefix when it has one>");
    else
        cJSON_AddStringToObject(b, "prompt", "<the prompt text, rendered by tally>");
    cJSON_AddStringToObject(b, "max_tokens", "<max_tokens>");
    cJSON_AddStringToObject(b, "temperature", "<temperature>");
    cJSON_AddStringToObject(b, "top_p", "<top_p>");
    cJSON_AddStringToObject(b, "seed", "<the sample's seed>");
    cJSON_AddStringToObject(b, "top_k", "<top_k, only when > 0>");
    cJSON_AddStringToObject(b, "min_p", "<min_p, only when > 0>");
    cJSON_AddStringToObject(b, "repetition_penalty", "<only when != 1>");
    cJSON_AddStringToObject(b, "stop", "<the prompt's stop strings, when it has any>");
    if (o->n_per_request > 1) cJSON_AddStringToObject(b, "n", "<samples asked together, when > 1>");
    if (style == WIRE_CHAT) {
        cJSON_AddStringToObject(b, "tools", "<the prompt's tools, when it has any>");
        cJSON_AddStringToObject(b, "tool_choice", "<the prompt's tool_choice, when set>");
        cJSON_AddStringToObject(b, "continue_final_message", "<true, with an assistant prefix>");
        cJSON_AddStringToObject(b, "add_generation_prompt", "<false, with an assistant prefix>");
    }
    if (o->stream) {
        cJSON_AddTrueToObject(b, "stream");
        cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
        if (so) cJSON_AddTrueToObject(so, "include_usage");
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, o->extra)
    {
        cJSON *c = cJSON_Duplicate(f, 1);
        if (!c) continue;
        if (cJSON_HasObjectItem(b, f->string))
            cJSON_ReplaceItemInObjectCaseSensitive(b, f->string, c);
        else
            cJSON_AddItemToObject(b, f->string, c);
    }
    return b;
}

static int oa_describe(void *state, cJSON *obj, err *e)
{
    openai *o = state;
    bool ok = true;
    /* the harness records "backend" and "model" itself */
    ok &= cJSON_AddStringToObject(obj, "endpoint", o->base) != NULL;
    const cJSON *sid = o->served ? cJSON_GetObjectItemCaseSensitive(o->served, "id") : NULL;
    if (cJSON_IsString(sid))
        ok &= cJSON_AddStringToObject(obj, "served_model_id", sid->valuestring) != NULL;
    if (o->served) {
        cJSON *c = cJSON_Duplicate(o->served, 1);
        ok &= c != NULL;
        if (c) cJSON_AddItemToObject(obj, "served_model", c);
    } else {
        ok &= cJSON_AddStringToObject(obj, "served_model",
                                      "unchecked: the server has no /models") != NULL;
    }
    ok &=
        cJSON_AddStringToObject(obj, "server", o->server_kind ? o->server_kind : "unknown") != NULL;
    if (o->server_version)
        ok &= cJSON_AddStringToObject(obj, "server_version", o->server_version) != NULL;
    if (o->server_header[0])
        ok &= cJSON_AddStringToObject(obj, "server_header", o->server_header) != NULL;
    ok &= cJSON_AddStringToObject(obj, "authorization",
                                  o->has_key ? "bearer key (not recorded)" : "none") != NULL;
    cJSON *hn = cJSON_Duplicate(o->header_names, 1);
    ok &= hn != NULL;
    if (hn) cJSON_AddItemToObject(obj, "extra_headers", hn);
    ok &= cJSON_AddStringToObject(
              obj, "prompt_rendering",
              "chat prompts: by the server's chat template; raw prompts: by tally") != NULL;
    ok &= cJSON_AddNumberToObject(obj, "n_per_request", o->n_per_request) != NULL;
    ok &= cJSON_AddBoolToObject(obj, "stream", o->stream) != NULL;
    cJSON *tpl = cJSON_AddObjectToObject(obj, "request_template");
    ok &= tpl != NULL;
    for (int s = 0; tpl && s < 2; s++) {
        cJSON *t = cJSON_AddObjectToObject(tpl, s == WIRE_CHAT ? "chat" : "completions");
        ok &= t != NULL;
        if (!t) break;
        ok &= cJSON_AddStringToObject(t, "method", "POST") != NULL;
        ok &= cJSON_AddStringToObject(t, "url", o->url[s]) != NULL;
        cJSON *b = template_body(o, s);
        ok &= b != NULL;
        if (b) cJSON_AddItemToObject(t, "body", b);
    }
    return ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int oa_notes(void *state, buf *out)
{
    openai *o = state;
    if (o->models_missing)
        buf_printf(out, "openai: %s/models is not available; the model name was not checked\n",
                   o->base);
    if (o->n_unsupported)
        buf_printf(out, "openai: the server does not honour \"n\"; samples were asked one request "
                        "each\n");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* generate                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct run {
    openai *o;
    const gen_request *reqs;
    size_t n;
    oa_job *jobs;
    size_t n_jobs, next_job;
    size_t delivered;
    runner_on_done on_done;
    void *ctx;
    err *e;
} run;

static bool same_group(const gen_request *a, const gen_request *b)
{
    return a->p == b->p && a->max_tokens == b->max_tokens &&
           a->sampling.temperature == b->sampling.temperature &&
           a->sampling.top_p == b->sampling.top_p && a->sampling.top_k == b->sampling.top_k &&
           a->sampling.min_p == b->sampling.min_p &&
           a->sampling.repetition_penalty == b->sampling.repetition_penalty;
}

static void history_add(oa_job *j, const char *what)
{
    size_t len = strlen(j->history);
    if (len + 8 >= sizeof j->history) {
        if (!str_ends(j->history, "...")) strcpy(j->history + len, len ? ", ..." : "...");
        return;
    }
    snprintf(j->history + len, sizeof j->history - len, "%s%s", len ? ", " : "", what);
}

static int slot_setup(openai *o, oa_slot *sl, err *e)
{
    memset(sl, 0, sizeof *sl);
    buf_init(&sl->body, 0);
    buf_init(&sl->resp, OA_RESPONSE_CAP);
    sl->h = curl_easy_init();
    if (!sl->h) return err_set(e, ERR_NOMEM, "openai: cannot create a curl handle");
    set_common(o, sl->h);
    curl_easy_setopt(sl->h, CURLOPT_POST, 1L);
    curl_easy_setopt(sl->h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(sl->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(sl->h, CURLOPT_WRITEDATA, &sl->resp);
    curl_easy_setopt(sl->h, CURLOPT_HEADERFUNCTION, on_slot_header);
    curl_easy_setopt(sl->h, CURLOPT_HEADERDATA, sl);
    curl_easy_setopt(sl->h, CURLOPT_ERRORBUFFER, sl->errbuf);
    curl_easy_setopt(sl->h, CURLOPT_PRIVATE, sl);
    return 0;
}

static int ensure_slots(openai *o, size_t want, err *e)
{
    if (want > (size_t)o->concurrency) want = (size_t)o->concurrency;
    if ((size_t)o->n_slots >= want) return 0;
    oa_slot *ns = realloc(o->slots, want * sizeof *ns);
    if (!ns) return err_set(e, ERR_NOMEM, "out of memory");
    o->slots = ns;
    /* the slots' addresses changed: point their callbacks at the new places */
    for (int i = 0; i < o->n_slots; i++) {
        curl_easy_setopt(ns[i].h, CURLOPT_WRITEDATA, &ns[i].resp);
        curl_easy_setopt(ns[i].h, CURLOPT_HEADERDATA, &ns[i]);
        curl_easy_setopt(ns[i].h, CURLOPT_ERRORBUFFER, ns[i].errbuf);
        curl_easy_setopt(ns[i].h, CURLOPT_PRIVATE, &ns[i]);
    }
    while ((size_t)o->n_slots < want) {
        int rc = slot_setup(o, &o->slots[o->n_slots], e);
        if (rc < 0) {
            if (o->slots[o->n_slots].h) curl_easy_cleanup(o->slots[o->n_slots].h);
            return rc;
        }
        o->n_slots++;
    }
    return 0;
}

/* Hands back one response (owned strings are freed afterwards). */
static int deliver(run *r, size_t idx, gen_response *resp)
{
    int rc = r->on_done(r->ctx, idx, &r->reqs[idx], resp);
    gen_response_release(resp);
    r->delivered++;
    return rc;
}

/* Hands back every request of a job as failed. */
static int deliver_error(run *r, oa_job *j, int kind, const char *msg, double latency_ms)
{
    for (size_t k = 0; k < j->count; k++) {
        gen_response resp;
        memset(&resp, 0, sizeof resp);
        resp.text = strdup("");
        resp.finish_reason = "error";
        resp.prompt_tokens = resp.completion_tokens = -1;
        resp.latency_ms = latency_ms;
        resp.attempts = j->attempts;
        resp.error_kind = kind;
        if (j->attempts > 1) {
            if (asprintf(&resp.error, "%s (after %d attempts: %s)", msg, j->attempts, j->history) <
                0)
                resp.error = NULL;
        } else {
            resp.error = strdup(msg);
        }
        if (!resp.text || !resp.error) {
            gen_response_release(&resp);
            return err_set(r->e, ERR_NOMEM, "out of memory");
        }
        int rc = deliver(r, j->first + k, &resp);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Appends a job for requests [first, first + count) to be asked one at a time. */
static void requeue_singles(run *r, size_t first, size_t count, int style)
{
    for (size_t k = 0; k < count; k++) {
        oa_job *nj = &r->jobs[r->n_jobs++];
        memset(nj, 0, sizeof *nj);
        nj->first = first + k;
        nj->count = 1;
        nj->style = style;
    }
}

/* Hands back the choices of a successful answer. */
static int deliver_reply(run *r, oa_job *j, wire_reply *rep, double latency_ms)
{
    openai *o = r->o;
    size_t missing_from = j->count;
    for (size_t k = 0; k < j->count; k++) {
        wire_choice *c = NULL;
        for (size_t i = 0; i < rep->n_choices; i++)
            if (rep->choices[i].index == (int)k) c = &rep->choices[i];
        if (!c && j->count == 1 && rep->n_choices) c = &rep->choices[0];
        if (!c) {
            /* fewer choices than "n" asked: the server ignores n */
            if (missing_from == j->count) missing_from = k;
            continue;
        }
        const gen_request *q = &r->reqs[j->first + k];
        gen_response resp;
        memset(&resp, 0, sizeof resp);
        resp.text = c->text;
        c->text = NULL;
        resp.reasoning = c->reasoning;
        c->reasoning = NULL;
        resp.tool_calls = c->tool_calls;
        resp.n_tool_calls = c->n_tool_calls;
        c->tool_calls = NULL;
        c->n_tool_calls = 0;
        resp.finish_reason = c->finish_reason ? c->finish_reason : "unknown";
        if (wire_cut_stop(resp.text, q->p->stop, q->p->n_stop)) resp.finish_reason = "stop";
        resp.prompt_tokens = rep->prompt_tokens;
        resp.completion_tokens = j->count == 1 ? rep->completion_tokens : -1;
        resp.latency_ms = latency_ms;
        resp.attempts = j->attempts;
        int rc = deliver(r, j->first + k, &resp);
        if (rc < 0) return rc;
    }
    if (missing_from < j->count) {
        o->n_unsupported = true;
        /* ask every sample that got no choice on its own, with its own seed */
        for (size_t k = missing_from; k < j->count; k++) {
            bool got = false;
            for (size_t i = 0; i < rep->n_choices; i++)
                if (rep->choices[i].index == (int)k) got = true;
            if (!got) requeue_singles(r, j->first + k, 1, j->style);
        }
    }
    return 0;
}

/* Sends the next attempt of the slot's job. A body that cannot be built is
 * the job's error (handed back at once); only running out of memory fails. */
static int slot_send(run *r, oa_slot *sl)
{
    openai *o = r->o;
    oa_job *j = &r->jobs[sl->job];
    if (j->attempts == 0) {
        err be = ERR_INIT;
        wire_options wo = {.model = o->model, .stream = o->stream, .extra = o->extra};
        buf_reset(&sl->body);
        int rc = wire_build_body(&wo, &r->reqs[j->first], (int)j->count, &sl->body, &be);
        if (rc == ERR_NOMEM) return err_set(r->e, rc, "%s", be.msg);
        if (rc < 0) {
            sl->state = SLOT_IDLE;
            return deliver_error(r, j, GEN_ERR_API, be.msg, 0);
        }
    }
    buf_reset(&sl->resp);
    sl->retry_after[0] = sl->retry_after_ms[0] = 0;
    sl->sse = false;
    sl->errbuf[0] = 0;
    curl_easy_setopt(sl->h, CURLOPT_URL, o->url[j->style]);
    curl_easy_setopt(sl->h, CURLOPT_POSTFIELDS, sl->body.data);
    curl_easy_setopt(sl->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sl->body.len);
    CURLMcode mc = curl_multi_add_handle(o->multi, sl->h);
    if (mc != CURLM_OK)
        return err_set(r->e, ERR_INTERNAL, "openai: curl_multi_add_handle: %s",
                       curl_multi_strerror(mc));
    j->attempts++;
    sl->state = SLOT_ACTIVE;
    return 0;
}

/* Whether the rps limit lets a request go now; books it when it does. */
static bool pace(openai *o, double now)
{
    if (o->rps <= 0) return true;
    if (now < o->next_send) return false;
    double step = 1.0 / o->rps;
    o->next_send = (o->next_send > now - step ? o->next_send : now) + step;
    return true;
}

/* Starts what can start: retries whose wait is over, then new jobs. */
static int start_ready(run *r)
{
    openai *o = r->o;
    double now = time_now_s();
    int rc;
    for (int i = 0; i < o->n_slots; i++) {
        oa_slot *sl = &o->slots[i];
        if (sl->state == SLOT_SLEEPING && sl->wake_at <= now) {
            if (!pace(o, now)) return 0;
            if ((rc = slot_send(r, sl)) < 0) return rc;
        }
    }
    for (int i = 0; i < o->n_slots && r->next_job < r->n_jobs; i++) {
        oa_slot *sl = &o->slots[i];
        if (sl->state != SLOT_IDLE) continue;
        if (!pace(o, now)) return 0;
        oa_job *j = &r->jobs[r->next_job];
        if (j->count > 1 && o->n_unsupported) {
            requeue_singles(r, j->first + 1, j->count - 1, j->style);
            j->count = 1;
        }
        sl->job = r->next_job++;
        if ((rc = slot_send(r, sl)) < 0) return rc;
    }
    return 0;
}

/* A failure that may go away: wait and try again, or give up and hand it back. */
static int retry_or_fail(run *r, oa_slot *sl, int kind, const char *short_what, const char *msg,
                         double latency_ms)
{
    openai *o = r->o;
    oa_job *j = &r->jobs[sl->job];
    history_add(j, short_what);
    if (j->attempts <= o->max_retries) {
        sl->state = SLOT_SLEEPING;
        sl->wake_at =
            time_now_s() + retry_wait(o, j->attempts, sl->retry_after_ms, sl->retry_after);
        return 0;
    }
    sl->state = SLOT_IDLE;
    return deliver_error(r, j, kind, msg, latency_ms);
}

/* Does the message of a 400 say that "n" is the problem? */
static bool mentions_n(const char *msg)
{
    return strcasestr(msg, "choice") || strstr(msg, "'n'") || strstr(msg, "\"n\"") ||
           strstr(msg, " n ") || str_starts(msg, "n ") || strstr(msg, "n must");
}

/* A transfer ended: read the answer and decide. */
static int slot_finished(run *r, oa_slot *sl, CURLcode cc)
{
    openai *o = r->o;
    oa_job *j = &r->jobs[sl->job];
    long status = 0;
    curl_off_t us = 0;
    curl_multi_remove_handle(o->multi, sl->h);
    curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(sl->h, CURLINFO_TOTAL_TIME_T, &us);
    double ms = (double)us / 1000.0;
    char what[32], msg[ERR_MSG_SIZE];
    if (cc != CURLE_OK) {
        const char *why = sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(cc);
        if (cc == CURLE_WRITE_ERROR) {
            snprintf(msg, sizeof msg, "the answer is larger than %zu MiB", OA_RESPONSE_CAP >> 20);
            sl->state = SLOT_IDLE;
            return deliver_error(r, j, GEN_ERR_API, msg, ms);
        }
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(msg, sizeof msg, "no answer within %.3g s", (double)o->timeout_ms / 1000);
            return retry_or_fail(r, sl, GEN_ERR_TIMEOUT, "timeout", msg, ms);
        }
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_WEIRD_SERVER_REPLY:
            snprintf(msg, sizeof msg, "connection failed: %s", why);
            return retry_or_fail(r, sl, GEN_ERR_API, "connection", msg, ms);
        default:
            snprintf(msg, sizeof msg, "request failed: %s", why);
            sl->state = SLOT_IDLE;
            return deliver_error(r, j, GEN_ERR_API, msg, ms);
        }
    }
    if (status >= 200 && status < 300) {
        wire_reply rep;
        err pe = ERR_INIT;
        int rc = wire_parse_reply(sl->resp.data, sl->resp.len, j->style, sl->sse, &rep, &pe);
        if (rc == ERR_NOMEM) return err_set(r->e, rc, "%s", pe.msg);
        if (rc == ERR_HTTP) {
            sl->state = SLOT_IDLE;
            return deliver_error(r, j, GEN_ERR_API, pe.msg, ms);
        }
        if (rc < 0) {
            snprintf(msg, sizeof msg, "unreadable answer: %s", pe.msg);
            return retry_or_fail(r, sl, GEN_ERR_PARSE, "unreadable", msg, ms);
        }
        if (rep.n_choices == 0) {
            wire_reply_release(&rep);
            return retry_or_fail(r, sl, GEN_ERR_API, "no choices",
                                 "the server answered with no choices", ms);
        }
        sl->state = SLOT_IDLE;
        rc = deliver_reply(r, j, &rep, ms);
        wire_reply_release(&rep);
        return rc;
    }
    buf em = BUF_INIT;
    if (wire_error_message(sl->resp.data, sl->resp.len, 400, &em) < 0) {
        buf_release(&em);
        return err_set(r->e, ERR_NOMEM, "out of memory");
    }
    snprintf(msg, sizeof msg, "HTTP %ld: %s", status, em.data);
    snprintf(what, sizeof what, "%ld", status);
    int rc;
    if (j->count > 1 && (status == 400 || status == 422) && mentions_n(em.data)) {
        /* a server that refuses "n": ask these samples one by one */
        o->n_unsupported = true;
        requeue_singles(r, j->first, j->count, j->style);
        sl->state = SLOT_IDLE;
        rc = 0;
    } else if (wire_status_retryable(status)) {
        rc = retry_or_fail(r, sl, GEN_ERR_API, what, msg, ms);
    } else {
        sl->state = SLOT_IDLE;
        rc = deliver_error(r, j, GEN_ERR_API, msg, ms);
    }
    buf_release(&em);
    return rc;
}

/* Stops every transfer in flight (Ctrl-C, or a callback that said stop). */
static void abandon(openai *o)
{
    for (int i = 0; i < o->n_slots; i++) {
        if (o->slots[i].state == SLOT_ACTIVE) curl_multi_remove_handle(o->multi, o->slots[i].h);
        o->slots[i].state = SLOT_IDLE;
    }
}

/* How long to wait for the network before looking at the slots again. */
static int wait_ms(run *r)
{
    openai *o = r->o;
    double now = time_now_s(), until = now + 1.0;
    bool can_start = false;
    for (int i = 0; i < o->n_slots; i++) {
        oa_slot *sl = &o->slots[i];
        if (sl->state == SLOT_SLEEPING && sl->wake_at < until) until = sl->wake_at;
        if (sl->state == SLOT_IDLE && r->next_job < r->n_jobs) can_start = true;
    }
    if (can_start && o->rps > 0 && o->next_send < until) until = o->next_send;
    if (o->cancel && until > now + 0.1) until = now + 0.1;
    double ms = (until - now) * 1000.0;
    return ms <= 0 ? 0 : (int)ceil(ms);
}

static int oa_generate(void *state, const gen_request *reqs, size_t n, runner_on_done on_done,
                       void *ctx, err *e)
{
    openai *o = state;
    int ret = 0;
    run r = {.o = o, .reqs = reqs, .n = n, .on_done = on_done, .ctx = ctx, .e = e};
    if (n == 0) return 0;
    if (!on_done) return err_set(e, ERR_INVALID, "openai: generate without a callback");
    /* room for every request grouped once and then asked alone once */
    r.jobs = calloc(2 * n, sizeof *r.jobs);
    if (!r.jobs) return err_set(e, ERR_NOMEM, "out of memory");
    /* one job per request, or per run of requests asked together with "n" */
    for (size_t i = 0; i < n;) {
        oa_job *j = &r.jobs[r.n_jobs++];
        j->first = i;
        j->count = 1;
        err se = ERR_INIT;
        if (wire_style_of(reqs[i].p, &j->style, &se) < 0) {
            ret = err_set(e, ERR_INVALID, "item %s: %s", reqs[i].item_id ? reqs[i].item_id : "?",
                          se.msg);
            goto out;
        }
        size_t cap = o->n_unsupported ? 1 : (size_t)o->n_per_request;
        while (j->count < cap && i + j->count < n && same_group(&reqs[i], &reqs[i + j->count]))
            j->count++;
        i += j->count;
    }
    if ((ret = ensure_slots(o, r.n_jobs, e)) < 0) goto out;
    while (r.delivered < n) {
        if (o->cancel && *o->cancel) {
            ret = err_set(e, ERR_INTERRUPTED, "interrupted");
            goto out;
        }
        if ((ret = start_ready(&r)) < 0) goto out;
        int running = 0;
        CURLMcode mc = curl_multi_perform(o->multi, &running);
        if (mc != CURLM_OK) {
            ret =
                err_set(e, ERR_INTERNAL, "openai: curl_multi_perform: %s", curl_multi_strerror(mc));
            goto out;
        }
        int left, finished = 0;
        CURLMsg *m;
        while ((m = curl_multi_info_read(o->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            oa_slot *sl = (oa_slot *)priv;
            CURLcode cc = m->data.result;
            finished++;
            if ((ret = slot_finished(&r, sl, cc)) < 0) goto out;
        }
        if (r.delivered >= n) break;
        if (finished) continue; /* refill the freed slots before waiting */
        int t = wait_ms(&r);
        if (t > 0 && (mc = curl_multi_poll(o->multi, NULL, 0, t, NULL)) != CURLM_OK) {
            ret = err_set(e, ERR_INTERNAL, "openai: curl_multi_poll: %s", curl_multi_strerror(mc));
            goto out;
        }
    }
out:
    abandon(o);
    free(r.jobs);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* close                                                                     */
/* ------------------------------------------------------------------------ */

static void oa_close(void *state)
{
    openai *o = state;
    if (!o) return;
    for (int i = 0; i < o->n_slots; i++) {
        if (o->slots[i].state == SLOT_ACTIVE) curl_multi_remove_handle(o->multi, o->slots[i].h);
        curl_easy_cleanup(o->slots[i].h);
        buf_release(&o->slots[i].body);
        buf_release(&o->slots[i].resp);
    }
    free(o->slots);
    if (o->multi) curl_multi_cleanup(o->multi);
    curl_slist_free_all(o->headers);
    if (o->curl_inited) curl_global_cleanup();
    cJSON_Delete(o->header_names);
    cJSON_Delete(o->extra);
    cJSON_Delete(o->models);
    free(o->base);
    free(o->root);
    free(o->url[0]);
    free(o->url[1]);
    free(o->model);
    free(o->server_kind);
    free(o->server_version);
    free(o);
}

const runner_ops openai_runner_ops = {
    .name = "openai",
    .open = oa_open,
    .describe = oa_describe,
    .generate = oa_generate,
    .notes = oa_notes,
    .close = oa_close,
};
