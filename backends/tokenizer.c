/* tokenizer.c: byte-level BPE as llama.cpp runs it: special-token partition,
 * regex pre-tokenization (PCRE2), rank-ordered merges with a priority queue. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/strmap.h"
#include "common/utf8.h"

/* ---- pre-tokenizers ---- */

#define MAX_REGEX 6

/* GPT-2's pattern (with the final \s+ that llama.cpp's hand-written splitter implies). */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* One row per tokenizer.ggml.pre value (GGUF_ARCHS.md 4, MODELS.md 3). To add
 * one: its name, its regexes in the order they split, whether llama.cpp
 * cleans spaces when detokenizing, whether a whole piece that is a token
 * skips the merges. */
typedef struct pre_type {
    const char *name;
    const char *regex[MAX_REGEX];
    bool clean_spaces;
    bool ignore_merges;
} pre_type;

static const pre_type pre_types[] = {
    {"gpt-2", {RE_GPT2}, true, false},
    {"refact", {"\\p{N}", RE_GPT2}, true, false},
    {"starcoder", {"\\p{N}", RE_GPT2}, true, false},
    {"dbrx",
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
      "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     true,
     false},
    {"deepseek-coder",
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+",
      "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+", "\\p{N}"},
     false,
     false},
    {"bailingmoe2",
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"bailingmoe",
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"llada-moe",
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     false,
     false},
};

/* Control-token texts that end generation besides EOS/EOT/EOM. */
static const char *const eog_texts[] = {"<|endoftext|>", "<|end_of_text|>", "<|role_end|>",
                                        "<|im_end|>", "<|eot_id|>"};

/* ---- the tokenizer ---- */

typedef struct tok_str {
    const char *s;
    uint32_t len;
} tok_str;

#define U2B_SIZE 324 /* codepoints the byte table uses: 0..255 and 256..323 */

struct tok {
    size_t n_vocab;
    tok_str *text;    /* (n_vocab) vocabulary texts */
    uint8_t *attr;    /* (n_vocab) enum tok_attr */
    strmap by_text;   /* text -> id (the last id wins, as in llama.cpp) */
    strmap ranks;     /* [u32 len(left)] left right -> merge rank (the first wins) */
    int32_t *special; /* ids matched before pre-tokenization, longest text first */
    size_t n_special;
    int32_t *eog;
    size_t n_eog;
    int32_t bos, eos, eot, eom;
    bool add_bos, add_eos;
    const pre_type *pre;
    pcre2_code *re[MAX_REGEX];
    size_t n_re;
    char b2u[256][2]; /* byte -> UTF-8 of its stand-in codepoint (1 or 2 bytes) */
    uint8_t b2u_len[256];
    int16_t u2b[U2B_SIZE]; /* stand-in codepoint -> byte, -1 if none */
    arena mem;
};

int tok_ids_push(tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t nc = ids->cap ? ids->cap * 2 : 64;
        int32_t *nv = realloc(ids->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        ids->v = nv;
        ids->cap = nc;
    }
    ids->v[ids->n++] = id;
    return 0;
}

void tok_ids_release(tok_ids *ids)
{
    free(ids->v);
    *ids = (tok_ids)TOK_IDS_INIT;
}

void tok_settings_default(tok_settings *s)
{
    s->pre = NULL;
}

/* ---- UTF-8 ---- */

/* Rewrites text as llama.cpp sees it: lenient decode, undecodable bytes
 * become U+FFFD, then canonical UTF-8 (surrogates and codepoints past
 * U+10FFFF, which PCRE2 cannot match, become U+FFFD too). */
static int sanitize_lenient(const char *text, size_t len, buf *out)
{
    int rc = buf_reserve(out, len + 16);
    for (size_t i = 0; i < len && !rc;) {
        uint32_t cp;
        size_t n = utf8_decode(text + i, len - i, UTF8_LENIENT, &cp);
        if (!n) {
            cp = 0xFFFD;
            n = 1;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
        char tmp[4];
        rc = buf_append(out, tmp, utf8_encode(tmp, cp));
        i += n;
    }
    return rc;
}

/* ---- open ---- */

/* GPT-2's byte <-> unicode table: printable Latin-1 bytes stand for
 * themselves, the other 68 bytes for U+0100 onwards in byte order. */
static void build_byte_table(tok *t)
{
    for (int i = 0; i < U2B_SIZE; i++) t->u2b[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        uint32_t cp = self ? (uint32_t)b : (uint32_t)(256 + extra++);
        t->b2u_len[b] = (uint8_t)utf8_encode(t->b2u[b], cp);
        t->u2b[cp] = (int16_t)b;
    }
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const tok *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text[x].len != t->text[y].len) return t->text[x].len > t->text[y].len ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* The merge-table key of a pair: u32 length of the left part, then both parts. */
static size_t rank_key(char *key, const char *left, size_t ll, const char *right, size_t rl)
{
    uint32_t l32 = (uint32_t)ll;
    memcpy(key, &l32, 4);
    memcpy(key + 4, left, ll);
    memcpy(key + 4 + ll, right, rl);
    return 4 + ll + rl;
}

static int opt_id(const gguf *g, const tok *t, const char *key, int32_t *out, err *e)
{
    uint32_t v;
    int rc = gguf_opt_u32(g, key, UINT32_MAX, &v, e);
    if (rc) return rc;
    /* absent, or pointing outside the vocabulary: none */
    *out = v < t->n_vocab ? (int32_t)v : -1;
    return 0;
}

static int load_vocab(tok *t, const gguf *g, err *e)
{
    const char *path = gguf_path(g);
    const void *arr;
    uint64_t n;
    int rc = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &arr, &n, e);
    if (rc) return rc;
    if (n == 0 || n > INT32_MAX)
        return err_set(e, ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", path,
                       (unsigned long long)n);
    const gguf_str *toks = arr;
    t->n_vocab = (size_t)n;
    t->text = arena_calloc(&t->mem, t->n_vocab, sizeof *t->text);
    t->attr = arena_calloc(&t->mem, t->n_vocab, 1);
    if (!t->text || !t->attr) return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < t->n_vocab; i++) {
        if (toks[i].len > UINT32_MAX)
            return err_set(e, ERR_FORMAT, "%s: token %zu is too long", path, i);
        t->text[i] =
            (tok_str){arena_memdup(&t->mem, toks[i].s, toks[i].len), (uint32_t)toks[i].len};
        if (!t->text[i].s) return err_set(e, ERR_NOMEM, "%s: out of memory", path);
        t->attr[i] = TOK_ATTR_NORMAL;
        if (toks[i].len && strmap_put(&t->by_text, toks[i].s, toks[i].len, i) < 0)
            return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    if (gguf_find_key(g, "tokenizer.ggml.token_type")) {
        rc = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &arr, &n, e);
        if (rc) return rc;
        if (n != t->n_vocab)
            return err_set(e, ERR_FORMAT,
                           "%s: tokenizer.ggml.token_type has %llu entries for %zu tokens", path,
                           (unsigned long long)n, t->n_vocab);
        const int32_t *types = arr;
        for (size_t i = 0; i < t->n_vocab; i++)
            t->attr[i] =
                types[i] >= 0 && types[i] <= TOK_ATTR_BYTE ? (uint8_t)types[i] : TOK_ATTR_UNDEFINED;
    }
    rc = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &arr, &n, e);
    if (rc) return rc;
    const gguf_str *merges = arr;
    char *key = NULL;
    size_t key_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        /* "left right", split at the first space after the first byte */
        const char *m = merges[i].s;
        size_t ml = merges[i].len;
        const char *sp = ml > 1 ? memchr(m + 1, ' ', ml - 1) : NULL;
        if (!sp) continue;
        size_t ll = (size_t)(sp - m), rl = ml - ll - 1;
        if (key_cap < 4 + ll + rl) {
            free(key);
            key_cap = 2 * (4 + ll + rl);
            key = malloc(key_cap);
            if (!key) return err_set(e, ERR_NOMEM, "%s: out of memory", path);
        }
        size_t kl = rank_key(key, m, ll, sp + 1, rl);
        if (strmap_add(&t->ranks, key, kl, (size_t)i) < 0) {
            free(key);
            return err_set(e, ERR_NOMEM, "%s: out of memory", path);
        }
    }
    free(key);

    if ((rc = opt_id(g, t, "tokenizer.ggml.bos_token_id", &t->bos, e)) ||
        (rc = opt_id(g, t, "tokenizer.ggml.eos_token_id", &t->eos, e)) ||
        (rc = opt_id(g, t, "tokenizer.ggml.eot_token_id", &t->eot, e)) ||
        (rc = opt_id(g, t, "tokenizer.ggml.eom_token_id", &t->eom, e)))
        return rc;
    if ((rc = gguf_opt_bool(g, "tokenizer.ggml.add_bos_token", false, &t->add_bos, e)) ||
        (rc = gguf_opt_bool(g, "tokenizer.ggml.add_eos_token", false, &t->add_eos, e)))
        return rc;
    if (t->add_bos && t->bos < 0)
        return err_set(
            e, ERR_FORMAT,
            "%s: tokenizer.ggml.add_bos_token is true but there is no valid bos_token_id", path);
    if (t->add_eos && t->eos < 0)
        return err_set(
            e, ERR_FORMAT,
            "%s: tokenizer.ggml.add_eos_token is true but there is no valid eos_token_id", path);

    /* tokens cut out before pre-tokenization */
    t->special = arena_calloc(&t->mem, t->n_vocab, sizeof *t->special);
    t->eog = arena_calloc(&t->mem, 16, sizeof *t->eog);
    if (!t->special || !t->eog) return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < t->n_vocab; i++) {
        int a = t->attr[i];
        if ((a == TOK_ATTR_CONTROL || a == TOK_ATTR_USER_DEFINED || a == TOK_ATTR_UNKNOWN) &&
            t->text[i].len)
            t->special[t->n_special++] = (int32_t)i;
    }
    qsort_r(t->special, t->n_special, sizeof *t->special, cmp_special, t);

    /* end of generation */
    int32_t fixed[3] = {t->eos, t->eot, t->eom};
    for (int i = 0; i < 3; i++)
        if (fixed[i] >= 0 && !tok_is_eog(t, fixed[i])) t->eog[t->n_eog++] = fixed[i];
    for (size_t i = 0; i < sizeof eog_texts / sizeof *eog_texts; i++) {
        int32_t id = tok_find(t, eog_texts[i], strlen(eog_texts[i]));
        if (id >= 0 && t->attr[id] == TOK_ATTR_CONTROL && !tok_is_eog(t, id) && t->n_eog < 16)
            t->eog[t->n_eog++] = id;
    }
    return 0;
}

static int compile_pre(tok *t, const char *path, err *e)
{
    for (size_t i = 0; i < MAX_REGEX && t->pre->regex[i]; i++) {
        int ec;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)t->pre->regex[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP, &ec, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return err_set(e, ERR_INTERNAL, "%s: pre-tokenizer %s regex %zu: %s at %zu", path,
                           t->pre->name, i, (const char *)msg, (size_t)off);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: matching works without it */
        t->re[t->n_re++] = re;
    }
    return 0;
}

int tok_open(tok **out, const gguf *g, const tok_settings *s, err *e)
{
    *out = NULL;
    if (!g) return err_set(e, ERR_INVALID, "tok_open: no model");
    const char *path = gguf_path(g);
    const char *model = NULL, *pre = NULL;
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, e);
    if (rc) return rc;
    if (strcmp(model, "gpt2") != 0) {
        if (strcmp(model, "llama") == 0)
            return err_set(e, ERR_UNSUPPORTED,
                           "%s: SentencePiece tokenizers (tokenizer.ggml.model \"llama\") are not "
                           "supported",
                           path);
        return err_set(e, ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not supported", path,
                       model);
    }
    if (s && s->pre) {
        pre = s->pre;
    } else {
        rc = gguf_opt_str(g, "tokenizer.ggml.pre", NULL, &pre, e);
        if (rc) return rc;
        if (!pre)
            return err_set(e, ERR_UNSUPPORTED,
                           "%s: tokenizer.ggml.pre is missing; name a pre-tokenizer explicitly",
                           path);
    }
    const pre_type *pt = NULL;
    for (size_t i = 0; i < sizeof pre_types / sizeof *pre_types; i++)
        if (strcmp(pre_types[i].name, pre) == 0) pt = &pre_types[i];
    if (!pt)
        return err_set(
            e, ERR_UNSUPPORTED,
            "%s: pre-tokenizer \"%s\" is not supported (known: gpt-2, refact, starcoder, "
            "dbrx, deepseek-coder, bailingmoe2, bailingmoe, llada-moe)",
            path, pre);

    tok *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, ERR_NOMEM, "out of memory");
    t->mem.block_size = 1 << 20;
    t->pre = pt;
    t->bos = t->eos = t->eot = t->eom = -1;
    build_byte_table(t);
    rc = load_vocab(t, g, e);
    if (!rc) rc = compile_pre(t, path, e);
    if (rc) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void tok_free(tok *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    strmap_release(&t->by_text);
    strmap_release(&t->ranks);
    arena_release(&t->mem);
    free(t);
}

/* ---- accessors ---- */

size_t tok_n_vocab(const tok *t)
{
    return t->n_vocab;
}

const char *tok_text(const tok *t, int32_t id, size_t *len_out)
{
    if (id < 0 || (size_t)id >= t->n_vocab) return NULL;
    if (len_out) *len_out = t->text[id].len;
    return t->text[id].s;
}

int tok_attr(const tok *t, int32_t id)
{
    if (id < 0 || (size_t)id >= t->n_vocab) return TOK_ATTR_UNDEFINED;
    return t->attr[id];
}

int32_t tok_find(const tok *t, const char *text, size_t len)
{
    size_t id;
    if (!len || !strmap_get(&t->by_text, text, len, &id)) return -1;
    return (int32_t)id;
}

int32_t tok_bos(const tok *t)
{
    return t->bos;
}

int32_t tok_eos(const tok *t)
{
    return t->eos;
}

int32_t tok_eot(const tok *t)
{
    return t->eot;
}

bool tok_add_bos(const tok *t)
{
    return t->add_bos;
}

bool tok_add_eos(const tok *t)
{
    return t->add_eos;
}

bool tok_is_eog(const tok *t, int32_t id)
{
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    return false;
}

const char *tok_pre(const tok *t)
{
    return t->pre->name;
}

/* ---- encoding ---- */

/* A span of the (sanitized) input; id >= 0 for a special token. */
typedef struct span {
    size_t off, len;
    int32_t id;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int spans_insert(spans *s, size_t at, span x)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        span *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        s->v = nv;
        s->cap = nc;
    }
    memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof *s->v);
    s->v[at] = x;
    s->n++;
    return 0;
}

/* One symbol of a word being merged: a run of the mapped bytes. */
typedef struct sym {
    int32_t prev, next;
    uint32_t start, len; /* len 0: merged into its left neighbour */
} sym;

typedef struct bigram {
    size_t rank;
    int32_t left, right;
    uint32_t size; /* bytes of left + right when queued */
} bigram;

/* Per-call scratch, grown as needed. */
typedef struct scratch {
    buf mapped; /* a word's bytes through the byte table */
    sym *syms;
    size_t syms_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    char *key;
    size_t key_cap;
    spans words, next_words;
    pcre2_match_data *md;
} scratch;

static bool bigram_less(const bigram *a, const bigram *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(scratch *s, bigram b)
{
    if (s->heap_n == s->heap_cap) {
        size_t nc = s->heap_cap ? s->heap_cap * 2 : 64;
        bigram *nh = realloc(s->heap, nc * sizeof *nh);
        if (!nh) return ERR_NOMEM;
        s->heap = nh;
        s->heap_cap = nc;
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_less(&b, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = b;
    return 0;
}

static bigram heap_pop(scratch *s)
{
    bigram top = s->heap[0];
    bigram last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && bigram_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!bigram_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n) s->heap[i] = last;
    return top;
}

/* Queues the pair (left, right) if the merge table has it. */
static int try_pair(const tok *t, scratch *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return 0;
    const sym *l = &s->syms[left], *r = &s->syms[right];
    size_t need = 4 + l->len + r->len;
    if (need > s->key_cap) {
        char *nk = realloc(s->key, 2 * need);
        if (!nk) return ERR_NOMEM;
        s->key = nk;
        s->key_cap = 2 * need;
    }
    const char *m = s->mapped.data;
    size_t kl = rank_key(s->key, m + l->start, l->len, m + r->start, r->len);
    size_t rank;
    if (!strmap_get(&t->ranks, s->key, kl, &rank)) return 0;
    return heap_push(s, (bigram){rank, left, right, l->len + r->len});
}

/* Byte-level BPE of one pre-tokenized word. */
static int bpe_word(const tok *t, scratch *s, const char *w, size_t wl, tok_ids *out)
{
    buf_reset(&s->mapped);
    for (size_t i = 0; i < wl; i++) {
        unsigned char b = (unsigned char)w[i];
        if (buf_append(&s->mapped, t->b2u[b], t->b2u_len[b]) < 0) return ERR_NOMEM;
    }
    const char *m = s->mapped.data;
    if (t->pre->ignore_merges) {
        int32_t id = tok_find(t, m, s->mapped.len);
        if (id >= 0) return tok_ids_push(out, id);
    }
    if (wl > s->syms_cap) {
        sym *ns = realloc(s->syms, wl * sizeof *ns);
        if (!ns) return ERR_NOMEM;
        s->syms = ns;
        s->syms_cap = wl;
    }
    /* one symbol per input byte (= one mapped character) */
    uint32_t pos = 0;
    for (size_t i = 0; i < wl; i++) {
        uint8_t bl = t->b2u_len[(unsigned char)w[i]];
        s->syms[i] = (sym){(int32_t)i - 1, i + 1 < wl ? (int32_t)i + 1 : -1, pos, bl};
        pos += bl;
    }
    s->heap_n = 0;
    int rc = 0;
    for (size_t i = 0; i + 1 < wl && !rc; i++) rc = try_pair(t, s, (int32_t)i, (int32_t)i + 1);
    /* merge the lowest-rank pair (leftmost on ties) until none is left */
    while (s->heap_n && !rc) {
        bigram b = heap_pop(s);
        sym *l = &s->syms[b.left], *r = &s->syms[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.size) continue; /* stale */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) s->syms[r->next].prev = b.left;
        rc = try_pair(t, s, l->prev, b.left);
        if (!rc) rc = try_pair(t, s, b.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && !rc; i = s->syms[i].next) {
        const sym *x = &s->syms[i];
        int32_t id = tok_find(t, m + x->start, x->len);
        if (id >= 0) {
            rc = tok_ids_push(out, id);
            continue;
        }
        /* not in the vocabulary: each byte of the mapped text that is a token on its own */
        for (uint32_t k = 0; k < x->len && !rc; k++) {
            int32_t bid = tok_find(t, m + x->start + k, 1);
            if (bid >= 0) rc = tok_ids_push(out, bid);
        }
    }
    return rc;
}

/* Splits every piece in s->words with regex `re`: matches and the text
 * between them become pieces. */
static int split_words(const tok *t, scratch *s, const char *text, const pcre2_code *re)
{
    s->next_words.n = 0;
    for (size_t i = 0; i < s->words.n; i++) {
        span w = s->words.v[i];
        PCRE2_SPTR subj = (PCRE2_SPTR)(text + w.off);
        size_t pos = 0;
        while (pos < w.len) {
            int mr = pcre2_match(re, subj, w.len, pos, PCRE2_NO_UTF_CHECK, s->md, NULL);
            if (mr < 0) break; /* no match (or a matching limit): the rest is one piece */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            size_t ms = ov[0], me = ov[1];
            if (me <= ms) { /* an empty match: none of our patterns has one; step over it */
                if (ms >= w.len) break;
                size_t step = 1;
                while (ms + step < w.len && (text[w.off + ms + step] & 0xC0) == 0x80) step++;
                pos = ms + step;
                continue;
            }
            if (ms > pos && spans_insert(&s->next_words, s->next_words.n,
                                         (span){w.off + pos, ms - pos, -1}) < 0)
                return ERR_NOMEM;
            if (spans_insert(&s->next_words, s->next_words.n, (span){w.off + ms, me - ms, -1}) < 0)
                return ERR_NOMEM;
            pos = me;
        }
        if (pos < w.len &&
            spans_insert(&s->next_words, s->next_words.n, (span){w.off + pos, w.len - pos, -1}) < 0)
            return ERR_NOMEM;
    }
    spans tmp = s->words;
    s->words = s->next_words;
    s->next_words = tmp;
    return 0;
}

static int encode_raw(const tok *t, scratch *s, const char *text, span frag, tok_ids *out)
{
    s->words.n = 0;
    if (spans_insert(&s->words, 0, frag) < 0) return ERR_NOMEM;
    for (size_t r = 0; r < t->n_re; r++) {
        int rc = split_words(t, s, text, t->re[r]);
        if (rc) return rc;
    }
    for (size_t i = 0; i < s->words.n; i++) {
        int rc = bpe_word(t, s, text + s->words.v[i].off, s->words.v[i].len, out);
        if (rc) return rc;
    }
    return 0;
}

/* Cuts special tokens out of the raw spans, longest token text first. */
static int partition_special(const tok *t, const char *text, spans *frags, unsigned flags)
{
    for (size_t k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        if (t->attr[id] != TOK_ATTR_USER_DEFINED && !(flags & TOK_PARSE_SPECIAL)) continue;
        const char *st = t->text[id].s;
        size_t sl = t->text[id].len;
        for (size_t i = 0; i < frags->n; i++) {
            span f = frags->v[i];
            if (f.id >= 0 || f.len < sl) continue;
            const char *hit = memmem(text + f.off, f.len, st, sl);
            if (!hit) continue;
            size_t at = (size_t)(hit - text);
            /* [before] [token] [after]; `after` is scanned on the next round of i */
            span before = {f.off, at - f.off, -1}, after = {at + sl, f.off + f.len - at - sl, -1};
            size_t j = i;
            if (before.len)
                frags->v[j++] = before;
            else {
                memmove(frags->v + i, frags->v + i + 1, (frags->n - i - 1) * sizeof *frags->v);
                frags->n--;
            }
            if (spans_insert(frags, j, (span){at, sl, id}) < 0) return ERR_NOMEM;
            if (after.len && spans_insert(frags, j + 1, after) < 0) return ERR_NOMEM;
            i = j; /* the loop's i++ moves to `after` */
        }
    }
    return 0;
}

int tok_encode(const tok *t, const char *text, size_t len, unsigned flags, tok_ids *ids, err *e)
{
    if (!text && len) return err_set(e, ERR_INVALID, "tok_encode: no text");
    if (len > INT32_MAX / 4)
        return err_set(e, ERR_LIMIT, "tok_encode: text of %zu bytes is too long", len);
    buf clean = BUF_INIT;
    spans frags = {0};
    scratch s = {0};
    s.mapped = (buf)BUF_INIT;
    int rc = 0;
    if ((flags & TOK_ADD_SPECIAL) && t->add_bos && (rc = tok_ids_push(ids, t->bos))) goto out;
    if (len && !utf8_valid(text, len)) {
        if ((rc = sanitize_lenient(text, len, &clean))) goto out;
        text = clean.data;
        len = clean.len;
    }
    if (len) {
        if ((rc = spans_insert(&frags, 0, (span){0, len, -1}))) goto out;
        if ((rc = partition_special(t, text, &frags, flags))) goto out;
        s.md = pcre2_match_data_create(2, NULL);
        if (!s.md) {
            rc = ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < frags.n && !rc; i++) {
            if (frags.v[i].id >= 0)
                rc = tok_ids_push(ids, frags.v[i].id);
            else
                rc = encode_raw(t, &s, text, frags.v[i], ids);
        }
        if (rc) goto out;
    }
    if ((flags & TOK_ADD_SPECIAL) && t->add_eos) rc = tok_ids_push(ids, t->eos);
out:
    if (s.md) pcre2_match_data_free(s.md);
    free(s.syms);
    free(s.heap);
    free(s.key);
    free(s.words.v);
    free(s.next_words.v);
    buf_release(&s.mapped);
    buf_release(&clean);
    free(frags.v);
    if (rc) return err_set(e, rc, "tokenizer: out of memory");
    return 0;
}

/* ---- decoding ---- */

int tok_piece(const tok *t, int32_t id, unsigned flags, buf *out, err *e)
{
    if (id < 0 || (size_t)id >= t->n_vocab)
        return err_set(e, ERR_INVALID, "token id %ld is outside the vocabulary (%zu tokens)",
                       (long)id, t->n_vocab);
    const tok_str *ts = &t->text[id];
    int rc = 0;
    switch (t->attr[id]) {
    case TOK_ATTR_NORMAL: {
        /* each character stands for one byte (GPT-2's table); others pass through */
        const unsigned char *p = (const unsigned char *)ts->s;
        for (size_t i = 0; i < ts->len && !rc;) {
            uint32_t cp;
            size_t n = utf8_decode(ts->s + i, ts->len - i, UTF8_LENIENT, &cp);
            if (!n) n = 1, cp = UINT32_MAX;
            if (cp < U2B_SIZE && t->u2b[cp] >= 0)
                rc = buf_putc(out, (char)t->u2b[cp]);
            else
                rc = buf_append(out, p + i, n);
            i += n;
        }
        break;
    }
    case TOK_ATTR_USER_DEFINED:
        rc = buf_append(out, ts->s, ts->len);
        break;
    case TOK_ATTR_CONTROL:
    case TOK_ATTR_UNKNOWN:
        if (flags & TOK_DECODE_SPECIAL) rc = buf_append(out, ts->s, ts->len);
        break;
    default:
        break; /* unused, byte and undefined tokens give no text */
    }
    if (rc) return err_set(e, rc, "tokenizer: output too large");
    return 0;
}

/* llama_detokenize's clean-up, three passes over the text in place:
 * drop a space before ? ! . , ; turn " ' " into "'"; drop the space before
 * 's 'm 're 've (not before 't 'd 'll). */
static size_t clean_spaces(char *s, size_t n)
{
    if (n < 2) return n;
    size_t o = 1;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (s[i - 1] == ' ' && (c == '?' || c == '!' || c == '.' || c == ','))
            o--; /* the space just written */
        s[o++] = c;
    }
    n = o;
    o = 1;
    bool prev_gone = false; /* s[i-1] was a space swallowed with a lone quote */
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        bool prev_space = s[i - 1] == ' ' && !prev_gone;
        prev_gone = false;
        if (c == '\'' && i + 1 < n && prev_space && s[i + 1] == ' ') {
            o--;
            s[o++] = c;
            i++; /* skip the space after */
            prev_gone = true;
            continue;
        }
        s[o++] = c;
    }
    n = o;
    o = 1;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (s[i - 1] == ' ' && c == '\'' && i + 1 < n) {
            char c1 = s[i + 1], c2 = i + 2 < n ? s[i + 2] : 0;
            if (c1 == 's' || c1 == 'm')
                o--;
            else if (i + 2 < n && ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e')))
                o--;
        }
        s[o++] = c;
    }
    return o;
}

int tok_decode(const tok *t, const int32_t *ids, size_t n, unsigned flags, buf *out, err *e)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        int rc = tok_piece(t, ids[i], flags, out, e);
        if (rc) return rc;
    }
    if ((flags & TOK_DECODE_CLEAN_SPACES) && t->pre->clean_spaces) {
        size_t kept = clean_spaces(out->data + start, out->len - start);
        buf_truncate(out, start + kept);
    }
    return 0;
}
