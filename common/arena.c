/* arena.c: a list of blocks, newest first, bump-allocated. */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block *next;
    size_t cap; /* usable bytes after the header */
    size_t pos; /* bytes used */
    /* data follows, 16-byte aligned */
};

#define HDR ((sizeof(arena_block) + 15) & ~(size_t)15)

static void *block_data(arena_block *b)
{
    return (char *)b + HDR;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return NULL;
    arena_block *b = a->head;
    if (!b || b->cap - b->pos < need) {
        size_t bs = a->block_size ? a->block_size : 64 * 1024;
        size_t cap = need > bs ? need : bs;
        if (cap > SIZE_MAX - HDR) return NULL;
        arena_block *nb = malloc(HDR + cap);
        if (!nb) return NULL;
        nb->cap = cap;
        nb->pos = 0;
        /* keep a partially used current block in front when the new one is a one-off big block */
        if (b && need > bs && b->cap - b->pos >= 256) {
            nb->next = b->next;
            b->next = nb;
            nb->pos = need;
            a->used += need;
            if (a->used > a->high_water) a->high_water = a->used;
            void *p = block_data(nb);
            memset(p, 0, n);
            return p;
        }
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = (char *)block_data(b) + b->pos;
    b->pos += need;
    a->used += need;
    if (a->used > a->high_water) a->high_water = a->used;
    memset(p, 0, n);
    return p;
}

void *arena_calloc(arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    return arena_alloc(a, count * size);
}

void *arena_memdup(arena *a, const void *p, size_t n)
{
    if (n == SIZE_MAX) return NULL;
    char *d = arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = 0;
    return d;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    return arena_memdup(a, s, n);
}

char *arena_strdup(arena *a, const char *s)
{
    if (!s) return NULL;
    return arena_memdup(a, s, strlen(s));
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *d = arena_alloc(a, (size_t)n + 1);
    if (!d) return NULL;
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    return d;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return d;
}

void arena_reset(arena *a)
{
    /* keep the largest block, free the others */
    arena_block *keep = NULL;
    for (arena_block *b = a->head; b; b = b->next)
        if (!keep || b->cap > keep->cap) keep = b;
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        if (b != keep) free(b);
        b = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->pos = 0;
    }
    a->head = keep;
    a->used = 0;
}

void arena_release(arena *a)
{
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    size_t bs = a->block_size;
    *a = (arena)ARENA_INIT;
    a->block_size = bs;
}

size_t arena_high_water(const arena *a)
{
    return a->high_water;
}
