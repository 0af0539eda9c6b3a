/* test_quant.c: block formats, reference kernels, every SIMD variant and the matmul driver. */
#include "backends/matmul.h"
#include "backends/qtype.h"
#include "backends/quant.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/util.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ==== helpers ========================================================================== */

/* Hex digits (spaces ignored) -> bytes; returns the count. */
static size_t hex_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap) out[n] = (uint8_t)(hi << 4 | v);
            n++;
            hi = -1;
        }
    }
    return n;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* GGUF_FORMAT.md section 7 inputs. */
static void make_x32(float x[32])
{
    for (int j = 0; j < 32; j++) x[j] = (float)(sin(0.5 * j) * (1.0 + j / 16.0));
}

static void make_x256(float x[256])
{
    for (int j = 0; j < 256; j++)
        x[j] = (float)(sin(0.37 * j) * (1 + j / 32) / 4.0 + 0.1 * (j / 64));
}

static double rmse(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (double)n);
}

/* Types the tests sweep: every weight type with a dot product. */
static const uint32_t weight_types[] = {
    QTYPE_F32,  QTYPE_F16,  QTYPE_BF16, QTYPE_Q4_0,   QTYPE_Q4_1,
    QTYPE_Q5_0, QTYPE_Q5_1, QTYPE_Q8_0, QTYPE_Q2_K,   QTYPE_Q3_K,
    QTYPE_Q4_K, QTYPE_Q5_K, QTYPE_Q6_K, QTYPE_IQ4_NL, QTYPE_IQ4_XS,
};

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/* Random weight rows: random bytes for the quants (every bit pattern, including -128 for
 * Q8_0 and negative Q6_K scales), with sane random f16 scales patched in. */
static void fill_weights(uint32_t type, uint8_t *w, size_t rows, size_t cols, rng *g)
{
    const qtype_info *q = qtype_get(type);
    size_t nblk = rows * cols / q->block;
    if (type == QTYPE_F32) {
        float *f = (float *)w;
        for (size_t i = 0; i < rows * cols; i++) f[i] = (float)rng_normal(g);
        return;
    }
    if (type == QTYPE_F16 || type == QTYPE_BF16) {
        uint16_t *h = (uint16_t *)w;
        for (size_t i = 0; i < rows * cols; i++) {
            float f = (float)rng_normal(g);
            h[i] = type == QTYPE_F16 ? quant_f32_to_f16(f) : quant_f32_to_bf16(f);
        }
        return;
    }
    for (size_t i = 0; i < nblk * q->bytes; i++) w[i] = (uint8_t)rng_next(g);
    for (size_t i = 0; i < nblk; i++) {
        uint8_t *b = w + i * q->bytes;
        uint16_t d = quant_f32_to_f16((float)(0.01 * rng_normal(g)));
        uint16_t m = quant_f32_to_f16((float)(0.01 * rng_normal(g)));
        switch (type) {
        case QTYPE_Q4_1:
        case QTYPE_Q5_1:
        case QTYPE_Q4_K:
        case QTYPE_Q5_K:
            put16(b, d);
            put16(b + 2, m);
            break;
        case QTYPE_Q2_K:
            put16(b + 80, d);
            put16(b + 82, m);
            break;
        case QTYPE_Q3_K:
            put16(b + 108, d);
            break;
        case QTYPE_Q6_K:
            put16(b + 208, d);
            break;
        default:
            put16(b, d);
            break; /* Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS */
        }
    }
}

static void fill_normal(float *x, size_t n, double scale, rng *g)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(g));
}

/* ==== f16 / bf16 ======================================================================= */

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f)
{
    return (uint16_t)_cvtss_sh(f, 0);
}

__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}
#endif

static void test_quant__f16(void)
{
    /* every f16 converts exactly and back */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_f16_to_f32((uint16_t)h);
        int nan = ((h >> 10) & 31) == 31 && (h & 0x3ff);
        if (nan) {
            CHECK(f != f);
            /* NaNs come back quiet, payload kept */
            CHECK_INT(quant_f32_to_f16(f), h | 0x200);
        } else {
            CHECK_INT(quant_f32_to_f16(f), h);
        }
    }
    CHECK_INT(quant_f32_to_f16(65504.0f), 0x7bff);
    CHECK_INT(quant_f32_to_f16(65519.996f), 0x7bff);
    CHECK_INT(quant_f32_to_f16(65520.0f), 0x7c00);
    CHECK_INT(quant_f32_to_f16(-1e30f), 0xfc00);
    CHECK_INT(quant_f32_to_f16(0x1p-24f), 0x0001);
    CHECK_INT(quant_f32_to_f16(0x1p-25f), 0x0000);         /* tie to even: 0 */
    CHECK_INT(quant_f32_to_f16(0x1.8p-24f), 0x0002);       /* 1.5 ulp: tie to even 2 */
    CHECK_INT(quant_f32_to_f16(0x1.000002p-25f), 0x0001);  /* just above the tie */
    CHECK_INT(quant_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);  /* tie, even stays */
    CHECK_INT(quant_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);  /* tie, odd rounds up */
    CHECK_INT(quant_f32_to_f16(0x1.ffcp-15f), 0x0400 - 0); /* rounds up into the normals */
    CHECK_INT(quant_f32_to_f16(-0.0f), 0x8000);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) {
        /* random bit patterns (NaNs, subnormals, overflow included) against the hardware */
        rng g;
        rng_seed(&g, 7);
        int bad = 0;
        for (int i = 0; i < 400000; i++) {
            uint32_t u = (uint32_t)rng_next(&g);
            if (i & 1) u = (u & 0x807fffffu) | ((uint32_t)(96 + i % 48) << 23); /* near f16 range */
            float f = bits_f32(u);
            if (quant_f32_to_f16(f) != hw_f32_to_f16(f)) bad++;
        }
        CHECK_INT(bad, 0);
        for (uint32_t h = 0; h < 65536; h++)
            if (f32_bits(quant_f16_to_f32((uint16_t)h)) != f32_bits(hw_f16_to_f32((uint16_t)h)))
                bad++;
        CHECK_INT(bad, 0);
    }
#endif
}

static void test_quant__bf16(void)
{
    CHECK_INT(quant_f32_to_bf16(1.0f), 0x3f80);
    CHECK_INT(quant_f32_to_bf16(bits_f32(0x3f808000u)), 0x3f80); /* tie, even stays */
    CHECK_INT(quant_f32_to_bf16(bits_f32(0x3f818000u)), 0x3f82); /* tie, odd rounds up */
    CHECK_INT(quant_f32_to_bf16(bits_f32(0x3f808001u)), 0x3f81);
    CHECK_INT(quant_f32_to_bf16(bits_f32(0x7f7fffffu)), 0x7f80); /* max float rounds to inf */
    CHECK_INT(quant_f32_to_bf16(bits_f32(0x7fc00001u)), 0x7fc0); /* NaN: | 0x40 */
    CHECK_INT(quant_f32_to_bf16(bits_f32(0x7f800001u)), 0x7fc0);
    CHECK_INT(quant_f32_to_bf16(bits_f32(0xff812345u)), 0xffc1);
    CHECK(quant_bf16_to_f32(0xc040) == -3.0f);
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_bf16_to_f32((uint16_t)h);
        if (f == f) CHECK_INT(quant_f32_to_bf16(f), h);
    }
}

/* ==== section 7 test vectors =========================================================== */

static void check_values(const float *got, const float *want, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        CHECK_MSG(got[i] == want[i], "%s[%d]: %.9g != %.9g", what, i, got[i], want[i]);
}

static void test_quant__vectors_q4_0_q8_0(void)
{
    float x[32], y[32];
    make_x32(x);
    CHECK(x[1] == 0.509389639f);

    uint8_t want[64], got[64];
    CHECK_INT(hex_bytes("73b5 28375585c5e6f7e9cb8c5d2b09073463", want, sizeof want), 18);
    quant_quantize_q4_0_ref(x, got, 32);
    CHECK(memcmp(got, want, 18) == 0);
    quant_dequantize_q4_0_ref(want, y, 32);
    const float q40_first[8] = {-0.0f,       0.340576172f, 1.02172852f,  1.02172852f,
                                1.02172852f, 0.681152344f, 0.340576172f, -0.340576172f};
    const float q40_last[8] = {-1.36230469f, -0.0f,       1.02172852f, 2.04345703f,
                               2.72460938f,  2.72460938f, 1.70288086f, 0.681152344f};
    check_values(y, q40_first, 8, "q4_0 first");
    check_values(y + 24, q40_last, 8, "q4_0 last");
    const int nibs[32] = {8, 7, 5, 5, 5,  6,  7,  9,  11, 12, 13, 11, 9, 7, 4, 3,
                          2, 3, 5, 8, 12, 14, 15, 14, 12, 8,  5,  2,  0, 0, 3, 6};
    for (int v = 0; v < 32; v++) CHECK(y[v] == quant_f16_to_f32(0xb573) * (float)(nibs[v] - 8));

    CHECK_INT(hex_bytes("7e25 00182c37352509e8cbb9b7c8e91239555c4d29f8c7a1919dc1f833657f7b571c",
                        want, sizeof want),
              34);
    quant_quantize_q8_0_ref(x, got, 32);
    CHECK(memcmp(got, want, 34) == 0);
    quant_dequantize_q8_0_ref(want, y, 32);
    const float q80_first[8] = {0,           0.514892578f, 0.943969727f, 1.17996216f,
                                1.13705444f, 0.793792725f, 0.193084717f, -0.514892578f};
    const float q80_last[8] = {-1.35159302f, -0.171630859f, 1.09414673f, 2.1668396f,
                               2.72463989f,  2.63882446f,   1.8664856f,  0.600708008f};
    check_values(y, q80_first, 8, "q8_0 first");
    check_values(y + 24, q80_last, 8, "q8_0 last");
}

static const char q4k_hex[] = "5c1c c826"
                              "8890d7de89d2d8e1760e56ff"
                              "274a7caeceeeedebd8b683613010000204274a7caeceeeedebd8b68351301000"
                              "10010315385a8dbedffffdfbe9b693613010010315385b8dbedffffdfbe9b693"
                              "b683613010010315385b8dbfdffffefbd9b683613010010315385b8dbfdffffd"
                              "effdebd8b583513010010315385b8dbedfeffdebd8b583513010010315385b8d";

static const char q6k_hex[] = "8055eb64c021973f1a2671e98f2fcc357b8054ea53b01297301a2671fa8f2fcc"
                              "549ba0650b64c12398301b2671f99e4edc559baf64fa63c02297300b2771fa9f"
                              "126be28626c33d747a31c93391f2771f08227bf29636c32d646a30c83391f277"
                              "2f09237df49838d53e757a30d83290f2772f09237d049848d54e747a30c83290"
                              "fef9e8e4d09040400106070b1f2f6fbfbefef9e4e4909040410106070b1f2f6f"
                              "02060b1b2f6fbebef9f9e4e4908040000102060b1b6f6fbebef9f9e4e4908040"
                              "f2f2e3e4d0d0c2c2adaea2a2918e8080"
                              "9c10";

static void test_quant__vectors_q4_k(void)
{
    float x[256], y[256];
    make_x256(x);
    CHECK(x[1] == 0.0904038548f);
    block_q4_K b;
    CHECK_INT(hex_bytes(q4k_hex, (uint8_t *)&b, sizeof b), 144);
    CHECK(quant_f16_to_f32(b.d) == 0.00425720215f);
    CHECK(quant_f16_to_f32(b.dmin) == 0.0264892578f);
    uint8_t sc[8], m[8];
    quant_unpack_scales_k4(b.scales, sc, m);
    const uint8_t want_sc[8] = {8, 16, 23, 30, 38, 46, 54, 63},
                  want_m[8] = {9, 18, 24, 33, 39, 48, 53, 63};
    CHECK(memcmp(sc, want_sc, 8) == 0);
    CHECK(memcmp(m, want_m, 8) == 0);
    quant_dequantize_q4_k_ref(&b, y, 256);
    const float first[8] = {0,           0.102172852f, 0.170288086f, 0.23840332f,
                            0.23840332f, 0.23840332f,  0.204345703f, 0.136230469f};
    const float last[8] = {-0.864212036f, -1.40061951f,  -1.66882324f,  -1.66882324f,
                           -1.40061951f,  -0.864212036f, -0.327804565f, 0.476806641f};
    check_values(y, first, 8, "q4_k first");
    check_values(y + 248, last, 8, "q4_k last");
    /* q[0..7] = 7 10 12 14 14 14 13 11 and q[248..255] = 3 1 0 0 1 3 5 8 */
    const int q_first[8] = {7, 10, 12, 14, 14, 14, 13, 11}, q_last[8] = {3, 1, 0, 0, 1, 3, 5, 8};
    float d = quant_f16_to_f32(b.d), dmin = quant_f16_to_f32(b.dmin);
    for (int v = 0; v < 8; v++) {
        CHECK(y[v] == (d * 8) * (float)q_first[v] - dmin * 9);
        CHECK(y[248 + v] == (d * 63) * (float)q_last[v] - dmin * 63);
    }

    /* our quantizer: a valid block whose error is no worse than llama-quantize's */
    block_q4_K mine;
    float ym[256];
    quant_quantize_q4_k_ref(x, &mine, 256);
    quant_dequantize_q4_k_ref(&mine, ym, 256);
    double e_ggml = rmse(x, y, 256), e_mine = rmse(x, ym, 256);
    CHECK_MSG(e_mine <= 1.05 * e_ggml, "q4_k rmse %.6g vs ggml %.6g", e_mine, e_ggml);
}

static void test_quant__vectors_q6_k(void)
{
    float x[256], y[256];
    make_x256(x);
    block_q6_K b;
    CHECK_INT(hex_bytes(q6k_hex, (uint8_t *)&b, sizeof b), 210);
    CHECK(quant_f16_to_f32(b.d) == 0.000562667847f);
    const int8_t want_sc[16] = {-14, -14, -29, -28, -48,  -48,  -62,  -62,
                                -83, -82, -94, -94, -111, -114, -128, -128};
    CHECK(memcmp(b.scales, want_sc, 16) == 0);
    quant_dequantize_q6_k_ref(&b, y, 256);
    const float first[8] = {-0.0f,        0.0866508484f, 0.165424347f, 0.220565796f,
                            0.252075195f, 0.244197845f,  0.196933746f, 0.133914948f};
    const float last[8] = {-0.936279297f, -1.44042969f,  -1.65649414f,  -1.65649414f,
                           -1.3684082f,   -0.864257812f, -0.216064453f, 0.504150391f};
    check_values(y, first, 8, "q6_k first");
    check_values(y + 248, last, 8, "q6_k last");
    const int q_first[8] = {0, -11, -21, -28, -32, -31, -25, -17},
              q_last[8] = {13, 20, 23, 23, 19, 12, 3, -7};
    float d = quant_f16_to_f32(b.d);
    for (int v = 0; v < 8; v++) {
        CHECK(y[v] == (d * -14) * (float)q_first[v]);
        CHECK(y[248 + v] == (d * -128) * (float)q_last[v]);
    }
    CHECK(y[1] == 0.0866508484f);

    block_q6_K mine;
    float ym[256];
    quant_quantize_q6_k_ref(x, &mine, 256);
    quant_dequantize_q6_k_ref(&mine, ym, 256);
    double e_ggml = rmse(x, y, 256), e_mine = rmse(x, ym, 256);
    CHECK_MSG(e_mine <= 1.05 * e_ggml, "q6_k rmse %.6g vs ggml %.6g", e_mine, e_ggml);
}

/* ==== activation quantizers (section 4) ================================================ */

static void test_quant__act_q8_0(void)
{
    float x[32] = {127, 2.5f, -2.5f, 0.5f, 1.5f, -126.5f};
    block_q8_0 b;
    quant_quantize_act_q8_0_ref(x, &b, 32);
    CHECK_INT(b.d, 0x3c00);
    const int8_t want[6] = {127, 2, -2, 0, 2, -126}; /* x86: ties to even */
    CHECK(memcmp(b.qs, want, 6) == 0);
    for (int j = 6; j < 32; j++) CHECK_INT(b.qs[j], 0);
    /* the weight quantizer rounds ties away from zero */
    quant_quantize_q8_0_ref(x, &b, 32);
    const int8_t want_w[6] = {127, 3, -3, 1, 2, -127};
    CHECK(memcmp(b.qs, want_w, 6) == 0);

    /* all zero: d = 0, q = 0 */
    float z[32] = {0};
    quant_quantize_act_q8_0_ref(z, &b, 32);
    CHECK_INT(b.d, 0);
    for (int j = 0; j < 32; j++) CHECK_INT(b.qs[j], 0);

    /* Q8_1: same q, s = f16(d * sum q) with the f32 d */
    block_q8_1 b1;
    quant_quantize_act_q8_1_ref(x, &b1, 32);
    CHECK(memcmp(b1.qs, want, 6) == 0);
    CHECK_INT(b1.d, 0x3c00);
    CHECK_INT(b1.s, quant_f32_to_f16(1.0f * (127 + 2 - 2 + 0 + 2 - 126)));
    float xs[32];
    for (int j = 0; j < 32; j++) xs[j] = (float)(j - 10) * 0.37f;
    quant_quantize_act_q8_1_ref(xs, &b1, 32);
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += b1.qs[j];
    float amax = 21 * 0.37f;
    CHECK_INT(b1.s, quant_f32_to_f16(amax / 127.0f * (float)sum));
    CHECK_INT(b1.qs[31], 127);
}

static void test_quant__act_q8_k(void)
{
    float x[256] = {0};
    x[0] = 2.54f;
    x[1] = -1;
    x[2] = 0.5f;
    x[17] = -2.54f;
    x[255] = 1.27f;
    block_q8_K b;
    quant_quantize_act_q8_k_ref(x, &b, 256);
    const uint8_t want_d[4] = {0x0a, 0xd7, 0xa3, 0xbc};
    CHECK(memcmp(&b.d, want_d, 4) == 0);
    CHECK(b.d == -0.0199999996f);
    CHECK_INT(b.qs[0], -127);
    CHECK_INT(b.qs[1], 50);
    CHECK_INT(b.qs[2], -25);
    CHECK_INT(b.qs[17], 127);
    CHECK_INT(b.qs[255], -64);
    CHECK_INT(b.bsums[0], -102);
    CHECK_INT(b.bsums[1], 127);
    CHECK_INT(b.bsums[15], -64);
    for (int g = 2; g < 15; g++) CHECK_INT(b.bsums[g], 0);
    /* a block of zeros */
    float z[256] = {0};
    quant_quantize_act_q8_k_ref(z, &b, 256);
    CHECK(b.d == 0.0f);
    CHECK_INT(b.bsums[3], 0);
    /* the first of +-max decides the sign */
    z[5] = -3;
    z[9] = 3;
    quant_quantize_act_q8_k_ref(z, &b, 256);
    CHECK(b.d > 0);
    CHECK_INT(b.qs[5], -127);
    CHECK_INT(b.qs[9], 127);
}

/* ==== dequantize against hand-computed values ========================================== */

static void test_quant__dequant_hand(void)
{
    float y[256];
    /* Q4_1: d = 0.5, m = -1; qs[0] = 0x3a: v0 = 10, v16 = 3 */
    block_q4_1 b41 = {0};
    b41.d = 0x3800;
    b41.m = 0xbc00;
    b41.qs[0] = 0x3a;
    quant_dequantize_q4_1_ref(&b41, y, 32);
    CHECK(y[0] == 4.0f && y[16] == 0.5f && y[1] == -1.0f);

    /* Q5_0: d = 2; qh bit 0 and bit 17 set; qs[0] = 0x01, qs[1] = 0xf0:
     * v0 = 1|16 = 17 -> 2, v1 = 0 -> -32, v16 = 0 -> -32, v17 = 15|16 = 31 -> 30 */
    block_q5_0 b50 = {0};
    b50.d = 0x4000;
    b50.qh[0] = 0x01;
    b50.qh[2] = 0x02;
    b50.qs[0] = 0x01;
    b50.qs[1] = 0xf0;
    quant_dequantize_q5_0_ref(&b50, y, 32);
    CHECK(y[0] == 2.0f && y[1] == -32.0f && y[16] == -32.0f && y[17] == 30.0f);

    /* Q5_1: d = 0.25, m = 1; qh bit 31; qs[15] = 0xf7: v15 = 7 -> 2.75, v31 = 15|16 -> 8.75 */
    block_q5_1 b51 = {0};
    b51.d = 0x3400;
    b51.m = 0x3c00;
    b51.qh[3] = 0x80;
    b51.qs[15] = 0xf7;
    quant_dequantize_q5_1_ref(&b51, y, 32);
    CHECK(y[15] == 2.75f && y[31] == 8.75f && y[0] == 1.0f);

    /* Q2_K: d = 1, dmin = 0.5; group 0 scale 3 min 2; group 8 (v 128..143) scale 15 min 0;
     * qs[0] = 0b11100100: v0 = 0, v32 = 1, v64 = 2, v96 = 3 (v32 is group 2, etc.) */
    block_q2_K b2 = {0};
    b2.d = 0x3c00;
    b2.dmin = 0x3800;
    b2.scales[0] = 0x23;
    b2.scales[2] = 0x11;
    b2.scales[8] = 0x0f;
    b2.qs[0] = 0xe4;
    b2.qs[32 + 5] = 0x02; /* v = 128 + 5, j = 0: q = 2 */
    quant_dequantize_q2_k_ref(&b2, y, 256);
    CHECK(y[0] == -1.0f);   /* 3*0 - 0.5*2 */
    CHECK(y[32] == 0.5f);   /* group 2: 1*1 - 0.5*1 */
    CHECK(y[64] == 0.0f);   /* group 4: scale 0 min 0 */
    CHECK(y[133] == 30.0f); /* 15*2 - 0 */

    /* Q3_K: d = 1; scale of group 0: u = 0x21 (low nibble 1 in scales[0], top bits 2 in
     * scales[8]) -> s = 1; group 9: low nibble in high half of scales[1], top bits in
     * bits 4..5 of scales[9] -> u = 0x3f -> s = 31.
     * v0: lo = 3, hb = 1 -> 3; v1: lo = 1, hb = 0 -> -3; v144 (group 9): lo 2, hb 1 -> 2 */
    block_q3_K b3 = {0};
    b3.d = 0x3c00;
    b3.scales[0] = 0x01;
    b3.scales[8] = 0x02;
    b3.scales[1] = 0xf0;
    b3.scales[9] = 0x30;
    b3.qs[0] = 0x03;
    b3.qs[1] = 0x01;
    b3.hmask[0] = 0x01;
    b3.qs[32 + 16] = 0x02; /* v = 144: h = 1, j = 0, l = 16 */
    b3.hmask[16] = 0x10;   /* v = 144: byte 16, bit 4 */
    quant_dequantize_q3_k_ref(&b3, y, 256);
    CHECK(y[0] == 3.0f);
    CHECK(y[1] == -3.0f);
    CHECK(y[2] == -4.0f);           /* lo 0, hb 0 */
    CHECK(y[144] == 62.0f);         /* 31 * 2 */
    CHECK(y[16] == -32.0f * -4.0f); /* group 1: u = 0 -> s = -32; q = -4 */

    /* Q5_K: d = 1, dmin = 1, sc0 = 2, m0 = 3; qh[0] bit 0 -> v0 += 16; qs[0] = 0x05:
     * v0 = 5|16 = 21 -> 2*21 - 3 = 39; v32 (sub-block 1, sc 0, m 0) high nibble 0 -> 0 */
    block_q5_K b5 = {0};
    b5.d = 0x3c00;
    b5.dmin = 0x3c00;
    b5.scales[0] = 2;
    b5.scales[4] = 3;
    b5.qh[0] = 0x01;
    b5.qs[0] = 0x05;
    quant_dequantize_q5_k_ref(&b5, y, 256);
    CHECK(y[0] == 39.0f);
    CHECK(y[1] == -3.0f);
    CHECK(y[32] == 0.0f);
    /* sub-block 7: sc7 = 4 via scales[11] low nibble, m7 = 17 via high nibble 1 and top bit
     * pair 1 of scales[7]; qh[31] bit 7 and qs[127] high nibble 0xf -> q = 31 */
    b5.scales[11] = 0x14;
    b5.scales[7] = 0x40;
    b5.qh[31] = 0x80;
    b5.qs[127] = 0xf0;
    quant_dequantize_q5_k_ref(&b5, y, 256);
    CHECK(y[255] == 4.0f * 31 - 17.0f);

    /* IQ4_NL: d = 0.5; qs[0] = 0xf0: v0 = K[0] = -127, v16 = K[15] = 113 */
    block_iq4_nl bn = {0};
    bn.d = 0x3800;
    bn.qs[0] = 0xf0;
    quant_dequantize_iq4_nl_ref(&bn, y, 32);
    CHECK(y[0] == -63.5f && y[16] == 56.5f && y[1] == -63.5f);

    /* IQ4_XS: d = 1; sub-block 0 ls = 33 (low 1, high bits 2 -> 0x21) -> 1; sub-block 3:
     * low nibble of scales_l[1] high half = 0, high bits (scales_h bits 6..7) = 3 -> 48 -> 16 */
    block_iq4_xs bx = {0};
    bx.d = 0x3c00;
    bx.scales_l[0] = 0x01;
    bx.scales_h = 0x2 | (0x3 << 6);
    bx.qs[0] = 0x9a;      /* v0 = K[10] = 25, v16 = K[9] = 13 */
    bx.qs[48 + 1] = 0x08; /* sub-block 3, v = 96 + 1 -> K[8] = 1 */
    quant_dequantize_iq4_xs_ref(&bx, y, 256);
    CHECK(y[0] == 25.0f && y[16] == 13.0f);
    CHECK(y[97] == 16.0f);
    CHECK(y[32] == -32.0f * -127.0f); /* sub-block 1: ls 0 -> -32, K[0] */

    /* Q8_K, F16, BF16, F32 */
    block_q8_K bk = {0};
    bk.d = 0.5f;
    bk.qs[3] = -7;
    quant_dequantize_q8_k_ref(&bk, y, 256);
    CHECK(y[3] == -3.5f && y[4] == 0.0f);
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001};
    quant_dequantize_f16_ref(h, y, 3);
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0x1p-24f);
    uint16_t bf[2] = {0x3f80, 0xc040};
    quant_dequantize_bf16_ref(bf, y, 2);
    CHECK(y[0] == 1.0f && y[1] == -3.0f);
}

/* ==== the fixtures (section 7.5) ======================================================= */

typedef struct fixture_tensor {
    uint32_t type;
    uint64_t ne0, ne1;
    size_t offset; /* absolute */
} fixture_tensor;

/* A minimal GGUF walk, enough to find a tensor in a trusted fixture (bounds-checked). */
static int find_tensor(const uint8_t *p, size_t n, const char *name, fixture_tensor *out)
{
    size_t pos = 24;
    uint64_t nt, nkv;
    if (n < 24 || memcmp(p, "GGUF", 4)) return -1;
    memcpy(&nt, p + 8, 8);
    memcpy(&nkv, p + 16, 8);
    static const size_t fixed[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if ((k) > n - pos) return -1;                                                              \
    } while (0)
    for (uint64_t i = 0; i < nkv; i++) {
        uint64_t len;
        uint32_t t;
        NEED(8);
        memcpy(&len, p + pos, 8);
        pos += 8;
        NEED(len + 4);
        pos += len;
        memcpy(&t, p + pos, 4);
        pos += 4;
        uint64_t count = 1;
        uint32_t et = t;
        if (t == 9) {
            NEED(12);
            memcpy(&et, p + pos, 4);
            memcpy(&count, p + pos + 4, 8);
            pos += 12;
        }
        if (et > 12 || et == 9) return -1;
        for (uint64_t j = 0; j < count; j++) {
            if (et == 8) {
                NEED(8);
                memcpy(&len, p + pos, 8);
                pos += 8;
                NEED(len);
                pos += len;
            } else {
                NEED(fixed[et]);
                pos += fixed[et];
            }
        }
    }
    int found = -1;
    for (uint64_t i = 0; i < nt; i++) {
        uint64_t len, ne[4] = {1, 1, 1, 1};
        uint32_t nd, type;
        NEED(8);
        memcpy(&len, p + pos, 8);
        pos += 8;
        NEED(len + 4);
        int match = len == strlen(name) && memcmp(p + pos, name, len) == 0;
        pos += len;
        memcpy(&nd, p + pos, 4);
        pos += 4;
        if (nd > 4) return -1;
        NEED(8 * nd + 12);
        memcpy(ne, p + pos, 8 * nd);
        pos += 8 * nd;
        memcpy(&type, p + pos, 4);
        uint64_t off;
        memcpy(&off, p + pos + 4, 8);
        pos += 12;
        if (match) {
            out->type = type;
            out->ne0 = ne[0];
            out->ne1 = ne[1];
            out->offset = (size_t)off;
            found = 0;
        }
    }
#undef NEED
    if (found < 0) return -1;
    size_t data = (pos + 31) / 32 * 32;
    if (out->offset > n - data) return -1;
    out->offset += data;
    return 0;
}

static int load_fixture(const char *file, buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", test_fixtures_dir(), file);
    err e = ERR_INIT;
    int rc = file_read_all(path, b, &e);
    if (rc < 0) fprintf(stderr, "test_quant: %s\n", e.msg);
    return rc;
}

static void test_quant__fixtures(void)
{
    static const struct {
        const char *file;
        uint32_t type;
        size_t offset;
        float first[4];
    } rows[] = {
        {"tiny-granite.q4_0.gguf",
         QTYPE_Q4_0,
         230784,
         {-0.525390625f, -0.131347656f, 0, -0.0656738281f}},
        {"tiny-granite.q8_0.gguf",
         QTYPE_Q8_0,
         408832,
         {-0.52564621f, -0.165557861f, -0.0206947327f, -0.0745010376f}},
        {"tiny-granite.q4_k_m.gguf",
         QTYPE_Q4_K,
         297248,
         {-0.510292053f, -0.169944763f, -0.0338058472f, -0.101875305f}},
        {"tiny-granite.q6_k.gguf",
         QTYPE_Q6_K,
         322592,
         {-0.521373749f, -0.162929296f, -0.0162929296f, -0.0814646482f}},
    };
    buf f32file = BUF_INIT;
    fixture_tensor ft = {0};
    CHECK(load_fixture("tiny-granite.f32.gguf", &f32file) == 0);
    CHECK(find_tensor((const uint8_t *)f32file.data, f32file.len, "blk.0.attn_q.weight", &ft) == 0);
    CHECK(ft.type == QTYPE_F32 && ft.ne0 == 256 && ft.ne1 == 256);
    const size_t nv = 256 * 256;
    float *src = malloc(nv * sizeof(float)), *deq = malloc(nv * sizeof(float)),
          *mine_deq = malloc(nv * sizeof(float));
    uint8_t *mine = malloc(nv * 2);
    if (ft.ne0 == 256 && ft.ne1 == 256) memcpy(src, f32file.data + ft.offset, nv * sizeof(float));
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        buf b = BUF_INIT;
        fixture_tensor t = {0};
        CHECK(load_fixture(rows[i].file, &b) == 0);
        CHECK(find_tensor((const uint8_t *)b.data, b.len, "blk.0.attn_q.weight", &t) == 0);
        CHECK_INT(t.offset, rows[i].offset);
        CHECK_INT(t.type, rows[i].type);
        size_t nbytes = qtype_row_bytes(rows[i].type, nv);
        if (t.offset == rows[i].offset && b.len >= t.offset + nbytes) {
            const uint8_t *w = (const uint8_t *)b.data + t.offset;
            err e = ERR_INIT;
            CHECK(quant_dequantize_row(rows[i].type, w, deq, nv, &e) == 0);
            check_values(deq, rows[i].first, 4, rows[i].file);
            if (rows[i].type == QTYPE_Q4_0 || rows[i].type == QTYPE_Q8_0) {
                /* our writer reproduces llama-quantize byte for byte */
                CHECK(quant_quantize_row(rows[i].type, src, mine, nv, &e) == 0);
                CHECK_MSG(memcmp(mine, w, nbytes) == 0, "%s: quantized bytes differ", rows[i].file);
            } else {
                /* ours: not ggml's bytes, but no worse on the same weights */
                CHECK(quant_quantize_row(rows[i].type, src, mine, nv, &e) == 0);
                quant_dequantize_row(rows[i].type, mine, mine_deq, nv, NULL);
                double e_ggml = rmse(src, deq, nv), e_mine = rmse(src, mine_deq, nv);
                CHECK_MSG(e_mine <= e_ggml, "%s: rmse %.6g vs ggml %.6g", rows[i].file, e_mine,
                          e_ggml);
                if (getenv("TEST_VERBOSE"))
                    fprintf(stderr, "  %s: rmse ours %.6g, llama-quantize %.6g\n", rows[i].file,
                            e_mine, e_ggml);
            }
        }
        buf_release(&b);
    }
    free(src);
    free(deq);
    free(mine_deq);
    free(mine);
    buf_release(&f32file);
}

/* ==== dot products: the section 4.5 identities equal dequantize-then-multiply =========== */

/* Converts n values of x to act format `at` in `dst` and back to floats in `deq`. */
static void act_roundtrip(uint32_t at, const float *x, void *dst, float *deq, size_t n)
{
    const quant_traits *t = quant_traits_get(at);
    t->quantize_act(x, dst, n);
    t->dequantize(dst, deq, n);
}

static void test_quant__vec_dot_identities(void)
{
    rng g;
    rng_seed(&g, 11);
    const size_t n = 512;
    uint8_t *w = malloc(n * 4), *a = malloc(n * 4);
    float *wd = malloc(n * 4), *ad = malloc(n * 4), *x = malloc(n * 4);
    for (size_t ti = 0; ti < ARRAY_LEN(weight_types); ti++) {
        uint32_t type = weight_types[ti];
        const quant_traits *t = quant_traits_get(type);
        CHECK(t && t->vec_dot);
        if (!t || !t->vec_dot) continue;
        for (int trial = 0; trial < 20; trial++) {
            fill_weights(type, w, 1, n, &g);
            fill_normal(x, n, trial % 3 ? 1.0 : 1e-3, &g);
            act_roundtrip(t->act_type, x, a, ad, n);
            t->dequantize(w, wd, n);
            double exact = 0, mag = 0;
            for (size_t i = 0; i < n; i++) {
                exact += (double)wd[i] * ad[i];
                mag += fabs((double)wd[i] * ad[i]);
            }
            float got = t->vec_dot(n, w, a);
            /* Q4_1/Q5_1: the min term uses s = f16(d sum q) with the f32 d, not the f16 d
             * the dequantized activations carry: allow 2^-10 of |m_w s_a| per block */
            double tol = 2e-6 * mag + 1e-30;
            if (t->act_type == QTYPE_Q8_1) {
                for (size_t i = 0; i < n / 32; i++) {
                    const block_q8_1 *ab = (const block_q8_1 *)a + i;
                    uint16_t m16;
                    memcpy(&m16, w + i * qtype_get(type)->bytes + 2, 2); /* m of Q4_1 / Q5_1 */
                    tol += fabs((double)quant_f16_to_f32(m16) * quant_f16_to_f32(ab->s)) * 0x1p-10;
                }
            }
            CHECK_MSG(fabs(got - exact) <= tol, "%s trial %d: %.9g vs %.9g (mag %.3g)",
                      qtype_get(type)->name, trial, got, exact, mag);
        }
    }
    free(w);
    free(a);
    free(wd);
    free(ad);
    free(x);
}

/* ==== fast paths against the references ================================================ */

typedef struct mm_case {
    uint32_t type;
    size_t rows, cols, batch;
} mm_case;

/* Naive f64 product of the dequantized weights and the dequantized activations, and the
 * magnitude sum |w||a| per output (the error budget's scale). */
static void naive_matmul(uint32_t type, const uint8_t *w, const float *x, size_t rows, size_t cols,
                         size_t batch, double *y, double *mag, double *slack)
{
    const quant_traits *t = quant_traits_get(type);
    const quant_traits *at = quant_traits_get(t->act_type);
    size_t rb = qtype_row_bytes(type, cols);
    float *wd = malloc(cols * 4), *ad = malloc(batch * cols * 4);
    uint8_t *tmp = malloc(batch * cols * 4);
    size_t ab = qtype_row_bytes(t->act_type, cols);
    for (size_t b = 0; b < batch; b++) {
        if (t->act_type == QTYPE_F32)
            memcpy(ad + b * cols, x + b * cols, cols * 4);
        else {
            at->quantize_act(x + b * cols, tmp + b * ab, cols);
            at->dequantize(tmp + b * ab, ad + b * cols, cols);
        }
    }
    for (size_t r = 0; r < rows; r++) {
        t->dequantize(w + r * rb, wd, cols);
        for (size_t b = 0; b < batch; b++) {
            double s = 0, m = 0;
            for (size_t c = 0; c < cols; c++) {
                s += (double)wd[c] * ad[b * cols + c];
                m += fabs((double)wd[c] * ad[b * cols + c]);
            }
            y[b * rows + r] = s;
            mag[b * rows + r] = m;
            /* Q4_1/Q5_1: the min term uses s = f16(d sum q) with the f32 d, not the f16 d
             * the dequantized activations carry: allow 2^-10 of |m_w s_a| per block */
            double sl = 0;
            if (t->act_type == QTYPE_Q8_1) {
                for (size_t i = 0; i < cols / 32; i++) {
                    const block_q8_1 *a1 = (const block_q8_1 *)(tmp + b * ab) + i;
                    uint16_t m16;
                    memcpy(&m16, w + r * rb + i * qtype_get(type)->bytes + 2, 2);
                    sl += fabs((double)quant_f16_to_f32(m16) * quant_f16_to_f32(a1->s)) * 0x1p-10;
                }
            }
            slack[b * rows + r] = sl;
        }
    }
    free(wd);
    free(ad);
    free(tmp);
}

static double budget_for(uint32_t type)
{
    /* integer types: block sums exact, only f32 summation order differs */
    return type == QTYPE_F32 || type == QTYPE_F16 || type == QTYPE_BF16 ? 1e-4 : 1e-5;
}

static int isa_is_integer_exact(uint32_t type)
{
    return type == QTYPE_Q8_0 || type == QTYPE_Q4_0 || type == QTYPE_Q4_K || type == QTYPE_Q6_K;
}

static void test_quant__matmul_variants(void)
{
    rng g;
    rng_seed(&g, 12345);
    const int best = matmul_isa_detect();
    const size_t batches[] = {1, 2, 3, 7, 16, 64};
    const size_t row_counts[] = {1, 5, 37};
    err e = ERR_INIT;
    matmul_ws ws = MATMUL_WS_INIT;
    CHECK(matmul_ws_init(&ws, 512, 64, &e) == 0);
    for (size_t ti = 0; ti < ARRAY_LEN(weight_types); ti++) {
        uint32_t type = weight_types[ti];
        const qtype_info *q = qtype_get(type);
        /* K-quants: 2 super-blocks; legacy: 11 blocks; floats: a tail past the vector width */
        size_t cols =
            q->block == 256
                ? 512
                : (type == QTYPE_F16 || type == QTYPE_BF16 || type == QTYPE_F32 ? 301 : 352);
        size_t rows_max = 37, bmax = 64;
        size_t rb = qtype_row_bytes(type, cols);
        uint8_t *w = malloc(rows_max * rb);
        float *x = malloc(bmax * cols * 4);
        float *y = malloc(bmax * (rows_max + 3) * 4), *y_isa[MATMUL_ISA_COUNT],
              *y1 = malloc((rows_max + 3) * 4);
        double *yn = malloc(bmax * rows_max * 8), *mag = malloc(bmax * rows_max * 8),
               *slack = malloc(bmax * rows_max * 8);
        for (int isa = 0; isa < MATMUL_ISA_COUNT; isa++) y_isa[isa] = malloc(bmax * rows_max * 4);
        fill_weights(type, w, rows_max, cols, &g);
        fill_normal(x, bmax * cols, 1.0, &g);
        naive_matmul(type, w, x, rows_max, cols, bmax, yn, mag, slack);
        for (size_t ri = 0; ri < ARRAY_LEN(row_counts); ri++) {
            size_t rows = row_counts[ri];
            for (size_t bi = 0; bi < ARRAY_LEN(batches); bi++) {
                size_t batch = batches[bi];
                for (int isa = 0; isa <= best; isa++) {
                    matmul_kernels k;
                    CHECK(matmul_kernels_init(&k, isa, &e) == 0);
                    /* y with a stride past rows, pre-filled with junk that must survive in
                     * the gaps and be overwritten everywhere else */
                    size_t ys = rows + 3;
                    for (size_t i = 0; i < batch * ys; i++) y[i] = bits_f32(0x7fc0dead);
                    matmul_args mm = {.type = type,
                                      .w = w,
                                      .rows = rows,
                                      .cols = cols,
                                      .x = x,
                                      .batch = batch,
                                      .y = y,
                                      .y_stride = ys};
                    int rc = matmul_run(&k, &mm, &ws, 1, &e);
                    CHECK_MSG(rc == 0, "%s: %s", q->name, e.msg);
                    int bad = 0, junk_lost = 0;
                    for (size_t b = 0; b < batch; b++) {
                        for (size_t r = 0; r < rows; r++) {
                            /* rows of yn are the full naive product: (bmax, rows_max) */
                            double want = yn[b * rows_max + r], m = mag[b * rows_max + r];
                            float got = y[b * ys + r];
                            double tol = budget_for(type) * m + slack[b * rows_max + r] + 1e-30;
                            if (!(fabs(got - want) <= tol)) {
                                if (bad++ < 3)
                                    fprintf(
                                        stderr,
                                        "  %s isa %s rows %zu batch %zu [%zu][%zu]: %.9g vs %.9g\n",
                                        q->name, matmul_isa_name(isa), rows, batch, b, r, got,
                                        want);
                            }
                            y_isa[isa][b * rows + r] = got;
                        }
                        for (size_t r = rows; r < ys; r++)
                            junk_lost += f32_bits(y[b * ys + r]) != 0x7fc0dead;
                    }
                    CHECK_MSG(bad == 0, "%s isa %s rows %zu batch %zu: %d outputs off", q->name,
                              matmul_isa_name(isa), rows, batch, bad);
                    CHECK_INT(junk_lost, 0);
                    /* batch invariance: every row equals the same row computed alone (the
                     * references are one dot product per output: nothing to check there) */
                    if (batch > 1 && isa > MATMUL_ISA_REF) {
                        int diff = 0;
                        for (size_t b = 0; b < batch; b++) {
                            matmul_args m1 = {.type = type,
                                              .w = w,
                                              .rows = rows,
                                              .cols = cols,
                                              .x = x + b * cols,
                                              .batch = 1,
                                              .y = y1};
                            CHECK(matmul_run(&k, &m1, &ws, 1, &e) == 0);
                            diff += memcmp(y1, y_isa[isa] + b * rows, rows * 4) != 0;
                        }
                        CHECK_MSG(diff == 0, "%s isa %s batch %zu: batched rows differ from single",
                                  q->name, matmul_isa_name(isa), batch);
                    }
                    /* two threads give the same bits */
                    for (size_t i = 0; i < batch * ys; i++) y[i] = bits_f32(0x7fc0dead);
                    CHECK(matmul_run(&k, &mm, &ws, 2, &e) == 0);
                    int tdiff = 0;
                    for (size_t b = 0; b < batch; b++)
                        tdiff += memcmp(y + b * ys, y_isa[isa] + b * rows, rows * 4) != 0;
                    CHECK_MSG(tdiff == 0, "%s isa %s: 2 threads differ", q->name,
                              matmul_isa_name(isa));
                    CHECK_MSG(k.type[type].gemm != NULL, "%s", q->name);
                }
                /* the integer kernels agree bit for bit across SIMD levels */
                if (isa_is_integer_exact(type))
                    for (int isa = MATMUL_ISA_AVX2 + 1; isa <= best; isa++)
                        CHECK_MSG(memcmp(y_isa[isa], y_isa[MATMUL_ISA_AVX2], batch * rows * 4) == 0,
                                  "%s: %s differs from avx2", q->name, matmul_isa_name(isa));
            }
        }
        free(w);
        free(x);
        free(y);
        free(y1);
        free(yn);
        free(mag);
        free(slack);
        for (int isa = 0; isa < MATMUL_ISA_COUNT; isa++) free(y_isa[isa]);
    }
    matmul_ws_release(&ws);
}

/* Packed weights: every level's packed kernels give the references' results bit for bit,
 * for odd row counts (partial groups of 8), every batch, one or two threads. */
static void test_quant__matmul_packed(void)
{
    rng g;
    rng_seed(&g, 777);
    const int best = matmul_isa_detect();
    const uint32_t types[] = {QTYPE_Q4_0, QTYPE_Q8_0, QTYPE_Q4_K, QTYPE_Q5_K, QTYPE_Q6_K};
    const size_t batches[] = {1, 2, 3, 7, 16, 64};
    const size_t row_counts[] = {1, 8, 13, 37, 64};
    err e = ERR_INIT;
    matmul_ws ws = MATMUL_WS_INIT;
    matmul_kernels kref;
    CHECK(matmul_ws_init(&ws, 768, 64, &e) == 0);
    CHECK(matmul_kernels_init(&kref, MATMUL_ISA_REF, &e) == 0);
    CHECK(!matmul_can_pack(&kref, QTYPE_Q4_0));
    for (size_t ti = 0; ti < ARRAY_LEN(types); ti++) {
        uint32_t type = types[ti];
        const qtype_info *q = qtype_get(type);
        size_t cols = q->block == 256 ? 768 : 352, rows_max = 64, bmax = 64;
        size_t rb = qtype_row_bytes(type, cols);
        uint8_t *w = malloc(rows_max * rb);
        float *x = malloc(bmax * cols * 4), *y = malloc(bmax * (rows_max + 1) * 4),
              *yr = malloc(bmax * rows_max * 4);
        fill_weights(type, w, rows_max, cols, &g);
        fill_normal(x, bmax * cols, 1.0, &g);
        for (size_t ri = 0; ri < ARRAY_LEN(row_counts); ri++) {
            size_t rows = row_counts[ri];
            for (int isa = MATMUL_ISA_AVX2; isa <= best; isa++) {
                matmul_kernels k;
                matmul_packed pk = MATMUL_PACKED_INIT;
                CHECK(matmul_kernels_init(&k, isa, &e) == 0);
                CHECK(matmul_can_pack(&k, type));
                CHECK_MSG(matmul_pack(&k, type, w, rows, cols, 0, 2, &pk, &e) == 0, "%s", e.msg);
                CHECK_INT(pk.bytes, matmul_packed_bytes(type, rows, cols));
                CHECK(pk.bytes >= (rows + 7) / 8 * 8 * rb);
                for (size_t bi = 0; bi < ARRAY_LEN(batches); bi++) {
                    size_t batch = batches[bi];
                    matmul_args mr = {.type = type,
                                      .w = w,
                                      .rows = rows,
                                      .cols = cols,
                                      .x = x,
                                      .batch = batch,
                                      .y = yr};
                    CHECK(matmul_run(&kref, &mr, &ws, 1, &e) == 0);
                    for (int threads = 1; threads <= 2; threads++) {
                        size_t ys = rows + 1;
                        for (size_t i = 0; i < batch * ys; i++) y[i] = bits_f32(0x7fc0dead);
                        matmul_args mm = {.type = type,
                                          .rows = rows,
                                          .cols = cols,
                                          .x = x,
                                          .batch = batch,
                                          .y = y,
                                          .y_stride = ys,
                                          .packed = &pk};
                        CHECK_MSG(matmul_run(&k, &mm, &ws, threads, &e) == 0, "%s", e.msg);
                        int diff = 0, junk_lost = 0;
                        for (size_t b = 0; b < batch; b++) {
                            for (size_t r = 0; r < rows; r++)
                                if (f32_bits(y[b * ys + r]) != f32_bits(yr[b * rows + r])) {
                                    if (diff++ < 3)
                                        fprintf(stderr,
                                                "  %s %s rows %zu batch %zu [%zu][%zu]: %.9g vs "
                                                "ref %.9g\n",
                                                q->name, matmul_isa_name(isa), rows, batch, b, r,
                                                y[b * ys + r], yr[b * rows + r]);
                                }
                            junk_lost += f32_bits(y[b * ys + rows]) != 0x7fc0dead;
                        }
                        CHECK_MSG(diff == 0,
                                  "%s packed %s rows %zu batch %zu threads %d: %d differ from ref",
                                  q->name, matmul_isa_name(isa), rows, batch, threads, diff);
                        CHECK_INT(junk_lost, 0);
                    }
                }
                /* the wrong table, wrong shape */
                matmul_args bad = {.type = type,
                                   .rows = rows,
                                   .cols = cols,
                                   .x = x,
                                   .batch = 1,
                                   .y = y,
                                   .packed = &pk};
                CHECK(matmul_check(&kref, &bad, &ws, &e) == ERR_UNSUPPORTED);
                bad.rows = rows + 1;
                CHECK(matmul_check(&k, &bad, &ws, &e) == ERR_INVALID);
                matmul_packed_release(&pk);
                matmul_packed_release(&pk);
            }
        }
        free(w);
        free(x);
        free(y);
        free(yr);
    }
    matmul_packed pk = MATMUL_PACKED_INIT;
    uint8_t w[64] = {0};
    CHECK(matmul_pack(&kref, QTYPE_Q4_0, w, 1, 32, 0, 1, &pk, &e) == ERR_UNSUPPORTED);
    if (best >= MATMUL_ISA_AVX2) {
        matmul_kernels k;
        matmul_kernels_init(&k, MATMUL_ISA_AUTO, &e);
        CHECK(matmul_pack(&k, QTYPE_F16, w, 1, 32, 0, 1, &pk, &e) == ERR_UNSUPPORTED);
        CHECK(matmul_pack(&k, QTYPE_Q4_0, w, 1, 48, 0, 1, &pk, &e) == ERR_INVALID);
        CHECK(matmul_pack(&k, QTYPE_Q4_0, w, 1, 32, 17, 1, &pk, &e) == ERR_INVALID);
        CHECK(matmul_pack(&k, QTYPE_Q4_0, w + 1, 1, 32, 0, 1, &pk, &e) == ERR_INVALID);
        CHECK(pk.data == NULL);
    }
    CHECK_INT(matmul_packed_bytes(QTYPE_F16, 8, 32), 0);
    CHECK_INT(matmul_packed_bytes(QTYPE_Q4_K, 9, 256), 2 * 8 * 148);
    CHECK_INT(matmul_packed_bytes(QTYPE_Q5_K, 16, 512), 2 * 2 * 8 * 180);
    CHECK_INT(matmul_packed_bytes(QTYPE_Q4_0, 1, 64), 2 * 8 * 18);
    CHECK_INT(matmul_packed_bytes(QTYPE_Q4_0, 1, 33), 0);
    matmul_ws_release(&ws);
}

/* Every level's activation quantizers give the references' bytes: Gaussian rows, rows on
 * a coarse grid (x * 127 / amax lands on exact .5 ties), zero blocks, +-max ties. */
static void test_quant__act_variants(void)
{
    rng g;
    rng_seed(&g, 4242);
    const size_t n = 256 * 12;
    float *x = malloc(n * 4);
    uint8_t *want = malloc(n * 2), *got = malloc(n * 2);
    err e = ERR_INIT;
    matmul_kernels kref;
    CHECK(matmul_kernels_init(&kref, MATMUL_ISA_REF, &e) == 0);
    const uint32_t types[] = {QTYPE_Q4_0, QTYPE_Q6_K, QTYPE_F16, QTYPE_BF16}; /* one per format */
    for (int pattern = 0; pattern < 6; pattern++) {
        for (size_t i = 0; i < n; i++) {
            switch (pattern) {
            case 0:
                x[i] = (float)rng_normal(&g);
                break;
            case 1:
                x[i] = (float)((int)(rng_next(&g) % 255) - 127) * 0.5f;
                break; /* ties */
            case 2:
                x[i] = i % 256 < 128 ? 0.0f : (float)rng_normal(&g) * 1e-3f;
                break;
            default:
                x[i] = (i % 7 == 0) ? ((i / 7) % 2 ? 3.0f : -3.0f) : (float)rng_uniform(&g);
                break;
            }
        }
        for (int isa = MATMUL_ISA_AVX2; isa <= matmul_isa_detect(); isa++) {
            matmul_kernels k;
            CHECK(matmul_kernels_init(&k, isa, &e) == 0);
            for (size_t ti = 0; ti < ARRAY_LEN(types); ti++) {
                uint32_t t = types[ti];
                if (pattern == 5 && t != QTYPE_F16 && t != QTYPE_BF16) continue;
                for (int packed = 0; packed < (t == QTYPE_F16 || t == QTYPE_BF16 ? 1 : 2);
                     packed++) {
                    quant_quantize_fn fr =
                        packed ? kref.type[t].quantize_act_packed : kref.type[t].quantize_act;
                    quant_quantize_fn fk =
                        packed ? k.type[t].quantize_act_packed : k.type[t].quantize_act;
                    size_t bytes = packed ? (t == QTYPE_Q6_K ? n / 256 * 320 : n / 32 * 48)
                                          : qtype_row_bytes(k.type[t].act_type, n);
                    memset(want, 0xa5, n * 2);
                    memset(got, 0x5a, n * 2);
                    fr(x, want, n);
                    fk(x, got, n);
                    CHECK_MSG(memcmp(want, got, bytes) == 0,
                              "%s act %s%s pattern %d differs from ref",
                              qtype_get(k.type[t].act_type)->name, packed ? "packed " : "",
                              matmul_isa_name(isa), pattern);
                }
            }
        }
    }
    free(x);
    free(want);
    free(got);
}

/* Which levels fill the hot types: SIMD kernels exist for them at every level. */
static void test_quant__dispatch(void)
{
    err e = ERR_INIT;
    int best = matmul_isa_detect();
    matmul_kernels k;
    CHECK(matmul_kernels_init(&k, MATMUL_ISA_AUTO, &e) == 0);
    CHECK_INT(k.isa, best);
    const uint32_t hot[] = {QTYPE_Q8_0, QTYPE_Q4_0, QTYPE_Q4_K, QTYPE_Q6_K,
                            QTYPE_F16,  QTYPE_BF16, QTYPE_F32};
    for (size_t i = 0; i < ARRAY_LEN(hot); i++) {
        if (best >= MATMUL_ISA_AVX2) CHECK(k.type[hot[i]].isa > MATMUL_ISA_REF);
        CHECK(k.type[hot[i]].gemm != NULL);
    }
    CHECK_INT(k.type[QTYPE_Q4_0].act_type, QTYPE_Q8_0);
    CHECK_INT(k.type[QTYPE_Q4_1].act_type, QTYPE_Q8_1);
    CHECK_INT(k.type[QTYPE_Q6_K].act_type, QTYPE_Q8_K);
    CHECK(k.type[QTYPE_F32].quantize_act == NULL);
    CHECK(k.type[QTYPE_Q8_K].gemm == NULL); /* activation-only */
    CHECK(k.type[QTYPE_I8].gemm == NULL);
    CHECK(matmul_kernels_init(&k, MATMUL_ISA_REF, &e) == 0);
    CHECK_INT(k.type[QTYPE_Q4_0].isa, MATMUL_ISA_REF);
    CHECK(matmul_kernels_init(&k, 17, &e) == ERR_INVALID);
    if (best < MATMUL_ISA_COUNT - 1)
        CHECK(matmul_kernels_init(&k, best + 1, &e) == ERR_UNSUPPORTED);
    int isa = -5;
    CHECK(matmul_isa_parse("avx2", &isa, &e) == 0 && isa == MATMUL_ISA_AVX2);
    CHECK(matmul_isa_parse("auto", &isa, &e) == 0 && isa == MATMUL_ISA_AUTO);
    CHECK(matmul_isa_parse("avx", &isa, &e) == ERR_INVALID);
    CHECK(strstr(e.msg, "\"avx\"") != NULL);
    CHECK(matmul_isa_parse(NULL, &isa, &e) == ERR_INVALID);
    CHECK_STR(matmul_isa_name(MATMUL_ISA_AVX512_VNNI), "avx512vnni");
    CHECK_STR(matmul_isa_name(99), "?");
}

/* A multiply inside a parallel region the caller owns, twice in a row on one workspace. */
static void test_quant__matmul_team(void)
{
    rng g;
    rng_seed(&g, 5);
    err e = ERR_INIT;
    matmul_kernels k;
    CHECK(matmul_kernels_init(&k, MATMUL_ISA_AUTO, &e) == 0);
    const size_t rows = 70, cols = 512, batch = 5;
    size_t rb = qtype_row_bytes(QTYPE_Q4_K, cols);
    uint8_t *w = malloc(rows * rb);
    float *x = malloc(batch * cols * 4), *y = malloc(batch * rows * 4),
          *y2 = malloc(batch * rows * 4), *yr = malloc(batch * rows * 4);
    fill_weights(QTYPE_Q4_K, w, rows, cols, &g);
    fill_normal(x, batch * cols, 1.0, &g);
    matmul_ws ws = MATMUL_WS_INIT;
    CHECK(matmul_ws_init(&ws, cols, batch, &e) == 0);
    matmul_args mm = {
        .type = QTYPE_Q4_K, .w = w, .rows = rows, .cols = cols, .x = x, .batch = batch, .y = y};
    matmul_args m2 = mm;
    m2.y = y2;
    CHECK(matmul_check(&k, &mm, &ws, &e) == 0);
    CHECK(matmul_run(&k, &mm, &ws, 1, &e) == 0);
    memcpy(yr, y, batch * rows * 4);
    memset(y, 0, batch * rows * 4);
#pragma omp parallel num_threads(3)
    {
        matmul_run_team(&k, &mm, &ws);
        matmul_run_team(&k, &m2, &ws);
    }
    CHECK(memcmp(y, yr, batch * rows * 4) == 0);
    CHECK(memcmp(y2, yr, batch * rows * 4) == 0);
    /* matmul_run with one thread from inside a team: each thread alone, its own scratch */
    int bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
    {
        matmul_ws mine = MATMUL_WS_INIT;
        float *ym = malloc(batch * rows * 4);
        matmul_args m3 = mm;
        m3.y = ym;
        if (matmul_ws_init(&mine, cols, batch, NULL) < 0 ||
            matmul_run(&k, &m3, &mine, 1, NULL) < 0 || memcmp(ym, yr, batch * rows * 4) != 0)
            bad++;
        free(ym);
        matmul_ws_release(&mine);
    }
    CHECK_INT(bad, 0);
    matmul_ws_release(&ws);
    matmul_ws_release(&ws); /* twice is safe */
    free(w);
    free(x);
    free(y);
    free(y2);
    free(yr);
}

/* ==== quantize -> dequantize error bounds ============================================== */

static void test_quant__roundtrip(void)
{
    rng g;
    rng_seed(&g, 99);
    const size_t n = 256 * 64;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    uint8_t *q = malloc(n * 4);
    fill_normal(x, n, 1.0, &g);
    /* relative RMSE bounds for unit Gaussians (roughly step / sqrt(12) with margin) */
    static const struct {
        uint32_t type;
        double bound;
    } rows[] = {
        {QTYPE_F32, 0},      {QTYPE_F16, 3e-4},  {QTYPE_BF16, 2.5e-3}, {QTYPE_Q8_0, 0.009},
        {QTYPE_Q6_K, 0.022}, {QTYPE_Q4_K, 0.12}, {QTYPE_Q4_0, 0.12},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        err e = ERR_INIT;
        CHECK(quant_quantize_row(rows[i].type, x, q, n, &e) == 0);
        CHECK(quant_dequantize_row(rows[i].type, q, y, n, &e) == 0);
        double r = rmse(x, y, n);
        CHECK_MSG(r <= rows[i].bound, "%s: rmse %.5g > %.5g", qtype_get(rows[i].type)->name, r,
                  rows[i].bound);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  %s round-trip rmse %.5g\n", qtype_get(rows[i].type)->name, r);
    }
    /* constant and all-zero blocks survive */
    for (size_t i = 0; i < 256; i++) x[i] = 0.0f;
    for (size_t i = 256; i < 512; i++) x[i] = 0.75f;
    const uint32_t qt[] = {QTYPE_Q8_0, QTYPE_Q4_0, QTYPE_Q4_K, QTYPE_Q6_K};
    for (size_t i = 0; i < ARRAY_LEN(qt); i++) {
        quant_quantize_row(qt[i], x, q, 512, NULL);
        quant_dequantize_row(qt[i], q, y, 512, NULL);
        CHECK_MSG(y[7] == 0.0f && fabsf(y[300] - 0.75f) < 0.75f * 0.02f, "%s: %g %g",
                  qtype_get(qt[i])->name, y[7], y[300]);
    }
    free(x);
    free(y);
    free(q);
}

/* ==== bad inputs ======================================================================= */

static void test_quant__bad_args(void)
{
    err e = ERR_INIT;
    float f[64] = {0};
    uint8_t b[256] = {0};
    CHECK(quant_dequantize_row(QTYPE_Q4_0, b, f, 31, &e) == ERR_INVALID);
    CHECK(strstr(e.msg, "Q4_0") != NULL);
    CHECK(quant_dequantize_row(16, b, f, 256, &e) == ERR_UNSUPPORTED); /* IQ2_XXS */
    CHECK(strstr(e.msg, "IQ2_XXS") != NULL);
    CHECK(quant_dequantize_row(4, b, f, 32, &e) == ERR_UNSUPPORTED); /* removed id */
    CHECK(quant_dequantize_row(1000, b, f, 32, &e) == ERR_UNSUPPORTED);
    CHECK(quant_quantize_row(QTYPE_Q5_0, f, b, 32, &e) == ERR_UNSUPPORTED);
    CHECK(quant_quantize_row(QTYPE_Q6_K, f, b, 32, &e) == ERR_INVALID);
    CHECK(quant_traits_get(QTYPE_I8) == NULL);
    CHECK(quant_traits_get(QTYPE_COUNT) == NULL);

    matmul_kernels k;
    CHECK(matmul_kernels_init(&k, MATMUL_ISA_AUTO, &e) == 0);
    matmul_ws ws = MATMUL_WS_INIT;
    float x[2 * 64], y[8];
    _Alignas(4) uint8_t w[4 * 36 + 2];
    memset(w, 0, sizeof w);
    matmul_args ok = {
        .type = QTYPE_Q8_0, .w = w, .rows = 2, .cols = 64, .x = x, .batch = 1, .y = y};
    CHECK(matmul_check(&k, &ok, &ws, &e) == ERR_LIMIT); /* no scratch */
    CHECK(matmul_check(&k, &ok, NULL, &e) == ERR_INVALID);
    CHECK(matmul_ws_init(&ws, 64, 1, &e) == 0);
    CHECK(matmul_check(&k, &ok, &ws, &e) == 0);
    matmul_args m = ok;
    m.cols = 48;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_INVALID);
    m = ok;
    m.type = QTYPE_Q8_K;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_UNSUPPORTED);
    m.type = 200;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_UNSUPPORTED);
    m = ok;
    m.w = w + 1;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_INVALID);
    m = ok;
    m.w_stride = 35;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_INVALID);
    m = ok;
    m.x_stride = 10;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_INVALID);
    m = ok;
    m.y = x + 10; /* overlaps x */
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_INVALID);
    m = ok;
    m.batch = 2;
    m.x_stride = 64;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_LIMIT); /* scratch for one row only */
    m = ok;
    m.x = NULL;
    CHECK(matmul_check(&k, &m, &ws, &e) == ERR_INVALID);
    m = ok;
    m.rows = 0;
    CHECK(matmul_run(&k, &m, &ws, 2, &e) == 0); /* nothing to do */
    CHECK(matmul_run(NULL, &ok, &ws, 1, &e) == ERR_INVALID);
    CHECK(matmul_ws_bytes(SIZE_MAX / 2, 4) == SIZE_MAX);
    matmul_ws big = MATMUL_WS_INIT;
    CHECK(matmul_ws_init(&big, SIZE_MAX / 2, 4, &e) == ERR_LIMIT);
    matmul_ws_release(&big);
    matmul_ws_release(&ws);

    matmul_bandwidth bw;
    CHECK(matmul_measure_bandwidth(1000, 1, 1, &bw, &e) == ERR_INVALID);
    CHECK(matmul_measure_bandwidth(1 << 24, 0, 1, &bw, &e) == ERR_INVALID);
}

/* Bytes from a file are never trusted: every bit pattern (NaN/Inf scales, -128 quants,
 * any nibble) must go through dequantize and every kernel level without undefined
 * behaviour (the sanitizer build runs this). */
static void test_quant__garbage_blocks(void)
{
    rng g;
    rng_seed(&g, 3);
    const size_t cols = 512, rows = 9;
    uint8_t *w = malloc(rows * cols * 4);
    float *x = malloc(2 * cols * 4), *y = malloc(2 * rows * 4), *d = malloc(cols * 4);
    err e = ERR_INIT;
    matmul_ws ws = MATMUL_WS_INIT;
    CHECK(matmul_ws_init(&ws, cols, 2, &e) == 0);
    for (size_t ti = 0; ti < ARRAY_LEN(weight_types); ti++) {
        uint32_t type = weight_types[ti];
        for (size_t i = 0; i < rows * cols * 4; i++) w[i] = (uint8_t)rng_next(&g);
        for (size_t i = 0; i < 2 * cols; i++)
            x[i] = bits_f32((uint32_t)rng_next(&g)); /* NaN, Inf too */
        CHECK(quant_dequantize_row(type, w, d, cols, &e) == 0);
        for (int isa = 0; isa <= matmul_isa_detect(); isa++) {
            matmul_kernels k;
            matmul_kernels_init(&k, isa, &e);
            matmul_args mm = {
                .type = type, .w = w, .rows = rows, .cols = cols, .x = x, .batch = 2, .y = y};
            CHECK(matmul_run(&k, &mm, &ws, 2, &e) == 0);
            matmul_packed pk = MATMUL_PACKED_INIT;
            if (matmul_can_pack(&k, type)) {
                CHECK(matmul_pack(&k, type, w, rows, cols, 0, 2, &pk, &e) == 0);
                mm.packed = &pk;
                CHECK(matmul_run(&k, &mm, &ws, 2, &e) == 0);
                matmul_packed_release(&pk);
            }
            /* this level's activation quantizers on garbage */
            uint8_t *scratch = malloc(cols * 2);
            if (k.type[type].quantize_act) k.type[type].quantize_act(x, scratch, cols);
            if (k.type[type].quantize_act_packed)
                k.type[type].quantize_act_packed(x, scratch, cols);
            free(scratch);
        }
    }
    matmul_ws_release(&ws);
    free(w);
    free(x);
    free(y);
    free(d);
}

static void test_quant__bandwidth(void)
{
    matmul_bandwidth bw;
    err e = ERR_INIT;
    CHECK(matmul_measure_bandwidth(16u << 20, 2, 2, &bw, &e) == 0);
    CHECK(bw.read_gbs > 0 && bw.triad_gbs > 0);
    CHECK(bw.bytes <= 16u << 20 && bw.bytes > 15u << 20);
    CHECK_INT(bw.threads, 2);
}

int main(void)
{
    RUN(test_quant__f16);
    RUN(test_quant__bf16);
    RUN(test_quant__vectors_q4_0_q8_0);
    RUN(test_quant__vectors_q4_k);
    RUN(test_quant__vectors_q6_k);
    RUN(test_quant__act_q8_0);
    RUN(test_quant__act_q8_k);
    RUN(test_quant__dequant_hand);
    RUN(test_quant__fixtures);
    RUN(test_quant__vec_dot_identities);
    RUN(test_quant__dispatch);
    RUN(test_quant__matmul_variants);
    RUN(test_quant__act_variants);
    RUN(test_quant__matmul_packed);
    RUN(test_quant__matmul_team);
    RUN(test_quant__roundtrip);
    RUN(test_quant__bad_args);
    RUN(test_quant__garbage_blocks);
    RUN(test_quant__bandwidth);
    return test_report();
}
