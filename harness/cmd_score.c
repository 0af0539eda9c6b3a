/* cmd_score.c: `tally score`: score stored completions again (after a scorer
 * change, with other scoring settings, or to merge the shards of one task). */
#include <dirent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"
#include "evaluate.h"
#include "rundir.h"
#include "task.h"

typedef struct score_opts {
    const char *out, *data_dir, *ifeval_mode, *python, *cache_dir, *langdetect, *sandbox;
    int jobs;
    double exec_timeout;
    bool quiet;
} score_opts;

#define O(f) offsetof(score_opts, f)
static const opt_def score_opt_defs[] = {
    {"out", OPT_STR, O(out), "DIR", "where merged shards go (needed with several run directories)", 0},
    {"ifeval-mode", OPT_STR, O(ifeval_mode), "compat|fixed", "IFEval: score with this mode instead of the run's", 0},
    {"langdetect-profiles", OPT_STR, O(langdetect), "DIR", "IFEval: langdetect's profiles (default $TALLY_LANGDETECT_PROFILES, then Debian's)", 0},
    {"jobs", OPT_INT, O(jobs), "N", "code tasks: programs run in parallel", 0},
    {"sandbox", OPT_STR, O(sandbox), "MODE", "code tasks: auto, degraded, no-userns or no-fork-server", 0},
    {"exec-timeout", OPT_DOUBLE, O(exec_timeout), "SEC", "code tasks: per-program time limit", 0},
    {"python", OPT_STR, O(python), "PATH", "code tasks: interpreter", 0},
    {"cache-dir", OPT_STR, O(cache_dir), "DIR", "derived data cache", 0},
    {"data-dir", OPT_STR, O(data_dir), "DIR", "datasets (default $TALLY_DATA, then ~/.cache/tally/datasets)", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no table", 0},
    {0},
};
#undef O

typedef struct loaded_run {
    char *path;
    cJSON *manifest;
    const task_def *task;
} loaded_run;

/* The task options a run was made with, from its manifest, then command-line overrides. */
static void options_from_manifest(const cJSON *m, const score_opts *so, arena *a, task_options *o)
{
    eval_overrides ov = {so->data_dir, so->ifeval_mode, so->python, so->cache_dir, so->jobs,
                         so->exec_timeout, so->langdetect, so->sandbox};
    eval_options_from_manifest(m, &ov, a, o);
}

static int load_run(const char *path, loaded_run *out, err *e)
{
    memset(out, 0, sizeof *out);
    buf p = BUF_INIT;
    path_join(&p, path, "manifest.json");
    int rc = file_exists(p.data) ? json_parse_file(p.data, &out->manifest, e)
                                 : err_set(e, ERR_NOTFOUND, "%s: not a run directory (no manifest.json)", path);
    buf_release(&p);
    if (rc < 0) return rc;
    const char *tn = json_str_at(out->manifest, "task", NULL);
    out->task = tn ? task_find(tn) : NULL;
    if (!out->task) {
        cJSON_Delete(out->manifest);
        out->manifest = NULL;
        return err_set(e, ERR_PARSE, "%s/manifest.json: unknown or missing task \"%s\"", path,
                       tn ? tn : "");
    }
    out->path = strdup(path);
    return 0;
}

/* Items of one run: its manifest's selection over the dataset. */
static int run_items(const loaded_run *r, const item_set *all, arena *a, const item ***items,
                     size_t *n, err *e)
{
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(r->manifest, "selection");
    selection s = {json_str_at(sel, "ids", NULL), json_int_at(sel, "limit", NULL, 0),
                   json_str_at(sel, "shard", NULL)};
    int rc = eval_select(all, &s, a, items, n, e);
    if (rc < 0) err_prefix(e, "%s: the manifest's selection", r->path);
    return rc;
}

static int score_runs(loaded_run *runs, size_t n_runs, const score_opts *so, err *e)
{
    arena a = ARENA_INIT;
    rundir dir = RUNDIR_INIT;
    sample_store st = SAMPLE_STORE_INIT;
    cJSON *results = NULL, *merged = NULL;
    bool *keep = NULL;
    int ret = 0;
    const task_def *t = runs[0].task;
    task_options o;
    options_from_manifest(runs[0].manifest, so, &a, &o);
    item_set all;
    if ((ret = t->load(&o, t->arg, &a, &all, e)) < 0) goto out;
    const char *want = json_str_at(runs[0].manifest, "dataset", "sha256");
    if (want && all.sha256 && strcmp(want, all.sha256) != 0) {
        ret = err_set(e, ERR_CHECKSUM,
                      "%s: the dataset %s is not the one this run used (sha256 %s, the run has %s)",
                      runs[0].path, all.path, all.sha256, want);
        goto out;
    }
    /* the union of the runs' selections, in dataset order */
    keep = calloc(all.n ? all.n : 1, sizeof *keep);
    if (!keep) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < n_runs; r++) {
        if (runs[r].task != t) {
            ret = err_set(e, ERR_MISMATCH, "%s is task %s but %s is task %s: merge only shards of one task",
                          runs[r].path, runs[r].task->name, runs[0].path, t->name);
            goto out;
        }
        if (r && !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(runs[r].manifest, "settings"),
                                cJSON_GetObjectItemCaseSensitive(runs[0].manifest, "settings"), true)) {
            ret = err_set(e, ERR_MISMATCH, "%s and %s were run with different settings; they are not "
                                           "shards of one run",
                          runs[0].path, runs[r].path);
            goto out;
        }
        const item **its;
        size_t n;
        if ((ret = run_items(&runs[r], &all, &a, &its, &n, e)) < 0) goto out;
        for (size_t i = 0; i < n; i++) keep[its[i]->index] = true;
        buf p = BUF_INIT;
        path_join(&p, runs[r].path, "samples.jsonl");
        ret = samples_load(p.data, &st, e);
        buf_release(&p);
        if (ret < 0) goto out;
    }
    const item **items = arena_calloc(&a, all.n ? all.n : 1, sizeof *items);
    size_t n_items = 0;
    for (size_t i = 0; i < all.n; i++)
        if (keep[i]) items[n_items++] = &all.items[i];
    const char *target = n_runs == 1 ? runs[0].path : so->out;
    if ((ret = rundir_open(&dir, target, e)) < 0) goto out;
    if (n_runs > 1) {
        /* the merged run: one manifest naming its shards, and all samples */
        merged = cJSON_Duplicate(runs[0].manifest, true);
        cJSON *sel = cJSON_CreateObject();
        cJSON *from = cJSON_AddArrayToObject(sel, "merged_from");
        for (size_t r = 0; r < n_runs; r++) cJSON_AddItemToArray(from, cJSON_CreateString(runs[r].path));
        cJSON_AddNumberToObject(sel, "items", (double)n_items);
        cJSON_ReplaceItemInObjectCaseSensitive(merged, "selection", sel);
        if ((ret = samples_compact(dir.samples_path, &st, false, e)) < 0) goto out;
        if ((ret = rundir_write_json(&dir, "manifest.json", merged, e)) < 0) goto out;
    }
    if ((ret = eval_score(t, &o, &dir, items, n_items, o.samples, &st, dir.path, &results, e)) < 0)
        goto out;
    if (!so->quiet) {
        char label[400];
        snprintf(label, sizeof label, "%s:%s%s", json_str_at(runs[0].manifest, "runner", "backend"),
                 json_str_at(runs[0].manifest, "runner", "model"),
                 n_runs > 1 ? " (merged shards)" : "");
        eval_print_results(stdout, t, results, label);
    }
out:
    free(keep);
    cJSON_Delete(results);
    cJSON_Delete(merged);
    samples_release(&st);
    rundir_close(&dir);
    arena_release(&a);
    return ret;
}

/* A directory that is not a run itself may hold one run per task (tally run --task a,b). */
static int expand_dirs(const char *const *dirs, size_t n, loaded_run **out, size_t *n_out, err *e)
{
    *out = NULL;
    *n_out = 0;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        buf p = BUF_INIT;
        path_join(&p, dirs[i], "manifest.json");
        bool is_run = file_exists(p.data);
        buf_release(&p);
        const char *cands[1] = {dirs[i]};
        char **subs = NULL;
        size_t n_sub = 0;
        if (!is_run) {
            /* one level of subdirectories holding a manifest */
            buf cmd = BUF_INIT;
            DIR *dp = opendir(dirs[i]);
            if (!dp) return err_errno(e, "%s: cannot read the directory", dirs[i]);
            struct dirent *de;
            while ((de = readdir(dp))) {
                if (de->d_name[0] == '.') continue;
                path_join(&cmd, dirs[i], de->d_name);
                buf mp = BUF_INIT;
                path_join(&mp, cmd.data, "manifest.json");
                if (file_exists(mp.data)) {
                    subs = realloc(subs, (n_sub + 1) * sizeof *subs);
                    subs[n_sub++] = strdup(cmd.data);
                }
                buf_release(&mp);
            }
            closedir(dp);
            buf_release(&cmd);
            if (!n_sub) return err_set(e, ERR_NOTFOUND, "%s: not a run directory (no manifest.json here or in its subdirectories)", dirs[i]);
        }
        size_t k = is_run ? 1 : n_sub;
        for (size_t j = 0; j < k; j++) {
            if (*n_out == cap) {
                cap = cap ? cap * 2 : 8;
                *out = realloc(*out, cap * sizeof **out);
            }
            int rc = load_run(is_run ? cands[0] : subs[j], &(*out)[*n_out], e);
            if (rc < 0) {
                for (size_t q = 0; q < n_sub; q++) free(subs[q]);
                free(subs);
                return rc;
            }
            (*n_out)++;
        }
        for (size_t q = 0; q < n_sub; q++) free(subs[q]);
        free(subs);
    }
    return 0;
}

static int cmd_score_main(int argc, char **argv)
{
    score_opts so = {0};
    opts_result res;
    err e = ERR_INIT;
    int status = 0;
    loaded_run *runs = NULL;
    size_t n_runs = 0;
    if (opts_parse(score_opt_defs, &so, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("score", &e);
        goto out;
    }
    if (!res.n_pos) {
        err_set(&e, ERR_USAGE, "no run directory given");
        status = cmd_fail("score", &e);
        goto out;
    }
    if (expand_dirs(res.pos, res.n_pos, &runs, &n_runs, &e) < 0) {
        status = cmd_fail("score", &e);
        goto out;
    }
    if (res.n_pos > 1) {
        /* several directories: the shards of one task, merged into --out */
        if (!so.out) {
            err_set(&e, ERR_USAGE, "several run directories are merged as shards of one task: give --out DIR");
            status = cmd_fail("score", &e);
            goto out;
        }
        if (score_runs(runs, n_runs, &so, &e) < 0) status = cmd_fail("score", &e);
    } else {
        for (size_t i = 0; i < n_runs; i++) {
            if (i && !so.quiet) printf("\n");
            if (score_runs(&runs[i], 1, &so, &e) < 0) {
                status = cmd_fail("score", &e);
                break;
            }
        }
    }
out:
    for (size_t i = 0; i < n_runs; i++) {
        free(runs[i].path);
        cJSON_Delete(runs[i].manifest);
    }
    free(runs);
    opts_release(&res);
    return status;
}

const command_def cmd_score_def = {
    .name = "score",
    .summary = "score stored completions again, or merge the shards of one task",
    .usage = "tally score DIR...  [--out MERGED_DIR] [options]",
    .details = "With one directory, its scores.jsonl and results.json are written again (a directory\n"
               "holding one run per task is scored task by task). With several directories that are\n"
               "shards of one task (--shard I/N), their samples are merged into --out and scored there.\n",
    .opts = score_opt_defs,
    .main = cmd_score_main,
};
