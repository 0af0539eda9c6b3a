/* bfcl.c: BFCL V4 loader, prompt builder (prompt and native tool modes) and oracle answers. */
#include "bfcl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/hash.h"

/* ================================================================== */
/* categories                                                          */
/* ================================================================== */

/* To add a category: a row here (in BFCL's order); the scorer dispatches on `kind`. */
static const bfcl_category categories[] = {
    {"simple_python", "simple_python", BFCL_AST_SIMPLE, BFCL_PYTHON, false, true},
    {"simple_java", "simple_java", BFCL_AST_SIMPLE, BFCL_JAVA, false, true},
    {"simple_javascript", "simple_javascript", BFCL_AST_SIMPLE, BFCL_JAVASCRIPT, false, true},
    {"multiple", "multiple", BFCL_AST_MULTIPLE, BFCL_PYTHON, false, true},
    {"parallel", "parallel", BFCL_AST_PARALLEL, BFCL_PYTHON, false, true},
    {"parallel_multiple", "parallel_multiple", BFCL_AST_PARALLEL, BFCL_PYTHON, false, true},
    {"irrelevance", "non_live_irrelevance", BFCL_IRRELEVANCE, BFCL_PYTHON, false, true},
    {"live_simple", "live_simple", BFCL_AST_SIMPLE, BFCL_PYTHON, true, true},
    {"live_multiple", "live_multiple", BFCL_AST_MULTIPLE, BFCL_PYTHON, true, true},
    {"live_parallel", "live_parallel", BFCL_AST_PARALLEL, BFCL_PYTHON, true, true},
    {"live_parallel_multiple", "live_parallel_multiple", BFCL_AST_PARALLEL, BFCL_PYTHON, true,
     true},
    {"live_irrelevance", "live_irrelevance", BFCL_IRRELEVANCE, BFCL_PYTHON, true, true},
    {"live_relevance", "live_relevance", BFCL_RELEVANCE, BFCL_PYTHON, true, true},
    {"multi_turn_base", "multi_turn_base", BFCL_MULTI_TURN, BFCL_PYTHON, false, false},
    {"multi_turn_miss_func", "multi_turn_miss_func", BFCL_MULTI_TURN, BFCL_PYTHON, false, false},
    {"multi_turn_miss_param", "multi_turn_miss_param", BFCL_MULTI_TURN, BFCL_PYTHON, false, false},
    {"multi_turn_long_context", "multi_turn_long_context", BFCL_MULTI_TURN, BFCL_PYTHON, false,
     false},
};

const bfcl_category *bfcl_category_at(size_t i)
{
    return i < sizeof categories / sizeof categories[0] ? &categories[i] : NULL;
}

const bfcl_category *bfcl_category_find(const char *name)
{
    for (size_t i = 0; bfcl_category_at(i); i++)
        if (strcmp(categories[i].name, name) == 0) return &categories[i];
    return NULL;
}

int bfcl_tool_mode(const task_options *o, bool *native, err *e)
{
    const char *m = o && o->tool_mode ? o->tool_mode : "prompt";
    if (strcmp(m, "prompt") == 0)
        *native = false;
    else if (strcmp(m, "native") == 0)
        *native = true;
    else
        return err_set(e, ERR_INVALID, "--tool-mode must be \"prompt\" or \"native\" (got \"%s\")",
                       m);
    return 0;
}

/* ================================================================== */
/* loading                                                             */
/* ================================================================== */

#define BFCL_MAX_FILE (256u << 20)

/* Multi-turn API classes and their doc files (SCORING.md 4.6, PROVENANCE.md). */
static const struct {
    const char *cls, *file;
} mt_classes[] = {
    {"GorillaFileSystem", "gorilla_file_system"},
    {"MathAPI", "math_api"},
    {"MessageAPI", "message_api"},
    {"TwitterAPI", "posting_api"},
    {"TicketAPI", "ticket_api"},
    {"TradingBot", "trading_bot"},
    {"TravelAPI", "travel_booking"},
    {"VehicleControlAPI", "vehicle_control"},
};

typedef struct loader {
    const char *data_dir;
    arena *a;
    err *e;
    hash_ctx digest; /* sha256 over "<sha256>  <file>\n" of every file read */
    item *items;
    size_t n, cap;
    pyval *mt_docs[sizeof mt_classes / sizeof mt_classes[0]]; /* lists, loaded on demand */
} loader;

/* Reads a JSON Lines file into a list of values (one per non-blank line). */
static int read_jsonl(loader *L, const char *rel, const char **path_out, pyval ***rows_out,
                      size_t **lines_out, size_t *n_out)
{
    const char *path;
    buf b = BUF_INIT;
    pyval **rows = NULL;
    size_t *lines = NULL, n = 0, cap = 0;
    int rc = datasets_locate(L->data_dir, rel, L->a, &path, L->e);
    if (rc < 0) return rc;
    buf_init(&b, BFCL_MAX_FILE);
    if ((rc = file_read_all(path, &b, L->e)) < 0) goto out;
    char hex[HASH_HEX_SIZE];
    if ((rc = sha256_hex(b.data, b.len, hex)) < 0) {
        rc = err_set(L->e, rc, "%s: cannot hash", path);
        goto out;
    }
    if (hash_update(&L->digest, hex, 64) < 0 || hash_update(&L->digest, "  ", 2) < 0 ||
        hash_update(&L->digest, rel, strlen(rel)) < 0 || hash_update(&L->digest, "\n", 1) < 0) {
        rc = err_set(L->e, ERR_NOMEM, "out of memory");
        goto out;
    }
    line_iter it = line_iter_start(b.data, b.len);
    const char *line;
    size_t len;
    while (line_iter_next(&it, &line, &len)) {
        size_t k = len;
        while (k && (line[k - 1] == '\r' || line[k - 1] == ' ' || line[k - 1] == '\t')) k--;
        if (k == 0) continue;
        pyval *v;
        err sub = ERR_INIT;
        if (pyval_parse_json(line, k, L->a, &v, &sub) < 0) {
            rc = err_set(L->e, sub.code == ERR_NOMEM ? ERR_NOMEM : ERR_PARSE, "%s:%zu: %s", path,
                         it.lineno, sub.msg);
            goto out;
        }
        if (v->kind != PYV_DICT) {
            rc = err_set(L->e, ERR_PARSE, "%s:%zu: expected a JSON object, got %s", path, it.lineno,
                         pyval_type_name(v));
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            pyval **nr = arena_calloc(L->a, cap, sizeof *nr);
            size_t *nl = arena_calloc(L->a, cap, sizeof *nl);
            if (!nr || !nl) {
                rc = err_set(L->e, ERR_NOMEM, "out of memory");
                goto out;
            }
            if (n) {
                memcpy(nr, rows, n * sizeof *nr);
                memcpy(nl, lines, n * sizeof *nl);
            }
            rows = nr;
            lines = nl;
        }
        rows[n] = v;
        lines[n] = it.lineno;
        n++;
    }
    *path_out = path;
    *rows_out = rows;
    *lines_out = lines;
    *n_out = n;
out:
    buf_release(&b);
    return rc;
}

static const char *str_field(const pyval *obj, const char *key)
{
    const pyval *v = pyval_dict_get(obj, key);
    return v && v->kind == PYV_STR ? v->u.s.p : NULL;
}

/* Checks a function doc enough for the builder and the checker to rely on it. */
static int check_doc(loader *L, const char *path, size_t line, const pyval *fn)
{
    if (fn->kind != PYV_DICT || !str_field(fn, "name"))
        return err_set(L->e, ERR_PARSE, "%s:%zu: a function doc has no \"name\"", path, line);
    const pyval *params = pyval_dict_get(fn, "parameters");
    if (!params || params->kind != PYV_DICT)
        return err_set(L->e, ERR_PARSE, "%s:%zu: function \"%s\" has no \"parameters\" object",
                       path, line, str_field(fn, "name"));
    const pyval *props = pyval_dict_get(params, "properties");
    if (props && props->kind != PYV_DICT)
        return err_set(L->e, ERR_PARSE, "%s:%zu: \"properties\" of \"%s\" is not an object", path,
                       line, str_field(fn, "name"));
    const pyval *req = pyval_dict_get(params, "required");
    if (req && req->kind != PYV_LIST)
        return err_set(L->e, ERR_PARSE, "%s:%zu: \"required\" of \"%s\" is not a list", path, line,
                       str_field(fn, "name"));
    for (size_t i = 0; props && i < props->u.dict.n; i++) {
        const pyval *p = props->u.dict.vals[i];
        if (p->kind != PYV_DICT)
            return err_set(L->e, ERR_PARSE, "%s:%zu: parameter doc of \"%s\" is not an object",
                           path, line, str_field(fn, "name"));
    }
    return 0;
}

static int check_messages(loader *L, const char *path, size_t line, const pyval *msgs)
{
    if (msgs->kind != PYV_LIST)
        return err_set(L->e, ERR_PARSE, "%s:%zu: a turn of \"question\" is not a list", path, line);
    for (size_t i = 0; i < msgs->u.seq.n; i++) {
        const pyval *m = msgs->u.seq.items[i];
        if (m->kind != PYV_DICT || !str_field(m, "role") || !str_field(m, "content"))
            return err_set(L->e, ERR_PARSE,
                           "%s:%zu: message %zu needs string \"role\" and \"content\"", path, line,
                           i + 1);
    }
    return 0;
}

static int push_item(loader *L, const char *id, bfcl_item *bi)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 1024;
        item *ni = arena_calloc(L->a, cap, sizeof *ni);
        if (!ni) return err_set(L->e, ERR_NOMEM, "out of memory");
        if (L->n) memcpy(ni, L->items, L->n * sizeof *ni);
        L->items = ni;
        L->cap = cap;
    }
    item *it = &L->items[L->n];
    it->id = id;
    it->index = L->n;
    it->data = bi;
    L->n++;
    return 0;
}

/* The docs of a multi-turn API class (a list). */
static int mt_docs(loader *L, const char *cls, pyval **out)
{
    for (size_t i = 0; i < sizeof mt_classes / sizeof mt_classes[0]; i++) {
        if (strcmp(mt_classes[i].cls, cls) != 0) continue;
        if (!L->mt_docs[i]) {
            char rel[128];
            snprintf(rel, sizeof rel, "bfcl/multi_turn_func_doc/%s.json", mt_classes[i].file);
            const char *path;
            pyval **rows;
            size_t *lines, n;
            int rc = read_jsonl(L, rel, &path, &rows, &lines, &n);
            if (rc < 0) return rc;
            for (size_t k = 0; k < n; k++)
                if ((rc = check_doc(L, path, lines[k], rows[k])) < 0) return rc;
            if (!(L->mt_docs[i] = pyval_list(L->a, rows, n)))
                return err_set(L->e, ERR_NOMEM, "out of memory");
        }
        *out = L->mt_docs[i];
        return 0;
    }
    return err_set(L->e, ERR_PARSE, "unknown multi-turn API class \"%s\"", cls);
}

/* Multi-turn: the docs of the involved classes minus excluded and (initially) missed functions. */
static int mt_functions(loader *L, const char *path, size_t line, const pyval *q, pyval **out)
{
    const pyval *classes = pyval_dict_get(q, "involved_classes");
    const pyval *excluded = pyval_dict_get(q, "excluded_function");
    const pyval *missed = pyval_dict_get(q, "missed_function");
    if (!classes || classes->kind != PYV_LIST)
        return err_set(L->e, ERR_PARSE, "%s:%zu: \"involved_classes\" is missing", path, line);
    size_t cap = 0;
    for (size_t i = 0; i < classes->u.seq.n; i++) {
        pyval *docs;
        if (classes->u.seq.items[i]->kind != PYV_STR)
            return err_set(L->e, ERR_PARSE, "%s:%zu: a class name is not a string", path, line);
        int rc = mt_docs(L, classes->u.seq.items[i]->u.s.p, &docs);
        if (rc < 0) return err_prefix(L->e, "%s:%zu", path, line);
        cap += docs->u.seq.n;
    }
    pyval **fns = cap ? arena_calloc(L->a, cap, sizeof *fns) : NULL;
    if (cap && !fns) return err_set(L->e, ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < classes->u.seq.n; i++) {
        pyval *docs;
        mt_docs(L, classes->u.seq.items[i]->u.s.p, &docs);
        for (size_t k = 0; k < docs->u.seq.n; k++) {
            pyval *fn = docs->u.seq.items[k];
            pyval *name = pyval_dict_get(fn, "name");
            bool skip = excluded && pyval_in(name, excluded);
            for (size_t m = 0; missed && missed->kind == PYV_DICT && m < missed->u.dict.n; m++)
                skip |= pyval_in(name, missed->u.dict.vals[m]);
            if (!skip) fns[n++] = fn;
        }
    }
    *out = pyval_list(L->a, fns, n);
    return *out ? 0 : err_set(L->e, ERR_NOMEM, "out of memory");
}

static int load_category(loader *L, const bfcl_category *cat)
{
    char rel[160];
    const char *qpath, *apath = NULL;
    pyval **qrows, **arows = NULL;
    size_t *qlines, *alines = NULL, nq, na = 0;
    snprintf(rel, sizeof rel, "bfcl/BFCL_v4_%s.json", cat->name);
    int rc = read_jsonl(L, rel, &qpath, &qrows, &qlines, &nq);
    if (rc < 0) return rc;
    bool has_answers = cat->kind != BFCL_IRRELEVANCE && cat->kind != BFCL_RELEVANCE;
    if (has_answers) {
        snprintf(rel, sizeof rel, "bfcl/possible_answer/BFCL_v4_%s.json", cat->name);
        if ((rc = read_jsonl(L, rel, &apath, &arows, &alines, &na)) < 0) return rc;
        if (na != nq)
            return err_set(L->e, ERR_PARSE, "%s: %zu possible answers for %zu questions in %s",
                           apath, na, nq, qpath);
    }
    for (size_t i = 0; i < nq; i++) {
        const pyval *q = qrows[i];
        size_t line = qlines[i];
        const char *id = str_field(q, "id");
        if (!id)
            return err_set(L->e, ERR_PARSE, "%s:%zu: \"id\" is missing or not a string", qpath,
                           line);
        const pyval *question = pyval_dict_get(q, "question");
        if (!question || question->kind != PYV_LIST || question->u.seq.n == 0)
            return err_set(L->e, ERR_PARSE,
                           "%s:%zu: \"question\" must be a non-empty list of turns", qpath, line);
        if ((rc = check_messages(L, qpath, line, question->u.seq.items[0])) < 0) return rc;
        bfcl_item *bi = arena_alloc(L->a, sizeof *bi);
        if (!bi) return err_set(L->e, ERR_NOMEM, "out of memory");
        bi->cat = cat;
        bi->line = line;
        bi->messages = question->u.seq.items[0];
        if (cat->kind == BFCL_MULTI_TURN) {
            if ((rc = mt_functions(L, qpath, line, q, &bi->functions)) < 0) return rc;
        } else {
            pyval *fns = pyval_dict_get(q, "function");
            if (!fns || fns->kind != PYV_LIST)
                return err_set(L->e, ERR_PARSE, "%s:%zu: \"function\" must be a list", qpath, line);
            for (size_t k = 0; k < fns->u.seq.n; k++)
                if ((rc = check_doc(L, qpath, line, fns->u.seq.items[k])) < 0) return rc;
            bi->functions = fns;
        }
        if (has_answers) {
            const pyval *ar = arows[i];
            const char *aid = str_field(ar, "id");
            if (!aid || strcmp(aid, id) != 0)
                return err_set(L->e, ERR_PARSE,
                               "%s:%zu: possible answer id \"%s\" does not match "
                               "question id \"%s\" (%s:%zu)",
                               apath, alines[i], aid ? aid : "?", id, qpath, line);
            pyval *gt = pyval_dict_get(ar, "ground_truth");
            if (!gt || gt->kind != PYV_LIST)
                return err_set(L->e, ERR_PARSE, "%s:%zu: \"ground_truth\" must be a list", apath,
                               alines[i]);
            if (cat->kind != BFCL_MULTI_TURN) {
                for (size_t k = 0; k < gt->u.seq.n; k++) {
                    const pyval *g = gt->u.seq.items[k];
                    if (g->kind != PYV_DICT || g->u.dict.n != 1 ||
                        g->u.dict.keys[0]->kind != PYV_STR || g->u.dict.vals[0]->kind != PYV_DICT)
                        return err_set(L->e, ERR_PARSE,
                                       "%s:%zu: ground_truth[%zu] is not {function: {param: "
                                       "[values]}}",
                                       apath, alines[i], k);
                }
            }
            bi->answer = gt;
        }
        if ((rc = push_item(L, id, bi)) < 0) return rc;
    }
    return 0;
}

int bfcl_load(const task_options *o, const char *arg, arena *a, item_set *out, err *e)
{
    memset(out, 0, sizeof *out);
    const bfcl_category *only = NULL;
    if (arg && *arg) {
        only = bfcl_category_find(arg);
        if (!only) return err_set(e, ERR_NOTFOUND, "bfcl: no category \"%s\"", arg);
    }
    loader L;
    memset(&L, 0, sizeof L);
    L.data_dir = o ? o->data_dir : NULL;
    L.a = a;
    L.e = e;
    if (hash_init(&L.digest) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; bfcl_category_at(i) && rc == 0; i++) {
        const bfcl_category *cat = bfcl_category_at(i);
        if (only ? cat != only : !cat->in_all) continue;
        rc = load_category(&L, cat);
    }
    char hex[HASH_HEX_SIZE];
    if (rc < 0) {
        hash_release(&L.digest);
        return rc;
    }
    if (hash_final_hex(&L.digest, hex) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    out->items = L.items;
    out->n = L.n;
    const char *p;
    char rel[160];
    if (only)
        snprintf(rel, sizeof rel, "bfcl/BFCL_v4_%s.json", only->name);
    else
        snprintf(rel, sizeof rel, "bfcl");
    if (only) {
        if ((rc = datasets_locate(L.data_dir, rel, a, &p, e)) < 0) return rc;
    } else {
        p = arena_printf(a, "%s%sbfcl", L.data_dir,
                         L.data_dir[strlen(L.data_dir) - 1] == '/' ? "" : "/");
    }
    out->path = p;
    out->sha256 = arena_strdup(a, hex);
    if (!out->path || !out->sha256) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

/* ================================================================== */
/* function docs as the model sees them                                */
/* ================================================================== */

/* A shallow copy of a dict (keys and values shared). */
static pyval *dict_copy(arena *a, const pyval *d)
{
    pyval *c = pyval_dict(a);
    if (!c) return NULL;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (pyval_dict_set(a, c, d->u.dict.keys[i], d->u.dict.vals[i]) < 0) return NULL;
    return c;
}

static int dict_put(arena *a, pyval *d, const char *key, pyval *v)
{
    pyval *k = pyval_strz(a, key);
    if (!k || !v) return ERR_NOMEM;
    return pyval_dict_set(a, d, k, v);
}

/* A dict without `key` (order kept). */
static pyval *dict_without(arena *a, const pyval *d, const char *key)
{
    pyval *c = pyval_dict(a);
    if (!c) return NULL;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (!pyval_is_str(d->u.dict.keys[i], key) &&
            pyval_dict_set(a, c, d->u.dict.keys[i], d->u.dict.vals[i]) < 0)
            return NULL;
    return c;
}

static pyval *concat_str(arena *a, const pyval *base, const char *suffix)
{
    buf b = BUF_INIT;
    if (base && base->kind == PYV_STR) buf_append(&b, base->u.s.p, base->u.s.len);
    buf_puts(&b, suffix);
    pyval *v = pyval_str(a, b.data, b.len);
    buf_release(&b);
    return v;
}

static const char *lang_word(bfcl_lang lang)
{
    return lang == BFCL_JAVA ? "Java" : "JavaScript";
}

/* BFCL's language pre-processing: a hint on every description; Java and
 * JavaScript parameters become strings of source text with their type told
 * in the description. (The per-parameter sentences are our wording; BFCL's
 * exact text is not in SCORING.md.) */
static int preprocess_doc(arena *a, const pyval *fn, bfcl_lang lang, pyval **out)
{
    pyval *c = dict_copy(a, fn);
    if (!c) return ERR_NOMEM;
    const char *hint =
        lang == BFCL_JAVA         ? " Note that the provided function is in Java 8 SDK syntax."
        : lang == BFCL_JAVASCRIPT ? " Note that the provided function is in JavaScript syntax."
                                  : " Note that the provided function is in Python 3 syntax.";
    if (dict_put(a, c, "description", concat_str(a, pyval_dict_get(fn, "description"), hint)) < 0)
        return ERR_NOMEM;
    if (lang != BFCL_PYTHON) {
        const pyval *params = pyval_dict_get(fn, "parameters");
        const pyval *props = pyval_dict_get(params, "properties");
        pyval *np = dict_copy(a, params), *nprops = pyval_dict(a);
        if (!np || !nprops) return ERR_NOMEM;
        for (size_t i = 0; props && i < props->u.dict.n; i++) {
            const pyval *pd = props->u.dict.vals[i];
            pyval *q = dict_copy(a, pd);
            if (!q) return ERR_NOMEM;
            const char *t = str_field(pd, "type");
            buf note = BUF_INIT;
            if (!t || strcmp(t, "any") == 0)
                buf_printf(
                    &note,
                    " This parameter accepts any %s value, written as %s source text in a string.",
                    lang_word(lang), lang_word(lang));
            else
                buf_printf(
                    &note,
                    " This parameter has the %s type %s, written as %s source text in a string.",
                    lang_word(lang), t, lang_word(lang));
            bool arr =
                t && (lang == BFCL_JAVA ? (strcmp(t, "ArrayList") == 0 || strcmp(t, "Array") == 0)
                                        : strcmp(t, "array") == 0);
            const pyval *items = pyval_dict_get(pd, "items");
            if (arr && items) {
                const char *it = str_field(items, "type");
                buf_printf(&note, " Its elements have the type %s and are not strings themselves.",
                           it ? it : "any");
                if (!(q = dict_without(a, q, "items"))) return ERR_NOMEM;
            }
            const pyval *sub = pyval_dict_get(pd, "properties");
            if (lang == BFCL_JAVASCRIPT && t && strcmp(t, "dict") == 0 && sub) {
                buf sj = BUF_INIT;
                pyval_dump_json(&sj, sub, -1, true, PYVAL_JSON_LENIENT);
                buf_printf(&note,
                           " Its entries follow this schema and are not strings themselves: %s",
                           sj.data);
                buf_release(&sj);
                if (!(q = dict_without(a, q, "properties"))) return ERR_NOMEM;
            }
            pyval *desc = concat_str(a, pyval_dict_get(pd, "description"), note.data);
            buf_release(&note);
            if (dict_put(a, q, "description", desc) < 0 ||
                dict_put(a, q, "type", pyval_strz(a, "string")) < 0)
                return ERR_NOMEM;
            if (pyval_dict_set(a, nprops, props->u.dict.keys[i], q) < 0) return ERR_NOMEM;
        }
        if (dict_put(a, np, "properties", nprops) < 0 || dict_put(a, c, "parameters", np) < 0)
            return ERR_NOMEM;
    }
    *out = c;
    return 0;
}

static int preprocess_all(arena *a, const bfcl_item *bi, pyval **out)
{
    size_t n = bi->functions->u.seq.n;
    pyval **fns = n ? arena_calloc(a, n, sizeof *fns) : NULL;
    if (n && !fns) return ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = preprocess_doc(a, bi->functions->u.seq.items[i], bi->cat->lang, &fns[i]);
        if (rc < 0) return rc;
    }
    *out = pyval_list(a, fns, n);
    return *out ? 0 : ERR_NOMEM;
}

static const char system_prompt_head[] =
    "You are an expert in composing functions.You are given a question and a set of possible "
    "functions. Based on the question, you will need to make one or more function/tool calls to "
    "achieve the purpose. If none of the functions can be used, point it out. If the given "
    "question lacks the parameters required by the function, also point it out.\n\nYou should "
    "only return the function calls in your response.\n\nIf you decide to invoke any of the "
    "function(s), you MUST put it in the format of [func_name1(params_name1=params_value1, "
    "params_name2=params_value2...), func_name2(params)].  You SHOULD NOT include any other text "
    "in the response.\n\nAt each turn, you should try your best to complete the tasks requested "
    "by the user within the current turn. Continue to output functions to call until you have "
    "fulfilled the user's request to the best of your ability. Once you have no more functions to "
    "call, the system will consider the current turn complete and proceed to the next turn or "
    "task.\n\nHere is a list of functions in json format that you can invoke.\n";

int bfcl_system_prompt(const bfcl_item *bi, arena *a, const char **out, err *e)
{
    pyval *fns;
    if (preprocess_all(a, bi, &fns) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    buf b = BUF_INIT;
    int rc = buf_puts(&b, system_prompt_head);
    if (!rc) rc = pyval_dump_json(&b, fns, 4, true, PYVAL_JSON_LENIENT);
    if (!rc) rc = buf_putc(&b, '\n');
    if (!rc && !(*out = arena_memdup(a, b.data, b.len))) rc = ERR_NOMEM;
    buf_release(&b);
    return rc ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

/* BFCL's type names -> JSON Schema (OpenAI) type names; anything else is "string". */
static const struct {
    const char *from, *to;
} schema_types[] = {
    {"integer", "integer"},  {"number", "number"},   {"float", "number"}, {"string", "string"},
    {"boolean", "boolean"},  {"bool", "boolean"},    {"array", "array"},  {"list", "array"},
    {"dict", "object"},      {"object", "object"},   {"tuple", "array"},  {"any", "string"},
    {"byte", "integer"},     {"short", "integer"},   {"long", "integer"}, {"double", "number"},
    {"char", "string"},      {"ArrayList", "array"}, {"Array", "array"},  {"HashMap", "object"},
    {"Hashtable", "object"}, {"Queue", "array"},     {"Stack", "array"},  {"Any", "string"},
    {"String", "string"},    {"Bigint", "integer"},
};

static const char *schema_type(const char *t)
{
    for (size_t i = 0; t && i < sizeof schema_types / sizeof schema_types[0]; i++)
        if (strcmp(schema_types[i].from, t) == 0) return schema_types[i].to;
    return "string";
}

static int cast_props(arena *a, const pyval *props, pyval **out);

/* The item schema of an array: its type mapped, one more level of items or properties. */
static int cast_items(arena *a, const pyval *items, pyval **out)
{
    pyval *c = dict_copy(a, items);
    if (!c) return ERR_NOMEM;
    const char *t = schema_type(str_field(items, "type"));
    if (dict_put(a, c, "type", pyval_strz(a, t)) < 0) return ERR_NOMEM;
    const pyval *sub = pyval_dict_get(items, "items");
    const pyval *props = pyval_dict_get(items, "properties");
    if (strcmp(t, "array") == 0 && sub && sub->kind == PYV_DICT) {
        pyval *s2 = dict_copy(a, sub);
        if (!s2 ||
            dict_put(a, s2, "type", pyval_strz(a, schema_type(str_field(sub, "type")))) < 0 ||
            dict_put(a, c, "items", s2) < 0)
            return ERR_NOMEM;
    } else if (strcmp(t, "object") == 0 && props && props->kind == PYV_DICT) {
        pyval *np;
        if (cast_props(a, props, &np) < 0 || dict_put(a, c, "properties", np) < 0) return ERR_NOMEM;
    }
    *out = c;
    return 0;
}

/* BFCL's conversion of a properties object to JSON Schema types. */
static int cast_props(arena *a, const pyval *props, pyval **out)
{
    pyval *np = pyval_dict(a);
    if (!np) return ERR_NOMEM;
    for (size_t i = 0; i < props->u.dict.n; i++) {
        const pyval *pd = props->u.dict.vals[i];
        if (pd->kind != PYV_DICT) {
            if (pyval_dict_set(a, np, props->u.dict.keys[i], props->u.dict.vals[i]) < 0)
                return ERR_NOMEM;
            continue;
        }
        pyval *q = dict_copy(a, pd);
        if (!q) return ERR_NOMEM;
        const char *from = str_field(pd, "type");
        const char *t = schema_type(from);
        if (dict_put(a, q, "type", pyval_strz(a, t)) < 0) return ERR_NOMEM;
        if (from && strcmp(from, "float") == 0 &&
            dict_put(a, q, "format", pyval_strz(a, "float")) < 0)
            return ERR_NOMEM;
        if (strcmp(t, "array") == 0 || strcmp(t, "object") == 0) {
            const pyval *sub = pyval_dict_get(pd, "properties");
            const pyval *items = pyval_dict_get(pd, "items");
            if (sub && sub->kind == PYV_DICT) {
                pyval *s2;
                if (cast_props(a, sub, &s2) < 0 || dict_put(a, q, "properties", s2) < 0)
                    return ERR_NOMEM;
            } else if (items && items->kind == PYV_DICT) {
                pyval *i2;
                if (cast_items(a, items, &i2) < 0 || dict_put(a, q, "items", i2) < 0)
                    return ERR_NOMEM;
            }
        }
        if (pyval_dict_set(a, np, props->u.dict.keys[i], q) < 0) return ERR_NOMEM;
    }
    *out = np;
    return 0;
}

/* name with every '.' replaced by '_' (OpenAI tool names allow [a-zA-Z0-9_-]). */
static pyval *underscored(arena *a, const pyval *name)
{
    pyval *v = pyval_str(a, name->u.s.p, name->u.s.len);
    if (!v) return NULL;
    for (char *p = (char *)v->u.s.p; *p; p++)
        if (*p == '.') *p = '_';
    return v;
}

int bfcl_tools_json(const bfcl_item *bi, arena *a, const char **out, err *e)
{
    pyval *fns;
    if (preprocess_all(a, bi, &fns) < 0) return err_set(e, ERR_NOMEM, "out of memory");
    pyval **tools = fns->u.seq.n ? arena_calloc(a, fns->u.seq.n, sizeof *tools) : NULL;
    if (fns->u.seq.n && !tools) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < fns->u.seq.n; i++) {
        pyval *f = fns->u.seq.items[i], *nf = pyval_dict(a), *tool = pyval_dict(a);
        if (!nf || !tool) return err_set(e, ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < f->u.dict.n; k++) {
            pyval *key = f->u.dict.keys[k], *val = f->u.dict.vals[k];
            if (pyval_is_str(key, "name")) {
                val = underscored(a, val);
            } else if (pyval_is_str(key, "parameters")) {
                pyval *p = dict_copy(a, val);
                const pyval *props = pyval_dict_get(val, "properties");
                pyval *np = NULL;
                if (!p || dict_put(a, p, "type", pyval_strz(a, "object")) < 0 ||
                    (props &&
                     (cast_props(a, props, &np) < 0 || dict_put(a, p, "properties", np) < 0)))
                    return err_set(e, ERR_NOMEM, "out of memory");
                val = p;
            } else if (pyval_is_str(key, "response")) {
                continue; /* multi-turn docs describe their result; not part of a tool */
            }
            if (!val || pyval_dict_set(a, nf, key, val) < 0)
                return err_set(e, ERR_NOMEM, "out of memory");
        }
        if (dict_put(a, tool, "type", pyval_strz(a, "function")) < 0 ||
            dict_put(a, tool, "function", nf) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
        tools[i] = tool;
    }
    pyval *list = pyval_list(a, tools, fns->u.seq.n);
    buf b = BUF_INIT;
    int rc = list ? pyval_dump_json(&b, list, -1, false, PYVAL_JSON_LENIENT) : ERR_NOMEM;
    if (!rc && !(*out = arena_memdup(a, b.data, b.len))) rc = ERR_NOMEM;
    buf_release(&b);
    return rc ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

/* ================================================================== */
/* the oracle: each possible answer as the call it describes            */
/* ================================================================== */

const pyval *bfcl_param_doc(const pyval *fn, const pyval *param)
{
    const pyval *params = pyval_dict_get(fn, "parameters");
    const pyval *props = pyval_dict_get(params, "properties");
    return pyval_dict_lookup(props, param);
}

static const pyval *find_doc(const bfcl_item *bi, const pyval *name)
{
    for (size_t i = 0; i < bi->functions->u.seq.n; i++) {
        const pyval *fn = bi->functions->u.seq.items[i];
        if (pyval_eq(pyval_dict_get(fn, "name"), name)) return fn;
    }
    return NULL;
}

static bool is_required(const pyval *fn, const pyval *param)
{
    const pyval *params = pyval_dict_get(fn, "parameters");
    return pyval_in(param, pyval_dict_get(params, "required"));
}

static bool is_empty_str(const pyval *v)
{
    return v->kind == PYV_STR && v->u.s.len == 0;
}

static bool has_empty_alt(const pyval *alts)
{
    if (alts->kind != PYV_LIST) return false;
    for (size_t i = 0; i < alts->u.seq.n; i++)
        if (is_empty_str(alts->u.seq.items[i])) return true;
    return false;
}

/* The alternatives as the checker iterates them: list items, or the
 * characters of a str (BFCL iterates a str where it expects a list). */
static size_t alt_count(const pyval *alts)
{
    if (alts->kind == PYV_LIST || alts->kind == PYV_TUPLE) return alts->u.seq.n;
    if (alts->kind == PYV_STR) {
        size_t n = 0, adv;
        for (size_t i = 0; i < alts->u.s.len; i += adv) {
            pyval_utf8_next(alts->u.s.p + i, alts->u.s.len - i, &adv);
            n++;
        }
        return n;
    }
    return 0;
}

static pyval *alt_at(arena *a, const pyval *alts, size_t k)
{
    if (alts->kind == PYV_LIST || alts->kind == PYV_TUPLE) return alts->u.seq.items[k];
    size_t i = 0, adv = 0;
    for (size_t m = 0; m <= k; m++) {
        i += adv;
        pyval_utf8_next(alts->u.s.p + i, alts->u.s.len - i, &adv);
    }
    return pyval_str(a, alts->u.s.p + i, adv);
}

/* A possible-answer dict {key: [alternatives]} made concrete: the first
 * alternative of every key, keys whose first alternative is "" left out. */
static pyval *first_of_alt_dict(arena *a, const pyval *d)
{
    pyval *c = pyval_dict(a);
    if (!c) return NULL;
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const pyval *alts = d->u.dict.vals[i];
        pyval *v = alt_count(alts) ? alt_at(a, alts, 0) : (pyval *)alts;
        if (!v) return NULL;
        if (alt_count(alts) && is_empty_str(v)) continue;
        if (pyval_dict_set(a, c, d->u.dict.keys[i], v) < 0) return NULL;
    }
    return c;
}

static bool dict_typed(bfcl_lang lang, const char *t)
{
    if (!t) return false;
    if (lang == BFCL_JAVA) return strcmp(t, "HashMap") == 0 || strcmp(t, "Hashtable") == 0;
    return strcmp(t, "dict") == 0;
}

static bool list_typed(bfcl_lang lang, const char *t)
{
    if (!t) return false;
    if (lang == BFCL_JAVA) return strcmp(t, "Array") == 0 || strcmp(t, "ArrayList") == 0;
    return strcmp(t, "array") == 0 || (lang == BFCL_PYTHON && strcmp(t, "tuple") == 0);
}

/* The oracle's value for one parameter, or NULL with *omit when it is left out. */
static pyval *pick_value(arena *a, bfcl_lang lang, const pyval *fn, const pyval *param,
                         const pyval *alts, bool *omit)
{
    *omit = false;
    size_t n = alt_count(alts);
    if (n == 0) return (pyval *)alts;
    pyval *v = alt_at(a, alts, 0);
    if (v && is_empty_str(v)) {
        if (!is_required(fn, param)) {
            *omit = true;
            return NULL;
        }
        for (size_t k = 1; k < n; k++) {
            pyval *w = alt_at(a, alts, k);
            if (w && !is_empty_str(w)) {
                v = w;
                break;
            }
        }
    }
    if (!v) return NULL;
    const pyval *pd = bfcl_param_doc(fn, param);
    const char *t = str_field(pd, "type");
    const pyval *items = pyval_dict_get(pd, "items");
    const char *it = str_field(items, "type");
    if (dict_typed(lang, t) && v->kind == PYV_DICT) return first_of_alt_dict(a, v);
    if (list_typed(lang, t) && it && strcmp(it, "dict") == 0 && v->kind == PYV_LIST) {
        pyval **elts = v->u.seq.n ? arena_calloc(a, v->u.seq.n, sizeof *elts) : NULL;
        for (size_t k = 0; k < v->u.seq.n; k++) {
            pyval *x = v->u.seq.items[k];
            elts[k] = x->kind == PYV_DICT ? first_of_alt_dict(a, x) : x;
        }
        return pyval_list(a, elts, v->u.seq.n);
    }
    return v;
}

/* ---- Java / JavaScript source text for a value (what the converters read back) ---- */

static int put_str_of(buf *o, const pyval *v)
{
    return pyval_str_of(o, v);
}

static int put_float_fixed(buf *o, double d)
{
    /* JavaScript's float pattern has no exponent: spell the digits out */
    buf t = BUF_INIT;
    int rc = pyval_float_repr(&t, d);
    if (!rc && strchr(t.data, 'e')) {
        char tmp[400];
        for (int prec = 1; prec < 340; prec++) {
            snprintf(tmp, sizeof tmp, "%.*f", prec, d);
            if (strtod(tmp, NULL) == d) break;
        }
        rc = buf_puts(o, tmp);
    } else if (!rc) {
        rc = buf_puts(o, t.data);
    }
    buf_release(&t);
    return rc;
}

static const char *java_elem_type(const char *it, bool boxed)
{
    static const struct {
        const char *t, *prim, *box;
    } m[] = {
        {"String", "String", "String"}, {"integer", "int", "Integer"},
        {"long", "long", "Long"},       {"double", "double", "Double"},
        {"float", "float", "Float"},    {"boolean", "boolean", "Boolean"},
        {"char", "char", "Character"},  {"byte", "byte", "Byte"},
        {"short", "short", "Short"},
    };
    for (size_t i = 0; it && i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i].t, it) == 0) return boxed ? m[i].box : m[i].prim;
    return "Object";
}

static int java_scalar(buf *o, const char *t, const pyval *v);

/* parse_java_value's reading of a HashMap value: strings quoted, the rest by shape. */
static int java_shape(buf *o, const pyval *v)
{
    switch (v->kind) {
    case PYV_STR:
        return buf_printf(o, "\"%s\"", v->u.s.p);
    case PYV_BOOL:
        return buf_puts(o, v->u.b ? "true" : "false");
    default:
        return put_str_of(o, v);
    }
}

static int java_scalar(buf *o, const char *t, const pyval *v)
{
    if (!t) t = "any";
    if (v->kind == PYV_BOOL && strcmp(t, "boolean") == 0)
        return buf_puts(o, v->u.b ? "true" : "false");
    if (v->kind == PYV_INT && strcmp(t, "long") == 0) {
        int rc = put_str_of(o, v);
        return rc ? rc : buf_putc(o, 'L');
    }
    if ((v->kind == PYV_INT || v->kind == PYV_FLOAT) && strcmp(t, "float") == 0) {
        int rc = put_str_of(o, v);
        return rc ? rc : buf_putc(o, 'f');
    }
    return put_str_of(o, v);
}

static int java_text(buf *o, const char *t, const pyval *items, const pyval *v)
{
    const char *it = str_field(items, "type");
    int rc = 0;
    if (t && strcmp(t, "Array") == 0 && v->kind == PYV_LIST) {
        rc = buf_printf(o, "new %s[] {", java_elem_type(it, false));
        for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(o, ", ");
            if (!rc) rc = java_scalar(o, it, v->u.seq.items[i]);
        }
        return rc ? rc : buf_putc(o, '}');
    }
    if (t && strcmp(t, "ArrayList") == 0 && v->kind == PYV_LIST) {
        rc = buf_printf(o, "new ArrayList<%s>(Arrays.asList(", java_elem_type(it, true));
        for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(o, ", ");
            const pyval *x = v->u.seq.items[i];
            bool quoted = it && (strcmp(it, "String") == 0 || strcmp(it, "char") == 0);
            if (!rc)
                rc = quoted ? buf_printf(o, "\"%s\"", x->kind == PYV_STR ? x->u.s.p : "")
                            : java_scalar(o, it, x);
        }
        return rc ? rc : buf_puts(o, "))");
    }
    if (t && strcmp(t, "HashMap") == 0 && v->kind == PYV_DICT) {
        rc = buf_puts(o, "new HashMap<String, Object>()");
        if (v->u.dict.n) rc = rc ? rc : buf_puts(o, " {{");
        for (size_t i = 0; i < v->u.dict.n && !rc; i++) {
            rc = buf_puts(o, " put(\"");
            if (!rc) rc = put_str_of(o, v->u.dict.keys[i]);
            if (!rc) rc = buf_puts(o, "\", ");
            if (!rc) rc = java_shape(o, v->u.dict.vals[i]);
            if (!rc) rc = buf_puts(o, ");");
        }
        if (!rc && v->u.dict.n) rc = buf_puts(o, " }}");
        return rc;
    }
    return java_scalar(o, t, v);
}

static int js_shape(buf *o, const pyval *v)
{
    int rc = 0;
    switch (v->kind) {
    case PYV_STR:
        return buf_printf(o, "\"%s\"", v->u.s.p);
    case PYV_BOOL:
        return buf_puts(o, v->u.b ? "true" : "false");
    case PYV_FLOAT:
        return put_float_fixed(o, v->u.f);
    case PYV_LIST:
    case PYV_TUPLE:
        rc = buf_putc(o, '[');
        for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(o, ", ");
            if (!rc) rc = js_shape(o, v->u.seq.items[i]);
        }
        return rc ? rc : buf_putc(o, ']');
    case PYV_DICT:
        if (!v->u.dict.n) return buf_puts(o, "{}");
        rc = buf_putc(o, '{');
        for (size_t i = 0; i < v->u.dict.n && !rc; i++) {
            if (i) rc = buf_puts(o, ", ");
            if (!rc) rc = put_str_of(o, v->u.dict.keys[i]);
            if (!rc) rc = buf_puts(o, ": ");
            if (!rc) rc = js_shape(o, v->u.dict.vals[i]);
        }
        return rc ? rc : buf_putc(o, '}');
    default:
        return put_str_of(o, v);
    }
}

static int js_scalar(buf *o, const char *t, const pyval *v)
{
    if (!t) t = "any";
    if (v->kind == PYV_BOOL && strcmp(t, "Boolean") == 0)
        return buf_puts(o, v->u.b ? "true" : "false");
    if (v->kind == PYV_FLOAT && strcmp(t, "float") == 0) return put_float_fixed(o, v->u.f);
    if (v->kind == PYV_INT && strcmp(t, "Bigint") == 0) {
        int rc = put_str_of(o, v);
        return rc ? rc : buf_putc(o, 'n');
    }
    if (v->kind == PYV_STR && strcmp(t, "String") == 0) return buf_printf(o, "\"%s\"", v->u.s.p);
    return put_str_of(o, v);
}

static int js_text(buf *o, const char *t, const pyval *items, const pyval *v)
{
    const char *it = str_field(items, "type");
    if (t && strcmp(t, "array") == 0 && v->kind == PYV_LIST) {
        int rc = buf_putc(o, '[');
        for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(o, ", ");
            const pyval *x = v->u.seq.items[i];
            if (!rc)
                rc = x->kind == PYV_LIST ? js_text(o, t, items, x)
                     : it                ? js_scalar(o, it, x)
                                         : js_shape(o, x);
        }
        return rc ? rc : buf_putc(o, ']');
    }
    if (t && strcmp(t, "dict") == 0 && v->kind == PYV_DICT) return js_shape(o, v);
    if (t && strcmp(t, "String") == 0 && v->kind == PYV_STR)
        return buf_append(o, v->u.s.p, v->u.s.len);
    return js_scalar(o, t, v);
}

/* The source text of one Java/JS argument (what the FC arguments carry). */
static int lang_text(buf *o, bfcl_lang lang, const pyval *pd, const pyval *v)
{
    const char *t = str_field(pd, "type");
    const pyval *items = pyval_dict_get(pd, "items");
    return lang == BFCL_JAVA ? java_text(o, t, items, v) : js_text(o, t, items, v);
}

/* In prompt mode a Java/JS argument is written as a string literal when that
 * is possible (the call parser unquotes it), else as the bare source text. */
static int lang_arg(buf *o, const char *text, size_t n)
{
    bool quotable = !memchr(text, '"', n) && !memchr(text, '\\', n) && !memchr(text, '\n', n);
    if (!quotable) return buf_append(o, text, n);
    int rc = buf_putc(o, '"');
    if (!rc) rc = buf_append(o, text, n);
    return rc ? rc : buf_putc(o, '"');
}

/* One call: *args_out gets {param: value} (Python values; Java/JS: source text strings). */
static int oracle_call(arena *a, const bfcl_item *bi, const pyval *gt_call, pyval **name_out,
                       pyval **args_out)
{
    pyval *name = gt_call->u.dict.keys[0];
    const pyval *alts = gt_call->u.dict.vals[0];
    const pyval *fn = find_doc(bi, name);
    pyval *args = pyval_dict(a);
    if (!args) return ERR_NOMEM;
    for (size_t i = 0; i < alts->u.dict.n; i++) {
        const pyval *param = alts->u.dict.keys[i];
        bool omit;
        /* a parameter the doc does not have can only be left out (when "" allows it) */
        if (!bfcl_param_doc(fn, param) && has_empty_alt(alts->u.dict.vals[i])) continue;
        pyval *v = pick_value(a, bi->cat->lang, fn, param, alts->u.dict.vals[i], &omit);
        if (omit) continue;
        if (!v) return ERR_NOMEM;
        if (bi->cat->lang != BFCL_PYTHON) {
            buf t = BUF_INIT;
            int rc = lang_text(&t, bi->cat->lang, bfcl_param_doc(fn, param), v);
            v = rc ? NULL : pyval_str(a, t.data, t.len);
            buf_release(&t);
            if (!v) return ERR_NOMEM;
        }
        if (pyval_dict_set(a, args, (pyval *)param, v) < 0) return ERR_NOMEM;
    }
    *name_out = name;
    *args_out = args;
    return 0;
}

static const char irrelevance_answer[] = "I cannot answer this with the given functions.";

int bfcl_oracle_text(const bfcl_item *bi, arena *a, const char **out, err *e)
{
    buf b = BUF_INIT;
    int rc = 0;
    switch (bi->cat->kind) {
    case BFCL_IRRELEVANCE:
        *out = irrelevance_answer;
        return 0;
    case BFCL_RELEVANCE: {
        const pyval *fn = bi->functions->u.seq.n ? bi->functions->u.seq.items[0] : NULL;
        *out = fn ? arena_printf(a, "[%s()]", str_field(fn, "name")) : irrelevance_answer;
        return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    }
    case BFCL_MULTI_TURN: {
        const pyval *turn0 = bi->answer && bi->answer->u.seq.n ? bi->answer->u.seq.items[0] : NULL;
        rc = buf_putc(&b, '[');
        for (size_t i = 0; turn0 && turn0->kind == PYV_LIST && i < turn0->u.seq.n && !rc; i++) {
            if (i) rc = buf_puts(&b, ", ");
            if (!rc) rc = pyval_str_of(&b, turn0->u.seq.items[i]);
        }
        if (!rc) rc = buf_putc(&b, ']');
        break;
    }
    default:
        rc = buf_putc(&b, '[');
        for (size_t i = 0; i < bi->answer->u.seq.n && !rc; i++) {
            pyval *name, *args;
            if (i) rc = buf_puts(&b, ", ");
            if (!rc) rc = oracle_call(a, bi, bi->answer->u.seq.items[i], &name, &args);
            if (!rc) rc = buf_printf(&b, "%s(", name->u.s.p);
            for (size_t k = 0; k < args->u.dict.n && !rc; k++) {
                if (k) rc = buf_puts(&b, ", ");
                if (!rc) rc = buf_printf(&b, "%s=", args->u.dict.keys[k]->u.s.p);
                if (rc) break;
                const pyval *v = args->u.dict.vals[k];
                rc = bi->cat->lang == BFCL_PYTHON ? pyval_repr(&b, v)
                                                  : lang_arg(&b, v->u.s.p, v->u.s.len);
            }
            if (!rc) rc = buf_putc(&b, ')');
        }
        if (!rc) rc = buf_putc(&b, ']');
        break;
    }
    if (!rc && !(*out = arena_memdup(a, b.data, b.len))) rc = ERR_NOMEM;
    buf_release(&b);
    return rc ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

int bfcl_oracle_tool_calls(const bfcl_item *bi, arena *a, const char **out, err *e)
{
    *out = NULL;
    pyval *list = NULL;
    switch (bi->cat->kind) {
    case BFCL_IRRELEVANCE:
    case BFCL_MULTI_TURN:
        return 0;
    case BFCL_RELEVANCE: {
        if (!bi->functions->u.seq.n) return 0;
        pyval *d = pyval_dict(a);
        if (!d ||
            dict_put(a, d, "name",
                     underscored(a, pyval_dict_get(bi->functions->u.seq.items[0], "name"))) < 0 ||
            dict_put(a, d, "arguments", pyval_strz(a, "{}")) < 0 || !(list = pyval_list(a, &d, 1)))
            return err_set(e, ERR_NOMEM, "out of memory");
        break;
    }
    default: {
        size_t n = bi->answer->u.seq.n;
        pyval **calls = n ? arena_calloc(a, n, sizeof *calls) : NULL;
        if (n && !calls) return err_set(e, ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            pyval *name, *args, *d = pyval_dict(a);
            buf t = BUF_INIT;
            int rc = d ? oracle_call(a, bi, bi->answer->u.seq.items[i], &name, &args) : ERR_NOMEM;
            if (!rc) rc = pyval_dump_json(&t, args, -1, false, PYVAL_JSON_LENIENT);
            if (!rc) rc = dict_put(a, d, "name", underscored(a, name));
            if (!rc) rc = dict_put(a, d, "arguments", pyval_str(a, t.data, t.len));
            buf_release(&t);
            if (rc) return err_set(e, ERR_NOMEM, "out of memory");
            calls[i] = d;
        }
        if (!(list = pyval_list(a, calls, n))) return err_set(e, ERR_NOMEM, "out of memory");
    }
    }
    buf b = BUF_INIT;
    int rc = pyval_dump_json(&b, list, -1, false, PYVAL_JSON_LENIENT);
    if (!rc && !(*out = arena_memdup(a, b.data, b.len))) rc = ERR_NOMEM;
    buf_release(&b);
    return rc ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

/* ================================================================== */
/* prompts                                                             */
/* ================================================================== */

#define BFCL_MAX_TOKENS 2048

int bfcl_build(const task_options *o, const char *arg, const item *it, arena *a, prompt *out,
               err *e)
{
    (void)arg;
    memset(out, 0, sizeof *out);
    bool native;
    int rc = bfcl_tool_mode(o, &native, e);
    if (rc < 0) return rc;
    const bfcl_item *bi = it->data;
    const pyval *msgs = bi->messages;
    const char *sys = NULL;
    if (!native && (rc = bfcl_system_prompt(bi, a, &sys, e)) < 0) return rc;
    /* prompt mode: BFCL's prompt goes in front of the first system message, or becomes one */
    bool merge = sys && msgs->u.seq.n &&
                 pyval_is_str(pyval_dict_get(msgs->u.seq.items[0], "role"), "system");
    size_t n = msgs->u.seq.n + (sys && !merge ? 1 : 0);
    chat_message *m = arena_calloc(a, n ? n : 1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, "out of memory");
    size_t k = 0;
    if (sys && !merge) m[k++] = (chat_message){"system", sys, NULL, NULL};
    for (size_t i = 0; i < msgs->u.seq.n; i++) {
        const pyval *msg = msgs->u.seq.items[i];
        const char *role = str_field(msg, "role"), *content = str_field(msg, "content");
        if (i == 0 && merge) content = arena_printf(a, "%s\n\n%s", sys, content);
        if (!content) return err_set(e, ERR_NOMEM, "out of memory");
        m[k++] = (chat_message){role, content, NULL, NULL};
    }
    out->messages = m;
    out->n_messages = k;
    out->max_tokens = BFCL_MAX_TOKENS;
    if (native) {
        /* no functions offered (four live_irrelevance entries): no tools at all,
         * since servers refuse an empty list */
        if (bi->functions->u.seq.n) {
            if ((rc = bfcl_tools_json(bi, a, &out->tools, e)) < 0) return rc;
            out->tool_choice = "auto";
        }
        if ((rc = bfcl_oracle_tool_calls(bi, a, &out->reference_tool_calls, e)) < 0) return rc;
        if (!out->reference_tool_calls && (rc = bfcl_oracle_text(bi, a, &out->reference, e)) < 0)
            return rc;
    } else {
        if ((rc = bfcl_oracle_text(bi, a, &out->reference, e)) < 0) return rc;
    }
    return 0;
}
