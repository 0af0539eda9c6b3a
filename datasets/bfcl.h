/* bfcl.h: the Berkeley Function-Calling Leaderboard (V4) loader and prompt builder.
 *
 * Data: `bfcl/BFCL_v4_<category>.json` under the data directory (JSON Lines
 * despite the name; the last line may lack its newline), the possible
 * answers in `bfcl/possible_answer/` aligned by line and checked by id, and
 * `bfcl/multi_turn_func_doc/` for the multi-turn function docs. Every value
 * is read with Python's json.loads semantics (pyval.h), so 5 and 5.0 stay
 * apart as they do for BFCL's checker.
 *
 * Tasks: `bfcl` loads the thirteen single-turn categories (the AST ones and
 * the three relevance ones); `bfcl:CATEGORY` loads one, the multi-turn ones
 * included (those are loaded and prompted but not scored: they need BFCL's
 * simulated APIs).
 *
 * Prompts (task_options.tool_mode):
 *  - "prompt": the functions go into BFCL's default system prompt
 *    (SCORING.md 4.2) as json.dumps(functions, indent=4) with the language
 *    hints, prepended to the item's own system message or inserted as one;
 *    the model answers `[f(a=1)]`.
 *  - "native": the functions go out as OpenAI `tools` (BFCL's types mapped to
 *    JSON Schema, every '.' of a name replaced by '_', which the scorer maps
 *    back with underscore_to_dot) with tool_choice "auto".
 * The oracle answer (prompt.reference / reference_tool_calls) is each
 * possible answer turned into the call it describes, with the first
 * acceptable value of every parameter; no call for the irrelevance
 * categories; a call of the first function for live_relevance.
 *
 * Memory: items, their records (bfcl_item) and prompts live in the arena
 * passed in; nothing else is allocated.
 */
#ifndef TALLY_DATASETS_BFCL_H
#define TALLY_DATASETS_BFCL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "datasets/dataset.h"
#include "datasets/pyval.h"

typedef enum bfcl_lang { BFCL_PYTHON = 0, BFCL_JAVA, BFCL_JAVASCRIPT } bfcl_lang;

typedef enum bfcl_kind {
    BFCL_AST_SIMPLE = 0, /* exactly one call of the one function */
    BFCL_AST_MULTIPLE,   /* one call, several functions offered */
    BFCL_AST_PARALLEL,   /* several calls in any order */
    BFCL_IRRELEVANCE,    /* passes when no call is made */
    BFCL_RELEVANCE,      /* passes when a call is made (arguments not checked) */
    BFCL_MULTI_TURN,     /* loaded, not scored */
} bfcl_kind;

typedef struct bfcl_category {
    const char *name;   /* dataset name: "simple_python", "live_multiple", ... */
    const char *metric; /* its metric in results.json: the dataset name, except
                         * "irrelevance", reported as "non_live_irrelevance" because
                         * the aggregate of both irrelevance categories is "irrelevance" */
    bfcl_kind kind;
    bfcl_lang lang;
    bool live;
    bool in_all; /* part of the `bfcl` task */
} bfcl_category;

/* The category named `name`, or NULL. */
const bfcl_category *bfcl_category_find(const char *name);
/* Row i of the table (in BFCL's order), or NULL past the end. */
const bfcl_category *bfcl_category_at(size_t i);

typedef struct bfcl_item {
    const bfcl_category *cat;
    pyval *messages;  /* the first turn: list of {"role", "content"} dicts */
    pyval *functions; /* the function docs offered, as in the file */
    pyval *answer;    /* AST: the ground_truth list [{name: {param: [alternatives]}}];
                       * multi-turn: one list of call strings per turn; else NULL */
    size_t line;      /* 1-based line of the question file */
} bfcl_item;

/* task_load_fn: `arg` is NULL or "" for every single-turn category, else a
 * category name. Ids are BFCL's ("simple_python_0", "live_multiple_3-1-0"). */
int bfcl_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e);

/* task_build_fn: the prompt of one item in the tool mode of `o`. */
int bfcl_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
               err *e);

/* Whether the tool mode is native ("native") or prompt ("prompt"); any other
 * value is ERR_INVALID. */
int bfcl_tool_mode(const task_options *o, bool *native, err *e);

/* ---- lower level (tests and the benchmark use them) ---- */

/* BFCL's default prompt-mode system prompt for these function docs. */
int bfcl_system_prompt(const bfcl_item *bi, arena *a, const char **out, err *e);
/* The OpenAI tools array (JSON text) for these function docs. */
int bfcl_tools_json(const bfcl_item *bi, arena *a, const char **out, err *e);
/* The oracle's prompt-mode answer: "[f(a=1, b='x')]" (Java/JS: source-text values). */
int bfcl_oracle_text(const bfcl_item *bi, arena *a, const char **out, err *e);
/* The oracle's native answer: JSON [{"name", "arguments": "<JSON text>"}], or
 * NULL for the categories where the oracle makes no call. */
int bfcl_oracle_tool_calls(const bfcl_item *bi, arena *a, const char **out, err *e);

/* The parameter doc `param` of function doc `fn` ({"type", "items"?, ...}) or NULL. */
const pyval *bfcl_param_doc(const pyval *fn, const pyval *param);

#endif
