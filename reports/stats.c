/* stats.c: intervals, McNemar's exact test, the paired bootstrap, Holm. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---- the normal distribution ---- */

double stats_normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

double stats_normal_quantile(double p)
{
    if (!(p > 0 && p < 1)) return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
    /* bisection to a bracket of 1e-10, then Newton steps on the CDF:
     * x <- x - (Phi(x) - p) / phi(x) */
    double lo = -40, hi = 40;
    while (hi - lo > 1e-10) {
        double mid = 0.5 * (lo + hi);
        if (stats_normal_cdf(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    double x = 0.5 * (lo + hi);
    for (int i = 0; i < 3; i++) {
        double pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);
        if (pdf <= 0) break;
        x -= (stats_normal_cdf(x) - p) / pdf;
    }
    return x;
}

double stats_z(double alpha)
{
    return stats_normal_quantile(1 - alpha / 2);
}

void stats_wilson(size_t k, size_t n, double z, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    /* centre (p + z^2/2n) / (1 + z^2/n), half-width z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) */
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    *lo = fmax(0, centre - half);
    *hi = fmin(1, centre + half);
}

void stats_normal_ci(double mean, double se, double z, double *lo, double *hi)
{
    *lo = mean - z * se;
    *hi = mean + z * se;
}

/* ---- the binomial with p = 1/2 ---- */

double stats_binom_half_cdf(uint64_t k, uint64_t n)
{
    if (k >= n) return 1;
    /* log t_0 = -n log 2; log t_i = log t_{i-1} + log((n - i + 1) / i).
     * Two passes: find the largest term (the log-sum-exp pivot), then sum. */
    double first = -(double)n * M_LN2, cur = first, pivot = first;
    for (uint64_t i = 1; i <= k; i++) {
        cur += log((double)(n - i + 1) / (double)i);
        if (cur > pivot) pivot = cur;
    }
    double s = exp(first - pivot);
    cur = first;
    for (uint64_t i = 1; i <= k; i++) {
        cur += log((double)(n - i + 1) / (double)i);
        s += exp(cur - pivot);
    }
    return fmin(1, s * exp(pivot));
}

double stats_mcnemar_exact(uint64_t b, uint64_t c)
{
    uint64_t n = b + c;
    if (n == 0) return 1;
    uint64_t k = b < c ? b : c;
    return fmin(1, 2 * stats_binom_half_cdf(k, n));
}

void stats_paired_prop_diff(uint64_t b, uint64_t c, uint64_t n, double z, double *diff, double *lo,
                            double *hi)
{
    if (n == 0) {
        *diff = NAN;
        *lo = *hi = NAN;
        return;
    }
    double nn = (double)n, d = ((double)c - (double)b) / nn;
    double var = ((double)b + (double)c - ((double)c - (double)b) * ((double)c - (double)b) / nn) /
                 (nn * nn);
    double se = sqrt(fmax(0, var));
    *diff = d;
    *lo = d - z * se;
    *hi = d + z * se;
}

uint64_t stats_mcnemar_min_gap(uint64_t d, double alpha)
{
    /* p(min = k) = min(1, 2 P(X <= k)) grows with k: find the largest k in
     * [0, d/2] with p <= alpha by bisection; the gap is d - 2k. */
    if (d == 0 || 2 * stats_binom_half_cdf(0, d) > alpha) return UINT64_MAX;
    uint64_t lo = 0, hi = d / 2; /* p(lo) <= alpha holds */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (fmin(1, 2 * stats_binom_half_cdf(mid, d)) <= alpha)
            lo = mid;
        else
            hi = mid - 1;
    }
    return d - 2 * lo;
}

/* ---- Holm ---- */

typedef struct pv {
    double p;
    size_t i;
} pv;

static int cmp_pv(const void *a, const void *b)
{
    const pv *x = a, *y = b;
    if (x->p < y->p) return -1;
    if (x->p > y->p) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int stats_holm(const double *p, size_t n, double *adj)
{
    pv *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(p[i])) v[m++] = (pv){p[i], i};
    qsort(v, m, sizeof *v, cmp_pv);
    double run = 0;
    for (size_t j = 0; j < m; j++) {
        double a = fmin(1, (double)(m - j) * v[j].p);
        if (a > run) run = a;
        v[j].p = run;
    }
    if (adj != p)
        for (size_t i = 0; i < n; i++) adj[i] = NAN;
    for (size_t j = 0; j < m; j++) adj[v[j].i] = v[j].p;
    free(v);
    return 0;
}

/* ---- the paired bootstrap ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of sorted x[0..n) by linear interpolation between order statistics. */
static double quantile_sorted(const double *x, size_t n, double q)
{
    if (n == 0) return NAN;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= n) return x[n - 1];
    double f = pos - (double)i;
    return x[i] + f * (x[i + 1] - x[i]);
}

int stats_paired_bootstrap(size_t n_units, size_t n_stats, const double *observed,
                           size_t replicates, uint64_t seed, double alpha, stats_resample_fn fn,
                           void *ctx, stats_boot *out, err *e)
{
    for (size_t s = 0; s < n_stats; s++) out[s] = (stats_boot){NAN, NAN, NAN, NAN, 0};
    if (n_units == 0 || n_stats == 0 || replicates == 0) return 0;
    if (n_stats > SIZE_MAX / replicates / sizeof(double))
        return err_set(e, ERR_LIMIT, "bootstrap: %zu replicates of %zu statistics is too many",
                       replicates, n_stats);
    int ret = 0;
    size_t *idx = malloc(n_units * sizeof *idx);
    double *reps = malloc(replicates * n_stats * sizeof *reps);
    double *col = malloc(replicates * sizeof *col);
    double *row = malloc(n_stats * sizeof *row);
    if (!idx || !reps || !col || !row) {
        ret = err_set(e, ERR_NOMEM, "bootstrap: out of memory");
        goto out;
    }
    rng r;
    rng_seed(&r, seed);
    for (size_t b = 0; b < replicates; b++) {
        for (size_t i = 0; i < n_units; i++) idx[i] = (size_t)(rng_next(&r) % n_units);
        for (size_t s = 0; s < n_stats; s++) row[s] = NAN;
        if ((ret = fn(ctx, idx, n_units, row, e)) < 0) goto out;
        memcpy(reps + b * n_stats, row, n_stats * sizeof *row);
    }
    for (size_t s = 0; s < n_stats; s++) {
        double d = observed[s];
        size_t valid = 0, extreme = 0;
        double sum = 0, ss = 0;
        for (size_t b = 0; b < replicates; b++) {
            double x = reps[b * n_stats + s];
            if (isnan(x)) continue;
            col[valid++] = x;
            sum += x;
        }
        out[s].valid = valid;
        if (!valid || isnan(d)) continue;
        double mean = sum / (double)valid;
        for (size_t b = 0; b < valid; b++) {
            ss += (col[b] - mean) * (col[b] - mean);
            /* the replicates shifted by d stand for the null: count those as far
             * from 0 as d is, or further (a hair of tolerance so that exact ties
             * count as extreme) */
            if (fabs(col[b] - d) >= fabs(d) - 1e-12 * fmax(1, fabs(d))) extreme++;
        }
        qsort(col, valid, sizeof *col, cmp_double);
        out[s].p = (1.0 + (double)extreme) / (1.0 + (double)valid);
        if (out[s].p > 1) out[s].p = 1;
        out[s].lo = quantile_sorted(col, valid, alpha / 2);
        out[s].hi = quantile_sorted(col, valid, 1 - alpha / 2);
        out[s].se = valid > 1 ? sqrt(ss / (double)(valid - 1)) : 0;
    }
out:
    free(idx);
    free(reps);
    free(col);
    free(row);
    return ret;
}
