/* test_drift.c: the quantdiff statistics: means with intervals by item (worked by hand
 * below), exact quantiles against sorting, the bootstrap, the histogram, bad input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "reports/drift.h"
#include "test.h"

static void add_item(drift *d, const double *kl, const bool *agree, const double *nb,
                     const double *nq, size_t n)
{
    err e = ERR_INIT;
    for (size_t i = 0; i < n; i++) {
        drift_pos p = {kl[i], agree ? agree[i] : true, nb ? nb[i] : 1, nq ? nq[i] : 1};
        CHECK_INT(drift_add(d, &p, &e), 0);
    }
    CHECK_INT(drift_end_item(d, NULL, &e), 0);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_drift__quantile_matches_sorting(void)
{
    rng r;
    rng_seed(&r, 5);
    static const double qs[] = {0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1};
    for (size_t n = 1; n <= 300; n += (n < 20 ? 1 : 37)) {
        float *x = malloc(n * sizeof *x), *s = malloc(n * sizeof *s), *w = malloc(n * sizeof *w);
        for (int rep = 0; rep < 4; rep++) {
            for (size_t i = 0; i < n; i++) /* rep 0, 1: many ties; 2, 3: distinct */
                x[i] = rep < 2 ? (float)(rng_next(&r) % 5) : (float)rng_uniform(&r);
            memcpy(s, x, n * sizeof *x);
            qsort(s, n, sizeof *s, cmp_float);
            for (size_t k = 0; k < ARRAY_LEN(qs); k++) {
                memcpy(w, x, n * sizeof *x);
                double h = (double)(n - 1) * qs[k];
                size_t lo = (size_t)floor(h);
                double want = lo + 1 < n ? s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]) : s[lo];
                double got = drift_quantile(w, n, qs[k]);
                CHECK_MSG(fabs(got - want) <= 1e-7, "n=%zu q=%g: %g vs %g", n, qs[k], got, want);
            }
        }
        free(x);
        free(s);
        free(w);
    }
}

/* Three items, KL (0.1, 0.3), (0.2), (0.5, 0.1, 0.3): R = 1.5 / 6 = 0.25;
 * Y_i - R N_i = -0.1, -0.05, 0.15; sum of squares 0.035;
 * se^2 = 3/2 * 0.035 / 36, se = 0.038188130791298666. */
static void test_drift__means_and_cluster_interval(void)
{
    drift d = DRIFT_INIT;
    err e = ERR_INIT;
    double k1[] = {0.1, 0.3}, k2[] = {0.2}, k3[] = {0.5, 0.1, 0.3};
    bool a1[] = {true, false}, a2[] = {true}, a3[] = {true, true, false};
    double nb1[] = {1, 2}, nb2[] = {3}, nb3[] = {1, 1, 1};
    double nq1[] = {1.5, 2}, nq2[] = {3}, nq3[] = {1, 2, 1};
    add_item(&d, k1, a1, nb1, nq1, 2);
    add_item(&d, k2, a2, nb2, nq2, 1);
    add_item(&d, k3, a3, nb3, nq3, 3);
    drift_settings s;
    drift_settings_default(&s);
    drift_summary sm;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), 0);
    CHECK_INT(sm.n_items, 3);
    CHECK_INT(sm.n_positions, 6);
    CHECK_INT(sm.n_diverged, 2);
    CHECK_NEAR(sm.kl_mean.value, 0.25, 1e-12);
    CHECK_NEAR(sm.kl_mean.stderr_, 0.038188130791298666, 1e-12);
    CHECK_NEAR(sm.kl_mean.lo, 0.25 - 1.959963984540054 * 0.038188130791298666, 1e-12);
    CHECK_NEAR(sm.kl_mean.hi, 0.25 + 1.959963984540054 * 0.038188130791298666, 1e-12);
    CHECK_INT(sm.kl_mean.n, 6);
    CHECK(sm.kl_mean.has_ci);
    /* agreement 4 / 6; residuals 1 - 4/3, 1 - 2/3, 2 - 2 -> ss = 2/9, se^2 = 3/2 * 2/9 / 36 */
    CHECK_NEAR(sm.top1_agreement.value, 4.0 / 6, 1e-12);
    CHECK_NEAR(sm.top1_agreement.stderr_, sqrt(1.5 * (2.0 / 9) / 36), 1e-12);
    /* median of 0.1 0.1 0.2 0.3 0.3 0.5 = 0.25; p99 = 0.3 + 0.95 * 0.2; max 0.5 */
    CHECK_NEAR(sm.kl_median.value, 0.25, 1e-7);
    CHECK_NEAR(sm.kl_p99.value, 0.3 + 0.95 * 0.2, 1e-7);
    CHECK_NEAR(sm.kl_max.value, 0.5, 1e-7);
    /* perplexities: mean NLL 9/6 and 10.5/6 */
    CHECK_NEAR(sm.ppl_base.value, exp(1.5), 1e-12);
    CHECK_NEAR(sm.ppl_quant.value, exp(1.75), 1e-12);
    CHECK_NEAR(sm.ppl_ratio.value, exp(0.25), 1e-12);
    CHECK_NEAR(sm.ppl_ratio.value, sm.ppl_quant.value / sm.ppl_base.value, 1e-12);
    CHECK(sm.ppl_base.lo < sm.ppl_base.value && sm.ppl_base.value < sm.ppl_base.hi);
    /* the ratio's interval is that of the paired differences 0.5, 0, 1: R = 0.25,
     * residuals 0.5 - 0.5, 0 - 0.25, 1 - 0.75 -> ss = 0.125 */
    double se = sqrt(1.5 * 0.125 / 36);
    CHECK_NEAR(sm.ppl_ratio.lo, exp(0.25 - 1.959963984540054 * se), 1e-12);
    CHECK_NEAR(sm.ppl_ratio.hi, exp(0.25 + 1.959963984540054 * se), 1e-12);
    CHECK_NEAR(sm.ppl_ratio.stderr_, exp(0.25) * se, 1e-12);
    /* the bootstrap of the maximum cannot pass the observed one; items' maxima are 0.3, 0.2, 0.5 */
    CHECK(sm.kl_max.has_ci);
    CHECK(sm.kl_max.hi <= 0.5 + 1e-7 && sm.kl_max.lo >= 0.2 - 1e-7);
    CHECK(sm.kl_median.has_ci && sm.kl_median.lo <= sm.kl_median.hi);
    CHECK(sm.kl_median.lo >= 0.1 - 1e-7 && sm.kl_median.hi <= 0.5 + 1e-7);
    /* the same seed gives the same interval; another seed may not */
    drift_summary again;
    CHECK_INT(drift_summarize(&d, &s, &again, &e), 0);
    CHECK(again.kl_p99.lo == sm.kl_p99.lo && again.kl_p99.hi == sm.kl_p99.hi);
    /* no bootstrap: no interval for the quantiles, the means keep theirs */
    s.bootstrap = 0;
    CHECK_INT(drift_summarize(&d, &s, &again, &e), 0);
    CHECK(!again.kl_median.has_ci && isnan(again.kl_median.lo));
    CHECK(again.kl_mean.has_ci);
    drift_release(&d);
}

static void test_drift__identical_models(void)
{
    drift d = DRIFT_INIT;
    err e = ERR_INIT;
    rng r;
    rng_seed(&r, 9);
    for (int it = 0; it < 5; it++) {
        for (int p = 0; p < 10 + it; p++) {
            double nll = 3 * rng_uniform(&r);
            drift_pos pos = {0, true, nll, nll};
            CHECK_INT(drift_add(&d, &pos, &e), 0);
        }
        drift_item item;
        CHECK_INT(drift_end_item(&d, &item, &e), 0);
        CHECK_INT(item.first_divergence, -1);
        CHECK_INT(item.n, 10 + it);
    }
    drift_settings s;
    drift_settings_default(&s);
    drift_summary sm;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), 0);
    CHECK(sm.kl_mean.value == 0 && sm.kl_mean.lo == 0 && sm.kl_mean.hi == 0);
    CHECK(sm.kl_median.value == 0 && sm.kl_p99.value == 0 && sm.kl_max.value == 0);
    CHECK(sm.kl_p99.hi == 0);
    CHECK(sm.top1_agreement.value == 1 && sm.top1_agreement.hi == 1 && sm.top1_agreement.lo == 1);
    CHECK(sm.ppl_ratio.value == 1 && sm.ppl_ratio.lo == 1 && sm.ppl_ratio.hi == 1);
    CHECK(sm.ppl_base.value == sm.ppl_quant.value);
    CHECK_INT(sm.n_diverged, 0);
    drift_release(&d);
}

static void test_drift__one_item_has_no_interval(void)
{
    drift d = DRIFT_INIT;
    err e = ERR_INIT;
    double k[] = {0.4, 0.2, 0.9};
    bool a[] = {true, false, false};
    add_item(&d, k, a, NULL, NULL, 3);
    drift_settings s;
    drift_settings_default(&s);
    drift_summary sm;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), 0);
    CHECK_NEAR(sm.kl_mean.value, 0.5, 1e-12);
    CHECK(!sm.kl_mean.has_ci && isnan(sm.kl_mean.stderr_) && isnan(sm.kl_mean.lo));
    CHECK(!sm.kl_median.has_ci);
    CHECK_NEAR(sm.kl_median.value, 0.4, 1e-7);
    CHECK_NEAR(sm.top1_agreement.value, 1.0 / 3, 1e-12);
    CHECK_INT(d.items[0].first_divergence, 1);
    drift_release(&d);
}

static void test_drift__empty_items_and_agreement_clipped(void)
{
    drift d = DRIFT_INIT;
    err e = ERR_INIT;
    CHECK_INT(drift_end_item(&d, NULL, &e), 0); /* an item without positions */
    double k[] = {0.01, 0.02};
    add_item(&d, k, NULL, NULL, NULL, 2);
    add_item(&d, k, NULL, NULL, NULL, 1);
    bool no[] = {false};
    add_item(&d, k, no, NULL, NULL, 1);
    drift_settings s;
    drift_settings_default(&s);
    drift_summary sm;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), 0);
    CHECK_INT(sm.n_items, 4);
    CHECK_INT(sm.n_positions, 4);
    CHECK(sm.top1_agreement.has_ci);
    CHECK(sm.top1_agreement.hi <= 1 && sm.top1_agreement.lo >= 0);
    CHECK(sm.kl_mean.lo >= 0);
    drift_release(&d);
}

static void test_drift__histogram(void)
{
    drift d = DRIFT_INIT;
    double k[] = {0, 1e-9, 1.01e-3, 1.5e-3, 0.5, 1e5};
    add_item(&d, k, NULL, NULL, NULL, 6);
    double edges[DRIFT_HIST_MAX_BINS + 1], counts[DRIFT_HIST_MAX_BINS];
    size_t nb = 0;
    drift_histogram(&d, edges, counts, &nb);
    CHECK(nb >= 1 && nb <= DRIFT_HIST_MAX_BINS);
    double total = 0;
    for (size_t i = 0; i < nb; i++) {
        total += counts[i];
        CHECK(edges[i + 1] > edges[i]);
    }
    CHECK(total == 6);
    /* nothing is trimmed at either end: 0 and 1e-9 fall in the first bin, 1e5 in the last */
    CHECK_NEAR(edges[0], DRIFT_HIST_LO, 1e-18);
    CHECK_NEAR(edges[nb], DRIFT_HIST_HI, 1e-9);
    CHECK(counts[0] == 2 && counts[nb - 1] == 1);
    /* bin 12 (3 decades of 4 above 1e-6) starts at 1e-3: 1.01e-3 and 1.5e-3 are in it */
    CHECK_INT(nb, DRIFT_HIST_MAX_BINS);
    CHECK_NEAR(edges[12], 1e-3, 1e-15);
    CHECK(counts[12] == 2);
    drift_release(&d);

    /* trimming: values from 1e-3 to 1e-2 only */
    drift d2 = DRIFT_INIT;
    double k2[] = {1.1e-3, 2e-3, 9e-3};
    add_item(&d2, k2, NULL, NULL, NULL, 3);
    drift_histogram(&d2, edges, counts, &nb);
    CHECK_INT(nb, 4);
    CHECK_NEAR(edges[0], 1e-3, 1e-15);
    CHECK_NEAR(edges[4], 1e-2, 1e-15);
    CHECK(counts[0] == 1 && counts[1] == 1 && counts[3] == 1);
    drift_release(&d2);

    /* all zero (a file against itself): one bin */
    drift d3 = DRIFT_INIT;
    double k3[] = {0, 0, 0};
    add_item(&d3, k3, NULL, NULL, NULL, 3);
    drift_histogram(&d3, edges, counts, &nb);
    CHECK_INT(nb, 1);
    CHECK(counts[0] == 3 && edges[0] > 0 && edges[1] > edges[0]);
    drift_release(&d3);
}

static void test_drift__bad_input(void)
{
    drift d = DRIFT_INIT;
    err e = ERR_INIT;
    drift_pos bad[] = {{NAN, true, 1, 1},
                       {-1e-3, true, 1, 1},
                       {INFINITY, true, 1, 1},
                       {0.1, true, NAN, 1},
                       {0.1, true, 1, INFINITY}};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err_clear(&e);
        CHECK_INT(drift_add(&d, &bad[i], &e), ERR_INVALID);
        CHECK(e.msg[0] != 0);
    }
    CHECK_INT(d.n, 0);
    drift_settings s;
    drift_settings_default(&s);
    drift_summary sm;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), ERR_INVALID); /* no position */
    CHECK_INT(drift_end_item(&d, NULL, &e), 0);
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), ERR_INVALID); /* an empty item only */
    double k[] = {0.1};
    add_item(&d, k, NULL, NULL, NULL, 1);
    s.alpha = 0;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), ERR_INVALID);
    s.alpha = 1;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), ERR_INVALID);
    drift_release(&d);
    drift_release(&d);
}

static void test_drift__many_positions(void)
{
    /* 200 items of 500 positions: quantiles exact against sorting, bootstrap intervals
     * around them */
    drift d = DRIFT_INIT;
    err e = ERR_INIT;
    rng r;
    rng_seed(&r, 21);
    size_t N = 200 * 500;
    float *all = malloc(N * sizeof *all);
    size_t k = 0;
    for (int it = 0; it < 200; it++) {
        for (int p = 0; p < 500; p++) {
            double v = exp(rng_normal(&r) * 2 - 6);
            all[k++] = (float)v;
            drift_pos pos = {v, rng_uniform(&r) < 0.9, 1, 1.01};
            CHECK_INT(drift_add(&d, &pos, &e), 0);
        }
        CHECK_INT(drift_end_item(&d, NULL, &e), 0);
    }
    qsort(all, N, sizeof *all, cmp_float);
    drift_settings s;
    drift_settings_default(&s);
    s.bootstrap = 200;
    drift_summary sm;
    CHECK_INT(drift_summarize(&d, &s, &sm, &e), 0);
    double h = (double)(N - 1) * 0.5;
    CHECK_NEAR(sm.kl_median.value,
               all[(size_t)h] + (h - floor(h)) * (all[(size_t)h + 1] - all[(size_t)h]), 1e-9);
    CHECK(sm.kl_max.value == all[N - 1]);
    CHECK(sm.kl_median.lo < sm.kl_median.value && sm.kl_median.value < sm.kl_median.hi);
    CHECK(sm.kl_p99.lo < sm.kl_p99.value && sm.kl_p99.value < sm.kl_p99.hi);
    CHECK_NEAR(sm.top1_agreement.value, 0.9, 0.01);
    CHECK(sm.top1_agreement.lo < 0.9 && sm.top1_agreement.hi > 0.9);
    CHECK_NEAR(sm.ppl_ratio.value, exp(0.01), 1e-9);
    free(all);
    drift_release(&d);
}

/* Items added whole from stored figures (a resumed quantdiff) give the summary that
 * adding their positions one by one gives; sums that do not add up are refused. */
static void test_drift__add_item_restores(void)
{
    drift a = DRIFT_INIT, b = DRIFT_INIT;
    err e = ERR_INIT;
    uint64_t st = 99;
    for (int k = 0; k < 7; k++) {
        size_t n = (size_t)(k * 5 % 11); /* one empty item among them */
        for (size_t i = 0; i < n; i++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(st >> 11) / 9007199254740992.0;
            drift_pos p = {u * u * 3, u < 0.7, 1 + u, 1.5 - u / 2};
            CHECK_INT(drift_add(&a, &p, &e), 0);
        }
        drift_item it;
        CHECK_INT(drift_end_item(&a, &it, &e), 0);
        CHECK_INT(drift_add_item(&b, &it, a.kl + it.start, &e), 0);
    }
    drift_settings cfg;
    drift_settings_default(&cfg);
    cfg.bootstrap = 200;
    drift_summary sa, sb;
    CHECK_INT(drift_summarize(&a, &cfg, &sa, &e), 0);
    CHECK_INT(drift_summarize(&b, &cfg, &sb, &e), 0);
    const drift_metric *ma[] = {&sa.kl_mean,        &sa.kl_median, &sa.kl_p99,    &sa.kl_max,
                                &sa.top1_agreement, &sa.ppl_base,  &sa.ppl_quant, &sa.ppl_ratio};
    const drift_metric *mb[] = {&sb.kl_mean,        &sb.kl_median, &sb.kl_p99,    &sb.kl_max,
                                &sb.top1_agreement, &sb.ppl_base,  &sb.ppl_quant, &sb.ppl_ratio};
    for (size_t i = 0; i < sizeof ma / sizeof ma[0]; i++)
        CHECK(ma[i]->value == mb[i]->value && ma[i]->lo == mb[i]->lo && ma[i]->hi == mb[i]->hi &&
              ma[i]->stderr_ == mb[i]->stderr_ && ma[i]->n == mb[i]->n &&
              ma[i]->has_ci == mb[i]->has_ci);
    CHECK(sa.n_items == sb.n_items && sa.n_positions == sb.n_positions &&
          sa.n_diverged == sb.n_diverged);
    CHECK_INT((int)b.n_items, 7);
    /* refused: more agreements than positions, a KL above the item's maximum, a
     * divergence where every position agrees */
    drift_item bad = a.items[1];
    bad.agree = bad.n + 1;
    CHECK_INT(drift_add_item(&b, &bad, a.kl + bad.start, &e), ERR_INVALID);
    bad = a.items[1];
    bad.kl_max = 0;
    CHECK_INT(drift_add_item(&b, &bad, a.kl + bad.start, &e), ERR_INVALID);
    bad = a.items[1];
    bad.agree = bad.n;
    bad.first_divergence = 0;
    CHECK_INT(drift_add_item(&b, &bad, a.kl + bad.start, &e), ERR_INVALID);
    CHECK_INT((int)b.n_items, 7);
    drift_release(&a);
    drift_release(&b);
}

int main(void)
{
    RUN(test_drift__quantile_matches_sorting);
    RUN(test_drift__means_and_cluster_interval);
    RUN(test_drift__identical_models);
    RUN(test_drift__one_item_has_no_interval);
    RUN(test_drift__empty_items_and_agreement_clipped);
    RUN(test_drift__histogram);
    RUN(test_drift__bad_input);
    RUN(test_drift__many_positions);
    RUN(test_drift__add_item_restores);
    return test_report();
}
