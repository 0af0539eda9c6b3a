/* opts.h: table-driven command-line options.
 *
 * Each cmd_<name>.c declares its option rows (name, type, where the value
 * goes in its own options struct, metavar, help) and calls opts_parse; `tally
 * help <cmd>` prints the same rows. Values land at `offset` inside the
 * caller's struct:
 *
 *   typedef struct run_opts { const char *task; int limit; bool quiet; str_list header; } run_opts;
 *   static const opt_def run_opt_defs[] = {
 *       {"task", OPT_STR, offsetof(run_opts, task), "T[,T...]", "tasks to run", 0},
 *       ...
 *       {0}};
 *
 * Accepted forms: --name VALUE, --name=VALUE, --flag, --no-flag (booleans).
 * "--" ends the options. Anything not starting with "--" is positional.
 * Errors are ERR_USAGE with a message naming the option.
 */
#ifndef TALLY_HARNESS_OPTS_H
#define TALLY_HARNESS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

enum opt_type {
    OPT_BOOL,   /* bool */
    OPT_INT,    /* int */
    OPT_DOUBLE, /* double */
    OPT_STR,    /* const char * (points into argv) */
    OPT_LIST,   /* str_list: repeatable, each occurrence appended */
    OPT_U64,    /* uint64_t */
};

enum opt_flags {
    OPT_HIDDEN = 1 << 0, /* not shown by help (test hooks) */
};

typedef struct opt_def {
    const char *name;    /* without the dashes; NULL ends the table */
    int type;            /* enum opt_type */
    size_t offset;       /* where the value goes in the options struct */
    const char *metavar; /* "N", "DIR"; NULL for booleans */
    const char *help;
    unsigned flags;      /* enum opt_flags */
} opt_def;

typedef struct str_list {
    const char **v; /* malloc'd array of pointers into argv */
    size_t n;
} str_list;

void str_list_release(str_list *l);

#define OPTS_MAX 96

typedef struct opts_result {
    bool seen[OPTS_MAX];   /* seen[i]: row i was given on the command line */
    const char **pos;      /* positional arguments (malloc'd array into argv) */
    size_t n_pos;
} opts_result;

/* Parses argv[start..argc) into `target`. Fills `res` (release with opts_release). */
int opts_parse(const opt_def *defs, void *target, int argc, char **argv, int start,
               opts_result *res, err *e);
void opts_release(opts_result *res);
/* True when the option `name` was given. */
bool opts_seen(const opt_def *defs, const opts_result *res, const char *name);
/* Prints the rows as help text ("  --limit N    help"). */
void opts_print_help(FILE *f, const opt_def *defs);

#endif
