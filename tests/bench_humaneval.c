/* bench_humaneval.c: what the sandbox costs (a benchmark, not a test).
 *
 * Prints, per round and as medians over the rounds (the machine may be
 * shared, so the figures are interleaved and repeated):
 *   - a bare `python3 -c pass` start (sequential, fork + exec + wait);
 *   - a sandboxed trivial program (sequential), and the difference;
 *   - the 164 HumanEval canonical solutions scored with --jobs 2, fully
 *     sandboxed (sandbox probe included);
 *   - the same 164 programs through tests/bench_humaneval_reference.py, a stand-in
 *     for human-eval's unsandboxed evaluator (2 workers, 3 s timeout);
 *   - once, 164 x 10 samples with --jobs 2: wall time and samples/s.
 * Environment: TALLY_DATA, TALLY_SRC (set by meson), BENCH_ROUNDS (3),
 * BENCH_PYTHON (/usr/bin/python3), BENCH_NO_FORK_SERVER=1 (a fresh
 * interpreter per sample instead of the fork server).
 */
#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "datasets/humaneval.h"
#include "scorers/humaneval.h"
#include "scorers/sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *python(void)
{
    const char *p = getenv("BENCH_PYTHON");
    return p ? p : "/usr/bin/python3";
}

static double bare_ms(int n)
{
    double t0 = time_now_s();
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            execl(python(), "python3", "-c", "pass", (char *)NULL);
            _exit(127);
        }
        waitpid(p, NULL, 0);
    }
    return (time_now_s() - t0) * 1000.0 / n;
}

static double sandboxed_ms(sandbox *sb, int n)
{
    static const char payload[] = "program 3 6\npass";
    sandbox_job *jobs = calloc((size_t)n, sizeof *jobs);
    sandbox_result *res = calloc((size_t)n, sizeof *res);
    for (int i = 0; i < n; i++) {
        jobs[i] = (sandbox_job)SANDBOX_JOB_INIT;
        jobs[i].payload = payload;
        jobs[i].payload_len = sizeof payload - 1;
        jobs[i].cpu_s = 3;
        jobs[i].wall_s = 6;
    }
    err e = ERR_INIT;
    double t0 = time_now_s();
    if (sandbox_run_many(sb, jobs, (size_t)n, 1, res, &e) < 0) fprintf(stderr, "%s\n", e.msg);
    double ms = (time_now_s() - t0) * 1000.0 / n;
    for (int i = 0; i < n; i++) {
        if (!sandbox_result_frame(&res[i], "result"))
            fprintf(stderr, "sandboxed job gave no verdict\n");
        sandbox_result_release(&res[i]);
    }
    free(jobs);
    free(res);
    return ms;
}

/* Scores `reps` copies of the canonical solutions; returns seconds. */
static double score_canonical(const item_set *set, int reps, int *passed)
{
    arena a = ARENA_INIT;
    task_options o;
    task_options_default(&o);
    o.jobs = 2;
    if (getenv("BENCH_NO_FORK_SERVER")) o.sandbox_mode = "no-fork-server";
    size_t n = set->n * (size_t)reps;
    sample_view *s = calloc(n, sizeof *s);
    score_record *r = calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const he_problem *p = set->items[i % set->n].data;
        s[i] = (sample_view){.it = &set->items[i % set->n],
                             .sample = (int)(i / set->n),
                             .completion = p->canonical,
                             .finish_reason = "stop"};
    }
    score_ctx ctx = {&o, "humaneval", &a, NULL};
    err e = ERR_INIT;
    double t0 = time_now_s();
    if (humaneval_score(&ctx, s, n, r, &e) < 0) fprintf(stderr, "score: %s\n", e.msg);
    double dt = time_now_s() - t0;
    *passed = 0;
    for (size_t i = 0; i < n; i++) {
        *passed += r[i].outcome == OUTCOME_CORRECT;
        score_record_release(&r[i]);
    }
    free(s);
    free(r);
    arena_release(&a);
    return dt;
}

/* The reference-like executor on the same programs; seconds, or -1. */
static double reference_s(const item_set *set, int *passed)
{
    const char *src = getenv("TALLY_SRC");
    if (!src) return -1;
    arena a = ARENA_INIT;
    buf b = BUF_INIT;
    buf_putc(&b, '[');
    for (size_t i = 0; i < set->n; i++) {
        const he_problem *p = set->items[i].data;
        char *prog = humaneval_program(&a, p->prompt, p->canonical, p->test, p->entry_point);
        if (i) buf_putc(&b, ',');
        json_append_str(&b, prog, strlen(prog));
    }
    buf_putc(&b, ']');
    char in[] = "/tmp/tally-bench-XXXXXX";
    int fd = mkstemp(in);
    ssize_t w = write(fd, b.data, b.len);
    close(fd);
    (void)w;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s/tests/bench_humaneval_reference.py 2 3.0 < %s", python(), src,
             in);
    FILE *f = popen(cmd, "r");
    double dt = -1;
    int total = 0;
    if (f) {
        if (fscanf(f, "%lf %d %d", &dt, passed, &total) != 3) dt = -1;
        pclose(f);
    }
    unlink(in);
    buf_release(&b);
    arena_release(&a);
    return dt;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
    int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 3;
    if (rounds < 1 || rounds > 50) rounds = 3;
    arena a = ARENA_INIT;
    task_options o;
    task_options_default(&o);
    o.data_dir = getenv("TALLY_DATA") ? getenv("TALLY_DATA") : "../shared/datasets";
    item_set set;
    err e = ERR_INIT;
    if (humaneval_load(&o, "humaneval", &a, &set, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    sandbox_settings st;
    sandbox_settings_default(&st);
    st.python = python();
    st.no_fork_server = getenv("BENCH_NO_FORK_SERVER") != NULL;
    sandbox *sb = NULL;
    if (sandbox_open(&sb, &st, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("sandbox %s%s, python %s, %d cores, %d rounds\n", sandbox_level(sb),
           sandbox_fork_server(sb) ? " (fork server)" : " (fresh interpreter per sample)",
           sandbox_python_version(sb), sandbox_cpu_count(), rounds);
    double bare[50], boxed[50], over[50], canon[50], ref[50];
    for (int r = 0; r < rounds; r++) {
        int pc = 0, pr = 0;
        bare[r] = bare_ms(40);
        boxed[r] = sandboxed_ms(sb, 40);
        over[r] = boxed[r] - bare[r];
        canon[r] = score_canonical(&set, 1, &pc);
        ref[r] = reference_s(&set, &pr);
        printf("round %d: bare python3 -c pass %.1f ms, sandboxed %.1f ms (overhead %+.1f ms); "
               "164 canonical --jobs 2: %.2f s (%d passed); reference-like executor: %.2f s (%d "
               "passed)\n",
               r + 1, bare[r], boxed[r], over[r], canon[r], pc, ref[r], pr);
        fflush(stdout);
    }
    int p10 = 0;
    double t10 = score_canonical(&set, 10, &p10);
    printf("median: bare %.1f ms, sandboxed %.1f ms, overhead %+.1f ms per sample; "
           "164 canonical %.2f s (%.0f samples/s) vs reference-like %.2f s\n",
           median(bare, rounds), median(boxed, rounds), median(over, rounds), median(canon, rounds),
           164 / median(canon, rounds), median(ref, rounds));
    printf("164 x 10 samples --jobs 2: %.2f s, %.0f samples/s (%d passed)\n", t10, 1640 / t10, p10);
    sandbox_close(sb);
    arena_release(&a);
    return 0;
}
