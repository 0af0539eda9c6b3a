/* gsm8k.h: GSM8K's two answer filters and lm-eval's exact_match.
 *
 * strict-match and flexible-extract (SCORING.md 2.3) with exactly the
 * reference's regexes, first/last-match rules and "[invalid]" fallback, then
 * the exact_match normalisation of 2.4 applied to prediction and target.
 * Patterns are compiled once per gsm8k_filters (PCRE2, JIT when available).
 */
#ifndef TALLY_SCORERS_GSM8K_H
#define TALLY_SCORERS_GSM8K_H

#include <stdbool.h>

#include "common/arena.h"
#include "common/err.h"
#include "score.h"

typedef struct gsm8k_filters gsm8k_filters;

/* `variant` is the task row's arg ("gsm8k", "gsm8k_cot", ...). Free with gsm8k_filters_free. */
int gsm8k_filters_new(gsm8k_filters **out, const char *variant, err *e);
void gsm8k_filters_free(gsm8k_filters *f);

/* The extracted answer of each filter ("[invalid]" when nothing matched), in `a`. */
const char *gsm8k_extract_strict(gsm8k_filters *f, const char *response, arena *a);
const char *gsm8k_extract_flexible(gsm8k_filters *f, const char *response, arena *a);
/* exact_match's normalisation: remove ",", "$", everything up to the last "#### ",
 * a final "." (before an optional final "\n"), then lower-case. */
const char *gsm8k_normalize(gsm8k_filters *f, const char *s, arena *a);

int gsm8k_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e);

#endif
