/* qtype.c: the ggml type table (GGUF_FORMAT.md section 2). */
#include "qtype.h"

/* Indexed by ggml id. To support a type, give it its block size and bytes. */
static const qtype_info qtypes[QTYPE_COUNT] = {
    [QTYPE_F32] = {"F32", 1, 4},
    [QTYPE_F16] = {"F16", 1, 2},
    [QTYPE_Q4_0] = {"Q4_0", 32, 18},
    [QTYPE_Q4_1] = {"Q4_1", 32, 20},
    [QTYPE_Q5_0] = {"Q5_0", 32, 22},
    [QTYPE_Q5_1] = {"Q5_1", 32, 24},
    [QTYPE_Q8_0] = {"Q8_0", 32, 34},
    [QTYPE_Q8_1] = {"Q8_1", 32, 36},
    [QTYPE_Q2_K] = {"Q2_K", 256, 84},
    [QTYPE_Q3_K] = {"Q3_K", 256, 110},
    [QTYPE_Q4_K] = {"Q4_K", 256, 144},
    [QTYPE_Q5_K] = {"Q5_K", 256, 176},
    [QTYPE_Q6_K] = {"Q6_K", 256, 210},
    [QTYPE_Q8_K] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 0},
    [17] = {"IQ2_XS", 256, 0},
    [18] = {"IQ3_XXS", 256, 0},
    [19] = {"IQ1_S", 256, 0},
    [QTYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [21] = {"IQ3_S", 256, 0},
    [22] = {"IQ2_S", 256, 0},
    [QTYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [QTYPE_I8] = {"I8", 1, 1},
    [QTYPE_I16] = {"I16", 1, 2},
    [QTYPE_I32] = {"I32", 1, 4},
    [QTYPE_I64] = {"I64", 1, 8},
    [QTYPE_F64] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 0},
    [QTYPE_BF16] = {"BF16", 1, 2},
    [34] = {"TQ1_0", 256, 0},
    [35] = {"TQ2_0", 256, 0},
    [39] = {"MXFP4", 32, 0},
    [40] = {"NVFP4", 64, 0},
    [41] = {"Q1_0", 0, 0},
    [42] = {"Q2_0", 0, 0},
};

const qtype_info *qtype_get(uint32_t id)
{
    if (id >= QTYPE_COUNT || !qtypes[id].name) return NULL;
    return &qtypes[id];
}

size_t qtype_row_bytes(uint32_t id, uint64_t n)
{
    const qtype_info *q = qtype_get(id);
    if (!q || !q->bytes || !q->block || n % q->block) return 0;
    return (size_t)(n / q->block) * q->bytes;
}
