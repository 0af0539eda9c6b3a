/* genstats.h: the figures of a run's generation, for its summary line.
 *
 * The harness adds every response it receives from a runner (in its on_done
 * callback), or every line of a samples.jsonl it reads back, then asks for
 * the summary: completions per second, completion tokens per second, p50/p95
 * latency, retries and errors. Rates are over the wall time the caller
 * measured around runner_generate.
 *
 *   gen_stats st = GEN_STATS_INIT;
 *   gen_stats_add(&st, resp);                 // once per completion
 *   gen_stats_format(&st, wall_s, &line);     // "1000 requests in 2.0 s: ..."
 *   gen_stats_release(&st);
 *
 * The stats own their latency array; gen_stats_release frees it.
 */
#ifndef TALLY_RUNNERS_GENSTATS_H
#define TALLY_RUNNERS_GENSTATS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/buf.h"
#include "runner.h"

typedef struct gen_stats {
    size_t n;                /* completions counted */
    size_t errors;           /* of which failed (error set) */
    size_t retries;          /* requests sent beyond the first, summed (attempts - 1) */
    long long prompt_tokens; /* summed over completions that report them */
    long long completion_tokens;
    double *latency_ms; /* one per completion that reports one */
    size_t n_latency, cap_latency;
} gen_stats;

#define GEN_STATS_INIT                                                                             \
    {                                                                                              \
        0, 0, 0, 0, 0, NULL, 0, 0                                                                  \
    }

typedef struct gen_summary {
    size_t n, errors, retries;
    long long prompt_tokens, completion_tokens;
    double wall_s;
    double requests_per_s; /* n / wall_s */
    double tokens_per_s;   /* completion tokens / wall_s */
    double p50_ms, p95_ms; /* latency percentiles (linear interpolation); -1 when none */
} gen_summary;

/* Counts one response. 0 or ERR_NOMEM. */
int gen_stats_add(gen_stats *s, const gen_response *r);
/* Counts one samples.jsonl record (fields "latency_ms", "attempts",
 * "prompt_tokens", "completion_tokens", "error"; missing ones are skipped). */
int gen_stats_add_record(gen_stats *s, const cJSON *rec);
/* Computes the figures (sorts the latency array in place). */
void gen_stats_summary(gen_stats *s, double wall_s, gen_summary *out);
/* Appends one line without a newline: "1000 requests in 2.00 s: 500.0 req/s,
 * 12000 tok/s; latency p50 12.3 ms, p95 40.1 ms; 31 retries, 4 errors". */
int gen_stats_format(gen_stats *s, double wall_s, buf *out);
void gen_stats_release(gen_stats *s);

#endif
