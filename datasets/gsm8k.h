/* gsm8k.h: the GSM8K loader and the prompts of lm-evaluation-harness's variants.
 *
 * Task rows pass the variant as `arg`: "gsm8k" (5 exemplars per item drawn
 * from train, by the precomputed indices of lm-eval's seed 1234), "gsm8k_cot"
 * (the 8 fixed chain-of-thought exemplars), "gsm8k_cot_zeroshot", and
 * "gsm8k_cot_llama" (8 fixed exemplars, Llama-3's instruction layout).
 * SCORING.md section 2 has the layouts; the raw style joins exemplars as
 * doc_to_text + delimiter + target + "\n\n", the chat style makes them
 * alternating user/assistant turns (lm-eval's fewshot_as_multiturn).
 */
#ifndef TALLY_DATASETS_GSM8K_H
#define TALLY_DATASETS_GSM8K_H

#include "dataset.h"

typedef struct gsm8k_shared gsm8k_shared;

typedef struct gsm8k_item {
    const char *question;
    const char *answer;        /* the worked solution, ending "#### N" */
    const char *final;         /* the text after the last "####", stripped */
    const int *fewshot;        /* "gsm8k": 5 train indices; NULL otherwise */
    const gsm8k_shared *shared;
} gsm8k_item;

int gsm8k_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e);
int gsm8k_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
                err *e);

/* The gold target the scorer compares with, as lm-eval stores it for the variant:
 * the full answer ("gsm8k", "gsm8k_cot_zeroshot") or the bare final number. */
const char *gsm8k_target(const char *arg, const gsm8k_item *g);

#endif
