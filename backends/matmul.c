/* matmul.c: CPU dispatch, the reference gemms, the threaded driver and the bandwidth probe. */
#include "backends/matmul.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backends/matmul_impl.h"
#include "common/util.h"

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* ==== ISA levels ======================================================================= */

static const char *const isa_names[MATMUL_ISA_COUNT] = {
    [MATMUL_ISA_REF] = "ref",
    [MATMUL_ISA_AVX2] = "avx2",
    [MATMUL_ISA_AVX512] = "avx512",
    [MATMUL_ISA_AVX512_VNNI] = "avx512vnni",
    [MATMUL_ISA_AVX512_BF16] = "avx512bf16",
};

const char *matmul_isa_name(int isa)
{
    if (isa < 0 || isa >= MATMUL_ISA_COUNT) return "?";
    return isa_names[isa];
}

int matmul_isa_parse(const char *name, int *isa_out, err *e)
{
    if (!name) return err_set(e, ERR_INVALID, "matmul: no ISA name given");
    if (strcmp(name, "auto") == 0) {
        *isa_out = MATMUL_ISA_AUTO;
        return 0;
    }
    for (int i = 0; i < MATMUL_ISA_COUNT; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa_out = i;
            return 0;
        }
    }
    return err_set(e, ERR_INVALID,
                   "matmul: unknown ISA \"%s\" (auto, ref, avx2, avx512, avx512vnni, avx512bf16)",
                   name);
}

int matmul_isa_detect(void)
{
#if defined(MATMUL_X86)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c"))
        return MATMUL_ISA_REF;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
        return MATMUL_ISA_AVX2;
    if (!__builtin_cpu_supports("avx512vnni")) return MATMUL_ISA_AVX512;
    if (!__builtin_cpu_supports("avx512bf16")) return MATMUL_ISA_AVX512_VNNI;
    return MATMUL_ISA_AVX512_BF16;
#else
    return MATMUL_ISA_REF;
#endif
}

/* ==== reference gemms: the quant.h dot products, one output at a time =================== */

#define GEMM_REF(name)                                                                             \
    static void gemm_ref_##name(size_t n, const void *w, size_t ws, size_t nr, const void *a,      \
                                size_t as, size_t nb, float *y, size_t ys)                         \
    {                                                                                              \
        for (size_t r = 0; r < nr; r++)                                                            \
            for (size_t b = 0; b < nb; b++)                                                        \
                y[b * ys + r] = quant_vec_dot_##name##_ref(n, (const uint8_t *)w + r * ws,         \
                                                           (const uint8_t *)a + b * as);           \
    }

GEMM_REF(f32)
GEMM_REF(f16)
GEMM_REF(bf16)
GEMM_REF(q4_0)
GEMM_REF(q4_1)
GEMM_REF(q5_0)
GEMM_REF(q5_1)
GEMM_REF(q8_0)
GEMM_REF(q2_k)
GEMM_REF(q3_k)
GEMM_REF(q4_k)
GEMM_REF(q5_k)
GEMM_REF(q6_k)
GEMM_REF(iq4_nl)
GEMM_REF(iq4_xs)

/* Indexed by weight qtype; every type quant.h can dot. */
static const matmul_gemm_fn gemm_refs[QTYPE_COUNT] = {
    [QTYPE_F32] = gemm_ref_f32,       [QTYPE_F16] = gemm_ref_f16,
    [QTYPE_BF16] = gemm_ref_bf16,     [QTYPE_Q4_0] = gemm_ref_q4_0,
    [QTYPE_Q4_1] = gemm_ref_q4_1,     [QTYPE_Q5_0] = gemm_ref_q5_0,
    [QTYPE_Q5_1] = gemm_ref_q5_1,     [QTYPE_Q8_0] = gemm_ref_q8_0,
    [QTYPE_Q2_K] = gemm_ref_q2_k,     [QTYPE_Q3_K] = gemm_ref_q3_k,
    [QTYPE_Q4_K] = gemm_ref_q4_k,     [QTYPE_Q5_K] = gemm_ref_q5_k,
    [QTYPE_Q6_K] = gemm_ref_q6_k,     [QTYPE_IQ4_NL] = gemm_ref_iq4_nl,
    [QTYPE_IQ4_XS] = gemm_ref_iq4_xs,
};

/* ==== packed layouts (matmul_impl.h) ================================================== */

/* Activations for the packed kernels: the reference quantizers' blocks, reshaped. */
static void act_q8_0x_ref(const float *src, void *dst, size_t n)
{
    act_q8_0x *y = dst;
    for (size_t i = 0; i < n / 32; i++) {
        block_q8_0 b;
        quant_quantize_act_q8_0_ref(src + 32 * i, &b, 32);
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) sum += b.qs[j];
        y[i].d = quant_f16_to_f32(b.d);
        y[i].sum = sum;
        y[i].neg8sum = -8 * sum;
        y[i].neg128sum = -128 * sum;
        memcpy(y[i].qs, b.qs, 32);
    }
}

static void act_q8_kx_ref(const float *src, void *dst, size_t n)
{
    act_q8_kx *y = dst;
    for (size_t i = 0; i < n / QK_K; i++) {
        block_q8_K b;
        quant_quantize_act_q8_k_ref(src + QK_K * i, &b, QK_K);
        memset(&y[i], 0, sizeof y[i]);
        y[i].d = b.d;
        memcpy(y[i].bsums, b.bsums, sizeof b.bsums);
        for (int s = 0; s < 8; s++) y[i].psums[s] = (int16_t)(b.bsums[2 * s] + b.bsums[2 * s + 1]);
        memcpy(y[i].qs, b.qs, sizeof b.qs);
    }
}

/* Values and bytes of one activation block of the format `tk` feeds its kernel. */
static void act_block_shape(const matmul_type_kernels *tk, int packed, size_t *blk, size_t *bytes)
{
    if (packed) {
        *blk = tk->act_type == QTYPE_Q8_K ? QK_K : 32;
        *bytes = tk->act_type == QTYPE_Q8_K ? sizeof(act_q8_kx) : sizeof(act_q8_0x);
        return;
    }
    const qtype_info *aq = qtype_get(tk->act_type);
    *blk = aq->block;
    *bytes = aq->bytes;
}

/* Packers: one group of 8 rows (`nrow` of them real, the rest zero), all its blocks.
 * Byte 4j+k of a packed chunk is row j, value 4c+k (see matmul_impl.h). */
static void pack_q4_0(const uint8_t *w, size_t ws, size_t nrow, size_t nblk, void *dst)
{
    blk_q4_0x8 *out = dst;
    for (size_t i = 0; i < nblk; i++)
        for (size_t j = 0; j < nrow; j++) {
            const block_q4_0 *b = (const block_q4_0 *)(w + j * ws) + i;
            out[i].d[j] = b->d;
            for (int c = 0; c < 4; c++) memcpy(out[i].qs + 32 * c + 4 * j, b->qs + 4 * c, 4);
        }
}

static void pack_q8_0(const uint8_t *w, size_t ws, size_t nrow, size_t nblk, void *dst)
{
    blk_q8_0x8 *out = dst;
    for (size_t i = 0; i < nblk; i++)
        for (size_t j = 0; j < nrow; j++) {
            const block_q8_0 *b = (const block_q8_0 *)(w + j * ws) + i;
            out[i].d[j] = b->d;
            for (int c = 0; c < 8; c++) memcpy(out[i].qs + 32 * c + 4 * j, b->qs + 4 * c, 4);
        }
}

static void pack_q4_k(const uint8_t *w, size_t ws, size_t nrow, size_t nblk, void *dst)
{
    blk_q4_kx8 *out = dst;
    for (size_t i = 0; i < nblk; i++)
        for (size_t j = 0; j < nrow; j++) {
            const block_q4_K *b = (const block_q4_K *)(w + j * ws) + i;
            uint8_t sc[8], m[8];
            quant_unpack_scales_k4(b->scales, sc, m);
            out[i].d[j] = b->d;
            out[i].dmin[j] = b->dmin;
            for (int s = 0; s < 8; s++) out[i].sc[s][j] = sc[s];
            for (int t = 0; t < 4; t++) {
                out[i].m[t][2 * j] = m[2 * t];
                out[i].m[t][2 * j + 1] = m[2 * t + 1];
            }
            for (int p = 0; p < 4; p++)
                for (int c = 0; c < 8; c++)
                    memcpy(out[i].qs[p][c] + 4 * j, b->qs + 32 * p + 4 * c, 4);
        }
}

static void pack_q5_k(const uint8_t *w, size_t ws, size_t nrow, size_t nblk, void *dst)
{
    blk_q5_kx8 *out = dst;
    for (size_t i = 0; i < nblk; i++)
        for (size_t j = 0; j < nrow; j++) {
            const block_q5_K *b = (const block_q5_K *)(w + j * ws) + i;
            uint8_t sc[8], m[8];
            quant_unpack_scales_k4(b->scales, sc, m);
            out[i].d[j] = b->d;
            out[i].dmin[j] = b->dmin;
            for (int s = 0; s < 8; s++) out[i].sc[s][j] = sc[s];
            for (int t = 0; t < 4; t++) {
                out[i].m[t][2 * j] = m[2 * t];
                out[i].m[t][2 * j + 1] = m[2 * t + 1];
            }
            for (int p = 0; p < 4; p++)
                for (int c = 0; c < 8; c++)
                    memcpy(out[i].qs[p][c] + 4 * j, b->qs + 32 * p + 4 * c, 4);
            for (int c = 0; c < 8; c++) memcpy(out[i].qh[c] + 4 * j, b->qh + 4 * c, 4);
        }
}

static void pack_q6_k(const uint8_t *w, size_t ws, size_t nrow, size_t nblk, void *dst)
{
    blk_q6_kx8 *out = dst;
    for (size_t i = 0; i < nblk; i++)
        for (size_t j = 0; j < nrow; j++) {
            const block_q6_K *b = (const block_q6_K *)(w + j * ws) + i;
            out[i].d[j] = b->d;
            for (int t = 0; t < 8; t++) {
                out[i].sc[t][2 * j] = b->scales[2 * t];
                out[i].sc[t][2 * j + 1] = b->scales[2 * t + 1];
            }
            for (int h = 0; h < 2; h++)
                for (int c = 0; c < 8; c++) {
                    for (int q = 0; q < 2; q++)
                        memcpy(out[i].q[h][c][q] + 4 * j, b->ql + 64 * h + 32 * q + 4 * c, 4);
                    memcpy(out[i].q[h][c][2] + 4 * j, b->qh + 32 * h + 4 * c, 4);
                }
        }
}

typedef void (*pack_fn)(const uint8_t *w, size_t ws, size_t nrow, size_t nblk, void *dst);

/* Indexed by weight qtype: the packer and the bytes of one packed block of 8 rows. */
static const struct {
    pack_fn pack;
    size_t bytes;
} packers[QTYPE_COUNT] = {
    [QTYPE_Q4_0] = {pack_q4_0, sizeof(blk_q4_0x8)}, [QTYPE_Q8_0] = {pack_q8_0, sizeof(blk_q8_0x8)},
    [QTYPE_Q4_K] = {pack_q4_k, sizeof(blk_q4_kx8)}, [QTYPE_Q5_K] = {pack_q5_k, sizeof(blk_q5_kx8)},
    [QTYPE_Q6_K] = {pack_q6_k, sizeof(blk_q6_kx8)},
};

int matmul_can_pack(const matmul_kernels *k, uint32_t type)
{
    return k && type < QTYPE_COUNT && packers[type].pack && k->type[type].gemm_packed;
}

size_t matmul_packed_bytes(uint32_t type, size_t rows, size_t cols)
{
    const qtype_info *q = qtype_get(type);
    if (!q || type >= QTYPE_COUNT || !packers[type].pack || cols == 0 || cols % q->block) return 0;
    size_t groups = rows / 8 + (rows % 8 != 0), nblk = cols / q->block;
    if (nblk > SIZE_MAX / packers[type].bytes) return 0;
    size_t gb = nblk * packers[type].bytes;
    if (groups && gb > SIZE_MAX / groups) return 0;
    return gb * groups;
}

int matmul_pack(const matmul_kernels *k, uint32_t type, const void *w, size_t rows, size_t cols,
                size_t w_stride, int n_threads, matmul_packed *out, err *e)
{
    const qtype_info *q = qtype_get(type);
    if (!matmul_can_pack(k, type))
        return err_set(e, ERR_UNSUPPORTED, "matmul: no packed layout for %s weights at level %s",
                       q ? q->name : "unknown-type", k ? matmul_isa_name(k->isa) : "?");
    size_t row_bytes = qtype_row_bytes(type, cols);
    size_t ws = w_stride ? w_stride : row_bytes;
    size_t bytes = matmul_packed_bytes(type, rows, cols);
    if (!row_bytes || !bytes || !w || ws < row_bytes || ws % 2 || (uintptr_t)w % 2)
        return err_set(e, ERR_INVALID, "matmul: cannot pack %zu x %zu %s weights (stride %zu)",
                       rows, cols, q->name, ws);
    void *data = aligned_alloc(64, ALIGN64(bytes));
    if (!data)
        return err_set(e, ERR_NOMEM, "matmul: cannot allocate %zu bytes of packed weights", bytes);
    memset(data, 0, ALIGN64(bytes));
    size_t nblk = cols / q->block, gb = nblk * packers[type].bytes;
    long groups = (long)(rows / 8 + (rows % 8 != 0));
    pack_fn pack = packers[type].pack;
#pragma omp parallel for schedule(static) num_threads(n_threads > 1 ? n_threads : 1)
    for (long g = 0; g < groups; g++) {
        size_t r0 = 8 * (size_t)g, nrow = rows - r0 < 8 ? rows - r0 : 8;
        pack((const uint8_t *)w + r0 * ws, ws, nrow, nblk, (uint8_t *)data + (size_t)g * gb);
    }
    out->type = type;
    out->rows = rows;
    out->cols = cols;
    out->group_bytes = gb;
    out->data = data;
    out->bytes = bytes;
    return 0;
}

void matmul_packed_release(matmul_packed *p)
{
    free(p->data);
    p->data = NULL;
    p->bytes = 0;
}

int matmul_kernels_init(matmul_kernels *k, int isa, err *e)
{
    int best = matmul_isa_detect();
    if (isa == MATMUL_ISA_AUTO) isa = best;
    if (isa < 0 || isa >= MATMUL_ISA_COUNT)
        return err_set(e, ERR_INVALID, "matmul: %d is no ISA level", isa);
    if (isa > best)
        return err_set(e, ERR_UNSUPPORTED,
                       "matmul: this CPU or build cannot run %s kernels (best: %s)",
                       matmul_isa_name(isa), matmul_isa_name(best));
    memset(k, 0, sizeof *k);
    k->isa = isa;
    for (uint32_t t = 0; t < QTYPE_COUNT; t++) {
        const quant_traits *tr = quant_traits_get(t);
        if (!tr || !gemm_refs[t]) continue;
        const quant_traits *at = quant_traits_get(tr->act_type);
        k->type[t].act_type = tr->act_type;
        k->type[t].quantize_act = tr->act_type == QTYPE_F32 ? NULL : at->quantize_act;
        k->type[t].gemm = gemm_refs[t];
        k->type[t].isa = MATMUL_ISA_REF;
        if (tr->act_type == QTYPE_Q8_0) k->type[t].quantize_act_packed = act_q8_0x_ref;
        if (tr->act_type == QTYPE_Q8_K) k->type[t].quantize_act_packed = act_q8_kx_ref;
    }
#if defined(MATMUL_X86)
    if (isa >= MATMUL_ISA_AVX2) matmul_fill_avx2(k);
    if (isa >= MATMUL_ISA_AVX512) matmul_fill_avx512(k);
    if (isa >= MATMUL_ISA_AVX512_VNNI) matmul_fill_avx512vnni(k);
    if (isa >= MATMUL_ISA_AVX512_BF16) matmul_fill_avx512bf16(k);
#endif
    return 0;
}

/* ==== workspace ======================================================================== */

/* Bytes of one converted activation row: the largest format is F16 (2 bytes a value;
 * Q8_K needs 292/256, Q8_0 34/32, Q8_1 36/32). 0 on overflow. */
static size_t act_row_bytes(size_t cols)
{
    if (cols > (SIZE_MAX - 64) / 2) return 0;
    return ALIGN64(2 * cols);
}

size_t matmul_ws_bytes(size_t cols, size_t batch)
{
    size_t row = act_row_bytes(cols);
    if (cols && !row) return SIZE_MAX;
    if (batch && row > SIZE_MAX / batch) return SIZE_MAX;
    return row * batch;
}

int matmul_ws_init(matmul_ws *ws, size_t max_cols, size_t max_batch, err *e)
{
    size_t n = matmul_ws_bytes(max_cols, max_batch);
    if (n == SIZE_MAX)
        return err_set(e, ERR_LIMIT, "matmul: scratch for %zu x %zu activations overflows",
                       max_batch, max_cols);
    ws->data = aligned_alloc(64, n ? n : 64);
    if (!ws->data) {
        ws->size = 0;
        return err_set(e, ERR_NOMEM, "matmul: cannot allocate %zu bytes of scratch", n);
    }
    ws->size = n;
    ws->next = 0;
    return 0;
}

void matmul_ws_release(matmul_ws *ws)
{
    free(ws->data);
    ws->data = NULL;
    ws->size = 0;
}

/* ==== the multiply ===================================================================== */

static size_t w_stride_of(const matmul_args *mm)
{
    return mm->w_stride ? mm->w_stride : qtype_row_bytes(mm->type, mm->cols);
}

int matmul_check(const matmul_kernels *k, const matmul_args *mm, const matmul_ws *ws, err *e)
{
    if (!k || !mm) return err_set(e, ERR_INVALID, "matmul: no kernels or arguments");
    const qtype_info *q = qtype_get(mm->type);
    if (mm->type >= QTYPE_COUNT || !k->type[mm->type].gemm)
        return err_set(e, ERR_UNSUPPORTED, "matmul: cannot multiply %s weights",
                       q ? q->name : "unknown-type");
    if (mm->packed) {
        const matmul_packed *p = mm->packed;
        if (!k->type[mm->type].gemm_packed)
            return err_set(e, ERR_UNSUPPORTED, "matmul: level %s has no packed %s kernel",
                           matmul_isa_name(k->isa), q->name);
        if (p->type != mm->type || p->rows != mm->rows || p->cols != mm->cols || !p->data)
            return err_set(e, ERR_INVALID,
                           "matmul: packed weights are %zu x %zu %s, not %zu x %zu %s", p->rows,
                           p->cols, qtype_get(p->type) ? qtype_get(p->type)->name : "?", mm->rows,
                           mm->cols, q->name);
    }
    if (mm->cols == 0 || mm->cols % q->block)
        return err_set(e, ERR_INVALID,
                       "matmul: %zu columns is not a positive multiple of the %s block (%u)",
                       mm->cols, q->name, q->block);
    if (mm->rows == 0 || mm->batch == 0) return 0;
    size_t row_bytes = qtype_row_bytes(mm->type, mm->cols);
    size_t wst = w_stride_of(mm);
    size_t xs = mm->x_stride ? mm->x_stride : mm->cols;
    size_t ys = mm->y_stride ? mm->y_stride : mm->rows;
    size_t align = mm->type == QTYPE_F32 ? 4 : 2;
    if ((!mm->w && !mm->packed) || !mm->x || !mm->y)
        return err_set(e, ERR_INVALID, "matmul: NULL w, x or y");
    if (!mm->packed && (wst < row_bytes || wst % align || (uintptr_t)mm->w % align))
        return err_set(
            e, ERR_INVALID,
            "matmul: %s weight rows must be %zu bytes at least, %zu-aligned (stride %zu)", q->name,
            row_bytes, align, wst);
    if (xs < mm->cols || ys < mm->rows)
        return err_set(e, ERR_INVALID, "matmul: strides x %zu < cols %zu or y %zu < rows %zu", xs,
                       mm->cols, ys, mm->rows);
    /* x and y as byte ranges must not overlap */
    uintptr_t x0 = (uintptr_t)mm->x, x1 = x0 + ((mm->batch - 1) * xs + mm->cols) * sizeof(float);
    uintptr_t y0 = (uintptr_t)mm->y, y1 = y0 + ((mm->batch - 1) * ys + mm->rows) * sizeof(float);
    if (x0 < y1 && y0 < x1) return err_set(e, ERR_INVALID, "matmul: x and y overlap");
    if (!ws) return err_set(e, ERR_INVALID, "matmul: no workspace");
    if (k->type[mm->type].quantize_act) {
        size_t need = matmul_ws_bytes(mm->cols, mm->batch);
        if (!ws->data || ws->size < need)
            return err_set(
                e, ERR_LIMIT,
                "matmul: scratch of %zu bytes is smaller than the %zu needed for %zu x %zu",
                ws && ws->data ? ws->size : 0, need, mm->batch, mm->cols);
    }
    return 0;
}

/* Activation rows per pass over the weights: keeps the converted rows of one pass
 * within about half of a 1 MiB L2 (multiples of 8 so tiles stay full). */
static size_t batch_chunk(size_t act_stride, size_t batch)
{
    size_t nb = (512u << 10) / (act_stride ? act_stride : 1);
    nb = nb < 8 ? 8 : nb & ~(size_t)7;
    return nb < batch ? nb : batch;
}

/* Thread `ith` of `nth`'s part of a multiply; with nth > 1 every thread of the current
 * OpenMP team must call it (it waits at two barriers). */
static void run_part(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws, int ith,
                     int nth)
{
    if (mm->rows == 0 || mm->batch == 0) return;
    const matmul_type_kernels *tk = &k->type[mm->type];
    const size_t cols = mm->cols, rows = mm->rows, batch = mm->batch;
    const size_t xs = mm->x_stride ? mm->x_stride : cols;
    const size_t ys = mm->y_stride ? mm->y_stride : rows;
    const int packed = mm->packed != NULL;
    const size_t wst = packed ? mm->packed->group_bytes : w_stride_of(mm);
    const uint8_t *w = packed ? mm->packed->data : mm->w;
    const quant_quantize_fn quantize = packed ? tk->quantize_act_packed : tk->quantize_act;
    const matmul_gemm_fn gemm = packed ? tk->gemm_packed : tk->gemm;

    /* 1. x -> activation format, (batch, act_stride) in the scratch; the work is split
     * into activation blocks so one long row still uses every thread */
    const void *act = mm->x;
    size_t as = xs * sizeof(float);
    if (quantize) {
        size_t blk, bbytes;
        act_block_shape(tk, packed, &blk, &bbytes);
        size_t per_row = cols / blk, total = per_row * batch;
        as = act_row_bytes(cols);
        size_t u = total * (size_t)ith / (size_t)nth, u1 = total * (size_t)(ith + 1) / (size_t)nth;
        while (u < u1) {
            size_t b = u / per_row, c0 = u % per_row;
            size_t c1 = per_row < c0 + (u1 - u) ? per_row : c0 + (u1 - u);
            quantize(mm->x + b * xs + c0 * blk, (uint8_t *)ws->data + b * as + c0 * bbytes,
                     (c1 - c0) * blk);
            u += c1 - c0;
        }
        act = ws->data;
    }
    if (ith == 0) ws->next = 0;
    if (nth > 1) {
#pragma omp barrier
    }

    /* 2. (batch chunk, row chunk) units handed out in order from a shared counter: row
     * chunks are multiples of 16 rows, about 8 per thread, so a thread the shared machine
     * preempts does not hold the others up; a row's result does not depend on which
     * thread computes it */
    size_t nbc = batch_chunk(as, batch), nbchunks = (batch + nbc - 1) / nbc;
    size_t rc = (rows / (8 * (size_t)nth) + 15) & ~(size_t)15;
    if (rc < 16) rc = 16;
    size_t nrc = (rows + rc - 1) / rc, units = nrc * nbchunks;
    for (;;) {
        size_t u = __atomic_fetch_add(&ws->next, 1, __ATOMIC_RELAXED);
        if (u >= units) break;
        size_t b0 = u / nrc * nbc, r0 = u % nrc * rc;
        size_t nb = batch - b0 < nbc ? batch - b0 : nbc, nr = rows - r0 < rc ? rows - r0 : rc;
        /* packed: r0 is a multiple of 16, so a whole number of groups of 8 rows */
        const uint8_t *wr = packed ? w + r0 / 8 * wst : w + r0 * wst;
        gemm(cols, wr, wst, nr, (const uint8_t *)act + b0 * as, as, nb, mm->y + b0 * ys + r0, ys);
    }
    if (nth > 1) {
#pragma omp barrier
    }
}

void matmul_run_team(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws)
{
    run_part(k, mm, ws, omp_get_thread_num(), omp_get_num_threads());
}

int matmul_run(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws, int n_threads, err *e)
{
    int rc = matmul_check(k, mm, ws, e);
    if (rc < 0) return rc;
    if (n_threads <= 1) {
        /* alone, whatever team the caller is in */
        run_part(k, mm, ws, 0, 1);
        return 0;
    }
#pragma omp parallel num_threads(n_threads)
    matmul_run_team(k, mm, ws);
    return 0;
}

/* ==== memory bandwidth ================================================================= */

typedef uint64_t u64x4 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));

/* Sum of n vectors (n a multiple of 4), four independent chains. */
static uint64_t bw_read(const u64x4 *p, size_t n)
{
    u64x4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i < n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    u64x4 s = s0 + s1 + s2 + s3;
    return s[0] + s[1] + s[2] + s[3];
}

/* a = b + s c over n vectors. */
static void bw_triad(f64x4 *a, const f64x4 *b, const f64x4 *c, double s, size_t n)
{
    f64x4 sv = {s, s, s, s};
    for (size_t i = 0; i < n; i++) a[i] = b[i] + sv * c[i];
}

int matmul_measure_bandwidth(size_t bytes, int reps, int n_threads, matmul_bandwidth *out, err *e)
{
    if (bytes < (1u << 20) || reps < 1)
        return err_set(e, ERR_INVALID,
                       "matmul: bandwidth over %zu bytes, %d repetitions: need >= 1 MiB and >= 1",
                       bytes, reps);
    if (n_threads < 1) n_threads = 1;
    /* one buffer, `nv` 32-byte vectors, a multiple of 12 (4 per chain, 3 triad arrays) */
    size_t nv = bytes / 32 / 12 * 12;
    u64x4 *buf = aligned_alloc(64, nv * 32);
    if (!buf)
        return err_set(e, ERR_NOMEM, "matmul: cannot allocate %zu bytes for the bandwidth test",
                       nv * 32);
    double best_read = 0, best_triad = 0;
    volatile uint64_t sink = 0;
    /* first touch with the same split the measurement uses */
#pragma omp parallel num_threads(n_threads)
    {
        size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t i0 = nv / 4 * t / nt * 4, i1 = nv / 4 * (t + 1) / nt * 4;
        for (size_t i = i0; i < i1; i++) buf[i] = (u64x4){i, 1, 2, 3};
    }
    for (int rep = 0; rep < reps; rep++) {
        uint64_t total = 0;
        double t0 = time_now_s();
#pragma omp parallel num_threads(n_threads) reduction(+ : total)
        {
            size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
            size_t i0 = nv / 4 * t / nt * 4, i1 = nv / 4 * (t + 1) / nt * 4;
            total += bw_read(buf + i0, i1 - i0);
        }
        double dt = time_now_s() - t0;
        sink += total;
        if (dt > 0 && (double)(nv * 32) / dt > best_read) best_read = (double)(nv * 32) / dt;
    }
    size_t third = nv / 3;
    f64x4 *fa = (f64x4 *)buf, *fb = fa + third, *fc = fb + third;
    /* the doubles are garbage bit patterns from the read test; make them numbers */
#pragma omp parallel num_threads(n_threads)
    {
        size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t i0 = third * t / nt, i1 = third * (t + 1) / nt;
        for (size_t i = i0; i < i1; i++) {
            fb[i] = (f64x4){1, 2, 3, 4};
            fc[i] = (f64x4){0.5, 0.25, 2, 1};
        }
    }
    for (int rep = 0; rep < reps; rep++) {
        double t0 = time_now_s();
#pragma omp parallel num_threads(n_threads)
        {
            size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
            size_t i0 = third * t / nt, i1 = third * (t + 1) / nt;
            bw_triad(fa + i0, fb + i0, fc + i0, 3.0, i1 - i0);
        }
        double dt = time_now_s() - t0;
        double moved = 3.0 * (double)third * 32;
        if (dt > 0 && moved / dt > best_triad) best_triad = moved / dt;
    }
    sink += (uint64_t)fa[third / 2][0];
    free(buf);
    (void)sink;
    out->read_gbs = best_read / 1e9;
    out->triad_gbs = best_triad / 1e9;
    out->bytes = nv * 32;
    out->threads = n_threads;
    return 0;
}
