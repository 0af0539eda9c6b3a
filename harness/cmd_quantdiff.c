/* cmd_quantdiff.c: `tally quantdiff`: how far a quantized GGUF drifts from its base.
 *
 * Both models run over the same token streams and their logits are compared
 * position by position as they come out of the forward passes (nothing is
 * stored but a few numbers a position):
 *
 *   --text FILE   the file tokenized with BASE's tokenizer and cut into windows
 *                 of --ctx tokens (BOS first when the vocabulary adds one);
 *                 every position that has a next token is scored
 *   --task T      the task's prompts (raw, or chat with BASE's template), each
 *                 followed by BASE's own greedy answer, generated first with the
 *                 engine; the answer tokens are scored (--all-positions: every
 *                 position)
 *
 * Teacher forcing runs both models side by side, a chunk of tokens at a time:
 * BASE's forward, then QUANT's on the same tokens, then the rows compared
 * (backends/logitstats.h) and streamed into the statistics (reports/drift.h).
 * A prompt that starts like the previous one (few-shot exemplars) reuses its
 * cache in both models when none of the shared positions is scored.
 *
 * The run directory: manifest.json (both files, their sha256 and quant mix,
 * the token source and settings), samples.jsonl (--task: BASE's answers),
 * scores.jsonl (one record per item or window) and results.json (task
 * "quantdiff": the metrics with intervals and the KL histogram), which `tally
 * compare` and `tally report` read. scores.jsonl grows a record a stream as
 * each is scored; a second run into the same directory (same files and
 * settings, else refused) keeps those records and computes only the rest.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/chat.h"
#include "backends/engine.h"
#include "backends/logitstats.h"
#include "backends/model.h"
#include "backends/qtype.h"
#include "backends/tokenizer.h"
#include "cmd.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/util.h"
#include "evaluate.h"
#include "progress.h"
#include "reports/drift.h"
#include "rundir.h"
#include "runners/runner.h"
#include "scorers/metric.h"
#include "task.h"
#include "version.h"

typedef struct qd_opts {
    const char *text, *task, *out, *data_dir, *ids, *prompt_style, *chat_template, *cache_dir;
    int limit, shots, max_tokens, ctx, threads, batch, bootstrap;
    uint64_t seed;
    bool all_positions, quiet;
} qd_opts;

#define O(f) offsetof(qd_opts, f)
static const opt_def qd_opt_defs[] = {
    {"text", OPT_STR, O(text), "FILE", "score the text of FILE, cut into windows of --ctx tokens",
     0},
    {"task", OPT_STR, O(task), "T", "score the task's prompts followed by BASE's greedy answers",
     0},
    {"out", OPT_STR, O(out), "DIR", "run directory to write (required)", 0},
    {"limit", OPT_INT, O(limit), "N", "only the first N items (or windows)", 0},
    {"ids", OPT_STR, O(ids), "ID[,ID..]|@FILE", "--task: only these items", 0},
    {"shots", OPT_INT, O(shots), "K", "--task: few-shot exemplars (default: the task's)", 0},
    {"prompt-style", OPT_STR, O(prompt_style), "raw|chat",
     "--task: raw text (default) or chat with BASE's template", 0},
    {"chat-template", OPT_STR, O(chat_template), "NAME",
     "--task: granite-3.3|granite-4.0|granite-4.1|ling-2.0 (default: BASE's); BFCL's prompts are "
     "messages in any style",
     0},
    {"max-tokens", OPT_INT, O(max_tokens), "N", "--task: cap on BASE's answer (default 64)", 0},
    {"all-positions", OPT_BOOL, O(all_positions), NULL,
     "--task: score every position, not only the answer's", 0},
    {"ctx", OPT_INT, O(ctx), "N", "--text: window length in tokens (default 512)", 0},
    {"threads", OPT_INT, O(threads), "N", "CPU threads (default all)", 0},
    {"batch", OPT_INT, O(batch), "B", "--task: answers generated together (default 1)", 0},
    {"bootstrap", OPT_INT, O(bootstrap), "N",
     "bootstrap replicates for the quantiles' intervals (default 1000)", 0},
    {"seed", OPT_U64, O(seed), "S", "the bootstrap's seed", 0},
    {"data-dir", OPT_STR, O(data_dir), "DIR",
     "datasets (default $TALLY_DATA, then ~/.cache/tally/datasets)", 0},
    {"cache-dir", OPT_STR, O(cache_dir), "DIR",
     "where the files' sha256 are cached (default ~/.cache/tally)", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no progress line and no table", 0},
    {0},
};
#undef O

/* What quantdiff says about MoE files (the native engine refuses them). */
#define QD_EXPERTS_NOTE                                                                            \
    "not measured: these dense models have no experts; MoE files (how often two files pick "       \
    "the same experts per layer) need the MoE engine, which tally does not have yet"

/* Tokens fed per forward pass in the scoring pass (and logit rows asked at most). */
#define QD_CHUNK 128

/* One token stream: a window of text, or a prompt and BASE's answer. */
typedef struct qd_stream {
    const char *id;
    tok_ids ids;                    /* prompt, then the answer once generated */
    size_t n_prompt;                /* tokens before the answer (text: all of them) */
    size_t from;                    /* first scored position (position p predicts token p + 1) */
    const prompt *p;                /* --task: the item's prompt */
    char prompt_sha[HASH_HEX_SIZE]; /* of the text tokenized (chat: rendered), as tally run's */
    const char **stops;
    size_t n_stops;
    char *answer; /* --task: BASE's answer text (malloc'd) */
    const char *finish;
    double latency_ms;
} qd_stream;

typedef struct qd {
    const qd_opts *o;
    const char *base_path, *quant_path;
    gguf *gb, *gq;
    tok *tb, *tq;
    model *mb, *mq;
    bool chat;
    bool has_family; /* a chat template to render messages with */
    enum chat_family family;
    char family_error[ERR_MSG_SIZE]; /* why there is none */
    qd_stream *st;
    size_t n_st, st_cap;
    size_t ctx; /* longest stream */
    arena a;
    /* --task */
    const task_def *t;
    task_options to;
    item_set all;
    const item **items;
    selection sel;
    /* --text */
    char text_sha[HASH_HEX_SIZE];
    size_t text_bytes, text_tokens;
    /* results */
    drift d;
    size_t n_done; /* streams whose records a resumed run found in scores.jsonl */
    int scores_fd; /* scores.jsonl, appended one record a stream */
    const char *scores_path;
    size_t base_mismatch; /* answer positions where BASE's greedy choice is not its answer token */
    size_t n_outcomes[3]; /* correct (greedy choices never differ), wrong, no_answer */
} qd;

/* ==== tokenizers ======================================================================== */

/* Both files must map every id to the same token: the logits are compared id by id. */
STATIC int qd_check_vocab(const tok *a, const tok *b, const char *pa, const char *pb, err *e)
{
    size_t na = tok_n_vocab(a), nb = tok_n_vocab(b);
    if (na != nb)
        return err_set(e, ERR_MISMATCH,
                       "%s and %s do not share a vocabulary: %zu tokens in %s, %zu in %s", pa, pb,
                       na, pa, nb, pb);
    for (size_t i = 0; i < na; i++) {
        size_t la, lb;
        const char *sa = tok_text(a, (int32_t)i, &la), *sb = tok_text(b, (int32_t)i, &lb);
        if (la != lb || memcmp(sa, sb, la) != 0 ||
            tok_attr(a, (int32_t)i) != tok_attr(b, (int32_t)i))
            return err_set(e, ERR_MISMATCH,
                           "%s and %s do not share a vocabulary: token %zu is \"%.*s\" in %s and "
                           "\"%.*s\" in %s",
                           pa, pb, i, (int)(la > 40 ? 40 : la), sa, pa, (int)(lb > 40 ? 40 : lb),
                           sb, pb);
    }
    if (tok_bos(a) != tok_bos(b) || tok_eos(a) != tok_eos(b) || tok_eot(a) != tok_eot(b) ||
        tok_add_bos(a) != tok_add_bos(b))
        return err_set(
            e, ERR_MISMATCH,
            "%s and %s do not share a tokenizer: BOS/EOS/EOT ids or add_bos_token differ", pa, pb);
    if (strcmp(tok_pre(a), tok_pre(b)) != 0)
        return err_set(e, ERR_MISMATCH,
                       "%s and %s do not share a tokenizer: pre-tokenizer %s against %s", pa, pb,
                       tok_pre(a), tok_pre(b));
    return 0;
}

/* ==== token streams ===================================================================== */

static qd_stream *add_stream(qd *q, err *e)
{
    if (q->n_st == q->st_cap) {
        size_t nc = q->st_cap ? 2 * q->st_cap : 16;
        qd_stream *ns = realloc(q->st, nc * sizeof *ns);
        if (!ns) {
            err_set(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
        q->st = ns;
        q->st_cap = nc;
    }
    qd_stream *s = &q->st[q->n_st++];
    memset(s, 0, sizeof *s);
    s->ids = (tok_ids)TOK_IDS_INIT;
    return s;
}

/* --text: the file's tokens in windows of ctx (BOS first in each when the vocabulary adds one). */
static int text_streams(qd *q, err *e)
{
    buf text = BUF_INIT;
    tok_ids all = TOK_IDS_INIT;
    int rc = file_read_all(q->o->text, &text, e);
    if (rc < 0) goto out;
    q->text_bytes = text.len;
    sha256_hex(text.data, text.len, q->text_sha);
    if ((rc = tok_encode(q->tb, text.data, text.len, 0, &all, e)) < 0) goto out;
    q->text_tokens = all.n;
    const bool bos = tok_add_bos(q->tb) && tok_bos(q->tb) >= 0;
    const size_t ctx = (size_t)q->o->ctx, per = bos ? ctx - 1 : ctx;
    for (size_t at = 0, w = 0; at < all.n; at += per, w++) {
        size_t n = all.n - at < per ? all.n - at : per;
        if (n + bos < 2) break; /* nothing to predict */
        if (q->o->limit > 0 && w >= (size_t)q->o->limit) break;
        qd_stream *s = add_stream(q, e);
        if (!s) {
            rc = ERR_NOMEM;
            goto out;
        }
        s->id = arena_printf(&q->a, "w%zu", w);
        if (!s->id) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (bos && (rc = tok_ids_push(&s->ids, tok_bos(q->tb))) < 0) goto nomem;
        for (size_t i = 0; i < n; i++)
            if ((rc = tok_ids_push(&s->ids, all.v[at + i])) < 0) goto nomem;
        s->n_prompt = s->ids.n;
        s->from = 0;
    }
    if (!q->n_st)
        rc = err_set(e, ERR_USAGE, "--text %s: fewer than two tokens to score", q->o->text);
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    buf_release(&text);
    tok_ids_release(&all);
    return rc;
}

/* The prompt's token ids, as the native runner makes them: raw text as it is (BOS as
 * the vocabulary says), chat messages rendered with the family's template. */
static int prompt_ids(qd *q, qd_stream *s, err *e)
{
    const prompt *p = s->p;
    buf text = BUF_INIT;
    chat_msg *msgs = NULL;
    unsigned flags = TOK_ADD_SPECIAL;
    const char *const *fam_stops = NULL;
    int rc = 0;
    if (p->messages) {
        /* BFCL's prompts are messages whatever the style: as in tally run, they need a template */
        if (!q->has_family) {
            rc = err_set(
                e, ERR_USAGE, "the prompt is chat messages and no template applies: %s%s",
                q->family_error,
                strstr(q->family_error, "--chat-template") ? "" : " (pass --chat-template NAME)");
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
        chat_options co;
        chat_options_default(&co);
        co.tools = p->tools;
        co.assistant_prefix = p->assistant_prefix;
        if ((rc = chat_render(q->family, msgs, p->n_messages, &co, &text, e)) < 0) goto out;
        flags |= TOK_PARSE_SPECIAL;
        fam_stops = chat_stop_strings(q->family);
    } else if ((rc = buf_puts(&text, p->text ? p->text : "")) < 0) {
        rc = err_set(e, rc, "out of memory");
        goto out;
    }
    if ((rc = tok_encode(q->tb, text.data, text.len, flags, &s->ids, e)) < 0) goto out;
    sha256_hex(text.data, text.len, s->prompt_sha);
    size_t nf = 0;
    while (fam_stops && fam_stops[nf]) nf++;
    s->stops = arena_calloc(&q->a, p->n_stop + nf + 1, sizeof *s->stops);
    if (!s->stops) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->n_stop; i++) s->stops[s->n_stops++] = p->stop[i];
    for (size_t i = 0; i < nf; i++) s->stops[s->n_stops++] = fam_stops[i];
    s->n_prompt = s->ids.n;
    if (!s->n_prompt) rc = err_set(e, ERR_INVALID, "the prompt gives no tokens");
out:
    free(msgs);
    buf_release(&text);
    return rc;
}

/* --task: the selected items' prompts. */
static int task_streams(qd *q, err *e)
{
    const qd_opts *o = q->o;
    int rc;
    q->t = task_find(o->task);
    if (!q->t)
        return err_set(e, ERR_USAGE, "--task: unknown task \"%s\" ('tally help run' lists them)",
                       o->task);
    task_options_default(&q->to);
    q->to.data_dir = cmd_data_dir(o->data_dir, &q->a);
    q->to.shots = o->shots;
    q->to.chat = q->chat;
    q->to.cache_dir = cmd_cache_dir(o->cache_dir, &q->a);
    if ((rc = q->t->load(&q->to, q->t->arg, &q->a, &q->all, e)) < 0) return rc;
    q->sel = (selection){o->ids, o->limit, NULL};
    size_t n = 0;
    if ((rc = eval_select(&q->all, &q->sel, &q->a, &q->items, &n, e)) < 0) return rc;
    if (!n) return err_set(e, ERR_USAGE, "%s: the selection is empty", q->t->name);
    for (size_t i = 0; i < n; i++) {
        prompt *p = arena_calloc(&q->a, 1, sizeof *p);
        qd_stream *s = p ? add_stream(q, e) : NULL;
        if (!s) return err_set(e, ERR_NOMEM, "out of memory");
        s->id = q->items[i]->id;
        s->p = p;
        if ((rc = q->t->build(&q->to, q->t->arg, q->items[i], &q->a, p, e)) < 0 ||
            (rc = prompt_ids(q, s, e)) < 0)
            return err_prefix(e, "%s item %s", q->t->name, s->id);
    }
    return 0;
}

/* ==== BASE's answers ==================================================================== */

typedef struct gen_ctx {
    qd *q;
    size_t first; /* the stream of request 0 */
    progress *prog;
    err *e;
} gen_ctx;

static int on_answer(void *ctx, size_t index, const engine_result *r)
{
    gen_ctx *g = ctx;
    qd_stream *s = &g->q->st[g->first + index];
    if (r->error)
        return err_set(g->e, ERR_INVALID, "item %s: BASE could not answer: %s", s->id, r->error);
    for (size_t i = 0; i < r->n_tokens; i++)
        if (tok_ids_push(&s->ids, r->tokens[i]) < 0)
            return err_set(g->e, ERR_NOMEM, "out of memory");
    s->answer = strdup(r->text);
    if (!s->answer) return err_set(g->e, ERR_NOMEM, "out of memory");
    s->finish = r->finish_reason && !strcmp(r->finish_reason, "length") ? "length" : "stop";
    s->latency_ms = r->latency_ms;
    progress_tick(g->prog, -1);
    if (cmd_interrupted) return err_set(g->e, ERR_INTERRUPTED, "interrupted");
    return 0;
}

/* BASE's answers to the streams a resumed run has not scored yet. */
static int generate_answers(qd *q, err *e)
{
    engine *en = NULL;
    const size_t first = q->n_done, n_req = q->n_st - first;
    engine_request *reqs = calloc(n_req ? n_req : 1, sizeof *reqs);
    progress prog;
    int rc = 0;
    if (!reqs) return err_set(e, ERR_NOMEM, "out of memory");
    if (!n_req) goto out;
    if ((rc = engine_open(&en, q->mb, q->tb, e)) < 0) goto out;
    if ((rc = engine_set_prefix_cache(en, true, e)) < 0) goto out;
    for (size_t i = 0; i < n_req; i++) {
        engine_request *x = &reqs[i];
        const qd_stream *st = &q->st[first + i];
        x->prompt = st->ids.v;
        x->n_prompt = st->ids.n;
        x->max_tokens = q->o->max_tokens;
        sampler_params_default(&x->sampling); /* temperature 0: greedy */
        x->sampling.temperature = 0;
        x->sampling.repeat_penalty = 1;
        x->stop = st->stops;
        x->n_stop = st->n_stops;
    }
    progress_start(&prog, "quantdiff: BASE answers", n_req, !q->o->quiet && isatty(2));
    gen_ctx g = {q, first, &prog, e};
    rc = engine_generate(en, reqs, n_req, on_answer, &g, &cmd_interrupted, e);
    progress_end(&prog);
    if (rc < 0 && cmd_interrupted) rc = err_set(e, ERR_INTERRUPTED, "interrupted");
out:
    engine_close(en);
    free(reqs);
    /* the scoring pass starts from empty sequences */
    for (int s = 0; s < model_get_settings(q->mb)->n_seq; s++) model_seq_clear(q->mb, s);
    return rc;
}

/* ==== teacher-forced scoring ============================================================ */

/* "\"text\"" of a token, for messages. */
static const char *piece_json(const tok *t, int32_t id, arena *a)
{
    buf p = BUF_INIT, j = BUF_INIT;
    tok_piece(t, id, TOK_DECODE_SPECIAL, &p, NULL);
    buf clean = BUF_INIT;
    engine_utf8_sanitize(p.data, p.len, &clean);
    json_append_str(&j, clean.data, clean.len);
    const char *r = arena_strdup(a, j.data);
    buf_release(&p);
    buf_release(&j);
    buf_release(&clean);
    return r ? r : "?";
}

static int put_num(buf *b, const char *key, double v)
{
    int rc = buf_printf(b, ",\"%s\":", key);
    if (!rc) rc = isfinite(v) ? json_append_double(b, v) : buf_puts(b, "null");
    return rc;
}

/* The scores.jsonl record of one stream. */
static int record(qd *q, const qd_stream *s, const drift_item *it, int32_t div_base,
                  int32_t div_quant, size_t mismatch, err *e)
{
    buf line = BUF_INIT, *b = &line;
    const char *outcome = !it->n ? "no_answer" : it->first_divergence < 0 ? "correct" : "wrong";
    const char *unit = q->o->text || q->o->all_positions ? "position" : "answer token";
    char *reason = NULL;
    if (!it->n) {
        reason = arena_printf(&q->a, "no position to compare");
    } else if (it->first_divergence >= 0) {
        reason =
            arena_printf(&q->a, "greedy choices differ at %s %ld: %s (base) against %s (quant)",
                         unit, it->first_divergence, piece_json(q->tb, div_base, &q->a),
                         piece_json(q->tb, div_quant, &q->a));
    }
    q->n_outcomes[!it->n ? 2 : it->first_divergence >= 0]++;
    double n = (double)it->n;
    int rc = buf_puts(b, "{\"id\":");
    if (!rc) rc = json_append_str(b, s->id, strlen(s->id));
    if (!rc)
        rc = buf_printf(b, ",\"sample\":0,\"outcome\":\"%s\",\"score\":%d,\"reason\":", outcome,
                        it->n && it->first_divergence < 0);
    if (!rc) rc = reason ? json_append_str(b, reason, strlen(reason)) : buf_puts(b, "null");
    if (!rc) rc = put_num(b, "kl_mean", it->n ? it->kl_sum / n : NAN);
    if (!rc) rc = put_num(b, "kl_max", it->n ? it->kl_max : NAN);
    if (!rc) rc = put_num(b, "top1_agreement", it->n ? (double)it->agree / n : NAN);
    if (!rc) rc = put_num(b, "nll_base", it->n ? it->nll_base_sum / n : NAN);
    if (!rc) rc = put_num(b, "nll_quant", it->n ? it->nll_quant_sum / n : NAN);
    if (!rc)
        rc = it->first_divergence >= 0
                 ? buf_printf(b, ",\"first_divergence\":%ld", it->first_divergence)
                 : buf_puts(b, ",\"first_divergence\":null");
    if (!rc)
        rc = buf_printf(b, ",\"tokens\":%zu,\"prompt_tokens\":%zu,\"answer_tokens\":%zu", it->n,
                        s->n_prompt, s->ids.n - s->n_prompt);
    /* what a resumed run needs to count this stream again without recomputing it: the
     * exact sums and every position's KL (as the drift keeps it, a float) */
    if (!rc) rc = buf_printf(b, ",\"base_mismatch\":%zu,\"agree\":%zu", mismatch, it->agree);
    if (!rc) rc = put_num(b, "kl_sum", it->kl_sum);
    if (!rc) rc = put_num(b, "kl_max_exact", it->kl_max);
    if (!rc) rc = put_num(b, "nll_base_sum", it->nll_base_sum);
    if (!rc) rc = put_num(b, "nll_quant_sum", it->nll_quant_sum);
    if (!rc) rc = buf_puts(b, ",\"kl\":[");
    for (size_t i = 0; i < it->n && !rc; i++)
        rc = buf_printf(b, i ? ",%.9g" : "%.9g", (double)q->d.kl[it->start + i]);
    if (!rc) rc = buf_puts(b, "]}\n");
    if (rc < 0) {
        buf_release(&line);
        return err_set(e, rc, "out of memory");
    }
    rc = file_append(q->scores_fd, line.data, line.len, q->scores_path, e);
    buf_release(&line);
    return rc;
}

/* A stored record back into the drift (a resumed run). */
static int restore_record(qd *q, const qd_stream *s, const cJSON *r, err *e)
{
    drift_item it = {0};
    const cJSON *kl = cJSON_GetObjectItemCaseSensitive(r, "kl");
    const cJSON *fd = cJSON_GetObjectItemCaseSensitive(r, "first_divergence");
    double n = json_num_at(r, "tokens", NULL, -1), agree = json_num_at(r, "agree", NULL, -1);
    double mism = json_num_at(r, "base_mismatch", NULL, -1);
    it.kl_sum = json_num_at(r, "kl_sum", NULL, NAN);
    it.kl_max = json_num_at(r, "kl_max_exact", NULL, NAN);
    it.nll_base_sum = json_num_at(r, "nll_base_sum", NULL, NAN);
    it.nll_quant_sum = json_num_at(r, "nll_quant_sum", NULL, NAN);
    if (!cJSON_IsArray(kl) || !(n >= 0) || !(agree >= 0) || !(mism >= 0) ||
        (double)cJSON_GetArraySize(kl) != n || !(cJSON_IsNull(fd) || cJSON_IsNumber(fd)))
        return err_set(e, ERR_PARSE,
                       "%s: the record of %s lacks what a resumed run needs (\"kl\", \"agree\", "
                       "sums); remove the directory to start again",
                       q->scores_path, s->id);
    it.n = (size_t)n;
    it.agree = (size_t)agree;
    it.first_divergence = cJSON_IsNumber(fd) ? (long)fd->valuedouble : -1;
    float *v = malloc((it.n ? it.n : 1) * sizeof *v);
    if (!v) return err_set(e, ERR_NOMEM, "out of memory");
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, kl) v[i++] = cJSON_IsNumber(x) ? (float)x->valuedouble : NAN;
    int rc = drift_add_item(&q->d, &it, v, e);
    free(v);
    if (rc < 0) return err_prefix(e, "%s: the record of %s", q->scores_path, s->id);
    q->n_outcomes[!it.n ? 2 : it.first_divergence >= 0]++;
    q->base_mismatch += (size_t)mism;
    return 0;
}

static size_t common_prefix(const tok_ids *a, const tok_ids *b)
{
    size_t n = 0;
    while (n < a->n && n < b->n && a->v[n] == b->v[n]) n++;
    return n;
}

/* Runs both models over every stream and streams the comparison into q->d. */
static int score_streams(qd *q, err *e)
{
    const size_t V = model_get_hparams(q->mb)->n_vocab;
    const bool share = q->o->task && !q->o->all_positions;
    logitstats ls = LOGITSTATS_INIT;
    int32_t seqv[QD_CHUNK];
    uint8_t want[QD_CHUNK];
    progress prog;
    int rc = logitstats_init(&ls, V, e);
    if (rc < 0) return rc;
    progress_start(&prog, "quantdiff: scoring", q->n_st - q->n_done, !q->o->quiet && isatty(2));
    for (size_t k = q->n_done; k < q->n_st && rc == 0; k++) {
        qd_stream *s = &q->st[k];
        const int seq = share ? (int)(k % 2) : 0;
        const size_t L = s->ids.n;
        model *ms[2] = {q->mb, q->mq};
        /* a prefix shared with the previous stream comes from its cache (positions below
         * `from` only: shared positions produce no logits) */
        size_t done = 0;
        for (int m = 0; m < 2; m++) model_seq_clear(ms[m], seq);
        if (share && k > q->n_done) {
            const qd_stream *pv = &q->st[k - 1];
            size_t c = common_prefix(&pv->ids, &s->ids);
            size_t held = pv->ids.n - 1; /* the previous stream's last token was never fed */
            if (c > held) c = held;
            if (c > s->from) c = s->from;
            for (int m = 0; m < 2 && c > 0 && rc == 0; m++)
                rc = model_seq_share(ms[m], seq, 1 - seq, c, e);
            if (rc < 0) break;
            done = c;
        }
        int32_t div_base = -1, div_quant = -1;
        size_t mismatch = 0;
        /* positions done .. L-2 are fed; each from `from` on is compared */
        while (done + 1 < L && rc == 0) {
            size_t n = L - 1 - done < QD_CHUNK ? L - 1 - done : QD_CHUNK;
            for (size_t i = 0; i < n; i++) {
                seqv[i] = seq;
                want[i] = done + i >= s->from;
            }
            model_batch b = {.n = n, .tokens = s->ids.v + done, .seq = seqv, .logits = want};
            const float *lb, *lq;
            size_t nb, nq;
            if ((rc = model_forward(q->mb, &b, &lb, &nb, e)) < 0) {
                err_prefix(e, "%s", q->base_path);
                break;
            }
            if ((rc = model_forward(q->mq, &b, &lq, &nq, e)) < 0) {
                err_prefix(e, "%s", q->quant_path);
                break;
            }
            size_t r = 0;
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (!want[i]) continue;
                const size_t p = done + i;
                const int32_t next = s->ids.v[p + 1];
                logit_cmp c;
                if ((rc = logitstats_compare(&ls, lb + r * V, lq + r * V, next, &c, e)) < 0) {
                    err_prefix(e, "%s position %zu", s->id, p);
                    break;
                }
                r++;
                drift_pos dp = {c.kl, c.top_base == c.top_quant, c.nll_base, c.nll_quant};
                if (!dp.agree && div_base < 0) {
                    div_base = c.top_base;
                    div_quant = c.top_quant;
                }
                if (p + 1 >= s->n_prompt && c.top_base != next) mismatch++;
                if ((rc = drift_add(&q->d, &dp, e)) < 0) err_prefix(e, "%s position %zu", s->id, p);
            }
            done += n;
            if (rc == 0 && cmd_interrupted) rc = err_set(e, ERR_INTERRUPTED, "interrupted");
        }
        drift_item it;
        if (rc == 0) rc = drift_end_item(&q->d, &it, e);
        q->base_mismatch += mismatch;
        if (rc == 0) rc = record(q, s, &it, div_base, div_quant, mismatch, e);
        if (rc == 0) progress_tick(&prog, it.n && it.first_divergence < 0);
    }
    progress_end(&prog);
    logitstats_release(&ls);
    return rc;
}

/* ==== resuming ========================================================================== */

/* May this run go on where the one in the directory stopped? */
static int check_resume(const rundir *d, const cJSON *old, const cJSON *now, err *e)
{
    static const char *const paths[][3] = {
        {"the token source", "source", NULL},
        {"BASE's sha256", "models", "base"},
        {"QUANT's sha256", "models", "quant"},
        {"the selection", "selection", NULL},
    };
    int rc = rundir_check_resume(d, old, now, e);
    if (rc < 0) return rc;
    if ((rc = rundir_compare_field(d, "BASE", json_at(old, "runner", "base_model"),
                                   json_at(now, "runner", "base_model"), e)) < 0)
        return rc;
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        const cJSON *a = json_at(old, paths[i][1], paths[i][2]);
        const cJSON *b = json_at(now, paths[i][1], paths[i][2]);
        if (paths[i][2]) {
            a = cJSON_GetObjectItemCaseSensitive(a, "sha256");
            b = cJSON_GetObjectItemCaseSensitive(b, "sha256");
        }
        if ((rc = rundir_compare_field(d, paths[i][0], a, b, e)) < 0) return rc;
    }
    return 0;
}

typedef int (*restore_fn)(qd *q, const qd_stream *s, const cJSON *r, err *e);

/* The lines of `path` that belong to streams 0, 1, ... in order (the line's "id" is the
 * next stream's), for at most `limit` streams; the lines are kept as written (a
 * reprint could round numbers). A torn last line (a run killed while writing it) or
 * a line of another stream ends the list; a malformed line before the last is an
 * error naming path:line. Each matched record goes to `fn` (may be NULL) and its line
 * into `keep`. *n: the lines matched. */
static int prefix_lines(qd *q, const char *path, size_t limit, restore_fn fn, buf *keep, size_t *n,
                        err *e)
{
    buf text = BUF_INIT;
    int rc = 0;
    *n = 0;
    if (file_exists(path) && (rc = file_read_all(path, &text, e)) < 0) return rc;
    line_iter it = line_iter_start(text.data, text.len);
    const char *l;
    size_t len;
    while (rc == 0 && *n < limit && line_iter_next(&it, &l, &len)) {
        cJSON *doc = cJSON_ParseWithLength(l, len);
        const char *id = doc ? json_str_at(doc, "id", NULL) : NULL;
        if (!id) {
            line_iter more = it;
            const char *l2;
            size_t n2;
            if (line_iter_next(&more, &l2, &n2))
                rc = err_set(e, ERR_PARSE, "%s:%zu: not a record of this run", path, it.lineno);
            cJSON_Delete(doc);
            break; /* else the torn last line: dropped */
        }
        if (strcmp(id, q->st[*n].id) != 0) {
            cJSON_Delete(doc);
            break;
        }
        if (fn) rc = fn(q, &q->st[*n], doc, e);
        if (rc == 0 && ((rc = buf_append(keep, l, len)) < 0 || (rc = buf_putc(keep, '\n')) < 0))
            rc = err_set(e, rc, "out of memory");
        cJSON_Delete(doc);
        if (rc == 0) ++*n;
    }
    buf_release(&text);
    return rc;
}

/* The records a stopped run left back into the drift; scores.jsonl is rewritten with
 * exactly those. --task: BASE's answers to those streams go into *answers (lines). */
static int restore(qd *q, const char *samples_path, buf *answers, err *e)
{
    buf keep = BUF_INIT;
    size_t n = 0;
    int rc = prefix_lines(q, q->scores_path, q->n_st, restore_record, &keep, &n, e);
    if (rc == 0) {
        q->n_done = n;
        rc = file_write_atomic(q->scores_path, keep.data, keep.len, e);
    }
    if (rc == 0 && q->o->task) rc = prefix_lines(q, samples_path, q->n_done, NULL, answers, &n, e);
    buf_release(&keep);
    return rc;
}

/* ==== the run directory ================================================================= */

/* What the manifest says about one file. */
static cJSON *describe_model(const model *m, const char *path, const char *cache_dir, err *e)
{
    const gguf *g = model_get_gguf(m);
    const model_hparams *hp = model_get_hparams(m);
    char hex[HASH_HEX_SIZE];
    if (runner_file_sha256(path, cache_dir, hex, e) < 0) return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    cJSON_AddStringToObject(o, "model_path", path);
    cJSON_AddNumberToObject(o, "file_size", (double)gguf_file_size(g));
    cJSON_AddStringToObject(o, "sha256", hex);
    cJSON_AddStringToObject(o, "architecture", hp->arch_name);
    const char *name = NULL;
    err ignore = ERR_INIT;
    if (gguf_opt_str(g, "general.name", NULL, &name, &ignore) == 0 && name)
        cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "parameters", (double)hp->n_params);
    /* the quant mix: tensors per type, and the file's bits per parameter */
    cJSON *types = cJSON_AddObjectToObject(o, "tensor_types");
    for (uint32_t t = 0; t < ARRAY_LEN(hp->type_count); t++) {
        const qtype_info *qi = qtype_get(t);
        if (hp->type_count[t] && qi && qi->name)
            cJSON_AddNumberToObject(types, qi->name, (double)hp->type_count[t]);
    }
    if (hp->n_params)
        cJSON_AddNumberToObject(o, "bits_per_parameter",
                                round(8000.0 * (double)gguf_file_size(g) / (double)hp->n_params) /
                                    1000);
    return o;
}

static cJSON *manifest_json(qd *q, const char *command, err *e)
{
    const qd_opts *o = q->o;
    cJSON *m = cJSON_CreateObject();
    if (!m) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    char now[32];
    time_iso8601(now, sizeof now);
    cJSON_AddStringToObject(m, "tally_version", TALLY_VERSION);
    cJSON_AddStringToObject(m, "task", "quantdiff");
    cJSON_AddStringToObject(m, "benchmark", "quantdiff");
    cJSON *src = cJSON_AddObjectToObject(m, "source");
    if (o->text) {
        cJSON_AddStringToObject(src, "kind", "text");
        cJSON *ds = cJSON_AddObjectToObject(m, "dataset");
        cJSON_AddStringToObject(ds, "path", o->text);
        cJSON_AddStringToObject(ds, "sha256", q->text_sha);
        cJSON_AddNumberToObject(ds, "bytes", (double)q->text_bytes);
        cJSON_AddNumberToObject(ds, "tokens", (double)q->text_tokens);
        cJSON_AddNumberToObject(src, "windows", (double)q->n_st);
    } else {
        cJSON_AddStringToObject(src, "kind", "task");
        cJSON_AddStringToObject(src, "task", q->t->name);
        cJSON_AddStringToObject(src, "benchmark", q->t->benchmark);
        cJSON *ds = cJSON_AddObjectToObject(m, "dataset");
        cJSON_AddStringToObject(ds, "path", q->all.path ? q->all.path : "");
        if (q->all.sha256) cJSON_AddStringToObject(ds, "sha256", q->all.sha256);
        cJSON_AddNumberToObject(ds, "items", (double)q->all.n);
    }
    cJSON_AddStringToObject(src, "scored",
                            o->text || o->all_positions ? "every position with a next token"
                                                        : "the answer tokens");
    cJSON *rj = cJSON_AddObjectToObject(m, "runner");
    cJSON_AddStringToObject(rj, "backend", "native");
    cJSON_AddStringToObject(rj, "model", q->quant_path);
    cJSON_AddStringToObject(rj, "base_model", q->base_path);
    /* results do not depend on these (model.h): how, not what */
    cJSON_AddNumberToObject(rj, "threads", model_get_settings(q->mb)->threads);
    cJSON_AddNumberToObject(rj, "ctx_size", (double)q->ctx);
    if (o->task) cJSON_AddNumberToObject(rj, "batch", o->batch);
    const char *cache = cmd_cache_dir(o->cache_dir, &q->a);
    cJSON *models = cJSON_AddObjectToObject(m, "models");
    cJSON *db = describe_model(q->mb, q->base_path, cache, e);
    if (!db) goto fail;
    cJSON_AddItemToObject(models, "base", db);
    cJSON *dq = describe_model(q->mq, q->quant_path, cache, e);
    if (!dq) goto fail;
    cJSON_AddItemToObject(models, "quant", dq);
    cJSON *s = cJSON_AddObjectToObject(m, "settings");
    if (o->text) {
        cJSON_AddNumberToObject(s, "ctx", o->ctx);
    } else {
        cJSON_AddStringToObject(s, "prompt_style", q->chat ? "chat" : "raw");
        if (q->has_family) cJSON_AddStringToObject(s, "chat_template", chat_family_name(q->family));
        if (o->shots >= 0)
            cJSON_AddNumberToObject(s, "shots", o->shots);
        else
            cJSON_AddStringToObject(s, "shots", "task default");
        cJSON_AddNumberToObject(s, "temperature", 0);
        cJSON_AddNumberToObject(s, "max_tokens", o->max_tokens);
        cJSON_AddBoolToObject(s, "all_positions", o->all_positions);
    }
    cJSON_AddNumberToObject(s, "bootstrap", o->bootstrap);
    cJSON_AddNumberToObject(s, "bootstrap_seed", (double)o->seed);
    if (o->task)
        cJSON_AddItemToObject(m, "selection", eval_selection_json(&q->sel, q->n_st));
    else {
        cJSON *sel = cJSON_AddObjectToObject(m, "selection");
        if (o->limit > 0) cJSON_AddNumberToObject(sel, "limit", o->limit);
        cJSON_AddNumberToObject(sel, "items", (double)q->n_st);
    }
    cJSON_AddItemToObject(m, "host", eval_host_json());
    cJSON_AddStringToObject(m, "command", command);
    cJSON_AddStringToObject(m, "created", now);
    return m;
fail:
    cJSON_Delete(m);
    return NULL;
}

/* NAME -> {"value", "n", "stderr", "ci95", "unit"} (null where the spread is unknown). */
static void put_metric(cJSON *metrics, const char *name, const drift_metric *dm, const char *unit)
{
    cJSON *o = cJSON_AddObjectToObject(metrics, name);
    cJSON_AddNumberToObject(o, "value", dm->value);
    cJSON_AddNumberToObject(o, "n", (double)dm->n);
    if (dm->has_ci && isfinite(dm->stderr_)) {
        cJSON_AddNumberToObject(o, "stderr", dm->stderr_);
        cJSON *ci = cJSON_AddArrayToObject(o, "ci95");
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(dm->lo));
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(dm->hi));
    } else {
        cJSON_AddNullToObject(o, "stderr");
        cJSON_AddNullToObject(o, "ci95");
    }
    cJSON_AddStringToObject(o, "unit", unit);
}

static cJSON *results_json(qd *q, const drift_summary *sm, const char *dir)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "task", "quantdiff");
    cJSON_AddStringToObject(r, "run", dir);
    cJSON_AddNumberToObject(r, "items", (double)sm->n_items);
    cJSON_AddNumberToObject(r, "samples", (double)sm->n_items);
    cJSON_AddNumberToObject(r, "tokens", (double)sm->n_positions);
    cJSON *m = cJSON_AddObjectToObject(r, "metrics");
    put_metric(m, "kl_mean", &sm->kl_mean, "nats");
    put_metric(m, "kl_median", &sm->kl_median, "nats");
    put_metric(m, "kl_p99", &sm->kl_p99, "nats");
    put_metric(m, "kl_max", &sm->kl_max, "nats");
    put_metric(m, "top1_agreement", &sm->top1_agreement, "fraction");
    put_metric(m, "ppl_base", &sm->ppl_base, "perplexity");
    put_metric(m, "ppl_quant", &sm->ppl_quant, "perplexity");
    put_metric(m, "ppl_ratio", &sm->ppl_ratio, "ratio");
    /* items whose greedy choices never differ: QUANT would have answered exactly as BASE */
    metric_value gm = metric_proportion(q->n_outcomes[0], sm->n_items);
    metric_put(m, "greedy_identical", gm);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(m, "greedy_identical"), "unit",
                            "fraction");
    cJSON *oc = cJSON_AddObjectToObject(r, "outcomes");
    if (q->n_outcomes[0]) cJSON_AddNumberToObject(oc, "correct", (double)q->n_outcomes[0]);
    if (q->n_outcomes[1]) cJSON_AddNumberToObject(oc, "wrong", (double)q->n_outcomes[1]);
    if (q->n_outcomes[2]) cJSON_AddNumberToObject(oc, "no_answer", (double)q->n_outcomes[2]);
    double edges[DRIFT_HIST_MAX_BINS + 1], counts[DRIFT_HIST_MAX_BINS];
    size_t nb = 0;
    drift_histogram(&q->d, edges, counts, &nb);
    cJSON *h = cJSON_AddObjectToObject(r, "kl_histogram");
    cJSON_AddItemToObject(h, "edges", cJSON_CreateDoubleArray(edges, (int)nb + 1));
    cJSON_AddItemToObject(h, "counts", cJSON_CreateDoubleArray(counts, (int)nb));
    cJSON_AddBoolToObject(h, "log_scale", true);
    cJSON_AddStringToObject(h, "note",
                            "nats; the first bin also counts every smaller value (0 included), the "
                            "last every larger one");
    cJSON *info = cJSON_AddObjectToObject(r, "info");
    cJSON *qi = cJSON_AddObjectToObject(info, "quantdiff");
    cJSON_AddStringToObject(qi, "scored",
                            q->o->text || q->o->all_positions ? "every position with a next token"
                                                              : "the answer tokens");
    cJSON_AddNumberToObject(qi, "items_diverged", (double)sm->n_diverged);
    if (q->o->task) cJSON_AddNumberToObject(qi, "base_greedy_mismatch", (double)q->base_mismatch);
    cJSON_AddStringToObject(
        qi, "intervals",
        "by item: means as ratio estimators with the linearised standard error, perplexities "
        "through exp; quantiles and the maximum by a percentile bootstrap over items");
    cJSON *ns = cJSON_AddObjectToObject(qi, "not_scored");
    cJSON_AddStringToObject(ns, "expert_set_agreement", QD_EXPERTS_NOTE);
    return r;
}

/* ==== the table ========================================================================= */

static void print_row(FILE *f, const char *name, const cJSON *metrics, bool percent)
{
    metric_value v;
    if (metric_get(metrics, name, &v) < 0) return;
    const cJSON *ci =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(metrics, name), "ci95");
    const cJSON *unit =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(metrics, name), "unit");
    const char *u =
        cJSON_IsString(unit) && strcmp(unit->valuestring, "fraction") ? unit->valuestring : "";
    char val[32], lo[32], hi[32];
    if (percent) {
        snprintf(val, sizeof val, "%.2f%%", 100 * v.value);
        snprintf(lo, sizeof lo, "%.2f", 100 * v.lo);
        snprintf(hi, sizeof hi, "%.2f", 100 * v.hi);
    } else {
        snprintf(val, sizeof val, "%.5g", v.value);
        snprintf(lo, sizeof lo, "%.4g", v.lo);
        snprintf(hi, sizeof hi, "%.4g", v.hi);
    }
    if (cJSON_IsArray(ci))
        fprintf(f, "  %-18s %12s   [%10s, %10s] %8zu  %s\n", name, val, lo, hi, v.n, u);
    else
        fprintf(f, "  %-18s %12s   %-24s %8zu  %s\n", name, val, "(one item: no interval)", v.n, u);
}

static void print_results(FILE *f, const qd *q, const cJSON *results, const drift_summary *sm)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(results, "metrics");
    const char *what = q->o->text ? "windows" : "items";
    const char *unit = q->o->text || q->o->all_positions ? "positions" : "answer tokens";
    fprintf(f, "quantdiff: %s, %zu %s, %zu %s\n", q->o->text ? q->o->text : q->t->name, sm->n_items,
            what, sm->n_positions, unit);
    fprintf(f, "  base  %s\n  quant %s\n", q->base_path, q->quant_path);
    fprintf(f, "  %-18s %12s   %-24s %8s\n", "metric", "value", "95% CI", "n");
    static const char *const rows[] = {"kl_mean",   "kl_median",      "kl_p99",
                                       "kl_max",    "top1_agreement", "ppl_base",
                                       "ppl_quant", "ppl_ratio",      "greedy_identical"};
    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        print_row(f, rows[i], m,
                  !strcmp(rows[i], "top1_agreement") || !strcmp(rows[i], "greedy_identical"));
    fprintf(f, "  greedy choices differ somewhere in %zu of %zu %s\n", sm->n_diverged, sm->n_items,
            what);
    fprintf(f, "  expert-set agreement: %s\n", QD_EXPERTS_NOTE);
    if (q->base_mismatch)
        fprintf(f,
                "  warning: at %zu answer positions BASE's own greedy choice is not the token it "
                "generated there (the engine is not deterministic?)\n",
                q->base_mismatch);
}

/* ==== the command ======================================================================= */

static void qd_release(qd *q)
{
    for (size_t i = 0; i < q->n_st; i++) {
        tok_ids_release(&q->st[i].ids);
        free(q->st[i].answer);
    }
    free(q->st);
    model_close(q->mb);
    model_close(q->mq);
    tok_free(q->tb);
    tok_free(q->tq);
    gguf_close(q->gb);
    gguf_close(q->gq);
    drift_release(&q->d);
    arena_release(&q->a);
}

/* Opens a model with room for the streams; a refused architecture says what quantdiff needs. */
static int open_model(qd *q, const char *path, int n_seq, model **out, err *e)
{
    model_settings ms;
    model_settings_default(&ms);
    ms.threads = q->o->threads;
    ms.n_seq = n_seq;
    ms.ctx_size = (int)q->ctx;
    ms.n_batch = QD_CHUNK;
    ms.n_outputs = n_seq > QD_CHUNK ? n_seq : QD_CHUNK;
    int rc = model_open(out, path, &ms, e);
    if (rc == ERR_UNSUPPORTED)
        err_prefix(e,
                   "quantdiff runs on the native engine (MoE models, and how often two files pick "
                   "the same experts, need the MoE forward pass)");
    return rc;
}

/* BASE's answers: the lines a resumed run kept (streams before n_done), then the new ones. */
static int samples_jsonl(const qd *q, const buf *old, buf *out)
{
    int rc = buf_append(out, old->data, old->len);
    for (size_t i = q->n_done; i < q->n_st && rc == 0; i++) {
        const qd_stream *s = &q->st[i];
        gen_request rq = {.item_id = s->id, .sample = 0, .p = s->p, .max_tokens = q->o->max_tokens};
        gen_response rs = {0};
        rs.finish_reason = s->finish;
        rs.prompt_tokens = (int)s->n_prompt;
        rs.completion_tokens = (int)(s->ids.n - s->n_prompt);
        rs.latency_ms = s->latency_ms;
        rs.attempts = 1;
        rc = samples_format_line(out, &rq, &rs, s->prompt_sha, s->answer);
    }
    return rc;
}

static int run(qd *q, const char *command, err *e)
{
    const qd_opts *o = q->o;
    rundir dir = RUNDIR_INIT;
    cJSON *manifest = NULL, *old = NULL, *results = NULL;
    buf samples = BUF_INIT, path = BUF_INIT, scores_path = BUF_INIT;
    buf answers = BUF_INIT;
    drift_summary sm;
    int rc;

    /* tokenizers first: both files must share one */
    if ((rc = gguf_open(&q->gb, q->base_path, e)) < 0 ||
        (rc = gguf_open(&q->gq, q->quant_path, e)) < 0)
        goto out;
    if ((rc = tok_open(&q->tb, q->gb, NULL, e)) < 0) {
        err_prefix(e, "%s", q->base_path);
        goto out;
    }
    if ((rc = tok_open(&q->tq, q->gq, NULL, e)) < 0) {
        err_prefix(e, "%s", q->quant_path);
        goto out;
    }
    if ((rc = qd_check_vocab(q->tb, q->tq, q->base_path, q->quant_path, e)) < 0) goto out;

    /* the streams */
    /* the chat template, as the native runner picks it: the name given, else BASE's */
    if (o->task) {
        err fe = ERR_INIT;
        q->has_family = (o->chat_template ? chat_family_from_name(o->chat_template, &q->family, &fe)
                                          : chat_family_from_gguf(q->gb, &q->family, &fe)) == 0;
        snprintf(q->family_error, sizeof q->family_error, "%s", fe.msg);
        if (!q->has_family && (q->chat || o->chat_template)) {
            rc = err_set(e, ERR_USAGE, "%s: %s",
                         o->chat_template ? "--chat-template" : "--prompt-style chat", fe.msg);
            goto out;
        }
    }
    if ((rc = o->text ? text_streams(q, e) : task_streams(q, e)) < 0) goto out;
    for (size_t i = 0; i < q->n_st; i++) {
        size_t len = q->st[i].ids.n + (o->task ? (size_t)o->max_tokens : 0);
        if (len > q->ctx) q->ctx = len;
        if (o->task) q->st[i].from = o->all_positions ? 0 : q->st[i].n_prompt - 1;
    }
    if (q->ctx > (size_t)INT32_MAX / 2) {
        rc = err_set(e, ERR_LIMIT, "a stream of %zu tokens is too long", q->ctx);
        goto out;
    }

    /* the models: BASE also generates (its batch plus a kept prompt), both keep two
     * sequences for prefix reuse */
    int seqs_b = o->task ? (o->batch + 1 > 2 ? o->batch + 1 : 2) : 1;
    if ((rc = open_model(q, q->base_path, seqs_b, &q->mb, e)) < 0) goto out;
    if ((rc = open_model(q, q->quant_path, o->task ? 2 : 1, &q->mq, e)) < 0) goto out;
    if (model_get_hparams(q->mb)->n_vocab != model_get_hparams(q->mq)->n_vocab ||
        model_get_hparams(q->mb)->n_vocab < tok_n_vocab(q->tb)) {
        rc = err_set(e, ERR_MISMATCH, "%s and %s do not share a vocabulary: %u and %u logits",
                     q->base_path, q->quant_path, model_get_hparams(q->mb)->n_vocab,
                     model_get_hparams(q->mq)->n_vocab);
        goto out;
    }

    /* the directory: never over someone else's run */
    if ((rc = rundir_open(&dir, o->out, e)) < 0) goto out;
    if ((rc = rundir_read_manifest(&dir, &old, e)) < 0) goto out;
    const cJSON *ot = cJSON_GetObjectItemCaseSensitive(old, "task");
    if (old && !(cJSON_IsString(ot) && !strcmp(ot->valuestring, "quantdiff"))) {
        rc = err_set(e, ERR_USAGE,
                     "--out %s holds a run of %s, not of quantdiff; choose another directory",
                     o->out, cJSON_IsString(ot) ? ot->valuestring : "another command");
        goto out;
    }
    if (!(manifest = manifest_json(q, command, e))) {
        rc = e->code;
        goto out;
    }
    /* a directory with a quantdiff of the same files and settings: go on where it stopped */
    rundir_file(&dir, "scores.jsonl", &scores_path);
    q->scores_path = scores_path.data;
    rundir_file(&dir, "samples.jsonl", &path);
    if (old) {
        if ((rc = check_resume(&dir, old, manifest, e)) < 0) goto out;
        if ((rc = restore(q, path.data, &answers, e)) < 0) goto out;
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(old, "created");
        if (cJSON_IsString(created))
            cJSON_ReplaceItemInObjectCaseSensitive(manifest, "created",
                                                   cJSON_CreateString(created->valuestring));
        if (q->n_done && !o->quiet)
            fprintf(stderr, "tally quantdiff: %s: resuming: %zu of %zu %s already scored\n", o->out,
                    q->n_done, q->n_st, o->text ? "windows" : "items");
    } else {
        const char *stale[] = {"samples.jsonl", "scores.jsonl", "results.json"};
        for (size_t i = 0; i < ARRAY_LEN(stale); i++) {
            rundir_file(&dir, stale[i], &path);
            unlink(path.data);
        }
    }
    rundir_file(&dir, "results.json", &path);
    unlink(path.data);
    if ((rc = rundir_write_json(&dir, "manifest.json", manifest, e)) < 0) goto out;
    if ((rc = q->scores_fd = file_open_append(q->scores_path, e)) < 0) goto out;

    if (o->task) {
        if ((rc = generate_answers(q, e)) < 0) goto out;
        if ((rc = samples_jsonl(q, &answers, &samples)) < 0) {
            rc = err_set(e, rc, "out of memory");
            goto out;
        }
        rundir_file(&dir, "samples.jsonl", &path);
        if ((rc = file_write_atomic(path.data, samples.data, samples.len, e)) < 0) goto out;
    }
    if ((rc = score_streams(q, e)) < 0) goto out;

    drift_settings ds;
    drift_settings_default(&ds);
    ds.bootstrap = (size_t)o->bootstrap;
    ds.seed = o->seed;
    if ((rc = drift_summarize(&q->d, &ds, &sm, e)) < 0) goto out;
    if (!(results = results_json(q, &sm, dir.path))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = rundir_write_json(&dir, "results.json", results, e)) < 0) goto out;
    char fin[32];
    time_iso8601(fin, sizeof fin);
    cJSON_AddStringToObject(manifest, "finished", fin);
    if ((rc = rundir_write_json(&dir, "manifest.json", manifest, e)) < 0) goto out;
    if (!o->quiet) print_results(stdout, q, results, &sm);
out:
    cJSON_Delete(manifest);
    cJSON_Delete(old);
    cJSON_Delete(results);
    buf_release(&samples);
    buf_release(&path);
    buf_release(&answers);
    if (q->scores_fd >= 0) close(q->scores_fd);
    q->scores_fd = -1;
    q->scores_path = NULL;
    buf_release(&scores_path);
    rundir_close(&dir);
    return rc;
}

static int cmd_quantdiff_main(int argc, char **argv)
{
    qd_opts o = {0};
    o.shots = -1;
    o.max_tokens = 64;
    o.ctx = 512;
    o.batch = 1;
    o.bootstrap = 1000;
    o.seed = 20250101;
    opts_result res;
    err e = ERR_INIT;
    int status = 0;
    buf cmdline = BUF_INIT;
    qd q = {0};
    q.d = (drift)DRIFT_INIT;
    q.scores_fd = -1;
    q.o = &o;
    if (opts_parse(qd_opt_defs, &o, argc, argv, 1, &res, &e) < 0) goto fail;
    if (res.n_pos != 2)
        err_set(&e, ERR_USAGE, "give two GGUF files, BASE and QUANT (got %zu argument%s)",
                res.n_pos, res.n_pos == 1 ? "" : "s");
    else if (!o.text == !o.task)
        err_set(&e, ERR_USAGE, "give the tokens with --text FILE or --task T (one of them)");
    else if (!o.out)
        err_set(&e, ERR_USAGE, "--out DIR is required");
    else if (o.limit < 0 || o.threads < 0 || o.bootstrap < 0)
        err_set(&e, ERR_USAGE, "--limit, --threads and --bootstrap must not be negative");
    else if (o.ctx < 2)
        err_set(&e, ERR_USAGE, "--ctx: %d tokens leave nothing to predict (at least 2)", o.ctx);
    else if (o.max_tokens < 1)
        err_set(&e, ERR_USAGE, "--max-tokens: must be at least 1");
    else if (o.batch < 1)
        err_set(&e, ERR_USAGE, "--batch: must be at least 1");
    else if (o.text &&
             (o.ids || o.shots >= 0 || o.prompt_style || o.chat_template || o.all_positions))
        err_set(&e, ERR_USAGE,
                "--ids, --shots, --prompt-style, --chat-template and --all-positions "
                "go with --task, not --text");
    else if (o.prompt_style && strcmp(o.prompt_style, "raw") && strcmp(o.prompt_style, "chat"))
        err_set(&e, ERR_USAGE, "--prompt-style: \"%s\" is not raw or chat", o.prompt_style);
    if (e.code) goto fail;
    q.base_path = res.pos[0];
    q.quant_path = res.pos[1];
    q.chat = (o.prompt_style && !strcmp(o.prompt_style, "chat")) ||
             (!o.prompt_style && o.chat_template && strcmp(o.chat_template, "raw"));
    for (int i = 0; i < argc; i++) buf_printf(&cmdline, "%s%s", i ? " " : "tally ", argv[i]);
    cmd_install_signal_handlers();
    if (run(&q, cmdline.data, &e) < 0) {
        if (e.code == ERR_INTERRUPTED) {
            fprintf(
                stderr,
                "tally quantdiff: interrupted; the streams scored so far are in %s/scores.jsonl "
                "(run the same command to go on)\n",
                o.out);
            status = 130;
            goto out;
        }
        goto fail;
    }
    goto out;
fail:
    status = cmd_fail("quantdiff", &e);
out:
    qd_release(&q);
    opts_release(&res);
    buf_release(&cmdline);
    return status;
}

const command_def cmd_quantdiff_def = {
    .name = "quantdiff",
    .summary =
        "KL divergence, top-1 agreement and perplexity of a quantized model against its base",
    .usage =
        "tally quantdiff BASE.gguf QUANT.gguf --task T [--limit N] --out DIR [options]\n"
        "       tally quantdiff BASE.gguf QUANT.gguf --text FILE [--ctx N] --out DIR [options]",
    .details =
        "Both models run over the same tokens, compared position by position as the logits come\n"
        "out (nothing but a few numbers a position is kept). With --task, BASE first answers each\n"
        "prompt greedily (--max-tokens, default 64); both models are then scored teacher-forced\n"
        "over prompt + answer, on the answer tokens (--all-positions: every position). With\n"
        "--text, the file is cut into windows of --ctx tokens and every position is scored.\n"
        "\n"
        "Reported: the mean, median, 99th percentile and maximum KL(BASE || QUANT) in nats, the\n"
        "share of positions whose greedy choices agree, each model's perplexity and their ratio,\n"
        "all with 95% intervals by item, and per item where the greedy choices first differ\n"
        "(greedy_identical: the share of items where they never do). The files must share their\n"
        "tokenizer. The run directory (manifest.json, samples.jsonl, scores.jsonl, results.json\n"
        "with the KL histogram) is read by `tally compare` and `tally report`. Each item's record\n"
        "is appended to scores.jsonl as soon as it is scored: the same command run again into the\n"
        "directory (same files and settings, else it is refused) keeps them and goes on with the\n"
        "rest. How often two MoE files pick the same experts needs the MoE engine, which tally\n"
        "does not have yet.\n",
    .opts = qd_opt_defs,
    .main = cmd_quantdiff_main,
};
