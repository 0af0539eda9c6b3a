/* cmd_logits.c: `tally logits`: a model's logits for a text, as JSON, for parity checks. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/model.h"
#include "backends/tokenizer.h"
#include "cmd.h"
#include "common/buf.h"
#include "common/fileio.h"

typedef struct logits_opts {
    const char *model, *text, *file;
    bool all, special, add_special, f32_weights;
    int threads, ctx_size;
} logits_opts;

#define O(f) offsetof(logits_opts, f)
static const opt_def logits_opt_defs[] = {
    {"model", OPT_STR, O(model), "M.gguf", "the model", 0},
    {"text", OPT_STR, O(text), "TEXT", "the text to run", 0},
    {"file", OPT_STR, O(file), "PATH", "read the text from PATH instead", 0},
    {"all", OPT_BOOL, O(all), NULL, "logits of every position, not only the last", 0},
    {"special", OPT_BOOL, O(special), NULL, "recognise special-token text such as <|end_of_text|>",
     0},
    {"add-special", OPT_BOOL, O(add_special), NULL,
     "add BOS as the model's add_bos_token says (default; --no-add-special to turn off)", 0},
    {"threads", OPT_INT, O(threads), "N", "CPU threads (default all)", 0},
    {"ctx-size", OPT_INT, O(ctx_size), "N", "context length (default 4096, or the text's length)",
     0},
    {"f32-weights", OPT_BOOL, O(f32_weights), NULL,
     "dequantize the weights to f32 first (F32 activations: the fixtures' exact-math reference)",
     0},
    {0},
};
#undef O

/* Rows of logits per forward with --all: bounds the logits buffer (rows x n_vocab). */
#define ROWS_PER_FORWARD 64

static void put_row(buf *out, const float *v, size_t n)
{
    buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) buf_puts(out, ", ");
        if (isfinite(v[i]))
            buf_printf(out, "%.9g", (double)v[i]);
        else
            buf_puts(out, "null"); /* JSON has no NaN or infinity */
    }
    buf_putc(out, ']');
}

static int run(const logits_opts *o, const char *text, size_t len, buf *out, err *e)
{
    model *m = NULL;
    gguf *g = NULL;
    tok *t = NULL;
    tok_ids ids = TOK_IDS_INIT;
    int rc = gguf_open(&g, o->model, e);
    if (!rc) rc = tok_open(&t, g, NULL, e);
    unsigned flags = (o->special ? TOK_PARSE_SPECIAL : 0) | (o->add_special ? TOK_ADD_SPECIAL : 0);
    if (!rc) rc = tok_encode(t, text, len, flags, &ids, e);
    gguf_close(g);
    if (rc) goto out;
    if (ids.n == 0) {
        rc = err_set(e, ERR_USAGE, "the text gives no tokens");
        goto out;
    }
    model_settings s;
    model_settings_default(&s);
    s.threads = o->threads;
    s.ctx_size = o->ctx_size > 0 ? o->ctx_size : ids.n > 4096 ? (int)ids.n : 4096;
    s.n_batch = o->all ? ROWS_PER_FORWARD : 512;
    s.n_outputs = o->all ? ROWS_PER_FORWARD : 1;
    s.f32_weights = o->f32_weights;
    if ((rc = model_open(&m, o->model, &s, e)) < 0) goto out;
    const size_t V = model_get_hparams(m)->n_vocab;
    buf_puts(out, "{\"tokens\": [");
    for (size_t i = 0; i < ids.n; i++) buf_printf(out, i ? ", %d" : "%d", ids.v[i]);
    buf_puts(out, "], \"logits\": [");
    uint8_t want[512];
    size_t rows = 0;
    for (size_t done = 0; done < ids.n;) {
        size_t k = ids.n - done < (size_t)s.n_batch ? ids.n - done : (size_t)s.n_batch;
        for (size_t i = 0; i < k; i++) want[i] = o->all || done + i + 1 == ids.n;
        model_batch b = {.n = k, .tokens = ids.v + done, .logits = want};
        const float *lg;
        size_t n_out;
        if ((rc = model_forward(m, &b, &lg, &n_out, e)) < 0) goto out;
        for (size_t r = 0; r < n_out; r++) {
            if (rows++) buf_puts(out, ", ");
            put_row(out, lg + r * V, V);
        }
        done += k;
    }
    rc = buf_puts(out, "]}\n");
    if (rc < 0) rc = err_set(e, rc, "out of memory");
out:
    model_close(m);
    tok_ids_release(&ids);
    tok_free(t);
    return rc;
}

static int cmd_logits_main(int argc, char **argv)
{
    logits_opts o = {.add_special = true};
    opts_result res;
    err e = ERR_INIT;
    buf text = BUF_INIT, out = BUF_INIT;
    int status = 0;
    if (opts_parse(logits_opt_defs, &o, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("logits", &e);
        goto done;
    }
    if (!o.model)
        err_set(&e, ERR_USAGE, "--model is required");
    else if (res.n_pos)
        err_set(&e, ERR_USAGE, "unexpected argument \"%s\" (give the text with --text)",
                res.pos[0]);
    else if (!o.text == !o.file)
        err_set(&e, ERR_USAGE, "give the text with --text or --file (one of them)");
    else if (o.threads < 0 || o.ctx_size < 0)
        err_set(&e, ERR_USAGE, "--threads and --ctx-size must not be negative");
    if (e.code) {
        status = cmd_fail("logits", &e);
        goto done;
    }
    if (cmd_read_text(o.file, o.text, &text, &e) < 0 ||
        run(&o, text.data, text.len, &out, &e) < 0) {
        status = cmd_fail("logits", &e);
        goto done;
    }
    fwrite(out.data, 1, out.len, stdout);
done:
    opts_release(&res);
    buf_release(&text);
    buf_release(&out);
    return status;
}

const command_def cmd_logits_def = {
    .name = "logits",
    .summary = "logits as JSON, for parity checks",
    .usage = "tally logits --model M.gguf --text TEXT [--all] [--threads N]\n"
             "       tally logits --model M.gguf --file PATH [options]",
    .details = "Prints {\"tokens\": [ids], \"logits\": [[floats]]} on one line: the logits of the\n"
               "last position, or of every position with --all, each float with %.9g (exact for\n"
               "f32). The text is tokenized as the fixtures' goldens were (BOS when the model's\n"
               "add_bos_token says so, special-token text as plain text unless --special).\n",
    .opts = logits_opt_defs,
    .main = cmd_logits_main,
};
