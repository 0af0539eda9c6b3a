/* drift.h: how far a model's predictions drift from a reference model's, over
 * many token positions grouped into items (tally quantdiff: a quantized file
 * against its base).
 *
 * The caller computes, per position, the KL divergence of the two next-token
 * distributions, whether their greedy choices agree and each model's negative
 * log-likelihood of the token that follows (backends/logitstats.h), and
 * streams them in item by item:
 *
 *   drift d = DRIFT_INIT;
 *   for each item: for each position: drift_add(&d, &pos);  then drift_end_item(&d, &item);
 *   drift_summary s;
 *   drift_settings cfg; drift_settings_default(&cfg);
 *   if (drift_summarize(&d, &cfg, &s, &e) < 0) ...
 *   drift_release(&d);
 *
 * Only the per-position KL values are kept (4 bytes a position, for exact
 * quantiles), with a few sums per item; logits never reach this module.
 *
 * The summary, over all N positions of k items:
 *   kl_mean, top1_agreement     sum over positions / N (token-weighted means)
 *   ppl_base, ppl_quant         exp(mean NLL)
 *   ppl_ratio                   exp(mean NLL_quant - mean NLL_base) = ppl_quant / ppl_base
 *   kl_median, kl_p99           quantiles of the N values, linear interpolation
 *                               between order statistics (numpy's default)
 *   kl_max
 * Confidence intervals are by item, since positions of one item are not
 * independent. The means are ratio estimators sum(Y_i) / sum(N_i) over items;
 * their standard error is the linearised (cluster) one,
 *   se^2 = k / (k - 1) * sum_i (Y_i - R N_i)^2 / (sum_i N_i)^2,
 * with the normal interval R +- z se (top-1 agreement clipped to [0, 1]);
 * perplexities take the interval of the mean NLL through exp (their stderr is
 * exp(R) * se, the delta method), and ppl_ratio that of the paired per-item
 * difference of NLL sums. Quantiles and the maximum get a percentile bootstrap
 * over items (whole items drawn with replacement, a fixed seed), their stderr
 * the replicates' standard deviation; the maximum's interval cannot reach
 * above the observed maximum. With fewer than two items nothing is known
 * about the spread: stderr and the interval are NaN (has_ci false).
 *
 * Memory: the drift owns its arrays (malloc'd); drift_release frees them.
 */
#ifndef TALLY_REPORTS_DRIFT_H
#define TALLY_REPORTS_DRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* One position. */
typedef struct drift_pos {
    double kl;        /* KL(P_base || P_quant) in nats, >= 0 */
    bool agree;       /* the greedy choices are the same token */
    double nll_base;  /* -log P_base(the token that follows) */
    double nll_quant; /* -log P_quant(the same token) */
} drift_pos;

/* One item's sums. */
typedef struct drift_item {
    size_t start; /* index of its first position among all positions */
    size_t n;     /* positions */
    size_t agree; /* positions where the greedy choices agree */
    double kl_sum, kl_max;
    double nll_base_sum, nll_quant_sum;
    long first_divergence; /* position within the item where the greedy choices first
                            * differ, or -1 */
} drift_item;

typedef struct drift {
    float *kl; /* (n) every position's KL, in order */
    size_t n, cap;
    drift_item *items; /* (n_items) closed items */
    size_t n_items, items_cap;
    drift_item cur; /* the item being filled */
} drift;

#define DRIFT_INIT                                                                                 \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, 0,                                                                    \
        {                                                                                          \
            0, 0, 0, 0, 0, 0, 0, -1                                                                \
        }                                                                                          \
    }

/* Adds a position to the current item. ERR_INVALID for a KL that is negative or
 * NaN, or an NLL that is NaN or negative; ERR_NOMEM. */
int drift_add(drift *d, const drift_pos *p, err *e);
/* Closes the current item (possibly empty) and starts the next; *out (may be
 * NULL) gets its sums. ERR_NOMEM. */
int drift_end_item(drift *d, drift_item *out, err *e);
/* Adds a whole closed item from stored figures (a resumed run): its sums and its
 * sums->n per-position KL values. ERR_INVALID for sums that do not add up (a
 * negative or non-finite figure, kl_max below a KL value, more agreements than
 * positions); ERR_NOMEM. */
int drift_add_item(drift *d, const drift_item *sums, const float *kl, err *e);
void drift_release(drift *d);

typedef struct drift_settings {
    double alpha;     /* 1 - confidence (0.05) */
    size_t bootstrap; /* replicates for the quantiles' intervals (1000); 0 = none */
    uint64_t seed;    /* the bootstrap's seed */
} drift_settings;

void drift_settings_default(drift_settings *s);

typedef struct drift_metric {
    double value;
    double stderr_; /* NaN when unknown */
    double lo, hi;  /* the interval at 1 - alpha; NaN when unknown */
    size_t n;       /* positions it is computed from */
    bool has_ci;
} drift_metric;

typedef struct drift_summary {
    size_t n_items, n_positions;
    size_t n_diverged; /* items whose greedy choices differ somewhere */
    drift_metric kl_mean, kl_median, kl_p99, kl_max;
    drift_metric top1_agreement;
    drift_metric ppl_base, ppl_quant, ppl_ratio;
} drift_summary;

/* Everything above over the closed items (an open item is ignored). ERR_INVALID
 * when there is no position at all or alpha is outside (0, 1); ERR_NOMEM. */
int drift_summarize(const drift *d, const drift_settings *s, drift_summary *out, err *e);

/* The KL histogram on a fixed grid: DRIFT_HIST_PER_DECADE log-spaced bins a
 * decade from DRIFT_HIST_LO to DRIFT_HIST_HI nats; the first bin also counts
 * every smaller value (0 included), the last every larger one, so the counts
 * add up to the positions. Empty bins at both ends are dropped (one bin is
 * always kept), so runs on the same grid line up. edges gets n_bins + 1
 * increasing values, counts n_bins; both hold DRIFT_HIST_MAX_BINS (+ 1). */
#define DRIFT_HIST_LO         1e-6
#define DRIFT_HIST_HI         1e2
#define DRIFT_HIST_PER_DECADE 4
#define DRIFT_HIST_MAX_BINS   32 /* 8 decades * 4 */

void drift_histogram(const drift *d, double *edges, double *counts, size_t *n_bins);

/* The q-quantile (0 <= q <= 1) of x[0..n), n >= 1, by linear interpolation
 * between order statistics; x is reordered. */
double drift_quantile(float *x, size_t n, double q);

#endif
