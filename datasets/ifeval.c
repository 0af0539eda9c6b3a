/* ifeval.c: the IFEval loader and prompt builder. */
#include "ifeval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/strmap.h"

enum kw_type { KW_INT, KW_REL, KW_STR, KW_LIST };

typedef struct kwdef {
    const char *name;
    int type;
    size_t off;   /* the field */
    size_t off_n; /* KW_LIST: the count field */
} kwdef;

#define F(x) offsetof(ifeval_kwargs, x)

/* Every kwargs key of the dataset, with upstream's spelling. To add one: a
 * value in enum ifeval_kwarg, a field in ifeval_kwargs, a row here. */
static const kwdef kwdefs[IFEVAL_KW_COUNT] = {
    [IFEVAL_KW_NUM_WORDS] = {"num_words", KW_INT, F(num_words), 0},
    [IFEVAL_KW_NUM_SENTENCES] = {"num_sentences", KW_INT, F(num_sentences), 0},
    [IFEVAL_KW_NUM_PARAGRAPHS] = {"num_paragraphs", KW_INT, F(num_paragraphs), 0},
    [IFEVAL_KW_NUM_HIGHLIGHTS] = {"num_highlights", KW_INT, F(num_highlights), 0},
    [IFEVAL_KW_NUM_BULLETS] = {"num_bullets", KW_INT, F(num_bullets), 0},
    [IFEVAL_KW_NUM_PLACEHOLDERS] = {"num_placeholders", KW_INT, F(num_placeholders), 0},
    [IFEVAL_KW_NUM_SECTIONS] = {"num_sections", KW_INT, F(num_sections), 0},
    [IFEVAL_KW_NTH_PARAGRAPH] = {"nth_paragraph", KW_INT, F(nth_paragraph), 0},
    [IFEVAL_KW_FREQUENCY] = {"frequency", KW_INT, F(frequency), 0},
    [IFEVAL_KW_LET_FREQUENCY] = {"let_frequency", KW_INT, F(let_frequency), 0},
    [IFEVAL_KW_CAPITAL_FREQUENCY] = {"capital_frequency", KW_INT, F(capital_frequency), 0},
    [IFEVAL_KW_RELATION] = {"relation", KW_REL, F(relation), 0},
    [IFEVAL_KW_LET_RELATION] = {"let_relation", KW_REL, F(let_relation), 0},
    [IFEVAL_KW_CAPITAL_RELATION] = {"capital_relation", KW_REL, F(capital_relation), 0},
    [IFEVAL_KW_KEYWORD] = {"keyword", KW_STR, F(keyword), 0},
    [IFEVAL_KW_LETTER] = {"letter", KW_STR, F(letter), 0},
    [IFEVAL_KW_LANGUAGE] = {"language", KW_STR, F(language), 0},
    [IFEVAL_KW_END_PHRASE] = {"end_phrase", KW_STR, F(end_phrase), 0},
    [IFEVAL_KW_POSTSCRIPT_MARKER] = {"postscript_marker", KW_STR, F(postscript_marker), 0},
    [IFEVAL_KW_PROMPT_TO_REPEAT] = {"prompt_to_repeat", KW_STR, F(prompt_to_repeat), 0},
    [IFEVAL_KW_FIRST_WORD] = {"first_word", KW_STR, F(first_word), 0},
    [IFEVAL_KW_SECTION_SPLITER] = {"section_spliter", KW_STR, F(section_spliter), 0},
    [IFEVAL_KW_KEYWORDS] = {"keywords", KW_LIST, F(keywords), F(n_keywords)},
    [IFEVAL_KW_FORBIDDEN_WORDS] = {"forbidden_words", KW_LIST, F(forbidden_words),
                                   F(n_forbidden_words)},
};

#undef F

/* Counts in the dataset are small; anything beyond this is a corrupt file. */
#define KW_INT_MAX 1000000000.0

const char *ifeval_kwarg_name(int k)
{
    return k >= 0 && k < IFEVAL_KW_COUNT ? kwdefs[k].name : NULL;
}

static int parse_value(const kwdef *d, const cJSON *v, const char *where, arena *a,
                       ifeval_kwargs *out, err *e)
{
    char *base = (char *)out;
    switch (d->type) {
    case KW_INT: {
        double x = v->valuedouble;
        if (!cJSON_IsNumber(v) || x != floor(x) || fabs(x) > KW_INT_MAX)
            return err_set(e, ERR_PARSE, "%s: \"%s\" is not an integer (got %s)", where, d->name,
                           json_type_name(v));
        *(long *)(base + d->off) = (long)x;
        return 0;
    }
    case KW_REL: {
        int rel = IFEVAL_REL_NONE;
        if (cJSON_IsString(v) && strcmp(v->valuestring, "less than") == 0)
            rel = IFEVAL_REL_LESS_THAN;
        else if (cJSON_IsString(v) && strcmp(v->valuestring, "at least") == 0)
            rel = IFEVAL_REL_AT_LEAST;
        else
            return err_set(e, ERR_PARSE, "%s: \"%s\" must be \"less than\" or \"at least\"", where,
                           d->name);
        *(int *)(base + d->off) = rel;
        return 0;
    }
    case KW_STR: {
        if (!cJSON_IsString(v))
            return err_set(e, ERR_PARSE, "%s: \"%s\" is not a string (got %s)", where, d->name,
                           json_type_name(v));
        const char *s = arena_strdup(a, v->valuestring);
        if (!s) return err_set(e, ERR_NOMEM, "out of memory");
        *(const char **)(base + d->off) = s;
        return 0;
    }
    case KW_LIST: {
        if (!cJSON_IsArray(v))
            return err_set(e, ERR_PARSE, "%s: \"%s\" is not a list (got %s)", where, d->name,
                           json_type_name(v));
        size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
        const char **list = arena_calloc(a, n ? n : 1, sizeof *list);
        if (!list) return err_set(e, ERR_NOMEM, "out of memory");
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it))
                return err_set(e, ERR_PARSE, "%s: \"%s\"[%zu] is not a string", where, d->name, i);
            if (!(list[i++] = arena_strdup(a, it->valuestring)))
                return err_set(e, ERR_NOMEM, "out of memory");
        }
        *(const char *const **)(base + d->off) = list;
        *(size_t *)(base + d->off_n) = n;
        return 0;
    }
    }
    return err_set(e, ERR_INTERNAL, "%s: kwarg table broken", where);
}

int ifeval_parse_kwargs(const cJSON *obj, const char *where, arena *a, ifeval_kwargs *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(obj))
        return err_set(e, ERR_PARSE, "%s: kwargs is not an object (got %s)", where,
                       json_type_name(obj));
    const cJSON *v;
    cJSON_ArrayForEach(v, obj)
    {
        int k = 0;
        while (k < IFEVAL_KW_COUNT && strcmp(kwdefs[k].name, v->string) != 0) k++;
        if (k == IFEVAL_KW_COUNT)
            return err_set(e, ERR_PARSE, "%s: unknown kwarg \"%.100s\"", where, v->string);
        if (cJSON_IsNull(v)) continue; /* the Hugging Face copy pads with nulls */
        if (out->present & (1u << k))
            return err_set(e, ERR_PARSE, "%s: kwarg \"%s\" given twice", where, v->string);
        int rc = parse_value(&kwdefs[k], v, where, a, out, e);
        if (rc < 0) return rc;
        out->present |= 1u << k;
    }
    return 0;
}

int ifeval_parse_line(const char *line, size_t n, const char *where, arena *a, ifeval_record *out,
                      err *e)
{
    cJSON *doc = NULL;
    memset(out, 0, sizeof *out);
    int rc = json_parse(line, n, where, &doc, e);
    if (rc < 0) return rc;
    const cJSON *ids, *kws;
    const char *prompt;
    int64_t key;
    char sub[1200];
    if (!cJSON_IsObject(doc)) {
        rc = err_set(e, ERR_PARSE, "%s: expected a JSON object", where);
        goto out;
    }
    if ((rc = json_get_int(doc, "key", where, INT32_MIN, INT32_MAX, &key, e)) < 0 ||
        (rc = json_get_str(doc, "prompt", where, &prompt, e)) < 0 ||
        (rc = json_get_array(doc, "instruction_id_list", where, &ids, e)) < 0 ||
        (rc = json_get_array(doc, "kwargs", where, &kws, e)) < 0)
        goto out;
    size_t ni = (size_t)cJSON_GetArraySize(ids);
    if (ni == 0) {
        rc = err_set(e, ERR_PARSE, "%s: \"instruction_id_list\" is empty", where);
        goto out;
    }
    if ((size_t)cJSON_GetArraySize(kws) != ni) {
        rc = err_set(e, ERR_PARSE, "%s: %zu instruction ids but %d kwargs objects", where, ni,
                     cJSON_GetArraySize(kws));
        goto out;
    }
    const char **idv = arena_calloc(a, ni, sizeof *idv);
    ifeval_kwargs *kwv = arena_calloc(a, ni, sizeof *kwv);
    out->prompt = arena_strdup(a, prompt);
    if (!idv || !kwv || !out->prompt) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ni; i++) {
        const cJSON *id = cJSON_GetArrayItem(ids, (int)i);
        if (!cJSON_IsString(id) || !*id->valuestring) {
            rc = err_set(e, ERR_PARSE, "%s: \"instruction_id_list\"[%zu] is not a non-empty string",
                         where, i);
            goto out;
        }
        if (!(idv[i] = arena_strdup(a, id->valuestring))) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(sub, sizeof sub, "%s: kwargs[%zu]", where, i);
        if ((rc = ifeval_parse_kwargs(cJSON_GetArrayItem(kws, (int)i), sub, a, &kwv[i], e)) < 0)
            goto out;
    }
    out->key = (long)key;
    out->n = ni;
    out->ids = idv;
    out->kwargs = kwv;
out:
    cJSON_Delete(doc);
    return rc;
}

int ifeval_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e)
{
    (void)arg;
    memset(out, 0, sizeof *out);
    const char *path;
    buf data = BUF_INIT;
    strmap seen = STRMAP_INIT;
    item *items = NULL;
    size_t n = 0, cap = 0;
    int rc = datasets_locate(o ? o->data_dir : NULL, IFEVAL_FILE, a, &path, e);
    if (rc < 0) goto out;
    buf_init(&data, 64u << 20);
    if ((rc = file_read_all(path, &data, e)) < 0) goto out;
    char hex[HASH_HEX_SIZE];
    if (sha256_hex(data.data, data.len, hex) < 0) {
        rc = err_set(e, ERR_INTERNAL, "%s: sha256 failed", path);
        goto out;
    }
    line_iter it = line_iter_start(data.data, data.len);
    const char *line;
    size_t len;
    char where[1100];
    while (line_iter_next(&it, &line, &len)) {
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
        if (k == len) continue;
        snprintf(where, sizeof where, "%s:%zu", path, it.lineno);
        ifeval_record *r = arena_alloc(a, sizeof *r);
        if (!r) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((rc = ifeval_parse_line(line, len, where, a, r, e)) < 0) goto out;
        char *id = arena_printf(a, "%ld", r->key);
        if (!id) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        int added = strmap_add(&seen, id, strlen(id), n);
        if (added < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (added == 0) {
            rc = err_set(e, ERR_PARSE, "%s: key %s appears twice", where, id);
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            item *ni = arena_calloc(a, nc, sizeof *ni);
            if (!ni) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            if (n) memcpy(ni, items, n * sizeof *ni);
            items = ni;
            cap = nc;
        }
        items[n] = (item){id, n, r};
        n++;
    }
    if (!n) {
        rc = err_set(e, ERR_PARSE, "%s: no prompts", path);
        goto out;
    }
    out->items = items;
    out->n = n;
    out->path = path;
    out->sha256 = arena_strdup(a, hex);
    if (!out->sha256) rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    buf_release(&data);
    strmap_release(&seen);
    return rc;
}

int ifeval_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
                 err *e)
{
    (void)arg;
    memset(out, 0, sizeof *out);
    const ifeval_record *r = it ? it->data : NULL;
    if (!r || !r->prompt) return err_set(e, ERR_INVALID, "ifeval_build: no record");
    if (o && o->chat) {
        chat_message *m = arena_calloc(a, 1, sizeof *m);
        if (!m) return err_set(e, ERR_NOMEM, "out of memory");
        m->role = "user";
        m->content = r->prompt;
        out->messages = m;
        out->n_messages = 1;
    } else {
        out->text = r->prompt;
    }
    out->max_tokens = IFEVAL_MAX_TOKENS;
    out->alt_key = r->prompt;
    return 0;
}
