/* quant.h: ggml's weight and activation block formats and their scalar reference kernels.
 *
 * The bytes of every block type tally decodes (GGUF_FORMAT.md sections 3
 * and 4), as structs whose sizes are checked at compile time, and for each
 * type the plain scalar kernels that stay forever as the definition of the
 * arithmetic (STYLE.md: every kernel keeps a `*_ref`):
 *
 *   dequantize   block bytes -> f32 values
 *   quantize     f32 weights -> blocks, as llama-quantize does it (F16, BF16,
 *                Q8_0, Q4_0 bit for bit; Q4_K and Q6_K with our own scale search)
 *   quantize_act f32 activations -> the 8/16-bit format ggml's CPU backend feeds
 *                its dot products (Q8_0, Q8_1, Q8_K, F16, BF16), bit for bit
 *                with the x86 build that made the fixtures
 *   vec_dot      one weight row . one activation row, per block in integers
 *                with the section 4.5 identities, summed in f32
 *
 * Nothing here allocates. Row functions take `n`, the number of values, which
 * must be a multiple of the type's block size (qtype_get(type)->block); the
 * typed entry points assume it, quant_dequantize_row / quant_quantize_row
 * check it. Block pointers must be aligned to 2 bytes (4 for F32 and Q8_K),
 * which every GGUF tensor (32-aligned, even row sizes) satisfies.
 *
 * The fast SIMD versions and the matrix multiply live in matmul.h.
 */
#ifndef TALLY_BACKENDS_QUANT_H
#define TALLY_BACKENDS_QUANT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backends/qtype.h"
#include "common/err.h"

#define QK_LEGACY 32  /* values per block of the legacy types and IQ4_NL */
#define QK_K      256 /* values per super-block of the K-quants and IQ4_XS */

/* ---- on-disk blocks (offsets in GGUF_FORMAT.md section 3) ---------------------------- */

/* f16 fields are IEEE binary16 bit patterns (uint16_t); convert with quant_f16_to_f32. */
typedef struct block_q4_0 {
    uint16_t d;     /* scale */
    uint8_t qs[16]; /* value i in the low nibble of qs[i], i+16 in the high one */
} block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "Q4_0 block is 18 bytes");

typedef struct block_q4_1 {
    uint16_t d, m; /* scale, min (added) */
    uint8_t qs[16];
} block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "Q4_1 block is 20 bytes");

typedef struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4]; /* little-endian u32: bit v = bit 4 of value v */
    uint8_t qs[16];
} block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "Q5_0 block is 22 bytes");

typedef struct block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "Q5_1 block is 24 bytes");

typedef struct block_q8_0 {
    uint16_t d;
    int8_t qs[32];
} block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "Q8_0 block is 34 bytes");

typedef struct block_q8_1 {
    uint16_t d;
    uint16_t s; /* f16(d * sum(qs)), with the f32 d (activation only) */
    int8_t qs[32];
} block_q8_1;
static_assert(sizeof(block_q8_1) == 36, "Q8_1 block is 36 bytes");

typedef struct block_q2_K {
    uint8_t scales[16]; /* group g: low nibble scale, high nibble min */
    uint8_t qs[64];     /* byte 32h+l: values 128h+l+32j in bits 2j..2j+1 */
    uint16_t d, dmin;
} block_q2_K;
static_assert(sizeof(block_q2_K) == 84, "Q2_K block is 84 bytes");

typedef struct block_q3_K {
    uint8_t hmask[32];  /* byte v%32, bit v/32: 1 = value is lo, 0 = lo - 4 */
    uint8_t qs[64];     /* low 2 bits, packed as Q2_K */
    uint8_t scales[12]; /* 16 six-bit scales, biased by 32 */
    uint16_t d;
} block_q3_K;
static_assert(sizeof(block_q3_K) == 110, "Q3_K block is 110 bytes");

typedef struct block_q4_K {
    uint16_t d, dmin;
    uint8_t scales[12]; /* 8 six-bit scales and 8 six-bit mins */
    uint8_t qs[128];    /* byte 32p+l: value 64p+l low nibble, 64p+32+l high */
} block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "Q4_K block is 144 bytes");

typedef struct block_q5_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32]; /* byte v%32, bit v/32: bit 4 of value v */
    uint8_t qs[128];
} block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "Q5_K block is 176 bytes");

typedef struct block_q6_K {
    uint8_t ql[128];   /* low 4 bits */
    uint8_t qh[64];    /* high 2 bits */
    int8_t scales[16]; /* one per 16 values */
    uint16_t d;
} block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "Q6_K block is 210 bytes");

typedef struct block_q8_K {
    float d; /* f32, sign opposite to the largest-magnitude input */
    int8_t qs[256];
    int16_t bsums[16]; /* sum of each 16 qs */
} block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "Q8_K block is 292 bytes");

typedef struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[16]; /* nibbles index quant_iq4_values, legacy layout */
} block_iq4_nl;
static_assert(sizeof(block_iq4_nl) == 18, "IQ4_NL block is 18 bytes");

typedef struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h; /* bits 2s..2s+1: high bits of sub-block scale s */
    uint8_t scales_l[4];
    uint8_t qs[128];
} block_iq4_xs;
static_assert(sizeof(block_iq4_xs) == 136, "IQ4_XS block is 136 bytes");

/* The IQ4_NL / IQ4_XS codebook. */
extern const int8_t quant_iq4_values[16];

/* ---- f16 and bf16 -------------------------------------------------------------------- */

/* Exact, including subnormals and infinities; a NaN keeps its payload and comes out
 * quiet (what x86's vcvtph2ps does). */
float quant_f16_to_f32(uint16_t h);
/* Round to nearest, ties to even; overflow gives infinity; NaN stays a quiet NaN with
 * its top payload bits (what x86's vcvtps2ph does). */
uint16_t quant_f32_to_f16(float f);

static inline float quant_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ggml's rounding: NaN -> (bits >> 16) | 0x40, else round to nearest even. */
uint16_t quant_f32_to_bf16(float f);

/* ---- kernel signatures and the per-type table ---------------------------------------- */

/* Block bytes -> n f32 values. */
typedef void (*quant_dequantize_fn)(const void *src, float *dst, size_t n);
/* n f32 values -> block bytes. */
typedef void (*quant_quantize_fn)(const float *src, void *dst, size_t n);
/* One weight row of n values . one activation row of n values (in `act_type`). */
typedef float (*quant_vec_dot_fn)(size_t n, const void *w, const void *a);

typedef struct quant_traits {
    uint32_t type;                  /* qtype id */
    uint32_t act_type;              /* activation format vec_dot expects (QTYPE_Q8_0, ...) */
    quant_dequantize_fn dequantize; /* never NULL for a supported type */
    quant_quantize_fn quantize;     /* weights; NULL when we cannot write this type */
    quant_quantize_fn quantize_act; /* NULL unless this type is an activation format */
    quant_vec_dot_fn vec_dot;       /* NULL for the activation-only Q8_1, Q8_K */
} quant_traits;

/* The row of reference kernels for a type; NULL when tally cannot decode it. */
const quant_traits *quant_traits_get(uint32_t type);

/* Checked generic entry points: ERR_UNSUPPORTED for a type we cannot decode (or write),
 * ERR_INVALID when n is not a multiple of the block size. */
int quant_dequantize_row(uint32_t type, const void *src, float *dst, size_t n, err *e);
int quant_quantize_row(uint32_t type, const float *src, void *dst, size_t n, err *e);

/* ---- the reference kernels, one per type ------------------------------------------- */

void quant_dequantize_f32_ref(const void *src, float *dst, size_t n);
void quant_dequantize_f16_ref(const void *src, float *dst, size_t n);
void quant_dequantize_bf16_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q4_0_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q4_1_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q5_0_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q5_1_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q8_0_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q8_1_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q2_k_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q3_k_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q4_k_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q5_k_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q6_k_ref(const void *src, float *dst, size_t n);
void quant_dequantize_q8_k_ref(const void *src, float *dst, size_t n);
void quant_dequantize_iq4_nl_ref(const void *src, float *dst, size_t n);
void quant_dequantize_iq4_xs_ref(const void *src, float *dst, size_t n);

/* Weight quantizers. F16/BF16/Q8_0/Q4_0 reproduce llama-quantize without an importance
 * matrix bit for bit (Q8_0: d = amax/127, q = round-half-away(x / d); Q4_0: d = max/-8
 * with the signed max, q = min(15, trunc(x / d + 8.5))). Q4_K and Q6_K use our own
 * least-squares scale search: valid blocks, not ggml's bytes, with a squared error no larger
 * than llama-quantize's on the fixture weights (tests/test_quant.c checks it). */
void quant_quantize_f32_ref(const float *src, void *dst, size_t n);
void quant_quantize_f16_ref(const float *src, void *dst, size_t n);
void quant_quantize_bf16_ref(const float *src, void *dst, size_t n);
void quant_quantize_q8_0_ref(const float *src, void *dst, size_t n);
void quant_quantize_q4_0_ref(const float *src, void *dst, size_t n);
void quant_quantize_q4_k_ref(const float *src, void *dst, size_t n);
void quant_quantize_q6_k_ref(const float *src, void *dst, size_t n);

/* Activation quantizers (GGUF_FORMAT.md section 4), as ggml's x86 CPU build:
 * Q8_0: d = amax/127 stored as f16, q = round-half-even(x * (127/amax));
 * Q8_1: the same plus s = f16(d * sum q) with the f32 d;
 * Q8_K: signed max m (first on ties), iscale = -127/m, q = min(127, rne(iscale x)),
 *       d = 1/iscale in f32, bsums per 16;
 * F16 / BF16 / F32: rounding of each value (F32: a copy). */
void quant_quantize_act_q8_0_ref(const float *src, void *dst, size_t n);
void quant_quantize_act_q8_1_ref(const float *src, void *dst, size_t n);
void quant_quantize_act_q8_k_ref(const float *src, void *dst, size_t n);

/* Dot products, weight . activation (act type in brackets); each block's integer sum is
 * exact and scaled in f32 by the product of the two block scales, rows summed in f32. */
float quant_vec_dot_f32_ref(size_t n, const void *w, const void *a);    /* [F32] */
float quant_vec_dot_f16_ref(size_t n, const void *w, const void *a);    /* [F16] */
float quant_vec_dot_bf16_ref(size_t n, const void *w, const void *a);   /* [BF16] */
float quant_vec_dot_q4_0_ref(size_t n, const void *w, const void *a);   /* [Q8_0] */
float quant_vec_dot_q4_1_ref(size_t n, const void *w, const void *a);   /* [Q8_1] */
float quant_vec_dot_q5_0_ref(size_t n, const void *w, const void *a);   /* [Q8_0] */
float quant_vec_dot_q5_1_ref(size_t n, const void *w, const void *a);   /* [Q8_1] */
float quant_vec_dot_q8_0_ref(size_t n, const void *w, const void *a);   /* [Q8_0] */
float quant_vec_dot_q2_k_ref(size_t n, const void *w, const void *a);   /* [Q8_K] */
float quant_vec_dot_q3_k_ref(size_t n, const void *w, const void *a);   /* [Q8_K] */
float quant_vec_dot_q4_k_ref(size_t n, const void *w, const void *a);   /* [Q8_K] */
float quant_vec_dot_q5_k_ref(size_t n, const void *w, const void *a);   /* [Q8_K] */
float quant_vec_dot_q6_k_ref(size_t n, const void *w, const void *a);   /* [Q8_K] */
float quant_vec_dot_iq4_nl_ref(size_t n, const void *w, const void *a); /* [Q8_0] */
float quant_vec_dot_iq4_xs_ref(size_t n, const void *w, const void *a); /* [Q8_K] */

/* Helpers the SIMD kernels share with the references. */

/* Q4_K / Q5_K: the 12 packed bytes -> 8 scales and 8 mins (6 bits each). */
void quant_unpack_scales_k4(const uint8_t packed[12], uint8_t sc[8], uint8_t m[8]);
/* Round to nearest, ties to even, independent of the FP environment. */
float quant_round_half_even(float v);

#endif
