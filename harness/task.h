/* task.h: the task registry. A task is one row: its name, its loader and
 * prompt builder (datasets/<benchmark>.c), its scorer and aggregator
 * (scorers/<benchmark>.c), its metric names. Adding a task is adding a row
 * to the table in tasks.c and those functions; no other file changes.
 */
#ifndef TALLY_HARNESS_TASK_H
#define TALLY_HARNESS_TASK_H

#include "common/arena.h"
#include "common/err.h"
#include "datasets/dataset.h"
#include "scorers/score.h"

/* Loads the task's items into `out` (memory in `a`). `arg` is the row's argument. */
typedef int (*task_load_fn)(const task_options *o, const char *arg, arena *a, item_set *out,
                            err *e);
/* Builds the prompt of one item (strings in `a`). */
typedef int (*task_build_fn)(const task_options *o, const char *arg, const item *it, arena *a,
                             prompt *out, err *e);

enum task_flags {
    TASK_HIDDEN = 1 << 0,    /* not listed by `tally help run` (a per-category alias) */
    TASK_CODE = 1 << 1,      /* scoring runs model-written programs in the sandbox */
    TASK_TOOLS = 1 << 2,     /* prompts carry tools; --tool-mode applies */
    TASK_SAMPLES = 1 << 3,   /* --samples N makes sense (pass@k) */
};

typedef struct task_def {
    const char *name;           /* "gsm8k_cot" */
    const char *benchmark;      /* "gsm8k": the dataset folder and the scorer family */
    const char *summary;        /* one line for `tally help run` */
    const char *arg;            /* passed to every function: a BFCL category, a variant */
    const char *const *metrics; /* NULL-terminated; the first is the headline */
    unsigned flags;             /* enum task_flags */
    task_load_fn load;
    task_build_fn build;
    task_score_fn score;
    task_aggregate_fn aggregate; /* NULL = the mean of each metric over samples */
} task_def;

/* The row for `name`, or NULL. Names of the form "bfcl:CATEGORY" are rows too. */
const task_def *task_find(const char *name);
/* Row i of the table, or NULL past the end. */
const task_def *task_at(size_t i);

#endif
