/* checkers.h: the 25 IFEval instruction checkers, in one registry table.
 *
 * Each checker follows the google-research reference as SCORING.md 3.3
 * states it (word counting, sentence splitting, paragraph splitting,
 * relations, case handling), quirks included, in the default `compat`
 * mode. The `fixed` mode repairs the documented defects listed in
 * docs/ifeval-fixed-mode.md; each repair is marked FIXED in checkers.c.
 * Both modes are deterministic.
 *
 * The order of calls:
 *
 *   ifeval_settings s;
 *   ifeval_settings_default(&s);
 *   s.data_dir = ...;                        // for the Punkt tables
 *   ifeval_env *env = NULL;
 *   ifeval_env_open(&env, &s, &e);           // cheap: tables load on first use
 *   ifeval_inst in;
 *   ifeval_inst_build(env, id, &kwargs, prompt, &in, &e);  // kwargs are borrowed
 *   ifeval_response r = IFEVAL_RESPONSE_INIT;
 *   ifeval_response_set(&r, text, n, &e);    // the 8 loose variants
 *   ifeval_inst_eval(env, &in, &r, &v, &e);  // strict and loose verdicts
 *   ifeval_response_release(&r);
 *   ifeval_inst_release(&in);
 *   ifeval_env_close(env);
 *
 * An env holds scratch space and lazily loaded tables (Punkt, langdetect
 * profiles): one per thread. Texts are sanitised to valid UTF-8 by
 * ifeval_response_set (each invalid byte becomes U+FFFD).
 */
#ifndef TALLY_SCORERS_IFEVAL_CHECKERS_H
#define TALLY_SCORERS_IFEVAL_CHECKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "datasets/ifeval.h"

enum ifeval_mode {
    IFEVAL_MODE_COMPAT = 0, /* the reference's verdicts, quirks included */
    IFEVAL_MODE_FIXED = 1,  /* documented defects repaired */
};

/* "compat" / "fixed" -> enum ifeval_mode, or -1. */
int ifeval_mode_from_name(const char *s);
const char *ifeval_mode_name(int mode);

typedef struct ifeval_settings {
    int mode;                   /* enum ifeval_mode */
    const char *data_dir;       /* the Punkt tables are DATA_DIR/ifeval/punkt_tab/english */
    const char *punkt_dir;      /* or exactly here (overrides data_dir); NULL = not given */
    const char *langdetect_dir; /* langdetect profiles; NULL = LANGDETECT_DEFAULT_DIR */
    uint32_t langdetect_seed;   /* LANGDETECT_SEED */
} ifeval_settings;

void ifeval_settings_default(ifeval_settings *s);

typedef struct ifeval_env ifeval_env;

int ifeval_env_open(ifeval_env **out, const ifeval_settings *s, err *e);
void ifeval_env_close(ifeval_env *env);
int ifeval_env_mode(const ifeval_env *env);
/* Where the lazily loaded tables came from ("" when not loaded yet). */
const char *ifeval_env_punkt_dir(const ifeval_env *env);
const char *ifeval_env_langdetect_dir(const ifeval_env *env);

/* What a checker needs besides plain string code. */
enum ifeval_needs {
    IFEVAL_NEEDS_PUNKT = 1 << 0,      /* Punkt tables (sentences, word tokens) */
    IFEVAL_NEEDS_LANGDETECT = 1 << 1, /* langdetect profiles */
};

typedef struct ifeval_inst ifeval_inst;

typedef struct ifeval_checker {
    const char *id;       /* "detectable_format:title" */
    const char *category; /* "detectable_format" */
    uint32_t kwargs;      /* the kwargs it requires (bits of enum ifeval_kwarg) */
    unsigned needs;       /* enum ifeval_needs */
    /* Prepares `in` (compiles patterns, normalises kwargs); NULL = nothing to do. */
    int (*build)(ifeval_env *env, ifeval_inst *in, err *e);
    /* Is the instruction followed by v[0..n)? Sets *ok. */
    int (*check)(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok, err *e);
} ifeval_checker;

/* The registry: row i, or NULL past the end; the row for an id, or NULL. */
const ifeval_checker *ifeval_checker_at(size_t i);
const ifeval_checker *ifeval_checker_find(const char *id);

/* One instruction of one prompt, ready to check. */
struct ifeval_inst {
    const ifeval_checker *def;
    const ifeval_kwargs *kw; /* borrowed */
    const char *prompt;      /* the item's prompt (borrowed), or NULL */
    void **re;               /* compiled patterns (pyre *), malloc'd */
    size_t n_re, cap_re;
    char *text; /* a normalised kwarg (stripped, lower-cased), malloc'd */
    size_t text_len;
};

#define IFEVAL_INST_INIT {NULL, NULL, NULL, NULL, 0, 0, NULL, 0}

/* Builds the checker for `id` with its kwargs. An unknown id or a missing
 * or unusable kwarg is ERR_INVALID naming the id and the key. */
int ifeval_inst_build(ifeval_env *env, const char *id, const ifeval_kwargs *kw, const char *prompt,
                      ifeval_inst *out, err *e);
void ifeval_inst_release(ifeval_inst *in);

#define IFEVAL_VARIANTS 8

/* A response and its loose variants (SCORING.md 3.2), in the reference's order:
 * r, r without '*', without the first line, without the last, without both,
 * and the last three without '*'. Variant 0 is the response itself. */
typedef struct ifeval_response {
    buf v[IFEVAL_VARIANTS];
} ifeval_response;

#define IFEVAL_RESPONSE_INIT {{BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT}}

int ifeval_response_set(ifeval_response *r, const char *text, size_t n, err *e);
void ifeval_response_release(ifeval_response *r);

typedef struct ifeval_verdict {
    bool strict, loose;
    bool limited; /* a regex hit its backtracking limit; counted as not followed */
} ifeval_verdict;

/* strict: the response is not blank and the checker accepts it;
 * loose: some variant is not blank and the checker accepts it.
 * `all_variants` checks every variant even after one passed (benchmarks). */
int ifeval_inst_eval(ifeval_env *env, const ifeval_inst *in, const ifeval_response *r,
                     bool all_variants, ifeval_verdict *out, err *e);

/* One check on one text (tests): 1 followed, 0 not, < 0 error. */
int ifeval_inst_check(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, err *e);

/* json.loads(s) would succeed (Python's grammar: NaN/Infinity, any top-level
 * value, whitespace " \t\n\r" only, no control characters in strings). */
bool ifeval_json_valid(const char *s, size_t n);

#endif
