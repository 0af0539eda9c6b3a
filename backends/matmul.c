/* matmul.c: CPU dispatch, the reference gemms, the threaded driver and the bandwidth probe. */
#include "backends/matmul.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backends/matmul_impl.h"
#include "common/util.h"

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

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

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
    if (!mm->w || !mm->x || !mm->y) return err_set(e, ERR_INVALID, "matmul: NULL w, x or y");
    if (wst < row_bytes || wst % align || (uintptr_t)mm->w % align)
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
    if (k->type[mm->type].quantize_act) {
        size_t need = matmul_ws_bytes(mm->cols, mm->batch);
        if (!ws || !ws->data || ws->size < need)
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

void matmul_run_team(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws)
{
    if (mm->rows == 0 || mm->batch == 0) return;
    const matmul_type_kernels *tk = &k->type[mm->type];
    const size_t cols = mm->cols, rows = mm->rows, batch = mm->batch;
    const size_t xs = mm->x_stride ? mm->x_stride : cols;
    const size_t ys = mm->y_stride ? mm->y_stride : rows;
    const size_t wst = w_stride_of(mm);
    const int ith = omp_get_thread_num(), nth = omp_get_num_threads();

    /* 1. x -> activation format, (batch, act_stride) in the scratch; the work is split
     * into activation blocks so one long row still uses every thread */
    const void *act = mm->x;
    size_t as = xs * sizeof(float);
    if (tk->quantize_act) {
        const qtype_info *aq = qtype_get(tk->act_type);
        size_t blk = aq->block, bbytes = aq->bytes;
        size_t per_row = cols / blk, total = per_row * batch;
        as = act_row_bytes(cols);
        size_t u = total * (size_t)ith / (size_t)nth, u1 = total * (size_t)(ith + 1) / (size_t)nth;
        while (u < u1) {
            size_t b = u / per_row, c0 = u % per_row;
            size_t c1 = per_row < c0 + (u1 - u) ? per_row : c0 + (u1 - u);
            tk->quantize_act(mm->x + b * xs + c0 * blk, (uint8_t *)ws->data + b * as + c0 * bbytes,
                             (c1 - c0) * blk);
            u += c1 - c0;
        }
        act = ws->data;
#pragma omp barrier
    }

    /* 2. this thread's rows: contiguous, in multiples of 16 */
    size_t chunks = (rows + 15) / 16;
    size_t r0 = 16 * (chunks * (size_t)ith / (size_t)nth);
    size_t r1 = 16 * (chunks * (size_t)(ith + 1) / (size_t)nth);
    if (r1 > rows) r1 = rows;
    if (r0 < r1) {
        size_t nbc = batch_chunk(as, batch);
        for (size_t b0 = 0; b0 < batch; b0 += nbc) {
            size_t nb = batch - b0 < nbc ? batch - b0 : nbc;
            tk->gemm(cols, (const uint8_t *)mm->w + r0 * wst, wst, r1 - r0,
                     (const uint8_t *)act + b0 * as, as, nb, mm->y + b0 * ys + r0, ys);
        }
    }
#pragma omp barrier
}

int matmul_run(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws, int n_threads, err *e)
{
    int rc = matmul_check(k, mm, ws, e);
    if (rc < 0) return rc;
    if (n_threads <= 1) {
        matmul_run_team(k, mm, ws);
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
