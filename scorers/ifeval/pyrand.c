/* pyrand.c: CPython's Mersenne Twister and the few random.Random methods langdetect uses. */
#include "pyrand.h"

#include <math.h>

/* MT19937 as CPython's _random module runs it, with random.seed(int) seeding
 * (init_by_array on the 32-bit words of the seed), random(), gauss() (the
 * paired Box-Muller with a cached second value) and choice() (rejection
 * sampling on getrandbits(n.bit_length())). */
#define MT_M 397

static void mt_init_genrand(pyrand *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = MT_N;
}

void pyrand_seed(pyrand *r, uint32_t seed)
{
    /* random.seed(n) for 0 <= n < 2**32: the key is the single word n */
    const uint32_t key[1] = {seed};
    const int key_len = 1;
    mt_init_genrand(r, 19650218u);
    int i = 1, j = 0;
    for (int k = MT_N > key_len ? MT_N : key_len; k; k--) {
        r->mt[i] =
            (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++, j++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
        if (j >= key_len) j = 0;
    }
    for (int k = MT_N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000u;
    r->mti = MT_N;
    r->has_gauss = false;
    r->gauss_next = 0;
}

uint32_t pyrand_u32(pyrand *r)
{
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    uint32_t y;
    if (r->mti >= MT_N) {
        int kk;
        for (kk = 0; kk < MT_N - MT_M; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; kk < MT_N - 1; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1u];
        }
        y = (r->mt[MT_N - 1] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[MT_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1u];
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* random.random(): 53 random bits as a double in [0, 1). */
double pyrand_random(pyrand *r)
{
    uint32_t a = pyrand_u32(r) >> 5, b = pyrand_u32(r) >> 6;
    /* volatile keeps the compiler from fusing a*2^26+b (exact anyway, but
     * the rounding of every step must be Python's) */
    volatile double hi = (double)a * 67108864.0;
    return (hi + (double)b) * (1.0 / 9007199254740992.0);
}

/* random.gauss(0, 1) */
double pyrand_gauss(pyrand *r)
{
    if (r->has_gauss) {
        r->has_gauss = false;
        return r->gauss_next;
    }
    volatile double x2pi = pyrand_random(r) * (2.0 * M_PI);
    double g2rad = sqrt(-2.0 * log(1.0 - pyrand_random(r)));
    double z = cos(x2pi) * g2rad;
    r->gauss_next = sin(x2pi) * g2rad;
    r->has_gauss = true;
    return z;
}

/* random.choice over n items: an index in [0, n) (n < 2**32). */
size_t pyrand_below(pyrand *r, size_t n)
{
    int k = 0;
    for (size_t v = n; v; v >>= 1) k++; /* n.bit_length() */
    for (;;) {
        uint32_t x = pyrand_u32(r) >> (32 - k); /* getrandbits(k), k <= 32 */
        if (x < n) return x;
    }
}
