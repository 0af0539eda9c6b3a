/* logitstats.c: KL divergence, top-1 and NLL of two logit rows (see logitstats.h). */
#include "backends/logitstats.h"

#include <math.h>
#include <stdlib.h>

int logitstats_init(logitstats *ls, size_t n_vocab, err *e)
{
    logitstats_release(ls);
    if (n_vocab == 0) return err_set(e, ERR_INVALID, "logitstats: an empty vocabulary");
    ls->p = malloc(n_vocab * sizeof *ls->p);
    if (!ls->p) return err_set(e, ERR_NOMEM, "logitstats: out of memory (%zu tokens)", n_vocab);
    ls->n_vocab = n_vocab;
    return 0;
}

void logitstats_release(logitstats *ls)
{
    free(ls->p);
    ls->p = NULL;
    ls->n_vocab = 0;
}

/* The row's largest value and its first index; ERR_INVALID on NaN / +inf or no finite value. */
static int row_max(const float *x, size_t n, const char *which, double *max_out, int32_t *arg_out,
                   err *e)
{
    float m = -INFINITY;
    size_t arg = 0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (isnan(v) || v == INFINITY)
            return err_set(e, ERR_INVALID, "%s logit %zu is %s", which, i,
                           isnan(v) ? "nan" : "+inf");
        if (v > m) { /* strictly: the first of equal values wins */
            m = v;
            arg = i;
        }
    }
    if (!(m > -INFINITY)) return err_set(e, ERR_INVALID, "%s logits are all -inf", which);
    *max_out = m;
    *arg_out = (int32_t)arg;
    return 0;
}

int logitstats_compare(logitstats *ls, const float *base, const float *quant, int32_t next,
                       logit_cmp *out, err *e)
{
    const size_t n = ls->n_vocab;
    if (!ls->p) return err_set(e, ERR_INVALID, "logitstats: not initialised");
    if (next >= 0 && (size_t)next >= n)
        return err_set(e, ERR_INVALID, "logitstats: next token %d is outside the vocabulary (%zu)",
                       next, n);
    double mb = 0, mq = 0;
    int rc;
    if ((rc = row_max(base, n, "base", &mb, &out->top_base, e)) < 0) return rc;
    if ((rc = row_max(quant, n, "quant", &mq, &out->top_quant, e)) < 0) return rc;

    /* lse(b) = mb + log sum exp(b_i - mb); p_i keeps exp(b_i - mb) for the KL sum */
    double sb = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        double t = exp((double)base[i] - mb);
        ls->p[i] = t;
        sb += t;
    }
    for (size_t i = 0; i < n; i++) sq += exp((double)quant[i] - mq);
    const double lse_b = mb + log(sb), lse_q = mq + log(sq);

    /* KL = sum_i P(i) (log P(i) - log Q(i)), P(i) = p_i / sb */
    double kl = 0;
    for (size_t i = 0; i < n; i++) {
        if (ls->p[i] == 0) continue; /* P(i) = 0: no contribution, whatever Q says */
        double lp = (double)base[i] - lse_b, lq = (double)quant[i] - lse_q;
        kl += ls->p[i] * (lp - lq);
    }
    kl /= sb;
    out->kl = kl > 0 ? kl : 0; /* a sum of rounding errors around 0 is 0 */
    if (next >= 0) {
        out->nll_base = lse_b - (double)base[next];
        out->nll_quant = lse_q - (double)quant[next];
    } else {
        out->nll_base = out->nll_quant = NAN;
    }
    return 0;
}
