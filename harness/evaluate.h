/* evaluate.h: what `tally run` and `tally score` share: choosing the items
 * (--ids, --limit, --shard), turning stored samples into scores and metrics,
 * writing scores.jsonl and results.json, and printing the table.
 */
#ifndef TALLY_HARNESS_EVALUATE_H
#define TALLY_HARNESS_EVALUATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/arena.h"
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

/* Scores every (item, sample) of the selection from `st`, writes scores.jsonl
 * and results.json into `d`, and returns the results object in *out (caller
 * frees). `run_label` is recorded as "run". A (item, sample) missing from the
 * store is an error. */
int eval_score(const task_def *t, const task_options *o, rundir *d, const item *const *items,
               size_t n_items, int samples, const sample_store *st, const char *run_label,
               cJSON **out, err *e);

/* The table of a results object: one row per metric with its value, 95% CI and n. */
void eval_print_results(FILE *f, const task_def *t, const cJSON *results, const char *label);

/* Host facts for the manifest (hostname, CPU model, cores, kernel). */
cJSON *eval_host_json(void);

#endif
