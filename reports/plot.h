/* plot.h: charts drawn by gnuplot, as SVG (for the HTML report) or PNG
 * (for README badges and chat messages).
 *
 * Each call writes a gnuplot script with its data inline (a datablock) into
 * a fresh temporary directory, runs the gnuplot program found on the search
 * path the caller gives (its PATH) with a time limit, reads the picture back into
 * a caller-owned buf and removes the directory. Nothing is printed; gnuplot's
 * own error output comes back in the error message.
 *
 *   plot_env env = PLOT_ENV_INIT;
 *   if (plot_find(&env, NULL, &e) < 0) ...   // ERR_NOTFOUND: no gnuplot
 *   plot_bars_render(&env, &bars, PLOT_SVG, &svg, &e);
 *   plot_svg_inline(svg.data, "p1", &html);  // ready to put in a page
 */
#ifndef TALLY_REPORTS_PLOT_H
#define TALLY_REPORTS_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct plot_env {
    const char *gnuplot;     /* a path, or a name looked up in search_path; NULL = "gnuplot" */
    const char *search_path; /* directories separated by ':' (the caller's PATH);
                              * NULL = "/usr/local/bin:/usr/bin:/bin" */
    const char *tmp_dir;     /* scratch; NULL = /tmp */
    double timeout_s;        /* per picture; 0 = 60 s */
} plot_env;

#define PLOT_ENV_INIT                                                                              \
    {                                                                                              \
        NULL, NULL, NULL, 0                                                                        \
    }

enum plot_format {
    PLOT_SVG = 0,
    PLOT_PNG,
};

/* Finds the gnuplot program; *path_out (may be NULL) gets a malloc'd copy of
 * its path. ERR_NOTFOUND with a message that says how to install it. */
int plot_find(const plot_env *env, char **path_out, err *e);

/* One bar per group and series: values in percent, NaN where missing. lo/hi
 * (may be NULL) draw error bars. */
typedef struct plot_series {
    const char *label;
    const double *y, *lo, *hi; /* [n_groups] */
} plot_series;

typedef struct plot_bars {
    const char *title;
    const char *ylabel;
    const char *const *groups; /* x labels */
    size_t n_groups;
    const plot_series *series;
    size_t n_series;
    double ymin, ymax; /* NaN = from the data */
    int width, height; /* pixels; 0 = sized to the bars */
} plot_bars;

int plot_bars_render(const plot_env *env, const plot_bars *p, int format, buf *out, err *e);

/* A histogram from bin edges and counts (KL divergence per token). */
typedef struct plot_hist {
    const char *title, *xlabel, *ylabel;
    const double *edges;  /* [n_bins + 1], increasing */
    const double *counts; /* [n_bins] */
    size_t n_bins;
    bool log_x; /* edges are log-spaced (all > 0) */
    int width, height;
} plot_hist;

int plot_hist_render(const plot_env *env, const plot_hist *h, int format, buf *out, err *e);

/* Appends gnuplot's SVG in a form that can sit inside an HTML page: the XML
 * prolog and doctype dropped, every id (and every reference to it) prefixed
 * with `prefix` so that several pictures on one page do not collide, and
 * event-handler attributes removed. ERR_FORMAT when `svg` has no <svg> element. */
int plot_svg_inline(const char *svg, const char *prefix, buf *out, err *e);

#endif
