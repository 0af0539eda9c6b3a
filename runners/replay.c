/* replay.c: the runner that serves completions that already exist.
 *
 * --model oracle     answers each request with the prompt's reference
 *                    (the dataset's own solution in the task's convention);
 * --model FILE.jsonl one JSON object a line: "id" (or IFEval's "key" or exact
 *                    "prompt"), optional "sample", and "completion" (or
 *                    "response") text and/or "tool_calls" [{"name","arguments"}];
 * --model RUN_DIR    another run's samples.jsonl (RUN_DIR/samples.jsonl, or
 *                    RUN_DIR/<task>/samples.jsonl for a multi-task run).
 *
 * Several lines for one id without "sample" become samples 0, 1, ... in file
 * order. Requests whose item has no completion make generate fail with a
 * message naming them, before anything is answered.
 */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/strmap.h"
#include "common/util.h"
#include "runner.h"

typedef struct replay_entry {
    const char *key;        /* "id\x1fsample" */
    const char *completion; /* or NULL */
    const char *reasoning;
    cJSON *tool_calls;      /* array or NULL (owned by `doc`) */
    const char *finish_reason;
    const char *error;
    int error_kind;
    size_t line;
    const char *label;      /* what the line named the item by, for notes */
    bool used;
} replay_entry;

typedef struct replay {
    bool oracle;
    double delay_ms;
    const char *source; /* file read */
    arena a;
    replay_entry *entries;
    size_t n, cap;
    strmap by_key;    /* "id\x1fsample" -> entry */
    strmap by_prompt; /* "prompt\x1fsample" -> entry */
    cJSON **docs;     /* parsed lines kept alive for their strings */
    size_t n_docs;
} replay;

static int add_doc(replay *r, cJSON *doc)
{
    cJSON **nd = realloc(r->docs, (r->n_docs + 1) * sizeof *nd);
    if (!nd) return ERR_NOMEM;
    r->docs = nd;
    r->docs[r->n_docs++] = doc;
    return 0;
}

static replay_entry *new_entry(replay *r)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        replay_entry *ne = realloc(r->entries, nc * sizeof *ne);
        if (!ne) return NULL;
        r->entries = ne;
        r->cap = nc;
    }
    replay_entry *en = &r->entries[r->n++];
    memset(en, 0, sizeof *en);
    return en;
}

/* Next free sample index for `name` in `m` (counts how many were seen). */
static int next_sample(strmap *counts, const char *name)
{
    size_t v = 0;
    strmap_get(counts, name, strlen(name), &v);
    strmap_put(counts, name, strlen(name), v + 1);
    return (int)v;
}

static int load_file(replay *r, const char *path, const char *task, err *e)
{
    buf data = BUF_INIT;
    strmap counts = STRMAP_INIT;
    int ret = file_read_all(path, &data, e);
    if (ret < 0) goto out;
    r->source = arena_strdup(&r->a, path);
    line_iter it = line_iter_start(data.data, data.len);
    const char *line;
    size_t len;
    char where[1200];
    while (line_iter_next(&it, &line, &len)) {
        snprintf(where, sizeof where, "%s:%zu", path, it.lineno);
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
        if (k == len) continue;
        cJSON *doc = NULL;
        ret = json_parse(line, len, where, &doc, e);
        if (ret < 0) {
            if (it.last_unterminated && str_ends(path, "samples.jsonl")) {
                /* a torn last line of a run that was killed: not an answer */
                err_clear(e);
                ret = 0;
                break;
            }
            goto out;
        }
        if (add_doc(r, doc) < 0) {
            cJSON_Delete(doc);
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!cJSON_IsObject(doc)) {
            ret = err_set(e, ERR_PARSE, "%s: expected a JSON object", where);
            goto out;
        }
        if (task) {
            const char *t = NULL;
            json_opt_str(doc, "task", where, &t, NULL);
            if (t && strcmp(t, task) != 0) continue;
        }
        /* how the line names its item */
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(doc, "key");
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(doc, "prompt");
        char numbuf[64];
        const char *name = NULL;
        bool by_prompt = false;
        if (cJSON_IsString(id)) name = id->valuestring;
        else if (cJSON_IsNumber(id) || cJSON_IsNumber(key)) {
            double d = cJSON_IsNumber(id) ? id->valuedouble : key->valuedouble;
            snprintf(numbuf, sizeof numbuf, "%.0f", d);
            name = numbuf;
        } else if (cJSON_IsString(key)) name = key->valuestring;
        else if (cJSON_IsString(pr)) {
            name = pr->valuestring;
            by_prompt = true;
        } else {
            ret = err_set(e, ERR_PARSE, "%s: the line has no \"id\", \"key\" or \"prompt\"", where);
            goto out;
        }
        replay_entry *en = new_entry(r);
        if (!en) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        en->line = it.lineno;
        en->label = arena_printf(&r->a, "%s %s", by_prompt ? "prompt" : "id",
                                 by_prompt && strlen(name) > 40 ? "(long prompt)" : name);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "completion");
        if (!c) c = cJSON_GetObjectItemCaseSensitive(doc, "response");
        if (c && !cJSON_IsNull(c) && !cJSON_IsString(c)) {
            ret = err_set(e, ERR_PARSE, "%s: field \"completion\" is not a string (got %s)", where,
                          json_type_name(c));
            goto out;
        }
        en->completion = cJSON_IsString(c) ? c->valuestring : NULL;
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(doc, "tool_calls");
        if (tc && !cJSON_IsNull(tc)) {
            if (!cJSON_IsArray(tc)) {
                ret = err_set(e, ERR_PARSE, "%s: field \"tool_calls\" is not an array", where);
                goto out;
            }
            const cJSON *call;
            cJSON_ArrayForEach(call, tc)
            {
                const char *fname;
                if (json_get_str(call, "name", where, &fname, e) < 0) {
                    ret = err_prefix(e, "tool_calls");
                    goto out;
                }
            }
            en->tool_calls = (cJSON *)tc;
        }
        if (!en->completion && !en->tool_calls) {
            const char *er = NULL;
            json_opt_str(doc, "error", where, &er, NULL);
            if (!er) {
                ret = err_set(e, ERR_PARSE, "%s: the line has no \"completion\" and no \"tool_calls\"",
                              where);
                goto out;
            }
        }
        json_opt_str(doc, "reasoning", where, &en->reasoning, NULL);
        json_opt_str(doc, "finish_reason", where, &en->finish_reason, NULL);
        json_opt_str(doc, "error", where, &en->error, NULL);
        const cJSON *ek = cJSON_GetObjectItemCaseSensitive(doc, "error_kind");
        if (en->error) en->error_kind = cJSON_IsNumber(ek) ? ek->valueint : GEN_ERR_API;
        int sample;
        const cJSON *sm = cJSON_GetObjectItemCaseSensitive(doc, "sample");
        if (cJSON_IsNumber(sm)) sample = sm->valueint;
        else sample = next_sample(&counts, name);
        char *mkey = arena_printf(&r->a, "%s\x1f%d", name, sample);
        if (!mkey) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        en->key = mkey;
        strmap *m = by_prompt ? &r->by_prompt : &r->by_key;
        /* a later line for the same (item, sample) wins: a resumed run may have retried it */
        if (strmap_put(m, mkey, strlen(mkey), r->n - 1) < 0) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
out:
    strmap_release(&counts);
    buf_release(&data);
    return ret;
}

static int replay_open(void **state, const runner_settings *s, err *e)
{
    replay *r = calloc(1, sizeof *r);
    if (!r) return err_set(e, ERR_NOMEM, "out of memory");
    *state = r;
    r->delay_ms = s->replay_delay_ms;
    if (!s->model || !*s->model)
        return err_set(e, ERR_USAGE, "--model: the replay backend needs oracle, FILE.jsonl or RUN_DIR");
    if (strcmp(s->model, "oracle") == 0) {
        r->oracle = true;
        return 0;
    }
    if (dir_exists(s->model)) {
        buf p = BUF_INIT;
        path_join(&p, s->model, "samples.jsonl");
        if (!file_exists(p.data) && s->task) {
            buf sub = BUF_INIT;
            path_join(&sub, s->model, s->task);
            path_join(&p, sub.data, "samples.jsonl");
            buf_release(&sub);
        }
        int rc = file_exists(p.data)
                     ? load_file(r, p.data, NULL, e)
                     : err_set(e, ERR_NOTFOUND, "%s: no samples.jsonl in this run directory%s%s",
                               s->model, s->task ? " or its subdirectory " : "",
                               s->task ? s->task : "");
        buf_release(&p);
        return rc;
    }
    if (!file_exists(s->model))
        return err_set(e, ERR_NOTFOUND,
                       "--model %s: no such file or run directory (the replay backend takes "
                       "oracle, FILE.jsonl or RUN_DIR)",
                       s->model);
    return load_file(r, s->model, NULL, e);
}

static int replay_describe(void *state, cJSON *obj, err *e)
{
    replay *r = state;
    if (r->oracle) {
        cJSON_AddStringToObject(obj, "kind", "oracle");
        return 0;
    }
    cJSON_AddStringToObject(obj, "kind", "file");
    cJSON_AddStringToObject(obj, "path", r->source);
    char hex[HASH_HEX_SIZE];
    if (sha256_file_hex(r->source, hex, e) < 0) return e ? e->code : ERR_IO;
    cJSON_AddStringToObject(obj, "sha256", hex);
    return 0;
}

static replay_entry *lookup(replay *r, const gen_request *q)
{
    char key[4096];
    size_t v;
    int n = snprintf(key, sizeof key, "%s\x1f%d", q->item_id, q->sample);
    if (n > 0 && (size_t)n < sizeof key && strmap_get(&r->by_key, key, (size_t)n, &v))
        return &r->entries[v];
    if (q->p && q->p->alt_key && r->by_prompt.count) {
        char *k2 = arena_printf(&r->a, "%s\x1f%d", q->p->alt_key, q->sample);
        if (k2 && strmap_get(&r->by_prompt, k2, strlen(k2), &v)) return &r->entries[v];
    }
    return NULL;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Copies tool calls given as [{"name","arguments"}] (arguments an object or a JSON string). */
static int copy_tool_calls(const cJSON *arr, gen_response *out)
{
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (!n) return 0;
    out->tool_calls = calloc(n, sizeof *out->tool_calls);
    if (!out->tool_calls) return ERR_NOMEM;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        gen_tool_call *t = &out->tool_calls[out->n_tool_calls++];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        t->name = xstrdup(cJSON_IsString(nm) ? nm->valuestring : "");
        t->id = cJSON_IsString(id) ? xstrdup(id->valuestring) : NULL;
        if (cJSON_IsString(args)) t->arguments = xstrdup(args->valuestring);
        else if (args) t->arguments = cJSON_PrintUnformatted(args);
        else t->arguments = xstrdup("{}");
        if (!t->name || !t->arguments) return ERR_NOMEM;
    }
    return 0;
}

static int replay_generate(void *state, const gen_request *reqs, size_t n, runner_on_done on_done,
                           void *ctx, err *e)
{
    replay *r = state;
    /* every request must have an answer before any is given */
    size_t missing = 0;
    buf names = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const gen_request *q = &reqs[i];
        bool ok = r->oracle ? (q->p && (q->p->reference || q->p->reference_tool_calls))
                            : lookup(r, q) != NULL;
        if (ok) continue;
        if (missing < 10) buf_printf(&names, "%s%s", missing ? ", " : "", q->item_id);
        if (q->sample && missing < 10) buf_printf(&names, "#%d", q->sample);
        missing++;
    }
    if (missing) {
        int rc = err_set(e, ERR_NOTFOUND, "%s: no completion for %zu item%s: %s%s%s",
                         r->oracle ? "oracle" : r->source, missing, missing == 1 ? "" : "s",
                         names.data, missing > 10 ? ", ..." : "",
                         r->oracle ? " (the dataset has no reference answer to serve; tasks "
                                     "without references, such as ifeval, cannot use the oracle)"
                                   : "");
        buf_release(&names);
        return rc;
    }
    buf_release(&names);
    for (size_t i = 0; i < n; i++) {
        const gen_request *q = &reqs[i];
        gen_response resp = {0};
        double t0 = time_now_ms();
        if (r->delay_ms > 0) {
            struct timespec ts = {(time_t)(r->delay_ms / 1000),
                                  (long)(fmod(r->delay_ms, 1000.0) * 1e6)};
            nanosleep(&ts, NULL);
        }
        int rc = 0;
        resp.attempts = 1;
        resp.prompt_tokens = resp.completion_tokens = -1;
        if (r->oracle) {
            resp.text = xstrdup(q->p->reference ? q->p->reference : "");
            resp.finish_reason = q->p->reference_tool_calls ? "tool_calls" : "stop";
            if (q->p->reference_tool_calls) {
                cJSON *tc = cJSON_Parse(q->p->reference_tool_calls);
                if (!tc) rc = err_set(e, ERR_INTERNAL, "%s: reference tool calls are not JSON", q->item_id);
                else rc = copy_tool_calls(tc, &resp);
                cJSON_Delete(tc);
            }
        } else {
            replay_entry *en = lookup(r, q);
            en->used = true;
            resp.text = xstrdup(en->completion ? en->completion : "");
            resp.reasoning = xstrdup(en->reasoning);
            resp.finish_reason = en->finish_reason ? en->finish_reason
                                 : en->tool_calls  ? "tool_calls"
                                                   : "stop";
            if (en->error) {
                resp.error = xstrdup(en->error);
                resp.error_kind = en->error_kind ? en->error_kind : GEN_ERR_API;
            }
            if (en->tool_calls) rc = copy_tool_calls(en->tool_calls, &resp);
        }
        if (rc == 0 && !resp.text) rc = ERR_NOMEM;
        resp.latency_ms = time_now_ms() - t0;
        if (rc == 0) rc = on_done(ctx, i, q, &resp);
        else if (e && !e->code) err_set(e, rc, "out of memory");
        gen_response_release(&resp);
        if (rc < 0) return rc;
    }
    return 0;
}

static int replay_notes(void *state, buf *out)
{
    replay *r = state;
    size_t unused = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->entries[i].used) continue;
        /* a line superseded by a later one for the same key is not "unmatched" */
        size_t v;
        strmap *m = strmap_get(&r->by_key, r->entries[i].key, strlen(r->entries[i].key), &v)
                        ? &r->by_key
                        : &r->by_prompt;
        if (strmap_get(m, r->entries[i].key, strlen(r->entries[i].key), &v) && v != i) continue;
        if (unused < 20)
            buf_printf(out, "%s:%zu: %s matched no item of the task\n", r->source,
                       r->entries[i].line, r->entries[i].label);
        unused++;
    }
    if (unused > 20) buf_printf(out, "%s: %zu more lines matched no item\n", r->source, unused - 20);
    return 0;
}

static void replay_close(void *state)
{
    replay *r = state;
    if (!r) return;
    for (size_t i = 0; i < r->n_docs; i++) cJSON_Delete(r->docs[i]);
    free(r->docs);
    free(r->entries);
    strmap_release(&r->by_key);
    strmap_release(&r->by_prompt);
    arena_release(&r->a);
    free(r);
}

const runner_ops replay_runner_ops = {
    .name = "replay",
    .open = replay_open,
    .describe = replay_describe,
    .generate = replay_generate,
    .notes = replay_notes,
    .close = replay_close,
};
