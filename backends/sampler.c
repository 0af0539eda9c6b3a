/* sampler.c: greedy, temperature, top-k, top-p, min-p and the repetition penalty. */
#include "backends/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sampler_params_default(sampler_params *p)
{
    memset(p, 0, sizeof *p);
    p->top_p = 1.0f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
}

int sampler_init(sampler *s, size_t n_vocab, err *e)
{
    memset(s, 0, sizeof *s);
    if (n_vocab == 0 || n_vocab > (1u << 26))
        return err_set(e, ERR_INVALID, "sampler: a vocabulary of %zu tokens", n_vocab);
    s->val = malloc(n_vocab * sizeof *s->val);
    s->id = malloc(n_vocab * sizeof *s->id);
    s->seen = calloc(n_vocab, 1);
    if (!s->val || !s->id || !s->seen) {
        sampler_release(s);
        return err_set(e, ERR_NOMEM, "sampler: out of memory for %zu tokens", n_vocab);
    }
    s->n_vocab = n_vocab;
    sampler_params p;
    sampler_params_default(&p);
    sampler_reset(s, &p);
    return 0;
}

void sampler_release(sampler *s)
{
    free(s->val);
    free(s->id);
    free(s->seen);
    s->val = NULL;
    s->id = NULL;
    s->seen = NULL;
    s->n_vocab = 0;
}

void sampler_reset(sampler *s, const sampler_params *p)
{
    s->p = *p;
    rng_seed(&s->r, p->seed);
}

int32_t sampler_argmax(const float *logits, size_t n)
{
    size_t best = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(logits[i])) continue;
        if (!found || logits[i] > logits[best]) {
            best = i;
            found = true;
        }
    }
    return (int32_t)best;
}

void sampler_penalize(float *logits, size_t n, const int32_t *hist, size_t n_hist, int last_n,
                      float penalty, uint8_t *seen)
{
    if (penalty == 1.0f || !hist || n_hist == 0) return;
    size_t from = last_n < 0 || (size_t)last_n >= n_hist ? 0 : n_hist - (size_t)last_n;
    /* each distinct token once */
    for (size_t i = from; i < n_hist; i++) {
        int32_t t = hist[i];
        if (t < 0 || (size_t)t >= n || seen[t]) continue;
        seen[t] = 1;
        logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
    }
    for (size_t i = from; i < n_hist; i++)
        if (hist[i] >= 0 && (size_t)hist[i] < n) seen[hist[i]] = 0;
}

/* ---- selection by (value descending, id ascending), a strict total order ---- */

static inline bool before(const float *val, const int32_t *id, size_t a, size_t b)
{
    return val[a] > val[b] || (val[a] == val[b] && id[a] < id[b]);
}

static inline void swap_at(float *val, int32_t *id, size_t a, size_t b)
{
    float v = val[a];
    val[a] = val[b];
    val[b] = v;
    int32_t i = id[a];
    id[a] = id[b];
    id[b] = i;
}

/* Partitions [lo, hi) (hi - lo >= 2) around a median-of-three pivot: [lo, p) come before
 * it, p is the pivot, (p, hi) after. Returns p. */
static size_t partition(float *val, int32_t *id, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    /* median of lo, mid, last into `last` */
    if (before(val, id, mid, lo)) swap_at(val, id, mid, lo);
    if (before(val, id, last, lo)) swap_at(val, id, last, lo);
    if (before(val, id, mid, last)) swap_at(val, id, mid, last);
    size_t store = lo;
    for (size_t j = lo; j < last; j++)
        if (before(val, id, j, last)) swap_at(val, id, store++, j);
    swap_at(val, id, store, last);
    return store;
}

size_t sampler_top_k(float *val, int32_t *id, size_t n, size_t k)
{
    if (k >= n) return n;
    if (k == 0) return 0;
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t p = partition(val, id, lo, hi);
        if (p == k || p + 1 == k) break;
        if (p > k)
            hi = p;
        else
            lo = p + 1;
    }
    return k;
}

size_t sampler_top_p(float *val, int32_t *id, size_t n, float p)
{
    if (n == 0) return 0;
    if (!(p > 0)) return sampler_top_k(val, id, n, 1);
    /* [0, lo) kept, [lo, hi) undecided, [hi, n) dropped; `need` is still to cover */
    double need = p;
    size_t lo = 0, hi = n;
    while (hi > lo && need > 0) {
        if (hi - lo == 1) {
            lo++;
            break;
        }
        size_t piv = partition(val, id, lo, hi);
        double left = 0;
        for (size_t i = lo; i < piv; i++) left += val[i];
        if (left >= need) {
            hi = piv;
        } else {
            need -= left + val[piv];
            lo = piv + 1;
        }
    }
    return lo ? lo : 1;
}

int32_t sampler_sample(sampler *s, float *logits, const int32_t *history, size_t n_history)
{
    const sampler_params *p = &s->p;
    const size_t n = s->n_vocab;
    sampler_penalize(logits, n, history, n_history, p->repeat_last_n, p->repeat_penalty, s->seen);
    if (!(p->temperature > 0)) return sampler_argmax(logits, n);

    /* candidates: every token with a number for a logit, scaled by 1/T */
    float *val = s->val;
    int32_t *id = s->id;
    size_t nc = 0;
    const float inv_t = 1.0f / p->temperature;
    for (size_t i = 0; i < n; i++) {
        if (isnan(logits[i])) continue;
        val[nc] = logits[i] * inv_t;
        id[nc++] = (int32_t)i;
    }
    if (nc == 0) return 0;
    if (p->top_k > 0) nc = sampler_top_k(val, id, nc, (size_t)p->top_k);

    /* softmax */
    float mx = -INFINITY;
    for (size_t i = 0; i < nc; i++)
        if (val[i] > mx) mx = val[i];
    if (mx == -INFINITY) return sampler_argmax(logits, n);
    double sum = 0;
    for (size_t i = 0; i < nc; i++) {
        val[i] = expf(val[i] - mx);
        sum += val[i];
    }
    for (size_t i = 0; i < nc; i++) val[i] = (float)(val[i] / sum);

    if (p->top_p < 1.0f) nc = sampler_top_p(val, id, nc, p->top_p);
    if (p->min_p > 0) {
        float pmax = 0;
        for (size_t i = 0; i < nc; i++)
            if (val[i] > pmax) pmax = val[i];
        float floor_p = p->min_p * pmax;
        if (floor_p > pmax) floor_p = pmax; /* min_p > 1 keeps the most probable */
        size_t k = 0;
        for (size_t i = 0; i < nc; i++)
            if (val[i] >= floor_p) {
                val[k] = val[i];
                id[k++] = id[i];
            }
        nc = k;
    }

    /* draw */
    double total = 0;
    for (size_t i = 0; i < nc; i++) total += val[i];
    double u = rng_uniform(&s->r) * total, cum = 0;
    for (size_t i = 0; i < nc; i++) {
        cum += val[i];
        if (u < cum) return id[i];
    }
    return id[nc - 1];
}
