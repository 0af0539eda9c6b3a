/* checkers.c: the IFEval instruction checkers (SCORING.md 3.3) and their registry.
 *
 * Sections: environment, helpers, the checkers in the registry's order, the
 * registry, building and evaluating instructions, JSON validation.
 * Places where `fixed` mode departs from the reference are marked FIXED and
 * listed in docs/ifeval-fixed-mode.md.
 */
#include "checkers.h"

#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/util.h"
#include "langdetect.h"
#include "punkt.h"
#include "pyre.h"
#include "ustr.h"
#include "wordtok.h"

/* ----------------------------------------------------------- environment */

enum static_re {
    RE_BULLET_STAR, /* ^\s*\*[^\*].*$ */
    RE_BULLET_DASH, /* ^\s*-.*$ */
    RE_BULLET_MD,   /* FIXED: a markdown list item */
    RE_HL_SINGLE,   /* \*[^\n\*]*\* */
    RE_HL_DOUBLE,   /* \*\*[^\n\*]*\*\* */
    RE_TITLE,       /* <<[^\n]+>> */
    RE_PLACEHOLDER, /* \[.*?\] */
    RE_PARAGRAPH,   /* \s?\*\*\*\s? */
    RE_STATIC_COUNT
};

static const struct {
    const char *pattern;
    unsigned flags;
} static_patterns[RE_STATIC_COUNT] = {
    [RE_BULLET_STAR] = {"^" PYRE_WS "*\\*[^\\*].*$", PYRE_MULTILINE},
    [RE_BULLET_DASH] = {"^" PYRE_WS "*-.*$", PYRE_MULTILINE},
    [RE_BULLET_MD] = {"^[ \\t]*[*-][ \\t]+" PYRE_NOT_WS, PYRE_MULTILINE},
    [RE_HL_SINGLE] = {"\\*[^\\n\\*]*\\*", 0},
    [RE_HL_DOUBLE] = {"\\*\\*[^\\n\\*]*\\*\\*", 0},
    [RE_TITLE] = {"<<[^\\n]+>>", 0},
    [RE_PLACEHOLDER] = {"\\[.*?\\]", 0},
    [RE_PARAGRAPH] = {PYRE_WS "?\\*\\*\\*" PYRE_WS "?", 0},
};

struct ifeval_env {
    int mode;
    char *data_dir, *punkt_dir_opt, *ld_dir_opt;
    uint32_t seed;
    /* loaded on first use */
    bool punkt_loaded, wt_ready;
    punkt_model punkt;
    wordtok wt;
    langdetect *ld;
    langdetect_scratch lds;
    /* always there */
    pyre *re[RE_STATIC_COUNT];
    pyre_scan sc;
    buf tmp, tmp2;
};

void ifeval_settings_default(ifeval_settings *s)
{
    memset(s, 0, sizeof *s);
    s->mode = IFEVAL_MODE_COMPAT;
    s->langdetect_seed = LANGDETECT_SEED;
}

int ifeval_mode_from_name(const char *s)
{
    if (!s || !*s || strcmp(s, "compat") == 0) return IFEVAL_MODE_COMPAT;
    if (strcmp(s, "fixed") == 0) return IFEVAL_MODE_FIXED;
    return -1;
}

const char *ifeval_mode_name(int mode)
{
    return mode == IFEVAL_MODE_FIXED ? "fixed" : "compat";
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = true;
    return d;
}

int ifeval_env_open(ifeval_env **out, const ifeval_settings *s, err *e)
{
    *out = NULL;
    if (s->mode != IFEVAL_MODE_COMPAT && s->mode != IFEVAL_MODE_FIXED)
        return err_set(e, ERR_INVALID, "ifeval: unknown scoring mode %d", s->mode);
    ifeval_env *env = calloc(1, sizeof *env);
    if (!env) return err_set(e, ERR_NOMEM, "out of memory");
    bool fail = false;
    env->mode = s->mode;
    env->seed = s->langdetect_seed;
    env->data_dir = dup_or_null(s->data_dir, &fail);
    env->punkt_dir_opt = dup_or_null(s->punkt_dir, &fail);
    env->ld_dir_opt = dup_or_null(s->langdetect_dir, &fail);
    env->punkt = (punkt_model)PUNKT_MODEL_INIT;
    env->lds = (langdetect_scratch)LANGDETECT_SCRATCH_INIT;
    env->sc = (pyre_scan)PYRE_SCAN_INIT;
    env->tmp = (buf)BUF_INIT;
    env->tmp2 = (buf)BUF_INIT;
    int rc = 0;
    if (fail) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = pyre_scan_init(&env->sc, e)) < 0) goto fail;
    for (int i = 0; i < RE_STATIC_COUNT; i++)
        if ((rc = pyre_compile(&env->re[i], static_patterns[i].pattern, static_patterns[i].flags,
                               e)) < 0)
            goto fail;
    *out = env;
    return 0;
fail:
    ifeval_env_close(env);
    return rc;
}

void ifeval_env_close(ifeval_env *env)
{
    if (!env) return;
    free(env->data_dir);
    free(env->punkt_dir_opt);
    free(env->ld_dir_opt);
    punkt_release(&env->punkt);
    if (env->wt_ready) wordtok_release(&env->wt);
    langdetect_close(env->ld);
    langdetect_scratch_release(&env->lds);
    for (int i = 0; i < RE_STATIC_COUNT; i++) pyre_free(env->re[i]);
    pyre_scan_release(&env->sc);
    buf_release(&env->tmp);
    buf_release(&env->tmp2);
    free(env);
}

int ifeval_env_mode(const ifeval_env *env)
{
    return env->mode;
}

const char *ifeval_env_punkt_dir(const ifeval_env *env)
{
    return env->punkt_loaded && env->punkt.dir ? env->punkt.dir : "";
}

const char *ifeval_env_langdetect_dir(const ifeval_env *env)
{
    return env->ld ? langdetect_dir(env->ld) : "";
}

static int need_punkt(ifeval_env *env, err *e)
{
    if (env->punkt_loaded) return 0;
    buf dir = BUF_INIT;
    int rc = 0;
    if (env->punkt_dir_opt)
        rc = buf_puts(&dir, env->punkt_dir_opt);
    else if (env->data_dir)
        rc = path_join(&dir, env->data_dir, "ifeval/punkt_tab/english");
    else {
        return err_set(e, ERR_NOTFOUND,
                       "ifeval: no data directory for the Punkt tables "
                       "(ifeval/punkt_tab/english; use --data-dir or `tally "
                       "datasets fetch`)");
    }
    if (rc < 0)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else if ((rc = punkt_load(&env->punkt, dir.data, e)) == 0)
        env->punkt_loaded = true;
    buf_release(&dir);
    return rc;
}

static int need_wordtok(ifeval_env *env, err *e)
{
    int rc = need_punkt(env, e);
    if (rc < 0 || env->wt_ready) return rc;
    if ((rc = wordtok_init(&env->wt, e)) == 0) env->wt_ready = true;
    return rc;
}

static int need_langdetect(ifeval_env *env, err *e)
{
    if (env->ld) return 0;
    return langdetect_open(&env->ld, env->ld_dir_opt, e);
}

/* --------------------------------------------------------------- helpers */

static bool relation_holds(int rel, long actual, long n)
{
    return rel == IFEVAL_REL_LESS_THAN ? actual < n : actual >= n;
}

static pyre *inst_re(const ifeval_inst *in, size_t i)
{
    return (pyre *)in->re[i];
}

static int add_re(ifeval_inst *in, const char *pattern, unsigned flags, err *e)
{
    if (in->n_re == in->cap_re) {
        size_t nc = in->cap_re ? in->cap_re * 2 : 4;
        void **nr = realloc(in->re, nc * sizeof *nr);
        if (!nr) return err_set(e, ERR_NOMEM, "out of memory");
        in->re = nr;
        in->cap_re = nc;
    }
    pyre *re = NULL;
    int rc = pyre_compile(&re, pattern, flags, e);
    if (rc < 0) return err_prefix(e, "%s", in->def->id);
    in->re[in->n_re++] = re;
    return 0;
}

/* Appends `s` with every ASCII punctuation character backslash-escaped, so
 * PCRE2 reads it literally (Python's re.escape). */
static int append_escaped(buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (c < 0x80 && !alnum && c != '_' && c != ' ' && buf_putc(b, '\\') < 0) return ERR_NOMEM;
        if (buf_putc(b, (char)c) < 0) return ERR_NOMEM;
    }
    return 0;
}

/* Stores a normalised copy of a kwarg in in->text. */
static int set_text(ifeval_inst *in, const char *s, size_t n, err *e)
{
    free(in->text);
    in->text = malloc(n + 1);
    if (!in->text) return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(in->text, s, n);
    in->text[n] = 0;
    in->text_len = n;
    return 0;
}

/* in->text = lower(strip(s)) (either step optional). */
static int set_text_norm(ifeval_env *env, ifeval_inst *in, const char *s, bool strip, bool lower,
                         err *e)
{
    size_t b = 0, t = strlen(s);
    if (!ustr_valid(s, t))
        return err_set(e, ERR_INVALID, "%s: a kwarg is not valid UTF-8", in->def->id);
    if (strip) ustr_strip(s, t, &b, &t);
    buf_reset(&env->tmp);
    int rc = lower ? ustr_lower(&env->tmp, s + b, t - b) : buf_append(&env->tmp, s + b, t - b);
    if (rc < 0) return err_set(e, ERR_NOMEM, "out of memory");
    return set_text(in, env->tmp.data, env->tmp.len, e);
}

/* Any match of `re` in v? (re.search) */
static int search(ifeval_env *env, const pyre *re, const char *v, size_t n, err *e)
{
    return pyre_search(re, &env->sc, v, n, 0, false, NULL, NULL, e);
}

/* Python's re.IGNORECASE treats U+0131 (dotless i) and U+0130 (I with dot)
 * as "i" (its simple lower case and its case-equivalence table); PCRE2
 * keeps those two Turkic letters apart. Keyword patterns and the texts they
 * are matched against therefore get both letters folded to "i" first; only
 * counts and yes/no answers are taken from these matches, so the shorter
 * text changes nothing else. Returns the text to match (s itself or *tmp). */
static const char *fold_dotted_i(buf *tmp, const char *s, size_t n, size_t *len_out)
{
    *len_out = n;
    if (!memmem(s, n, "\xc4\xb0", 2) && !memmem(s, n, "\xc4\xb1", 2)) return s;
    buf_reset(tmp);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && (unsigned char)s[i] == 0xC4 &&
            ((unsigned char)s[i + 1] == 0xB0 || (unsigned char)s[i + 1] == 0xB1)) {
            if (buf_putc(tmp, 'i') < 0) return NULL;
            i++;
        } else if (buf_putc(tmp, s[i]) < 0)
            return NULL;
    }
    *len_out = tmp->len;
    return tmp->data;
}

/* Compiles a case-insensitive keyword pattern with the dotted/dotless i folded. */
static int add_keyword_re(ifeval_env *env, ifeval_inst *in, const char *pattern, unsigned flags,
                          err *e)
{
    size_t n;
    const char *p = fold_dotted_i(&env->tmp2, pattern, strlen(pattern), &n);
    if (!p) return err_set(e, ERR_NOMEM, "out of memory");
    if (p == pattern) return add_re(in, pattern, flags, e);
    char *copy = strndup(p, n);
    if (!copy) return err_set(e, ERR_NOMEM, "out of memory");
    int rc = add_re(in, copy, flags, e);
    free(copy);
    return rc;
}

/* The language langdetect sees; *none when the text has no features. */
static int detect(ifeval_env *env, const char *v, size_t n, const char **lang, err *e)
{
    int rc = need_langdetect(env, e);
    if (rc < 0) return rc;
    langdetect_result r;
    if ((rc = langdetect_detect(env->ld, &env->lds, v, n, env->seed, &r, NULL, e)) < 0) return rc;
    *lang = r.lang;
    return 0;
}

/* A langdetect verdict: the language matches, or (compat) detection failed
 * for lack of features, which the reference counts as followed. */
static int language_is(ifeval_env *env, const char *v, size_t n, const char *want, bool *ok, err *e)
{
    const char *lang = NULL;
    int rc = detect(env, v, n, &lang, e);
    if (rc < 0) return rc;
    if (!lang)
        *ok = env->mode == IFEVAL_MODE_COMPAT; /* FIXED: no letters is not a language */
    else
        *ok = strcmp(lang, want) == 0;
    return 0;
}

/* ------------------------------------------------------------- keywords */

/* keywords:existence — every keyword is found (case-insensitive regex search). */
static int build_existence(ifeval_env *env, ifeval_inst *in, err *e)
{
    (void)env;
    for (size_t i = 0; i < in->kw->n_keywords; i++) {
        /* FIXED: keywords are literal strings, not regexes */
        unsigned flags = PYRE_IGNORECASE | (env->mode == IFEVAL_MODE_FIXED ? PYRE_LITERAL : 0);
        int rc = add_keyword_re(env, in, in->kw->keywords[i], flags, e);
        if (rc < 0) return rc;
    }
    return 0;
}

static int check_existence(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                           bool *ok, err *e)
{
    if (!(v = fold_dotted_i(&env->tmp, v, n, &n))) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < in->n_re; i++) {
        int rc = search(env, inst_re(in, i), v, n, e);
        if (rc < 0) return rc;
        if (!rc) {
            *ok = false;
            return 0;
        }
    }
    *ok = true;
    return 0;
}

/* keywords:frequency — non-overlapping case-insensitive matches of the stripped keyword. */
static int build_frequency(ifeval_env *env, ifeval_inst *in, err *e)
{
    int rc = set_text_norm(env, in, in->kw->keyword, true, false, e);
    if (rc < 0) return rc;
    return add_keyword_re(env, in, in->text,
                          PYRE_IGNORECASE | (env->mode == IFEVAL_MODE_FIXED ? PYRE_LITERAL : 0), e);
}

static int check_frequency(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                           bool *ok, err *e)
{
    size_t count;
    if (!(v = fold_dotted_i(&env->tmp, v, n, &n))) return err_set(e, ERR_NOMEM, "out of memory");
    int rc = pyre_count(inst_re(in, 0), &env->sc, v, n, &count, e);
    if (rc < 0) return rc;
    *ok = relation_holds(in->kw->relation, (long)count, in->kw->frequency);
    return 0;
}

/* keywords:forbidden_words — none is found between word boundaries. */
static int build_forbidden(ifeval_env *env, ifeval_inst *in, err *e)
{
    buf p = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < in->kw->n_forbidden_words && rc == 0; i++) {
        buf_reset(&p);
        const char *w = in->kw->forbidden_words[i];
        /* r"\b" + word + r"\b", the word spliced in as a regex (FIXED: as a literal) */
        if (buf_puts(&p, "\\b") < 0 ||
            (env->mode == IFEVAL_MODE_FIXED
                 ? buf_puts(&p, "(?:") < 0 || append_escaped(&p, w) < 0 || buf_putc(&p, ')') < 0
                 : buf_puts(&p, w) < 0) ||
            buf_puts(&p, "\\b") < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        rc = add_keyword_re(env, in, p.data, PYRE_IGNORECASE, e);
    }
    buf_release(&p);
    return rc;
}

static int check_forbidden(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                           bool *ok, err *e)
{
    if (!(v = fold_dotted_i(&env->tmp, v, n, &n))) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < in->n_re; i++) {
        int rc = search(env, inst_re(in, i), v, n, e);
        if (rc < 0) return rc;
        if (rc) {
            *ok = false;
            return 0;
        }
    }
    *ok = true;
    return 0;
}

/* keywords:letter_frequency — occurrences of the lower-cased letter in v.lower().
 * A non-letter (`#`, `!`) is counted literally, as the current reference
 * does (lm-eval swaps it for a random letter). */
static int build_letter(ifeval_env *env, ifeval_inst *in, err *e)
{
    return set_text_norm(env, in, in->kw->letter, false, true, e);
}

static int check_letter(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                        err *e)
{
    long count = 0;
    size_t k = 0;
    uint32_t letter = in->text_len ? ustr_next(in->text, in->text_len, &k) : 0;
    if (in->text_len && k == in->text_len) { /* a one-character letter; longer never matches */
        buf_reset(&env->tmp);
        if (ustr_lower(&env->tmp, v, n) < 0) return err_set(e, ERR_NOMEM, "out of memory");
        const char *t = env->tmp.data;
        size_t tn = env->tmp.len, i = 0;
        if (letter < 0x80) {
            for (; i < tn; i++) count += (unsigned char)t[i] == letter;
        } else {
            while (i < tn) count += ustr_next(t, tn, &i) == letter;
        }
    }
    *ok = relation_holds(in->kw->let_relation, count, in->kw->let_frequency);
    return 0;
}

/* ------------------------------------------------------------- language */

/* language:response_language — langdetect.detect(v) == language. */
static int check_language(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                          err *e)
{
    return language_is(env, v, n, in->kw->language, ok, e);
}

/* ----------------------------------------------------- length constraints */

/* length_constraints:number_sentences — Punkt sentences. */
static int check_sentences(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                           bool *ok, err *e)
{
    int rc = need_punkt(env, e);
    size_t count = 0;
    if (rc < 0 || (rc = punkt_count(&env->punkt, v, n, &count, e)) < 0) return rc;
    *ok = relation_holds(in->kw->relation, (long)count, in->kw->num_sentences);
    return 0;
}

typedef struct pieces_ctx {
    const char *v;
    size_t last;  /* start of the current piece */
    size_t total; /* pieces so far */
    bool empty_middle, first_blank;
    size_t blank_ends;
} pieces_ctx;

static int paragraph_piece(void *ctx, const pyre_scan *sc, size_t ms, size_t me)
{
    (void)sc;
    pieces_ctx *p = ctx;
    bool blank = ustr_is_blank(p->v + p->last, ms - p->last);
    if (blank) {
        if (p->total == 0)
            p->blank_ends++;
        else
            p->empty_middle = true;
    }
    p->total++;
    p->last = me;
    return 0;
}

/* length_constraints:number_paragraphs — pieces of re.split(r"\s?\*\*\*\s?", v);
 * blank first/last pieces do not count; a blank middle piece fails. */
static int check_paragraphs(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                            bool *ok, err *e)
{
    pieces_ctx p = {v, 0, 0, false, false, 0};
    int rc = pyre_each(env->re[RE_PARAGRAPH], &env->sc, v, n, paragraph_piece, &p, e);
    if (rc < 0) return rc;
    /* the final piece; with no divider it is also the first */
    bool blank = ustr_is_blank(v + p.last, n - p.last);
    p.total++;
    if (blank) p.blank_ends++;
    *ok = !p.empty_middle && (long)(p.total - p.blank_ends) == in->kw->num_paragraphs;
    return 0;
}

/* length_constraints:number_words — runs of \w. */
static int check_words(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                       err *e)
{
    (void)env, (void)e;
    *ok = relation_holds(in->kw->relation, (long)ustr_count_words(v, n), in->kw->num_words);
    return 0;
}

/* length_constraints:nth_paragraph_first_word — paragraphs are split on
 * "\n\n"; the count skips blank pieces but the reference indexes the raw
 * list (FIXED: the list without blank pieces). */
static int build_nth(ifeval_env *env, ifeval_inst *in, err *e)
{
    return set_text_norm(env, in, in->kw->first_word, false, true, e);
}

static int check_nth(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                     err *e)
{
    *ok = false;
    /* pieces of re.split(r"\n\n", v) */
    size_t total = 0, blank = 0;
    for (size_t s = 0;;) {
        const char *nl = n - s >= 2 ? mem_find(v + s, n - s, "\n\n", 2) : NULL;
        size_t t = nl ? (size_t)(nl - v) : n;
        total++;
        blank += ustr_is_blank(v + s, t - s);
        if (!nl) break;
        s = t + 2;
    }
    long count = (long)(total - blank), k = in->kw->nth_paragraph;
    if (k > count) return 0;
    /* the k-th piece (Python indexing: k <= 0 counts from the end) */
    bool skip_blank = env->mode == IFEVAL_MODE_FIXED;
    long avail = skip_blank ? count : (long)total;
    long idx = k - 1 < 0 ? k - 1 + avail : k - 1;
    if (idx < 0 || idx >= avail) return 0;
    size_t ps = 0, pt = 0;
    long at = 0;
    for (size_t s = 0;;) {
        const char *nl = n - s >= 2 ? mem_find(v + s, n - s, "\n\n", 2) : NULL;
        size_t t = nl ? (size_t)(nl - v) : n;
        if (!(skip_blank && ustr_is_blank(v + s, t - s))) {
            if (at == idx) {
                ps = s, pt = t;
                break;
            }
            at++;
        }
        if (!nl) break;
        s = t + 2;
    }
    size_t b, t;
    ustr_strip(v + ps, pt - ps, &b, &t);
    if (b == t) return 0;
    const char *p = v + ps + b;
    size_t pn = t - b;
    /* first word: split()[0], lstrip("'"), lstrip('"'), up to . , ? ! ' " */
    size_t wb, we;
    ustr_first_field(p, pn, &wb, &we);
    while (wb < we && p[wb] == '\'') wb++;
    while (wb < we && p[wb] == '"') wb++;
    size_t stop = wb;
    while (stop < we && !(p[stop] && strchr(".,?!'\"", p[stop]))) stop++;
    buf_reset(&env->tmp);
    for (size_t i = wb; i < stop;) {
        uint32_t c = ustr_next(p, stop, &i);
        if (ustr_lower_cp(&env->tmp, c) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    }
    *ok = count == in->kw->num_paragraphs && env->tmp.len == in->text_len &&
          memcmp(env->tmp.data, in->text, in->text_len) == 0;
    return 0;
}

/* ---------------------------------------------------- detectable content */

/* detectable_content:number_placeholders — re.findall(r"\[.*?\]"). */
static int check_placeholders(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                              bool *ok, err *e)
{
    size_t count;
    int rc = pyre_count(env->re[RE_PLACEHOLDER], &env->sc, v, n, &count, e);
    if (rc < 0) return rc;
    *ok = (long)count >= in->kw->num_placeholders;
    return 0;
}

/* detectable_content:postscript — the marker, lower-cased, anywhere in
 * v.lower() (FIXED: at the start of a line, after blanks and markdown emphasis). */
static int build_postscript(ifeval_env *env, ifeval_inst *in, err *e)
{
    const char *m = in->kw->postscript_marker;
    buf p = BUF_INIT;
    bool fixed = env->mode == IFEVAL_MODE_FIXED;
    int rc = buf_puts(&p, fixed ? "^" PYRE_WS "*[*_]*" : PYRE_WS "*");
    if (rc == 0) {
        if (strcmp(m, "P.P.S") == 0)
            rc = buf_puts(&p, "p\\." PYRE_WS "?p\\." PYRE_WS "?s");
        else if (strcmp(m, "P.S.") == 0)
            rc = buf_puts(&p, "p\\." PYRE_WS "?s\\.");
        else {
            buf_reset(&env->tmp);
            if (!ustr_valid(m, strlen(m))) {
                buf_release(&p);
                return err_set(e, ERR_INVALID, "%s: postscript_marker is not valid UTF-8",
                               in->def->id);
            }
            rc = ustr_lower(&env->tmp, m, strlen(m));
            if (rc == 0)
                rc = fixed ? append_escaped(&p, env->tmp.data) : buf_puts(&p, env->tmp.data);
        }
    }
    if (rc == 0) rc = buf_puts(&p, ".*$");
    if (rc < 0)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = add_re(in, p.data, PYRE_MULTILINE, e);
    buf_release(&p);
    return rc;
}

static int check_postscript(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                            bool *ok, err *e)
{
    buf_reset(&env->tmp2);
    if (ustr_lower(&env->tmp2, v, n) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    int rc = search(env, inst_re(in, 0), env->tmp2.data, env->tmp2.len, e);
    if (rc < 0) return rc;
    *ok = rc == 1;
    return 0;
}

/* ----------------------------------------------------- detectable format */

/* detectable_format:number_bullet_lists — lines matching ^\s*\*[^\*].*$ plus
 * lines matching ^\s*-.*$, exactly N (FIXED: markdown list items, a `*` or
 * `-` followed by blanks and text). */
static int check_bullets(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                         err *e)
{
    size_t a = 0, b = 0;
    int rc;
    if (env->mode == IFEVAL_MODE_FIXED) {
        rc = pyre_count(env->re[RE_BULLET_MD], &env->sc, v, n, &a, e);
    } else {
        rc = pyre_count(env->re[RE_BULLET_STAR], &env->sc, v, n, &a, e);
        if (rc == 0) rc = pyre_count(env->re[RE_BULLET_DASH], &env->sc, v, n, &b, e);
    }
    if (rc < 0) return rc;
    *ok = (long)(a + b) == in->kw->num_bullets;
    return 0;
}

/* detectable_format:constrained_response — one of the three phrases, case-sensitive. */
static int check_constrained(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                             bool *ok, err *e)
{
    (void)env, (void)in, (void)e;
    static const char *const phrases[] = {"My answer is yes.", "My answer is no.",
                                          "My answer is maybe."};
    size_t b, t;
    ustr_strip(v, n, &b, &t);
    *ok = false;
    for (size_t i = 0; i < 3 && !*ok; i++)
        *ok = mem_find(v + b, t - b, phrases[i], strlen(phrases[i])) != NULL;
    return 0;
}

typedef struct highlight_ctx {
    const char *v;
    size_t count;
    size_t trim; /* `*` characters to drop on each side */
} highlight_ctx;

static int highlight_one(void *ctx, const pyre_scan *sc, size_t ms, size_t me)
{
    (void)sc;
    highlight_ctx *h = ctx;
    /* the pattern guarantees the outer stars; what is inside has none */
    if (me - ms >= 2 * h->trim && !ustr_is_blank(h->v + ms + h->trim, me - ms - 2 * h->trim))
        h->count++;
    return 0;
}

/* detectable_format:number_highlighted_sections — non-blank *x* and **x** spans, at least N. */
static int check_highlights(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                            bool *ok, err *e)
{
    highlight_ctx h1 = {v, 0, 1}, h2 = {v, 0, 2};
    int rc = pyre_each(env->re[RE_HL_SINGLE], &env->sc, v, n, highlight_one, &h1, e);
    if (rc == 0) rc = pyre_each(env->re[RE_HL_DOUBLE], &env->sc, v, n, highlight_one, &h2, e);
    if (rc < 0) return rc;
    *ok = (long)(h1.count + h2.count) >= in->kw->num_highlights;
    return 0;
}

/* detectable_format:multiple_sections — occurrences of \s?SPLITER\s?\d+\s?, at least N. */
static int build_sections(ifeval_env *env, ifeval_inst *in, err *e)
{
    buf p = BUF_INIT;
    int rc = buf_puts(&p, PYRE_WS "?");
    if (rc == 0) rc = buf_puts(&p, in->kw->section_spliter);
    if (rc == 0) rc = buf_puts(&p, PYRE_WS "?\\d+" PYRE_WS "?");
    if (rc < 0)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = add_re(in, p.data, 0, e);
    buf_release(&p);
    (void)env;
    return rc;
}

static int check_sections(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                          err *e)
{
    size_t count;
    int rc = pyre_count(inst_re(in, 0), &env->sc, v, n, &count, e);
    if (rc < 0) return rc;
    *ok = (long)count >= in->kw->num_sections;
    return 0;
}

/* detectable_format:json_format — json.loads of the stripped text without a
 * ```json / ```Json / ```JSON / ``` opening and a ``` closing fence. */
static int check_json(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                      err *e)
{
    (void)env, (void)in, (void)e;
    size_t b, t;
    ustr_strip(v, n, &b, &t);
    static const char *const fences[] = {"```json", "```Json", "```JSON", "```"};
    for (size_t i = 0; i < 4; i++) {
        size_t fl = strlen(fences[i]);
        if (t - b >= fl && memcmp(v + b, fences[i], fl) == 0) b += fl;
    }
    if (t - b >= 3 && memcmp(v + t - 3, "```", 3) == 0) t -= 3;
    size_t b2, t2;
    ustr_strip(v + b, t - b, &b2, &t2);
    *ok = ifeval_json_valid(v + b + b2, t2 - b2);
    return 0;
}

typedef struct title_ctx {
    const char *v;
    bool found;
} title_ctx;

static int title_one(void *ctx, const pyre_scan *sc, size_t ms, size_t me)
{
    (void)sc;
    title_ctx *x = ctx;
    while (ms < me && x->v[ms] == '<') ms++;
    while (me > ms && x->v[me - 1] == '>') me--;
    if (!ustr_is_blank(x->v + ms, me - ms)) {
        x->found = true;
        return 1;
    }
    return 0;
}

/* detectable_format:title — some <<...>> on one line with a non-blank inside. */
static int check_title(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                       err *e)
{
    (void)in;
    title_ctx x = {v, false};
    int rc = pyre_each(env->re[RE_TITLE], &env->sc, v, n, title_one, &x, e);
    if (rc < 0) return rc;
    *ok = x.found;
    return 0;
}

/* ----------------------------------------------------------- combination */

/* combination:two_responses — v.split("******"): exactly two non-blank parts
 * that differ once stripped; a blank part in the middle fails. */
static int check_two(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                     err *e)
{
    (void)env, (void)in, (void)e;
    size_t got = 0, pb[2] = {0, 0}, pt[2] = {0, 0};
    *ok = false;
    for (size_t s = 0;;) {
        const char *sep = mem_find(v + s, n - s, "******", 6);
        size_t t = sep ? (size_t)(sep - v) : n;
        size_t b, u;
        ustr_strip(v + s, t - s, &b, &u);
        if (b == u) {
            if (s != 0 && sep) return 0; /* neither the first nor the last part */
        } else {
            if (got < 2) pb[got] = s + b, pt[got] = s + u;
            got++;
        }
        if (!sep) break;
        s = t + 6;
    }
    *ok = got == 2 &&
          !(pt[0] - pb[0] == pt[1] - pb[1] && memcmp(v + pb[0], v + pb[1], pt[0] - pb[0]) == 0);
    return 0;
}

/* combination:repeat_prompt — v.strip().lower() starts with the prompt's. */
static int build_repeat(ifeval_env *env, ifeval_inst *in, err *e)
{
    return set_text_norm(env, in, in->kw->prompt_to_repeat, true, true, e);
}

static int check_repeat(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                        err *e)
{
    size_t b, t;
    ustr_strip(v, n, &b, &t);
    buf_reset(&env->tmp);
    if (ustr_lower(&env->tmp, v + b, t - b) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    *ok = env->tmp.len >= in->text_len && memcmp(env->tmp.data, in->text, in->text_len) == 0;
    return 0;
}

/* -------------------------------------------------------------- start/end */

/* startend:end_checker — v.strip().strip('"').lower() ends with the phrase
 * (FIXED: stripped of whitespace again after the quotes). */
static int build_end(ifeval_env *env, ifeval_inst *in, err *e)
{
    return set_text_norm(env, in, in->kw->end_phrase, true, true, e);
}

static int check_end(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                     err *e)
{
    size_t b, t;
    ustr_strip(v, n, &b, &t);
    while (b < t && v[b] == '"') b++;
    while (t > b && v[t - 1] == '"') t--;
    if (env->mode == IFEVAL_MODE_FIXED) {
        size_t b2, t2;
        ustr_strip(v + b, t - b, &b2, &t2);
        t = b + t2;
        b = b + b2;
    }
    buf_reset(&env->tmp);
    if (ustr_lower(&env->tmp, v + b, t - b) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    *ok = env->tmp.len >= in->text_len &&
          memcmp(env->tmp.data + env->tmp.len - in->text_len, in->text, in->text_len) == 0;
    return 0;
}

/* startend:quotation — stripped, longer than one character, "..." with ASCII quotes. */
static int check_quotation(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                           bool *ok, err *e)
{
    (void)env, (void)in, (void)e;
    size_t b, t;
    ustr_strip(v, n, &b, &t);
    *ok = t - b >= 2 && v[b] == '"' && v[t - 1] == '"';
    return 0;
}

/* ------------------------------------------------------------ change case */

/* change_case:capital_word_frequency — nltk.word_tokenize tokens with isupper(). */
static int check_capital_words(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                               bool *ok, err *e)
{
    int rc = need_wordtok(env, e);
    size_t count = 0;
    if (rc < 0 || (rc = wordtok_count_upper(&env->wt, &env->punkt, v, n, &count, e)) < 0) return rc;
    *ok = relation_holds(in->kw->capital_relation, (long)count, in->kw->capital_frequency);
    return 0;
}

/* change_case:english_capital — v.isupper() and langdetect says English. */
static int check_english_capital(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                                 bool *ok, err *e)
{
    (void)in;
    *ok = false;
    if (!ustr_isupper(v, n)) return 0;
    return language_is(env, v, n, "en", ok, e);
}

/* change_case:english_lowercase — v.islower() and langdetect says English. */
static int check_english_lowercase(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n,
                                   bool *ok, err *e)
{
    (void)in;
    *ok = false;
    if (!ustr_islower(v, n)) return 0;
    return language_is(env, v, n, "en", ok, e);
}

/* ------------------------------------------------------------ punctuation */

/* punctuation:no_comma — no ASCII comma. */
static int check_no_comma(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, bool *ok,
                          err *e)
{
    (void)env, (void)in, (void)e;
    *ok = memchr(v, ',', n) == NULL;
    return 0;
}

/* ---------------------------------------------------------------- registry */

#define KW(x) (1u << IFEVAL_KW_##x)

/* The 25 registered instructions of the reference's instructions_registry.
 * To add one: write build (if it has kwargs to prepare) and check above and
 * add a row; `kwargs` lists the keys it cannot do without. */
static const ifeval_checker checkers[] = {
    {"keywords:existence", "keywords", KW(KEYWORDS), 0, build_existence, check_existence},
    {"keywords:frequency", "keywords", KW(KEYWORD) | KW(FREQUENCY) | KW(RELATION), 0,
     build_frequency, check_frequency},
    {"keywords:forbidden_words", "keywords", KW(FORBIDDEN_WORDS), 0, build_forbidden,
     check_forbidden},
    {"keywords:letter_frequency", "keywords", KW(LETTER) | KW(LET_FREQUENCY) | KW(LET_RELATION), 0,
     build_letter, check_letter},
    {"language:response_language", "language", KW(LANGUAGE), IFEVAL_NEEDS_LANGDETECT, NULL,
     check_language},
    {"length_constraints:number_sentences", "length_constraints", KW(NUM_SENTENCES) | KW(RELATION),
     IFEVAL_NEEDS_PUNKT, NULL, check_sentences},
    {"length_constraints:number_paragraphs", "length_constraints", KW(NUM_PARAGRAPHS), 0, NULL,
     check_paragraphs},
    {"length_constraints:number_words", "length_constraints", KW(NUM_WORDS) | KW(RELATION), 0, NULL,
     check_words},
    {"length_constraints:nth_paragraph_first_word", "length_constraints",
     KW(NUM_PARAGRAPHS) | KW(NTH_PARAGRAPH) | KW(FIRST_WORD), 0, build_nth, check_nth},
    {"detectable_content:number_placeholders", "detectable_content", KW(NUM_PLACEHOLDERS), 0, NULL,
     check_placeholders},
    {"detectable_content:postscript", "detectable_content", KW(POSTSCRIPT_MARKER), 0,
     build_postscript, check_postscript},
    {"detectable_format:number_bullet_lists", "detectable_format", KW(NUM_BULLETS), 0, NULL,
     check_bullets},
    {"detectable_format:constrained_response", "detectable_format", 0, 0, NULL, check_constrained},
    {"detectable_format:number_highlighted_sections", "detectable_format", KW(NUM_HIGHLIGHTS), 0,
     NULL, check_highlights},
    {"detectable_format:multiple_sections", "detectable_format",
     KW(SECTION_SPLITER) | KW(NUM_SECTIONS), 0, build_sections, check_sections},
    {"detectable_format:json_format", "detectable_format", 0, 0, NULL, check_json},
    {"detectable_format:title", "detectable_format", 0, 0, NULL, check_title},
    {"combination:two_responses", "combination", 0, 0, NULL, check_two},
    {"combination:repeat_prompt", "combination", KW(PROMPT_TO_REPEAT), 0, build_repeat,
     check_repeat},
    {"startend:end_checker", "startend", KW(END_PHRASE), 0, build_end, check_end},
    {"change_case:capital_word_frequency", "change_case",
     KW(CAPITAL_FREQUENCY) | KW(CAPITAL_RELATION), IFEVAL_NEEDS_PUNKT, NULL, check_capital_words},
    {"change_case:english_capital", "change_case", 0, IFEVAL_NEEDS_LANGDETECT, NULL,
     check_english_capital},
    {"change_case:english_lowercase", "change_case", 0, IFEVAL_NEEDS_LANGDETECT, NULL,
     check_english_lowercase},
    {"punctuation:no_comma", "punctuation", 0, 0, NULL, check_no_comma},
    {"startend:quotation", "startend", 0, 0, NULL, check_quotation},
};

#undef KW

const ifeval_checker *ifeval_checker_at(size_t i)
{
    return i < sizeof checkers / sizeof checkers[0] ? &checkers[i] : NULL;
}

const ifeval_checker *ifeval_checker_find(const char *id)
{
    for (size_t i = 0; i < sizeof checkers / sizeof checkers[0]; i++)
        if (strcmp(checkers[i].id, id) == 0) return &checkers[i];
    return NULL;
}

/* ------------------------------------------------- building and evaluating */

int ifeval_inst_build(ifeval_env *env, const char *id, const ifeval_kwargs *kw, const char *prompt,
                      ifeval_inst *out, err *e)
{
    *out = (ifeval_inst)IFEVAL_INST_INIT;
    const ifeval_checker *def = id ? ifeval_checker_find(id) : NULL;
    if (!def) return err_set(e, ERR_INVALID, "unknown IFEval instruction \"%.100s\"", id ? id : "");
    if (!kw) return err_set(e, ERR_INVALID, "%s: no kwargs", id);
    uint32_t missing = def->kwargs & ~kw->present;
    if (missing) {
        int k = 0;
        while (!(missing & (1u << k))) k++;
        return err_set(e, ERR_INVALID, "%s: kwarg \"%s\" is missing", id, ifeval_kwarg_name(k));
    }
    if ((def->kwargs & (1u << IFEVAL_KW_LETTER)) && !*kw->letter)
        return err_set(e, ERR_INVALID, "%s: \"letter\" is empty", id);
    out->def = def;
    out->kw = kw;
    out->prompt = prompt;
    int rc = def->build ? def->build(env, out, e) : 0;
    if (rc < 0) ifeval_inst_release(out);
    return rc;
}

void ifeval_inst_release(ifeval_inst *in)
{
    for (size_t i = 0; i < in->n_re; i++) pyre_free(in->re[i]);
    free(in->re);
    free(in->text);
    *in = (ifeval_inst)IFEVAL_INST_INIT;
}

int ifeval_inst_check(ifeval_env *env, const ifeval_inst *in, const char *v, size_t n, err *e)
{
    bool ok = false;
    int rc = in->def->check(env, in, v, n, &ok, e);
    return rc < 0 ? rc : ok;
}

void ifeval_response_release(ifeval_response *r)
{
    for (int i = 0; i < IFEVAL_VARIANTS; i++) buf_release(&r->v[i]);
}

/* Appends s[0..n) stripped (strip) and/or without '*' (nostar). */
static int put_variant(buf *out, const char *s, size_t n, bool strip, bool nostar)
{
    size_t b = 0, t = n;
    if (strip) ustr_strip(s, n, &b, &t);
    if (!nostar) return buf_append(out, s + b, t - b);
    for (size_t i = b; i < t;) {
        const char *star = memchr(s + i, '*', t - i);
        size_t k = star ? (size_t)(star - s) : t;
        int rc = buf_append(out, s + i, k - i);
        if (rc < 0) return rc;
        i = star ? k + 1 : t;
    }
    return 0;
}

int ifeval_response_set(ifeval_response *r, const char *text, size_t n, err *e)
{
    for (int i = 0; i < IFEVAL_VARIANTS; i++) buf_reset(&r->v[i]);
    buf *v0 = &r->v[0];
    if (ustr_sanitize(v0, text, n) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    const char *s = v0->data;
    size_t len = v0->len;
    /* r = response.split("\n"): first line ends at the first "\n", last starts after the last */
    const char *first_nl = memchr(s, '\n', len);
    const char *last_nl = memrchr(s, '\n', len);
    size_t rest = first_nl ? (size_t)(first_nl - s) + 1 : len; /* "\n".join(r[1:]) starts here */
    size_t head = last_nl ? (size_t)(last_nl - s) : 0;         /* "\n".join(r[:-1]) ends here */
    int rc = 0;
    rc = rc ? rc : put_variant(&r->v[1], s, len, false, true);
    rc = rc ? rc : put_variant(&r->v[2], s + rest, len - rest, true, false);
    rc = rc ? rc : put_variant(&r->v[3], s, head, true, false);
    /* r[1:-1]: between the first and the last "\n" (empty with fewer than two) */
    size_t mid_b = rest, mid_t = head > rest ? head : rest;
    if (!first_nl || first_nl == last_nl) mid_t = mid_b = 0;
    rc = rc ? rc : put_variant(&r->v[4], s + mid_b, mid_t - mid_b, true, false);
    rc = rc ? rc : put_variant(&r->v[5], r->v[2].data, r->v[2].len, false, true);
    rc = rc ? rc : put_variant(&r->v[6], r->v[3].data, r->v[3].len, false, true);
    rc = rc ? rc : put_variant(&r->v[7], r->v[4].data, r->v[4].len, false, true);
    if (rc < 0) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

/* One variant: not blank and followed. A regex that runs out of budget
 * counts as not followed (and is reported). */
static int eval_one(ifeval_env *env, const ifeval_inst *in, const buf *v, bool *ok, bool *limited,
                    err *e)
{
    *ok = false;
    if (ustr_is_blank(v->data, v->len)) return 0;
    int rc = in->def->check(env, in, v->data, v->len, ok, e);
    if (rc == ERR_LIMIT) {
        *ok = false;
        *limited = true;
        if (e) err_clear(e);
        return 0;
    }
    return rc;
}

int ifeval_inst_eval(ifeval_env *env, const ifeval_inst *in, const ifeval_response *r,
                     bool all_variants, ifeval_verdict *out, err *e)
{
    memset(out, 0, sizeof *out);
    int rc = eval_one(env, in, &r->v[0], &out->strict, &out->limited, e);
    if (rc < 0) return rc;
    out->loose = out->strict;
    for (int i = 1; i < IFEVAL_VARIANTS && (all_variants || !out->loose); i++) {
        bool ok;
        if ((rc = eval_one(env, in, &r->v[i], &ok, &out->limited, e)) < 0) return rc;
        out->loose = out->loose || ok;
    }
    return 0;
}

/* ---------------------------------------------------------- JSON (Python) */

#define JSON_MAX_DEPTH 1000 /* deeper input makes Python raise RecursionError */

typedef struct jscan {
    const char *s;
    size_t n, i;
} jscan;

static void jws(jscan *j)
{
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static bool jlit(jscan *j, const char *lit)
{
    size_t k = strlen(lit);
    if (j->n - j->i < k || memcmp(j->s + j->i, lit, k) != 0) return false;
    j->i += k;
    return true;
}

static bool jdigit(jscan *j)
{
    return j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9';
}

static bool jstring(jscan *j)
{
    if (j->i >= j->n || j->s[j->i] != '"') return false;
    j->i++;
    while (j->i < j->n) {
        unsigned char c = (unsigned char)j->s[j->i++];
        if (c == '"') return true;
        if (c < 0x20) return false; /* strict: no raw control characters */
        if (c != '\\') continue;
        if (j->i >= j->n) return false;
        c = (unsigned char)j->s[j->i++];
        if (c == 'u') {
            for (int k = 0; k < 4; k++, j->i++) {
                if (j->i >= j->n) return false;
                char h = j->s[j->i];
                if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                    return false;
            }
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return false;
        }
    }
    return false;
}

static bool jnumber(jscan *j)
{
    if (j->i < j->n && j->s[j->i] == '-') j->i++;
    if (!jdigit(j)) return false;
    if (j->s[j->i] == '0')
        j->i++;
    else
        while (jdigit(j)) j->i++;
    if (j->i + 1 < j->n && j->s[j->i] == '.' && j->s[j->i + 1] >= '0' && j->s[j->i + 1] <= '9') {
        j->i++;
        while (jdigit(j)) j->i++;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        size_t save = j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) j->i++;
        if (!jdigit(j))
            j->i = save; /* "1e" is the number 1 followed by junk */
        else
            while (jdigit(j)) j->i++;
    }
    return true;
}

static bool jvalue(jscan *j, int depth)
{
    if (depth > JSON_MAX_DEPTH || j->i >= j->n) return false;
    char c = j->s[j->i];
    if (c == '"') return jstring(j);
    if (c == '{') {
        j->i++;
        jws(j);
        if (j->i < j->n && j->s[j->i] == '}') return j->i++, true;
        for (;;) {
            if (!jstring(j)) return false;
            jws(j);
            if (j->i >= j->n || j->s[j->i] != ':') return false;
            j->i++;
            jws(j);
            if (!jvalue(j, depth + 1)) return false;
            jws(j);
            if (j->i >= j->n) return false;
            if (j->s[j->i] == '}') return j->i++, true;
            if (j->s[j->i] != ',') return false;
            j->i++;
            jws(j);
        }
    }
    if (c == '[') {
        j->i++;
        jws(j);
        if (j->i < j->n && j->s[j->i] == ']') return j->i++, true;
        for (;;) {
            if (!jvalue(j, depth + 1)) return false;
            jws(j);
            if (j->i >= j->n) return false;
            if (j->s[j->i] == ']') return j->i++, true;
            if (j->s[j->i] != ',') return false;
            j->i++;
            jws(j);
        }
    }
    if (jlit(j, "true") || jlit(j, "false") || jlit(j, "null") || jlit(j, "NaN") ||
        jlit(j, "Infinity") || jlit(j, "-Infinity"))
        return true;
    return jnumber(j);
}

bool ifeval_json_valid(const char *s, size_t n)
{
    jscan j = {s, n, 0};
    jws(&j);
    if (!jvalue(&j, 0)) return false;
    jws(&j);
    return j.i == n;
}
