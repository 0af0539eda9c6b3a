/* compare.h: the comparison model behind `tally compare` and `tally report`.
 *
 * The harness reads each run directory (manifest.json, results.json,
 * scores.jsonl) into one cmp_task_run per task, and the tasks of one run
 * directory (a column) into a cmp_run. cmp_build then
 *
 *   - makes one row per (task, metric): the task's declared metrics first,
 *     then every other metric of results.json (BFCL categories, IFEval
 *     instruction groups), with each run's value and 95% interval as
 *     results.json has them (fractions, printed as percentages; a metric
 *     object with "unit" other than "fraction", e.g. "nats", is printed as is);
 *   - says, task by task, what differs between the runs (dataset, settings,
 *     scoring, items) and whether they can be compared at all;
 *   - for exactly two runs A and B, tests B - A on the items both share:
 *     McNemar's exact test where the metric is a pass/fail outcome per item
 *     (with the flip table and the ids that flipped), otherwise a paired
 *     bootstrap that recomputes the metric through the task's own aggregate
 *     function on resampled item sets; Holm over the family of tested
 *     metrics; the smallest difference the data could tell from noise;
 *   - applies the gates (--fail-if-worse, per-metric gates, --max-failures)
 *     and records the verdict (cmp_verdict gives the exit status).
 *
 * Renderers of the model are in table.h. Memory: the table owns everything it
 * points to (strings in its arena, arrays malloc'd); cmp_release frees all.
 * The inputs are only read during cmp_build and may be freed afterwards.
 */
#ifndef TALLY_REPORTS_COMPARE_H
#define TALLY_REPORTS_COMPARE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "scorers/score.h"

/* Exit statuses of a comparison used as a CI gate (0 ok, 1 error and 2
 * usage error are the harness's own). */
enum cmp_status {
    CMP_STATUS_OK = 0,
    CMP_STATUS_REGRESSION = 3, /* a gated metric got worse by more than its gate, significantly */
    CMP_STATUS_FAILURES = 4,   /* instrument failures above --max-failures */
    CMP_STATUS_NOT_COMPARABLE = 5, /* the gated runs do not measure the same thing */
};

/* Recomputes a task's metrics from records (the task's aggregate function,
 * or the harness's default), adding NAME -> {"value", ...} to `metrics`. */
typedef int (*cmp_aggregate_fn)(void *ctx, const sample_view *v, const score_record *r, size_t n,
                                cJSON *metrics, err *e);

typedef struct cmp_task_run {
    const char *task;      /* task name; rows of different runs are matched by it */
    const char *benchmark; /* "gsm8k": for --reference keys; may be NULL */
    const char *path;      /* the run directory, for messages */
    const cJSON *manifest; /* manifest.json, or NULL */
    const cJSON *results;  /* results.json, or NULL when the run was not scored */
    const char *const
        *metrics; /* declared metrics, headline first, NULL-terminated; NULL = unknown */
    /* scores.jsonl as records: views[i].it->id and views[i].sample identify
     * the sample; it->data (the dataset's record, or NULL) is handed on to the
     * aggregate; nothing else in the view is read. NULL = no per-item data. */
    const sample_view *views;
    const score_record *recs;
    size_t n;
    cmp_aggregate_fn aggregate; /* NULL: no bootstrap for this task */
    void *aggregate_ctx;
} cmp_task_run;

typedef struct cmp_run {
    const char *label; /* the column's name */
    const cmp_task_run *tasks;
    size_t n_tasks;
} cmp_run;

/* A per-metric gate: `pattern` is matched (fnmatch) against "TASK/METRIC"
 * and against "METRIC"; a pattern without wildcards beats one with, and
 * among wildcard patterns the longest wins. points NaN = explicitly ungated. */
typedef struct cmp_gate {
    const char *pattern;
    double points;
} cmp_gate;

/* Published numbers: `values` is an object KEY -> points (92.49 for 92.49%).
 * A row (task T of benchmark B, metric M) takes the first of "T/M", "B/M",
 * and for the task's headline metric "T", "B". */
typedef struct cmp_reference {
    const char *label;
    const cJSON *values;
} cmp_reference;

typedef struct cmp_settings {
    double alpha;          /* significance level (0.05) */
    size_t bootstrap;      /* resamples of the paired bootstrap (1000); 0 = none */
    uint64_t seed;         /* the bootstrap's seed */
    bool holm;             /* adjust p-values over the family (true) */
    double fail_if_worse;  /* points; NaN = off. Gates every declared metric */
    const cmp_gate *gates; /* per-metric gates, consulted before fail_if_worse */
    size_t n_gates;
    size_t max_failures;     /* instrument failures allowed per run and task; SIZE_MAX = off */
    double max_failure_rate; /* the same as a fraction of samples; NaN = off */
    const cmp_reference *refs;
    size_t n_refs;
    size_t max_ids; /* flipped ids kept per row (20) */
} cmp_settings;

void cmp_settings_default(cmp_settings *s);

enum cmp_test {
    CMP_TEST_NONE = 0,
    CMP_TEST_MCNEMAR,   /* pass/fail per item: McNemar's exact test */
    CMP_TEST_BOOTSTRAP, /* any other metric: paired bootstrap through the aggregate */
};
/* "mcnemar", "bootstrap", "none" */
const char *cmp_test_name(int test);

typedef struct cmp_cell {
    bool present;
    double value, lo, hi; /* fractions, from results.json */
    size_t n;
} cmp_cell;

enum cmp_flip { CMP_BOTH = 0, CMP_ONLY_A, CMP_ONLY_B, CMP_NEITHER };

typedef struct cmp_row {
    const char *task, *metric;
    const char
        *group;    /* NULL for a declared metric; else its section ("category_strict", "other") */
    bool headline; /* the task's first declared metric */
    bool lower_is_better; /* failure rates, divergences */
    bool raw;        /* not a fraction (a "unit" in results.json, KL, perplexity): shown as is */
    cmp_cell *cells; /* [n_runs] */
    double *refs;    /* [n_refs]: fractions, NaN where the reference has no number */
    /* two runs only (NaN / 0 otherwise) */
    int test;             /* enum cmp_test */
    size_t n_shared;      /* items the test pairs */
    double delta, lo, hi; /* B - A on the shared items, with its 95% interval */
    double p, p_holm;     /* p_holm NaN outside the Holm family */
    double mde;           /* smallest difference this test could call significant; INFINITY: none */
    double disagree;      /* McNemar: share of shared items where the runs disagree */
    size_t flips[4];      /* McNemar: enum cmp_flip counts */
    const char **only_a, **only_b; /* McNemar: the first max_ids ids passed only by A / only by B */
    size_t n_only_a, n_only_b;     /* lengths of those lists */
    double gate;                   /* points; NaN = not gated */
    bool significant, regression;
    bool comparable; /* the task's runs are comparable */
} cmp_row;

typedef struct cmp_task {
    const char *task;
    size_t first_row, n_rows;           /* rows[first_row .. first_row + n_rows) */
    bool *present;                      /* [n_runs] */
    size_t *items, *samples, *failures; /* [n_runs], from results.json */
    bool *failures_over;                /* [n_runs]: above --max-failures */
    size_t n_shared;                    /* items both runs share (two runs) */
    bool paired;                        /* per-item tests were possible */
    bool comparable;
    const char **notes; /* what differs, one line each */
    size_t n_notes;
} cmp_task;

typedef struct cmp_table {
    arena a;
    size_t n_runs;
    const char **labels; /* [n_runs] */
    const char **descs;  /* [n_runs]: "backend:model" from the first manifest, or NULL */
    size_t n_refs;
    const char **ref_labels;
    cmp_task *tasks;
    size_t n_tasks;
    cmp_row *rows;
    size_t n_rows;
    const char **notes; /* table-wide notes */
    size_t n_notes;
    const char *
        *messages; /* the gates' verdict, one line each (regressions, failures, comparability) */
    size_t n_messages;
    double alpha;
    size_t bootstrap;
    uint64_t seed;
    bool holm;
    size_t n_family;     /* p-values in the Holm family */
    bool family_gated;   /* the family is the gated metrics (else the declared ones) */
    bool gated;          /* a metric gate was given */
    bool failures_gated; /* --max-failures was given */
    size_t n_regressions;
    bool failures_exceeded;
    bool not_comparable; /* some task pair cannot be compared (flag shown in every table) */
} cmp_table;

#define CMP_TABLE_INIT                                                                             \
    {                                                                                              \
        ARENA_INIT                                                                                 \
    }

/* Builds the table. Errors: ERR_INVALID for bad settings (alpha outside
 * (0, 1)), ERR_PARSE for a reference value that is not a number, ERR_NOMEM,
 * or what an aggregate function returns. On error the table is released. */
int cmp_build(cmp_table *t, const cmp_run *runs, size_t n_runs, const cmp_settings *s, err *e);
void cmp_release(cmp_table *t);
/* The exit status the comparison asks for: CMP_STATUS_NOT_COMPARABLE when
 * gated metrics cannot be compared, else CMP_STATUS_FAILURES, else
 * CMP_STATUS_REGRESSION, else 0. Comparability counts only when a gate is set. */
int cmp_verdict(const cmp_table *t);

/* ---- manifests ---- */

enum cmp_field_kind {
    CMP_FIELD_DEFINING = 0, /* changes what is measured: dataset, prompts, shots, scoring */
    CMP_FIELD_SETTING,      /* how the model was run: model, sampling, token cap, template */
    CMP_FIELD_INCIDENTAL,   /* when and where: times, host, command line */
};

typedef struct cmp_field_diff {
    const char *key;   /* "settings.temperature", "runner.sha256" */
    const char *a, *b; /* JSON text of each side; "(not set)" when absent */
    int kind;          /* enum cmp_field_kind */
    const char *what;  /* what the field is, for well-known ones ("model file sha256"), or NULL */
} cmp_field_diff;

/* Every leaf of two manifests that differs (objects are walked, arrays and
 * scalars compared whole), defining fields first, then settings, then
 * incidental ones; strings in `a`. *out is malloc'd (caller frees). */
int cmp_manifest_diff(const cJSON *ma, const cJSON *mb, arena *a, cmp_field_diff **out,
                      size_t *n_out, err *e);
/* The kind of a manifest key ("settings.shots" -> CMP_FIELD_DEFINING). */
int cmp_field_kind_of(const char *key, const char **what);

#endif
