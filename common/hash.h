/* hash.h: sha256 through OpenSSL's libcrypto.
 *
 * Hex digests are 64 lowercase characters plus a NUL (HASH_HEX_SIZE bytes),
 * written into a caller-owned array. Incremental use:
 *   hash_ctx h; hash_init(&h); hash_update(&h, p, n); ...; hash_final_hex(&h, hex);
 */
#ifndef TALLY_COMMON_HASH_H
#define TALLY_COMMON_HASH_H

#include <stddef.h>

#include "err.h"

#define HASH_HEX_SIZE 65

typedef struct hash_ctx {
    void *md; /* EVP_MD_CTX *, freed by hash_final_hex / hash_release */
} hash_ctx;

int hash_init(hash_ctx *h);
int hash_update(hash_ctx *h, const void *p, size_t n);
/* Writes the hex digest and releases the context. */
int hash_final_hex(hash_ctx *h, char hex[HASH_HEX_SIZE]);
void hash_release(hash_ctx *h);

/* One-shot digests. */
int sha256_hex(const void *p, size_t n, char hex[HASH_HEX_SIZE]);
/* Streams a file through sha256 (no size limit, constant memory). */
int sha256_file_hex(const char *path, char hex[HASH_HEX_SIZE], err *e);

#endif
