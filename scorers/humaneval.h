/* humaneval.h: scoring HumanEval and EvalPlus (HumanEval+, MBPP+) samples.
 *
 * HumanEval (SCORING.md 1.2-1.6): the completion is cut at the stop strings
 * (raw style) or extracted from the chat reply, appended to the prompt, and
 * the program prompt + completion + "\n" + test + "\n" + "check(<entry>)"
 * runs in the sandbox (sandbox.h) under the reference's guard. A sample
 * passes only when the trusted runner reports that check() returned.
 * Metrics: pass@1, pass@10, pass@100 (each only when every problem has that
 * many samples), the unbiased estimator averaged over problems.
 *
 * EvalPlus (SCORING.md 1.7): the solution (prompt.strip() + "\n" +
 * completion for raw style, the reply for chat style) goes through
 * EvalPlus's sanitizer, runs, and its entry point is called on the base and
 * plus inputs; outputs are compared with those of the canonical solution,
 * computed once in the same sandbox and cached in
 * <task_options.cache_dir>/evalplus/ keyed by the dataset's sha256 (plus the
 * runner's and the interpreter's version). Metrics: base_pass@k and plus_pass@k (plus = base and
 * plus).
 *
 * Time limits do not depend on the machine's load: each program gets a
 * CPU-time budget max(floor, 4 x the canonical solution's CPU time on this
 * host) (floor: --exec-timeout, default 3 s for HumanEval as the reference,
 * 4 s per input for EvalPlus), a wall-clock backstop of twice that, and the
 * sandbox's hard kill. HumanEval measures the canonical time only for
 * problems where a sample ran out of time (a shorter budget that was not
 * exhausted gives the same verdict as a longer one).
 *
 * scores.jsonl fields: "result" (the reference's result string), "cpu_ms",
 * "peak_rss_kb", "signal", "kill", per-problem counts "problem_n" and
 * "problem_passed", and for EvalPlus "base"/"plus" ("pass", "fail",
 * "timeout") with "base_result"/"plus_result". results.json info: the
 * sandbox level, the Python version, the hash seed.
 *
 * Memory: strings returned live in the arena passed in; records' fields are
 * owned by the records (score_record_release).
 */
#ifndef TALLY_SCORERS_HUMANEVAL_H
#define TALLY_SCORERS_HUMANEVAL_H

#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"
#include "datasets/humaneval.h"
#include "scorers/sandbox.h"
#include "scorers/score.h"

/* Length of the text before the first occurrence of any stop string
 * (NULL-terminated table); strlen(text) when none occurs. */
size_t humaneval_stop_at(const char *text, const char *const *stops);
/* text cut at the first stop string, copied into the arena. */
const char *humaneval_truncate(arena *a, const char *text, const char *const *stops);

/* The code of a chat reply. The reply continues the pre-filled
 * "```python\n<prompt>\n" (lm-eval humaneval_instruct): everything before
 * the first "```" is kept. When that first fence instead opens a block
 * (a language tag follows it, or nothing but blank text precedes it, as
 * from servers that ignore the pre-fill), the block's content is kept.
 * Without any fence, the whole reply. */
const char *humaneval_extract_chat(arena *a, const char *reply);

/* prompt + completion + "\n" + test + "\n" + "check(" + entry_point + ")". */
char *humaneval_program(arena *a, const char *prompt, const char *completion, const char *test,
                        const char *entry_point);

/* Python's str.strip() (the whitespace of SCORING.md 0.2, UTF-8). */
char *humaneval_py_strip(arena *a, const char *s);

/* The unbiased pass@k estimator 1 - C(n-c, k) / C(n, k), in the reference's
 * product form (no binomials). k must be in 1..n. */
double humaneval_pass_at_k(int n, int c, int k);

/* task_score_fn / task_aggregate_fn for the row "humaneval". */
int humaneval_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e);
int humaneval_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                        cJSON *metrics, err *e);

/* The same for "humanevalplus", "humanevalplus-mini" and "mbppplus". */
int evalplus_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e);
int evalplus_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                       cJSON *metrics, err *e);

/* EvalPlus's sanitizer (code_extract + the top-level walk), run in `sb`:
 * the result, in the arena, is what EvalPlus would execute. */
int evalplus_sanitize(sandbox *sb, const char *code, const char *entry_point, arena *a,
                      const char **out, err *e);

/* Opens the sandbox the task options ask for and records its level and the
 * interpreter in `info` (may be NULL). */
int humaneval_sandbox_open(const task_options *o, sandbox **out, cJSON *info, err *e);

#endif
