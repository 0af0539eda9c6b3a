/* pyrand.h: CPython's `random.Random`, bit for bit, for the parts langdetect uses.
 *
 * MT19937 seeded as `random.seed(n)` seeds it for 0 <= n < 2**32
 * (init_by_array on the single word n), and the methods `getrandbits(32)`,
 * `random()`, `gauss(0, 1)` (paired Box-Muller with the cached second
 * value) and `choice()` (rejection sampling on getrandbits(n.bit_length())),
 * each computed in Python's order so the doubles come out identical on the
 * same libm. A pyrand is a plain value: no allocation, nothing to release.
 */
#ifndef TALLY_SCORERS_IFEVAL_PYRAND_H
#define TALLY_SCORERS_IFEVAL_PYRAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MT_N 624

typedef struct pyrand {
    uint32_t mt[MT_N];
    int mti;
    bool has_gauss;
    double gauss_next;
} pyrand;

/* random.seed(seed); also forgets a cached gauss value. */
void pyrand_seed(pyrand *r, uint32_t seed);
/* getrandbits(32) */
uint32_t pyrand_u32(pyrand *r);
/* random() in [0, 1) */
double pyrand_random(pyrand *r);
/* gauss(0.0, 1.0) */
double pyrand_gauss(pyrand *r);
/* The index random.choice picks from n items (0 < n < 2**32). */
size_t pyrand_below(pyrand *r, size_t n);

#endif
