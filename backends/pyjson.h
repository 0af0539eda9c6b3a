/* pyjson.h: JSON read and written exactly as Python's json module does it.
 *
 * Chat templates serialize tool schemas with Hugging Face's `tojson`
 * (json.dumps(x, ensure_ascii=False), separators ", " and ": ", insertion
 * key order), and servers re-serialize tool-call arguments the same way. To
 * reproduce those bytes from JSON text we must keep what cJSON loses:
 * 5 versus 5.0, integers beyond 2^53, key order with duplicate keys.
 *
 * pyjson_parse follows json.loads: numbers with a fraction or exponent are
 * floats (printed back with Python's shortest repr: 1e-05, 1e+16, 100.0),
 * other numbers are integers of any size (printed as written, "-0" as "0");
 * NaN, Infinity and -Infinity are accepted; raw control characters in
 * strings are an error; a duplicate key keeps its first position and takes
 * the last value; only whitespace may follow the value. Nesting is capped
 * at 500 levels (Python's recursion limit would stop near 1000).
 *
 * pyjson_dump follows json.dumps: with indent < 0 one line with ", " and
 * ": "; with indent >= 0 a newline and `indent` spaces per level, "," and
 * ": ". Lone surrogates (from "\ud800" escapes) are written as \uXXXX
 * escapes. Float repr picks the shortest round-tripping digits by trying
 * precisions in turn, which matches Python except possibly at exact
 * powers of two where the shortest neighbour lies on the far side.
 *
 * Values live in a caller-owned arena (freed with it).
 *
 *   arena a = ARENA_INIT;
 *   pyjson *v;
 *   if (pyjson_parse(text, len, "tools", &a, &v, &e) < 0) ...
 *   pyjson_dump(v, -1, false, &out);
 *   arena_release(&a);
 */
#ifndef TALLY_BACKENDS_PYJSON_H
#define TALLY_BACKENDS_PYJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"

enum pyjson_kind {
    PYJSON_NULL,
    PYJSON_BOOL,
    PYJSON_INT,    /* `str` holds the canonical decimal text */
    PYJSON_FLOAT,  /* `f` */
    PYJSON_STRING, /* `str`/`len`: decoded UTF-8 (may hold NULs) */
    PYJSON_ARRAY,  /* `items`/`n` */
    PYJSON_OBJECT, /* `keys`/`key_lens`/`items`/`n`, in first-insertion order */
};

typedef struct pyjson {
    int kind;
    bool b;
    double f;
    const char *str;
    size_t len;
    struct pyjson **items;
    const char **keys;
    size_t *key_lens;
    size_t n;
} pyjson;

/* Parses text[0..len); errors (ERR_PARSE) name `where` and the byte offset. */
int pyjson_parse(const char *text, size_t len, const char *where, arena *a, pyjson **out, err *e);
/* Appends the json.dumps text of v. */
int pyjson_dump(const pyjson *v, int indent, bool ensure_ascii, buf *out);
/* Both in one: json.dumps(json.loads(text)). */
int pyjson_redump(const char *text, size_t len, const char *where, int indent, bool ensure_ascii,
                  buf *out, err *e);

/* The value of `key` in an object (NULL when absent or v is not an object). */
const pyjson *pyjson_get(const pyjson *v, const char *key);
/* Python truthiness: null/false/0/0.0/""/[]/{} are false. */
bool pyjson_truthy(const pyjson *v);
/* Python's repr of a float, as json.dumps prints it (NaN, Infinity...). `out`
 * must hold 32 bytes. */
void pyjson_float_repr(double d, char out[32]);

#endif
