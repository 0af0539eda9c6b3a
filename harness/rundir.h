/* rundir.h: the run directory (DESIGN.md "The run directory").
 *
 *   DIR/manifest.json   what was run, to reproduce it; compared on resume
 *   DIR/samples.jsonl   one line per (item, sample), appended + flushed as completions arrive
 *   DIR/scores.jsonl    the scorer's verdict per sample
 *   DIR/results.json    the metrics
 *   DIR/.lock           held (flock) while a tally process writes the directory
 *
 * A sample store reads samples.jsonl: the last good line per (id, sample)
 * wins; a torn last line (a crash mid-write: no final newline, or not JSON)
 * is dropped and the file is rewritten without it before anything is
 * appended, so a record is never duplicated or glued to a torn one. Lines
 * that carry an error are re-asked on the next run (they are dropped by the
 * same rewrite when the caller asks).
 */
#ifndef TALLY_HARNESS_RUNDIR_H
#define TALLY_HARNESS_RUNDIR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strmap.h"
#include "runners/runner.h"

typedef struct rundir {
    char *path;
    char *samples_path;
    int lock_fd;    /* -1 when not locked */
    int samples_fd; /* -1 until rundir_samples_open */
} rundir;

#define RUNDIR_INIT {NULL, NULL, -1, -1}

/* Creates the directory if needed and takes its lock (ERR_IO naming the
 * directory if another tally process holds it). */
int rundir_open(rundir *d, const char *path, err *e);
void rundir_close(rundir *d);
/* DIR/name into `out` (reset first). */
int rundir_file(const rundir *d, const char *name, buf *out);

/* The manifest: *out is NULL when the directory has none yet. */
int rundir_read_manifest(const rundir *d, cJSON **out, err *e);
int rundir_write_json(const rundir *d, const char *name, const cJSON *v, err *e);

/* Checks that `now` (a fresh manifest) may resume into `old`: the task, the
 * dataset's sha256, the backend and model, and every key of "settings" must
 * be equal. On a difference: ERR_MISMATCH naming the setting, both values and
 * the manifest path. */
int rundir_check_resume(const rundir *d, const cJSON *old, const cJSON *now, err *e);
/* One field of that check: equal (both absent counts), or ERR_MISMATCH naming `label`,
 * both values and the manifest path. */
int rundir_compare_field(const rundir *d, const char *label, const cJSON *a, const cJSON *b,
                         err *e);

typedef struct sample_store {
    cJSON **docs;   /* one parsed line per slot (NULL = superseded) */
    size_t n, cap;
    strmap index;   /* "id\x1fsample" -> slot of the latest line */
    bool torn;      /* a torn last line was found (and dropped) */
    size_t superseded; /* lines replaced by a later line for the same key */
} sample_store;

#define SAMPLE_STORE_INIT {NULL, 0, 0, STRMAP_INIT, false, 0}

/* Reads DIR/samples.jsonl (absent = empty). A malformed line other than the
 * last is an error naming file:line. */
int samples_load(const char *path, sample_store *st, err *e);
/* The latest line for (id, sample), or NULL. */
const cJSON *samples_get(const sample_store *st, const char *id, int sample);
/* True when the line carries a generation error (it will be re-asked). */
bool sample_has_error(const cJSON *doc);
/* Rewrites the file atomically with the latest line per key, dropping lines
 * with errors when `drop_errors`. Keeps the store in step. */
int samples_compact(const char *path, sample_store *st, bool drop_errors, err *e);
/* Adds a parsed line (takes ownership). */
int samples_add(sample_store *st, cJSON *doc, err *e);
void samples_release(sample_store *st);

/* Serialises one completion as a samples.jsonl line (with the final newline). */
int samples_format_line(buf *out, const gen_request *q, const gen_response *r,
                        const char *prompt_sha256, const char *completion);

/* Opens samples.jsonl for appending (after any compaction). */
int rundir_samples_open(rundir *d, err *e);
/* Appends one whole line with a single write. */
int rundir_samples_append(rundir *d, const buf *line, err *e);

#endif
