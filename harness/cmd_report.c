/* cmd_report.c: `tally report`: one self-contained HTML page of several runs. */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "reports/compare.h"
#include "reports/html.h"
#include "reports/plot.h"
#include "reports/table.h"
#include "rundir.h"
#include "runset.h"
#include "version.h"

typedef struct report_opts {
    const char *out, *png_dir, *title, *gnuplot, *data_dir;
    double alpha;
    int bootstrap, max_items;
    uint64_t seed;
    bool plots, quiet;
    str_list reference, label;
} report_opts;

#define O(f) offsetof(report_opts, f)
static const opt_def report_opt_defs[] = {
    {"out", OPT_STR, O(out), "FILE.html", "where the page goes (required)", 0},
    {"png-dir", OPT_STR, O(png_dir), "DIR", "also write every plot as a PNG there", 0},
    {"title", OPT_STR, O(title), "TEXT", "the page's title", 0},
    {"label", OPT_LIST, O(label), "NAME", "names of the runs, in order (repeatable)", 0},
    {"reference", OPT_LIST, O(reference), "FILE.json",
     "published numbers as an extra column (repeatable)", 0},
    {"alpha", OPT_DOUBLE, O(alpha), "A", "significance level (default 0.05)", 0},
    {"bootstrap", OPT_INT, O(bootstrap), "N", "paired bootstrap resamples (default 1000)", 0},
    {"seed", OPT_U64, O(seed), "S", "the bootstrap's seed", 0},
    {"max-items", OPT_INT, O(max_items), "N", "disagreeing items listed per task (default 50)", 0},
    {"plots", OPT_BOOL, O(plots), NULL, "draw plots with gnuplot (default on; --no-plots)", 0},
    {"gnuplot", OPT_STR, O(gnuplot), "PROGRAM", "the gnuplot to run (default: gnuplot on PATH)", 0},
    {"data-dir", OPT_STR, O(data_dir), "DIR",
     "datasets, for aggregates that read items (default $TALLY_DATA)", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no notes on standard error", 0},
    {0},
};
#undef O

/* ---- plots ---- */

typedef struct chart {
    char *title, *caption, *file; /* file: the PNG's name */
    bool is_hist;
    plot_bars bars;
    plot_hist hist;
    /* storage behind bars / hist */
    char *labels; /* the group labels, NUL-separated */
    const char **groups;
    plot_series *series;
    double *vals; /* y, lo, hi per series; or edges then counts */
} chart;

typedef struct charts {
    chart *v;
    size_t n, cap;
} charts;

static void charts_release(charts *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].title);
        free(c->v[i].caption);
        free(c->v[i].file);
        free(c->v[i].labels);
        free(c->v[i].groups);
        free(c->v[i].series);
        free(c->v[i].vals);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

static chart *charts_add(charts *c)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        chart *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv) return NULL;
        c->v = nv;
        c->cap = nc;
    }
    chart *ch = &c->v[c->n++];
    memset(ch, 0, sizeof *ch);
    return ch;
}

static char *file_name(size_t index, const char *title)
{
    char name[120];
    int k = snprintf(name, sizeof name, "%02zu-", index + 1);
    bool dash = true;
    for (const char *p = title; *p && k < 100; p++) {
        if (isalnum((unsigned char)*p)) {
            name[k++] = (char)tolower((unsigned char)*p);
            dash = false;
        } else if (!dash) {
            name[k++] = '-';
            dash = true;
        }
    }
    while (k > 3 && name[k - 1] == '-') k--;
    snprintf(name + k, sizeof name - (size_t)k, ".png");
    return strdup(name);
}

static bool is_percent_row(const cmp_table *t, const cmp_row *r)
{
    if (r->lower_is_better) return false;
    for (size_t q = 0; q < t->n_runs; q++)
        if (r->cells[q].present && !(r->cells[q].value >= 0 && r->cells[q].value <= 1))
            return false;
    return true;
}

/* A bar chart of rows (percent), one series per run. */
static int bars_of(charts *cs, const cmp_table *t, const cmp_row *const *rows, size_t n,
                   const char *title, const char *caption, bool with_task)
{
    chart *c = charts_add(cs);
    if (!c) return ERR_NOMEM;
    size_t nr = t->n_runs;
    c->title = strdup(title);
    c->caption = caption ? strdup(caption) : NULL;
    c->groups = calloc(n, sizeof *c->groups);
    c->series = calloc(nr, sizeof *c->series);
    c->vals = calloc(3 * n * nr, sizeof *c->vals);
    size_t *offs = calloc(n, sizeof *offs);
    buf names = BUF_INIT;
    int rc = 0;
    if (!c->title || !c->groups || !c->series || !c->vals || !offs) rc = ERR_NOMEM;
    for (size_t q = 0; q < nr && rc == 0; q++) {
        double *y = c->vals + 3 * n * q, *lo = y + n, *hi = lo + n;
        for (size_t i = 0; i < n; i++) {
            const cmp_cell *cell = &rows[i]->cells[q];
            y[i] = cell->present ? 100 * cell->value : NAN;
            lo[i] = cell->present ? 100 * cell->lo : NAN;
            hi[i] = cell->present ? 100 * cell->hi : NAN;
        }
        c->series[q] = (plot_series){t->labels[q], y, lo, hi};
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        offs[i] = names.len;
        const char *m = rows[i]->metric;
        const char *slash = strchr(m, '/');
        if (!with_task && rows[i]->group && slash) m = slash + 1;
        if (with_task)
            rc = buf_printf(&names, "%s %s", rows[i]->task, m);
        else
            rc = buf_puts(&names, m);
        if (!rc) rc = buf_append(&names, "", 1);
    }
    if (rc == 0 && !(c->labels = buf_detach(&names, NULL))) rc = ERR_NOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) c->groups[i] = c->labels + offs[i];
    free(offs);
    buf_release(&names);
    c->bars = (plot_bars){c->title, "%", c->groups, n, c->series, nr, 0, 100, 0, 0};
    return rc;
}

/* results.json "kl_histogram": {"edges": [K+1 numbers], "counts": [K numbers], "log_scale": bool}
 */
static int hist_of(charts *cs, const run_task *rt, const char *label, err *e)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(rt->results, "kl_histogram");
    if (!h) return 0;
    const cJSON *edges = cJSON_GetObjectItemCaseSensitive(h, "edges");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
    int ne = cJSON_GetArraySize(edges), nc = cJSON_GetArraySize(counts);
    if (!cJSON_IsArray(edges) || !cJSON_IsArray(counts) || nc < 1 || ne != nc + 1)
        return err_set(e, ERR_PARSE,
                       "%s/results.json: \"kl_histogram\" needs \"edges\" (K+1 numbers) and "
                       "\"counts\" (K numbers)",
                       rt->path);
    chart *c = charts_add(cs);
    if (!c) return err_set(e, ERR_NOMEM, "out of memory");
    c->is_hist = true;
    c->vals = calloc((size_t)(ne + nc), sizeof *c->vals);
    char title[400];
    snprintf(title, sizeof title, "KL divergence per token: %s (%s)", label, rt->name);
    c->title = strdup(title);
    if (!c->vals || !c->title) return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < ne; i++) {
        const cJSON *x = cJSON_GetArrayItem(edges, i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) ||
            (i && !(x->valuedouble > c->vals[i - 1])))
            return err_set(e, ERR_PARSE,
                           "%s/results.json: kl_histogram.edges[%d] is not a number above the "
                           "edge before it",
                           rt->path, i);
        c->vals[i] = x->valuedouble;
    }
    for (int i = 0; i < nc; i++) {
        const cJSON *x = cJSON_GetArrayItem(counts, i);
        if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0) || !isfinite(x->valuedouble))
            return err_set(e, ERR_PARSE, "%s/results.json: kl_histogram.counts[%d] is not a count",
                           rt->path, i);
        c->vals[ne + i] = x->valuedouble;
    }
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(h, "log_scale");
    bool log_x = cJSON_IsTrue(lg);
    if (log_x && !(c->vals[0] > 0))
        return err_set(e, ERR_PARSE, "%s/results.json: kl_histogram.log_scale needs edges > 0",
                       rt->path);
    c->hist = (plot_hist){c->title,
                          "KL(base || quantized), nats",
                          "tokens",
                          c->vals,
                          c->vals + ne,
                          (size_t)nc,
                          log_x,
                          0,
                          0};
    return 0;
}

static int gather_charts(charts *cs, const cmp_job *job, err *e)
{
    const cmp_table *t = &job->table;
    const cmp_row **sel = malloc((t->n_rows ? t->n_rows : 1) * sizeof *sel);
    if (!sel) return err_set(e, ERR_NOMEM, "out of memory");
    int rc = 0;
    size_t n = 0;
    for (size_t i = 0; i < t->n_rows; i++)
        if (!t->rows[i].group && is_percent_row(t, &t->rows[i])) n++;
    bool only_heads = n > 24;
    n = 0;
    for (size_t i = 0; i < t->n_rows; i++)
        if (!t->rows[i].group && is_percent_row(t, &t->rows[i]) &&
            (!only_heads || t->rows[i].headline))
            sel[n++] = &t->rows[i];
    if (n)
        rc = bars_of(cs, t, sel, n, "Scores per benchmark",
                     "bars are each run's score, whiskers its 95% interval", true);
    /* per category / instruction group, task by task */
    for (size_t k = 0; k < t->n_tasks && rc == 0; k++) {
        const cmp_task *ct = &t->tasks[k];
        size_t end = ct->first_row + ct->n_rows;
        for (size_t i = ct->first_row; i < end && rc == 0; i++) {
            const char *g = t->rows[i].group;
            if (!g) continue;
            bool first = true;
            for (size_t j = ct->first_row; j < i && first; j++)
                if (t->rows[j].group && strcmp(t->rows[j].group, g) == 0) first = false;
            if (!first) continue;
            n = 0;
            for (size_t j = i; j < end && n < 40; j++)
                if (t->rows[j].group && strcmp(t->rows[j].group, g) == 0 &&
                    is_percent_row(t, &t->rows[j]))
                    sel[n++] = &t->rows[j];
            if (n < 2) continue;
            char title[400];
            snprintf(title, sizeof title, "%s: %s", ct->task,
                     strcmp(g, "other") ? g : "categories");
            rc = bars_of(cs, t, sel, n, title, NULL, false);
        }
    }
    free(sel);
    if (rc < 0) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < job->n_sets; s++)
        for (size_t k = 0; k < job->sets[s].n; k++)
            if ((rc = hist_of(cs, &job->sets[s].tasks[k], job->sets[s].label, e)) < 0) return rc;
    for (size_t i = 0; i < cs->n; i++)
        if (!(cs->v[i].file = file_name(i, cs->v[i].title)))
            return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

static int draw(const plot_env *env, const chart *c, int format, buf *out, err *e)
{
    return c->is_hist ? plot_hist_render(env, &c->hist, format, out, e)
                      : plot_bars_render(env, &c->bars, format, out, e);
}

/* ---- disagreements ---- */

static const char *outcome_for(const run_task *rt, const char *id, const char *metric,
                               const char **reason)
{
    *reason = NULL;
    for (size_t i = 0; i < rt->scores.n; i++) {
        if (rt->scores.views[i].sample != 0 || strcmp(rt->scores.views[i].it->id, id) != 0)
            continue;
        const score_record *r = &rt->scores.recs[i];
        *reason = r->reason;
        const cJSON *mm = cJSON_GetObjectItemCaseSensitive(r->fields, "metrics");
        const cJSON *mv = cJSON_GetObjectItemCaseSensitive(mm, metric);
        if (cJSON_IsString(mv)) return mv->valuestring;
        return outcome_name(r->outcome);
    }
    return NULL;
}

static const char *completion_for(const sample_store *st, const char *id)
{
    const cJSON *doc = st ? samples_get(st, id, 0) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "completion");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(doc, "tool_calls");
    if (cJSON_IsString(c) && (c->valuestring[0] || !tc)) return c->valuestring;
    return NULL;
}

typedef struct disagreements {
    report_item *v;
    size_t n, cap, omitted;
    sample_store stores[64][2];
    size_t n_stores;
    char **texts; /* tool calls printed as text */
    size_t n_texts;
} disagreements;

static void dis_release(disagreements *d)
{
    free(d->v);
    for (size_t i = 0; i < d->n_stores; i++) {
        samples_release(&d->stores[i][0]);
        samples_release(&d->stores[i][1]);
    }
    for (size_t i = 0; i < d->n_texts; i++) free(d->texts[i]);
    free(d->texts);
    memset(d, 0, sizeof *d);
}

static int gather_items(disagreements *d, const cmp_job *job, size_t max_items, err *e)
{
    const cmp_table *t = &job->table;
    if (t->n_runs != 2) return 0;
    for (size_t k = 0; k < t->n_tasks; k++) {
        const cmp_task *ct = &t->tasks[k];
        run_task *ra = runset_find(&job->sets[0], ct->task),
                 *rb = runset_find(&job->sets[1], ct->task);
        if (!ra || !rb || !ra->has_scores || !rb->has_scores || d->n_stores == 64) continue;
        run_flips f;
        int rc = runset_flips(ra, rb, max_items, &f, e);
        if (rc < 0) return rc;
        sample_store *st = d->stores[d->n_stores++];
        st[0] = (sample_store)SAMPLE_STORE_INIT;
        st[1] = (sample_store)SAMPLE_STORE_INIT;
        for (int side = 0; side < 2 && rc == 0; side++) {
            buf p = BUF_INIT;
            path_join(&p, side ? rb->path : ra->path, "samples.jsonl");
            rc = samples_load(p.data, &st[side], e);
            buf_release(&p);
        }
        d->omitted += f.only_a - f.n_ids_a + f.only_b - f.n_ids_b;
        for (int side = 0; side < 2 && rc == 0; side++) {
            const char *const *ids = side ? f.ids_b : f.ids_a;
            size_t n = side ? f.n_ids_b : f.n_ids_a;
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (d->n == d->cap) {
                    size_t nc = d->cap ? d->cap * 2 : 32;
                    report_item *nv = realloc(d->v, nc * sizeof *nv);
                    if (!nv) {
                        rc = err_set(e, ERR_NOMEM, "out of memory");
                        break;
                    }
                    d->v = nv;
                    d->cap = nc;
                }
                report_item *it = &d->v[d->n++];
                memset(it, 0, sizeof *it);
                it->task = ct->task;
                it->metric = f.metric; /* the registry's string, or "outcome" */
                it->id = ids[i];
                const run_task *rr[2] = {ra, rb};
                for (int r = 0; r < 2 && rc == 0; r++) {
                    it->outcome[r] = outcome_for(rr[r], ids[i], f.metric, &it->reason[r]);
                    it->completion[r] = completion_for(&st[r], ids[i]);
                    if (it->completion[r]) continue;
                    /* a tool-call answer: show the calls */
                    const cJSON *doc = samples_get(&st[r], ids[i], 0);
                    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(doc, "tool_calls");
                    if (!tc) continue;
                    char *txt = cJSON_Print(tc);
                    char **nt = realloc(d->texts, (d->n_texts + 1) * sizeof *nt);
                    if (nt) d->texts = nt;
                    if (!txt || !nt) {
                        cJSON_free(txt);
                        rc = err_set(e, ERR_NOMEM, "out of memory");
                        break;
                    }
                    d->texts[d->n_texts++] = txt;
                    it->completion[r] = txt;
                }
            }
        }
        run_flips_release(&f);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- the command ---- */

static int cmd_report_main(int argc, char **argv)
{
    report_opts ro = {0};
    ro.alpha = 0.05;
    ro.bootstrap = 1000;
    ro.seed = 20250101;
    ro.max_items = 50;
    ro.plots = true;
    opts_result res;
    err e = ERR_INIT;
    int status = 0;
    cmp_job job = {0};
    charts cs = {0};
    disagreements dis = {0};
    report_plot *plots = NULL;
    report_manifests *mans = NULL;
    const cJSON **man_store = NULL;
    buf page = BUF_INIT, pic = BUF_INIT, inl = BUF_INIT;
    char **svgs = NULL;
    char *plot_note = NULL;
    cmp_settings s;
    cmp_settings_default(&s);
    if (opts_parse(report_opt_defs, &ro, argc, argv, 1, &res, &e) < 0) goto fail;
    if (!res.n_pos) {
        err_set(&e, ERR_USAGE, "no run directory given");
        goto fail;
    }
    if (!ro.out) {
        err_set(&e, ERR_USAGE, "--out FILE.html is required");
        goto fail;
    }
    if (!(ro.alpha > 0 && ro.alpha < 1) || ro.bootstrap < 0 || ro.max_items < 0) {
        err_set(&e, ERR_USAGE, "--alpha must be in (0, 1), --bootstrap and --max-items >= 0");
        goto fail;
    }
    if (ro.label.n > res.n_pos) {
        err_set(&e, ERR_USAGE, "--label given %zu times for %zu runs", ro.label.n, res.n_pos);
        goto fail;
    }
    s.alpha = ro.alpha;
    s.bootstrap = (size_t)ro.bootstrap;
    s.seed = ro.seed;
    s.max_ids = (size_t)ro.max_items;
    job.data_dir = ro.data_dir;
    if (cmp_job_run(&job, res.pos, res.n_pos, &ro.label, &ro.reference, &s, &e) < 0) goto fail;
    const cmp_table *t = &job.table;

    /* plots */
    if (gather_charts(&cs, &job, &e) < 0) goto fail;
    plots = calloc(cs.n ? cs.n : 1, sizeof *plots);
    svgs = calloc(cs.n ? cs.n : 1, sizeof *svgs);
    if (!plots || !svgs) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t n_plots = 0;
    plot_env env = PLOT_ENV_INIT;
    env.gnuplot = ro.gnuplot;
    env.search_path = getenv("PATH");
    env.tmp_dir = getenv("TMPDIR");
    err pe = ERR_INIT;
    if (!ro.plots) {
        plot_note = strdup("No plots: --no-plots was given.");
    } else if (cs.n && plot_find(&env, NULL, &pe) < 0) {
        size_t len = strlen(pe.msg) + 64;
        plot_note = malloc(len);
        if (plot_note) snprintf(plot_note, len, "No plots: %s.", pe.msg);
        if (!ro.quiet) fprintf(stderr, "tally report: note: %s\n", pe.msg);
    } else {
        if (ro.png_dir && dir_create(ro.png_dir, &e) < 0) goto fail;
        for (size_t i = 0; i < cs.n; i++) {
            const chart *c = &cs.v[i];
            report_plot *pl = &plots[n_plots++];
            pl->title = c->title;
            pl->caption = c->caption;
            buf_reset(&pic);
            buf_reset(&inl);
            err_clear(&pe);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "p%zu-", i + 1);
            if (draw(&env, c, PLOT_SVG, &pic, &pe) < 0 ||
                plot_svg_inline(pic.data, prefix, &inl, &pe) < 0) {
                pl->error = svgs[i] = strdup(pe.msg);
                if (!ro.quiet) fprintf(stderr, "tally report: %s\n", pe.msg);
                continue;
            }
            pl->svg = svgs[i] = buf_detach(&inl, NULL);
            if (!pl->svg) {
                err_set(&e, ERR_NOMEM, "out of memory");
                goto fail;
            }
            if (ro.png_dir) {
                buf_reset(&pic);
                buf path = BUF_INIT;
                path_join(&path, ro.png_dir, c->file);
                int rc = draw(&env, c, PLOT_PNG, &pic, &e);
                if (rc == 0) rc = file_write_atomic(path.data, pic.data, pic.len, &e);
                buf_release(&path);
                if (rc < 0) goto fail;
            }
        }
    }

    /* manifests side by side, task by task */
    mans = calloc(t->n_tasks ? t->n_tasks : 1, sizeof *mans);
    man_store = calloc((t->n_tasks ? t->n_tasks : 1) * t->n_runs, sizeof *man_store);
    if (!mans || !man_store) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < t->n_tasks; k++) {
        mans[k].task = t->tasks[k].task;
        for (size_t r = 0; r < t->n_runs; r++) {
            run_task *rt = runset_find(&job.sets[r], t->tasks[k].task);
            man_store[k * t->n_runs + r] = rt ? rt->manifest : NULL;
        }
        mans[k].manifest = &man_store[k * t->n_runs];
    }
    if (gather_items(&dis, &job, (size_t)ro.max_items, &e) < 0) goto fail;

    char now[32], gen[128];
    time_iso8601(now, sizeof now);
    snprintf(gen, sizeof gen, "tally %s, %s", TALLY_VERSION, now);
    report_page page_def = {ro.title, gen,        t,     plots, n_plots,    plot_note,
                            mans,     t->n_tasks, dis.v, dis.n, dis.omitted};
    if (report_render_html(&page_def, &page, &e) < 0) goto fail;
    if (file_write_atomic(ro.out, page.data, page.len, &e) < 0) goto fail;
    if (!ro.quiet)
        fprintf(stderr, "tally report: %s (%zu run%s, %zu task%s, %zu plot%s)\n", ro.out, t->n_runs,
                t->n_runs == 1 ? "" : "s", t->n_tasks, t->n_tasks == 1 ? "" : "s", n_plots,
                n_plots == 1 ? "" : "s");
    goto out;
fail:
    status = cmd_fail("report", &e);
out:
    for (size_t i = 0; svgs && i < cs.n; i++) free(svgs[i]);
    free(svgs);
    free(plots);
    free(plot_note);
    free(mans);
    free(man_store);
    dis_release(&dis);
    charts_release(&cs);
    cmp_job_release(&job);
    buf_release(&page);
    buf_release(&pic);
    buf_release(&inl);
    opts_release(&res);
    str_list_release(&ro.reference);
    str_list_release(&ro.label);
    return status;
}

const command_def cmd_report_def = {
    .name = "report",
    .summary = "one self-contained HTML page of several runs, with plots",
    .usage = "tally report DIR... --out report.html [--png-dir DIR] [options]",
    .details =
        "The page holds the comparison table of `tally compare` (intervals, and for two runs\n"
        "the paired tests and flips), bar charts per benchmark and per category drawn with\n"
        "gnuplot and inlined as SVG, the KL-divergence histogram of quantdiff runs, the run\n"
        "manifests side by side with the fields that differ marked, and the items one run\n"
        "passes and the other fails with both completions. Nothing is fetched from the network.\n"
        "Without gnuplot on PATH the page says so and has no plots.\n",
    .opts = report_opt_defs,
    .main = cmd_report_main,
};
