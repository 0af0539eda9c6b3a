/* gguf_write.c: the GGUF writer: records kept encoded, then streamed out in
 * the dense layout (GGUF_FORMAT.md 1.6). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/gguf.h"
#include "backends/qtype.h"
#include "common/fileio.h"

struct gguf_writer_kv {
    const char *key;
    size_t key_len;
    uint32_t type;
    const uint8_t *value; /* encoded bytes after the type id, as in the file */
    size_t value_len;
    bool removed;
};

struct gguf_writer_tensor {
    const char *name;
    size_t name_len;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    size_t nbytes;
    const void *data; /* borrowed, or NULL with fill */
    gguf_fill_fn fill;
    void *ctx;
};

static const uint8_t fixed_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1,  [GGUF_TYPE_INT8] = 1,  [GGUF_TYPE_UINT16] = 2,  [GGUF_TYPE_INT16] = 2,
    [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4, [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1,
    [GGUF_TYPE_UINT64] = 8, [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

void gguf_writer_init(gguf_writer *w)
{
    *w = (gguf_writer)GGUF_WRITER_INIT;
}

void gguf_writer_release(gguf_writer *w)
{
    arena_release(&w->mem);
    free(w->kvs);
    free(w->tensors);
    strmap_release(&w->key_index);
    strmap_release(&w->tensor_index);
    *w = (gguf_writer)GGUF_WRITER_INIT;
}

/* Remembers the first failure of a setter; returns rc. */
static int fail(gguf_writer *w, int rc, const char *key, const char *what)
{
    if (!w->status) {
        w->status = rc;
        snprintf(w->status_msg, sizeof w->status_msg, "key \"%.80s\": %s", key ? key : "(null)",
                 what);
    }
    return rc;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Encodes one fixed-size value from its C type at src. */
static void encode_fixed(uint32_t type, const void *src, uint8_t *dst)
{
    uint64_t u = 0;
    switch (type) {
    case GGUF_TYPE_UINT8:
        u = *(const uint8_t *)src;
        break;
    case GGUF_TYPE_INT8:
        u = (uint8_t) * (const int8_t *)src;
        break;
    case GGUF_TYPE_UINT16:
        u = *(const uint16_t *)src;
        break;
    case GGUF_TYPE_INT16:
        u = (uint16_t) * (const int16_t *)src;
        break;
    case GGUF_TYPE_UINT32:
        u = *(const uint32_t *)src;
        break;
    case GGUF_TYPE_INT32:
        u = (uint32_t) * (const int32_t *)src;
        break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b;
        memcpy(&b, src, 4);
        u = b;
        break;
    }
    case GGUF_TYPE_BOOL:
        u = *(const uint8_t *)src != 0;
        break;
    case GGUF_TYPE_UINT64:
        u = *(const uint64_t *)src;
        break;
    case GGUF_TYPE_INT64:
        u = (uint64_t) * (const int64_t *)src;
        break;
    case GGUF_TYPE_FLOAT64:
        memcpy(&u, src, 8);
        break;
    }
    put_le(dst, u, fixed_size[type]);
}

/* Stores `value` (already encoded) under `key`, replacing an old value in place. */
static int set_encoded(gguf_writer *w, const char *key, uint32_t type, uint8_t *value,
                       size_t value_len)
{
    if (!key || !*key) return fail(w, ERR_INVALID, key, "empty key");
    size_t klen = strlen(key);
    size_t idx;
    if (strmap_get(&w->key_index, key, klen, &idx)) {
        gguf_writer_kv *kv = &w->kvs[idx];
        kv->type = type;
        kv->value = value;
        kv->value_len = value_len;
        kv->removed = false;
        return 0;
    }
    if (w->n_kv == w->cap_kv) {
        size_t nc = w->cap_kv ? w->cap_kv * 2 : 32;
        gguf_writer_kv *nk = realloc(w->kvs, nc * sizeof *nk);
        if (!nk) return fail(w, ERR_NOMEM, key, "out of memory");
        w->kvs = nk;
        w->cap_kv = nc;
    }
    char *k = arena_strdup(&w->mem, key);
    if (!k || strmap_put(&w->key_index, key, klen, w->n_kv) < 0)
        return fail(w, ERR_NOMEM, key, "out of memory");
    w->kvs[w->n_kv++] = (gguf_writer_kv){k, klen, type, value, value_len, false};
    return 0;
}

static int set_fixed(gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    uint8_t *p = arena_alloc(&w->mem, 8);
    if (!p) return fail(w, ERR_NOMEM, key, "out of memory");
    encode_fixed(type, v, p);
    return set_encoded(w, key, type, p, fixed_size[type]);
}

int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v)
{
    return set_fixed(w, key, GGUF_TYPE_UINT8, &v);
}

int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v)
{
    return set_fixed(w, key, GGUF_TYPE_INT8, &v);
}

int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v)
{
    return set_fixed(w, key, GGUF_TYPE_UINT16, &v);
}

int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v)
{
    return set_fixed(w, key, GGUF_TYPE_INT16, &v);
}

int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    return set_fixed(w, key, GGUF_TYPE_UINT32, &v);
}

int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    return set_fixed(w, key, GGUF_TYPE_INT32, &v);
}

int gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    return set_fixed(w, key, GGUF_TYPE_FLOAT32, &v);
}

int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v;
    return set_fixed(w, key, GGUF_TYPE_BOOL, &b);
}

int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v)
{
    return set_fixed(w, key, GGUF_TYPE_UINT64, &v);
}

int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v)
{
    return set_fixed(w, key, GGUF_TYPE_INT64, &v);
}

int gguf_writer_set_f64(gguf_writer *w, const char *key, double v)
{
    return set_fixed(w, key, GGUF_TYPE_FLOAT64, &v);
}

int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *s, size_t len)
{
    if (!s && len) return fail(w, ERR_INVALID, key, "NULL string");
    if (len > GGUF_MAX_STRING) return fail(w, ERR_INVALID, key, "string over 1 GiB");
    uint8_t *p = arena_alloc(&w->mem, 8 + len);
    if (!p) return fail(w, ERR_NOMEM, key, "out of memory");
    put_le(p, len, 8);
    if (len) memcpy(p + 8, s, len);
    return set_encoded(w, key, GGUF_TYPE_STRING, p, 8 + len);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *s)
{
    return gguf_writer_set_strn(w, key, s ? s : "", s ? strlen(s) : 0);
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                        size_t n)
{
    if (elem_type >= GGUF_TYPE_COUNT || !fixed_size[elem_type])
        return fail(w, ERR_INVALID, key, "array element type must be a fixed-size type");
    if (n > GGUF_MAX_ARRAY) return fail(w, ERR_INVALID, key, "array over 2^30 elements");
    if (!data && n) return fail(w, ERR_INVALID, key, "NULL array data");
    size_t es = fixed_size[elem_type];
    size_t csize = elem_type == GGUF_TYPE_BOOL ? 1 : es;
    uint8_t *p = arena_alloc(&w->mem, 12 + n * es);
    if (!p) return fail(w, ERR_NOMEM, key, "out of memory");
    put_le(p, elem_type, 4);
    put_le(p + 4, n, 8);
    for (size_t i = 0; i < n; i++)
        encode_fixed(elem_type, (const uint8_t *)data + i * csize, p + 12 + i * es);
    return set_encoded(w, key, GGUF_TYPE_ARRAY, p, 12 + n * es);
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs,
                            const size_t *lens, size_t n)
{
    if (n > GGUF_MAX_ARRAY) return fail(w, ERR_INVALID, key, "array over 2^30 elements");
    if (!strs && n) return fail(w, ERR_INVALID, key, "NULL array data");
    size_t total = 12;
    for (size_t i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : strlen(strs[i]);
        if (l > GGUF_MAX_STRING) return fail(w, ERR_INVALID, key, "string over 1 GiB");
        total += 8 + l;
    }
    uint8_t *p = arena_alloc(&w->mem, total);
    if (!p) return fail(w, ERR_NOMEM, key, "out of memory");
    put_le(p, GGUF_TYPE_STRING, 4);
    put_le(p + 4, n, 8);
    uint8_t *q = p + 12;
    for (size_t i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : strlen(strs[i]);
        put_le(q, l, 8);
        if (l) memcpy(q + 8, strs[i], l);
        q += 8 + l;
    }
    return set_encoded(w, key, GGUF_TYPE_ARRAY, p, total);
}

int gguf_writer_set_kv(gguf_writer *w, const gguf_kv *kv)
{
    if (!kv) return fail(w, ERR_INVALID, NULL, "NULL record");
    if (kv->type == GGUF_TYPE_STRING)
        return gguf_writer_set_strn(w, kv->key, kv->v.str.s, kv->v.str.len);
    if (kv->type == GGUF_TYPE_ARRAY) {
        if (kv->arr_type == GGUF_TYPE_STRING) {
            const gguf_str *items = kv->arr;
            const char **strs = malloc((kv->n ? kv->n : 1) * sizeof *strs);
            size_t *lens = malloc((kv->n ? kv->n : 1) * sizeof *lens);
            int rc;
            if (!strs || !lens) {
                rc = fail(w, ERR_NOMEM, kv->key, "out of memory");
            } else {
                for (uint64_t i = 0; i < kv->n; i++) {
                    strs[i] = items[i].s;
                    lens[i] = items[i].len;
                }
                rc = gguf_writer_set_arr_str(w, kv->key, strs, lens, (size_t)kv->n);
            }
            free(strs);
            free(lens);
            return rc;
        }
        return gguf_writer_set_arr(w, kv->key, kv->arr_type, kv->arr, (size_t)kv->n);
    }
    if (kv->type >= GGUF_TYPE_COUNT) return fail(w, ERR_INVALID, kv->key, "unknown value type");
    if (kv->type == GGUF_TYPE_BOOL) return gguf_writer_set_bool(w, kv->key, kv->v.b);
    return set_fixed(w, kv->key, kv->type, &kv->v);
}

void gguf_writer_remove(gguf_writer *w, const char *key)
{
    size_t idx;
    if (key && strmap_get(&w->key_index, key, strlen(key), &idx)) w->kvs[idx].removed = true;
}

/* ---- tensors ---- */

static int add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                      const uint64_t *ne, const void *data, gguf_fill_fn fill, void *ctx, err *e)
{
    size_t nlen = name ? strlen(name) : 0;
    if (nlen == 0 || nlen > GGUF_MAX_NAME)
        return err_set(e, ERR_INVALID, "tensor name \"%s\" must have 1 to %d bytes",
                       name ? name : "(null)", GGUF_MAX_NAME);
    if (strmap_get(&w->tensor_index, name, nlen, NULL))
        return err_set(e, ERR_INVALID, "duplicate tensor \"%s\"", name);
    if (n_dims > GGUF_MAX_DIMS || (n_dims && !ne))
        return err_set(e, ERR_INVALID, "tensor \"%s\": bad n_dims %" PRIu32, name, n_dims);
    const qtype_info *q = qtype_get(type);
    if (!q || !q->bytes || !q->block)
        return err_set(e, ERR_INVALID, "tensor \"%s\": type %" PRIu32 " cannot be written", name,
                       type);
    uint64_t d[GGUF_MAX_DIMS] = {1, 1, 1, 1};
    for (uint32_t j = 0; j < n_dims; j++) {
        if (ne[j] >= (UINT64_C(1) << 63))
            return err_set(e, ERR_INVALID, "tensor \"%s\": dimension %" PRIu32 " too large", name,
                           j);
        d[j] = ne[j];
    }
    if (d[0] % q->block)
        return err_set(e, ERR_INVALID,
                       "tensor \"%s\": row length %" PRIu64
                       " is not a multiple of %s's block %" PRIu32,
                       name, d[0], q->name, q->block);
    uint64_t nbytes = d[0] / q->block * q->bytes;
    for (int j = 1; j < GGUF_MAX_DIMS; j++) {
        if (d[j] && nbytes > SIZE_MAX / d[j])
            return err_set(e, ERR_INVALID, "tensor \"%s\": too large", name);
        nbytes *= d[j];
    }
    if (nbytes && !data && !fill) return err_set(e, ERR_INVALID, "tensor \"%s\": no data", name);
    if (w->n_tensors == w->cap_tensors) {
        size_t nc = w->cap_tensors ? w->cap_tensors * 2 : 32;
        gguf_writer_tensor *nt = realloc(w->tensors, nc * sizeof *nt);
        if (!nt) return err_set(e, ERR_NOMEM, "out of memory");
        w->tensors = nt;
        w->cap_tensors = nc;
    }
    char *nm = arena_strdup(&w->mem, name);
    if (!nm || strmap_put(&w->tensor_index, name, nlen, w->n_tensors) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    gguf_writer_tensor *t = &w->tensors[w->n_tensors++];
    *t = (gguf_writer_tensor){nm,   nlen, type, n_dims, {d[0], d[1], d[2], d[3]}, (size_t)nbytes,
                              data, fill, ctx};
    return 0;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const uint64_t *ne, const void *data, err *e)
{
    return add_tensor(w, name, type, n_dims, ne, data, NULL, NULL, e);
}

int gguf_writer_add_tensor_fn(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                              const uint64_t *ne, gguf_fill_fn fill, void *ctx, err *e)
{
    if (!fill) return err_set(e, ERR_INVALID, "tensor \"%s\": no fill function", name);
    return add_tensor(w, name, type, n_dims, ne, NULL, fill, ctx, e);
}

/* ---- output ---- */

typedef struct sink {
    buf *b;         /* either a buffer */
    file_atomic *f; /* or a file */
    const char *name;
    err *e;
    uint64_t pos;
} sink;

static int put(sink *s, const void *p, size_t n)
{
    s->pos += n;
    if (s->f) return file_atomic_write(s->f, p, n, s->e);
    int rc = buf_append(s->b, p, n);
    if (rc) return err_set(s->e, rc, "%s: out of memory for the file image", s->name);
    return 0;
}

static int put_u32(sink *s, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    return put(s, b, 4);
}

static int put_u64(sink *s, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    return put(s, b, 8);
}

static int put_zeros(sink *s, size_t n)
{
    static const uint8_t zeros[64];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        int rc = put(s, zeros, k);
        if (rc) return rc;
        n -= k;
    }
    return 0;
}

static uint64_t pad_to(uint64_t x, uint32_t a)
{
    return (a - x % a) % a;
}

static int emit(gguf_writer *w, sink *s)
{
    err *e = s->e;
    if (w->status) return err_set(e, w->status, "%s: cannot write: %s", s->name, w->status_msg);
    uint32_t align = GGUF_DEFAULT_ALIGNMENT;
    size_t idx;
    if (strmap_get(&w->key_index, "general.alignment", 17, &idx) && !w->kvs[idx].removed) {
        const gguf_writer_kv *kv = &w->kvs[idx];
        if (kv->type != GGUF_TYPE_UINT32)
            return err_set(e, ERR_INVALID, "%s: general.alignment must be UINT32", s->name);
        align = (uint32_t)(kv->value[0] | kv->value[1] << 8 | kv->value[2] << 16 |
                           (uint32_t)kv->value[3] << 24);
        if (align == 0 || (align & (align - 1)))
            return err_set(e, ERR_INVALID,
                           "%s: general.alignment %" PRIu32 " is not a power of two", s->name,
                           align);
    }
    size_t n_kv = 0;
    for (size_t i = 0; i < w->n_kv; i++) n_kv += !w->kvs[i].removed;

    int rc = put(s, "GGUF", 4);
    if (!rc) rc = put_u32(s, 3);
    if (!rc) rc = put_u64(s, w->n_tensors);
    if (!rc) rc = put_u64(s, n_kv);
    for (size_t i = 0; i < w->n_kv && !rc; i++) {
        const gguf_writer_kv *kv = &w->kvs[i];
        if (kv->removed) continue;
        rc = put_u64(s, kv->key_len);
        if (!rc) rc = put(s, kv->key, kv->key_len);
        if (!rc) rc = put_u32(s, kv->type);
        if (!rc) rc = put(s, kv->value, kv->value_len);
    }
    /* infos with the dense offsets */
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors && !rc; i++) {
        const gguf_writer_tensor *t = &w->tensors[i];
        rc = put_u64(s, t->name_len);
        if (!rc) rc = put(s, t->name, t->name_len);
        if (!rc) rc = put_u32(s, t->n_dims);
        for (uint32_t j = 0; j < t->n_dims && !rc; j++) rc = put_u64(s, t->ne[j]);
        if (!rc) rc = put_u32(s, t->type);
        if (!rc) rc = put_u64(s, offset);
        offset += t->nbytes + pad_to(t->nbytes, align);
    }
    if (!rc) rc = put_zeros(s, (size_t)pad_to(s->pos, align));
    /* data, each tensor padded */
    void *scratch = NULL;
    size_t scratch_len = 0;
    for (size_t i = 0; i < w->n_tensors && !rc; i++) {
        const gguf_writer_tensor *t = &w->tensors[i];
        const void *p = t->data;
        if (t->nbytes && t->fill) {
            if (scratch_len < t->nbytes) {
                free(scratch);
                scratch = malloc(t->nbytes);
                scratch_len = scratch ? t->nbytes : 0;
                if (!scratch) {
                    rc = err_set(e, ERR_NOMEM, "%s: out of memory for tensor \"%s\"", s->name,
                                 t->name);
                    break;
                }
            }
            rc = t->fill(t->ctx, i, scratch, t->nbytes, e);
            if (rc) {
                err_prefix(e, "%s: tensor \"%s\"", s->name, t->name);
                break;
            }
            p = scratch;
        }
        if (t->nbytes) rc = put(s, p, t->nbytes);
        if (!rc) rc = put_zeros(s, (size_t)pad_to(t->nbytes, align));
    }
    free(scratch);
    return rc;
}

int gguf_writer_to_buf(gguf_writer *w, buf *out, err *e)
{
    sink s = {out, NULL, "(memory)", e, 0};
    size_t before = out->len;
    int rc = emit(w, &s);
    if (rc) buf_truncate(out, before);
    return rc;
}

int gguf_writer_write(gguf_writer *w, const char *path, err *e)
{
    file_atomic f = FILE_ATOMIC_INIT;
    int rc = file_atomic_open(&f, path, e);
    if (rc) return rc;
    sink s = {NULL, &f, path, e, 0};
    rc = emit(w, &s);
    if (rc) {
        file_atomic_abort(&f);
        return rc;
    }
    return file_atomic_commit(&f, e);
}
