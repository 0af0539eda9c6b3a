/* plot.c: bar charts and histograms through gnuplot, and SVG made fit for a page. */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/strmap.h"
#include "common/util.h"

/* Paul Tol's "bright" scheme: tells series apart for colour-blind readers too. */
static const char *const palette[] = {"#4477AA", "#EE6677", "#228833", "#CCBB44",
                                      "#66CCEE", "#AA3377", "#BBBBBB"};

/* ---- finding and running gnuplot ---- */

int plot_find(const plot_env *env, char **path_out, err *e)
{
    const char *name = env && env->gnuplot ? env->gnuplot : "gnuplot";
    if (path_out) *path_out = NULL;
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0)
            return err_set(e, ERR_NOTFOUND, "gnuplot: %s is not an executable program", name);
        if (path_out && !(*path_out = strdup(name))) return err_set(e, ERR_NOMEM, "out of memory");
        return 0;
    }
    const char *sp = env && env->search_path ? env->search_path : "/usr/local/bin:/usr/bin:/bin";
    buf p = BUF_INIT;
    for (const char *s = sp; *s;) {
        const char *colon = strchr(s, ':');
        size_t len = colon ? (size_t)(colon - s) : strlen(s);
        buf_reset(&p);
        if (len == 0)
            buf_puts(&p, ".");
        else
            buf_append(&p, s, len);
        buf_putc(&p, '/');
        buf_puts(&p, name);
        struct stat st;
        if (stat(p.data, &st) == 0 && S_ISREG(st.st_mode) && access(p.data, X_OK) == 0) {
            int rc = 0;
            if (path_out && !(*path_out = strdup(p.data)))
                rc = err_set(e, ERR_NOMEM, "out of memory");
            buf_release(&p);
            return rc;
        }
        s += len;
        if (*s == ':') s++;
    }
    buf_release(&p);
    return err_set(e, ERR_NOTFOUND,
                   "%s was not found on PATH (install it, e.g. `apt-get install "
                   "gnuplot-nox`)",
                   name);
}

/* Runs `prog script` with stdout and stderr into `log`, killed after timeout_s. */
static int run_gnuplot(const char *prog, const char *script, const char *log, double timeout_s,
                       err *e)
{
    pid_t pid = fork();
    if (pid < 0) return err_errno(e, "gnuplot: fork");
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        char *const argv[] = {(char *)prog, (char *)script, NULL};
        execv(prog, argv);
        _exit(127);
    }
    double start = time_now_s();
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return err_errno(e, "gnuplot: waitpid");
        if (time_now_s() - start > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return err_set(e, ERR_TIMEOUT, "gnuplot: no picture after %.0f s (killed)", timeout_s);
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    buf msg = BUF_INIT;
    msg.cap_max = 1 << 20;
    file_read_all(log, &msg, NULL);
    /* the last line gnuplot printed says what went wrong */
    while (msg.len && (msg.data[msg.len - 1] == '\n' || msg.data[msg.len - 1] == ' '))
        msg.data[--msg.len] = 0;
    const char *last = msg.data + msg.len;
    for (int lines = 0; last > msg.data && lines < 3; last--)
        if (last[-1] == '\n') lines++;
    char what[64];
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        snprintf(what, sizeof what, "could not be started");
    else if (WIFEXITED(st))
        snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(st));
    else
        snprintf(what, sizeof what, "was killed by signal %d", WTERMSIG(st));
    int rc = err_set(e, ERR_IO, "gnuplot %s: %.600s", what, *last ? last : "(no message)");
    for (char *p = e ? e->msg : NULL; p && *p; p++)
        if (*p == '\n') *p = ' ';
    buf_release(&msg);
    return rc;
}

/* A string for a gnuplot script: single quotes (no escapes but '' for '). */
static int gp_quote(buf *b, const char *s)
{
    int rc = buf_putc(b, '\'');
    for (const char *p = s ? s : ""; *p && rc == 0; p++) {
        if (*p == '\'')
            rc = buf_puts(b, "''");
        else if (*p == '\n' || *p == '\r')
            rc = buf_putc(b, ' ');
        else
            rc = buf_putc(b, *p);
    }
    if (!rc) rc = buf_putc(b, '\'');
    return rc;
}

/* A label inside a datablock: double quotes, and no double quote inside. */
static int data_quote(buf *b, const char *s)
{
    int rc = buf_putc(b, '"');
    for (const char *p = s ? s : ""; *p && rc == 0; p++)
        rc = buf_putc(b, *p == '"' ? '\'' : (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p);
    if (!rc) rc = buf_putc(b, '"');
    return rc;
}

static int data_num(buf *b, double x)
{
    if (!isfinite(x)) return buf_puts(b, " ?");
    return buf_printf(b, " %.10g", x);
}

static int terminal(buf *b, int format, int w, int h, const char *out_path)
{
    int rc;
    if (format == PLOT_PNG)
        rc = buf_printf(b,
                        "set terminal pngcairo size %d,%d noenhanced font 'sans,10' "
                        "background '#ffffff'\n",
                        w, h);
    else
        rc = buf_printf(b,
                        "set terminal svg size %d,%d noenhanced font 'sans,11' "
                        "background '#ffffff'\n",
                        w, h);
    if (!rc) rc = buf_puts(b, "set output ");
    if (!rc) rc = gp_quote(b, out_path);
    if (!rc) rc = buf_puts(b, "\nset datafile missing '?'\n");
    return rc;
}

/* Writes the script, runs gnuplot, reads the picture. */
static int render(const plot_env *env, const char *what, int format,
                  int (*write_script)(const void *p, int format, const char *out, buf *b),
                  const void *p, buf *out, err *e)
{
    char *prog = NULL;
    char dir[4096] = "";
    buf script = BUF_INIT, path = BUF_INIT, log = BUF_INIT, pic = BUF_INIT;
    int rc = plot_find(env, &prog, e);
    if (rc < 0) return rc;
    snprintf(dir, sizeof dir, "%s/tally-plot-XXXXXX", env && env->tmp_dir ? env->tmp_dir : "/tmp");
    if (!mkdtemp(dir)) {
        rc = err_errno(e, "plot: cannot make a scratch directory in %s",
                       env && env->tmp_dir ? env->tmp_dir : "/tmp");
        dir[0] = 0;
        goto out;
    }
    path_join(&pic, dir, format == PLOT_PNG ? "plot.png" : "plot.svg");
    path_join(&path, dir, "plot.gp");
    path_join(&log, dir, "gnuplot.log");
    if ((rc = write_script(p, format, pic.data, &script)) < 0) {
        rc = err_set(e, rc, "plot %s: %s", what, err_code_name(rc));
        goto out;
    }
    if ((rc = file_write_atomic(path.data, script.data, script.len, e)) < 0) goto out;
    if ((rc = run_gnuplot(prog, path.data, log.data,
                          env && env->timeout_s > 0 ? env->timeout_s : 60, e)) < 0) {
        err_prefix(e, "plot %s", what);
        goto out;
    }
    size_t before = out->len;
    if ((rc = file_read_all(pic.data, out, e)) < 0) {
        err_prefix(e, "plot %s: gnuplot wrote no picture", what);
        goto out;
    }
    if (out->len == before)
        rc = err_set(e, ERR_IO, "plot %s: gnuplot wrote an empty picture", what);
out:
    if (dir[0]) {
        unlink(pic.data);
        unlink(path.data);
        unlink(log.data);
        rmdir(dir);
    }
    free(prog);
    buf_release(&script);
    buf_release(&path);
    buf_release(&log);
    buf_release(&pic);
    return rc;
}

/* ---- bars ---- */

static int bars_script(const void *pp, int format, const char *out, buf *b)
{
    const plot_bars *p = pp;
    size_t longest = 0;
    for (size_t g = 0; g < p->n_groups; g++)
        if (strlen(p->groups[g]) > longest) longest = strlen(p->groups[g]);
    int w = p->width ? p->width : (int)(160 + p->n_groups * (p->n_series * 22 + 26));
    if (w < 560) w = 560;
    if (w > 2400) w = 2400;
    /* labels wider than their slot (about 7 px a character) are turned */
    bool rotate = (double)longest * 7 > (double)(w - 160) / (double)p->n_groups;
    int h = p->height ? p->height : 380 + (rotate ? (int)(longest > 40 ? 40 : longest) * 6 : 0);
    int rc = terminal(b, format, w, h, out);
    if (!rc) rc = buf_puts(b, "$data << EOD\n");
    for (size_t g = 0; g < p->n_groups && rc == 0; g++) {
        rc = data_quote(b, p->groups[g]);
        for (size_t s = 0; s < p->n_series && rc == 0; s++) {
            const plot_series *se = &p->series[s];
            double y = se->y[g];
            double lo = se->lo ? se->lo[g] : y, hi = se->hi ? se->hi[g] : y;
            rc = data_num(b, y);
            if (!rc) rc = data_num(b, isfinite(y) ? lo : NAN);
            if (!rc) rc = data_num(b, isfinite(y) ? hi : NAN);
        }
        if (!rc) rc = buf_putc(b, '\n');
    }
    if (!rc) rc = buf_puts(b, "EOD\nset title ");
    if (!rc) rc = gp_quote(b, p->title);
    if (!rc) rc = buf_puts(b, "\nset ylabel ");
    if (!rc) rc = gp_quote(b, p->ylabel);
    if (!rc)
        rc = buf_puts(b, "\nset style data histogram\n"
                         "set style histogram errorbars gap 1 lw 1.2\n"
                         "set style fill solid 0.85 border rgb '#444444'\n"
                         "set boxwidth 0.92\n"
                         "set grid ytics lc rgb '#dddddd'\n"
                         "set border 3 lc rgb '#444444'\n"
                         "set xtics nomirror scale 0\nset ytics nomirror\n"
                         "set key outside bottom center horizontal noautotitle\n");
    if (!rc && rotate) rc = buf_puts(b, "set xtics rotate by -35 left\nset rmargin 8\n");
    if (!rc) {
        if (isfinite(p->ymin) || isfinite(p->ymax)) {
            rc = buf_puts(b, "set yrange [");
            if (!rc && isfinite(p->ymin)) rc = buf_printf(b, "%g", p->ymin);
            if (!rc) rc = buf_putc(b, ':');
            if (!rc && isfinite(p->ymax)) rc = buf_printf(b, "%g", p->ymax);
            if (!rc) rc = buf_puts(b, "]\n");
        } else {
            rc = buf_puts(b, "set yrange [0:*]\n");
        }
    }
    if (!rc) rc = buf_puts(b, "plot ");
    for (size_t s = 0; s < p->n_series && rc == 0; s++) {
        size_t c = 2 + 3 * s;
        if (s == 0)
            rc = buf_printf(b, "$data using %zu:%zu:%zu:xtic(1) title ", c, c + 1, c + 2);
        else
            rc = buf_printf(b, ", '' using %zu:%zu:%zu title ", c, c + 1, c + 2);
        if (!rc) rc = gp_quote(b, p->series[s].label);
        if (!rc)
            rc = buf_printf(b, " lc rgb '%s'", palette[s % (sizeof palette / sizeof palette[0])]);
    }
    if (!rc) rc = buf_puts(b, "\n");
    return rc;
}

int plot_bars_render(const plot_env *env, const plot_bars *p, int format, buf *out, err *e)
{
    if (!p->n_groups || !p->n_series)
        return err_set(e, ERR_INVALID, "plot \"%s\": no bars", p->title);
    return render(env, p->title ? p->title : "bars", format, bars_script, p, out, e);
}

/* ---- histogram ---- */

static int hist_script(const void *pp, int format, const char *out, buf *b)
{
    const plot_hist *h = pp;
    int rc = terminal(b, format, h->width ? h->width : 760, h->height ? h->height : 380, out);
    if (!rc) rc = buf_puts(b, "$data << EOD\n");
    for (size_t i = 0; i < h->n_bins && rc == 0; i++)
        rc = buf_printf(b, "%.10g %.10g %.10g\n", h->edges[i], h->edges[i + 1], h->counts[i]);
    if (!rc) rc = buf_puts(b, "EOD\nset title ");
    if (!rc) rc = gp_quote(b, h->title);
    if (!rc) rc = buf_puts(b, "\nset xlabel ");
    if (!rc) rc = gp_quote(b, h->xlabel);
    if (!rc) rc = buf_puts(b, "\nset ylabel ");
    if (!rc) rc = gp_quote(b, h->ylabel);
    if (!rc)
        rc = buf_printf(b,
                        "\nset style fill solid 0.85 border rgb '#444444'\n"
                        "set grid ytics lc rgb '#dddddd'\nset border 3 lc rgb '#444444'\n"
                        "set xtics nomirror\nset ytics nomirror\nset key off\n"
                        "set xrange [%.10g:%.10g]\nset yrange [0:*]\n%s",
                        h->edges[0], h->edges[h->n_bins], h->log_x ? "set logscale x\n" : "");
    /* each bin a box from edge to edge: x, y, xlow, xhigh, ylow, yhigh */
    if (!rc)
        rc = buf_printf(b, "plot $data using (%s):($3/2):1:2:(0):3 with boxxyerror lc rgb '%s'\n",
                        h->log_x ? "sqrt($1*$2)" : "($1+$2)/2", palette[0]);
    return rc;
}

int plot_hist_render(const plot_env *env, const plot_hist *h, int format, buf *out, err *e)
{
    if (!h->n_bins) return err_set(e, ERR_INVALID, "histogram \"%s\": no bins", h->title);
    for (size_t i = 0; i < h->n_bins; i++)
        if (!(h->edges[i + 1] > h->edges[i]) || !isfinite(h->counts[i]) || h->counts[i] < 0)
            return err_set(e, ERR_INVALID,
                           "histogram \"%s\": bin %zu is not increasing or its "
                           "count is not a count",
                           h->title, i);
    if (h->log_x && !(h->edges[0] > 0))
        return err_set(e, ERR_INVALID, "histogram \"%s\": log scale needs edges > 0", h->title);
    return render(env, h->title ? h->title : "histogram", format, hist_script, h, out, e);
}

/* ---- SVG for a page ---- */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
}

int plot_svg_inline(const char *svg, const char *prefix, buf *out, err *e)
{
    const char *start = strstr(svg, "<svg");
    if (!start) return err_set(e, ERR_FORMAT, "plot: gnuplot's output has no <svg> element");
    strmap ids = STRMAP_INIT;
    int rc = 0;
    /* the ids defined in the picture */
    for (const char *p = start; (p = strstr(p, "id=")) != NULL; p += 3) {
        if (p > start && id_char(p[-1])) continue;
        char q = p[3];
        if (q != '\'' && q != '"') continue;
        const char *n = p + 4, *end = strchr(n, q);
        if (!end) break;
        if (strmap_put(&ids, n, (size_t)(end - n), 0) < 0) {
            strmap_release(&ids);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    size_t len = strlen(start);
    while (len && (start[len - 1] == '\n' || start[len - 1] == ' ')) len--;
    const char *end = start + len;
    for (const char *p = start; p < end && rc == 0;) {
        /* an event handler attribute: on...="..." */
        if (p[0] == ' ' && p[1] == 'o' && p[2] == 'n' && p + 3 < end && p[3] >= 'a' &&
            p[3] <= 'z') {
            const char *q = p + 3;
            while (q < end && *q >= 'a' && *q <= 'z') q++;
            if (q + 1 < end && q[0] == '=' && (q[1] == '"' || q[1] == '\'')) {
                const char *close = memchr(q + 2, q[1], (size_t)(end - q - 2));
                if (close) {
                    p = close + 1;
                    continue;
                }
            }
        }
        /* id='X' and references #X */
        bool is_def = strncmp(p, "id=", 3) == 0 && (p == start || !id_char(p[-1])) &&
                      (p[3] == '\'' || p[3] == '"');
        bool is_ref = (p[0] == '\'' || p[0] == '"' || p[0] == '(') && p + 1 < end && p[1] == '#';
        if (is_def || is_ref) {
            const char *n = p + (is_def ? 4 : 2), *q = n;
            while (q < end && id_char(*q)) q++;
            if (q > n && strmap_get(&ids, n, (size_t)(q - n), NULL)) {
                rc = buf_append(out, p, (size_t)(n - p));
                if (!rc) rc = buf_puts(out, prefix);
                if (!rc) rc = buf_append(out, n, (size_t)(q - n));
                p = q;
                continue;
            }
        }
        rc = buf_putc(out, *p++);
    }
    strmap_release(&ids);
    if (rc < 0) return err_set(e, rc, "plot: %s", err_code_name(rc));
    return 0;
}
