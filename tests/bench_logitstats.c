/* bench_logitstats.c: what comparing two logit rows costs per position (tally quantdiff's
 * overhead on top of the two forward passes), for the vocabularies tally meets: GPT-2's
 * 50,257, Granite 4's 100,352, Ling 2.0's 157,184. Prints figures; asserts nothing.
 * (meson test -C build --benchmark logitstats --verbose) */
#include <stdio.h>
#include <stdlib.h>

#include "backends/logitstats.h"
#include "common/util.h"

int main(void)
{
    static const size_t vocabs[] = {50257, 100352, 157184};
    printf("%-8s %14s %14s\n", "vocab", "us/position", "positions/s");
    for (size_t k = 0; k < ARRAY_LEN(vocabs); k++) {
        const size_t V = vocabs[k];
        float *b = malloc(V * sizeof *b), *q = malloc(V * sizeof *q);
        logitstats ls = LOGITSTATS_INIT;
        err e = ERR_INIT;
        if (!b || !q || logitstats_init(&ls, V, &e) < 0) {
            fprintf(stderr, "bench_logitstats: out of memory\n");
            return 1;
        }
        rng r;
        rng_seed(&r, 1);
        for (size_t i = 0; i < V; i++) {
            b[i] = (float)(rng_normal(&r) * 3);
            q[i] = b[i] + (float)(rng_normal(&r) * 0.05);
        }
        /* best of 5 runs of 50 positions */
        double best = 1e30, sink = 0;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = time_now_s();
            for (int i = 0; i < 50; i++) {
                logit_cmp c;
                logitstats_compare(&ls, b, q, (int32_t)(i % V), &c, &e);
                sink += c.kl;
            }
            double dt = (time_now_s() - t0) / 50;
            if (dt < best) best = dt;
        }
        printf("%-8zu %14.1f %14.0f   (kl %.3g)\n", V, best * 1e6, 1 / best, sink / 250);
        logitstats_release(&ls);
        free(b);
        free(q);
    }
    return 0;
}
