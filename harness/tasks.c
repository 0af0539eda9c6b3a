/* tasks.c: the task registry (DESIGN.md "Where things live"). */
#include <string.h>

#include "datasets/gsm8k.h"
#include "datasets/ifeval.h"
#include "scorers/gsm8k.h"
#include "scorers/ifeval/ifeval.h"
#include "task.h"

static const char *const gsm8k_metrics[] = {"strict_match", "flexible_extract", NULL};

/* To add a task: write its loader and prompt builder in datasets/<benchmark>.c,
 * its scorer (and aggregator when the metric is not a plain mean) in
 * scorers/<benchmark>.c, declare them in their headers, and add a row here. */
static const task_def tasks[] = {
    {"gsm8k", "gsm8k", "GSM8K, 5 exemplars from train per item (lm-eval `gsm8k`)", "gsm8k",
     gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"gsm8k_cot", "gsm8k", "GSM8K, 8 fixed chain-of-thought exemplars (\"GSM8K 8-shot\")",
     "gsm8k_cot", gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"gsm8k_cot_zeroshot", "gsm8k", "GSM8K, zero-shot \"Let's think step by step.\"",
     "gsm8k_cot_zeroshot", gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
    {"gsm8k_cot_llama", "gsm8k", "GSM8K, 8-shot in Llama 3's instruction layout",
     "gsm8k_cot_llama", gsm8k_metrics, 0, gsm8k_load, gsm8k_build, gsm8k_score, NULL},
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
