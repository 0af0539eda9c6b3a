/* langdetect.h: the `langdetect` 1.0.9 language identifier in C, made deterministic.
 *
 * IFEval's language checks call Python's langdetect (a port of Nakatani
 * Shuyo's language-detection): 55 character 1-3-gram profiles and a
 * randomised naive-Bayes estimate (SCORING.md 3.5.3). This module runs the
 * same algorithm on the same data:
 *
 *   - the profiles are the JSON files Debian's `python3-langdetect` ships
 *     (default LANGDETECT_DEFAULT_DIR; the caller may pass another folder);
 *     they are read in file-name order, so the language order, and with it
 *     every floating-point sum, is the same on every machine;
 *   - the CJK class table comes from `messages.properties` of the same
 *     package (`DIR/../utils/messages.properties`, or `DIR/messages.properties`);
 *     without it CJK ideographs are left as they are, which changes nothing
 *     for the alphabets IFEval asks for;
 *   - text preparation, character normalisation, n-gram extraction and the
 *     7-trial estimate are done exactly as langdetect does them, with
 *     CPython's own random generator (MT19937 with `random.seed(int)`
 *     seeding, `random()`, `gauss()` and `choice()`), reseeded with the same
 *     seed for every text. With seed 0 the verdicts equal Python's under
 *     `DetectorFactory.seed = 0` (given the same profile order); the
 *     reference itself does not seed, which makes it non-deterministic on
 *     short or ambiguous texts.
 *
 *   langdetect *ld = NULL;
 *   if (langdetect_open(&ld, dir, &e) < 0) ...      // loads ~2 MB of JSON once
 *   langdetect_result r;
 *   langdetect_detect(ld, &scratch, text, n, LANGDETECT_SEED, &r, &e);
 *   // r.lang: "en", ..., "unknown"; NULL when the text has no features
 *   langdetect_close(ld);
 *
 * A loaded detector is read-only (threads may share it); the scratch space
 * (langdetect_scratch) is per thread. Text must be valid UTF-8.
 */
#ifndef TALLY_SCORERS_IFEVAL_LANGDETECT_H
#define TALLY_SCORERS_IFEVAL_LANGDETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define LANGDETECT_DEFAULT_DIR "/usr/lib/python3/dist-packages/langdetect/profiles"
/* The seed every detection starts from (Python: DetectorFactory.seed = 0). */
#define LANGDETECT_SEED      0u
#define LANGDETECT_MAX_LANGS 128

typedef struct langdetect langdetect;

typedef struct langdetect_scratch {
    uint32_t *cps; /* the prepared text as code points */
    size_t n_cps, cap_cps;
    uint32_t *grams; /* n-gram rows found in the profiles */
    size_t n_grams, cap_grams;
    buf a, b;   /* text between the preparation steps */
    void *scan; /* regex match state (pyre_scan *) */
} langdetect_scratch;

#define LANGDETECT_SCRATCH_INIT {NULL, 0, 0, NULL, 0, 0, BUF_INIT, BUF_INIT, NULL}

void langdetect_scratch_release(langdetect_scratch *s);

typedef struct langdetect_result {
    const char *lang; /* the detected code, "unknown" when no language reaches
                       * 0.1, NULL when the text has no usable n-gram
                       * (Python raises "No features in text.") */
    double prob;      /* its averaged probability (0 for "unknown"/NULL) */
    size_t n_grams;   /* n-grams the estimate drew from */
} langdetect_result;

/* Loads every profile in `dir` (NULL = LANGDETECT_DEFAULT_DIR). Errors name
 * the file; a missing folder says to install python3-langdetect. */
int langdetect_open(langdetect **out, const char *dir, err *e);
void langdetect_close(langdetect *ld);

/* Number of languages and the code of language i (file-name order). */
size_t langdetect_n_langs(const langdetect *ld);
const char *langdetect_lang(const langdetect *ld, size_t i);
/* True when the CJK class table was found. */
bool langdetect_has_cjk_map(const langdetect *ld);
const char *langdetect_dir(const langdetect *ld);

/* langdetect.detect(text) with the random generator seeded by `seed`.
 * probs_out, when not NULL, receives the averaged probability of every
 * language (langdetect_n_langs entries). */
int langdetect_detect(const langdetect *ld, langdetect_scratch *s, const char *text, size_t n,
                      uint32_t seed, langdetect_result *out, double *probs_out, err *e);

#endif
