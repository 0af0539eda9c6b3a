/* model.h: a dense decoder-only language model from a GGUF file (architectures
 * `granite` and `llama`, GGUF_ARCHS.md section 1) and its forward pass on the CPU.
 *
 * model_open maps the file, reads and checks the hyperparameters, binds every
 * tensor by name with its shape and type checked, and allocates everything a
 * forward pass needs, once: activations for `n_batch` tokens, logits for
 * `n_outputs` rows, matmul scratch, and an F32 KV cache of `kv_tokens` token
 * slots shared by up to `n_seq` sequences in pages of MODEL_KV_PAGE tokens. A
 * forward pass allocates nothing.
 *
 * The math (per token, GGUF_ARCHS.md 1): x = embd[t] * embedding_scale; per
 * layer RMSNorm, Q/K/V projections, RoPE (adjacent pairs), causal grouped-query
 * softmax attention over the sequence's cache, output projection scaled by
 * residual_scale into the residual, RMSNorm, SwiGLU FFN scaled the same way;
 * logits = W_out RMSNorm(x) / logit_scale. `llama` is granite with every
 * multiplier 1 and the attention scale 1/sqrt(head_dim).
 *
 * Numerics follow llama.cpp's CPU backend (GGUF_ARCHS.md 5): every matrix
 * product first rounds its input to the weight type's activation format
 * (F16, BF16, Q8_0 or Q8_K blocks; matmul.h), attention and the KV cache are
 * F32. With `f32_weights` every matrix is dequantized to F32 at open instead,
 * so activations stay F32: the "exact-math" reference of the fixtures. The
 * matrices the kernels have a packed layout for (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K)
 * are repacked at open into memory of their own (matmul_pack; `file_layout`
 * keeps the mapped file's layout instead) and the file's pages of those are
 * released.
 *
 * Threads: one OpenMP parallel region per forward pass; matrix rows, tokens
 * and (token, head) pairs are split across its threads. Results do not depend
 * on the thread count nor on how tokens are grouped into batches: a token's
 * logits are the same bit for bit whether its sequence was decoded alone or
 * next to others, and whether its prompt went through in one batch or token by
 * token.
 *
 * Sequences: tokens are appended to a sequence (0 <= seq < n_seq); a token's
 * position is the sequence's length when it arrives. model_seq_clear forgets a
 * sequence and returns its cache pages to the pool; model_seq_share starts a
 * sequence with another's prefix without computing it again (pages are shared,
 * counted by reference).
 *
 *   model_settings s;
 *   model_settings_default(&s);
 *   s.threads = 2;
 *   model *m = NULL;
 *   if (model_open(&m, "granite.gguf", &s, &e) < 0) ...
 *   model_batch b = {.n = n, .tokens = ids};          // one sequence, logits of the last token
 *   const float *logits; size_t n_out;
 *   if (model_forward(m, &b, &logits, &n_out, &e) < 0) ...
 *   model_close(m);
 *
 * The model owns the mapping and every buffer; pointers it hands out live
 * until model_close (logits until the next forward). One model serves one
 * caller at a time.
 */
#ifndef TALLY_BACKENDS_MODEL_H
#define TALLY_BACKENDS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/gguf.h"
#include "common/err.h"

#define MODEL_KV_PAGE 32 /* tokens per KV cache page */

enum model_arch {
    MODEL_ARCH_LLAMA = 0,
    MODEL_ARCH_GRANITE = 1,
};

/* What the file says, after defaults. */
typedef struct model_hparams {
    int arch; /* enum model_arch */
    const char *arch_name;
    uint32_t n_vocab; /* rows of token_embd */
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head, n_head_kv, head_dim;
    uint32_t n_ff_max; /* largest feed_forward_length over the layers */
    uint32_t n_ctx_train;
    uint32_t n_rot;   /* rotary dims per head (even, <= head_dim) */
    bool rope;        /* false: no positional encoding (rope.scaling.finetuned = false) */
    float rope_base;  /* rope.freq_base */
    float rope_scale; /* positions are multiplied by this (linear scaling); 1 = none */
    float rms_eps;
    float attn_scale;        /* softmax scale of q.k */
    float embd_scale;        /* token embeddings are multiplied by it */
    float resid_scale;       /* every sub-layer output is multiplied by it */
    float logit_scale;       /* logits are divided by it */
    bool tied_output;        /* the LM head is token_embd */
    bool fused_qkv;          /* blk.L.attn_qkv instead of attn_q/k/v */
    uint64_t n_params;       /* elements of every tensor in the file */
    uint64_t type_count[32]; /* tensors per ggml type id (index < 32) */
} model_hparams;

typedef struct model_settings {
    int threads;      /* OpenMP threads; 0 = every core */
    int n_seq;        /* sequences held at once; default 1 */
    int ctx_size;     /* longest sequence in tokens; 0 = 4096 (llama.cpp's default, whatever
                       * the training context) */
    int kv_tokens;    /* token slots of KV cache shared by all sequences; 0 = n_seq * ctx_size
                       * (in whole pages) but at most 4 GiB of cache (and at least one
                       * sequence) */
    int n_batch;      /* most tokens one forward takes; default 512 */
    int n_outputs;    /* most logit rows one forward returns; 0 = n_seq (at least 1) */
    int isa;          /* matmul kernels (enum matmul_isa); default MATMUL_ISA_AUTO */
    bool f32_weights; /* dequantize every matrix to F32 at open (F32 activations) */
    bool file_layout; /* keep the weights in the file's layout (no repacking at open) */
} model_settings;

void model_settings_default(model_settings *s);

typedef struct model model;

/* Opens a model. An architecture other than granite/llama is ERR_UNSUPPORTED
 * ("<path>: architecture X is not supported by the native engine yet"); a
 * missing key or a tensor of the wrong shape or type is ERR_FORMAT naming it;
 * settings that make no sense are ERR_INVALID; buffers that cannot be
 * allocated ERR_NOMEM. On failure *out is NULL. */
int model_open(model **out, const char *path, const model_settings *s, err *e);
/* Frees everything; NULL is allowed. */
void model_close(model *m);

const model_hparams *model_get_hparams(const model *m);
/* The open file (for the tokenizer and the chat template); lives until model_close. */
const gguf *model_get_gguf(const model *m);
/* The settings in effect (defaults resolved: threads, ctx_size, ...). */
const model_settings *model_get_settings(const model *m);
/* Bytes of weights one decoded token reads (every matrix once, the embedding row aside). */
uint64_t model_weight_bytes(const model *m);
/* Bytes the model allocated at open (KV cache, activations, F32 weight copies). */
uint64_t model_alloc_bytes(const model *m);

/* Tokens held by a sequence (its next position). */
size_t model_seq_len(const model *m, int seq);
/* Forgets a sequence's tokens and frees its cache pages. */
void model_seq_clear(model *m, int seq);
/* Makes sure `seq` can grow to n_tokens without running out of cache:
 * ERR_LIMIT when n_tokens > ctx_size or the pool has too few free pages. */
int model_seq_reserve(model *m, int seq, size_t n_tokens, err *e);
/* Tokens the pool can still hold (free pages * MODEL_KV_PAGE). */
size_t model_kv_free_tokens(const model *m);
/* Makes the empty sequence `dst` start with the first n tokens of `src` (a shared prompt
 * prefix, computed once): their whole cache pages are shared (no sequence writes below
 * its length again; a page is freed with its last holder), the last partial page is
 * copied. The logits that follow are the same as if dst had run those tokens itself.
 * ERR_INVALID for a dst that is not empty or n outside 1..len(src), ERR_LIMIT when no
 * page is free for the copy. */
int model_seq_share(model *m, int dst, int src, size_t n, err *e);

typedef struct model_batch {
    size_t n;              /* tokens, 1..n_batch */
    const int32_t *tokens; /* (n) token ids */
    const int32_t *seq;    /* (n) sequence of each token; NULL = all sequence 0 */
    const uint8_t *logits; /* (n) nonzero: return this token's logits; NULL = the last token only */
} model_batch;

/* Appends the batch's tokens to their sequences and runs them through the
 * model. *logits_out gets one row of n_vocab floats per token that asked for
 * logits, in batch order (*n_out rows); they live until the next forward.
 * ERR_INVALID for a token id or sequence out of range, more tokens than
 * n_batch or outputs than n_outputs; ERR_LIMIT when a sequence would pass
 * ctx_size or the cache is full (nothing is appended then). */
int model_forward(model *m, const model_batch *b, const float **logits_out, size_t *n_out, err *e);

#endif
