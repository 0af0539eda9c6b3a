/* native.c: the runner that runs a GGUF model in-process (backends/engine.h).
 *
 * Prompts become token ids here: raw prompts are tokenized as they are (BOS as
 * the GGUF says, special-token text left as text); chat prompts are rendered
 * with the model family's template (backends/chat.h: --chat-template, else the
 * GGUF's tokenizer.chat_template) with the prompt's tools and assistant prefix,
 * then tokenized with special tokens recognised. The engine decodes up to
 * `batch` requests together and each completion is handed to on_done as soon as
 * its sequence ends; a prompt that starts like an earlier one (few-shot prompts)
 * reuses its cache (engine_set_prefix_cache). With tools, tool calls are taken out
 * of the text with the family's server parser (chat_parse_tool_calls).
 *
 * describe records the file (path, size, sha256 cached by path, size and mtime
 * under settings.cache_dir), the architecture, parameter count and tensor
 * types, the chat template, BOS handling and the engine settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/chat.h"
#include "backends/engine.h"
#include "backends/matmul.h"
#include "backends/model.h"
#include "backends/qtype.h"
#include "backends/tokenizer.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/util.h"
#include "runner.h"

typedef struct native {
    model *m;
    tok *t;
    engine *en;
    const char *path;
    const char *cache_dir;
    bool chat;
    bool has_family;
    enum chat_family family;
    char family_error[ERR_MSG_SIZE]; /* why there is no family, for chat prompts */
    char date[64];                   /* Granite 3.3's "Today's Date", pinned at open */
    const volatile int *cancel;
    int batch;
} native;

static void native_close(void *state)
{
    native *n = state;
    if (!n) return;
    engine_close(n->en);
    tok_free(n->t);
    model_close(n->m);
    free(n);
}

/* "April 16, 2025", as Granite 3.3's template prints today's date. */
static void today(char *out, size_t cap)
{
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    snprintf(out, cap, "%s %02d, %d", months[tm.tm_mon % 12], tm.tm_mday, tm.tm_year + 1900);
}

/* The family to render chat prompts with: the name given, else the GGUF's. */
static int pick_family(const runner_settings *s, const gguf *g, enum chat_family *out, err *e)
{
    if (s->chat_template) return chat_family_from_name(s->chat_template, out, e);
    return chat_family_from_gguf(g, out, e);
}

static int native_open(void **state, const runner_settings *s, err *e)
{
    native *n = calloc(1, sizeof *n);
    *state = n;
    if (!n) return err_set(e, ERR_NOMEM, "out of memory");
    if (!s->model || !*s->model) return err_set(e, ERR_USAGE, "--model: a GGUF file is needed");
    n->path = s->model;
    n->cache_dir = s->cache_dir;
    n->chat = s->chat;
    n->cancel = s->cancel;
    if (s->threads < 0) return err_set(e, ERR_USAGE, "--threads: %d is negative", s->threads);
    if (s->batch < 0) return err_set(e, ERR_USAGE, "--batch: %d is negative", s->batch);
    if (s->ctx_size < 0) return err_set(e, ERR_USAGE, "--ctx-size: %d is negative", s->ctx_size);
    model_settings ms;
    model_settings_default(&ms);
    ms.threads = s->threads;
    /* one more sequence than the batch: it keeps a finished prompt for the next ones */
    n->batch = s->batch > 0 ? s->batch : 1;
    ms.n_seq = n->batch + 1;
    ms.ctx_size = s->ctx_size;
    int rc = model_open(&n->m, s->model, &ms, e);
    if (rc < 0) return rc;
    if ((rc = tok_open(&n->t, model_get_gguf(n->m), NULL, e)) < 0) return rc;
    if ((rc = engine_open(&n->en, n->m, n->t, e)) < 0) return rc;
    if ((rc = engine_set_prefix_cache(n->en, true, e)) < 0) return rc;
    err fe = ERR_INIT;
    n->has_family = pick_family(s, model_get_gguf(n->m), &n->family, &fe) == 0;
    if (!n->has_family) {
        if (s->chat_template) return err_set(e, ERR_USAGE, "--chat-template: %s", fe.msg);
        snprintf(n->family_error, sizeof n->family_error, "%s", fe.msg);
        if (s->chat)
            return err_set(e, ERR_USAGE, "chat prompts: %s (or use --prompt-style raw)", fe.msg);
    }
    today(n->date, sizeof n->date);
    return 0;
}

/* Chat style by default when the file carries a chat template tally knows (or
 * --chat-template names one other than raw). */
static int native_default_chat(const runner_settings *s, bool *chat_out, err *e)
{
    *chat_out = false;
    enum chat_family f;
    if (s->chat_template) {
        int rc = chat_family_from_name(s->chat_template, &f, e);
        if (rc < 0) return err_set(e, ERR_USAGE, "--chat-template: %s", e ? e->msg : "");
        *chat_out = f != CHAT_RAW;
        return 0;
    }
    if (!s->model) return 0;
    gguf *g = NULL;
    int rc = gguf_open(&g, s->model, e);
    if (rc < 0) return rc;
    const char *tmpl = NULL;
    err ignore = ERR_INIT;
    if (gguf_opt_str(g, "tokenizer.chat_template", NULL, &tmpl, &ignore) == 0 && tmpl && *tmpl &&
        chat_family_detect(tmpl, NULL, NULL, &f, &ignore) == 0)
        *chat_out = f != CHAT_RAW;
    gguf_close(g);
    return 0;
}

/* ---- the file's sha256, cached ---- */

/* Looks `key` ("<size>\t<mtime_ns>\t<path>") up in the cache file; fills hex. */
static bool cache_lookup(const char *file, const char *key, char hex[HASH_HEX_SIZE])
{
    buf data = BUF_INIT;
    err e = ERR_INIT;
    bool found = false;
    data.cap_max = 64u << 20;
    if (file_read_all(file, &data, &e) < 0) return false;
    line_iter it = line_iter_start(data.data, data.len);
    const char *l;
    size_t len, kl = strlen(key);
    while (line_iter_next(&it, &l, &len)) {
        /* "<sha256>\t<key>" */
        if (len == 64 + 1 + kl && l[64] == '\t' && memcmp(l + 65, key, kl) == 0) {
            memcpy(hex, l, 64);
            hex[64] = 0;
            found = true;
        }
    }
    buf_release(&data);
    return found;
}

int runner_file_sha256(const char *path, const char *cache_dir, char hex[HASH_HEX_SIZE], err *e)
{
    struct stat st;
    char *abs = realpath(path, NULL);
    if (!abs || stat(abs, &st) < 0) {
        free(abs);
        return err_errno(e, "%s", path);
    }
    char key[4200];
    snprintf(key, sizeof key, "%lld\t%lld\t%s", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, abs);
    free(abs);
    buf cache = BUF_INIT;
    if (cache_dir && strchr(key, '\n') == NULL) path_join(&cache, cache_dir, "model-sha256.tsv");
    int rc = 0;
    if (cache.len && cache_lookup(cache.data, key, hex)) goto out;
    if ((rc = sha256_file_hex(path, hex, e)) < 0) goto out;
    if (cache.len) {
        /* best effort: a cache that cannot be written only costs time */
        err ignore = ERR_INIT;
        buf line = BUF_INIT;
        buf_printf(&line, "%s\t%s\n", hex, key);
        if (dir_create(cache_dir, &ignore) == 0) {
            int fd = file_open_append(cache.data, &ignore);
            if (fd >= 0) {
                file_append(fd, line.data, line.len, cache.data, &ignore);
                close(fd);
            }
        }
        buf_release(&line);
    }
out:
    buf_release(&cache);
    return rc;
}

static int native_describe(void *state, cJSON *obj, err *e)
{
    native *n = state;
    const gguf *g = model_get_gguf(n->m);
    const model_hparams *hp = model_get_hparams(n->m);
    const model_settings *ms = model_get_settings(n->m);
    char hex[HASH_HEX_SIZE];
    int rc = runner_file_sha256(n->path, n->cache_dir, hex, e);
    if (rc < 0) return rc;
    cJSON_AddStringToObject(obj, "model_path", n->path);
    cJSON_AddNumberToObject(obj, "file_size", (double)gguf_file_size(g));
    cJSON_AddStringToObject(obj, "sha256", hex);
    cJSON_AddStringToObject(obj, "architecture", hp->arch_name);
    const char *name = NULL;
    err ignore = ERR_INIT;
    if (gguf_opt_str(g, "general.name", NULL, &name, &ignore) == 0 && name)
        cJSON_AddStringToObject(obj, "name", name);
    cJSON_AddNumberToObject(obj, "parameters", (double)hp->n_params);
    cJSON *types = cJSON_AddObjectToObject(obj, "tensor_types");
    for (uint32_t t = 0; t < ARRAY_LEN(hp->type_count); t++) {
        const qtype_info *q = qtype_get(t);
        if (hp->type_count[t] && q && q->name)
            cJSON_AddNumberToObject(types, q->name, (double)hp->type_count[t]);
    }
    /* the chat template: which family renders, and the file's template text */
    const char *tmpl = NULL;
    gguf_opt_str(g, "tokenizer.chat_template", NULL, &tmpl, &ignore);
    cJSON *ct = cJSON_AddObjectToObject(obj, "chat_template");
    if (n->has_family)
        cJSON_AddStringToObject(ct, "family", chat_family_name(n->family));
    else
        cJSON_AddNullToObject(ct, "family");
    if (tmpl) {
        char th[HASH_HEX_SIZE];
        sha256_hex(tmpl, strlen(tmpl), th);
        cJSON_AddStringToObject(ct, "gguf_sha256", th);
    } else {
        cJSON_AddNullToObject(ct, "gguf_sha256");
    }
    if (n->has_family && n->family == CHAT_GRANITE_33) cJSON_AddStringToObject(ct, "date", n->date);
    cJSON *bos = cJSON_AddObjectToObject(obj, "bos");
    cJSON_AddBoolToObject(bos, "add_bos", tok_add_bos(n->t));
    cJSON_AddNumberToObject(bos, "bos_id", tok_bos(n->t));
    cJSON_AddNumberToObject(bos, "eos_id", tok_eos(n->t));
    cJSON_AddStringToObject(obj, "tokenizer_pre", tok_pre(n->t));
    cJSON_AddNumberToObject(obj, "ctx_size", ms->ctx_size);
    cJSON_AddNumberToObject(obj, "threads", ms->threads);
    cJSON_AddNumberToObject(obj, "batch", n->batch);
    cJSON_AddBoolToObject(obj, "prefix_cache", true);
    cJSON_AddStringToObject(obj, "kv_cache", "f32");
    int isa = matmul_isa_detect();
    cJSON_AddStringToObject(obj, "kernels", matmul_isa_name(isa));
    return 0;
}

/* ---- generation ---- */

typedef struct prepared {
    tok_ids ids;
    char *rendered;     /* the prompt text tokenized (chat: rendered), malloc'd */
    char *error;        /* why it cannot be asked, or NULL */
    const char **stops; /* the prompt's stop strings and the family's, malloc'd */
    size_t n_stops;
    bool tools; /* parse tool calls out of the text */
} prepared;

static void prepared_release(prepared *p)
{
    tok_ids_release(&p->ids);
    free(p->rendered);
    free(p->error);
    free(p->stops);
}

static char *dup_printf(const char *fmt, const char *arg)
{
    size_t n = strlen(fmt) + strlen(arg) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, fmt, arg);
    return s;
}

static int prepare(native *n, const gen_request *q, prepared *out, err *e)
{
    const prompt *p = q->p;
    buf text = BUF_INIT;
    chat_msg *msgs = NULL;
    err pe = ERR_INIT;
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->ids = (tok_ids)TOK_IDS_INIT;
    unsigned flags = TOK_ADD_SPECIAL;
    const char *const *fam_stops = NULL;
    if (p->messages) {
        if (!n->has_family) {
            out->error = dup_printf("chat prompt: %s", n->family_error);
            goto out;
        }
        msgs = calloc(p->n_messages ? p->n_messages : 1, sizeof *msgs);
        if (!msgs) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < p->n_messages; i++) {
            msgs[i].role = p->messages[i].role;
            msgs[i].content = p->messages[i].content;
            msgs[i].tool_calls = p->messages[i].tool_calls;
            msgs[i].tool_call_id = p->messages[i].tool_call_id;
        }
        chat_options o;
        chat_options_default(&o);
        o.tools = p->tools;
        o.assistant_prefix = p->assistant_prefix;
        o.date = n->date;
        if (chat_render(n->family, msgs, p->n_messages, &o, &text, &pe) < 0) {
            out->error = dup_printf("chat template: %s", pe.msg);
            goto out;
        }
        flags |= TOK_PARSE_SPECIAL;
        fam_stops = chat_stop_strings(n->family);
        out->tools = p->tools && chat_tool_format_of(n->family) != CHAT_TOOLS_NONE;
    } else {
        if ((rc = buf_puts(&text, p->text ? p->text : "")) < 0) {
            rc = err_set(e, rc, "out of memory");
            goto out;
        }
    }
    if ((rc = tok_encode(n->t, text.data, text.len, flags, &out->ids, e)) < 0) goto out;
    size_t nf = 0;
    while (fam_stops && fam_stops[nf]) nf++;
    out->stops = calloc(p->n_stop + nf + 1, sizeof *out->stops);
    if (!out->stops) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->n_stop; i++) out->stops[out->n_stops++] = p->stop[i];
    for (size_t i = 0; i < nf; i++) out->stops[out->n_stops++] = fam_stops[i];
    out->rendered = buf_detach(&text, NULL);
    if (!out->rendered) rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    free(msgs);
    buf_release(&text);
    return rc;
}

typedef struct gen_ctx {
    native *n;
    const gen_request *reqs;
    prepared *prep;
    size_t *eng_to_req; /* engine request index -> gen request index */
    runner_on_done on_done;
    void *ctx;
    arena scratch;
    err *e;
} gen_ctx;

/* "[1, 2, 3]" */
static char *ids_json(const tok_ids *ids)
{
    buf b = BUF_INIT;
    buf_putc(&b, '[');
    for (size_t i = 0; i < ids->n; i++) buf_printf(&b, i ? ", %d" : "%d", ids->v[i]);
    buf_putc(&b, ']');
    return buf_detach(&b, NULL);
}

static int hand_back(gen_ctx *g, size_t ri, const engine_result *r, const char *error)
{
    const gen_request *q = &g->reqs[ri];
    prepared *pp = &g->prep[ri];
    gen_response resp = {0};
    int rc = 0;
    resp.attempts = 1;
    resp.prompt_tokens = (int)pp->ids.n;
    resp.completion_tokens = r ? (int)r->n_tokens : 0;
    resp.latency_ms = r ? r->latency_ms : 0;
    if (pp->rendered) resp.rendered_prompt = strdup(pp->rendered);
    if (pp->ids.n) resp.prompt_tokens_ids = ids_json(&pp->ids);
    if (!error && r && r->error) error = r->error;
    if (error) {
        resp.text = strdup("");
        resp.error = strdup(error);
        resp.error_kind = GEN_ERR_API;
        resp.finish_reason = "error";
        if (!pp->ids.n) resp.prompt_tokens = -1;
    } else {
        resp.finish_reason = r->finish_reason;
        chat_parsed parsed = {0};
        arena_reset(&g->scratch);
        if (pp->tools && (rc = chat_parse_tool_calls(chat_tool_format_of(g->n->family), r->text,
                                                     r->len, &g->scratch, &parsed, g->e)) < 0)
            goto out;
        if (parsed.n_calls) {
            resp.text = strdup(parsed.content ? parsed.content : "");
            resp.tool_calls = calloc(parsed.n_calls, sizeof *resp.tool_calls);
            if (!resp.tool_calls) {
                rc = err_set(g->e, ERR_NOMEM, "out of memory");
                goto out;
            }
            resp.n_tool_calls = parsed.n_calls;
            for (size_t i = 0; i < parsed.n_calls; i++) {
                resp.tool_calls[i].name = strdup(parsed.calls[i].name ? parsed.calls[i].name : "");
                resp.tool_calls[i].arguments =
                    strdup(parsed.calls[i].arguments ? parsed.calls[i].arguments : "{}");
            }
            resp.finish_reason = "tool_calls";
        } else {
            resp.text = strdup(r->text);
        }
    }
    if (!resp.text) {
        rc = err_set(g->e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = g->on_done(g->ctx, ri, q, &resp);
out:
    gen_response_release(&resp);
    return rc;
}

static int on_engine_done(void *ctx, size_t index, const engine_result *r)
{
    gen_ctx *g = ctx;
    return hand_back(g, g->eng_to_req[index], r, NULL);
}

static int native_generate(void *state, const gen_request *reqs, size_t n_req, runner_on_done cb,
                           void *ctx, err *e)
{
    native *n = state;
    gen_ctx g = {n, reqs, NULL, NULL, cb, ctx, ARENA_INIT, e};
    engine_request *er = NULL;
    size_t n_eng = 0;
    int rc = 0;
    g.prep = calloc(n_req ? n_req : 1, sizeof *g.prep);
    g.eng_to_req = calloc(n_req ? n_req : 1, sizeof *g.eng_to_req);
    er = calloc(n_req ? n_req : 1, sizeof *er);
    if (!g.prep || !g.eng_to_req || !er) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* render and tokenize everything; prompts that cannot be asked are answered first */
    for (size_t i = 0; i < n_req; i++) {
        if ((rc = prepare(n, &reqs[i], &g.prep[i], e)) < 0) goto out;
        if (g.prep[i].error) {
            if ((rc = hand_back(&g, i, NULL, g.prep[i].error)) < 0) goto out;
            continue;
        }
        engine_request *x = &er[n_eng];
        x->prompt = g.prep[i].ids.v;
        x->n_prompt = g.prep[i].ids.n;
        x->max_tokens = reqs[i].max_tokens;
        sampler_params_default(&x->sampling);
        x->sampling.temperature = (float)reqs[i].sampling.temperature;
        x->sampling.top_p = (float)reqs[i].sampling.top_p;
        x->sampling.top_k = reqs[i].sampling.top_k;
        x->sampling.min_p = (float)reqs[i].sampling.min_p;
        x->sampling.repeat_penalty = reqs[i].sampling.repetition_penalty > 0
                                         ? (float)reqs[i].sampling.repetition_penalty
                                         : 1;
        x->sampling.seed = reqs[i].sampling.seed;
        x->stop = g.prep[i].stops;
        x->n_stop = g.prep[i].n_stops;
        g.eng_to_req[n_eng++] = i;
    }
    if (n_eng) rc = engine_generate(n->en, er, n_eng, on_engine_done, &g, n->cancel, e);
out:
    for (size_t i = 0; g.prep && i < n_req; i++) prepared_release(&g.prep[i]);
    free(g.prep);
    free(g.eng_to_req);
    free(er);
    arena_release(&g.scratch);
    return rc;
}

const runner_ops native_runner_ops = {
    .name = "native",
    .open = native_open,
    .describe = native_describe,
    .generate = native_generate,
    .close = native_close,
    .default_chat = native_default_chat,
};
