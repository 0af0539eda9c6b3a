/* score.h: what a scorer sees and what it returns, and the sample outcomes.
 *
 * The harness reads samples.jsonl into sample_views (one per completion) and
 * hands them to the task's scorer in batches; the scorer fills one
 * score_record per sample. Every sample ends in exactly one outcome.
 * Instrument failures (api_error, timeout, truncated) are the harness's or
 * the server's fault rather than the model's answer; results.json reports them
 * apart and gives accuracy both over all samples and over the clean ones.
 *
 * Memory: strings in a score_record live in the arena passed to the scorer;
 * `fields` is a cJSON object owned by the record (score_record_release frees it).
 */
#ifndef TALLY_SCORERS_SCORE_H
#define TALLY_SCORERS_SCORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"
#include "datasets/dataset.h"

typedef enum outcome {
    OUTCOME_CORRECT = 0,
    OUTCOME_WRONG,
    OUTCOME_NO_ANSWER,   /* nothing could be extracted from the completion */
    OUTCOME_TRUNCATED,   /* not correct, and generation hit the token cap */
    OUTCOME_TIMEOUT,     /* a program (or a request) ran out of time */
    OUTCOME_KILLED,      /* a sandbox limit other than time (memory, output, files) */
    OUTCOME_API_ERROR,   /* generation failed: there is no completion to score */
    OUTCOME_PARSE_ERROR, /* a tool call that could not be decoded */
    OUTCOME_COUNT
} outcome;

/* "correct", "wrong", ... (the names of DESIGN.md). */
const char *outcome_name(int o);
/* The outcome for a name, or -1. */
int outcome_from_name(const char *s);
/* api_error, timeout and truncated: failures of the instrument, not answers. */
bool outcome_is_instrument_failure(int o);

/* Generation error kinds as recorded in samples.jsonl (mirror runners/runner.h). */
enum sample_error_kind {
    SAMPLE_OK = 0,
    SAMPLE_ERR_API = 1,
    SAMPLE_ERR_TIMEOUT = 2,
    SAMPLE_ERR_PARSE = 3,
    SAMPLE_ERR_MISSING = 4,
};

typedef struct sample_view {
    const item *it;             /* the dataset item */
    int sample;                 /* sample index */
    const char *completion;     /* the text ("" when none) */
    const char *reasoning;      /* separate reasoning text, or NULL */
    const cJSON *tool_calls;    /* array of {"name", "arguments"} or NULL */
    const char *finish_reason;  /* "stop", "length", ... */
    const char *error;          /* generation error, NULL when generation succeeded */
    int error_kind;             /* enum sample_error_kind */
} sample_view;

typedef struct score_record {
    int outcome;        /* enum outcome */
    double score;       /* in [0, 1]; the sample's contribution to the first metric */
    const char *reason; /* why (which instruction failed, the exception), or NULL */
    cJSON *fields;      /* task fields ("metrics", "strict", "category", ...), or NULL */
} score_record;

void score_record_release(score_record *r);

/* What a scorer and an aggregator get besides the samples. */
typedef struct score_ctx {
    const task_options *o;
    const char *arg;  /* the task row's argument (a BFCL category...), or NULL */
    arena *a;         /* for reason strings; lives until the results are written */
    cJSON *info;      /* object: run-level facts to record in results.json
                       * ("sandbox": "ns+seccomp", "python": "3.11.2", ...) */
} score_ctx;

/* Scores n samples into out[0..n). A sample with an error gets api_error
 * (or timeout) without being looked at. */
typedef int (*task_score_fn)(const score_ctx *c, const sample_view *s, size_t n,
                             score_record *out, err *e);

/* Computes the task's metrics from all samples and their records into `metrics`
 * (an object NAME -> {"value","n","stderr","ci95"}; see metric.h). */
typedef int (*task_aggregate_fn)(const score_ctx *c, const sample_view *s,
                                 const score_record *r, size_t n, cJSON *metrics, err *e);

/* The outcome of a sample whose generation failed, or -1 when it did not. */
int score_generation_failure(const sample_view *s);

#endif
