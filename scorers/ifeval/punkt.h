/* punkt.h: nltk's Punkt sentence splitter, driven by the real English tables.
 *
 * IFEval counts sentences with nltk's pre-trained English Punkt tokenizer
 * (SCORING.md 3.5.1) and feeds Punkt's sentences to the word tokenizer for
 * capital-word counting (3.5.2). This is a port of the documented
 * algorithm: candidate ends `.?!` found with the period-context rule, each
 * decided by tokenizing its context into Punkt word tokens and annotating
 * them (abbreviations, ellipses, initials, numbers, collocations, frequent
 * sentence starters and the orthographic-context heuristic), then sentence
 * slices with nltk's boundary realignment.
 *
 * The four parameter tables are data (nltk_data `punkt_tab/english`, SCORING.md
 * Appendix A): `abbrev_types.txt`, `collocations.tab`, `sent_starters.txt`,
 * `ortho_context.tab`, read from a directory at run time, usually
 * DATA_DIR/ifeval/punkt_tab/english.
 *
 *   punkt_model m = PUNKT_MODEL_INIT;
 *   if (punkt_load(&m, dir, &e) < 0) ...
 *   punkt_spans sp = PUNKT_SPANS_INIT;
 *   punkt_sentences(&m, text, n, &sp, &e);   // byte offsets into text
 *   punkt_spans_release(&sp);
 *   punkt_release(&m);
 *
 * Offsets are bytes of the UTF-8 text; the text must be valid UTF-8.
 * A loaded model is read-only and may be shared between threads.
 */
#ifndef TALLY_SCORERS_IFEVAL_PUNKT_H
#define TALLY_SCORERS_IFEVAL_PUNKT_H

#include <stddef.h>

#include "common/err.h"
#include "common/strmap.h"

/* Orthographic-context flags of ortho_context.tab. */
enum punkt_ortho {
    PUNKT_BEG_UC = 1 << 1, /* seen upper-case at a sentence start */
    PUNKT_MID_UC = 1 << 2, /* seen upper-case mid-sentence */
    PUNKT_UNK_UC = 1 << 3, /* seen upper-case, position unknown */
    PUNKT_BEG_LC = 1 << 4,
    PUNKT_MID_LC = 1 << 5,
    PUNKT_UNK_LC = 1 << 6,
    PUNKT_UC = PUNKT_BEG_UC | PUNKT_MID_UC | PUNKT_UNK_UC,
    PUNKT_LC = PUNKT_BEG_LC | PUNKT_MID_LC | PUNKT_UNK_LC,
};

typedef struct punkt_model {
    strmap abbrev;   /* abbreviation types, lower-case, without the final period */
    strmap colloc;   /* "first\tsecond" pairs */
    strmap starters; /* frequent sentence starters */
    strmap ortho;    /* type -> flags */
    const char *dir; /* where the tables were read (malloc'd copy) */
} punkt_model;

#define PUNKT_MODEL_INIT {STRMAP_INIT, STRMAP_INIT, STRMAP_INIT, STRMAP_INIT, NULL}

/* Reads the four tables from `dir`. A missing or malformed file is an error
 * naming the file (and line). */
int punkt_load(punkt_model *m, const char *dir, err *e);
void punkt_release(punkt_model *m);

typedef struct punkt_span {
    size_t start, end; /* text[start..end) */
} punkt_span;

typedef struct punkt_spans {
    punkt_span *v;
    size_t n, cap;
} punkt_spans;

#define PUNKT_SPANS_INIT {NULL, 0, 0}

void punkt_spans_release(punkt_spans *sp);

/* The sentences of text[0..n) as nltk's PunktSentenceTokenizer.tokenize
 * returns them (realigned, empty ones dropped), replacing sp's contents. */
int punkt_sentences(const punkt_model *m, const char *text, size_t n, punkt_spans *sp, err *e);

/* len(tokenizer.tokenize(text)). */
int punkt_count(const punkt_model *m, const char *text, size_t n, size_t *count_out, err *e);

#endif
