/* test_quantdiff.c: the tokenizer check of `tally quantdiff` on vocabularies that
 * differ in one thing each (built from the 1007-token fixture vocabulary). */
#include <stdlib.h>
#include <string.h>

#include "backends/gguf.h"
#include "backends/tokenizer.h"
#include "common/buf.h"
#include "test.h"

/* harness/cmd_quantdiff.c (STATIC: reachable in test builds) */
int qd_check_vocab(const tok *a, const tok *b, const char *pa, const char *pb, err *e);

enum change { SAME, TOKEN_TEXT, TOKEN_TYPE, FEWER, BOS, PRE };

/* The fixture vocabulary with one change, as an open tokenizer. */
static tok *variant(const gguf *src, enum change c)
{
    err e = ERR_INIT;
    gguf_writer w = GGUF_WRITER_INIT;
    buf img = BUF_INIT;
    gguf *g = NULL;
    tok *t = NULL;
    for (size_t i = 0; i < gguf_n_kv(src); i++) CHECK_INT(gguf_writer_set_kv(&w, gguf_kv_at(src, i)), 0);
    const gguf_kv *toks = gguf_find_key(src, "tokenizer.ggml.tokens");
    const gguf_kv *types = gguf_find_key(src, "tokenizer.ggml.token_type");
    CHECK(toks && types && toks->n == 1007 && types->n == 1007);
    size_t n = (size_t)toks->n;
    const gguf_str *sv = toks->arr;
    const char **s = calloc(n, sizeof *s);
    size_t *len = calloc(n, sizeof *len);
    int32_t *ty = calloc(n, sizeof *ty);
    for (size_t i = 0; i < n; i++) {
        s[i] = sv[i].s;
        len[i] = sv[i].len;
        ty[i] = ((const int32_t *)types->arr)[i];
    }
    if (c == TOKEN_TEXT) {
        s[517] = "zz";
        len[517] = 2;
    }
    if (c == TOKEN_TYPE) ty[300] = 4;
    if (c == FEWER) n--;
    if (c == TOKEN_TEXT || c == TOKEN_TYPE || c == FEWER) {
        CHECK_INT(gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", s, len, n), 0);
        CHECK_INT(gguf_writer_set_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, ty, n), 0);
    }
    if (c == BOS) CHECK_INT(gguf_writer_set_u32(&w, "tokenizer.ggml.bos_token_id", 5), 0);
    if (c == PRE) CHECK_INT(gguf_writer_set_str(&w, "tokenizer.ggml.pre", "gpt-2"), 0);
    CHECK_INT(gguf_writer_to_buf(&w, &img, &e), 0);
    CHECK_INT(gguf_open_mem(&g, img.data, img.len, "variant.gguf", &e), 0);
    CHECK_MSG(tok_open(&t, g, NULL, &e) == 0, "%s", e.msg);
    gguf_close(g);
    gguf_writer_release(&w);
    buf_release(&img);
    free(s);
    free(len);
    free(ty);
    return t;
}

static void test_quantdiff__check_vocab(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-tiny1007-dbrx.gguf", test_fixtures_dir());
    gguf *g = NULL;
    err e = ERR_INIT;
    CHECK_INT(gguf_open(&g, path, &e), 0);
    if (!g) return;
    tok *base = variant(g, SAME), *same = variant(g, SAME);
    CHECK_INT(qd_check_vocab(base, same, "A.gguf", "B.gguf", &e), 0);
    static const struct {
        enum change c;
        const char *msg;
    } cases[] = {
        {TOKEN_TEXT, "token 517 is"},
        {TOKEN_TYPE, "token 300 is"},
        {FEWER, "1007 tokens in A.gguf, 1006 in B.gguf"},
        {BOS, "BOS/EOS/EOT"},
        {PRE, "pre-tokenizer dbrx against gpt-2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tok *other = variant(g, cases[i].c);
        err_clear(&e);
        CHECK_INT(qd_check_vocab(base, other, "A.gguf", "B.gguf", &e), ERR_MISMATCH);
        CHECK_MSG(strstr(e.msg, cases[i].msg) && strstr(e.msg, "A.gguf") && strstr(e.msg, "B.gguf"),
                  "%s", e.msg);
        tok_free(other);
    }
    tok_free(base);
    tok_free(same);
    gguf_close(g);
}

int main(void)
{
    RUN(test_quantdiff__check_vocab);
    return test_report();
}
