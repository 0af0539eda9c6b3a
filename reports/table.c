/* table.c: the comparison table as markdown, CSV, JSON, HTML and JUnit XML. */
#include "table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "stats.h"

int cmp_format_from_name(const char *name)
{
    static const char *const names[] = {"md", "csv", "json", "html", "junit"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(name, names[i]) == 0) return i;
    if (strcmp(name, "markdown") == 0) return CMP_FORMAT_MD;
    if (strcmp(name, "xml") == 0) return CMP_FORMAT_JUNIT;
    return -1;
}

/* ---- shared text bits ---- */

#define EM_DASH   "\xe2\x80\x94"
#define DELTA     "\xce\x94"
#define ALPHA     "\xce\xb1"
#define WARN      "\xe2\x9a\xa0"
#define PASS_MARK "\xe2\x9c\x85"
#define FAIL_MARK "\xe2\x9d\x8c"

static double row_p(const cmp_row *r)
{
    return isnan(r->p_holm) ? r->p : r->p_holm;
}

/* "", "*", "**" or "***" */
static const char *stars(const cmp_table *t, const cmp_row *r)
{
    double p = row_p(r);
    if (isnan(p) || !r->significant) return "";
    if (p < 0.001 && t->alpha > 0.001) return "***";
    if (p < 0.01 && t->alpha > 0.01) return "**";
    return "*";
}

static void fmt_p(char *out, size_t n, double p)
{
    if (isnan(p))
        snprintf(out, n, "%s", "");
    else if (p >= 0.001)
        snprintf(out, n, "%.3f", p);
    else
        snprintf(out, n, "%.1e", p);
}

static void fmt_cell(char *out, size_t n, const cmp_cell *c, bool raw)
{
    if (!c->present)
        snprintf(out, n, EM_DASH);
    else if (raw)
        snprintf(out, n, "%.4g [%.4g, %.4g]", c->value, c->lo, c->hi);
    else
        snprintf(out, n, "%.2f [%.2f, %.2f]", 100 * c->value, 100 * c->lo, 100 * c->hi);
}

/* Percentage points, or the raw difference of a metric that is not a fraction. */
static double shown(const cmp_row *r, double x)
{
    return r->raw ? x : 100 * x;
}

/* The reference's value and how far the last run with a value is from it. */
static void fmt_ref(char *out, size_t n, const cmp_table *t, const cmp_row *r, size_t f)
{
    if (isnan(r->refs[f])) {
        snprintf(out, n, EM_DASH);
        return;
    }
    size_t last = t->n_runs;
    while (last > 0 && !r->cells[last - 1].present) last--;
    if (!last) {
        snprintf(out, n, "%.2f", 100 * r->refs[f]);
        return;
    }
    const cmp_cell *c = &r->cells[last - 1];
    bool inside = r->refs[f] >= c->lo && r->refs[f] <= c->hi;
    snprintf(out, n, "%.2f (%+.2f%s)", 100 * r->refs[f], 100 * (c->value - r->refs[f]),
             inside ? ", in CI" : "");
}

static bool better(const cmp_row *r)
{
    return r->lower_is_better ? r->delta < 0 : r->delta > 0;
}

static const char *run_name(const cmp_table *t, size_t i)
{
    return t->labels[i];
}

/* ---- markdown ---- */

typedef struct mdtab {
    size_t ncol;
    const char *align; /* 'l' or 'r' per column */
    char **cells;      /* row-major, malloc'd strings */
    size_t nrows, cap;
} mdtab;

static void mdtab_release(mdtab *m)
{
    for (size_t i = 0; i < m->nrows * m->ncol; i++) free(m->cells[i]);
    free(m->cells);
    memset(m, 0, sizeof *m);
}

/* Copies the row with '|' escaped and line breaks flattened. */
static int mdtab_row(mdtab *m, const char *const *cells)
{
    if (m->nrows == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 16;
        char **nv = realloc(m->cells, nc * m->ncol * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        m->cells = nv;
        m->cap = nc;
    }
    for (size_t c = 0; c < m->ncol; c++) {
        const char *s = cells[c] ? cells[c] : "";
        buf b = BUF_INIT;
        for (const char *p = s; *p; p++) {
            int rc = 0;
            if (*p == '|')
                rc = buf_puts(&b, "\\|");
            else if (*p == '\n' || *p == '\r' || *p == '\t')
                rc = buf_putc(&b, ' ');
            else
                rc = buf_putc(&b, *p);
            if (rc < 0) {
                buf_release(&b);
                for (size_t q = 0; q < c; q++) free(m->cells[m->nrows * m->ncol + q]);
                return ERR_NOMEM;
            }
        }
        char *d = buf_detach(&b, NULL);
        if (!d) {
            for (size_t q = 0; q < c; q++) free(m->cells[m->nrows * m->ncol + q]);
            return ERR_NOMEM;
        }
        m->cells[m->nrows * m->ncol + c] = d;
    }
    m->nrows++;
    return 0;
}

/* Columns on a terminal: code points, emoji and the like counted twice. */
static size_t disp_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        int len;
        if (*p < 0x80)
            cp = *p, len = 1;
        else if ((*p & 0xE0) == 0xC0)
            cp = *p & 0x1F, len = 2;
        else if ((*p & 0xF0) == 0xE0)
            cp = *p & 0x0F, len = 3;
        else
            cp = *p & 0x07, len = 4;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                len = i;
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        p += len;
        w += (cp >= 0x1F000 || cp == 0x2705 || cp == 0x274C) ? 2 : 1;
    }
    return w;
}

static int pad(buf *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf_putc(out, ' ') < 0) return ERR_NOMEM;
    return 0;
}

static int mdtab_write(const mdtab *m, buf *out)
{
    size_t *w = calloc(m->ncol, sizeof *w);
    if (!w) return ERR_NOMEM;
    for (size_t r = 0; r < m->nrows; r++)
        for (size_t c = 0; c < m->ncol; c++) {
            size_t x = disp_width(m->cells[r * m->ncol + c]);
            if (x > w[c]) w[c] = x;
        }
    int rc = 0;
    for (size_t r = 0; r < m->nrows && rc == 0; r++) {
        for (size_t c = 0; c < m->ncol && rc == 0; c++) {
            const char *s = m->cells[r * m->ncol + c];
            size_t gap = w[c] - disp_width(s);
            rc = buf_puts(out, "| ");
            if (!rc && m->align[c] == 'r') rc = pad(out, gap);
            if (!rc) rc = buf_puts(out, s);
            if (!rc && m->align[c] != 'r') rc = pad(out, gap);
            if (!rc) rc = buf_putc(out, ' ');
        }
        if (!rc) rc = buf_puts(out, "|\n");
        if (r == 0) {
            for (size_t c = 0; c < m->ncol && rc == 0; c++) {
                size_t dashes = w[c] < 3 ? 3 : w[c];
                rc = buf_puts(out, "| ");
                if (!rc && m->align[c] != 'r') rc = buf_putc(out, ':');
                for (size_t i = 0; i < dashes - 1 && rc == 0; i++) rc = buf_putc(out, '-');
                if (!rc && m->align[c] == 'r') rc = buf_putc(out, ':');
                if (!rc) rc = buf_putc(out, ' ');
            }
            if (!rc) rc = buf_puts(out, "|\n");
        }
    }
    free(w);
    return rc < 0 ? ERR_NOMEM : 0;
}

/* The markdown cells of one row of the main tables. */
typedef struct rowcells {
    char task[300], metric[300];
    char cell[8][64];
    char refs[8][64];
    char delta[64], p[32], ph[32], gate[64];
} rowcells;

static void md_stars(char *out, size_t n, const char *s)
{
    /* asterisks are emphasis in markdown: escape them */
    size_t k = 0;
    for (; *s && k + 3 < n; s++) {
        out[k++] = '\\';
        out[k++] = *s;
    }
    out[k] = 0;
}

static void row_texts(const cmp_table *t, const cmp_row *r, bool md, rowcells *rc)
{
    memset(rc, 0, sizeof *rc);
    snprintf(rc->metric, sizeof rc->metric, "%s", r->metric);
    for (size_t i = 0; i < t->n_runs && i < 8; i++)
        fmt_cell(rc->cell[i], sizeof rc->cell[i], &r->cells[i], r->raw);
    for (size_t f = 0; f < t->n_refs && f < 8; f++)
        fmt_ref(rc->refs[f], sizeof rc->refs[f], t, r, f);
    if (r->test != CMP_TEST_NONE) {
        char st[16];
        if (md)
            md_stars(st, sizeof st, stars(t, r));
        else
            snprintf(st, sizeof st, "%s", stars(t, r));
        snprintf(rc->delta, sizeof rc->delta, r->raw ? "%+.4g%s%s" : "%+.2f%s%s",
                 shown(r, r->delta), *st ? " " : "", st);
        fmt_p(rc->p, sizeof rc->p, r->p);
        fmt_p(rc->ph, sizeof rc->ph, r->p_holm);
    } else if (t->n_runs == 2 && r->cells[0].present && r->cells[1].present) {
        snprintf(rc->delta, sizeof rc->delta, r->raw ? "%+.4g (untested)" : "%+.2f (untested)",
                 shown(r, r->cells[1].value - r->cells[0].value));
    }
    if (!isnan(r->gate)) {
        if (!r->comparable || r->test == CMP_TEST_NONE)
            snprintf(rc->gate, sizeof rc->gate, WARN);
        else if (r->regression)
            snprintf(rc->gate, sizeof rc->gate, FAIL_MARK " > %.2f", r->gate);
        else
            snprintf(rc->gate, sizeof rc->gate, PASS_MARK " %.2f", r->gate);
    }
}

static bool show_holm(const cmp_table *t)
{
    return t->n_runs == 2 && t->holm && t->n_family > 1;
}

/* The header and rows [from, to) of the main table (or a category table). */
static int md_table(const cmp_table *t, buf *out, const cmp_row *const *rows, size_t n, bool tasks)
{
    size_t nr = t->n_runs > 8 ? 8 : t->n_runs, nf = t->n_refs > 8 ? 8 : t->n_refs;
    bool two = t->n_runs == 2;
    size_t ncol = 2 + nr + nf + (two ? 2 + (show_holm(t) ? 1 : 0) + (t->gated ? 1 : 0) : 0);
    char align[32];
    const char *hdr[32];
    char hbuf[32][160];
    size_t c = 0;
    align[c] = 'l', hdr[c++] = "task";
    align[c] = 'l', hdr[c++] = "metric";
    for (size_t i = 0; i < nr; i++) {
        snprintf(hbuf[c], sizeof hbuf[c], "%s", run_name(t, i));
        align[c] = 'r', hdr[c] = hbuf[c], c++;
    }
    for (size_t f = 0; f < nf; f++) {
        snprintf(hbuf[c], sizeof hbuf[c], "ref: %s", t->ref_labels[f]);
        align[c] = 'r', hdr[c] = hbuf[c], c++;
    }
    if (two) {
        snprintf(hbuf[c], sizeof hbuf[c],
                 DELTA " %s"
                       "\xe2\x88\x92"
                       "%s",
                 run_name(t, 1), run_name(t, 0));
        align[c] = 'r', hdr[c] = hbuf[c], c++;
        align[c] = 'r', hdr[c++] = "p";
        if (show_holm(t)) align[c] = 'r', hdr[c++] = "p (Holm)";
        if (t->gated) align[c] = 'l', hdr[c++] = "gate";
    }
    align[c] = 0;
    mdtab m = {ncol, align, NULL, 0, 0};
    int rc = mdtab_row(&m, hdr);
    const char *prev = NULL;
    rowcells *rcs = malloc(sizeof *rcs);
    if (!rcs) rc = ERR_NOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const cmp_row *r = rows[i];
        row_texts(t, r, true, rcs);
        const char *cells[32];
        size_t k = 0;
        if (tasks && (!prev || strcmp(prev, r->task) != 0)) {
            snprintf(rcs->task, sizeof rcs->task, "%s%s", r->task,
                     r->comparable ? "" : " " WARN " not comparable");
            cells[k++] = rcs->task;
        } else {
            cells[k++] = "";
        }
        prev = r->task;
        cells[k++] = rcs->metric;
        for (size_t q = 0; q < nr; q++) cells[k++] = rcs->cell[q];
        for (size_t f = 0; f < nf; f++) cells[k++] = rcs->refs[f];
        if (two) {
            cells[k++] = rcs->delta;
            cells[k++] = rcs->p;
            if (show_holm(t)) cells[k++] = rcs->ph;
            if (t->gated) cells[k++] = rcs->gate;
        }
        rc = mdtab_row(&m, cells);
    }
    free(rcs);
    if (rc == 0) rc = mdtab_write(&m, out);
    mdtab_release(&m);
    return rc;
}

static const cmp_row *headline_test_row(const cmp_table *t, const cmp_task *ct, int test)
{
    for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++) {
        const cmp_row *r = &t->rows[i];
        if (r->group == NULL && (test < 0 ? r->test != CMP_TEST_NONE : r->test == test)) return r;
    }
    return NULL;
}

/* A note of task k that other tasks repeat word for word (the model file of
 * every task, say) is listed once: note_owner returns false for the later
 * copies, and writes into who the tasks that share it ("every task" when all
 * of them do). */
static bool note_owner(const cmp_table *t, size_t k, size_t i, buf *who)
{
    const char *note = t->tasks[k].notes[i];
    for (size_t j = 0; j < k; j++)
        for (size_t m = 0; m < t->tasks[j].n_notes; m++)
            if (!strcmp(t->tasks[j].notes[m], note)) return false;
    size_t n_with = 0;
    buf list = BUF_INIT;
    for (size_t j = k; j < t->n_tasks; j++)
        for (size_t m = 0; m < t->tasks[j].n_notes; m++)
            if (!strcmp(t->tasks[j].notes[m], note)) {
                if (n_with++) buf_puts(&list, ", ");
                buf_puts(&list, t->tasks[j].task);
                break;
            }
    buf_reset(who);
    buf_puts(who, n_with == t->n_tasks && n_with > 1 ? "every task" : list.data);
    buf_release(&list);
    return true;
}

static int md_ids(buf *out, const char *const *ids, size_t n, size_t total)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = buf_printf(out, "%s`%s`", i ? ", " : "", ids[i]);
    if (!rc && total > n) rc = buf_printf(out, ", ... (%zu more)", total - n);
    return rc;
}

/* "With n = 1319 and 53 disagreeing items (4.0%), differences under 1.21 points ..." */
static int mde_line(const cmp_table *t, const cmp_row *r, buf *out)
{
    if (r->test == CMP_TEST_MCNEMAR) {
        size_t d = r->flips[CMP_ONLY_A] + r->flips[CMP_ONLY_B];
        if (isinf(r->mde))
            return buf_printf(out,
                              "With n = %zu and %zu disagreeing item%s, no difference can be told "
                              "from noise at " ALPHA " = %g (McNemar).",
                              r->n_shared, d, d == 1 ? "" : "s", t->alpha);
        return buf_printf(
            out,
            "With n = %zu and this disagreement rate (%zu items, %.1f%%), differences "
            "under %.2f points cannot be told from noise (McNemar, " ALPHA " = %g).",
            r->n_shared, d, 100 * r->disagree, 100 * r->mde, t->alpha);
    }
    return buf_printf(out,
                      "With n = %zu, differences under %.4g%s cannot be told from noise "
                      "(paired bootstrap, " ALPHA " = %g).",
                      r->n_shared, shown(r, r->mde), r->raw ? "" : " points", t->alpha);
}

static int md_flips(const cmp_table *t, const cmp_row *r, buf *out)
{
    const char *a = run_name(t, 0), *b = run_name(t, 1);
    int rc = buf_printf(out,
                        "\n#### %s "
                        "\xc2\xb7"
                        " %s: where the runs disagree (%zu shared items)\n\n",
                        r->task, r->metric, r->n_shared);
    char h1[200], h2[200], r1[200], r2[200], v[4][32];
    snprintf(h1, sizeof h1, "%s correct", b);
    snprintf(h2, sizeof h2, "%s not", b);
    snprintf(r1, sizeof r1, "%s correct", a);
    snprintf(r2, sizeof r2, "%s not", a);
    for (int i = 0; i < 4; i++) snprintf(v[i], sizeof v[i], "%zu", r->flips[i]);
    const char *hdr[] = {"", h1, h2};
    const char *row1[] = {r1, v[CMP_BOTH], v[CMP_ONLY_A]};
    const char *row2[] = {r2, v[CMP_ONLY_B], v[CMP_NEITHER]};
    mdtab m = {3, "lrr", NULL, 0, 0};
    if (!rc) rc = mdtab_row(&m, hdr);
    if (!rc) rc = mdtab_row(&m, row1);
    if (!rc) rc = mdtab_row(&m, row2);
    if (!rc) rc = mdtab_write(&m, out);
    mdtab_release(&m);
    if (!rc && r->flips[CMP_ONLY_A]) {
        rc = buf_printf(out, "\nOnly %s: %zu (", a, r->flips[CMP_ONLY_A]);
        if (!rc) rc = md_ids(out, r->only_a, r->n_only_a, r->flips[CMP_ONLY_A]);
        if (!rc) rc = buf_puts(out, ")\n");
    }
    if (!rc && r->flips[CMP_ONLY_B]) {
        rc = buf_printf(out, "%sOnly %s: %zu (", r->flips[CMP_ONLY_A] ? "\n" : "\n", b,
                        r->flips[CMP_ONLY_B]);
        if (!rc) rc = md_ids(out, r->only_b, r->n_only_b, r->flips[CMP_ONLY_B]);
        if (!rc) rc = buf_puts(out, ")\n");
    }
    return rc;
}

static bool has_groups(const cmp_table *t)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (t->rows[i].group) return true;
    return false;
}

/* The legend: markdown (asterisks escaped, in <sub>) or plain text. */
static int legend(const cmp_table *t, buf *out, bool md)
{
    const char *s1 = md ? "\\*" : "*", *s2 = md ? "\\*\\*" : "**", *s3 = md ? "\\*\\*\\*" : "***";
    int rc = buf_printf(out,
                        "%sScores in %%, with the 95%% interval results.json gives "
                        "(Wilson for proportions).",
                        md ? "\n<sub>" : "");
    if (!rc && t->n_runs == 2)
        rc = buf_printf(out,
                        " " DELTA " = %s "
                        "\xe2\x88\x92"
                        " %s in points on the items both runs "
                        "share; p from McNemar's exact test for pass/fail metrics, else a paired "
                        "bootstrap (%zu resamples, seed %llu); %s p < %g, %s p < 0.01, "
                        "%s p < 0.001%s.",
                        run_name(t, 1), run_name(t, 0), t->bootstrap, (unsigned long long)t->seed,
                        s1, t->alpha, s2, s3,
                        !t->holm || t->n_family < 2 ? ""
                        : t->family_gated           ? ", Holm-adjusted over the gated metrics"
                        : has_groups(t)             ? ", Holm-adjusted over the declared metrics "
                                                      "(per-category rows unadjusted)"
                                                    : ", Holm-adjusted over the metrics tested");
    bool boot = false;
    for (size_t i = 0; i < t->n_rows; i++) boot |= t->rows[i].test == CMP_TEST_BOOTSTRAP;
    if (!rc && boot)
        rc = buf_printf(out,
                        " A bootstrap p is never below 1/%zu (raise --bootstrap for finer ones).",
                        t->bootstrap + 1);
    if (!rc && t->n_refs)
        rc = buf_puts(out, " ref: published number (its gap from the last run, and whether it "
                           "lies in that run's interval).");
    if (!rc && t->gated)
        rc = buf_puts(out, " gate: " PASS_MARK " within the gate or not significant, " FAIL_MARK
                           " a significant drop beyond it, " WARN " cannot be tested.");
    if (!rc && md) rc = buf_puts(out, "</sub>\n");
    return rc;
}

int cmp_render_md(const cmp_table *t, buf *out)
{
    int rc = buf_puts(out, "### tally compare: ");
    for (size_t i = 0; i < t->n_runs && rc == 0; i++)
        rc = buf_printf(out, "%s`%s`", i ? " vs " : "", run_name(t, i));
    if (!rc) rc = buf_puts(out, "\n\n");
    for (size_t i = 0; i < t->n_runs && rc == 0; i++)
        rc = buf_printf(out, "- **%s**: %s\n", run_name(t, i), t->descs[i] ? t->descs[i] : "?");
    if (!rc && t->not_comparable)
        rc =
            buf_puts(out, "\n> " WARN " **Not comparable**: some runs differ in what they measure; "
                          "see the notes below.\n");
    if (!rc) rc = buf_putc(out, '\n');
    /* the main table: declared metrics of every task */
    const cmp_row **sel = malloc((t->n_rows ? t->n_rows : 1) * sizeof *sel);
    if (!sel) return ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < t->n_rows; i++)
        if (!t->rows[i].group) sel[n++] = &t->rows[i];
    if (!rc && n) rc = md_table(t, out, sel, n, true);
    /* per-category tables, folded */
    for (size_t k = 0; k < t->n_tasks && rc == 0; k++) {
        const cmp_task *ct = &t->tasks[k];
        n = 0;
        for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++)
            if (t->rows[i].group) sel[n++] = &t->rows[i];
        if (!n) continue;
        rc = buf_printf(out,
                        "\n<details><summary>%s: %zu more metric%s (categories, instruction "
                        "groups)</summary>\n\n",
                        ct->task, n, n == 1 ? "" : "s");
        if (!rc) rc = md_table(t, out, sel, n, false);
        if (!rc) rc = buf_puts(out, "\n</details>\n");
    }
    free(sel);
    /* flips and the detectable effect, per task */
    for (size_t k = 0; k < t->n_tasks && rc == 0 && t->n_runs == 2; k++) {
        const cmp_task *ct = &t->tasks[k];
        const cmp_row *r = headline_test_row(t, ct, CMP_TEST_MCNEMAR);
        if (r) rc = md_flips(t, r, out);
        const cmp_row *any = r ? r : headline_test_row(t, ct, -1);
        if (!rc && any) {
            rc = buf_putc(out, '\n');
            if (!rc && !r)
                rc = buf_printf(out,
                                "%s "
                                "\xc2\xb7"
                                " %s: ",
                                any->task, any->metric);
            if (!rc) rc = mde_line(t, any, out);
            if (!rc) rc = buf_putc(out, '\n');
        }
    }
    /* what differs */
    size_t n_notes = t->n_notes;
    for (size_t k = 0; k < t->n_tasks; k++) n_notes += t->tasks[k].n_notes;
    if (!rc && n_notes) rc = buf_puts(out, "\n**What differs**\n\n");
    buf who = BUF_INIT;
    for (size_t k = 0; k < t->n_tasks && rc == 0; k++) {
        const cmp_task *ct = &t->tasks[k];
        size_t shown = 0, more = 0;
        for (size_t i = 0; i < ct->n_notes && rc == 0; i++) {
            if (!note_owner(t, k, i, &who)) continue;
            if (shown == 12) {
                more++;
                continue;
            }
            shown++;
            rc = buf_printf(out, "- %s: %s\n", who.len ? who.data : ct->task, ct->notes[i]);
        }
        if (!rc && more)
            rc = buf_printf(out, "- %s: ... and %zu more (`tally diff` lists them all)\n", ct->task,
                            more);
    }
    buf_release(&who);
    for (size_t i = 0; i < t->n_notes && rc == 0; i++) rc = buf_printf(out, "- %s\n", t->notes[i]);
    /* instrument failures */
    bool any_fail = false;
    for (size_t k = 0; k < t->n_tasks; k++)
        for (size_t r = 0; r < t->n_runs; r++) any_fail |= t->tasks[k].failures[r] > 0;
    if (!rc && any_fail) {
        rc = buf_puts(out, "\n**Instrument failures** (api_error, timeout, truncated; counted as "
                           "wrong in the scores)\n\n");
        for (size_t k = 0; k < t->n_tasks && rc == 0; k++)
            for (size_t r = 0; r < t->n_runs && rc == 0; r++)
                if (t->tasks[k].failures[r])
                    rc = buf_printf(out, "- %s in %s: %zu of %zu samples%s\n", t->tasks[k].task,
                                    run_name(t, r), t->tasks[k].failures[r], t->tasks[k].samples[r],
                                    t->tasks[k].failures_over[r] ? " " FAIL_MARK " above the limit"
                                                                 : "");
    }
    /* the verdict */
    if (!rc && (t->gated || t->failures_gated)) {
        int v = cmp_verdict(t);
        rc = buf_printf(out, "\n**Gate**: %s\n",
                        v == CMP_STATUS_OK ? PASS_MARK " passed" : FAIL_MARK " failed");
        for (size_t i = 0; i < t->n_messages && rc == 0; i++)
            rc = buf_printf(out, "- %s\n", t->messages[i]);
    }
    if (!rc) rc = legend(t, out, true);
    return rc < 0 ? ERR_NOMEM : 0;
}

/* ---- CSV ---- */

static int csv_str(buf *out, const char *s)
{
    if (!s) s = "";
    if (!strpbrk(s, ",\"\n\r")) return buf_puts(out, s);
    int rc = buf_putc(out, '"');
    for (const char *p = s; *p && rc == 0; p++)
        rc = *p == '"' ? buf_puts(out, "\"\"") : buf_putc(out, *p);
    if (!rc) rc = buf_putc(out, '"');
    return rc;
}

static int csv_num(buf *out, double x)
{
    if (isnan(x)) return 0;
    if (isinf(x)) return buf_puts(out, x > 0 ? "inf" : "-inf");
    return buf_printf(out, "%.10g", x);
}

int cmp_render_csv(const cmp_table *t, buf *out)
{
    int rc = buf_puts(out, "task,metric,group,comparable");
    for (size_t i = 0; i < t->n_runs && rc == 0; i++) {
        const char *suf[] = {"value", "lo", "hi", "n"};
        for (int k = 0; k < 4 && rc == 0; k++) {
            char h[300];
            snprintf(h, sizeof h, "%s %s", run_name(t, i), suf[k]);
            rc = buf_putc(out, ',');
            if (!rc) rc = csv_str(out, h);
        }
    }
    for (size_t f = 0; f < t->n_refs && rc == 0; f++) {
        char h[300];
        snprintf(h, sizeof h, "ref %s", t->ref_labels[f]);
        rc = buf_putc(out, ',');
        if (!rc) rc = csv_str(out, h);
    }
    if (!rc)
        rc = buf_puts(out, ",delta,delta_lo,delta_hi,p,p_holm,test,n_shared,mde,both,only_a,only_b,"
                           "neither,gate,significant,regression\n");
    for (size_t i = 0; i < t->n_rows && rc == 0; i++) {
        const cmp_row *r = &t->rows[i];
        rc = csv_str(out, r->task);
        if (!rc) rc = buf_putc(out, ',');
        if (!rc) rc = csv_str(out, r->metric);
        if (!rc) rc = buf_putc(out, ',');
        if (!rc) rc = csv_str(out, r->group ? r->group : "");
        if (!rc) rc = buf_printf(out, ",%s", r->comparable ? "true" : "false");
        for (size_t q = 0; q < t->n_runs && rc == 0; q++) {
            const cmp_cell *c = &r->cells[q];
            rc = buf_putc(out, ',');
            if (c->present) {
                if (!rc) rc = csv_num(out, c->value);
                if (!rc) rc = buf_putc(out, ',');
                if (!rc) rc = csv_num(out, c->lo);
                if (!rc) rc = buf_putc(out, ',');
                if (!rc) rc = csv_num(out, c->hi);
                if (!rc) rc = buf_printf(out, ",%zu", c->n);
            } else if (!rc) {
                rc = buf_puts(out, ",,");
            }
        }
        for (size_t f = 0; f < t->n_refs && rc == 0; f++) {
            rc = buf_putc(out, ',');
            if (!rc) rc = csv_num(out, r->refs[f]);
        }
        double nums[] = {r->delta, r->lo, r->hi, r->p, r->p_holm};
        for (size_t k = 0; k < 5 && rc == 0; k++) {
            rc = buf_putc(out, ',');
            if (!rc) rc = csv_num(out, nums[k]);
        }
        if (!rc) rc = buf_printf(out, ",%s,", cmp_test_name(r->test));
        if (!rc && r->test != CMP_TEST_NONE) rc = buf_printf(out, "%zu", r->n_shared);
        if (!rc) rc = buf_putc(out, ',');
        if (!rc) rc = csv_num(out, r->mde);
        for (int k = 0; k < 4 && rc == 0; k++) {
            rc = buf_putc(out, ',');
            if (!rc && r->test == CMP_TEST_MCNEMAR) rc = buf_printf(out, "%zu", r->flips[k]);
        }
        if (!rc) rc = buf_putc(out, ',');
        if (!rc) rc = csv_num(out, r->gate);
        if (!rc)
            rc = buf_printf(out, ",%s,%s\n", r->significant ? "true" : "false",
                            r->regression ? "true" : "false");
    }
    return rc < 0 ? ERR_NOMEM : 0;
}

/* ---- JSON ---- */

static cJSON *num_or_null(double x)
{
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static cJSON *str_array(const char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *pair(double lo, double hi)
{
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    cJSON_AddItemToArray(a, num_or_null(lo));
    cJSON_AddItemToArray(a, num_or_null(hi));
    return a;
}

static cJSON *row_json(const cmp_table *t, const cmp_row *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "task", r->task);
    cJSON_AddStringToObject(o, "metric", r->metric);
    if (r->group)
        cJSON_AddStringToObject(o, "group", r->group);
    else
        cJSON_AddNullToObject(o, "group");
    cJSON_AddBoolToObject(o, "headline", r->headline);
    cJSON_AddBoolToObject(o, "lower_is_better", r->lower_is_better);
    cJSON_AddBoolToObject(o, "comparable", r->comparable);
    cJSON *cells = cJSON_AddArrayToObject(o, "runs");
    for (size_t i = 0; i < t->n_runs; i++) {
        const cmp_cell *c = &r->cells[i];
        if (!c->present) {
            cJSON_AddItemToArray(cells, cJSON_CreateNull());
            continue;
        }
        cJSON *x = cJSON_CreateObject();
        cJSON_AddItemToObject(x, "value", num_or_null(c->value));
        cJSON_AddItemToObject(x, "ci95", pair(c->lo, c->hi));
        cJSON_AddNumberToObject(x, "n", (double)c->n);
        cJSON_AddItemToArray(cells, x);
    }
    cJSON *refs = cJSON_AddArrayToObject(o, "references");
    for (size_t f = 0; f < t->n_refs; f++) cJSON_AddItemToArray(refs, num_or_null(r->refs[f]));
    cJSON_AddStringToObject(o, "test", cmp_test_name(r->test));
    if (r->test != CMP_TEST_NONE) {
        cJSON_AddNumberToObject(o, "n_shared", (double)r->n_shared);
        cJSON_AddItemToObject(o, "delta", num_or_null(r->delta));
        cJSON_AddItemToObject(o, "delta_ci95", pair(r->lo, r->hi));
        cJSON_AddItemToObject(o, "p", num_or_null(r->p));
        cJSON_AddItemToObject(o, "p_holm", num_or_null(r->p_holm));
        cJSON_AddItemToObject(o, "mde", num_or_null(r->mde));
        cJSON_AddBoolToObject(o, "significant", r->significant);
    }
    if (r->test == CMP_TEST_MCNEMAR) {
        cJSON *fl = cJSON_AddObjectToObject(o, "flips");
        cJSON_AddNumberToObject(fl, "both", (double)r->flips[CMP_BOTH]);
        cJSON_AddNumberToObject(fl, "only_a", (double)r->flips[CMP_ONLY_A]);
        cJSON_AddNumberToObject(fl, "only_b", (double)r->flips[CMP_ONLY_B]);
        cJSON_AddNumberToObject(fl, "neither", (double)r->flips[CMP_NEITHER]);
        cJSON_AddItemToObject(fl, "only_a_ids", str_array(r->only_a, r->n_only_a));
        cJSON_AddItemToObject(fl, "only_b_ids", str_array(r->only_b, r->n_only_b));
        cJSON_AddItemToObject(o, "disagreement", num_or_null(r->disagree));
    }
    cJSON_AddItemToObject(o, "gate", num_or_null(r->gate));
    cJSON_AddBoolToObject(o, "regression", r->regression);
    return o;
}

cJSON *cmp_to_json(const cmp_table *t)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "alpha", t->alpha);
    cJSON_AddNumberToObject(o, "bootstrap", (double)t->bootstrap);
    cJSON_AddNumberToObject(o, "seed", (double)t->seed);
    cJSON_AddBoolToObject(o, "holm", t->holm);
    cJSON_AddNumberToObject(o, "holm_family", (double)t->n_family);
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (size_t i = 0; i < t->n_runs; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "label", t->labels[i]);
        if (t->descs[i]) cJSON_AddStringToObject(r, "model", t->descs[i]);
        cJSON_AddItemToArray(runs, r);
    }
    cJSON_AddItemToObject(o, "references", str_array(t->ref_labels, t->n_refs));
    cJSON *tasks = cJSON_AddArrayToObject(o, "tasks");
    for (size_t k = 0; k < t->n_tasks; k++) {
        const cmp_task *ct = &t->tasks[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "task", ct->task);
        cJSON_AddBoolToObject(x, "comparable", ct->comparable);
        if (t->n_runs == 2) cJSON_AddNumberToObject(x, "n_shared", (double)ct->n_shared);
        cJSON_AddBoolToObject(x, "paired", ct->paired);
        cJSON *rr = cJSON_AddArrayToObject(x, "runs");
        for (size_t r = 0; r < t->n_runs; r++) {
            if (!ct->present[r]) {
                cJSON_AddItemToArray(rr, cJSON_CreateNull());
                continue;
            }
            cJSON *y = cJSON_CreateObject();
            cJSON_AddNumberToObject(y, "items", (double)ct->items[r]);
            cJSON_AddNumberToObject(y, "samples", (double)ct->samples[r]);
            cJSON_AddNumberToObject(y, "instrument_failures", (double)ct->failures[r]);
            cJSON_AddBoolToObject(y, "failures_over_limit", ct->failures_over[r]);
            cJSON_AddItemToArray(rr, y);
        }
        cJSON_AddItemToObject(x, "notes", str_array(ct->notes, ct->n_notes));
        cJSON_AddItemToArray(tasks, x);
    }
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    for (size_t i = 0; i < t->n_rows; i++) cJSON_AddItemToArray(rows, row_json(t, &t->rows[i]));
    cJSON_AddItemToObject(o, "notes", str_array(t->notes, t->n_notes));
    cJSON *v = cJSON_AddObjectToObject(o, "verdict");
    cJSON_AddNumberToObject(v, "status", cmp_verdict(t));
    cJSON_AddBoolToObject(v, "gated", t->gated);
    cJSON_AddNumberToObject(v, "regressions", (double)t->n_regressions);
    cJSON_AddBoolToObject(v, "failures_exceeded", t->failures_exceeded);
    cJSON_AddBoolToObject(v, "not_comparable", t->not_comparable);
    cJSON_AddItemToObject(v, "messages", str_array(t->messages, t->n_messages));
    return o;
}

/* ---- HTML ---- */

int html_escape(buf *out, const char *s)
{
    int rc = 0;
    for (const char *p = s ? s : ""; *p && rc == 0; p++) {
        switch (*p) {
        case '&':
            rc = buf_puts(out, "&amp;");
            break;
        case '<':
            rc = buf_puts(out, "&lt;");
            break;
        case '>':
            rc = buf_puts(out, "&gt;");
            break;
        case '"':
            rc = buf_puts(out, "&quot;");
            break;
        case '\'':
            rc = buf_puts(out, "&#39;");
            break;
        default:
            rc = buf_putc(out, *p);
        }
    }
    return rc;
}

const char cmp_html_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;"
    "color:#1f2328;background:#fff;max-width:1400px}\n"
    "h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #d0d7de;padding-bottom:4px;"
    "margin-top:1.6em}h3{font-size:1.05em}\n"
    "table{border-collapse:collapse;margin:8px 0 16px 0;font-size:0.92em}\n"
    "th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top}\n"
    "th{background:#f6f8fa;text-align:left}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.better{color:#116329;font-weight:600}td.worse{color:#a40e26;font-weight:600}\n"
    "tr.regression td{background:#ffebe9}tr.noncomp td{background:#fff8c5}\n"
    "tr.diff td{background:#fff8c5}tr.incidental td{color:#656d76}\n"
    "table.manifest,table.items{width:100%;table-layout:fixed}\n"
    "table.manifest td,table.items td{overflow-wrap:anywhere}\n"
    "table.manifest th:first-child,table.items th:first-child{width:22%}\n"
    ".ci{color:#656d76;font-size:0.9em}.warn{color:#9a6700;font-weight:600}\n"
    ".pass{color:#116329;font-weight:600}.fail{color:#a40e26;font-weight:600}\n"
    ".legend{color:#656d76;font-size:0.85em;max-width:1000px}\n"
    "pre{background:#f6f8fa;padding:8px;white-space:pre-wrap;word-break:break-word;"
    "max-height:320px;overflow:auto;margin:0;font-size:0.85em}\n"
    "code{background:#f6f8fa;padding:1px 4px;border-radius:4px}\n"
    "figure{margin:12px 0}figure svg{max-width:100%;height:auto;display:block}"
    "figcaption{color:#656d76;font-size:0.85em}\n"
    ".note{background:#fff8c5;border:1px solid #d4a72c;padding:8px;border-radius:6px}\n";

static int html_cell_num(buf *out, const cmp_cell *c, bool raw)
{
    if (!c->present) return buf_puts(out, "<td class=\"num\">" EM_DASH "</td>");
    if (raw)
        return buf_printf(out, "<td class=\"num\">%.4g <span class=\"ci\">[%.4g, %.4g]</span></td>",
                          c->value, c->lo, c->hi);
    return buf_printf(out, "<td class=\"num\">%.2f <span class=\"ci\">[%.2f, %.2f]</span></td>",
                      100 * c->value, 100 * c->lo, 100 * c->hi);
}

static int html_table(const cmp_table *t, buf *out, const cmp_row *const *rows, size_t n)
{
    bool two = t->n_runs == 2;
    int rc = buf_puts(out, "<table class=\"cmp\"><thead><tr><th>task</th><th>metric</th>");
    for (size_t i = 0; i < t->n_runs && rc == 0; i++) {
        rc = buf_puts(out, "<th>");
        if (!rc) rc = html_escape(out, run_name(t, i));
        if (!rc) rc = buf_puts(out, "</th>");
    }
    for (size_t f = 0; f < t->n_refs && rc == 0; f++) {
        rc = buf_puts(out, "<th>ref: ");
        if (!rc) rc = html_escape(out, t->ref_labels[f]);
        if (!rc) rc = buf_puts(out, "</th>");
    }
    if (!rc && two) {
        rc = buf_puts(out, "<th>" DELTA " ");
        if (!rc) rc = html_escape(out, run_name(t, 1));
        if (!rc) rc = buf_puts(out, " &minus; ");
        if (!rc) rc = html_escape(out, run_name(t, 0));
        if (!rc) rc = buf_puts(out, "</th><th>p</th>");
        if (!rc && show_holm(t)) rc = buf_puts(out, "<th>p (Holm)</th>");
        if (!rc) rc = buf_puts(out, t->gated ? "<th>test</th><th>gate</th>" : "<th>test</th>");
    }
    if (!rc) rc = buf_puts(out, "</tr></thead><tbody>\n");
    rowcells *rcs = malloc(sizeof *rcs);
    if (!rcs) return ERR_NOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const cmp_row *r = rows[i];
        row_texts(t, r, false, rcs);
        rc = buf_printf(out, "<tr class=\"%s\"><td>",
                        r->regression    ? "regression"
                        : !r->comparable ? "noncomp"
                                         : "");
        if (!rc) rc = html_escape(out, r->task);
        if (!rc && !r->comparable)
            rc = buf_puts(out, " <span class=\"warn\">" WARN " not comparable</span>");
        if (!rc) rc = buf_puts(out, "</td><td>");
        if (!rc) rc = html_escape(out, r->metric);
        if (!rc) rc = buf_puts(out, "</td>");
        for (size_t q = 0; q < t->n_runs && rc == 0; q++)
            rc = html_cell_num(out, &r->cells[q], r->raw);
        for (size_t f = 0; f < t->n_refs && rc == 0; f++) {
            rc = buf_puts(out, "<td class=\"num\">");
            if (!rc) rc = html_escape(out, rcs->refs[f]);
            if (!rc) rc = buf_puts(out, "</td>");
        }
        if (!rc && two) {
            const char *cls = r->test != CMP_TEST_NONE && r->significant
                                  ? (better(r) ? " better" : " worse")
                                  : "";
            rc = buf_printf(out, "<td class=\"num%s\">", cls);
            if (!rc) rc = html_escape(out, rcs->delta);
            if (!rc) rc = buf_printf(out, "</td><td class=\"num\">%s</td>", rcs->p);
            if (!rc && show_holm(t)) rc = buf_printf(out, "<td class=\"num\">%s</td>", rcs->ph);
            if (!rc)
                rc = buf_printf(out, "<td>%s</td>",
                                r->test == CMP_TEST_NONE ? "" : cmp_test_name(r->test));
            if (!rc && t->gated)
                rc = buf_printf(out, "<td class=\"%s\">%s</td>", r->regression ? "fail" : "pass",
                                rcs->gate);
        }
        if (!rc) rc = buf_puts(out, "</tr>\n");
    }
    free(rcs);
    if (!rc) rc = buf_puts(out, "</tbody></table>\n");
    return rc;
}

static int html_ids(buf *out, const char *const *ids, size_t n, size_t total)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_puts(out, i ? ", <code>" : "<code>");
        if (!rc) rc = html_escape(out, ids[i]);
        if (!rc) rc = buf_puts(out, "</code>");
    }
    if (!rc && total > n) rc = buf_printf(out, ", &hellip; (%zu more)", total - n);
    return rc;
}

int cmp_render_html_body(const cmp_table *t, buf *out)
{
    int rc = 0;
    if (t->not_comparable)
        rc = buf_puts(out, "<p class=\"note\">" WARN " <b>Not comparable</b>: some runs differ in "
                           "what they measure; see &ldquo;What differs&rdquo;.</p>\n");
    const cmp_row **sel = malloc((t->n_rows ? t->n_rows : 1) * sizeof *sel);
    if (!sel) return ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < t->n_rows; i++)
        if (!t->rows[i].group) sel[n++] = &t->rows[i];
    if (!rc && n) rc = html_table(t, out, sel, n);
    for (size_t k = 0; k < t->n_tasks && rc == 0; k++) {
        const cmp_task *ct = &t->tasks[k];
        n = 0;
        for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++)
            if (t->rows[i].group) sel[n++] = &t->rows[i];
        if (!n) continue;
        rc = buf_puts(out, "<details><summary>");
        if (!rc) rc = html_escape(out, ct->task);
        if (!rc)
            rc = buf_printf(out, ": %zu more metric%s (categories, instruction groups)</summary>\n",
                            n, n == 1 ? "" : "s");
        if (!rc) rc = html_table(t, out, sel, n);
        if (!rc) rc = buf_puts(out, "</details>\n");
    }
    free(sel);
    for (size_t k = 0; k < t->n_tasks && rc == 0 && t->n_runs == 2; k++) {
        const cmp_task *ct = &t->tasks[k];
        const cmp_row *r = headline_test_row(t, ct, CMP_TEST_MCNEMAR);
        const cmp_row *any = r ? r : headline_test_row(t, ct, -1);
        if (!any) continue;
        rc = buf_puts(out, "<h3>");
        if (!rc) rc = html_escape(out, any->task);
        if (!rc) rc = buf_puts(out, " &middot; ");
        if (!rc) rc = html_escape(out, any->metric);
        if (!rc) rc = buf_printf(out, ": %zu shared items</h3>\n", any->n_shared);
        if (!rc && r) {
            rc = buf_puts(out, "<table class=\"flips\"><tr><th></th><th>");
            if (!rc) rc = html_escape(out, run_name(t, 1));
            if (!rc) rc = buf_puts(out, " correct</th><th>");
            if (!rc) rc = html_escape(out, run_name(t, 1));
            if (!rc) rc = buf_puts(out, " not</th></tr><tr><th>");
            if (!rc) rc = html_escape(out, run_name(t, 0));
            if (!rc)
                rc = buf_printf(out,
                                " correct</th><td class=\"num\">%zu</td><td "
                                "class=\"num\">%zu</td></tr><tr><th>",
                                r->flips[CMP_BOTH], r->flips[CMP_ONLY_A]);
            if (!rc) rc = html_escape(out, run_name(t, 0));
            if (!rc)
                rc = buf_printf(
                    out,
                    " not</th><td class=\"num\">%zu</td><td class=\"num\">%zu</td></tr></table>\n",
                    r->flips[CMP_ONLY_B], r->flips[CMP_NEITHER]);
            for (int side = 0; side < 2 && rc == 0; side++) {
                size_t cnt = r->flips[side ? CMP_ONLY_B : CMP_ONLY_A];
                if (!cnt) continue;
                rc = buf_puts(out, "<p>Only ");
                if (!rc) rc = html_escape(out, run_name(t, side));
                if (!rc) rc = buf_printf(out, ": %zu (", cnt);
                if (!rc)
                    rc = html_ids(out, side ? r->only_b : r->only_a,
                                  side ? r->n_only_b : r->n_only_a, cnt);
                if (!rc) rc = buf_puts(out, ")</p>\n");
            }
        }
        if (!rc) {
            buf line = BUF_INIT;
            rc = mde_line(t, any, &line);
            if (!rc) rc = buf_puts(out, "<p>");
            if (!rc) rc = html_escape(out, line.data);
            if (!rc) rc = buf_puts(out, "</p>\n");
            buf_release(&line);
        }
    }
    size_t n_notes = t->n_notes;
    for (size_t k = 0; k < t->n_tasks; k++) n_notes += t->tasks[k].n_notes;
    if (!rc && n_notes) rc = buf_puts(out, "<h3>What differs</h3>\n<ul>\n");
    buf who = BUF_INIT;
    for (size_t k = 0; k < t->n_tasks && rc == 0; k++)
        for (size_t i = 0; i < t->tasks[k].n_notes && rc == 0; i++) {
            if (!note_owner(t, k, i, &who)) continue;
            rc = buf_puts(out, "<li>");
            if (!rc) rc = html_escape(out, who.len ? who.data : t->tasks[k].task);
            if (!rc) rc = buf_puts(out, ": ");
            if (!rc) rc = html_escape(out, t->tasks[k].notes[i]);
            if (!rc) rc = buf_puts(out, "</li>\n");
        }
    for (size_t i = 0; i < t->n_notes && rc == 0; i++) {
        rc = buf_puts(out, "<li>");
        if (!rc) rc = html_escape(out, t->notes[i]);
        if (!rc) rc = buf_puts(out, "</li>\n");
    }
    buf_release(&who);
    if (!rc && n_notes) rc = buf_puts(out, "</ul>\n");
    if (!rc && (t->gated || t->failures_gated)) {
        int v = cmp_verdict(t);
        rc = buf_printf(out, "<h3>Gate: <span class=\"%s\">%s</span></h3>\n<ul>\n",
                        v ? "fail" : "pass", v ? "failed" : "passed");
        for (size_t i = 0; i < t->n_messages && rc == 0; i++) {
            rc = buf_puts(out, "<li>");
            if (!rc) rc = html_escape(out, t->messages[i]);
            if (!rc) rc = buf_puts(out, "</li>\n");
        }
        if (!rc) rc = buf_puts(out, "</ul>\n");
    }
    if (!rc) {
        buf leg = BUF_INIT;
        rc = legend(t, &leg, false);
        if (!rc) rc = buf_puts(out, "<p class=\"legend\">");
        if (!rc) rc = html_escape(out, leg.data);
        if (!rc) rc = buf_puts(out, "</p>\n");
        buf_release(&leg);
    }
    return rc < 0 ? ERR_NOMEM : 0;
}

int cmp_render_html(const cmp_table *t, buf *out)
{
    int rc = buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-width\">"
                           "<title>tally compare</title><style>\n");
    if (!rc) rc = buf_puts(out, cmp_html_css);
    if (!rc) rc = buf_puts(out, "</style></head><body>\n<h1>tally compare</h1>\n<ul>\n");
    for (size_t i = 0; i < t->n_runs && rc == 0; i++) {
        rc = buf_puts(out, "<li><b>");
        if (!rc) rc = html_escape(out, run_name(t, i));
        if (!rc) rc = buf_puts(out, "</b>: ");
        if (!rc) rc = html_escape(out, t->descs[i] ? t->descs[i] : "?");
        if (!rc) rc = buf_puts(out, "</li>\n");
    }
    if (!rc) rc = buf_puts(out, "</ul>\n");
    if (!rc) rc = cmp_render_html_body(t, out);
    if (!rc) rc = buf_puts(out, "</body></html>\n");
    return rc < 0 ? ERR_NOMEM : 0;
}

/* ---- JUnit ---- */

int cmp_render_junit(const cmp_table *t, buf *out)
{
    size_t tests = t->n_rows, failures = t->n_regressions;
    for (size_t k = 0; k < t->n_tasks; k++) {
        tests += 1 + (t->n_runs == 2 ? 1 : 0);
        for (size_t r = 0; r < t->n_runs; r++) failures += t->tasks[k].failures_over[r];
        bool gated_noncomp = false;
        for (size_t i = t->tasks[k].first_row; i < t->tasks[k].first_row + t->tasks[k].n_rows; i++)
            gated_noncomp |= !isnan(t->rows[i].gate) && !t->rows[i].comparable;
        if (t->n_runs == 2 && gated_noncomp) failures++;
    }
    int rc = buf_printf(out,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<testsuites name=\"tally compare\" tests=\"%zu\" failures=\"%zu\">\n",
                        tests, failures);
    for (size_t k = 0; k < t->n_tasks && rc == 0; k++) {
        const cmp_task *ct = &t->tasks[k];
        size_t kt = ct->n_rows + 1 + (t->n_runs == 2 ? 1 : 0), kf = 0;
        for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++)
            kf += t->rows[i].regression;
        for (size_t r = 0; r < t->n_runs; r++) kf += ct->failures_over[r];
        bool gated_noncomp = false;
        for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows; i++)
            gated_noncomp |= !isnan(t->rows[i].gate) && !t->rows[i].comparable;
        if (t->n_runs == 2 && gated_noncomp) kf++;
        rc = buf_puts(out, "  <testsuite name=\"");
        if (!rc) rc = html_escape(out, ct->task);
        if (!rc) rc = buf_printf(out, "\" tests=\"%zu\" failures=\"%zu\">\n", kt, kf);
        for (size_t i = ct->first_row; i < ct->first_row + ct->n_rows && rc == 0; i++) {
            const cmp_row *r = &t->rows[i];
            rc = buf_puts(out, "    <testcase classname=\"");
            if (!rc) rc = html_escape(out, r->task);
            if (!rc) rc = buf_puts(out, "\" name=\"");
            if (!rc) rc = html_escape(out, r->metric);
            if (!rc) rc = buf_puts(out, "\">\n");
            buf txt = BUF_INIT;
            for (size_t q = 0; q < t->n_runs && rc == 0; q++) {
                char c[64];
                fmt_cell(c, sizeof c, &r->cells[q], r->raw);
                rc = buf_printf(&txt, "%s%s: %s", q ? "; " : "", run_name(t, q), c);
            }
            if (!rc && r->test != CMP_TEST_NONE)
                rc = buf_printf(
                    &txt, "; delta %+.2f points on %zu shared items [%.2f, %.2f], p = %.4g (%s)%s",
                    shown(r, r->delta), r->n_shared, shown(r, r->lo), shown(r, r->hi), r->p,
                    cmp_test_name(r->test), r->significant ? ", significant" : "");
            if (!rc && !isnan(r->gate)) rc = buf_printf(&txt, "; gate %.2f points", r->gate);
            if (!rc && !r->comparable)
                rc = buf_puts(&txt, "; NOT COMPARABLE (see the comparable case)");
            if (!rc && r->regression) {
                for (size_t m = 0; m < t->n_messages && rc == 0; m++) {
                    char key[600];
                    snprintf(key, sizeof key, "regression: %s/%s ", r->task, r->metric);
                    if (strncmp(t->messages[m], key, strlen(key)) != 0) continue;
                    rc = buf_puts(out, "      <failure type=\"regression\" message=\"");
                    if (!rc) rc = html_escape(out, t->messages[m]);
                    if (!rc) rc = buf_puts(out, "\"/>\n");
                }
            }
            if (!rc) rc = buf_puts(out, "      <system-out>");
            if (!rc) rc = html_escape(out, txt.data);
            if (!rc) rc = buf_puts(out, "</system-out>\n    </testcase>\n");
            buf_release(&txt);
        }
        /* instrument failures of every run */
        if (!rc) rc = buf_puts(out, "    <testcase classname=\"");
        if (!rc) rc = html_escape(out, ct->task);
        if (!rc) rc = buf_puts(out, "\" name=\"instrument_failures\">\n");
        for (size_t r = 0; r < t->n_runs && rc == 0; r++) {
            if (!ct->failures_over[r]) continue;
            char msg[400];
            snprintf(msg, sizeof msg,
                     "%s: %zu of %zu samples failed (api_error, timeout, truncated)",
                     run_name(t, r), ct->failures[r], ct->samples[r]);
            rc = buf_puts(out, "      <failure type=\"instrument_failures\" message=\"");
            if (!rc) rc = html_escape(out, msg);
            if (!rc) rc = buf_puts(out, "\"/>\n");
        }
        if (!rc) rc = buf_puts(out, "    </testcase>\n");
        if (!rc && t->n_runs == 2) {
            rc = buf_puts(out, "    <testcase classname=\"");
            if (!rc) rc = html_escape(out, ct->task);
            if (!rc) rc = buf_puts(out, "\" name=\"comparable\">\n");
            if (!rc && !ct->comparable) {
                /* a failure when a gate depends on it, else flagged as skipped */
                buf why = BUF_INIT;
                for (size_t i = 0; i < ct->n_notes && rc == 0; i++)
                    rc = buf_printf(&why, "%s%s", i ? "; " : "", ct->notes[i]);
                if (!rc)
                    rc = buf_puts(out, gated_noncomp
                                           ? "      <failure type=\"not_comparable\" message=\""
                                           : "      <skipped message=\"not comparable: ");
                if (!rc) rc = html_escape(out, why.len ? why.data : "the runs cannot be compared");
                if (!rc) rc = buf_puts(out, "\"/>\n");
                buf_release(&why);
            }
            if (!rc) rc = buf_puts(out, "    </testcase>\n");
        }
        if (!rc) rc = buf_puts(out, "  </testsuite>\n");
    }
    if (!rc) rc = buf_puts(out, "</testsuites>\n");
    return rc < 0 ? ERR_NOMEM : 0;
}

int cmp_render(const cmp_table *t, int format, buf *out, err *e)
{
    int rc;
    switch (format) {
    case CMP_FORMAT_MD:
        rc = cmp_render_md(t, out);
        break;
    case CMP_FORMAT_CSV:
        rc = cmp_render_csv(t, out);
        break;
    case CMP_FORMAT_HTML:
        rc = cmp_render_html(t, out);
        break;
    case CMP_FORMAT_JUNIT:
        rc = cmp_render_junit(t, out);
        break;
    case CMP_FORMAT_JSON: {
        cJSON *j = cmp_to_json(t);
        rc = j ? json_dumps_py(out, j, 2, false) : ERR_NOMEM;
        if (!rc) rc = buf_putc(out, '\n');
        cJSON_Delete(j);
        break;
    }
    default:
        return err_set(e, ERR_INVALID, "unknown table format %d", format);
    }
    if (rc < 0) return err_set(e, rc, "rendering the table: %s", err_code_name(rc));
    return 0;
}
