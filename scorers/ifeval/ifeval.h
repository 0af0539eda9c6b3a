/* ifeval.h: the IFEval task's scorer and aggregator (SCORING.md 3).
 *
 * ifeval_score checks every instruction of every sample, strict and loose
 * (checkers.h), after removing a reasoning block from the completion
 * (ifeval_strip_think). Each score_record gets:
 *   outcome   prompt-level strict: correct when every instruction is followed;
 *             otherwise truncated (finish_reason "length"), no_answer (an
 *             empty answer) or wrong;
 *   score     1 or 0 (prompt-level strict);
 *   reason    the instructions not followed, strict and loose;
 *   fields    {"instructions": [ids], "strict": [bool], "loose": [bool],
 *              "metrics": {"prompt_strict": outcome, "prompt_loose": outcome},
 *              "think": "removed" | "unclosed" (only when a block was found)}.
 * It adds run-level facts to ctx->info (the harness copies them into the
 * manifest): the think rule, where the Punkt tables and the langdetect
 * profiles were read (null when no instruction needed them), the seed.
 *
 * ifeval_aggregate reads only those fields (so `tally score` can redo it)
 * and writes the metrics
 *   prompt_strict, prompt_loose            proportion of samples with every instruction followed
 *   inst_strict, inst_loose                followed instructions / all instructions (micro average)
 *   inst_strict/ID, inst_loose/ID          the same for one instruction id ("punctuation:no_comma")
 *   category_strict/CAT, category_loose/CAT for one category ("detectable_format")
 * A sample whose generation failed counts as following none of its instructions.
 *
 * Settings read from task_options: scorer_mode ("compat" default, "fixed"),
 * data_dir (Punkt tables under ifeval/punkt_tab/english), langdetect_dir.
 * The scorer works one sample after another on one thread: the whole
 * dataset takes well under a second.
 */
#ifndef TALLY_SCORERS_IFEVAL_IFEVAL_H
#define TALLY_SCORERS_IFEVAL_IFEVAL_H

#include <stddef.h>

#include "common/buf.h"
#include "scorers/score.h"

/* Metric names (the first is the headline). NULL-terminated. */
extern const char *const ifeval_metric_names[];

enum ifeval_think {
    IFEVAL_THINK_NONE = 0,     /* no reasoning block */
    IFEVAL_THINK_REMOVED = 1,  /* blocks removed */
    IFEVAL_THINK_UNCLOSED = 2, /* a "<think>" never closed: the answer is empty */
};

/* The answer part of a completion: every "<think>...</think>" block is
 * removed with the whitespace right after it; text before a "</think>" that
 * has no opening tag (a chat template that opened the block itself) is
 * reasoning too; an unclosed "<think>" leaves nothing. The answer is
 * appended to `out`; returns enum ifeval_think, or a negative code. */
int ifeval_strip_think(const char *text, size_t n, buf *out);

/* task_score_fn */
int ifeval_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e);

/* task_aggregate_fn */
int ifeval_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                     cJSON *metrics, err *e);

#endif
