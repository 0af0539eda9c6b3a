/* pycall.h: BFCL's prompt-mode decoder: Python call syntax -> calls.
 *
 * A prompt-mode model answers `[f(a=1, b='x'), g.h(c=[1, 2])]`. BFCL reads
 * that with Python's own parser (ast.parse in eval mode) and turns each call
 * into {name: {param: value}} (SCORING.md 4.2). This module does the same
 * with its own tokenizer and parser for Python expressions:
 *
 *  - strings with every prefix except f (escapes, raw, bytes, triple quotes,
 *    implicit concatenation), ints of any size, floats, True/False/None, ...;
 *  - lists, tuples, dicts, sets, calls, attributes, subscripts and slices,
 *    unary/binary/boolean operators, comparisons, conditional expressions;
 *  - BFCL's value rules: keyword arguments only (positional ones are dropped),
 *    a unary operator on a literal gives the negated literal whatever the
 *    operator (`+5` -> -5, reproduced), a binary operation is evaluated with
 *    Python's arithmetic, a bare name is its own string, a call without
 *    keyword arguments and a subscript become their source text as
 *    ast.unparse writes it, attributes/lambdas/comparisons/... fail.
 *
 * Not supported (decode failure, where Python would accept the text): lambda,
 * comprehensions and generator expressions, f-strings, \N{name} escapes,
 * complex literals, `:=`, `yield`/`await`, and inside an evaluated binary
 * operation: names and calls (Python would look up builtins), `%` string
 * formatting, `is`, and integer //, %, <<, >>, &, |, ^ beyond 64 bits.
 *
 * Memory: results live in the arena passed in. Errors are ERR_PARSE with a
 * one-line reason (the byte offset in the parsed text); ERR_NOMEM otherwise.
 */
#ifndef TALLY_SCORERS_PYCALL_H
#define TALLY_SCORERS_PYCALL_H

#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "datasets/pyval.h"

/* The whole prompt-mode decoding of SCORING.md 4.2 (steps 1-4): strips
 * backticks/newlines/spaces, adds the brackets, strips whitespace and single
 * quotes, parses, and returns a list of {name: {param: value}} dicts.
 * *positional_out (may be NULL) gets the number of positional arguments the
 * calls had (BFCL drops them), so a failure can say why. */
int pycall_decode(const char *text, size_t n, arena *a, pyval **calls_out, size_t *positional_out,
                  err *e);

/* Step 3 onwards on text that already has its brackets (or is one call):
 * the expression must be a call or a list/tuple of calls. */
int pycall_parse_calls(const char *expr, size_t n, arena *a, pyval **calls_out,
                       size_t *positional_out, err *e);

/* One expression's value under BFCL's rules (resolve_ast_by_type). */
int pycall_value(const char *expr, size_t n, arena *a, pyval **out, err *e);

/* ast.unparse of one expression (Python 3.11 layout), appended to out. */
int pycall_unparse(const char *expr, size_t n, arena *a, buf *out, err *e);

#endif
