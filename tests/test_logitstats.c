/* test_logitstats.c: KL divergence, greedy choices and NLLs of two logit rows against
 * closed forms and a long-double reference computed the textbook way. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backends/logitstats.h"
#include "backends/sampler.h"
#include "common/util.h"
#include "test.h"

/* KL(P || Q) straight from the definition, softmax by exp / sum in long double. */
static long double kl_naive(const float *b, const float *q, size_t n)
{
    long double mb = -INFINITY, mq = -INFINITY, sb = 0, sq = 0, kl = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] > mb) mb = b[i];
        if (q[i] > mq) mq = q[i];
    }
    for (size_t i = 0; i < n; i++) {
        sb += expl(b[i] - mb);
        sq += expl(q[i] - mq);
    }
    for (size_t i = 0; i < n; i++) {
        long double p = expl(b[i] - mb) / sb, qq = expl(q[i] - mq) / sq;
        if (p > 0) kl += p * logl(p / qq);
    }
    return kl;
}

static void fill_random(float *x, size_t n, rng *r, double scale)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(r) * scale);
}

static void test_logitstats__identical_rows_are_exactly_zero(void)
{
    logitstats ls = LOGITSTATS_INIT;
    err e = ERR_INIT;
    enum { V = 5000 };
    static float b[V];
    rng r;
    rng_seed(&r, 7);
    CHECK_INT(logitstats_init(&ls, V, &e), 0);
    for (int rep = 0; rep < 20; rep++) {
        fill_random(b, V, &r, 1 + rep);
        logit_cmp c;
        int32_t next = (int32_t)(rng_next(&r) % V);
        CHECK_INT(logitstats_compare(&ls, b, b, next, &c, &e), 0);
        CHECK(c.kl == 0); /* exactly, not nearly */
        CHECK_INT(c.top_base, c.top_quant);
        CHECK(c.nll_base == c.nll_quant);
        CHECK(c.nll_base > 0);
    }
    logitstats_release(&ls);
    logitstats_release(&ls); /* twice is safe */
}

static void test_logitstats__two_tokens_closed_form(void)
{
    /* P = (1/4, 3/4) from logits (0, log 3); Q uniform:
     * KL = 1/4 log(1/2) + 3/4 log(3/2) = 0.13081203594113694 */
    logitstats ls = LOGITSTATS_INIT;
    err e = ERR_INIT;
    CHECK_INT(logitstats_init(&ls, 2, &e), 0);
    float b[2] = {0, (float)log(3.0)}, q[2] = {5, 5};
    logit_cmp c;
    CHECK_INT(logitstats_compare(&ls, b, q, 0, &c, &e), 0);
    CHECK_NEAR(c.kl, 0.25 * log(0.5) + 0.75 * log(1.5), 1e-7);
    CHECK_NEAR(c.kl, 0.13081203594113694, 1e-7);
    CHECK_INT(c.top_base, 1);
    CHECK_INT(c.top_quant, 0); /* a tie: the lower id, as the greedy sampler */
    CHECK_NEAR(c.nll_base, log(4.0), 1e-7);
    CHECK_NEAR(c.nll_quant, log(2.0), 1e-12);
    /* the other way round: KL(Q || P) = 1/2 log(2) + 1/2 log(2/3) */
    CHECK_INT(logitstats_compare(&ls, q, b, -1, &c, &e), 0);
    CHECK_NEAR(c.kl, 0.5 * log(2.0) + 0.5 * log(2.0 / 3.0), 1e-7);
    CHECK(isnan(c.nll_base) && isnan(c.nll_quant));
    logitstats_release(&ls);
}

static void test_logitstats__matches_long_double_reference(void)
{
    logitstats ls = LOGITSTATS_INIT;
    err e = ERR_INIT;
    enum { V = 3000 };
    static float b[V], q[V];
    rng r;
    rng_seed(&r, 11);
    CHECK_INT(logitstats_init(&ls, V, &e), 0);
    for (int rep = 0; rep < 40; rep++) {
        double scale = 0.5 + rep * 0.25, noise = rep % 2 ? 1e-3 : 0.3;
        fill_random(b, V, &r, scale);
        for (size_t i = 0; i < V; i++) q[i] = b[i] + (float)(rng_normal(&r) * noise);
        int32_t next = (int32_t)(rng_next(&r) % V);
        logit_cmp c;
        CHECK_INT(logitstats_compare(&ls, b, q, next, &c, &e), 0);
        long double want = kl_naive(b, q, V);
        CHECK_MSG(fabsl((long double)c.kl - want) <= 1e-9L * (1 + want), "rep %d: %.17g vs %.17Lg",
                  rep, c.kl, want);
        CHECK(c.kl >= 0);
        CHECK_INT(c.top_base, sampler_argmax(b, V));
        CHECK_INT(c.top_quant, sampler_argmax(q, V));
        /* NLL = log sum exp(b) - b[next] */
        long double s = 0;
        for (size_t i = 0; i < V; i++) s += expl((long double)b[i]);
        CHECK_NEAR(c.nll_base, (double)(logl(s) - b[next]), 1e-9);
    }
    logitstats_release(&ls);
}

static void test_logitstats__shift_invariant_and_no_overflow(void)
{
    logitstats ls = LOGITSTATS_INIT;
    err e = ERR_INIT;
    enum { V = 1000 };
    static float b[V], q[V], b2[V], q2[V];
    rng r;
    rng_seed(&r, 3);
    CHECK_INT(logitstats_init(&ls, V, &e), 0);
    fill_random(b, V, &r, 2);
    fill_random(q, V, &r, 2);
    for (size_t i = 0; i < V; i++) {
        b2[i] = b[i] + 5000; /* exp(5000) overflows: only log-sum-exp survives this */
        q2[i] = q[i] - 3000;
    }
    logit_cmp c1, c2;
    CHECK_INT(logitstats_compare(&ls, b, q, 17, &c1, &e), 0);
    CHECK_INT(logitstats_compare(&ls, b2, q2, 17, &c2, &e), 0);
    CHECK(isfinite(c2.kl));
    /* float logits near 5000 keep ~3 decimal digits: the shifted rows are rounded */
    CHECK_NEAR(c1.kl, c2.kl, 1e-2 * c1.kl);
    CHECK_NEAR(c1.nll_base, c2.nll_base, 1e-3);
    logitstats_release(&ls);
}

static void test_logitstats__infinities(void)
{
    logitstats ls = LOGITSTATS_INIT;
    err e = ERR_INIT;
    CHECK_INT(logitstats_init(&ls, 3, &e), 0);
    logit_cmp c;
    /* -inf in the base: a probability of 0, no contribution */
    float b[3] = {1, 2, -INFINITY}, q[3] = {1, 2, 7};
    CHECK_INT(logitstats_compare(&ls, b, q, 0, &c, &e), 0);
    CHECK(isfinite(c.kl) && c.kl > 0);
    /* -inf in the quant where the base has mass: KL is infinite */
    float b2[3] = {1, 2, 3}, q2[3] = {1, 2, -INFINITY};
    CHECK_INT(logitstats_compare(&ls, b2, q2, 2, &c, &e), 0);
    CHECK(isinf(c.kl));
    CHECK(isinf(c.nll_quant));
    logitstats_release(&ls);
}

static void test_logitstats__bad_input(void)
{
    logitstats ls = LOGITSTATS_INIT;
    err e = ERR_INIT;
    logit_cmp c;
    float ok[3] = {0, 1, 2};
    CHECK_INT(logitstats_compare(&ls, ok, ok, 0, &c, &e), ERR_INVALID); /* not initialised */
    CHECK_INT(logitstats_init(&ls, 0, &e), ERR_INVALID);
    CHECK_INT(logitstats_init(&ls, 3, &e), 0);
    float nan_row[3] = {0, NAN, 2}, inf_row[3] = {0, 1, INFINITY};
    float ninf[3] = {-INFINITY, -INFINITY, -INFINITY};
    err_clear(&e);
    CHECK_INT(logitstats_compare(&ls, nan_row, ok, 0, &c, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "base logit 1 is nan") != NULL);
    err_clear(&e);
    CHECK_INT(logitstats_compare(&ls, ok, inf_row, 0, &c, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "quant logit 2 is +inf") != NULL);
    CHECK_INT(logitstats_compare(&ls, ninf, ok, 0, &c, &e), ERR_INVALID);
    CHECK_INT(logitstats_compare(&ls, ok, ok, 3, &c, &e), ERR_INVALID);
    CHECK_INT(logitstats_compare(&ls, ok, ok, 2, &c, &e), 0);
    logitstats_release(&ls);
}

int main(void)
{
    RUN(test_logitstats__identical_rows_are_exactly_zero);
    RUN(test_logitstats__two_tokens_closed_form);
    RUN(test_logitstats__matches_long_double_reference);
    RUN(test_logitstats__shift_invariant_and_no_overflow);
    RUN(test_logitstats__infinities);
    RUN(test_logitstats__bad_input);
    return test_report();
}
