/* cmd_generate.c: `tally generate`: one completion from a GGUF model, to try it by hand. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/chat.h"
#include "backends/engine.h"
#include "backends/model.h"
#include "backends/tokenizer.h"
#include "cmd.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"

typedef struct generate_opts {
    const char *model, *prompt, *file, *system, *chat_template;
    bool chat, json, quiet;
    int max_tokens, top_k, threads, ctx_size;
    double temperature, top_p, min_p, repeat_penalty;
    uint64_t seed;
    str_list stop;
} generate_opts;

#define O(f) offsetof(generate_opts, f)
static const opt_def generate_opt_defs[] = {
    {"model", OPT_STR, O(model), "M.gguf", "the model", 0},
    {"prompt", OPT_STR, O(prompt), "TEXT", "the prompt (raw text, or the user message with --chat)",
     0},
    {"file", OPT_STR, O(file), "PATH", "read the prompt from PATH instead", 0},
    {"chat", OPT_BOOL, O(chat), NULL, "render the prompt as a user message with the chat template",
     0},
    {"system", OPT_STR, O(system), "TEXT", "a system message (with --chat)", 0},
    {"chat-template", OPT_STR, O(chat_template), "NAME",
     "granite-3.3|granite-4.0|granite-4.1|ling-2.0|raw (default: from the GGUF)", 0},
    {"max-tokens", OPT_INT, O(max_tokens), "N", "tokens to generate at most (default 256)", 0},
    {"temperature", OPT_DOUBLE, O(temperature), "T", "sampling temperature; 0 = greedy (default)",
     0},
    {"top-p", OPT_DOUBLE, O(top_p), "P", "nucleus sampling (default 1: off)", 0},
    {"top-k", OPT_INT, O(top_k), "K", "top-k sampling (default 0: off)", 0},
    {"min-p", OPT_DOUBLE, O(min_p), "P", "min-p sampling (default 0: off)", 0},
    {"repeat-penalty", OPT_DOUBLE, O(repeat_penalty), "R",
     "repetition penalty over the last 64 tokens (default 1: off)", 0},
    {"seed", OPT_U64, O(seed), "S", "sampling seed (default 1234)", 0},
    {"stop", OPT_LIST, O(stop), "TEXT", "stop before this text (repeatable)", 0},
    {"threads", OPT_INT, O(threads), "N", "CPU threads (default all)", 0},
    {"ctx-size", OPT_INT, O(ctx_size), "N", "context length (default 4096)", 0},
    {"json", OPT_BOOL, O(json), NULL, "print a JSON object (text, tokens, finish reason, speed)",
     0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no statistics line on stderr", 0},
    {0},
};
#undef O

typedef struct gen_out {
    buf text;
    tok_ids tokens;
    const char *finish;
    char error[256];
    double latency_ms, prefill_ms;
} gen_out;

static int on_done(void *ctx, size_t index, const engine_result *r)
{
    gen_out *g = ctx;
    buf_append(&g->text, r->text, r->len);
    for (size_t i = 0; i < r->n_tokens; i++) tok_ids_push(&g->tokens, r->tokens[i]);
    g->finish = r->finish_reason;
    if (r->error) snprintf(g->error, sizeof g->error, "%s", r->error);
    g->latency_ms = r->latency_ms;
    g->prefill_ms = r->prefill_ms;
    return 0;
}

static int generate(const generate_opts *o, const char *text, size_t len, err *e)
{
    model *m = NULL;
    tok *t = NULL;
    engine *en = NULL;
    buf prompt = BUF_INIT, out = BUF_INIT;
    tok_ids ids = TOK_IDS_INIT;
    gen_out g = {BUF_INIT, TOK_IDS_INIT, NULL, {0}, 0, 0};
    const char **stops = NULL;
    model_settings s;
    model_settings_default(&s);
    s.threads = o->threads;
    s.ctx_size = o->ctx_size;
    int rc = model_open(&m, o->model, &s, e);
    if (!rc) rc = tok_open(&t, model_get_gguf(m), NULL, e);
    if (!rc) rc = engine_open(&en, m, t, e);
    if (rc) goto out;

    /* the prompt: raw text, or one user turn (after an optional system turn) */
    unsigned flags = TOK_ADD_SPECIAL;
    const char *const *fam_stops = NULL;
    if (o->chat) {
        enum chat_family f;
        if (o->chat_template)
            rc = chat_family_from_name(o->chat_template, &f, e);
        else
            rc = chat_family_from_gguf(model_get_gguf(m), &f, e);
        if (rc) {
            if (!o->chat_template) err_prefix(e, "--chat");
            goto out;
        }
        chat_msg msgs[2] = {{0}};
        size_t nm = 0;
        if (o->system) msgs[nm++] = (chat_msg){.role = "system", .content = o->system};
        char *user = strndup(text, len);
        if (!user) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        msgs[nm++] = (chat_msg){.role = "user", .content = user};
        chat_options co;
        chat_options_default(&co);
        rc = chat_render(f, msgs, nm, &co, &prompt, e);
        free(user);
        if (rc) goto out;
        flags |= TOK_PARSE_SPECIAL;
        fam_stops = chat_stop_strings(f);
    } else {
        buf_append(&prompt, text, len);
    }
    if ((rc = tok_encode(t, prompt.data, prompt.len, flags, &ids, e)) < 0) goto out;
    size_t nf = 0;
    while (fam_stops && fam_stops[nf]) nf++;
    stops = calloc(o->stop.n + nf + 1, sizeof *stops);
    if (!stops) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t ns = 0;
    for (size_t i = 0; i < o->stop.n; i++) stops[ns++] = o->stop.v[i];
    for (size_t i = 0; i < nf; i++) stops[ns++] = fam_stops[i];

    engine_request rq = {0};
    rq.prompt = ids.v;
    rq.n_prompt = ids.n;
    rq.max_tokens = o->max_tokens;
    sampler_params_default(&rq.sampling);
    rq.sampling.temperature = (float)o->temperature;
    rq.sampling.top_p = (float)o->top_p;
    rq.sampling.top_k = o->top_k;
    rq.sampling.min_p = (float)o->min_p;
    rq.sampling.repeat_penalty = (float)o->repeat_penalty;
    rq.sampling.seed = o->seed;
    rq.stop = stops;
    rq.n_stop = ns;
    if ((rc = engine_generate(en, &rq, 1, on_done, &g, &cmd_interrupted, e)) < 0) goto out;
    if (g.error[0]) {
        rc = err_set(e, ERR_INVALID, "%s", g.error);
        goto out;
    }
    double decode_s = g.latency_ms / 1e3 - g.prefill_ms / 1e3;
    double decode_tps = g.tokens.n > 1 && decode_s > 0 ? (double)(g.tokens.n - 1) / decode_s : 0;
    double prefill_tps = g.prefill_ms > 0 ? (double)ids.n / (g.prefill_ms / 1e3) : 0;
    if (o->json) {
        buf_puts(&out, "{\"text\": ");
        json_append_str(&out, g.text.data, g.text.len);
        buf_puts(&out, ", \"prompt\": ");
        json_append_str(&out, prompt.data, prompt.len);
        buf_printf(&out,
                   ", \"finish_reason\": \"%s\", \"prompt_tokens\": %zu, "
                   "\"completion_tokens\": %zu, \"tokens\": [",
                   g.finish ? g.finish : "stop", ids.n, g.tokens.n);
        for (size_t i = 0; i < g.tokens.n; i++) buf_printf(&out, i ? ", %d" : "%d", g.tokens.v[i]);
        buf_printf(&out, "], \"prefill_tps\": %.3f, \"decode_tps\": %.3f}\n", prefill_tps,
                   decode_tps);
    } else {
        buf_append(&out, g.text.data, g.text.len);
        if (!g.text.len || g.text.data[g.text.len - 1] != '\n') buf_putc(&out, '\n');
    }
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    if (!o->quiet && !o->json)
        fprintf(stderr,
                "tally generate: %zu prompt tokens (%.1f tok/s), %zu generated (%.1f tok/s), "
                "finish: %s\n",
                ids.n, prefill_tps, g.tokens.n, decode_tps, g.finish ? g.finish : "stop");
out:
    free(stops);
    buf_release(&prompt);
    buf_release(&out);
    buf_release(&g.text);
    tok_ids_release(&g.tokens);
    tok_ids_release(&ids);
    engine_close(en);
    tok_free(t);
    model_close(m);
    return rc;
}

static int cmd_generate_main(int argc, char **argv)
{
    generate_opts o = {.max_tokens = 256, .top_p = 1, .repeat_penalty = 1, .seed = 1234};
    opts_result res;
    err e = ERR_INIT;
    buf text = BUF_INIT;
    int status = 0;
    if (opts_parse(generate_opt_defs, &o, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("generate", &e);
        goto done;
    }
    if (!o.model)
        err_set(&e, ERR_USAGE, "--model is required");
    else if (res.n_pos)
        err_set(&e, ERR_USAGE, "unexpected argument \"%s\" (give the prompt with --prompt)",
                res.pos[0]);
    else if (!o.prompt == !o.file)
        err_set(&e, ERR_USAGE, "give the prompt with --prompt or --file (one of them)");
    else if (o.max_tokens < 1)
        err_set(&e, ERR_USAGE, "--max-tokens: must be at least 1");
    else if (o.threads < 0 || o.ctx_size < 0)
        err_set(&e, ERR_USAGE, "--threads and --ctx-size must not be negative");
    else if (o.temperature < 0 || o.top_p < 0 || o.min_p < 0 || o.repeat_penalty <= 0)
        err_set(&e, ERR_USAGE,
                "--temperature, --top-p, --min-p must not be negative, --repeat-penalty must be "
                "positive");
    else if (o.system && !o.chat)
        err_set(&e, ERR_USAGE, "--system needs --chat");
    if (e.code) {
        status = cmd_fail("generate", &e);
        goto done;
    }
    if (cmd_read_text(o.file, o.prompt, &text, &e) < 0) {
        status = cmd_fail("generate", &e);
        goto done;
    }
    cmd_install_signal_handlers();
    if (generate(&o, text.data, text.len, &e) < 0) status = cmd_fail("generate", &e);
done:
    opts_release(&res);
    str_list_release(&o.stop);
    buf_release(&text);
    return status;
}

const command_def cmd_generate_def = {
    .name = "generate",
    .summary = "one completion, to try a model by hand",
    .usage =
        "tally generate --model M.gguf --prompt TEXT [--chat [--system TEXT]] [--max-tokens N]\n"
        "       [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--seed S] [--stop TEXT]",
    .details = "Prints the completion (or a JSON object with --json) on stdout and a line of\n"
               "statistics on stderr. Raw prompts are tokenized as they are (BOS as the model\n"
               "says); with --chat the prompt becomes a user message rendered with the chat\n"
               "template (--chat-template, else the GGUF's), ending with the assistant turn.\n"
               "Generation stops at an end-of-generation token, a --stop text or --max-tokens.\n",
    .opts = generate_opt_defs,
    .main = cmd_generate_main,
};
