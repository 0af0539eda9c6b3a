/* utf8.c: the UTF-8 encoder and whole-text check (the decoder is inline in utf8.h). */
#include "utf8.h"

size_t utf8_encode(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool utf8_valid(const char *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_decode(s + i, n - i, 0, &cp);
        if (!len) return false;
        i += len;
    }
    return true;
}

int utf8_sanitize(buf *out, const char *s, size_t n, bool replace_nul)
{
    size_t i = 0, run = 0; /* valid bytes not yet copied: s[run..i) */
    uint32_t cp;
    while (i < n) {
        size_t k = s[i] || !replace_nul ? utf8_decode(s + i, n - i, 0, &cp) : 0;
        if (k) {
            i += k;
            continue;
        }
        int rc = buf_append(out, s + run, i - run);
        if (!rc) rc = buf_append(out, "\xEF\xBF\xBD", 3);
        if (rc) return rc;
        run = ++i;
    }
    return buf_append(out, s + run, n - run);
}
