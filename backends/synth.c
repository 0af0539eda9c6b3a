/* synth.c: random-weight benchmark models through the streaming GGUF writer (see synth.h). */
#include "backends/synth.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/qtype.h"
#include "backends/quant.h"
#include "common/util.h"

/* ==== presets =========================================================================== */

typedef struct preset {
    const char *name;
    const char *arch; /* "granite" or "bailingmoe2" */
    uint32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx, n_rot;
    float rope_base, rms_eps;
    /* granite */
    float embd_scale, resid_scale, attn_scale, logit_scale;
    bool tied;
    /* bailingmoe2 */
    uint32_t n_dense, n_expert, n_expert_used, n_ff_exp, n_shared, n_ff_shexp;
    uint32_t n_group, n_group_used, gating;
    float weights_scale;
} preset;

/* To add a preset, add a row (and its name to synth_preset_names' list via this table).
 * granite-1b and ling-2b are PERF.md's benchmark models; granite-small is for the
 * meson benchmark; demo is scripts/quickstart's model; tiny and tiny-ling are for tests.
 * demo has its own LM head and a small logit scale, so its logits are spread (std ~2)
 * and greedy text does not collapse into one repeated token as with a tied head, where
 * the current token's own embedding dominates: its F16 and Q4_0 copies then differ
 * measurably (tally quantdiff). */
/* clang-format off */
static const preset presets[] = {
    {.name = "granite-1b", .arch = "granite", .n_embd = 2048, .n_layer = 18, .n_head = 16,
     .n_head_kv = 8, .head_dim = 128, .n_ff = 5632, .n_ctx = 4096, .n_rot = 128,
     .rope_base = 10000000.0f, .rms_eps = 1e-5f, .embd_scale = 12.0f, .resid_scale = 0.22f,
     .attn_scale = 0.0078125f, .logit_scale = 8.0f, .tied = true},
    {.name = "ling-2b", .arch = "bailingmoe2", .n_embd = 1536, .n_layer = 16, .n_head = 12,
     .n_head_kv = 4, .head_dim = 128, .n_ff = 4608, .n_ctx = 4096, .n_rot = 64,
     .rope_base = 600000.0f, .rms_eps = 1e-6f, .n_dense = 1, .n_expert = 64, .n_expert_used = 6,
     .n_ff_exp = 512, .n_shared = 1, .n_ff_shexp = 512, .n_group = 8, .n_group_used = 4,
     .gating = 2, .weights_scale = 2.5f},
    {.name = "granite-small", .arch = "granite", .n_embd = 1024, .n_layer = 8, .n_head = 8,
     .n_head_kv = 4, .head_dim = 128, .n_ff = 2816, .n_ctx = 4096, .n_rot = 128,
     .rope_base = 10000000.0f, .rms_eps = 1e-5f, .embd_scale = 12.0f, .resid_scale = 0.22f,
     .attn_scale = 0.0078125f, .logit_scale = 8.0f, .tied = true},
    {.name = "demo", .arch = "granite", .n_embd = 512, .n_layer = 4, .n_head = 8, .n_head_kv = 4,
     .head_dim = 64, .n_ff = 1536, .n_ctx = 4096, .n_rot = 64, .rope_base = 10000.0f,
     .rms_eps = 1e-5f, .embd_scale = 12.0f, .resid_scale = 0.22f, .attn_scale = 0.015625f,
     .logit_scale = 0.5f, .tied = false},
    {.name = "tiny", .arch = "granite", .n_embd = 256, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
     .head_dim = 64, .n_ff = 512, .n_ctx = 2048, .n_rot = 64, .rope_base = 10000.0f,
     .rms_eps = 1e-5f, .embd_scale = 12.0f, .resid_scale = 0.22f, .attn_scale = 0.015625f,
     .logit_scale = 8.0f, .tied = true},
    {.name = "tiny-ling", .arch = "bailingmoe2", .n_embd = 256, .n_layer = 3, .n_head = 4,
     .n_head_kv = 2, .head_dim = 64, .n_ff = 256, .n_ctx = 2048, .n_rot = 32,
     .rope_base = 600000.0f, .rms_eps = 1e-6f, .n_dense = 1, .n_expert = 16, .n_expert_used = 4,
     .n_ff_exp = 32, .n_shared = 1, .n_ff_shexp = 32, .n_group = 4, .n_group_used = 2,
     .gating = 2, .weights_scale = 2.5f},
};
/* clang-format on */

static const char *const preset_names[] = {"granite-1b", "ling-2b", "granite-small", "demo", "tiny",
                                           "tiny-ling",  NULL};

const char *const *synth_preset_names(void)
{
    return preset_names;
}

static const preset *find_preset(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(presets); i++)
        if (!strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

void synth_spec_default(synth_spec *s)
{
    memset(s, 0, sizeof *s);
    s->type = QTYPE_Q8_0;
    s->seed = 1234;
}

/* ==== the tensor list =================================================================== */

enum tkind {
    T_MATRIX, /* uniform, std gain / sqrt(fan_in) */
    T_EMBD,   /* token embeddings, std 0.02 (granite) or 1/sqrt(n_embd) */
    T_NORM,   /* 1 + noise */
    T_BIAS,   /* small noise */
};

typedef struct tdesc {
    char name[GGUF_MAX_NAME + 1];
    uint32_t type, n_dims, kind;
    uint64_t ne[3];
    float std;
} tdesc;

typedef struct tlist {
    tdesc *v;
    size_t n, cap;
    uint32_t mat_type, head_type;
} tlist;

static int add(tlist *l, const char *name, uint32_t type, uint32_t kind, float std, uint32_t nd,
               uint64_t ne0, uint64_t ne1, uint64_t ne2)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        tdesc *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    tdesc *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->kind = kind;
    t->std = std;
    t->n_dims = nd;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    return 0;
}

/* A matrix of `rows` outputs from `cols` inputs (GGUF shape [cols, rows]). */
static int add_mat(tlist *l, const char *name, uint64_t cols, uint64_t rows)
{
    return add(l, name, l->mat_type, T_MATRIX, 1.0f / sqrtf((float)cols), 2, cols, rows, 1);
}

static int add_norm(tlist *l, const char *name, uint64_t n)
{
    return add(l, name, QTYPE_F32, T_NORM, 0.05f, 1, n, 1, 1);
}

static int build_list(const preset *p, uint64_t n_vocab, tlist *l)
{
    char nm[GGUF_MAX_NAME + 1];
    const uint64_t E = p->n_embd, hd = p->head_dim, QD = (uint64_t)p->n_head * hd;
    const uint64_t KVD = (uint64_t)p->n_head_kv * hd;
    bool ling = !strcmp(p->arch, "bailingmoe2");
    int rc = 0;
#define CK(x)                                                                                      \
    do {                                                                                           \
        if ((rc = (x)) < 0) return rc;                                                             \
    } while (0)
    /* the tied head is token_embd: it gets the head's type */
    uint32_t et = p->tied ? l->head_type : l->mat_type;
    CK(add(l, "token_embd.weight", et, T_EMBD, ling ? 1.0f / sqrtf((float)E) : 0.02f, 2, E, n_vocab,
           1));
    for (uint32_t b = 0; b < p->n_layer; b++) {
#define N(suffix) (snprintf(nm, sizeof nm, "blk.%u." suffix, b), nm)
        CK(add_norm(l, N("attn_norm.weight"), E));
        if (ling) {
            CK(add_mat(l, N("attn_qkv.weight"), E, QD + 2 * KVD));
            CK(add_norm(l, N("attn_q_norm.weight"), hd));
            CK(add_norm(l, N("attn_k_norm.weight"), hd));
        } else {
            CK(add_mat(l, N("attn_q.weight"), E, QD));
            CK(add_mat(l, N("attn_k.weight"), E, KVD));
            CK(add_mat(l, N("attn_v.weight"), E, KVD));
        }
        CK(add_mat(l, N("attn_output.weight"), QD, E));
        CK(add_norm(l, N("ffn_norm.weight"), E));
        if (!ling || b < p->n_dense) {
            CK(add_mat(l, N("ffn_gate.weight"), E, p->n_ff));
            CK(add_mat(l, N("ffn_up.weight"), E, p->n_ff));
            CK(add_mat(l, N("ffn_down.weight"), p->n_ff, E));
        } else {
            const uint64_t X = p->n_expert, FX = p->n_ff_exp,
                           FS = (uint64_t)p->n_ff_shexp * p->n_shared;
            CK(add(l, N("ffn_gate_inp.weight"), QTYPE_F32, T_MATRIX, 1.0f / sqrtf((float)E), 2, E,
                   X, 1));
            CK(add(l, N("exp_probs_b.bias"), QTYPE_F32, T_BIAS, 0.01f, 1, X, 1, 1));
            CK(add(l, N("ffn_gate_exps.weight"), l->mat_type, T_MATRIX, 1.0f / sqrtf((float)E), 3,
                   E, FX, X));
            CK(add(l, N("ffn_up_exps.weight"), l->mat_type, T_MATRIX, 1.0f / sqrtf((float)E), 3, E,
                   FX, X));
            CK(add(l, N("ffn_down_exps.weight"), l->mat_type, T_MATRIX, 1.0f / sqrtf((float)FX), 3,
                   FX, E, X));
            CK(add_mat(l, N("ffn_gate_shexp.weight"), E, FS));
            CK(add_mat(l, N("ffn_up_shexp.weight"), E, FS));
            CK(add_mat(l, N("ffn_down_shexp.weight"), FS, E));
        }
#undef N
    }
    CK(add_norm(l, "output_norm.weight", E));
    if (!p->tied)
        CK(add(l, "output.weight", l->head_type, T_MATRIX, 1.0f / sqrtf((float)E), 2, E, n_vocab,
               1));
#undef CK
    return 0;
}

uint64_t synth_param_count(const char *name, uint64_t n_vocab)
{
    const preset *p = find_preset(name);
    if (!p) return 0;
    tlist l = {0};
    l.mat_type = l.head_type = QTYPE_F32;
    uint64_t n = 0;
    if (build_list(p, n_vocab, &l) == 0)
        for (size_t i = 0; i < l.n; i++) n += l.v[i].ne[0] * l.v[i].ne[1] * l.v[i].ne[2];
    free(l.v);
    return n;
}

/* ==== writing =========================================================================== */

typedef struct fill_ctx {
    const tlist *l;
    uint64_t seed;
    int threads;
} fill_ctx;

/* A row's own stream: the seed, the tensor and the row through splitmix-style mixing. */
static uint64_t row_seed(uint64_t seed, size_t tensor, uint64_t row)
{
    uint64_t z =
        seed ^ (0x9E3779B97F4A7C15ull * (tensor + 1)) ^ (0xBF58476D1CE4E5B9ull * (row + 1));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int fill_tensor(void *vctx, size_t index, void *dst, size_t nbytes, err *e)
{
    const fill_ctx *c = vctx;
    const tdesc *t = &c->l->v[index];
    const uint64_t cols = t->ne[0], rows = t->ne[1] * t->ne[2];
    const size_t rb = qtype_row_bytes(t->type, cols);
    if (rb * rows != nbytes)
        return err_set(e, ERR_INTERNAL, "synth: tensor %s: %zu bytes, expected %zu", t->name,
                       nbytes, rb * (size_t)rows);
    const quant_traits *tr = quant_traits_get(t->type);
    if (!tr || (t->type != QTYPE_F32 && !tr->quantize))
        return err_set(e, ERR_INVALID, "synth: cannot write %s tensors", qtype_get(t->type)->name);
    /* uniform on [-a, a] has standard deviation a / sqrt(3) */
    const float a = t->std * sqrtf(3.0f);
    int failed = 0;
#pragma omp parallel num_threads(c->threads)
    {
        float *row = malloc(cols * sizeof *row);
        if (!row) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (long r = 0; r < (long)rows; r++) {
            if (!row) continue;
            rng g;
            rng_seed(&g, row_seed(c->seed, index, (uint64_t)r));
            for (uint64_t i = 0; i < cols; i++) {
                float u = (float)((rng_next(&g) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
                row[i] = (t->kind == T_NORM ? 1.0f : 0.0f) + a * u;
            }
            uint8_t *out = (uint8_t *)dst + (size_t)r * rb;
            if (t->type == QTYPE_F32)
                memcpy(out, row, cols * sizeof *row);
            else
                tr->quantize(row, out, cols);
        }
        free(row);
    }
    if (failed) return err_set(e, ERR_NOMEM, "synth: out of memory");
    return 0;
}

/* llama.cpp's general.file_type for the file's main type. */
static uint32_t file_type_of(uint32_t type)
{
    switch (type) {
    case QTYPE_F16:
        return 1;
    case QTYPE_Q4_0:
        return 2;
    case QTYPE_Q8_0:
        return 7;
    case QTYPE_BF16:
        return 32;
    default:
        return 0;
    }
}

static void set_arch_keys(gguf_writer *w, const preset *p, uint64_t n_vocab)
{
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", p->arch, s), k)
    gguf_writer_set_u32(w, KEY("context_length"), p->n_ctx);
    gguf_writer_set_u32(w, KEY("embedding_length"), p->n_embd);
    gguf_writer_set_u32(w, KEY("block_count"), p->n_layer);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), p->n_ff);
    gguf_writer_set_u32(w, KEY("attention.head_count"), p->n_head);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), p->n_head_kv);
    gguf_writer_set_u32(w, KEY("attention.key_length"), p->head_dim);
    gguf_writer_set_u32(w, KEY("attention.value_length"), p->head_dim);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), p->rms_eps);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), p->rope_base);
    gguf_writer_set_u32(w, KEY("rope.dimension_count"), p->n_rot);
    gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)n_vocab);
    if (!strcmp(p->arch, "granite")) {
        gguf_writer_set_f32(w, KEY("embedding_scale"), p->embd_scale);
        gguf_writer_set_f32(w, KEY("residual_scale"), p->resid_scale);
        gguf_writer_set_f32(w, KEY("attention.scale"), p->attn_scale);
        gguf_writer_set_f32(w, KEY("logit_scale"), p->logit_scale);
    } else {
        gguf_writer_set_u32(w, KEY("leading_dense_block_count"), p->n_dense);
        gguf_writer_set_u32(w, KEY("expert_count"), p->n_expert);
        gguf_writer_set_u32(w, KEY("expert_used_count"), p->n_expert_used);
        gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), p->n_ff_exp);
        gguf_writer_set_u32(w, KEY("expert_shared_count"), p->n_shared);
        gguf_writer_set_u32(w, KEY("expert_shared_feed_forward_length"), p->n_ff_shexp);
        gguf_writer_set_u32(w, KEY("expert_group_count"), p->n_group);
        gguf_writer_set_u32(w, KEY("expert_group_used_count"), p->n_group_used);
        gguf_writer_set_u32(w, KEY("expert_gating_func"), p->gating);
        gguf_writer_set_bool(w, KEY("expert_weights_norm"), true);
        gguf_writer_set_f32(w, KEY("expert_weights_scale"), p->weights_scale);
        gguf_writer_set_u32(w, KEY("nextn_predict_layers"), 0);
    }
#undef KEY
}

int synth_write(const synth_spec *s, const char *path, err *e)
{
    const preset *p = find_preset(s->preset);
    if (!p)
        return err_set(e, ERR_INVALID,
                       "synth: unknown preset \"%s\" (granite-1b, ling-2b, "
                       "granite-small, demo, tiny, tiny-ling)",
                       s->preset ? s->preset : "");
    if (s->type != QTYPE_F16 && s->type != QTYPE_BF16 && s->type != QTYPE_Q8_0 &&
        s->type != QTYPE_Q4_0)
        return err_set(e, ERR_INVALID, "synth: type %s is not one of f16, bf16, q8_0, q4_0",
                       qtype_get(s->type) && qtype_get(s->type)->name ? qtype_get(s->type)->name
                                                                      : "?");
    if (!s->vocab) return err_set(e, ERR_INVALID, "synth: no vocabulary GGUF given");
    const void *toks;
    uint64_t n_vocab;
    int rc = gguf_get_arr(s->vocab, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, &n_vocab, e);
    if (rc < 0) return rc;
    if (n_vocab == 0 || n_vocab > (1u << 24))
        return err_set(e, ERR_FORMAT, "%s: %llu tokens", gguf_path(s->vocab),
                       (unsigned long long)n_vocab);

    tlist l = {0};
    l.mat_type = s->type;
    l.head_type = s->type == QTYPE_Q4_0 ? QTYPE_Q6_K : s->type;
    gguf_writer w = GGUF_WRITER_INIT;
    fill_ctx fc = {&l, s->seed, s->threads > 0 ? s->threads : omp_get_num_procs()};
    if ((rc = build_list(p, n_vocab, &l)) < 0) {
        rc = err_set(e, rc, "synth: out of memory");
        goto out;
    }
    gguf_writer_set_str(&w, "general.architecture", p->arch);
    gguf_writer_set_str(&w, "general.name", p->name);
    gguf_writer_set_u32(&w, "general.file_type", file_type_of(s->type));
    if (s->type == QTYPE_Q8_0 || s->type == QTYPE_Q4_0)
        gguf_writer_set_u32(&w, "general.quantization_version", 2);
    set_arch_keys(&w, p, n_vocab);
    for (size_t i = 0; i < gguf_n_kv(s->vocab); i++) {
        const gguf_kv *kv = gguf_kv_at(s->vocab, i);
        if (str_starts(kv->key, "tokenizer.")) gguf_writer_set_kv(&w, kv);
    }
    for (size_t i = 0; i < l.n; i++) {
        const tdesc *t = &l.v[i];
        if ((rc = gguf_writer_add_tensor_fn(&w, t->name, t->type, t->n_dims, t->ne, fill_tensor,
                                            &fc, e)) < 0)
            goto out;
    }
    rc = gguf_writer_write(&w, path, e);
out:
    gguf_writer_release(&w);
    free(l.v);
    return rc;
}
