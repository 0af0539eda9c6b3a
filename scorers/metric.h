/* metric.h: metric values with their standard error and 95% confidence interval.
 *
 * Every metric in results.json is {"value", "n", "stderr", "ci95": [lo, hi]},
 * values as fractions in [0, 1]. For a proportion (k of n) the standard error
 * is lm-evaluation-harness's (sample standard deviation / sqrt(n)) and the
 * interval is Wilson's score interval, which stays inside [0, 1] and is not
 * degenerate at 0% or 100%. For a mean of per-item values in [0, 1] (pass@k,
 * averages over instructions), the interval is mean +- 1.96 stderr clipped to
 * [0, 1]. For a mean of several metrics (BFCL's aggregates) the standard
 * error is combined assuming independence.
 */
#ifndef TALLY_SCORERS_METRIC_H
#define TALLY_SCORERS_METRIC_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct metric_value {
    double value;
    size_t n;
    double stderr_;
    double lo, hi;
} metric_value;

/* k successes out of n. n == 0 gives value 0 with an empty interval [0, 0]. */
metric_value metric_proportion(size_t k, size_t n);
/* Mean of x[0..n) with the normal interval. */
metric_value metric_mean(const double *x, size_t n);
/* Weighted combination sum(w_i * m_i) / sum(w_i) of metrics. */
metric_value metric_combine(const metric_value *m, const double *w, size_t count);

/* Adds NAME -> {"value","n","stderr","ci95"} to the object `metrics`; 0 or ERR_NOMEM. */
int metric_put(cJSON *metrics, const char *name, metric_value v);
/* Reads one back; 0 or ERR_PARSE when absent or malformed. */
int metric_get(const cJSON *metrics, const char *name, metric_value *out);

#endif
