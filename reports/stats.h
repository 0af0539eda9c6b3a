/* stats.h: the statistics behind `tally compare`: intervals, paired tests,
 * multiple-testing correction.
 *
 * Everything here works on plain numbers and keeps no state; nothing
 * allocates except stats_holm and stats_paired_bootstrap (scratch freed
 * before they return). Proportions and differences are fractions (0.05 is
 * five points); the callers turn them into percentages.
 *
 *   Wilson interval       stats_wilson(k, n, z, &lo, &hi)
 *   McNemar exact test    stats_mcnemar_exact(b, c): two-sided p-value of
 *                         b "only A passed" against c "only B passed"
 *   paired bootstrap      stats_paired_bootstrap(...): resamples shared items
 *                         with replacement (fixed seed) and recomputes the
 *                         differences through a callback
 *   Holm                  stats_holm(p, n, adj): step-down adjusted p-values
 */
#ifndef TALLY_REPORTS_STATS_H
#define TALLY_REPORTS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The z for a two-sided level: stats_z(0.05) = 1.959963... */
double stats_z(double alpha);
/* Standard normal CDF and its inverse (p in (0, 1)). */
double stats_normal_cdf(double x);
double stats_normal_quantile(double p);

/* Wilson's score interval of k successes out of n at the given z. n == 0
 * gives [0, 1]: nothing is known. */
void stats_wilson(size_t k, size_t n, double z, double *lo, double *hi);
/* mean +- z * se (not clipped). */
void stats_normal_ci(double mean, double se, double z, double *lo, double *hi);

/* P(X <= k) for X ~ Binomial(n, 1/2). The terms are built by their ratios
 * in log space, so n in the tens of thousands neither overflows nor
 * underflows (relative error about k * 1e-16). */
double stats_binom_half_cdf(uint64_t k, uint64_t n);
/* McNemar's exact test: the two-sided binomial test on the discordant pairs,
 * p = min(1, 2 * P(X <= min(b, c))), X ~ Binomial(b + c, 1/2). b + c == 0
 * gives 1. */
double stats_mcnemar_exact(uint64_t b, uint64_t c);
/* The difference of two paired proportions, (c - b) / n, with its normal
 * (Wald) interval: var = (b + c - (c - b)^2 / n) / n^2. */
void stats_paired_prop_diff(uint64_t b, uint64_t c, uint64_t n, double z, double *diff, double *lo,
                            double *hi);
/* With d discordant pairs, the smallest |c - b| whose exact McNemar p-value
 * is <= alpha; UINT64_MAX when even c - b = d is not significant (too few
 * disagreements to ever tell the runs apart). */
uint64_t stats_mcnemar_min_gap(uint64_t d, double alpha);

/* Holm's step-down adjusted p-values: sort ascending, adj_(i) = max over
 * j <= i of min(1, (n - j) * p_(j)) (0-based j). NaN entries are left out of
 * the family and stay NaN. 0 or ERR_NOMEM. `adj` may be `p`. */
int stats_holm(const double *p, size_t n, double *adj);

/* One replicate of a paired bootstrap: given the resampled unit indices
 * idx[0..n) (with repeats), writes the n_stats differences (B - A) into
 * out[]; NaN where a statistic is undefined for that resample. */
typedef int (*stats_resample_fn)(void *ctx, const size_t *idx, size_t n, double *out, err *e);

typedef struct stats_boot {
    double p;      /* two-sided: (1 + #{|d_b - d| >= |d|}) / (1 + valid) */
    double lo, hi; /* percentile interval of the replicates at the level asked */
    double se;     /* standard deviation of the replicates */
    size_t valid;  /* replicates where the statistic was defined */
} stats_boot;

/* Paired bootstrap over n_units shared units: `replicates` resamples drawn
 * with a splitmix/xoshiro generator seeded with `seed`, so the same inputs
 * give the same p-values. observed[s] is the difference on the full set;
 * out[s] gets the result of statistic s. A statistic whose observed value is
 * NaN gets p = NaN. The p-value is the shift method's: the replicates
 * centred on the observed difference approximate the null. */
int stats_paired_bootstrap(size_t n_units, size_t n_stats, const double *observed,
                           size_t replicates, uint64_t seed, double alpha, stats_resample_fn fn,
                           void *ctx, stats_boot *out, err *e);

#endif
