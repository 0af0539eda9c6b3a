/* engine.c: continuous batched generation over a model (see engine.h). */
#include "backends/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/util.h"

typedef struct slot {
    bool active;
    size_t req; /* index of its request */
    sampler smp;
    tok_ids hist; /* prompt, then the generated tokens */
    size_t n_prompt;
    buf text;     /* bytes decoded so far */
    int32_t next; /* the last sampled token, fed at the next step */
    double t0, prefill_ms;
} slot;

struct engine {
    model *m;
    const tok *t;
    int n_slots; /* slots that decode (the prefix cache takes the last model sequence) */
    int n_alloc; /* slots allocated: the model's sequences */
    slot *slots;
    size_t n_vocab, n_batch, n_outputs, ctx;
    int32_t *btok, *bseq; /* (n_batch) a decode step's batch */
    uint8_t *bwant;       /* (n_batch) */
    int *bslot;           /* (n_batch) slot of each batch row */
    float *row;           /* (n_vocab) logits the sampler may modify */
    buf out;              /* the result text, sanitised */
    engine_stats st;
    int cache_seq;     /* model sequence holding a finished prompt for reuse, or -1 */
    tok_ids cache_ids; /* its tokens */
};

/* Prompts sharing fewer tokens than this with a cached one are computed afresh. */
#define MIN_SHARED_PREFIX 16

int engine_open(engine **out, model *m, const tok *t, err *e)
{
    *out = NULL;
    const model_hparams *hp = model_get_hparams(m);
    const model_settings *ms = model_get_settings(m);
    if (tok_n_vocab(t) > hp->n_vocab)
        return err_set(e, ERR_FORMAT, "%s: the tokenizer has %zu tokens, the model only %u",
                       gguf_path(model_get_gguf(m)), tok_n_vocab(t), hp->n_vocab);
    engine *en = calloc(1, sizeof *en);
    if (!en) return err_set(e, ERR_NOMEM, "out of memory");
    en->m = m;
    en->t = t;
    en->n_slots = en->n_alloc = ms->n_seq;
    en->n_vocab = hp->n_vocab;
    en->n_batch = (size_t)ms->n_batch;
    en->n_outputs = (size_t)ms->n_outputs;
    en->ctx = (size_t)ms->ctx_size;
    en->cache_seq = -1;
    en->cache_ids = (tok_ids)TOK_IDS_INIT;
    en->slots = calloc((size_t)en->n_slots, sizeof *en->slots);
    en->btok = calloc(en->n_batch, sizeof *en->btok);
    en->bseq = calloc(en->n_batch, sizeof *en->bseq);
    en->bwant = calloc(en->n_batch, sizeof *en->bwant);
    en->bslot = calloc(en->n_batch, sizeof *en->bslot);
    en->row = malloc(en->n_vocab * sizeof *en->row);
    int rc = 0;
    if (!en->slots || !en->btok || !en->bseq || !en->bwant || !en->bslot || !en->row) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int s = 0; s < en->n_slots; s++) {
        slot *sl = &en->slots[s];
        sl->hist = (tok_ids)TOK_IDS_INIT;
        sl->text = (buf)BUF_INIT;
        if ((rc = sampler_init(&sl->smp, en->n_vocab, e)) < 0) goto fail;
    }
    *out = en;
    return 0;
fail:
    engine_close(en);
    return rc;
}

void engine_close(engine *en)
{
    if (!en) return;
    for (int s = 0; en->slots && s < en->n_alloc; s++) {
        sampler_release(&en->slots[s].smp);
        tok_ids_release(&en->slots[s].hist);
        buf_release(&en->slots[s].text);
    }
    free(en->slots);
    free(en->btok);
    free(en->bseq);
    free(en->bwant);
    free(en->bslot);
    free(en->row);
    buf_release(&en->out);
    tok_ids_release(&en->cache_ids);
    free(en);
}

int engine_set_prefix_cache(engine *en, bool on, err *e)
{
    int last = model_get_settings(en->m)->n_seq - 1;
    if (on == (en->cache_seq >= 0)) return 0;
    if (!on) {
        model_seq_clear(en->m, en->cache_seq);
        en->cache_ids.n = 0;
        en->cache_seq = -1;
        en->n_slots++;
        return 0;
    }
    if (last < 1)
        return err_set(e, ERR_INVALID,
                       "engine: a prefix cache needs a model of 2 sequences or more");
    en->cache_seq = last;
    en->n_slots = last;
    return 0;
}

/* Tokens a and b have in common at their start. */
static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Starts slot s (empty) with the longest prefix of `prompt` another sequence has in the
 * cache (a running one, or the kept prompt); returns the tokens taken (0: none). At least
 * one prompt token is always left to run, for its logits. */
static size_t reuse_prefix(engine *en, int s, const int32_t *prompt, size_t n)
{
    size_t best = 0;
    int from = -1;
    if (en->cache_seq < 0) return 0;
    for (int o = 0; o < en->n_slots; o++) {
        if (o == s || !en->slots[o].active) continue;
        size_t len = model_seq_len(en->m, o);
        size_t c = common_prefix(en->slots[o].hist.v, len, prompt, n - 1);
        if (c > best) best = c, from = o;
    }
    {
        size_t len = model_seq_len(en->m, en->cache_seq);
        size_t c = common_prefix(en->cache_ids.v, len < en->cache_ids.n ? len : en->cache_ids.n,
                                 prompt, n - 1);
        if (c > best) best = c, from = en->cache_seq;
    }
    if (best < MIN_SHARED_PREFIX) return 0;
    err ignore = ERR_INIT;
    if (model_seq_share(en->m, s, from, best, &ignore) < 0) return 0;
    return best;
}

/* Keeps a finished sequence's prompt as the reusable one. */
static void keep_prefix(engine *en, int s, size_t n_prompt)
{
    if (en->cache_seq < 0 || n_prompt < MIN_SHARED_PREFIX) return;
    size_t len = model_seq_len(en->m, s);
    if (len < n_prompt) return;
    model_seq_clear(en->m, en->cache_seq);
    en->cache_ids.n = 0;
    err ignore = ERR_INIT;
    if (model_seq_share(en->m, en->cache_seq, s, n_prompt, &ignore) < 0) return;
    for (size_t i = 0; i < n_prompt; i++)
        if (tok_ids_push(&en->cache_ids, en->slots[s].hist.v[i]) < 0) {
            model_seq_clear(en->m, en->cache_seq);
            en->cache_ids.n = 0;
            return;
        }
}

const engine_stats *engine_get_stats(const engine *en)
{
    return &en->st;
}

/* ==== UTF-8 ============================================================================= */

int engine_utf8_sanitize(const char *s, size_t len, buf *out)
{
    return utf8_sanitize(out, s, len, true);
}

/* ==== one sequence ====================================================================== */

/* Appends a sampled token; returns the finish reason, or NULL to go on. */
static const char *take_token(engine *en, slot *sl, const engine_request *rq, int32_t t, int *rc,
                              err *e)
{
    *rc = 0;
    if ((*rc = tok_ids_push(&sl->hist, t)) < 0) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t n_gen = sl->hist.n - sl->n_prompt;
    if (!rq->ignore_eog && tok_is_eog(en->t, t)) return "stop";
    size_t old = sl->text.len;
    if ((*rc = tok_piece(en->t, t, TOK_DECODE_SPECIAL, &sl->text, e)) < 0) return NULL;
    /* the earliest stop string that the new bytes complete */
    size_t cut = SIZE_MAX;
    for (size_t i = 0; i < rq->n_stop; i++) {
        const char *st = rq->stop[i];
        size_t sn = st ? strlen(st) : 0;
        if (!sn) continue;
        size_t from = old >= sn - 1 ? old - (sn - 1) : 0;
        const char *hit = mem_find(sl->text.data + from, sl->text.len - from, st, sn);
        if (hit && (size_t)(hit - sl->text.data) < cut) cut = (size_t)(hit - sl->text.data);
    }
    if (cut != SIZE_MAX) {
        buf_truncate(&sl->text, cut);
        return "stop";
    }
    if (rq->max_tokens > 0 && n_gen >= (size_t)rq->max_tokens) return "length";
    /* feeding t makes the sequence hist.n tokens long */
    if (sl->hist.n > en->ctx) return "length";
    return NULL;
}

/* Hands a finished sequence to the callback and frees its slot. */
static int deliver(engine *en, int s, const engine_request *rq, const char *reason,
                   const char *error, engine_on_done cb, void *ctx, err *e)
{
    slot *sl = &en->slots[s];
    buf_reset(&en->out);
    if (engine_utf8_sanitize(sl->text.data, sl->text.len, &en->out) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    engine_result r = {
        .text = en->out.data,
        .len = en->out.len,
        .tokens = sl->hist.v ? sl->hist.v + sl->n_prompt : NULL,
        .n_tokens = sl->hist.n >= sl->n_prompt ? sl->hist.n - sl->n_prompt : 0,
        .n_prompt = rq->n_prompt,
        .finish_reason = error ? "error" : reason,
        .error = error,
        .latency_ms = sl->t0 > 0 ? time_now_ms() - sl->t0 : 0,
        .prefill_ms = sl->prefill_ms,
    };
    en->st.generated_tokens += r.n_tokens;
    if (!error) keep_prefix(en, s, sl->n_prompt);
    model_seq_clear(en->m, s);
    sl->active = false;
    sl->hist.n = 0;
    buf_reset(&sl->text);
    sl->t0 = 0;
    sl->prefill_ms = 0;
    return cb(ctx, sl->req, &r);
}

/* Takes request `index` into free slot s: reserves its cache, runs its prompt, samples
 * its first token. Returns 1 when the cache cannot hold it while other sequences run
 * (try again later), 0 when taken (or answered with an error), < 0 on failure. */
static int admit(engine *en, int s, const engine_request *rq, size_t index, bool others,
                 engine_on_done cb, void *ctx, err *e)
{
    slot *sl = &en->slots[s];
    char msg[160];
    sl->req = index;
    sl->hist.n = 0;
    sl->n_prompt = rq->n_prompt;
    buf_reset(&sl->text);
    if (rq->n_prompt == 0 || !rq->prompt)
        return deliver(en, s, rq, NULL, "the prompt has no tokens", cb, ctx, e);
    if (rq->n_prompt > en->ctx) {
        snprintf(msg, sizeof msg, "the prompt has %zu tokens, more than the context of %zu",
                 rq->n_prompt, en->ctx);
        return deliver(en, s, rq, NULL, msg, cb, ctx, e);
    }
    /* the sequence grows to the prompt plus all but the last generated token */
    size_t reserve = rq->max_tokens > 0 ? rq->n_prompt + (size_t)rq->max_tokens - 1 : en->ctx;
    if (reserve > en->ctx) reserve = en->ctx;
    size_t reused = reuse_prefix(en, s, rq->prompt, rq->n_prompt);
    err e2 = ERR_INIT;
    int rc = model_seq_reserve(en->m, s, reserve, &e2);
    if (rc == ERR_LIMIT && en->cache_seq >= 0 && model_seq_len(en->m, en->cache_seq)) {
        /* the kept prompt gives its pages back first */
        model_seq_clear(en->m, s);
        model_seq_clear(en->m, en->cache_seq);
        en->cache_ids.n = 0;
        reused = reuse_prefix(en, s, rq->prompt, rq->n_prompt);
        rc = model_seq_reserve(en->m, s, reserve, &e2);
    }
    if (rc < 0) model_seq_clear(en->m, s);
    if (rc == ERR_LIMIT && others) return 1;
    if (rc < 0) {
        snprintf(msg, sizeof msg, "%s", e2.msg);
        return deliver(en, s, rq, NULL, msg, cb, ctx, e);
    }
    sl->active = true;
    sl->t0 = time_now_ms();
    sampler_reset(&sl->smp, &rq->sampling);
    for (size_t i = 0; i < rq->n_prompt; i++)
        if ((rc = tok_ids_push(&sl->hist, rq->prompt[i])) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
    en->st.cached_tokens += reused;

    /* the prompt in chunks of n_batch, logits of its last token */
    const float *lg = NULL;
    size_t n_out = 0;
    double t0 = time_now_s();
    for (size_t done = reused; done < rq->n_prompt;) {
        size_t k = rq->n_prompt - done < en->n_batch ? rq->n_prompt - done : en->n_batch;
        for (size_t i = 0; i < k; i++) {
            en->bseq[i] = s;
            en->bwant[i] = done + i + 1 == rq->n_prompt;
        }
        model_batch b = {.n = k, .tokens = rq->prompt + done, .seq = en->bseq, .logits = en->bwant};
        if ((rc = model_forward(en->m, &b, &lg, &n_out, e)) < 0) return rc;
        done += k;
    }
    double dt = time_now_s() - t0;
    sl->prefill_ms = dt * 1e3;
    en->st.prefill_s += dt;
    en->st.prompt_tokens += rq->n_prompt - reused;

    memcpy(en->row, lg, en->n_vocab * sizeof *en->row);
    int32_t t = sampler_sample(&sl->smp, en->row, sl->hist.v, sl->hist.n);
    const char *reason = take_token(en, sl, rq, t, &rc, e);
    if (rc < 0) return rc;
    if (reason) return deliver(en, s, rq, reason, NULL, cb, ctx, e);
    sl->next = t;
    return 0;
}

/* One batched step: feeds every active sequence its last token, samples the next. */
static int decode_step(engine *en, const engine_request *reqs, engine_on_done cb, void *ctx, err *e)
{
    size_t group = en->n_batch < en->n_outputs ? en->n_batch : en->n_outputs;
    int s0 = 0;
    while (s0 < en->n_slots) {
        size_t nb = 0;
        int s = s0;
        for (; s < en->n_slots && nb < group; s++) {
            if (!en->slots[s].active) continue;
            en->btok[nb] = en->slots[s].next;
            en->bseq[nb] = s;
            en->bwant[nb] = 1;
            en->bslot[nb++] = s;
        }
        s0 = s;
        if (!nb) break;
        double t0 = time_now_s();
        const float *lg = NULL;
        size_t n_out = 0;
        model_batch b = {.n = nb, .tokens = en->btok, .seq = en->bseq, .logits = en->bwant};
        int rc = model_forward(en->m, &b, &lg, &n_out, e);
        if (rc < 0) return rc;
        en->st.steps++;
        for (size_t i = 0; i < nb; i++) {
            slot *sl = &en->slots[en->bslot[i]];
            const engine_request *rq = &reqs[sl->req];
            memcpy(en->row, lg + i * en->n_vocab, en->n_vocab * sizeof *en->row);
            int32_t t = sampler_sample(&sl->smp, en->row, sl->hist.v, sl->hist.n);
            const char *reason = take_token(en, sl, rq, t, &rc, e);
            if (rc < 0) return rc;
            if (reason) {
                if ((rc = deliver(en, en->bslot[i], rq, reason, NULL, cb, ctx, e)) < 0) return rc;
            } else {
                sl->next = t;
            }
        }
        en->st.decode_s += time_now_s() - t0;
    }
    return 0;
}

int engine_generate(engine *en, const engine_request *reqs, size_t n, engine_on_done cb, void *ctx,
                    const volatile int *cancel, err *e)
{
    size_t next = 0;
    int rc = 0;
    for (;;) {
        if (cancel && *cancel) {
            rc = err_set(e, ERR_INTERRUPTED, "interrupted");
            break;
        }
        /* fill free slots from the queue */
        int active = 0;
        for (int s = 0; s < en->n_slots; s++) active += en->slots[s].active;
        for (int s = 0; s < en->n_slots && next < n && rc == 0; s++) {
            if (en->slots[s].active) continue;
            rc = admit(en, s, &reqs[next], next, active > 0, cb, ctx, e);
            if (rc == 1) {
                rc = 0;
                break; /* the cache is full: wait for a sequence to finish */
            }
            next++;
            if (en->slots[s].active) active++;
            if (cancel && *cancel) break;
        }
        if (rc < 0) break;
        if (!active) {
            if (next >= n) break;
            continue;
        }
        if ((rc = decode_step(en, reqs, cb, ctx, e)) < 0) break;
    }
    /* whatever is left (a stop or a failure) gives its cache back */
    for (int s = 0; s < en->n_slots; s++) {
        if (!en->slots[s].active) continue;
        en->slots[s].active = false;
        model_seq_clear(en->m, s);
    }
    return rc;
}
