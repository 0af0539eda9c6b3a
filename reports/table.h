/* table.h: the comparison table (compare.h) written out.
 *
 *   md     GitHub-flavoured markdown with aligned columns: what a CI step
 *          summary shows (deltas with sign and significance marker, flip
 *          tables, what differs, the gate's verdict, a legend)
 *   csv    one line per (task, metric), values as fractions
 *   json   the whole model, values as fractions, NaN as null
 *   html   a self-contained page (inline CSS, no script)
 *   junit  JUnit XML: one test case per metric, failing when its gate is
 *          crossed; plus one per task for instrument failures and
 *          comparability
 *
 * Every renderer appends to a caller-owned buf and returns 0 or ERR_NOMEM /
 * ERR_LIMIT (the buf's cap). cmp_to_json returns a tree the caller deletes.
 */
#ifndef TALLY_REPORTS_TABLE_H
#define TALLY_REPORTS_TABLE_H

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/err.h"
#include "compare.h"

enum cmp_format {
    CMP_FORMAT_MD = 0,
    CMP_FORMAT_CSV,
    CMP_FORMAT_JSON,
    CMP_FORMAT_HTML,
    CMP_FORMAT_JUNIT,
};

/* The format for "md", "csv", ...; -1 when unknown. */
int cmp_format_from_name(const char *name);

int cmp_render(const cmp_table *t, int format, buf *out, err *e);
int cmp_render_md(const cmp_table *t, buf *out);
int cmp_render_csv(const cmp_table *t, buf *out);
int cmp_render_junit(const cmp_table *t, buf *out);
/* A standalone page. */
int cmp_render_html(const cmp_table *t, buf *out);
/* The tables, flips, notes and legend as an HTML fragment (for report pages). */
int cmp_render_html_body(const cmp_table *t, buf *out);
/* The model as JSON (NULL when out of memory). */
cJSON *cmp_to_json(const cmp_table *t);

/* The stylesheet the HTML renderers use, for pages that embed the fragment. */
extern const char cmp_html_css[];

/* Appends `s` with &, <, >, " and ' escaped (HTML text and attributes, XML). */
int html_escape(buf *out, const char *s);

#endif
