/* test_sampler.c: each filter against a plain sort-based reference, the penalty, and
 * seeded sampling (determinism, support, frequencies). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/sampler.h"
#include "common/util.h"
#include "test.h"

/* Sort order of the filters: value descending, id ascending. */
static const float *cmp_val;
static int cmp_order(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (cmp_val[x] > cmp_val[y]) return -1;
    if (cmp_val[x] < cmp_val[y]) return 1;
    return x < y ? -1 : x > y;
}

/* ids sorted by the filters' order over v[0..n) */
static void sorted_ids(const float *v, size_t n, int32_t *out)
{
    for (size_t i = 0; i < n; i++) out[i] = (int32_t)i;
    cmp_val = v;
    qsort(out, n, sizeof *out, cmp_order);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

/* random values with many ties (few distinct levels) when `ties` */
static void fill(rng *r, float *v, size_t n, bool ties)
{
    for (size_t i = 0; i < n; i++) v[i] = ties ? (float)(rng_next(r) % 7) : (float)rng_normal(r);
}

static void test_sampler__argmax(void)
{
    float v[6] = {1, 3, NAN, 3, -2, 0};
    CHECK_INT(sampler_argmax(v, 6), 1); /* lowest id of the tie */
    float w[3] = {NAN, -INFINITY, NAN};
    CHECK_INT(sampler_argmax(w, 3), 1);
    float z[2] = {NAN, NAN};
    CHECK_INT(sampler_argmax(z, 2), 0);
    float one[1] = {-5};
    CHECK_INT(sampler_argmax(one, 1), 0);
}

static void test_sampler__top_k(void)
{
    rng r;
    rng_seed(&r, 7);
    enum { N = 300 };
    float v[N], val[N];
    int32_t id[N], ref[N], got[N];
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + rng_next(&r) % N, k = rng_next(&r) % (n + 3);
        fill(&r, v, n, trial % 2);
        for (size_t i = 0; i < n; i++) {
            val[i] = v[i];
            id[i] = (int32_t)i;
        }
        /* shuffle the candidates so the input order does not help */
        for (size_t i = n; i > 1; i--) {
            size_t j = rng_next(&r) % i;
            float tv = val[i - 1];
            val[i - 1] = val[j];
            val[j] = tv;
            int32_t ti = id[i - 1];
            id[i - 1] = id[j];
            id[j] = ti;
        }
        size_t kept = sampler_top_k(val, id, n, k);
        CHECK_INT(kept, k < n ? k : n);
        sorted_ids(v, n, ref);
        memcpy(got, id, kept * sizeof *got);
        qsort(got, kept, sizeof *got, cmp_i32);
        qsort(ref, kept, sizeof *ref, cmp_i32);
        CHECK(memcmp(got, ref, kept * sizeof *got) == 0);
        for (size_t i = 0; i < kept; i++) CHECK(val[i] == v[id[i]]);
    }
}

static void test_sampler__top_p(void)
{
    rng r;
    rng_seed(&r, 11);
    enum { N = 200 };
    float v[N], val[N];
    int32_t id[N], ref[N], got[N];
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rng_next(&r) % N;
        fill(&r, v, n, trial % 3 == 0);
        /* a distribution */
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += (v[i] = expf(v[i] * 2));
        for (size_t i = 0; i < n; i++) v[i] = (float)(v[i] / sum);
        float p = trial % 10 == 0 ? 1.0f : (float)rng_uniform(&r);
        for (size_t i = 0; i < n; i++) {
            val[i] = v[i];
            id[i] = (int32_t)i;
        }
        size_t kept = sampler_top_p(val, id, n, p);
        /* reference: the sorted prefix until the running sum reaches p */
        sorted_ids(v, n, ref);
        size_t want = 0;
        double run = 0;
        while (want < n && (want == 0 || run < p)) run += v[ref[want++]];
        CHECK_MSG(kept == want || (kept + 1 == want && fabs(run - p) < 1e-5) ||
                      (kept == want + 1 && fabs(run - p) < 1e-5),
                  "n %zu p %g kept %zu want %zu", n, p, kept, want);
        size_t m = kept < want ? kept : want;
        memcpy(got, id, m * sizeof *got);
        qsort(got, m, sizeof *got, cmp_i32);
        qsort(ref, m, sizeof *ref, cmp_i32);
        CHECK(memcmp(got, ref, m * sizeof *got) == 0);
    }
    /* p = 0 keeps the single most probable token */
    float d[4] = {0.1f, 0.4f, 0.4f, 0.1f};
    int32_t di[4] = {0, 1, 2, 3};
    CHECK_INT(sampler_top_p(d, di, 4, 0), 1);
    CHECK_INT(di[0], 1);
}

static void test_sampler__penalty(void)
{
    float v[6] = {2, -2, 1, 0, 4, -1};
    uint8_t seen[6] = {0};
    int32_t hist[7] = {4, 0, 1, 0, 0, 9, -3}; /* 0 three times, out-of-range ids ignored */
    sampler_penalize(v, 6, hist, 7, -1, 2.0f, seen);
    CHECK(v[0] == 1.0f);  /* positive: divided once, not three times */
    CHECK(v[1] == -4.0f); /* negative: multiplied */
    CHECK(v[2] == 1.0f);
    CHECK(v[4] == 2.0f);
    CHECK(v[5] == -1.0f);
    for (int i = 0; i < 6; i++) CHECK(seen[i] == 0);
    /* only the last 2 tokens of the history */
    float w[6] = {2, -2, 1, 0, 4, -1};
    sampler_penalize(w, 6, hist, 5, 2, 2.0f, seen);
    CHECK(w[0] == 1.0f && w[1] == -2.0f && w[4] == 4.0f);
    /* penalty 1 changes nothing */
    float x[6] = {2, -2, 1, 0, 4, -1};
    sampler_penalize(x, 6, hist, 5, -1, 1.0f, seen);
    CHECK(x[0] == 2 && x[1] == -2 && x[4] == 4);
    /* greedy sees the penalty: 0 was the best until penalised */
    sampler s = SAMPLER_INIT;
    CHECK(sampler_init(&s, 3, NULL) == 0);
    sampler_params p;
    sampler_params_default(&p);
    p.repeat_penalty = 3.0f;
    sampler_reset(&s, &p);
    float y[3] = {3, 2, 0};
    int32_t h1[1] = {0};
    CHECK_INT(sampler_sample(&s, y, h1, 1), 1);
    sampler_release(&s);
}

/* Samples `n_draws` tokens from fixed logits. */
static void draws(sampler *s, const float *logits, size_t n, int32_t *out, size_t n_draws)
{
    float tmp[64];
    for (size_t i = 0; i < n_draws; i++) {
        memcpy(tmp, logits, n * sizeof *tmp);
        out[i] = sampler_sample(s, tmp, NULL, 0);
    }
}

static void test_sampler__seeded(void)
{
    enum { V = 8, D = 4000 };
    const float logits[V] = {1.0f, 2.0f, 0.5f, -1.0f, 2.0f, 0.0f, -3.0f, 1.5f};
    sampler s = SAMPLER_INIT;
    err e = ERR_INIT;
    CHECK(sampler_init(&s, V, &e) == 0);
    CHECK(sampler_init(&(sampler)SAMPLER_INIT, 0, &e) == ERR_INVALID);
    sampler_params p;
    sampler_params_default(&p);
    static int32_t a[D], b[D], c[D];

    /* the same seed, the same tokens; another seed, others */
    p.temperature = 1.0f;
    p.seed = 42;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    sampler_reset(&s, &p);
    draws(&s, logits, V, b, D);
    CHECK(memcmp(a, b, sizeof a) == 0);
    p.seed = 43;
    sampler_reset(&s, &p);
    draws(&s, logits, V, c, D);
    CHECK(memcmp(a, c, sizeof a) != 0);

    /* frequencies follow softmax(logits / T) (fixed seed: this cannot flake) */
    double z = 0, prob[V];
    for (int i = 0; i < V; i++) z += (prob[i] = exp(logits[i]));
    int count[V] = {0};
    for (int i = 0; i < D; i++) count[a[i]]++;
    for (int i = 0; i < V; i++) {
        double want = prob[i] / z * D, sd = sqrt(want) + 1;
        CHECK_MSG(fabs(count[i] - want) < 5 * sd, "token %d: %d draws, expected %.0f", i, count[i],
                  want);
    }

    /* greedy: temperature 0 ignores the other filters */
    p.temperature = 0;
    p.top_k = 3;
    p.top_p = 0.5f;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, 10);
    for (int i = 0; i < 10; i++) CHECK_INT(a[i], 1);

    /* top-k 2: only the two best (ids 1 and 4, equal) */
    sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 2;
    p.seed = 5;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    int n1 = 0, n4 = 0;
    for (int i = 0; i < D; i++) {
        CHECK(a[i] == 1 || a[i] == 4);
        n1 += a[i] == 1;
        n4 += a[i] == 4;
    }
    CHECK(n1 > D / 3 && n4 > D / 3);
    /* top-k 1 is greedy */
    p.top_k = 1;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, 50);
    for (int i = 0; i < 50; i++) CHECK_INT(a[i], 1);

    /* top-p 0.5 at T = 1: the nucleus {1, 4} holds 2 * 0.26 = 0.52 */
    sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_p = 0.5f;
    p.seed = 9;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    for (int i = 0; i < D; i++) CHECK(a[i] == 1 || a[i] == 4);
    /* top-p 0.6 adds id 7 (logit 1.5) */
    p.top_p = 0.6f;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    int n7 = 0;
    for (int i = 0; i < D; i++) {
        CHECK(a[i] == 1 || a[i] == 4 || a[i] == 7);
        n7 += a[i] == 7;
    }
    CHECK(n7 > 0);

    /* min-p 0.5: keeps p >= 0.5 p_max, i.e. logits >= 2 - ln 2 (ids 1, 4, 7) */
    sampler_params_default(&p);
    p.temperature = 1.0f;
    p.min_p = 0.5f;
    p.seed = 3;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    for (int i = 0; i < D; i++) CHECK(a[i] == 1 || a[i] == 4 || a[i] == 7);
    /* min-p above 1 keeps the most probable ones only */
    p.min_p = 2.0f;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, 100);
    for (int i = 0; i < 100; i++) CHECK(a[i] == 1 || a[i] == 4);

    /* a low temperature sharpens, a high one flattens */
    sampler_params_default(&p);
    p.temperature = 0.05f;
    p.seed = 1;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    int best = 0;
    for (int i = 0; i < D; i++) best += a[i] == 1 || a[i] == 4;
    CHECK(best == D);
    p.temperature = 100.0f;
    sampler_reset(&s, &p);
    draws(&s, logits, V, a, D);
    int n6 = 0;
    for (int i = 0; i < D; i++) n6 += a[i] == 6;
    CHECK(n6 > D / 16);

    /* NaN and -inf logits are never drawn */
    float odd[V] = {NAN, 1, -INFINITY, 1, NAN, 1, 1, 1};
    p.temperature = 1.0f;
    sampler_reset(&s, &p);
    draws(&s, odd, V, a, 500);
    for (int i = 0; i < 500; i++) CHECK(a[i] != 0 && a[i] != 2 && a[i] != 4);

    sampler_release(&s);
    sampler_release(&s);
}

int main(void)
{
    RUN(test_sampler__argmax);
    RUN(test_sampler__top_k);
    RUN(test_sampler__top_p);
    RUN(test_sampler__penalty);
    RUN(test_sampler__seeded);
    return test_report();
}
