/* humaneval.c: HumanEval and EvalPlus scoring (completion processing, the
 * sandboxed runs, EvalPlus's expected outputs, pass@k). */
#include "humaneval.h"

#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "common/util.h"
#include "metric.h"
#include "sandbox_runner.h"

#define HE_FLOOR_S    3.0 /* human-eval's timeout, our CPU floor */
#define EP_FLOOR_S    4.0 /* EvalPlus's per-input floor */
#define CANON_FACTOR  4.0 /* budget = max(floor, factor x canonical CPU time) */
#define WALL_FACTOR   2.0 /* wall-clock backstop = factor x the CPU budget */
#define SETUP_RETRIES 2   /* reruns of a job whose sandbox could not be set up */

/* ------------------------------------------------------------------ completions */

size_t humaneval_stop_at(const char *text, const char *const *stops)
{
    size_t n = strlen(text), cut = n;
    for (size_t i = 0; stops && stops[i]; i++) {
        if (!*stops[i]) continue;
        const char *p = mem_find(text, cut, stops[i], strlen(stops[i]));
        if (p && (size_t)(p - text) < cut) cut = (size_t)(p - text);
    }
    /* A stop string that straddles `cut` was not found first: search only
     * ever shrinks `cut`, and every hit is an earlier start. */
    return cut;
}

const char *humaneval_truncate(arena *a, const char *text, const char *const *stops)
{
    return arena_strndup(a, text, humaneval_stop_at(text, stops));
}

static bool blank_range(const char *p, const char *end)
{
    for (; p < end; p++)
        if (!isspace((unsigned char)*p)) return false;
    return true;
}

const char *humaneval_extract_chat(arena *a, const char *reply)
{
    const char *f = strstr(reply, "```");
    if (!f) return arena_strdup(a, reply);
    const char *eol = strchr(f + 3, '\n');
    const char *line_end = eol ? eol : f + strlen(f);
    bool tagged = !blank_range(f + 3, line_end);
    if (!tagged && !blank_range(reply, f)) return arena_strndup(a, reply, (size_t)(f - reply));
    /* An opening fence: its block. */
    if (!eol) return arena_strdup(a, "");
    const char *body = eol + 1;
    const char *close = strstr(body, "```");
    return arena_strndup(a, body, close ? (size_t)(close - body) : strlen(body));
}

char *humaneval_program(arena *a, const char *prompt, const char *completion, const char *test,
                        const char *entry_point)
{
    return arena_printf(a, "%s%s\n%s\ncheck(%s)", prompt, completion, test, entry_point);
}

/* Decodes the code point at s (UTF-8, leniently: lead bytes by their pattern);
 * a byte that starts no sequence stands for itself, as in Latin-1. Returns
 * its length, 0 at the end. */
static size_t utf8_at(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (!n) return 0;
    size_t len = utf8_decode((const char *)s, n, UTF8_LENIENT, cp);
    if (len) return len;
    *cp = s[0];
    return 1;
}

char *humaneval_py_strip(arena *a, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), b = 0, e = n;
    uint32_t cp;
    size_t l;
    while (b < n && (l = utf8_at(u + b, n - b, &cp)) && utf8_is_pyspace(cp)) b += l;
    while (e > b) {
        size_t st = e - 1;
        while (st > b && (u[st] & 0xc0) == 0x80 && e - st < 4) st--;
        l = utf8_at(u + st, e - st, &cp);
        if (st + l != e || !utf8_is_pyspace(cp)) break;
        e = st;
    }
    return arena_strndup(a, s + b, e - b);
}

double humaneval_pass_at_k(int n, int c, int k)
{
    if (n - c < k) return 1.0;
    /* 1 - prod_{i=n-c+1}^{n} (1 - k/i) */
    double prod = 1.0;
    for (int i = n - c + 1; i <= n; i++) prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}

/* ------------------------------------------------------------------ sandbox */

int humaneval_sandbox_open(const task_options *o, sandbox **out, cJSON *info, err *e)
{
    sandbox_settings s;
    sandbox_settings_default(&s);
    s.python = o ? o->python : NULL;
    const char *mode = o ? o->sandbox_mode : NULL;
    if (o && o->unsafe_no_sandbox) {
        s.isolation = SANDBOX_NONE;
    } else if (!mode || !*mode || strcmp(mode, "auto") == 0) {
        s.isolation = SANDBOX_AUTO;
    } else if (strcmp(mode, "degraded") == 0) {
        s.isolation = SANDBOX_DEGRADED;
    } else if (strcmp(mode, "no-userns") == 0) {
        s.isolation = SANDBOX_NO_USERNS;
    } else if (strcmp(mode, "no-fork-server") == 0) {
        s.no_fork_server = true;
    } else {
        return err_set(e, ERR_USAGE,
                       "sandbox mode \"%s\" is not auto, degraded, no-userns or no-fork-server",
                       mode);
    }
    int r = sandbox_open(out, &s, e);
    if (r < 0) return r;
    if (info) {
        cJSON_DeleteItemFromObjectCaseSensitive(info, "sandbox");
        cJSON_DeleteItemFromObjectCaseSensitive(info, "python");
        cJSON_DeleteItemFromObjectCaseSensitive(info, "python_hash_seed");
        cJSON_AddStringToObject(info, "sandbox", sandbox_level(*out));
        cJSON_AddStringToObject(info, "python", sandbox_python_version(*out));
        cJSON_AddStringToObject(info, "python_hash_seed", "0");
        cJSON_DeleteItemFromObjectCaseSensitive(info, "sandbox_fork_server");
        cJSON_AddBoolToObject(info, "sandbox_fork_server", sandbox_fork_server(*out));
        if (*sandbox_downgrade_reason(*out)) {
            cJSON_DeleteItemFromObjectCaseSensitive(info, "sandbox_note");
            cJSON_AddStringToObject(info, "sandbox_note", sandbox_downgrade_reason(*out));
        }
    }
    return 0;
}

/* Runs jobs, rerunning (a few times) those whose sandbox could not be set
 * up; still failing is an instrument failure of the whole scoring. */
static int run_jobs(sandbox *sb, sandbox_job *jobs, size_t n, int workers, sandbox_result *res,
                    err *e)
{
    int r = sandbox_run_many(sb, jobs, n, workers, res, e);
    if (r < 0) return r;
    for (int attempt = 0; attempt < SETUP_RETRIES; attempt++) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            if (!res[i].setup_error) continue;
            bad++;
            if ((r = sandbox_run_many(sb, &jobs[i], 1, 1, &res[i], e)) < 0) return r;
        }
        if (!bad) break;
    }
    for (size_t i = 0; i < n; i++)
        if (res[i].setup_error)
            return err_set(e, ERR_SANDBOX, "sandbox: cannot set up a job: %s", res[i].setup_error);
    return 0;
}

static const char *frame_text(const sandbox_result *r, const char *key)
{
    const sandbox_frame *f = sandbox_result_frame(r, key);
    return f ? f->data : NULL;
}

static const char *signal_name(int sig, char *buf, size_t n)
{
    const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;
    if (abbrev)
        snprintf(buf, n, "SIG%s", abbrev);
    else
        snprintf(buf, n, "signal %d", sig);
    return buf;
}

/* The outcome of a run from the verdict `v` of the runner (or none), in the
 * reference's words (`*result`) and ours (`*reason`: for an exception, the
 * last line of its traceback, "Type: message", when `exc_line`). */
static int classify(const sandbox_result *r, const char *v, const char *exc, bool exc_line,
                    arena *a, const char **result, const char **reason)
{
    char sig[32];
    *reason = NULL;
    if (v) {
        /* Copies: the records outlive the sandbox results. */
        v = arena_strdup(a, v);
        if (!v) v = "failed: (out of memory)";
        *result = v;
        if (strcmp(v, "passed") == 0) return OUTCOME_CORRECT;
        if (strcmp(v, "timed out") == 0) {
            *reason = "timed out (CPU budget or wall-clock backstop)";
            return OUTCOME_TIMEOUT;
        }
        if (exc && strcmp(exc, "MemoryError") == 0) {
            *reason = arena_printf(a, "memory limit: %s", v);
            return OUTCOME_KILLED;
        }
        *reason = v;
        if (exc_line && exc && *exc && strncmp(v, "failed: ", 8) == 0) {
            const char *msg = v + 8;
            const char *line = arena_printf(a, "%s%s%s", exc, *msg ? ": " : "", msg);
            if (line) *reason = line;
        }
        return OUTCOME_WRONG;
    }
    /* No verdict: the reference records "timed out" for a child that left
     * without a result. */
    *result = "timed out";
    switch (r->kill) {
    case SANDBOX_KILL_OUTPUT:
    case SANDBOX_KILL_RESULT:
        *reason = sandbox_kill_name(r->kill);
        return OUTCOME_KILLED;
    case SANDBOX_KILL_WALL:
    case SANDBOX_KILL_STARTUP:
    case SANDBOX_KILL_CPU:
        *reason = sandbox_kill_name(r->kill);
        return OUTCOME_TIMEOUT;
    default:
        break;
    }
    if (r->channel_corrupt) {
        *reason = "the program wrote on the result channel";
        return OUTCOME_WRONG;
    }
    if (r->term_signal == SIGKILL) {
        *reason = "killed by SIGKILL";
        return OUTCOME_KILLED;
    }
    if (r->term_signal) {
        *reason = arena_printf(a, "crashed (%s)", signal_name(r->term_signal, sig, sizeof sig));
        return OUTCOME_WRONG;
    }
    if (r->exited && frame_text(r, "error")) {
        *reason = arena_printf(a, "runner error: %s", frame_text(r, "error"));
        return OUTCOME_WRONG;
    }
    *reason = arena_printf(a, "exited (status %d) before the tests finished", r->exit_code);
    return OUTCOME_WRONG;
}

static void add_run_fields(cJSON *f, const sandbox_result *r)
{
    char sig[32];
    cJSON_AddNumberToObject(f, "cpu_ms", round(r->cpu_ms));
    cJSON_AddNumberToObject(f, "peak_rss_kb", (double)r->peak_rss_kb);
    if (r->term_signal)
        cJSON_AddStringToObject(f, "signal", signal_name(r->term_signal, sig, sizeof sig));
    else
        cJSON_AddNullToObject(f, "signal");
    if (sandbox_kill_name(r->kill))
        cJSON_AddStringToObject(f, "kill", sandbox_kill_name(r->kill));
    else
        cJSON_AddNullToObject(f, "kill");
}

/* Known ways to make the tests' asserts pass without solving the problem: an
 * object whose __eq__ always answers True, patched builtins, frame or tracer
 * tricks. The reference counts such programs as passes (SCORING.md 1.8.5), and
 * so does tally; the record of a pass that uses one says so, for a reader. */
static void flag_suspect(cJSON *f, int outcome, const char *completion)
{
    static const char *const tricks[] = {"__eq__", "__ne__", "builtins", "settrace",
                                         "setprofile", "_getframe", "currentframe",
                                         "get_referrers", "gc.get_objects"};
    if (outcome != OUTCOME_CORRECT || !completion) return;
    char found[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < ARRAY_LEN(tricks); i++) {
        if (!strstr(completion, tricks[i])) continue;
        int k = snprintf(found + used, sizeof found - used, "%s%s", used ? ", " : "", tricks[i]);
        if (k > 0 && (size_t)k < sizeof found - used) used += (size_t)k;
    }
    if (used)
        cJSON_AddStringToObject(f, "suspect", found);
}

static bool all_blank(const char *s)
{
    return blank_range(s, s + strlen(s));
}

/* Per-problem sample and pass counts, written into every record. */
typedef struct prob_count {
    const item *it;
    int n, c, c_base;
} prob_count;

static int count_problems(const sample_view *s, const score_record *r, size_t n, bool evalplus,
                          prob_count **out, size_t *n_out, size_t *idx, err *e)
{
    strmap m = STRMAP_INIT;
    prob_count *pc = calloc(n ? n : 1, sizeof *pc);
    size_t np = 0;
    if (!pc) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *id = s[i].it->id;
        size_t k;
        if (!strmap_get(&m, id, strlen(id), &k)) {
            k = np++;
            pc[k].it = s[i].it;
            if (strmap_put(&m, id, strlen(id), k) < 0) {
                strmap_release(&m);
                free(pc);
                return err_set(e, ERR_NOMEM, "out of memory");
            }
        }
        if (idx) idx[i] = k;
        pc[k].n++;
        if (r[i].outcome == OUTCOME_CORRECT) pc[k].c++;
        if (evalplus && r[i].fields) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(r[i].fields, "base");
            if (cJSON_IsString(b) && strcmp(b->valuestring, "pass") == 0) pc[k].c_base++;
        } else if (!evalplus && r[i].outcome == OUTCOME_CORRECT) {
            pc[k].c_base++;
        }
    }
    strmap_release(&m);
    *out = pc;
    *n_out = np;
    return 0;
}

static int add_problem_counts(const sample_view *s, score_record *r, size_t n, bool evalplus,
                              err *e)
{
    prob_count *pc = NULL;
    size_t np = 0;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return err_set(e, ERR_NOMEM, "out of memory");
    int ret = count_problems(s, r, n, evalplus, &pc, &np, idx, e);
    if (ret == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!r[i].fields) r[i].fields = cJSON_CreateObject();
            if (!r[i].fields) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            const prob_count *p = &pc[idx[i]];
            cJSON_AddNumberToObject(r[i].fields, "problem_n", p->n);
            cJSON_AddNumberToObject(r[i].fields, "problem_passed", p->c);
            if (evalplus) cJSON_AddNumberToObject(r[i].fields, "problem_base_passed", p->c_base);
        }
    }
    free(pc);
    free(idx);
    return ret;
}

static int check_samples(const sample_view *s, size_t n, bool evalplus, err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (!s[i].it || !s[i].it->data)
            return err_set(e, ERR_INVALID, "humaneval: sample %zu has no item", i);
        const he_problem *p = s[i].it->data;
        if ((p->family == HE_HUMANEVAL) == evalplus)
            return err_set(e, ERR_INVALID, "%s: item of another task family", p->task_id);
    }
    return 0;
}

static double floor_s(const task_options *o, double dflt)
{
    return o && o->exec_timeout_s > 0 ? o->exec_timeout_s : dflt;
}

/* ------------------------------------------------------------------ HumanEval */

static char *program_payload(arena *a, double cpu, const char *program)
{
    return arena_printf(a, "program %.3f %.3f\n%s", cpu, cpu * WALL_FACTOR, program);
}

static void job_program(sandbox_job *j, const char *payload, double cpu)
{
    *j = (sandbox_job)SANDBOX_JOB_INIT;
    j->payload = payload;
    j->payload_len = strlen(payload);
    j->cpu_s = cpu;
    j->wall_s = cpu * WALL_FACTOR;
    j->startup_s = 30;
}

int humaneval_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e)
{
    if (!c || !c->a || (n && (!s || !out)))
        return err_set(e, ERR_INVALID, "humaneval_score: bad arguments");
    int ret = check_samples(s, n, false, e);
    if (ret < 0) return ret;
    const task_options *o = c->o;
    arena *a = c->a;
    double floor = floor_s(o, HE_FLOOR_S);
    bool chat = o && o->chat;
    sandbox *sb = NULL;
    sandbox_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    sandbox_result *res = calloc(n ? n : 1, sizeof *res);
    size_t *job_of = calloc(n ? n : 1, sizeof *job_of); /* sample -> job + 1 */
    size_t *sample_of = calloc(n ? n : 1, sizeof *sample_of);
    double *budget = calloc(n ? n : 1, sizeof *budget);
    const char **completion = calloc(n ? n : 1, sizeof *completion);
    size_t nj = 0;
    if (!jobs || !res || !job_of || !sample_of || !budget || !completion) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (score_record){0};
        int gf = score_generation_failure(&s[i]);
        if (gf >= 0) {
            out[i].outcome = gf;
            out[i].reason = s[i].error ? arena_strdup(a, s[i].error) : "generation failed";
            continue;
        }
        const he_problem *p = s[i].it->data;
        const char *raw = s[i].completion ? s[i].completion : "";
        completion[i] = chat ? humaneval_extract_chat(a, raw)
                             : humaneval_truncate(a, raw, humaneval_stops_codex);
        const char *program =
            completion[i] ? humaneval_program(a, p->prompt, completion[i], p->test, p->entry_point)
                          : NULL;
        const char *payload = program ? program_payload(a, floor, program) : NULL;
        if (!payload) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        job_program(&jobs[nj], payload, floor);
        budget[i] = floor;
        job_of[i] = nj + 1;
        sample_of[nj++] = i;
    }
    if (nj) {
        if ((ret = humaneval_sandbox_open(o, &sb, c->info, e)) < 0) goto out;
        int workers = o && o->jobs > 0 ? o->jobs : 0;
        if ((ret = run_jobs(sb, jobs, nj, workers, res, e)) < 0) goto out;

        /* Samples that ran out of time get a second run when the canonical
         * solution needs more than the floor on this host. */
        strmap canon = STRMAP_INIT; /* task_id -> budget (ms) + 1 */
        for (size_t j = 0; j < nj && ret == 0; j++) {
            const char *v = frame_text(&res[j], "result");
            bool slow =
                (v && strcmp(v, "timed out") == 0) ||
                (!v && (res[j].kill == SANDBOX_KILL_WALL || res[j].kill == SANDBOX_KILL_CPU));
            if (!slow) continue;
            const he_problem *p = s[sample_of[j]].it->data;
            size_t ms;
            if (!strmap_get(&canon, p->task_id, strlen(p->task_id), &ms)) {
                double big = 120;
                char *prog = humaneval_program(a, p->prompt, p->canonical, p->test, p->entry_point);
                char *pl = prog ? program_payload(a, big, prog) : NULL;
                if (!pl) {
                    ret = err_set(e, ERR_NOMEM, "out of memory");
                    break;
                }
                sandbox_job cj;
                job_program(&cj, pl, big);
                sandbox_result cr = SANDBOX_RESULT_INIT;
                ret = run_jobs(sb, &cj, 1, 1, &cr, e);
                double t = 0;
                const char *cpu = frame_text(&cr, "cpu");
                if (ret == 0 && cpu) t = strtod(cpu, NULL);
                sandbox_result_release(&cr);
                double b = fmax(floor, CANON_FACTOR * t);
                ms = (size_t)ceil(b * 1000.0) + 1;
                if (ret == 0 && strmap_put(&canon, p->task_id, strlen(p->task_id), ms) < 0)
                    ret = err_set(e, ERR_NOMEM, "out of memory");
            }
            double b = (double)(ms - 1) / 1000.0;
            if (ret == 0 && b > budget[sample_of[j]] + 1e-9) {
                size_t i = sample_of[j];
                const char *program =
                    humaneval_program(a, p->prompt, completion[i], p->test, p->entry_point);
                const char *pl = program ? program_payload(a, b, program) : NULL;
                if (!pl) {
                    ret = err_set(e, ERR_NOMEM, "out of memory");
                    break;
                }
                job_program(&jobs[j], pl, b);
                budget[i] = b;
                sandbox_result_release(&res[j]);
                ret = run_jobs(sb, &jobs[j], 1, 1, &res[j], e);
            }
        }
        strmap_release(&canon);
        if (ret < 0) goto out;
    }

    for (size_t i = 0; i < n; i++) {
        if (!job_of[i]) continue;
        const sandbox_result *r = &res[job_of[i] - 1];
        const char *result, *reason;
        int oc =
            classify(r, frame_text(r, "result"), frame_text(r, "exc"), true, a, &result, &reason);
        if (oc != OUTCOME_CORRECT && all_blank(completion[i])) {
            oc = OUTCOME_NO_ANSWER;
            reason = "empty completion";
        } else if (oc != OUTCOME_CORRECT && s[i].finish_reason &&
                   strcmp(s[i].finish_reason, "length") == 0) {
            oc = OUTCOME_TRUNCATED;
            reason = arena_printf(a, "hit the token cap; %s", reason ? reason : result);
        }
        out[i].outcome = oc;
        out[i].score = oc == OUTCOME_CORRECT ? 1.0 : 0.0;
        out[i].reason = reason;
        cJSON *f = cJSON_CreateObject();
        if (!f) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        cJSON_AddStringToObject(f, "result", result);
        cJSON_AddNumberToObject(f, "cpu_budget_s", budget[i]);
        add_run_fields(f, r);
        flag_suspect(f, oc, s[i].completion);
        out[i].fields = f;
    }
    ret = add_problem_counts(s, out, n, false, e);
out:
    for (size_t j = 0; j < nj; j++) sandbox_result_release(&res[j]);
    free(jobs);
    free(res);
    free(job_of);
    free(sample_of);
    free(budget);
    free(completion);
    sandbox_close(sb);
    if (ret < 0)
        for (size_t i = 0; i < n; i++) score_record_release(&out[i]);
    return ret;
}

/* pass@k for every k in ks that all problems allow, from (n, c) pairs. */
static int put_pass_at_k(cJSON *metrics, const char *prefix, const prob_count *pc, size_t np,
                         bool base, err *e)
{
    static const int ks[] = {1, 10, 100};
    int min_n = np ? pc[0].n : 0;
    for (size_t i = 0; i < np; i++)
        if (pc[i].n < min_n) min_n = pc[i].n;
    double *x = malloc((np ? np : 1) * sizeof *x);
    if (!x) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t t = 0; t < ARRAY_LEN(ks); t++) {
        int k = ks[t];
        if (np == 0 ? k != 1 : min_n < k) continue;
        for (size_t i = 0; i < np; i++)
            x[i] = humaneval_pass_at_k(pc[i].n, base ? pc[i].c_base : pc[i].c, k);
        char name[48];
        snprintf(name, sizeof name, "%spass@%d", prefix, k);
        /* per-problem values all 0 or 1 (one sample each): a proportion, with Wilson's
         * interval, which is not degenerate at 0% and 100% */
        size_t ones = 0;
        bool binary = true;
        for (size_t i = 0; i < np && binary; i++) {
            if (x[i] == 1) ones++;
            else if (x[i] != 0) binary = false;
        }
        metric_value v = binary ? metric_proportion(ones, np) : metric_mean(x, np);
        if (metric_put(metrics, name, v) < 0) {
            free(x);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    free(x);
    return 0;
}

int humaneval_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                        cJSON *metrics, err *e)
{
    prob_count *pc = NULL;
    size_t np = 0;
    int ret = count_problems(s, r, n, false, &pc, &np, NULL, e);
    if (ret < 0) return ret;
    ret = put_pass_at_k(metrics, "", pc, np, false, e);
    free(pc);
    return ret;
}

/* ------------------------------------------------------------------ EvalPlus expected outputs */

/* The ground truth of one problem: the runner's "data" document, kept as
 * text (it goes back into candidates' payloads verbatim), and its CPU times. */
typedef struct ep_truth {
    const item *it;
    char *data; /* JSON {"base": [...], "plus": [...], "base_time": [...], "plus_time": [...]} */
    double *base_time, *plus_time;
    char *header;   /* the shared part of candidates' payloads */
    double job_cpu; /* RLIMIT budget of a candidate run */
} ep_truth;

static void truth_release(ep_truth *t)
{
    free(t->data);
    free(t->base_time);
    free(t->plus_time);
    free(t->header);
    memset(t, 0, sizeof *t);
}

static int read_times(const cJSON *doc, const char *key, size_t want, double **out)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != want) return ERR_PARSE;
    *out = calloc(want ? want : 1, sizeof **out);
    if (!*out) return ERR_NOMEM;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e6) return ERR_PARSE;
        (*out)[i++] = v->valuedouble;
    }
    return 0;
}

static bool entries_ok(const cJSON *doc, const char *key, size_t want)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != want) return false;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2) return false;
        const cJSON *k = cJSON_GetArrayItem(v, 0), *x = cJSON_GetArrayItem(v, 1);
        if (!cJSON_IsString(k) || !cJSON_IsString(x) || strlen(k->valuestring) != 1 ||
            !strchr("mphxe", k->valuestring[0]))
            return false;
    }
    return true;
}

/* Accepts `data` (malloc'd, consumed) as the truth of `t` after checking it
 * against the problem; false when it does not fit. */
static bool truth_set(ep_truth *t, char *data)
{
    const he_problem *p = t->it->data;
    cJSON *doc = cJSON_Parse(data);
    bool ok = doc && entries_ok(doc, "base", p->n_base) && entries_ok(doc, "plus", p->n_plus) &&
              read_times(doc, "base_time", p->n_base, &t->base_time) == 0 &&
              read_times(doc, "plus_time", p->n_plus, &t->plus_time) == 0;
    cJSON_Delete(doc);
    if (!ok) {
        free(t->base_time);
        free(t->plus_time);
        t->base_time = t->plus_time = NULL;
        free(data);
        return false;
    }
    t->data = data;
    return true;
}

static const char *dataset_word(const he_problem *p)
{
    return p->family == HE_EVALPLUS_MBPP ? "mbpp" : "humaneval";
}

/* Common JSON members of the runner payloads: entry point, dataset, inputs. */
static int payload_common(buf *b, const he_problem *p)
{
    int r = buf_puts(b, "{\"entry_point\":");
    if (!r) r = json_append_str(b, p->entry_point, strlen(p->entry_point));
    if (!r) r = buf_printf(b, ",\"dataset\":\"%s\",\"task_id\":", dataset_word(p));
    if (!r) r = json_append_str(b, p->task_id, strlen(p->task_id));
    if (!r) r = buf_puts(b, ",\"atol\":");
    if (!r) r = json_append_double(b, p->atol);
    if (!r) r = buf_puts(b, ",\"base_input\":");
    if (!r) r = buf_puts(b, p->base_input);
    if (!r) r = buf_puts(b, ",\"plus_input\":");
    if (!r) r = buf_puts(b, p->plus_input);
    return r;
}

static char *cache_path(const task_options *o, const he_problem *p, const sandbox *sb, arena *a)
{
    if (!o || !o->cache_dir || !*o->cache_dir) return NULL;
    char rsha[HASH_HEX_SIZE];
    if (sha256_hex(sandbox_runner_py, sandbox_runner_py_len, rsha) < 0) return NULL;
    return arena_printf(a, "%s/evalplus/%.16s-%.12s-py%s.tsv", o->cache_dir,
                        p->dataset_sha256 ? p->dataset_sha256 : "unknown", rsha,
                        sandbox_python_version(sb));
}

/* Reads "<task_id>\t<data>" lines of a cache file into `known`. */
static void cache_read(const char *path, strmap *known, char ***lines, size_t *n_lines)
{
    buf b = BUF_INIT;
    buf_init(&b, 1u << 30);
    if (!path || file_read_all(path, &b, NULL) < 0) {
        buf_release(&b);
        return;
    }
    line_iter it = line_iter_start(b.data, b.len);
    const char *l;
    size_t len;
    while (line_iter_next(&it, &l, &len)) {
        if (it.last_unterminated) break; /* torn */
        const char *tab = memchr(l, '\t', len);
        if (!tab || tab == l) continue;
        char **nl = realloc(*lines, (*n_lines + 1) * sizeof *nl);
        if (!nl) break;
        *lines = nl;
        char *copy = strndup(l, len);
        if (!copy) break;
        if (strmap_put(known, copy, (size_t)(tab - l), *n_lines) < 0) {
            free(copy);
            break;
        }
        (*lines)[(*n_lines)++] = copy;
    }
    buf_release(&b);
}

/* Fills truths[0..n) from the cache, generating (in the sandbox) what is
 * missing, and rewrites the cache when something was added. */
static int truths_get(sandbox *sb, const task_options *o, arena *a, ep_truth *truths, size_t n,
                      int workers, err *e)
{
    int ret = 0;
    strmap known = STRMAP_INIT;
    char **lines = NULL;
    size_t n_lines = 0;
    const char *path = n ? cache_path(o, truths[0].it->data, sb, a) : NULL;
    cache_read(path, &known, &lines, &n_lines);
    size_t *missing = calloc(n ? n : 1, sizeof *missing), n_missing = 0;
    sandbox_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    sandbox_result *res = calloc(n ? n : 1, sizeof *res);
    buf *payloads = calloc(n ? n : 1, sizeof *payloads);
    if (!missing || !jobs || !res || !payloads) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const he_problem *p = truths[i].it->data;
        size_t k;
        if (strmap_get(&known, p->task_id, strlen(p->task_id), &k)) {
            const char *tab = strchr(lines[k], '\t');
            char *d = strdup(tab + 1);
            if (!d) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            if (truth_set(&truths[i], d)) continue;
        }
        missing[n_missing++] = i;
    }
    for (size_t m = 0; m < n_missing; m++) {
        const he_problem *p = truths[missing[m]].it->data;
        buf *b = &payloads[m];
        *b = (buf)BUF_INIT;
        int r = buf_puts(b, "expected\n");
        if (!r) r = payload_common(b, p);
        if (!r) r = buf_puts(b, ",\"program\":");
        char *prog = arena_printf(a, "%s%s", p->prompt, p->canonical);
        if (!r) r = prog ? json_append_str(b, prog, strlen(prog)) : ERR_NOMEM;
        if (!r) r = buf_puts(b, "}");
        if (r < 0) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        jobs[m] = (sandbox_job)SANDBOX_JOB_INIT;
        jobs[m].payload = b->data;
        jobs[m].payload_len = b->len;
        jobs[m].cpu_s = 600;
        jobs[m].wall_s = 1200;
        jobs[m].startup_s = 120;
        jobs[m].result_cap = 512u << 20;
    }
    if (n_missing) {
        if ((ret = run_jobs(sb, jobs, n_missing, workers, res, e)) < 0) goto out;
        for (size_t m = 0; m < n_missing; m++) {
            ep_truth *t = &truths[missing[m]];
            const he_problem *p = t->it->data;
            const sandbox_frame *f = sandbox_result_frame(&res[m], "data");
            char *d = f ? strndup(f->data, f->len) : NULL;
            if (!f || !d || !truth_set(t, d)) {
                const char *why = frame_text(&res[m], "error");
                ret =
                    err_set(e, ERR_SANDBOX,
                            "%s: the canonical solution gave no expected outputs (%s)", p->task_id,
                            why           ? why
                            : res[m].kill ? sandbox_kill_name(res[m].kill)
                                          : "no answer");
                goto out;
            }
        }
        if (path) {
            /* Keep what was there, add the new ones, replace atomically. */
            buf all = BUF_INIT;
            int r = 0;
            for (size_t k = 0; k < n_lines && !r; k++) {
                r = buf_puts(&all, lines[k]);
                if (!r) r = buf_putc(&all, '\n');
            }
            for (size_t m = 0; m < n_missing && !r; m++) {
                const ep_truth *t = &truths[missing[m]];
                r = buf_printf(&all, "%s\t%s\n", ((const he_problem *)t->it->data)->task_id,
                               t->data);
            }
            err we = ERR_INIT;
            char *dir = arena_printf(a, "%s/evalplus", o->cache_dir);
            if (!r && dir && dir_create(dir, &we) == 0)
                file_write_atomic(path, all.data, all.len, &we);
            /* A cache that cannot be written only costs time next run. */
            buf_release(&all);
        }
    }
out:
    for (size_t m = 0; m < n_missing && res; m++) sandbox_result_release(&res[m]);
    for (size_t m = 0; payloads && m < n_missing; m++) buf_release(&payloads[m]);
    free(payloads);
    free(res);
    free(jobs);
    free(missing);
    for (size_t k = 0; k < n_lines; k++) free(lines[k]);
    free(lines);
    strmap_release(&known);
    return ret;
}

/* The part of a candidate's payload that all its samples share. */
static int truth_header(ep_truth *t, double floor)
{
    const he_problem *p = t->it->data;
    buf b = BUF_INIT;
    int r = buf_puts(&b, "evalplus\n");
    if (!r) r = payload_common(&b, p);
    if (!r) r = buf_puts(&b, ",\"expected\":");
    if (!r) r = buf_puts(&b, t->data);
    double sum[2] = {0, 0};
    for (int g = 0; g < 2 && !r; g++) {
        const double *tm = g == 0 ? t->base_time : t->plus_time;
        size_t cnt = g == 0 ? p->n_base : p->n_plus;
        r = buf_puts(&b, g == 0 ? ",\"limits\":{\"base\":[" : "],\"plus\":[");
        for (size_t i = 0; i < cnt && !r; i++) {
            /* EvalPlus: max(floor, factor x the canonical's time), per input. */
            double lim = fmax(floor, CANON_FACTOR * tm[i]);
            sum[g] += lim;
            r = buf_printf(&b, "%s%.3f", i ? "," : "", lim);
        }
    }
    if (!r)
        r = buf_printf(&b, "]},\"exec_cpu\":%.3f,\"wall_factor\":%.1f,\"sanitize\":", floor,
                       WALL_FACTOR);
    if (r < 0) {
        buf_release(&b);
        return ERR_NOMEM;
    }
    /* A check ends after min(60, the sum of its limits) (EvalPlus), plus
     * room for the sanitizer and the solution's own start. */
    t->job_cpu = 4 * floor + 30 + fmin(60, sum[0]) + fmin(60, sum[1]);
    t->header = buf_detach(&b, NULL);
    return t->header ? 0 : ERR_NOMEM;
}

static const char *status_word(const char *v)
{
    if (!v) return "fail";
    if (strcmp(v, "passed") == 0) return "pass";
    if (strcmp(v, "timed out") == 0) return "timeout";
    return "fail";
}

int evalplus_score(const score_ctx *c, const sample_view *s, size_t n, score_record *out, err *e)
{
    if (!c || !c->a || (n && (!s || !out)))
        return err_set(e, ERR_INVALID, "evalplus_score: bad arguments");
    int ret = check_samples(s, n, true, e);
    if (ret < 0) return ret;
    const task_options *o = c->o;
    arena *a = c->a;
    double floor = floor_s(o, EP_FLOOR_S);
    bool chat = o && o->chat;
    int workers = o && o->jobs > 0 ? o->jobs : 0;
    sandbox *sb = NULL;
    strmap probs = STRMAP_INIT;
    ep_truth *truths = calloc(n ? n : 1, sizeof *truths);
    size_t nt = 0;
    sandbox_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    sandbox_result *res = calloc(n ? n : 1, sizeof *res);
    size_t *job_of = calloc(n ? n : 1, sizeof *job_of);
    size_t *truth_of = calloc(n ? n : 1, sizeof *truth_of);
    bool *blank = calloc(n ? n : 1, sizeof *blank);
    size_t nj = 0;
    if (!truths || !jobs || !res || !job_of || !truth_of || !blank) {
        ret = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Which problems need expected outputs. */
    for (size_t i = 0; i < n; i++) {
        out[i] = (score_record){0};
        int gf = score_generation_failure(&s[i]);
        if (gf >= 0) {
            out[i].outcome = gf;
            out[i].reason = s[i].error ? arena_strdup(a, s[i].error) : "generation failed";
            continue;
        }
        const char *id = s[i].it->id;
        size_t k;
        if (!strmap_get(&probs, id, strlen(id), &k)) {
            k = nt++;
            truths[k].it = s[i].it;
            if (strmap_put(&probs, id, strlen(id), k) < 0) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        truth_of[i] = k;
    }
    if (nt) {
        if ((ret = humaneval_sandbox_open(o, &sb, c->info, e)) < 0) goto out;
        if ((ret = truths_get(sb, o, a, truths, nt, workers, e)) < 0) goto out;
        for (size_t k = 0; k < nt; k++)
            if (truth_header(&truths[k], floor) < 0) {
                ret = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
    }
    for (size_t i = 0; i < n; i++) {
        if (score_generation_failure(&s[i]) >= 0) continue;
        const ep_truth *t = &truths[truth_of[i]];
        const he_problem *p = t->it->data;
        const char *raw = s[i].completion ? s[i].completion : "";
        const char *solution;
        if (chat) {
            solution = raw;
            blank[i] = all_blank(raw);
        } else {
            const char *cut = humaneval_truncate(
                a, raw,
                p->family == HE_EVALPLUS_HE ? evalplus_stops_base_he : evalplus_stops_base_mbpp);
            char *head = humaneval_py_strip(a, p->prompt);
            solution = cut && head ? arena_printf(a, "%s\n%s", head, cut) : NULL;
            blank[i] = cut && all_blank(cut);
        }
        buf tail = BUF_INIT;
        int r = solution ? json_append_str(&tail, solution, strlen(solution)) : ERR_NOMEM;
        if (!r) r = buf_puts(&tail, "}");
        char *tl = r ? NULL : arena_memdup(a, tail.data, tail.len);
        size_t tlen = tail.len;
        buf_release(&tail);
        if (!tl) {
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        sandbox_job *j = &jobs[nj];
        *j = (sandbox_job)SANDBOX_JOB_INIT;
        j->payload = t->header;
        j->payload_len = strlen(t->header);
        j->payload2 = tl;
        j->payload2_len = tlen;
        j->cpu_s = t->job_cpu;
        j->wall_s = t->job_cpu * WALL_FACTOR;
        j->startup_s = 120;
        j->result_cap = 8u << 20;
        job_of[i] = ++nj;
    }
    if (nj && (ret = run_jobs(sb, jobs, nj, workers, res, e)) < 0) goto out;

    for (size_t i = 0; i < n; i++) {
        if (!job_of[i]) continue;
        const sandbox_result *r = &res[job_of[i] - 1];
        const char *base = frame_text(r, "base"), *plus = frame_text(r, "plus");
        const char *bresult, *breason, *presult, *preason;
        int boc = classify(r, base, frame_text(r, "base_exc"), false, a, &bresult, &breason);
        int poc;
        if (boc == OUTCOME_CORRECT) {
            poc = classify(r, plus, frame_text(r, "plus_exc"), false, a, &presult, &preason);
        } else {
            poc = boc;
            presult = "not run: base failed";
            preason = breason;
        }
        int oc = poc;
        const char *reason = poc == OUTCOME_CORRECT ? NULL
                             : boc != OUTCOME_CORRECT
                                 ? arena_printf(a, "base: %s", breason ? breason : bresult)
                                 : arena_printf(a, "plus: %s", preason ? preason : presult);
        if (oc != OUTCOME_CORRECT && blank[i]) {
            oc = OUTCOME_NO_ANSWER;
            reason = "no code in the completion";
        } else if (oc != OUTCOME_CORRECT && s[i].finish_reason &&
                   strcmp(s[i].finish_reason, "length") == 0) {
            oc = OUTCOME_TRUNCATED;
            reason = arena_printf(a, "hit the token cap; %s", reason ? reason : "");
        }
        out[i].outcome = oc;
        out[i].score = oc == OUTCOME_CORRECT ? 1.0 : 0.0;
        out[i].reason = reason;
        cJSON *f = cJSON_CreateObject();
        cJSON *m = f ? cJSON_AddObjectToObject(f, "metrics") : NULL;
        if (!m) {
            cJSON_Delete(f);
            ret = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        cJSON_AddStringToObject(m, "plus_pass@1", outcome_name(oc));
        cJSON_AddStringToObject(m, "base_pass@1",
                                boc == OUTCOME_CORRECT ? "correct" : outcome_name(oc));
        cJSON_AddStringToObject(f, "base", status_word(base));
        cJSON_AddStringToObject(f, "plus", boc == OUTCOME_CORRECT ? status_word(plus) : "fail");
        cJSON_AddStringToObject(f, "base_result", bresult);
        cJSON_AddStringToObject(f, "plus_result", presult);
        cJSON_AddStringToObject(f, "result",
                                poc == OUTCOME_CORRECT   ? "passed"
                                : boc != OUTCOME_CORRECT ? bresult
                                                         : presult);
        add_run_fields(f, r);
        flag_suspect(f, oc, s[i].completion);
        out[i].fields = f;
    }
    ret = add_problem_counts(s, out, n, true, e);
out:
    for (size_t j = 0; j < nj; j++) sandbox_result_release(&res[j]);
    for (size_t k = 0; k < nt; k++) truth_release(&truths[k]);
    free(truths);
    free(jobs);
    free(res);
    free(job_of);
    free(truth_of);
    free(blank);
    strmap_release(&probs);
    sandbox_close(sb);
    if (ret < 0)
        for (size_t i = 0; i < n; i++) score_record_release(&out[i]);
    return ret;
}

int evalplus_aggregate(const score_ctx *c, const sample_view *s, const score_record *r, size_t n,
                       cJSON *metrics, err *e)
{
    prob_count *pc = NULL;
    size_t np = 0;
    int ret = count_problems(s, r, n, true, &pc, &np, NULL, e);
    if (ret < 0) return ret;
    ret = put_pass_at_k(metrics, "plus_", pc, np, false, e);
    if (ret == 0) ret = put_pass_at_k(metrics, "base_", pc, np, true, e);
    free(pc);
    return ret;
}

int evalplus_sanitize(sandbox *sb, const char *code, const char *entry_point, arena *a,
                      const char **out, err *e)
{
    *out = NULL;
    buf b = BUF_INIT;
    int r = buf_puts(&b, "sanitize\n{\"code\":");
    if (!r) r = json_append_str(&b, code, strlen(code));
    if (!r && entry_point) {
        r = buf_puts(&b, ",\"entry_point\":");
        if (!r) r = json_append_str(&b, entry_point, strlen(entry_point));
    }
    if (!r) r = buf_puts(&b, "}");
    if (r < 0) {
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    sandbox_job j = SANDBOX_JOB_INIT;
    j.payload = b.data;
    j.payload_len = b.len;
    j.cpu_s = 60;
    j.wall_s = 120;
    j.result_cap = 16u << 20;
    sandbox_result res = SANDBOX_RESULT_INIT;
    r = run_jobs(sb, &j, 1, 1, &res, e);
    buf_release(&b);
    if (r < 0) return r;
    const sandbox_frame *f = sandbox_result_frame(&res, "sanitized");
    if (!f) {
        const char *why = frame_text(&res, "error");
        r = err_set(e, ERR_SANDBOX, "sanitize: no answer (%s)",
                    why        ? why
                    : res.kill ? sandbox_kill_name(res.kill)
                               : "the runner died");
    } else {
        *out = arena_memdup(a, f->data, f->len);
        if (!*out) r = err_set(e, ERR_NOMEM, "out of memory");
    }
    sandbox_result_release(&res);
    return r;
}
