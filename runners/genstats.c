/* genstats.c: counts, rates and latency percentiles of a run's generation. */
#include "genstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

static int add_latency(gen_stats *s, double ms)
{
    if (!(ms >= 0) || !isfinite(ms)) return 0;
    if (s->n_latency == s->cap_latency) {
        size_t nc = s->cap_latency ? s->cap_latency * 2 : 256;
        double *nl = realloc(s->latency_ms, nc * sizeof *nl);
        if (!nl) return ERR_NOMEM;
        s->latency_ms = nl;
        s->cap_latency = nc;
    }
    s->latency_ms[s->n_latency++] = ms;
    return 0;
}

int gen_stats_add(gen_stats *s, const gen_response *r)
{
    s->n++;
    if (r->error) s->errors++;
    if (r->attempts > 1) s->retries += (size_t)(r->attempts - 1);
    if (r->prompt_tokens > 0) s->prompt_tokens += r->prompt_tokens;
    if (r->completion_tokens > 0) s->completion_tokens += r->completion_tokens;
    return add_latency(s, r->latency_ms);
}

int gen_stats_add_record(gen_stats *s, const cJSON *rec)
{
    gen_response r;
    memset(&r, 0, sizeof r);
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(rec, "error");
    r.error = cJSON_IsString(er) ? er->valuestring : NULL;
    double a = json_num_at(rec, "attempts", NULL, 1);
    r.attempts = a >= 0 && a < 1e9 ? (int)a : 1;
    double pt = json_num_at(rec, "prompt_tokens", NULL, -1),
           ct = json_num_at(rec, "completion_tokens", NULL, -1);
    r.prompt_tokens = pt >= 0 && pt < 2e9 ? (int)pt : -1;
    r.completion_tokens = ct >= 0 && ct < 2e9 ? (int)ct : -1;
    r.latency_ms = json_num_at(rec, "latency_ms", NULL, -1);
    return gen_stats_add(s, &r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..n) with linear interpolation between ranks. */
static double quantile(const double *v, size_t n, double q)
{
    if (!n) return -1;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    double f = pos - (double)lo;
    return v[lo] + (v[hi] - v[lo]) * f;
}

void gen_stats_summary(gen_stats *s, double wall_s, gen_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = s->n;
    out->errors = s->errors;
    out->retries = s->retries;
    out->prompt_tokens = s->prompt_tokens;
    out->completion_tokens = s->completion_tokens;
    out->wall_s = wall_s;
    if (wall_s > 0) {
        out->requests_per_s = (double)s->n / wall_s;
        out->tokens_per_s = (double)s->completion_tokens / wall_s;
    }
    if (s->n_latency) qsort(s->latency_ms, s->n_latency, sizeof *s->latency_ms, cmp_double);
    out->p50_ms = quantile(s->latency_ms, s->n_latency, 0.50);
    out->p95_ms = quantile(s->latency_ms, s->n_latency, 0.95);
}

int gen_stats_format(gen_stats *s, double wall_s, buf *out)
{
    gen_summary g;
    gen_stats_summary(s, wall_s, &g);
    int rc = buf_printf(out, "%zu request%s in %.2f s: %.1f req/s, %.0f tok/s", g.n,
                        g.n == 1 ? "" : "s", g.wall_s, g.requests_per_s, g.tokens_per_s);
    if (rc == 0 && g.p50_ms >= 0)
        rc = buf_printf(out, "; latency p50 %.1f ms, p95 %.1f ms", g.p50_ms, g.p95_ms);
    if (rc == 0)
        rc = buf_printf(out, "; %zu retr%s, %zu error%s", g.retries, g.retries == 1 ? "y" : "ies",
                        g.errors, g.errors == 1 ? "" : "s");
    return rc;
}

void gen_stats_release(gen_stats *s)
{
    free(s->latency_ms);
    memset(s, 0, sizeof *s);
}
