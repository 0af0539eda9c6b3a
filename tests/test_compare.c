/* test_compare.c: the comparison model and its renderers on runs built by
 * hand with known item-level outcomes: rows, flips, McNemar p-values (golden
 * values from tests/golden/stats_golden.py), the bootstrap through a task's
 * own aggregate, Holm, gates and verdicts, references, what differs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "reports/compare.h"
#include "reports/stats.h"
#include "reports/table.h"
#include "scorers/metric.h"
#include "test.h"

/* ---- hand-made runs ---- */

#define MAXN 200

typedef struct fake {
    item items[MAXN];
    char ids[MAXN][16];
    sample_view v[MAXN];
    score_record r[MAXN];
    size_t n;
    cJSON *results, *manifest;
    cmp_task_run tr;
} fake;

/* n items, one sample each; item i correct when pass[i] == '1' (for the
 * headline, through the record outcome) and, when `second` is given, the
 * second metric from "metrics". ids start at `first`. */
static void fake_make(fake *f, const char *task, const char *pass, const char *second, int first)
{
    memset(f, 0, sizeof *f);
    f->n = strlen(pass);
    size_t k1 = 0, k2 = 0;
    for (size_t i = 0; i < f->n; i++) {
        snprintf(f->ids[i], sizeof f->ids[i], "%d", first + (int)i);
        f->items[i] = (item){f->ids[i], i, NULL};
        f->v[i].it = &f->items[i];
        f->r[i].outcome = pass[i] == '1' ? OUTCOME_CORRECT : OUTCOME_WRONG;
        f->r[i].score = pass[i] == '1';
        k1 += pass[i] == '1';
        if (second) {
            f->r[i].fields = cJSON_CreateObject();
            cJSON *m = cJSON_AddObjectToObject(f->r[i].fields, "metrics");
            cJSON_AddStringToObject(m, "headline", pass[i] == '1' ? "correct" : "wrong");
            cJSON_AddStringToObject(m, "second", second[i] == '1' ? "correct" : "no_answer");
            k2 += second[i] == '1';
        }
    }
    f->results = cJSON_CreateObject();
    cJSON_AddStringToObject(f->results, "task", task);
    cJSON_AddNumberToObject(f->results, "items", (double)f->n);
    cJSON_AddNumberToObject(f->results, "samples", (double)f->n);
    cJSON *m = cJSON_AddObjectToObject(f->results, "metrics");
    metric_put(m, "headline", metric_proportion(k1, f->n));
    if (second) metric_put(m, "second", metric_proportion(k2, f->n));
    cJSON_AddNumberToObject(f->results, "instrument_failures", 0);
    f->manifest = cJSON_CreateObject();
    cJSON_AddStringToObject(f->manifest, "task", task);
    cJSON *ds = cJSON_AddObjectToObject(f->manifest, "dataset");
    cJSON_AddStringToObject(ds, "sha256", "abc");
    cJSON *rj = cJSON_AddObjectToObject(f->manifest, "runner");
    cJSON_AddStringToObject(rj, "backend", "replay");
    cJSON_AddStringToObject(rj, "model", task);
    cJSON *st = cJSON_AddObjectToObject(f->manifest, "settings");
    cJSON_AddNumberToObject(st, "shots", 8);
    cJSON_AddNumberToObject(st, "temperature", 0);
    cJSON_AddStringToObject(f->manifest, "created", "2026-01-01T00:00:00Z");
    static const char *const metrics[] = {"headline", "second", NULL};
    static const char *const one[] = {"headline", NULL};
    f->tr = (cmp_task_run){task, "bench", "dir", f->manifest, f->results, second ? metrics : one,
                           f->v, f->r,    f->n,  NULL,        NULL};
}

static void fake_free(fake *f)
{
    for (size_t i = 0; i < f->n; i++) score_record_release(&f->r[i]);
    cJSON_Delete(f->results);
    cJSON_Delete(f->manifest);
}

static const cmp_row *find_row(const cmp_table *t, const char *task, const char *metric)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (!strcmp(t->rows[i].task, task) && !strcmp(t->rows[i].metric, metric))
            return &t->rows[i];
    return NULL;
}

static bool has_message(const cmp_table *t, const char *needle)
{
    for (size_t i = 0; i < t->n_messages; i++)
        if (strstr(t->messages[i], needle)) return true;
    return false;
}

static bool has_note(const cmp_task *ct, const char *needle)
{
    for (size_t i = 0; i < ct->n_notes; i++)
        if (strstr(ct->notes[i], needle)) return true;
    return false;
}

/* 20 items: A passes the first 15; B passes 3..19 except 12 */
#define PASS_A "11111111111111100000"
#define PASS_B "00011111111101111111"

static void build2(cmp_table *t, fake *a, fake *b, const cmp_settings *s, int expect)
{
    cmp_run runs[2] = {{"base", &a->tr, 1}, {"cand", &b->tr, 1}};
    err e = ERR_INIT;
    int rc = cmp_build(t, runs, 2, s, &e);
    CHECK_MSG(rc == expect, "cmp_build: %d %s", rc, e.msg);
}

static void test_compare__mcnemar_rows(void)
{
    fake a, b;
    /* the second metric: A 10 of 20, B 16 of 20 */
    fake_make(&a, "gsm", PASS_A, "11111111110000000000", 0);
    fake_make(&b, "gsm", PASS_B, "11111111111111110000", 0);
    cmp_settings s;
    cmp_settings_default(&s);
    s.max_ids = 2;
    cmp_table t;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(t.n_tasks, 1);
    CHECK_INT(t.n_rows, 2);
    const cmp_row *r = find_row(&t, "gsm", "headline");
    CHECK(r && r->headline && !r->group);
    if (r) {
        CHECK_INT(r->test, CMP_TEST_MCNEMAR);
        /* both: 3..14 but 12 = 11; only A: 0,1,2,12 = 4; only B: 15..19 = 5; neither: 0 */
        CHECK_INT(r->flips[CMP_BOTH], 11);
        CHECK_INT(r->flips[CMP_ONLY_A], 4);
        CHECK_INT(r->flips[CMP_ONLY_B], 5);
        CHECK_INT(r->flips[CMP_NEITHER], 0);
        CHECK_INT(r->n_only_a, 2);
        CHECK_STR(r->only_a[0], "0");
        CHECK_STR(r->only_b[1], "16");
        CHECK_INT(r->n_shared, 20);
        CHECK_NEAR(r->delta, 1.0 / 20, 1e-15);
        /* exact: 2 * P(X <= 4), X ~ Bin(9, 1/2) = 2 * 256/512 = 1 */
        CHECK_NEAR(r->p, 1.0, 1e-15);
        CHECK_NEAR(r->cells[0].value, 15.0 / 20, 1e-15);
        CHECK_NEAR(r->cells[1].value, 16.0 / 20, 1e-15);
        CHECK_NEAR(r->disagree, 9.0 / 20, 1e-15);
        /* 9 disagreements: 1 vs 8 has p = 2 * 10/512 <= 0.05, 2 vs 7 has 2 * 46/512 > 0.05:
         * the smallest significant gap is 7 items */
        CHECK_NEAR(r->mde, 7.0 / 20, 1e-15);
    }
    const cmp_row *r2 = find_row(&t, "gsm", "second");
    CHECK(r2 && r2->test == CMP_TEST_MCNEMAR);
    if (r2) {
        /* only A 0, only B 6 (items 10..15): 2 * (1/64) */
        CHECK_INT(r2->flips[CMP_ONLY_B], 6);
        CHECK_NEAR(r2->p, 0.03125, 1e-15);
        /* Holm over the two declared metrics: p_(1) = 0.03125 * 2, p_(2) = max(that, 1) */
        CHECK_NEAR(r2->p_holm, 0.0625, 1e-15);
        CHECK(!r2->significant);
    }
    CHECK_INT(t.n_family, 2);
    CHECK_INT(cmp_verdict(&t), 0);
    cmp_release(&t);
    fake_free(&a);
    fake_free(&b);
}

static void test_compare__golden_p(void)
{
    /* 15 shared items with 3 only-A and 12 only-B: p = 0.03515625 (golden) */
    char pa[16] = "", pb[16] = "";
    for (int i = 0; i < 15; i++) {
        pa[i] = i < 3 ? '1' : '0';
        pb[i] = i < 3 ? '0' : '1';
    }
    fake a, b;
    fake_make(&a, "t", pa, NULL, 0);
    fake_make(&b, "t", pb, NULL, 0);
    cmp_settings s;
    cmp_settings_default(&s);
    cmp_table t;
    build2(&t, &a, &b, &s, 0);
    const cmp_row *r = find_row(&t, "t", "headline");
    CHECK(r && fabs(r->p - 0.03515625) < 1e-14);
    CHECK(r && r->significant && isnan(r->p_holm) == false);
    /* a single declared metric: Holm changes nothing */
    CHECK(r && fabs(r->p_holm - r->p) < 1e-15);
    double d, lo, hi;
    stats_paired_prop_diff(3, 12, 15, stats_z(0.05), &d, &lo, &hi);
    CHECK(r && r->lo == lo && r->hi == hi);
    cmp_release(&t);
    fake_free(&a);
    fake_free(&b);
}

static void test_compare__shared_items(void)
{
    fake a, b;
    fake_make(&a, "t", "1111100000", NULL, 0); /* ids 0..9 */
    fake_make(&b, "t", "11110011", NULL, 4);   /* ids 4..11 */
    cmp_settings s;
    cmp_settings_default(&s);
    cmp_table t;
    build2(&t, &a, &b, &s, 0);
    const cmp_row *r = find_row(&t, "t", "headline");
    /* shared 4..9: A 1,0,0,0,0,0; B 1,1,1,1,0,0 */
    CHECK(r && r->n_shared == 6);
    if (r) {
        CHECK_INT(r->flips[CMP_BOTH], 1);
        CHECK_INT(r->flips[CMP_ONLY_B], 3);
        CHECK_NEAR(r->delta, 3.0 / 6, 1e-15);
        /* the cells stay each run's own score */
        CHECK_NEAR(r->cells[1].value, 6.0 / 8, 1e-15);
    }
    CHECK(has_note(&t.tasks[0], "10 in base, 8 in cand, 6 shared"));
    CHECK(t.tasks[0].comparable);
    cmp_release(&t);
    /* no shared item at all: not comparable, no test */
    fake c;
    fake_make(&c, "t", "11", NULL, 100);
    build2(&t, &a, &c, &s, 0);
    CHECK(!t.tasks[0].comparable && t.not_comparable);
    CHECK(find_row(&t, "t", "headline")->test == CMP_TEST_NONE);
    CHECK(has_note(&t.tasks[0], "share no item"));
    CHECK_INT(cmp_verdict(&t), 0); /* not gated */
    cmp_release(&t);
    s.fail_if_worse = 1;
    build2(&t, &a, &c, &s, 0);
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_NOT_COMPARABLE);
    cmp_release(&t);
    fake_free(&a);
    fake_free(&b);
    fake_free(&c);
}

/* A task aggregate: "mean" = mean of scores; "per_item" = share of items with
 * all samples correct. It checks that the ids it is given are distinct. */
typedef struct agg_probe {
    int calls;
    int dup_ids;
    int fail;
    int no_data; /* views whose item lost the dataset record */
} agg_probe;

static int item_record = 42; /* stands for a dataset record */

static int mean_aggregate(void *ctx, const sample_view *v, const score_record *r, size_t n,
                          cJSON *metrics, err *e)
{
    agg_probe *p = ctx;
    p->calls++;
    if (p->fail) return err_set(e, ERR_UNSUPPORTED, "needs the dataset");
    double s = 0;
    size_t items = 0, all_ok = 0;
    for (size_t i = 0; i < n; i++) {
        s += r[i].score;
        if (v[i].it->data != &item_record) p->no_data++;
        if (i == 0 || v[i].it != v[i - 1].it) {
            /* a new draw: its id must not have been seen in this call */
            for (size_t j = 0; j < i; j++)
                if (v[j].it != v[i].it && strcmp(v[j].it->id, v[i].it->id) == 0) {
                    p->dup_ids++;
                    break;
                }
            items++;
            size_t k = i;
            bool ok = true;
            while (k < n && v[k].it == v[i].it) ok &= r[k++].score > 0;
            all_ok += ok;
        }
    }
    double *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = r[i].score;
    metric_put(metrics, "mean", metric_mean(x, n));
    free(x);
    metric_put(metrics, "per_item", metric_proportion(all_ok, items));
    return 0;
}

/* n items x 2 samples with scores from a pattern of '0'/'1' per sample. */
static void fake_two_samples(fake *f, const char *task, const char *pat, agg_probe *probe)
{
    memset(f, 0, sizeof *f);
    f->n = strlen(pat);
    for (size_t i = 0; i < f->n / 2; i++) {
        snprintf(f->ids[i], sizeof f->ids[i], "q%zu", i);
        f->items[i] = (item){f->ids[i], i, &item_record};
    }
    for (size_t i = 0; i < f->n; i++) {
        f->v[i].it = &f->items[i / 2];
        f->v[i].sample = (int)(i % 2);
        f->r[i].outcome = pat[i] == '1' ? OUTCOME_CORRECT : OUTCOME_WRONG;
        f->r[i].score = pat[i] == '1';
    }
    f->results = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(f->results, "metrics");
    err e = ERR_INIT;
    agg_probe quiet = {0};
    mean_aggregate(&quiet, f->v, f->r, f->n, m, &e);
    f->manifest = NULL;
    static const char *const metrics[] = {"mean", "per_item", NULL};
    f->tr = (cmp_task_run){task, NULL, "dir", NULL,           f->results, metrics,
                           f->v, f->r, f->n,  mean_aggregate, probe};
}

static void test_compare__bootstrap(void)
{
    /* 40 items x 2 samples; B is better on a third of the samples */
    char pa[81], pb[81];
    for (int i = 0; i < 80; i++) {
        pa[i] = (i % 3 == 0) ? '0' : '1';
        pb[i] = (i % 5 == 0) ? '0' : '1';
    }
    pa[80] = pb[80] = 0;
    agg_probe probe = {0};
    fake a, b;
    fake_two_samples(&a, "code", pa, &probe);
    fake_two_samples(&b, "code", pb, &probe);
    cmp_settings s;
    cmp_settings_default(&s);
    s.bootstrap = 400;
    cmp_table t, t2;
    build2(&t, &a, &b, &s, 0);
    const cmp_row *r = find_row(&t, "code", "mean");
    CHECK(r && r->test == CMP_TEST_BOOTSTRAP);
    double ma = 0, mb = 0;
    for (int i = 0; i < 80; i++) ma += pa[i] == '1', mb += pb[i] == '1';
    if (r) {
        CHECK_NEAR(r->delta, (mb - ma) / 80, 1e-12);
        CHECK(r->p > 0 && r->p <= 1);
        CHECK(r->lo <= r->delta && r->delta <= r->hi);
        CHECK(r->mde > 0);
        CHECK_INT(r->n_shared, 40);
    }
    CHECK(find_row(&t, "code", "per_item")->test == CMP_TEST_BOOTSTRAP);
    /* one observed call and 400 resamples, each for both runs */
    CHECK_INT(probe.calls, 2 * 401);
    CHECK_INT(probe.dup_ids, 0);
    CHECK_INT(probe.no_data, 0);
    /* the same seed gives the same p; the table does not depend on the run */
    build2(&t2, &a, &b, &s, 0);
    CHECK(find_row(&t2, "code", "mean")->p == r->p);
    cmp_release(&t2);
    cmp_release(&t);
    /* an aggregate that cannot work from records: no test, and a note says why */
    probe.fail = 1;
    build2(&t, &a, &b, &s, 0);
    CHECK(find_row(&t, "code", "mean")->test == CMP_TEST_NONE);
    CHECK(has_note(&t.tasks[0], "needs the dataset"));
    cmp_release(&t);
    fake_free(&a);
    fake_free(&b);
}

static void test_compare__gates(void)
{
    /* 30 items: A passes all, B fails 12 of them: a significant 40-point drop */
    char pa[31], pb[31];
    for (int i = 0; i < 30; i++) {
        pa[i] = '1';
        pb[i] = i < 12 ? '0' : '1';
    }
    pa[30] = pb[30] = 0;
    fake a, b;
    fake_make(&a, "t", pa, NULL, 0);
    fake_make(&b, "t", pb, NULL, 0);
    cmp_settings s;
    cmp_settings_default(&s);
    cmp_table t;
    s.fail_if_worse = 5;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_REGRESSION);
    CHECK_INT(t.n_regressions, 1);
    CHECK(find_row(&t, "t", "headline")->regression);
    /* the message names the metric, both scores and p (2 / 4096) */
    CHECK(has_message(&t, "t/headline fell from 100.00% (base) to 60.00% (cand)"));
    CHECK(has_message(&t, "p = 0.000488"));
    cmp_release(&t);
    /* a gate wider than the drop passes */
    s.fail_if_worse = 45;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(cmp_verdict(&t), 0);
    cmp_release(&t);
    /* the other way round it is an improvement */
    s.fail_if_worse = 0;
    build2(&t, &b, &a, &s, 0);
    CHECK_INT(cmp_verdict(&t), 0);
    cmp_release(&t);
    /* per-metric gates: the exact pattern beats the wildcard; null ungates */
    cmp_gate g[] = {{"*", 50}, {"t/headline", 1}};
    s.fail_if_worse = NAN;
    s.gates = g;
    s.n_gates = 2;
    build2(&t, &a, &b, &s, 0);
    CHECK_NEAR(find_row(&t, "t", "headline")->gate, 1, 0);
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_REGRESSION);
    cmp_release(&t);
    cmp_gate g2[] = {{"t/*", 1}, {"headline", NAN}};
    s.gates = g2;
    build2(&t, &a, &b, &s, 0);
    CHECK(isnan(find_row(&t, "t", "headline")->gate));
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_NOT_COMPARABLE); /* nothing gated could be tested */
    cmp_release(&t);
    s.gates = NULL;
    s.n_gates = 0;
    /* a drop that is not significant: 2 of 30 fail in B */
    fake c;
    char pc[31];
    for (int i = 0; i < 30; i++) pc[i] = i < 2 ? '0' : '1';
    pc[30] = 0;
    fake_make(&c, "t", pc, NULL, 0);
    s.fail_if_worse = 1;
    build2(&t, &a, &c, &s, 0);
    CHECK_INT(cmp_verdict(&t), 0);
    CHECK(!find_row(&t, "t", "headline")->significant);
    cmp_release(&t);
    fake_free(&c);
    /* settings that define the measurement differ: not comparable, exit 5 */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b.manifest, "settings"), "shots",
                              cJSON_CreateNumber(5));
    build2(&t, &a, &b, &s, 0);
    CHECK(t.not_comparable && !t.tasks[0].comparable);
    CHECK(has_note(&t.tasks[0],
                   "not comparable: settings.shots (few-shot exemplars): 8 in base, 5 in cand"));
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_NOT_COMPARABLE);
    cmp_release(&t);
    /* instrument failures: 5 of 30 in B */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b.manifest, "settings"), "shots",
                              cJSON_CreateNumber(8));
    cJSON_ReplaceItemInObject(b.results, "instrument_failures", cJSON_CreateNumber(5));
    s.fail_if_worse = NAN;
    s.max_failures = 4;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_FAILURES);
    CHECK(t.tasks[0].failures_over[1] && !t.tasks[0].failures_over[0]);
    CHECK(has_message(&t, "5 of 30 samples failed"));
    cmp_release(&t);
    s.max_failures = 5;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(cmp_verdict(&t), 0);
    cmp_release(&t);
    s.max_failures = SIZE_MAX;
    s.max_failure_rate = 0.1; /* 5/30 > 0.1 */
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_FAILURES);
    cmp_release(&t);
    /* with a regression too, failures come first */
    s.fail_if_worse = 5;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(cmp_verdict(&t), CMP_STATUS_FAILURES);
    CHECK_INT(t.n_regressions, 1);
    cmp_release(&t);
    fake_free(&a);
    fake_free(&b);
}

static void test_compare__references_and_groups(void)
{
    fake a, b;
    fake_make(&a, "gsm8k_cot", "1100", NULL, 0);
    fake_make(&b, "gsm8k_cot", "1110", NULL, 0);
    /* extra metrics: a category group and an "other" one */
    cJSON *m = cJSON_GetObjectItem(a.results, "metrics");
    metric_put(m, "category_strict/punctuation", metric_proportion(1, 2));
    metric_put(m, "decode_failure_rate", metric_proportion(1, 4));
    cJSON *refv = cJSON_Parse("{\"bench\": 92.49, \"gsm8k_cot/decode_failure_rate\": 3}");
    cmp_reference ref = {"card", refv};
    cmp_settings s;
    cmp_settings_default(&s);
    s.refs = &ref;
    s.n_refs = 1;
    cmp_table t;
    build2(&t, &a, &b, &s, 0);
    CHECK_INT(t.n_rows, 3);
    const cmp_row *h = find_row(&t, "gsm8k_cot", "headline");
    CHECK(h && fabs(h->refs[0] - 0.9249) < 1e-12);
    const cmp_row *c = find_row(&t, "gsm8k_cot", "category_strict/punctuation");
    CHECK(c && c->group && !strcmp(c->group, "category_strict") && isnan(c->refs[0]));
    CHECK(c && c->cells[0].present && !c->cells[1].present && c->test == CMP_TEST_NONE);
    const cmp_row *d = find_row(&t, "gsm8k_cot", "decode_failure_rate");
    CHECK(d && d->lower_is_better && !strcmp(d->group, "other") && fabs(d->refs[0] - 0.03) < 1e-12);
    /* the declared rows come first */
    CHECK(!strcmp(t.rows[0].metric, "headline"));
    cmp_release(&t);
    cJSON_Delete(refv);
    refv = cJSON_Parse("{\"gsm8k_cot\": \"92\"}");
    ref.values = refv;
    cmp_run runs[2] = {{"base", &a.tr, 1}, {"cand", &b.tr, 1}};
    err e = ERR_INIT;
    CHECK_INT(cmp_build(&t, runs, 2, &s, &e), ERR_PARSE);
    CHECK(strstr(e.msg, "\"gsm8k_cot\" is not a number") != NULL);
    cJSON_Delete(refv);
    s.n_refs = 0;
    s.alpha = 1.5;
    CHECK_INT(cmp_build(&t, runs, 2, &s, &e), ERR_INVALID);
    fake_free(&a);
    fake_free(&b);
}

static void test_compare__three_runs_and_missing(void)
{
    fake a, b, c, x;
    fake_make(&a, "t", "1100", NULL, 0);
    fake_make(&b, "t", "1110", NULL, 0);
    fake_make(&c, "t", "1111", NULL, 0);
    fake_make(&x, "other", "10", NULL, 0);
    cmp_task_run two[2] = {c.tr, x.tr};
    cmp_run runs[3] = {{"a", &a.tr, 1}, {"b", &b.tr, 1}, {"c", two, 2}};
    cmp_settings s;
    cmp_settings_default(&s);
    cmp_table t;
    err e = ERR_INIT;
    CHECK_INT(cmp_build(&t, runs, 3, &s, &e), 0);
    CHECK_INT(t.n_tasks, 2);
    CHECK(find_row(&t, "t", "headline")->test == CMP_TEST_NONE);
    CHECK(t.n_notes == 1 && strstr(t.notes[0], "exactly two runs"));
    const cmp_task *o = &t.tasks[1];
    CHECK(!strcmp(o->task, "other") && o->comparable && has_note(o, "missing in a"));
    CHECK(!t.not_comparable); /* a task one run lacks is listed, not flagged */
    buf md = BUF_INIT;
    CHECK_INT(cmp_render_md(&t, &md), 0);
    CHECK(strstr(md.data, "| t     |") || strstr(md.data, "| t "));
    CHECK(strstr(md.data, "missing in a") != NULL);
    buf_release(&md);
    cmp_release(&t);
    fake_free(&a);
    fake_free(&b);
    fake_free(&c);
    fake_free(&x);
}

static void test_compare__renderers(void)
{
    fake a, b;
    fake_make(&a, "t<&>", PASS_A, "11111111110000000000", 0);
    fake_make(&b, "t<&>", PASS_B, "11111111111111110000", 0);
    cmp_settings s;
    cmp_settings_default(&s);
    s.fail_if_worse = 1;
    cmp_table t;
    build2(&t, &a, &b, &s, 0);
    err e = ERR_INIT;
    buf out = BUF_INIT;
    /* markdown: aligned table, signed delta, flips, legend */
    CHECK_INT(cmp_render(&t, CMP_FORMAT_MD, &out, &e), 0);
    CHECK(strstr(out.data, "| headline ") != NULL);
    CHECK(strstr(out.data, "75.00 [53.13, 88.81]") != NULL);
    CHECK(strstr(out.data, "+5.00") != NULL);
    CHECK(strstr(out.data, "| base correct |") != NULL);
    CHECK(strstr(out.data, "Only base: 4") != NULL);
    CHECK(strstr(out.data, "<sub>Scores in %") != NULL);
    CHECK(strstr(out.data, "**Gate**:") != NULL);
    /* the header and the rule under it have the same width in columns (code points) */
    {
        const char *p = strstr(out.data, "| task");
        size_t w0 = strcspn(p, "\n");
        const char *q = p + w0 + 1;
        CHECK(strncmp(q, "| :", 3) == 0);
        size_t w1 = strcspn(q, "\n"), c0 = 0;
        for (size_t i = 0; i < w0; i++) c0 += ((unsigned char)p[i] & 0xC0) != 0x80;
        CHECK_INT(w1, c0);
    }
    /* CSV: a header and a line per row, the same number of fields each */
    buf_reset(&out);
    CHECK_INT(cmp_render(&t, CMP_FORMAT_CSV, &out, &e), 0);
    size_t lines = 0, fields0 = 0;
    for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
        size_t f = 1;
        for (char *c = line; *c; c++) f += *c == ',';
        if (!lines)
            fields0 = f;
        else
            CHECK_INT(f, fields0);
        lines++;
    }
    CHECK_INT(lines, 1 + t.n_rows);
    /* JSON parses back with the numbers */
    buf_reset(&out);
    CHECK_INT(cmp_render(&t, CMP_FORMAT_JSON, &out, &e), 0);
    cJSON *j = cJSON_Parse(out.data);
    CHECK(j != NULL);
    const cJSON *rows = cJSON_GetObjectItem(j, "rows");
    CHECK_INT(cJSON_GetArraySize(rows), 2);
    const cJSON *r0 = cJSON_GetArrayItem(rows, 0);
    CHECK_NEAR(cJSON_GetObjectItem(r0, "p")->valuedouble, 1.0, 1e-15);
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(r0, "flips"), "only_b")->valueint, 5);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "group")));
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "verdict"), "status")->valueint, 0);
    cJSON_Delete(j);
    /* HTML and JUnit escape what they quote */
    buf_reset(&out);
    CHECK_INT(cmp_render(&t, CMP_FORMAT_HTML, &out, &e), 0);
    CHECK(strstr(out.data, "t&lt;&amp;&gt;") != NULL && !strstr(out.data, "t<&>"));
    CHECK(strstr(out.data, "<script") == NULL);
    buf_reset(&out);
    CHECK_INT(cmp_render(&t, CMP_FORMAT_JUNIT, &out, &e), 0);
    CHECK(strstr(out.data, "<testsuite name=\"t&lt;&amp;&gt;\" tests=\"4\" failures=\"0\">") !=
          NULL);
    CHECK(strstr(out.data, "<failure") == NULL);
    CHECK_INT(cmp_render(&t, 99, &out, &e), ERR_INVALID);
    buf_release(&out);
    cmp_release(&t);
    CHECK_INT(cmp_format_from_name("junit"), CMP_FORMAT_JUNIT);
    CHECK_INT(cmp_format_from_name("yaml"), -1);
    fake_free(&a);
    fake_free(&b);
}

static void test_compare__manifest_diff(void)
{
    cJSON *a = cJSON_Parse("{\"task\":\"x\",\"created\":\"1\",\"runner\":{\"model\":\"m1\","
                           "\"sha256\":\"aa\",\"chat_template_sha256\":\"t1\"},\"settings\":"
                           "{\"shots\":8,\"temperature\":0},\"host\":{\"cpus\":2}}");
    cJSON *b = cJSON_Parse("{\"task\":\"x\",\"created\":\"2\",\"runner\":{\"model\":\"m2\","
                           "\"sha256\":\"bb\",\"chat_template_sha256\":\"t1\",\"bos\":true},"
                           "\"settings\":{\"shots\":5,\"temperature\":0},\"host\":{\"cpus\":4}}");
    arena ar = ARENA_INIT;
    cmp_field_diff *d = NULL;
    size_t n = 0;
    err e = ERR_INIT;
    CHECK_INT(cmp_manifest_diff(a, b, &ar, &d, &n, &e), 0);
    CHECK_INT(n, 6);
    /* defining first, then settings in manifest order, then incidental */
    CHECK_STR(d[0].key, "settings.shots");
    CHECK_INT(d[0].kind, CMP_FIELD_DEFINING);
    CHECK_STR(d[1].key, "runner.model");
    CHECK_STR(d[2].key, "runner.sha256");
    CHECK_STR(d[2].what, "model file sha256");
    CHECK_STR(d[3].key, "runner.bos");
    CHECK_STR(d[3].a, "(not set)");
    CHECK_STR(d[3].what, "BOS handling");
    CHECK_INT(d[4].kind, CMP_FIELD_INCIDENTAL);
    CHECK_INT(d[5].kind, CMP_FIELD_INCIDENTAL);
    free(d);
    const char *what;
    CHECK_INT(cmp_field_kind_of("scoring.ifeval_mode", &what), CMP_FIELD_DEFINING);
    CHECK_INT(cmp_field_kind_of("runner.quant_types", &what), CMP_FIELD_SETTING);
    CHECK_STR(what, "quant types");
    CHECK_INT(cmp_field_kind_of("dataset.path", NULL), CMP_FIELD_INCIDENTAL);
    arena_release(&ar);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void set_model(fake *f, const char *model)
{
    cJSON *rj = cJSON_GetObjectItemCaseSensitive(f->manifest, "runner");
    cJSON_ReplaceItemInObjectCaseSensitive(rj, "model", cJSON_CreateString(model));
}

/* a difference every task shares (the model file) is listed once, one that
 * only some tasks have names them */
static void test_compare__notes_grouped(void)
{
    fake a[3], b[3];
    const char *names[3] = {"t1", "t2", "t3"};
    for (int k = 0; k < 3; k++) {
        fake_make(&a[k], names[k], PASS_A, NULL, 0);
        fake_make(&b[k], names[k], PASS_B, NULL, 0);
        set_model(&a[k], "base.gguf");
        set_model(&b[k], "cand.gguf");
    }
    cJSON *st = cJSON_GetObjectItemCaseSensitive(b[1].manifest, "settings");
    cJSON_ReplaceItemInObjectCaseSensitive(st, "shots", cJSON_CreateNumber(5));
    cJSON_ReplaceItemInObjectCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(b[2].manifest, "settings"), "shots",
        cJSON_CreateNumber(5));
    cmp_task_run ta[3] = {a[0].tr, a[1].tr, a[2].tr}, tb[3] = {b[0].tr, b[1].tr, b[2].tr};
    cmp_run runs[2] = {{"base", ta, 3}, {"cand", tb, 3}};
    cmp_settings s;
    cmp_settings_default(&s);
    cmp_table t;
    err e = ERR_INIT;
    CHECK_INT(cmp_build(&t, runs, 2, &s, &e), 0);
    buf out = BUF_INIT;
    CHECK_INT(cmp_render(&t, CMP_FORMAT_MD, &out, &e), 0);
    const char *m = strstr(out.data, "- every task: runner.model");
    CHECK_MSG(m != NULL, "%s", out.data);
    CHECK_MSG(m && strstr(strchr(m, '\n'), "runner.model") == NULL, "%s", out.data);
    CHECK(strstr(out.data, "- t2, t3: not comparable: settings.shots") != NULL);
    buf_reset(&out);
    CHECK_INT(cmp_render(&t, CMP_FORMAT_HTML, &out, &e), 0);
    CHECK(strstr(out.data, "<li>every task: runner.model") != NULL);
    buf_release(&out);
    cmp_release(&t);
    for (int k = 0; k < 3; k++) {
        fake_free(&a[k]);
        fake_free(&b[k]);
    }
}

int main(void)
{
    RUN(test_compare__mcnemar_rows);
    RUN(test_compare__golden_p);
    RUN(test_compare__shared_items);
    RUN(test_compare__bootstrap);
    RUN(test_compare__gates);
    RUN(test_compare__references_and_groups);
    RUN(test_compare__three_runs_and_missing);
    RUN(test_compare__renderers);
    RUN(test_compare__manifest_diff);
    RUN(test_compare__notes_grouped);
    return test_report();
}
