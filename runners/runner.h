/* runner.h: the one interface every runner implements.
 *
 * A runner turns prompts into completions: `replay` serves completions that
 * already exist (the oracle, a JSONL file, another run), `openai` asks an
 * OpenAI-compatible server, `native` runs a GGUF model in-process. It does
 * not know which task asked.
 *
 *   runner_settings s;
 *   runner_settings_default(&s);
 *   s.model = "oracle";
 *   runner *r = NULL;
 *   if (runner_open(&r, "replay", &s, &e) < 0) ...
 *   runner_generate(r, reqs, n, on_done, ctx, &e);   // on_done once per request
 *   runner_close(r);
 *
 * Completions are handed back one at a time through `on_done` as they finish
 * (in any order), so the caller can append each to samples.jsonl at once. The
 * callback borrows the response; gen_response's strings are freed by the
 * runner after the callback returns. A callback that returns < 0 stops the
 * batch: requests not yet handed back are abandoned and generate returns that
 * code. A request that fails (server error, retries exhausted) is still
 * handed back, with `error` set: generate itself fails only when the runner
 * cannot go on at all.
 */
#ifndef TALLY_RUNNERS_RUNNER_H
#define TALLY_RUNNERS_RUNNER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "datasets/dataset.h"

typedef struct sampling {
    double temperature;        /* 0 = greedy */
    double top_p;              /* 1 = off */
    int top_k;                 /* 0 = off */
    double min_p;              /* 0 = off */
    double repetition_penalty; /* 1 = off */
    uint64_t seed;
} sampling;

typedef struct gen_request {
    const char *item_id;
    int sample;        /* sample index, 0..samples-1 */
    const prompt *p;   /* what to ask (borrowed) */
    int max_tokens;    /* effective cap (task default or --max-tokens) */
    sampling sampling; /* seed already mixed with the sample index by the caller */
} gen_request;

typedef struct gen_tool_call {
    char *id;        /* may be NULL */
    char *name;
    char *arguments; /* the JSON text as the model produced it (may be invalid JSON) */
} gen_tool_call;

enum gen_error_kind {
    GEN_OK = 0,
    GEN_ERR_API = 1,     /* the server or engine answered with an error */
    GEN_ERR_TIMEOUT = 2, /* no answer before the deadline, retries exhausted */
    GEN_ERR_PARSE = 3,   /* an answer that could not be read (malformed JSON) */
    GEN_ERR_MISSING = 4, /* replay: no completion for this item */
};

typedef struct gen_response {
    char *text;          /* the completion, cut at the first stop string; "" when none */
    char *reasoning;     /* separate reasoning/thinking text, or NULL */
    gen_tool_call *tool_calls;
    size_t n_tool_calls;
    const char *finish_reason; /* "stop", "length", "tool_calls", "error" or the server's own */
    int prompt_tokens;         /* -1 when unknown */
    int completion_tokens;     /* -1 when unknown */
    double latency_ms;
    int attempts;              /* requests sent, retries included */
    int error_kind;            /* enum gen_error_kind */
    char *error;               /* NULL on success, else a one-line message */
    char *rendered_prompt;     /* the exact prompt text when the runner rendered it, or NULL */
    char *prompt_tokens_ids;   /* JSON array of prompt token ids when known, or NULL */
} gen_response;

/* Frees the strings of a response (for runner implementations). */
void gen_response_release(gen_response *r);

typedef struct runner_settings {
    const char *model;          /* replay: "oracle", FILE.jsonl or RUN_DIR; openai: served name; native: GGUF path */
    const char *base_url;       /* openai */
    const char *api_key;        /* openai; never written anywhere */
    const char *const *headers; /* openai: extra "K: V" headers */
    size_t n_headers;
    int concurrency;            /* requests in flight (openai) */
    int max_retries;
    double timeout_s;           /* per request */
    double rps;                 /* 0 = unlimited */
    int threads;                /* native: 0 = all cores */
    int batch;                  /* native: sequences decoded together */
    int ctx_size;               /* native: 0 = model's */
    const char *chat_template;  /* native: template name, NULL = from the GGUF */
    bool chat;                  /* prompts are chat style (openai: /v1/chat/completions) */
    const char *task;           /* the task name (replay from a run dir picks that task) */
    double replay_delay_ms;     /* replay: wait this long before each answer (tests, demos) */
    /* appended for the openai runner */
    int n_per_request;          /* openai: samples of one prompt asked together with "n" (1 = off) */
    bool stream;                /* openai: ask for server-sent events */
    const char *extra_body;     /* openai: JSON object merged into every request body, or NULL */
    double retry_base_s;        /* openai: first retry wait (doubling), unless the server says */
    double retry_max_s;         /* openai: longest retry wait from backoff */
    /* When set, generate polls it (at least every 100 ms) and stops with
     * ERR_INTERRUPTED once it is nonzero: the harness's SIGINT flag. */
    const volatile int *cancel;
    /* appended for the native runner */
    const char *cache_dir;      /* where a runner may cache derived data (a model's sha256), or NULL */
} runner_settings;

void runner_settings_default(runner_settings *s);

/* Called once per request as it finishes; `index` is its position in the batch. */
typedef int (*runner_on_done)(void *ctx, size_t index, const gen_request *req,
                              const gen_response *resp);

typedef struct runner_ops {
    const char *name; /* "replay", "openai", "native" */
    /* Opens the runner; *state is the implementation's. Must not be NULL. */
    int (*open)(void **state, const runner_settings *s, err *e);
    /* Adds what the manifest should record about the model (path, sha256,
     * served id, server kind...) to `obj`. NULL allowed. */
    int (*describe)(void *state, cJSON *obj, err *e);
    /* Answers n requests, calling on_done once for each. Must not be NULL. */
    int (*generate)(void *state, const gen_request *reqs, size_t n, runner_on_done on_done,
                    void *ctx, err *e);
    /* Appends warnings for the user (one per line), e.g. replay lines that
     * matched no item. Called after the last generate. NULL allowed. */
    int (*notes)(void *state, buf *out);
    /* Frees everything. Must not be NULL; safe on a state whose open failed half-way. */
    void (*close)(void *state);
    /* Whether prompts should be chat style when the user did not choose
     * (--prompt-style): native says yes when the GGUF carries a chat template it
     * knows. Called before open, with the same settings. NULL allowed: no opinion. */
    int (*default_chat)(const runner_settings *s, bool *chat_out, err *e);
} runner_ops;

typedef struct runner {
    const runner_ops *ops;
    void *state;
} runner;

/* The registry of runners (runners/runner.c). */
const runner_ops *runner_find(const char *name);
int runner_open(runner **out, const char *backend, const runner_settings *s, err *e);
int runner_describe(runner *r, cJSON *obj, err *e);
int runner_generate(runner *r, const gen_request *reqs, size_t n, runner_on_done on_done,
                    void *ctx, err *e);
int runner_notes(runner *r, buf *out);
/* The backend's default prompt style for these settings: 1 with *chat_out set when it
 * has an opinion, 0 when it has none, < 0 on failure (a model that cannot be read). */
int runner_default_chat(const char *backend, const runner_settings *s, bool *chat_out, err *e);
void runner_close(runner *r);

/* The sha256 of a model file as 64 hex digits, cached in cache_dir/model-sha256.tsv
 * by (size, mtime, absolute path) so that a multi-gigabyte GGUF is read once
 * (cache_dir NULL: no cache). The native runner's manifest uses it; so does
 * `tally quantdiff`. */
int runner_file_sha256(const char *path, const char *cache_dir, char hex[65], err *e);

#endif
