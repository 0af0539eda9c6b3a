/* gguf.h: read and write GGUF v2/v3 model files (GGUF_FORMAT.md section 1).
 *
 * Byte layout (all little-endian, nothing aligned before the data section):
 *
 *   header    "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv      string key | i32 value type | value
 *             (string = u64 length + bytes, no NUL; array = i32 element type,
 *              u64 count, count values)
 *   n_tensors string name | u32 n_dims | u64 ne[n_dims] | i32 ggml type | u64 offset
 *   padding   zeros up to a multiple of the alignment (general.alignment, default 32)
 *   data      tensor i at data_start + offset_i, each padded to the alignment
 *
 * Reading. gguf_open maps the file read-only and validates every count,
 * length, type id, dimension and offset against the file size before use
 * (GGUF_FORMAT.md 1.8). A truncated, corrupt or hostile file fails with
 * ERR_FORMAT and a message "<path>: byte <offset>: <what is wrong>"; a valid
 * file we cannot handle (GGUF v1, a big-endian file, a tensor type this
 * engine does not decode) fails with ERR_UNSUPPORTED. Keys, strings and
 * numeric arrays are copied out of the file into memory owned by the gguf
 * (NUL-terminated, naturally aligned); tensor data stays in the mapping and
 * `gguf_tensor.data` points into it, at a multiple of gguf_alignment(g) from
 * the page-aligned start of the file (so F32 data is 4-byte aligned unless a
 * file sets general.alignment below 4, which ggml allows). gguf_open_mem
 * files are aligned as the caller's buffer is. Everything a gguf hands out
 * lives until gguf_close.
 *
 *   gguf *g = NULL;
 *   if (gguf_open(&g, path, &e) < 0) ...
 *   uint32_t n_layer;
 *   if (gguf_get_arch_u32(g, "block_count", &n_layer, &e) < 0) ...
 *   const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
 *   gguf_close(g);
 *
 * Writing. A gguf_writer collects key/values (any type, arrays of strings
 * included) and tensors (any ggml type id, bytes given by the caller or
 * produced by a callback at write time), then writes a v3 file with the
 * dense layout ggml and llama.cpp expect: tensors in the order added, each at
 * the running offset padded to the alignment, zero padding after each. The
 * file is written to a temporary name, fsynced and renamed (no half-written
 * file ever has the final name).
 *
 *   gguf_writer w = GGUF_WRITER_INIT;
 *   gguf_writer_set_str(&w, "general.architecture", "granite");
 *   gguf_writer_add_tensor(&w, "w", QTYPE_F32, 2, ne, data, &e);   // data borrowed
 *   gguf_writer_write(&w, "out.gguf", &e);
 *   gguf_writer_release(&w);
 *
 * The writer copies keys, names and values; tensor bytes are borrowed until
 * gguf_writer_write returns.
 */
#ifndef TALLY_BACKENDS_GGUF_H
#define TALLY_BACKENDS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strmap.h"

/* Value type ids of metadata (GGUF_FORMAT.md 1.4). Never renumbered. */
enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT = 13,
};

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS          4
#define GGUF_MAX_NAME          63         /* bytes of a tensor name (ggml's limit) */
#define GGUF_MAX_STRING        (1u << 30) /* bytes of one string */
#define GGUF_MAX_ARRAY         (1u << 30) /* elements of one array */

/* A string from the file: `s` is NUL-terminated (the bytes may hold NULs
 * themselves; `len` is authoritative). */
typedef struct gguf_str {
    const char *s;
    size_t len;
} gguf_str;

/* One metadata record. For scalars `n` is 1 and the value is in `v`; for
 * arrays `arr_type` is the element type, `n` the count and `arr` points at
 * `n` elements in their natural C type (uint8_t ... double, bool as uint8_t,
 * strings as gguf_str). */
typedef struct gguf_kv {
    const char *key; /* NUL-terminated, non-empty */
    uint32_t type;   /* enum gguf_type */
    uint32_t arr_type;
    uint64_t n;
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        float f32;
        bool b;
        uint64_t u64;
        int64_t i64;
        double f64;
        gguf_str str;
    } v;
    const void *arr;
    uint64_t file_offset; /* where the record starts in the file (for messages) */
} gguf_kv;

/* One tensor. ne[0] is the row length (fastest-varying); dims beyond n_dims are 1. */
typedef struct gguf_tensor {
    const char *name; /* NUL-terminated, 1..63 bytes */
    uint32_t type;    /* ggml type id (backends/qtype.h) */
    uint32_t n_dims;  /* 0..4 */
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t n_elements;  /* ne0*ne1*ne2*ne3 */
    uint64_t offset;      /* relative to the data section */
    size_t nbytes;        /* bytes of data (qtype_row_bytes(type, ne0) * rows) */
    const void *data;     /* into the read-only mapping; NULL when nbytes == 0 */
    uint64_t info_offset; /* where the info record starts in the file */
} gguf_tensor;

typedef struct gguf gguf;

/* ---- reading ---- */

/* Maps and validates `path`. On failure *out is NULL. */
int gguf_open(gguf **out, const char *path, err *e);
/* Parses a file image held in memory (not copied: `data` must outlive the
 * gguf). `name` is used in messages. Validation is the same as gguf_open. */
int gguf_open_mem(gguf **out, const void *data, size_t size, const char *name, err *e);
/* Unmaps and frees everything; NULL is allowed. */
void gguf_close(gguf *g);

const char *gguf_path(const gguf *g);
uint32_t gguf_version(const gguf *g);
uint64_t gguf_file_size(const gguf *g);
uint32_t gguf_alignment(const gguf *g);
/* Absolute file offset of the data section. */
uint64_t gguf_data_offset(const gguf *g);

/* Key/values in file order. */
size_t gguf_n_kv(const gguf *g);
const gguf_kv *gguf_kv_at(const gguf *g, size_t i);
/* NULL when absent. */
const gguf_kv *gguf_find_key(const gguf *g, const char *key);

/* Tensors in file order. */
size_t gguf_n_tensors(const gguf *g);
const gguf_tensor *gguf_tensor_at(const gguf *g, size_t i);
/* NULL when absent. */
const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name);

/* A type's name ("UINT32", "ARRAY"...), "?" for an unknown id. */
const char *gguf_type_name(uint32_t type);

/* Typed getters. An absent key is ERR_NOTFOUND; a key of the wrong type is
 * ERR_FORMAT, both with a message naming the file and the key. Integer
 * getters accept any integer type whose value fits; gguf_get_f32 accepts
 * FLOAT32 and FLOAT64; the others need their exact type. Returned strings
 * live until gguf_close. The gguf_opt_* forms give `def` when the key is
 * absent (and still fail on a wrong type). */
int gguf_get_u32(const gguf *g, const char *key, uint32_t *out, err *e);
int gguf_get_i64(const gguf *g, const char *key, int64_t *out, err *e);
int gguf_get_f32(const gguf *g, const char *key, float *out, err *e);
int gguf_get_bool(const gguf *g, const char *key, bool *out, err *e);
int gguf_get_str(const gguf *g, const char *key, const char **out, err *e);
int gguf_opt_u32(const gguf *g, const char *key, uint32_t def, uint32_t *out, err *e);
int gguf_opt_i64(const gguf *g, const char *key, int64_t def, int64_t *out, err *e);
int gguf_opt_f32(const gguf *g, const char *key, float def, float *out, err *e);
int gguf_opt_bool(const gguf *g, const char *key, bool def, bool *out, err *e);
/* *out = def (may be NULL) when absent. */
int gguf_opt_str(const gguf *g, const char *key, const char *def, const char **out, err *e);

/* An array key with elements of `elem_type` (GGUF_TYPE_STRING gives gguf_str
 * elements). Fails (ERR_FORMAT) when the key is not an array of that type. */
int gguf_get_arr(const gguf *g, const char *key, uint32_t elem_type, const void **data_out,
                 uint64_t *n_out, err *e);
/* A per-layer integer that may be a scalar (same for every index) or an
 * integer array (element `index`; an index past the end is ERR_FORMAT). */
int gguf_get_u32_at(const gguf *g, const char *key, uint64_t index, uint32_t *out, err *e);

/* general.architecture, or NULL when absent or not a string. */
const char *gguf_arch(const gguf *g);
/* Writes "<arch>.<suffix>" into out (n bytes); ERR_NOTFOUND without an
 * architecture, ERR_LIMIT when it does not fit. */
int gguf_arch_key(const gguf *g, const char *suffix, char *out, size_t n, err *e);
/* The getters above with the key "<general.architecture>.<suffix>". */
int gguf_get_arch_u32(const gguf *g, const char *suffix, uint32_t *out, err *e);
int gguf_get_arch_f32(const gguf *g, const char *suffix, float *out, err *e);
int gguf_opt_arch_u32(const gguf *g, const char *suffix, uint32_t def, uint32_t *out, err *e);
int gguf_opt_arch_f32(const gguf *g, const char *suffix, float def, float *out, err *e);
int gguf_opt_arch_bool(const gguf *g, const char *suffix, bool def, bool *out, err *e);
int gguf_get_arch_u32_at(const gguf *g, const char *suffix, uint64_t index, uint32_t *out, err *e);

/* ---- writing ---- */

/* Called at write time to produce tensor `index`'s bytes into dst (exactly
 * nbytes). Returns 0 or a negative code (with `e` filled). */
typedef int (*gguf_fill_fn)(void *ctx, size_t index, void *dst, size_t nbytes, err *e);

typedef struct gguf_writer_kv gguf_writer_kv;
typedef struct gguf_writer_tensor gguf_writer_tensor;

typedef struct gguf_writer {
    arena mem;           /* copies of keys, names and values */
    gguf_writer_kv *kvs; /* in insertion order */
    size_t n_kv, cap_kv;
    gguf_writer_tensor *tensors; /* in insertion order */
    size_t n_tensors, cap_tensors;
    strmap key_index;    /* key -> index in kvs */
    strmap tensor_index; /* name -> index in tensors */
    int status;          /* first failure of a set_* call (0 = none) */
    char status_msg[160];
} gguf_writer;

#define GGUF_WRITER_INIT                                                                           \
    {                                                                                              \
        ARENA_INIT, NULL, 0, 0, NULL, 0, 0, STRMAP_INIT, STRMAP_INIT, 0,                           \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

void gguf_writer_init(gguf_writer *w);
void gguf_writer_release(gguf_writer *w);

/* Setters add a key or replace its value (keeping its position). They
 * return 0 or ERR_NOMEM / ERR_INVALID (empty key); a failure is also
 * remembered and reported again by gguf_writer_write, so a run of setters
 * can be checked once at the end. */
int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
int gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *s);
int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of `n` fixed-size elements of `elem_type` in their C type (bool as
 * uint8_t). Strings go through gguf_writer_set_arr_str. */
int gguf_writer_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                        size_t n);
/* An array of strings; `lens` may be NULL (then strlen is used). */
int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs,
                            const size_t *lens, size_t n);
/* Copies one record read from a file (any type). */
int gguf_writer_set_kv(gguf_writer *w, const gguf_kv *kv);
/* Removes a key if present. */
void gguf_writer_remove(gguf_writer *w, const char *key);

/* Adds a tensor whose bytes (qtype_row_bytes(type, ne[0]) * rows) are at
 * `data` (borrowed until the write). Fails with ERR_INVALID for a duplicate
 * or bad name, bad dims, or a type/shape qtype.h cannot size. */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const uint64_t *ne, const void *data, err *e);
/* Same, but the bytes are produced by `fill` when the file is written (so a
 * quantized copy of a large model never holds all of it in memory). */
int gguf_writer_add_tensor_fn(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                              const uint64_t *ne, gguf_fill_fn fill, void *ctx, err *e);

/* Writes the whole file atomically. The alignment is general.alignment when
 * set (must be a UINT32 power of two), else 32. */
int gguf_writer_write(gguf_writer *w, const char *path, err *e);
/* Writes the file image into `out` (appended), for tests and small files. */
int gguf_writer_to_buf(gguf_writer *w, buf *out, err *e);

#endif
