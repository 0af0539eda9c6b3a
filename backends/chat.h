/* chat.h: chat prompts and tool-call parsing for the model families tally
 * runs natively: IBM Granite 3.3, 4.0, 4.1 and inclusionAI Ling 2.0.
 *
 * There is no general Jinja engine: each family's official template
 * (fixtures/chat_templates/, MODELS.md 2) is written out in C and must give
 * the bytes Hugging Face's apply_chat_template gives (trim_blocks,
 * lstrip_blocks, tojson = json.dumps(ensure_ascii=False) in key order; see
 * pyjson.h). What the C code covers: system messages (including Granite 3.3's
 * dated default and Granite 4.0's default), multi-turn, tool definitions,
 * assistant tool calls (arguments pasted verbatim when a string, dumped when
 * an object), tool results, Ling's reasoning block, the generation prompt and
 * an assistant prefix. Not covered: documents, Granite 3.3's "thinking" and
 * "controls" switches, list-of-parts message content. Granite 3.3's template
 * does not render assistant tool calls (only their content), as the original.
 *
 * The family comes from a name (chat_family_from_name: "granite-3.3",
 * "granite-4.0", "granite-4.1", "ling-2.0", "raw") or from GGUF metadata
 * (chat_family_detect: distinctive substrings of tokenizer.chat_template,
 * else general.architecture and general.name). "raw" pastes the message
 * contents back to back with no markers.
 *
 * Tool calls come back out of model text through chat_parse_tool_calls, which
 * behaves like the server parsers of MODELS.md 2.5: vLLM's `hermes` (Ling
 * 2.0), `granite` (3.x: "<|tool_call|>[...]") and `granite4` (4.x:
 * "<tool_call>{...}</tool_call>"). A malformed block is not an error: the text
 * is returned as content, with `problem` saying what was wrong.
 *
 * Output and parse results are written into caller-owned buffers / arenas.
 *
 *   chat_options o;
 *   chat_options_default(&o);
 *   o.tools = tools_json;
 *   enum chat_family f;
 *   if (chat_family_from_gguf(g, &f, &e) < 0) ...
 *   if (chat_render(f, msgs, n, &o, &prompt, &e) < 0) ...
 *   ... tokenize with TOK_PARSE_SPECIAL, generate until a stop string ...
 *   chat_parsed p;
 *   chat_parse_tool_calls(chat_tool_format_of(f), text, len, &arena, &p, &e);
 */
#ifndef TALLY_BACKENDS_CHAT_H
#define TALLY_BACKENDS_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "backends/gguf.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"

enum chat_family {
    CHAT_RAW = 0,
    CHAT_GRANITE_33 = 1, /* Granite 3.x (3.2, 3.3) */
    CHAT_GRANITE_40 = 2, /* Granite 4.0: a default system message */
    CHAT_GRANITE_41 = 3, /* Granite 4.1: no default system message */
    CHAT_LING_20 = 4,    /* Ling 2.0 (mini, flash) */
};

/* One message, in the shape of an OpenAI chat message. */
typedef struct chat_msg {
    const char *role;         /* "system", "user", "assistant", "tool" */
    const char *content;      /* NULL renders as "" */
    const char *tool_calls;   /* assistant: JSON array of OpenAI tool calls
                               * ({"function": {"name", "arguments"}} or {"name", "arguments"}),
                               * or NULL */
    const char *tool_call_id; /* tool: the call answered (not rendered by these templates) */
    const char *reasoning;    /* assistant: reasoning_content (Ling renders it), or NULL */
} chat_msg;

typedef struct chat_options {
    bool add_generation_prompt; /* end with the assistant turn's opening; default true */
    const char *tools;          /* JSON array of OpenAI tools, or NULL */
    /* Text the assistant turn starts with, continued by the model (needs
     * add_generation_prompt); NULL for none. */
    const char *assistant_prefix;
    /* Granite 3.3's "Today's Date" as the template prints it ("April 16,
     * 2025"); NULL = today's local date. Pin it (and record it) for
     * reproducible prompts. */
    const char *date;
} chat_options;

void chat_options_default(chat_options *o);

/* "granite-3.3" (also "granite-3"), "granite-4.0", "granite-4.1", "ling-2.0"
 * (also "ling"), "raw". ERR_NOTFOUND with the list of names otherwise. */
int chat_family_from_name(const char *name, enum chat_family *out, err *e);
const char *chat_family_name(enum chat_family f);
/* Recognises a family from a chat template text (may be NULL), else from the
 * architecture and model name (may be NULL). ERR_NOTFOUND when nothing fits. */
int chat_family_detect(const char *template_text, const char *arch, const char *model_name,
                       enum chat_family *out, err *e);
/* The same from a GGUF's tokenizer.chat_template, general.architecture and general.name. */
int chat_family_from_gguf(const gguf *g, enum chat_family *out, err *e);

/* Appends the prompt for msgs[0..n) to `out`. ERR_INVALID for no messages, a
 * message without a role, an assistant prefix without the generation prompt;
 * ERR_PARSE for tools or tool calls that are not valid JSON. */
int chat_render(enum chat_family f, const chat_msg *msgs, size_t n, const chat_options *o, buf *out,
                err *e);

/* Text that ends an assistant turn (stop strings), NULL-terminated: Granite
 * "<|end_of_text|>"; Ling "<|role_end|>", "<|endoftext|>"; raw none. The
 * matching token ids come from the tokenizer (tok_find / tok_is_eog). */
const char *const *chat_stop_strings(enum chat_family f);

/* ---- tool calls in model output ---- */

enum chat_tool_format {
    CHAT_TOOLS_NONE = 0,
    CHAT_TOOLS_HERMES = 1,   /* <tool_call>{json}</tool_call>, vLLM hermes (Ling 2.0) */
    CHAT_TOOLS_GRANITE3 = 2, /* <|tool_call|>[{json}, ...], vLLM granite (Granite 3.x) */
    CHAT_TOOLS_GRANITE4 = 3, /* <tool_call>{json}</tool_call>, vLLM granite4 (Granite 4.x) */
};

/* The parser a family's servers use. */
enum chat_tool_format chat_tool_format_of(enum chat_family f);

typedef struct chat_tool_call {
    const char *name;
    const char *arguments; /* JSON text, json.dumps(..., ensure_ascii=False) of the model's value */
} chat_tool_call;

typedef struct chat_parsed {
    chat_tool_call *calls;
    size_t n_calls;
    const char *content; /* text for the user; NULL when none */
    /* Set when the text carried tool-call markup that could not be used
     * (bad JSON, no "name"...): then n_calls is 0 and content is the whole
     * text, as the servers do. NULL otherwise. */
    const char *problem;
} chat_parsed;

/* Extracts tool calls from text[0..len). Everything in `out` lives in `a`.
 * Fails only on allocation (and ERR_INVALID for an unknown format). */
int chat_parse_tool_calls(enum chat_tool_format fmt, const char *text, size_t len, arena *a,
                          chat_parsed *out, err *e);

#endif
