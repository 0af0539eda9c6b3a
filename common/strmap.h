/* strmap.h: a string -> size_t hash map (open addressing, FNV-1a).
 *
 * Keys are copied into the map (it owns them); strmap_release frees all.
 * Keys are byte strings with an explicit length, so they may hold NULs.
 *   strmap m = STRMAP_INIT;
 *   strmap_put(&m, "a", 1, 7);
 *   size_t v; if (strmap_get(&m, "a", 1, &v)) ...
 */
#ifndef TALLY_COMMON_STRMAP_H
#define TALLY_COMMON_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
    char *key; /* NULL = empty */
    size_t len;
    uint64_t hash;
    size_t value;
} strmap_slot;

typedef struct strmap {
    strmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
} strmap;

#define STRMAP_INIT {NULL, 0, 0}

uint64_t strmap_hash(const char *key, size_t len);
/* Inserts or replaces; 0 or ERR_NOMEM. */
int strmap_put(strmap *m, const char *key, size_t len, size_t value);
/* Inserts only when absent; returns 1 if inserted, 0 if present (value untouched), <0 on error. */
int strmap_add(strmap *m, const char *key, size_t len, size_t value);
bool strmap_get(const strmap *m, const char *key, size_t len, size_t *value_out);
void strmap_release(strmap *m);

#endif
