/* gsm8k.c: regex filters and exact match, as lm-evaluation-harness scores GSM8K. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "gsm8k.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "datasets/gsm8k.h"

struct gsm8k_filters {
    pcre2_code *strict;
    int strict_select;    /* 0 = first match, -1 = last */
    pcre2_code *flexible; /* last match */
    pcre2_code *last_hash; /* "(?s).*#### " */
    pcre2_match_data *md;
};

#define FLEXIBLE "(-?[$0-9.,]{2,})|(-?[0-9]+)"

static pcre2_code *compile(const char *pat, err *e)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    /* Python's "." stops at "\n" only. Byte mode: the patterns are ASCII, and a
     * completion with invalid UTF-8 must still be searched. */
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &off, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        err_set(e, ERR_INTERNAL, "gsm8k: pattern %s: %s at %zu", pat, (char *)msg, (size_t)off);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter when absent */
    return re;
}

int gsm8k_filters_new(gsm8k_filters **out, const char *variant, err *e)
{
    *out = NULL;
    gsm8k_filters *f = calloc(1, sizeof *f);
    if (!f) return err_set(e, ERR_NOMEM, "out of memory");
    const char *strict;
    if (!variant || !strcmp(variant, "gsm8k")) strict = "#### (\\-?[0-9\\.\\,]+)";
    else if (!strcmp(variant, "gsm8k_cot_llama")) {
        strict = "The final answer is ((-?[$0-9.,]{2,})|(-?[0-9]+))";
        f->strict_select = -1;
    } else strict = "The answer is (\\-?[0-9\\.\\,]+).";
    f->strict = compile(strict, e);
    f->flexible = f->strict ? compile(FLEXIBLE, e) : NULL;
    f->last_hash = f->flexible ? compile("(?s).*#### ", e) : NULL;
    f->md = f->last_hash ? pcre2_match_data_create(8, NULL) : NULL;
    if (!f->md) {
        int code = e && e->code ? e->code : ERR_NOMEM;
        gsm8k_filters_free(f);
        return err_set(e, code, "%s", e && e->code ? e->msg : "out of memory");
    }
    *out = f;
    return 0;
}

void gsm8k_filters_free(gsm8k_filters *f)
{
    if (!f) return;
    pcre2_code_free(f->strict);
    pcre2_code_free(f->flexible);
    pcre2_code_free(f->last_hash);
    pcre2_match_data_free(f->md);
    free(f);
}

/* Python's str.isspace() set, for the ASCII range these strings live in, plus
 * the multi-byte P-ws characters (U+0085, U+00A0, U+1680, U+2000-200A, ...). */
static size_t pyspace_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20)) return 1;
    if (c == 0xc2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (c == 0xe1 && n >= 3 && s[1] == 0x9a && s[2] == 0x80) return 3;
    if (c == 0xe2 && n >= 3 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3;
    if (c == 0xe2 && n >= 3 && s[1] == 0x81 && s[2] == 0x9f) return 3;
    if (c == 0xe3 && n >= 3 && s[1] == 0x80 && s[2] == 0x80) return 3;
    return 0;
}

static const char *py_strip(arena *a, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k;
    while (n && (k = pyspace_len(p, n))) {
        p += k;
        n -= k;
    }
    /* trailing: scan forward keeping the end of the last non-space character */
    size_t end = 0, i = 0;
    while (i < n) {
        k = pyspace_len(p + i, n - i);
        if (k) i += k;
        else {
            i++;
            while (i < n && (p[i] & 0xc0) == 0x80) i++;
            end = i;
        }
    }
    return arena_strndup(a, (const char *)p, end);
}

/* re.findall(pattern, s)[select], first non-empty group of a tuple, stripped; "[invalid]" if none. */
static const char *find_select(gsm8k_filters *f, pcre2_code *re, int select, const char *s,
                               arena *a)
{
    size_t len = strlen(s), off = 0;
    const char *pick = NULL;
    size_t pick_len = 0;
    bool have = false;
    uint32_t ngroups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &ngroups);
    while (off <= len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, len, off, 0, f->md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(f->md);
        const char *m = NULL;
        size_t ml = 0;
        if (ngroups == 0) {
            m = s + ov[0];
            ml = ov[1] - ov[0];
        } else {
            /* one group: its text; several: the tuple, of which the first non-empty is kept */
            for (uint32_t g = 1; g <= ngroups; g++) {
                if ((int)g < rc && ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
                    m = s + ov[2 * g];
                    ml = ov[2 * g + 1] - ov[2 * g];
                    break;
                }
                if (ngroups == 1) break;
            }
            if (!m) m = s + ov[0], ml = 0; /* all groups empty */
        }
        if (select == 0 && !have) {
            pick = m;
            pick_len = ml;
            have = true;
            break;
        }
        pick = m;
        pick_len = ml;
        have = true;
        off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    if (!have || (ngroups > 1 && pick_len == 0)) return "[invalid]";
    return py_strip(a, pick, pick_len);
}

const char *gsm8k_extract_strict(gsm8k_filters *f, const char *response, arena *a)
{
    return find_select(f, f->strict, f->strict_select, response, a);
}

const char *gsm8k_extract_flexible(gsm8k_filters *f, const char *response, arena *a)
{
    return find_select(f, f->flexible, -1, response, a);
}

const char *gsm8k_normalize(gsm8k_filters *f, const char *s, arena *a)
{
    buf b = BUF_INIT;
    /* 1, 2: remove every "," and "$" */
    for (const char *p = s; *p; p++)
        if (*p != ',' && *p != '$') buf_putc(&b, *p);
    /* 3: "(?s).*#### " removes through the last "#### " (greedy) */
    size_t start = 0;
    if (pcre2_match(f->last_hash, (PCRE2_SPTR)b.data, b.len, 0, 0, f->md, NULL) >= 0)
        start = pcre2_get_ovector_pointer(f->md)[1];
    const char *t = b.data + start;
    size_t n = b.len - start;
    /* 4: "\.$" — a "." at the end, or just before a final "\n" (kept) */
    char *r = arena_alloc(a, n + 1);
    if (!r) {
        buf_release(&b);
        return NULL;
    }
    if (n >= 1 && t[n - 1] == '.') {
        memcpy(r, t, n - 1);
        r[n - 1] = 0;
    } else if (n >= 2 && t[n - 1] == '\n' && t[n - 2] == '.') {
        memcpy(r, t, n - 2);
        r[n - 2] = '\n';
        r[n - 1] = 0;
    } else {
        memcpy(r, t, n);
        r[n] = 0;
    }
    buf_release(&b);
    /* ignore_case: lower-case (both sides go through here; ASCII is what differs in practice,
     * non-ASCII bytes are left as they are) */
    for (char *p = r; *p; p++) *p = (char)tolower((unsigned char)*p);
    return r;
}

int gsm8k_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e)
{
    gsm8k_filters *f = NULL;
    int ret = gsm8k_filters_new(&f, c->arg, e);
    if (ret < 0) return ret;
    for (size_t i = 0; i < n; i++) {
        score_record *r = &out[i];
        memset(r, 0, sizeof *r);
        int fail = score_generation_failure(&s[i]);
        const gsm8k_item *g = s[i].it->data;
        const char *target = gsm8k_target(c->arg, g);
        const char *tnorm = gsm8k_normalize(f, target, c->a);
        r->fields = cJSON_CreateObject();
        cJSON *metrics = cJSON_AddObjectToObject(r->fields, "metrics");
        cJSON *ex = cJSON_AddObjectToObject(r->fields, "extracted");
        if (!r->fields || !metrics || !ex || !tnorm) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        cJSON_AddStringToObject(r->fields, "target", tnorm);
        if (fail >= 0) {
            r->outcome = fail;
            r->reason = s[i].error;
            cJSON_AddStringToObject(metrics, "strict_match", outcome_name(fail));
            cJSON_AddStringToObject(metrics, "flexible_extract", outcome_name(fail));
            continue;
        }
        const char *resp = s[i].completion ? s[i].completion : "";
        const char *names[2] = {"strict_match", "flexible_extract"};
        const char *got[2] = {gsm8k_extract_strict(f, resp, c->a),
                              gsm8k_extract_flexible(f, resp, c->a)};
        int oc[2];
        for (int k = 0; k < 2; k++) {
            if (!got[k]) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            const char *norm = gsm8k_normalize(f, got[k], c->a);
            if (strcmp(got[k], "[invalid]") == 0) oc[k] = OUTCOME_NO_ANSWER;
            else oc[k] = norm && strcmp(norm, tnorm) == 0 ? OUTCOME_CORRECT : OUTCOME_WRONG;
            cJSON_AddStringToObject(metrics, names[k], outcome_name(oc[k]));
            cJSON_AddStringToObject(ex, names[k], got[k]);
        }
        r->outcome = oc[0];
        r->score = oc[0] == OUTCOME_CORRECT;
        if (oc[0] == OUTCOME_NO_ANSWER) r->reason = "strict-match found no \"The answer is N\"/\"#### N\"";
        else if (oc[0] == OUTCOME_WRONG)
            r->reason = arena_printf(c->a, "extracted \"%s\", expected \"%s\"", got[0], tnorm);
    }
out:
    gsm8k_filters_free(f);
    return ret;
}
