/* arena.h: bump allocator for per-run and per-request memory.
 *
 * Everything allocated from an arena is freed at once by arena_release (or
 * made reusable by arena_reset). Per-run data (items, prompts, parsed strings)
 * lives in one arena released at the end of the run; per-request scratch lives
 * in one that is reset between requests. Allocations are 16-byte aligned.
 *
 *   arena a = ARENA_INIT;
 *   char *s = arena_strdup(&a, "x");   // NULL only when out of memory
 *   arena_release(&a);                 // safe on ARENA_INIT
 */
#ifndef TALLY_COMMON_ARENA_H
#define TALLY_COMMON_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena_block arena_block;

typedef struct arena {
    arena_block *head;  /* current block (newest first) */
    size_t used;        /* bytes handed out since the last reset */
    size_t high_water;  /* largest `used` seen */
    size_t block_size;  /* default size of new blocks; 0 means 64 KiB */
} arena;

#define ARENA_INIT {NULL, 0, 0, 0}

/* Returns `n` bytes (zeroed), or NULL when out of memory. n == 0 gives a valid pointer. */
void *arena_alloc(arena *a, size_t n);
/* Array allocation with overflow check. */
void *arena_calloc(arena *a, size_t count, size_t size);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
/* Copies `n` bytes and adds a NUL. */
void *arena_memdup(arena *a, const void *p, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);

/* Makes all memory reusable; keeps the largest block. */
void arena_reset(arena *a);
/* Frees everything; the arena is ARENA_INIT afterwards. */
void arena_release(arena *a);
size_t arena_high_water(const arena *a);

#endif
