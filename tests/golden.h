/* golden.h: the JSON Lines golden files of tests/data (made with CPython), for
 * the unit tests that check against them. Include after test.h.
 *
 * golden_each(NAME, fn) calls fn(obj) for every JSON line of tests/data/NAME
 * (blank lines and '#' comments skipped; the object is deleted after the call)
 * and returns how many it read; a missing file or a line that is not JSON
 * fails the current case.
 */
#ifndef TALLY_TESTS_GOLDEN_H
#define TALLY_TESTS_GOLDEN_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/fileio.h"

static int golden_each(const char *name, void (*fn)(const cJSON *))
{
    const char *src = getenv("TALLY_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/%s", src ? src : ".", name);
    buf b = BUF_INIT;
    err e = ERR_INIT;
    if (file_read_all(path, &b, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        CHECK(!"golden file readable");
        return 0;
    }
    line_iter it = line_iter_start(b.data, b.len);
    const char *l;
    size_t n;
    int count = 0;
    while (line_iter_next(&it, &l, &n)) {
        if (n == 0 || l[0] == '#') continue;
        cJSON *o = cJSON_ParseWithLength(l, n);
        CHECK_MSG(o != NULL, "%s:%zu is not JSON", name, it.lineno);
        if (o) fn(o);
        cJSON_Delete(o);
        count++;
    }
    buf_release(&b);
    return count;
}

#endif
