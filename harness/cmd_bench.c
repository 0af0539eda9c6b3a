/* cmd_bench.c: `tally bench`: prefill and decode speed of a GGUF model, next to the memory
 * bandwidth measured in the same run (PERF.md). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/matmul.h"
#include "backends/model.h"
#include "backends/sampler.h"
#include "cmd.h"
#include "common/buf.h"
#include "common/util.h"

typedef struct bench_opts {
    int threads, prompt, gen, batch, reps, bw_mib;
    bool json;
} bench_opts;

#define O(f) offsetof(bench_opts, f)
static const opt_def bench_opt_defs[] = {
    {"threads", OPT_INT, O(threads), "N", "CPU threads (default all)", 0},
    {"prompt", OPT_INT, O(prompt), "N", "prompt tokens processed in one batch (default 128)", 0},
    {"gen", OPT_INT, O(gen), "N", "tokens generated one step at a time (default 64)", 0},
    {"batch", OPT_INT, O(batch), "B", "sequences decoded together (default 1)", 0},
    {"reps", OPT_INT, O(reps), "R", "repetitions; the median is reported (default 3)", 0},
    {"bw-mib", OPT_INT, O(bw_mib), "MiB", "memory for the bandwidth test (default 1024)", 0},
    {"json", OPT_BOOL, O(json), NULL, "print one JSON object", 0},
    {0},
};
#undef O

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* VmRSS and VmHWM of this process in bytes (0 when /proc cannot tell). */
static void resident(double *rss, double *hwm)
{
    *rss = *hwm = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) *rss = (double)kb * 1024;
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) *hwm = (double)kb * 1024;
    }
    fclose(f);
}

typedef struct bench_result {
    double prefill_tps[64], decode_tps[64];
    matmul_bandwidth bw;
} bench_result;

/* One repetition: every sequence's prompt (only sequence 0's is timed: one prompt in one
 * batch, as llama-bench's pp), then `gen` batched steps with greedy picks (timed). */
static int bench_once(model *m, const bench_opts *o, rng *r, int rep, bench_result *out, err *e)
{
    const size_t V = model_get_hparams(m)->n_vocab;
    const size_t P = (size_t)o->prompt, B = (size_t)o->batch;
    int32_t *toks = malloc(P * sizeof *toks);
    int32_t *seqs = malloc((P > B ? P : B) * sizeof *seqs);
    uint8_t *want = malloc((P > B ? P : B) * sizeof *want);
    int rc = 0;
    if (!toks || !seqs || !want) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    const float *lg;
    size_t n_out;
    int32_t next[1024];
    for (size_t s = 0; s < B; s++) {
        model_seq_clear(m, (int)s);
        for (size_t i = 0; i < P; i++) {
            toks[i] = (int32_t)(rng_next(r) % V);
            seqs[i] = (int32_t)s;
            want[i] = i + 1 == P;
        }
        model_batch b = {.n = P, .tokens = toks, .seq = seqs, .logits = want};
        double t0 = time_now_s();
        if ((rc = model_forward(m, &b, &lg, &n_out, e)) < 0) goto out;
        double dt = time_now_s() - t0;
        if (s == 0) out->prefill_tps[rep] = (double)P / dt;
        next[s] = sampler_argmax(lg, V);
    }
    double t0 = time_now_s();
    for (int step = 0; step < o->gen; step++) {
        for (size_t s = 0; s < B; s++) {
            seqs[s] = (int32_t)s;
            want[s] = 1;
        }
        model_batch b = {.n = B, .tokens = next, .seq = seqs, .logits = want};
        if ((rc = model_forward(m, &b, &lg, &n_out, e)) < 0) goto out;
        for (size_t s = 0; s < B; s++) next[s] = sampler_argmax(lg + s * V, V);
    }
    out->decode_tps[rep] = (double)(B * (size_t)o->gen) / (time_now_s() - t0);
out:
    free(toks);
    free(seqs);
    free(want);
    return rc;
}

static int cmd_bench_main(int argc, char **argv)
{
    bench_opts o = {.prompt = 128, .gen = 64, .batch = 1, .reps = 3, .bw_mib = 1024};
    opts_result res;
    err e = ERR_INIT;
    model *m = NULL;
    int status = 0;
    bench_result br;
    memset(&br, 0, sizeof br);
    if (opts_parse(bench_opt_defs, &o, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("bench", &e);
        goto out;
    }
    if (res.n_pos != 1)
        err_set(&e, ERR_USAGE, res.n_pos ? "give one model" : "no model given");
    else if (o.prompt < 1 || o.prompt > 65536)
        err_set(&e, ERR_USAGE, "--prompt: %d is out of range (1..65536)", o.prompt);
    else if (o.gen < 1 || o.gen > 65536)
        err_set(&e, ERR_USAGE, "--gen: %d is out of range (1..65536)", o.gen);
    else if (o.batch < 1 || o.batch > 1024)
        err_set(&e, ERR_USAGE, "--batch: %d is out of range (1..1024)", o.batch);
    else if (o.reps < 1 || o.reps > 64)
        err_set(&e, ERR_USAGE, "--reps: %d is out of range (1..64)", o.reps);
    else if (o.threads < 0)
        err_set(&e, ERR_USAGE, "--threads: %d is negative", o.threads);
    else if (o.bw_mib < 1)
        err_set(&e, ERR_USAGE, "--bw-mib: must be at least 1");
    if (e.code) {
        status = cmd_fail("bench", &e);
        goto out;
    }
    const char *path = res.pos[0];
    model_settings s;
    model_settings_default(&s);
    s.threads = o.threads;
    s.n_seq = o.batch;
    s.ctx_size = o.prompt + o.gen;
    s.n_batch = o.prompt > o.batch ? o.prompt : o.batch;
    s.n_outputs = o.batch;
    if (model_open(&m, path, &s, &e) < 0) {
        status = cmd_fail("bench", &e);
        goto out;
    }
    const model_hparams *hp = model_get_hparams(m);
    const model_settings *ms = model_get_settings(m);
    const double wbytes = (double)model_weight_bytes(m);
    rng r;
    rng_seed(&r, 42);
    /* warm-up: the weights paged in, the kernels' first touches done */
    bench_opts warm = o;
    warm.prompt = o.prompt < 16 ? o.prompt : 16;
    warm.gen = 2;
    if (bench_once(m, &warm, &r, 0, &br, &e) < 0) {
        status = cmd_fail("bench", &e);
        goto out;
    }
    /* the bandwidth, then the repetitions, in the same run */
    if (matmul_measure_bandwidth((size_t)o.bw_mib << 20, 3, ms->threads, &br.bw, &e) < 0) {
        status = cmd_fail("bench", &e);
        goto out;
    }
    for (int rep = 0; rep < o.reps; rep++)
        if (bench_once(m, &o, &r, rep, &br, &e) < 0) {
            status = cmd_fail("bench", &e);
            goto out;
        }
    double rss, hwm;
    resident(&rss, &hwm);
    const double pp = median(br.prefill_tps, o.reps), tg = median(br.decode_tps, o.reps);
    /* decode reads every weight once per step: the ceiling in steps per second */
    const double ceiling = br.bw.read_gbs * 1e9 / wbytes;
    const double fraction = (tg / o.batch) / ceiling;
    const char *isa = matmul_isa_name(matmul_isa_detect());
    buf out = BUF_INIT;
    if (o.json) {
        buf_printf(
            &out,
            "{\"model\": \"%s\", \"arch\": \"%s\", \"params\": %llu, \"weight_bytes\": %.0f, "
            "\"threads\": %d, \"batch\": %d, \"prompt\": %d, \"gen\": %d, \"reps\": %d, "
            "\"kernels\": \"%s\", ",
            path, hp->arch_name, (unsigned long long)hp->n_params, wbytes, ms->threads, o.batch,
            o.prompt, o.gen, o.reps, isa);
        buf_printf(&out, "\"prefill_tps\": %.3f, \"decode_tps\": %.3f, ", pp, tg);
        buf_printf(&out, "\"prefill_runs\": [");
        for (int i = 0; i < o.reps; i++) buf_printf(&out, i ? ", %.3f" : "%.3f", br.prefill_tps[i]);
        buf_printf(&out, "], \"decode_runs\": [");
        for (int i = 0; i < o.reps; i++) buf_printf(&out, i ? ", %.3f" : "%.3f", br.decode_tps[i]);
        buf_printf(&out,
                   "], \"bandwidth_read_gbs\": %.3f, \"bandwidth_triad_gbs\": %.3f, "
                   "\"decode_ceiling_tps\": %.3f, \"decode_fraction_of_ceiling\": %.4f, "
                   "\"rss_bytes\": %.0f, \"peak_rss_bytes\": %.0f}\n",
                   br.bw.read_gbs, br.bw.triad_gbs, ceiling, fraction, rss, hwm);
    } else {
        buf_printf(&out, "model      %s: %s, %.1f M parameters, %.1f MB of weights per token\n",
                   path, hp->arch_name, (double)hp->n_params / 1e6, wbytes / 1e6);
        buf_printf(&out, "setup      %d threads, %s kernels, batch %d, F32 KV cache\n", ms->threads,
                   isa, o.batch);
        buf_printf(&out,
                   "bandwidth  read %.1f GB/s, triad %.1f GB/s (%d MiB, best of 3): decode "
                   "ceiling %.1f tok/s\n",
                   br.bw.read_gbs, br.bw.triad_gbs, o.bw_mib, ceiling);
        buf_printf(&out, "prefill    %d tokens: %.1f tok/s (runs:", o.prompt, pp);
        for (int i = 0; i < o.reps; i++) buf_printf(&out, " %.1f", br.prefill_tps[i]);
        buf_printf(&out,
                   ")\ndecode     %d tokens x %d: %.1f tok/s = %.2f of the ceiling (runs:", o.gen,
                   o.batch, tg, fraction);
        for (int i = 0; i < o.reps; i++) buf_printf(&out, " %.1f", br.decode_tps[i]);
        buf_printf(&out, ")\nmemory     resident %.0f MB, peak %.0f MB\n", rss / 1e6, hwm / 1e6);
    }
    fwrite(out.data, 1, out.len, stdout);
    buf_release(&out);
out:
    model_close(m);
    opts_release(&res);
    return status;
}

const command_def cmd_bench_def = {
    .name = "bench",
    .summary = "prefill and decode speed of a GGUF model",
    .usage = "tally bench MODEL.gguf [--threads N] [--prompt 128] [--gen 64] [--batch B] [--json]",
    .details = "Prefill: one random prompt of --prompt tokens in one batch. Decode: --gen steps,\n"
               "each one token for each of --batch sequences (aggregate tokens/s). The memory\n"
               "bandwidth (read, best of 3) is measured in the same run; the decode ceiling is\n"
               "bandwidth / weight bytes per token, and decode is printed as a fraction of it.\n"
               "Figures are medians of --reps runs after a warm-up.\n",
    .opts = bench_opt_defs,
    .main = cmd_bench_main,
};
