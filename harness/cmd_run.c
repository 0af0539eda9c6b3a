/* cmd_run.c: `tally run`: ask a model every item of a task, store, score. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/util.h"
#include "evaluate.h"
#include "progress.h"
#include "rundir.h"
#include "runners/genstats.h"
#include "runners/runner.h"
#include "task.h"
#include "version.h"

typedef struct run_opts {
    const char *task, *model, *backend, *out, *data_dir, *ids, *shard, *prompt_style;
    const char *tool_mode, *ifeval_mode, *base_url, *chat_template, *python, *cache_dir;
    const char *langdetect, *sandbox;
    const char *extra_body;
    int limit, shots, samples, max_tokens, top_k, concurrency, max_retries, threads, batch;
    int ctx_size, jobs, n_per_request;
    bool stream;
    double temperature, top_p, min_p, repeat_penalty, timeout, rps, exec_timeout, replay_delay;
    uint64_t seed;
    bool quiet, no_score, unsafe_no_sandbox;
    str_list header;
} run_opts;

#define O(f) offsetof(run_opts, f)
static const opt_def run_opt_defs[] = {
    {"task", OPT_STR, O(task), "T[,T...]", "tasks to run (tally datasets list shows them)", 0},
    {"model", OPT_STR, O(model), "M", "GGUF file, served model name, oracle, FILE.jsonl or RUN_DIR", 0},
    {"backend", OPT_STR, O(backend), "B", "native, openai or replay (default: from --model)", 0},
    {"out", OPT_STR, O(out), "DIR", "run directory (one subdirectory per task with several tasks)", 0},
    {"limit", OPT_INT, O(limit), "N", "only the first N items", 0},
    {"ids", OPT_STR, O(ids), "ID[,ID..]|@FILE", "only these items", 0},
    {"shard", OPT_STR, O(shard), "I/N", "only items whose position % N == I (0 <= I < N)", 0},
    {"samples", OPT_INT, O(samples), "N", "completions per item (pass@k); default 1", 0},
    {"shots", OPT_INT, O(shots), "K", "few-shot exemplars (default: the task's)", 0},
    {"prompt-style", OPT_STR, O(prompt_style), "raw|chat", "raw text or chat messages (default: chat for openai and for GGUF models with a chat template, raw otherwise)", 0},
    {"max-tokens", OPT_INT, O(max_tokens), "N", "token cap per completion (default: the task's)", 0},
    {"temperature", OPT_DOUBLE, O(temperature), "T", "sampling temperature; 0 = greedy (default)", 0},
    {"top-p", OPT_DOUBLE, O(top_p), "P", "nucleus sampling (default 1)", 0},
    {"top-k", OPT_INT, O(top_k), "K", "top-k sampling (default off)", 0},
    {"min-p", OPT_DOUBLE, O(min_p), "P", "min-p sampling (default off)", 0},
    {"repeat-penalty", OPT_DOUBLE, O(repeat_penalty), "R", "repetition penalty (default 1)", 0},
    {"seed", OPT_U64, O(seed), "S", "sampling seed (default 1234)", 0},
    {"tool-mode", OPT_STR, O(tool_mode), "prompt|native", "BFCL: functions in the prompt or as OpenAI tools", 0},
    {"ifeval-mode", OPT_STR, O(ifeval_mode), "compat|fixed", "IFEval: reproduce the reference or repair its defects", 0},
    {"langdetect-profiles", OPT_STR, O(langdetect), "DIR", "IFEval: langdetect's profiles (default $TALLY_LANGDETECT_PROFILES, then Debian's)", 0},
    {"base-url", OPT_STR, O(base_url), "URL", "openai: server address, e.g. http://localhost:8000/v1", 0},
    {"header", OPT_LIST, O(header), "K:V", "openai: extra HTTP header (repeatable)", 0},
    {"concurrency", OPT_INT, O(concurrency), "N", "openai: requests in flight (default 8)", 0},
    {"max-retries", OPT_INT, O(max_retries), "N", "openai: retries per request (default 5)", 0},
    {"timeout", OPT_DOUBLE, O(timeout), "SEC", "openai: per-request timeout (default 600)", 0},
    {"rps", OPT_DOUBLE, O(rps), "R", "openai: at most R requests per second", 0},
    {"n-per-request", OPT_INT, O(n_per_request), "N", "openai: ask up to N samples of an item in one request with \"n\" (default 1: one request per sample, each with its own seed)", 0},
    {"stream", OPT_BOOL, O(stream), NULL, "openai: receive answers as server-sent events", 0},
    {"extra-body", OPT_STR, O(extra_body), "JSON", "openai: object merged into every request body, e.g. '{\"chat_template_kwargs\": {\"thinking\": true}}'", 0},
    {"threads", OPT_INT, O(threads), "N", "native: CPU threads (default all)", 0},
    {"batch", OPT_INT, O(batch), "B", "native: sequences decoded together", 0},
    {"ctx-size", OPT_INT, O(ctx_size), "N", "native: context length (default the model's)", 0},
    {"chat-template", OPT_STR, O(chat_template), "NAME", "native: granite-3.3|granite-4.0|granite-4.1|ling-2.0|raw", 0},
    {"jobs", OPT_INT, O(jobs), "N", "code tasks: programs run in parallel (default cores)", 0},
    {"exec-timeout", OPT_DOUBLE, O(exec_timeout), "SEC", "code tasks: per-program time limit (default 3)", 0},
    {"sandbox", OPT_STR, O(sandbox), "MODE", "code tasks: auto (default), degraded, no-userns or no-fork-server", 0},
    {"unsafe-no-sandbox", OPT_BOOL, O(unsafe_no_sandbox), NULL, "code tasks: run model code without the OS sandbox", 0},
    {"python", OPT_STR, O(python), "PATH", "code tasks: interpreter (default python3)", 0},
    {"cache-dir", OPT_STR, O(cache_dir), "DIR", "derived data cache (default ~/.cache/tally)", 0},
    {"data-dir", OPT_STR, O(data_dir), "DIR", "datasets (default $TALLY_DATA, then ~/.cache/tally/datasets)", 0},
    {"no-score", OPT_BOOL, O(no_score), NULL, "only generate; score later with tally score", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no progress line and no table", 0},
    {"replay-delay-ms", OPT_DOUBLE, O(replay_delay), "MS", "replay: wait before each answer (tests)", OPT_HIDDEN},
    {0},
};
#undef O

/* ---- settings shared by every task of the run ---- */

static const char *guess_backend(const run_opts *ro)
{
    if (ro->backend) return ro->backend;
    if (ro->base_url) return "openai";
    if (!ro->model) return NULL;
    if (!strcmp(ro->model, "oracle") || str_ends(ro->model, ".jsonl") || dir_exists(ro->model))
        return "replay";
    if (str_ends(ro->model, ".gguf")) return "native";
    return NULL;
}

typedef struct run_ctx {
    const run_opts *ro;
    const char *backend;
    bool chat;
    runner_settings rs;
    const char *command_line;
} run_ctx;

/* ---- generation ---- */

typedef struct gen_ctx {
    rundir *dir;
    const task_def *t;
    const task_options *o;
    progress *prog;
    bool live_score;
    const item **req_items; /* item of each request, by request index */
    cJSON *info;            /* scratch for live scoring */
    buf line;
    size_t written;
    arena scratch;
    gen_stats stats; /* for the summary line */
    err *e;
} gen_ctx;

/* Scores one fresh sample for the running accuracy of the progress line
 * (tasks whose scoring is cheap; code tasks are scored at the end only). */
static int live_correct(gen_ctx *g, size_t index, const gen_request *q, const gen_response *r,
                        const char *text)
{
    if (!g->live_score) return -1;
    sample_view v = {0};
    score_record rec = {0};
    cJSON *calls = NULL;
    v.it = g->req_items[index];
    v.sample = q->sample;
    v.completion = text;
    v.finish_reason = r->finish_reason;
    v.error = r->error;
    v.error_kind = r->error_kind;
    if (r->n_tool_calls) {
        calls = cJSON_CreateArray();
        for (size_t i = 0; i < r->n_tool_calls && calls; i++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "name", r->tool_calls[i].name ? r->tool_calls[i].name : "");
            cJSON_AddStringToObject(c, "arguments",
                                    r->tool_calls[i].arguments ? r->tool_calls[i].arguments : "");
            cJSON_AddItemToArray(calls, c);
        }
        v.tool_calls = calls;
    }
    arena_reset(&g->scratch);
    score_ctx c = {g->o, g->t->arg, &g->scratch, g->info};
    err e2 = ERR_INIT;
    int ok = -1;
    if (g->t->score(&c, &v, 1, &rec, &e2) == 0) ok = rec.outcome == OUTCOME_CORRECT;
    score_record_release(&rec);
    cJSON_Delete(calls);
    return ok;
}

static int on_done(void *ctx, size_t index, const gen_request *q, const gen_response *r)
{
    gen_ctx *g = ctx;
    char *text = r->text ? strdup(r->text) : strdup("");
    if (!text) return err_set(g->e, ERR_NOMEM, "out of memory");
    if (!r->error) eval_cut_at_stop(text, q->p);
    char sha[HASH_HEX_SIZE];
    eval_prompt_sha256(q->p, sha);
    if (r->rendered_prompt) sha256_hex(r->rendered_prompt, strlen(r->rendered_prompt), sha);
    buf_reset(&g->line);
    int rc = samples_format_line(&g->line, q, r, sha, text);
    if (rc < 0) {
        free(text);
        return err_set(g->e, rc, "out of memory");
    }
    rc = rundir_samples_append(g->dir, &g->line, g->e);
    if (rc == 0) {
        g->written++;
        gen_stats_add(&g->stats, r);
        progress_tick(g->prog, live_correct(g, index, q, r, text));
    }
    free(text);
    if (rc < 0) return rc;
    if (cmd_interrupted) return err_set(g->e, ERR_INTERRUPTED, "interrupted");
    return 0;
}

/* ---- one task ---- */

static cJSON *settings_json(const run_ctx *rc, const task_def *t, const task_options *o)
{
    const run_opts *ro = rc->ro;
    cJSON *s = cJSON_CreateObject();
    if (!s) return NULL;
    cJSON_AddStringToObject(s, "prompt_style", rc->chat ? "chat" : "raw");
    if (o->shots >= 0) cJSON_AddNumberToObject(s, "shots", o->shots);
    else cJSON_AddStringToObject(s, "shots", "task default");
    cJSON_AddNumberToObject(s, "samples", o->samples);
    cJSON_AddNumberToObject(s, "seed", (double)ro->seed);
    cJSON_AddNumberToObject(s, "temperature", ro->temperature);
    cJSON_AddNumberToObject(s, "top_p", ro->top_p);
    cJSON_AddNumberToObject(s, "top_k", ro->top_k);
    cJSON_AddNumberToObject(s, "min_p", ro->min_p);
    cJSON_AddNumberToObject(s, "repetition_penalty", ro->repeat_penalty);
    if (ro->max_tokens > 0) cJSON_AddNumberToObject(s, "max_tokens", ro->max_tokens);
    else cJSON_AddStringToObject(s, "max_tokens", "task default");
    if (t->flags & TASK_TOOLS) cJSON_AddStringToObject(s, "tool_mode", o->tool_mode);
    if (rc->ro->chat_template) cJSON_AddStringToObject(s, "chat_template", rc->ro->chat_template);
    /* openai settings that change the answers (resuming with others is refused) */
    if (ro->n_per_request > 1) cJSON_AddNumberToObject(s, "n_per_request", ro->n_per_request);
    if (ro->extra_body) {
        cJSON *x = cJSON_Parse(ro->extra_body);
        if (x) cJSON_AddItemToObject(s, "extra_body", x);
        else cJSON_AddStringToObject(s, "extra_body", ro->extra_body);
    }
    return s;
}

/* ---- the generation summary line (remote and native runs) ---- */

/* "tally run: gsm8k: 1319 requests in 80.21 s: 16.4 req/s, 2107 tok/s; latency
 * p50 410.2 ms, p95 980.7 ms; 3 retries, 0 errors" on stderr. */
static void print_gen_summary(const char *task, gen_stats *st, double wall_s)
{
    buf line = BUF_INIT;
    if (gen_stats_format(st, wall_s, &line) == 0) fprintf(stderr, "tally run: %s: %s\n", task, line.data);
    buf_release(&line);
}

static cJSON *scoring_json(const task_def *t, const task_options *o)
{
    cJSON *s = cJSON_CreateObject();
    if (!s) return NULL;
    if (!strcmp(t->benchmark, "ifeval")) cJSON_AddStringToObject(s, "ifeval_mode", o->scorer_mode);
    if (t->flags & TASK_CODE) {
        cJSON_AddNumberToObject(s, "jobs", o->jobs);
        cJSON_AddNumberToObject(s, "exec_timeout_s", o->exec_timeout_s ? o->exec_timeout_s : 3.0);
        cJSON_AddBoolToObject(s, "unsafe_no_sandbox", o->unsafe_no_sandbox);
        cJSON_AddStringToObject(s, "sandbox_mode", o->sandbox_mode ? o->sandbox_mode : "auto");
    }
    return s;
}

static int run_task(run_ctx *rc, const task_def *t, const char *dir_path, err *e)
{
    const run_opts *ro = rc->ro;
    arena a = ARENA_INIT;
    rundir dir = RUNDIR_INIT;
    runner *r = NULL;
    sample_store st = SAMPLE_STORE_INIT;
    cJSON *manifest = NULL, *old = NULL, *results = NULL;
    gen_request *reqs = NULL;
    prompt *prompts = NULL;
    gen_ctx g = {0};
    int ret = 0;

    task_options o;
    task_options_default(&o);
    o.data_dir = cmd_data_dir(ro->data_dir, &a);
    o.shots = ro->shots;
    o.chat = rc->chat;
    o.samples = ro->samples;
    o.jobs = ro->jobs;
    o.exec_timeout_s = ro->exec_timeout;
    o.unsafe_no_sandbox = ro->unsafe_no_sandbox;
    o.sandbox_mode = ro->sandbox;
    o.cache_dir = cmd_cache_dir(ro->cache_dir, &a);
    o.python = ro->python;
    if (ro->tool_mode) o.tool_mode = ro->tool_mode;
    if (ro->ifeval_mode) o.scorer_mode = ro->ifeval_mode;
    o.langdetect_dir = ro->langdetect ? ro->langdetect : getenv("TALLY_LANGDETECT_PROFILES");
    if (strcmp(o.tool_mode, "prompt") && strcmp(o.tool_mode, "native")) {
        ret = err_set(e, ERR_USAGE, "--tool-mode: \"%s\" is not prompt or native", o.tool_mode);
        goto out;
    }
    if (strcmp(o.scorer_mode, "compat") && strcmp(o.scorer_mode, "fixed")) {
        ret = err_set(e, ERR_USAGE, "--ifeval-mode: \"%s\" is not compat or fixed", o.scorer_mode);
        goto out;
    }
    if (o.samples > 1 && ro->temperature == 0 && !ro->quiet)
        fprintf(stderr, "tally run: note: --samples %d with greedy decoding gives %d identical "
                        "completions; set --temperature for pass@k\n", o.samples, o.samples);

    /* items */
    item_set all;
    if ((ret = t->load(&o, t->arg, &a, &all, e)) < 0) goto out;
    selection sel = {ro->ids, ro->limit, ro->shard};
    const item **items;
    size_t n_items;
    if ((ret = eval_select(&all, &sel, &a, &items, &n_items, e)) < 0) goto out;
    if (n_items == 0) {
        ret = err_set(e, ERR_USAGE, "%s: the selection is empty", t->name);
        goto out;
    }
    prompts = calloc(n_items, sizeof *prompts);
    if (!prompts) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_items; i++)
        if ((ret = t->build(&o, t->arg, items[i], &a, &prompts[i], e)) < 0) {
            err_prefix(e, "%s item %s", t->name, items[i]->id);
            goto out;
        }

    /* runner */
    runner_settings rs = rc->rs;
    rs.task = t->name;
    if ((ret = runner_open(&r, rc->backend, &rs, e)) < 0) goto out;

    /* manifest: refuse to mix settings with what the directory already holds */
    manifest = cJSON_CreateObject();
    char now[32];
    time_iso8601(now, sizeof now);
    cJSON_AddStringToObject(manifest, "tally_version", TALLY_VERSION);
    cJSON_AddStringToObject(manifest, "task", t->name);
    cJSON_AddStringToObject(manifest, "benchmark", t->benchmark);
    cJSON *ds = cJSON_AddObjectToObject(manifest, "dataset");
    cJSON_AddStringToObject(ds, "path", all.path ? all.path : "");
    if (all.sha256) cJSON_AddStringToObject(ds, "sha256", all.sha256);
    cJSON_AddNumberToObject(ds, "items", (double)all.n);
    cJSON *rj = cJSON_AddObjectToObject(manifest, "runner");
    cJSON_AddStringToObject(rj, "backend", rc->backend);
    cJSON_AddStringToObject(rj, "model", ro->model);
    if ((ret = runner_describe(r, rj, e)) < 0) goto out;
    cJSON_AddItemToObject(manifest, "settings", settings_json(rc, t, &o));
    cJSON_AddItemToObject(manifest, "scoring", scoring_json(t, &o));
    cJSON_AddItemToObject(manifest, "selection", eval_selection_json(&sel, n_items));
    cJSON_AddItemToObject(manifest, "host", eval_host_json());
    cJSON_AddStringToObject(manifest, "command", rc->command_line);

    if ((ret = rundir_open(&dir, dir_path, e)) < 0) goto out;
    if ((ret = rundir_read_manifest(&dir, &old, e)) < 0) goto out;
    if (old) {
        if ((ret = rundir_check_resume(&dir, old, manifest, e)) < 0) goto out;
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(old, "created");
        cJSON_AddStringToObject(manifest, "created", cJSON_IsString(created) ? created->valuestring : now);
    } else {
        cJSON_AddStringToObject(manifest, "created", now);
    }
    cJSON_AddStringToObject(manifest, "updated", now);
    if ((ret = rundir_write_json(&dir, "manifest.json", manifest, e)) < 0) goto out;

    /* resume: what is already answered stays; torn and failed lines are redone */
    if ((ret = samples_load(dir.samples_path, &st, e)) < 0) goto out;
    size_t n_err = 0;
    for (size_t i = 0; i < st.n; i++)
        if (st.docs[i] && sample_has_error(st.docs[i])) n_err++;
    if (st.torn || n_err || st.superseded) {
        if (!ro->quiet && (st.torn || n_err))
            fprintf(stderr, "tally run: %s: redoing %s%s%zu failed sample%s\n", dir.path,
                    st.torn ? "a torn last line and " : "", "", n_err, n_err == 1 ? "" : "s");
        if ((ret = samples_compact(dir.samples_path, &st, true, e)) < 0) goto out;
    }
    size_t total = n_items * (size_t)o.samples, n_req = 0;
    reqs = calloc(total, sizeof *reqs);
    g.req_items = calloc(total, sizeof *g.req_items);
    if (!reqs || !g.req_items) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_items; i++) {
        for (int s = 0; s < o.samples; s++) {
            if (samples_get(&st, items[i]->id, s)) continue;
            g.req_items[n_req] = items[i];
            gen_request *q = &reqs[n_req++];
            q->item_id = items[i]->id;
            q->sample = s;
            q->p = &prompts[i];
            q->max_tokens = ro->max_tokens > 0 ? ro->max_tokens : prompts[i].max_tokens;
            q->sampling.temperature = ro->temperature;
            q->sampling.top_p = ro->top_p;
            q->sampling.top_k = ro->top_k;
            q->sampling.min_p = ro->min_p;
            q->sampling.repetition_penalty = ro->repeat_penalty;
            q->sampling.seed = ro->seed + (uint64_t)s;
        }
    }

    /* generate */
    if (n_req) {
        if ((ret = rundir_samples_open(&dir, e)) < 0) goto out;
        progress prog;
        char label[160];
        snprintf(label, sizeof label, "%s", t->name);
        progress_start(&prog, label, total, !ro->quiet && isatty(2));
        prog.done = total - n_req;
        g.dir = &dir;
        g.t = t;
        g.o = &o;
        g.prog = &prog;
        g.e = e;
        g.live_score = prog.enabled && !(t->flags & TASK_CODE);
        g.info = cJSON_CreateObject();
        double t_gen = time_now_s();
        ret = runner_generate(r, reqs, n_req, on_done, &g, e);
        t_gen = time_now_s() - t_gen;
        progress_end(&prog);
        if (ret == 0 && !ro->quiet && strcmp(rc->backend, "replay") != 0)
            print_gen_summary(t->name, &g.stats, t_gen);
        if (ret < 0) {
            if (ret == ERR_INTERRUPTED || cmd_interrupted) {
                ret = err_set(e, ERR_INTERRUPTED,
                              "interrupted: %zu of %zu samples are in %s; run the same command "
                              "again to resume",
                              total - n_req + g.written, total, dir.samples_path);
            } else {
                err_prefix(e, "%s (%zu new samples kept in %s)", t->name, g.written, dir.samples_path);
            }
            goto out;
        }
        /* the appended lines, back into the store */
        samples_release(&st);
        if ((ret = samples_load(dir.samples_path, &st, e)) < 0) goto out;
    }
    buf notes = BUF_INIT;
    runner_notes(r, &notes);
    if (notes.len && !ro->quiet) fprintf(stderr, "%s", notes.data);
    buf_release(&notes);

    if (ro->no_score) {
        if (!ro->quiet) printf("%s: %zu samples in %s (not scored: --no-score)\n", t->name, total, dir.path);
        goto out;
    }
    if ((ret = eval_score(t, &o, &dir, items, n_items, o.samples, &st, dir.path, &results, e)) < 0)
        goto out;
    /* what the scorer learned about itself (sandbox level, interpreter) goes into the manifest too */
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(results, "info");
    if (cJSON_GetArraySize(info) > 0) {
        cJSON *sc = cJSON_GetObjectItemCaseSensitive(manifest, "scoring");
        const cJSON *f;
        cJSON_ArrayForEach(f, info) cJSON_AddItemToObject(sc, f->string, cJSON_Duplicate(f, true));
        char fin[32];
        time_iso8601(fin, sizeof fin);
        cJSON_AddStringToObject(manifest, "finished", fin);
        if ((ret = rundir_write_json(&dir, "manifest.json", manifest, e)) < 0) goto out;
    }
    if (!ro->quiet) {
        char label[300];
        snprintf(label, sizeof label, "%s:%s", rc->backend, ro->model);
        eval_print_results(stdout, t, results, label);
    }
out:
    free(reqs);
    free(g.req_items);
    cJSON_Delete(g.info);
    free(prompts);
    buf_release(&g.line);
    arena_release(&g.scratch);
    gen_stats_release(&g.stats);
    samples_release(&st);
    cJSON_Delete(manifest);
    cJSON_Delete(old);
    cJSON_Delete(results);
    runner_close(r);
    rundir_close(&dir);
    arena_release(&a);
    return ret;
}

static int cmd_run_main(int argc, char **argv)
{
    run_opts ro = {0};
    ro.samples = 1;
    ro.shots = -1;
    ro.top_p = 1;
    ro.repeat_penalty = 1;
    ro.seed = 1234;
    ro.concurrency = 8;
    ro.max_retries = 5;
    ro.timeout = 600;
    opts_result res;
    err e = ERR_INIT;
    int status = 0;
    buf cmdline = BUF_INIT;
    arena a = ARENA_INIT;
    if (opts_parse(run_opt_defs, &ro, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("run", &e);
        goto out;
    }
    if (res.n_pos) {
        err_set(&e, ERR_USAGE, "unexpected argument \"%s\"", res.pos[0]);
        status = cmd_fail("run", &e);
        goto out;
    }
    if (!ro.task || !ro.model || !ro.out) {
        err_set(&e, ERR_USAGE, "--task, --model and --out are required");
        status = cmd_fail("run", &e);
        goto out;
    }
    if (ro.samples < 1) {
        err_set(&e, ERR_USAGE, "--samples: must be at least 1");
        status = cmd_fail("run", &e);
        goto out;
    }
    run_ctx rc = {0};
    rc.ro = &ro;
    rc.backend = guess_backend(&ro);
    if (!rc.backend) {
        err_set(&e, ERR_USAGE, "--backend: cannot tell the backend from --model %s; pass --backend "
                               "native|openai|replay",
                ro.model);
        status = cmd_fail("run", &e);
        goto out;
    }
    if (!runner_find(rc.backend)) {
        err_set(&e, ERR_USAGE, "--backend: \"%s\" is not available in this build (available: replay%s)",
                rc.backend, runner_find("openai") ? ", openai" : "");
        status = cmd_fail("run", &e);
        goto out;
    }
    if (ro.prompt_style) {
        if (strcmp(ro.prompt_style, "raw") && strcmp(ro.prompt_style, "chat")) {
            err_set(&e, ERR_USAGE, "--prompt-style: \"%s\" is not raw or chat", ro.prompt_style);
            status = cmd_fail("run", &e);
            goto out;
        }
        rc.chat = !strcmp(ro.prompt_style, "chat");
    } else {
        rc.chat = !strcmp(rc.backend, "openai");
    }
    runner_settings_default(&rc.rs);
    rc.rs.model = ro.model;
    rc.rs.base_url = ro.base_url;
    rc.rs.api_key = getenv("TALLY_API_KEY");
    if (!rc.rs.api_key) rc.rs.api_key = getenv("OPENAI_API_KEY");
    rc.rs.headers = ro.header.v;
    rc.rs.n_headers = ro.header.n;
    rc.rs.concurrency = ro.concurrency;
    rc.rs.max_retries = ro.max_retries;
    rc.rs.timeout_s = ro.timeout;
    rc.rs.rps = ro.rps;
    rc.rs.n_per_request = ro.n_per_request > 0 ? ro.n_per_request : 1;
    rc.rs.stream = ro.stream;
    rc.rs.extra_body = ro.extra_body;
    rc.rs.cancel = &cmd_interrupted;
    rc.rs.threads = ro.threads;
    if (ro.batch > 0) rc.rs.batch = ro.batch;
    rc.rs.ctx_size = ro.ctx_size;
    rc.rs.chat_template = ro.chat_template;
    rc.rs.chat = rc.chat;
    rc.rs.replay_delay_ms = ro.replay_delay;
    rc.rs.cache_dir = cmd_cache_dir(ro.cache_dir, &a);
    if (!ro.prompt_style) {
        /* a backend may know better (native: the GGUF has a chat template) */
        bool chat = false;
        int dc = runner_default_chat(rc.backend, &rc.rs, &chat, &e);
        if (dc < 0) {
            status = cmd_fail("run", &e);
            goto out;
        }
        if (dc > 0) rc.chat = rc.rs.chat = chat;
    }
    for (int i = 0; i < argc; i++) buf_printf(&cmdline, "%s%s", i ? " " : "tally ", argv[i]);
    rc.command_line = cmdline.data;

    /* every task name is checked before anything runs */
    char *tasks = arena_strdup(&a, ro.task);
    const task_def *list[64];
    size_t n_tasks = 0;
    char *save = NULL;
    for (char *tok = strtok_r(tasks, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const task_def *t = task_find(tok);
        if (!t) {
            err_set(&e, ERR_USAGE, "--task: unknown task \"%s\" ('tally datasets list' shows the tasks)", tok);
            status = cmd_fail("run", &e);
            goto out;
        }
        if (n_tasks == sizeof list / sizeof list[0]) break;
        list[n_tasks++] = t;
    }
    if (!n_tasks) {
        err_set(&e, ERR_USAGE, "--task: no task given");
        status = cmd_fail("run", &e);
        goto out;
    }
    cmd_install_signal_handlers();
    for (size_t i = 0; i < n_tasks; i++) {
        const char *dir = n_tasks == 1 ? ro.out : arena_printf(&a, "%s/%s", ro.out, list[i]->name);
        for (char *p = (char *)dir + strlen(ro.out); n_tasks > 1 && *p; p++)
            if (*p == ':') *p = '_';
        err_clear(&e);
        if (run_task(&rc, list[i], dir, &e) < 0) {
            status = e.code == ERR_INTERRUPTED ? 130 : cmd_fail("run", &e);
            if (e.code == ERR_INTERRUPTED) fprintf(stderr, "tally run: %s\n", e.msg);
            goto out;
        }
        if (i + 1 < n_tasks && !ro.quiet) printf("\n");
    }
out:
    opts_release(&res);
    str_list_release(&ro.header);
    buf_release(&cmdline);
    arena_release(&a);
    return status;
}

const command_def cmd_run_def = {
    .name = "run",
    .summary = "ask a model every item of one or more tasks, store the answers, score them",
    .usage = "tally run --task T[,T...] --model M [--backend native|openai|replay] --out DIR [options]",
    .details = "A run directory holds manifest.json, samples.jsonl, scores.jsonl and results.json.\n"
               "Running again into the same directory resumes: answered samples are kept, a torn\n"
               "last line and failed samples are redone, and different settings are refused.\n",
    .opts = run_opt_defs,
    .main = cmd_run_main,
};
