/* drift.c: KL, top-1 and perplexity statistics with intervals by item (see drift.h). */
#include "reports/drift.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "reports/stats.h"

/* ---- streaming in ---- */

/* Room for `more` positions (the capacity doubles). */
static int reserve(drift *d, size_t more, err *e)
{
    if (d->n + more <= d->cap) return 0;
    size_t nc = d->cap ? d->cap : 1024;
    while (nc < d->n + more) nc *= 2;
    float *nk = realloc(d->kl, nc * sizeof *nk);
    if (!nk) return err_set(e, ERR_NOMEM, "drift: out of memory (%zu positions)", nc);
    d->kl = nk;
    d->cap = nc;
    return 0;
}

int drift_add(drift *d, const drift_pos *p, err *e)
{
    if (!(p->kl >= 0) || !isfinite(p->kl))
        return err_set(e, ERR_INVALID, "drift: KL divergence %g is not a finite number >= 0",
                       p->kl);
    if (!isfinite(p->nll_base) || !isfinite(p->nll_quant))
        return err_set(e, ERR_INVALID, "drift: log-likelihoods %g, %g are not finite", p->nll_base,
                       p->nll_quant);
    int rc = reserve(d, 1, e);
    if (rc < 0) return rc;
    drift_item *it = &d->cur;
    if (it->n == 0) it->start = d->n;
    d->kl[d->n++] = (float)p->kl;
    if (!p->agree && it->first_divergence < 0) it->first_divergence = (long)it->n;
    it->n++;
    it->agree += p->agree;
    it->kl_sum += p->kl;
    if (p->kl > it->kl_max) it->kl_max = p->kl;
    it->nll_base_sum += p->nll_base;
    it->nll_quant_sum += p->nll_quant;
    return 0;
}

int drift_end_item(drift *d, drift_item *out, err *e)
{
    if (d->n_items == d->items_cap) {
        size_t nc = d->items_cap ? 2 * d->items_cap : 64;
        drift_item *ni = realloc(d->items, nc * sizeof *ni);
        if (!ni) return err_set(e, ERR_NOMEM, "drift: out of memory (%zu items)", nc);
        d->items = ni;
        d->items_cap = nc;
    }
    if (d->cur.n == 0) d->cur.start = d->n;
    d->items[d->n_items++] = d->cur;
    if (out) *out = d->cur;
    memset(&d->cur, 0, sizeof d->cur);
    d->cur.first_divergence = -1;
    return 0;
}

int drift_add_item(drift *d, const drift_item *sums, const float *kl, err *e)
{
    const drift_item *x = sums;
    if (x->agree > x->n || !(x->kl_sum >= 0) || !isfinite(x->kl_sum) || !(x->kl_max >= 0) ||
        !isfinite(x->kl_max) || !isfinite(x->nll_base_sum) || !isfinite(x->nll_quant_sum) ||
        x->first_divergence < -1 || x->first_divergence >= (long)x->n ||
        (x->first_divergence < 0) != (x->agree == x->n))
        return err_set(e, ERR_INVALID, "drift: the item's stored sums do not add up");
    for (size_t i = 0; i < x->n; i++)
        if (!(kl[i] >= 0) || !isfinite(kl[i]) || kl[i] > (float)x->kl_max)
            return err_set(e, ERR_INVALID, "drift: stored KL value %zu (%g) is out of range", i,
                           (double)kl[i]);
    int rc = reserve(d, x->n, e);
    if (rc < 0) return rc;
    if (x->n) memcpy(d->kl + d->n, kl, x->n * sizeof *kl);
    drift_item it = *x;
    it.start = d->n;
    d->n += x->n;
    d->cur = it;
    return drift_end_item(d, NULL, e);
}

void drift_release(drift *d)
{
    free(d->kl);
    free(d->items);
    *d = (drift)DRIFT_INIT;
}

void drift_settings_default(drift_settings *s)
{
    s->alpha = 0.05;
    s->bootstrap = 1000;
    s->seed = 20250101;
}

/* ---- quantiles ---- */

static void swapf(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

/* Reorders x so that x[k] is the k-th smallest, nothing larger before it and
 * nothing smaller after it (Hoare's selection; the median of three is the
 * pivot, so x[lo] and x[hi] stop both scans). */
static void select_k(float *x, long n, long k)
{
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo]) swapf(&x[mid], &x[lo]);
        if (x[hi] < x[lo]) swapf(&x[hi], &x[lo]);
        if (x[hi] < x[mid]) swapf(&x[hi], &x[mid]);
        const float pivot = x[mid];
        long i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) swapf(&x[i++], &x[j--]);
        }
        /* x[lo..j] <= pivot <= x[i..hi], and everything between equals the pivot */
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

double drift_quantile(float *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t k = (size_t)floor(h);
    if (k >= n - 1) k = n - 1;
    select_k(x, (long)n, (long)k);
    double v = x[k];
    double frac = h - (double)k;
    if (frac > 0 && k + 1 < n) {
        /* the next order statistic is the smallest value after x[k] */
        float next = x[k + 1];
        for (size_t i = k + 2; i < n; i++)
            if (x[i] < next) next = x[i];
        v += frac * ((double)next - v);
    }
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type-7 quantile of sorted values. */
static double sorted_quantile(const double *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t k = (size_t)floor(h);
    if (k + 1 >= n) return x[n - 1];
    return x[k] + (h - (double)k) * (x[k + 1] - x[k]);
}

/* ---- intervals ---- */

static drift_metric unknown_spread(double value, size_t n)
{
    return (drift_metric){value, NAN, NAN, NAN, n, false};
}

/* The ratio sum(y) / sum(w) over items with its linearised standard error. */
static void ratio_se(const double *y, const double *w, size_t k, double *r_out, double *se_out)
{
    double sy = 0, sw = 0;
    for (size_t i = 0; i < k; i++) {
        sy += y[i];
        sw += w[i];
    }
    double r = sy / sw, ss = 0;
    for (size_t i = 0; i < k; i++) {
        double u = y[i] - r * w[i];
        ss += u * u;
    }
    *r_out = r;
    *se_out = k >= 2 ? sqrt((double)k / (double)(k - 1) * ss) / sw : NAN;
}

/* mean +- z se, or exp of it; clipped to [lo_clip, hi_clip]. */
static drift_metric normal_metric(double r, double se, double z, size_t n, bool expo,
                                  double lo_clip, double hi_clip)
{
    if (isnan(se)) return unknown_spread(expo ? exp(r) : r, n);
    drift_metric m = {r, se, r - z * se, r + z * se, n, true};
    if (expo) {
        m.value = exp(r);
        m.stderr_ = m.value * se;
        m.lo = exp(m.lo);
        m.hi = exp(m.hi);
    }
    if (m.lo < lo_clip) m.lo = lo_clip;
    if (m.hi > hi_clip) m.hi = hi_clip;
    return m;
}

/* The percentile bootstrap over items of the KL median, p99 and maximum. */
static int bootstrap_quantiles(const drift *d, const size_t *nonempty, size_t k,
                               const drift_settings *s, drift_summary *out, err *e)
{
    const size_t B = s->bootstrap;
    double *rep = malloc(3 * B * sizeof *rep); /* median, p99, max per replicate */
    float *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    if (!rep) return err_set(e, ERR_NOMEM, "drift: out of memory");
    rng r;
    rng_seed(&r, s->seed);
    for (size_t b = 0; b < B; b++) {
        size_t m = 0;
        double mx = 0;
        /* the positions of k items drawn with replacement */
        for (size_t j = 0; j < k; j++) {
            size_t pick = (size_t)(rng_uniform(&r) * (double)k);
            if (pick >= k) pick = k - 1;
            const drift_item *it = &d->items[nonempty[pick]];
            if (m + it->n > cap) {
                size_t nc = cap ? cap : 1024;
                while (nc < m + it->n) nc *= 2;
                float *nb = realloc(buf, nc * sizeof *nb);
                if (!nb) {
                    rc = err_set(e, ERR_NOMEM, "drift: out of memory");
                    goto out;
                }
                buf = nb;
                cap = nc;
            }
            memcpy(buf + m, d->kl + it->start, it->n * sizeof *buf);
            m += it->n;
            if (it->kl_max > mx) mx = it->kl_max;
        }
        rep[b] = drift_quantile(buf, m, 0.5);
        rep[B + b] = drift_quantile(buf, m, 0.99);
        rep[2 * B + b] = mx;
    }
    drift_metric *ms[3] = {&out->kl_median, &out->kl_p99, &out->kl_max};
    for (int q = 0; q < 3; q++) {
        double *v = rep + (size_t)q * B, mean = 0, ss = 0;
        for (size_t i = 0; i < B; i++) mean += v[i];
        mean /= (double)B;
        for (size_t i = 0; i < B; i++) ss += (v[i] - mean) * (v[i] - mean);
        qsort(v, B, sizeof *v, cmp_double);
        ms[q]->stderr_ = B >= 2 ? sqrt(ss / (double)(B - 1)) : 0;
        ms[q]->lo = sorted_quantile(v, B, s->alpha / 2);
        ms[q]->hi = sorted_quantile(v, B, 1 - s->alpha / 2);
        ms[q]->has_ci = true;
    }
out:
    free(buf);
    free(rep);
    return rc;
}

int drift_summarize(const drift *d, const drift_settings *s, drift_summary *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (!(s->alpha > 0 && s->alpha < 1))
        return err_set(e, ERR_INVALID, "drift: alpha %g is outside (0, 1)", s->alpha);
    size_t N = 0, k = 0;
    for (size_t i = 0; i < d->n_items; i++) {
        N += d->items[i].n;
        k += d->items[i].n > 0;
        out->n_diverged += d->items[i].first_divergence >= 0;
    }
    out->n_items = d->n_items;
    out->n_positions = N;
    if (N == 0) return err_set(e, ERR_INVALID, "drift: no position to summarise");

    int rc = 0;
    size_t *nonempty = malloc(k * sizeof *nonempty);
    double *w = calloc(k, sizeof *w), *y = calloc(k, sizeof *y);
    float *all = malloc(N * sizeof *all);
    if (!nonempty || !w || !y || !all) {
        rc = err_set(e, ERR_NOMEM, "drift: out of memory (%zu positions)", N);
        goto out;
    }
    size_t j = 0, pos = 0;
    for (size_t i = 0; i < d->n_items; i++) {
        const drift_item *it = &d->items[i];
        if (!it->n) continue;
        nonempty[j] = i;
        w[j++] = (double)it->n;
        memcpy(all + pos, d->kl + it->start, it->n * sizeof *all);
        pos += it->n;
    }
    const double z = stats_z(s->alpha);
    double r, se;

    /* token-weighted means, intervals by item */
    for (size_t i = 0; i < k; i++) y[i] = d->items[nonempty[i]].kl_sum;
    ratio_se(y, w, k, &r, &se);
    out->kl_mean = normal_metric(r, se, z, N, false, 0, INFINITY);
    for (size_t i = 0; i < k; i++) y[i] = (double)d->items[nonempty[i]].agree;
    ratio_se(y, w, k, &r, &se);
    out->top1_agreement = normal_metric(r, se, z, N, false, 0, 1);
    for (size_t i = 0; i < k; i++) y[i] = d->items[nonempty[i]].nll_base_sum;
    ratio_se(y, w, k, &r, &se);
    out->ppl_base = normal_metric(r, se, z, N, true, 0, INFINITY);
    for (size_t i = 0; i < k; i++) y[i] = d->items[nonempty[i]].nll_quant_sum;
    ratio_se(y, w, k, &r, &se);
    out->ppl_quant = normal_metric(r, se, z, N, true, 0, INFINITY);
    /* the ratio: the paired difference of NLL sums, item by item */
    for (size_t i = 0; i < k; i++) {
        const drift_item *it = &d->items[nonempty[i]];
        y[i] = it->nll_quant_sum - it->nll_base_sum;
    }
    ratio_se(y, w, k, &r, &se);
    out->ppl_ratio = normal_metric(r, se, z, N, true, 0, INFINITY);

    /* exact quantiles and the maximum over every position */
    double mx = 0;
    for (size_t i = 0; i < N; i++)
        if (all[i] > mx) mx = all[i];
    out->kl_median = unknown_spread(drift_quantile(all, N, 0.5), N);
    out->kl_p99 = unknown_spread(drift_quantile(all, N, 0.99), N);
    out->kl_max = unknown_spread(mx, N);
    if (k >= 2 && s->bootstrap > 0) rc = bootstrap_quantiles(d, nonempty, k, s, out, e);
out:
    free(nonempty);
    free(w);
    free(y);
    free(all);
    return rc;
}

/* ---- the histogram ---- */

void drift_histogram(const drift *d, double *edges, double *counts, size_t *n_bins)
{
    const size_t K = DRIFT_HIST_MAX_BINS;
    double c[DRIFT_HIST_MAX_BINS] = {0};
    const double lo = log10(DRIFT_HIST_LO);
    for (size_t i = 0; i < d->n_items; i++) {
        const drift_item *it = &d->items[i];
        for (size_t p = it->start; p < it->start + it->n; p++) {
            double v = d->kl[p];
            long b = v > 0 ? (long)floor((log10(v) - lo) * DRIFT_HIST_PER_DECADE) : 0;
            if (b < 0) b = 0;
            if (b >= (long)K) b = (long)K - 1;
            c[b]++;
        }
    }
    size_t first = 0, last = K - 1;
    while (first < K - 1 && c[first] == 0) first++;
    while (last > first && c[last] == 0) last--;
    *n_bins = last - first + 1;
    for (size_t b = first; b <= last + 1; b++)
        edges[b - first] = pow(10.0, lo + (double)b / DRIFT_HIST_PER_DECADE);
    for (size_t b = first; b <= last; b++) counts[b - first] = c[b];
}
