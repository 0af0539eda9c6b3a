/* util.h: clocks, string bits and the UNITTEST hook shared by every layer. */
#ifndef TALLY_COMMON_UTIL_H
#define TALLY_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* File-local functions that tests reach: `STATIC int f(...)` is static
 * except in builds with -DTALLY_UNITTEST. */
#ifdef TALLY_UNITTEST
#define STATIC
#else
#define STATIC static
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic clock in seconds / milliseconds. */
double time_now_s(void);
double time_now_ms(void);
/* Wall clock as ISO 8601 UTC ("2026-11-22T10:00:00Z"), into `out` (at least 32 bytes). */
void time_iso8601(char *out, size_t n);

/* True when `s` starts / ends with `p`. */
bool str_starts(const char *s, const char *p);
bool str_ends(const char *s, const char *p);
/* Finds `needle` in s[0..n); NULL when absent. */
const char *mem_find(const char *s, size_t n, const char *needle, size_t m);

/* A small deterministic RNG (splitmix64 seeded xoshiro256**). */
typedef struct rng {
    uint64_t s[4];
} rng;
void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1). */
double rng_uniform(rng *r);
/* Standard normal (Box-Muller). */
double rng_normal(rng *r);

#endif
