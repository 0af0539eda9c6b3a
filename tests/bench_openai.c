/* bench_openai.c: the openai runner's own cost, against the fake server answering at once.
 *
 * Prints requests/s at concurrency 1, 8 and 64 and the client's CPU time
 * per request (getrusage of this process: the runner, libcurl, the JSON
 * work; the server is a separate process), three runs each. The server
 * shares the machine's cores with the client, so requests/s is a floor for
 * the client alone. Run with `meson test -C build --benchmark openai` or
 * directly (TALLY_FAKE_OPENAI must name the server binary).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/arena.h"
#include "common/util.h"
#include "fake_server.h"
#include "runners/runner.h"

static int count_done(void *ctx, size_t index, const gen_request *req, const gen_response *r)
{
    size_t *n = ctx;
    if (!r->error) (*n)++;
    (void)index;
    (void)req;
    return 0;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    if (runs < 1) runs = 1;
    fake_server f;
    if (fake_server_start_log(&f, NULL, false) < 0) return 1;
    arena a = ARENA_INIT;
    const size_t n = 4000;
    gen_request *q = arena_calloc(&a, n, sizeof *q);
    for (size_t i = 0; i < n; i++) {
        chat_message *m = arena_calloc(&a, 1, sizeof *m);
        m->role = "user";
        m->content = arena_printf(&a, "Question %zu: what is %zu + %zu?", i, i, i);
        prompt *p = arena_calloc(&a, 1, sizeof *p);
        p->messages = m;
        p->n_messages = 1;
        q[i].item_id = arena_printf(&a, "%zu", i);
        q[i].p = p;
        q[i].max_tokens = 16;
        q[i].sampling.top_p = 1;
        q[i].sampling.seed = i;
    }
    /* the same questions behind an 8 KiB few-shot preamble, like a GSM8K prompt */
    gen_request *big = arena_calloc(&a, n, sizeof *big);
    char *pre = arena_alloc(&a, 8193);
    for (size_t k = 0; k < 8192; k++) pre[k] = "Question: how many apples? Answer: 4.\n"[k % 38];
    for (size_t i = 0; i < n; i++) {
        chat_message *m = arena_calloc(&a, 1, sizeof *m);
        m->role = "user";
        m->content = arena_printf(&a, "%s%s", pre, q[i].p->messages[0].content);
        prompt *p = arena_calloc(&a, 1, sizeof *p);
        p->messages = m;
        p->n_messages = 1;
        big[i] = q[i];
        big[i].p = p;
    }
    const int levels[] = {1, 8, 64, -64}; /* -64: concurrency 64 with the 8 KiB prompts */
    int ret = 0;
    printf("openai runner against the loopback fake server (instant answers; server on the same "
           "cores)\n");
    for (size_t li = 0; li < sizeof levels / sizeof *levels; li++) {
        int conc = levels[li] < 0 ? -levels[li] : levels[li];
        const gen_request *reqs = levels[li] < 0 ? big : q;
        const char *what = levels[li] < 0 ? " (8 KiB prompts)" : "";
        size_t count = conc == 1 ? 1000 : n;
        runner_settings s;
        runner_settings_default(&s);
        s.base_url = f.base_url;
        s.model = "fake";
        s.concurrency = conc;
        runner *r = NULL;
        err e = ERR_INIT;
        if (runner_open(&r, "openai", &s, &e) < 0) {
            fprintf(stderr, "bench_openai: %s\n", e.msg);
            ret = 1;
            break;
        }
        /* one warm-up batch opens the connections */
        size_t ok = 0;
        runner_generate(r, reqs, (size_t)conc * 4, count_done, &ok, &e);
        double rps[16], cpu[16];
        for (int k = 0; k < runs && k < 16; k++) {
            ok = 0;
            double t0 = time_now_s(), c0 = cpu_s();
            int rc = runner_generate(r, reqs, count, count_done, &ok, &e);
            double wall = time_now_s() - t0, cpu_used = cpu_s() - c0;
            if (rc < 0 || ok != count) {
                fprintf(stderr, "bench_openai: %zu of %zu answered: %s\n", ok, count, e.msg);
                ret = 1;
            }
            rps[k] = (double)count / wall;
            cpu[k] = cpu_used * 1000.0 / (double)count;
            printf("  concurrency %2d%s, run %d: %zu requests in %.3f s = %7.0f req/s; client CPU "
                   "%.3f ms/request\n",
                   conc, what, k + 1, count, wall, rps[k], cpu[k]);
        }
        int m = runs < 16 ? runs : 16;
        qsort(rps, (size_t)m, sizeof *rps, cmp_double);
        qsort(cpu, (size_t)m, sizeof *cpu, cmp_double);
        printf("concurrency %2d%s: median %7.0f req/s, %.3f ms client CPU per request\n", conc,
               what, rps[m / 2], cpu[m / 2]);
        runner_close(r);
    }
    fake_server_stop(&f);
    arena_release(&a);
    return ret;
}
