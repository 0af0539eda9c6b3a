/* runset.h: run directories as `tally compare`, `report` and `diff` read them.
 *
 * A directory on the command line is one run (it holds manifest.json or
 * results.json) or a directory of runs, one per task, as `tally run --task
 * a,b` writes them (its subdirectories are taken in name order). Each run's
 * manifest, results and scores.jsonl are loaded when present; a task this
 * build does not know is kept (its rows show, but nothing can be recomputed).
 *
 *   run_set s;
 *   if (runset_open(&s, "runs/today", &e) < 0) ...
 *   ... s.tasks[i].results ...
 *   runset_release(&s);
 *
 * runset_cmp_runs turns loaded sets into the inputs of cmp_build; those
 * borrow from the sets, which must outlive the comparison.
 */
#ifndef TALLY_HARNESS_RUNSET_H
#define TALLY_HARNESS_RUNSET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"
#include "evaluate.h"
#include "opts.h"
#include "reports/compare.h"
#include "task.h"

typedef struct run_task {
    char *path;           /* the run directory */
    char *name;           /* task name: the manifest's, else results.json's, else the folder's */
    const task_def *task; /* registry row, or NULL for a task this build does not know */
    cJSON *manifest;      /* NULL when absent */
    cJSON *results;       /* NULL when absent (not scored) */
    bool has_scores;      /* scores.jsonl was read into `scores` */
    eval_loaded scores;
    task_options opts; /* from the manifest, for the aggregate */
    arena a;           /* opts' strings */
    arena scratch;     /* the aggregate's scratch, reset before each call */
    cJSON *info;       /* the aggregate's info object */
    arena data;        /* the dataset's items, when runset_attach_items found them */
    bool attached;     /* scores.items[].data point at the dataset's records */
} run_task;

typedef struct run_set {
    char *arg;   /* the directory as given */
    char *label; /* the column's name (runset_label_all) */
    run_task *tasks;
    size_t n;
} run_set;

/* Loads every run under `dir`. A manifest, results.json or scores.jsonl that
 * cannot be read is an error naming the file. */
int runset_open(run_set *rs, const char *dir, err *e);
void runset_release(run_set *rs);
/* Points the loaded records' items at the dataset's own records (item.data),
 * for aggregate functions that read them; the dataset is found through
 * `data_dir` (NULL: $TALLY_DATA, then ~/.cache/tally/datasets). Best effort:
 * a task whose dataset is missing or differs from the run's (sha256) keeps
 * data NULL. Returns the number of tasks attached. */
size_t runset_attach_items(run_set *rs, const char *data_dir);
/* Where two runs of a task disagree, item by item (sample 0 of the items
 * both have): by the task's first metric when the records carry it in
 * "metrics", else by the records' own outcome. The id lists hold the first
 * `max` of each side and point into the runs' records (free the lists with
 * run_flips_release; the runs must outlive them). */
typedef struct run_flips {
    const char *metric; /* the metric compared (the registry's string), or "outcome" */
    size_t both, only_a, only_b, neither;
    const char **ids_a, **ids_b;
    size_t n_ids_a, n_ids_b;
} run_flips;

int runset_flips(const run_task *a, const run_task *b, size_t max, run_flips *out, err *e);
void run_flips_release(run_flips *f);

/* The task named `name`, or NULL. */
run_task *runset_find(const run_set *rs, const char *name);
/* Labels: `labels[i]` where given (n_labels may be short), else the
 * directory's last component, else (when two sets would share a label) the
 * directory as given. */
int runset_label_all(run_set *sets, size_t n, const char *const *labels, size_t n_labels, err *e);

/* The cmp_build inputs of loaded sets: runs_out[i] describes sets[i]; the
 * task arrays are in *tasks_out (free both with free()). */
int runset_cmp_runs(run_set *sets, size_t n, cmp_run **runs_out, cmp_task_run **tasks_out, err *e);

/* --reference FILE.json: {"name": LABEL, "metrics": {KEY: POINTS, ...}}
 * (keys as compare.h's cmp_reference says). *doc_out holds the parsed file
 * (caller deletes); ref->values points into it. The label defaults to the
 * file's name. */
int runset_load_reference(const char *path, cJSON **doc_out, cmp_reference *ref, err *e);

/* --gates FILE.json: {"default": POINTS, "gates": {PATTERN: POINTS or null}}.
 * *gates_out is malloc'd (patterns point into *doc_out; caller frees both);
 * *default_out is NaN when the file has no "default". */
int runset_load_gates(const char *path, cJSON **doc_out, cmp_gate **gates_out, size_t *n_out,
                      double *default_out, err *e);

/* --max-failures: "N" a count, "F" with a decimal point a fraction in [0, 1],
 * "P%" a percentage. */
int runset_parse_max_failures(const char *s, size_t *count_out, double *rate_out, err *e);

/* What compare and report share: the directories loaded, the reference and
 * gate files, and the table built from them. Zero-initialise, then
 * cmp_job_run (the caller may have set gates/gates_doc, which the job frees);
 * cmp_job_release frees everything. */
typedef struct cmp_job {
    run_set *sets;
    size_t n_sets;
    cJSON **ref_docs;
    cmp_reference *refs;
    size_t n_refs;
    cJSON *gates_doc;
    cmp_gate *gates;
    size_t n_gates;
    cmp_run *runs;
    cmp_task_run *task_runs;
    cmp_table table;
    const char *data_dir; /* for runset_attach_items; NULL = the default places */
} cmp_job;

int cmp_job_run(cmp_job *j, const char *const *dirs, size_t n_dirs, const str_list *labels,
                const str_list *refs, cmp_settings *s, err *e);
void cmp_job_release(cmp_job *j);

#endif
