/* evaluate.c: selection, scoring, results, the printed table. */
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/strmap.h"
#include "scorers/metric.h"
#include "cmd.h"

/* ---- selection ---- */

static int parse_shard(const char *s, long *i, long *n, err *e)
{
    char *end;
    *i = strtol(s, &end, 10);
    if (end == s || *end != '/')
        return err_set(e, ERR_USAGE, "--shard: \"%s\" is not I/N (for example 0/4)", s);
    const char *p = end + 1;
    *n = strtol(p, &end, 10);
    if (end == p || *end || *n < 1 || *i < 0 || *i >= *n)
        return err_set(e, ERR_USAGE, "--shard: \"%s\" must be I/N with 0 <= I < N", s);
    return 0;
}

int eval_select(const item_set *all, const selection *sel, arena *a, const item ***out,
                size_t *n_out, err *e)
{
    *out = NULL;
    *n_out = 0;
    int ret = 0;
    buf ids = BUF_INIT, missing = BUF_INIT;
    strmap index = STRMAP_INIT;
    bool *chosen = calloc(all->n ? all->n : 1, sizeof *chosen);
    if (!chosen) return err_set(e, ERR_NOMEM, "out of memory");
    long si = 0, sn = 1;
    if (sel->shard && (ret = parse_shard(sel->shard, &si, &sn, e)) < 0) goto out;
    if (sel->limit < 0) {
        ret = err_set(e, ERR_USAGE, "--limit: must be at least 1");
        goto out;
    }
    if (sel->ids) {
        if (sel->ids[0] == '@') {
            if ((ret = file_read_all(sel->ids + 1, &ids, e)) < 0) {
                err_prefix(e, "--ids");
                goto out;
            }
        } else {
            buf_puts(&ids, sel->ids);
        }
        for (size_t i = 0; i < all->n; i++)
            if (strmap_put(&index, all->items[i].id, strlen(all->items[i].id), i) < 0) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
        size_t n_missing = 0, n_named = 0;
        char *save = NULL;
        for (char *tok = strtok_r(ids.data, ",\n\r\t ", &save); tok;
             tok = strtok_r(NULL, ",\n\r\t ", &save)) {
            size_t v;
            n_named++;
            if (strmap_get(&index, tok, strlen(tok), &v)) chosen[v] = true;
            else {
                if (n_missing < 10) buf_printf(&missing, "%s\"%s\"", n_missing ? ", " : "", tok);
                n_missing++;
            }
        }
        if (n_missing) {
            ret = err_set(e, ERR_USAGE, "--ids: %zu id%s not in the dataset: %s%s (ids look like \"%s\")",
                          n_missing, n_missing == 1 ? " is" : "s are", missing.data,
                          n_missing > 10 ? ", ..." : "", all->n ? all->items[0].id : "?");
            goto out;
        }
        if (!n_named) {
            ret = err_set(e, ERR_USAGE, "--ids: no ids given");
            goto out;
        }
    } else {
        for (size_t i = 0; i < all->n; i++) chosen[i] = true;
    }
    const item **list = arena_calloc(a, all->n ? all->n : 1, sizeof *list);
    if (!list) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n = 0, pos = 0;
    for (size_t i = 0; i < all->n; i++) {
        if (!chosen[i]) continue;
        if (sel->limit && pos >= (size_t)sel->limit) break;
        if ((long)(pos % (size_t)sn) == si) list[n++] = &all->items[i];
        pos++;
    }
    *out = list;
    *n_out = n;
out:
    free(chosen);
    strmap_release(&index);
    buf_release(&ids);
    buf_release(&missing);
    return ret;
}

cJSON *eval_selection_json(const selection *sel, size_t n_items)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (sel->ids) cJSON_AddStringToObject(o, "ids", sel->ids);
    if (sel->limit) cJSON_AddNumberToObject(o, "limit", sel->limit);
    if (sel->shard) cJSON_AddStringToObject(o, "shard", sel->shard);
    cJSON_AddNumberToObject(o, "items", (double)n_items);
    return o;
}

/* ---- prompts ---- */

static void hash_field(hash_ctx *h, const char *tag, const char *s)
{
    hash_update(h, tag, strlen(tag) + 1);
    if (s) hash_update(h, s, strlen(s) + 1);
    else hash_update(h, "\x01", 1);
}

void eval_prompt_sha256(const prompt *p, char hex[65])
{
    hash_ctx h;
    if (hash_init(&h) < 0) {
        hex[0] = 0;
        return;
    }
    if (p->text) {
        hash_update(&h, p->text, strlen(p->text));
    } else {
        for (size_t i = 0; i < p->n_messages; i++) {
            hash_field(&h, "role", p->messages[i].role);
            hash_field(&h, "content", p->messages[i].content);
            hash_field(&h, "tool_calls", p->messages[i].tool_calls);
            hash_field(&h, "tool_call_id", p->messages[i].tool_call_id);
        }
        hash_field(&h, "prefix", p->assistant_prefix);
        hash_field(&h, "tools", p->tools);
    }
    hash_final_hex(&h, hex);
}

void eval_cut_at_stop(char *text, const prompt *p)
{
    if (!text) return;
    char *cut = NULL;
    for (size_t i = 0; i < p->n_stop; i++) {
        if (!p->stop[i] || !p->stop[i][0]) continue;
        char *hit = strstr(text, p->stop[i]);
        if (hit && (!cut || hit < cut)) cut = hit;
    }
    if (cut) *cut = 0;
}

/* ---- scoring ---- */

static void view_of(const cJSON *doc, const item *it, int sample, sample_view *v)
{
    memset(v, 0, sizeof *v);
    v->it = it;
    v->sample = sample;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "completion");
    v->completion = cJSON_IsString(c) ? c->valuestring : "";
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "reasoning");
    v->reasoning = cJSON_IsString(r) ? r->valuestring : NULL;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(doc, "tool_calls");
    v->tool_calls = cJSON_IsArray(tc) ? tc : NULL;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(doc, "finish_reason");
    v->finish_reason = cJSON_IsString(fr) ? fr->valuestring : "stop";
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(doc, "error");
    if (cJSON_IsString(er)) {
        v->error = er->valuestring;
        const cJSON *ek = cJSON_GetObjectItemCaseSensitive(doc, "error_kind");
        v->error_kind = cJSON_IsNumber(ek) ? ek->valueint : SAMPLE_ERR_API;
        if (v->error_kind == SAMPLE_OK) v->error_kind = SAMPLE_ERR_API;
    }
}

/* The default aggregate: per metric, the share of samples whose outcome for it is "correct". */
static int default_aggregate(const task_def *t, const score_record *r, size_t n, cJSON *metrics,
                             err *e)
{
    for (size_t m = 0; t->metrics && t->metrics[m]; m++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            int oc = r[i].outcome;
            const cJSON *mm = cJSON_GetObjectItemCaseSensitive(r[i].fields, "metrics");
            const cJSON *mv = cJSON_GetObjectItemCaseSensitive(mm, t->metrics[m]);
            if (cJSON_IsString(mv)) oc = outcome_from_name(mv->valuestring);
            if (oc == OUTCOME_CORRECT) k++;
        }
        if (metric_put(metrics, t->metrics[m], metric_proportion(k, n)) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

int eval_aggregate(const task_def *t, const score_ctx *c, const sample_view *v,
                   const score_record *r, size_t n, cJSON *metrics, err *e)
{
    if (t->aggregate) return t->aggregate(c, v, r, n, metrics, e);
    return default_aggregate(t, r, n, metrics, e);
}

void eval_scored_release(eval_scored *s)
{
    for (size_t i = 0; i < s->n && s->recs; i++) score_record_release(&s->recs[i]);
    free(s->views);
    free(s->recs);
    cJSON_Delete(s->info);
    arena_release(&s->a);
    *s = (eval_scored)EVAL_SCORED_INIT;
}

int eval_score_samples(const task_def *t, const task_options *o, const item *const *items,
                       size_t n_items, int samples, const sample_store *st, const char *where,
                       eval_scored *out, err *e)
{
    *out = (eval_scored)EVAL_SCORED_INIT;
    size_t n = n_items * (size_t)samples;
    int ret = 0;
    out->views = calloc(n ? n : 1, sizeof *out->views);
    out->recs = calloc(n ? n : 1, sizeof *out->recs);
    out->info = cJSON_CreateObject();
    if (!out->views || !out->recs || !out->info) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_items; i++) {
        for (int s = 0; s < samples; s++) {
            const cJSON *doc = samples_get(st, items[i]->id, s);
            if (!doc) {
                ret = err_set(e, ERR_NOTFOUND,
                              "%s: no sample %d of item \"%s\" in samples.jsonl; run `tally run` "
                              "into this directory to complete it",
                              where, s, items[i]->id);
                goto fail;
            }
            view_of(doc, items[i], s, &out->views[i * (size_t)samples + (size_t)s]);
        }
    }
    out->n = n;
    score_ctx ctx = {o, t->arg, &out->a, out->info};
    if ((ret = t->score(&ctx, out->views, n, out->recs, e)) < 0) {
        err_prefix(e, "scoring %s", t->name);
        goto fail;
    }
    /* a wrong answer whose generation hit the token cap is reported as truncated */
    for (size_t i = 0; i < n; i++) {
        int oc = out->recs[i].outcome;
        if ((oc == OUTCOME_WRONG || oc == OUTCOME_NO_ANSWER || oc == OUTCOME_PARSE_ERROR) &&
            out->views[i].finish_reason && strcmp(out->views[i].finish_reason, "length") == 0)
            out->recs[i].outcome = oc = OUTCOME_TRUNCATED;
        if (oc < 0 || oc >= OUTCOME_COUNT) {
            ret = err_set(e, ERR_INTERNAL, "scorer of %s gave an invalid outcome %d", t->name, oc);
            goto fail;
        }
        out->counts[oc]++;
        if (outcome_is_instrument_failure(oc)) out->n_fail++;
    }
    return 0;
fail:
    eval_scored_release(out);
    return ret;
}

int eval_scores_jsonl(const eval_scored *s, buf *lines, err *e)
{
    for (size_t i = 0; i < s->n; i++) {
        cJSON *line = cJSON_CreateObject();
        if (!line) return err_set(e, ERR_NOMEM, "out of memory");
        cJSON_AddStringToObject(line, "id", s->views[i].it->id);
        cJSON_AddNumberToObject(line, "sample", s->views[i].sample);
        cJSON_AddStringToObject(line, "outcome", outcome_name(s->recs[i].outcome));
        cJSON_AddNumberToObject(line, "score", s->recs[i].score);
        if (s->recs[i].reason) cJSON_AddStringToObject(line, "reason", s->recs[i].reason);
        else cJSON_AddNullToObject(line, "reason");
        if (s->recs[i].fields) {
            cJSON *f;
            cJSON_ArrayForEach(f, s->recs[i].fields)
            {
                cJSON *dup = cJSON_Duplicate(f, true);
                if (dup) cJSON_AddItemToObject(line, f->string, dup);
            }
        }
        char *txt = cJSON_PrintUnformatted(line);
        cJSON_Delete(line);
        if (!txt || buf_puts(lines, txt) < 0 || buf_putc(lines, '\n') < 0) {
            cJSON_free(txt);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        cJSON_free(txt);
    }
    return 0;
}

int eval_results_json(const task_def *t, const task_options *o, eval_scored *s, size_t n_items,
                      const char *run_label, cJSON **out, err *e)
{
    *out = NULL;
    int ret = 0;
    size_t n = s->n, n_clean = 0;
    sample_view *cv = calloc(n ? n : 1, sizeof *cv);
    score_record *cr = calloc(n ? n : 1, sizeof *cr);
    cJSON *results = cJSON_CreateObject();
    if (!cv || !cr || !results) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (outcome_is_instrument_failure(s->recs[i].outcome)) continue;
        cv[n_clean] = s->views[i];
        cr[n_clean++] = s->recs[i];
    }
    score_ctx ctx = {o, t->arg, &s->a, s->info};
    cJSON_AddStringToObject(results, "task", t->name);
    cJSON_AddStringToObject(results, "run", run_label ? run_label : "");
    cJSON_AddNumberToObject(results, "items", (double)n_items);
    cJSON_AddNumberToObject(results, "samples", (double)n);
    cJSON *metrics = cJSON_AddObjectToObject(results, "metrics");
    if ((ret = eval_aggregate(t, &ctx, s->views, s->recs, n, metrics, e)) < 0) goto out;
    if (s->n_fail) {
        cJSON *clean = cJSON_AddObjectToObject(results, "metrics_clean");
        if ((ret = eval_aggregate(t, &ctx, cv, cr, n_clean, clean, e)) < 0) goto out;
    }
    cJSON *oc = cJSON_AddObjectToObject(results, "outcomes");
    for (int k = 0; k < OUTCOME_COUNT; k++)
        if (s->counts[k]) cJSON_AddNumberToObject(oc, outcome_name(k), (double)s->counts[k]);
    cJSON_AddNumberToObject(results, "instrument_failures", (double)s->n_fail);
    cJSON *info = cJSON_Duplicate(s->info, true);
    if (!info) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    cJSON_AddItemToObject(results, "info", info);
    *out = results;
    results = NULL;
out:
    free(cv);
    free(cr);
    cJSON_Delete(results);
    return ret;
}

int eval_score(const task_def *t, const task_options *o, rundir *d, const item *const *items,
               size_t n_items, int samples, const sample_store *st, const char *run_label,
               cJSON **out, err *e)
{
    *out = NULL;
    eval_scored sc;
    buf lines = BUF_INIT, path = BUF_INIT;
    cJSON *results = NULL;
    int ret = eval_score_samples(t, o, items, n_items, samples, st, d->path, &sc, e);
    if (ret < 0) return ret;
    if ((ret = eval_scores_jsonl(&sc, &lines, e)) < 0) goto out;
    rundir_file(d, "scores.jsonl", &path);
    if ((ret = file_write_atomic(path.data, lines.data, lines.len, e)) < 0) goto out;
    if ((ret = eval_results_json(t, o, &sc, n_items, run_label ? run_label : d->path, &results,
                                 e)) < 0)
        goto out;
    if ((ret = rundir_write_json(d, "results.json", results, e)) < 0) goto out;
    *out = results;
    results = NULL;
out:
    cJSON_Delete(results);
    eval_scored_release(&sc);
    buf_release(&lines);
    buf_release(&path);
    return ret;
}

/* ---- scores.jsonl read back ---- */

void eval_loaded_release(eval_loaded *l)
{
    for (size_t i = 0; i < l->n && l->recs; i++) score_record_release(&l->recs[i]);
    free(l->items);
    free(l->views);
    free(l->recs);
    arena_release(&l->a);
    *l = (eval_loaded)EVAL_LOADED_INIT;
}

int eval_load_scores(const char *path, eval_loaded *out, err *e)
{
    *out = (eval_loaded)EVAL_LOADED_INIT;
    buf data = BUF_INIT;
    strmap ids = STRMAP_INIT;
    size_t *unit = NULL;
    size_t cap = 0, items_cap = 0;
    cJSON *doc = NULL;
    int ret = file_read_all(path, &data, e);
    if (ret < 0) goto out;
    line_iter it = line_iter_start(data.data, data.len);
    const char *line;
    size_t len;
    while (line_iter_next(&it, &line, &len)) {
        char where[1200];
        snprintf(where, sizeof where, "%s:%zu", path, it.lineno);
        if (len == 0) continue;
        if (it.last_unterminated && it.p >= it.end) {
            ret = err_set(e, ERR_PARSE,
                          "%s: the last line has no newline (a torn file; run `tally score` on "
                          "the run directory again)",
                          where);
            goto out;
        }
        if ((ret = json_parse(line, len, where, &doc, e)) < 0) goto out;
        const char *id, *oc, *reason = NULL;
        int64_t sample;
        if (!cJSON_IsObject(doc)) {
            ret = err_set(e, ERR_PARSE, "%s: not a JSON object", where);
            goto out;
        }
        if ((ret = json_get_str(doc, "id", where, &id, e)) < 0 ||
            (ret = json_get_int(doc, "sample", where, 0, INT32_MAX, &sample, e)) < 0 ||
            (ret = json_get_str(doc, "outcome", where, &oc, e)) < 0 ||
            (ret = json_opt_str(doc, "reason", where, &reason, e)) < 0)
            goto out;
        int outc = outcome_from_name(oc);
        if (outc < 0) {
            ret = err_set(e, ERR_PARSE, "%s: unknown outcome \"%s\"", where, oc);
            goto out;
        }
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "score");
        if (sc && !cJSON_IsNumber(sc)) {
            ret = err_set(e, ERR_PARSE, "%s: field \"score\" is not a number (got %s)", where,
                          json_type_name(sc));
            goto out;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            sample_view *nv = realloc(out->views, nc * sizeof *nv);
            if (nv) out->views = nv;
            score_record *nr = realloc(out->recs, nc * sizeof *nr);
            if (nr) out->recs = nr;
            size_t *nu = realloc(unit, nc * sizeof *nu);
            if (nu) unit = nu;
            if (!nv || !nr || !nu) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            cap = nc;
        }
        size_t u;
        if (!strmap_get(&ids, id, strlen(id), &u)) {
            if (out->n_items == items_cap) {
                size_t nc = items_cap ? items_cap * 2 : 256;
                item *ni = realloc(out->items, nc * sizeof *ni);
                if (!ni) {
                    ret = err_set(e, ERR_NOMEM, "out of memory");
                    goto out;
                }
                out->items = ni;
                items_cap = nc;
            }
            u = out->n_items;
            out->items[u] = (item){arena_strdup(&out->a, id), u, NULL};
            if (!out->items[u].id || strmap_put(&ids, id, strlen(id), u) < 0) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            out->n_items++;
        }
        score_record *r = &out->recs[out->n];
        sample_view *v = &out->views[out->n];
        memset(r, 0, sizeof *r);
        memset(v, 0, sizeof *v);
        r->outcome = outc;
        r->score = sc ? sc->valuedouble : 0;
        r->reason = reason ? arena_strdup(&out->a, reason) : NULL;
        v->sample = (int)sample;
        v->completion = "";
        v->finish_reason = "stop";
        unit[out->n++] = u;
        /* every other field is the task's own */
        static const char *const core[] = {"id", "sample", "outcome", "score", "reason"};
        for (size_t k = 0; k < sizeof core / sizeof core[0]; k++)
            cJSON_DeleteItemFromObjectCaseSensitive(doc, core[k]);
        if (cJSON_GetArraySize(doc) > 0) r->fields = doc;
        else cJSON_Delete(doc);
        doc = NULL;
    }
    /* the items array is final now: point the views at it */
    for (size_t i = 0; i < out->n; i++) out->views[i].it = &out->items[unit[i]];
out:
    cJSON_Delete(doc);
    free(unit);
    strmap_release(&ids);
    buf_release(&data);
    if (ret < 0) eval_loaded_release(out);
    return ret;
}

/* ---- options from a manifest ---- */

void eval_options_from_manifest(const cJSON *m, const eval_overrides *so, arena *a,
                                task_options *o)
{
    task_options_default(o);
    o->data_dir = cmd_data_dir(so->data_dir, a);
    const char *ps = json_str_at(m, "settings", "prompt_style");
    o->chat = ps && !strcmp(ps, "chat");
    o->shots = json_int_at(m, "settings", "shots", -1);
    o->samples = json_int_at(m, "settings", "samples", 1);
    const char *tm = json_str_at(m, "settings", "tool_mode");
    if (tm) o->tool_mode = arena_strdup(a, tm);
    const char *im = json_str_at(m, "scoring", "ifeval_mode");
    if (im) o->scorer_mode = arena_strdup(a, im);
    if (so->ifeval_mode) o->scorer_mode = so->ifeval_mode;
    o->langdetect_dir = so->langdetect_dir ? so->langdetect_dir : getenv("TALLY_LANGDETECT_PROFILES");
    o->jobs = so->jobs;
    o->exec_timeout_s = so->exec_timeout;
    if (!o->exec_timeout_s) {
        const cJSON *et = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(m, "scoring"), "exec_timeout_s");
        if (cJSON_IsNumber(et) && et->valuedouble > 0) o->exec_timeout_s = et->valuedouble;
    }
    o->python = so->python;
    const cJSON *us = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "scoring"),
                                                       "unsafe_no_sandbox");
    o->unsafe_no_sandbox = cJSON_IsTrue(us);
    const char *sm = json_str_at(m, "scoring", "sandbox_mode");
    o->sandbox_mode = so->sandbox_mode ? so->sandbox_mode : sm ? arena_strdup(a, sm) : NULL;
    o->cache_dir = cmd_cache_dir(so->cache_dir, a);
}

/* ---- printing ---- */

static bool is_listed(const task_def *t, const char *name)
{
    for (size_t i = 0; t->metrics && t->metrics[i]; i++)
        if (strcmp(t->metrics[i], name) == 0) return true;
    return false;
}

static void print_metric(FILE *f, int width, const char *name, const cJSON *metrics,
                         const cJSON *clean)
{
    metric_value m, c;
    if (metric_get(metrics, name, &m) < 0) return;
    fprintf(f, "  %-*s %7.2f   [%6.2f, %6.2f]  %6zu", width, name, 100 * m.value, 100 * m.lo,
            100 * m.hi, m.n);
    if (clean && metric_get(clean, name, &c) == 0) fprintf(f, "   %7.2f", 100 * c.value);
    fputc('\n', f);
}

void eval_print_results(FILE *f, const task_def *t, const cJSON *results, const char *label)
{
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(results, "metrics");
    const cJSON *clean = cJSON_GetObjectItemCaseSensitive(results, "metrics_clean");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(results, "items");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(results, "samples");
    fprintf(f, "%s: %d items, %d samples%s%s\n", t->name, items ? items->valueint : 0,
            samples ? samples->valueint : 0, label ? ", " : "", label ? label : "");
    int total = cJSON_GetArraySize(metrics);
    const cJSON *m;
    int width = 24;
    cJSON_ArrayForEach(m, metrics)
    {
        if ((is_listed(t, m->string) || total <= 16) && (int)strlen(m->string) > width)
            width = (int)strlen(m->string);
    }
    fprintf(f, "  %-*s %7s   %-16s  %6s%s\n", width, "metric", "%", "95% CI", "n",
            clean ? "   clean %" : "");
    for (size_t i = 0; t->metrics && t->metrics[i]; i++)
        print_metric(f, width, t->metrics[i], metrics, clean);
    int extra = 0;
    cJSON_ArrayForEach(m, metrics)
    {
        if (is_listed(t, m->string)) continue;
        if (total <= 16) print_metric(f, width, m->string, metrics, clean);
        else extra++;
    }
    if (extra) fprintf(f, "  (%d more metrics in results.json)\n", extra);
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(results, "outcomes");
    fprintf(f, "  outcomes:");
    cJSON_ArrayForEach(m, oc) fprintf(f, " %s %d", m->string, m->valueint);
    fputc('\n', f);
    /* what a scorer says about parts it did not score (BFCL's multi-turn categories) */
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(results, "info");
    const cJSON *part;
    cJSON_ArrayForEach(part, info)
    {
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(part, "not_scored");
        const cJSON *why;
        cJSON_ArrayForEach(why, ns)
        {
            if (cJSON_IsString(why)) fprintf(f, "  %s: %s\n", why->string, why->valuestring);
        }
        const cJSON *inc = cJSON_GetObjectItemCaseSensitive(part, "incomplete");
        if (cJSON_IsObject(inc) && inc->child) {
            fprintf(f, "  not reported (a category they combine did not run):");
            cJSON_ArrayForEach(why, inc) fprintf(f, " %s", why->string);
            fputc('\n', f);
        }
    }
    const cJSON *nf = cJSON_GetObjectItemCaseSensitive(results, "instrument_failures");
    if (nf && nf->valueint)
        fprintf(f, "  %d instrument failure%s (api_error, timeout, truncated) counted as wrong; "
                   "'clean %%' leaves them out\n",
                nf->valueint, nf->valueint == 1 ? "" : "s");
}

cJSON *eval_host_json(void)
{
    cJSON *h = cJSON_CreateObject();
    if (!h) return NULL;
    char name[256] = "";
    gethostname(name, sizeof name - 1);
    cJSON_AddStringToObject(h, "hostname", name);
    struct utsname u;
    if (uname(&u) == 0) {
        cJSON_AddStringToObject(h, "os", u.sysname);
        cJSON_AddStringToObject(h, "kernel", u.release);
        cJSON_AddStringToObject(h, "machine", u.machine);
    }
    cJSON_AddNumberToObject(h, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (fp) {
        char line[512];
        while (fgets(line, sizeof line, fp)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ') p++;
                    p[strcspn(p, "\n")] = 0;
                    cJSON_AddStringToObject(h, "cpu", p);
                }
                break;
            }
        }
        fclose(fp);
    }
    return h;
}
