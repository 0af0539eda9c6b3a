/* test_gguf.c: the GGUF reader and writer: round trips, the documented
 * 192-byte example, every prefix of a file, flipped bytes, hostile fields,
 * and the real fixture files. */
#include "backends/gguf.h"
#include "backends/qtype.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/util.h"
#include "test.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Opens an exact-size heap copy, so that ASan sees any read past the end. */
static int open_copy(const void *data, size_t n, err *e)
{
    void *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, data, n);
    gguf *g = NULL;
    int rc = gguf_open_mem(&g, copy, n, "t.gguf", e);
    gguf_close(g);
    free(copy);
    return rc;
}

/* Opens `n` bytes and expects failure with `code` and a message holding `needle`. */
static void expect_fail(const uint8_t *data, size_t n, int code, const char *needle, int line)
{
    err e = ERR_INIT;
    int rc = open_copy(data, n, &e);
    CHECK_MSG(rc == code, "line %d: rc %d (%s), expected %d; msg: %s", line, rc, err_code_name(rc),
              code, e.msg);
    CHECK_MSG(!needle || strstr(e.msg, needle), "line %d: message \"%s\" lacks \"%s\"", line, e.msg,
              needle);
    CHECK_MSG(rc == 0 || strncmp(e.msg, "t.gguf: ", 8) == 0,
              "line %d: message \"%s\" does not name the file", line, e.msg);
}

#define EXPECT_FAIL(d, n, code, needle) expect_fail(d, n, code, needle, __LINE__)

/* A raw image builder for files the writer refuses to produce. */
typedef struct raw {
    buf b;
} raw;

static void r_bytes(raw *r, const void *p, size_t n)
{
    buf_append(&r->b, p, n);
}

static void r_u32(raw *r, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    r_bytes(r, b, 4);
}

static void r_u64(raw *r, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    r_bytes(r, b, 8);
}

static void r_str(raw *r, const char *s)
{
    r_u64(r, strlen(s));
    r_bytes(r, s, strlen(s));
}

static void r_header(raw *r, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    r_bytes(r, "GGUF", 4);
    r_u32(r, version);
    r_u64(r, n_tensors);
    r_u64(r, n_kv);
}

static void r_pad(raw *r, size_t a)
{
    while (r->b.len % a) buf_putc(&r->b, 0);
}

/* The file the suites corrupt: several KV types, four tensors, the last
 * one shorter than the alignment so that the file ends in padding. */
static void build_reference(buf *out)
{
    gguf_writer w = GGUF_WRITER_INIT;
    err e = ERR_INIT;
    gguf_writer_set_str(&w, "general.architecture", "granite");
    gguf_writer_set_u32(&w, "granite.block_count", 4);
    gguf_writer_set_f32(&w, "granite.rope.freq_base", 10000.0f);
    const char *toks[] = {"a", "bc", "", "d"};
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", toks, NULL, 4);
    int32_t types[] = {1, 1, 3, 1};
    gguf_writer_set_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 4);
    gguf_writer_set_bool(&w, "tokenizer.ggml.add_bos_token", true);
    static float f32[4 * 3];
    for (int i = 0; i < 12; i++) f32[i] = (float)i;
    static uint8_t q8[2 * 34];
    for (int i = 0; i < 68; i++) q8[i] = (uint8_t)i;
    static uint8_t f16[8 * 2];
    static float last[3] = {1, 2, 3};
    CHECK_INT(gguf_writer_add_tensor(&w, "t.f32", QTYPE_F32, 2, (uint64_t[]){4, 3}, f32, &e), 0);
    CHECK_INT(gguf_writer_add_tensor(&w, "t.q8", QTYPE_Q8_0, 2, (uint64_t[]){32, 2}, q8, &e), 0);
    CHECK_INT(gguf_writer_add_tensor(&w, "t.f16", QTYPE_F16, 1, (uint64_t[]){8}, f16, &e), 0);
    CHECK_INT(gguf_writer_add_tensor(&w, "t.last", QTYPE_F32, 1, (uint64_t[]){3}, last, &e), 0);
    CHECK_INT(gguf_writer_to_buf(&w, out, &e), 0);
    gguf_writer_release(&w);
}

/* ---- writer and reader round trips ---- */

static const char example_hex[] =
    "4747554603000000010000000000000002000000000000001400000000000000"
    "67656e6572616c2e617263686974656374757265080000000500000000000000"
    "6c6c616d610600000000000000782e696e747309000000050000000200000000"
    "000000ffffffff07000000010000000000000077020000000200000000000000"
    "0300000000000000000000000000000000000000000000000000000000000000"
    "0000803f0000004000004040000080400000a0400000c0400000000000000000";

static void test_gguf__doc_example(void)
{
    /* GGUF_FORMAT.md 1.9, byte for byte */
    uint8_t want[192];
    size_t hn = strlen(example_hex);
    CHECK_INT(hn, 384);
    for (size_t i = 0; i < 192 && 2 * i + 1 < hn; i++) {
        unsigned v;
        sscanf(example_hex + 2 * i, "%2x", &v);
        want[i] = (uint8_t)v;
    }
    gguf_writer w = GGUF_WRITER_INIT;
    err e = ERR_INIT;
    CHECK_INT(gguf_writer_set_str(&w, "general.architecture", "llama"), 0);
    int32_t ints[] = {-1, 7};
    CHECK_INT(gguf_writer_set_arr(&w, "x.ints", GGUF_TYPE_INT32, ints, 2), 0);
    float vals[] = {1, 2, 3, 4, 5, 6};
    CHECK_INT(gguf_writer_add_tensor(&w, "w", QTYPE_F32, 2, (uint64_t[]){2, 3}, vals, &e), 0);
    buf b = BUF_INIT;
    CHECK_INT(gguf_writer_to_buf(&w, &b, &e), 0);
    CHECK_INT(b.len, 192);
    CHECK(b.len == 192 && memcmp(b.data, want, 192) == 0);

    gguf *g = NULL;
    CHECK_INT(gguf_open_mem(&g, want, sizeof want, "example", &e), 0);
    if (g) {
        CHECK_INT(gguf_version(g), 3);
        CHECK_INT(gguf_data_offset(g), 160);
        CHECK_STR(gguf_arch(g), "llama");
        const void *arr;
        uint64_t n;
        CHECK_INT(gguf_get_arr(g, "x.ints", GGUF_TYPE_INT32, &arr, &n, &e), 0);
        CHECK_INT(n, 2);
        CHECK_INT(((const int32_t *)arr)[0], -1);
        CHECK_INT(((const int32_t *)arr)[1], 7);
        const gguf_tensor *t = gguf_find_tensor(g, "w");
        CHECK(t != NULL);
        if (t) {
            CHECK_INT(t->n_dims, 2);
            CHECK_INT(t->ne[0], 2);
            CHECK_INT(t->ne[1], 3);
            CHECK_INT(t->ne[2], 1);
            CHECK_INT(t->nbytes, 24);
            CHECK_INT(t->n_elements, 6);
            float got[6];
            memcpy(got, t->data, 24);
            CHECK(got[0] == 1 && got[5] == 6);
        }
        gguf_close(g);
    }
    buf_release(&b);
    gguf_writer_release(&w);
}

typedef struct fill_ctx {
    int calls;
} fill_ctx;

static int fill_ramp(void *ctx, size_t index, void *dst, size_t nbytes, err *e)
{
    fill_ctx *f = ctx;
    f->calls++;
    for (size_t i = 0; i < nbytes; i++) ((uint8_t *)dst)[i] = (uint8_t)(i * 7 + index);
    return 0;
}

static int fill_fail(void *ctx, size_t index, void *dst, size_t nbytes, err *e)
{
    return err_set(e, ERR_IO, "source went away");
}

static void test_gguf__roundtrip_file(void)
{
    char dir[] = "/tmp/tally-gguf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    buf path = BUF_INIT;
    path_join(&path, dir, "rt.gguf");
    err e = ERR_INIT;
    gguf_writer w = GGUF_WRITER_INIT;
    gguf_writer_set_u32(&w, "general.alignment", 64);
    gguf_writer_set_u8(&w, "k.u8", 200);
    gguf_writer_set_i8(&w, "k.i8", -100);
    gguf_writer_set_u16(&w, "k.u16", 60000);
    gguf_writer_set_i16(&w, "k.i16", -30000);
    gguf_writer_set_u32(&w, "k.u32", 4000000000u);
    gguf_writer_set_i32(&w, "k.i32", -2000000000);
    gguf_writer_set_f32(&w, "k.f32", 0.22f);
    gguf_writer_set_bool(&w, "k.bool", true);
    gguf_writer_set_u64(&w, "k.u64", UINT64_MAX);
    gguf_writer_set_i64(&w, "k.i64", INT64_MIN);
    gguf_writer_set_f64(&w, "k.f64", -1.5e300);
    gguf_writer_set_strn(&w, "k.str", "a\0b", 3);
    gguf_writer_set_str(&w, "k.replaced", "old");
    gguf_writer_set_str(&w, "k.replaced", "new");
    gguf_writer_set_str(&w, "k.removed", "x");
    gguf_writer_remove(&w, "k.removed");
    uint16_t u16s[] = {1, 65535};
    gguf_writer_set_arr(&w, "a.u16", GGUF_TYPE_UINT16, u16s, 2);
    double f64s[] = {0.5, -2};
    gguf_writer_set_arr(&w, "a.f64", GGUF_TYPE_FLOAT64, f64s, 2);
    uint8_t bools[] = {1, 0, 1};
    gguf_writer_set_arr(&w, "a.bool", GGUF_TYPE_BOOL, bools, 3);
    int64_t i64s[] = {-5, 1LL << 40};
    gguf_writer_set_arr(&w, "a.i64", GGUF_TYPE_INT64, i64s, 2);
    gguf_writer_set_arr(&w, "a.empty", GGUF_TYPE_FLOAT32, NULL, 0);
    const char *strs[] = {"x", "", "\xc3\xbcn\xc3\xaf", "nul\0inside"};
    size_t lens[] = {1, 0, 5, 10};
    gguf_writer_set_arr_str(&w, "a.str", strs, lens, 4);
    uint32_t per_layer[] = {0, 2, 0};
    gguf_writer_set_arr(&w, "a.layers", GGUF_TYPE_UINT32, per_layer, 3);

    static uint8_t q4k[2 * 144], q40[4 * 18], bf16[3 * 2];
    for (size_t i = 0; i < sizeof q4k; i++) q4k[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof q40; i++) q40[i] = (uint8_t)(i * 5);
    fill_ctx fc = {0};
    CHECK_INT(gguf_writer_add_tensor(&w, "q4k", QTYPE_Q4_K, 3, (uint64_t[]){256, 1, 2}, q4k, &e),
              0);
    CHECK_INT(gguf_writer_add_tensor(&w, "q40", QTYPE_Q4_0, 2, (uint64_t[]){64, 2}, q40, &e), 0);
    CHECK_INT(gguf_writer_add_tensor_fn(&w, "gen", QTYPE_Q6_K, 2, (uint64_t[]){256, 3}, fill_ramp,
                                        &fc, &e),
              0);
    CHECK_INT(gguf_writer_add_tensor(&w, "bf", QTYPE_BF16, 1, (uint64_t[]){3}, bf16, &e), 0);
    CHECK_INT(gguf_writer_add_tensor(&w, "zero", QTYPE_F32, 2, (uint64_t[]){0, 5}, NULL, &e), 0);
    /* writer-side refusals */
    CHECK_INT(gguf_writer_add_tensor(&w, "q40", QTYPE_F32, 1, (uint64_t[]){1}, bf16, &e),
              ERR_INVALID);
    CHECK_INT(gguf_writer_add_tensor(&w, "odd", QTYPE_Q8_0, 1, (uint64_t[]){33}, q40, &e),
              ERR_INVALID);
    CHECK_INT(gguf_writer_add_tensor(&w, "iq2", 16, 1, (uint64_t[]){256}, q40, &e), ERR_INVALID);
    CHECK_INT(gguf_writer_add_tensor(&w, "", QTYPE_F32, 1, (uint64_t[]){1}, q40, &e), ERR_INVALID);
    CHECK_INT(gguf_writer_add_tensor(
                  &w, "a_name_that_is_far_too_long_for_ggml_whose_limit_is_63_bytes_xxxxxxxxxx",
                  QTYPE_F32, 1, (uint64_t[]){1}, q40, &e),
              ERR_INVALID);
    CHECK_INT(
        gguf_writer_add_tensor(&w, "five", QTYPE_F32, 5, (uint64_t[]){1, 1, 1, 1, 1}, q40, &e),
        ERR_INVALID);

    CHECK_INT(gguf_writer_write(&w, path.data, &e), 0);
    CHECK_INT(fc.calls, 1);

    gguf *g = NULL;
    CHECK_INT(gguf_open(&g, path.data, &e), 0);
    if (g) {
        CHECK_INT(gguf_alignment(g), 64);
        CHECK_INT(gguf_data_offset(g) % 64, 0);
        CHECK_INT(gguf_n_kv(g), 21);
        uint32_t u32;
        int64_t i64;
        float f;
        bool b;
        const char *s;
        CHECK_INT(gguf_get_u32(g, "k.u8", &u32, &e), 0);
        CHECK_INT(u32, 200);
        CHECK_INT(gguf_get_i64(g, "k.i8", &i64, &e), 0);
        CHECK_INT(i64, -100);
        CHECK_INT(gguf_get_u32(g, "k.u16", &u32, &e), 0);
        CHECK_INT(u32, 60000);
        CHECK_INT(gguf_get_i64(g, "k.i16", &i64, &e), 0);
        CHECK_INT(i64, -30000);
        CHECK_INT(gguf_get_u32(g, "k.u32", &u32, &e), 0);
        CHECK_INT(u32, 4000000000u);
        CHECK_INT(gguf_get_i64(g, "k.i32", &i64, &e), 0);
        CHECK_INT(i64, -2000000000);
        CHECK_INT(gguf_get_f32(g, "k.f32", &f, &e), 0);
        CHECK(f == 0.22f);
        CHECK_INT(gguf_get_bool(g, "k.bool", &b, &e), 0);
        CHECK(b);
        CHECK(gguf_find_key(g, "k.u64")->v.u64 == UINT64_MAX);
        CHECK_INT(gguf_get_i64(g, "k.i64", &i64, &e), 0);
        CHECK(i64 == INT64_MIN);
        CHECK(gguf_find_key(g, "k.f64")->v.f64 == -1.5e300);
        const gguf_kv *kv = gguf_find_key(g, "k.str");
        CHECK(kv && kv->v.str.len == 3 && memcmp(kv->v.str.s, "a\0b", 4) == 0);
        CHECK_INT(gguf_get_str(g, "k.replaced", &s, &e), 0);
        CHECK_STR(s, "new");
        /* replaced keys keep their position */
        CHECK_STR(gguf_kv_at(g, 13)->key, "k.replaced");
        CHECK(gguf_find_key(g, "k.removed") == NULL);

        /* lenient integer widths, strict everything else */
        CHECK_INT(gguf_get_u32(g, "k.u64", &u32, &e), ERR_FORMAT);
        CHECK(strstr(e.msg, "does not fit") != NULL);
        CHECK_INT(gguf_get_u32(g, "k.i8", &u32, &e), ERR_FORMAT);
        CHECK_INT(gguf_get_i64(g, "k.u64", &i64, &e), ERR_FORMAT);
        CHECK_INT(gguf_get_u32(g, "k.f32", &u32, &e), ERR_FORMAT);
        CHECK(strstr(e.msg, "key \"k.f32\" has type FLOAT32, expected an integer") != NULL);
        CHECK_INT(gguf_get_str(g, "k.u32", &s, &e), ERR_FORMAT);
        CHECK_INT(gguf_get_bool(g, "k.u8", &b, &e), ERR_FORMAT);
        CHECK_INT(gguf_get_f32(g, "k.f64", &f, &e), 0);
        CHECK(f == (float)-1.5e300);
        CHECK_INT(gguf_get_u32(g, "nope", &u32, &e), ERR_NOTFOUND);
        CHECK(strstr(e.msg, "\"nope\" is missing") != NULL);
        CHECK_INT(gguf_opt_u32(g, "nope", 9, &u32, &e), 0);
        CHECK_INT(u32, 9);
        CHECK_INT(gguf_opt_u32(g, "k.str", 9, &u32, &e), ERR_FORMAT);
        CHECK_INT(gguf_opt_str(g, "nope", NULL, &s, &e), 0);
        CHECK(s == NULL);
        CHECK_INT(gguf_opt_bool(g, "nope", true, &b, &e), 0);
        CHECK(b);
        CHECK_INT(gguf_opt_f32(g, "nope", 1.5f, &f, &e), 0);
        CHECK(f == 1.5f);

        const void *arr;
        uint64_t n;
        CHECK_INT(gguf_get_arr(g, "a.u16", GGUF_TYPE_UINT16, &arr, &n, &e), 0);
        CHECK(n == 2 && ((const uint16_t *)arr)[1] == 65535);
        CHECK_INT(gguf_get_arr(g, "a.f64", GGUF_TYPE_FLOAT64, &arr, &n, &e), 0);
        CHECK(n == 2 && ((const double *)arr)[0] == 0.5 && ((const double *)arr)[1] == -2);
        CHECK_INT(gguf_get_arr(g, "a.bool", GGUF_TYPE_BOOL, &arr, &n, &e), 0);
        CHECK(n == 3 && ((const uint8_t *)arr)[0] == 1 && ((const uint8_t *)arr)[1] == 0);
        CHECK_INT(gguf_get_arr(g, "a.i64", GGUF_TYPE_INT64, &arr, &n, &e), 0);
        CHECK(n == 2 && ((const int64_t *)arr)[1] == (1LL << 40));
        CHECK_INT(gguf_get_arr(g, "a.empty", GGUF_TYPE_FLOAT32, &arr, &n, &e), 0);
        CHECK_INT(n, 0);
        CHECK_INT(gguf_get_arr(g, "a.str", GGUF_TYPE_STRING, &arr, &n, &e), 0);
        const gguf_str *ss = arr;
        CHECK(n == 4 && ss[0].len == 1 && ss[1].len == 0 && strcmp(ss[1].s, "") == 0);
        CHECK(n == 4 && ss[2].len == 5 && strcmp(ss[2].s, "\xc3\xbcn\xc3\xaf") == 0);
        CHECK(n == 4 && ss[3].len == 10 && memcmp(ss[3].s, "nul\0inside", 11) == 0);
        CHECK_INT(gguf_get_arr(g, "a.str", GGUF_TYPE_INT32, &arr, &n, &e), ERR_FORMAT);
        CHECK(strstr(e.msg, "is an array of STRING, expected an array of INT32") != NULL);
        CHECK_INT(gguf_get_arr(g, "k.u8", GGUF_TYPE_UINT8, &arr, &n, &e), ERR_FORMAT);

        CHECK_INT(gguf_get_u32_at(g, "a.layers", 1, &u32, &e), 0);
        CHECK_INT(u32, 2);
        CHECK_INT(gguf_get_u32_at(g, "a.layers", 3, &u32, &e), ERR_FORMAT);
        CHECK_INT(gguf_get_u32_at(g, "k.u16", 17, &u32, &e), 0);
        CHECK_INT(u32, 60000);
        CHECK_INT(gguf_get_u32_at(g, "a.str", 0, &u32, &e), ERR_FORMAT);

        CHECK_INT(gguf_n_tensors(g), 5);
        const gguf_tensor *t = gguf_find_tensor(g, "q4k");
        CHECK(t && t->type == QTYPE_Q4_K && t->n_dims == 3 && t->ne[2] == 2 && t->nbytes == 288);
        CHECK(t && memcmp(t->data, q4k, sizeof q4k) == 0);
        CHECK(t && t->offset == 0);
        t = gguf_find_tensor(g, "q40");
        CHECK(t && t->nbytes == 72 && t->offset == 320 && memcmp(t->data, q40, 72) == 0);
        t = gguf_find_tensor(g, "gen");
        CHECK(t && t->nbytes == 630 && t->offset == 448);
        if (t) {
            bool same = true;
            for (size_t i = 0; i < t->nbytes; i++)
                same &= ((const uint8_t *)t->data)[i] == (uint8_t)(i * 7 + 2);
            CHECK(same);
        }
        t = gguf_find_tensor(g, "zero");
        CHECK(t && t->nbytes == 0 && t->n_elements == 0 && t->data == NULL);
        CHECK(gguf_find_tensor(g, "nope") == NULL);
        CHECK(gguf_tensor_at(g, 5) == NULL);
        CHECK_STR(gguf_tensor_at(g, 3)->name, "bf");
        /* file length = data start + sum of padded sizes */
        CHECK_INT(gguf_file_size(g), gguf_data_offset(g) + 320 + 128 + 640 + 64 + 0);
        gguf_close(g);
    }

    /* a failing fill leaves no file behind and names the tensor */
    gguf_writer w2 = GGUF_WRITER_INIT;
    CHECK_INT(
        gguf_writer_add_tensor_fn(&w2, "bad", QTYPE_F32, 1, (uint64_t[]){4}, fill_fail, NULL, &e),
        0);
    buf p2 = BUF_INIT;
    path_join(&p2, dir, "fail.gguf");
    CHECK_INT(gguf_writer_write(&w2, p2.data, &e), ERR_IO);
    CHECK(strstr(e.msg, "tensor \"bad\"") && strstr(e.msg, "source went away"));
    CHECK(!file_exists(p2.data));
    CHECK_INT(gguf_writer_write(&w2, "/nonexistent-dir/x.gguf", &e), ERR_IO);
    CHECK(strstr(e.msg, "/nonexistent-dir/x.gguf.tmp.") != NULL);
    /* a bad alignment is refused at write time */
    gguf_writer_set_u32(&w2, "general.alignment", 24);
    CHECK_INT(gguf_writer_write(&w2, p2.data, &e), ERR_INVALID);
    gguf_writer_set_str(&w2, "", "x");
    CHECK_INT(gguf_writer_write(&w2, p2.data, &e), ERR_INVALID);
    CHECK(strstr(e.msg, "empty key") != NULL);
    gguf_writer_release(&w2);
    buf_release(&p2);

    unlink(path.data);
    rmdir(dir);
    buf_release(&path);
    gguf_writer_release(&w);
}

/* Copies every record of a file into a new writer: the result must be byte-identical. */
static void test_gguf__copy_identical(void)
{
    buf ref = BUF_INIT, copy = BUF_INIT;
    build_reference(&ref);
    err e = ERR_INIT;
    gguf *g = NULL;
    CHECK_INT(gguf_open_mem(&g, ref.data, ref.len, "ref", &e), 0);
    if (g) {
        gguf_writer w = GGUF_WRITER_INIT;
        for (size_t i = 0; i < gguf_n_kv(g); i++)
            CHECK_INT(gguf_writer_set_kv(&w, gguf_kv_at(g, i)), 0);
        for (size_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            CHECK_INT(gguf_writer_add_tensor(&w, t->name, t->type, t->n_dims, t->ne, t->data, &e),
                      0);
        }
        CHECK_INT(gguf_writer_to_buf(&w, &copy, &e), 0);
        CHECK(copy.len == ref.len && memcmp(copy.data, ref.data, ref.len) == 0);
        gguf_writer_release(&w);
        gguf_close(g);
    }
    buf_release(&ref);
    buf_release(&copy);
}

/* ---- the corrupt-file suite ---- */

static void test_gguf__every_prefix(void)
{
    buf ref = BUF_INIT;
    build_reference(&ref);
    err e = ERR_INIT;
    gguf *g = NULL;
    CHECK_INT(gguf_open_mem(&g, ref.data, ref.len, "ref", &e), 0);
    if (!g) return;
    uint64_t need = 0;
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        uint64_t end = gguf_data_offset(g) + t->offset + t->nbytes;
        if (end > need) need = end;
    }
    gguf_close(g);
    CHECK(need < ref.len); /* the file ends in padding */
    int failed = 0, passed = 0;
    for (size_t n = 0; n < ref.len; n++) {
        err pe = ERR_INIT;
        int rc = open_copy(ref.data, n, &pe);
        if (n < need) {
            failed += rc == ERR_FORMAT;
            CHECK_MSG(rc == ERR_FORMAT, "prefix %zu: rc %d %s", n, rc, pe.msg);
            CHECK_MSG(strstr(pe.msg, "t.gguf: byte ") == pe.msg, "prefix %zu: %s", n, pe.msg);
        } else {
            passed += rc == 0;
            CHECK_MSG(rc == 0, "prefix %zu (after the last tensor's data): %s", n, pe.msg);
        }
    }
    CHECK_INT(failed, need);
    CHECK_INT(passed, ref.len - need);
    buf_release(&ref);
}

/* Truncation at named places, through real files and gguf_open (the mmap path). */
static void test_gguf__truncated_files(void)
{
    buf ref = BUF_INIT;
    build_reference(&ref);
    err e = ERR_INIT;
    gguf *g = NULL;
    CHECK_INT(gguf_open_mem(&g, ref.data, ref.len, "ref", &e), 0);
    if (!g) return;
    const gguf_kv *tokens = gguf_find_key(g, "tokenizer.ggml.tokens");
    const gguf_kv *freq = gguf_find_key(g, "granite.rope.freq_base");
    const gguf_tensor *t1 = gguf_find_tensor(g, "t.q8");
    const gguf_tensor *tl = gguf_find_tensor(g, "t.last");
    uint64_t ds = gguf_data_offset(g);
    struct {
        uint64_t at;
        const char *needle;
    } cuts[] = {
        {0, "too short"},
        {3, "too short"},
        {4, "too short"},
        {12, "too short"},
        {23, "too short"},
        {24, ""},                             /* with counts fixed: a valid empty file */
        {30, "key/value count 1 cannot fit"}, /* inside the first key's length */
        {33, "key/value count 1 cannot fit"}, /* inside the first key's bytes */
        {gguf_kv_at(g, 0)->file_offset + 8 + 20 + 2, "file ends inside a value type"},
        {gguf_kv_at(g, 0)->file_offset + 8 + 20 + 4 + 3, "a string value"},
        {freq->file_offset + 8 + 22 + 4 + 2, "file ends inside a value"},
        {tokens->file_offset + 8 + 21 + 4 + 2, "element type"},
        {tokens->file_offset + 8 + 21 + 4 + 4 + 5, "array's length"},
        {tokens->file_offset + 8 + 21 + 4 + 12 + 3, "array of 4 strings cannot fit"},
        {tokens->file_offset + 8 + 21 + 4 + 12 + 9 + 8 + 1, "array of 4 strings cannot fit"},
        {t1->info_offset + 3, "a tensor name"},
        {t1->info_offset + 8 + 2, "a tensor name"},
        {t1->info_offset + 8 + 4 + 2, "n_dims"},
        {t1->info_offset + 8 + 4 + 4 + 5, "a tensor dimension"},
        {t1->info_offset + 8 + 4 + 4 + 16 + 1, "a tensor type"},
        {t1->info_offset + 8 + 4 + 4 + 16 + 4 + 7, "a tensor offset"},
        {ds - 1, "past the end"},             /* inside the padding before the data */
        {ds, "not within"},                   /* no data at all */
        {ds + 17, "not within"},              /* inside the first tensor */
        {ds + t1->offset + 40, "not within"}, /* inside the second tensor */
        {ds + tl->offset + 11, "\"t.last\""}, /* one byte short of the last tensor */
    };
    char dir[] = "/tmp/tally-gguf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    buf path = BUF_INIT;
    path_join(&path, dir, "cut.gguf");
    CHECK(ARRAY_LEN(cuts) >= 20);
    uint8_t *d = malloc(ref.len);
    for (size_t i = 0; i < ARRAY_LEN(cuts); i++) {
        uint64_t at = cuts[i].at;
        /* (a) the cut file as it is: the reader notices before reading past the end */
        CHECK_INT(file_write_atomic(path.data, ref.data, (size_t)at, &e), 0);
        gguf *bad_g = NULL;
        err ce = ERR_INIT;
        int rc = gguf_open(&bad_g, path.data, &ce);
        CHECK_MSG(rc == ERR_FORMAT, "cut at %" PRIu64 ": rc %d (%s)", at, rc, ce.msg);
        CHECK_MSG(strstr(ce.msg, path.data) == ce.msg && strstr(ce.msg, ": byte "),
                  "cut at %" PRIu64 ": %s", at, ce.msg);
        CHECK(bad_g == NULL);
        if (getenv("TEST_VERBOSE")) fprintf(stderr, "  cut %4" PRIu64 ": %s\n", at, ce.msg);
        /* (b) the same cut with the header counting only the records that
         * start before it, so that the count checks pass and the record
         * parser meets the end of the file itself */
        memcpy(d, ref.data, ref.len);
        if (at >= 24) {
            uint64_t nkv = 0, nt = 0;
            for (size_t k = 0; k < gguf_n_kv(g); k++) nkv += gguf_kv_at(g, k)->file_offset < at;
            for (size_t k = 0; k < gguf_n_tensors(g); k++)
                nt += gguf_tensor_at(g, k)->info_offset < at;
            put_le(d + 8, nt, 8);
            put_le(d + 16, nkv, 8);
        }
        CHECK_INT(file_write_atomic(path.data, d, (size_t)at, &e), 0);
        ce = (err)ERR_INIT;
        rc = gguf_open(&bad_g, path.data, &ce);
        if (!*cuts[i].needle) {
            CHECK_MSG(rc == 0, "cut at %" PRIu64 " (counts fixed): %s", at, ce.msg);
            gguf_close(bad_g);
            continue;
        }
        CHECK_MSG(rc == ERR_FORMAT, "cut at %" PRIu64 " (counts fixed): rc %d (%s)", at, rc,
                  ce.msg);
        CHECK_MSG(strstr(ce.msg, cuts[i].needle) != NULL, "cut at %" PRIu64 ": \"%s\" lacks \"%s\"",
                  at, ce.msg, cuts[i].needle);
        if (getenv("TEST_VERBOSE")) fprintf(stderr, "  cut %4" PRIu64 "*: %s\n", at, ce.msg);
    }
    free(d);
    gguf_close(g);
    /* the whole file opens through the same path */
    CHECK_INT(file_write_atomic(path.data, ref.data, ref.len, &e), 0);
    CHECK_INT(gguf_open(&g, path.data, &e), 0);
    gguf_close(g);
    unlink(path.data);
    /* missing file, directory */
    CHECK_INT(gguf_open(&g, path.data, &e), ERR_NOTFOUND);
    CHECK_INT(gguf_open(&g, dir, &e), ERR_INVALID);
    rmdir(dir);
    buf_release(&path);
    buf_release(&ref);
}

static void test_gguf__header_flips(void)
{
    buf ref = BUF_INIT;
    build_reference(&ref);
    uint8_t *d = malloc(ref.len);
    for (int i = 0; i < 4; i++) {
        memcpy(d, ref.data, ref.len);
        d[i] ^= 0xFF;
        EXPECT_FAIL(d, ref.len, ERR_FORMAT, "not a GGUF file");
    }
    memcpy(d, ref.data, ref.len);
    d[4] ^= 0xFF; /* version 0xfc */
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unsupported GGUF version 252");
    memcpy(d, ref.data, ref.len);
    d[6] ^= 0x01; /* version 0x10003 */
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unsupported GGUF version");
    memcpy(d, ref.data, ref.len);
    put_le(d + 4, 1, 4);
    EXPECT_FAIL(d, ref.len, ERR_UNSUPPORTED, "version 1 is obsolete");
    memcpy(d, ref.data, ref.len);
    put_le(d + 4, 0x03000000, 4); /* byte-swapped 3 */
    EXPECT_FAIL(d, ref.len, ERR_UNSUPPORTED, "byte-swapped");
    memcpy(d, ref.data, ref.len);
    put_le(d + 4, 2, 4); /* v2 has the same layout */
    err e = ERR_INIT;
    CHECK_INT(open_copy(d, ref.len, &e), 0);
    for (int i = 8; i < 24; i++) {
        memcpy(d, ref.data, ref.len);
        d[i] ^= 0xFF;
        EXPECT_FAIL(d, ref.len, ERR_FORMAT, i < 16 ? "tensor count" : "key/value count");
    }
    /* a count that is plausible but wrong: one tensor too many */
    memcpy(d, ref.data, ref.len);
    put_le(d + 8, get_le(d + 8, 8) + 1, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, NULL);
    memcpy(d, ref.data, ref.len);
    put_le(d + 16, get_le(d + 16, 8) - 1, 8); /* one KV short: the last KV is parsed as a tensor */
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, NULL);
    free(d);
    buf_release(&ref);
}

/* Every single byte of the metadata flipped: any outcome but a crash or an
 * out-of-bounds read (ASan) is acceptable; errors must be FORMAT/UNSUPPORTED. */
static void test_gguf__flip_every_byte(void)
{
    buf ref = BUF_INIT;
    build_reference(&ref);
    err e = ERR_INIT;
    gguf *g = NULL;
    CHECK_INT(gguf_open_mem(&g, ref.data, ref.len, "ref", &e), 0);
    size_t meta = g ? (size_t)gguf_data_offset(g) : 0;
    gguf_close(g);
    uint8_t *d = malloc(ref.len);
    int ok = 0, format = 0, other = 0;
    static const uint8_t masks[] = {0xFF, 0x01, 0x80};
    for (size_t i = 0; i < meta; i++) {
        for (size_t m = 0; m < ARRAY_LEN(masks); m++) {
            memcpy(d, ref.data, ref.len);
            d[i] ^= masks[m];
            err fe = ERR_INIT;
            int rc = open_copy(d, ref.len, &fe);
            if (rc == 0)
                ok++;
            else if (rc == ERR_FORMAT || rc == ERR_UNSUPPORTED)
                format++;
            else {
                other++;
                CHECK_MSG(0, "flip %zu^%02x: rc %d %s", i, masks[m], rc, fe.msg);
            }
        }
    }
    CHECK(format > 0 && other == 0);
    if (getenv("TEST_VERBOSE")) fprintf(stderr, "  flips: %d accepted, %d rejected\n", ok, format);
    free(d);
    buf_release(&ref);
}

/* Patches one field of the reference file and expects a given failure. */
static void test_gguf__hostile_fields(void)
{
    buf ref = BUF_INIT;
    build_reference(&ref);
    err e = ERR_INIT;
    gguf *g = NULL;
    CHECK_INT(gguf_open_mem(&g, ref.data, ref.len, "ref", &e), 0);
    if (!g) return;
    const gguf_kv *k0 = gguf_kv_at(g, 0);
    const gguf_kv *tokens = gguf_find_key(g, "tokenizer.ggml.tokens");
    const gguf_kv *types = gguf_find_key(g, "tokenizer.ggml.token_type");
    const gguf_kv *blocks = gguf_find_key(g, "granite.block_count");
    const gguf_tensor *t0 = gguf_find_tensor(g, "t.f32");
    const gguf_tensor *t1 = gguf_find_tensor(g, "t.q8");
    uint64_t tok_arr = tokens->file_offset + 8 + 21 + 4; /* element type, count, items */
    uint64_t typ_arr = types->file_offset + 8 + 25 + 4;
    uint64_t t0_dims = t0->info_offset + 8 + 5 + 4, t0_type = t0_dims + 16;
    uint64_t t1_dims = t1->info_offset + 8 + 4 + 4, t1_type = t1_dims + 16, t1_off = t1_type + 4;
    uint8_t *d = malloc(ref.len);
#define PATCH(at, v, n) (memcpy(d, ref.data, ref.len), put_le(d + (at), (v), (n)))
    /* huge string lengths */
    PATCH(k0->file_offset, UINT64_C(1) << 40, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "over the 1 GiB limit");
    PATCH(k0->file_offset, 5000, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "has length 5000 but only");
    PATCH(k0->file_offset, UINT64_MAX, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "byte 24: a key has length");
    PATCH(tok_arr + 12, UINT64_C(1) << 62, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "string 0 of key");
    /* array counts */
    PATCH(tok_arr + 4, UINT64_C(1) << 29, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "strings cannot fit");
    PATCH(tok_arr + 4, UINT64_C(1) << 31, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "over the 2^30 limit");
    PATCH(typ_arr + 4, 1000000, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "array of 1000000 INT32 values needs 4000000 bytes");
    PATCH(typ_arr + 4, UINT64_MAX / 2, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "over the 2^30 limit");
    /* type ids */
    PATCH(tok_arr, 9, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "arrays of arrays");
    PATCH(tok_arr, 13, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unknown array element type 13");
    PATCH(blocks->file_offset + 8 + 19, 13, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unknown value type 13");
    PATCH(blocks->file_offset + 8 + 19, 0xFFFFFFFF, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unknown value type 4294967295");
    /* tensors: dims, type, offsets */
    PATCH(t0->info_offset + 8 + 5, 5, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "n_dims 5 is over 4");
    PATCH(t0_dims, UINT64_C(1) << 63, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "negative or huge");
    memcpy(d, ref.data, ref.len);
    put_le(d + t0_dims, UINT64_C(1) << 40, 8);
    put_le(d + t0_dims + 8, UINT64_C(1) << 40, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "overflow the element count");
    memcpy(d, ref.data, ref.len);
    put_le(d + t0_dims, UINT64_C(1) << 30, 8);
    put_le(d + t0_dims + 8, UINT64_C(1) << 31, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT,
                "not within"); /* 2^61 F32 elements: a legal size, not in this file */
    memcpy(d, ref.data, ref.len);
    put_le(d + t0_dims, (UINT64_C(1) << 61) + 4, 8);
    put_le(d + t0_dims + 8, 2, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "byte size overflows"); /* F32: 2^62 elements * 4 bytes */
    PATCH(t1_dims, 33, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "row length 33 is not a multiple of Q8_0's block of 32");
    PATCH(t0_type, 4, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unknown ggml type id 4");
    PATCH(t0_type, 43, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unknown ggml type id 43");
    PATCH(t0_type, 0x80000000u, 4);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "unknown ggml type id");
    PATCH(t1_type, 16, 4); /* IQ2_XXS: known, not supported */
    EXPECT_FAIL(d, ref.len, ERR_UNSUPPORTED, "has type IQ2_XXS");
    PATCH(t1_off, t1->offset + 1, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "is not a multiple of the alignment 32");
    PATCH(t1_off, t1->offset + 16, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "alignment");
    PATCH(t1_off, UINT64_C(1) << 40, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "\"t.q8\": data");
    PATCH(t1_off, UINT64_MAX - 31, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "not within");
    PATCH(t1_off, ref.len - gguf_data_offset(g) - 32, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "not within"); /* starts inside, runs past the end */
    PATCH(t1_off, 0, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "overlap");
    PATCH(t1_off, 32, 8); /* t.f32 is 48 bytes at 0 */
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "tensors \"t.f32\" and \"t.q8\" overlap");
    /* duplicate tensor name: "t.q8" -> "t.f3" is a different length; rename t.f16 -> t.f32 */
    const gguf_tensor *t2 = gguf_find_tensor(g, "t.f16");
    memcpy(d, ref.data, ref.len);
    memcpy(d + t2->info_offset + 8, "t.f32", 5);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, "duplicate tensor name \"t.f32\"");
    PATCH(t2->info_offset, 0, 8);
    EXPECT_FAIL(d, ref.len, ERR_FORMAT, NULL);
#undef PATCH
    free(d);
    gguf_close(g);
    buf_release(&ref);
}

/* Structural cases written byte by byte. */
static void test_gguf__handmade(void)
{
    raw r = {BUF_INIT};
    /* duplicate keys */
    r_header(&r, 3, 0, 2);
    r_str(&r, "a.b");
    r_u32(&r, GGUF_TYPE_UINT8);
    r_bytes(&r, "\x01", 1);
    r_str(&r, "a.b");
    r_u32(&r, GGUF_TYPE_UINT8);
    r_bytes(&r, "\x02", 1);
    EXPECT_FAIL((uint8_t *)r.b.data, r.b.len, ERR_FORMAT, "byte 40: duplicate key \"a.b\"");
    buf_reset(&r.b);
    /* empty key */
    r_header(&r, 3, 0, 1);
    r_str(&r, "");
    r_u32(&r, GGUF_TYPE_UINT32);
    r_u32(&r, 7);
    r_u32(&r, 0); /* keep the file long enough for the count check */
    EXPECT_FAIL((uint8_t *)r.b.data, r.b.len, ERR_FORMAT, "key 0 is empty");
    buf_reset(&r.b);
    /* a key with a NUL inside */
    r_header(&r, 3, 0, 1);
    r_u64(&r, 3);
    r_bytes(&r, "a\0b", 3);
    r_u32(&r, GGUF_TYPE_UINT32);
    r_u32(&r, 7);
    EXPECT_FAIL((uint8_t *)r.b.data, r.b.len, ERR_FORMAT, "NUL");
    buf_reset(&r.b);
    /* alignment: wrong type, zero, not a power of two; a good one works */
    static const struct {
        uint32_t type, value;
        const char *needle;
    } al[] = {{GGUF_TYPE_INT32, 32, "expected UINT32"},
              {GGUF_TYPE_UINT32, 0, "not a power of two"},
              {GGUF_TYPE_UINT32, 48, "48 is not a power of two"},
              {GGUF_TYPE_UINT32, 16, NULL}};
    for (size_t i = 0; i < ARRAY_LEN(al); i++) {
        buf_reset(&r.b);
        r_header(&r, 3, 1, 1);
        r_str(&r, "general.alignment");
        r_u32(&r, al[i].type);
        r_u32(&r, al[i].value);
        r_str(&r, "w");
        r_u32(&r, 1);
        r_u64(&r, 4);
        r_u32(&r, QTYPE_F32);
        r_u64(&r, 0);
        r_pad(&r, 16);
        r_bytes(&r, "0123456789abcdef", 16);
        err e = ERR_INIT;
        if (al[i].needle) {
            EXPECT_FAIL((uint8_t *)r.b.data, r.b.len, ERR_FORMAT, al[i].needle);
        } else {
            gguf *g = NULL;
            CHECK_INT(gguf_open_mem(&g, r.b.data, r.b.len, "al16", &e), 0);
            CHECK(g && gguf_alignment(g) == 16 && gguf_data_offset(g) % 16 == 0);
            gguf_close(g);
        }
    }
    /* empty and over-long tensor names */
    const char *names[] = {"", "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < 2; i++) {
        buf_reset(&r.b);
        r_header(&r, 3, 1, 0);
        r_str(&r, names[i]);
        r_u32(&r, 1);
        r_u64(&r, 4);
        r_u32(&r, QTYPE_F32);
        r_u64(&r, 0);
        r_pad(&r, 32);
        r_bytes(&r, "0123456789abcdef", 16);
        EXPECT_FAIL((uint8_t *)r.b.data, r.b.len, ERR_FORMAT,
                    i ? "over the 63-byte limit" : "empty name");
    }
    /* zero-dimension tensors are legal and have no data */
    buf_reset(&r.b);
    r_header(&r, 3, 2, 0);
    r_str(&r, "scalar");
    r_u32(&r, 0);
    r_u32(&r, QTYPE_F32);
    r_u64(&r, 0);
    r_str(&r, "empty");
    r_u32(&r, 2);
    r_u64(&r, 0);
    r_u64(&r, 7);
    r_u32(&r, QTYPE_Q4_K);
    r_u64(&r, 32);
    r_pad(&r, 32);
    r_bytes(&r, "abcd", 4);
    r_pad(&r, 32);
    {
        err e = ERR_INIT;
        gguf *g = NULL;
        CHECK_INT(gguf_open_mem(&g, r.b.data, r.b.len, "zero", &e), 0);
        const gguf_tensor *s = g ? gguf_find_tensor(g, "scalar") : NULL;
        CHECK(s && s->n_elements == 1 && s->nbytes == 4 && memcmp(s->data, "abcd", 4) == 0);
        const gguf_tensor *z = g ? gguf_find_tensor(g, "empty") : NULL;
        CHECK(z && z->n_elements == 0 && z->nbytes == 0);
        gguf_close(g);
    }
    /* no tensors, no KVs: a 24-byte file is valid */
    buf_reset(&r.b);
    r_header(&r, 3, 0, 0);
    {
        err e = ERR_INIT;
        gguf *g = NULL;
        CHECK_INT(gguf_open_mem(&g, r.b.data, r.b.len, "empty", &e), 0);
        CHECK(g && gguf_n_kv(g) == 0 && gguf_n_tensors(g) == 0 && gguf_arch(g) == NULL);
        uint32_t u;
        char key[8];
        if (g) {
            CHECK_INT(gguf_get_arch_u32(g, "block_count", &u, &e), ERR_NOTFOUND);
            CHECK_INT(gguf_arch_key(g, "x", key, sizeof key, &e), ERR_NOTFOUND);
        }
        gguf_close(g);
    }
    EXPECT_FAIL(NULL, 0, ERR_FORMAT, "0 bytes, too short");
    buf_release(&r.b);
}

/* ---- the real fixture files (fixtures/README.md 3) ---- */

typedef struct fixture_model {
    const char *file;
    size_t n_tensors;
    uint64_t params;
    uint32_t file_type;
    const char *arch;
    /* tensors of each type: F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q6_K */
    int n_by_type[8];
} fixture_model;

static const uint32_t counted_types[8] = {QTYPE_F32,  QTYPE_F16,  QTYPE_BF16, QTYPE_Q4_0,
                                          QTYPE_Q5_0, QTYPE_Q8_0, QTYPE_Q4_K, QTYPE_Q6_K};

static const fixture_model fixture_models[] = {
    {"tiny-granite.f32.gguf", 38, 1832960, 0, "granite", {38}},
    {"tiny-granite.f16.gguf", 38, 1832960, 1, "granite", {9, 29}},
    {"tiny-granite.bf16.gguf", 38, 1832960, 32, "granite", {9, 0, 29}},
    {"tiny-granite.q8_0.gguf", 38, 1832960, 7, "granite", {9, 0, 0, 0, 0, 29}},
    {"tiny-granite.q6_k.gguf", 38, 1832960, 18, "granite", {9, 0, 0, 0, 0, 0, 0, 29}},
    {"tiny-granite.q4_k_m.gguf", 38, 1832960, 15, "granite", {9, 0, 0, 0, 0, 0, 24, 5}},
    {"tiny-granite.q4_0.gguf", 38, 1832960, 2, "granite", {9, 0, 0, 29}},
    {"tiny-ling.f32.gguf", 40, 2148000, 0, "bailingmoe2", {40}},
    {"tiny-ling.q8_0.gguf", 40, 2148000, 7, "bailingmoe2", {17, 0, 0, 0, 0, 23}},
    {"tiny-ling.q6_k.gguf", 40, 2148000, 18, "bailingmoe2", {17, 0, 0, 0, 0, 4, 0, 19}},
    {"tiny-ling.q4_k_m.gguf", 40, 2148000, 15, "bailingmoe2", {17, 0, 0, 0, 2, 2, 17, 2}},
    {"tiny-ling.q4_0.gguf", 40, 2148000, 2, "bailingmoe2", {17, 0, 0, 23}},
    {"tiny-ling-mtp.q4_0.gguf", 58, 0, 2, "bailingmoe2", {26, 0, 0, 32}},
    {"tiny-granitehybrid.f32.gguf", 24, 1280664, 0, "granitehybrid", {24}},
    {"tiny-granitehybrid.q8_0.gguf", 24, 1280664, 7, "granitehybrid", {11, 0, 0, 0, 0, 13}},
    {"tiny-granitehybrid.q4_k_m.gguf",
     24,
     1280664,
     15,
     "granitehybrid",
     {11, 0, 0, 0, 0, 0, 10, 3}},
};

static void expect_type(const gguf *g, const char *name, uint32_t type)
{
    const gguf_tensor *t = gguf_find_tensor(g, name);
    CHECK_MSG(t && t->type == type, "%s: %s has type %d, expected %d", gguf_path(g), name,
              t ? (int)t->type : -1, (int)type);
}

static void test_gguf__fixture_models(void)
{
    buf path = BUF_INIT;
    for (size_t i = 0; i < ARRAY_LEN(fixture_models); i++) {
        const fixture_model *m = &fixture_models[i];
        path_join(&path, test_fixtures_dir(), "models");
        buf_putc(&path, '/');
        buf_puts(&path, m->file);
        err e = ERR_INIT;
        gguf *g = NULL;
        CHECK_MSG(gguf_open(&g, path.data, &e) == 0, "%s", e.msg);
        if (!g) continue;
        CHECK_INT(gguf_n_tensors(g), m->n_tensors);
        CHECK_STR(gguf_arch(g), m->arch);
        uint32_t ft = 99, vocab = 0;
        CHECK_INT(gguf_get_u32(g, "general.file_type", &ft, &e), 0);
        CHECK_INT(ft, m->file_type);
        CHECK_INT(gguf_get_arch_u32(g, "vocab_size", &vocab, &e), 0);
        CHECK_INT(vocab, 1007);
        uint64_t params = 0;
        int by_type[8] = {0};
        uint64_t end = 0;
        for (size_t j = 0; j < gguf_n_tensors(g); j++) {
            const gguf_tensor *t = gguf_tensor_at(g, j);
            params += t->n_elements;
            for (int k = 0; k < 8; k++) by_type[k] += t->type == counted_types[k];
            uint64_t te = gguf_data_offset(g) + t->offset + t->nbytes;
            if (te > end) end = te;
            /* the data pointer is where the offset says */
            CHECK((const uint8_t *)t->data - (const uint8_t *)gguf_tensor_at(g, 0)->data ==
                  (ptrdiff_t)(t->offset - gguf_tensor_at(g, 0)->offset));
        }
        if (m->params) CHECK_INT(params, m->params);
        for (int k = 0; k < 8; k++)
            CHECK_MSG(by_type[k] == m->n_by_type[k], "%s: %d tensors of type %u, expected %d",
                      m->file, by_type[k], counted_types[k], m->n_by_type[k]);
        /* every fixture was written densely: the file ends at the padded end of the data */
        CHECK(end <= gguf_file_size(g) && gguf_file_size(g) - end < 32);
        if (m->file_type != 0) {
            uint32_t qv = 0;
            CHECK_INT(gguf_get_u32(g, "general.quantization_version", &qv, &e), 0);
            CHECK_INT(qv, 2);
        }
        if (strcmp(m->file, "tiny-granite.q4_k_m.gguf") == 0) {
            expect_type(g, "token_embd.weight", QTYPE_Q6_K);
            expect_type(g, "blk.2.attn_v.weight", QTYPE_Q6_K);
            expect_type(g, "blk.3.ffn_down.weight", QTYPE_Q6_K);
            expect_type(g, "blk.0.attn_v.weight", QTYPE_Q4_K);
            expect_type(g, "blk.1.ffn_norm.weight", QTYPE_F32);
            CHECK(gguf_find_tensor(g, "output.weight") == NULL); /* tied */
        }
        if (strcmp(m->file, "tiny-ling.q4_k_m.gguf") == 0) {
            expect_type(g, "output.weight", QTYPE_Q6_K);
            expect_type(g, "blk.2.attn_qkv.weight", QTYPE_Q6_K);
            expect_type(g, "blk.1.ffn_down_exps.weight", QTYPE_Q5_0);
            expect_type(g, "blk.1.ffn_down_shexp.weight", QTYPE_Q5_0);
            expect_type(g, "blk.2.ffn_down_exps.weight", QTYPE_Q8_0);
            expect_type(g, "blk.1.ffn_gate_inp.weight", QTYPE_F32);
            const gguf_tensor *t = gguf_find_tensor(g, "blk.1.ffn_gate_exps.weight");
            CHECK(t && t->ne[0] == 256 && t->ne[1] == 32 && t->ne[2] == 16 && t->n_dims == 3);
        }
        if (strcmp(m->file, "tiny-ling-mtp.q4_0.gguf") == 0) {
            const gguf_tensor *t = gguf_find_tensor(g, "blk.3.nextn.eh_proj.weight");
            CHECK(t && t->ne[0] == 512 && t->ne[1] == 256);
            uint32_t nl = 0;
            CHECK_INT(gguf_get_arch_u32(g, "nextn_predict_layers", &nl, &e), 0);
            CHECK_INT(nl, 1);
        }
        if (strcmp(m->file, "tiny-granitehybrid.f32.gguf") == 0) {
            uint32_t kv0 = 9, kv1 = 9;
            CHECK_INT(gguf_get_arch_u32_at(g, "attention.head_count_kv", 0, &kv0, &e), 0);
            CHECK_INT(gguf_get_arch_u32_at(g, "attention.head_count_kv", 1, &kv1, &e), 0);
            CHECK(kv0 == 0 && kv1 == 2);
            bool fin = true;
            CHECK_INT(gguf_opt_arch_bool(g, "rope.scaling.finetuned", true, &fin, &e), 0);
            CHECK(!fin);
            const gguf_tensor *t = gguf_find_tensor(g, "blk.0.ssm_a");
            CHECK(t && t->ne[0] == 1 && t->ne[1] == 8);
        }
        if (strcmp(m->file, "tiny-granite.f32.gguf") == 0) {
            float rs = 0, ls = 0;
            CHECK_INT(gguf_get_arch_f32(g, "residual_scale", &rs, &e), 0);
            CHECK(rs == 0.22f);
            CHECK_INT(gguf_opt_arch_f32(g, "logit_scale", 1, &ls, &e), 0);
            CHECK(ls == 8.0f);
            uint32_t nb = 0;
            CHECK_INT(gguf_opt_arch_u32(g, "block_count", 0, &nb, &e), 0);
            CHECK_INT(nb, 4);
            const gguf_tensor *t = gguf_find_tensor(g, "blk.0.attn_k.weight");
            CHECK(t && t->ne[0] == 256 && t->ne[1] == 128 && t->nbytes == 256 * 128 * 4);
        }
        gguf_close(g);
    }
    buf_release(&path);
}

static void test_gguf__fixture_vocabs(void)
{
    static const struct {
        const char *file;
        uint64_t n_tokens, n_merges;
        const char *pre;
    } v[] = {
        {"ggml-vocab-gpt-2.gguf", 50257, 50000, "gpt-2"},
        {"ggml-vocab-refact.gguf", 49216, 48891, "refact"},
        {"ggml-vocab-deepseek-coder.gguf", 32256, 31757, "deepseek-coder"},
        {"ggml-vocab-tiny1007-dbrx.gguf", 1007, 750, "dbrx"},
    };
    buf path = BUF_INIT;
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        path_join(&path, test_fixtures_dir(), "tokenizer");
        buf_putc(&path, '/');
        buf_puts(&path, v[i].file);
        err e = ERR_INIT;
        gguf *g = NULL;
        CHECK_MSG(gguf_open(&g, path.data, &e) == 0, "%s", e.msg);
        if (!g) continue;
        CHECK_INT(gguf_n_tensors(g), 0);
        const void *arr;
        uint64_t n = 0;
        CHECK_INT(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &arr, &n, &e), 0);
        CHECK_INT(n, v[i].n_tokens);
        CHECK_INT(gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &arr, &n, &e), 0);
        CHECK_INT(n, v[i].n_merges);
        CHECK_INT(gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &arr, &n, &e), 0);
        CHECK_INT(n, v[i].n_tokens);
        const char *pre = NULL;
        CHECK_INT(gguf_get_str(g, "tokenizer.ggml.pre", &pre, &e), 0);
        CHECK_STR(pre, v[i].pre);
        gguf_close(g);
    }
    buf_release(&path);
}

int main(void)
{
    RUN(test_gguf__doc_example);
    RUN(test_gguf__roundtrip_file);
    RUN(test_gguf__copy_identical);
    RUN(test_gguf__every_prefix);
    RUN(test_gguf__truncated_files);
    RUN(test_gguf__header_flips);
    RUN(test_gguf__flip_every_byte);
    RUN(test_gguf__hostile_fields);
    RUN(test_gguf__handmade);
    RUN(test_gguf__fixture_models);
    RUN(test_gguf__fixture_vocabs);
    return test_report();
}
