/* wordtok.h: nltk.word_tokenize (Punkt sentences, then the NLTK/Treebank
 * word tokenizer), for IFEval's change_case:capital_word_frequency.
 *
 * The word tokenizer is nltk's NLTKWordTokenizer: a fixed sequence of regex
 * rewrites (starting quotes, punctuation, brackets, double dashes, ending
 * quotes and clitics, MacIntyre contractions) followed by a whitespace
 * split (SCORING.md 3.5.2). The rewrites run through pyre (PCRE2 with
 * Python's semantics); the patterns are compiled once by wordtok_init.
 *
 *   wordtok w;
 *   if (wordtok_init(&w, &e) < 0) ...
 *   wordtok_tokenize(&w, sentence, n, &tokens, &count, &e);  // one sentence
 *   wordtok_count_upper(&w, &punkt, text, n, &k, &e);       // the IFEval count
 *   wordtok_release(&w);
 *
 * A wordtok holds scratch buffers: one per thread. Texts must be valid UTF-8.
 */
#ifndef TALLY_SCORERS_IFEVAL_WORDTOK_H
#define TALLY_SCORERS_IFEVAL_WORDTOK_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "punkt.h"
#include "pyre.h"

#define WORDTOK_RULES 31

typedef struct wordtok {
    pyre *re[WORDTOK_RULES];
    pyre_scan sc;
    buf a, b;          /* the text between rewrites */
    punkt_spans spans; /* sentences of the last text */
} wordtok;

int wordtok_init(wordtok *w, err *e);
/* Safe on a zeroed wordtok and after a failed init. */
void wordtok_release(wordtok *w);

/* NLTKWordTokenizer.tokenize(s[0..n)): the tokens, each followed by a NUL,
 * replace the contents of `out`; *count_out is their number. */
int wordtok_tokenize(wordtok *w, const char *s, size_t n, buf *out, size_t *count_out, err *e);

/* len([t for t in nltk.word_tokenize(text) if t.isupper()]). */
int wordtok_count_upper(wordtok *w, const punkt_model *pm, const char *text, size_t n,
                        size_t *count_out, err *e);

#endif
