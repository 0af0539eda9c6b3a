/* humaneval.c: HumanEval, HumanEval+ and MBPP+ loaders and prompt builders. */
#include "humaneval.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/strmap.h"
#include "common/util.h"

/* ------------------------------------------------------------------ stop strings */

const char *const humaneval_stops_codex[] = {"\nclass", "\ndef", "\n#", "\nif", "\nprint", NULL};

const char *const evalplus_stops_base_he[] = {
    "<|endoftext|>", "<|endofmask|>", "</s>",      "\nif __name__", "\ndef main(", "\nprint(",
    "\ndef ",        "\nclass ",      "\nimport ", "\nfrom ",       "\nassert ",   NULL};

const char *const evalplus_stops_base_mbpp[] = {
    "<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(", NULL};

const char *const evalplus_stops_chat[] = {
    "<|endoftext|>", "<|endofmask|>", "</s>",    "\nif __name__",
    "\ndef main(",   "\nprint(",      "\n```\n", NULL};

static size_t table_len(const char *const *t)
{
    size_t n = 0;
    while (t[n]) n++;
    return n;
}

/* ------------------------------------------------------------------ variants */

static const struct variant {
    const char *arg;
    const char *file;
    int family;
} variants[] = {
    {"humaneval", "humaneval/HumanEval.jsonl.gz", HE_HUMANEVAL},
    {"humanevalplus", "humanevalplus/HumanEvalPlus.jsonl.gz", HE_EVALPLUS_HE},
    {"humanevalplus-mini", "humanevalplus/HumanEvalPlus-Mini.jsonl.gz", HE_EVALPLUS_HE},
    {"mbppplus", "mbppplus/MbppPlus.jsonl.gz", HE_EVALPLUS_MBPP},
};

static const struct variant *variant_find(const char *arg)
{
    if (!arg) arg = "humaneval";
    for (size_t i = 0; i < ARRAY_LEN(variants); i++)
        if (strcmp(variants[i].arg, arg) == 0) return &variants[i];
    return NULL;
}

int humaneval_family(const char *arg)
{
    const struct variant *v = variant_find(arg);
    return v ? v->family : -1;
}

const char *humaneval_dataset_file(const char *arg)
{
    const struct variant *v = variant_find(arg);
    return v ? v->file : NULL;
}

/* ------------------------------------------------------------------ exact JSON scanner */

/* Checks JSON text against Python's json grammar (RFC 8259 plus NaN,
 * Infinity, -Infinity) without decoding it, so that no number is rounded.
 * `pos` advances past what was scanned; errors say what and where. */
typedef struct jscan {
    const char *s;
    size_t n, pos;
    const char *what; /* the error, or NULL */
} jscan;

#define JSCAN_MAX_DEPTH 512

static int js_fail(jscan *j, const char *what)
{
    if (!j->what) j->what = what;
    return ERR_PARSE;
}

static void js_ws(jscan *j)
{
    while (j->pos < j->n) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        j->pos++;
    }
}

static bool js_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

STATIC int js_string(jscan *j)
{
    if (j->pos >= j->n || j->s[j->pos] != '"') return js_fail(j, "expected a string");
    j->pos++;
    while (j->pos < j->n) {
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c == '"') {
            j->pos++;
            return 0;
        }
        if (c < 0x20) return js_fail(j, "control character in a string");
        if (c == '\\') {
            if (j->pos + 1 >= j->n) break;
            char x = j->s[j->pos + 1];
            if (x == 'u') {
                if (j->pos + 6 > j->n) break;
                for (int k = 2; k < 6; k++)
                    if (!js_hex(j->s[j->pos + k])) return js_fail(j, "bad \\u escape");
                j->pos += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", x) || x == 0) return js_fail(j, "bad escape");
            j->pos += 2;
            continue;
        }
        j->pos++;
    }
    return js_fail(j, "unterminated string");
}

static bool js_lit(jscan *j, const char *lit)
{
    size_t l = strlen(lit);
    if (j->pos + l > j->n || memcmp(j->s + j->pos, lit, l) != 0) return false;
    j->pos += l;
    return true;
}

static bool js_digit(const jscan *j)
{
    return j->pos < j->n && j->s[j->pos] >= '0' && j->s[j->pos] <= '9';
}

STATIC int js_number(jscan *j)
{
    if (j->pos < j->n && j->s[j->pos] == '-') {
        j->pos++;
        if (js_lit(j, "Infinity")) return 0;
    }
    if (!js_digit(j)) return js_fail(j, "expected a value");
    if (j->s[j->pos] == '0') {
        j->pos++;
    } else {
        while (js_digit(j)) j->pos++;
    }
    if (j->pos < j->n && j->s[j->pos] == '.') {
        j->pos++;
        if (!js_digit(j)) return js_fail(j, "digits expected after '.'");
        while (js_digit(j)) j->pos++;
    }
    if (j->pos < j->n && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->n && (j->s[j->pos] == '+' || j->s[j->pos] == '-')) j->pos++;
        if (!js_digit(j)) return js_fail(j, "digits expected in an exponent");
        while (js_digit(j)) j->pos++;
    }
    return 0;
}

/* Scans one value; *count (when not NULL) gets the number of elements of an
 * array or members of an object. */
STATIC int js_value(jscan *j, int depth, size_t *count)
{
    if (count) *count = 0;
    if (depth > JSCAN_MAX_DEPTH) return js_fail(j, "nested too deeply");
    js_ws(j);
    if (j->pos >= j->n) return js_fail(j, "unexpected end of input");
    char c = j->s[j->pos];
    if (c == '"') return js_string(j);
    if (c == '[' || c == '{') {
        char close = c == '[' ? ']' : '}';
        j->pos++;
        js_ws(j);
        if (j->pos < j->n && j->s[j->pos] == close) {
            j->pos++;
            return 0;
        }
        for (;;) {
            js_ws(j);
            if (c == '{') {
                if (js_string(j) < 0) return ERR_PARSE;
                js_ws(j);
                if (j->pos >= j->n || j->s[j->pos] != ':') return js_fail(j, "expected ':'");
                j->pos++;
            }
            if (js_value(j, depth + 1, NULL) < 0) return ERR_PARSE;
            if (count) (*count)++;
            js_ws(j);
            if (j->pos >= j->n) return js_fail(j, "unexpected end of input");
            if (j->s[j->pos] == ',') {
                j->pos++;
                continue;
            }
            if (j->s[j->pos] == close) {
                j->pos++;
                return 0;
            }
            return js_fail(j, c == '[' ? "expected ',' or ']'" : "expected ',' or '}'");
        }
    }
    if (js_lit(j, "true") || js_lit(j, "false") || js_lit(j, "null") || js_lit(j, "NaN") ||
        js_lit(j, "Infinity"))
        return 0;
    return js_number(j);
}

/* A list of argument lists: "[[...], [...]]" (or "{}", MBPP+'s way of
 * writing an empty plus set). Counts the lists. */
static int js_input_lists(jscan *j, size_t *count, bool *empty_object)
{
    *count = 0;
    *empty_object = false;
    js_ws(j);
    if (j->pos < j->n && j->s[j->pos] == '{') {
        size_t members;
        if (js_value(j, 0, &members) < 0) return ERR_PARSE;
        if (members) return js_fail(j, "expected a list of argument lists");
        *empty_object = true;
        return 0;
    }
    if (j->pos >= j->n || j->s[j->pos] != '[')
        return js_fail(j, "expected a list of argument lists");
    j->pos++;
    js_ws(j);
    if (j->pos < j->n && j->s[j->pos] == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        js_ws(j);
        if (j->pos >= j->n || j->s[j->pos] != '[')
            return js_fail(j, "an input is not a list of arguments");
        if (js_value(j, 1, NULL) < 0) return ERR_PARSE;
        (*count)++;
        js_ws(j);
        if (j->pos >= j->n) return js_fail(j, "unexpected end of input");
        if (j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->s[j->pos] == ']') {
            j->pos++;
            return 0;
        }
        return js_fail(j, "expected ',' or ']'");
    }
}

/* ------------------------------------------------------------------ records */

enum field_id {
    F_TASK_ID,
    F_PROMPT,
    F_ENTRY,
    F_CANONICAL,
    F_TEST,
    F_BASE,
    F_PLUS,
    F_ATOL,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    [F_TASK_ID] = "task_id",   [F_PROMPT] = "prompt",
    [F_ENTRY] = "entry_point", [F_CANONICAL] = "canonical_solution",
    [F_TEST] = "test",         [F_BASE] = "base_input",
    [F_PLUS] = "plus_input",   [F_ATOL] = "atol",
};

static bool is_identifier(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* Decodes a JSON string value (already scanned) into the arena. */
static int decode_string(const char *span, size_t len, const char *where, const char *name,
                         arena *a, const char **out, err *e)
{
    if (len < 2 || span[0] != '"')
        return err_set(e, ERR_PARSE, "%s: field \"%s\" is not a string", where, name);
    if (mem_find(span, len, "\\u0000", 6))
        return err_set(e, ERR_PARSE, "%s: field \"%s\" contains a NUL character", where, name);
    cJSON *v = cJSON_ParseWithLength(span, len);
    if (!cJSON_IsString(v)) {
        cJSON_Delete(v);
        return err_set(e, ERR_PARSE, "%s: field \"%s\": bad string", where, name);
    }
    *out = arena_strdup(a, v->valuestring);
    cJSON_Delete(v);
    return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* Parses one JSONL record. Unknown fields (contract, assertion, ...) are
 * scanned and ignored; a repeated key keeps its last value, as in Python. */
STATIC int he_parse_record(const char *line, size_t len, const char *where, int family, arena *a,
                           he_problem *p, err *e)
{
    memset(p, 0, sizeof *p);
    p->family = family;
    size_t span_at[F_COUNT], span_len[F_COUNT], counts[F_COUNT];
    bool seen[F_COUNT] = {0}, empty_obj[F_COUNT] = {0};
    jscan j = {line, len, 0, NULL};
    js_ws(&j);
    if (j.pos >= j.n || line[j.pos] != '{') {
        js_fail(&j, "expected an object");
        goto bad;
    }
    j.pos++;
    js_ws(&j);
    if (j.pos < j.n && line[j.pos] == '}') {
        j.pos++;
    } else {
        for (;;) {
            js_ws(&j);
            size_t k0 = j.pos;
            if (js_string(&j) < 0) goto bad;
            size_t k1 = j.pos;
            js_ws(&j);
            if (j.pos >= j.n || line[j.pos] != ':') {
                js_fail(&j, "expected ':'");
                goto bad;
            }
            j.pos++;
            js_ws(&j);
            int id = -1;
            for (int f = 0; f < F_COUNT; f++) {
                size_t fl = strlen(field_names[f]);
                if (k1 - k0 == fl + 2 && memcmp(line + k0 + 1, field_names[f], fl) == 0) id = f;
            }
            size_t v0 = j.pos;
            if (id == F_BASE || id == F_PLUS) {
                if (js_input_lists(&j, &counts[id], &empty_obj[id]) < 0) goto bad;
            } else {
                if (js_value(&j, 0, NULL) < 0) goto bad;
            }
            if (id >= 0) {
                seen[id] = true;
                span_at[id] = v0;
                span_len[id] = j.pos - v0;
            }
            js_ws(&j);
            if (j.pos < j.n && line[j.pos] == ',') {
                j.pos++;
                continue;
            }
            if (j.pos < j.n && line[j.pos] == '}') {
                j.pos++;
                break;
            }
            js_fail(&j, j.pos >= j.n ? "unexpected end of input" : "expected ',' or '}'");
            goto bad;
        }
    }
    js_ws(&j);
    if (j.pos != j.n) {
        js_fail(&j, "extra data after the object");
        goto bad;
    }

    /* Which fields the family needs. */
    bool need[F_COUNT] = {true, true, true, true, false, false, false, false};
    if (family == HE_HUMANEVAL) need[F_TEST] = true;
    if (family != HE_HUMANEVAL) need[F_BASE] = need[F_PLUS] = need[F_ATOL] = true;
    for (int f = 0; f < F_COUNT; f++)
        if (need[f] && !seen[f])
            return err_set(e, ERR_PARSE, "%s: field \"%s\" is missing", where, field_names[f]);
    const char **strs[] = {&p->task_id, &p->prompt, &p->entry_point, &p->canonical, &p->test};
    for (int f = F_TASK_ID; f <= F_TEST; f++) {
        if (!need[f] && !(f == F_TEST && seen[f])) continue;
        int r = decode_string(line + span_at[f], span_len[f], where, field_names[f], a, strs[f], e);
        if (r < 0) return r;
    }
    if (!is_identifier(p->entry_point))
        return err_set(e, ERR_PARSE, "%s: entry_point \"%.40s\" is not a Python identifier", where,
                       p->entry_point);
    if (!*p->task_id) return err_set(e, ERR_PARSE, "%s: empty task_id", where);
    if (family != HE_HUMANEVAL) {
        const char *span = line + span_at[F_ATOL];
        if (span_len[F_ATOL] == 0 || !(span[0] == '-' || (span[0] >= '0' && span[0] <= '9')))
            return err_set(e, ERR_PARSE, "%s: field \"atol\" is not a number", where);
        char tmp[64];
        if (span_len[F_ATOL] >= sizeof tmp)
            return err_set(e, ERR_PARSE, "%s: field \"atol\" is too long", where);
        memcpy(tmp, span, span_len[F_ATOL]);
        tmp[span_len[F_ATOL]] = 0;
        p->atol = strtod(tmp, NULL);
        if (!(p->atol >= 0) || p->atol > 1)
            return err_set(e, ERR_PARSE, "%s: field \"atol\" out of range (%s)", where, tmp);
        for (int f = F_BASE; f <= F_PLUS; f++) {
            const char *raw = empty_obj[f] ? arena_strdup(a, "[]")
                                           : arena_strndup(a, line + span_at[f], span_len[f]);
            if (!raw) return err_set(e, ERR_NOMEM, "out of memory");
            if (f == F_BASE) {
                p->base_input = raw;
                p->n_base = counts[f];
            } else {
                p->plus_input = raw;
                p->n_plus = counts[f];
            }
        }
    }
    return 0;
bad:
    return err_set(e, ERR_PARSE, "%s:%zu: %s", where, j.pos + 1,
                   j.what ? j.what : "malformed JSON");
}

int humaneval_load_file(const char *path, int family, arena *a, item_set *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (family < HE_HUMANEVAL || family > HE_EVALPLUS_MBPP)
        return err_set(e, ERR_INVALID, "humaneval: unknown dataset family %d", family);
    int ret = 0;
    buf text = BUF_INIT;
    buf_init(&text, 256u << 20);
    strmap ids = STRMAP_INIT;
    item *items = NULL;
    size_t n = 0, cap = 0;
    char hex[HASH_HEX_SIZE];
    if ((ret = sha256_file_hex(path, hex, e)) < 0) goto out;
    if ((ret = file_read_maybe_gz(path, &text, e)) < 0) goto out;
    line_iter it = line_iter_start(text.data, text.len);
    const char *l;
    size_t len;
    char where[600];
    while (line_iter_next(&it, &l, &len)) {
        if (len && l[len - 1] == '\r') len--;
        size_t blank = 0;
        while (blank < len && (l[blank] == ' ' || l[blank] == '\t')) blank++;
        if (blank == len) continue;
        snprintf(where, sizeof where, "%s:%zu", path, it.lineno);
        he_problem *p = arena_alloc(a, sizeof *p);
        if (!p) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((ret = he_parse_record(l, len, where, family, a, p, e)) < 0) goto out;
        int added = strmap_add(&ids, p->task_id, strlen(p->task_id), n);
        if (added < 0) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (added == 0) {
            ret = err_set(e, ERR_PARSE, "%s: task_id \"%s\" appears twice", where, p->task_id);
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            item *ni = realloc(items, nc * sizeof *ni);
            if (!ni) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            items = ni;
            cap = nc;
        }
        items[n] = (item){p->task_id, n, p};
        n++;
    }
    if (n == 0) {
        ret = err_set(e, ERR_PARSE, "%s: no records", path);
        goto out;
    }
    out->items = arena_memdup(a, items, n * sizeof *items);
    out->path = arena_strdup(a, path);
    out->sha256 = arena_strdup(a, hex);
    if (!out->items || !out->path || !out->sha256) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) ((he_problem *)out->items[i].data)->dataset_sha256 = out->sha256;
    out->n = n;
out:
    free(items);
    strmap_release(&ids);
    buf_release(&text);
    if (ret < 0) memset(out, 0, sizeof *out);
    return ret;
}

int humaneval_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e)
{
    const struct variant *v = variant_find(arg);
    if (!v) return err_set(e, ERR_INVALID, "humaneval: unknown variant \"%s\"", arg);
    const char *path;
    int r = datasets_locate(o ? o->data_dir : NULL, v->file, a, &path, e);
    if (r < 0) return r;
    return humaneval_load_file(path, v->family, a, out, e);
}

/* ------------------------------------------------------------------ prompts */

/* Python's str.strip() for the ASCII whitespace these prompts hold. */
static char *strip_ws(arena *a, const char *s)
{
    size_t b = 0, n = strlen(s);
    while (b < n && strchr(" \t\n\r\v\f", s[b])) b++;
    while (n > b && strchr(" \t\n\r\v\f", s[n - 1])) n--;
    return arena_strndup(a, s + b, n - b);
}

int humaneval_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
                    err *e)
{
    memset(out, 0, sizeof *out);
    if (!it || !it->data) return err_set(e, ERR_INVALID, "humaneval_build: no item");
    const he_problem *p = it->data;
    bool chat = o && o->chat;
    const char *const *stops;
    if (p->family == HE_HUMANEVAL) {
        stops = humaneval_stops_codex;
        out->max_tokens = 1024; /* lm-eval's max_gen_toks */
        out->reference = p->canonical;
        if (chat) {
            chat_message *m = arena_calloc(a, 1, sizeof *m);
            char *user = arena_printf(a, "%s%s\n```\n", HUMANEVAL_CHAT_USER_PREFIX, p->prompt);
            char *pre = arena_printf(a, "%s%s\n", HUMANEVAL_CHAT_ASSISTANT_PREFIX, p->prompt);
            if (!m || !user || !pre) return err_set(e, ERR_NOMEM, "out of memory");
            m->role = "user";
            m->content = user;
            out->messages = m;
            out->n_messages = 1;
            out->assistant_prefix = pre;
        } else {
            out->text = p->prompt;
        }
    } else {
        out->max_tokens = 768; /* EvalPlus's default */
        if (chat) {
            stops = evalplus_stops_chat;
            chat_message *m = arena_calloc(a, 1, sizeof *m);
            char *body = strip_ws(a, p->prompt);
            char *user =
                body ? arena_printf(a, "%s%s\n```\n", EVALPLUS_CHAT_USER_PREFIX, body) : NULL;
            if (!m || !user) return err_set(e, ERR_NOMEM, "out of memory");
            m->role = "user";
            m->content = user;
            out->messages = m;
            out->n_messages = 1;
            out->assistant_prefix = EVALPLUS_CHAT_ASSISTANT_PREFIX;
            /* A whole program, as a chat model answers. */
            out->reference = p->family == HE_EVALPLUS_HE
                                 ? arena_printf(a, "%s%s", p->prompt, p->canonical)
                                 : p->canonical;
            if (!out->reference) return err_set(e, ERR_NOMEM, "out of memory");
        } else {
            stops = p->family == HE_EVALPLUS_HE ? evalplus_stops_base_he : evalplus_stops_base_mbpp;
            out->text = p->prompt;
            out->reference = p->canonical;
        }
    }
    out->stop = stops;
    out->n_stop = table_len(stops);
    (void)arg;
    return 0;
}
