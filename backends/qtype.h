/* qtype.h: ggml tensor type ids (as stored in GGUF files) and their block sizes.
 *
 * The one table both the GGUF reader (to validate tensor sizes) and the
 * quant kernels (to dispatch) use. Ids are ggml's and never change. A type
 * with block_bytes == 0 is known by name but not supported by this engine.
 */
#ifndef TALLY_BACKENDS_QTYPE_H
#define TALLY_BACKENDS_QTYPE_H

#include <stddef.h>
#include <stdint.h>

enum qtype {
    QTYPE_F32 = 0,
    QTYPE_F16 = 1,
    QTYPE_Q4_0 = 2,
    QTYPE_Q4_1 = 3,
    QTYPE_Q5_0 = 6,
    QTYPE_Q5_1 = 7,
    QTYPE_Q8_0 = 8,
    QTYPE_Q8_1 = 9,
    QTYPE_Q2_K = 10,
    QTYPE_Q3_K = 11,
    QTYPE_Q4_K = 12,
    QTYPE_Q5_K = 13,
    QTYPE_Q6_K = 14,
    QTYPE_Q8_K = 15,
    QTYPE_IQ4_NL = 20,
    QTYPE_IQ4_XS = 23,
    QTYPE_I8 = 24,
    QTYPE_I16 = 25,
    QTYPE_I32 = 26,
    QTYPE_I64 = 27,
    QTYPE_F64 = 28,
    QTYPE_BF16 = 30,
    QTYPE_COUNT = 43, /* ids below this are ggml's; not all are supported */
};

typedef struct qtype_info {
    const char *name;   /* "Q4_K"; NULL for ids ggml does not define */
    uint32_t block;     /* values per block */
    uint32_t bytes;     /* bytes per block; 0 = not supported here */
} qtype_info;

/* The row for a type id; NULL when id >= QTYPE_COUNT or ggml defines no such id. */
const qtype_info *qtype_get(uint32_t id);
/* Bytes of a row of n values, or 0 when n is not a multiple of the block or the type is unsupported. */
size_t qtype_row_bytes(uint32_t id, uint64_t n);

#endif
