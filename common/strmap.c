/* strmap.c: linear probing over a power-of-two table kept at most half full. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

uint64_t strmap_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static strmap_slot *find_slot(const strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        strmap_slot *s = &m->slots[i];
        if (!s->key) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

static int grow(strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    strmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return ERR_NOMEM;
    strmap old = *m;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].key) continue;
        strmap_slot *s = find_slot(m, old.slots[i].key, old.slots[i].len, old.slots[i].hash);
        *s = old.slots[i];
    }
    free(old.slots);
    return 0;
}

static int insert(strmap *m, const char *key, size_t len, size_t value, bool replace)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0) return ERR_NOMEM;
    uint64_t h = strmap_hash(key, len);
    strmap_slot *s = find_slot(m, key, len, h);
    if (s->key) {
        if (replace) s->value = value;
        return 0;
    }
    char *k = malloc(len + 1);
    if (!k) return ERR_NOMEM;
    memcpy(k, key, len);
    k[len] = 0;
    s->key = k;
    s->len = len;
    s->hash = h;
    s->value = value;
    m->count++;
    return 1;
}

int strmap_put(strmap *m, const char *key, size_t len, size_t value)
{
    int rc = insert(m, key, len, value, true);
    return rc < 0 ? rc : 0;
}

int strmap_add(strmap *m, const char *key, size_t len, size_t value)
{
    return insert(m, key, len, value, false);
}

bool strmap_get(const strmap *m, const char *key, size_t len, size_t *value_out)
{
    if (!m->cap) return false;
    strmap_slot *s = find_slot(m, key, len, strmap_hash(key, len));
    if (!s->key) return false;
    if (value_out) *value_out = s->value;
    return true;
}

void strmap_release(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    *m = (strmap)STRMAP_INIT;
}
