/* matmul_x86_tmpl.c: the x86 SIMD gemm kernels, built once per ISA level.
 *
 * backends/meson.build compiles this file four times, with the -m flags of a level
 * (avx2, avx512, avx512vnni, avx512bf16), MATMUL_SUFFIX naming it and MATMUL_LEVEL its
 * enum matmul_isa value; the compiler's own __AVX512F__ / __AVX512VNNI__ / __AVX512BF16__
 * macros pick the instructions below. Each build exports one matmul_fill_<suffix>.
 *
 * Every kernel is a tile: RW weight rows x RB activation rows, one f32 accumulator
 * vector per (row, activation) pair. A weight block is loaded and unpacked once per tile
 * and serves the RB activation rows; the activation block serves the RW weight rows.
 * Each pair runs the same instruction sequence whatever the tile shape, so results do
 * not depend on the batch size or on how rows are split across threads.
 *
 * Integer dots: weights enter as unsigned bytes, activations as signed bytes (|a| <= 127
 * from our quantizers, |w| <= 128 after the sign trick), so vpmaddubsw never saturates;
 * vpdpbusd (VNNI) and vpmaddubsw+vpmaddwd(1) give the same eight i32 lanes (lane i sums
 * bytes 4i..4i+3), hence the same f32 results.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "backends/matmul_impl.h"

#if !defined(MATMUL_SUFFIX) || !defined(MATMUL_LEVEL)
#error "matmul_x86_tmpl.c is built by backends/meson.build with MATMUL_SUFFIX and MATMUL_LEVEL"
#endif

#define CAT2_(a, b) a##_##b
#define CAT_(a, b)  CAT2_(a, b)
#define FN(name)    CAT_(name, MATMUL_SUFFIX)
#define AI          static inline __attribute__((always_inline))

/* Largest tile any kernel below uses. */
#define MAXRW 4
#define MAXRB 4

/* Tile shapes per kernel: rows for a single activation row (decode), then rows x
 * activation rows for batches. AVX-512 builds have 32 vector registers, AVX2 16. */
#if defined(__AVX512F__)
#define T_Q8_0 4, 4, 3
#define T_Q4_0 4, 4, 3
#define T_Q4_K 2, 2, 4
#define T_Q6_K 2, 2, 4
#define T_FLT  4, 4, 3
#else
#define T_Q8_0 4, 2, 3
#define T_Q4_0 4, 2, 3
#define T_Q4_K 2, 1, 4
#define T_Q6_K 2, 1, 4
#define T_FLT  4, 2, 4
#endif

/* ==== helpers ========================================================================== */

AI float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* acc + (per i32 lane) sum of 4 products u8 * i8 */
AI __m256i dot_acc(__m256i acc, __m256i u, __m256i s)
{
#if defined(__AVX512VNNI__)
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc,
                            _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

/* Per i32 lane: sum of 4 products u8 * i8, each pair sum times the i16 `scale` lane. */
AI __m256i dot_scaled(__m256i u, __m256i s, __m256i scale16)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16);
}

/* Q4_0 needs sum (nib - 8) a = sum nib a - 8 sum a; `prep` carries the 8 sum a part,
 * computed once per activation block and shared by the tile's weight rows. */
AI __m256i q40_prep(__m256i aq)
{
#if defined(__AVX512VNNI__)
    return _mm256_sub_epi32(_mm256_setzero_si256(),
                            _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), aq));
#else
    return _mm256_maddubs_epi16(_mm256_set1_epi8(8), aq);
#endif
}

AI __m256i q40_dot(__m256i wq, __m256i aq, __m256i prep)
{
#if defined(__AVX512VNNI__)
    return _mm256_dpbusd_epi32(prep, wq, aq);
#else
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(wq, aq), prep),
                             _mm256_set1_epi16(1));
#endif
}

/* 16 bytes of legacy nibbles -> 32 bytes: values 0..15 (low nibbles), then 16..31. */
AI __m256i unpack_nibbles32(const uint8_t *qs)
{
    __m128i x = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* ==== Q8_0 weights . Q8_0 activations ================================================== */

AI void tile_q8_0(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                  const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m256 acc[MAXRW][MAXRB];
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) acc[r][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / 32; i++) {
        __m256i wq[MAXRW], wu[MAXRW];
        float dw[MAXRW];
        for (int r = 0; r < RW; r++) {
            const block_q8_0 *bw = (const block_q8_0 *)(w + r * ws) + i;
            wq[r] = _mm256_loadu_si256((const __m256i *)bw->qs);
            wu[r] = _mm256_sign_epi8(wq[r], wq[r]); /* |w| as u8 (-128 -> 128) */
            dw[r] = h2f(bw->d);
        }
        for (int b = 0; b < RB; b++) {
            const block_q8_0 *ba = (const block_q8_0 *)(a + b * as) + i;
            __m256i aq = _mm256_loadu_si256((const __m256i *)ba->qs);
            float da = h2f(ba->d);
            for (int r = 0; r < RW; r++) {
                /* sum w a = sum |w| (a sign(w)) */
                __m256i s = dot_acc(_mm256_setzero_si256(), wu[r], _mm256_sign_epi8(aq, wq[r]));
                acc[r][b] =
                    _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * da), _mm256_cvtepi32_ps(s), acc[r][b]);
            }
        }
    }
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) y[b * ys + r] = hsum256(acc[r][b]);
}

/* ==== Q4_0 weights . Q8_0 activations ================================================== */

AI void tile_q4_0(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                  const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m256 acc[MAXRW][MAXRB];
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) acc[r][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / 32; i++) {
        __m256i wq[MAXRW];
        float dw[MAXRW];
        for (int r = 0; r < RW; r++) {
            const block_q4_0 *bw = (const block_q4_0 *)(w + r * ws) + i;
            wq[r] = unpack_nibbles32(bw->qs);
            dw[r] = h2f(bw->d);
        }
        for (int b = 0; b < RB; b++) {
            const block_q8_0 *ba = (const block_q8_0 *)(a + b * as) + i;
            __m256i aq = _mm256_loadu_si256((const __m256i *)ba->qs);
            __m256i prep = q40_prep(aq);
            float da = h2f(ba->d);
            for (int r = 0; r < RW; r++) {
                /* d_w d_a sum (nib - 8) a */
                __m256i s = q40_dot(wq[r], aq, prep);
                acc[r][b] =
                    _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * da), _mm256_cvtepi32_ps(s), acc[r][b]);
            }
        }
    }
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) y[b * ys + r] = hsum256(acc[r][b]);
}

/* ==== Q4_K weights . Q8_K activations ================================================== */

/* The 12 scale bytes -> 8 scales and 8 mins as u16 (scales[0..7], mins[8..15]), and the
 * mins doubled up (m0 m0 m1 m1 ... m7 m7) for vpmaddwd with the 16 bsums. */
AI void q4k_scales(const uint8_t *b, uint16_t sm[16], __m256i *mins_pairs)
{
    uint32_t u[3];
    memcpy(u, b, 12);
    uint32_t sc_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
    uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u);
    uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u);
    __m128i v = _mm_set_epi32((int)m_hi, (int)m_lo, (int)sc_hi, (int)sc_lo);
    _mm256_storeu_si256((__m256i *)sm, _mm256_cvtepu8_epi16(v));
    __m128i m8 = _mm_unpackhi_epi64(v, v);
    *mins_pairs = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
}

AI void tile_q4_k(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                  const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m256 acc[MAXRW][MAXRB];
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) acc[r][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const block_q4_K *bw[MAXRW];
        const block_q8_K *ba[MAXRB];
        uint16_t sm[MAXRW][16];
        __m256i mins[MAXRW], isum[MAXRW][MAXRB];
        float dw[MAXRW], mw[MAXRW];
        for (int r = 0; r < RW; r++) {
            bw[r] = (const block_q4_K *)(w + r * ws) + i;
            q4k_scales(bw[r]->scales, sm[r], &mins[r]);
            dw[r] = h2f(bw[r]->d);
            mw[r] = h2f(bw[r]->dmin);
        }
        for (int b = 0; b < RB; b++) {
            ba[b] = (const block_q8_K *)(a + b * as) + i;
            __m256i bs = _mm256_loadu_si256((const __m256i *)ba[b]->bsums);
            for (int r = 0; r < RW; r++) {
                /* min part: - dmin_w d_a sum_s m_s (bsums_2s + bsums_2s+1) */
                __m256i ms = _mm256_madd_epi16(bs, mins[r]);
                acc[r][b] = _mm256_fnmadd_ps(_mm256_set1_ps(mw[r] * ba[b]->d),
                                             _mm256_cvtepi32_ps(ms), acc[r][b]);
                isum[r][b] = _mm256_setzero_si256();
            }
        }
        for (int p = 0; p < 4; p++) {
            /* sub-blocks 2p (low nibbles) and 2p+1 (high nibbles) share 32 bytes */
            __m256i lo[MAXRW], hi[MAXRW], slo[MAXRW], shi[MAXRW];
            for (int r = 0; r < RW; r++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(bw[r]->qs + 32 * p));
                lo[r] = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
                hi[r] = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
                slo[r] = _mm256_set1_epi16((short)sm[r][2 * p]);
                shi[r] = _mm256_set1_epi16((short)sm[r][2 * p + 1]);
            }
            for (int b = 0; b < RB; b++) {
                __m256i alo = _mm256_loadu_si256((const __m256i *)(ba[b]->qs + 64 * p));
                __m256i ahi = _mm256_loadu_si256((const __m256i *)(ba[b]->qs + 64 * p + 32));
                for (int r = 0; r < RW; r++) {
                    /* sum_s sc_s sum q a */
                    __m256i t = _mm256_add_epi32(dot_scaled(lo[r], alo, slo[r]),
                                                 dot_scaled(hi[r], ahi, shi[r]));
                    isum[r][b] = _mm256_add_epi32(isum[r][b], t);
                }
            }
        }
        for (int r = 0; r < RW; r++)
            for (int b = 0; b < RB; b++)
                acc[r][b] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * ba[b]->d),
                                            _mm256_cvtepi32_ps(isum[r][b]), acc[r][b]);
    }
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) y[b * ys + r] = hsum256(acc[r][b]);
}

/* ==== Q6_K weights . Q8_K activations ================================================== */

/* vpshufb controls: run j (32 values = groups 2j, 2j+1) takes scale byte 2j for its first
 * 8 pair sums (16 values) and 2j+1 for the next 8. */
static const uint8_t q6k_scale_ctrl[8][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
    {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},
    {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
    {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};

/* The 32 unsigned 6-bit values (q + 32) of run k of half h. */
AI __m256i q6k_run(const block_q6_K *bw, int h, int k)
{
    __m256i ql = _mm256_loadu_si256((const __m256i *)(bw->ql + 64 * h + 32 * (k & 1)));
    __m256i qh = _mm256_loadu_si256((const __m256i *)(bw->qh + 32 * h));
    __m256i lo = (k >> 1) ? _mm256_srli_epi16(ql, 4) : ql;
    lo = _mm256_and_si256(lo, _mm256_set1_epi8(0x0f));
    /* bits 2k..2k+1 of qh to bits 4..5 */
    __m256i hi = k == 0   ? _mm256_slli_epi16(qh, 4)
                 : k == 1 ? _mm256_slli_epi16(qh, 2)
                 : k == 2 ? qh
                          : _mm256_srli_epi16(qh, 2);
    hi = _mm256_and_si256(hi, _mm256_set1_epi8(0x30));
    return _mm256_or_si256(lo, hi);
}

AI void tile_q6_k(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                  const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m256 acc[MAXRW][MAXRB];
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) acc[r][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const block_q6_K *bw[MAXRW];
        const block_q8_K *ba[MAXRB];
        __m128i sc8[MAXRW];
        __m256i isum[MAXRW][MAXRB];
        float dw[MAXRW];
        for (int r = 0; r < RW; r++) {
            bw[r] = (const block_q6_K *)(w + r * ws) + i;
            sc8[r] = _mm_loadu_si128((const __m128i *)bw[r]->scales);
            dw[r] = h2f(bw[r]->d);
        }
        for (int b = 0; b < RB; b++) {
            ba[b] = (const block_q8_K *)(a + b * as) + i;
            __m256i bs = _mm256_loadu_si256((const __m256i *)ba[b]->bsums);
            for (int r = 0; r < RW; r++) {
                /* the -32 offset of q: start from -32 sum_g scales_g bsums_g */
                __m256i o = _mm256_madd_epi16(bs, _mm256_cvtepi8_epi16(sc8[r]));
                isum[r][b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(o, 5));
            }
        }
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++) {
                __m256i q[MAXRW], s16[MAXRW];
                for (int r = 0; r < RW; r++) {
                    q[r] = q6k_run(bw[r], h, k);
                    __m128i ctrl = _mm_loadu_si128((const __m128i *)q6k_scale_ctrl[4 * h + k]);
                    s16[r] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8[r], ctrl));
                }
                for (int b = 0; b < RB; b++) {
                    __m256i av =
                        _mm256_loadu_si256((const __m256i *)(ba[b]->qs + 128 * h + 32 * k));
                    for (int r = 0; r < RW; r++)
                        isum[r][b] = _mm256_add_epi32(isum[r][b], dot_scaled(q[r], av, s16[r]));
                }
            }
        for (int r = 0; r < RW; r++)
            for (int b = 0; b < RB; b++)
                acc[r][b] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * ba[b]->d),
                                            _mm256_cvtepi32_ps(isum[r][b]), acc[r][b]);
    }
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) y[b * ys + r] = hsum256(acc[r][b]);
}

/* ==== float weights: F32 . F32, F16 . F16, BF16 . BF16 ================================== */

enum { K_F32, K_F16, K_BF16 };

#if defined(__AVX512F__)
typedef __m512 vflt;
#define VL            16
#define vzero()       _mm512_setzero_ps()
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vhsum(v)      _mm512_reduce_add_ps(v)

/* VL values from p (elements), the first `cnt` of them (rest 0). */
AI vflt load_flt(const int KIND, const void *p, size_t i, int cnt)
{
    if (KIND == K_F32) {
        const float *f = (const float *)p + i;
        return cnt == VL ? _mm512_loadu_ps(f)
                         : _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1), f);
    }
    const uint16_t *h = (const uint16_t *)p + i;
    __m256i v = cnt == VL ? _mm256_loadu_si256((const __m256i *)h)
                          : _mm256_maskz_loadu_epi16((__mmask16)((1u << cnt) - 1), h);
    if (KIND == K_F16) return _mm512_cvtph_ps(v);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}
#else
typedef __m256 vflt;
#define VL            8
#define vzero()       _mm256_setzero_ps()
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vhsum(v)      hsum256(v)

AI vflt load_flt(const int KIND, const void *p, size_t i, int cnt)
{
    if (cnt < VL) {
        /* tail: copy into a zeroed block of VL elements */
        uint8_t tmp[VL * 4];
        size_t es = KIND == K_F32 ? 4 : 2;
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, (const uint8_t *)p + i * es, (size_t)cnt * es);
        return load_flt(KIND, tmp, 0, VL);
    }
    if (KIND == K_F32) return _mm256_loadu_ps((const float *)p + i);
    __m128i v = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    if (KIND == K_F16) return _mm256_cvtph_ps(v);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}
#endif

AI void tile_flt(const int KIND, const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                 const uint8_t *a, size_t as, float *y, size_t ys)
{
    vflt acc[MAXRW][MAXRB];
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) acc[r][b] = vzero();
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        vflt wv[MAXRW];
        for (int r = 0; r < RW; r++) wv[r] = load_flt(KIND, w + r * ws, i, VL);
        for (int b = 0; b < RB; b++) {
            vflt av = load_flt(KIND, a + b * as, i, VL);
            for (int r = 0; r < RW; r++) acc[r][b] = vfma(wv[r], av, acc[r][b]);
        }
    }
    if (i < n) {
        int cnt = (int)(n - i);
        for (int r = 0; r < RW; r++) {
            vflt wv = load_flt(KIND, w + r * ws, i, cnt);
            for (int b = 0; b < RB; b++)
                acc[r][b] = vfma(wv, load_flt(KIND, a + b * as, i, cnt), acc[r][b]);
        }
    }
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) y[b * ys + r] = vhsum(acc[r][b]);
}

AI void tile_f32(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                 const uint8_t *a, size_t as, float *y, size_t ys)
{
    tile_flt(K_F32, RW, RB, n, w, ws, a, as, y, ys);
}

AI void tile_f16(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                 const uint8_t *a, size_t as, float *y, size_t ys)
{
    tile_flt(K_F16, RW, RB, n, w, ws, a, as, y, ys);
}

#if defined(__AVX512BF16__)
/* vdpbf16ps: per f32 lane, acc += w0 a0 + w1 a1 over bf16 pairs (denormals as zero). */
AI __m512i load_bf16x32(const uint8_t *p, size_t i, size_t n)
{
    const uint16_t *h = (const uint16_t *)p + i;
    if (i + 32 <= n) return _mm512_loadu_si512((const void *)h);
    return _mm512_maskz_loadu_epi16((__mmask32)((1ull << (n - i)) - 1), h);
}

AI void tile_bf16(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                  const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m512 acc[MAXRW][MAXRB];
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) acc[r][b] = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 32) {
        __m512i wv[MAXRW];
        for (int r = 0; r < RW; r++) wv[r] = load_bf16x32(w + r * ws, i, n);
        for (int b = 0; b < RB; b++) {
            __m512i av = load_bf16x32(a + b * as, i, n);
            for (int r = 0; r < RW; r++)
                acc[r][b] = _mm512_dpbf16_ps(acc[r][b], (__m512bh)wv[r], (__m512bh)av);
        }
    }
    for (int r = 0; r < RW; r++)
        for (int b = 0; b < RB; b++) y[b * ys + r] = _mm512_reduce_add_ps(acc[r][b]);
}
#else
AI void tile_bf16(const int RW, const int RB, size_t n, const uint8_t *w, size_t ws,
                  const uint8_t *a, size_t as, float *y, size_t ys)
{
    tile_flt(K_BF16, RW, RB, n, w, ws, a, as, y, ys);
}
#endif

/* ==== drivers: tiles over rows (outer) and activation rows (inner) ===================== */

#define GEMM_(name, tile, RW1, RWN, RBN)                                                           \
    static void FN(name)(size_t n, const void *w, size_t ws, size_t nr, const void *a, size_t as,  \
                         size_t nb, float *y, size_t ys)                                           \
    {                                                                                              \
        const uint8_t *W = w, *A = a;                                                              \
        size_t r = 0;                                                                              \
        if (nb == 1) {                                                                             \
            for (; r + RW1 <= nr; r += RW1) tile(RW1, 1, n, W + r * ws, ws, A, as, y + r, ys);     \
            for (; r < nr; r++) tile(1, 1, n, W + r * ws, ws, A, as, y + r, ys);                   \
            return;                                                                                \
        }                                                                                          \
        for (; r + RWN <= nr; r += RWN) {                                                          \
            size_t b = 0;                                                                          \
            for (; b + RBN <= nb; b += RBN)                                                        \
                tile(RWN, RBN, n, W + r * ws, ws, A + b * as, as, y + b * ys + r, ys);             \
            for (; b < nb; b++)                                                                    \
                tile(RWN, 1, n, W + r * ws, ws, A + b * as, as, y + b * ys + r, ys);               \
        }                                                                                          \
        for (; r < nr; r++) {                                                                      \
            size_t b = 0;                                                                          \
            for (; b + RBN <= nb; b += RBN)                                                        \
                tile(1, RBN, n, W + r * ws, ws, A + b * as, as, y + b * ys + r, ys);               \
            for (; b < nb; b++) tile(1, 1, n, W + r * ws, ws, A + b * as, as, y + b * ys + r, ys); \
        }                                                                                          \
    }
#define GEMM(name, tile, shape) GEMM_(name, tile, shape)

GEMM(gemm_q8_0, tile_q8_0, T_Q8_0)
GEMM(gemm_q4_0, tile_q4_0, T_Q4_0)
GEMM(gemm_q4_k, tile_q4_k, T_Q4_K)
GEMM(gemm_q6_k, tile_q6_k, T_Q6_K)
GEMM(gemm_f32, tile_f32, T_FLT)
GEMM(gemm_f16, tile_f16, T_FLT)
GEMM(gemm_bf16, tile_bf16, T_FLT)

static void set_gemm(matmul_kernels *k, uint32_t type, matmul_gemm_fn fn)
{
    k->type[type].gemm = fn;
    k->type[type].isa = MATMUL_LEVEL;
}

void FN(matmul_fill)(matmul_kernels *k)
{
    set_gemm(k, QTYPE_Q8_0, FN(gemm_q8_0));
    set_gemm(k, QTYPE_Q4_0, FN(gemm_q4_0));
    set_gemm(k, QTYPE_Q4_K, FN(gemm_q4_k));
    set_gemm(k, QTYPE_Q6_K, FN(gemm_q6_k));
    set_gemm(k, QTYPE_F32, FN(gemm_f32));
    set_gemm(k, QTYPE_F16, FN(gemm_f16));
    set_gemm(k, QTYPE_BF16, FN(gemm_bf16));
}
