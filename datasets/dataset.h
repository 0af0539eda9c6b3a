/* dataset.h: the common item type every benchmark loader produces, and the
 * prompt a task builds from an item.
 *
 * A loader reads a benchmark's files from the data directory into an
 * item_set whose memory lives in a caller-owned arena (released once at the
 * end of the run). Each item has a stable string id (used in samples.jsonl,
 * --ids and replay files) and a pointer to the loader's own record type.
 *
 * A prompt is a view of an item: raw text (base models) or chat messages
 * (instruct models), stop strings, a token cap, optional OpenAI tools, and the
 * reference answer the replay oracle serves. Every string in it lives in the
 * arena passed to the builder.
 *
 * Malformed input fails with a message naming file:line and the field; a
 * missing file says where it looked and how to get it (datasets_missing_msg).
 */
#ifndef TALLY_DATASETS_DATASET_H
#define TALLY_DATASETS_DATASET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct item {
    const char *id; /* stable id: "HumanEval/0", "1000" (IFEval key), "simple_python_0", "12" (GSM8K index) */
    size_t index;   /* position in the loaded set, 0-based */
    void *data;     /* the loader's record, arena-owned */
} item;

typedef struct item_set {
    item *items;
    size_t n;
    const char *path;   /* main file read (for the manifest) */
    const char *sha256; /* its sha256 hex, or NULL if not computed */
} item_set;

typedef struct chat_message {
    const char *role;         /* "system", "user", "assistant", "tool" */
    const char *content;      /* may be NULL for an assistant turn that only calls tools */
    const char *tool_calls;   /* assistant: JSON array of OpenAI tool_calls, or NULL */
    const char *tool_call_id; /* tool: the call answered, or NULL */
} chat_message;

typedef struct prompt {
    /* Exactly one of `text` (raw style) and `messages` (chat style) is set. */
    const char *text;
    const chat_message *messages;
    size_t n_messages;
    /* Chat style: text the assistant turn is pre-filled with (lm-eval's
     * gen_prefix), continued by the model; NULL for none. */
    const char *assistant_prefix;
    const char *const *stop; /* stop strings; generation is cut before the first one */
    size_t n_stop;
    int max_tokens;          /* the task's token cap (the run may override) */
    const char *tools;       /* JSON array of OpenAI tools, or NULL */
    const char *tool_choice; /* "auto", "none", "required" or NULL */
    /* What the replay oracle answers: a completion text and/or tool calls
     * (JSON array of {"name", "arguments"}); both NULL when the item has no reference. */
    const char *reference;
    const char *reference_tool_calls;
    /* Another key a replay file may use for this item (IFEval's exact prompt
     * text), or NULL. */
    const char *alt_key;
} prompt;

/* The settings a task reads, filled by the harness from the command line. */
typedef struct task_options {
    const char *data_dir;    /* where the benchmark files are */
    int shots;               /* few-shot exemplars; -1 = the task's default */
    bool chat;               /* chat prompt style (instruct models) rather than raw */
    const char *tool_mode;   /* BFCL: "prompt" or "native" */
    const char *scorer_mode; /* IFEval: "compat" (default) or "fixed" */
    int samples;             /* completions per item */
    int jobs;                /* scorer parallelism (sandboxed programs); 0 = cores */
    double exec_timeout_s;   /* HumanEval: per-program timeout; 0 = the reference's 3 s */
    bool unsafe_no_sandbox;  /* run code without the OS sandbox (explicit opt-in) */
    const char *cache_dir;   /* cached data the scorer derives (EvalPlus expected outputs) */
    const char *python;      /* interpreter for code tasks; NULL = the system's /usr/bin/python3 */
    const char *langdetect_dir; /* IFEval: langdetect profiles folder; NULL = Debian's
                                 * python3-langdetect (/usr/lib/python3/dist-packages/langdetect/profiles) */
    const char *sandbox_mode; /* code tasks: NULL/"auto", or force "degraded", "no-userns"
                               * (root only) or "no-fork-server" (see scorers/sandbox.h) */
} task_options;

void task_options_default(task_options *o);

/* Looks for `rel` (e.g. "gsm8k/test.jsonl") under data_dir; on failure the
 * message says where it looked and to run `tally datasets fetch`. The path is
 * written into `out` (arena-owned). */
int datasets_locate(const char *data_dir, const char *rel, arena *a, const char **out, err *e);

#endif
