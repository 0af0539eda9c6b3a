/* cmd_synth.c: `tally synth-model`: a benchmark model with random weights (PERF.md). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/gguf.h"
#include "backends/qtype.h"
#include "backends/synth.h"
#include "cmd.h"
#include "common/util.h"

typedef struct synth_opts {
    const char *preset, *type, *out, *vocab;
    uint64_t seed;
    int threads;
    bool quiet;
} synth_opts;

#define O(f) offsetof(synth_opts, f)
static const opt_def synth_opt_defs[] = {
    {"preset", OPT_STR, O(preset), "NAME",
     "granite-1b, ling-2b (PERF.md), granite-small, demo (scripts/quickstart), tiny, tiny-ling", 0},
    {"type", OPT_STR, O(type), "T",
     "f16, bf16, q8_0 or q4_0 (q4_0 keeps the LM head in q6_k); default q8_0", 0},
    {"out", OPT_STR, O(out), "FILE", "the GGUF file to write", 0},
    {"vocab", OPT_STR, O(vocab), "GGUF",
     "take the tokenizer from this GGUF (default $TALLY_FIXTURES/tokenizer/ggml-vocab-gpt-2.gguf)",
     0},
    {"seed", OPT_U64, O(seed), "S", "random seed (default 1234)", 0},
    {"threads", OPT_INT, O(threads), "N", "threads (default all)", 0},
    {"quiet", OPT_BOOL, O(quiet), NULL, "no summary line", 0},
    {0},
};
#undef O

static int parse_type(const char *s, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t type;
    } types[] = {
        {"f16", QTYPE_F16}, {"bf16", QTYPE_BF16}, {"q8_0", QTYPE_Q8_0}, {"q4_0", QTYPE_Q4_0}};
    for (size_t i = 0; i < ARRAY_LEN(types); i++)
        if (!strcmp(s, types[i].name)) {
            *out = types[i].type;
            return 0;
        }
    return -1;
}

static int cmd_synth_main(int argc, char **argv)
{
    synth_opts o = {.type = "q8_0", .seed = 1234};
    opts_result res;
    err e = ERR_INIT;
    gguf *vocab = NULL;
    char vocab_path[4096];
    int status = 0;
    if (opts_parse(synth_opt_defs, &o, argc, argv, 1, &res, &e) < 0) {
        status = cmd_fail("synth-model", &e);
        goto out;
    }
    synth_spec s;
    synth_spec_default(&s);
    if (res.n_pos)
        err_set(&e, ERR_USAGE, "unexpected argument \"%s\"", res.pos[0]);
    else if (!o.preset || !o.out)
        err_set(&e, ERR_USAGE, "--preset and --out are required");
    else if (parse_type(o.type, &s.type) < 0)
        err_set(&e, ERR_USAGE, "--type: \"%s\" is not f16, bf16, q8_0 or q4_0", o.type);
    else if (!synth_param_count(o.preset, 1))
        err_set(&e, ERR_USAGE,
                "--preset: unknown preset \"%s\" (granite-1b, ling-2b, granite-small, "
                "demo, tiny, tiny-ling)",
                o.preset);
    else if (o.threads < 0)
        err_set(&e, ERR_USAGE, "--threads: %d is negative", o.threads);
    if (!e.code && !o.vocab) {
        const char *fx = getenv("TALLY_FIXTURES");
        if (!fx || !*fx)
            err_set(&e, ERR_USAGE,
                    "--vocab: no vocabulary GGUF given (and $TALLY_FIXTURES is not set); "
                    "pass a GGUF whose tokenizer to copy, e.g. ggml-vocab-gpt-2.gguf");
        snprintf(vocab_path, sizeof vocab_path, "%s/tokenizer/ggml-vocab-gpt-2.gguf", fx ? fx : "");
        o.vocab = vocab_path;
    }
    if (e.code) {
        status = cmd_fail("synth-model", &e);
        goto out;
    }
    if (gguf_open(&vocab, o.vocab, &e) < 0) {
        status = cmd_fail("synth-model", &e);
        goto out;
    }
    s.preset = o.preset;
    s.seed = o.seed;
    s.vocab = vocab;
    s.threads = o.threads;
    double t0 = time_now_s();
    if (synth_write(&s, o.out, &e) < 0) {
        status = cmd_fail("synth-model", &e);
        goto out;
    }
    if (!o.quiet) {
        const void *toks;
        uint64_t nv = 0;
        gguf_get_arr(vocab, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, &nv, NULL);
        fprintf(stderr, "tally synth-model: %s: %s %s, %.1f M parameters, %llu tokens, in %.1f s\n",
                o.out, o.preset, o.type, (double)synth_param_count(o.preset, nv) / 1e6,
                (unsigned long long)nv, time_now_s() - t0);
    }
out:
    gguf_close(vocab);
    opts_release(&res);
    return status;
}

const command_def cmd_synth_def = {
    .name = "synth-model",
    .summary = "write a benchmark model with random weights",
    .usage = "tally synth-model --preset granite-1b|ling-2b|granite-small|demo|tiny|tiny-ling "
             "--type f16|bf16|q8_0|q4_0 --out FILE [--vocab GGUF] [--seed S]",
    .details =
        "The presets are PERF.md's benchmark models (granite-1b: granite, 952 M parameters;\n"
        "ling-2b: bailingmoe2, 2578 M) and smaller ones for tests. Weights are random; the\n"
        "tokenizer comes from --vocab, so the file loads and generates. Matrices are written\n"
        "in --type (q4_0 keeps the LM head in q6_k), norms and the MoE router stay f32. The\n"
        "file is streamed, one tensor at a time.\n",
    .opts = synth_opt_defs,
    .main = cmd_synth_main,
};
