/* wordtok.c: NLTK's word tokenizer as an ordered table of regex rewrites. */
#include "wordtok.h"

#include <string.h>

#include "ustr.h"

typedef struct rule {
    const char *pattern; /* PCRE2 syntax with Python meaning; WS = Python's \s */
    const char *repl;    /* $N = group N, $0 = the match */
} rule;

#define WS PYRE_WS

/* The rewrites in the order nltk applies them. Between the double-dash rule
 * and the ending quotes the text is padded with one space on each side
 * (PAD_BEFORE is the index of the first rule that sees the padding). */
static const rule rules[WORDTOK_RULES] = {
    /* starting quotes */
    {"([«“‘„]|[`]+)", " $1 "},
    {"^\"", "``"},
    {"(``)", " $1 "},
    {"([ (\\[{<])(\"|'{2})", "$1 `` "},
    {"(?i)(')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b", "$1 $2"},
    /* punctuation; the final period is handled twice, as nltk does */
    {"([^.])(\\.)([\\])}>\"'»”’ ]*)" WS "*$", "$1 $2 $3 "},
    {"([:,])([^\\d])", " $1 $2"},
    {"([:,])$", " $1 "},
    {"\\.{2,}", " $0 "},
    {"[;@#$%&]", " $0 "},
    {"([^.])(\\.)([\\])}>\"']*)" WS "*$", "$1 $2$3 "},
    {"[?!]", " $0 "},
    {"([^'])' ", "$1 ' "},
    {"[*]", " $0 "},
    /* brackets, double dashes */
    {"[\\]\\[(){}<>]", " $0 "},
    {"--", " -- "},
    /* ending quotes and clitics */
    {"([»”’])", " $1 "},
    {"''", " '' "},
    {"\"", " '' "},
    {"([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 "},
    {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 "},
    /* MacIntyre's contractions */
    {"(?i)\\b(can)(not)\\b", " $1 $2 "},
    {"(?i)\\b(d)('ye)\\b", " $1 $2 "},
    {"(?i)\\b(gim)(me)\\b", " $1 $2 "},
    {"(?i)\\b(gon)(na)\\b", " $1 $2 "},
    {"(?i)\\b(got)(ta)\\b", " $1 $2 "},
    {"(?i)\\b(lem)(me)\\b", " $1 $2 "},
    {"(?i)\\b(more)('n)\\b", " $1 $2 "},
    {"(?i)\\b(wan)(na)(?=" WS ")", " $1 $2 "},
    {"(?i) ('t)(is)\\b", " $1 $2 "},
    {"(?i) ('t)(was)\\b", " $1 $2 "},
};

#define PAD_BEFORE 16

int wordtok_init(wordtok *w, err *e)
{
    memset(w, 0, sizeof *w);
    buf_init(&w->a, 0);
    buf_init(&w->b, 0);
    int rc = pyre_scan_init(&w->sc, e);
    if (rc < 0) return rc;
    for (size_t i = 0; i < WORDTOK_RULES; i++)
        if ((rc = pyre_compile(&w->re[i], rules[i].pattern, 0, e)) < 0) {
            wordtok_release(w);
            return rc;
        }
    return 0;
}

void wordtok_release(wordtok *w)
{
    for (size_t i = 0; i < WORDTOK_RULES; i++) {
        pyre_free(w->re[i]);
        w->re[i] = NULL;
    }
    pyre_scan_release(&w->sc);
    buf_release(&w->a);
    buf_release(&w->b);
    punkt_spans_release(&w->spans);
}

/* Runs the rewrites over s[0..n); the result is left in w->a. */
static int rewrite(wordtok *w, const char *s, size_t n, err *e)
{
    buf *cur = &w->a, *nxt = &w->b;
    int rc;
    buf_reset(cur);
    if ((rc = buf_append(cur, s, n)) < 0) return err_set(e, rc, "word tokenizer: out of memory");
    for (size_t i = 0; i < WORDTOK_RULES; i++) {
        if (i == PAD_BEFORE) {
            buf_reset(nxt);
            if ((rc = buf_putc(nxt, ' ')) < 0 || (rc = buf_append(nxt, cur->data, cur->len)) < 0 ||
                (rc = buf_putc(nxt, ' ')) < 0)
                return err_set(e, rc, "word tokenizer: out of memory");
            buf *t = cur;
            cur = nxt, nxt = t;
        }
        buf_reset(nxt);
        if ((rc = pyre_sub(w->re[i], &w->sc, cur->data, cur->len, rules[i].repl, nxt, e)) < 0)
            return rc;
        buf *t = cur;
        cur = nxt, nxt = t;
    }
    if (cur != &w->a) {
        /* keep the result in w->a */
        buf t = w->a;
        w->a = w->b;
        w->b = t;
    }
    return 0;
}

/* Calls fn on every whitespace-separated piece of w->a (Python str.split()). */
static int each_token(wordtok *w, int (*fn)(void *, const char *, size_t), void *ctx)
{
    const char *t = w->a.data;
    size_t n = w->a.len, i = 0;
    while (i < n) {
        size_t b, k = i;
        while (k < n) {
            size_t j = k;
            if (!ustr_isspace(ustr_next(t, n, &j))) break;
            k = j;
        }
        if (k >= n) break;
        b = k;
        while (k < n) {
            size_t j = k;
            if (ustr_isspace(ustr_next(t, n, &j))) break;
            k = j;
        }
        int rc = fn(ctx, t + b, k - b);
        if (rc < 0) return rc;
        i = k;
    }
    return 0;
}

typedef struct collect_ctx {
    buf *out;
    size_t count;
} collect_ctx;

static int collect_one(void *ctx, const char *t, size_t n)
{
    collect_ctx *c = ctx;
    c->count++;
    int rc = buf_append(c->out, t, n);
    return rc < 0 ? rc : buf_putc(c->out, '\0');
}

int wordtok_tokenize(wordtok *w, const char *s, size_t n, buf *out, size_t *count_out, err *e)
{
    *count_out = 0;
    buf_reset(out);
    int rc = rewrite(w, s, n, e);
    if (rc < 0) return rc;
    collect_ctx c = {out, 0};
    if ((rc = each_token(w, collect_one, &c)) < 0)
        return err_set(e, rc, "word tokenizer: out of memory");
    *count_out = c.count;
    return 0;
}

static int count_upper_one(void *ctx, const char *t, size_t n)
{
    if (ustr_isupper(t, n)) (*(size_t *)ctx)++;
    return 0;
}

int wordtok_count_upper(wordtok *w, const punkt_model *pm, const char *text, size_t n,
                        size_t *count_out, err *e)
{
    *count_out = 0;
    int rc = punkt_sentences(pm, text, n, &w->spans, e);
    if (rc < 0) return rc;
    size_t count = 0;
    for (size_t i = 0; i < w->spans.n; i++) {
        const punkt_span *sp = &w->spans.v[i];
        if ((rc = rewrite(w, text + sp->start, sp->end - sp->start, e)) < 0) return rc;
        each_token(w, count_upper_one, &count);
    }
    *count_out = count;
    return 0;
}
