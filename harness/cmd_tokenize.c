/* cmd_tokenize.c: `tally tokenize`: the token ids of a text under a GGUF
 * model's tokenizer, as the native engine would feed them. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "backends/gguf.h"
#include "backends/tokenizer.h"
#include "cmd.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/utf8.h"

typedef struct tokenize_opts {
    const char *model, *file, *pre, *text;
    bool special, add_special, pieces;
} tokenize_opts;

#define O(f) offsetof(tokenize_opts, f)
static const opt_def tokenize_opt_defs[] = {
    {"model", OPT_STR, O(model), "M.gguf",
     "the model (or vocabulary-only GGUF) whose tokenizer to use", 0},
    {"special", OPT_BOOL, O(special), NULL, "recognise special-token text such as <|end_of_text|>",
     0},
    {"add-special", OPT_BOOL, O(add_special), NULL,
     "add BOS/EOS as the model's add_bos_token/add_eos_token say (default; --no-add-special to "
     "turn off)",
     0},
    {"pieces", OPT_BOOL, O(pieces), NULL, "also print each token's text", 0},
    {"text", OPT_STR, O(text), "TEXT",
     "the text (as tally logits takes it; or give it as the argument)", 0},
    {"file", OPT_STR, O(file), "PATH", "read the text from PATH instead of the command line", 0},
    {"pre", OPT_STR, O(pre), "NAME",
     "use this pre-tokenizer instead of the model's tokenizer.ggml.pre", 0},
    {0},
};
#undef O

static int tokenize(const tokenize_opts *o, const char *text, size_t len, buf *out, err *e)
{
    gguf *g = NULL;
    tok *t = NULL;
    tok_ids ids = TOK_IDS_INIT;
    buf piece = BUF_INIT;
    tok_settings s;
    tok_settings_default(&s);
    s.pre = o->pre;
    int rc = gguf_open(&g, o->model, e);
    if (!rc) rc = tok_open(&t, g, &s, e);
    unsigned flags = (o->special ? TOK_PARSE_SPECIAL : 0) | (o->add_special ? TOK_ADD_SPECIAL : 0);
    if (!rc) rc = tok_encode(t, text, len, flags, &ids, e);
    if (rc) goto out;
    buf_putc(out, '[');
    for (size_t i = 0; i < ids.n; i++) buf_printf(out, i ? ", %d" : "%d", ids.v[i]);
    buf_puts(out, "]\n");
    if (o->pieces) {
        /* strings, or byte arrays for pieces that are not whole UTF-8 characters */
        buf_putc(out, '[');
        for (size_t i = 0; i < ids.n && !rc; i++) {
            buf_reset(&piece);
            rc = tok_piece(t, ids.v[i], TOK_DECODE_SPECIAL, &piece, e);
            if (i) buf_puts(out, ", ");
            if (utf8_valid(piece.data, piece.len)) {
                json_append_str(out, piece.data, piece.len);
            } else {
                buf_putc(out, '[');
                for (size_t k = 0; k < piece.len; k++)
                    buf_printf(out, k ? ", %u" : "%u", (unsigned char)piece.data[k]);
                buf_putc(out, ']');
            }
        }
        buf_puts(out, "]\n");
    }
out:
    buf_release(&piece);
    tok_ids_release(&ids);
    tok_free(t);
    gguf_close(g);
    return rc;
}

static int cmd_tokenize_main(int argc, char **argv)
{
    tokenize_opts o = {.add_special = true};
    opts_result res;
    err e = ERR_INIT;
    buf text = BUF_INIT, out = BUF_INIT;
    int status = 0;
    if (opts_parse(tokenize_opt_defs, &o, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("tokenize", &e);
        goto done;
    }
    /* the text: --text or the one argument */
    const char *given = o.text ? o.text : res.n_pos ? res.pos[0] : NULL;
    size_t n_given = res.n_pos + (o.text != NULL);
    if (!o.model) {
        err_set(&e, ERR_USAGE, "--model is required");
    } else if (o.file && n_given) {
        err_set(&e, ERR_USAGE, "give the text either on the command line or with --file, not both");
    } else if (!o.file && n_given != 1) {
        err_set(&e, ERR_USAGE,
                n_given ? "give the text once, as one argument (quote it) or with --text"
                        : "no text given");
    }
    if (e.code) {
        status = cmd_fail("tokenize", &e);
        goto done;
    }
    if (cmd_read_text(o.file, o.file ? NULL : given, &text, &e) < 0 ||
        tokenize(&o, text.data, text.len, &out, &e) < 0) {
        status = cmd_fail("tokenize", &e);
        goto done;
    }
    fwrite(out.data, 1, out.len, stdout);
done:
    opts_release(&res);
    buf_release(&text);
    buf_release(&out);
    return status;
}

const command_def cmd_tokenize_def = {
    .name = "tokenize",
    .summary = "token ids of a text",
    .usage =
        "tally tokenize --model M.gguf [--special] [--no-add-special] [--pieces] TEXT|--text TEXT\n"
        "       tally tokenize --model M.gguf [options] --file PATH",
    .details = "Prints the ids as a JSON array on one line. With --pieces a second line holds\n"
               "each token's text as a JSON string (special tokens included), or as an array\n"
               "of byte values when the token is not a whole UTF-8 character.\n",
    .opts = tokenize_opt_defs,
    .main = cmd_tokenize_main,
};
