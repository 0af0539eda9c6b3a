/* bfcl_lang.h: BFCL's Java and JavaScript handling (SCORING.md 4.2, 4.3.1).
 *
 * For the simple_java and simple_javascript categories every argument is a
 * string holding source text ("true", "5L", "new int[] {1, 2}"). The checker
 * converts it with the parameter's declared type before type and value
 * checks; a text that does not match the type's pattern stays a string (and
 * then fails the type check unless the answer is a variable name).
 *
 * Prompt-mode answers in these categories are read by a small call parser:
 * the outer brackets are dropped (first and last character), calls are
 * `a.b.c(name=value, ...)` separated by commas, named arguments are kept,
 * positional ones dropped, a value that is one string literal loses its
 * quotes (escapes are not interpreted, as in BFCL), any other value is its
 * source text. BFCL uses tree-sitter grammars here; ours is a bracket- and
 * string-aware scanner (documented approximation: we do not check that the
 * text is valid Java/JavaScript).
 *
 * Memory: results live in the arena passed in.
 */
#ifndef TALLY_SCORERS_BFCL_LANG_H
#define TALLY_SCORERS_BFCL_LANG_H

#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"
#include "datasets/bfcl.h"
#include "datasets/pyval.h"

/* java_type_converter(text, type, item_type): the converted value, or the
 * text itself as a str when it does not match. ERR_UNSUPPORTED for the types
 * BFCL has no converter for (Set, Hashtable, Queue, Stack) and unknown types.
 * item_type may be NULL. */
int bfcl_java_convert(arena *a, const char *text, size_t n, const char *type, const char *item_type,
                      pyval **out, err *e);

/* js_type_converter(text, type, item_type), same contract. */
int bfcl_js_convert(arena *a, const char *text, size_t n, const char *type, const char *item_type,
                    pyval **out, err *e);

/* The prompt-mode call parser for Java/JavaScript on the text with its outer
 * brackets already removed: a list of {name: {param: str}}. ERR_PARSE on
 * unbalanced brackets, unterminated strings or text that is not calls.
 * *positional_out (may be NULL) counts the positional arguments dropped. */
int bfcl_lang_parse_calls(const char *text, size_t n, bfcl_lang lang, arena *a, pyval **out,
                          size_t *positional_out, err *e);

#endif
