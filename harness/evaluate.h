/* evaluate.h: what `tally run`, `score`, `compare` and `diff` share: choosing
 * the items (--ids, --limit, --shard), turning stored samples into scores and
 * metrics (in memory, or written as scores.jsonl and results.json), reading
 * scores.jsonl back into records, the task options a manifest records, and
 * printing the table.
 *
 * Order for in-memory scoring: eval_score_samples -> eval_results_json /
 * eval_scores_jsonl -> eval_scored_release. eval_score does all of it and
 * writes the files.
 */
#ifndef TALLY_HARNESS_EVALUATE_H
#define TALLY_HARNESS_EVALUATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "rundir.h"
#include "task.h"

typedef struct selection {
    const char *ids;   /* "a,b,c" or "@FILE" (ids separated by commas or newlines), or NULL */
    int limit;         /* first N items (after --ids); 0 = all */
    const char *shard; /* "I/N": items whose position % N == I (after --limit), or NULL */
} selection;

/* Picks the items of `all` the selection names, in dataset order, into an
 * array in `a`. Unknown ids are an error that names them. */
int eval_select(const item_set *all, const selection *sel, arena *a, const item ***out,
                size_t *n_out, err *e);
/* The selection as it goes into the manifest. */
cJSON *eval_selection_json(const selection *sel, size_t n_items);

/* sha256 of the prompt as the runner receives it (raw text, or a canonical
 * serialisation of messages, prefix and tools). */
void eval_prompt_sha256(const prompt *p, char hex[65]);
/* Cuts `text` at the first occurrence of any stop string (in place). */
void eval_cut_at_stop(char *text, const prompt *p);

/* Samples scored in memory. `views` borrow the sample store's lines and the
 * items (keep both alive); `recs` own their fields; reason strings and the
 * scorer's scratch live in `a`; `info` is what the scorer recorded. */
typedef struct eval_scored {
    sample_view *views;
    score_record *recs;
    size_t n;
    size_t counts[OUTCOME_COUNT];
    size_t n_fail; /* instrument failures */
    arena a;
    cJSON *info;
} eval_scored;

#define EVAL_SCORED_INIT {NULL, NULL, 0, {0}, 0, ARENA_INIT, NULL}

/* Scores every (item, sample) of the selection from `st` (a wrong answer cut
 * by the token cap becomes truncated). `where` names the run in messages. */
int eval_score_samples(const task_def *t, const task_options *o, const item *const *items,
                       size_t n_items, int samples, const sample_store *st, const char *where,
                       eval_scored *out, err *e);
/* The results object of scored samples (caller frees *out). */
int eval_results_json(const task_def *t, const task_options *o, eval_scored *s, size_t n_items,
                      const char *run_label, cJSON **out, err *e);
/* Appends the scores.jsonl lines of scored samples. */
int eval_scores_jsonl(const eval_scored *s, buf *lines, err *e);
void eval_scored_release(eval_scored *s);

/* The task's aggregate, or the default one (per declared metric, the share of
 * samples whose outcome for it, "metrics"[NAME] or else the record's, is correct). */
int eval_aggregate(const task_def *t, const score_ctx *c, const sample_view *v,
                   const score_record *r, size_t n, cJSON *metrics, err *e);

/* Scores every (item, sample) of the selection from `st`, writes scores.jsonl
 * and results.json into `d`, and returns the results object in *out (caller
 * frees). `run_label` is recorded as "run". A (item, sample) missing from the
 * store is an error. */
int eval_score(const task_def *t, const task_options *o, rundir *d, const item *const *items,
               size_t n_items, int samples, const sample_store *st, const char *run_label,
               cJSON **out, err *e);

/* scores.jsonl read back: one record per line (outcome, score, reason, and
 * every other field as `fields`), with a view that carries only the item
 * (id; index = order of first appearance; data NULL) and the sample index.
 * Lines must be whole JSON objects with "id", "sample" and a known
 * "outcome": anything else is an error naming file:line. */
typedef struct eval_loaded {
    item *items; /* distinct ids, in file order */
    size_t n_items;
    sample_view *views;
    score_record *recs;
    size_t n;
    arena a; /* ids and reasons */
} eval_loaded;

#define EVAL_LOADED_INIT {NULL, 0, NULL, NULL, 0, ARENA_INIT}

int eval_load_scores(const char *path, eval_loaded *out, err *e);
void eval_loaded_release(eval_loaded *l);

/* Command-line values that override what a manifest recorded (NULL / 0 = keep). */
typedef struct eval_overrides {
    const char *data_dir, *ifeval_mode, *python, *cache_dir;
    int jobs;
    double exec_timeout;
    const char *langdetect_dir; /* NULL = $TALLY_LANGDETECT_PROFILES, then the scorer's default */
    const char *sandbox_mode;   /* NULL = the run's (manifest scoring.sandbox_mode), else auto */
} eval_overrides;

/* The task options a run was made with, from its manifest, then the
 * overrides. Strings it makes live in `a`. */
void eval_options_from_manifest(const cJSON *m, const eval_overrides *ov, arena *a,
                                task_options *o);

/* The table of a results object: one row per metric with its value, 95% CI and n. */
void eval_print_results(FILE *f, const task_def *t, const cJSON *results, const char *label);

/* Host facts for the manifest (hostname, CPU model, cores, kernel). */
cJSON *eval_host_json(void);

#endif
