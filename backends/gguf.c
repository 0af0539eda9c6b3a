/* gguf.c: the GGUF reader: a bounds-checked cursor over a read-only mapping. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/qtype.h"

struct gguf {
    char *path;          /* name used in messages (malloc'd) */
    const uint8_t *base; /* the file image */
    uint64_t size;
    void *map; /* mmap'd region, or NULL for gguf_open_mem */
    size_t map_len;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    gguf_kv *kvs;
    size_t n_kv;
    gguf_tensor *tensors;
    size_t n_tensors;
    strmap key_index;    /* key -> index in kvs */
    strmap tensor_index; /* name -> index in tensors */
    arena mem;           /* keys, strings, arrays, records */
};

/* ---- the cursor ---- */

typedef struct cursor {
    const uint8_t *p; /* file image */
    uint64_t pos;
    uint64_t size;
    const char *name;
    err *e;
} cursor;

/* Bytes of one value of a fixed-size type; 0 for STRING/ARRAY/unknown. */
static const uint8_t type_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1,  [GGUF_TYPE_INT8] = 1,  [GGUF_TYPE_UINT16] = 2,  [GGUF_TYPE_INT16] = 2,
    [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4, [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1,
    [GGUF_TYPE_UINT64] = 8, [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

static const char *const type_names[GGUF_TYPE_COUNT] = {
    "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
    "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
};

const char *gguf_type_name(uint32_t type)
{
    return type < GGUF_TYPE_COUNT ? type_names[type] : "?";
}

static int bad(cursor *c, uint64_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ERR_FORMAT with "<name>: byte <at>: <message>". */
static int bad(cursor *c, uint64_t at, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->e, ERR_FORMAT, "%s: byte %" PRIu64 ": %s", c->name, at, msg);
}

static uint64_t left(const cursor *c)
{
    return c->size - c->pos;
}

/* Fails unless n more bytes exist; `what` names the field. */
static int need(cursor *c, uint64_t n, const char *what)
{
    if (n > left(c))
        return bad(c, c->pos, "file ends inside %s (needs %" PRIu64 " bytes, %" PRIu64 " left)",
                   what, n, left(c));
    return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what)
{
    int rc = need(c, 4, what);
    if (rc) return rc;
    *v = (uint32_t)le(c->p + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what)
{
    int rc = need(c, 8, what);
    if (rc) return rc;
    *v = le(c->p + c->pos, 8);
    c->pos += 8;
    return 0;
}

/* Reads a string header and checks the bytes are there; *at is where the
 * bytes start. Does not copy. */
static int rd_str_span(cursor *c, uint64_t *at, uint64_t *len, const char *what)
{
    uint64_t start = c->pos, n = 0;
    int rc = rd_u64(c, &n, what);
    if (rc) return rc;
    if (n > GGUF_MAX_STRING)
        return bad(c, start, "%s has length %" PRIu64 ", over the 1 GiB limit", what, n);
    if (n > left(c))
        return bad(c, start, "%s has length %" PRIu64 " but only %" PRIu64 " bytes are left", what,
                   n, left(c));
    *at = c->pos;
    *len = n;
    c->pos += n;
    return 0;
}

static int oom(cursor *c)
{
    return err_set(c->e, ERR_NOMEM, "%s: out of memory while reading", c->name);
}

/* ---- metadata ---- */

/* Decodes one fixed-size value at p into its C type at dst. */
static void decode_fixed(uint32_t type, const uint8_t *p, void *dst)
{
    uint64_t u = le(p, type_size[type]);
    switch (type) {
    case GGUF_TYPE_UINT8:
        *(uint8_t *)dst = (uint8_t)u;
        break;
    case GGUF_TYPE_INT8:
        *(int8_t *)dst = (int8_t)(uint8_t)u;
        break;
    case GGUF_TYPE_UINT16:
        *(uint16_t *)dst = (uint16_t)u;
        break;
    case GGUF_TYPE_INT16:
        *(int16_t *)dst = (int16_t)(uint16_t)u;
        break;
    case GGUF_TYPE_UINT32:
        *(uint32_t *)dst = (uint32_t)u;
        break;
    case GGUF_TYPE_INT32:
        *(int32_t *)dst = (int32_t)(uint32_t)u;
        break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = (uint32_t)u;
        memcpy(dst, &b, 4);
        break;
    }
    case GGUF_TYPE_BOOL:
        *(uint8_t *)dst = u != 0;
        break;
    case GGUF_TYPE_UINT64:
        *(uint64_t *)dst = u;
        break;
    case GGUF_TYPE_INT64:
        *(int64_t *)dst = (int64_t)u;
        break;
    case GGUF_TYPE_FLOAT64:
        memcpy(dst, &u, 8);
        break;
    }
}

/* Reads a string value into the arena (NUL-terminated). */
static int read_str(gguf *g, cursor *c, gguf_str *out, const char *what)
{
    uint64_t at = 0, n = 0;
    int rc = rd_str_span(c, &at, &n, what);
    if (rc) return rc;
    char *s = arena_memdup(&g->mem, c->p + at, (size_t)n);
    if (!s) return oom(c);
    out->s = s;
    out->len = (size_t)n;
    return 0;
}

static int read_array(gguf *g, cursor *c, gguf_kv *kv)
{
    uint64_t start = c->pos;
    uint32_t et = 0;
    uint64_t n = 0;
    int rc = rd_u32(c, &et, "an array's element type");
    if (!rc) rc = rd_u64(c, &n, "an array's length");
    if (rc) return rc;
    if (et >= GGUF_TYPE_COUNT)
        return bad(c, start, "key \"%s\": unknown array element type %" PRIu32, kv->key, et);
    if (et == GGUF_TYPE_ARRAY)
        return bad(c, start, "key \"%s\": arrays of arrays are not allowed", kv->key);
    if (n > GGUF_MAX_ARRAY)
        return bad(c, start + 4, "key \"%s\": array length %" PRIu64 " is over the 2^30 limit",
                   kv->key, n);
    kv->arr_type = et;
    kv->n = n;
    if (et != GGUF_TYPE_STRING) {
        uint64_t es = type_size[et];
        if (n > left(c) / es)
            return bad(c, start + 4,
                       "key \"%s\": array of %" PRIu64 " %s values needs %" PRIu64
                       " bytes, only %" PRIu64 " left",
                       kv->key, n, type_names[et], n * es, left(c));
        size_t csize = et == GGUF_TYPE_BOOL ? 1 : (size_t)es;
        uint8_t *dst = arena_calloc(&g->mem, n ? (size_t)n : 1, csize);
        if (!dst) return oom(c);
        for (uint64_t i = 0; i < n; i++) decode_fixed(et, c->p + c->pos + i * es, dst + i * csize);
        c->pos += n * es;
        kv->arr = dst;
        return 0;
    }
    /* strings: each needs at least its 8-byte length */
    if (n > left(c) / 8)
        return bad(c, start + 4,
                   "key \"%s\": array of %" PRIu64 " strings cannot fit in the %" PRIu64
                   " bytes left",
                   kv->key, n, left(c));
    /* pass 1: validate every length and sum them */
    uint64_t save = c->pos, total = 0;
    char what[96];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = 0, len = 0;
        snprintf(what, sizeof what, "string %" PRIu64 " of key \"%.40s\"", i, kv->key);
        rc = rd_str_span(c, &at, &len, what);
        if (rc) return rc;
        total += len + 1; /* bounded by the file size */
    }
    /* pass 2: copy into one block */
    gguf_str *items = arena_calloc(&g->mem, n ? (size_t)n : 1, sizeof *items);
    char *blob = arena_alloc(&g->mem, (size_t)total + 1);
    if (!items || !blob) return oom(c);
    c->pos = save;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = le(c->p + c->pos, 8);
        c->pos += 8;
        memcpy(blob, c->p + c->pos, (size_t)len);
        blob[len] = 0;
        items[i].s = blob;
        items[i].len = (size_t)len;
        blob += len + 1;
        c->pos += len;
    }
    kv->arr = items;
    return 0;
}

static int read_kv(gguf *g, cursor *c, size_t index)
{
    gguf_kv *kv = &g->kvs[index];
    uint64_t start = c->pos;
    kv->file_offset = start;
    gguf_str key;
    int rc = read_str(g, c, &key, "a key");
    if (rc) return rc;
    if (key.len == 0) return bad(c, start, "key %zu is empty", index);
    if (memchr(key.s, 0, key.len)) return bad(c, start, "key %zu contains a NUL byte", index);
    kv->key = key.s;
    int added = strmap_add(&g->key_index, key.s, key.len, index);
    if (added < 0) return oom(c);
    if (added == 0) return bad(c, start, "duplicate key \"%s\"", key.s);

    uint32_t type = 0;
    uint64_t type_at = c->pos;
    rc = rd_u32(c, &type, "a value type");
    if (rc) return rc;
    if (type >= GGUF_TYPE_COUNT)
        return bad(c, type_at, "key \"%s\": unknown value type %" PRIu32, kv->key, type);
    kv->type = type;
    kv->n = 1;
    if (type == GGUF_TYPE_STRING) return read_str(g, c, &kv->v.str, "a string value");
    if (type == GGUF_TYPE_ARRAY) return read_array(g, c, kv);
    rc = need(c, type_size[type], "a value");
    if (rc) return rc;
    if (type == GGUF_TYPE_BOOL)
        kv->v.b = c->p[c->pos] != 0;
    else
        decode_fixed(type, c->p + c->pos, &kv->v);
    c->pos += type_size[type];
    return 0;
}

/* ---- tensor infos ---- */

static int read_tensor_info(gguf *g, cursor *c, size_t index)
{
    gguf_tensor *t = &g->tensors[index];
    uint64_t start = c->pos;
    t->info_offset = start;
    gguf_str name = {NULL, 0};
    int rc = read_str(g, c, &name, "a tensor name");
    if (rc) return rc;
    if (name.len == 0) return bad(c, start, "tensor %zu has an empty name", index);
    if (name.len > GGUF_MAX_NAME)
        return bad(c, start, "tensor %zu: name of %zu bytes is over the %d-byte limit", index,
                   name.len, GGUF_MAX_NAME);
    if (memchr(name.s, 0, name.len))
        return bad(c, start, "tensor %zu: name contains a NUL byte", index);
    t->name = name.s;
    int added = strmap_add(&g->tensor_index, name.s, name.len, index);
    if (added < 0) return oom(c);
    if (added == 0) return bad(c, start, "duplicate tensor name \"%s\"", name.s);

    uint64_t at = c->pos;
    rc = rd_u32(c, &t->n_dims, "a tensor's n_dims");
    if (rc) return rc;
    if (t->n_dims > GGUF_MAX_DIMS)
        return bad(c, at, "tensor \"%s\": n_dims %" PRIu32 " is over %d", t->name, t->n_dims,
                   GGUF_MAX_DIMS);
    uint64_t count = 1;
    for (int j = 0; j < GGUF_MAX_DIMS; j++) t->ne[j] = 1;
    for (uint32_t j = 0; j < t->n_dims; j++) {
        at = c->pos;
        rc = rd_u64(c, &t->ne[j], "a tensor dimension");
        if (rc) return rc;
        if (t->ne[j] >= (UINT64_C(1) << 63))
            return bad(c, at,
                       "tensor \"%s\": dimension %" PRIu32 " is negative or huge (%" PRIu64 ")",
                       t->name, j, t->ne[j]);
    }
    /* element count, overflow-checked against 2^63 (a zero dimension is allowed) */
    bool zero = false;
    for (int j = 0; j < GGUF_MAX_DIMS; j++) zero |= t->ne[j] == 0;
    if (!zero) {
        for (int j = 0; j < GGUF_MAX_DIMS; j++) {
            if (count > (UINT64_C(1) << 63) / t->ne[j])
                return bad(c, start,
                           "tensor \"%s\": dimensions [%" PRIu64 ", %" PRIu64 ", %" PRIu64
                           ", %" PRIu64 "] overflow the element count",
                           t->name, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
            count *= t->ne[j];
        }
        if (count >= (UINT64_C(1) << 63))
            return bad(c, start, "tensor \"%s\": element count overflows", t->name);
    } else {
        count = 0;
    }
    t->n_elements = count;

    at = c->pos;
    rc = rd_u32(c, &t->type, "a tensor type");
    if (rc) return rc;
    const qtype_info *q = qtype_get(t->type);
    if (!q) return bad(c, at, "tensor \"%s\": unknown ggml type id %" PRIu32, t->name, t->type);
    if (!q->bytes || !q->block)
        return err_set(c->e, ERR_UNSUPPORTED,
                       "%s: byte %" PRIu64 ": tensor \"%s\" has type %s, which this engine "
                       "does not support",
                       c->name, at, t->name, q->name);
    if (t->ne[0] % q->block)
        return bad(c, start,
                   "tensor \"%s\": row length %" PRIu64
                   " is not a multiple of %s's block of %" PRIu32,
                   t->name, t->ne[0], q->name, q->block);
    /* bytes = (ne0 / block) * block_bytes * ne1 * ne2 * ne3, overflow-checked */
    uint64_t nbytes = (t->ne[0] / q->block);
    if (nbytes > UINT64_MAX / q->bytes) goto too_big;
    nbytes *= q->bytes;
    for (int j = 1; j < GGUF_MAX_DIMS; j++) {
        if (t->ne[j] && nbytes > UINT64_MAX / t->ne[j]) goto too_big;
        nbytes *= t->ne[j];
    }
    if (nbytes > SIZE_MAX) goto too_big;
    t->nbytes = (size_t)nbytes;

    at = c->pos;
    rc = rd_u64(c, &t->offset, "a tensor offset");
    if (rc) return rc;
    if (t->offset % g->alignment)
        return bad(c, at,
                   "tensor \"%s\": offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                   t->name, t->offset, g->alignment);
    return 0;
too_big:
    return bad(c, start, "tensor \"%s\": byte size overflows", t->name);
}

/* ---- open ---- */

static int cmp_by_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int check_layout(gguf *g, cursor *c)
{
    if (g->n_tensors == 0) return 0;
    if (g->data_offset > g->size)
        return bad(c, g->size,
                   "the data section would start at byte %" PRIu64 ", past the end of the file",
                   g->data_offset);
    uint64_t room = g->size - g->data_offset;
    for (size_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset > room || t->nbytes > room - t->offset)
            return bad(c, t->info_offset,
                       "tensor \"%s\": data [%" PRIu64 ", +%zu) is not within the file's %" PRIu64
                       " data bytes",
                       t->name, t->offset, t->nbytes, room);
        t->data = t->nbytes ? g->base + g->data_offset + t->offset : NULL;
    }
    /* no two tensors may share bytes */
    const gguf_tensor **order = malloc(g->n_tensors * sizeof *order);
    if (!order) return oom(c);
    for (size_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_by_offset);
    int rc = 0;
    const gguf_tensor *prev = NULL;
    for (size_t i = 0; i < g->n_tensors && !rc; i++) {
        const gguf_tensor *t = order[i];
        if (!t->nbytes) continue;
        if (prev && prev->offset + prev->nbytes > t->offset)
            rc = bad(c, t->info_offset, "tensors \"%s\" and \"%s\" overlap", prev->name, t->name);
        prev = t;
    }
    free(order);
    return rc;
}

static int parse(gguf *g, err *e)
{
    cursor c = {g->base, 0, g->size, g->path, e};
    int rc;
    if (g->size < 24)
        return bad(&c, 0, "file is %" PRIu64 " bytes, too short for a GGUF header", g->size);
    if (memcmp(g->base, "GGUF", 4) != 0)
        return bad(&c, 0, "not a GGUF file (magic %02x %02x %02x %02x)", g->base[0], g->base[1],
                   g->base[2], g->base[3]);
    c.pos = 4;
    rd_u32(&c, &g->version, "the version");
    if (g->version == 1)
        return err_set(e, ERR_UNSUPPORTED, "%s: GGUF version 1 is obsolete and not supported",
                       g->path);
    if ((g->version & 0xFFFF) == 0)
        return err_set(e, ERR_UNSUPPORTED,
                       "%s: byte 4: version 0x%08" PRIx32
                       " looks byte-swapped (a big-endian GGUF file); "
                       "not supported",
                       g->path, g->version);
    if (g->version != 2 && g->version != 3)
        return bad(&c, 4, "unsupported GGUF version %" PRIu32 " (expected 2 or 3)", g->version);
    uint64_t n_tensors = 0, n_kv = 0;
    rd_u64(&c, &n_tensors, "the tensor count");
    rd_u64(&c, &n_kv, "the key/value count");
    /* every record has a minimum size: reject counts that cannot fit before allocating */
    if (n_kv > left(&c) / 14)
        return bad(&c, 16, "key/value count %" PRIu64 " cannot fit in a %" PRIu64 "-byte file",
                   n_kv, g->size);
    if (n_tensors > left(&c) / 24)
        return bad(&c, 8, "tensor count %" PRIu64 " cannot fit in a %" PRIu64 "-byte file",
                   n_tensors, g->size);

    g->kvs = arena_calloc(&g->mem, n_kv ? (size_t)n_kv : 1, sizeof *g->kvs);
    if (!g->kvs) return oom(&c);
    for (uint64_t i = 0; i < n_kv; i++) {
        rc = read_kv(g, &c, (size_t)i);
        if (rc) return rc;
        g->n_kv++;
    }

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find_key(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_TYPE_UINT32)
            return bad(&c, al->file_offset, "general.alignment has type %s, expected UINT32",
                       type_names[al->type]);
        uint32_t a = al->v.u32;
        if (a == 0 || (a & (a - 1)))
            return bad(&c, al->file_offset, "general.alignment %" PRIu32 " is not a power of two",
                       a);
        g->alignment = a;
    }

    if (n_tensors > left(&c) / 24)
        return bad(&c, c.pos, "tensor count %" PRIu64 " cannot fit in the %" PRIu64 " bytes left",
                   n_tensors, left(&c));
    g->tensors = arena_calloc(&g->mem, n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors) return oom(&c);
    for (uint64_t i = 0; i < n_tensors; i++) {
        rc = read_tensor_info(g, &c, (size_t)i);
        if (rc) return rc;
        g->n_tensors++;
    }
    /* data_start = PAD(end of infos, alignment) */
    uint64_t end = c.pos;
    g->data_offset = end + (g->alignment - end % g->alignment) % g->alignment;
    return check_layout(g, &c);
}

static int gguf_new(gguf **out, const char *name, err *e)
{
    gguf *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, "%s: out of memory", name);
    g->path = strdup(name);
    if (!g->path) {
        free(g);
        return err_set(e, ERR_NOMEM, "%s: out of memory", name);
    }
    *out = g;
    return 0;
}

int gguf_open_mem(gguf **out, const void *data, size_t size, const char *name, err *e)
{
    *out = NULL;
    if (!name) name = "(memory)";
    if (!data && size) return err_set(e, ERR_INVALID, "%s: no data", name);
    gguf *g = NULL;
    int rc = gguf_new(&g, name, e);
    if (rc) return rc;
    static const uint8_t empty[1];
    g->base = data ? data : empty;
    g->size = size;
    rc = parse(g, e);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int gguf_open(gguf **out, const char *path, err *e)
{
    *out = NULL;
    if (!path) return err_set(e, ERR_INVALID, "gguf_open: no path");
    gguf *g = NULL;
    int fd = -1, rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_errno(e, "%s: cannot open", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = err_errno(e, "%s: cannot stat", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(e, ERR_INVALID, "%s: not a regular file", path);
        goto out;
    }
    rc = gguf_new(&g, path, e);
    if (rc) goto out;
    g->size = (uint64_t)st.st_size;
    if (g->size > (1u << 24)) g->mem.block_size = 1 << 20;
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = err_errno(e, "%s: cannot map %lld bytes", path, (long long)st.st_size);
            goto out;
        }
        g->map = m;
        g->map_len = (size_t)st.st_size;
        g->base = m;
    } else {
        static const uint8_t empty[1];
        g->base = empty;
    }
    rc = parse(g, e);
out:
    if (fd >= 0) close(fd);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gguf_close(gguf *g)
{
    if (!g) return;
    if (g->map) munmap(g->map, g->map_len);
    strmap_release(&g->key_index);
    strmap_release(&g->tensor_index);
    arena_release(&g->mem);
    free(g->path);
    free(g);
}

/* ---- accessors ---- */

const char *gguf_path(const gguf *g)
{
    return g->path;
}

uint32_t gguf_version(const gguf *g)
{
    return g->version;
}

uint64_t gguf_file_size(const gguf *g)
{
    return g->size;
}

uint32_t gguf_alignment(const gguf *g)
{
    return g->alignment;
}

uint64_t gguf_data_offset(const gguf *g)
{
    return g->data_offset;
}

size_t gguf_n_kv(const gguf *g)
{
    return g->n_kv;
}

const gguf_kv *gguf_kv_at(const gguf *g, size_t i)
{
    return i < g->n_kv ? &g->kvs[i] : NULL;
}

const gguf_kv *gguf_find_key(const gguf *g, const char *key)
{
    size_t i;
    if (!key || !strmap_get(&g->key_index, key, strlen(key), &i) || i >= g->n_kv) return NULL;
    return &g->kvs[i];
}

size_t gguf_n_tensors(const gguf *g)
{
    return g->n_tensors;
}

const gguf_tensor *gguf_tensor_at(const gguf *g, size_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name)
{
    size_t i;
    if (!name || !strmap_get(&g->tensor_index, name, strlen(name), &i) || i >= g->n_tensors)
        return NULL;
    return &g->tensors[i];
}

/* ---- typed getters ---- */

static int missing(const gguf *g, const char *key, err *e)
{
    return err_set(e, ERR_NOTFOUND, "%s: key \"%s\" is missing", g->path, key);
}

static int wrong(const gguf *g, const gguf_kv *kv, const char *want, err *e)
{
    if (kv->type == GGUF_TYPE_ARRAY)
        return err_set(e, ERR_FORMAT, "%s: key \"%s\" is an array of %s, expected %s", g->path,
                       kv->key, gguf_type_name(kv->arr_type), want);
    return err_set(e, ERR_FORMAT, "%s: key \"%s\" has type %s, expected %s", g->path, kv->key,
                   gguf_type_name(kv->type), want);
}

static bool is_int_type(uint32_t t)
{
    return t <= GGUF_TYPE_INT32 || t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

/* Reads element i of an integer-typed scalar (arr == NULL) or array as
 * signed/unsigned 64-bit; *neg tells whether the value is negative. */
static uint64_t int_value(uint32_t type, const void *p, bool *neg)
{
    *neg = false;
    int64_t s;
    switch (type) {
    case GGUF_TYPE_UINT8:
        return *(const uint8_t *)p;
    case GGUF_TYPE_UINT16:
        return *(const uint16_t *)p;
    case GGUF_TYPE_UINT32:
        return *(const uint32_t *)p;
    case GGUF_TYPE_UINT64:
        return *(const uint64_t *)p;
    case GGUF_TYPE_INT8:
        s = *(const int8_t *)p;
        break;
    case GGUF_TYPE_INT16:
        s = *(const int16_t *)p;
        break;
    case GGUF_TYPE_INT32:
        s = *(const int32_t *)p;
        break;
    default:
        s = *(const int64_t *)p;
        break;
    }
    *neg = s < 0;
    return (uint64_t)s;
}

static int to_u32(const gguf *g, const gguf_kv *kv, uint32_t type, const void *p, uint32_t *out,
                  err *e)
{
    bool neg;
    uint64_t v = int_value(type, p, &neg);
    if (neg || v > UINT32_MAX)
        return err_set(e, ERR_FORMAT, "%s: key \"%s\": value %s%" PRIu64 " does not fit in UINT32",
                       g->path, kv->key, neg ? "-" : "", neg ? (uint64_t)(-(int64_t)v) : v);
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_u32(const gguf *g, const char *key, uint32_t *out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (!is_int_type(kv->type)) return wrong(g, kv, "an integer", e);
    return to_u32(g, kv, kv->type, &kv->v, out, e);
}

int gguf_get_i64(const gguf *g, const char *key, int64_t *out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (!is_int_type(kv->type)) return wrong(g, kv, "an integer", e);
    bool neg;
    uint64_t v = int_value(kv->type, &kv->v, &neg);
    if (!neg && v > INT64_MAX)
        return err_set(e, ERR_FORMAT, "%s: key \"%s\": value %" PRIu64 " does not fit in INT64",
                       g->path, key, v);
    *out = (int64_t)v;
    return 0;
}

int gguf_get_f32(const gguf *g, const char *key, float *out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (kv->type == GGUF_TYPE_FLOAT32)
        *out = kv->v.f32;
    else if (kv->type == GGUF_TYPE_FLOAT64)
        *out = (float)kv->v.f64;
    else
        return wrong(g, kv, "FLOAT32", e);
    return 0;
}

int gguf_get_bool(const gguf *g, const char *key, bool *out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (kv->type != GGUF_TYPE_BOOL) return wrong(g, kv, "BOOL", e);
    *out = kv->v.b;
    return 0;
}

int gguf_get_str(const gguf *g, const char *key, const char **out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (kv->type != GGUF_TYPE_STRING) return wrong(g, kv, "STRING", e);
    *out = kv->v.str.s;
    return 0;
}

int gguf_opt_u32(const gguf *g, const char *key, uint32_t def, uint32_t *out, err *e)
{
    if (!gguf_find_key(g, key)) {
        *out = def;
        return 0;
    }
    return gguf_get_u32(g, key, out, e);
}

int gguf_opt_i64(const gguf *g, const char *key, int64_t def, int64_t *out, err *e)
{
    if (!gguf_find_key(g, key)) {
        *out = def;
        return 0;
    }
    return gguf_get_i64(g, key, out, e);
}

int gguf_opt_f32(const gguf *g, const char *key, float def, float *out, err *e)
{
    if (!gguf_find_key(g, key)) {
        *out = def;
        return 0;
    }
    return gguf_get_f32(g, key, out, e);
}

int gguf_opt_bool(const gguf *g, const char *key, bool def, bool *out, err *e)
{
    if (!gguf_find_key(g, key)) {
        *out = def;
        return 0;
    }
    return gguf_get_bool(g, key, out, e);
}

int gguf_opt_str(const gguf *g, const char *key, const char *def, const char **out, err *e)
{
    if (!gguf_find_key(g, key)) {
        *out = def;
        return 0;
    }
    return gguf_get_str(g, key, out, e);
}

int gguf_get_arr(const gguf *g, const char *key, uint32_t elem_type, const void **data_out,
                 uint64_t *n_out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != elem_type) {
        char want[48];
        snprintf(want, sizeof want, "an array of %s", gguf_type_name(elem_type));
        return wrong(g, kv, want, e);
    }
    *data_out = kv->arr;
    *n_out = kv->n;
    return 0;
}

int gguf_get_u32_at(const gguf *g, const char *key, uint64_t index, uint32_t *out, err *e)
{
    const gguf_kv *kv = gguf_find_key(g, key);
    if (!kv) return missing(g, key, e);
    if (kv->type != GGUF_TYPE_ARRAY) {
        if (!is_int_type(kv->type)) return wrong(g, kv, "an integer or an integer array", e);
        return to_u32(g, kv, kv->type, &kv->v, out, e);
    }
    if (!is_int_type(kv->arr_type)) return wrong(g, kv, "an integer or an integer array", e);
    if (index >= kv->n)
        return err_set(e, ERR_FORMAT,
                       "%s: key \"%s\" has %" PRIu64 " elements, index %" PRIu64 " is past the end",
                       g->path, key, kv->n, index);
    size_t es = type_size[kv->arr_type];
    return to_u32(g, kv, kv->arr_type, (const uint8_t *)kv->arr + index * es, out, e);
}

/* ---- architecture helpers ---- */

const char *gguf_arch(const gguf *g)
{
    const gguf_kv *kv = gguf_find_key(g, "general.architecture");
    return kv && kv->type == GGUF_TYPE_STRING ? kv->v.str.s : NULL;
}

int gguf_arch_key(const gguf *g, const char *suffix, char *out, size_t n, err *e)
{
    const char *arch = gguf_arch(g);
    if (!arch)
        return err_set(e, ERR_NOTFOUND,
                       "%s: key \"general.architecture\" is missing or not a string", g->path);
    int w = snprintf(out, n, "%s.%s", arch, suffix);
    if (w < 0 || (size_t)w >= n)
        return err_set(e, ERR_LIMIT, "%s: key \"%s.%s\" is too long", g->path, arch, suffix);
    return 0;
}

#define ARCH_KEY(g, suffix, e)                                                                     \
    char key_[256];                                                                                \
    do {                                                                                           \
        int rc_ = gguf_arch_key(g, suffix, key_, sizeof key_, e);                                  \
        if (rc_) return rc_;                                                                       \
    } while (0)

int gguf_get_arch_u32(const gguf *g, const char *suffix, uint32_t *out, err *e)
{
    ARCH_KEY(g, suffix, e);
    return gguf_get_u32(g, key_, out, e);
}

int gguf_get_arch_f32(const gguf *g, const char *suffix, float *out, err *e)
{
    ARCH_KEY(g, suffix, e);
    return gguf_get_f32(g, key_, out, e);
}

int gguf_opt_arch_u32(const gguf *g, const char *suffix, uint32_t def, uint32_t *out, err *e)
{
    ARCH_KEY(g, suffix, e);
    return gguf_opt_u32(g, key_, def, out, e);
}

int gguf_opt_arch_f32(const gguf *g, const char *suffix, float def, float *out, err *e)
{
    ARCH_KEY(g, suffix, e);
    return gguf_opt_f32(g, key_, def, out, e);
}

int gguf_opt_arch_bool(const gguf *g, const char *suffix, bool def, bool *out, err *e)
{
    ARCH_KEY(g, suffix, e);
    return gguf_opt_bool(g, key_, def, out, e);
}

int gguf_get_arch_u32_at(const gguf *g, const char *suffix, uint64_t index, uint32_t *out, err *e)
{
    ARCH_KEY(g, suffix, e);
    return gguf_get_u32_at(g, key_, index, out, e);
}
