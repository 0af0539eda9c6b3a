/* hash.c: sha256 with EVP. */
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

int hash_init(hash_ctx *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    h->md = c;
    if (!c) return ERR_NOMEM;
    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        hash_release(h);
        return ERR_INTERNAL;
    }
    return 0;
}

int hash_update(hash_ctx *h, const void *p, size_t n)
{
    if (!h->md) return ERR_INTERNAL;
    return EVP_DigestUpdate(h->md, p, n) == 1 ? 0 : ERR_INTERNAL;
}

int hash_final_hex(hash_ctx *h, char hex[HASH_HEX_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ret = 0;
    if (!h->md || EVP_DigestFinal_ex(h->md, md, &len) != 1) ret = ERR_INTERNAL;
    hash_release(h);
    if (ret) {
        hex[0] = 0;
        return ret;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len && i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
    return 0;
}

void hash_release(hash_ctx *h)
{
    if (h->md) EVP_MD_CTX_free(h->md);
    h->md = NULL;
}

int sha256_hex(const void *p, size_t n, char hex[HASH_HEX_SIZE])
{
    hash_ctx h;
    int rc = hash_init(&h);
    if (!rc) rc = hash_update(&h, p, n);
    if (!rc) return hash_final_hex(&h, hex);
    hash_release(&h);
    return rc;
}

int sha256_file_hex(const char *path, char hex[HASH_HEX_SIZE], err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_errno(e, "%s: cannot open", path);
    }
    hash_ctx h;
    int ret = hash_init(&h);
    if (ret) {
        close(fd);
        return err_set(e, ret, "%s: cannot start sha256", path);
    }
    static __thread char chunk[1 << 16];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            ret = err_errno(e, "%s: read failed", path);
            break;
        }
        if (n == 0) break;
        hash_update(&h, chunk, (size_t)n);
    }
    close(fd);
    if (ret) {
        hash_release(&h);
        return ret;
    }
    return hash_final_hex(&h, hex);
}
