/* ifeval_golden.h: reading the IFEval golden files of tests/data/ifeval in tests.
 *
 * Each golden file is JSON Lines; golden_open reads one into memory and
 * golden_next hands back one parsed object at a time (the caller deletes it).
 */
#ifndef TALLY_TESTS_IFEVAL_GOLDEN_H
#define TALLY_TESTS_IFEVAL_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/json.h"

typedef struct golden {
    buf data;
    line_iter it;
    char path[1024];
} golden;

static inline const char *golden_src_dir(void)
{
    const char *d = getenv("TALLY_SRC");
    return d ? d : ".";
}

/* Opens tests/data/ifeval/<name>; false (and a message) when it cannot. */
static inline int golden_open(golden *g, const char *name)
{
    err e = ERR_INIT;
    g->data = (buf)BUF_INIT;
    snprintf(g->path, sizeof g->path, "%s/tests/data/ifeval/%s", golden_src_dir(), name);
    if (file_read_all(g->path, &g->data, &e) < 0) {
        fprintf(stderr, "golden: %s\n", e.msg);
        return 0;
    }
    g->it = line_iter_start(g->data.data, g->data.len);
    return 1;
}

/* The next object, or NULL at the end. */
static inline cJSON *golden_next(golden *g)
{
    const char *l;
    size_t n;
    while (line_iter_next(&g->it, &l, &n)) {
        if (!n) continue;
        cJSON *j = cJSON_ParseWithLength(l, n);
        if (!j) fprintf(stderr, "%s:%zu: bad JSON\n", g->path, g->it.lineno);
        return j;
    }
    return NULL;
}

static inline void golden_close(golden *g)
{
    buf_release(&g->data);
}

/* The punkt tables of the shared data folder. */
static inline const char *golden_punkt_dir(void)
{
    static char dir[1024];
    const char *d = getenv("TALLY_DATA");
    snprintf(dir, sizeof dir, "%s/ifeval/punkt_tab/english", d ? d : "../shared/datasets");
    return dir;
}

#endif
