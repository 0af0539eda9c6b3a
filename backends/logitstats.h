/* logitstats.h: how one model's next-token distribution differs from another's
 * at one position, from the two rows of logits (tally quantdiff).
 *
 * For logits b (the base model) and q (the model under test) over the same
 * vocabulary of n tokens:
 *
 *   log P(i) = b_i - lse(b),  log Q(i) = q_i - lse(q),  lse(x) = m + log sum_j exp(x_j - m)
 *   KL(P || Q) = sum_i P(i) (log P(i) - log Q(i))           in nats
 *   top-1 of each = argmax (the lowest id on ties, as the greedy sampler)
 *   NLL of the token that actually follows = -log P(next), -log Q(next)
 *
 * The log-sum-exp is taken from the row's maximum m, so no exponential
 * overflows; the sums are in double. Terms with P(i) = 0 add nothing. The
 * same row in both arguments gives a KL of exactly 0 (every term is 0), and
 * rounding can never make it negative (a negative sum is reported as 0).
 * Logits of -inf are a probability of 0; NaN and +inf are refused.
 *
 * A logitstats holds scratch for one vocabulary, allocated once by
 * logitstats_init: comparing allocates nothing. One per thread.
 *
 *   logitstats ls = LOGITSTATS_INIT;
 *   if (logitstats_init(&ls, n_vocab, &e) < 0) ...
 *   logit_cmp c;
 *   if (logitstats_compare(&ls, base_row, quant_row, next_id, &c, &e) < 0) ...
 *   logitstats_release(&ls);
 */
#ifndef TALLY_BACKENDS_LOGITSTATS_H
#define TALLY_BACKENDS_LOGITSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct logitstats {
    size_t n_vocab;
    double *p; /* (n_vocab) scratch: exp(b_i - max b) */
} logitstats;

#define LOGITSTATS_INIT                                                                            \
    {                                                                                              \
        0, NULL                                                                                    \
    }

/* What one position says. */
typedef struct logit_cmp {
    double kl;                   /* KL(P_base || P_quant), nats, >= 0 */
    int32_t top_base, top_quant; /* each model's greedy choice */
    double nll_base, nll_quant;  /* -log P(next), -log Q(next); NaN when next < 0 */
} logit_cmp;

/* Allocates the scratch for n_vocab >= 1 tokens (ERR_INVALID for 0, ERR_NOMEM). */
int logitstats_init(logitstats *ls, size_t n_vocab, err *e);
/* Frees the scratch; safe on LOGITSTATS_INIT and twice. */
void logitstats_release(logitstats *ls);

/* Compares two rows of n_vocab logits. `next` is the token that follows (for the
 * NLLs), or -1. ERR_INVALID for a logit that is NaN or +inf ("base logit 17 is
 * nan"), for a row of nothing but -inf, or for `next` outside the vocabulary. */
int logitstats_compare(logitstats *ls, const float *base, const float *quant, int32_t next,
                       logit_cmp *out, err *e);

#endif
