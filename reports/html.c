/* html.c: the report page. */
#include "html.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* ---- manifests side by side ---- */

typedef struct leaves {
    char **keys;
    size_t n, cap;
} leaves;

static int leaves_add(leaves *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->keys[i], key) == 0) return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        char **nk = realloc(l->keys, nc * sizeof *nk);
        if (!nk) return ERR_NOMEM;
        l->keys = nk;
        l->cap = nc;
    }
    if (!(l->keys[l->n] = strdup(key))) return ERR_NOMEM;
    l->n++;
    return 0;
}

static void leaves_release(leaves *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->keys[i]);
    free(l->keys);
}

/* Dotted paths of every leaf (arrays count as leaves). */
static int collect(leaves *l, const cJSON *v, buf *path)
{
    if (!cJSON_IsObject(v)) return leaves_add(l, path->data);
    const cJSON *x;
    size_t keep = path->len;
    cJSON_ArrayForEach(x, v)
    {
        int rc = keep ? buf_putc(path, '.') : 0;
        if (!rc) rc = buf_puts(path, x->string);
        if (!rc) rc = collect(l, x, path);
        buf_truncate(path, keep);
        if (rc < 0) return rc;
    }
    return 0;
}

static const cJSON *at_path(const cJSON *v, const char *key)
{
    char part[512];
    const char *p = key;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof part) return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        v = cJSON_GetObjectItemCaseSensitive(v, part);
        p += n + (dot ? 1 : 0);
    }
    return v;
}

static int manifest_table(const cmp_table *t, const report_manifests *m, buf *out)
{
    leaves l = {0};
    buf path = BUF_INIT;
    int rc = 0;
    for (size_t r = 0; r < t->n_runs && rc == 0; r++)
        if (m->manifest[r]) rc = collect(&l, m->manifest[r], &path);
    buf_release(&path);
    if (!rc) rc = buf_puts(out, "<details open><summary>");
    if (!rc) rc = html_escape(out, m->task);
    if (!rc)
        rc = buf_printf(
            out, " (%zu fields)</summary>\n<table class=\"manifest\"><tr><th>field</th>", l.n);
    for (size_t r = 0; r < t->n_runs && rc == 0; r++) {
        rc = buf_puts(out, "<th>");
        if (!rc) rc = html_escape(out, t->labels[r]);
        if (!rc) rc = buf_puts(out, "</th>");
    }
    if (!rc) rc = buf_puts(out, "</tr>\n");
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        const cJSON *first = NULL;
        bool differs = false, seen = false;
        for (size_t r = 0; r < t->n_runs; r++) {
            if (!m->manifest[r]) continue;
            const cJSON *v = at_path(m->manifest[r], l.keys[i]);
            if (!seen) {
                first = v;
                seen = true;
            } else if (!first != !v || (v && !cJSON_Compare(first, v, true))) {
                differs = true;
            }
        }
        const char *what = NULL;
        int kind = cmp_field_kind_of(l.keys[i], &what);
        const char *cls = !differs ? "" : kind == CMP_FIELD_INCIDENTAL ? "incidental" : "diff";
        rc = buf_printf(out, "<tr class=\"%s\"><td><code>", cls);
        if (!rc) rc = html_escape(out, l.keys[i]);
        if (!rc) rc = buf_puts(out, "</code>");
        if (!rc && what) {
            rc = buf_puts(out, " <span class=\"ci\">");
            if (!rc) rc = html_escape(out, what);
            if (!rc) rc = buf_puts(out, "</span>");
        }
        if (!rc) rc = buf_puts(out, "</td>");
        for (size_t r = 0; r < t->n_runs && rc == 0; r++) {
            const cJSON *v = m->manifest[r] ? at_path(m->manifest[r], l.keys[i]) : NULL;
            rc = buf_puts(out, "<td>");
            if (v) {
                char *s = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
                if (!rc) rc = html_escape(out, s ? s : v->valuestring);
                cJSON_free(s);
            } else if (!rc) {
                rc = buf_puts(out, "<span class=\"ci\">&mdash;</span>");
            }
            if (!rc) rc = buf_puts(out, "</td>");
        }
        if (!rc) rc = buf_puts(out, "</tr>\n");
    }
    if (!rc) rc = buf_puts(out, "</table></details>\n");
    leaves_release(&l);
    return rc;
}

/* ---- the page ---- */

static int esc_pre(buf *out, const char *s)
{
    int rc = buf_puts(out, "<pre>");
    if (!rc)
        rc = s ? html_escape(out, s) : buf_puts(out, "<span class=\"ci\">(not recorded)</span>");
    if (!rc) rc = buf_puts(out, "</pre>");
    return rc;
}

static int items_section(const report_page *p, buf *out)
{
    const cmp_table *t = p->table;
    int rc = buf_puts(out, "<h2 id=\"items\">Items the runs disagree on</h2>\n");
    if (!rc && !p->n_items)
        rc = buf_puts(out, "<p>None: on every shared item both runs got the same verdict (or there "
                           "were not exactly two runs to pair).</p>\n");
    if (!rc && p->n_items) {
        rc = buf_puts(out, "<table class=\"items\"><tr><th>item</th>");
        for (size_t r = 0; r < 2 && rc == 0; r++) {
            rc = buf_puts(out, "<th>");
            if (!rc) rc = html_escape(out, t->labels[r]);
            if (!rc) rc = buf_puts(out, "</th>");
        }
        if (!rc) rc = buf_puts(out, "</tr>\n");
    }
    for (size_t i = 0; i < p->n_items && rc == 0; i++) {
        const report_item *it = &p->items[i];
        rc = buf_puts(out, "<tr><td><code>");
        if (!rc) rc = html_escape(out, it->id);
        if (!rc) rc = buf_puts(out, "</code><br><span class=\"ci\">");
        if (!rc) rc = html_escape(out, it->task);
        if (!rc) rc = buf_puts(out, " &middot; ");
        if (!rc) rc = html_escape(out, it->metric);
        if (!rc) rc = buf_puts(out, "</span></td>");
        for (int r = 0; r < 2 && rc == 0; r++) {
            bool ok = it->outcome[r] && strcmp(it->outcome[r], "correct") == 0;
            rc = buf_printf(out, "<td><span class=\"%s\">", ok ? "pass" : "fail");
            if (!rc) rc = html_escape(out, it->outcome[r] ? it->outcome[r] : "?");
            if (!rc) rc = buf_puts(out, "</span>");
            if (!rc && it->reason[r]) {
                rc = buf_puts(out, " <span class=\"ci\">");
                if (!rc) rc = html_escape(out, it->reason[r]);
                if (!rc) rc = buf_puts(out, "</span>");
            }
            if (!rc) rc = esc_pre(out, it->completion[r]);
            if (!rc) rc = buf_puts(out, "</td>");
        }
        if (!rc) rc = buf_puts(out, "</tr>\n");
    }
    if (!rc && p->n_items) rc = buf_puts(out, "</table>\n");
    if (!rc && p->items_omitted)
        rc = buf_printf(out, "<p class=\"ci\">%zu more not listed (raise --max-items).</p>\n",
                        p->items_omitted);
    return rc;
}

int report_render_html(const report_page *p, buf *out, err *e)
{
    const cmp_table *t = p->table;
    const char *title = p->title ? p->title : "tally report";
    int rc = buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    if (!rc) rc = html_escape(out, title);
    if (!rc) rc = buf_puts(out, "</title>\n<style>\n");
    if (!rc) rc = buf_puts(out, cmp_html_css);
    if (!rc) rc = buf_puts(out, "</style></head>\n<body>\n<h1>");
    if (!rc) rc = html_escape(out, title);
    if (!rc) rc = buf_puts(out, "</h1>\n");
    if (!rc && p->generated) {
        rc = buf_puts(out, "<p class=\"ci\">");
        if (!rc) rc = html_escape(out, p->generated);
        if (!rc) rc = buf_puts(out, "</p>\n");
    }
    if (!rc) rc = buf_puts(out, "<ul>\n");
    for (size_t i = 0; i < t->n_runs && rc == 0; i++) {
        rc = buf_puts(out, "<li><b>");
        if (!rc) rc = html_escape(out, t->labels[i]);
        if (!rc) rc = buf_puts(out, "</b>: ");
        if (!rc) rc = html_escape(out, t->descs[i] ? t->descs[i] : "?");
        if (!rc) rc = buf_puts(out, "</li>\n");
    }
    if (!rc) rc = buf_puts(out, "</ul>\n<h2 id=\"scores\">Scores</h2>\n");
    if (!rc) rc = cmp_render_html_body(t, out);
    if (!rc) rc = buf_puts(out, "<h2 id=\"plots\">Plots</h2>\n");
    if (!rc && p->plot_note) {
        rc = buf_puts(out, "<p class=\"note\">");
        if (!rc) rc = html_escape(out, p->plot_note);
        if (!rc) rc = buf_puts(out, "</p>\n");
    }
    for (size_t i = 0; i < p->n_plots && rc == 0; i++) {
        const report_plot *pl = &p->plots[i];
        rc = buf_puts(out, "<figure class=\"plot\">\n");
        if (!rc && pl->svg) rc = buf_puts(out, pl->svg);
        if (!rc && !pl->svg) {
            rc = buf_puts(out, "<p class=\"note\">");
            if (!rc) rc = html_escape(out, pl->error ? pl->error : "no picture");
            if (!rc) rc = buf_puts(out, "</p>");
        }
        if (!rc) rc = buf_puts(out, "\n<figcaption>");
        if (!rc) rc = html_escape(out, pl->title);
        if (!rc && pl->caption) {
            rc = buf_puts(out, ": ");
            if (!rc) rc = html_escape(out, pl->caption);
        }
        if (!rc) rc = buf_puts(out, "</figcaption>\n</figure>\n");
    }
    if (!rc && !p->plot_note && !p->n_plots) rc = buf_puts(out, "<p>Nothing to plot.</p>\n");
    if (!rc)
        rc = buf_puts(out, "<h2 id=\"manifests\">Runs side by side</h2>\n"
                           "<p class=\"ci\">Fields that differ are marked; greyed ones (times, "
                           "host, command line) do not change what is measured.</p>\n");
    for (size_t i = 0; i < p->n_manifests && rc == 0; i++)
        rc = manifest_table(t, &p->manifests[i], out);
    if (!rc) rc = items_section(p, out);
    if (!rc) rc = buf_puts(out, "</body></html>\n");
    if (rc < 0) return err_set(e, rc, "report page: %s", err_code_name(rc));
    return 0;
}
