/* tokenizer.h: byte-level BPE tokenization (GGUF tokenizer.ggml.model = "gpt2")
 * the way llama.cpp does it, built from a model's GGUF metadata.
 *
 * Encoding a text (GGUF_ARCHS.md 4, MODELS.md 3):
 *   1. cut out special tokens: user-defined tokens (token_type 4) always,
 *      control and unknown tokens (3, 2) only with TOK_PARSE_SPECIAL; longer
 *      token texts first;
 *   2. split each remaining piece with the pre-tokenizer regexes chosen by
 *      tokenizer.ggml.pre (PCRE2, UTF + UCP); with several regexes each one
 *      splits the pieces of the previous one, and text between matches stays
 *      a piece of its own;
 *   3. map each piece's bytes through the GPT-2 byte-to-unicode table and
 *      merge adjacent symbols by rank (index in tokenizer.ggml.merges; lowest
 *      rank first, leftmost on ties) with a priority queue;
 *   4. look each symbol up in tokenizer.ggml.tokens.
 * With TOK_ADD_SPECIAL, BOS goes first when tokenizer.ggml.add_bos_token is
 * true, EOS last when add_eos_token is. Input that is not valid UTF-8 is
 * tokenized as llama.cpp does: each undecodable byte becomes U+FFFD.
 *
 * Decoding: tok_piece gives a token's bytes (NORMAL tokens through the
 * inverse byte table, user-defined tokens as their text, control tokens
 * only with TOK_DECODE_SPECIAL); tok_decode concatenates pieces, exact bytes
 * by default. TOK_DECODE_CLEAN_SPACES reproduces llama_detokenize's
 * clean-up (" ." -> ".", " 's" -> "'s", ...), which llama.cpp applies for the
 * gpt-2, refact and dbrx pre-tokenizers; it changes text (`x != y` becomes
 * `x!= y`), so generation must not use it.
 *
 * Supported tokenizer.ggml.pre values: gpt-2, refact (= starcoder), dbrx,
 * deepseek-coder, bailingmoe2 (= bailingmoe, llada-moe). Any other value
 * (or none) is ERR_UNSUPPORTED unless tok_settings.pre names one of these.
 * SentencePiece vocabularies ("llama") are not supported.
 *
 * A tok copies everything it needs from the gguf (which may be closed
 * afterwards) and is read-only once open: tok_encode and the decoders may
 * run on several threads at once.
 *
 *   tok *t = NULL;
 *   if (tok_open(&t, g, NULL, &e) < 0) ...
 *   tok_ids ids = TOK_IDS_INIT;
 *   if (tok_encode(t, text, strlen(text), TOK_ADD_SPECIAL, &ids, &e) < 0) ...
 *   tok_ids_release(&ids);
 *   tok_free(t);
 */
#ifndef TALLY_BACKENDS_TOKENIZER_H
#define TALLY_BACKENDS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/gguf.h"
#include "common/buf.h"
#include "common/err.h"

/* tokenizer.ggml.token_type values. */
enum tok_attr {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_NORMAL = 1,
    TOK_ATTR_UNKNOWN = 2,
    TOK_ATTR_CONTROL = 3,
    TOK_ATTR_USER_DEFINED = 4,
    TOK_ATTR_UNUSED = 5,
    TOK_ATTR_BYTE = 6,
};

enum tok_encode_flags {
    /* Add BOS / EOS as the vocabulary's add_bos_token / add_eos_token say
     * (llama.cpp's add_special). */
    TOK_ADD_SPECIAL = 1 << 0,
    /* Recognise control tokens' text ("<|end_of_text|>") in the input; without
     * it such text is tokenized as plain text (llama.cpp's parse_special).
     * Rendered chat prompts need it. */
    TOK_PARSE_SPECIAL = 1 << 1,
};

enum tok_decode_flags {
    /* Render control/unknown tokens as their text (else they give no bytes). */
    TOK_DECODE_SPECIAL = 1 << 0,
    /* llama_detokenize's space clean-up, for vocabularies that enable it. */
    TOK_DECODE_CLEAN_SPACES = 1 << 1,
};

/* A growable array of token ids, owned by whoever holds it. */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;

#define TOK_IDS_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

int tok_ids_push(tok_ids *ids, int32_t id);
void tok_ids_release(tok_ids *ids);

typedef struct tok_settings {
    /* A pre-tokenizer name to use instead of tokenizer.ggml.pre (for files
     * that lack it or carry one we do not know), or NULL. */
    const char *pre;
} tok_settings;

void tok_settings_default(tok_settings *s);

typedef struct tok tok;

/* Builds the tokenizer from `g`'s tokenizer.ggml.* keys; `s` may be NULL.
 * Missing or malformed keys are ERR_FORMAT, an unknown model or
 * pre-tokenizer ERR_UNSUPPORTED, each naming the file and key. */
int tok_open(tok **out, const gguf *g, const tok_settings *s, err *e);
void tok_free(tok *t);

/* Appends the ids of text[0..len) to `ids`. Fails only on allocation. */
int tok_encode(const tok *t, const char *text, size_t len, unsigned flags, tok_ids *ids, err *e);

/* Appends token `id`'s bytes to `out`; ERR_INVALID for an id out of range. */
int tok_piece(const tok *t, int32_t id, unsigned flags, buf *out, err *e);
/* Appends the bytes of n tokens. */
int tok_decode(const tok *t, const int32_t *ids, size_t n, unsigned flags, buf *out, err *e);

size_t tok_n_vocab(const tok *t);
/* The vocabulary text of `id` (byte-mapped for NORMAL tokens), NULL out of range. */
const char *tok_text(const tok *t, int32_t id, size_t *len_out);
/* enum tok_attr of `id` (TOK_ATTR_UNDEFINED out of range). */
int tok_attr(const tok *t, int32_t id);
/* The id whose vocabulary text is exactly text[0..len), or -1. */
int32_t tok_find(const tok *t, const char *text, size_t len);

/* Special ids, -1 when the vocabulary has none. */
int32_t tok_bos(const tok *t);
int32_t tok_eos(const tok *t);
int32_t tok_eot(const tok *t);
bool tok_add_bos(const tok *t);
bool tok_add_eos(const tok *t);
/* End of generation: EOS, EOT, EOM, and control tokens named <|endoftext|>,
 * <|end_of_text|>, <|role_end|>, <|im_end|> or <|eot_id|>. */
bool tok_is_eog(const tok *t, int32_t id);
/* The pre-tokenizer in use ("refact"...). */
const char *tok_pre(const tok *t);

#endif
