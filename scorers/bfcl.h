/* bfcl.h: BFCL's AST checker, its decoders, and the task's score/aggregate.
 *
 * Rules: SCORING.md section 4 (V4). A sample is decoded into calls
 * [{name: {param: value}}] (prompt mode: Python call syntax, or the Java/JS
 * call syntax in those categories; native mode: the tool calls with their
 * arguments read by json.loads), then checked:
 *
 *  - simple / multiple / parallel (any order, greedy in answer order) checkers,
 *    with BFCL's error types: "simple_function_checker:wrong_func_name",
 *    "...:missing_required", "...:unexpected_param", "...:missing_optional",
 *    "...:wrong_count", "parallel_function_checker_no_order:cannot_find_match",
 *    "type_error:simple|nested|java|js", "value_error:string|list/tuple|
 *    dict_key|dict_value|list_dict_count|others"; a decode failure is
 *    "ast_decoder:decoder_failed" or "ast_decoder:decoder_wrong_output_format";
 *  - irrelevance categories pass when no call is made (error type
 *    "irrelevance_error:decoder_success"), live_relevance when one is
 *    ("relevance_error:decoder_failed").
 *
 * Native mode sends names with '.' replaced by '_' (datasets/bfcl.c), so the
 * checker compares against the expected name with the same replacement
 * (BFCL's underscore_to_dot).
 *
 * Outcomes: correct; wrong (rejected by the checker); parse_error (an AST
 * category whose output could not be decoded); truncated when not correct and
 * generation hit the token cap; generation failures as score_generation_failure
 * says; multi-turn samples get no_answer with "status": "not_scored" (they need
 * BFCL's simulated APIs) and never count in a metric.
 *
 * Metrics (bfcl_aggregate): one per category present (its bfcl_category.metric
 * name), then BFCL V4's summary numbers, each reported only when every
 * category it combines was run (BFCL's leaderboard instead counts a missing
 * category as 0; we list the missing ones in info.bfcl.incomplete):
 *   non_live    = mean(mean(simple_python, simple_java, simple_javascript),
 *                      multiple, parallel, parallel_multiple)
 *   live        = passed / entries over live_simple, live_multiple,
 *                 live_parallel, live_parallel_multiple (count-weighted)
 *   irrelevance = mean(irrelevance, live_irrelevance)
 *   overall_ast = mean(non_live, live, irrelevance): V4's Overall weights
 *                 (10/10/10/30/40) restricted to these three parts
 *   decode_failure_rate = share of AST-category samples whose output could
 *                 not be decoded (reported apart from wrong calls)
 *
 * Memory: decoded values and reasons live in the arena passed in; a
 * score_record's fields object is the record's (score_record_release).
 */
#ifndef TALLY_SCORERS_BFCL_H
#define TALLY_SCORERS_BFCL_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "common/arena.h"
#include "common/err.h"
#include "datasets/bfcl.h"
#include "datasets/pyval.h"
#include "scorers/score.h"

typedef struct bfcl_verdict {
    bool valid;
    bool decode_failed;     /* the output could not be decoded into calls */
    const char *error_type; /* BFCL's error type; NULL when valid */
    const char *reason;     /* one line saying why (arena); NULL when valid */
} bfcl_verdict;

/* Prompt-mode decoding for a category's language (SCORING.md 4.2).
 * *positional_out (may be NULL): positional arguments dropped from the calls. */
int bfcl_decode_prompt(const char *text, bfcl_lang lang, arena *a, pyval **calls,
                       size_t *positional_out, err *e);

/* FC decoding: `tool_calls` is an array of {"name", "arguments"} (arguments a
 * JSON string, or an object), or NULL; with no tool calls the text decodes to
 * [] when empty and fails otherwise, as in BFCL. */
int bfcl_decode_fc(const cJSON *tool_calls, const char *text, arena *a, pyval **calls, err *e);

/* BFCL's shape test: a list of one-key dicts whose value is a dict. */
bool bfcl_calls_well_formed(const pyval *calls);

/* The checker on decoded calls (AST categories). Fails only on ERR_NOMEM. */
int bfcl_check(const bfcl_item *it, const pyval *calls, bool underscore_to_dot, arena *a,
               bfcl_verdict *out, err *e);

/* Decoding and checking of one answer. *calls_out (may be NULL) gets the
 * decoded calls or NULL when decoding failed. Fails only on ERR_NOMEM. */
int bfcl_judge(const bfcl_item *it, bool native, const char *text, const cJSON *tool_calls,
               arena *a, bfcl_verdict *out, pyval **calls_out, err *e);

/* standardize_string: drop " ,./-_*^", Python lower(), then ' -> ". */
pyval *bfcl_standardize(arena *a, const pyval *s);

/* task_score_fn and task_aggregate_fn of the bfcl tasks. */
int bfcl_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e);
int bfcl_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                   cJSON *metrics, err *e);

#endif
