/* model.c: loading a granite/llama GGUF and its forward pass (see model.h). */
#include "backends/model.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/matmul.h"
#include "backends/quant.h"
#include "common/util.h"

/* Upper bounds that keep every size computation far from overflow. */
#define MAX_DIM            (1u << 20) /* n_embd, n_ff, head dims */
#define MAX_VOCAB          (1u << 24)
#define MAX_LAYER          4096u
#define MAX_CTX            (1u << 22)
#define MAX_SEQ            4096
#define MAX_BATCH          65536
#define DEFAULT_CTX        4096u             /* llama.cpp's default n_ctx */
#define DEFAULT_KV_BYTES   ((size_t)4 << 30) /* default KV pool cap */
#define SMALL_FORWARD_MACS 4e6               /* below this a forward runs on one thread */

/* ==== types ============================================================================ */

/* A weight matrix: `rows` rows of `cols` values, rows qtype_row_bytes(type, cols) apart. */
typedef struct wmat {
    uint32_t type;
    const void *data;
    size_t rows, cols;
    uint32_t file_type; /* the type in the file (differs from `type` with f32_weights) */
    matmul_packed pk;   /* the rows repacked at open for the fastest kernels, or empty */
} wmat;

typedef struct layer {
    const float *attn_norm, *ffn_norm; /* (n_embd) */
    wmat wq, wk, wv, wqkv, wo, wgate, wup, wdown;
    /* q|k|v and gate|up stacked and packed at open when their types allow: one multiply
     * (and one rounding of its input) instead of three or two; `pk` only */
    wmat qkv_stack, gu_stack;
    /* optional biases, NULL when absent */
    const float *bq, *bk, *bv, *bqkv, *bo, *bgate, *bup, *bdown;
    uint32_t n_ff;
} layer;

struct model {
    gguf *g;
    model_hparams hp;
    model_settings s;
    matmul_kernels mk;
    matmul_ws ws;

    const gguf_tensor *tok_embd; /* (n_vocab, n_embd), any type quant.h decodes */
    const float *out_norm;       /* (n_embd) */
    wmat wout;                   /* (n_vocab, n_embd): output.weight or token_embd */
    const float *rope_freqs;     /* (n_rot/2) divisors of theta, or NULL */
    layer *layers;               /* (n_layer) */
    size_t q_dim, kv_dim, qkv_dim;
    wmat **mats; /* every matrix once, for loops over all of them */
    size_t n_mats;
    float **f32_copies; /* weights dequantized at open (f32_weights) */
    size_t n_copies;

    /* activations, allocated once (rows = n_batch unless said otherwise) */
    float *x;      /* (n_batch, n_embd) residual stream */
    float *h;      /* (n_batch, n_embd) normed input of a sub-layer */
    float *qkv;    /* (n_batch, qkv_dim): q | k | v of each token */
    float *att;    /* (n_batch, q_dim) attention output */
    float *ffg;    /* (n_batch, 2 n_ff_max): gate | up of each token, then silu(gate) * up
                    * in the gate half */
    float *tmp;    /* (n_batch, n_embd) sub-layer output before the residual add */
    float *logits; /* (n_outputs, n_vocab) */
    float *rope;   /* (n_batch, n_rot) cos and sin of each rotary pair, interleaved */
    float *scores; /* (threads, group, ctx_size) attention scores of each thread */
    int32_t *tok_seq, *tok_pos; /* (n_batch) */
    int32_t *out_rows;          /* (n_outputs) token index of each logits row */
    const int32_t *tokens_in;   /* (n_batch) the batch being run */
    size_t *seq_count;          /* (n_seq) scratch: tokens of each sequence in the batch */

    /* KV cache: pages of MODEL_KV_PAGE token slots shared by all sequences */
    float *kv_k, *kv_v;           /* (n_layer, n_pages * MODEL_KV_PAGE, kv_dim) */
    size_t n_pages, layer_stride; /* layer_stride = n_pages * MODEL_KV_PAGE * kv_dim */
    size_t pages_per_seq;
    int32_t *page_table; /* (n_seq, pages_per_seq) */
    size_t *seq_len;     /* (n_seq) */
    size_t *seq_pages;   /* (n_seq) pages held */
    int32_t *free_pages; /* stack of free page ids */
    size_t n_free;
    uint32_t *page_refs; /* (n_pages) sequences holding each page (shared prefixes) */

    uint64_t alloc_bytes;
    uint64_t weight_bytes;
    uint64_t mat_elems; /* multiply-adds of the matrices per token */
};

void model_settings_default(model_settings *s)
{
    memset(s, 0, sizeof *s);
    s->n_seq = 1;
    s->n_batch = 512;
    s->isa = MATMUL_ISA_AUTO;
}

/* ==== allocation ======================================================================= */

/* a * b * c with overflow detection (SIZE_MAX on overflow). */
static size_t mul3(size_t a, size_t b, size_t c)
{
    if (a && b > SIZE_MAX / a) return SIZE_MAX;
    size_t ab = a * b;
    if (ab && c > SIZE_MAX / ab) return SIZE_MAX;
    return ab * c;
}

/* 64-aligned floats, zeroed unless `lazy` (the KV cache: only what is written is ever read,
 * and untouched pages cost no memory); records the bytes. */
static float *alloc_f32_(model *m, size_t n, bool lazy, err *e, const char *what)
{
    if (n == SIZE_MAX || n > SIZE_MAX / sizeof(float) - 64) {
        err_set(e, ERR_LIMIT, "%s: the %s buffer is too large", gguf_path(m->g), what);
        return NULL;
    }
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        err_set(e, ERR_NOMEM, "%s: cannot allocate %zu bytes for the %s", gguf_path(m->g), bytes,
                what);
        return NULL;
    }
    if (!lazy) memset(p, 0, bytes);
    m->alloc_bytes += bytes;
    return p;
}

static float *alloc_f32(model *m, size_t n, err *e, const char *what)
{
    return alloc_f32_(m, n, false, e, what);
}

/* ==== hyperparameters ================================================================== */

static int unsupported_arch(const gguf *g, const char *arch, err *e)
{
    return err_set(e, ERR_UNSUPPORTED,
                   "%s: architecture %s is not supported by the native engine yet", gguf_path(g),
                   arch);
}

/* A required positive u32 per layer that must be the same for every layer. */
static int layer_uniform_u32(const gguf *g, const char *suffix, uint32_t n_layer, bool required,
                             uint32_t def, uint32_t *out, err *e)
{
    char key[256];
    int rc = gguf_arch_key(g, suffix, key, sizeof key, e);
    if (rc) return rc;
    if (!gguf_find_key(g, key)) {
        if (required) return err_set(e, ERR_FORMAT, "%s: key \"%s\" is missing", gguf_path(g), key);
        *out = def;
        return 0;
    }
    for (uint32_t l = 0; l < n_layer; l++) {
        uint32_t v;
        if ((rc = gguf_get_u32_at(g, key, l, &v, e)) < 0) return rc;
        if (l == 0)
            *out = v;
        else if (v != *out)
            return err_set(e, ERR_UNSUPPORTED,
                           "%s: key \"%s\" differs between layers (%u, %u), which the native "
                           "engine does not support",
                           gguf_path(g), key, *out, v);
    }
    return 0;
}

static int read_hparams(model *m, err *e)
{
    const gguf *g = m->g;
    const char *path = gguf_path(g);
    model_hparams *hp = &m->hp;
    const char *arch = gguf_arch(g);
    int rc;
    if (!arch)
        return err_set(e, ERR_FORMAT, "%s: key \"general.architecture\" is missing or not a string",
                       path);
    if (!strcmp(arch, "granite"))
        hp->arch = MODEL_ARCH_GRANITE;
    else if (!strcmp(arch, "llama"))
        hp->arch = MODEL_ARCH_LLAMA;
    else
        return unsupported_arch(g, arch, e);
    hp->arch_name = arch;
    bool granite = hp->arch == MODEL_ARCH_GRANITE;

    if ((rc = gguf_get_arch_u32(g, "block_count", &hp->n_layer, e)) < 0) return rc;
    if ((rc = gguf_get_arch_u32(g, "embedding_length", &hp->n_embd, e)) < 0) return rc;
    if ((rc = gguf_get_arch_u32(g, "context_length", &hp->n_ctx_train, e)) < 0) return rc;
    if (hp->n_layer == 0 || hp->n_layer > MAX_LAYER)
        return err_set(e, ERR_FORMAT, "%s: block_count %u is out of range (1..%u)", path,
                       hp->n_layer, MAX_LAYER);
    if (hp->n_embd == 0 || hp->n_embd > MAX_DIM)
        return err_set(e, ERR_FORMAT, "%s: embedding_length %u is out of range", path, hp->n_embd);
    if (hp->n_ctx_train == 0) return err_set(e, ERR_FORMAT, "%s: context_length is 0", path);
    uint32_t n_expert = 0;
    if ((rc = gguf_opt_arch_u32(g, "expert_count", 0, &n_expert, e)) < 0) return rc;
    if (n_expert > 0)
        return err_set(e, ERR_UNSUPPORTED,
                       "%s: a %s model with experts (expert_count %u) is not supported by the "
                       "native engine yet",
                       path, arch, n_expert);
    if ((rc = layer_uniform_u32(g, "attention.head_count", hp->n_layer, true, 0, &hp->n_head, e)) <
        0)
        return rc;
    if ((rc = layer_uniform_u32(g, "attention.head_count_kv", hp->n_layer, false, hp->n_head,
                                &hp->n_head_kv, e)) < 0)
        return rc;
    if (hp->n_head == 0 || hp->n_head > MAX_DIM || hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv)
        return err_set(e, ERR_FORMAT,
                       "%s: %u attention heads and %u KV heads: need n_head a positive multiple "
                       "of n_head_kv",
                       path, hp->n_head, hp->n_head_kv);
    uint32_t kl, vl, def_hd = hp->n_embd / hp->n_head;
    if ((rc = gguf_opt_arch_u32(g, "attention.key_length", def_hd, &kl, e)) < 0) return rc;
    if ((rc = gguf_opt_arch_u32(g, "attention.value_length", def_hd, &vl, e)) < 0) return rc;
    if (kl != vl || kl == 0 || kl > MAX_DIM)
        return err_set(e, ERR_FORMAT,
                       "%s: attention key_length %u and value_length %u must be equal and positive",
                       path, kl, vl);
    hp->head_dim = kl;
    if ((size_t)hp->n_head * hp->head_dim > MAX_DIM)
        return err_set(e, ERR_FORMAT, "%s: %u heads of %u values are too many", path, hp->n_head,
                       hp->head_dim);
    if ((rc = gguf_get_arch_f32(g, "attention.layer_norm_rms_epsilon", &hp->rms_eps, e)) < 0)
        return rc;
    if (!(hp->rms_eps >= 0) || !isfinite(hp->rms_eps))
        return err_set(e, ERR_FORMAT, "%s: layer_norm_rms_epsilon is not a finite value >= 0",
                       path);

    /* RoPE */
    if ((rc = gguf_opt_arch_f32(g, "rope.freq_base", 10000.0f, &hp->rope_base, e)) < 0) return rc;
    if ((rc = gguf_opt_arch_u32(g, "rope.dimension_count", hp->head_dim, &hp->n_rot, e)) < 0)
        return rc;
    if (hp->n_rot % 2 || hp->n_rot > hp->head_dim)
        return err_set(e, ERR_FORMAT,
                       "%s: rope.dimension_count %u must be even and at most the head size %u",
                       path, hp->n_rot, hp->head_dim);
    if (granite && hp->n_rot != hp->head_dim)
        return err_set(e, ERR_FORMAT, "%s: rope.dimension_count %u differs from the head size %u",
                       path, hp->n_rot, hp->head_dim);
    if (!(hp->rope_base > 0) || !isfinite(hp->rope_base))
        return err_set(e, ERR_FORMAT, "%s: rope.freq_base is not a positive number", path);
    hp->rope = true;
    if (granite && (rc = gguf_opt_arch_bool(g, "rope.scaling.finetuned", true, &hp->rope, e)) < 0)
        return rc;
    hp->rope_scale = 1.0f;
    char key[256];
    const char *scaling = NULL;
    if ((rc = gguf_arch_key(g, "rope.scaling.type", key, sizeof key, e)) < 0) return rc;
    if ((rc = gguf_opt_str(g, key, "none", &scaling, e)) < 0) return rc;
    if (!strcmp(scaling, "linear")) {
        float factor = 1;
        if ((rc = gguf_opt_arch_f32(g, "rope.scaling.factor", 1.0f, &factor, e)) < 0) return rc;
        if (!(factor > 0) || !isfinite(factor))
            return err_set(e, ERR_FORMAT, "%s: rope.scaling.factor is not a positive number", path);
        hp->rope_scale = 1.0f / factor;
    } else if (strcmp(scaling, "none") != 0) {
        return err_set(e, ERR_UNSUPPORTED,
                       "%s: RoPE scaling \"%s\" is not supported by the native engine yet", path,
                       scaling);
    }

    /* multipliers: llama has none; granite's are optional except logit_scale (0 = default) */
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->embd_scale = hp->resid_scale = hp->logit_scale = 1.0f;
    if (granite) {
        float v;
        if ((rc = gguf_get_arch_f32(g, "logit_scale", &v, e)) < 0) return rc;
        if (v != 0) hp->logit_scale = v;
        if ((rc = gguf_opt_arch_f32(g, "embedding_scale", 0, &v, e)) < 0) return rc;
        if (v != 0) hp->embd_scale = v;
        if ((rc = gguf_opt_arch_f32(g, "residual_scale", 0, &v, e)) < 0) return rc;
        if (v != 0) hp->resid_scale = v;
        if ((rc = gguf_opt_arch_f32(g, "attention.scale", 0, &v, e)) < 0) return rc;
        if (v != 0) hp->attn_scale = v;
    }
    if (!isfinite(hp->attn_scale) || !isfinite(hp->embd_scale) || !isfinite(hp->resid_scale) ||
        !isfinite(hp->logit_scale))
        return err_set(e, ERR_FORMAT, "%s: a %s multiplier is not a finite number", path, arch);
    return 0;
}

/* ==== binding tensors ================================================================== */

typedef struct binder {
    model *m;
    bool *used; /* (n_tensors) */
} binder;

static const gguf_tensor *find_tensor(binder *b, const char *name, size_t *index_out)
{
    const gguf *g = b->m->g;
    size_t n = gguf_n_tensors(g);
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (!strcmp(t->name, name)) {
            *index_out = i;
            return t;
        }
    }
    return NULL;
}

/* "[a, b]" of a tensor's shape. */
static void shape_str(const gguf_tensor *t, char *out, size_t n)
{
    size_t w = (size_t)snprintf(out, n, "[");
    for (uint32_t d = 0; d < t->n_dims && w < n; d++)
        w +=
            (size_t)snprintf(out + w, n - w, "%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
    if (w < n) snprintf(out + w, n - w, "]");
}

/* Finds `name` with shape [ne0] or [ne0, ne1] (ne1 == 0: one dimension). NULL with *rc = 0
 * when absent and optional; *rc < 0 with `e` filled on any problem. */
static const gguf_tensor *bind(binder *b, const char *name, uint64_t ne0, uint64_t ne1,
                               bool required, int *rc, err *e)
{
    const char *path = gguf_path(b->m->g);
    size_t idx;
    *rc = 0;
    const gguf_tensor *t = find_tensor(b, name, &idx);
    if (!t) {
        if (required) *rc = err_set(e, ERR_FORMAT, "%s: tensor %s is missing", path, name);
        return NULL;
    }
    b->used[idx] = true;
    uint32_t want_dims = ne1 ? 2 : 1;
    bool ok = t->ne[0] == ne0 && t->ne[1] == (ne1 ? ne1 : 1) && t->ne[2] == 1 && t->ne[3] == 1 &&
              t->n_dims >= 1 && t->n_dims <= want_dims + 1;
    if (!ok) {
        char got[96];
        shape_str(t, got, sizeof got);
        if (ne1)
            *rc = err_set(e, ERR_FORMAT, "%s: tensor %s has shape %s, expected [%llu, %llu]", path,
                          name, got, (unsigned long long)ne0, (unsigned long long)ne1);
        else
            *rc = err_set(e, ERR_FORMAT, "%s: tensor %s has shape %s, expected [%llu]", path, name,
                          got, (unsigned long long)ne0);
        return NULL;
    }
    return t;
}

/* An F32 vector (norm weight, bias). */
static int bind_vec(binder *b, const char *name, uint64_t n, bool required, const float **out,
                    err *e)
{
    int rc;
    *out = NULL;
    const gguf_tensor *t = bind(b, name, n, 0, required, &rc, e);
    if (!t) return rc;
    if (t->type != QTYPE_F32)
        return err_set(e, ERR_FORMAT, "%s: tensor %s is %s, expected F32", gguf_path(b->m->g), name,
                       qtype_get(t->type) ? qtype_get(t->type)->name : "an unknown type");
    if ((uintptr_t)t->data % sizeof(float))
        return err_set(e, ERR_FORMAT, "%s: tensor %s is not 4-byte aligned", gguf_path(b->m->g),
                       name);
    *out = t->data;
    return 0;
}

static int check_mat_type(model *m, const char *name, uint32_t type, uint64_t cols, err *e)
{
    const qtype_info *q = qtype_get(type);
    if (!q || type >= QTYPE_COUNT || !m->mk.type[type].gemm)
        return err_set(e, ERR_UNSUPPORTED,
                       "%s: tensor %s has type %s, which the native engine "
                       "cannot multiply",
                       gguf_path(m->g), name, q && q->name ? q->name : "unknown");
    if (cols % q->block)
        return err_set(e, ERR_FORMAT, "%s: tensor %s: rows of %llu values are not whole %s blocks",
                       gguf_path(m->g), name, (unsigned long long)cols, q->name);
    return 0;
}

/* A weight matrix of `rows` rows of `cols` values (GGUF shape [cols, rows]). */
static int bind_mat(binder *b, const char *name, uint64_t cols, uint64_t rows, bool required,
                    wmat *out, err *e)
{
    int rc;
    memset(out, 0, sizeof *out);
    const gguf_tensor *t = bind(b, name, cols, rows, required, &rc, e);
    if (!t) return rc;
    if ((rc = check_mat_type(b->m, name, t->type, cols, e)) < 0) return rc;
    out->type = out->file_type = t->type;
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    return 0;
}

/* "blk.<l>.<suffix>" */
static const char *lname(char *buf, size_t n, uint32_t l, const char *suffix)
{
    snprintf(buf, n, "blk.%u.%s", l, suffix);
    return buf;
}

static int bind_layer(binder *b, uint32_t l, layer *ly, err *e)
{
    model *m = b->m;
    const model_hparams *hp = &m->hp;
    const char *path = gguf_path(m->g);
    char nm[GGUF_MAX_NAME + 32];
    int rc;
    uint64_t E = hp->n_embd;
    if ((rc = gguf_get_arch_u32_at(m->g, "feed_forward_length", l, &ly->n_ff, e)) < 0) {
        if (rc == ERR_NOTFOUND) rc = e ? (e->code = ERR_FORMAT) : ERR_FORMAT;
        return rc;
    }
    if (ly->n_ff == 0 || ly->n_ff > MAX_DIM)
        return err_set(e, ERR_FORMAT, "%s: feed_forward_length of layer %u is %u", path, l,
                       ly->n_ff);
    if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "attn_norm.weight"), E, true, &ly->attn_norm, e)))
        return rc;
    if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "ffn_norm.weight"), E, true, &ly->ffn_norm, e)))
        return rc;
    /* attention: fused or separate Q, K, V */
    size_t idx;
    if (find_tensor(b, lname(nm, sizeof nm, l, "attn_qkv.weight"), &idx)) {
        if ((rc = bind_mat(b, nm, E, m->qkv_dim, true, &ly->wqkv, e))) return rc;
        if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "attn_qkv.bias"), m->qkv_dim, false,
                           &ly->bqkv, e)))
            return rc;
        if (l > 0 && !hp->fused_qkv)
            return err_set(e, ERR_FORMAT, "%s: layer %u has a fused attn_qkv, layer 0 has not",
                           path, l);
        m->hp.fused_qkv = true;
    } else {
        if (l > 0 && hp->fused_qkv)
            return err_set(e, ERR_FORMAT, "%s: tensor blk.%u.attn_qkv.weight is missing", path, l);
        if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "attn_q.weight"), E, m->q_dim, true, &ly->wq,
                           e)))
            return rc;
        if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "attn_k.weight"), E, m->kv_dim, true, &ly->wk,
                           e)))
            return rc;
        if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "attn_v.weight"), E, m->kv_dim, true, &ly->wv,
                           e)))
            return rc;
        if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "attn_q.bias"), m->q_dim, false, &ly->bq, e)))
            return rc;
        if ((rc =
                 bind_vec(b, lname(nm, sizeof nm, l, "attn_k.bias"), m->kv_dim, false, &ly->bk, e)))
            return rc;
        if ((rc =
                 bind_vec(b, lname(nm, sizeof nm, l, "attn_v.bias"), m->kv_dim, false, &ly->bv, e)))
            return rc;
    }
    if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "attn_output.weight"), m->q_dim, E, true, &ly->wo,
                       e)))
        return rc;
    if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "attn_output.bias"), E, false, &ly->bo, e)))
        return rc;
    /* SwiGLU FFN */
    uint64_t F = ly->n_ff;
    if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "ffn_gate.weight"), E, F, true, &ly->wgate, e)))
        return rc;
    if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "ffn_up.weight"), E, F, true, &ly->wup, e)))
        return rc;
    if ((rc = bind_mat(b, lname(nm, sizeof nm, l, "ffn_down.weight"), F, E, true, &ly->wdown, e)))
        return rc;
    if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "ffn_gate.bias"), F, false, &ly->bgate, e)))
        return rc;
    if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "ffn_up.bias"), F, false, &ly->bup, e)))
        return rc;
    if ((rc = bind_vec(b, lname(nm, sizeof nm, l, "ffn_down.bias"), E, false, &ly->bdown, e)))
        return rc;
    return 0;
}

static int bind_all(model *m, err *e)
{
    model_hparams *hp = &m->hp;
    const gguf *g = m->g;
    const char *path = gguf_path(g);
    size_t nt = gguf_n_tensors(g);
    binder b = {m, calloc(nt ? nt : 1, sizeof(bool))};
    int rc = 0;
    if (!b.used) return err_set(e, ERR_NOMEM, "out of memory");

    /* token embeddings: any type quant.h decodes; the shape gives n_vocab */
    size_t idx;
    const gguf_tensor *te = find_tensor(&b, "token_embd.weight", &idx);
    if (!te) {
        rc = err_set(e, ERR_FORMAT, "%s: tensor token_embd.weight is missing", path);
        goto out;
    }
    if (te->ne[1] == 0 || te->ne[1] > MAX_VOCAB) {
        rc = err_set(e, ERR_FORMAT, "%s: tensor token_embd.weight has %llu rows", path,
                     (unsigned long long)te->ne[1]);
        goto out;
    }
    hp->n_vocab = (uint32_t)te->ne[1];
    if (!bind(&b, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &rc, e)) goto out;
    if (!quant_traits_get(te->type) || te->ne[0] % qtype_get(te->type)->block) {
        rc = err_set(e, ERR_UNSUPPORTED,
                     "%s: tensor token_embd.weight has type %s, which the "
                     "native engine cannot decode",
                     path, qtype_get(te->type) ? qtype_get(te->type)->name : "unknown");
        goto out;
    }
    m->tok_embd = te;
    if ((rc = bind_vec(&b, "output_norm.weight", hp->n_embd, true, &m->out_norm, e))) goto out;
    if (find_tensor(&b, "output.weight", &idx)) {
        if ((rc = bind_mat(&b, "output.weight", hp->n_embd, hp->n_vocab, true, &m->wout, e)))
            goto out;
    } else {
        hp->tied_output = true;
        if ((rc = check_mat_type(m, "token_embd.weight", te->type, hp->n_embd, e))) goto out;
        m->wout = (wmat){te->type, te->data, hp->n_vocab, hp->n_embd, te->type, MATMUL_PACKED_INIT};
    }
    if ((rc = bind_vec(&b, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs, e))) goto out;

    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        if ((rc = bind_layer(&b, l, &m->layers[l], e))) goto out;
        if (m->layers[l].n_ff > hp->n_ff_max) hp->n_ff_max = m->layers[l].n_ff;
    }
    /* a tensor we do not use means a variant whose math we do not know */
    for (size_t i = 0; i < nt; i++) {
        if (b.used[i]) continue;
        rc = err_set(e, ERR_UNSUPPORTED,
                     "%s: tensor %s is not part of the %s forward pass the native engine knows",
                     path, gguf_tensor_at(g, i)->name, hp->arch_name);
        goto out;
    }
    /* parameters and the quant mix */
    for (size_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        hp->n_params += t->n_elements;
        if (t->type < ARRAY_LEN(hp->type_count)) hp->type_count[t->type]++;
    }
out:
    free(b.used);
    return rc;
}

/* Every matrix of the model, for loops over all of them. */
static size_t all_mats(model *m, wmat **out, size_t cap)
{
    size_t n = 0;
#define ADD(w)                                                                                     \
    do {                                                                                           \
        if ((w).data && n < cap) out[n++] = &(w);                                                  \
    } while (0)
    ADD(m->wout);
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        layer *ly = &m->layers[l];
        ADD(ly->wq);
        ADD(ly->wk);
        ADD(ly->wv);
        ADD(ly->wqkv);
        ADD(ly->wo);
        ADD(ly->wgate);
        ADD(ly->wup);
        ADD(ly->wdown);
    }
#undef ADD
    return n;
}

/* f32_weights: every matrix dequantized into memory of its own. */
static int dequantize_weights(model *m, wmat **mats, size_t n, err *e)
{
    m->f32_copies = calloc(n ? n : 1, sizeof *m->f32_copies);
    if (!m->f32_copies) return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        wmat *w = mats[i];
        float *p = alloc_f32(m, mul3(w->rows, w->cols, 1), e, "F32 weight copy");
        if (!p) return e ? e->code : ERR_NOMEM;
        m->f32_copies[m->n_copies++] = p;
        const quant_traits *tr = quant_traits_get(w->type);
        size_t rb = qtype_row_bytes(w->type, w->cols);
        for (size_t r = 0; r < w->rows; r++)
            tr->dequantize((const uint8_t *)w->data + r * rb, p + r * w->cols, w->cols);
        w->type = QTYPE_F32;
        w->data = p;
    }
    return 0;
}

/* Gives the file's pages under a matrix back to the kernel (it is never read again). */
static void drop_pages(const model *m, const wmat *w)
{
    const long page = sysconf(_SC_PAGESIZE);
    if (w->data == m->tok_embd->data || page <= 0) return;
    uintptr_t a = (uintptr_t)w->data, b = a + w->rows * qtype_row_bytes(w->file_type, w->cols);
    uintptr_t a0 = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t b0 = b & ~((uintptr_t)page - 1);
    if (b0 > a0) madvise((void *)a0, b0 - a0, MADV_DONTNEED);
}

/* Stacks the rows of n matrices of one packable type (row counts multiples of 8, so the
 * packed groups of 8 rows never straddle two) into one packed matrix. 1 when stacked, 0
 * when the matrices do not allow it. */
static int stack_pack(model *m, wmat *const *parts, size_t n, wmat *out, err *e)
{
    uint32_t type = parts[0]->type;
    size_t rows = 0, cols = parts[0]->cols;
    for (size_t i = 0; i < n; i++) {
        if (parts[i]->type != type || parts[i]->cols != cols || parts[i]->rows % 8) return 0;
        rows += parts[i]->rows;
    }
    if (!matmul_can_pack(&m->mk, type)) return 0;
    size_t rb = qtype_row_bytes(type, cols);
    uint8_t *tmp = malloc(rows * rb);
    if (!tmp) return err_set(e, ERR_NOMEM, "%s: out of memory stacking matrices", gguf_path(m->g));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(tmp + at, parts[i]->data, parts[i]->rows * rb);
        at += parts[i]->rows * rb;
    }
    int rc = matmul_pack(&m->mk, type, tmp, rows, cols, 0, m->s.threads, &out->pk, e);
    free(tmp);
    if (rc < 0) return err_prefix(e, "%s", gguf_path(m->g));
    out->type = out->file_type = type;
    out->rows = rows;
    out->cols = cols;
    m->alloc_bytes += out->pk.bytes;
    for (size_t i = 0; i < n; i++) drop_pages(m, parts[i]);
    return 1;
}

/* The matrices the kernels have a packed layout for are repacked into memory of their own
 * (matmul.h): q|k|v and gate|up of a layer stacked into one when they share a type, the
 * others one by one. The file's pages of those (token_embd aside: rows are looked up
 * there) are then given back, so the resident size stays about one copy of the weights. */
static int pack_weights(model *m, wmat **mats, size_t n, err *e)
{
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        layer *ly = &m->layers[l];
        int rc;
        if (!m->hp.fused_qkv) {
            wmat *qkv[3] = {&ly->wq, &ly->wk, &ly->wv};
            if ((rc = stack_pack(m, qkv, 3, &ly->qkv_stack, e)) < 0) return rc;
        }
        wmat *gu[2] = {&ly->wgate, &ly->wup};
        if ((rc = stack_pack(m, gu, 2, &ly->gu_stack, e)) < 0) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        wmat *w = mats[i];
        if (!matmul_can_pack(&m->mk, w->type)) continue;
        /* parts of a stack are not multiplied on their own */
        bool stacked = false;
        for (uint32_t l = 0; l < m->hp.n_layer && !stacked; l++) {
            layer *ly = &m->layers[l];
            stacked = (ly->qkv_stack.pk.data && (w == &ly->wq || w == &ly->wk || w == &ly->wv)) ||
                      (ly->gu_stack.pk.data && (w == &ly->wgate || w == &ly->wup));
        }
        if (stacked) continue;
        int rc =
            matmul_pack(&m->mk, w->type, w->data, w->rows, w->cols, 0, m->s.threads, &w->pk, e);
        if (rc < 0) return err_prefix(e, "%s", gguf_path(m->g));
        m->alloc_bytes += w->pk.bytes;
        drop_pages(m, w);
    }
    return 0;
}

/* ==== open / close ===================================================================== */

static int resolve_settings(model *m, const model_settings *in, err *e)
{
    model_settings *s = &m->s;
    const char *path = gguf_path(m->g);
    *s = *in;
    if (s->threads < 0 || s->threads > 1024)
        return err_set(e, ERR_INVALID, "%s: %d threads is out of range", path, s->threads);
    if (s->threads == 0) s->threads = omp_get_num_procs();
    if (s->threads < 1) s->threads = 1;
    if (s->n_seq < 1 || s->n_seq > MAX_SEQ)
        return err_set(e, ERR_INVALID, "%s: %d sequences is out of range (1..%d)", path, s->n_seq,
                       MAX_SEQ);
    if (s->n_batch < 1 || s->n_batch > MAX_BATCH)
        return err_set(e, ERR_INVALID, "%s: a batch of %d tokens is out of range (1..%d)", path,
                       s->n_batch, MAX_BATCH);
    if (s->ctx_size < 0 || (uint32_t)s->ctx_size > MAX_CTX)
        return err_set(e, ERR_INVALID, "%s: context size %d is out of range", path, s->ctx_size);
    if (s->ctx_size == 0) s->ctx_size = (int)DEFAULT_CTX;
    if (s->kv_tokens < 0 || s->n_outputs < 0)
        return err_set(e, ERR_INVALID, "%s: negative KV size or output count", path);
    if (s->kv_tokens == 0) {
        /* room for every sequence at full length, within DEFAULT_KV_BYTES, at least one */
        size_t per_token = 2 * sizeof(float) * (size_t)m->hp.n_layer * m->kv_dim;
        size_t per_seq = ((size_t)s->ctx_size + MODEL_KV_PAGE - 1) / MODEL_KV_PAGE * MODEL_KV_PAGE;
        size_t kt = (size_t)s->n_seq * per_seq;
        size_t budget = DEFAULT_KV_BYTES / (per_token ? per_token : 1);
        if (kt > budget) kt = budget;
        if (kt < per_seq) kt = per_seq;
        s->kv_tokens = kt > MAX_CTX ? (int)MAX_CTX : (int)kt;
    }
    if (s->n_outputs == 0) s->n_outputs = s->n_seq;
    if (s->n_outputs > s->n_batch) s->n_outputs = s->n_batch;
    return 0;
}

static int alloc_buffers(model *m, err *e)
{
    const model_hparams *hp = &m->hp;
    const model_settings *s = &m->s;
    size_t B = (size_t)s->n_batch, E = hp->n_embd;
#define ALLOC(field, count, what)                                                                  \
    do {                                                                                           \
        if (!(m->field = alloc_f32(m, (count), e, what))) return e ? e->code : ERR_NOMEM;          \
    } while (0)
    ALLOC(x, mul3(B, E, 1), "activations");
    ALLOC(h, mul3(B, E, 1), "activations");
    ALLOC(tmp, mul3(B, E, 1), "activations");
    ALLOC(qkv, mul3(B, m->qkv_dim, 1), "activations");
    ALLOC(att, mul3(B, m->q_dim, 1), "activations");
    ALLOC(ffg, mul3(B, 2 * (size_t)hp->n_ff_max, 1), "activations");
    ALLOC(logits, mul3((size_t)s->n_outputs, hp->n_vocab, 1), "logits");
    ALLOC(rope, mul3(B, hp->n_rot ? hp->n_rot : 1, 1), "RoPE table");
    ALLOC(scores, mul3((size_t)s->threads, (size_t)s->ctx_size, hp->n_head / hp->n_head_kv),
          "attention scores");
    /* KV cache */
    m->pages_per_seq = ((size_t)s->ctx_size + MODEL_KV_PAGE - 1) / MODEL_KV_PAGE;
    m->n_pages = ((size_t)s->kv_tokens + MODEL_KV_PAGE - 1) / MODEL_KV_PAGE;
    m->layer_stride = mul3(m->n_pages, MODEL_KV_PAGE, m->kv_dim);
#undef ALLOC
    if (!(m->kv_k = alloc_f32_(m, mul3(m->layer_stride, hp->n_layer, 1), true, e, "KV cache")) ||
        !(m->kv_v = alloc_f32_(m, mul3(m->layer_stride, hp->n_layer, 1), true, e, "KV cache")))
        return e ? e->code : ERR_NOMEM;
    m->tok_seq = calloc(B, sizeof *m->tok_seq);
    m->tok_pos = calloc(B, sizeof *m->tok_pos);
    m->out_rows = calloc((size_t)s->n_outputs, sizeof *m->out_rows);
    m->page_table = calloc(mul3((size_t)s->n_seq, m->pages_per_seq, 1), sizeof *m->page_table);
    m->seq_len = calloc((size_t)s->n_seq, sizeof *m->seq_len);
    m->seq_pages = calloc((size_t)s->n_seq, sizeof *m->seq_pages);
    m->seq_count = calloc((size_t)s->n_seq, sizeof *m->seq_count);
    m->free_pages = calloc(m->n_pages, sizeof *m->free_pages);
    m->page_refs = calloc(m->n_pages ? m->n_pages : 1, sizeof *m->page_refs);
    if (!m->tok_seq || !m->tok_pos || !m->out_rows || !m->page_table || !m->seq_len ||
        !m->seq_pages || !m->seq_count || !m->free_pages || !m->page_refs)
        return err_set(e, ERR_NOMEM, "%s: out of memory for the sequence tables", gguf_path(m->g));
    /* the stack hands out low page ids first */
    for (size_t i = 0; i < m->n_pages; i++) m->free_pages[i] = (int32_t)(m->n_pages - 1 - i);
    m->n_free = m->n_pages;
    size_t max_cols = hp->n_ff_max > E ? hp->n_ff_max : E;
    if (m->q_dim > max_cols) max_cols = m->q_dim;
    int rc = matmul_ws_init(&m->ws, max_cols, B, e);
    if (rc < 0) return rc;
    m->alloc_bytes += m->ws.size;
    return 0;
}

int model_open(model **out, const char *path, const model_settings *s, err *e)
{
    *out = NULL;
    model_settings defaults;
    if (!s) {
        model_settings_default(&defaults);
        s = &defaults;
    }
    model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, "out of memory");
    int rc = gguf_open(&m->g, path, e);
    if (rc < 0) goto fail;
    if ((rc = read_hparams(m, e)) < 0) goto fail;
    m->q_dim = (size_t)m->hp.n_head * m->hp.head_dim;
    m->kv_dim = (size_t)m->hp.n_head_kv * m->hp.head_dim;
    m->qkv_dim = m->q_dim + 2 * m->kv_dim;
    if ((rc = resolve_settings(m, s, e)) < 0) goto fail;
    if ((rc = matmul_kernels_init(&m->mk, m->s.isa, e)) < 0) goto fail;
    if ((rc = bind_all(m, e)) < 0) goto fail;
    /* every matrix once (the tied head is token_embd's second use) */
    m->mats = calloc(8 * (size_t)m->hp.n_layer + 1, sizeof *m->mats);
    if (!m->mats) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->n_mats = all_mats(m, m->mats, 8 * (size_t)m->hp.n_layer + 1);
    for (size_t i = 0; i < m->n_mats; i++) {
        const wmat *w = m->mats[i];
        m->weight_bytes += w->rows * qtype_row_bytes(w->file_type, w->cols);
        m->mat_elems += (uint64_t)w->rows * w->cols;
    }
    if (m->s.f32_weights && (rc = dequantize_weights(m, m->mats, m->n_mats, e)) < 0) goto fail;
    if (!m->s.f32_weights && !m->s.file_layout && (rc = pack_weights(m, m->mats, m->n_mats, e)) < 0)
        goto fail;
    if ((rc = alloc_buffers(m, e)) < 0) goto fail;
    *out = m;
    return 0;
fail:
    model_close(m);
    return rc;
}

void model_close(model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_mats; i++) matmul_packed_release(&m->mats[i]->pk);
    free(m->mats);
    for (uint32_t l = 0; m->layers && l < m->hp.n_layer; l++) {
        matmul_packed_release(&m->layers[l].qkv_stack.pk);
        matmul_packed_release(&m->layers[l].gu_stack.pk);
    }
    for (size_t i = 0; i < m->n_copies; i++) free(m->f32_copies[i]);
    free(m->f32_copies);
    free(m->layers);
    free(m->x);
    free(m->h);
    free(m->tmp);
    free(m->qkv);
    free(m->att);
    free(m->ffg);
    free(m->logits);
    free(m->rope);
    free(m->scores);
    free(m->kv_k);
    free(m->kv_v);
    free(m->tok_seq);
    free(m->tok_pos);
    free(m->out_rows);
    free(m->page_table);
    free(m->seq_len);
    free(m->seq_pages);
    free(m->seq_count);
    free(m->free_pages);
    free(m->page_refs);
    matmul_ws_release(&m->ws);
    gguf_close(m->g);
    free(m);
}

const model_hparams *model_get_hparams(const model *m)
{
    return &m->hp;
}

const gguf *model_get_gguf(const model *m)
{
    return m->g;
}

const model_settings *model_get_settings(const model *m)
{
    return &m->s;
}

uint64_t model_weight_bytes(const model *m)
{
    return m->weight_bytes;
}

uint64_t model_alloc_bytes(const model *m)
{
    return m->alloc_bytes;
}

/* ==== sequences and the page pool ====================================================== */

size_t model_seq_len(const model *m, int seq)
{
    if (seq < 0 || seq >= m->s.n_seq) return 0;
    return m->seq_len[seq];
}

void model_seq_clear(model *m, int seq)
{
    if (seq < 0 || seq >= m->s.n_seq) return;
    int32_t *pt = m->page_table + (size_t)seq * m->pages_per_seq;
    while (m->seq_pages[seq] > 0) {
        int32_t page = pt[--m->seq_pages[seq]];
        if (--m->page_refs[page] == 0) m->free_pages[m->n_free++] = page;
    }
    m->seq_len[seq] = 0;
}

size_t model_kv_free_tokens(const model *m)
{
    return m->n_free * MODEL_KV_PAGE;
}

/* Pages a sequence of n tokens holds. */
static size_t pages_for(size_t n)
{
    return (n + MODEL_KV_PAGE - 1) / MODEL_KV_PAGE;
}

int model_seq_reserve(model *m, int seq, size_t n_tokens, err *e)
{
    if (seq < 0 || seq >= m->s.n_seq)
        return err_set(e, ERR_INVALID, "model: sequence %d is out of range (0..%d)", seq,
                       m->s.n_seq - 1);
    if (n_tokens > (size_t)m->s.ctx_size)
        return err_set(e, ERR_LIMIT, "model: %zu tokens do not fit the context of %d", n_tokens,
                       m->s.ctx_size);
    size_t want = pages_for(n_tokens);
    if (want <= m->seq_pages[seq]) return 0;
    if (want - m->seq_pages[seq] > m->n_free)
        return err_set(e, ERR_LIMIT, "model: the KV cache has room for %zu more tokens, %zu needed",
                       m->n_free * MODEL_KV_PAGE, (want - m->seq_pages[seq]) * MODEL_KV_PAGE);
    int32_t *pt = m->page_table + (size_t)seq * m->pages_per_seq;
    while (m->seq_pages[seq] < want) {
        int32_t page = m->free_pages[--m->n_free];
        m->page_refs[page] = 1;
        pt[m->seq_pages[seq]++] = page;
    }
    return 0;
}

int model_seq_share(model *m, int dst, int src, size_t n, err *e)
{
    if (dst < 0 || dst >= m->s.n_seq || src < 0 || src >= m->s.n_seq || dst == src)
        return err_set(e, ERR_INVALID, "model: cannot share sequence %d into %d", src, dst);
    if (m->seq_len[dst] || m->seq_pages[dst])
        return err_set(e, ERR_INVALID, "model: sequence %d is not empty", dst);
    if (n == 0 || n > m->seq_len[src])
        return err_set(e, ERR_INVALID, "model: sequence %d holds %zu tokens, %zu asked", src,
                       m->seq_len[src], n);
    size_t full = n / MODEL_KV_PAGE, tail = n % MODEL_KV_PAGE;
    if (tail && m->n_free == 0) return err_set(e, ERR_LIMIT, "model: the KV cache is full");
    const int32_t *ps = m->page_table + (size_t)src * m->pages_per_seq;
    int32_t *pd = m->page_table + (size_t)dst * m->pages_per_seq;
    /* whole pages are shared: neither sequence writes below its length again */
    for (size_t i = 0; i < full; i++) {
        pd[i] = ps[i];
        m->page_refs[ps[i]]++;
    }
    m->seq_pages[dst] = full;
    if (tail) {
        /* the page the copy goes on writing into is its own */
        int32_t page = m->free_pages[--m->n_free];
        m->page_refs[page] = 1;
        pd[full] = page;
        m->seq_pages[dst] = full + 1;
        size_t rows = tail * m->kv_dim;
        for (uint32_t l = 0; l < m->hp.n_layer; l++) {
            size_t base = (size_t)l * m->layer_stride;
            memcpy(m->kv_k + base + (size_t)page * MODEL_KV_PAGE * m->kv_dim,
                   m->kv_k + base + (size_t)ps[full] * MODEL_KV_PAGE * m->kv_dim,
                   rows * sizeof(float));
            memcpy(m->kv_v + base + (size_t)page * MODEL_KV_PAGE * m->kv_dim,
                   m->kv_v + base + (size_t)ps[full] * MODEL_KV_PAGE * m->kv_dim,
                   rows * sizeof(float));
        }
    }
    m->seq_len[dst] = n;
    return 0;
}

/* The cache row of (layer base, seq, pos). */
static inline float *kv_row(const model *m, float *base, int seq, size_t pos)
{
    int32_t page = m->page_table[(size_t)seq * m->pages_per_seq + pos / MODEL_KV_PAGE];
    return base + ((size_t)page * MODEL_KV_PAGE + pos % MODEL_KV_PAGE) * m->kv_dim;
}

/* ==== the math ========================================================================= */

/* out = x / sqrt(mean(x^2) + eps) * w, the mean summed in double as ggml does. */
static void rmsnorm(float *out, const float *x, const float *w, size_t n, float eps)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    float mean = (float)(ss / (double)n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (size_t i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* a . b over n floats; `omp simd` lets the compiler vectorise the sum (in a fixed order
 * for a given build and CPU). */
static inline float dot_f32(const float *a, const float *b, size_t n)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y += a * x over n floats. */
static inline void axpy_f32(float *y, float a, const float *x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* Rotates the adjacent pairs (2i, 2i+1), i < n_rot/2, of one head by the angles whose
 * cos/sin are interleaved in cs. */
static inline void rope_norm(float *v, const float *cs, size_t n_rot)
{
    for (size_t i = 0; i < n_rot / 2; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1];
        float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * c - b * s;
        v[2 * i + 1] = a * s + b * c;
    }
}

/* y = W x for rows [0, nb) of x: every thread of the team calls it. */
static void mm(model *m, const wmat *w, const float *x, size_t xs, size_t nb, float *y, size_t ys)
{
    matmul_args a = {.type = w->type,
                     .w = w->data,
                     .rows = w->rows,
                     .cols = w->cols,
                     .x = x,
                     .batch = nb,
                     .x_stride = xs,
                     .y = y,
                     .y_stride = ys,
                     .packed = w->pk.data ? &w->pk : NULL};
    matmul_run_team(&m->mk, &a, &m->ws);
}

/* Softmax attention of the `group` query heads that share KV head kvh, for one token of
 * sequence `seq` at position pos: q holds the group's heads back to back (head_dim each),
 * out receives their mixes. sc: group x ctx_size floats of scratch. The library is built
 * for plain x86-64; the clones give this loop AVX2 and AVX-512 where the CPU has them. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
attend(const model *m, float *kbase, float *vbase, int seq, size_t pos, size_t kvh, size_t group,
       const float *q, float *out, float *sc)
{
    const size_t hd = m->hp.head_dim, kvd = m->kv_dim, ctx = (size_t)m->s.ctx_size;
    const float scale = m->hp.attn_scale;
    const size_t n = pos + 1;
    /* scores s[g][j] = (q_g . k_j) * scale, one pass over the keys for the whole group */
    for (size_t j0 = 0; j0 < n; j0 += MODEL_KV_PAGE) {
        const float *k = kv_row(m, kbase, seq, j0) + kvh * hd;
        size_t j1 = j0 + MODEL_KV_PAGE < n ? j0 + MODEL_KV_PAGE : n;
        for (size_t j = j0; j < j1; j++, k += kvd)
            for (size_t g = 0; g < group; g++) sc[g * ctx + j] = dot_f32(q + g * hd, k, hd) * scale;
    }
    /* p[g][j] = exp(s - max) / sum */
    for (size_t g = 0; g < group; g++) {
        float *s = sc + g * ctx, mx = -INFINITY;
        for (size_t j = 0; j < n; j++)
            if (s[j] > mx) mx = s[j];
        double sum = 0;
        for (size_t j = 0; j < n; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < n; j++) s[j] *= inv;
    }
    /* out_g = sum_j p[g][j] v_j */
    memset(out, 0, group * hd * sizeof *out);
    for (size_t j0 = 0; j0 < n; j0 += MODEL_KV_PAGE) {
        const float *v = kv_row(m, vbase, seq, j0) + kvh * hd;
        size_t j1 = j0 + MODEL_KV_PAGE < n ? j0 + MODEL_KV_PAGE : n;
        for (size_t j = j0; j < j1; j++, v += kvd)
            for (size_t g = 0; g < group; g++) axpy_f32(out + g * hd, sc[g * ctx + j], v, hd);
    }
}

static inline float silu(float v)
{
    return v / (1.0f + expf(-v));
}

static void add_bias(float *y, const float *b, size_t n)
{
    if (b)
        for (size_t i = 0; i < n; i++) y[i] += b[i];
}

/* The whole forward pass for n tokens, n_out of which want logits; run by every thread of
 * the team (or by one thread outside a parallel region). Worksharing loops end with the
 * implicit barrier that orders the steps. */
static void forward_team(model *m, size_t n, size_t n_out)
{
    const model_hparams *hp = &m->hp;
    const size_t E = hp->n_embd, hd = hp->head_dim, QD = m->q_dim, KVD = m->kv_dim;
    const size_t QKV = m->qkv_dim, V = hp->n_vocab, n_rot = hp->rope ? hp->n_rot : 0;
    const size_t group = hp->n_head / hp->n_head_kv;
    const long nn = (long)n;
    const int ith = omp_get_thread_num();
    float *sc = m->scores + (size_t)ith * group * (size_t)m->s.ctx_size;

    /* x = token_embd[t] * embedding_scale; h = RMSNorm(x; attn_norm of layer 0) */
    const quant_traits *et = quant_traits_get(m->tok_embd->type);
    const size_t erb = qtype_row_bytes(m->tok_embd->type, E);
#pragma omp for schedule(static)
    for (long t = 0; t < nn; t++) {
        float *x = m->x + (size_t)t * E;
        et->dequantize((const uint8_t *)m->tok_embd->data + (size_t)m->tokens_in[t] * erb, x, E);
        if (hp->embd_scale != 1.0f)
            for (size_t i = 0; i < E; i++) x[i] *= hp->embd_scale;
        rmsnorm(m->h + (size_t)t * E, x, m->layers[0].attn_norm, E, hp->rms_eps);
    }

    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const layer *ly = &m->layers[l];
        const bool last = l + 1 == hp->n_layer;
        float *kb = m->kv_k + (size_t)l * m->layer_stride;
        float *vb = m->kv_v + (size_t)l * m->layer_stride;

        /* q | k | v = W h (+ b) */
        if (ly->qkv_stack.pk.data) {
            mm(m, &ly->qkv_stack, m->h, E, n, m->qkv, QKV);
        } else if (hp->fused_qkv) {
            mm(m, &ly->wqkv, m->h, E, n, m->qkv, QKV);
        } else {
            mm(m, &ly->wq, m->h, E, n, m->qkv, QKV);
            mm(m, &ly->wk, m->h, E, n, m->qkv + QD, QKV);
            mm(m, &ly->wv, m->h, E, n, m->qkv + QD + KVD, QKV);
        }

        /* biases, RoPE on q and k, k and v into the cache */
#pragma omp for schedule(static)
        for (long t = 0; t < nn; t++) {
            float *r = m->qkv + (size_t)t * QKV;
            if (ly->bqkv) add_bias(r, ly->bqkv, QKV);
            add_bias(r, ly->bq, QD);
            add_bias(r + QD, ly->bk, KVD);
            add_bias(r + QD + KVD, ly->bv, KVD);
            if (n_rot) {
                const float *cs = m->rope + (size_t)t * n_rot;
                for (size_t h = 0; h < hp->n_head; h++) rope_norm(r + h * hd, cs, n_rot);
                for (size_t h = 0; h < hp->n_head_kv; h++) rope_norm(r + QD + h * hd, cs, n_rot);
            }
            memcpy(kv_row(m, kb, m->tok_seq[t], (size_t)m->tok_pos[t]), r + QD,
                   KVD * sizeof(float));
            memcpy(kv_row(m, vb, m->tok_seq[t], (size_t)m->tok_pos[t]), r + QD + KVD,
                   KVD * sizeof(float));
        }

        /* in the last layer only the rows that give logits go on */
        const size_t nr = last ? n_out : n;
        const int32_t *rows = last ? m->out_rows : NULL;

        /* att[r] = softmax(q k^T * scale) v, per (row, KV head): its group of query heads */
        const long work = (long)(nr * hp->n_head_kv);
#pragma omp for schedule(static, 1)
        for (long w = 0; w < work; w++) {
            size_t r = (size_t)w / hp->n_head_kv, g = (size_t)w % hp->n_head_kv;
            size_t t = rows ? (size_t)rows[r] : r;
            attend(m, kb, vb, m->tok_seq[t], (size_t)m->tok_pos[t], g, group,
                   m->qkv + t * QKV + g * group * hd, m->att + r * QD + g * group * hd, sc);
        }
        if (rows) {
            /* the residual rows follow (rows are ascending, so r <= rows[r]) */
#pragma omp single
            for (size_t r = 0; r < nr; r++)
                if ((size_t)rows[r] != r)
                    memcpy(m->x + r * E, m->x + (size_t)rows[r] * E, E * sizeof(float));
        }

        /* x += residual_scale * (Wo att + b); h = RMSNorm(x; ffn_norm) */
        mm(m, &ly->wo, m->att, QD, nr, m->tmp, E);
#pragma omp for schedule(static)
        for (long t = 0; t < (long)nr; t++) {
            float *y = m->tmp + (size_t)t * E, *x = m->x + (size_t)t * E;
            add_bias(y, ly->bo, E);
            for (size_t i = 0; i < E; i++) x[i] += y[i] * hp->resid_scale;
            rmsnorm(m->h + (size_t)t * E, x, ly->ffn_norm, E, hp->rms_eps);
        }

        /* x += residual_scale * (W_down (silu(W_gate h) * (W_up h))); gate | up side by
         * side in ffg (2F a row) */
        const size_t F = ly->n_ff, F2 = 2 * F;
        if (ly->gu_stack.pk.data) {
            mm(m, &ly->gu_stack, m->h, E, nr, m->ffg, F2);
        } else {
            mm(m, &ly->wgate, m->h, E, nr, m->ffg, F2);
            mm(m, &ly->wup, m->h, E, nr, m->ffg + F, F2);
        }
        const long nf = (long)(nr * F);
#pragma omp for schedule(static)
        for (long i = 0; i < nf; i++) {
            size_t t = (size_t)i / F, c = (size_t)i % F;
            float *row = m->ffg + t * F2;
            float g = row[c] + (ly->bgate ? ly->bgate[c] : 0.0f);
            float u = row[F + c] + (ly->bup ? ly->bup[c] : 0.0f);
            row[c] = silu(g) * u;
        }
        mm(m, &ly->wdown, m->ffg, F2, nr, m->tmp, E);
        /* and h = RMSNorm(x) for the next layer, or the output norm */
        const float *next_norm = last ? m->out_norm : m->layers[l + 1].attn_norm;
#pragma omp for schedule(static)
        for (long t = 0; t < (long)nr; t++) {
            float *y = m->tmp + (size_t)t * E, *x = m->x + (size_t)t * E;
            add_bias(y, ly->bdown, E);
            for (size_t i = 0; i < E; i++) x[i] += y[i] * hp->resid_scale;
            rmsnorm(m->h + (size_t)t * E, x, next_norm, E, hp->rms_eps);
        }
    }

    /* logits = W_out h / logit_scale */
    mm(m, &m->wout, m->h, E, n_out, m->logits, V);
    if (hp->logit_scale != 1.0f) {
        const float inv = 1.0f / hp->logit_scale;
        const long nl = (long)(n_out * V);
#pragma omp for schedule(static)
        for (long i = 0; i < nl; i++) m->logits[i] *= inv;
    }
}

int model_forward(model *m, const model_batch *b, const float **logits_out, size_t *n_out_p, err *e)
{
    const model_hparams *hp = &m->hp;
    const size_t n = b->n;
    *logits_out = NULL;
    *n_out_p = 0;
    if (n == 0 || n > (size_t)m->s.n_batch)
        return err_set(e, ERR_INVALID, "model: a batch of %zu tokens (1..%d allowed)", n,
                       m->s.n_batch);
    /* check everything before touching any state */
    size_t n_out = 0;
    for (size_t t = 0; t < n; t++) {
        int32_t tok = b->tokens[t], seq = b->seq ? b->seq[t] : 0;
        if (tok < 0 || (uint32_t)tok >= hp->n_vocab)
            return err_set(e, ERR_INVALID, "model: token id %d is out of range (0..%u)", tok,
                           hp->n_vocab - 1);
        if (seq < 0 || seq >= m->s.n_seq)
            return err_set(e, ERR_INVALID, "model: sequence %d is out of range (0..%d)", seq,
                           m->s.n_seq - 1);
        if (b->logits ? b->logits[t] != 0 : t + 1 == n) n_out++;
    }
    if (n_out > (size_t)m->s.n_outputs)
        return err_set(e, ERR_INVALID, "model: %zu logit rows asked, at most %d per forward", n_out,
                       m->s.n_outputs);
    /* positions: each token continues its sequence (seq_count: tokens per sequence) */
    for (size_t t = 0; t < n; t++) {
        int32_t seq = b->seq ? b->seq[t] : 0;
        m->tok_seq[t] = seq;
        m->tok_pos[t] = (int32_t)(m->seq_len[seq] + m->seq_count[seq]++);
    }
    size_t need_pages = 0;
    int rc = 0;
    for (size_t t = 0; t < n; t++) {
        int32_t seq = m->tok_seq[t];
        if (!m->seq_count[seq]) continue; /* already counted */
        size_t len = m->seq_len[seq] + m->seq_count[seq];
        m->seq_count[seq] = 0;
        if (len > (size_t)m->s.ctx_size && rc == 0)
            rc = err_set(e, ERR_LIMIT,
                         "model: sequence %d would hold %zu tokens, past the context of %d", seq,
                         len, m->s.ctx_size);
        size_t want = pages_for(len);
        if (want > m->seq_pages[seq]) need_pages += want - m->seq_pages[seq];
    }
    if (rc < 0) return rc;
    if (need_pages > m->n_free)
        return err_set(e, ERR_LIMIT, "model: the KV cache is full (%zu free tokens, %zu needed)",
                       m->n_free * MODEL_KV_PAGE, need_pages * MODEL_KV_PAGE);
    for (size_t t = 0; t < n; t++)
        if ((rc = model_seq_reserve(m, m->tok_seq[t], (size_t)m->tok_pos[t] + 1, e)) < 0)
            return rc; /* cannot happen after the checks above */
    /* output rows, ascending */
    n_out = 0;
    for (size_t t = 0; t < n; t++)
        if (b->logits ? b->logits[t] != 0 : t + 1 == n) m->out_rows[n_out++] = (int32_t)t;

    /* token ids and RoPE angles: theta_i = pos * scale * base^(-2i/n_rot) (/ freq factor) */
    const size_t n_rot = hp->rope ? hp->n_rot : 0;
    for (size_t t = 0; t < n && n_rot; t++) {
        float *cs = m->rope + t * n_rot;
        double p = (double)m->tok_pos[t] * hp->rope_scale;
        for (size_t i = 0; i < n_rot / 2; i++) {
            double theta = p * pow((double)hp->rope_base, -2.0 * (double)i / (double)n_rot);
            if (m->rope_freqs) theta /= m->rope_freqs[i];
            cs[2 * i] = (float)cos(theta);
            cs[2 * i + 1] = (float)sin(theta);
        }
    }
    m->tokens_in = b->tokens;
    /* a small forward (a tiny model, a few tokens) runs on one thread: the barriers
     * between its steps would cost more than they save; results are the same */
    int nth = m->s.threads;
    double macs = (double)m->mat_elems * (double)n;
    for (size_t t = 0; t < n; t++)
        macs += 2.0 * (double)(m->tok_pos[t] + 1) * (double)m->q_dim * hp->n_layer;
    if (macs < SMALL_FORWARD_MACS) nth = 1;
#pragma omp parallel num_threads(nth) if (nth > 1)
    forward_team(m, n, n_out);
    m->tokens_in = NULL;
    for (size_t t = 0; t < n; t++)
        if ((size_t)m->tok_pos[t] + 1 > m->seq_len[m->tok_seq[t]])
            m->seq_len[m->tok_seq[t]] = (size_t)m->tok_pos[t] + 1;
    *logits_out = m->logits;
    *n_out_p = n_out;
    return 0;
}
