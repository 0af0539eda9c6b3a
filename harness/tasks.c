/* tasks.c: the task registry (DESIGN.md "Where things live"). */
#include <string.h>

#include "task.h"

#include "datasets/ifeval.h"
#include "scorers/ifeval/ifeval.h"

/* To add a task: write its loader and prompt builder in datasets/<benchmark>.c,
 * its scorer (and aggregator when the metric is not a plain mean) in
 * scorers/<benchmark>.c, declare them in their headers, and add a row here. */
static const task_def tasks[] = {
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
