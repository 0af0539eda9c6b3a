/* catalog.h: every benchmark file tally knows, with its pinned sha256, its
 * record count and where it comes from.
 *
 * `tally datasets list|verify|fetch` walk this table. A file is fetched from
 * its upstream URL (or from a member of an upstream zip archive), or, for the
 * few derived files (GSM8K's exemplar tables), written from the copy bundled
 * in the binary. A fetch never leaves a partial file under the final name:
 * it downloads to a temporary name, checks the sha256, then renames.
 */
#ifndef TALLY_DATASETS_CATALOG_H
#define TALLY_DATASETS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct catalog_file {
    const char *rel;        /* path under the data dir: "gsm8k/test.jsonl" */
    const char *sha256;     /* pinned digest */
    long records;           /* JSON lines / table rows expected; -1 = not counted */
    const char *url;        /* upstream URL of the file or of its archive; NULL = bundled */
    const char *zip_member; /* member path inside the archive at `url`, or NULL */
    const char *mirror_rel; /* path of the file (or archive) under a --mirror URL */
} catalog_file;

typedef struct catalog_bench {
    const char *name;    /* "gsm8k" */
    const char *title;   /* "GSM8K (OpenAI)" */
    const char *tasks;   /* tally tasks that read it */
    const catalog_file *files;
    size_t n_files;
} catalog_bench;

/* Benchmark i, or NULL past the end. */
const catalog_bench *catalog_at(size_t i);
const catalog_bench *catalog_find(const char *name);

typedef struct catalog_status {
    bool found;
    bool sha_ok;
    long records; /* counted, or -1 */
    char sha256[65];
} catalog_status;

/* Checks one file under data_dir (reads and hashes it). */
int catalog_check(const char *data_dir, const catalog_file *f, catalog_status *st, err *e);

/* Fetches one file into data_dir (from `mirror` when not NULL: mirror + "/" + mirror_rel).
 * Writes nothing under the final name unless the sha256 matches. */
int catalog_fetch(const char *data_dir, const catalog_file *f, const char *mirror, err *e);

/* The bundled copy of a derived file, or NULL. */
const unsigned char *catalog_bundled(const catalog_file *f, size_t *len);

#endif
