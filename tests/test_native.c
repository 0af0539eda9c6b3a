/* test_native.c: the native runner through the runner interface: the default prompt
 * style, raw and chat prompts, per-request errors, describe and its sha256 cache,
 * cancellation; and synthesized models (synth.h) that load and run. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/gguf.h"
#include "backends/model.h"
#include "backends/qtype.h"
#include "backends/synth.h"
#include "backends/tokenizer.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/util.h"
#include "runners/runner.h"
#include "test.h"

static char tmp_dir[64];

static const char *fixture(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", test_fixtures_dir(), name);
    return path;
}

/* A copy of tiny-granite.q8_0 with the Granite 4.0 chat template in its metadata. */
static const char *with_template(void)
{
    static char out[256];
    snprintf(out, sizeof out, "%s/templ.gguf", tmp_dir);
    char tp[1024];
    snprintf(tp, sizeof tp, "%s/chat_templates/granite/ibm-granite-granite-4.0.jinja",
             test_fixtures_dir());
    buf tmpl = BUF_INIT;
    gguf *g = NULL;
    err e = ERR_INIT;
    gguf_writer w = GGUF_WRITER_INIT;
    CHECK(file_read_all(tp, &tmpl, &e) == 0);
    CHECK(gguf_open(&g, fixture("tiny-granite.q8_0.gguf"), &e) == 0);
    for (size_t i = 0; g && i < gguf_n_kv(g); i++) gguf_writer_set_kv(&w, gguf_kv_at(g, i));
    gguf_writer_set_str(&w, "tokenizer.chat_template", tmpl.data);
    for (size_t i = 0; g && i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        CHECK(gguf_writer_add_tensor(&w, t->name, t->type, t->n_dims, t->ne, t->data, &e) == 0);
    }
    CHECK_MSG(gguf_writer_write(&w, out, &e) == 0, "%s", e.msg);
    gguf_writer_release(&w);
    gguf_close(g);
    buf_release(&tmpl);
    return out;
}

static void test_native__default_chat(void)
{
    runner_settings s;
    runner_settings_default(&s);
    bool chat = true;
    err e = ERR_INIT;
    s.model = fixture("tiny-granite.q8_0.gguf");
    CHECK_INT(runner_default_chat("native", &s, &chat, &e), 1);
    CHECK(!chat); /* no chat template in the file: raw */
    s.model = with_template();
    CHECK_INT(runner_default_chat("native", &s, &chat, &e), 1);
    CHECK(chat);
    s.chat_template = "raw";
    CHECK_INT(runner_default_chat("native", &s, &chat, &e), 1);
    CHECK(!chat);
    s.chat_template = "granite-4.1";
    s.model = fixture("tiny-granite.q8_0.gguf");
    CHECK_INT(runner_default_chat("native", &s, &chat, &e), 1);
    CHECK(chat);
    s.chat_template = "nonesuch";
    CHECK(runner_default_chat("native", &s, &chat, &e) < 0);
    s.chat_template = NULL;
    s.model = "/nonexistent.gguf";
    CHECK(runner_default_chat("native", &s, &chat, &e) < 0);
    CHECK_INT(runner_default_chat("replay", &s, &chat, &e), 0);
}

typedef struct got {
    int calls;
    char *text[8], *prompt[8], *ids[8], *error[8];
    const char *finish[8];
    int prompt_tokens[8], completion_tokens[8];
} got;

static int on_done(void *ctx, size_t index, const gen_request *q, const gen_response *r)
{
    got *g = ctx;
    CHECK(index < 8);
    if (index >= 8) return -1;
    g->calls++;
    g->text[index] = strdup(r->text ? r->text : "(null)");
    g->prompt[index] = r->rendered_prompt ? strdup(r->rendered_prompt) : NULL;
    g->ids[index] = r->prompt_tokens_ids ? strdup(r->prompt_tokens_ids) : NULL;
    g->error[index] = r->error ? strdup(r->error) : NULL;
    g->finish[index] = r->finish_reason;
    g->prompt_tokens[index] = r->prompt_tokens;
    g->completion_tokens[index] = r->completion_tokens;
    return 0;
}

static void got_release(got *g)
{
    for (int i = 0; i < 8; i++) {
        free(g->text[i]);
        free(g->prompt[i]);
        free(g->ids[i]);
        free(g->error[i]);
    }
    memset(g, 0, sizeof *g);
}

static void test_native__generate(void)
{
    runner_settings s;
    runner_settings_default(&s);
    s.model = fixture("tiny-granite.q8_0.gguf");
    s.threads = 2;
    s.batch = 2;
    s.cache_dir = tmp_dir;
    runner *r = NULL;
    err e = ERR_INIT;
    /* chat prompts with no template the runner knows: refused at open, asking for one */
    s.chat = true;
    CHECK_INT(runner_open(&r, "native", &s, &e), ERR_USAGE);
    CHECK(strstr(e.msg, "--chat-template") != NULL);
    s.chat = false;
    CHECK_MSG(runner_open(&r, "native", &s, &e) == 0, "%s", e.msg);
    if (!r) return;

    const char *stops[] = {"\n\n"};
    chat_message msgs[] = {{"system", "Be brief.", NULL, NULL}, {"user", "Hello?", NULL, NULL}};
    prompt p_raw = {.text = "Hello world", .stop = stops, .n_stop = 1, .max_tokens = 8};
    prompt p_chat = {.messages = msgs, .n_messages = 2, .max_tokens = 8};
    gen_request reqs[3] = {
        {.item_id = "a", .p = &p_raw, .max_tokens = 8},
        {.item_id = "b", .p = &p_chat, .max_tokens = 8},
        {.item_id = "c",
         .p = &p_raw,
         .max_tokens = 5,
         .sampling = {.temperature = 0.8, .top_p = 0.9, .seed = 7}},
    };
    got g = {0};
    CHECK(runner_generate(r, reqs, 3, on_done, &g, &e) == 0);
    CHECK_INT(g.calls, 3);
    /* raw: the text as it is, its ids (no BOS for this model) */
    CHECK_STR(g.prompt[0], "Hello world");
    CHECK_STR(g.ids[0], "[39, 695, 78, 995]");
    CHECK_INT(g.prompt_tokens[0], 4);
    CHECK(g.error[0] == NULL);
    CHECK(g.completion_tokens[0] >= 1 && g.completion_tokens[0] <= 8);
    CHECK_INT(g.completion_tokens[2], 5);
    CHECK_STR(g.finish[2], "length");
    /* a chat prompt with no family: answered with an error, not a failure */
    CHECK(g.error[1] && strstr(g.error[1], "chat prompt") && strstr(g.error[1], "--chat-template"));
    CHECK_STR(g.finish[1], "error");
    got_release(&g);

    /* describe: the file's sha256, computed once and then read from the cache */
    cJSON *d = cJSON_CreateObject();
    CHECK(runner_describe(r, d, &e) == 0);
    char hex[HASH_HEX_SIZE];
    CHECK(sha256_file_hex(s.model, hex, &e) == 0);
    CHECK_STR(cJSON_GetObjectItem(d, "sha256")->valuestring, hex);
    CHECK_STR(cJSON_GetObjectItem(d, "architecture")->valuestring, "granite");
    CHECK(cJSON_GetObjectItem(d, "parameters")->valuedouble == 1832960);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "tensor_types"), "Q8_0")->valuedouble == 29);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "chat_template"), "family")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "bos"), "add_bos")));
    CHECK(cJSON_GetObjectItem(d, "batch")->valuedouble == 2);
    cJSON_Delete(d);
    char cache[256];
    snprintf(cache, sizeof cache, "%s/model-sha256.tsv", tmp_dir);
    buf c = BUF_INIT;
    CHECK(file_read_all(cache, &c, &e) == 0);
    CHECK(strncmp(c.data, hex, 64) == 0);
    /* a (forged) cached value is believed while size and mtime match */
    memset(c.data, 'f', 64);
    CHECK(file_write_atomic(cache, c.data, c.len, &e) == 0);
    d = cJSON_CreateObject();
    CHECK(runner_describe(r, d, &e) == 0);
    CHECK(strspn(cJSON_GetObjectItem(d, "sha256")->valuestring, "f") == 64);
    cJSON_Delete(d);
    buf_release(&c);

    /* cancellation */
    volatile int stop = 1;
    runner_close(r);
    r = NULL;
    s.cancel = &stop;
    CHECK(runner_open(&r, "native", &s, &e) == 0);
    CHECK_INT(runner_generate(r, reqs, 1, on_done, &g, &e), ERR_INTERRUPTED);
    got_release(&g);
    runner_close(r);

    /* chat style with a named template: the rendered prompt, special tokens recognised */
    s.cancel = NULL;
    s.chat = true;
    s.chat_template = "granite-4.0";
    r = NULL;
    CHECK_MSG(runner_open(&r, "native", &s, &e) == 0, "%s", e.msg);
    if (r) {
        CHECK(runner_generate(r, reqs + 1, 1, on_done, &g, &e) == 0);
        CHECK_INT(g.calls, 1);
        CHECK(g.prompt[0] &&
              str_starts(g.prompt[0], "<|start_of_role|>system<|end_of_role|>Be brief."));
        CHECK(g.prompt[0] && str_ends(g.prompt[0], "<|start_of_role|>assistant<|end_of_role|>"));
        CHECK(g.error[0] == NULL);
        CHECK(g.prompt_tokens[0] > 10);
        got_release(&g);
        d = cJSON_CreateObject();
        CHECK(runner_describe(r, d, &e) == 0);
        CHECK_STR(
            cJSON_GetObjectItem(cJSON_GetObjectItem(d, "chat_template"), "family")->valuestring,
            "granite-4.0");
        cJSON_Delete(d);
    }
    runner_close(r);
    /* a model file that does not exist, an architecture not supported */
    s.model = "/nonexistent/m.gguf";
    r = NULL;
    CHECK(runner_open(&r, "native", &s, &e) < 0);
    s.model = fixture("tiny-ling.q8_0.gguf");
    s.chat = false;
    s.chat_template = NULL;
    CHECK_INT(runner_open(&r, "native", &s, &e), ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, "architecture bailingmoe2 is not supported by the native engine yet"));
}

/* ---- synthesized models ---- */

static void test_native__synth(void)
{
    gguf *vocab = NULL;
    err e = ERR_INIT;
    CHECK(gguf_open(&vocab, fixture("tiny-granite.f32.gguf"), &e) == 0);
    if (!vocab) return;
    const struct {
        const char *preset;
        uint32_t type, head;
    } cases[] = {
        {"tiny", QTYPE_Q8_0, QTYPE_Q8_0},      {"tiny", QTYPE_Q4_0, QTYPE_Q6_K},
        {"tiny", QTYPE_F16, QTYPE_F16},        {"tiny", QTYPE_BF16, QTYPE_BF16},
        {"tiny-ling", QTYPE_Q4_0, QTYPE_Q6_K},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/synth%zu.gguf", tmp_dir, i);
        synth_spec s;
        synth_spec_default(&s);
        s.preset = cases[i].preset;
        s.type = cases[i].type;
        s.vocab = vocab;
        s.threads = 2;
        CHECK_MSG(synth_write(&s, path, &e) == 0, "%s", e.msg);
        gguf *g = NULL;
        CHECK(gguf_open(&g, path, &e) == 0);
        if (!g) continue;
        uint64_t params = 0;
        for (size_t k = 0; k < gguf_n_tensors(g); k++) params += gguf_tensor_at(g, k)->n_elements;
        CHECK_INT(params, synth_param_count(cases[i].preset, 1007));
        bool ling = !strcmp(cases[i].preset, "tiny-ling");
        const gguf_tensor *head = gguf_find_tensor(g, ling ? "output.weight" : "token_embd.weight");
        CHECK(head && head->type == cases[i].head);
        const gguf_tensor *q =
            gguf_find_tensor(g, ling ? "blk.1.ffn_up_exps.weight" : "blk.1.attn_q.weight");
        CHECK(q && q->type == cases[i].type);
        const gguf_tensor *n = gguf_find_tensor(g, "blk.0.attn_norm.weight");
        CHECK(n && n->type == QTYPE_F32);
        const gguf_kv *toks = gguf_find_key(g, "tokenizer.ggml.tokens");
        CHECK(toks && toks->n == 1007);
        gguf_close(g);
        /* the same seed gives the same file, another seed another */
        if (i == 0) {
            char again[256];
            snprintf(again, sizeof again, "%s/again.gguf", tmp_dir);
            s.threads = 1;
            CHECK(synth_write(&s, again, &e) == 0);
            char h1[HASH_HEX_SIZE], h2[HASH_HEX_SIZE];
            sha256_file_hex(path, h1, &e);
            sha256_file_hex(again, h2, &e);
            CHECK_STR(h1, h2);
            s.seed = 99;
            CHECK(synth_write(&s, again, &e) == 0);
            sha256_file_hex(again, h2, &e);
            CHECK(strcmp(h1, h2) != 0);
        }
        /* granite loads and runs; bailingmoe2 is written but not run yet */
        model *m = NULL;
        if (ling) {
            CHECK_INT(model_open(&m, path, NULL, &e), ERR_UNSUPPORTED);
            continue;
        }
        model_settings ms;
        model_settings_default(&ms);
        ms.threads = 2;
        CHECK_MSG(model_open(&m, path, &ms, &e) == 0, "%s", e.msg);
        if (!m) continue;
        int32_t ids[3] = {1, 2, 3};
        model_batch b = {.n = 3, .tokens = ids};
        const float *lg;
        size_t n_out;
        CHECK(model_forward(m, &b, &lg, &n_out, &e) == 0);
        bool finite = true;
        for (size_t k = 0; k < 1007; k++) finite &= lg[k] == lg[k] && lg[k] - lg[k] == 0;
        CHECK(finite);
        model_close(m);
    }
    /* bad specs */
    synth_spec s;
    synth_spec_default(&s);
    s.vocab = vocab;
    s.preset = "nope";
    CHECK_INT(synth_write(&s, "/tmp/never.gguf", &e), ERR_INVALID);
    s.preset = "tiny";
    s.type = QTYPE_Q6_K;
    CHECK_INT(synth_write(&s, "/tmp/never.gguf", &e), ERR_INVALID);
    s.type = QTYPE_Q8_0;
    s.vocab = NULL;
    CHECK_INT(synth_write(&s, "/tmp/never.gguf", &e), ERR_INVALID);
    CHECK(!file_exists("/tmp/never.gguf"));
    CHECK_INT(synth_param_count("nope", 10), 0);
    /* PERF.md's parameter counts with GPT-2's vocabulary */
    CHECK(synth_param_count("granite-1b", 50257) / 1000000 == 952);
    CHECK(synth_param_count("ling-2b", 50257) / 1000000 == 2578);
    gguf_close(vocab);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/tally-native-XXXXXX");
    if (!mkdtemp(tmp_dir)) return 1;
    RUN(test_native__default_chat);
    RUN(test_native__generate);
    RUN(test_native__synth);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    return test_report();
}
