/* html.h: the self-contained report page of `tally report`.
 *
 * One HTML file with everything inline (CSS, SVG pictures; no script, nothing
 * fetched from the network): the comparison table (table.h's fragment), the
 * plots, the run manifests side by side with the fields that differ marked,
 * and the items one run passes and the other fails with both completions.
 * The caller gathers the pieces (the harness reads the run directories and
 * draws the plots); report_render_html only writes them out. Every string is
 * borrowed; the page goes into a caller-owned buf.
 */
#ifndef TALLY_REPORTS_HTML_H
#define TALLY_REPORTS_HTML_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "compare.h"

typedef struct report_plot {
    const char *title;
    const char *caption; /* or NULL */
    const char *svg;     /* inline-ready SVG (plot_svg_inline), or NULL when it failed */
    const char *error;   /* why there is no picture, or NULL */
} report_plot;

/* One item where two runs disagree. */
typedef struct report_item {
    const char *task, *metric, *id;
    const char *outcome[2];    /* the metric's outcome in each run */
    const char *reason[2];     /* the scorer's reason, or NULL */
    const char *completion[2]; /* the completion text, or NULL when samples.jsonl lacks it */
} report_item;

typedef struct report_manifests {
    const char *task;
    const cJSON *const *manifest; /* [n_runs of the table]; NULL where the run lacks the task */
} report_manifests;

typedef struct report_page {
    const char *title;
    const char *generated; /* "tally 0.1.0, 2026-01-01T00:00:00Z" */
    const cmp_table *table;
    const report_plot *plots;
    size_t n_plots;
    const char *plot_note; /* shown instead of plots (gnuplot missing), or NULL */
    const report_manifests *manifests;
    size_t n_manifests;
    const report_item *items;
    size_t n_items;
    size_t items_omitted; /* disagreements not listed (past the cap) */
} report_page;

int report_render_html(const report_page *p, buf *out, err *e);

#endif
