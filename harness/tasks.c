/* tasks.c: the task registry (DESIGN.md "Where things live"). */
#include <string.h>

#include "datasets/bfcl.h"
#include "datasets/gsm8k.h"
#include "datasets/humaneval.h"
#include "datasets/ifeval.h"
#include "scorers/bfcl.h"
#include "scorers/gsm8k.h"
#include "scorers/humaneval.h"
#include "scorers/ifeval/ifeval.h"
#include "task.h"

static const char *const gsm8k_metrics[] = {"strict_match", "flexible_extract", NULL};

/* To add a task: write its loader and prompt builder in datasets/<benchmark>.c,
 * its scorer (and aggregator when the metric is not a plain mean) in
 * scorers/<benchmark>.c, declare them in their headers, and add a row here. */
/* BFCL (datasets/bfcl.c, scorers/bfcl.c): `bfcl` runs the thirteen
 * single-turn categories; `bfcl:CATEGORY` one of them or a multi-turn one
 * (loaded and prompted, reported as not scored). */
static const char *const bfcl_metrics[] = {
    "overall_ast", "non_live", "live", "irrelevance", "simple_python", "simple_java",
    "simple_javascript", "multiple", "parallel", "parallel_multiple", "non_live_irrelevance",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
    "live_relevance", "decode_failure_rate", NULL};
/* HumanEval and EvalPlus (datasets/humaneval.c, scorers/humaneval.c): the
 * row's argument names the dataset file; the code runs in scorers/sandbox.c. */
static const char *const humaneval_metrics[] = {"pass@1", "pass@10", "pass@100", NULL};
static const char *const evalplus_metrics[] = {"plus_pass@1",  "base_pass@1",   "plus_pass@10",
                                               "base_pass@10", "plus_pass@100", "base_pass@100",
                                               NULL};
#define EVALPLUS_ROW(name, bench, what, flags)                                                  \
    {name, bench, what, name, evalplus_metrics, TASK_CODE | TASK_SAMPLES | (flags), humaneval_load, \
     humaneval_build, evalplus_score, evalplus_aggregate}

#define BFCL_AST_METRICS(m) ((const char *const[]){m, "decode_failure_rate", NULL})
#define BFCL_ONE_METRIC(m) ((const char *const[]){m, NULL})
#define BFCL_ROW(cat, metrics, what)                                                          \
    {"bfcl:" cat, "bfcl", "BFCL V4 " cat ": " what, cat, metrics, TASK_HIDDEN | TASK_TOOLS,   \
     bfcl_load, bfcl_build, bfcl_score, bfcl_aggregate}

static const task_def tasks[] = {
    {"gsm8k", "gsm8k", "GSM8K, 5 exemplars from train per item (lm-eval `gsm8k`)", "gsm8k",
     gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"gsm8k_cot", "gsm8k", "GSM8K, 8 fixed chain-of-thought exemplars (\"GSM8K 8-shot\")",
     "gsm8k_cot", gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"gsm8k_cot_zeroshot", "gsm8k", "GSM8K, zero-shot \"Let's think step by step.\"",
     "gsm8k_cot_zeroshot", gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"gsm8k_cot_llama", "gsm8k", "GSM8K, 8-shot in Llama 3's instruction layout",
     "gsm8k_cot_llama", gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"humaneval", "humaneval", "HumanEval, 164 problems run in the sandbox, pass@k (openai/human-eval)",
     "humaneval", humaneval_metrics, TASK_CODE | TASK_SAMPLES, humaneval_load, humaneval_build,
     humaneval_score, humaneval_aggregate},
    EVALPLUS_ROW("humanevalplus", "humanevalplus",
                 "HumanEval+ v0.1.10 (EvalPlus): base and plus inputs, outputs against the reference", 0),
    EVALPLUS_ROW("humanevalplus-mini", "humanevalplus", "HumanEval+ Mini: the reduced plus set",
                 TASK_HIDDEN),
    EVALPLUS_ROW("mbppplus", "mbppplus", "MBPP+ v0.2.0 (EvalPlus): 378 problems, base and plus inputs", 0),
    {"bfcl", "bfcl", "BFCL V4 function calling: all AST and relevance categories", NULL,
     bfcl_metrics, TASK_TOOLS, bfcl_load, bfcl_build, bfcl_score, bfcl_aggregate},
    BFCL_ROW("simple_python", BFCL_AST_METRICS("simple_python"), "one Python function, one call"),
    BFCL_ROW("simple_java", BFCL_AST_METRICS("simple_java"), "one Java function, one call"),
    BFCL_ROW("simple_javascript", BFCL_AST_METRICS("simple_javascript"),
             "one JavaScript function, one call"),
    BFCL_ROW("multiple", BFCL_AST_METRICS("multiple"), "several functions, one call"),
    BFCL_ROW("parallel", BFCL_AST_METRICS("parallel"), "one function, several calls"),
    BFCL_ROW("parallel_multiple", BFCL_AST_METRICS("parallel_multiple"),
             "several functions, several calls"),
    BFCL_ROW("irrelevance", BFCL_ONE_METRIC("non_live_irrelevance"), "no function fits"),
    BFCL_ROW("live_simple", BFCL_AST_METRICS("live_simple"), "user-contributed, one call"),
    BFCL_ROW("live_multiple", BFCL_AST_METRICS("live_multiple"),
             "user-contributed, several functions, one call"),
    BFCL_ROW("live_parallel", BFCL_AST_METRICS("live_parallel"), "user-contributed, several calls"),
    BFCL_ROW("live_parallel_multiple", BFCL_AST_METRICS("live_parallel_multiple"),
             "user-contributed, several functions and calls"),
    BFCL_ROW("live_irrelevance", BFCL_ONE_METRIC("live_irrelevance"),
             "user-contributed, no function fits"),
    BFCL_ROW("live_relevance", BFCL_ONE_METRIC("live_relevance"),
             "user-contributed, some call must be made"),
    BFCL_ROW("multi_turn_base", BFCL_ONE_METRIC("multi_turn_base"), "multi-turn (not scored)"),
    BFCL_ROW("multi_turn_miss_func", BFCL_ONE_METRIC("multi_turn_miss_func"),
             "multi-turn, a function withheld (not scored)"),
    BFCL_ROW("multi_turn_miss_param", BFCL_ONE_METRIC("multi_turn_miss_param"),
             "multi-turn, a parameter missing (not scored)"),
    BFCL_ROW("multi_turn_long_context", BFCL_ONE_METRIC("multi_turn_long_context"),
             "multi-turn, long context (not scored)"),
    {"ifeval", "ifeval", "IFEval: 541 prompts with verifiable instructions, strict and loose",
     NULL, ifeval_metric_names, 0, ifeval_load, ifeval_build, ifeval_score, ifeval_aggregate},
    {0},
};

const task_def *task_at(size_t i)
{
    if (i >= sizeof tasks / sizeof tasks[0] || !tasks[i].name) return NULL;
    return &tasks[i];
}

const task_def *task_find(const char *name)
{
    for (size_t i = 0; task_at(i); i++)
        if (strcmp(tasks[i].name, name) == 0) return &tasks[i];
    return NULL;
}
