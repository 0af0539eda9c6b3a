/* ifeval.h: the IFEval dataset (google-research `input_data.jsonl`) and its prompts.
 *
 * One JSON object a line: `key` (int), `prompt` (the text sent verbatim),
 * `instruction_id_list` and the parallel `kwargs` list (SCORING.md 3.1).
 * The google-research file gives each kwargs object only the keys its
 * instruction uses; the Hugging Face copy pads every object with all keys
 * set to null, which is read the same way (null = absent). Key names are
 * upstream's, misspelling included (`section_spliter`).
 *
 * ifeval_load reads DATA_DIR/ifeval/input_data.jsonl into an item_set whose
 * items carry an ifeval_record; everything lives in the caller's arena.
 * Which instruction ids exist and which kwargs each needs is the scorer's
 * business (scorers/ifeval/checkers.h): the loader checks only the shape.
 *
 * Prompts: the prompt text verbatim (chat style: one user message), no stop
 * strings, max_tokens 1280 (lm-eval's max_gen_toks), `alt_key` = the prompt
 * text so replay files may name items by prompt, and no reference answer:
 * IFEval has none, so the replay oracle cannot serve it.
 */
#ifndef TALLY_DATASETS_IFEVAL_H
#define TALLY_DATASETS_IFEVAL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

#define IFEVAL_FILE       "ifeval/input_data.jsonl"
#define IFEVAL_MAX_TOKENS 1280

enum ifeval_relation {
    IFEVAL_REL_NONE = 0,
    IFEVAL_REL_LESS_THAN = 1, /* "less than": actual < N */
    IFEVAL_REL_AT_LEAST = 2,  /* "at least": actual >= N */
};

/* The kwargs keys, as bits of ifeval_kwargs.present. */
enum ifeval_kwarg {
    IFEVAL_KW_NUM_WORDS,
    IFEVAL_KW_NUM_SENTENCES,
    IFEVAL_KW_NUM_PARAGRAPHS,
    IFEVAL_KW_NUM_HIGHLIGHTS,
    IFEVAL_KW_NUM_BULLETS,
    IFEVAL_KW_NUM_PLACEHOLDERS,
    IFEVAL_KW_NUM_SECTIONS,
    IFEVAL_KW_NTH_PARAGRAPH,
    IFEVAL_KW_FREQUENCY,
    IFEVAL_KW_LET_FREQUENCY,
    IFEVAL_KW_CAPITAL_FREQUENCY,
    IFEVAL_KW_RELATION,
    IFEVAL_KW_LET_RELATION,
    IFEVAL_KW_CAPITAL_RELATION,
    IFEVAL_KW_KEYWORD,
    IFEVAL_KW_LETTER,
    IFEVAL_KW_LANGUAGE,
    IFEVAL_KW_END_PHRASE,
    IFEVAL_KW_POSTSCRIPT_MARKER,
    IFEVAL_KW_PROMPT_TO_REPEAT,
    IFEVAL_KW_FIRST_WORD,
    IFEVAL_KW_SECTION_SPLITER,
    IFEVAL_KW_KEYWORDS,
    IFEVAL_KW_FORBIDDEN_WORDS,
    IFEVAL_KW_COUNT
};

typedef struct ifeval_kwargs {
    uint32_t present; /* 1u << enum ifeval_kwarg for every key given (not null) */
    long num_words, num_sentences, num_paragraphs, num_highlights, num_bullets, num_placeholders,
        num_sections, nth_paragraph, frequency, let_frequency, capital_frequency;
    int relation, let_relation, capital_relation; /* enum ifeval_relation */
    const char *keyword, *letter, *language, *end_phrase, *postscript_marker, *prompt_to_repeat,
        *first_word, *section_spliter;
    const char *const *keywords;
    size_t n_keywords;
    const char *const *forbidden_words;
    size_t n_forbidden_words;
} ifeval_kwargs;

typedef struct ifeval_record {
    long key;
    const char *prompt;
    size_t n;                    /* instructions */
    const char *const *ids;      /* "punctuation:no_comma", ... */
    const ifeval_kwargs *kwargs; /* parallel to ids */
} ifeval_record;

/* Name of kwarg k ("section_spliter"), or NULL. */
const char *ifeval_kwarg_name(int k);

/* Reads one kwargs object (null members are absent; unknown keys, wrong
 * types, non-integral counts and unknown relations are ERR_PARSE naming
 * `where` and the key). Strings are copied into `a`. */
int ifeval_parse_kwargs(const cJSON *obj, const char *where, arena *a, ifeval_kwargs *out, err *e);

/* Reads one line of input_data.jsonl. */
int ifeval_parse_line(const char *line, size_t n, const char *where, arena *a, ifeval_record *out,
                      err *e);

/* task_load_fn: DATA_DIR/ifeval/input_data.jsonl; `arg` is unused. Duplicate keys are an error. */
int ifeval_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e);

/* task_build_fn */
int ifeval_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
                 err *e);

#endif
