/* json.h: cJSON helpers that name the place of a bad value.
 *
 * Getters take a `where` string ("data/test.jsonl:12") used in messages:
 *   const char *q;
 *   if (json_get_str(obj, "question", where, &q, e) < 0) return e->code;
 * fails with `data/test.jsonl:12: field "question" is missing` or
 * `... field "question" is not a string (got number)`. Returned pointers
 * point into the cJSON tree; they live as long as it does.
 *
 * cJSON keeps numbers as doubles and does not remember whether a number was
 * written as an integer: code that needs Python's int/float distinction or
 * integers beyond 2^53 must parse the text itself.
 */
#ifndef TALLY_COMMON_JSON_H
#define TALLY_COMMON_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Parses exactly one JSON value from text[0..len) (no trailing garbage). The
 * caller cJSON_Delete()s *out. Errors name `where` and the byte column. */
int json_parse(const char *text, size_t len, const char *where, cJSON **out, err *e);
/* Reads and parses a whole JSON file. */
int json_parse_file(const char *path, cJSON **out, err *e);

int json_get_str(const cJSON *obj, const char *key, const char *where, const char **out, err *e);
int json_get_num(const cJSON *obj, const char *key, const char *where, double *out, err *e);
/* A number that must be an integer in [lo, hi]. */
int json_get_int(const cJSON *obj, const char *key, const char *where, int64_t lo, int64_t hi,
                 int64_t *out, err *e);
int json_get_bool(const cJSON *obj, const char *key, const char *where, bool *out, err *e);
int json_get_array(const cJSON *obj, const char *key, const char *where, const cJSON **out,
                   err *e);
int json_get_object(const cJSON *obj, const char *key, const char *where, const cJSON **out,
                    err *e);
/* Optional string: *out = NULL when absent or null; an error when present with another type. */
int json_opt_str(const cJSON *obj, const char *key, const char *where, const char **out, err *e);

/* Lenient lookups, for documents tally wrote itself (manifests, results):
 * o[a], or o[a][b] when b is not NULL; a missing level gives NULL (and so the
 * fallback), never an error. json_str_at: the string, or NULL when absent or not
 * a string. json_int_at / json_num_at: the number (cJSON's valueint /
 * valuedouble), or `dflt` when absent or not a number. */
const cJSON *json_at(const cJSON *o, const char *a, const char *b);
const char *json_str_at(const cJSON *o, const char *a, const char *b);
int json_int_at(const cJSON *o, const char *a, const char *b, int dflt);
double json_num_at(const cJSON *o, const char *a, const char *b, double dflt);

/* The cJSON type as a word ("string", "number", "array", ...). */
const char *json_type_name(const cJSON *v);

/* Appends `s` (n bytes, UTF-8) as a JSON string literal with quotes. Non-ASCII
 * bytes pass through; control characters become \uXXXX (\n, \t, ... short forms). */
int json_append_str(buf *out, const char *s, size_t n);
/* Appends s[0..n) as Python's json.dumps writes a str, quotes included: the
 * short escapes, \uXXXX for control characters, and with `ensure_ascii` for
 * DEL and everything past ASCII (UTF-16 surrogate pairs above U+FFFF); without
 * it, UTF-8 passes through except encoded surrogates, which are escaped.
 * Sequences are decoded under `utf8_flags` (utf8.h); a byte that does not
 * start one becomes \ufffd when `replace_invalid`, else passes through as it is. */
int json_append_pystr(buf *out, const char *s, size_t n, bool ensure_ascii, unsigned utf8_flags,
                      bool replace_invalid);
/* Appends the unformatted JSON of a cJSON value. */
int json_append_value(buf *out, const cJSON *v);
/* Appends a double the way JSON readers round-trip it (%.17g trimmed to the shortest exact form). */
int json_append_double(buf *out, double d);

/* Writes the value (pretty-printed when `pretty`) to `path` atomically, with a final newline. */
int json_write_file(const char *path, const cJSON *v, bool pretty, err *e);

/* Python's json.dumps for values cJSON can represent: separators ", " / ": ",
 * insertion key order, `indent` < 0 for a single line, `ensure_ascii` like Python.
 * Integral doubles print without a fraction (cJSON cannot tell 5 from 5.0). */
int json_dumps_py(buf *out, const cJSON *v, int indent, bool ensure_ascii);

#endif
