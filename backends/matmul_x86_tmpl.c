/* matmul_x86_tmpl.c: the x86 SIMD kernels, built once per ISA level.
 *
 * backends/meson.build compiles this file four times, with the -m flags of a level
 * (avx2, avx512, avx512vnni, avx512bf16), MATMUL_SUFFIX naming it and MATMUL_LEVEL its
 * enum matmul_isa value; the compiler's own __AVX512F__ / __AVX512VNNI__ / __AVX512BF16__
 * macros pick the instructions below. Each build exports one matmul_fill_<suffix>. In
 * the order the data flows: file-layout tiles, packed-layout tiles, activation
 * quantizers, drivers, the fill function.
 *
 * File layout: a tile is RW weight rows x RB activation rows, one f32 accumulator vector
 * per (row, activation) pair, summed horizontally at the end. A weight block is loaded
 * and unpacked once per tile and serves the RB activation rows; the activation block
 * serves the RW weight rows.
 *
 * Packed layout (matmul_impl.h): a tile is RG groups of 8 rows x RB activation rows; a
 * 32-bit lane is one row, 4 activation bytes are broadcast, and the 8 row sums of a
 * block land in one register, scaled and added in the references' order.
 *
 * Either way each (row, activation) pair runs the same instruction sequence whatever the
 * tile shape, so results do not depend on the batch size or on how rows are split
 * across threads.
 *
 * Integer dots: weights enter as unsigned bytes, activations as signed bytes (|a| <= 127
 * from our quantizers, |w| <= 128 after the sign trick), so vpmaddubsw never saturates
 * (where its i16 pair sums are accumulated further, the comment says why they fit);
 * vpdpbusd (VNNI) and vpmaddubsw+vpmaddwd(1) give the same eight i32 lanes (lane i sums
 * bytes 4i..4i+3), hence the same f32 results. No a*b+c here may become an FMA unless
 * written as one (-ffp-contract=off).
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

/* Tile shapes per kernel: rows (T_) or groups of 8 rows (P_) for a single activation row
 * (decode), then rows x activation rows for batches. AVX-512 builds have 32 vector
 * registers, AVX2 16. Packed decode tiles take one group at a time: the matrix is then
 * read as one forward stream, which the hardware prefetcher serves at ~85-100% of the
 * bandwidth, where four interleaved groups got ~60%. */
#if defined(__AVX512F__)
#define T_Q8_0 4, 4, 3
#define T_Q4_0 4, 4, 3
#define T_Q4_K 2, 2, 4
#define T_Q6_K 2, 2, 4
#define T_FLT  4, 4, 3
#define P_Q4_0 1, 2, 4
#define P_Q8_0 1, 2, 4
#define P_Q4_K 1, 1, 4
#define P_Q6_K 1, 1, 3
#else
#define T_Q8_0 4, 2, 3
#define T_Q4_0 4, 2, 3
#define T_Q4_K 2, 1, 4
#define T_Q6_K 2, 1, 4
#define T_FLT  4, 2, 4
#define P_Q4_0 1, 1, 4
#define P_Q8_0 1, 1, 4
#define P_Q4_K 1, 1, 2
#define P_Q6_K 1, 1, 2
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

/* ==== packed layouts (matmul_impl.h): one row per 32-bit lane ========================== */

#define MAXG 4

/* 4 activation bytes at p broadcast to every lane. */
AI __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Writes the 8 row results of a group, or the first `valid` of them. */
AI void store_rows(float *y, __m256 v, size_t valid)
{
    if (valid >= 8) {
        _mm256_storeu_ps(y, v);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    for (size_t j = 0; j < valid; j++) y[j] = tmp[j];
}

AI size_t group_rows(size_t rows_left, int g)
{
    size_t off = 8 * (size_t)g;
    return rows_left > off ? rows_left - off : 0;
}

/* sum += (d_w d_a) * isum, as the references do it (no fused multiply-add). */
AI __m256 acc_block(__m256 acc, __m256 dw, float da, __m256i isum)
{
    __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(da));
    return _mm256_add_ps(acc, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum)));
}

/* ---- Q4_0 x 8 ---- */

AI void ptile_q4_0(const int RG, const int RB, size_t n, const uint8_t *w, size_t gs,
                   const uint8_t *a, size_t as, float *y, size_t ys, size_t rows_left)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[MAXG][MAXRB];
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++) acc[g][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / 32; i++) {
        const blk_q4_0x8 *bw[MAXG];
        const act_q8_0x *ba[MAXRB];
        for (int g = 0; g < RG; g++) bw[g] = (const blk_q4_0x8 *)(w + g * gs) + i;
        for (int b = 0; b < RB; b++) ba[b] = (const act_q8_0x *)(a + b * as) + i;
#if defined(__AVX512VNNI__)
        /* per row: sum nib a - 8 sum a, the correction as the starting value */
        __m256i slo[MAXG][MAXRB], shi[MAXG][MAXRB];
        for (int g = 0; g < RG; g++)
            for (int b = 0; b < RB; b++) {
                slo[g][b] = _mm256_set1_epi32(ba[b]->neg8sum);
                shi[g][b] = _mm256_setzero_si256();
            }
        for (int c = 0; c < 4; c++) {
            __m256i lo[MAXG], hi[MAXG];
            for (int g = 0; g < RG; g++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(bw[g]->qs + 32 * c));
                lo[g] = _mm256_and_si256(v, m4);
                hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            }
            for (int b = 0; b < RB; b++) {
                __m256i al = bcast4(ba[b]->qs + 4 * c), ah = bcast4(ba[b]->qs + 16 + 4 * c);
                for (int g = 0; g < RG; g++) {
                    slo[g][b] = _mm256_dpbusd_epi32(slo[g][b], lo[g], al);
                    shi[g][b] = _mm256_dpbusd_epi32(shi[g][b], hi[g], ah);
                }
            }
        }
        for (int g = 0; g < RG; g++) {
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)bw[g]->d));
            for (int b = 0; b < RB; b++)
                acc[g][b] =
                    acc_block(acc[g][b], dw, ba[b]->d, _mm256_add_epi32(slo[g][b], shi[g][b]));
        }
#else
        /* vpmaddubsw pair sums are <= 2*15*127; eight of them fit in i16 */
        __m256i s16[MAXG][MAXRB];
        for (int g = 0; g < RG; g++)
            for (int b = 0; b < RB; b++) s16[g][b] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo[MAXG], hi[MAXG];
            for (int g = 0; g < RG; g++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(bw[g]->qs + 32 * c));
                lo[g] = _mm256_and_si256(v, m4);
                hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            }
            for (int b = 0; b < RB; b++) {
                __m256i al = bcast4(ba[b]->qs + 4 * c), ah = bcast4(ba[b]->qs + 16 + 4 * c);
                for (int g = 0; g < RG; g++)
                    s16[g][b] = _mm256_add_epi16(s16[g][b],
                                                 _mm256_add_epi16(_mm256_maddubs_epi16(lo[g], al),
                                                                  _mm256_maddubs_epi16(hi[g], ah)));
            }
        }
        for (int g = 0; g < RG; g++) {
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)bw[g]->d));
            for (int b = 0; b < RB; b++) {
                __m256i s = _mm256_add_epi32(_mm256_madd_epi16(s16[g][b], _mm256_set1_epi16(1)),
                                             _mm256_set1_epi32(ba[b]->neg8sum));
                acc[g][b] = acc_block(acc[g][b], dw, ba[b]->d, s);
            }
        }
#endif
    }
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++)
            store_rows(y + b * ys + 8 * g, acc[g][b], group_rows(rows_left, g));
}

/* ---- Q8_0 x 8 ---- */

AI void ptile_q8_0(const int RG, const int RB, size_t n, const uint8_t *w, size_t gs,
                   const uint8_t *a, size_t as, float *y, size_t ys, size_t rows_left)
{
    __m256 acc[MAXG][MAXRB];
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++) acc[g][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / 32; i++) {
        const blk_q8_0x8 *bw[MAXG];
        const act_q8_0x *ba[MAXRB];
        __m256i s0[MAXG][MAXRB], s1[MAXG][MAXRB];
        for (int g = 0; g < RG; g++) bw[g] = (const blk_q8_0x8 *)(w + g * gs) + i;
        for (int b = 0; b < RB; b++) ba[b] = (const act_q8_0x *)(a + b * as) + i;
        for (int g = 0; g < RG; g++)
            for (int b = 0; b < RB; b++) {
#if defined(__AVX512VNNI__)
                s0[g][b] = _mm256_set1_epi32(ba[b]->neg128sum); /* sum (w + 128) a - 128 sum a */
#else
                s0[g][b] = _mm256_setzero_si256();
#endif
                s1[g][b] = _mm256_setzero_si256();
            }
        for (int c = 0; c < 8; c += 2) {
            __m256i w0[MAXG], w1[MAXG];
            for (int g = 0; g < RG; g++) {
                w0[g] = _mm256_loadu_si256((const __m256i *)(bw[g]->qs + 32 * c));
                w1[g] = _mm256_loadu_si256((const __m256i *)(bw[g]->qs + 32 * c + 32));
            }
#if defined(__AVX512VNNI__)
            for (int g = 0; g < RG; g++) {
                w0[g] = _mm256_xor_si256(w0[g], _mm256_set1_epi8((char)0x80));
                w1[g] = _mm256_xor_si256(w1[g], _mm256_set1_epi8((char)0x80));
            }
            for (int b = 0; b < RB; b++) {
                __m256i a0 = bcast4(ba[b]->qs + 4 * c), a1 = bcast4(ba[b]->qs + 4 * c + 4);
                for (int g = 0; g < RG; g++) {
                    s0[g][b] = _mm256_dpbusd_epi32(s0[g][b], w0[g], a0);
                    s1[g][b] = _mm256_dpbusd_epi32(s1[g][b], w1[g], a1);
                }
            }
#else
            __m256i u0[MAXG], u1[MAXG];
            for (int g = 0; g < RG; g++) {
                u0[g] = _mm256_sign_epi8(w0[g], w0[g]);
                u1[g] = _mm256_sign_epi8(w1[g], w1[g]);
            }
            for (int b = 0; b < RB; b++) {
                __m256i a0 = bcast4(ba[b]->qs + 4 * c), a1 = bcast4(ba[b]->qs + 4 * c + 4);
                for (int g = 0; g < RG; g++) {
                    s0[g][b] = dot_acc(s0[g][b], u0[g], _mm256_sign_epi8(a0, w0[g]));
                    s1[g][b] = dot_acc(s1[g][b], u1[g], _mm256_sign_epi8(a1, w1[g]));
                }
            }
#endif
        }
        for (int g = 0; g < RG; g++) {
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)bw[g]->d));
            for (int b = 0; b < RB; b++)
                acc[g][b] =
                    acc_block(acc[g][b], dw, ba[b]->d, _mm256_add_epi32(s0[g][b], s1[g][b]));
        }
    }
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++)
            store_rows(y + b * ys + 8 * g, acc[g][b], group_rows(rows_left, g));
}

/* ---- Q4_K x 8 and Q5_K x 8 ---- */

/* Bit `bit` of each byte of v moved to bit 4, everything else cleared (Q5_K's fifth bit). */
AI __m256i bit_to_16(__m256i v, int bit)
{
    __m256i t = bit <= 4 ? _mm256_slli_epi16(v, 4 - bit) : _mm256_srli_epi16(v, bit - 4);
    return _mm256_and_si256(t, _mm256_set1_epi8(0x10));
}

AI void ptile_qk45(const int Q5, const int RG, const int RB, size_t n, const uint8_t *w, size_t gs,
                   const uint8_t *a, size_t as, float *y, size_t ys, size_t rows_left)
{
    /* Q5_K x 8 is laid out as Q4_K x 8 with the fifth bits before qs */
    const size_t bs = Q5 ? sizeof(blk_q5_kx8) : sizeof(blk_q4_kx8);

    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[MAXG][MAXRB];
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++) acc[g][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const blk_q4_kx8 *bw[MAXG];
        const act_q8_kx *ba[MAXRB];
        __m256i isum[MAXG][MAXRB], msum[MAXG][MAXRB];
        const uint8_t *qh[MAXG], *qs[MAXG];
        __m256 dw[MAXG], mw[MAXG];
        for (int g = 0; g < RG; g++) {
            bw[g] = (const blk_q4_kx8 *)(w + g * gs + i * bs);
            qh[g] = (const uint8_t *)bw[g] + offsetof(blk_q5_kx8, qh);
            qs[g] =
                (const uint8_t *)bw[g] + (Q5 ? offsetof(blk_q5_kx8, qs) : offsetof(blk_q4_kx8, qs));
            /* the block is read front to back: its scales first */
            dw[g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)bw[g]->d));
            mw[g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)bw[g]->dmin));
        }
        for (int b = 0; b < RB; b++) ba[b] = (const act_q8_kx *)(a + b * as) + i;
        /* mins: per row sum_s m_s (sum of q_a over sub-block s), two sub-blocks per madd */
        for (int g = 0; g < RG; g++)
            for (int b = 0; b < RB; b++) msum[g][b] = isum[g][b] = _mm256_setzero_si256();
        for (int t = 0; t < 4; t++) {
            __m256i mm[MAXG];
            for (int g = 0; g < RG; g++)
                mm[g] = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)bw[g]->m[t]));
            for (int b = 0; b < RB; b++) {
                int32_t pp;
                memcpy(&pp, ba[b]->psums + 2 * t, 4);
                __m256i p = _mm256_set1_epi32(pp);
                for (int g = 0; g < RG; g++)
                    msum[g][b] = _mm256_add_epi32(msum[g][b], _mm256_madd_epi16(mm[g], p));
            }
        }
        for (int p = 0; p < 4; p++) {
#if defined(__AVX512VNNI__)
            __m256i slo[MAXG][MAXRB], shi[MAXG][MAXRB];
            for (int g = 0; g < RG; g++)
                for (int b = 0; b < RB; b++) slo[g][b] = shi[g][b] = _mm256_setzero_si256();
            for (int c = 0; c < 8; c++) {
                __m256i lo[MAXG], hi[MAXG];
                for (int g = 0; g < RG; g++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(qs[g] + 256 * p + 32 * c));
                    lo[g] = _mm256_and_si256(v, m4);
                    hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                    if (Q5) {
                        __m256i hb = _mm256_loadu_si256((const __m256i *)(qh[g] + 32 * c));
                        lo[g] = _mm256_or_si256(lo[g], bit_to_16(hb, 2 * p));
                        hi[g] = _mm256_or_si256(hi[g], bit_to_16(hb, 2 * p + 1));
                    }
                }
                for (int b = 0; b < RB; b++) {
                    __m256i al = bcast4(ba[b]->qs + 64 * p + 4 * c);
                    __m256i ah = bcast4(ba[b]->qs + 64 * p + 32 + 4 * c);
                    for (int g = 0; g < RG; g++) {
                        slo[g][b] = _mm256_dpbusd_epi32(slo[g][b], lo[g], al);
                        shi[g][b] = _mm256_dpbusd_epi32(shi[g][b], hi[g], ah);
                    }
                }
            }
            for (int g = 0; g < RG; g++) {
                __m256i sl =
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)bw[g]->sc[2 * p]));
                __m256i sh =
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)bw[g]->sc[2 * p + 1]));
                for (int b = 0; b < RB; b++)
                    isum[g][b] = _mm256_add_epi32(
                        isum[g][b], _mm256_add_epi32(_mm256_mullo_epi32(slo[g][b], sl),
                                                     _mm256_mullo_epi32(shi[g][b], sh)));
            }
#else
            /* vpmaddubsw pair sums are <= 2*15*127 (eight chunks fit in i16) or 2*31*127 for
             * Q5_K (four): accumulate `win` chunks, then vpmaddwd applies the scale */
            const int win = Q5 ? 4 : 8;
            __m256i sl[MAXG], sh[MAXG];
            for (int g = 0; g < RG; g++) {
                __m128i l8 = _mm_loadl_epi64((const __m128i *)bw[g]->sc[2 * p]);
                __m128i h8 = _mm_loadl_epi64((const __m128i *)bw[g]->sc[2 * p + 1]);
                sl[g] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(l8, l8));
                sh[g] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(h8, h8));
            }
            for (int c0 = 0; c0 < 8; c0 += win) {
                __m256i slo[MAXG][MAXRB], shi[MAXG][MAXRB];
                for (int g = 0; g < RG; g++)
                    for (int b = 0; b < RB; b++) slo[g][b] = shi[g][b] = _mm256_setzero_si256();
                for (int c = c0; c < c0 + win; c++) {
                    __m256i lo[MAXG], hi[MAXG];
                    for (int g = 0; g < RG; g++) {
                        __m256i v = _mm256_loadu_si256((const __m256i *)(qs[g] + 256 * p + 32 * c));
                        lo[g] = _mm256_and_si256(v, m4);
                        hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                        if (Q5) {
                            __m256i hb = _mm256_loadu_si256((const __m256i *)(qh[g] + 32 * c));
                            lo[g] = _mm256_or_si256(lo[g], bit_to_16(hb, 2 * p));
                            hi[g] = _mm256_or_si256(hi[g], bit_to_16(hb, 2 * p + 1));
                        }
                    }
                    for (int b = 0; b < RB; b++) {
                        __m256i al = bcast4(ba[b]->qs + 64 * p + 4 * c);
                        __m256i ah = bcast4(ba[b]->qs + 64 * p + 32 + 4 * c);
                        for (int g = 0; g < RG; g++) {
                            slo[g][b] =
                                _mm256_add_epi16(slo[g][b], _mm256_maddubs_epi16(lo[g], al));
                            shi[g][b] =
                                _mm256_add_epi16(shi[g][b], _mm256_maddubs_epi16(hi[g], ah));
                        }
                    }
                }
                for (int g = 0; g < RG; g++)
                    for (int b = 0; b < RB; b++)
                        isum[g][b] = _mm256_add_epi32(
                            isum[g][b], _mm256_add_epi32(_mm256_madd_epi16(slo[g][b], sl[g]),
                                                         _mm256_madd_epi16(shi[g][b], sh[g])));
            }
#endif
        }
        for (int g = 0; g < RG; g++) {
            for (int b = 0; b < RB; b++) {
                /* sum += (d_w d_a) isum - (dmin_w d_a) msum */
                __m256 da = _mm256_set1_ps(ba[b]->d);
                __m256 t1 = _mm256_mul_ps(_mm256_mul_ps(dw[g], da), _mm256_cvtepi32_ps(isum[g][b]));
                __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(mw[g], da), _mm256_cvtepi32_ps(msum[g][b]));
                acc[g][b] = _mm256_add_ps(acc[g][b], _mm256_sub_ps(t1, t2));
            }
        }
    }
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++)
            store_rows(y + b * ys + 8 * g, acc[g][b], group_rows(rows_left, g));
}

AI void ptile_q4_k(const int RG, const int RB, size_t n, const uint8_t *w, size_t gs,
                   const uint8_t *a, size_t as, float *y, size_t ys, size_t rows_left)
{
    ptile_qk45(0, RG, RB, n, w, gs, a, as, y, ys, rows_left);
}

AI void ptile_q5_k(const int RG, const int RB, size_t n, const uint8_t *w, size_t gs,
                   const uint8_t *a, size_t as, float *y, size_t ys, size_t rows_left)
{
    ptile_qk45(1, RG, RB, n, w, gs, a, as, y, ys, rows_left);
}

/* ---- Q6_K x 8 ---- */

/* Chunk c of the four runs of half h: unsigned 6-bit values (q + 32). */
AI void q6kx8_runs(const blk_q6_kx8 *bw, int h, int c, __m256i q[4])
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)bw->q[h][c][0]);
    __m256i l1 = _mm256_loadu_si256((const __m256i *)bw->q[h][c][1]);
    __m256i qh = _mm256_loadu_si256((const __m256i *)bw->q[h][c][2]);
    q[0] =
        _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
    q[1] =
        _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    q[2] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
}

AI void ptile_q6_k(const int RG, const int RB, size_t n, const uint8_t *w, size_t gs,
                   const uint8_t *a, size_t as, float *y, size_t ys, size_t rows_left)
{
    __m256 acc[MAXG][MAXRB];
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++) acc[g][b] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const blk_q6_kx8 *bw[MAXG];
        const act_q8_kx *ba[MAXRB];
        __m256i isum[MAXG][MAXRB];
        for (int g = 0; g < RG; g++) bw[g] = (const blk_q6_kx8 *)(w + g * gs) + i;
        for (int b = 0; b < RB; b++) ba[b] = (const act_q8_kx *)(a + b * as) + i;
        /* the -32 of q: isum starts at -32 sum_g scale_g bsums_g (two groups per madd) */
        for (int g = 0; g < RG; g++)
            for (int b = 0; b < RB; b++) isum[g][b] = _mm256_setzero_si256();
        for (int t = 0; t < 8; t++) {
            __m256i sp[MAXG];
            for (int g = 0; g < RG; g++)
                sp[g] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)bw[g]->sc[t]));
            for (int b = 0; b < RB; b++) {
                int32_t bb;
                memcpy(&bb, ba[b]->bsums + 2 * t, 4);
                __m256i bs = _mm256_set1_epi32(bb);
                for (int g = 0; g < RG; g++)
                    isum[g][b] = _mm256_sub_epi32(
                        isum[g][b], _mm256_slli_epi32(_mm256_madd_epi16(sp[g], bs), 5));
            }
        }
        for (int h = 0; h < 2; h++) {
            for (int q = 0; q < 2; q++) {
                /* chunks 4q..4q+3 of each run k are group 8h + 2k + q */
#if defined(__AVX512VNNI__)
                __m256i gs4[MAXG][MAXRB][4];
                for (int g = 0; g < RG; g++)
                    for (int b = 0; b < RB; b++)
                        for (int k = 0; k < 4; k++) gs4[g][b][k] = _mm256_setzero_si256();
                for (int c = 4 * q; c < 4 * q + 4; c++) {
                    __m256i qv[MAXG][4];
                    for (int g = 0; g < RG; g++) q6kx8_runs(bw[g], h, c, qv[g]);
                    for (int b = 0; b < RB; b++)
                        for (int k = 0; k < 4; k++) {
                            __m256i av = bcast4(ba[b]->qs + 128 * h + 32 * k + 4 * c);
                            for (int g = 0; g < RG; g++)
                                gs4[g][b][k] = _mm256_dpbusd_epi32(gs4[g][b][k], qv[g][k], av);
                        }
                }
                for (int g = 0; g < RG; g++)
                    for (int k = 0; k < 4; k++) {
                        /* scale of group 8h+2k+q: element q of pair t = 4h+k, as i32 lanes */
                        __m256i sp = _mm256_cvtepi8_epi16(
                            _mm_loadu_si128((const __m128i *)bw[g]->sc[4 * h + k]));
                        __m256i s32 = q ? _mm256_srai_epi32(sp, 16)
                                        : _mm256_srai_epi32(_mm256_slli_epi32(sp, 16), 16);
                        for (int b = 0; b < RB; b++)
                            isum[g][b] =
                                _mm256_add_epi32(isum[g][b], _mm256_mullo_epi32(gs4[g][b][k], s32));
                    }
#else
                /* pair sums <= 2*63*127: vpmaddwd with the row's scale in both i16 halves */
                __m256i s16[MAXG][4];
                for (int g = 0; g < RG; g++)
                    for (int k = 0; k < 4; k++) {
                        __m256i sp = _mm256_cvtepi8_epi16(
                            _mm_loadu_si128((const __m128i *)bw[g]->sc[4 * h + k]));
                        s16[g][k] =
                            q ? _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(sp, 0xf5), 0xf5)
                              : _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(sp, 0xa0), 0xa0);
                    }
                for (int c = 4 * q; c < 4 * q + 4; c++) {
                    __m256i qv[MAXG][4];
                    for (int g = 0; g < RG; g++) q6kx8_runs(bw[g], h, c, qv[g]);
                    for (int b = 0; b < RB; b++)
                        for (int k = 0; k < 4; k++) {
                            __m256i av = bcast4(ba[b]->qs + 128 * h + 32 * k + 4 * c);
                            for (int g = 0; g < RG; g++)
                                isum[g][b] = _mm256_add_epi32(
                                    isum[g][b], _mm256_madd_epi16(
                                                    _mm256_maddubs_epi16(qv[g][k], av), s16[g][k]));
                        }
                }
#endif
            }
        }
        for (int g = 0; g < RG; g++) {
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)bw[g]->d));
            for (int b = 0; b < RB; b++) acc[g][b] = acc_block(acc[g][b], dw, ba[b]->d, isum[g][b]);
        }
    }
    for (int g = 0; g < RG; g++)
        for (int b = 0; b < RB; b++)
            store_rows(y + b * ys + 8 * g, acc[g][b], group_rows(rows_left, g));
}

/* Packed drivers: groups of 8 rows (outer) x activation rows (inner). */
#define PGEMM_(name, tile, RG1, RGN, RBN)                                                          \
    static void FN(name)(size_t n, const void *w, size_t gs, size_t nr, const void *a, size_t as,  \
                         size_t nb, float *y, size_t ys)                                           \
    {                                                                                              \
        const uint8_t *W = w, *A = a;                                                              \
        size_t ng = (nr + 7) / 8, g = 0;                                                           \
        if (nb == 1) {                                                                             \
            for (; g + RG1 <= ng; g += RG1)                                                        \
                tile(RG1, 1, n, W + g * gs, gs, A, as, y + 8 * g, ys, nr - 8 * g);                 \
            for (; g < ng; g++) tile(1, 1, n, W + g * gs, gs, A, as, y + 8 * g, ys, nr - 8 * g);   \
            return;                                                                                \
        }                                                                                          \
        for (; g + RGN <= ng; g += RGN) {                                                          \
            size_t b = 0;                                                                          \
            for (; b + RBN <= nb; b += RBN)                                                        \
                tile(RGN, RBN, n, W + g * gs, gs, A + b * as, as, y + b * ys + 8 * g, ys,          \
                     nr - 8 * g);                                                                  \
            for (; b < nb; b++)                                                                    \
                tile(RGN, 1, n, W + g * gs, gs, A + b * as, as, y + b * ys + 8 * g, ys,            \
                     nr - 8 * g);                                                                  \
        }                                                                                          \
        for (; g < ng; g++) {                                                                      \
            size_t b = 0;                                                                          \
            for (; b + RBN <= nb; b += RBN)                                                        \
                tile(1, RBN, n, W + g * gs, gs, A + b * as, as, y + b * ys + 8 * g, ys,            \
                     nr - 8 * g);                                                                  \
            for (; b < nb; b++)                                                                    \
                tile(1, 1, n, W + g * gs, gs, A + b * as, as, y + b * ys + 8 * g, ys, nr - 8 * g); \
        }                                                                                          \
    }
#define PGEMM(name, tile, shape) PGEMM_(name, tile, shape)

PGEMM(pgemm_q4_0, ptile_q4_0, P_Q4_0)
PGEMM(pgemm_q8_0, ptile_q8_0, P_Q8_0)
PGEMM(pgemm_q4_k, ptile_q4_k, P_Q4_K)
PGEMM(pgemm_q5_k, ptile_q5_k, P_Q4_K)
PGEMM(pgemm_q6_k, ptile_q6_k, P_Q6_K)

/* ==== activation quantizers (bit for bit the references of quant.h / matmul.c) ========= */

/* Max |x| over 8k floats at x (k vectors). */
AI float amax_vec(const float *x, int k)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int v = 0; v < k; v++)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * v)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* Four vectors of i32 (values 0..31 in order) -> 32 i8, saturating. */
AI __m256i pack_i8(__m256i q0, __m256i q1, __m256i q2, __m256i q3)
{
    __m256i c = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    return _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One 32-value Q8_0 block: q = rne(x * (127 / amax)); returns the f32 d and sum q. */
AI float act32(const float *x, int8_t *qs, int32_t *sum)
{
    float amax = amax_vec(x, 4);
    float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    /* |x id| <= 127 for finite x; the clamp only keeps NaN / Inf inputs (INT_MIN from
     * vcvtps2dq) from overflowing the sum */
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    for (int v = 0; v < 4; v++)
        q[v] = _mm256_min_epi32(
            _mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * v), vid)),
                             lo),
            hi);
    _mm256_storeu_si256((__m256i *)qs, pack_i8(q[0], q[1], q[2], q[3]));
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_unpackhi_epi64(t, t));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 1));
    *sum = _mm_cvtsi128_si32(t);
    return d;
}

static void FN(act_q8_0)(const float *src, void *dst, size_t n)
{
    block_q8_0 *y = dst;
    for (size_t i = 0; i < n / 32; i++) {
        int32_t sum;
        y[i].d = (uint16_t)_cvtss_sh(act32(src + 32 * i, y[i].qs, &sum), 0);
    }
}

static void FN(act_q8_0x)(const float *src, void *dst, size_t n)
{
    act_q8_0x *y = dst;
    for (size_t i = 0; i < n / 32; i++) {
        int32_t sum;
        y[i].d = _cvtsh_ss((uint16_t)_cvtss_sh(act32(src + 32 * i, y[i].qs, &sum), 0));
        y[i].sum = sum;
        y[i].neg8sum = -8 * sum;
        y[i].neg128sum = -128 * sum;
    }
}

/* One 256-value Q8_K block into qs and bsums; returns d (0 for an all-zero block). */
AI float act256(const float *x, int8_t *qs, int16_t *bsums)
{
    float amax = amax_vec(x, 32);
    if (amax == 0.0f) {
        memset(qs, 0, QK_K);
        memset(bsums, 0, 32);
        return 0.0f;
    }
    /* the first element of largest magnitude gives the sign */
    const __m256 sign = _mm256_set1_ps(-0.0f), va = _mm256_set1_ps(amax);
    float max = amax;
    for (int v = 0; v < 32; v++) {
        __m256 ax = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * v));
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(ax, va, _CMP_EQ_OQ));
        if (mask) {
            max = x[8 * v + __builtin_ctz((unsigned)mask)];
            break;
        }
    }
    float iscale = -127.0f / max;
    __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127), ones8 = _mm256_set1_epi8(1),
                  ones16 = _mm256_set1_epi16(1);
    for (int c = 0; c < 8; c++) {
        __m256i q[4];
        for (int v = 0; v < 4; v++)
            q[v] = _mm256_min_epi32(
                _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + 32 * c + 8 * v))), top);
        __m256i b = pack_i8(q[0], q[1], q[2], q[3]);
        _mm256_storeu_si256((__m256i *)(qs + 32 * c), b);
        /* groups 2c and 2c+1 are the two 128-bit halves */
        __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, b), ones16);
        s = _mm256_hadd_epi32(s, s);
        s = _mm256_hadd_epi32(s, s);
        bsums[2 * c] = (int16_t)_mm256_extract_epi32(s, 0);
        bsums[2 * c + 1] = (int16_t)_mm256_extract_epi32(s, 4);
    }
    return 1.0f / iscale;
}

static void FN(act_q8_k)(const float *src, void *dst, size_t n)
{
    block_q8_K *y = dst;
    for (size_t i = 0; i < n / QK_K; i++) y[i].d = act256(src + QK_K * i, y[i].qs, y[i].bsums);
}

static void FN(act_q8_kx)(const float *src, void *dst, size_t n)
{
    act_q8_kx *y = dst;
    for (size_t i = 0; i < n / QK_K; i++) {
        y[i].d = act256(src + QK_K * i, y[i].qs, y[i].bsums);
        for (int s = 0; s < 8; s++)
            y[i].psums[s] = (int16_t)(y[i].bsums[2 * s] + y[i].bsums[2 * s + 1]);
        memset(y[i].pad, 0, sizeof y[i].pad);
    }
}

/* F16 / BF16 activations: each value rounded to nearest even (quant_f32_to_f16 / _bf16). */
static void FN(act_f16)(const float *src, void *dst, size_t n)
{
    uint16_t *y = dst;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = (uint16_t)_cvtss_sh(src[i], 0);
}

static void FN(act_bf16)(const float *src, void *dst, size_t n)
{
    uint16_t *y = dst;
    size_t i = 0;
    const __m256i abs = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff),
                  quiet = _mm256_set1_epi32(0x40);
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_castps_si256(_mm256_loadu_ps(src + i));
        /* (u + 0x7fff + ((u >> 16) & 1)) >> 16, or (u >> 16) | 0x40 for NaN */
        __m256i r =
            _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias),
                                               _mm256_and_si256(_mm256_srli_epi32(u, 16), one)),
                              16);
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs), inf);
        r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet), nan);
        /* 8 x u32 (each < 65536) -> 8 x u16 */
        __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = quant_f32_to_bf16(src[i]);
}

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

static void set_packed(matmul_kernels *k, uint32_t type, matmul_gemm_fn fn)
{
    k->type[type].gemm_packed = fn;
    k->type[type].isa_packed = MATMUL_LEVEL;
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
    /* activation quantizers for every weight type that uses Q8_0 or Q8_K */
    for (uint32_t t = 0; t < QTYPE_COUNT; t++) {
        if (k->type[t].act_type == QTYPE_Q8_0 && k->type[t].gemm) {
            k->type[t].quantize_act = FN(act_q8_0);
            k->type[t].quantize_act_packed = FN(act_q8_0x);
        }
        if (k->type[t].act_type == QTYPE_Q8_K && k->type[t].gemm) {
            k->type[t].quantize_act = FN(act_q8_k);
            k->type[t].quantize_act_packed = FN(act_q8_kx);
        }
    }
    k->type[QTYPE_F16].quantize_act = FN(act_f16);
    k->type[QTYPE_BF16].quantize_act = FN(act_bf16);
    set_packed(k, QTYPE_Q4_0, FN(pgemm_q4_0));
    set_packed(k, QTYPE_Q8_0, FN(pgemm_q8_0));
    set_packed(k, QTYPE_Q4_K, FN(pgemm_q4_k));
    set_packed(k, QTYPE_Q5_K, FN(pgemm_q5_k));
    set_packed(k, QTYPE_Q6_K, FN(pgemm_q6_k));
}
