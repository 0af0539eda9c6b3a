/* compare.c: runs side by side: rows, pairing by item, paired tests, gates. */
#include "compare.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/strmap.h"
#include "scorers/metric.h"
#include "stats.h"

void cmp_settings_default(cmp_settings *s)
{
    memset(s, 0, sizeof *s);
    s->alpha = 0.05;
    s->bootstrap = 1000;
    s->seed = 20250101;
    s->holm = true;
    s->fail_if_worse = NAN;
    s->max_failures = SIZE_MAX;
    s->max_failure_rate = NAN;
    s->max_ids = 20;
}

const char *cmp_test_name(int test)
{
    switch (test) {
    case CMP_TEST_MCNEMAR:
        return "mcnemar";
    case CMP_TEST_BOOTSTRAP:
        return "bootstrap";
    default:
        return "none";
    }
}

/* ---- small helpers on the table's arena ---- */

/* Grows an arena array to hold n + 1 elements (old contents copied). */
static void *agrow(arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
    if (old && n < *cap) return old;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = arena_calloc(a, nc, elem);
    if (!p) return NULL;
    if (old && n) memcpy(p, old, n * elem);
    *cap = nc;
    return p;
}

typedef struct strlist {
    const char **v;
    size_t n, cap;
} strlist;

static int strlist_add(arena *a, strlist *l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int strlist_add(arena *a, strlist *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    const char **nv = agrow(a, l->v, l->n, &l->cap, sizeof *nv);
    if (!s || !nv) return ERR_NOMEM;
    l->v = nv;
    l->v[l->n++] = s;
    return 0;
}

/* ---- manifests ---- */

/* Well-known manifest keys: what they are and whether they change what is
 * measured. Matched in order: a row ending in '.' matches the prefix, a row
 * starting with '*' matches a last segment containing the rest. */
static const struct {
    const char *key;
    int kind;
    const char *what;
} field_table[] = {
    {"task", CMP_FIELD_DEFINING, "task"},
    {"benchmark", CMP_FIELD_DEFINING, "benchmark"},
    {"dataset.sha256", CMP_FIELD_DEFINING, "dataset file sha256"},
    {"dataset.items", CMP_FIELD_DEFINING, "items in the dataset"},
    {"dataset.path", CMP_FIELD_INCIDENTAL, "dataset path"},
    {"settings.prompt_style", CMP_FIELD_DEFINING, "prompt style"},
    {"settings.shots", CMP_FIELD_DEFINING, "few-shot exemplars"},
    {"settings.samples", CMP_FIELD_DEFINING, "samples per item"},
    {"settings.tool_mode", CMP_FIELD_DEFINING, "tool-call mode"},
    {"settings.temperature", CMP_FIELD_SETTING, "sampling"},
    {"settings.top_p", CMP_FIELD_SETTING, "sampling"},
    {"settings.top_k", CMP_FIELD_SETTING, "sampling"},
    {"settings.min_p", CMP_FIELD_SETTING, "sampling"},
    {"settings.repetition_penalty", CMP_FIELD_SETTING, "sampling"},
    {"settings.seed", CMP_FIELD_SETTING, "sampling seed"},
    {"settings.max_tokens", CMP_FIELD_SETTING, "token cap"},
    {"settings.chat_template", CMP_FIELD_SETTING, "chat template"},
    {"scoring.jobs", CMP_FIELD_INCIDENTAL, "scorer parallelism"},
    {"scoring.ifeval_mode", CMP_FIELD_DEFINING, "IFEval scorer mode"},
    {"scoring.exec_timeout_s", CMP_FIELD_DEFINING, "program time limit"},
    {"scoring.", CMP_FIELD_SETTING, "scorer setting"},
    {"runner.sha256", CMP_FIELD_SETTING, "model file sha256"},
    {"runner.model", CMP_FIELD_SETTING, "model"},
    {"runner.backend", CMP_FIELD_SETTING, "backend"},
    {"*template", CMP_FIELD_SETTING, "chat template"},
    {"*bos", CMP_FIELD_SETTING, "BOS handling"},
    {"*quant", CMP_FIELD_SETTING, "quant types"},
    {"*type", CMP_FIELD_SETTING, "quant types"},
    {"*stop", CMP_FIELD_SETTING, "stop strings"},
    {"runner.", CMP_FIELD_SETTING, NULL},
    {"tally_version", CMP_FIELD_SETTING, "tally version"},
    {"selection.", CMP_FIELD_SETTING, "item selection"},
    {"created", CMP_FIELD_INCIDENTAL, NULL},
    {"updated", CMP_FIELD_INCIDENTAL, NULL},
    {"finished", CMP_FIELD_INCIDENTAL, NULL},
    {"command", CMP_FIELD_INCIDENTAL, "command line"},
    {"host.", CMP_FIELD_INCIDENTAL, "host"},
};

int cmp_field_kind_of(const char *key, const char **what)
{
    const char *last = strrchr(key, '.');
    last = last ? last + 1 : key;
    for (size_t i = 0; i < sizeof field_table / sizeof field_table[0]; i++) {
        const char *k = field_table[i].key;
        size_t kl = strlen(k);
        bool hit;
        if (k[0] == '*')
            hit = strstr(last, k + 1) != NULL;
        else if (k[kl - 1] == '.')
            hit = strncmp(key, k, kl) == 0;
        else
            hit = strcmp(key, k) == 0;
        if (hit) {
            if (what) *what = field_table[i].what;
            return field_table[i].kind;
        }
    }
    if (what) *what = NULL;
    /* anything else under "settings" shapes generation; unknown top-level keys are settings too */
    return CMP_FIELD_SETTING;
}

typedef struct diffs {
    cmp_field_diff *v;
    size_t n, cap;
} diffs;

static char *value_text(arena *a, const cJSON *v)
{
    if (!v) return arena_strdup(a, "(not set)");
    char *s = cJSON_PrintUnformatted(v);
    char *r = arena_strdup(a, s ? s : "?");
    cJSON_free(s);
    return r;
}

static int add_diff(diffs *d, arena *a, const char *key, const cJSON *va, const cJSON *vb)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        cmp_field_diff *nv = realloc(d->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        d->v = nv;
        d->cap = nc;
    }
    cmp_field_diff *f = &d->v[d->n];
    f->key = arena_strdup(a, key);
    f->a = value_text(a, va);
    f->b = value_text(a, vb);
    f->kind = cmp_field_kind_of(key, &f->what);
    if (!f->key || !f->a || !f->b) return ERR_NOMEM;
    d->n++;
    return 0;
}

static int walk_diff(diffs *d, arena *a, const char *prefix, const cJSON *va, const cJSON *vb)
{
    int rc;
    if (cJSON_IsObject(va) && cJSON_IsObject(vb)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, va)
        {
            char *key = arena_printf(a, "%s%s%s", prefix, *prefix ? "." : "", x->string);
            if (!key) return ERR_NOMEM;
            if ((rc = walk_diff(d, a, key, x, cJSON_GetObjectItemCaseSensitive(vb, x->string))))
                return rc;
        }
        cJSON_ArrayForEach(x, vb)
        {
            if (cJSON_GetObjectItemCaseSensitive(va, x->string)) continue;
            char *key = arena_printf(a, "%s%s%s", prefix, *prefix ? "." : "", x->string);
            if (!key) return ERR_NOMEM;
            if ((rc = walk_diff(d, a, key, NULL, x))) return rc;
        }
        return 0;
    }
    if (va && vb && cJSON_Compare(va, vb, true)) return 0;
    return add_diff(d, a, prefix, va, vb);
}

static int cmp_diff_kind(const void *x, const void *y)
{
    const cmp_field_diff *a = x, *b = y;
    if (a->kind != b->kind) return a->kind - b->kind;
    return 0;
}

int cmp_manifest_diff(const cJSON *ma, const cJSON *mb, arena *a, cmp_field_diff **out,
                      size_t *n_out, err *e)
{
    diffs d = {0};
    *out = NULL;
    *n_out = 0;
    int rc = walk_diff(&d, a, "", ma, mb);
    if (rc < 0) {
        free(d.v);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    /* stable by kind: insertion order kept within a kind */
    for (size_t i = 1; i < d.n; i++) {
        cmp_field_diff x = d.v[i];
        size_t j = i;
        while (j > 0 && cmp_diff_kind(&d.v[j - 1], &x) > 0) {
            d.v[j] = d.v[j - 1];
            j--;
        }
        d.v[j] = x;
    }
    *out = d.v;
    *n_out = d.n;
    return 0;
}

/* ---- records grouped by item ---- */

typedef struct unitmap {
    strmap index; /* id -> unit */
    size_t n_units;
    const char **ids;    /* [n_units] */
    size_t *start, *len; /* [n_units]: slices of order[] */
    size_t *order;       /* record indices by unit, then sample */
    size_t max_len;
} unitmap;

static void unitmap_release(unitmap *u)
{
    strmap_release(&u->index);
    free(u->ids);
    free(u->start);
    free(u->len);
    free(u->order);
    memset(u, 0, sizeof *u);
}

static int unitmap_build(unitmap *u, const cmp_task_run *r)
{
    memset(u, 0, sizeof *u);
    size_t n = r->n;
    size_t *unit_of = malloc((n ? n : 1) * sizeof *unit_of);
    u->ids = malloc((n ? n : 1) * sizeof *u->ids);
    u->len = calloc(n ? n : 1, sizeof *u->len);
    u->start = calloc(n ? n : 1, sizeof *u->start);
    u->order = malloc((n ? n : 1) * sizeof *u->order);
    if (!unit_of || !u->ids || !u->len || !u->start || !u->order) goto nomem;
    for (size_t i = 0; i < n; i++) {
        const char *id = r->views[i].it && r->views[i].it->id ? r->views[i].it->id : "";
        size_t v;
        if (!strmap_get(&u->index, id, strlen(id), &v)) {
            v = u->n_units++;
            u->ids[v] = id;
            if (strmap_put(&u->index, id, strlen(id), v) < 0) goto nomem;
        }
        unit_of[i] = v;
        u->len[v]++;
    }
    size_t pos = 0;
    for (size_t v = 0; v < u->n_units; v++) {
        u->start[v] = pos;
        pos += u->len[v];
        if (u->len[v] > u->max_len) u->max_len = u->len[v];
        u->len[v] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        size_t v = unit_of[i];
        /* insertion by sample index within the unit */
        size_t *s = u->order + u->start[v];
        size_t j = u->len[v]++;
        while (j > 0 && r->views[s[j - 1]].sample > r->views[i].sample) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = i;
    }
    free(unit_of);
    return 0;
nomem:
    free(unit_of);
    unitmap_release(u);
    return ERR_NOMEM;
}

/* ---- building ---- */

typedef struct task_notes {
    strlist notes;
} task_notes;

typedef struct builder {
    cmp_table *t;
    const cmp_run *runs;
    const cmp_settings *s;
    size_t rows_cap, tasks_cap;
    strlist notes, messages;
    task_notes *tn; /* [n_tasks] */
    size_t tn_cap;
    double z;
    err *e;
} builder;

static const cmp_task_run *find_task(const cmp_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_tasks; i++)
        if (r->tasks[i].task && strcmp(r->tasks[i].task, name) == 0) return &r->tasks[i];
    return NULL;
}

static bool is_declared(const char *const *metrics, const char *name)
{
    for (size_t i = 0; metrics && metrics[i]; i++)
        if (strcmp(metrics[i], name) == 0) return true;
    return false;
}

static bool lower_better(const char *m)
{
    return strstr(m, "failure") || strstr(m, "error") || strncmp(m, "kl", 2) == 0 ||
           strstr(m, "perplexity") || strstr(m, "ppl");
}

/* A metric that is not a fraction: its object says "unit" (other than
 * "fraction"), or its name is a divergence or perplexity. */
static bool is_raw(const cJSON *m, const char *name)
{
    const char *unit = json_str_at(m, "unit", NULL);
    if (unit) return strcmp(unit, "fraction") != 0;
    return strncmp(name, "kl", 2) == 0 || strstr(name, "perplexity") || strstr(name, "ppl");
}

static const cJSON *metrics_of(const cmp_task_run *r)
{
    return r ? cJSON_GetObjectItemCaseSensitive(r->results, "metrics") : NULL;
}

static double ref_value(const cJSON *values, const char *task, const char *bench,
                        const char *metric, bool headline, const char *label, err *e, int *rc)
{
    char key[512];
    const char *cands[4];
    size_t nc = 0;
    snprintf(key, sizeof key, "%s/%s", task, metric);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(values, key);
    if (!v && bench) {
        snprintf(key, sizeof key, "%s/%s", bench, metric);
        v = cJSON_GetObjectItemCaseSensitive(values, key);
    }
    if (!v && headline) {
        cands[nc++] = task;
        if (bench) cands[nc++] = bench;
        for (size_t i = 0; i < nc && !v; i++) {
            v = cJSON_GetObjectItemCaseSensitive(values, cands[i]);
            snprintf(key, sizeof key, "%s", cands[i]);
        }
    }
    if (!v) return NAN;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        *rc = err_set(e, ERR_PARSE, "reference \"%s\": \"%s\" is not a number (got %s)", label, key,
                      json_type_name(v));
        return NAN;
    }
    return v->valuedouble / 100;
}

static cmp_row *new_row(builder *b, const char *task, const char *metric)
{
    cmp_table *t = b->t;
    cmp_row *nr = agrow(&t->a, t->rows, t->n_rows, &b->rows_cap, sizeof *nr);
    if (!nr) return NULL;
    t->rows = nr;
    cmp_row *r = &t->rows[t->n_rows];
    memset(r, 0, sizeof *r);
    r->task = arena_strdup(&t->a, task);
    r->metric = arena_strdup(&t->a, metric);
    r->cells = arena_calloc(&t->a, t->n_runs ? t->n_runs : 1, sizeof *r->cells);
    r->refs = arena_calloc(&t->a, t->n_refs ? t->n_refs : 1, sizeof *r->refs);
    if (!r->task || !r->metric || !r->cells || !r->refs) return NULL;
    r->delta = r->lo = r->hi = r->p = r->p_holm = r->mde = r->disagree = NAN;
    r->gate = NAN;
    r->comparable = true;
    t->n_rows++;
    return r;
}

/* The rows of one task: declared metrics, then the rest in results.json order. */
static int task_rows(builder *b, cmp_task *ct, const cmp_task_run *const *tr)
{
    cmp_table *t = b->t;
    const char *const *declared = NULL;
    const char *bench = NULL;
    for (size_t r = 0; r < t->n_runs; r++) {
        if (tr[r] && tr[r]->metrics && !declared) declared = tr[r]->metrics;
        if (tr[r] && tr[r]->benchmark && !bench) bench = tr[r]->benchmark;
    }
    strmap seen = STRMAP_INIT;
    int rc = 0;
    ct->first_row = t->n_rows;
    /* the candidate names in order: declared, then each run's results */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t r = 0; r < t->n_runs && rc == 0; r++) {
            const cJSON *m = metrics_of(tr[r]), *x;
            cJSON_ArrayForEach(x, m)
            {
                bool decl = declared ? is_declared(declared, x->string) : !strchr(x->string, '/');
                if ((pass == 0) != decl) continue;
                if (strmap_add(&seen, x->string, strlen(x->string), 0) != 1) continue;
                cmp_row *row = new_row(b, ct->task, x->string);
                if (!row) {
                    rc = ERR_NOMEM;
                    break;
                }
                if (!decl) {
                    const char *slash = strchr(x->string, '/');
                    row->group = slash
                                     ? arena_strndup(&t->a, x->string, (size_t)(slash - x->string))
                                     : "other";
                }
                row->lower_is_better = lower_better(x->string);
                row->raw = is_raw(x, x->string);
                for (size_t q = 0; q < t->n_runs; q++) {
                    metric_value mv;
                    if (metric_get(metrics_of(tr[q]), x->string, &mv) == 0) {
                        row->cells[q] = (cmp_cell){true, mv.value, mv.lo, mv.hi, mv.n};
                    }
                }
            }
        }
        /* declared metrics in their declared order, not in results order */
        if (pass == 0 && declared) {
            size_t k = ct->first_row;
            for (size_t d = 0; declared[d]; d++)
                for (size_t i = k; i < t->n_rows; i++)
                    if (strcmp(t->rows[i].metric, declared[d]) == 0) {
                        cmp_row tmp = t->rows[k];
                        t->rows[k] = t->rows[i];
                        t->rows[i] = tmp;
                        k++;
                        break;
                    }
        }
    }
    strmap_release(&seen);
    if (rc < 0) return err_set(b->e, ERR_NOMEM, "out of memory");
    ct->n_rows = t->n_rows - ct->first_row;
    if (ct->n_rows && !t->rows[ct->first_row].group) t->rows[ct->first_row].headline = true;
    /* references */
    for (size_t i = ct->first_row; i < t->n_rows; i++) {
        cmp_row *row = &t->rows[i];
        for (size_t f = 0; f < t->n_refs; f++) {
            row->refs[f] = ref_value(b->s->refs[f].values, ct->task, bench, row->metric,
                                     row->headline, b->s->refs[f].label, b->e, &rc);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* ---- pairing two runs of one task ---- */

typedef struct pairing {
    const cmp_task_run *ra, *rb;
    unitmap ua, ub;
    size_t n_shared;
    size_t *sa, *sb; /* shared units on each side, in A's order */
    bool single;     /* each shared unit has one record on both sides */
} pairing;

static void pairing_release(pairing *p)
{
    unitmap_release(&p->ua);
    unitmap_release(&p->ub);
    free(p->sa);
    free(p->sb);
    memset(p, 0, sizeof *p);
}

static int pairing_build(pairing *p, const cmp_task_run *ra, const cmp_task_run *rb)
{
    memset(p, 0, sizeof *p);
    p->ra = ra;
    p->rb = rb;
    if (unitmap_build(&p->ua, ra) < 0 || unitmap_build(&p->ub, rb) < 0) return ERR_NOMEM;
    size_t n = p->ua.n_units;
    p->sa = malloc((n ? n : 1) * sizeof *p->sa);
    p->sb = malloc((n ? n : 1) * sizeof *p->sb);
    if (!p->sa || !p->sb) return ERR_NOMEM;
    p->single = true;
    for (size_t u = 0; u < n; u++) {
        size_t v;
        const char *id = p->ua.ids[u];
        if (!strmap_get(&p->ub.index, id, strlen(id), &v)) continue;
        p->sa[p->n_shared] = u;
        p->sb[p->n_shared++] = v;
        if (p->ua.len[u] != 1 || p->ub.len[v] != 1) p->single = false;
    }
    return 0;
}

/* The outcome of record i for a metric: its "metrics" entry, else, for a
 * declared metric, the record's own outcome (the default aggregate's rule);
 * -1 when unknown. */
static int rec_outcome(const cmp_task_run *r, size_t i, const char *metric, bool declared)
{
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(r->recs[i].fields, "metrics");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(mm, metric);
    if (mv) return cJSON_IsString(mv) ? outcome_from_name(mv->valuestring) : -1;
    return declared ? r->recs[i].outcome : -1;
}

/* True when results.json's value of the metric is exactly the share of
 * correct outcomes over all the run's records: then it is a pass/fail metric. */
static bool is_pass_fail(const cmp_task_run *r, const cmp_row *row, const cmp_cell *cell)
{
    if (!cell->present || !r->n) return false;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        int oc = rec_outcome(r, i, row->metric, row->group == NULL);
        if (oc < 0) return false;
        if (oc == OUTCOME_CORRECT) k++;
    }
    return cell->n == r->n && fabs((double)k / (double)r->n - cell->value) <= 1e-9;
}

static int mcnemar_row(builder *b, const pairing *p, cmp_row *row)
{
    cmp_table *t = b->t;
    size_t fl[4] = {0};
    size_t cap = b->s->max_ids;
    const char **oa = arena_calloc(&t->a, cap ? cap : 1, sizeof *oa);
    const char **ob = arena_calloc(&t->a, cap ? cap : 1, sizeof *ob);
    if (!oa || !ob) return err_set(b->e, ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < p->n_shared; k++) {
        size_t ia = p->ua.order[p->ua.start[p->sa[k]]];
        size_t ib = p->ub.order[p->ub.start[p->sb[k]]];
        bool a = rec_outcome(p->ra, ia, row->metric, row->group == NULL) == OUTCOME_CORRECT;
        bool c = rec_outcome(p->rb, ib, row->metric, row->group == NULL) == OUTCOME_CORRECT;
        int f = a && c ? CMP_BOTH : a ? CMP_ONLY_A : c ? CMP_ONLY_B : CMP_NEITHER;
        if (f == CMP_ONLY_A && row->n_only_a < cap) oa[row->n_only_a++] = p->ua.ids[p->sa[k]];
        if (f == CMP_ONLY_B && row->n_only_b < cap) ob[row->n_only_b++] = p->ua.ids[p->sa[k]];
        fl[f]++;
    }
    memcpy(row->flips, fl, sizeof fl);
    row->only_a = oa;
    row->only_b = ob;
    row->test = CMP_TEST_MCNEMAR;
    row->n_shared = p->n_shared;
    uint64_t bb = fl[CMP_ONLY_A], cc = fl[CMP_ONLY_B];
    stats_paired_prop_diff(bb, cc, p->n_shared, b->z, &row->delta, &row->lo, &row->hi);
    row->p = stats_mcnemar_exact(bb, cc);
    row->disagree = p->n_shared ? (double)(bb + cc) / (double)p->n_shared : NAN;
    uint64_t gap = stats_mcnemar_min_gap(bb + cc, b->s->alpha);
    row->mde = gap == UINT64_MAX ? INFINITY : (double)gap / (double)p->n_shared;
    return 0;
}

/* The bootstrap's view of a pairing: resampled records for both runs. */
typedef struct boot_ctx {
    const pairing *p;
    const char **metrics;
    size_t n_metrics;
    item *draws;        /* [n_shared]: one item per draw, ids unique within a resample */
    size_t *copies;     /* [n_units of A]: draws of each unit so far */
    const char ***dups; /* [n_units of A]: cached "id#k" names, k >= 1 */
    size_t *dup_cap;
    sample_view *va, *vb;
    score_record *rca, *rcb;
    arena *a;
    char failed[ERR_MSG_SIZE];
} boot_ctx;

static const char *dup_id(boot_ctx *c, size_t u, size_t k)
{
    if (k == 0) return c->p->ua.ids[u];
    if (k >= c->dup_cap[u]) {
        size_t nc = c->dup_cap[u] ? c->dup_cap[u] * 2 : 4;
        while (nc <= k) nc *= 2;
        const char **nv = arena_calloc(c->a, nc, sizeof *nv);
        if (!nv) return NULL;
        if (c->dups[u]) memcpy(nv, c->dups[u], c->dup_cap[u] * sizeof *nv);
        c->dups[u] = nv;
        c->dup_cap[u] = nc;
    }
    if (!c->dups[u][k]) c->dups[u][k] = arena_printf(c->a, "%s#%zu", c->p->ua.ids[u], k + 1);
    return c->dups[u][k];
}

static size_t gather(const unitmap *um, const size_t *side, const cmp_task_run *r,
                     const size_t *idx, size_t n, const item *draws, sample_view *v,
                     score_record *rc)
{
    size_t m = 0;
    for (size_t d = 0; d < n; d++) {
        size_t u = side[idx[d]];
        for (size_t j = 0; j < um->len[u]; j++) {
            size_t i = um->order[um->start[u] + j];
            v[m] = r->views[i];
            v[m].it = &draws[d];
            rc[m++] = r->recs[i];
        }
    }
    return m;
}

static int boot_resample(void *ctx, const size_t *idx, size_t n, double *out, err *e)
{
    boot_ctx *c = ctx;
    const pairing *p = c->p;
    int rc = 0;
    cJSON *ma = cJSON_CreateObject(), *mb = cJSON_CreateObject();
    if (!ma || !mb) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t d = 0; d < n; d++) c->copies[p->sa[idx[d]]] = 0;
    for (size_t d = 0; d < n; d++) {
        size_t u = p->sa[idx[d]];
        const char *id = dup_id(c, u, c->copies[u]++);
        if (!id) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        /* the dataset's record rides along for aggregates that read it */
        const sample_view *first = &p->ra->views[p->ua.order[p->ua.start[u]]];
        c->draws[d] = (item){id, d, first->it ? first->it->data : NULL};
    }
    size_t na = gather(&p->ua, p->sa, p->ra, idx, n, c->draws, c->va, c->rca);
    size_t nb = gather(&p->ub, p->sb, p->rb, idx, n, c->draws, c->vb, c->rcb);
    if ((rc = p->ra->aggregate(p->ra->aggregate_ctx, c->va, c->rca, na, ma, e)) < 0) goto out;
    if ((rc = p->rb->aggregate(p->rb->aggregate_ctx, c->vb, c->rcb, nb, mb, e)) < 0) goto out;
    for (size_t s = 0; s < c->n_metrics; s++) {
        metric_value x, y;
        if (metric_get(ma, c->metrics[s], &x) == 0 && metric_get(mb, c->metrics[s], &y) == 0)
            out[s] = y.value - x.value;
        else
            out[s] = NAN;
    }
out:
    cJSON_Delete(ma);
    cJSON_Delete(mb);
    return rc;
}

static int bootstrap_rows(builder *b, const pairing *p, cmp_task *ct, cmp_row **rows, size_t nr)
{
    cmp_table *t = b->t;
    int ret = 0;
    size_t n = p->n_shared;
    boot_ctx c = {0};
    double *obs = NULL;
    size_t *ident = NULL;
    stats_boot *res = NULL;
    arena scratch = ARENA_INIT;
    c.p = p;
    c.a = &scratch;
    c.n_metrics = nr;
    c.metrics = malloc(nr * sizeof *c.metrics);
    c.draws = calloc(n, sizeof *c.draws);
    c.copies = calloc(p->ua.n_units ? p->ua.n_units : 1, sizeof *c.copies);
    c.dups = calloc(p->ua.n_units ? p->ua.n_units : 1, sizeof *c.dups);
    c.dup_cap = calloc(p->ua.n_units ? p->ua.n_units : 1, sizeof *c.dup_cap);
    size_t cap_a = n * (p->ua.max_len ? p->ua.max_len : 1);
    size_t cap_b = n * (p->ub.max_len ? p->ub.max_len : 1);
    c.va = calloc(cap_a, sizeof *c.va);
    c.rca = calloc(cap_a, sizeof *c.rca);
    c.vb = calloc(cap_b, sizeof *c.vb);
    c.rcb = calloc(cap_b, sizeof *c.rcb);
    obs = malloc(nr * sizeof *obs);
    ident = malloc(n * sizeof *ident);
    res = calloc(nr, sizeof *res);
    if (!c.metrics || !c.draws || !c.copies || !c.dups || !c.dup_cap || !c.va || !c.rca || !c.vb ||
        !c.rcb || !obs || !ident || !res) {
        ret = err_set(b->e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nr; i++) c.metrics[i] = rows[i]->metric;
    for (size_t i = 0; i < n; i++) ident[i] = i;
    err e2 = ERR_INIT;
    /* the observed differences on the shared items (and which metrics the
     * aggregate reproduces at all) */
    if (boot_resample(&c, ident, n, obs, &e2) < 0 ||
        stats_paired_bootstrap(n, nr, obs, b->s->bootstrap, b->s->seed, b->s->alpha, boot_resample,
                               &c, res, &e2) < 0) {
        if (e2.code == ERR_NOMEM) {
            ret = err_set(b->e, ERR_NOMEM, "out of memory");
            goto out;
        }
        /* an aggregate that cannot work from stored records: no test, said so */
        strlist_add(&t->a, &b->tn[ct - t->tasks].notes,
                    "no paired bootstrap: recomputing the metrics from scores.jsonl failed (%s)",
                    e2.msg);
        goto out;
    }
    for (size_t i = 0; i < nr; i++) {
        cmp_row *row = rows[i];
        if (isnan(obs[i]) || isnan(res[i].p)) continue;
        row->test = CMP_TEST_BOOTSTRAP;
        row->n_shared = n;
        row->delta = obs[i];
        row->lo = res[i].lo;
        row->hi = res[i].hi;
        row->p = res[i].p;
        row->mde = b->z * res[i].se;
    }
out:
    free(c.metrics);
    free(c.draws);
    free(c.copies);
    free(c.dups);
    free(c.dup_cap);
    free(c.va);
    free(c.rca);
    free(c.vb);
    free(c.rcb);
    free(obs);
    free(ident);
    free(res);
    arena_release(&scratch);
    return ret;
}

/* ---- what differs ---- */

static int task_compare(builder *b, cmp_task *ct, const cmp_task_run *ra, const cmp_task_run *rb,
                        const char *la, const char *lb)
{
    cmp_table *t = b->t;
    strlist *notes = &b->tn[ct - t->tasks].notes;
    cmp_field_diff *d = NULL;
    size_t nd = 0;
    int rc = 0;
    if (ra->manifest && rb->manifest) {
        if ((rc = cmp_manifest_diff(ra->manifest, rb->manifest, &t->a, &d, &nd, b->e)) < 0)
            return rc;
        for (size_t i = 0; i < nd && rc == 0; i++) {
            if (d[i].kind == CMP_FIELD_INCIDENTAL) continue;
            if (d[i].kind == CMP_FIELD_DEFINING) ct->comparable = false;
            char what[128] = "";
            if (d[i].what) snprintf(what, sizeof what, " (%s)", d[i].what);
            rc = strlist_add(&t->a, notes, "%s%s%s: %s in %s, %s in %s",
                             d[i].kind == CMP_FIELD_DEFINING ? "not comparable: " : "", d[i].key,
                             what, d[i].a, la, d[i].b, lb);
        }
        free(d);
    } else {
        rc = strlist_add(&t->a, notes, "no manifest.json in %s: settings cannot be checked",
                         ra->manifest ? lb : la);
    }
    if (rc < 0) return err_set(b->e, ERR_NOMEM, "out of memory");
    return 0;
}

static size_t count_failures(const cJSON *results)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(results, "instrument_failures");
    if (cJSON_IsNumber(f) && f->valuedouble >= 0) return (size_t)f->valuedouble;
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(results, "outcomes");
    size_t n = 0;
    const char *names[] = {"api_error", "timeout", "truncated"};
    for (size_t i = 0; i < 3; i++) n += (size_t)fmax(0, json_num_at(oc, names[i], NULL, 0));
    return n;
}

/* Pairs the two runs of a task: per-item tests of every row. */
static int task_pair(builder *b, cmp_task *ct, const cmp_task_run *ra, const cmp_task_run *rb)
{
    cmp_table *t = b->t;
    strlist *notes = &b->tn[ct - t->tasks].notes;
    pairing p;
    int ret = 0;
    cmp_row **boot = NULL;
    size_t nboot = 0;
    if (!ra->views || !rb->views) {
        ret = strlist_add(&t->a, notes, "no scores.jsonl in %s: no per-item tests",
                          !ra->views ? t->labels[0] : t->labels[1]);
        return ret < 0 ? err_set(b->e, ERR_NOMEM, "out of memory") : 0;
    }
    if (pairing_build(&p, ra, rb) < 0) {
        pairing_release(&p);
        return err_set(b->e, ERR_NOMEM, "out of memory");
    }
    ct->n_shared = p.n_shared;
    if (p.n_shared == 0) {
        ct->comparable = false;
        ret = strlist_add(&t->a, notes,
                          "not comparable: the runs share no item (%zu in %s, %zu in %s)",
                          p.ua.n_units, t->labels[0], p.ub.n_units, t->labels[1]);
        goto out;
    }
    if (p.n_shared != p.ua.n_units || p.n_shared != p.ub.n_units)
        ret = strlist_add(&t->a, notes,
                          "items: %zu in %s, %zu in %s, %zu shared; differences and tests use the "
                          "shared items, scores are each run's own",
                          p.ua.n_units, t->labels[0], p.ub.n_units, t->labels[1], p.n_shared);
    if (ret < 0) goto nomem;
    ct->paired = true;
    boot = malloc((ct->n_rows ? ct->n_rows : 1) * sizeof *boot);
    if (!boot) goto nomem;
    for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++) {
        cmp_row *row = &t->rows[i];
        if (!row->cells[0].present || !row->cells[1].present) continue;
        if (p.single && is_pass_fail(ra, row, &row->cells[0]) &&
            is_pass_fail(rb, row, &row->cells[1])) {
            if ((ret = mcnemar_row(b, &p, row)) < 0) goto out;
        } else if (ra->aggregate && rb->aggregate && b->s->bootstrap > 0) {
            boot[nboot++] = row;
        }
    }
    if (nboot && (ret = bootstrap_rows(b, &p, ct, boot, nboot)) < 0) goto out;
    goto out;
nomem:
    ret = err_set(b->e, ERR_NOMEM, "out of memory");
out:
    free(boot);
    pairing_release(&p);
    return ret;
}

/* ---- gates ---- */

static double gate_for(const cmp_settings *s, const cmp_row *row)
{
    char full[512];
    snprintf(full, sizeof full, "%s/%s", row->task, row->metric);
    const cmp_gate *best = NULL;
    bool best_exact = false;
    size_t best_len = 0;
    for (size_t i = 0; i < s->n_gates; i++) {
        const char *pat = s->gates[i].pattern;
        if (fnmatch(pat, full, 0) != 0 && fnmatch(pat, row->metric, 0) != 0) continue;
        bool exact = strpbrk(pat, "*?[") == NULL;
        size_t len = strlen(pat);
        if (!best || (exact && !best_exact) || (exact == best_exact && len > best_len)) {
            best = &s->gates[i];
            best_exact = exact;
            best_len = len;
        }
    }
    if (best) return best->points;
    return row->group == NULL ? s->fail_if_worse : NAN;
}

static int apply_gates(builder *b)
{
    cmp_table *t = b->t;
    const cmp_settings *s = b->s;
    t->gated = s->n_gates > 0 || !isnan(s->fail_if_worse);
    if (t->n_runs != 2) return 0;
    double *p = malloc((t->n_rows ? t->n_rows : 1) * sizeof *p);
    if (!p) return err_set(b->e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->n_rows; i++) {
        cmp_row *row = &t->rows[i];
        if (t->gated) row->gate = gate_for(s, row);
        bool family = row->test != CMP_TEST_NONE && !isnan(row->p) &&
                      (t->gated ? !isnan(row->gate) : row->group == NULL);
        p[i] = family ? row->p : NAN;
        if (family) t->n_family++;
    }
    t->family_gated = t->gated;
    if (s->holm) {
        if (stats_holm(p, t->n_rows, p) < 0) {
            free(p);
            return err_set(b->e, ERR_NOMEM, "out of memory");
        }
    }
    int rc = 0;
    bool any_tested_gate = false;
    for (size_t i = 0; i < t->n_rows && rc == 0; i++) {
        cmp_row *row = &t->rows[i];
        row->p_holm = p[i];
        double pp = isnan(row->p_holm) ? row->p : row->p_holm;
        row->significant = !isnan(pp) && pp < s->alpha;
        if (isnan(row->gate)) continue;
        if (!row->cells[0].present) continue; /* nothing in the baseline to regress from */
        if (!row->cells[1].present) {
            t->not_comparable = true;
            rc =
                strlist_add(&t->a, &b->messages, "not comparable: %s/%s is gated but missing in %s",
                            row->task, row->metric, t->labels[1]);
            continue;
        }
        if (!row->comparable || row->test == CMP_TEST_NONE) {
            t->not_comparable = true;
            rc = strlist_add(&t->a, &b->messages, "not comparable: %s/%s is gated but %s",
                             row->task, row->metric,
                             !row->comparable
                                 ? "the runs differ in what they measure (see the notes)"
                                 : "there is no paired test for it (no per-item scores)");
            continue;
        }
        any_tested_gate = true;
        double worse = row->lower_is_better ? row->delta : -row->delta;
        /* gates are in points, or in the metric's own unit when it is not a fraction */
        if (worse * (row->raw ? 1 : 100) > row->gate && row->significant) {
            row->regression = true;
            t->n_regressions++;
            char holm[64] = "";
            if (!isnan(row->p_holm) && t->n_family > 1)
                snprintf(holm, sizeof holm, ", Holm-adjusted over %zu: %.3g", t->n_family,
                         row->p_holm);
            char va[48], vb[48], dv[48];
            if (row->raw) {
                snprintf(va, sizeof va, "%.4g", row->cells[0].value);
                snprintf(vb, sizeof vb, "%.4g", row->cells[1].value);
                snprintf(dv, sizeof dv, "%+.4g", row->delta);
            } else {
                snprintf(va, sizeof va, "%.2f%%", 100 * row->cells[0].value);
                snprintf(vb, sizeof vb, "%.2f%%", 100 * row->cells[1].value);
                snprintf(dv, sizeof dv, "%+.2f points", 100 * row->delta);
            }
            rc = strlist_add(&t->a, &b->messages,
                             "regression: %s/%s %s from %s (%s) to %s (%s): %s on %zu shared "
                             "items, more than the gate of %g%s; p = %.3g (%s%s)",
                             row->task, row->metric, row->lower_is_better ? "rose" : "fell", va,
                             t->labels[0], vb, t->labels[1], dv, row->n_shared, row->gate,
                             row->raw ? "" : " points", row->p, cmp_test_name(row->test), holm);
        }
    }
    if (rc == 0 && t->gated && !any_tested_gate && !t->not_comparable) {
        t->not_comparable = true;
        rc =
            strlist_add(&t->a, &b->messages,
                        "not comparable: no gated metric could be tested (no shared task or item)");
    }
    free(p);
    return rc < 0 ? err_set(b->e, ERR_NOMEM, "out of memory") : 0;
}

/* ---- the table ---- */

void cmp_release(cmp_table *t)
{
    arena_release(&t->a);
    memset(t, 0, sizeof *t);
}

int cmp_verdict(const cmp_table *t)
{
    if (t->gated && t->not_comparable) return CMP_STATUS_NOT_COMPARABLE;
    if (t->failures_exceeded) return CMP_STATUS_FAILURES;
    if (t->n_regressions) return CMP_STATUS_REGRESSION;
    return CMP_STATUS_OK;
}

int cmp_build(cmp_table *t, const cmp_run *runs, size_t n_runs, const cmp_settings *s, err *e)
{
    memset(t, 0, sizeof *t);
    if (!(s->alpha > 0 && s->alpha < 1))
        return err_set(e, ERR_INVALID, "alpha must be between 0 and 1 (got %g)", s->alpha);
    if (n_runs == 0) return err_set(e, ERR_INVALID, "nothing to compare");
    builder b = {0};
    b.t = t;
    b.runs = runs;
    b.s = s;
    b.e = e;
    b.z = stats_z(s->alpha);
    int rc = 0;
    const cmp_task_run **tr = NULL;
    t->n_runs = n_runs;
    t->n_refs = s->n_refs;
    t->alpha = s->alpha;
    t->bootstrap = s->bootstrap;
    t->seed = s->seed;
    t->holm = s->holm;
    t->failures_gated = s->max_failures != SIZE_MAX || !isnan(s->max_failure_rate);
    t->labels = arena_calloc(&t->a, n_runs, sizeof *t->labels);
    t->descs = arena_calloc(&t->a, n_runs, sizeof *t->descs);
    t->ref_labels = arena_calloc(&t->a, s->n_refs ? s->n_refs : 1, sizeof *t->ref_labels);
    tr = calloc(n_runs, sizeof *tr);
    if (!t->labels || !t->descs || !t->ref_labels || !tr) goto nomem;
    for (size_t r = 0; r < n_runs; r++) {
        t->labels[r] = arena_strdup(&t->a, runs[r].label ? runs[r].label : "?");
        const cJSON *m = runs[r].n_tasks ? runs[r].tasks[0].manifest : NULL;
        const char *be = json_str_at(m, "runner", "backend"),
                   *mo = json_str_at(m, "runner", "model");
        if (be || mo) t->descs[r] = arena_printf(&t->a, "%s:%s", be ? be : "?", mo ? mo : "?");
    }
    for (size_t f = 0; f < s->n_refs; f++)
        t->ref_labels[f] = arena_strdup(&t->a, s->refs[f].label ? s->refs[f].label : "reference");

    /* tasks in the order the runs list them */
    strmap names = STRMAP_INIT;
    for (size_t r = 0; r < n_runs && rc == 0; r++) {
        for (size_t i = 0; i < runs[r].n_tasks; i++) {
            const char *name = runs[r].tasks[i].task;
            if (!name) continue;
            int added = strmap_add(&names, name, strlen(name), t->n_tasks);
            if (added < 0) {
                rc = ERR_NOMEM;
                break;
            }
            if (!added) continue;
            cmp_task *nt = agrow(&t->a, t->tasks, t->n_tasks, &b.tasks_cap, sizeof *nt);
            task_notes *nn = agrow(&t->a, b.tn, t->n_tasks, &b.tn_cap, sizeof *nn);
            if (!nt || !nn) {
                rc = ERR_NOMEM;
                break;
            }
            t->tasks = nt;
            b.tn = nn;
            memset(&t->tasks[t->n_tasks], 0, sizeof t->tasks[0]);
            memset(&b.tn[t->n_tasks], 0, sizeof b.tn[0]);
            t->tasks[t->n_tasks++].task = arena_strdup(&t->a, name);
        }
    }
    strmap_release(&names);
    if (rc < 0) goto nomem;

    for (size_t k = 0; k < t->n_tasks; k++) {
        cmp_task *ct = &t->tasks[k];
        strlist *notes = &b.tn[k].notes;
        ct->present = arena_calloc(&t->a, n_runs, sizeof *ct->present);
        ct->items = arena_calloc(&t->a, n_runs, sizeof *ct->items);
        ct->samples = arena_calloc(&t->a, n_runs, sizeof *ct->samples);
        ct->failures = arena_calloc(&t->a, n_runs, sizeof *ct->failures);
        ct->failures_over = arena_calloc(&t->a, n_runs, sizeof *ct->failures_over);
        if (!ct->present || !ct->items || !ct->samples || !ct->failures || !ct->failures_over)
            goto nomem;
        ct->comparable = true;
        size_t n_present = 0;
        for (size_t r = 0; r < n_runs; r++) {
            tr[r] = find_task(&runs[r], ct->task);
            if (tr[r] && !tr[r]->results) {
                if (strlist_add(&t->a, notes, "%s: not scored (no results.json in %s)",
                                t->labels[r], tr[r]->path ? tr[r]->path : "?") < 0)
                    goto nomem;
                tr[r] = NULL;
            }
            if (!tr[r]) continue;
            n_present++;
            ct->present[r] = true;
            const cJSON *res = tr[r]->results;
            ct->items[r] = (size_t)fmax(0, json_num_at(res, "items", NULL, 0));
            ct->samples[r] = (size_t)fmax(0, json_num_at(res, "samples", NULL, (double)tr[r]->n));
            ct->failures[r] = count_failures(res);
            bool over = (s->max_failures != SIZE_MAX && ct->failures[r] > s->max_failures) ||
                        (!isnan(s->max_failure_rate) && ct->samples[r] &&
                         (double)ct->failures[r] / (double)ct->samples[r] > s->max_failure_rate);
            if (over) {
                ct->failures_over[r] = true;
                t->failures_exceeded = true;
                char lim[64];
                if (s->max_failures != SIZE_MAX)
                    snprintf(lim, sizeof lim, "%zu", s->max_failures);
                else
                    snprintf(lim, sizeof lim, "%g%%", 100 * s->max_failure_rate);
                if (strlist_add(&t->a, &b.messages,
                                "instrument failures: %s in %s has %zu of %zu samples failed "
                                "(api_error, timeout, truncated), above --max-failures %s",
                                ct->task, t->labels[r], ct->failures[r], ct->samples[r], lim) < 0)
                    goto nomem;
            }
        }
        if ((rc = task_rows(&b, ct, tr)) < 0) goto fail;
        if (n_present < n_runs) {
            /* listed, not flagged: the runs that have the task may still compare */
            for (size_t r = 0; r < n_runs; r++)
                if (!tr[r] && strlist_add(&t->a, notes, "missing in %s", t->labels[r]) < 0)
                    goto nomem;
        }
        /* what differs from the first run that has the task */
        size_t base = 0;
        while (base < n_runs && !tr[base]) base++;
        for (size_t r = base + 1; r < n_runs; r++) {
            if (!tr[r]) continue;
            if ((rc = task_compare(&b, ct, tr[base], tr[r], t->labels[base], t->labels[r])) < 0)
                goto fail;
        }
        if (n_runs == 2 && tr[0] && tr[1] && (rc = task_pair(&b, ct, tr[0], tr[1])) < 0) goto fail;
        if (n_present >= 2 && !ct->comparable) t->not_comparable = true;
        for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++)
            t->rows[i].comparable = ct->comparable;
        ct->notes = notes->v;
        ct->n_notes = notes->n;
    }
    if (n_runs > 2 && strlist_add(&t->a, &b.notes,
                                  "paired tests compare exactly two runs: run `tally compare A B` "
                                  "for the differences and their p-values") < 0)
        goto nomem;
    if ((rc = apply_gates(&b)) < 0) goto fail;
    for (size_t k = 0; k < t->n_tasks; k++) {
        t->tasks[k].notes = b.tn[k].notes.v;
        t->tasks[k].n_notes = b.tn[k].notes.n;
    }
    t->notes = b.notes.v;
    t->n_notes = b.notes.n;
    t->messages = b.messages.v;
    t->n_messages = b.messages.n;
    free(tr);
    return 0;
nomem:
    rc = err_set(e, ERR_NOMEM, "out of memory");
fail:
    free(tr);
    cmp_release(t);
    return rc;
}
