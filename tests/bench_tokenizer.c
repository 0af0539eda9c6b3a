/* bench_tokenizer.c: tokenizer throughput on real prompts (GSM8K test
 * questions) for each fixture vocabulary, and the cost per byte of one long
 * word as it grows (linear-ish if the merge queue works). Prints figures;
 * asserts nothing about time. Run with `meson test -C build --benchmark`. */
#include "backends/gguf.h"
#include "backends/tokenizer.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v ? v : def;
}

int main(void)
{
    const char *fx = env_or("TALLY_FIXTURES", "../shared/fixtures");
    const char *data = env_or("TALLY_DATA", "../shared/datasets");
    static const struct {
        const char *dir, *file;
    } vocabs[] = {
        {"tokenizer", "ggml-vocab-gpt-2.gguf"},          {"tokenizer", "ggml-vocab-refact.gguf"},
        {"tokenizer", "ggml-vocab-deepseek-coder.gguf"}, {"models", "tiny-ling.f32.gguf"},
        {"tokenizer", "ggml-vocab-tiny1007-dbrx.gguf"},
    };
    err e = ERR_INIT;
    buf path = BUF_INIT, text = BUF_INIT;
    path_join(&path, data, "gsm8k/test.jsonl");
    if (file_read_all(path.data, &text, &e) < 0) {
        fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
        return 1;
    }
    /* the questions, one prompt each */
    size_t n_prompts = 0, n_bytes = 0;
    char **prompts = NULL;
    line_iter it = line_iter_start(text.data, text.len);
    const char *line;
    size_t ll;
    while (line_iter_next(&it, &line, &ll)) {
        cJSON *obj = NULL;
        if (json_parse(line, ll, "gsm8k", &obj, &e) < 0) continue;
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(obj, "question"));
        if (q) {
            prompts = realloc(prompts, (n_prompts + 1) * sizeof *prompts);
            prompts[n_prompts++] = strdup(q);
            n_bytes += strlen(q);
        }
        cJSON_Delete(obj);
    }
    printf("tokenizer throughput, %zu GSM8K questions (%zu bytes), best of 3 runs:\n", n_prompts,
           n_bytes);
    for (size_t v = 0; v < ARRAY_LEN(vocabs); v++) {
        path_join(&path, fx, vocabs[v].dir);
        buf_printf(&path, "/%s", vocabs[v].file);
        gguf *g = NULL;
        tok *t = NULL;
        double t0 = time_now_ms();
        if (gguf_open(&g, path.data, &e) < 0 || tok_open(&t, g, NULL, &e) < 0) {
            fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
            gguf_close(g);
            continue;
        }
        double open_ms = time_now_ms() - t0;
        double best = 1e30;
        size_t n_tokens = 0;
        for (int rep = 0; rep < 3; rep++) {
            tok_ids ids = TOK_IDS_INIT;
            n_tokens = 0;
            double s = time_now_ms();
            for (size_t i = 0; i < n_prompts; i++) {
                ids.n = 0;
                tok_encode(t, prompts[i], strlen(prompts[i]), TOK_ADD_SPECIAL, &ids, &e);
                n_tokens += ids.n;
            }
            double ms = time_now_ms() - s;
            if (ms < best) best = ms;
            tok_ids_release(&ids);
        }
        printf("  %-32s open %7.1f ms  %8.1f prompts/s  %6.2f MB/s  %9.0f tokens/s  (%zu tokens)\n",
               vocabs[v].file, open_ms, n_prompts / (best / 1000), n_bytes / (best / 1000) / 1e6,
               n_tokens / (best / 1000), n_tokens);
        tok_free(t);
        gguf_close(g);
    }

    /* one word of growing length: time per byte should stay flat */
    path_join(&path, fx, "tokenizer/ggml-vocab-gpt-2.gguf");
    gguf *g = NULL;
    tok *t = NULL;
    if (gguf_open(&g, path.data, &e) == 0 && tok_open(&t, g, NULL, &e) == 0) {
        printf("one long word (\"abcdefgh\" repeated), gpt-2 vocab:\n");
        for (size_t n = 1000; n <= 1000000; n *= 10) {
            char *w = malloc(n);
            for (size_t i = 0; i < n; i++) w[i] = "abcdefgh"[i % 8];
            tok_ids ids = TOK_IDS_INIT;
            double s = time_now_ms();
            tok_encode(t, w, n, 0, &ids, &e);
            double ms = time_now_ms() - s;
            printf("  %8zu bytes: %9.2f ms  %7.1f ns/byte  %zu tokens\n", n, ms, ms * 1e6 / n,
                   ids.n);
            tok_ids_release(&ids);
            free(w);
        }
    }
    tok_free(t);
    gguf_close(g);
    for (size_t i = 0; i < n_prompts; i++) free(prompts[i]);
    free(prompts);
    buf_release(&path);
    buf_release(&text);
    return 0;
}
