/* runset.c: loading run directories for compare, report and diff. */
#include "runset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/strmap.h"

static bool is_run_dir(const char *dir)
{
    buf p = BUF_INIT;
    path_join(&p, dir, "manifest.json");
    bool yes = file_exists(p.data);
    if (!yes) {
        path_join(&p, dir, "results.json");
        yes = file_exists(p.data);
    }
    buf_release(&p);
    return yes;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *base_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    return strndup(path + s, n - s);
}

static int load_object(const char *dir, const char *name, cJSON **out, err *e)
{
    *out = NULL;
    buf p = BUF_INIT;
    path_join(&p, dir, name);
    int rc = 0;
    if (file_exists(p.data)) {
        rc = json_parse_file(p.data, out, e);
        if (rc == 0 && !cJSON_IsObject(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
            rc = err_set(e, ERR_PARSE, "%s: not a JSON object", p.data);
        }
    }
    buf_release(&p);
    return rc;
}

static void task_release(run_task *t)
{
    free(t->path);
    free(t->name);
    cJSON_Delete(t->manifest);
    cJSON_Delete(t->results);
    cJSON_Delete(t->info);
    eval_loaded_release(&t->scores);
    arena_release(&t->a);
    arena_release(&t->scratch);
    arena_release(&t->data);
    memset(t, 0, sizeof *t);
}

static int task_load(run_task *t, const char *dir, err *e)
{
    memset(t, 0, sizeof *t);
    t->scores = (eval_loaded)EVAL_LOADED_INIT;
    int rc;
    t->path = strdup(dir);
    if (!t->path) return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = load_object(dir, "manifest.json", &t->manifest, e)) < 0) return rc;
    if ((rc = load_object(dir, "results.json", &t->results, e)) < 0) return rc;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(t->manifest, "task");
    if (!cJSON_IsString(n)) n = cJSON_GetObjectItemCaseSensitive(t->results, "task");
    t->name = cJSON_IsString(n) ? strdup(n->valuestring) : base_name(dir);
    if (!t->name) return err_set(e, ERR_NOMEM, "out of memory");
    t->task = task_find(t->name);
    buf p = BUF_INIT;
    path_join(&p, dir, "scores.jsonl");
    if (file_exists(p.data)) {
        rc = eval_load_scores(p.data, &t->scores, e);
        t->has_scores = rc == 0;
    }
    buf_release(&p);
    if (rc < 0) return rc;
    eval_overrides ov = {0};
    eval_options_from_manifest(t->manifest, &ov, &t->a, &t->opts);
    t->info = cJSON_CreateObject();
    if (!t->info) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

int runset_open(run_set *rs, const char *dir, err *e)
{
    memset(rs, 0, sizeof *rs);
    char **subs = NULL;
    size_t n_sub = 0, cap = 0;
    int rc = 0;
    rs->arg = strdup(dir);
    if (!rs->arg) return err_set(e, ERR_NOMEM, "out of memory");
    if (is_run_dir(dir)) {
        subs = malloc(sizeof *subs);
        if (!subs || !(subs[0] = strdup(dir)))
            rc = err_set(e, ERR_NOMEM, "out of memory");
        else
            n_sub = 1;
    } else {
        DIR *dp = opendir(dir);
        if (!dp) rc = err_errno(e, "%s: cannot read the directory", dir);
        struct dirent *de;
        buf p = BUF_INIT;
        while (dp && (de = readdir(dp))) {
            if (de->d_name[0] == '.') continue;
            path_join(&p, dir, de->d_name);
            if (!dir_exists(p.data) || !is_run_dir(p.data)) continue;
            if (n_sub == cap) {
                cap = cap ? cap * 2 : 8;
                char **ns = realloc(subs, cap * sizeof *ns);
                if (!ns) {
                    rc = err_set(e, ERR_NOMEM, "out of memory");
                    break;
                }
                subs = ns;
            }
            if (!(subs[n_sub] = strdup(p.data))) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            n_sub++;
        }
        if (dp) closedir(dp);
        buf_release(&p);
        if (rc == 0 && !n_sub)
            rc = err_set(e, ERR_NOTFOUND,
                         "%s: not a run directory (no manifest.json or results.json here or in "
                         "its subdirectories)",
                         dir);
        if (n_sub) qsort(subs, n_sub, sizeof *subs, cmp_names);
    }
    if (rc == 0 && n_sub) {
        rs->tasks = calloc(n_sub, sizeof *rs->tasks);
        if (!rs->tasks) rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_sub && rc == 0; i++) {
        rc = task_load(&rs->tasks[i], subs[i], e);
        rs->n++;
    }
    for (size_t i = 0; i < n_sub; i++) free(subs[i]);
    free(subs);
    if (rc < 0) runset_release(rs);
    return rc;
}

void runset_release(run_set *rs)
{
    for (size_t i = 0; i < rs->n; i++) task_release(&rs->tasks[i]);
    free(rs->tasks);
    free(rs->arg);
    free(rs->label);
    memset(rs, 0, sizeof *rs);
}

size_t runset_attach_items(run_set *rs, const char *data_dir)
{
    size_t attached = 0;
    for (size_t i = 0; i < rs->n; i++) {
        run_task *t = &rs->tasks[i];
        if (!t->task || !t->has_scores || t->attached || !t->task->load) continue;
        task_options o = t->opts;
        arena scratch = ARENA_INIT;
        if (data_dir)
            o.data_dir = data_dir;
        else {
            eval_overrides ov = {0};
            eval_options_from_manifest(t->manifest, &ov, &scratch, &o);
        }
        item_set all;
        strmap ids = STRMAP_INIT;
        err e = ERR_INIT;
        if (t->task->load(&o, t->task->arg, &t->data, &all, &e) == 0) {
            const cJSON *want = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(t->manifest, "dataset"), "sha256");
            bool same =
                !cJSON_IsString(want) || !all.sha256 || !strcmp(want->valuestring, all.sha256);
            bool ok = same;
            for (size_t k = 0; ok && k < all.n; k++)
                ok = strmap_put(&ids, all.items[k].id, strlen(all.items[k].id), k) == 0;
            for (size_t k = 0; ok && k < t->scores.n_items; k++) {
                size_t v;
                const char *id = t->scores.items[k].id;
                if (strmap_get(&ids, id, strlen(id), &v))
                    t->scores.items[k].data = all.items[v].data;
            }
            if (ok) {
                t->attached = true;
                attached++;
            }
        }
        strmap_release(&ids);
        arena_release(&scratch);
    }
    return attached;
}

void run_flips_release(run_flips *f)
{
    free(f->ids_a);
    free(f->ids_b);
    memset(f, 0, sizeof *f);
}

int runset_flips(const run_task *a, const run_task *b, size_t max, run_flips *out, err *e)
{
    memset(out, 0, sizeof *out);
    out->metric = "outcome";
    if (!a->has_scores || !b->has_scores || !a->scores.n) return 0;
    const char *metric = a->task && a->task->metrics ? a->task->metrics[0] : NULL;
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(a->scores.recs[0].fields, "metrics");
    if (metric && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(first, metric)))
        out->metric = metric;
    else
        metric = NULL;
    strmap in_b = STRMAP_INIT;
    out->ids_a = calloc(max ? max : 1, sizeof *out->ids_a);
    out->ids_b = calloc(max ? max : 1, sizeof *out->ids_b);
    if (!out->ids_a || !out->ids_b) goto nomem;
    for (size_t j = 0; j < b->scores.n; j++) {
        const char *id = b->scores.views[j].it->id;
        if (b->scores.views[j].sample == 0 && strmap_put(&in_b, id, strlen(id), j) < 0) goto nomem;
    }
    for (size_t i = 0; i < a->scores.n; i++) {
        size_t j;
        const char *id = a->scores.views[i].it->id;
        if (a->scores.views[i].sample != 0 || !strmap_get(&in_b, id, strlen(id), &j)) continue;
        const score_record *rr[2] = {&a->scores.recs[i], &b->scores.recs[j]};
        bool ok[2];
        for (int k = 0; k < 2; k++) {
            const cJSON *mv =
                metric ? cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(rr[k]->fields, "metrics"), metric)
                       : NULL;
            int oc = cJSON_IsString(mv) ? outcome_from_name(mv->valuestring) : rr[k]->outcome;
            ok[k] = oc == OUTCOME_CORRECT;
        }
        if (ok[0] && ok[1])
            out->both++;
        else if (!ok[0] && !ok[1])
            out->neither++;
        else if (ok[0]) {
            if (out->n_ids_a < max) out->ids_a[out->n_ids_a++] = id;
            out->only_a++;
        } else {
            if (out->n_ids_b < max) out->ids_b[out->n_ids_b++] = id;
            out->only_b++;
        }
    }
    strmap_release(&in_b);
    return 0;
nomem:
    strmap_release(&in_b);
    run_flips_release(out);
    return err_set(e, ERR_NOMEM, "out of memory");
}

run_task *runset_find(const run_set *rs, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->tasks[i].name, name) == 0) return &rs->tasks[i];
    return NULL;
}

int runset_label_all(run_set *sets, size_t n, const char *const *labels, size_t n_labels, err *e)
{
    for (size_t i = 0; i < n; i++) {
        free(sets[i].label);
        sets[i].label = i < n_labels ? strdup(labels[i]) : base_name(sets[i].arg);
        if (!sets[i].label) return err_set(e, ERR_NOMEM, "out of memory");
    }
    /* two columns must not share a name: a derived name falls back to the path
     * given, and what still clashes gets its position appended */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                if (strcmp(sets[i].label, sets[j].label) != 0) continue;
                if (i < n_labels && j < n_labels)
                    return err_set(e, ERR_USAGE, "--label: \"%s\" names two runs", sets[i].label);
                size_t k = j < n_labels ? i : j;
                char *nl = malloc(strlen(pass ? sets[k].label : sets[k].arg) + 32);
                if (!nl) return err_set(e, ERR_NOMEM, "out of memory");
                if (pass == 0)
                    strcpy(nl, sets[k].arg);
                else
                    sprintf(nl, "%s (%zu)", sets[k].label, k + 1);
                free(sets[k].label);
                sets[k].label = nl;
            }
    return 0;
}

/* The aggregate of a known task, from stored records. */
static int aggregate_cb(void *ctx, const sample_view *v, const score_record *r, size_t n,
                        cJSON *metrics, err *e)
{
    run_task *t = ctx;
    arena_reset(&t->scratch);
    score_ctx c = {&t->opts, t->task->arg, &t->scratch, t->info};
    return eval_aggregate(t->task, &c, v, r, n, metrics, e);
}

int runset_cmp_runs(run_set *sets, size_t n, cmp_run **runs_out, cmp_task_run **tasks_out, err *e)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += sets[i].n;
    cmp_run *runs = calloc(n ? n : 1, sizeof *runs);
    cmp_task_run *tasks = calloc(total ? total : 1, sizeof *tasks);
    if (!runs || !tasks) {
        free(runs);
        free(tasks);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        runs[i].label = sets[i].label ? sets[i].label : sets[i].arg;
        runs[i].tasks = &tasks[k];
        runs[i].n_tasks = sets[i].n;
        for (size_t j = 0; j < sets[i].n; j++, k++) {
            run_task *t = &sets[i].tasks[j];
            cmp_task_run *c = &tasks[k];
            c->task = t->name;
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(t->manifest, "benchmark");
            c->benchmark = cJSON_IsString(b) ? b->valuestring : t->task ? t->task->benchmark : NULL;
            c->path = t->path;
            c->manifest = t->manifest;
            c->results = t->results;
            c->metrics = t->task ? t->task->metrics : NULL;
            if (t->has_scores) {
                c->views = t->scores.views;
                c->recs = t->scores.recs;
                c->n = t->scores.n;
            }
            if (t->task && t->has_scores) {
                c->aggregate = aggregate_cb;
                c->aggregate_ctx = t;
            }
        }
    }
    *runs_out = runs;
    *tasks_out = tasks;
    return 0;
}

/* ---- compare's input files ---- */

int runset_load_reference(const char *path, cJSON **doc_out, cmp_reference *ref, err *e)
{
    *doc_out = NULL;
    memset(ref, 0, sizeof *ref);
    cJSON *doc = NULL;
    int rc = json_parse_file(path, &doc, e);
    if (rc < 0) return err_prefix(e, "--reference");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
    if (!cJSON_IsObject(doc) || !cJSON_IsObject(m)) {
        cJSON_Delete(doc);
        return err_set(e, ERR_PARSE,
                       "--reference %s: expected {\"name\": ..., \"metrics\": {\"TASK/METRIC\": "
                       "points, ...}}",
                       path);
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, m)
    {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            rc = err_set(e, ERR_PARSE, "--reference %s: \"%s\" is not a number (got %s)", path,
                         x->string, json_type_name(x));
            cJSON_Delete(doc);
            return rc;
        }
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
    if (name && !cJSON_IsString(name)) {
        cJSON_Delete(doc);
        return err_set(e, ERR_PARSE, "--reference %s: \"name\" is not a string", path);
    }
    ref->values = m;
    if (name) {
        ref->label = name->valuestring;
    } else {
        const char *slash = strrchr(path, '/');
        ref->label = slash ? slash + 1 : path;
    }
    *doc_out = doc;
    return 0;
}

int runset_load_gates(const char *path, cJSON **doc_out, cmp_gate **gates_out, size_t *n_out,
                      double *default_out, err *e)
{
    *doc_out = NULL;
    *gates_out = NULL;
    *n_out = 0;
    *default_out = NAN;
    cJSON *doc = NULL;
    int rc = json_parse_file(path, &doc, e);
    if (rc < 0) return err_prefix(e, "--gates");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "gates");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "default");
    if (!cJSON_IsObject(doc) || (g && !cJSON_IsObject(g)) || (!g && !d)) {
        cJSON_Delete(doc);
        return err_set(e, ERR_PARSE,
                       "--gates %s: expected {\"default\": points, \"gates\": {\"TASK/METRIC\": "
                       "points or null, ...}}",
                       path);
    }
    if (d) {
        if (!cJSON_IsNumber(d) || !(d->valuedouble >= 0)) {
            cJSON_Delete(doc);
            return err_set(e, ERR_PARSE, "--gates %s: \"default\" is not a number of points >= 0",
                           path);
        }
        *default_out = d->valuedouble;
    }
    size_t n = (size_t)cJSON_GetArraySize(g);
    cmp_gate *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        cJSON_Delete(doc);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    const cJSON *x;
    size_t k = 0;
    cJSON_ArrayForEach(x, g)
    {
        if (!cJSON_IsNull(x) && (!cJSON_IsNumber(x) || !(x->valuedouble >= 0))) {
            rc = err_set(e, ERR_PARSE,
                         "--gates %s: gate \"%s\" is not a number of points >= 0 or null", path,
                         x->string);
            free(v);
            cJSON_Delete(doc);
            return rc;
        }
        v[k].pattern = x->string;
        v[k++].points = cJSON_IsNull(x) ? NAN : x->valuedouble;
    }
    *doc_out = doc;
    *gates_out = v;
    *n_out = k;
    return 0;
}

int runset_parse_max_failures(const char *s, size_t *count_out, double *rate_out, err *e)
{
    *count_out = SIZE_MAX;
    *rate_out = NAN;
    char *end = NULL;
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '%') {
        double v = strtod(s, &end);
        if (end != s + len - 1 || !(v >= 0 && v <= 100))
            return err_set(e, ERR_USAGE, "--max-failures: \"%s\" is not a percentage", s);
        *rate_out = v / 100;
        return 0;
    }
    if (strchr(s, '.')) {
        double v = strtod(s, &end);
        if (!len || *end || !(v >= 0 && v <= 1))
            return err_set(e, ERR_USAGE,
                           "--max-failures: \"%s\" is not a fraction in [0, 1] (or a count, or "
                           "P%%)",
                           s);
        *rate_out = v;
        return 0;
    }
    if (!len || s[0] == '-')
        return err_set(e, ERR_USAGE, "--max-failures: \"%s\" is not a count", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return err_set(e, ERR_USAGE, "--max-failures: \"%s\" is not a count", s);
    *count_out = (size_t)v;
    return 0;
}

/* ---- the comparison job compare and report share ---- */

void cmp_job_release(cmp_job *j)
{
    for (size_t i = 0; i < j->n_sets; i++) runset_release(&j->sets[i]);
    free(j->sets);
    for (size_t i = 0; i < j->n_refs; i++) cJSON_Delete(j->ref_docs[i]);
    free(j->ref_docs);
    free(j->refs);
    cJSON_Delete(j->gates_doc);
    free(j->gates);
    free(j->runs);
    free(j->task_runs);
    cmp_release(&j->table);
    memset(j, 0, sizeof *j);
}

int cmp_job_run(cmp_job *j, const char *const *dirs, size_t n_dirs, const str_list *labels,
                const str_list *refs, cmp_settings *s, err *e)
{
    int rc;
    j->sets = calloc(n_dirs, sizeof *j->sets);
    j->ref_docs = calloc(refs->n ? refs->n : 1, sizeof *j->ref_docs);
    j->refs = calloc(refs->n ? refs->n : 1, sizeof *j->refs);
    if (!j->sets || !j->ref_docs || !j->refs) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_dirs; i++) {
        if ((rc = runset_open(&j->sets[i], dirs[i], e)) < 0) return rc;
        j->n_sets++;
        runset_attach_items(&j->sets[i], j->data_dir);
    }
    if ((rc = runset_label_all(j->sets, j->n_sets, labels->v, labels->n, e)) < 0) return rc;
    for (size_t i = 0; i < refs->n; i++) {
        if ((rc = runset_load_reference(refs->v[i], &j->ref_docs[i], &j->refs[i], e)) < 0)
            return rc;
        j->n_refs++;
    }
    s->refs = j->refs;
    s->n_refs = j->n_refs;
    if ((rc = runset_cmp_runs(j->sets, j->n_sets, &j->runs, &j->task_runs, e)) < 0) return rc;
    return cmp_build(&j->table, j->runs, j->n_sets, s, e);
}
