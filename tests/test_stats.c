/* test_stats.c: intervals, McNemar's exact test, Holm and the paired
 * bootstrap against values computed independently (tests/golden/stats_golden.py:
 * exact integer binomial sums, decimal Wilson intervals, Holm by definition). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"
#include "reports/stats.h"
#include "test.h"

/* relative closeness for p-values that span 300 orders of magnitude */
static int close_rel(double got, double want, double rel)
{
    if (want == 0) return got == 0;
    return fabs(got - want) <= rel * fabs(want);
}

static void test_stats__normal(void)
{
    CHECK_NEAR(stats_z(0.05), 1.959963984540054, 1e-12);
    CHECK_NEAR(stats_z(0.01), 2.5758293035489004, 1e-12);
    CHECK_NEAR(stats_normal_quantile(0.5), 0, 1e-12);
    CHECK_NEAR(stats_normal_cdf(1.959963984540054), 0.975, 1e-12);
    CHECK_NEAR(stats_normal_quantile(1e-10), -6.3613409024040557, 1e-9);
    CHECK(isnan(stats_normal_quantile(-0.5)));
    CHECK(isinf(stats_normal_quantile(1)));
}

static void test_stats__mcnemar_golden(void)
{
    static const struct {
        uint64_t b, c;
        double p;
    } g[] = {
        {0, 0, 1},
        {0, 1, 1},
        {1, 1, 1},
        {0, 5, 0.0625},
        {0, 6, 0.03125},
        {3, 12, 0.03515625},
        {12, 3, 0.03515625},
        {10, 10, 1},
        {40, 13, 0.00026854011881916051},
        {7, 25, 0.0021024015732109547},
        {100, 130, 0.055613577781392386},
        {0, 60, 1.7347234759768071e-18},
        {450, 520, 0.026677702766761235},
        {1, 1000, 9.3513014574022532e-299},
        {2, 900, 2.4090136751258183e-266},
        {1, 2000, 0},
        {5000, 5210, 0.038597723451450239},
    };
    for (size_t i = 0; i < ARRAY_LEN(g); i++) {
        double p = stats_mcnemar_exact(g[i].b, g[i].c);
        CHECK_MSG(close_rel(p, g[i].p, 1e-11), "b=%llu c=%llu: got %.17g, want %.17g",
                  (unsigned long long)g[i].b, (unsigned long long)g[i].c, p, g[i].p);
    }
    /* the CDF itself at the edges */
    CHECK_NEAR(stats_binom_half_cdf(0, 1), 0.5, 0);
    CHECK_NEAR(stats_binom_half_cdf(5, 5), 1, 0);
    CHECK_NEAR(stats_binom_half_cdf(2, 4), 11.0 / 16, 1e-15);
}

static void test_stats__min_gap(void)
{
    static const struct {
        uint64_t d, gap;
    } g[] = {{1, 0}, {5, 0}, {6, 6}, {10, 8}, {17, 9}, {53, 17}, {100, 22}, {400, 42}};
    for (size_t i = 0; i < ARRAY_LEN(g); i++) {
        uint64_t got = stats_mcnemar_min_gap(g[i].d, 0.05);
        CHECK_MSG(got == (g[i].gap ? g[i].gap : UINT64_MAX), "d=%llu: got %llu",
                  (unsigned long long)g[i].d, (unsigned long long)got);
    }
    CHECK(stats_mcnemar_min_gap(0, 0.05) == UINT64_MAX);
    /* the gap found is significant and one less step is not */
    for (uint64_t d = 6; d < 300; d += 7) {
        uint64_t gap = stats_mcnemar_min_gap(d, 0.05);
        CHECK(stats_mcnemar_exact((d - gap) / 2, (d + gap) / 2) <= 0.05);
        if (gap >= 2) CHECK(stats_mcnemar_exact((d - gap + 2) / 2, (d + gap - 2) / 2) > 0.05);
    }
}

static void test_stats__wilson(void)
{
    static const struct {
        size_t k, n;
        double lo, hi;
    } g[] = {
        {0, 10, 0, 0.2775327998628892},
        {10, 10, 0.72246720013711074, 1},
        {2, 6, 0.096771411105780483, 0.700006684861608},
        {4, 6, 0.29999331513839206, 0.90322858889421953},
        {139, 164, 0.7846483514233874, 0.89456404818871782},
        {1128, 1319, 0.83517024244586491, 0.87315349034319534},
        {1, 1, 0.20654931437723742, 1},
    };
    double z = stats_z(0.05);
    for (size_t i = 0; i < ARRAY_LEN(g); i++) {
        double lo, hi;
        stats_wilson(g[i].k, g[i].n, z, &lo, &hi);
        CHECK_NEAR(lo, g[i].lo, 1e-13);
        CHECK_NEAR(hi, g[i].hi, 1e-13);
    }
    double lo, hi;
    stats_wilson(0, 0, z, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
}

static void test_stats__paired_diff(void)
{
    double d, lo, hi, z = stats_z(0.05);
    /* 40 only-A, 13 only-B out of 1319: d = -27/1319, var = (53 - 27^2/1319) / 1319^2 */
    stats_paired_prop_diff(40, 13, 1319, z, &d, &lo, &hi);
    double se = sqrt((53 - 729.0 / 1319) / (1319.0 * 1319.0));
    CHECK_NEAR(d, -27.0 / 1319, 1e-15);
    CHECK_NEAR(lo, d - z * se, 1e-15);
    CHECK_NEAR(hi, d + z * se, 1e-15);
    stats_paired_prop_diff(0, 0, 0, z, &d, &lo, &hi);
    CHECK(isnan(d));
    stats_paired_prop_diff(0, 0, 10, z, &d, &lo, &hi);
    CHECK(d == 0 && lo == 0 && hi == 0);
}

static void test_stats__holm(void)
{
    double p[] = {0.01, 0.04, 0.03, 0.005, 0.5};
    double want[] = {0.040000000000000001, 0.089999999999999997, 0.089999999999999997,
                     0.025000000000000001, 0.5};
    double adj[5];
    CHECK_INT(stats_holm(p, 5, adj), 0);
    for (int i = 0; i < 5; i++) CHECK_NEAR(adj[i], want[i], 1e-15);
    /* in place, with NaN left out of the family: the family is {0.01, 0.04} */
    double q[] = {0.01, NAN, 0.04};
    CHECK_INT(stats_holm(q, 3, q), 0);
    CHECK_NEAR(q[0], 0.02, 1e-15);
    CHECK(isnan(q[1]));
    CHECK_NEAR(q[2], 0.04, 1e-15);
    /* an adjusted p never passes 1 and never decreases along the sorted order */
    double r[] = {0.9, 0.8, 0.7};
    CHECK_INT(stats_holm(r, 3, r), 0);
    CHECK(r[0] == 1 && r[1] == 1 && r[2] == 1);
    CHECK_INT(stats_holm(NULL, 0, NULL), 0);
}

/* paired values: the statistic is mean(y) - mean(x) over the resampled units */
typedef struct pairs {
    const double *x, *y;
    int calls;
    int fail_at;
} pairs;

static int mean_diff(void *ctx, const size_t *idx, size_t n, double *out, err *e)
{
    pairs *p = ctx;
    if (++p->calls == p->fail_at) return err_set(e, ERR_INTERNAL, "callback failed");
    double s = 0;
    for (size_t i = 0; i < n; i++) s += p->y[idx[i]] - p->x[idx[i]];
    out[0] = s / (double)n;
    out[1] = NAN; /* a statistic undefined everywhere */
    return 0;
}

static void test_stats__bootstrap(void)
{
    enum { N = 200 };
    double x[N], y[N], z0[N];
    rng r;
    rng_seed(&r, 7);
    double sd = 0, md = 0;
    for (int i = 0; i < N; i++) {
        x[i] = rng_uniform(&r);
        y[i] = x[i] + 0.1 + 0.2 * rng_normal(&r);
        z0[i] = x[i];
        md += y[i] - x[i];
    }
    md /= N;
    for (int i = 0; i < N; i++) sd += (y[i] - x[i] - md) * (y[i] - x[i] - md);
    double se_analytic = sqrt(sd / (N - 1)) / sqrt((double)N);
    pairs p = {x, y, 0, 0};
    double obs[2] = {md, NAN};
    stats_boot b1[2], b2[2], b3[2];
    err e = ERR_INIT;
    CHECK_INT(stats_paired_bootstrap(N, 2, obs, 2000, 42, 0.05, mean_diff, &p, b1, &e), 0);
    CHECK_INT(p.calls, 2000);
    CHECK_INT(b1[0].valid, 2000);
    /* the bootstrap standard error estimates sd/sqrt(n) */
    CHECK_MSG(fabs(b1[0].se / se_analytic - 1) < 0.1, "se %g vs %g", b1[0].se, se_analytic);
    /* a difference of ~7 standard errors: no replicate crosses 0 */
    CHECK_NEAR(b1[0].p, 1.0 / 2001, 1e-15);
    CHECK(b1[0].lo < md && md < b1[0].hi && b1[0].lo > 0);
    CHECK(isnan(b1[1].p) && b1[1].valid == 0);
    /* the same seed gives the same numbers; another seed does not */
    CHECK_INT(stats_paired_bootstrap(N, 2, obs, 2000, 42, 0.05, mean_diff, &p, b2, &e), 0);
    CHECK(memcmp(&b1[0], &b2[0], sizeof b1[0]) == 0);
    CHECK_INT(stats_paired_bootstrap(N, 2, obs, 2000, 43, 0.05, mean_diff, &p, b3, &e), 0);
    CHECK(b3[0].lo != b1[0].lo);
    /* no difference at all: p = 1 */
    pairs same = {x, z0, 0, 0};
    double zero[2] = {0, 0};
    CHECK_INT(stats_paired_bootstrap(N, 2, zero, 300, 1, 0.05, mean_diff, &same, b1, &e), 0);
    CHECK_NEAR(b1[0].p, 1, 0);
    CHECK_NEAR(b1[0].se, 0, 0);
    /* a callback error stops the bootstrap and is passed on */
    pairs bad = {x, y, 0, 5};
    CHECK_INT(stats_paired_bootstrap(N, 2, obs, 100, 1, 0.05, mean_diff, &bad, b1, &e),
              ERR_INTERNAL);
    CHECK_STR(e.msg, "callback failed");
    CHECK_INT(bad.calls, 5);
    /* nothing to resample: NaN, never a call */
    pairs none = {x, y, 0, 1};
    CHECK_INT(stats_paired_bootstrap(0, 2, obs, 100, 1, 0.05, mean_diff, &none, b1, &e), 0);
    CHECK(isnan(b1[0].p) && none.calls == 0);
}

int main(void)
{
    RUN(test_stats__normal);
    RUN(test_stats__mcnemar_golden);
    RUN(test_stats__min_gap);
    RUN(test_stats__wilson);
    RUN(test_stats__paired_diff);
    RUN(test_stats__holm);
    RUN(test_stats__bootstrap);
    return test_report();
}
