/* humaneval.h: HumanEval, HumanEval+ and MBPP+ (EvalPlus) loaders and prompts.
 *
 * One loader reads the three gzipped JSONL files (no unzipped copy) into
 * he_problem records, selected by the task row's argument:
 *   "humaneval"          humaneval/HumanEval.jsonl.gz
 *   "humanevalplus"      humanevalplus/HumanEvalPlus.jsonl.gz
 *   "humanevalplus-mini" humanevalplus/HumanEvalPlus-Mini.jsonl.gz
 *   "mbppplus"           mbppplus/MbppPlus.jsonl.gz
 * EvalPlus inputs hold integers beyond 64 bits and the non-standard tokens
 * Infinity/-Infinity, so they are never decoded here: each input list is
 * kept as its exact JSON text (checked by a strict scanner that accepts
 * Python's json grammar) and handed to the trusted Python runner, whose
 * json module reads it exactly.
 *
 * Prompts (SCORING.md 1.6) follow task_options.chat:
 *   raw   the dataset prompt verbatim, cut at the stop strings (Codex/lm-eval
 *         ones for humaneval, EvalPlus's for the others);
 *   chat  an instruction wrapper with a pre-filled assistant turn
 *         (lm-eval humaneval_instruct, or EvalPlus's chat prompt).
 * prompt.reference is the canonical solution in the style's convention, so
 * that the replay oracle scores 100%.
 *
 * Memory: records and strings live in the arena passed to load/build.
 */
#ifndef TALLY_DATASETS_HUMANEVAL_H
#define TALLY_DATASETS_HUMANEVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"
#include "dataset.h"

enum he_family {
    HE_HUMANEVAL = 0, /* openai/human-eval: run `test` + check(entry_point) */
    HE_EVALPLUS_HE,   /* HumanEval+: base/plus inputs, expected from the canonical solution */
    HE_EVALPLUS_MBPP, /* MBPP+: the same, MBPP's conventions */
};

typedef struct he_problem {
    const char *task_id;        /* "HumanEval/0", "Mbpp/2" */
    const char *prompt;         /* what the model continues (HumanEval) or is asked (MBPP+) */
    const char *entry_point;    /* a Python identifier */
    const char *canonical;      /* canonical_solution */
    const char *test;           /* HumanEval: the check(candidate) source (HumanEval+ has it too,
                                 * unused; NULL for MBPP+ and HumanEval+ Mini) */
    const char *base_input;     /* EvalPlus: exact JSON text of the base input lists; else NULL */
    const char *plus_input;     /* EvalPlus: the same for the plus inputs ("[]" when none) */
    size_t n_base, n_plus;      /* number of input lists in each */
    double atol;                /* EvalPlus float tolerance (0 = exact) */
    int family;                 /* enum he_family */
    const char *dataset_sha256; /* of the file the record came from (cache key) */
} he_problem;

/* The family and dataset file of a task argument; -1 / NULL when unknown. */
int humaneval_family(const char *arg);
const char *humaneval_dataset_file(const char *arg);

/* task_load_fn: loads the variant named by `arg` (NULL = "humaneval"). */
int humaneval_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e);

/* Loads from an explicit file (tests feed broken files through this). */
int humaneval_load_file(const char *path, int family, arena *a, item_set *out, err *e);

/* task_build_fn. */
int humaneval_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
                    err *e);

/* Stop strings of each style (NULL-terminated tables). */
extern const char *const humaneval_stops_codex[]; /* "\nclass", "\ndef", "\n#", "\nif", "\nprint" */
extern const char *const evalplus_stops_base_he[];   /* EvalPlus base models on HumanEval+ */
extern const char *const evalplus_stops_base_mbpp[]; /* EvalPlus base models on MBPP+ */
extern const char *const evalplus_stops_chat[];      /* EvalPlus chat models */

/* The lm-eval humaneval_instruct and EvalPlus chat wrappers (tests check them). */
#define HUMANEVAL_CHAT_USER_PREFIX                                                                 \
    "Write a solution to the following problem and make sure that it passes the "                  \
    "tests:\n```python\n"
#define HUMANEVAL_CHAT_ASSISTANT_PREFIX "Here is the completed function:\n```python\n"
#define EVALPLUS_CHAT_USER_PREFIX                                                                  \
    "Please provide a self-contained Python script that solves the following problem in a "        \
    "markdown code block:\n```\n"
#define EVALPLUS_CHAT_ASSISTANT_PREFIX                                                             \
    "Below is a Python script with a self-contained function that solves the problem and passes "  \
    "corresponding tests:\n```python\n"

#endif
