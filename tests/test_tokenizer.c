/* test_tokenizer.c: the BPE tokenizer against every tokenizer fixture
 * (llama.cpp's vocab tests, the 71 tricky strings per vocabulary, the model
 * goldens' prompt tokens) plus the bad paths of building one. */
#include "backends/gguf.h"
#include "backends/tokenizer.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tok *open_vocab(const char *dir, const char *file, gguf **g_out)
{
    buf path = BUF_INIT;
    path_join(&path, test_fixtures_dir(), dir);
    buf_putc(&path, '/');
    buf_puts(&path, file);
    err e = ERR_INIT;
    gguf *g = NULL;
    tok *t = NULL;
    if (gguf_open(&g, path.data, &e) < 0 || tok_open(&t, g, NULL, &e) < 0) {
        CHECK_MSG(0, "%s", e.msg);
        gguf_close(g);
        g = NULL;
    }
    buf_release(&path);
    if (g_out)
        *g_out = g;
    else
        gguf_close(g);
    return t;
}

static bool ids_equal(const tok_ids *got, const int32_t *want, size_t n)
{
    return got->n == n && (n == 0 || memcmp(got->v, want, n * sizeof *want) == 0);
}

static void show_ids(const char *what, const int32_t *v, size_t n)
{
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", v[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* ---- llama.cpp's .inp/.out vocab tests (fixtures/README.md 8.1) ---- */

static void run_inp_out(const char *vocab)
{
    gguf *g = NULL;
    tok *t = open_vocab("tokenizer", vocab, &g);
    if (!t) return;
    buf inp = BUF_INIT, outp = BUF_INIT, path = BUF_INIT;
    err e = ERR_INIT;
    path_join(&path, test_fixtures_dir(), "tokenizer");
    buf_printf(&path, "/%s.inp", vocab);
    CHECK_INT(file_read_all(path.data, &inp, &e), 0);
    buf_truncate(&path, path.len - 4);
    buf_puts(&path, ".out");
    CHECK_INT(file_read_all(path.data, &outp, &e), 0);

    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t sl = sizeof sep - 1;
    line_iter lines = line_iter_start(outp.data, outp.len);
    size_t pos = 0, cases = 0, passed = 0;
    while (pos < inp.len) {
        const char *hit = mem_find(inp.data + pos, inp.len - pos, sep, sl);
        if (!hit) break;
        size_t n = (size_t)(hit - (inp.data + pos));
        const char *line;
        size_t ll;
        if (!line_iter_next(&lines, &line, &ll)) {
            CHECK_MSG(0, "%s: .out has fewer lines than .inp has cases", vocab);
            break;
        }
        /* expected ids: " 1 2 3" */
        int32_t want[4096];
        size_t nw = 0;
        char tmp[65536];
        memcpy(tmp, line, ll < sizeof tmp - 1 ? ll : sizeof tmp - 1);
        tmp[ll < sizeof tmp - 1 ? ll : sizeof tmp - 1] = 0;
        for (char *p = strtok(tmp, " "); p && nw < 4096; p = strtok(NULL, " "))
            want[nw++] = (int32_t)strtol(p, NULL, 10);
        tok_ids got = TOK_IDS_INIT;
        CHECK_INT(tok_encode(t, inp.data + pos, n, 0, &got, &e), 0);
        cases++;
        if (ids_equal(&got, want, nw)) {
            passed++;
        } else {
            CHECK_MSG(0, "%s case %zu: \"%.*s\"", vocab, cases, (int)(n < 60 ? n : 60),
                      inp.data + pos);
            show_ids("want", want, nw);
            show_ids("got ", got.v, got.n);
        }
        tok_ids_release(&got);
        pos += n + sl;
    }
    CHECK(cases >= 40);
    fprintf(stderr, "  %s.inp: %zu/%zu cases match\n", vocab, passed, cases);
    buf_release(&inp);
    buf_release(&outp);
    buf_release(&path);
    tok_free(t);
    gguf_close(g);
}

static void test_tokenizer__vocab_inp_out(void)
{
    run_inp_out("ggml-vocab-gpt-2.gguf");
    run_inp_out("ggml-vocab-refact.gguf");
    run_inp_out("ggml-vocab-deepseek-coder.gguf");
}

/* ---- the 71 tricky strings per vocabulary (fixtures/README.md 8.2) ---- */

static bool bytes_equal(const buf *b, const cJSON *arr)
{
    if ((size_t)cJSON_GetArraySize(arr) != b->len) return false;
    size_t i = 0;
    for (const cJSON *x = arr->child; x; x = x->next, i++)
        if ((unsigned char)b->data[i] != (unsigned)x->valueint) return false;
    return true;
}

static void run_json(const char *json_file, const char *dir, const char *vocab)
{
    buf path = BUF_INIT;
    err e = ERR_INIT;
    path_join(&path, test_fixtures_dir(), "tokenizer");
    buf_printf(&path, "/%s", json_file);
    cJSON *root = NULL;
    CHECK_MSG(json_parse_file(path.data, &root, &e) == 0, "%s", e.msg);
    tok *t = open_vocab(dir, vocab, NULL);
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    size_t n = 0, ok_ids = 0, ok_pieces = 0, ok_detok = 0, n_detok = 0, ok_exact = 0;
    if (t && cases) {
        const char *pre = cJSON_GetStringValue(cJSON_GetObjectItem(root, "tokenizer_pre"));
        CHECK_STR(tok_pre(t), pre);
        CHECK_INT(tok_n_vocab(t), cJSON_GetNumberValue(cJSON_GetObjectItem(root, "n_vocab")));
        for (const cJSON *c = cases->child; c; c = c->next) {
            n++;
            const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "text"));
            const cJSON *ids = cJSON_GetObjectItem(c, "ids");
            const cJSON *pieces = cJSON_GetObjectItem(c, "pieces");
            const cJSON *detok = cJSON_GetObjectItem(c, "detokenized");
            int32_t want[4096];
            size_t nw = 0;
            for (const cJSON *x = ids->child; x && nw < 4096; x = x->next) want[nw++] = x->valueint;
            tok_ids got = TOK_IDS_INIT;
            CHECK_INT(tok_encode(t, text, strlen(text), 0, &got, &e), 0);
            if (ids_equal(&got, want, nw)) {
                ok_ids++;
            } else {
                CHECK_MSG(0, "%s: \"%.60s\"", json_file, text);
                show_ids("want", want, nw);
                show_ids("got ", got.v, got.n);
            }
            /* pieces: the raw bytes of each expected token */
            bool pieces_ok = (size_t)cJSON_GetArraySize(pieces) == nw;
            size_t k = 0;
            buf piece = BUF_INIT;
            for (const cJSON *p = pieces->child; p && pieces_ok; p = p->next, k++) {
                buf_reset(&piece);
                CHECK_INT(tok_piece(t, want[k], TOK_DECODE_SPECIAL, &piece, &e), 0);
                pieces_ok = bytes_equal(&piece, p);
            }
            ok_pieces += pieces_ok;
            CHECK_MSG(pieces_ok, "%s: pieces of \"%.60s\" (token %zu)", json_file, text, k);
            /* decoding without clean-up gives the input back byte for byte */
            buf_reset(&piece);
            CHECK_INT(tok_decode(t, want, nw, 0, &piece, &e), 0);
            bool exact = strcmp(piece.data, text) == 0;
            ok_exact += exact;
            CHECK_MSG(exact, "%s: decode of \"%.60s\" gave \"%.60s\"", json_file, text, piece.data);
            /* llama.cpp's detokenization, with its clean-up */
            if (cJSON_IsString(detok)) {
                n_detok++;
                buf_reset(&piece);
                CHECK_INT(tok_decode(t, want, nw, TOK_DECODE_CLEAN_SPACES, &piece, &e), 0);
                bool same = strcmp(piece.data, detok->valuestring) == 0;
                ok_detok += same;
                CHECK_MSG(same, "%s: detokenized \"%.60s\": got \"%s\", want \"%s\"", json_file,
                          text, piece.data, detok->valuestring);
                bool roundtrip = cJSON_IsTrue(cJSON_GetObjectItem(c, "roundtrip_ok"));
                CHECK(roundtrip == (strcmp(detok->valuestring, text) == 0));
            }
            buf_release(&piece);
            tok_ids_release(&got);
        }
    }
    CHECK(n == 71);
    CHECK_INT(ok_ids, n);
    fprintf(stderr,
            "  %s: ids %zu/%zu, pieces %zu/%zu, exact decode %zu/%zu, detokenized %zu/%zu\n",
            json_file, ok_ids, n, ok_pieces, n, ok_exact, n, ok_detok, n_detok);
    tok_free(t);
    cJSON_Delete(root);
    buf_release(&path);
}

static void test_tokenizer__tricky_strings(void)
{
    run_json("gpt-2.json", "tokenizer", "ggml-vocab-gpt-2.gguf");
    run_json("refact.json", "tokenizer", "ggml-vocab-refact.gguf");
    run_json("deepseek-coder.json", "tokenizer", "ggml-vocab-deepseek-coder.gguf");
    run_json("tiny-granite-vocab.json", "models", "tiny-granite.f32.gguf");
    run_json("tiny-ling-vocab.json", "models", "tiny-ling.f32.gguf");
    run_json("tiny1007-dbrx.json", "tokenizer", "ggml-vocab-tiny1007-dbrx.gguf");
}

/* ---- model goldens: prompt tokens with BOS per add_bos_token ---- */

static const char *const golden_models[] = {
    "tiny-granite.f32",        "tiny-granite.f16",
    "tiny-granite.bf16",       "tiny-granite.q8_0",
    "tiny-granite.q6_k",       "tiny-granite.q4_k_m",
    "tiny-granite.q4_0",       "tiny-ling.f32",
    "tiny-ling.q8_0",          "tiny-ling.q6_k",
    "tiny-ling.q4_k_m",        "tiny-ling.q4_0",
    "tiny-ling-mtp.q4_0",      "tiny-granitehybrid.f32",
    "tiny-granitehybrid.q8_0", "tiny-granitehybrid.q4_k_m",
};

static void test_tokenizer__model_goldens(void)
{
    buf path = BUF_INIT, file = BUF_INIT;
    size_t prompts = 0, ok = 0, ok_pieces = 0, ok_greedy = 0;
    for (size_t m = 0; m < ARRAY_LEN(golden_models); m++) {
        buf_reset(&file);
        buf_printf(&file, "%s.gguf", golden_models[m]);
        gguf *g = NULL;
        tok *t = open_vocab("models", file.data, &g);
        path_join(&path, test_fixtures_dir(), "models");
        buf_printf(&path, "/%s.golden.json", golden_models[m]);
        err e = ERR_INIT;
        cJSON *root = NULL;
        CHECK_MSG(json_parse_file(path.data, &root, &e) == 0, "%s", e.msg);
        if (!t || !root) {
            tok_free(t);
            gguf_close(g);
            cJSON_Delete(root);
            continue;
        }
        CHECK_INT(tok_bos(t), cJSON_GetNumberValue(cJSON_GetObjectItem(root, "bos_id")));
        CHECK_INT(tok_eos(t), cJSON_GetNumberValue(cJSON_GetObjectItem(root, "eos_id")));
        CHECK(tok_is_eog(t, tok_eos(t)));
        const cJSON *ps = cJSON_GetObjectItem(root, "prompts");
        for (const cJSON *p = ps ? ps->child : NULL; p; p = p->next) {
            prompts++;
            const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(p, "text"));
            const cJSON *tokens = cJSON_GetObjectItem(p, "tokens");
            int32_t want[1024];
            size_t nw = 0;
            for (const cJSON *x = tokens->child; x && nw < 1024; x = x->next)
                want[nw++] = x->valueint;
            tok_ids got = TOK_IDS_INIT;
            CHECK_INT(tok_encode(t, text, strlen(text), TOK_ADD_SPECIAL, &got, &e), 0);
            if (ids_equal(&got, want, nw))
                ok++;
            else {
                CHECK_MSG(0, "%s prompt \"%.40s\"", golden_models[m], text);
                show_ids("want", want, nw);
                show_ids("got ", got.v, got.n);
            }
            CHECK(nw > 0 && (want[0] == tok_bos(t)) == tok_add_bos(t));
            /* token_pieces (special tokens rendered) */
            const cJSON *pieces = cJSON_GetObjectItem(p, "token_pieces");
            bool pok = (size_t)cJSON_GetArraySize(pieces) == nw;
            size_t k = 0;
            buf piece = BUF_INIT;
            for (const cJSON *x = pieces->child; x && pok; x = x->next, k++) {
                buf_reset(&piece);
                CHECK_INT(tok_piece(t, want[k], TOK_DECODE_SPECIAL, &piece, &e), 0);
                pok = bytes_equal(&piece, x);
            }
            ok_pieces += pok;
            CHECK_MSG(pok, "%s: token_pieces of \"%.40s\"", golden_models[m], text);
            /* greedy_pieces of the generated ids */
            const cJSON *gt = cJSON_GetObjectItem(p, "greedy_tokens");
            const cJSON *gp = cJSON_GetObjectItem(p, "greedy_pieces");
            bool gok = cJSON_GetArraySize(gt) == cJSON_GetArraySize(gp);
            const cJSON *y = gp ? gp->child : NULL;
            for (const cJSON *x = gt ? gt->child : NULL; x && y && gok; x = x->next, y = y->next) {
                buf_reset(&piece);
                CHECK_INT(tok_piece(t, x->valueint, TOK_DECODE_SPECIAL, &piece, &e), 0);
                gok = bytes_equal(&piece, y);
            }
            ok_greedy += gok;
            CHECK_MSG(gok, "%s: greedy_pieces of \"%.40s\"", golden_models[m], text);
            buf_release(&piece);
            tok_ids_release(&got);
        }
        tok_free(t);
        gguf_close(g);
        cJSON_Delete(root);
    }
    CHECK_INT(prompts, 5 * ARRAY_LEN(golden_models));
    fprintf(stderr,
            "  model goldens: prompt tokens %zu/%zu, token_pieces %zu/%zu, greedy_pieces %zu/%zu\n",
            ok, prompts, ok_pieces, prompts, ok_greedy, prompts);
    buf_release(&path);
    buf_release(&file);
}

/* ---- behaviour on small vocabularies built here ---- */

/* A vocabulary over the bytes a..e and space, plus merges and specials. */
static void build_small(gguf_writer *w, const char *pre, bool add_bos)
{
    const char *toks[] = {"a",
                          "b",
                          "c",
                          "d",
                          "e",
                          "\xc4\xa0" /* space */,
                          "ab",
                          "abc",
                          "\xc4\xa0"
                          "a",
                          "<|endoftext|>",
                          "<|user|>",
                          "cd",
                          "x<y"};
    int32_t types[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4, 1, 3};
    const char *merges[] = {"a b", "ab c", "\xc4\xa0 a", "c d"};
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, ARRAY_LEN(toks));
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, ARRAY_LEN(types));
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, ARRAY_LEN(merges));
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 9);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 9);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos);
}

static tok *small_tok(gguf_writer *w, buf *img, gguf **g, const tok_settings *s, err *e)
{
    buf_reset(img);
    tok *t = NULL;
    *g = NULL;
    if (gguf_writer_to_buf(w, img, e) < 0) return NULL;
    if (gguf_open_mem(g, img->data, img->len, "small.gguf", e) < 0) return NULL;
    if (tok_open(&t, *g, s, e) < 0) {
        gguf_close(*g);
        *g = NULL;
    }
    return t;
}

static void expect_ids(const tok *t, const char *text, unsigned flags, const int32_t *want,
                       size_t n, int line)
{
    tok_ids got = TOK_IDS_INIT;
    err e = ERR_INIT;
    CHECK_INT(tok_encode(t, text, strlen(text), flags, &got, &e), 0);
    CHECK_MSG(ids_equal(&got, want, n), "line %d: \"%s\"", line, text);
    if (!ids_equal(&got, want, n)) {
        show_ids("want", want, n);
        show_ids("got ", got.v, got.n);
    }
    tok_ids_release(&got);
}

#define EXPECT_IDS(t, text, flags, ...)                                                            \
    do {                                                                                           \
        static const int32_t want_[] = {__VA_ARGS__};                                              \
        expect_ids(t, text, flags, want_, ARRAY_LEN(want_), __LINE__);                             \
    } while (0)

static void test_tokenizer__small_vocab(void)
{
    gguf_writer w = GGUF_WRITER_INIT;
    buf img = BUF_INIT;
    err e = ERR_INIT;
    gguf *g = NULL;
    build_small(&w, "gpt-2", true);
    tok *t = small_tok(&w, &img, &g, NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (t) {
        /* merges by rank: "abc" = (a b) c; " a" merges before anything else */
        EXPECT_IDS(t, "abc", 0, 7);
        EXPECT_IDS(t, "abcd", 0, 7, 3); /* "ab c" (rank 1) beats "c d" (rank 3) */
        EXPECT_IDS(t, "cd", 0, 11);
        EXPECT_IDS(t, "a a", 0, 0, 8);
        EXPECT_IDS(t, "abc", TOK_ADD_SPECIAL, 9, 7);
        EXPECT_IDS(t, "", TOK_ADD_SPECIAL, 9);
        EXPECT_IDS(t, "", 0);
        /* control tokens only with parse_special; user-defined always */
        EXPECT_IDS(t, "a<|endoftext|>b", TOK_PARSE_SPECIAL, 0, 9, 1);
        EXPECT_IDS(t, "a<|user|>b", 0, 0, 10, 1);
        EXPECT_IDS(t, "<|user|><|user|>", 0, 10, 10);
        /* a byte that is not in the vocabulary is dropped, as llama.cpp does */
        EXPECT_IDS(t, "az", 0, 0);
        CHECK(tok_is_eog(t, 9));
        CHECK(!tok_is_eog(t, 10));
        CHECK_INT(tok_find(t, "ab", 2), 6);
        CHECK_INT(tok_find(t, "zz", 2), -1);
        CHECK_INT(tok_attr(t, 10), TOK_ATTR_USER_DEFINED);
        CHECK_INT(tok_attr(t, 99), TOK_ATTR_UNDEFINED);
        CHECK(tok_text(t, 13, NULL) == NULL);
        buf out = BUF_INIT;
        CHECK_INT(tok_piece(t, 8, 0, &out, &e), 0);
        CHECK_STR(out.data, " a");
        buf_reset(&out);
        CHECK_INT(tok_piece(t, 9, 0, &out, &e), 0);
        CHECK_STR(out.data, "");
        CHECK_INT(tok_piece(t, 9, TOK_DECODE_SPECIAL, &out, &e), 0);
        CHECK_STR(out.data, "<|endoftext|>");
        CHECK_INT(tok_piece(t, 13, 0, &out, &e), ERR_INVALID);
        CHECK_INT(tok_piece(t, -1, 0, &out, &e), ERR_INVALID);
        buf_release(&out);
        tok_free(t);
    }
    gguf_close(g);
    gguf_writer_release(&w);
    buf_release(&img);
}

static void test_tokenizer__bad_vocabs(void)
{
    err e = ERR_INIT;
    buf img = BUF_INIT;
    gguf *g = NULL;
    tok *t;
    /* unknown or missing pre-tokenizer; an override fixes it */
    gguf_writer w = GGUF_WRITER_INIT;
    build_small(&w, "qwen2", false);
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_UNSUPPORTED && strstr(e.msg, "\"qwen2\""));
    tok_settings s;
    tok_settings_default(&s);
    s.pre = "refact";
    t = small_tok(&w, &img, &g, &s, &e);
    CHECK(t != NULL && strcmp(tok_pre(t), "refact") == 0);
    tok_free(t);
    gguf_close(g);
    gguf_writer_remove(&w, "tokenizer.ggml.pre");
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_UNSUPPORTED && strstr(e.msg, "missing"));
    gguf_writer_release(&w);
    /* SentencePiece */
    build_small(&w, "gpt-2", false);
    gguf_writer_set_str(&w, "tokenizer.ggml.model", "llama");
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_UNSUPPORTED && strstr(e.msg, "SentencePiece"));
    gguf_writer_release(&w);
    /* token_type of the wrong length, merges missing or of the wrong type */
    build_small(&w, "gpt-2", false);
    int32_t short_types[] = {1, 1};
    gguf_writer_set_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, short_types, 2);
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_FORMAT && strstr(e.msg, "token_type has 2 entries"));
    gguf_writer_release(&w);
    build_small(&w, "gpt-2", false);
    gguf_writer_remove(&w, "tokenizer.ggml.merges");
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_NOTFOUND && strstr(e.msg, "merges"));
    gguf_writer_set_u32(&w, "tokenizer.ggml.merges", 3);
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_FORMAT && strstr(e.msg, "merges"));
    gguf_writer_release(&w);
    /* add_bos without a valid BOS id; ids out of range are "none" */
    build_small(&w, "gpt-2", true);
    gguf_writer_set_u32(&w, "tokenizer.ggml.bos_token_id", 5000);
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_FORMAT && strstr(e.msg, "bos_token_id"));
    gguf_writer_set_bool(&w, "tokenizer.ggml.add_bos_token", false);
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t != NULL && tok_bos(t) == -1 && tok_eos(t) == 9 && tok_eot(t) == -1);
    tok_free(t);
    gguf_close(g);
    gguf_writer_release(&w);
    /* no tokenizer at all */
    gguf_writer_set_str(&w, "general.architecture", "x");
    t = small_tok(&w, &img, &g, NULL, &e);
    CHECK(t == NULL && e.code == ERR_NOTFOUND && strstr(e.msg, "tokenizer.ggml.model"));
    gguf_writer_release(&w);
    buf_release(&img);
}

/* Invalid UTF-8 is tokenized as U+FFFD per undecodable byte; long words are fine. */
static void test_tokenizer__odd_input(void)
{
    tok *t = open_vocab("tokenizer", "ggml-vocab-gpt-2.gguf", NULL);
    if (!t) return;
    err e = ERR_INIT;
    tok_ids a = TOK_IDS_INIT, b = TOK_IDS_INIT;
    CHECK_INT(tok_encode(t,
                         "ab\xff"
                         "cd\xc3",
                         6, 0, &a, &e),
              0);
    CHECK_INT(tok_encode(t,
                         "ab\xef\xbf\xbd"
                         "cd\xef\xbf\xbd",
                         10, 0, &b, &e),
              0);
    CHECK(a.n == b.n && memcmp(a.v, b.v, a.n * sizeof *a.v) == 0);
    tok_ids_release(&a);
    tok_ids_release(&b);
    /* an embedded NUL is a byte like any other */
    CHECK_INT(tok_encode(t, "a\0b", 3, 0, &a, &e), 0);
    buf out = BUF_INIT;
    CHECK_INT(tok_decode(t, a.v, a.n, 0, &out, &e), 0);
    CHECK(out.len == 3 && memcmp(out.data, "a\0b", 3) == 0);
    tok_ids_release(&a);
    /* a 200 000-byte word: the queue keeps it near-linear */
    size_t n = 200000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = "abcdefgh"[i % 8];
    CHECK_INT(tok_encode(t, big, n, 0, &a, &e), 0);
    buf_reset(&out);
    CHECK_INT(tok_decode(t, a.v, a.n, 0, &out, &e), 0);
    CHECK(out.len == n && memcmp(out.data, big, n) == 0);
    CHECK(a.n < n / 2);
    free(big);
    tok_ids_release(&a);
    buf_release(&out);
    tok_free(t);
}

/* Random bytes (mostly not UTF-8) through every vocabulary and flag
 * combination: no crash, no out-of-bounds access (ASan), and the decoded
 * text tokenizes back to itself. */
static void test_tokenizer__random_bytes(void)
{
    static const struct {
        const char *dir, *file;
    } v[] = {{"tokenizer", "ggml-vocab-deepseek-coder.gguf"},
             {"models", "tiny-ling.f32.gguf"},
             {"tokenizer", "ggml-vocab-tiny1007-dbrx.gguf"},
             {"models", "tiny-granite.f32.gguf"}};
    rng r;
    rng_seed(&r, 1234);
    for (size_t k = 0; k < ARRAY_LEN(v); k++) {
        tok *t = open_vocab(v[k].dir, v[k].file, NULL);
        if (!t) continue;
        for (int iter = 0; iter < 300; iter++) {
            char text[96];
            size_t n = rng_next(&r) % sizeof text;
            static const char alphabet[] =
                "ab 1\n\t'<|>\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\x80\xff";
            for (size_t i = 0; i < n; i++)
                text[i] =
                    iter % 2 ? (char)rng_next(&r) : alphabet[rng_next(&r) % (sizeof alphabet - 1)];
            unsigned flags = (unsigned)(iter % 4);
            tok_ids ids = TOK_IDS_INIT;
            err e = ERR_INIT;
            CHECK_INT(tok_encode(t, text, n, flags, &ids, &e), 0);
            buf out = BUF_INIT;
            CHECK_INT(tok_decode(t, ids.v, ids.n, TOK_DECODE_SPECIAL, &out, &e), 0);
            tok_ids again = TOK_IDS_INIT;
            CHECK_INT(tok_encode(t, out.data, out.len, flags & ~TOK_ADD_SPECIAL, &again, &e), 0);
            buf out2 = BUF_INIT;
            CHECK_INT(tok_decode(t, again.v, again.n, TOK_DECODE_SPECIAL, &out2, &e), 0);
            /* the decoded text (BOS text included) reads back to itself */
            CHECK_MSG(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0,
                      "%s iter %d: %zu/%zu bytes", v[k].file, iter, out.len, out2.len);
            buf_release(&out);
            buf_release(&out2);
            tok_ids_release(&ids);
            tok_ids_release(&again);
        }
        tok_free(t);
    }
}

/* tok_encode on several threads at once gives the same ids as one thread. */
static void test_tokenizer__threads(void)
{
    tok *t = open_vocab("tokenizer", "ggml-vocab-refact.gguf", NULL);
    if (!t) return;
    enum { N = 64 };
    char texts[N][128];
    tok_ids serial[N], parallel[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i],
                 "Question %d: what is %d * %d? It's <fim_prefix> %d apples.", i, i * 7, i + 3,
                 i * i);
        serial[i] = (tok_ids)TOK_IDS_INIT;
        parallel[i] = (tok_ids)TOK_IDS_INIT;
        err e = ERR_INIT;
        tok_encode(t, texts[i], strlen(texts[i]), TOK_PARSE_SPECIAL, &serial[i], &e);
    }
    int failures = 0;
#pragma omp parallel for num_threads(4) reduction(+ : failures)
    for (int i = 0; i < N; i++) {
        err e = ERR_INIT;
        failures +=
            tok_encode(t, texts[i], strlen(texts[i]), TOK_PARSE_SPECIAL, &parallel[i], &e) != 0;
    }
    CHECK_INT(failures, 0);
    for (int i = 0; i < N; i++) {
        CHECK(serial[i].n == parallel[i].n &&
              memcmp(serial[i].v, parallel[i].v, serial[i].n * sizeof(int32_t)) == 0);
        tok_ids_release(&serial[i]);
        tok_ids_release(&parallel[i]);
    }
    tok_free(t);
}

/* llama_detokenize's clean-up rules, on a vocabulary that enables them. */
static void test_tokenizer__clean_spaces(void)
{
    tok *t = open_vocab("tokenizer", "ggml-vocab-gpt-2.gguf", NULL);
    tok *t2 = open_vocab("tokenizer", "ggml-vocab-deepseek-coder.gguf", NULL);
    if (!t || !t2) return;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a , b . c ! d ?", "a, b. c! d?"},
        {"x != y", "x!= y"},
        {"he 's here , I 'm ok", "he's here, I'm ok"},
        {"they 're we 've", "they're we've"},
        {"do n't I 'd we 'll", "do n't I 'd we 'll"},
        {"a ' b", "a'b"},
        {"a ' ' b", "a'' b"},
        {" .", "."},
        {"  .", " ."},
        {"end '", "end '"},
        {"x 's", "x's"},
        {"", ""},
    };
    err e = ERR_INIT;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        tok_ids ids = TOK_IDS_INIT;
        buf out = BUF_INIT, raw = BUF_INIT;
        CHECK_INT(tok_encode(t, cases[i].in, strlen(cases[i].in), 0, &ids, &e), 0);
        CHECK_INT(tok_decode(t, ids.v, ids.n, TOK_DECODE_CLEAN_SPACES, &out, &e), 0);
        CHECK_MSG(strcmp(out.data, cases[i].out) == 0, "\"%s\" -> \"%s\", want \"%s\"", cases[i].in,
                  out.data, cases[i].out);
        CHECK_INT(tok_decode(t, ids.v, ids.n, 0, &raw, &e), 0);
        CHECK_STR(raw.data, cases[i].in);
        tok_ids_release(&ids);
        /* deepseek-coder does not clean */
        buf_reset(&out);
        CHECK_INT(tok_encode(t2, cases[i].in, strlen(cases[i].in), 0, &ids, &e), 0);
        CHECK_INT(tok_decode(t2, ids.v, ids.n, TOK_DECODE_CLEAN_SPACES, &out, &e), 0);
        CHECK_STR(out.data, cases[i].in);
        tok_ids_release(&ids);
        buf_release(&out);
        buf_release(&raw);
    }
    tok_free(t);
    tok_free(t2);
}

int main(void)
{
    RUN(test_tokenizer__vocab_inp_out);
    RUN(test_tokenizer__tricky_strings);
    RUN(test_tokenizer__model_goldens);
    RUN(test_tokenizer__small_vocab);
    RUN(test_tokenizer__bad_vocabs);
    RUN(test_tokenizer__odd_input);
    RUN(test_tokenizer__clean_spaces);
    RUN(test_tokenizer__random_bytes);
    RUN(test_tokenizer__threads);
    return test_report();
}
