/* quant.c: scalar reference kernels for every block format (GGUF_FORMAT.md sections 3, 4). */
#include "backends/quant.h"

#include <math.h>

const int8_t quant_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* ==== f16, bf16, rounding ============================================================== */

float quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    float f;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in f32 */
        f = (float)man * 0x1p-24f;
        memcpy(&bits, &f, sizeof bits);
        bits |= sign;
    } else if (exp == 31) {
        /* infinity, or a NaN made quiet as vcvtph2ps does */
        bits = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff)); /* NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {
        /* below 2^-14: the result is a subnormal m * 2^-24 (or zero) */
        if (ax < 0x33000000u) return sign; /* below 2^-25: rounds to zero */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u; /* value = m * 2^(e-150) */
        uint32_t shift = 126 - e;                  /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    /* normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits;
     * a carry into the exponent is the correct result */
    uint32_t r = (ax >> 13) - (112u << 10);
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

float quant_round_half_even(float v)
{
    float r = roundf(v); /* ties away from zero */
    if (fabsf(v - truncf(v)) == 0.5f) r = 2.0f * roundf(v * 0.5f);
    return r;
}

/* A rounded float to an int in [lo, hi]; NaN gives 0 (never undefined behaviour). */
static inline int clamp_int(float v, int lo, int hi)
{
    if (!(v == v)) return 0;
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}

static inline float f16(uint16_t h)
{
    return quant_f16_to_f32(h);
}

/* ==== unpacking helpers shared by dequantize and vec_dot ================================ */

/* Legacy nibble layout: value v in nibble v/16 of qs[v % 16]. */
static inline int nib(const uint8_t *qs, int v)
{
    return (qs[v & 15] >> (4 * (v >> 4))) & 15;
}

static inline uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void quant_unpack_scales_k4(const uint8_t b[12], uint8_t sc[8], uint8_t m[8])
{
    for (int s = 0; s < 4; s++) {
        sc[s] = b[s] & 63;
        m[s] = b[s + 4] & 63;
    }
    for (int s = 4; s < 8; s++) {
        sc[s] = (uint8_t)((b[s + 4] & 15) | ((b[s - 4] >> 6) << 4));
        m[s] = (uint8_t)((b[s + 4] >> 4) | ((b[s] >> 6) << 4));
    }
}

/* Q2_K: 2-bit value v (0..3). */
static inline int q2k_q(const block_q2_K *b, int v)
{
    int h = v >> 7, j = (v >> 5) & 3, l = v & 31;
    return (b->qs[32 * h + l] >> (2 * j)) & 3;
}

/* Q3_K: signed value v (-4..3) and signed scale of group g (-32..31). */
static inline int q3k_q(const block_q3_K *b, int v)
{
    int h = v >> 7, j = (v >> 5) & 3, l = v & 31;
    int lo = (b->qs[32 * h + l] >> (2 * j)) & 3;
    int hb = (b->hmask[v & 31] >> (v >> 5)) & 1;
    return hb ? lo : lo - 4;
}

static inline int q3k_scale(const block_q3_K *b, int g)
{
    int u = ((b->scales[g & 7] >> (4 * (g >> 3))) & 15) |
            (((b->scales[8 + (g & 3)] >> (2 * (g >> 2))) & 3) << 4);
    return u - 32;
}

/* Q4_K / Q5_K: the 4-bit part of value v. */
static inline int q4k_nib(const uint8_t *qs, int v)
{
    return (qs[32 * (v >> 6) + (v & 31)] >> (4 * ((v >> 5) & 1))) & 15;
}

/* Q6_K: signed value v (-32..31). */
static inline int q6k_q(const block_q6_K *b, int v)
{
    int n = v >> 7, k = (v >> 5) & 3, l = v & 31;
    int lo = (b->ql[64 * n + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15;
    int hi = (b->qh[32 * n + l] >> (2 * k)) & 3;
    return (lo | (hi << 4)) - 32;
}

/* IQ4_XS: signed scale of sub-block s (-32..31). */
static inline int iq4xs_scale(const block_iq4_xs *b, int s)
{
    int ls = ((b->scales_l[s >> 1] >> (4 * (s & 1))) & 15) | (((b->scales_h >> (2 * s)) & 3) << 4);
    return ls - 32;
}

/* ==== dequantize ======================================================================= */

void quant_dequantize_f32_ref(const void *src, float *dst, size_t n)
{
    memcpy(dst, src, n * sizeof(float));
}

void quant_dequantize_f16_ref(const void *src, float *dst, size_t n)
{
    const uint16_t *x = src;
    for (size_t i = 0; i < n; i++) dst[i] = f16(x[i]);
}

void quant_dequantize_bf16_ref(const void *src, float *dst, size_t n)
{
    const uint16_t *x = src;
    for (size_t i = 0; i < n; i++) dst[i] = quant_bf16_to_f32(x[i]);
}

void quant_dequantize_q4_0_ref(const void *src, float *dst, size_t n)
{
    const block_q4_0 *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d);
        for (int v = 0; v < 32; v++) dst[v] = d * (float)(nib(x[i].qs, v) - 8); /* y = d (q - 8) */
    }
}

void quant_dequantize_q4_1_ref(const void *src, float *dst, size_t n)
{
    const block_q4_1 *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d), m = f16(x[i].m);
        for (int v = 0; v < 32; v++) dst[v] = d * (float)nib(x[i].qs, v) + m; /* y = d q + m */
    }
}

void quant_dequantize_q5_0_ref(const void *src, float *dst, size_t n)
{
    const block_q5_0 *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d);
        uint32_t qh = rd_le32(x[i].qh);
        for (int v = 0; v < 32; v++) {
            int q = nib(x[i].qs, v) | (int)((qh >> v) & 1) << 4;
            dst[v] = d * (float)(q - 16); /* y = d (q - 16) */
        }
    }
}

void quant_dequantize_q5_1_ref(const void *src, float *dst, size_t n)
{
    const block_q5_1 *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d), m = f16(x[i].m);
        uint32_t qh = rd_le32(x[i].qh);
        for (int v = 0; v < 32; v++) {
            int q = nib(x[i].qs, v) | (int)((qh >> v) & 1) << 4;
            dst[v] = d * (float)q + m; /* y = d q + m */
        }
    }
}

void quant_dequantize_q8_0_ref(const void *src, float *dst, size_t n)
{
    const block_q8_0 *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d);
        for (int v = 0; v < 32; v++) dst[v] = d * (float)x[i].qs[v];
    }
}

void quant_dequantize_q8_1_ref(const void *src, float *dst, size_t n)
{
    const block_q8_1 *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d);
        for (int v = 0; v < 32; v++) dst[v] = d * (float)x[i].qs[v];
    }
}

void quant_dequantize_q2_k_ref(const void *src, float *dst, size_t n)
{
    const block_q2_K *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        float d = f16(x[i].d), dmin = f16(x[i].dmin);
        for (int v = 0; v < QK_K; v++) {
            int g = v >> 4;
            float dl = d * (float)(x[i].scales[g] & 15), ml = dmin * (float)(x[i].scales[g] >> 4);
            dst[v] = dl * (float)q2k_q(&x[i], v) - ml; /* y = (d sc) q - dmin mn */
        }
    }
}

void quant_dequantize_q3_k_ref(const void *src, float *dst, size_t n)
{
    const block_q3_K *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        float d = f16(x[i].d);
        for (int v = 0; v < QK_K; v++)
            dst[v] = (d * (float)q3k_scale(&x[i], v >> 4)) * (float)q3k_q(&x[i], v);
    }
}

void quant_dequantize_q4_k_ref(const void *src, float *dst, size_t n)
{
    const block_q4_K *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        float d = f16(x[i].d), dmin = f16(x[i].dmin);
        uint8_t sc[8], m[8];
        quant_unpack_scales_k4(x[i].scales, sc, m);
        for (int v = 0; v < QK_K; v++) {
            int s = v >> 5;
            dst[v] = (d * (float)sc[s]) * (float)q4k_nib(x[i].qs, v) - dmin * (float)m[s];
        }
    }
}

void quant_dequantize_q5_k_ref(const void *src, float *dst, size_t n)
{
    const block_q5_K *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        float d = f16(x[i].d), dmin = f16(x[i].dmin);
        uint8_t sc[8], m[8];
        quant_unpack_scales_k4(x[i].scales, sc, m);
        for (int v = 0; v < QK_K; v++) {
            int s = v >> 5;
            int q = q4k_nib(x[i].qs, v) | ((x[i].qh[v & 31] >> s) & 1) << 4;
            dst[v] = (d * (float)sc[s]) * (float)q - dmin * (float)m[s];
        }
    }
}

void quant_dequantize_q6_k_ref(const void *src, float *dst, size_t n)
{
    const block_q6_K *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        float d = f16(x[i].d);
        for (int v = 0; v < QK_K; v++)
            dst[v] = (d * (float)x[i].scales[v >> 4]) * (float)q6k_q(&x[i], v);
    }
}

void quant_dequantize_q8_k_ref(const void *src, float *dst, size_t n)
{
    const block_q8_K *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K)
        for (int v = 0; v < QK_K; v++) dst[v] = x[i].d * (float)x[i].qs[v];
}

void quant_dequantize_iq4_nl_ref(const void *src, float *dst, size_t n)
{
    const block_iq4_nl *x = src;
    for (size_t i = 0; i < n / 32; i++, dst += 32) {
        float d = f16(x[i].d);
        for (int v = 0; v < 32; v++) dst[v] = d * (float)quant_iq4_values[nib(x[i].qs, v)];
    }
}

void quant_dequantize_iq4_xs_ref(const void *src, float *dst, size_t n)
{
    const block_iq4_xs *x = src;
    for (size_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        float d = f16(x[i].d);
        for (int v = 0; v < QK_K; v++) {
            int s = v >> 5;
            float dl = d * (float)iq4xs_scale(&x[i], s);
            dst[v] = dl * (float)quant_iq4_values[nib(x[i].qs + 16 * s, v & 31)];
        }
    }
}

/* ==== activation quantizers (x86 ggml semantics) ======================================= */

/* One 32-value Q8_0/Q8_1 block; returns the f32 d and fills q. */
static float act_block32(const float *x, int8_t *q)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)clamp_int(quant_round_half_even(x[j] * id), -127, 127);
    return d;
}

void quant_quantize_act_q8_0_ref(const float *src, void *dst, size_t n)
{
    block_q8_0 *y = dst;
    for (size_t i = 0; i < n / 32; i++)
        y[i].d = quant_f32_to_f16(act_block32(src + 32 * i, y[i].qs));
}

void quant_quantize_act_q8_1_ref(const float *src, void *dst, size_t n)
{
    block_q8_1 *y = dst;
    for (size_t i = 0; i < n / 32; i++) {
        float d = act_block32(src + 32 * i, y[i].qs);
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += y[i].qs[j];
        y[i].d = quant_f32_to_f16(d);
        y[i].s = quant_f32_to_f16(d * (float)sum);
    }
}

void quant_quantize_act_q8_k_ref(const float *src, void *dst, size_t n)
{
    block_q8_K *y = dst;
    for (size_t i = 0; i < n / QK_K; i++) {
        const float *x = src + QK_K * i;
        /* the element of largest magnitude, first on ties, with its sign */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++)
            y[i].qs[j] = (int8_t)clamp_int(quant_round_half_even(iscale * x[j]), -128, 127);
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)s;
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ==== weight quantizers ================================================================ */

void quant_quantize_f32_ref(const float *src, void *dst, size_t n)
{
    memcpy(dst, src, n * sizeof(float));
}

void quant_quantize_f16_ref(const float *src, void *dst, size_t n)
{
    uint16_t *y = dst;
    for (size_t i = 0; i < n; i++) y[i] = quant_f32_to_f16(src[i]);
}

void quant_quantize_bf16_ref(const float *src, void *dst, size_t n)
{
    uint16_t *y = dst;
    for (size_t i = 0; i < n; i++) y[i] = quant_f32_to_bf16(src[i]);
}

void quant_quantize_q8_0_ref(const float *src, void *dst, size_t n)
{
    block_q8_0 *y = dst;
    for (size_t i = 0; i < n / 32; i++) {
        const float *x = src + 32 * i;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)clamp_int(roundf(x[j] * id), -128, 127);
        y[i].d = quant_f32_to_f16(d);
    }
}

void quant_quantize_q4_0_ref(const float *src, void *dst, size_t n)
{
    block_q4_0 *y = dst;
    for (size_t i = 0; i < n / 32; i++) {
        const float *x = src + 32 * i;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[32];
        for (int j = 0; j < 32; j++) q[j] = (uint8_t)clamp_int(truncf(x[j] * id + 8.5f), 0, 15);
        for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
        y[i].d = quant_f32_to_f16(d);
    }
}

/* Best s for x ~ s * q with integer q in [qmin, qmax], least squares. Tries grids that
 * put the largest-magnitude value at qmin (or qmax) stretched by a few tenths of a
 * step, refits s to the rounded q each time, and keeps the smallest squared error. */
static float fit_symmetric(const float *x, int n, int qmin, int qmax)
{
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax == 0.0f) return 0.0f;
    float best_s = max / (float)qmin, best_err = INFINITY;
    for (int t = -10; t <= 10; t++) {
        /* the grid maps max to qmin - t/10 (negative s side) */
        float target = (float)qmin - 0.1f * (float)t;
        float s0 = max / target;
        double sxq = 0, sqq = 0;
        int q[QK_K];
        for (int i = 0; i < n; i++) {
            q[i] = clamp_int(quant_round_half_even(x[i] / s0), qmin, qmax);
            sxq += (double)x[i] * q[i];
            sqq += (double)q[i] * q[i];
        }
        if (sqq == 0) continue;
        float s = (float)(sxq / sqq);
        double e = 0;
        for (int i = 0; i < n; i++) {
            double r = x[i] - (double)s * q[i];
            e += r * r;
        }
        if (e < best_err) {
            best_err = (float)e;
            best_s = s;
        }
    }
    return best_s;
}

/* Q6_K: per 16-group least-squares scales, then the 16 scales quantized to i8 against
 * one f16 super-scale (the largest group scale maps to -128), then every value
 * requantized with its final scale. */
void quant_quantize_q6_k_ref(const float *src, void *dst, size_t n)
{
    block_q6_K *y = dst;
    for (size_t i = 0; i < n / QK_K; i++) {
        const float *x = src + QK_K * i;
        float gs[16], gmax = 0.0f, gamax = 0.0f;
        for (int g = 0; g < 16; g++) {
            gs[g] = fit_symmetric(x + 16 * g, 16, -32, 31);
            if (fabsf(gs[g]) > gamax) {
                gamax = fabsf(gs[g]);
                gmax = gs[g];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        uint8_t q[QK_K];
        float d = 0.0f;
        if (gamax != 0.0f) {
            float iscale = -128.0f / gmax;
            d = quant_f16_to_f32(quant_f32_to_f16(1.0f / iscale));
        }
        for (int g = 0; g < 16; g++) {
            int sc = d != 0.0f ? clamp_int(quant_round_half_even(gs[g] / d), -128, 127) : 0;
            y[i].scales[g] = (int8_t)sc;
            float eff = d * (float)sc;
            for (int j = 0; j < 16; j++) {
                int v = eff != 0.0f ? clamp_int(quant_round_half_even(x[16 * g + j] / eff), -32, 31)
                                    : 0;
                q[16 * g + j] = (uint8_t)(v + 32);
            }
        }
        for (int v = 0; v < QK_K; v++) {
            int nh = v >> 7, k = (v >> 5) & 3, l = v & 31;
            y[i].ql[64 * nh + 32 * (k & 1) + l] |= (uint8_t)((q[v] & 15) << (4 * (k >> 1)));
            y[i].qh[32 * nh + l] |= (uint8_t)((q[v] >> 4) << (2 * k));
        }
        y[i].d = quant_f32_to_f16(d);
    }
}

/* Best (a, b) for x ~ a q - b with q in [0, qmax], a >= 0, b >= 0 (the block minimum is
 * -b <= 0). Tries ranges stretched around [min(x, 0), max(x)], refits (a, b) by least
 * squares to the rounded q each time, keeps the smallest squared error. */
static void fit_asymmetric(const float *x, int n, int qmax, float *a_out, float *b_out)
{
    float lo = 0.0f, hi = x[0];
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    *a_out = 0.0f;
    *b_out = -lo;
    if (!(hi > lo)) return;
    float best_err = INFINITY;
    for (int t = -6; t <= 12; t++) {
        float a0 = (hi - lo) / ((float)qmax + 0.1f * (float)t);
        if (!(a0 > 0.0f)) continue;
        int q[QK_K];
        double sq = 0, sx = 0, sqq = 0, sqx = 0;
        for (int i = 0; i < n; i++) {
            q[i] = clamp_int(quant_round_half_even((x[i] - lo) / a0), 0, qmax);
            sq += q[i];
            sx += x[i];
            sqq += (double)q[i] * q[i];
            sqx += (double)q[i] * x[i];
        }
        /* least squares for x = a q + c, then b = -c clamped to b >= 0 */
        double det = n * sqq - sq * sq, a, c;
        if (det > 0) {
            a = (n * sqx - sq * sx) / det;
            c = (sx - a * sq) / n;
        } else {
            a = a0;
            c = lo;
        }
        if (c > 0) {
            c = 0;
            a = sqq > 0 ? sqx / sqq : 0;
        }
        if (a < 0) continue;
        double e = 0;
        for (int i = 0; i < n; i++) {
            double r = x[i] - (a * q[i] + c);
            e += r * r;
        }
        if (e < best_err) {
            best_err = (float)e;
            *a_out = (float)a;
            *b_out = (float)-c;
        }
    }
}

/* Q4_K requantization of one super-block for fixed d, dmin (f16 values), 6-bit scales and
 * mins: fills q and returns the squared error. */
static double q4k_assign(const float *x, float d, float dmin, const uint8_t *sc, const uint8_t *m,
                         uint8_t *q)
{
    double e = 0;
    for (int v = 0; v < QK_K; v++) {
        int s = v >> 5;
        float a = d * (float)sc[s], b = dmin * (float)m[s];
        q[v] = (uint8_t)(a > 0.0f ? clamp_int(quant_round_half_even((x[v] + b) / a), 0, 15) : 0);
        double r = (double)x[v] - ((double)a * q[v] - b);
        e += r * r;
    }
    return e;
}

/* Q4_K: per 32-sub-block (scale, min) fits, quantized to 6 bits against the f16 d and
 * dmin of the super-block; then a few rounds of refitting d and dmin by least squares to
 * the integers chosen (x ~ d (sc q) - dmin m), keeping whichever is best. */
void quant_quantize_q4_k_ref(const float *src, void *dst, size_t n)
{
    block_q4_K *y = dst;
    for (size_t i = 0; i < n / QK_K; i++) {
        const float *x = src + QK_K * i;
        float as[8], bs[8], amax = 0.0f, bmax = 0.0f;
        for (int s = 0; s < 8; s++) {
            fit_asymmetric(x + 32 * s, 32, 15, &as[s], &bs[s]);
            amax = fmaxf(amax, as[s]);
            bmax = fmaxf(bmax, bs[s]);
        }
        float d = quant_f16_to_f32(quant_f32_to_f16(amax / 63.0f));
        float dmin = quant_f16_to_f32(quant_f32_to_f16(bmax / 63.0f));
        uint8_t sc[8], m[8], q[QK_K], best_q[QK_K];
        for (int s = 0; s < 8; s++) {
            sc[s] = (uint8_t)(d > 0.0f ? clamp_int(quant_round_half_even(as[s] / d), 0, 63) : 0);
            m[s] =
                (uint8_t)(dmin > 0.0f ? clamp_int(quant_round_half_even(bs[s] / dmin), 0, 63) : 0);
        }
        double best = q4k_assign(x, d, dmin, sc, m, best_q);
        float best_d = d, best_dmin = dmin;
        for (int iter = 0; iter < 3; iter++) {
            /* normal equations for (d, dmin) with u = sc q, w = -m */
            double suu = 0, suw = 0, sww = 0, sux = 0, swx = 0;
            memcpy(q, best_q, sizeof q);
            for (int v = 0; v < QK_K; v++) {
                double u = (double)sc[v >> 5] * q[v], w = -(double)m[v >> 5];
                suu += u * u;
                suw += u * w;
                sww += w * w;
                sux += u * x[v];
                swx += w * x[v];
            }
            double det = suu * sww - suw * suw;
            if (!(det > 0)) break;
            float nd = quant_f16_to_f32(quant_f32_to_f16((float)((sux * sww - swx * suw) / det)));
            float nm = quant_f16_to_f32(quant_f32_to_f16((float)((suu * swx - suw * sux) / det)));
            if (!(nd > 0.0f) || !(nm >= 0.0f)) break;
            double e = q4k_assign(x, nd, nm, sc, m, q);
            if (!(e < best)) break;
            best = e;
            best_d = nd;
            best_dmin = nm;
            memcpy(best_q, q, sizeof q);
            /* with d and dmin fixed, refit each sub-block's integer scale and min */
            uint8_t sc2[8], m2[8];
            for (int s = 0; s < 8; s++) {
                double a = 0, b = 0, c = 0, px = 0, qx = 0; /* x ~ (d q) sc - dmin m */
                for (int j = 0; j < 32; j++) {
                    double u = (double)best_d * best_q[32 * s + j], w = -(double)best_dmin;
                    a += u * u;
                    b += u * w;
                    c += w * w;
                    px += u * x[32 * s + j];
                    qx += w * x[32 * s + j];
                }
                double dt = a * c - b * b;
                sc2[s] = sc[s];
                m2[s] = m[s];
                if (dt > 0) {
                    sc2[s] = (uint8_t)clamp_int(
                        quant_round_half_even((float)((px * c - qx * b) / dt)), 0, 63);
                    m2[s] = (uint8_t)clamp_int(
                        quant_round_half_even((float)((a * qx - b * px) / dt)), 0, 63);
                }
            }
            e = q4k_assign(x, best_d, best_dmin, sc2, m2, q);
            if (e < best) {
                best = e;
                memcpy(sc, sc2, sizeof sc);
                memcpy(m, m2, sizeof m);
                memcpy(best_q, q, sizeof q);
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        for (int s = 0; s < 4; s++) {
            y[i].scales[s] = (uint8_t)(sc[s] | ((sc[s + 4] >> 4) << 6));
            y[i].scales[s + 4] = (uint8_t)(m[s] | ((m[s + 4] >> 4) << 6));
            y[i].scales[s + 8] = (uint8_t)((sc[s + 4] & 15) | ((m[s + 4] & 15) << 4));
        }
        for (int v = 0; v < QK_K; v++)
            y[i].qs[32 * (v >> 6) + (v & 31)] |= (uint8_t)(best_q[v] << (4 * ((v >> 5) & 1)));
        y[i].d = quant_f32_to_f16(best_d);
        y[i].dmin = quant_f32_to_f16(best_dmin);
    }
}

/* ==== dot products (section 4.5) ======================================================= */

float quant_vec_dot_f32_ref(size_t n, const void *w, const void *a)
{
    const float *x = w, *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += x[i] * y[i];
    return sum;
}

float quant_vec_dot_f16_ref(size_t n, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += f16(x[i]) * f16(y[i]);
    return sum;
}

float quant_vec_dot_bf16_ref(size_t n, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += quant_bf16_to_f32(x[i]) * quant_bf16_to_f32(y[i]);
    return sum;
}

float quant_vec_dot_q4_0_ref(size_t n, const void *w, const void *a)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / 32; i++) {
        int s = 0; /* sum (nib - 8) q_a */
        for (int v = 0; v < 32; v++) s += (nib(x[i].qs, v) - 8) * y[i].qs[v];
        sum += (f16(x[i].d) * f16(y[i].d)) * (float)s;
    }
    return sum;
}

float quant_vec_dot_q4_1_ref(size_t n, const void *w, const void *a)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / 32; i++) {
        int s = 0; /* sum nib q_a; the min adds m_w s_a */
        for (int v = 0; v < 32; v++) s += nib(x[i].qs, v) * y[i].qs[v];
        sum += (f16(x[i].d) * f16(y[i].d)) * (float)s + f16(x[i].m) * f16(y[i].s);
    }
    return sum;
}

float quant_vec_dot_q5_0_ref(size_t n, const void *w, const void *a)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / 32; i++) {
        uint32_t qh = rd_le32(x[i].qh);
        int s = 0;
        for (int v = 0; v < 32; v++) {
            int q = nib(x[i].qs, v) | (int)((qh >> v) & 1) << 4;
            s += (q - 16) * y[i].qs[v];
        }
        sum += (f16(x[i].d) * f16(y[i].d)) * (float)s;
    }
    return sum;
}

float quant_vec_dot_q5_1_ref(size_t n, const void *w, const void *a)
{
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / 32; i++) {
        uint32_t qh = rd_le32(x[i].qh);
        int s = 0;
        for (int v = 0; v < 32; v++) {
            int q = nib(x[i].qs, v) | (int)((qh >> v) & 1) << 4;
            s += q * y[i].qs[v];
        }
        sum += (f16(x[i].d) * f16(y[i].d)) * (float)s + f16(x[i].m) * f16(y[i].s);
    }
    return sum;
}

float quant_vec_dot_q8_0_ref(size_t n, const void *w, const void *a)
{
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / 32; i++) {
        int s = 0;
        for (int v = 0; v < 32; v++) s += x[i].qs[v] * y[i].qs[v];
        sum += (f16(x[i].d) * f16(y[i].d)) * (float)s;
    }
    return sum;
}

float quant_vec_dot_iq4_nl_ref(size_t n, const void *w, const void *a)
{
    const block_iq4_nl *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / 32; i++) {
        int s = 0;
        for (int v = 0; v < 32; v++) s += quant_iq4_values[nib(x[i].qs, v)] * y[i].qs[v];
        sum += (f16(x[i].d) * f16(y[i].d)) * (float)s;
    }
    return sum;
}

float quant_vec_dot_q2_k_ref(size_t n, const void *w, const void *a)
{
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / QK_K; i++) {
        /* d_a (d_w sum_g sc_g sum q q_a - dmin_w sum_g mn_g bsums_g) */
        int isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += q2k_q(&x[i], 16 * g + j) * y[i].qs[16 * g + j];
            isum += (x[i].scales[g] & 15) * s;
            msum += (x[i].scales[g] >> 4) * y[i].bsums[g];
        }
        sum += (f16(x[i].d) * y[i].d) * (float)isum - (f16(x[i].dmin) * y[i].d) * (float)msum;
    }
    return sum;
}

float quant_vec_dot_q3_k_ref(size_t n, const void *w, const void *a)
{
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / QK_K; i++) {
        int isum = 0; /* sum_g s_g sum q q_a */
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += q3k_q(&x[i], 16 * g + j) * y[i].qs[16 * g + j];
            isum += q3k_scale(&x[i], g) * s;
        }
        sum += (f16(x[i].d) * y[i].d) * (float)isum;
    }
    return sum;
}

float quant_vec_dot_q4_k_ref(size_t n, const void *w, const void *a)
{
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        quant_unpack_scales_k4(x[i].scales, sc, m);
        int isum = 0, msum = 0;
        for (int s = 0; s < 8; s++) {
            int t = 0;
            for (int j = 0; j < 32; j++) t += q4k_nib(x[i].qs, 32 * s + j) * y[i].qs[32 * s + j];
            isum += sc[s] * t;
            msum += m[s] * (y[i].bsums[2 * s] + y[i].bsums[2 * s + 1]);
        }
        sum += (f16(x[i].d) * y[i].d) * (float)isum - (f16(x[i].dmin) * y[i].d) * (float)msum;
    }
    return sum;
}

float quant_vec_dot_q5_k_ref(size_t n, const void *w, const void *a)
{
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        quant_unpack_scales_k4(x[i].scales, sc, m);
        int isum = 0, msum = 0;
        for (int s = 0; s < 8; s++) {
            int t = 0;
            for (int j = 0; j < 32; j++) {
                int v = 32 * s + j;
                int q = q4k_nib(x[i].qs, v) | ((x[i].qh[j] >> s) & 1) << 4;
                t += q * y[i].qs[v];
            }
            isum += sc[s] * t;
            msum += m[s] * (y[i].bsums[2 * s] + y[i].bsums[2 * s + 1]);
        }
        sum += (f16(x[i].d) * y[i].d) * (float)isum - (f16(x[i].dmin) * y[i].d) * (float)msum;
    }
    return sum;
}

float quant_vec_dot_q6_k_ref(size_t n, const void *w, const void *a)
{
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / QK_K; i++) {
        int isum = 0; /* sum_g scales_g sum q q_a */
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += q6k_q(&x[i], 16 * g + j) * y[i].qs[16 * g + j];
            isum += x[i].scales[g] * s;
        }
        sum += (f16(x[i].d) * y[i].d) * (float)isum;
    }
    return sum;
}

float quant_vec_dot_iq4_xs_ref(size_t n, const void *w, const void *a)
{
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (size_t i = 0; i < n / QK_K; i++) {
        int isum = 0; /* sum_s (ls_s - 32) sum K[nib] q_a */
        for (int s = 0; s < 8; s++) {
            int t = 0;
            for (int j = 0; j < 32; j++)
                t += quant_iq4_values[nib(x[i].qs + 16 * s, j)] * y[i].qs[32 * s + j];
            isum += iq4xs_scale(&x[i], s) * t;
        }
        sum += (f16(x[i].d) * y[i].d) * (float)isum;
    }
    return sum;
}

/* ==== the table ======================================================================== */

/* Indexed by qtype id. To support a type: its block struct, dequantize and vec_dot refs,
 * a row here, and its block size in qtype.c. */
static const quant_traits traits[QTYPE_COUNT] = {
    [QTYPE_F32] = {QTYPE_F32, QTYPE_F32, quant_dequantize_f32_ref, quant_quantize_f32_ref,
                   quant_quantize_f32_ref, quant_vec_dot_f32_ref},
    [QTYPE_F16] = {QTYPE_F16, QTYPE_F16, quant_dequantize_f16_ref, quant_quantize_f16_ref,
                   quant_quantize_f16_ref, quant_vec_dot_f16_ref},
    [QTYPE_BF16] = {QTYPE_BF16, QTYPE_BF16, quant_dequantize_bf16_ref, quant_quantize_bf16_ref,
                    quant_quantize_bf16_ref, quant_vec_dot_bf16_ref},
    [QTYPE_Q4_0] = {QTYPE_Q4_0, QTYPE_Q8_0, quant_dequantize_q4_0_ref, quant_quantize_q4_0_ref,
                    NULL, quant_vec_dot_q4_0_ref},
    [QTYPE_Q4_1] = {QTYPE_Q4_1, QTYPE_Q8_1, quant_dequantize_q4_1_ref, NULL, NULL,
                    quant_vec_dot_q4_1_ref},
    [QTYPE_Q5_0] = {QTYPE_Q5_0, QTYPE_Q8_0, quant_dequantize_q5_0_ref, NULL, NULL,
                    quant_vec_dot_q5_0_ref},
    [QTYPE_Q5_1] = {QTYPE_Q5_1, QTYPE_Q8_1, quant_dequantize_q5_1_ref, NULL, NULL,
                    quant_vec_dot_q5_1_ref},
    [QTYPE_Q8_0] = {QTYPE_Q8_0, QTYPE_Q8_0, quant_dequantize_q8_0_ref, quant_quantize_q8_0_ref,
                    quant_quantize_act_q8_0_ref, quant_vec_dot_q8_0_ref},
    [QTYPE_Q8_1] = {QTYPE_Q8_1, QTYPE_Q8_1, quant_dequantize_q8_1_ref, NULL,
                    quant_quantize_act_q8_1_ref, NULL},
    [QTYPE_Q2_K] = {QTYPE_Q2_K, QTYPE_Q8_K, quant_dequantize_q2_k_ref, NULL, NULL,
                    quant_vec_dot_q2_k_ref},
    [QTYPE_Q3_K] = {QTYPE_Q3_K, QTYPE_Q8_K, quant_dequantize_q3_k_ref, NULL, NULL,
                    quant_vec_dot_q3_k_ref},
    [QTYPE_Q4_K] = {QTYPE_Q4_K, QTYPE_Q8_K, quant_dequantize_q4_k_ref, quant_quantize_q4_k_ref,
                    NULL, quant_vec_dot_q4_k_ref},
    [QTYPE_Q5_K] = {QTYPE_Q5_K, QTYPE_Q8_K, quant_dequantize_q5_k_ref, NULL, NULL,
                    quant_vec_dot_q5_k_ref},
    [QTYPE_Q6_K] = {QTYPE_Q6_K, QTYPE_Q8_K, quant_dequantize_q6_k_ref, quant_quantize_q6_k_ref,
                    NULL, quant_vec_dot_q6_k_ref},
    [QTYPE_Q8_K] = {QTYPE_Q8_K, QTYPE_Q8_K, quant_dequantize_q8_k_ref, NULL,
                    quant_quantize_act_q8_k_ref, NULL},
    [QTYPE_IQ4_NL] = {QTYPE_IQ4_NL, QTYPE_Q8_0, quant_dequantize_iq4_nl_ref, NULL, NULL,
                      quant_vec_dot_iq4_nl_ref},
    [QTYPE_IQ4_XS] = {QTYPE_IQ4_XS, QTYPE_Q8_K, quant_dequantize_iq4_xs_ref, NULL, NULL,
                      quant_vec_dot_iq4_xs_ref},
};

const quant_traits *quant_traits_get(uint32_t type)
{
    if (type >= QTYPE_COUNT || !traits[type].dequantize) return NULL;
    return &traits[type];
}

static int check_row(uint32_t type, size_t n, const quant_traits **t_out, err *e)
{
    const quant_traits *t = quant_traits_get(type);
    const qtype_info *q = qtype_get(type);
    if (!t || !q)
        return err_set(e, ERR_UNSUPPORTED, "quant: type %u (%s) is not supported", type,
                       q ? q->name : "unknown");
    if (n % q->block)
        return err_set(e, ERR_INVALID, "quant: %zu values is not a multiple of the %s block (%u)",
                       n, q->name, q->block);
    *t_out = t;
    return 0;
}

int quant_dequantize_row(uint32_t type, const void *src, float *dst, size_t n, err *e)
{
    const quant_traits *t = NULL;
    int rc = check_row(type, n, &t, e);
    if (rc < 0) return rc;
    t->dequantize(src, dst, n);
    return 0;
}

int quant_quantize_row(uint32_t type, const float *src, void *dst, size_t n, err *e)
{
    const quant_traits *t = NULL;
    int rc = check_row(type, n, &t, e);
    if (rc < 0) return rc;
    if (!t->quantize)
        return err_set(e, ERR_UNSUPPORTED, "quant: cannot write %s weights", qtype_get(type)->name);
    t->quantize(src, dst, n);
    return 0;
}
