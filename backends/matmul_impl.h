/* matmul_impl.h: private to matmul.c and the SIMD kernel files (not for other modules).
 *
 * matmul_x86_tmpl.c is compiled once per ISA level with that level's -m flags and a
 * MATMUL_SUFFIX; each build defines one fill function that overrides the gemm slots it
 * has kernels for. matmul.c calls them in increasing order, after checking the CPU.
 *
 * Packed layouts (matmul_pack): 8 consecutive weight rows are interleaved block by
 * block so that one 32-bit lane of a 256-bit register holds 4 consecutive values of one
 * row: an integer dot product of a register of weights with 4 broadcast activation
 * bytes then advances 8 rows at once, and the per-row f32 results sit in one register
 * already (no horizontal sums). Row group G (rows 8G..8G+7, missing rows zero) stores
 * its blocks 0..nblk-1 back to back. "Chunk c" below is values 4c..4c+3 of a block (or
 * of a sub-block); byte 4j+k of a 32-byte chunk vector is row j, value 4c+k.
 *
 * The packed kernels accumulate per row exactly as the scalar references do (block
 * sums in integers, then sum += (d_w d_a) * sum in f32 with separate multiply and add),
 * so their results equal the references bit for bit.
 */
#ifndef TALLY_BACKENDS_MATMUL_IMPL_H
#define TALLY_BACKENDS_MATMUL_IMPL_H

#include <stddef.h>

#include "backends/matmul.h"

/* ---- packed weights, 8 rows ----------------------------------------------------------- */

/* Q4_0 x 8: chunk pair c (0..3) at qs[32c]: row j's original qs[4c..4c+3], i.e. low
 * nibbles = values 4c..4c+3, high nibbles = values 16+4c..16+4c+3. */
typedef struct blk_q4_0x8 {
    uint16_t d[8];
    uint8_t qs[128];
} blk_q4_0x8;
static_assert(sizeof(blk_q4_0x8) == 8 * 18, "Q4_0 x 8");

/* Q8_0 x 8: chunk c (0..7) at qs[32c]. */
typedef struct blk_q8_0x8 {
    uint16_t d[8];
    int8_t qs[256];
} blk_q8_0x8;
static_assert(sizeof(blk_q8_0x8) == 8 * 34, "Q8_0 x 8");

/* Q4_K x 8: sc[s] = the 8 rows' scales of sub-block s; m[t] = (m_2t, m_2t+1) of each row
 * (byte 2j, 2j+1), ready for vpmaddwd against activation pair sums; qs[p][c]: chunk c of
 * sub-block pair p, row j's original qs[32p+4c..32p+4c+3] (low nibbles sub-block 2p,
 * high nibbles 2p+1). */
typedef struct blk_q4_kx8 {
    uint16_t d[8], dmin[8];
    uint8_t sc[8][8];
    uint8_t m[4][16];
    uint8_t qs[4][8][32];
} blk_q4_kx8;
static_assert(sizeof(blk_q4_kx8) == 8 * 148, "Q4_K x 8");

/* Q5_K x 8: the Q4_K x 8 fields (same offsets up to m), then qh[c]: row j's original
 * qh[4c..4c+3] (bit s = bit 4 of the value of sub-block s), placed before qs so that the
 * block is read front to back. */
typedef struct blk_q5_kx8 {
    uint16_t d[8], dmin[8];
    uint8_t sc[8][8];
    uint8_t m[4][16];
    uint8_t qh[8][32];
    uint8_t qs[4][8][32];
} blk_q5_kx8;
static_assert(sizeof(blk_q5_kx8) == 8 * 180, "Q5_K x 8");
static_assert(offsetof(blk_q5_kx8, m) == offsetof(blk_q4_kx8, m), "Q5_K x 8 starts as Q4_K x 8");

/* Q6_K x 8, in the order the kernel reads it (so the hardware prefetcher sees one forward
 * stream): sc[t] = (scales_2t, scales_2t+1) of each row (byte 2j, 2j+1); then for half h
 * and chunk c three vectors q[h][c][0..2]: row j's original ql[64h+4c..+3] (low nibbles
 * run 0, high run 2), ql[64h+32+4c..+3] (runs 1 and 3) and qh[32h+4c..+3] (bit pair k =
 * run k). */
typedef struct blk_q6_kx8 {
    uint16_t d[8];
    int8_t sc[8][16];
    uint8_t q[2][8][3][32];
} blk_q6_kx8;
static_assert(sizeof(blk_q6_kx8) == 8 * 210, "Q6_K x 8");

/* ---- activations for the packed kernels ---------------------------------------------- */

/* A Q8_0 block (same q and d as quant_quantize_act_q8_0_ref) with d as f32 and the
 * corrections the unsigned-times-signed dot products need. */
typedef struct act_q8_0x {
    float d;           /* the f16 d, converted exactly */
    int32_t neg8sum;   /* -8 sum q (Q4_0: sum (nib - 8) q = sum nib q - 8 sum q) */
    int32_t neg128sum; /* -128 sum q (Q8_0 on VNNI: sum (w + 128) q - 128 sum q) */
    int32_t sum;
    int8_t qs[32];
} act_q8_0x;
static_assert(sizeof(act_q8_0x) == 48, "act Q8_0 x");

/* A Q8_K block (as quant_quantize_act_q8_k_ref) with the pair sums of its bsums. */
typedef struct act_q8_kx {
    float d;
    int16_t bsums[16];
    int16_t psums[8]; /* bsums[2s] + bsums[2s+1]: the sum of q over 32-sub-block s */
    int8_t qs[256];
    uint8_t pad[12];
} act_q8_kx;
static_assert(sizeof(act_q8_kx) == 320, "act Q8_K x");

#if defined(MATMUL_X86)
void matmul_fill_avx2(matmul_kernels *k);
void matmul_fill_avx512(matmul_kernels *k);
void matmul_fill_avx512vnni(matmul_kernels *k);
void matmul_fill_avx512bf16(matmul_kernels *k);
#endif

#endif
