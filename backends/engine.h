/* engine.h: the generation loop shared by the native runner and `tally generate`.
 *
 * An engine drives one model and its tokenizer (both borrowed). It takes a list
 * of requests (prompt token ids, a token cap, sampling settings, stop strings)
 * and decodes up to n_seq of them together (the model's sequence count), each
 * step one token for every active sequence in one batched forward pass. A
 * finished sequence is handed to the callback at once and its slot refilled
 * from the queue (continuous batching), so the order of results follows the
 * order in which sequences finish.
 *
 * Per sequence: the prompt goes through the model in chunks of n_batch tokens
 * (after the prefix it shares with another sequence, with the prefix cache on),
 * then every step samples a token with the request's sampler settings and
 * appends it. Generation stops at an end-of-generation token (tok_is_eog: not
 * part of the text), at a stop string (searched in the text decoded so far;
 * the text is cut before it: no part of a stop string is ever returned), at
 * max_tokens or at the end of the context (finish reason "length"). Special
 * tokens other than end-of-generation ones are kept in the text (tool-call
 * markers may be special tokens). Text that is not valid UTF-8 (a character
 * cut by the token cap) has the bad bytes replaced by U+FFFD, and so have NUL
 * bytes (a byte-level vocabulary can produce them; C strings cannot carry them).
 *
 * A request the engine cannot serve (an empty prompt, a prompt longer than the
 * context) is handed back with `error` set, not failed: engine_generate fails
 * only when the model does, when the callback returns < 0 (that code is
 * returned) or when `cancel` becomes nonzero (ERR_INTERRUPTED).
 *
 *   engine *en = NULL;
 *   if (engine_open(&en, m, t, &e) < 0) ...
 *   engine_generate(en, reqs, n, on_done, ctx, NULL, &e);
 *   engine_close(en);
 *
 * The engine allocates its per-slot buffers at open and grows them as needed;
 * results borrow them until the callback returns.
 */
#ifndef TALLY_BACKENDS_ENGINE_H
#define TALLY_BACKENDS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/model.h"
#include "backends/sampler.h"
#include "backends/tokenizer.h"
#include "common/err.h"

typedef struct engine_request {
    const int32_t *prompt; /* token ids, BOS included when wanted (borrowed) */
    size_t n_prompt;
    int max_tokens;          /* tokens to generate at most; <= 0: until the context ends */
    sampler_params sampling; /* seed included */
    const char *const *stop; /* stop strings (borrowed), or NULL */
    size_t n_stop;
    bool ignore_eog; /* go on past end-of-generation tokens (benchmarks) */
} engine_request;

typedef struct engine_result {
    const char *text; /* NUL-terminated, valid UTF-8, cut before any stop string */
    size_t len;
    const int32_t *tokens; /* the generated ids, end-of-generation token included */
    size_t n_tokens;
    size_t n_prompt;
    const char *finish_reason; /* "stop" (EOG token or stop string), "length", "error" */
    const char *error;         /* NULL, or why the request could not be served */
    double latency_ms;         /* from the start of its prefill to its last token */
    double prefill_ms;         /* its prompt's forward passes */
} engine_result;

/* Called once per request as it finishes (index = its position in the list). A
 * return value < 0 stops the engine, which returns it. */
typedef int (*engine_on_done)(void *ctx, size_t index, const engine_result *r);

/* What the engine did since open (for the generation summary and tally generate). */
typedef struct engine_stats {
    uint64_t prompt_tokens; /* prompt tokens run through the model */
    uint64_t cached_tokens; /* prompt tokens taken from another sequence's cache instead */
    uint64_t generated_tokens;
    uint64_t steps; /* batched decode forward passes */
    double prefill_s, decode_s;
} engine_stats;

typedef struct engine engine;

/* `m` and `t` are borrowed and must outlive the engine; t's vocabulary must fit the
 * model's (ERR_FORMAT otherwise). */
int engine_open(engine **out, model *m, const tok *t, err *e);
void engine_close(engine *en);

int engine_generate(engine *en, const engine_request *reqs, size_t n, engine_on_done on_done,
                    void *ctx, const volatile int *cancel, err *e);

const engine_stats *engine_get_stats(const engine *en);

/* With `on`, the model's last sequence keeps the prompt of the last finished request
 * (and stops being a decoding slot): a new prompt that starts with the same tokens as
 * it, or as a running sequence, reuses their cache instead of computing them again
 * (few-shot prompts share hundreds of tokens). The results are the same bit for bit.
 * ERR_INVALID for a model of one sequence. Off by default. */
int engine_set_prefix_cache(engine *en, bool on, err *e);

/* Appends s[0..len) to `out` with every byte that does not start a valid UTF-8
 * sequence, and every NUL, replaced by U+FFFD. */
int engine_utf8_sanitize(const char *s, size_t len, buf *out);

#endif
