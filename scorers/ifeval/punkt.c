/* punkt.c: the Punkt sentence splitter (nltk, English parameters) in C.
 *
 * Sections follow the data: tables, candidate ends, word tokens of a
 * candidate's context, the two annotation passes, sentence slices.
 */
#include "punkt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "ustr.h"

/* ---------------------------------------------------------------- tables */

/* Reads `dir/name` and calls fn(m, line, len, where) for each non-empty line. */
static int read_lines(punkt_model *m, const char *dir, const char *name,
                      int (*fn)(punkt_model *, const char *, size_t, const char *, err *), err *e)
{
    buf path = BUF_INIT, data = BUF_INIT;
    int rc = path_join(&path, dir, name);
    if (rc < 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    buf_init(&data, 16u << 20);
    if ((rc = file_read_all(path.data, &data, e)) < 0) {
        err_prefix(e, "punkt tables (run `tally datasets fetch` or pass --data-dir)");
        goto out;
    }
    line_iter it = line_iter_start(data.data, data.len);
    const char *line;
    size_t len;
    char where[1100];
    while (line_iter_next(&it, &line, &len)) {
        if (len && line[len - 1] == '\r') len--;
        if (!len) continue;
        snprintf(where, sizeof where, "%s:%zu", path.data, it.lineno);
        if (!ustr_valid(line, len)) {
            rc = err_set(e, ERR_PARSE, "%s: not valid UTF-8", where);
            goto out;
        }
        if ((rc = fn(m, line, len, where, e)) < 0) goto out;
    }
out:
    buf_release(&path);
    buf_release(&data);
    return rc;
}

static int add_key(strmap *map, const char *k, size_t n, size_t v, err *e)
{
    if (strmap_put(map, k, n, v) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

static int line_abbrev(punkt_model *m, const char *l, size_t n, const char *where, err *e)
{
    (void)where;
    return add_key(&m->abbrev, l, n, 1, e);
}

static int line_starter(punkt_model *m, const char *l, size_t n, const char *where, err *e)
{
    (void)where;
    return add_key(&m->starters, l, n, 1, e);
}

static int line_colloc(punkt_model *m, const char *l, size_t n, const char *where, err *e)
{
    const char *tab = memchr(l, '\t', n);
    if (!tab || tab == l || tab == l + n - 1 || memchr(tab + 1, '\t', (size_t)(l + n - tab - 1)))
        return err_set(e, ERR_PARSE, "%s: expected \"first<TAB>second\"", where);
    return add_key(&m->colloc, l, n, 1, e);
}

static int line_ortho(punkt_model *m, const char *l, size_t n, const char *where, err *e)
{
    const char *tab = memchr(l, '\t', n);
    if (!tab || tab == l) return err_set(e, ERR_PARSE, "%s: expected \"type<TAB>flags\"", where);
    size_t v = 0, digits = 0;
    for (const char *p = tab + 1; p < l + n; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 6)
            return err_set(e, ERR_PARSE, "%s: flags are not a small decimal integer", where);
        v = v * 10 + (size_t)(*p - '0');
    }
    if (!digits) return err_set(e, ERR_PARSE, "%s: flags are missing", where);
    return add_key(&m->ortho, l, (size_t)(tab - l), v, e);
}

int punkt_load(punkt_model *m, const char *dir, err *e)
{
    int rc;
    if (!dir || !*dir) return err_set(e, ERR_INVALID, "punkt_load: no directory");
    punkt_release(m);
    if ((rc = read_lines(m, dir, "abbrev_types.txt", line_abbrev, e)) < 0 ||
        (rc = read_lines(m, dir, "collocations.tab", line_colloc, e)) < 0 ||
        (rc = read_lines(m, dir, "sent_starters.txt", line_starter, e)) < 0 ||
        (rc = read_lines(m, dir, "ortho_context.tab", line_ortho, e)) < 0) {
        punkt_release(m);
        return rc;
    }
    m->dir = strdup(dir);
    if (!m->dir) {
        punkt_release(m);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

void punkt_release(punkt_model *m)
{
    strmap_release(&m->abbrev);
    strmap_release(&m->colloc);
    strmap_release(&m->starters);
    strmap_release(&m->ortho);
    free((void *)m->dir);
    m->dir = NULL;
}

void punkt_spans_release(punkt_spans *sp)
{
    free(sp->v);
    sp->v = NULL;
    sp->n = sp->cap = 0;
}

static int spans_push(punkt_spans *sp, size_t s, size_t t)
{
    if (sp->n == sp->cap) {
        size_t nc = sp->cap ? sp->cap * 2 : 16;
        punkt_span *nv = realloc(sp->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        sp->v = nv;
        sp->cap = nc;
    }
    sp->v[sp->n].start = s;
    sp->v[sp->n].end = t;
    sp->n++;
    return 0;
}

/* ------------------------------------------------------- character sets */

/* Punkt's "non-word" characters: they end a word token and may follow a
 * sentence end directly: ) " ; } ] * : @ ' ( { [ ! ? */
static bool is_nonword(uint32_t c)
{
    switch (c) {
    case ')':
    case '"':
    case ';':
    case '}':
    case ']':
    case '*':
    case ':':
    case '@':
    case '\'':
    case '(':
    case '{':
    case '[':
    case '!':
    case '?':
        return true;
    default:
        return false;
    }
}

/* Characters that cannot start a word token: ( " ` { [ : ; & # * @ ) } ] - , */
static bool no_word_start(uint32_t c)
{
    switch (c) {
    case '(':
    case '"':
    case '`':
    case '{':
    case '[':
    case ':':
    case ';':
    case '&':
    case '#':
    case '*':
    case '@':
    case ')':
    case '}':
    case ']':
    case '-':
    case ',':
        return true;
    default:
        return false;
    }
}

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Whitespace code point at t[j] (j < n)? Sets *next past it. */
static bool ws_at(const char *t, size_t n, size_t j, size_t *next)
{
    size_t k = j;
    uint32_t c = ustr_next(t, n, &k);
    if (next) *next = k;
    return ustr_isspace(c);
}

/* Length of Punkt's multi-character punctuation at t[j]: `-{2,}`, `\.{2,}`
 * or `(?:\.\s){2,}\.` (tried in that order); 0 when none. */
static size_t multichar_len(const char *t, size_t n, size_t j)
{
    if (j + 1 >= n) return 0;
    if ((t[j] == '-' || t[j] == '.') && t[j + 1] == t[j]) {
        size_t k = j;
        while (k < n && t[k] == t[j]) k++;
        return k - j;
    }
    if (t[j] != '.') return 0;
    /* greedy repetitions of "." + one whitespace, remembering where each ended */
    size_t ends[3] = {0, 0, 0}; /* end of the last three repetitions */
    size_t reps = 0, k = j;
    while (k < n && t[k] == '.') {
        size_t after;
        if (k + 1 >= n || !ws_at(t, n, k + 1, &after)) break;
        k = after;
        reps++;
        ends[0] = ends[1], ends[1] = ends[2], ends[2] = k;
    }
    if (reps < 2) return 0;
    if (k < n && t[k] == '.') return k + 1 - j;
    /* give back one repetition: its '.' closes the match */
    if (reps >= 3) return ends[1] + 1 - j;
    return 0;
}

/* ------------------------------------------------------------ word tokens */

typedef struct ptok {
    size_t s, e;    /* the token: text[s..e) */
    size_t ty, tyn; /* its type in the scratch buffer */
    bool period_final, sentbreak, abbr, ellipsis, initial, first_upper, first_lower;
} ptok;

typedef struct pscratch {
    ptok *tok;
    size_t n, cap;
    buf types; /* type strings, back to back */
    buf tmp;
} pscratch;

static int tok_push(pscratch *x, size_t s, size_t e)
{
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 32;
        ptok *nt = realloc(x->tok, nc * sizeof *nt);
        if (!nt) return ERR_NOMEM;
        x->tok = nt;
        x->cap = nc;
    }
    ptok *t = &x->tok[x->n++];
    memset(t, 0, sizeof *t);
    t->s = s;
    t->e = e;
    return 0;
}

/* Does a Punkt word end at t[j] (the lookahead after `\S+?`)? */
static bool word_ends_at(const char *t, size_t n, size_t j)
{
    if (j >= n) return true;
    size_t k;
    if (ws_at(t, n, j, &k)) return true;
    unsigned char c = (unsigned char)t[j];
    if (is_nonword(c) || multichar_len(t, n, j)) return true;
    if (c == ',') {
        if (j + 1 >= n) return true;
        unsigned char d = (unsigned char)t[j + 1];
        return ws_at(t, n, j + 1, NULL) || is_nonword(d) || multichar_len(t, n, j + 1);
    }
    return false;
}

/* Punkt's word tokenizer (re.findall of its word regex) on one line t[lb..le). */
static int tokenize_line(pscratch *x, const char *text, size_t lb, size_t le)
{
    const char *t = text;
    size_t i = lb;
    while (i < le) {
        size_t k = i;
        uint32_t c = ustr_next(t, le, &k);
        if (ustr_isspace(c)) {
            i = k;
            continue;
        }
        size_t m = multichar_len(t, le, i), end;
        if (m)
            end = i + m;
        else if (!no_word_start(c)) {
            /* shortest run of non-space characters followed by a word end */
            end = k;
            while (!word_ends_at(t, le, end)) ustr_next(t, le, &end);
        } else
            end = k;
        if (tok_push(x, i, end) < 0) return ERR_NOMEM;
        i = end;
    }
    return 0;
}

/* ------------------------------------------------------------ annotation */

static const char NUMBER_TYPE[] = "##number##";

/* `^-?[\.,]?\d[\d,\.-]*\.?$` on the lower-cased token. */
static bool is_numeric(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && (s[i] == '.' || s[i] == ',')) i++;
    if (i >= n) return false;
    if (!ustr_isdecimal(ustr_next(s, n, &i))) return false;
    while (i < n) {
        if (s[i] == ',' || s[i] == '.' || s[i] == '-') {
            i++;
            continue;
        }
        if (!ustr_isdecimal(ustr_next(s, n, &i))) return false;
    }
    return true;
}

static bool in_map(const strmap *m, const char *k, size_t n)
{
    size_t v;
    return strmap_get(m, k, n, &v);
}

static const char *ty(const pscratch *x, const ptok *t)
{
    return x->types.data + t->ty;
}

/* type_no_period: the type without a final '.', when longer than one character. */
static size_t tyn_no_period(const pscratch *x, const ptok *t)
{
    const char *s = ty(x, t);
    return t->tyn > 1 && s[t->tyn - 1] == '.' ? t->tyn - 1 : t->tyn;
}

static size_t tyn_no_sentperiod(const pscratch *x, const ptok *t)
{
    return t->sentbreak ? tyn_no_period(x, t) : t->tyn;
}

/* Attributes of a token and the first pass (sentence ends, abbreviations, ellipses). */
static int first_pass(const punkt_model *m, pscratch *x, const char *text, ptok *t)
{
    const char *s = text + t->s;
    size_t n = t->e - t->s;
    int rc;
    /* type */
    buf_reset(&x->tmp);
    if ((rc = ustr_lower(&x->tmp, s, n)) < 0) return rc;
    t->ty = x->types.len;
    if (is_numeric(x->tmp.data, x->tmp.len)) {
        t->tyn = sizeof NUMBER_TYPE - 1;
        rc = buf_append(&x->types, NUMBER_TYPE, t->tyn);
    } else {
        t->tyn = x->tmp.len;
        rc = buf_append(&x->types, x->tmp.data, x->tmp.len);
    }
    if (rc < 0) return rc;
    /* case of the first character */
    size_t k = 0;
    uint32_t c0 = ustr_next(s, n, &k);
    t->first_upper = ustr_isupper_cp(c0) && !ustr_islower_cp(c0) && !ustr_istitle_cp(c0);
    t->first_lower = ustr_islower_cp(c0) && !ustr_isupper_cp(c0) && !ustr_istitle_cp(c0);
    t->period_final = s[n - 1] == '.';
    /* `[^\W\d]\.$`: one word character that is not a digit, then the period */
    t->initial = k + 1 == n && s[k] == '.' && ustr_isword(c0) && !ustr_isdecimal(c0);
    /* `\.\.+$`: only periods, at least two */
    bool ellipsis = n >= 2;
    for (size_t i = 0; i < n && ellipsis; i++) ellipsis = s[i] == '.';

    if (n == 1 && (s[0] == '.' || s[0] == '?' || s[0] == '!'))
        t->sentbreak = true;
    else if (ellipsis)
        t->ellipsis = true;
    else if (t->period_final && !(n >= 2 && s[n - 2] == '.')) {
        /* tok[:-1].lower(), or its last '-'-separated part, is a known abbreviation */
        buf_reset(&x->tmp);
        if ((rc = ustr_lower(&x->tmp, s, n - 1)) < 0) return rc;
        const char *w = x->tmp.data;
        size_t wn = x->tmp.len;
        const char *dash = memrchr(w, '-', wn);
        if (in_map(&m->abbrev, w, wn) ||
            (dash && in_map(&m->abbrev, dash + 1, wn - (size_t)(dash + 1 - w))))
            t->abbr = true;
        else
            t->sentbreak = true;
    }
    return 0;
}

enum { ORTHO_FALSE = 0, ORTHO_TRUE = 1, ORTHO_UNKNOWN = 2 };

static size_t ortho_flags(const punkt_model *m, const char *k, size_t n)
{
    size_t v = 0;
    strmap_get(&m->ortho, k, n, &v);
    return v;
}

/* Does orthographic evidence say t starts a sentence? */
static int ortho_heuristic(const punkt_model *m, const pscratch *x, const char *text, const ptok *t)
{
    if (t->e - t->s == 1) {
        char c = text[t->s];
        if (c == ';' || c == ':' || c == ',' || c == '.' || c == '!' || c == '?')
            return ORTHO_FALSE;
    }
    size_t ctx = ortho_flags(m, ty(x, t), tyn_no_sentperiod(x, t));
    if (t->first_upper && (ctx & PUNKT_LC) && !(ctx & PUNKT_MID_UC)) return ORTHO_TRUE;
    if (t->first_lower && ((ctx & PUNKT_UC) || !(ctx & PUNKT_BEG_LC))) return ORTHO_FALSE;
    return ORTHO_UNKNOWN;
}

static bool is_colloc(const punkt_model *m, pscratch *x, const char *a, size_t an, const char *b,
                      size_t bn)
{
    buf_reset(&x->tmp);
    if (buf_append(&x->tmp, a, an) < 0 || buf_putc(&x->tmp, '\t') < 0 ||
        buf_append(&x->tmp, b, bn) < 0)
        return false;
    return in_map(&m->colloc, x->tmp.data, x->tmp.len);
}

/* The second pass on the pair (t1, t2): collocations, abbreviations before
 * sentence starters, initials and ordinals. */
static void second_pass(const punkt_model *m, pscratch *x, const char *text, ptok *t1,
                        const ptok *t2)
{
    if (!t1->period_final) return;
    const char *typ = ty(x, t1);
    size_t typn = tyn_no_period(x, t1);
    const char *nxt = ty(x, t2);
    size_t nxtn = tyn_no_sentperiod(x, t2);

    if (is_colloc(m, x, typ, typn, nxt, nxtn)) {
        t1->sentbreak = false;
        t1->abbr = true;
        return;
    }
    if ((t1->abbr || t1->ellipsis) && !t1->initial) {
        if (ortho_heuristic(m, x, text, t2) == ORTHO_TRUE) {
            t1->sentbreak = true;
            return;
        }
        if (t2->first_upper && in_map(&m->starters, nxt, nxtn)) {
            t1->sentbreak = true;
            return;
        }
    }
    bool number = typn == sizeof NUMBER_TYPE - 1 && memcmp(typ, NUMBER_TYPE, typn) == 0;
    if (t1->initial || number) {
        int o = ortho_heuristic(m, x, text, t2);
        if (o == ORTHO_FALSE) {
            t1->sentbreak = false;
            t1->abbr = true;
            return;
        }
        if (o == ORTHO_UNKNOWN && t1->initial && t2->first_upper &&
            !(ortho_flags(m, nxt, nxtn) & PUNKT_LC)) {
            t1->sentbreak = false;
            t1->abbr = true;
        }
    }
}

/* text_contains_sentbreak(text[cs..ce)): some token is a sentence break and
 * another token follows it. */
static int contains_break(const punkt_model *m, pscratch *x, const char *text, size_t cs, size_t ce,
                          bool *out)
{
    int rc;
    x->n = 0;
    buf_reset(&x->types);
    *out = false;
    /* lines, skipping blank ones */
    size_t lb = cs;
    while (lb <= ce) {
        const char *nl = memchr(text + lb, '\n', ce - lb);
        size_t le = nl ? (size_t)(nl - text) : ce;
        if (!ustr_is_blank(text + lb, le - lb) && (rc = tokenize_line(x, text, lb, le)) < 0)
            return rc;
        if (!nl) break;
        lb = le + 1;
    }
    for (size_t i = 0; i < x->n; i++)
        if ((rc = first_pass(m, x, text, &x->tok[i])) < 0) return rc;
    for (size_t i = 0; i + 1 < x->n; i++) {
        second_pass(m, x, text, &x->tok[i], &x->tok[i + 1]);
        if (x->tok[i].sentbreak) {
            *out = true;
            return 0;
        }
    }
    return 0;
}

/* ----------------------------------------------------------- candidates */

typedef struct cand {
    size_t pos;      /* the .?! character */
    size_t word;     /* start of its context (the previous word) */
    size_t after;    /* end of its context */
    size_t next_tok; /* start of the next token, or SIZE_MAX (punctuation case) */
} cand;

/* Is text[s] (one of .?!) a candidate end? Fills after / next_tok. */
static bool candidate_at(const char *text, size_t n, size_t s, cand *c)
{
    size_t j = s + 1;
    if (j >= n) return false;
    if (is_nonword((unsigned char)text[j])) {
        c->after = j + 1;
        c->next_tok = SIZE_MAX;
        return true;
    }
    size_t k;
    if (!ws_at(text, n, j, &k)) return false;
    while (k < n && ws_at(text, n, k, &j)) k = j;
    if (k >= n) return false;
    c->next_tok = k;
    while (k < n && !ws_at(text, n, k, &j)) ustr_next(text, n, &k);
    c->after = k;
    return true;
}

/* Sentence slices before realignment, as _slices_from_text yields them. */
static int raw_slices(const punkt_model *m, pscratch *x, const char *text, size_t n,
                      punkt_spans *out)
{
    size_t prev_start = 0, prev_end = 0, last_break = 0;
    bool have_prev = false;
    cand prev = {0, 0, 0, 0};
    int rc;
    for (size_t s = 0;; s++) {
        /* next candidate character (all three are ASCII, so a byte scan is exact) */
        while (s < n && text[s] != '.' && text[s] != '?' && text[s] != '!') s++;
        bool at_end = s >= n;
        cand c = {0, 0, 0, 0};
        if (!at_end && !candidate_at(text, n, s, &c)) continue;
        size_t word = 0;
        if (!at_end) {
            /* start of the previous word: after the last ASCII whitespace of
             * text[prev_end..s), where an index of 0 counts as none */
            size_t k = 0;
            for (size_t i = s; i > prev_end; i--)
                if (ascii_space(text[i - 1])) {
                    k = i - 1 - prev_end;
                    break;
                }
            word = k ? prev_end + k + 1 : prev_start;
        }
        /* the previous candidate is decided unless this one's word overlaps it */
        if (have_prev && (at_end || prev_end <= word)) {
            bool brk;
            if ((rc = contains_break(m, x, text, prev.word, prev.after, &brk)) < 0) return rc;
            if (brk) {
                if (spans_push(out, last_break, prev.pos + 1) < 0) return ERR_NOMEM;
                last_break = prev.next_tok != SIZE_MAX ? prev.next_tok : prev.pos + 1;
            }
        }
        if (at_end) break;
        c.pos = s;
        c.word = word;
        prev = c;
        prev_start = word;
        prev_end = s;
        have_prev = true;
    }
    /* the last sentence ends at len(text.rstrip()) */
    size_t b, e;
    ustr_strip(text, n, &b, &e);
    if (b == e) e = 0;
    if (spans_push(out, last_break, e) < 0) return ERR_NOMEM;
    return 0;
}

static bool is_closing(char c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
}

/* nltk's boundary realignment pattern `["')\]}]+?(?:\s+|(?=--)|$)` (MULTILINE)
 * matched at the start of text[s..t): the closing characters to move to the
 * previous sentence (*moved bytes) and the whole match (*whole bytes). */
static bool realign_match(const char *text, size_t s, size_t t, size_t *moved, size_t *whole)
{
    size_t k = s;
    while (k < t && is_closing(text[k])) {
        k++; /* the lazy `+?`: try the shortest run first */
        size_t j;
        if (k < t && ws_at(text, t, k, &j)) {
            size_t j2;
            while (j < t && ws_at(text, t, j, &j2)) j = j2;
            *moved = k - s;
            *whole = j - s;
            return true;
        }
        if (k >= t || (k + 1 < t && text[k] == '-' && text[k + 1] == '-')) {
            *moved = *whole = k - s;
            return true;
        }
    }
    return false;
}

int punkt_sentences(const punkt_model *m, const char *text, size_t n, punkt_spans *sp, err *e)
{
    pscratch x = {NULL, 0, 0, BUF_INIT, BUF_INIT};
    punkt_spans raw = PUNKT_SPANS_INIT;
    int rc = 0;
    sp->n = 0;
    if (!m->dir) {
        rc = err_set(e, ERR_INVALID, "punkt: tables not loaded");
        goto out;
    }
    if ((rc = raw_slices(m, &x, text, n, &raw)) < 0) {
        rc = err_set(e, rc, "punkt: out of memory");
        goto out;
    }
    size_t realign = 0;
    for (size_t i = 0; i < raw.n; i++) {
        size_t s1 = raw.v[i].start + realign, t1 = raw.v[i].end;
        if (i + 1 == raw.n) {
            if (s1 < t1 && spans_push(sp, s1, t1) < 0) goto nomem;
            continue;
        }
        size_t s2 = raw.v[i + 1].start, t2 = raw.v[i + 1].end;
        size_t moved, whole;
        if (s2 < t2 && realign_match(text, s2, t2, &moved, &whole)) {
            if (spans_push(sp, s1, s2 + moved) < 0) goto nomem;
            realign = whole;
        } else {
            realign = 0;
            if (s1 < t1 && spans_push(sp, s1, t1) < 0) goto nomem;
        }
    }
    goto out;
nomem:
    rc = err_set(e, ERR_NOMEM, "punkt: out of memory");
out:
    free(x.tok);
    buf_release(&x.types);
    buf_release(&x.tmp);
    punkt_spans_release(&raw);
    return rc;
}

int punkt_count(const punkt_model *m, const char *text, size_t n, size_t *count_out, err *e)
{
    punkt_spans sp = PUNKT_SPANS_INIT;
    int rc = punkt_sentences(m, text, n, &sp, e);
    *count_out = rc < 0 ? 0 : sp.n;
    punkt_spans_release(&sp);
    return rc;
}
