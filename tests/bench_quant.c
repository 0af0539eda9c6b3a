/* bench_quant.c: matmul throughput per weight type next to the measured memory bandwidth.
 *
 *   bench_quant [--isa auto|ref|avx2|avx512|avx512vnni|avx512bf16|all] [--types Q4_0,Q8_0,...]
 *               [--quick] [--pool MIB] [--compute]
 *
 * Types with a packed layout (matmul_pack) are measured packed and in the file layout.
 * Shapes are PERF.md's granite-1b FFN matrices (rows x cols = 5632 x 2048 and
 * 2048 x 5632). B = 1 (decode) cycles through enough copies of the matrix (>= 256 MiB)
 * that every weight byte comes from DRAM, and prints the GB/s of weights streamed and
 * that as a fraction of the read bandwidth with the same thread count: the best seen in
 * this run, from the 1 GiB measurement at the start and a 512 MiB one taken right before
 * each B = 1 figure (so a burst of load on the shared machine cannot inflate the ratio) (--pool 0
 * keeps one copy, served from L3 when it fits: the compute ceiling). B = 16 and 128 (batched
 * decode, prefill) print GFLOP/s (2 rows cols B per multiply). Every figure is the best of three
 * timed runs. The machine is shared and noisy: compare ratios within one run.
 */
#include "backends/matmul.h"
#include "backends/qtype.h"
#include "backends/quant.h"
#include "common/err.h"
#include "common/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_row {
    uint32_t type;
    int isa, packed;
    size_t rows, cols;
    double gbs[3];       /* B = 1, by thread count */
    double gflops[2][3]; /* B = 16, 128, by thread count */
} bench_row;

typedef struct bench_matrix {
    size_t rows, cols, bytes, copies;
    uint8_t *pool;         /* copies x bytes, file layout */
    matmul_packed *packed; /* NULL, or `copies` packed views into ppool */
    uint8_t *ppool;
} bench_matrix;

/* Seconds for `iters` multiplies over the pool copies inside one parallel region. */
static double time_run(const matmul_kernels *k, bench_matrix *m, uint32_t type, const float *x,
                       size_t batch, float *y, matmul_ws *ws, int threads, int iters)
{
    double t0 = time_now_s(), t1 = 0;
#pragma omp parallel num_threads(threads)
    {
        for (int it = 0; it < iters; it++) {
            size_t c = (size_t)it % m->copies;
            matmul_args mm = {.type = type,
                              .w = m->pool + c * m->bytes,
                              .rows = m->rows,
                              .cols = m->cols,
                              .x = x,
                              .batch = batch,
                              .y = y,
                              .packed = m->packed ? &m->packed[c] : NULL};
            matmul_run_team(k, &mm, ws);
        }
#pragma omp master
        t1 = time_now_s();
    }
    return t1 - t0;
}

/* Best of three runs of at least `min_s` seconds each; returns seconds per multiply. */
static double best_per_call(const matmul_kernels *k, bench_matrix *m, uint32_t type, const float *x,
                            size_t batch, float *y, matmul_ws *ws, int threads, double min_s)
{
    /* calibrate on one pass over the pool */
    int iters = (int)m->copies;
    double t = time_run(k, m, type, x, batch, y, ws, threads, iters);
    if (t < min_s) {
        double want = min_s / (t > 1e-6 ? t : 1e-6) * iters;
        iters = want > 1e6 ? 1000000 : (int)want + 1;
    }
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double s = time_run(k, m, type, x, batch, y, ws, threads, iters) / iters;
        if (s < best) best = s;
    }
    return best;
}

/* Row r of weights: quantized from src where tally can write the type, otherwise random
 * quants with f16 scales of about the size quantizing src would give (speed does not
 * depend on the values). */
static int make_row(uint32_t type, const float *src, size_t cols, uint8_t *dst, rng *g)
{
    if (quant_quantize_row(type, src, dst, cols, NULL) == 0) return 0;
    const qtype_info *q = qtype_get(type);
    if (!q || !q->bytes) return -1;
    size_t nblk = cols / q->block;
    for (size_t i = 0; i < nblk * q->bytes; i++) dst[i] = (uint8_t)rng_next(g);
    /* offsets of the f16 scale fields (GGUF_FORMAT.md section 3) */
    size_t off[2] = {0, SIZE_MAX};
    if (type == QTYPE_Q4_1 || type == QTYPE_Q5_1 || type == QTYPE_Q4_K || type == QTYPE_Q5_K)
        off[1] = 2;
    if (type == QTYPE_Q2_K) off[0] = 80, off[1] = 82;
    if (type == QTYPE_Q3_K) off[0] = 108;
    if (type == QTYPE_Q6_K) off[0] = 208;
    for (size_t i = 0; i < nblk; i++)
        for (int f = 0; f < 2; f++)
            if (off[f] != SIZE_MAX) {
                uint16_t h = quant_f32_to_f16((float)(0.001 * (1 + rng_uniform(g))));
                memcpy(dst + i * q->bytes + off[f], &h, 2);
            }
    return 0;
}

static int make_matrix(bench_matrix *m, uint32_t type, size_t rows, size_t cols, size_t pool_min,
                       rng *g)
{
    m->rows = rows;
    m->cols = cols;
    m->bytes = qtype_row_bytes(type, cols) * rows;
    m->copies = (pool_min + m->bytes - 1) / m->bytes;
    if (m->copies < 1) m->copies = 1;
    m->pool = aligned_alloc(64, (m->copies * m->bytes + 63) & ~(size_t)63);
    float *src = malloc(rows * cols * sizeof(float));
    if (!m->pool || !src) {
        free(src);
        return -1;
    }
    for (size_t i = 0; i < rows * cols; i++) src[i] = (float)(0.02 * rng_normal(g));
    size_t rb = qtype_row_bytes(type, cols);
    int bad = 0;
    if (quant_traits_get(type) && quant_traits_get(type)->quantize) {
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < rows; r++)
            quant_quantize_row(type, src + r * cols, m->pool + r * rb, cols, NULL);
    } else {
        for (size_t r = 0; r < rows; r++)
            bad |= make_row(type, src + r * cols, cols, m->pool + r * rb, g);
    }
    for (size_t c = 1; c < m->copies; c++) memcpy(m->pool + c * m->bytes, m->pool, m->bytes);
    free(src);
    return bad;
}

/* Packed copies of the pool for kernels `k` (the layout is the same at every level). */
static int pack_matrix(const matmul_kernels *k, bench_matrix *m, uint32_t type)
{
    err e = ERR_INIT;
    matmul_packed one = MATMUL_PACKED_INIT;
    if (matmul_pack(k, type, m->pool, m->rows, m->cols, 0, 2, &one, &e) < 0) return -1;
    size_t pb = (one.bytes + 63) & ~(size_t)63;
    m->ppool = aligned_alloc(64, pb * m->copies);
    m->packed = calloc(m->copies, sizeof *m->packed);
    if (!m->ppool || !m->packed) {
        matmul_packed_release(&one);
        return -1;
    }
    for (size_t c = 0; c < m->copies; c++) {
        memcpy(m->ppool + c * pb, one.data, one.bytes);
        m->packed[c] = one;
        m->packed[c].data = m->ppool + c * pb; /* a view: freed with ppool */
    }
    matmul_packed_release(&one);
    return 0;
}

static void unpack_matrix(bench_matrix *m)
{
    free(m->ppool);
    free(m->packed);
    m->ppool = NULL;
    m->packed = NULL;
}

/* --compute: gemm only, weights in L2, best of many short runs, one thread. */
static int run_compute(const uint32_t *types, int ntypes, int isa_lo, int isa_hi)
{
    const size_t rows = 64, cols = 2048, bmax = 16;
    const size_t batches[3] = {1, 4, 16};
    err e = ERR_INIT;
    rng g;
    rng_seed(&g, 7);
    float *x = malloc(bmax * cols * 4), *y = malloc(bmax * rows * 4),
          *src = malloc(rows * cols * 4);
    matmul_ws ws = MATMUL_WS_INIT;
    if (!x || !y || !src || matmul_ws_init(&ws, cols, bmax, &e) < 0) return 1;
    for (size_t i = 0; i < bmax * cols; i++) x[i] = (float)rng_normal(&g);
    for (size_t i = 0; i < rows * cols; i++) src[i] = (float)(0.02 * rng_normal(&g));
    printf("single-thread compute ceiling: %zu x %zu weights in L2, gemm only, best of 300\n", rows,
           cols);
    printf("%-6s %-11s %-6s %-24s %-24s %-24s\n", "type", "isa", "layout", "B=1 GB/s  GFLOP/s",
           "B=4 GB/s  GFLOP/s", "B=16 GB/s  GFLOP/s");
    for (int ti = 0; ti < ntypes; ti++) {
        uint32_t t = types[ti];
        size_t rb = qtype_row_bytes(t, cols);
        uint8_t *w = aligned_alloc(64, (rows * rb + 63) & ~(size_t)63);
        if (!w) return 1;
        for (size_t r = 0; r < rows; r++)
            if (make_row(t, src + r * cols, cols, w + r * rb, &g) < 0) {
                fprintf(stderr, "bench_quant: cannot make %s weights\n", qtype_get(t)->name);
                return 1;
            }
        for (int isa = isa_lo; isa <= isa_hi; isa++) {
            matmul_kernels k;
            if (matmul_kernels_init(&k, isa, &e) < 0) return 1;
            for (int packed = matmul_can_pack(&k, t); packed >= 0; packed--) {
                matmul_packed pk = MATMUL_PACKED_INIT;
                if (packed && matmul_pack(&k, t, w, rows, cols, 0, 1, &pk, &e) < 0) return 1;
                printf("%-6s %-11s %-6s", qtype_get(t)->name, matmul_isa_name(isa),
                       packed ? "packed" : "file");
                for (int bi = 0; bi < 3; bi++) {
                    size_t nb = batches[bi];
                    /* one real multiply converts x into the scratch; then time the gemm alone */
                    matmul_args mm = {.type = t,
                                      .w = w,
                                      .rows = rows,
                                      .cols = cols,
                                      .x = x,
                                      .batch = nb,
                                      .y = y,
                                      .packed = packed ? &pk : NULL};
                    if (matmul_run(&k, &mm, &ws, 1, &e) < 0) return 1;
                    int conv = packed ? k.type[t].quantize_act_packed != NULL
                                      : k.type[t].quantize_act != NULL;
                    const void *act = conv ? ws.data : (const void *)x;
                    size_t as = conv ? ws.size / bmax : cols * sizeof(float);
                    matmul_gemm_fn fn = packed ? k.type[t].gemm_packed : k.type[t].gemm;
                    const void *wp = packed ? pk.data : (const void *)w;
                    size_t wst = packed ? pk.group_bytes : rb;
                    int inner = isa == MATMUL_ISA_REF ? 1 : nb == 1 ? 20 : 4;
                    int trials = isa == MATMUL_ISA_REF ? 3 : 300;
                    double best = 1e30;
                    for (int trial = 0; trial < trials; trial++) {
                        double t0 = time_now_s();
                        for (int it = 0; it < inner; it++)
                            fn(cols, wp, wst, rows, act, as, nb, y, rows);
                        double dt = (time_now_s() - t0) / inner;
                        if (dt < best) best = dt;
                    }
                    char cell[40];
                    snprintf(cell, sizeof cell, "%7.1f %8.1f", (double)(rows * rb) / best / 1e9,
                             2.0 * (double)rows * (double)cols * (double)nb / best / 1e9);
                    printf("  %-22s", cell);
                }
                printf("\n");
                matmul_packed_release(&pk);
            }
        }
        free(w);
    }
    matmul_ws_release(&ws);
    free(x);
    free(y);
    free(src);
    return 0;
}

static const uint32_t default_types[] = {QTYPE_Q4_0, QTYPE_Q8_0, QTYPE_Q4_K,
                                         QTYPE_Q6_K, QTYPE_F16,  QTYPE_BF16};

static int parse_types(const char *list, uint32_t *out, int cap)
{
    int n = 0;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *tok = strtok(tmp, ","); tok && n < cap; tok = strtok(NULL, ",")) {
        int found = -1;
        for (uint32_t t = 0; t < QTYPE_COUNT; t++) {
            const qtype_info *q = qtype_get(t);
            if (q && strcasecmp(q->name, tok) == 0) found = (int)t;
        }
        if (found < 0) {
            fprintf(stderr, "bench_quant: unknown type %s\n", tok);
            return -1;
        }
        out[n++] = (uint32_t)found;
    }
    return n;
}

int main(int argc, char **argv)
{
    int isa_lo = MATMUL_ISA_AUTO, isa_hi = MATMUL_ISA_AUTO, quick = 0, compute = 0;
    long pool_mib = -1;
    uint32_t types[32];
    int ntypes = (int)ARRAY_LEN(default_types);
    memcpy(types, default_types, sizeof default_types);
    for (int i = 1; i < argc; i++) {
        err e = ERR_INIT;
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "all") == 0) {
                isa_lo = MATMUL_ISA_REF;
                isa_hi = matmul_isa_detect();
            } else if (matmul_isa_parse(argv[i], &isa_lo, &e) < 0) {
                fprintf(stderr, "bench_quant: %s\n", e.msg);
                return 2;
            } else {
                isa_hi = isa_lo;
            }
        } else if (strcmp(argv[i], "--types") == 0 && i + 1 < argc) {
            ntypes = parse_types(argv[++i], types, 32);
            if (ntypes < 0) return 2;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc) {
            pool_mib = atol(argv[++i]);
        } else if (strcmp(argv[i], "--compute") == 0) {
            compute = 1;
        } else {
            fprintf(stderr, "usage: bench_quant [--isa NAME|all] [--types T,T] [--quick] [--pool "
                            "MIB] [--compute]\n");
            return 2;
        }
    }
    if (isa_lo == MATMUL_ISA_AUTO) isa_lo = isa_hi = matmul_isa_detect();
    if (compute) return run_compute(types, ntypes, isa_lo, isa_hi);

    err e = ERR_INIT;
    matmul_bandwidth bw[3];
    size_t bw_bytes = quick ? (256u << 20) : (1u << 30);
    for (int t = 1; t <= 2; t++) {
        if (matmul_measure_bandwidth(bw_bytes, 5, t, &bw[t], &e) < 0) {
            fprintf(stderr, "bench_quant: %s\n", e.msg);
            return 1;
        }
    }
    printf("machine: %d CPUs online; best ISA %s; shared and noisy: compare ratios within a run\n",
           omp_get_num_procs(), matmul_isa_name(matmul_isa_detect()));
    printf(
        "memory bandwidth (%zu MiB, best of 5): read %.1f GB/s (1 thread) %.1f GB/s (2 threads); "
        "triad %.1f / %.1f GB/s\n\n",
        bw[1].bytes >> 20, bw[1].read_gbs, bw[2].read_gbs, bw[1].triad_gbs, bw[2].triad_gbs);

    double best_bw[3] = {0, bw[1].read_gbs, bw[2].read_gbs};
    const size_t shapes[2][2] = {{5632, 2048}, {2048, 5632}};
    const size_t batches[2] = {16, 128};
    size_t pool_min = pool_mib >= 0 ? (size_t)pool_mib << 20 : quick ? (64u << 20) : (256u << 20);
    double min_s = quick ? 0.1 : 0.3;
    rng g;
    rng_seed(&g, 42);
    matmul_ws ws = MATMUL_WS_INIT;
    float *x = malloc(128 * 5632 * sizeof(float)), *y = malloc(128 * 5632 * sizeof(float));
    if (!x || matmul_ws_init(&ws, 5632, 128, &e) < 0 || !y) {
        fprintf(stderr, "bench_quant: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < 128 * 5632; i++) x[i] = (float)rng_normal(&g);

    bench_row rows[256];
    int nrows = 0;
    for (int ti = 0; ti < ntypes; ti++) {
        uint32_t type = types[ti];
        for (int si = 0; si < 2; si++) {
            bench_matrix m = {0};
            if (make_matrix(&m, type, shapes[si][0], shapes[si][1], pool_min, &g) < 0) {
                fprintf(stderr, "bench_quant: out of memory for %s\n", qtype_get(type)->name);
                return 1;
            }
            for (int isa = isa_lo; isa <= isa_hi; isa++) {
                matmul_kernels k;
                if (matmul_kernels_init(&k, isa, &e) < 0) {
                    fprintf(stderr, "bench_quant: %s\n", e.msg);
                    return 1;
                }
                for (int packed = matmul_can_pack(&k, type); packed >= 0; packed--) {
                    if (packed && pack_matrix(&k, &m, type) < 0) {
                        fprintf(stderr, "bench_quant: cannot pack %s\n", qtype_get(type)->name);
                        return 1;
                    }
                    matmul_args probe = {.type = type,
                                         .w = m.pool,
                                         .rows = m.rows,
                                         .cols = m.cols,
                                         .x = x,
                                         .batch = 128,
                                         .y = y,
                                         .packed = m.packed};
                    if (matmul_check(&k, &probe, &ws, &e) < 0) {
                        fprintf(stderr, "bench_quant: %s\n", e.msg);
                        return 1;
                    }
                    if (nrows == (int)ARRAY_LEN(rows)) {
                        fprintf(stderr, "bench_quant: too many rows; ask for fewer types\n");
                        return 2;
                    }
                    bench_row *row = &rows[nrows++];
                    row->type = type;
                    row->isa = isa;
                    row->packed = packed;
                    row->rows = m.rows;
                    row->cols = m.cols;
                    for (int t = 1; t <= 2; t++) {
                        matmul_bandwidth near;
                        if (matmul_measure_bandwidth(bw_bytes / 2, 3, t, &near, &e) == 0 &&
                            near.read_gbs > best_bw[t])
                            best_bw[t] = near.read_gbs;
                        double s = best_per_call(&k, &m, type, x, 1, y, &ws, t, min_s);
                        row->gbs[t] = (double)m.bytes / s / 1e9;
                    }
                    bench_matrix one = m;
                    one.copies = 1;
                    for (int bi = 0; bi < 2; bi++) {
                        for (int t = 1; t <= 2; t++) {
                            /* the references are slow: a single call is enough for them */
                            double s = isa == MATMUL_ISA_REF
                                           ? time_run(&k, &one, type, x, batches[bi], y, &ws, t, 1)
                                           : best_per_call(&k, &one, type, x, batches[bi], y, &ws,
                                                           t, min_s);
                            row->gflops[bi][t] = 2.0 * (double)m.rows * (double)m.cols *
                                                 (double)batches[bi] / s / 1e9;
                        }
                    }
                    fprintf(stderr, "bench_quant: %s %s %s %zux%zu done\n", qtype_get(type)->name,
                            matmul_isa_name(isa), packed ? "packed" : "file", m.rows, m.cols);
                    unpack_matrix(&m);
                }
            }
            free(m.pool);
        }
    }
    /* the table, with ratios against the best bandwidth seen in the whole run */
    printf("%-6s %-11s %-6s %-11s %-22s %-22s %-17s %-17s\n", "type", "isa", "layout",
           "rows x cols", "B=1 1T GB/s (of bw)", "B=1 2T GB/s (of bw)", "B=16 GFLOP/s 1T/2T",
           "B=128 GFLOP/s 1T/2T");
    for (int i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        char shape[32], c1[32], c2[32], c3[32], c4[32];
        snprintf(shape, sizeof shape, "%zux%zu", r->rows, r->cols);
        snprintf(c1, sizeof c1, "%6.1f (%3.0f%%)", r->gbs[1], 100 * r->gbs[1] / best_bw[1]);
        snprintf(c2, sizeof c2, "%6.1f (%3.0f%%)", r->gbs[2], 100 * r->gbs[2] / best_bw[2]);
        snprintf(c3, sizeof c3, "%6.1f / %6.1f", r->gflops[0][1], r->gflops[0][2]);
        snprintf(c4, sizeof c4, "%6.1f / %6.1f", r->gflops[1][1], r->gflops[1][2]);
        printf("%-6s %-11s %-6s %-11s %-22s %-22s %-17s %-17s\n", qtype_get(r->type)->name,
               matmul_isa_name(r->isa), r->packed ? "packed" : "file", shape, c1, c2, c3, c4);
    }
    printf("\nbest read bandwidth seen in this run: %.1f GB/s (1 thread), %.1f GB/s (2 threads)\n",
           best_bw[1], best_bw[2]);
    matmul_ws_release(&ws);
    free(x);
    free(y);
    return 0;
}
