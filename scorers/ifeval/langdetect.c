/* langdetect.c: langdetect's n-gram naive Bayes with CPython's random generator.
 *
 * Sections: the n-gram table, loading the
 * profiles and the CJK classes, text preparation, n-gram extraction, the
 * estimate.
 */
#include "langdetect.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"
#include "pyrand.h"
#include "pyre.h"
#include "ustr.h"

/* ---------------------------------------------------------- n-gram table */

/* An n-gram of 1..3 code points packed as 21-bit fields of (cp + 1). */
static uint64_t gram_key(const uint32_t *g, size_t len)
{
    uint64_t k = 0;
    for (size_t i = 0; i < len; i++) k = (k << 21) | (uint64_t)(g[i] + 1);
    return k;
}

typedef struct gram_slot {
    uint64_t key; /* 0 = empty */
    uint32_t row;
} gram_slot;

typedef struct lang_prob {
    uint32_t lang;
    double p; /* count / n_words[len - 1] of that language */
} lang_prob;

struct langdetect {
    char *dir;
    size_t n_langs;
    char *langs[LANGDETECT_MAX_LANGS];
    gram_slot *slots; /* open addressing, power-of-two size */
    size_t cap, n_rows;
    uint32_t *row_off; /* n_rows + 1 offsets into entries (CSR) */
    lang_prob *entries;
    uint16_t *cjk;      /* (cp - 0x4E00) -> representative - 0x4E00, or NULL */
    uint32_t vi[24][5]; /* composed letter for (base, mark) */
    pyre *url_re, *mail_re;
};

static uint64_t mix(uint64_t k)
{
    k ^= k >> 31;
    k *= 0x9e3779b97f4a7c15ULL;
    return k ^ (k >> 29);
}

static bool gram_find(const langdetect *ld, uint64_t key, uint32_t *row)
{
    size_t mask = ld->cap - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (ld->slots[i].key == key) {
            *row = ld->slots[i].row;
            return true;
        }
        if (!ld->slots[i].key) return false;
    }
}

static int gram_grow(langdetect *ld)
{
    size_t nc = ld->cap ? ld->cap * 2 : 1u << 16;
    gram_slot *ns = calloc(nc, sizeof *ns);
    if (!ns) return ERR_NOMEM;
    for (size_t i = 0; i < ld->cap; i++) {
        if (!ld->slots[i].key) continue;
        size_t j = mix(ld->slots[i].key) & (nc - 1);
        while (ns[j].key) j = (j + 1) & (nc - 1);
        ns[j] = ld->slots[i];
    }
    free(ld->slots);
    ld->slots = ns;
    ld->cap = nc;
    return 0;
}

/* Row of `key`, added when new. */
static int gram_row(langdetect *ld, uint64_t key, uint32_t *row)
{
    if (ld->cap && gram_find(ld, key, row)) return 0;
    if ((ld->n_rows + 1) * 2 > ld->cap && gram_grow(ld) < 0) return ERR_NOMEM;
    size_t j = mix(key) & (ld->cap - 1);
    while (ld->slots[j].key) j = (j + 1) & (ld->cap - 1);
    ld->slots[j].key = key;
    ld->slots[j].row = (uint32_t)ld->n_rows;
    *row = (uint32_t)ld->n_rows++;
    return 0;
}

/* ------------------------------------------------------------- loading */

typedef struct triple {
    uint32_t row, lang;
    double p;
} triple;

typedef struct triples {
    triple *v;
    size_t n, cap;
} triples;

static int triples_push(triples *t, uint32_t row, uint32_t lang, double p)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1u << 16;
        triple *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        t->v = nv;
        t->cap = nc;
    }
    t->v[t->n++] = (triple){row, lang, p};
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One profile: {"freq": {gram: count}, "n_words": [n1, n2, n3], "name": code}. */
static int load_profile(langdetect *ld, const char *path, triples *acc, err *e)
{
    cJSON *doc = NULL;
    int rc = json_parse_file(path, &doc, e);
    if (rc < 0) return rc;
    const cJSON *freq, *nw;
    const char *name;
    if ((rc = json_get_object(doc, "freq", path, &freq, e)) < 0 ||
        (rc = json_get_array(doc, "n_words", path, &nw, e)) < 0 ||
        (rc = json_get_str(doc, "name", path, &name, e)) < 0)
        goto out;
    double n_words[3] = {0, 0, 0};
    if (cJSON_GetArraySize(nw) < 3) {
        rc = err_set(e, ERR_PARSE, "%s: \"n_words\" needs three counts", path);
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(nw, i);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0) {
            rc = err_set(e, ERR_PARSE, "%s: \"n_words\"[%d] is not a count", path, i);
            goto out;
        }
        n_words[i] = v->valuedouble;
    }
    for (size_t i = 0; i < ld->n_langs; i++)
        if (strcmp(ld->langs[i], name) == 0) {
            rc = err_set(e, ERR_PARSE, "%s: language \"%s\" is defined twice", path, name);
            goto out;
        }
    if (ld->n_langs >= LANGDETECT_MAX_LANGS) {
        rc = err_set(e, ERR_LIMIT, "%s: more than %d profiles", path, LANGDETECT_MAX_LANGS);
        goto out;
    }
    uint32_t lang = (uint32_t)ld->n_langs;
    if (!(ld->langs[ld->n_langs] = strdup(name))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    ld->n_langs++;
    const cJSON *it;
    cJSON_ArrayForEach(it, freq)
    {
        const char *g = it->string;
        size_t gl = strlen(g);
        if (!cJSON_IsNumber(it) || !ustr_valid(g, gl)) {
            rc = err_set(e, ERR_PARSE, "%s: bad entry in \"freq\"", path);
            goto out;
        }
        uint32_t cps[3];
        size_t len = 0, i = 0;
        while (i < gl && len < 4) {
            uint32_t c = ustr_next(g, gl, &i);
            if (len < 3) cps[len] = c;
            len++;
        }
        /* langdetect keeps only 1- to 3-grams' probabilities */
        if (len < 1 || len > 3) continue;
        if (n_words[len - 1] <= 0) {
            rc = err_set(e, ERR_PARSE, "%s: %zu-grams listed but \"n_words\"[%zu] is 0", path, len,
                         len - 1);
            goto out;
        }
        uint32_t row;
        if (gram_row(ld, gram_key(cps, len), &row) < 0 ||
            triples_push(acc, row, lang, it->valuedouble / n_words[len - 1]) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
out:
    cJSON_Delete(doc);
    return rc;
}

/* The CJK classes of messages.properties: NGram.KANJI_* = \uXXXX..., each
 * class mapped to its first character. */
static int load_cjk(langdetect *ld, const char *path, err *e)
{
    buf data = BUF_INIT;
    buf_init(&data, 1u << 20);
    int rc = file_read_all(path, &data, e);
    if (rc < 0) goto out;
    ld->cjk = malloc((0x9FFF - 0x4E00 + 1) * sizeof *ld->cjk);
    if (!ld->cjk) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t c = 0x4E00; c <= 0x9FFF; c++) ld->cjk[c - 0x4E00] = (uint16_t)(c - 0x4E00);
    line_iter it = line_iter_start(data.data, data.len);
    const char *l;
    size_t n;
    while (line_iter_next(&it, &l, &n)) {
        static const char prefix[] = "NGram.KANJI_";
        if (n < sizeof prefix || memcmp(l, prefix, sizeof prefix - 1) != 0) continue;
        const char *eq = memchr(l, '=', n);
        if (!eq) continue;
        uint32_t rep = 0;
        for (const char *p = eq + 1; p + 6 <= l + n && p[0] == '\\' && p[1] == 'u'; p += 6) {
            char hex[5] = {p[2], p[3], p[4], p[5], 0};
            char *end;
            uint32_t c = (uint32_t)strtoul(hex, &end, 16);
            if (*end) {
                rc = err_set(e, ERR_PARSE, "%s:%zu: bad \\u escape", path, it.lineno);
                goto out;
            }
            if (!rep) rep = c;
            if (c >= 0x4E00 && c <= 0x9FFF && rep >= 0x4E00 && rep <= 0x9FFF)
                ld->cjk[c - 0x4E00] = (uint16_t)(rep - 0x4E00);
        }
    }
out:
    buf_release(&data);
    return rc;
}

/* Letters Vietnamese text may write as letter + combining mark, and the marks. */
static const uint32_t vi_bases[24] = {'A',  'E',  'I',   'O',   'U',   'Y',   'a',   'e',
                                      'i',  'o',  'u',   'y',   0xC2,  0xCA,  0xD4,  0xE2,
                                      0xEA, 0xF4, 0x102, 0x103, 0x1A0, 0x1A1, 0x1AF, 0x1B0};
static const uint32_t vi_marks[5] = {0x300, 0x301, 0x303, 0x309, 0x323};

/* langdetect's Vietnamese table is the canonical composition of each pair. */
static int build_vi(langdetect *ld, err *e)
{
    for (int b = 0; b < 24; b++)
        for (int m = 0; m < 5; m++) {
            char in[8];
            size_t k = ustr_encode(vi_bases[b], in);
            k += ustr_encode(vi_marks[m], in + k);
            utf8proc_uint8_t *res = NULL;
            utf8proc_ssize_t rn = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)k,
                                               &res, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            size_t i = 0;
            uint32_t c = rn > 0 ? ustr_next((const char *)res, (size_t)rn, &i) : 0;
            bool one = rn > 0 && i == (size_t)rn;
            free(res);
            if (!one)
                return err_set(e, ERR_INTERNAL, "langdetect: U+%04X U+%04X does not compose",
                               vi_bases[b], vi_marks[m]);
            ld->vi[b][m] = c;
        }
    return 0;
}

int langdetect_open(langdetect **out, const char *dir, err *e)
{
    *out = NULL;
    if (!dir || !*dir) dir = LANGDETECT_DEFAULT_DIR;
    langdetect *ld = calloc(1, sizeof *ld);
    triples acc = {NULL, 0, 0};
    char **names = NULL;
    size_t n_names = 0, cap_names = 0;
    DIR *d = NULL;
    buf path = BUF_INIT;
    int rc = 0;
    if (!ld || !(ld->dir = strdup(dir))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!(d = opendir(dir))) {
        rc = err_errno(e,
                       "langdetect profiles %s (install Debian's python3-langdetect or pass "
                       "--langdetect-profiles DIR)",
                       dir);
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n_names == cap_names) {
            size_t nc = cap_names ? cap_names * 2 : 64;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            names = nn;
            cap_names = nc;
        }
        if (!(names[n_names] = strdup(de->d_name))) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        n_names++;
    }
    if (n_names) qsort(names, n_names, sizeof *names, cmp_str);
    for (size_t i = 0; i < n_names; i++) {
        struct stat st;
        buf_reset(&path);
        if (path_join(&path, dir, names[i]) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (stat(path.data, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if ((rc = load_profile(ld, path.data, &acc, e)) < 0) goto out;
    }
    if (ld->n_langs < 2) {
        rc = err_set(e, ERR_NOTFOUND,
                     "langdetect profiles %s: %zu profile%s found, need the 55 "
                     "of python3-langdetect",
                     dir, ld->n_langs, ld->n_langs == 1 ? "" : "s");
        goto out;
    }
    /* CSR rows: the entries of each n-gram together */
    ld->row_off = calloc(ld->n_rows + 1, sizeof *ld->row_off);
    ld->entries = malloc((acc.n ? acc.n : 1) * sizeof *ld->entries);
    if (!ld->row_off || !ld->entries) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < acc.n; i++) ld->row_off[acc.v[i].row + 1]++;
    for (size_t r = 0; r < ld->n_rows; r++) ld->row_off[r + 1] += ld->row_off[r];
    {
        uint32_t *fill = calloc(ld->n_rows + 1, sizeof *fill);
        if (!fill) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < acc.n; i++) {
            uint32_t r = acc.v[i].row;
            ld->entries[ld->row_off[r] + fill[r]++] = (lang_prob){acc.v[i].lang, acc.v[i].p};
        }
        free(fill);
    }
    /* CJK classes, from the same package when it is there */
    const char *cands[2] = {"../utils/messages.properties", "messages.properties"};
    for (int i = 0; i < 2; i++) {
        buf_reset(&path);
        if (path_join(&path, dir, cands[i]) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (file_exists(path.data)) {
            if ((rc = load_cjk(ld, path.data, e)) < 0) goto out;
            break;
        }
    }
    if ((rc = build_vi(ld, e)) < 0) goto out;
    if ((rc = pyre_compile(&ld->url_re, "https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}", 0, e)) < 0 ||
        (rc = pyre_compile(&ld->mail_re,
                           "[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}", 0,
                           e)) < 0)
        goto out;
out:
    if (d) closedir(d);
    for (size_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(acc.v);
    buf_release(&path);
    if (rc < 0)
        langdetect_close(ld);
    else
        *out = ld;
    return rc;
}

void langdetect_close(langdetect *ld)
{
    if (!ld) return;
    for (size_t i = 0; i < ld->n_langs; i++) free(ld->langs[i]);
    free(ld->dir);
    free(ld->slots);
    free(ld->row_off);
    free(ld->entries);
    free(ld->cjk);
    pyre_free(ld->url_re);
    pyre_free(ld->mail_re);
    free(ld);
}

size_t langdetect_n_langs(const langdetect *ld)
{
    return ld->n_langs;
}

const char *langdetect_lang(const langdetect *ld, size_t i)
{
    return i < ld->n_langs ? ld->langs[i] : NULL;
}

bool langdetect_has_cjk_map(const langdetect *ld)
{
    return ld->cjk != NULL;
}

const char *langdetect_dir(const langdetect *ld)
{
    return ld->dir;
}

void langdetect_scratch_release(langdetect_scratch *s)
{
    free(s->cps);
    free(s->grams);
    buf_release(&s->a);
    buf_release(&s->b);
    if (s->scan) {
        pyre_scan_release(s->scan);
        free(s->scan);
    }
    memset(s, 0, sizeof *s);
    s->a = (buf)BUF_INIT;
    s->b = (buf)BUF_INIT;
}

/* ------------------------------------------------------ text preparation */

#define MAX_TEXT 10000 /* Detector.max_text_length */

static int cps_push(langdetect_scratch *s, uint32_t c)
{
    if (s->n_cps == s->cap_cps) {
        size_t nc = s->cap_cps ? s->cap_cps * 2 : 1024;
        uint32_t *nv = realloc(s->cps, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        s->cps = nv;
        s->cap_cps = nc;
    }
    s->cps[s->n_cps++] = c;
    return 0;
}

static int vi_index(const uint32_t *set, int n, uint32_t c)
{
    for (int i = 0; i < n; i++)
        if (set[i] == c) return i;
    return -1;
}

/* Detector.append + cleaning_text: URLs and e-mail addresses become spaces,
 * Vietnamese letter + mark pairs are composed, the first 10,000 characters
 * are kept with runs of spaces collapsed, and Latin letters are dropped from
 * a text that is mostly non-Latin. Result: s->cps. */
static int prepare(const langdetect *ld, langdetect_scratch *s, const char *text, size_t n, err *e)
{
    int rc;
    buf_reset(&s->a);
    buf_reset(&s->b);
    if ((rc = pyre_sub(ld->url_re, s->scan, text, n, " ", &s->a, e)) < 0) return rc;
    if ((rc = pyre_sub(ld->mail_re, s->scan, s->a.data, s->a.len, " ", &s->b, e)) < 0) return rc;
    const char *t = s->b.data;
    size_t tn = s->b.len, i = 0, kept = 0;
    uint32_t pre = 0;
    s->n_cps = 0;
    while (i < tn && kept < MAX_TEXT) {
        uint32_t c = ustr_next(t, tn, &i);
        int b = vi_index(vi_bases, 24, c);
        if (b >= 0 && i < tn) {
            size_t j = i;
            int m = vi_index(vi_marks, 5, ustr_next(t, tn, &j));
            if (m >= 0) {
                c = ld->vi[b][m];
                i = j;
            }
        }
        kept++;
        if ((c != ' ' || pre != ' ') && cps_push(s, c) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        pre = c;
    }
    /* cleaning_text. (langdetect means to leave Latin Extended Additional out
     * of the non-Latin count, but compares a block number with a block name,
     * so every character from U+0300 on counts.) */
    size_t latin = 0, non_latin = 0;
    for (size_t k = 0; k < s->n_cps; k++) {
        uint32_t c = s->cps[k];
        if (c >= 'A' && c <= 'z')
            latin++;
        else if (c >= 0x300)
            non_latin++;
    }
    if (latin * 2 < non_latin) {
        size_t w = 0;
        for (size_t k = 0; k < s->n_cps; k++)
            if (s->cps[k] < 'A' || s->cps[k] > 'z') s->cps[w++] = s->cps[k];
        s->n_cps = w;
    }
    return 0;
}

/* ------------------------------------------------------ n-gram extraction */

/* NGram.normalize: one character as the profiles were built. */
static uint32_t normalize_cp(const langdetect *ld, uint32_t c)
{
    if (c <= 0x7F) { /* Basic Latin: only letters survive */
        if (c < 'A' || (c > 'Z' && c < 'a') || c > 'z') return ' ';
        return c;
    }
    if (c <= 0xFF) /* Latin-1 Supplement: NBSP, guillemets and the degree sign */
        return c == 0xA0 || c == 0xAB || c == 0xB0 || c == 0xBB ? ' ' : c;
    if (c >= 0x180 && c <= 0x24F) { /* Latin Extended-B: Romanian comma letters */
        if (c == 0x219) return 0x15F;
        if (c == 0x21B) return 0x163;
        return c;
    }
    if (c >= 0x600 && c <= 0x6FF) return c == 0x6CC ? 0x64A : c; /* Farsi yeh */
    if (c >= 0x1E00 && c <= 0x1EFF) return c >= 0x1EA0 ? 0x1EC3 : c;
    if (c >= 0x2000 && c <= 0x206F) return ' '; /* General Punctuation */
    if (c >= 0x3040 && c <= 0x309F) return 0x3042;
    if (c >= 0x30A0 && c <= 0x30FF) return 0x30A2;
    if ((c >= 0x3100 && c <= 0x312F) || (c >= 0x31A0 && c <= 0x31BF)) return 0x3105;
    if (c >= 0x4E00 && c <= 0x9FFF) return ld->cjk ? 0x4E00u + ld->cjk[c - 0x4E00] : c;
    if (c >= 0xAC00 && c <= 0xD7AF) return 0xAC00;
    return c;
}

/* A one-character Python str's isupper(). */
static bool cp_isupper(uint32_t c)
{
    return ustr_isupper_cp(c) && !ustr_islower_cp(c) && !ustr_istitle_cp(c);
}

static int grams_push(langdetect_scratch *s, uint32_t row)
{
    if (s->n_grams == s->cap_grams) {
        size_t nc = s->cap_grams ? s->cap_grams * 2 : 1024;
        uint32_t *nv = realloc(s->grams, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        s->grams = nv;
        s->cap_grams = nc;
    }
    s->grams[s->n_grams++] = row;
    return 0;
}

/* Detector._extract_ngrams with NGram.add_char: a window of the last three
 * normalised characters, reset at spaces; no n-grams inside a word written
 * in capitals (two upper-case letters in a row set the flag, any other
 * character clears it). */
static int extract(const langdetect *ld, langdetect_scratch *s)
{
    uint32_t g[3] = {' ', 0, 0};
    size_t gl = 1;
    bool capital = false;
    s->n_grams = 0;
    for (size_t k = 0; k < s->n_cps; k++) {
        uint32_t c = normalize_cp(ld, s->cps[k]);
        uint32_t last = g[gl - 1];
        if (last == ' ') {
            g[0] = ' ';
            gl = 1;
            capital = false;
            if (c == ' ') continue;
        } else if (gl >= 3) {
            g[0] = g[1], g[1] = g[2];
            gl = 2;
        }
        g[gl++] = c;
        if (cp_isupper(c)) {
            if (cp_isupper(last)) capital = true;
        } else
            capital = false;
        if (capital) continue;
        for (size_t len = 1; len <= 3 && len <= gl; len++) {
            const uint32_t *w = g + gl - len;
            if (len == 1 && w[0] == ' ') continue;
            uint32_t row;
            if (gram_find(ld, gram_key(w, len), &row) && grams_push(s, row) < 0) return ERR_NOMEM;
        }
    }
    return 0;
}

/* ----------------------------------------------------------- estimation */

#define N_TRIAL         7
#define ALPHA_DEFAULT   0.5
#define ALPHA_WIDTH     0.05
#define ITERATION_LIMIT 1000
#define PROB_THRESHOLD  0.1
#define CONV_THRESHOLD  0.99999
#define BASE_FREQ       10000

/* prob[i] *= alpha / BASE_FREQ + P(gram | language i) */
static void update(const langdetect *ld, double *prob, uint32_t row, double weight, double *factor)
{
    size_t nl = ld->n_langs;
    for (size_t i = 0; i < nl; i++) factor[i] = weight;
    for (uint32_t k = ld->row_off[row]; k < ld->row_off[row + 1]; k++)
        factor[ld->entries[k].lang] = weight + ld->entries[k].p;
    for (size_t i = 0; i < nl; i++) prob[i] *= factor[i];
}

/* Divides by the sum (added left to right, as Python's sum() of floats in
 * 3.11 does) and returns the largest probability. */
static double normalize_prob(double *prob, size_t nl)
{
    double sum = 0.0, maxp = 0.0;
    for (size_t i = 0; i < nl; i++) sum += prob[i];
    for (size_t i = 0; i < nl; i++) {
        double p = prob[i] / sum;
        if (maxp < p) maxp = p;
        prob[i] = p;
    }
    return maxp;
}

int langdetect_detect(const langdetect *ld, langdetect_scratch *s, const char *text, size_t n,
                      uint32_t seed, langdetect_result *out, double *probs_out, err *e)
{
    memset(out, 0, sizeof *out);
    if (!s->scan) {
        pyre_scan *sc = malloc(sizeof *sc);
        if (!sc) return err_set(e, ERR_NOMEM, "out of memory");
        *sc = (pyre_scan)PYRE_SCAN_INIT;
        if (pyre_scan_init(sc, e) < 0) {
            free(sc);
            return e ? e->code : ERR_NOMEM;
        }
        s->scan = sc;
    }
    int rc = prepare(ld, s, text, n, e);
    if (rc < 0) return rc;
    if (extract(ld, s) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    out->n_grams = s->n_grams;
    if (!s->n_grams) return 0; /* "No features in text." */

    size_t nl = ld->n_langs;
    double langprob[LANGDETECT_MAX_LANGS], prob[LANGDETECT_MAX_LANGS], factor[LANGDETECT_MAX_LANGS];
    for (size_t i = 0; i < nl; i++) langprob[i] = 0.0;
    pyrand r;
    pyrand_seed(&r, seed);
    for (int t = 0; t < N_TRIAL; t++) {
        for (size_t i = 0; i < nl; i++) prob[i] = 1.0 / (double)nl;
        volatile double spread = pyrand_gauss(&r) * ALPHA_WIDTH;
        double alpha = ALPHA_DEFAULT + spread;
        double weight = alpha / BASE_FREQ;
        for (int i = 0;; i++) {
            update(ld, prob, s->grams[pyrand_below(&r, s->n_grams)], weight, factor);
            if (i % 5 == 0 && (normalize_prob(prob, nl) > CONV_THRESHOLD || i >= ITERATION_LIMIT))
                break;
        }
        for (size_t i = 0; i < nl; i++) langprob[i] += prob[i] / N_TRIAL;
    }
    if (probs_out) memcpy(probs_out, langprob, nl * sizeof *langprob);
    /* the most probable language above the threshold; the first in
     * language order wins a tie, as Python's stable sort keeps it */
    size_t best = nl;
    for (size_t i = 0; i < nl; i++)
        if (langprob[i] > PROB_THRESHOLD && (best == nl || langprob[i] > langprob[best])) best = i;
    if (best == nl) {
        out->lang = "unknown";
        out->prob = 0;
    } else {
        out->lang = ld->langs[best];
        out->prob = langprob[best];
    }
    return 0;
}
