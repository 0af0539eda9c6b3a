/* test_engine.c: the generation loop: greedy continuations equal to the goldens,
 * continuous batching equal to one sequence at a time, stop strings, token caps, the
 * context end, requests that cannot be served, a full cache, cancellation, UTF-8. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/engine.h"
#include "backends/model.h"
#include "backends/tokenizer.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "test.h"

#define NP 5 /* prompts in a golden file */

typedef struct fixture_set {
    model *m;
    tok *t;
    engine *en;
    cJSON *golden;
    int32_t ids[NP][128];
    size_t n[NP];
    int32_t greedy[NP][16];
} fixture_set;

static bool open_set(fixture_set *f, const char *name, const model_settings *s)
{
    memset(f, 0, sizeof *f);
    char path[1024];
    err e = ERR_INIT;
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    if (model_open(&f->m, path, s, &e) < 0 || tok_open(&f->t, model_get_gguf(f->m), NULL, &e) < 0 ||
        engine_open(&f->en, f->m, f->t, &e) < 0) {
        fprintf(stderr, "%s: %s\n", name, e.msg);
        return false;
    }
    snprintf(path, sizeof path, "%s/models/%s.golden.json", test_fixtures_dir(), name);
    if (json_parse_file(path, &f->golden, &e) < 0) return false;
    for (int k = 0; k < NP; k++) {
        const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(f->golden, "prompts"), k);
        const cJSON *v;
        f->n[k] = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(p, "tokens")) f->ids[k][f->n[k]++] =
            (int32_t)v->valuedouble;
        int g = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(p, "greedy_tokens")) f->greedy[k][g++] =
            (int32_t)v->valuedouble;
    }
    return true;
}

static void close_set(fixture_set *f)
{
    engine_close(f->en);
    tok_free(f->t);
    model_close(f->m);
    cJSON_Delete(f->golden);
}

/* What the callback saw, by request index. */
typedef struct seen {
    int calls;
    int order[64];
    int32_t tokens[64][64];
    size_t n_tokens[64];
    char text[64][512];
    char finish[64][16];
    char error[64][200];
    size_t n_prompt[64];
    int stop_after; /* return an error from the callback after this many calls (0 = never) */
} seen;

static int on_done(void *ctx, size_t index, const engine_result *r)
{
    seen *s = ctx;
    CHECK(index < 64);
    if (index >= 64) return -1;
    s->order[s->calls++] = (int)index;
    s->n_tokens[index] = r->n_tokens;
    if (r->n_tokens && r->n_tokens <= 64)
        memcpy(s->tokens[index], r->tokens, r->n_tokens * sizeof(int32_t));
    snprintf(s->text[index], sizeof s->text[index], "%s", r->text);
    CHECK_INT(strlen(r->text), r->len);
    snprintf(s->finish[index], sizeof s->finish[index], "%s", r->finish_reason);
    snprintf(s->error[index], sizeof s->error[index], "%s", r->error ? r->error : "");
    s->n_prompt[index] = r->n_prompt;
    if (s->stop_after && s->calls >= s->stop_after) return ERR_MISMATCH;
    return 0;
}

static engine_request greedy_req(const fixture_set *f, int k, int max_tokens)
{
    engine_request r = {0};
    r.prompt = f->ids[k];
    r.n_prompt = f->n[k];
    r.max_tokens = max_tokens;
    sampler_params_default(&r.sampling);
    r.ignore_eog = true; /* the goldens do not stop at EOS */
    return r;
}

static void test_engine__greedy(void)
{
    /* F32: the free-running greedy continuation of every prompt is the golden's, whether
     * decoded alone or four at a time */
    for (int n_seq = 1; n_seq <= 4; n_seq += 3) {
        model_settings s;
        model_settings_default(&s);
        s.threads = 2;
        s.n_seq = n_seq;
        fixture_set f;
        if (!open_set(&f, "tiny-granite.f32", &s)) {
            CHECK(0);
            close_set(&f);
            continue;
        }
        engine_request reqs[NP];
        for (int k = 0; k < NP; k++) reqs[k] = greedy_req(&f, k, 16);
        static seen sn;
        memset(&sn, 0, sizeof sn);
        err e = ERR_INIT;
        CHECK(engine_generate(f.en, reqs, NP, on_done, &sn, NULL, &e) == 0);
        CHECK_INT(sn.calls, NP);
        for (int k = 0; k < NP; k++) {
            CHECK_INT(sn.n_tokens[k], 16);
            CHECK(memcmp(sn.tokens[k], f.greedy[k], sizeof f.greedy[k]) == 0);
            CHECK_STR(sn.finish[k], "length");
            CHECK_INT(sn.n_prompt[k], f.n[k]);
        }
        /* the text is the pieces of the tokens (valid UTF-8 or with U+FFFD) */
        buf raw = BUF_INIT, clean = BUF_INIT;
        tok_decode(f.t, f.greedy[4], 16, TOK_DECODE_SPECIAL, &raw, &e);
        engine_utf8_sanitize(raw.data, raw.len, &clean);
        CHECK_STR(sn.text[4], clean.data);
        buf_release(&raw);
        buf_release(&clean);
        const engine_stats *st = engine_get_stats(f.en);
        CHECK_INT(st->generated_tokens, NP * 16);
        size_t total = 0;
        for (int k = 0; k < NP; k++) total += f.n[k];
        CHECK_INT(st->prompt_tokens, total);
        CHECK(st->steps >= (n_seq == 1 ? NP * 15 : 15));
        CHECK_INT(model_kv_free_tokens(f.m), (size_t)n_seq * 4096);
        close_set(&f);
    }
}

static void test_engine__batching(void)
{
    /* a quantized model, sampled at temperature 0.9 with per-request seeds: 12 requests
     * with 3 slots give the same tokens as 1 slot, in another order of completion */
    const char *name = "tiny-granite.q4_0";
    static seen a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    for (int pass = 0; pass < 2; pass++) {
        model_settings s;
        model_settings_default(&s);
        s.threads = 2;
        s.n_seq = pass ? 3 : 1;
        fixture_set f;
        if (!open_set(&f, name, &s)) {
            CHECK(0);
            close_set(&f);
            return;
        }
        engine_request reqs[12];
        for (int i = 0; i < 12; i++) {
            reqs[i] = greedy_req(&f, i % NP, 4 + (i * 7) % 20);
            reqs[i].sampling.temperature = 0.9f;
            reqs[i].sampling.top_p = 0.95f;
            reqs[i].sampling.seed = 100 + (uint64_t)i;
            reqs[i].ignore_eog = false;
        }
        err e = ERR_INIT;
        CHECK(engine_generate(f.en, reqs, 12, on_done, pass ? &b : &a, NULL, &e) == 0);
        close_set(&f);
    }
    CHECK_INT(a.calls, 12);
    CHECK_INT(b.calls, 12);
    bool reordered = false;
    for (int i = 0; i < 12; i++) {
        CHECK_INT(a.n_tokens[i], b.n_tokens[i]);
        CHECK(memcmp(a.tokens[i], b.tokens[i], a.n_tokens[i] * sizeof(int32_t)) == 0);
        CHECK_STR(a.text[i], b.text[i]);
        CHECK_STR(a.finish[i], b.finish[i]);
        CHECK_INT(a.order[i], i); /* one slot: in order */
        reordered |= b.order[i] != i;
    }
    CHECK(reordered);
}

static void test_engine__stops(void)
{
    model_settings s;
    model_settings_default(&s);
    s.threads = 2;
    s.n_seq = 2;
    s.ctx_size = 48;
    fixture_set f;
    if (!open_set(&f, "tiny-granite.f32", &s)) {
        CHECK(0);
        close_set(&f);
        return;
    }
    err e = ERR_INIT;
    /* the greedy text of prompt 1; then stop strings taken from inside it */
    static seen sn;
    memset(&sn, 0, sizeof sn);
    engine_request r0 = greedy_req(&f, 1, 12);
    CHECK(engine_generate(f.en, &r0, 1, on_done, &sn, NULL, &e) == 0);
    static char full[512];
    snprintf(full, sizeof full, "%s", sn.text[0]);
    size_t fl = strlen(full);
    CHECK(fl > 6);
    /* ASCII pieces of it (U+FFFD in the text stands for bytes the model did produce) */
    char stop_a[8] = "", stop_b[8] = "";
    for (size_t i = fl / 3; i + 3 <= fl && !stop_a[0]; i++)
        if (full[i] > ' ' && full[i] < 127 && full[i + 1] > ' ' && full[i + 1] < 127 &&
            full[i + 2] > ' ' && full[i + 2] < 127)
            snprintf(stop_a, sizeof stop_a, "%.3s", full + i);
    for (size_t i = fl - 1; i > 0 && !stop_b[0]; i--)
        if (full[i] > ' ' && full[i] < 127) snprintf(stop_b, sizeof stop_b, "%.1s", full + i);
    CHECK(stop_a[0] && stop_b[0]);
    const char *stops_a[] = {"\x01never", stop_a};
    const char *stops_b[] = {stop_b};
    engine_request reqs[6];
    reqs[0] = greedy_req(&f, 1, 12);
    reqs[0].stop = stops_a;
    reqs[0].n_stop = 2;
    reqs[1] = greedy_req(&f, 1, 12);
    reqs[1].stop = stops_b;
    reqs[1].n_stop = 1;
    reqs[2] = greedy_req(&f, 1, 3); /* a token cap */
    /* prompt 2 (81 tokens) does not fit a context of 48; an empty prompt */
    reqs[3] = greedy_req(&f, 2, 5);
    reqs[4] = greedy_req(&f, 0, 5);
    reqs[4].n_prompt = 0;
    /* prompt 1 (36 tokens) reaches the end of the context after 12 + 1 tokens */
    reqs[5] = greedy_req(&f, 1, 100);
    memset(&sn, 0, sizeof sn);
    CHECK(engine_generate(f.en, reqs, 6, on_done, &sn, NULL, &e) == 0);
    CHECK_INT(sn.calls, 6);
    const char *cut = strstr(full, stop_a);
    CHECK_INT(strlen(sn.text[0]), (size_t)(cut - full));
    CHECK(strncmp(sn.text[0], full, strlen(sn.text[0])) == 0);
    CHECK_STR(sn.finish[0], "stop");
    CHECK(sn.n_tokens[0] < 12);
    CHECK_STR(sn.finish[1], "stop");
    CHECK(strstr(full, stop_b) == full + strlen(sn.text[1]));
    CHECK(strncmp(sn.text[1], full, strlen(sn.text[1])) == 0);
    CHECK_STR(sn.finish[2], "length");
    CHECK_INT(sn.n_tokens[2], 3);
    CHECK_STR(sn.finish[3], "error");
    CHECK(strstr(sn.error[3], "81 tokens, more than the context of 48") != NULL);
    CHECK_INT(sn.n_tokens[3], 0);
    CHECK_STR(sn.finish[4], "error");
    CHECK(strstr(sn.error[4], "no tokens") != NULL);
    CHECK_STR(sn.finish[5], "length");
    CHECK_INT(sn.n_tokens[5], 48 - 36 + 1);
    CHECK_INT(model_kv_free_tokens(f.m), 128); /* 2 x 48 tokens: 2 pages each */
    close_set(&f);
}

static void test_engine__pool_and_cancel(void)
{
    /* 4 slots but room for only ~3 sequences of 40 tokens: admission waits, all finish */
    model_settings s;
    model_settings_default(&s);
    s.threads = 2;
    s.n_seq = 4;
    s.kv_tokens = 128;
    fixture_set f;
    if (!open_set(&f, "tiny-granite.q8_0", &s)) {
        CHECK(0);
        close_set(&f);
        return;
    }
    err e = ERR_INIT;
    engine_request reqs[8];
    for (int i = 0; i < 8; i++) reqs[i] = greedy_req(&f, 1, 4 + i % 3); /* 36 + 6 tokens */
    static seen sn;
    memset(&sn, 0, sizeof sn);
    CHECK(engine_generate(f.en, reqs, 8, on_done, &sn, NULL, &e) == 0);
    CHECK_INT(sn.calls, 8);
    for (int i = 0; i < 8; i++) {
        CHECK_STR(sn.finish[i], "length");
        CHECK_INT(sn.n_tokens[i], 4 + i % 3);
        CHECK(memcmp(sn.tokens[i], sn.tokens[0], 4 * sizeof(int32_t)) == 0);
    }
    /* a request larger than the whole pool fails alone */
    engine_request big = greedy_req(&f, 2, 100); /* 81 + 99 > 128 */
    memset(&sn, 0, sizeof sn);
    CHECK(engine_generate(f.en, &big, 1, on_done, &sn, NULL, &e) == 0);
    CHECK_STR(sn.finish[0], "error");
    CHECK(strstr(sn.error[0], "KV cache") != NULL);
    /* the callback stops the engine: its code comes back, the cache is empty again */
    memset(&sn, 0, sizeof sn);
    sn.stop_after = 2;
    CHECK_INT(engine_generate(f.en, reqs, 8, on_done, &sn, NULL, &e), ERR_MISMATCH);
    CHECK_INT(sn.calls, 2);
    CHECK_INT(model_kv_free_tokens(f.m), 128);
    /* cancellation */
    volatile int cancel = 1;
    memset(&sn, 0, sizeof sn);
    CHECK_INT(engine_generate(f.en, reqs, 8, on_done, &sn, &cancel, &e), ERR_INTERRUPTED);
    CHECK_INT(sn.calls, 0);
    CHECK_INT(model_kv_free_tokens(f.m), 128);
    close_set(&f);
}

static void test_engine__eog(void)
{
    /* with EOS counted as a stop, a continuation ends at the first EOS the model picks:
     * search the golden greedy tokens for one, else check that nothing was cut early */
    model_settings s;
    model_settings_default(&s);
    s.threads = 1;
    fixture_set f;
    if (!open_set(&f, "tiny-granite.f32", &s)) {
        CHECK(0);
        close_set(&f);
        return;
    }
    err e = ERR_INIT;
    CHECK(tok_is_eog(f.t, 1006));
    static seen sn;
    engine_request reqs[NP];
    for (int k = 0; k < NP; k++) {
        reqs[k] = greedy_req(&f, k, 16);
        reqs[k].ignore_eog = false;
    }
    memset(&sn, 0, sizeof sn);
    CHECK(engine_generate(f.en, reqs, NP, on_done, &sn, NULL, &e) == 0);
    for (int k = 0; k < NP; k++) {
        int first_eos = -1;
        for (int i = 0; i < 16 && first_eos < 0; i++)
            if (f.greedy[k][i] == 1006) first_eos = i;
        if (first_eos >= 0) {
            CHECK_INT(sn.n_tokens[k], first_eos + 1);
            CHECK_STR(sn.finish[k], "stop");
        } else {
            CHECK_INT(sn.n_tokens[k], 16);
            CHECK_STR(sn.finish[k], "length");
        }
    }
    close_set(&f);
}

static void test_engine__prefix_cache(void)
{
    /* prompts that share long prefixes: the same tokens with the cache as without, and
     * fewer prompt tokens computed */
    static seen a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    static int32_t prompts[6][128];
    size_t lens[6];
    uint64_t computed[2] = {0, 0}, cached = 0;
    for (int pass = 0; pass < 2; pass++) {
        model_settings s;
        model_settings_default(&s);
        s.threads = 2;
        s.n_seq = 3;
        s.kv_tokens = pass ? 384 : 0;
        fixture_set f;
        if (!open_set(&f, "tiny-granite.q8_0", &s)) {
            CHECK(0);
            close_set(&f);
            return;
        }
        err e = ERR_INIT;
        if (pass) {
            CHECK(engine_set_prefix_cache(f.en, true, &e) == 0);
            CHECK(engine_set_prefix_cache(f.en, true, &e) == 0);
        }
        /* prompt 2 (81 tokens), cut and continued in several ways, and itself again */
        const size_t cuts[6] = {81, 60, 70, 81, 40, 75};
        for (int i = 0; i < 6; i++) {
            memcpy(prompts[i], f.ids[2], cuts[i] * sizeof(int32_t));
            lens[i] = cuts[i];
            if (i == 1 || i == 4)
                for (int k = 0; k < 5; k++) prompts[i][lens[i]++] = f.ids[1][k];
            if (i == 2) prompts[i][lens[i]++] = 7;
        }
        engine_request reqs[6];
        for (int i = 0; i < 6; i++) {
            reqs[i] = greedy_req(&f, 0, 6);
            reqs[i].prompt = prompts[i];
            reqs[i].n_prompt = lens[i];
        }
        CHECK(engine_generate(f.en, reqs, 6, on_done, pass ? &b : &a, NULL, &e) == 0);
        computed[pass] = engine_get_stats(f.en)->prompt_tokens;
        if (pass) cached = engine_get_stats(f.en)->cached_tokens;
        /* the kept prompt holds pages until the cache is turned off */
        if (pass) {
            CHECK(model_kv_free_tokens(f.m) < 384);
            CHECK(engine_set_prefix_cache(f.en, false, &e) == 0);
            CHECK_INT(model_kv_free_tokens(f.m), 384);
        }
        close_set(&f);
    }
    size_t total = 0;
    for (int i = 0; i < 6; i++) total += lens[i];
    CHECK_INT(computed[0], total);
    CHECK_INT(computed[1] + cached, total);
    CHECK(cached >= 200);
    fprintf(stderr, "  prefix cache: %llu of %zu prompt tokens reused\n",
            (unsigned long long)cached, total);
    for (int i = 0; i < 6; i++) {
        CHECK_INT(a.n_tokens[i], 6);
        CHECK(memcmp(a.tokens[i], b.tokens[i], 6 * sizeof(int32_t)) == 0);
    }
    /* a model of one sequence has no room for a kept prompt */
    model_settings s;
    model_settings_default(&s);
    fixture_set f;
    if (open_set(&f, "tiny-granite.q8_0", &s)) {
        err e = ERR_INIT;
        CHECK_INT(engine_set_prefix_cache(f.en, true, &e), ERR_INVALID);
    }
    close_set(&f);
}

static void test_engine__utf8(void)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"caf\xC3\xA9", "caf\xC3\xA9"},
        {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xFF"
         "a\xC0\x80",
         "\xEF\xBF\xBD"
         "a\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80x", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx"}, /* a surrogate */
        {"\xF0\x9F\x98\x80!", "\xF0\x9F\x98\x80!"},
        {"", ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        buf b = BUF_INIT;
        CHECK(engine_utf8_sanitize(cases[i].in, strlen(cases[i].in), &b) == 0);
        CHECK_STR(b.data, cases[i].out);
        buf_release(&b);
    }
}

int main(void)
{
    RUN(test_engine__greedy);
    RUN(test_engine__batching);
    RUN(test_engine__stops);
    RUN(test_engine__pool_and_cancel);
    RUN(test_engine__eog);
    RUN(test_engine__prefix_cache);
    RUN(test_engine__utf8);
    return test_report();
}
