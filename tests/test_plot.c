/* test_plot.c: gnuplot found or clearly missing, pictures drawn (SVG and PNG),
 * a failing or hanging gnuplot, SVG made fit for a page, and the report page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "reports/compare.h"
#include "reports/html.h"
#include "reports/plot.h"
#include "scorers/metric.h"
#include "test.h"

static bool have_gnuplot(void)
{
    plot_env env = PLOT_ENV_INIT;
    return plot_find(&env, NULL, NULL) == 0;
}

static void test_plot__find(void)
{
    plot_env env = PLOT_ENV_INIT;
    err e = ERR_INIT;
    env.search_path = "/nonexistent:/also/not";
    char *path = (char *)"x";
    CHECK_INT(plot_find(&env, &path, &e), ERR_NOTFOUND);
    CHECK(path == NULL);
    CHECK(strstr(e.msg, "gnuplot was not found on PATH") != NULL);
    CHECK(strstr(e.msg, "gnuplot-nox") != NULL);
    env.gnuplot = "/nonexistent/gnuplot";
    CHECK_INT(plot_find(&env, NULL, &e), ERR_NOTFOUND);
    /* drawing without gnuplot is the same clear error, not a crash */
    const char *groups[] = {"a"};
    double y[] = {50};
    plot_series s = {"run", y, NULL, NULL};
    plot_bars b = {"t", "%", groups, 1, &s, 1, 0, 100, 0, 0};
    buf out = BUF_INIT;
    CHECK_INT(plot_bars_render(&env, &b, PLOT_SVG, &out, &e), ERR_NOTFOUND);
    CHECK_INT(out.len, 0);
    buf_release(&out);
}

static void test_plot__svg_inline(void)
{
    const char *svg =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg width=\"10\" onload=\"evil()\" "
        "xmlns:xlink=\"x\">\n<g id=\"gnuplot_canvas\"><defs><path id='gpPt0' d='M0'/>"
        "<clipPath id='gpClip'/></defs><use xlink:href='#gpPt0' clip-path=\"url(#gpClip)\"/>"
        "<a href='#elsewhere'>x</a><rect grid='1' width='2'/></g></svg>\n\n";
    buf out = BUF_INIT;
    err e = ERR_INIT;
    CHECK_INT(plot_svg_inline(svg, "p7-", &out, &e), 0);
    CHECK(strncmp(out.data, "<svg width=\"10\" xmlns", 21) == 0);
    CHECK(strstr(out.data, "onload") == NULL);
    CHECK(strstr(out.data, "id=\"p7-gnuplot_canvas\"") != NULL);
    CHECK(strstr(out.data, "id='p7-gpPt0'") != NULL);
    CHECK(strstr(out.data, "xlink:href='#p7-gpPt0'") != NULL);
    CHECK(strstr(out.data, "url(#p7-gpClip)") != NULL);
    CHECK(strstr(out.data, "href='#elsewhere'") != NULL); /* not an id of the picture */
    CHECK(strstr(out.data, "grid='1'") != NULL);          /* "id=" inside another name */
    CHECK(out.data[out.len - 1] == '>');
    buf_reset(&out);
    CHECK_INT(plot_svg_inline("<html>no picture</html>", "p", &out, &e), ERR_FORMAT);
    buf_release(&out);
}

static void test_plot__draw(void)
{
    if (!have_gnuplot()) {
        fprintf(stderr, "test_plot__draw: gnuplot not installed, skipped\n");
        return;
    }
    plot_env env = PLOT_ENV_INIT;
    err e = ERR_INIT;
    const char *groups[] = {"gsm8k strict", "it's \"quoted\"", "ifeval prompt_strict"};
    double y1[] = {85.5, 40, NAN}, lo1[] = {83, 30, NAN}, hi1[] = {88, 50, NAN};
    double y2[] = {80, 45, 70};
    plot_series s[] = {{"base", y1, lo1, hi1}, {"cand 'q4'", y2, NULL, NULL}};
    plot_bars b = {"Scores: it's a title", "%", groups, 3, s, 2, 0, 100, 0, 0};
    buf out = BUF_INIT;
    CHECK_INT(plot_bars_render(&env, &b, PLOT_SVG, &out, &e), 0);
    CHECK(strstr(out.data, "<svg") != NULL);
    CHECK(strstr(out.data, "<path") != NULL);
    CHECK(strstr(out.data, "it's a title") != NULL);
    buf_reset(&out);
    CHECK_INT(plot_bars_render(&env, &b, PLOT_PNG, &out, &e), 0);
    CHECK(out.len > 1000 && memcmp(out.data, "\x89PNG\r\n\x1a\n", 8) == 0);
    /* a histogram on a log axis */
    double edges[] = {1e-4, 1e-3, 1e-2, 1e-1, 1};
    double counts[] = {500, 300, 40, 2};
    plot_hist h = {"KL", "nats", "tokens", edges, counts, 4, true, 0, 0};
    buf_reset(&out);
    CHECK_INT(plot_hist_render(&env, &h, PLOT_SVG, &out, &e), 0);
    CHECK(strstr(out.data, "<svg") != NULL);
    /* bad histograms are refused before gnuplot runs */
    double bad_edges[] = {0, 1, 1, 2};
    plot_hist hb = {"bad", "x", "y", bad_edges, counts, 3, false, 0, 0};
    CHECK_INT(plot_hist_render(&env, &hb, PLOT_SVG, &out, &e), ERR_INVALID);
    double zero_edges[] = {0, 1, 2, 3, 4};
    plot_hist hz = {"zero", "x", "y", zero_edges, counts, 4, true, 0, 0};
    CHECK_INT(plot_hist_render(&env, &hz, PLOT_SVG, &out, &e), ERR_INVALID);
    plot_bars empty = {"none", "%", groups, 0, s, 2, 0, 100, 0, 0};
    CHECK_INT(plot_bars_render(&env, &empty, PLOT_SVG, &out, &e), ERR_INVALID);
    buf_release(&out);
}

static void test_plot__gnuplot_fails(void)
{
    plot_env env = PLOT_ENV_INIT;
    err e = ERR_INIT;
    const char *groups[] = {"a"};
    double y[] = {50};
    plot_series s = {"run", y, NULL, NULL};
    plot_bars b = {"t", "%", groups, 1, &s, 1, 0, 100, 0, 0};
    buf out = BUF_INIT;
    char dir[] = "/tmp/tally-test-plot-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fake[256], hang[256];
    snprintf(fake, sizeof fake, "%s/fails", dir);
    snprintf(hang, sizeof hang, "%s/hangs", dir);
    const char *f1 = "#!/bin/sh\necho \"line 3: undefined variable: x\" >&2\nexit 1\n";
    const char *f2 = "#!/bin/sh\nexec sleep 30\n";
    CHECK_INT(file_write_atomic(fake, f1, strlen(f1), &e), 0);
    CHECK_INT(file_write_atomic(hang, f2, strlen(f2), &e), 0);
    chmod(fake, 0755);
    chmod(hang, 0755);
    env.gnuplot = fake;
    CHECK_INT(plot_bars_render(&env, &b, PLOT_SVG, &out, &e), ERR_IO);
    CHECK(strstr(e.msg, "exited with status 1") && strstr(e.msg, "undefined variable: x"));
    env.gnuplot = hang;
    env.timeout_s = 0.3;
    CHECK_INT(plot_bars_render(&env, &b, PLOT_SVG, &out, &e), ERR_TIMEOUT);
    CHECK_INT(out.len, 0);
    /* a scratch directory that cannot be made */
    env.gnuplot = fake;
    env.tmp_dir = "/nonexistent/tmp";
    CHECK_INT(plot_bars_render(&env, &b, PLOT_SVG, &out, &e), ERR_IO);
    unlink(fake);
    unlink(hang);
    rmdir(dir);
    buf_release(&out);
}

static void test_plot__page(void)
{
    /* a one-run table */
    cJSON *results = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(results, "metrics");
    metric_put(m, "acc", metric_proportion(3, 4));
    cJSON *man = cJSON_Parse("{\"task\":\"t\",\"runner\":{\"model\":\"<m>\"},\"created\":\"x\"}");
    cJSON *man2 = cJSON_Parse("{\"task\":\"t\",\"runner\":{\"model\":\"m2\"},\"created\":\"y\"}");
    cmp_task_run tr = {"t", NULL, "d", man, results, NULL, NULL, NULL, 0, NULL, NULL};
    cmp_task_run tr2 = {"t", NULL, "d2", man2, results, NULL, NULL, NULL, 0, NULL, NULL};
    cmp_run runs[2] = {{"one", &tr, 1}, {"two", &tr2, 1}};
    cmp_settings s;
    cmp_settings_default(&s);
    cmp_table t;
    err e = ERR_INIT;
    CHECK_INT(cmp_build(&t, runs, 2, &s, &e), 0);
    report_plot plots[] = {{"Scores", "bars", "<svg id='p1-x'><rect/></svg>", NULL},
                           {"Broken", NULL, NULL, "gnuplot exited with status 1"}};
    const cJSON *mans[2] = {man, man2};
    report_manifests rm = {"t", mans};
    report_item it = {"t",
                      "acc",
                      "7",
                      {"correct", "wrong"},
                      {NULL, "extracted \"5\""},
                      {"<script>alert(1)</script>", NULL}};
    report_page p = {"My <report>", "tally test", &t, plots, 2, NULL, &rm, 1, &it, 1, 3};
    buf out = BUF_INIT;
    CHECK_INT(report_render_html(&p, &out, &e), 0);
    CHECK(strncmp(out.data, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(out.data, "<title>My &lt;report&gt;</title>") != NULL);
    CHECK(strstr(out.data, "<svg id='p1-x'><rect/></svg>") != NULL);
    CHECK(strstr(out.data, "gnuplot exited with status 1") != NULL);
    CHECK(strstr(out.data, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    CHECK(strstr(out.data, "<script") == NULL);
    CHECK(strstr(out.data, "(not recorded)") != NULL);
    CHECK(strstr(out.data, "3 more not listed") != NULL);
    /* the manifests side by side: the model differs (marked), the time is incidental */
    CHECK(strstr(out.data, "<tr class=\"diff\"><td><code>runner.model</code>") != NULL);
    CHECK(strstr(out.data, "<tr class=\"incidental\"><td><code>created</code>") != NULL);
    CHECK(strstr(out.data, "&lt;m&gt;") != NULL);
    CHECK(strstr(out.data, "http://") == NULL && strstr(out.data, "https://") == NULL);
    /* without plots: the note instead */
    buf_reset(&out);
    p.plots = NULL;
    p.n_plots = 0;
    p.plot_note = "No plots: gnuplot was not found on PATH";
    CHECK_INT(report_render_html(&p, &out, &e), 0);
    CHECK(strstr(out.data, "<p class=\"note\">No plots: gnuplot was not found") != NULL);
    CHECK(strstr(out.data, "<svg") == NULL);
    buf_release(&out);
    cmp_release(&t);
    cJSON_Delete(results);
    cJSON_Delete(man);
    cJSON_Delete(man2);
}

int main(void)
{
    RUN(test_plot__find);
    RUN(test_plot__svg_inline);
    RUN(test_plot__draw);
    RUN(test_plot__gnuplot_fails);
    RUN(test_plot__page);
    return test_report();
}
