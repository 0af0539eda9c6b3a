/* matmul.h: the engine's matrix multiply, y = W x, on quantized weights, with CPU dispatch.
 *
 *   y[b][r] = sum_c W[r][c] * x[b][c]     W: rows x cols in any supported qtype, each row
 *                                         qtype_row_bytes(type, cols) long (the GGUF layout),
 *                                         or repacked once at load (matmul_pack);
 *                                         x: f32 (batch, cols); y: f32 (batch, rows)
 *
 * As ggml's CPU backend does it: every row of x is first converted once to the weight
 * type's activation format (Q8_0 / Q8_1 / Q8_K blocks, F16, BF16; quant.h), then each
 * output is an integer dot product per block scaled by the two block scales. Output rows
 * are split across OpenMP threads in chunks of 16-row multiples, about 8 per thread, taken
 * in order from a shared counter (a thread preempted on a shared machine does not hold up
 * the others); inside a thread a tile of weight rows is loaded once per block and serves
 * several rows of x.
 *
 * Two weight layouts. The file layout works for every type (SIMD kernels for Q8_0, Q4_0,
 * Q4_K, Q6_K, F32, F16, BF16; the scalar references for the rest). The packed layout
 * (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) interleaves 8 rows so one SIMD lane holds one row: 2.5 to 4x
 * faster, and its results equal the scalar references bit for bit. Pack the big matrices
 * at model load when matmul_can_pack says so, and keep the file layout for the others.
 *
 * Results depend neither on the thread count nor on the batch: row b of a batched call
 * equals, bit for bit, the same row computed alone (each output has its own accumulator
 * and the same sequence of operations whatever tile it lands in). File-layout SIMD kernels
 * of different ISA levels give the same integer block sums and differ from the references
 * only in f32 summation order (the integer types agree with each other bit for bit).
 *
 * Order of calls:
 *
 *   matmul_kernels k;
 *   matmul_kernels_init(&k, MATMUL_ISA_AUTO, &e);          // once: CPU detection
 *   matmul_ws ws = MATMUL_WS_INIT;
 *   matmul_ws_init(&ws, max_cols, max_batch, &e);          // once: scratch for x
 *   matmul_packed pw = MATMUL_PACKED_INIT;                  // once per matrix, optional:
 *   if (matmul_can_pack(&k, t)) matmul_pack(&k, t, w, r, c, 0, n_threads, &pw, &e);
 *   matmul_args mm = {.type = t, .w = w, .rows = r, .cols = c, .x = x, .batch = 1, .y = y,
 *                     .packed = pw.data ? &pw : NULL};
 *   matmul_run(&k, &mm, &ws, n_threads, &e);                // per multiply
 *   matmul_packed_release(&pw);
 *   matmul_ws_release(&ws);
 *
 * Inside a parallel region the forward pass already owns (one region per layer), check
 * the arguments once with matmul_check and have every thread of the team call
 * matmul_run_team(&k, &mm, &ws): it quantizes x cooperatively, waits at a barrier, does
 * its share of rows and waits again, so y is complete in every thread when it returns
 * (x must be complete before the call: the caller's barrier).
 *
 * The kernels table, workspace and packed weights are caller-owned; nothing allocates per
 * call. None may be modified while a multiply runs; one workspace serves one multiply at
 * a time. Activations must be finite (NaN/Inf give garbage outputs, never a crash).
 */
#ifndef TALLY_BACKENDS_MATMUL_H
#define TALLY_BACKENDS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "backends/qtype.h"
#include "backends/quant.h"
#include "common/err.h"

/* CPU feature levels, each including the ones before it. */
enum matmul_isa {
    MATMUL_ISA_REF = 0,         /* the scalar references of quant.h */
    MATMUL_ISA_AVX2 = 1,        /* AVX2 + FMA + F16C: maddubs integer dots */
    MATMUL_ISA_AVX512 = 2,      /* + AVX-512 F/BW/VL/DQ: 32 registers, wider float kernels */
    MATMUL_ISA_AVX512_VNNI = 3, /* + AVX512-VNNI: vpdpbusd integer dots */
    MATMUL_ISA_AVX512_BF16 = 4, /* + AVX512-BF16: vdpbf16ps for BF16 weights */
    MATMUL_ISA_COUNT = 5,
    MATMUL_ISA_AUTO = -1, /* the best level this CPU supports */
};

/* "ref", "avx2", "avx512", "avx512vnni", "avx512bf16"; "?" for anything else. */
const char *matmul_isa_name(int isa);
/* Parses those names and "auto"; ERR_INVALID (naming the value) otherwise. */
int matmul_isa_parse(const char *name, int *isa_out, err *e);
/* The best level this CPU and this build support (REF off x86-64). */
int matmul_isa_detect(void);

/* Computes y[b * y_stride + r] for r < nr, b < nb from nr weight rows (w_stride bytes apart,
 * n values each) and nb activation rows (a_stride bytes apart, in the act format). */
typedef void (*matmul_gemm_fn)(size_t n, const void *w, size_t w_stride, size_t nr, const void *a,
                               size_t a_stride, size_t nb, float *y, size_t y_stride);

typedef struct matmul_type_kernels {
    uint32_t act_type;              /* activation format (a qtype id) */
    quant_quantize_fn quantize_act; /* f32 -> act format; NULL for F32 (x is used as is) */
    matmul_gemm_fn gemm;            /* NULL: this weight type cannot be multiplied */
    int isa;                        /* the level whose kernel fills `gemm` */
    /* The same for weights repacked by matmul_pack (w_stride = bytes per group of 8 rows);
     * gemm_packed is NULL where this level has no packed kernel for the type. */
    quant_quantize_fn quantize_act_packed;
    matmul_gemm_fn gemm_packed;
    int isa_packed;
} matmul_type_kernels;

typedef struct matmul_kernels {
    int isa;                               /* level in use */
    matmul_type_kernels type[QTYPE_COUNT]; /* indexed by weight qtype */
} matmul_kernels;

/* Fills the table with the references, then with the fastest kernels up to `isa`
 * (MATMUL_ISA_AUTO = matmul_isa_detect()). ERR_UNSUPPORTED when `isa` is above what the
 * CPU supports, ERR_INVALID when it is no level at all. */
int matmul_kernels_init(matmul_kernels *k, int isa, err *e);

/* Scratch for the converted activations: `size` bytes, 64-aligned, owned by the struct;
 * it also carries the multiply's work counter, so every multiply needs one (for F32
 * weights, which use x as it is, an unallocated MATMUL_WS_INIT will do). */
typedef struct matmul_ws {
    void *data;
    size_t size;
    size_t next; /* internal: the next unit of work of the multiply in progress */
} matmul_ws;

#define MATMUL_WS_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Bytes of scratch a multiply with these dimensions needs, for any weight type. */
size_t matmul_ws_bytes(size_t cols, size_t batch);
/* Allocates matmul_ws_bytes(max_cols, max_batch); ERR_NOMEM on failure. */
int matmul_ws_init(matmul_ws *ws, size_t max_cols, size_t max_batch, err *e);
/* Frees the scratch; safe on MATMUL_WS_INIT and twice. */
void matmul_ws_release(matmul_ws *ws);

/* Weights repacked at load time for the fastest kernels: groups of 8 rows interleaved so
 * one SIMD lane holds one row (PERF.md "What makes it fast"). The layout depends on the
 * type only, not on the ISA level, and takes the file layout's bytes (Q4_K +2.8%, Q5_K +2.3%).
 * Types with a packed layout: Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, at levels AVX2 and above. The
 * packed kernels sum each row in the order of the scalar references, so a packed multiply
 * gives exactly the references' results (the file-layout SIMD kernels differ from them
 * by f32 reassociation only). */
typedef struct matmul_packed {
    uint32_t type;
    size_t rows, cols;
    size_t group_bytes; /* bytes per group of 8 rows */
    void *data;         /* (rows + 7) / 8 groups, 64-aligned, owned by the struct */
    size_t bytes;
} matmul_packed;

#define MATMUL_PACKED_INIT                                                                         \
    {                                                                                              \
        0, 0, 0, 0, NULL, 0                                                                        \
    }

/* True when `k` has a packed kernel for `type` (then matmul_pack works). */
int matmul_can_pack(const matmul_kernels *k, uint32_t type);
/* Bytes matmul_pack allocates for these dimensions (0: type without a packed layout or
 * cols not a multiple of its block). */
size_t matmul_packed_bytes(uint32_t type, size_t rows, size_t cols);
/* Repacks `rows` rows (w_stride bytes apart, 0 = dense) of `cols` values into `out`
 * (allocated here; free with matmul_packed_release), using n_threads threads. The source
 * may be released afterwards. ERR_UNSUPPORTED when !matmul_can_pack(k, type),
 * ERR_INVALID for bad dimensions, ERR_NOMEM. */
int matmul_pack(const matmul_kernels *k, uint32_t type, const void *w, size_t rows, size_t cols,
                size_t w_stride, int n_threads, matmul_packed *out, err *e);
/* Frees the packed data; safe on MATMUL_PACKED_INIT and twice. */
void matmul_packed_release(matmul_packed *p);

/* One multiply. Strides are in elements; 0 means dense (cols for x, rows for y,
 * qtype_row_bytes for w). x and y must not overlap. */
typedef struct matmul_args {
    uint32_t type; /* weight qtype */
    const void *w; /* (rows, w_stride bytes); ignored when `packed` is set */
    size_t rows, cols;
    size_t w_stride; /* bytes between weight rows; 0 = qtype_row_bytes(type, cols) */
    const float *x;  /* (batch, x_stride) */
    size_t batch;
    size_t x_stride;             /* floats between rows of x; 0 = cols */
    float *y;                    /* (batch, y_stride) */
    size_t y_stride;             /* floats between rows of y; 0 = rows */
    const matmul_packed *packed; /* NULL, or these weights repacked (type, rows, cols equal) */
} matmul_args;

/* Checks a multiply: supported type, cols a multiple of its block, strides and alignment,
 * scratch large enough. 0 or ERR_INVALID / ERR_UNSUPPORTED / ERR_LIMIT with the reason. */
int matmul_check(const matmul_kernels *k, const matmul_args *mm, const matmul_ws *ws, err *e);
/* Checks, then runs with n_threads OpenMP threads (<= 1: the calling thread alone, also
 * from inside a parallel region, e.g. one multiply per thread with a workspace each). */
int matmul_run(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws, int n_threads,
               err *e);
/* Runs with the current OpenMP team (call from every thread of it, or outside any parallel
 * region); the arguments must have passed matmul_check. */
void matmul_run_team(const matmul_kernels *k, const matmul_args *mm, matmul_ws *ws);

/* Memory bandwidth, the decode ceiling (PERF.md): read = sum over a buffer, triad =
 * a[i] = b[i] + s c[i] counted as 3 streams (STREAM's convention); GB = 1e9 bytes. */
typedef struct matmul_bandwidth {
    double read_gbs;
    double triad_gbs;
    size_t bytes; /* total bytes of the buffers used */
    int threads;
} matmul_bandwidth;

/* Measures over `bytes` of memory (at least 1 GiB to defeat the caches; smaller values are
 * for tests), best of `reps`, with n_threads threads. Allocates and frees its buffers;
 * ERR_NOMEM when it cannot, ERR_INVALID for bytes < 1 MiB or reps < 1. */
int matmul_measure_bandwidth(size_t bytes, int reps, int n_threads, matmul_bandwidth *out, err *e);

#endif
