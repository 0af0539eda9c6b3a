/* openai_wire.h: the OpenAI-compatible wire format, without the transport.
 *
 * Pure functions on memory (MODELS.md §4): request bodies for
 * /v1/chat/completions and /v1/completions built from a gen_request, the
 * answers read back (a JSON body, or a server-sent-event stream), the two
 * shapes of error bodies, Retry-After headers, and which HTTP statuses are
 * worth another try. runners/openai.c drives them over libcurl; the
 * wire-format tests (tests/test_openai_wire.c with the case files in
 * tests/cases/openai/) drive them directly.
 *
 * What is sent:
 *   chat style (prompt.messages set) -> POST {base}/chat/completions with
 *     model, messages, max_tokens, temperature, top_p, seed, and when set
 *     stop, n (> 1), tools, tool_choice, top_k (> 0), min_p (> 0),
 *     repetition_penalty (!= 1). A prompt.assistant_prefix becomes a final
 *     {"role": "assistant", "content": PREFIX} message plus the vLLM/SGLang
 *     extensions "continue_final_message": true, "add_generation_prompt":
 *     false (llama.cpp continues a final assistant message on its own and
 *     ignores the two fields); the completion is the continuation only.
 *   raw style (prompt.text set) -> POST {base}/completions with model,
 *     prompt and the same sampling fields (no tools).
 *   stream -> "stream": true, "stream_options": {"include_usage": true}.
 *   --extra-body -> its fields are merged last (they replace ours).
 * The seed is written as an exact integer (never through a double).
 *
 * Memory: wire_reply owns its strings (wire_reply_release frees them); a
 * built body is appended to the caller's buf.
 */
#ifndef TALLY_RUNNERS_OPENAI_WIRE_H
#define TALLY_RUNNERS_OPENAI_WIRE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "runner.h"

enum wire_style {
    WIRE_CHAT = 0,        /* /chat/completions: the server applies the chat template */
    WIRE_COMPLETIONS = 1, /* /completions: the prompt is sent as rendered by the task */
};

typedef struct wire_options {
    const char *model;  /* the served model name (required) */
    bool stream;        /* ask for server-sent events */
    const cJSON *extra; /* object whose fields are merged into every body, or NULL */
} wire_options;

/* WIRE_CHAT when the prompt has messages, WIRE_COMPLETIONS when it has text,
 * or ERR_INVALID when it has neither (or both). */
int wire_style_of(const prompt *p, int *style_out, err *e);
/* The path below the base URL: "/chat/completions" or "/completions". */
const char *wire_path(int style);

/* Appends the JSON body asking `n` choices (1 = the field is left out) for
 * request `q` to `out`. Fails on a prompt whose tools or tool_calls are not
 * JSON, naming the item. */
int wire_build_body(const wire_options *o, const gen_request *q, int n, buf *out, err *e);

typedef struct wire_choice {
    int index;                 /* the choice's "index" (its position when absent) */
    char *text;                /* content or text; "" when null */
    char *reasoning;           /* "reasoning" or "reasoning_content", or NULL */
    gen_tool_call *tool_calls; /* decoded message.tool_calls */
    size_t n_tool_calls;
    char *finish_reason; /* as the server wrote it, or NULL when absent or null */
} wire_choice;

typedef struct wire_reply {
    wire_choice *choices; /* in the order received; may be empty */
    size_t n_choices;
    int prompt_tokens;     /* from "usage"; -1 when absent */
    int completion_tokens; /* summed over choices by the server; -1 when absent */
} wire_reply;

/* Reads a successful (2xx) answer: a JSON body, or an SSE stream when `sse`.
 * ERR_PARSE: not the JSON or the event stream of an answer (the message says
 * where); ERR_HTTP: the body (or an event of the stream) is an error object.
 * An empty "choices" array is not an error here: n_choices is 0. On failure
 * *out holds nothing to free. */
int wire_parse_reply(const char *body, size_t len, int style, bool sse, wire_reply *out, err *e);
void wire_reply_release(wire_reply *r);

/* Appends the server's message from an error body to `out` as one line of at
 * most `max` bytes: the nested {"error": {"message"}} shape, the flat
 * {"object": "error", "message"} shape, {"detail": ...}, or else the raw
 * text. Type and code are added when present: "Loading model (unavailable_error)". */
int wire_error_message(const char *body, size_t len, size_t max, buf *out);

/* Seconds the server asked us to wait: `retry_after_ms` (milliseconds) when
 * set and valid, else `retry_after` (delta seconds or an HTTP date, relative
 * to `now`); -1 when neither says anything usable. Either may be NULL. */
double wire_retry_after(const char *retry_after_ms, const char *retry_after, time_t now);

/* HTTP statuses retried: 408, 429, 500, 502, 503, 504. Other 4xx and 5xx
 * are the sample's error. */
bool wire_status_retryable(long status);

/* Cuts `text` in place before the earliest occurrence of any stop string
 * (some servers leave it in); returns true when it cut. */
bool wire_cut_stop(char *text, const char *const *stop, size_t n_stop);

#endif
