/* sampler.h: choosing the next token from a logits vector.
 *
 * Greedy (temperature <= 0) takes the largest logit, the lowest id on ties (as
 * the fixtures' goldens). Otherwise, in this order (the order of Hugging Face
 * and vLLM, so top-p and min-p see the temperature-scaled distribution):
 *
 *   1. repetition penalty, llama.cpp style: every distinct token among the last
 *      `repeat_last_n` of the history has its logit divided by the penalty when
 *      positive, multiplied by it when negative (also before greedy);
 *   2. temperature: logits / T;
 *   3. top-k: the k largest logits (ties: lower id first);
 *   4. softmax;
 *   5. top-p: the smallest set of most probable tokens whose probabilities sum
 *      to at least p;
 *   6. min-p: tokens with probability at least min_p times the largest;
 *   7. a draw from what is left, renormalised, with the sampler's own RNG.
 *
 * A sampler holds its settings, a seeded RNG (common/util.h rng; the same
 * seed gives the same tokens) and scratch for one vocabulary, allocated once
 * by sampler_init: sampling allocates nothing. One sampler per sequence.
 *
 *   sampler s = SAMPLER_INIT;
 *   if (sampler_init(&s, n_vocab, &e) < 0) ...
 *   sampler_params p; sampler_params_default(&p); p.temperature = 0.7; p.seed = 42;
 *   sampler_reset(&s, &p);
 *   int32_t tok = sampler_sample(&s, logits, history, n_history);   // modifies logits
 *   sampler_release(&s);
 */
#ifndef TALLY_BACKENDS_SAMPLER_H
#define TALLY_BACKENDS_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"

typedef struct sampler_params {
    float temperature;    /* <= 0: greedy */
    int top_k;            /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int repeat_last_n;    /* history tokens the penalty looks at; < 0: all (default 64) */
    uint64_t seed;
} sampler_params;

void sampler_params_default(sampler_params *p);

typedef struct sampler {
    sampler_params p;
    rng r;
    size_t n_vocab;
    float *val;    /* (n_vocab) scratch: candidate values */
    int32_t *id;   /* (n_vocab) scratch: candidate ids */
    uint8_t *seen; /* (n_vocab) scratch for the penalty, all zero between calls */
} sampler;

#define SAMPLER_INIT                                                                               \
    {                                                                                              \
        {0}, {{0}}, 0, NULL, NULL, NULL                                                            \
    }

/* Allocates the scratch for a vocabulary of n_vocab tokens; default settings, seed 0. */
int sampler_init(sampler *s, size_t n_vocab, err *e);
/* Frees the scratch; safe on SAMPLER_INIT and twice. */
void sampler_release(sampler *s);
/* New settings, and the RNG seeded again from p->seed. */
void sampler_reset(sampler *s, const sampler_params *p);

/* The next token from logits[0..n_vocab) (modified: penalty, temperature) given the
 * tokens so far (prompt and generated; may be NULL with n_history 0). */
int32_t sampler_sample(sampler *s, float *logits, const int32_t *history, size_t n_history);

/* The filters on their own. */

/* The largest value, the lowest index on ties; NaNs never win (0 when all are NaN). */
int32_t sampler_argmax(const float *logits, size_t n);
/* Step 1 over the last `last_n` (< 0: all) tokens of hist; `seen` is n zeroed bytes,
 * left zeroed. Ids outside [0, n) are ignored. */
void sampler_penalize(float *logits, size_t n, const int32_t *hist, size_t n_hist, int last_n,
                      float penalty, uint8_t *seen);
/* Keeps the k candidates with the largest values (ties: lower id) in the first k slots
 * (in no particular order); returns the count kept (min(k, n)). */
size_t sampler_top_k(float *val, int32_t *id, size_t n, size_t k);
/* val holds probabilities: keeps the smallest set of the most probable candidates whose
 * sum reaches p (ties: lower id first) in the first slots; returns the count kept (>= 1). */
size_t sampler_top_p(float *val, int32_t *id, size_t n, float p);

#endif
