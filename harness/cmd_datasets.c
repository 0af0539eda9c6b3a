/* cmd_datasets.c: `tally datasets list|verify|fetch`. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/arena.h"
#include "common/util.h"
#include "datasets/catalog.h"
#include "task.h"

typedef struct ds_opts {
    const char *data_dir, *mirror;
    bool force, quiet;
} ds_opts;

#define O(f) offsetof(ds_opts, f)
static const opt_def ds_opt_defs[] = {
    {"data-dir", OPT_STR, O(data_dir), "DIR", "datasets (default $TALLY_DATA, then ~/.cache/tally/datasets)", 0},
    {"mirror", OPT_STR, O(mirror), "URL", "fetch: take files from URL/<path> instead of upstream", 0},
    {"force", OPT_BOOL, O(force), NULL, "fetch: download even files that are present and verified", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "fetch: print only errors", 0},
    {0},
};
#undef O

static bool selected(const catalog_bench *b, const char *const *names, size_t n)
{
    if (!n) return true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], b->name)) return true;
    return false;
}

static int check_names(const char *const *names, size_t n, err *e)
{
    for (size_t i = 0; i < n; i++)
        if (!catalog_find(names[i]))
            return err_set(e, ERR_USAGE, "unknown benchmark \"%s\" (tally datasets list shows them)", names[i]);
    return 0;
}

/* list (verify = false) or verify: one row per file. Returns the number of bad files. */
static int list_files(const char *dir, const char *const *names, size_t n, bool verify, err *e)
{
    int bad = 0;
    int w = 4; /* the file column fits the longest path shown */
    for (size_t i = 0; catalog_at(i); i++)
        if (selected(catalog_at(i), names, n))
            for (size_t j = 0; j < catalog_at(i)->n_files; j++) {
                int l = (int)strlen(catalog_at(i)->files[j].rel);
                if (l > w) w = l;
            }
    printf("data dir: %s\n\n", dir);
    printf("%-14s %-*s %8s  %s\n", "benchmark", w, "file", "records", "status");
    for (size_t i = 0; catalog_at(i); i++) {
        const catalog_bench *b = catalog_at(i);
        if (!selected(b, names, n)) continue;
        for (size_t j = 0; j < b->n_files; j++) {
            const catalog_file *f = &b->files[j];
            catalog_status st;
            if (catalog_check(dir, f, &st, e) < 0) return e->code;
            const char *status = !st.found ? "missing" : st.sha_ok ? "ok" : "sha256 MISMATCH";
            char rec[32];
            if (st.records >= 0) snprintf(rec, sizeof rec, "%ld", st.records);
            else snprintf(rec, sizeof rec, "%s", st.found ? "-" : "");
            printf("%-14s %-*s %8s  %s\n", j ? "" : b->name, w, f->rel, rec, status);
            if (st.found && st.sha_ok && f->records >= 0 && st.records != f->records) {
                printf("%14s %-*s %8s  expected %ld records\n", "", w, "", "", f->records);
                bad++;
            }
            if (!st.found || !st.sha_ok) {
                bad++;
                if (verify && st.found)
                    fprintf(stderr, "tally datasets: %s/%s: sha256 %s, pinned %s\n", dir, f->rel,
                            st.sha256, f->sha256);
            }
        }
    }
    if (!verify) {
        printf("\ntasks:\n");
        for (size_t i = 0; task_at(i); i++) {
            const task_def *t = task_at(i);
            if (t->flags & TASK_HIDDEN) continue;
            printf("  %-22s %s\n", t->name, t->summary);
        }
    }
    if (bad) printf("\n%d file%s missing or not verified; 'tally datasets fetch' gets them.\n", bad,
                    bad == 1 ? "" : "s");
    return bad;
}

static int fetch_files(const char *dir, const ds_opts *o, const char *const *names, size_t n, err *e)
{
    int failed = 0, got = 0;
    for (size_t i = 0; catalog_at(i); i++) {
        const catalog_bench *b = catalog_at(i);
        if (!selected(b, names, n)) continue;
        for (size_t j = 0; j < b->n_files; j++) {
            const catalog_file *f = &b->files[j];
            catalog_status st;
            if (!o->force && catalog_check(dir, f, &st, NULL) == 0 && st.found && st.sha_ok) continue;
            err fe = ERR_INIT;
            if (catalog_fetch(dir, f, o->mirror, &fe) < 0) {
                fprintf(stderr, "tally datasets: fetch %s: %s\n", f->rel, fe.msg);
                failed++;
                continue;
            }
            got++;
            if (!o->quiet) printf("fetched %s\n", f->rel);
        }
    }
    if (!o->quiet) printf("%d file%s fetched into %s%s\n", got, got == 1 ? "" : "s", dir,
                          failed ? "" : "; all verified");
    if (failed) return err_set(e, ERR_IO, "%d file%s could not be fetched", failed, failed == 1 ? "" : "s");
    return 0;
}

static int cmd_datasets_main(int argc, char **argv)
{
    ds_opts o = {0};
    opts_result res;
    err e = ERR_INIT;
    arena a = ARENA_INIT;
    int status = 0;
    if (opts_parse(ds_opt_defs, &o, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("datasets", &e);
        goto out;
    }
    if (!res.n_pos) {
        err_set(&e, ERR_USAGE, "say list, verify or fetch");
        status = cmd_fail("datasets", &e);
        goto out;
    }
    const char *sub = res.pos[0];
    const char *const *names = res.pos + 1;
    size_t n = res.n_pos - 1;
    const char *dir = cmd_data_dir(o.data_dir, &a);
    if (check_names(names, n, &e) < 0) {
        status = cmd_fail("datasets", &e);
        goto out;
    }
    if (!strcmp(sub, "list")) {
        int bad = list_files(dir, names, n, false, &e);
        if (bad < 0) status = cmd_fail("datasets", &e);
    } else if (!strcmp(sub, "verify")) {
        int bad = list_files(dir, names, n, true, &e);
        if (bad < 0) status = cmd_fail("datasets", &e);
        else if (bad) status = 1;
    } else if (!strcmp(sub, "fetch")) {
        if (fetch_files(dir, &o, names, n, &e) < 0) status = cmd_fail("datasets", &e);
    } else {
        err_set(&e, ERR_USAGE, "unknown subcommand \"%s\" (list, verify or fetch)", sub);
        status = cmd_fail("datasets", &e);
    }
out:
    opts_release(&res);
    arena_release(&a);
    return status;
}

const command_def cmd_datasets_def = {
    .name = "datasets",
    .summary = "list, verify or fetch the benchmark files",
    .usage = "tally datasets list|verify|fetch [BENCHMARK...] [--data-dir DIR] [--mirror URL]",
    .details = "Files live under the data dir (--data-dir, else $TALLY_DATA, else\n"
               "$XDG_CACHE_HOME/tally/datasets or ~/.cache/tally/datasets). fetch downloads from the\n"
               "upstream URLs pinned in tally, checks each file's sha256 and only then gives it its name.\n",
    .opts = ds_opt_defs,
    .main = cmd_datasets_main,
};
