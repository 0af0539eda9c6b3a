/* synth.h: benchmark models with random weights (PERF.md "Benchmark models").
 *
 * A preset fixes an architecture and its shapes; the weights are random (speed
 * does not depend on their values), the vocabulary and tokenizer are copied
 * from another GGUF (every tokenizer.* key; PERF.md uses GPT-2's 50,257
 * tokens, the fixture tokenizer/ggml-vocab-gpt-2.gguf), so the file is a
 * complete model that loads, tokenizes and generates. Matrices are written in
 * the requested type (F16, BF16, Q8_0 or Q4_0; with Q4_0 the LM head is Q6_K,
 * as llama-quantize's Q4_0 recipe does); norms, the MoE router and its bias
 * stay F32.
 *
 * Values: matrices uniform with standard deviation gain/sqrt(fan_in), token
 * embeddings with 0.02 (granite; its x12 embedding scale makes them ~0.24),
 * norms 1 + 0.05 noise. Each row has its own RNG stream seeded from the seed,
 * the tensor and the row, so a file is the same whatever the thread count.
 * The file goes through the GGUF writer's streaming callback: one tensor at a
 * time is in memory, rows quantized in parallel.
 *
 *   synth_spec s;
 *   synth_spec_default(&s);
 *   s.preset = "granite-1b"; s.type = QTYPE_Q4_0; s.vocab = vocab_gguf;
 *   if (synth_write(&s, "granite-1b.q4_0.gguf", &e) < 0) ...
 */
#ifndef TALLY_BACKENDS_SYNTH_H
#define TALLY_BACKENDS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "backends/gguf.h"
#include "common/err.h"

typedef struct synth_spec {
    const char *preset; /* a name from synth_preset_names() */
    uint32_t type;      /* QTYPE_F16, QTYPE_BF16, QTYPE_Q8_0 or QTYPE_Q4_0 */
    uint64_t seed;
    const gguf *vocab; /* the tokenizer.* keys come from here (borrowed) */
    int threads;       /* OpenMP threads for the quantization; 0 = every core */
} synth_spec;

void synth_spec_default(synth_spec *s);

/* The preset names, NULL-terminated: "granite-1b", "ling-2b", "granite-small",
 * "demo", "tiny", "tiny-ling". */
const char *const *synth_preset_names(void);

/* Parameters (elements of every tensor) a preset has with a vocabulary of n_vocab tokens;
 * 0 for an unknown preset. */
uint64_t synth_param_count(const char *preset, uint64_t n_vocab);

/* Writes the model to `path` atomically. ERR_INVALID for an unknown preset or type,
 * ERR_FORMAT for a vocabulary GGUF without tokenizer.ggml.tokens. */
int synth_write(const synth_spec *s, const char *path, err *e);

#endif
