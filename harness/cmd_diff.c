/* cmd_diff.c: `tally diff`: why two runs disagree. Every manifest field that
 * differs, which items were asked a different prompt (bytes or token ids),
 * which answers changed, and the score gap split into "the answers changed"
 * and "the grading changed" by scoring each run's completions with both
 * runs' scoring settings, in memory (the runs' files are not touched). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/strmap.h"
#include "common/util.h"
#include "evaluate.h"
#include "reports/compare.h"
#include "rundir.h"
#include "runset.h"
#include "scorers/metric.h"

typedef struct diff_opts {
    const char *format, *data_dir, *out;
    int max_ids;
    bool rescore;
    str_list label;
} diff_opts;

#define O(f) offsetof(diff_opts, f)
static const opt_def diff_opt_defs[] = {
    {"format", OPT_STR, O(format), "md|json", "output format (default md)", 0},
    {"out", OPT_STR, O(out), "FILE", "write there instead of to standard output", 0},
    {"rescore", OPT_BOOL, O(rescore), NULL,
     "score each run's answers with both runs' scoring settings (default on; --no-rescore)", 0},
    {"data-dir", OPT_STR, O(data_dir), "DIR",
     "datasets, for re-scoring (default $TALLY_DATA, then ~/.cache/tally/datasets)", 0},
    {"max-ids", OPT_INT, O(max_ids), "N", "item ids listed per difference (default 10)", 0},
    {"label", OPT_LIST, O(label), "NAME", "names of the two runs (repeatable)", 0},
    {0},
};
#undef O

/* ---- small JSON helpers ---- */

static cJSON *ids_json(const char *const *ids, size_t n, size_t max)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n && i < max; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(ids[i]));
    return a;
}

typedef struct idlist {
    const char **v;
    size_t n, cap;
} idlist;

static int idlist_add(idlist *l, const char *id)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        const char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = id;
    return 0;
}

/* ---- prompts and answers ---- */

static const char *doc_str(const cJSON *d, const char *k)
{
    return json_str_at(d, k, NULL);
}

/* Per shared (item, sample 0): prompt sha, text and token ids; the answers. */
static int diff_samples(cJSON *out, const sample_store *sa, const sample_store *sb, size_t max_ids,
                        size_t *n_shared_out, err *e)
{
    idlist sha = {0}, text = {0}, toks = {0}, ans = {0}, shared = {0};
    size_t with_text = 0, with_toks = 0, with_sha = 0;
    long first_byte = -1, first_tok = -1;
    const char *first_text_id = NULL, *first_tok_id = NULL;
    char ctx_a[80] = "", ctx_b[80] = "";
    int rc = 0;
    for (size_t i = 0; i < sa->n && rc == 0; i++) {
        const cJSON *da = sa->docs[i];
        if (!da) continue;
        const cJSON *sm = cJSON_GetObjectItemCaseSensitive(da, "sample");
        const char *id = doc_str(da, "id");
        if (!id || !cJSON_IsNumber(sm) || sm->valueint != 0) continue;
        const cJSON *db = samples_get(sb, id, 0);
        if (!db) continue;
        if ((rc = idlist_add(&shared, id)) < 0) break;
        const char *ha = doc_str(da, "prompt_sha256"), *hb = doc_str(db, "prompt_sha256");
        if (ha && hb) {
            with_sha++;
            if (strcmp(ha, hb) != 0) rc = idlist_add(&sha, id);
        }
        const char *pa = doc_str(da, "prompt"), *pb = doc_str(db, "prompt");
        if (pa && pb && rc == 0) {
            with_text++;
            if (strcmp(pa, pb) != 0) {
                rc = idlist_add(&text, id);
                if (!first_text_id) {
                    size_t k = 0;
                    while (pa[k] && pa[k] == pb[k]) k++;
                    first_byte = (long)k;
                    first_text_id = id;
                    size_t from = k > 20 ? k - 20 : 0;
                    snprintf(ctx_a, sizeof ctx_a, "%.50s", pa + from);
                    snprintf(ctx_b, sizeof ctx_b, "%.50s", pb + from);
                }
            }
        }
        const cJSON *ta = cJSON_GetObjectItemCaseSensitive(da, "prompt_token_ids");
        const cJSON *tb = cJSON_GetObjectItemCaseSensitive(db, "prompt_token_ids");
        if (cJSON_IsArray(ta) && cJSON_IsArray(tb) && rc == 0) {
            with_toks++;
            if (!cJSON_Compare(ta, tb, true)) {
                rc = idlist_add(&toks, id);
                if (!first_tok_id) {
                    int k = 0, na = cJSON_GetArraySize(ta), nb = cJSON_GetArraySize(tb);
                    while (
                        k < na && k < nb &&
                        cJSON_Compare(cJSON_GetArrayItem(ta, k), cJSON_GetArrayItem(tb, k), true))
                        k++;
                    first_tok = k;
                    first_tok_id = id;
                }
            }
        }
        const char *ca = doc_str(da, "completion"), *cb = doc_str(db, "completion");
        const cJSON *ka = cJSON_GetObjectItemCaseSensitive(da, "tool_calls");
        const cJSON *kb = cJSON_GetObjectItemCaseSensitive(db, "tool_calls");
        bool same = (ca && cb ? strcmp(ca, cb) == 0 : ca == cb) &&
                    (ka && kb ? cJSON_Compare(ka, kb, true) : ka == kb);
        if (!same && rc == 0) rc = idlist_add(&ans, id);
    }
    if (rc < 0) goto out;
    *n_shared_out = shared.n;
    cJSON *p = cJSON_AddObjectToObject(out, "prompts");
    cJSON_AddNumberToObject(p, "shared_items", (double)shared.n);
    cJSON_AddNumberToObject(p, "with_sha256", (double)with_sha);
    cJSON_AddNumberToObject(p, "sha256_differ", (double)sha.n);
    cJSON_AddItemToObject(p, "sha256_differ_ids", ids_json(sha.v, sha.n, max_ids));
    cJSON_AddNumberToObject(p, "with_text", (double)with_text);
    cJSON_AddNumberToObject(p, "text_differ", (double)text.n);
    cJSON_AddItemToObject(p, "text_differ_ids", ids_json(text.v, text.n, max_ids));
    if (first_text_id) {
        cJSON *f = cJSON_AddObjectToObject(p, "first_text_difference");
        cJSON_AddStringToObject(f, "id", first_text_id);
        cJSON_AddNumberToObject(f, "byte", (double)first_byte);
        cJSON_AddStringToObject(f, "a", ctx_a);
        cJSON_AddStringToObject(f, "b", ctx_b);
    }
    cJSON_AddNumberToObject(p, "with_token_ids", (double)with_toks);
    cJSON_AddNumberToObject(p, "token_ids_differ", (double)toks.n);
    cJSON_AddItemToObject(p, "token_ids_differ_ids", ids_json(toks.v, toks.n, max_ids));
    if (first_tok_id) {
        cJSON *f = cJSON_AddObjectToObject(p, "first_token_difference");
        cJSON_AddStringToObject(f, "id", first_tok_id);
        cJSON_AddNumberToObject(f, "index", (double)first_tok);
    }
    cJSON *a = cJSON_AddObjectToObject(out, "answers");
    cJSON_AddNumberToObject(a, "differ", (double)ans.n);
    cJSON_AddItemToObject(a, "differ_ids", ids_json(ans.v, ans.n, max_ids));
out:
    free(sha.v);
    free(text.v);
    free(toks.v);
    free(ans.v);
    free(shared.v);
    if (rc < 0) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

/* ---- re-scoring ---- */

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The settings a scorer reads (the data and cache places aside). */
static bool same_scoring(const task_options *a, const task_options *b)
{
    return a->shots == b->shots && a->chat == b->chat && same_str(a->tool_mode, b->tool_mode) &&
           same_str(a->scorer_mode, b->scorer_mode) && a->samples == b->samples &&
           a->exec_timeout_s == b->exec_timeout_s && a->unsafe_no_sandbox == b->unsafe_no_sandbox;
}

static int metrics_of(const task_def *t, const task_options *o, const item *const *items,
                      size_t n_items, int samples, const sample_store *st, const char *where,
                      cJSON **out, err *e)
{
    eval_scored sc;
    *out = NULL;
    int rc = eval_score_samples(t, o, items, n_items, samples, st, where, &sc, e);
    if (rc < 0) return rc;
    rc = eval_results_json(t, o, &sc, n_items, where, out, e);
    eval_scored_release(&sc);
    return rc;
}

STATIC int rescore(cJSON *out, const run_task *ra, const run_task *rb, const sample_store *sa,
                   const sample_store *sb, const char *data_dir, err *e)
{
    const task_def *t = ra->task;
    arena a = ARENA_INIT;
    task_options oa, ob;
    eval_overrides ov = {data_dir, NULL, NULL, NULL, 0, 0, NULL, NULL};
    eval_options_from_manifest(ra->manifest, &ov, &a, &oa);
    eval_options_from_manifest(rb->manifest, &ov, &a, &ob);
    cJSON *m[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* [answers][grading] */
    const item **items = NULL;
    int rc;
    item_set all;
    if ((rc = t->load(&oa, t->arg, &a, &all, e)) < 0) goto out;
    int samples = oa.samples < ob.samples ? oa.samples : ob.samples;
    if (samples < 1) samples = 1;
    items = calloc(all.n ? all.n : 1, sizeof *items);
    if (!items) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < all.n; i++) {
        bool both = true;
        for (int s = 0; s < samples && both; s++)
            both = samples_get(sa, all.items[i].id, s) && samples_get(sb, all.items[i].id, s);
        if (both) items[n++] = &all.items[i];
    }
    if (!n) {
        rc = err_set(e, ERR_NOTFOUND, "the runs share no answered item of %s", t->name);
        goto out;
    }
    bool same = same_scoring(&oa, &ob);
    const sample_store *st[2] = {sa, sb};
    const task_options *os[2] = {&oa, &ob};
    const char *where[2] = {ra->path, rb->path};
    for (int ans = 0; ans < 2; ans++)
        for (int gr = 0; gr < 2; gr++) {
            if (same && gr != ans) continue;
            if ((rc = metrics_of(t, os[gr], items, n, samples, st[ans], where[ans], &m[ans][gr],
                                 e)) < 0)
                goto out;
        }
    if (same) {
        m[0][1] = cJSON_Duplicate(m[0][0], true);
        m[1][0] = cJSON_Duplicate(m[1][1], true);
    }
    cJSON *r = cJSON_AddObjectToObject(out, "rescore");
    cJSON_AddNumberToObject(r, "items", (double)n);
    cJSON_AddNumberToObject(r, "samples", samples);
    cJSON_AddBoolToObject(r, "same_scoring_settings", same);
    cJSON *rows = cJSON_AddArrayToObject(r, "metrics");
    for (size_t k = 0; t->metrics && t->metrics[k]; k++) {
        metric_value v[2][2];
        bool ok = true;
        for (int x = 0; x < 2; x++)
            for (int y = 0; y < 2; y++)
                ok = ok && metric_get(cJSON_GetObjectItemCaseSensitive(m[x][y], "metrics"),
                                      t->metrics[k], &v[x][y]) == 0;
        if (!ok) continue;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "metric", t->metrics[k]);
        cJSON_AddNumberToObject(row, "a_answers_a_grading", v[0][0].value);
        cJSON_AddNumberToObject(row, "a_answers_b_grading", v[0][1].value);
        cJSON_AddNumberToObject(row, "b_answers_a_grading", v[1][0].value);
        cJSON_AddNumberToObject(row, "b_answers_b_grading", v[1][1].value);
        cJSON_AddNumberToObject(row, "gap", v[1][1].value - v[0][0].value);
        cJSON_AddNumberToObject(row, "answers_changed", v[1][0].value - v[0][0].value);
        cJSON_AddNumberToObject(row, "grading_changed", v[1][1].value - v[1][0].value);
        cJSON_AddItemToArray(rows, row);
    }
    rc = 0;
out:
    for (int x = 0; x < 2; x++)
        for (int y = 0; y < 2; y++) cJSON_Delete(m[x][y]);
    free(items);
    arena_release(&a);
    return rc;
}

/* Stored verdicts per shared item: the flips. */
static int flips_json(cJSON *out, const run_task *ra, const run_task *rb, size_t max_ids, err *e)
{
    run_flips f;
    int rc = runset_flips(ra, rb, max_ids, &f, e);
    if (rc < 0 || !ra->has_scores || !rb->has_scores) return rc;
    cJSON *o = cJSON_AddObjectToObject(out, "outcomes");
    cJSON_AddStringToObject(o, "metric", f.metric);
    cJSON_AddNumberToObject(o, "both", (double)f.both);
    cJSON_AddNumberToObject(o, "only_a", (double)f.only_a);
    cJSON_AddNumberToObject(o, "only_b", (double)f.only_b);
    cJSON_AddNumberToObject(o, "neither", (double)f.neither);
    cJSON_AddItemToObject(o, "only_a_ids", ids_json(f.ids_a, f.n_ids_a, max_ids));
    cJSON_AddItemToObject(o, "only_b_ids", ids_json(f.ids_b, f.n_ids_b, max_ids));
    run_flips_release(&f);
    return 0;
}

static int diff_task(cJSON *tasks, const run_task *ra, const run_task *rb, const diff_opts *d,
                     err *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return err_set(e, ERR_NOMEM, "out of memory");
    cJSON_AddItemToArray(tasks, o);
    cJSON_AddStringToObject(o, "task", ra->name);
    arena a = ARENA_INIT;
    cmp_field_diff *fd = NULL;
    size_t nd = 0;
    sample_store sa = SAMPLE_STORE_INIT, sb = SAMPLE_STORE_INIT;
    int rc = cmp_manifest_diff(ra->manifest, rb->manifest, &a, &fd, &nd, e);
    if (rc < 0) goto out;
    bool comparable = true;
    cJSON *fields = cJSON_AddArrayToObject(o, "manifest");
    static const char *const kinds[] = {"defining", "setting", "incidental"};
    for (size_t i = 0; i < nd; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "field", fd[i].key);
        cJSON_AddStringToObject(f, "kind", kinds[fd[i].kind]);
        if (fd[i].what) cJSON_AddStringToObject(f, "what", fd[i].what);
        cJSON_AddStringToObject(f, "a", fd[i].a);
        cJSON_AddStringToObject(f, "b", fd[i].b);
        cJSON_AddItemToArray(fields, f);
        if (fd[i].kind == CMP_FIELD_DEFINING) comparable = false;
    }
    cJSON_AddBoolToObject(o, "comparable", comparable);
    for (int side = 0; side < 2 && rc == 0; side++) {
        buf p = BUF_INIT;
        path_join(&p, side ? rb->path : ra->path, "samples.jsonl");
        rc = samples_load(p.data, side ? &sb : &sa, e);
        buf_release(&p);
    }
    if (rc < 0) goto out;
    size_t n_shared = 0;
    if ((rc = diff_samples(o, &sa, &sb, (size_t)d->max_ids, &n_shared, e)) < 0) goto out;
    if ((rc = flips_json(o, ra, rb, (size_t)d->max_ids, e)) < 0) goto out;
    /* stored scores, for comparison with the re-scored ones */
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(ra->results, "metrics");
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(rb->results, "metrics");
    metric_value va, vb;
    if (ra->task && ra->task->metrics && metric_get(ma, ra->task->metrics[0], &va) == 0 &&
        metric_get(mb, ra->task->metrics[0], &vb) == 0) {
        cJSON *s = cJSON_AddObjectToObject(o, "stored");
        cJSON_AddStringToObject(s, "metric", ra->task->metrics[0]);
        cJSON_AddNumberToObject(s, "a", va.value);
        cJSON_AddNumberToObject(s, "b", vb.value);
    }
    if (!d->rescore) {
        cJSON_AddStringToObject(o, "rescore_skipped", "--no-rescore");
    } else if (!ra->task || ra->task != rb->task) {
        cJSON_AddStringToObject(o, "rescore_skipped",
                                ra->task ? "the runs are of different tasks"
                                         : "this build does not know the task");
    } else if (!n_shared) {
        cJSON_AddStringToObject(o, "rescore_skipped", "the runs share no item");
    } else {
        err e2 = ERR_INIT;
        if (rescore(o, ra, rb, &sa, &sb, d->data_dir, &e2) < 0) {
            if (e2.code == ERR_NOMEM) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            cJSON_AddStringToObject(o, "rescore_skipped", e2.msg);
        }
    }
out:
    free(fd);
    samples_release(&sa);
    samples_release(&sb);
    arena_release(&a);
    return rc;
}

/* ---- markdown ---- */

/* A string field of the diff document, "" when absent (it is printed and compared). */
static const char *js(const cJSON *o, const char *k)
{
    const char *s = json_str_at(o, k, NULL);
    return s ? s : "";
}

static double jnum(const cJSON *o, const char *k)
{
    return json_num_at(o, k, NULL, NAN);
}

static void md_ids(buf *b, const cJSON *ids, double total)
{
    const cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, ids) buf_printf(b, "%s`%s`", i++ ? ", " : "", x->valuestring);
    if (total > i) buf_printf(b, "%s... (%.0f in all)", i ? ", " : "", total);
}

static void md_cell(buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '|')
            buf_puts(b, "\\|");
        else if (*p == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *p);
    }
}

static void render_md(buf *b, const cJSON *doc)
{
    const char *la = js(doc, "a"), *lb = js(doc, "b");
    buf_printf(b, "## tally diff: `%s` vs `%s`\n", la, lb);
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "missing"))
        buf_printf(b, "\n- %s\n", t->valuestring);
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tasks"))
    {
        const char *task = js(t, "task");
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(t, "manifest");
        bool comparable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "comparable"));
        buf_printf(
            b, "\n### %s%s\n\n", task,
            comparable
                ? ""
                : " \xe2\x9a\xa0 not comparable (a field that defines the measurement differs)");
        size_t n_main = 0, n_inc = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, fields)
        {
            if (strcmp(js(f, "kind"), "incidental") == 0)
                n_inc++;
            else
                n_main++;
        }
        if (!n_main) {
            buf_printf(b, "Manifests: no field that matters differs.\n");
        } else {
            buf_printf(b,
                       "Manifests: %zu field%s differ%s.\n\n| field | what | %s | %s "
                       "|\n|:--|:--|:--|:--|\n",
                       n_main, n_main == 1 ? "" : "s", n_main == 1 ? "s" : "", la, lb);
            cJSON_ArrayForEach(f, fields)
            {
                const char *kind = js(f, "kind");
                if (strcmp(kind, "incidental") == 0) continue;
                buf_printf(b, "| `%s` | %s%s | ", js(f, "field"),
                           strcmp(kind, "defining") == 0 ? "**defines the measurement** " : "",
                           js(f, "what"));
                md_cell(b, js(f, "a"));
                buf_puts(b, " | ");
                md_cell(b, js(f, "b"));
                buf_puts(b, " |\n");
            }
        }
        if (n_inc) {
            buf_printf(b, "\nAlso different, without bearing on the scores: ");
            int i = 0;
            cJSON_ArrayForEach(f, fields) if (strcmp(js(f, "kind"), "incidental") == 0)
                buf_printf(b, "%s`%s`", i++ ? ", " : "", js(f, "field"));
            buf_puts(b, ".\n");
        }
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(t, "prompts");
        if (p) {
            double shared = jnum(p, "shared_items");
            buf_printf(b, "\nPrompts, over %.0f shared item%s:\n\n", shared,
                       shared == 1 ? "" : "s");
            if (jnum(p, "with_sha256") > 0) {
                buf_printf(b, "- prompt sha256 differs on %.0f of %.0f", jnum(p, "sha256_differ"),
                           jnum(p, "with_sha256"));
                if (jnum(p, "sha256_differ") > 0) {
                    buf_puts(b, ": ");
                    md_ids(b, cJSON_GetObjectItemCaseSensitive(p, "sha256_differ_ids"),
                           jnum(p, "sha256_differ"));
                }
                buf_puts(b, "\n");
            } else {
                buf_puts(b, "- prompt sha256: not recorded\n");
            }
            if (jnum(p, "with_text") > 0) {
                buf_printf(b, "- rendered prompt text differs on %.0f of %.0f",
                           jnum(p, "text_differ"), jnum(p, "with_text"));
                const cJSON *fd = cJSON_GetObjectItemCaseSensitive(p, "first_text_difference");
                if (fd) {
                    buf_printf(b, "; first at byte %.0f of `%s`: A `", jnum(fd, "byte"),
                               js(fd, "id"));
                    md_cell(b, js(fd, "a"));
                    buf_puts(b, "` B `");
                    md_cell(b, js(fd, "b"));
                    buf_puts(b, "`");
                }
                buf_puts(b, "\n");
            } else {
                buf_puts(
                    b,
                    "- rendered prompt text: not recorded (only the native engine records it)\n");
            }
            if (jnum(p, "with_token_ids") > 0) {
                buf_printf(b, "- prompt token ids differ on %.0f of %.0f",
                           jnum(p, "token_ids_differ"), jnum(p, "with_token_ids"));
                const cJSON *fd = cJSON_GetObjectItemCaseSensitive(p, "first_token_difference");
                if (fd)
                    buf_printf(b, "; first at token %.0f of `%s`", jnum(fd, "index"), js(fd, "id"));
                buf_puts(b, "\n");
            } else {
                buf_puts(b, "- prompt token ids: not recorded\n");
            }
            const cJSON *an = cJSON_GetObjectItemCaseSensitive(t, "answers");
            buf_printf(b, "- answers differ on %.0f of %.0f", jnum(an, "differ"), shared);
            if (jnum(an, "differ") > 0) {
                buf_puts(b, ": ");
                md_ids(b, cJSON_GetObjectItemCaseSensitive(an, "differ_ids"), jnum(an, "differ"));
            }
            buf_puts(b, "\n");
        }
        const cJSON *oc = cJSON_GetObjectItemCaseSensitive(t, "outcomes");
        if (oc) {
            buf_printf(b,
                       "\nVerdicts (stored scores, `%s`): both correct %.0f, only %s %.0f, only "
                       "%s %.0f, neither %.0f.\n",
                       js(oc, "metric"), jnum(oc, "both"), la, jnum(oc, "only_a"), lb,
                       jnum(oc, "only_b"), jnum(oc, "neither"));
            if (jnum(oc, "only_a") > 0) {
                buf_printf(b, "Only %s: ", la);
                md_ids(b, cJSON_GetObjectItemCaseSensitive(oc, "only_a_ids"), jnum(oc, "only_a"));
                buf_puts(b, "\n");
            }
            if (jnum(oc, "only_b") > 0) {
                buf_printf(b, "%sOnly %s: ", jnum(oc, "only_a") > 0 ? "\n" : "", lb);
                md_ids(b, cJSON_GetObjectItemCaseSensitive(oc, "only_b_ids"), jnum(oc, "only_b"));
                buf_puts(b, "\n");
            }
        }
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(t, "rescore");
        if (r) {
            buf_printf(b,
                       "\nThe score gap split, re-scoring both runs' answers with both runs' "
                       "scoring settings over %.0f shared items (%%):\n\n",
                       jnum(r, "items"));
            buf_printf(b,
                       "| metric | %s's answers, %s's grading | %s's answers, %s's grading | %s's "
                       "answers, %s's grading | %s's answers, %s's grading | gap | answers changed "
                       "| grading changed |\n|:--|--:|--:|--:|--:|--:|--:|--:|\n",
                       la, la, la, lb, lb, la, lb, lb);
            const cJSON *row;
            cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r, "metrics")) buf_printf(
                b, "| %s | %.2f | %.2f | %.2f | %.2f | %+.2f | %+.2f | %+.2f |\n",
                js(row, "metric"), 100 * jnum(row, "a_answers_a_grading"),
                100 * jnum(row, "a_answers_b_grading"), 100 * jnum(row, "b_answers_a_grading"),
                100 * jnum(row, "b_answers_b_grading"), 100 * jnum(row, "gap"),
                100 * jnum(row, "answers_changed"), 100 * jnum(row, "grading_changed"));
            buf_printf(b,
                       "\ngap = answers changed (%s's answers against %s's, both graded as %s) + "
                       "grading changed (%s's answers graded as %s rather than as %s).%s\n",
                       lb, la, la, lb, lb, la,
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "same_scoring_settings"))
                           ? " The runs' scoring settings are the same: the grading cannot differ."
                           : "");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "stored");
            const cJSON *first =
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "metrics"), 0);
            if (st && first && strcmp(js(st, "metric"), js(first, "metric")) == 0 &&
                (fabs(jnum(st, "a") - jnum(first, "a_answers_a_grading")) > 1e-9 ||
                 fabs(jnum(st, "b") - jnum(first, "b_answers_b_grading")) > 1e-9))
                buf_printf(b,
                           "\nNote: the stored results (%s %.2f, %s %.2f) differ from today's "
                           "re-scoring: the scorer or the item selection changed since the runs "
                           "were scored (compare `tally_version`).\n",
                           la, 100 * jnum(st, "a"), lb, 100 * jnum(st, "b"));
        } else if (*js(t, "rescore_skipped")) {
            buf_printf(b, "\nNo re-scoring: %s.\n", js(t, "rescore_skipped"));
        }
    }
}

/* ---- the command ---- */

static int cmd_diff_main(int argc, char **argv)
{
    diff_opts d = {0};
    d.rescore = true;
    d.max_ids = 10;
    opts_result res;
    err e = ERR_INIT;
    int status = 0;
    run_set sets[2];
    memset(sets, 0, sizeof sets);
    cJSON *doc = NULL;
    buf out = BUF_INIT;
    if (opts_parse(diff_opt_defs, &d, argc, argv, 1, &res, &e) < 0) goto fail;
    if (res.n_pos != 2) {
        err_set(&e, ERR_USAGE, "diff takes two run directories (%zu given)", res.n_pos);
        goto fail;
    }
    bool json = false;
    if (d.format) {
        if (!strcmp(d.format, "json"))
            json = true;
        else if (strcmp(d.format, "md")) {
            err_set(&e, ERR_USAGE, "--format: \"%s\" is not md or json", d.format);
            goto fail;
        }
    }
    if (d.max_ids < 0) {
        err_set(&e, ERR_USAGE, "--max-ids: must not be negative");
        goto fail;
    }
    if (d.label.n > 2) {
        err_set(&e, ERR_USAGE, "--label given %zu times for 2 runs", d.label.n);
        goto fail;
    }
    for (int i = 0; i < 2; i++)
        if (runset_open(&sets[i], res.pos[i], &e) < 0) goto fail;
    if (runset_label_all(sets, 2, d.label.v, d.label.n, &e) < 0) goto fail;
    doc = cJSON_CreateObject();
    if (!doc) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    cJSON_AddStringToObject(doc, "a", sets[0].label);
    cJSON_AddStringToObject(doc, "b", sets[1].label);
    cJSON *missing = cJSON_AddArrayToObject(doc, "missing");
    cJSON *tasks = cJSON_AddArrayToObject(doc, "tasks");
    for (size_t i = 0; i < sets[0].n; i++) {
        const run_task *ra = &sets[0].tasks[i];
        const run_task *rb = runset_find(&sets[1], ra->name);
        if (!rb && sets[0].n == 1 && sets[1].n == 1) rb = &sets[1].tasks[0];
        if (!rb) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s is only in %s", ra->name, sets[0].label);
            cJSON_AddItemToArray(missing, cJSON_CreateString(msg));
            continue;
        }
        if (diff_task(tasks, ra, rb, &d, &e) < 0) goto fail;
    }
    for (size_t i = 0; i < sets[1].n; i++) {
        if (runset_find(&sets[0], sets[1].tasks[i].name) || (sets[0].n == 1 && sets[1].n == 1))
            continue;
        char msg[600];
        snprintf(msg, sizeof msg, "%s is only in %s", sets[1].tasks[i].name, sets[1].label);
        cJSON_AddItemToArray(missing, cJSON_CreateString(msg));
    }
    if (json) {
        if (json_dumps_py(&out, doc, 2, false) < 0 || buf_putc(&out, '\n') < 0) {
            err_set(&e, ERR_NOMEM, "out of memory");
            goto fail;
        }
    } else {
        render_md(&out, doc);
    }
    if (d.out) {
        if (file_write_atomic(d.out, out.data, out.len, &e) < 0) goto fail;
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    goto done;
fail:
    status = cmd_fail("diff", &e);
done:
    cJSON_Delete(doc);
    buf_release(&out);
    runset_release(&sets[0]);
    runset_release(&sets[1]);
    opts_release(&res);
    str_list_release(&d.label);
    return status;
}

const command_def cmd_diff_def = {
    .name = "diff",
    .summary = "why two runs disagree: settings, prompts, answers, grading",
    .usage = "tally diff DIR_A DIR_B [--format md|json] [--no-rescore] [options]",
    .details =
        "Lists every manifest field that differs (model file hash, quant types, chat template,\n"
        "BOS handling, stop strings, token cap, sampling, scorer mode, tally version), marking\n"
        "those that change what is measured; per shared item whether the prompt bytes or token\n"
        "ids differ and whether the answer changed; and splits the score gap into \"the answers\n"
        "changed\" and \"the grading changed\" by scoring A's answers with B's scoring settings\n"
        "and B's with A's, in memory (the run directories are not written).\n",
    .opts = diff_opt_defs,
    .main = cmd_diff_main,
};
