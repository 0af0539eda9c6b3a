/* gsm8k.c: GSM8K items and lm-evaluation-harness's prompt layouts. */
#include "gsm8k.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"

typedef struct exemplar {
    const char *question;
    const char *target;
} exemplar;

struct gsm8k_shared {
    exemplar *cot;       /* the 8 fixed CoT exemplars (gsm8k_cot, _llama) */
    size_t n_cot;
    exemplar *train;     /* train.jsonl as exemplars (question, full answer) for "gsm8k" */
    size_t n_train;
};

enum variant { V_PLAIN, V_COT, V_COT_ZEROSHOT, V_COT_LLAMA };

static int variant_of(const char *arg, err *e)
{
    if (!arg || !strcmp(arg, "gsm8k")) return V_PLAIN;
    if (!strcmp(arg, "gsm8k_cot")) return V_COT;
    if (!strcmp(arg, "gsm8k_cot_zeroshot")) return V_COT_ZEROSHOT;
    if (!strcmp(arg, "gsm8k_cot_llama")) return V_COT_LLAMA;
    return err_set(e, ERR_INTERNAL, "gsm8k: unknown variant \"%s\"", arg);
}

/* Python str.strip() for the ASCII whitespace that can occur here. */
static const char *strip_copy(arena *a, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                 s[n - 1] == '\v' || s[n - 1] == '\f'))
        n--;
    return arena_strndup(a, s, n);
}

/* answer.split('####')[-1].strip() */
static const char *final_of(arena *a, const char *answer)
{
    const char *p = answer, *last = answer;
    while ((p = strstr(p, "####"))) {
        last = p + 4;
        p += 4;
    }
    return strip_copy(a, last, strlen(last));
}

typedef int (*line_fn)(void *ctx, const cJSON *obj, const char *where, arena *a, err *e);

/* Reads a JSONL file, calling fn per non-blank line; errors name file:line. */
static int read_jsonl(const char *path, void *ctx, line_fn fn, arena *a, const char **sha_out,
                      err *e)
{
    buf data = BUF_INIT;
    int ret = file_read_all(path, &data, e);
    if (ret < 0) goto out;
    if (sha_out) {
        char hex[HASH_HEX_SIZE];
        sha256_hex(data.data, data.len, hex);
        *sha_out = arena_strdup(a, hex);
    }
    line_iter it = line_iter_start(data.data, data.len);
    const char *line;
    size_t len;
    while (line_iter_next(&it, &line, &len)) {
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\r' || line[k] == '\t')) k++;
        if (k == len) continue;
        char where[1100];
        snprintf(where, sizeof where, "%s:%zu", path, it.lineno);
        cJSON *obj = NULL;
        ret = json_parse(line, len, where, &obj, e);
        if (ret < 0) goto out;
        ret = fn(ctx, obj, where, a, e);
        cJSON_Delete(obj);
        if (ret < 0) goto out;
    }
out:
    buf_release(&data);
    return ret;
}

typedef struct vec_ctx {
    void *v;
    size_t n, cap, elem;
} vec_ctx;

static void *vec_push(vec_ctx *c, err *e)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 1024;
        void *nv = realloc(c->v, nc * c->elem);
        if (!nv) {
            err_set(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
        c->v = nv;
        c->cap = nc;
    }
    void *p = (char *)c->v + c->n * c->elem;
    c->n++;
    return p;
}

static int test_line(void *ctx, const cJSON *obj, const char *where, arena *a, err *e)
{
    const char *q, *ans;
    if (json_get_str(obj, "question", where, &q, e) < 0) return e->code;
    if (json_get_str(obj, "answer", where, &ans, e) < 0) return e->code;
    if (!strstr(ans, "####"))
        return err_set(e, ERR_PARSE, "%s: field \"answer\" has no \"####\" final line", where);
    gsm8k_item *g = vec_push(ctx, e);
    if (!g) return ERR_NOMEM;
    memset(g, 0, sizeof *g);
    g->question = arena_strdup(a, q);
    g->answer = arena_strdup(a, ans);
    g->final = final_of(a, ans);
    if (!g->question || !g->answer || !g->final) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

static int exemplar_line(void *ctx, const cJSON *obj, const char *where, arena *a, err *e)
{
    vec_ctx *c = ctx;
    const char *q, *t;
    if (json_get_str(obj, "question", where, &q, e) < 0) return e->code;
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(obj, "target");
    if (json_get_str(obj, tf ? "target" : "answer", where, &t, e) < 0) return e->code;
    exemplar *x = vec_push(c, e);
    if (!x) return ERR_NOMEM;
    x->question = arena_strdup(a, q);
    x->target = arena_strdup(a, t);
    if (!x->question || !x->target) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

typedef struct fewshot_ctx {
    gsm8k_item *items;
    size_t n_items, n_train, seen;
} fewshot_ctx;

static int fewshot_line(void *ctx, const cJSON *obj, const char *where, arena *a, err *e)
{
    fewshot_ctx *c = ctx;
    int64_t ti;
    const cJSON *arr;
    if (json_get_int(obj, "test_index", where, 0, (int64_t)c->n_items - 1, &ti, e) < 0)
        return e->code;
    if (json_get_array(obj, "train_indices", where, &arr, e) < 0) return e->code;
    int n = cJSON_GetArraySize(arr);
    if (n != 5)
        return err_set(e, ERR_PARSE, "%s: field \"train_indices\" must hold 5 indices (has %d)",
                       where, n);
    int *idx = arena_calloc(a, 5, sizeof *idx);
    if (!idx) return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= (double)c->n_train ||
            v->valuedouble != (double)(int)v->valuedouble)
            return err_set(e, ERR_PARSE, "%s: train index %d is not an index of train.jsonl",
                           where, i);
        idx[i] = v->valueint;
    }
    c->items[ti].fewshot = idx;
    c->seen++;
    return 0;
}

int gsm8k_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e)
{
    memset(out, 0, sizeof *out);
    int v = variant_of(arg, e);
    if (v < 0) return v;
    vec_ctx items = {NULL, 0, 0, sizeof(gsm8k_item)};
    vec_ctx ex = {NULL, 0, 0, sizeof(exemplar)};
    gsm8k_shared *sh = arena_alloc(a, sizeof *sh);
    const char *path;
    int ret = 0;
    if (!sh) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((ret = datasets_locate(o->data_dir, "gsm8k/test.jsonl", a, &path, e)) < 0) goto out;
    out->path = path;
    if ((ret = read_jsonl(path, &items, test_line, a, &out->sha256, e)) < 0) goto out;
    if (items.n == 0) {
        ret = err_set(e, ERR_PARSE, "%s: no items", path);
        goto out;
    }
    if (v == V_COT || v == V_COT_LLAMA) {
        if ((ret = datasets_locate(o->data_dir, "gsm8k/cot_exemplars.jsonl", a, &path, e)) < 0)
            goto out;
        if ((ret = read_jsonl(path, &ex, exemplar_line, a, NULL, e)) < 0) goto out;
        if (ex.n != 8) {
            ret = err_set(e, ERR_PARSE, "%s: expected the 8 CoT exemplars, found %zu", path, ex.n);
            goto out;
        }
        sh->cot = arena_memdup(a, ex.v, ex.n * sizeof(exemplar));
        sh->n_cot = ex.n;
    } else if (v == V_PLAIN) {
        if ((ret = datasets_locate(o->data_dir, "gsm8k/train.jsonl", a, &path, e)) < 0) goto out;
        if ((ret = read_jsonl(path, &ex, exemplar_line, a, NULL, e)) < 0) goto out;
        sh->train = arena_memdup(a, ex.v, ex.n * sizeof(exemplar));
        sh->n_train = ex.n;
        fewshot_ctx fc = {items.v, items.n, ex.n, 0};
        if ((ret = datasets_locate(o->data_dir, "gsm8k/fewshot_gsm8k_5shot_seed1234.jsonl", a,
                                   &path, e)) < 0)
            goto out;
        if ((ret = read_jsonl(path, &fc, fewshot_line, a, NULL, e)) < 0) goto out;
        for (size_t i = 0; i < items.n; i++) {
            if (!((gsm8k_item *)items.v)[i].fewshot) {
                ret = err_set(e, ERR_PARSE, "%s: no exemplar indices for test item %zu", path, i);
                goto out;
            }
        }
    }
    if ((!sh->cot && (v == V_COT || v == V_COT_LLAMA)) || (v == V_PLAIN && !sh->train)) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    gsm8k_item *gi = arena_memdup(a, items.v, items.n * sizeof(gsm8k_item));
    out->items = arena_calloc(a, items.n, sizeof(item));
    if (!gi || !out->items) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < items.n; i++) {
        gi[i].shared = sh;
        out->items[i].id = arena_printf(a, "%zu", i);
        out->items[i].index = i;
        out->items[i].data = &gi[i];
        if (!out->items[i].id) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    out->n = items.n;
out:
    free(items.v);
    free(ex.v);
    return ret;
}

const char *gsm8k_target(const char *arg, const gsm8k_item *g)
{
    int v = variant_of(arg, NULL);
    return (v == V_PLAIN || v == V_COT_ZEROSHOT) ? g->answer : g->final;
}

/* doc_to_text of each variant */
static int doc_text(buf *b, int v, const char *q)
{
    switch (v) {
    case V_PLAIN: return buf_printf(b, "Question: %s\nAnswer:", q);
    case V_COT: return buf_printf(b, "Q: %s\nA:", q);
    case V_COT_ZEROSHOT: return buf_printf(b, "Q: %s\nA: Let's think step by step.", q);
    case V_COT_LLAMA:
        return buf_printf(b,
                          "Given the following problem, reason and give a final answer to the "
                          "problem.\nProblem: %s\nYour response should end with \"The final "
                          "answer is [answer]\" where [answer] is the response to the problem.\n",
                          q);
    }
    return ERR_INTERNAL;
}

/* The llama variant's exemplar targets end "The final answer is N" (no period);
 * the shipped exemplars end "The answer is N.", so they are rewritten. */
static const char *exemplar_target(arena *a, int v, const char *t)
{
    if (v != V_COT_LLAMA) return t;
    const char *p = strstr(t, "The answer is ");
    if (!p) return t;
    size_t head = (size_t)(p - t);
    const char *num = p + strlen("The answer is ");
    size_t nl = strlen(num);
    if (nl && num[nl - 1] == '.') nl--;
    return arena_printf(a, "%.*sThe final answer is %.*s", (int)head, t, (int)nl, num);
}

/* The oracle's answer in the variant's convention. */
static const char *oracle_answer(arena *a, int v, const gsm8k_item *g)
{
    if (v == V_PLAIN) return g->answer;
    /* the worked solution without calculator annotations, on one line, then the phrase */
    buf b = BUF_INIT;
    const char *s = g->answer, *end = strstr(s, "####");
    for (const char *p = s; p < end; p++) {
        if (p[0] == '<' && p[1] == '<') {
            const char *q = strstr(p, ">>");
            if (q && q < end) {
                p = q + 1;
                continue;
            }
        }
        buf_putc(&b, *p == '\n' ? ' ' : *p);
    }
    while (b.len && b.data[b.len - 1] == ' ') buf_truncate(&b, b.len - 1);
    if (v == V_COT_LLAMA) buf_printf(&b, " The final answer is %s", g->final);
    else buf_printf(&b, " The answer is %s.", g->final);
    const char *r = arena_strndup(a, b.data, b.len);
    buf_release(&b);
    return r;
}

static const char *const stops_plain[] = {"Question:", "</s>", "<|im_end|>"};
static const char *const stops_cot[] = {"Q:", "</s>", "<|im_end|>"};
static const char *const stops_llama[] = {"<|eot_id|>", "<|start_header_id|>user<|end_header_id|>",
                                          "Q:", "</s>", "<|im_end|>"};

int gsm8k_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
                err *e)
{
    memset(out, 0, sizeof *out);
    int v = variant_of(arg, e);
    if (v < 0) return v;
    const gsm8k_item *g = it->data;
    const gsm8k_shared *sh = g->shared;
    int defaults[] = {[V_PLAIN] = 5, [V_COT] = 8, [V_COT_ZEROSHOT] = 0, [V_COT_LLAMA] = 8};
    int avail[] = {[V_PLAIN] = 5, [V_COT] = 8, [V_COT_ZEROSHOT] = 0, [V_COT_LLAMA] = 8};
    int shots = o->shots < 0 ? defaults[v] : o->shots;
    if (shots > avail[v])
        return err_set(e, ERR_USAGE, "--shots %d: %s has %d exemplar%s to draw from", shots,
                       arg ? arg : "gsm8k", avail[v], avail[v] == 1 ? "" : "s");
    const char *delim = v == V_COT_LLAMA ? "" : " ";
    buf b = BUF_INIT;
    int ret = 0;
    if (o->chat) {
        chat_message *m = arena_calloc(a, (size_t)shots * 2 + 1, sizeof *m);
        if (!m) return err_set(e, ERR_NOMEM, "out of memory");
        for (int i = 0; i < shots; i++) {
            const exemplar *x = v == V_PLAIN ? &sh->train[g->fewshot[i]] : &sh->cot[i];
            buf_reset(&b);
            doc_text(&b, v, x->question);
            m[2 * i].role = "user";
            m[2 * i].content = arena_strndup(a, b.data, b.len);
            m[2 * i + 1].role = "assistant";
            m[2 * i + 1].content = exemplar_target(a, v, x->target);
        }
        buf_reset(&b);
        doc_text(&b, v, g->question);
        m[2 * shots].role = "user";
        m[2 * shots].content = arena_strndup(a, b.data, b.len);
        out->messages = m;
        out->n_messages = (size_t)shots * 2 + 1;
    } else {
        for (int i = 0; i < shots && !ret; i++) {
            const exemplar *x = v == V_PLAIN ? &sh->train[g->fewshot[i]] : &sh->cot[i];
            ret = doc_text(&b, v, x->question);
            if (!ret) ret = buf_printf(&b, "%s%s\n\n", delim, exemplar_target(a, v, x->target));
        }
        if (!ret) ret = doc_text(&b, v, g->question);
        out->text = arena_strndup(a, b.data, b.len);
    }
    buf_release(&b);
    if (ret < 0) return err_set(e, ret, "out of memory while building a prompt");
    out->stop = v == V_PLAIN ? stops_plain : v == V_COT_LLAMA ? stops_llama : stops_cot;
    out->n_stop = v == V_PLAIN ? 3 : v == V_COT_LLAMA ? 5 : 3;
    out->max_tokens = 256;
    out->reference = oracle_answer(a, v, g);
    if ((o->chat && !out->messages) || (!o->chat && !out->text) || !out->reference)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}
